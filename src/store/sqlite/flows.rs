//! Flows in SQLite: the current version of each, with its builders joined in.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, internal, timestamp, uuid};
use crate::domain::flow::{FlowDraft, FlowSettings};
use crate::domain::{FlowFilter, FlowId, TenantId, Timestamp, UserId, new_id};
use crate::store::{FlowRecord, FlowStore, StoreError, StoreResult, Who};

/// The flow's columns and its three builders, each a LEFT JOIN so a flow outlives its author.
const SELECT_FLOW: &str = "SELECT f.id, f.version_id, f.editing_token, f.developer_name, \
     f.developer_summary, f.start_map_element_id, f.settings, f.date_created, f.date_modified, \
     f.who_created, c.first_name AS c_first, c.last_name AS c_last, c.email AS c_email, \
     f.who_modified, m.first_name AS m_first, m.last_name AS m_last, m.email AS m_email, \
     f.who_owner, o.first_name AS o_first, o.last_name AS o_last, o.email AS o_email \
     FROM flows f \
     LEFT JOIN users c ON c.id = f.who_created \
     LEFT JOIN users m ON m.id = f.who_modified \
     LEFT JOIN users o ON o.id = f.who_owner";

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

fn flow_from_row(row: &SqliteRow) -> StoreResult<FlowRecord> {
    let settings: String = column(row, "settings")?;
    let settings: FlowSettings = serde_json::from_str(&settings)
        .map_err(|e| StoreError::Internal(anyhow::Error::new(e).context("flow settings")))?;
    Ok(FlowRecord {
        id: FlowId(uuid(&column::<String>(row, "id")?)?),
        version_id: uuid(&column::<String>(row, "version_id")?)?,
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
    })
}

fn settings_json(draft: &FlowDraft) -> StoreResult<String> {
    serde_json::to_string(&draft.settings)
        .map_err(|e| StoreError::Internal(anyhow::Error::new(e).context("flow settings")))
}

#[async_trait]
impl FlowStore for SqliteStore {
    async fn list_flows(
        &self,
        tenant: TenantId,
        filter: Option<&FlowFilter>,
    ) -> StoreResult<Vec<FlowRecord>> {
        // instr() compares the pre-folded name without LIKE's wildcards to escape.
        let (condition, value) = match filter {
            None => ("", None),
            Some(FlowFilter::NameEquals(value)) => (" AND f.name_folded = ?", Some(value)),
            Some(FlowFilter::NameContains(value)) => {
                (" AND instr(f.name_folded, ?) > 0", Some(value))
            }
        };
        let sql =
            format!("{SELECT_FLOW} WHERE f.tenant_id = ?{condition} ORDER BY f.name_folded, f.id");
        let mut query = sqlx::query(&sql).bind(tenant.to_string());
        if let Some(value) = value {
            query = query.bind(value);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(internal)?;
        rows.iter().map(flow_from_row).collect()
    }

    async fn flow(&self, tenant: TenantId, id: FlowId) -> StoreResult<Option<FlowRecord>> {
        let sql = format!("{SELECT_FLOW} WHERE f.tenant_id = ? AND f.id = ?");
        let row = sqlx::query(&sql)
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?;
        row.as_ref().map(flow_from_row).transpose()
    }

    async fn create_flow(
        &self,
        tenant: TenantId,
        draft: &FlowDraft,
        author: UserId,
    ) -> StoreResult<FlowRecord> {
        let id = FlowId::generate();
        let now = Timestamp::now().to_rfc3339();
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
        .bind(&draft.start_map_element_id)
        .bind(settings_json(draft)?)
        .bind(&now)
        .bind(&now)
        .bind(author.to_string())
        .bind(author.to_string())
        .bind(author.to_string())
        .execute(&self.pool)
        .await
        .map_err(internal)?;
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
             name_folded = ?, developer_summary = ?, start_map_element_id = ?, settings = ?, \
             date_modified = ?, who_modified = ? WHERE tenant_id = ? AND id = ?",
        )
        .bind(new_id().to_string())
        .bind(new_id().to_string())
        .bind(draft.developer_name.as_str())
        .bind(draft.developer_name.folded())
        .bind(&draft.developer_summary)
        .bind(&draft.start_map_element_id)
        .bind(settings_json(draft)?)
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
}
