//! The flow's row lock, which every write of a flow and every snapshot takes first: what they
//! decide on (who holds the flow, its version and editing token) stays as read until commit.

use super::Conn;
use crate::domain::{FlowId, TenantId, VersionId};
use crate::store::codec::DbUuid;
use crate::store::{StoreError, StoreResult};

/// The refusal of a flow the tenant does not have.
pub(super) fn no_flow(id: FlowId) -> StoreError {
    StoreError::Missing(format!("this tenant has no flow {id}"))
}

/// What a flow's writes decide on, as its lock reads it: who holds it, its current version and
/// editing token.
#[derive(sqlx::FromRow)]
pub(super) struct Locked {
    pub(super) tenant_id: TenantId,
    pub(super) version_id: VersionId,
    pub(super) editing_token: DbUuid,
}

/// Locks the flow's row for the rest of the transaction, whichever tenant holds it. `NO KEY
/// UPDATE` is the lock `UPDATE flows` takes itself, and leaves free the key-share locks of
/// foreign-key checks (inserting the flow's elements, uses and snapshots).
pub(super) async fn lock_flow(tx: &mut Conn, id: FlowId) -> StoreResult<Option<Locked>> {
    Ok(sqlx::query_as(concat!(
        "SELECT tenant_id, version_id, editing_token FROM flows WHERE id = $1",
        row_lock!(no_key_update)
    ))
    .bind(id)
    .fetch_optional(tx)
    .await?)
}
