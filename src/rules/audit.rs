//! The audit trail: where an event came from ([`Origin`], which the edge fills and the command
//! line leaves empty, so nothing here reads the request), recording one, who may read which
//! events (an administrator their tenant's, anyone else their own), and the retention.
//!
//! Append-only: events are inserted and never changed; [`prune`] deletes only those older than
//! the retention, in bounded batches. No secret goes into an event: a key appears by its name
//! and preview, never by its value.

use std::net::IpAddr;
use std::time::Duration;

use crate::domain::{TenantId, Timestamp, UserId};
use crate::rules::RuleError;
use crate::store::{AuditEvent, AuditPage, AuditQuery, Store};

/// Where a change came from, as its audit event records it: the client's address and the
/// request's id. The server builds it from the request being served (`AppState::origin`); the
/// command line has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub address: Option<IpAddr>,
    pub request_id: Option<String>,
}

impl Origin {
    /// A change made from the command line: no address, no request.
    pub fn command_line() -> Self {
        Origin::default()
    }

    /// `event` with this origin filled in where it has none of its own.
    pub fn stamp(&self, mut event: AuditEvent) -> AuditEvent {
        if event.address.is_none() {
            event.address = self.address.map(|address| address.to_string());
        }
        if event.request_id.is_none() {
            event.request_id = self.request_id.clone().filter(|id| !id.is_empty());
        }
        event
    }
}

/// Records `event` from `origin`, and logs that it did (its action and ids, nothing secret).
pub async fn record(
    store: &dyn Store,
    origin: &Origin,
    event: AuditEvent,
) -> Result<(), RuleError> {
    let event = origin.stamp(event);
    tracing::info!(
        action = event.action,
        actor = ?event.actor,
        tenant = ?event.tenant,
        request_id = event.request_id.as_deref().unwrap_or(""),
        "audit"
    );
    store.record_audit(event).await?;
    Ok(())
}

/// Who reads the trail, and what they may see of it.
#[derive(Debug, Clone, Copy)]
pub enum Reader {
    /// An administrator of the tenant: every event of it, and their own (their sign-ins,
    /// which belong to no tenant).
    Administrator { tenant: TenantId, user: UserId },
    /// Anyone else: only what they did themselves.
    Own { user: UserId },
}

/// A page of the events `query` selects, within what `reader` may see.
pub async fn search(
    store: &dyn Store,
    reader: Reader,
    mut query: AuditQuery,
) -> Result<AuditPage, RuleError> {
    match reader {
        Reader::Administrator { tenant, user } => {
            query.tenant = Some(tenant);
            query.actor = Some(user);
        }
        Reader::Own { user } => query.actor = Some(user),
    }
    Ok(store.search_audit(&query).await?)
}

/// The user's own key events, newest first (the settings page's "Recent activity").
pub async fn recent_key_events(
    store: &dyn Store,
    user: UserId,
    limit: u32,
) -> Result<AuditPage, RuleError> {
    let query = AuditQuery {
        actor: Some(user),
        type_prefix: Some("key.".into()),
        descending: true,
        limit,
        ..AuditQuery::default()
    };
    Ok(store.search_audit(&query).await?)
}

/// How many events one pruning statement deletes at most.
pub const PRUNE_BATCH: u32 = 1_000;

/// Deletes the events older than `retention` before `now`, [`PRUNE_BATCH`] at a time while a
/// batch comes back full (so no statement holds the table long); returns how many.
pub async fn prune(
    store: &dyn Store,
    retention: Duration,
    now: Timestamp,
) -> Result<u64, RuleError> {
    let before = now.minus(retention);
    let mut pruned = 0;
    loop {
        let deleted = store.prune_audit(before, PRUNE_BATCH).await?;
        pruned += deleted;
        if deleted < u64::from(PRUNE_BATCH) {
            return Ok(pruned);
        }
        // Let other writers in between batches.
        tokio::task::yield_now().await;
    }
}
