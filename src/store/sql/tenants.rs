//! Tenants; a change of a tenant's own settings is announced.

use async_trait::async_trait;

use super::Store;
use super::transfer::{Table, insert_rows};
use crate::domain::{TenantId, TenantName, Timestamp};
use crate::store::{Change, StoreError, StoreResult, Tenant, TenantStore};

#[async_trait]
impl TenantStore for Store {
    async fn create_tenant(&self, name: &TenantName) -> StoreResult<Tenant> {
        let tenant = Tenant {
            id: TenantId::generate(),
            name: name.as_str().to_string(),
            summary: None,
            created_at: Timestamp::now(),
            settings: None,
            max_key_lifetime_seconds: None,
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

    async fn set_max_key_lifetime(
        &self,
        id: TenantId,
        seconds: Option<i64>,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let mut tx = self.begin_write().await?;
        let found = sqlx::query("UPDATE tenants SET max_key_lifetime_seconds = $1 WHERE id = $2")
            .bind(seconds)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if found.rows_affected() == 0 {
            return Err(StoreError::Missing(format!("there is no tenant {id}")));
        }
        let Some(seconds) = seconds else {
            tx.commit().await?;
            return Ok(0);
        };
        // Lowering the maximum caps the keys that would outlive it, from now; a key that
        // expires sooner keeps its expiry. None is cut off at once.
        let cap = now.plus(std::time::Duration::from_secs(
            seconds.max(0).unsigned_abs(),
        ));
        let capped = sqlx::query(
            "UPDATE api_keys SET expires_at = $1 \
             WHERE tenant_id = $2 AND (expires_at IS NULL OR expires_at > $1)",
        )
        .bind(cap)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if capped > 0 {
            self.announce(&mut tx, Change::Keys { tenant: id }).await?;
        }
        tx.commit().await?;
        Ok(capped)
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
