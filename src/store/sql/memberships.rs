//! A membership read or added inside a caller's transaction: shared by the user
//! administration (`users`) and the invitations they accept (`invitations`).

use super::Conn;
use crate::domain::{Role, TenantId, Timestamp, UserId};
use crate::store::sql_errors::conflict_or_internal;
use crate::store::{StoreError, StoreResult};

/// The user's role in the tenant, read inside the caller's transaction.
pub(super) async fn current_role(
    conn: &mut Conn,
    user: UserId,
    tenant: TenantId,
) -> StoreResult<Option<Role>> {
    let row: Option<(Role,)> =
        sqlx::query_as("SELECT role FROM memberships WHERE user_id = $1 AND tenant_id = $2")
            .bind(user)
            .bind(tenant)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(role,)| role))
}

/// Adds a membership; Missing when the tenant does not exist, Conflict when already a member.
pub(super) async fn insert_membership(
    conn: &mut Conn,
    user: UserId,
    tenant: TenantId,
    role: Role,
    now: Timestamp,
) -> StoreResult<()> {
    let result = sqlx::query(
        "INSERT INTO memberships (user_id, tenant_id, role, created_at) \
         SELECT $1, id, $2, $3 FROM tenants WHERE id = $4",
    )
    .bind(user)
    .bind(role)
    .bind(now)
    .bind(tenant)
    .execute(conn)
    .await
    .map_err(|e| conflict_or_internal(e, "the user is already a member of that tenant"))?;
    if result.rows_affected() == 0 {
        return Err(StoreError::Missing(format!("there is no tenant {tenant}")));
    }
    Ok(())
}
