//! Keys that expire and rotate: `expiresAt` on create, the tenant's maximum key lifetime,
//! the 401 that says a key expired or was rotated, and `POST …/keys/{name}/rotate`.

use std::time::Duration;

use keyflow::domain::Timestamp;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{
    Backend, TestApp, assert_error, assert_json, assert_unauthorized, both_backends, enc,
    is_key_format,
};

both_backends! {
    expires_at_is_kept_answered_and_listed,
    a_past_or_unreadable_expiry_is_unprocessable,
    an_expired_key_says_so_naming_its_preview_and_is_audited_once,
    a_key_bound_token_ends_with_its_key,
    the_tenant_maximum_refuses_never_and_longer_keys,
    lowering_the_maximum_caps_existing_keys_without_ending_them,
    a_rotation_answers_a_new_value_under_the_same_name_and_settings,
    the_old_value_works_for_the_overlap_then_says_it_was_rotated,
    rotating_twice_keeps_the_first_old_values_end,
    deleting_a_rotated_key_ends_every_value,
    rotation_refuses_bad_overlaps_unknown_names_and_api_keys,
    the_page_offers_expiry_and_rotate_and_marks_keys_expiring_soon,
    the_command_line_sets_the_maximum_by_the_same_rule,
}

const KEYS: &str = "/api/admin/1/users/me/keys";
const DAY: u64 = 24 * 60 * 60;

fn in_days(days: u64) -> Timestamp {
    Timestamp::now().plus(Duration::from_secs(days * DAY))
}

async fn create(app: &TestApp, token: &str, body: Value) -> Response {
    app.with_token(Method::POST, KEYS, token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn rotate(app: &TestApp, token: &str, name: &str, body: Option<Value>) -> Response {
    let path = format!("{KEYS}/{}/rotate", enc(name));
    let mut request = app.with_token(Method::POST, &path, token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn use_key(app: &TestApp, key: &str) -> Response {
    app.list_flows(Some(key), None).await
}

fn preview(key: &str) -> String {
    format!("kf_…{}", &key[key.len() - 4..])
}

/// Runs a statement on the server's database, beside the server (the test stands in for time
/// passing).
async fn beside(app: &TestApp, sql: &str) {
    match app.backend() {
        Backend::Postgres => {
            let mut db = app.postgres().await;
            sqlx::raw_sql(sql).execute(&mut db).await.unwrap();
        }
        Backend::Sqlite => {
            use sqlx::Connection;
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(app.data_dir().join("keyflow.db"))
                .busy_timeout(Duration::from_secs(10));
            let mut db = sqlx::SqliteConnection::connect_with(&options)
                .await
                .unwrap();
            sqlx::raw_sql(sql).execute(&mut db).await.unwrap();
            db.close().await.unwrap();
        }
    }
}

/// One count read beside the server.
async fn count(app: &TestApp, sql: &str) -> i64 {
    match app.backend() {
        Backend::Postgres => {
            let mut db = app.postgres().await;
            sqlx::query_scalar(sql).fetch_one(&mut db).await.unwrap()
        }
        Backend::Sqlite => {
            let mut db = app.database().await;
            sqlx::query_scalar(sql).fetch_one(&mut db).await.unwrap()
        }
    }
}

const LOOKUPS: &str = "keyflow_key_store_lookups_total";

const PAST: &str = "2001-02-03T04:05:06.000000Z";

async fn set_tenant_max(app: &TestApp, token: &str, days: Value) -> Response {
    app.with_token(Method::POST, "/api/admin/1/tenant", token)
        .header("manywhotenant", &app.tenant_id)
        .json(&json!({ "tenantSettings": { "maxApiKeyLifetimeDays": days } }))
        .send()
        .await
        .unwrap()
}

fn listed<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter().find(|k| k["name"] == name).expect("listed")
}

fn moment(value: &Value) -> Timestamp {
    Timestamp::parse(value.as_str().expect("a moment")).unwrap()
}

async fn expires_at_is_kept_answered_and_listed() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let at = in_days(10);
    let body = json!({"name": "brief", "tenantId": app.tenant_id, "expiresAt": at.to_string()});
    let created = assert_json(create(&app, &token, body).await, StatusCode::OK).await;
    assert_eq!(created["expiresAt"], at.to_string());
    assert_eq!(created["rotatedAt"], Value::Null);
    let forever = app.new_key_for(&token, "forever", &app.tenant_id).await;
    // Blank is never, as absent and null are (tools that send every field send it empty).
    let blank = json!({"name": "blank", "tenantId": app.tenant_id, "expiresAt": " "});
    let blank = assert_json(create(&app, &token, blank).await, StatusCode::OK).await;
    assert_eq!(blank["expiresAt"], Value::Null);
    let list = app.key_list(&token).await;
    assert_eq!(listed(&list, "brief")["expiresAt"], at.to_string());
    assert_eq!(listed(&list, "forever")["expiresAt"], Value::Null);
    let key = created["apiKey"].as_str().unwrap();
    assert_json(use_key(&app, key).await, StatusCode::OK).await;
    assert_json(use_key(&app, &forever).await, StatusCode::OK).await;
}

async fn a_past_or_unreadable_expiry_is_unprocessable() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let body = json!({"name": "old", "tenantId": app.tenant_id, "expiresAt": PAST});
    let message = assert_error(
        create(&app, &token, body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        message.contains("expiresAt") && message.contains("past"),
        "{message}"
    );
    for bad in [json!("tomorrow"), json!(12), json!("2030-13-01T00:00:00Z")] {
        let body = json!({"name": "bad", "tenantId": app.tenant_id, "expiresAt": bad});
        assert_error(
            create(&app, &token, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    assert!(app.key_list(&token).await.is_empty(), "nothing was stored");
}

async fn an_expired_key_says_so_naming_its_preview_and_is_audited_once() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let key = app.new_key_for(&token, "ending", &app.tenant_id).await;
    // Time passes: the key's expiry is behind us (set beside the server, before any use).
    beside(
        &app,
        &format!("UPDATE api_keys SET expires_at = '{PAST}' WHERE name = 'ending'"),
    )
    .await;
    for _ in 0..3 {
        let message = assert_unauthorized(use_key(&app, &key).await).await;
        assert!(message.contains("expired"), "{message}");
        assert!(message.contains(&preview(&key)), "{message}");
        assert!(message.contains("2001-02-03"), "{message}");
        assert!(!message.contains(&key), "the value is never in an answer");
    }
    let events = "SELECT COUNT(*) FROM audit_events WHERE action = 'key.expired' \
                  AND subject = 'ending'";
    assert_eq!(count(&app, events).await, 1, "recorded once per key");
    // A made-up key with a good checksum still gets the one refusal that tells nothing.
    let other = app.new_key_for(&token, "other", &app.tenant_id).await;
    app.with_token(Method::DELETE, &format!("{KEYS}/other"), &token)
        .send()
        .await
        .unwrap();
    let message = assert_unauthorized(use_key(&app, &other).await).await;
    assert!(!message.contains("expired"), "{message}");
}

async fn a_key_bound_token_ends_with_its_key() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let at = in_days(1);
    let body = json!({"name": "tool", "tenantId": app.tenant_id, "expiresAt": at.to_string()});
    let created = assert_json(create(&app, &token, body).await, StatusCode::OK).await;
    let key = created["apiKey"].as_str().unwrap();
    let path = format!("/api/draw/1/authentication/{}", app.tenant_id);
    let response = app.with_key(Method::GET, &path, key).send().await.unwrap();
    let key_token = assert_json(response, StatusCode::OK).await;
    let key_token = key_token.as_str().unwrap().to_string();
    let flows = || async {
        app.with_token(Method::GET, "/api/draw/1/flow", &key_token)
            .send()
            .await
            .unwrap()
    };
    assert_json(flows().await, StatusCode::OK).await;
    beside(
        &app,
        &format!("UPDATE api_keys SET expires_at = '{PAST}' WHERE name = 'tool'"),
    )
    .await;
    // Behind the server's back, which caches the token's grant: dropped as an announced
    // change would drop it (a cached grant's own end is `auth::credential_cache`'s tests').
    app.state.forget_credentials();
    assert_unauthorized(flows().await).await;
}

async fn the_tenant_maximum_refuses_never_and_longer_keys() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let set = assert_json(
        set_tenant_max(&app, &token, json!(30)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(set["tenantSettings"]["maxApiKeyLifetimeDays"], 30);
    let tenant = app
        .with_token(Method::GET, "/api/admin/1/tenant", &token)
        .header("manywhotenant", &app.tenant_id)
        .send()
        .await
        .unwrap();
    let tenant = assert_json(tenant, StatusCode::OK).await;
    assert_eq!(tenant["tenantSettings"]["maxApiKeyLifetimeDays"], 30);

    for never in [json!(null), json!("")] {
        let never = json!({"name": "never", "tenantId": app.tenant_id, "expiresAt": never});
        let message = assert_error(
            create(&app, &token, never).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(message.contains("30 days"), "{message}");
    }
    let long = json!({"name": "long", "tenantId": app.tenant_id,
        "expiresAt": in_days(31).to_string()});
    let message = assert_error(
        create(&app, &token, long).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(message.contains("maximum"), "{message}");
    let within = json!({"name": "within", "tenantId": app.tenant_id,
        "expiresAt": in_days(29).to_string()});
    assert_json(create(&app, &token, within).await, StatusCode::OK).await;

    for bad in [json!(-1), json!(3651), json!("30"), json!(1.5)] {
        assert_error(
            set_tenant_max(&app, &token, bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    // Another settings update that does not name it leaves the maximum as it is.
    let other = app
        .with_token(Method::POST, "/api/admin/1/tenant", &token)
        .header("manywhotenant", &app.tenant_id)
        .json(&json!({ "tenantSettings": { "themes": true } }))
        .send()
        .await
        .unwrap();
    let other = assert_json(other, StatusCode::OK).await;
    assert_eq!(other["tenantSettings"]["maxApiKeyLifetimeDays"], 30);
    // Null clears it: never is allowed again.
    let cleared = assert_json(
        set_tenant_max(&app, &token, Value::Null).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        cleared["tenantSettings"]["maxApiKeyLifetimeDays"],
        Value::Null
    );
    let never = json!({"name": "never", "tenantId": app.tenant_id});
    assert_json(create(&app, &token, never).await, StatusCode::OK).await;
}

async fn lowering_the_maximum_caps_existing_keys_without_ending_them() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let forever = app.new_key_for(&token, "forever", &app.tenant_id).await;
    let soon = in_days(2);
    let body = json!({"name": "soon", "tenantId": app.tenant_id, "expiresAt": soon.to_string()});
    assert_json(create(&app, &token, body).await, StatusCode::OK).await;
    let body = json!({"name": "late", "tenantId": app.tenant_id,
        "expiresAt": in_days(60).to_string()});
    assert_json(create(&app, &token, body).await, StatusCode::OK).await;
    // Cached before the change.
    assert_json(use_key(&app, &forever).await, StatusCode::OK).await;

    let before = Timestamp::now();
    assert_json(
        set_tenant_max(&app, &token, json!(30)).await,
        StatusCode::OK,
    )
    .await;
    let after = Timestamp::now();
    let list = app.key_list(&token).await;
    let window = |at: Timestamp| {
        let cap = |t: Timestamp| t.plus(Duration::from_secs(30 * DAY));
        cap(before) <= at && at <= cap(after)
    };
    for capped in ["forever", "late"] {
        let at = moment(&listed(&list, capped)["expiresAt"]);
        assert!(window(at), "{capped}: {at} is not now + 30 days");
    }
    assert_eq!(listed(&list, "soon")["expiresAt"], soon.to_string(), "kept");
    // Not ended: the capped key still works, and its cached grant was dropped (the next use
    // asks storage, which has the capped expiry).
    let lookups = app.metric(LOOKUPS).await;
    assert_json(use_key(&app, &forever).await, StatusCode::OK).await;
    assert_eq!(app.metric(LOOKUPS).await, lookups + 1, "looked up again");
    // Clearing the maximum later does not lengthen the capped keys again.
    assert_json(
        set_tenant_max(&app, &token, Value::Null).await,
        StatusCode::OK,
    )
    .await;
    let list = app.key_list(&token).await;
    assert!(window(moment(&listed(&list, "forever")["expiresAt"])));
}

async fn a_rotation_answers_a_new_value_under_the_same_name_and_settings() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let at = in_days(20);
    let body = json!({"name": "svc", "tenantId": app.tenant_id, "expiresAt": at.to_string()});
    let created = assert_json(create(&app, &token, body).await, StatusCode::OK).await;
    let old = created["apiKey"].as_str().unwrap().to_string();
    let rotated = rotate(&app, &token, "svc", Some(json!({"overlapSeconds": 3600}))).await;
    let rotated = assert_json(rotated, StatusCode::OK).await;
    let new = rotated["apiKey"].as_str().unwrap();
    assert!(is_key_format(new), "{new}");
    assert_ne!(new, old);
    assert_eq!(rotated["name"], "svc");
    assert_eq!(rotated["tenantId"], app.tenant_id.as_str());
    assert_eq!(rotated["createdAt"], created["createdAt"]);
    assert_eq!(rotated["expiresAt"], at.to_string());
    assert!(rotated["rotatedAt"].is_string(), "{rotated}");
    let list = app.key_list(&token).await;
    assert_eq!(list.len(), 1);
    assert_eq!(listed(&list, "svc")["rotatedAt"], rotated["rotatedAt"]);
    assert_eq!(
        listed(&list, "svc")["apiKey"],
        preview(new),
        "the list shows the new preview"
    );
    // The sealed copy is the new value's.
    let path = format!("{KEYS}/svc/reveal");
    let revealed = app
        .with_token(Method::POST, &path, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(assert_json(revealed, StatusCode::OK).await["apiKey"], new);
    assert_json(use_key(&app, new).await, StatusCode::OK).await;
    let events = "SELECT COUNT(*) FROM audit_events WHERE action = 'key.rotated' \
                  AND subject = 'svc'";
    assert_eq!(count(&app, events).await, 1);
}

async fn the_old_value_works_for_the_overlap_then_says_it_was_rotated() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    // Overlap: both values work.
    let old = app.new_key_for(&token, "overlapping", &app.tenant_id).await;
    assert_json(use_key(&app, &old).await, StatusCode::OK).await;
    let rotated = rotate(
        &app,
        &token,
        "overlapping",
        Some(json!({"overlapSeconds": 3600})),
    );
    let rotated = assert_json(rotated.await, StatusCode::OK).await;
    let new = rotated["apiKey"].as_str().unwrap().to_string();
    assert_json(use_key(&app, &old).await, StatusCode::OK).await;
    assert_json(use_key(&app, &new).await, StatusCode::OK).await;
    // The hour passes (beside the server; the old value's grant is looked up again after a
    // rotation, so this is what storage says).
    rotate(
        &app,
        &token,
        "overlapping",
        Some(json!({"overlapSeconds": 3600})),
    )
    .await;
    beside(
        &app,
        &format!("UPDATE api_key_previous SET valid_until = '{PAST}'"),
    )
    .await;
    let message = assert_unauthorized(use_key(&app, &old).await).await;
    assert!(
        message.contains("rotated") && message.contains(&preview(&old)),
        "{message}"
    );
    assert!(!message.contains(&old));

    // No overlap: the old value ends at once, though it was cached a moment ago.
    let old = app.new_key_for(&token, "at-once", &app.tenant_id).await;
    assert_json(use_key(&app, &old).await, StatusCode::OK).await;
    let rotated = assert_json(rotate(&app, &token, "at-once", None).await, StatusCode::OK).await;
    let message = assert_unauthorized(use_key(&app, &old).await).await;
    assert!(
        message.contains("rotated") && message.contains(&preview(&old)),
        "{message}"
    );
    let new = rotated["apiKey"].as_str().unwrap();
    assert_json(use_key(&app, new).await, StatusCode::OK).await;
    let events = "SELECT COUNT(*) FROM audit_events WHERE action = 'key.expired'";
    assert_eq!(
        count(&app, events).await,
        0,
        "a rotated value is not an expired key"
    );
}

async fn rotating_twice_keeps_the_first_old_values_end() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let first = app.new_key_for(&token, "twice", &app.tenant_id).await;
    let rotated = rotate(
        &app,
        &token,
        "twice",
        Some(json!({"overlapSeconds": 86400})),
    );
    let second = assert_json(rotated.await, StatusCode::OK).await;
    let second = second["apiKey"].as_str().unwrap().to_string();
    let third = rotate(&app, &token, "twice", Some(json!({"overlapSeconds": 0})));
    let third = assert_json(third.await, StatusCode::OK).await;
    let third = third["apiKey"].as_str().unwrap().to_string();
    assert_json(use_key(&app, &first).await, StatusCode::OK).await;
    let message = assert_unauthorized(use_key(&app, &second).await).await;
    assert!(message.contains("rotated"), "{message}");
    assert_json(use_key(&app, &third).await, StatusCode::OK).await;
    let kept = "SELECT COUNT(*) FROM api_key_previous";
    assert_eq!(count(&app, kept).await, 2);
}

async fn deleting_a_rotated_key_ends_every_value() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let old = app.new_key_for(&token, "doomed", &app.tenant_id).await;
    let rotated = rotate(
        &app,
        &token,
        "doomed",
        Some(json!({"overlapSeconds": 3600})),
    );
    let new = assert_json(rotated.await, StatusCode::OK).await;
    let new = new["apiKey"].as_str().unwrap().to_string();
    assert_json(use_key(&app, &old).await, StatusCode::OK).await;
    assert_json(use_key(&app, &new).await, StatusCode::OK).await;
    let deleted = app
        .with_token(Method::DELETE, &format!("{KEYS}/doomed"), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    for value in [&old, &new] {
        let message = assert_unauthorized(use_key(&app, value).await).await;
        assert!(
            !message.contains("rotated") && !message.contains("expired"),
            "{message}"
        );
    }
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM api_key_previous").await,
        0
    );
}

async fn rotation_refuses_bad_overlaps_unknown_names_and_api_keys() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let key = app.new_key_for(&token, "steady", &app.tenant_id).await;
    for bad in [json!(-1), json!(2_592_001), json!("60"), json!(1.5)] {
        let response = rotate(&app, &token, "steady", Some(json!({"overlapSeconds": bad})));
        assert_error(response.await, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let response = rotate(&app, &token, "nobody", Some(json!({"overlapSeconds": 0})));
    assert_error(response.await, StatusCode::NOT_FOUND).await;
    let by_key = app
        .with_key(Method::POST, &format!("{KEYS}/steady/rotate"), &key)
        .json(&json!({"overlapSeconds": 0}))
        .send()
        .await
        .unwrap();
    assert_error(by_key, StatusCode::FORBIDDEN).await;
    // Nothing changed: the key still works.
    assert_json(use_key(&app, &key).await, StatusCode::OK).await;
    let most = rotate(
        &app,
        &token,
        "steady",
        Some(json!({"overlapSeconds": 2_592_000})),
    );
    assert_json(most.await, StatusCode::OK).await;
    assert_json(use_key(&app, &key).await, StatusCode::OK).await;
}

async fn the_page_offers_expiry_and_rotate_and_marks_keys_expiring_soon() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::signed_in(&app).await;
    let settings = browser.get("/settings").await;
    assert!(
        settings
            .html
            .contains(r#"<select id="key-expires" name="expires""#)
    );
    assert!(settings.html.contains(r#"<option value="never" selected>"#));
    let page = browser
        .post(
            "/settings/keys",
            &[
                ("csrf", &settings.csrf()),
                ("name", "weekly"),
                ("tenant", &app.tenant_id),
                ("expires", "7"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(
        page.html.contains("Expires within 7 days"),
        "marked in words"
    );
    let page = browser
        .post(
            "/settings/keys",
            &[
                ("csrf", &settings.csrf()),
                ("name", "old"),
                ("tenant", &app.tenant_id),
                ("expires", "date"),
                ("expires_on", "2001-01-01"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.html.contains(r#"id="key-expires-error""#),
        "{}",
        page.html
    );

    // Rotate: a POST form with the CSRF token; the new value is shown once, with Copy.
    let token = app.admin_token().await;
    let old = app.new_key_for(&token, "rotating", &app.tenant_id).await;
    let settings = browser.get("/settings").await;
    assert!(settings.html.contains(r#"action="/settings/keys/rotate""#));
    let refused = browser
        .post(
            "/settings/keys/rotate",
            &[
                ("csrf", "wrong"),
                ("name", "rotating"),
                ("tenant", &app.tenant_id),
                ("overlap", "0"),
            ],
        )
        .await;
    assert_ne!(refused.status, StatusCode::OK);
    assert_json(use_key(&app, &old).await, StatusCode::OK).await;
    let page = browser
        .post(
            "/settings/keys/rotate",
            &[
                ("csrf", &settings.csrf()),
                ("name", "rotating"),
                ("tenant", &app.tenant_id),
                ("overlap", "3600"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("was rotated"), "{}", page.html);
    let start = page.html.find(r#"<code id="new-key-value">"#).unwrap() + 25;
    let end = page.html[start..].find('<').unwrap();
    let new = &page.html[start..start + end];
    assert!(is_key_format(new), "{new}");
    assert!(page.html.contains(r#"data-copy-from="new-key-value""#));
    assert_json(use_key(&app, new).await, StatusCode::OK).await;
    assert_json(use_key(&app, &old).await, StatusCode::OK).await;

    // Under a maximum, the page's default is the maximum.
    assert_json(
        set_tenant_max(&app, &token, json!(90)).await,
        StatusCode::OK,
    )
    .await;
    let settings = browser.get("/settings").await;
    assert!(
        settings.html.contains(r#"<option value="max" selected>"#),
        "{}",
        settings.html
    );
}

async fn the_command_line_sets_the_maximum_by_the_same_rule() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let key = app.new_key_for(&token, "forever", &app.tenant_id).await;
    assert_json(use_key(&app, &key).await, StatusCode::OK).await;
    let lookups = app.metric(LOOKUPS).await;
    let args = [
        "tenant",
        "max-key-lifetime",
        "--tenant",
        &app.tenant_id,
        "--days",
        "7",
    ];
    let out = app.cli(&args, None).await;
    assert!(out.status.success(), "{}", crate::helpers::show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1",
        "one key capped"
    );
    let list = app.key_list(&token).await;
    let at = moment(&listed(&list, "forever")["expiresAt"]);
    assert!(at <= in_days(7) && at > in_days(6), "{at}");
    // The running server was told: the key is looked up again, and still works.
    assert_json(use_key(&app, &key).await, StatusCode::OK).await;
    assert_eq!(app.metric(LOOKUPS).await, lookups + 1);
    let body = json!({"name": "never", "tenantId": app.tenant_id});
    assert_error(
        create(&app, &token, body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    for bad in ["0", "3651", "soon"] {
        let args = [
            "tenant",
            "max-key-lifetime",
            "--tenant",
            &app.tenant_id,
            "--days",
            bad,
        ];
        let out = app.cli(&args, None).await;
        assert_eq!(
            out.status.code(),
            Some(1),
            "{bad}: {}",
            crate::helpers::show(&out)
        );
    }
    let args = [
        "tenant",
        "max-key-lifetime",
        "--tenant",
        &app.tenant_id,
        "--days",
        "none",
    ];
    assert!(app.cli(&args, None).await.status.success());
    let body = json!({"name": "never", "tenantId": app.tenant_id});
    assert_json(create(&app, &token, body).await, StatusCode::OK).await;
}
