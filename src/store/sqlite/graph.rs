//! Flow graphs in SQLite: a flow's map, group and navigation elements, the tenant elements it
//! uses, and the one transaction that writes elements and flows together (`apply_batch`).
//! Every write opens with `BEGIN IMMEDIATE`, so it holds SQLite's write lock before it reads
//! what it decides on (the editing token, the element ids).

use std::collections::HashMap;

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::super::columns::{
    document_from_json, document_json, flow_element_kind, settings_json, stale_token,
    start_document,
};
use super::elements::{who, write_element};
use super::flows::{select_current, version_from_row};
use super::{SqliteStore, internal, timestamp, uuid};
use crate::domain::{FlowId, TenantId, Timestamp, new_id};
use crate::store::{
    ElementBatch, FlowElementRecord, FlowGraphWrite, FlowRecord, FlowStore, FlowUse, GraphMode,
    NewFlowElement, StoreError, StoreResult,
};

fn text(row: &SqliteRow, name: &str) -> StoreResult<String> {
    row.try_get(name).map_err(internal)
}

fn flow_element_from_row(row: &SqliteRow) -> StoreResult<FlowElementRecord> {
    Ok(FlowElementRecord {
        id: uuid(&text(row, "id")?)?,
        kind: flow_element_kind(&text(row, "kind")?)?,
        developer_name: text(row, "developer_name")?,
        document: document_from_json(&text(row, "document")?)?,
        date_created: timestamp(&text(row, "date_created")?)?,
        date_modified: timestamp(&text(row, "date_modified")?)?,
        who_created: who(row, "who_created", "c")?,
        who_modified: who(row, "who_modified", "m")?,
    })
}

fn no_flow(id: FlowId) -> StoreError {
    StoreError::Missing(format!("this tenant has no flow {id}"))
}

impl SqliteStore {
    /// Missing unless the tenant has the flow.
    async fn require_flow(&self, tenant: TenantId, id: FlowId) -> StoreResult<()> {
        let found: Option<(i64,)> =
            sqlx::query_as("SELECT 1 FROM flows WHERE tenant_id = ? AND id = ?")
                .bind(tenant.to_string())
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        found.map(|_| ()).ok_or_else(|| no_flow(id))
    }

    pub(super) async fn graph_elements(
        &self,
        tenant: TenantId,
        id: FlowId,
    ) -> StoreResult<Vec<FlowElementRecord>> {
        self.require_flow(tenant, id).await?;
        let rows = sqlx::query(
            "SELECT e.id, e.kind, e.developer_name, e.document, e.date_created, \
             e.date_modified, \
             e.who_created, c.first_name AS c_first, c.last_name AS c_last, c.email AS c_email, \
             e.who_modified, m.first_name AS m_first, m.last_name AS m_last, m.email AS m_email \
             FROM flow_elements e LEFT JOIN users c ON c.id = e.who_created \
             LEFT JOIN users m ON m.id = e.who_modified \
             WHERE e.flow_id = ? ORDER BY e.date_created, e.id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.iter().map(flow_element_from_row).collect()
    }

    pub(super) async fn uses_of(&self, tenant: TenantId, id: FlowId) -> StoreResult<Vec<FlowUse>> {
        self.require_flow(tenant, id).await?;
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT element_id, imported FROM flow_uses WHERE flow_id = ? ORDER BY element_id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter()
            .map(|(element, imported)| {
                Ok(FlowUse {
                    element: uuid(&element)?,
                    imported: imported != 0,
                })
            })
            .collect()
    }

    pub(super) async fn flows_using_element(
        &self,
        tenant: TenantId,
        element: Uuid,
    ) -> StoreResult<Vec<FlowRecord>> {
        let sql = format!(
            "{} WHERE f.tenant_id = ? AND f.id IN (SELECT flow_id FROM flow_uses \
             WHERE tenant_id = ? AND element_id = ?) ORDER BY f.name_folded, f.id",
            select_current()
        );
        let rows = sqlx::query(&sql)
            .bind(tenant.to_string())
            .bind(tenant.to_string())
            .bind(element.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?;
        rows.iter().map(version_from_row).collect()
    }

    pub(super) async fn write_batch(
        &self,
        tenant: TenantId,
        batch: ElementBatch,
    ) -> StoreResult<Vec<FlowRecord>> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(internal)?;
        for element in &batch.elements {
            write_element(&mut tx, tenant, element, batch.overwrite_existing).await?;
        }
        let mut written = Vec::with_capacity(batch.flows.len());
        for write in &batch.flows {
            write_flow(&mut tx, tenant, write).await?;
            written.push(write.id);
        }
        tx.commit().await.map_err(internal)?;
        let mut flows = Vec::with_capacity(written.len());
        for id in written {
            flows.push(
                self.flow(tenant, id)
                    .await?
                    .ok_or_else(|| StoreError::Internal(anyhow::anyhow!("a flow vanished")))?,
            );
        }
        Ok(flows)
    }
}

/// Writes one flow inside the batch's transaction.
async fn write_flow(
    tx: &mut SqliteConnection,
    tenant: TenantId,
    write: &FlowGraphWrite,
) -> StoreResult<()> {
    let found: Option<(String, String)> =
        sqlx::query_as("SELECT tenant_id, editing_token FROM flows WHERE id = ?")
            .bind(write.id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(internal)?;
    let ours = found
        .as_ref()
        .is_some_and(|(owner, _)| *owner == tenant.to_string());
    let create = match (write.mode, &found) {
        (GraphMode::Create, Some(_)) => {
            return Err(StoreError::Conflict(format!(
                "a flow with the id {} already exists",
                write.id
            )));
        }
        (GraphMode::Create, None) | (GraphMode::Replace, None) => true,
        (GraphMode::Replace, Some(_)) if !ours => {
            return Err(StoreError::Conflict(format!(
                "the flow id {} belongs to another tenant",
                write.id
            )));
        }
        (GraphMode::Update { .. }, _) if !ours => return Err(no_flow(write.id)),
        (GraphMode::Update { expected_token }, Some((_, token))) => {
            if let Some(expected) = expected_token
                && expected.to_string() != *token
            {
                return Err(stale_token(write.id));
            }
            false
        }
        _ => false,
    };
    let now = Timestamp::now().to_rfc3339();
    if create {
        insert_flow(tx, tenant, write, &now).await?;
    } else {
        update_flow(tx, tenant, write, &now).await?;
    }
    match &write.elements {
        Some(elements) => replace_elements(tx, write, elements, &now).await?,
        None if create => {
            let start = write
                .start_map_element_id
                .as_deref()
                .and_then(|id| Uuid::try_parse(id).ok())
                .unwrap_or_else(new_id);
            let elements = [NewFlowElement {
                id: start,
                kind: crate::domain::element::FlowElementKind::Map,
                developer_name: "Start".into(),
                document: start_document(),
            }];
            replace_elements(tx, write, &elements, &now).await?;
            sqlx::query("UPDATE flows SET start_map_element_id = ? WHERE id = ?")
                .bind(start.to_string())
                .bind(write.id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
        }
        None => {}
    }
    if let Some(uses) = &write.uses {
        replace_uses(tx, tenant, write.id, uses).await?;
    }
    Ok(())
}

async fn insert_flow(
    tx: &mut SqliteConnection,
    tenant: TenantId,
    write: &FlowGraphWrite,
    now: &str,
) -> StoreResult<()> {
    let draft = write.header.as_ref().ok_or_else(|| {
        StoreError::Internal(anyhow::anyhow!("a flow was created without its header"))
    })?;
    sqlx::query(
        "INSERT INTO flows (id, tenant_id, version_id, editing_token, developer_name, \
         name_folded, developer_summary, start_map_element_id, settings, date_created, \
         date_modified, who_created, who_modified, who_owner) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(write.id.to_string())
    .bind(tenant.to_string())
    .bind(new_id().to_string())
    .bind(new_id().to_string())
    .bind(draft.developer_name.as_str())
    .bind(draft.developer_name.folded())
    .bind(&draft.developer_summary)
    .bind(&write.start_map_element_id)
    .bind(settings_json(&draft.settings)?)
    .bind(now)
    .bind(now)
    .bind(write.author.to_string())
    .bind(write.author.to_string())
    .bind(write.author.to_string())
    .execute(&mut *tx)
    .await
    .map_err(internal)?;
    Ok(())
}

async fn update_flow(
    tx: &mut SqliteConnection,
    tenant: TenantId,
    write: &FlowGraphWrite,
    now: &str,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE flows SET version_id = ?, editing_token = ?, date_modified = ?, \
         who_modified = ? WHERE tenant_id = ? AND id = ?",
    )
    .bind(new_id().to_string())
    .bind(new_id().to_string())
    .bind(now)
    .bind(write.author.to_string())
    .bind(tenant.to_string())
    .bind(write.id.to_string())
    .execute(&mut *tx)
    .await
    .map_err(internal)?;
    if let Some(draft) = &write.header {
        sqlx::query(
            "UPDATE flows SET developer_name = ?, name_folded = ?, developer_summary = ?, \
             settings = ? WHERE id = ?",
        )
        .bind(draft.developer_name.as_str())
        .bind(draft.developer_name.folded())
        .bind(&draft.developer_summary)
        .bind(settings_json(&draft.settings)?)
        .bind(write.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    }
    if let Some(start) = &write.start_map_element_id {
        sqlx::query("UPDATE flows SET start_map_element_id = ? WHERE id = ?")
            .bind(start)
            .bind(write.id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
    }
    Ok(())
}

/// Replaces every element of the flow. An element that stays keeps its creation (date and
/// builder), and its modification too when its document did not change.
async fn replace_elements(
    tx: &mut SqliteConnection,
    write: &FlowGraphWrite,
    elements: &[NewFlowElement],
    now: &str,
) -> StoreResult<()> {
    let rows: Vec<(String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT id, document, date_created, date_modified, who_created, who_modified \
         FROM flow_elements WHERE flow_id = ?",
    )
    .bind(write.id.to_string())
    .fetch_all(&mut *tx)
    .await
    .map_err(internal)?;
    let before: HashMap<String, (String, String, String, String, String)> = rows
        .into_iter()
        .map(|(id, document, created, modified, who_c, who_m)| {
            (id, (document, created, modified, who_c, who_m))
        })
        .collect();
    sqlx::query("DELETE FROM flow_elements WHERE flow_id = ?")
        .bind(write.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    let author = write.author.to_string();
    for element in elements {
        let id = element.id.to_string();
        let document = document_json(&element.document)?;
        let (created, modified, who_created, who_modified) = match before.get(&id) {
            Some((old, created, modified, who_c, who_m)) if *old == document => (
                created.as_str(),
                modified.as_str(),
                who_c.as_str(),
                who_m.as_str(),
            ),
            Some((_, created, _, who_c, _)) => {
                (created.as_str(), now, who_c.as_str(), author.as_str())
            }
            None => (now, now, author.as_str(), author.as_str()),
        };
        sqlx::query(
            "INSERT INTO flow_elements (flow_id, id, kind, developer_name, document, \
             date_created, date_modified, who_created, who_modified) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(write.id.to_string())
        .bind(&id)
        .bind(element.kind.path())
        .bind(&element.developer_name)
        .bind(&document)
        .bind(created)
        .bind(modified)
        .bind(who_created)
        .bind(who_modified)
        .execute(&mut *tx)
        .await
        .map_err(|error| match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(format!(
                "the flow has two elements with the id {}",
                element.id
            )),
            _ => internal(error),
        })?;
    }
    Ok(())
}

/// Replaces the list of tenant elements the flow uses; Conflict naming an element the tenant
/// does not have.
async fn replace_uses(
    tx: &mut SqliteConnection,
    tenant: TenantId,
    flow: FlowId,
    uses: &[FlowUse],
) -> StoreResult<()> {
    sqlx::query("DELETE FROM flow_uses WHERE flow_id = ?")
        .bind(flow.to_string())
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    for used in uses {
        sqlx::query(
            "INSERT INTO flow_uses (flow_id, tenant_id, element_id, imported) VALUES (?, ?, ?, ?) \
             ON CONFLICT (flow_id, element_id) DO UPDATE SET imported = max(imported, excluded.imported)",
        )
        .bind(flow.to_string())
        .bind(tenant.to_string())
        .bind(used.element.to_string())
        .bind(i64::from(used.imported))
        .execute(&mut *tx)
        .await
        .map_err(|error| match &error {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::Conflict(format!(
                    "the flow {flow} uses the element {}, which this tenant does not have",
                    used.element
                ))
            }
            _ => internal(error),
        })?;
    }
    Ok(())
}
