//! Running flows: `/api/run/1…`. A flow is built through the draw API, snapshotted and
//! activated, then run: pages and their answers, operators, decisions, the state token, who
//! may run what, and faults.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::graph::{current_token, elements_path, flow_id};
use crate::helpers::{TENANT_HEADER, TestApp, assert_error, assert_json, both_backends};

both_backends! {
    a_flow_runs_its_activated_snapshot_through_a_page_to_its_end,
    a_stale_token_is_refused_and_changes_nothing,
    of_two_invokes_with_one_token_exactly_one_wins,
    who_may_run_a_flow_follows_its_authorization,
    a_connector_element_faults_naming_it,
    a_state_survives_a_restart,
    runs_started_without_a_credential_are_limited_per_address,
}

pub(crate) const FLOW: &str = "/api/draw/1/flow";

pub(crate) async fn send(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    let request = app.with_key(method, path, key);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.unwrap()
}

pub(crate) async fn ok(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    assert_json(send(app, key, method, path, body).await, StatusCode::OK).await
}

/// Saves a map element of the flow and answers its id.
pub(crate) async fn map_element(app: &TestApp, key: &str, flow: &str, body: Value) -> String {
    let token = current_token(app, key, flow).await;
    let path = elements_path(flow, &token, "map");
    let saved = ok(app, key, Method::POST, &path, Some(body)).await;
    saved["id"].as_str().unwrap().to_string()
}

pub(crate) async fn tenant_element(app: &TestApp, key: &str, kind: &str, body: Value) -> String {
    let path = format!("/api/draw/1/element/{kind}");
    let saved = ok(app, key, Method::POST, &path, Some(body)).await;
    saved["id"].as_str().unwrap().to_string()
}

pub(crate) fn outcome(id: &str, next: &str) -> Value {
    json!({"id": id, "developerName": id, "label": id, "nextMapElementId": next, "order": 0})
}

/// The ids a test refers to.
pub(crate) struct Built {
    pub flow: String,
    pub name_box: String,
    /// The page element "Ask" and the step "Odd".
    pub ask: String,
    pub odd: String,
}

/// A flow: START → page "Ask" (a required input bound to Name) →"Go"→ operator (Count + 1) →
/// decision (Count > 1: "Done", a step greeting Name; default: "Odd") , with `authorization`
/// (`globalAuthenticationType`), snapshotted and activated. `last` is the type of the element
/// the decision's first outcome leads to instead of the greeting step (`STEP` by default).
pub(crate) async fn build(app: &TestApp, key: &str, authorization: &str, last: &str) -> Built {
    let flow = ok(
        app,
        key,
        Method::POST,
        FLOW,
        Some(json!({"developerName": format!("Run {authorization} {last}")})),
    )
    .await;
    let id = flow_id(&flow);
    let start = flow["startMapElementId"].as_str().unwrap().to_string();
    let name = tenant_element(
        app,
        key,
        "value",
        json!({"developerName": format!("Name {authorization}"), "contentType": "ContentString"}),
    )
    .await;
    let count = tenant_element(app, key, "value", json!({"developerName": format!("Count {authorization}"), "contentType": "ContentNumber", "defaultContentValue": "1"})).await;
    let name_box = uuid::Uuid::new_v4().to_string();
    let page = tenant_element(app, key, "page", json!({
        "developerName": format!("Ask page {authorization}"), "label": "Who are you?",
        "pageContainers": [{"id": "00000000-0000-4000-8000-0000000000c1", "containerType": "VERTICAL_FLOW", "developerName": "Main"}],
        "pageComponents": [{"id": name_box, "pageContainerId": "00000000-0000-4000-8000-0000000000c1",
            "componentType": "INPUT", "developerName": "Name box", "label": "Your name", "isRequired": true,
            "valueElementValueBindingReferenceId": {"id": name}}]
    })).await;
    let done = if last == "STEP" {
        map_element(
            app,
            key,
            &id,
            json!({"elementType": "STEP", "developerName": "Done", "x": 500, "y": 100,
            "userContent": format!("<p>Hello {{![Name {authorization}]}}, visit {{![Count {authorization}]}}</p>")}),
        )
        .await
    } else {
        map_element(
            app,
            key,
            &id,
            json!({"elementType": last, "developerName": "Tell someone", "x": 500, "y": 100}),
        )
        .await
    };
    let odd = map_element(
        app,
        key,
        &id,
        json!({"elementType": "STEP", "developerName": "Odd", "x": 500, "y": 300,
        "userContent": "odd"}),
    )
    .await;
    let decide = map_element(app, key, &id, json!({"elementType": "DECISION", "developerName": "Decide", "x": 400, "y": 100,
        "outcomes": [
            {"id": "00000000-0000-4000-8000-0000000000d1", "developerName": "More", "nextMapElementId": done, "order": 0,
             "comparison": {"comparisonType": "AND", "rules": [{"leftValueElementToReferenceId": {"id": count},
                "criteriaType": "GREATER_THAN", "rightValueElementToReferenceId": 1}]}},
            {"id": "00000000-0000-4000-8000-0000000000d2", "developerName": "Else", "nextMapElementId": odd, "order": 1}
        ]})).await;
    let operator = map_element(app, key, &id, json!({"elementType": "OPERATOR", "developerName": "Count up", "x": 300, "y": 100,
        "operations": [{"order": 0, "valueElementToApplyId": {"id": count, "command": "ADD"}, "valueElementToReferenceId": 1}],
        "outcomes": [outcome("00000000-0000-4000-8000-0000000000e1", &decide)]})).await;
    let ask = map_element(app, key, &id, json!({"elementType": "INPUT", "developerName": "Ask", "x": 200, "y": 100,
        "pageElementId": page, "outcomes": [outcome("00000000-0000-4000-8000-0000000000f1", &operator)]})).await;
    map_element(
        app,
        key,
        &id,
        json!({"id": start, "elementType": "START", "developerName": "Start", "x": 100, "y": 100,
        "outcomes": [outcome("00000000-0000-4000-8000-0000000000a1", &ask)]}),
    )
    .await;
    publish(app, key, &id, Some(authorization)).await;
    Built {
        flow: id,
        name_box,
        ask,
        odd,
    }
}

/// The flow's header as the draw API answers it (its draft).
async fn header(app: &TestApp, key: &str, flow: &str) -> Value {
    ok(app, key, Method::GET, &format!("{FLOW}/{flow}"), None).await
}

/// Snapshots the flow (with `authorization` as its `globalAuthenticationType`, if given) and
/// activates the snapshot as its default: its running version.
pub(crate) async fn publish(app: &TestApp, key: &str, id: &str, authorization: Option<&str>) {
    let mut header = header(app, key, id).await;
    if let Some(authorization) = authorization {
        header["authorization"] = json!({"globalAuthenticationType": authorization});
    }
    let header = ok(app, key, Method::POST, FLOW, Some(header)).await;
    let version = header["id"]["versionId"].as_str().unwrap().to_string();
    ok(
        app,
        key,
        Method::POST,
        &format!("{FLOW}/snap/{id}"),
        Some(json!("run me")),
    )
    .await;
    ok(
        app,
        key,
        Method::POST,
        &format!("{FLOW}/activation/{id}/{version}/true/true"),
        None,
    )
    .await;
}

/// Starts a state of the flow's running version: the answer, and the state's path.
pub(crate) async fn start_state(app: &TestApp, key: &str, flow: &str) -> (Value, String) {
    let started = ok(
        app,
        key,
        Method::POST,
        "/api/run/1",
        Some(json!({"flowId": {"id": flow}})),
    )
    .await;
    let path = format!("/api/run/1/state/{}", started["stateId"].as_str().unwrap());
    (started, path)
}

pub(crate) fn forward(token: &Value, outcome: Option<&str>, answers: Value) -> Value {
    json!({"invokeType": "FORWARD", "stateToken": token,
           "mapElementInvokeRequest": {"selectedOutcomeId": outcome,
               "pageRequest": {"pageComponentInputResponses": answers}}})
}

async fn a_flow_runs_its_activated_snapshot_through_a_page_to_its_end() {
    let app = TestApp::spawn().await;
    let key = app.new_key("run").await;
    let built = build(&app, &key, "ALL_USERS", "STEP").await;
    // The draft moves on after the snapshot: a run never sees it.
    let flow = header(&app, &key, &built.flow).await;
    let mut renamed = flow.clone();
    renamed["developerName"] = json!("Draft only");
    ok(&app, &key, Method::POST, FLOW, Some(renamed)).await;

    let started = ok(
        &app,
        &key,
        Method::POST,
        "/api/run/1",
        Some(json!({"flowId": {"id": built.flow}})),
    )
    .await;
    let state = started["stateId"].as_str().unwrap().to_string();
    assert_eq!(
        uuid::Uuid::parse_str(&state).unwrap().get_version_num(),
        4,
        "a random id"
    );
    let path = format!("/api/run/1/state/{state}");
    let first = ok(&app, &key, Method::GET, &path, None).await;
    assert_eq!(
        first["flowName"], "Run ALL_USERS STEP",
        "the snapshot's name, not the draft's"
    );
    assert_eq!(first["stateToken"], started["stateToken"]);
    assert_eq!(first["currentMapElementId"], started["currentMapElementId"]);
    let element = &first["mapElementInvokeResponses"][0];
    assert_eq!(element["developerName"], "Ask");
    assert_eq!(element["pageResponse"]["label"], "Who are you?");
    assert_eq!(
        element["pageResponse"]["pageComponentResponses"][0]["label"],
        "Your name"
    );
    assert_eq!(
        element["outcomeResponses"][0]["id"],
        "00000000-0000-4000-8000-0000000000f1"
    );

    // A required answer left empty: the page again, marked, with a new token.
    let go = Some("00000000-0000-4000-8000-0000000000f1");
    let again = ok(
        &app,
        &key,
        Method::POST,
        &path,
        Some(forward(&first["stateToken"], go, json!([]))),
    )
    .await;
    assert_ne!(again["stateToken"], first["stateToken"]);
    assert_eq!(again["currentMapElementId"], first["currentMapElementId"]);
    let data =
        &again["mapElementInvokeResponses"][0]["pageResponse"]["pageComponentDataResponses"][0];
    assert_eq!(data["isValid"], false);
    assert_eq!(data["validationMessage"], "Your name is required");

    // Answered: through the operator and the decision to the end.
    let answers = json!([{"pageComponentId": built.name_box, "contentValue": "Ada"}]);
    let done = ok(
        &app,
        &key,
        Method::POST,
        &path,
        Some(forward(&again["stateToken"], go, answers)),
    )
    .await;
    assert_eq!(done["invokeType"], "DONE");
    let shown = &done["mapElementInvokeResponses"][0];
    assert_eq!(shown["developerName"], "Done");
    assert_eq!(
        shown["pageResponse"]["pageComponentDataResponses"][0]["content"],
        "<p>Hello Ada, visit 2</p>"
    );
    // Read back, the same; another forward is refused, the run being over.
    let read = ok(&app, &key, Method::GET, &path, None).await;
    assert_eq!(read["stateToken"], done["stateToken"]);
    assert_eq!(read["invokeType"], "DONE");
    let over = send(
        &app,
        &key,
        Method::POST,
        &path,
        Some(forward(&done["stateToken"], None, json!([]))),
    )
    .await;
    assert_error(over, StatusCode::UNPROCESSABLE_ENTITY).await;

    // Its values, all (by name) or one by id or name; none without a credential.
    let values = ok(&app, &key, Method::GET, &format!("{path}/values"), None).await;
    let pairs: Vec<(&str, &str)> = values
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["developerName"].as_str().unwrap(),
                v["contentValue"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(pairs, [("Count ALL_USERS", "2"), ("Name ALL_USERS", "Ada")]);
    let count = values[0]["valueElementId"].as_str().unwrap();
    let one = ok(
        &app,
        &key,
        Method::GET,
        &format!("{path}/values/{count}"),
        None,
    )
    .await;
    assert_eq!(
        (&one["contentValue"], &one["contentType"]),
        (&json!("2"), &json!("ContentNumber"))
    );
    let named = ok(
        &app,
        &key,
        Method::GET,
        &format!("{path}/values/name/name%20all_users"),
        None,
    )
    .await;
    assert_eq!(named["contentValue"], "Ada");
    let missing = format!("{path}/values/{}", uuid::Uuid::new_v4());
    assert_error(
        send(&app, &key, Method::GET, &missing, None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let anonymous = app
        .client
        .get(app.url(&format!("{path}/values")))
        .header(TENANT_HEADER, &app.tenant_id);
    assert_error(anonymous.send().await.unwrap(), StatusCode::UNAUTHORIZED).await;

    // The simple start names the flow by name and answers the first page at once.
    let simple = ok(
        &app,
        &key,
        Method::POST,
        "/api/run/1/state",
        Some(json!({"developerName": "run all_users step",
        "inputs": [{"developerName": "Name ALL_USERS", "contentValue": "Bo"}]})),
    )
    .await;
    let data =
        &simple["mapElementInvokeResponses"][0]["pageResponse"]["pageComponentDataResponses"][0];
    assert_eq!(data["contentValue"], "Bo", "the input is bound to the page");
    // The runnable flows.
    let flows = ok(&app, &key, Method::GET, "/api/run/1/flow", None).await;
    assert_eq!(flows.as_array().unwrap().len(), 1);
    ok(
        &app,
        &key,
        Method::GET,
        &format!("/api/run/1/flow/{}", built.flow),
        None,
    )
    .await;
    ok(
        &app,
        &key,
        Method::GET,
        "/api/run/1/flow/name/Run%20ALL_USERS%20STEP",
        None,
    )
    .await;
}

async fn a_stale_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let key = app.new_key("run").await;
    let built = build(&app, &key, "ALL_USERS", "STEP").await;
    let (started, path) = start_state(&app, &key, &built.flow).await;
    let sync = json!({"invokeType": "SYNC", "stateToken": started["stateToken"],
        "mapElementInvokeRequest": {"pageRequest": {"pageComponentInputResponses": [
            {"pageComponentId": built.name_box, "contentValue": "first"}]}}});
    let synced = ok(&app, &key, Method::POST, &path, Some(sync)).await;
    let data =
        &synced["mapElementInvokeResponses"][0]["pageResponse"]["pageComponentDataResponses"][0];
    assert_eq!(
        data["contentValue"], "first",
        "SYNC keeps the answer and stays"
    );
    assert_eq!(
        synced["currentMapElementId"],
        started["currentMapElementId"]
    );
    // The first token again: refused, nothing written.
    let answers = json!([{"pageComponentId": built.name_box, "contentValue": "second"}]);
    let stale = forward(
        &started["stateToken"],
        Some("00000000-0000-4000-8000-0000000000f1"),
        answers,
    );
    let refused = send(&app, &key, Method::POST, &path, Some(stale)).await;
    let message = assert_error(refused, StatusCode::CONFLICT).await;
    assert!(message.contains("stateToken"), "{message}");
    let read = ok(&app, &key, Method::GET, &path, None).await;
    assert_eq!(read["stateToken"], synced["stateToken"]);
    let data =
        &read["mapElementInvokeResponses"][0]["pageResponse"]["pageComponentDataResponses"][0];
    assert_eq!(data["contentValue"], "first");
    // JOIN reads without a change; a body naming another state is refused.
    let join = ok(
        &app,
        &key,
        Method::POST,
        &path,
        Some(json!({"invokeType": "JOIN", "stateToken": synced["stateToken"]})),
    )
    .await;
    assert_eq!(join["stateToken"], synced["stateToken"]);
    let other = json!({"invokeType": "FORWARD", "stateToken": synced["stateToken"], "stateId": uuid::Uuid::new_v4()});
    assert_error(
        send(&app, &key, Method::POST, &path, Some(other)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let navigate = json!({"invokeType": "NAVIGATE", "stateToken": synced["stateToken"]});
    assert_error(
        send(&app, &key, Method::POST, &path, Some(navigate)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // Setting values is a write too: the token changes, the earlier one is refused.
    let set = json!([{"developerName": "name all_users", "contentValue": "set"}]);
    let answered = ok(
        &app,
        &key,
        Method::POST,
        &format!("{path}/values"),
        Some(set),
    )
    .await;
    assert_eq!(answered[0]["contentValue"], "set");
    let forward_old = forward(&synced["stateToken"], None, json!([]));
    assert_error(
        send(&app, &key, Method::POST, &path, Some(forward_old)).await,
        StatusCode::CONFLICT,
    )
    .await;
    let read = ok(&app, &key, Method::GET, &path, None).await;
    assert_ne!(read["stateToken"], synced["stateToken"]);
    let data =
        &read["mapElementInvokeResponses"][0]["pageResponse"]["pageComponentDataResponses"][0];
    assert_eq!(data["contentValue"], "set");
    let nowhere = json!([{"developerName": "No such value", "contentValue": "x"}]);
    assert_error(
        send(
            &app,
            &key,
            Method::POST,
            &format!("{path}/values"),
            Some(nowhere),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let unknown = format!("/api/run/1/state/{}", uuid::Uuid::new_v4());
    assert_error(
        send(&app, &key, Method::GET, &unknown, None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn of_two_invokes_with_one_token_exactly_one_wins() {
    let app = TestApp::spawn().await;
    let key = app.new_key("run").await;
    let built = build(&app, &key, "ALL_USERS", "STEP").await;
    for round in 0..10 {
        let (started, path) = start_state(&app, &key, &built.flow).await;
        let body = |name: &str| {
            forward(
                &started["stateToken"],
                None,
                json!([{"pageComponentId": built.name_box, "contentValue": name}]),
            )
        };
        let (a, b) = tokio::join!(
            send(&app, &key, Method::POST, &path, Some(body("a"))),
            send(&app, &key, Method::POST, &path, Some(body("b"))),
        );
        let statuses = [a.status(), b.status()];
        let winner = match statuses {
            [StatusCode::OK, StatusCode::CONFLICT] => a,
            [StatusCode::CONFLICT, StatusCode::OK] => b,
            other => panic!("round {round}: {other:?}"),
        };
        let won = assert_json(winner, StatusCode::OK).await;
        let read = ok(&app, &key, Method::GET, &path, None).await;
        assert_eq!(read["stateToken"], won["stateToken"], "round {round}");
        let data =
            &read["mapElementInvokeResponses"][0]["pageResponse"]["pageComponentDataResponses"][0];
        let shown =
            &won["mapElementInvokeResponses"][0]["pageResponse"]["pageComponentDataResponses"][0];
        assert_eq!(
            data["contentValue"], shown["contentValue"],
            "round {round}: the winner's answer"
        );
    }
}

async fn who_may_run_a_flow_follows_its_authorization() {
    let app = TestApp::spawn().await;
    let key = app.new_key("run").await;
    let members = build(&app, &key, "ALL_USERS", "STEP").await;
    let public = build(&app, &key, "PUBLIC", "STEP").await;
    let anonymous = |path: &str| {
        app.client
            .request(Method::POST, app.url(path))
            .header(TENANT_HEADER, &app.tenant_id)
    };
    // No credential: a public flow runs, one for members is 401, no tenant at all 401.
    let body = |flow: &str| json!({"flowId": {"id": flow}});
    let refused = anonymous("/api/run/1")
        .json(&body(&members.flow))
        .send()
        .await
        .unwrap();
    assert_error(refused, StatusCode::UNAUTHORIZED).await;
    let started = anonymous("/api/run/1")
        .json(&body(&public.flow))
        .send()
        .await
        .unwrap();
    let started = assert_json(started, StatusCode::OK).await;
    let no_tenant = app
        .client
        .post(app.url("/api/run/1"))
        .json(&body(&public.flow))
        .send()
        .await
        .unwrap();
    assert_error(no_tenant, StatusCode::UNAUTHORIZED).await;
    let listed = app
        .client
        .get(app.url("/api/run/1/flow"))
        .header(TENANT_HEADER, &app.tenant_id)
        .send()
        .await
        .unwrap();
    let listed = assert_json(listed, StatusCode::OK).await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "only the public flow: {listed}"
    );
    assert_eq!(listed[0]["id"]["id"], public.flow.as_str());
    // Another tenant's caller does not find the state.
    let other = app.second_tenant("Elsewhere").await;
    let path = format!("/api/run/1/state/{}", started["stateId"].as_str().unwrap());
    let elsewhere = app
        .client
        .get(app.url(&path))
        .header(TENANT_HEADER, &other)
        .send()
        .await
        .unwrap();
    assert_error(elsewhere, StatusCode::NOT_FOUND).await;
    // A narrowed key needs flows:run.
    let token = app.admin_token().await;
    let narrowed = |scopes: Value, name: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
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
    };
    let reader = narrowed(json!(["flows:read"]), "reader").await;
    let refused = send(
        &app,
        &reader,
        Method::POST,
        "/api/run/1",
        Some(body(&members.flow)),
    )
    .await;
    let message = assert_error(refused, StatusCode::FORBIDDEN).await;
    assert!(message.contains("flows:run"), "{message}");
    let runner = narrowed(json!(["flows:run"]), "runner").await;
    ok(
        &app,
        &runner,
        Method::POST,
        "/api/run/1",
        Some(body(&members.flow)),
    )
    .await;
    // SPECIFIED: only the users it lists.
    let flow = header(&app, &key, &members.flow).await;
    let mut specified = flow.clone();
    specified["authorization"] = json!({"globalAuthenticationType": "SPECIFIED",
        "users": [{"authenticationId": "someone@example.com"}]});
    let saved = ok(&app, &key, Method::POST, FLOW, Some(specified)).await;
    let version = saved["id"]["versionId"].as_str().unwrap().to_string();
    ok(
        &app,
        &key,
        Method::POST,
        &format!("{FLOW}/snap/{}", members.flow),
        Some(json!("specified")),
    )
    .await;
    let pinned = json!({"flowId": {"id": members.flow, "versionId": version}});
    let refused = send(&app, &key, Method::POST, "/api/run/1", Some(pinned)).await;
    assert_error(refused, StatusCode::FORBIDDEN).await;
    // The draft's version is never run.
    let draft = header(&app, &key, &members.flow).await;
    let draft = json!({"flowId": {"id": members.flow, "versionId": draft["id"]["versionId"]}});
    assert_error(
        send(&app, &key, Method::POST, "/api/run/1", Some(draft)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn a_connector_element_faults_naming_it() {
    let app = TestApp::spawn().await;
    let key = app.new_key("run").await;
    let built = build(&app, &key, "ALL_USERS", "MESSAGE").await;
    let (started, path) = start_state(&app, &key, &built.flow).await;
    let answers = json!([{"pageComponentId": built.name_box, "contentValue": "Ada"}]);
    let faulted = ok(
        &app,
        &key,
        Method::POST,
        &path,
        Some(forward(
            &started["stateToken"],
            Some("00000000-0000-4000-8000-0000000000f1"),
            answers,
        )),
    )
    .await;
    let element = &faulted["mapElementInvokeResponses"][0];
    assert_eq!(
        element["rootFaults"]["Tell someone"],
        "keyflow does not call connectors"
    );
    // Nothing of the faulted invoke is kept: the run waits at the page, the answer not taken.
    assert_eq!(
        faulted["currentMapElementId"],
        started["currentMapElementId"]
    );
    let read = ok(&app, &key, Method::GET, &path, None).await;
    let data =
        &read["mapElementInvokeResponses"][0]["pageResponse"]["pageComponentDataResponses"][0];
    assert_eq!(data["contentValue"], Value::Null);
}

/// A state is kept in the store: after a graceful stop and a new start on the same data, it
/// is where it was, with its token and its values, and runs on to its end.
async fn a_state_survives_a_restart() {
    let app = TestApp::spawn().await;
    let key = app.new_key("run").await;
    let built = build(&app, &key, "ALL_USERS", "STEP").await;
    let (started, path) = start_state(&app, &key, &built.flow).await;
    let answers = json!([{"pageComponentId": built.name_box, "contentValue": "Ada"}]);
    // Answered but not sent on (no outcome): the page again, holding the answer.
    let waiting = ok(
        &app,
        &key,
        Method::POST,
        &path,
        Some(forward(&started["stateToken"], None, answers.clone())),
    )
    .await;

    let app = app.restart().await;
    let read = ok(&app, &key, Method::GET, &path, None).await;
    assert_eq!(read["stateToken"], waiting["stateToken"]);
    assert_eq!(read["currentMapElementId"], waiting["currentMapElementId"]);
    let data =
        &read["mapElementInvokeResponses"][0]["pageResponse"]["pageComponentDataResponses"][0];
    assert_eq!(data["contentValue"], "Ada", "the answer kept: {read}");
    let go = Some("00000000-0000-4000-8000-0000000000f1");
    let done = ok(
        &app,
        &key,
        Method::POST,
        &path,
        Some(forward(&read["stateToken"], go, answers)),
    )
    .await;
    assert_eq!(done["invokeType"], "DONE");
    assert_eq!(
        done["mapElementInvokeResponses"][0]["pageResponse"]["pageComponentDataResponses"][0]["content"],
        "<p>Hello Ada, visit 2</p>"
    );
}

/// Starts without a credential spend their address's budget (`--anonymous-run-start-burst`):
/// past it, 429 with Retry-After, through the API and the player alike; a start with a key,
/// and invoking a state already started, spend nothing.
async fn runs_started_without_a_credential_are_limited_per_address() {
    let app = TestApp::spawn_with(|config| config.anonymous_run_start_burst = 2).await;
    let key = app.new_key("run").await;
    let public = build(&app, &key, "PUBLIC", "STEP").await;
    let start = || {
        app.client
            .post(app.url("/api/run/1"))
            .header(TENANT_HEADER, &app.tenant_id)
            .json(&json!({"flowId": {"id": public.flow}}))
            .send()
    };
    let first = assert_json(start().await.unwrap(), StatusCode::OK).await;
    assert_json(start().await.unwrap(), StatusCode::OK).await;
    let limited = start().await.unwrap();
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    let message = assert_error(limited, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(message.contains("without a credential"), "{message}");
    // The player's start shares the budget.
    let player = app
        .client
        .get(app.url(&format!(
            "/{}/play/default?flow-id={}",
            app.tenant_id, public.flow
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(player.status(), StatusCode::TOO_MANY_REQUESTS);
    // A credential spends nothing of it; nor does going on with a state already started.
    ok(
        &app,
        &key,
        Method::POST,
        "/api/run/1",
        Some(json!({"flowId": {"id": public.flow}})),
    )
    .await;
    let path = format!("/api/run/1/state/{}", first["stateId"].as_str().unwrap());
    let joined = app
        .client
        .get(app.url(&path))
        .header(TENANT_HEADER, &app.tenant_id)
        .send()
        .await
        .unwrap();
    assert_json(joined, StatusCode::OK).await;
}
