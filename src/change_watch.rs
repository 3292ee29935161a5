//! Keeps this instance's caches (verified keys, flow lists) in step with writes made by every
//! other writer of the same data: other instances on PostgreSQL, the command line on either
//! backend.
//!
//! - On PostgreSQL, a task listens for the announcements each write sends from its own
//!   transaction ([`crate::store::ChangeFeed`]) and applies each as it arrives, before this
//!   instance serves anything that the change made stale.
//! - Whenever it is not listening (SQLite, which has no announcements; or PostgreSQL while the
//!   listening connection is down), a second task polls the change counter every
//!   `--revocation-poll` (1 s by default) and drops every cache when it moved: the bound on
//!   staleness. A lost connection is made again at the same pace, and on reconnecting the
//!   counter is read at once, so nothing announced meanwhile is missed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use crate::metrics::Metrics;
use crate::state::AppState;
use crate::store::{Change, Heard};

/// What the listener and the poller share: the last counter value applied, and whether
/// announcements are being heard right now.
#[derive(Debug)]
pub struct Watch {
    seen: AtomicI64,
    listening: AtomicBool,
}

impl Watch {
    /// Starts from the counter as it is now (the caches are empty).
    pub fn from(counter: i64) -> Arc<Self> {
        Arc::new(Self {
            seen: AtomicI64::new(counter),
            listening: AtomicBool::new(false),
        })
    }
}

/// Applies one announced change to this instance's caches.
fn apply(state: &AppState, change: Change) {
    if change.revokes_credentials() {
        state.verifier.revoke_all();
    }
    if let Change::Flows { tenant } = change {
        state.flow_lists.forget(tenant);
    }
}

/// Drops every cache: for a change this instance could not hear.
fn forget_everything(state: &AppState) {
    state.verifier.revoke_all();
    state.flow_lists.forget_all();
}

/// Compares the change counter with what was applied; drops every cache when it moved.
async fn catch_up(state: &AppState, watch: &Watch) {
    match state.store.change_counter().await {
        Ok(counter) => {
            if watch.seen.fetch_max(counter, Ordering::SeqCst) < counter {
                forget_everything(state);
            }
        }
        Err(error) => tracing::warn!(error = %error, "cannot read the change counter"),
    }
}

/// Polls the change counter while nothing is heard, and forgets idle throttle entries, until
/// aborted.
pub async fn poll(state: AppState, watch: Arc<Watch>) {
    let mut ticker = tokio::time::interval(state.config.revocation_poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if !watch.listening.load(Ordering::SeqCst) {
            catch_up(&state, &watch).await;
        }
        state.throttle.forget_idle();
    }
}

/// Listens for announcements, reconnecting every poll interval while the database cannot be
/// reached, until aborted. Returns at once on a backend with nothing to hear.
pub async fn listen(state: AppState, watch: Arc<Watch>) {
    let mut ticker = tokio::time::interval(state.config.revocation_poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let mut listener = match state.store.listen().await {
            Ok(Some(listener)) => listener,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(error = %error, "cannot listen for changes; polling meanwhile");
                continue;
            }
        };
        // Listening from here on: whatever committed before is in the counter.
        watch.listening.store(true, Ordering::SeqCst);
        catch_up(&state, &watch).await;
        loop {
            match listener.next().await {
                Ok(Heard::Change(announcement)) => {
                    apply(&state, announcement.change);
                    watch.seen.fetch_max(announcement.counter, Ordering::SeqCst);
                    Metrics::bump(&state.metrics.changes_heard);
                }
                Ok(Heard::Unknown) => forget_everything(&state),
                Err(error) => {
                    // The poller takes over at once and this loop reconnects on its next tick.
                    watch.listening.store(false, Ordering::SeqCst);
                    Metrics::bump(&state.metrics.change_listener_lost);
                    tracing::warn!(error = %error, "stopped hearing changes; polling until listening again");
                    catch_up(&state, &watch).await;
                    break;
                }
            }
        }
    }
}
