//! The embedded backend: one SQLite file in the data directory, in WAL mode with foreign keys
//! on and `synchronous=FULL`, so a write that was answered survives `kill -9` (and power loss).

mod changes;

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqlitePool};

use super::StoreResult;

/// The names the shared statements (`store/sql/`) take from their backend.
type Store = SqliteStore;
type Conn = sqlx::SqliteConnection;
type Db = sqlx::Sqlite;

/// SQLite has no row locks: a write transaction holds the database's write lock from its
/// first statement (`begin_write`), so what it reads stays as read until it commits.
macro_rules! row_lock {
    ($($kind:tt)*) => {
        ""
    };
}

/// Text compares by code point already (the BINARY collation).
macro_rules! code_point_order {
    () => {
        ""
    };
}

/// The ids of a JSON array bound as text, one bind whatever their number (SQLite limits
/// parameters).
macro_rules! uuids_in_json {
    ($param:literal) => {
        concat!("SELECT value FROM json_each(", $param, ")")
    };
}

// Compiled once per backend, by design (`sql/mod.rs`).
#[allow(clippy::duplicate_mod)]
#[path = "../sql/mod.rs"]
mod sql;

/// The `meta` rows that are this backend's own, never copied: the change counter
/// (`revocation_epoch`).
const OWN_META_KEYS: &[&str] = &["revocation_epoch"];

/// How much of the database file reads may map (SQLite's `mmap_size`).
const MMAP_BYTES: u64 = 1 << 30;

/// The database file's name inside the data directory.
pub const DATABASE_FILE: &str = "keyflow.db";

/// The SQLite store. Cloning shares the pool.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    options: SqliteConnectOptions,
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `data_dir` and brings its schema up to date.
    pub async fn open(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(DATABASE_FILE);
        // Made here, owner-only, rather than by SQLite (0644 less the umask): SQLite gives the
        // write-ahead log and the shared-memory file the database file's mode, so all three
        // are the owner's alone.
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot create the database {}", path.display()))?;
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // The CLI and the server write to the same file; a writer waits for the other.
            .busy_timeout(Duration::from_secs(10))
            // Reads go through a shared memory map instead of a system call per page: with a
            // million keys, a lookup's pages are rarely in a connection's own small cache.
            // The map is address space; what it makes resident is the kernel's page cache.
            .pragma("mmap_size", MMAP_BYTES.to_string());
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        sqlx::migrate!("migrations/sqlite")
            .run(&pool)
            .await
            .context("cannot bring the database schema up to date")?;
        Ok(Self { pool, options })
    }

    /// A transaction that takes the write lock at once (`BEGIN IMMEDIATE`), so that no other
    /// writer changes what it reads before it writes: SQLite's form of the row locks
    /// PostgreSQL's writes take.
    ///
    /// Run as a task of its own: sqlx's `begin_with` awaits again after the BEGIN has run (to
    /// check the connection is in a transaction), and a caller dropped there (its client gone)
    /// would return the connection to the pool inside a transaction nobody ends, holding the
    /// write lock: every later write on it failed ("non-zero transaction depth"), found by
    /// `bench/writes.sh`. The task always finishes; a dropped caller's transaction is then
    /// dropped, so rolled back.
    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        let pool = self.pool.clone();
        let begun = tokio::spawn(async move { pool.begin_with("BEGIN IMMEDIATE").await });
        Ok(begun.await.context("the task beginning a write")??)
    }

    /// `keyflow copy`'s read of every table. In WAL mode a transaction's first read fixes the
    /// snapshot every later read sees, so a server writing meanwhile cannot make the tables
    /// disagree.
    async fn begin_export(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin().await?)
    }

    /// `keyflow copy`'s write of every table. IMMEDIATE (`begin_write`): the write lock is held
    /// from the start, so no other writer can add a row between the emptiness check and the
    /// copy.
    async fn begin_import(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.begin_write().await
    }

    /// Flushes the WAL into the main file and closes every connection, leaving no `-wal` file.
    pub async fn close(&self) {
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await;
        self.pool.close().await;
        // SQLite removes the write-ahead log when the last connection closes. A connection
        // that was on its way back to the pool is closed by a task of its own, which
        // `close` does not wait for: wait until the pool holds none (at most a second).
        for _ in 0..100 {
            if self.pool.size() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Then one more connection, opened and closed alone, is surely the last.
        if let Ok(last) = self.options.connect().await {
            let _ = last.close().await;
        }
    }
}
