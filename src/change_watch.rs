//! Keeps this instance's caches (verified keys, tokens and web sessions, answers to reads) in step with writes made by every
//! other writer of the same data: other instances on PostgreSQL, the command line on either
//! backend.
//!
//! - On PostgreSQL, a task listens for the announcements each write sends from its own
//!   transaction ([`crate::store::ChangeFeed`]) and applies each as it arrives, before this
//!   instance serves anything that the change made stale.
//! - A second task reads the change counter every `--revocation-poll-ms` (1 s by default). When it
//!   moved past what was applied, and nothing is listening (SQLite; PostgreSQL while the
//!   listening connection is down), every cache is dropped: the bound on staleness. When the
//!   listener should have heard it but has not after a short grace, the listening connection is
//!   taken to be silently dead (a network that drops packets without a reset): every cache is
//!   dropped and the listener made to connect again.
//! - A lost listener connects again after one poll interval, and reads the counter once it
//!   listens, so nothing announced meanwhile is missed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::metrics::Metrics;
use crate::state::AppState;
use crate::store::{Change, Heard};

/// How long an announcement may take to arrive after its write is visible in the counter
/// before the listener is taken to be dead. PostgreSQL delivers at commit, so a live listener
/// hears it within milliseconds.
const GRACE: Duration = Duration::from_millis(250);

/// What the listener and the poller share.
#[derive(Debug)]
pub struct Watch {
    /// The highest counter value whose change has been applied.
    seen: AtomicI64,
    /// Whether announcements are being heard right now.
    listening: AtomicBool,
    /// Rung by the poller when the listener has gone silent: connect again.
    reconnect: Notify,
}

impl Watch {
    /// Starts from the counter as it is now (the caches are empty).
    pub fn from(counter: i64) -> Arc<Self> {
        Arc::new(Self {
            seen: AtomicI64::new(counter),
            listening: AtomicBool::new(false),
            reconnect: Notify::new(),
        })
    }
}

/// Applies one announced change to this instance's caches.
fn apply(state: &AppState, change: Change) {
    if change.revokes_keys() {
        // Keys, and the sign-ins' grants with them.
        state.verifier.revoke_all();
    } else if change.revokes_credentials() {
        state.verifier.credentials().forget_all();
    }
    // What each change makes stale among the cached reads (`read_cache`): a flow or element
    // write, its tenant's; anything about people, also every answer that depends on who asks;
    // names and passwords, shown or checked in every tenant, everything.
    match change {
        Change::Flows { tenant } => state.reads.forget_tenant(tenant),
        Change::Keys { tenant }
        | Change::Members { tenant }
        | Change::Tenant { tenant }
        | Change::People { tenant } => state.reads.forget_people(Some(tenant)),
        Change::Usage => state.reads.forget_key_use(),
        Change::Names | Change::Credentials => state.reads.forget_all(),
    }
}

/// Drops every cache: for changes this instance could not hear or read.
fn forget_everything(state: &AppState) {
    state.verifier.revoke_all();
    state.reads.forget_all();
}

/// Drops every cache for changes up to `counter` that were not heard.
fn catch_up_to(state: &AppState, watch: &Watch, counter: i64) {
    if watch.seen.fetch_max(counter, Ordering::SeqCst) < counter {
        forget_everything(state);
        Metrics::bump(&state.metrics.changes_caught_up);
    }
}

/// Reads the counter and catches up to it.
async fn catch_up(state: &AppState, watch: &Watch) {
    match state.store.change_counter().await {
        Ok(counter) => catch_up_to(state, watch, counter),
        Err(error) => tracing::warn!(error = %error, "cannot read the change counter"),
    }
}

/// Reads the change counter every poll interval and catches up when nothing heard the change
/// (see the module's documentation); forgets idle throttle entries. Runs until aborted.
pub async fn poll(state: AppState, watch: Arc<Watch>) {
    let mut ticker = tokio::time::interval(state.config.revocation_poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        state.throttle.forget_idle();
        state.leak_throttle.forget_idle();
        state.anonymous_starts.forget_idle();
        let counter = match state.store.change_counter().await {
            Ok(counter) => counter,
            Err(error) => {
                tracing::warn!(error = %error, "cannot read the change counter");
                continue;
            }
        };
        if counter <= watch.seen.load(Ordering::SeqCst) {
            continue;
        }
        if watch.listening.load(Ordering::SeqCst) {
            tokio::time::sleep(GRACE.min(state.config.revocation_poll)).await;
            if counter <= watch.seen.load(Ordering::SeqCst) {
                continue; // heard meanwhile
            }
            tracing::warn!("the listening connection stopped delivering changes; connecting again");
            Metrics::bump(&state.metrics.change_listener_lost);
            watch.listening.store(false, Ordering::SeqCst);
            watch.reconnect.notify_one();
        }
        catch_up_to(&state, &watch, counter);
    }
}

/// Listens for announcements, connecting again one poll interval after the connection is lost
/// (or has gone silent), until aborted. Returns at once on a backend with nothing to hear.
pub async fn listen(state: AppState, watch: Arc<Watch>) {
    loop {
        let mut listener = match state.store.listen().await {
            Ok(Some(listener)) => listener,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(error = %error, "cannot listen for changes; polling meanwhile");
                tokio::time::sleep(state.config.revocation_poll).await;
                continue;
            }
        };
        // Listening from here on: whatever committed before is in the counter.
        watch.listening.store(true, Ordering::SeqCst);
        catch_up(&state, &watch).await;
        loop {
            let heard = tokio::select! {
                heard = listener.next() => heard,
                () = watch.reconnect.notified() => break,
            };
            match heard {
                Ok(Heard::Change(announcement)) => {
                    apply(&state, announcement.change);
                    watch.seen.fetch_max(announcement.counter, Ordering::SeqCst);
                    Metrics::bump(&state.metrics.changes_heard);
                }
                Ok(Heard::Unknown) => forget_everything(&state),
                Err(error) => {
                    watch.listening.store(false, Ordering::SeqCst);
                    Metrics::bump(&state.metrics.change_listener_lost);
                    tracing::warn!(error = %error, "stopped hearing changes; polling until listening again");
                    catch_up(&state, &watch).await;
                    break;
                }
            }
        }
        drop(listener);
        tokio::time::sleep(state.config.revocation_poll).await;
    }
}
