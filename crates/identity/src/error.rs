use dms_db::diesel::result::Error as DieselError;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The row does not exist or lies outside what the caller may see: both read as 404.
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
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("session is no longer valid")]
    SessionInvalid,
    #[error("too many attempts")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("login codes cannot be delivered: {0}")]
    SenderUnavailable(String),
    #[error("password hashing failed")]
    Hash,
    #[error(transparent)]
    Db(#[from] DieselError),
    #[error(transparent)]
    Pool(#[from] dms_db::DbError),
}

impl IdentityError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        IdentityError::Invalid {
            field,
            message: message.into(),
        }
    }
}

impl dms_db::TxError for IdentityError {
    fn diesel_error(&self) -> Option<&DieselError> {
        match self {
            IdentityError::Db(e) => Some(e),
            _ => None,
        }
    }
}
