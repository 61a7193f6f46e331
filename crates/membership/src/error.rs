//! The one error type of the member club. Variants say what the caller can act on; the server
//! maps each to a status code and a stable problem type. No variant ever carries a PIN.

use chrono::{DateTime, Utc};
use dms_db::diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    /// The row does not exist or lies outside the caller's stores: both read as 404.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{field}: {message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    #[error("not allowed: {0}")]
    Forbidden(String),
    #[error("insufficient {what}: needed {needed}, available {available}")]
    InsufficientBalance {
        what: &'static str,
        needed: String,
        available: String,
    },
    #[error("card is {status}")]
    CardBlocked { status: String },
    #[error("card expired")]
    CardExpired,
    #[error("wrong PIN")]
    WrongPin { attempts_left: i32 },
    #[error("PIN locked")]
    PinLocked {
        /// `None`: locked until staff reset it.
        until: Option<DateTime<Utc>>,
    },
    #[error("PIN not set")]
    PinNotSet,
    #[error("idempotency key was used with a different request")]
    IdempotencyMismatch,
    #[error("internal: {0}")]
    Internal(String),
    #[error(transparent)]
    Identity(#[from] dms_identity::IdentityError),
    #[error(transparent)]
    Db(#[from] DieselError),
}

impl MembershipError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        MembershipError::Invalid {
            field,
            message: message.into(),
        }
    }

    pub fn conflict(field: &'static str, message: impl Into<String>) -> Self {
        MembershipError::Conflict {
            field,
            message: message.into(),
        }
    }

    /// A conflict the engine would report as a serialization failure if it noticed it first
    /// (two transactions inserting the same idempotency key): retrying sees the winner's row.
    pub(crate) fn retry_conflict() -> Self {
        MembershipError::Db(DieselError::DatabaseError(
            DatabaseErrorKind::SerializationFailure,
            Box::new("concurrent insert of the same key".to_string()),
        ))
    }
}

impl dms_db::TxError for MembershipError {
    fn diesel_error(&self) -> Option<&DieselError> {
        match self {
            MembershipError::Db(e) => Some(e),
            MembershipError::Identity(dms_identity::IdentityError::Db(e)) => Some(e),
            _ => None,
        }
    }
}

pub type Result<T, E = MembershipError> = std::result::Result<T, E>;
