//! The whole store read and written at once (`keyflow copy`): every table read into a [`Dump`]
//! inside one transaction, and a dump written into an empty store inside one. What the backends
//! do differently is theirs: the transactions (`Store::begin_export`, `Store::begin_import`)
//! and the `meta` rows that are their own (`OWN_META_KEYS`, never copied).

mod write;

use async_trait::async_trait;

use super::{Conn, Db, OWN_META_KEYS, Store};
use crate::domain::{TenantId, Timestamp, UserId};
use crate::store::columns::password_hash;
use crate::store::transfer::{Dump, MetaRow, Transfer, not_empty};
use crate::store::{StoreResult, Tenant, User};
use write::{non_empty_tables, write_all};

#[async_trait]
impl Transfer for Store {
    async fn export(&self) -> StoreResult<Dump> {
        let mut tx = self.begin_export().await?;
        let dump = read_all(&mut tx).await?;
        tx.commit().await?;
        Ok(dump)
    }

    async fn import(&self, dump: Dump) -> StoreResult<()> {
        let mut tx = self.begin_import().await?;
        let found = non_empty_tables(&mut tx).await?;
        if !found.is_empty() {
            return Err(not_empty(&found));
        }
        write_all(&mut tx, &dump).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[derive(sqlx::FromRow)]
struct TenantColumns {
    id: TenantId,
    name: String,
    summary: Option<String>,
    created_at: Timestamp,
    settings: Option<String>,
}

/// A user row; `password_hash` is '' for an account with no password yet.
#[derive(sqlx::FromRow)]
struct UserColumns {
    id: UserId,
    email: String,
    first_name: Option<String>,
    last_name: Option<String>,
    password_hash: String,
    created_at: Timestamp,
}

/// Every row `sql` selects, decoded by column name.
async fn all<T>(conn: &mut Conn, sql: &str) -> StoreResult<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
{
    Ok(sqlx::query_as(sql).fetch_all(conn).await?)
}

/// The columns of a version, common to `flows` and `flow_snapshots` (whose flow id is
/// `flow_id`, selected as `id`).
const VERSION_COLUMNS: &str = "tenant_id, version_id, editing_token, developer_name, \
     name_folded, developer_summary, start_map_element_id, settings, date_created, \
     date_modified, who_created, who_modified, who_owner";

/// Reads every table inside the caller's transaction.
async fn read_all(conn: &mut Conn) -> StoreResult<Dump> {
    let tenants: Vec<TenantColumns> = all(
        conn,
        "SELECT id, name, summary, created_at, settings FROM tenants ORDER BY created_at, id",
    )
    .await?;
    let users: Vec<UserColumns> = all(
        conn,
        "SELECT id, email, first_name, last_name, password_hash, created_at FROM users \
         ORDER BY created_at, id",
    )
    .await?;
    Ok(Dump {
        tenants: tenants
            .into_iter()
            .map(|t| Tenant {
                id: t.id,
                name: t.name,
                summary: t.summary,
                created_at: t.created_at,
                settings: t.settings,
            })
            .collect(),
        users: users
            .into_iter()
            .map(|u| User {
                id: u.id,
                email: u.email,
                first_name: u.first_name,
                last_name: u.last_name,
                password_hash: password_hash(u.password_hash),
                created_at: u.created_at,
            })
            .collect(),
        memberships: all(
            conn,
            "SELECT user_id, tenant_id, role, created_at FROM memberships \
             ORDER BY created_at, user_id, tenant_id",
        )
        .await?,
        invitations: all(
            conn,
            "SELECT id, user_id, tenant_id, role, first_name, last_name, link_digest, \
             link_expires_at, created_at FROM invitations ORDER BY created_at, id",
        )
        .await?,
        api_keys: all(
            conn,
            "SELECT id, user_id, tenant_id, name, digest, preview, sealed, created_at, \
             expires_at FROM api_keys ORDER BY created_at, id",
        )
        .await?,
        // SQLite's column was added by migration 0004, which filled it; a row without one
        // means what it meant then: the token's own creation.
        tokens: all(
            conn,
            "SELECT digest, user_id, tenant_id, created_at, expires_at, \
             COALESCE(signed_in_at, created_at) AS signed_in_at, key_id \
             FROM tokens ORDER BY created_at, digest",
        )
        .await?,
        web_sessions: all(
            conn,
            "SELECT digest, user_id, created_at, expires_at FROM web_sessions \
             ORDER BY created_at, digest",
        )
        .await?,
        flows: all(
            conn,
            &format!("SELECT id, {VERSION_COLUMNS} FROM flows ORDER BY date_created, id"),
        )
        .await?,
        flow_snapshots: all(
            conn,
            &format!(
                "SELECT flow_id AS id, {VERSION_COLUMNS}, comment, snapped_at, is_active, \
                 is_default, activated_at, activated_by_email, image FROM flow_snapshots \
                 ORDER BY snapped_at, flow_id, version_id"
            ),
        )
        .await?,
        // PostgreSQL's uuid order is byte order: the same as SQLite's order of their
        // lower-case text.
        elements: all(
            conn,
            "SELECT tenant_id, id, kind, developer_name, name_folded, document, date_created, \
             date_modified, who_created, who_modified FROM elements \
             ORDER BY date_created, tenant_id, id",
        )
        .await?,
        flow_elements: all(
            conn,
            "SELECT flow_id, id, kind, developer_name, document, date_created, date_modified, \
             who_created, who_modified, edit_token FROM flow_elements \
             ORDER BY date_created, flow_id, id",
        )
        .await?,
        flow_uses: all(
            conn,
            "SELECT flow_id, tenant_id, element_id, imported FROM flow_uses \
             ORDER BY flow_id, element_id",
        )
        .await?,
        package_shares: all(
            conn,
            "SELECT digest, tenant_id, flow_id, version_id, package, created_by, created_at, \
             expires_at FROM package_shares ORDER BY created_at, digest",
        )
        .await?,
        audit_events: all(
            conn,
            "SELECT id, at, actor_id, tenant_id, action, subject FROM audit_events \
             ORDER BY at, id",
        )
        .await?,
        meta: meta(conn).await?,
    })
}

/// The `meta` rows, but the backend's own.
async fn meta(conn: &mut Conn) -> StoreResult<Vec<MetaRow>> {
    let mut rows: Vec<MetaRow> = all(conn, "SELECT key, value FROM meta ORDER BY key").await?;
    rows.retain(|row| !OWN_META_KEYS.contains(&row.key.as_str()));
    Ok(rows)
}
