//! What both backends store the same way: the empty password hash, a flow's
//! settings and elements' documents as JSON text, and the refusals both give (a tenant's last
//! administrator, a taken element name, an element in use, a stale editing token, an element
//! another editor changed, a flow that moved while a write was computed).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{NewElement, StoreError, StoreResult};
use crate::domain::FlowId;
use crate::domain::element::ElementKind;

/// `users.password_hash` holds '' for an account with no usable password yet.
pub(super) const NO_PASSWORD: &str = "";

/// The refusal of a change that would leave a tenant without an administrator.
pub(super) fn last_administrator() -> StoreError {
    StoreError::Conflict(
        "a tenant must keep at least one administrator: this user is its last".into(),
    )
}

/// A flow's settings or an element's document (`what`) as the JSON text both backends keep.
pub(super) fn to_json<T: Serialize>(value: &T, what: &'static str) -> StoreResult<String> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Internal(anyhow::Error::new(e).context(what)))
}

/// A flow's settings or an element's document (`what`) read back from its JSON text.
pub(super) fn from_json<T: DeserializeOwned>(text: &str, what: &'static str) -> StoreResult<T> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Internal(anyhow::Error::new(e).context(what)))
}

/// The refusal of an element whose name another element of its kind has.
pub(super) fn name_taken(element: &NewElement) -> StoreError {
    StoreError::Conflict(format!(
        "this tenant already has a {} named '{}' (names are unique per type, ignoring case)",
        element.kind.noun(),
        element.name.as_str()
    ))
}

/// The refusal to delete an element that flows use, naming them.
pub(super) fn element_in_use(kind: ElementKind, flows: &[(FlowId, String)]) -> StoreError {
    let named: Vec<String> = flows
        .iter()
        .map(|(id, name)| format!("'{name}' ({id})"))
        .collect();
    let (flows_word, them) = if flows.len() == 1 {
        ("flow", "it")
    } else {
        ("flows", "them")
    };
    StoreError::Conflict(format!(
        "this {} is used by the {flows_word} {}: remove it from {them} first",
        kind.noun(),
        named.join(", ")
    ))
}

/// The refusal of a write based on an editing token the flow has moved on from.
pub(super) fn stale_token(flow: FlowId) -> StoreError {
    StoreError::Conflict(format!(
        "the flow {flow} has changed since this editing token was issued: load the flow again \
         for its current editingToken"
    ))
}

/// The refusal of a write computed from a version of the flow that another write has since
/// replaced (the caller reads again and redoes it).
pub(super) fn moved(flow: FlowId) -> StoreError {
    StoreError::Moved(format!(
        "the flow {flow} was changed by another write at the same moment: try again"
    ))
}

/// The refusal of a write to an element that another editor changed under the same editing
/// token since the client read it (`what` names the element).
pub(super) fn changed_by_another(flow: FlowId, what: &str) -> StoreError {
    StoreError::Conflict(format!(
        "{what} of the flow {flow} was changed by another editor since this editing token was \
         issued: load the flow again for its current editingToken (and that editor's change)"
    ))
}
