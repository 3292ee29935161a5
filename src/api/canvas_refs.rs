//! What the draw/2 canvas says a map element refers to — Boomi's `subflow`, `page` and `wait`
//! of `FlowGraphMapElementResponseAPI` — derived from the stored map element documents
//! (`subflow`, `pageElementId`, `wait`), with the names read from the tenant's flows and
//! elements as they are now. A pipeline walks `subflow` to find and publish a flow's subflows.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;
use uuid::Uuid;

use crate::api::graph_json::{CanvasRefs, GraphSubElement, GraphSubflow, GraphWait};
use crate::domain::element::{ElementKind, FlowElementKind};
use crate::domain::{FlowId, TenantId, Timestamp};
use crate::http::error::ApiError;
use crate::rules::graph_edit::Graph;
use crate::store::{JsonObject, Store};

/// The names the canvas shows beside the ids the map elements hold: the tenant's flows and
/// elements they mention, looked up once per canvas.
#[derive(Debug, Default)]
pub(crate) struct Names {
    flows: HashMap<Uuid, String>,
    /// Each element's kind too, so a page's name comes only from a page.
    elements: HashMap<Uuid, (ElementKind, String)>,
}

/// `field.id` of an object field, as a UUID (absent, null, blank or not a UUID: `None`).
fn nested_id(document: &JsonObject, field: &str) -> Option<Uuid> {
    document
        .get(field)
        .and_then(Value::as_object)
        .and_then(|object| uuid(object.get("id")))
}

fn uuid(value: Option<&Value>) -> Option<Uuid> {
    value
        .and_then(Value::as_str)
        .and_then(|text| Uuid::try_parse(text.trim()).ok())
}

fn text(document: &JsonObject, field: &str) -> Option<String> {
    document
        .get(field)
        .and_then(Value::as_str)
        .filter(|text| !text.trim().is_empty())
        .map(str::to_owned)
}

fn object<'a>(document: &'a JsonObject, field: &str) -> Option<&'a JsonObject> {
    document.get(field).and_then(Value::as_object)
}

impl Names {
    /// Looks up what the flow's map elements refer to: one query for the elements (pages,
    /// and the values a subflow or a wait is set from), one per distinct subflow.
    pub(crate) async fn of(
        store: &dyn Store,
        tenant: TenantId,
        graph: &Graph,
    ) -> Result<Self, ApiError> {
        let mut flows = BTreeSet::new();
        let mut elements = BTreeSet::new();
        for element in graph.of_kind(FlowElementKind::Map) {
            let document = &element.document;
            elements.extend(uuid(document.get("pageElementId")));
            if let Some(subflow) = object(document, "subflow") {
                flows.extend(nested_id(subflow, "flowId"));
                elements.extend(nested_id(subflow, "value"));
            }
            if let Some(wait) = object(document, "wait") {
                elements.extend(nested_id(wait, "value"));
            }
        }
        let mut names = Names::default();
        if !elements.is_empty() {
            let ids: Vec<Uuid> = elements.into_iter().collect();
            for record in store.elements_by_ids(tenant, &ids).await? {
                names
                    .elements
                    .insert(record.id, (record.kind, record.developer_name));
            }
        }
        for id in flows {
            if let Some(flow) = store.flow(tenant, FlowId(id)).await? {
                names.flows.insert(id, flow.developer_name);
            }
        }
        Ok(names)
    }

    fn element(&self, id: Option<Uuid>, kind: ElementKind) -> Option<String> {
        self.elements
            .get(&id?)
            .filter(|(found, _)| *found == kind)
            .map(|(_, name)| name.clone())
    }
}

impl CanvasRefs for Names {
    /// `subflow`, for an element whose document has a `subflow` object (Boomi's `SubflowAPI`):
    /// the flow it calls (`flowId.id`) under that flow's name now (else the document's
    /// `flowDeveloperName`, for a flow the tenant no longer has). `isSetAsValue` when the flow
    /// is chosen by a value at run time (`subflow.value.id`); then the name is the value's.
    fn subflow(&self, document: &JsonObject) -> Option<GraphSubflow> {
        let subflow = object(document, "subflow")?;
        let flow = nested_id(subflow, "flowId");
        let value = nested_id(subflow, "value");
        let developer_name = match value {
            Some(_) => self.element(value, ElementKind::Value),
            None => flow
                .and_then(|id| self.flows.get(&id).cloned())
                .or_else(|| text(subflow, "flowDeveloperName")),
        };
        Some(GraphSubflow {
            id: flow,
            developer_name,
            is_set_as_value: value.is_some(),
        })
    }

    /// `page`, for an element whose `pageElementId` is a UUID: that page under its name now
    /// (else the document's `pageElementDeveloperName`).
    fn page(&self, document: &JsonObject) -> Option<GraphSubElement> {
        let id = uuid(document.get("pageElementId"))?;
        let developer_name = self
            .element(Some(id), ElementKind::Page)
            .or_else(|| text(document, "pageElementDeveloperName"));
        Some(GraphSubElement { id, developer_name })
    }

    /// `wait`, for an element whose document has a `wait` object (Boomi's `WaitAPI`): its
    /// duration (a part it lacks is 0, as Boomi's integers are never null), `relative`,
    /// `absoluteDate` (when it is an RFC 3339 date-time) and the name of the value it waits
    /// on (that value's name now, else the document's `valueDeveloperName`).
    fn wait(&self, document: &JsonObject) -> Option<GraphWait> {
        let wait = object(document, "wait")?;
        let part = |field: &str| {
            wait.get(field)
                .and_then(Value::as_i64)
                .and_then(|n| i32::try_from(n).ok())
                .unwrap_or(0)
        };
        let absolute_date = wait
            .get("absoluteDate")
            .and_then(Value::as_str)
            .and_then(|text| Timestamp::parse(text.trim()).ok());
        let value_developer_name = self
            .element(nested_id(wait, "value"), ElementKind::Value)
            .or_else(|| text(wait, "valueDeveloperName"));
        Some(GraphWait {
            days: part("days"),
            hours: part("hours"),
            minutes: part("minutes"),
            seconds: part("seconds"),
            relative: text(wait, "relative"),
            absolute_date,
            value_developer_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn document(value: Value) -> JsonObject {
        value.as_object().unwrap().clone()
    }

    const FLOW: &str = "01a21697-b52f-707e-a16f-b0c879dee007";
    const VALUE: &str = "01a21697-b52f-707e-a16f-b0c879dee008";
    const PAGE: &str = "01a21697-b52f-707e-a16f-b0c879dee009";

    fn names() -> Names {
        let mut names = Names::default();
        names
            .flows
            .insert(Uuid::parse_str(FLOW).unwrap(), "Child".into());
        names.elements.insert(
            Uuid::parse_str(VALUE).unwrap(),
            (ElementKind::Value, "Which flow".into()),
        );
        names.elements.insert(
            Uuid::parse_str(PAGE).unwrap(),
            (ElementKind::Page, "Form".into()),
        );
        names
    }

    #[test]
    fn a_subflow_names_its_flow_as_it_is_now_or_its_value() {
        let names = names();
        let by_id = document(json!({ "subflow": {
            "flowId": { "id": FLOW, "versionId": null }, "flowDeveloperName": "Old name" } }));
        let subflow = names.subflow(&by_id).unwrap();
        assert_eq!(subflow.id, Some(Uuid::parse_str(FLOW).unwrap()));
        assert_eq!(subflow.developer_name.as_deref(), Some("Child"));
        assert!(!subflow.is_set_as_value);

        let gone = document(json!({ "subflow": {
            "flowId": { "id": PAGE }, "flowDeveloperName": "Deleted since" } }));
        let subflow = names.subflow(&gone).unwrap();
        assert_eq!(subflow.developer_name.as_deref(), Some("Deleted since"));

        let by_value = document(json!({ "subflow": { "flowId": null, "value": { "id": VALUE } } }));
        let subflow = names.subflow(&by_value).unwrap();
        assert_eq!(subflow.id, None);
        assert_eq!(subflow.developer_name.as_deref(), Some("Which flow"));
        assert!(subflow.is_set_as_value);

        for none in [
            json!({}),
            json!({ "subflow": null }),
            json!({ "subflow": "x" }),
        ] {
            assert!(names.subflow(&document(none)).is_none());
        }
    }

    #[test]
    fn a_page_is_named_only_from_a_page() {
        let names = names();
        let page = names
            .page(&document(json!({ "pageElementId": PAGE })))
            .unwrap();
        assert_eq!(page.developer_name.as_deref(), Some("Form"));
        // A value's id is no page: the document's own name, if any.
        let not_a_page = document(json!({ "pageElementId": VALUE,
            "pageElementDeveloperName": "As sent" }));
        let page = names.page(&not_a_page).unwrap();
        assert_eq!(page.developer_name.as_deref(), Some("As sent"));
        for none in [
            json!({ "pageElementId": "" }),
            json!({ "pageElementId": "page" }),
        ] {
            assert!(names.page(&document(none)).is_none());
        }
    }

    #[test]
    fn a_wait_has_every_part_of_its_duration() {
        let names = names();
        let wait = names
            .wait(&document(json!({ "wait": {
                "days": 2, "minutes": 30, "relative": "in 2 days",
                "absoluteDate": "2030-01-02T03:04:05+01:00", "value": { "id": VALUE } } })))
            .unwrap();
        assert_eq!(
            (wait.days, wait.hours, wait.minutes, wait.seconds),
            (2, 0, 30, 0)
        );
        assert_eq!(wait.relative.as_deref(), Some("in 2 days"));
        assert_eq!(
            wait.absolute_date.map(Timestamp::to_rfc3339).as_deref(),
            Some("2030-01-02T02:04:05.000000Z")
        );
        assert_eq!(wait.value_developer_name.as_deref(), Some("Which flow"));
        let loose = names
            .wait(&document(
                json!({ "wait": { "days": 1e12, "absoluteDate": "soon" } }),
            ))
            .unwrap();
        assert_eq!(loose.days, 0);
        assert_eq!(loose.absolute_date, None);
    }
}
