//! Flow versions, snapshots and activation: `/api/draw/1/flow/snap…`, `…/activation…`,
//! `…/deactivate…`, `…/revert…` and `…/flow/active…`.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, assert_json, both_backends, enc};

both_backends! {
    a_new_flow_starts_at_its_start_map_element,
    a_snapshot_freezes_the_version_and_activation_runs_it,
    revert_brings_a_snapshot_back_as_a_new_version,
    unknown_ids_are_404_and_malformed_segments_400,
}

const FLOW: &str = "/api/draw/1/flow";

/// A server, an administrator's key, and a new flow named `name`.
async fn app_with_flow(name: &str) -> (TestApp, String, Value) {
    let app = TestApp::spawn().await;
    let key = app.new_key("snapshots").await;
    let body = json!({ "developerName": name, "developerSummary": "v1" });
    let flow = assert_json(post(&app, &key, FLOW, Some(body)).await, StatusCode::OK).await;
    (app, key, flow)
}

async fn post(app: &TestApp, key: &str, path: &str, body: Option<Value>) -> Response {
    let request = app.with_key(Method::POST, path, key);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.unwrap()
}

async fn get(app: &TestApp, key: &str, path: &str) -> Response {
    app.with_key(Method::GET, path, key).send().await.unwrap()
}

fn ids(flow: &Value) -> (String, String) {
    let text = |v: &Value| v.as_str().expect("an id").to_string();
    (text(&flow["id"]["id"]), text(&flow["id"]["versionId"]))
}

async fn snap(app: &TestApp, key: &str, flow: &str, comment: &str) -> Value {
    let path = format!("{FLOW}/snap/{flow}");
    assert_json(
        post(app, key, &path, Some(json!(comment))).await,
        StatusCode::OK,
    )
    .await
}

async fn activate(app: &TestApp, key: &str, flow: &str, version: &str, default: bool) -> Value {
    let path = format!("{FLOW}/activation/{flow}/{version}/{default}/true");
    assert_json(post(app, key, &path, None).await, StatusCode::OK).await
}

async fn a_new_flow_starts_at_its_start_map_element() {
    let (app, key, flow) = app_with_flow("Onboarding").await;
    let start = flow["startMapElementId"]
        .as_str()
        .expect("a START element id");
    uuid::Uuid::parse_str(start).expect("the START element id is a UUID");
    let (id, version) = ids(&flow);

    let snapshot = snap(&app, &key, &id, "first").await;
    let image = get(&app, &key, &format!("{FLOW}/snap/{id}/{version}")).await;
    let image = assert_json(image, StatusCode::OK).await;
    assert_eq!(snapshot["startMapElementId"], start);
    let elements = image["mapElements"].as_array().unwrap();
    assert_eq!(elements.len(), 1);
    assert_eq!(elements[0]["id"], start);
    assert_eq!(elements[0]["elementType"], "START");

    // Posting the flow back keeps its START element, whatever the body says.
    let mut back = flow.clone();
    back["startMapElementId"] = json!("not-mine");
    let updated = assert_json(post(&app, &key, FLOW, Some(back)).await, StatusCode::OK).await;
    assert_eq!(updated["startMapElementId"], start);
}

async fn a_snapshot_freezes_the_version_and_activation_runs_it() {
    let (app, key, flow) = app_with_flow("Expenses").await;
    let (id, version) = ids(&flow);

    let snapshot = snap(&app, &key, &id, "ready for review").await;
    assert_eq!(ids(&snapshot), (id.clone(), version.clone()));
    assert_eq!(snapshot["isActive"], false);
    assert_eq!(snapshot["comment"], "ready for review");
    // The flow being edited moved on to a new version; the snapshot keeps the old one.
    let current = assert_json(
        get(&app, &key, &format!("{FLOW}/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_ne!(ids(&current).1, version);
    let active = assert_json(
        get(&app, &key, &format!("{FLOW}/active")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(active, json!([]), "a snapshot is inactive until activated");

    let activated = activate(&app, &key, &id, &version, true).await;
    assert_eq!(
        (&activated["isActive"], &activated["isDefault"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(activated["alertEmail"], app.admin_email);

    let listed = assert_json(
        get(&app, &key, &format!("{FLOW}/active")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["comment"], "ready for review");
    assert_eq!(listed[0]["id"]["versionId"], version.as_str());
    for path in [
        format!("{FLOW}/active/{id}"),
        format!("{FLOW}/active/name/{}", enc("EXPENSES")),
    ] {
        let loaded = assert_json(get(&app, &key, &path).await, StatusCode::OK).await;
        assert_eq!(loaded["id"]["versionId"], version.as_str(), "{path}");
        assert_eq!(loaded["isDefault"], true);
    }

    // A second snapshot made the default takes the default from the first.
    let second = snap(&app, &key, &id, "second").await;
    let (_, second_version) = ids(&second);
    activate(&app, &key, &id, &second_version, true).await;
    let snaps = assert_json(
        get(&app, &key, &format!("{FLOW}/snap/{id}")).await,
        StatusCode::OK,
    )
    .await;
    let defaults: Vec<&Value> = snaps
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["isDefault"] == true)
        .collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0]["id"]["versionId"], second_version.as_str());
    assert_eq!(snaps[0]["comment"], "second", "newest first");
    let running = assert_json(
        get(&app, &key, &format!("{FLOW}/active/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(running["id"]["versionId"], second_version.as_str());

    let deactivated = post(&app, &key, &format!("{FLOW}/deactivate/{id}"), None).await;
    assert_eq!(deactivated.status(), StatusCode::OK);
    let active = assert_json(
        get(&app, &key, &format!("{FLOW}/active")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(active, json!([]));
    assert_error(
        get(&app, &key, &format!("{FLOW}/active/{id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn revert_brings_a_snapshot_back_as_a_new_version() {
    let (app, key, flow) = app_with_flow("Leave").await;
    let (id, version) = ids(&flow);
    snap(&app, &key, &id, "good").await;
    let edit = json!({ "id": { "id": id }, "developerName": "Leave (broken)" });
    let edited = assert_json(post(&app, &key, FLOW, Some(edit)).await, StatusCode::OK).await;
    assert_eq!(ids(&edited).0, id, "an update keeps id.id");

    let reverted = post(&app, &key, &format!("{FLOW}/revert/{id}/{version}"), None).await;
    assert_eq!(reverted.status(), StatusCode::OK);
    let current = assert_json(
        get(&app, &key, &format!("{FLOW}/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(current["developerName"], "Leave");
    assert_eq!(current["developerSummary"], "v1");
    let new_version = ids(&current).1;
    assert!(new_version != version && new_version != ids(&edited).1);
}

async fn unknown_ids_are_404_and_malformed_segments_400() {
    let (app, key, flow) = app_with_flow("Known").await;
    let (id, _) = ids(&flow);
    let unknown = uuid::Uuid::now_v7().to_string();
    let missing = [
        (Method::POST, format!("{FLOW}/snap/{unknown}")),
        (Method::GET, format!("{FLOW}/snap/{unknown}")),
        (Method::GET, format!("{FLOW}/snap/{id}/{unknown}")),
        (
            Method::POST,
            format!("{FLOW}/activation/{id}/{unknown}/true/true"),
        ),
        (
            Method::POST,
            format!("{FLOW}/activation/{unknown}/{unknown}/false/true"),
        ),
        (Method::POST, format!("{FLOW}/deactivate/{unknown}")),
        (Method::POST, format!("{FLOW}/revert/{id}/{unknown}")),
        (Method::GET, format!("{FLOW}/active/{unknown}")),
        (Method::GET, format!("{FLOW}/active/name/Nothing")),
    ];
    for (method, path) in missing {
        let response = app
            .with_key(method.clone(), &path, &key)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::NOT_FOUND).await;
    }
    let malformed = [
        (Method::POST, format!("{FLOW}/snap/not-a-uuid")),
        (Method::GET, format!("{FLOW}/snap/{id}/not-a-uuid")),
        (
            Method::POST,
            format!("{FLOW}/activation/{id}/{unknown}/yes/true"),
        ),
        (
            Method::POST,
            format!("{FLOW}/activation/{id}/{unknown}/true/1"),
        ),
        (Method::POST, format!("{FLOW}/deactivate/x")),
        (Method::POST, format!("{FLOW}/revert/{id}/x")),
        (Method::GET, format!("{FLOW}/active/x")),
    ];
    for (method, path) in malformed {
        let response = app
            .with_key(method.clone(), &path, &key)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::BAD_REQUEST).await;
    }
}
