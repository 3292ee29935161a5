//! `GET /api/draw/1/authentication/{tenantId}` with an API key: a token bound to that key, for
//! its tenant only, ending with it, and refused whatever the key is refused.

use std::time::Duration;

use keyflow::domain::Timestamp;
use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use crate::helpers::{
    Backend, TENANT_HEADER, TestApp, assert_error, assert_json, assert_unauthorized, both_backends,
};

both_backends! {
    a_key_obtains_a_token_that_works_for_flows,
    the_token_is_for_the_key_tenant_only,
    the_token_dies_with_its_key,
    the_token_dies_when_the_owner_leaves_the_tenant,
    the_token_never_outlives_its_key,
    the_token_may_not_do_what_the_key_may_not,
    the_token_in_the_key_header_has_exactly_its_own_rights,
}

const KEYS: &str = "/api/admin/1/users/me/keys";
const FLOW: &str = "/api/draw/1/flow";

fn for_tenant(tenant: &str) -> String {
    format!("/api/draw/1/authentication/{tenant}")
}

/// The token a key obtains for its own tenant.
async fn key_token(app: &TestApp, key: &str) -> String {
    let response = app
        .with_key(Method::GET, &for_tenant(&app.tenant_id), key)
        .send()
        .await
        .unwrap();
    let token = assert_json(response, StatusCode::OK).await;
    token.as_str().expect("a JSON string").to_string()
}

async fn flows_with(app: &TestApp, token: &str) -> Response {
    app.with_token(Method::GET, FLOW, token)
        .send()
        .await
        .unwrap()
}

async fn a_key_obtains_a_token_that_works_for_flows() {
    let app = TestApp::spawn().await;
    let key = app.new_key("tool").await;
    let token = key_token(&app, &key).await;
    let flow = json!({ "developerName": "Made with a key's token" });
    let created = app
        .with_token(Method::POST, FLOW, &token)
        .json(&flow)
        .send()
        .await
        .unwrap();
    assert_json(created, StatusCode::OK).await;
    let listed = assert_json(flows_with(&app, &token).await, StatusCode::OK).await;
    let names = crate::helpers::flow_names(&listed);
    assert!(
        names.contains(&"Made with a key's token".to_string()),
        "{names:?}"
    );
    // The key's tenant named explicitly works too.
    let named = app
        .with_token(Method::GET, FLOW, &token)
        .header(TENANT_HEADER, &app.tenant_id)
        .send()
        .await
        .unwrap();
    assert_json(named, StatusCode::OK).await;
}

async fn the_token_is_for_the_key_tenant_only() {
    let app = TestApp::spawn().await;
    // The owner is a member of Other too: only the key's tenant limits the token.
    let other = app.second_tenant("Other").await;
    let key = app.new_key("tool").await;
    let asked = app
        .with_key(Method::GET, &for_tenant(&other), &key)
        .send()
        .await
        .unwrap();
    let message = assert_error(asked, StatusCode::FORBIDDEN).await;
    assert!(message.contains("its own tenant only"), "{message}");

    let token = key_token(&app, &key).await;
    let widened = app
        .with_token(Method::GET, &for_tenant(&other), &token)
        .send()
        .await
        .unwrap();
    let message = assert_error(widened, StatusCode::FORBIDDEN).await;
    assert!(message.contains("its own tenant only"), "{message}");
    let elsewhere = app
        .with_token(Method::GET, FLOW, &token)
        .header(TENANT_HEADER, &other)
        .send()
        .await
        .unwrap();
    let message = assert_error(elsewhere, StatusCode::FORBIDDEN).await;
    assert!(
        message.contains("reaches only the key's tenant"),
        "{message}"
    );
}

async fn the_token_dies_with_its_key() {
    let app = TestApp::spawn().await;
    let owner = app.admin_token().await;
    let key = app.new_key_for(&owner, "doomed", &app.tenant_id).await;
    let token = key_token(&app, &key).await;
    let kept = app.new_key_for(&owner, "kept", &app.tenant_id).await;
    let other_token = key_token(&app, &kept).await;
    assert_json(flows_with(&app, &token).await, StatusCode::OK).await;

    let deleted = app
        .with_token(Method::DELETE, &format!("{KEYS}/doomed"), &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_unauthorized(flows_with(&app, &token).await).await;
    // Another key's token lives on.
    assert_json(flows_with(&app, &other_token).await, StatusCode::OK).await;
}

async fn the_token_dies_when_the_owner_leaves_the_tenant() {
    let app = TestApp::spawn().await;
    let home = app.create_tenant("Bob's home").await;
    app.create_user("bob@example.com", "bob's long password", &home)
        .await;
    app.add_user("bob@example.com", &app.tenant_id).await;
    let bob = app.login("bob@example.com", "bob's long password").await;
    let key = app.new_key_for(&bob, "bob", &app.tenant_id).await;
    let token = key_token(&app, &key).await;
    assert_json(flows_with(&app, &token).await, StatusCode::OK).await;

    app.remove_user("bob@example.com", &app.tenant_id).await;
    assert_unauthorized(flows_with(&app, &token).await).await;
}

/// Sets the expiry of the key named `name` in the server's database (the API makes keys
/// without one), beside the server.
async fn set_key_expiry(app: &TestApp, name: &str, at: Timestamp) {
    match app.backend() {
        Backend::Sqlite => {
            use sqlx::Connection;
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(app.data_dir().join("keyflow.db"));
            let mut db = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap();
            sqlx::query("UPDATE api_keys SET expires_at = ? WHERE name = ?")
                .bind(at.to_rfc3339())
                .bind(name)
                .execute(&mut db)
                .await
                .unwrap();
        }
        Backend::Postgres => {
            let mut db = app.postgres().await;
            sqlx::query("UPDATE api_keys SET expires_at = $1::timestamptz WHERE name = $2")
                .bind(at.to_rfc3339())
                .bind(name)
                .execute(&mut db)
                .await
                .unwrap();
        }
    }
}

/// How many key-bound tokens expire exactly when their key does.
async fn tokens_ending_with_their_key(app: &TestApp) -> i64 {
    let sql = "SELECT COUNT(*) FROM tokens t JOIN api_keys k ON k.id = t.key_id \
               WHERE t.expires_at = k.expires_at";
    match app.backend() {
        Backend::Sqlite => {
            let mut db = app.database().await;
            sqlx::query_scalar(sql).fetch_one(&mut db).await.unwrap()
        }
        Backend::Postgres => {
            let mut db = app.postgres().await;
            sqlx::query_scalar(sql).fetch_one(&mut db).await.unwrap()
        }
    }
}

async fn the_token_never_outlives_its_key() {
    let app = TestApp::spawn().await;
    let key = app.new_key("brief").await;
    // The key ends in five minutes, long before a token's day.
    set_key_expiry(
        &app,
        "brief",
        Timestamp::now().plus(Duration::from_secs(300)),
    )
    .await;
    let token = key_token(&app, &key).await;
    assert_eq!(tokens_ending_with_their_key(&app).await, 1);
    assert_json(flows_with(&app, &token).await, StatusCode::OK).await;

    // Once the key has expired, so has its token. (The expiry is moved behind the server's
    // back, where keyflow's own writes that move one earlier announce it: the caches are
    // dropped as the announcement would. A cached grant's own end is checked by the unit
    // tests of `auth::credential_cache`.)
    set_key_expiry(&app, "brief", Timestamp::now()).await;
    app.state.forget_credentials();
    assert_unauthorized(flows_with(&app, &token).await).await;
}

async fn the_token_may_not_do_what_the_key_may_not() {
    let app = TestApp::spawn().await;
    let key = app.new_key("tool").await;
    let token = key_token(&app, &key).await;
    let create = json!({ "name": "minted", "tenantId": app.tenant_id });
    let attempts = [
        app.with_key(Method::GET, KEYS, &key),
        app.with_key(Method::POST, KEYS, &key).json(&create),
        app.with_token(Method::GET, KEYS, &token),
        app.with_token(Method::POST, KEYS, &token).json(&create),
        app.with_token(Method::POST, &format!("{KEYS}/tool/reveal"), &token),
        app.with_token(Method::DELETE, &format!("{KEYS}/tool"), &token),
    ];
    for attempt in attempts {
        let message = assert_error(attempt.send().await.unwrap(), StatusCode::FORBIDDEN).await;
        assert!(
            message.contains("an API key cannot manage API keys: sign in with a password"),
            "{message}"
        );
    }
    let names = json!({ "firstName": "Renamed" });
    for attempt in [
        app.with_key(Method::PUT, "/api/admin/1/users/me", &key)
            .json(&names),
        app.with_token(Method::PUT, "/api/admin/1/users/me", &token)
            .json(&names),
    ] {
        let message = assert_error(attempt.send().await.unwrap(), StatusCode::FORBIDDEN).await;
        assert!(
            message.contains("an API key cannot change your account"),
            "{message}"
        );
    }
    // Nothing was minted or deleted, and the key and its token still work.
    let list = app.key_list(&app.admin_token().await).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_json(flows_with(&app, &token).await, StatusCode::OK).await;
}

/// A tool that holds one credential keeps the token its key obtained in the key's place,
/// `x-boomi-flow-api-key`: it is that token there, with the same rights as in
/// `Authorization`, and no more. Issue 20, point 2.
async fn the_token_in_the_key_header_has_exactly_its_own_rights() {
    let app = TestApp::spawn().await;
    let other = app.second_tenant("Other").await;
    let owner = app.admin_token().await;
    let key = app.new_key_for(&owner, "tool", &app.tenant_id).await;
    let token = key_token(&app, &key).await;
    let in_key_header = |method: Method, path: &str| app.with_key(method, path, &token);

    // Its tenant's flows, with or without that tenant named; with its JSON quotes too.
    let created = in_key_header(Method::POST, FLOW)
        .json(&json!({ "developerName": "Made through the key header" }))
        .send()
        .await
        .unwrap();
    assert_json(created, StatusCode::OK).await;
    let listed = in_key_header(Method::GET, FLOW)
        .header(TENANT_HEADER, &app.tenant_id)
        .send()
        .await
        .unwrap();
    let names = crate::helpers::flow_names(&assert_json(listed, StatusCode::OK).await);
    assert!(names.contains(&"Made through the key header".to_string()));
    let quoted = app
        .with_key(Method::GET, FLOW, &format!("\"{token}\""))
        .send()
        .await
        .unwrap();
    assert_json(quoted, StatusCode::OK).await;

    // Not another tenant of the owner's: the same 403 as in Authorization.
    let elsewhere = in_key_header(Method::GET, FLOW)
        .header(TENANT_HEADER, &other)
        .send()
        .await
        .unwrap();
    let message = assert_error(elsewhere, StatusCode::FORBIDDEN).await;
    assert!(
        message.contains("reaches only the key's tenant"),
        "{message}"
    );
    let widened = in_key_header(Method::GET, &for_tenant(&other))
        .send()
        .await
        .unwrap();
    assert_error(widened, StatusCode::FORBIDDEN).await;

    // Never key management nor the account.
    let create = json!({ "name": "minted", "tenantId": app.tenant_id });
    for attempt in [
        in_key_header(Method::GET, KEYS),
        in_key_header(Method::POST, KEYS).json(&create),
        in_key_header(Method::POST, &format!("{KEYS}/tool/reveal")),
        in_key_header(Method::DELETE, &format!("{KEYS}/tool")),
    ] {
        let message = assert_error(attempt.send().await.unwrap(), StatusCode::FORBIDDEN).await;
        assert!(
            message.contains("an API key cannot manage API keys"),
            "{message}"
        );
    }
    let renamed = in_key_header(Method::PUT, "/api/admin/1/users/me")
        .json(&json!({ "firstName": "Renamed" }))
        .send()
        .await
        .unwrap();
    assert_error(renamed, StatusCode::FORBIDDEN).await;
    assert_eq!(app.key_list(&owner).await.len(), 1);

    // A password sign-in's token has more rights than a key: refused in the key's header,
    // as is a made-up one, with the one answer to a key that is not valid.
    let refusal = assert_unauthorized(app.list_flows(Some(&key[..5]), None).await).await;
    for not_a_key_token in [owner.clone(), "kft_made-up".to_string()] {
        let answer = app.list_flows(Some(&not_a_key_token), None).await;
        assert_eq!(assert_unauthorized(answer).await, refusal);
    }

    // It dies with its key, in this header too.
    let deleted = app
        .with_token(Method::DELETE, &format!("{KEYS}/tool"), &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    let dead = in_key_header(Method::GET, FLOW).send().await.unwrap();
    assert_eq!(assert_unauthorized(dead).await, refusal);
}
