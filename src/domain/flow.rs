//! A flow's content as keyflow keeps it, and the draft a create or update request becomes.

use serde::{Deserialize, Serialize};

use super::{FlowName, Invalid};

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

impl FlowSettings {
    /// Refuses the character U+0000 anywhere in the settings, in a value or an object's key:
    /// PostgreSQL keeps none in JSON (nor in text), so storing it would fail there, and no
    /// client means one. Everything else is kept as sent.
    pub fn check_storable(&self) -> Result<(), Invalid> {
        let value = serde_json::to_value(self)
            .map_err(|_| Invalid::new("the flow's settings cannot be read as JSON"))?;
        if holds_nul(&value) {
            return Err(Invalid::new(
                "authorization and identityProvider must not contain the character U+0000",
            ));
        }
        Ok(())
    }
}

fn holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(holds_nul),
        serde_json::Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_nul(value)),
        _ => false,
    }
}

/// A valid create or update: what the store writes as the flow's new version. The START map
/// element is keyflow's to make (at creation), so a draft does not name it.
#[derive(Debug, Clone)]
pub struct FlowDraft {
    pub developer_name: FlowName,
    pub developer_summary: Option<String>,
    pub settings: FlowSettings,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_anywhere_in_the_settings_is_refused() {
        let mut group = serde_json::Map::new();
        group.insert("name".into(), serde_json::json!(["fine", "a\0b"]));
        let in_a_value = FlowSettings {
            authorization: Some(GroupAuthorization {
                groups: Some(vec![group]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(in_a_value.check_storable().is_err());
        let mut keyed = serde_json::Map::new();
        keyed.insert("x\0".into(), serde_json::json!(1));
        let in_a_key = FlowSettings {
            authorization: Some(GroupAuthorization {
                users: Some(vec![keyed]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(in_a_key.check_storable().is_err());
        let in_a_list = FlowSettings {
            identity_provider: Some(FlowIdentityProvider {
                allowed_users: Some(vec!["\0".into()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(in_a_list.check_storable().is_err());
        let escaped_text = FlowSettings {
            tags: Some(vec!["\\u0000 is six characters".into()]),
            ..Default::default()
        };
        assert!(escaped_text.check_storable().is_ok());
    }
}
