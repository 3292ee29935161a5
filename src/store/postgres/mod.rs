//! The shared backend: one PostgreSQL database that several instances use at once. Native types
//! (`uuid`, `timestamptz`, `bytea`), numbered placeholders, and every write that another
//! instance may have cached announced from its own transaction ([`changes`]).

mod changes;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use super::transfer::TABLES;

/// The names the shared statements (`store/sql/`) take from their backend.
type Store = PgStore;
type Conn = PgConnection;
type Db = sqlx::Postgres;

/// The locking clause a read inside a write takes: `update` for a row the write replaces,
/// `no_key_update` for a parent row whose children it changes (it does not block the
/// key-share locks of foreign-key checks), `share` for a row it only relies on.
macro_rules! row_lock {
    (update) => {
        " FOR UPDATE"
    };
    (no_key_update) => {
        " FOR NO KEY UPDATE"
    };
    (share) => {
        " FOR SHARE"
    };
}

/// Text in code point order (as SQLite's binary collation), whatever the database's locale.
macro_rules! code_point_order {
    () => {
        " COLLATE \"C\""
    };
}

/// The ids of a JSON array bound as text.
macro_rules! uuids_in_json {
    ($param:literal) => {
        concat!(
            "SELECT value::uuid FROM json_array_elements_text(",
            $param,
            "::json)"
        )
    };
}

// Compiled once per backend, by design (`sql/mod.rs`).
#[allow(clippy::duplicate_mod)]
#[path = "../sql/mod.rs"]
mod sql;

/// The `meta` rows that are this backend's own, never copied: none (its change counter is a
/// table of its own, `change_counter`).
const OWN_META_KEYS: &[&str] = &[];

/// Connections each instance keeps at most: several instances share PostgreSQL's
/// `max_connections` (100 by default).
const MAX_CONNECTIONS: u32 = 16;

/// How long a connection may take to be made (or a pooled one to be free) before the request
/// waiting for it fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL store. Cloning shares the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The notification channel of this database and schema: instances that share the data
    /// share it, and nothing else hears it.
    channel: Arc<str>,
}

impl PgStore {
    /// Connects, and brings the schema up to date under PostgreSQL's advisory lock (sqlx's
    /// migrator takes it), so instances started together migrate once.
    pub async fn open(url: &SecretString) -> anyhow::Result<Self> {
        let options = connect_options(url)?;
        let place = describe(&options);
        // One connection first, alone: it fails at once with the server's own reason (refused,
        // unknown database, authentication), where the pool would retry until its timeout.
        let first = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {CONNECT_TIMEOUT:?}"))
            .and_then(|connected| connected.map_err(|error| scrubbed(error, url)))
            .with_context(|| format!("cannot connect to PostgreSQL at {place}"))?;
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|error| scrubbed(error, url))
            .with_context(|| format!("cannot connect to PostgreSQL at {place}"))?;
        sqlx::migrate!("migrations/postgres")
            .run(&pool)
            .await
            .map_err(|error| anyhow::anyhow!(scrub(&error.to_string(), url)))
            .context("cannot bring the PostgreSQL schema up to date")?;
        let (schema,): (String,) = sqlx::query_as("SELECT current_schema()")
            .fetch_one(&pool)
            .await
            .map_err(|error| scrubbed(error, url))?;
        Ok(Self {
            pool,
            channel: format!("keyflow_changes:{schema}").into(),
        })
    }

    /// A transaction for a write; what it decides on, it locks (`row_lock!`).
    async fn begin_write(&self) -> super::StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// `keyflow copy`'s read of every table: one snapshot for every table, and no write can
    /// slip in by mistake.
    async fn begin_export(&self) -> super::StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?)
    }

    /// `keyflow copy`'s write of every table.
    async fn begin_import(&self) -> super::StoreResult<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = self.begin_write().await?;
        // SHARE ROW EXCLUSIVE conflicts with every write and with itself: no instance can add
        // a row between the emptiness check and the copy, and two copies run one at a time.
        sqlx::query(&format!(
            "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
            TABLES.join(", ")
        ))
        .execute(&mut *tx)
        .await?;
        Ok(tx)
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The URL as connection options; the parser's own message may quote the URL, so it is not
/// passed on.
pub(super) fn connect_options(url: &SecretString) -> anyhow::Result<PgConnectOptions> {
    let options = PgConnectOptions::from_str(url.expose_secret()).map_err(|_| {
        anyhow::anyhow!("the database URL is not a valid postgres://user@host:port/database URL")
    })?;
    // The server's notices ("relation … already exists, skipping" from the migrator's
    // IF NOT EXISTS at every start) are not keyflow's to log; warnings and errors still come.
    Ok(options.options([("client_min_messages", "warning")]))
}

/// Where the store is, for messages: user, host, port and database, never the password.
pub(super) fn describe(options: &PgConnectOptions) -> String {
    format!(
        "{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("(default database)")
    )
}

/// A connection error as text with the URL's password cut out, should a driver ever quote it.
fn scrubbed(error: sqlx::Error, url: &SecretString) -> anyhow::Error {
    anyhow::anyhow!(scrub(&error.to_string(), url))
}

fn scrub(text: &str, url: &SecretString) -> String {
    let password = PgConnectOptions::from_str(url.expose_secret())
        .ok()
        .and_then(|_| password_of(url.expose_secret()));
    match password {
        Some(password) if !password.is_empty() => text.replace(&password, "[password]"),
        _ => text.to_string(),
    }
}

/// The password part of `postgres://user:password@…`, as written and percent-decoded.
fn password_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let credentials = rest.split_once('@')?.0;
    let written = credentials.split_once(':')?.1;
    Some(
        percent_encoding::percent_decode_str(written)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_cut_out_of_a_message() {
        let url = SecretString::from("postgres://kf:s3cr%40t@db.example:5432/keyflow");
        let text = scrub("auth failed for kf with s3cr@t", &url);
        assert_eq!(text, "auth failed for kf with [password]");
        let options = connect_options(&url).unwrap();
        assert_eq!(describe(&options), "kf@db.example:5432/keyflow");
    }

    #[test]
    fn a_malformed_url_is_refused_without_quoting_it() {
        let url = SecretString::from("postgres://kf:hunter2@[::1:5432/x");
        let error = connect_options(&url).unwrap_err().to_string();
        assert!(!error.contains("hunter2"), "{error}");
    }
}
