//! The data directory: its owner's alone, and locked by the one server that uses it.
//!
//! keyflow creates the directory 0700 and each file in it 0600 (the binary also runs with
//! umask 077, so nothing it or SQLite makes is ever more open). A directory made before the
//! first start (`mkdir`, a volume mount, an older keyflow) may let group or others read it:
//! whoever opens the directory — the server or a command — tightens it and what keyflow keeps
//! in it, with a warning that says so, rather than refusing as ssh does with its keys: the
//! fix is the same `chmod` either way, and tightening keeps an upgrade from stopping a server.
//! A shared directory (with the sticky bit, such as `/tmp`) is refused instead, since
//! tightening it would take it from everyone else; so is one keyflow may not `chmod`.
//!
//! Tightening a mode cannot undo what another user already did through it: in a directory
//! others could write to, they could have planted `secrets/pepper`, `secrets/master.key` or a
//! `keyflow.db` of their own, which keyflow would then use. So, as ssh's StrictModes does,
//! keyflow refuses to start when the directory, or anything in it or in `secrets/`, belongs to
//! another user than the one it runs as (or root), naming the file and how to fix it. A
//! symbolic link is judged by its own owner and never followed.

use std::fs;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};

/// What the directory and its subdirectories may be: the owner's alone.
const DIRECTORY_MODE: u32 = 0o700;
/// The bits that let group or others at a file or directory.
const GROUP_AND_OTHERS: u32 = 0o077;
const STICKY: u32 = 0o1000;
/// The subdirectory of generated secrets, whose files are tightened too.
const SECRETS: &str = "secrets";

/// Creates the directory if it is missing (0700); otherwise makes sure it and what keyflow
/// keeps in it are the owner's alone (see the module's description).
pub fn create(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        return fs::set_permissions(dir, fs::Permissions::from_mode(DIRECTORY_MODE))
            .with_context(|| format!("cannot restrict {}", dir.display()));
    }
    let mode = fs::metadata(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .permissions()
        .mode();
    if mode & STICKY != 0 {
        bail!(
            "{} is a shared directory (it has the sticky bit): the data directory must be \
             keyflow's own, for example a new directory inside it",
            dir.display()
        );
    }
    refuse_foreign(
        dir,
        &fs::metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?,
    )?;
    tighten(dir)?;
    for inside in [dir.to_path_buf(), dir.join(SECRETS)] {
        let entries = match fs::read_dir(&inside) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => {
                return Err(error).with_context(|| format!("cannot list {}", inside.display()));
            }
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", inside.display()))?;
            let path = entry.path();
            let metadata = fs::symlink_metadata(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            refuse_foreign(&path, &metadata)?;
            tighten(&path)?;
        }
    }
    Ok(())
}

/// Refuses `path` (whose metadata, a link's own, is `metadata`) unless it belongs to the
/// user keyflow runs as or to root: anyone else could have put it there to have keyflow use
/// their secrets or their database.
fn refuse_foreign(path: &Path, metadata: &fs::Metadata) -> anyhow::Result<()> {
    let owner = metadata.uid();
    let me = rustix::process::geteuid().as_raw();
    if owner == me || owner == 0 {
        return Ok(());
    }
    bail!(
        "{path} belongs to the user with uid {owner}, not to the one keyflow runs as (uid {me}): \
         in a data directory others could write to, another user may have put it there for \
         keyflow to use. If it is yours, give it to this user (`chown {me} {path}`); if not, \
         remove it",
        path = path.display()
    )
}

/// Takes group's and others' bits off `path` (not following a symbolic link), with a warning
/// naming it and both modes. A failure is an error: keyflow will not run on files others read.
fn tighten(path: &Path) -> anyhow::Result<()> {
    let metadata =
        fs::symlink_metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if metadata.file_type().is_symlink() {
        return Ok(());
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & GROUP_AND_OTHERS == 0 {
        return Ok(());
    }
    let tightened = mode & !GROUP_AND_OTHERS;
    fs::set_permissions(path, fs::Permissions::from_mode(tightened)).with_context(|| {
        format!(
            "{} has mode {mode:o}, which lets other users at it, and keyflow cannot change it \
             (run `chmod go= {}` as its owner)",
            path.display(),
            path.display()
        )
    })?;
    tracing::warn!(
        path = %path.display(),
        was = format!("{mode:o}"),
        now = format!("{tightened:o}"),
        "tightened a file of the data directory that other users could reach"
    );
    Ok(())
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
        .mode(0o600)
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

/// Sets the process's file-creation mask to 077, so every file and directory keyflow or a
/// library it uses (SQLite's journal, the control socket between its `bind` and `chmod`)
/// creates is its owner's alone. The modes keyflow sets explicitly hold without it; this
/// covers what it does not create itself. For the binary only: a library should not change
/// its host process's mask.
pub fn restrict_new_files() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_directory_others_could_read_is_tightened_with_what_it_holds() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir(dir.join(SECRETS)).unwrap();
        fs::set_permissions(dir.join(SECRETS), fs::Permissions::from_mode(0o775)).unwrap();
        for (file, mode) in [
            ("keyflow.db", 0o644),
            ("keyflow.db-wal", 0o664),
            ("secrets/pepper", 0o640),
            ("notes", 0o604),
        ] {
            fs::write(dir.join(file), b"x").unwrap();
            fs::set_permissions(dir.join(file), fs::Permissions::from_mode(mode)).unwrap();
        }
        // A link is not followed: what it points at is not keyflow's.
        let elsewhere = parent.path().join("elsewhere");
        fs::write(&elsewhere, b"x").unwrap();
        fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.join("link")).unwrap();

        create(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(SECRETS)), 0o700);
        for file in ["keyflow.db", "keyflow.db-wal", "secrets/pepper", "notes"] {
            assert_eq!(mode(&dir.join(file)) & 0o077, 0, "{file}");
        }
        assert_eq!(mode(&dir.join("keyflow.db-wal")), 0o600);
        assert_eq!(mode(&elsewhere), 0o644, "a link was followed");
    }

    #[test]
    fn a_new_directory_and_its_lock_are_the_owners() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("new/data");
        let _lock = lock(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("keyflow.lock")), 0o600);
    }

    /// Another user than keyflow's and root (the tests run as root).
    const STRANGER: u32 = 54_321;

    #[test]
    fn anything_of_another_user_is_refused_by_name_and_left_as_it_is() {
        assert_eq!(
            rustix::process::geteuid().as_raw(),
            0,
            "these tests run as root, to give files to another user"
        );
        for planted in [
            "secrets/pepper",
            "secrets/master.key",
            "keyflow.db",
            "secrets",
            "",
        ] {
            let parent = tempfile::tempdir().unwrap();
            let dir = parent.path().join("data");
            fs::create_dir_all(dir.join(SECRETS)).unwrap();
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
            for file in ["secrets/pepper", "secrets/master.key", "keyflow.db"] {
                fs::write(dir.join(file), b"x").unwrap();
                fs::set_permissions(dir.join(file), fs::Permissions::from_mode(0o644)).unwrap();
            }
            let path = if planted.is_empty() {
                dir.clone()
            } else {
                dir.join(planted)
            };
            std::os::unix::fs::chown(&path, Some(STRANGER), None).unwrap();
            let error = format!("{:#}", create(&dir).unwrap_err());
            assert!(
                error.contains(&format!(
                    "{} belongs to the user with uid {STRANGER}",
                    path.display()
                )) && error.contains("chown 0"),
                "{planted}: {error}"
            );
            assert_eq!(fs::metadata(&path).unwrap().uid(), STRANGER, "{planted}");
        }
    }

    #[test]
    fn a_link_is_judged_by_its_own_owner_and_never_followed() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        fs::create_dir(&dir).unwrap();
        // The link is root's: what it points at, another user's, is not looked at.
        let elsewhere = parent.path().join("elsewhere");
        fs::write(&elsewhere, b"x").unwrap();
        std::os::unix::fs::chown(&elsewhere, Some(STRANGER), None).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.join("link")).unwrap();
        create(&dir).unwrap();
        // A link another user made is refused, whatever it points at.
        std::os::unix::fs::lchown(dir.join("link"), Some(STRANGER), None).unwrap();
        let error = format!("{:#}", create(&dir).unwrap_err());
        assert!(error.contains("link belongs to the user"), "{error}");
    }

    #[test]
    fn a_shared_directory_is_refused_and_left_as_it_is() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("shared");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).unwrap();
        let error = create(&dir).unwrap_err();
        assert!(format!("{error:#}").contains("sticky bit"), "{error:#}");
        assert_eq!(mode(&dir), 0o1777);
    }
}
