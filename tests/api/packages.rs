//! Packages: `GET /api/package/1/flow/{id}[/{version}]`, `POST /api/package/1/flow`, and
//! `GET`/`POST /api/package/1/tenant`.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::graph_seed::{graph_of, seed};
use crate::helpers::{TestApp, assert_error, assert_json, both_backends};

both_backends! {
    a_flow_of_50_elements_survives_export_delete_and_import,
    a_package_goes_into_a_second_tenant_under_a_derived_id,
    a_package_missing_an_element_is_refused_whole,
    malformed_packages_are_400_or_422,
    differing_elements_refuse_an_import_without_overwrite,
    null_passwords_blanks_them,
    a_tenant_package_restores_into_an_empty_tenant,
    a_package_whose_graph_is_broken_is_refused_whole,
    a_tenants_export_always_imports_back_into_an_empty_tenant,
}

const PACKAGE: &str = "/api/package/1";

async fn get(app: &TestApp, key: &str, path: &str) -> Response {
    app.with_key(Method::GET, path, key).send().await.unwrap()
}

async fn post(app: &TestApp, key: &str, path: &str, body: &Value) -> Response {
    app.with_key(Method::POST, path, key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The package answer: a JSON string; returns the string and the package it holds.
async fn export(app: &TestApp, key: &str, path: &str) -> (Value, Value) {
    let answer = assert_json(get(app, key, path).await, StatusCode::OK).await;
    let text = answer.as_str().expect("a package is a JSON string");
    let package: Value = serde_json::from_str(text).expect("the string holds JSON");
    (answer, package)
}

async fn a_flow_of_50_elements_survives_export_delete_and_import() {
    let app = TestApp::spawn().await;
    let key = app.new_key("packages").await;
    let seeded = seed(&app, &key, &app.tenant_id, "Claims", 40).await;
    let (string, package) = export(&app, &key, &format!("{PACKAGE}/flow/{}", seeded.flow)).await;
    assert_eq!(package["packageVersion"], 1);
    assert_eq!(package["flowId"], seeded.flow.as_str());
    let before = graph_of(&package["flow"]);
    assert_eq!(before["mapElements"].as_array().unwrap().len(), 40);
    let tenant_count: usize = [
        "valueElements",
        "typeElements",
        "pageElements",
        "serviceElements",
    ]
    .iter()
    .chain(["macroElements", "tagElements"].iter())
    .map(|field| before[*field].as_array().unwrap().len())
    .sum();
    assert_eq!(
        tenant_count, 10,
        "every element the flow uses, transitively"
    );

    let deleted = app
        .with_key(
            Method::DELETE,
            &format!("/api/draw/1/flow/{}", seeded.flow),
            &key,
        )
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let imported = assert_json(
        post(&app, &key, &format!("{PACKAGE}/flow"), &string).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        imported["id"]["id"],
        seeded.flow.as_str(),
        "the flow keeps its id"
    );

    let (_, again) = export(&app, &key, &format!("{PACKAGE}/flow/{}", seeded.flow)).await;
    assert_eq!(
        graph_of(&again["flow"]),
        before,
        "the same graph, ids, documents and outcomes"
    );
    assert_eq!(
        again["flow"]["startMapElementId"],
        seeded.maps[0].to_string()
    );
    let mut imported_ids: Vec<String> = again["importedElementIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_string())
        .collect();
    imported_ids.sort();
    let mut expected: Vec<String> = package["importedElementIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_string())
        .collect();
    expected.sort();
    assert_eq!(imported_ids.len(), 2);
    assert_eq!(imported_ids, expected, "the imported uses come back");
}

async fn a_package_goes_into_a_second_tenant_under_a_derived_id() {
    let app = TestApp::spawn().await;
    let key = app.new_key("packages").await;
    let seeded = seed(&app, &key, &app.tenant_id, "Travel", 5).await;
    let (string, package) = export(&app, &key, &format!("{PACKAGE}/flow/{}", seeded.flow)).await;
    let other = app.second_tenant("Other").await;
    let token = app.admin_token().await;
    let other_key = app.new_key_for(&token, "other", &other).await;

    let first = assert_json(
        post(&app, &other_key, &format!("{PACKAGE}/flow"), &string).await,
        StatusCode::OK,
    )
    .await;
    let new_id = first["id"]["id"].as_str().unwrap().to_string();
    assert_ne!(new_id, seeded.flow, "another tenant holds the id");
    assert_eq!(uuid::Uuid::parse_str(&new_id).unwrap().get_version_num(), 5);
    let second = assert_json(
        post(&app, &other_key, &format!("{PACKAGE}/flow"), &package).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        second["id"]["id"],
        new_id.as_str(),
        "the same id on every import"
    );

    let (_, copy) = export(&app, &other_key, &format!("{PACKAGE}/flow/{new_id}")).await;
    assert_eq!(
        graph_of(&copy["flow"]),
        graph_of(&package["flow"]),
        "element ids are kept"
    );
    // The original is untouched.
    let (_, original) = export(&app, &key, &format!("{PACKAGE}/flow/{}", seeded.flow)).await;
    assert_eq!(graph_of(&original["flow"]), graph_of(&package["flow"]));
}

async fn a_package_missing_an_element_is_refused_whole() {
    let app = TestApp::spawn().await;
    let key = app.new_key("packages").await;
    let seeded = seed(&app, &key, &app.tenant_id, "Leave", 3).await;
    let (_, mut package) = export(&app, &key, &format!("{PACKAGE}/flow/{}", seeded.flow)).await;
    let missing = seeded.service.to_string();
    package["flow"]["serviceElements"] = json!([]);
    let other = app.second_tenant("Empty").await;
    let token = app.admin_token().await;
    let other_key = app.new_key_for(&token, "other", &other).await;
    let counts = app.row_counts().await;

    let refused = post(&app, &other_key, &format!("{PACKAGE}/flow"), &package).await;
    let message = assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(message.contains(&missing), "{message}");
    let after = app.row_counts().await;
    for table in ["flows", "flow_elements", "elements", "flow_uses"] {
        assert_eq!(after.get(table), counts.get(table), "{table} is unchanged");
    }
    // In the tenant that holds the service, the same package imports.
    let accepted = post(&app, &key, &format!("{PACKAGE}/flow"), &package).await;
    assert_eq!(accepted.status(), StatusCode::OK);
}

async fn malformed_packages_are_400_or_422() {
    let app = TestApp::spawn_with(|config| config.body_limit_bytes = 64 * 1024).await;
    let key = app.new_key("packages").await;
    let path = format!("{PACKAGE}/flow");
    let raw = |body: &'static str| {
        app.with_key(Method::POST, &path, &key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_error(raw("{").await.unwrap(), StatusCode::BAD_REQUEST).await;
    assert_error(
        post(&app, &key, &path, &json!("not json")).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let message = assert_error(
        post(&app, &key, &path, &json!({"flow": {}})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(message.contains("packageVersion"), "{message}");
    let message = assert_error(
        post(&app, &key, &path, &json!({"packageVersion": 1})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(message.contains("flow"), "{message}");
    let bad_element = json!({"packageVersion": 1, "flow": {
        "id": {"id": uuid::Uuid::new_v4().to_string()}, "developerName": "X",
        "mapElements": [{"developerName": "no id"}]}});
    let message = assert_error(
        post(&app, &key, &path, &bad_element).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(message.contains("mapElements[0].id"), "{message}");
    let huge = json!({"packageVersion": 1, "padding": "x".repeat(70 * 1024)});
    assert_error(
        post(&app, &key, &path, &huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_error(
        post(
            &app,
            &key,
            &format!("{path}?overwriteExisting=maybe"),
            &bad_element,
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

async fn differing_elements_refuse_an_import_without_overwrite() {
    let app = TestApp::spawn().await;
    let key = app.new_key("packages").await;
    let seeded = seed(&app, &key, &app.tenant_id, "Fleet", 3).await;
    let (_, package) = export(&app, &key, &format!("{PACKAGE}/flow/{}", seeded.flow)).await;
    crate::graph_seed::change_element(
        &app,
        &app.tenant_id,
        seeded.values[0],
        "contentType",
        json!("ContentString"),
    )
    .await;

    let path = format!("{PACKAGE}/flow?overwriteExisting=false");
    let refused = post(&app, &key, &path, &package).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let body: Value = refused.json().await.unwrap();
    let values = body["existingElements"]["valueElements"]
        .as_array()
        .unwrap();
    assert_eq!(values.len(), 1, "{body}");
    assert_eq!(values[0]["id"], seeded.values[0].to_string());

    // Overwriting (the default) brings the package's version back.
    assert_eq!(
        post(&app, &key, &format!("{PACKAGE}/flow"), &package)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        post(&app, &key, &path, &package).await.status(),
        StatusCode::OK
    );
}

async fn null_passwords_blanks_them() {
    let app = TestApp::spawn().await;
    let key = app.new_key("packages").await;
    let seeded = seed(&app, &key, &app.tenant_id, "Secrets", 2).await;
    let service = |package: &Value| package["flow"]["serviceElements"][0].clone();
    let (_, kept) = export(&app, &key, &format!("{PACKAGE}/flow/{}", seeded.flow)).await;
    assert_eq!(service(&kept)["httpAuthenticationPassword"], "hunter2");
    let (_, blank) = export(
        &app,
        &key,
        &format!("{PACKAGE}/flow/{}?nullPasswords=true", seeded.flow),
    )
    .await;
    assert_eq!(service(&blank)["httpAuthenticationPassword"], "");
    assert_eq!(
        service(&blank)["configurationValues"][0]["contentValue"],
        ""
    );
    assert_eq!(service(&blank)["httpAuthenticationUsername"], "bot");
    // A version's package blanks them unless told not to (Boomi's default).
    let version = kept["versionId"].as_str().unwrap();
    let (_, by_version) = export(
        &app,
        &key,
        &format!("{PACKAGE}/flow/{}/{version}", seeded.flow),
    )
    .await;
    assert_eq!(service(&by_version)["httpAuthenticationPassword"], "");
}

async fn a_tenant_package_restores_into_an_empty_tenant() {
    let app = TestApp::spawn().await;
    let key = app.new_key("packages").await;
    seed(&app, &key, &app.tenant_id, "One", 4).await;
    seed(&app, &key, &app.tenant_id, "Two", 6).await;
    let (string, package) = export(&app, &key, &format!("{PACKAGE}/tenant")).await;
    assert_eq!(
        package["flows"].as_array().unwrap().len(),
        3,
        "the bootstrap flow too"
    );
    let other = app.create_tenant("Restore").await;
    assert!(app.add_admin_to(&other).await.status.success());
    let token = app.admin_token().await;
    let other_key = app.new_key_for(&token, "other", &other).await;
    let restored = post(&app, &other_key, &format!("{PACKAGE}/tenant"), &string).await;
    assert_eq!(restored.status(), StatusCode::OK);
    let (_, copy) = export(&app, &other_key, &format!("{PACKAGE}/tenant")).await;
    let names = |package: &Value| {
        let mut names: Vec<String> = package["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["flow"]["developerName"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&copy), names(&package));
    // Only the tenant's administrators may restore a tenant.
    let builder_tenant = app.second_tenant("Builders").await;
    let token = app.admin_token().await;
    let builder_key = app.new_key_for(&token, "builder", &builder_tenant).await;
    let refused = post(&app, &builder_key, &format!("{PACKAGE}/tenant"), &string).await;
    assert_error(refused, StatusCode::FORBIDDEN).await;
    let graphs = |package: &Value| {
        let mut graphs: Vec<Value> = package["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| graph_of(&f["flow"])["mapElements"].clone())
            .collect();
        graphs.sort_by_key(|g| g.to_string());
        graphs
    };
    assert_eq!(graphs(&copy), graphs(&package));
    for field in [
        "valueElements",
        "typeElements",
        "pageElements",
        "serviceElements",
    ] {
        let ids = |package: &Value| {
            let mut ids: Vec<String> = package["elements"][field]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(&copy), ids(&package), "{field}");
    }
}

/// A package's flow is checked as every graph write is: without its START element, or with an
/// outcome pointing at no map element, it is refused (422, naming the flow and the fault) and
/// nothing is written.
async fn a_package_whose_graph_is_broken_is_refused_whole() {
    let app = TestApp::spawn().await;
    let key = app.new_key("packages").await;
    let seeded = seed(&app, &key, &app.tenant_id, "Broken", 3).await;
    let (_, package) = export(&app, &key, &format!("{PACKAGE}/flow/{}", seeded.flow)).await;
    let counts = app.row_counts().await;
    let path = format!("{PACKAGE}/flow");

    let mut no_start = package.clone();
    let start = no_start["flow"]["startMapElementId"].clone();
    let maps = no_start["flow"]["mapElements"].as_array().unwrap().clone();
    no_start["flow"]["mapElements"] = json!(
        maps.iter()
            .filter(|e| e["id"] != start)
            .cloned()
            .collect::<Vec<_>>()
    );
    let message = assert_error(
        post(&app, &key, &path, &no_start).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(message.contains("START"), "{message}");
    assert!(message.contains("'Broken"), "{message}");

    let mut dangling = package.clone();
    let nowhere = uuid::Uuid::new_v4().to_string();
    dangling["flow"]["mapElements"][0]["outcomes"] =
        json!([{"developerName": "Lost", "nextMapElementId": nowhere}]);
    let message = assert_error(
        post(&app, &key, &path, &dangling).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(message.contains(&nowhere), "{message}");

    let after = app.row_counts().await;
    for table in ["flows", "flow_elements", "elements", "flow_uses"] {
        assert_eq!(after.get(table), counts.get(table), "{table} is unchanged");
    }
}

/// Whatever a tenant writes, its own export imports back into an empty tenant: 60 writes
/// chosen at random (seeded, so a failure repeats) over every write path — tenant elements,
/// map elements, the graph, flows posted with elements — each referring to elements chosen
/// at random among the tenant's, the flow's own, another tenant's and made-up ones. A write
/// is accepted exactly when all its references resolve; the export then always imports.
async fn a_tenants_export_always_imports_back_into_an_empty_tenant() {
    use rand::{Rng, SeedableRng, seq::SliceRandom};
    let seed: u64 = rand::random();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let app = TestApp::spawn().await;
    let key = app.new_key("packages").await;
    let other = app.second_tenant("Other").await;
    let token = app.admin_token().await;
    let other_key = app.new_key_for(&token, "other", &other).await;
    let foreign = assert_json(
        app.with_key(Method::POST, "/api/draw/1/element/type", &other_key)
            .json(&json!({"developerName": "Theirs"}))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let flow = assert_json(
        post(
            &app,
            &key,
            "/api/draw/1/flow",
            &json!({"developerName": "Random"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let flow_id = flow["id"]["id"].as_str().unwrap().to_string();
    let mut held: Vec<String> = Vec::new();
    let mut maps: Vec<String> = vec![flow["startMapElementId"].as_str().unwrap().to_string()];
    let kinds = ["value", "type", "page", "service"];
    for round in 0..60 {
        // A reference: a good one (the tenant's element, or a map element of the flow for a
        // map element) or a bad one (another tenant's, made up).
        let mut bad = false;
        let mut reference = |rng: &mut rand::rngs::StdRng, own: Option<&Vec<String>>| {
            match rng.gen_range(0..6) {
                0 if !held.is_empty() => held.choose(rng).unwrap().clone(),
                1 if own.is_some() => own.unwrap().choose(rng).unwrap().clone(),
                2 => {
                    bad = true;
                    foreign.clone()
                }
                3 => {
                    bad = true;
                    uuid::Uuid::new_v4().to_string()
                }
                // No reference at all, only a UUID where no element is meant.
                _ => String::new(),
            }
        };
        let with = |field: &str, id: String| {
            if id.is_empty() {
                json!({"note": uuid::Uuid::new_v4().to_string()})
            } else if field == "valueElementToReferenceId" {
                json!({field: {"id": id}})
            } else {
                json!({field: id})
            }
        };
        let (path, body) = match rng.gen_range(0..4) {
            0 => {
                let kind = kinds.choose(&mut rng).unwrap();
                let mut body = with("typeElementId", reference(&mut rng, None));
                body["developerName"] = json!(format!("{kind} {round}"));
                (format!("/api/draw/1/element/{kind}"), body)
            }
            1 => {
                let editing = current_token(&app, &key, &flow_id).await;
                let mut body = with("pageElementId", reference(&mut rng, Some(&maps)));
                body["developerName"] = json!(format!("Step {round}"));
                body["elementType"] = json!("STEP");
                let path = format!("/api/draw/1/flow/{flow_id}/{editing}/element/map");
                (path, body)
            }
            2 => {
                let response = get(&app, &key, &format!("/api/draw/1/graph/flow/{flow_id}")).await;
                let mut graph = assert_json(response, StatusCode::OK).await;
                let mut element = with(
                    "valueElementToReferenceId",
                    reference(&mut rng, Some(&maps)),
                );
                element["developerName"] = json!(format!("Graph step {round}"));
                element["elementType"] = json!("STEP");
                element["id"] = json!(uuid::Uuid::new_v4().to_string());
                graph["mapElements"].as_array_mut().unwrap().push(element);
                ("/api/draw/1/graph/flow".to_string(), graph)
            }
            _ => {
                let mut element = with("pageElementId", reference(&mut rng, None));
                element["developerName"] = json!("Posted step");
                element["elementType"] = json!("STEP");
                let body = json!({"developerName": format!("Posted {round}"),
                                  "mapElements": [element]});
                ("/api/draw/1/flow".to_string(), body)
            }
        };
        let response = post(&app, &key, &path, &body).await;
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        let expected = if bad {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        assert_eq!(
            status, expected,
            "seed {seed}, round {round}: {path} {body}: {answer}"
        );
        if status == StatusCode::OK {
            if path.starts_with("/api/draw/1/element/") {
                held.push(answer["id"].as_str().unwrap().to_string());
            } else if path.ends_with("/element/map") {
                maps.push(answer["id"].as_str().unwrap().to_string());
            }
        }
    }
    let (string, package) = export(&app, &key, &format!("{PACKAGE}/tenant")).await;
    let empty = app.create_tenant("Empty").await;
    assert!(app.add_admin_to(&empty).await.status.success());
    // A new sign-in: one reaches only the memberships that had begun when it was made.
    let token = app.admin_token().await;
    let empty_key = app.new_key_for(&token, "empty", &empty).await;
    let restored = post(&app, &empty_key, &format!("{PACKAGE}/tenant"), &string).await;
    let status = restored.status();
    assert_eq!(
        status,
        StatusCode::OK,
        "seed {seed}: {}\n{package}",
        restored.text().await.unwrap()
    );
}

async fn current_token(app: &TestApp, key: &str, flow: &str) -> String {
    let response = get(app, key, &format!("/api/draw/1/flow/{flow}")).await;
    let flow = assert_json(response, StatusCode::OK).await;
    flow["editingToken"].as_str().unwrap().to_string()
}
