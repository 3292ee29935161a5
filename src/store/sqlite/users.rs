//! Users and their tenant memberships in SQLite.

use async_trait::async_trait;

use super::{
    SqliteStore, bump_revocation_epoch, conflict_or_internal, internal, tenants::tenant_from_row,
    timestamp, uuid,
};
use crate::domain::Digest;
use crate::domain::{Email, Page, Role, TenantId, Timestamp, UserId};
use crate::store::{
    Member, Membership, NewPasswordLink, NewUser, StoreError, StoreResult, User, UserStore,
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

/// The column holds '' for an account with no usable password yet.
const NO_PASSWORD: &str = "";

fn user_from_row(row: UserRow) -> StoreResult<User> {
    let (id, email, first_name, last_name, password_hash, created_at) = row;
    Ok(User {
        id: UserId(uuid(&id)?),
        email,
        first_name,
        last_name,
        password_hash: Some(password_hash).filter(|hash| hash != NO_PASSWORD),
        created_at: timestamp(&created_at)?,
    })
}

/// A tenant's last administrator may not be demoted or removed: a write on `memberships`
/// guarded by this condition changes nothing in that case. SQLite runs
/// a writing statement under its write lock, so two racing writes cannot both pass it.
const KEEPS_AN_ADMINISTRATOR: &str = "(role <> 'ADMINISTRATOR' OR (SELECT COUNT(*) \
     FROM memberships a WHERE a.tenant_id = memberships.tenant_id \
     AND a.role = 'ADMINISTRATOR') > 1)";

fn last_administrator() -> StoreError {
    StoreError::Conflict(
        "a tenant must keep at least one administrator: this user is its last".into(),
    )
}

fn role(text: &str) -> StoreResult<Role> {
    text.parse()
        .map_err(|_| StoreError::Internal(anyhow::anyhow!("unknown role in the database")))
}

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

    async fn create_invited_user(
        &self,
        user: NewUser,
        tenant: TenantId,
        role: Role,
        link: NewPasswordLink,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        insert_user(&mut tx, &user, tenant, role).await?;
        sqlx::query(
            "INSERT INTO password_links (digest, user_id, created_at, expires_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(&link.digest[..])
        .bind(link.user_id.to_string())
        .bind(link.created_at.to_rfc3339())
        .bind(link.expires_at.to_rfc3339())
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)
    }

    async fn use_password_link(
        &self,
        digest: &Digest,
        now: Timestamp,
        password_hash: &str,
    ) -> StoreResult<Option<UserId>> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        // Deleting first: a link works once, even when two requests race for it.
        let row: Option<(String, String)> = sqlx::query_as(
            "DELETE FROM password_links WHERE digest = ? RETURNING user_id, expires_at",
        )
        .bind(&digest[..])
        .fetch_optional(&mut *tx)
        .await
        .map_err(internal)?;
        let Some((user, expires_at)) = row else {
            return Ok(None);
        };
        if timestamp(&expires_at)? <= now {
            tx.commit().await.map_err(internal)?;
            return Ok(None);
        }
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(&user)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(Some(UserId(uuid(&user)?)))
    }

    async fn members(&self, tenant: TenantId, page: Page) -> StoreResult<(Vec<Member>, u64)> {
        let (total,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM memberships WHERE tenant_id = ?")
                .bind(tenant.to_string())
                .fetch_one(&self.pool)
                .await
                .map_err(internal)?;
        let rows: Vec<MemberRow> = sqlx::query_as(&format!(
            "{SELECT_MEMBER} WHERE m.tenant_id = ? ORDER BY m.created_at, u.id LIMIT ? OFFSET ?"
        ))
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

    async fn member(&self, tenant: TenantId, user: UserId) -> StoreResult<Option<Member>> {
        sqlx::query_as::<_, MemberRow>(&format!(
            "{SELECT_MEMBER} WHERE m.tenant_id = ? AND m.user_id = ?"
        ))
        .bind(tenant.to_string())
        .bind(user.to_string())
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
        let mut conn = self.pool.acquire().await.map_err(internal)?;
        insert_membership(
            &mut conn,
            user,
            tenant,
            role,
            &Timestamp::now().to_rfc3339(),
        )
        .await
    }

    async fn remove_membership(&self, user: UserId, tenant: TenantId) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
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
        Ok(removed)
    }

    async fn memberships(&self, user: UserId) -> StoreResult<Vec<Membership>> {
        let rows: Vec<(String, String, Option<String>, String, String)> = sqlx::query_as(
            "SELECT t.id, t.name, t.summary, t.created_at, m.role \
             FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
             WHERE m.user_id = ? ORDER BY m.created_at, t.id",
        )
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter()
            .map(|(id, name, summary, created_at, role_name)| {
                Ok(Membership {
                    tenant: tenant_from_row((id, name, summary, created_at))?,
                    role: role(&role_name)?,
                })
            })
            .collect()
    }

    async fn role_in(&self, user: UserId, tenant: TenantId) -> StoreResult<Option<Role>> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT role FROM memberships WHERE user_id = ? AND tenant_id = ?")
                .bind(user.to_string())
                .bind(tenant.to_string())
                .fetch_optional(&self.pool)
                .await
                .map_err(internal)?;
        row.map(|(name,)| role(&name)).transpose()
    }
}

type MemberRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
);

const SELECT_MEMBER: &str = "SELECT u.id, u.email, u.first_name, u.last_name, u.password_hash, \
     u.created_at, m.role FROM memberships m JOIN users u ON u.id = m.user_id";

fn member_from_row(row: MemberRow) -> StoreResult<Member> {
    let (id, email, first_name, last_name, password_hash, created_at, role_name) = row;
    Ok(Member {
        user: user_from_row((id, email, first_name, last_name, password_hash, created_at))?,
        role: role(&role_name)?,
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
