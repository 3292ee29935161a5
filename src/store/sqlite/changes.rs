//! The change counter in SQLite: the `revocation_epoch` row of `meta`, raised by every write that
//! may revoke a key. SQLite has no other instance to tell; its other writer, the command line,
//! reaches the server through the control socket, and the server polls the counter as a backstop.

use async_trait::async_trait;

use super::SqliteStore;
use crate::store::{Change, ChangeFeed, ChangeListener, StoreError, StoreResult};

impl SqliteStore {
    /// A change that may revoke a key raises the counter, inside the caller's transaction; the
    /// server polls it to hear the command line's changes should the control socket miss one.
    /// No other instance shares a SQLite database, so nothing is sent. A password change or a
    /// sign-out ([`Change::Credentials`]) does not raise it: only the server makes them, and
    /// it forgets what they end at once, so a raise would only make it drop every cache at
    /// its next poll.
    pub(super) async fn announce(
        &self,
        tx: &mut sqlx::SqliteConnection,
        change: Change,
    ) -> StoreResult<()> {
        if change.revokes_keys() {
            sqlx::query(
                "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) \
                 WHERE key = 'revocation_epoch'",
            )
            .execute(tx)
            .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl ChangeFeed for SqliteStore {
    async fn change_counter(&self) -> StoreResult<i64> {
        let (value,): (String,) =
            sqlx::query_as("SELECT value FROM meta WHERE key = 'revocation_epoch'")
                .fetch_one(&self.pool)
                .await?;
        value
            .parse()
            .map_err(|_| StoreError::Internal(anyhow::anyhow!("malformed change counter")))
    }

    async fn listen(&self) -> StoreResult<Option<Box<dyn ChangeListener>>> {
        Ok(None)
    }
}
