//! How long a key deleted through one instance (A) stays usable on another (B) of the same
//! PostgreSQL database. For each of N keys: create it through A, verify it on B twice (the
//! second time from B's key cache), delete it through A, then ask B again and again until it
//! refuses the key; the delay is from A's answer to the delete to B's first 401, as this client
//! sees them. Prints the distribution (milliseconds) and what B's metrics say it did.
//!
//! ```sh
//! cargo run --release --example revocation_delay -- --a http://A --b http://B --password P --keys 200
//! ```
//! (`bench/revocation_delay.sh` builds keyflow, starts both instances on a fresh database and
//! runs this.) B must allow N failed key checks from this address (`--auth-failure-burst`).
//! Exits 1 if a key is still accepted by B after `--give-up-ms`.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// The instance the keys are created and deleted through.
    #[arg(long)]
    a: String,
    /// The instance that verifies them.
    #[arg(long)]
    b: String,
    #[arg(long, default_value = "admin@example.com")]
    email: String,
    /// The administrator's password.
    #[arg(long)]
    password: String,
    /// How many keys to create, verify and delete.
    #[arg(long, default_value_t = 200)]
    keys: usize,
    /// How long B may keep accepting a deleted key before the run fails.
    #[arg(long, default_value_t = 5000)]
    give_up_ms: u64,
}

/// One instance's counters, from its /metrics.
async fn counter(client: &reqwest::Client, base: &str, name: &str) -> anyhow::Result<u64> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .with_context(|| format!("{base}/metrics has no {name}"))
}

async fn list_status(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    tenant: &str,
) -> anyhow::Result<StatusCode> {
    let answer = client
        .get(format!("{base}/api/draw/1/flow"))
        .header("x-boomi-flow-api-key", key)
        .header("manywhotenant", tenant)
        .send()
        .await?;
    let status = answer.status();
    answer.bytes().await?; // read whole, so the connection is reused
    Ok(status)
}

/// The value at quantile `q` (nearest rank) of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

const B_METRICS: [&str; 4] = [
    "keyflow_key_cache_hits_total",
    "keyflow_changes_heard_total",
    "keyflow_change_listener_lost_total",
    "keyflow_changes_caught_up_total",
];

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.keys > 0, "--keys must be at least 1");
    let client = reqwest::Client::new();
    let (a, b) = (args.a.trim_end_matches('/'), args.b.trim_end_matches('/'));

    let signed_in = client
        .post(format!("{a}/api/draw/1/authentication"))
        .json(&json!({ "username": args.email, "password": args.password }))
        .send()
        .await?;
    ensure!(
        signed_in.status() == StatusCode::OK,
        "signing in on A: {}",
        signed_in.status()
    );
    let token: String = signed_in.json().await?;
    let me: Value = client
        .get(format!("{a}/api/admin/1/users/me"))
        .header("authorization", &token)
        .send()
        .await?
        .json()
        .await?;
    let tenant = me["tenants"][0]["id"]
        .as_str()
        .context("users/me lists no tenant")?
        .to_string();

    let mut before = Vec::new();
    for name in B_METRICS {
        before.push(counter(&client, b, name).await?);
    }
    let mut delays_ms = Vec::with_capacity(args.keys);
    // How long B took to answer the request it refused: when B refuses the first request after
    // the delete, the delay is no more than that, and the change reached B before it was asked.
    let mut refusal_ms = Vec::with_capacity(args.keys);
    let mut polls = 0u64;
    let mut refused_at_once = 0usize;
    let give_up = Duration::from_millis(args.give_up_ms);
    for i in 0..args.keys {
        let name = format!("revocation-{i}");
        let created = client
            .post(format!("{a}/api/admin/1/users/me/keys"))
            .header("authorization", &token)
            .json(&json!({ "name": name, "tenantId": tenant }))
            .send()
            .await?;
        ensure!(
            created.status() == StatusCode::OK,
            "creating key {i} on A: {}",
            created.status()
        );
        let created: Value = created.json().await?;
        let key = created["apiKey"].as_str().context("no apiKey")?.to_string();
        for _ in 0..2 {
            let status = list_status(&client, b, &key, &tenant).await?;
            ensure!(
                status == StatusCode::OK,
                "key {i} on B before the delete: {status}"
            );
        }

        let deleted = client
            .delete(format!("{a}/api/admin/1/users/me/keys/{name}"))
            .header("authorization", &token)
            .send()
            .await?;
        ensure!(
            deleted.status() == StatusCode::OK,
            "deleting key {i} on A: {}",
            deleted.status()
        );
        deleted.bytes().await?;
        let answered = Instant::now();
        let mut first = true;
        loop {
            let asked = Instant::now();
            let status = list_status(&client, b, &key, &tenant).await?;
            polls += 1;
            if status == StatusCode::UNAUTHORIZED {
                delays_ms.push(answered.elapsed().as_secs_f64() * 1000.0);
                refusal_ms.push(asked.elapsed().as_secs_f64() * 1000.0);
                refused_at_once += usize::from(first);
                break;
            }
            ensure!(
                status == StatusCode::OK,
                "key {i} on B after the delete: {status}"
            );
            if answered.elapsed() > give_up {
                bail!("B still accepted key {i} {give_up:?} after A deleted it");
            }
            first = false;
        }
    }
    let mut after = Vec::new();
    for name in B_METRICS {
        after.push(counter(&client, b, name).await?);
    }

    delays_ms.sort_by(f64::total_cmp);
    refusal_ms.sort_by(f64::total_cmp);
    let n = delays_ms.len();
    let mean = delays_ms.iter().sum::<f64>() / n as f64;
    println!(
        "keys: {n}; delay from A's 200 to B's first 401 (ms): p50 {:.2}, p90 {:.2}, p99 {:.2}, max {:.2} (min {:.2}, mean {:.2})",
        quantile(&delays_ms, 0.50),
        quantile(&delays_ms, 0.90),
        quantile(&delays_ms, 0.99),
        delays_ms[n - 1],
        delays_ms[0],
        mean,
    );
    println!(
        "B refused {refused_at_once} of {n} keys on the first request after the delete ({} requests accepted a deleted key); the refused request itself took p50 {:.2}, p99 {:.2}, max {:.2} ms",
        polls - n as u64,
        quantile(&refusal_ms, 0.50),
        quantile(&refusal_ms, 0.99),
        refusal_ms[n - 1],
    );
    println!(
        "B's metrics over the run: {} key cache hits, {} changes heard, {} listener losses, {} catch-ups from the change counter",
        after[0] - before[0],
        after[1] - before[1],
        after[2] - before[2],
        after[3] - before[3],
    );
    ensure!(
        after[0] - before[0] >= n as u64,
        "B answered fewer than one request per key from its cache: the delay measured is not a cached key's"
    );
    Ok(())
}
