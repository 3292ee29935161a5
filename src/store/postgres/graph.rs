//! Flow graphs in PostgreSQL: a flow's map, group and navigation elements, the tenant elements
//! it uses, and the one transaction that writes elements and flows together (`apply_batch`).
//! Each flow write first locks the flow's row, so what it decides on (the owner, the editing
//! token) cannot change before it commits; two creates of one id meet at the primary key. A
//! batch that writes flows announces `Change::Flows` once, from its own transaction.

use std::collections::HashMap;

use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::super::columns::{
    document_from_json, document_json, flow_element_kind, settings_json, stale_token,
    start_document,
};
use super::elements::{column, time, who, write_element};
use super::flows::{BY_NAME, current_flow, select_current, version_from_row};
use super::{PgStore, internal};
use crate::domain::element::FlowElementKind;
use crate::domain::{FlowId, TenantId, Timestamp, new_id};
use crate::store::{
    Change, ElementBatch, FlowElementRecord, FlowGraphWrite, FlowRecord, FlowUse, GraphMode,
    NewFlowElement, StoreError, StoreResult,
};

fn flow_element_from_row(row: &PgRow) -> StoreResult<FlowElementRecord> {
    Ok(FlowElementRecord {
        id: column(row, "id")?,
        kind: flow_element_kind(&column::<String>(row, "kind")?)?,
        developer_name: column(row, "developer_name")?,
        document: document_from_json(&column::<String>(row, "document")?)?,
        date_created: time(row, "date_created")?,
        date_modified: time(row, "date_modified")?,
        who_created: who(row, "who_created", "c")?,
        who_modified: who(row, "who_modified", "m")?,
    })
}

fn no_flow(id: FlowId) -> StoreError {
    StoreError::Missing(format!("this tenant has no flow {id}"))
}

fn flow_id_taken(id: FlowId) -> StoreError {
    StoreError::Conflict(format!("a flow with the id {id} already exists"))
}

impl PgStore {
    /// Missing unless the tenant has the flow.
    async fn require_flow(&self, tenant: TenantId, id: FlowId) -> StoreResult<()> {
        let found: Option<(i32,)> =
            sqlx::query_as("SELECT 1 FROM flows WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(id.0)
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
             WHERE e.flow_id = $1 ORDER BY e.date_created, e.id",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.iter().map(flow_element_from_row).collect()
    }

    pub(super) async fn uses_of(&self, tenant: TenantId, id: FlowId) -> StoreResult<Vec<FlowUse>> {
        self.require_flow(tenant, id).await?;
        let rows: Vec<(Uuid, bool)> = sqlx::query_as(
            "SELECT element_id, imported FROM flow_uses WHERE flow_id = $1 ORDER BY element_id",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(|(element, imported)| FlowUse { element, imported })
            .collect())
    }

    pub(super) async fn flows_using_element(
        &self,
        tenant: TenantId,
        element: Uuid,
    ) -> StoreResult<Vec<FlowRecord>> {
        let sql = format!(
            "{} WHERE f.tenant_id = $1 AND f.id IN (SELECT flow_id FROM flow_uses \
             WHERE tenant_id = $1 AND element_id = $2) ORDER BY {BY_NAME}, f.id",
            select_current()
        );
        let rows = sqlx::query(&sql)
            .bind(tenant.0)
            .bind(element)
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
        let mut tx = self.pool.begin().await.map_err(internal)?;
        for element in &batch.elements {
            write_element(&mut tx, tenant, element, batch.overwrite_existing).await?;
        }
        for write in &batch.flows {
            write_flow(&mut tx, tenant, write).await?;
        }
        let mut flows = Vec::with_capacity(batch.flows.len());
        for write in &batch.flows {
            flows.push(
                current_flow(&mut tx, tenant, write.id)
                    .await?
                    .ok_or_else(|| StoreError::Internal(anyhow::anyhow!("a flow vanished")))?,
            );
        }
        if !flows.is_empty() {
            self.announce(&mut tx, Change::Flows { tenant }).await?;
        }
        tx.commit().await.map_err(internal)?;
        Ok(flows)
    }
}

/// Writes one flow inside the batch's transaction.
async fn write_flow(
    tx: &mut PgConnection,
    tenant: TenantId,
    write: &FlowGraphWrite,
) -> StoreResult<()> {
    // `NO KEY UPDATE` is the lock `UPDATE flows` takes itself (as the snapshots take it), and
    // leaves free the key-share locks that inserting the flow's elements and uses takes.
    let found: Option<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT tenant_id, editing_token FROM flows WHERE id = $1 FOR NO KEY UPDATE",
    )
    .bind(write.id.0)
    .fetch_optional(&mut *tx)
    .await
    .map_err(internal)?;
    let ours = found.is_some_and(|(owner, _)| owner == tenant.0);
    let create = match (write.mode, found) {
        (GraphMode::Create, Some(_)) => return Err(flow_id_taken(write.id)),
        (GraphMode::Create, None) | (GraphMode::Replace, None) => true,
        (GraphMode::Replace, Some(_)) if !ours => {
            return Err(StoreError::Conflict(format!(
                "the flow id {} belongs to another tenant",
                write.id
            )));
        }
        (GraphMode::Update { .. }, _) if !ours => return Err(no_flow(write.id)),
        (GraphMode::Update { expected_token }, Some((_, token))) => {
            if expected_token.is_some_and(|expected| expected != token) {
                return Err(stale_token(write.id));
            }
            false
        }
        _ => false,
    };
    let now = Timestamp::now().as_offset();
    if create {
        insert_flow(tx, tenant, write, now).await?;
    } else {
        update_flow(tx, tenant, write, now).await?;
    }
    match &write.elements {
        Some(elements) => replace_elements(tx, write, elements, now).await?,
        None if create => {
            // Every new flow starts at its START map element.
            let start = write
                .start_map_element_id
                .as_deref()
                .and_then(|id| Uuid::try_parse(id).ok())
                .unwrap_or_else(new_id);
            let elements = [NewFlowElement {
                id: start,
                kind: FlowElementKind::Map,
                developer_name: "Start".into(),
                document: start_document(),
            }];
            replace_elements(tx, write, &elements, now).await?;
            sqlx::query("UPDATE flows SET start_map_element_id = $1 WHERE id = $2")
                .bind(start.to_string())
                .bind(write.id.0)
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
    tx: &mut PgConnection,
    tenant: TenantId,
    write: &FlowGraphWrite,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let draft = write.header.as_ref().ok_or_else(|| {
        StoreError::Internal(anyhow::anyhow!("a flow was created without its header"))
    })?;
    sqlx::query(
        "INSERT INTO flows (id, tenant_id, version_id, editing_token, developer_name, \
         name_folded, developer_summary, start_map_element_id, settings, date_created, \
         date_modified, who_created, who_modified, who_owner) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $11, $11)",
    )
    .bind(write.id.0)
    .bind(tenant.0)
    .bind(new_id())
    .bind(new_id())
    .bind(draft.developer_name.as_str())
    .bind(draft.developer_name.folded())
    .bind(&draft.developer_summary)
    .bind(&write.start_map_element_id)
    .bind(settings_json(&draft.settings)?)
    .bind(now)
    .bind(write.author.0)
    .execute(&mut *tx)
    .await
    .map_err(|error| match &error {
        // Another request created the id at the same moment.
        sqlx::Error::Database(db) if db.is_unique_violation() => flow_id_taken(write.id),
        _ => internal(error),
    })?;
    Ok(())
}

async fn update_flow(
    tx: &mut PgConnection,
    tenant: TenantId,
    write: &FlowGraphWrite,
    now: OffsetDateTime,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE flows SET version_id = $1, editing_token = $2, date_modified = $3, \
         who_modified = $4 WHERE tenant_id = $5 AND id = $6",
    )
    .bind(new_id())
    .bind(new_id())
    .bind(now)
    .bind(write.author.0)
    .bind(tenant.0)
    .bind(write.id.0)
    .execute(&mut *tx)
    .await
    .map_err(internal)?;
    if let Some(draft) = &write.header {
        sqlx::query(
            "UPDATE flows SET developer_name = $1, name_folded = $2, developer_summary = $3, \
             settings = $4 WHERE id = $5",
        )
        .bind(draft.developer_name.as_str())
        .bind(draft.developer_name.folded())
        .bind(&draft.developer_summary)
        .bind(settings_json(&draft.settings)?)
        .bind(write.id.0)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    }
    if let Some(start) = &write.start_map_element_id {
        sqlx::query("UPDATE flows SET start_map_element_id = $1 WHERE id = $2")
            .bind(start)
            .bind(write.id.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
    }
    Ok(())
}

/// What an element that stays keeps: its document (to tell whether it changed), its
/// creation and its last modification.
type Kept = (String, OffsetDateTime, OffsetDateTime, Uuid, Uuid);

/// Replaces every element of the flow. An element that stays keeps its creation (date and
/// builder), and its modification too when its document did not change.
async fn replace_elements(
    tx: &mut PgConnection,
    write: &FlowGraphWrite,
    elements: &[NewFlowElement],
    now: OffsetDateTime,
) -> StoreResult<()> {
    let rows: Vec<(Uuid, String, OffsetDateTime, OffsetDateTime, Uuid, Uuid)> = sqlx::query_as(
        "SELECT id, document, date_created, date_modified, who_created, who_modified \
         FROM flow_elements WHERE flow_id = $1",
    )
    .bind(write.id.0)
    .fetch_all(&mut *tx)
    .await
    .map_err(internal)?;
    let before: HashMap<Uuid, Kept> = rows
        .into_iter()
        .map(|(id, document, created, modified, who_c, who_m)| {
            (id, (document, created, modified, who_c, who_m))
        })
        .collect();
    sqlx::query("DELETE FROM flow_elements WHERE flow_id = $1")
        .bind(write.id.0)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    let author = write.author.0;
    for element in elements {
        let document = document_json(&element.document)?;
        let (created, modified, who_created, who_modified) = match before.get(&element.id) {
            Some((old, created, modified, who_c, who_m)) if *old == document => {
                (*created, *modified, *who_c, *who_m)
            }
            Some((_, created, _, who_c, _)) => (*created, now, *who_c, author),
            None => (now, now, author, author),
        };
        sqlx::query(
            "INSERT INTO flow_elements (flow_id, id, kind, developer_name, document, \
             date_created, date_modified, who_created, who_modified) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(write.id.0)
        .bind(element.id)
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
/// does not have (the foreign key decides, so an element deleted meanwhile counts as gone).
async fn replace_uses(
    tx: &mut PgConnection,
    tenant: TenantId,
    flow: FlowId,
    uses: &[FlowUse],
) -> StoreResult<()> {
    sqlx::query("DELETE FROM flow_uses WHERE flow_id = $1")
        .bind(flow.0)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
    for used in uses {
        sqlx::query(
            "INSERT INTO flow_uses (flow_id, tenant_id, element_id, imported) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (flow_id, element_id) \
             DO UPDATE SET imported = flow_uses.imported OR excluded.imported",
        )
        .bind(flow.0)
        .bind(tenant.0)
        .bind(used.element)
        .bind(used.imported)
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
