//! Checkout (会员消费): one request prices a basket, applies the member's tier discount (an
//! override needs a permission the caller checked, a reason, and is audited), applies coupons,
//! redeems points, settles with a mix of tenders and returns a [`Receipt`]. A void reverses the
//! checkout exactly with reversal ledger transactions; nothing is deleted from the ledgers.
//! [`checkout_batch`] settles the checkouts that arrive together in one transaction, with one
//! statement per table, each answered as it would have been alone.
//!
//! Rounding (stated once, applied everywhere): a line's gross is quantity × unit price rounded
//! half away from zero to the fen; its tier discount is gross × percent / 100 rounded the same
//! way; a coupon's discount is spread over its eligible lines in proportion to their net, each
//! share rounded down to the fen and the remainder given to the eligible lines in order. Points
//! earned per line are net × ratio × (share of the bill not paid with points), rounded down to a
//! whole point.

use crate::cards::{check_usable, load_card, mask_card_no, usable_card, Card};
use crate::config::{effective_config, store_config, Category, ProgrammeConfig};
use crate::coupons::{mark_used, restore_for_checkout, usable_coupon, CouponTemplate};
use crate::error::{MembershipError, Result};
use crate::idempotency::{
    fingerprint, principal_of, replay, run_idempotent, stored_answers, Answers, Replayable,
};
use crate::ledger::{
    reverse_points, reverse_sv, PointsLeg, PointsTxn, Postings, SvTxn, REDEEMABLE, TIER,
};
use crate::members::{load_member, Member};
use crate::schema::{mem_checkouts, mem_qualifying_events};
use crate::stored_value::{spend_legs_from, spendable_lots, split_by_order};
use crate::util::{audit, now_db};
use diesel::prelude::*;
use dms_core::{Clock, Money, StoreScope};
use dms_db::{ColumnType, DbConnection, Rows};
use dms_identity::Actor;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

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
        price_with_coupons(c, &cfg, &member, req, now, &HashSet::new()).map(|(_, basket)| basket)
    })
}

/// The request's coupons, checked usable by the member here and now (`used`: taken by an
/// earlier checkout of the same batch), and the basket priced with them.
fn price_with_coupons(
    c: &mut DbConnection,
    cfg: &ProgrammeConfig,
    member: &Member,
    req: &CheckoutRequest,
    now: chrono::NaiveDateTime,
    used: &HashSet<String>,
) -> Result<(Vec<(String, CouponTemplate)>, PricedBasket)> {
    let coupons = req
        .coupon_ids
        .iter()
        .map(|id| {
            if used.contains(id) {
                return Err(MembershipError::conflict("coupons", "coupon is used"));
            }
            usable_coupon(c, id, &member.id, &req.store_id, now).map(|(cp, t)| (cp.id, t))
        })
        .collect::<Result<Vec<_>>>()?;
    let basket = price_basket(
        cfg,
        &applicable_tier(cfg, member, now),
        &req.lines,
        req.discount_override.as_ref(),
        &coupons,
        req.redeem_points,
    )?;
    Ok((coupons, basket))
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

/// One checkout of a batch: who asks, under which idempotency key, for what, and what the
/// caller was found to be allowed.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutJob<'a> {
    pub actor: &'a Actor,
    pub scope: &'a StoreScope,
    pub idempotency_key: &'a str,
    pub request: &'a CheckoutRequest,
    pub perms: CheckoutPermissions,
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
    let job = CheckoutJob {
        actor,
        scope,
        idempotency_key,
        request: req,
        perms,
    };
    checkout_batch(conn, clock, &[job])
        .pop()
        .unwrap_or_else(|| Err(MembershipError::Internal("checkout not settled".into())))
}

/// Settles several checkouts together, as the server does with the ones that arrive at the
/// same moment: one transaction, their cards and members locked and read in one statement,
/// their keys looked up in one, and what they write gathered into one statement per table.
/// Each job's answer (in the order given) is what it would have been on its own, settled in
/// that order: a refused checkout moves nothing and holds nobody back, a card paying twice
/// pays from what the first left, and a key given twice is one effect (the second replays).
/// If writing fails, each job is settled again on its own, so that only the job at fault
/// sees the error.
pub fn checkout_batch(
    conn: &mut DbConnection,
    clock: &dyn Clock,
    jobs: &[CheckoutJob<'_>],
) -> Vec<Result<Replayable<Receipt>>> {
    let now = now_db(clock);
    let mut answers: Vec<Option<Result<Replayable<Receipt>>>> = Vec::with_capacity(jobs.len());
    let mut keys: Vec<(String, String)> = Vec::with_capacity(jobs.len());
    for job in jobs {
        match precheck(job) {
            Ok(k) => {
                keys.push(k);
                answers.push(None);
            }
            Err(e) => {
                keys.push(Default::default());
                answers.push(Some(Err(e)));
            }
        }
    }
    let todo: Vec<usize> = (0..jobs.len()).filter(|i| answers[*i].is_none()).collect();
    if todo.is_empty() {
        return answers.into_iter().flatten().collect();
    }
    let settled = crate::util::write_lock_first(conn, |c| {
        let mut out = Vec::with_capacity(todo.len());
        let mut left = todo.clone();
        while !left.is_empty() {
            // A key given twice waits for the next round, which finds the first one's answer.
            let mut seen = HashSet::new();
            let mut later = Vec::new();
            let round: Vec<usize> = left
                .into_iter()
                .filter(|i| {
                    let fresh = seen.insert((&keys[*i].0, jobs[*i].idempotency_key));
                    if !fresh {
                        later.push(*i);
                    }
                    fresh
                })
                .collect();
            settle_round(c, now, clock, jobs, &keys, &round, &mut out)?;
            left = later;
        }
        Ok(out)
    });
    match settled {
        Ok(out) => {
            for (i, r) in out {
                answers[i] = Some(r);
            }
        }
        Err(e) if todo.len() == 1 => answers[todo[0]] = Some(Err(e)),
        Err(e) => {
            log::warn!(
                "a batch of {} checkouts could not be written ({e}); settling each alone",
                todo.len()
            );
            for i in todo {
                answers[i] = checkout_batch(conn, clock, &jobs[i..=i]).pop();
            }
        }
    }
    answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| Err(MembershipError::Internal("checkout not settled".into()))))
        .collect()
}

/// What can be refused before anything is read; the job's (principal, fingerprint).
fn precheck(job: &CheckoutJob<'_>) -> Result<(String, String)> {
    let req = job.request;
    check_override(req, job.perms)?;
    if !job.scope.allows(&req.store_id) {
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
    crate::idempotency::check_key(job.idempotency_key)?;
    Ok((principal_of(job.actor), fingerprint("checkout", req)?))
}

/// What the checkouts of one round have read and changed so far, so that each is settled on
/// what the ones before it left.
#[derive(Default)]
struct RoundState {
    cards: HashMap<String, Card>,
    members: HashMap<String, Member>,
    configs: HashMap<String, Rc<ProgrammeConfig>>,
    /// card -> its spendable bonus lots (id, remaining), read once.
    lots: HashMap<String, Vec<(String, i64)>>,
    used_coupons: HashSet<String>,
}

/// Settles jobs with distinct keys; pushes (job, answer) to `out`. `Err` only when the
/// database failed, which undoes the whole transaction.
#[allow(clippy::too_many_arguments)] // the batch's context, passed down as it is
fn settle_round(
    c: &mut DbConnection,
    now: chrono::NaiveDateTime,
    clock: &dyn Clock,
    jobs: &[CheckoutJob<'_>],
    keys: &[(String, String)],
    round: &[usize],
    out: &mut Vec<(usize, Result<Replayable<Receipt>>)>,
) -> Result<()> {
    let card_ids: Vec<&str> = round
        .iter()
        .map(|i| jobs[*i].request.card_id.as_str())
        .collect();
    let mut st = RoundState::default();
    for (card, member) in crate::cards::lock_cards_and_members(c, &card_ids)? {
        st.members.insert(member.id.clone(), member);
        st.cards.insert(card.id.clone(), card);
    }
    let wanted: Vec<(&str, &str)> = round
        .iter()
        .map(|i| (keys[*i].0.as_str(), jobs[*i].idempotency_key))
        .collect();
    let stored = stored_answers(c, &wanted)?;
    let mut writes = Writes::default();
    for &i in round {
        let (job, (principal, fp)) = (&jobs[i], &keys[i]);
        if let Some(s) = stored.get(&(principal.clone(), job.idempotency_key.to_string())) {
            out.push((i, replay(s, "checkout", fp)));
            continue;
        }
        let mut mine = Writes::default();
        match plan(c, now, clock, job, (principal, fp), &mut st, &mut mine) {
            Ok(receipt) => {
                writes.append(mine);
                out.push((
                    i,
                    Ok(Replayable {
                        value: receipt,
                        replayed: false,
                    }),
                ));
            }
            // A statement that failed has spoilt the transaction on PostgreSQL.
            Err(e) if dms_db::TxError::diesel_error(&e).is_some() => return Err(e),
            Err(e) => out.push((i, Err(e))),
        }
    }
    writes.write(c)
}

/// Prices and settles one checkout against the round's state: reads what it needs, records
/// what it writes in `w`, and moves the round's cards, members, lots and coupons on.
fn plan(
    c: &mut DbConnection,
    now: chrono::NaiveDateTime,
    clock: &dyn Clock,
    job: &CheckoutJob<'_>,
    (principal, fp): (&str, &str),
    st: &mut RoundState,
    w: &mut Writes,
) -> Result<Receipt> {
    let (req, actor) = (job.request, job.actor);
    let cfg = match st.configs.get(&req.store_id) {
        Some(cfg) => cfg.clone(),
        None => {
            let cfg = Rc::new(store_config(c, &req.store_id)?);
            st.configs.insert(req.store_id.clone(), cfg.clone());
            cfg
        }
    };
    let card = match st.cards.get(&req.card_id) {
        Some(card) if job.scope.allows(&card.store_id) => card.clone(),
        _ => return Err(MembershipError::NotFound("card")),
    };
    let member = st
        .members
        .get(&card.member_id)
        .cloned()
        .ok_or(MembershipError::NotFound("card"))?;
    let card = check_usable(card, now)?;
    let (coupons, basket) = price_with_coupons(c, &cfg, &member, req, now, &st.used_coupons)?;
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
        match st.lots.get(&card.id) {
            Some(lots) => lots.clone(),
            None => {
                let lots = spendable_lots(c, &card.id, now)?;
                st.lots.insert(card.id.clone(), lots.clone());
                lots
            }
        }
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
    let mut spent_lots = Vec::new();
    let sv_txn = if p + b + bonus_only > 0 {
        let legs = spend_legs_from(&card, &lots, p, b + bonus_only, "sales")?;
        spent_lots = legs
            .iter()
            .filter_map(|l| l.lot_id.clone().map(|lot| (lot, l.amount)))
            .collect();
        Some(w.ledger.sv(
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
        let expires = cfg
            .redeemable_points_valid_days
            .map(|d| dms_db::to_db_time(clock.now() + chrono::Duration::days(i64::from(d))));
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
        Some(w.ledger.points(
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
    w.coupons_used.extend(
        coupons
            .iter()
            .map(|(id, _)| (id.clone(), checkout_id.clone(), now)),
    );
    // A repair (labour and parts the member pays) is a qualifying event for upgrades.
    let repair: i64 = basket
        .lines
        .iter()
        .filter(|l| !l.insurer_paid && matches!(l.category, Category::Labour | Category::Parts))
        .map(|l| l.net.fen())
        .sum();
    if repair > 0 {
        w.qualifying.push(vec![
            dms_core::new_id().into(),
            req.store_id.as_str().into(),
            member.id.as_str().into(),
            "repair".into(),
            repair.into(),
            Some(checkout_id.as_str()).into(),
            now.into(),
        ]);
    }
    // The card and member are locked (or SQLite's writer lock is held), and the round's
    // state holds what earlier checkouts of the batch moved: the balances after are those
    // less what this checkout moves.
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
        basket,
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
    // The receipt document is also the key's stored answer.
    let doc =
        serde_json::to_string(&receipt).map_err(|e| MembershipError::Internal(e.to_string()))?;
    let basket = &receipt.basket;
    w.checkouts.push(vec![
        checkout_id.as_str().into(),
        req.store_id.as_str().into(),
        card.id.as_str().into(),
        member.id.as_str().into(),
        req.terminal_id.as_deref().into(),
        "completed".into(),
        basket.subtotal.fen().into(),
        (basket.tier_discount.fen() + basket.coupon_discount.fen()).into(),
        basket.total.fen().into(),
        sv_txn.into(),
        points_txn.into(),
        doc.as_str().into(),
        actor.kind.into(),
        actor.id.clone().into(),
        now.into(),
    ]);
    let mut detail = json!({"total": basket.total, "member_pays": basket.member_pays,
        "terminal": req.terminal_id, "coupons": req.coupon_ids,
        "points_redeemed": req.redeem_points, "points_earned": earned});
    if let Some(o) = &req.discount_override {
        detail["discount_override"] = json!({"percent": o.percent, "reason": o.reason});
    }
    w.audit.push(
        actor,
        dms_identity::NewAudit {
            store_id: Some(&req.store_id),
            action: if req.discount_override.is_some() {
                "membership.checkout.override"
            } else {
                "membership.checkout"
            },
            entity: "checkout",
            entity_id: &checkout_id,
            detail,
        },
    );
    w.answers
        .push(principal, job.idempotency_key, "checkout", fp, doc, now);
    // What the next checkout of the round on this card, member or coupon starts from.
    if let Some(card) = st.cards.get_mut(&card.id) {
        card.principal_fen -= p;
        card.bonus_fen -= b + bonus_only;
    }
    if let Some(m) = st.members.get_mut(&member.id) {
        m.tier_points += earned;
        m.redeemable_points += earned - req.redeem_points;
    }
    if let Some(lots) = st.lots.get_mut(&card.id) {
        for (lot, amount) in spent_lots {
            if let Some(l) = lots.iter_mut().find(|(id, _)| *id == lot) {
                l.1 += amount;
            }
        }
        lots.retain(|(_, remaining)| *remaining > 0);
    }
    st.used_coupons
        .extend(coupons.into_iter().map(|(id, _)| id));
    Ok(receipt)
}

const CHECKOUT_COLUMNS: &[(&str, ColumnType)] = {
    use ColumnType::{BigInt, NullableText, Text, Timestamp};
    &[
        ("id", Text),
        ("store_id", Text),
        ("card_id", Text),
        ("member_id", Text),
        ("terminal_id", NullableText),
        ("status", Text),
        ("subtotal_fen", BigInt),
        ("discount_fen", BigInt),
        ("total_fen", BigInt),
        ("sv_txn_id", NullableText),
        ("points_txn_id", NullableText),
        ("receipt", Text),
        ("actor_kind", Text),
        ("actor_id", NullableText),
        ("created_at", Timestamp),
    ]
};
const QUALIFYING_COLUMNS: &[(&str, ColumnType)] = {
    use ColumnType::{BigInt, NullableText, Text, Timestamp};
    &[
        ("id", Text),
        ("store_id", Text),
        ("member_id", Text),
        ("kind", Text),
        ("amount_fen", BigInt),
        ("ref_id", NullableText),
        ("occurred_at", Timestamp),
    ]
};

/// Everything settled checkouts write, gathered to be written together.
struct Writes {
    ledger: Postings,
    checkouts: Rows,
    qualifying: Rows,
    /// (coupon, checkout, when)
    coupons_used: Vec<(String, String, chrono::NaiveDateTime)>,
    audit: dms_identity::AuditRows,
    answers: Answers,
}

impl Default for Writes {
    fn default() -> Writes {
        Writes {
            ledger: Postings::default(),
            checkouts: Rows::new("mem_checkouts", CHECKOUT_COLUMNS),
            qualifying: Rows::new("mem_qualifying_events", QUALIFYING_COLUMNS),
            coupons_used: Vec::new(),
            audit: Default::default(),
            answers: Answers::default(),
        }
    }
}

impl Writes {
    fn append(&mut self, other: Writes) {
        self.ledger.append(other.ledger);
        self.checkouts.append(other.checkouts);
        self.qualifying.append(other.qualifying);
        self.coupons_used.extend(other.coupons_used);
        self.audit.append(other.audit);
        self.answers.append(other.answers);
    }

    /// The ledgers first: a checkout row names its transactions.
    fn write(self, c: &mut DbConnection) -> Result<()> {
        self.ledger.write(c)?;
        self.checkouts.insert(c)?;
        self.qualifying.insert(c)?;
        for (coupon, checkout, at) in &self.coupons_used {
            mark_used(c, coupon, checkout, *at)?;
        }
        self.audit.write(c)?;
        self.answers.write(c)
    }
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
