//! The error convention: a JSON string body, the right status, never a 500 for bad input.

use reqwest::header::HeaderValue;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::json;

use crate::helpers::{SEED_TENANT_ID, TestApp, assert_error, assert_json, both_backends};

both_backends! {
    a_body_over_one_mebibyte_is_too_large,
    a_body_just_under_one_mebibyte_is_accepted,
    an_unknown_route_is_a_json_not_found,
    json_nested_ten_thousand_deep_is_a_bad_request,
    a_manywhotenant_that_is_not_utf8_or_not_a_uuid_is_a_bad_request,
    an_api_key_header_that_is_not_utf8_is_refused_cleanly,
    every_error_body_is_a_json_string,
    every_response_carries_a_request_id,
    health_answers_ok,
    a_path_segment_that_is_not_utf8_is_a_json_bad_request,
    a_second_server_on_the_same_data_directory_is_refused,
}

const FLOW: &str = "/api/draw/1/flow";

async fn a_body_over_one_mebibyte_is_too_large() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let summary = "x".repeat(1024 * 1024 + 1024);
    let body = json!({ "developerName": "Huge", "developerSummary": summary });
    let response = app
        .with_token(Method::POST, FLOW, &token)
        .json(&body)
        .send()
        .await;
    assert_error(response.unwrap(), StatusCode::PAYLOAD_TOO_LARGE).await;
}

async fn a_body_just_under_one_mebibyte_is_accepted() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    // In a field keyflow ignores: a summary may hold only 2,000 characters.
    let padding = "x".repeat(1024 * 1024 - 1024);
    let body = json!({ "developerName": "Big", "padding": padding });
    let response = app
        .with_token(Method::POST, FLOW, &token)
        .json(&body)
        .send()
        .await;
    assert_json(response.unwrap(), StatusCode::OK).await;
}

async fn an_unknown_route_is_a_json_not_found() {
    let app = TestApp::spawn().await;
    for path in [
        "/nowhere",
        "/api/draw/1/nothing",
        "/api/admin/1/users/me/keys/a/b/c",
    ] {
        // Under /api/ a credential is needed first (clients::an_unknown_api_path_…): this one
        // is not even valid, and the path is still what is wrong.
        let response = app
            .client
            .get(app.url(path))
            .header("authorization", "Bearer not-a-token")
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::NOT_FOUND).await;
    }
}

/// Posts `body` as JSON to the flow endpoint with a token.
async fn post_raw_flow(app: &TestApp, token: &str, body: String) -> reqwest::Response {
    app.with_token(Method::POST, FLOW, token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn json_nested_ten_thousand_deep_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    // Alone, and hidden in a field keyflow would otherwise ignore.
    let hidden = format!("{{\"developerName\": \"Deep\", \"extra\": {deep}}}");
    for body in [deep, hidden] {
        let response = post_raw_flow(&app, &token, body).await;
        assert_error(response, StatusCode::BAD_REQUEST).await;
    }
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "the server survived");
}

async fn a_manywhotenant_that_is_not_utf8_or_not_a_uuid_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let key = app.new_key("k").await;
    let token = app.admin_token().await;
    let not_utf8 = HeaderValue::from_bytes(b"\xff\xfe\xfd-tenant").unwrap();
    let requests: [RequestBuilder; 4] = [
        app.with_key(Method::GET, FLOW, &key)
            .header("manywhotenant", not_utf8.clone()),
        app.with_token(Method::GET, FLOW, &token)
            .header("manywhotenant", not_utf8),
        app.with_key(Method::GET, FLOW, &key)
            .header("manywhotenant", SEED_TENANT_ID),
        app.with_token(Method::GET, FLOW, &token)
            .header("manywhotenant", "Example"),
    ];
    for request in requests {
        assert_error(request.send().await.unwrap(), StatusCode::BAD_REQUEST).await;
    }
}

async fn an_api_key_header_that_is_not_utf8_is_refused_cleanly() {
    let app = TestApp::spawn().await;
    let garbage = HeaderValue::from_bytes(b"kf_\xff\xfe").unwrap();
    let response = app
        .client
        .get(app.url(FLOW))
        .header("x-boomi-flow-api-key", garbage)
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert!(status == StatusCode::UNAUTHORIZED || status == StatusCode::BAD_REQUEST);
    assert_error(response, status).await;
}

async fn every_error_body_is_a_json_string() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let key = app.new_key("dup").await;
    let keys = "/api/admin/1/users/me/keys";
    let cases: Vec<(RequestBuilder, StatusCode)> = vec![
        (app.client.get(app.url(FLOW)), StatusCode::UNAUTHORIZED),
        (
            app.with_token(Method::GET, "/api/draw/1/flow/zzz", &token),
            StatusCode::BAD_REQUEST,
        ),
        (
            app.with_token(Method::GET, &format!("{FLOW}?filter=nonsense"), &token),
            StatusCode::BAD_REQUEST,
        ),
        (app.with_key(Method::GET, keys, &key), StatusCode::FORBIDDEN),
        (
            app.with_token(Method::DELETE, &format!("{keys}/absent"), &token),
            StatusCode::NOT_FOUND,
        ),
        (
            app.with_token(Method::POST, keys, &token)
                .json(&json!({ "name": "dup", "tenantId": app.tenant_id })),
            StatusCode::CONFLICT,
        ),
        (
            app.with_token(Method::POST, keys, &token)
                .json(&json!({ "name": "", "tenantId": app.tenant_id })),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            app.client
                .post(app.url("/api/draw/1/authentication"))
                .json(&json!({ "username": app.admin_email, "password": "nope nope" })),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (request, status) in cases {
        let response = request.send().await.unwrap();
        let content_type = response.headers().get("content-type").cloned();
        assert_error(response, status).await;
        let content_type = content_type.expect("an error names its content type");
        assert!(
            content_type
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
    }
}

async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for path in ["/health", "/metrics", "/nowhere", FLOW] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        let id = response
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("{path}"));
        let id = id.to_str().unwrap().to_string();
        assert!(!id.is_empty());
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "request ids repeat");
}

async fn health_answers_ok() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(assert_json(response, StatusCode::OK).await, json!("ok"));
}

async fn a_path_segment_that_is_not_utf8_is_a_json_bad_request() {
    let app = TestApp::spawn().await;
    let key = app.new_key("k").await;
    let response = app
        .with_key(Method::GET, "/api/draw/1/flow/%FF%FE", &key)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::BAD_REQUEST).await;
}

async fn a_second_server_on_the_same_data_directory_is_refused() {
    let app = TestApp::spawn().await;
    let mut config = keyflow::config::ServeConfig::new(app.data_dir().to_path_buf());
    config.database_url = app.database_url().cloned();
    config.admin_password = Some(secrecy::SecretString::from("irrelevant password"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = match keyflow::app::Server::start(config, listener).await {
        Ok(_) => panic!("a second server started on a data directory in use"),
        Err(error) => format!("{error:#}"),
    };
    assert!(refused.contains("another keyflow server"), "{refused}");
    // The first server is unaffected.
    assert_json(
        app.list_flows(Some(&app.new_key("after").await), None)
            .await,
        StatusCode::OK,
    )
    .await;
}
