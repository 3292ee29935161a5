//! Tenants in SQLite.

use async_trait::async_trait;

use super::{SqliteStore, internal, timestamp, uuid};
use crate::domain::{TenantId, TenantName, Timestamp};
use crate::store::{StoreResult, Tenant, TenantStore};

pub(super) type TenantRow = (String, String, Option<String>, String, Option<String>);

pub(super) fn tenant_from_row(
    (id, name, summary, created_at, settings): TenantRow,
) -> StoreResult<Tenant> {
    Ok(Tenant {
        id: TenantId(uuid(&id)?),
        name,
        summary,
        created_at: timestamp(&created_at)?,
        settings,
    })
}

#[async_trait]
impl TenantStore for SqliteStore {
    async fn create_tenant(&self, name: &TenantName) -> StoreResult<Tenant> {
        let tenant = Tenant {
            id: TenantId::generate(),
            name: name.as_str().to_string(),
            summary: None,
            created_at: Timestamp::now(),
            settings: None,
        };
        sqlx::query("INSERT INTO tenants (id, name, summary, created_at) VALUES (?, ?, ?, ?)")
            .bind(tenant.id.to_string())
            .bind(&tenant.name)
            .bind(&tenant.summary)
            .bind(tenant.created_at.to_rfc3339())
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(tenant)
    }

    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        sqlx::query_as::<_, TenantRow>(
            "SELECT id, name, summary, created_at, settings FROM tenants WHERE id = ?",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?
        .map(tenant_from_row)
        .transpose()
    }

    async fn update_tenant(
        &self,
        id: TenantId,
        name: &str,
        summary: Option<&str>,
        settings: Option<&str>,
    ) -> StoreResult<Option<Tenant>> {
        let changed =
            sqlx::query("UPDATE tenants SET name = ?, summary = ?, settings = ? WHERE id = ?")
                .bind(name)
                .bind(summary)
                .bind(settings)
                .bind(id.to_string())
                .execute(&self.pool)
                .await
                .map_err(internal)?;
        if changed.rows_affected() == 0 {
            return Ok(None);
        }
        self.tenant(id).await
    }
}
