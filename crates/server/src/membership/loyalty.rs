//! Points, coupons, gifts and entitlements.

use super::dto::{self, body_id, opt_body_id, replayable, Viewer};
use crate::auth::{Caller, Staff};
use crate::error::ApiError;
use crate::extract::{page_request, path_id, Body, IdempotencyKey, QueryParams};
use crate::AppState;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use diesel::prelude::*;
use dms_api_types::membership::{
    AdjustPointsRequest, CouponDto, CouponKindCode, CouponListDto, CouponTemplateDto,
    CouponTemplatePage, CreateCouponTemplateRequest, CreateGiftRequest, EntitlementDto,
    EntitlementListDto, GiftDto, GiftListDto, GiftRedemptionDto, IssueCouponRequest,
    IssueCouponSegmentRequest, IssuedCountDto, PointsDto, PointsTrack, PointsTransactionPage,
    ReasonRequest, RedeemGiftRequest, RestockGiftRequest, UseEntitlementRequest,
};
use dms_api_types::{PageParams, Problem};
use dms_core::{Money, StoreScope, SystemClock};
use dms_db::from_db_time;
use dms_identity::Permission;
use dms_membership as m;

// ---------------------------------------------------------------- points

/// A member's points.
#[utoipa::path(
    tag = "membership",
    description = "Both tracks: tier points (cumulative, drive the tier) and redeemable points (spent on gifts, renewals, checkouts).\n\n**Permission:** `membership.read` in the member's store, or the member's own customer token.",
    params(("id" = String, Path, description = "Member id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = PointsDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/members/{id}/points")]
pub async fn points(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<PointsDto>, ApiError> {
    let viewer = Viewer::of(&caller)?;
    let id = path_id(&id, "member")?;
    let mem = state.db(move |c| viewer.member(c, &id)).await?;
    Ok(web::Json(PointsDto {
        member_id: mem.id,
        tier_points: mem.tier_points,
        redeemable_points: mem.redeemable_points,
    }))
}

/// A member's points transactions.
#[utoipa::path(
    tag = "membership",
    description = "Every points movement with its effect on each track, newest first.\n\n**Permission:** `membership.read` in the member's store, or the member's own customer token.",
    params(("id" = String, Path, description = "Member id"), PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = PointsTransactionPage),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cursor or limit", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/members/{id}/points/transactions")]
pub async fn points_transactions(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    q: QueryParams<PageParams>,
) -> Result<web::Json<PointsTransactionPage>, ApiError> {
    let viewer = Viewer::of(&caller)?;
    let id = path_id(&id, "member")?;
    let page = page_request(&q.0)?;
    let (rows, next) = state
        .db(move |c| {
            let mem = viewer.member(c, &id)?;
            Ok(m::points_transactions(
                c,
                &StoreScope::AllStores,
                &mem.id,
                &page,
            )?)
        })
        .await?;
    Ok(web::Json(PointsTransactionPage {
        items: rows
            .into_iter()
            .map(|t| dms_api_types::membership::PointsTransactionDto {
                id: t.id,
                store_id: t.store_id,
                kind: t.kind,
                reason: t.reason,
                tier_delta: t.tier_delta,
                redeemable_delta: t.redeemable_delta,
                created_at: from_db_time(t.created_at),
            })
            .collect(),
        next_cursor: next,
    }))
}

/// Manual points adjustment.
#[utoipa::path(
    tag = "membership",
    description = "Adds or takes away points on one track (never below zero), with a reason. Audited. Needs the `Idempotency-Key` header; a retry answers the first result with `Idempotent-Replayed: true`.\n\n**Permission:** `membership.override`.",
    params(("id" = String, Path, description = "Member id"), ("Idempotency-Key" = String, Header, description = "Once per attempt, e.g. a UUID")),
    request_body = AdjustPointsRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = PointsDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would go below zero", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, missing Idempotency-Key, or the key was used for another request", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/members/{id}/points/adjustments")]
pub async fn adjust_points(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: Body<AdjustPointsRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipOverride)?;
    let b = body.0;
    let req = m::AdjustPoints {
        member_id: path_id(&id, "member")?,
        track: match b.track {
            PointsTrack::Tier => m::PointsTrack::Tier,
            PointsTrack::Redeemable => m::PointsTrack::Redeemable,
        },
        delta: b.delta,
        reason: b.reason,
    };
    let actor = staff.actor();
    let r = state
        .db(move |c| {
            Ok(m::adjust_points(
                c,
                &actor,
                &scope,
                &SystemClock,
                &key.0,
                &req,
            )?)
        })
        .await?;
    Ok(replayable(StatusCode::CREATED, r, |p| PointsDto {
        member_id: p.member_id,
        tier_points: p.tier_points,
        redeemable_points: p.redeemable_points,
    }))
}

// ---------------------------------------------------------------- coupons

/// Creates a coupon template.
#[utoipa::path(
    tag = "membership",
    description = "Amount off, percent off with a cap, or a free service item; minimum spend, valid categories, validity window and per-member limit. Without `store_id` it is valid in every store (group-wide role).\n\n**Permission:** `membership.config`.",
    request_body = CreateCouponTemplateRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = CouponTemplateDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission (or a group-wide role for a group template)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such store among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/coupon-templates")]
pub async fn create_template(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<CreateCouponTemplateRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipConfig)?;
    let b = body.0;
    let required = |f: &str| ApiError::invalid(f, "required", "required for this kind");
    let kind = match b.kind {
        CouponKindCode::AmountOff => m::CouponKind::AmountOff {
            amount: dto::parse_opt_money("amount", b.amount.as_ref())?
                .ok_or_else(|| required("amount"))?,
        },
        CouponKindCode::PercentOff => m::CouponKind::PercentOff {
            percent_bp: b.percent_bp.ok_or_else(|| required("percent_bp"))?,
            cap: dto::parse_opt_money("cap", b.cap.as_ref())?,
        },
        CouponKindCode::FreeItem => m::CouponKind::FreeItem {
            item_code: b.item_code.clone().ok_or_else(|| required("item_code"))?,
        },
    };
    let new = m::NewCouponTemplate {
        store_id: opt_body_id("store_id", b.store_id.as_ref())?,
        name: b.name,
        kind,
        min_spend: dto::parse_opt_money("min_spend", b.min_spend.as_ref())?.unwrap_or(Money::ZERO),
        categories: b.categories.into_iter().map(dto::category_in).collect(),
        valid_from: b.valid_from,
        valid_until: b.valid_until,
        per_member_limit: b.per_member_limit.unwrap_or(1),
    };
    let actor = staff.actor();
    let t = state
        .db(move |c| {
            Ok(m::create_coupon_template(
                c,
                &actor,
                &scope,
                &SystemClock,
                &new,
            )?)
        })
        .await?;
    Ok(HttpResponse::Created().json(dto::template_dto(t)))
}

/// Coupon templates usable in the caller's stores.
#[utoipa::path(
    tag = "membership",
    description = "Group templates and those of the caller's stores, oldest first.\n\n**Permission:** `membership.read`.",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CouponTemplatePage),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cursor or limit", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/coupon-templates")]
pub async fn list_templates(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<PageParams>,
) -> Result<web::Json<CouponTemplatePage>, ApiError> {
    use dms_membership::schema::mem_coupon_templates as t;
    let scope = staff.require(Permission::MembershipRead)?;
    let page = page_request(&q.0)?;
    let (rows, next) = state
        .db(move |c| {
            let mut q = t::table.select(m::CouponTemplate::as_select()).into_boxed();
            if let StoreScope::Stores(ids) = &scope {
                q = q.filter(t::store_id.is_null().or(t::store_id.eq_any(ids.clone())));
            }
            if let Some(dms_core::Cursor { after_id }) = &page.after {
                q = q.filter(t::id.gt(after_id.clone()));
            }
            let rows: Vec<m::CouponTemplate> = q
                .order(t::id.asc())
                .limit(page.fetch_limit())
                .load(c)
                .map_err(|e| ApiError::from(m::MembershipError::from(e)))?;
            Ok(page.finish(rows, |r| &r.id))
        })
        .await?;
    Ok(web::Json(CouponTemplatePage {
        items: rows.into_iter().map(dto::template_dto).collect(),
        next_cursor: next,
    }))
}

/// Issues a coupon to one member.
#[utoipa::path(
    tag = "membership",
    description = "Within the template's per-member limit. Audited.\n\n**Permission:** `membership.cards`.",
    request_body = IssueCouponRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = CouponDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such template or member among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Per-member limit reached, or the template is inactive", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/coupons")]
pub async fn issue_coupon(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<IssueCouponRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipCards)?;
    let template = body_id("template_id", &body.0.template_id)?;
    let member = body_id("member_id", &body.0.member_id)?;
    let actor = staff.actor();
    let cp = state
        .db(move |c| {
            let cp = m::issue_coupon(c, &actor, &scope, &SystemClock, &template, &member)?;
            dto::coupon_dto_named(c, cp)
        })
        .await?;
    Ok(HttpResponse::Created().json(cp))
}

/// Issues a coupon to every member of a segment.
#[utoipa::path(
    tag = "membership",
    description = "Active members of the caller's stores, optionally of one tier and/or one store, each below the per-member limit; all or nothing. Audited.\n\n**Permission:** `membership.config`.",
    request_body = IssueCouponSegmentRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = IssuedCountDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such template or store among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The template is inactive", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/coupons/segment")]
pub async fn issue_segment(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<IssueCouponSegmentRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipConfig)?;
    let b = body.0;
    let template = body_id("template_id", &b.template_id)?;
    let segment = m::Segment {
        tier_code: b.tier_code,
        store_id: opt_body_id("store_id", b.store_id.as_ref())?,
    };
    let actor = staff.actor();
    let n = state
        .db(move |c| {
            Ok(m::issue_coupons_to_segment(
                c,
                &actor,
                &scope,
                &SystemClock,
                &template,
                &segment,
            )?)
        })
        .await?;
    Ok(HttpResponse::Created().json(IssuedCountDto { issued: n }))
}

/// A member's coupons.
#[utoipa::path(
    tag = "membership",
    description = "Issued, used and voided coupons of the member.\n\n**Permission:** `membership.read` in the member's store, or the member's own customer token.",
    params(("id" = String, Path, description = "Member id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CouponListDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/members/{id}/coupons")]
pub async fn member_coupons(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<CouponListDto>, ApiError> {
    let viewer = Viewer::of(&caller)?;
    let id = path_id(&id, "member")?;
    let rows = state
        .db(move |c| {
            let mem = viewer.member(c, &id)?;
            let rows = m::coupons_of_member(c, &StoreScope::AllStores, &mem.id)?;
            dto::coupon_dtos(c, rows)
        })
        .await?;
    Ok(web::Json(CouponListDto { items: rows }))
}

/// Voids an unused coupon.
#[utoipa::path(
    tag = "membership",
    description = "With a reason. Audited.\n\n**Permission:** `membership.void`.",
    params(("id" = String, Path, description = "Coupon id")),
    request_body = ReasonRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = CouponDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such coupon among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already used or voided", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Reason missing", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/coupons/{id}/void")]
pub async fn void_coupon(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<ReasonRequest>,
) -> Result<web::Json<CouponDto>, ApiError> {
    let scope = staff.require(Permission::MembershipVoid)?;
    let id = path_id(&id, "coupon")?;
    let reason = body.0.reason;
    let actor = staff.actor();
    let cp = state
        .db(move |c| {
            let cp = m::void_coupon(c, &actor, &scope, &SystemClock, &id, &reason)?;
            dto::coupon_dto_named(c, cp)
        })
        .await?;
    Ok(web::Json(cp))
}

// ---------------------------------------------------------------- gifts

/// Adds a gift to the catalogue.
#[utoipa::path(
    tag = "membership",
    description = "A gift redeemable with points, with its stock. Without `store_id` it is in the group catalogue (group-wide role). Audited.\n\n**Permission:** `membership.config`.",
    request_body = CreateGiftRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = GiftDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such store among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/gifts")]
pub async fn create_gift(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<CreateGiftRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipConfig)?;
    let b = body.0;
    let new = m::NewGift {
        store_id: opt_body_id("store_id", b.store_id.as_ref())?,
        name: b.name,
        points_cost: b.points_cost,
        stock: b.stock,
    };
    let actor = staff.actor();
    let g = state
        .db(move |c| Ok(m::create_gift(c, &actor, &scope, &SystemClock, &new)?))
        .await?;
    Ok(HttpResponse::Created().json(dto::gift_dto(g)))
}

/// The gift catalogue.
#[utoipa::path(
    tag = "membership",
    description = "Group gifts and those of the caller's stores.\n\n**Permission:** `membership.read`.",
    security(("bearer" = [])),
    responses(
        (status = 200, body = GiftListDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/gifts")]
pub async fn list_gifts(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<web::Json<GiftListDto>, ApiError> {
    let scope = staff.require(Permission::MembershipRead)?;
    let rows = state.db(move |c| Ok(m::list_gifts(c, &scope)?)).await?;
    Ok(web::Json(GiftListDto {
        items: rows.into_iter().map(dto::gift_dto).collect(),
    }))
}

/// Changes a gift's stock.
#[utoipa::path(
    tag = "membership",
    description = "Adds (negative: removes) stock, never below zero. Audited.\n\n**Permission:** `membership.config`.",
    params(("id" = String, Path, description = "Gift id")),
    request_body = RestockGiftRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = GiftDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such gift among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stock would go below zero", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Zero or invalid delta", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/gifts/{id}/restock")]
pub async fn restock_gift(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<RestockGiftRequest>,
) -> Result<web::Json<GiftDto>, ApiError> {
    let scope = staff.require(Permission::MembershipConfig)?;
    let id = path_id(&id, "gift")?;
    let delta = body.0.delta;
    let actor = staff.actor();
    let g = state
        .db(move |c| {
            Ok(m::restock_gift(
                c,
                &actor,
                &scope,
                &SystemClock,
                &id,
                delta,
            )?)
        })
        .await?;
    Ok(web::Json(dto::gift_dto(g)))
}

/// Redeems a gift with points.
#[utoipa::path(
    tag = "membership",
    description = "积分兑换: spends the member's redeemable points and takes the stock. Needs the `Idempotency-Key` header; a retry answers the first result with `Idempotent-Replayed: true`.\n\n**Permission:** `membership.checkout`.",
    params(("id" = String, Path, description = "Gift id"), ("Idempotency-Key" = String, Header, description = "Once per attempt, e.g. a UUID")),
    request_body = RedeemGiftRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = GiftRedemptionDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such gift or member among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not enough points or stock, gift withdrawn", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, missing Idempotency-Key, or the key was used for another request", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/gifts/{id}/redemptions")]
pub async fn redeem_gift(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: Body<RedeemGiftRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipCheckout)?;
    let req = m::RedeemGift {
        gift_id: path_id(&id, "gift")?,
        member_id: body_id("member_id", &body.0.member_id)?,
        quantity: body.0.quantity,
    };
    let actor = staff.actor();
    let r = state
        .db(move |c| {
            Ok(m::redeem_gift(
                c,
                &actor,
                &scope,
                &SystemClock,
                &key.0,
                &req,
            )?)
        })
        .await?;
    Ok(replayable(StatusCode::CREATED, r, |g| GiftRedemptionDto {
        redemption_id: g.redemption_id,
        gift_name: g.gift_name,
        quantity: g.quantity,
        points_spent: g.points_spent,
        redeemable_points_after: g.redeemable_points_after,
    }))
}

// ---------------------------------------------------------------- entitlements

fn entitlement_dto(e: m::EntitlementBalance) -> EntitlementDto {
    EntitlementDto {
        code: e.code,
        name: e.name,
        per_year: e.per_year,
        used: e.used,
        left: e.left,
    }
}

/// What the member's service package holds this membership year.
#[utoipa::path(
    tag = "membership",
    description = "Each entitlement of the member's tier (e.g. free washes) with uses left this membership year.\n\n**Permission:** `membership.read` in the member's store, or the member's own customer token.",
    params(("id" = String, Path, description = "Member id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = EntitlementListDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/members/{id}/entitlements")]
pub async fn entitlements(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<EntitlementListDto>, ApiError> {
    let viewer = Viewer::of(&caller)?;
    let id = path_id(&id, "member")?;
    let rows = state
        .db(move |c| {
            let mem = viewer.member(c, &id)?;
            Ok(m::entitlements(c, &StoreScope::AllStores, &mem.id)?)
        })
        .await?;
    Ok(web::Json(EntitlementListDto {
        items: rows.into_iter().map(entitlement_dto).collect(),
    }))
}

/// Uses one entitlement.
#[utoipa::path(
    tag = "membership",
    description = "Consumes one use (e.g. one free wash); refused when none is left or the membership is not active. Needs the `Idempotency-Key` header; a retry answers the first result with `Idempotent-Replayed: true`.\n\n**Permission:** `membership.checkout`.",
    params(("id" = String, Path, description = "Member id"), ("code" = String, Path, description = "Entitlement code, e.g. `wash`"), ("Idempotency-Key" = String, Header, description = "Once per attempt, e.g. a UUID")),
    request_body = UseEntitlementRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = EntitlementDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member or entitlement among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No uses left, or the membership is not active", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, missing Idempotency-Key, or the key was used for another request", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/members/{id}/entitlements/{code}/uses")]
pub async fn use_entitlement(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
    key: IdempotencyKey,
    body: Body<UseEntitlementRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipCheckout)?;
    let (id, code) = path.into_inner();
    if code.is_empty() || code.len() > 32 {
        return Err(ApiError::NotFound("entitlement"));
    }
    let req = m::UseEntitlement {
        member_id: path_id(&id, "member")?,
        code,
        ref_id: body.0.ref_id,
    };
    let actor = staff.actor();
    let r = state
        .db(move |c| {
            Ok(m::use_entitlement(
                c,
                &actor,
                &scope,
                &SystemClock,
                &key.0,
                &req,
            )?)
        })
        .await?;
    Ok(replayable(StatusCode::CREATED, r, entitlement_dto))
}
