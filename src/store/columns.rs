//! What both backends store the same way: the empty password hash, a role's text, a flow's
//! settings as JSON text, and the refusal both give for a tenant's last administrator.

use super::{StoreError, StoreResult};
use crate::domain::Role;
use crate::domain::flow::FlowSettings;

/// `users.password_hash` holds '' for an account with no usable password yet.
pub(super) const NO_PASSWORD: &str = "";

/// The password hash a `users.password_hash` column stands for.
pub(super) fn password_hash(column: String) -> Option<String> {
    Some(column).filter(|hash| hash != NO_PASSWORD)
}

/// A role read back from its column; an unknown one means a corrupt row.
pub(super) fn role(text: &str) -> StoreResult<Role> {
    text.parse()
        .map_err(|_| StoreError::Internal(anyhow::anyhow!("unknown role in the database")))
}

/// The refusal of a change that would leave a tenant without an administrator.
pub(super) fn last_administrator() -> StoreError {
    StoreError::Conflict(
        "a tenant must keep at least one administrator: this user is its last".into(),
    )
}

/// A flow's settings as the JSON text both backends keep.
pub(super) fn settings_json(settings: &FlowSettings) -> StoreResult<String> {
    serde_json::to_string(settings)
        .map_err(|e| StoreError::Internal(anyhow::Error::new(e).context("flow settings")))
}

/// A flow's settings read back from their JSON text.
pub(super) fn settings_from_json(text: &str) -> StoreResult<FlowSettings> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Internal(anyhow::Error::new(e).context("flow settings")))
}
