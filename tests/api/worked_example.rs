//! Boomi's worked example "Using API keys", step by step, against keyflow.

use reqwest::{Method, StatusCode};

use crate::helpers::{
    SEED_TENANT_ID, TestApp, assert_error, assert_json, assert_unauthorized, both_backends,
    flow_names,
};

both_backends! {
    the_worked_example_runs_from_sign_in_to_the_tenants_flows,
}

async fn the_worked_example_runs_from_sign_in_to_the_tenants_flows() {
    let app = TestApp::spawn().await;

    // The user signs in to Flow.
    let token = app.login(&app.admin_email, &app.admin_password).await;

    // Generating an API key: "Key Name" is "API Key", the "Example" tenant is selected.
    let me = app.me(&token).await;
    let example = me["tenants"]
        .as_array()
        .expect("users/me lists tenants")
        .iter()
        .find(|t| t["developerName"] == "Example")
        .expect("the user is a member of Example");
    let example_id = example["id"].as_str().unwrap().to_string();
    assert_eq!(example_id, app.tenant_id);
    assert_eq!(app.tenant_name, "Example");
    let created = app.create_key(&token, "API Key", &example_id).await;
    let created = assert_json(created, StatusCode::OK).await;
    let key = created["apiKey"].as_str().unwrap().to_string();
    assert_eq!(created["name"], "API Key");
    assert_eq!(created["tenantId"], example_id.as_str());

    // The Key column shows a preview; the "Show" link displays the value.
    let listed = app.key_list(&token).await;
    let row = listed
        .iter()
        .find(|k| k["name"] == "API Key")
        .expect("the new key is listed");
    let preview = format!("kf_\u{2026}{}", &key[key.len() - 4..]);
    assert_eq!(row["apiKey"], preview.as_str());
    let shown = app
        .with_token(
            Method::POST,
            "/api/admin/1/users/me/keys/API%20Key/reveal",
            &token,
        )
        .send()
        .await
        .unwrap();
    let shown = assert_json(shown, StatusCode::OK).await;
    assert_eq!(
        shown["apiKey"],
        key.as_str(),
        "Show copies the created value"
    );

    // "If the request was sent at this point it would fail": no authentication details.
    assert_unauthorized(app.list_flows(None, None).await).await;

    // The seed's tenant id is not a UUID (it holds a `g`): keyflow says so.
    let seed = app.list_flows(Some(&key), Some(SEED_TENANT_ID)).await;
    let message = assert_error(seed, StatusCode::BAD_REQUEST).await;
    assert!(
        message.to_lowercase().contains("manywhotenant"),
        "the message should name the header: {message}"
    );

    // With the key and the tenant's real id: the flows of the tenant.
    let flows = app.list_flows(Some(&key), Some(&example_id)).await;
    let flows = assert_json(flows, StatusCode::OK).await;
    assert!(flow_names(&flows).contains(&"Hello World".to_string()));
}
