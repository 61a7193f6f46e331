//! Pending bills (待付账单): a basket the cashier prepares at the desk for the member to pay at
//! the card terminal. Paying one is a checkout of its lines; the bill is marked paid in the
//! same transaction, so it is paid exactly once: a retry with the same idempotency key answers
//! the first receipt, a second payment with another key is refused and moves nothing.
//!
//! Also here, for the terminal: what the kiosk shows after a tap ([`kiosk_view`]) and what
//! became of a money request it sent ([`request_outcome`]).

use crate::cards::{usable_card, Card};
use crate::checkout::{
    checkout, BasketLine, CheckoutPermissions, CheckoutRequest, Receipt, Tender,
};
use crate::coupons::{coupons_of_member, load_template};
use crate::error::{MembershipError, Result};
use crate::idempotency::{principal_of, Replayable};
use crate::members::get_member;
use crate::pin::{verify_pin, Pin, PinPolicy};
use crate::schema::{mem_cards, mem_checkouts, mem_idempotency, mem_pending_bills};
use crate::util::{audit, now_db, write};
use diesel::prelude::*;
use dms_core::{Clock, Cursor, Money, PageRequest, StoreScope};
use dms_db::DbConnection;
use dms_identity::Actor;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::json;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mem_pending_bills)]
pub struct BillRow {
    pub id: String,
    pub store_id: String,
    pub card_id: Option<String>,
    pub reference: String,
    pub lines: String,
    pub total_fen: i64,
    pub status: String,
    pub checkout_id: Option<String>,
    pub created_by: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

/// A bill with its lines read back.
#[derive(Debug, Clone)]
pub struct PendingBill {
    pub row: BillRow,
    pub lines: Vec<BasketLine>,
}

impl PendingBill {
    pub fn total(&self) -> Money {
        Money::from_fen(self.row.total_fen)
    }
}

fn read(row: BillRow) -> Result<PendingBill> {
    let lines = serde_json::from_str(&row.lines)
        .map_err(|e| MembershipError::Internal(format!("bill lines: {e}")))?;
    Ok(PendingBill { row, lines })
}

#[derive(Debug, Clone)]
pub struct NewBill {
    pub store_id: String,
    pub card_id: Option<String>,
    pub reference: String,
    pub lines: Vec<BasketLine>,
}

/// The gross of the lines the member pays (before tier discounts and coupons).
fn gross_fen(lines: &[BasketLine]) -> Result<i64> {
    let mut total = Decimal::ZERO;
    for (i, l) in lines.iter().enumerate() {
        if l.quantity <= Decimal::ZERO || l.unit_price.is_negative() {
            return Err(MembershipError::invalid(
                "lines",
                format!("line {i}: quantity above zero and a price not negative"),
            ));
        }
        if !l.insurer_paid {
            total += (l.quantity * l.unit_price.as_decimal())
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        }
    }
    Money::new(total)
        .map(|m| m.fen())
        .map_err(|_| MembershipError::invalid("lines", "total out of range"))
}

/// The cashier prepares a bill.
pub fn create_bill(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    bill: &NewBill,
) -> Result<PendingBill> {
    if !scope.allows(&bill.store_id) {
        return Err(MembershipError::NotFound("store"));
    }
    let reference = bill.reference.trim();
    if reference.is_empty() || reference.chars().count() > 64 {
        return Err(MembershipError::invalid("reference", "1-64 characters"));
    }
    if bill.lines.is_empty() || bill.lines.len() > 200 {
        return Err(MembershipError::invalid("lines", "1-200 lines"));
    }
    let total = gross_fen(&bill.lines)?;
    let lines =
        serde_json::to_string(&bill.lines).map_err(|e| MembershipError::Internal(e.to_string()))?;
    let now = now_db(clock);
    write(conn, |c| {
        crate::util::store_exists(c, &bill.store_id)?;
        if let Some(card_id) = &bill.card_id {
            let card = crate::cards::get_card(c, scope, card_id)?;
            if card.store_id != bill.store_id {
                return Err(MembershipError::invalid(
                    "card_id",
                    "the card belongs to another store",
                ));
            }
        }
        let id = dms_core::new_id();
        diesel::insert_into(mem_pending_bills::table)
            .values((
                mem_pending_bills::id.eq(&id),
                mem_pending_bills::store_id.eq(&bill.store_id),
                mem_pending_bills::card_id.eq(bill.card_id.as_deref()),
                mem_pending_bills::reference.eq(reference),
                mem_pending_bills::lines.eq(&lines),
                mem_pending_bills::total_fen.eq(total),
                mem_pending_bills::status.eq("open"),
                mem_pending_bills::created_by.eq(&actor.name),
                mem_pending_bills::created_at.eq(now),
                mem_pending_bills::updated_at.eq(now),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&bill.store_id),
            "membership.bill.create",
            "pending_bill",
            &id,
            json!({"reference": reference, "total": Money::from_fen(total), "card_id": bill.card_id}),
        )?;
        get_bill(c, scope, &id)
    })
}

pub fn get_bill(conn: &mut DbConnection, scope: &StoreScope, id: &str) -> Result<PendingBill> {
    let row: Option<BillRow> = mem_pending_bills::table
        .find(id)
        .select(BillRow::as_select())
        .first(conn)
        .optional()?;
    match row {
        Some(r) if scope.allows(&r.store_id) => read(r),
        _ => Err(MembershipError::NotFound("bill")),
    }
}

/// Bills of the caller's stores, oldest first; with `card_id`, the bills for that card and
/// those for any card.
pub fn list_bills(
    conn: &mut DbConnection,
    scope: &StoreScope,
    store_id: Option<&str>,
    card_id: Option<&str>,
    status: &str,
    page: &PageRequest,
) -> Result<(Vec<PendingBill>, Option<String>)> {
    if !matches!(status, "open" | "paid" | "cancelled") {
        return Err(MembershipError::invalid(
            "status",
            "open, paid or cancelled",
        ));
    }
    let mut q = mem_pending_bills::table
        .select(BillRow::as_select())
        .filter(mem_pending_bills::status.eq(status.to_string()))
        .into_boxed();
    if let StoreScope::Stores(ids) = scope {
        q = q.filter(mem_pending_bills::store_id.eq_any(ids.clone()));
    }
    if let Some(s) = store_id {
        q = q.filter(mem_pending_bills::store_id.eq(s.to_string()));
    }
    if let Some(card) = card_id {
        q = q.filter(
            mem_pending_bills::card_id
                .eq(card.to_string())
                .or(mem_pending_bills::card_id.is_null()),
        );
    }
    if let Some(Cursor { after_id }) = &page.after {
        q = q.filter(mem_pending_bills::id.gt(after_id.clone()));
    }
    let rows = q
        .order(mem_pending_bills::id.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    let (rows, next) = page.finish(rows, |r| &r.id);
    Ok((rows.into_iter().map(read).collect::<Result<_>>()?, next))
}

/// How the member pays a bill.
#[derive(Debug, Clone)]
pub struct PayBill {
    pub bill_id: String,
    pub card_id: String,
    pub terminal_id: Option<String>,
    pub coupon_ids: Vec<String>,
    pub redeem_points: i64,
    pub tenders: Vec<Tender>,
}

/// Pays a bill: the PIN (when given) is checked first and counts its failures on its own; then
/// the checkout of the bill's lines and the bill's `paid` mark commit together.
#[allow(clippy::too_many_arguments)] // the checkout's arguments plus the bill and the PIN
pub fn pay_bill(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    idempotency_key: &str,
    pay: &PayBill,
    pin: Option<(&PinPolicy, &Pin)>,
) -> Result<Replayable<Receipt>> {
    if let Some((policy, pin)) = pin {
        verify_pin(conn, scope, clock, policy, &pay.card_id, pin)?;
    }
    let now = now_db(clock);
    write(conn, |c| {
        let bill = get_bill(c, scope, &pay.bill_id)?;
        if bill.row.card_id.as_ref().is_some_and(|b| *b != pay.card_id) {
            return Err(MembershipError::conflict(
                "card_id",
                "this bill is for another card",
            ));
        }
        let req = CheckoutRequest {
            card_id: pay.card_id.clone(),
            store_id: bill.row.store_id.clone(),
            terminal_id: pay.terminal_id.clone(),
            lines: bill.lines.clone(),
            coupon_ids: pay.coupon_ids.clone(),
            redeem_points: pay.redeem_points,
            tenders: pay.tenders.clone(),
            discount_override: None,
        };
        let r = checkout(
            c,
            actor,
            scope,
            clock,
            idempotency_key,
            &req,
            CheckoutPermissions::default(),
        )?;
        if r.replayed {
            return Ok(r);
        }
        let marked = diesel::update(
            mem_pending_bills::table
                .find(&bill.row.id)
                .filter(mem_pending_bills::status.eq("open")),
        )
        .set((
            mem_pending_bills::status.eq("paid"),
            mem_pending_bills::checkout_id.eq(&r.value.checkout_id),
            mem_pending_bills::updated_at.eq(now),
        ))
        .execute(c)?;
        if marked != 1 {
            // Rolls the checkout back with it.
            return Err(MembershipError::conflict(
                "bill_id",
                format!("the bill is already {}", bill.row.status),
            ));
        }
        audit(
            c,
            actor,
            Some(&bill.row.store_id),
            "membership.bill.pay",
            "pending_bill",
            &bill.row.id,
            json!({"checkout_id": r.value.checkout_id, "terminal": pay.terminal_id}),
        )?;
        Ok(r)
    })
}

/// Cancels an open bill (the cashier changed it).
pub fn cancel_bill(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    id: &str,
) -> Result<PendingBill> {
    let now = now_db(clock);
    write(conn, |c| {
        let bill = get_bill(c, scope, id)?;
        if bill.row.status != "open" {
            return Err(MembershipError::conflict(
                "status",
                format!("the bill is already {}", bill.row.status),
            ));
        }
        diesel::update(mem_pending_bills::table.find(id))
            .set((
                mem_pending_bills::status.eq("cancelled"),
                mem_pending_bills::updated_at.eq(now),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&bill.row.store_id),
            "membership.bill.cancel",
            "pending_bill",
            id,
            json!({}),
        )?;
        get_bill(c, scope, id)
    })
}

/// The card a terminal read, by chip UID, checked usable (active, not expired): every request
/// a terminal makes about a card goes through this first.
pub fn tapped_card(
    conn: &mut DbConnection,
    scope: &StoreScope,
    clock: &dyn Clock,
    chip_uid: &str,
) -> Result<Card> {
    let card = crate::cards::card_by_chip(conn, scope, chip_uid)?;
    usable_card(conn, scope, &card.id, now_db(clock))
}

/// The card a checkout was paid with (for a terminal's reprint), if the checkout is the
/// caller's.
pub fn card_of_checkout(
    conn: &mut DbConnection,
    scope: &StoreScope,
    checkout_id: &str,
) -> Result<Option<String>> {
    let row: Option<(String, String)> = mem_checkouts::table
        .find(checkout_id)
        .select((mem_checkouts::store_id, mem_checkouts::card_id))
        .first(conn)
        .optional()?;
    Ok(row.filter(|(s, _)| scope.allows(s)).map(|(_, c)| c))
}

/// What the kiosk shows after a tap.
#[derive(Debug, Clone)]
pub struct KioskView {
    pub card: Card,
    pub member: crate::members::Member,
    pub tier_name: String,
    pub customer_name: String,
    pub store_name: String,
    pub pin_set: bool,
    /// Usable coupons: (id, name).
    pub coupons: Vec<(String, String)>,
}

pub fn kiosk_view(
    conn: &mut DbConnection,
    scope: &StoreScope,
    clock: &dyn Clock,
    card: &Card,
) -> Result<KioskView> {
    dms_db::read_tx(conn, |c| {
        let member = get_member(c, scope, &card.member_id)?;
        let cfg = crate::config::effective_config(c, &card.store_id)?;
        let tier_name = cfg
            .tiers
            .iter()
            .find(|t| t.code == member.tier_code)
            .map(|t| t.name.clone())
            .unwrap_or_else(|| member.tier_code.clone());
        let customer_name: String = {
            use dms_db::schema::customers;
            customers::table
                .find(&member.customer_id)
                .select(customers::name)
                .first(c)
                .optional()?
                .unwrap_or_default()
        };
        let store_name: String = {
            use dms_db::schema::stores;
            stores::table
                .find(&card.store_id)
                .select(stores::name)
                .first(c)
                .optional()?
                .unwrap_or_default()
        };
        let pin_hash: Option<String> = mem_cards::table
            .find(&card.id)
            .select(mem_cards::pin_hash)
            .first(c)?;
        let now = now_db(clock);
        let mut coupons = vec![];
        for cp in coupons_of_member(c, scope, &member.id)? {
            if cp.status != "issued" {
                continue;
            }
            let t = load_template(c, &cp.template_id)?;
            if t.valid_until <= now {
                continue;
            }
            coupons.push((cp.id, t.name));
        }
        Ok(KioskView {
            card: card.clone(),
            member,
            tier_name,
            customer_name,
            store_name,
            pin_set: pin_hash.is_some(),
            coupons,
        })
    })
}

/// What became of a request the caller sent with `key`: the operation and its stored result
/// (JSON of the domain result), or `None` when no request with that key ever committed.
pub fn request_outcome(
    conn: &mut DbConnection,
    actor: &Actor,
    key: &str,
) -> Result<Option<(String, String)>> {
    crate::idempotency::check_key(key)?;
    Ok(mem_idempotency::table
        .find((principal_of(actor), key))
        .select((mem_idempotency::operation, mem_idempotency::result))
        .first(conn)
        .optional()?)
}
