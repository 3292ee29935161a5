//! Announcements on PostgreSQL: a write raises the one-row `change_counter` and sends
//! `pg_notify` in its own transaction, so the notification goes out exactly when the write
//! commits (PostgreSQL delivers notifications at commit, in commit order, and never for a
//! rolled-back transaction). The row lock on the counter orders announced writes, so counter
//! values follow commit order and an instance that polls it misses nothing.

use async_trait::async_trait;
use sqlx::PgConnection;
use sqlx::postgres::PgListener;

use super::PgStore;
use crate::store::{
    Announcement, Change, ChangeFeed, ChangeListener, Heard, StoreError, StoreResult,
};

impl PgStore {
    /// Raises the change counter and announces `change`, inside the caller's transaction.
    pub(super) async fn announce(&self, tx: &mut PgConnection, change: Change) -> StoreResult<()> {
        let (counter,): (i64,) =
            sqlx::query_as("UPDATE change_counter SET value = value + 1 RETURNING value")
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&*self.channel)
            .bind(Announcement { counter, change }.to_payload())
            .execute(&mut *tx)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl ChangeFeed for PgStore {
    async fn change_counter(&self) -> StoreResult<i64> {
        let (value,): (i64,) = sqlx::query_as("SELECT value FROM change_counter")
            .fetch_one(&self.pool)
            .await?;
        Ok(value)
    }

    async fn listen(&self) -> StoreResult<Option<Box<dyn ChangeListener>>> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        // Report a lost connection rather than quietly making another: the caller catches up
        // on what was announced meanwhile before it listens again.
        listener.eager_reconnect(false);
        listener.listen(&self.channel).await?;
        Ok(Some(Box::new(Listening(listener))))
    }
}

/// One listening connection. sqlx's listener would reconnect by itself on the next call and
/// say nothing of the announcements lost meanwhile; this one reports the loss instead, so the
/// caller knows to poll until it listens again.
struct Listening(PgListener);

#[async_trait]
impl ChangeListener for Listening {
    async fn next(&mut self) -> StoreResult<Heard> {
        match self.0.try_recv().await? {
            Some(notification) => Ok(match Announcement::from_payload(notification.payload()) {
                Some(announcement) => Heard::Change(announcement),
                None => Heard::Unknown,
            }),
            None => Err(StoreError::Internal(anyhow::anyhow!(
                "the listening connection to PostgreSQL was lost"
            ))),
        }
    }
}
