//! When each key was last used and from where: in the key list and on the settings page,
//! written behind the hot path once a minute a key, and flushed at a graceful stop. Waits poll
//! with a deadline. (A test server's coarse minute moves only after a minute of its life,
//! which no test here lasts: every use in a test falls within one minute.)

use std::time::{Duration, Instant};

use keyflow::app::Server;
use keyflow::config::ServeConfig;
use keyflow::domain::Email;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::Value;

use crate::helpers::{ADMIN_PASSWORD, TestApp, assert_json, both_backends, fresh_database};

both_backends! {
    a_used_key_shows_when_and_from_where,
    uses_within_a_minute_are_written_once,
    a_graceful_stop_writes_the_uses_still_queued,
}

const DEADLINE: Duration = Duration::from_secs(10);

/// The key list's row for `name`, once `ready` holds of it (polled until the deadline).
async fn row_once(app: &TestApp, token: &str, name: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let list = app.key_list(token).await;
        let row = list
            .into_iter()
            .find(|k| k["name"] == name)
            .expect("listed");
        if ready(&row) || start.elapsed() > DEADLINE {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_used_key_shows_when_and_from_where() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let key = app.new_key_for(&token, "used", &app.tenant_id).await;
    app.new_key_for(&token, "unused", &app.tenant_id).await;
    let unused = row_once(&app, &token, "used", |_| true).await;
    assert_eq!(unused["lastUsedAt"], Value::Null);
    assert_eq!(unused["lastUsedAddress"], Value::Null);

    let response = app.list_flows(Some(&key), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let row = row_once(&app, &token, "used", |row| !row["lastUsedAt"].is_null()).await;
    let at = row["lastUsedAt"].as_str().expect("lastUsedAt is set");
    assert!(crate::helpers::is_rfc3339_utc(at), "{at}");
    assert_eq!(row["lastUsedAddress"], "127.0.0.1");
    let other = row_once(&app, &token, "unused", |_| true).await;
    assert_eq!(other["lastUsedAt"], Value::Null);

    // The settings page shows it too.
    let mut browser = crate::browser::Browser::signed_in(&app).await;
    let html = browser.get("/settings").await.html;
    assert!(html.contains("Last used"), "{html}");
    assert!(html.contains("from <code>127.0.0.1</code>"));
    assert!(html.contains("Never"), "the unused key");
}

async fn uses_within_a_minute_are_written_once() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let busy = app.new_key_for(&token, "busy", &app.tenant_id).await;
    let marker = app.new_key_for(&token, "marker", &app.tenant_id).await;
    let records = app.metric("keyflow_key_usage_records_total").await;
    // Early answers and routed ones alike.
    for round in 0..30 {
        let path = if round % 3 == 0 {
            "/api/draw/1/flow?page=1"
        } else {
            "/api/draw/1/flow"
        };
        let response = app.get_flows(path, Some(&busy), None).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    // The marker's use is queued after every use of `busy`: once it is written, so are they.
    app.list_flows(Some(&marker), None).await;
    row_once(&app, &token, "marker", |row| !row["lastUsedAt"].is_null()).await;
    let busy_row = row_once(&app, &token, "busy", |_| true).await;
    assert!(!busy_row["lastUsedAt"].is_null());
    assert_eq!(
        app.metric("keyflow_key_usage_records_total").await,
        records + 2,
        "thirty uses of one key in a minute are one record, and the marker's another"
    );
    assert_eq!(app.metric("keyflow_key_usage_dropped_total").await, 0);
}

async fn a_graceful_stop_writes_the_uses_still_queued() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::new(data_dir.path().to_path_buf());
    config.database_url = fresh_database().await;
    config.admin_password = Some(SecretString::from(ADMIN_PASSWORD));
    let store_config = config.store();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server::start(config, listener).await.unwrap();
    let address = format!("http://{}", server.local_addr());
    let boot = server.bootstrap().cloned().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::new();
    let login = client
        .post(format!("{address}/api/draw/1/authentication"))
        .json(&serde_json::json!({ "username": boot.admin_email, "password": ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap();
    let token = assert_json(login, StatusCode::OK).await;
    let token = token.as_str().unwrap().to_string();
    let mut keys = Vec::new();
    for i in 0..20 {
        let created = client
            .post(format!("{address}/api/admin/1/users/me/keys"))
            .header("authorization", &token)
            .json(&serde_json::json!({ "name": format!("k{i}"), "tenantId": boot.tenant_id }))
            .send()
            .await
            .unwrap();
        let created = assert_json(created, StatusCode::OK).await;
        keys.push(created["apiKey"].as_str().unwrap().to_string());
    }
    // Twenty keys used, and the stop asked for at once.
    for key in &keys {
        let used = client
            .get(format!("{address}/api/draw/1/flow"))
            .header("x-boomi-flow-api-key", key)
            .send()
            .await
            .unwrap();
        assert_eq!(used.status(), StatusCode::OK);
    }
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();

    // Read back from the stopped server's storage.
    let store = keyflow::store::open(&store_config).await.unwrap();
    let admin = store
        .user_by_email(&Email::parse(&boot.admin_email).unwrap())
        .await
        .unwrap()
        .unwrap();
    let stored = store.keys_of_user(admin.id).await.unwrap();
    assert_eq!(stored.len(), 20);
    for key in &stored {
        assert!(key.last_used_at.is_some(), "{} lost its use", key.name);
        assert_eq!(key.last_used_address.as_deref(), Some("127.0.0.1"));
    }
    store.close().await;
}
