//! The daily tier job (升级 / 到期): [`evaluate_tiers`] upgrades members whose cumulative tier
//! points reach a higher tier's threshold, lifts one tier for a single repair above the
//! programme's amount (seed: 5000) and for insurance above its amount in two consecutive
//! calendar years (seed: 7000), and expires memberships whose term ended (status `expired`,
//! tier back to the lowest: the discount of a higher tier is for members in good standing).
//!
//! Idempotent: each event-driven upgrade is recorded with the event in its reason and never
//! applied twice; points-driven upgrades and expiries compare with the current state; a second
//! run on the same day changes nothing.

use crate::config::{effective_config, ProgrammeConfig};
use crate::error::Result;
use crate::members::{load_member, Member};
use crate::points::record_tier_change;
use crate::schema::{mem_members, mem_qualifying_events, mem_tier_changes};
use crate::util::{audit, write};
use chrono::{Datelike, NaiveDate};
use diesel::prelude::*;
use dms_db::DbConnection;
use dms_identity::Actor;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierEvaluation {
    pub examined: usize,
    pub upgraded: usize,
    pub expired: usize,
}

fn already(c: &mut DbConnection, member: &str, reason: &str) -> Result<bool> {
    let n: i64 = mem_tier_changes::table
        .filter(mem_tier_changes::member_id.eq(member))
        .filter(mem_tier_changes::reason.eq(reason))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

/// The highest tier the member's tier points reach.
fn tier_by_points(cfg: &ProgrammeConfig, points: i64) -> Option<&str> {
    cfg.tiers
        .iter()
        .rev()
        .find(|t| t.upgrade_at_tier_points.is_some_and(|th| points >= th))
        .map(|t| t.code.as_str())
}

fn evaluate_one(
    c: &mut DbConnection,
    actor: &Actor,
    cfg: &ProgrammeConfig,
    m: &Member,
    now: chrono::NaiveDateTime,
    out: &mut TierEvaluation,
) -> Result<()> {
    if m.term_expires_at <= now {
        let base = cfg
            .tiers
            .first()
            .map(|t| t.code.clone())
            .unwrap_or_default();
        diesel::update(mem_members::table.find(&m.id))
            .set((
                mem_members::status.eq("expired"),
                mem_members::updated_at.eq(now),
            ))
            .execute(c)?;
        if m.tier_code != base {
            record_tier_change(c, m, &base, "expiry", now)?;
        }
        audit(
            c,
            actor,
            Some(&m.store_id),
            "membership.member.expire",
            "member",
            &m.id,
            json!({"tier_was": m.tier_code}),
        )?;
        out.expired += 1;
        return Ok(());
    }
    let mut current = m.clone();
    let mut changed = false;
    if let Some(t) = tier_by_points(cfg, current.tier_points) {
        if cfg.rank(t) > cfg.rank(&current.tier_code) {
            record_tier_change(c, &current, t, "tier_points", now)?;
            current = load_member(c, &m.id)?;
            changed = true;
        }
    }
    let events: Vec<(String, String, i64, chrono::NaiveDateTime)> = mem_qualifying_events::table
        .filter(mem_qualifying_events::member_id.eq(&m.id))
        .select((
            mem_qualifying_events::id,
            mem_qualifying_events::kind,
            mem_qualifying_events::amount_fen,
            mem_qualifying_events::occurred_at,
        ))
        .order(mem_qualifying_events::id)
        .load(c)?;
    for (id, kind, amount, _) in &events {
        if kind == "repair" && *amount >= cfg.upgrade.single_repair_amount.fen() {
            let reason = format!("repair:{id}");
            if !already(c, &m.id, &reason)? {
                if let Some(next) = cfg.next_tier(&current.tier_code).map(|t| t.code.clone()) {
                    record_tier_change(c, &current, &next, &reason, now)?;
                    current = load_member(c, &m.id)?;
                    changed = true;
                }
            }
        }
    }
    let mut per_year: BTreeMap<i32, i64> = BTreeMap::new();
    for (_, kind, amount, at) in &events {
        if kind == "insurance" {
            *per_year.entry(at.year()).or_default() += amount;
        }
    }
    let threshold = cfg.upgrade.insurance_two_years_amount.fen();
    for (year, amount) in &per_year {
        let prev = per_year.get(&(year - 1)).copied().unwrap_or(0);
        if *amount >= threshold && prev >= threshold {
            let reason = format!("insurance:{}-{year}", year - 1);
            if !already(c, &m.id, &reason)? {
                if let Some(next) = cfg.next_tier(&current.tier_code).map(|t| t.code.clone()) {
                    record_tier_change(c, &current, &next, &reason, now)?;
                    current = load_member(c, &m.id)?;
                    changed = true;
                }
            }
        }
    }
    if changed {
        audit(
            c,
            actor,
            Some(&m.store_id),
            "membership.member.upgrade",
            "member",
            &m.id,
            json!({"from": m.tier_code, "to": current.tier_code, "by": "daily evaluation"}),
        )?;
        out.upgraded += 1;
    }
    Ok(())
}

/// Evaluates every active member as of the start of `today` (UTC). Each member is handled in
/// its own transaction so one bad row does not hold up the rest of the group.
pub fn evaluate_tiers(conn: &mut DbConnection, today: NaiveDate) -> Result<TierEvaluation> {
    let now = today.and_hms_opt(0, 0, 0).unwrap_or_default();
    let actor = Actor::system("tier-evaluation");
    let ids: Vec<(String, String)> = mem_members::table
        .filter(mem_members::status.eq("active"))
        .select((mem_members::id, mem_members::store_id))
        .order(mem_members::id)
        .load(conn)?;
    let mut out = TierEvaluation::default();
    let mut configs: BTreeMap<String, ProgrammeConfig> = BTreeMap::new();
    for (id, store) in ids {
        let cfg = match configs.get(&store) {
            Some(c) => c.clone(),
            None => {
                let c = effective_config(conn, &store)?;
                configs.insert(store.clone(), c.clone());
                c
            }
        };
        // Counted only after the commit: the body may run again on a retry.
        let delta = write(conn, |c| {
            let mut delta = TierEvaluation::default();
            let m = load_member(c, &id)?;
            if m.status == "active" {
                evaluate_one(c, &actor, &cfg, &m, now, &mut delta)?;
            }
            Ok(delta)
        })?;
        out.examined += 1;
        out.upgraded += delta.upgraded;
        out.expired += delta.expired;
    }
    Ok(out)
}

/// What one run of the daily job did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyReport {
    pub tiers: TierEvaluation,
    pub bonus_lots_expired: usize,
    pub points_expired: i64,
    pub idempotency_keys_purged: usize,
}

/// The member club's daily job, in one call for the scheduler: bonus and points expiry, tier
/// evaluation for today, and forgetting idempotency keys past their 72 hours. Every part is
/// idempotent, so a rerun after a crash is harmless.
pub fn run_daily(conn: &mut DbConnection, clock: &dyn dms_core::Clock) -> Result<DailyReport> {
    let bonus_lots_expired = crate::stored_value::expire_bonus(conn, clock)?;
    let points_expired = crate::points::expire_points(conn, clock)?;
    let tiers = evaluate_tiers(conn, dms_core::business_date(clock.now()))?;
    let idempotency_keys_purged = crate::idempotency::purge_idempotency(conn, clock.now())?;
    Ok(DailyReport {
        tiers,
        bonus_lots_expired,
        points_expired,
        idempotency_keys_purged,
    })
}
