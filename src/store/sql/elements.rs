//! Tenant elements: each kept as its JSON document (text), with its name and builders. The
//! writes run inside the batch transaction of `graph.rs`, so a package import or a revert
//! writes elements and flows together. The database holds the rules under races: the UNIQUE
//! constraint on (tenant, kind, folded name), and the `flow_uses` foreign key that refuses to
//! delete an element a flow uses. Element writes that change no flow are not announced: no
//! instance caches elements.

use async_trait::async_trait;
use uuid::Uuid;

use super::{Conn, Store};
use crate::domain::element::ElementKind;
use crate::domain::{FlowId, TenantId, Timestamp, UserId};
use crate::store::codec::DbUuid;
use crate::store::columns::{element_in_use, from_json, name_taken, to_json};
use crate::store::sql_errors::{is_foreign_key_violation, vanished};
use crate::store::{
    Change, ElementBatch, ElementRecord, ElementStore, FlowStore, NewElement, StoreError,
    StoreResult, Who,
};

/// An element of `$table` (`elements` or `flow_elements`, as `e`) with its builders joined in
/// (LEFT: an element outlives its author), as an [`ElementRow`].
macro_rules! select_elements {
    ($table:literal) => {
        concat!(
            "SELECT e.id, e.kind, e.developer_name, e.document, e.date_created, \
             e.date_modified, \
             e.who_created, c.first_name AS c_first, c.last_name AS c_last, c.email AS c_email, \
             e.who_modified, m.first_name AS m_first, m.last_name AS m_last, m.email AS m_email \
             FROM ",
            $table,
            " e LEFT JOIN users c ON c.id = e.who_created \
             LEFT JOIN users m ON m.id = e.who_modified"
        )
    };
}

/// Elements in name order: the folded name in code point order, then the id.
macro_rules! elements_by_name {
    () => {
        concat!(" ORDER BY e.name_folded", code_point_order!(), ", e.id")
    };
}

/// The builders who created and last modified a row, joined in as `c_…` and `m_…`; a
/// builder's columns are NULL once their account is gone.
#[derive(sqlx::FromRow)]
pub(super) struct Builders {
    who_created: UserId,
    c_first: Option<String>,
    c_last: Option<String>,
    c_email: Option<String>,
    who_modified: UserId,
    m_first: Option<String>,
    m_last: Option<String>,
    m_email: Option<String>,
}

impl Builders {
    /// The creator and the last modifier.
    pub(super) fn into_who(self) -> (Who, Who) {
        (
            who(self.who_created, self.c_first, self.c_last, self.c_email),
            who(self.who_modified, self.m_first, self.m_last, self.m_email),
        )
    }
}

/// A builder as the joined columns name them.
pub(super) fn who(
    id: UserId,
    first: Option<String>,
    last: Option<String>,
    email: Option<String>,
) -> Who {
    Who {
        id,
        first_name: first,
        last_name: last,
        email,
    }
}

/// A tenant element (`K` = [`ElementKind`]) or a flow element (`K` = [`FlowElementKind`]).
#[derive(sqlx::FromRow)]
pub(super) struct ElementRow<K> {
    id: DbUuid,
    kind: K,
    developer_name: String,
    document: String,
    date_created: Timestamp,
    date_modified: Timestamp,
    #[sqlx(flatten)]
    builders: Builders,
}

impl<K> TryFrom<ElementRow<K>> for ElementRecord<K> {
    type Error = StoreError;

    fn try_from(row: ElementRow<K>) -> StoreResult<Self> {
        let (who_created, who_modified) = row.builders.into_who();
        Ok(Self {
            id: row.id.0,
            kind: row.kind,
            developer_name: row.developer_name,
            document: from_json(&row.document, "element document")?,
            date_created: row.date_created,
            date_modified: row.date_modified,
            who_created,
            who_modified,
        })
    }
}

fn records(rows: Vec<ElementRow<ElementKind>>) -> StoreResult<Vec<ElementRecord>> {
    rows.into_iter().map(ElementRecord::try_from).collect()
}

/// Inserts or replaces one element inside the caller's transaction. With `overwrite` false,
/// an element that exists (by id) is left as it is. The existing row is locked while it is
/// decided on, so a concurrent write of the same id waits for this one.
pub(super) async fn write_element(
    tx: &mut Conn,
    tenant: TenantId,
    element: &NewElement,
    overwrite: bool,
) -> StoreResult<()> {
    let existing: Option<(ElementKind,)> = sqlx::query_as(concat!(
        "SELECT kind FROM elements WHERE tenant_id = $1 AND id = $2",
        row_lock!(update)
    ))
    .bind(tenant)
    .bind(DbUuid(element.id))
    .fetch_optional(&mut *tx)
    .await?;
    let now = Timestamp::now();
    let document = to_json(&element.document, "element document")?;
    let result = match existing {
        Some((kind,)) if kind != element.kind => {
            return Err(StoreError::Conflict(format!(
                "the id {} is a {} of this tenant, not a {}",
                element.id,
                kind.noun(),
                element.kind.noun()
            )));
        }
        Some(_) if !overwrite => return Ok(()),
        Some(_) => {
            sqlx::query(
                "UPDATE elements SET developer_name = $1, name_folded = $2, document = $3, \
                 date_modified = $4, who_modified = $5 WHERE tenant_id = $6 AND id = $7",
            )
            .bind(element.name.as_str())
            .bind(element.name.folded())
            .bind(&document)
            .bind(now)
            .bind(element.author)
            .bind(tenant)
            .bind(DbUuid(element.id))
            .execute(&mut *tx)
            .await
        }
        None => {
            sqlx::query(
                "INSERT INTO elements (tenant_id, id, kind, developer_name, name_folded, \
                 document, date_created, date_modified, who_created, who_modified) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $8)",
            )
            .bind(tenant)
            .bind(DbUuid(element.id))
            .bind(element.kind)
            .bind(element.name.as_str())
            .bind(element.name.folded())
            .bind(&document)
            .bind(now)
            .bind(element.author)
            .execute(&mut *tx)
            .await
        }
    };
    match result {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            // Two writes of one new id at the same moment meet at the primary key (on
            // PostgreSQL; SQLite's write lock orders them); any other unique violation is the
            // name.
            if db.constraint() == Some("elements_pkey") {
                Err(StoreError::Conflict(format!(
                    "the element {} was written by another request at the same moment: \
                     try again",
                    element.id
                )))
            } else {
                Err(name_taken(element))
            }
        }
        Err(error) => Err(error.into()),
    }
}

/// The flows of the tenant that use the element of this kind, as (id, name), in name order.
async fn users_of(
    conn: &mut Conn,
    tenant: TenantId,
    kind: ElementKind,
    id: Uuid,
) -> StoreResult<Vec<(FlowId, String)>> {
    Ok(sqlx::query_as(concat!(
        "SELECT f.id, f.developer_name FROM flow_uses u JOIN flows f ON f.id = u.flow_id \
         JOIN elements e ON e.tenant_id = u.tenant_id AND e.id = u.element_id \
         WHERE u.tenant_id = $1 AND u.element_id = $2 AND e.kind = $3 \
         ORDER BY f.name_folded",
        code_point_order!(),
        ", f.id"
    ))
    .bind(tenant)
    .bind(DbUuid(id))
    .bind(kind)
    .fetch_all(conn)
    .await?)
}

#[async_trait]
impl ElementStore for Store {
    async fn elements(
        &self,
        tenant: TenantId,
        kind: Option<ElementKind>,
    ) -> StoreResult<Vec<ElementRecord>> {
        let rows = match kind {
            Some(kind) => sqlx::query_as(concat!(
                select_elements!("elements"),
                " WHERE e.tenant_id = $1 AND e.kind = $2",
                elements_by_name!()
            ))
            .bind(tenant)
            .bind(kind),
            None => sqlx::query_as(concat!(
                select_elements!("elements"),
                " WHERE e.tenant_id = $1",
                elements_by_name!()
            ))
            .bind(tenant),
        }
        .fetch_all(&self.pool)
        .await?;
        records(rows)
    }

    async fn element(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<ElementRecord>> {
        let row: Option<ElementRow<ElementKind>> = sqlx::query_as(concat!(
            select_elements!("elements"),
            " WHERE e.tenant_id = $1 AND e.id = $2"
        ))
        .bind(tenant)
        .bind(DbUuid(id))
        .fetch_optional(&self.pool)
        .await?;
        row.map(ElementRecord::try_from).transpose()
    }

    async fn elements_by_ids(
        &self,
        tenant: TenantId,
        ids: &[Uuid],
    ) -> StoreResult<Vec<ElementRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // One JSON array bound once, whatever the number of ids (SQLite limits parameters).
        let ids = serde_json::to_string(&ids.iter().map(Uuid::to_string).collect::<Vec<_>>())
            .map_err(|e| StoreError::Internal(e.into()))?;
        let rows = sqlx::query_as(concat!(
            select_elements!("elements"),
            " WHERE e.tenant_id = $1 AND e.id IN (",
            uuids_in_json!("$2"),
            ")",
            elements_by_name!()
        ))
        .bind(tenant)
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        records(rows)
    }

    async fn save_element(
        &self,
        tenant: TenantId,
        element: NewElement,
    ) -> StoreResult<ElementRecord> {
        let id = element.id;
        let batch = ElementBatch {
            elements: vec![element],
            overwrite_existing: true,
            flows: Vec::new(),
        };
        self.apply_batch(tenant, batch).await?;
        self.element(tenant, id)
            .await?
            .ok_or_else(|| vanished("a saved element"))
    }

    async fn delete_element(
        &self,
        tenant: TenantId,
        kind: ElementKind,
        id: Uuid,
    ) -> StoreResult<bool> {
        // The users are read first for the message; the foreign key is what refuses the
        // delete when a flow starts using the element meanwhile (on PostgreSQL: SQLite's
        // write lock, taken at once, keeps other writers out until this commits).
        let mut tx = self.begin_write().await?;
        let users = users_of(&mut tx, tenant, kind, id).await?;
        if !users.is_empty() {
            return Err(element_in_use(kind, &users));
        }
        let result =
            sqlx::query("DELETE FROM elements WHERE tenant_id = $1 AND id = $2 AND kind = $3")
                .bind(tenant)
                .bind(DbUuid(id))
                .bind(kind)
                .execute(&mut *tx)
                .await;
        let deleted = match result {
            Ok(result) => result.rows_affected() > 0,
            Err(error) if is_foreign_key_violation(&error) => {
                drop(tx);
                let mut conn = self.pool.acquire().await?;
                let users = users_of(&mut conn, tenant, kind, id).await?;
                return Err(if users.is_empty() {
                    StoreError::Conflict(format!(
                        "this {} was put to use by a flow at the same moment: try again",
                        kind.noun()
                    ))
                } else {
                    element_in_use(kind, &users)
                });
            }
            Err(error) => return Err(error.into()),
        };
        if deleted {
            self.announce(&mut tx, Change::Flows { tenant }).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }
}
