//! Conformance with Boomi's description: every keyflow endpoint that Boomi's
//! `boomi-flow-openapi.json` also has is called for real, and each answer is validated against
//! Boomi's schema for it. Fields keyflow adds are allowed only when README's "Extensions"
//! section lists them, and each listed one must be met.

use std::collections::BTreeSet;
use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, both_backends};
use crate::schema_check::Validator;

both_backends! {
    keyflow_answers_in_boomis_shapes,
}

/// A copy kept in the repository (tests/fixtures/README.md says where it comes from), so a
/// fresh clone runs this test with nothing beside it.
const BOOMI: &str = "tests/fixtures/boomi-flow-openapi.json";

fn boomi() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(BOOMI);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!("Boomi's description must be at {}: {error}", path.display())
    });
    serde_json::from_str(&text).expect("Boomi's description is JSON")
}

/// The `Schema.field` names README's "Extensions" section lists.
fn readme_extensions() -> BTreeSet<String> {
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .expect("README.md");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Extensions"))
        .expect("README has an Extensions section");
    section
        .lines()
        .filter_map(|line| line.strip_prefix("- `"))
        .filter_map(|rest| rest.split('`').next())
        .filter(|name| name.contains('.') && !name.contains(' '))
        .map(str::to_string)
        .collect()
}

/// `/a/{x}/b` → `/a/{}/b`, so two descriptions' parameter names do not matter.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => inside = true,
            '}' => {
                inside = false;
                out.push_str("{}");
            }
            _ if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

/// (method, shaped path) → Boomi's operation.
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            found.push((method.to_uppercase(), shape(path), operation.clone()));
        }
    }
    found
}

struct Run<'a> {
    app: &'a TestApp,
    token: String,
    boomi: &'a Value,
    validator: Validator<'a>,
    covered: BTreeSet<(String, String)>,
    /// The operations keyflow refuses by design, with the status it documents instead of 200.
    refused: Vec<((String, String), u16)>,
    errors: Vec<String>,
}

impl Run<'_> {
    /// Calls keyflow and validates a 200 answer against Boomi's schema for the operation.
    async fn call(
        &mut self,
        method: Method,
        template: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut request = self.app.with_token(method.clone(), path, &self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let key = (method.to_string(), shape(template));
        let operation = operations(self.boomi)
            .into_iter()
            .find(|(m, p, _)| (m, p) == (&key.0, &key.1))
            .map(|(_, _, operation)| operation)
            .unwrap_or_else(|| panic!("Boomi has no {method} {template}"));
        self.covered.insert(key);
        // Boomi describes a few writes as answering 204 (and no 200): an empty body.
        let responses = &operation["responses"];
        if responses["200"].is_null() && !responses["204"].is_null() {
            assert_eq!(status, StatusCode::NO_CONTENT, "{method} {path}: {text}");
            assert!(text.is_empty(), "{method} {path} answers 204 with {text}");
            return Value::Null;
        }
        assert_eq!(status, StatusCode::OK, "{method} {path}: {text}");
        let schema = &operation["responses"]["200"]["content"]["application/json"]["schema"];
        if schema.is_null() {
            return Value::Null;
        }
        let value: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        let at = format!("{method} {template}");
        self.validator.check(&value, schema, &at, &mut self.errors);
        value
    }

    /// Calls an operation Boomi describes that keyflow refuses by design (docs/API.md says
    /// why): the answer must be that refusal, an error message, and keyflow's description
    /// must document it in place of a success (checked at the end).
    async fn refuse(&mut self, method: Method, path: &str, body: Value, status: StatusCode) {
        let response = self
            .app
            .with_token(method.clone(), path, &self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        crate::helpers::assert_error(response, status).await;
        let key = (method.to_string(), shape(path));
        self.covered.insert(key.clone());
        self.refused.push((key, status.as_u16()));
    }
}

/// The flow's current editingToken (a save of the flow or its graph renews it).
async fn editing_token(run: &mut Run<'_>, flow: &str) -> String {
    let flow = run
        .call(
            Method::GET,
            "/api/draw/1/flow/{id}",
            &format!("/api/draw/1/flow/{flow}"),
            None,
        )
        .await;
    flow["editingToken"].as_str().unwrap().to_string()
}

/// The runtime API: a flow built and activated (as `tests/api/run.rs` builds it), started,
/// read, invoked through its page to its end, and found among the runnable flows.
async fn run_flows(run: &mut Run<'_>) {
    let key = run.app.new_key("conformance run").await;
    let built = crate::run::build(run.app, &key, "ALL_USERS", "STEP").await;
    let started = run
        .call(
            Method::POST,
            "/api/run/1",
            "/api/run/1",
            Some(json!({ "flowId": { "id": built.flow } })),
        )
        .await;
    let state = started["stateId"].as_str().unwrap().to_string();
    let one = "/api/run/1/state/{stateId}";
    let path = format!("/api/run/1/state/{state}");
    let read = run.call(Method::GET, one, &path, None).await;
    let go = "00000000-0000-4000-8000-0000000000f1";
    let answers = json!([{ "pageComponentId": built.name_box, "contentValue": "Ada" }]);
    let body = |token: &Value, answers: Value| {
        json!({ "invokeType": "FORWARD", "stateToken": token,
                "mapElementInvokeRequest": { "selectedOutcomeId": go,
                    "pageRequest": { "pageComponentInputResponses": answers } } })
    };
    // A page shown again (a required answer missing), then the end.
    let again = run
        .call(
            Method::POST,
            one,
            &path,
            Some(body(&read["stateToken"], json!([]))),
        )
        .await;
    let again_shape = &run.boomi["components"]["schemas"]["EngineInvokeResponseAPI"].clone();
    run.validator.check(
        &again,
        again_shape,
        "POST /api/run/1/state/{stateId}",
        &mut run.errors,
    );
    let done = run
        .call(
            Method::POST,
            one,
            &path,
            Some(body(&again["stateToken"], answers)),
        )
        .await;
    assert_eq!(done["invokeType"], "DONE", "{done}");
    let values = run
        .call(
            Method::GET,
            "/api/run/1/state/{stateId}/values",
            &format!("{path}/values"),
            None,
        )
        .await;
    let value = values[0]["valueElementId"].as_str().unwrap().to_string();
    let simple_state = run
        .call(
            Method::POST,
            "/api/run/1/state",
            "/api/run/1/state",
            Some(json!({ "id": built.flow })),
        )
        .await;
    let waiting = format!(
        "/api/run/1/state/{}/values",
        simple_state["stateId"].as_str().unwrap()
    );
    run.call(
        Method::POST,
        "/api/run/1/state/{stateId}/values",
        &waiting,
        Some(json!([{ "valueElementId": value, "contentValue": "7" }])),
    )
    .await;
    run.call(
        Method::GET,
        "/api/run/1/state/{stateId}/values/{id}",
        &format!("{path}/values/{value}"),
        None,
    )
    .await;
    run.call(
        Method::GET,
        "/api/run/1/state/{stateId}/values/name/{name}",
        &format!("{path}/values/name/Name%20ALL_USERS"),
        None,
    )
    .await;
    run.validator.check(
        &done,
        again_shape,
        "POST /api/run/1/state/{stateId}",
        &mut run.errors,
    );
    let simple = run
        .call(
            Method::POST,
            "/api/run/1/state",
            "/api/run/1/state",
            Some(json!({ "id": built.flow })),
        )
        .await;
    assert!(simple["mapElementInvokeResponses"][0]["pageResponse"].is_object());
    run.call(Method::GET, "/api/run/1/flow", "/api/run/1/flow", None)
        .await;
    run.call(
        Method::GET,
        "/api/run/1/flow/{id}",
        &format!("/api/run/1/flow/{}", built.flow),
        None,
    )
    .await;
    run.call(
        Method::GET,
        "/api/run/1/flow/name/{name}",
        "/api/run/1/flow/name/Run%20ALL_USERS%20STEP",
        None,
    )
    .await;
    // The state's history, and the administration of states.
    let history = run
        .call(
            Method::GET,
            "/api/run/1/state/{stateId}/history",
            &format!("{path}/history"),
            None,
        )
        .await;
    assert_eq!(
        history["entries"].as_array().map(Vec::len),
        Some(4),
        "{history}"
    );
    let states = "/api/admin/1/states";
    let listed = run.call(Method::GET, states, states, None).await;
    assert!(listed["_meta"]["total"].as_u64() >= Some(2), "{listed}");
    let version = listed["items"][0]["currentFlowId"]["versionId"]
        .as_str()
        .unwrap()
        .to_string();
    run.call(
        Method::GET,
        "/api/admin/1/states/flow/{id}",
        &format!("{states}/flow/{}", built.flow),
        None,
    )
    .await;
    run.call(
        Method::GET,
        "/api/admin/1/states/flow/{id}/{version}",
        &format!("{states}/flow/{}/{version}", built.flow),
        None,
    )
    .await;
    let one = "/api/admin/1/states/{id}";
    run.call(Method::GET, one, &format!("{states}/{state}"), None)
        .await;
    run.call(Method::DELETE, one, &format!("{states}/{state}"), None)
        .await;
    let simple_state = simple["stateId"].as_str().unwrap();
    run.call(Method::DELETE, states, states, Some(json!([simple_state])))
        .await;
    // A navigation of the flow, read for a new state of it.
    let token = crate::graph::current_token(run.app, &key, &built.flow).await;
    let navigation = crate::graph::elements_path(&built.flow, &token, "navigation");
    let item = json!({ "id": "00000000-0000-4000-8000-00000000b001", "label": "Ask",
                       "locationMapElementId": built.ask, "order": 0 });
    let menu = json!({ "developerName": "Menu", "navigationItems": [item] });
    let menu = crate::run::ok(run.app, &key, Method::POST, &navigation, Some(menu)).await;
    crate::run::publish(run.app, &key, &built.flow, None).await;
    let state = run
        .call(
            Method::POST,
            "/api/run/1/state",
            "/api/run/1/state",
            Some(json!({ "id": built.flow })),
        )
        .await;
    run.call(
        Method::POST,
        "/api/run/1/navigation/{stateId}",
        &format!(
            "/api/run/1/navigation/{}",
            state["stateId"].as_str().unwrap()
        ),
        Some(json!({ "navigationElementId": menu["id"] })),
    )
    .await;
}

/// A flow's own elements (map, group, navigation), its graph (draw/1 and draw/2) and the
/// tenant elements imported into it.
async fn flow_graph(run: &mut Run<'_>) {
    // The audit trail holds the key events above.
    let audit = "/api/audit/1/search";
    let page = run
        .call(
            Method::GET,
            audit,
            &format!("{audit}?type=key.created&type=key.deleted&orderDirection=DESC"),
            None,
        )
        .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2), "{page}");
    run.call(
        Method::GET,
        "/api/audit/1/csv",
        "/api/audit/1/csv?type=key.created",
        None,
    )
    .await;

    let flows = "/api/draw/1/flow";
    let flow = run
        .call(
            Method::POST,
            flows,
            flows,
            Some(json!({ "developerName": "Conformance graph" })),
        )
        .await;
    let id = flow["id"]["id"].as_str().unwrap().to_string();
    // The page a map element below shows: a reference must name an element of the tenant.
    let pages = "/api/draw/1/element/page";
    let page = run
        .call(
            Method::POST,
            pages,
            pages,
            Some(json!({ "developerName": "Conformance canvas page" })),
        )
        .await;
    let page = page["id"].as_str().unwrap().to_string();

    // Each type of flow element: save, list, read; deleted at the end.
    let mut saved = Vec::new();
    for (kind, body) in [
        (
            "map",
            json!({ "elementType": "STEP", "developerName": "Step", "x": 10, "y": 20 }),
        ),
        (
            "map",
            json!({ "elementType": "STEP", "developerName": "Other", "x": 30, "y": 40 }),
        ),
        (
            "group",
            json!({ "elementType": "GROUP", "developerName": "Group", "width": 100, "height": 80 }),
        ),
        (
            "navigation",
            json!({ "developerName": "Navigation", "navigationItems": [] }),
        ),
        // What the draw/2 canvas derives `subflow`, `page` and `wait` from.
        (
            "map",
            json!({ "elementType": "SUBFLOW", "developerName": "Refers", "x": 50, "y": 60,
                    "subflow": { "flowId": { "id": id, "versionId": null } },
                    "pageElementId": page,
                    "wait": { "days": 1, "absoluteDate": "2030-01-02T03:04:05Z" } }),
        ),
    ] {
        let list = format!("/api/draw/1/flow/{{flow}}/{{editingToken}}/element/{kind}");
        let one = format!("{list}/{{id}}");
        let token = editing_token(run, &id).await;
        let real = format!("{flows}/{id}/{token}/element/{kind}");
        let element = run.call(Method::POST, &list, &real, Some(body)).await;
        let element = element["id"].as_str().unwrap().to_string();
        let token = editing_token(run, &id).await;
        let real = format!("{flows}/{id}/{token}/element/{kind}");
        run.call(Method::GET, &list, &real, None).await;
        run.call(Method::GET, &one, &format!("{real}/{element}"), None)
            .await;
        saved.push((kind, element));
    }
    let step = saved[0].1.clone();
    let other = saved[1].1.clone();
    let group = saved[2].1.clone();

    let graph = run
        .call(
            Method::GET,
            "/api/draw/1/graph/flow/{flow}",
            &format!("/api/draw/1/graph/flow/{id}"),
            None,
        )
        .await;
    run.call(
        Method::POST,
        "/api/draw/1/graph/flow",
        "/api/draw/1/graph/flow",
        Some(graph),
    )
    .await;
    run.call(
        Method::POST,
        "/api/draw/1/graph/flow/{flow}/elements/load",
        &format!("/api/draw/1/graph/flow/{id}/elements/load"),
        Some(json!({ "mapElementIds": [step], "groupElementIds": [group] })),
    )
    .await;
    run.call(
        Method::POST,
        "/api/draw/1/graph/flow/{flow}/elements/save",
        &format!("/api/draw/1/graph/flow/{id}/elements/save"),
        Some(json!({ "mapElements": [
            { "id": step, "elementType": "STEP", "developerName": "Step renamed" }
        ] })),
    )
    .await;
    let canvas = run
        .call(
            Method::GET,
            "/api/draw/2/graph/flow/{id}",
            &format!("/api/draw/2/graph/flow/{id}"),
            None,
        )
        .await;
    let refers = canvas["mapElements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|element| element["developerName"] == "Refers")
        .unwrap();
    for field in ["subflow", "page", "wait"] {
        assert!(refers[field].is_object(), "{field} of {refers}");
    }
    run.call(
        Method::PUT,
        "/api/draw/2/graph/flow",
        "/api/draw/2/graph/flow",
        Some(canvas),
    )
    .await;
    run.call(
        Method::DELETE,
        "/api/draw/2/graph/flow/{flow}/elements/delete",
        &format!("/api/draw/2/graph/flow/{id}/elements/delete"),
        Some(json!({ "mapElementIds": [other] })),
    )
    .await;
    for (kind, element) in saved.iter().filter(|(_, element)| *element != other) {
        let token = editing_token(run, &id).await;
        run.call(
            Method::DELETE,
            &format!("/api/draw/1/flow/{{flow}}/{{editingToken}}/element/{kind}/{{id}}"),
            &format!("{flows}/{id}/{token}/element/{kind}/{element}"),
            None,
        )
        .await;
    }

    // A tenant element imported into the flow, listed as used, and the import removed.
    let values = "/api/draw/1/element/value";
    let value = run
        .call(
            Method::POST,
            values,
            values,
            Some(json!({ "developerName": "Conformance imported" })),
        )
        .await;
    let value = value["id"].as_str().unwrap().to_string();
    let import = "/api/draw/1/element/flow/{flow}/{elementType}/{id}";
    let imported = format!("/api/draw/1/element/flow/{id}/value/{value}");
    run.call(Method::POST, import, &imported, None).await;
    run.call(
        Method::GET,
        "/api/draw/1/element/flow/{flow}/{elementType}",
        &format!("/api/draw/1/element/flow/{id}/value"),
        None,
    )
    .await;
    run.call(Method::DELETE, import, &imported, None).await;
    run.call(
        Method::DELETE,
        "/api/draw/1/element/value/{id}",
        &format!("{values}/{value}"),
        None,
    )
    .await;
    run.call(
        Method::DELETE,
        "/api/draw/1/flow/{id}",
        &format!("{flows}/{id}"),
        None,
    )
    .await;
}

async fn keyflow_answers_in_boomis_shapes() {
    let boomi = boomi();
    let extensions = readme_extensions();
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let validator = Validator {
        document: &boomi,
        extensions: &extensions,
        seen: BTreeSet::new(),
    };
    let mut run = Run {
        app: &app,
        token,
        boomi: &boomi,
        validator,
        covered: BTreeSet::new(),
        refused: Vec::new(),
        errors: Vec::new(),
    };
    let tenant = app.tenant_id.clone();

    run.call(
        Method::GET,
        "/api/admin/1/users/me",
        "/api/admin/1/users/me",
        None,
    )
    .await;
    run.call(
        Method::PUT,
        "/api/admin/1/users/me",
        "/api/admin/1/users/me",
        Some(json!({ "firstName": "Example", "lastName": "Admin" })),
    )
    .await;
    let keys = "/api/admin/1/users/me/keys";
    run.call(
        Method::POST,
        keys,
        keys,
        Some(json!({ "name": "conformance", "tenantId": tenant })),
    )
    .await;
    run.call(Method::GET, keys, keys, None).await;
    run.call(
        Method::DELETE,
        "/api/admin/1/users/me/keys/{name}",
        &format!("{keys}/conformance"),
        None,
    )
    .await;

    let flows = "/api/draw/1/flow";
    let flow = run
        .call(
            Method::POST,
            flows,
            flows,
            Some(json!({ "developerName": "Conformance", "tags": ["a"] })),
        )
        .await;
    let id = flow["id"]["id"].as_str().unwrap().to_string();
    let version = flow["id"]["versionId"].as_str().unwrap().to_string();
    run.call(Method::GET, flows, flows, None).await;
    run.call(
        Method::GET,
        "/api/draw/1/flow/{id}",
        &format!("{flows}/{id}"),
        None,
    )
    .await;
    run.call(
        Method::POST,
        "/api/draw/1/flow/snap/{flow}",
        &format!("{flows}/snap/{id}"),
        Some(json!("a comment")),
    )
    .await;
    run.call(
        Method::GET,
        "/api/draw/1/flow/snap/{flow}",
        &format!("{flows}/snap/{id}"),
        None,
    )
    .await;
    run.call(
        Method::GET,
        "/api/draw/1/flow/snap/{flow}/{version}",
        &format!("{flows}/snap/{id}/{version}"),
        None,
    )
    .await;
    let activation = "/api/draw/1/flow/activation/{flow}/{version}/{isDefault}/{isActivated}";
    run.call(
        Method::POST,
        activation,
        &format!("{flows}/activation/{id}/{version}/true/true"),
        None,
    )
    .await;
    run.call(
        Method::GET,
        "/api/draw/1/flow/active",
        &format!("{flows}/active"),
        None,
    )
    .await;
    run.call(
        Method::GET,
        "/api/draw/1/flow/active/{id}",
        &format!("{flows}/active/{id}"),
        None,
    )
    .await;
    run.call(
        Method::GET,
        "/api/draw/1/flow/active/name/{name}",
        &format!("{flows}/active/name/Conformance"),
        None,
    )
    .await;
    run.call(
        Method::POST,
        "/api/draw/1/flow/revert/{flow}/{version}",
        &format!("{flows}/revert/{id}/{version}"),
        None,
    )
    .await;
    let later = run
        .call(
            Method::POST,
            "/api/draw/1/flow/snap/{flow}",
            &format!("{flows}/snap/{id}"),
            None,
        )
        .await;
    let later = later["id"]["versionId"].as_str().unwrap().to_string();
    run.call(
        Method::GET,
        "/api/draw/2/flow/snap/{flow}",
        &format!("/api/draw/2/flow/snap/{id}"),
        None,
    )
    .await;
    run.call(
        Method::GET,
        "/api/draw/1/flow/snap/{flow}/diff/{versionBefore}/{versionAfter}",
        &format!("{flows}/snap/{id}/diff/{version}/{later}"),
        None,
    )
    .await;
    run.call(
        Method::POST,
        "/api/draw/2/flow/revert/{flow}/{version}",
        &format!("/api/draw/2/flow/revert/{id}/{version}"),
        None,
    )
    .await;
    run.call(
        Method::GET,
        "/api/package/1/flow/{id}",
        &format!("/api/package/1/flow/{id}"),
        None,
    )
    .await;
    let package = run
        .call(
            Method::GET,
            "/api/package/1/flow/{id}/{version}",
            &format!("/api/package/1/flow/{id}/{version}"),
            None,
        )
        .await;
    run.call(
        Method::POST,
        "/api/package/1/flow",
        "/api/package/1/flow",
        Some(package),
    )
    .await;
    let shared = run
        .call(
            Method::POST,
            "/api/package/1/flow/{flow}/share",
            &format!("/api/package/1/flow/{id}/share"),
            None,
        )
        .await;
    run.call(
        Method::POST,
        "/api/package/1/flow/{flow}/{version}/share",
        &format!("/api/package/1/flow/{id}/{version}/share"),
        None,
    )
    .await;
    run.call(
        Method::POST,
        "/api/package/1/shared/flow",
        "/api/package/1/shared/flow",
        Some(json!({ "token": shared["token"] })),
    )
    .await;
    let backup = run
        .call(
            Method::GET,
            "/api/package/1/tenant",
            "/api/package/1/tenant",
            None,
        )
        .await;
    run.call(
        Method::POST,
        "/api/package/1/tenant",
        "/api/package/1/tenant",
        Some(backup),
    )
    .await;
    run.call(
        Method::POST,
        "/api/draw/1/flow/deactivate/{flow}",
        &format!("{flows}/deactivate/{id}"),
        None,
    )
    .await;
    run.call(
        Method::DELETE,
        "/api/draw/1/flow/{id}",
        &format!("{flows}/{id}"),
        None,
    )
    .await;

    // Every kind of tenant element: save, list, read, delete; and the paged lists.
    for kind in [
        "value",
        "type",
        "page",
        "service",
        "macro",
        "identityprovider",
        "tag",
        "customPageComponent",
    ] {
        let list = format!("/api/draw/1/element/{kind}");
        let one = format!("{list}/{{id}}");
        let saved = run
            .call(
                Method::POST,
                &list,
                &list,
                Some(json!({ "developerName": format!("Conformance {kind}") })),
            )
            .await;
        let element = saved["id"].as_str().unwrap().to_string();
        run.call(Method::GET, &list, &list, None).await;
        run.call(Method::GET, &one, &format!("{list}/{element}"), None)
            .await;
        if ["value", "type", "page", "service"].contains(&kind) {
            let paged = format!("/api/draw/2/element/{kind}");
            run.call(Method::GET, &paged, &paged, None).await;
        }
        run.call(Method::DELETE, &one, &format!("{list}/{element}"), None)
            .await;
    }

    // keyflow calls no connector, so it cannot install a service from one.
    run.refuse(
        Method::POST,
        "/api/draw/1/element/service/install",
        json!({ "uri": "https://connector.example/api/rest/1" }),
        StatusCode::NOT_IMPLEMENTED,
    )
    .await;

    flow_graph(&mut run).await;
    run_flows(&mut run).await;

    let tenant_path = "/api/admin/1/tenant";
    run.call(Method::GET, tenant_path, tenant_path, None).await;
    run.call(
        Method::POST,
        tenant_path,
        tenant_path,
        Some(json!({ "developerName": "Example", "developerSummary": "s" })),
    )
    .await;

    let users = "/api/admin/1/users";
    let added = run
        .call(
            Method::POST,
            users,
            users,
            Some(json!({ "email": "new@example.com" })),
        )
        .await;
    let user = added["id"].as_str().unwrap().to_string();
    run.call(Method::GET, users, users, None).await;
    run.call(
        Method::GET,
        "/api/admin/1/users/{id}",
        &format!("{users}/{user}"),
        None,
    )
    .await;
    run.call(
        Method::PUT,
        "/api/admin/1/users/{id}",
        &format!("{users}/{user}"),
        Some(json!({ "firstName": "N" })),
    )
    .await;
    run.call(
        Method::DELETE,
        "/api/admin/1/users/{id}",
        &format!("{users}/{user}"),
        None,
    )
    .await;

    assert!(
        run.errors.is_empty(),
        "answers that break Boomi's schemas:\n{}",
        run.errors.join("\n")
    );
    assert_eq!(
        run.validator.seen, extensions,
        "README lists extensions the answers do not carry"
    );

    // Every operation both descriptions have was called.
    let ours = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    let ours: Value = ours.json().await.unwrap();
    let theirs: BTreeSet<(String, String)> = operations(&boomi)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let shared: BTreeSet<(String, String)> = operations(&ours)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .filter(|operation| theirs.contains(operation))
        .collect();
    assert_eq!(
        run.covered, shared,
        "call every operation Boomi also describes"
    );
    // An operation keyflow refuses by design documents that refusal and no success.
    for ((method, path), status) in &run.refused {
        let (_, _, operation) = operations(&ours)
            .into_iter()
            .find(|(m, p, _)| (m, p) == (method, path))
            .unwrap();
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.contains_key(&status.to_string()),
            "{method} {path} does not document its {status}"
        );
        assert!(
            !responses.keys().any(|code| code.starts_with('2')),
            "{method} {path} documents a success it never gives"
        );
    }
}
