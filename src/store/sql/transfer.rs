//! The whole store read and written at once (`keyflow copy`): every table read into a [`Dump`]
//! inside one transaction, and a dump written into an empty store inside one, each table after
//! those it refers to, in batches of rows bound through `store::codec`. What the backends do
//! differently is theirs: the transactions (`Store::begin_export`, `Store::begin_import`) and
//! the `meta` rows that are their own (`OWN_META_KEYS`, never copied). Each table's columns are
//! declared once, here ([`Table`]), for the other writes that insert a plain row too.

use async_trait::async_trait;
use sqlx::QueryBuilder;

use super::{Conn, Db, OWN_META_KEYS, Store};
use crate::domain::Timestamp;
use crate::store::codec::DbUuid;
use crate::store::columns::NO_PASSWORD;
use crate::store::transfer::{
    ApiKeyRow, AuditRow, BATCH, Dump, ElementRow, FlowElementRow, FlowRow, FlowUseRow,
    InvitationRow, LeakRow, MembershipRow, MetaRow, PreviousKeyRow, SnapshotRow, TABLES, Transfer,
    not_empty,
};
use crate::store::{
    NewSession, NewShare, NewToken, RunState, StoreError, StoreResult, Tenant, User,
};

type Separated<'qb, 'args> = sqlx::query_builder::Separated<'qb, 'args, Db, &'static str>;

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

/// A table of a dump: its rows read by column name, and written back in the same columns. (The
/// users and tenants are read by these columns too, and the store's writes that add a plain
/// row insert it so: [`insert_rows`], [`sweep_and_insert`].)
pub(super) trait Table:
    for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin
{
    const NAME: &'static str;
    /// The columns, in the order [`Table::push`] binds them.
    const COLUMNS: &'static str;
    /// What a read selects: the columns, each named as its field.
    const SELECT: &'static str = Self::COLUMNS;
    /// The order an export lists the rows in: oldest first, then by key. (PostgreSQL's uuid
    /// order is byte order: the same as SQLite's order of their lower-case text.)
    const ORDER: &'static str;
    fn push<'a>(&'a self, b: &mut Separated<'_, 'a>);
    /// Whether the row is read into a dump and written from one.
    fn copied(&self) -> bool {
        true
    }
}

/// Implements [`Table`] for a row type whose fields are the table's columns, bound from the
/// field of the same name; a column may say how it is selected (`as`, an SQL expression read
/// as the field) and how it is bound (`=`, an expression of the row, named by `|$row|`); and
/// the rows may be `copied if` a condition holds.
macro_rules! table {
    (@bind $row:ident $column:ident) => { &$row.$column };
    (@bind $row:ident $column:ident $bind:expr) => { $bind };
    ($type:ty, $name:literal by $order:literal, |$row:ident|
     $first:ident $(as $first_select:literal)? $(= $first_bind:expr)?
     $(, $column:ident $(as $select:literal)? $(= $bind:expr)?)*
     $(; copied if $copied:expr)?) => {
        impl Table for $type {
            const NAME: &'static str = $name;
            const COLUMNS: &'static str =
                concat!(stringify!($first) $(, ", ", stringify!($column))*);
            const SELECT: &'static str = concat!(
                $($first_select, " AS ",)? stringify!($first)
                $(, ", ", $($select, " AS ",)? stringify!($column))*
            );
            const ORDER: &'static str = $order;

            fn push<'a>(&'a self, b: &mut Separated<'_, 'a>) {
                let $row = self;
                b.push_bind(table!(@bind $row $first $($first_bind)?));
                $(b.push_bind(table!(@bind $row $column $($bind)?));)*
            }
            $(
                fn copied(&self) -> bool {
                    let $row = self;
                    $copied
                }
            )?
        }
    };
}

table!(Tenant, "tenants" by "created_at, id", |t| id, name, summary, created_at, settings,
    max_key_lifetime_seconds, key_rate_per_second, key_rate_burst);
// `users.password_hash` is '' for an account with no password yet.
table!(User, "users" by "created_at, id", |u| id, email, first_name, last_name,
    password_hash as "NULLIF(password_hash, '')"
        = u.password_hash.as_deref().unwrap_or(NO_PASSWORD),
    created_at);
table!(MembershipRow, "memberships" by "created_at, user_id, tenant_id", |m|
    user_id, tenant_id, role, created_at);
table!(InvitationRow, "invitations" by "created_at, id", |i| id, user_id, tenant_id, role,
    first_name, last_name, link_digest, link_expires_at, created_at);
table!(ApiKeyRow, "api_keys" by "created_at, id", |k| id, user_id, tenant_id, name, digest,
    preview, sealed, created_at, expires_at, rotated_at, expiry_recorded, scopes, allowed_networks,
    last_used_at, last_used_address, rate_per_second, rate_burst);
table!(PreviousKeyRow, "api_key_previous" by "valid_until, digest", |p| digest, key_id, preview,
    valid_until);
// SQLite's `signed_in_at` was added by migration 0004, which filled it; a row without one
// means what it meant then: the token's own creation.
table!(NewToken, "tokens" by "created_at, digest", |t| digest, user_id, tenant_id, created_at,
    expires_at, signed_in_at as "COALESCE(signed_in_at, created_at)", key_id);
table!(NewSession, "web_sessions" by "created_at, digest", |s|
    digest, user_id, created_at, expires_at);
table!(FlowRow, "flows" by "date_created, id", |f| id, version_id, tenant_id,
    editing_token = DbUuid(f.editing_token), developer_name, name_folded, developer_summary,
    start_map_element_id, settings = f.settings.to_string(), date_created, date_modified,
    who_created, who_modified, who_owner);
table!(ElementRow, "elements" by "date_created, tenant_id, id", |e| tenant_id,
    id = DbUuid(e.id), kind, developer_name, name_folded, document = e.document.to_string(),
    date_created, date_modified, who_created, who_modified);
table!(FlowElementRow, "flow_elements" by "date_created, flow_id, id", |e| flow_id,
    id = DbUuid(e.id), kind, developer_name, document = e.document.to_string(), date_created,
    date_modified, who_created, who_modified, edit_token = DbUuid(e.edit_token));
table!(FlowUseRow, "flow_uses" by "flow_id, element_id", |u| flow_id, tenant_id,
    element_id = DbUuid(u.element_id), imported);
table!(NewShare, "package_shares" by "created_at, digest", |s| digest, tenant_id, flow_id,
    version_id, package, created_by, created_at, expires_at);
table!(RunState, "flow_states" by "created_at, id", |s| id, tenant_id, flow_id, version_id,
    state_token, current_element, status, state_values, history, created_by, created_at,
    updated_at, expires_at);
table!(AuditRow, "audit_events" by "at, id", |a| id = DbUuid(a.id), at, actor_id, tenant_id,
    action, subject, address, request_id, data);
table!(LeakRow, "leak_reports" by "at, id", |l| id = DbUuid(l.id), at, user_id, tenant_id,
    key_name, preview, url, address);
// A backend's own `meta` rows are never copied; should another backend's be in a dump, this
// store keeps its own.
table!(MetaRow, "meta" by "key", |m| key, value;
    copied if !OWN_META_KEYS.contains(&m.key.as_str()));

/// A snapshot's columns after its flow's id: its frozen version's, as [`FlowRow`] binds them,
/// then its own.
macro_rules! snapshot_columns {
    () => {
        concat!(
            stored_version!(),
            ", comment, snapped_at, is_active, is_default, activated_at, activated_by_email, image"
        )
    };
}

impl Table for SnapshotRow {
    const NAME: &'static str = "flow_snapshots";
    const COLUMNS: &'static str = concat!("flow_id, ", snapshot_columns!());
    const SELECT: &'static str = concat!("flow_id AS id, ", snapshot_columns!());
    const ORDER: &'static str = "snapped_at, flow_id, version_id";

    fn push<'a>(&'a self, b: &mut Separated<'_, 'a>) {
        self.version.push(b);
        b.push_bind(&self.comment)
            .push_bind(self.snapped_at)
            .push_bind(self.is_active)
            .push_bind(self.is_default)
            .push_bind(self.activated_at)
            .push_bind(&self.activated_by_email)
            .push_bind(&self.image);
    }
}

/// Every row of the table that is copied, in its order.
async fn read<T: Table>(conn: &mut Conn) -> StoreResult<Vec<T>> {
    let (select, table, order) = (T::SELECT, T::NAME, T::ORDER);
    let sql = format!("SELECT {select} FROM {table} ORDER BY {order}");
    let mut rows: Vec<T> = sqlx::query_as(&sql).fetch_all(conn).await?;
    rows.retain(T::copied);
    Ok(rows)
}

/// Inserts the rows of a dump's table that are copied, a batch at a time.
async fn write<T: Table>(conn: &mut Conn, rows: &[T]) -> StoreResult<()> {
    let rows: Vec<&T> = rows.iter().filter(|row| row.copied()).collect();
    insert_rows(conn, &rows).await.map_err(|error| {
        StoreError::Internal(anyhow::Error::new(error).context(format!("writing {}", T::NAME)))
    })
}

/// Inserts `rows` a batch at a time: a dump's table, or the one row that a store's write adds
/// (a tenant, a user, a key, a sign-in, an audit event), in the same statement.
pub(super) async fn insert_rows<T: Table>(conn: &mut Conn, rows: &[&T]) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(BATCH) {
        let mut builder: QueryBuilder<'_, Db> =
            QueryBuilder::new(format!("INSERT INTO {} ({}) ", T::NAME, T::COLUMNS));
        builder.push_values(chunk.iter().copied(), |mut b, row| row.push(&mut b));
        builder.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Stores a sign-in's token or session, or a share, in its own transaction, first sweeping the
/// table's expired rows by `now`: they are useless, and sweeping them at each insert keeps the
/// table small.
pub(super) async fn sweep_and_insert<T: Table>(
    store: &Store,
    row: &T,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let mut tx = store.pool.begin().await?;
    let sweep = format!("DELETE FROM {} WHERE expires_at < $1", T::NAME);
    sqlx::query(&sweep).bind(now).execute(&mut *tx).await?;
    insert_rows(&mut tx, &[row]).await?;
    tx.commit().await
}

/// Passes the dump's fields, in [`TABLES`] order, to `$then!`.
macro_rules! each_table {
    ($then:ident) => {
        $then! {
            tenants, users, memberships, invitations, api_keys, api_key_previous, tokens,
            web_sessions, flows, flow_snapshots, elements, flow_elements, flow_uses,
            package_shares, flow_states, audit_events, leak_reports, meta
        }
    };
}

/// Reads every table inside the caller's transaction.
async fn read_all(conn: &mut Conn) -> StoreResult<Dump> {
    macro_rules! read_each {
        ($($table:ident),*) => {
            Dump { $($table: read(conn).await?),* }
        };
    }
    Ok(each_table!(read_each))
}

/// Writes every table of `dump` inside the caller's transaction, each after those it refers to.
async fn write_all(conn: &mut Conn, dump: &Dump) -> StoreResult<()> {
    macro_rules! write_each {
        ($($table:ident),*) => {
            $(write(conn, &dump.$table).await?;)*
        };
    }
    each_table!(write_each);
    Ok(())
}

/// The tables that hold rows (the backend's own `meta` rows aside).
async fn non_empty_tables(conn: &mut Conn) -> StoreResult<Vec<&'static str>> {
    let mut found = Vec::new();
    for table in TABLES {
        let exists = if table == "meta" {
            !read::<MetaRow>(conn).await?.is_empty()
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
