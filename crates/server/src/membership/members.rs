//! Members: join, list, one member, the customer 360 summary, renewal and upgrade with points.

use super::dto::{self, body_id, member_dto, parse_opt_money, replayable, Viewer};
use crate::auth::{Caller, Staff};
use crate::error::ApiError;
use crate::extract::{page_request, path_id, Body, IdempotencyKey, QueryParams};
use crate::AppState;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use dms_api_types::member_import::MemberListParams;
use dms_api_types::membership::{
    CardListDto, JoinChannel, JoinMemberRequest, MemberDto, MemberPage, MembershipSummaryDto,
    RenewRequest, RenewalMethod,
};
use dms_api_types::{PageParams, Problem};
use dms_core::{StoreScope, SystemClock};
use dms_identity::Permission;
use dms_membership as m;

fn channel(c: JoinChannel) -> m::JoinChannel {
    match c {
        JoinChannel::Purchase => m::JoinChannel::Purchase,
        JoinChannel::BringOwnCar => m::JoinChannel::BringOwnCar,
        JoinChannel::Spend => m::JoinChannel::Spend,
        JoinChannel::DrivingSchool => m::JoinChannel::DrivingSchool,
        JoinChannel::Fee => m::JoinChannel::Fee,
    }
}

/// Makes a customer a member.
#[utoipa::path(
    tag = "membership",
    description = "入会: makes a customer a member of the store's programme. The starting tier is the explicit `tier_code`, else the best tier the fee or past spend buys, else the lowest. One membership per customer. Audited.\n\n**Permission:** `membership.cards`.",
    request_body = JoinMemberRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = MemberDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer or store among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a member", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/members")]
pub async fn join(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<JoinMemberRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipCards)?;
    let b = body.0;
    let req = m::JoinMember {
        customer_id: body_id("customer_id", &b.customer_id)?,
        store_id: body_id("store_id", &b.store_id)?,
        channel: channel(b.channel),
        tier_code: b.tier_code,
        fee_paid: parse_opt_money("fee_paid", b.fee_paid.as_ref())?,
        past_spend: parse_opt_money("past_spend", b.past_spend.as_ref())?,
    };
    let actor = staff.actor();
    let mem = state
        .db(move |c| Ok(m::join_member(c, &actor, &scope, &SystemClock, &req)?))
        .await?;
    Ok(HttpResponse::Created().json(member_dto(mem)))
}

/// Members of the caller's stores.
#[utoipa::path(
    tag = "membership",
    description = "Members whose store is one of the caller's (or `store_id`), oldest first. With `q`, the members the CRM's search finds (name prefix, phone prefix, member card number, plate prefix), at most `limit` (default 50), without a cursor.\n\n**Permission:** `membership.read`.",
    params(MemberListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = MemberPage),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cursor or limit", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/members")]
pub async fn list(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<MemberListParams>,
) -> Result<web::Json<MemberPage>, ApiError> {
    let scope = staff.require(Permission::MembershipRead)?;
    let q = q.0;
    let store = dto::opt_body_id("store_id", q.store_id.as_ref())?;
    let scope = scope.narrowed_to(store.as_deref());
    if let Some(text) = q.q {
        let limit = q.limit.unwrap_or(50);
        let found = state
            .db(move |c| {
                // Customers are searched group-wide; only members in the caller's stores are
                // answered.
                let customers = dms_crm::search_customers(
                    c,
                    &StoreScope::AllStores,
                    &text,
                    Some(&m::merge::CardNumbers),
                    limit,
                )?;
                let mut out = Vec::new();
                for cust in customers {
                    match m::member_by_customer(c, &scope, &cust.id) {
                        Ok(mm) => out.push(mm),
                        Err(m::MembershipError::NotFound(_)) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(out)
            })
            .await?;
        return Ok(web::Json(MemberPage {
            items: found.into_iter().map(member_dto).collect(),
            next_cursor: None,
        }));
    }
    let page = page_request(&PageParams {
        cursor: q.cursor,
        limit: q.limit,
    })?;
    let (rows, next) = state
        .db(move |c| Ok(m::list_members(c, &scope, &page)?))
        .await?;
    Ok(web::Json(MemberPage {
        items: rows.into_iter().map(member_dto).collect(),
        next_cursor: next,
    }))
}

/// One member.
#[utoipa::path(
    tag = "membership",
    description = "Tier, term and both points balances.\n\n**Permission:** `membership.read` in the member's store, or the member's own customer token. Anything else reads as 404.",
    params(("id" = String, Path, description = "Member id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = MemberDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/members/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<MemberDto>, ApiError> {
    let viewer = Viewer::of(&caller)?;
    let id = path_id(&id, "member")?;
    let mem = state.db(move |c| viewer.member(c, &id)).await?;
    Ok(web::Json(member_dto(mem)))
}

/// The cards of one member.
#[utoipa::path(
    tag = "membership",
    description = "Every card of the member, with balances (including replaced and returned ones).\n\n**Permission:** `membership.read` in the member's store, or the member's own customer token.",
    params(("id" = String, Path, description = "Member id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CardListDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/members/{id}/cards")]
pub async fn cards_of_member(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<CardListDto>, ApiError> {
    let viewer = Viewer::of(&caller)?;
    let id = path_id(&id, "member")?;
    let cards = state
        .db(move |c| {
            let mem = viewer.member(c, &id)?;
            Ok(m::cards_of_member(c, &StoreScope::AllStores, &mem.id)?)
        })
        .await?;
    Ok(web::Json(CardListDto {
        items: cards.into_iter().map(dto::card_dto).collect(),
    }))
}

/// A customer's membership, for the customer 360 and the owners' app.
#[utoipa::path(
    tag = "membership",
    description = "The customer's membership and cards; `member` is null when the customer has not joined.\n\n**Permission:** `membership.read` (the member's store), or the customer's own token. Anything else reads as 404.",
    params(("id" = String, Path, description = "Customer id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = MembershipSummaryDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/customers/{id}/membership")]
pub async fn customer_membership(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<MembershipSummaryDto>, ApiError> {
    let viewer = Viewer::of(&caller)?;
    let id = path_id(&id, "customer")?;
    let customer_id = id.clone();
    let (member, cards) = state
        .db(move |c| {
            let scope = match &viewer {
                Viewer::Customer(own) if own == &id => StoreScope::AllStores,
                Viewer::Customer(_) => return Err(ApiError::NotFound("customer")),
                Viewer::Staff(scope) => {
                    // The customer must be visible to the caller (home store), as in /customers/{id}.
                    let cs = StoreScope::AllStores;
                    let cust = dms_identity::get_customer(c, &cs, &id)?;
                    let member = m::member_by_customer(c, &cs, &id).ok();
                    let visible = scope.allows(&cust.store_id)
                        || member.as_ref().is_some_and(|mm| scope.allows(&mm.store_id));
                    if !visible {
                        return Err(ApiError::NotFound("customer"));
                    }
                    scope.clone()
                }
            };
            let member = match m::member_by_customer(c, &scope, &id) {
                Ok(mm) => Some(mm),
                Err(m::MembershipError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            };
            let cards = match &member {
                Some(mm) => m::cards_of_member(c, &StoreScope::AllStores, &mm.id)?,
                None => vec![],
            };
            Ok((member, cards))
        })
        .await?;
    Ok(web::Json(MembershipSummaryDto {
        customer_id,
        member: member.map(member_dto),
        cards: cards.into_iter().map(dto::card_dto).collect(),
    }))
}

/// Renews a membership.
#[utoipa::path(
    tag = "membership",
    description = "续会: extends the membership by one term, by fee (`amount` ≥ the programme's fee), by spending the programme's redeemable points, or by an insurance renewal (`amount` ≥ the programme's figure). Needs the `Idempotency-Key` header; a retry answers the first result with `Idempotent-Replayed: true`.\n\n**Permission:** `membership.cards`.",
    params(("id" = String, Path, description = "Member id"), ("Idempotency-Key" = String, Header, description = "Once per attempt, e.g. a UUID")),
    request_body = RenewRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = MemberDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not enough points, or the membership is closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, missing Idempotency-Key, or the key was used for another request", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/members/{id}/renewals")]
pub async fn renew(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: Body<RenewRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipCards)?;
    let id = path_id(&id, "member")?;
    let b = body.0;
    let amount = || -> Result<dms_core::Money, ApiError> {
        parse_opt_money("amount", b.amount.as_ref())?
            .ok_or_else(|| ApiError::invalid("amount", "required", "required for this method"))
    };
    let renewal = match b.method {
        RenewalMethod::Fee => m::Renewal::Fee { paid: amount()? },
        RenewalMethod::Points => m::Renewal::Points,
        RenewalMethod::Insurance => m::Renewal::Insurance { amount: amount()? },
    };
    let req = m::RenewMembership {
        member_id: id,
        renewal,
    };
    let actor = staff.actor();
    let r = state
        .db(move |c| {
            Ok(m::renew_membership(
                c,
                &actor,
                &scope,
                &SystemClock,
                &key.0,
                &req,
            )?)
        })
        .await?;
    Ok(replayable(StatusCode::OK, r, member_dto))
}

/// Trades redeemable points for one tier up.
#[utoipa::path(
    tag = "membership",
    description = "积分升级: spends the programme's upgrade points (seed: 2000) for one tier up. Needs the `Idempotency-Key` header.\n\n**Permission:** `membership.cards`.",
    params(("id" = String, Path, description = "Member id"), ("Idempotency-Key" = String, Header, description = "Once per attempt, e.g. a UUID")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = MemberDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not enough points, or already in the top tier", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing Idempotency-Key, or the key was used for another request", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/members/{id}/upgrades")]
pub async fn upgrade_with_points(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    key: IdempotencyKey,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipCards)?;
    let req = m::UpgradeWithPoints {
        member_id: path_id(&id, "member")?,
    };
    let actor = staff.actor();
    let r = state
        .db(move |c| {
            Ok(m::upgrade_with_points(
                c,
                &actor,
                &scope,
                &SystemClock,
                &key.0,
                &req,
            )?)
        })
        .await?;
    Ok(replayable(StatusCode::OK, r, member_dto))
}
