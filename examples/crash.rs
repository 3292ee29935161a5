//! Crash safety: concurrent writers create API keys and flows while the server is killed with
//! SIGKILL at a random moment; after each restart on the same data directory, every write
//! that was answered 2xx must be there and every acknowledged key must still authenticate.
//!
//! ```sh
//! cargo build && cargo run --example crash -- --binary target/debug/keyflow --rounds 20
//! ```
//! (`bench/crash.sh` does both.) It exits 1 if anything acknowledged was lost.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::Parser;
use rand::Rng;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const PASSWORD: &str = "crash test password";
const EMAIL: &str = "admin@example.com";

#[derive(Parser)]
struct Args {
    /// The keyflow binary to run.
    #[arg(long, default_value = "target/debug/keyflow")]
    binary: PathBuf,
    /// How many times to kill and restart the server.
    #[arg(long, default_value_t = 20)]
    rounds: u32,
    /// Concurrent writers.
    #[arg(long, default_value_t = 8)]
    writers: usize,
    /// The kill comes at a random moment up to this many milliseconds into the writes.
    #[arg(long, default_value_t = 400)]
    max_kill_ms: u64,
}

/// What the server acknowledged with a 2xx.
#[derive(Default)]
struct Acknowledged {
    keys: Vec<(String, String)>,
    flows: Vec<String>,
}

struct Server {
    child: Child,
    base: String,
}

/// Starts keyflow on a free port and waits until it listens.
async fn start(binary: &Path, data_dir: &Path) -> Server {
    let mut child = Command::new(binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("KEYFLOW_ADMIN_PASSWORD", PASSWORD)
        .env("KEYFLOW_AUTH_FAILURE_BURST", "100000")
        .env("KEYFLOW_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("run keyflow");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next_line().await.unwrap().expect("keyflow exited");
        if let Some(address) = line.strip_prefix("listening on ") {
            break address.to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Server { child, base }
}

async fn sign_in(client: &reqwest::Client, base: &str) -> (String, String) {
    let token: String = client
        .post(format!("{base}/api/draw/1/authentication"))
        .json(&json!({ "username": EMAIL, "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let me: Value = client
        .get(format!("{base}/api/admin/1/users/me"))
        .header("authorization", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tenant = me["tenants"][0]["id"].as_str().unwrap().to_string();
    (token, tenant)
}

/// Creates keys and flows until the server goes away; records what it acknowledged.
async fn write_until_killed(
    client: reqwest::Client,
    base: String,
    token: String,
    tenant: String,
    label: String,
    acknowledged: Arc<Mutex<Acknowledged>>,
) {
    for i in 0.. {
        let name = format!("{label}-{i}");
        let key = client
            .post(format!("{base}/api/admin/1/users/me/keys"))
            .header("authorization", &token)
            .json(&json!({ "name": name, "tenantId": tenant }))
            .send()
            .await;
        let Ok(key) = key else { return };
        if key.status().is_success() {
            let Ok(body) = key.json::<Value>().await else {
                return;
            };
            let value = body["apiKey"].as_str().unwrap().to_string();
            acknowledged
                .lock()
                .unwrap()
                .keys
                .push((name.clone(), value));
        }
        let flow = client
            .post(format!("{base}/api/draw/1/flow"))
            .header("authorization", &token)
            .json(&json!({ "developerName": name }))
            .send()
            .await;
        let Ok(flow) = flow else { return };
        if flow.status().is_success() {
            let Ok(body) = flow.json::<Value>().await else {
                return;
            };
            let id = body["id"]["id"].as_str().unwrap().to_string();
            acknowledged.lock().unwrap().flows.push(id);
        }
    }
}

/// What of the acknowledged writes is missing after the restart.
async fn missing(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    tenant: &str,
    acknowledged: &Acknowledged,
) -> Vec<String> {
    let mut lost = Vec::new();
    let flows: Value = client
        .get(format!("{base}/api/draw/1/flow"))
        .header("authorization", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let present: std::collections::HashSet<&str> = flows
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|flow| flow["id"]["id"].as_str())
        .collect();
    for id in &acknowledged.flows {
        if !present.contains(id.as_str()) {
            lost.push(format!("flow {id}"));
        }
    }
    for (name, value) in &acknowledged.keys {
        let answer = client
            .get(format!("{base}/api/draw/1/flow"))
            .header("x-boomi-flow-api-key", value)
            .header("manywhotenant", tenant)
            .send()
            .await
            .unwrap();
        if answer.status() != reqwest::StatusCode::OK {
            lost.push(format!("key {name} ({})", answer.status()));
        }
    }
    lost
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data_dir = dir.path().join("data");
    let client = reqwest::Client::new();
    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let mut rng = rand::thread_rng();
    let mut server = start(&args.binary, &data_dir).await;
    for round in 1..=args.rounds {
        let (token, tenant) = sign_in(&client, &server.base).await;
        let writers: Vec<_> = (0..args.writers)
            .map(|w| {
                tokio::spawn(write_until_killed(
                    client.clone(),
                    server.base.clone(),
                    token.clone(),
                    tenant.clone(),
                    format!("r{round}-w{w}"),
                    acknowledged.clone(),
                ))
            })
            .collect();
        let after = rng.gen_range(10..=args.max_kill_ms.max(10));
        tokio::time::sleep(Duration::from_millis(after)).await;
        server.child.start_kill().expect("SIGKILL the server");
        server.child.wait().await.unwrap();
        for writer in writers {
            writer.await.unwrap();
        }

        // The restarted server is checked, then takes the next round's writes.
        server = start(&args.binary, &data_dir).await;
        let (token, tenant) = sign_in(&client, &server.base).await;
        let so_far = {
            let guard = acknowledged.lock().unwrap();
            Acknowledged {
                keys: guard.keys.clone(),
                flows: guard.flows.clone(),
            }
        };
        let lost = missing(&client, &server.base, &token, &tenant, &so_far).await;
        println!(
            "round {round}: killed after {after} ms; {} keys and {} flows acknowledged so far; {} lost",
            so_far.keys.len(),
            so_far.flows.len(),
            lost.len()
        );
        if !lost.is_empty() {
            eprintln!("lost after round {round}: {lost:#?}");
            std::process::exit(1);
        }
    }
    server.child.kill().await.expect("stop the server");
    let acknowledged = acknowledged.lock().unwrap();
    println!(
        "crash safety: {} rounds of SIGKILL, {} keys and {} flows acknowledged, 0 lost",
        args.rounds,
        acknowledged.keys.len(),
        acknowledged.flows.len()
    );
}
