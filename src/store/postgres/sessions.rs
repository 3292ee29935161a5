//! Web sign-in sessions in PostgreSQL, looked up by digest only; and the password they check,
//! whose change is announced (it ends the user's other sign-ins everywhere).

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{PgStore, internal};
use crate::domain::Digest;
use crate::domain::{Timestamp, UserId};
use crate::store::{Change, NewSession, SessionGrant, SessionStore, StoreError, StoreResult};

#[async_trait]
impl SessionStore for PgStore {
    async fn insert_session(&self, session: NewSession) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(internal)?;
        // Expired sessions are useless; sweeping them at each sign-in keeps the table small.
        sqlx::query("DELETE FROM web_sessions WHERE expires_at < $1")
            .bind(session.created_at.as_offset())
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        sqlx::query(
            "INSERT INTO web_sessions (digest, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&session.digest[..])
        .bind(session.user_id.0)
        .bind(session.created_at.as_offset())
        .bind(session.expires_at.as_offset())
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)
    }

    async fn session_by_digest(&self, digest: &Digest) -> StoreResult<Option<SessionGrant>> {
        let row: Option<(Uuid, OffsetDateTime, OffsetDateTime)> = sqlx::query_as(
            "SELECT user_id, created_at, expires_at FROM web_sessions WHERE digest = $1",
        )
        .bind(&digest[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(internal)?;
        Ok(row.map(|(user_id, created_at, expires_at)| SessionGrant {
            user_id: UserId(user_id),
            created_at: Timestamp::from_offset(created_at),
            expires_at: Timestamp::from_offset(expires_at),
        }))
    }

    async fn delete_session(&self, digest: &Digest) -> StoreResult<()> {
        sqlx::query("DELETE FROM web_sessions WHERE digest = $1")
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
        let updated = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::Missing("your account no longer exists".into()));
        }
        // Whoever else signed in with the old password, in a browser or for a token, is out.
        sqlx::query("DELETE FROM web_sessions WHERE user_id = $1 AND digest <> $2")
            .bind(user.0)
            .bind(&keep[..])
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        sqlx::query("DELETE FROM tokens WHERE user_id = $1")
            .bind(user.0)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        self.announce(&mut tx, Change::Credentials).await?;
        tx.commit().await.map_err(internal)
    }
}
