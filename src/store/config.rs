//! Which backend holds the data and where, and how two such places are told apart and described
//! for messages (`keyflow copy`), never quoting a PostgreSQL URL, which may hold a password.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::PgConnectOptions;

use super::postgres::{connect_options, describe};

/// Which backend holds the data, and where.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// The embedded SQLite database, `keyflow.db` in the data directory.
    Sqlite { data_dir: PathBuf },
    /// A PostgreSQL database (`postgres://…`), which several instances may share. The URL may
    /// hold a password, so it is kept as a secret: it never prints, in a log or an error.
    Postgres { url: SecretString },
}

impl StoreConfig {
    /// The store a data directory holds.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        StoreConfig::Sqlite {
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// PostgreSQL at `url` when one is given, else the data directory's SQLite database.
    pub fn choose(database_url: Option<&SecretString>, data_dir: &Path) -> Self {
        match database_url {
            Some(url) => StoreConfig::Postgres { url: url.clone() },
            None => Self::in_data_dir(data_dir),
        }
    }

    /// Whether other processes may write to the same data: the command line on a data
    /// directory (SQLite) reaches the server through its control socket; on PostgreSQL every
    /// writer announces its changes through the database itself.
    pub fn is_shared(&self) -> bool {
        matches!(self, StoreConfig::Postgres { .. })
    }

    /// Where the data is, for messages: the data directory, or PostgreSQL's user, host, port
    /// and database. Never the URL itself, which may hold a password.
    pub fn describe(&self) -> String {
        match self {
            StoreConfig::Sqlite { data_dir } => {
                format!("the data directory {}", data_dir.display())
            }
            StoreConfig::Postgres { url } => match place(url) {
                Ok(place) => format!("PostgreSQL {place}"),
                Err(_) => "PostgreSQL (an invalid URL)".to_string(),
            },
        }
    }

    /// Whether both name the same data: one data directory (however spelled), or one
    /// PostgreSQL database and schema.
    pub fn same_place(&self, other: &StoreConfig) -> bool {
        match (self, other) {
            (StoreConfig::Sqlite { data_dir: a }, StoreConfig::Sqlite { data_dir: b }) => {
                match (a.canonicalize(), b.canonicalize()) {
                    (Ok(a), Ok(b)) => a == b,
                    // One does not exist yet, so they differ, unless spelled the same.
                    _ => a == b,
                }
            }
            (StoreConfig::Postgres { url: a }, StoreConfig::Postgres { url: b }) => {
                same_database(a, b)
            }
            _ => false,
        }
    }
}

/// Where the URL points, for messages: user, host, port and database, never the password.
fn place(url: &SecretString) -> anyhow::Result<String> {
    Ok(describe(&connect_options(url)?))
}

/// Whether two URLs reach the same data: the same server, database and options (a
/// `search_path` in the options picks the schema) and user (whose name the default
/// `search_path` holds). Two URLs told apart wrongly still cannot mix data: a copy goes only
/// into an empty store.
fn same_database(a: &SecretString, b: &SecretString) -> bool {
    type Key = (String, String, u16, Option<String>, Option<String>);
    fn key(url: &SecretString) -> Option<Key> {
        let options = PgConnectOptions::from_str(url.expose_secret()).ok()?;
        Some((
            options.get_username().to_string(),
            options.get_host().to_string(),
            options.get_port(),
            options.get_database().map(str::to_string),
            options.get_options().map(str::to_string),
        ))
    }
    matches!((key(a), key(b)), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_the_same_database_when_server_database_and_schema_agree() {
        let url = |text: &str| SecretString::from(text.to_string());
        let a = url("postgres://kf:one@db.example:5432/keyflow");
        assert!(same_database(
            &a,
            &url("postgresql://kf:two@db.example/keyflow")
        ));
        assert!(!same_database(
            &a,
            &url("postgres://kf:one@db.example:5432/other")
        ));
        assert!(!same_database(
            &a,
            &url("postgres://other:one@db.example:5432/keyflow")
        ));
        assert!(!same_database(
            &a,
            &url("postgres://kf:one@db.example:5432/keyflow?options=-c%20search_path%3Dt1")
        ));
        assert_eq!(place(&a).unwrap(), "kf@db.example:5432/keyflow");
    }
}
