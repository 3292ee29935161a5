//! Users and their tenant memberships in SQLite.

use async_trait::async_trait;

use super::super::columns::{NO_PASSWORD, last_administrator, password_hash, role};
use super::{
    SqliteStore, bump_revocation_epoch, conflict_or_internal, internal, tenants::tenant_from_row,
    timestamp, uuid,
};
use crate::domain::Digest;
use crate::domain::{Email, Page, Role, TenantId, Timestamp, UserId};
use crate::store::{
    InvitationGrant, Member, Membership, NewInvitation, NewUser, StoreError, StoreResult, User,
    UserStore,
};

type UserRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
);

const USER_COLUMNS: &str = "id, email, first_name, last_name, password_hash, created_at";

fn user_from_row(row: UserRow) -> StoreResult<User> {
    let (id, email, first_name, last_name, hash, created_at) = row;
    Ok(User {
        id: UserId(uuid(&id)?),
        email,
        first_name,
        last_name,
        password_hash: password_hash(hash),
        created_at: timestamp(&created_at)?,
    })
}

/// A tenant's last administrator may not be demoted or removed: a write on `memberships`
/// guarded by this condition changes nothing in that case. SQLite runs
/// a writing statement under its write lock, so two racing writes cannot both pass it.
const KEEPS_AN_ADMINISTRATOR: &str = "(role <> 'ADMINISTRATOR' OR (SELECT COUNT(*) \
     FROM memberships a WHERE a.tenant_id = memberships.tenant_id \
     AND a.role = 'ADMINISTRATOR') > 1)";

#[async_trait]
impl UserStore for SqliteStore {
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
        let now = invitation.created_at.to_rfc3339();
        // Made, or found, in the same write: two administrators adding a new email at once
        // both get an invitation to the one account, never an error that tells them apart.
        sqlx::query(
            "INSERT INTO users (id, email, first_name, last_name, password_hash, created_at) \
             VALUES (?, ?, NULL, NULL, ?, ?) ON CONFLICT (email) DO NOTHING",
        )
        .bind(invitation.id.to_string())
        .bind(invitation.email.as_str())
        .bind(NO_PASSWORD)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        let (account,): (String,) = sqlx::query_as("SELECT id FROM users WHERE email = ?")
            .bind(invitation.email.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(internal)?;
        let member: Option<(String,)> =
            sqlx::query_as("SELECT role FROM memberships WHERE user_id = ? AND tenant_id = ?")
                .bind(&account)
                .bind(invitation.tenant.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(internal)?;
        if member.is_some() {
            return Err(StoreError::Conflict(format!(
                "{} is already a member of this tenant",
                invitation.email
            )));
        }
        let inserted = sqlx::query(
            "INSERT INTO invitations (id, user_id, tenant_id, role, first_name, last_name, \
             link_digest, link_expires_at, created_at) \
             SELECT ?, ?, id, ?, ?, ?, ?, ?, ? FROM tenants WHERE id = ?",
        )
        .bind(invitation.id.to_string())
        .bind(&account)
        .bind(invitation.role.wire_name())
        .bind(&invitation.first_name)
        .bind(&invitation.last_name)
        .bind(&invitation.link_digest[..])
        .bind(invitation.expires_at.to_rfc3339())
        .bind(&now)
        .bind(invitation.tenant.to_string())
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
            account: UserId(uuid(&account)?),
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
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT i.user_id, i.tenant_id, u.password_hash FROM invitations i \
             JOIN users u ON u.id = i.user_id WHERE i.link_digest = ? AND i.link_expires_at > ?",
        )
        .bind(&digest[..])
        .bind(now.to_rfc3339())
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        row.map(|(user, tenant, hash)| {
            Ok(InvitationGrant {
                user_id: UserId(uuid(&user)?),
                tenant_id: TenantId(uuid(&tenant)?),
                password_hash: password_hash(hash),
            })
        })
        .transpose()
    }

    async fn accept_invitation(
        &self,
        digest: &Digest,
        now: Timestamp,
        new_password_hash: Option<&str>,
    ) -> StoreResult<Option<(UserId, TenantId)>> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        // Deleting first: a link works once, even when two requests race for it.
        type Row = (String, String, String, Option<String>, Option<String>);
        let row: Option<Row> = sqlx::query_as(
            "DELETE FROM invitations WHERE link_digest = ? AND link_expires_at > ? \
             RETURNING user_id, tenant_id, role, first_name, last_name",
        )
        .bind(&digest[..])
        .bind(now.to_rfc3339())
        .fetch_optional(&mut *tx)
        .await
        .map_err(internal)?;
        let Some((user, tenant, role_name, first, last)) = row else {
            return Ok(None);
        };
        // The password state is checked again under the write lock: the caller decided on
        // what it read before, and another link of the same account may have been used since.
        let expected = match new_password_hash {
            Some(hash) => {
                sqlx::query(
                    "UPDATE users SET password_hash = ?, first_name = ?, last_name = ? \
                     WHERE id = ? AND password_hash = ?",
                )
                .bind(hash)
                .bind(&first)
                .bind(&last)
                .bind(&user)
                .bind(NO_PASSWORD)
                .execute(&mut *tx)
                .await
                .map_err(internal)?
                .rows_affected()
                    > 0
            }
            None => {
                let with_password: Option<(i64,)> =
                    sqlx::query_as("SELECT 1 FROM users WHERE id = ? AND password_hash <> ?")
                        .bind(&user)
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
        let (user, tenant) = (UserId(uuid(&user)?), TenantId(uuid(&tenant)?));
        insert_membership(&mut tx, user, tenant, role(&role_name)?, &now.to_rfc3339()).await?;
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
            "UPDATE invitations SET role = ?, first_name = ?, last_name = ? \
             WHERE tenant_id = ? AND id = ?",
        )
        .bind(role.wire_name())
        .bind(first)
        .bind(last)
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        Ok(changed.rows_affected() > 0)
    }

    async fn members(&self, tenant: TenantId, page: Page) -> StoreResult<(Vec<Member>, u64)> {
        let (total,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM memberships WHERE tenant_id = ?) \
             + (SELECT COUNT(*) FROM invitations WHERE tenant_id = ?)",
        )
        .bind(tenant.to_string())
        .bind(tenant.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(internal)?;
        let rows: Vec<MemberRow> = sqlx::query_as(&format!(
            "SELECT * FROM ({MEMBERS_AND_INVITATIONS}) ORDER BY since, shown LIMIT ? OFFSET ?"
        ))
        .bind(tenant.to_string())
        .bind(tenant.to_string())
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
            "SELECT * FROM ({MEMBERS_AND_INVITATIONS}) WHERE shown = ?"
        ))
        .bind(tenant.to_string())
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?
        .map(member_from_row)
        .transpose()
    }

    async fn set_role(&self, user: UserId, tenant: TenantId, role: Role) -> StoreResult<bool> {
        let guard = if role == Role::Administrator {
            "1"
        } else {
            KEEPS_AN_ADMINISTRATOR
        };
        let changed = sqlx::query(&format!(
            "UPDATE memberships SET role = ? WHERE user_id = ? AND tenant_id = ? AND {guard}"
        ))
        .bind(role.wire_name())
        .bind(user.to_string())
        .bind(tenant.to_string())
        .execute(&self.pool)
        .await
        .map_err(internal)?;
        if changed.rows_affected() > 0 {
            return Ok(true);
        }
        match self.role_in(user, tenant).await? {
            None => Ok(false),
            Some(_) => Err(last_administrator()),
        }
    }

    async fn set_names(
        &self,
        user: UserId,
        first: Option<&str>,
        last: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE users SET first_name = ?, last_name = ? WHERE id = ?")
            .bind(first)
            .bind(last)
            .bind(user.to_string())
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn member_count(&self, tenant: TenantId) -> StoreResult<u64> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE tenant_id = ?")
                .bind(tenant.to_string())
                .fetch_one(&self.pool)
                .await
                .map_err(internal)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?
            .map(user_from_row)
            .transpose()
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = ?"))
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(internal)?
            .map(user_from_row)
            .transpose()
    }

    async fn add_membership(&self, user: UserId, tenant: TenantId, role: Role) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        // The operator's word replaces a pending invitation (and so its link).
        sqlx::query("DELETE FROM invitations WHERE user_id = ? AND tenant_id = ?")
            .bind(user.to_string())
            .bind(tenant.to_string())
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        insert_membership(&mut tx, user, tenant, role, &Timestamp::now().to_rfc3339()).await?;
        tx.commit().await.map_err(internal)
    }

    async fn remove_membership(&self, user: UserId, tenant: TenantId) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        // A pending invitation goes with its link: it can no longer be accepted.
        let uninvited = sqlx::query("DELETE FROM invitations WHERE user_id = ? AND tenant_id = ?")
            .bind(user.to_string())
            .bind(tenant.to_string())
            .execute(&mut *tx)
            .await
            .map_err(internal)?
            .rows_affected()
            > 0;
        // The keys go with the membership (ON DELETE CASCADE); the epoch tells other servers.
        let removed = sqlx::query(&format!(
            "DELETE FROM memberships WHERE user_id = ? AND tenant_id = ? AND {KEEPS_AN_ADMINISTRATOR}"
        ))
        .bind(user.to_string())
        .bind(tenant.to_string())
        .execute(&mut *tx)
        .await
        .map_err(internal)?
        .rows_affected()
            > 0;
        if removed {
            // Tokens issued for the tenant end for good. (Tokens issued for another tenant,
            // and web sessions, do not reach this one again either: a sign-in covers only the
            // memberships that had begun by then, and a new one begins if the user is added
            // back.)
            sqlx::query("DELETE FROM tokens WHERE user_id = ? AND tenant_id = ?")
                .bind(user.to_string())
                .bind(tenant.to_string())
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
            bump_revocation_epoch(&mut tx).await?;
        } else {
            // Under the write lock still: a membership that is there was refused by the guard.
            let left: Option<(String,)> =
                sqlx::query_as("SELECT role FROM memberships WHERE user_id = ? AND tenant_id = ?")
                    .bind(user.to_string())
                    .bind(tenant.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(internal)?;
            if left.is_some() {
                return Err(last_administrator());
            }
        }
        tx.commit().await.map_err(internal)?;
        Ok(removed || uninvited)
    }

    async fn memberships(&self, user: UserId) -> StoreResult<Vec<Membership>> {
        type Row = (
            String,
            String,
            Option<String>,
            String,
            Option<String>,
            String,
            String,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT t.id, t.name, t.summary, t.created_at, t.settings, m.role, m.created_at \
             FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
             WHERE m.user_id = ? ORDER BY m.created_at, t.id",
        )
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter()
            .map(
                |(id, name, summary, created_at, settings, role_name, since)| {
                    Ok(Membership {
                        tenant: tenant_from_row((id, name, summary, created_at, settings))?,
                        role: role(&role_name)?,
                        since: timestamp(&since)?,
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
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT role, created_at FROM memberships WHERE user_id = ? AND tenant_id = ?",
        )
        .bind(user.to_string())
        .bind(tenant.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        row.map(|(name, since)| Ok((role(&name)?, timestamp(&since)?)))
            .transpose()
    }
}

/// account, shown id, email, first name, last name, shown creation, role, pending.
type MemberRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    i64,
    String,
);

/// A tenant's members, then its pending invitations, shown as the administrators see them
/// (binds: the tenant, twice). A pending one shows only the invitation's own data.
const MEMBERS_AND_INVITATIONS: &str = "\
    SELECT u.id AS account, u.id AS shown, u.email, u.first_name, u.last_name, \
           u.created_at AS shown_at, m.role, 0 AS pending, m.created_at AS since \
    FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.tenant_id = ? \
    UNION ALL \
    SELECT u.id, i.id, u.email, i.first_name, i.last_name, i.created_at, i.role, 1, i.created_at \
    FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.tenant_id = ?";

fn member_from_row(row: MemberRow) -> StoreResult<Member> {
    let (account, shown, email, first_name, last_name, shown_at, role_name, pending, _) = row;
    Ok(Member {
        account: UserId(uuid(&account)?),
        id: UserId(uuid(&shown)?),
        email,
        first_name,
        last_name,
        created_at: timestamp(&shown_at)?,
        role: role(&role_name)?,
        pending: pending != 0,
    })
}

/// Inserts a user and their first membership; the caller decides the transaction.
async fn insert_user(
    tx: &mut sqlx::SqliteConnection,
    user: &NewUser,
    tenant: TenantId,
    role: Role,
) -> StoreResult<()> {
    let now = Timestamp::now().to_rfc3339();
    sqlx::query(
        "INSERT INTO users (id, email, first_name, last_name, password_hash, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(user.id.to_string())
    .bind(user.email.as_str())
    .bind(&user.first_name)
    .bind(&user.last_name)
    .bind(user.password_hash.as_deref().unwrap_or(NO_PASSWORD))
    .bind(&now)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        conflict_or_internal(e, &format!("a user with the email {} exists", user.email))
    })?;
    insert_membership(tx, user.id, tenant, role, &now).await
}

/// Adds a membership; Missing when the tenant does not exist, Conflict when already a member.
async fn insert_membership(
    conn: &mut sqlx::SqliteConnection,
    user: UserId,
    tenant: TenantId,
    role: Role,
    now: &str,
) -> StoreResult<()> {
    let result = sqlx::query(
        "INSERT INTO memberships (user_id, tenant_id, role, created_at) \
         SELECT ?, id, ?, ? FROM tenants WHERE id = ?",
    )
    .bind(user.to_string())
    .bind(role.wire_name())
    .bind(now)
    .bind(tenant.to_string())
    .execute(conn)
    .await
    .map_err(|e| conflict_or_internal(e, "the user is already a member of that tenant"))?;
    if result.rows_affected() == 0 {
        return Err(StoreError::Missing(format!("there is no tenant {tenant}")));
    }
    Ok(())
}
