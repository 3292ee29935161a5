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
             expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&token.digest[..])
        .bind(token.user_id.to_string())
        .bind(token.tenant_id.to_string())
        .bind(token.signed_in_at.to_rfc3339())
        .bind(token.created_at.to_rfc3339())
        .bind(token.expires_at.to_rfc3339())
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(())
    }

    async fn token_by_digest(&self, digest: &Digest) -> StoreResult<Option<TokenGrant>> {
        let row: Option<(String, String, String, String)> = sqlx::query_as(
            "SELECT user_id, tenant_id, COALESCE(signed_in_at, created_at), expires_at \
             FROM tokens WHERE digest = ?",
        )
        .bind(&digest[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        row.map(|(user_id, tenant_id, signed_in_at, expires_at)| {
            Ok(TokenGrant {
                user_id: UserId(uuid(&user_id)?),
                tenant_id: TenantId(uuid(&tenant_id)?),
                signed_in_at: timestamp(&signed_in_at)?,
                expires_at: timestamp(&expires_at)?,
            })
        })
        .transpose()
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
