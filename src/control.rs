//! Keeps every server's key cache honest about revocations made elsewhere.
//!
//! - A running server listens on `DATA_DIR/keyflow.sock` (owner-only). The command line,
//!   after a revoking write (removing a user from a tenant), asks it to drop its cache and
//!   waits for the answer, so the revoked keys fail on the very next request.
//! - Every server also watches the store's change counter ([`crate::change_watch`]) and drops
//!   its caches when it moved: the bound for any writer that could not reach it through the
//!   socket.
//! - A second task advances the caches' [`crate::coarse_clock`] every 10 s, which ages their
//!   entries: a grant is looked up again after 10 minutes and an answer to a read loaded again after a
//!   minute, a backstop for a change that neither path announced.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

use crate::coarse_clock::CoarseClock;
use crate::domain::Timestamp;
use crate::rules::refusals;
use crate::state::AppState;

const SOCKET_FILE: &str = "keyflow.sock";
const REVOKE: &str = "revoke";
/// A write that revokes nothing but may show in a cached read (a member added).
const CHANGED: &str = "changed";
const DONE: &str = "ok";

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
}

/// The bound control socket; dropping it stops listening and removes the socket file.
pub struct ControlSocket {
    listener: Option<UnixListener>,
    task: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let bound = self.listener.is_some() || self.task.is_some();
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if bound {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl ControlSocket {
    /// Binds the socket (owner-only). The caller holds the data directory's lock, so a socket
    /// file already there is a leftover of a server that died and is replaced. Without a
    /// socket (a path too long for one, say), revocations from the command line still take
    /// effect within the poll interval.
    pub fn bind(data_dir: &Path) -> Self {
        let path = socket_path(data_dir);
        let _ = std::fs::remove_file(&path);
        let bound = UnixListener::bind(&path).and_then(|listener| {
            // Only the owner (the command line run by the same account) may talk to it.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            Ok(listener)
        });
        let listener = match bound {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::warn!(%error, path = %path.display(),
                    "no control socket: revocations from the command line take effect within the poll interval");
                None
            }
        };
        Self {
            listener,
            task: None,
            path,
        }
    }

    /// Answers the command line until dropped.
    pub fn serve(&mut self, state: AppState) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        self.task = Some(tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let _ = answer(stream, &state).await;
                });
            }
        }));
    }
}

async fn answer(stream: UnixStream, state: &AppState) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await? {
        // Whatever the command line did may show in a cached read.
        match line.trim() {
            REVOKE => {
                state.verifier.revoke_all();
                state.reads.forget_all();
            }
            CHANGED => state.reads.forget_all(),
            _ => continue,
        }
        write.write_all(format!("{DONE}\n").as_bytes()).await?;
    }
    Ok(())
}

/// Whether a running server took the news.
#[derive(Debug, PartialEq, Eq)]
pub enum Notified {
    Server,
    NoServer,
}

/// Tells the server running on `data_dir`, if any, to drop its key cache (and its cached
/// reads), and waits until it has.
pub async fn notify_revocation(data_dir: &Path) -> anyhow::Result<Notified> {
    tell(data_dir, REVOKE).await
}

/// Tells the server running on `data_dir`, if any, that a write may show in its cached reads,
/// and waits until it has dropped them.
pub async fn notify_change(data_dir: &Path) -> anyhow::Result<Notified> {
    tell(data_dir, CHANGED).await
}

async fn tell(data_dir: &Path, line: &str) -> anyhow::Result<Notified> {
    let path = socket_path(data_dir);
    let stream = match UnixStream::connect(&path).await {
        Ok(stream) => stream,
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(Notified::NoServer);
        }
        Err(error) => return Err(error.into()),
    };
    let exchange = async {
        let (read, mut write) = stream.into_split();
        write.write_all(format!("{line}\n").as_bytes()).await?;
        let reply = BufReader::new(read).lines().next_line().await?;
        anyhow::ensure!(
            reply.as_deref() == Some(DONE),
            "unexpected reply from the server"
        );
        Ok(Notified::Server)
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .map_err(|_| anyhow::anyhow!("the running server did not answer within 5 s"))?
}

/// Keeps the audit trail: writes the refusals counted since the last flush every
/// [`refusals::FLUSH_EVERY`], and prunes events past `--audit-retention-days` at the first
/// beat and then every hour, until aborted. A failure is logged and tried again at the next beat.
pub async fn audit_upkeep(state: AppState) {
    const PRUNE_EVERY: u32 = 60;
    let mut ticker = tokio::time::interval(refusals::FLUSH_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut beats = 0u32;
    // The first beat is one period after the start, not at once.
    ticker.tick().await;
    loop {
        ticker.tick().await;
        if beats.is_multiple_of(PRUNE_EVERY) {
            let retention = state.config.audit_retention;
            match state.prune_audit(retention, Timestamp::now()).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, "audit events past their retention pruned"),
                Err(error) => tracing::warn!(error = %error, "pruning the audit trail failed"),
            }
        }
        beats = beats.wrapping_add(1);
        flush_refusals(&state).await;
    }
}

/// How often expired states are pruned.
pub const PRUNE_STATES_EVERY: Duration = Duration::from_secs(60);

/// Deletes the states of running flows past their expiry every [`PRUNE_STATES_EVERY`] (the
/// first one period after the start), until aborted: `rules::run::expiry::prune`, a bounded
/// `DELETE` repeated while full. A failure is logged and tried again at the next beat.
pub async fn state_upkeep(state: AppState) {
    let mut ticker = tokio::time::interval(PRUNE_STATES_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        match state.prune_states(Timestamp::now()).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "expired flow states pruned"),
            Err(error) => tracing::warn!(error = %error, "pruning the expired flow states failed"),
        }
    }
}

/// Writes the refusals counted so far (also at a graceful stop, so none is lost).
pub async fn flush_refusals(state: &AppState) {
    if let Err(error) = state.flush_refusals().await {
        tracing::warn!(error = %error, "writing the refused credentials to the audit trail failed");
    }
}

/// Advances the caches' clocks every [`CoarseClock::TICK`], until aborted.
pub async fn age_caches(state: AppState) {
    let mut ticker = tokio::time::interval(CoarseClock::TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        state.verifier.tick();
        state.reads.tick();
    }
}

/// How often each instance says it is alive: well within the verifier's `LIVE_WITHIN` (3 s),
/// the age past which the others stop counting it.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// Says every [`HEARTBEAT`] that this instance is alive, and takes its share of each key's
/// rate limit from the live instances' count, until aborted. A failed heartbeat is logged
/// once until one succeeds again; the share stays as it was.
pub async fn heartbeat(state: AppState) {
    let mut ticker = tokio::time::interval(HEARTBEAT);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        ticker.tick().await;
        match state.verifier.heartbeat().await {
            Ok(_) => failing = false,
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "heartbeat failed: this instance keeps its share of the rate limits");
            }
            Err(_) => {}
        }
    }
}
