//! How a sqlx failure becomes a [`StoreError`], the same for every backend.

use super::StoreError;

/// Any sqlx failure that is not a rule the caller asked about.
pub(super) fn internal(error: sqlx::Error) -> StoreError {
    StoreError::Internal(anyhow::Error::new(error).context("database"))
}

/// Maps a unique violation to `Conflict(message)`, anything else to `Internal`.
pub(super) fn conflict_or_internal(error: sqlx::Error, message: &str) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(message.to_string())
        }
        _ => internal(error),
    }
}
