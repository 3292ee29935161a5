//! The elements of a flow's graph as a graph write (`graph.rs`) replaces them, inside its
//! transaction and under the flow's row lock: what each element keeps when it stays (its
//! creation; its last change, and the editing token that change was made under, when its
//! document is the same), and the per-element guard of writes sent with an editing token (a
//! change to an element another user changed under that token is refused).

use std::collections::HashMap;

use uuid::Uuid;

use super::Conn;
use crate::domain::element::FlowElementKind;
use crate::domain::{FlowId, Timestamp, UserId};
use crate::store::codec::DbUuid;
use crate::store::columns::{changed_by_another, to_json};
use crate::store::{FlowGraphWrite, NewFlowElement, StoreError, StoreResult};

/// The refusal of a write sent with `token` when an element it changes (a document that
/// differs, or a delete) was last changed under that same token by someone else: they changed
/// it after the client read the flow, and this write would undo their change unseen.
pub(super) fn changed_by_other(
    write: &FlowGraphWrite,
    token: Uuid,
    before: &HashMap<Uuid, Kept>,
    elements: &[NewFlowElement],
) -> StoreResult<Option<StoreError>> {
    let after: HashMap<Uuid, &NewFlowElement> = elements.iter().map(|e| (e.id, e)).collect();
    let mut touched: Vec<&Kept> = Vec::new();
    for kept in before.values() {
        let changes = match after.get(&kept.id.0) {
            Some(element) => to_json(&element.document, "element document")? != kept.document,
            None => true,
        };
        if changes && kept.edit_token.0 == token && kept.who_modified != write.author {
            touched.push(kept);
        }
    }
    // The same element named whatever order the map gave.
    touched.sort_by_key(|kept| kept.id);
    Ok(touched.first().map(|kept| {
        let what = if kept.developer_name.is_empty() {
            format!("the {} {}", kept.kind.noun(), kept.id.0)
        } else {
            format!(
                "the {} '{}' ({})",
                kept.kind.noun(),
                kept.developer_name,
                kept.id.0
            )
        };
        changed_by_another(write.id, &what)
    }))
}

/// An element as stored before a write: its document (to tell whether it changed), its
/// creation and last change, and the editing token that change was made under.
#[derive(sqlx::FromRow)]
pub(super) struct Kept {
    id: DbUuid,
    kind: FlowElementKind,
    developer_name: String,
    document: String,
    date_created: Timestamp,
    date_modified: Timestamp,
    who_created: UserId,
    who_modified: UserId,
    edit_token: DbUuid,
}

/// The flow's elements as stored, read under the write's lock.
pub(super) async fn stored_elements(
    tx: &mut Conn,
    flow: FlowId,
) -> StoreResult<HashMap<Uuid, Kept>> {
    let rows: Vec<Kept> = sqlx::query_as(
        "SELECT id, kind, developer_name, document, date_created, date_modified, who_created, \
         who_modified, edit_token FROM flow_elements WHERE flow_id = $1",
    )
    .bind(flow)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().map(|kept| (kept.id.0, kept)).collect())
}

/// Who writes a flow's elements, when, and under which editing token (nil: none a client
/// holds).
pub(super) struct Stamped {
    pub(super) flow: FlowId,
    pub(super) author: UserId,
    pub(super) token: Uuid,
    pub(super) now: Timestamp,
}

/// Replaces every element of the flow (`before`: as stored). An element that stays keeps its
/// creation (date and builder), and its last change (date, builder, token) too when its
/// document did not change.
pub(super) async fn replace_elements(
    tx: &mut Conn,
    stamped: &Stamped,
    before: &HashMap<Uuid, Kept>,
    elements: &[NewFlowElement],
) -> StoreResult<()> {
    sqlx::query("DELETE FROM flow_elements WHERE flow_id = $1")
        .bind(stamped.flow)
        .execute(&mut *tx)
        .await?;
    let (author, now) = (stamped.author, stamped.now);
    for element in elements {
        let document = to_json(&element.document, "element document")?;
        let (created, modified, who_created, who_modified, token) = match before.get(&element.id) {
            Some(kept) if kept.document == document => (
                kept.date_created,
                kept.date_modified,
                kept.who_created,
                kept.who_modified,
                kept.edit_token.0,
            ),
            Some(kept) => (
                kept.date_created,
                now,
                kept.who_created,
                author,
                stamped.token,
            ),
            None => (now, now, author, author, stamped.token),
        };
        sqlx::query(
            "INSERT INTO flow_elements (flow_id, id, kind, developer_name, document, \
             date_created, date_modified, who_created, who_modified, edit_token) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(stamped.flow)
        .bind(DbUuid(element.id))
        .bind(element.kind)
        .bind(&element.developer_name)
        .bind(&document)
        .bind(created)
        .bind(modified)
        .bind(who_created)
        .bind(who_modified)
        .bind(DbUuid(token))
        .execute(&mut *tx)
        .await
        .map_err(|error| match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(format!(
                "the flow has two elements with the id {}",
                element.id
            )),
            _ => error.into(),
        })?;
    }
    Ok(())
}
