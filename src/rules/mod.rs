//! What keys, memberships, users and sign-in may do: the rules the API, the web pages and the
//! command line all follow, in one place. Each area takes only what it needs (the store, the
//! hasher, the sealer, the reveal policy, a [`Revoker`]) in a small struct its caller builds —
//! `AppState::keys()` and friends on the server, `admin.rs` on the command line — and refuses
//! with a [`RuleError`], which the HTTP edge maps to status codes in one place
//! (`http::error`). Nothing here knows HTTP.

pub mod access;
pub mod audit;
pub mod elements;
pub mod flow_graph;
pub mod graph_edit;
pub mod image_diff;
pub mod images;
pub mod key_refusals;
pub mod keys;
pub mod leaks;
pub mod members;
pub mod packages;
pub mod references;
pub mod refusals;
pub mod run;
pub mod shares;
pub mod sign_in;
pub mod snapshots;

use async_trait::async_trait;

use crate::auth::account_throttle::AccountDelayed;
use crate::auth::throttle::Throttled;
use crate::auth::verifier::KeyVerifier;
use crate::domain::UserId;
use crate::store::StoreError;

/// Why a rule refused a change, or could not make it. The message is written for the person
/// who asked.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// The caller may not do this: not a member of the tenant, or the reveal policy says no.
    #[error("{0}")]
    NotAllowed(String),
    /// What the change names does not exist (or is not the caller's).
    #[error("{0}")]
    Missing(String),
    /// It would break a rule of the data: a name taken, a tenant's last administrator.
    #[error("{0}")]
    Conflict(String),
    /// What was sent cannot be stored as it is (an outcome pointing at no map element, a
    /// package lacking an element it refers to); the message names what is wrong.
    #[error("{0}")]
    Invalid(String),
    /// A password or a password link is wrong (it spends the address's failure budget).
    #[error("{0}")]
    WrongCredentials(String),
    /// The address has spent its failure budget.
    #[error(transparent)]
    Throttled(#[from] Throttled),
    /// The account is in its delay after failed sign-ins.
    #[error(transparent)]
    AccountDelayed(#[from] AccountDelayed),
    /// Anything else: logged, never shown.
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<StoreError> for RuleError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(message) | StoreError::Moved(message) => {
                RuleError::Conflict(message)
            }
            StoreError::Missing(message) => RuleError::Missing(message),
            StoreError::Internal(cause) => RuleError::Internal(cause),
        }
    }
}

impl From<anyhow::Error> for RuleError {
    fn from(error: anyhow::Error) -> Self {
        RuleError::Internal(error)
    }
}

/// Who makes a change, as the audit trail records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user, over the API or on the pages.
    User(UserId),
    /// The command line (`keyflow user …`): recorded with no actor (`actor_id` is NULL).
    CommandLine,
}

impl Actor {
    /// The actor as the audit record stores it.
    pub fn id(self) -> Option<UserId> {
        match self {
            Actor::User(id) => Some(id),
            Actor::CommandLine => None,
        }
    }
}

/// Whatever caches verified credentials, told when a change revoked some (a key deleted, a
/// member removed) so they fail on the very next request: the server's own key cache, or,
/// from the command line, the running server's through its control socket.
#[async_trait]
pub trait Revoker: Send + Sync {
    async fn revoke_cached(&self);
}

#[async_trait]
impl Revoker for KeyVerifier {
    async fn revoke_cached(&self) {
        self.revoke_all();
    }
}
