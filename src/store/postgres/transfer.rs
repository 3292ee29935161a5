//! The whole store read and written at once, in PostgreSQL (`keyflow copy`): native `uuid`,
//! `timestamptz`, `bytea` and `boolean` columns. Also where a database URL is told
//! apart from another and described for the copy's messages, without its password.

use std::str::FromStr;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use super::super::columns::{NO_PASSWORD, password_hash};
use super::{PgStore, connect_options, describe, internal};
use crate::domain::{FlowId, KeyId, TenantId, Timestamp, UserId, VersionId};
use crate::store::transfer::{
    ApiKeyRow, AuditRow, BATCH, Dump, ElementRow, FlowElementRow, FlowRow, FlowUseRow,
    InvitationRow, MembershipRow, MetaRow, SnapshotRow, TABLES, TokenRow, Transfer, WebSessionRow,
    digest, document, not_empty, role, settings,
};
use crate::store::{StoreError, StoreResult, Tenant, User};

type Separated<'qb, 'args> = sqlx::query_builder::Separated<'qb, 'args, Postgres, &'static str>;

/// Where the URL points, for messages: user, host, port and database, never the password.
pub(crate) fn place(url: &SecretString) -> anyhow::Result<String> {
    Ok(describe(&connect_options(url)?))
}

/// Whether two URLs reach the same data: the same server, database and options (a
/// `search_path` in the options picks the schema) and user (whose name the default
/// `search_path` holds). Two URLs told apart wrongly still cannot mix data: a copy goes only
/// into an empty store.
pub(crate) fn same_database(a: &SecretString, b: &SecretString) -> bool {
    type Key = (String, String, u16, Option<String>, Option<String>);
    fn key(url: &SecretString) -> Option<Key> {
        let options = PgConnectOptions::from_str(url.expose_secret()).ok()?;
        Some((
            options.get_username().to_string(),
            options.get_host().to_string(),
            options.get_port(),
            options.get_database().map(str::to_string),
            options.get_options().map(str::to_string),
        ))
    }
    matches!((key(a), key(b)), (Some(a), Some(b)) if a == b)
}

fn get<T>(row: &PgRow, name: &str) -> StoreResult<T>
where
    T: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(name).map_err(internal)
}

fn get_time(row: &PgRow, name: &str) -> StoreResult<Timestamp> {
    get::<OffsetDateTime>(row, name).map(Timestamp::from_offset)
}

fn get_optional_time(row: &PgRow, name: &str) -> StoreResult<Option<Timestamp>> {
    Ok(get::<Option<OffsetDateTime>>(row, name)?.map(Timestamp::from_offset))
}

async fn all(conn: &mut PgConnection, sql: &str) -> StoreResult<Vec<PgRow>> {
    sqlx::query(sql).fetch_all(conn).await.map_err(internal)
}

/// The columns of a version, common to `flows` and `flow_snapshots`; `settings` is JSON text.
const VERSION_COLUMNS: &str = "tenant_id, version_id, editing_token, developer_name, \
     name_folded, developer_summary, start_map_element_id, settings, date_created, \
     date_modified, who_created, who_modified, who_owner";
const VERSION_SELECT: &str = "tenant_id, version_id, editing_token, developer_name, \
     name_folded, developer_summary, start_map_element_id, settings, \
     date_created, date_modified, who_created, who_modified, who_owner";

fn version(row: &PgRow) -> StoreResult<FlowRow> {
    Ok(FlowRow {
        id: FlowId(get(row, "id")?),
        tenant_id: TenantId(get(row, "tenant_id")?),
        version_id: VersionId(get(row, "version_id")?),
        editing_token: get(row, "editing_token")?,
        developer_name: get(row, "developer_name")?,
        name_folded: get(row, "name_folded")?,
        developer_summary: get(row, "developer_summary")?,
        start_map_element_id: get(row, "start_map_element_id")?,
        settings: settings(&get::<String>(row, "settings")?)?,
        date_created: get_time(row, "date_created")?,
        date_modified: get_time(row, "date_modified")?,
        who_created: UserId(get(row, "who_created")?),
        who_modified: UserId(get(row, "who_modified")?),
        who_owner: UserId(get(row, "who_owner")?),
    })
}

/// Reads every table inside the caller's transaction.
async fn read_all(conn: &mut PgConnection) -> StoreResult<Dump> {
    let mut dump = Dump::default();
    for row in all(
        conn,
        "SELECT id, name, summary, created_at, settings FROM tenants ORDER BY created_at, id",
    )
    .await?
    {
        dump.tenants.push(Tenant {
            id: TenantId(get(&row, "id")?),
            name: get(&row, "name")?,
            summary: get(&row, "summary")?,
            created_at: get_time(&row, "created_at")?,
            settings: get(&row, "settings")?,
        });
    }
    for row in all(
        conn,
        "SELECT id, email, first_name, last_name, password_hash, created_at FROM users \
         ORDER BY created_at, id",
    )
    .await?
    {
        dump.users.push(User {
            id: UserId(get(&row, "id")?),
            email: get(&row, "email")?,
            first_name: get(&row, "first_name")?,
            last_name: get(&row, "last_name")?,
            password_hash: password_hash(get(&row, "password_hash")?),
            created_at: get_time(&row, "created_at")?,
        });
    }
    for row in all(
        conn,
        "SELECT user_id, tenant_id, role, created_at FROM memberships \
         ORDER BY created_at, user_id, tenant_id",
    )
    .await?
    {
        dump.memberships.push(MembershipRow {
            user_id: UserId(get(&row, "user_id")?),
            tenant_id: TenantId(get(&row, "tenant_id")?),
            role: role(&get::<String>(&row, "role")?)?,
            created_at: get_time(&row, "created_at")?,
        });
    }
    for row in all(
        conn,
        "SELECT id, user_id, tenant_id, role, first_name, last_name, link_digest, \
         link_expires_at, created_at FROM invitations ORDER BY created_at, id",
    )
    .await?
    {
        dump.invitations.push(InvitationRow {
            id: UserId(get(&row, "id")?),
            user_id: UserId(get(&row, "user_id")?),
            tenant_id: TenantId(get(&row, "tenant_id")?),
            role: role(&get::<String>(&row, "role")?)?,
            first_name: get(&row, "first_name")?,
            last_name: get(&row, "last_name")?,
            link_digest: digest(get(&row, "link_digest")?)?,
            link_expires_at: get_time(&row, "link_expires_at")?,
            created_at: get_time(&row, "created_at")?,
        });
    }
    for row in all(
        conn,
        "SELECT id, user_id, tenant_id, name, digest, preview, sealed, created_at, expires_at \
         FROM api_keys ORDER BY created_at, id",
    )
    .await?
    {
        dump.api_keys.push(ApiKeyRow {
            id: KeyId(get(&row, "id")?),
            user_id: UserId(get(&row, "user_id")?),
            tenant_id: TenantId(get(&row, "tenant_id")?),
            name: get(&row, "name")?,
            digest: digest(get(&row, "digest")?)?,
            preview: get(&row, "preview")?,
            sealed: get(&row, "sealed")?,
            created_at: get_time(&row, "created_at")?,
            expires_at: get_optional_time(&row, "expires_at")?,
        });
    }
    for row in all(
        conn,
        "SELECT digest, user_id, tenant_id, created_at, expires_at, signed_in_at, key_id \
         FROM tokens ORDER BY created_at, digest",
    )
    .await?
    {
        dump.tokens.push(TokenRow {
            digest: digest(get(&row, "digest")?)?,
            user_id: UserId(get(&row, "user_id")?),
            tenant_id: TenantId(get(&row, "tenant_id")?),
            created_at: get_time(&row, "created_at")?,
            expires_at: get_time(&row, "expires_at")?,
            signed_in_at: get_time(&row, "signed_in_at")?,
            key_id: get::<Option<uuid::Uuid>>(&row, "key_id")?.map(KeyId),
        });
    }
    for row in all(
        conn,
        "SELECT digest, user_id, created_at, expires_at FROM web_sessions \
         ORDER BY created_at, digest",
    )
    .await?
    {
        dump.web_sessions.push(WebSessionRow {
            digest: digest(get(&row, "digest")?)?,
            user_id: UserId(get(&row, "user_id")?),
            created_at: get_time(&row, "created_at")?,
            expires_at: get_time(&row, "expires_at")?,
        });
    }
    let sql = format!("SELECT id, {VERSION_SELECT} FROM flows ORDER BY date_created, id");
    for row in all(conn, &sql).await? {
        dump.flows.push(version(&row)?);
    }
    let sql = format!(
        "SELECT flow_id AS id, {VERSION_SELECT}, comment, snapped_at, is_active, is_default, \
         activated_at, activated_by_email, image FROM flow_snapshots \
         ORDER BY snapped_at, flow_id, version_id"
    );
    for row in all(conn, &sql).await? {
        dump.flow_snapshots.push(SnapshotRow {
            version: version(&row)?,
            comment: get(&row, "comment")?,
            snapped_at: get_time(&row, "snapped_at")?,
            is_active: get(&row, "is_active")?,
            is_default: get(&row, "is_default")?,
            activated_at: get_optional_time(&row, "activated_at")?,
            activated_by_email: get(&row, "activated_by_email")?,
            image: get(&row, "image")?,
        });
    }
    // uuid order is byte order: the same as SQLite's order of their lower-case text.
    for row in all(
        conn,
        "SELECT tenant_id, id, kind, developer_name, name_folded, document, date_created, \
         date_modified, who_created, who_modified FROM elements \
         ORDER BY date_created, tenant_id, id",
    )
    .await?
    {
        dump.elements.push(ElementRow {
            tenant_id: TenantId(get(&row, "tenant_id")?),
            id: get(&row, "id")?,
            kind: get(&row, "kind")?,
            developer_name: get(&row, "developer_name")?,
            name_folded: get(&row, "name_folded")?,
            document: document(&get::<String>(&row, "document")?)?,
            date_created: get_time(&row, "date_created")?,
            date_modified: get_time(&row, "date_modified")?,
            who_created: UserId(get(&row, "who_created")?),
            who_modified: UserId(get(&row, "who_modified")?),
        });
    }
    for row in all(
        conn,
        "SELECT flow_id, id, kind, developer_name, document, date_created, date_modified, \
         who_created, who_modified FROM flow_elements ORDER BY date_created, flow_id, id",
    )
    .await?
    {
        dump.flow_elements.push(FlowElementRow {
            flow_id: FlowId(get(&row, "flow_id")?),
            id: get(&row, "id")?,
            kind: get(&row, "kind")?,
            developer_name: get(&row, "developer_name")?,
            document: document(&get::<String>(&row, "document")?)?,
            date_created: get_time(&row, "date_created")?,
            date_modified: get_time(&row, "date_modified")?,
            who_created: UserId(get(&row, "who_created")?),
            who_modified: UserId(get(&row, "who_modified")?),
        });
    }
    for row in all(
        conn,
        "SELECT flow_id, tenant_id, element_id, imported FROM flow_uses \
         ORDER BY flow_id, element_id",
    )
    .await?
    {
        dump.flow_uses.push(FlowUseRow {
            flow_id: FlowId(get(&row, "flow_id")?),
            tenant_id: TenantId(get(&row, "tenant_id")?),
            element_id: get(&row, "element_id")?,
            imported: get(&row, "imported")?,
        });
    }
    for row in all(
        conn,
        "SELECT id, at, actor_id, tenant_id, action, subject FROM audit_events ORDER BY at, id",
    )
    .await?
    {
        dump.audit_events.push(AuditRow {
            id: get(&row, "id")?,
            at: get_time(&row, "at")?,
            actor_id: get::<Option<Uuid>>(&row, "actor_id")?.map(UserId),
            tenant_id: get::<Option<Uuid>>(&row, "tenant_id")?.map(TenantId),
            action: get(&row, "action")?,
            subject: get(&row, "subject")?,
        });
    }
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT key, value FROM meta ORDER BY key")
        .fetch_all(&mut *conn)
        .await
        .map_err(internal)?;
    dump.meta = rows
        .into_iter()
        .map(|(key, value)| MetaRow { key, value })
        .collect();
    Ok(dump)
}

/// The tables that hold rows.
async fn non_empty_tables(conn: &mut PgConnection) -> StoreResult<Vec<&'static str>> {
    let mut found = Vec::new();
    for table in TABLES {
        let (exists,): (bool,) = sqlx::query_as(&format!("SELECT EXISTS (SELECT 1 FROM {table})"))
            .fetch_one(&mut *conn)
            .await
            .map_err(internal)?;
        if exists {
            found.push(table);
        }
    }
    Ok(found)
}

/// A timestamp bound as its RFC 3339 text and cast by PostgreSQL, which reads it exactly
/// (to the microsecond, as keyflow keeps them).
fn push_time(b: &mut Separated<'_, '_>, at: Timestamp) {
    b.push_bind(at.to_rfc3339());
    b.push_unseparated("::timestamptz");
}

fn push_optional_time(b: &mut Separated<'_, '_>, at: Option<Timestamp>) {
    b.push_bind(at.map(Timestamp::to_rfc3339));
    b.push_unseparated("::timestamptz");
}

/// Inserts `rows` into `table` a batch at a time, each row's values pushed by `push`.
async fn insert<T>(
    conn: &mut PgConnection,
    table: &str,
    columns: &str,
    rows: &[T],
    push: impl Fn(Separated<'_, '_>, &T) + Copy,
) -> StoreResult<()> {
    for chunk in rows.chunks(BATCH) {
        let mut builder: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("INSERT INTO {table} ({columns}) "));
        builder.push_values(chunk, push);
        builder.build().execute(&mut *conn).await.map_err(|error| {
            StoreError::Internal(anyhow::Error::new(error).context(format!("writing {table}")))
        })?;
    }
    Ok(())
}

fn push_version(b: &mut Separated<'_, '_>, v: &FlowRow) {
    b.push_bind(v.id.0)
        .push_bind(v.tenant_id.0)
        .push_bind(v.version_id.0)
        .push_bind(v.editing_token)
        .push_bind(v.developer_name.clone())
        .push_bind(v.name_folded.clone())
        .push_bind(v.developer_summary.clone())
        .push_bind(v.start_map_element_id.clone())
        .push_bind(v.settings.to_string());
    push_time(b, v.date_created);
    push_time(b, v.date_modified);
    b.push_bind(v.who_created.0)
        .push_bind(v.who_modified.0)
        .push_bind(v.who_owner.0);
}

/// Writes every table of `dump` inside the caller's transaction, each after those it refers to.
async fn write_all(conn: &mut PgConnection, dump: &Dump) -> StoreResult<()> {
    insert(
        conn,
        "tenants",
        "id, name, summary, created_at, settings",
        &dump.tenants,
        |mut b, t| {
            b.push_bind(t.id.0)
                .push_bind(t.name.clone())
                .push_bind(t.summary.clone());
            push_time(&mut b, t.created_at);
            b.push_bind(t.settings.clone());
        },
    )
    .await?;
    insert(
        conn,
        "users",
        "id, email, first_name, last_name, password_hash, created_at",
        &dump.users,
        |mut b, u| {
            b.push_bind(u.id.0)
                .push_bind(u.email.clone())
                .push_bind(u.first_name.clone())
                .push_bind(u.last_name.clone())
                .push_bind(
                    u.password_hash
                        .clone()
                        .unwrap_or_else(|| NO_PASSWORD.to_string()),
                );
            push_time(&mut b, u.created_at);
        },
    )
    .await?;
    insert(
        conn,
        "memberships",
        "user_id, tenant_id, role, created_at",
        &dump.memberships,
        |mut b, m| {
            b.push_bind(m.user_id.0)
                .push_bind(m.tenant_id.0)
                .push_bind(m.role.wire_name());
            push_time(&mut b, m.created_at);
        },
    )
    .await?;
    insert(
        conn,
        "invitations",
        "id, user_id, tenant_id, role, first_name, last_name, link_digest, link_expires_at, \
         created_at",
        &dump.invitations,
        |mut b, i| {
            b.push_bind(i.id.0)
                .push_bind(i.user_id.0)
                .push_bind(i.tenant_id.0)
                .push_bind(i.role.wire_name())
                .push_bind(i.first_name.clone())
                .push_bind(i.last_name.clone())
                .push_bind(i.link_digest.as_bytes().to_vec());
            push_time(&mut b, i.link_expires_at);
            push_time(&mut b, i.created_at);
        },
    )
    .await?;
    insert(
        conn,
        "api_keys",
        "id, user_id, tenant_id, name, digest, preview, sealed, created_at, expires_at",
        &dump.api_keys,
        |mut b, k| {
            b.push_bind(k.id.0)
                .push_bind(k.user_id.0)
                .push_bind(k.tenant_id.0)
                .push_bind(k.name.clone())
                .push_bind(k.digest.as_bytes().to_vec())
                .push_bind(k.preview.clone())
                .push_bind(k.sealed.clone());
            push_time(&mut b, k.created_at);
            push_optional_time(&mut b, k.expires_at);
        },
    )
    .await?;
    insert(
        conn,
        "tokens",
        "digest, user_id, tenant_id, created_at, expires_at, signed_in_at, key_id",
        &dump.tokens,
        |mut b, t| {
            b.push_bind(t.digest.as_bytes().to_vec())
                .push_bind(t.user_id.0)
                .push_bind(t.tenant_id.0);
            push_time(&mut b, t.created_at);
            push_time(&mut b, t.expires_at);
            push_time(&mut b, t.signed_in_at);
            b.push_bind(t.key_id.map(|key| key.0));
        },
    )
    .await?;
    insert(
        conn,
        "web_sessions",
        "digest, user_id, created_at, expires_at",
        &dump.web_sessions,
        |mut b, s| {
            b.push_bind(s.digest.as_bytes().to_vec())
                .push_bind(s.user_id.0);
            push_time(&mut b, s.created_at);
            push_time(&mut b, s.expires_at);
        },
    )
    .await?;
    insert(
        conn,
        "flows",
        &format!("id, {VERSION_COLUMNS}"),
        &dump.flows,
        |mut b, f| push_version(&mut b, f),
    )
    .await?;
    insert(
        conn,
        "flow_snapshots",
        &format!(
            "flow_id, {VERSION_COLUMNS}, comment, snapped_at, is_active, is_default, \
             activated_at, activated_by_email, image"
        ),
        &dump.flow_snapshots,
        |mut b, s| {
            push_version(&mut b, &s.version);
            b.push_bind(s.comment.clone());
            push_time(&mut b, s.snapped_at);
            b.push_bind(s.is_active).push_bind(s.is_default);
            push_optional_time(&mut b, s.activated_at);
            b.push_bind(s.activated_by_email.clone())
                .push_bind(s.image.clone());
        },
    )
    .await?;
    insert(
        conn,
        "elements",
        "tenant_id, id, kind, developer_name, name_folded, document, date_created, \
         date_modified, who_created, who_modified",
        &dump.elements,
        |mut b, e| {
            b.push_bind(e.tenant_id.0)
                .push_bind(e.id)
                .push_bind(e.kind.clone())
                .push_bind(e.developer_name.clone())
                .push_bind(e.name_folded.clone())
                .push_bind(e.document.to_string());
            push_time(&mut b, e.date_created);
            push_time(&mut b, e.date_modified);
            b.push_bind(e.who_created.0).push_bind(e.who_modified.0);
        },
    )
    .await?;
    insert(
        conn,
        "flow_elements",
        "flow_id, id, kind, developer_name, document, date_created, date_modified, \
         who_created, who_modified",
        &dump.flow_elements,
        |mut b, e| {
            b.push_bind(e.flow_id.0)
                .push_bind(e.id)
                .push_bind(e.kind.clone())
                .push_bind(e.developer_name.clone())
                .push_bind(e.document.to_string());
            push_time(&mut b, e.date_created);
            push_time(&mut b, e.date_modified);
            b.push_bind(e.who_created.0).push_bind(e.who_modified.0);
        },
    )
    .await?;
    insert(
        conn,
        "flow_uses",
        "flow_id, tenant_id, element_id, imported",
        &dump.flow_uses,
        |mut b, u| {
            b.push_bind(u.flow_id.0)
                .push_bind(u.tenant_id.0)
                .push_bind(u.element_id)
                .push_bind(u.imported);
        },
    )
    .await?;
    insert(
        conn,
        "audit_events",
        "id, at, actor_id, tenant_id, action, subject",
        &dump.audit_events,
        |mut b, a| {
            b.push_bind(a.id);
            push_time(&mut b, a.at);
            b.push_bind(a.actor_id.map(|id| id.0))
                .push_bind(a.tenant_id.map(|id| id.0))
                .push_bind(a.action.clone())
                .push_bind(a.subject.clone());
        },
    )
    .await?;
    insert(conn, "meta", "key, value", &dump.meta, |mut b, m| {
        b.push_bind(m.key.clone()).push_bind(m.value.clone());
    })
    .await?;
    Ok(())
}

#[async_trait]
impl Transfer for PgStore {
    async fn export(&self) -> StoreResult<Dump> {
        // One snapshot for every table, and no write can slip in by mistake.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(internal)?;
        let dump = read_all(&mut tx).await?;
        tx.commit().await.map_err(internal)?;
        Ok(dump)
    }

    async fn import(&self, dump: Dump) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        // SHARE ROW EXCLUSIVE conflicts with every write and with itself: no instance can add
        // a row between the emptiness check and the copy, and two copies run one at a time.
        sqlx::query(&format!(
            "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
            TABLES.join(", ")
        ))
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        let found = non_empty_tables(&mut tx).await?;
        if !found.is_empty() {
            return Err(not_empty(&found));
        }
        write_all(&mut tx, &dump).await?;
        tx.commit().await.map_err(internal)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_the_same_database_when_server_database_and_schema_agree() {
        let url = |text: &str| SecretString::from(text.to_string());
        let a = url("postgres://kf:one@db.example:5432/keyflow");
        assert!(same_database(
            &a,
            &url("postgresql://kf:two@db.example/keyflow")
        ));
        assert!(!same_database(
            &a,
            &url("postgres://kf:one@db.example:5432/other")
        ));
        assert!(!same_database(
            &a,
            &url("postgres://other:one@db.example:5432/keyflow")
        ));
        assert!(!same_database(
            &a,
            &url("postgres://kf:one@db.example:5432/keyflow?options=-c%20search_path%3Dt1")
        ));
        assert_eq!(place(&a).unwrap(), "kf@db.example:5432/keyflow");
    }
}
