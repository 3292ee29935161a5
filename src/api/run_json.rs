//! The run API's shapes on the wire, as Boomi names them: `EngineInitializationRequestAPI`
//! and `…ResponseAPI`, `EngineInitializationSimpleRequestAPI`, `EngineInvokeRequestAPI` and
//! `…ResponseAPI` with its map element, page and outcome responses. Requests describe only
//! what keyflow reads and checks; Boomi's other fields are accepted and ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{FlowId, StateId, StateToken, VersionId};
use crate::rules::run::engine::{ElementView, Status};
use crate::rules::run::navigation::{ItemView, NavigationView};
use crate::rules::run::page::{ComponentView, ContainerView, PageView};
use crate::rules::run::{Input, Ran, StateValue};

/// `FlowIdAPI` as a request names the flow to run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RunFlowIdAPI)]
pub struct RunFlowId {
    /// The flow.
    pub id: FlowId,
    /// One of its snapshots; absent: its running version (the default snapshot, else the last
    /// activated). The version being edited is never run.
    pub version_id: Option<VersionId>,
}

/// `EngineValueAPI` as an input: a value named by id or name, and its content: `contentValue`
/// for a simple value, `objectData` (`ObjectAPI[]`, kept as sent) for a list or an object.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EngineValueInputAPI)]
pub struct EngineValueIn {
    /// The value's id; absent or empty: by `developerName`.
    pub value_element_id: Option<String>,
    pub developer_name: Option<String>,
    pub content_value: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub object_data: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
}

impl EngineValueIn {
    /// The input as the rules take it (which check it against the flow's values).
    pub fn to_input(&self) -> Input {
        let id = self.value_element_id.as_deref().map(str::trim);
        let name = self.developer_name.as_deref().map(str::trim);
        let value = id.filter(|id| !id.is_empty()).or(name).unwrap_or_default();
        Input {
            value: value.to_string(),
            content: self.content_value.clone(),
            object_data: self.object_data.clone(),
        }
    }
}

/// `EngineInitializationRequestAPI`: starts a state of a flow. keyflow reads `flowId` and
/// `inputs`; the other fields of Boomi's shape are accepted and ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EngineInitializationRequestAPI)]
pub struct InitializationRequest {
    pub flow_id: RunFlowId,
    pub inputs: Option<Vec<EngineValueIn>>,
}

/// `EngineInitializationSimpleRequestAPI`: a flow by `id` (and `versionId`) or by
/// `developerName`, with its inputs. Signing in with `username` and `password` needs an
/// identity provider, which keyflow does not call (422).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EngineInitializationSimpleRequestAPI)]
pub struct SimpleRequest {
    pub id: Option<FlowId>,
    pub version_id: Option<VersionId>,
    pub developer_name: Option<String>,
    pub inputs: Option<Vec<EngineValueIn>>,
    /// Not supported (422): keyflow does not sign in through a flow's identity provider.
    pub username: Option<String>,
    /// Not supported (422), as `username`.
    pub password: Option<String>,
}

/// What an invoke asks: `FORWARD` (answers, then the selected outcome), `SYNC` (answers
/// only: the run stays where it is), `JOIN` (the state as it is, nothing changed) or
/// `NAVIGATE` (to the map element of `selectedNavigationItemId` in `navigationElementId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[schema(as = RunInvokeType)]
pub enum InvokeType {
    Forward,
    Sync,
    Join,
    Navigate,
}

/// `PageComponentInputResponseRequestAPI`: a page component's answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PageComponentInputResponseRequestAPI)]
pub struct ComponentAnswer {
    pub page_component_id: String,
    pub content_value: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub object_data: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
}

/// `PageRequestAPI`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PageRequestAPI)]
pub struct PageRequest {
    pub page_component_input_responses: Option<Vec<ComponentAnswer>>,
}

/// `MapElementInvokeRequestAPI`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = MapElementInvokeRequestAPI)]
pub struct MapElementInvokeRequest {
    pub selected_outcome_id: Option<String>,
    pub page_request: Option<PageRequest>,
}

/// `EngineInvokeRequestAPI`: moves a state on from the `stateToken` it was read at.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EngineInvokeRequestAPI)]
pub struct InvokeRequest {
    /// When sent, the path's state.
    pub state_id: Option<StateId>,
    /// The token of the last answer: a state that moved on since refuses the invoke (409).
    pub state_token: StateToken,
    pub invoke_type: InvokeType,
    pub map_element_invoke_request: Option<MapElementInvokeRequest>,
    /// With `NAVIGATE`: the navigation element of the flow.
    pub navigation_element_id: Option<String>,
    /// With `NAVIGATE`: the item of that navigation to go to.
    pub selected_navigation_item_id: Option<String>,
}

/// `EngineInitializationResponseAPI`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EngineInitializationResponseAPI)]
pub struct InitializationResponse {
    pub state_id: StateId,
    pub state_token: StateToken,
    pub current_map_element_id: Option<String>,
    pub status_code: String,
}

impl From<&Ran> for InitializationResponse {
    fn from(ran: &Ran) -> Self {
        Self {
            state_id: ran.state.id,
            state_token: ran.state.state_token,
            current_map_element_id: ran.state.current_element.clone(),
            status_code: "200".into(),
        }
    }
}

/// `OutcomeResponseAPI`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OutcomeResponseAPI)]
pub struct OutcomeResponse {
    pub id: String,
    pub developer_name: Option<String>,
    pub label: Option<String>,
    pub order: i64,
    pub page_action_binding_type: Option<String>,
    pub page_action_type: Option<String>,
    pub is_bulk_action: bool,
    pub is_out: bool,
}

/// `PageContainerResponseAPI`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PageContainerResponseAPI)]
pub struct ContainerResponse {
    pub id: String,
    pub container_type: Option<String>,
    pub developer_name: Option<String>,
    pub label: Option<String>,
    #[schema(no_recursion)]
    pub page_container_responses: Vec<ContainerResponse>,
    pub order: i64,
}

impl From<&ContainerView> for ContainerResponse {
    fn from(c: &ContainerView) -> Self {
        Self {
            id: c.id.clone(),
            container_type: c.container_type.clone(),
            developer_name: c.developer_name.clone(),
            label: c.label.clone(),
            page_container_responses: c.children.iter().map(Into::into).collect(),
            order: c.order,
        }
    }
}

/// `PageComponentResponseAPI`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PageComponentResponseAPI)]
pub struct ComponentResponse {
    pub page_container_id: Option<String>,
    pub id: String,
    pub developer_name: Option<String>,
    pub component_type: Option<String>,
    pub content_type: Option<String>,
    pub label: Option<String>,
    pub hint_value: Option<String>,
    pub help_info: Option<String>,
    pub order: i64,
}

/// `PageComponentDataResponseAPI`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PageComponentDataResponseAPI)]
pub struct ComponentDataResponse {
    pub page_component_id: String,
    pub is_enabled: bool,
    pub is_editable: bool,
    pub is_required: bool,
    pub is_visible: bool,
    pub content_value: Option<String>,
    pub content: Option<String>,
    pub is_valid: bool,
    pub validation_message: Option<String>,
}

fn component(c: &ComponentView) -> (ComponentResponse, ComponentDataResponse) {
    (
        ComponentResponse {
            page_container_id: c.container_id.clone(),
            id: c.id.clone(),
            developer_name: c.developer_name.clone(),
            component_type: c.component_type.clone(),
            content_type: c.content_type.clone(),
            label: c.label.clone(),
            hint_value: c.hint.clone(),
            help_info: c.help.clone(),
            order: c.order,
        },
        ComponentDataResponse {
            page_component_id: c.id.clone(),
            is_enabled: true,
            is_editable: c.is_editable,
            is_required: c.is_required,
            is_visible: true,
            content_value: c.content_value.clone(),
            content: c.content.clone(),
            is_valid: c.is_valid,
            validation_message: c.validation_message.clone(),
        },
    )
}

/// `PageResponseAPI`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PageResponseAPI)]
pub struct PageResponse {
    pub label: Option<String>,
    pub page_container_responses: Vec<ContainerResponse>,
    pub page_component_responses: Vec<ComponentResponse>,
    pub page_component_data_responses: Vec<ComponentDataResponse>,
}

impl From<&PageView> for PageResponse {
    fn from(page: &PageView) -> Self {
        let (components, data) = page.components.iter().map(component).unzip();
        Self {
            label: page.label.clone(),
            page_container_responses: page.containers.iter().map(Into::into).collect(),
            page_component_responses: components,
            page_component_data_responses: data,
        }
    }
}

/// `MapElementInvokeResponseAPI`: the element the run stopped at. A fault names it in
/// `rootFaults` (its name → why).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = MapElementInvokeResponseAPI)]
pub struct MapElementInvokeResponse {
    pub map_element_id: String,
    pub developer_name: String,
    pub label: Option<String>,
    pub page_response: Option<PageResponse>,
    pub outcome_responses: Vec<OutcomeResponse>,
    pub root_faults: Option<BTreeMap<String, String>>,
}

impl From<&ElementView> for MapElementInvokeResponse {
    fn from(view: &ElementView) -> Self {
        Self {
            map_element_id: view.id.clone(),
            developer_name: view.developer_name.clone(),
            label: view.label.clone(),
            page_response: view.page.as_ref().map(Into::into),
            outcome_responses: view
                .outcomes
                .iter()
                .map(|o| OutcomeResponse {
                    id: o.id.clone(),
                    developer_name: o.developer_name.clone(),
                    label: o.label.clone(),
                    order: o.order,
                    page_action_binding_type: o.page_action_binding_type.clone(),
                    page_action_type: o.page_action_type.clone(),
                    is_bulk_action: o.is_bulk_action,
                    is_out: false,
                })
                .collect(),
            root_faults: view
                .fault
                .as_ref()
                .map(|why| BTreeMap::from([(view.developer_name.clone(), why.clone())])),
        }
    }
}

/// `EngineInvokeResponseAPI`: where the state stands. `invokeType` is `FORWARD` while it waits
/// for the user (also after a fault, which `rootFaults` describes), `DONE` once it is over.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EngineInvokeResponseAPI)]
pub struct InvokeResponse {
    pub state_id: StateId,
    pub state_token: StateToken,
    pub flow_id: FlowId,
    pub flow_name: String,
    pub flow_version: VersionId,
    pub current_map_element_id: Option<String>,
    pub invoke_type: String,
    pub map_element_invoke_responses: Vec<MapElementInvokeResponse>,
    /// The navigation elements of the flow the run is in: read one with
    /// `POST /api/run/1/navigation/{stateId}`.
    pub navigation_element_references: Vec<NavigationElementReference>,
    pub status_code: String,
}

/// `NavigationElementReferenceAPI`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = NavigationElementReferenceAPI)]
pub struct NavigationElementReference {
    pub id: String,
    pub developer_name: String,
    pub persist_state: bool,
    pub persist_values: bool,
    pub position: Option<String>,
}

/// `EngineNavigationRequestAPI`: which navigation element of the state's flow to read.
/// keyflow reads `navigationElementId`; `stateId`, when sent, must be the path's; the other
/// fields of Boomi's shape (`stateToken`, `culture`) are accepted and ignored: a read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EngineNavigationRequestAPI)]
pub struct NavigationRequest {
    pub state_id: Option<StateId>,
    pub navigation_element_id: String,
}

/// `NavigationItemResponseAPI`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = NavigationItemResponseAPI)]
pub struct NavigationItemResponse {
    pub id: String,
    pub developer_name: Option<String>,
    pub label: Option<String>,
    #[schema(no_recursion)]
    pub navigation_items: Vec<NavigationItemResponse>,
    pub order: i64,
}

impl From<&ItemView> for NavigationItemResponse {
    fn from(item: &ItemView) -> Self {
        Self {
            id: item.id.clone(),
            developer_name: item.developer_name.clone(),
            label: item.label.clone(),
            navigation_items: item.children.iter().map(Into::into).collect(),
            order: item.order,
        }
    }
}

/// `NavigationItemDataResponseAPI`: one item's state, for every item at any depth.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = NavigationItemDataResponseAPI)]
pub struct NavigationItemDataResponse {
    pub navigation_item_id: String,
    pub navigation_item_developer_name: Option<String>,
    pub is_active: bool,
    pub is_current: bool,
    pub is_enabled: bool,
    pub is_visible: bool,
    pub location_map_element_id: Option<String>,
}

/// `EngineNavigationResponseAPI`: a navigation element with the item the run is at marked.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EngineNavigationResponseAPI)]
pub struct NavigationResponse {
    pub developer_name: String,
    pub label: Option<String>,
    pub navigation_item_responses: Vec<NavigationItemResponse>,
    pub navigation_item_data_responses: Vec<NavigationItemDataResponse>,
    pub is_visible: bool,
    pub is_enabled: bool,
    pub state_id: StateId,
    pub persist_state: bool,
    pub persist_values: bool,
    pub position: Option<String>,
}

impl NavigationResponse {
    pub fn new(state: StateId, navigation: &NavigationView) -> Self {
        Self {
            developer_name: navigation.developer_name.clone(),
            label: navigation.label.clone(),
            navigation_item_responses: navigation.items.iter().map(Into::into).collect(),
            navigation_item_data_responses: navigation
                .flattened()
                .into_iter()
                .map(|item| NavigationItemDataResponse {
                    navigation_item_id: item.id.clone(),
                    navigation_item_developer_name: item.developer_name.clone(),
                    is_active: item.is_active,
                    is_current: item.is_current,
                    is_enabled: true,
                    is_visible: true,
                    location_map_element_id: item.location.clone(),
                })
                .collect(),
            is_visible: true,
            is_enabled: true,
            state_id: state,
            persist_state: navigation.persist_state,
            persist_values: navigation.persist_values,
            position: navigation.position.clone(),
        }
    }
}

impl From<&Ran> for InvokeResponse {
    fn from(ran: &Ran) -> Self {
        let invoke_type = match ran.stop.run.status {
            Status::Complete => "DONE",
            Status::InProgress | Status::Fault => "FORWARD",
        };
        Self {
            state_id: ran.state.id,
            state_token: ran.state.state_token,
            flow_id: ran.state.flow_id,
            flow_name: ran.flow.developer_name.clone(),
            flow_version: ran.state.version_id,
            current_map_element_id: ran.state.current_element.clone(),
            invoke_type: invoke_type.into(),
            map_element_invoke_responses: ran.stop.view.iter().map(Into::into).collect(),
            navigation_element_references: ran
                .navigation
                .iter()
                .map(|n| NavigationElementReference {
                    id: n.id.clone(),
                    developer_name: n.developer_name.clone(),
                    persist_state: n.persist_state,
                    persist_values: n.persist_values,
                    position: n.position.clone(),
                })
                .collect(),
            status_code: "200".into(),
        }
    }
}

/// `EngineValueAPI`: one value of a state: a simple value's `contentValue` (null for a
/// password or a secret value, never answered in clear), a list's or an object's `objectData`
/// (`ObjectAPI[]`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EngineValueAPI)]
pub struct EngineValueOut {
    pub value_element_id: String,
    pub developer_name: String,
    pub content_value: Option<String>,
    pub content_type: String,
    #[schema(value_type = Option<Vec<Object>>)]
    pub object_data: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
}

impl From<StateValue> for EngineValueOut {
    fn from(value: StateValue) -> Self {
        Self {
            value_element_id: value.id,
            developer_name: value.developer_name,
            content_value: value.content,
            content_type: value.content_type,
            object_data: value.object_data,
        }
    }
}
