//! Tenant elements: `/api/draw/1/element/{type}` for every kind keyflow keeps, and the paged
//! lists of `/api/draw/2/element/{value|type|page|service}`.

use std::path::PathBuf;

use keyflow::api::element_wire::{FieldType, typed_fields};
use keyflow::domain::element::ElementKind;
use keyflow::domain::{FlowId, TenantId, UserId};
use keyflow::store::{Edit, FlowGraphWrite, FlowUse, GraphMode};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, assert_json, both_backends, enc};

both_backends! {
    every_kind_is_created_read_listed_updated_and_deleted,
    every_field_is_kept_as_sent,
    ids_are_minted_or_kept,
    update_by_name_writes_the_element_of_that_name,
    a_name_is_unique_per_kind_ignoring_case,
    unknown_ids_and_kinds_are_not_found,
    bad_bodies_are_unprocessable,
    the_paged_lists_page_order_and_filter,
    bad_paging_is_a_bad_request,
    the_draw_1_list_filters_by_name_and_content_type,
    elements_belong_to_their_tenant,
    an_element_a_flow_uses_is_not_deleted,
    an_element_another_refers_to_is_not_deleted,
}

fn element(kind: ElementKind) -> String {
    format!("/api/draw/1/element/{}", kind.path())
}

async fn post(app: &TestApp, key: &str, kind: ElementKind, body: Value) -> Response {
    app.with_key(Method::POST, &element(kind), key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn create(app: &TestApp, key: &str, kind: ElementKind, body: Value) -> Value {
    assert_json(post(app, key, kind, body).await, StatusCode::OK).await
}

async fn get(app: &TestApp, key: &str, path: &str) -> Response {
    app.with_key(Method::GET, path, key).send().await.unwrap()
}

async fn delete(app: &TestApp, key: &str, path: &str) -> Response {
    app.with_key(Method::DELETE, path, key)
        .send()
        .await
        .unwrap()
}

fn names(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["developerName"].as_str().unwrap().to_string())
        .collect()
}

/// The items of a list: the array itself, or a page's `items`.
fn items(list: &Value) -> &Value {
    if list.is_array() {
        list
    } else {
        &list["items"]
    }
}

async fn every_kind_is_created_read_listed_updated_and_deleted() {
    let app = TestApp::spawn().await;
    let key = app.new_key("elements").await;
    for kind in ElementKind::ALL {
        let created = create(&app, &key, kind, json!({"developerName": "First"})).await;
        let id = created["id"].as_str().unwrap().to_string();
        assert_eq!(
            created["elementType"],
            kind.default_element_type(),
            "{kind:?}"
        );
        assert_eq!(created["developerName"], "First");
        assert!(created["dateCreated"].is_string() && created["whoCreated"].is_object());

        let one = format!("{}/{id}", element(kind));
        let read = assert_json(get(&app, &key, &one).await, StatusCode::OK).await;
        assert_eq!(read, created, "{kind:?}");

        let list = assert_json(get(&app, &key, &element(kind)).await, StatusCode::OK).await;
        assert_eq!(names(items(&list)), ["First"], "{kind:?}");

        let mut update = created.clone();
        update["developerName"] = json!("Renamed");
        update["developerSummary"] = json!("now with a summary");
        let updated = create(&app, &key, kind, update).await;
        assert_eq!(updated["id"], created["id"]);
        assert_eq!(updated["developerName"], "Renamed");
        assert_eq!(updated["developerSummary"], "now with a summary");
        assert_eq!(updated["dateCreated"], created["dateCreated"]);
        let list = assert_json(get(&app, &key, &element(kind)).await, StatusCode::OK).await;
        assert_eq!(names(items(&list)), ["Renamed"], "{kind:?}");

        assert_eq!(delete(&app, &key, &one).await.status(), StatusCode::OK);
        let message = assert_error(get(&app, &key, &one).await, StatusCode::NOT_FOUND).await;
        assert!(message.contains(&id), "{message}");
        let message = assert_error(delete(&app, &key, &one).await, StatusCode::NOT_FOUND).await;
        assert!(message.contains(kind.noun()), "{message}");
    }
}

async fn every_field_is_kept_as_sent() {
    let app = TestApp::spawn().await;
    let key = app.new_key("elements").await;
    let sent = json!({
        "developerName": "Ünïcode 名前 🎉",
        "contentType": "ContentObject",
        "defaultObjectData": [{"properties": [{"developerName": "a", "contentValue": "ü\u{1F600}"}]}],
        "notInBoomisSchema": {"nested": [1, 2.5, null, true, {"deep": "er"}]},
        "isSecret": false,
        "elementType": "VARIABLE",
    });
    let created = create(&app, &key, ElementKind::Value, sent.clone()).await;
    let id = created["id"].as_str().unwrap();
    let read = assert_json(
        get(&app, &key, &format!("{}/{id}", element(ElementKind::Value))).await,
        StatusCode::OK,
    )
    .await;
    for (field, value) in sent.as_object().unwrap() {
        assert_eq!(&read[field], value, "{field}");
    }
    // What keyflow owns is its own, whatever the request said.
    let forged = create(
        &app,
        &key,
        ElementKind::Macro,
        json!({"developerName": "m", "dateCreated": "1999-01-01T00:00:00Z",
               "whoCreated": {"id": "forged"}}),
    )
    .await;
    assert_ne!(forged["dateCreated"], "1999-01-01T00:00:00Z");
    assert_ne!(forged["whoCreated"]["id"], "forged");
}

async fn ids_are_minted_or_kept() {
    let app = TestApp::spawn().await;
    let key = app.new_key("elements").await;
    let mut minted = Vec::new();
    for (n, id) in [json!(null), json!(""), json!("  ")]
        .into_iter()
        .enumerate()
    {
        let created = create(
            &app,
            &key,
            ElementKind::Tag,
            json!({"developerName": format!("t{n}"), "id": id}),
        )
        .await;
        let id = uuid::Uuid::parse_str(created["id"].as_str().unwrap()).unwrap();
        assert_eq!(id.get_version_num(), 7);
        minted.push(id);
    }
    let created = create(&app, &key, ElementKind::Tag, json!({"developerName": "t3"})).await;
    minted.push(created["id"].as_str().unwrap().parse().unwrap());
    minted.dedup();
    assert_eq!(minted.len(), 4);

    // An id of no element creates it with that id (an import).
    let given = "0193a5c2-7c1d-7000-8000-00000000abcd";
    let created = create(
        &app,
        &key,
        ElementKind::Tag,
        json!({"developerName": "Given", "id": given}),
    )
    .await;
    assert_eq!(created["id"], given);
    let read = get(
        &app,
        &key,
        &format!("{}/{given}", element(ElementKind::Tag)),
    )
    .await;
    assert_eq!(
        assert_json(read, StatusCode::OK).await["developerName"],
        "Given"
    );

    // The id of an element of another kind is refused, and the element left alone.
    let message = assert_error(
        post(
            &app,
            &key,
            ElementKind::Value,
            json!({"developerName": "v", "id": given}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(message.contains(given), "{message}");
}

async fn update_by_name_writes_the_element_of_that_name() {
    let app = TestApp::spawn().await;
    let key = app.new_key("elements").await;
    let first = create(
        &app,
        &key,
        ElementKind::Service,
        json!({"developerName": "Connector", "uri": "https://a.example"}),
    )
    .await;
    let again = create(
        &app,
        &key,
        ElementKind::Service,
        json!({"developerName": "CONNECTOR", "uri": "https://b.example", "updateByName": true}),
    )
    .await;
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["uri"], "https://b.example");
    assert_eq!(again["developerName"], "CONNECTOR");
    let list = get(&app, &key, &element(ElementKind::Service)).await;
    assert_eq!(
        assert_json(list, StatusCode::OK)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // With no element of that name, it creates one.
    let new = create(
        &app,
        &key,
        ElementKind::Service,
        json!({"developerName": "Other", "updateByName": true}),
    )
    .await;
    assert_ne!(new["id"], first["id"]);
}

async fn a_name_is_unique_per_kind_ignoring_case() {
    let app = TestApp::spawn().await;
    let key = app.new_key("elements").await;
    create(
        &app,
        &key,
        ElementKind::Type,
        json!({"developerName": "Customer"}),
    )
    .await;
    let message = assert_error(
        post(
            &app,
            &key,
            ElementKind::Type,
            json!({"developerName": "cUSTOMER"}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(message.to_lowercase().contains("customer"), "{message}");
    // Another kind may have the name.
    create(
        &app,
        &key,
        ElementKind::Value,
        json!({"developerName": "Customer"}),
    )
    .await;
    // Renaming one onto another's name clashes too.
    let other = create(
        &app,
        &key,
        ElementKind::Type,
        json!({"developerName": "Order"}),
    )
    .await;
    let mut rename = other.clone();
    rename["developerName"] = json!("customer");
    let response = post(&app, &key, ElementKind::Type, rename).await;
    assert_error(response, StatusCode::CONFLICT).await;
}

async fn unknown_ids_and_kinds_are_not_found() {
    let app = TestApp::spawn().await;
    let key = app.new_key("elements").await;
    let unknown = uuid::Uuid::now_v7();
    for kind in ElementKind::ALL {
        let one = format!("{}/{unknown}", element(kind));
        let message = assert_error(get(&app, &key, &one).await, StatusCode::NOT_FOUND).await;
        assert!(message.contains(&unknown.to_string()), "{message}");
        assert_error(delete(&app, &key, &one).await, StatusCode::NOT_FOUND).await;
    }
    // An id of another kind is not found under this one, and is not deleted through it.
    let value = create(
        &app,
        &key,
        ElementKind::Value,
        json!({"developerName": "v"}),
    )
    .await;
    let id = value["id"].as_str().unwrap();
    let as_page = format!("{}/{id}", element(ElementKind::Page));
    assert_error(get(&app, &key, &as_page).await, StatusCode::NOT_FOUND).await;
    assert_error(delete(&app, &key, &as_page).await, StatusCode::NOT_FOUND).await;
    let as_value = format!("{}/{id}", element(ElementKind::Value));
    assert_json(get(&app, &key, &as_value).await, StatusCode::OK).await;
    // A kind keyflow does not keep names those it does; any spelling of one it keeps works.
    for path in ["/api/draw/1/element/theme", "/api/draw/1/element/theme/x"] {
        let message = assert_error(get(&app, &key, path).await, StatusCode::NOT_FOUND).await;
        assert!(message.contains("value, type, page"), "{message}");
    }
    let upper = format!("/api/draw/1/element/VALUE/{id}");
    assert_json(get(&app, &key, &upper).await, StatusCode::OK).await;
    // A malformed id in the path is malformed input.
    let bad = format!("{}/not-a-uuid", element(ElementKind::Value));
    assert_error(get(&app, &key, &bad).await, StatusCode::BAD_REQUEST).await;
}

async fn bad_bodies_are_unprocessable() {
    let app = TestApp::spawn().await;
    let key = app.new_key("elements").await;
    let cases = [
        (
            ElementKind::Value,
            json!([{"developerName": "x"}]),
            "JSON object",
        ),
        (ElementKind::Value, json!("x"), "JSON object"),
        (ElementKind::Value, json!({}), "developerName"),
        (
            ElementKind::Value,
            json!({"developerName": null}),
            "developerName",
        ),
        (
            ElementKind::Value,
            json!({"developerName": "  "}),
            "developerName",
        ),
        (
            ElementKind::Value,
            json!({"developerName": 7}),
            "developerName",
        ),
        (
            ElementKind::Value,
            json!({"developerName": "a\u{202e}b"}),
            "developerName",
        ),
        (
            ElementKind::Value,
            json!({"developerName": "x", "contentType": 3}),
            "contentType must be a string",
        ),
        (
            ElementKind::Page,
            json!({"developerName": "x", "pageContainers": {}}),
            "pageContainers must be a array",
        ),
        (
            ElementKind::Service,
            json!({"developerName": "x", "providesLogic": "yes"}),
            "providesLogic must be a boolean",
        ),
        (
            ElementKind::Tag,
            json!({"developerName": "x", "updateByName": 1}),
            "updateByName",
        ),
        (
            ElementKind::Macro,
            json!({"developerName": "x", "id": "nope"}),
            "id must be a UUID",
        ),
        (
            ElementKind::Macro,
            json!({"developerName": "x", "id": 12}),
            "id must be a string",
        ),
    ];
    for (kind, body, expected) in cases {
        let message = assert_error(
            post(&app, &key, kind, body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(message.contains(expected), "{body}: {message}");
    }
    let listed = get(&app, &key, &element(ElementKind::Value)).await;
    assert_eq!(assert_json(listed, StatusCode::OK).await, json!([]));
}

/// Creates elements one after another, so their dates follow the order given.
async fn create_named(app: &TestApp, key: &str, kind: ElementKind, names: &[&str]) {
    for name in names {
        create(app, key, kind, json!({"developerName": name})).await;
    }
}

async fn the_paged_lists_page_order_and_filter() {
    let app = TestApp::spawn().await;
    let key = app.new_key("elements").await;
    create_named(&app, &key, ElementKind::Page, &["b", "D", "a", "c", "e"]).await;
    let paged = |query: &str| format!("/api/draw/2/element/page{query}");

    // By default: dateModified, newest first, 20 per page.
    let all = assert_json(get(&app, &key, &paged("")).await, StatusCode::OK).await;
    assert_eq!(names(&all["items"]), ["e", "c", "a", "D", "b"]);
    assert_eq!(all["_meta"], json!({"page": 1, "pageSize": 20, "total": 5}));
    assert!(all["_links"].is_object());

    let query = "?orderBy=developerName&orderDirection=ASC&limit=2&page=2";
    let page = assert_json(get(&app, &key, &paged(query)).await, StatusCode::OK).await;
    assert_eq!(names(&page["items"]), ["c", "D"]);
    assert_eq!(page["_meta"], json!({"page": 2, "pageSize": 2, "total": 5}));
    let query = "?orderBy=developerName&orderDirection=DESC&pageSize=2&page=3";
    let page = assert_json(get(&app, &key, &paged(query)).await, StatusCode::OK).await;
    assert_eq!(names(&page["items"]), ["a"]);
    // Both names given: `limit` wins.
    let query = "?orderBy=developerName&orderDirection=ASC&limit=2&pageSize=3";
    let page = assert_json(get(&app, &key, &paged(query)).await, StatusCode::OK).await;
    assert_eq!(names(&page["items"]), ["a", "b"]);
    assert_eq!(page["_meta"]["pageSize"], 2);
    let query = "?orderBy=dateCreated&orderDirection=ASC&limit=0";
    let page = assert_json(get(&app, &key, &paged(query)).await, StatusCode::OK).await;
    assert_eq!(names(&page["items"]), ["b", "D", "a", "c", "e"]);
    let query = "?limit=2&page=9";
    let page = assert_json(get(&app, &key, &paged(query)).await, StatusCode::OK).await;
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["_meta"]["total"], 5);

    // An update moves an element to the front of dateModified, not of dateCreated.
    let list = assert_json(
        get(&app, &key, &element(ElementKind::Page)).await,
        StatusCode::OK,
    )
    .await;
    let b = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["developerName"] == "b")
        .unwrap();
    create(&app, &key, ElementKind::Page, b.clone()).await;
    let page = assert_json(get(&app, &key, &paged("?limit=1")).await, StatusCode::OK).await;
    assert_eq!(names(&page["items"]), ["b"]);
    let query = "?limit=1&orderBy=dateCreated";
    let page = assert_json(get(&app, &key, &paged(query)).await, StatusCode::OK).await;
    assert_eq!(names(&page["items"]), ["e"]);

    // The filter counts in the total.
    let filter = enc("developerName eq 'd'");
    let page = assert_json(
        get(&app, &key, &paged(&format!("?filter={filter}"))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&page["items"]), ["D"]);
    assert_eq!(page["_meta"]["total"], 1);

    // Values page by contentType too; every draw/2 kind answers.
    create(
        &app,
        &key,
        ElementKind::Value,
        json!({"developerName": "n", "contentType": "ContentNumber"}),
    )
    .await;
    create(
        &app,
        &key,
        ElementKind::Value,
        json!({"developerName": "s", "contentType": "ContentString"}),
    )
    .await;
    let values = assert_json(
        get(
            &app,
            &key,
            "/api/draw/2/element/value?contentType=contentnumber",
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&values["items"]), ["n"]);
    for kind in ["type", "service"] {
        let path = format!("/api/draw/2/element/{kind}");
        let empty = assert_json(get(&app, &key, &path).await, StatusCode::OK).await;
        assert_eq!(empty["items"], json!([]));
        assert_eq!(empty["_meta"]["total"], 0);
    }
}

async fn bad_paging_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let key = app.new_key("elements").await;
    for (query, named) in [
        ("page=0", "page"),
        ("page=x", "page"),
        ("page=%2B1", "page"),
        ("limit=-1", "limit"),
        ("limit=1.5", "limit"),
        ("limit=2&pageSize=x", "pageSize"),
        ("orderBy=name", "orderBy"),
        ("orderDirection=up", "orderDirection"),
        ("filter=name%20is%20x", "filter"),
    ] {
        let path = format!("/api/draw/2/element/value?{query}");
        let message = assert_error(get(&app, &key, &path).await, StatusCode::BAD_REQUEST).await;
        assert!(message.contains(named), "{query}: {message}");
    }
}

async fn the_draw_1_list_filters_by_name_and_content_type() {
    let app = TestApp::spawn().await;
    let key = app.new_key("elements").await;
    create_named(
        &app,
        &key,
        ElementKind::Macro,
        &["Beta", "alpha", "Alphabet"],
    )
    .await;
    let list = |query: String| format!("{}{query}", element(ElementKind::Macro));
    let all = assert_json(get(&app, &key, &list(String::new())).await, StatusCode::OK).await;
    assert_eq!(names(&all), ["alpha", "Alphabet", "Beta"]);
    let filter = enc("substringof(developerName,'ALPHA')");
    let some = get(&app, &key, &list(format!("?filter={filter}"))).await;
    assert_eq!(
        names(&assert_json(some, StatusCode::OK).await),
        ["alpha", "Alphabet"]
    );
    let filter = enc("developerName eq 'beta'");
    let one = get(&app, &key, &list(format!("?filter={filter}"))).await;
    assert_eq!(names(&assert_json(one, StatusCode::OK).await), ["Beta"]);
    let bad = get(&app, &key, &list("?filter=nonsense".into())).await;
    assert_error(bad, StatusCode::BAD_REQUEST).await;

    create(
        &app,
        &key,
        ElementKind::Value,
        json!({"developerName": "n", "contentType": "ContentNumber"}),
    )
    .await;
    create(
        &app,
        &key,
        ElementKind::Value,
        json!({"developerName": "plain"}),
    )
    .await;
    let path = format!("{}?contentType=ContentNumber", element(ElementKind::Value));
    let values = assert_json(get(&app, &key, &path).await, StatusCode::OK).await;
    assert_eq!(names(&values), ["n"]);

    // The two kinds Boomi pages on draw/1 answer a page there.
    create_named(&app, &key, ElementKind::IdentityProvider, &["idp"]).await;
    let path = element(ElementKind::IdentityProvider);
    let page = assert_json(get(&app, &key, &path).await, StatusCode::OK).await;
    assert_eq!(names(&page["items"]), ["idp"]);
    assert_eq!(page["_meta"]["total"], 1);
}

async fn elements_belong_to_their_tenant() {
    let app = TestApp::spawn().await;
    let key = app.new_key("elements").await;
    let other_tenant = app.second_tenant("Other").await;
    let token = app.admin_token().await;
    let other_key = app.new_key_for(&token, "other", &other_tenant).await;
    let mine = create(
        &app,
        &key,
        ElementKind::Value,
        json!({"developerName": "Mine"}),
    )
    .await;
    let one = format!(
        "{}/{}",
        element(ElementKind::Value),
        mine["id"].as_str().unwrap()
    );
    assert_error(get(&app, &other_key, &one).await, StatusCode::NOT_FOUND).await;
    assert_error(delete(&app, &other_key, &one).await, StatusCode::NOT_FOUND).await;
    let theirs = get(&app, &other_key, &element(ElementKind::Value)).await;
    assert_eq!(assert_json(theirs, StatusCode::OK).await, json!([]));
    // The other tenant may use the same name; the element is still there for its own.
    create(
        &app,
        &other_key,
        ElementKind::Value,
        json!({"developerName": "Mine"}),
    )
    .await;
    assert_json(get(&app, &key, &one).await, StatusCode::OK).await;
}

async fn an_element_a_flow_uses_is_not_deleted() {
    let app = TestApp::spawn().await;
    let key = app.new_key("elements").await;
    let token = app.admin_token().await;
    let me = app.me(&token).await;
    let value = create(
        &app,
        &key,
        ElementKind::Value,
        json!({"developerName": "Used"}),
    )
    .await;
    let value_id: uuid::Uuid = value["id"].as_str().unwrap().parse().unwrap();
    let flow = app
        .with_key(Method::POST, "/api/draw/1/flow", &key)
        .json(&json!({"developerName": "Uses it"}))
        .send()
        .await
        .unwrap();
    let flow = assert_json(flow, StatusCode::OK).await;
    // The use is written through the store: the flow-graph API comes with its own area.
    app.state
        .store
        .write_flow(
            TenantId::parse(&app.tenant_id).unwrap(),
            FlowGraphWrite {
                id: FlowId::parse(flow["id"]["id"].as_str().unwrap()).unwrap(),
                mode: GraphMode::Update(Edit::default()),
                header: None,
                start_map_element_id: None,
                elements: None,
                uses: Some(vec![FlowUse {
                    element: value_id,
                    imported: true,
                }]),
                author: UserId::parse(me["id"].as_str().unwrap()).unwrap(),
            },
        )
        .await
        .unwrap();
    let one = format!("{}/{value_id}", element(ElementKind::Value));
    let message = assert_error(delete(&app, &key, &one).await, StatusCode::CONFLICT).await;
    assert!(message.contains("Uses it"), "{message}");
    assert_json(get(&app, &key, &one).await, StatusCode::OK).await;
}

/// An element another element refers to (a value to its type) stays until the reference
/// goes (409 naming the referrer): deleted, the reference would resolve to nothing and the
/// tenant's export would not import back.
async fn an_element_another_refers_to_is_not_deleted() {
    let app = TestApp::spawn().await;
    let key = app.new_key("elements").await;
    let type_ = create(
        &app,
        &key,
        ElementKind::Type,
        json!({"developerName": "Customer"}),
    )
    .await;
    let value = create(
        &app,
        &key,
        ElementKind::Value,
        json!({"developerName": "Who", "contentType": "ContentObject", "typeElementId": type_["id"]}),
    )
    .await;
    let type_path = format!(
        "{}/{}",
        element(ElementKind::Type),
        type_["id"].as_str().unwrap()
    );
    let message = assert_error(delete(&app, &key, &type_path).await, StatusCode::CONFLICT).await;
    assert!(message.contains("value element 'Who'"), "{message}");
    assert_json(get(&app, &key, &type_path).await, StatusCode::OK).await;
    let value_path = format!(
        "{}/{}",
        element(ElementKind::Value),
        value["id"].as_str().unwrap()
    );
    assert_eq!(
        delete(&app, &key, &value_path).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        delete(&app, &key, &type_path).await.status(),
        StatusCode::OK
    );
}

/// The field types keyflow checks are those Boomi's description gives each request schema.
#[test]
fn the_checked_field_types_are_boomis() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/boomi-flow-openapi.json");
    let boomi: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let schemas = &boomi["components"]["schemas"];
    let owned = [
        "id",
        "whoCreated",
        "whoModified",
        "whoOwner",
        "dateCreated",
        "dateModified",
    ];
    for kind in ElementKind::ALL {
        let name = match kind {
            ElementKind::Value => "ValueElementRequestAPI",
            ElementKind::Type => "TypeElementRequestAPI",
            ElementKind::Page => "PageElementRequestAPI",
            ElementKind::Service => "ServiceElementRequestAPI",
            ElementKind::Macro => "MacroElementRequestAPI",
            ElementKind::IdentityProvider => "IdentityProviderAPI",
            ElementKind::Tag => "TagElementRequestAPI",
            ElementKind::CustomPageComponent => "CustomPageComponentAPI",
        };
        let mut theirs: Vec<(String, String)> = Vec::new();
        for (field, schema) in schemas[name]["properties"].as_object().unwrap() {
            if owned.contains(&field.as_str()) {
                continue;
            }
            let schema = match schema["$ref"].as_str() {
                Some(reference) => &schemas[reference.rsplit('/').next().unwrap()],
                None => schema,
            };
            let kind = schema["type"].as_str().unwrap_or("object").to_string();
            theirs.push((field.clone(), kind));
        }
        let mut ours: Vec<(String, String)> = typed_fields(kind)
            .map(|(field, kind): (&str, FieldType)| (field.to_string(), kind.name().to_string()))
            .collect();
        theirs.sort();
        ours.sort();
        assert_eq!(ours, theirs, "{name}");
    }
}
