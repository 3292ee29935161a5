//! The request being served, as the code serving it sees it without having it passed down:
//! its id and the client's address, in one task-local value the request service sets.

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr};

use axum::http::HeaderValue;

use crate::auth::rate_limit::Quota;
use crate::domain::TenantId;

/// What code serving a request may ask about it without having it passed down.
pub(crate) struct Scope {
    pub(crate) id: HeaderValue,
    /// The client: the TCP peer, or what a trusted proxy says it forwards for
    /// ([`crate::http::client_address`]). Whose failure budget a refused credential spends,
    /// which networks a key is used from, and what the audit records.
    pub(crate) peer: IpAddr,
    /// The rate limit of the API key the request was authenticated with, once it is:
    /// the request service puts it in the answer's `RateLimit-*` headers.
    pub(crate) quota: Cell<Option<Quota>>,
    /// The tenant the request was authenticated for, once it is: a write's cached reads to
    /// forget (`api::cached_reads`).
    pub(crate) tenant: Cell<Option<TenantId>>,
    /// Whether what the request may have written has been forgotten from the cached reads
    /// already (by `api::cached_reads`, for a tenant's data): the request service then does
    /// not forget everything after it.
    pub(crate) reads_settled: Cell<bool>,
}

tokio::task_local! {
    pub(crate) static SCOPE: Scope;
}

/// The id of the request being served, or an empty string outside of one.
pub fn current_request_id() -> String {
    SCOPE
        .try_with(|scope| scope.id.to_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

/// The address of the client whose request is being served (`0.0.0.0` outside of one).
pub fn client_address() -> IpAddr {
    SCOPE
        .try_with(|scope| scope.peer)
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Records the quota of the request's API key, for its answer's headers.
pub(crate) fn set_quota(quota: Quota) {
    let _ = SCOPE.try_with(|scope| scope.quota.set(Some(quota)));
}

/// Records the tenant the request was authenticated for.
pub(crate) fn set_tenant(tenant: TenantId) {
    let _ = SCOPE.try_with(|scope| scope.tenant.set(Some(tenant)));
}

/// The tenant the request was authenticated for, if it was.
pub(crate) fn tenant() -> Option<TenantId> {
    SCOPE.try_with(|scope| scope.tenant.get()).ok().flatten()
}

/// Records that the request's writes have been forgotten from the cached reads.
pub(crate) fn settle_reads() {
    let _ = SCOPE.try_with(|scope| scope.reads_settled.set(true));
}
