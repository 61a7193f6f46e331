//! Read-only lists for the API: members, a card's stored-value transactions, a member's points
//! transactions, a customer's own cards (for the owners' app, which is scoped by customer, not
//! by store). Pages are cursor-based on the UUIDv7 ids, newest first for ledgers.

use crate::cards::{scoped_card, Card};
use crate::error::Result;
use crate::members::{get_member, Member};
use crate::schema::{
    mem_cards, mem_members, mem_points_entries, mem_points_txns, mem_sv_entries, mem_sv_txns,
};
use diesel::prelude::*;
use dms_core::{Cursor, Money, PageRequest, StoreScope};
use dms_db::DbConnection;
use serde::{Deserialize, Serialize};

pub fn list_members(
    conn: &mut DbConnection,
    scope: &StoreScope,
    page: &PageRequest,
) -> Result<(Vec<Member>, Option<String>)> {
    let mut q = mem_members::table.select(Member::as_select()).into_boxed();
    if let StoreScope::Stores(ids) = scope {
        q = q.filter(mem_members::store_id.eq_any(ids.clone()));
    }
    if let Some(Cursor { after_id }) = &page.after {
        q = q.filter(mem_members::id.gt(after_id.clone()));
    }
    let rows = q
        .order(mem_members::id.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(page.finish(rows, |m| &m.id))
}

/// The cards of one customer, whatever store issued them (the customer's own view).
pub fn cards_of_customer(conn: &mut DbConnection, customer_id: &str) -> Result<Vec<Card>> {
    let member: Option<String> = mem_members::table
        .filter(mem_members::customer_id.eq(customer_id))
        .select(mem_members::id)
        .first(conn)
        .optional()?;
    let Some(member) = member else {
        return Ok(vec![]);
    };
    Ok(mem_cards::table
        .filter(mem_cards::member_id.eq(member))
        .select(Card::as_select())
        .order(mem_cards::id)
        .load(conn)?)
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize, Deserialize)]
#[diesel(table_name = mem_sv_txns)]
pub struct SvTransaction {
    pub id: String,
    pub store_id: String,
    pub card_id: String,
    /// `topup`, `debit`, `checkout`, `checkout_void`, `replace`, `return`, `bonus_expiry`.
    pub kind: String,
    pub amount_fen: i64,
    pub payment_method: Option<String>,
    pub ref_id: Option<String>,
    pub reverses_txn_id: Option<String>,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub terminal_id: Option<String>,
    pub memo: String,
    pub created_at: chrono::NaiveDateTime,
}

impl SvTransaction {
    pub fn amount(&self) -> Money {
        Money::from_fen(self.amount_fen)
    }
}

/// A card's stored-value transactions, newest first (see [`transactions_moving_card`]).
pub fn card_transactions(
    conn: &mut DbConnection,
    scope: &StoreScope,
    card_id: &str,
    page: &PageRequest,
) -> Result<(Vec<SvTransaction>, Option<String>)> {
    let card = scoped_card(conn, scope, card_id)?;
    transactions_moving_card(conn, &card.id, page)
}

/// Every stored-value transaction that moved the card's money, newest first: the card's own,
/// and the replacement that moved money onto it from the card it replaced. The caller has
/// checked that it may see the card. Found through the card's ledger entries, which every
/// such transaction has, so that the transactions need no index by card: each index by card
/// is one more page of a different card written by every payment.
pub fn transactions_moving_card(
    conn: &mut DbConnection,
    card_id: &str,
    page: &PageRequest,
) -> Result<(Vec<SvTransaction>, Option<String>)> {
    let mut ids = mem_sv_entries::table
        .filter(mem_sv_entries::card_id.eq(card_id))
        .select(mem_sv_entries::txn_id)
        .distinct()
        .into_boxed();
    if let Some(Cursor { after_id }) = &page.after {
        ids = ids.filter(mem_sv_entries::txn_id.lt(after_id.clone()));
    }
    let ids: Vec<String> = ids
        .order(mem_sv_entries::txn_id.desc())
        .limit(page.fetch_limit())
        .load(conn)?;
    let mut rows = mem_sv_txns::table
        .filter(mem_sv_txns::id.eq_any(&ids))
        .select(SvTransaction::as_select())
        .load(conn)?;
    rows.sort_by(|a, b| b.id.cmp(&a.id));
    Ok(page.finish(rows, |t| &t.id))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsTransaction {
    pub id: String,
    pub store_id: String,
    pub kind: String,
    pub reason: String,
    pub tier_delta: i64,
    pub redeemable_delta: i64,
    pub created_at: chrono::NaiveDateTime,
}

/// A member's points transactions with their effect on each track, newest first.
pub fn points_transactions(
    conn: &mut DbConnection,
    scope: &StoreScope,
    member_id: &str,
    page: &PageRequest,
) -> Result<(Vec<PointsTransaction>, Option<String>)> {
    let m = get_member(conn, scope, member_id)?;
    // Through the member's entries, as for a card's transactions (no index by member).
    let mut ids = mem_points_entries::table
        .filter(mem_points_entries::member_id.eq(&m.id))
        .select(mem_points_entries::txn_id)
        .distinct()
        .into_boxed();
    if let Some(Cursor { after_id }) = &page.after {
        ids = ids.filter(mem_points_entries::txn_id.lt(after_id.clone()));
    }
    let ids: Vec<String> = ids
        .order(mem_points_entries::txn_id.desc())
        .limit(page.fetch_limit())
        .load(conn)?;
    let mut rows: Vec<(String, String, String, String, chrono::NaiveDateTime)> =
        mem_points_txns::table
            .filter(mem_points_txns::id.eq_any(&ids))
            .select((
                mem_points_txns::id,
                mem_points_txns::store_id,
                mem_points_txns::kind,
                mem_points_txns::reason,
                mem_points_txns::created_at,
            ))
            .load(conn)?;
    rows.sort_by(|a, b| b.0.cmp(&a.0));
    let entries: Vec<(String, String, i64)> = mem_points_entries::table
        .filter(mem_points_entries::txn_id.eq_any(&ids))
        .filter(mem_points_entries::member_id.eq(&m.id))
        .select((
            mem_points_entries::txn_id,
            mem_points_entries::track,
            mem_points_entries::amount,
        ))
        .load(conn)?;
    let out = rows
        .into_iter()
        .map(|(id, store_id, kind, reason, created_at)| {
            let delta = |track: &str| -> i64 {
                entries
                    .iter()
                    .filter(|e| e.0 == id && e.1 == track)
                    .map(|e| e.2)
                    .sum()
            };
            PointsTransaction {
                tier_delta: delta(crate::ledger::TIER),
                redeemable_delta: delta(crate::ledger::REDEEMABLE),
                id,
                store_id,
                kind,
                reason,
                created_at,
            }
        })
        .collect();
    Ok(page.finish(out, |t| &t.id))
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize, Deserialize)]
#[diesel(table_name = crate::schema::mem_checkouts)]
pub struct CheckoutSummary {
    pub id: String,
    pub store_id: String,
    pub card_id: String,
    pub member_id: String,
    pub terminal_id: Option<String>,
    /// `completed` or `voided`.
    pub status: String,
    pub subtotal_fen: i64,
    pub discount_fen: i64,
    pub total_fen: i64,
    pub actor_id: Option<String>,
    pub created_at: chrono::NaiveDateTime,
    pub voided_at: Option<chrono::NaiveDateTime>,
}

/// Checkouts in the caller's stores, newest first, optionally of one card.
pub fn list_checkouts(
    conn: &mut DbConnection,
    scope: &StoreScope,
    card_id: Option<&str>,
    page: &PageRequest,
) -> Result<(Vec<CheckoutSummary>, Option<String>)> {
    use crate::schema::mem_checkouts;
    let mut q = mem_checkouts::table
        .select(CheckoutSummary::as_select())
        .into_boxed();
    if let StoreScope::Stores(ids) = scope {
        q = q.filter(mem_checkouts::store_id.eq_any(ids.clone()));
    }
    if let Some(card) = card_id {
        q = q.filter(mem_checkouts::card_id.eq(card.to_string()));
    }
    if let Some(Cursor { after_id }) = &page.after {
        q = q.filter(mem_checkouts::id.lt(after_id.clone()));
    }
    let rows = q
        .order(mem_checkouts::id.desc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(page.finish(rows, |r| &r.id))
}
