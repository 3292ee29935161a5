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
    a_snapshot_freezes_every_element_it_uses,
    revert_v2_brings_back_the_elements_or_answers_the_conflicts,
    the_diff_names_added_and_changed_elements,
    the_v2_snapshot_list_is_paged,
    a_deeply_nested_element_is_refused_or_survives_a_snapshot,
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

/// A server, a key, and a flow seeded with `maps` map elements and 10 tenant elements.
async fn app_with_graph(maps: usize) -> (TestApp, String, crate::graph_seed::Seeded) {
    let app = TestApp::spawn().await;
    let key = app.new_key("snapshots").await;
    let seeded = crate::graph_seed::seed(&app, &key, &app.tenant_id, "Graph", maps).await;
    (app, key, seeded)
}

async fn current(app: &TestApp, key: &str, flow: &str) -> Value {
    assert_json(
        get(app, key, &format!("{FLOW}/{flow}")).await,
        StatusCode::OK,
    )
    .await
}

async fn image(app: &TestApp, key: &str, flow: &str, version: &str) -> Value {
    let path = format!("{FLOW}/snap/{flow}/{version}");
    assert_json(get(app, key, &path).await, StatusCode::OK).await
}

async fn a_snapshot_freezes_every_element_it_uses() {
    use crate::graph_seed::{change_element, edit_graph, graph_of};
    let (app, key, seeded) = app_with_graph(6).await;
    let before = current(&app, &key, &seeded.flow).await;
    let snapshot = snap(&app, &key, &seeded.flow, "frozen").await;
    let version = snapshot["id"]["versionId"].as_str().unwrap().to_string();
    assert!(
        snapshot["dateCreated"].as_str().unwrap() >= before["dateModified"].as_str().unwrap(),
        "a snapshot's dateCreated is when it was taken: {snapshot}"
    );
    let frozen = image(&app, &key, &seeded.flow, &version).await;
    assert_eq!(frozen["mapElements"].as_array().unwrap().len(), 6);
    assert_eq!(frozen["valueElements"].as_array().unwrap().len(), 5);
    assert_eq!(
        frozen["typeElements"][0]["id"],
        seeded.type_id.to_string(),
        "reached through the values"
    );
    assert_eq!(frozen["pageElements"][0]["id"], seeded.page.to_string());
    activate(&app, &key, &seeded.flow, &version, true).await;

    // Edits after the snapshot change neither its image nor what is active.
    change_element(
        &app,
        &app.tenant_id,
        seeded.values[0],
        "contentType",
        json!("ContentNumber"),
    )
    .await;
    edit_graph(&app, &app.tenant_id, &seeded.flow, "x", json!(999)).await;
    let later = image(&app, &key, &seeded.flow, &version).await;
    assert_eq!(graph_of(&later), graph_of(&frozen));
    let active = assert_json(
        get(&app, &key, &format!("{FLOW}/active/{}", seeded.flow)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(active["id"]["versionId"], version.as_str());
    // The flow being edited did change.
    let second = snap(&app, &key, &seeded.flow, "after").await;
    let edited = image(
        &app,
        &key,
        &seeded.flow,
        second["id"]["versionId"].as_str().unwrap(),
    )
    .await;
    assert_eq!(edited["mapElements"].as_array().unwrap().len(), 7);
}

async fn revert_v2_brings_back_the_elements_or_answers_the_conflicts() {
    use crate::graph_seed::{change_element, edit_graph, graph_of};
    let (app, key, seeded) = app_with_graph(4).await;
    let snapshot = snap(&app, &key, &seeded.flow, "good").await;
    let version = snapshot["id"]["versionId"].as_str().unwrap().to_string();
    let frozen = image(&app, &key, &seeded.flow, &version).await;
    edit_graph(&app, &app.tenant_id, &seeded.flow, "x", json!(1)).await;
    change_element(
        &app,
        &app.tenant_id,
        seeded.values[1],
        "contentType",
        json!("ContentNumber"),
    )
    .await;

    let path = format!("/api/draw/2/flow/revert/{}/{version}", seeded.flow);
    let refused = post(&app, &key, &format!("{path}?overwriteExisting=false"), None).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["existingElements"]["valueElements"][0]["id"],
        seeded.values[1].to_string()
    );
    assert_eq!(
        body["existingElements"]["valueElements"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let path = format!("{path}?automaticSnapshotComment=before%20revert");
    let reverted = assert_json(post(&app, &key, &path, None).await, StatusCode::OK).await;
    assert_eq!(reverted["id"]["id"], seeded.flow.as_str());
    assert_eq!(reverted["developerSummary"], snapshot["developerSummary"]);
    let now = snap(&app, &key, &seeded.flow, "check").await;
    let now = image(
        &app,
        &key,
        &seeded.flow,
        now["id"]["versionId"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        graph_of(&now),
        graph_of(&frozen),
        "elements and tenant elements as snapshotted"
    );
    let listed = assert_json(
        get(&app, &key, &format!("{FLOW}/snap/{}", seeded.flow)).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["comment"] == "before revert")
    );

    // The first API's revert does the same.
    edit_graph(&app, &app.tenant_id, &seeded.flow, "x", json!(2)).await;
    let v1 = post(
        &app,
        &key,
        &format!("{FLOW}/revert/{}/{version}", seeded.flow),
        None,
    )
    .await;
    assert_eq!(v1.status(), StatusCode::OK);
    let again = snap(&app, &key, &seeded.flow, "again").await;
    let again = image(
        &app,
        &key,
        &seeded.flow,
        again["id"]["versionId"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        graph_of(&again)["mapElements"],
        graph_of(&frozen)["mapElements"]
    );
}

async fn the_diff_names_added_and_changed_elements() {
    use crate::graph_seed::edit_graph;
    let (app, key, seeded) = app_with_graph(3).await;
    let first = snap(&app, &key, &seeded.flow, "one").await;
    let first = first["id"]["versionId"].as_str().unwrap().to_string();
    edit_graph(&app, &app.tenant_id, &seeded.flow, "x", json!(555)).await;
    let second = snap(&app, &key, &seeded.flow, "two").await;
    let second = second["id"]["versionId"].as_str().unwrap().to_string();

    let path = format!("{FLOW}/snap/{}/diff/{first}/{second}", seeded.flow);
    let changes = assert_json(get(&app, &key, &path).await, StatusCode::OK).await;
    let changes = changes.as_array().unwrap();
    assert_eq!(changes.len(), 2, "{changes:?}");
    let added = changes
        .iter()
        .find(|c| c["developerName"] == "Added")
        .unwrap();
    assert_eq!(added["diffs"][0]["operationType"], "add");
    let changed = changes
        .iter()
        .find(|c| c["id"] == seeded.maps[0].to_string())
        .unwrap();
    assert_eq!(changed["elementType"], "START");
    assert_eq!(
        changed["diffs"],
        json!([{"operationType": "replace", "path": ["x"], "before": "0", "after": "555"}])
    );
    // The current version may be the later one; nothing changed since the second snapshot.
    let current = current(&app, &key, &seeded.flow).await;
    let now = current["id"]["versionId"].as_str().unwrap();
    let path = format!("{FLOW}/snap/{}/diff/{second}/{now}", seeded.flow);
    assert_eq!(
        assert_json(get(&app, &key, &path).await, StatusCode::OK).await,
        json!([])
    );
}

async fn the_v2_snapshot_list_is_paged() {
    let (app, key, flow) = app_with_flow("Paged").await;
    let (id, _) = ids(&flow);
    for comment in ["a", "b", "c"] {
        snap(&app, &key, &id, comment).await;
    }
    let path = format!("/api/draw/2/flow/snap/{id}?page=1&pageSize=2");
    let page = assert_json(get(&app, &key, &path).await, StatusCode::OK).await;
    assert_eq!(page["_meta"]["total"], 3);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["comment"], "c", "newest first");
    assert!(page["_links"]["next"].is_string());
    let path = format!("/api/draw/2/flow/snap/{id}?page=2&pageSize=2");
    let page = assert_json(get(&app, &key, &path).await, StatusCode::OK).await;
    assert_eq!(page["items"][0]["comment"], "a");
}

/// An element's document may nest 100 levels (the element itself is one): one that deep is
/// still readable in a snapshot's image, which wraps it a few levels deeper; one deeper is
/// refused when written (422), instead of making the snapshot unreadable later.
async fn a_deeply_nested_element_is_refused_or_survives_a_snapshot() {
    let (app, key, flow) = app_with_flow("Deep").await;
    let (id, _) = ids(&flow);
    // `arrays` arrays around a number: the element is one level more.
    let nested = |arrays: usize| {
        let mut deep = json!(1);
        for _ in 0..arrays {
            deep = serde_json::Value::Array(vec![deep]);
        }
        deep
    };
    let save = |deep: serde_json::Value| {
        let (app, key, id) = (&app, &key, &id);
        async move {
            let current = current(app, key, id).await;
            let start = current["startMapElementId"].as_str().unwrap().to_string();
            let token = current["editingToken"].as_str().unwrap().to_string();
            let body = json!({"id": start, "developerName": "Start", "elementType": "START",
                              "deep": deep});
            post(
                app,
                key,
                &format!("{FLOW}/{id}/{token}/element/map"),
                Some(body),
            )
            .await
        }
    };
    // 101 levels with the element: refused, naming the limit.
    let refused = save(nested(100)).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("100 levels"));
    // 100 levels with the element: kept, and the snapshot's image reads back.
    let saved = save(nested(99)).await;
    assert_eq!(
        saved.status(),
        StatusCode::OK,
        "{}",
        saved.text().await.unwrap()
    );
    let snapshot = snap(&app, &key, &id, "deep").await;
    let version = snapshot["id"]["versionId"].as_str().unwrap().to_string();
    let frozen = image(&app, &key, &id, &version).await;
    assert_eq!(frozen["mapElements"][0]["deep"], nested(99));
}
