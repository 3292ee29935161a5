//! Running flows, the moves past pages: `NAVIGATE` and `/api/run/1/navigation/{stateId}`,
//! SUBFLOW elements run inside the state, and lists, objects and passwords as a state's values.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::graph::{current_token, elements_path, flow_id};
use crate::helpers::{TENANT_HEADER, TestApp, assert_error, both_backends};
use crate::run::{
    FLOW, build, forward, map_element, ok, outcome, publish, send, start_state, tenant_element,
};

both_backends! {
    navigate_moves_a_state_to_the_element_an_item_points_to,
    a_subflow_runs_in_the_parents_state_and_returns_its_values,
    lists_objects_and_passwords_are_values_of_a_state,
}

/// The content of the first component of the page or step an answer shows.
fn shown(answer: &Value) -> &Value {
    &answer["mapElementInvokeResponses"][0]["pageResponse"]["pageComponentDataResponses"][0]["content"]
}

/// A new flow: its id and its START element's.
async fn new_flow(app: &TestApp, key: &str, name: &str) -> (String, String) {
    let flow = ok(
        app,
        key,
        Method::POST,
        FLOW,
        Some(json!({"developerName": name})),
    )
    .await;
    let start = flow["startMapElementId"].as_str().unwrap().to_string();
    (flow_id(&flow), start)
}

/// Points the flow's START element to `next`.
async fn start_to(app: &TestApp, key: &str, flow: &str, start: &str, next: &str) {
    map_element(
        app,
        key,
        flow,
        json!({"id": start, "elementType": "START", "developerName": "Start", "x": 10, "y": 10,
        "outcomes": [outcome("00000000-0000-4000-8000-00000000aaa1", next)]}),
    )
    .await;
}

async fn navigate_moves_a_state_to_the_element_an_item_points_to() {
    let app = TestApp::spawn().await;
    let key = app.new_key("run").await;
    let built = build(&app, &key, "ALL_USERS", "STEP").await;
    let token = current_token(&app, &key, &built.flow).await;
    let menu = ok(&app, &key, Method::POST, &elements_path(&built.flow, &token, "navigation"),
        Some(json!({"developerName": "Menu", "label": "Menu", "persistValues": true, "navigationItems": [
            {"id": "00000000-0000-4000-8000-00000000b001", "developerName": "Ask", "label": "Ask again",
             "locationMapElementId": built.ask, "order": 0},
            {"id": "00000000-0000-4000-8000-00000000b002", "developerName": "More", "label": "More", "order": 1,
             "navigationItems": [{"id": "00000000-0000-4000-8000-00000000b003", "developerName": "Odd",
                "label": "The odd one", "locationMapElementId": built.odd, "order": 0}]}
        ]}))).await;
    let menu = menu["id"].as_str().unwrap().to_string();
    publish(&app, &key, &built.flow, None).await;

    // The invoke answer lists the flow's navigations, as Boomi's does.
    let (started, path) = start_state(&app, &key, &built.flow).await;
    let state = started["stateId"].as_str().unwrap().to_string();
    let first = ok(&app, &key, Method::GET, &path, None).await;
    let references = &first["navigationElementReferences"];
    assert_eq!(references.as_array().unwrap().len(), 1, "{first}");
    assert_eq!(references[0]["id"], menu.as_str());
    assert_eq!(references[0]["developerName"], "Menu");
    assert_eq!(references[0]["persistValues"], true);

    // The navigation, read: its items nested, the one the state is at current.
    let navigation = format!("/api/run/1/navigation/{state}");
    let read = ok(&app, &key, Method::POST, &navigation,
        Some(json!({"stateId": state, "stateToken": first["stateToken"], "navigationElementId": menu}))).await;
    assert_eq!(read["developerName"], "Menu");
    assert_eq!(read["stateId"], state.as_str());
    let items = &read["navigationItemResponses"];
    assert_eq!(items[0]["label"], "Ask again");
    assert_eq!(items[1]["navigationItems"][0]["label"], "The odd one");
    let data = read["navigationItemDataResponses"].as_array().unwrap();
    assert_eq!(data.len(), 3, "every item, at any depth");
    let current: Vec<&Value> = data.iter().filter(|d| d["isCurrent"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["locationMapElementId"], built.ask.as_str());

    // Refused, changing nothing: an item without a place, an unknown item or navigation,
    // NAVIGATE without them, a body naming another state.
    let go = |token: &Value, item: &str| {
        json!({"invokeType": "NAVIGATE", "stateToken": token, "navigationElementId": menu,
               "selectedNavigationItemId": item})
    };
    let token = &first["stateToken"];
    for item in [
        "00000000-0000-4000-8000-00000000b002",
        "00000000-0000-4000-8000-00000000bfff",
    ] {
        let refused = send(&app, &key, Method::POST, &path, Some(go(token, item))).await;
        assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let bare = json!({"invokeType": "NAVIGATE", "stateToken": token});
    let refused = send(&app, &key, Method::POST, &path, Some(bare)).await;
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    let unknown = json!({"navigationElementId": uuid::Uuid::new_v4()});
    let refused = send(&app, &key, Method::POST, &navigation, Some(unknown)).await;
    assert_error(refused, StatusCode::NOT_FOUND).await;
    let other = json!({"navigationElementId": menu, "stateId": uuid::Uuid::new_v4()});
    let refused = send(&app, &key, Method::POST, &navigation, Some(other)).await;
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    let still = ok(&app, &key, Method::GET, &path, None).await;
    assert_eq!(&still["stateToken"], token);

    // NAVIGATE to the page's own item: the page again, with a new token.
    let again = ok(
        &app,
        &key,
        Method::POST,
        &path,
        Some(go(token, "00000000-0000-4000-8000-00000000b001")),
    )
    .await;
    assert_eq!(again["currentMapElementId"], built.ask.as_str());
    assert_ne!(&again["stateToken"], token);
    // To the nested item: the odd step, the flow's end.
    let moved = ok(
        &app,
        &key,
        Method::POST,
        &path,
        Some(go(
            &again["stateToken"],
            "00000000-0000-4000-8000-00000000b003",
        )),
    )
    .await;
    assert_eq!(moved["currentMapElementId"], built.odd.as_str());
    assert_eq!(
        moved["mapElementInvokeResponses"][0]["developerName"],
        "Odd"
    );
    assert_eq!(moved["invokeType"], "DONE");
    let read = ok(
        &app,
        &key,
        Method::POST,
        &navigation,
        Some(json!({"navigationElementId": menu})),
    )
    .await;
    let active: Vec<&str> = read["navigationItemDataResponses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["isActive"] == true)
        .map(|d| d["navigationItemDeveloperName"].as_str().unwrap())
        .collect();
    assert_eq!(
        active,
        ["More", "Odd"],
        "the current item and the one above it"
    );
    // An earlier token is stale.
    let stale = send(
        &app,
        &key,
        Method::POST,
        &path,
        Some(go(
            &again["stateToken"],
            "00000000-0000-4000-8000-00000000b001",
        )),
    )
    .await;
    assert_error(stale, StatusCode::CONFLICT).await;
    // A flow for members only: no navigation without a credential.
    let anonymous = app
        .client
        .post(app.url(&navigation))
        .header(TENANT_HEADER, &app.tenant_id)
        .json(&json!({"navigationElementId": menu}))
        .send()
        .await
        .unwrap();
    assert_error(anonymous, StatusCode::UNAUTHORIZED).await;
}

async fn a_subflow_runs_in_the_parents_state_and_returns_its_values() {
    let app = TestApp::spawn().await;
    let key = app.new_key("run").await;
    let inner = tenant_element(
        &app,
        &key,
        "value",
        json!({"developerName": "Inner", "contentType": "ContentString"}),
    )
    .await;
    let caller = tenant_element(&app, &key, "value",
        json!({"developerName": "Caller", "contentType": "ContentString", "defaultContentValue": "Ada"})).await;
    // The subflow: START → operator (Inner + "!") → step "Inside" whose outcome ends it.
    let (child, child_start) = new_flow(&app, &key, "Child").await;
    let inside = map_element(&app, &key, &child, json!({"elementType": "STEP", "developerName": "Inside",
        "x": 300, "y": 10, "userContent": "In {![Inner]}",
        "outcomes": [{"id": "00000000-0000-4000-8000-00000000c001", "developerName": "Out", "label": "Out", "order": 0}]})).await;
    let bang = map_element(&app, &key, &child, json!({"elementType": "OPERATOR", "developerName": "Bang", "x": 200, "y": 10,
        "operations": [{"order": 0, "valueElementToApplyId": {"id": inner, "command": "ADD"}, "valueElementToReferenceId": "!"}],
        "outcomes": [outcome("00000000-0000-4000-8000-00000000c002", &inside)]})).await;
    start_to(&app, &key, &child, &child_start, &bang).await;
    publish(&app, &key, &child, None).await;
    // The parent: START → SUBFLOW "Call child" (Inner ↔ Caller) → step "Back".
    let (parent, parent_start) = new_flow(&app, &key, "Parent").await;
    let back = map_element(
        &app,
        &key,
        &parent,
        json!({"elementType": "STEP", "developerName": "Back",
        "x": 300, "y": 10, "userContent": "Hi {![Caller]}"}),
    )
    .await;
    let call = map_element(
        &app,
        &key,
        &parent,
        json!({"elementType": "SUBFLOW", "developerName": "Call child",
        "x": 200, "y": 10, "subflow": {"flowId": {"id": child}, "arguments": [
            {"valueElementInSubflowId": {"id": inner}, "valueElementToApplyId": {"id": caller}}]},
        "operations": [],
        "outcomes": [outcome("00000000-0000-4000-8000-00000000c003", &back)]}),
    )
    .await;
    start_to(&app, &key, &parent, &parent_start, &call).await;
    publish(&app, &key, &parent, None).await;

    // Started: the one state waits inside the subflow, the argument passed in.
    let (started, path) = start_state(&app, &key, &parent).await;
    assert_eq!(started["currentMapElementId"], inside.as_str());
    let waiting = ok(&app, &key, Method::GET, &path, None).await;
    assert_eq!(waiting["flowId"], parent.as_str(), "the parent's state");
    assert_eq!(
        waiting["mapElementInvokeResponses"][0]["developerName"],
        "Inside"
    );
    assert_eq!(shown(&waiting), "In Ada!");
    // Its outcome ends the subflow: back in the parent, the argument returned.
    let done = ok(
        &app,
        &key,
        Method::POST,
        &path,
        Some(forward(
            &waiting["stateToken"],
            Some("00000000-0000-4000-8000-00000000c001"),
            json!([]),
        )),
    )
    .await;
    assert_eq!(done["invokeType"], "DONE");
    assert_eq!(done["currentMapElementId"], back.as_str());
    assert_eq!(shown(&done), "Hi Ada!");
    let value = ok(
        &app,
        &key,
        Method::GET,
        &format!("{path}/values/{caller}"),
        None,
    )
    .await;
    assert_eq!(value["contentValue"], "Ada!");

    // A subflow of a flow the tenant does not run: a fault naming the element.
    let (orphan, orphan_start) = new_flow(&app, &key, "Orphan").await;
    let nowhere = uuid::Uuid::new_v4().to_string();
    let call = map_element(
        &app,
        &key,
        &orphan,
        json!({"elementType": "SUBFLOW", "developerName": "Call nobody",
        "x": 200, "y": 10, "subflow": {"flowId": {"id": nowhere}}}),
    )
    .await;
    start_to(&app, &key, &orphan, &orphan_start, &call).await;
    publish(&app, &key, &orphan, None).await;
    let read = ok(
        &app,
        &key,
        Method::POST,
        "/api/run/1/state",
        Some(json!({"id": orphan})),
    )
    .await;
    let fault = read["mapElementInvokeResponses"][0]["rootFaults"]["Call nobody"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(fault.contains(&nowhere), "{read}");
}

async fn lists_objects_and_passwords_are_values_of_a_state() {
    let app = TestApp::spawn().await;
    let key = app.new_key("run").await;
    let people = json!([{"developerName": "Person", "order": 0,
        "properties": [{"developerName": "Name", "contentValue": "Ada", "contentType": "ContentString"}]}]);
    let list = tenant_element(
        &app,
        &key,
        "value",
        json!({"developerName": "People", "contentType": "ContentList",
        "defaultObjectData": people}),
    )
    .await;
    let mut ids = Vec::new();
    for (name, content_type) in [
        ("Copy", "ContentList"),
        ("Customer", "ContentObject"),
        ("Secret", "ContentPassword"),
        ("When", "ContentDateTime"),
    ] {
        let body = json!({"developerName": name, "contentType": content_type});
        ids.push(tenant_element(&app, &key, "value", body).await);
    }
    let [copy, customer, secret, when] = <[String; 4]>::try_from(ids).unwrap();
    let (flow, start) = new_flow(&app, &key, "Objects").await;
    let show = map_element(&app, &key, &flow, json!({"elementType": "STEP", "developerName": "Show", "x": 300, "y": 10,
        "userContent": "At {![When]}",
        "outcomes": [{"id": "00000000-0000-4000-8000-00000000d001", "developerName": "Go", "order": 0}]})).await;
    let same = |id: &str| json!({"valueElementToApplyId": {"id": id}, "valueElementToReferenceId": {"id": id}});
    let op = map_element(&app, &key, &flow, json!({"elementType": "OPERATOR", "developerName": "Copy people", "x": 200, "y": 10,
        "operations": [
            {"order": 0, "valueElementToApplyId": {"id": copy}, "valueElementToReferenceId": {"id": list}},
            same(&customer), same(&secret), same(&when)],
        "outcomes": [outcome("00000000-0000-4000-8000-00000000d002", &show)]})).await;
    start_to(&app, &key, &flow, &start, &op).await;
    publish(&app, &key, &flow, None).await;

    let customer_data = json!([{"developerName": "Customer", "externalId": "c-1",
        "properties": [{"developerName": "Email", "contentValue": "ada@example.com"}]}]);
    let started = ok(
        &app,
        &key,
        Method::POST,
        "/api/run/1",
        Some(json!({"flowId": {"id": flow}, "inputs": [
        {"developerName": "Customer", "objectData": customer_data},
        {"developerName": "Secret", "contentValue": "hunter2"},
        {"valueElementId": when, "contentValue": "2026-12-07T10:00:00Z"}]})),
    )
    .await;
    let path = format!("/api/run/1/state/{}", started["stateId"].as_str().unwrap());
    let read = ok(&app, &key, Method::GET, &path, None).await;
    assert_eq!(shown(&read), "At 2026-12-07T10:00:00Z");
    let values = ok(&app, &key, Method::GET, &format!("{path}/values"), None).await;
    let by_name = |name: &str| {
        values
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["developerName"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_name("People")["objectData"],
        people,
        "the default object data"
    );
    assert_eq!(by_name("Copy")["objectData"], people, "set by the operator");
    assert_eq!(
        by_name("Customer")["objectData"],
        customer_data,
        "the input"
    );
    assert_eq!(by_name("Customer")["contentType"], "ContentObject");
    assert_eq!(by_name("When")["contentValue"], "2026-12-07T10:00:00Z");
    let hidden = by_name("Secret");
    assert_eq!(
        hidden["contentValue"],
        Value::Null,
        "a password is never answered"
    );
    assert!(!values.to_string().contains("hunter2"));
    let one = ok(
        &app,
        &key,
        Method::GET,
        &format!("{path}/values/{secret}"),
        None,
    )
    .await;
    assert_eq!(one["contentValue"], Value::Null);

    // Set through the values endpoint: object data for a list, refused for a string and the
    // other way round.
    let set = ok(
        &app,
        &key,
        Method::POST,
        &format!("{path}/values"),
        Some(json!([{"valueElementId": copy, "objectData": []}])),
    )
    .await;
    assert_eq!(set[0]["objectData"], json!([]));
    for wrong in [
        json!([{"valueElementId": when, "objectData": customer_data}]),
        json!([{"valueElementId": list, "contentValue": "not a list"}]),
    ] {
        let refused = send(
            &app,
            &key,
            Method::POST,
            &format!("{path}/values"),
            Some(wrong),
        )
        .await;
        assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let refused = send(
        &app,
        &key,
        Method::POST,
        "/api/run/1",
        Some(json!({"flowId": {"id": flow},
        "inputs": [{"developerName": "When", "objectData": customer_data}]})),
    )
    .await;
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
}
