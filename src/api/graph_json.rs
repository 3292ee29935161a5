//! The flow graph on the wire: `FlowGraphResponseAPI` (the header with whole map and group
//! elements), `FlowGraphResponse2API` (the canvas: positions, names, outcomes, and what each
//! map element refers to) and `FlowGraphElementIDRequestAPI`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::element_json::render_flow_element;
use crate::api::flow_json::{FlowIdOut, FlowResponse};
use crate::domain::element::FlowElementKind;
use crate::domain::flow::{FlowIdentityProvider, GroupAuthorization};
use crate::domain::{FlowId, TenantId, Timestamp};
use crate::rules::graph_edit::Graph;
use crate::store::JsonObject;

/// `FlowGraphResponseAPI`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlowGraphResponseAPI)]
pub struct FlowGraphResponse {
    pub editing_token: Uuid,
    pub id: FlowIdOut,
    pub developer_name: Option<String>,
    pub developer_summary: Option<String>,
    pub start_map_element_id: Option<String>,
    pub allow_jumping: bool,
    pub enable_historical_navigation: bool,
    pub state_expiration_length: i32,
    pub idle_state_expiration_length: i32,
    pub authorization: GroupAuthorization,
    pub identity_provider: FlowIdentityProvider,
    pub tags: Option<Vec<String>>,
    /// Each a whole `MapElementResponseAPI`.
    #[schema(value_type = Vec<Object>)]
    pub map_elements: Vec<Value>,
    /// Each a whole `GroupElementResponseAPI`.
    #[schema(value_type = Vec<Object>)]
    pub group_elements: Vec<Value>,
    pub tenant_id: TenantId,
    pub date_modified: Timestamp,
}

impl FlowGraphResponse {
    pub fn new(graph: &Graph, tenant: TenantId) -> Self {
        let kind = |kind: FlowElementKind| -> Vec<Value> {
            graph.of_kind(kind).map(render_flow_element).collect()
        };
        let flow = FlowResponse::from(graph.flow.clone());
        Self {
            editing_token: flow.editing_token,
            id: flow.id,
            developer_name: flow.developer_name,
            developer_summary: flow.developer_summary,
            start_map_element_id: flow.start_map_element_id,
            allow_jumping: flow.allow_jumping,
            enable_historical_navigation: flow.enable_historical_navigation,
            state_expiration_length: flow.state_expiration_length,
            idle_state_expiration_length: flow.idle_state_expiration_length,
            authorization: flow.authorization,
            identity_provider: flow.identity_provider,
            tags: flow.tags,
            map_elements: kind(FlowElementKind::Map),
            group_elements: kind(FlowElementKind::Group),
            tenant_id: tenant,
            date_modified: flow.date_modified,
        }
    }
}

/// Reads an id that tools may send blank for "none": absent, null or blank is `None`.
fn blank_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Uuid>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => Uuid::try_parse(text)
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("'{text}' is not a UUID"))),
    }
}

/// A `groupElementId` that may be absent (outer `None`), or null or blank (`Some(None)`).
fn present_id<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<Uuid>>, D::Error> {
    blank_id(deserializer).map(Some)
}

/// A field of the answer that a request may carry back (a tool posts the canvas it read) and
/// that is not written: read as anything and dropped. (Not `skip_deserializing`, which would
/// leave the field out of the description too.)
fn ignored<'de, D: Deserializer<'de>, T>(deserializer: D) -> Result<Option<T>, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer)?;
    Ok(None)
}

/// `FlowGraphOutcomeResponseAPI`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlowGraphOutcomeResponseAPI)]
pub struct GraphOutcome {
    #[serde(default, deserialize_with = "blank_id")]
    pub id: Option<Uuid>,
    pub developer_name: Option<String>,
    #[serde(default, deserialize_with = "blank_id")]
    pub next_map_element_id: Option<Uuid>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub control_points: Option<Vec<Value>>,
}

/// `FlowGraphMapElementResponseSubflowAPI`: the flow a SUBFLOW map element calls.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlowGraphMapElementResponseSubflowAPI)]
pub struct GraphSubflow {
    /// The flow called (`subflow.flowId.id`); null when the element names none.
    pub id: Option<Uuid>,
    /// That flow's name (or, set as a value, the value's).
    pub developer_name: Option<String>,
    /// Whether the flow is chosen at run time by a value (`subflow.value`).
    pub is_set_as_value: bool,
}

/// `FlowGraphMapElementResponseSubElementAPI`: the page a map element shows.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlowGraphMapElementResponseSubElementAPI)]
pub struct GraphSubElement {
    pub id: Uuid,
    pub developer_name: Option<String>,
}

/// `FlowGraphWaitResponseAPI`: how long a WAIT map element waits.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlowGraphWaitResponseAPI)]
pub struct GraphWait {
    pub days: i32,
    pub hours: i32,
    pub minutes: i32,
    pub seconds: i32,
    pub relative: Option<String>,
    pub absolute_date: Option<Timestamp>,
    pub value_developer_name: Option<String>,
}

/// `FlowGraphMapElementResponseAPI`. `subflow`, `page` and `wait` are derived from the whole
/// element for the answer (null where it has none) and ignored in a `PUT`: they change
/// through the element itself.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlowGraphMapElementResponseAPI)]
pub struct GraphMapElement {
    pub id: Uuid,
    pub element_type: Option<String>,
    // Boomi's integers are not nullable: an element without a position has none.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::http::json::integral"
    )]
    pub x: Option<i32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::http::json::integral"
    )]
    pub y: Option<i32>,
    pub developer_name: Option<String>,
    #[serde(default, deserialize_with = "present_id")]
    #[schema(value_type = Option<Uuid>)]
    pub group_element_id: Option<Option<Uuid>>,
    pub outcomes: Option<Vec<GraphOutcome>>,
    #[serde(default, deserialize_with = "ignored")]
    pub subflow: Option<GraphSubflow>,
    #[serde(default, deserialize_with = "ignored")]
    pub page: Option<GraphSubElement>,
    #[serde(default, deserialize_with = "ignored")]
    pub wait: Option<GraphWait>,
}

/// `FlowGraphGroupElementResponseAPI`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlowGraphGroupElementResponseAPI)]
pub struct GraphGroupElement {
    pub id: Uuid,
    pub element_type: Option<String>,
    // Boomi's integers are not nullable: one the element lacks is left out.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::http::json::integral"
    )]
    pub x: Option<i32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::http::json::integral"
    )]
    pub y: Option<i32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::http::json::integral"
    )]
    pub width: Option<i32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::http::json::integral"
    )]
    pub height: Option<i32>,
    pub developer_name: Option<String>,
    #[serde(default, deserialize_with = "present_id")]
    #[schema(value_type = Option<Uuid>)]
    pub group_element_id: Option<Option<Uuid>>,
}

/// `FlowGraphResponse2API`: the body of `GET` and `PUT /api/draw/2/graph/flow`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlowGraphResponse2API)]
pub struct FlowGraph2 {
    pub id: FlowId,
    pub map_elements: Option<Vec<GraphMapElement>>,
    pub group_elements: Option<Vec<GraphGroupElement>>,
}

fn int(document: &JsonObject, field: &str) -> Option<i32> {
    document
        .get(field)
        .and_then(Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
}

fn text(document: &JsonObject, field: &str) -> Option<String> {
    document
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn id(value: Option<&Value>) -> Option<Uuid> {
    value
        .and_then(Value::as_str)
        .and_then(|text| Uuid::try_parse(text.trim()).ok())
}

/// What the canvas shows a map element refers to (`subflow`, `page`, `wait`), with the names
/// looked up (`api::canvas_refs::Names`); a trait, so that the wire types import no lookups.
pub trait CanvasRefs {
    fn subflow(&self, document: &JsonObject) -> Option<GraphSubflow>;
    fn page(&self, document: &JsonObject) -> Option<GraphSubElement>;
    fn wait(&self, document: &JsonObject) -> Option<GraphWait>;
}

impl FlowGraph2 {
    /// The canvas of the graph, with what its map elements refer to named by `names`.
    pub fn new(graph: &Graph, names: &impl CanvasRefs) -> Self {
        let map_elements = graph
            .of_kind(FlowElementKind::Map)
            .map(|element| {
                let document = &element.document;
                let outcomes = document
                    .get("outcomes")
                    .and_then(Value::as_array)
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(Value::as_object)
                            .map(|outcome| GraphOutcome {
                                id: id(outcome.get("id")),
                                developer_name: text(outcome, "developerName"),
                                next_map_element_id: id(outcome.get("nextMapElementId")),
                                control_points: outcome
                                    .get("controlPoints")
                                    .and_then(Value::as_array)
                                    .cloned(),
                            })
                            .collect()
                    });
                GraphMapElement {
                    id: element.id,
                    element_type: text(document, "elementType"),
                    x: int(document, "x"),
                    y: int(document, "y"),
                    developer_name: Some(element.developer_name.clone()),
                    group_element_id: Some(id(document.get("groupElementId"))),
                    outcomes,
                    subflow: names.subflow(document),
                    page: names.page(document),
                    wait: names.wait(document),
                }
            })
            .collect();
        let group_elements = graph
            .of_kind(FlowElementKind::Group)
            .map(|element| {
                let document = &element.document;
                GraphGroupElement {
                    id: element.id,
                    element_type: text(document, "elementType"),
                    x: int(document, "x"),
                    y: int(document, "y"),
                    width: int(document, "width"),
                    height: int(document, "height"),
                    developer_name: Some(element.developer_name.clone()),
                    group_element_id: Some(id(document.get("groupElementId"))),
                }
            })
            .collect();
        Self {
            id: graph.flow.id,
            map_elements: Some(map_elements),
            group_elements: Some(group_elements),
        }
    }
}

/// `FlowGraphElementIDRequestAPI`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlowGraphElementIDRequestAPI)]
pub struct ElementIds {
    pub map_element_ids: Option<Vec<Uuid>>,
    pub group_element_ids: Option<Vec<Uuid>>,
}

/// `FlowGraphElementResponseAPI`: whole elements.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlowGraphElementResponseAPI)]
pub struct GraphElements {
    #[schema(value_type = Vec<Object>)]
    pub map_elements: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub group_elements: Vec<Value>,
}
