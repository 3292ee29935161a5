//! Per-instance counters, the gauges its caller reads at a scrape, and the requests' latency
//! histogram, rendered as Prometheus text at `/metrics`.
//!
//! Plain atomics rather than the `metrics` crate's global recorder: each server instance (and
//! each test's server) keeps its own figures, and an increment on the hot path is one
//! relaxed atomic add.

use std::fmt::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The counters one server keeps.
#[derive(Debug, Default)]
pub struct Metrics {
    pub http_requests: AtomicU64,
    pub key_cache_hits: AtomicU64,
    pub key_store_lookups: AtomicU64,
    pub key_checksum_rejections: AtomicU64,
    pub credential_cache_hits: AtomicU64,
    pub credential_store_lookups: AtomicU64,
    pub read_cache_hits: AtomicU64,
    pub page_sends: AtomicU64,
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
    /// `keyflow_http_request_duration_seconds`, by route template and status class.
    pub latency: Latency,
}

impl Metrics {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of every counter, then of `gauges` (figures read at
    /// the scrape, such as the caches' sizes, which the caller owns), then the histogram.
    pub fn render(&self, gauges: &[Gauge]) -> String {
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
                "keyflow_read_cache_hits_total",
                "authenticated reads answered from the read cache (no query, no encoding)",
                &self.read_cache_hits,
            ),
            (
                "keyflow_page_sends_total",
                "writes of a large cached answer's body from the page cache with sendfile (not copied)",
                &self.page_sends,
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
        for gauge in gauges {
            let Gauge { name, help, value } = gauge;
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {value}");
        }
        self.latency.render(&mut out);
        out
    }
}

/// A figure read when `/metrics` is scraped rather than counted as it happens.
#[derive(Debug, Clone, Copy)]
pub struct Gauge {
    pub name: &'static str,
    pub help: &'static str,
    pub value: u64,
}

/// The histogram's upper bounds, in seconds (Prometheus's `le`; `+Inf` follows).
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The same bounds in nanoseconds, for the hot path's comparisons.
const BUCKET_NANOS: [u64; 14] = [
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// The status classes, by the status's first digit (1 to 5).
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The label of requests that matched no route (the router's fallback): a raw path never
/// becomes a label, so the series stay as many as the routes.
pub const UNMATCHED: &str = "unmatched";

/// One series: the answers of one route in one status class.
#[derive(Debug, Default)]
struct Series {
    /// Answers per bucket, not cumulative (one add per answer; summed when rendered); the
    /// last is past every bound.
    buckets: [AtomicU64; 15],
    sum_nanos: AtomicU64,
}

/// What the histogram holds once its routes are known.
#[derive(Debug)]
struct Table {
    routes: Box<[&'static str]>,
    /// `routes.len() × CLASSES.len()` series, route-major.
    series: Box<[Series]>,
}

/// The latency of the answers, by route template and status class: every series made at
/// start ([`Latency::set_routes`]), so recording an answer is a bucket search over 14
/// integers and two relaxed atomic adds, with no allocation, lock or lookup by name. Only the
/// series that saw an answer are rendered.
#[derive(Debug, Default)]
pub struct Latency {
    table: OnceLock<Table>,
}

impl Latency {
    /// Makes the series of `routes` (their order is the index [`Latency::observe`] takes;
    /// the caller puts [`UNMATCHED`] among them). The first call wins; answers observed before
    /// it are not counted.
    pub fn set_routes(&self, routes: Vec<&'static str>) {
        let series = (0..routes.len() * CLASSES.len())
            .map(|_| Series::default())
            .collect();
        let _ = self.table.set(Table {
            routes: routes.into_boxed_slice(),
            series,
        });
    }

    /// Counts one answer of the route at `route` with `status`, that took `elapsed`.
    pub fn observe(&self, route: usize, status: u16, elapsed: Duration) {
        let Some(table) = self.table.get() else {
            return;
        };
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        let Some(series) = table.series.get(route * CLASSES.len() + class) else {
            return;
        };
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKET_NANOS.partition_point(|&bound| bound < nanos);
        series.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        series.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String) {
        const NAME: &str = "keyflow_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {NAME} time from a request's head to its answer's head, by route template \
             and status class"
        );
        let _ = writeln!(out, "# TYPE {NAME} histogram");
        let Some(table) = self.table.get() else {
            return;
        };
        for (index, series) in table.series.iter().enumerate() {
            let counts: Vec<u64> = series
                .buckets
                .iter()
                .map(|count| count.load(Ordering::Relaxed))
                .collect();
            let total: u64 = counts.iter().sum();
            if total == 0 {
                continue;
            }
            let route = table.routes[index / CLASSES.len()];
            let labels = format!(
                "route=\"{}\",status=\"{}\"",
                escaped(route),
                CLASSES[index % CLASSES.len()]
            );
            let mut cumulative = 0;
            for (bound, count) in LATENCY_BUCKETS.iter().zip(&counts) {
                cumulative += count;
                let _ = writeln!(out, "{NAME}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
            }
            let _ = writeln!(out, "{NAME}_bucket{{{labels},le=\"+Inf\"}} {total}");
            let sum = series.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "{NAME}_sum{{{labels}}} {sum}");
            let _ = writeln!(out, "{NAME}_count{{{labels}}} {total}");
        }
    }
}

/// A label value as Prometheus's text format writes it.
fn escaped(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_lands_in_its_bucket_route_and_class_and_the_buckets_are_cumulative() {
        let latency = Latency::default();
        latency.observe(0, 200, Duration::from_millis(1)); // before the routes: not counted
        latency.set_routes(vec![UNMATCHED, "/api/admin/1/users/{id}"]);
        latency.observe(1, 200, Duration::from_micros(700));
        latency.observe(1, 204, Duration::from_millis(1)); // a bound is inclusive
        latency.observe(1, 404, Duration::from_secs(60));
        latency.observe(0, 404, Duration::from_micros(10));
        let mut out = String::new();
        latency.render(&mut out);
        let route = r#"route="/api/admin/1/users/{id}""#;
        for line in [
            format!(r#"_bucket{{{route},status="2xx",le="0.0005"}} 0"#),
            format!(r#"_bucket{{{route},status="2xx",le="0.001"}} 2"#),
            format!(r#"_bucket{{{route},status="2xx",le="10"}} 2"#),
            format!(r#"_bucket{{{route},status="2xx",le="+Inf"}} 2"#),
            format!(r#"_count{{{route},status="2xx"}} 2"#),
            format!(r#"_sum{{{route},status="2xx"}} 0.0017"#),
            format!(r#"_bucket{{{route},status="4xx",le="10"}} 0"#),
            format!(r#"_bucket{{{route},status="4xx",le="+Inf"}} 1"#),
            r#"_bucket{route="unmatched",status="4xx",le="0.0005"} 1"#.to_string(),
        ] {
            let line = format!("keyflow_http_request_duration_seconds{line}\n");
            assert!(out.contains(&line), "{line} not in:\n{out}");
        }
        assert!(
            !out.contains("5xx"),
            "a series with no answer is not rendered"
        );
        assert_eq!(escaped("a\"b\\c"), "a\\\"b\\\\c");
    }
}
