//! The states of running flows. An invoke's write is one conditional `UPDATE … WHERE
//! state_token = $expected`: the database decides which of two racing invokes wins (rows
//! affected), so no lock is held between the engine's read and its write. No instance caches
//! a state, so nothing here is announced. Expired states are deleted in bounded batches
//! (`prune_states`), as the audit trail's old events are.

use async_trait::async_trait;
use sqlx::QueryBuilder;

use super::transfer::{Table, insert_rows};
use super::{Db, Store};
use crate::domain::{StateId, StateToken, TenantId, Timestamp};
use crate::store::sql_errors::missing_or_internal;
use crate::store::{RunState, RunStateStore, StateAdvance, StateQuery, StoreResult};

/// Adds the tenant and the query's conditions (`WHERE …`) to `builder`.
fn push_filters<'a>(builder: &mut QueryBuilder<'a, Db>, tenant: TenantId, query: &'a StateQuery) {
    builder.push(" WHERE tenant_id = ").push_bind(tenant);
    if let Some(flow) = query.flow {
        builder.push(" AND flow_id = ").push_bind(flow);
    }
    if let Some(version) = query.version {
        builder.push(" AND version_id = ").push_bind(version);
    }
    if let Some(status) = &query.status {
        builder.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(from) = query.from {
        builder.push(" AND created_at >= ").push_bind(from);
    }
    if let Some(to) = query.to {
        builder.push(" AND created_at < ").push_bind(to);
    }
}

#[async_trait]
impl RunStateStore for Store {
    async fn insert_state(&self, state: RunState) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        insert_rows(&mut conn, &[&state])
            .await
            // The flow (or its tenant) deleted while the run was starting.
            .map_err(|error| missing_or_internal(error, "this tenant has no such flow"))
    }

    async fn run_state(&self, tenant: TenantId, id: StateId) -> StoreResult<Option<RunState>> {
        let select = format!(
            "SELECT {} FROM flow_states WHERE id = $1 AND tenant_id = $2",
            RunState::SELECT
        );
        Ok(sqlx::query_as(&select)
            .bind(id)
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn advance_state(
        &self,
        tenant: TenantId,
        id: StateId,
        expected: StateToken,
        advance: &StateAdvance,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE flow_states SET state_token = $1, current_element = $2, status = $3, \
             state_values = $4, history = $5, updated_at = $6, expires_at = $7 \
             WHERE id = $8 AND tenant_id = $9 AND state_token = $10",
        )
        .bind(advance.state_token)
        .bind(advance.current_element.as_deref())
        .bind(&advance.status)
        .bind(&advance.state_values)
        .bind(&advance.history)
        .bind(advance.updated_at)
        .bind(advance.expires_at)
        .bind(id)
        .bind(tenant)
        .bind(expected)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn list_states(
        &self,
        tenant: TenantId,
        query: &StateQuery,
    ) -> StoreResult<(Vec<RunState>, u64)> {
        let mut count: QueryBuilder<'_, Db> = QueryBuilder::new("SELECT COUNT(*) FROM flow_states");
        push_filters(&mut count, tenant, query);
        let (total,): (i64,) = count.build_query_as().fetch_one(&self.pool).await?;
        let mut select: QueryBuilder<'_, Db> =
            QueryBuilder::new(format!("SELECT {} FROM flow_states", RunState::SELECT));
        push_filters(&mut select, tenant, query);
        // Then by id, so a page boundary never splits or repeats a state.
        select.push(" ORDER BY created_at DESC, id DESC LIMIT ");
        select.push_bind(i64::from(query.limit));
        select.push(" OFFSET ");
        select.push_bind(i64::try_from(query.offset).unwrap_or(i64::MAX));
        let states = select.build_query_as().fetch_all(&self.pool).await?;
        Ok((states, u64::try_from(total).unwrap_or_default()))
    }

    async fn delete_states(&self, tenant: TenantId, ids: &[StateId]) -> StoreResult<Vec<StateId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut delete: QueryBuilder<'_, Db> =
            QueryBuilder::new("DELETE FROM flow_states WHERE tenant_id = ");
        delete.push_bind(tenant).push(" AND id IN (");
        let mut list = delete.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        delete.push(") RETURNING id");
        let deleted: Vec<(StateId,)> = delete.build_query_as().fetch_all(&self.pool).await?;
        Ok(deleted.into_iter().map(|(id,)| id).collect())
    }

    async fn prune_states(&self, now: Timestamp, limit: u32) -> StoreResult<u64> {
        let result = sqlx::query(
            "DELETE FROM flow_states WHERE id IN \
             (SELECT id FROM flow_states WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)",
        )
        .bind(now)
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }
}
