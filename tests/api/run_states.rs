//! The states of running flows beside running them: a state's history
//! (`/api/run/1/state/{stateId}/history`), their administration (`/api/admin/1/states…`:
//! listing, loading, deleting, audited), and their expiry (refused everywhere, then pruned).

use std::time::Duration;

use keyflow::domain::Timestamp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TENANT_HEADER, TestApp, assert_error, assert_json, both_backends};
use crate::run::build;

both_backends! {
    a_state_history_lists_the_elements_passed_for_whoever_may_read_it,
    administrators_list_load_and_delete_states_and_each_deletion_is_audited,
    a_state_expires_from_its_flow_settings_is_refused_everywhere_and_is_pruned,
}

const FLOW: &str = "/api/draw/1/flow";
const GO: &str = "00000000-0000-4000-8000-0000000000f1";

async fn send(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let request = app.with_key(method, path, key);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.unwrap()
}

async fn ok(app: &TestApp, key: &str, method: Method, path: &str, body: Option<Value>) -> Value {
    assert_json(send(app, key, method, path, body).await, StatusCode::OK).await
}

async fn start(app: &TestApp, key: &str, flow: &str) -> Value {
    ok(
        app,
        key,
        Method::POST,
        "/api/run/1",
        Some(json!({"flowId": {"id": flow}})),
    )
    .await
}

/// Answers the page and goes on to the end (the flow `run::build` makes).
async fn finish(app: &TestApp, key: &str, started: &Value, name_box: &str) -> Value {
    let path = format!("/api/run/1/state/{}", started["stateId"].as_str().unwrap());
    let body = json!({"invokeType": "FORWARD", "stateToken": started["stateToken"],
        "mapElementInvokeRequest": {"selectedOutcomeId": GO, "pageRequest":
            {"pageComponentInputResponses": [{"pageComponentId": name_box, "contentValue": "Ada"}]}}});
    ok(app, key, Method::POST, &path, Some(body)).await
}

/// The field `field` of each item of the array `list` of an answer.
fn each(answer: &Value, list: &str, field: &str) -> Vec<String> {
    answer[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap().to_string())
        .collect()
}

/// The names of the map elements a history lists.
fn names(history: &Value) -> Vec<String> {
    each(history, "entries", "mapElementName")
}

async fn a_state_history_lists_the_elements_passed_for_whoever_may_read_it() {
    let app = TestApp::spawn().await;
    let key = app.new_key("run").await;
    let built = build(&app, &key, "ALL_USERS", "STEP").await;
    let started = start(&app, &key, &built.flow).await;
    let state = started["stateId"].as_str().unwrap().to_string();
    let path = format!("/api/run/1/state/{state}/history");
    // Waiting at the page: START passed, the page itself left out.
    let history = ok(&app, &key, Method::GET, &path, None).await;
    assert_eq!(names(&history), ["Start"]);
    let entry = &history["entries"][0];
    assert_eq!(entry["flowId"], built.flow.as_str());
    assert_eq!(
        entry["mapElementId"],
        started_start(&app, &key, &built.flow).await
    );
    let entry_id = entry["stateEntryId"].as_str().unwrap().to_string();
    uuid::Uuid::parse_str(&entry_id).unwrap();
    let ui = ok(
        &app,
        &key,
        Method::GET,
        &format!("{path}?onlyUIMapElements=true"),
        None,
    )
    .await;
    assert_eq!(names(&ui), Vec::<String>::new());
    // At the end: every element passed in order; only the page is a UI element.
    finish(&app, &key, &started, &built.name_box).await;
    let history = ok(&app, &key, Method::GET, &path, None).await;
    assert_eq!(names(&history), ["Start", "Ask", "Count up", "Decide"]);
    assert_eq!(
        history["entries"][0]["stateEntryId"],
        entry_id.as_str(),
        "stable"
    );
    assert_ne!(history["entries"][1]["stateEntryId"], entry_id.as_str());
    let ui = ok(
        &app,
        &key,
        Method::GET,
        &format!("{path}?onlyuimapelements=TRUE"),
        None,
    )
    .await;
    assert_eq!(names(&ui), ["Ask"]);
    let all = ok(
        &app,
        &key,
        Method::GET,
        &format!("{path}?onlyUIMapElements=false"),
        None,
    )
    .await;
    assert_eq!(names(&all).len(), 4);
    let bad = send(
        &app,
        &key,
        Method::GET,
        &format!("{path}?onlyUIMapElements=maybe"),
        None,
    )
    .await;
    let message = assert_error(bad, StatusCode::BAD_REQUEST).await;
    assert!(message.contains("onlyUIMapElements"), "{message}");
    // The rights of reading the state: none without a credential for a members' flow,
    // another tenant's caller finds nothing, a narrowed key needs flows:run.
    let anonymous = app
        .client
        .get(app.url(&path))
        .header(TENANT_HEADER, &app.tenant_id)
        .send()
        .await
        .unwrap();
    assert_error(anonymous, StatusCode::UNAUTHORIZED).await;
    let other = app.second_tenant("Elsewhere").await;
    let elsewhere = app
        .client
        .get(app.url(&path))
        .header(TENANT_HEADER, &other)
        .send()
        .await
        .unwrap();
    assert_error(elsewhere, StatusCode::NOT_FOUND).await;
    let reader = narrowed(&app, json!(["flows:read"]), "reader").await;
    let refused = send(&app, &reader, Method::GET, &path, None).await;
    assert_error(refused, StatusCode::FORBIDDEN).await;
    let missing = format!("/api/run/1/state/{}/history", uuid::Uuid::new_v4());
    assert_error(
        send(&app, &key, Method::GET, &missing, None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // A public flow's history is read without a credential, as the state is.
    let public = build(&app, &key, "PUBLIC", "STEP").await;
    let started = start(&app, &key, &public.flow).await;
    let path = format!(
        "/api/run/1/state/{}/history",
        started["stateId"].as_str().unwrap()
    );
    let anonymous = app
        .client
        .get(app.url(&path))
        .header(TENANT_HEADER, &app.tenant_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        names(&assert_json(anonymous, StatusCode::OK).await),
        ["Start"]
    );
}

/// The flow's START map element.
async fn started_start(app: &TestApp, key: &str, flow: &str) -> String {
    let header = ok(app, key, Method::GET, &format!("{FLOW}/{flow}"), None).await;
    header["startMapElementId"].as_str().unwrap().to_string()
}

/// A key of the administrator narrowed to `scopes`.
async fn narrowed(app: &TestApp, scopes: Value, name: &str) -> String {
    let token = app.admin_token().await;
    let response = app
        .with_token(Method::POST, "/api/admin/1/users/me/keys", &token)
        .json(&json!({"name": name, "tenantId": app.tenant_id, "scopes": scopes}))
        .send()
        .await
        .unwrap();
    assert_json(response, StatusCode::OK).await["apiKey"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The ids of the states a page lists.
fn ids(page: &Value) -> Vec<String> {
    each(page, "items", "id")
}

async fn administrators_list_load_and_delete_states_and_each_deletion_is_audited() {
    let app = TestApp::spawn().await;
    let key = app.new_key("admin").await;
    let built = build(&app, &key, "ALL_USERS", "STEP").await;
    let first = start(&app, &key, &built.flow).await;
    let second = start(&app, &key, &built.flow).await;
    let third = start(&app, &key, &built.flow).await;
    finish(&app, &key, &second, &built.name_box).await;
    let id = |s: &Value| s["stateId"].as_str().unwrap().to_string();
    let (first, second, third) = (id(&first), id(&second), id(&third));

    let all = ok(&app, &key, Method::GET, "/api/admin/1/states", None).await;
    assert_eq!(all["_meta"]["total"], 3);
    assert_eq!(all["_meta"]["pageSize"], 10, "Boomi's default");
    assert_eq!(
        ids(&all),
        [third.clone(), second.clone(), first.clone()],
        "newest first"
    );
    let done = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == second.as_str())
        .unwrap();
    assert_eq!(done["isDone"], true);
    assert_eq!(done["hasRootFaults"], false);
    assert_eq!(done["currentFlowId"]["id"], built.flow.as_str());
    assert_eq!(done["currentFlowDeveloperName"], "Run ALL_USERS STEP");
    assert_eq!(done["manywhoTenantId"], app.tenant_id.as_str());
    assert_eq!(done["isExpired"], false);
    assert!(done["expiresAt"].is_null(), "the flow sets no expiry");
    let version = done["currentFlowId"]["versionId"]
        .as_str()
        .unwrap()
        .to_string();

    let page = ok(
        &app,
        &key,
        Method::GET,
        "/api/admin/1/states?page=2&pageSize=2",
        None,
    )
    .await;
    assert_eq!(ids(&page), [first.as_str()]);
    assert_eq!(
        page["_links"]["previous"],
        "/api/admin/1/states?page=1&pageSize=2"
    );
    assert!(page["_links"]["next"].is_null());
    let filtered = ok(
        &app,
        &key,
        Method::GET,
        "/api/admin/1/states?status=complete&pageSize=1",
        None,
    )
    .await;
    assert_eq!(ids(&filtered), [second.as_str()]);
    assert_eq!(
        filtered["_links"]["self"],
        "/api/admin/1/states?page=1&pageSize=1&status=COMPLETE"
    );
    let future = ok(
        &app,
        &key,
        Method::GET,
        "/api/admin/1/states?from=2999-01-01T00:00:00Z",
        None,
    )
    .await;
    assert_eq!(future["_meta"]["total"], 0);
    let past = ok(
        &app,
        &key,
        Method::GET,
        "/api/admin/1/states?to=2999-01-01T00:00:00Z",
        None,
    )
    .await;
    assert_eq!(past["_meta"]["total"], 3);
    for bad in [
        "page=0",
        "pageSize=abc",
        "pageSize=1001",
        "page=-1",
        "status=RUNNING",
        "from=yesterday",
        "to=2026-13-01",
        "status=",
        "from=",
        "to=",
    ] {
        let response = send(
            &app,
            &key,
            Method::GET,
            &format!("/api/admin/1/states?{bad}"),
            None,
        )
        .await;
        let message = assert_error(response, StatusCode::BAD_REQUEST).await;
        let name = bad.split('=').next().unwrap();
        assert!(message.contains(name), "{bad}: {message}");
    }
    let of_flow = ok(
        &app,
        &key,
        Method::GET,
        &format!("/api/admin/1/states/flow/{}", built.flow),
        None,
    )
    .await;
    assert_eq!(of_flow["_meta"]["total"], 3);
    let of_version = ok(
        &app,
        &key,
        Method::GET,
        &format!("/api/admin/1/states/flow/{}/{version}", built.flow),
        None,
    )
    .await;
    assert_eq!(of_version["_meta"]["total"], 3);
    let of_other = ok(
        &app,
        &key,
        Method::GET,
        &format!(
            "/api/admin/1/states/flow/{}/{}",
            built.flow,
            uuid::Uuid::new_v4()
        ),
        None,
    )
    .await;
    assert_eq!(of_other["_meta"]["total"], 0);
    let bad = send(
        &app,
        &key,
        Method::GET,
        "/api/admin/1/states/flow/not-a-uuid",
        None,
    )
    .await;
    assert_error(bad, StatusCode::BAD_REQUEST).await;

    let loaded = ok(
        &app,
        &key,
        Method::GET,
        &format!("/api/admin/1/states/{first}"),
        None,
    )
    .await;
    assert_eq!(loaded["id"], first.as_str());
    assert!(loaded.get("authorizationHeader").is_none());

    // Scopes: reading needs admin:read, deleting admin:write; running is not administering.
    let runner = narrowed(&app, json!(["flows:run"]), "runner").await;
    assert_error(
        send(&app, &runner, Method::GET, "/api/admin/1/states", None).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let reader = narrowed(&app, json!(["admin:read"]), "reader").await;
    ok(&app, &reader, Method::GET, "/api/admin/1/states", None).await;
    let refused = send(
        &app,
        &reader,
        Method::DELETE,
        &format!("/api/admin/1/states/{first}"),
        None,
    )
    .await;
    assert_error(refused, StatusCode::FORBIDDEN).await;
    // A standard user is no administrator.
    let token = app.admin_token().await;
    let invited = app.invite(&token, &app.tenant_id, "sam@example.com").await;
    app.accept_invitation(&invited, "a long password").await;
    let sam = app.login("sam@example.com", "a long password").await;
    let response = app
        .with_token(Method::GET, "/api/admin/1/states", &sam)
        .header(TENANT_HEADER, &app.tenant_id)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN).await;

    // Deleted: gone for the run API and the administrators, once.
    let deleted = send(
        &app,
        &key,
        Method::DELETE,
        &format!("/api/admin/1/states/{first}"),
        None,
    )
    .await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let gone = send(
        &app,
        &key,
        Method::GET,
        &format!("/api/run/1/state/{first}"),
        None,
    )
    .await;
    assert_error(gone, StatusCode::NOT_FOUND).await;
    assert_error(
        send(
            &app,
            &key,
            Method::GET,
            &format!("/api/admin/1/states/{first}"),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_error(
        send(
            &app,
            &key,
            Method::DELETE,
            &format!("/api/admin/1/states/{first}"),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // Several at once: those that are the tenant's; the others are left out.
    let body = json!([second, uuid::Uuid::new_v4()]);
    ok_empty(&app, &key, Method::DELETE, "/api/admin/1/states", body).await;
    let left = ok(&app, &key, Method::GET, "/api/admin/1/states", None).await;
    assert_eq!(ids(&left), [third.as_str()]);
    let malformed = send(
        &app,
        &key,
        Method::DELETE,
        "/api/admin/1/states",
        Some(json!(["nope"])),
    )
    .await;
    assert_error(malformed, StatusCode::UNPROCESSABLE_ENTITY).await;
    let too_many: Vec<String> = (0..1001)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    let response = send(
        &app,
        &key,
        Method::DELETE,
        "/api/admin/1/states",
        Some(json!(too_many)),
    )
    .await;
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    // Each deletion is one event, naming the state.
    let events = ok(
        &app,
        &key,
        Method::GET,
        "/api/audit/1/search?type=state.deleted",
        None,
    )
    .await;
    let mut subjects: Vec<String> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["data"]["subject"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    subjects.sort();
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();
    assert_eq!(subjects, expected, "{events}");
}

async fn ok_empty(app: &TestApp, key: &str, method: Method, path: &str, body: Value) {
    let response = send(app, key, method, path, Some(body)).await;
    assert_eq!(response.status(), StatusCode::OK);
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

fn at(value: &Value) -> Timestamp {
    Timestamp::parse(value.as_str().unwrap()).unwrap()
}

async fn a_state_expires_from_its_flow_settings_is_refused_everywhere_and_is_pruned() {
    let app = TestApp::spawn().await;
    let key = app.new_key("expiry").await;
    let built = build(&app, &key, "ALL_USERS", "STEP").await;
    // An hour from the start, or ten minutes idle: a new snapshot, activated.
    let mut header = ok(
        &app,
        &key,
        Method::GET,
        &format!("{FLOW}/{}", built.flow),
        None,
    )
    .await;
    header["stateExpirationLength"] = json!(3600);
    header["idleStateExpirationLength"] = json!(600);
    let saved = ok(&app, &key, Method::POST, FLOW, Some(header)).await;
    let version = saved["id"]["versionId"].as_str().unwrap().to_string();
    ok(
        &app,
        &key,
        Method::POST,
        &format!("{FLOW}/snap/{}", built.flow),
        Some(json!("expiring")),
    )
    .await;
    ok(
        &app,
        &key,
        Method::POST,
        &format!("{FLOW}/activation/{}/{version}/true/true", built.flow),
        None,
    )
    .await;

    let started = start(&app, &key, &built.flow).await;
    let state = started["stateId"].as_str().unwrap().to_string();
    let admin = format!("/api/admin/1/states/{state}");
    let loaded = ok(&app, &key, Method::GET, &admin, None).await;
    assert_eq!(
        at(&loaded["expiresAt"]),
        at(&loaded["dateCreated"]).plus(Duration::from_secs(600)),
        "idle first"
    );
    // A write starts the idle time again.
    let path = format!("/api/run/1/state/{state}");
    let sync = json!({"invokeType": "SYNC", "stateToken": started["stateToken"]});
    let synced = ok(&app, &key, Method::POST, &path, Some(sync)).await;
    let loaded = ok(&app, &key, Method::GET, &admin, None).await;
    assert_eq!(
        at(&loaded["expiresAt"]),
        at(&loaded["dateModified"]).plus(Duration::from_secs(600))
    );
    assert_eq!(loaded["isExpired"], false);

    // Time passes (the expiry moved to the start): every run endpoint refuses it, 404.
    beside(
        &app,
        &format!("UPDATE flow_states SET expires_at = created_at WHERE id = '{state}'"),
    )
    .await;
    let history = format!("{path}/history");
    let values = format!("{path}/values");
    let value_by_name = format!("{path}/values/name/whatever");
    let join = json!({"invokeType": "JOIN", "stateToken": synced["stateToken"]});
    let forward = json!({"invokeType": "FORWARD", "stateToken": synced["stateToken"]});
    let refusals = [
        (Method::GET, path.clone(), None),
        (Method::POST, path.clone(), Some(join)),
        (Method::POST, path.clone(), Some(forward)),
        (Method::GET, history, None),
        (Method::GET, values.clone(), None),
        (Method::POST, values, Some(json!([]))),
        (Method::GET, value_by_name, None),
    ];
    for (method, path, body) in refusals {
        let response = send(&app, &key, method.clone(), &path, body).await;
        let message = assert_error(response, StatusCode::NOT_FOUND).await;
        assert!(
            message.contains("has now expired"),
            "{method} {path}: {message}"
        );
    }
    // The administrators still see it, marked, until it is pruned.
    let loaded = ok(&app, &key, Method::GET, &admin, None).await;
    assert_eq!(loaded["isExpired"], true);
    let other = start(&app, &key, &built.flow).await;
    let other = other["stateId"].as_str().unwrap().to_string();
    // Pruned at a clock of the test's: the expired state only.
    assert_eq!(app.state.prune_states(Timestamp::now()).await.unwrap(), 1);
    assert_error(
        send(&app, &key, Method::GET, &admin, None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    ok(
        &app,
        &key,
        Method::GET,
        &format!("/api/run/1/state/{other}"),
        None,
    )
    .await;
    // Ten minutes on, the other has expired too.
    let later = Timestamp::now().plus(Duration::from_secs(601));
    assert_eq!(app.state.prune_states(later).await.unwrap(), 1);
    let gone = send(
        &app,
        &key,
        Method::GET,
        &format!("/api/run/1/state/{other}"),
        None,
    )
    .await;
    assert_error(gone, StatusCode::NOT_FOUND).await;
}
