//! The data directory: created owner-only, and locked by the one server that uses it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;

/// Creates the directory if it is missing. A directory keyflow creates is its owner's alone
/// (0700); one that already exists is left as it is.
pub fn create(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {}", dir.display()))
}

/// Creates the directory and takes its lock: one server per data directory. The lock is
/// held as long as the returned file is open.
pub fn lock(dir: &Path) -> anyhow::Result<fs::File> {
    create(dir)?;
    let path = dir.join("keyflow.lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    lock.try_lock().map_err(|_| {
        anyhow::anyhow!(
            "another keyflow server is using the data directory {}",
            dir.display()
        )
    })?;
    Ok(lock)
}
