//! Web sign-in sessions in SQLite, looked up by digest only; and the password they check.

use async_trait::async_trait;

use super::{SqliteStore, internal, timestamp, uuid};
use crate::domain::Digest;
use crate::domain::UserId;
use crate::store::{NewSession, SessionGrant, SessionStore, StoreError, StoreResult};

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(&self, session: NewSession) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        // Expired sessions are useless; sweeping them at each sign-in keeps the table small.
        sqlx::query("DELETE FROM web_sessions WHERE expires_at < ?")
            .bind(session.created_at.to_rfc3339())
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        sqlx::query(
            "INSERT INTO web_sessions (digest, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&session.digest[..])
        .bind(session.user_id.to_string())
        .bind(session.created_at.to_rfc3339())
        .bind(session.expires_at.to_rfc3339())
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)
    }

    async fn session_by_digest(&self, digest: &Digest) -> StoreResult<Option<SessionGrant>> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT user_id, created_at, expires_at FROM web_sessions WHERE digest = ?",
        )
        .bind(&digest[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        row.map(|(user_id, created_at, expires_at)| {
            Ok(SessionGrant {
                user_id: UserId(uuid(&user_id)?),
                created_at: timestamp(&created_at)?,
                expires_at: timestamp(&expires_at)?,
            })
        })
        .transpose()
    }

    async fn delete_session(&self, digest: &Digest) -> StoreResult<()> {
        sqlx::query("DELETE FROM web_sessions WHERE digest = ?")
            .bind(&digest[..])
            .execute(&self.pool)
            .await
            .map_err(internal)?;
        Ok(())
    }

    async fn change_password(
        &self,
        user: UserId,
        password_hash: &str,
        keep: &Digest,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        let updated = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(internal)?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::Missing("your account no longer exists".into()));
        }
        // Whoever else signed in with the old password, in a browser or for a token, is out.
        sqlx::query("DELETE FROM web_sessions WHERE user_id = ? AND digest <> ?")
            .bind(user.to_string())
            .bind(&keep[..])
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        sqlx::query("DELETE FROM tokens WHERE user_id = ?")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)
    }
}
