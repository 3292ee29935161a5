//! Flow snapshots and activation in PostgreSQL. Each write first locks the flow's row, so the
//! writes of one flow run one after another (as under SQLite's single writer): two snapshots
//! never freeze the same version, and two activations never deadlock over each other's rows.
//! Every write is announced.

use async_trait::async_trait;
use sqlx::PgConnection;
use uuid::Uuid;

use super::super::columns::stale_token;
use super::super::filtering::passing;
use super::flows::{BY_NAME, select_snapshots, version_from_row};
use super::{PgStore, internal};
use crate::domain::{FlowFilter, FlowId, TenantId, Timestamp, VersionId, new_id};
use crate::store::{
    Activation, Change, FlowRecord, FrozenImage, SnapshotStore, StoreError, StoreResult,
};

/// The running snapshot of each flow: active, and no other active snapshot of the same flow
/// ranks higher (default first, then the latest activation, then the latest version).
const RUNNING: &str = "f.is_active AND NOT EXISTS (SELECT 1 FROM flow_snapshots o \
     WHERE o.flow_id = f.flow_id AND o.is_active AND o.version_id <> f.version_id AND \
     (o.is_default > f.is_default OR (o.is_default = f.is_default AND \
     (o.activated_at > f.activated_at OR (o.activated_at = f.activated_at AND \
     o.version_id > f.version_id)))))";

fn no_flow(id: FlowId) -> StoreError {
    StoreError::Missing(format!("this tenant has no flow {id}"))
}

fn no_snapshot(id: FlowId, version: VersionId) -> StoreError {
    StoreError::Missing(format!("the flow {id} has no snapshot {version}"))
}

/// Locks the flow's row for the rest of the transaction and returns its current version and
/// editing token; None when the tenant has no such flow. `NO KEY UPDATE` is the lock
/// `UPDATE flows` takes itself, and leaves the key-share locks of foreign-key checks free.
async fn lock_flow(
    tx: &mut PgConnection,
    tenant: TenantId,
    id: FlowId,
) -> StoreResult<Option<(VersionId, Uuid)>> {
    let row: Option<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT version_id, editing_token FROM flows WHERE tenant_id = $1 AND id = $2 \
         FOR NO KEY UPDATE",
    )
    .bind(tenant.0)
    .bind(id.0)
    .fetch_optional(tx)
    .await
    .map_err(internal)?;
    Ok(row.map(|(version, token)| (VersionId(version), token)))
}

/// One snapshot, read on `conn`.
async fn snapshot_on(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: FlowId,
    version: VersionId,
) -> StoreResult<Option<FlowRecord>> {
    let sql = format!(
        "{} WHERE f.tenant_id = $1 AND f.flow_id = $2 AND f.version_id = $3",
        select_snapshots()
    );
    let row = sqlx::query(&sql)
        .bind(tenant.0)
        .bind(id.0)
        .bind(version.0)
        .fetch_optional(conn)
        .await
        .map_err(internal)?;
    row.as_ref().map(version_from_row).transpose()
}

#[async_trait]
impl SnapshotStore for PgStore {
    async fn snapshot_flow(
        &self,
        tenant: TenantId,
        id: FlowId,
        comment: Option<&str>,
        image: Option<FrozenImage>,
    ) -> StoreResult<FlowRecord> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        let Some((version, token)) = lock_flow(&mut tx, tenant, id).await? else {
            return Err(no_flow(id));
        };
        // The image was read at a token: a flow written since would freeze what it no longer
        // is. The row lock keeps the token from moving until this commits.
        if image
            .as_ref()
            .is_some_and(|image| image.editing_token != token)
        {
            return Err(stale_token(id));
        }
        sqlx::query(
            "INSERT INTO flow_snapshots (flow_id, version_id, tenant_id, editing_token, \
             developer_name, name_folded, developer_summary, start_map_element_id, settings, \
             date_created, date_modified, who_created, who_modified, who_owner, comment, \
             snapped_at, image) \
             SELECT id, version_id, tenant_id, editing_token, developer_name, name_folded, \
             developer_summary, start_map_element_id, settings, date_created, date_modified, \
             who_created, who_modified, who_owner, $1, $2, $5 FROM flows \
             WHERE tenant_id = $3 AND id = $4",
        )
        .bind(comment)
        .bind(Timestamp::now().as_offset())
        .bind(tenant.0)
        .bind(id.0)
        .bind(image.as_ref().map(|image| image.json.as_str()))
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        // The frozen version keeps its id; the flow being edited moves on to a new one.
        sqlx::query("UPDATE flows SET version_id = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(new_id())
            .bind(tenant.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        let snapshot = snapshot_on(&mut tx, tenant, id, version)
            .await?
            .ok_or_else(|| StoreError::Internal(anyhow::anyhow!("a new snapshot vanished")))?;
        self.announce(&mut tx, Change::Flows { tenant }).await?;
        tx.commit().await.map_err(internal)?;
        Ok(snapshot)
    }

    async fn snapshot_image(
        &self,
        tenant: TenantId,
        id: FlowId,
        version: VersionId,
    ) -> StoreResult<Option<String>> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT image FROM flow_snapshots WHERE tenant_id = $1 AND flow_id = $2 \
             AND version_id = $3",
        )
        .bind(tenant.0)
        .bind(id.0)
        .bind(version.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        match row {
            Some((image,)) => Ok(image),
            None if self.flow_exists(tenant, id).await? => Err(no_snapshot(id, version)),
            None => Err(no_flow(id)),
        }
    }

    async fn snapshots(&self, tenant: TenantId, id: FlowId) -> StoreResult<Vec<FlowRecord>> {
        let sql = format!(
            "{} WHERE f.tenant_id = $1 AND f.flow_id = $2 ORDER BY f.snapped_at DESC, \
             f.version_id DESC",
            select_snapshots()
        );
        let rows = sqlx::query(&sql)
            .bind(tenant.0)
            .bind(id.0)
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?;
        if rows.is_empty() && !self.flow_exists(tenant, id).await? {
            return Err(no_flow(id));
        }
        rows.iter().map(version_from_row).collect()
    }

    async fn snapshot(
        &self,
        tenant: TenantId,
        id: FlowId,
        version: VersionId,
    ) -> StoreResult<FlowRecord> {
        let mut conn = self.pool.acquire().await.map_err(internal)?;
        match snapshot_on(&mut conn, tenant, id, version).await? {
            Some(snapshot) => Ok(snapshot),
            None if self.flow_exists(tenant, id).await? => Err(no_snapshot(id, version)),
            None => Err(no_flow(id)),
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
        if lock_flow(&mut tx, tenant, id).await?.is_none() {
            return Err(no_flow(id));
        }
        let changed = sqlx::query(
            "UPDATE flow_snapshots SET is_active = $1, is_default = $2, activated_at = $3, \
             activated_by_email = $4 WHERE tenant_id = $5 AND flow_id = $6 AND version_id = $7",
        )
        .bind(activation.is_active)
        .bind(is_default)
        .bind(Timestamp::now().as_offset())
        .bind(if activation.is_active { by } else { None })
        .bind(tenant.0)
        .bind(id.0)
        .bind(version.0)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        if changed.rows_affected() == 0 {
            return Err(no_snapshot(id, version));
        }
        if is_default {
            // One default per flow.
            sqlx::query(
                "UPDATE flow_snapshots SET is_default = false \
                 WHERE tenant_id = $1 AND flow_id = $2 AND version_id <> $3 AND is_default",
            )
            .bind(tenant.0)
            .bind(id.0)
            .bind(version.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        }
        let snapshot = snapshot_on(&mut tx, tenant, id, version)
            .await?
            .ok_or_else(|| no_snapshot(id, version))?;
        self.announce(&mut tx, Change::Flows { tenant }).await?;
        tx.commit().await.map_err(internal)?;
        Ok(snapshot)
    }

    async fn deactivate(&self, tenant: TenantId, id: FlowId) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        if lock_flow(&mut tx, tenant, id).await?.is_none() {
            return Err(no_flow(id));
        }
        // Only the snapshots that change are written (the end state is the same), so a flow
        // with nothing active announces nothing.
        let changed = sqlx::query(
            "UPDATE flow_snapshots SET is_active = false, is_default = false, \
             activated_by_email = NULL WHERE tenant_id = $1 AND flow_id = $2 \
             AND (is_active OR is_default OR activated_by_email IS NOT NULL)",
        )
        .bind(tenant.0)
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        if changed.rows_affected() > 0 {
            self.announce(&mut tx, Change::Flows { tenant }).await?;
        }
        tx.commit().await.map_err(internal)
    }

    async fn active_flows(
        &self,
        tenant: TenantId,
        flow: Option<FlowId>,
        filter: Option<&FlowFilter>,
    ) -> StoreResult<Vec<FlowRecord>> {
        let mut sql = format!(
            "{} WHERE f.tenant_id = $1 AND {RUNNING}",
            select_snapshots()
        );
        if flow.is_some() {
            sql.push_str(" AND f.flow_id = $2");
        }
        sql.push_str(&format!(" ORDER BY {BY_NAME}, f.flow_id"));
        let mut query = sqlx::query(&sql).bind(tenant.0);
        if let Some(flow) = flow {
            query = query.bind(flow.0);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(internal)?;
        let flows = rows
            .iter()
            .map(version_from_row)
            .collect::<StoreResult<_>>()?;
        Ok(passing(flows, filter))
    }
}

impl PgStore {
    /// Whether the tenant has the flow: tells a missing flow from a missing snapshot.
    async fn flow_exists(&self, tenant: TenantId, id: FlowId) -> StoreResult<bool> {
        let row: Option<(i32,)> =
            sqlx::query_as("SELECT 1 FROM flows WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        Ok(row.is_some())
    }
}
