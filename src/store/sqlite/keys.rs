//! API keys and tokens in SQLite. Only digests are looked up; values are never stored.

use async_trait::async_trait;

use super::{
    SqliteStore, bump_revocation_epoch, conflict_or_internal, internal, optional_timestamp,
    timestamp, uuid,
};
use crate::domain::Digest;
use crate::domain::{KeyId, TenantId, UserId};
use crate::store::{
    KeyGrant, KeyRecord, KeyStore, NewKey, NewToken, StoreError, StoreResult, TokenGrant,
    TokenStore,
};

#[async_trait]
impl KeyStore for SqliteStore {
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
        let row: Option<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT id, user_id, tenant_id, expires_at FROM api_keys WHERE digest = ?",
        )
        .bind(&digest[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        row.map(|(id, user_id, tenant_id, expires_at)| {
            Ok(KeyGrant {
                key_id: KeyId(uuid(&id)?),
                user_id: UserId(uuid(&user_id)?),
                tenant_id: TenantId(uuid(&tenant_id)?),
                expires_at: optional_timestamp(expires_at)?,
            })
        })
        .transpose()
    }

    async fn keys_of_user(&self, user: UserId) -> StoreResult<Vec<KeyRecord>> {
        type Row = (
            String,
            String,
            String,
            String,
            String,
            Option<Vec<u8>>,
            String,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT k.id, k.tenant_id, t.name, k.name, k.preview, k.sealed, k.created_at, \
             k.expires_at FROM api_keys k JOIN tenants t ON t.id = k.tenant_id \
             WHERE k.user_id = ? ORDER BY k.created_at, k.id",
        )
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(internal)?;
        rows.into_iter()
            .map(
                |(id, tenant_id, tenant_name, name, preview, sealed, created_at, expires_at)| {
                    Ok(KeyRecord {
                        id: KeyId(uuid(&id)?),
                        tenant_id: TenantId(uuid(&tenant_id)?),
                        tenant_name,
                        name,
                        preview,
                        sealed,
                        created_at: timestamp(&created_at)?,
                        expires_at: optional_timestamp(expires_at)?,
                    })
                },
            )
            .collect()
    }

    async fn delete_key(&self, user: UserId, key: KeyId) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        let deleted = sqlx::query("DELETE FROM api_keys WHERE id = ? AND user_id = ?")
            .bind(key.to_string())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(internal)?
            .rows_affected()
            > 0;
        if deleted {
            bump_revocation_epoch(&mut tx).await?;
        }
        tx.commit().await.map_err(internal)?;
        Ok(deleted)
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
impl TokenStore for SqliteStore {
    async fn insert_token(&self, token: NewToken) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        // Expired tokens are useless; sweeping them at each sign-in keeps the table small.
        sqlx::query("DELETE FROM tokens WHERE expires_at < ?")
            .bind(token.created_at.to_rfc3339())
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        sqlx::query(
            "INSERT INTO tokens (digest, user_id, tenant_id, signed_in_at, created_at, \
             expires_at, key_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&token.digest[..])
        .bind(token.user_id.to_string())
        .bind(token.tenant_id.to_string())
        .bind(token.signed_in_at.to_rfc3339())
        .bind(token.created_at.to_rfc3339())
        .bind(token.expires_at.to_rfc3339())
        .bind(token.key_id.map(|key| key.to_string()))
        .execute(&mut *tx)
        .await
        .map_err(key_gone)?;
        tx.commit().await.map_err(internal)?;
        Ok(())
    }

    async fn token_by_digest(&self, digest: &Digest) -> StoreResult<Option<TokenGrant>> {
        type Row = (
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        // The key is read with the token: a key-bound token lives only while its key does.
        let row: Option<Row> = sqlx::query_as(
            "SELECT t.user_id, t.tenant_id, COALESCE(t.signed_in_at, t.created_at), \
             t.expires_at, t.key_id, k.id, k.expires_at \
             FROM tokens t LEFT JOIN api_keys k ON k.id = t.key_id WHERE t.digest = ?",
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
        let expires_at = timestamp(&expires_at)?;
        Ok(Some(TokenGrant {
            user_id: UserId(uuid(&user_id)?),
            tenant_id: TenantId(uuid(&tenant_id)?),
            signed_in_at: timestamp(&signed_in_at)?,
            expires_at: optional_timestamp(key_expiry)?
                .map_or(expires_at, |key| key.min(expires_at)),
            key_id: key_id.map(|id| uuid(&id).map(KeyId)).transpose()?,
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

/// One key row; the caller decides the transaction.
async fn insert(conn: &mut sqlx::SqliteConnection, key: NewKey) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_keys \
         (id, user_id, tenant_id, name, digest, preview, sealed, created_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(key.id.to_string())
    .bind(key.user_id.to_string())
    .bind(key.tenant_id.to_string())
    .bind(key.name.as_str())
    .bind(&key.digest[..])
    .bind(&key.preview)
    .bind(key.sealed.as_deref())
    .bind(key.created_at.to_rfc3339())
    .bind(key.expires_at.map(|t| t.to_rfc3339()))
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
