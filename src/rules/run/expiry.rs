//! When a state expires, the refusal of an expired one, and the pruning of expired states.
//!
//! A flow's `stateExpirationLength` (from the start) and `idleStateExpirationLength` (from the
//! last write) are seconds; 0 (the default) or less is never. A state stores the earlier of the
//! two as `expires_at`, set at its start and at each write (so an idle expiry starts again).
//! Past it, every run endpoint answers 404 with Boomi's words ("The state with ID … has now
//! expired"), as for a state that is gone: the pruning deletes it soon anyway, and the answer
//! is then the same. [`prune`] deletes expired states [`PRUNE_BATCH`] at a time.

use std::time::Duration;

use crate::domain::flow::FlowSettings;
use crate::domain::{StateId, TenantId, Timestamp};
use crate::rules::RuleError;
use crate::store::{RunState, Store};

/// When a state of a flow with `settings`, started at `created_at` and written at `now`,
/// expires; `None`: never.
pub fn expires_at(
    settings: &FlowSettings,
    created_at: Timestamp,
    now: Timestamp,
) -> Option<Timestamp> {
    let after = |from: Timestamp, seconds: i32| {
        u64::try_from(seconds)
            .ok()
            .filter(|s| *s > 0)
            .map(|s| from.plus(Duration::from_secs(s)))
    };
    let absolute = after(created_at, settings.state_expiration_length);
    let idle = after(now, settings.idle_state_expiration_length);
    match (absolute, idle) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Whether the state has expired at `now`.
pub fn expired(state: &RunState, now: Timestamp) -> bool {
    state.expires_at.is_some_and(|at| at <= now)
}

/// The tenant's state `id`, expired or not (Missing when there is none).
pub async fn any_state(
    store: &dyn Store,
    tenant: TenantId,
    id: StateId,
) -> Result<RunState, RuleError> {
    store
        .run_state(tenant, id)
        .await?
        .ok_or_else(|| RuleError::Missing(format!("this tenant has no state {id}")))
}

/// The tenant's state `id`, unless there is none or it has expired at `now` (both Missing).
pub async fn live_state(
    store: &dyn Store,
    tenant: TenantId,
    id: StateId,
    now: Timestamp,
) -> Result<RunState, RuleError> {
    let state = any_state(store, tenant, id).await?;
    if expired(&state, now) {
        return Err(RuleError::Missing(format!(
            "The state with ID {id} has now expired"
        )));
    }
    Ok(state)
}

/// How many states one pruning statement deletes at most.
pub const PRUNE_BATCH: u32 = 1_000;

/// Deletes the states expired at `now`, [`PRUNE_BATCH`] at a time while a batch comes back
/// full (so no statement holds the table long); returns how many.
pub async fn prune(store: &dyn Store, now: Timestamp) -> Result<u64, RuleError> {
    let mut pruned = 0;
    loop {
        let deleted = store.prune_states(now, PRUNE_BATCH).await?;
        pruned += deleted;
        if deleted < u64::from(PRUNE_BATCH) {
            return Ok(pruned);
        }
        // Let other writers in between batches.
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(absolute: i32, idle: i32) -> FlowSettings {
        FlowSettings {
            state_expiration_length: absolute,
            idle_state_expiration_length: idle,
            ..FlowSettings::default()
        }
    }

    #[test]
    fn the_earlier_of_the_two_lengths_counts_and_zero_is_never() {
        let start = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        let later = start.plus(Duration::from_secs(100));
        let at = |s| Some(start.plus(Duration::from_secs(s)));
        assert_eq!(expires_at(&settings(0, 0), start, later), None);
        assert_eq!(expires_at(&settings(-5, -5), start, later), None);
        assert_eq!(expires_at(&settings(3600, 0), start, later), at(3600));
        assert_eq!(expires_at(&settings(0, 60), start, later), at(160));
        assert_eq!(expires_at(&settings(120, 60), start, later), at(120));
        assert_eq!(expires_at(&settings(3600, 60), start, later), at(160));
    }
}
