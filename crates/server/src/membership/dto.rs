//! Domain values to API bodies and back, and what every handler here shares: who is looking
//! (staff scope or the customer's own token), money parsing and the replay header.

use crate::auth::{Caller, Principal};
use crate::error::ApiError;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use dms_api_types::membership as api;
use dms_core::{Money, StoreScope};
use dms_db::{from_db_time, DbConnection};
use dms_identity::Permission;
use dms_membership as m;
use rust_decimal::Decimal;
use serde::Serialize;
use std::str::FromStr;

/// Header on an answer that is the stored first answer to a retried request.
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";

/// The answer to a money-moving request: the same status and body on a replay, marked.
pub fn replayable<T, D: Serialize>(
    status: StatusCode,
    r: m::Replayable<T>,
    map: impl FnOnce(T) -> D,
) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    if r.replayed {
        res.insert_header((REPLAYED_HEADER, "true"));
    }
    res.json(map(r.value))
}

pub fn money(v: Money) -> String {
    v.to_string()
}

pub fn parse_money(field: &str, s: &str) -> Result<Money, ApiError> {
    Money::from_str(s)
        .map_err(|e| ApiError::invalid(field, "money_format", format!("{e}; e.g. \"680.00\"")))
}

pub fn parse_opt_money(field: &str, s: Option<&String>) -> Result<Option<Money>, ApiError> {
    s.map(|s| parse_money(field, s)).transpose()
}

pub fn parse_decimal(field: &str, s: &str) -> Result<Decimal, ApiError> {
    Decimal::from_str_exact(s.trim())
        .map_err(|_| ApiError::invalid(field, "invalid_number", "not a decimal number"))
}

/// An id in a request body: malformed is a 422 on that field.
pub fn body_id(field: &str, raw: &str) -> Result<String, ApiError> {
    dms_core::parse_id(raw).map_err(|_| ApiError::invalid(field, "invalid_id", "not an id"))
}

pub fn opt_body_id(field: &str, raw: Option<&String>) -> Result<Option<String>, ApiError> {
    raw.map(|r| body_id(field, r)).transpose()
}

/// Who reads: staff within the stores where they hold `membership.read`, or a customer who
/// sees only their own membership (anything else is 404 for them).
pub enum Viewer {
    Staff(StoreScope),
    Customer(String),
}

impl Viewer {
    pub fn of(caller: &Caller) -> Result<Viewer, ApiError> {
        match &caller.principal {
            Principal::Staff(p) => {
                let s = p.scope(Permission::MembershipRead);
                if s.is_empty() {
                    Err(ApiError::Forbidden(format!(
                        "requires permission {}",
                        Permission::MembershipRead
                    )))
                } else {
                    Ok(Viewer::Staff(s))
                }
            }
            Principal::Customer(c) => Ok(Viewer::Customer(c.id.clone())),
        }
    }

    /// The member, if this viewer may see it.
    pub fn member(&self, conn: &mut DbConnection, id: &str) -> Result<m::Member, ApiError> {
        match self {
            Viewer::Staff(scope) => Ok(m::get_member(conn, scope, id)?),
            Viewer::Customer(cid) => {
                let mem = m::get_member(conn, &StoreScope::AllStores, id)?;
                if &mem.customer_id == cid {
                    Ok(mem)
                } else {
                    Err(ApiError::NotFound("member"))
                }
            }
        }
    }

    /// The card, if this viewer may see it.
    pub fn card(&self, conn: &mut DbConnection, id: &str) -> Result<m::Card, ApiError> {
        match self {
            Viewer::Staff(scope) => Ok(m::get_card(conn, scope, id)?),
            Viewer::Customer(cid) => {
                let card = m::get_card(conn, &StoreScope::AllStores, id)?;
                let mem = m::get_member(conn, &StoreScope::AllStores, &card.member_id)?;
                if &mem.customer_id == cid {
                    Ok(card)
                } else {
                    Err(ApiError::NotFound("card"))
                }
            }
        }
    }
}

pub fn member_dto(x: m::Member) -> api::MemberDto {
    api::MemberDto {
        id: x.id,
        store_id: x.store_id,
        customer_id: x.customer_id,
        tier_code: x.tier_code,
        join_channel: x.join_channel,
        status: x.status,
        joined_at: from_db_time(x.joined_at),
        term_expires_at: from_db_time(x.term_expires_at),
        tier_points: x.tier_points,
        redeemable_points: x.redeemable_points,
    }
}

pub fn card_dto(c: m::Card) -> api::CardDto {
    let now = chrono::Utc::now().naive_utc();
    let balance = Money::from_fen(c.principal_fen.saturating_add(c.bonus_fen));
    api::CardDto {
        masked_card_no: c.masked_no(),
        principal: money(c.principal()),
        bonus: money(c.bonus()),
        balance: money(balance),
        pin_locked: c.pin_hard_locked || c.pin_locked_until.is_some_and(|t| t > now),
        id: c.id,
        store_id: c.store_id,
        member_id: c.member_id,
        card_no: c.card_no,
        chip_uid: c.chip_uid,
        status: c.status,
        expires_at: from_db_time(c.expires_at),
        replaced_by: c.replaced_by,
    }
}

/// Each transaction's effect on one card: (principal, bonus) in fen, from its ledger entries.
pub fn card_effects(
    conn: &mut DbConnection,
    card_id: &str,
    txn_ids: Vec<String>,
) -> Result<std::collections::HashMap<String, (i64, i64)>, ApiError> {
    use diesel::prelude::*;
    use dms_membership::schema::mem_sv_entries as e;
    let rows: Vec<(String, String, i64)> = e::table
        .filter(e::card_id.eq(card_id))
        .filter(e::txn_id.eq_any(txn_ids))
        .select((e::txn_id, e::account, e::amount_fen))
        .load(conn)
        .map_err(|err| ApiError::from(m::MembershipError::from(err)))?;
    let mut out = std::collections::HashMap::new();
    for (txn, account, amount) in rows {
        let slot: &mut (i64, i64) = out.entry(txn).or_default();
        if account == "card_bonus" {
            slot.1 += amount;
        } else {
            slot.0 += amount;
        }
    }
    Ok(out)
}

pub fn sv_txn_dto(t: m::SvTransaction, effect: (i64, i64)) -> api::CardTransactionDto {
    api::CardTransactionDto {
        principal_change: money(Money::from_fen(effect.0)),
        bonus_change: money(Money::from_fen(effect.1)),
        balance_change: money(Money::from_fen(effect.0 + effect.1)),
        amount: money(t.amount()),
        id: t.id,
        store_id: t.store_id,
        kind: t.kind,
        payment_method: t.payment_method,
        ref_id: t.ref_id,
        reverses_txn_id: t.reverses_txn_id,
        terminal_id: t.terminal_id,
        memo: t.memo,
        created_at: from_db_time(t.created_at),
    }
}

pub fn category_in(c: api::Category) -> m::Category {
    match c {
        api::Category::Labour => m::Category::Labour,
        api::Category::Parts => m::Category::Parts,
        api::Category::Accessories => m::Category::Accessories,
        api::Category::Detailing => m::Category::Detailing,
        api::Category::Modification => m::Category::Modification,
        api::Category::Vehicle => m::Category::Vehicle,
        api::Category::Other => m::Category::Other,
    }
}

pub fn category_out(c: m::Category) -> api::Category {
    match c {
        m::Category::Labour => api::Category::Labour,
        m::Category::Parts => api::Category::Parts,
        m::Category::Accessories => api::Category::Accessories,
        m::Category::Detailing => api::Category::Detailing,
        m::Category::Modification => api::Category::Modification,
        m::Category::Vehicle => api::Category::Vehicle,
        m::Category::Other => api::Category::Other,
    }
}

pub fn payment_in(p: api::PaymentMethod) -> m::PaymentMethod {
    match p {
        api::PaymentMethod::Cash => m::PaymentMethod::Cash,
        api::PaymentMethod::BankCard => m::PaymentMethod::BankCard,
        api::PaymentMethod::Transfer => m::PaymentMethod::Transfer,
        api::PaymentMethod::Online => m::PaymentMethod::Online,
    }
}

pub fn top_up_dto(r: m::TopUpResult) -> api::TopUpDto {
    api::TopUpDto {
        txn_id: r.txn_id,
        card_id: r.card_id,
        masked_card_no: r.masked_card_no,
        paid: money(r.paid),
        bonus: money(r.bonus),
        bonus_expires_at: r.bonus_expires_at.map(from_db_time),
        principal_after: money(r.principal_after),
        bonus_after: money(r.bonus_after),
    }
}

pub fn lines_in(lines: &[api::BasketLineDto]) -> Result<Vec<m::BasketLine>, ApiError> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Ok(m::BasketLine {
                category: category_in(l.category),
                item_code: l.item_code.clone(),
                description: l.description.clone(),
                quantity: parse_decimal(&format!("lines[{i}].quantity"), &l.quantity)?,
                unit_price: parse_money(&format!("lines[{i}].unit_price"), &l.unit_price)?,
                insurer_paid: l.insurer_paid,
            })
        })
        .collect()
}

pub fn override_in(
    o: Option<&api::DiscountOverrideDto>,
) -> Result<Option<m::DiscountOverride>, ApiError> {
    o.map(|o| {
        Ok(m::DiscountOverride {
            percent: parse_decimal("discount_override.percent", &o.percent)?,
            reason: o.reason.clone(),
        })
    })
    .transpose()
}

/// The body's `coupon_ids`, each checked as an id (the error names its index).
pub fn coupon_ids_in(ids: &[String]) -> Result<Vec<String>, ApiError> {
    ids.iter()
        .enumerate()
        .map(|(i, c)| body_id(&format!("coupon_ids[{i}]"), c))
        .collect()
}

pub fn tenders_in(t: &[api::TenderDto]) -> Result<Vec<m::Tender>, ApiError> {
    t.iter()
        .enumerate()
        .map(|(i, t)| {
            let a = parse_money(&format!("tenders[{i}].amount"), &t.amount)?;
            Ok(match t.kind {
                api::TenderKind::StoredValue => m::Tender::StoredValue(a),
                api::TenderKind::Bonus => m::Tender::Bonus(a),
                api::TenderKind::Cash => m::Tender::Cash(a),
                api::TenderKind::BankCard => m::Tender::BankCard(a),
            })
        })
        .collect()
}

fn tender_out(t: m::Tender) -> api::TenderDto {
    let kind = match t {
        m::Tender::StoredValue(_) => api::TenderKind::StoredValue,
        m::Tender::Bonus(_) => api::TenderKind::Bonus,
        m::Tender::Cash(_) => api::TenderKind::Cash,
        m::Tender::BankCard(_) => api::TenderKind::BankCard,
    };
    api::TenderDto {
        kind,
        amount: money(t.amount()),
    }
}

pub fn basket_dto(b: m::PricedBasket) -> api::PricedBasketDto {
    api::PricedBasketDto {
        tier_code: b.tier_code,
        lines: b
            .lines
            .into_iter()
            .map(|l| api::PricedLineDto {
                category: category_out(l.category),
                item_code: l.item_code,
                description: l.description,
                quantity: l.quantity.normalize().to_string(),
                unit_price: money(l.unit_price),
                insurer_paid: l.insurer_paid,
                gross: money(l.gross),
                discount_percent: l.discount_percent.normalize().to_string(),
                tier_discount: money(l.tier_discount),
                coupon_discount: money(l.coupon_discount),
                net: money(l.net),
                points_earned: l.points_earned,
            })
            .collect(),
        coupons: b
            .coupons
            .into_iter()
            .map(|c| api::AppliedCouponDto {
                coupon_id: c.coupon_id,
                name: c.name,
                discount: money(c.discount),
            })
            .collect(),
        subtotal: money(b.subtotal),
        tier_discount: money(b.tier_discount),
        coupon_discount: money(b.coupon_discount),
        total: money(b.total),
        insurer_pays: money(b.insurer_pays),
        member_pays: money(b.member_pays),
        points_redeemed: b.points_redeemed,
        points_value: money(b.points_value),
        points_earned: b.points_earned,
    }
}

pub fn receipt_dto(r: m::Receipt) -> api::ReceiptDto {
    api::ReceiptDto {
        checkout_id: r.checkout_id,
        store_id: r.store_id,
        member_id: r.member_id,
        terminal_id: r.terminal_id,
        at: from_db_time(r.at),
        cashier: r.cashier,
        masked_card_no: r.masked_card_no,
        basket: basket_dto(r.basket),
        discount_override: r.discount_override.map(|o| api::DiscountOverrideDto {
            percent: o.percent.normalize().to_string(),
            reason: o.reason,
        }),
        tenders: r.tenders.into_iter().map(tender_out).collect(),
        principal_used: money(r.principal_used),
        bonus_used: money(r.bonus_used),
        principal_after: money(r.principal_after),
        bonus_after: money(r.bonus_after),
        tier_points_after: r.tier_points_after,
        redeemable_points_after: r.redeemable_points_after,
        voided: r.voided,
    }
}

pub fn checkout_summary_dto(c: m::CheckoutSummary) -> api::CheckoutSummaryDto {
    api::CheckoutSummaryDto {
        id: c.id,
        store_id: c.store_id,
        card_id: c.card_id,
        member_id: c.member_id,
        terminal_id: c.terminal_id,
        status: c.status,
        subtotal: money(Money::from_fen(c.subtotal_fen)),
        discount: money(Money::from_fen(c.discount_fen)),
        total: money(Money::from_fen(c.total_fen)),
        created_at: from_db_time(c.created_at),
    }
}

/// Coupons with their template's name, looked up in one query.
pub fn coupon_dtos(
    conn: &mut DbConnection,
    coupons: Vec<m::Coupon>,
) -> Result<Vec<api::CouponDto>, ApiError> {
    use diesel::prelude::*;
    use dms_membership::schema::mem_coupon_templates as t;
    let ids: Vec<String> = coupons.iter().map(|c| c.template_id.clone()).collect();
    let names: std::collections::HashMap<String, String> = t::table
        .filter(t::id.eq_any(ids))
        .select((t::id, t::name))
        .load::<(String, String)>(conn)
        .map_err(|err| ApiError::from(m::MembershipError::from(err)))?
        .into_iter()
        .collect();
    Ok(coupons
        .into_iter()
        .map(|c| {
            let name = names.get(&c.template_id).cloned().unwrap_or_default();
            coupon_dto(c, name)
        })
        .collect())
}

/// One coupon with its template's name.
pub fn coupon_dto_named(conn: &mut DbConnection, c: m::Coupon) -> Result<api::CouponDto, ApiError> {
    coupon_dtos(conn, vec![c])?
        .pop()
        .ok_or_else(|| ApiError::Internal("coupon vanished".into()))
}

pub fn coupon_dto(c: m::Coupon, name: String) -> api::CouponDto {
    api::CouponDto {
        id: c.id,
        template_id: c.template_id,
        name,
        store_id: c.store_id,
        member_id: c.member_id,
        status: c.status,
        issued_at: from_db_time(c.issued_at),
        used_at: c.used_at.map(from_db_time),
        used_checkout_id: c.used_checkout_id,
    }
}

pub fn template_dto(t: m::CouponTemplate) -> api::CouponTemplateDto {
    api::CouponTemplateDto {
        id: t.id,
        store_id: t.store_id,
        name: t.name,
        kind: t.kind,
        amount: money(Money::from_fen(t.amount_fen)),
        percent_bp: t.percent_bp,
        cap: t.cap_fen.map(|c| money(Money::from_fen(c))),
        item_code: t.free_item,
        min_spend: money(Money::from_fen(t.min_spend_fen)),
        categories: t
            .categories
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        valid_from: from_db_time(t.valid_from),
        valid_until: from_db_time(t.valid_until),
        per_member_limit: t.per_member_limit,
        active: t.active,
    }
}

pub fn gift_dto(g: m::Gift) -> api::GiftDto {
    api::GiftDto {
        id: g.id,
        store_id: g.store_id,
        name: g.name,
        points_cost: g.points_cost,
        stock: g.stock,
        active: g.active,
    }
}

pub fn stats_dto(s: m::ClubStatistics) -> api::StatisticsDto {
    api::StatisticsDto {
        topped_up: money(s.topped_up),
        bonus_granted: money(s.bonus_granted),
        consumed: money(s.consumed),
        refunded: money(s.refunded),
        bonus_forfeited: money(s.bonus_forfeited),
        checkouts: s.checkouts,
        checkouts_voided: s.checkouts_voided,
        checkout_total: money(s.checkout_total),
        cards_issued: s.cards_issued,
        points_earned: s.points_earned,
        points_redeemed: s.points_redeemed,
        gift_redemptions: s.gift_redemptions,
        gift_points: s.gift_points,
        coupons_used: s.coupons_used,
    }
}
