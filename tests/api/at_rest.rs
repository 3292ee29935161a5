//! What the data directory and the logs hold: never a key (nor a sharing token), secrets
//! private, paths without their queries, and a restart that keeps every key working.
//! [`ServeProcess`] and [`Remote`] run `keyflow serve` as a subprocess and talk to it
//! (`lifecycle.rs` uses them too).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyflow::config::RevealPolicy;
use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::helpers::{TestApp, assert_json, clean_env, enc, flow_names};

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// The files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let needle = needle.as_bytes();
    files_under(dir)
        .into_iter()
        .filter(|path| {
            let bytes = std::fs::read(path).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .collect()
}

/// Creates keys named `{prefix}-0..3`, uses each once, and returns their values.
async fn make_and_use_keys(app: &TestApp, token: &str, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for i in 0..3 {
        let key = app
            .new_key_for(token, &format!("{prefix}-{i}"), &app.tenant_id)
            .await;
        assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await;
        keys.push(key);
    }
    keys
}

#[tokio::test]
async fn no_file_in_the_data_dir_holds_a_key_or_a_secret_in_clear() {
    for list in [true, false] {
        let app = TestApp::spawn_with(|cfg| {
            cfg.key_reveal = if list {
                RevealPolicy::List
            } else {
                RevealPolicy::OnDemand
            }
        })
        .await;
        let token = app.admin_token().await;
        let keys = make_and_use_keys(&app, &token, "at-rest-name").await;
        app.key_list(&token).await;
        let reveal = "/api/admin/1/users/me/keys/at-rest-name-0/reveal";
        app.with_token(reqwest::Method::POST, reveal, &token)
            .send()
            .await
            .unwrap();

        // The scan sees the database, write-ahead log included: the names are there.
        assert!(!files_containing(app.data_dir(), "at-rest-name-2").is_empty());
        for secret in keys.iter().chain([&token, &app.admin_password]) {
            let leaks = files_containing(app.data_dir(), secret);
            assert!(leaks.is_empty(), "{secret} is stored in clear in {leaks:?}");
        }
    }
}

#[tokio::test]
async fn generated_secrets_are_readable_by_the_owner_only() {
    let app = TestApp::spawn().await;
    let secrets: Vec<PathBuf> = files_under(app.data_dir())
        .into_iter()
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy().to_lowercase();
            name.contains("pepper") || name.contains("master")
        })
        .collect();
    assert!(
        !secrets.is_empty(),
        "no pepper or master key file in {:?}",
        files_under(app.data_dir())
    );
    for path in secrets {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{path:?} has mode {mode:o}");
    }
}

#[tokio::test]
async fn the_control_socket_is_the_owners_alone() {
    let app = TestApp::spawn().await;
    let socket = app.data_dir().join("keyflow.sock");
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{socket:?} has mode {mode:o}");
}

const EMAIL: &str = "root@keyflow.test";
const PASSWORD: &str = "a password for the subprocess";
/// A bound for a server that never answers, so a broken build fails instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// `keyflow serve` as a subprocess, its output collected as it comes.
pub struct ServeProcess {
    child: Child,
    pub address: String,
    /// What stdout printed before `listening on`.
    banner: String,
    output: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

/// Appends each line of `stream` to `output`, and sends stdout's lines to `lines`.
fn collect(
    stream: impl AsyncRead + Unpin + Send + 'static,
    output: Arc<Mutex<String>>,
    lines: Option<tokio::sync::mpsc::UnboundedSender<String>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        // Bytes, not text: a line that is not UTF-8 must not end the collection early.
        let mut reader = BufReader::new(stream);
        let mut raw = Vec::new();
        while matches!(reader.read_until(b'\n', &mut raw).await, Ok(n) if n > 0) {
            let line = String::from_utf8_lossy(&raw)
                .trim_end_matches('\n')
                .to_string();
            raw.clear();
            output.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(lines) = &lines {
                let _ = lines.send(line);
            }
        }
    })
}

/// `keyflow serve` on `data_dir` with the subprocess settings, then `settings` on top.
pub fn serve_command(data_dir: &Path, settings: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyflow"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir);
    clean_env(&mut command);
    // One worker thread, the setting the load benchmark runs keyflow with.
    command
        .env("KEYFLOW_WORKERS", "1")
        .env("KEYFLOW_LOG", "trace")
        .env("KEYFLOW_ADMIN_EMAIL", EMAIL)
        .env("KEYFLOW_ADMIN_PASSWORD", PASSWORD)
        .envs(settings.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

impl ServeProcess {
    pub async fn start(data_dir: &Path) -> ServeProcess {
        Self::start_with(data_dir, &[]).await
    }

    /// Starts with these `KEYFLOW_…` settings in its environment; returns once it listens.
    pub async fn start_with(data_dir: &Path, settings: &[(&str, &str)]) -> ServeProcess {
        let mut child = serve_command(data_dir, settings)
            .spawn()
            .expect("start keyflow serve");
        let output = Arc::new(Mutex::new(String::new()));
        let (sender, mut lines) = tokio::sync::mpsc::unbounded_channel();
        let readers = vec![
            collect(child.stdout.take().unwrap(), output.clone(), Some(sender)),
            collect(child.stderr.take().unwrap(), output.clone(), None),
        ];
        let mut banner = String::new();
        let waiting = async {
            while let Some(line) = lines.recv().await {
                if let Some(at) = line.find("listening on http://") {
                    let rest = &line[at + "listening on http://".len()..];
                    let addr: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || ".:[]".contains(*c))
                        .collect();
                    return Some(addr);
                }
                banner.push_str(&line);
                banner.push('\n');
            }
            None
        };
        let found = tokio::time::timeout(PATIENCE, waiting).await;
        let Ok(Some(addr)) = found else {
            panic!(
                "no `listening on` line; output:\n{}",
                output.lock().unwrap()
            );
        };
        ServeProcess {
            child,
            address: format!("http://{addr}"),
            banner,
            output,
            readers,
        }
    }

    /// SIGTERM, then the exit status must be success; returns everything printed.
    pub async fn stop(mut self) -> String {
        self.terminate();
        self.finish().await
    }

    /// Sends SIGTERM and returns at once.
    pub fn terminate(&mut self) {
        let pid = self.child.id().expect("still running").to_string();
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(kill.success());
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Everything printed so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until the output holds `needle`, for at most [`PATIENCE`].
    pub async fn wait_for_output(&self, needle: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !self.output().contains(needle) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {needle:?} in the output:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for the process to end (after [`ServeProcess::terminate`]); the exit status must
    /// be success. Returns everything printed.
    pub async fn finish(mut self) -> String {
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("graceful shutdown ends")
            .unwrap();
        for reader in self.readers {
            reader.await.unwrap();
        }
        let output = self.output.lock().unwrap().clone();
        assert!(
            status.success(),
            "exit status {status:?} after SIGTERM; output:\n{output}"
        );
        output
    }
}

/// A client of a subprocess server.
pub struct Remote {
    pub client: reqwest::Client,
    pub address: String,
}

impl Remote {
    pub fn of(server: &ServeProcess) -> Remote {
        Remote {
            client: reqwest::Client::new(),
            address: server.address.clone(),
        }
    }

    pub async fn token(&self) -> String {
        let response = self
            .client
            .post(format!("{}/api/draw/1/authentication", self.address))
            .json(&serde_json::json!({ "username": EMAIL, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_json(response, StatusCode::OK)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn example_id(&self, token: &str) -> String {
        let response = self
            .client
            .get(format!("{}/api/admin/1/users/me", self.address))
            .header("authorization", token)
            .send()
            .await
            .unwrap();
        let me = assert_json(response, StatusCode::OK).await;
        let tenants = me["tenants"].as_array().unwrap();
        let example = tenants
            .iter()
            .find(|t| t["developerName"] == "Example")
            .unwrap();
        example["id"].as_str().unwrap().to_string()
    }

    async fn create_key(&self, token: &str, tenant: &str) -> String {
        self.create_named_key(token, "survivor", tenant).await
    }

    pub async fn create_named_key(&self, token: &str, name: &str, tenant: &str) -> String {
        let response = self
            .client
            .post(format!("{}/api/admin/1/users/me/keys", self.address))
            .header("authorization", token)
            .json(&serde_json::json!({ "name": name, "tenantId": tenant }))
            .send()
            .await
            .unwrap();
        let created = assert_json(response, StatusCode::OK).await;
        created["apiKey"].as_str().unwrap().to_string()
    }

    /// The names of the flows the key sees.
    pub async fn flows(&self, key: &str, tenant: &str) -> Vec<String> {
        let response = self
            .client
            .get(format!("{}/api/draw/1/flow", self.address))
            .header("x-boomi-flow-api-key", key)
            .header("manywhotenant", tenant)
            .send()
            .await
            .unwrap();
        flow_names(&assert_json(response, StatusCode::OK).await)
    }
}

#[tokio::test]
async fn keys_survive_a_restart_and_never_reach_the_logs() {
    let data_dir = tempfile::tempdir().unwrap();

    let first = ServeProcess::start(data_dir.path()).await;
    assert!(
        first.banner.contains(EMAIL),
        "the first start prints a banner:\n{}",
        first.banner
    );
    let remote = Remote {
        client: reqwest::Client::new(),
        address: first.address.clone(),
    };
    let token = remote.token().await;
    let tenant = remote.example_id(&token).await;
    let key = remote.create_key(&token, &tenant).await;
    assert_eq!(remote.flows(&key, &tenant).await, ["Hello World"]);
    let log = first.stop().await;
    assert!(log.contains("listening on"));
    assert!(!log.contains(&key), "the key value reached the output");
    assert!(!log.contains(&token), "the token reached the output");
    let leftovers: Vec<_> = ["keyflow.sock", "keyflow.db-wal"]
        .into_iter()
        .filter(|name| data_dir.path().join(name).exists())
        .collect();
    assert!(
        leftovers.is_empty(),
        "a clean stop left {leftovers:?}; its output:\n{log}"
    );

    let second = ServeProcess::start(data_dir.path()).await;
    assert!(
        !second.banner.contains(EMAIL),
        "a second banner:\n{}",
        second.banner
    );
    let remote = Remote {
        client: reqwest::Client::new(),
        address: second.address.clone(),
    };
    assert_eq!(
        remote.flows(&key, &tenant).await,
        ["Hello World"],
        "no second bootstrap"
    );
    let log = second.stop().await;
    assert!(!log.contains(&key), "the key value reached the output");
}

/// A log that cannot be written (a closed pipe, a full disk) loses its lines, not the server:
/// with stderr on `/dev/full` keyflow serves, and a SIGTERM still stops it cleanly.
#[tokio::test]
async fn a_failing_log_stops_neither_serving_nor_a_clean_stop() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyflow"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path());
    clean_env(&mut command);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut child = command
        .env("KEYFLOW_LOG", "trace")
        .env("KEYFLOW_ADMIN_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(full)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = loop {
        let line = tokio::time::timeout(PATIENCE, stdout.next_line())
            .await
            .expect("keyflow starts")
            .unwrap()
            .expect("a `listening on` line");
        if let Some(address) = line.strip_prefix("listening on ") {
            break address.to_string();
        }
    };
    for _ in 0..3 {
        let answer = reqwest::get(format!("{address}/api/draw/1/flow"))
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    }
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!data_dir.path().join("keyflow.db-wal").exists());
}

/// README: "the log records paths without query strings". At the level that logs every
/// request (`trace` here, which also lets hyper and sqlx log), each path is in the log and no
/// part of its query is: a query can hold a password link's token or a flow name.
#[tokio::test]
async fn the_log_records_paths_without_their_query_strings() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(data_dir.path()).await;
    let remote = Remote::of(&server);
    let token = remote.token().await;
    let tenant = remote.example_id(&token).await;
    let key = remote.create_named_key(&token, "logged", &tenant).await;

    let link_token = "kfp_QueryCanaryLinkToken7a1c";
    let flow_name = "QueryCanaryFlowName4e2b";
    let flows = remote
        .client
        .get(format!(
            "{}/api/draw/1/flow?filter={}",
            remote.address,
            enc(&format!("developerName eq '{flow_name}'"))
        ))
        .header("x-boomi-flow-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_json(flows, StatusCode::OK).await;
    // The path of a password link, visited with its token in the query.
    let link = remote
        .client
        .get(format!(
            "{}/api/admin/1/users/password?token={link_token}",
            remote.address
        ))
        .send()
        .await
        .unwrap();
    assert!(link.status().is_client_error(), "{}", link.status());

    let log = server.stop().await;
    for path in ["/api/draw/1/flow", "/api/admin/1/users/password"] {
        assert!(
            log.lines().any(|l| l.contains("path=") && l.contains(path)),
            "no line logs the path {path}:\n{log}"
        );
    }
    for canary in [link_token, flow_name, "filter=", "token="] {
        let leaks: Vec<&str> = log.lines().filter(|l| l.contains(canary)).collect();
        assert!(leaks.is_empty(), "{canary} reached the log: {leaks:#?}");
    }
}

/// A sharing token (`POST /api/package/1/flow/{flow}/share`) travels only in bodies: at the
/// level that logs every request, neither its issue, nor an import with it, nor its
/// revocation puts it in the log, and no file of the data directory holds it.
#[tokio::test]
async fn a_sharing_token_reaches_neither_the_log_nor_the_data_directory() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(data_dir.path()).await;
    let remote = Remote::of(&server);
    let token = remote.token().await;
    let tenant = remote.example_id(&token).await;
    let key = remote.create_named_key(&token, "sharer", &tenant).await;
    let call = |method: reqwest::Method, path: &str| {
        remote
            .client
            .request(method, format!("{}{path}", remote.address))
            .header("x-boomi-flow-api-key", &key)
    };
    let flows = call(reqwest::Method::GET, "/api/draw/1/flow").send().await;
    let flows = assert_json(flows.unwrap(), StatusCode::OK).await;
    let flow = flows[0]["id"]["id"].as_str().unwrap().to_string();
    let share_path = format!("/api/package/1/flow/{flow}/share");
    let shared = call(reqwest::Method::POST, &share_path).send().await;
    let shared = assert_json(shared.unwrap(), StatusCode::OK).await;
    let sharing = shared["token"].as_str().unwrap().to_string();
    let body = serde_json::json!({ "token": sharing });
    let imported = call(reqwest::Method::POST, "/api/package/1/shared/flow")
        .json(&body)
        .send()
        .await;
    assert_json(imported.unwrap(), StatusCode::OK).await;
    let revoked = call(reqwest::Method::DELETE, &share_path)
        .json(&body)
        .send()
        .await;
    assert_eq!(revoked.unwrap().status(), StatusCode::OK);

    let log = server.stop().await;
    for path in [share_path.as_str(), "/api/package/1/shared/flow"] {
        assert!(
            log.lines().any(|l| l.contains("path=") && l.contains(path)),
            "no line logs the path {path}:\n{log}"
        );
    }
    let secret = sharing.trim_start_matches("kfs_");
    let leaks: Vec<&str> = log.lines().filter(|l| l.contains(secret)).collect();
    assert!(
        leaks.is_empty(),
        "the sharing token reached the log: {leaks:#?}"
    );
    let files = files_containing(data_dir.path(), secret);
    assert!(files.is_empty(), "the sharing token is stored in {files:?}");
}

/// The modes of every file and directory under `dir`, the directory itself included, that
/// let group or others at them.
fn open_to_others(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut paths = vec![dir.to_path_buf(), dir.join("secrets")];
    paths.extend(files_under(dir));
    paths
        .into_iter()
        .filter_map(|path| {
            let mode = std::fs::symlink_metadata(&path).ok()?.permissions().mode() & 0o777;
            (mode & 0o077 != 0).then_some((path, mode))
        })
        .collect()
}

/// A data directory made before the first start with the usual 0755 (and a stray 0644 file
/// from before) is tightened at start with a warning: the directory becomes 0700, and every
/// file keyflow makes in it — the database, its write-ahead log and shared memory, the
/// secrets, the lock, the socket — and every file a command makes while it runs has no bit
/// for group or others.
#[tokio::test]
async fn the_data_directory_is_private_whatever_made_it() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("made-by-mkdir");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let stray = dir.join("keyflow.db-shm");
    std::fs::write(&stray, b"").unwrap();
    std::fs::set_permissions(&stray, std::fs::Permissions::from_mode(0o644)).unwrap();

    let server = ServeProcess::start(&dir).await;
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o700, "the data directory has mode {mode:o}");
    let remote = Remote {
        client: reqwest::Client::new(),
        address: server.address.clone(),
    };
    let token = remote.token().await;
    let tenant = remote.example_id(&token).await;
    remote.create_key(&token, &tenant).await;
    // A command beside the running server, on the same directory.
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyflow"));
    command
        .args(["tenant", "create", "--name", "Beside", "--data-dir"])
        .arg(&dir);
    clean_env(&mut command);
    let created = command.output().await.unwrap();
    assert!(created.status.success(), "{created:?}");

    let present: Vec<String> = files_under(&dir)
        .iter()
        .map(|path| path.strip_prefix(&dir).unwrap().display().to_string())
        .collect();
    for expected in [
        "keyflow.db",
        "keyflow.db-wal",
        "keyflow.db-shm",
        "keyflow.lock",
        "keyflow.sock",
        "secrets/pepper",
        "secrets/master.key",
    ] {
        assert!(
            present.iter().any(|p| p == expected),
            "no {expected} in {present:?}"
        );
    }
    assert_eq!(open_to_others(&dir), vec![], "open to other users");
    let log = server.stop().await;
    assert!(
        log.contains("tightened") && log.contains("made-by-mkdir"),
        "no warning names the tightened directory:\n{log}"
    );
    assert_eq!(
        open_to_others(&dir),
        vec![],
        "open to other users after a stop"
    );
}

/// The command line alone, on a directory it did not make, tightens it the same way.
#[tokio::test]
async fn a_command_tightens_the_data_directory_too() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("for-a-command");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o775)).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyflow"));
    command
        .args(["tenant", "create", "--name", "First", "--data-dir"])
        .arg(&dir);
    clean_env(&mut command);
    let created = command.output().await.unwrap();
    assert!(created.status.success(), "{created:?}");
    assert!(
        String::from_utf8_lossy(&created.stderr).contains("tightened"),
        "no warning: {created:?}"
    );
    assert!(dir.join("keyflow.db").exists());
    assert_eq!(open_to_others(&dir), vec![], "open to other users");
}

/// Without the binary's umask (the tests' server runs in this process, whose mask is
/// whatever the shell gave), the modes keyflow sets itself keep every file its owner's.
#[tokio::test]
async fn every_file_the_server_makes_is_the_owners_even_without_a_umask() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    app.new_key_for(&token, "private", &app.tenant_id).await;
    assert!(app.data_dir().join("keyflow.db-wal").exists());
    assert_eq!(
        open_to_others(app.data_dir()),
        vec![],
        "open to other users"
    );
}

/// SECURITY.md: in a data directory others could write to before the first start, another
/// user may have planted secrets (or a database) for keyflow to use. keyflow, running as root
/// here, refuses to start and names the file and the fix, rather than tightening its mode and
/// using it; it opens no database there.
#[tokio::test]
async fn secrets_another_user_planted_are_refused_not_used() {
    const STRANGER: u32 = 54_321;
    for planted in ["secrets/pepper", "secrets/master.key", "keyflow.db"] {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("writable-by-all");
        std::fs::create_dir_all(dir.join("secrets")).unwrap();
        for open in [&dir, &dir.join("secrets")] {
            std::fs::set_permissions(open, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let path = dir.join(planted);
        std::fs::write(&path, "ab".repeat(32)).unwrap();
        std::os::unix::fs::chown(&path, Some(STRANGER), None).unwrap();
        let out = serve_command(&dir, &[]).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{planted}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "{} belongs to the user with uid {STRANGER}",
                path.display()
            )) && stderr.contains("chown"),
            "{planted}: {stderr}"
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
        if planted != "keyflow.db" {
            assert!(!dir.join("keyflow.db").exists(), "a database was opened");
        }
        assert_eq!(
            std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&path).unwrap()),
            STRANGER
        );
    }
}
