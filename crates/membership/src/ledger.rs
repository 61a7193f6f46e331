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
//! [`post_sv`] and [`post_points`], in the transaction that writes the entries, and
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
use dms_db::DbConnection;
use dms_identity::Actor;
use std::collections::BTreeMap;

/// Runs a multi-row INSERT on the engine's own connection: diesel's two-engine connection
/// cannot build one.
macro_rules! batch {
    ($conn:expr, $insert:expr) => {
        match $conn {
            DbConnection::Pg(pg) => $insert.execute(pg),
            DbConnection::Sqlite(lite) => $insert.execute(lite),
        }
    };
}

/// As [`batch!`] for the few entries a payment writes: up to six rows go in as a fixed-size
/// array, whose statement diesel prepares once per connection and reuses (a `Vec` of rows is
/// parsed and planned again on every call).
macro_rules! batch_insert {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let rows = $rows;
        macro_rules! sized {
            ($n:literal) => {
                match <[_; $n]>::try_from(rows) {
                    Ok(a) => batch!($conn, diesel::insert_into($table).values(a)),
                    Err(v) => batch!($conn, diesel::insert_into($table).values(v)),
                }
            };
        }
        match rows.len() {
            1 => sized!(1),
            2 => sized!(2),
            3 => sized!(3),
            4 => sized!(4),
            5 => sized!(5),
            6 => sized!(6),
            _ => batch!($conn, diesel::insert_into($table).values(rows)),
        }
    }};
}

/// `UPDATE … SET balance = balance + ?` statements on the cached balances. diesel never
/// reuses a prepared UPDATE (its SET clause may vary), so on PostgreSQL each one would be
/// parsed and planned again on every payment; these have fixed text and are prepared once.
mod cached {
    use diesel::backend::Backend;
    use diesel::query_builder::{AstPass, QueryFragment, QueryId};
    use diesel::serialize::ToSql;
    use diesel::sql_types::{BigInt, Text, Timestamp};
    use diesel::{QueryResult, RunQueryDsl};

    /// `sql` with `?` for each parameter, in order: the ids are text, the time a timestamp,
    /// every other parameter a BIGINT.
    pub(super) struct AddTo<'a> {
        pub sql: &'static [&'static str],
        pub amounts: &'a [i64],
        pub at: Option<&'a chrono::NaiveDateTime>,
        pub id: &'a str,
    }

    impl QueryId for AddTo<'_> {
        type QueryId = ();
        // The text depends on `sql` only, which callers keep constant per statement.
        const HAS_STATIC_QUERY_ID: bool = false;
    }

    impl<DB> QueryFragment<DB> for AddTo<'_>
    where
        DB: Backend,
        i64: ToSql<BigInt, DB>,
        str: ToSql<Text, DB>,
        chrono::NaiveDateTime: ToSql<Timestamp, DB>,
        DB: diesel::sql_types::HasSqlType<BigInt>
            + diesel::sql_types::HasSqlType<Text>
            + diesel::sql_types::HasSqlType<Timestamp>,
    {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
            let mut parts = self.sql.iter();
            for a in self.amounts {
                out.push_sql(parts.next().copied().unwrap_or_default());
                out.push_bind_param::<BigInt, _>(a)?;
            }
            if let Some(at) = self.at {
                out.push_sql(parts.next().copied().unwrap_or_default());
                out.push_bind_param::<Timestamp, _>(at)?;
            }
            out.push_sql(parts.next().copied().unwrap_or_default());
            out.push_bind_param::<Text, _>(self.id)?;
            for rest in parts {
                out.push_sql(rest);
            }
            Ok(())
        }
    }

    impl<Conn> RunQueryDsl<Conn> for AddTo<'_> {}

    pub(super) const CARD: &[&str] = &[
        "UPDATE mem_cards SET principal_fen = principal_fen + ",
        ", bonus_fen = bonus_fen + ",
        ", updated_at = ",
        " WHERE id = ",
    ];
    pub(super) const LOT: &[&str] = &[
        "UPDATE mem_bonus_lots SET remaining_fen = remaining_fen + ",
        " WHERE id = ",
    ];
    pub(super) const MEMBER: &[&str] = &[
        "UPDATE mem_members SET tier_points = tier_points + ",
        ", redeemable_points = redeemable_points + ",
        ", updated_at = ",
        " WHERE id = ",
    ];
}

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
    if legs.iter().map(|l| l.amount).sum::<i64>() != 0 {
        return Err(MembershipError::Internal(
            "stored-value transaction does not balance".into(),
        ));
    }
    let id = dms_core::new_id();
    diesel::insert_into(mem_sv_txns::table)
        .values((
            mem_sv_txns::id.eq(&id),
            mem_sv_txns::store_id.eq(t.store_id),
            mem_sv_txns::card_id.eq(t.card_id),
            mem_sv_txns::kind.eq(t.kind),
            mem_sv_txns::amount_fen.eq(t.amount_fen),
            mem_sv_txns::payment_method.eq(t.payment_method),
            mem_sv_txns::ref_id.eq(t.ref_id),
            mem_sv_txns::reverses_txn_id.eq(t.reverses),
            mem_sv_txns::actor_kind.eq(actor.kind),
            mem_sv_txns::actor_id.eq(actor.id.as_deref()),
            mem_sv_txns::terminal_id.eq(t.terminal_id),
            mem_sv_txns::memo.eq(t.memo),
            mem_sv_txns::created_at.eq(now),
        ))
        .execute(c)
        .map_err(|e| {
            if dms_db::is_unique_violation(&e) {
                MembershipError::conflict("reverses", "already reversed")
            } else {
                e.into()
            }
        })?;
    append_legs(c, now, &id, t.store_id, legs)?;
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
    if legs.iter().map(|l| l.amount).sum::<i64>() != 0 {
        return Err(MembershipError::Internal("entries do not balance".into()));
    }
    let legs: Vec<&Leg> = legs.iter().filter(|l| l.amount != 0).collect();
    // One statement for the entries and one per card and lot for the caches: round trips are
    // most of a payment's cost on PostgreSQL. (Owned values: a statement prepared once is
    // keyed by a type with no borrowed parts.)
    let rows: Vec<_> = legs
        .iter()
        .map(|leg| {
            (
                mem_sv_entries::id.eq(dms_core::new_id()),
                mem_sv_entries::txn_id.eq(id.to_string()),
                mem_sv_entries::store_id.eq(store_id.to_string()),
                mem_sv_entries::card_id.eq(leg.card_id.clone()),
                mem_sv_entries::account.eq(leg.account.clone()),
                mem_sv_entries::bonus_lot_id.eq(leg.lot_id.clone()),
                mem_sv_entries::amount_fen.eq(leg.amount),
                mem_sv_entries::created_at.eq(now),
            )
        })
        .collect();
    if !rows.is_empty() {
        batch_insert!(c, mem_sv_entries::table, rows)?;
    }
    // card -> (principal, bonus)
    let mut cards: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for leg in &legs {
        let Some(card) = leg.card_id.as_deref() else {
            continue;
        };
        let d = cards.entry(card).or_default();
        if leg.account == PRINCIPAL {
            d.0 += leg.amount;
        } else if leg.account == BONUS {
            d.1 += leg.amount;
            if let Some(lot) = leg.lot_id.as_deref() {
                let q = cached::AddTo {
                    sql: cached::LOT,
                    amounts: &[leg.amount],
                    at: None,
                    id: lot,
                };
                batch!(c, q).map_err(|e| balance_error(e, "bonus balance"))?;
            }
        }
    }
    for (card, (principal, bonus)) in cards {
        if principal == 0 && bonus == 0 {
            continue;
        }
        let q = cached::AddTo {
            sql: cached::CARD,
            amounts: &[principal, bonus],
            at: Some(&now),
            id: card,
        };
        batch!(c, q).map_err(|e| {
            let what = if bonus < 0 && (principal >= 0 || mentions_bonus(&e)) {
                "bonus balance"
            } else {
                "principal balance"
            };
            balance_error(e, what)
        })?;
    }
    Ok(())
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
    diesel::insert_into(mem_points_txns::table)
        .values((
            mem_points_txns::id.eq(&id),
            mem_points_txns::store_id.eq(t.store_id),
            mem_points_txns::member_id.eq(t.member_id),
            mem_points_txns::kind.eq(t.kind),
            mem_points_txns::reason.eq(t.reason),
            mem_points_txns::ref_id.eq(t.ref_id),
            mem_points_txns::reverses_txn_id.eq(t.reverses),
            mem_points_txns::actor_kind.eq(actor.kind),
            mem_points_txns::actor_id.eq(actor.id.as_deref()),
            mem_points_txns::created_at.eq(now),
        ))
        .execute(c)
        .map_err(|e| {
            if dms_db::is_unique_violation(&e) {
                MembershipError::conflict("reverses", "already reversed")
            } else {
                e.into()
            }
        })?;
    let legs: Vec<&PointsLeg> = legs.iter().filter(|l| l.amount != 0).collect();
    let rows: Vec<_> = legs
        .iter()
        .map(|leg| {
            (
                mem_points_entries::id.eq(dms_core::new_id()),
                mem_points_entries::txn_id.eq(id.clone()),
                mem_points_entries::store_id.eq(t.store_id.to_string()),
                mem_points_entries::member_id.eq(leg.member.then(|| t.member_id.to_string())),
                mem_points_entries::track.eq(leg.track),
                mem_points_entries::account.eq(leg.account.clone()),
                mem_points_entries::amount.eq(leg.amount),
                mem_points_entries::expires_at.eq(leg.expires_at),
                mem_points_entries::created_at.eq(now),
            )
        })
        .collect();
    if !rows.is_empty() {
        batch_insert!(c, mem_points_entries::table, rows)?;
    }
    let member_delta = |track: &str| -> i64 {
        legs.iter()
            .filter(|l| l.member && l.track == track)
            .map(|l| l.amount)
            .sum()
    };
    let (tier, redeemable) = (member_delta(TIER), member_delta(REDEEMABLE));
    if tier != 0 || redeemable != 0 {
        let q = cached::AddTo {
            sql: cached::MEMBER,
            amounts: &[tier, redeemable],
            at: Some(&now),
            id: t.member_id,
        };
        batch!(c, q).map_err(|e| balance_error(e, "points"))?;
    }
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
