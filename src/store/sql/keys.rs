//! API keys and tokens. Only digests are looked up; values are never stored. A deleted key is
//! announced, so no instance keeps granting it from its cache.

use async_trait::async_trait;

use super::transfer::{insert_rows, sweep_and_insert};
use super::{Conn, Store};
use crate::domain::{Digest, KeyId, TenantId, Timestamp, UserId};
use crate::store::sql_errors::{
    conflict_or_internal, is_foreign_key_violation, missing_or_internal,
};
use crate::store::transfer::{ApiKeyRow, PreviousKeyRow};
use crate::store::{
    Change, KeyGrant, KeyRecord, KeyRotation, KeyStore, KeyUsage, NewKey, NewToken, StoreError,
    StoreResult, TokenGrant, TokenStore,
};

#[async_trait]
impl KeyStore for Store {
    async fn insert_key(&self, key: NewKey) -> StoreResult<()> {
        self.insert_keys(vec![key]).await
    }

    async fn insert_keys(&self, keys: Vec<NewKey>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let mut tenants = Vec::new();
        for key in keys {
            if !tenants.contains(&key.tenant_id) {
                tenants.push(key.tenant_id);
            }
            insert(&mut tx, key).await?;
        }
        // A new key shows in its owner's key list.
        for tenant in tenants {
            self.announce(&mut tx, Change::People { tenant }).await?;
        }
        Ok(tx.commit().await?)
    }

    async fn key_by_digest(&self, digest: &Digest) -> StoreResult<Option<KeyGrant>> {
        // The key's current value, or a value a rotation superseded: that one lets the key in
        // until the end of its overlap or the key's expiry, whichever comes first.
        Ok(sqlx::query_as(
            "SELECT k.id AS key_id, k.user_id, k.tenant_id, k.expires_at, k.preview, \
             NULL AS rotated_until, k.scopes, k.allowed_networks, \
             COALESCE(k.rate_per_second, t.key_rate_per_second) AS rate_per_second, \
             COALESCE(k.rate_burst, t.key_rate_burst) AS rate_burst \
             FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.digest = $1 \
             UNION ALL \
             SELECT k.id, k.user_id, k.tenant_id, \
             CASE WHEN k.expires_at < p.valid_until THEN k.expires_at ELSE p.valid_until END, \
             p.preview, p.valid_until, k.scopes, k.allowed_networks, \
             COALESCE(k.rate_per_second, t.key_rate_per_second), \
             COALESCE(k.rate_burst, t.key_rate_burst) FROM api_key_previous p \
             JOIN api_keys k ON k.id = p.key_id JOIN tenants t ON t.id = k.tenant_id \
             WHERE p.digest = $1",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn keys_of_user(&self, user: UserId) -> StoreResult<Vec<KeyRecord>> {
        Ok(sqlx::query_as(
            "SELECT k.id, k.tenant_id, t.name AS tenant_name, k.name, k.preview, k.sealed, \
             k.created_at, k.expires_at, k.rotated_at, k.scopes, k.allowed_networks, \
             k.last_used_at, k.last_used_address, k.rate_per_second, k.rate_burst \
             FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
             WHERE k.user_id = $1 ORDER BY k.created_at, k.id",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn delete_key(&self, user: UserId, key: KeyId) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let deleted: Option<(TenantId,)> = sqlx::query_as(
            "DELETE FROM api_keys WHERE id = $1 AND user_id = $2 RETURNING tenant_id",
        )
        .bind(key)
        .bind(user)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((tenant,)) = deleted else {
            return Ok(false);
        };
        self.announce(&mut tx, Change::Keys { tenant }).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn record_key_usage(&self, uses: &[KeyUsage]) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        // One transaction a batch; a later use never goes back in time (two instances may
        // write one key's use in either order). Announced: the key lists show it.
        let mut tx = self.pool.begin().await?;
        for usage in uses {
            sqlx::query(
                "UPDATE api_keys SET last_used_at = $1, last_used_address = $2 WHERE id = $3 \
                 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(usage.at)
            .bind(&usage.address)
            .bind(usage.key_id)
            .execute(&mut *tx)
            .await?;
        }
        self.announce(&mut tx, Change::Usage).await?;
        Ok(tx.commit().await?)
    }

    async fn purge_sealed(&self) -> StoreResult<u64> {
        let result = sqlx::query("UPDATE api_keys SET sealed = NULL WHERE sealed IS NOT NULL")
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    async fn rotate_key(&self, rotation: KeyRotation) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let current: Option<(Digest, String, TenantId)> = sqlx::query_as(concat!(
            "SELECT digest, preview, tenant_id FROM api_keys WHERE id = $1 AND user_id = $2",
            row_lock!(update)
        ))
        .bind(rotation.key_id)
        .bind(rotation.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((old_digest, old_preview, tenant)) = current else {
            return Ok(false);
        };
        let previous = PreviousKeyRow {
            digest: old_digest,
            key_id: rotation.key_id,
            preview: old_preview,
            valid_until: rotation.valid_until,
        };
        insert_rows(&mut tx, &[&previous]).await?;
        sqlx::query(
            "UPDATE api_keys SET digest = $1, preview = $2, sealed = $3, rotated_at = $4 \
             WHERE id = $5",
        )
        .bind(rotation.digest)
        .bind(&rotation.preview)
        .bind(&rotation.sealed)
        .bind(rotation.rotated_at)
        .bind(rotation.key_id)
        .execute(&mut *tx)
        .await?;
        // Every instance drops the old value's cached grant; looked up again, it carries the
        // end of its overlap, which `admits` enforces with no announcement at that moment.
        self.announce(&mut tx, Change::Keys { tenant }).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn claim_expiry_record(&self, key: KeyId, now: Timestamp) -> StoreResult<Option<String>> {
        let claimed: Option<(String,)> = sqlx::query_as(
            "UPDATE api_keys SET expiry_recorded = true \
             WHERE id = $1 AND NOT expiry_recorded AND expires_at <= $2 RETURNING name",
        )
        .bind(key)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(claimed.map(|(name,)| name))
    }
}

#[async_trait]
impl TokenStore for Store {
    async fn insert_token(&self, token: NewToken) -> StoreResult<()> {
        sweep_and_insert(self, &token, token.created_at)
            .await
            // The token's key deleted before the token was stored: the token would grant nothing.
            .map_err(|error| missing_or_internal(error, "the API key is gone"))
    }

    async fn token_by_digest(&self, digest: &Digest) -> StoreResult<Option<TokenGrant>> {
        // A key-bound token lives only while its key does, and no longer than it.
        Ok(sqlx::query_as(
            "SELECT t.user_id, t.tenant_id, COALESCE(t.signed_in_at, t.created_at) AS signed_in_at, \
             CASE WHEN k.expires_at < t.expires_at THEN k.expires_at ELSE t.expires_at END \
             AS expires_at, t.key_id, COALESCE(k.scopes, '') AS scopes, \
             COALESCE(k.allowed_networks, '') AS allowed_networks, \
             COALESCE(k.rate_per_second, kt.key_rate_per_second) AS rate_per_second, \
             COALESCE(k.rate_burst, kt.key_rate_burst) AS rate_burst \
             FROM tokens t LEFT JOIN api_keys k ON k.id = t.key_id \
             LEFT JOIN tenants kt ON kt.id = k.tenant_id \
             WHERE t.digest = $1 AND (t.key_id IS NULL OR k.id IS NOT NULL)",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?)
    }
}

/// One key row; the caller decides the transaction.
async fn insert(conn: &mut Conn, key: NewKey) -> StoreResult<()> {
    let row = ApiKeyRow {
        id: key.id,
        user_id: key.user_id,
        tenant_id: key.tenant_id,
        name: key.name.as_str().to_string(),
        digest: key.digest,
        preview: key.preview,
        sealed: key.sealed,
        created_at: key.created_at,
        expires_at: key.expires_at,
        rotated_at: None,
        expiry_recorded: false,
        scopes: key.scopes.to_stored(),
        allowed_networks: key.allowed_networks.to_stored(),
        last_used_at: None,
        last_used_address: None,
        rate_per_second: key.rate_per_second,
        rate_burst: key.rate_burst,
    };
    insert_rows(conn, &[&row]).await.map_err(|error| {
        if is_foreign_key_violation(&error) {
            StoreError::Missing("the user is not a member of that tenant".into())
        } else {
            conflict_or_internal(
                error,
                &format!("you already have a key named '{}' in this tenant", key.name),
            )
        }
    })
}
