//! Flows in PostgreSQL: the version of each being edited, with its builders joined in, and its
//! writes, which go through the graph writer (`graph.rs`). Every write is announced; the row
//! decoder and the filter are shared with the snapshots.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use super::super::columns::settings_from_json;
use super::super::filtering::passing;
use super::{PgStore, internal};
use crate::domain::flow::FlowDraft;
use crate::domain::{FlowFilter, FlowId, TenantId, Timestamp, UserId, VersionId};
use crate::store::{
    Change, ElementBatch, FlowElementRecord, FlowGraphWrite, FlowRecord, FlowStore, FlowUse,
    GraphMode, SnapshotState, StoreError, StoreResult, Who,
};

/// The builders of a version, each a LEFT JOIN so a flow outlives its author.
const WHO_JOINS: &str = "LEFT JOIN users c ON c.id = f.who_created \
     LEFT JOIN users m ON m.id = f.who_modified \
     LEFT JOIN users o ON o.id = f.who_owner";

/// The columns of a version, common to `flows` and `flow_snapshots`. The settings are read as
/// text and parsed with serde, as they are written.
const VERSION_COLUMNS: &str = "f.version_id, f.editing_token, f.developer_name, \
     f.developer_summary, f.start_map_element_id, f.settings, \
     f.date_created, f.date_modified, \
     f.who_created, c.first_name AS c_first, c.last_name AS c_last, c.email AS c_email, \
     f.who_modified, m.first_name AS m_first, m.last_name AS m_last, m.email AS m_email, \
     f.who_owner, o.first_name AS o_first, o.last_name AS o_last, o.email AS o_email";

/// The order of a flow list: by folded name in code point order (as SQLite's binary
/// collation, whatever the database's locale), then by id.
pub(super) const BY_NAME: &str = "f.name_folded COLLATE \"C\"";

/// The version being edited, in the shape [`version_from_row`] reads.
pub(super) fn select_current() -> String {
    format!(
        "SELECT f.id, {VERSION_COLUMNS}, NULL::text AS comment, false AS is_active, \
         false AS is_default, NULL::text AS activated_by_email, false AS is_snapshot \
         FROM flows f {WHO_JOINS}"
    )
}

/// Snapshots, in the shape [`version_from_row`] reads; `date_created` is `snapped_at`.
pub(super) fn select_snapshots() -> String {
    // A snapshot's dateCreated is when it was taken, not when its flow was created.
    let columns = VERSION_COLUMNS.replace("f.date_created", "f.snapped_at AS date_created");
    format!(
        "SELECT f.flow_id AS id, {columns}, f.comment, f.is_active, f.is_default, \
         f.activated_by_email, true AS is_snapshot FROM flow_snapshots f {WHO_JOINS}"
    )
}

fn column<T>(row: &PgRow, name: &str) -> StoreResult<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(name).map_err(internal)
}

fn timestamp(row: &PgRow, name: &str) -> StoreResult<Timestamp> {
    Ok(Timestamp::from_offset(column::<OffsetDateTime>(row, name)?))
}

fn who(row: &PgRow, id: &str, prefix: &str) -> StoreResult<Who> {
    Ok(Who {
        id: UserId(column(row, id)?),
        first_name: column(row, &format!("{prefix}_first"))?,
        last_name: column(row, &format!("{prefix}_last"))?,
        email: column(row, &format!("{prefix}_email"))?,
    })
}

pub(super) fn version_from_row(row: &PgRow) -> StoreResult<FlowRecord> {
    let settings: String = column(row, "settings")?;
    let settings = settings_from_json(&settings)?;
    Ok(FlowRecord {
        id: FlowId(column(row, "id")?),
        version_id: VersionId(column(row, "version_id")?),
        editing_token: column(row, "editing_token")?,
        developer_name: column(row, "developer_name")?,
        developer_summary: column(row, "developer_summary")?,
        start_map_element_id: column(row, "start_map_element_id")?,
        settings,
        date_created: timestamp(row, "date_created")?,
        date_modified: timestamp(row, "date_modified")?,
        who_created: who(row, "who_created", "c")?,
        who_modified: who(row, "who_modified", "m")?,
        who_owner: who(row, "who_owner", "o")?,
        snapshot: snapshot_state(row)?,
    })
}

fn snapshot_state(row: &PgRow) -> StoreResult<Option<SnapshotState>> {
    if !column::<bool>(row, "is_snapshot")? {
        return Ok(None);
    }
    Ok(Some(SnapshotState {
        comment: column(row, "comment")?,
        is_active: column(row, "is_active")?,
        is_default: column(row, "is_default")?,
        activated_by: column(row, "activated_by_email")?,
    }))
}

/// The flow being edited, read on `conn` (inside a write's transaction, to return what it
/// wrote).
pub(super) async fn current_flow(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: FlowId,
) -> StoreResult<Option<FlowRecord>> {
    let sql = format!("{} WHERE f.tenant_id = $1 AND f.id = $2", select_current());
    let row = sqlx::query(&sql)
        .bind(tenant.0)
        .bind(id.0)
        .fetch_optional(conn)
        .await
        .map_err(internal)?;
    row.as_ref().map(version_from_row).transpose()
}

#[async_trait]
impl FlowStore for PgStore {
    async fn list_flows(
        &self,
        tenant: TenantId,
        filter: Option<&FlowFilter>,
    ) -> StoreResult<Vec<FlowRecord>> {
        let sql = format!(
            "{} WHERE f.tenant_id = $1 ORDER BY {BY_NAME}, f.id",
            select_current()
        );
        let rows = sqlx::query(&sql)
            .bind(tenant.0)
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?;
        let flows = rows
            .iter()
            .map(version_from_row)
            .collect::<StoreResult<_>>()?;
        Ok(passing(flows, filter))
    }

    async fn flow(&self, tenant: TenantId, id: FlowId) -> StoreResult<Option<FlowRecord>> {
        let mut conn = self.pool.acquire().await.map_err(internal)?;
        current_flow(&mut conn, tenant, id).await
    }

    async fn create_flow(
        &self,
        tenant: TenantId,
        draft: &FlowDraft,
        author: UserId,
    ) -> StoreResult<FlowRecord> {
        // The same path as every flow write: the START element comes with it.
        self.write_flow(
            tenant,
            FlowGraphWrite {
                id: FlowId::generate(),
                mode: GraphMode::Create,
                header: Some(draft.clone()),
                start_map_element_id: None,
                elements: None,
                uses: None,
                author,
            },
        )
        .await
    }

    async fn update_flow(
        &self,
        tenant: TenantId,
        id: FlowId,
        draft: &FlowDraft,
        author: UserId,
    ) -> StoreResult<Option<FlowRecord>> {
        let write = FlowGraphWrite {
            id,
            mode: GraphMode::Update {
                expected_token: None,
            },
            header: Some(draft.clone()),
            start_map_element_id: None,
            elements: None,
            uses: None,
            author,
        };
        match self.write_flow(tenant, write).await {
            Err(StoreError::Missing(_)) => Ok(None),
            other => other.map(Some),
        }
    }

    async fn delete_flow(&self, tenant: TenantId, id: FlowId) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        let result = sqlx::query("DELETE FROM flows WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        if result.rows_affected() == 0 {
            return Ok(false);
        }
        self.announce(&mut tx, Change::Flows { tenant }).await?;
        tx.commit().await.map_err(internal)?;
        Ok(true)
    }

    async fn flow_elements(
        &self,
        tenant: TenantId,
        id: FlowId,
    ) -> StoreResult<Vec<FlowElementRecord>> {
        self.graph_elements(tenant, id).await
    }

    async fn flow_uses(&self, tenant: TenantId, id: FlowId) -> StoreResult<Vec<FlowUse>> {
        self.uses_of(tenant, id).await
    }

    async fn flow_held_elsewhere(&self, tenant: TenantId, id: FlowId) -> StoreResult<bool> {
        let found: Option<(i32,)> =
            sqlx::query_as("SELECT 1 FROM flows WHERE id = $1 AND tenant_id <> $2")
                .bind(id.0)
                .bind(tenant.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        Ok(found.is_some())
    }

    async fn flows_using(&self, tenant: TenantId, element: Uuid) -> StoreResult<Vec<FlowRecord>> {
        self.flows_using_element(tenant, element).await
    }

    async fn apply_batch(
        &self,
        tenant: TenantId,
        batch: ElementBatch,
    ) -> StoreResult<Vec<FlowRecord>> {
        self.write_batch(tenant, batch).await
    }
}
