//! The two append-only ledgers and their invariants.
//!
//! Stored value: every movement is a transaction (`mem_sv_txns`) with entries (`mem_sv_entries`)
//! that sum to zero. The card's own accounts are [`PRINCIPAL`] (refundable money paid in) and
//! [`BONUS`] (top-up bonus, non-refundable, held in lots with their own expiry); the other side
//! is a counter account naming where money came from or went (a tender, sales, a refund...).
//! Points: the same shape in `mem_points_txns` / `mem_points_entries`, on two tracks (tier and
//! redeemable) against counter accounts (earned, redeemed, adjusted, expired).
//!
//! Cached balances (card principal/bonus, lot remaining, member points) are updated only by
//! [`Postings::write`] (behind [`post_sv`] and [`post_points`]), in the transaction that writes
//! the entries, and
//! [`verify_ledgers`] proves them equal to the entry sums. The database refuses UPDATE and DELETE
//! on ledger rows (triggers), and CHECK constraints refuse a negative cached balance as a last
//! line of defence behind the checks in code.

use crate::error::{MembershipError, Result};
use crate::schema::{
    mem_bonus_lots, mem_cards, mem_members, mem_points_entries, mem_points_txns, mem_sv_entries,
    mem_sv_txns,
};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use dms_db::{ColumnType, DbConnection, Rows};
use dms_identity::Actor;
use std::collections::BTreeMap;

/// (txn, card, account, lot, amount) of a stored-value entry.
type SvEntryRow = (String, Option<String>, String, Option<String>, i64);

pub const PRINCIPAL: &str = "card_principal";
pub const BONUS: &str = "card_bonus";
pub const TIER: &str = "tier";
pub const REDEEMABLE: &str = "redeemable";

/// One entry to post.
#[derive(Debug, Clone)]
pub(crate) struct Leg {
    pub card_id: Option<String>,
    pub account: String,
    pub lot_id: Option<String>,
    pub amount: i64,
}

impl Leg {
    pub fn principal(card: &str, amount: i64) -> Leg {
        Leg {
            card_id: Some(card.to_string()),
            account: PRINCIPAL.into(),
            lot_id: None,
            amount,
        }
    }
    pub fn bonus(card: &str, lot: &str, amount: i64) -> Leg {
        Leg {
            card_id: Some(card.to_string()),
            account: BONUS.into(),
            lot_id: Some(lot.to_string()),
            amount,
        }
    }
    pub fn counter(account: &str, amount: i64) -> Leg {
        Leg {
            card_id: None,
            account: account.into(),
            lot_id: None,
            amount,
        }
    }
}

pub(crate) struct SvTxn<'a> {
    pub store_id: &'a str,
    pub card_id: &'a str,
    pub kind: &'a str,
    pub amount_fen: i64,
    pub payment_method: Option<&'a str>,
    pub ref_id: Option<&'a str>,
    pub reverses: Option<&'a str>,
    pub terminal_id: Option<&'a str>,
    pub memo: &'a str,
}

fn balance_error(e: DieselError, what: &'static str) -> MembershipError {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::CheckViolation, _) => {
            MembershipError::InsufficientBalance {
                what,
                needed: String::new(),
                available: String::new(),
            }
        }
        DieselError::DatabaseError(_, ref info) if info.message().contains("CHECK") => {
            MembershipError::InsufficientBalance {
                what,
                needed: String::new(),
                available: String::new(),
            }
        }
        e => MembershipError::Db(e),
    }
}

/// Whether a refused update names the bonus balance (PostgreSQL names the constraint, SQLite
/// quotes its expression).
fn mentions_bonus(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(_, info) => {
            info.message().contains("bonus")
                || info.constraint_name().is_some_and(|n| n.contains("bonus"))
        }
        _ => false,
    }
}

/// Writes a stored-value transaction and its entries and moves the cached balances with them.
pub(crate) fn post_sv(
    c: &mut DbConnection,
    actor: &Actor,
    now: chrono::NaiveDateTime,
    t: &SvTxn<'_>,
    legs: &[Leg],
) -> Result<String> {
    let mut p = Postings::default();
    let id = p.sv(actor, now, t, legs)?;
    p.write(c)?;
    Ok(id)
}

/// Appends entries to an existing transaction and moves the caches they touch. Callers keep
/// each call balanced (the transaction as a whole always sums to zero).
pub(crate) fn append_legs(
    c: &mut DbConnection,
    now: chrono::NaiveDateTime,
    id: &str,
    store_id: &str,
    legs: &[Leg],
) -> Result<()> {
    let mut p = Postings::default();
    p.sv_legs(now, id, store_id, legs)?;
    p.write(c)
}

/// Reverses a stored-value transaction exactly: a new transaction with every entry negated.
pub(crate) fn reverse_sv(
    c: &mut DbConnection,
    actor: &Actor,
    now: chrono::NaiveDateTime,
    txn_id: &str,
    kind: &str,
    memo: &str,
) -> Result<String> {
    let (store_id, card_id, amount): (String, String, i64) = mem_sv_txns::table
        .find(txn_id)
        .select((
            mem_sv_txns::store_id,
            mem_sv_txns::card_id,
            mem_sv_txns::amount_fen,
        ))
        .first(c)?;
    let entries: Vec<(Option<String>, String, Option<String>, i64)> = mem_sv_entries::table
        .filter(mem_sv_entries::txn_id.eq(txn_id))
        .select((
            mem_sv_entries::card_id,
            mem_sv_entries::account,
            mem_sv_entries::bonus_lot_id,
            mem_sv_entries::amount_fen,
        ))
        .order(mem_sv_entries::id)
        .load(c)?;
    let legs: Vec<Leg> = entries
        .into_iter()
        .map(|(card_id, account, lot_id, amount)| Leg {
            card_id,
            account,
            lot_id,
            amount: -amount,
        })
        .collect();
    post_sv(
        c,
        actor,
        now,
        &SvTxn {
            store_id: &store_id,
            card_id: &card_id,
            kind,
            amount_fen: -amount,
            payment_method: None,
            ref_id: None,
            reverses: Some(txn_id),
            terminal_id: None,
            memo,
        },
        &legs,
    )
}

pub(crate) struct PointsTxn<'a> {
    pub store_id: &'a str,
    pub member_id: &'a str,
    pub kind: &'a str,
    pub reason: &'a str,
    pub ref_id: Option<&'a str>,
    pub reverses: Option<&'a str>,
}

/// One points entry: `member = true` for the member's own track, else a counter account.
#[derive(Debug, Clone)]
pub(crate) struct PointsLeg {
    pub member: bool,
    pub track: &'static str,
    pub account: String,
    pub amount: i64,
    pub expires_at: Option<chrono::NaiveDateTime>,
}

impl PointsLeg {
    pub fn member(track: &'static str, amount: i64) -> PointsLeg {
        PointsLeg {
            member: true,
            track,
            account: "member".into(),
            amount,
            expires_at: None,
        }
    }
    pub fn counter(track: &'static str, account: &str, amount: i64) -> PointsLeg {
        PointsLeg {
            member: false,
            track,
            account: account.into(),
            amount,
            expires_at: None,
        }
    }
}

/// Writes a points transaction; each track's entries sum to zero.
pub(crate) fn post_points(
    c: &mut DbConnection,
    actor: &Actor,
    now: chrono::NaiveDateTime,
    t: &PointsTxn<'_>,
    legs: &[PointsLeg],
) -> Result<String> {
    let mut p = Postings::default();
    let id = p.points(actor, now, t, legs)?;
    p.write(c)?;
    Ok(id)
}

/// Reverses a points transaction exactly (refused when the member has already spent the
/// points it earned: the balance may not go negative).
pub(crate) fn reverse_points(
    c: &mut DbConnection,
    actor: &Actor,
    now: chrono::NaiveDateTime,
    txn_id: &str,
    kind: &str,
    reason: &str,
) -> Result<String> {
    let (store_id, member_id): (String, String) = mem_points_txns::table
        .find(txn_id)
        .select((mem_points_txns::store_id, mem_points_txns::member_id))
        .first(c)?;
    let entries: Vec<(Option<String>, String, String, i64)> = mem_points_entries::table
        .filter(mem_points_entries::txn_id.eq(txn_id))
        .select((
            mem_points_entries::member_id,
            mem_points_entries::track,
            mem_points_entries::account,
            mem_points_entries::amount,
        ))
        .order(mem_points_entries::id)
        .load(c)?;
    let legs: Vec<PointsLeg> = entries
        .into_iter()
        .map(|(m, track, account, amount)| PointsLeg {
            member: m.is_some(),
            track: if track == TIER { TIER } else { REDEEMABLE },
            account,
            amount: -amount,
            expires_at: None,
        })
        .collect();
    post_points(
        c,
        actor,
        now,
        &PointsTxn {
            store_id: &store_id,
            member_id: &member_id,
            kind,
            reason,
            ref_id: None,
            reverses: Some(txn_id),
        },
        &legs,
    )
}

const SV_TXN_COLUMNS: &[(&str, ColumnType)] = &[
    ("id", ColumnType::Text),
    ("store_id", ColumnType::Text),
    ("card_id", ColumnType::Text),
    ("kind", ColumnType::Text),
    ("amount_fen", ColumnType::BigInt),
    ("payment_method", ColumnType::NullableText),
    ("ref_id", ColumnType::NullableText),
    ("reverses_txn_id", ColumnType::NullableText),
    ("actor_kind", ColumnType::Text),
    ("actor_id", ColumnType::NullableText),
    ("terminal_id", ColumnType::NullableText),
    ("memo", ColumnType::Text),
    ("created_at", ColumnType::Timestamp),
];
const SV_ENTRY_COLUMNS: &[(&str, ColumnType)] = &[
    ("id", ColumnType::Text),
    ("txn_id", ColumnType::Text),
    ("store_id", ColumnType::Text),
    ("card_id", ColumnType::NullableText),
    ("account", ColumnType::Text),
    ("bonus_lot_id", ColumnType::NullableText),
    ("amount_fen", ColumnType::BigInt),
    ("created_at", ColumnType::Timestamp),
];
const POINTS_TXN_COLUMNS: &[(&str, ColumnType)] = &[
    ("id", ColumnType::Text),
    ("store_id", ColumnType::Text),
    ("member_id", ColumnType::Text),
    ("kind", ColumnType::Text),
    ("reason", ColumnType::Text),
    ("ref_id", ColumnType::NullableText),
    ("reverses_txn_id", ColumnType::NullableText),
    ("actor_kind", ColumnType::Text),
    ("actor_id", ColumnType::NullableText),
    ("created_at", ColumnType::Timestamp),
];
const POINTS_ENTRY_COLUMNS: &[(&str, ColumnType)] = &[
    ("id", ColumnType::Text),
    ("txn_id", ColumnType::Text),
    ("store_id", ColumnType::Text),
    ("member_id", ColumnType::NullableText),
    ("track", ColumnType::Text),
    ("account", ColumnType::Text),
    ("amount", ColumnType::BigInt),
    ("expires_at", ColumnType::NullableTimestamp),
    ("created_at", ColumnType::Timestamp),
];
/// Cached balances: the key, the amounts added, then the time set.
const CARD_BALANCE_COLUMNS: &[(&str, ColumnType)] = &[
    ("id", ColumnType::Text),
    ("principal_fen", ColumnType::BigInt),
    ("bonus_fen", ColumnType::BigInt),
    ("updated_at", ColumnType::Timestamp),
];
const LOT_BALANCE_COLUMNS: &[(&str, ColumnType)] = &[
    ("id", ColumnType::Text),
    ("remaining_fen", ColumnType::BigInt),
];
const MEMBER_BALANCE_COLUMNS: &[(&str, ColumnType)] = &[
    ("id", ColumnType::Text),
    ("tier_points", ColumnType::BigInt),
    ("redeemable_points", ColumnType::BigInt),
    ("updated_at", ColumnType::Timestamp),
];

/// Ledger transactions and the cached balances they move, gathered first and written
/// together by [`Postings::write`]: one statement per table whatever the number of
/// transactions (see `dms_db::Rows`). Every ledger write goes through here, a single payment's
/// as much as a batch of them, so the entries and the caches cannot be written two ways.
#[derive(Debug)]
pub(crate) struct Postings {
    sv_txns: Rows,
    sv_entries: Rows,
    points_txns: Rows,
    points_entries: Rows,
    /// card -> (principal, bonus, latest time)
    cards: BTreeMap<String, (i64, i64, chrono::NaiveDateTime)>,
    lots: BTreeMap<String, i64>,
    /// member -> (tier, redeemable, latest time)
    members: BTreeMap<String, (i64, i64, chrono::NaiveDateTime)>,
}

impl Default for Postings {
    fn default() -> Postings {
        Postings {
            sv_txns: Rows::new("mem_sv_txns", SV_TXN_COLUMNS),
            sv_entries: Rows::new("mem_sv_entries", SV_ENTRY_COLUMNS),
            points_txns: Rows::new("mem_points_txns", POINTS_TXN_COLUMNS),
            points_entries: Rows::new("mem_points_entries", POINTS_ENTRY_COLUMNS),
            cards: BTreeMap::new(),
            lots: BTreeMap::new(),
            members: BTreeMap::new(),
        }
    }
}

impl Postings {
    /// A stored-value transaction with its entries; returns its id.
    pub(crate) fn sv(
        &mut self,
        actor: &Actor,
        now: chrono::NaiveDateTime,
        t: &SvTxn<'_>,
        legs: &[Leg],
    ) -> Result<String> {
        if legs.iter().map(|l| l.amount).sum::<i64>() != 0 {
            return Err(MembershipError::Internal(
                "stored-value transaction does not balance".into(),
            ));
        }
        let id = dms_core::new_id();
        self.sv_txns.push(vec![
            id.clone().into(),
            t.store_id.into(),
            t.card_id.into(),
            t.kind.into(),
            t.amount_fen.into(),
            t.payment_method.into(),
            t.ref_id.into(),
            t.reverses.into(),
            actor.kind.into(),
            actor.id.clone().into(),
            t.terminal_id.into(),
            t.memo.into(),
            now.into(),
        ]);
        self.sv_legs(now, &id, t.store_id, legs)?;
        Ok(id)
    }

    /// Entries of a stored-value transaction (written by [`Postings::sv`] or earlier).
    pub(crate) fn sv_legs(
        &mut self,
        now: chrono::NaiveDateTime,
        id: &str,
        store_id: &str,
        legs: &[Leg],
    ) -> Result<()> {
        if legs.iter().map(|l| l.amount).sum::<i64>() != 0 {
            return Err(MembershipError::Internal("entries do not balance".into()));
        }
        for leg in legs.iter().filter(|l| l.amount != 0) {
            self.sv_entries.push(vec![
                dms_core::new_id().into(),
                id.into(),
                store_id.into(),
                leg.card_id.clone().into(),
                leg.account.as_str().into(),
                leg.lot_id.clone().into(),
                leg.amount.into(),
                now.into(),
            ]);
            let Some(card) = &leg.card_id else {
                continue;
            };
            let d = self.cards.entry(card.clone()).or_insert((0, 0, now));
            d.2 = d.2.max(now);
            if leg.account == PRINCIPAL {
                d.0 += leg.amount;
            } else if leg.account == BONUS {
                d.1 += leg.amount;
                if let Some(lot) = &leg.lot_id {
                    *self.lots.entry(lot.clone()).or_default() += leg.amount;
                }
            }
        }
        Ok(())
    }

    /// A points transaction (each track's entries sum to zero); returns its id.
    pub(crate) fn points(
        &mut self,
        actor: &Actor,
        now: chrono::NaiveDateTime,
        t: &PointsTxn<'_>,
        legs: &[PointsLeg],
    ) -> Result<String> {
        for track in [TIER, REDEEMABLE] {
            let s: i64 = legs
                .iter()
                .filter(|l| l.track == track)
                .map(|l| l.amount)
                .sum();
            if s != 0 {
                return Err(MembershipError::Internal(
                    "points transaction does not balance".into(),
                ));
            }
        }
        let id = dms_core::new_id();
        self.points_txns.push(vec![
            id.clone().into(),
            t.store_id.into(),
            t.member_id.into(),
            t.kind.into(),
            t.reason.into(),
            t.ref_id.into(),
            t.reverses.into(),
            actor.kind.into(),
            actor.id.clone().into(),
            now.into(),
        ]);
        let mut moved = (0, 0);
        for leg in legs.iter().filter(|l| l.amount != 0) {
            self.points_entries.push(vec![
                dms_core::new_id().into(),
                id.as_str().into(),
                t.store_id.into(),
                leg.member.then(|| t.member_id.to_string()).into(),
                leg.track.into(),
                leg.account.as_str().into(),
                leg.amount.into(),
                leg.expires_at.into(),
                now.into(),
            ]);
            if leg.member && leg.track == TIER {
                moved.0 += leg.amount;
            } else if leg.member {
                moved.1 += leg.amount;
            }
        }
        if moved != (0, 0) {
            let d = self
                .members
                .entry(t.member_id.to_string())
                .or_insert((0, 0, now));
            d.0 += moved.0;
            d.1 += moved.1;
            d.2 = d.2.max(now);
        }
        Ok(id)
    }

    /// Moves `other`'s postings after these.
    pub(crate) fn append(&mut self, other: Postings) {
        self.sv_txns.append(other.sv_txns);
        self.sv_entries.append(other.sv_entries);
        self.points_txns.append(other.points_txns);
        self.points_entries.append(other.points_entries);
        for (k, (p, b, at)) in other.cards {
            let d = self.cards.entry(k).or_insert((0, 0, at));
            d.0 += p;
            d.1 += b;
            d.2 = d.2.max(at);
        }
        for (k, v) in other.lots {
            *self.lots.entry(k).or_default() += v;
        }
        for (k, (t, r, at)) in other.members {
            let d = self.members.entry(k).or_insert((0, 0, at));
            d.0 += t;
            d.1 += r;
            d.2 = d.2.max(at);
        }
    }

    /// Writes everything: transactions before their entries, then the cached balances, whose
    /// CHECK constraints refuse a negative balance as the last line of defence.
    pub(crate) fn write(self, c: &mut DbConnection) -> Result<()> {
        let reversed_twice = |e: DieselError| {
            if dms_db::is_unique_violation(&e) {
                MembershipError::conflict("reverses", "already reversed")
            } else {
                e.into()
            }
        };
        self.sv_txns.insert(c).map_err(reversed_twice)?;
        self.sv_entries.insert(c)?;
        let mut lots = Rows::new("mem_bonus_lots", LOT_BALANCE_COLUMNS);
        for (id, amount) in self.lots.into_iter().filter(|(_, a)| *a != 0) {
            lots.push(vec![id.into(), amount.into()]);
        }
        expect_rows(
            lots.add_to(c, 1)
                .map_err(|e| balance_error(e, "bonus balance"))?,
            lots.len(),
        )?;
        let mut cards = Rows::new("mem_cards", CARD_BALANCE_COLUMNS);
        let mut bonus_only = false;
        for (id, (p, b, at)) in self.cards.into_iter().filter(|(_, d)| d.0 != 0 || d.1 != 0) {
            bonus_only = b < 0 && p >= 0;
            cards.push(vec![id.into(), p.into(), b.into(), at.into()]);
        }
        let n = cards.add_to(c, 2).map_err(|e| {
            // One card: the one of its balances that went down; several: the engine says.
            let what = if (cards.len() == 1 && bonus_only) || mentions_bonus(&e) {
                "bonus balance"
            } else {
                "principal balance"
            };
            balance_error(e, what)
        })?;
        expect_rows(n, cards.len())?;
        self.points_txns.insert(c).map_err(reversed_twice)?;
        self.points_entries.insert(c)?;
        let mut members = Rows::new("mem_members", MEMBER_BALANCE_COLUMNS);
        for (id, (t, r, at)) in self.members {
            members.push(vec![id.into(), t.into(), r.into(), at.into()]);
        }
        expect_rows(
            members
                .add_to(c, 2)
                .map_err(|e| balance_error(e, "points"))?,
            members.len(),
        )?;
        Ok(())
    }
}

/// A cached balance whose row is missing would leave its entries uncounted.
fn expect_rows(updated: usize, expected: usize) -> Result<()> {
    if updated != expected {
        return Err(MembershipError::Internal(format!(
            "{updated} of {expected} cached balances updated"
        )));
    }
    Ok(())
}

/// What [`verify_ledgers`] found; empty `problems` means every invariant holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerCheck {
    pub sv_transactions: i64,
    pub points_transactions: i64,
    pub problems: Vec<String>,
}

/// Checks the invariants over the whole database: every transaction sums to zero (per track
/// for points); every cached balance equals the sum of its entries; nothing is negative.
pub fn verify_ledgers(conn: &mut DbConnection) -> Result<LedgerCheck> {
    let mut out = LedgerCheck::default();
    // Sums are computed in Rust over i64 so that both engines are checked the same way.
    let entries: Vec<SvEntryRow> = mem_sv_entries::table
        .select((
            mem_sv_entries::txn_id,
            mem_sv_entries::card_id,
            mem_sv_entries::account,
            mem_sv_entries::bonus_lot_id,
            mem_sv_entries::amount_fen,
        ))
        .load(conn)?;
    let mut per_txn: BTreeMap<String, i64> = BTreeMap::new();
    let mut per_card: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut per_lot: BTreeMap<String, i64> = BTreeMap::new();
    for (txn, card, account, lot, amount) in &entries {
        *per_txn.entry(txn.clone()).or_default() += amount;
        if let Some(card) = card {
            *per_card.entry((card.clone(), account.clone())).or_default() += amount;
        }
        if let Some(lot) = lot {
            *per_lot.entry(lot.clone()).or_default() += amount;
        }
    }
    out.sv_transactions = mem_sv_txns::table.count().get_result(conn)?;
    for (t, s) in &per_txn {
        if *s != 0 {
            out.problems.push(format!("sv txn {t} sums to {s}"));
        }
    }
    let cards: Vec<(String, i64, i64)> = mem_cards::table
        .select((
            mem_cards::id,
            mem_cards::principal_fen,
            mem_cards::bonus_fen,
        ))
        .load(conn)?;
    for (id, p, b) in cards {
        let lp = per_card
            .get(&(id.clone(), PRINCIPAL.to_string()))
            .copied()
            .unwrap_or(0);
        let lb = per_card
            .get(&(id.clone(), BONUS.to_string()))
            .copied()
            .unwrap_or(0);
        if lp != p || lb != b {
            out.problems
                .push(format!("card {id}: cached {p}/{b}, ledger {lp}/{lb}"));
        }
        if p < 0 || b < 0 {
            out.problems.push(format!("card {id} negative"));
        }
    }
    let lots: Vec<(String, i64)> = mem_bonus_lots::table
        .select((mem_bonus_lots::id, mem_bonus_lots::remaining_fen))
        .load(conn)?;
    for (id, rem) in lots {
        let l = per_lot.get(&id).copied().unwrap_or(0);
        if l != rem || rem < 0 {
            out.problems
                .push(format!("bonus lot {id}: cached {rem}, ledger {l}"));
        }
    }
    let pentries: Vec<(String, Option<String>, String, i64)> = mem_points_entries::table
        .select((
            mem_points_entries::txn_id,
            mem_points_entries::member_id,
            mem_points_entries::track,
            mem_points_entries::amount,
        ))
        .load(conn)?;
    let mut per_ptxn: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut per_member: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (txn, member, track, amount) in &pentries {
        *per_ptxn.entry((txn.clone(), track.clone())).or_default() += amount;
        if let Some(m) = member {
            *per_member.entry((m.clone(), track.clone())).or_default() += amount;
        }
    }
    out.points_transactions = mem_points_txns::table.count().get_result(conn)?;
    for ((t, track), s) in &per_ptxn {
        if *s != 0 {
            out.problems
                .push(format!("points txn {t} ({track}) sums to {s}"));
        }
    }
    let members: Vec<(String, i64, i64)> = mem_members::table
        .select((
            mem_members::id,
            mem_members::tier_points,
            mem_members::redeemable_points,
        ))
        .load(conn)?;
    for (id, tp, rp) in members {
        let lt = per_member
            .get(&(id.clone(), TIER.to_string()))
            .copied()
            .unwrap_or(0);
        let lr = per_member
            .get(&(id.clone(), REDEEMABLE.to_string()))
            .copied()
            .unwrap_or(0);
        if lt != tp || lr != rp || tp < 0 || rp < 0 {
            out.problems
                .push(format!("member {id}: cached {tp}/{rp}, ledger {lt}/{lr}"));
        }
    }
    Ok(out)
}
