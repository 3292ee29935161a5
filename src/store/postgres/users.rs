//! Users and their tenant memberships in PostgreSQL. Changes to a tenant's memberships that
//! could leave it without an administrator are serialized by a lock on the tenant's row.

use async_trait::async_trait;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::super::columns::{NO_PASSWORD, last_administrator, password_hash, role};
use super::tenants::{TenantRow, tenant_from_row};
use super::{PgStore, conflict_or_internal, internal};
use crate::domain::Digest;
use crate::domain::{Email, Page, Role, TenantId, Timestamp, UserId};
use crate::store::{
    Change, InvitationGrant, Member, Membership, NewInvitation, NewUser, StoreError, StoreResult,
    User, UserStore,
};

type UserRow = (
    Uuid,
    String,
    Option<String>,
    Option<String>,
    String,
    OffsetDateTime,
);

const USER_COLUMNS: &str = "id, email, first_name, last_name, password_hash, created_at";

fn user_from_row(row: UserRow) -> User {
    let (id, email, first_name, last_name, hash, created_at) = row;
    User {
        id: UserId(id),
        email,
        first_name,
        last_name,
        password_hash: password_hash(hash),
        created_at: Timestamp::from_offset(created_at),
    }
}

/// Takes the tenant's row lock for the rest of the transaction: every change that could drop
/// the tenant's last administrator (`set_role`, `remove_membership`) takes it first, so they
/// run one after the other per tenant and each counts the administrators its predecessor left.
///
/// Under READ COMMITTED a guarded `UPDATE … WHERE (SELECT COUNT(*) …) > 1`, as SQLite runs it
/// under its single writer, would let two transactions each count two administrators and each
/// demote a different one. Why a row lock rather than SERIALIZABLE: the lock is per tenant
/// (other tenants never wait), cheap (one row, held for a few statements), and never fails
/// spuriously, so no caller needs a retry loop for serialization failures. `NO KEY UPDATE`
/// conflicts with itself and with `UPDATE tenants`, but not with the key-share locks that
/// foreign-key checks take, so inserting a flow, token or membership of the tenant never
/// waits for it.
async fn lock_tenant(tx: &mut PgConnection, tenant: TenantId) -> StoreResult<()> {
    sqlx::query("SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE")
        .bind(tenant.0)
        .execute(tx)
        .await
        .map_err(internal)?;
    Ok(())
}

/// The user's role in the tenant, read inside the caller's transaction.
async fn current_role(
    tx: &mut PgConnection,
    user: UserId,
    tenant: TenantId,
) -> StoreResult<Option<Role>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT role FROM memberships WHERE user_id = $1 AND tenant_id = $2")
            .bind(user.0)
            .bind(tenant.0)
            .fetch_optional(tx)
            .await
            .map_err(internal)?;
    row.map(|(name,)| role(&name)).transpose()
}

/// Refuses when the user is the tenant's only administrator. Call with the tenant locked.
async fn keep_an_administrator(
    tx: &mut PgConnection,
    tenant: TenantId,
    current: Role,
) -> StoreResult<()> {
    if current != Role::Administrator {
        return Ok(());
    }
    let (admins,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND role = 'ADMINISTRATOR'",
    )
    .bind(tenant.0)
    .fetch_one(tx)
    .await
    .map_err(internal)?;
    if admins <= 1 {
        return Err(last_administrator());
    }
    Ok(())
}

#[async_trait]
impl UserStore for PgStore {
    async fn count_users(&self) -> StoreResult<u64> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(internal)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn create_user(&self, user: NewUser, tenant: TenantId, role: Role) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        insert_user(&mut tx, &user, tenant, role).await?;
        tx.commit().await.map_err(internal)
    }

    async fn invite(&self, invitation: NewInvitation) -> StoreResult<Member> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        let now = invitation.created_at.as_offset();
        // Made, or found, in the same write: two administrators adding a new email at once
        // both get an invitation to the one account, never an error that tells them apart.
        // (ON CONFLICT waits for a racing insert of the email and then finds its row.)
        sqlx::query(
            "INSERT INTO users (id, email, first_name, last_name, password_hash, created_at) \
             VALUES ($1, $2, NULL, NULL, $3, $4) ON CONFLICT (email) DO NOTHING",
        )
        .bind(invitation.id.0)
        .bind(invitation.email.as_str())
        .bind(NO_PASSWORD)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        let (account,): (Uuid,) = sqlx::query_as("SELECT id FROM users WHERE email = $1")
            .bind(invitation.email.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(internal)?;
        let account = UserId(account);
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
        .bind(invitation.id.0)
        .bind(account.0)
        .bind(invitation.role.wire_name())
        .bind(&invitation.first_name)
        .bind(&invitation.last_name)
        .bind(&invitation.link_digest[..])
        .bind(invitation.expires_at.as_offset())
        .bind(now)
        .bind(invitation.tenant.0)
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
        tx.commit().await.map_err(internal)?;
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

    async fn invitation_by_link(
        &self,
        digest: &Digest,
        now: Timestamp,
    ) -> StoreResult<Option<InvitationGrant>> {
        let row: Option<(Uuid, Uuid, String)> = sqlx::query_as(
            "SELECT i.user_id, i.tenant_id, u.password_hash FROM invitations i \
             JOIN users u ON u.id = i.user_id \
             WHERE i.link_digest = $1 AND i.link_expires_at > $2",
        )
        .bind(&digest[..])
        .bind(now.as_offset())
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        Ok(row.map(|(user, tenant, hash)| InvitationGrant {
            user_id: UserId(user),
            tenant_id: TenantId(tenant),
            password_hash: password_hash(hash),
        }))
    }

    async fn accept_invitation(
        &self,
        digest: &Digest,
        now: Timestamp,
        new_password_hash: Option<&str>,
    ) -> StoreResult<Option<(UserId, TenantId)>> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        // Deleting first: a link works once, even when two requests race for it (the second
        // DELETE waits for the first's row lock, then finds the row gone).
        type Row = (Uuid, Uuid, String, Option<String>, Option<String>);
        let row: Option<Row> = sqlx::query_as(
            "DELETE FROM invitations WHERE link_digest = $1 AND link_expires_at > $2 \
             RETURNING user_id, tenant_id, role, first_name, last_name",
        )
        .bind(&digest[..])
        .bind(now.as_offset())
        .fetch_optional(&mut *tx)
        .await
        .map_err(internal)?;
        let Some((user, tenant, role_name, first, last)) = row else {
            return Ok(None);
        };
        // The password state is checked again under the account's row lock: the caller decided
        // on what it read before, and another link of the same account may have been used
        // since (the UPDATE re-reads the row once a racing writer commits; FOR SHARE waits).
        let expected = match new_password_hash {
            Some(hash) => {
                sqlx::query(
                    "UPDATE users SET password_hash = $1, first_name = $2, last_name = $3 \
                     WHERE id = $4 AND password_hash = $5",
                )
                .bind(hash)
                .bind(&first)
                .bind(&last)
                .bind(user)
                .bind(NO_PASSWORD)
                .execute(&mut *tx)
                .await
                .map_err(internal)?
                .rows_affected()
                    > 0
            }
            None => {
                let with_password: Option<(i32,)> = sqlx::query_as(
                    "SELECT 1 FROM users WHERE id = $1 AND password_hash <> $2 FOR SHARE",
                )
                .bind(user)
                .bind(NO_PASSWORD)
                .fetch_optional(&mut *tx)
                .await
                .map_err(internal)?;
                with_password.is_some()
            }
        };
        if !expected {
            // Dropping the transaction keeps the link.
            return Err(StoreError::Conflict(
                "the account's password changed while the link was being used: try again".into(),
            ));
        }
        let (user, tenant) = (UserId(user), TenantId(tenant));
        insert_membership(&mut tx, user, tenant, role(&role_name)?, now).await?;
        tx.commit().await.map_err(internal)?;
        Ok(Some((user, tenant)))
    }

    async fn update_invitation(
        &self,
        tenant: TenantId,
        id: UserId,
        role: Role,
        first: Option<&str>,
        last: Option<&str>,
    ) -> StoreResult<bool> {
        let changed = sqlx::query(
            "UPDATE invitations SET role = $1, first_name = $2, last_name = $3 \
             WHERE tenant_id = $4 AND id = $5",
        )
        .bind(role.wire_name())
        .bind(first)
        .bind(last)
        .bind(tenant.0)
        .bind(id.0)
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        Ok(changed.rows_affected() > 0)
    }

    async fn members(&self, tenant: TenantId, page: Page) -> StoreResult<(Vec<Member>, u64)> {
        let (total,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM memberships WHERE tenant_id = $1) \
             + (SELECT COUNT(*) FROM invitations WHERE tenant_id = $1)",
        )
        .bind(tenant.0)
        .fetch_one(&self.pool)
        .await
        .map_err(internal)?;
        let rows: Vec<MemberRow> = sqlx::query_as(&format!(
            "SELECT * FROM ({MEMBERS_AND_INVITATIONS}) AS shown_members \
             ORDER BY since, shown LIMIT $2 OFFSET $3"
        ))
        .bind(tenant.0)
        .bind(i64::try_from(page.size()).unwrap_or(i64::MAX))
        .bind(i64::try_from(page.offset()).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        let members = rows
            .into_iter()
            .map(member_from_row)
            .collect::<StoreResult<_>>()?;
        Ok((members, u64::try_from(total).unwrap_or(0)))
    }

    async fn member(&self, tenant: TenantId, id: UserId) -> StoreResult<Option<Member>> {
        sqlx::query_as::<_, MemberRow>(&format!(
            "SELECT * FROM ({MEMBERS_AND_INVITATIONS}) AS shown_members WHERE shown = $2"
        ))
        .bind(tenant.0)
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?
        .map(member_from_row)
        .transpose()
    }

    async fn set_role(&self, user: UserId, tenant: TenantId, role: Role) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
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
            .bind(role.wire_name())
            .bind(user.0)
            .bind(tenant.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        self.announce(&mut tx, Change::Members { tenant }).await?;
        tx.commit().await.map_err(internal)?;
        Ok(true)
    }

    async fn set_names(
        &self,
        user: UserId,
        first: Option<&str>,
        last: Option<&str>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        let changed = sqlx::query(
            "UPDATE users SET first_name = $1, last_name = $2 WHERE id = $3 \
             AND (first_name IS DISTINCT FROM $1 OR last_name IS DISTINCT FROM $2)",
        )
        .bind(first)
        .bind(last)
        .bind(user.0)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        // The names are shown as the builders of flows, in the lists other instances cache.
        if changed.rows_affected() > 0 {
            self.announce(&mut tx, Change::Names).await?;
        }
        tx.commit().await.map_err(internal)
    }

    async fn member_count(&self, tenant: TenantId) -> StoreResult<u64> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE tenant_id = $1")
                .bind(tenant.0)
                .fetch_one(&self.pool)
                .await
                .map_err(internal)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        let row: Option<UserRow> =
            sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        Ok(row.map(user_from_row))
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        Ok(row.map(user_from_row))
    }

    async fn add_membership(&self, user: UserId, tenant: TenantId, role: Role) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        // The operator's word replaces a pending invitation (and so its link).
        sqlx::query("DELETE FROM invitations WHERE user_id = $1 AND tenant_id = $2")
            .bind(user.0)
            .bind(tenant.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        insert_membership(&mut tx, user, tenant, role, Timestamp::now()).await?;
        tx.commit().await.map_err(internal)
    }

    async fn remove_membership(&self, user: UserId, tenant: TenantId) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        lock_tenant(&mut tx, tenant).await?;
        // A pending invitation goes with its link: it can no longer be accepted.
        let uninvited =
            sqlx::query("DELETE FROM invitations WHERE user_id = $1 AND tenant_id = $2")
                .bind(user.0)
                .bind(tenant.0)
                .execute(&mut *tx)
                .await
                .map_err(internal)?
                .rows_affected()
                > 0;
        let Some(current) = current_role(&mut tx, user, tenant).await? else {
            tx.commit().await.map_err(internal)?;
            return Ok(uninvited);
        };
        // Refused: dropping the transaction keeps everything, the invitation included.
        keep_an_administrator(&mut tx, tenant, current).await?;
        // The keys go with the membership (ON DELETE CASCADE).
        sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND tenant_id = $2")
            .bind(user.0)
            .bind(tenant.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        // Tokens issued for the tenant end for good. (Tokens issued for another tenant, and
        // web sessions, do not reach this one again either: a sign-in covers only the
        // memberships that had begun by then, and a new one begins if the user is added back.)
        sqlx::query("DELETE FROM tokens WHERE user_id = $1 AND tenant_id = $2")
            .bind(user.0)
            .bind(tenant.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        self.announce(&mut tx, Change::Members { tenant }).await?;
        tx.commit().await.map_err(internal)?;
        Ok(true)
    }

    async fn memberships(&self, user: UserId) -> StoreResult<Vec<Membership>> {
        type Row = (
            Uuid,
            String,
            Option<String>,
            OffsetDateTime,
            Option<String>,
            String,
            OffsetDateTime,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT t.id, t.name, t.summary, t.created_at, t.settings, m.role, m.created_at \
             FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
             WHERE m.user_id = $1 ORDER BY m.created_at, t.id",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter()
            .map(
                |(id, name, summary, created_at, settings, role_name, since)| {
                    let tenant: TenantRow = (id, name, summary, created_at, settings);
                    Ok(Membership {
                        tenant: tenant_from_row(tenant),
                        role: role(&role_name)?,
                        since: Timestamp::from_offset(since),
                    })
                },
            )
            .collect()
    }

    async fn role_since(
        &self,
        user: UserId,
        tenant: TenantId,
    ) -> StoreResult<Option<(Role, Timestamp)>> {
        let row: Option<(String, OffsetDateTime)> = sqlx::query_as(
            "SELECT role, created_at FROM memberships WHERE user_id = $1 AND tenant_id = $2",
        )
        .bind(user.0)
        .bind(tenant.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        row.map(|(name, since)| Ok((role(&name)?, Timestamp::from_offset(since))))
            .transpose()
    }
}

/// account, shown id, email, first name, last name, shown creation, role, pending, since.
type MemberRow = (
    Uuid,
    Uuid,
    String,
    Option<String>,
    Option<String>,
    OffsetDateTime,
    String,
    bool,
    OffsetDateTime,
);

/// A tenant's members, then its pending invitations, shown as the administrators see them
/// (binds: the tenant as $1). A pending one shows only the invitation's own data.
const MEMBERS_AND_INVITATIONS: &str = "\
    SELECT u.id AS account, u.id AS shown, u.email, u.first_name, u.last_name, \
           u.created_at AS shown_at, m.role, false AS pending, m.created_at AS since \
    FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1 \
    UNION ALL \
    SELECT u.id, i.id, u.email, i.first_name, i.last_name, i.created_at, i.role, true, \
           i.created_at \
    FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.tenant_id = $1";

fn member_from_row(row: MemberRow) -> StoreResult<Member> {
    let (account, shown, email, first_name, last_name, shown_at, role_name, pending, _) = row;
    Ok(Member {
        account: UserId(account),
        id: UserId(shown),
        email,
        first_name,
        last_name,
        created_at: Timestamp::from_offset(shown_at),
        role: role(&role_name)?,
        pending,
    })
}

/// Inserts a user and their first membership; the caller decides the transaction.
async fn insert_user(
    tx: &mut PgConnection,
    user: &NewUser,
    tenant: TenantId,
    role: Role,
) -> StoreResult<()> {
    let now = Timestamp::now();
    sqlx::query(
        "INSERT INTO users (id, email, first_name, last_name, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user.id.0)
    .bind(user.email.as_str())
    .bind(&user.first_name)
    .bind(&user.last_name)
    .bind(user.password_hash.as_deref().unwrap_or(NO_PASSWORD))
    .bind(now.as_offset())
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        conflict_or_internal(e, &format!("a user with the email {} exists", user.email))
    })?;
    insert_membership(tx, user.id, tenant, role, now).await
}

/// Adds a membership; Missing when the tenant does not exist, Conflict when already a member.
async fn insert_membership(
    conn: &mut PgConnection,
    user: UserId,
    tenant: TenantId,
    role: Role,
    now: Timestamp,
) -> StoreResult<()> {
    let result = sqlx::query(
        "INSERT INTO memberships (user_id, tenant_id, role, created_at) \
         SELECT $1, id, $2, $3 FROM tenants WHERE id = $4",
    )
    .bind(user.0)
    .bind(role.wire_name())
    .bind(now.as_offset())
    .bind(tenant.0)
    .execute(conn)
    .await
    .map_err(|e| conflict_or_internal(e, "the user is already a member of that tenant"))?;
    if result.rows_affected() == 0 {
        return Err(StoreError::Missing(format!("there is no tenant {tenant}")));
    }
    Ok(())
}
