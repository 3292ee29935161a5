//! Flows: the version of each being edited, with its builders joined in, its graph as read,
//! and its writes, which go through the graph writer (`graph.rs`) in one batch transaction
//! (`apply_batch`). The row shape and its decoding are shared with the
//! snapshots (its statement macros are in scope in the files declared after this one). Every
//! write that changes a flow announces `Change::Flows`.

use async_trait::async_trait;
use uuid::Uuid;

use super::elements::{Builders, ElementRow, who, write_element};
use super::flow_lock::no_flow;
use super::{Conn, Store, graph};
use crate::domain::element::FlowElementKind;
use crate::domain::flow::FlowDraft;
use crate::domain::{FlowFilter, FlowId, TenantId, Timestamp, UserId, VersionId};
use crate::store::codec::DbUuid;
use crate::store::columns::from_json;
use crate::store::filtering::passing;
use crate::store::sql_errors::vanished;
use crate::store::{
    Change, Edit, ElementBatch, FlowElementRecord, FlowGraphWrite, FlowRecord, FlowStore, FlowUse,
    GraphMode, SnapshotState, StoreError, StoreResult,
};

/// The columns of a version, common to `flows` and `flow_snapshots` (`f`), with its builders
/// joined in, each a LEFT JOIN so a flow outlives its author; `$date_created` is the column
/// read as `date_created`. The settings are JSON text on both backends.
macro_rules! version_columns {
    ($date_created:literal) => {
        concat!(
            "f.version_id, f.editing_token, f.developer_name, f.developer_summary, \
             f.start_map_element_id, f.settings, ",
            $date_created,
            ", f.date_modified, \
             f.who_created, c.first_name AS c_first, c.last_name AS c_last, c.email AS c_email, \
             f.who_modified, m.first_name AS m_first, m.last_name AS m_last, m.email AS m_email, \
             f.who_owner, o.first_name AS o_first, o.last_name AS o_last, o.email AS o_email"
        )
    };
}

/// The columns of a version as stored, in `flows` and `flow_snapshots` alike (after the flow's
/// id, which a snapshot keeps as `flow_id`).
macro_rules! stored_version {
    () => {
        "version_id, tenant_id, editing_token, developer_name, name_folded, developer_summary, \
         start_map_element_id, settings, date_created, date_modified, who_created, \
         who_modified, who_owner"
    };
}

macro_rules! who_joins {
    () => {
        " LEFT JOIN users c ON c.id = f.who_created \
         LEFT JOIN users m ON m.id = f.who_modified \
         LEFT JOIN users o ON o.id = f.who_owner"
    };
}

/// The version being edited, as a [`VersionRow`].
macro_rules! select_current {
    () => {
        concat!(
            "SELECT f.id, ",
            version_columns!("f.date_created"),
            ", CAST(NULL AS TEXT) AS comment, false AS is_active, false AS is_default, \
             CAST(NULL AS TEXT) AS activated_by_email, false AS is_snapshot FROM flows f",
            who_joins!()
        )
    };
}

/// Snapshots, as a [`VersionRow`]. A snapshot's dateCreated is when it was taken, not when its
/// flow was created.
macro_rules! select_snapshots {
    () => {
        concat!(
            "SELECT f.flow_id AS id, ",
            version_columns!("f.snapped_at AS date_created"),
            ", f.comment, f.is_active, f.is_default, f.activated_by_email, \
             true AS is_snapshot FROM flow_snapshots f",
            who_joins!()
        )
    };
}

/// The order of a flow list: by folded name in code point order (as SQLite's binary collation,
/// whatever the PostgreSQL database's locale), then by id (`$id`).
macro_rules! by_name {
    ($id:literal) => {
        concat!(" ORDER BY f.name_folded", code_point_order!(), ", ", $id)
    };
}

/// One version of a flow, as [`select_current`] and [`select_snapshots`] read it.
#[derive(sqlx::FromRow)]
pub(super) struct VersionRow {
    id: FlowId,
    version_id: VersionId,
    editing_token: DbUuid,
    developer_name: String,
    developer_summary: Option<String>,
    start_map_element_id: Option<String>,
    settings: String,
    date_created: Timestamp,
    date_modified: Timestamp,
    #[sqlx(flatten)]
    builders: Builders,
    who_owner: UserId,
    o_first: Option<String>,
    o_last: Option<String>,
    o_email: Option<String>,
    comment: Option<String>,
    is_active: bool,
    is_default: bool,
    activated_by_email: Option<String>,
    is_snapshot: bool,
}

impl VersionRow {
    pub(super) fn into_record(self) -> StoreResult<FlowRecord> {
        let (who_created, who_modified) = self.builders.into_who();
        Ok(FlowRecord {
            id: self.id,
            version_id: self.version_id,
            editing_token: self.editing_token.0,
            developer_name: self.developer_name,
            developer_summary: self.developer_summary,
            start_map_element_id: self.start_map_element_id,
            settings: from_json(&self.settings, "flow settings")?,
            date_created: self.date_created,
            date_modified: self.date_modified,
            who_created,
            who_modified,
            who_owner: who(self.who_owner, self.o_first, self.o_last, self.o_email),
            snapshot: self.is_snapshot.then_some(SnapshotState {
                comment: self.comment,
                is_active: self.is_active,
                is_default: self.is_default,
                activated_by: self.activated_by_email,
            }),
        })
    }
}

/// Versions read as rows, as records.
pub(super) fn records(rows: Vec<VersionRow>) -> StoreResult<Vec<FlowRecord>> {
    rows.into_iter().map(VersionRow::into_record).collect()
}

/// The flow being edited, read on `conn` (inside a write's transaction, to return what it
/// wrote).
pub(super) async fn current_flow(
    conn: &mut Conn,
    tenant: TenantId,
    id: FlowId,
) -> StoreResult<Option<FlowRecord>> {
    let row: Option<VersionRow> = sqlx::query_as(concat!(
        select_current!(),
        " WHERE f.tenant_id = $1 AND f.id = $2"
    ))
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(VersionRow::into_record).transpose()
}

/// A write of the flow's header only (its graph is kept, or begins at START).
fn header_write(id: FlowId, mode: GraphMode, draft: &FlowDraft, author: UserId) -> FlowGraphWrite {
    FlowGraphWrite {
        id,
        mode,
        header: Some(draft.clone()),
        start_map_element_id: None,
        elements: None,
        uses: None,
        author,
    }
}

impl Store {
    /// Whether the tenant has the flow: tells a missing flow from a missing snapshot.
    pub(super) async fn flow_exists(&self, tenant: TenantId, id: FlowId) -> StoreResult<bool> {
        let found = sqlx::query("SELECT 1 FROM flows WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }
}

#[async_trait]
impl FlowStore for Store {
    async fn list_flows(
        &self,
        tenant: TenantId,
        filter: Option<&FlowFilter>,
    ) -> StoreResult<Vec<FlowRecord>> {
        let rows = sqlx::query_as(concat!(
            select_current!(),
            " WHERE f.tenant_id = $1",
            by_name!("f.id")
        ))
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        Ok(passing(records(rows)?, filter))
    }

    async fn flow(&self, tenant: TenantId, id: FlowId) -> StoreResult<Option<FlowRecord>> {
        let mut conn = self.pool.acquire().await?;
        current_flow(&mut conn, tenant, id).await
    }

    async fn create_flow(
        &self,
        tenant: TenantId,
        draft: &FlowDraft,
        author: UserId,
    ) -> StoreResult<FlowRecord> {
        // The same path as every flow write: the START element comes with it.
        let write = header_write(FlowId::generate(), GraphMode::Create, draft, author);
        self.write_flow(tenant, write).await
    }

    async fn update_flow(
        &self,
        tenant: TenantId,
        id: FlowId,
        draft: &FlowDraft,
        author: UserId,
    ) -> StoreResult<Option<FlowRecord>> {
        let write = header_write(id, GraphMode::Update(Edit::default()), draft, author);
        match self.write_flow(tenant, write).await {
            Err(StoreError::Missing(_)) => Ok(None),
            other => other.map(Some),
        }
    }

    async fn delete_flow(&self, tenant: TenantId, id: FlowId) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let result = sqlx::query("DELETE FROM flows WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if result.rows_affected() == 0 {
            return Ok(false);
        }
        self.announce(&mut tx, Change::Flows { tenant }).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn flow_elements(
        &self,
        tenant: TenantId,
        id: FlowId,
    ) -> StoreResult<Vec<FlowElementRecord>> {
        if !self.flow_exists(tenant, id).await? {
            return Err(no_flow(id));
        }
        let rows: Vec<ElementRow<FlowElementKind>> = sqlx::query_as(concat!(
            select_elements!("flow_elements"),
            " WHERE e.flow_id = $1 ORDER BY e.date_created, e.id"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(FlowElementRecord::try_from).collect()
    }

    async fn flow_uses(&self, tenant: TenantId, id: FlowId) -> StoreResult<Vec<FlowUse>> {
        if !self.flow_exists(tenant, id).await? {
            return Err(no_flow(id));
        }
        Ok(sqlx::query_as(
            "SELECT element_id, imported FROM flow_uses WHERE flow_id = $1 ORDER BY element_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn flow_held_elsewhere(&self, tenant: TenantId, id: FlowId) -> StoreResult<bool> {
        let found = sqlx::query("SELECT 1 FROM flows WHERE id = $1 AND tenant_id <> $2")
            .bind(id)
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn flows_using(&self, tenant: TenantId, element: Uuid) -> StoreResult<Vec<FlowRecord>> {
        let rows = sqlx::query_as(concat!(
            select_current!(),
            " WHERE f.tenant_id = $1 AND f.id IN (SELECT flow_id FROM flow_uses \
             WHERE tenant_id = $1 AND element_id = $2)",
            by_name!("f.id")
        ))
        .bind(tenant)
        .bind(DbUuid(element))
        .fetch_all(&self.pool)
        .await?;
        records(rows)
    }

    async fn write_flow(&self, tenant: TenantId, write: FlowGraphWrite) -> StoreResult<FlowRecord> {
        let batch = ElementBatch {
            flows: vec![write],
            ..ElementBatch::default()
        };
        let mut flows = self.apply_batch(tenant, batch).await?;
        flows.pop().ok_or_else(|| vanished("a written flow"))
    }

    async fn apply_batch(
        &self,
        tenant: TenantId,
        batch: ElementBatch,
    ) -> StoreResult<Vec<FlowRecord>> {
        let mut tx = self.begin_write().await?;
        for element in &batch.elements {
            write_element(&mut tx, tenant, element, batch.overwrite_existing).await?;
        }
        for write in &batch.flows {
            if let Err(taken) = graph::write_flow(&mut tx, tenant, write).await? {
                // Nothing of the batch is written; then the flow gets a new token, so the
                // refused client's reload brings one under which its write can pass.
                tx.rollback().await?;
                self.renew_token(tenant, write.id, taken.token).await?;
                return Err(taken.refusal);
            }
        }
        let mut flows = Vec::with_capacity(batch.flows.len());
        for write in &batch.flows {
            let flow = current_flow(&mut tx, tenant, write.id).await?;
            flows.push(flow.ok_or_else(|| vanished("a flow"))?);
        }
        // Announced once, from the batch's own transaction.
        if !flows.is_empty() || !batch.elements.is_empty() {
            self.announce(&mut tx, Change::Flows { tenant }).await?;
        }
        tx.commit().await?;
        Ok(flows)
    }
}
