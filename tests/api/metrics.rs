//! `/metrics`: every counter is there, and each counts what its name says and nothing else;
//! the caches' gauges show what they hold; the latency histogram counts each answer under its
//! route's template and status class.

use std::collections::BTreeMap;

use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, assert_json, assert_unauthorized, both_backends};

both_backends! {
    every_counter_counts_what_it_names,
    an_account_in_its_delay_counts_apart_from_the_address,
    each_answer_is_timed_under_its_route_template_and_status_class,
    the_gauges_show_what_the_caches_hold_within_their_bound,
}

const REQUESTS: &str = "keyflow_http_requests_total";
const CACHE_HITS: &str = "keyflow_key_cache_hits_total";
const LOOKUPS: &str = "keyflow_key_store_lookups_total";
/// Moved by tokens (and web sessions, and the memberships tokens reach): a first use asks
/// storage, a later one is answered from the cache.
const CREDENTIAL_HITS: &str = "keyflow_credential_cache_hits_total";
const CREDENTIAL_LOOKUPS: &str = "keyflow_credential_store_lookups_total";
/// Moved by a cached read answered from memory (not by one refused there).
const READ_HITS: &str = "keyflow_read_cache_hits_total";
/// Moved by a cached answer of 8 KiB or more, sent from the page cache: none here.
const PAGE_SENDS: &str = "keyflow_page_sends_total";
const CHECKSUM_REJECTIONS: &str = "keyflow_key_checksum_rejections_total";
const AUTH_FAILURES: &str = "keyflow_auth_failures_total";
const THROTTLED: &str = "keyflow_throttled_total";
const ACCOUNT_THROTTLED: &str = "keyflow_account_throttled_total";
/// Moved by requests beyond `--max-in-flight`: `overload.rs` holds requests in flight to
/// count it exactly.
const SHED: &str = "keyflow_shed_total";
/// Moved by connections past `--max-connections-per-address` and by missed head and body
/// deadlines: `hostile::slow_clients` counts them exactly.
const CONNECTIONS_REFUSED: &str = "keyflow_connections_refused_total";
const DEADLINES_MISSED: &str = "keyflow_deadlines_missed_total";
/// Moved on PostgreSQL only, by announced writes (revocations, flows) and a lost listening
/// connection: none happens here, so they stay still on either backend.
const CHANGES_HEARD: &str = "keyflow_changes_heard_total";
const CHANGE_LISTENER_LOST: &str = "keyflow_change_listener_lost_total";
const CHANGES_CAUGHT_UP: &str = "keyflow_changes_caught_up_total";
const RATE_LIMITED: &str = "keyflow_rate_limited_total";
/// Moved behind the hot path by a key's first use in a minute (polled for below).
const USAGE_BATCHES: &str = "keyflow_key_usage_batches_total";
const USAGE_RECORDS: &str = "keyflow_key_usage_records_total";
/// Moved only when the usage writer's queue is full: never here.
const USAGE_DROPPED: &str = "keyflow_key_usage_dropped_total";

/// On PostgreSQL, waits until this instance has heard the `count` announcements its own writes
/// since `seen` made (a new key, a batch of key uses: the cached reads show them), and returns
/// the scrapes that took, each a request; on SQLite nothing is announced: `(0, 0)`.
async fn hear(app: &TestApp, seen: &BTreeMap<String, u64>, count: u64) -> (u64, u64) {
    if app.backend() != Backend::Postgres {
        return (0, 0);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut polls = 0;
    loop {
        polls += 1;
        let heard = app.metric(CHANGES_HEARD).await;
        if heard >= seen[CHANGES_HEARD] + count || std::time::Instant::now() > deadline {
            return (count, polls);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The gauges `/metrics` shows: figures of the moment, which move with the caches.
const GAUGES: [&str; 4] = [
    "keyflow_key_cache_entries",
    "keyflow_read_cache_bytes",
    "keyflow_read_cache_capacity_bytes",
    "keyflow_read_cache_entries",
];

/// Every counter `/metrics` shows, by name (not the gauges or the histogram).
async fn counters(app: &TestApp) -> BTreeMap<String, u64> {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with(LATENCY))
        .filter(|line| {
            !GAUGES
                .iter()
                .any(|gauge| line.starts_with(&format!("{gauge} ")))
        })
        .map(|line| {
            let (name, value) = line.split_once(' ').expect("a name and a value");
            (name.to_string(), value.parse().expect("a whole number"))
        })
        .collect()
}

/// The counters since `before`: `requests` requests more (and this scrape), `changed` moved
/// by as much as it says, every other counter still.
async fn expect_counts(
    app: &TestApp,
    before: &mut BTreeMap<String, u64>,
    requests: u64,
    changed: &[(&str, u64)],
) {
    let after = counters(app).await;
    for (name, value) in &after {
        let by = if name == REQUESTS {
            requests + 1
        } else {
            changed.iter().find(|(n, _)| n == name).map_or(0, |c| c.1)
        };
        assert_eq!(*value, before[name] + by, "{name} after {changed:?}");
    }
    *before = after;
}

async fn every_counter_counts_what_it_names() {
    let app = TestApp::spawn_with(|config| {
        config.auth_failure_burst = 2;
        // Two requests at once a key, then one a second: the third one at once is refused.
        config.key_requests_per_second = 1;
        config.key_burst = 2;
    })
    .await;
    let mut seen = counters(&app).await;
    let names: Vec<&str> = seen.keys().map(String::as_str).collect();
    let mut expected = [
        REQUESTS,
        CACHE_HITS,
        LOOKUPS,
        CREDENTIAL_HITS,
        CREDENTIAL_LOOKUPS,
        READ_HITS,
        PAGE_SENDS,
        CHECKSUM_REJECTIONS,
        AUTH_FAILURES,
        THROTTLED,
        ACCOUNT_THROTTLED,
        SHED,
        CONNECTIONS_REFUSED,
        DEADLINES_MISSED,
        CHANGES_HEARD,
        CHANGE_LISTENER_LOST,
        CHANGES_CAUGHT_UP,
        RATE_LIMITED,
        USAGE_BATCHES,
        USAGE_RECORDS,
        USAGE_DROPPED,
    ];
    expected.sort_unstable();
    assert_eq!(names, expected, "the counters /metrics shows");

    // A sign-in and a new key: requests, and on PostgreSQL the key's announcement heard; the
    // token and the membership it reaches are looked up in storage, once each; their next use
    // is answered from the cache.
    let token = app.admin_token().await;
    let key = app.new_key_for(&token, "counted", &app.tenant_id).await;
    let (heard, polls) = hear(&app, &seen, 1).await;
    expect_counts(
        &app,
        &mut seen,
        2 + polls,
        &[(CHANGES_HEARD, heard), (CREDENTIAL_LOOKUPS, 2)],
    )
    .await;
    app.me(&token).await;
    expect_counts(&app, &mut seen, 1, &[(CREDENTIAL_HITS, 2)]).await;

    // A key's first use asks storage, and its use is written behind it, once this minute;
    // the next one is answered from the cache; the third at once is past the key's limit.
    assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await;
    assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await;
    let limited = app.list_flows(Some(&key), None).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    // The write comes behind the answer: polled (each poll a request of its own).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut polls = 0;
    loop {
        polls += 1;
        let written = app.metric(USAGE_RECORDS).await > seen[USAGE_RECORDS];
        if written || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // The batch is announced (the key list shows it): heard on PostgreSQL.
    let (heard, heard_polls) = hear(&app, &seen, 1).await;
    let moved = [
        (LOOKUPS, 1),
        (CACHE_HITS, 2),
        (READ_HITS, 1),
        (RATE_LIMITED, 1),
        (USAGE_BATCHES, 1),
        (USAGE_RECORDS, 1),
        (CHANGES_HEARD, heard),
    ];
    expect_counts(&app, &mut seen, 3 + polls + heard_polls, &moved).await;

    // A mistyped key: refused by its checksum, and a failure of the address.
    let last = if key.ends_with('x') { 'y' } else { 'x' };
    let typo = format!("{}{last}", &key[..key.len() - 1]);
    assert_unauthorized(app.list_flows(Some(&typo), None).await).await;
    expect_counts(
        &app,
        &mut seen,
        1,
        &[(CHECKSUM_REJECTIONS, 1), (AUTH_FAILURES, 1)],
    )
    .await;

    // The budget of two failures: the second wrong password spends it and is throttled,
    // and so is the right key after it.
    let wrong = app.try_login(&app.admin_email, "not the password").await;
    assert_unauthorized(wrong).await;
    expect_counts(&app, &mut seen, 1, &[(AUTH_FAILURES, 1)]).await;
    let wrong = app.try_login(&app.admin_email, "not the password").await;
    assert_eq!(wrong.status(), StatusCode::TOO_MANY_REQUESTS);
    expect_counts(&app, &mut seen, 1, &[(AUTH_FAILURES, 1), (THROTTLED, 1)]).await;
    let blocked = app.list_flows(Some(&key), None).await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    expect_counts(&app, &mut seen, 1, &[(THROTTLED, 1)]).await;
}

/// An account past its own budget is refused by `keyflow_account_throttled_total`, not by the
/// address's counter (the address here has budget to spare).
async fn the_gauges_show_what_the_caches_hold_within_their_bound() {
    let bound = 3 << 20;
    let app = TestApp::spawn_with(|config| config.read_cache_bytes = bound).await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for gauge in GAUGES {
        assert!(
            text.contains(&format!("# TYPE {gauge} gauge\n")),
            "{gauge} is a gauge:\n{text}"
        );
    }
    assert_eq!(app.metric("keyflow_read_cache_capacity_bytes").await, bound);
    let (entries, bytes) = (
        app.metric("keyflow_read_cache_entries").await,
        app.metric("keyflow_read_cache_bytes").await,
    );
    let keys = app.metric("keyflow_key_cache_entries").await;
    // A key's first read caches its grant and the tenant's list.
    let token = app.admin_token().await;
    let key = app.new_key_for(&token, "gauged", &app.tenant_id).await;
    let list = assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await;
    let size = list.to_string().len() as u64;
    assert_eq!(app.metric("keyflow_read_cache_entries").await, entries + 1);
    let grown = app.metric("keyflow_read_cache_bytes").await - bytes;
    assert!(
        grown > size && grown < size + 4096,
        "a list of {size} bytes weighs {grown} with its headers"
    );
    assert_eq!(app.metric("keyflow_key_cache_entries").await, keys + 1);
}

async fn an_account_in_its_delay_counts_apart_from_the_address() {
    let app = TestApp::spawn_with(|config| {
        config.auth_failure_burst = 100;
        config.account_failure_burst = 1;
        config.account_failure_first_delay = std::time::Duration::from_secs(3600);
    })
    .await;
    let mut seen = counters(&app).await;
    let mut failures = 0;
    loop {
        let wrong = app.try_login(&app.admin_email, "not the password").await;
        if wrong.status() == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_unauthorized(wrong).await;
        failures += 1;
        assert!(failures <= 3, "no delay after {failures} failures");
    }
    expect_counts(
        &app,
        &mut seen,
        failures + 1,
        &[(AUTH_FAILURES, failures), (ACCOUNT_THROTTLED, 1)],
    )
    .await;
}

const LATENCY: &str = "keyflow_http_request_duration_seconds";

/// The histogram's samples, by series (name and labels), from one scrape.
async fn latency(app: &TestApp) -> BTreeMap<String, f64> {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = response.text().await.unwrap();
    text.lines()
        .filter(|line| line.starts_with(LATENCY))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a series and a value");
            (series.to_string(), value.parse().expect("a number"))
        })
        .collect()
}

/// How many answers the series of `route` and `class` counts (0 when it has none yet).
fn count(samples: &BTreeMap<String, f64>, route: &str, class: &str) -> f64 {
    let series = format!("{LATENCY}_count{{route=\"{route}\",status=\"{class}\"}}");
    samples.get(&series).copied().unwrap_or(0.0)
}

async fn each_answer_is_timed_under_its_route_template_and_status_class() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let key = app.new_key_for(&token, "timed", &app.tenant_id).await;
    let me = app.me(&token).await;
    let id = me["id"].as_str().unwrap().to_string();
    let before = latency(&app).await;

    // A user by id, twice: one series under the template, whatever the id.
    for _ in 0..2 {
        let path = format!("/api/admin/1/users/{id}");
        let response = app
            .with_token(reqwest::Method::GET, &path, &token)
            .header(crate::helpers::TENANT_HEADER, &app.tenant_id)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    // Another id, not found: the same template, another class.
    let missing = format!("/api/admin/1/users/{}", uuid::Uuid::new_v4());
    let response = app
        .with_token(reqwest::Method::GET, &missing, &token)
        .header(crate::helpers::TENANT_HEADER, &app.tenant_id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // The flow list, twice with one key: the second is the early answer, before routing.
    for _ in 0..2 {
        assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await;
    }
    // A page, a path under /api/ that is no endpoint, and one outside it.
    let page = app.client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let unknown = app
        .with_token(reqwest::Method::GET, "/api/no/such/thing", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let outside = app
        .client
        .get(app.url("/no-such-page"))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), StatusCode::NOT_FOUND);

    let after = latency(&app).await;
    let moved =
        |route: &str, class: &str| count(&after, route, class) - count(&before, route, class);
    assert_eq!(moved("/api/admin/1/users/{id}", "2xx"), 2.0);
    assert_eq!(moved("/api/admin/1/users/{id}", "4xx"), 1.0);
    assert_eq!(
        moved("/api/draw/1/flow", "2xx"),
        2.0,
        "the early answer is timed too"
    );
    assert_eq!(moved("/login", "2xx"), 1.0);
    assert_eq!(moved("/api/{*rest}", "4xx"), 1.0);
    assert_eq!(moved("unmatched", "4xx"), 1.0);
    let series: Vec<&String> = after.keys().collect();
    assert!(
        !series
            .iter()
            .any(|s| s.contains(&id) || s.contains("no-such")),
        "a raw path became a label: {series:?}"
    );
    // The answers are in the series' buckets: the +Inf bucket counts each, and the buckets
    // never decrease.
    let route = r#"route="/api/admin/1/users/{id}",status="2xx""#;
    let inf = format!(r#"{LATENCY}_bucket{{{route},le="+Inf"}}"#);
    assert_eq!(after[&inf], count(&after, "/api/admin/1/users/{id}", "2xx"));
    let buckets: Vec<f64> = after
        .iter()
        .filter(|(series, _)| series.starts_with(&format!("{LATENCY}_bucket{{{route},")))
        .map(|(_, value)| *value)
        .collect();
    assert_eq!(buckets.len(), 15, "14 bounds and +Inf");
    let largest = buckets.iter().copied().fold(0.0, f64::max);
    assert_eq!(largest, after[&inf]);
    let sum = format!("{LATENCY}_sum{{{route}}}");
    assert!(after[&sum] > 0.0, "the time is summed");
}
