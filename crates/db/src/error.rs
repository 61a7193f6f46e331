use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database url is not valid: {0}")]
    BadUrl(String),
    #[error("could not connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error(transparent)]
    Query(#[from] DieselError),
    /// A group commit ([`crate::SqliteWriter`]) did not save its batch: nothing of it happened.
    #[error("the write was not saved: {0}")]
    NotSaved(String),
}

/// Conflicts that go away when the whole transaction is tried again.
pub fn is_retryable(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        DieselError::DatabaseError(_, info) => {
            let m = info.message();
            // PostgreSQL 40P01 has no diesel kind of its own; SQLite reports BUSY as a message.
            m.contains("deadlock detected")
                || m.contains("database is locked")
                || m.contains("database table is locked")
                || m.contains("could not serialize access")
        }
        _ => false,
    }
}

pub fn is_unique_violation(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}
