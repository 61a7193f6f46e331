//! Club statistics for a period (会员统计): top-ups, bonus, stored-value consumption, refunds,
//! checkouts, card issuance, points earned and spent, gift redemptions, coupon use. Money figures
//! are sums of ledger entries by counter account, so they reconcile exactly with the ledgers and
//! the card balances (a test checks it).
//!
//! The sums are taken in Rust over the period's entries, identically on both engines; a
//! reporting replica with SQL aggregates is the analytics crate's business at scale.

use crate::error::Result;
use crate::schema::{
    mem_cards, mem_checkouts, mem_coupons, mem_gift_redemptions, mem_points_entries, mem_sv_entries,
};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use dms_core::{Money, StoreScope};
use dms_db::DbConnection;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClubStatistics {
    /// Paid in by top-ups (all tenders).
    pub topped_up: Money,
    /// Bonus granted by top-up rules.
    pub bonus_granted: Money,
    /// Stored value spent (debits and checkouts, net of voids).
    pub consumed: Money,
    /// Principal paid back on returned cards.
    pub refunded: Money,
    /// Bonus forfeited on return or expired.
    pub bonus_forfeited: Money,
    pub checkouts: i64,
    pub checkouts_voided: i64,
    /// Billed in completed checkouts (all tenders, before the insurer's share is split off).
    pub checkout_total: Money,
    pub cards_issued: i64,
    pub points_earned: i64,
    pub points_redeemed: i64,
    pub gift_redemptions: i64,
    pub gift_points: i64,
    pub coupons_used: i64,
}

/// Statistics for `[from, to)` over the stores in scope.
pub fn club_statistics(
    conn: &mut DbConnection,
    scope: &StoreScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<ClubStatistics> {
    let (f, t) = (dms_db::to_db_time(from), dms_db::to_db_time(to));
    let stores = match scope {
        StoreScope::AllStores => None,
        StoreScope::Stores(s) => Some(s.clone()),
    };
    dms_db::read_tx(conn, |c| {
        let mut q = mem_sv_entries::table
            .filter(mem_sv_entries::created_at.ge(f))
            .filter(mem_sv_entries::created_at.lt(t))
            .filter(mem_sv_entries::card_id.is_null())
            .select((mem_sv_entries::account, mem_sv_entries::amount_fen))
            .into_boxed();
        if let Some(s) = &stores {
            q = q.filter(mem_sv_entries::store_id.eq_any(s.clone()));
        }
        let entries: Vec<(String, i64)> = q.load(c)?;
        let mut out = ClubStatistics::default();
        let (mut topped, mut bonus, mut consumed, mut refunded, mut forfeited) = (0, 0, 0, 0, 0);
        for (account, amount) in entries {
            // Counter accounts carry the opposite sign of the card side.
            if account.starts_with("tender:") {
                topped -= amount;
            } else if account == "bonus_promotion" {
                bonus -= amount;
            } else if account == "sales" {
                consumed += amount;
            } else if account.starts_with("refund:") {
                refunded += amount;
            } else if account == "bonus_forfeit" || account == "bonus_expired" {
                forfeited += amount;
            }
        }
        out.topped_up = Money::from_fen(topped);
        out.bonus_granted = Money::from_fen(bonus);
        out.consumed = Money::from_fen(consumed);
        out.refunded = Money::from_fen(refunded);
        out.bonus_forfeited = Money::from_fen(forfeited);

        let mut q = mem_checkouts::table
            .filter(mem_checkouts::created_at.ge(f))
            .filter(mem_checkouts::created_at.lt(t))
            .select((mem_checkouts::status, mem_checkouts::total_fen))
            .into_boxed();
        if let Some(s) = &stores {
            q = q.filter(mem_checkouts::store_id.eq_any(s.clone()));
        }
        let mut total = 0;
        for (status, amount) in q.load::<(String, i64)>(c)? {
            if status == "completed" {
                out.checkouts += 1;
                total += amount;
            } else {
                out.checkouts_voided += 1;
            }
        }
        out.checkout_total = Money::from_fen(total);

        let mut q = mem_cards::table
            .filter(mem_cards::created_at.ge(f))
            .filter(mem_cards::created_at.lt(t))
            .count()
            .into_boxed();
        if let Some(s) = &stores {
            q = q.filter(mem_cards::store_id.eq_any(s.clone()));
        }
        out.cards_issued = q.get_result(c)?;

        let mut q = mem_points_entries::table
            .filter(mem_points_entries::created_at.ge(f))
            .filter(mem_points_entries::created_at.lt(t))
            .filter(mem_points_entries::track.eq(crate::ledger::REDEEMABLE))
            .filter(mem_points_entries::member_id.is_null())
            .select((mem_points_entries::account, mem_points_entries::amount))
            .into_boxed();
        if let Some(s) = &stores {
            q = q.filter(mem_points_entries::store_id.eq_any(s.clone()));
        }
        for (account, amount) in q.load::<(String, i64)>(c)? {
            match account.as_str() {
                "earned" => out.points_earned -= amount,
                "redeemed" => out.points_redeemed += amount,
                _ => {}
            }
        }

        let mut q = mem_gift_redemptions::table
            .filter(mem_gift_redemptions::created_at.ge(f))
            .filter(mem_gift_redemptions::created_at.lt(t))
            .select(mem_gift_redemptions::points)
            .into_boxed();
        if let Some(s) = &stores {
            q = q.filter(mem_gift_redemptions::store_id.eq_any(s.clone()));
        }
        let gifts: Vec<i64> = q.load(c)?;
        out.gift_redemptions = gifts.len() as i64;
        out.gift_points = gifts.iter().sum();

        let mut q = mem_coupons::table
            .filter(mem_coupons::status.eq("used"))
            .filter(mem_coupons::used_at.ge(f))
            .filter(mem_coupons::used_at.lt(t))
            .count()
            .into_boxed();
        if let Some(s) = &stores {
            q = q.filter(mem_coupons::store_id.eq_any(s.clone()));
        }
        out.coupons_used = q.get_result(c)?;
        Ok(out)
    })
}

/// One [`ClubStatistics`] per UTC day of `[from, to)` (at most 366 days).
pub fn statistics_by_day(
    conn: &mut DbConnection,
    scope: &StoreScope,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<Vec<(chrono::NaiveDate, ClubStatistics)>> {
    if to <= from || (to - from).num_days() > 366 {
        return Err(crate::error::MembershipError::invalid(
            "to",
            "after from, at most 366 days",
        ));
    }
    let mut out = Vec::new();
    let mut day = from;
    while day < to {
        let next = day.succ_opt().unwrap_or(to);
        let start = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let end = next.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        out.push((day, club_statistics(conn, scope, start, end)?));
        day = next;
    }
    Ok(out)
}

/// One [`ClubStatistics`] per store the caller may see, for `[from, to)`.
pub fn statistics_by_store(
    conn: &mut DbConnection,
    scope: &StoreScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(String, ClubStatistics)>> {
    use dms_db::schema::stores;
    let ids: Vec<String> = stores::table
        .select(stores::id)
        .order(stores::id)
        .load(conn)?;
    let mut out = Vec::new();
    for id in ids.into_iter().filter(|id| scope.allows(id)) {
        let one = StoreScope::Stores(vec![id.clone()]);
        out.push((id, club_statistics(conn, &one, from, to)?));
    }
    Ok(out)
}
