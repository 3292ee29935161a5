//! Invitations to a tenant: made (with the account, when the email has none) and accepted
//! through their one-time link, each in one transaction. `UserStore` (`users.rs`) hands these
//! two writes here; the invitations' reads stay with the member lists.

use super::Store;
use super::memberships::{current_role, insert_membership};
use super::transfer::Table;
use crate::domain::{Digest, TenantId, Timestamp, UserId};
use crate::store::columns::NO_PASSWORD;
use crate::store::sql_errors::conflict_or_internal;
use crate::store::transfer::InvitationRow;
use crate::store::{Change, Member, NewInvitation, StoreError, StoreResult};

/// `UserStore::invite`: the pending member as the administrators now see it.
pub(super) async fn invite(store: &Store, invitation: NewInvitation) -> StoreResult<Member> {
    let mut tx = store.pool.begin().await?;
    // Made, or found, in the same write: two administrators adding a new email at once
    // both get an invitation to the one account, never an error that tells them apart.
    // (ON CONFLICT waits for a racing insert of the email and then finds its row; SQLite's
    // write lock, taken by this first statement, keeps the rest of the transaction alone.)
    sqlx::query(
        "INSERT INTO users (id, email, first_name, last_name, password_hash, created_at) \
         VALUES ($1, $2, NULL, NULL, $3, $4) ON CONFLICT (email) DO NOTHING",
    )
    .bind(invitation.id)
    .bind(invitation.email.as_str())
    .bind(NO_PASSWORD)
    .bind(invitation.created_at)
    .execute(&mut *tx)
    .await?;
    let (account,): (UserId,) = sqlx::query_as("SELECT id FROM users WHERE email = $1")
        .bind(invitation.email.as_str())
        .fetch_one(&mut *tx)
        .await?;
    if current_role(&mut tx, account, invitation.tenant)
        .await?
        .is_some()
    {
        return Err(StoreError::Conflict(format!(
            "{} is already a member of this tenant",
            invitation.email
        )));
    }
    let inserted = sqlx::query(
        "INSERT INTO invitations (id, user_id, tenant_id, role, first_name, last_name, \
         link_digest, link_expires_at, created_at) \
         SELECT $1, $2, id, $3, $4, $5, $6, $7, $8 FROM tenants WHERE id = $9",
    )
    .bind(invitation.id)
    .bind(account)
    .bind(invitation.role)
    .bind(&invitation.first_name)
    .bind(&invitation.last_name)
    .bind(invitation.link_digest)
    .bind(invitation.expires_at)
    .bind(invitation.created_at)
    .bind(invitation.tenant)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        conflict_or_internal(
            e,
            &format!("{} is already invited to this tenant", invitation.email),
        )
    })?;
    if inserted.rows_affected() == 0 {
        return Err(StoreError::Missing(format!(
            "there is no tenant {}",
            invitation.tenant
        )));
    }
    store
        .announce(
            &mut tx,
            Change::People {
                tenant: invitation.tenant,
            },
        )
        .await?;
    tx.commit().await?;
    Ok(Member {
        account,
        id: invitation.id,
        email: invitation.email.as_str().to_string(),
        first_name: invitation.first_name,
        last_name: invitation.last_name,
        created_at: invitation.created_at,
        role: invitation.role,
        pending: true,
    })
}

/// `UserStore::accept_invitation`: the account and tenant of a link used, None when the link
/// is unknown, used or expired.
pub(super) async fn accept(
    store: &Store,
    digest: &Digest,
    now: Timestamp,
    new_password_hash: Option<&str>,
) -> StoreResult<Option<(UserId, TenantId)>> {
    let mut tx = store.pool.begin().await?;
    // Deleting first: a link works once, even when two requests race for it (PostgreSQL:
    // the second DELETE waits for the first's row lock, then finds the row gone; SQLite:
    // the DELETE takes the write lock).
    let accepted: Option<InvitationRow> = sqlx::query_as(&format!(
        "DELETE FROM invitations WHERE link_digest = $1 AND link_expires_at > $2 RETURNING {}",
        InvitationRow::COLUMNS
    ))
    .bind(digest)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(accepted) = accepted else {
        return Ok(None);
    };
    let user = accepted.user_id;
    // The password state is checked again under the account's row lock (SQLite: the write
    // lock): the caller decided on what it read before, and another link of the same
    // account may have been used since (the UPDATE re-reads the row once a racing writer
    // commits; FOR SHARE waits).
    let expected = match new_password_hash {
        Some(hash) => {
            sqlx::query(
                "UPDATE users SET password_hash = $1, first_name = $2, last_name = $3 \
                 WHERE id = $4 AND password_hash = $5",
            )
            .bind(hash)
            .bind(&accepted.first_name)
            .bind(&accepted.last_name)
            .bind(user)
            .bind(NO_PASSWORD)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0
        }
        None => sqlx::query(concat!(
            "SELECT 1 FROM users WHERE id = $1 AND password_hash <> $2",
            row_lock!(share)
        ))
        .bind(user)
        .bind(NO_PASSWORD)
        .fetch_optional(&mut *tx)
        .await?
        .is_some(),
    };
    if !expected {
        // Dropping the transaction keeps the link.
        return Err(StoreError::Conflict(
            "the account's password changed while the link was being used: try again".into(),
        ));
    }
    let tenant = accepted.tenant_id;
    insert_membership(&mut tx, user, tenant, accepted.role, now).await?;
    store.announce(&mut tx, Change::People { tenant }).await?;
    tx.commit().await?;
    Ok(Some((user, tenant)))
}
