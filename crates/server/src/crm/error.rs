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
                // One entry in `errors` per field that matched (`phone`, `other_phones[i].phone`,
                // `id_number`, `vins[i]`), its message naming every customer it matched as
                // `customer id (name)`, so the caller can open them (or merge).
                let mut fields: Vec<(String, Vec<String>)> = Vec::new();
                for m in &matches {
                    let who = format!("{} ({})", m.customer_id, m.name);
                    let field = if m.field.is_empty() {
                        match_field(m.matched_on).to_string()
                    } else {
                        m.field.clone()
                    };
                    match fields.iter_mut().find(|(f, _)| *f == field) {
                        Some((_, w)) if !w.contains(&who) => w.push(who),
                        Some(_) => {}
                        None => fields.push((field, vec![who])),
                    }
                }
                let customers: std::collections::BTreeSet<&str> =
                    matches.iter().map(|m| m.customer_id.as_str()).collect();
                let list = fields
                    .iter()
                    .map(|(f, w)| format!("{f}={}", w.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ");
                ApiError::RuleFields {
                    status: StatusCode::CONFLICT,
                    code: "duplicate_suspected",
                    title: format!(
                        "likely the same customer as {} existing record(s): {list}",
                        customers.len()
                    ),
                    fields: fields
                        .into_iter()
                        .map(|(f, w)| {
                            field_error(
                                &f,
                                "duplicate_suspected",
                                format!("already on customer {}", w.join(", ")),
                            )
                        })
                        .collect(),
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
