//! Several instances on one PostgreSQL database: a change made through one instance (A) is
//! seen by another (B) within a second — a deleted key, a rotated key, a lowered maximum key
//! lifetime, a removed member, a password change that ends tokens, a new flow in a cached
//! list — also when B's listening connection is
//! killed, and when the change comes from the command line; a web session signed out, a
//! key-bound token whose key is deleted, a demoted administrator, each cached by B; a sharing
//! token, cached nowhere,
//! is refused by B as soon as A revokes it; a run's state started through A is continued
//! through B, and two invokes racing through both are decided by the database. Every wait
//! polls with a deadline.

use std::time::{Duration, Instant};

use keyflow::app::Server;
use keyflow::config::ServeConfig;
use keyflow::state::AppState;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, KEY_HEADER, TENANT_HEADER, TestApp, assert_json};

/// How soon every instance must see a change (README, "Several instances").
const BOUND: Duration = Duration::from_secs(1);

/// The secrets every instance of one database shares.
fn secrets() -> (SecretString, SecretString) {
    let hex = |byte: u8| SecretString::from(hex::encode([byte; 32]));
    (hex(0x11), hex(0x22))
}

fn shared(config: &mut ServeConfig, url: &SecretString) {
    let (pepper, master_key) = secrets();
    config.database_url = Some(url.clone());
    config.pepper = Some(pepper);
    config.master_key = Some(master_key);
    config.admin_password = Some(SecretString::from(ADMIN_PASSWORD));
    config.auth_failure_burst = 1000;
}

/// Another instance on the same database, with a data directory of its own.
pub(crate) struct Instance {
    pub(crate) address: String,
    pub(crate) state: AppState,
    pub(crate) client: reqwest::Client,
    _data_dir: tempfile::TempDir,
}

impl Instance {
    async fn start(url: &SecretString) -> Instance {
        Self::start_as(url).await
    }

    /// An instance reaching the database through `url` (which may lead through a relay).
    async fn start_as(url: &SecretString) -> Instance {
        let data_dir = tempfile::tempdir().unwrap();
        let mut config = ServeConfig::new(data_dir.path().to_path_buf());
        shared(&mut config, url);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server::start(config, listener).await.expect("B starts");
        assert!(
            server.bootstrap().is_none(),
            "A seeded the database already"
        );
        let address = format!("http://{}", server.local_addr());
        let state = server.state().clone();
        tokio::spawn(server.run(std::future::pending::<()>()));
        Instance {
            address,
            state,
            client: reqwest::Client::new(),
            _data_dir: data_dir,
        }
    }

    async fn flows_with_key(&self, key: &str, tenant: &str) -> reqwest::Response {
        self.client
            .get(format!("{}/api/draw/1/flow", self.address))
            .header(KEY_HEADER, key)
            .header(TENANT_HEADER, tenant)
            .send()
            .await
            .unwrap()
    }

    async fn me_with_token(&self, token: &str) -> StatusCode {
        self.client
            .get(format!("{}/api/admin/1/users/me", self.address))
            .header("authorization", token)
            .send()
            .await
            .unwrap()
            .status()
    }

    fn heard(&self) -> u64 {
        self.state
            .metrics
            .changes_heard
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn caught_up(&self) -> u64 {
        self.state
            .metrics
            .changes_caught_up
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn lost(&self) -> u64 {
        self.state
            .metrics
            .change_listener_lost
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Polls `check` until it holds or `bound` has passed since `since`; fails naming `what`.
async fn within<F, Fut>(what: &str, since: Instant, bound: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    loop {
        if check().await {
            return;
        }
        assert!(
            since.elapsed() < bound,
            "{what}: not seen by the other instance within {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A, the first instance (it seeds the database), and B beside it; None when PostgreSQL
/// tests are skipped.
pub(crate) async fn two_instances(test: &str) -> Option<(TestApp, Instance, SecretString)> {
    let url = crate::postgres::fresh_database(test).await?;
    let for_a = url.clone();
    let a = TestApp::spawn_with(move |config| shared(config, &for_a)).await;
    let b = Instance::start(&url).await;
    Some((a, b, url))
}

/// A new key of the administrator's, verified on B (so B caches it).
async fn key_known_to(a: &TestApp, b: &Instance, admin: &str, name: &str) -> String {
    let key = a.new_key_for(admin, name, &a.tenant_id).await;
    let verified = b.flows_with_key(&key, &a.tenant_id).await;
    assert_eq!(verified.status(), StatusCode::OK);
    key
}

/// Deletes the administrator's key `name` through A.
async fn delete_through(a: &TestApp, admin: &str, name: &str) {
    let path = format!("/api/admin/1/users/me/keys/{name}");
    let deleted = a
        .with_token(reqwest::Method::DELETE, &path, admin)
        .send()
        .await;
    assert_eq!(deleted.unwrap().status(), StatusCode::OK);
}

/// A member of `Example` with a key, as B has verified it (so B caches it).
async fn member_with_key(a: &TestApp, b: &Instance, email: &str) -> (String, String, Value) {
    let admin = a.admin_token().await;
    let added = a.invite(&admin, &a.tenant_id, email).await;
    a.accept_invitation(&added, "member password").await;
    let token = a.login(email, "member password").await;
    let key = a.new_key_for(&token, "ci", &a.tenant_id).await;
    for _ in 0..2 {
        let response = b.flows_with_key(&key, &a.tenant_id).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    (token, key, added)
}

#[tokio::test]
async fn a_change_through_one_instance_reaches_the_other_within_a_second() {
    let Some((a, b, _url)) = two_instances("a_change_reaches_the_other").await else {
        return;
    };

    // A key deleted through A.
    let admin = a.admin_token().await;
    let key = a.new_key_for(&admin, "deploy", &a.tenant_id).await;
    assert_eq!(
        b.flows_with_key(&key, &a.tenant_id).await.status(),
        StatusCode::OK
    );
    let hits = b
        .state
        .metrics
        .key_cache_hits
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        b.flows_with_key(&key, &a.tenant_id).await.status(),
        StatusCode::OK
    );
    assert!(
        b.state
            .metrics
            .key_cache_hits
            .load(std::sync::atomic::Ordering::Relaxed)
            > hits,
        "B answers the key from its cache"
    );
    delete_through(&a, &admin, "deploy").await;
    let since = Instant::now();
    within("a deleted key", since, BOUND, || async {
        b.flows_with_key(&key, &a.tenant_id).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;

    // A member removed through A: their key and their token stop on B.
    let (token, member_key, added) = member_with_key(&a, &b, "remove-me@example.com").await;
    assert_eq!(b.me_with_token(&token).await, StatusCode::OK);
    let id = added["id"].as_str().unwrap();
    let removed = a
        .with_token(
            reqwest::Method::DELETE,
            &format!("/api/admin/1/users/{id}"),
            &admin,
        )
        .header(TENANT_HEADER, &a.tenant_id)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::OK);
    let since = Instant::now();
    within("a removed member's key", since, BOUND, || async {
        b.flows_with_key(&member_key, &a.tenant_id).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    within("a removed member's token", since, BOUND, || async {
        b.me_with_token(&token).await == StatusCode::UNAUTHORIZED
    })
    .await;

    // A password changed through A's store ends the user's tokens on B.
    let (token, _key, _) = member_with_key(&a, &b, "new-password@example.com").await;
    let user = a
        .state
        .store
        .user_by_email(&keyflow::domain::Email::parse("new-password@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    a.state
        .store
        .change_password(
            user.id,
            "$argon2id$v=19$m=19456,t=2,p=1$bm9uZQ$bm9uZQ",
            &keyflow::domain::Digest::from_bytes([0u8; 32]),
        )
        .await
        .unwrap();
    let since = Instant::now();
    within(
        "tokens ended by a password change",
        since,
        BOUND,
        || async { b.me_with_token(&token).await == StatusCode::UNAUTHORIZED },
    )
    .await;

    // A flow created through A appears in the list B has cached.
    let key = a.new_key_for(&admin, "lists", &a.tenant_id).await;
    let before: Value =
        assert_json(b.flows_with_key(&key, &a.tenant_id).await, StatusCode::OK).await;
    let _ = b.flows_with_key(&key, &a.tenant_id).await; // now served from B's cache
    let created = a
        .with_key(reqwest::Method::POST, "/api/draw/1/flow", &key)
        .json(&json!({ "developerName": "Made on A" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    let since = Instant::now();
    within("a new flow in a cached list", since, BOUND, || async {
        let list: Value = b
            .flows_with_key(&key, &a.tenant_id)
            .await
            .json()
            .await
            .unwrap();
        list.as_array().unwrap().len() == before.as_array().unwrap().len() + 1
    })
    .await;
    assert!(
        b.heard() >= 4,
        "B heard the announcements, not only the counter"
    );
}

/// Each kind of sign-in credential, cached by B, is refused by B within the bound once A
/// revokes it: a web session signed out, a key-bound token whose key is deleted, an
/// administrator demoted.
#[tokio::test]
async fn a_sign_in_revoked_through_one_instance_is_refused_by_the_other_within_the_bound() {
    let Some((a, b, _url)) = two_instances("sign_ins_revoked").await else {
        return;
    };
    let hits = || {
        b.state
            .metrics
            .credential_cache_hits
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let cached_on_b = |what: &'static str, status: StatusCode, before: u64| {
        assert_eq!(status, StatusCode::OK, "{what} works on B");
        assert!(hits() > before, "{what}: B answered from its cache");
    };

    // A web session opened on A, used on B, signed out on A.
    let mut browser = crate::browser::Browser::signed_in(&a).await;
    let session = browser.cookie("keyflow_session").unwrap().to_string();
    // A client that follows no redirect: a 303 to the sign-in page is the refusal.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let settings_on_b = || async {
        client
            .get(format!("{}/settings", b.address))
            .header("cookie", format!("keyflow_session={session}"))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(settings_on_b().await, StatusCode::OK);
    let before = hits();
    cached_on_b("a web session", settings_on_b().await, before);
    let csrf = browser.get("/settings").await.csrf();
    let out = browser.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    within("a signed-out session", Instant::now(), BOUND, || async {
        settings_on_b().await == StatusCode::SEE_OTHER
    })
    .await;

    // A token an API key obtained, used on B in the key header, its key deleted through A.
    let admin = a.admin_token().await;
    let key = a.new_key_for(&admin, "bound", &a.tenant_id).await;
    let obtained = a
        .with_key(
            reqwest::Method::GET,
            &format!("/api/draw/1/authentication/{}", a.tenant_id),
            &key,
        )
        .send()
        .await
        .unwrap();
    let token: Value = assert_json(obtained, StatusCode::OK).await;
    let token = token.as_str().unwrap().to_string();
    let flows_on_b = || async {
        b.client
            .get(format!("{}/api/draw/1/flow", b.address))
            .header(KEY_HEADER, &token)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(flows_on_b().await, StatusCode::OK);
    let before = hits();
    cached_on_b("a key-bound token", flows_on_b().await, before);
    delete_through(&a, &admin, "bound").await;
    within(
        "a key-bound token whose key is gone",
        Instant::now(),
        BOUND,
        || async { flows_on_b().await == StatusCode::UNAUTHORIZED },
    )
    .await;

    // An administrator's token on B, the administrator demoted through A.
    let invited = a
        .try_invite(
            &admin,
            &a.tenant_id,
            json!({ "email": "demoted@example.com", "role": { "developerName": "ADMINISTRATOR" } }),
        )
        .await;
    let added: Value = assert_json(invited, StatusCode::OK).await;
    a.accept_invitation(&added, "member password").await;
    let token = a.login("demoted@example.com", "member password").await;
    let users_on_b = || async {
        b.client
            .get(format!("{}/api/admin/1/users", b.address))
            .header("authorization", &token)
            .header(TENANT_HEADER, &a.tenant_id)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(users_on_b().await, StatusCode::OK);
    let before = hits();
    cached_on_b("an administrator's token", users_on_b().await, before);
    let id = added["id"].as_str().unwrap();
    let demoted = a
        .with_token(
            reqwest::Method::PUT,
            &format!("/api/admin/1/users/{id}"),
            &admin,
        )
        .header(TENANT_HEADER, &a.tenant_id)
        .json(&json!({ "role": { "developerName": "STANDARD_USER" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(demoted.status(), StatusCode::OK);
    within("a demoted administrator", Instant::now(), BOUND, || async {
        users_on_b().await == StatusCode::FORBIDDEN
    })
    .await;
}

#[tokio::test]
async fn revocation_arrives_when_the_listening_connection_is_killed() {
    let Some((a, b, url)) = two_instances("listener_killed").await else {
        return;
    };
    let admin = a.admin_token().await;
    let mut database = crate::postgres::connect(&url).await;
    let channel: (String,) = sqlx::query_as("SELECT 'keyflow_changes:' || current_schema()")
        .fetch_one(&mut database)
        .await
        .unwrap();
    // Both instances listen; wait until they do, then kill every listening connection.
    let since = Instant::now();
    let listeners = loop {
        let pids: Vec<(i32,)> = sqlx::query_as(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
             AND query = 'LISTEN \"' || $1 || '\"' AND pid <> pg_backend_pid()",
        )
        .bind(&channel.0)
        .fetch_all(&mut database)
        .await
        .unwrap();
        if pids.len() >= 2 {
            break pids;
        }
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "the instances never listened"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    for (pid,) in &listeners {
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .execute(&mut database)
            .await
            .unwrap();
    }
    within(
        "the lost listener",
        Instant::now(),
        Duration::from_secs(5),
        || async { b.lost() >= 1 },
    )
    .await;

    // A revocation now reaches B by the counter: B connects again only one poll interval
    // after the loss, so nothing can be heard until then.
    let caught_up = b.caught_up();
    let key = key_known_to(&a, &b, &admin, "after-kill").await;
    delete_through(&a, &admin, "after-kill").await;
    within(
        "a key deleted while B could not listen",
        Instant::now(),
        2 * BOUND, // the poll interval (and grace), with room for a loaded machine
        || async {
            b.flows_with_key(&key, &a.tenant_id).await.status() == StatusCode::UNAUTHORIZED
        },
    )
    .await;
    assert!(
        b.caught_up() > caught_up,
        "B caught up from the change counter"
    );

    // And B listens again: a later change is heard, not only polled. (Each round deletes a
    // key of its own: a deletion that finds nothing announces nothing.)
    let heard = b.heard();
    let round = std::sync::atomic::AtomicU32::new(0);
    within(
        "listening again",
        Instant::now(),
        Duration::from_secs(5),
        || async {
            let name = format!(
                "again-{}",
                round.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            );
            a.new_key_for(&admin, &name, &a.tenant_id).await;
            delete_through(&a, &admin, &name).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            b.heard() > heard
        },
    )
    .await;
}

#[tokio::test]
async fn the_command_line_on_postgresql_announces_its_changes() {
    let Some((a, b, url)) = two_instances("cli_announces").await else {
        return;
    };
    let (_token, key, _) = member_with_key(&a, &b, "cli-removed@example.com").await;
    let data_dir = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_keyflow"))
        .args(["user", "remove", "--email", "cli-removed@example.com"])
        .args(["--tenant", &a.tenant_id])
        .arg("--data-dir")
        .arg(data_dir.path())
        .env("KEYFLOW_DATABASE_URL", url.expose_secret())
        .env_remove("KEYFLOW_DATA_DIR")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "keyflow user remove failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let since = Instant::now();
    within(
        "a member removed from the command line",
        since,
        BOUND,
        || async {
            b.flows_with_key(&key, &a.tenant_id).await.status() == StatusCode::UNAUTHORIZED
        },
    )
    .await;
    within("…and on A too", since, BOUND, || async {
        a.list_flows(Some(&key), Some(&a.tenant_id)).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
}

#[tokio::test]
async fn instances_started_together_on_an_empty_database_migrate_and_seed_once() {
    let Some(url) = crate::postgres::fresh_database("started_together").await else {
        return;
    };
    let start = |url: SecretString| async move {
        let data_dir = tempfile::tempdir().unwrap();
        let mut config = ServeConfig::new(data_dir.path().to_path_buf());
        shared(&mut config, &url);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server::start(config, listener).await.expect("starts");
        let seeded = server.bootstrap().is_some();
        (seeded, data_dir)
    };
    let ((one, _d1), (two, _d2), (three, _d3)) =
        tokio::join!(start(url.clone()), start(url.clone()), start(url.clone()));
    assert_eq!(
        [one, two, three].iter().filter(|s| **s).count(),
        1,
        "exactly one seeds"
    );
    let mut database = crate::postgres::connect(&url).await;
    let (migrations,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut database)
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .count();
    assert_eq!(migrations as usize, files, "each migration applied once");
    let (tenants,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM tenants")
        .fetch_one(&mut database)
        .await
        .unwrap();
    assert_eq!(tenants, 1);
}

#[tokio::test]
async fn an_instance_with_other_secrets_refuses_to_start() {
    let Some(url) = crate::postgres::fresh_database("other_secrets").await else {
        return;
    };
    let for_a = url.clone();
    let _a = TestApp::spawn_with(move |config| shared(config, &for_a)).await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::new(data_dir.path().to_path_buf());
    shared(&mut config, &url);
    config.pepper = None; // would generate a new one into its own data directory
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = match Server::start(config, listener).await {
        Ok(_) => panic!("an instance with another pepper started"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("pepper"), "{error}");
    assert!(!error.contains(url.expose_secret()), "{error}");
}

/// The database URL's password appears in no error and no log line, whatever fails: a server
/// that cannot connect, a command that cannot, a URL that does not parse.
#[tokio::test]
async fn the_database_password_never_reaches_a_message() {
    let password = "hunter2-Secret";
    let data_dir = tempfile::tempdir().unwrap();
    let urls = [
        format!("postgres://keyflow:{password}@127.0.0.1:1/keyflow"),
        format!("postgres://keyflow:{password}@[::1:5432/keyflow"),
        format!("postgresql://keyflow:{password}@127.0.0.1:1/keyflow?sslmode=bogus"),
    ];
    for url in &urls {
        for args in [
            vec!["serve", "--listen", "127.0.0.1:0"],
            vec!["tenant", "create", "--name", "Acme"],
        ] {
            let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_keyflow"))
                .args(&args)
                .arg("--data-dir")
                .arg(data_dir.path())
                .env("KEYFLOW_DATABASE_URL", url)
                .env("KEYFLOW_LOG", "trace")
                .env_remove("KEYFLOW_DATA_DIR")
                .kill_on_drop(true)
                .output()
                .await
                .unwrap();
            let printed = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(!output.status.success(), "{args:?} with {url}: {printed}");
            assert!(!printed.is_empty(), "{args:?} says why it failed");
            assert!(
                !printed.contains(password),
                "{args:?} printed the password: {printed}"
            );
        }
    }
}

/// A TCP relay between B and PostgreSQL that can stop delivering to the connection that
/// listens, while keeping it open: a network that drops packets without a reset.
struct FreezingRelay {
    address: std::net::SocketAddr,
    frozen: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FreezingRelay {
    async fn start(upstream: String) -> FreezingRelay {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let frozen = Arc::new(AtomicBool::new(false));
        let freeze = frozen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = tokio::net::TcpStream::connect(&upstream).await.unwrap();
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let listens = Arc::new(AtomicBool::new(false));
                let marks = listens.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 16 * 1024];
                    while let Ok(read) = client_read.read(&mut buffer).await {
                        if read == 0 {
                            break;
                        }
                        if buffer[..read].windows(6).any(|w| w == b"LISTEN") {
                            marks.store(true, Ordering::SeqCst);
                        }
                        if server_write.write_all(&buffer[..read]).await.is_err() {
                            break;
                        }
                    }
                });
                let freeze = freeze.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 16 * 1024];
                    while let Ok(read) = server_read.read(&mut buffer).await {
                        if read == 0 {
                            break;
                        }
                        if listens.load(Ordering::SeqCst) && freeze.load(Ordering::SeqCst) {
                            continue; // swallowed: the connection stays open, silent
                        }
                        if client_write.write_all(&buffer[..read]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        FreezingRelay { address, frozen }
    }
}

#[tokio::test]
async fn revocation_arrives_when_the_listening_connection_goes_silent() {
    let Some(url) = crate::postgres::fresh_database("listener_silent").await else {
        return;
    };
    let for_a = url.clone();
    let a = TestApp::spawn_with(move |config| shared(config, &for_a)).await;
    // B reaches PostgreSQL through the relay: the same URL with the relay's address.
    let direct = reqwest::Url::parse(url.expose_secret()).unwrap();
    let upstream = format!(
        "{}:{}",
        direct.host_str().unwrap(),
        direct.port().unwrap_or(5432)
    );
    let relay = FreezingRelay::start(upstream).await;
    let mut relayed = direct.clone();
    relayed.set_host(Some("127.0.0.1")).unwrap();
    relayed.set_port(Some(relay.address.port())).unwrap();
    let b = Instance::start_as(&SecretString::from(relayed.to_string())).await;
    let admin = a.admin_token().await;

    // Listening works through the relay: a deletion is heard.
    let heard = b.heard();
    key_known_to(&a, &b, &admin, "heard").await;
    delete_through(&a, &admin, "heard").await;
    within(
        "a deletion heard through the relay",
        Instant::now(),
        BOUND,
        || async { b.heard() > heard },
    )
    .await;

    // The listener goes silent; a deletion still reaches B within the poll interval and the
    // grace, and B takes its listener for dead.
    relay
        .frozen
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let lost = b.lost();
    let key = key_known_to(&a, &b, &admin, "silent").await;
    delete_through(&a, &admin, "silent").await;
    within(
        "a deletion while B's listener is silent",
        Instant::now(),
        2 * BOUND, // the poll interval (and grace), with room for a loaded machine
        || async {
            b.flows_with_key(&key, &a.tenant_id).await.status() == StatusCode::UNAUTHORIZED
        },
    )
    .await;
    assert!(b.lost() > lost, "B noticed its listener was silent");
}

/// A first start refused for its settings (a password too short) claims nothing: the next
/// start, with good settings, seeds the database.
#[tokio::test]
async fn a_first_start_refused_for_its_settings_leaves_the_seeding_to_the_next() {
    let data_dir = tempfile::tempdir().unwrap();
    let postgres = crate::postgres::fresh_database("refused_first_start").await;
    let start = |password: &str| {
        let mut config = ServeConfig::new(data_dir.path().to_path_buf());
        config.database_url = postgres.clone();
        config.admin_password = Some(SecretString::from(password));
        async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            Server::start(config, listener).await
        }
    };
    let error = match start("short").await {
        Ok(_) => panic!("a 5-character administrator password was accepted"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("administrator password"), "{error}");
    let server = start(ADMIN_PASSWORD).await.expect("starts");
    assert!(server.bootstrap().is_some(), "the second start seeds");
}

/// A sharing token is cached nowhere: issued through A it imports through B, and revoked
/// through A it is refused by B on the very next import, with no announcement to wait for.
#[tokio::test]
async fn a_sharing_token_revoked_through_one_instance_is_refused_by_the_other_at_once() {
    let Some((a, b, _url)) = two_instances("a_sharing_token_across_instances").await else {
        return;
    };
    let admin = a.admin_token().await;
    let key = a.new_key_for(&admin, "sharer", &a.tenant_id).await;
    let flows = a.list_flows(Some(&key), None).await;
    let flows = assert_json(flows, StatusCode::OK).await;
    let flow = flows[0]["id"]["id"].as_str().unwrap().to_string();
    let path = format!("/api/package/1/flow/{flow}/share");
    let shared = a.with_key(reqwest::Method::POST, &path, &key).send().await;
    let shared = assert_json(shared.unwrap(), StatusCode::OK).await;
    let body = json!({ "token": shared["token"] });
    let import_through_b = || {
        b.client
            .post(format!("{}/api/package/1/shared/flow", b.address))
            .header(KEY_HEADER, &key)
            .json(&body)
            .send()
    };
    assert_eq!(import_through_b().await.unwrap().status(), StatusCode::OK);
    let revoked = a
        .with_key(reqwest::Method::DELETE, &path, &key)
        .json(&body)
        .send()
        .await;
    assert_eq!(revoked.unwrap().status(), StatusCode::OK);
    let refused = import_through_b().await.unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
}

/// A rotation through A ends the old value on B (which cached it) within the bound, with the
/// answer that says it was rotated; a maximum key lifetime lowered through A makes B drop the
/// keys it capped, so B asks storage, which has their new expiry.
#[tokio::test]
async fn a_rotation_and_a_lowered_maximum_through_one_instance_reach_the_other() {
    let Some((a, b, _url)) = two_instances("a_rotation_reaches_the_other").await else {
        return;
    };
    let admin = a.admin_token().await;
    let old = key_known_to(&a, &b, &admin, "rotating").await;
    let rotated = a
        .with_token(
            reqwest::Method::POST,
            "/api/admin/1/users/me/keys/rotating/rotate",
            &admin,
        )
        .json(&json!({"overlapSeconds": 0}))
        .send()
        .await
        .unwrap();
    let since = Instant::now();
    let new = assert_json(rotated, StatusCode::OK).await;
    within("the rotation", since, BOUND, || async {
        let answer = b.flows_with_key(&old, &a.tenant_id).await;
        answer.status() == StatusCode::UNAUTHORIZED
            && answer.json::<String>().await.unwrap().contains("rotated")
    })
    .await;
    let new = new["apiKey"].as_str().unwrap();
    assert_eq!(
        b.flows_with_key(new, &a.tenant_id).await.status(),
        StatusCode::OK
    );

    let forever = key_known_to(&a, &b, &admin, "forever").await;
    let lookups = || {
        b.state
            .metrics
            .key_store_lookups
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let lowered = a
        .with_token(reqwest::Method::POST, "/api/admin/1/tenant", &admin)
        .header(TENANT_HEADER, &a.tenant_id)
        .json(&json!({"tenantSettings": {"maxApiKeyLifetimeDays": 1}}))
        .send()
        .await
        .unwrap();
    let since = Instant::now();
    assert_json(lowered, StatusCode::OK).await;
    within("the lowered maximum", since, BOUND, || async {
        let before = lookups();
        let answer = b.flows_with_key(&forever, &a.tenant_id).await;
        answer.status() == StatusCode::OK && lookups() > before
    })
    .await;
}

/// README, "Scopes": demoting a key's owner through A narrows the key on B at once, even with
/// an `admin:…` scope: B reads the role on every request, and drops its key cache when it
/// hears the change (`Change::Members`), as for a revocation.
#[tokio::test]
async fn a_demotion_through_one_instance_narrows_the_owners_keys_on_the_other() {
    let Some((a, b, _url)) = two_instances("a_demotion_narrows_keys").await else {
        return;
    };
    let admin = a.admin_token().await;
    let added = a.invite(&admin, &a.tenant_id, "sam@example.com").await;
    a.accept_invitation(&added, "member password").await;
    let sam_path = format!("/api/admin/1/users/{}", added["id"].as_str().unwrap());
    let set_role = |role: &str| {
        a.with_token(reqwest::Method::PUT, &sam_path, &admin)
            .json(&json!({ "role": { "developerName": role } }))
            .send()
    };
    assert_json(set_role("ADMINISTRATOR").await.unwrap(), StatusCode::OK).await;
    let sam = a.login("sam@example.com", "member password").await;
    let created = a
        .with_token(reqwest::Method::POST, "/api/admin/1/users/me/keys", &sam)
        .json(&json!({ "name": "ops", "tenantId": a.tenant_id, "scopes": ["admin:read"] }))
        .send()
        .await
        .unwrap();
    let key = assert_json(created, StatusCode::OK).await["apiKey"]
        .as_str()
        .unwrap()
        .to_string();
    let users_on_b = || {
        b.client
            .get(format!("{}/api/admin/1/users", b.address))
            .header(KEY_HEADER, &key)
            .send()
    };
    // Twice on B: the second answered from its key cache.
    for _ in 0..2 {
        assert_eq!(users_on_b().await.unwrap().status(), StatusCode::OK);
    }

    let lookups = || {
        b.state
            .metrics
            .key_store_lookups
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let (heard, cached) = (b.heard(), lookups());
    let since = Instant::now();
    assert_json(set_role("STANDARD_USER").await.unwrap(), StatusCode::OK).await;
    assert_eq!(
        users_on_b().await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "the key reaches no further than its owner's role, at once"
    );
    within("the demotion", since, BOUND, || async { b.heard() > heard }).await;
    assert_eq!(users_on_b().await.unwrap().status(), StatusCode::FORBIDDEN);
    // Whichever of the two requests came after B heard the change looked the key up again.
    assert!(lookups() > cached, "B dropped its key cache");
}

/// Two instances on one database see each other in the instances table within a heartbeat or
/// two, and each takes half of every key's limit: a key's burst of 200 (the default) is 100 on
/// each, so the two together stay within the key's limit whichever one a client calls.
#[tokio::test]
async fn two_instances_see_each_other_and_each_take_half_of_a_key_limit() {
    let Some((a, b, _url)) = two_instances("rate_share").await else {
        return;
    };
    within(
        "both instances counted",
        Instant::now(),
        Duration::from_secs(5),
        || async { a.state.live_instances() == 2 && b.state.live_instances() == 2 },
    )
    .await;
    let mut db = a.postgres().await;
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM instances")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(rows, 2);
    let admin = a.admin_token().await;
    let key = a.new_key_for(&admin, "shared", &a.tenant_id).await;
    for answer in [
        a.list_flows(Some(&key), None).await,
        b.flows_with_key(&key, &a.tenant_id).await,
    ] {
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(answer.headers()["ratelimit-limit"], "100", "half of 200");
    }
}

impl Instance {
    /// `GET path` on B with a credential header, its JSON.
    async fn read(&self, path: &str, header: (&str, String)) -> Value {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .header(header.0, header.1)
            .send()
            .await
            .unwrap();
        assert_json(response, StatusCode::OK).await
    }
}

/// Every kind of cached read on B — a flow by id, an element list, the graph, snapshots, the
/// user administration, what a user reads of themselves, the key list — shows a write made
/// through A within the bound.
#[tokio::test]
async fn every_cached_read_on_one_instance_sees_a_write_through_the_other() {
    let Some((a, b, _url)) = two_instances("cached_reads_across").await else {
        return;
    };
    let admin = a.admin_token().await;
    let key = a.new_key_for(&admin, "reads", &a.tenant_id).await;
    let with_key = || (KEY_HEADER, key.clone());
    let with_token = || ("authorization", format!("Bearer {admin}"));
    let post = |path: &'static str, body: Value| {
        let (a, key) = (&a, key.clone());
        async move {
            let response = a
                .with_key(reqwest::Method::POST, path, &key)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_json(response, StatusCode::OK).await
        }
    };
    let flow = post("/api/draw/1/flow", json!({"developerName": "Before"})).await;
    let id = flow["id"]["id"].as_str().unwrap().to_string();
    let by_id = format!("/api/draw/1/flow/{id}");
    let graph = format!("/api/draw/1/graph/flow/{id}");
    let snaps = format!("/api/draw/1/flow/snap/{id}");
    let values = "/api/draw/1/element/value";
    // Each read twice on B: the second from its cache.
    for _ in 0..2 {
        b.read(&by_id, with_key()).await;
        b.read(&graph, with_key()).await;
        b.read(&snaps, with_key()).await;
        b.read(values, with_key()).await;
        b.read("/api/admin/1/users", with_token()).await;
        b.read("/api/admin/1/users/me", with_token()).await;
        b.read("/api/admin/1/users/me/keys", with_token()).await;
    }

    let mut renamed = flow.clone();
    renamed["developerName"] = json!("After");
    post("/api/draw/1/flow", renamed).await;
    post(
        values,
        json!({"developerName": "made on A", "contentType": "ContentString"}),
    )
    .await;
    let snapshot = a
        .with_key(reqwest::Method::POST, &snaps, &key)
        .json(&json!("first"))
        .send()
        .await
        .unwrap();
    assert_eq!(snapshot.status(), StatusCode::OK);
    a.invite(&admin, &a.tenant_id, "invited-on-a@example.com")
        .await;
    let names = a
        .with_token(reqwest::Method::PUT, "/api/admin/1/users/me", &admin)
        .json(&json!({"firstName": "Grace"}))
        .send()
        .await
        .unwrap();
    assert_eq!(names.status(), StatusCode::OK);
    a.new_key_for(&admin, "second", &a.tenant_id).await;

    let since = Instant::now();
    within("a renamed flow", since, BOUND, || async {
        b.read(&by_id, with_key()).await["developerName"] == "After"
    })
    .await;
    within("a renamed graph", since, BOUND, || async {
        b.read(&graph, with_key()).await["developerName"] == "After"
    })
    .await;
    within("a new snapshot", since, BOUND, || async {
        b.read(&snaps, with_key()).await.as_array().unwrap().len() == 1
    })
    .await;
    within("a new element", since, BOUND, || async {
        b.read(values, with_key())
            .await
            .to_string()
            .contains("made on A")
    })
    .await;
    within("an invitation", since, BOUND, || async {
        b.read("/api/admin/1/users", with_token())
            .await
            .to_string()
            .contains("invited-on-a@example.com")
    })
    .await;
    within("new names", since, BOUND, || async {
        b.read("/api/admin/1/users/me", with_token()).await["firstName"] == "Grace"
    })
    .await;
    within("a new key", since, BOUND, || async {
        b.read("/api/admin/1/users/me/keys", with_token())
            .await
            .as_array()
            .unwrap()
            .len()
            == 2
    })
    .await;
}

/// A run's state lives in the database: one started through A is read and continued by an
/// instance started afterwards (B, a new process as far as the state goes, as after a restart),
/// and of two invokes sent with one token, one through each instance, exactly one wins.
#[tokio::test]
async fn a_state_continues_on_another_instance_and_one_of_two_racing_invokes_wins() {
    let Some(url) = crate::postgres::fresh_database("run_across_instances").await else {
        return;
    };
    let for_a = url.clone();
    let a = TestApp::spawn_with(move |config| shared(config, &for_a)).await;
    let key = a.new_key("run").await;
    let built = crate::run::build(&a, &key, "ALL_USERS", "STEP").await;
    let (started, path) = crate::run::start_state(&a, &key, &built.flow).await;
    // B starts after the state was written: it can only know it from the database.
    let b = Instance::start(&url).await;
    let on_b = |method: reqwest::Method, body: Option<Value>| {
        let request = b
            .client
            .request(method, format!("{}{path}", b.address))
            .header(KEY_HEADER, &key);
        match body {
            Some(body) => request.json(&body),
            None => request,
        }
    };
    let joined = assert_json(
        on_b(reqwest::Method::GET, None).send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(joined["stateToken"], started["stateToken"]);
    assert_eq!(
        joined["currentMapElementId"],
        started["currentMapElementId"]
    );

    for round in 0..10 {
        let read = crate::run::ok(&a, &key, reqwest::Method::GET, &path, None).await;
        let body = |name: &str| {
            crate::run::forward(
                &read["stateToken"],
                None,
                json!([{"pageComponentId": built.name_box, "contentValue": name}]),
            )
        };
        let (through_a, through_b) = tokio::join!(
            crate::run::send(&a, &key, reqwest::Method::POST, &path, Some(body("a"))),
            on_b(reqwest::Method::POST, Some(body("b"))).send(),
        );
        let through_b = through_b.unwrap();
        let winner = match [through_a.status(), through_b.status()] {
            [StatusCode::OK, StatusCode::CONFLICT] => through_a,
            [StatusCode::CONFLICT, StatusCode::OK] => through_b,
            other => panic!("round {round}: {other:?}"),
        };
        let won = assert_json(winner, StatusCode::OK).await;
        let after = assert_json(
            on_b(reqwest::Method::GET, None).send().await.unwrap(),
            StatusCode::OK,
        )
        .await;
        assert_eq!(after["stateToken"], won["stateToken"], "round {round}");
    }

    // Continued through B to its end, then read as over through A.
    let read = crate::run::ok(&a, &key, reqwest::Method::GET, &path, None).await;
    let go = Some("00000000-0000-4000-8000-0000000000f1");
    let answers = json!([{"pageComponentId": built.name_box, "contentValue": "Ada"}]);
    let done = assert_json(
        on_b(
            reqwest::Method::POST,
            Some(crate::run::forward(&read["stateToken"], go, answers)),
        )
        .send()
        .await
        .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["invokeType"], "DONE");
    let over = crate::run::ok(&a, &key, reqwest::Method::GET, &path, None).await;
    assert_eq!(over["invokeType"], "DONE");
    assert_eq!(over["stateToken"], done["stateToken"]);
}
