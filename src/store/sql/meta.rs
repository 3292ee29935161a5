//! Settings of the database itself, the audit trail and the health probe.

use async_trait::async_trait;

use super::Store;
use super::transfer::insert_rows;
use crate::store::sql_errors::vanished;
use crate::store::transfer::AuditRow;
use crate::store::{AuditEvent, MetaStore, StoreResult};

#[async_trait]
impl MetaStore for Store {
    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(value,)| value))
    }

    async fn claim_meta(&self, key: &str, value: &str) -> StoreResult<String> {
        // A racing claim holds its row (PostgreSQL: its uncommitted row makes this INSERT wait;
        // SQLite: its write lock); once it commits, nothing is inserted, and the SELECT (a
        // statement of its own, so under READ COMMITTED it sees that commit) reads the value
        // that won.
        let inserted: Option<(String,)> = sqlx::query_as(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING \
             RETURNING value",
        )
        .bind(key)
        .bind(value)
        .fetch_optional(&self.pool)
        .await?;
        if let Some((value,)) = inserted {
            return Ok(value);
        }
        self.meta(key)
            .await?
            .ok_or_else(|| vanished("a claimed setting"))
    }

    async fn record_audit(&self, event: AuditEvent) -> StoreResult<()> {
        let row = AuditRow::from(event);
        Ok(insert_rows(&mut *self.pool.acquire().await?, &[&row]).await?)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        Store::close(self).await;
    }
}
