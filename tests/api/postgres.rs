//! PostgreSQL for the tests. With `KEYFLOW_TEST_POSTGRES_URL` set (trust or password auth, a
//! user that may create databases), each run of the test binary makes a database of its own
//! (`kft_<unix time>_<pid>`) and each test a schema in it, so tests never see each other's
//! rows or announcements. Runs older than a day are dropped when the next one starts.
//!
//! Without the variable the PostgreSQL tests print that they were skipped and pass; with
//! `CI=true` they fail instead, so CI cannot skip them by accident.

use std::io::Write;
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use sqlx::{Connection, PgConnection};
use tokio::sync::OnceCell;

pub const URL_VARIABLE: &str = "KEYFLOW_TEST_POSTGRES_URL";

/// How old another run's database must be before this run drops it.
const STALE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The database of this run of the test binary, made by the first test that asks.
static RUN_DATABASE: OnceCell<String> = OnceCell::const_new();

/// The URL of the server's `postgres` database, or None when the tests are to be skipped.
fn base_url(test: &str) -> Option<String> {
    match std::env::var(URL_VARIABLE) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{URL_VARIABLE} is not set: CI must run the PostgreSQL tests"
            );
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                // Straight to the descriptor: the test harness captures `eprintln!`.
                let _ = writeln!(
                    std::io::stderr(),
                    "PostgreSQL tests skipped: {URL_VARIABLE} is not set (first: {test})"
                );
            });
            None
        }
    }
}

/// Whether the PostgreSQL tests run: false (after the skip line) without the variable.
pub fn configured(test: &str) -> bool {
    base_url(test).is_some()
}

/// `url` with its database replaced by `database` and `query` appended.
fn with_database(url: &str, database: &str, query: &str) -> String {
    let (without_query, existing) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let after_scheme = without_query.find("://").map_or(0, |at| at + 3);
    let base = match without_query[after_scheme..].find('/') {
        Some(slash) => &without_query[..after_scheme + slash],
        None => without_query,
    };
    let mut joined = format!("{base}/{database}");
    let queries: Vec<&str> = existing
        .into_iter()
        .chain(Some(query))
        .filter(|q| !q.is_empty())
        .collect();
    if !queries.is_empty() {
        joined.push('?');
        joined.push_str(&queries.join("&"));
    }
    joined
}

async fn run_database(base: &str) -> String {
    RUN_DATABASE
        .get_or_init(|| async {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let name = format!("kft_{now}_{}", std::process::id());
            let mut admin = PgConnection::connect(base)
                .await
                .unwrap_or_else(|e| panic!("cannot reach {URL_VARIABLE}'s server: {e}"));
            let old: Vec<(String,)> =
                sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'kft\\_%'")
                    .fetch_all(&mut admin)
                    .await
                    .unwrap();
            for (stale,) in old {
                let started = stale.split('_').nth(1).and_then(|s| s.parse::<u64>().ok());
                if started.is_some_and(|at| now.saturating_sub(at) > STALE_AFTER.as_secs()) {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{stale}\" WITH (FORCE)"))
                            .execute(&mut admin)
                            .await;
                }
            }
            sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                .execute(&mut admin)
                .await
                .unwrap();
            admin.close().await.unwrap();
            name
        })
        .await
        .clone()
}

/// The URL of a new, empty schema for one test (the search path of every connection made
/// with it), or None when the PostgreSQL tests are skipped.
pub async fn fresh_database(test: &str) -> Option<SecretString> {
    let base = base_url(test)?;
    let database = run_database(&base).await;
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let run_url = with_database(&base, &database, "");
    let mut connection = PgConnection::connect(&run_url).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    let url = with_database(
        &base,
        &database,
        &format!("options=-c%20search_path%3D{schema}"),
    );
    Some(SecretString::from(url))
}

/// A connection to the schema's database, for a test that looks behind the server's back.
pub async fn connect(url: &SecretString) -> PgConnection {
    PgConnection::connect(url.expose_secret()).await.unwrap()
}

#[test]
fn a_url_gets_the_run_database_and_the_search_path() {
    assert_eq!(
        with_database(
            "postgres://postgres@127.0.0.1:5432/postgres",
            "kft_1",
            "options=x"
        ),
        "postgres://postgres@127.0.0.1:5432/kft_1?options=x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "kft_1", "options=x"),
        "postgres://u:p@h/kft_1?sslmode=disable&options=x"
    );
    assert_eq!(
        with_database("postgres://h", "kft_1", ""),
        "postgres://h/kft_1"
    );
}
