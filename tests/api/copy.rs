//! `keyflow copy`: all data moved between a data directory (SQLite) and PostgreSQL, and back,
//! keeps working under the same secrets — keys list flows and reveal their values, passwords
//! sign in, flows keep their snapshots, invitation links are accepted — and a target that holds
//! anything is refused without a change. Below the command, the `Transfer` contract every
//! backend keeps: every row imported reads back unchanged, and an import is all or nothing.

use std::path::Path;
use std::time::Duration;

use keyflow::app::Server;
use keyflow::config::ServeConfig;
use keyflow::copy::{self, SecretFiles};
use keyflow::domain::element::{ElementKind, ElementName};
use keyflow::domain::flow::FlowSettings;
use keyflow::domain::{
    Digest, FlowId, KeyId, Role, StateId, StateToken, TenantId, Timestamp, UserId, VersionId,
};
use keyflow::store::transfer::{
    ApiKeyRow, AuditRow, ElementRow, FlowElementRow, FlowRow, FlowUseRow, InvitationRow, LeakRow,
    MembershipRow, MetaRow, PreviousKeyRow, ShareRow, SnapshotRow, TokenRow, WebSessionRow,
};
use keyflow::store::{
    self, Dump, Edit, FlowGraphWrite, FlowUse, GraphMode, NewElement, RunState, StoreConfig,
    StoreError, Tenant, User,
};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::helpers::{
    KEY_HEADER, TENANT_HEADER, TestApp, assert_json, clean_env, flow_names, link_token, show,
};
use crate::postgres::fresh_database;

const FLOW: &str = "/api/draw/1/flow";
const SAM: &str = "sam@example.com";
const SAM_PASSWORD: &str = "sam's long password";
const IVY: &str = "ivy@example.com";
const IVY_PASSWORD: &str = "ivy's long password";

/// What the source was given through the API and the command line, to look for after a move.
struct Fixture {
    admin_email: String,
    admin_password: String,
    example: String,
    second: String,
    /// The administrator's key for Example, named `moved`.
    key: String,
    /// The administrator's key for the second tenant.
    second_key: String,
    flow: String,
    snapshot_version: String,
    /// The token of Ivy's invitation link to Example.
    ivy_link: String,
    /// A sharing token of the flow's package.
    share: String,
}

/// Fills a fresh server: a second tenant, a second user, keys in both tenants, a flow with an
/// activated snapshot shared by token, a pending invitation; the audit trail follows from these.
async fn fill(app: &TestApp) -> Fixture {
    let second = app.second_tenant("Second").await;
    app.create_user(SAM, SAM_PASSWORD, &app.tenant_id).await;
    let token = app.admin_token().await;
    let key = app.new_key_for(&token, "moved", &app.tenant_id).await;
    let second_key = app.new_key_for(&token, "moved too", &second).await;
    let body = json!({ "developerName": "Copied flow", "developerSummary": "v1" });
    let created = app
        .with_key(Method::POST, FLOW, &key)
        .json(&body)
        .send()
        .await;
    let flow = assert_json(created.unwrap(), StatusCode::OK).await;
    let id = flow["id"]["id"].as_str().unwrap().to_string();
    use_an_element(app, &id).await;
    let snap = app
        .with_key(Method::POST, &format!("{FLOW}/snap/{id}"), &key)
        .json(&json!("before the move"))
        .send()
        .await
        .unwrap();
    let snapshot = assert_json(snap, StatusCode::OK).await;
    let version = snapshot["id"]["versionId"].as_str().unwrap().to_string();
    let activation = format!("{FLOW}/activation/{id}/{version}/true/true");
    let activated = app.with_key(Method::POST, &activation, &key).send().await;
    assert_json(activated.unwrap(), StatusCode::OK).await;
    let invited = app.invite(&token, &app.tenant_id, IVY).await;
    let shared = app
        .with_key(
            Method::POST,
            &format!("/api/package/1/flow/{id}/share"),
            &key,
        )
        .send()
        .await;
    let shared = assert_json(shared.unwrap(), StatusCode::OK).await;
    Fixture {
        admin_email: app.admin_email.clone(),
        admin_password: app.admin_password.clone(),
        example: app.tenant_id.clone(),
        second,
        key,
        second_key,
        flow: id,
        snapshot_version: version,
        ivy_link: link_token(&invited),
        share: shared["token"].as_str().unwrap().to_string(),
    }
}

/// Gives the flow a tenant element to use (through the store: the copy must carry the
/// elements, the flow's graph and its uses).
async fn use_an_element(app: &TestApp, flow: &str) {
    let store = &app.state.store;
    let tenant = TenantId::parse(&app.tenant_id).unwrap();
    let email = keyflow::domain::Email::parse(&app.admin_email).unwrap();
    let admin = store.user_by_email(&email).await.unwrap().unwrap().id;
    let mut document = serde_json::Map::new();
    document.insert("elementType".into(), json!("VARIABLE"));
    let element = store
        .save_element(
            tenant,
            NewElement {
                id: uuid::Uuid::new_v4(),
                kind: ElementKind::Value,
                name: ElementName::parse("Moved value").unwrap(),
                document,
                author: admin,
            },
        )
        .await
        .unwrap();
    let write = FlowGraphWrite {
        id: FlowId::parse(flow).unwrap(),
        mode: GraphMode::Update(Edit::default()),
        header: None,
        start_map_element_id: None,
        elements: None,
        uses: Some(vec![FlowUse {
            element: element.id,
            imported: true,
        }]),
        author: admin,
    };
    store.write_flow(tenant, write).await.unwrap();
}

/// A server of the tests' own on `config`, stopped cleanly by [`Served::stop`].
struct Served {
    address: String,
    client: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Served {
    async fn start(config: ServeConfig) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server::start(config, listener)
            .await
            .expect("the server starts on the copied data");
        assert!(
            server.bootstrap().is_none(),
            "the copied data is not empty: nothing to seed"
        );
        let address = format!("http://{}", server.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        Served {
            address,
            client: reqwest::Client::new(),
            stop,
            task,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
    }

    async fn sign_in(&self, email: &str, password: &str) -> String {
        let answer = self
            .request(Method::POST, "/api/draw/1/authentication")
            .json(&json!({ "username": email, "password": password }))
            .send()
            .await
            .unwrap();
        let token = assert_json(answer, StatusCode::OK).await;
        token.as_str().unwrap().to_string()
    }

    async fn with_key(&self, path: &str, key: &str, tenant: &str) -> Value {
        let answer = self
            .request(Method::GET, path)
            .header(KEY_HEADER, key)
            .header(TENANT_HEADER, tenant)
            .send()
            .await
            .unwrap();
        assert_json(answer, StatusCode::OK).await
    }
}

/// Everything [`fill`] made is there and works on `server`: the keys (their digests under the
/// pepper, their sealed values under the master key), the passwords, the flow with its
/// activated snapshot and its sharing token, and, unless already used, Ivy's invitation link.
async fn assert_moved(server: &Served, fixture: &Fixture, accept_invitation: bool) {
    let flows = server.with_key(FLOW, &fixture.key, &fixture.example).await;
    assert!(
        flow_names(&flows).contains(&"Copied flow".to_string()),
        "{flows}"
    );
    let snaps = format!("{FLOW}/snap/{}", fixture.flow);
    let snaps = server
        .with_key(&snaps, &fixture.key, &fixture.example)
        .await;
    assert_eq!(snaps.as_array().unwrap().len(), 1, "{snaps}");
    assert_eq!(snaps[0]["comment"], "before the move");
    let active = format!("{FLOW}/active/{}", fixture.flow);
    let active = server
        .with_key(&active, &fixture.key, &fixture.example)
        .await;
    assert_eq!(active["id"]["versionId"], fixture.snapshot_version.as_str());
    assert_eq!(active["isDefault"], true);
    let second = server
        .with_key(FLOW, &fixture.second_key, &fixture.second)
        .await;
    assert!(second.is_array(), "{second}");
    // The sharing token (its digest under the pepper) imports the flow into the second tenant.
    let imported = server
        .request(Method::POST, "/api/package/1/shared/flow")
        .header(KEY_HEADER, &fixture.second_key)
        .json(&json!({ "token": fixture.share }))
        .send()
        .await
        .unwrap();
    let imported = assert_json(imported, StatusCode::OK).await;
    assert_eq!(imported["developerName"], "Copied flow");

    let token = server
        .sign_in(&fixture.admin_email, &fixture.admin_password)
        .await;
    let revealed = server
        .request(Method::POST, "/api/admin/1/users/me/keys/moved/reveal")
        .header("authorization", &token)
        .send()
        .await
        .unwrap();
    let revealed = assert_json(revealed, StatusCode::OK).await;
    assert_eq!(revealed["apiKey"], fixture.key.as_str());
    server.sign_in(SAM, SAM_PASSWORD).await;

    if accept_invitation {
        let accepted = server
            .request(Method::POST, "/api/admin/1/users/password")
            .json(&json!({ "token": fixture.ivy_link, "password": IVY_PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            accepted.status(),
            StatusCode::OK,
            "the invitation link was refused"
        );
    }
    server.sign_in(IVY, IVY_PASSWORD).await;
}

/// A server's settings on `data_dir`, PostgreSQL when `database` is given.
fn settings(data_dir: &Path, database: Option<&SecretString>) -> ServeConfig {
    let mut config = ServeConfig::new(data_dir.to_path_buf());
    config.database_url = database.cloned();
    config.auth_failure_burst = 1000;
    config
}

/// The generated secrets of a data directory, as `KEYFLOW_PEPPER` and `KEYFLOW_MASTER_KEY`
/// would give them.
fn secrets_of(data_dir: &Path) -> (SecretString, SecretString) {
    let read = |file: &str| {
        let text = std::fs::read_to_string(data_dir.join("secrets").join(file)).unwrap();
        SecretString::from(text.trim().to_string())
    };
    (read("pepper"), read("master.key"))
}

async fn export(config: &StoreConfig) -> Dump {
    let store = store::open(config).await.unwrap();
    let dump = store.export().await.unwrap();
    store.close().await;
    dump
}

/// Two dumps hold the same rows. `Debug` shows every field but the digests (which print as
/// `Digest(…)`); the keys, tokens and links working after a move show those were copied.
fn assert_same_rows(a: &Dump, b: &Dump) {
    assert_eq!(a.counts(), b.counts());
    assert_eq!(format!("{a:#?}"), format!("{b:#?}"));
}

/// Runs the built `keyflow copy --from … --to …`.
async fn copy_command(from: &str, to: &str) -> std::process::Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_keyflow"));
    command.args(["copy", "--from", from, "--to", to]);
    clean_env(&mut command);
    command.env_remove("KEYFLOW_DATABASE_URL");
    command.kill_on_drop(true).output().await.unwrap()
}

#[tokio::test]
async fn a_data_directory_copied_to_a_new_one_works_there_with_its_secrets() {
    let app = TestApp::spawn().await;
    let fixture = fill(&app).await;
    let before = app.row_counts().await;
    assert!(before["audit_events"] > 0, "{before:?}");
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("moved");
    let (from, to) = (
        StoreConfig::in_data_dir(app.data_dir()),
        StoreConfig::in_data_dir(&target),
    );

    let copied = copy::copy(&from, &to).await.unwrap();
    // The source's server is still running (the test's app), and the copy says so.
    assert!(copied.source_in_use.is_some());
    for (table, count) in &copied.counts {
        // SQLite's revocation counter is a `meta` row of its own, never copied.
        let expected = before[*table] - i64::from(*table == "meta");
        assert_eq!(*count as i64, expected, "{table}");
    }
    assert!(
        copied.summary().contains("api_keys"),
        "{}",
        copied.summary()
    );
    assert_eq!(
        copied.secrets,
        SecretFiles::Copied(vec!["pepper", "master.key"])
    );
    for file in ["pepper", "master.key"] {
        assert_eq!(
            std::fs::read(target.join("secrets").join(file)).unwrap(),
            std::fs::read(app.data_dir().join("secrets").join(file)).unwrap()
        );
    }
    assert_same_rows(&app.state.store.export().await.unwrap(), &export(&to).await);

    let server = Served::start(settings(&target, None)).await;
    assert_moved(&server, &fixture, true).await;
    server.stop().await;
}

#[tokio::test]
async fn data_moved_to_postgresql_and_back_works_with_the_same_secrets() {
    let Some(url) = fresh_database("copy_round_trip").await else {
        return;
    };
    let app = TestApp::spawn().await;
    let fixture = fill(&app).await;
    let postgres = StoreConfig::Postgres { url: url.clone() };

    // To PostgreSQL with the command: it prints the counts and where, never the URL.
    let out = copy_command(app.data_dir().to_str().unwrap(), url.expose_secret()).await;
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("to PostgreSQL postgres@127.0.0.1:5432/"),
        "{stdout}"
    );
    assert!(stdout.contains("flow_snapshots"), "{stdout}");
    assert!(stdout.contains("KEYFLOW_PEPPER"), "{stdout}");
    for text in [&stdout, &stderr] {
        assert!(!text.contains(url.expose_secret()), "the URL was printed");
    }
    assert_same_rows(
        &app.state.store.export().await.unwrap(),
        &export(&postgres).await,
    );

    // A server on PostgreSQL, given the source's secrets in its settings (as in
    // KEYFLOW_PEPPER and KEYFLOW_MASTER_KEY), serves everything.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut config = settings(elsewhere.path(), Some(&url));
    let (pepper, master_key) = secrets_of(app.data_dir());
    config.pepper = Some(pepper);
    config.master_key = Some(master_key);
    let server = Served::start(config).await;
    assert_moved(&server, &fixture, true).await;
    server.stop().await;

    // Back into a new data directory, with the library; its secrets/ folder gets the source's
    // files by hand, as an operator would restore them.
    let parent = tempfile::tempdir().unwrap();
    let back = parent.path().join("back");
    let copied = copy::copy(&postgres, &StoreConfig::in_data_dir(&back))
        .await
        .unwrap();
    assert_eq!(copied.secrets, SecretFiles::NotFiles);
    assert!(copied.source_in_use.is_none());
    assert_same_rows(
        &export(&postgres).await,
        &export(&StoreConfig::in_data_dir(&back)).await,
    );
    std::fs::create_dir(back.join("secrets")).unwrap();
    for file in ["pepper", "master.key"] {
        std::fs::copy(
            app.data_dir().join("secrets").join(file),
            back.join("secrets").join(file),
        )
        .unwrap();
    }
    let server = Served::start(settings(&back, None)).await;
    // Ivy accepted on PostgreSQL: she signs in here with the password she chose there.
    assert_moved(&server, &fixture, false).await;
    server.stop().await;
}

#[tokio::test]
async fn a_target_that_holds_data_or_is_the_source_is_refused_and_left_unchanged() {
    let app = TestApp::spawn().await;
    fill(&app).await;
    let source = StoreConfig::in_data_dir(app.data_dir());
    let parent = tempfile::tempdir().unwrap();
    let target_dir = parent.path().join("target");
    let target = StoreConfig::in_data_dir(&target_dir);
    copy::copy(&source, &target).await.unwrap();
    // The source gets one more key, so a second copy would change the target.
    app.new_key("later").await;
    let before = export(&target).await;

    let error = copy::copy(&source, &target).await.unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("the target is not empty"), "{message}");
    assert!(message.contains("tenants"), "{message}");
    assert_same_rows(&before, &export(&target).await);

    // The command says the same, on one error line, exiting 1.
    let out = copy_command(
        app.data_dir().to_str().unwrap(),
        target_dir.to_str().unwrap(),
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: the target is not empty"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "{}", show(&out));
    assert_same_rows(&before, &export(&target).await);

    // The same place, however spelled, and a directory with no database are refused.
    let spelled = parent.path().join("target/../target");
    let error = copy::copy(&target, &StoreConfig::in_data_dir(&spelled))
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("are the same"), "{error:#}");
    let foreign = parent.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    use std::os::unix::fs::PermissionsExt;
    let readable = std::fs::Permissions::from_mode(0o644);
    std::fs::set_permissions(foreign.join("notes.txt"), readable).unwrap();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let error = copy::copy(&target, &StoreConfig::in_data_dir(&foreign))
        .await
        .unwrap_err();
    assert!(
        format!("{error:#}").contains("holds files but no keyflow database"),
        "{error:#}"
    );
    assert_eq!(
        mode(&foreign.join("notes.txt")),
        0o644,
        "a foreign file was changed"
    );
    assert!(!foreign.join("keyflow.db").exists());
    let empty = parent.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let error = copy::copy(&StoreConfig::in_data_dir(&empty), &target)
        .await
        .unwrap_err();
    assert!(
        format!("{error:#}").contains("holds no keyflow database"),
        "{error:#}"
    );

    // PostgreSQL: the same refusal once it holds the data, and nothing changes.
    let Some(url) = fresh_database("copy_refused").await else {
        return;
    };
    let postgres = StoreConfig::Postgres { url: url.clone() };
    copy::copy(&target, &postgres).await.unwrap();
    let before = export(&postgres).await;
    let error = copy::copy(&source, &postgres).await.unwrap_err();
    assert!(
        format!("{error:#}").contains("the target is not empty"),
        "{error:#}"
    );
    assert_same_rows(&before, &export(&postgres).await);
    let error = copy::copy(&postgres, &StoreConfig::Postgres { url }).await;
    assert!(format!("{:#}", error.unwrap_err()).contains("are the same"));
}

/// An empty store of every backend the tests reach: SQLite always, PostgreSQL when
/// `KEYFLOW_TEST_POSTGRES_URL` is set. The directory must outlive the store.
async fn empty_stores(test: &str) -> Vec<(StoreConfig, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let mut stores = vec![(StoreConfig::in_data_dir(dir.path()), Some(dir))];
    if let Some(url) = fresh_database(test).await {
        stores.push((StoreConfig::Postgres { url }, None));
    }
    stores
}

/// Rows of every table, made by hand, in the order an export lists them (oldest first).
fn handmade_dump() -> (Dump, [Digest; 6]) {
    let base = Timestamp::now();
    let at = |seconds: u64| base.plus(Duration::from_secs(seconds));
    let digests = [1u8, 2, 3, 4, 5, 6].map(|byte| Digest::from_bytes([byte; 32]));
    let [link, key, other_key, token, session, share] = digests;
    let (one, two) = (TenantId::generate(), TenantId::generate());
    let (admin, invitee) = (UserId::generate(), UserId::generate());
    let flow = FlowId::generate();
    let start = uuid::Uuid::new_v4();
    let sealed_key = KeyId::generate();
    let value = uuid::Uuid::new_v4();
    let version = |id: VersionId| FlowRow {
        id: flow,
        tenant_id: one,
        version_id: id,
        editing_token: uuid::Uuid::new_v4(),
        developer_name: "Copied Flow".into(),
        name_folded: "copied flow".into(),
        developer_summary: Some("a summary".into()),
        start_map_element_id: Some(start.to_string()),
        settings: serde_json::to_value(FlowSettings {
            allow_jumping: true,
            tags: Some(vec!["moved".into()]),
            ..FlowSettings::default()
        })
        .unwrap(),
        date_created: at(11),
        date_modified: at(12),
        who_created: admin,
        who_modified: admin,
        who_owner: admin,
    };
    let dump = Dump {
        tenants: vec![
            Tenant {
                id: one,
                name: "One".into(),
                summary: Some("the first".into()),
                created_at: at(0),
                settings: Some(r#"{"themes":true,"kept":"as sent"}"#.into()),
                max_key_lifetime_seconds: Some(30 * 86_400),
                key_rate_per_second: Some(50),
                key_rate_burst: Some(80),
            },
            Tenant {
                id: two,
                name: "Two".into(),
                summary: None,
                created_at: at(1),
                settings: None,
                max_key_lifetime_seconds: None,
                key_rate_per_second: None,
                key_rate_burst: None,
            },
        ],
        users: vec![
            User {
                id: admin,
                email: "admin@example.com".into(),
                first_name: Some("Ada".into()),
                last_name: None,
                password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
                created_at: at(2),
            },
            User {
                id: invitee,
                email: "ivy@example.com".into(),
                first_name: None,
                last_name: None,
                password_hash: None,
                created_at: at(3),
            },
        ],
        memberships: vec![
            MembershipRow {
                user_id: admin,
                tenant_id: one,
                role: Role::Administrator,
                created_at: at(4),
            },
            MembershipRow {
                user_id: admin,
                tenant_id: two,
                role: Role::Standard,
                created_at: at(5),
            },
        ],
        invitations: vec![InvitationRow {
            id: invitee,
            user_id: invitee,
            tenant_id: one,
            role: Role::Standard,
            first_name: Some("Ivy".into()),
            last_name: Some("Moved".into()),
            link_digest: link,
            link_expires_at: at(86_400),
            created_at: at(6),
        }],
        api_keys: vec![
            ApiKeyRow {
                id: sealed_key,
                user_id: admin,
                tenant_id: one,
                name: "sealed".into(),
                digest: key,
                preview: "kf_…abcd".into(),
                sealed: Some(vec![0, 1, 2, 254, 255]),
                created_at: at(7),
                expires_at: None,
                rotated_at: Some(at(12)),
                expiry_recorded: false,
                scopes: String::new(),
                allowed_networks: String::new(),
                last_used_at: Some(at(9)),
                last_used_address: Some("203.0.113.7".into()),
                rate_per_second: Some(20),
                rate_burst: Some(40),
            },
            ApiKeyRow {
                id: KeyId::generate(),
                user_id: admin,
                tenant_id: two,
                name: "expiring".into(),
                digest: other_key,
                preview: "kf_…wxyz".into(),
                sealed: None,
                created_at: at(8),
                expires_at: Some(at(2 * 86_400)),
                rotated_at: None,
                expiry_recorded: true,
                // A narrowed key: its scopes and networks travel as stored.
                scopes: "flows:read admin:write".into(),
                allowed_networks: "10.0.0.0/8,2001:db8::/32".into(),
                last_used_at: None,
                last_used_address: None,
                rate_per_second: None,
                rate_burst: None,
            },
        ],
        // The value the sealed key's rotation superseded, until the end of its overlap.
        api_key_previous: vec![PreviousKeyRow {
            digest: Digest::from_bytes([42; 32]),
            key_id: sealed_key,
            preview: "kf_…old1".into(),
            valid_until: at(12 + 3_600),
        }],
        tokens: vec![TokenRow {
            digest: token,
            user_id: admin,
            tenant_id: one,
            created_at: at(9),
            expires_at: at(86_400),
            signed_in_at: at(3),
            // Bound to the sealed key: the column travels, and the key before it.
            key_id: Some(sealed_key),
        }],
        web_sessions: vec![WebSessionRow {
            digest: session,
            user_id: admin,
            created_at: at(10),
            expires_at: at(86_400),
        }],
        flows: vec![version(VersionId::generate())],
        flow_snapshots: vec![SnapshotRow {
            version: version(VersionId::generate()),
            comment: Some("frozen".into()),
            snapped_at: at(13),
            is_active: true,
            is_default: true,
            activated_at: Some(at(14)),
            activated_by_email: Some("admin@example.com".into()),
            image: Some(r#"{"mapElements":[],"valueElements":[]}"#.into()),
        }],
        elements: vec![ElementRow {
            tenant_id: one,
            id: value,
            kind: "value".into(),
            developer_name: "Total".into(),
            name_folded: "total".into(),
            document: json!({"elementType": "VARIABLE", "contentType": "ContentNumber",
                             "note": "nul \u{0}, ünï", "defaultContentValue": null}),
            date_created: at(11),
            date_modified: at(12),
            who_created: admin,
            who_modified: invitee,
        }],
        flow_elements: vec![FlowElementRow {
            flow_id: flow,
            id: start,
            kind: "map".into(),
            developer_name: "Start".into(),
            document: json!({"elementType": "START", "developerName": "Start",
                             "x": 100, "y": -7, "valueElementId": value.to_string()}),
            date_created: at(11),
            date_modified: at(12),
            who_created: admin,
            who_modified: admin,
            edit_token: uuid::Uuid::new_v4(),
        }],
        flow_uses: vec![FlowUseRow {
            flow_id: flow,
            tenant_id: one,
            element_id: value,
            imported: true,
        }],
        package_shares: vec![ShareRow {
            digest: share,
            tenant_id: one,
            flow_id: flow,
            version_id: VersionId::generate(),
            package: r#"{"packageVersion":1,"note":"nul \u0000, ünï"}"#.into(),
            created_by: invitee,
            created_at: at(17),
            expires_at: at(7 * 86_400),
        }],
        flow_states: vec![RunState {
            id: StateId::random(),
            tenant_id: one,
            flow_id: flow,
            version_id: VersionId::generate(),
            state_token: StateToken::random(),
            current_element: Some(start.to_string()),
            status: "IN_PROGRESS".into(),
            state_values: r#"{"a":"nul \u0000, ünï"}"#.into(),
            history: "[]".into(),
            created_by: None,
            created_at: at(18),
            updated_at: at(19),
            expires_at: Some(at(20)),
        }],
        audit_events: vec![
            AuditRow {
                id: uuid::Uuid::new_v4(),
                at: at(15),
                actor_id: Some(admin),
                tenant_id: Some(one),
                action: "key.created".into(),
                subject: Some("sealed".into()),
                address: Some("10.0.0.1".into()),
                request_id: Some("req-1".into()),
                data: Some(r#"{"key":"sealed","count":2}"#.into()),
            },
            AuditRow {
                id: uuid::Uuid::new_v4(),
                at: at(16),
                actor_id: None,
                tenant_id: None,
                action: "user.added".into(),
                subject: None,
                address: None,
                request_id: None,
                data: None,
            },
        ],
        leak_reports: vec![LeakRow {
            id: uuid::Uuid::new_v4(),
            at: at(18),
            user_id: admin,
            tenant_id: one,
            key_name: "leaked".into(),
            preview: "kf_…wxyz".into(),
            url: Some("https://example.com/paste".into()),
            address: Some("192.0.2.7".into()),
        }],
        meta: vec![
            MetaRow {
                key: "fingerprint:master.key".into(),
                value: "aa".into(),
            },
            MetaRow {
                key: "fingerprint:pepper".into(),
                value: "bb".into(),
            },
        ],
    };
    (dump, digests)
}

#[tokio::test]
async fn every_backend_imports_every_row_and_exports_it_unchanged() {
    for (config, _dir) in empty_stores("transfer contract").await {
        let store = store::open(&config).await.unwrap();
        let empty = store.export().await.unwrap();
        assert!(empty.counts().iter().all(|(_, n)| *n == 0), "{empty:?}");
        let (dump, [link, key, other_key, token, session, share]) = handmade_dump();
        store.import(dump.clone()).await.unwrap();
        assert_same_rows(&dump, &store.export().await.unwrap());

        // What the store's own operations read back, digests included.
        let (one, admin, flow) = (dump.tenants[0].id, dump.users[0].id, dump.flows[0].id);
        let grant = store.key_by_digest(&key).await.unwrap().unwrap();
        assert_eq!((grant.user_id, grant.tenant_id), (admin, one));
        let grant = store.key_by_digest(&other_key).await.unwrap().unwrap();
        assert_eq!(grant.expires_at, dump.api_keys[1].expires_at);
        let keys = store.keys_of_user(admin).await.unwrap();
        assert_eq!(keys[0].sealed, dump.api_keys[0].sealed);
        let grant = store.token_by_digest(&token).await.unwrap().unwrap();
        assert_eq!(
            (grant.signed_in_at, grant.key_id),
            (dump.tokens[0].signed_in_at, dump.tokens[0].key_id)
        );
        assert!(store.session_by_digest(&session).await.unwrap().is_some());
        let invited = store.invitation_by_link(&link, Timestamp::now()).await;
        let invited = invited.unwrap().unwrap();
        assert_eq!(
            (invited.user_id, invited.password_hash),
            (dump.users[1].id, None)
        );
        let email = keyflow::domain::Email::parse("admin@example.com").unwrap();
        let user = store.user_by_email(&email).await.unwrap().unwrap();
        assert_eq!(user.password_hash, dump.users[0].password_hash);
        assert_eq!(store.memberships(admin).await.unwrap().len(), 2);
        let tenant = store.tenant(one).await.unwrap().unwrap();
        assert_eq!(tenant.settings, dump.tenants[0].settings);
        let current = store.flow(one, flow).await.unwrap().unwrap();
        assert!(current.settings.allow_jumping);
        assert_eq!(
            current.who_owner.email.as_deref(),
            Some("admin@example.com")
        );
        let running = store.active_flows(one, None, None).await.unwrap();
        assert_eq!(running.len(), 1);
        assert_eq!(
            running[0].snapshot.as_ref().unwrap().comment.as_deref(),
            Some("frozen")
        );
        let elements = store.flow_elements(one, flow).await.unwrap();
        assert_eq!(
            (elements[0].id, elements[0].document["y"].as_i64()),
            (dump.flow_elements[0].id, Some(-7))
        );
        let value = store
            .element(one, dump.elements[0].id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(value.document["note"], "nul \u{0}, ünï");
        assert_eq!(value.who_modified.id, dump.users[1].id);
        let uses = store.flow_uses(one, flow).await.unwrap();
        assert_eq!((uses[0].element, uses[0].imported), (value.id, true));
        let frozen = dump.flow_snapshots[0].version.version_id;
        let image = store.snapshot_image(one, flow, frozen).await.unwrap();
        assert_eq!(image, dump.flow_snapshots[0].image);
        let shared = store
            .shared_package(&share, Timestamp::now())
            .await
            .unwrap();
        let shared = shared.expect("the share is live");
        let row = &dump.package_shares[0];
        assert_eq!(
            (shared.tenant_id, shared.flow_id, shared.version_id),
            (one, flow, row.version_id)
        );
        assert_eq!(
            (&shared.package, shared.expires_at),
            (&row.package, row.expires_at)
        );
        let pepper = store.meta("fingerprint:pepper").await.unwrap();
        assert_eq!(pepper.as_deref(), Some("bb"));

        // A second import is refused, naming what the store holds, and changes nothing.
        let (again, _) = handmade_dump();
        match store.import(again).await {
            Err(StoreError::Conflict(message)) => {
                assert!(message.contains("not empty"), "{message}");
                assert!(message.contains("tenants"), "{message}");
            }
            other => panic!("a second import was not refused: {other:?}"),
        }
        assert_same_rows(&dump, &store.export().await.unwrap());
        store.close().await;
    }
}

#[tokio::test]
async fn an_import_that_fails_on_its_last_row_writes_nothing() {
    for (config, _dir) in empty_stores("transfer all or nothing").await {
        let store = store::open(&config).await.unwrap();
        let (mut dump, _) = handmade_dump();
        // The last table written gets a key twice: the import fails at its very end.
        dump.meta.push(dump.meta[0].clone());
        let result = store.import(dump).await;
        assert!(matches!(result, Err(StoreError::Internal(_))), "{result:?}");
        let after = store.export().await.unwrap();
        assert!(after.counts().iter().all(|(_, n)| *n == 0), "{after:?}");
        store.close().await;
    }
}
