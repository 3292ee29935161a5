//! Users and their tenant memberships in SQLite.

use async_trait::async_trait;

use super::{
    SqliteStore, bump_revocation_epoch, conflict_or_internal, internal, tenants::tenant_from_row,
    timestamp, uuid,
};
use crate::domain::{Email, Role, TenantId, Timestamp, UserId};
use crate::store::{Membership, NewUser, StoreError, StoreResult, User, UserStore};

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
    let (id, email, first_name, last_name, password_hash, created_at) = row;
    Ok(User {
        id: UserId(uuid(&id)?),
        email,
        first_name,
        last_name,
        password_hash,
        created_at: timestamp(&created_at)?,
    })
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
        let now = Timestamp::now().to_rfc3339();
        sqlx::query(
            "INSERT INTO users (id, email, first_name, last_name, password_hash, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(user.id.to_string())
        .bind(user.email.as_str())
        .bind(&user.first_name)
        .bind(&user.last_name)
        .bind(&user.password_hash)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            conflict_or_internal(e, &format!("a user with the email {} exists", user.email))
        })?;
        insert_membership(&mut tx, user.id, tenant, role, &now).await?;
        tx.commit().await.map_err(internal)
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
        let removed = sqlx::query("DELETE FROM memberships WHERE user_id = ? AND tenant_id = ?")
            .bind(user.to_string())
            .bind(tenant.to_string())
            .execute(&mut *tx)
            .await
            .map_err(internal)?
            .rows_affected()
            > 0;
        if removed {
            bump_revocation_epoch(&mut tx).await?;
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
