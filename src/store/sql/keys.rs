//! API keys and tokens. Only digests are looked up; values are never stored. A deleted key is
//! announced, so no instance keeps granting it from its cache.

use async_trait::async_trait;

use super::{Conn, Store};
use crate::domain::{Digest, KeyId, TenantId, Timestamp, UserId};
use crate::store::sql_errors::{
    conflict_or_internal, is_foreign_key_violation, missing_or_internal,
};
use crate::store::{
    Change, KeyGrant, KeyRecord, KeyStore, NewKey, NewToken, StoreError, StoreResult, TokenGrant,
    TokenStore,
};

#[async_trait]
impl KeyStore for Store {
    async fn insert_key(&self, key: NewKey) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        insert(&mut conn, key).await
    }

    async fn insert_keys(&self, keys: Vec<NewKey>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for key in keys {
            insert(&mut tx, key).await?;
        }
        Ok(tx.commit().await?)
    }

    async fn key_by_digest(&self, digest: &Digest) -> StoreResult<Option<KeyGrant>> {
        Ok(sqlx::query_as(
            "SELECT id AS key_id, user_id, tenant_id, expires_at FROM api_keys WHERE digest = $1",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn keys_of_user(&self, user: UserId) -> StoreResult<Vec<KeyRecord>> {
        Ok(sqlx::query_as(
            "SELECT k.id, k.tenant_id, t.name AS tenant_name, k.name, k.preview, k.sealed, \
             k.created_at, k.expires_at FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
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

    async fn purge_sealed(&self) -> StoreResult<u64> {
        let result = sqlx::query("UPDATE api_keys SET sealed = NULL WHERE sealed IS NOT NULL")
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}

/// A token row with its key's, read together: a key-bound token lives only while its key does.
#[derive(sqlx::FromRow)]
struct TokenRow {
    user_id: UserId,
    tenant_id: TenantId,
    signed_in_at: Timestamp,
    expires_at: Timestamp,
    key_id: Option<KeyId>,
    live_key: Option<KeyId>,
    key_expires_at: Option<Timestamp>,
}

#[async_trait]
impl TokenStore for Store {
    async fn insert_token(&self, token: NewToken) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        // Expired tokens are useless; sweeping them at each sign-in keeps the table small.
        sqlx::query("DELETE FROM tokens WHERE expires_at < $1")
            .bind(token.created_at)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO tokens (digest, user_id, tenant_id, signed_in_at, created_at, \
             expires_at, key_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(token.digest)
        .bind(token.user_id)
        .bind(token.tenant_id)
        .bind(token.signed_in_at)
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind(token.key_id)
        .execute(&mut *tx)
        .await
        // The token's key deleted before the token was stored: the token would grant nothing.
        .map_err(|error| missing_or_internal(error, "the API key is gone"))?;
        tx.commit().await?;
        Ok(())
    }

    async fn token_by_digest(&self, digest: &Digest) -> StoreResult<Option<TokenGrant>> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT t.user_id, t.tenant_id, COALESCE(t.signed_in_at, t.created_at) AS signed_in_at, \
             t.expires_at, t.key_id, k.id AS live_key, k.expires_at AS key_expires_at \
             FROM tokens t LEFT JOIN api_keys k ON k.id = t.key_id WHERE t.digest = $1",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        if row.key_id.is_some() && row.live_key.is_none() {
            return Ok(None);
        }
        Ok(Some(TokenGrant {
            user_id: row.user_id,
            tenant_id: row.tenant_id,
            signed_in_at: row.signed_in_at,
            expires_at: row
                .key_expires_at
                .map_or(row.expires_at, |key| key.min(row.expires_at)),
            key_id: row.key_id,
        }))
    }
}

/// One key row; the caller decides the transaction.
async fn insert(conn: &mut Conn, key: NewKey) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_keys \
         (id, user_id, tenant_id, name, digest, preview, sealed, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(key.id)
    .bind(key.user_id)
    .bind(key.tenant_id)
    .bind(key.name.as_str())
    .bind(key.digest)
    .bind(&key.preview)
    .bind(key.sealed.as_deref())
    .bind(key.created_at)
    .bind(key.expires_at)
    .execute(conn)
    .await
    .map_err(|error| {
        if is_foreign_key_violation(&error) {
            StoreError::Missing("the user is not a member of that tenant".into())
        } else {
            conflict_or_internal(
                error,
                &format!("you already have a key named '{}' in this tenant", key.name),
            )
        }
    })?;
    Ok(())
}
