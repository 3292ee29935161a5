//! API keys and tokens in PostgreSQL. Only digests are looked up; values are never stored. A
//! deleted key is announced, so no instance keeps granting it from its cache.

use async_trait::async_trait;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{PgStore, conflict_or_internal, internal};
use crate::domain::Digest;
use crate::domain::{KeyId, TenantId, Timestamp, UserId};
use crate::store::{
    Change, KeyGrant, KeyRecord, KeyStore, NewKey, NewToken, StoreError, StoreResult, TokenGrant,
    TokenStore,
};

#[async_trait]
impl KeyStore for PgStore {
    async fn insert_key(&self, key: NewKey) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.map_err(internal)?;
        insert(&mut conn, key).await
    }

    async fn insert_keys(&self, keys: Vec<NewKey>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        for key in keys {
            insert(&mut tx, key).await?;
        }
        tx.commit().await.map_err(internal)
    }

    async fn key_by_digest(&self, digest: &Digest) -> StoreResult<Option<KeyGrant>> {
        let row: Option<(Uuid, Uuid, Uuid, Option<OffsetDateTime>)> = sqlx::query_as(
            "SELECT id, user_id, tenant_id, expires_at FROM api_keys WHERE digest = $1",
        )
        .bind(&digest[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        Ok(row.map(|(id, user_id, tenant_id, expires_at)| KeyGrant {
            key_id: KeyId(id),
            user_id: UserId(user_id),
            tenant_id: TenantId(tenant_id),
            expires_at: expires_at.map(Timestamp::from_offset),
        }))
    }

    async fn keys_of_user(&self, user: UserId) -> StoreResult<Vec<KeyRecord>> {
        type Row = (
            Uuid,
            Uuid,
            String,
            String,
            String,
            Option<Vec<u8>>,
            OffsetDateTime,
            Option<OffsetDateTime>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT k.id, k.tenant_id, t.name, k.name, k.preview, k.sealed, k.created_at, \
             k.expires_at FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
             WHERE k.user_id = $1 ORDER BY k.created_at, k.id",
        )
        .bind(user.0)
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, tenant_id, tenant_name, name, preview, sealed, created_at, expires_at)| {
                    KeyRecord {
                        id: KeyId(id),
                        tenant_id: TenantId(tenant_id),
                        tenant_name,
                        name,
                        preview,
                        sealed,
                        created_at: Timestamp::from_offset(created_at),
                        expires_at: expires_at.map(Timestamp::from_offset),
                    }
                },
            )
            .collect())
    }

    async fn delete_key(&self, user: UserId, key: KeyId) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        let deleted: Option<(Uuid,)> = sqlx::query_as(
            "DELETE FROM api_keys WHERE id = $1 AND user_id = $2 RETURNING tenant_id",
        )
        .bind(key.0)
        .bind(user.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(internal)?;
        let Some((tenant,)) = deleted else {
            return Ok(false);
        };
        let tenant = TenantId(tenant);
        self.announce(&mut tx, Change::Keys { tenant }).await?;
        tx.commit().await.map_err(internal)?;
        Ok(true)
    }

    async fn purge_sealed(&self) -> StoreResult<u64> {
        let result = sqlx::query("UPDATE api_keys SET sealed = NULL WHERE sealed IS NOT NULL")
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(result.rows_affected())
    }
}

#[async_trait]
impl TokenStore for PgStore {
    async fn insert_token(&self, token: NewToken) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        // Expired tokens are useless; sweeping them at each sign-in keeps the table small.
        sqlx::query("DELETE FROM tokens WHERE expires_at < $1")
            .bind(token.created_at.as_offset())
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        sqlx::query(
            "INSERT INTO tokens (digest, user_id, tenant_id, signed_in_at, created_at, \
             expires_at, key_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&token.digest[..])
        .bind(token.user_id.0)
        .bind(token.tenant_id.0)
        .bind(token.signed_in_at.as_offset())
        .bind(token.created_at.as_offset())
        .bind(token.expires_at.as_offset())
        .bind(token.key_id.map(|key| key.0))
        .execute(&mut *tx)
        .await
        .map_err(key_gone)?;
        tx.commit().await.map_err(internal)
    }

    async fn token_by_digest(&self, digest: &Digest) -> StoreResult<Option<TokenGrant>> {
        type Row = (
            Uuid,
            Uuid,
            OffsetDateTime,
            OffsetDateTime,
            Option<Uuid>,
            Option<Uuid>,
            Option<OffsetDateTime>,
        );
        // The key is read with the token: a key-bound token lives only while its key does.
        let row: Option<Row> = sqlx::query_as(
            "SELECT t.user_id, t.tenant_id, t.signed_in_at, t.expires_at, t.key_id, k.id, \
             k.expires_at FROM tokens t LEFT JOIN api_keys k ON k.id = t.key_id \
             WHERE t.digest = $1",
        )
        .bind(&digest[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        let Some((user_id, tenant_id, signed_in_at, expires_at, key_id, live_key, key_expiry)) =
            row
        else {
            return Ok(None);
        };
        if key_id.is_some() && live_key.is_none() {
            return Ok(None);
        }
        let expires_at = Timestamp::from_offset(expires_at);
        Ok(Some(TokenGrant {
            user_id: UserId(user_id),
            tenant_id: TenantId(tenant_id),
            signed_in_at: Timestamp::from_offset(signed_in_at),
            expires_at: key_expiry
                .map(Timestamp::from_offset)
                .map_or(expires_at, |key| key.min(expires_at)),
            key_id: key_id.map(KeyId),
        }))
    }
}

/// A token's key deleted before the token was stored: the token would grant nothing.
fn key_gone(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::Missing("the API key is gone".into())
        }
        _ => internal(error),
    }
}

/// One key row; the caller decides the transaction. The UNIQUE (user, tenant, name) constraint
/// decides between racing creates: the later insert waits for the earlier to commit, then
/// fails as a unique violation.
async fn insert(conn: &mut PgConnection, key: NewKey) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_keys \
         (id, user_id, tenant_id, name, digest, preview, sealed, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(key.id.0)
    .bind(key.user_id.0)
    .bind(key.tenant_id.0)
    .bind(key.name.as_str())
    .bind(&key.digest[..])
    .bind(&key.preview)
    .bind(key.sealed.as_deref())
    .bind(key.created_at.as_offset())
    .bind(key.expires_at.map(Timestamp::as_offset))
    .execute(conn)
    .await
    .map_err(|error| match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::Missing("the user is not a member of that tenant".into())
        }
        _ => conflict_or_internal(
            error,
            &format!("you already have a key named '{}' in this tenant", key.name),
        ),
    })?;
    Ok(())
}
