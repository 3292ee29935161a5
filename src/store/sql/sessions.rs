//! Web sign-in sessions, looked up by digest only; and the password they check. A sign-out
//! and a password change are announced: they end sign-ins that every instance may cache.

use async_trait::async_trait;

use super::Store;
use super::transfer::sweep_and_insert;
use crate::domain::{Digest, UserId};
use crate::store::{Change, NewSession, SessionGrant, SessionStore, StoreError, StoreResult};

#[async_trait]
impl SessionStore for Store {
    async fn insert_session(&self, session: NewSession) -> StoreResult<()> {
        Ok(sweep_and_insert(self, &session, session.created_at).await?)
    }

    async fn session_by_digest(&self, digest: &Digest) -> StoreResult<Option<SessionGrant>> {
        Ok(sqlx::query_as(
            "SELECT user_id, created_at, expires_at FROM web_sessions WHERE digest = $1",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn delete_session(&self, digest: &Digest) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query("DELETE FROM web_sessions WHERE digest = $1")
            .bind(digest)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // Other instances may hold the session in their credential cache. The announcement
        // names no session (a digest is as good as the cookie for a lookup, and stays out of
        // the database's notifications): each instance drops its cached sign-ins.
        if deleted > 0 {
            self.announce(&mut tx, Change::Credentials).await?;
        }
        Ok(tx.commit().await?)
    }

    async fn change_password(
        &self,
        user: UserId,
        password_hash: &str,
        keep: &Digest,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated == 0 {
            return Err(StoreError::Missing("your account no longer exists".into()));
        }
        // Whoever else signed in with the old password, in a browser or for a token, is out.
        sqlx::query("DELETE FROM web_sessions WHERE user_id = $1 AND digest <> $2")
            .bind(user)
            .bind(keep)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM tokens WHERE user_id = $1")
            .bind(user)
            .execute(&mut *tx)
            .await?;
        self.announce(&mut tx, Change::Credentials).await?;
        Ok(tx.commit().await?)
    }
}
