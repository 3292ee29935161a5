//! Settings of the database itself, the audit trail and the health probe, in SQLite.

use async_trait::async_trait;

use super::{SqliteStore, internal};
use crate::domain::{Timestamp, new_id};
use crate::store::{AuditEvent, MetaStore, StoreResult};

#[async_trait]
impl MetaStore for SqliteStore {
    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        Ok(row.map(|(value,)| value))
    }

    async fn claim_meta(&self, key: &str, value: &str) -> StoreResult<String> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        let (holding,): (String,) = sqlx::query_as("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_one(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(holding)
    }

    async fn record_audit(&self, event: AuditEvent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_events (id, at, actor_id, tenant_id, action, subject) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(new_id().to_string())
        .bind(Timestamp::now().to_rfc3339())
        .bind(event.actor.map(|id| id.to_string()))
        .bind(event.tenant.map(|id| id.to_string()))
        .bind(event.action)
        .bind(event.subject)
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn close(&self) {
        SqliteStore::close(self).await;
    }
}
