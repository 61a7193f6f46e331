//! Cards: issue (one or a batch), look up by number or chip, report lost, unblock, freeze,
//! expiry, replace, return, and the card's stored-value transactions.

use super::dto::{self, body_id, card_dto, payment_in, replayable, Viewer};
use crate::auth::{Caller, Staff};
use crate::error::ApiError;
use crate::extract::{page_request, path_id, Body, IdempotencyKey, QueryParams};
use crate::AppState;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use dms_api_types::membership::{
    BatchIssueCardsRequest, CardDto, CardListDto, CardLookupParams, CardTransactionPage,
    ChangeExpiryRequest, IssueCardRequest, ReasonRequest, ReplaceCardDto, ReplaceCardRequest,
    ReturnCardDto, ReturnCardRequest,
};
use dms_api_types::{PageParams, Problem};
use dms_core::SystemClock;
use dms_identity::Permission;
use dms_membership as m;

fn issue_in(b: &IssueCardRequest, prefix: &str) -> Result<m::IssueCard, ApiError> {
    Ok(m::IssueCard {
        member_id: body_id(&format!("{prefix}member_id"), &b.member_id)?,
        card_no: b.card_no.clone(),
        chip_uid: b.chip_uid.clone(),
        expires_at: b.expires_at,
    })
}

/// Issues a card to a member.
#[utoipa::path(
    tag = "membership",
    description = "发卡: issues a card to a member, with a pre-printed number or a generated one, optionally bound to a chip UID. Audited.\n\n**Permission:** `membership.cards`.",
    request_body = IssueCardRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = CardDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Card number or chip already in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/cards")]
pub async fn issue(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<IssueCardRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipCards)?;
    let req = issue_in(&body.0, "")?;
    let actor = staff.actor();
    let card = state
        .db(move |c| Ok(m::issue_card(c, &actor, &scope, &SystemClock, &req)?))
        .await?;
    Ok(HttpResponse::Created().json(card_dto(card)))
}

/// Issues many cards at once, all or none.
#[utoipa::path(
    tag = "membership",
    description = "Batch issue: 1-1000 cards, all issued or none (the first bad one is named).\n\n**Permission:** `membership.cards`.",
    request_body = BatchIssueCardsRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = CardListDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A member is not among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A card number or chip is already in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/cards/batch")]
pub async fn issue_batch(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<BatchIssueCardsRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipCards)?;
    let reqs = body
        .0
        .cards
        .iter()
        .enumerate()
        .map(|(i, b)| issue_in(b, &format!("cards[{i}].")))
        .collect::<Result<Vec<_>, _>>()?;
    let actor = staff.actor();
    let cards = state
        .db(move |c| {
            Ok(m::issue_cards_batch(
                c,
                &actor,
                &scope,
                &SystemClock,
                &reqs,
            )?)
        })
        .await?;
    Ok(HttpResponse::Created().json(CardListDto {
        items: cards.into_iter().map(card_dto).collect(),
    }))
}

/// Finds a card by its printed number or its chip.
#[utoipa::path(
    tag = "membership",
    description = "For the card reader and the cashier's search: exactly one of `number` and `chip_uid`.\n\n**Permission:** `membership.read`.",
    params(CardLookupParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CardDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither or both parameters", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/cards/lookup")]
pub async fn lookup(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<CardLookupParams>,
) -> Result<web::Json<CardDto>, ApiError> {
    let scope = staff.require(Permission::MembershipRead)?;
    let q = q.0;
    let card = state
        .db(move |c| match (&q.number, &q.chip_uid) {
            (Some(n), None) => Ok(m::card_by_number(c, &scope, n)?),
            (None, Some(u)) => Ok(m::card_by_chip(c, &scope, u)?),
            _ => Err(ApiError::invalid(
                "number",
                "one_of",
                "give exactly one of number and chip_uid",
            )),
        })
        .await?;
    Ok(web::Json(card_dto(card)))
}

/// One card with its balances.
#[utoipa::path(
    tag = "membership",
    description = "Status, expiry and balances (principal, bonus).\n\n**Permission:** `membership.read` in the card's store, or the card holder's own customer token. Anything else reads as 404.",
    params(("id" = String, Path, description = "Card id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CardDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/cards/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<CardDto>, ApiError> {
    let viewer = Viewer::of(&caller)?;
    let id = path_id(&id, "card")?;
    let card = state.db(move |c| viewer.card(c, &id)).await?;
    Ok(web::Json(card_dto(card)))
}

/// A card's stored-value transactions.
#[utoipa::path(
    tag = "membership",
    description = "Every stored-value movement of the card, newest first; their amounts sum to the card's balance.\n\n**Permission:** `membership.read` in the card's store, or the card holder's own customer token.",
    params(("id" = String, Path, description = "Card id"), PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CardTransactionPage),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cursor or limit", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/cards/{id}/transactions")]
pub async fn transactions(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    q: QueryParams<PageParams>,
) -> Result<web::Json<CardTransactionPage>, ApiError> {
    let viewer = Viewer::of(&caller)?;
    let id = path_id(&id, "card")?;
    let page = page_request(&q.0)?;
    let (rows, next) = state
        .db(move |c| {
            let card = viewer.card(c, &id)?;
            let (rows, next) = m::transactions_moving_card(c, &card.id, &page)?;
            let effects =
                dto::card_effects(c, &card.id, rows.iter().map(|t| t.id.clone()).collect())?;
            Ok((rows, next, effects))
        })
        .await
        .map(|(rows, next, effects)| {
            let rows: Vec<_> = rows
                .into_iter()
                .map(|t| {
                    let e = effects.get(&t.id).copied().unwrap_or_default();
                    (t, e)
                })
                .collect();
            (rows, next)
        })?;
    Ok(web::Json(CardTransactionPage {
        items: rows
            .into_iter()
            .map(|(t, e)| dto::sv_txn_dto(t, e))
            .collect(),
        next_cursor: next,
    }))
}

/// Reports a card lost.
#[utoipa::path(
    tag = "membership",
    description = "挂失: blocks every use of the card at once (top-up, payment, PIN). Audited.\n\n**Permission:** `membership.cards`.",
    params(("id" = String, Path, description = "Card id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CardDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The card is not active or frozen", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/cards/{id}/report-lost")]
pub async fn report_lost(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<CardDto>, ApiError> {
    let scope = staff.require(Permission::MembershipCards)?;
    let id = path_id(&id, "card")?;
    let actor = staff.actor();
    let card = state
        .db(move |c| Ok(m::report_lost(c, &actor, &scope, &SystemClock, &id)?))
        .await?;
    Ok(web::Json(card_dto(card)))
}

/// Makes a lost or frozen card usable again.
#[utoipa::path(
    tag = "membership",
    description = "解挂 / unfreeze. Audited.\n\n**Permission:** `membership.cards`.",
    params(("id" = String, Path, description = "Card id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CardDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The card is not lost or frozen", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/cards/{id}/unblock")]
pub async fn unblock(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<CardDto>, ApiError> {
    let scope = staff.require(Permission::MembershipCards)?;
    let id = path_id(&id, "card")?;
    let actor = staff.actor();
    let card = state
        .db(move |c| Ok(m::unblock(c, &actor, &scope, &SystemClock, &id)?))
        .await?;
    Ok(web::Json(card_dto(card)))
}

/// Freezes a card (e.g. a dispute).
#[utoipa::path(
    tag = "membership",
    description = "Blocks use like a loss report, with a reason. Audited.\n\n**Permission:** `membership.cards`.",
    params(("id" = String, Path, description = "Card id")),
    request_body = ReasonRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = CardDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The card is not active", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Reason missing", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/cards/{id}/freeze")]
pub async fn freeze(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<ReasonRequest>,
) -> Result<web::Json<CardDto>, ApiError> {
    let scope = staff.require(Permission::MembershipCards)?;
    let id = path_id(&id, "card")?;
    let actor = staff.actor();
    let reason = body.0.reason;
    let card = state
        .db(move |c| Ok(m::freeze(c, &actor, &scope, &SystemClock, &id, &reason)?))
        .await?;
    Ok(web::Json(card_dto(card)))
}

/// Moves a card's expiry.
#[utoipa::path(
    tag = "membership",
    description = "有效期: forward or back, never into the past. Audited.\n\n**Permission:** `membership.cards`.",
    params(("id" = String, Path, description = "Card id")),
    request_body = ChangeExpiryRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = CardDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The card is closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Date in the past or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/cards/{id}/expiry")]
pub async fn change_expiry(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<ChangeExpiryRequest>,
) -> Result<web::Json<CardDto>, ApiError> {
    let scope = staff.require(Permission::MembershipCards)?;
    let id = path_id(&id, "card")?;
    let actor = staff.actor();
    let at = body.0.expires_at;
    let card = state
        .db(move |c| Ok(m::change_expiry(c, &actor, &scope, &SystemClock, &id, at)?))
        .await?;
    Ok(web::Json(card_dto(card)))
}

/// Replaces a card.
#[utoipa::path(
    tag = "membership",
    description = "补卡: a new card for the same member; principal and every bonus lot move to it in one ledger transaction and the old card is dead. Needs the `Idempotency-Key` header; a retry answers the first result with `Idempotent-Replayed: true`.\n\n**Permission:** `membership.cards`.",
    params(("id" = String, Path, description = "Card id"), ("Idempotency-Key" = String, Header, description = "Once per attempt, e.g. a UUID")),
    request_body = ReplaceCardRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = ReplaceCardDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The card cannot be replaced (closed), or the new number is in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, missing Idempotency-Key, or the key was used for another request", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/cards/{id}/replace")]
pub async fn replace(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: Body<ReplaceCardRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipCards)?;
    let req = m::ReplaceCard {
        card_id: path_id(&id, "card")?,
        new_card_no: body.0.new_card_no,
        new_chip_uid: body.0.new_chip_uid,
    };
    let actor = staff.actor();
    let r = state
        .db(move |c| {
            Ok(m::replace_card(
                c,
                &actor,
                &scope,
                &SystemClock,
                &key.0,
                &req,
            )?)
        })
        .await?;
    Ok(replayable(StatusCode::CREATED, r, |r| ReplaceCardDto {
        old_card_id: r.old_card_id,
        new_card: card_dto(r.new_card),
        principal_moved: dto::money(r.principal_moved),
        bonus_moved: dto::money(r.bonus_moved),
    }))
}

/// Returns a card and refunds its refundable balance.
#[utoipa::path(
    tag = "membership",
    description = "退卡: refunds the principal (the bonus is forfeited, never refunded) and closes the card. Needs the `Idempotency-Key` header. Audited.\n\n**Permission:** `membership.void`.",
    params(("id" = String, Path, description = "Card id"), ("Idempotency-Key" = String, Header, description = "Once per attempt, e.g. a UUID")),
    request_body = ReturnCardRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = ReturnCardDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The card is already closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, missing Idempotency-Key, or the key was used for another request", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/cards/{id}/return")]
pub async fn return_card(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: Body<ReturnCardRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipVoid)?;
    let req = m::ReturnCard {
        card_id: path_id(&id, "card")?,
        refund_method: payment_in(body.0.refund_method),
        reason: body.0.reason,
    };
    let actor = staff.actor();
    let r = state
        .db(move |c| {
            Ok(m::return_card(
                c,
                &actor,
                &scope,
                &SystemClock,
                &key.0,
                &req,
            )?)
        })
        .await?;
    Ok(replayable(StatusCode::OK, r, |r| ReturnCardDto {
        card_id: r.card_id,
        refunded: dto::money(r.refunded),
        bonus_forfeited: dto::money(r.bonus_forfeited),
    }))
}
