//! The pepper (for digests) and the master key (for sealed values): taken from the
//! environment or flags, or generated on first start into `DATA_DIR/secrets/` with mode 0600.
//!
//! Each secret's fingerprint is kept in the database, so a server started with a different or
//! regenerated secret refuses to start instead of silently failing every key.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;

use crate::store::Store;

/// A 32-byte secret that never prints.
pub type Secret32 = SecretBox<[u8; 32]>;

/// Both secrets, ready for use.
pub struct Secrets {
    pub pepper: Secret32,
    pub master_key: Secret32,
}

/// Where a secret comes from: its flag/variable, its file, its fingerprint's meta key.
struct Source<'a> {
    name: &'static str,
    variable: &'static str,
    given: Option<&'a SecretString>,
    file: &'static str,
}

impl Secrets {
    /// Loads both secrets, generating missing ones only for a database that has never had
    /// any, and checks them against the fingerprints the database holds.
    pub async fn load(
        data_dir: &Path,
        pepper: Option<&SecretString>,
        master_key: Option<&SecretString>,
        store: &dyn Store,
    ) -> anyhow::Result<Self> {
        let dir = data_dir.join("secrets");
        let pepper = load_one(
            &dir,
            Source {
                name: "pepper",
                variable: "KEYFLOW_PEPPER",
                given: pepper,
                file: "pepper",
            },
            store,
        )
        .await?;
        let master_key = load_one(
            &dir,
            Source {
                name: "master key",
                variable: "KEYFLOW_MASTER_KEY",
                given: master_key,
                file: "master.key",
            },
            store,
        )
        .await?;
        Ok(Self { pepper, master_key })
    }
}

async fn load_one(dir: &Path, source: Source<'_>, store: &dyn Store) -> anyhow::Result<Secret32> {
    let meta_key = format!("fingerprint:{}", source.file);
    let recorded = store.meta(&meta_key).await?;
    let path = dir.join(source.file);
    let mut generated = false;
    let secret = if let Some(text) = source.given {
        parse_hex(text.expose_secret())
            .with_context(|| format!("{} must be 64 hexadecimal characters", source.variable))?
    } else if path.exists() {
        let text = fs::read_to_string(&path)
            .with_context(|| format!("cannot read the {} from {}", source.name, path.display()))?;
        parse_hex(text.trim()).with_context(|| format!("{} is damaged", path.display()))?
    } else if recorded.is_some() {
        bail!(
            "the database was created with a {name} that is neither in {variable} nor in {path}; \
             restore it (without it no existing key can be verified)",
            name = source.name,
            variable = source.variable,
            path = path.display()
        );
    } else {
        generated = true;
        generate_into(dir, &path)?
    };
    let fingerprint = fingerprint(&secret);
    let holding = match recorded {
        Some(recorded) => recorded,
        // Another instance starting on the same database at the same moment may have recorded
        // its own secret first: one wins, and the other stops here rather than run with a
        // secret that verifies nothing.
        None => store.claim_meta(&meta_key, &fingerprint).await?,
    };
    if holding != fingerprint {
        if generated {
            let _ = fs::remove_file(&path);
            bail!(
                "another instance recorded a different {} in the database first; give every \
                 instance the same {} (or the same {})",
                source.name,
                source.variable,
                path.display()
            );
        }
        bail!(
            "the {} given does not match the one this database was created with; \
             restore the original ({} or {})",
            source.name,
            source.variable,
            path.display()
        );
    }
    Ok(secret)
}

/// Writes 32 fresh random bytes as hex to a new file readable by its owner only.
fn generate_into(dir: &Path, path: &Path) -> anyhow::Result<Secret32> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    let mut bytes = Box::new([0u8; 32]);
    OsRng.fill_bytes(bytes.as_mut());
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(hex::encode(bytes.as_ref()).as_bytes())?;
    file.sync_all()?;
    Ok(SecretBox::new(bytes))
}

fn parse_hex(text: &str) -> anyhow::Result<Secret32> {
    let mut bytes = Box::new([0u8; 32]);
    hex::decode_to_slice(text, bytes.as_mut()).context("expected 64 hexadecimal characters")?;
    Ok(SecretBox::new(bytes))
}

/// A value that identifies the secret without revealing it.
fn fingerprint(secret: &Secret32) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret())
        .expect("HMAC accepts any key length");
    mac.update(b"keyflow secret fingerprint");
    hex::encode(&mac.finalize().into_bytes()[..16])
}
