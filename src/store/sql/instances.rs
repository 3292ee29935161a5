//! The instances serving this database: each heartbeats, and counts the live ones to take its
//! share of every key's rate limit. Not announced, not copied: it describes running processes,
//! not data.

use async_trait::async_trait;

use super::Store;
use crate::domain::Timestamp;
use crate::store::codec::DbUuid;
use crate::store::{InstanceStore, StoreResult};

#[async_trait]
impl InstanceStore for Store {
    async fn heartbeat(
        &self,
        instance: uuid::Uuid,
        now: Timestamp,
        live_since: Timestamp,
        forget_before: Timestamp,
    ) -> StoreResult<u32> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO instances (id, last_seen) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET last_seen = $2",
        )
        .bind(DbUuid(instance))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM instances WHERE last_seen < $1")
            .bind(forget_before)
            .execute(&mut *tx)
            .await?;
        let (live,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM instances WHERE last_seen >= $1")
                .bind(live_since)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(u32::try_from(live).unwrap_or(u32::MAX).max(1))
    }

    async fn leave(&self, instance: uuid::Uuid) -> StoreResult<()> {
        sqlx::query("DELETE FROM instances WHERE id = $1")
            .bind(DbUuid(instance))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
