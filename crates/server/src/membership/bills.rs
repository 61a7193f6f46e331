//! Pending bills (`/bills`) the cashier prepares for the card terminal, and the terminal's own
//! reads (`/kiosk/summary`, `/kiosk/requests/{key}`). Which card a terminal may name is checked
//! before these handlers run (see `crate::auth`); the body's `card_id` is checked here.

use super::dto::{self, body_id, replayable};
use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::{page_request, path_id, Body, IdempotencyKey, QueryParams};
use crate::AppState;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use dms_api_types::devices::{
    BillDto, BillListParams, BillPage, CreateBillRequest, KioskCouponDto, KioskSummaryDto,
    PayBillRequest, RequestOutcomeDto,
};
use dms_api_types::membership::{BasketLineDto, ReceiptDto};
use dms_api_types::{PageParams, Problem};
use dms_core::SystemClock;
use dms_db::from_db_time;
use dms_identity::Permission;
use dms_membership as m;
use dms_membership::pending_bills as bills;

fn bill_dto(b: bills::PendingBill) -> BillDto {
    let total = b.total();
    BillDto {
        id: b.row.id,
        store_id: b.row.store_id,
        card_id: b.row.card_id,
        reference: b.row.reference,
        lines: b
            .lines
            .into_iter()
            .map(|l| BasketLineDto {
                category: dto::category_out(l.category),
                item_code: l.item_code,
                description: l.description,
                quantity: l.quantity.normalize().to_string(),
                unit_price: dto::money(l.unit_price),
                insurer_paid: l.insurer_paid,
            })
            .collect(),
        total: dto::money(total),
        status: b.row.status,
        checkout_id: b.row.checkout_id,
        created_by: b.row.created_by,
        created_at: from_db_time(b.row.created_at),
    }
}

/// Keeps the first character of a name: enough for the member to recognise it on a screen
/// others can see.
pub(crate) fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        None => "**".into(),
        Some(first) => format!("{first}{}", "*".repeat(chars.count().clamp(1, 3))),
    }
}

/// The cashier prepares a bill for the terminal.
#[utoipa::path(
    tag = "membership",
    description = "待付账单: a basket the cashier prepares at the desk, for the member to pay at the card terminal (`POST /bills/{id}/pay`). \
With `card_id` only that card may pay it. Audited.\n\n**Permission:** `membership.checkout`.",
    request_body = CreateBillRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = BillDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such store or card among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/bills")]
pub async fn create_bill(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<CreateBillRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipCheckout)?;
    let b = body.0;
    let bill = bills::NewBill {
        store_id: body_id("store_id", &b.store_id)?,
        card_id: dto::opt_body_id("card_id", b.card_id.as_ref())?,
        reference: b.reference,
        lines: dto::lines_in(&b.lines)?,
    };
    let actor = staff.actor();
    let r = state
        .db(move |c| Ok(bills::create_bill(c, &actor, &scope, &SystemClock, &bill)?))
        .await?;
    Ok(HttpResponse::Created().json(bill_dto(r)))
}

/// Pending bills of the caller's stores.
#[utoipa::path(
    tag = "membership",
    description = "Oldest first; `status` defaults to `open`. With `card_id`: the bills for that card and those for any card.\n\n**Permission:** `membership.read` (a card terminal: its own store).",
    params(BillListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = BillPage),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cursor, limit, status or id", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/bills")]
pub async fn list_bills(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<BillListParams>,
) -> Result<web::Json<BillPage>, ApiError> {
    let scope = staff.require(Permission::MembershipRead)?;
    let q = q.0;
    let page = page_request(&PageParams {
        cursor: q.cursor,
        limit: q.limit,
    })?;
    let store = dto::opt_body_id("store_id", q.store_id.as_ref())?;
    let card = dto::opt_body_id("card_id", q.card_id.as_ref())?;
    let status = q.status.unwrap_or_else(|| "open".into());
    let (rows, next) = state
        .db(move |c| {
            Ok(bills::list_bills(
                c,
                &scope,
                store.as_deref(),
                card.as_deref(),
                &status,
                &page,
            )?)
        })
        .await?;
    Ok(web::Json(BillPage {
        items: rows.into_iter().map(bill_dto).collect(),
        next_cursor: next,
    }))
}

/// One pending bill.
#[utoipa::path(
    tag = "membership",
    description = "**Permission:** `membership.read` (a card terminal: its own store).",
    params(("id" = String, Path, description = "Bill id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = BillDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such bill among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/bills/{id}")]
pub async fn get_bill(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<BillDto>, ApiError> {
    let scope = staff.require(Permission::MembershipRead)?;
    let id = path_id(&id, "bill")?;
    let b = state
        .db(move |c| Ok(bills::get_bill(c, &scope, &id)?))
        .await?;
    Ok(web::Json(bill_dto(b)))
}

/// Cancels an open bill.
#[utoipa::path(
    tag = "membership",
    description = "The cashier withdraws a bill that was not paid. Audited.\n\n**Permission:** `membership.checkout`.",
    params(("id" = String, Path, description = "Bill id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = BillDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such bill among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already paid or cancelled", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/bills/{id}/cancel")]
pub async fn cancel_bill(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<BillDto>, ApiError> {
    let scope = staff.require(Permission::MembershipCheckout)?;
    let id = path_id(&id, "bill")?;
    let actor = staff.actor();
    let b = state
        .db(move |c| Ok(bills::cancel_bill(c, &actor, &scope, &SystemClock, &id)?))
        .await?;
    Ok(web::Json(bill_dto(b)))
}

/// Pays a pending bill with a card.
#[utoipa::path(
    tag = "membership",
    description = "A checkout of the bill's lines with this card (tier discount, coupons, points, tenders as `POST /checkouts`); the bill is marked paid in the same transaction, so it is paid once: \
a retry with the same `Idempotency-Key` answers the first receipt with `Idempotent-Replayed: true`, another payment is a 409. A card terminal must send the PIN, its own `terminal_id` and the card it read (`X-Card-Uid`).\n\n**Permission:** `membership.checkout`.",
    params(("id" = String, Path, description = "Bill id"), ("Idempotency-Key" = String, Header, description = "Once per attempt, e.g. a UUID")),
    request_body = PayBillRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = ReceiptDto, headers(("Idempotent-Replayed" = String, description = "`true` on a replayed answer"))),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such bill or card among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Bill already paid or for another card, insufficient balance, card blocked, PIN locked, chip UID of another card", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, tenders not matching, wrong or missing PIN, missing Idempotency-Key or card UID", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A PIN was given but PINs are not configured", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/bills/{id}/pay")]
pub async fn pay_bill(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: Body<PayBillRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipCheckout)?;
    let b = body.0;
    staff.check_card(&b.card_id, b.terminal_id.as_deref())?;
    staff.require_pin(b.pin.is_some())?;
    let pin = match &b.pin {
        Some(p) => Some((state.membership.pin_policy()?, m::Pin::new(p)?)),
        None => None,
    };
    let pay = bills::PayBill {
        bill_id: path_id(&id, "bill")?,
        card_id: body_id("card_id", &b.card_id)?,
        terminal_id: staff.terminal_id(b.terminal_id.as_deref()),
        coupon_ids: dto::coupon_ids_in(&b.coupon_ids)?,
        redeem_points: b.redeem_points,
        tenders: dto::tenders_in(&b.tenders)?,
    };
    let actor = staff.actor();
    let r = state
        .db_write(move |c| {
            Ok(bills::pay_bill(
                c,
                &actor,
                &scope,
                &SystemClock,
                &key.0,
                &pay,
                pin.as_ref().map(|(policy, pin)| (policy, pin)),
            )?)
        })
        .await?;
    Ok(replayable(StatusCode::CREATED, r, dto::receipt_dto))
}

#[derive(Debug, serde::Deserialize, validator::Validate, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryParams {
    /// Staff only: the card to show (a terminal shows the card it read, `X-Card-Uid`).
    pub card_id: Option<String>,
}

/// What the kiosk shows after a tap.
#[utoipa::path(
    tag = "membership",
    description = "The member summary of the card terminal: masked name, tier, balances, points and usable coupons of the card whose chip it read (`X-Card-Uid`), checked active and unexpired. \
Staff name the card with `card_id`.\n\n**Permission:** `membership.read` (a card terminal: the card it read).",
    params(SummaryParams, ("X-Card-Uid" = Option<String>, Header, description = "The chip UID a card terminal read")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = KioskSummaryDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Card lost, frozen, closed or expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No card named, or a terminal sent no card UID", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/kiosk/summary")]
pub async fn kiosk_summary(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<SummaryParams>,
) -> Result<web::Json<KioskSummaryDto>, ApiError> {
    let scope = staff.require(Permission::MembershipRead)?;
    let tapped = staff.device.as_ref().and_then(|d| d.card.clone());
    let card_id = match (&tapped, &q.0.card_id) {
        (Some(_), _) => None,
        (None, Some(id)) => Some(body_id("card_id", id)?),
        (None, None) => {
            return Err(ApiError::invalid(
                "card_id",
                "required",
                "which card to show",
            ))
        }
    };
    let v = state
        .db(move |c| {
            let card = match (tapped, card_id) {
                (Some(card), _) => card,
                (None, Some(id)) => m::get_card(c, &scope, &id)?,
                (None, None) => return Err(ApiError::NotFound("card")),
            };
            Ok(bills::kiosk_view(c, &scope, &SystemClock, &card)?)
        })
        .await?;
    Ok(web::Json(KioskSummaryDto {
        masked_name: mask_name(&v.customer_name),
        member_id: v.member.id.clone(),
        tier_code: v.member.tier_code.clone(),
        tier_name: v.tier_name,
        tier_points: v.member.tier_points,
        redeemable_points: v.member.redeemable_points,
        coupons: v
            .coupons
            .into_iter()
            .map(|(id, name)| KioskCouponDto { id, name })
            .collect(),
        store_name: v.store_name,
        pin_set: v.pin_set,
        card: dto::card_dto(v.card),
    }))
}

/// What became of a money request the caller sent.
#[utoipa::path(
    tag = "membership",
    description = "For the card terminal's journal: whether a checkout, bill payment or top-up the caller sent with this `Idempotency-Key` was done (`completed`, with its receipt or top-up) \
or never reached the server (`unknown`: nothing moved). Only the caller's own keys, kept 72 hours.\n\n**Permission:** `membership.read`.",
    params(("key" = String, Path, description = "The Idempotency-Key that was sent")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = RequestOutcomeDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a valid key", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/kiosk/requests/{key}")]
pub async fn request_outcome(
    state: web::Data<AppState>,
    staff: Staff,
    key: web::Path<String>,
) -> Result<web::Json<RequestOutcomeDto>, ApiError> {
    staff.require(Permission::MembershipRead)?;
    let key = key.into_inner();
    let actor = staff.actor();
    let k = key.clone();
    let found = state
        .db(move |c| Ok(bills::request_outcome(c, &actor, &k)?))
        .await?;
    let bad = |e: serde_json::Error| ApiError::Internal(format!("stored result: {e}"));
    let mut out = RequestOutcomeDto {
        key,
        status: "unknown".into(),
        operation: None,
        receipt: None,
        top_up: None,
    };
    if let Some((op, result)) = found {
        out.status = "completed".into();
        match op.as_str() {
            "checkout" => {
                let r: m::Receipt = serde_json::from_str(&result).map_err(bad)?;
                out.receipt = Some(dto::receipt_dto(r));
                out.operation = Some("checkout".into());
            }
            "topup" => {
                let r: m::TopUpResult = serde_json::from_str(&result).map_err(bad)?;
                out.top_up = Some(dto::top_up_dto(r));
                out.operation = Some("top_up".into());
            }
            other => out.operation = Some(other.to_string()),
        }
    }
    Ok(web::Json(out))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_bill)
        .service(list_bills)
        .service(get_bill)
        .service(cancel_bill)
        .service(pay_bill)
        .service(kiosk_summary)
        .service(request_outcome);
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_keep_their_first_character() {
        assert_eq!(super::mask_name("张伟"), "张*");
        assert_eq!(super::mask_name("欧阳娜娜"), "欧***");
        assert_eq!(super::mask_name(""), "**");
    }
}
