//! The audit trail read back (the search, the settings page's recent activity), pruned past
//! its retention in bounded batches, and the leak reports that revoke keys.

use async_trait::async_trait;
use sqlx::QueryBuilder;

use super::transfer::insert_rows;
use super::{Db, Store};
use crate::domain::{Digest, TenantId, UserId, new_id};
use crate::store::transfer::{AuditRow, LeakRow};
use crate::store::{
    AuditEvent, AuditOrder, AuditPage, AuditQuery, AuditRecord, AuditStore, Change, LeakReport,
    LeakedKey, StoreResult,
};

/// Adds the query's conditions (`WHERE …`) to `builder`.
fn push_filters<'a>(builder: &mut QueryBuilder<'a, Db>, query: &'a AuditQuery) {
    builder.push(" WHERE 1 = 1");
    match (query.tenant, query.actor) {
        (Some(tenant), Some(actor)) => {
            builder
                .push(" AND (e.tenant_id = ")
                .push_bind(tenant)
                .push(" OR e.actor_id = ")
                .push_bind(actor)
                .push(")");
        }
        (Some(tenant), None) => {
            builder.push(" AND e.tenant_id = ").push_bind(tenant);
        }
        (None, Some(actor)) => {
            builder.push(" AND e.actor_id = ").push_bind(actor);
        }
        (None, None) => {}
    }
    if !query.types.is_empty() {
        builder.push(" AND e.action IN (");
        let mut list = builder.separated(", ");
        for kind in &query.types {
            list.push_bind(kind.as_str());
        }
        builder.push(")");
    }
    if let Some(prefix) = &query.type_prefix {
        // The callers' prefixes are letters and dots: nothing in them for LIKE to read as a
        // pattern.
        builder
            .push(" AND e.action LIKE ")
            .push_bind(format!("{prefix}%"));
    }
    if !query.users.is_empty() {
        builder.push(" AND e.actor_id IN (");
        let mut list = builder.separated(", ");
        for user in &query.users {
            list.push_bind(*user);
        }
        builder.push(")");
    }
    if let Some(from) = query.from {
        builder.push(" AND e.at >= ").push_bind(from);
    }
    if let Some(to) = query.to {
        builder.push(" AND e.at < ").push_bind(to);
    }
}

#[async_trait]
impl AuditStore for Store {
    async fn search_audit(&self, query: &AuditQuery) -> StoreResult<AuditPage> {
        let mut count: QueryBuilder<'_, Db> =
            QueryBuilder::new("SELECT COUNT(*) FROM audit_events e");
        push_filters(&mut count, query);
        let (total,): (i64,) = count.build_query_as().fetch_one(&self.pool).await?;

        let mut select: QueryBuilder<'_, Db> = QueryBuilder::new(
            "SELECT e.id, e.at, e.actor_id, e.tenant_id, e.action, e.subject, e.address, \
             e.request_id, e.data, u.email, u.first_name, u.last_name \
             FROM audit_events e LEFT JOIN users u ON u.id = e.actor_id",
        );
        push_filters(&mut select, query);
        let direction = if query.descending { "DESC" } else { "ASC" };
        // Text by code point on both backends; an event with no user sorts as an empty email.
        let column = match query.order {
            AuditOrder::OccurredAt => "e.at",
            AuditOrder::Type => concat!("e.action", code_point_order!()),
            AuditOrder::User => concat!("COALESCE(u.email, '')", code_point_order!()),
        };
        // Then by time and id, so a page boundary never splits or repeats an event.
        select.push(format!(
            " ORDER BY {column} {direction}, e.at {direction}, e.id {direction} LIMIT "
        ));
        select.push_bind(i64::from(query.limit));
        select.push(" OFFSET ");
        select.push_bind(i64::try_from(query.offset).unwrap_or(i64::MAX));
        let events: Vec<AuditRecord> = select.build_query_as().fetch_all(&self.pool).await?;
        Ok(AuditPage {
            events,
            total: u64::try_from(total).unwrap_or_default(),
        })
    }

    async fn prune_audit(&self, before: crate::domain::Timestamp, limit: u32) -> StoreResult<u64> {
        let result = sqlx::query(
            "DELETE FROM audit_events WHERE id IN \
             (SELECT id FROM audit_events WHERE at < $1 ORDER BY at LIMIT $2)",
        )
        .bind(before)
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    async fn report_leaks(
        &self,
        digests: &[Digest],
        report: &LeakReport,
    ) -> StoreResult<Vec<LeakedKey>> {
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        // One statement for every value: the delete decides which report revokes a key.
        let mut delete: QueryBuilder<'_, Db> =
            QueryBuilder::new("DELETE FROM api_keys WHERE digest IN (");
        let mut list = delete.separated(", ");
        for digest in digests {
            list.push_bind(*digest);
        }
        delete.push(") RETURNING user_id, tenant_id, name, preview");
        let revoked: Vec<(UserId, TenantId, String, String)> =
            delete.build_query_as().fetch_all(&mut *tx).await?;
        let mut leaked = Vec::with_capacity(revoked.len());
        let mut tenants: Vec<TenantId> = Vec::new();
        for (user_id, tenant_id, key_name, preview) in revoked {
            let notice = LeakRow {
                id: new_id(),
                at: report.at,
                user_id,
                tenant_id,
                key_name: key_name.clone(),
                preview: preview.clone(),
                url: report.url.clone(),
                address: report.address.clone(),
            };
            insert_rows(&mut tx, &[&notice]).await?;
            let event = AuditRow::from(AuditEvent {
                actor: Some(user_id),
                tenant: Some(tenant_id),
                action: "key.reported_leaked",
                subject: Some(key_name.clone()),
                address: report.address.clone(),
                request_id: report.request_id.clone(),
                data: Some(serde_json::json!({
                    "key": key_name,
                    "preview": preview,
                    "url": report.url,
                    "address": report.address,
                })),
                at: Some(report.at),
            });
            insert_rows(&mut tx, &[&event]).await?;
            if !tenants.contains(&tenant_id) {
                tenants.push(tenant_id);
            }
            leaked.push(LeakedKey {
                user_id,
                tenant_id,
                key_name,
                preview,
                url: report.url.clone(),
                at: report.at,
            });
        }
        // Every instance drops its cached grants of these tenants' keys (and the key-bound
        // tokens went with the keys, by their foreign key).
        for tenant in tenants {
            self.announce(&mut tx, Change::Keys { tenant }).await?;
        }
        tx.commit().await?;
        Ok(leaked)
    }

    async fn leak_reports_of(&self, user: UserId) -> StoreResult<Vec<LeakedKey>> {
        Ok(sqlx::query_as(
            "SELECT user_id, tenant_id, key_name, preview, url, at FROM leak_reports \
             WHERE user_id = $1 ORDER BY at DESC, id DESC",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?)
    }
}
