//! Tenant elements in SQLite: each kept as its JSON document, with its name and builders. The
//! writes run inside the batch transaction of `graph.rs`, so a package import or a revert
//! writes elements and flows together.

use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::super::columns::{
    document_from_json, document_json, element_in_use, element_kind, name_taken,
};
use super::{SqliteStore, internal, timestamp, uuid};
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

fn text(row: &SqliteRow, name: &str) -> StoreResult<String> {
    row.try_get(name).map_err(internal)
}

/// A builder from the joined columns `{prefix}_first`, `_last`, `_email`.
pub(super) fn who(row: &SqliteRow, id: &str, prefix: &str) -> StoreResult<Who> {
    Ok(Who {
        id: UserId(uuid(&text(row, id)?)?),
        first_name: row
            .try_get(format!("{prefix}_first").as_str())
            .map_err(internal)?,
        last_name: row
            .try_get(format!("{prefix}_last").as_str())
            .map_err(internal)?,
        email: row
            .try_get(format!("{prefix}_email").as_str())
            .map_err(internal)?,
    })
}

fn element_from_row(row: &SqliteRow) -> StoreResult<ElementRecord> {
    Ok(ElementRecord {
        id: uuid(&text(row, "id")?)?,
        kind: element_kind(&text(row, "kind")?)?,
        developer_name: text(row, "developer_name")?,
        document: document_from_json(&text(row, "document")?)?,
        date_created: timestamp(&text(row, "date_created")?)?,
        date_modified: timestamp(&text(row, "date_modified")?)?,
        who_created: who(row, "who_created", "c")?,
        who_modified: who(row, "who_modified", "m")?,
    })
}

/// Inserts or replaces one element inside the caller's transaction. With `overwrite` false,
/// an element that exists (by id) is left as it is.
pub(super) async fn write_element(
    tx: &mut SqliteConnection,
    tenant: TenantId,
    element: &NewElement,
    overwrite: bool,
) -> StoreResult<()> {
    let existing: Option<(String,)> =
        sqlx::query_as("SELECT kind FROM elements WHERE tenant_id = ? AND id = ?")
            .bind(tenant.to_string())
            .bind(element.id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(internal)?;
    let now = Timestamp::now().to_rfc3339();
    let document = document_json(&element.document)?;
    let result = match existing {
        Some((kind,)) if kind != element.kind.path() => {
            return Err(StoreError::Conflict(format!(
                "the id {} is a {} of this tenant, not a {}",
                element.id,
                element_kind(&kind)?.noun(),
                element.kind.noun()
            )));
        }
        Some(_) if !overwrite => return Ok(()),
        Some(_) => {
            sqlx::query(
                "UPDATE elements SET developer_name = ?, name_folded = ?, document = ?, \
                 date_modified = ?, who_modified = ? WHERE tenant_id = ? AND id = ?",
            )
            .bind(element.name.as_str())
            .bind(element.name.folded())
            .bind(&document)
            .bind(&now)
            .bind(element.author.to_string())
            .bind(tenant.to_string())
            .bind(element.id.to_string())
            .execute(&mut *tx)
            .await
        }
        None => {
            sqlx::query(
                "INSERT INTO elements (tenant_id, id, kind, developer_name, name_folded, \
                 document, date_created, date_modified, who_created, who_modified) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(tenant.to_string())
            .bind(element.id.to_string())
            .bind(element.kind.path())
            .bind(element.name.as_str())
            .bind(element.name.folded())
            .bind(&document)
            .bind(&now)
            .bind(&now)
            .bind(element.author.to_string())
            .bind(element.author.to_string())
            .execute(&mut *tx)
            .await
        }
    };
    match result {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Err(name_taken(element)),
        Err(error) => Err(internal(error)),
    }
}

impl SqliteStore {
    async fn elements_where(
        &self,
        condition: &str,
        binds: Vec<String>,
    ) -> StoreResult<Vec<ElementRecord>> {
        let sql = format!("{SELECT_ELEMENTS} WHERE {condition} ORDER BY e.name_folded, e.id");
        let mut query = sqlx::query(&sql);
        for value in binds {
            query = query.bind(value);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(internal)?;
        rows.iter().map(element_from_row).collect()
    }
}

#[async_trait]
impl ElementStore for SqliteStore {
    async fn elements(
        &self,
        tenant: TenantId,
        kind: Option<ElementKind>,
    ) -> StoreResult<Vec<ElementRecord>> {
        match kind {
            Some(kind) => {
                self.elements_where(
                    "e.tenant_id = ? AND e.kind = ?",
                    vec![tenant.to_string(), kind.path().to_string()],
                )
                .await
            }
            None => {
                self.elements_where("e.tenant_id = ?", vec![tenant.to_string()])
                    .await
            }
        }
    }

    async fn element(&self, tenant: TenantId, id: Uuid) -> StoreResult<Option<ElementRecord>> {
        Ok(self
            .elements_where(
                "e.tenant_id = ? AND e.id = ?",
                vec![tenant.to_string(), id.to_string()],
            )
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
        // One JSON array bound once, whatever the number of ids (SQLite limits parameters).
        let ids = serde_json::to_string(&ids.iter().map(Uuid::to_string).collect::<Vec<_>>())
            .map_err(|e| StoreError::Internal(e.into()))?;
        self.elements_where(
            "e.tenant_id = ? AND e.id IN (SELECT value FROM json_each(?))",
            vec![tenant.to_string(), ids],
        )
        .await
    }

    async fn delete_element(
        &self,
        tenant: TenantId,
        kind: ElementKind,
        id: Uuid,
    ) -> StoreResult<bool> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(internal)?;
        let users: Vec<(String, String)> = sqlx::query_as(
            "SELECT f.id, f.developer_name FROM flow_uses u JOIN flows f ON f.id = u.flow_id \
             JOIN elements e ON e.tenant_id = u.tenant_id AND e.id = u.element_id \
             WHERE u.tenant_id = ? AND u.element_id = ? AND e.kind = ? \
             ORDER BY f.name_folded, f.id",
        )
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(kind.path())
        .fetch_all(&mut *tx)
        .await
        .map_err(internal)?;
        if !users.is_empty() {
            return Err(element_in_use(kind, &users));
        }
        let result =
            sqlx::query("DELETE FROM elements WHERE tenant_id = ? AND id = ? AND kind = ?")
                .bind(tenant.to_string())
                .bind(id.to_string())
                .bind(kind.path())
                .execute(&mut *tx)
                .await
                .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(result.rows_affected() > 0)
    }
}
