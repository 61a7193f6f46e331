//! Points, dual track (双轨积分): tier points (累计积分: cumulative, never spent, drive tiers) and
//! redeemable points (可兑换积分: spent on gifts, vouchers, renewals and upgrades; optional
//! expiry). Manual adjustments need a reason and are audited; the server gates them behind a
//! permission. Renewal (续会) and the points-for-upgrade trade live here too, because they spend
//! points.

use crate::config::effective_config;
use crate::error::{MembershipError, Result};
use crate::idempotency::{run_idempotent, Replayable};
use crate::ledger::{post_points, PointsLeg, PointsTxn, REDEEMABLE, TIER};
use crate::members::{add_months, get_member, load_member, Member};
use crate::schema::{mem_members, mem_points_entries, mem_qualifying_events, mem_tier_changes};
use crate::util::{audit, now_db};
use diesel::prelude::*;
use dms_core::{Clock, Money, StoreScope};
use dms_db::DbConnection;
use dms_identity::Actor;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointsTrack {
    Tier,
    Redeemable,
}

impl PointsTrack {
    fn code(&self) -> &'static str {
        match self {
            PointsTrack::Tier => TIER,
            PointsTrack::Redeemable => REDEEMABLE,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustPoints {
    pub member_id: String,
    pub track: PointsTrack,
    /// Positive adds, negative takes away; never below zero.
    pub delta: i64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsBalances {
    pub member_id: String,
    pub tier_points: i64,
    pub redeemable_points: i64,
}

fn balances(m: &Member) -> PointsBalances {
    PointsBalances {
        member_id: m.id.clone(),
        tier_points: m.tier_points,
        redeemable_points: m.redeemable_points,
    }
}

const MAX_ADJUST: i64 = 10_000_000;

/// Manual adjustment with a reason (audited).
pub fn adjust_points(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    idempotency_key: &str,
    req: &AdjustPoints,
) -> Result<Replayable<PointsBalances>> {
    if req.delta == 0 || req.delta.abs() > MAX_ADJUST {
        return Err(MembershipError::invalid(
            "delta",
            "not zero, at most 10000000 either way",
        ));
    }
    if req.reason.trim().is_empty() {
        return Err(MembershipError::invalid("reason", "required"));
    }
    let now = now_db(clock);
    run_idempotent(
        conn,
        actor,
        idempotency_key,
        "adjust_points",
        req,
        now,
        |c| {
            let m = get_member(c, scope, &req.member_id)?;
            let held = match req.track {
                PointsTrack::Tier => m.tier_points,
                PointsTrack::Redeemable => m.redeemable_points,
            };
            if held + req.delta < 0 {
                return Err(MembershipError::InsufficientBalance {
                    what: "points",
                    needed: (-req.delta).to_string(),
                    available: held.to_string(),
                });
            }
            let track = req.track.code();
            let txn = post_points(
                c,
                actor,
                now,
                &PointsTxn {
                    store_id: &m.store_id,
                    member_id: &m.id,
                    kind: "adjustment",
                    reason: &req.reason,
                    ref_id: None,
                    reverses: None,
                },
                &[
                    PointsLeg::member(track, req.delta),
                    PointsLeg::counter(track, "adjustment", -req.delta),
                ],
            )?;
            audit(
                c,
                actor,
                Some(&m.store_id),
                "membership.points.adjust",
                "member",
                &m.id,
                json!({"txn": txn, "track": track, "delta": req.delta, "reason": req.reason}),
            )?;
            Ok(balances(&load_member(c, &m.id)?))
        },
    )
}

/// Expires redeemable points whose validity has passed (daily job; idempotent). Spending is
/// taken to consume the oldest points first, so what expires for a member is what was earned
/// with an expiry up to now minus everything taken off the track so far (spent or expired),
/// never more than the balance. Returns the number of points expired.
pub fn expire_points(conn: &mut DbConnection, clock: &dyn Clock) -> Result<i64> {
    let now = now_db(clock);
    let actor = Actor::system("points-expiry");
    crate::util::write(conn, |c| {
        let rows: Vec<(Option<String>, i64, Option<chrono::NaiveDateTime>)> =
            mem_points_entries::table
                .filter(mem_points_entries::track.eq(REDEEMABLE))
                .filter(mem_points_entries::member_id.is_not_null())
                .select((
                    mem_points_entries::member_id,
                    mem_points_entries::amount,
                    mem_points_entries::expires_at,
                ))
                .load(c)?;
        let mut per: std::collections::BTreeMap<String, (i64, i64)> = Default::default();
        for (m, amount, exp) in rows {
            let Some(m) = m else { continue };
            let e = per.entry(m).or_default();
            if amount > 0 && exp.is_some_and(|x| x <= now) {
                e.0 += amount;
            } else if amount < 0 {
                e.1 -= amount;
            }
        }
        let mut total = 0;
        for (member_id, (expired_earned, taken)) in per {
            let m = load_member(c, &member_id)?;
            let n = (expired_earned - taken).min(m.redeemable_points);
            if n <= 0 {
                continue;
            }
            post_points(
                c,
                &actor,
                now,
                &PointsTxn {
                    store_id: &m.store_id,
                    member_id: &m.id,
                    kind: "expiry",
                    reason: "",
                    ref_id: None,
                    reverses: None,
                },
                &[
                    PointsLeg::member(REDEEMABLE, -n),
                    PointsLeg::counter(REDEEMABLE, "expired", n),
                ],
            )?;
            audit(
                c,
                &actor,
                Some(&m.store_id),
                "membership.points.expire",
                "member",
                &m.id,
                json!({"points": n}),
            )?;
            total += n;
        }
        Ok(total)
    })
}

/// How a membership is renewed (续会).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Renewal {
    /// The renewal fee was paid (at least the programme's fee; the payment itself is finance's).
    Fee { paid: Money },
    /// Spend the programme's renewal points (seed: 500).
    Points,
    /// An insurance renewal of at least the programme's amount (seed: 3000).
    Insurance { amount: Money },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewMembership {
    pub member_id: String,
    pub renewal: Renewal,
}

/// Extends the membership by one term from its expiry (or from today if it had lapsed).
pub fn renew_membership(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    idempotency_key: &str,
    req: &RenewMembership,
) -> Result<Replayable<Member>> {
    let now = now_db(clock);
    run_idempotent(conn, actor, idempotency_key, "renew", req, now, |c| {
        let m = get_member(c, scope, &req.member_id)?;
        if m.status == "closed" {
            return Err(MembershipError::conflict(
                "member_id",
                "membership is closed",
            ));
        }
        let cfg = effective_config(c, &m.store_id)?;
        match &req.renewal {
            Renewal::Fee { paid } => {
                if *paid < cfg.renewal.fee {
                    return Err(MembershipError::invalid(
                        "paid",
                        format!("the renewal fee is {}", cfg.renewal.fee),
                    ));
                }
            }
            Renewal::Points => {
                spend_points(c, actor, now, &m, cfg.renewal.points, "renewal")?;
            }
            Renewal::Insurance { amount } => {
                if *amount < cfg.renewal.insurance_amount {
                    return Err(MembershipError::invalid(
                        "amount",
                        format!(
                            "renewal needs insurance of {}",
                            cfg.renewal.insurance_amount
                        ),
                    ));
                }
                insert_insurance(c, &m, amount.fen(), now)?;
            }
        }
        let from = if m.term_expires_at > now {
            m.term_expires_at
        } else {
            now
        };
        let until = add_months(dms_db::from_db_time(from), cfg.term_months);
        diesel::update(mem_members::table.find(&m.id))
            .set((
                mem_members::term_expires_at.eq(dms_db::to_db_time(until)),
                mem_members::status.eq("active"),
                mem_members::updated_at.eq(now),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&m.store_id),
            "membership.member.renew",
            "member",
            &m.id,
            json!({"renewal": req.renewal, "until": dms_db::to_db_time(until)}),
        )?;
        load_member(c, &m.id)
    })
}

fn spend_points(
    c: &mut DbConnection,
    actor: &Actor,
    now: chrono::NaiveDateTime,
    m: &Member,
    points: i64,
    kind: &str,
) -> Result<String> {
    if m.redeemable_points < points {
        return Err(MembershipError::InsufficientBalance {
            what: "redeemable points",
            needed: points.to_string(),
            available: m.redeemable_points.to_string(),
        });
    }
    post_points(
        c,
        actor,
        now,
        &PointsTxn {
            store_id: &m.store_id,
            member_id: &m.id,
            kind,
            reason: "",
            ref_id: None,
            reverses: None,
        },
        &[
            PointsLeg::member(REDEEMABLE, -points),
            PointsLeg::counter(REDEEMABLE, kind, points),
        ],
    )
}

pub(crate) fn record_tier_change(
    c: &mut DbConnection,
    m: &Member,
    to: &str,
    reason: &str,
    now: chrono::NaiveDateTime,
) -> Result<()> {
    diesel::update(mem_members::table.find(&m.id))
        .set((
            mem_members::tier_code.eq(to),
            mem_members::updated_at.eq(now),
        ))
        .execute(c)?;
    diesel::insert_into(mem_tier_changes::table)
        .values((
            mem_tier_changes::id.eq(dms_core::new_id()),
            mem_tier_changes::store_id.eq(&m.store_id),
            mem_tier_changes::member_id.eq(&m.id),
            mem_tier_changes::from_tier.eq(&m.tier_code),
            mem_tier_changes::to_tier.eq(to),
            mem_tier_changes::reason.eq(reason),
            mem_tier_changes::effective_on.eq(now.date().to_string()),
            mem_tier_changes::created_at.eq(now),
        ))
        .execute(c)?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeWithPoints {
    pub member_id: String,
}

/// Trades the programme's points (seed: 2000) for one tier up.
pub fn upgrade_with_points(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    idempotency_key: &str,
    req: &UpgradeWithPoints,
) -> Result<Replayable<Member>> {
    let now = now_db(clock);
    run_idempotent(
        conn,
        actor,
        idempotency_key,
        "upgrade_points",
        req,
        now,
        |c| {
            let m = get_member(c, scope, &req.member_id)?;
            if m.status != "active" {
                return Err(MembershipError::conflict(
                    "member_id",
                    format!("membership is {}", m.status),
                ));
            }
            let cfg = effective_config(c, &m.store_id)?;
            let next = cfg
                .next_tier(&m.tier_code)
                .map(|t| t.code.clone())
                .ok_or_else(|| MembershipError::conflict("tier", "already in the top tier"))?;
            spend_points(c, actor, now, &m, cfg.upgrade.points_for_upgrade, "upgrade")?;
            // The reason carries the key so that two trades on one day stay two records.
            record_tier_change(c, &m, &next, &format!("points:{idempotency_key}"), now)?;
            audit(
                c,
                actor,
                Some(&m.store_id),
                "membership.member.upgrade",
                "member",
                &m.id,
                json!({"from": m.tier_code, "to": next, "by": "points"}),
            )?;
            load_member(c, &m.id)
        },
    )
}

fn insert_insurance(
    c: &mut DbConnection,
    m: &Member,
    amount_fen: i64,
    at: chrono::NaiveDateTime,
) -> Result<()> {
    diesel::insert_into(mem_qualifying_events::table)
        .values((
            mem_qualifying_events::id.eq(dms_core::new_id()),
            mem_qualifying_events::store_id.eq(&m.store_id),
            mem_qualifying_events::member_id.eq(&m.id),
            mem_qualifying_events::kind.eq("insurance"),
            mem_qualifying_events::amount_fen.eq(amount_fen),
            mem_qualifying_events::ref_id.eq(None::<String>),
            mem_qualifying_events::occurred_at.eq(at),
        ))
        .execute(c)?;
    Ok(())
}

/// Records an insurance renewal sold to the member (by the sales or service workflow) for the
/// two-consecutive-years upgrade rule.
pub fn record_insurance(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    member_id: &str,
    amount: Money,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let fen = crate::util::positive("amount", amount)?;
    crate::util::write(conn, |c| {
        let m = get_member(c, scope, member_id)?;
        insert_insurance(c, &m, fen, dms_db::to_db_time(at))?;
        audit(
            c,
            actor,
            Some(&m.store_id),
            "membership.member.insurance",
            "member",
            &m.id,
            json!({"amount": amount}),
        )
    })
}
