//! Flows: `/api/draw/1/flow`, per tenant, with Boomi's shapes and filters.

use std::collections::BTreeSet;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_error, assert_json, both_backends, enc, flow_names, is_rfc3339_utc,
};

both_backends! {
    a_created_flow_carries_every_field,
    an_update_keeps_the_id_and_creation_date_and_makes_a_new_version,
    updating_an_unknown_flow_is_not_found,
    a_flow_is_fetched_by_id,
    an_unknown_or_malformed_flow_id_is_refused,
    a_deleted_flow_is_gone,
    the_list_is_ordered_by_name,
    eq_matches_the_whole_name_ignoring_case,
    substringof_matches_part_of_the_name_ignoring_case,
    a_doubled_quote_stands_for_a_quote,
    a_filter_keyflow_cannot_read_is_a_bad_request,
    ne_excludes_the_whole_name_ignoring_case,
    startswith_matches_the_start_of_the_name,
    the_summary_and_the_id_can_be_filtered,
    and_binds_tighter_than_or_and_parentheses_group,
    a_filter_too_long_or_too_deep_is_a_bad_request,
    the_active_flows_take_the_same_filter,
    a_missing_empty_or_overlong_name_is_unprocessable,
    a_nul_in_the_settings_is_kept,
    a_fetched_flow_can_be_posted_back_as_is,
    flows_belong_to_their_tenant,
    a_token_reaches_the_same_flows_as_a_key,
    the_cached_list_follows_every_write,
    page_and_page_size_select_a_slice_of_the_ordered_list,
    the_list_answered_from_the_caches_is_the_routed_answer,
}

const FLOW: &str = "/api/draw/1/flow";

/// Every field of `FlowResponseAPI`, as docs/API.md lists them.
const FLOW_FIELDS: [&str; 21] = [
    "editingToken",
    "id",
    "developerName",
    "developerSummary",
    "startMapElementId",
    "allowJumping",
    "enableHistoricalNavigation",
    "stateExpirationLength",
    "idleStateExpirationLength",
    "authorization",
    "identityProvider",
    "tags",
    "dateCreated",
    "dateModified",
    "whoCreated",
    "whoModified",
    "whoOwner",
    "alertEmail",
    "isActive",
    "isDefault",
    "comment",
];

/// A server and a key of the administrator for `Example`.
async fn app_with_key() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let key = app.new_key("flows").await;
    (app, key)
}

async fn post_flow(app: &TestApp, key: &str, body: &Value) -> Response {
    app.with_key(Method::POST, FLOW, key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Creates a flow and returns it.
async fn create_flow(app: &TestApp, key: &str, name: &str) -> Value {
    let body = json!({ "developerName": name, "developerSummary": "made by a test" });
    assert_json(post_flow(app, key, &body).await, StatusCode::OK).await
}

async fn get_flow(app: &TestApp, key: &str, id: &str) -> Response {
    app.with_key(Method::GET, &format!("{FLOW}/{id}"), key)
        .send()
        .await
        .unwrap()
}

async fn filtered(app: &TestApp, key: &str, filter: &str) -> Response {
    app.get_flows(&format!("{FLOW}?filter={}", enc(filter)), Some(key), None)
        .await
}

/// The names of the flows a filter selects.
async fn names_matching(app: &TestApp, key: &str, filter: &str) -> Vec<String> {
    flow_names(&assert_json(filtered(app, key, filter).await, StatusCode::OK).await)
}

fn flow_id(flow: &Value) -> String {
    flow["id"]["id"]
        .as_str()
        .expect("a flow has id.id")
        .to_string()
}

async fn a_created_flow_carries_every_field() {
    let (app, key) = app_with_key().await;
    let me = app.me(&app.admin_token().await).await;
    let flow = create_flow(&app, &key, "Complete").await;

    let fields: BTreeSet<&str> = flow
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, BTreeSet::from(FLOW_FIELDS));
    assert_eq!(flow["developerName"], "Complete");
    assert_eq!(flow["developerSummary"], "made by a test");
    uuid::Uuid::parse_str(&flow_id(&flow)).expect("id.id is a UUID");
    assert!(flow["id"]["versionId"].is_string());
    uuid::Uuid::parse_str(flow["editingToken"].as_str().unwrap()).expect("editingToken is a UUID");
    assert!(
        is_rfc3339_utc(flow["dateCreated"].as_str().unwrap()),
        "{flow}"
    );
    assert!(
        is_rfc3339_utc(flow["dateModified"].as_str().unwrap()),
        "{flow}"
    );
    for who in ["whoCreated", "whoModified", "whoOwner"] {
        assert_eq!(flow[who]["id"], me["id"], "{who}");
        assert_eq!(flow[who]["email"], app.admin_email.as_str(), "{who}");
    }
}

async fn an_update_keeps_the_id_and_creation_date_and_makes_a_new_version() {
    let (app, key) = app_with_key().await;
    let first = create_flow(&app, &key, "Draft").await;
    let body = json!({ "id": { "id": flow_id(&first) }, "developerName": "Final" });
    let second = assert_json(post_flow(&app, &key, &body).await, StatusCode::OK).await;

    assert_eq!(second["id"]["id"], first["id"]["id"]);
    assert_ne!(second["id"]["versionId"], first["id"]["versionId"]);
    assert_eq!(second["dateCreated"], first["dateCreated"]);
    assert_ne!(second["dateModified"], first["dateModified"]);
    let fetched = assert_json(get_flow(&app, &key, &flow_id(&first)).await, StatusCode::OK).await;
    assert_eq!(fetched["developerName"], "Final");
    assert_eq!(fetched["id"], second["id"]);
}

async fn updating_an_unknown_flow_is_not_found() {
    let (app, key) = app_with_key().await;
    let body = json!({ "id": { "id": uuid::Uuid::new_v4().to_string() }, "developerName": "X" });
    assert_error(post_flow(&app, &key, &body).await, StatusCode::NOT_FOUND).await;
}

async fn a_flow_is_fetched_by_id() {
    let (app, key) = app_with_key().await;
    let created = create_flow(&app, &key, "Fetch me").await;
    let fetched = assert_json(
        get_flow(&app, &key, &flow_id(&created)).await,
        StatusCode::OK,
    )
    .await;
    // Everything but the editing session's token is what the create answered.
    let without_token = |flow: &Value| {
        let mut flow = flow.clone();
        flow.as_object_mut().unwrap().remove("editingToken");
        flow
    };
    assert_eq!(without_token(&fetched), without_token(&created));
}

async fn an_unknown_or_malformed_flow_id_is_refused() {
    let (app, key) = app_with_key().await;
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_error(get_flow(&app, &key, &unknown).await, StatusCode::NOT_FOUND).await;
    assert_error(
        get_flow(&app, &key, "not-a-uuid").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let delete = |id: &str| {
        app.with_key(Method::DELETE, &format!("{FLOW}/{id}"), &key)
            .send()
    };
    assert_error(delete(&unknown).await.unwrap(), StatusCode::NOT_FOUND).await;
    assert_error(delete("not-a-uuid").await.unwrap(), StatusCode::BAD_REQUEST).await;
}

async fn a_deleted_flow_is_gone() {
    let (app, key) = app_with_key().await;
    let id = flow_id(&create_flow(&app, &key, "Doomed").await);
    let deleted = app
        .with_key(Method::DELETE, &format!("{FLOW}/{id}"), &key)
        .send()
        .await;
    assert_eq!(deleted.unwrap().status(), StatusCode::OK);
    assert_error(get_flow(&app, &key, &id).await, StatusCode::NOT_FOUND).await;
    let names =
        flow_names(&assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await);
    assert!(!names.contains(&"Doomed".to_string()));
}

async fn the_list_is_ordered_by_name() {
    let (app, key) = app_with_key().await;
    for name in ["Zebra", "Apple", "Mango"] {
        create_flow(&app, &key, name).await;
    }
    let names =
        flow_names(&assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await);
    assert_eq!(names, ["Apple", "Hello World", "Mango", "Zebra"]);
}

async fn eq_matches_the_whole_name_ignoring_case() {
    let (app, key) = app_with_key().await;
    create_flow(&app, &key, "Hello World Again").await;
    let names = names_matching(&app, &key, "developerName eq 'hello world'").await;
    assert_eq!(names, ["Hello World"]);
    assert!(
        names_matching(&app, &key, "developerName eq 'hello'")
            .await
            .is_empty()
    );
}

async fn substringof_matches_part_of_the_name_ignoring_case() {
    let (app, key) = app_with_key().await;
    create_flow(&app, &key, "Hello World Again").await;
    create_flow(&app, &key, "Goodbye").await;
    let names = names_matching(&app, &key, "substringof(developerName,'WORLD')").await;
    assert_eq!(names, ["Hello World", "Hello World Again"]);
}

async fn a_doubled_quote_stands_for_a_quote() {
    let (app, key) = app_with_key().await;
    create_flow(&app, &key, "Bob's Flow").await;
    let exact = names_matching(&app, &key, "developerName eq 'bob''s flow'").await;
    assert_eq!(exact, ["Bob's Flow"]);
    let part = names_matching(&app, &key, "substringof(developerName,'b''s')").await;
    assert_eq!(part, ["Bob's Flow"]);
}

async fn a_filter_keyflow_cannot_read_is_a_bad_request() {
    let (app, key) = app_with_key().await;
    for garbage in [
        "garbage",
        "developerName eq 'open",
        "tags eq 'x'",
        "1 eq 1",
        "developerName gt 'a'",
        "developerName eq 'a' or",
        "(developerName eq 'a'",
        "not developerName eq 'a'",
    ] {
        let message =
            assert_error(filtered(&app, &key, garbage).await, StatusCode::BAD_REQUEST).await;
        // The refusal says what keyflow does read.
        for form in [
            "developerSummary",
            "substringof(",
            "startswith(",
            "and / or",
        ] {
            assert!(message.contains(form), "{garbage}: {message}");
        }
    }
}

async fn ne_excludes_the_whole_name_ignoring_case() {
    let (app, key) = app_with_key().await;
    create_flow(&app, &key, "Other").await;
    let names = names_matching(&app, &key, "developerName NE 'HELLO WORLD'").await;
    assert_eq!(names, ["Other"]);
}

async fn startswith_matches_the_start_of_the_name() {
    let (app, key) = app_with_key().await;
    create_flow(&app, &key, "World Hello").await;
    create_flow(&app, &key, "hello again").await;
    let names = names_matching(&app, &key, "startswith(developerName,'HELLO')").await;
    assert_eq!(names, ["hello again", "Hello World"]);
}

async fn the_summary_and_the_id_can_be_filtered() {
    let (app, key) = app_with_key().await;
    let body = json!({ "developerName": "Summed", "developerSummary": "Counts The Orders" });
    let summed = assert_json(post_flow(&app, &key, &body).await, StatusCode::OK).await;
    let by_summary = names_matching(&app, &key, "substringof(developerSummary,'the orders')").await;
    assert_eq!(by_summary, ["Summed"]);
    let id = flow_id(&summed).to_uppercase();
    let by_id = names_matching(&app, &key, &format!("id eq '{id}'")).await;
    assert_eq!(by_id, ["Summed"]);
    // OData v2's order: the value first.
    let v2 = names_matching(&app, &key, "substringof('ORDERS', developerSummary)").await;
    assert_eq!(v2, ["Summed"]);
}

async fn and_binds_tighter_than_or_and_parentheses_group() {
    let (app, key) = app_with_key().await;
    for name in ["Alpha One", "Alpha Two", "Beta One"] {
        create_flow(&app, &key, name).await;
    }
    // Alpha One, or (Beta… and …Two): Beta One is not Two.
    let loose = "developerName eq 'alpha one' OR startswith(developerName,'beta') \
                 AND substringof(developerName,'two')";
    assert_eq!(names_matching(&app, &key, loose).await, ["Alpha One"]);
    // (Alpha… or Beta…) and …One.
    let grouped = "(startswith(developerName,'alpha') or startswith(developerName,'beta')) \
                   and substringof(developerName,'one')";
    assert_eq!(
        names_matching(&app, &key, grouped).await,
        ["Alpha One", "Beta One"]
    );
    let both = "startswith(developerName,'alpha') and developerName ne 'alpha one'";
    assert_eq!(names_matching(&app, &key, both).await, ["Alpha Two"]);
}

async fn a_filter_too_long_or_too_deep_is_a_bad_request() {
    let (app, key) = app_with_key().await;
    let deep = format!("{}developerName eq 'a'{}", "(".repeat(40), ")".repeat(40));
    let message = assert_error(filtered(&app, &key, &deep).await, StatusCode::BAD_REQUEST).await;
    assert!(message.contains("deeper"), "{message}");
    let long = format!("developerName eq '{}'", "a".repeat(2000));
    let message = assert_error(filtered(&app, &key, &long).await, StatusCode::BAD_REQUEST).await;
    assert!(message.contains("longer"), "{message}");
}

async fn the_active_flows_take_the_same_filter() {
    let (app, key) = app_with_key().await;
    for name in ["Alpha", "Beta"] {
        let flow = create_flow(&app, &key, name).await;
        let id = flow_id(&flow);
        let snap = app
            .with_key(Method::POST, &format!("{FLOW}/snap/{id}"), &key)
            .json(&json!("first"))
            .send()
            .await
            .unwrap();
        let snap = assert_json(snap, StatusCode::OK).await;
        let version = snap["id"]["versionId"].as_str().unwrap().to_string();
        let activate = app
            .with_key(
                Method::POST,
                &format!("{FLOW}/activation/{id}/{version}/true/true"),
                &key,
            )
            .send()
            .await
            .unwrap();
        assert_json(activate, StatusCode::OK).await;
    }
    let active = |filter: &str| {
        let path = format!("{FLOW}/active?filter={}", enc(filter));
        let request = app.with_key(Method::GET, &path, &key);
        async move { assert_json(request.send().await.unwrap(), StatusCode::OK).await }
    };
    let either = active("developerName eq 'alpha' or startswith(developerName,'BE')").await;
    assert_eq!(flow_names(&either), ["Alpha", "Beta"]);
    let not_alpha = active("developerName ne 'ALPHA'").await;
    assert_eq!(flow_names(&not_alpha), ["Beta"]);
    let refused = app
        .with_key(Method::GET, &format!("{FLOW}/active?filter=x"), &key)
        .send()
        .await
        .unwrap();
    assert_error(refused, StatusCode::BAD_REQUEST).await;
}

async fn a_missing_empty_or_overlong_name_is_unprocessable() {
    let (app, key) = app_with_key().await;
    let bodies = [
        json!({ "developerSummary": "nameless" }),
        json!({ "developerName": "" }),
        json!({ "developerName": "x".repeat(256) }),
        json!({ "developerName": 7 }),
    ];
    for body in bodies {
        assert_error(
            post_flow(&app, &key, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    create_flow(&app, &key, &"x".repeat(255)).await;
}

/// The settings are kept as sent, U+0000 included, on every backend alike (PostgreSQL keeps
/// them as JSON text, since its jsonb holds no U+0000).
async fn a_nul_in_the_settings_is_kept() {
    let (app, key) = app_with_key().await;
    let body = json!({
        "developerName": "N",
        "authorization": { "groups": [{ "name": "a\u{0}b" }], "users": [{ "x\u{0}": 1 }] },
        "identityProvider": { "allowedUsers": ["\u{0}"] }
    });
    let saved = assert_json(post_flow(&app, &key, &body).await, StatusCode::OK).await;
    let fetched = assert_json(get_flow(&app, &key, &flow_id(&saved)).await, StatusCode::OK).await;
    for (object, field) in [
        ("authorization", "groups"),
        ("authorization", "users"),
        ("identityProvider", "allowedUsers"),
    ] {
        assert_eq!(
            fetched[object][field], body[object][field],
            "{object}.{field}"
        );
    }
}

async fn a_fetched_flow_can_be_posted_back_as_is() {
    let (app, key) = app_with_key().await;
    let created = create_flow(&app, &key, "Round trip").await;
    let mut fetched = assert_json(
        get_flow(&app, &key, &flow_id(&created)).await,
        StatusCode::OK,
    )
    .await;
    fetched["somethingKeyflowDoesNotKnow"] = json!({ "nested": [1, 2, 3] });
    let saved = assert_json(post_flow(&app, &key, &fetched).await, StatusCode::OK).await;
    assert_eq!(saved["id"]["id"], created["id"]["id"]);
    assert_eq!(saved["developerName"], "Round trip");
    assert!(saved.get("somethingKeyflowDoesNotKnow").is_none());
}

async fn flows_belong_to_their_tenant() {
    let (app, example_key) = app_with_key().await;
    let other = app.second_tenant("Other").await;
    let token = app.admin_token().await;
    let other_key = app.new_key_for(&token, "other", &other).await;
    let mine = create_flow(&app, &example_key, "Example's own").await;
    let theirs = create_flow(&app, &other_key, "Other's own").await;

    let seen = assert_json(app.list_flows(Some(&other_key), None).await, StatusCode::OK).await;
    assert_eq!(flow_names(&seen), ["Other's own"]);
    assert_error(
        get_flow(&app, &other_key, &flow_id(&mine)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_error(
        get_flow(&app, &example_key, &flow_id(&theirs)).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let path = format!("{FLOW}/{}", flow_id(&mine));
    let delete = app
        .with_key(Method::DELETE, &path, &other_key)
        .send()
        .await
        .unwrap();
    assert_error(delete, StatusCode::NOT_FOUND).await;
    let hijack = json!({ "id": { "id": flow_id(&mine) }, "developerName": "Hijacked" });
    assert_error(
        post_flow(&app, &other_key, &hijack).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let still = assert_json(
        get_flow(&app, &example_key, &flow_id(&mine)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(still["developerName"], "Example's own");
}

async fn a_token_reaches_the_same_flows_as_a_key() {
    let (app, key) = app_with_key().await;
    let created = create_flow(&app, &key, "Shared").await;
    let token = app.admin_token().await;
    let path = format!("{FLOW}/{}", flow_id(&created));
    let fetched = app
        .with_token(Method::GET, &path, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_json(fetched, StatusCode::OK).await["developerName"],
        "Shared"
    );
}

/// The names `GET /api/draw/1/flow` lists (whole: the cached answer).
async fn listed(app: &TestApp, key: &str) -> Vec<String> {
    flow_names(&assert_json(app.list_flows(Some(key), None).await, StatusCode::OK).await)
}

async fn the_cached_list_follows_every_write() {
    let (app, key) = app_with_key().await;
    let before = listed(&app, &key).await;
    let flow = create_flow(&app, &key, "Cached").await;
    assert_eq!(listed(&app, &key).await.len(), before.len() + 1);
    let renamed = json!({ "id": { "id": flow_id(&flow) }, "developerName": "Renamed" });
    assert_json(post_flow(&app, &key, &renamed).await, StatusCode::OK).await;
    let names = listed(&app, &key).await;
    assert!(names.contains(&"Renamed".to_string()) && !names.contains(&"Cached".to_string()));
    let path = format!("{FLOW}/{}", flow_id(&flow));
    let deleted = app.with_key(Method::DELETE, &path, &key).send().await;
    assert_eq!(deleted.unwrap().status(), StatusCode::OK);
    assert_eq!(listed(&app, &key).await, before);
}

async fn page_and_page_size_select_a_slice_of_the_ordered_list() {
    let (app, key) = app_with_key().await;
    for name in ["p1", "p2", "p3", "p4", "p5"] {
        create_flow(&app, &key, name).await;
    }
    let all = listed(&app, &key).await;
    let (app, key) = (&app, key.as_str());
    let page = |query: &str| {
        let path = format!("{FLOW}?{query}");
        async move { app.get_flows(&path, Some(key), None).await }
    };
    let second = assert_json(page("page=2&pageSize=2").await, StatusCode::OK).await;
    assert_eq!(flow_names(&second), all[2..4].to_vec());
    let filtered = page("filter=substringof(developerName,'p')&page=3&pageSize=2").await;
    assert_eq!(
        flow_names(&assert_json(filtered, StatusCode::OK).await),
        vec!["p5"]
    );
    let past = assert_json(page("page=9&pageSize=2").await, StatusCode::OK).await;
    assert!(flow_names(&past).is_empty());
}

/// `GET /api/draw/1/flow` answered from the caches before routing, with a key or a token, gives
/// exactly what the router gives; anything the caches cannot decide is left to the router.
async fn the_list_answered_from_the_caches_is_the_routed_answer() {
    use keyflow::api::cached_reads::answer_from_cache;
    let app = TestApp::spawn().await;
    let key = app.new_key("early").await;
    let request = |path: &str, key: &str, tenant: &str| {
        axum::http::Request::get(path)
            .header("x-boomi-flow-api-key", key)
            .header("manywhotenant", tenant)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let client = std::net::IpAddr::from([127, 0, 0, 1]);
    let early = |path: &str, key: &str, tenant: &str| {
        answer_from_cache(&app.state, &request(path, key, tenant), client)
    };
    assert!(
        early(FLOW, &key, &app.tenant_id).is_none(),
        "nothing is cached yet"
    );

    // The first request goes through the router, which fills both caches.
    let routed = app.list_flows(Some(&key), Some(&app.tenant_id)).await;
    assert_eq!(routed.status(), StatusCode::OK);
    let routed_type = routed.headers()["content-type"].clone();
    let routed_body = routed.bytes().await.unwrap();

    let hits = app.metric("keyflow_key_cache_hits_total").await;
    let answer = early(FLOW, &key, &app.tenant_id).expect("answered from the caches");
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        answer.headers()["content-type"],
        routed_type.to_str().unwrap()
    );
    let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(body, routed_body);
    assert_eq!(app.metric("keyflow_key_cache_hits_total").await, hits + 1);

    // Left to the router: a query not read yet, another tenant, a key not issued here.
    let other_tenant = uuid::Uuid::new_v4().to_string();
    let unknown = format!("kf_{}", "a".repeat(32));
    assert!(early(&format!("{FLOW}?page=1"), &key, &app.tenant_id).is_none());
    assert!(early(FLOW, &key, &other_tenant).is_none());
    assert!(early(FLOW, &unknown, &app.tenant_id).is_none());

    // A sign-in's token: left to the router until its grant and membership are cached, then
    // answered early too, with the same bytes; in the key's header it is refused there.
    let token = app.admin_token().await;
    let with_token = |path: &str, name: &str, value: &str| {
        axum::http::Request::get(path)
            .header(name, value)
            .header("manywhotenant", &app.tenant_id)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let bearer = format!("Bearer {token}");
    let by_token = || with_token(FLOW, "authorization", &bearer);
    assert!(answer_from_cache(&app.state, &by_token(), client).is_none());
    let routed = app
        .with_token(reqwest::Method::GET, FLOW, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(routed.bytes().await.unwrap(), routed_body);
    let hits = app.metric("keyflow_credential_cache_hits_total").await;
    let answer = answer_from_cache(&app.state, &by_token(), client).expect("a token, early");
    let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(body, routed_body);
    assert_eq!(
        app.metric("keyflow_credential_cache_hits_total").await,
        hits + 2,
        "the token's grant and its membership"
    );
    let in_key_header = with_token(FLOW, "x-boomi-flow-api-key", &token);
    assert!(answer_from_cache(&app.state, &in_key_header, client).is_none());
    // An answer that depends on who asks (the key list) is answered early to its viewer only.
    let keys = "/api/admin/1/users/me/keys";
    let routed = app
        .with_token(reqwest::Method::GET, keys, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(routed.status(), StatusCode::OK);
    let routed = routed.bytes().await.unwrap();
    let answer = answer_from_cache(
        &app.state,
        &with_token(keys, "authorization", &bearer),
        client,
    )
    .expect("the key list, early");
    let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(body, routed);
    // ... and not to the user's key, which may not read it.
    let by_key = with_token(keys, "x-boomi-flow-api-key", &key);
    assert!(answer_from_cache(&app.state, &by_key, client).is_none());
    // ... and the router refuses the other tenant as before.
    assert_error(
        app.list_flows(Some(&key), Some(&other_tenant)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // Over HTTP: the early answer and the routed one (`?` always goes through the router)
    // differ in nothing but the date, the request id and the requests the key has left (one
    // fewer for the second, unless the bucket refilled one in between: 100 a second).
    let over_http = |path: &'static str| {
        app.client
            .get(app.url(path))
            .header("x-boomi-flow-api-key", &key)
            .header("manywhotenant", &app.tenant_id)
            .send()
    };
    let (fast, slow) = (
        over_http(FLOW).await.unwrap(),
        over_http("/api/draw/1/flow?").await.unwrap(),
    );
    let headers = |response: &Response| {
        let mut names: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter(|(name, _)| {
                !["date", "x-request-id", "ratelimit-remaining"].contains(&name.as_str())
            })
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_string()))
            .collect();
        names.sort();
        names
    };
    assert_eq!(fast.status(), slow.status());
    assert_eq!(headers(&fast), headers(&slow));
    let remaining = |response: &Response| -> u32 {
        response.headers()["ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(remaining(&slow) <= remaining(&fast));
    assert_eq!(fast.bytes().await.unwrap(), slow.bytes().await.unwrap());

    // A write forgets the cached lists: the next list is routed again, and has the new flow.
    let saved = app
        .with_key(Method::POST, FLOW, &key)
        .json(&json!({"developerName": "Fresh"}))
        .send()
        .await
        .unwrap();
    assert_json(saved, StatusCode::OK).await;
    assert!(
        early(FLOW, &key, &app.tenant_id).is_none(),
        "the list was forgotten"
    );
    let names =
        flow_names(&assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await);
    assert!(names.contains(&"Fresh".to_string()), "{names:?}");

    // With both caches full again, a deleted key fails at once, early answer or not.
    assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await;
    assert!(early(FLOW, &key, &app.tenant_id).is_some());
    let deleted = app
        .client
        .delete(app.url("/api/admin/1/users/me/keys/early"))
        .header("authorization", format!("Bearer {token}"))
        .header("manywhotenant", &app.tenant_id)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    assert!(early(FLOW, &key, &app.tenant_id).is_none());
    assert_error(
        app.list_flows(Some(&key), None).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}
