//! Which of a user's tenants a credential reaches. A password sign-in (behind a token or a web
//! session) covers the memberships that had begun when it happened; one that begins later —
//! an invitation accepted, the user added back after a removal — needs a new sign-in, so a
//! removal ends every earlier sign-in's reach into that tenant for good. An API key belongs to
//! one membership and is deleted with it, so it has no sign-in moment (`None`).

use std::collections::HashSet;

use crate::domain::{Role, TenantId, Timestamp, UserId};
use crate::store::{Membership, Store, StoreResult};

/// The password sign-in behind a token: when it happened, and when the lifetime it started
/// ends (a token minted from this one ends then too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignIn {
    pub at: Timestamp,
    pub until: Timestamp,
}

/// Whether a sign-in at `signed_in_at` covers a membership that began at `since`.
pub fn covers(since: Timestamp, signed_in_at: Option<Timestamp>) -> bool {
    signed_in_at.is_none_or(|at| since <= at)
}

/// The user's role in the tenant, if the credential reaches it.
pub async fn role(
    store: &dyn Store,
    user: UserId,
    tenant: TenantId,
    signed_in_at: Option<Timestamp>,
) -> StoreResult<Option<Role>> {
    Ok(store
        .role_since(user, tenant)
        .await?
        .filter(|(_, since)| covers(*since, signed_in_at))
        .map(|(role, _)| role))
}

/// The user's tenants the credential reaches, oldest membership first.
pub async fn tenants(
    store: &dyn Store,
    user: UserId,
    signed_in_at: Option<Timestamp>,
) -> StoreResult<Vec<Membership>> {
    let mut memberships = store.memberships(user).await?;
    memberships.retain(|membership| covers(membership.since, signed_in_at));
    Ok(memberships)
}

/// The ids of [`tenants`].
pub async fn tenant_ids(
    store: &dyn Store,
    user: UserId,
    signed_in_at: Option<Timestamp>,
) -> StoreResult<HashSet<TenantId>> {
    let tenants = tenants(store, user, signed_in_at).await?;
    Ok(tenants.into_iter().map(|m| m.tenant.id).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_covers_memberships_that_began_before_it() {
        let since = Timestamp::parse("2026-01-01T00:00:00.000000Z").unwrap();
        let before = Timestamp::parse("2025-12-31T23:59:59.999999Z").unwrap();
        let after = Timestamp::parse("2026-01-01T00:00:00.000001Z").unwrap();
        assert!(covers(since, Some(after)));
        assert!(covers(since, Some(since)));
        assert!(!covers(since, Some(before)));
        assert!(covers(since, None), "an API key is bound to its membership");
    }
}
