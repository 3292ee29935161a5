//! Flows in SQLite: the version of each being edited, with its builders joined in, and its
//! writes, which go through the graph writer (`graph.rs`). The row decoder is shared with the
//! snapshots.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::super::columns::settings_from_json;
use super::super::filtering::passing;
use uuid::Uuid;

use super::elements::who;
use super::{SqliteStore, internal, timestamp, uuid};
use crate::domain::flow::FlowDraft;
use crate::domain::{FlowFilter, FlowId, TenantId, UserId, VersionId};
use crate::store::{
    ElementBatch, FlowElementRecord, FlowGraphWrite, FlowRecord, FlowStore, FlowUse, GraphMode,
    SnapshotState, StoreError, StoreResult,
};

/// The builders of a version, each a LEFT JOIN so a flow outlives its author.
const WHO_JOINS: &str = "LEFT JOIN users c ON c.id = f.who_created \
     LEFT JOIN users m ON m.id = f.who_modified \
     LEFT JOIN users o ON o.id = f.who_owner";

/// The columns of a version, common to `flows` and `flow_snapshots`.
const VERSION_COLUMNS: &str = "f.version_id, f.editing_token, f.developer_name, \
     f.developer_summary, f.start_map_element_id, f.settings, f.date_created, f.date_modified, \
     f.who_created, c.first_name AS c_first, c.last_name AS c_last, c.email AS c_email, \
     f.who_modified, m.first_name AS m_first, m.last_name AS m_last, m.email AS m_email, \
     f.who_owner, o.first_name AS o_first, o.last_name AS o_last, o.email AS o_email";

/// The version being edited, in the shape [`version_from_row`] reads.
pub(super) fn select_current() -> String {
    format!(
        "SELECT f.id, {VERSION_COLUMNS}, NULL AS comment, 0 AS is_active, 0 AS is_default, \
         NULL AS activated_by_email, 0 AS is_snapshot FROM flows f {WHO_JOINS}"
    )
}

/// Snapshots, in the shape [`version_from_row`] reads; `date_created` is `snapped_at`.
pub(super) fn select_snapshots() -> String {
    // A snapshot's dateCreated is when it was taken, not when its flow was created.
    let columns = VERSION_COLUMNS.replace("f.date_created", "f.snapped_at AS date_created");
    format!(
        "SELECT f.flow_id AS id, {columns}, f.comment, f.is_active, f.is_default, \
         f.activated_by_email, 1 AS is_snapshot FROM flow_snapshots f {WHO_JOINS}"
    )
}

fn column<T>(row: &SqliteRow, name: &str) -> StoreResult<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(name).map_err(internal)
}

pub(super) fn version_from_row(row: &SqliteRow) -> StoreResult<FlowRecord> {
    let settings: String = column(row, "settings")?;
    let settings = settings_from_json(&settings)?;
    Ok(FlowRecord {
        id: FlowId(uuid(&column::<String>(row, "id")?)?),
        version_id: VersionId(uuid(&column::<String>(row, "version_id")?)?),
        editing_token: uuid(&column::<String>(row, "editing_token")?)?,
        developer_name: column(row, "developer_name")?,
        developer_summary: column(row, "developer_summary")?,
        start_map_element_id: column(row, "start_map_element_id")?,
        settings,
        date_created: timestamp(&column::<String>(row, "date_created")?)?,
        date_modified: timestamp(&column::<String>(row, "date_modified")?)?,
        who_created: who(row, "who_created", "c")?,
        who_modified: who(row, "who_modified", "m")?,
        who_owner: who(row, "who_owner", "o")?,
        snapshot: snapshot_state(row)?,
    })
}

fn snapshot_state(row: &SqliteRow) -> StoreResult<Option<SnapshotState>> {
    if column::<i64>(row, "is_snapshot")? == 0 {
        return Ok(None);
    }
    Ok(Some(SnapshotState {
        comment: column(row, "comment")?,
        is_active: column::<i64>(row, "is_active")? != 0,
        is_default: column::<i64>(row, "is_default")? != 0,
        activated_by: column(row, "activated_by_email")?,
    }))
}

#[async_trait]
impl FlowStore for SqliteStore {
    async fn list_flows(
        &self,
        tenant: TenantId,
        filter: Option<&FlowFilter>,
    ) -> StoreResult<Vec<FlowRecord>> {
        let sql = format!(
            "{} WHERE f.tenant_id = ? ORDER BY f.name_folded, f.id",
            select_current()
        );
        let rows = sqlx::query(&sql)
            .bind(tenant.to_string())
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
        let sql = format!("{} WHERE f.tenant_id = ? AND f.id = ?", select_current());
        let row = sqlx::query(&sql)
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        row.as_ref().map(version_from_row).transpose()
    }

    async fn create_flow(
        &self,
        tenant: TenantId,
        draft: &FlowDraft,
        author: UserId,
    ) -> StoreResult<FlowRecord> {
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
        let result = sqlx::query("DELETE FROM flows WHERE tenant_id = ? AND id = ?")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(result.rows_affected() > 0)
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
        let found: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM flows WHERE id = ? AND tenant_id <> ?")
                .bind(id.to_string())
                .bind(tenant.to_string())
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
