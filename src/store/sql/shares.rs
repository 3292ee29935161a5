//! Packages shared by token. Only the token's digest is stored and looked up; the row holds
//! the package frozen at issue. No instance caches a share, so nothing here is announced.

use async_trait::async_trait;

use super::Store;
use super::transfer::sweep_and_insert;
use crate::domain::{Digest, FlowId, TenantId, Timestamp};
use crate::store::sql_errors::missing_or_internal;
use crate::store::{NewShare, ShareStore, SharedPackage, StoreResult};

#[async_trait]
impl ShareStore for Store {
    async fn insert_share(&self, share: NewShare) -> StoreResult<()> {
        sweep_and_insert(self, &share, share.created_at)
            .await
            // The flow (or its tenant) deleted while its package was being read.
            .map_err(|error| missing_or_internal(error, "this tenant has no such flow"))
    }

    async fn shared_package(
        &self,
        digest: &Digest,
        now: Timestamp,
    ) -> StoreResult<Option<SharedPackage>> {
        Ok(sqlx::query_as(
            "SELECT tenant_id, flow_id, version_id, package, expires_at FROM package_shares \
             WHERE digest = $1 AND expires_at > $2",
        )
        .bind(digest)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn revoke_shares(
        &self,
        tenant: TenantId,
        flow: FlowId,
        digest: Option<&Digest>,
    ) -> StoreResult<u64> {
        let result = sqlx::query(
            "DELETE FROM package_shares \
             WHERE tenant_id = $1 AND flow_id = $2 AND ($3 IS NULL OR digest = $3)",
        )
        .bind(tenant)
        .bind(flow)
        .bind(digest)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }
}
