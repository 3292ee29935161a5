//! The whole store read and written at once, in SQLite (`keyflow copy`): ids and timestamps as
//! the other files write them (lower-case UUID text, fixed-width RFC 3339), booleans as 0/1.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::super::columns::{NO_PASSWORD, password_hash};
use super::{SqliteStore, internal, optional_timestamp, timestamp, uuid};
use crate::domain::{FlowId, KeyId, TenantId, UserId, VersionId};
use crate::store::transfer::{
    ApiKeyRow, AuditRow, BATCH, Dump, ElementRow, FlowElementRow, FlowRow, FlowUseRow,
    InvitationRow, MembershipRow, MetaRow, SQLITE_COUNTER_KEY, SnapshotRow, TABLES, TokenRow,
    Transfer, WebSessionRow, digest, document, not_empty, role, settings,
};
use crate::store::{StoreError, StoreResult, Tenant, User};

fn get<T>(row: &SqliteRow, name: &str) -> StoreResult<T>
where
    T: for<'r> sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(name).map_err(internal)
}

fn get_uuid(row: &SqliteRow, name: &str) -> StoreResult<uuid::Uuid> {
    uuid(&get::<String>(row, name)?)
}

fn get_optional_uuid(row: &SqliteRow, name: &str) -> StoreResult<Option<uuid::Uuid>> {
    get::<Option<String>>(row, name)?
        .as_deref()
        .map(uuid)
        .transpose()
}

fn get_time(row: &SqliteRow, name: &str) -> StoreResult<crate::domain::Timestamp> {
    timestamp(&get::<String>(row, name)?)
}

async fn all(conn: &mut SqliteConnection, sql: &str) -> StoreResult<Vec<SqliteRow>> {
    sqlx::query(sql).fetch_all(conn).await.map_err(internal)
}

/// The columns of a version, common to `flows` and `flow_snapshots` (whose flow id is
/// `flow_id`, selected as `id`).
const VERSION_COLUMNS: &str = "tenant_id, version_id, editing_token, developer_name, \
     name_folded, developer_summary, start_map_element_id, settings, date_created, \
     date_modified, who_created, who_modified, who_owner";

fn version(row: &SqliteRow) -> StoreResult<FlowRow> {
    Ok(FlowRow {
        id: FlowId(get_uuid(row, "id")?),
        tenant_id: TenantId(get_uuid(row, "tenant_id")?),
        version_id: VersionId(get_uuid(row, "version_id")?),
        editing_token: get_uuid(row, "editing_token")?,
        developer_name: get(row, "developer_name")?,
        name_folded: get(row, "name_folded")?,
        developer_summary: get(row, "developer_summary")?,
        start_map_element_id: get(row, "start_map_element_id")?,
        settings: settings(&get::<String>(row, "settings")?)?,
        date_created: get_time(row, "date_created")?,
        date_modified: get_time(row, "date_modified")?,
        who_created: UserId(get_uuid(row, "who_created")?),
        who_modified: UserId(get_uuid(row, "who_modified")?),
        who_owner: UserId(get_uuid(row, "who_owner")?),
    })
}

/// Reads every table inside the caller's transaction.
async fn read_all(conn: &mut SqliteConnection) -> StoreResult<Dump> {
    let mut dump = Dump::default();
    for row in all(
        conn,
        "SELECT id, name, summary, created_at, settings FROM tenants ORDER BY created_at, id",
    )
    .await?
    {
        dump.tenants.push(Tenant {
            id: TenantId(get_uuid(&row, "id")?),
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
            id: UserId(get_uuid(&row, "id")?),
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
            user_id: UserId(get_uuid(&row, "user_id")?),
            tenant_id: TenantId(get_uuid(&row, "tenant_id")?),
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
            id: UserId(get_uuid(&row, "id")?),
            user_id: UserId(get_uuid(&row, "user_id")?),
            tenant_id: TenantId(get_uuid(&row, "tenant_id")?),
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
            id: KeyId(get_uuid(&row, "id")?),
            user_id: UserId(get_uuid(&row, "user_id")?),
            tenant_id: TenantId(get_uuid(&row, "tenant_id")?),
            name: get(&row, "name")?,
            digest: digest(get(&row, "digest")?)?,
            preview: get(&row, "preview")?,
            sealed: get(&row, "sealed")?,
            created_at: get_time(&row, "created_at")?,
            expires_at: optional_timestamp(get(&row, "expires_at")?)?,
        });
    }
    for row in all(
        conn,
        "SELECT digest, user_id, tenant_id, created_at, expires_at, signed_in_at, key_id \
         FROM tokens ORDER BY created_at, digest",
    )
    .await?
    {
        let created_at = get_time(&row, "created_at")?;
        dump.tokens.push(TokenRow {
            digest: digest(get(&row, "digest")?)?,
            user_id: UserId(get_uuid(&row, "user_id")?),
            tenant_id: TenantId(get_uuid(&row, "tenant_id")?),
            created_at,
            expires_at: get_time(&row, "expires_at")?,
            // The column was added by migration 0004, which filled it; a row without one
            // means what it meant then: the token's own creation.
            signed_in_at: optional_timestamp(get(&row, "signed_in_at")?)?.unwrap_or(created_at),
            key_id: get_optional_uuid(&row, "key_id")?.map(KeyId),
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
            user_id: UserId(get_uuid(&row, "user_id")?),
            created_at: get_time(&row, "created_at")?,
            expires_at: get_time(&row, "expires_at")?,
        });
    }
    let sql = format!("SELECT id, {VERSION_COLUMNS} FROM flows ORDER BY date_created, id");
    for row in all(conn, &sql).await? {
        dump.flows.push(version(&row)?);
    }
    let sql = format!(
        "SELECT flow_id AS id, {VERSION_COLUMNS}, comment, snapped_at, is_active, is_default, \
         activated_at, activated_by_email, image FROM flow_snapshots \
         ORDER BY snapped_at, flow_id, version_id"
    );
    for row in all(conn, &sql).await? {
        dump.flow_snapshots.push(SnapshotRow {
            version: version(&row)?,
            comment: get(&row, "comment")?,
            snapped_at: get_time(&row, "snapped_at")?,
            is_active: get::<i64>(&row, "is_active")? != 0,
            is_default: get::<i64>(&row, "is_default")? != 0,
            activated_at: optional_timestamp(get(&row, "activated_at")?)?,
            activated_by_email: get(&row, "activated_by_email")?,
            image: get(&row, "image")?,
        });
    }
    for row in all(
        conn,
        "SELECT tenant_id, id, kind, developer_name, name_folded, document, date_created, \
         date_modified, who_created, who_modified FROM elements \
         ORDER BY date_created, tenant_id, id",
    )
    .await?
    {
        dump.elements.push(ElementRow {
            tenant_id: TenantId(get_uuid(&row, "tenant_id")?),
            id: get_uuid(&row, "id")?,
            kind: get(&row, "kind")?,
            developer_name: get(&row, "developer_name")?,
            name_folded: get(&row, "name_folded")?,
            document: document(&get::<String>(&row, "document")?)?,
            date_created: get_time(&row, "date_created")?,
            date_modified: get_time(&row, "date_modified")?,
            who_created: UserId(get_uuid(&row, "who_created")?),
            who_modified: UserId(get_uuid(&row, "who_modified")?),
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
            flow_id: FlowId(get_uuid(&row, "flow_id")?),
            id: get_uuid(&row, "id")?,
            kind: get(&row, "kind")?,
            developer_name: get(&row, "developer_name")?,
            document: document(&get::<String>(&row, "document")?)?,
            date_created: get_time(&row, "date_created")?,
            date_modified: get_time(&row, "date_modified")?,
            who_created: UserId(get_uuid(&row, "who_created")?),
            who_modified: UserId(get_uuid(&row, "who_modified")?),
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
            flow_id: FlowId(get_uuid(&row, "flow_id")?),
            tenant_id: TenantId(get_uuid(&row, "tenant_id")?),
            element_id: get_uuid(&row, "element_id")?,
            imported: get::<i64>(&row, "imported")? != 0,
        });
    }
    for row in all(
        conn,
        "SELECT id, at, actor_id, tenant_id, action, subject FROM audit_events ORDER BY at, id",
    )
    .await?
    {
        dump.audit_events.push(AuditRow {
            id: get_uuid(&row, "id")?,
            at: get_time(&row, "at")?,
            actor_id: get_optional_uuid(&row, "actor_id")?.map(UserId),
            tenant_id: get_optional_uuid(&row, "tenant_id")?.map(TenantId),
            action: get(&row, "action")?,
            subject: get(&row, "subject")?,
        });
    }
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT key, value FROM meta WHERE key <> ? ORDER BY key")
            .bind(SQLITE_COUNTER_KEY)
            .fetch_all(&mut *conn)
            .await
            .map_err(internal)?;
    dump.meta = rows
        .into_iter()
        .map(|(key, value)| MetaRow { key, value })
        .collect();
    Ok(dump)
}

/// The tables that hold rows (the counter's `meta` row aside).
async fn non_empty_tables(conn: &mut SqliteConnection) -> StoreResult<Vec<&'static str>> {
    let mut found = Vec::new();
    for table in TABLES {
        let sql = if table == "meta" {
            format!("SELECT EXISTS (SELECT 1 FROM meta WHERE key <> '{SQLITE_COUNTER_KEY}')")
        } else {
            format!("SELECT EXISTS (SELECT 1 FROM {table})")
        };
        let (exists,): (i64,) = sqlx::query_as(&sql)
            .fetch_one(&mut *conn)
            .await
            .map_err(internal)?;
        if exists != 0 {
            found.push(table);
        }
    }
    Ok(found)
}

/// Inserts `rows` into `table` a batch at a time, each row's values pushed by `push`.
async fn insert<T>(
    conn: &mut SqliteConnection,
    table: &str,
    columns: &str,
    rows: &[T],
    push: impl Fn(sqlx::query_builder::Separated<'_, '_, Sqlite, &'static str>, &T) + Copy,
) -> StoreResult<()> {
    for chunk in rows.chunks(BATCH) {
        let mut builder: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("INSERT INTO {table} ({columns}) "));
        builder.push_values(chunk, push);
        builder.build().execute(&mut *conn).await.map_err(|error| {
            StoreError::Internal(anyhow::Error::new(error).context(format!("writing {table}")))
        })?;
    }
    Ok(())
}

fn push_version(b: &mut sqlx::query_builder::Separated<'_, '_, Sqlite, &'static str>, v: &FlowRow) {
    b.push_bind(v.id.to_string())
        .push_bind(v.tenant_id.to_string())
        .push_bind(v.version_id.to_string())
        .push_bind(v.editing_token.to_string())
        .push_bind(v.developer_name.clone())
        .push_bind(v.name_folded.clone())
        .push_bind(v.developer_summary.clone())
        .push_bind(v.start_map_element_id.clone())
        .push_bind(v.settings.to_string())
        .push_bind(v.date_created.to_rfc3339())
        .push_bind(v.date_modified.to_rfc3339())
        .push_bind(v.who_created.to_string())
        .push_bind(v.who_modified.to_string())
        .push_bind(v.who_owner.to_string());
}

/// Writes every table of `dump` inside the caller's transaction, each after those it refers to.
async fn write_all(conn: &mut SqliteConnection, dump: &Dump) -> StoreResult<()> {
    insert(
        conn,
        "tenants",
        "id, name, summary, created_at, settings",
        &dump.tenants,
        |mut b, t| {
            b.push_bind(t.id.to_string())
                .push_bind(t.name.clone())
                .push_bind(t.summary.clone())
                .push_bind(t.created_at.to_rfc3339())
                .push_bind(t.settings.clone());
        },
    )
    .await?;
    insert(
        conn,
        "users",
        "id, email, first_name, last_name, password_hash, created_at",
        &dump.users,
        |mut b, u| {
            b.push_bind(u.id.to_string())
                .push_bind(u.email.clone())
                .push_bind(u.first_name.clone())
                .push_bind(u.last_name.clone())
                .push_bind(
                    u.password_hash
                        .clone()
                        .unwrap_or_else(|| NO_PASSWORD.to_string()),
                )
                .push_bind(u.created_at.to_rfc3339());
        },
    )
    .await?;
    insert(
        conn,
        "memberships",
        "user_id, tenant_id, role, created_at",
        &dump.memberships,
        |mut b, m| {
            b.push_bind(m.user_id.to_string())
                .push_bind(m.tenant_id.to_string())
                .push_bind(m.role.wire_name())
                .push_bind(m.created_at.to_rfc3339());
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
            b.push_bind(i.id.to_string())
                .push_bind(i.user_id.to_string())
                .push_bind(i.tenant_id.to_string())
                .push_bind(i.role.wire_name())
                .push_bind(i.first_name.clone())
                .push_bind(i.last_name.clone())
                .push_bind(i.link_digest.as_bytes().to_vec())
                .push_bind(i.link_expires_at.to_rfc3339())
                .push_bind(i.created_at.to_rfc3339());
        },
    )
    .await?;
    insert(
        conn,
        "api_keys",
        "id, user_id, tenant_id, name, digest, preview, sealed, created_at, expires_at",
        &dump.api_keys,
        |mut b, k| {
            b.push_bind(k.id.to_string())
                .push_bind(k.user_id.to_string())
                .push_bind(k.tenant_id.to_string())
                .push_bind(k.name.clone())
                .push_bind(k.digest.as_bytes().to_vec())
                .push_bind(k.preview.clone())
                .push_bind(k.sealed.clone())
                .push_bind(k.created_at.to_rfc3339())
                .push_bind(k.expires_at.map(|t| t.to_rfc3339()));
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
                .push_bind(t.user_id.to_string())
                .push_bind(t.tenant_id.to_string())
                .push_bind(t.created_at.to_rfc3339())
                .push_bind(t.expires_at.to_rfc3339())
                .push_bind(t.signed_in_at.to_rfc3339())
                .push_bind(t.key_id.map(|key| key.to_string()));
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
                .push_bind(s.user_id.to_string())
                .push_bind(s.created_at.to_rfc3339())
                .push_bind(s.expires_at.to_rfc3339());
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
            b.push_bind(s.comment.clone())
                .push_bind(s.snapped_at.to_rfc3339())
                .push_bind(i64::from(s.is_active))
                .push_bind(i64::from(s.is_default))
                .push_bind(s.activated_at.map(|t| t.to_rfc3339()))
                .push_bind(s.activated_by_email.clone())
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
            b.push_bind(e.tenant_id.to_string())
                .push_bind(e.id.to_string())
                .push_bind(e.kind.clone())
                .push_bind(e.developer_name.clone())
                .push_bind(e.name_folded.clone())
                .push_bind(e.document.to_string())
                .push_bind(e.date_created.to_rfc3339())
                .push_bind(e.date_modified.to_rfc3339())
                .push_bind(e.who_created.to_string())
                .push_bind(e.who_modified.to_string());
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
            b.push_bind(e.flow_id.to_string())
                .push_bind(e.id.to_string())
                .push_bind(e.kind.clone())
                .push_bind(e.developer_name.clone())
                .push_bind(e.document.to_string())
                .push_bind(e.date_created.to_rfc3339())
                .push_bind(e.date_modified.to_rfc3339())
                .push_bind(e.who_created.to_string())
                .push_bind(e.who_modified.to_string());
        },
    )
    .await?;
    insert(
        conn,
        "flow_uses",
        "flow_id, tenant_id, element_id, imported",
        &dump.flow_uses,
        |mut b, u| {
            b.push_bind(u.flow_id.to_string())
                .push_bind(u.tenant_id.to_string())
                .push_bind(u.element_id.to_string())
                .push_bind(i64::from(u.imported));
        },
    )
    .await?;
    insert(
        conn,
        "audit_events",
        "id, at, actor_id, tenant_id, action, subject",
        &dump.audit_events,
        |mut b, a| {
            b.push_bind(a.id.to_string())
                .push_bind(a.at.to_rfc3339())
                .push_bind(a.actor_id.map(|id| id.to_string()))
                .push_bind(a.tenant_id.map(|id| id.to_string()))
                .push_bind(a.action.clone())
                .push_bind(a.subject.clone());
        },
    )
    .await?;
    // Another backend's counter is never in a dump; should one be, this store keeps its own.
    let meta: Vec<&MetaRow> = dump
        .meta
        .iter()
        .filter(|m| m.key != SQLITE_COUNTER_KEY)
        .collect();
    insert(conn, "meta", "key, value", &meta, |mut b, m| {
        b.push_bind(m.key.clone()).push_bind(m.value.clone());
    })
    .await?;
    Ok(())
}

#[async_trait]
impl Transfer for SqliteStore {
    async fn export(&self) -> StoreResult<Dump> {
        // In WAL mode a transaction's first read fixes the snapshot every later read sees, so
        // a server writing meanwhile cannot make the tables disagree.
        let mut tx = self.pool.begin().await.map_err(internal)?;
        let dump = read_all(&mut tx).await?;
        tx.commit().await.map_err(internal)?;
        Ok(dump)
    }

    async fn import(&self, dump: Dump) -> StoreResult<()> {
        // IMMEDIATE: the write lock is held from the start, so no other writer can add a row
        // between the emptiness check and the copy.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
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
