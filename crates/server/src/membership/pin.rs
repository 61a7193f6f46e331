//! Card PINs. The PIN travels only in request bodies; it is never echoed, logged or put in an
//! error (the bodies' `Debug` is redacted and the domain's `Pin` never prints). Without a
//! configured pepper these answer 503 `pin_unavailable`.

use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::{path_id, Body};
use crate::AppState;
use actix_web::{post, put, web, HttpResponse};
use dms_api_types::membership::{ResetPinRequest, SetPinRequest, VerifyPinRequest};
use dms_api_types::Problem;
use dms_core::SystemClock;
use dms_identity::Permission;
use dms_membership as m;

/// Sets or changes a card's PIN.
#[utoipa::path(
    tag = "membership",
    description = "Sets the PIN of a card that has none, or changes it when `old_pin` is the current one (a wrong `old_pin` counts toward the lock). Six digits, stored as argon2id with a pepper kept outside the database; never echoed. Audited (without the PIN).\n\n**Permission:** `membership.cards`.",
    params(("id" = String, Path, description = "Card id")),
    request_body = SetPinRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "PIN set"),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A PIN is already set (send `old_pin`), the PIN is locked, or the card is blocked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not six digits, or wrong `old_pin`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "PINs are not configured on this server", body = Problem, content_type = "application/problem+json")
    )
)]
#[put("/cards/{id}/pin")]
pub async fn set_pin(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<SetPinRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipCards)?;
    let id = path_id(&id, "card")?;
    let policy = state.membership.pin_policy()?;
    let new = m::Pin::new(&body.0.pin)?;
    let old = body.0.old_pin.as_deref().map(m::Pin::new).transpose()?;
    let actor = staff.actor();
    state
        .db(move |c| {
            match &old {
                Some(old) => {
                    m::change_pin(c, &actor, &scope, &SystemClock, &policy, &id, old, &new)?
                }
                None => m::set_pin(c, &actor, &scope, &SystemClock, &policy, &id, &new)?,
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Staff reset of a card's PIN.
#[utoipa::path(
    tag = "membership",
    description = "Clears the failure count and both locks, and sets `new_pin` (or clears the PIN so the member sets one). Needs a reason. Audited (without the PIN).\n\n**Permission:** `membership.cards`.",
    params(("id" = String, Path, description = "Card id")),
    request_body = ResetPinRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "PIN reset"),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The card is closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Reason missing, or the new PIN is not six digits", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "PINs are not configured on this server", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/cards/{id}/pin/reset")]
pub async fn reset_pin(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<ResetPinRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipCards)?;
    let id = path_id(&id, "card")?;
    let policy = state.membership.pin_policy()?;
    let new = body.0.new_pin.as_deref().map(m::Pin::new).transpose()?;
    let reason = body.0.reason.clone();
    let actor = staff.actor();
    state
        .db(move |c| {
            m::reset_pin(
                c,
                &actor,
                &scope,
                &SystemClock,
                &policy,
                &id,
                new.as_ref(),
                &reason,
            )?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Checks a PIN the member typed.
#[utoipa::path(
    tag = "membership",
    description = "204 when right. A wrong PIN is a 422 `wrong_pin` with the attempts left; 5 consecutive failures lock it for 30 minutes and 10 until staff reset it (409 `pin_locked`). The counter survives restarts and counts concurrent guesses.\n\n**Permission:** `membership.checkout`.",
    params(("id" = String, Path, description = "Card id")),
    request_body = VerifyPinRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The PIN is right"),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "PIN locked or not set", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong PIN, or not six digits", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "PINs are not configured on this server", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/cards/{id}/pin/verify")]
pub async fn verify_pin(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<VerifyPinRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipCheckout)?;
    let id = path_id(&id, "card")?;
    let policy = state.membership.pin_policy()?;
    let pin = m::Pin::new(&body.0.pin)?;
    state
        .db(move |c| {
            m::verify_pin(c, &scope, &SystemClock, &policy, &id, &pin)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
