//! Tenant elements in PostgreSQL: each kept as its JSON document (text), with its name and
//! builders. The writes run inside the batch transaction of `graph.rs`, so a package import
//! or a revert writes elements and flows together. The database holds the rules under races:
//! the UNIQUE constraint on (tenant, kind, folded name), and the `flow_uses` foreign key that
//! refuses to delete an element a flow uses. Element writes that change no flow are not
//! announced: no instance caches elements.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use super::super::columns::{
    document_from_json, document_json, element_in_use, element_kind, name_taken,
};
use super::{PgStore, internal};
use crate::domain::element::ElementKind;
use crate::domain::{TenantId, Timestamp, UserId};
use crate::store::{ElementRecord, ElementStore, NewElement, StoreError, StoreResult, Who};

/// An element's columns with its builders joined in (LEFT: an element outlives its author).
const SELECT_ELEMENTS: &str = "SELECT e.id, e.kind, e.developer_name, e.document, \
     e.date_created, e.date_modified, \
     e.who_created, c.first_name AS c_first, c.last_name AS c_last, c.email AS c_email, \
     e.who_modified, m.first_name AS m_first, m.last_name AS m_last, m.email AS m_email \
     FROM elements e LEFT JOIN users c ON c.id = e.who_created \
     LEFT JOIN users m ON m.id = e.who_modified";

/// Elements in name order: the folded name in code point order (as SQLite's binary
/// collation, whatever the database's locale), then the id.
const BY_NAME: &str = "ORDER BY e.name_folded COLLATE \"C\", e.id";

pub(super) fn column<T>(row: &PgRow, name: &str) -> StoreResult<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(name).map_err(internal)
}

pub(super) fn time(row: &PgRow, name: &str) -> StoreResult<Timestamp> {
    Ok(Timestamp::from_offset(column::<OffsetDateTime>(row, name)?))
}

/// A builder from the joined columns `{prefix}_first`, `_last`, `_email`.
pub(super) fn who(row: &PgRow, id: &str, prefix: &str) -> StoreResult<Who> {
    Ok(Who {
        id: UserId(column(row, id)?),
        first_name: column(row, &format!("{prefix}_first"))?,
        last_name: column(row, &format!("{prefix}_last"))?,
        email: column(row, &format!("{prefix}_email"))?,
    })
}

fn element_from_row(row: &PgRow) -> StoreResult<ElementRecord> {
    Ok(ElementRecord {
        id: column(row, "id")?,
        kind: element_kind(&column::<String>(row, "kind")?)?,
        developer_name: column(row, "developer_name")?,
        document: document_from_json(&column::<String>(row, "document")?)?,
        date_created: time(row, "date_created")?,
        date_modified: time(row, "date_modified")?,
        who_created: who(row, "who_created", "c")?,
        who_modified: who(row, "who_modified", "m")?,
    })
}

/// The refusal of an id that is an element of another kind.
fn other_kind(element: &NewElement, kind: &str) -> StoreResult<StoreError> {
    Ok(StoreError::Conflict(format!(
        "the id {} is a {} of this tenant, not a {}",
        element.id,
        element_kind(kind)?.noun(),
        element.kind.noun()
    )))
}

/// Inserts or replaces one element inside the caller's transaction. With `overwrite` false,
/// an element that exists (by id) is left as it is. The existing row is locked while it is
/// decided on, so a concurrent write of the same id waits for this one.
pub(super) async fn write_element(
    tx: &mut PgConnection,
    tenant: TenantId,
    element: &NewElement,
    overwrite: bool,
) -> StoreResult<()> {
    let existing: Option<(String,)> =
        sqlx::query_as("SELECT kind FROM elements WHERE tenant_id = $1 AND id = $2 FOR UPDATE")
            .bind(tenant.0)
            .bind(element.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(internal)?;
    let now = Timestamp::now().as_offset();
    let document = document_json(&element.document)?;
    let result = match existing {
        Some((kind,)) if kind != element.kind.path() => return Err(other_kind(element, &kind)?),
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
            .bind(element.author.0)
            .bind(tenant.0)
            .bind(element.id)
            .execute(&mut *tx)
            .await
        }
        None => {
            sqlx::query(
                "INSERT INTO elements (tenant_id, id, kind, developer_name, name_folded, \
                 document, date_created, date_modified, who_created, who_modified) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $8)",
            )
            .bind(tenant.0)
            .bind(element.id)
            .bind(element.kind.path())
            .bind(element.name.as_str())
            .bind(element.name.folded())
            .bind(&document)
            .bind(now)
            .bind(element.author.0)
            .execute(&mut *tx)
            .await
        }
    };
    match result {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            // Two writes of one new id at the same moment meet at the primary key; any other
            // unique violation is the name.
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
        Err(error) => Err(internal(error)),
    }
}

/// The flows of the tenant that use the element of this kind, as (id, name), in name order.
async fn users_of(
    conn: &mut PgConnection,
    tenant: TenantId,
    kind: ElementKind,
    id: Uuid,
) -> StoreResult<Vec<(String, String)>> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT f.id, f.developer_name FROM flow_uses u JOIN flows f ON f.id = u.flow_id \
         JOIN elements e ON e.tenant_id = u.tenant_id AND e.id = u.element_id \
         WHERE u.tenant_id = $1 AND u.element_id = $2 AND e.kind = $3 \
         ORDER BY f.name_folded COLLATE \"C\", f.id",
    )
    .bind(tenant.0)
    .bind(id)
    .bind(kind.path())
    .fetch_all(conn)
    .await
    .map_err(internal)?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| (id.to_string(), name))
        .collect())
}

impl PgStore {
    async fn elements_where(
        &self,
        condition: &str,
        bind: impl FnOnce(
            sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
        )
            -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> StoreResult<Vec<ElementRecord>> {
        let sql = format!("{SELECT_ELEMENTS} WHERE {condition} {BY_NAME}");
        let rows = bind(sqlx::query(&sql))
            .fetch_all(&self.pool)
            .await
            .map_err(internal)?;
        rows.iter().map(element_from_row).collect()
    }
}

#[async_trait]
impl ElementStore for PgStore {
    async fn elements(
        &self,
        tenant: TenantId,
        kind: Option<ElementKind>,
    ) -> StoreResult<Vec<ElementRecord>> {
        match kind {
            Some(kind) => {
                self.elements_where("e.tenant_id = $1 AND e.kind = $2", |q| {
                    q.bind(tenant.0).bind(kind.path())
                })
                .await
            }
            None => {
                self.elements_where("e.tenant_id = $1", |q| q.bind(tenant.0))
                    .await
            }
        }
    }

    async fn element(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<ElementRecord>> {
        Ok(self
            .elements_where("e.tenant_id = $1 AND e.id = $2", |q| {
                q.bind(tenant.0).bind(id)
            })
            .await?
            .pop())
    }

    async fn elements_by_ids(
        &self,
        tenant: TenantId,
        ids: &[Uuid],
    ) -> StoreResult<Vec<ElementRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // One array bound once, whatever the number of ids.
        let ids = ids.to_vec();
        self.elements_where("e.tenant_id = $1 AND e.id = ANY($2)", |q| {
            q.bind(tenant.0).bind(ids)
        })
        .await
    }

    async fn delete_element(
        &self,
        tenant: TenantId,
        kind: ElementKind,
        id: Uuid,
    ) -> StoreResult<bool> {
        // The users are read first for the message; the foreign key is what refuses the
        // delete when a flow starts using the element meanwhile.
        let mut tx = self.pool.begin().await.map_err(internal)?;
        let users = users_of(&mut tx, tenant, kind, id).await?;
        if !users.is_empty() {
            return Err(element_in_use(kind, &users));
        }
        let result =
            sqlx::query("DELETE FROM elements WHERE tenant_id = $1 AND id = $2 AND kind = $3")
                .bind(tenant.0)
                .bind(id)
                .bind(kind.path())
                .execute(&mut *tx)
                .await;
        let deleted = match result {
            Ok(result) => result.rows_affected() > 0,
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                drop(tx);
                let mut conn = self.pool.acquire().await.map_err(internal)?;
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
            Err(error) => return Err(internal(error)),
        };
        tx.commit().await.map_err(internal)?;
        Ok(deleted)
    }
}
