//! Flows in SQLite: the version of each being edited, with its builders joined in, and its
//! START map element. The row decoder is shared with the snapshots.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::super::columns::{settings_from_json, settings_json};
use super::super::filtering::passing;
use super::{SqliteStore, internal, timestamp, uuid};
use crate::domain::flow::FlowDraft;
use crate::domain::{FlowFilter, FlowId, TenantId, Timestamp, UserId, VersionId, new_id};
use crate::store::{
    FlowRecord, FlowStore, MapElementRecord, SnapshotState, StoreError, StoreResult, Who,
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

/// Snapshots, in the shape [`version_from_row`] reads.
pub(super) fn select_snapshots() -> String {
    format!(
        "SELECT f.flow_id AS id, {VERSION_COLUMNS}, f.comment, f.is_active, f.is_default, \
         f.activated_by_email, 1 AS is_snapshot FROM flow_snapshots f {WHO_JOINS}"
    )
}

fn column<T>(row: &SqliteRow, name: &str) -> StoreResult<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(name).map_err(internal)
}

fn who(row: &SqliteRow, id: &str, prefix: &str) -> StoreResult<Who> {
    Ok(Who {
        id: UserId(uuid(&column::<String>(row, id)?)?),
        first_name: column(row, &format!("{prefix}_first"))?,
        last_name: column(row, &format!("{prefix}_last"))?,
        email: column(row, &format!("{prefix}_email"))?,
    })
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
        let id = FlowId::generate();
        let start = new_id();
        let now = Timestamp::now().to_rfc3339();
        let mut tx = self.pool.begin().await.map_err(internal)?;
        sqlx::query(
            "INSERT INTO flows (id, tenant_id, version_id, editing_token, developer_name, \
             name_folded, developer_summary, start_map_element_id, settings, date_created, \
             date_modified, who_created, who_modified, who_owner) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(new_id().to_string())
        .bind(new_id().to_string())
        .bind(draft.developer_name.as_str())
        .bind(draft.developer_name.folded())
        .bind(&draft.developer_summary)
        .bind(start.to_string())
        .bind(settings_json(&draft.settings)?)
        .bind(&now)
        .bind(&now)
        .bind(author.to_string())
        .bind(author.to_string())
        .bind(author.to_string())
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        // Every flow starts at its START map element.
        sqlx::query(
            "INSERT INTO map_elements (id, flow_id, element_type, developer_name, x, y, \
             date_created) VALUES (?, ?, 'START', 'Start', 100, 100, ?)",
        )
        .bind(start.to_string())
        .bind(id.to_string())
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        self.flow(tenant, id)
            .await?
            .ok_or_else(|| StoreError::Internal(anyhow::anyhow!("a created flow vanished")))
    }

    async fn update_flow(
        &self,
        tenant: TenantId,
        id: FlowId,
        draft: &FlowDraft,
        author: UserId,
    ) -> StoreResult<Option<FlowRecord>> {
        let result = sqlx::query(
            "UPDATE flows SET version_id = ?, editing_token = ?, developer_name = ?, \
             name_folded = ?, developer_summary = ?, settings = ?, \
             date_modified = ?, who_modified = ? WHERE tenant_id = ? AND id = ?",
        )
        .bind(new_id().to_string())
        .bind(new_id().to_string())
        .bind(draft.developer_name.as_str())
        .bind(draft.developer_name.folded())
        .bind(&draft.developer_summary)
        .bind(settings_json(&draft.settings)?)
        .bind(Timestamp::now().to_rfc3339())
        .bind(author.to_string())
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        if result.rows_affected() == 0 {
            return Ok(None);
        }
        self.flow(tenant, id).await
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

    async fn map_elements(
        &self,
        tenant: TenantId,
        id: FlowId,
    ) -> StoreResult<Vec<MapElementRecord>> {
        let rows: Vec<(String, String, String, i64, i64, String)> = sqlx::query_as(
            "SELECT m.id, m.element_type, m.developer_name, m.x, m.y, m.date_created \
             FROM map_elements m JOIN flows f ON f.id = m.flow_id \
             WHERE f.tenant_id = ? AND f.id = ? ORDER BY m.date_created, m.id",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter()
            .map(|(id, element_type, developer_name, x, y, date_created)| {
                Ok(MapElementRecord {
                    id: uuid(&id)?,
                    element_type,
                    developer_name,
                    x: i32::try_from(x).unwrap_or_default(),
                    y: i32::try_from(y).unwrap_or_default(),
                    date_created: timestamp(&date_created)?,
                })
            })
            .collect()
    }
}
