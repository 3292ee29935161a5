//! The flow shapes on the wire: `FlowRequestAPI` in, `FlowResponseAPI` out, every field present.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::flow::{FlowDraft, FlowIdentityProvider, FlowSettings, GroupAuthorization};
use crate::domain::{FlowId, FlowName, Invalid, Timestamp, UserId};
use crate::store::{FlowRecord, Who};

/// `FlowIdAPI`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowIdOut {
    pub id: FlowId,
    pub version_id: Uuid,
}

/// `BuilderWhoAPI`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuilderWho {
    pub id: UserId,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
}

impl From<Who> for BuilderWho {
    fn from(who: Who) -> Self {
        Self {
            id: who.id,
            first_name: who.first_name,
            last_name: who.last_name,
            email: who.email,
        }
    }
}

/// `FlowResponseAPI`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
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
    pub authorization: Option<GroupAuthorization>,
    pub identity_provider: Option<FlowIdentityProvider>,
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
            authorization: settings.authorization,
            identity_provider: settings.identity_provider,
            tags: settings.tags,
            date_created: flow.date_created,
            date_modified: flow.date_modified,
            who_created: flow.who_created.into(),
            who_modified: flow.who_modified.into(),
            who_owner: flow.who_owner.into(),
            alert_email: None,
            is_active: false,
            is_default: false,
            comment: None,
        }
    }
}

/// `FlowIdAPI` as a client sends it: either part may be absent or null.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowIdIn {
    pub id: Option<String>,
    #[allow(dead_code)]
    pub version_id: Option<String>,
}

/// `FlowRequestAPI`. Unknown fields are ignored, so a fetched flow can be posted back whole.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowRequest {
    pub id: Option<FlowIdIn>,
    pub developer_name: Option<String>,
    pub developer_summary: Option<String>,
    pub start_map_element_id: Option<String>,
    pub allow_jumping: Option<bool>,
    pub enable_historical_navigation: Option<bool>,
    pub state_expiration_length: Option<i32>,
    pub idle_state_expiration_length: Option<i32>,
    pub authorization: Option<GroupAuthorization>,
    pub identity_provider: Option<FlowIdentityProvider>,
    pub tags: Option<Vec<String>>,
}

impl FlowRequest {
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
        Ok(FlowDraft {
            developer_name: FlowName::parse(name)?,
            developer_summary: self.developer_summary,
            start_map_element_id: self.start_map_element_id,
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
