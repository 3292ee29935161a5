//! The flow shapes on the wire: `FlowRequestAPI` in, `FlowResponseAPI` out, every field present;
//! `FlowResponse` for activated flows and `FlowImageResponseAPI` for one snapshot.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::element_json::{BuilderWho, render_element, render_flow_element};
use crate::domain::element::{ElementKind, FlowElementKind};
use crate::domain::flow::{FlowDraft, FlowIdentityProvider, FlowSettings, GroupAuthorization};
use crate::domain::{FlowId, FlowName, Invalid, Timestamp, VersionId, prose, tag};
use crate::store::{ElementRecord, FlowElementRecord, FlowRecord};

/// `FlowIdAPI`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlowIdAPI)]
pub struct FlowIdOut {
    pub id: FlowId,
    pub version_id: VersionId,
}

/// `FlowResponseAPI`. `isActive`, `isDefault`, `comment` and `alertEmail` are a snapshot's;
/// the version being edited has them false and null.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlowResponseAPI)]
pub struct FlowResponse {
    pub editing_token: Uuid,
    pub id: FlowIdOut,
    pub developer_name: Option<String>,
    pub developer_summary: Option<String>,
    pub start_map_element_id: Option<String>,
    pub allow_jumping: bool,
    pub enable_historical_navigation: bool,
    pub state_expiration_length: i32,
    pub idle_state_expiration_length: i32,
    /// Always an object (Boomi's shape has no null here): an unset one has its fields null.
    pub authorization: GroupAuthorization,
    /// Always an object, as `authorization`.
    pub identity_provider: FlowIdentityProvider,
    pub tags: Option<Vec<String>>,
    pub date_created: Timestamp,
    pub date_modified: Timestamp,
    pub who_created: BuilderWho,
    pub who_modified: BuilderWho,
    pub who_owner: BuilderWho,
    pub alert_email: Option<String>,
    pub is_active: bool,
    pub is_default: bool,
    pub comment: Option<String>,
}

impl From<FlowRecord> for FlowResponse {
    fn from(flow: FlowRecord) -> Self {
        let settings = flow.settings;
        let snapshot = flow.snapshot.unwrap_or_default();
        Self {
            editing_token: flow.editing_token,
            id: FlowIdOut {
                id: flow.id,
                version_id: flow.version_id,
            },
            developer_name: Some(flow.developer_name),
            developer_summary: flow.developer_summary,
            start_map_element_id: flow.start_map_element_id,
            allow_jumping: settings.allow_jumping,
            enable_historical_navigation: settings.enable_historical_navigation,
            state_expiration_length: settings.state_expiration_length,
            idle_state_expiration_length: settings.idle_state_expiration_length,
            authorization: settings.authorization.unwrap_or_default(),
            identity_provider: settings.identity_provider.unwrap_or_default(),
            tags: settings.tags,
            date_created: flow.date_created,
            date_modified: flow.date_modified,
            who_created: flow.who_created.into(),
            who_modified: flow.who_modified.into(),
            who_owner: flow.who_owner.into(),
            alert_email: snapshot.activated_by,
            is_active: snapshot.is_active,
            is_default: snapshot.is_default,
            comment: snapshot.comment,
        }
    }
}

/// `FlowResponse`: an activated flow, as `GET /api/draw/1/flow/active…` lists it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlowResponse)]
pub struct ActiveFlow {
    pub id: FlowIdOut,
    pub developer_name: Option<String>,
    pub developer_summary: Option<String>,
    pub date_created: Timestamp,
    pub date_modified: Timestamp,
    pub who_created: BuilderWho,
    pub who_modified: BuilderWho,
    pub who_owner: BuilderWho,
    pub alert_email: Option<String>,
    pub is_active: bool,
    pub is_default: bool,
    pub comment: Option<String>,
    pub start_map_element_id: Option<String>,
}

impl From<FlowRecord> for ActiveFlow {
    fn from(flow: FlowRecord) -> Self {
        let full = FlowResponse::from(flow);
        Self {
            id: full.id,
            developer_name: full.developer_name,
            developer_summary: full.developer_summary,
            date_created: full.date_created,
            date_modified: full.date_modified,
            who_created: full.who_created,
            who_modified: full.who_modified,
            who_owner: full.who_owner,
            alert_email: full.alert_email,
            is_active: full.is_active,
            is_default: full.is_default,
            comment: full.comment,
            start_map_element_id: full.start_map_element_id,
        }
    }
}

/// `FlowImageResponseAPI`: a flow's version with its elements, each as its
/// `…ElementResponseAPI` document: the flow's own (map, group, navigation) and the tenant
/// elements it uses. keyflow also carries identity providers and custom page components,
/// which Boomi's image has no array for, under `identityProviderElements` and
/// `customPageComponentElements`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlowImageResponseAPI)]
pub struct FlowImage {
    #[serde(flatten)]
    pub flow: FlowResponse,
    #[schema(value_type = Vec<Object>)]
    pub map_elements: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub navigation_elements: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub group_elements: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub page_elements: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub value_elements: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub macro_elements: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub service_elements: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub type_elements: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub tag_elements: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub identity_provider_elements: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    pub custom_page_component_elements: Vec<serde_json::Value>,
}

impl FlowImage {
    /// The image of a version with its flow elements and the tenant elements it uses.
    pub fn new(
        flow: FlowRecord,
        flow_elements: &[FlowElementRecord],
        elements: &[ElementRecord],
    ) -> Self {
        let flow_kind = |kind: FlowElementKind| -> Vec<serde_json::Value> {
            flow_elements
                .iter()
                .filter(|element| element.kind == kind)
                .map(render_flow_element)
                .collect()
        };
        let kind = |kind: ElementKind| -> Vec<serde_json::Value> {
            elements
                .iter()
                .filter(|element| element.kind == kind)
                .map(render_element)
                .collect()
        };
        Self {
            flow: flow.into(),
            map_elements: flow_kind(FlowElementKind::Map),
            navigation_elements: flow_kind(FlowElementKind::Navigation),
            group_elements: flow_kind(FlowElementKind::Group),
            page_elements: kind(ElementKind::Page),
            value_elements: kind(ElementKind::Value),
            macro_elements: kind(ElementKind::Macro),
            service_elements: kind(ElementKind::Service),
            type_elements: kind(ElementKind::Type),
            tag_elements: kind(ElementKind::Tag),
            identity_provider_elements: kind(ElementKind::IdentityProvider),
            custom_page_component_elements: kind(ElementKind::CustomPageComponent),
        }
    }
}

/// `FlowIdAPI` as a client sends it: either part may be absent or null.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlowIdRequestAPI)]
pub struct FlowIdIn {
    /// The flow to update; absent, null or blank creates a flow.
    #[schema(
        pattern = r"^\s*([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?\s*$"
    )]
    pub id: Option<String>,
    /// Ignored: an update always makes a new version.
    #[allow(dead_code)]
    pub version_id: Option<String>,
}

/// `FlowRequestAPI`. Unknown fields are ignored, so a fetched flow can be posted back whole
/// (`startMapElementId` too: keyflow makes the START element itself).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = FlowRequestAPI)]
pub struct FlowRequest {
    pub id: Option<FlowIdIn>,
    /// Required: 1 to 255 characters, not blank, no control characters and no invisible or
    /// direction-changing ones. (The pattern: the white space keyflow trims, then a name with
    /// none of those characters, then white space again.)
    #[schema(
        required,
        value_type = String,
        min_length = 1,
        max_length = 255,
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]*[^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]*[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub developer_name: Option<String>,
    /// At most 2000 characters, kept as written: line breaks and tabs are welcome, other
    /// control characters and invisible or direction-changing ones are not.
    #[schema(
        max_length = 2000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]*$"
    )]
    pub developer_summary: Option<String>,
    #[allow(dead_code)]
    pub start_map_element_id: Option<String>,
    pub allow_jumping: Option<bool>,
    pub enable_historical_navigation: Option<bool>,
    #[serde(default, deserialize_with = "crate::http::json::integral")]
    pub state_expiration_length: Option<i32>,
    #[serde(default, deserialize_with = "crate::http::json::integral")]
    pub idle_state_expiration_length: Option<i32>,
    pub authorization: Option<GroupAuthorization>,
    pub identity_provider: Option<FlowIdentityProvider>,
    /// Each at most 100 characters, with no control character and no invisible or
    /// direction-changing one.
    #[schema(
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff]*$"
    )]
    pub tags: Option<Vec<String>>,
    /// The flow's map elements (`MapElementRequestAPI`), written with the flow in one
    /// transaction; null or absent keeps them (a new flow gets its START element). The START
    /// element, when none is sent, is kept (or made).
    #[schema(value_type = Option<Vec<Object>>)]
    pub map_elements: Option<serde_json::Value>,
    /// The flow's group elements (`GroupElementRequestAPI`); null or absent keeps them.
    #[schema(value_type = Option<Vec<Object>>)]
    pub group_elements: Option<serde_json::Value>,
    /// The flow's navigation elements (`NavigationElementRequestAPI`); null or absent keeps
    /// them.
    #[schema(value_type = Option<Vec<Object>>)]
    pub navigation_elements: Option<serde_json::Value>,
    /// Tenant elements are not saved with a flow: a non-empty array is a 422 naming where
    /// they go (`POST /api/draw/1/element/{type}`).
    #[schema(value_type = Option<Vec<Object>>, max_items = 0)]
    pub page_elements: Option<serde_json::Value>,
    /// Tenant elements are not saved with a flow: a non-empty array is a 422 naming where
    /// they go (`POST /api/draw/1/element/{type}`).
    #[schema(value_type = Option<Vec<Object>>, max_items = 0)]
    pub value_elements: Option<serde_json::Value>,
    /// Tenant elements are not saved with a flow: a non-empty array is a 422 naming where
    /// they go (`POST /api/draw/1/element/{type}`).
    #[schema(value_type = Option<Vec<Object>>, max_items = 0)]
    pub type_elements: Option<serde_json::Value>,
    /// Tenant elements are not saved with a flow: a non-empty array is a 422 naming where
    /// they go (`POST /api/draw/1/element/{type}`).
    #[schema(value_type = Option<Vec<Object>>, max_items = 0)]
    pub service_elements: Option<serde_json::Value>,
    /// Tenant elements are not saved with a flow: a non-empty array is a 422 naming where
    /// they go (`POST /api/draw/1/element/{type}`).
    #[schema(value_type = Option<Vec<Object>>, max_items = 0)]
    pub macro_elements: Option<serde_json::Value>,
    /// Tenant elements are not saved with a flow: a non-empty array is a 422 naming where
    /// they go (`POST /api/draw/1/element/{type}`).
    #[schema(value_type = Option<Vec<Object>>, max_items = 0)]
    pub tag_elements: Option<serde_json::Value>,
    /// Tenant elements are not saved with a flow: a non-empty array is a 422 naming where
    /// they go (`POST /api/draw/1/element/{type}`).
    #[schema(value_type = Option<Vec<Object>>, max_items = 0)]
    pub identity_provider_elements: Option<serde_json::Value>,
    /// Tenant elements are not saved with a flow: a non-empty array is a 422 naming where
    /// they go (`POST /api/draw/1/element/{type}`).
    #[schema(value_type = Option<Vec<Object>>, max_items = 0)]
    pub custom_page_component_elements: Option<serde_json::Value>,
}

impl FlowRequest {
    /// Invalid when the request carries tenant elements (`pageElements`, `valueElements`, …):
    /// they are saved on their own, never dropped silently.
    pub fn refuse_tenant_elements(&self) -> Result<(), Invalid> {
        for kind in ElementKind::ALL {
            let field = kind.image_field();
            let value = match kind {
                ElementKind::Page => &self.page_elements,
                ElementKind::Value => &self.value_elements,
                ElementKind::Type => &self.type_elements,
                ElementKind::Service => &self.service_elements,
                ElementKind::Macro => &self.macro_elements,
                ElementKind::Tag => &self.tag_elements,
                ElementKind::IdentityProvider => &self.identity_provider_elements,
                ElementKind::CustomPageComponent => &self.custom_page_component_elements,
            };
            let sent = value.as_ref().is_some_and(|value| {
                !value.is_null() && value.as_array().is_none_or(|items| !items.is_empty())
            });
            if sent {
                return Err(Invalid::new(format!(
                    "{field} cannot be saved with a flow: save each with POST /api/draw/1/element/{} \
                     and refer to it from the flow's elements",
                    kind.path()
                )));
            }
        }
        Ok(())
    }

    /// The flow to update, when `id.id` is given (blank counts as absent).
    pub fn target(&self) -> Result<Option<FlowId>, Invalid> {
        match self
            .id
            .as_ref()
            .and_then(|id| id.id.as_deref())
            .map(str::trim)
        {
            None | Some("") => Ok(None),
            Some(text) => FlowId::parse(text).map(Some).map_err(|_| {
                Invalid::new(format!("id.id must be a flow id (a UUID), not '{text}'"))
            }),
        }
    }

    /// The valid content of the request; `developerName` is required.
    pub fn into_draft(self) -> Result<FlowDraft, Invalid> {
        let name = self
            .developer_name
            .as_deref()
            .ok_or_else(|| Invalid::new("developerName is required"))?;
        let developer_name = FlowName::parse(name)?;
        if let Some(summary) = &self.developer_summary {
            prose("developerSummary", summary)?;
        }
        for text in self.tags.iter().flatten() {
            tag("Each of the tags", text)?;
        }
        Ok(FlowDraft {
            developer_name,
            developer_summary: self.developer_summary,
            settings: FlowSettings {
                allow_jumping: self.allow_jumping.unwrap_or(false),
                enable_historical_navigation: self.enable_historical_navigation.unwrap_or(false),
                state_expiration_length: self.state_expiration_length.unwrap_or(0),
                idle_state_expiration_length: self.idle_state_expiration_length.unwrap_or(0),
                authorization: self.authorization,
                identity_provider: self.identity_provider,
                tags: self.tags,
            },
        })
    }
}
