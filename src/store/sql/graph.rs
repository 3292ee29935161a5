//! Flow graphs written: a flow's map, group and navigation elements and the tenant elements it
//! uses, inside the one transaction that writes elements and flows together (`apply_batch`,
//! in `flows.rs`, which reads them too). Each flow
//! write first locks the flow's row (SQLite: the write lock its transaction took at once), so
//! what it decides on (the owner, the version it was computed from, the editing token, the
//! token each element was last changed under) cannot change before it commits; two creates of
//! one id meet at the primary key. A batch that writes flows announces
//! `Change::Flows` once, from its own transaction.

use std::collections::HashMap;

use uuid::Uuid;

use super::flow_lock::{lock_flow, no_flow};
use super::graph_elements::{Stamped, changed_by_other, replace_elements, stored_elements};
use super::{Conn, Store};
use crate::domain::element::{FlowElementKind, start_document};
use crate::domain::{FlowId, TenantId, Timestamp, VersionId, new_id};
use crate::store::codec::DbUuid;
use crate::store::columns::{moved, stale_token, to_json};
use crate::store::{
    Change, Edit, FlowGraphWrite, FlowUse, GraphMode, NewFlowElement, StoreError, StoreResult,
};

fn flow_id_taken(id: FlowId) -> StoreError {
    StoreError::Conflict(format!("a flow with the id {id} already exists"))
}

impl Store {
    /// Gives the flow a new editing token, if it is still at `token` (a write since has done
    /// it already otherwise).
    pub(super) async fn renew_token(
        &self,
        tenant: TenantId,
        id: FlowId,
        token: Uuid,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let renewed = sqlx::query(
            "UPDATE flows SET editing_token = $1 WHERE tenant_id = $2 AND id = $3 \
             AND editing_token = $4",
        )
        .bind(DbUuid(new_id()))
        .bind(tenant)
        .bind(id)
        .bind(DbUuid(token))
        .execute(&mut *tx)
        .await?;
        if renewed.rows_affected() > 0 {
            // The flow lists other instances cache show the editing token.
            self.announce(&mut tx, Change::Flows { tenant }).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A write refused because another editor changed one of its elements under the token it was
/// sent with: the caller rolls back, then renews that token.
pub(super) struct Taken {
    pub(super) refusal: StoreError,
    pub(super) token: Uuid,
}

/// Writes one flow inside the batch's transaction (`FlowStore::apply_batch`); `Ok(Err(_))`
/// when an element another editor changed refuses it (see [`Edit::token`]).
pub(super) async fn write_flow(
    tx: &mut Conn,
    tenant: TenantId,
    write: &FlowGraphWrite,
) -> StoreResult<Result<(), Taken>> {
    // Held until the commit, the lock keeps the version, the token and the elements' stamps
    // from moving while they are compared.
    let found = lock_flow(tx, write.id).await?;
    let ours = found.as_ref().is_some_and(|held| held.tenant_id == tenant);
    let mut edit = Edit::default();
    let mut held_token = Uuid::nil();
    let create = match (write.mode, found) {
        (GraphMode::Create, Some(_)) => return Err(flow_id_taken(write.id)),
        (GraphMode::Create, None) | (GraphMode::Replace, None) => true,
        (GraphMode::Replace, Some(_)) if !ours => {
            return Err(StoreError::Conflict(format!(
                "the flow id {} belongs to another tenant",
                write.id
            )));
        }
        (GraphMode::Update(_), _) if !ours => return Err(no_flow(write.id)),
        (GraphMode::Update(expected), Some(held)) => {
            if expected.read_at.is_some_and(|read| read != held.version_id) {
                return Err(moved(write.id));
            }
            if expected
                .token
                .is_some_and(|sent| sent != held.editing_token.0)
            {
                return Err(stale_token(write.id));
            }
            (edit, held_token) = (expected, held.editing_token.0);
            false
        }
        _ => false,
    };
    let before = match (create, &write.elements) {
        (false, Some(_)) => stored_elements(tx, write.id).await?,
        _ => HashMap::new(),
    };
    if let (Some(token), Some(elements)) = (edit.token, &write.elements)
        && let Some(refusal) = changed_by_other(write, token, &before, elements)?
    {
        return Ok(Err(Taken { refusal, token }));
    }
    // The token the elements this write changes are stamped with: the flow's, when it keeps
    // it (others may still write under it); else none, since no one holds the new one yet.
    let stamp = if edit.keep_token {
        held_token
    } else {
        Uuid::nil()
    };
    let now = Timestamp::now();
    // A new flow given no elements starts at its START map element.
    let start = (create && write.elements.is_none()).then(|| NewFlowElement {
        id: (write.start_map_element_id.as_deref())
            .and_then(|id| Uuid::try_parse(id).ok())
            .unwrap_or_else(new_id),
        kind: FlowElementKind::Map,
        developer_name: "Start".into(),
        document: start_document(),
    });
    if create {
        let start_id = start.as_ref().map(|start| start.id.to_string());
        let start_id = start_id.as_ref().or(write.start_map_element_id.as_ref());
        insert_flow(tx, tenant, write, start_id, now).await?;
    } else {
        update_flow(tx, tenant, write, edit.keep_token, now).await?;
    }
    let stamped = Stamped {
        flow: write.id,
        author: write.author,
        token: stamp,
        now,
    };
    let elements = write
        .elements
        .as_deref()
        .or(start.as_ref().map(std::slice::from_ref));
    if let Some(elements) = elements {
        replace_elements(tx, &stamped, &before, elements).await?;
    }
    if let Some(uses) = &write.uses {
        replace_uses(tx, tenant, write.id, uses).await?;
    }
    Ok(Ok(()))
}

async fn insert_flow(
    tx: &mut Conn,
    tenant: TenantId,
    write: &FlowGraphWrite,
    start_map_element_id: Option<&String>,
    now: Timestamp,
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
    .bind(write.id)
    .bind(tenant)
    .bind(VersionId(new_id()))
    .bind(DbUuid(new_id()))
    .bind(draft.developer_name.as_str())
    .bind(draft.developer_name.folded())
    .bind(&draft.developer_summary)
    .bind(start_map_element_id)
    .bind(to_json(&draft.settings, "flow settings")?)
    .bind(now)
    .bind(write.author)
    .execute(&mut *tx)
    .await
    .map_err(|error| match &error {
        // Another request created the id at the same moment.
        sqlx::Error::Database(db) if db.is_unique_violation() => flow_id_taken(write.id),
        _ => error.into(),
    })?;
    Ok(())
}

async fn update_flow(
    tx: &mut Conn,
    tenant: TenantId,
    write: &FlowGraphWrite,
    keep_token: bool,
    now: Timestamp,
) -> StoreResult<()> {
    // Every write moves the version; the token only when the write renews it.
    sqlx::query(
        "UPDATE flows SET version_id = $1, editing_token = COALESCE($2, editing_token), \
         date_modified = $3, who_modified = $4 WHERE tenant_id = $5 AND id = $6",
    )
    .bind(VersionId(new_id()))
    .bind((!keep_token).then(|| DbUuid(new_id())))
    .bind(now)
    .bind(write.author)
    .bind(tenant)
    .bind(write.id)
    .execute(&mut *tx)
    .await?;
    if let Some(draft) = &write.header {
        sqlx::query(
            "UPDATE flows SET developer_name = $1, name_folded = $2, developer_summary = $3, \
             settings = $4 WHERE id = $5",
        )
        .bind(draft.developer_name.as_str())
        .bind(draft.developer_name.folded())
        .bind(&draft.developer_summary)
        .bind(to_json(&draft.settings, "flow settings")?)
        .bind(write.id)
        .execute(&mut *tx)
        .await?;
    }
    if let Some(start) = &write.start_map_element_id {
        sqlx::query("UPDATE flows SET start_map_element_id = $1 WHERE id = $2")
            .bind(start)
            .bind(write.id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Replaces the list of tenant elements the flow uses; Conflict naming an element the tenant
/// does not have (the foreign key decides, so an element deleted meanwhile counts as gone).
async fn replace_uses(
    tx: &mut Conn,
    tenant: TenantId,
    flow: FlowId,
    uses: &[FlowUse],
) -> StoreResult<()> {
    sqlx::query("DELETE FROM flow_uses WHERE flow_id = $1")
        .bind(flow)
        .execute(&mut *tx)
        .await?;
    for used in uses {
        // Listed twice, an element is imported if either says so.
        sqlx::query(
            "INSERT INTO flow_uses (flow_id, tenant_id, element_id, imported) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (flow_id, element_id) \
             DO UPDATE SET imported = flow_uses.imported OR excluded.imported",
        )
        .bind(flow)
        .bind(tenant)
        .bind(DbUuid(used.element))
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
            _ => error.into(),
        })?;
    }
    Ok(())
}
