//! Key management: `/api/admin/1/users/me/keys…`.

use keyflow::config::RevealPolicy;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_error, assert_json, assert_unauthorized, both_backends, enc, is_key_format,
    is_rfc3339_utc,
};

both_backends! {
    a_new_key_is_well_formed_and_dated,
    a_duplicate_name_in_the_same_tenant_conflicts,
    the_same_name_in_another_tenant_is_fine,
    a_key_for_a_tenant_the_user_is_not_in_is_forbidden,
    names_must_be_one_to_a_hundred_printable_characters,
    a_tenant_id_that_is_not_a_uuid_or_a_wrong_type_is_unprocessable,
    malformed_json_is_a_bad_request,
    key_management_refuses_api_keys,
    the_list_carries_every_tenant_oldest_first,
    on_demand_lists_a_preview_and_reveals_the_value,
    the_list_policy_shows_values_in_the_list,
    the_never_policy_shows_the_value_once,
    delete_by_name_removes_the_key,
    an_unknown_name_is_not_found,
    a_name_in_two_tenants_needs_manywhotenant_to_choose,
}

const KEYS: &str = "/api/admin/1/users/me/keys";

async fn delete_key(app: &TestApp, token: &str, name: &str, tenant: Option<&str>) -> Response {
    let mut request = app.with_token(Method::DELETE, &format!("{KEYS}/{}", enc(name)), token);
    if let Some(tenant) = tenant {
        request = request.header("manywhotenant", tenant);
    }
    request.send().await.unwrap()
}

async fn reveal(app: &TestApp, token: &str, name: &str, tenant: Option<&str>) -> Response {
    let path = format!("{KEYS}/{}/reveal", enc(name));
    let mut request = app.with_token(Method::POST, &path, token);
    if let Some(tenant) = tenant {
        request = request.header("manywhotenant", tenant);
    }
    request.send().await.unwrap()
}

/// The `apiKey` the list shows for `name`.
async fn listed_value(app: &TestApp, token: &str, name: &str) -> Value {
    let list = app.key_list(token).await;
    let row = list
        .iter()
        .find(|k| k["name"] == name)
        .expect("the key is listed");
    row["apiKey"].clone()
}

async fn post_raw_key_body(app: &TestApp, token: &str, body: &str) -> Response {
    app.with_token(Method::POST, KEYS, token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn a_new_key_is_well_formed_and_dated() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let created = app.create_key(&token, "first", &app.tenant_id).await;
    let created = assert_json(created, StatusCode::OK).await;
    let key = created["apiKey"].as_str().unwrap();
    assert!(is_key_format(key), "not kf_ + 32 base62: {key}");
    assert!(
        is_rfc3339_utc(created["createdAt"].as_str().unwrap()),
        "{created}"
    );
    assert_eq!(created["name"], "first");
    assert_eq!(created["tenantId"], app.tenant_id.as_str());
}

async fn a_duplicate_name_in_the_same_tenant_conflicts() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    app.new_key_for(&token, "dup", &app.tenant_id).await;
    let again = app.create_key(&token, "dup", &app.tenant_id).await;
    assert_error(again, StatusCode::CONFLICT).await;
}

async fn the_same_name_in_another_tenant_is_fine() {
    let app = TestApp::spawn().await;
    let other = app.second_tenant("Other").await;
    let token = app.admin_token().await;
    app.new_key_for(&token, "shared", &app.tenant_id).await;
    let second = app.new_key_for(&token, "shared", &other).await;
    let flows = app.list_flows(Some(&second), Some(&other)).await;
    assert_json(flows, StatusCode::OK).await;
}

async fn a_key_for_a_tenant_the_user_is_not_in_is_forbidden() {
    let app = TestApp::spawn().await;
    let stranger = app.create_tenant("Stranger").await;
    let token = app.admin_token().await;
    assert_error(
        app.create_key(&token, "k", &stranger).await,
        StatusCode::FORBIDDEN,
    )
    .await;
}

async fn names_must_be_one_to_a_hundred_printable_characters() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    for bad in [
        String::new(),
        "   ".into(),
        "x".repeat(101),
        "bell\u{7}".into(),
    ] {
        let response = app.create_key(&token, &bad, &app.tenant_id).await;
        assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let longest = "x".repeat(100);
    let created = app.create_key(&token, &longest, &app.tenant_id).await;
    assert_eq!(
        assert_json(created, StatusCode::OK).await["name"],
        longest.as_str()
    );
}

async fn a_tenant_id_that_is_not_a_uuid_or_a_wrong_type_is_unprocessable() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let not_uuid = app
        .create_key(&token, "k", "b70ef1d6-edc9-4481-94b9-d81g126e32d1")
        .await;
    assert_error(not_uuid, StatusCode::UNPROCESSABLE_ENTITY).await;
    let body = json!({ "name": 5, "tenantId": app.tenant_id }).to_string();
    let wrong_type = post_raw_key_body(&app, &token, &body).await;
    assert_error(wrong_type, StatusCode::UNPROCESSABLE_ENTITY).await;
}

async fn malformed_json_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let response = post_raw_key_body(&app, &token, "{\"name\": \"k\", ").await;
    assert_error(response, StatusCode::BAD_REQUEST).await;
}

async fn key_management_refuses_api_keys() {
    let app = TestApp::spawn().await;
    let key = app.new_key("leaked").await;
    let reveal_path = format!("{KEYS}/leaked/reveal");
    let attempts = [
        app.with_key(Method::GET, KEYS, &key),
        app.with_key(Method::POST, KEYS, &key)
            .json(&json!({ "name": "minted", "tenantId": app.tenant_id })),
        app.with_key(Method::POST, &reveal_path, &key),
        app.with_key(Method::DELETE, &format!("{KEYS}/leaked"), &key),
    ];
    for attempt in attempts {
        assert_error(attempt.send().await.unwrap(), StatusCode::FORBIDDEN).await;
    }
    // Nothing was minted or deleted: the key still works and is alone.
    assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await;
    let list = app.key_list(&app.admin_token().await).await;
    assert_eq!(list.len(), 1, "{list:?}");
}

async fn the_list_carries_every_tenant_oldest_first() {
    let app = TestApp::spawn().await;
    let other = app.second_tenant("Other").await;
    let token = app.admin_token().await;
    app.new_key_for(&token, "one", &app.tenant_id).await;
    app.new_key_for(&token, "two", &other).await;
    app.new_key_for(&token, "three", &app.tenant_id).await;
    let list = app.key_list(&token).await;
    let rows: Vec<(&str, &str)> = list
        .iter()
        .map(|k| (k["name"].as_str().unwrap(), k["tenantId"].as_str().unwrap()))
        .collect();
    let example = app.tenant_id.as_str();
    let expected = [
        ("one", example),
        ("two", other.as_str()),
        ("three", example),
    ];
    assert_eq!(rows, expected);
    assert!(
        list.iter()
            .all(|k| is_rfc3339_utc(k["createdAt"].as_str().unwrap()))
    );
}

async fn on_demand_lists_a_preview_and_reveals_the_value() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let key = app.new_key_for(&token, "shown", &app.tenant_id).await;
    let preview = format!("kf_\u{2026}{}", &key[31..]);
    assert_eq!(listed_value(&app, &token, "shown").await, preview.as_str());
    let revealed = assert_json(reveal(&app, &token, "shown", None).await, StatusCode::OK).await;
    assert_eq!(revealed["apiKey"], key.as_str());
    assert_error(
        reveal(&app, &token, "absent", None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn the_list_policy_shows_values_in_the_list() {
    let app = TestApp::spawn_with(|cfg| cfg.key_reveal = RevealPolicy::List).await;
    let token = app.admin_token().await;
    let key = app.new_key_for(&token, "visible", &app.tenant_id).await;
    assert_eq!(listed_value(&app, &token, "visible").await, key.as_str());
}

async fn the_never_policy_shows_the_value_once() {
    let app = TestApp::spawn_with(|cfg| cfg.key_reveal = RevealPolicy::Never).await;
    let token = app.admin_token().await;
    let key = app.new_key_for(&token, "secret", &app.tenant_id).await;
    assert!(is_key_format(&key));
    assert_eq!(listed_value(&app, &token, "secret").await, Value::Null);
    assert_error(
        reveal(&app, &token, "secret", None).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await;
}

async fn delete_by_name_removes_the_key() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let key = app.new_key_for(&token, "to go", &app.tenant_id).await;
    app.new_key_for(&token, "to stay", &app.tenant_id).await;
    assert_eq!(
        delete_key(&app, &token, "to go", None).await.status(),
        StatusCode::OK
    );
    let names: Vec<Value> = app
        .key_list(&token)
        .await
        .iter()
        .map(|k| k["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("to stay")]);
    assert_unauthorized(app.list_flows(Some(&key), None).await).await;
    assert_error(
        delete_key(&app, &token, "to go", None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn an_unknown_name_is_not_found() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    assert_error(
        delete_key(&app, &token, "never made", None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn a_name_in_two_tenants_needs_manywhotenant_to_choose() {
    let app = TestApp::spawn().await;
    let other = app.second_tenant("Other").await;
    let token = app.admin_token().await;
    let here = app.new_key_for(&token, "twin", &app.tenant_id).await;
    let there = app.new_key_for(&token, "twin", &other).await;

    assert_error(
        delete_key(&app, &token, "twin", None).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_error(
        reveal(&app, &token, "twin", None).await,
        StatusCode::CONFLICT,
    )
    .await;
    let revealed = assert_json(
        reveal(&app, &token, "twin", Some(&other)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(revealed["apiKey"], there.as_str());

    let deleted = delete_key(&app, &token, "twin", Some(&other)).await;
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_unauthorized(app.list_flows(Some(&there), None).await).await;
    assert_json(app.list_flows(Some(&here), None).await, StatusCode::OK).await;
    let list = app.key_list(&token).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["tenantId"], app.tenant_id.as_str());
}
