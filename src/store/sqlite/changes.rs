//! The change counter in SQLite: the `revocation_epoch` row of `meta`, raised by every revoking
//! write. SQLite has no other instance to tell; its other writer, the command line, reaches the
//! server through the control socket, and the server polls the counter as a backstop.

use async_trait::async_trait;

use super::{SqliteStore, internal};
use crate::store::{ChangeFeed, ChangeListener, StoreError, StoreResult};

#[async_trait]
impl ChangeFeed for SqliteStore {
    async fn change_counter(&self) -> StoreResult<i64> {
        let (value,): (String,) =
            sqlx::query_as("SELECT value FROM meta WHERE key = 'revocation_epoch'")
                .fetch_one(&self.pool)
                .await
                .map_err(internal)?;
        value
            .parse()
            .map_err(|_| StoreError::Internal(anyhow::anyhow!("malformed change counter")))
    }

    async fn listen(&self) -> StoreResult<Option<Box<dyn ChangeListener>>> {
        Ok(None)
    }
}
