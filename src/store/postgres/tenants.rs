//! Tenants in PostgreSQL; a change of a tenant's own settings is announced.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{PgStore, internal};
use crate::domain::{TenantId, TenantName, Timestamp};
use crate::store::{Change, StoreResult, Tenant, TenantStore};

pub(super) type TenantRow = (Uuid, String, Option<String>, OffsetDateTime, Option<String>);

pub(super) fn tenant_from_row((id, name, summary, created_at, settings): TenantRow) -> Tenant {
    Tenant {
        id: TenantId(id),
        name,
        summary,
        created_at: Timestamp::from_offset(created_at),
        settings,
    }
}

#[async_trait]
impl TenantStore for PgStore {
    async fn create_tenant(&self, name: &TenantName) -> StoreResult<Tenant> {
        let tenant = Tenant {
            id: TenantId::generate(),
            name: name.as_str().to_string(),
            summary: None,
            created_at: Timestamp::now(),
            settings: None,
        };
        sqlx::query("INSERT INTO tenants (id, name, summary, created_at) VALUES ($1, $2, $3, $4)")
            .bind(tenant.id.0)
            .bind(&tenant.name)
            .bind(&tenant.summary)
            .bind(tenant.created_at.as_offset())
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(tenant)
    }

    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        let row: Option<TenantRow> = sqlx::query_as(
            "SELECT id, name, summary, created_at, settings FROM tenants WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        Ok(row.map(tenant_from_row))
    }

    async fn update_tenant(
        &self,
        id: TenantId,
        name: &str,
        summary: Option<&str>,
        settings: Option<&str>,
    ) -> StoreResult<Option<Tenant>> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        let row: Option<TenantRow> = sqlx::query_as(
            "UPDATE tenants SET name = $1, summary = $2, settings = $3 WHERE id = $4 \
             RETURNING id, name, summary, created_at, settings",
        )
        .bind(name)
        .bind(summary)
        .bind(settings)
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(internal)?;
        let Some(row) = row else {
            return Ok(None);
        };
        self.announce(&mut tx, Change::Tenant { tenant: id })
            .await?;
        tx.commit().await.map_err(internal)?;
        Ok(Some(tenant_from_row(row)))
    }
}
