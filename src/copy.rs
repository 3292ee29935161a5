//! `keyflow copy`: every row of one store into another, empty one — a data directory (SQLite)
//! to PostgreSQL, back, or between two of a kind. The rows come from one consistent read of
//! the source and go into the target in one transaction, so the target gets all of them or
//! nothing, and a target that holds anything is refused.
//!
//! The keys, tokens, sessions and invitation links copied work only under the source's pepper
//! and master key (their fingerprints are copied with the rows, so a server given others
//! refuses to start). Between two data directories the `secrets/` files are copied too, when
//! the target has none; otherwise the target's servers must be given the same secrets.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use secrecy::SecretString;

use crate::data_dir;
use crate::store::sqlite::DATABASE_FILE;
use crate::store::{self, Store, StoreConfig, StoreError};

/// The files of a data directory's `secrets/` folder (see `secrets.rs`).
const SECRET_FILES: [&str; 2] = ["pepper", "master.key"];

/// What a `--from` or `--to` names: a `postgres://` (or `postgresql://`) URL, else a data
/// directory. `what` names the argument in the error.
pub fn location(text: &str, what: &str) -> anyhow::Result<StoreConfig> {
    let text = text.trim();
    if text.is_empty() {
        bail!("{what} is empty: give a data directory or a postgres:// URL");
    }
    if let Some((scheme, _)) = text.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        if scheme == "postgres" || scheme == "postgresql" {
            return Ok(StoreConfig::Postgres {
                url: SecretString::from(text.to_string()),
            });
        }
        // Only the scheme is quoted: the rest may hold a password.
        if !scheme.contains('/') {
            bail!("{what} must be a data directory or a postgres:// URL, not a {scheme}:// URL");
        }
    }
    Ok(StoreConfig::Sqlite {
        data_dir: PathBuf::from(text),
    })
}

/// What happened to the secrets' files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretFiles {
    /// Both are data directories, and these files were copied into the target's `secrets/`.
    Copied(Vec<&'static str>),
    /// Both are data directories, and the target has secret files of its own: left alone.
    TargetHasOwn,
    /// Both are data directories, and the source has no secret files (its server is given
    /// them in the environment).
    SourceHasNone,
    /// One side is PostgreSQL: no files to copy.
    NotFiles,
}

/// What a copy did.
#[derive(Debug, Clone)]
pub struct Copied {
    pub from: String,
    pub to: String,
    /// Rows per table.
    pub counts: Vec<(&'static str, usize)>,
    pub secrets: SecretFiles,
    /// Why the source may change after the copy (a server was using it), if it may.
    pub source_in_use: Option<String>,
}

impl Copied {
    /// The report the command prints: what went where, the rows per table, and what the
    /// target's servers need to use them.
    pub fn summary(&self) -> String {
        let mut text = format!("copied {} to {}:\n", self.from, self.to);
        for (table, count) in &self.counts {
            let _ = writeln!(text, "  {table:<16}{count:>10}");
        }
        let same_secrets = "The keys, tokens and links copied work only with the source's pepper \
             and master key: run every server on the target with the same ones";
        let note = match &self.secrets {
            SecretFiles::Copied(files) if files.len() == SECRET_FILES.len() => {
                "The secrets (secrets/pepper, secrets/master.key) were copied into the target \
                 data directory."
                    .to_string()
            }
            SecretFiles::Copied(files) => format!(
                "Copied secrets/{} into the target data directory; the source has no other \
                 secret file, so its server is given the rest in KEYFLOW_PEPPER or \
                 KEYFLOW_MASTER_KEY: {same_secrets}.",
                files.join(", secrets/")
            ),
            SecretFiles::TargetHasOwn => format!(
                "The target data directory has secret files of its own, left as they are. \
                 {same_secrets}: a server there refuses to start until its secrets/ files are \
                 the source's."
            ),
            SecretFiles::SourceHasNone => format!(
                "The source data directory has no secret files (a server there is given \
                 KEYFLOW_PEPPER and KEYFLOW_MASTER_KEY, or none has run yet). {same_secrets}: \
                 the same variables."
            ),
            SecretFiles::NotFiles => format!(
                "{same_secrets}: the same KEYFLOW_PEPPER and KEYFLOW_MASTER_KEY, or the same \
                 --data-dir (its secrets/ folder holds them). A server given others refuses \
                 to start."
            ),
        };
        text.push_str(&note);
        text.push('\n');
        if let Some(why) = &self.source_in_use {
            let _ = writeln!(
                text,
                "Warning: {why}; what it writes from now on is not in the copy."
            );
        }
        text
    }
}

/// Copies every row of `from` into `to`, which must be empty, and between two data
/// directories their secret files. Nothing is written to `to` unless everything is.
pub async fn copy(from: &StoreConfig, to: &StoreConfig) -> anyhow::Result<Copied> {
    if from.same_place(to) {
        bail!(
            "the source and the target are the same ({}): copy to another place",
            from.describe()
        );
    }
    // A data directory a server uses is still copied consistently (one read), but the
    // server's later writes are not: say so. Its lock, when free, is held so no server
    // starts on it meanwhile.
    let mut source_in_use = None;
    let _source_lock = match from {
        StoreConfig::Sqlite { data_dir } => {
            if !data_dir.join(DATABASE_FILE).is_file() {
                bail!(
                    "{} holds no keyflow database ({DATABASE_FILE})",
                    data_dir.display()
                );
            }
            match data_dir::lock(data_dir) {
                Ok(lock) => Some(lock),
                Err(error) => {
                    source_in_use = Some(format!("{error:#}"));
                    None
                }
            }
        }
        StoreConfig::Postgres { .. } => None,
    };
    // The target's lock is needed: no server may start on it during the copy.
    let _target_lock = match to {
        StoreConfig::Sqlite { data_dir } => {
            refuse_foreign_directory(data_dir)?;
            Some(
                data_dir::lock(data_dir)
                    .with_context(|| format!("cannot copy into {}", data_dir.display()))?,
            )
        }
        StoreConfig::Postgres { .. } => None,
    };
    let source = store::open(from)
        .await
        .with_context(|| format!("cannot open the source, {}", from.describe()))?;
    let target = match store::open(to).await {
        Ok(target) => target,
        Err(error) => {
            source.close().await;
            return Err(error.context(format!("cannot open the target, {}", to.describe())));
        }
    };
    let moved = transfer(&source, &target).await;
    source.close().await;
    target.close().await;
    let counts = moved?;
    let secrets = match (from, to) {
        (StoreConfig::Sqlite { data_dir: a }, StoreConfig::Sqlite { data_dir: b }) => {
            copy_secret_files(a, b).context(
                "the rows were copied, but not the secret files: copy the source's secrets/ \
                 folder into the target data directory by hand",
            )?
        }
        _ => SecretFiles::NotFiles,
    };
    Ok(Copied {
        from: from.describe(),
        to: to.describe(),
        counts,
        secrets,
        source_in_use,
    })
}

/// Refuses a target directory that holds files but no keyflow database: opening it as a data
/// directory would take group's and others' access to its files away (`data_dir::create`),
/// which a mistyped `--to` must not do to a directory that is not keyflow's.
fn refuse_foreign_directory(dir: &Path) -> anyhow::Result<()> {
    let mut entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot list {}", dir.display()));
        }
    };
    if entries.next().is_some() && !dir.join(DATABASE_FILE).is_file() {
        bail!(
            "{} holds files but no keyflow database: copy into a new or empty directory",
            dir.display()
        );
    }
    Ok(())
}

async fn transfer(
    source: &Arc<dyn Store>,
    target: &Arc<dyn Store>,
) -> anyhow::Result<Vec<(&'static str, usize)>> {
    let dump = source
        .export()
        .await
        .map_err(|error| plain(error).context("cannot read the source"))?;
    let counts = dump.counts();
    target.import(dump).await.map_err(|error| match error {
        StoreError::Conflict(message) => anyhow!(message),
        other => plain(other).context("cannot write the target (nothing was written)"),
    })?;
    Ok(counts)
}

fn plain(error: StoreError) -> anyhow::Error {
    match error {
        StoreError::Conflict(message)
        | StoreError::Missing(message)
        | StoreError::Moved(message) => anyhow!(message),
        StoreError::Internal(cause) => cause,
    }
}

/// Copies the source's secret files into the target's `secrets/` (0700, each file 0600), when
/// the target has none: never over secrets the target already has.
fn copy_secret_files(from: &Path, to: &Path) -> anyhow::Result<SecretFiles> {
    let (from, to) = (from.join("secrets"), to.join("secrets"));
    if SECRET_FILES.iter().any(|file| to.join(file).exists()) {
        return Ok(SecretFiles::TargetHasOwn);
    }
    let present: Vec<&'static str> = SECRET_FILES
        .into_iter()
        .filter(|file| from.join(file).is_file())
        .collect();
    if present.is_empty() {
        return Ok(SecretFiles::SourceHasNone);
    }
    fs::create_dir_all(&to).with_context(|| format!("cannot create {}", to.display()))?;
    fs::set_permissions(&to, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {}", to.display()))?;
    for file in &present {
        let text = fs::read(from.join(file))
            .with_context(|| format!("cannot read {}", from.join(file).display()))?;
        let path = to.join(file);
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        out.write_all(&text)
            .and_then(|()| out.sync_all())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(SecretFiles::Copied(present))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_postgresql_and_anything_else_a_data_directory() {
        for url in [
            "postgres://u:p@h/db",
            "postgresql://h/db",
            "POSTGRES://h/db",
        ] {
            assert!(matches!(
                location(url, "--from").unwrap(),
                StoreConfig::Postgres { .. }
            ));
        }
        assert!(matches!(
            location("./data", "--from").unwrap(),
            StoreConfig::Sqlite { data_dir } if data_dir == Path::new("./data")
        ));
        let error = location("mysql://root:hunter2@h/db", "--to")
            .unwrap_err()
            .to_string();
        assert!(error.contains("mysql://"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        assert!(location(" ", "--to").is_err());
    }

    #[test]
    fn secret_files_go_only_into_a_target_without_any() {
        let root = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            root.path().join("a"),
            root.path().join("b"),
            root.path().join("c"),
        );
        fs::create_dir_all(a.join("secrets")).unwrap();
        fs::write(a.join("secrets/pepper"), "11").unwrap();
        fs::write(a.join("secrets/master.key"), "22").unwrap();
        assert_eq!(
            copy_secret_files(&a, &b).unwrap(),
            SecretFiles::Copied(vec!["pepper", "master.key"])
        );
        assert_eq!(fs::read_to_string(b.join("secrets/pepper")).unwrap(), "11");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&b.join("secrets")), 0o700);
        assert_eq!(mode(&b.join("secrets/master.key")), 0o600);

        fs::write(a.join("secrets/pepper"), "33").unwrap();
        assert_eq!(
            copy_secret_files(&a, &b).unwrap(),
            SecretFiles::TargetHasOwn
        );
        assert_eq!(fs::read_to_string(b.join("secrets/pepper")).unwrap(), "11");
        assert_eq!(
            copy_secret_files(&c, &a).unwrap(),
            SecretFiles::TargetHasOwn
        );
        fs::create_dir_all(&c).unwrap();
        assert_eq!(
            copy_secret_files(&c, &root.path().join("d")).unwrap(),
            SecretFiles::SourceHasNone
        );
    }
}
