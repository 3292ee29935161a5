//! Flow snapshots and activation in SQLite. Each write opens with its writing statement, so the
//! transaction holds SQLite's write lock before it reads anything it decides on.

use async_trait::async_trait;

use super::super::columns::stale_token;
use super::super::filtering::passing;
use super::flows::{select_snapshots, version_from_row};
use super::{SqliteStore, internal};
use crate::domain::{FlowFilter, FlowId, TenantId, Timestamp, VersionId, new_id};
use crate::store::{
    Activation, FlowRecord, FlowStore, FrozenImage, SnapshotStore, StoreError, StoreResult,
};

/// The running snapshot of each flow: active, and no other active snapshot of the same flow
/// ranks higher (default first, then the latest activation, then the latest version).
const RUNNING: &str = "f.is_active = 1 AND NOT EXISTS (SELECT 1 FROM flow_snapshots o \
     WHERE o.flow_id = f.flow_id AND o.is_active = 1 AND o.version_id <> f.version_id AND \
     (o.is_default > f.is_default OR (o.is_default = f.is_default AND \
     (o.activated_at > f.activated_at OR (o.activated_at = f.activated_at AND \
     o.version_id > f.version_id)))))";

impl SqliteStore {
    /// Why a write matched nothing: no such flow, or no such snapshot of it.
    async fn missing(
        &self,
        tenant: TenantId,
        id: FlowId,
        version: Option<VersionId>,
    ) -> StoreError {
        let flow_exists = sqlx::query_as::<_, (i64,)>(
            "SELECT COUNT(*) FROM flows WHERE tenant_id = ? AND id = ?",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_one(&self.pool)
        .await;
        match (flow_exists, version) {
            (Err(error), _) => internal(error),
            (Ok((0,)), _) => StoreError::Missing(format!("this tenant has no flow {id}")),
            (Ok(_), Some(version)) => {
                StoreError::Missing(format!("the flow {id} has no snapshot {version}"))
            }
            (Ok(_), None) => StoreError::Internal(anyhow::anyhow!("a flow matched nothing")),
        }
    }
}

#[async_trait]
impl SnapshotStore for SqliteStore {
    async fn snapshot_flow(
        &self,
        tenant: TenantId,
        id: FlowId,
        comment: Option<&str>,
        image: Option<FrozenImage>,
    ) -> StoreResult<FlowRecord> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(internal)?;
        let token = image.as_ref().map(|image| image.editing_token.to_string());
        let copied = sqlx::query(
            "INSERT INTO flow_snapshots (flow_id, version_id, tenant_id, editing_token, \
             developer_name, name_folded, developer_summary, start_map_element_id, settings, \
             date_created, date_modified, who_created, who_modified, who_owner, comment, \
             snapped_at, image) \
             SELECT id, version_id, tenant_id, editing_token, developer_name, name_folded, \
             developer_summary, start_map_element_id, settings, date_created, date_modified, \
             who_created, who_modified, who_owner, ?, ?, ? FROM flows \
             WHERE tenant_id = ? AND id = ? AND (? IS NULL OR editing_token = ?)",
        )
        .bind(comment)
        .bind(Timestamp::now().to_rfc3339())
        .bind(image.as_ref().map(|image| image.json.as_str()))
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(&token)
        .bind(&token)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        if copied.rows_affected() == 0 {
            drop(tx);
            return match (self.flow(tenant, id).await?, image) {
                (Some(_), Some(_)) => Err(stale_token(id)),
                _ => Err(self.missing(tenant, id, None).await),
            };
        }
        // The frozen version keeps its id; the flow being edited moves on to a new one.
        let (version,): (String,) =
            sqlx::query_as("SELECT version_id FROM flows WHERE tenant_id = ? AND id = ?")
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_one(&mut *tx)
                .await
                .map_err(internal)?;
        sqlx::query("UPDATE flows SET version_id = ? WHERE tenant_id = ? AND id = ?")
            .bind(new_id().to_string())
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        let version = VersionId::parse(&version).map_err(|e| internal_text(&e.0))?;
        self.snapshot(tenant, id, version).await
    }

    async fn snapshot_image(
        &self,
        tenant: TenantId,
        id: FlowId,
        version: VersionId,
    ) -> StoreResult<Option<String>> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT image FROM flow_snapshots WHERE tenant_id = ? AND flow_id = ? \
             AND version_id = ?",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(version.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        match row {
            Some((image,)) => Ok(image),
            None => Err(self.missing(tenant, id, Some(version)).await),
        }
    }

    async fn snapshots(&self, tenant: TenantId, id: FlowId) -> StoreResult<Vec<FlowRecord>> {
        let sql = format!(
            "{} WHERE f.tenant_id = ? AND f.flow_id = ? ORDER BY f.snapped_at DESC, \
             f.version_id DESC",
            select_snapshots()
        );
        let rows = sqlx::query(&sql)
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?;
        if rows.is_empty() && self.flow(tenant, id).await?.is_none() {
            return Err(self.missing(tenant, id, None).await);
        }
        rows.iter().map(version_from_row).collect()
    }

    async fn snapshot(
        &self,
        tenant: TenantId,
        id: FlowId,
        version: VersionId,
    ) -> StoreResult<FlowRecord> {
        let sql = format!(
            "{} WHERE f.tenant_id = ? AND f.flow_id = ? AND f.version_id = ?",
            select_snapshots()
        );
        let row = sqlx::query(&sql)
            .bind(tenant.to_string())
            .bind(id.to_string())
            .bind(version.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        match row {
            Some(row) => version_from_row(&row),
            None => Err(self.missing(tenant, id, Some(version)).await),
        }
    }

    async fn activate(
        &self,
        tenant: TenantId,
        id: FlowId,
        version: VersionId,
        activation: Activation,
        by: Option<&str>,
    ) -> StoreResult<FlowRecord> {
        let is_default = activation.is_default && activation.is_active;
        let mut tx = self.pool.begin().await.map_err(internal)?;
        let changed = sqlx::query(
            "UPDATE flow_snapshots SET is_active = ?, is_default = ?, activated_at = ?, \
             activated_by_email = ? WHERE tenant_id = ? AND flow_id = ? AND version_id = ?",
        )
        .bind(i64::from(activation.is_active))
        .bind(i64::from(is_default))
        .bind(Timestamp::now().to_rfc3339())
        .bind(if activation.is_active { by } else { None })
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(version.to_string())
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        if changed.rows_affected() == 0 {
            drop(tx);
            return Err(self.missing(tenant, id, Some(version)).await);
        }
        if is_default {
            // One default per flow.
            sqlx::query(
                "UPDATE flow_snapshots SET is_default = 0 \
                 WHERE tenant_id = ? AND flow_id = ? AND version_id <> ?",
            )
            .bind(tenant.to_string())
            .bind(id.to_string())
            .bind(version.to_string())
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        }
        tx.commit().await.map_err(internal)?;
        self.snapshot(tenant, id, version).await
    }

    async fn deactivate(&self, tenant: TenantId, id: FlowId) -> StoreResult<()> {
        sqlx::query(
            "UPDATE flow_snapshots SET is_active = 0, is_default = 0, activated_by_email = NULL \
             WHERE tenant_id = ? AND flow_id = ?",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        match self.flow(tenant, id).await? {
            Some(_) => Ok(()),
            None => Err(self.missing(tenant, id, None).await),
        }
    }

    async fn active_flows(
        &self,
        tenant: TenantId,
        flow: Option<FlowId>,
        filter: Option<&FlowFilter>,
    ) -> StoreResult<Vec<FlowRecord>> {
        let mut sql = format!("{} WHERE f.tenant_id = ? AND {RUNNING}", select_snapshots());
        if flow.is_some() {
            sql.push_str(" AND f.flow_id = ?");
        }
        sql.push_str(" ORDER BY f.name_folded, f.flow_id");
        let mut query = sqlx::query(&sql).bind(tenant.to_string());
        if let Some(flow) = flow {
            query = query.bind(flow.to_string());
        }
        let rows = query.fetch_all(&self.pool).await.map_err(internal)?;
        let flows = rows
            .iter()
            .map(version_from_row)
            .collect::<StoreResult<_>>()?;
        Ok(passing(flows, filter))
    }
}

fn internal_text(message: &str) -> StoreError {
    StoreError::Internal(anyhow::anyhow!(
        "malformed version id in the database: {message}"
    ))
}
