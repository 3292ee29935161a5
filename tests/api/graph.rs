//! A flow's graph: its map, group and navigation elements
//! (`/api/draw/1/flow/{flow}/{editingToken}/element/…`), the graph endpoints
//! (`/api/draw/1|2/graph/flow…`), flows posted with elements, and imported tenant elements.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, assert_json, both_backends};

both_backends! {
    a_new_flow_lists_its_start_element,
    map_elements_joined_by_outcomes_keep_the_token,
    an_outcome_to_a_missing_element_is_refused_naming_it,
    the_start_element_cannot_be_deleted_nor_changed,
    group_elements_hold_map_elements,
    a_navigation_element_round_trips_and_update_by_name_finds_it,
    the_graph_round_trips_with_its_layout,
    the_draw_2_graph_moves_and_deletes_elements,
    the_draw_2_graph_names_subflows_pages_and_waits,
    a_flow_posted_with_map_elements_keeps_them,
    a_tenant_element_is_imported_and_removed,
    another_tenants_flow_is_not_found,
    a_reference_to_an_element_the_tenant_lacks_is_refused_on_every_write,
    references_to_the_flows_and_the_tenants_elements_are_kept,
}

pub(crate) async fn setup() -> (TestApp, String, Value) {
    let app = TestApp::spawn().await;
    let key = app.new_key("graph").await;
    let response = app
        .with_key(Method::POST, "/api/draw/1/flow", &key)
        .json(&json!({"developerName": "Graph"}))
        .send()
        .await
        .unwrap();
    let flow = assert_json(response, StatusCode::OK).await;
    (app, key, flow)
}

pub(crate) fn flow_id(flow: &Value) -> String {
    flow["id"]["id"].as_str().unwrap().to_string()
}

pub(crate) async fn current_token(app: &TestApp, key: &str, flow: &str) -> String {
    let response = app
        .with_key(Method::GET, &format!("/api/draw/1/flow/{flow}"), key)
        .send()
        .await
        .unwrap();
    let flow = assert_json(response, StatusCode::OK).await;
    flow["editingToken"].as_str().unwrap().to_string()
}

pub(crate) fn elements_path(flow: &str, token: &str, kind: &str) -> String {
    format!("/api/draw/1/flow/{flow}/{token}/element/{kind}")
}

async fn post_element(app: &TestApp, key: &str, flow: &str, kind: &str, body: Value) -> Response {
    let token = current_token(app, key, flow).await;
    app.with_key(Method::POST, &elements_path(flow, &token, kind), key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn list(app: &TestApp, key: &str, flow: &str, kind: &str) -> Vec<Value> {
    let token = current_token(app, key, flow).await;
    let response = app
        .with_key(Method::GET, &elements_path(flow, &token, kind), key)
        .send()
        .await
        .unwrap();
    let body = assert_json(response, StatusCode::OK).await;
    body.as_array().unwrap().clone()
}

async fn delete_element(app: &TestApp, key: &str, flow: &str, kind: &str, id: &str) -> Response {
    let token = current_token(app, key, flow).await;
    app.with_key(
        Method::DELETE,
        &format!("{}/{id}", elements_path(flow, &token, kind)),
        key,
    )
    .send()
    .await
    .unwrap()
}

/// A builder's save of the flow itself: fetched, then posted back as it is.
pub(crate) async fn save_flow(app: &TestApp, key: &str, flow: &str) -> Value {
    let path = format!("/api/draw/1/flow/{flow}");
    let response = app.with_key(Method::GET, &path, key).send().await.unwrap();
    let fetched = assert_json(response, StatusCode::OK).await;
    let response = app
        .with_key(Method::POST, "/api/draw/1/flow", key)
        .json(&fetched)
        .send()
        .await
        .unwrap();
    assert_json(response, StatusCode::OK).await
}

fn start_of(flow: &Value) -> String {
    flow["startMapElementId"].as_str().unwrap().to_string()
}

async fn a_new_flow_lists_its_start_element() {
    let (app, key, flow) = setup().await;
    let maps = list(&app, &key, &flow_id(&flow), "map").await;
    assert_eq!(maps.len(), 1);
    assert_eq!(maps[0]["elementType"], "START");
    assert_eq!(maps[0]["id"].as_str().unwrap(), start_of(&flow));
    // Another spelling of the type is served as Boomi's literal path is.
    assert_eq!(list(&app, &key, &flow_id(&flow), "MAP").await, maps);
    // A token that is not a UUID is a malformed path.
    let path = elements_path(&flow_id(&flow), "not-a-token", "map");
    let response = app.with_key(Method::GET, &path, &key).send().await.unwrap();
    assert_error(response, StatusCode::BAD_REQUEST).await;
    let path = elements_path(
        &flow_id(&flow),
        flow["editingToken"].as_str().unwrap(),
        "step",
    );
    let response = app.with_key(Method::GET, &path, &key).send().await.unwrap();
    assert_error(response, StatusCode::BAD_REQUEST).await;
}

async fn map_elements_joined_by_outcomes_keep_the_token() {
    let (app, key, flow) = setup().await;
    let id = flow_id(&flow);
    let first_token = flow["editingToken"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for name in ["Three", "Two", "One"] {
        let outcomes = match ids.last() {
            Some(next) => json!([{"developerName": "next", "nextMapElementId": next}]),
            None => json!([]),
        };
        let body = json!({"elementType": "STEP", "developerName": name, "x": 10, "y": 20,
                          "outcomes": outcomes, "custom": {"kept": [1, 2]}});
        let saved = assert_json(
            post_element(&app, &key, &id, "map", body).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(saved["developerName"], name);
        assert_eq!(saved["custom"], json!({"kept": [1, 2]}));
        ids.push(saved["id"].as_str().unwrap().to_string());
    }
    let maps = list(&app, &key, &id, "map").await;
    assert_eq!(maps.len(), 4);
    let one = maps.iter().find(|m| m["developerName"] == "One").unwrap();
    assert_eq!(one["outcomes"][0]["nextMapElementId"], ids[1]);
    // The element writes kept the token; a save of the flow renews it, and the first one is
    // stale then.
    assert_eq!(current_token(&app, &key, &id).await, first_token);
    save_flow(&app, &key, &id).await;
    let now = current_token(&app, &key, &id).await;
    assert_ne!(now, first_token);
    let response = app
        .with_key(Method::POST, &elements_path(&id, &first_token, "map"), &key)
        .json(&json!({"elementType": "STEP", "developerName": "Late"}))
        .send()
        .await
        .unwrap();
    let message = assert_error(response, StatusCode::CONFLICT).await;
    assert!(message.contains("editingToken"), "{message}");
    // Reads answer whatever the token.
    let response = app
        .with_key(Method::GET, &elements_path(&id, &first_token, "map"), &key)
        .send()
        .await
        .unwrap();
    assert_json(response, StatusCode::OK).await;
    // The filter reads names.
    let path = format!(
        "{}?filter={}",
        elements_path(&id, &now, "map"),
        "substringof(developerName,'tw')"
    );
    let response = app.with_key(Method::GET, &path, &key).send().await.unwrap();
    let found = assert_json(response, StatusCode::OK).await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["developerName"], "Two");
    // Get by id, and an update by id keeps the id.
    let path = format!("{}/{}", elements_path(&id, &now, "map"), ids[0]);
    let response = app.with_key(Method::GET, &path, &key).send().await.unwrap();
    assert_eq!(
        assert_json(response, StatusCode::OK).await["developerName"],
        "Three"
    );
    let body = json!({"id": ids[0], "elementType": "STEP", "developerName": "Third"});
    let saved = assert_json(
        post_element(&app, &key, &id, "map", body).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(saved["id"], ids[0]);
    assert_eq!(list(&app, &key, &id, "map").await.len(), 4);
}

async fn an_outcome_to_a_missing_element_is_refused_naming_it() {
    let (app, key, flow) = setup().await;
    let id = flow_id(&flow);
    let missing = uuid::Uuid::new_v4().to_string();
    let body = json!({"elementType": "STEP", "developerName": "Lost",
                      "outcomes": [{"developerName": "nowhere", "nextMapElementId": missing}]});
    let message = assert_error(
        post_element(&app, &key, &id, "map", body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        message.contains(&missing) && message.contains("nowhere"),
        "{message}"
    );
    let body = json!({"developerName": "Bad", "x": "left"});
    assert_error(
        post_element(&app, &key, &id, "map", body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // Deleting an element another's outcome points at is refused, naming the outcome.
    let target = assert_json(
        post_element(
            &app,
            &key,
            &id,
            "map",
            json!({"elementType": "STEP", "developerName": "End"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let target_id = target["id"].as_str().unwrap().to_string();
    let body = json!({"elementType": "STEP", "developerName": "Before",
                      "outcomes": [{"developerName": "finish", "nextMapElementId": target_id}]});
    assert_json(
        post_element(&app, &key, &id, "map", body).await,
        StatusCode::OK,
    )
    .await;
    let message = assert_error(
        delete_element(&app, &key, &id, "map", &target_id).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        message.contains("finish") && message.contains(&target_id),
        "{message}"
    );
    assert_eq!(list(&app, &key, &id, "map").await.len(), 3);
}

async fn the_start_element_cannot_be_deleted_nor_changed() {
    let (app, key, flow) = setup().await;
    let id = flow_id(&flow);
    let start = start_of(&flow);
    let message = assert_error(
        delete_element(&app, &key, &id, "map", &start).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(message.contains("START"), "{message}");
    let body = json!({"id": start, "elementType": "STEP", "developerName": "Not a start"});
    assert_error(
        post_element(&app, &key, &id, "map", body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // Moving it is fine, and it stays the START element.
    let body = json!({"id": start, "developerName": "Begin", "x": 300, "y": 40});
    let saved = assert_json(
        post_element(&app, &key, &id, "map", body).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(saved["elementType"], "START");
    let response = app
        .with_key(Method::GET, &format!("/api/draw/1/flow/{id}"), &key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        start_of(&assert_json(response, StatusCode::OK).await),
        start
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_error(
        delete_element(&app, &key, &id, "map", &unknown).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn group_elements_hold_map_elements() {
    let (app, key, flow) = setup().await;
    let id = flow_id(&flow);
    let body = json!({"elementType": "GROUP", "developerName": "Swimlane", "x": 0, "y": 0, "width": 400, "height": 200});
    let group = assert_json(
        post_element(&app, &key, &id, "group", body).await,
        StatusCode::OK,
    )
    .await;
    let group_id = group["id"].as_str().unwrap().to_string();
    let body =
        json!({"elementType": "STEP", "developerName": "Inside", "groupElementId": group_id});
    assert_json(
        post_element(&app, &key, &id, "map", body).await,
        StatusCode::OK,
    )
    .await;
    let message = assert_error(
        delete_element(&app, &key, &id, "group", &group_id).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(message.contains("Inside"), "{message}");
    let missing = uuid::Uuid::new_v4().to_string();
    let body = json!({"elementType": "STEP", "developerName": "Orphan", "groupElementId": missing});
    let message = assert_error(
        post_element(&app, &key, &id, "map", body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(message.contains(&missing), "{message}");
    assert_eq!(list(&app, &key, &id, "group").await[0]["width"], 400);
}

async fn a_navigation_element_round_trips_and_update_by_name_finds_it() {
    let (app, key, flow) = setup().await;
    let id = flow_id(&flow);
    let body = json!({"elementType": "NAVIGATION", "developerName": "Menu", "label": "Main",
                      "navigationItems": [{"label": "Home", "order": 1}], "persistState": true});
    let saved = assert_json(
        post_element(&app, &key, &id, "navigation", body.clone()).await,
        StatusCode::OK,
    )
    .await;
    for field in [
        "elementType",
        "developerName",
        "label",
        "navigationItems",
        "persistState",
    ] {
        assert_eq!(saved[field], body[field], "{field}");
    }
    let body = json!({"updateByName": true, "elementType": "NAVIGATION", "developerName": "MENU", "label": "Renamed"});
    let updated = assert_json(
        post_element(&app, &key, &id, "navigation", body).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(updated["id"], saved["id"]);
    assert!(updated.get("updateByName").is_none());
    let navigation = list(&app, &key, &id, "navigation").await;
    assert_eq!(navigation.len(), 1);
    assert_eq!(navigation[0]["label"], "Renamed");
    let nav_id = saved["id"].as_str().unwrap().to_string();
    let response = delete_element(&app, &key, &id, "navigation", &nav_id).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(list(&app, &key, &id, "navigation").await.is_empty());
}

async fn the_graph_round_trips_with_its_layout() {
    let (app, key, flow) = setup().await;
    let id = flow_id(&flow);
    let step = assert_json(
        post_element(
            &app,
            &key,
            &id,
            "map",
            json!({"elementType": "STEP", "developerName": "Step", "userContent": "<p>hi</p>"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let group = assert_json(
        post_element(
            &app,
            &key,
            &id,
            "group",
            json!({"elementType": "GROUP", "developerName": "G", "width": 10, "height": 10}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let response = app
        .with_key(Method::GET, &format!("/api/draw/1/graph/flow/{id}"), &key)
        .send()
        .await
        .unwrap();
    let mut graph = assert_json(response, StatusCode::OK).await;
    assert_eq!(graph["mapElements"].as_array().unwrap().len(), 2);
    assert_eq!(graph["tenantId"], app.tenant_id);
    assert_eq!(
        graph["editingToken"].as_str().unwrap(),
        current_token(&app, &key, &id).await
    );
    // Move the step, resize the group; a change of another field is not taken.
    for element in graph["mapElements"].as_array_mut().unwrap() {
        if element["id"] == step["id"] {
            element["x"] = json!(500);
            element["y"] = json!(600);
            element["userContent"] = json!("changed");
        }
    }
    graph["groupElements"][0]["width"] = json!(800);
    graph["groupElements"][0]["height"] = json!(300);
    let stale = graph["editingToken"].clone();
    let response = app
        .with_key(Method::POST, "/api/draw/1/graph/flow", &key)
        .json(&graph)
        .send()
        .await
        .unwrap();
    let written = assert_json(response, StatusCode::OK).await;
    let moved = written["mapElements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == step["id"])
        .unwrap()
        .clone();
    assert_eq!(
        (moved["x"].clone(), moved["y"].clone()),
        (json!(500), json!(600))
    );
    assert_eq!(moved["userContent"], "<p>hi</p>");
    assert_eq!(written["groupElements"][0]["id"], group["id"]);
    assert_eq!(
        (
            written["groupElements"][0]["width"].clone(),
            written["groupElements"][0]["height"].clone()
        ),
        (json!(800), json!(300))
    );
    assert_ne!(written["editingToken"], stale);
    // The old token is stale now.
    let response = app
        .with_key(Method::POST, "/api/draw/1/graph/flow", &key)
        .json(&graph)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::CONFLICT).await;
    // load returns whole elements by id.
    let response = app
        .with_key(
            Method::POST,
            &format!("/api/draw/1/graph/flow/{id}/elements/load"),
            &key,
        )
        .json(&json!({"mapElementIds": [step["id"]]}))
        .send()
        .await
        .unwrap();
    let loaded = assert_json(response, StatusCode::OK).await;
    assert_eq!(loaded["mapElements"][0]["userContent"], "<p>hi</p>");
}

async fn the_draw_2_graph_moves_and_deletes_elements() {
    let (app, key, flow) = setup().await;
    let id = flow_id(&flow);
    let end = assert_json(
        post_element(
            &app,
            &key,
            &id,
            "map",
            json!({"elementType": "STEP", "developerName": "End"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let end_id = end["id"].as_str().unwrap().to_string();
    let outcome = uuid::Uuid::new_v4().to_string();
    let body = json!({"elementType": "STEP", "developerName": "Middle", "outcomes": [{"id": outcome, "developerName": "go", "label": "Go on", "nextMapElementId": end_id}]});
    let middle = assert_json(
        post_element(&app, &key, &id, "map", body).await,
        StatusCode::OK,
    )
    .await;
    let response = app
        .with_key(Method::GET, &format!("/api/draw/2/graph/flow/{id}"), &key)
        .send()
        .await
        .unwrap();
    let mut graph = assert_json(response, StatusCode::OK).await;
    assert_eq!(graph["id"], id);
    assert_eq!(graph["mapElements"].as_array().unwrap().len(), 3);
    let entry = graph["mapElements"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["id"] == middle["id"])
        .unwrap();
    assert_eq!(entry["outcomes"][0]["nextMapElementId"], end_id);
    // An integral float is an integer to JSON Schema: read as one.
    entry["x"] = json!(42.0);
    entry["outcomes"][0]["developerName"] = json!("onwards");
    // Tools send a blank id for "no group": read as none, not refused.
    entry["groupElementId"] = json!("");
    let response = app
        .with_key(Method::PUT, "/api/draw/2/graph/flow", &key)
        .json(&graph)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let maps = list(&app, &key, &id, "map").await;
    let stored = maps.iter().find(|m| m["id"] == middle["id"]).unwrap();
    assert_eq!(stored["x"], 42);
    assert_eq!(stored["outcomes"][0]["developerName"], "onwards");
    assert!(stored["groupElementId"].is_null(), "{stored}");
    assert_eq!(
        stored["outcomes"][0]["label"], "Go on",
        "the outcome's other fields stay"
    );
    // Deleting the target alone is refused; both at once is fine; START never.
    let delete = |body: Value| {
        app.with_key(
            Method::DELETE,
            &format!("/api/draw/2/graph/flow/{id}/elements/delete"),
            &key,
        )
        .json(&body)
        .send()
    };
    assert_error(
        delete(json!({"mapElementIds": [end_id]})).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_error(
        delete(json!({"mapElementIds": [start_of(&flow)]}))
            .await
            .unwrap(),
        StatusCode::CONFLICT,
    )
    .await;
    let response = delete(json!({"mapElementIds": [end_id, middle["id"]]}))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(list(&app, &key, &id, "map").await.len(), 1);
}

/// A tenant element made with the key, returning its id.
async fn new_element(app: &TestApp, key: &str, kind: &str, body: Value) -> String {
    let response = app
        .with_key(Method::POST, &format!("/api/draw/1/element/{kind}"), key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let element = assert_json(response, StatusCode::OK).await;
    element["id"].as_str().unwrap().to_string()
}

/// Boomi's canvas carries each map element's `subflow`, `page` and `wait`: a CI pipeline
/// reads `GET /api/draw/2/graph/flow/{id}` and walks `subflow` to find the flows a flow calls,
/// then snapshots and activates each before the parent. Issue 20, point 3.
async fn the_draw_2_graph_names_subflows_pages_and_waits() {
    let (app, key, parent) = setup().await;
    let parent_id = flow_id(&parent);
    let child = app
        .with_key(Method::POST, "/api/draw/1/flow", &key)
        .json(&json!({"developerName": "Child"}))
        .send()
        .await
        .unwrap();
    let child_id = flow_id(&assert_json(child, StatusCode::OK).await);
    let page = new_element(&app, &key, "page", json!({"developerName": "Form"})).await;
    let deadline = new_element(
        &app,
        &key,
        "value",
        json!({"developerName": "Deadline", "contentType": "ContentDateTime"}),
    )
    .await;
    let which = new_element(
        &app,
        &key,
        "value",
        json!({"developerName": "Which flow", "contentType": "ContentString"}),
    )
    .await;
    // As the builder saves them: the subflow's flow with the name it had then.
    for body in [
        json!({"elementType": "subflow", "developerName": "Call child", "subflow": {
            "flowId": {"id": child_id, "versionId": null}, "flowDeveloperName": "Child",
            "arguments": []}}),
        json!({"elementType": "subflow", "developerName": "Call chosen", "subflow": {
            "flowId": null, "value": {"id": which}}}),
        json!({"elementType": "input", "developerName": "Ask", "pageElementId": page}),
        json!({"elementType": "wait", "developerName": "Pause", "wait": {
            "days": 1, "hours": 2, "relative": "in a day", "absoluteDate": "2030-01-02T03:04:05Z",
            "value": {"id": deadline}}}),
    ] {
        let saved = post_element(&app, &key, &parent_id, "map", body).await;
        assert_json(saved, StatusCode::OK).await;
    }
    // The child is renamed since: the canvas names it as it is now.
    let renamed = app
        .with_key(Method::POST, "/api/draw/1/flow", &key)
        .json(&json!({"id": {"id": child_id}, "developerName": "Child renamed"}))
        .send()
        .await
        .unwrap();
    assert_json(renamed, StatusCode::OK).await;

    let canvas_path = format!("/api/draw/2/graph/flow/{parent_id}");
    let response = app
        .with_key(Method::GET, &canvas_path, &key)
        .send()
        .await
        .unwrap();
    let canvas = assert_json(response, StatusCode::OK).await;
    let by_name = |name: &str| -> Value {
        canvas["mapElements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["developerName"] == name)
            .unwrap_or_else(|| panic!("no {name} in {canvas}"))
            .clone()
    };
    let call = by_name("Call child");
    assert_eq!(
        call["subflow"],
        json!({"id": child_id, "developerName": "Child renamed", "isSetAsValue": false})
    );
    assert!(call["page"].is_null() && call["wait"].is_null(), "{call}");
    assert_eq!(
        by_name("Call chosen")["subflow"],
        json!({"id": null, "developerName": "Which flow", "isSetAsValue": true})
    );
    assert_eq!(
        by_name("Ask")["page"],
        json!({"id": page, "developerName": "Form"})
    );
    assert_eq!(
        by_name("Pause")["wait"],
        json!({"days": 1, "hours": 2, "minutes": 0, "seconds": 0, "relative": "in a day",
               "absoluteDate": "2030-01-02T03:04:05.000000Z", "valueDeveloperName": "Deadline"})
    );
    let start = canvas["mapElements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["elementType"] == "START")
        .unwrap();
    for field in ["subflow", "page", "wait"] {
        assert!(start[field].is_null(), "{start}");
    }

    // The pipeline: every subflow with a flow of its own is published, then the parent.
    let subflows: Vec<String> = canvas["mapElements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["subflow"]["isSetAsValue"] == false)
        .filter_map(|m| m["subflow"]["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(subflows, std::slice::from_ref(&child_id));
    for flow in subflows.iter().chain([&parent_id]) {
        let snapshot = app
            .with_key(Method::POST, &format!("/api/draw/1/flow/snap/{flow}"), &key)
            .json(&json!("published by CI"))
            .send()
            .await
            .unwrap();
        let snapshot = assert_json(snapshot, StatusCode::OK).await;
        let version = snapshot["id"]["versionId"].as_str().unwrap();
        let activated = app
            .with_key(
                Method::POST,
                &format!("/api/draw/1/flow/activation/{flow}/{version}/true/true"),
                &key,
            )
            .send()
            .await
            .unwrap();
        assert_json(activated, StatusCode::OK).await;
    }
    let running = app
        .with_key(
            Method::GET,
            &format!("/api/draw/1/flow/active/{child_id}"),
            &key,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_json(running, StatusCode::OK).await["developerName"],
        "Child renamed"
    );

    // The canvas posted back as read is accepted, and the fields it derived change nothing.
    let put = app
        .with_key(Method::PUT, "/api/draw/2/graph/flow", &key)
        .json(&canvas)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let maps = list(&app, &key, &parent_id, "map").await;
    let stored = maps
        .iter()
        .find(|m| m["developerName"] == "Call child")
        .unwrap();
    assert_eq!(stored["subflow"]["flowDeveloperName"], "Child");
    assert!(stored["page"].is_null(), "{stored}");
    let again = app
        .with_key(Method::GET, &canvas_path, &key)
        .send()
        .await
        .unwrap();
    assert_eq!(assert_json(again, StatusCode::OK).await, canvas);
}

async fn a_flow_posted_with_map_elements_keeps_them() {
    let app = TestApp::spawn().await;
    let key = app.new_key("graph").await;
    let step = uuid::Uuid::new_v4().to_string();
    let body = json!({"developerName": "Whole", "mapElements": [
        {"elementType": "STEP", "developerName": "Step", "id": step},
    ], "navigationElements": [{"developerName": "Nav", "label": "N"}]});
    let response = app
        .with_key(Method::POST, "/api/draw/1/flow", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let flow = assert_json(response, StatusCode::OK).await;
    let id = flow_id(&flow);
    let maps = list(&app, &key, &id, "map").await;
    assert_eq!(maps.len(), 2, "the step, and a START made for it");
    assert!(maps.iter().any(|m| m["id"] == step));
    assert!(
        maps.iter()
            .any(|m| m["elementType"] == "START" && m["id"] == flow["startMapElementId"])
    );
    assert_eq!(list(&app, &key, &id, "navigation").await.len(), 1);
    // Tenant elements are not dropped silently.
    let body = json!({"developerName": "With values", "valueElements": [{"developerName": "v"}]});
    let response = app
        .with_key(Method::POST, "/api/draw/1/flow", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let message = assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(message.contains("/api/draw/1/element/value"), "{message}");
    // An update with mapElements replaces them, keeping START.
    let body = json!({"id": {"id": id}, "developerName": "Whole", "mapElements": []});
    let response = app
        .with_key(Method::POST, "/api/draw/1/flow", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_json(response, StatusCode::OK).await;
    let maps = list(&app, &key, &id, "map").await;
    assert_eq!(maps.len(), 1);
    assert_eq!(maps[0]["elementType"], "START");
}

async fn a_tenant_element_is_imported_and_removed() {
    let (app, key, flow) = setup().await;
    let id = flow_id(&flow);
    let tenant = keyflow::domain::TenantId::parse(&app.tenant_id).unwrap();
    let token = app.admin_token().await;
    let me = app.me(&token).await;
    let author = keyflow::domain::UserId::parse(me["id"].as_str().unwrap()).unwrap();
    let value = uuid::Uuid::new_v4();
    let mut document = serde_json::Map::new();
    document.insert("developerName".into(), json!("Customer"));
    document.insert("contentType".into(), json!("ContentString"));
    app.state
        .store
        .save_element(
            tenant,
            keyflow::store::NewElement {
                id: value,
                kind: keyflow::domain::element::ElementKind::Value,
                name: keyflow::domain::element::ElementName::parse("Customer").unwrap(),
                document,
                author,
            },
        )
        .await
        .unwrap();
    let used = format!("/api/draw/1/element/flow/{id}/value");
    let listed = |app: &TestApp| app.with_key(Method::GET, &used, &key).send();
    assert_eq!(
        assert_json(listed(&app).await.unwrap(), StatusCode::OK).await,
        json!([])
    );
    let import = format!("{used}/{value}");
    let response = app
        .with_key(Method::POST, &import, &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let found = assert_json(listed(&app).await.unwrap(), StatusCode::OK).await;
    assert_eq!(found[0]["id"], value.to_string());
    assert_eq!(found[0]["developerName"], "Customer");
    let unknown = format!("{used}/{}", uuid::Uuid::new_v4());
    assert_error(
        app.with_key(Method::POST, &unknown, &key)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    // Mentioned by a map element, it stays used after the import is removed.
    let body = json!({"elementType": "STEP", "developerName": "Uses", "dataActions": [{"valueElementToApplyId": {"id": value.to_string()}}]});
    assert_json(
        post_element(&app, &key, &id, "map", body).await,
        StatusCode::OK,
    )
    .await;
    let response = app
        .with_key(Method::DELETE, &import, &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        assert_json(listed(&app).await.unwrap(), StatusCode::OK)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_error(
        app.with_key(Method::DELETE, &import, &key)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn another_tenants_flow_is_not_found() {
    let (app, key, flow) = setup().await;
    let id = flow_id(&flow);
    let other = app.second_tenant("Elsewhere").await;
    let token = app.admin_token().await;
    let other_key = app.new_key_for(&token, "other", &other).await;
    let editing = flow["editingToken"].as_str().unwrap();
    for path in [
        elements_path(&id, editing, "map"),
        format!("/api/draw/1/graph/flow/{id}"),
        format!("/api/draw/2/graph/flow/{id}"),
        format!("/api/draw/1/element/flow/{id}/value"),
    ] {
        let response = app
            .with_key(Method::GET, &path, &other_key)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::NOT_FOUND).await;
    }
    let response = app
        .with_key(
            Method::POST,
            &elements_path(&id, editing, "map"),
            &other_key,
        )
        .json(&json!({"developerName": "Intruder"}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::NOT_FOUND).await;
    assert_eq!(list(&app, &key, &id, "map").await.len(), 1);
}

/// A tenant element made through the API; returns its id.
async fn tenant_element(app: &TestApp, key: &str, kind: &str, body: Value) -> String {
    let response = app
        .with_key(Method::POST, &format!("/api/draw/1/element/{kind}"), key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let element = assert_json(response, StatusCode::OK).await;
    element["id"].as_str().unwrap().to_string()
}

/// Package import refuses an element reference the tenant cannot resolve, so every write
/// refuses it first (422, naming the field and the id, writing nothing): a map element, the
/// graph, a flow posted with elements (new or replaced) and a tenant element, whether the id
/// is made up or another tenant's element.
async fn a_reference_to_an_element_the_tenant_lacks_is_refused_on_every_write() {
    let (app, key, flow) = setup().await;
    let id = flow_id(&flow);
    let other = app.second_tenant("Other").await;
    let token = app.admin_token().await;
    let other_key = app.new_key_for(&token, "other", &other).await;
    let theirs = tenant_element(
        &app,
        &other_key,
        "page",
        json!({"developerName": "Their page"}),
    )
    .await;
    let made_up = uuid::Uuid::new_v4().to_string();
    let counts = app.row_counts().await;
    for missing in [&made_up, &theirs] {
        let refused = |response: Response, field: &'static str| {
            let missing = missing.clone();
            async move {
                let message = assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
                assert!(
                    message.contains(field) && message.contains(&missing),
                    "{field} {missing}: {message}"
                );
            }
        };
        // A map element, by the element endpoint.
        let page =
            json!({"elementType": "INPUT", "developerName": "Ask", "pageElementId": missing});
        refused(
            post_element(&app, &key, &id, "map", page.clone()).await,
            "pageElementId",
        )
        .await;
        let bound = json!({"elementType": "OPERATOR", "developerName": "Set", "operations": [
            {"valueElementToReferenceId": {"id": missing, "typeElementPropertyId": null}}]});
        refused(
            post_element(&app, &key, &id, "map", bound).await,
            "operations[0].valueElementToReferenceId.id",
        )
        .await;
        // The graph, with a new map element.
        let response = app
            .with_key(Method::GET, &format!("/api/draw/1/graph/flow/{id}"), &key)
            .send()
            .await
            .unwrap();
        let mut graph = assert_json(response, StatusCode::OK).await;
        graph["mapElements"]
            .as_array_mut()
            .unwrap()
            .push(page.clone());
        let response = app
            .with_key(Method::POST, "/api/draw/1/graph/flow", &key)
            .json(&graph)
            .send()
            .await
            .unwrap();
        refused(response, "pageElementId").await;
        // A new flow posted with its elements, and a flow's elements replaced.
        for header in [json!({}), json!({"id": {"id": id}})] {
            let mut body = json!({"developerName": "Posted", "mapElements": [page.clone()]});
            body.as_object_mut()
                .unwrap()
                .extend(header.as_object().unwrap().clone());
            let response = app
                .with_key(Method::POST, "/api/draw/1/flow", &key)
                .json(&body)
                .send()
                .await
                .unwrap();
            refused(response, "pageElementId").await;
        }
        // A tenant element.
        let value = json!({"developerName": "Typed", "contentType": "ContentObject",
                           "typeElementId": missing});
        let response = app
            .with_key(Method::POST, "/api/draw/1/element/value", &key)
            .json(&value)
            .send()
            .await
            .unwrap();
        refused(response, "typeElementId").await;
    }
    assert_eq!(app.row_counts().await, counts, "nothing was written");
}

/// What the check must not refuse, as package import does not: references to the flow's own
/// map, group and navigation elements and to the tenant's elements, an element's reference to
/// itself, and UUIDs in fields that are not element references (an outcome's id, a type
/// property's id).
async fn references_to_the_flows_and_the_tenants_elements_are_kept() {
    let (app, key, flow) = setup().await;
    let id = flow_id(&flow);
    let page = tenant_element(&app, &key, "page", json!({"developerName": "Form"})).await;
    let type_id = uuid::Uuid::new_v4().to_string();
    let typed = json!({"id": type_id, "developerName": "Customer", "elementType": "TYPE",
        "properties": [{"id": uuid::Uuid::new_v4().to_string(), "developerName": "Self",
                        "typeElementId": type_id}]});
    assert_eq!(tenant_element(&app, &key, "type", typed).await, type_id);
    let value = tenant_element(
        &app,
        &key,
        "value",
        json!({"developerName": "Who", "contentType": "ContentObject", "typeElementId": type_id}),
    )
    .await;
    let group = assert_json(
        post_element(&app, &key, &id, "group", json!({"developerName": "G"})).await,
        StatusCode::OK,
    )
    .await;
    let body = json!({"elementType": "INPUT", "developerName": "Ask", "pageElementId": page,
        "groupElementId": group["id"], "navigationElementReferences": null,
        "outcomes": [{"id": uuid::Uuid::new_v4().to_string(), "developerName": "Back",
                      "nextMapElementId": start_of(&flow)}],
        "dataActions": [{"valueElementToApplyId": {"id": value,
                         "typeElementPropertyId": uuid::Uuid::new_v4().to_string()}}]});
    let ask = assert_json(
        post_element(&app, &key, &id, "map", body).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ask["pageElementId"], page.as_str());
    // And the tenant's export of it imports back.
    let response = app
        .with_key(Method::GET, "/api/package/1/tenant", &key)
        .send()
        .await
        .unwrap();
    let package = assert_json(response, StatusCode::OK).await;
    let empty = app.create_tenant("Empty").await;
    assert!(app.add_admin_to(&empty).await.status.success());
    let token = app.admin_token().await;
    let empty_key = app.new_key_for(&token, "empty", &empty).await;
    let response = app
        .with_key(Method::POST, "/api/package/1/tenant", &empty_key)
        .json(&package)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
}
