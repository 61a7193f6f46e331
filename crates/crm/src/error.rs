//! The one error type of the CRM. `NotFound` covers both "missing" and "outside your stores"
//! (404-not-403), so a caller cannot probe for rows it may not see.

use dms_db::diesel::result::Error as DieselError;
use dms_identity::IdentityError;

/// What kind of evidence makes two customer records look like the same person or company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    Phone,
    IdNumber,
    Vin,
}

/// An existing customer a new record probably duplicates, once per field that matched.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DuplicateMatch {
    pub customer_id: String,
    pub store_id: String,
    pub name: String,
    pub matched_on: MatchKind,
    /// The field of the request that matched: `phone`, `other_phones[i].phone`, `id_number`,
    /// `vins[i]` (for a bare [`crate::DuplicateProbe`]: `phones[i]`, `id_number`, `vins[i]`).
    pub field: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CrmError {
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
    /// Creating the record would probably duplicate these customers; the caller may merge, or
    /// retry with `allow_duplicate` once a person has looked.
    #[error("likely duplicate of {} existing customer(s)", matches.len())]
    DuplicateSuspected { matches: Vec<DuplicateMatch> },
    /// A message provider (SMTP relay, SMS gateway) refused or could not be reached.
    #[error("delivery failed: {0}")]
    Delivery(String),
    /// The statistics file could not be written (a spreadsheet or CSV library error).
    #[error("export failed: {0}")]
    Export(String),
    #[error(transparent)]
    Db(#[from] DieselError),
    #[error(transparent)]
    Identity(Box<IdentityError>),
}

impl CrmError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        CrmError::Invalid {
            field,
            message: message.into(),
        }
    }

    pub fn conflict(field: &'static str, message: impl Into<String>) -> Self {
        CrmError::Conflict {
            field,
            message: message.into(),
        }
    }
}

impl From<IdentityError> for CrmError {
    fn from(e: IdentityError) -> Self {
        // Keep database errors as such so that `write_tx` can still retry conflicts raised
        // inside `record_audit`.
        match e {
            IdentityError::Db(d) => CrmError::Db(d),
            other => CrmError::Identity(Box::new(other)),
        }
    }
}

impl dms_db::TxError for CrmError {
    fn diesel_error(&self) -> Option<&DieselError> {
        match self {
            CrmError::Db(e) => Some(e),
            _ => None,
        }
    }
}
