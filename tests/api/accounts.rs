//! Accounts across tenants: a new account's one-time password link, and a token for another
//! of the user's tenants.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::admin::{PASSWORD, USERS, call};
use crate::helpers::{TestApp, assert_error, assert_json, assert_unauthorized, flow_names};

#[tokio::test]
async fn a_new_account_sets_its_password_with_the_one_time_link() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let body = json!({ "email": "Nina@Example.com", "firstName": "Nina", "role": { "developerName": "ADMINISTRATOR" } });
    let added = assert_json(
        call(&app, &token, Method::POST, USERS, Some(body)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(added["email"], "nina@example.com");
    assert_eq!(added["role"]["developerName"], "ADMINISTRATOR");
    let link = added["setPasswordLink"]
        .as_str()
        .expect("a new account gets a link");
    let token_value = link
        .split("token=")
        .nth(1)
        .expect("the link carries its token");
    assert!(link.starts_with("/api/admin/1/users/password?token="));
    // No usable password yet.
    assert_unauthorized(app.try_login("nina@example.com", "").await).await;

    let set = |password: &str| {
        app.client
            .post(app.url("/api/admin/1/users/password"))
            .json(&json!({ "token": token_value, "password": password }))
            .send()
    };
    assert_error(
        set("short").await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(set(PASSWORD).await.unwrap().status(), StatusCode::OK);
    app.login("nina@example.com", PASSWORD).await;
    // The link works once.
    assert_unauthorized(set("another long password").await.unwrap()).await;

    // An existing account is added without a link; adding it twice is a conflict.
    let body = json!({ "email": "nina@example.com" });
    let again = call(&app, &token, Method::POST, USERS, Some(body)).await;
    assert_error(again, StatusCode::CONFLICT).await;
    let other = app.create_tenant("Other").await;
    assert!(app.add_admin_to(&other).await.status.success());
    let other_admin = app
        .client
        .post(app.url(USERS))
        .header("authorization", &token)
        .header("manywhotenant", &other)
        .json(&json!({ "email": "nina@example.com" }))
        .send()
        .await
        .unwrap();
    let added = assert_json(other_admin, StatusCode::OK).await;
    assert!(added.get("setPasswordLink").is_none());
    assert_eq!(added["role"]["developerName"], "STANDARD_USER");
}

#[tokio::test]
async fn a_token_for_another_tenant_of_the_same_user() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let other = app.second_tenant("Other").await;
    let stranger = app.create_tenant("Stranger").await;
    let path = |tenant: &str| format!("/api/draw/1/authentication/{tenant}");

    let response = call(&app, &token, Method::GET, &path(&other), None).await;
    let other_token = assert_json(response, StatusCode::OK)
        .await
        .as_str()
        .unwrap()
        .to_string();
    // The new token acts in the other tenant without a manywhotenant.
    let flow = json!({ "developerName": "Only in Other" });
    let created = call(
        &app,
        &other_token,
        Method::POST,
        "/api/draw/1/flow",
        Some(flow),
    )
    .await;
    assert_json(created, StatusCode::OK).await;
    let in_other = app
        .client
        .get(app.url("/api/draw/1/flow"))
        .header("authorization", &token)
        .header("manywhotenant", &other)
        .send()
        .await
        .unwrap();
    let names = flow_names(&assert_json(in_other, StatusCode::OK).await);
    assert_eq!(names, ["Only in Other"]);

    assert_error(
        call(&app, &token, Method::GET, &path(&stranger), None).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_error(
        call(&app, &token, Method::GET, &path("nope"), None).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let key = app.new_key_for(&token, "k", &app.tenant_id).await;
    let by_key = app
        .with_key(Method::GET, &path(&other), &key)
        .send()
        .await
        .unwrap();
    assert_error(by_key, StatusCode::FORBIDDEN).await;
}
