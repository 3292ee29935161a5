//! The states of running flows. An invoke's write is one conditional `UPDATE … WHERE
//! state_token = $expected`: the database decides which of two racing invokes wins (rows
//! affected), so no lock is held between the engine's read and its write. No instance caches
//! a state, so nothing here is announced.

use async_trait::async_trait;

use super::Store;
use super::transfer::{Table, insert_rows};
use crate::domain::{StateId, StateToken, TenantId};
use crate::store::sql_errors::missing_or_internal;
use crate::store::{RunState, RunStateStore, StateAdvance, StoreResult};

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
             state_values = $4, history = $5, updated_at = $6 \
             WHERE id = $7 AND tenant_id = $8 AND state_token = $9",
        )
        .bind(advance.state_token)
        .bind(advance.current_element.as_deref())
        .bind(&advance.status)
        .bind(&advance.state_values)
        .bind(&advance.history)
        .bind(advance.updated_at)
        .bind(id)
        .bind(tenant)
        .bind(expected)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }
}
