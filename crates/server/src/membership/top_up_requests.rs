//! Top-up requests (待确认充值): the card terminal asks for a top-up of the card it read
//! (`/kiosk/top-up-requests`), the cashier confirms it once the money is in hand
//! (`/top-up-requests/{id}/confirm`), which performs the top-up, and the terminal polls its
//! request to print the receipt. The rules are `dms_membership::top_up_requests`'.

use super::dto::{self, body_id, replayable};
use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::{page_request, path_id, Body, IdempotencyKey, QueryParams};
use crate::AppState;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use dms_api_types::devices::{
    ConfirmTopUpRequest, KioskTopUpRequest, TopUpRequestDto, TopUpRequestListParams,
    TopUpRequestPage,
};
use dms_api_types::membership::{PaymentMethod, ReasonRequest};
use dms_api_types::{PageParams, Problem};
use dms_core::SystemClock;
use dms_db::from_db_time;
use dms_identity::Permission;
use dms_membership::top_up_requests as tur;
use dms_membership::MembershipError;

fn payment_out(p: dms_membership::PaymentMethod) -> PaymentMethod {
    match p {
        dms_membership::PaymentMethod::Cash => PaymentMethod::Cash,
        dms_membership::PaymentMethod::BankCard => PaymentMethod::BankCard,
        dms_membership::PaymentMethod::Transfer => PaymentMethod::Transfer,
        dms_membership::PaymentMethod::Online => PaymentMethod::Online,
    }
}

/// The body of a request; `masked`: for a terminal, the holder's name is masked.
pub(crate) fn request_dto(r: tur::TopUpRequest, masked: bool) -> TopUpRequestDto {
    TopUpRequestDto {
        member_name: if masked {
            super::bills::mask_name(&r.customer_name)
        } else {
            r.customer_name
        },
        id: r.id,
        store_id: r.store_id,
        device_id: r.device_id,
        device_name: r.device_name,
        card_id: r.card_id,
        masked_card_no: r.masked_card_no,
        amount: dto::money(r.amount),
        expected_bonus: dto::money(r.expected_bonus),
        payment_method: payment_out(r.payment_method),
        received_method: r.received_method.map(payment_out),
        status: r.status,
        requested_at: from_db_time(r.requested_at),
        expires_at: from_db_time(r.expires_at),
        decided_at: r.decided_at.map(from_db_time),
        decided_by: r.decided_by,
        cancel_reason: r.cancel_reason,
        reference: r.reference,
        top_up: r.top_up.map(dto::top_up_dto),
    }
}

/// A refusal of the rules as its own 409 code; everything else as the club's errors map.
fn refused(e: MembershipError) -> ApiError {
    match tur::Refusal::of(&e) {
        Some(r) => ApiError::Rule {
            status: StatusCode::CONFLICT,
            code: r.code(),
            title: r.message().into(),
            field: Some(crate::error::field_error(r.field(), r.code(), r.message())),
        },
        None => e.into(),
    }
}

/// The calling terminal, or 403 for anyone else.
fn terminal(staff: &Staff) -> Result<(String, String), ApiError> {
    staff
        .device
        .as_ref()
        .map(|d| (d.device.id.clone(), d.device.name.clone()))
        .ok_or_else(|| ApiError::Forbidden("only a card terminal asks for a top-up".into()))
}

/// The kiosk asks for a top-up of the card it read.
#[utoipa::path(
    tag = "membership",
    description = "待确认充值: a card terminal may not credit a card (it cannot see the cash or the bank-card slip), so it asks; the cashier confirms the request once the money is in hand \
(`POST /top-up-requests/{id}/confirm`) and the terminal polls `GET /kiosk/top-up-requests/{id}` for the top-up to print. The card is the one whose chip it read (`X-Card-Uid`), usable and of the terminal's store. \
A request waits 15 minutes, then reads as `expired`; a terminal has at most one pending request per card (a second is a 409 `top_up_request_pending` naming the first in `pending_request_id`). \
Needs the `Idempotency-Key` header: a retry answers the same request with `Idempotent-Replayed: true`. Audited.\n\n**Permission:** a card terminal's device token (`membership.checkout` in its store).",
    params(("Idempotency-Key" = String, Header, description = "Once per attempt, e.g. a UUID"), ("X-Card-Uid" = String, Header, description = "The chip UID the terminal read")),
    request_body = KioskTopUpRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = TopUpRequestDto, headers(("Idempotent-Replayed" = String, description = "`true` on a replayed answer"))),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a card terminal", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card in the terminal's store", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A pending request for this card already, card lost, frozen, closed or expired, chip UID of another card", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid amount or field, missing Idempotency-Key or card UID, or the key was used for another request", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/kiosk/top-up-requests")]
pub async fn kiosk_create(
    state: web::Data<AppState>,
    staff: Staff,
    key: IdempotencyKey,
    body: Body<KioskTopUpRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipCheckout)?;
    let (device_id, device_name) = terminal(&staff)?;
    let b = body.0;
    staff.check_card(&b.card_id, None)?;
    let req = tur::NewTopUpRequest {
        card_id: body_id("card_id", &b.card_id)?,
        amount: dto::parse_money("amount", &b.amount)?,
        payment_method: dto::payment_in(b.payment_method),
        device_id,
        device_name,
    };
    let actor = staff.actor();
    let r = state
        .db(
            move |c| match tur::create_request(c, &actor, &scope, &SystemClock, &key.0, &req) {
                Ok(r) => Ok(r),
                Err(e) if tur::Refusal::of(&e) == Some(tur::Refusal::Pending) => {
                    let first = tur::pending_request_of(
                        c,
                        &scope,
                        &SystemClock,
                        &req.device_id,
                        &req.card_id,
                    )?;
                    let err = refused(e);
                    Err(match first {
                        Some(id) => err.with_member("pending_request_id", id),
                        None => err,
                    })
                }
                Err(e) => Err(refused(e)),
            },
        )
        .await?;
    Ok(replayable(StatusCode::CREATED, r, |v| request_dto(v, true)))
}

/// The terminal reads its request back.
#[utoipa::path(
    tag = "membership",
    description = "The terminal polls its own request (once a second is fine): `pending` until the cashier confirms (`top_up` is then the receipt to print) or cancels it, or it expires. \
Another terminal's request is a 404.\n\n**Permission:** a card terminal's device token (`membership.checkout` in its store).",
    params(("id" = String, Path, description = "Top-up request id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = TopUpRequestDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a card terminal", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request of this terminal", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/kiosk/top-up-requests/{id}")]
pub async fn kiosk_get(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<TopUpRequestDto>, ApiError> {
    let scope = staff.require(Permission::MembershipCheckout)?;
    let (device_id, _) = terminal(&staff)?;
    let id = path_id(&id, "top-up request")?;
    let r = state
        .db(move |c| {
            Ok(tur::get_request(
                c,
                &scope,
                &SystemClock,
                &id,
                Some(&device_id),
            )?)
        })
        .await?;
    Ok(web::Json(request_dto(r, true)))
}

/// The terminal withdraws its pending request (the member walked away).
#[utoipa::path(
    tag = "membership",
    description = "Only a `pending` request, only the terminal's own. Audited.\n\n**Permission:** a card terminal's device token (`membership.checkout` in its store).",
    params(("id" = String, Path, description = "Top-up request id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = TopUpRequestDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a card terminal", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request of this terminal", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already confirmed, cancelled or expired", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/kiosk/top-up-requests/{id}/cancel")]
pub async fn kiosk_cancel(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<TopUpRequestDto>, ApiError> {
    let scope = staff.require(Permission::MembershipCheckout)?;
    let (device_id, _) = terminal(&staff)?;
    let id = path_id(&id, "top-up request")?;
    let actor = staff.actor();
    let r = state
        .db(move |c| {
            tur::cancel_request(c, &actor, &scope, &SystemClock, &id, Some(&device_id), None)
                .map_err(refused)
        })
        .await?;
    Ok(web::Json(request_dto(r, true)))
}

/// Top-up requests of the caller's stores.
#[utoipa::path(
    tag = "membership",
    description = "What the card terminals asked for, newest first; `status` filters (`pending`, `confirmed`, `cancelled`, `expired`; all when absent).\n\n**Permission:** `membership.topup`.",
    params(TopUpRequestListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = TopUpRequestPage),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cursor, limit, status or id", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/top-up-requests")]
pub async fn list(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<TopUpRequestListParams>,
) -> Result<web::Json<TopUpRequestPage>, ApiError> {
    let scope = staff.require(Permission::MembershipTopUp)?;
    let q = q.0;
    let page = page_request(&PageParams {
        cursor: q.cursor,
        limit: q.limit,
    })?;
    let store = dto::opt_body_id("store_id", q.store_id.as_ref())?;
    let status = q.status;
    let (rows, next) = state
        .db(move |c| {
            Ok(tur::list_requests(
                c,
                &scope,
                &SystemClock,
                store.as_deref(),
                status.as_deref(),
                &page,
            )?)
        })
        .await?;
    Ok(web::Json(TopUpRequestPage {
        items: rows.into_iter().map(|r| request_dto(r, false)).collect(),
        next_cursor: next,
    }))
}

/// One top-up request.
#[utoipa::path(
    tag = "membership",
    description = "**Permission:** `membership.topup` in the request's store.",
    params(("id" = String, Path, description = "Top-up request id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = TopUpRequestDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request among the caller's stores", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/top-up-requests/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<TopUpRequestDto>, ApiError> {
    let scope = staff.require(Permission::MembershipTopUp)?;
    let id = path_id(&id, "top-up request")?;
    let r = state
        .db(move |c| Ok(tur::get_request(c, &scope, &SystemClock, &id, None)?))
        .await?;
    Ok(web::Json(request_dto(r, false)))
}

/// The cashier confirms the money was received: the top-up happens now.
#[utoipa::path(
    tag = "membership",
    description = "确认收款: performs the top-up the terminal asked for (the same ledger path, bonus rules and audit as `POST /cards/{id}/top-ups`, with the payment method actually received, \
default the requested one) and marks the request confirmed, in one transaction and exactly once: a retry with the same `Idempotency-Key` answers the first result with `Idempotent-Replayed: true`; \
another confirmation is a 409 `already_confirmed`. A cancelled or expired request is a 409 (`already_cancelled`, `top_up_request_expired`).\n\n**Permission:** `membership.topup` in the request's store.",
    params(("id" = String, Path, description = "Top-up request id"), ("Idempotency-Key" = String, Header, description = "Once per attempt, e.g. a UUID")),
    request_body = ConfirmTopUpRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = TopUpRequestDto, headers(("Idempotent-Replayed" = String, description = "`true` on a replayed answer"))),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request among the caller's stores", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already confirmed or cancelled, expired, or the card is lost, frozen, closed or expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, missing Idempotency-Key, or the key was used for another request", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/top-up-requests/{id}/confirm")]
pub async fn confirm(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: Body<ConfirmTopUpRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipTopUp)?;
    let b = body.0;
    let req = tur::ConfirmTopUp {
        request_id: path_id(&id, "top-up request")?,
        payment_method: b.payment_method.map(dto::payment_in),
        reference: b.reference,
    };
    let actor = staff.actor();
    let r = state
        .db(move |c| {
            tur::confirm_request(c, &actor, &scope, &SystemClock, &key.0, &req).map_err(refused)
        })
        .await?;
    Ok(replayable(StatusCode::OK, r, |v| request_dto(v, false)))
}

/// The cashier cancels a pending request (no money came).
#[utoipa::path(
    tag = "membership",
    description = "Only a `pending` request; the reason is kept and shown to the terminal. Audited.\n\n**Permission:** `membership.topup` in the request's store.",
    params(("id" = String, Path, description = "Top-up request id")),
    request_body = ReasonRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = TopUpRequestDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request among the caller's stores", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already confirmed, cancelled or expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or invalid reason", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/top-up-requests/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<ReasonRequest>,
) -> Result<web::Json<TopUpRequestDto>, ApiError> {
    let scope = staff.require(Permission::MembershipTopUp)?;
    let id = path_id(&id, "top-up request")?;
    let reason = body.0.reason;
    let actor = staff.actor();
    let r = state
        .db(move |c| {
            tur::cancel_request(c, &actor, &scope, &SystemClock, &id, None, Some(&reason))
                .map_err(refused)
        })
        .await?;
    Ok(web::Json(request_dto(r, false)))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(kiosk_create)
        .service(kiosk_get)
        .service(kiosk_cancel)
        .service(list)
        .service(get)
        .service(confirm)
        .service(cancel);
}
