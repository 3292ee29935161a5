//! Keys narrowed to scopes and to networks, and the client address behind trusted proxies:
//! `scopes` and `allowedNetworks` on `POST /api/admin/1/users/me/keys`, the 403s that name
//! what is missing, the audit of a key used from outside its networks, and
//! `--trusted-proxies`.

use std::sync::atomic::Ordering;

use keyflow::domain::Networks;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{Backend, TestApp, assert_error, assert_json, both_backends};

both_backends! {
    a_request_outside_the_scopes_is_forbidden_naming_the_scope,
    an_unscoped_key_has_what_its_role_allows,
    a_token_obtained_with_a_key_has_its_scopes_and_networks,
    a_standard_users_key_with_admin_scopes_is_still_not_an_administrator,
    demoting_the_owner_narrows_the_key_at_once,
    unknown_scopes_and_bad_networks_are_unprocessable,
    a_key_is_refused_outside_its_networks_and_the_refusal_is_audited,
    forwarded_for_is_believed_only_from_a_trusted_proxy,
    the_failure_budget_is_the_clients_behind_a_trusted_proxy_and_the_peers_otherwise,
    the_settings_page_narrows_a_key_and_lists_it,
}

const KEYS: &str = "/api/admin/1/users/me/keys";

/// Creates a key with `extra` fields in the request; the whole answer.
async fn create(app: &TestApp, token: &str, name: &str, extra: Value) -> Response {
    let mut body = json!({ "name": name, "tenantId": app.tenant_id });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.with_token(Method::POST, KEYS, token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The value of a new key of the administrator's with `extra` fields.
async fn narrowed_key(app: &TestApp, name: &str, extra: Value) -> String {
    let token = app.admin_token().await;
    key_of(app, &token, name, extra).await
}

async fn key_of(app: &TestApp, token: &str, name: &str, extra: Value) -> String {
    let body = assert_json(create(app, token, name, extra).await, StatusCode::OK).await;
    body["apiKey"].as_str().unwrap().to_string()
}

async fn call(app: &TestApp, key: &str, method: Method, path: &str) -> Response {
    app.with_key(method, path, key).send().await.unwrap()
}

const FLOWS: &str = "/api/draw/1/flow";
const VALUES: &str = "/api/draw/1/element/value";
const USERS: &str = "/api/admin/1/users";

fn no_flow() -> String {
    format!("{FLOWS}/{}", uuid::Uuid::new_v4())
}

async fn a_request_outside_the_scopes_is_forbidden_naming_the_scope() {
    let app = TestApp::spawn().await;
    let key = narrowed_key(&app, "reader", json!({ "scopes": ["flows:read"] })).await;
    // Twice: the second is answered from the caches, before routing.
    for _ in 0..2 {
        assert_json(call(&app, &key, Method::GET, FLOWS).await, StatusCode::OK).await;
    }
    let refused = assert_error(
        call(&app, &key, Method::DELETE, &no_flow()).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(refused, "this API key lacks the scope flows:write");
    let refused = assert_error(
        call(&app, &key, Method::GET, VALUES).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(refused, "this API key lacks the scope elements:read");

    // With the scope, the same request goes through to the handler (no such flow).
    let writer = narrowed_key(&app, "writer", json!({ "scopes": ["flows:write"] })).await;
    assert_error(
        call(&app, &writer, Method::DELETE, &no_flow()).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // Write does not bring read; the whole list refused from the early answer's path too.
    for _ in 0..2 {
        let refused = assert_error(
            call(&app, &writer, Method::GET, FLOWS).await,
            StatusCode::FORBIDDEN,
        )
        .await;
        assert_eq!(refused, "this API key lacks the scope flows:read");
    }
    let values = narrowed_key(&app, "values", json!({ "scopes": ["elements:read"] })).await;
    assert_json(
        call(&app, &values, Method::GET, VALUES).await,
        StatusCode::OK,
    )
    .await;

    // The list shows each key's scopes.
    let token = app.admin_token().await;
    let listed = app.key_list(&token).await;
    let scopes = |name: &str| listed.iter().find(|k| k["name"] == name).unwrap()["scopes"].clone();
    assert_eq!(scopes("reader"), json!(["flows:read"]));
    assert_eq!(scopes("writer"), json!(["flows:write"]));
}

async fn an_unscoped_key_has_what_its_role_allows() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let created = assert_json(
        create(&app, &token, "plain", json!({ "scopes": [] })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(created["scopes"], json!([]));
    assert_eq!(created["allowedNetworks"], json!([]));
    let key = created["apiKey"].as_str().unwrap();
    assert_json(call(&app, key, Method::GET, FLOWS).await, StatusCode::OK).await;
    assert_json(call(&app, key, Method::GET, VALUES).await, StatusCode::OK).await;
    assert_json(call(&app, key, Method::GET, USERS).await, StatusCode::OK).await;
    assert_error(
        call(&app, key, Method::DELETE, &no_flow()).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn a_token_obtained_with_a_key_has_its_scopes_and_networks() {
    let app = TestApp::spawn().await;
    let key = narrowed_key(&app, "values", json!({ "scopes": ["elements:read"] })).await;
    let path = format!("/api/draw/1/authentication/{}", app.tenant_id);
    let token = assert_json(call(&app, &key, Method::GET, &path).await, StatusCode::OK).await;
    let token = token.as_str().unwrap();
    for header in ["authorization", "x-boomi-flow-api-key"] {
        let get = |path: &str| app.client.get(app.url(path)).header(header, token).send();
        assert_json(get(VALUES).await.unwrap(), StatusCode::OK).await;
        let refused = assert_error(get(FLOWS).await.unwrap(), StatusCode::FORBIDDEN).await;
        assert_eq!(
            refused, "this API key lacks the scope flows:read",
            "{header}"
        );
    }

    // A token of a key limited to other networks is refused as the key is.
    let far = json!({ "allowedNetworks": ["203.0.113.0/24"] });
    let far_key = narrowed_key(&app, "far", far).await;
    // The key obtains no token from here; its token would be refused the same way.
    let refused = assert_error(
        call(&app, &far_key, Method::GET, &path).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(refused, "this API key is not allowed from 127.0.0.1");
}

async fn a_standard_users_key_with_admin_scopes_is_still_not_an_administrator() {
    let app = TestApp::spawn().await;
    app.create_user("sam@example.com", "a long enough password", &app.tenant_id)
        .await;
    let sam = app.login("sam@example.com", "a long enough password").await;
    let everything = json!({ "scopes": ["admin:read", "admin:write"] });
    let key = key_of(&app, &sam, "wishful", everything).await;
    let refused = assert_error(
        call(&app, &key, Method::GET, USERS).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(refused, "only an administrator of this tenant may do this");
}

async fn demoting_the_owner_narrows_the_key_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let sam_id = app
        .create_user("sam@example.com", "a long enough password", &app.tenant_id)
        .await;
    let role = |name: &str| json!({ "role": { "developerName": name } });
    let sam_path = format!("{USERS}/{sam_id}");
    let set_role = |body: Value| {
        app.with_token(Method::PUT, &sam_path, &admin)
            .json(&body)
            .send()
    };
    assert_json(
        set_role(role("ADMINISTRATOR")).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    let sam = app.login("sam@example.com", "a long enough password").await;
    let key = key_of(&app, &sam, "admin", json!({ "scopes": ["admin:read"] })).await;
    assert_json(call(&app, &key, Method::GET, USERS).await, StatusCode::OK).await;

    assert_json(call(&app, &key, Method::GET, USERS).await, StatusCode::OK).await;
    let lookups = || app.state.metrics.key_store_lookups.load(Ordering::Relaxed);
    let cached = lookups();
    assert_json(
        set_role(role("STANDARD_USER")).await.unwrap(),
        StatusCode::OK,
    )
    .await;
    // The role change dropped this instance's key cache (as it does every instance's, through
    // the store's announcement): the key is looked up again.
    let refused = assert_error(
        call(&app, &key, Method::GET, USERS).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(refused, "only an administrator of this tenant may do this");
    assert_eq!(lookups(), cached + 1, "the key cache was dropped");
}

async fn unknown_scopes_and_bad_networks_are_unprocessable() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let refused = assert_error(
        create(
            &app,
            &token,
            "k",
            json!({ "scopes": ["flows:read", "flows:delete"] }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        refused.contains("'flows:delete' is not a scope"),
        "{refused}"
    );
    assert!(refused.contains("flows:read, flows:write"), "{refused}");

    let bad = json!({ "allowedNetworks": ["10.0.0.0/8", "10.0.0.0/33"] });
    let refused = assert_error(
        create(&app, &token, "k", bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(refused.contains("'10.0.0.0/33'"), "{refused}");
    let many: Vec<String> = (0..21).map(|i| format!("10.0.{i}.0/24")).collect();
    let refused = assert_error(
        create(&app, &token, "k", json!({ "allowedNetworks": many })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(refused.contains("at most 20"), "{refused}");
    // A wrong type is refused as any body field's is.
    let response = create(&app, &token, "k", json!({ "scopes": "flows:read" })).await;
    assert!(response.status().is_client_error(), "{}", response.status());
    // Nothing was created.
    assert!(app.key_list(&token).await.is_empty());
}

/// The `key.refused` audit records: their subjects.
async fn refusals(app: &TestApp) -> Vec<String> {
    use sqlx::Connection;
    let query = "SELECT subject FROM audit_events WHERE action = 'key.refused'";
    if app.backend() == Backend::Postgres {
        let mut db = app.postgres().await;
        let rows: Vec<(String,)> = sqlx::query_as(query).fetch_all(&mut db).await.unwrap();
        db.close().await.unwrap();
        return rows.into_iter().map(|(s,)| s).collect();
    }
    let mut db = app.database().await;
    let rows: Vec<(String,)> = sqlx::query_as(query).fetch_all(&mut db).await.unwrap();
    db.close().await.unwrap();
    rows.into_iter().map(|(s,)| s).collect()
}

async fn a_key_is_refused_outside_its_networks_and_the_refusal_is_audited() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let inside = json!({ "allowedNetworks": ["127.0.0.0/8", "::1"] });
    let created = assert_json(create(&app, &token, "inside", inside).await, StatusCode::OK).await;
    assert_eq!(created["allowedNetworks"], json!(["127.0.0.0/8", "::1"]));
    let key = created["apiKey"].as_str().unwrap();
    for _ in 0..2 {
        assert_json(call(&app, key, Method::GET, FLOWS).await, StatusCode::OK).await;
    }
    assert!(refusals(&app).await.is_empty());

    let outside = json!({ "allowedNetworks": ["203.0.113.0/24", "2001:db8::/32"] });
    let key = narrowed_key(&app, "outside", outside).await;
    // Twice: a cached grant is refused the same way (the early answer leaves it to the router).
    for _ in 0..2 {
        let refused = assert_error(
            call(&app, &key, Method::GET, FLOWS).await,
            StatusCode::FORBIDDEN,
        )
        .await;
        assert_eq!(refused, "this API key is not allowed from 127.0.0.1");
        assert!(!refused.contains(&key));
    }
    let audited = refusals(&app).await;
    assert_eq!(audited.len(), 2, "{audited:?}");
    assert!(audited[0].contains("network") && audited[0].contains("127.0.0.1"));
    assert!(!audited[0].contains(&key), "never the key's value");
    let listed = app.key_list(&token).await;
    let row = listed.iter().find(|k| k["name"] == "outside").unwrap();
    assert_eq!(
        row["allowedNetworks"],
        json!(["203.0.113.0/24", "2001:db8::/32"])
    );
}

fn trusting_localhost(config: &mut keyflow::config::ServeConfig) {
    config.trusted_proxies = Networks::parse(["127.0.0.1"]).unwrap();
}

async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let behind = json!({ "allowedNetworks": ["198.51.100.0/24"] });
    let from = |app: &TestApp, key: &str, forwarded: Option<&str>| {
        let mut request = app.with_key(Method::GET, FLOWS, key);
        if let Some(forwarded) = forwarded {
            request = request.header("x-forwarded-for", forwarded);
        }
        request.send()
    };

    let proxied = TestApp::spawn_with(trusting_localhost).await;
    let key = narrowed_key(&proxied, "behind", behind.clone()).await;
    // The client the proxy names, whatever the client wrote to its left.
    for forwarded in ["198.51.100.7", "6.6.6.6, 198.51.100.7"] {
        let response = from(&proxied, &key, Some(forwarded)).await.unwrap();
        assert_json(response, StatusCode::OK).await;
    }
    let refused = assert_error(
        from(&proxied, &key, Some("198.51.100.7, 203.0.113.9"))
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(refused, "this API key is not allowed from 203.0.113.9");
    // Without the header, or with a malformed one, the client is the proxy itself.
    for forwarded in [None, Some("not an address")] {
        let refused = assert_error(
            from(&proxied, &key, forwarded).await.unwrap(),
            StatusCode::FORBIDDEN,
        )
        .await;
        assert_eq!(refused, "this API key is not allowed from 127.0.0.1");
    }

    // No trusted proxy: the header is the client's own claim, and ignored.
    let direct = TestApp::spawn().await;
    let key = narrowed_key(&direct, "behind", behind).await;
    let refused = assert_error(
        from(&direct, &key, Some("198.51.100.7")).await.unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(refused, "this API key is not allowed from 127.0.0.1");
}

async fn the_failure_budget_is_the_clients_behind_a_trusted_proxy_and_the_peers_otherwise() {
    let wrong = |app: &TestApp, forwarded: &str| {
        app.client
            .get(app.url(FLOWS))
            .header("x-boomi-flow-api-key", "kf_not-a-key")
            .header("x-forwarded-for", forwarded.to_string())
            .send()
    };
    let small_budget = |config: &mut keyflow::config::ServeConfig| {
        config.auth_failure_burst = 2;
    };

    // Spoofed headers from an untrusted peer: one budget, the peer's.
    let direct = TestApp::spawn_with(small_budget).await;
    let statuses = [
        wrong(&direct, "198.51.100.1").await.unwrap().status(),
        wrong(&direct, "198.51.100.2").await.unwrap().status(),
        wrong(&direct, "198.51.100.3").await.unwrap().status(),
    ];
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );

    // Behind a trusted proxy: each client its own budget.
    let proxied = TestApp::spawn_with(|config| {
        small_budget(config);
        trusting_localhost(config);
    })
    .await;
    let statuses = [
        wrong(&proxied, "198.51.100.1").await.unwrap().status(),
        wrong(&proxied, "198.51.100.1").await.unwrap().status(),
        wrong(&proxied, "198.51.100.2").await.unwrap().status(),
        wrong(&proxied, "198.51.100.1").await.unwrap().status(),
        wrong(&proxied, "198.51.100.2").await.unwrap().status(),
    ];
    let (refused, throttled) = (StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(statuses, [refused, refused, refused, throttled, refused]);
}

async fn the_settings_page_narrows_a_key_and_lists_it() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::signed_in(&app).await;
    let settings = browser.get("/settings").await;
    assert!(settings.html.contains(r#"name="scope:flows:read""#));
    let page = browser
        .post(
            "/settings/keys",
            &[
                ("csrf", &settings.csrf()),
                ("name", "narrow"),
                ("tenant", &app.tenant_id),
                ("scope:flows:read", "on"),
                ("scope:packages:write", "on"),
                ("networks", "127.0.0.1\n10.0.0.0/8, 2001:db8::/32"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.html
            .contains("<code>flows:read</code>, <code>packages:write</code>")
    );
    assert!(
        page.html
            .contains("<code>127.0.0.1</code>, <code>10.0.0.0/8</code>")
    );
    let token = app.admin_token().await;
    let listed = app.key_list(&token).await;
    assert_eq!(listed[0]["scopes"], json!(["flows:read", "packages:write"]));
    assert_eq!(
        listed[0]["allowedNetworks"],
        json!(["127.0.0.1", "10.0.0.0/8", "2001:db8::/32"])
    );

    // A bad range: the form again, the error beside the field, what was typed kept.
    let settings = browser.get("/settings").await;
    let page = browser
        .post(
            "/settings/keys",
            &[
                ("csrf", &settings.csrf()),
                ("name", "bad"),
                ("tenant", &app.tenant_id),
                ("scope:flows:write", "on"),
                ("networks", "10.0.0.0/99"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.html.contains(r#"id="key-networks-error""#),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains(r#"name="scope:flows:write" value="on" checked"#)
    );
    assert!(page.html.contains(">10.0.0.0/99</textarea>"));
}
