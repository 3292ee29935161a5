//! The `keyflow serve` binary across starts and stops: it refuses the wrong secrets, a restart
//! under the reveal policy `never` erases the sealed copies, and SIGTERM lets a request in
//! flight finish.

use std::path::Path;
use std::process::Output;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::at_rest::{PATIENCE, Remote, ServeProcess, serve_command};
use crate::helpers::{assert_error, assert_json, both_backends, fresh_database};

both_backends! {
    a_different_generated_secret_is_refused_at_start,
    secrets_given_in_the_environment_are_needed_unchanged_at_every_start,
    starting_with_never_erases_the_sealed_copies_of_existing_keys,
    sigterm_lets_a_request_in_flight_finish,
}

/// 32 bytes in hex that no test server generated.
const OTHER_SECRET: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// Where one test's servers keep their data, start after start: a data directory (the
/// secrets, and the SQLite database) and, on PostgreSQL, one schema.
struct Place {
    dir: tempfile::TempDir,
    database: Option<SecretString>,
}

impl Place {
    async fn new() -> Place {
        Place {
            dir: tempfile::tempdir().unwrap(),
            database: fresh_database().await,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `settings`, and the database to use when it is not the data directory's.
    fn settings<'a>(&'a self, settings: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let database = self.database.as_ref().map(|url| url.expose_secret());
        let database = database.map(|url| ("KEYFLOW_DATABASE_URL", url));
        database
            .into_iter()
            .chain(settings.iter().copied())
            .collect()
    }

    async fn start(&self, settings: &[(&str, &str)]) -> ServeProcess {
        ServeProcess::start_with(self.path(), &self.settings(settings)).await
    }
}

/// Runs `keyflow serve` that must refuse to start: it exits with status 1 without listening,
/// and its `error:` line is returned.
async fn refused_start(place: &Place, settings: &[(&str, &str)]) -> String {
    let child = serve_command(place.path(), &place.settings(settings))
        .spawn()
        .unwrap();
    let out: Output = tokio::time::timeout(PATIENCE, child.wait_with_output())
        .await
        .expect("keyflow refuses at once instead of serving")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(!stdout.contains("listening on"), "{stdout}");
    stderr
        .lines()
        .find(|line| line.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line:\n{stderr}"))
        .to_string()
}

/// A key for `Example` made on a fresh server on `place`, and that tenant's id.
async fn first_start_with_a_key(place: &Place, settings: &[(&str, &str)]) -> (String, String) {
    let server = place.start(settings).await;
    let remote = Remote::of(&server);
    let token = remote.token().await;
    let tenant = remote.example_id(&token).await;
    let key = remote.create_named_key(&token, "kept", &tenant).await;
    server.stop().await;
    (key, tenant)
}

/// Starts with `settings` and checks the key still lists Example's flows.
async fn key_still_works(place: &Place, settings: &[(&str, &str)], key: &str, tenant: &str) {
    let server = place.start(settings).await;
    assert_eq!(
        Remote::of(&server).flows(key, tenant).await,
        ["Hello World"]
    );
    server.stop().await;
}

async fn a_different_generated_secret_is_refused_at_start() {
    let place = Place::new().await;
    let dir = place.path();
    let (key, tenant) = first_start_with_a_key(&place, &[]).await;

    for (variable, name) in [
        ("KEYFLOW_PEPPER", "pepper"),
        ("KEYFLOW_MASTER_KEY", "master key"),
    ] {
        let error = refused_start(&place, &[(variable, OTHER_SECRET)]).await;
        assert!(
            error.contains(&format!("the {name} given does not match")),
            "{error}"
        );
        assert!(
            !error.contains(OTHER_SECRET),
            "the secret is echoed: {error}"
        );
    }
    // A generated secret that went missing is not generated anew.
    let pepper = dir.join("secrets/pepper");
    let aside = dir.join("pepper.aside");
    std::fs::rename(&pepper, &aside).unwrap();
    let error = refused_start(&place, &[]).await;
    assert!(error.contains("a pepper that is neither in"), "{error}");
    assert!(!pepper.exists(), "a new pepper was generated");
    std::fs::rename(&aside, &pepper).unwrap();

    // The refusals changed nothing: with its own secrets the server starts and the key works.
    key_still_works(&place, &[], &key, &tenant).await;
}

async fn secrets_given_in_the_environment_are_needed_unchanged_at_every_start() {
    let place = Place::new().await;
    let dir = place.path();
    let pepper = "11".repeat(32);
    let master = "22".repeat(32);
    let given = [
        ("KEYFLOW_PEPPER", pepper.as_str()),
        ("KEYFLOW_MASTER_KEY", master.as_str()),
    ];
    let (key, tenant) = first_start_with_a_key(&place, &given).await;
    assert!(
        !dir.join("secrets/pepper").exists() && !dir.join("secrets/master.key").exists(),
        "secrets given in the environment were written to the data directory"
    );

    let error = refused_start(&place, &[]).await;
    assert!(error.contains("neither in KEYFLOW_PEPPER"), "{error}");
    let error = refused_start(&place, &[given[0], ("KEYFLOW_MASTER_KEY", OTHER_SECRET)]).await;
    assert!(
        error.contains("the master key given does not match"),
        "{error}"
    );
    let error = refused_start(&place, &[("KEYFLOW_PEPPER", OTHER_SECRET), given[1]]).await;
    assert!(error.contains("the pepper given does not match"), "{error}");

    key_still_works(&place, &given, &key, &tenant).await;
}

/// The sealed copies of every key, read from the stopped server's database.
async fn sealed_copies(place: &Place) -> Vec<Option<Vec<u8>>> {
    use sqlx::Connection;
    const SEALED: &str = "SELECT sealed FROM api_keys ORDER BY id";
    if let Some(url) = &place.database {
        let mut db = crate::postgres::connect(url).await;
        let rows: Vec<(Option<Vec<u8>>,)> =
            sqlx::query_as(SEALED).fetch_all(&mut db).await.unwrap();
        db.close().await.unwrap();
        return rows.into_iter().map(|(sealed,)| sealed).collect();
    }
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(place.path().join("keyflow.db"))
        .read_only(true);
    let mut db = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    let rows: Vec<(Option<Vec<u8>>,)> = sqlx::query_as(SEALED).fetch_all(&mut db).await.unwrap();
    db.close().await.unwrap();
    rows.into_iter().map(|(sealed,)| sealed).collect()
}

/// `POST /api/admin/1/users/me/keys/{name}/reveal`.
async fn reveal(remote: &Remote, token: &str, name: &str) -> reqwest::Response {
    remote
        .client
        .post(format!(
            "{}/api/admin/1/users/me/keys/{name}/reveal",
            remote.address
        ))
        .header("authorization", token)
        .send()
        .await
        .unwrap()
}

async fn starting_with_never_erases_the_sealed_copies_of_existing_keys() {
    let place = Place::new().await;
    let never = [("KEYFLOW_KEY_REVEAL", "never")];

    // Under on-demand, two keys, each revealable.
    let server = place.start(&[]).await;
    let remote = Remote::of(&server);
    let token = remote.token().await;
    let tenant = remote.example_id(&token).await;
    let mut keys = Vec::new();
    for name in ["one", "two"] {
        let key = remote.create_named_key(&token, name, &tenant).await;
        let shown = assert_json(reveal(&remote, &token, name).await, StatusCode::OK).await;
        assert_eq!(shown["apiKey"], key.as_str());
        keys.push(key);
    }
    server.stop().await;
    let sealed = sealed_copies(&place).await;
    assert_eq!(sealed.len(), 2);
    assert!(sealed.iter().all(Option::is_some), "on-demand seals a copy");

    // Under never, the copies are gone, nothing shows a value, and the keys still work.
    let server = place.start(&never).await;
    let remote = Remote::of(&server);
    let token = remote.token().await;
    assert_error(reveal(&remote, &token, "one").await, StatusCode::FORBIDDEN).await;
    let list = remote
        .client
        .get(format!("{}/api/admin/1/users/me/keys", remote.address))
        .header("authorization", &token)
        .send()
        .await
        .unwrap();
    let list = assert_json(list, StatusCode::OK).await;
    let values: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["apiKey"])
        .collect();
    assert_eq!(values, [&Value::Null, &Value::Null], "{list}");
    for key in &keys {
        assert_eq!(remote.flows(key, &tenant).await, ["Hello World"]);
    }
    server.stop().await;
    assert_eq!(sealed_copies(&place).await, [None, None]);

    // Back under on-demand, the erased values stay erased.
    let server = place.start(&[]).await;
    let remote = Remote::of(&server);
    let token = remote.token().await;
    let message = assert_error(reveal(&remote, &token, "one").await, StatusCode::CONFLICT).await;
    assert!(message.contains("not kept"), "{message}");
    assert_eq!(remote.flows(&keys[1], &tenant).await, ["Hello World"]);
    server.stop().await;
}

async fn sigterm_lets_a_request_in_flight_finish() {
    let place = Place::new().await;
    let mut server = place.start(&[]).await;
    let token = Remote::of(&server).token().await;

    // A flow creation sent with `Expect: 100-continue` is in flight from the moment its handler
    // asks for the body (the `100 Continue`) until the test sends it.
    let body = br#"{"developerName":"Finished after SIGTERM"}"#;
    let host = server.address.trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&host).await.unwrap();
    let head = format!(
        "POST /api/draw/1/flow HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let expected = b"HTTP/1.1 100 Continue\r\n\r\n";
    let mut interim = vec![0u8; expected.len()];
    stream.read_exact(&mut interim).await.unwrap();
    assert_eq!(interim, expected, "{}", String::from_utf8_lossy(&interim));

    server.terminate();
    server
        .wait_for_output("shutting down: finishing the requests in flight")
        .await;
    assert!(
        server.is_running(),
        "the server exited with a request in flight"
    );

    stream.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.lines().next().unwrap_or_default();
    assert!(status.starts_with("HTTP/1.1 2"), "{answer}");
    assert!(answer.contains("Finished after SIGTERM"), "{answer}");
    // `finish` insists on exit status 0.
    server.finish().await;
}
