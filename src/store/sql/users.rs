//! Users, their tenant memberships and the invitations to them. Changes to a tenant's
//! memberships that could leave it without an administrator are serialized by a lock on the
//! tenant's row ([`lock_tenant`]).

use async_trait::async_trait;

use super::memberships::{current_role, insert_membership};
use super::transfer::{Table, insert_rows};
use super::{Conn, Store, invitations};
use crate::domain::{Digest, Email, Page, Role, TenantId, Timestamp, UserId};
use crate::store::columns::{NO_PASSWORD, last_administrator};
use crate::store::sql_errors::conflict_or_internal;
use crate::store::{
    Change, InvitationGrant, Member, Membership, NewInvitation, NewUser, StoreResult, User,
    UserStore,
};

// The `''` that `NULLIF` reads as "no password" in `invitation_by_link` and in the users'
// table (`transfer.rs`, whose `User::SELECT` reads a user).
const _: () = assert!(NO_PASSWORD.is_empty());

/// A tenant's members, then its pending invitations, shown as the administrators see them
/// (binds: the tenant as $1), named as [`Member`]'s fields. A pending one shows only the
/// invitation's own data.
const MEMBERS_AND_INVITATIONS: &str = "\
    SELECT u.id AS account, u.id AS id, u.email, u.first_name, u.last_name, u.created_at, \
           m.role, false AS pending, m.created_at AS since \
    FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1 \
    UNION ALL \
    SELECT u.id, i.id, u.email, i.first_name, i.last_name, i.created_at, i.role, true, \
           i.created_at \
    FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.tenant_id = $1";

#[async_trait]
impl UserStore for Store {
    async fn count_users(&self) -> StoreResult<u64> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn create_user(&self, user: NewUser, tenant: TenantId, role: Role) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        insert_user(&mut tx, &user, tenant, role).await?;
        self.announce(&mut tx, Change::People { tenant }).await?;
        Ok(tx.commit().await?)
    }

    async fn invite(&self, invitation: NewInvitation) -> StoreResult<Member> {
        invitations::invite(self, invitation).await
    }

    async fn invitation_by_link(
        &self,
        digest: &Digest,
        now: Timestamp,
    ) -> StoreResult<Option<InvitationGrant>> {
        Ok(sqlx::query_as(
            "SELECT i.user_id, i.tenant_id, NULLIF(u.password_hash, '') AS password_hash \
             FROM invitations i JOIN users u ON u.id = i.user_id \
             WHERE i.link_digest = $1 AND i.link_expires_at > $2",
        )
        .bind(digest)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn accept_invitation(
        &self,
        digest: &Digest,
        now: Timestamp,
        new_password_hash: Option<&str>,
    ) -> StoreResult<Option<(UserId, TenantId)>> {
        invitations::accept(self, digest, now, new_password_hash).await
    }

    async fn update_invitation(
        &self,
        tenant: TenantId,
        id: UserId,
        role: Role,
        first: Option<&str>,
        last: Option<&str>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE invitations SET role = $1, first_name = $2, last_name = $3 \
             WHERE tenant_id = $4 AND id = $5",
        )
        .bind(role)
        .bind(first)
        .bind(last)
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let changed = changed.rows_affected() > 0;
        if changed {
            self.announce(&mut tx, Change::People { tenant }).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn members(&self, tenant: TenantId, page: Page) -> StoreResult<(Vec<Member>, u64)> {
        let (total,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM memberships WHERE tenant_id = $1) \
             + (SELECT COUNT(*) FROM invitations WHERE tenant_id = $1)",
        )
        .bind(tenant)
        .fetch_one(&self.pool)
        .await?;
        let members = sqlx::query_as(&format!(
            "SELECT * FROM ({MEMBERS_AND_INVITATIONS}) AS shown_members \
             ORDER BY since, id LIMIT $2 OFFSET $3"
        ))
        .bind(tenant)
        .bind(i64::try_from(page.size()).unwrap_or(i64::MAX))
        .bind(i64::try_from(page.offset()).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        Ok((members, u64::try_from(total).unwrap_or(0)))
    }

    async fn member(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<Member>> {
        Ok(sqlx::query_as(&format!(
            "SELECT * FROM ({MEMBERS_AND_INVITATIONS}) AS shown_members WHERE id = $2"
        ))
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn set_role(&self, user: UserId, tenant: TenantId, role: Role) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        lock_tenant(&mut tx, tenant).await?;
        let Some(current) = current_role(&mut tx, user, tenant).await? else {
            return Ok(false);
        };
        if current == role {
            // No change, so nothing to announce (and no conflict).
            return Ok(true);
        }
        keep_an_administrator(&mut tx, tenant, current).await?;
        sqlx::query("UPDATE memberships SET role = $1 WHERE user_id = $2 AND tenant_id = $3")
            .bind(role)
            .bind(user)
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        self.announce(&mut tx, Change::Members { tenant }).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn set_names(
        &self,
        user: UserId,
        first: Option<&str>,
        last: Option<&str>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE users SET first_name = $1, last_name = $2 WHERE id = $3 \
             AND (first_name IS DISTINCT FROM $1 OR last_name IS DISTINCT FROM $2)",
        )
        .bind(first)
        .bind(last)
        .bind(user)
        .execute(&mut *tx)
        .await?;
        // The names are shown as the builders of flows, in the lists other instances cache.
        if changed.rows_affected() > 0 {
            self.announce(&mut tx, Change::Names).await?;
        }
        Ok(tx.commit().await?)
    }

    async fn member_count(&self, tenant: TenantId) -> StoreResult<u64> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_one(&self.pool)
                .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        Ok(
            sqlx::query_as(&format!("SELECT {} FROM users WHERE id = $1", User::SELECT))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {} FROM users WHERE email = $1",
            User::SELECT
        ))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn add_membership(&self, user: UserId, tenant: TenantId, role: Role) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        // The operator's word replaces a pending invitation (and so its link).
        delete_of(&mut tx, "invitations", user, tenant).await?;
        insert_membership(&mut tx, user, tenant, role, Timestamp::now()).await?;
        self.announce(&mut tx, Change::People { tenant }).await?;
        Ok(tx.commit().await?)
    }

    async fn remove_membership(&self, user: UserId, tenant: TenantId) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        lock_tenant(&mut tx, tenant).await?;
        // A pending invitation goes with its link: it can no longer be accepted.
        let uninvited = delete_of(&mut tx, "invitations", user, tenant).await?;
        let Some(current) = current_role(&mut tx, user, tenant).await? else {
            // An invitation withdrawn: the user administration of every instance showed it.
            if uninvited {
                self.announce(&mut tx, Change::People { tenant }).await?;
            }
            tx.commit().await?;
            return Ok(uninvited);
        };
        // Refused: dropping the transaction keeps everything, the invitation included.
        keep_an_administrator(&mut tx, tenant, current).await?;
        // The keys go with the membership (ON DELETE CASCADE).
        delete_of(&mut tx, "memberships", user, tenant).await?;
        // Tokens issued for the tenant end for good. (Tokens issued for another tenant, and
        // web sessions, do not reach this one again either: a sign-in covers only the
        // memberships that had begun by then, and a new one begins if the user is added back.)
        delete_of(&mut tx, "tokens", user, tenant).await?;
        self.announce(&mut tx, Change::Members { tenant }).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn memberships(&self, user: UserId) -> StoreResult<Vec<Membership>> {
        Ok(sqlx::query_as(
            "SELECT t.id, t.name, t.summary, t.created_at, t.settings, t.max_key_lifetime_seconds, \
             t.key_rate_per_second, t.key_rate_burst, m.role, \
             m.created_at AS since \
             FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
             WHERE m.user_id = $1 ORDER BY m.created_at, t.id",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn role_since(
        &self,
        user: UserId,
        tenant: TenantId,
    ) -> StoreResult<Option<(Role, Timestamp)>> {
        Ok(sqlx::query_as(
            "SELECT role, created_at FROM memberships WHERE user_id = $1 AND tenant_id = $2",
        )
        .bind(user)
        .bind(tenant)
        .fetch_optional(&self.pool)
        .await?)
    }
}

/// Deletes the user's rows of `table` (invitations, memberships, tokens) for the tenant, inside
/// the caller's transaction; whether there were any.
async fn delete_of(
    conn: &mut Conn,
    table: &str,
    user: UserId,
    tenant: TenantId,
) -> StoreResult<bool> {
    let sql = format!("DELETE FROM {table} WHERE user_id = $1 AND tenant_id = $2");
    let deleted = sqlx::query(&sql)
        .bind(user)
        .bind(tenant)
        .execute(conn)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// Takes the tenant's row lock for the rest of the transaction: every change that could drop
/// the tenant's last administrator (`set_role`, `remove_membership`) takes it first, so they
/// run one after the other per tenant and each counts the administrators its predecessor left.
/// (On SQLite the statement locks nothing: `begin_write` already holds the one write lock.)
///
/// Under READ COMMITTED a guarded `UPDATE … WHERE (SELECT COUNT(*) …) > 1` would let two
/// transactions each count two administrators and each demote a different one. Why a row lock
/// rather than SERIALIZABLE: the lock is per tenant (other tenants never wait), cheap (one row,
/// held for a few statements), and never fails spuriously, so no caller needs a retry loop for
/// serialization failures. `NO KEY UPDATE` conflicts with itself and with `UPDATE tenants`, but
/// not with the key-share locks that foreign-key checks take, so inserting a flow, token or
/// membership of the tenant never waits for it.
async fn lock_tenant(conn: &mut Conn, tenant: TenantId) -> StoreResult<()> {
    sqlx::query(concat!(
        "SELECT 1 FROM tenants WHERE id = $1",
        row_lock!(no_key_update)
    ))
    .bind(tenant)
    .execute(conn)
    .await?;
    Ok(())
}

/// Refuses when the user is the tenant's only administrator. Call with the tenant locked.
async fn keep_an_administrator(
    conn: &mut Conn,
    tenant: TenantId,
    current: Role,
) -> StoreResult<()> {
    if current != Role::Administrator {
        return Ok(());
    }
    let (admins,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND role = $2")
            .bind(tenant)
            .bind(Role::Administrator)
            .fetch_one(conn)
            .await?;
    if admins <= 1 {
        return Err(last_administrator());
    }
    Ok(())
}

/// Inserts a user and their first membership; the caller decides the transaction.
async fn insert_user(
    conn: &mut Conn,
    user: &NewUser,
    tenant: TenantId,
    role: Role,
) -> StoreResult<()> {
    let now = Timestamp::now();
    let row = User {
        id: user.id,
        email: user.email.as_str().to_string(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        password_hash: user.password_hash.clone(),
        created_at: now,
    };
    insert_rows(conn, &[&row]).await.map_err(|e| {
        conflict_or_internal(e, &format!("a user with the email {} exists", user.email))
    })?;
    insert_membership(conn, user.id, tenant, role, now).await
}
