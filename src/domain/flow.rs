//! A flow's content as keyflow keeps it, and the draft a create or update request becomes.

use serde::{Deserialize, Serialize};

use super::FlowName;

/// `GroupAuthorizationAPI`: who may run the flow. Items of the lists are kept as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
#[schema(as = GroupAuthorizationAPI)]
pub struct GroupAuthorization {
    pub service_element_id: Option<String>,
    pub global_authentication_type: Option<String>,
    pub stream_behaviour_type: Option<String>,
    pub show_pages_as_read_only: bool,
    #[schema(value_type = Option<Vec<Object>>)]
    pub groups: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub users: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub locations: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
}

/// `FlowIdentityProviderAPI`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", default)]
#[schema(as = FlowIdentityProviderAPI)]
pub struct FlowIdentityProvider {
    pub id: Option<uuid::Uuid>,
    pub allowed_users: Option<Vec<String>>,
    pub allowed_groups: Option<Vec<String>>,
}

/// The part of a flow that is stored as one JSON document: settings keyflow keeps and
/// returns but never queries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowSettings {
    pub allow_jumping: bool,
    pub enable_historical_navigation: bool,
    pub state_expiration_length: i32,
    pub idle_state_expiration_length: i32,
    pub authorization: Option<GroupAuthorization>,
    pub identity_provider: Option<FlowIdentityProvider>,
    pub tags: Option<Vec<String>>,
}

/// A valid create or update: what the store writes as the flow's new version. The START map
/// element is keyflow's to make (at creation), so a draft does not name it.
#[derive(Debug, Clone)]
pub struct FlowDraft {
    pub developer_name: FlowName,
    pub developer_summary: Option<String>,
    pub settings: FlowSettings,
}
