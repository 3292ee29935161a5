//! How a sqlx failure becomes a [`StoreError`], once for every backend: any database error is
//! internal (`?` converts it), and the few a caller asks about (a unique or foreign-key
//! violation) are turned into the refusal it names.

use super::StoreError;

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::Internal(anyhow::Error::new(error).context("database"))
    }
}

/// A row the transaction just wrote or found, gone when read back: a bug, not a refusal.
pub(super) fn vanished(what: &str) -> StoreError {
    StoreError::Internal(anyhow::anyhow!("{what} vanished"))
}

/// Maps a unique violation to `Conflict(message)`, anything else to `Internal`.
pub(super) fn conflict_or_internal(error: sqlx::Error, message: &str) -> StoreError {
    if is_unique_violation(&error) {
        StoreError::Conflict(message.to_string())
    } else {
        error.into()
    }
}

/// Maps a foreign-key violation to `Missing(message)`, anything else to `Internal`.
pub(super) fn missing_or_internal(error: sqlx::Error, message: &str) -> StoreError {
    if is_foreign_key_violation(&error) {
        StoreError::Missing(message.to_string())
    } else {
        error.into()
    }
}

pub(super) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub(super) fn is_foreign_key_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_foreign_key_violation())
}
