//! A flow with a real graph for the snapshot and package tests, written through the store
//! (beside the server) while the element and graph endpoints are elsewhere: map elements
//! chained by outcomes from the START element, and tenant elements they use (a type, values
//! of that type, a page showing a value, a service with passwords, a macro, a tag).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use keyflow::domain::element::{ElementKind, ElementName, FlowElementKind};
use keyflow::domain::{FlowId, TenantId, UserId};
use keyflow::store::{
    Edit, ElementBatch, FlowGraphWrite, FlowUse, GraphMode, JsonObject, NewElement, NewFlowElement,
};

use crate::helpers::{TestApp, assert_json};

/// What [`seed`] wrote.
pub struct Seeded {
    pub flow: String,
    pub maps: Vec<Uuid>,
    pub values: Vec<Uuid>,
    pub type_id: Uuid,
    pub service: Uuid,
    pub page: Uuid,
}

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(fields) => fields,
        _ => panic!("not an object"),
    }
}

/// Creates a flow named `name` through the API, then gives it `maps` map elements (the START
/// one first) and 10 tenant elements through the store.
pub async fn seed(app: &TestApp, key: &str, tenant: &str, name: &str, maps: usize) -> Seeded {
    let created = app
        .with_key(Method::POST, "/api/draw/1/flow", key)
        .json(&json!({ "developerName": name }))
        .send()
        .await
        .unwrap();
    let created = assert_json(created, StatusCode::OK).await;
    let flow = created["id"]["id"].as_str().unwrap().to_string();
    let author = UserId(Uuid::parse_str(created["whoCreated"]["id"].as_str().unwrap()).unwrap());
    let start = Uuid::parse_str(created["startMapElementId"].as_str().unwrap()).unwrap();
    let tenant = TenantId(Uuid::parse_str(tenant).unwrap());

    let type_id = Uuid::new_v4();
    let values: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    let (service, page, macro_id, tag) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    let element = |id, kind, name: &str, document: Value| NewElement {
        id,
        kind,
        name: ElementName::parse(name).unwrap(),
        document: object(document),
        author,
    };
    let mut elements = vec![
        element(
            type_id,
            ElementKind::Type,
            &format!("{name} Customer"),
            json!({"developerName": format!("{name} Customer"), "properties": [
                {"id": Uuid::new_v4().to_string(), "developerName": "Email", "contentType": "ContentString"}]}),
        ),
        element(
            service,
            ElementKind::Service,
            &format!("{name} CRM"),
            json!({"developerName": format!("{name} CRM"), "uri": "https://crm.example",
                   "httpAuthenticationUsername": "bot", "httpAuthenticationPassword": "hunter2",
                   "configurationValues": [{"developerName": "Secret", "contentType": "ContentPassword",
                                            "contentValue": "s3cret"}]}),
        ),
        element(
            macro_id,
            ElementKind::Macro,
            &format!("{name} Tidy"),
            json!({"code": "// tidy"}),
        ),
        element(tag, ElementKind::Tag, &format!("{name} Urgent"), json!({})),
    ];
    for (index, id) in values.iter().enumerate() {
        elements.push(element(
            *id,
            ElementKind::Value,
            &format!("{name} Value {index}"),
            json!({"contentType": "ContentObject", "typeElementId": type_id.to_string()}),
        ));
    }
    elements.push(element(
        page,
        ElementKind::Page,
        &format!("{name} Form"),
        json!({"pageComponents": [{"id": Uuid::new_v4().to_string(),
               "valueElementValueBindingReferenceId": {"id": values[0].to_string()}},
               {"valueElementToReferenceId": {"id": values[1].to_string()}}]}),
    ));

    let mut ids = vec![start];
    ids.extend((1..maps).map(|_| Uuid::new_v4()));
    let flow_elements: Vec<NewFlowElement> = ids
        .iter()
        .enumerate()
        .map(|(index, id)| {
            let mut document = json!({
                "elementType": if index == 0 { "START" } else { "INPUT" },
                "developerName": format!("Step {index}"),
                "x": index * 10, "y": 100,
                "pageElementId": page.to_string(),
                "dataActions": [{"valueElementToApplyId": {"id": values[index % 5].to_string()}}],
            });
            if let Some(next) = ids.get(index + 1) {
                document["outcomes"] = json!([{"id": Uuid::new_v4().to_string(),
                    "developerName": "Next", "nextMapElementId": next.to_string()}]);
            }
            if index == 1 {
                document["serviceElementId"] = json!(service.to_string());
            }
            NewFlowElement {
                id: *id,
                kind: FlowElementKind::Map,
                developer_name: format!("Step {index}"),
                document: object(document),
            }
        })
        .collect();
    // Uses: what the map elements mention directly, plus the macro and tag imported.
    let mut uses: Vec<FlowUse> = [page, service]
        .into_iter()
        .chain(values.iter().copied())
        .map(|element| FlowUse {
            element,
            imported: false,
        })
        .collect();
    uses.extend([macro_id, tag].map(|element| FlowUse {
        element,
        imported: true,
    }));
    let write = FlowGraphWrite {
        id: FlowId(Uuid::parse_str(&flow).unwrap()),
        mode: GraphMode::Update(Edit::default()),
        header: None,
        start_map_element_id: None,
        elements: Some(flow_elements),
        uses: Some(uses),
        author,
    };
    app.state
        .store
        .apply_batch(
            tenant,
            ElementBatch {
                elements,
                overwrite_existing: true,
                flows: vec![write],
            },
        )
        .await
        .expect("the seeded graph is written");
    Seeded {
        flow,
        maps: ids,
        values,
        type_id,
        service,
        page,
    }
}

/// Changes a tenant element's document through the store, keeping its name.
pub async fn change_element(app: &TestApp, tenant: &str, id: Uuid, field: &str, value: Value) {
    let tenant = TenantId(Uuid::parse_str(tenant).unwrap());
    let store = &app.state.store;
    let mut element = store
        .element(tenant, id)
        .await
        .unwrap()
        .expect("an element");
    element.document.insert(field.into(), value);
    store
        .save_element(
            tenant,
            NewElement {
                id,
                kind: element.kind,
                name: ElementName::parse(&element.developer_name).unwrap(),
                document: element.document,
                author: element.who_created.id,
            },
        )
        .await
        .unwrap();
}

/// Replaces one map element's field and adds a map element, through the store.
pub async fn edit_graph(app: &TestApp, tenant: &str, flow: &str, field: &str, value: Value) {
    let tenant = TenantId(Uuid::parse_str(tenant).unwrap());
    let id = FlowId(Uuid::parse_str(flow).unwrap());
    let store = &app.state.store;
    let current = store.flow_elements(tenant, id).await.unwrap();
    let author = current[0].who_created.id;
    let mut elements: Vec<NewFlowElement> = current
        .into_iter()
        .map(|e| NewFlowElement {
            id: e.id,
            kind: e.kind,
            developer_name: e.developer_name,
            document: e.document,
        })
        .collect();
    elements[0].document.insert(field.into(), value);
    elements.push(NewFlowElement {
        id: Uuid::new_v4(),
        kind: FlowElementKind::Map,
        developer_name: "Added".into(),
        document: object(json!({"elementType": "STEP", "developerName": "Added"})),
    });
    store
        .write_flow(
            tenant,
            FlowGraphWrite {
                id,
                mode: GraphMode::Update(Edit::default()),
                header: None,
                start_map_element_id: None,
                elements: Some(elements),
                uses: None,
                author,
            },
        )
        .await
        .unwrap();
}

/// An element without what differs on every write (dates, builders), for comparisons.
pub fn stable(element: &Value) -> Value {
    let mut element = element.clone();
    for field in [
        "dateCreated",
        "dateModified",
        "whoCreated",
        "whoModified",
        "whoOwner",
    ] {
        element.as_object_mut().unwrap().remove(field);
    }
    element
}

/// Every element array of a flow image, stabilized, sorted by id.
pub fn graph_of(image: &Value) -> Value {
    let mut arrays = serde_json::Map::new();
    for field in [
        "mapElements",
        "groupElements",
        "navigationElements",
        "valueElements",
        "typeElements",
        "pageElements",
        "serviceElements",
        "macroElements",
        "tagElements",
    ] {
        let mut items: Vec<Value> = image[field]
            .as_array()
            .unwrap_or_else(|| panic!("{field} is an array"))
            .iter()
            .map(stable)
            .collect();
        items.sort_by_key(|item| item["id"].as_str().unwrap().to_string());
        arrays.insert(field.into(), Value::Array(items));
    }
    Value::Object(arrays)
}
