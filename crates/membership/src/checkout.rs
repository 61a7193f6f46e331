//! Checkout (会员消费): one request prices a basket, applies the member's tier discount (an
//! override needs a permission the caller checked, a reason, and is audited), applies coupons,
//! redeems points, settles with a mix of tenders and returns a [`Receipt`]. A void reverses the
//! checkout exactly with reversal ledger transactions; nothing is deleted from the ledgers.
//!
//! Rounding (stated once, applied everywhere): a line's gross is quantity × unit price rounded
//! half away from zero to the fen; its tier discount is gross × percent / 100 rounded the same
//! way; a coupon's discount is spread over its eligible lines in proportion to their net, each
//! share rounded down to the fen and the remainder given to the eligible lines in order. Points
//! earned per line are net × ratio × (share of the bill not paid with points), rounded down to a
//! whole point.

use crate::cards::{check_usable, load_card, mask_card_no, usable_card};
use crate::config::{effective_config, store_config, Category, ProgrammeConfig};
use crate::coupons::{mark_used, restore_for_checkout, usable_coupon, CouponTemplate};
use crate::error::{MembershipError, Result};
use crate::idempotency::{run_idempotent, run_idempotent_locked, Replayable};
use crate::ledger::{
    post_points, post_sv, reverse_points, reverse_sv, PointsLeg, PointsTxn, SvTxn, REDEEMABLE, TIER,
};
use crate::members::load_member;
use crate::schema::{mem_checkouts, mem_qualifying_events};
use crate::stored_value::{spend_legs_from, spendable_lots, split_by_order};
use crate::util::{audit, now_db};
use diesel::prelude::*;
use dms_core::{Clock, Money, StoreScope};
use dms_db::DbConnection;
use dms_identity::Actor;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::json;

const MAX_LINES: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasketLine {
    pub category: Category,
    /// The catalogue code of a service item (what a free-item coupon names), if any.
    pub item_code: Option<String>,
    pub description: String,
    /// Up to three decimals (litres of oil).
    pub quantity: Decimal,
    pub unit_price: Money,
    /// Paid by an insurer: no member discount, no points, not settled by the member.
    pub insurer_paid: bool,
}

/// A discount rate chosen by staff instead of the tier's: for every customer-paid line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountOverride {
    pub percent: Decimal,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "amount", rename_all = "snake_case")]
pub enum Tender {
    /// From the card, in the programme's spending order (principal and bonus).
    StoredValue(Money),
    /// From the card's bonus only.
    Bonus(Money),
    Cash(Money),
    BankCard(Money),
}

impl Tender {
    pub fn amount(&self) -> Money {
        match self {
            Tender::StoredValue(m) | Tender::Bonus(m) | Tender::Cash(m) | Tender::BankCard(m) => *m,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutRequest {
    pub card_id: String,
    /// Where the checkout happens (must be among the caller's stores).
    pub store_id: String,
    pub terminal_id: Option<String>,
    pub lines: Vec<BasketLine>,
    pub coupon_ids: Vec<String>,
    /// Redeemable points used as a tender.
    pub redeem_points: i64,
    pub tenders: Vec<Tender>,
    pub discount_override: Option<DiscountOverride>,
}

/// What the caller has verified about the principal (the server checks the permission).
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckoutPermissions {
    /// Holds `membership.override`.
    pub may_override_discount: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    pub category: Category,
    pub item_code: Option<String>,
    pub description: String,
    pub quantity: Decimal,
    pub unit_price: Money,
    pub insurer_paid: bool,
    pub gross: Money,
    pub discount_percent: Decimal,
    pub tier_discount: Money,
    pub coupon_discount: Money,
    pub net: Money,
    pub points_earned: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedCoupon {
    pub coupon_id: String,
    pub name: String,
    pub discount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedBasket {
    pub tier_code: String,
    pub lines: Vec<PricedLine>,
    pub coupons: Vec<AppliedCoupon>,
    pub subtotal: Money,
    pub tier_discount: Money,
    pub coupon_discount: Money,
    pub total: Money,
    pub insurer_pays: Money,
    pub member_pays: Money,
    pub points_redeemed: i64,
    pub points_value: Money,
    pub points_earned: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub checkout_id: String,
    pub store_id: String,
    /// The paying member (receipts stored before it was added read it from the checkout).
    #[serde(default)]
    pub member_id: String,
    pub terminal_id: Option<String>,
    pub at: chrono::NaiveDateTime,
    pub cashier: String,
    pub cashier_id: Option<String>,
    pub masked_card_no: String,
    pub basket: PricedBasket,
    pub discount_override: Option<DiscountOverride>,
    pub tenders: Vec<Tender>,
    pub principal_used: Money,
    pub bonus_used: Money,
    pub principal_after: Money,
    pub bonus_after: Money,
    pub tier_points_after: i64,
    pub redeemable_points_after: i64,
    pub voided: bool,
}

fn round_fen(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

fn money(d: Decimal) -> Result<Money> {
    Money::new(round_fen(d)).map_err(|_| MembershipError::invalid("lines", "amount out of range"))
}

fn check_line(l: &BasketLine) -> Result<()> {
    if l.quantity <= Decimal::ZERO || l.quantity.normalize().scale() > 3 {
        return Err(MembershipError::invalid(
            "quantity",
            "greater than zero, at most three decimals",
        ));
    }
    if l.quantity > Decimal::from(100_000) {
        return Err(MembershipError::invalid("quantity", "too large"));
    }
    if l.unit_price.is_negative() {
        return Err(MembershipError::invalid("unit_price", "not negative"));
    }
    if l.description.chars().count() > 200 {
        return Err(MembershipError::invalid(
            "description",
            "at most 200 characters",
        ));
    }
    Ok(())
}

fn coupon_discount_fen(t: &CouponTemplate, lines: &[PricedLine], eligible: &[usize]) -> i64 {
    let base: i64 = eligible.iter().map(|i| lines[*i].net.fen()).sum();
    match t.kind.as_str() {
        "amount_off" => t.amount_fen.min(base),
        "percent_off" => {
            // `base` is in fen already: round to a whole fen.
            let d = (Decimal::from(base) * Decimal::from(t.percent_bp) / Decimal::from(10_000))
                .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
            let d = i64::try_from(d).unwrap_or(0);
            t.cap_fen.map_or(d, |cap| d.min(cap)).min(base)
        }
        "free_item" => eligible
            .iter()
            .map(|i| &lines[*i])
            .find(|l| l.item_code.is_some() && l.item_code == t.free_item)
            .map(|l| l.unit_price.fen().min(l.net.fen()))
            .unwrap_or(0),
        _ => 0,
    }
}

/// Prices a basket: pure, no database. `coupons` are (coupon id, template) already checked for
/// ownership, status and validity.
pub fn price_basket(
    cfg: &ProgrammeConfig,
    tier_code: &str,
    lines: &[BasketLine],
    discount_override: Option<&DiscountOverride>,
    coupons: &[(String, CouponTemplate)],
    redeem_points: i64,
) -> Result<PricedBasket> {
    if lines.is_empty() || lines.len() > MAX_LINES {
        return Err(MembershipError::invalid("lines", "1-200 lines"));
    }
    if redeem_points < 0 {
        return Err(MembershipError::invalid("redeem_points", "not negative"));
    }
    let tier = cfg.tier(tier_code);
    let mut priced = Vec::with_capacity(lines.len());
    for l in lines {
        check_line(l)?;
        let gross = money(l.quantity * l.unit_price.as_decimal())?;
        let pct = if l.insurer_paid {
            Decimal::ZERO
        } else if let Some(o) = discount_override {
            o.percent
        } else {
            tier.and_then(|t| t.discount_percent.get(&l.category).copied())
                .unwrap_or(Decimal::ZERO)
        };
        let disc = money(gross.as_decimal() * pct / Decimal::ONE_HUNDRED)?;
        priced.push(PricedLine {
            category: l.category,
            item_code: l.item_code.clone(),
            description: l.description.clone(),
            quantity: l.quantity,
            unit_price: l.unit_price,
            insurer_paid: l.insurer_paid,
            gross,
            discount_percent: pct,
            tier_discount: disc,
            coupon_discount: Money::ZERO,
            net: Money::from_fen(gross.fen() - disc.fen()),
            points_earned: 0,
        });
    }
    let mut applied = Vec::new();
    for (id, t) in coupons {
        let eligible: Vec<usize> = priced
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.insurer_paid && t.applies_to(l.category) && l.net.fen() > 0)
            .map(|(i, _)| i)
            .collect();
        let base: i64 = eligible.iter().map(|i| priced[*i].net.fen()).sum();
        if base < t.min_spend_fen || base == 0 {
            return Err(MembershipError::invalid(
                "coupons",
                format!("{}: minimum spend on eligible items not reached", t.name),
            ));
        }
        let d = coupon_discount_fen(t, &priced, &eligible);
        if d <= 0 {
            return Err(MembershipError::invalid(
                "coupons",
                format!("{}: nothing in the basket it applies to", t.name),
            ));
        }
        // Proportional shares rounded down, the remainder to eligible lines in order.
        let mut given = 0;
        let mut shares = Vec::with_capacity(eligible.len());
        for i in &eligible {
            let s = i128::from(d) * i128::from(priced[*i].net.fen()) / i128::from(base);
            let s = i64::try_from(s).unwrap_or(0);
            shares.push(s);
            given += s;
        }
        let mut rest = d - given;
        for (k, i) in eligible.iter().enumerate() {
            let room = priced[*i].net.fen() - shares[k];
            let extra = rest.min(room);
            shares[k] += extra;
            rest -= extra;
        }
        for (k, i) in eligible.iter().enumerate() {
            let l = &mut priced[*i];
            l.coupon_discount = Money::from_fen(l.coupon_discount.fen() + shares[k]);
            l.net = Money::from_fen(l.net.fen() - shares[k]);
        }
        applied.push(AppliedCoupon {
            coupon_id: id.clone(),
            name: t.name.clone(),
            discount: Money::from_fen(d),
        });
    }
    let sum = |f: &dyn Fn(&PricedLine) -> i64| -> i64 { priced.iter().map(f).sum() };
    let subtotal = sum(&|l| l.gross.fen());
    let tier_discount = sum(&|l| l.tier_discount.fen());
    let coupon_discount = sum(&|l| l.coupon_discount.fen());
    let total = sum(&|l| l.net.fen());
    let insurer = sum(&|l| if l.insurer_paid { l.net.fen() } else { 0 });
    let member_pays = total - insurer;
    let points_value = redeem_points
        .checked_mul(cfg.point_value_fen)
        .ok_or_else(|| MembershipError::invalid("redeem_points", "too many"))?;
    if points_value > member_pays {
        return Err(MembershipError::invalid(
            "redeem_points",
            "worth more than the member pays",
        ));
    }
    // Points earned on the share not paid with points. Multiply before dividing: a share like
    // 1/3 is not exact in decimal and would round 1.0 down to 0.
    let mut earned = 0;
    for l in priced.iter_mut().filter(|l| !l.insurer_paid) {
        let ratio = cfg
            .points_per_yuan
            .get(&l.category)
            .copied()
            .unwrap_or(Decimal::ZERO);
        let p = if member_pays == 0 {
            Decimal::ZERO
        } else {
            (l.net.as_decimal() * ratio * Decimal::from(member_pays - points_value)
                / Decimal::from(member_pays))
            .floor()
        };
        l.points_earned = i64::try_from(p).unwrap_or(0);
        earned += l.points_earned;
    }
    Ok(PricedBasket {
        tier_code: tier_code.to_string(),
        lines: priced,
        coupons: applied,
        subtotal: Money::from_fen(subtotal),
        tier_discount: Money::from_fen(tier_discount),
        coupon_discount: Money::from_fen(coupon_discount),
        total: Money::from_fen(total),
        insurer_pays: Money::from_fen(insurer),
        member_pays: Money::from_fen(member_pays),
        points_redeemed: redeem_points,
        points_value: Money::from_fen(points_value),
        points_earned: earned,
    })
}

/// The tier whose discounts apply now: the member's while the membership runs, else the lowest.
fn applicable_tier(
    cfg: &ProgrammeConfig,
    m: &crate::members::Member,
    now: chrono::NaiveDateTime,
) -> String {
    if m.status == "active" && m.term_expires_at > now {
        m.tier_code.clone()
    } else {
        cfg.tiers
            .first()
            .map(|t| t.code.clone())
            .unwrap_or_default()
    }
}

/// Prices a basket for a card without settling anything (the quote a kiosk shows).
pub fn quote(
    conn: &mut DbConnection,
    scope: &StoreScope,
    clock: &dyn Clock,
    req: &CheckoutRequest,
    perms: CheckoutPermissions,
) -> Result<PricedBasket> {
    check_override(req, perms)?;
    let now = now_db(clock);
    dms_db::read_tx(conn, |c| {
        let card = usable_card(c, scope, &req.card_id, now)?;
        let member = load_member(c, &card.member_id)?;
        let cfg = effective_config(c, &req.store_id)?;
        let coupons = req
            .coupon_ids
            .iter()
            .map(|id| {
                usable_coupon(c, id, &member.id, &req.store_id, now).map(|(cp, t)| (cp.id, t))
            })
            .collect::<Result<Vec<_>>>()?;
        price_basket(
            &cfg,
            &applicable_tier(&cfg, &member, now),
            &req.lines,
            req.discount_override.as_ref(),
            &coupons,
            req.redeem_points,
        )
    })
}

fn check_override(req: &CheckoutRequest, perms: CheckoutPermissions) -> Result<()> {
    if let Some(o) = &req.discount_override {
        if !perms.may_override_discount {
            return Err(MembershipError::Forbidden(
                "overriding the member discount needs membership.override".into(),
            ));
        }
        if o.reason.trim().is_empty() {
            return Err(MembershipError::invalid(
                "discount_override.reason",
                "required",
            ));
        }
        if o.percent.is_sign_negative() || o.percent > Decimal::ONE_HUNDRED {
            return Err(MembershipError::invalid(
                "discount_override.percent",
                "between 0 and 100",
            ));
        }
    }
    Ok(())
}

/// 会员消费: prices, settles and records one checkout.
pub fn checkout(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    idempotency_key: &str,
    req: &CheckoutRequest,
    perms: CheckoutPermissions,
) -> Result<Replayable<Receipt>> {
    check_override(req, perms)?;
    if !scope.allows(&req.store_id) {
        return Err(MembershipError::NotFound("store"));
    }
    for t in &req.tenders {
        crate::util::positive("tenders", t.amount())?;
    }
    let mut seen = std::collections::BTreeSet::new();
    if !req.coupon_ids.iter().all(|id| seen.insert(id)) {
        return Err(MembershipError::invalid(
            "coupons",
            "a coupon appears twice",
        ));
    }
    let now = now_db(clock);
    let lock = |c: &mut DbConnection| crate::cards::lock_card_and_member(c, &req.card_id);
    run_idempotent_locked(
        conn,
        actor,
        idempotency_key,
        "checkout",
        req,
        now,
        lock,
        |c, locked| {
            let cfg = store_config(c, &req.store_id)?;
            let (card, member) = match locked {
                Some((card, member)) if scope.allows(&card.store_id) => (card, member),
                _ => return Err(MembershipError::NotFound("card")),
            };
            let card = check_usable(card, now)?;
            let coupons = req
                .coupon_ids
                .iter()
                .map(|id| {
                    usable_coupon(c, id, &member.id, &req.store_id, now).map(|(cp, t)| (cp.id, t))
                })
                .collect::<Result<Vec<_>>>()?;
            let basket = price_basket(
                &cfg,
                &applicable_tier(&cfg, &member, now),
                &req.lines,
                req.discount_override.as_ref(),
                &coupons,
                req.redeem_points,
            )?;
            let tendered: i64 = req.tenders.iter().map(|t| t.amount().fen()).sum();
            if tendered + basket.points_value.fen() != basket.member_pays.fen() {
                return Err(MembershipError::invalid(
                    "tenders",
                    format!(
                        "tenders and points come to {}, the member pays {}",
                        Money::from_fen(tendered + basket.points_value.fen()),
                        basket.member_pays
                    ),
                ));
            }
            if req.redeem_points > member.redeemable_points {
                return Err(MembershipError::InsufficientBalance {
                    what: "redeemable points",
                    needed: req.redeem_points.to_string(),
                    available: member.redeemable_points.to_string(),
                });
            }
            let checkout_id = dms_core::new_id();
            // Stored value: explicit bonus tenders first, then stored-value tenders in order.
            let sv: i64 = req
                .tenders
                .iter()
                .filter(|t| matches!(t, Tender::StoredValue(_)))
                .map(|t| t.amount().fen())
                .sum();
            let bonus_only: i64 = req
                .tenders
                .iter()
                .filter(|t| matches!(t, Tender::Bonus(_)))
                .map(|t| t.amount().fen())
                .sum();
            // The card's bonus balance is the sum of its lots: none to read when it is zero.
            let lots = if card.bonus_fen > 0 {
                spendable_lots(c, &card.id, now)?
            } else {
                Vec::new()
            };
            let bonus_avail: i64 = lots.iter().map(|(_, r)| r).sum();
            if bonus_only > bonus_avail {
                return Err(MembershipError::InsufficientBalance {
                    what: "bonus",
                    needed: Money::from_fen(bonus_only).to_string(),
                    available: Money::from_fen(bonus_avail).to_string(),
                });
            }
            let (p, b) = split_by_order(
                cfg.bonus_spend_order,
                sv,
                card.principal_fen,
                bonus_avail - bonus_only,
            )?;
            let sv_txn = if p + b + bonus_only > 0 {
                let legs = spend_legs_from(&card, &lots, p, b + bonus_only, "sales")?;
                Some(post_sv(
                    c,
                    actor,
                    now,
                    &SvTxn {
                        store_id: &req.store_id,
                        card_id: &card.id,
                        kind: "checkout",
                        amount_fen: -(p + b + bonus_only),
                        payment_method: None,
                        ref_id: Some(&checkout_id),
                        reverses: None,
                        terminal_id: req.terminal_id.as_deref(),
                        memo: "",
                    },
                    &legs,
                )?)
            } else {
                None
            };
            let earned = basket.points_earned;
            let points_txn = if earned > 0 || req.redeem_points > 0 {
                let expires = cfg.redeemable_points_valid_days.map(|d| {
                    dms_db::to_db_time(clock.now() + chrono::Duration::days(i64::from(d)))
                });
                let mut earned_leg = PointsLeg::member(REDEEMABLE, earned);
                earned_leg.expires_at = expires;
                let legs = vec![
                    PointsLeg::member(REDEEMABLE, -req.redeem_points),
                    PointsLeg::counter(REDEEMABLE, "redeemed", req.redeem_points),
                    earned_leg,
                    PointsLeg::counter(REDEEMABLE, "earned", -earned),
                    PointsLeg::member(TIER, earned),
                    PointsLeg::counter(TIER, "earned", -earned),
                ];
                Some(post_points(
                    c,
                    actor,
                    now,
                    &PointsTxn {
                        store_id: &req.store_id,
                        member_id: &member.id,
                        kind: "checkout",
                        reason: "",
                        ref_id: Some(&checkout_id),
                        reverses: None,
                    },
                    &legs,
                )?)
            } else {
                None
            };
            for (id, _) in &coupons {
                mark_used(c, id, &checkout_id, now)?;
            }
            // A repair (labour and parts the member pays) is a qualifying event for upgrades.
            let repair: i64 = basket
                .lines
                .iter()
                .filter(|l| {
                    !l.insurer_paid && matches!(l.category, Category::Labour | Category::Parts)
                })
                .map(|l| l.net.fen())
                .sum();
            if repair > 0 {
                diesel::insert_into(mem_qualifying_events::table)
                    .values((
                        mem_qualifying_events::id.eq(dms_core::new_id()),
                        mem_qualifying_events::store_id.eq(&req.store_id),
                        mem_qualifying_events::member_id.eq(&member.id),
                        mem_qualifying_events::kind.eq("repair"),
                        mem_qualifying_events::amount_fen.eq(repair),
                        mem_qualifying_events::ref_id.eq(&checkout_id),
                        mem_qualifying_events::occurred_at.eq(now),
                    ))
                    .execute(c)?;
            }
            // The card and member are locked (or SQLite's writer lock is held): their balances
            // after are what they were less what this checkout moved.
            let principal_after = Money::from_fen(card.principal_fen - p);
            let bonus_after = Money::from_fen(card.bonus_fen - (b + bonus_only));
            let tier_points_after = member.tier_points + earned;
            let redeemable_points_after = member.redeemable_points - req.redeem_points + earned;
            let receipt = Receipt {
                checkout_id: checkout_id.clone(),
                store_id: req.store_id.clone(),
                member_id: member.id.clone(),
                terminal_id: req.terminal_id.clone(),
                at: now,
                cashier: actor.name.clone(),
                cashier_id: actor.id.clone(),
                masked_card_no: mask_card_no(&card.card_no),
                basket: basket.clone(),
                discount_override: req.discount_override.clone(),
                tenders: req.tenders.clone(),
                principal_used: Money::from_fen(p),
                bonus_used: Money::from_fen(b + bonus_only),
                principal_after,
                bonus_after,
                tier_points_after,
                redeemable_points_after,
                voided: false,
            };
            let doc = serde_json::to_string(&receipt)
                .map_err(|e| MembershipError::Internal(e.to_string()))?;
            diesel::insert_into(mem_checkouts::table)
                .values((
                    mem_checkouts::id.eq(&checkout_id),
                    mem_checkouts::store_id.eq(&req.store_id),
                    mem_checkouts::card_id.eq(&card.id),
                    mem_checkouts::member_id.eq(&member.id),
                    mem_checkouts::terminal_id.eq(req.terminal_id.as_deref()),
                    mem_checkouts::status.eq("completed"),
                    mem_checkouts::subtotal_fen.eq(basket.subtotal.fen()),
                    mem_checkouts::discount_fen
                        .eq(basket.tier_discount.fen() + basket.coupon_discount.fen()),
                    mem_checkouts::total_fen.eq(basket.total.fen()),
                    mem_checkouts::sv_txn_id.eq(sv_txn.as_deref()),
                    mem_checkouts::points_txn_id.eq(points_txn.as_deref()),
                    mem_checkouts::receipt.eq(&doc),
                    mem_checkouts::actor_kind.eq(actor.kind),
                    mem_checkouts::actor_id.eq(actor.id.as_deref()),
                    mem_checkouts::created_at.eq(now),
                ))
                .execute(c)?;
            let mut detail = json!({"total": basket.total, "member_pays": basket.member_pays,
            "terminal": req.terminal_id, "coupons": req.coupon_ids,
            "points_redeemed": req.redeem_points, "points_earned": earned});
            if let Some(o) = &req.discount_override {
                detail["discount_override"] = json!({"percent": o.percent, "reason": o.reason});
            }
            audit(
                c,
                actor,
                Some(&req.store_id),
                if req.discount_override.is_some() {
                    "membership.checkout.override"
                } else {
                    "membership.checkout"
                },
                "checkout",
                &checkout_id,
                detail,
            )?;
            Ok(receipt)
        },
    )
}

/// A checkout the member authorises with the card PIN (kiosk, or stored value at the desk when
/// the store requires it). The PIN check commits its failure count on its own, before the
/// checkout; a wrong or locked PIN moves nothing.
#[allow(clippy::too_many_arguments)] // checkout's arguments plus the PIN and its policy
pub fn checkout_with_pin(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    idempotency_key: &str,
    req: &CheckoutRequest,
    perms: CheckoutPermissions,
    policy: &crate::pin::PinPolicy,
    pin: &crate::pin::Pin,
) -> Result<Replayable<Receipt>> {
    crate::pin::verify_pin(conn, scope, clock, policy, &req.card_id, pin)?;
    checkout(conn, actor, scope, clock, idempotency_key, req, perms)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoidCheckout {
    pub checkout_id: String,
    pub reason: String,
}

/// Voids a checkout: reverses its stored-value and points transactions entry by entry, gives
/// its coupons back and drops its qualifying event. Refused when the member has already spent
/// the points it earned.
pub fn void_checkout(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    idempotency_key: &str,
    req: &VoidCheckout,
) -> Result<Replayable<Receipt>> {
    if req.reason.trim().is_empty() {
        return Err(MembershipError::invalid("reason", "required"));
    }
    let now = now_db(clock);
    run_idempotent(
        conn,
        actor,
        idempotency_key,
        "void_checkout",
        req,
        now,
        |c| {
            type Row = (String, String, Option<String>, Option<String>, String);
            let row: Option<Row> = mem_checkouts::table
                .find(&req.checkout_id)
                .select((
                    mem_checkouts::store_id,
                    mem_checkouts::status,
                    mem_checkouts::sv_txn_id,
                    mem_checkouts::points_txn_id,
                    mem_checkouts::receipt,
                ))
                .first(c)
                .optional()?;
            let Some((store_id, status, sv, pts, doc)) = row else {
                return Err(MembershipError::NotFound("checkout"));
            };
            if !scope.allows(&store_id) {
                return Err(MembershipError::NotFound("checkout"));
            }
            if status != "completed" {
                return Err(MembershipError::conflict("checkout", "already voided"));
            }
            // Money goes back to the card it came from; a replaced or returned card is dead and
            // must not receive it (the member settles that at the desk instead).
            let card_id: String = mem_checkouts::table
                .find(&req.checkout_id)
                .select(mem_checkouts::card_id)
                .first(c)?;
            let card = load_card(c, &card_id)?;
            if matches!(card.status.as_str(), "replaced" | "closed") {
                return Err(MembershipError::conflict(
                    "checkout",
                    format!("the card was {} after this checkout", card.status),
                ));
            }
            if let Some(t) = &sv {
                reverse_sv(c, actor, now, t, "checkout_void", &req.reason)?;
            }
            if let Some(t) = &pts {
                reverse_points(c, actor, now, t, "checkout_void", &req.reason).map_err(
                    |e| match e {
                        MembershipError::InsufficientBalance { .. } => MembershipError::conflict(
                            "checkout",
                            "the points this checkout earned have been spent",
                        ),
                        e => e,
                    },
                )?;
            }
            restore_for_checkout(c, &req.checkout_id)?;
            diesel::delete(
                mem_qualifying_events::table
                    .filter(mem_qualifying_events::ref_id.eq(&req.checkout_id)),
            )
            .execute(c)?;
            diesel::update(mem_checkouts::table.find(&req.checkout_id))
                .set((
                    mem_checkouts::status.eq("voided"),
                    mem_checkouts::voided_at.eq(now),
                    mem_checkouts::void_reason.eq(&req.reason),
                ))
                .execute(c)?;
            let mut receipt: Receipt = serde_json::from_str(&doc)
                .map_err(|e| MembershipError::Internal(format!("stored receipt: {e}")))?;
            let card = load_card(c, &card_id)?;
            let member = load_member(c, &card.member_id)?;
            receipt.voided = true;
            receipt.principal_after = card.principal();
            receipt.bonus_after = card.bonus();
            receipt.tier_points_after = member.tier_points;
            receipt.redeemable_points_after = member.redeemable_points;
            audit(
                c,
                actor,
                Some(&store_id),
                "membership.checkout.void",
                "checkout",
                &req.checkout_id,
                json!({"reason": req.reason}),
            )?;
            Ok(receipt)
        },
    )
}

/// The stored receipt of a checkout (for reprinting).
pub fn get_receipt(
    conn: &mut DbConnection,
    scope: &StoreScope,
    checkout_id: &str,
) -> Result<Receipt> {
    let row: Option<(String, String, String, String)> = mem_checkouts::table
        .find(checkout_id)
        .select((
            mem_checkouts::store_id,
            mem_checkouts::status,
            mem_checkouts::receipt,
            mem_checkouts::member_id,
        ))
        .first(conn)
        .optional()?;
    match row {
        Some((store, status, doc, member_id)) if scope.allows(&store) => {
            let mut r: Receipt = serde_json::from_str(&doc)
                .map_err(|e| MembershipError::Internal(format!("stored receipt: {e}")))?;
            r.voided = status == "voided";
            r.member_id = member_id;
            Ok(r)
        }
        _ => Err(MembershipError::NotFound("checkout")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(cat: Category, qty: &str, price: &str) -> BasketLine {
        BasketLine {
            category: cat,
            item_code: None,
            description: String::new(),
            quantity: qty.parse().unwrap(),
            unit_price: price.parse().unwrap(),
            insurer_paid: false,
        }
    }

    #[test]
    fn tier_discounts_rounding_and_points() {
        let cfg = ProgrammeConfig::default();
        // Gold: labour 10 %, parts 5 %.
        let lines = vec![
            line(Category::Labour, "1.5", "333.33"),
            line(Category::Parts, "4.5", "68.80"),
            BasketLine {
                insurer_paid: true,
                ..line(Category::Parts, "1", "1000")
            },
        ];
        let b = price_basket(&cfg, "gold", &lines, None, &[], 0).unwrap();
        // 1.5 × 333.33 = 499.995 → 500.00; 10 % → 50.00.
        assert_eq!(b.lines[0].gross.to_string(), "500.00");
        assert_eq!(b.lines[0].tier_discount.to_string(), "50.00");
        // 4.5 × 68.80 = 309.60; 5 % = 15.48.
        assert_eq!(b.lines[1].tier_discount.to_string(), "15.48");
        assert_eq!(b.lines[2].tier_discount, Money::ZERO);
        assert_eq!(b.insurer_pays.to_string(), "1000.00");
        assert_eq!(b.member_pays.to_string(), "744.12");
        // 1 point per yuan, rounded down per line; insurer-paid earns none.
        assert_eq!(b.lines[0].points_earned, 450);
        assert_eq!(b.lines[1].points_earned, 294);
        assert_eq!(b.lines[2].points_earned, 0);
        assert_eq!(b.points_earned, 744);
        // Standard tier: no discount.
        let s = price_basket(&cfg, "standard", &lines, None, &[], 0).unwrap();
        assert_eq!(s.tier_discount, Money::ZERO);
        // Paying half with points halves the points earned.
        let h = price_basket(&cfg, "gold", &lines[..1], None, &[], 22_500).unwrap();
        assert_eq!(h.points_value.to_string(), "225.00");
        assert_eq!(h.points_earned, 225);
        assert!(price_basket(&cfg, "gold", &lines[..1], None, &[], 45_001).is_err());
    }

    #[test]
    fn points_share_is_exact() {
        let cfg = ProgrammeConfig::default();
        // 3.00 paid 2.00 with points (200 points at 1 fen): the 1.00 left earns exactly 1 point
        // (1/3 is not exact in decimal; 3 × 0.333… would floor to 0).
        let b = price_basket(
            &cfg,
            "standard",
            &[line(Category::Labour, "1", "3")],
            None,
            &[],
            200,
        )
        .unwrap();
        assert_eq!(b.points_earned, 1);
    }

    #[test]
    fn override_replaces_the_tier_rate() {
        let cfg = ProgrammeConfig::default();
        let o = DiscountOverride {
            percent: Decimal::from(30),
            reason: "老客户".into(),
        };
        let b = price_basket(
            &cfg,
            "standard",
            &[line(Category::Labour, "1", "100")],
            Some(&o),
            &[],
            0,
        )
        .unwrap();
        assert_eq!(b.total.to_string(), "70.00");
    }

    #[test]
    fn bad_lines_are_refused() {
        let cfg = ProgrammeConfig::default();
        for (q, p) in [("0", "1"), ("-1", "1"), ("1.0001", "1"), ("1", "-1")] {
            assert!(
                price_basket(&cfg, "gold", &[line(Category::Labour, q, p)], None, &[], 0).is_err()
            );
        }
        assert!(price_basket(&cfg, "gold", &[], None, &[], 0).is_err());
    }
}
