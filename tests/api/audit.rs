//! The audit trail: `GET /api/audit/1/search` and `/csv`, what is recorded (keys, refusals,
//! sign-ins, membership and password changes from the API, the pages and the command line),
//! the aggregation of refusals, the retention, the settings page's recent activity, and leak
//! reports (`POST /api/keys/report-leak`).

use std::time::{Duration, Instant};

use keyflow::domain::Timestamp;
use keyflow::store::{AuditEvent, AuditQuery};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{TENANT_HEADER, TestApp, assert_error, assert_json, both_backends};
use crate::run::build;

both_backends! {
    key_events_are_searchable_in_boomis_shape,
    a_standard_user_sees_only_their_own_events,
    paging_filters_and_order,
    bad_search_parameters_are_bad_requests,
    the_csv_is_quoted_and_safe_from_formulas,
    refused_credentials_are_aggregated_per_address_reason_and_key,
    runs_refused_by_a_flows_authorization_are_aggregated_with_their_reason,
    sign_ins_password_and_membership_changes_are_recorded,
    retention_prunes_old_events_in_batches,
    the_settings_page_lists_recent_key_activity,
    a_leak_report_revokes_live_keys_and_tells_the_owner,
    a_leak_report_answers_the_same_whether_or_not_a_key_matched,
    malformed_leak_reports_are_refused_clearly,
    leak_reports_are_throttled_per_address,
}

const SEARCH: &str = "/api/audit/1/search";
const REPORT: &str = "/api/keys/report-leak";

async fn search(app: &TestApp, token: &str, query: &str) -> Value {
    let response = app
        .with_token(Method::GET, &format!("{SEARCH}?{query}"), token)
        .send()
        .await
        .unwrap();
    assert_json(response, StatusCode::OK).await
}

fn types(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["type"].as_str().unwrap().to_string())
        .collect()
}

async fn report(app: &TestApp, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(REPORT))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Waits (polling, with a deadline) until the key is refused.
async fn until_refused(app: &TestApp, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = app
            .list_flows(Some(key), Some(&app.tenant_id))
            .await
            .status();
        if status == StatusCode::UNAUTHORIZED {
            return;
        }
        assert!(Instant::now() < deadline, "the key still works: {status}");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn key_events_are_searchable_in_boomis_shape() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let key = app.new_key_for(&token, "ci", &app.tenant_id).await;
    let reveal = app
        .with_token(Method::POST, "/api/admin/1/users/me/keys/ci/reveal", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(reveal.status(), StatusCode::OK);
    let delete = app
        .with_token(Method::DELETE, "/api/admin/1/users/me/keys/ci", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::OK);

    let page = search(
        &app,
        &token,
        "type=key.created,key.revealed&type=key.deleted",
    )
    .await;
    assert_eq!(
        types(&page),
        ["key.created", "key.revealed", "key.deleted"],
        "{page}"
    );
    let me = app.me(&token).await;
    let created = &page["items"][0];
    assert_eq!(created["userId"], me["id"]);
    assert_eq!(created["user"]["email"], app.admin_email.as_str());
    assert_eq!(created["tenantId"], app.tenant_id.as_str());
    assert_eq!(created["data"]["key"], "ci");
    assert_eq!(created["data"]["address"], "127.0.0.1");
    assert!(
        created["data"]["requestId"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{created}"
    );
    assert!(created["occurredAt"].as_str().is_some());
    assert_eq!(page["_meta"]["total"], 3);
    // Never the key's value.
    assert!(!page.to_string().contains(&key), "{page}");
}

async fn a_standard_user_sees_only_their_own_events() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    app.new_key_for(&admin, "admins", &app.tenant_id).await;
    let user = app
        .create_user("std@example.com", "correct horse battery", &app.tenant_id)
        .await;
    let token = app.login("std@example.com", "correct horse battery").await;
    app.new_key_for(&token, "mine", &app.tenant_id).await;

    let own = search(&app, &token, "").await;
    let items = own["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items.iter().all(|item| item["userId"] == user.as_str()),
        "{own}"
    );
    assert!(types(&own).contains(&"key.created".to_string()));

    let all = search(&app, &admin, "type=key.created").await;
    assert_eq!(all["_meta"]["total"], 2, "{all}");
    // The command line's `user create` is in the tenant's trail, with no user.
    let added = search(&app, &admin, "type=user.added").await;
    let added = &added["items"][0];
    assert!(added.get("userId").is_none(), "{added}");
    assert_eq!(added["data"]["user"], user.as_str());
}

async fn paging_filters_and_order() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    for name in ["a", "b", "c"] {
        app.new_key_for(&token, name, &app.tenant_id).await;
    }
    let first = search(&app, &token, "type=key.created&pageSize=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(first["_meta"]["total"], 3);
    assert_eq!(first["_meta"]["pageSize"], 2);
    let next = first["_links"]["next"].as_str().unwrap();
    assert!(
        next.contains("page=2") && next.contains("type=key.created"),
        "{next}"
    );
    let second = search(&app, &token, "type=key.created&pageSize=2&page=2").await;
    assert_eq!(second["items"][0]["data"]["key"], "c");

    let newest = search(&app, &token, "TYPE=key.created&orderDirection=desc").await;
    let names: Vec<&str> = newest["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["data"]["key"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c", "b", "a"]);

    let by_type = types(&search(&app, &token, "orderBy=type").await);
    let mut sorted = by_type.clone();
    sorted.sort();
    assert_eq!(by_type, sorted);
    assert!(by_type.len() > 3, "{by_type:?}");
    let by_type_desc = types(&search(&app, &token, "orderBy=TYPE&orderDirection=DESC").await);
    sorted.reverse();
    assert_eq!(by_type_desc, sorted);

    let future = search(&app, &token, "from=2999-01-01T00:00:00Z").await;
    assert_eq!(future["_meta"]["total"], 0);
    let past = search(&app, &token, "to=2000-01-01T00:00:00Z").await;
    assert_eq!(past["_meta"]["total"], 0);
    let nobody = search(&app, &token, &format!("user={}", uuid::Uuid::new_v4())).await;
    assert_eq!(nobody["_meta"]["total"], 0);
}

async fn bad_search_parameters_are_bad_requests() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    for (query, words) in [
        ("pageSize=0", "pageSize"),
        ("pageSize=1001", "pageSize"),
        ("page=0", "page"),
        ("from=yesterday", "RFC 3339"),
        ("user=bob", "user id"),
        ("user=", "user id"),
        ("orderBy=colour", "orderBy"),
        ("orderDirection=sideways", "orderDirection"),
        ("page=2147483648", "page"),
        ("page=1&page=2", "once"),
    ] {
        let response = app
            .with_token(Method::GET, &format!("{SEARCH}?{query}"), &token)
            .send()
            .await
            .unwrap();
        let message = assert_error(response, StatusCode::BAD_REQUEST).await;
        assert!(message.contains(words), "{query}: {message}");
    }
    // `from` after `to`: an empty window, not an error.
    let empty = app
        .with_token(
            Method::GET,
            &format!("{SEARCH}?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z"),
            &token,
        )
        .send()
        .await
        .unwrap();
    let empty = assert_json(empty, StatusCode::OK).await;
    assert_eq!(empty["items"], json!([]));
    let csv = app
        .with_token(Method::GET, "/api/audit/1/csv?to=never", &token)
        .send()
        .await
        .unwrap();
    assert_error(csv, StatusCode::BAD_REQUEST).await;
    let anonymous = app.client.get(app.url(SEARCH)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

async fn the_csv_is_quoted_and_safe_from_formulas() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    app.new_key_for(&token, "=HYPERLINK(\"x\",1)", &app.tenant_id)
        .await;
    let response = app
        .with_token(Method::GET, "/api/audit/1/csv?type=key.created", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = response.text().await.unwrap();
    let mut lines = text.split("\r\n");
    assert_eq!(
        lines.next().unwrap(),
        "id,type,occurredAt,userId,userEmail,tenantId,address,requestId,subject,data"
    );
    let row = lines.next().unwrap();
    assert!(row.contains(",key.created,"), "{row}");
    // The formula is quoted, its quotes doubled, and prefixed so no spreadsheet runs it.
    assert!(row.contains(r#","'=HYPERLINK(""x"",1)","#), "{row}");
    assert_eq!(lines.next(), Some(""));
}

async fn refused_credentials_are_aggregated_per_address_reason_and_key() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let dead = app.new_key_for(&token, "dead", &app.tenant_id).await;
    let gone = app
        .with_token(Method::DELETE, "/api/admin/1/users/me/keys/dead", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::OK);
    // Anything a previous window held is written first.
    app.state.flush_refusals().await.unwrap();
    for _ in 0..30 {
        let status = app
            .list_flows(Some(&dead), Some(&app.tenant_id))
            .await
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    for _ in 0..12 {
        let status = app
            .list_flows(Some("kf_not-a-key-secret-value"), Some(&app.tenant_id))
            .await
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let written = app.state.flush_refusals().await.unwrap();
    assert_eq!(written, 2);

    let page = search(&app, &token, "type=key.refused").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    let refused = items
        .iter()
        .find(|i| i["data"]["reason"] == "refused")
        .unwrap();
    assert_eq!(refused["data"]["count"], 30);
    assert_eq!(
        refused["data"]["preview"],
        format!("kf_…{}", &dead[dead.len() - 4..])
    );
    assert_eq!(refused["data"]["address"], "127.0.0.1");
    assert_eq!(refused["tenantId"], app.tenant_id.as_str());
    let malformed = items
        .iter()
        .find(|i| i["data"]["reason"] == "malformed")
        .unwrap();
    assert_eq!(malformed["data"]["count"], 12);
    assert!(malformed["data"]["preview"].is_null(), "{malformed}");
    let text = page.to_string();
    assert!(
        !text.contains(&dead) && !text.contains("secret-value"),
        "{text}"
    );
    // Nothing left to write.
    assert_eq!(app.state.flush_refusals().await.unwrap(), 0);
}

async fn runs_refused_by_a_flows_authorization_are_aggregated_with_their_reason() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let key = app.new_key_for(&token, "runner", &app.tenant_id).await;
    let members = build(&app, &key, "ALL_USERS", "STEP").await;
    // No users listed: the key's owner is left out.
    let specified = build(&app, &key, "SPECIFIED", "STEP").await;
    app.state.flush_refusals().await.unwrap();
    let start = |flow: &str| json!({"flowId": {"id": flow}});
    for _ in 0..3 {
        let anonymous = app
            .client
            .post(app.url("/api/run/1"))
            .header(TENANT_HEADER, &app.tenant_id)
            .json(&start(&members.flow))
            .send()
            .await
            .unwrap();
        assert_error(anonymous, StatusCode::UNAUTHORIZED).await;
    }
    // The player refuses nobody the same way, and counts into the same group.
    let player = app
        .client
        .get(app.url(&format!(
            "/{}/play/default?flow-id={}",
            app.tenant_id, members.flow
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(player.status(), StatusCode::UNAUTHORIZED);
    for _ in 0..2 {
        let left_out = app
            .with_key(Method::POST, "/api/run/1", &key)
            .json(&start(&specified.flow))
            .send()
            .await
            .unwrap();
        assert_error(left_out, StatusCode::FORBIDDEN).await;
    }
    // One event per group, not one per refusal.
    assert_eq!(app.state.flush_refusals().await.unwrap(), 2);

    let page = search(&app, &token, "type=run.refused").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    let reason = |reason: &str| {
        items
            .iter()
            .find(|item| item["data"]["reason"] == reason)
            .unwrap_or_else(|| panic!("no {reason} in {page}"))
    };
    let not_public = reason("not_public");
    assert_eq!(not_public["data"]["count"], 4, "{not_public}");
    assert!(not_public["data"]["preview"].is_null(), "{not_public}");
    assert_eq!(not_public["data"]["address"], "127.0.0.1");
    assert_eq!(not_public["tenantId"], app.tenant_id.as_str());
    let not_authorized = reason("not_authorized");
    assert_eq!(not_authorized["data"]["count"], 2, "{not_authorized}");
    assert_eq!(
        not_authorized["data"]["preview"],
        format!("kf_…{}", &key[key.len() - 4..])
    );
    assert_eq!(not_authorized["tenantId"], app.tenant_id.as_str());
    let text = page.to_string();
    assert!(!text.contains(&key) && !text.contains(&token), "{text}");
    assert_eq!(app.state.flush_refusals().await.unwrap(), 0);
}

async fn sign_ins_password_and_membership_changes_are_recorded() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let failed = app.try_login(&app.admin_email, "wrong password").await;
    assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    app.state.flush_refusals().await.unwrap();
    let own = search(&app, &token, "type=user.signed_in").await;
    assert!(own["_meta"]["total"].as_u64().unwrap() >= 1, "{own}");

    // A role change over the API.
    let id = app
        .create_user(
            "member@example.com",
            "correct horse battery",
            &app.tenant_id,
        )
        .await;
    let change = app
        .with_token(Method::PUT, &format!("/api/admin/1/users/{id}"), &token)
        .json(&json!({ "role": { "developerName": "ADMINISTRATOR" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        change.status(),
        StatusCode::OK,
        "{}",
        change.text().await.unwrap()
    );
    let roles = search(&app, &token, "type=user.role_changed").await;
    assert_eq!(
        roles["items"][0]["data"]["role"], "ADMINISTRATOR",
        "{roles}"
    );
    assert_eq!(roles["items"][0]["data"]["previousRole"], "STANDARD_USER");

    // The command line's removal, and a password change on the pages.
    app.remove_user("member@example.com", &app.tenant_id).await;
    let removed = search(&app, &token, "type=user.removed").await;
    assert_eq!(removed["_meta"]["total"], 1, "{removed}");
    let mut browser = Browser::signed_in(&app).await;
    let csrf = browser.get("/settings").await.csrf();
    let changed = browser
        .post(
            "/settings/password",
            &[
                ("csrf", csrf.as_str()),
                ("current", app.admin_password.as_str()),
                ("new", "a new password 1"),
                ("confirm", "a new password 1"),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.html);
    let token = app.login(&app.admin_email, "a new password 1").await;
    let password = search(&app, &token, "type=user.password_changed").await;
    assert_eq!(password["_meta"]["total"], 1, "{password}");
    // The failed sign-in was counted without an actor: it is in the store, not in the search.
    let failures = app
        .state
        .store
        .search_audit(&AuditQuery {
            types: vec!["user.sign_in_failed".into()],
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(failures.events.len(), 1);
    assert!(
        failures.events[0]
            .data
            .as_deref()
            .unwrap()
            .contains("\"count\":1")
    );
}

async fn retention_prunes_old_events_in_batches() {
    let app = TestApp::spawn().await;
    let store = app.state.store.as_ref();
    let old = Timestamp::now().minus(Duration::from_secs(100 * 86_400));
    // More than one batch (1,000 a statement).
    let rows = 1_234;
    for _ in 0..rows {
        let event = AuditEvent {
            action: "test.old",
            at: Some(old),
            ..AuditEvent::default()
        };
        store.record_audit(event).await.unwrap();
    }
    let recent = AuditEvent {
        action: "test.recent",
        at: Some(Timestamp::now().minus(Duration::from_secs(89 * 86_400))),
        ..AuditEvent::default()
    };
    store.record_audit(recent).await.unwrap();
    let pruned = app
        .state
        .prune_audit(Duration::from_secs(90 * 86_400), Timestamp::now())
        .await
        .unwrap();
    assert_eq!(pruned, rows as u64);
    let left = store
        .search_audit(&AuditQuery {
            types: vec!["test.old".into(), "test.recent".into()],
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(left.total, 1);
    assert_eq!(left.events[0].action, "test.recent");
}

async fn the_settings_page_lists_recent_key_activity() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    app.new_key_for(&token, "ci", &app.tenant_id).await;
    let mut browser = Browser::signed_in(&app).await;
    let page = browser.get("/settings").await;
    assert!(page.html.contains("Recent activity"), "{}", page.html);
    assert!(
        page.html.contains("Key &#39;ci&#39; created · ")
            || page.html.contains("Key &#x27;ci&#x27; created · "),
        "{}",
        page.html
    );
    assert!(page.html.contains(" · from 127.0.0.1"), "{}", page.html);
}

async fn a_leak_report_revokes_live_keys_and_tells_the_owner() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let leaked = app.new_key_for(&token, "ci", &app.tenant_id).await;
    let kept = app.new_key_for(&token, "kept", &app.tenant_id).await;
    let answer = report(
        &app,
        json!({ "keys": [leaked, "not a key"], "url": "https://example.com/paste/1" }),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::ACCEPTED);
    until_refused(&app, &leaked).await;
    let status = app
        .list_flows(Some(&kept), Some(&app.tenant_id))
        .await
        .status();
    assert_eq!(status, StatusCode::OK);
    let names: Vec<Value> = app
        .key_list(&token)
        .await
        .into_iter()
        .map(|k| k["name"].clone())
        .collect();
    assert_eq!(names, [json!("kept")]);

    let page = search(&app, &token, "type=key.reported_leaked").await;
    let event = &page["items"][0];
    assert_eq!(
        event["data"]["url"], "https://example.com/paste/1",
        "{page}"
    );
    assert_eq!(event["data"]["address"], "127.0.0.1");
    assert_eq!(event["data"]["key"], "ci");
    assert!(!page.to_string().contains(&leaked));

    let mut browser = Browser::signed_in(&app).await;
    let settings = browser.get("/settings").await;
    let preview = format!("kf_…{}", &leaked[leaked.len() - 4..]);
    assert!(
        settings.html.contains(&format!(
            "({preview}) was reported leaked at https://example.com/paste/1 on "
        )),
        "{}",
        settings.html
    );
    assert!(settings.html.contains("and revoked."));
}

async fn a_leak_report_answers_the_same_whether_or_not_a_key_matched() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let live = app.new_key_for(&token, "live", &app.tenant_id).await;
    let dead = app.new_key_for(&token, "dead", &app.tenant_id).await;
    app.with_token(Method::DELETE, "/api/admin/1/users/me/keys/dead", &token)
        .send()
        .await
        .unwrap();
    let matched = report(&app, json!({ "keys": [live] })).await;
    let (status, body) = (matched.status(), matched.text().await.unwrap());
    let unmatched = report(&app, json!({ "keys": [dead] })).await;
    let garbage = report(&app, json!({ "keys": ["kf_nothing"] })).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(unmatched.status(), status);
    assert_eq!(garbage.status(), status);
    assert_eq!(unmatched.text().await.unwrap(), body);
    assert_eq!(garbage.text().await.unwrap(), body);
    until_refused(&app, &live).await;
}

async fn malformed_leak_reports_are_refused_clearly() {
    let app = TestApp::spawn().await;
    let many: Vec<String> = (0..101).map(|n| format!("kf_{n}")).collect();
    for (body, status, words) in [
        (
            json!({ "keys": many }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "at most 100",
        ),
        (
            json!({ "keys": [] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "at least one",
        ),
        (
            json!({ "keys": "kf_x" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            json!({ "keys": ["kf_x"], "url": "ftp://example.com" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "http",
        ),
        (
            json!({ "keys": ["kf_x"], "url": "https://example.com/".to_string() + &"a".repeat(2100) }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "2048",
        ),
    ] {
        let message = assert_error(report(&app, body).await, status).await;
        assert!(message.contains(words), "{message}");
    }
    let text = app
        .client
        .post(app.url(REPORT))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(text, StatusCode::BAD_REQUEST).await;
}

async fn leak_reports_are_throttled_per_address() {
    let app = TestApp::spawn().await;
    for _ in 0..10 {
        let answer = report(&app, json!({ "keys": ["kf_x"] })).await;
        assert_eq!(answer.status(), StatusCode::ACCEPTED);
    }
    let throttled = report(&app, json!({ "keys": ["kf_x"] })).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.headers().contains_key("retry-after"));
}
