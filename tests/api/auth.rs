//! Who may call: API keys, tokens, tenants, revocation and the throttle.

use reqwest::{Method, StatusCode};

use crate::helpers::{
    TestApp, assert_error, assert_json, assert_unauthorized, both_backends, show,
};

both_backends! {
    key_with_its_own_tenant_is_accepted,
    key_without_manywhotenant_is_accepted_for_its_tenant,
    no_credentials_is_unauthorized,
    header_names_are_case_insensitive,
    key_sent_with_another_tenants_id_is_unauthorized,
    a_one_character_typo_anywhere_is_rejected_without_touching_storage,
    a_well_formed_key_never_issued_here_is_looked_up_and_refused,
    deleted_key_fails_on_the_very_next_request,
    a_token_works_raw_and_as_bearer,
    a_bad_token_is_unauthorized,
    a_token_with_a_tenant_of_the_user_picks_that_tenant,
    a_token_with_a_tenant_the_user_is_not_in_is_unauthorized,
    wrong_password_or_unknown_email_is_unauthorized,
    failed_sign_ins_are_throttled_even_for_the_right_password,
    failed_key_checks_are_throttled_too,
    the_failure_budget_is_the_client_address_own,
    a_repeated_key_check_is_served_from_the_cache,
}

const LOOKUPS: &str = "keyflow_key_store_lookups_total";
const CHECKSUM_REJECTIONS: &str = "keyflow_key_checksum_rejections_total";

/// `key` with the character at `i` replaced by another one of the same alphabet.
fn change_one_char(key: &str, i: usize) -> String {
    let mut bytes = key.as_bytes().to_vec();
    bytes[i] = match bytes[i] {
        b'a' => b'b',
        b'_' => b'-',
        _ => b'a',
    };
    String::from_utf8(bytes).unwrap()
}

async fn key_with_its_own_tenant_is_accepted() {
    let app = TestApp::spawn().await;
    let key = app.new_key("k").await;
    let response = app.list_flows(Some(&key), Some(&app.tenant_id)).await;
    assert_json(response, StatusCode::OK).await;
}

async fn key_without_manywhotenant_is_accepted_for_its_tenant() {
    let app = TestApp::spawn().await;
    let key = app.new_key("k").await;
    let flows = assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await;
    assert!(
        !flows.as_array().unwrap().is_empty(),
        "Example's sample flow is missing"
    );
}

async fn no_credentials_is_unauthorized() {
    let app = TestApp::spawn().await;
    assert_unauthorized(app.list_flows(None, None).await).await;
    assert_unauthorized(app.list_flows(None, Some(&app.tenant_id)).await).await;
}

async fn header_names_are_case_insensitive() {
    let app = TestApp::spawn().await;
    let key = app.new_key("k").await;
    let head = format!(
        "GET /api/draw/1/flow HTTP/1.1\r\nX-Boomi-Flow-Api-Key: {key}\r\nManyWhoTenant: {}",
        app.tenant_id
    );
    let answer = app.raw(&head).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "got: {answer}");
    assert!(answer.contains("Hello World"));
}

async fn key_sent_with_another_tenants_id_is_unauthorized() {
    let app = TestApp::spawn().await;
    let other = app.second_tenant("Other").await;
    let key = app.new_key("k").await;
    assert_unauthorized(app.list_flows(Some(&key), Some(&other)).await).await;
}

async fn a_one_character_typo_anywhere_is_rejected_without_touching_storage() {
    let app = TestApp::spawn().await;
    let key = app.new_key("k").await;
    assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await;
    let lookups = app.metric(LOOKUPS).await;
    let rejections = app.metric(CHECKSUM_REJECTIONS).await;

    for i in 0..key.len() {
        let typo = change_one_char(&key, i);
        assert_ne!(typo, key);
        let response = app.list_flows(Some(&typo), None).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "typo at {i}: {typo}"
        );
    }

    assert_eq!(
        app.metric(LOOKUPS).await,
        lookups,
        "a typo reached the key store"
    );
    // Every one of them, the prefix's included, was refused by the format or the checksum.
    let rejected = app.metric(CHECKSUM_REJECTIONS).await - rejections;
    assert_eq!(
        rejected,
        key.len() as u64,
        "checksum rejections for {} typos",
        key.len()
    );
}

async fn a_well_formed_key_never_issued_here_is_looked_up_and_refused() {
    let app = TestApp::spawn().await;
    let elsewhere = TestApp::spawn().await;
    let foreign = elsewhere.new_key("k").await;
    let lookups = app.metric(LOOKUPS).await;

    assert_unauthorized(app.list_flows(Some(&foreign), None).await).await;

    assert!(
        app.metric(LOOKUPS).await > lookups,
        "a valid checksum must reach the store"
    );
}

async fn deleted_key_fails_on_the_very_next_request() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let key = app.new_key_for(&token, "short-lived", &app.tenant_id).await;
    assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await;

    let deleted = app
        .with_token(
            Method::DELETE,
            "/api/admin/1/users/me/keys/short-lived",
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);

    assert_unauthorized(app.list_flows(Some(&key), None).await).await;
}

#[tokio::test]
async fn removing_the_owner_from_the_tenant_stops_their_key_before_the_cli_exits() {
    let app = TestApp::spawn().await;
    let home = app.create_tenant("Bob's home").await;
    app.create_user("bob@example.com", "bob's long password", &home)
        .await;
    app.add_user("bob@example.com", &app.tenant_id).await;
    let token = app.login("bob@example.com", "bob's long password").await;
    let key = app.new_key_for(&token, "bob", &app.tenant_id).await;
    let flows = app.list_flows(Some(&key), Some(&app.tenant_id)).await;
    assert_json(flows, StatusCode::OK).await;

    let args = [
        "user",
        "remove",
        "--email",
        "bob@example.com",
        "--tenant",
        &app.tenant_id,
    ];
    let out = app.cli(&args, None).await;
    assert!(out.status.success(), "user remove failed: {}", show(&out));

    assert_unauthorized(app.list_flows(Some(&key), None).await).await;
    assert_unauthorized(app.list_flows(Some(&key), Some(&app.tenant_id)).await).await;
}

/// README: a revocation by another process reaches the running server "in any case within
/// `--revocation-poll-ms`". With the control socket gone, the command line cannot tell the
/// server, and only the poll of the revocation epoch can drop the cached key.
#[tokio::test]
async fn without_the_control_socket_a_removal_still_stops_the_key_within_the_poll() {
    let poll = std::time::Duration::from_millis(200);
    let app = TestApp::spawn_with(|config| config.revocation_poll = poll).await;
    app.create_user("bob@example.com", "bob's long password", &app.tenant_id)
        .await;
    let token = app.login("bob@example.com", "bob's long password").await;
    let key = app.new_key_for(&token, "bob", &app.tenant_id).await;
    // Twice: the second answer comes from the key cache, which only a revocation empties.
    for _ in 0..2 {
        assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await;
    }

    std::fs::remove_file(app.data_dir().join("keyflow.sock")).unwrap();
    let args = [
        "user",
        "remove",
        "--email",
        "bob@example.com",
        "--tenant",
        &app.tenant_id,
    ];
    let out = app.cli(&args, None).await;
    assert!(out.status.success(), "user remove failed: {}", show(&out));

    // Well within the ten minutes a cached key would otherwise live.
    let deadline = tokio::time::Instant::now() + poll * 50;
    loop {
        let response = app.list_flows(Some(&key), None).await;
        if response.status() == StatusCode::UNAUTHORIZED {
            assert_unauthorized(response).await;
            break;
        }
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the removed user's key still works {:?} after the removal",
            poll * 50
        );
        tokio::time::sleep(poll / 4).await;
    }
}

async fn a_token_works_raw_and_as_bearer() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    for value in [token.clone(), format!("Bearer {token}")] {
        let response = app
            .client
            .get(app.url("/api/draw/1/flow"))
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        let flows = assert_json(response, StatusCode::OK).await;
        assert!(flows.as_array().is_some());
    }
}

async fn a_bad_token_is_unauthorized() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    for value in [
        "not-a-token".to_string(),
        format!("Bearer {token}x"),
        "Bearer ".into(),
    ] {
        let response = app
            .client
            .get(app.url("/api/draw/1/flow"))
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        assert_unauthorized(response).await;
    }
}

async fn a_token_with_a_tenant_of_the_user_picks_that_tenant() {
    let app = TestApp::spawn().await;
    let other = app.second_tenant("Other").await;
    let token = app.admin_token().await;
    let response = app
        .with_token(Method::GET, "/api/draw/1/flow", &token)
        .header("manywhotenant", &other)
        .send()
        .await
        .unwrap();
    let flows = assert_json(response, StatusCode::OK).await;
    assert_eq!(
        flows,
        serde_json::json!([]),
        "Other has no flows, Example has one"
    );
}

async fn a_token_with_a_tenant_the_user_is_not_in_is_unauthorized() {
    let app = TestApp::spawn().await;
    let stranger = app.create_tenant("Stranger").await;
    let token = app.admin_token().await;
    let response = app
        .with_token(Method::GET, "/api/draw/1/flow", &token)
        .header("manywhotenant", &stranger)
        .send()
        .await
        .unwrap();
    assert_unauthorized(response).await;
}

async fn wrong_password_or_unknown_email_is_unauthorized() {
    let app = TestApp::spawn().await;
    assert_unauthorized(app.try_login(&app.admin_email, "wrong password!").await).await;
    assert_unauthorized(
        app.try_login("nobody@example.com", &app.admin_password)
            .await,
    )
    .await;
}

async fn failed_sign_ins_are_throttled_even_for_the_right_password() {
    let app = TestApp::spawn_with(|cfg| cfg.auth_failure_burst = 3).await;
    for attempt in 1..=3 {
        let response = app.try_login(&app.admin_email, "wrong password!").await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    let throttled = app.try_login(&app.admin_email, "wrong password!").await;
    let retry_after = throttled.headers().get("retry-after").cloned();
    assert_error(throttled, StatusCode::TOO_MANY_REQUESTS).await;
    let seconds: u64 = retry_after
        .expect("a 429 carries Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After is in seconds");
    assert!(seconds >= 1);

    let right = app.try_login(&app.admin_email, &app.admin_password).await;
    assert_error(right, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(app.metric("keyflow_throttled_total").await >= 2);
}

async fn failed_key_checks_are_throttled_too() {
    let app = TestApp::spawn_with(|cfg| cfg.auth_failure_burst = 3).await;
    let bad = format!("kf_{}", "a".repeat(32));
    for _ in 0..3 {
        assert_unauthorized(app.list_flows(Some(&bad), None).await).await;
    }
    let throttled = app.list_flows(Some(&bad), None).await;
    assert!(throttled.headers().contains_key("retry-after"));
    assert_error(throttled, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(app.metric("keyflow_auth_failures_total").await >= 3);
}

async fn the_failure_budget_is_the_client_address_own() {
    let app = TestApp::spawn_with(|cfg| cfg.auth_failure_burst = 2).await;
    let bad = format!("kf_{}", "a".repeat(32));
    for _ in 0..3 {
        app.list_flows(Some(&bad), None).await;
    }
    assert_error(
        app.list_flows(Some(&bad), None).await,
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;
    // Another client (another loopback address) still has its whole budget.
    let other = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    let answer = other
        .get(app.url("/api/draw/1/flow"))
        .header("x-boomi-flow-api-key", &bad)
        .send()
        .await
        .unwrap();
    assert_unauthorized(answer).await;
}

async fn a_repeated_key_check_is_served_from_the_cache() {
    let app = TestApp::spawn().await;
    let key = app.new_key("hot").await;
    assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await;
    let (hits, lookups) = (
        app.metric("keyflow_key_cache_hits_total").await,
        app.metric(LOOKUPS).await,
    );
    assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await;
    assert_eq!(app.metric("keyflow_key_cache_hits_total").await, hits + 1);
    assert_eq!(app.metric(LOOKUPS).await, lookups);
}
