//! Per-key rate limits: a burst, then 429 with `Retry-After`; the `RateLimit-*` headers on
//! every answer to a key or a token bound to one (the early answer of the flow list and the
//! errors after authentication included); a tenant's default and bound; a key's own limit
//! within that bound.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::browser::{Browser, Page};
use crate::helpers::{TestApp, assert_error, assert_json, both_backends};

both_backends! {
    a_key_past_its_burst_is_answered_429_with_retry_after_and_the_headers,
    every_answer_to_a_key_or_its_token_carries_the_headers,
    a_key_rate_above_the_tenant_bound_is_unprocessable,
    the_tenant_default_applies_to_keys_without_their_own,
    the_settings_page_gives_a_key_its_own_limit_within_the_bound,
}

const KEYS: &str = "/api/admin/1/users/me/keys";
const TENANT: &str = "/api/admin/1/tenant";
const FLOW: &str = "/api/draw/1/flow";

/// A server whose keys get `per_second` requests a second with bursts of `burst` by default.
async fn limited(per_second: u32, burst: u32) -> TestApp {
    TestApp::spawn_with(|config| {
        config.key_requests_per_second = per_second;
        config.key_burst = burst;
    })
    .await
}

/// The three headers of an answer, as numbers; `None` when any is missing.
fn quota(response: &Response) -> Option<(u64, u64, u64)> {
    let read =
        |name: &str| -> Option<u64> { response.headers().get(name)?.to_str().ok()?.parse().ok() };
    Some((
        read("ratelimit-limit")?,
        read("ratelimit-remaining")?,
        read("ratelimit-reset")?,
    ))
}

async fn create_key(app: &TestApp, token: &str, body: Value) -> Response {
    app.with_token(Method::POST, KEYS, token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn set_tenant_limit(app: &TestApp, token: &str, limit: Value) -> Value {
    let response = app
        .with_token(Method::POST, TENANT, token)
        .json(&json!({ "tenantSettings": { "apiKeyRateLimit": limit } }))
        .send()
        .await
        .unwrap();
    assert_json(response, StatusCode::OK).await
}

async fn a_key_past_its_burst_is_answered_429_with_retry_after_and_the_headers() {
    let app = limited(1, 3).await;
    let key = app.new_key("limited").await;
    for remaining in [2, 1, 0] {
        let response = app.list_flows(Some(&key), None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let (limit, left, reset) = quota(&response).expect("the three headers");
        assert_eq!((limit, left), (3, remaining));
        assert!((1..=3).contains(&reset), "{reset}");
    }
    let refused = app.list_flows(Some(&key), None).await;
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(quota(&refused).map(|(l, r, _)| (l, r)), Some((3, 0)));
    let message = assert_error(refused, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(message.contains("rate limit"), "{message}");
    assert!(!message.contains(&key), "no secret in the message");
    // The same through the router (a query string): refused, not answered.
    let routed = app
        .get_flows("/api/draw/1/flow?page=1", Some(&key), None)
        .await;
    assert_eq!(routed.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(routed.headers().contains_key("retry-after"));
    assert!(app.metric("keyflow_rate_limited_total").await >= 2);
    // Another key has a bucket of its own.
    let other = app.new_key("other").await;
    assert_eq!(
        app.list_flows(Some(&other), None).await.status(),
        StatusCode::OK
    );
}

async fn every_answer_to_a_key_or_its_token_carries_the_headers() {
    // A deep bucket that refills slowly: what the key's requests took stays taken.
    let app = limited(1, 100).await;
    let key = app.new_key("headers").await;
    let hits = app.metric("keyflow_key_cache_hits_total").await;
    // The plain flow list, answered early from the caches once both hold it.
    for _ in 0..3 {
        let response = app.list_flows(Some(&key), None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(quota(&response).is_some(), "{:?}", response.headers());
    }
    assert!(app.metric("keyflow_key_cache_hits_total").await > hits);
    // An error after authentication: a flow that does not exist.
    let missing = app
        .get_flows(
            "/api/draw/1/flow/6b1c1d2e-0000-4000-8000-000000000000",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(quota(&missing).is_some());
    // An unknown path under /api/ with a key, and a refusal of key management.
    let forbidden = app.with_key(Method::GET, KEYS, &key).send().await.unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert!(quota(&forbidden).is_some());
    // A token the key obtained counts against the key.
    let path = format!("/api/draw/1/authentication/{}", app.tenant_id);
    let token = app.with_key(Method::GET, &path, &key).send().await.unwrap();
    assert!(quota(&token).is_some());
    let token = assert_json(token, StatusCode::OK).await;
    let token = token.as_str().unwrap();
    let with_token = app
        .with_token(Method::GET, FLOW, token)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), StatusCode::OK);
    let (_, remaining, _) = quota(&with_token).expect("the key's token carries them");
    // Three lists, the 404, the 403 and the token's request came before: the key's bucket.
    assert!(remaining <= 100 - 7 + 1, "the key's bucket: {remaining}");
    // No key, no headers: a password sign-in's token, and a refused key.
    let admin = app.admin_token().await;
    let signed_in = app
        .with_token(Method::GET, FLOW, &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    assert!(quota(&signed_in).is_none());
    let refused = app.list_flows(Some("kf_not_a_key"), None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(quota(&refused).is_none());
}

async fn a_key_rate_above_the_tenant_bound_is_unprocessable() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let tenant = app.tenant_id.clone();
    // Without a tenant bound, the server's default (100/s, burst 200) bounds a key's own.
    let above = json!({ "name": "fast", "tenantId": tenant,
        "rateLimit": { "requestsPerSecond": 101, "burst": 10 } });
    let message = assert_error(
        create_key(&app, &token, above).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(message.contains("rateLimit"), "{message}");

    let tenant_answer = set_tenant_limit(
        &app,
        &token,
        json!({ "requestsPerSecond": 500, "burst": 1000 }),
    )
    .await;
    assert_eq!(
        tenant_answer["tenantSettings"]["apiKeyRateLimit"],
        json!({ "requestsPerSecond": 500, "burst": 1000 })
    );
    for over in [
        json!({ "requestsPerSecond": 501, "burst": 1 }),
        json!({ "requestsPerSecond": 1, "burst": 1001 }),
    ] {
        let body = json!({ "name": "over", "tenantId": tenant, "rateLimit": over });
        assert_error(
            create_key(&app, &token, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    for wrong in [
        json!({ "requestsPerSecond": 0, "burst": 1 }),
        json!({ "burst": 1 }),
        json!(5),
    ] {
        let body = json!({ "name": "wrong", "tenantId": tenant, "rateLimit": wrong });
        let status = create_key(&app, &token, body).await.status();
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{status}"
        );
    }
    let within = json!({ "name": "within", "tenantId": tenant,
        "rateLimit": { "requestsPerSecond": 500, "burst": 1000 } });
    let created = assert_json(create_key(&app, &token, within).await, StatusCode::OK).await;
    assert_eq!(
        created["rateLimit"],
        json!({ "requestsPerSecond": 500, "burst": 1000 })
    );
    let list = app.key_list(&token).await;
    assert_eq!(list.len(), 1, "nothing refused was stored");
    assert_eq!(list[0]["rateLimit"]["burst"], 1000);
    // A tenant setting out of bounds is refused, and null goes back to the server's default.
    let response = app
        .with_token(Method::POST, TENANT, &token)
        .json(&json!({ "tenantSettings": { "apiKeyRateLimit": { "requestsPerSecond": 0, "burst": 1 } } }))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let cleared = set_tenant_limit(&app, &token, Value::Null).await;
    assert_eq!(cleared["tenantSettings"]["apiKeyRateLimit"], Value::Null);
}

async fn the_tenant_default_applies_to_keys_without_their_own() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let plain = app.new_key_for(&token, "plain", &app.tenant_id).await;
    // Cached with the server's default first: the tenant's change reaches the cached grant.
    let before = app.list_flows(Some(&plain), None).await;
    assert_eq!(quota(&before).map(|q| q.0), Some(200));
    set_tenant_limit(&app, &token, json!({ "requestsPerSecond": 2, "burst": 4 })).await;
    let after = app.list_flows(Some(&plain), None).await;
    assert_eq!(quota(&after).map(|q| q.0), Some(4));
    let own = json!({ "name": "own", "tenantId": app.tenant_id,
        "rateLimit": { "requestsPerSecond": 1, "burst": 2 } });
    let own = assert_json(create_key(&app, &token, own).await, StatusCode::OK).await;
    let own = own["apiKey"].as_str().unwrap();
    let response = app.list_flows(Some(own), None).await;
    assert_eq!(quota(&response).map(|q| q.0), Some(2));
    // The list shows a key's own limit, and null for the tenant's default.
    let list = app.key_list(&token).await;
    let shown = |name: &str| list.iter().find(|k| k["name"] == name).unwrap()["rateLimit"].clone();
    assert_eq!(shown("plain"), Value::Null);
    assert_eq!(shown("own"), json!({ "requestsPerSecond": 1, "burst": 2 }));
}

/// Posts the Generate form with the rate limit's two fields as given.
async fn generate(browser: &mut Browser, app: &TestApp, name: &str, rate: (&str, &str)) -> Page {
    let settings = browser.get("/settings").await;
    browser
        .post(
            "/settings/keys",
            &[
                ("csrf", &settings.csrf()),
                ("name", name),
                ("tenant", &app.tenant_id),
                ("rate_per_second", rate.0),
                ("rate_burst", rate.1),
            ],
        )
        .await
}

async fn the_settings_page_gives_a_key_its_own_limit_within_the_bound() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let mut browser = Browser::signed_in(&app).await;
    let settings = browser.get("/settings").await;
    assert!(settings.html.contains(r#"name="rate_per_second""#));
    assert!(settings.html.contains(r#"name="rate_burst""#));

    let page = generate(&mut browser, &app, "own", ("3", "6")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let page = generate(&mut browser, &app, "default", ("", "")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let list = app.key_list(&token).await;
    let shown = |name: &str| list.iter().find(|k| k["name"] == name).unwrap()["rateLimit"].clone();
    assert_eq!(shown("own"), json!({ "requestsPerSecond": 3, "burst": 6 }));
    assert_eq!(shown("default"), Value::Null);

    // One figure alone, or one out of range: the form again, the error beside the field,
    // what was typed kept.
    for (rate, kept) in [
        (("7", ""), r#"value="7""#),
        (("", "9"), r#"value="9""#),
        (("0", "5"), r#"value="0""#),
        (("5", "1000001"), r#"value="1000001""#),
        (("many", "5"), r#"value="many""#),
    ] {
        let page = generate(&mut browser, &app, "wrong", rate).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{rate:?}");
        assert!(
            page.html.contains(r#"id="key-rate-error""#),
            "{rate:?}: {}",
            page.html
        );
        assert!(page.html.contains(kept), "{rate:?}: {}", page.html);
    }

    // Above the tenant's bound: the rule refuses it, beside the field.
    set_tenant_limit(&app, &token, json!({ "requestsPerSecond": 5, "burst": 10 })).await;
    let page = generate(&mut browser, &app, "over", ("6", "10")).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    let error = page
        .html
        .split(r#"id="key-rate-error">"#)
        .nth(1)
        .unwrap_or_else(|| panic!("no error beside the field: {}", page.html));
    assert!(
        error.starts_with("The rate limit must be within"),
        "{error}"
    );
    assert!(
        error.contains("5 requests a second with a burst of 10"),
        "{error}"
    );
    assert_eq!(
        app.key_list(&token).await.len(),
        2,
        "nothing refused was stored"
    );
}
