//! Flow snapshots and activation. Each write first locks the flow's row (SQLite: its
//! transaction holds the write lock from the start), so the writes of one flow run one after
//! another: two snapshots never freeze the same version, and two activations never deadlock
//! over each other's rows. Every write that changes something is announced.

use async_trait::async_trait;

use super::flow_lock::{Locked, lock_flow, no_flow};
use super::flows::{VersionRow, records};
use super::{Conn, Store};
use crate::domain::{FlowFilter, FlowId, TenantId, Timestamp, VersionId, new_id};
use crate::store::columns::moved;
use crate::store::filtering::passing;
use crate::store::sql_errors::vanished;
use crate::store::{
    Activation, Change, FlowRecord, FrozenImage, SnapshotStore, StoreError, StoreResult,
};

/// The running snapshot of each flow: active, and no other active snapshot of the same flow
/// ranks higher (default first, then the latest activation, then the latest version).
macro_rules! running {
    () => {
        "f.is_active AND NOT EXISTS (SELECT 1 FROM flow_snapshots o \
         WHERE o.flow_id = f.flow_id AND o.is_active AND o.version_id <> f.version_id AND \
         (o.is_default > f.is_default OR (o.is_default = f.is_default AND \
         (o.activated_at > f.activated_at OR (o.activated_at = f.activated_at AND \
         o.version_id > f.version_id)))))"
    };
}

fn no_snapshot(id: FlowId, version: VersionId) -> StoreError {
    StoreError::Missing(format!("the flow {id} has no snapshot {version}"))
}

/// Locks the tenant's flow for the rest of the transaction ([`lock_flow`]); Missing when the
/// tenant has no such flow.
async fn lock_ours(tx: &mut Conn, tenant: TenantId, id: FlowId) -> StoreResult<Locked> {
    let locked = lock_flow(tx, id).await?;
    locked
        .filter(|flow| flow.tenant_id == tenant)
        .ok_or_else(|| no_flow(id))
}

/// One snapshot, read on `conn`.
async fn snapshot_on(
    conn: &mut Conn,
    tenant: TenantId,
    id: FlowId,
    version: VersionId,
) -> StoreResult<Option<FlowRecord>> {
    let row: Option<VersionRow> = sqlx::query_as(concat!(
        select_snapshots!(),
        " WHERE f.tenant_id = $1 AND f.flow_id = $2 AND f.version_id = $3"
    ))
    .bind(tenant)
    .bind(id)
    .bind(version)
    .fetch_optional(conn)
    .await?;
    row.map(VersionRow::into_record).transpose()
}

/// Why a snapshot was not found: no such flow, or no such snapshot of it.
async fn no_snapshot_or_flow(
    store: &Store,
    tenant: TenantId,
    id: FlowId,
    v: VersionId,
) -> StoreError {
    match store.flow_exists(tenant, id).await {
        Ok(true) => no_snapshot(id, v),
        Ok(false) => no_flow(id),
        Err(error) => error,
    }
}

#[async_trait]
impl SnapshotStore for Store {
    async fn snapshot_flow(
        &self,
        tenant: TenantId,
        id: FlowId,
        comment: Option<&str>,
        image: Option<FrozenImage>,
    ) -> StoreResult<FlowRecord> {
        let mut tx = self.begin_write().await?;
        let locked = lock_ours(&mut tx, tenant, id).await?;
        // The image was read at a version: a flow written since would freeze what it no
        // longer is. The row lock keeps the version from moving until this commits.
        if image
            .as_ref()
            .is_some_and(|image| image.read_at != locked.version_id)
        {
            return Err(moved(id));
        }
        sqlx::query(concat!(
            "INSERT INTO flow_snapshots (flow_id, ",
            stored_version!(),
            ", comment, snapped_at, image) SELECT id, ",
            stored_version!(),
            ", $1, $2, $5 FROM flows WHERE tenant_id = $3 AND id = $4"
        ))
        .bind(comment)
        .bind(Timestamp::now())
        .bind(tenant)
        .bind(id)
        .bind(image.as_ref().map(|image| image.json.as_str()))
        .execute(&mut *tx)
        .await?;
        // The frozen version keeps its id; the flow being edited moves on to a new one.
        sqlx::query("UPDATE flows SET version_id = $1 WHERE tenant_id = $2 AND id = $3")
            .bind(VersionId(new_id()))
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let snapshot = snapshot_on(&mut tx, tenant, id, locked.version_id)
            .await?
            .ok_or_else(|| vanished("a new snapshot"))?;
        self.announce(&mut tx, Change::Flows { tenant }).await?;
        tx.commit().await?;
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
        .bind(tenant)
        .bind(id)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some((image,)) => Ok(image),
            None => Err(no_snapshot_or_flow(self, tenant, id, version).await),
        }
    }

    async fn snapshots(&self, tenant: TenantId, id: FlowId) -> StoreResult<Vec<FlowRecord>> {
        let rows: Vec<VersionRow> = sqlx::query_as(concat!(
            select_snapshots!(),
            " WHERE f.tenant_id = $1 AND f.flow_id = $2 \
             ORDER BY f.snapped_at DESC, f.version_id DESC"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() && !self.flow_exists(tenant, id).await? {
            return Err(no_flow(id));
        }
        records(rows)
    }

    async fn snapshot(
        &self,
        tenant: TenantId,
        id: FlowId,
        version: VersionId,
    ) -> StoreResult<FlowRecord> {
        let mut conn = self.pool.acquire().await?;
        match snapshot_on(&mut conn, tenant, id, version).await? {
            Some(snapshot) => Ok(snapshot),
            None => Err(no_snapshot_or_flow(self, tenant, id, version).await),
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
        let mut tx = self.begin_write().await?;
        lock_ours(&mut tx, tenant, id).await?;
        let changed = sqlx::query(
            "UPDATE flow_snapshots SET is_active = $1, is_default = $2, activated_at = $3, \
             activated_by_email = $4 WHERE tenant_id = $5 AND flow_id = $6 AND version_id = $7",
        )
        .bind(activation.is_active)
        .bind(is_default)
        .bind(Timestamp::now())
        .bind(if activation.is_active { by } else { None })
        .bind(tenant)
        .bind(id)
        .bind(version)
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() == 0 {
            return Err(no_snapshot(id, version));
        }
        if is_default {
            // One default per flow.
            sqlx::query(
                "UPDATE flow_snapshots SET is_default = false \
                 WHERE tenant_id = $1 AND flow_id = $2 AND version_id <> $3 AND is_default",
            )
            .bind(tenant)
            .bind(id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        }
        let snapshot = snapshot_on(&mut tx, tenant, id, version)
            .await?
            .ok_or_else(|| no_snapshot(id, version))?;
        self.announce(&mut tx, Change::Flows { tenant }).await?;
        tx.commit().await?;
        Ok(snapshot)
    }

    async fn deactivate(&self, tenant: TenantId, id: FlowId) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        lock_ours(&mut tx, tenant, id).await?;
        // Only the snapshots that change are written (the end state is the same), so a flow
        // with nothing active announces nothing.
        let changed = sqlx::query(
            "UPDATE flow_snapshots SET is_active = false, is_default = false, \
             activated_by_email = NULL WHERE tenant_id = $1 AND flow_id = $2 \
             AND (is_active OR is_default OR activated_by_email IS NOT NULL)",
        )
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if changed.rows_affected() > 0 {
            self.announce(&mut tx, Change::Flows { tenant }).await?;
        }
        Ok(tx.commit().await?)
    }

    async fn active_flows(
        &self,
        tenant: TenantId,
        flow: Option<FlowId>,
        filter: Option<&FlowFilter>,
    ) -> StoreResult<Vec<FlowRecord>> {
        let rows: Vec<VersionRow> = sqlx::query_as(concat!(
            select_snapshots!(),
            " WHERE f.tenant_id = $1 AND ($2 IS NULL OR f.flow_id = $2) AND ",
            running!(),
            by_name!("f.flow_id")
        ))
        .bind(tenant)
        .bind(flow)
        .fetch_all(&self.pool)
        .await?;
        Ok(passing(records(rows)?, filter))
    }
}
