//! Values parsed at the edge and valid inside: ids, names, emails, roles, passwords, the flow
//! filter, list pages and the flow itself; and the digest stored in place of a secret. A
//! function that takes one of these never re-checks it.

mod digest;
pub mod element;
mod email;
pub mod filter;
pub mod flow;
mod ids;
mod names;
mod network;
mod page;
mod password;
mod role;
mod scope;
mod timestamp;

pub use digest::Digest;
pub use email::Email;
pub use filter::{Filter, Filterable, FlowFilter};
pub(crate) use ids::shorten;
pub use ids::{FlowId, KeyId, StateId, StateToken, TenantId, UserId, VersionId, new_id};
pub use names::{
    FlowName, KeyName, PERSON_NAME_MAX_CHARS, PROSE_MAX_CHARS, TAG_MAX_CHARS, TenantDeveloperName,
    TenantName, person_name, prose, tag,
};
pub use network::Networks;
pub use page::{Page, digits};
pub use password::Password;
pub use role::Role;
pub use scope::{Scope, Scopes};
pub use timestamp::Timestamp;

/// Why a value was refused; the message is written for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}
