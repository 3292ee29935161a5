//! The harness every test drives: a real keyflow server on 127.0.0.1:0 with a fresh data
//! directory, a client, and small helpers for the calls most tests make.
//!
//! # Both backends
//!
//! A test that does not depend on SQLite runs once on each backend. Its module writes it as a
//! plain `async fn` (no `#[tokio::test]`) and names it in [`both_backends!`]:
//!
//! ```ignore
//! use crate::helpers::both_backends;
//!
//! both_backends! {
//!     a_deleted_key_is_refused,
//!     // Another runtime, or more attributes: the `#[tokio::test…]` attribute comes first.
//!     #[tokio::test(flavor = "multi_thread")] #[ignore] a_heavy_one,
//! }
//!
//! async fn a_deleted_key_is_refused() { let app = TestApp::spawn().await; … }
//! ```
//!
//! Each name becomes a module of two tests, `keys::a_deleted_key_is_refused::sqlite` and
//! `…::postgres`, which run the same body inside a task-local [`Backend`]. Everything here that
//! makes a store reads it: [`TestApp::spawn_with`] gives each server a fresh data directory and,
//! on PostgreSQL, a fresh schema of its own ([`fresh_database`], also for tests that start a
//! server themselves); [`TestApp::cli`] points the command line at the same database;
//! [`TestApp::row_counts`] counts either backend's tables. The PostgreSQL variant needs
//! `KEYFLOW_TEST_POSTGRES_URL` ([`crate::postgres`]): without it, it prints one skip line and
//! passes (under `CI=true` it fails). A test function left out of the list is never called:
//! dead code, which clippy refuses, so no test drops out silently.
//!
//! A test outside the list (reading the SQLite file, using the control socket, killing the
//! process…) runs once, on SQLite, as before: the backend is SQLite wherever none was set.
//! The backend follows the test's task, not its thread: a server spawned from inside
//! `tokio::spawn` would not see it (no test does that).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::process::{Output, Stdio};

use keyflow::app::Server;
use keyflow::config::ServeConfig;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const KEY_HEADER: &str = "x-boomi-flow-api-key";
pub const TENANT_HEADER: &str = "manywhotenant";
pub const ADMIN_PASSWORD: &str = "correct horse battery";
/// The tenant id printed in Boomi's worked example: it holds a `g`, so it is not a UUID.
pub const SEED_TENANT_ID: &str = "b70ef1d6-edc9-4481-94b9-d81g126e32d1";

/// Where the store of the servers a test starts is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The data directory's `keyflow.db`.
    Sqlite,
    /// A fresh schema per server in the database of `KEYFLOW_TEST_POSTGRES_URL`.
    Postgres,
}

/// The backend of the test running in this task, and the test's name (for the skip line).
#[derive(Debug, Clone, Copy)]
struct Running {
    backend: Backend,
    test: &'static str,
}

tokio::task_local! {
    static RUNNING: Running;
}

impl Backend {
    /// Runs one variant of a test (what [`both_backends!`] expands to). On PostgreSQL without
    /// `KEYFLOW_TEST_POSTGRES_URL`, returns at once, after the skip line.
    pub async fn run(self, test: &'static str, body: impl Future<Output = ()>) {
        if self == Backend::Postgres && !crate::postgres::configured(test) {
            return;
        }
        RUNNING
            .scope(
                Running {
                    backend: self,
                    test,
                },
                body,
            )
            .await;
    }
}

/// The database URL for one new server of the running test: a fresh PostgreSQL schema, or
/// None on SQLite (the server then keeps its data in its data directory).
pub async fn fresh_database() -> Option<SecretString> {
    let running = RUNNING.try_with(|running| *running).ok()?;
    match running.backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let url = crate::postgres::fresh_database(running.test).await;
            Some(url.expect("KEYFLOW_TEST_POSTGRES_URL was set when the test began"))
        }
    }
}

/// Makes each named `async fn` of the calling module a test on each backend: see the top of
/// this file. An entry is a name, optionally after the test's attributes, the `#[tokio::test…]`
/// one first (`#[tokio::test]` when none is given).
macro_rules! both_backends {
    (@variants [$($test:tt)*] [$($attrs:tt)*] $name:ident) => {
        mod $name {
            #[$($test)*]
            $($attrs)*
            async fn sqlite() {
                $crate::helpers::Backend::Sqlite
                    .run(module_path!(), super::$name())
                    .await;
            }

            #[$($test)*]
            $($attrs)*
            async fn postgres() {
                $crate::helpers::Backend::Postgres
                    .run(module_path!(), super::$name())
                    .await;
            }
        }
    };
    () => {};
    (#[tokio::test $($args:tt)*] $(#[$attr:meta])* $name:ident $(, $($rest:tt)*)?) => {
        $crate::helpers::both_backends!(@variants [tokio::test $($args)*] [$(#[$attr])*] $name);
        $($crate::helpers::both_backends!($($rest)*);)?
    };
    ($(#[$attr:meta])* $name:ident $(, $($rest:tt)*)?) => {
        $crate::helpers::both_backends!(@variants [tokio::test] [$(#[$attr])*] $name);
        $($crate::helpers::both_backends!($($rest)*);)?
    };
}
pub(crate) use both_backends;

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub client: reqwest::Client,
    /// The id of the bootstrap tenant, `Example`.
    pub tenant_id: String,
    pub tenant_name: String,
    pub admin_email: String,
    pub admin_password: String,
    /// The running server's state, for the tests that call the library beside it.
    pub state: keyflow::state::AppState,
    data_dir: tempfile::TempDir,
    /// The server's PostgreSQL schema; None when it keeps its data in the data directory.
    database_url: Option<SecretString>,
    /// How to stop the server, and its task (for [`TestApp::restart`]).
    running: ServerTask,
}

type ServerTask = (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
);

/// Starts `server` in the background, to be stopped through the sender.
fn run_in_background(server: Server) -> ServerTask {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        // A dropped sender (the test over) leaves the server running until the runtime ends.
        if stopped.await.is_err() {
            std::future::pending::<()>().await;
        }
    }));
    (stop, task)
}

impl TestApp {
    /// A server with the default settings (on-demand reveal, a generous throttle).
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// A server whose settings `configure` may change before it starts, on the running
    /// test's backend.
    pub async fn spawn_with(configure: impl FnOnce(&mut ServeConfig)) -> TestApp {
        let data_dir = tempfile::tempdir().expect("create a data directory");
        let mut config = ServeConfig::new(data_dir.path().to_path_buf());
        config.database_url = fresh_database().await;
        config.admin_password = Some(SecretString::from(ADMIN_PASSWORD));
        config.auth_failure_burst = 1000;
        configure(&mut config);
        let database_url = config.database_url.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server::start(config, listener)
            .await
            .expect("server starts");
        if database_url.is_some() {
            // A PostgreSQL variant that quietly ran on SQLite would prove nothing.
            let sqlite = data_dir.path().join("keyflow.db");
            assert!(
                !sqlite.exists(),
                "a server given a database made {sqlite:?}"
            );
        }
        let address = format!("http://{}", server.local_addr());
        let boot = server.bootstrap().cloned().expect("first start bootstraps");
        let state = server.state().clone();
        let running = run_in_background(server);
        TestApp {
            address,
            client: reqwest::Client::new(),
            tenant_id: boot.tenant_id.to_string(),
            tenant_name: boot.tenant_name,
            admin_email: boot.admin_email,
            admin_password: ADMIN_PASSWORD.to_string(),
            state,
            data_dir,
            database_url,
            running,
        }
    }

    /// Stops this server gracefully and starts another on the same data (its data directory,
    /// and its PostgreSQL schema if it has one), as a restart does: nothing is seeded again,
    /// and the new server answers at a new address.
    pub async fn restart(self) -> TestApp {
        let TestApp {
            client,
            tenant_id,
            tenant_name,
            admin_email,
            admin_password,
            data_dir,
            database_url,
            running: (stop, task),
            ..
        } = self;
        stop.send(()).expect("the server is running");
        task.await.unwrap().expect("a clean stop");
        let mut config = ServeConfig::new(data_dir.path().to_path_buf());
        config.database_url = database_url.clone();
        config.auth_failure_burst = 1000;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server::start(config, listener)
            .await
            .expect("server restarts");
        assert!(server.bootstrap().is_none(), "a restart seeds nothing");
        let address = format!("http://{}", server.local_addr());
        let state = server.state().clone();
        let running = run_in_background(server);
        TestApp {
            address,
            client,
            tenant_id,
            tenant_name,
            admin_email,
            admin_password,
            state,
            data_dir,
            database_url,
            running,
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Where this server keeps its data.
    pub fn backend(&self) -> Backend {
        match self.database_url {
            Some(_) => Backend::Postgres,
            None => Backend::Sqlite,
        }
    }

    /// The URL of this server's PostgreSQL schema (None on SQLite), for a second server or a
    /// command on the same data.
    pub fn database_url(&self) -> Option<&SecretString> {
        self.database_url.as_ref()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// `POST /api/draw/1/authentication`, whatever it answers.
    pub async fn try_login(&self, email: &str, password: &str) -> Response {
        self.client
            .post(self.url("/api/draw/1/authentication"))
            .json(&json!({ "username": email, "password": password }))
            .send()
            .await
            .unwrap()
    }

    /// Signs in and returns the token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let body = assert_json(self.try_login(email, password).await, StatusCode::OK).await;
        body.as_str()
            .expect("the token is a JSON string")
            .to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.login(&self.admin_email, &self.admin_password).await
    }

    /// `POST /api/admin/1/users/me/keys` with a token.
    pub async fn create_key(&self, token: &str, name: &str, tenant_id: &str) -> Response {
        self.client
            .post(self.url("/api/admin/1/users/me/keys"))
            .header("authorization", token)
            .json(&json!({ "name": name, "tenantId": tenant_id }))
            .send()
            .await
            .unwrap()
    }

    /// Creates a key and returns its value.
    pub async fn new_key_for(&self, token: &str, name: &str, tenant_id: &str) -> String {
        let body = assert_json(
            self.create_key(token, name, tenant_id).await,
            StatusCode::OK,
        )
        .await;
        body["apiKey"]
            .as_str()
            .expect("apiKey is a string")
            .to_string()
    }

    /// A new key of the administrator for `Example`.
    pub async fn new_key(&self, name: &str) -> String {
        let token = self.admin_token().await;
        self.new_key_for(&token, name, &self.tenant_id).await
    }

    /// `GET /api/draw/1/flow` with an API key and a `manywhotenant`, each optional.
    pub async fn list_flows(&self, key: Option<&str>, tenant: Option<&str>) -> Response {
        self.get_flows("/api/draw/1/flow", key, tenant).await
    }

    pub async fn get_flows(&self, path: &str, key: Option<&str>, tenant: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(key) = key {
            request = request.header(KEY_HEADER, key);
        }
        if let Some(tenant) = tenant {
            request = request.header(TENANT_HEADER, tenant);
        }
        request.send().await.unwrap()
    }

    /// A request builder already carrying an API key.
    pub fn with_key(&self, method: reqwest::Method, path: &str, key: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header(KEY_HEADER, key)
    }

    /// A request builder already carrying a token.
    pub fn with_token(&self, method: reqwest::Method, path: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("authorization", format!("Bearer {token}"))
    }

    /// `GET /api/admin/1/users/me`.
    pub async fn me(&self, token: &str) -> Value {
        let response = self
            .with_token(reqwest::Method::GET, "/api/admin/1/users/me", token)
            .send()
            .await
            .unwrap();
        assert_json(response, StatusCode::OK).await
    }

    /// `GET /api/admin/1/users/me/keys`.
    pub async fn key_list(&self, token: &str) -> Vec<Value> {
        let response = self
            .with_token(reqwest::Method::GET, "/api/admin/1/users/me/keys", token)
            .send()
            .await
            .unwrap();
        let body = assert_json(response, StatusCode::OK).await;
        body.as_array().expect("the key list is an array").clone()
    }

    /// The value of one counter from `/metrics`.
    pub async fn metric(&self, name: &str) -> u64 {
        let response = self.client.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.unwrap();
        let values: Vec<u64> = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let mut parts = line.split_whitespace();
                let (series, value) = (parts.next()?, parts.next()?);
                let named = series == name || series.starts_with(&format!("{name}{{"));
                named.then(|| value.parse::<f64>().expect("a numeric sample") as u64)
            })
            .collect();
        assert!(!values.is_empty(), "no {name} in /metrics:\n{text}");
        values.iter().sum()
    }

    /// `POST /api/admin/1/users` with an administrator's token for `tenant`: the invitation
    /// answer, whatever its status.
    pub async fn try_invite(&self, token: &str, tenant: &str, body: Value) -> Response {
        self.with_token(reqwest::Method::POST, "/api/admin/1/users", token)
            .header(TENANT_HEADER, tenant)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Invites `email` to `tenant` and returns the answer (with its `setPasswordLink`).
    pub async fn invite(&self, token: &str, tenant: &str, email: &str) -> Value {
        let body = json!({ "email": email });
        assert_json(self.try_invite(token, tenant, body).await, StatusCode::OK).await
    }

    /// `POST /api/admin/1/users/password` with the token of `added`'s link, whatever it answers.
    pub async fn try_accept(&self, added: &Value, password: &str) -> Response {
        self.client
            .post(self.url("/api/admin/1/users/password"))
            .json(&json!({ "token": link_token(added), "password": password }))
            .send()
            .await
            .unwrap()
    }

    /// Accepts the invitation in `added` (an answer of `POST /api/admin/1/users`) with
    /// `password`: the one to set, or the account's own when it has one.
    pub async fn accept_invitation(&self, added: &Value, password: &str) {
        let response = self.try_accept(added, password).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "accepting failed: {text}");
    }

    /// `keyflow user add`: the bootstrap administrator becomes an administrator of `tenant`.
    pub async fn add_admin_to(&self, tenant: &str) -> Output {
        let email = self.admin_email.as_str();
        let args = [
            "user",
            "add",
            "--email",
            email,
            "--tenant",
            tenant,
            "--role",
            "administrator",
        ];
        self.cli(&args, None).await
    }

    /// Runs the keyflow binary with `args` then `--data-dir <this server's dir>`, and on
    /// PostgreSQL the server's database (in the environment, so no message quotes it).
    pub async fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_keyflow"));
        command.args(args).arg("--data-dir").arg(self.data_dir());
        clean_env(&mut command);
        if let Some(url) = &self.database_url {
            command.env("KEYFLOW_DATABASE_URL", url.expose_secret());
        }
        command
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("run keyflow");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            // A command that fails before reading its input closes the pipe: not an error here.
            let _ = pipe.write_all(input.as_bytes()).await;
            drop(pipe);
        }
        child.wait_with_output().await.unwrap()
    }

    /// Runs the CLI, insists it succeeded, and returns the id it printed.
    pub async fn cli_id(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.cli(args, stdin).await;
        assert!(
            out.status.success(),
            "keyflow {args:?} failed: {}",
            show(&out)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let id = stdout.trim_end_matches('\n');
        uuid::Uuid::parse_str(id).unwrap_or_else(|_| panic!("not a UUID: {stdout:?}"));
        id.to_string()
    }

    /// `keyflow tenant create`; returns the new tenant id.
    pub async fn create_tenant(&self, name: &str) -> String {
        self.cli_id(&["tenant", "create", "--name", name], None)
            .await
    }

    /// `keyflow user create`; returns the new user id.
    pub async fn create_user(&self, email: &str, password: &str, tenant_id: &str) -> String {
        let args = ["user", "create", "--email", email, "--tenant", tenant_id];
        self.cli_id(&args, Some(&format!("{password}\n"))).await
    }

    /// `keyflow user add` for an existing user.
    pub async fn add_user(&self, email: &str, tenant_id: &str) {
        let out = self
            .cli(
                &["user", "add", "--email", email, "--tenant", tenant_id],
                None,
            )
            .await;
        assert!(out.status.success(), "user add failed: {}", show(&out));
    }

    /// `keyflow user remove`: the user leaves the tenant.
    pub async fn remove_user(&self, email: &str, tenant_id: &str) {
        let args = ["user", "remove", "--email", email, "--tenant", tenant_id];
        let out = self.cli(&args, None).await;
        assert!(out.status.success(), "user remove failed: {}", show(&out));
    }

    /// A new tenant with the administrator as a member; returns its id.
    pub async fn second_tenant(&self, name: &str) -> String {
        let tenant = self.create_tenant(name).await;
        self.add_user(&self.admin_email.clone(), &tenant).await;
        tenant
    }

    /// Sends `head` (request line and headers, CRLF-separated, no final blank line) over a
    /// raw TCP connection, so header names reach the server spelled exactly as written.
    pub async fn raw(&self, head: &str) -> String {
        let host = self.address.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
        let request = format!("{head}\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// Sends `request` (a whole HTTP/1.1 request, bytes as given) over a raw TCP connection
    /// and returns the answer's status and body. The server may refuse and close before it
    /// has read everything: a failed write is expected then, and not an error.
    pub async fn raw_bytes(&self, request: &[u8]) -> (u16, String) {
        let host = self.address.trim_start_matches("http://");
        let stream = tokio::net::TcpStream::connect(host).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let request = request.to_vec();
        let writer = tokio::spawn(async move {
            let _ = write.write_all(&request).await;
            write
        });
        let mut answer = Vec::new();
        let _ = read.read_to_end(&mut answer).await;
        drop(writer.await);
        let text = String::from_utf8_lossy(&answer).into_owned();
        let status = text
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// A read-only connection to the server's SQLite database, beside the server.
    pub async fn database(&self) -> sqlx::SqliteConnection {
        use sqlx::Connection;
        assert_eq!(
            self.backend(),
            Backend::Sqlite,
            "the data directory's database is read on SQLite only"
        );
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(self.data_dir().join("keyflow.db"))
            .read_only(true);
        sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap()
    }

    /// A connection to the server's PostgreSQL schema, beside the server.
    pub async fn postgres(&self) -> sqlx::PgConnection {
        let url = self
            .database_url
            .as_ref()
            .expect("the server's database is PostgreSQL");
        crate::postgres::connect(url).await
    }

    /// The number of rows in every table of the server's database, read beside the server.
    pub async fn row_counts(&self) -> BTreeMap<String, i64> {
        use sqlx::Connection;
        if self.backend() == Backend::Postgres {
            let mut db = self.postgres().await;
            let tables: Vec<(String,)> = sqlx::query_as(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            )
            .fetch_all(&mut db)
            .await
            .unwrap();
            let mut counts = BTreeMap::new();
            for (table,) in tables {
                let sql = format!("SELECT COUNT(*) FROM \"{table}\"");
                let (count,): (i64,) = sqlx::query_as(&sql).fetch_one(&mut db).await.unwrap();
                counts.insert(table, count);
            }
            db.close().await.unwrap();
            return counts;
        }
        let mut db = self.database().await;
        let tables: Vec<(String,)> =
            sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(&mut db)
                .await
                .unwrap();
        let mut counts = BTreeMap::new();
        for (table,) in tables {
            let sql = format!("SELECT COUNT(*) FROM \"{table}\"");
            let (count,): (i64,) = sqlx::query_as(&sql).fetch_one(&mut db).await.unwrap();
            counts.insert(table, count);
        }
        db.close().await.unwrap();
        counts
    }
}

/// Removes every `KEYFLOW_*` setting from a command, so only what a test sets applies: a
/// `KEYFLOW_DATABASE_URL` in the test's own environment must not move a command's data.
pub fn clean_env(command: &mut tokio::process::Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KEYFLOW_") {
            command.env_remove(name);
        }
    }
}

/// Checks the status and that the body is a JSON string; returns the message.
pub async fn assert_error(response: Response, status: StatusCode) -> String {
    let got = response.status();
    assert!(
        response.headers().contains_key("x-request-id"),
        "no x-request-id on a {got}"
    );
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "unexpected status, body: {text}");
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::String(message)) => {
            assert!(!message.is_empty(), "an empty error message");
            message
        }
        _ => panic!("a {got} error body is not a JSON string: {text:?}"),
    }
}

/// Checks the status and returns the JSON body.
pub async fn assert_json(response: Response, status: StatusCode) -> Value {
    let got = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "unexpected status, body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"))
}

/// Checks a 401 carries `WWW-Authenticate` and a JSON string body.
pub async fn assert_unauthorized(response: Response) -> String {
    assert!(
        response.headers().contains_key("www-authenticate"),
        "a 401 without WWW-Authenticate"
    );
    assert_error(response, StatusCode::UNAUTHORIZED).await
}

/// Everything but RFC 3986's unreserved characters (letters, digits, `-`, `.`, `_`, `~`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes everything but the unreserved characters, for a path segment or a query
/// value.
pub fn enc(text: &str) -> String {
    utf8_percent_encode(text, NOT_UNRESERVED).to_string()
}

/// The token in an invitation answer's `setPasswordLink`.
pub fn link_token(added: &Value) -> String {
    let link = added["setPasswordLink"]
        .as_str()
        .unwrap_or_else(|| panic!("no setPasswordLink in {added}"));
    link.split_once("?token=")
        .map(|(_, token)| token.to_string())
        .unwrap_or_else(|| panic!("no token in the link {link}"))
}

/// `kf_` and 32 base62 characters.
pub fn is_key_format(key: &str) -> bool {
    key.len() == 35 && key.starts_with("kf_") && key[3..].bytes().all(|b| b.is_ascii_alphanumeric())
}

/// An RFC 3339 date-time in UTC (`Z` or `+00:00`).
pub fn is_rfc3339_utc(text: &str) -> bool {
    // `-00:00` parses to a zero offset too, but says the offset is unknown (RFC 3339 §4.3).
    OffsetDateTime::parse(text, &Rfc3339).is_ok_and(|at| at.offset() == UtcOffset::UTC)
        && !text.ends_with("-00:00")
}

#[test]
fn the_helpers_encode_and_recognise_what_they_say() {
    assert_eq!(enc("a-b_c.d~e"), "a-b_c.d~e");
    assert_eq!(enc("eq 'x'/ü?&"), "eq%20%27x%27%2F%C3%BC%3F%26");
    for good in [
        "2026-01-02T03:04:05Z",
        "2026-01-02T03:04:05.123456Z",
        "2026-01-02T03:04:05+00:00",
    ] {
        assert!(is_rfc3339_utc(good), "{good}");
    }
    for bad in [
        "2026-01-02T03:04:05+01:00",
        "2026-01-02T03:04:05-00:00",
        "2026-13-02T03:04:05Z",
        "2026-01-02 03:04:05",
        "2026-01-02T03:04:05Z trailing",
    ] {
        assert!(!is_rfc3339_utc(bad), "{bad}");
    }
}

/// The names in a JSON array of flows.
pub fn flow_names(flows: &Value) -> Vec<String> {
    flows
        .as_array()
        .expect("flows are an array")
        .iter()
        .map(|f| f["developerName"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A CLI run, printed for an assertion message.
pub fn show(out: &Output) -> String {
    format!(
        "status {:?}, stdout {:?}, stderr {:?}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
