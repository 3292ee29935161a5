//! A dump written into an empty store, each table after those it refers to, in batches of
//! rows bound through `store::codec`.

use sqlx::QueryBuilder;

use super::{Conn, Db, OWN_META_KEYS, VERSION_COLUMNS, meta};
use crate::store::codec::DbUuid;
use crate::store::columns::NO_PASSWORD;
use crate::store::transfer::{BATCH, Dump, FlowRow, MetaRow, TABLES};
use crate::store::{StoreError, StoreResult};

type Separated<'qb, 'args> = sqlx::query_builder::Separated<'qb, 'args, Db, &'static str>;

/// The tables that hold rows (the backend's own `meta` rows aside).
pub(super) async fn non_empty_tables(conn: &mut Conn) -> StoreResult<Vec<&'static str>> {
    let mut found = Vec::new();
    for table in TABLES {
        let exists = if table == "meta" {
            !meta(conn).await?.is_empty()
        } else {
            let (exists,): (bool,) =
                sqlx::query_as(&format!("SELECT EXISTS (SELECT 1 FROM {table})"))
                    .fetch_one(&mut *conn)
                    .await?;
            exists
        };
        if exists {
            found.push(table);
        }
    }
    Ok(found)
}

/// Inserts `rows` into `table` a batch at a time, each row's values pushed by `push`.
async fn insert<'a, T>(
    conn: &mut Conn,
    table: &str,
    columns: &str,
    rows: &'a [T],
    push: impl Fn(&mut Separated<'_, 'a>, &'a T),
) -> StoreResult<()> {
    for chunk in rows.chunks(BATCH) {
        let mut builder: QueryBuilder<'a, Db> =
            QueryBuilder::new(format!("INSERT INTO {table} ({columns}) "));
        builder.push_values(chunk, |mut b, row| push(&mut b, row));
        builder.build().execute(&mut *conn).await.map_err(|error| {
            StoreError::Internal(anyhow::Error::new(error).context(format!("writing {table}")))
        })?;
    }
    Ok(())
}

fn push_version<'a>(b: &mut Separated<'_, 'a>, v: &'a FlowRow) {
    b.push_bind(v.id)
        .push_bind(v.tenant_id)
        .push_bind(v.version_id)
        .push_bind(DbUuid(v.editing_token))
        .push_bind(&v.developer_name)
        .push_bind(&v.name_folded)
        .push_bind(&v.developer_summary)
        .push_bind(&v.start_map_element_id)
        .push_bind(v.settings.to_string())
        .push_bind(v.date_created)
        .push_bind(v.date_modified)
        .push_bind(v.who_created)
        .push_bind(v.who_modified)
        .push_bind(v.who_owner);
}

/// Writes every table of `dump` inside the caller's transaction, each after those it refers to.
pub(super) async fn write_all(conn: &mut Conn, dump: &Dump) -> StoreResult<()> {
    insert(
        conn,
        "tenants",
        "id, name, summary, created_at, settings",
        &dump.tenants,
        |b, t| {
            b.push_bind(t.id)
                .push_bind(&t.name)
                .push_bind(&t.summary)
                .push_bind(t.created_at)
                .push_bind(&t.settings);
        },
    )
    .await?;
    insert(
        conn,
        "users",
        "id, email, first_name, last_name, password_hash, created_at",
        &dump.users,
        |b, u| {
            b.push_bind(u.id)
                .push_bind(&u.email)
                .push_bind(&u.first_name)
                .push_bind(&u.last_name)
                .push_bind(u.password_hash.as_deref().unwrap_or(NO_PASSWORD))
                .push_bind(u.created_at);
        },
    )
    .await?;
    insert(
        conn,
        "memberships",
        "user_id, tenant_id, role, created_at",
        &dump.memberships,
        |b, m| {
            b.push_bind(m.user_id)
                .push_bind(m.tenant_id)
                .push_bind(m.role)
                .push_bind(m.created_at);
        },
    )
    .await?;
    insert(
        conn,
        "invitations",
        "id, user_id, tenant_id, role, first_name, last_name, link_digest, link_expires_at, \
         created_at",
        &dump.invitations,
        |b, i| {
            b.push_bind(i.id)
                .push_bind(i.user_id)
                .push_bind(i.tenant_id)
                .push_bind(i.role)
                .push_bind(&i.first_name)
                .push_bind(&i.last_name)
                .push_bind(i.link_digest)
                .push_bind(i.link_expires_at)
                .push_bind(i.created_at);
        },
    )
    .await?;
    insert(
        conn,
        "api_keys",
        "id, user_id, tenant_id, name, digest, preview, sealed, created_at, expires_at",
        &dump.api_keys,
        |b, k| {
            b.push_bind(k.id)
                .push_bind(k.user_id)
                .push_bind(k.tenant_id)
                .push_bind(&k.name)
                .push_bind(k.digest)
                .push_bind(&k.preview)
                .push_bind(&k.sealed)
                .push_bind(k.created_at)
                .push_bind(k.expires_at);
        },
    )
    .await?;
    insert(
        conn,
        "tokens",
        "digest, user_id, tenant_id, created_at, expires_at, signed_in_at, key_id",
        &dump.tokens,
        |b, t| {
            b.push_bind(t.digest)
                .push_bind(t.user_id)
                .push_bind(t.tenant_id)
                .push_bind(t.created_at)
                .push_bind(t.expires_at)
                .push_bind(t.signed_in_at)
                .push_bind(t.key_id);
        },
    )
    .await?;
    insert(
        conn,
        "web_sessions",
        "digest, user_id, created_at, expires_at",
        &dump.web_sessions,
        |b, s| {
            b.push_bind(s.digest)
                .push_bind(s.user_id)
                .push_bind(s.created_at)
                .push_bind(s.expires_at);
        },
    )
    .await?;
    insert(
        conn,
        "flows",
        &format!("id, {VERSION_COLUMNS}"),
        &dump.flows,
        push_version,
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
        |b, s| {
            push_version(b, &s.version);
            b.push_bind(&s.comment)
                .push_bind(s.snapped_at)
                .push_bind(s.is_active)
                .push_bind(s.is_default)
                .push_bind(s.activated_at)
                .push_bind(&s.activated_by_email)
                .push_bind(&s.image);
        },
    )
    .await?;
    insert(
        conn,
        "elements",
        "tenant_id, id, kind, developer_name, name_folded, document, date_created, \
         date_modified, who_created, who_modified",
        &dump.elements,
        |b, e| {
            b.push_bind(e.tenant_id)
                .push_bind(DbUuid(e.id))
                .push_bind(&e.kind)
                .push_bind(&e.developer_name)
                .push_bind(&e.name_folded)
                .push_bind(e.document.to_string())
                .push_bind(e.date_created)
                .push_bind(e.date_modified)
                .push_bind(e.who_created)
                .push_bind(e.who_modified);
        },
    )
    .await?;
    insert(
        conn,
        "flow_elements",
        "flow_id, id, kind, developer_name, document, date_created, date_modified, \
         who_created, who_modified, edit_token",
        &dump.flow_elements,
        |b, e| {
            b.push_bind(e.flow_id)
                .push_bind(DbUuid(e.id))
                .push_bind(&e.kind)
                .push_bind(&e.developer_name)
                .push_bind(e.document.to_string())
                .push_bind(e.date_created)
                .push_bind(e.date_modified)
                .push_bind(e.who_created)
                .push_bind(e.who_modified)
                .push_bind(DbUuid(e.edit_token));
        },
    )
    .await?;
    insert(
        conn,
        "flow_uses",
        "flow_id, tenant_id, element_id, imported",
        &dump.flow_uses,
        |b, u| {
            b.push_bind(u.flow_id)
                .push_bind(u.tenant_id)
                .push_bind(DbUuid(u.element_id))
                .push_bind(u.imported);
        },
    )
    .await?;
    insert(
        conn,
        "package_shares",
        "digest, tenant_id, flow_id, version_id, package, created_by, created_at, expires_at",
        &dump.package_shares,
        |b, s| {
            b.push_bind(s.digest)
                .push_bind(s.tenant_id)
                .push_bind(s.flow_id)
                .push_bind(s.version_id)
                .push_bind(&s.package)
                .push_bind(s.created_by)
                .push_bind(s.created_at)
                .push_bind(s.expires_at);
        },
    )
    .await?;
    insert(
        conn,
        "audit_events",
        "id, at, actor_id, tenant_id, action, subject",
        &dump.audit_events,
        |b, a| {
            b.push_bind(DbUuid(a.id))
                .push_bind(a.at)
                .push_bind(a.actor_id)
                .push_bind(a.tenant_id)
                .push_bind(&a.action)
                .push_bind(&a.subject);
        },
    )
    .await?;
    // Another backend's own rows are never in a dump; should one be, this store keeps its own.
    let meta: Vec<&MetaRow> = dump
        .meta
        .iter()
        .filter(|m| !OWN_META_KEYS.contains(&m.key.as_str()))
        .collect();
    insert(conn, "meta", "key, value", &meta, |b, m| {
        b.push_bind(&m.key).push_bind(&m.value);
    })
    .await?;
    Ok(())
}
