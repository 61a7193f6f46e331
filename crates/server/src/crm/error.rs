//! CRM errors as HTTP. Business rules never become a 500; ID numbers never appear in a message
//! (the domain never puts them there, and database errors are reported without their values).

use crate::error::{field_error, ApiError};
use actix_web::http::StatusCode;
use dms_crm::{CrmError, MatchKind};
use dms_db::diesel::result::{DatabaseErrorKind, Error as DieselError};

fn match_field(k: MatchKind) -> &'static str {
    match k {
        MatchKind::Phone => "phone",
        MatchKind::IdNumber => "id_number",
        MatchKind::Vin => "vins",
    }
}

impl From<CrmError> for ApiError {
    fn from(e: CrmError) -> Self {
        match e {
            CrmError::NotFound(what) => ApiError::NotFound(what),
            CrmError::Invalid { field, message } => ApiError::invalid(field, "invalid", message),
            CrmError::Conflict { field, message } => {
                ApiError::Conflict(field_error(field, "conflict", message))
            }
            CrmError::Forbidden(why) => ApiError::Forbidden(why),
            CrmError::DuplicateSuspected { matches } => {
                // The problem's field list holds one entry (the first match's field); its message
                // names every match as `field=customer id (name)`, so the caller can open them
                // (or ask `POST /customers/duplicates` for the structured list).
                let field = matches
                    .first()
                    .map(|m| match_field(m.matched_on))
                    .unwrap_or("phone");
                let list = matches
                    .iter()
                    .map(|m| {
                        format!(
                            "{}={} ({})",
                            match_field(m.matched_on),
                            m.customer_id,
                            m.name
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                ApiError::Rule {
                    status: StatusCode::CONFLICT,
                    code: "duplicate_suspected",
                    title: format!(
                        "likely the same customer as {} existing record(s): {list}",
                        matches.len()
                    ),
                    field: Some(field_error(field, "duplicate_suspected", list)),
                }
            }
            CrmError::Delivery(why) => {
                log::warn!("crm delivery: {why}");
                ApiError::Unavailable("the message provider could not be reached".into())
            }
            CrmError::Export(why) => ApiError::Internal(format!("crm export: {why}")),
            CrmError::Db(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                ApiError::Conflict(field_error(
                    "id",
                    "conflict",
                    "a concurrent change got there first; reload and retry",
                ))
            }
            CrmError::Db(DieselError::NotFound) => ApiError::NotFound("row"),
            CrmError::Db(e) if crate::error::is_foreign_key_violation(&e) => {
                crate::error::unknown_reference()
            }
            CrmError::Db(other) => ApiError::Internal(format!("crm database: {other}")),
            CrmError::Identity(b) => ApiError::from(*b),
        }
    }
}
