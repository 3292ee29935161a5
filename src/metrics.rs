//! Per-instance counters rendered as Prometheus text at `/metrics`.
//!
//! Plain atomics rather than the `metrics` crate's global recorder: each server instance (and
//! each test's server) keeps its own figures, and an increment on the hot path is one
//! relaxed atomic add.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// The counters one server keeps.
#[derive(Debug, Default)]
pub struct Metrics {
    pub http_requests: AtomicU64,
    pub key_cache_hits: AtomicU64,
    pub key_store_lookups: AtomicU64,
    pub key_checksum_rejections: AtomicU64,
    pub credential_cache_hits: AtomicU64,
    pub credential_store_lookups: AtomicU64,
    pub auth_failures: AtomicU64,
    pub throttled: AtomicU64,
    pub account_throttled: AtomicU64,
    pub shed: AtomicU64,
    pub connections_refused: AtomicU64,
    pub deadlines_missed: AtomicU64,
    pub changes_heard: AtomicU64,
    pub change_listener_lost: AtomicU64,
    pub changes_caught_up: AtomicU64,
    pub rate_limited: AtomicU64,
    pub key_usage_batches: AtomicU64,
    pub key_usage_records: AtomicU64,
    pub key_usage_dropped: AtomicU64,
}

impl Metrics {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let counters = [
            (
                "keyflow_http_requests_total",
                "HTTP requests answered",
                &self.http_requests,
            ),
            (
                "keyflow_key_cache_hits_total",
                "API keys verified from the cache",
                &self.key_cache_hits,
            ),
            (
                "keyflow_key_store_lookups_total",
                "API key digests looked up in storage",
                &self.key_store_lookups,
            ),
            (
                "keyflow_credential_cache_hits_total",
                "tokens, web sessions and their memberships verified from the cache",
                &self.credential_cache_hits,
            ),
            (
                "keyflow_credential_store_lookups_total",
                "tokens, web sessions and their memberships looked up in storage",
                &self.credential_store_lookups,
            ),
            (
                "keyflow_key_checksum_rejections_total",
                "API keys refused by format or checksum",
                &self.key_checksum_rejections,
            ),
            (
                "keyflow_auth_failures_total",
                "failed sign-ins, key and token checks",
                &self.auth_failures,
            ),
            (
                "keyflow_throttled_total",
                "answers of 429 from the failure throttle",
                &self.throttled,
            ),
            (
                "keyflow_account_throttled_total",
                "answers of 429 because an account is in its delay after failed sign-ins",
                &self.account_throttled,
            ),
            (
                "keyflow_shed_total",
                "answers of 503 because too many requests were in flight",
                &self.shed,
            ),
            (
                "keyflow_connections_refused_total",
                "connections closed at once: their address held --max-connections-per-address",
                &self.connections_refused,
            ),
            (
                "keyflow_deadlines_missed_total",
                "connections closed for a request head, and 408s for a body, that came too slowly",
                &self.deadlines_missed,
            ),
            (
                "keyflow_changes_heard_total",
                "changes announced by writers of the shared database and applied to the caches",
                &self.changes_heard,
            ),
            (
                "keyflow_change_listener_lost_total",
                "times the connection listening for changes was lost (then the counter is polled)",
                &self.change_listener_lost,
            ),
            (
                "keyflow_changes_caught_up_total",
                "times the change counter moved with nothing heard, and every cache was dropped",
                &self.changes_caught_up,
            ),
            (
                "keyflow_rate_limited_total",
                "answers of 429 because a key used up its rate limit",
                &self.rate_limited,
            ),
            (
                "keyflow_key_usage_batches_total",
                "batches of keys' last uses written to storage (each one transaction)",
                &self.key_usage_batches,
            ),
            (
                "keyflow_key_usage_records_total",
                "keys' last uses written to storage (at most one a key a minute)",
                &self.key_usage_records,
            ),
            (
                "keyflow_key_usage_dropped_total",
                "keys' last uses dropped because the usage writer's queue was full",
                &self.key_usage_dropped,
            ),
        ];
        let mut out = String::new();
        for (name, help, counter) in counters {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", counter.load(Ordering::Relaxed));
        }
        out
    }
}
