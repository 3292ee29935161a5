//! Tenants; a change of a tenant's own settings is announced.

use async_trait::async_trait;

use super::Store;
use super::transfer::{Table, insert_rows};
use crate::domain::{TenantId, TenantName, Timestamp};
use crate::store::{Change, StoreResult, Tenant, TenantStore};

#[async_trait]
impl TenantStore for Store {
    async fn create_tenant(&self, name: &TenantName) -> StoreResult<Tenant> {
        let tenant = Tenant {
            id: TenantId::generate(),
            name: name.as_str().to_string(),
            summary: None,
            created_at: Timestamp::now(),
            settings: None,
            key_rate_per_second: None,
            key_rate_burst: None,
        };
        insert_rows(&mut *self.pool.acquire().await?, &[&tenant]).await?;
        Ok(tenant)
    }

    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {} FROM tenants WHERE id = $1",
            Tenant::COLUMNS
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn update_tenant(
        &self,
        id: TenantId,
        name: &str,
        summary: Option<&str>,
        settings: Option<&str>,
    ) -> StoreResult<Option<Tenant>> {
        let mut tx = self.pool.begin().await?;
        // Only a real change is written, and so announced.
        let updated: Option<Tenant> = sqlx::query_as(&format!(
            "UPDATE tenants SET name = $1, summary = $2, settings = $3 WHERE id = $4 \
             AND (name IS DISTINCT FROM $1 OR summary IS DISTINCT FROM $2 \
             OR settings IS DISTINCT FROM $3) RETURNING {}",
            Tenant::COLUMNS
        ))
        .bind(name)
        .bind(summary)
        .bind(settings)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(tenant) = updated else {
            // Unchanged, or no such tenant.
            drop(tx);
            return self.tenant(id).await;
        };
        self.announce(&mut tx, Change::Tenant { tenant: id })
            .await?;
        tx.commit().await?;
        Ok(Some(tenant))
    }

    async fn set_key_rate_limit(
        &self,
        id: TenantId,
        limit: Option<(i64, i64)>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let (per_second, burst) = limit.unzip();
        let updated = sqlx::query(
            "UPDATE tenants SET key_rate_per_second = $1, key_rate_burst = $2 WHERE id = $3 \
             AND (key_rate_per_second IS DISTINCT FROM $1 OR key_rate_burst IS DISTINCT FROM $2)",
        )
        .bind(per_second)
        .bind(burst)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated == 0 {
            drop(tx);
            return Ok(self.tenant(id).await?.is_some());
        }
        // Every cached grant of the tenant's keys carries the limit it had.
        self.announce(&mut tx, Change::Keys { tenant: id }).await?;
        tx.commit().await?;
        Ok(true)
    }
}
