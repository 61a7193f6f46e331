//! Domain errors as HTTP problems. A business rule is never a 500: each has its own stable
//! code (`insufficient_balance`, `card_lost`, `pin_locked`, `idempotency_key_reused`...). A PIN
//! never appears here: the domain's errors do not carry it.

use crate::error::{field_error, ApiError};
use actix_web::http::StatusCode;
use dms_membership::MembershipError;

fn rule(
    status: StatusCode,
    code: &'static str,
    title: String,
    field: Option<(&str, &str)>,
) -> ApiError {
    ApiError::Rule {
        status,
        code,
        title,
        field: field.map(|(f, m)| field_error(f, code, m)),
    }
}

impl From<MembershipError> for ApiError {
    fn from(e: MembershipError) -> Self {
        match e {
            MembershipError::NotFound(what) => ApiError::NotFound(what),
            MembershipError::Invalid { field, message } => {
                ApiError::invalid(field, "invalid", message)
            }
            MembershipError::Conflict { field, message } => {
                ApiError::Conflict(field_error(field, "conflict", message))
            }
            MembershipError::Forbidden(why) => ApiError::Forbidden(why),
            MembershipError::InsufficientBalance {
                what,
                needed,
                available,
            } => {
                let code = if what.contains("point") {
                    "insufficient_points"
                } else if what.contains("stock") {
                    "insufficient_stock"
                } else {
                    "insufficient_balance"
                };
                rule(
                    StatusCode::CONFLICT,
                    code,
                    format!("insufficient {what}: needed {needed}, available {available}"),
                    None,
                )
            }
            MembershipError::CardBlocked { status } => {
                let code = match status.as_str() {
                    "lost" => "card_lost",
                    "frozen" => "card_frozen",
                    _ => "card_closed",
                };
                rule(
                    StatusCode::CONFLICT,
                    code,
                    format!("the card is {status}"),
                    None,
                )
            }
            MembershipError::CardExpired => rule(
                StatusCode::CONFLICT,
                "card_expired",
                "the card has expired".into(),
                None,
            ),
            MembershipError::WrongPin { attempts_left } => rule(
                StatusCode::UNPROCESSABLE_ENTITY,
                "wrong_pin",
                format!("wrong PIN; {attempts_left} attempts left before it locks"),
                Some(("pin", "wrong PIN")),
            )
            .with_member("attempts_left", attempts_left),
            MembershipError::PinLocked { until } => rule(
                StatusCode::CONFLICT,
                "pin_locked",
                match until {
                    Some(t) => {
                        format!("the PIN is locked until {}", t.format("%Y-%m-%dT%H:%M:%SZ"))
                    }
                    None => "the PIN is locked until staff reset it".into(),
                },
                None,
            ),
            MembershipError::PinNotSet => rule(
                StatusCode::CONFLICT,
                "pin_not_set",
                "the card has no PIN yet".into(),
                None,
            ),
            MembershipError::IdempotencyMismatch => rule(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different request".into(),
                Some((
                    crate::extract::IDEMPOTENCY_HEADER,
                    "use a new key for a different request",
                )),
            ),
            MembershipError::Identity(e) => e.into(),
            MembershipError::Db(e) if dms_db::is_retryable(&e) => {
                log::warn!("membership: write conflict persisted after retries: {e}");
                ApiError::Unavailable("busy with concurrent updates; try again".into())
            }
            MembershipError::Db(e) if dms_db::is_unique_violation(&e) => ApiError::Conflict(
                field_error("body", "conflict", "conflicts with an existing record"),
            ),
            MembershipError::Db(e) if crate::error::is_foreign_key_violation(&e) => {
                crate::error::unknown_reference()
            }
            MembershipError::Db(e) => ApiError::Internal(format!("membership database: {e}")),
            MembershipError::Internal(why) => ApiError::Internal(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::ResponseError;

    fn status_code(e: MembershipError) -> (u16, String) {
        let api = ApiError::from(e);
        (api.status_code().as_u16(), api.problem().code)
    }

    #[test]
    fn business_rules_have_their_own_codes_and_are_never_500() {
        let cases = [
            (
                MembershipError::InsufficientBalance {
                    what: "stored value",
                    needed: "10.00".into(),
                    available: "5.00".into(),
                },
                409,
                "insufficient_balance",
            ),
            (
                MembershipError::InsufficientBalance {
                    what: "redeemable points",
                    needed: "500".into(),
                    available: "1".into(),
                },
                409,
                "insufficient_points",
            ),
            (
                MembershipError::CardBlocked {
                    status: "lost".into(),
                },
                409,
                "card_lost",
            ),
            (
                MembershipError::CardBlocked {
                    status: "replaced".into(),
                },
                409,
                "card_closed",
            ),
            (MembershipError::CardExpired, 409, "card_expired"),
            (
                MembershipError::WrongPin { attempts_left: 3 },
                422,
                "wrong_pin",
            ),
            (
                MembershipError::PinLocked { until: None },
                409,
                "pin_locked",
            ),
            (MembershipError::PinNotSet, 409, "pin_not_set"),
            (
                MembershipError::IdempotencyMismatch,
                422,
                "idempotency_key_reused",
            ),
            (MembershipError::NotFound("card"), 404, "not_found"),
            (
                MembershipError::invalid("amount", "must be greater than zero"),
                422,
                "validation_failed",
            ),
            (
                MembershipError::conflict("coupons", "coupon already used"),
                409,
                "conflict",
            ),
        ];
        for (e, status, code) in cases {
            assert_eq!(status_code(e), (status, code.to_string()));
        }
    }

    #[test]
    fn a_short_pepper_is_refused() {
        let mut s = super::super::Settings::default();
        let env = |k: &str| (k == "DMS_PIN_PEPPER").then(|| "short".to_string());
        assert!(s.apply_env(&env).is_err());
        let env = |k: &str| (k == "DMS_PIN_PEPPER").then(|| "0123456789abcdef".to_string());
        assert!(s.apply_env(&env).is_ok());
        assert!(super::super::DomainState::new(&s).is_ok());
        assert!(!format!("{s:?}").contains("0123456789abcdef"));
    }
}
