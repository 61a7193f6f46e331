//! Top-up requests (待确认充值): the service-desk kiosk may not credit a card itself, because it
//! cannot see the cash or the bank-card slip. It *asks* for a top-up of the card it read; the
//! cashier confirms the request once the money is in hand, and the kiosk prints the receipt.
//!
//! Rules:
//! * A request is `pending` for [`REQUEST_TTL_MINUTES`]; past that it reads as `expired` (the
//!   row is marked lazily) and can be neither confirmed nor cancelled.
//! * A terminal has at most one pending request per card ([`Refusal::Pending`]).
//! * Confirming performs the real top-up ([`crate::top_up`]: the same ledger path, bonus rules
//!   and audit) and marks the request confirmed in one transaction. The request is claimed
//!   (`pending` → `confirmed`) before the money moves, so two cashiers confirming at once
//!   produce one top-up: the other is refused with [`Refusal::Confirmed`] (or, with the same
//!   idempotency key, answered the first result).
//! * Only the terminal that asked may read or withdraw its request; staff see the requests of
//!   their stores.

use crate::cards::{mask_card_no, usable_card};
use crate::config::effective_config;
use crate::error::{MembershipError, Result};
use crate::idempotency::{run_idempotent, Replayable};
use crate::schema::{mem_cards, mem_members, mem_top_up_requests as t};
use crate::stored_value::{top_up, PaymentMethod, TopUp, TopUpResult};
use crate::util::{audit, now_db, positive, write};
use diesel::prelude::*;
use dms_core::{Clock, Cursor, Money, PageRequest, StoreScope};
use dms_db::DbConnection;
use dms_identity::Actor;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;

/// How long a request waits for the cashier.
pub const REQUEST_TTL_MINUTES: i64 = 15;

/// Upper bound of one requested top-up (the same typo guard as a top-up at the desk).
const MAX_REQUEST_FEN: i64 = 100_000_000;

/// Why a request cannot be created, confirmed or cancelled: a 409 with its own stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The terminal already has a pending request for this card.
    Pending,
    Confirmed,
    Cancelled,
    Expired,
}

impl Refusal {
    const ALL: [Refusal; 4] = [
        Refusal::Pending,
        Refusal::Confirmed,
        Refusal::Cancelled,
        Refusal::Expired,
    ];

    /// The stable problem code.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Pending => "top_up_request_pending",
            Refusal::Confirmed => "already_confirmed",
            Refusal::Cancelled => "already_cancelled",
            Refusal::Expired => "top_up_request_expired",
        }
    }

    pub fn field(self) -> &'static str {
        match self {
            Refusal::Pending => "card_id",
            _ => "status",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::Pending => "this terminal already has a pending top-up request for this card",
            Refusal::Confirmed => "the top-up request is already confirmed",
            Refusal::Cancelled => "the top-up request was cancelled",
            Refusal::Expired => "the top-up request has expired",
        }
    }

    fn error(self) -> MembershipError {
        MembershipError::conflict(self.field(), self.message())
    }

    /// The refusal an error stands for, if it is one.
    pub fn of(e: &MembershipError) -> Option<Refusal> {
        match e {
            MembershipError::Conflict { field, message } => Refusal::ALL
                .into_iter()
                .find(|r| r.field() == *field && r.message() == message),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = t)]
struct Row {
    id: String,
    store_id: String,
    device_id: Option<String>,
    device_name: Option<String>,
    card_id: String,
    amount_fen: i64,
    expected_bonus_fen: i64,
    payment_method: String,
    received_method: Option<String>,
    status: String,
    requested_by: String,
    requested_at: chrono::NaiveDateTime,
    expires_at: chrono::NaiveDateTime,
    decided_at: Option<chrono::NaiveDateTime>,
    decided_by: Option<String>,
    cancel_reason: Option<String>,
    reference: Option<String>,
    top_up: Option<String>,
}

impl Row {
    /// `pending` past its time reads as `expired`.
    fn effective_status(&self, now: chrono::NaiveDateTime) -> &str {
        if self.status == "pending" && self.expires_at <= now {
            "expired"
        } else {
            &self.status
        }
    }

    fn refuse_unless_pending(&self, now: chrono::NaiveDateTime) -> Result<()> {
        match self.effective_status(now) {
            "pending" => Ok(()),
            "confirmed" => Err(Refusal::Confirmed.error()),
            "cancelled" => Err(Refusal::Cancelled.error()),
            _ => Err(Refusal::Expired.error()),
        }
    }
}

/// A top-up request as callers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUpRequest {
    pub id: String,
    pub store_id: String,
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    pub card_id: String,
    pub masked_card_no: String,
    pub member_id: String,
    /// The holder's name in full: the server masks it for a terminal.
    pub customer_name: String,
    pub amount: Money,
    pub expected_bonus: Money,
    /// What the member said they would pay with.
    pub payment_method: PaymentMethod,
    /// What the cashier received (once confirmed).
    pub received_method: Option<PaymentMethod>,
    /// `pending`, `confirmed`, `cancelled` or `expired`.
    pub status: String,
    pub requested_by: String,
    pub requested_at: chrono::NaiveDateTime,
    pub expires_at: chrono::NaiveDateTime,
    pub decided_at: Option<chrono::NaiveDateTime>,
    pub decided_by: Option<String>,
    pub cancel_reason: Option<String>,
    pub reference: Option<String>,
    /// The top-up, once confirmed.
    pub top_up: Option<TopUpResult>,
}

fn method(code: &str) -> Result<PaymentMethod> {
    serde_json::from_value(json!(code))
        .map_err(|_| MembershipError::Internal(format!("stored payment method {code:?}")))
}

/// The rows with their cards' numbers and holders' names (three look-ups for the whole page).
fn views(
    c: &mut DbConnection,
    rows: Vec<Row>,
    now: chrono::NaiveDateTime,
) -> Result<Vec<TopUpRequest>> {
    let card_ids: Vec<String> = rows.iter().map(|r| r.card_id.clone()).collect();
    let cards: HashMap<String, (String, String)> = mem_cards::table
        .filter(mem_cards::id.eq_any(&card_ids))
        .select((mem_cards::id, mem_cards::card_no, mem_cards::member_id))
        .load::<(String, String, String)>(c)?
        .into_iter()
        .map(|(id, no, member)| (id, (no, member)))
        .collect();
    let member_ids: Vec<String> = cards.values().map(|(_, m)| m.clone()).collect();
    let members: HashMap<String, String> = mem_members::table
        .filter(mem_members::id.eq_any(&member_ids))
        .select((mem_members::id, mem_members::customer_id))
        .load::<(String, String)>(c)?
        .into_iter()
        .collect();
    let customer_ids: Vec<String> = members.values().cloned().collect();
    let names: HashMap<String, String> = {
        use dms_db::schema::customers;
        customers::table
            .filter(customers::id.eq_any(&customer_ids))
            .select((customers::id, customers::name))
            .load::<(String, String)>(c)?
            .into_iter()
            .collect()
    };
    rows.into_iter()
        .map(|r| {
            let (card_no, member_id) = cards.get(&r.card_id).cloned().unwrap_or_default();
            let customer_name = members
                .get(&member_id)
                .and_then(|cust| names.get(cust))
                .cloned()
                .unwrap_or_default();
            let top_up = r
                .top_up
                .as_deref()
                .map(serde_json::from_str::<TopUpResult>)
                .transpose()
                .map_err(|e| MembershipError::Internal(format!("stored top-up: {e}")))?;
            Ok(TopUpRequest {
                status: r.effective_status(now).to_string(),
                payment_method: method(&r.payment_method)?,
                received_method: r.received_method.as_deref().map(method).transpose()?,
                id: r.id,
                store_id: r.store_id,
                device_id: r.device_id,
                device_name: r.device_name,
                masked_card_no: mask_card_no(&card_no),
                card_id: r.card_id,
                member_id,
                customer_name,
                amount: Money::from_fen(r.amount_fen),
                expected_bonus: Money::from_fen(r.expected_bonus_fen),
                requested_by: r.requested_by,
                requested_at: r.requested_at,
                expires_at: r.expires_at,
                decided_at: r.decided_at,
                decided_by: r.decided_by,
                cancel_reason: r.cancel_reason,
                reference: r.reference,
                top_up,
            })
        })
        .collect()
}

/// The row, if it lies in the caller's stores and (for a terminal) is the terminal's own.
fn load_row(
    c: &mut DbConnection,
    scope: &StoreScope,
    id: &str,
    device_id: Option<&str>,
) -> Result<Row> {
    let row: Option<Row> = t::table
        .find(id)
        .select(Row::as_select())
        .first(c)
        .optional()?;
    match row {
        Some(r)
            if scope.allows(&r.store_id)
                && device_id.is_none_or(|d| r.device_id.as_deref() == Some(d)) =>
        {
            Ok(r)
        }
        _ => Err(MembershipError::NotFound("top-up request")),
    }
}

fn view(c: &mut DbConnection, row: Row, now: chrono::NaiveDateTime) -> Result<TopUpRequest> {
    views(c, vec![row], now)?
        .pop()
        .ok_or(MembershipError::NotFound("top-up request"))
}

/// One request. `device_id`: the calling terminal, which sees only its own requests.
pub fn get_request(
    conn: &mut DbConnection,
    scope: &StoreScope,
    clock: &dyn Clock,
    id: &str,
    device_id: Option<&str>,
) -> Result<TopUpRequest> {
    let now = now_db(clock);
    dms_db::read_tx(conn, |c| {
        let row = load_row(c, scope, id, device_id)?;
        view(c, row, now)
    })
}

/// What a terminal asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewTopUpRequest {
    pub card_id: String,
    pub amount: Money,
    pub payment_method: PaymentMethod,
    /// The terminal asking (recorded; only it reads the request back).
    pub device_id: String,
    pub device_name: String,
}

/// A terminal asks for a top-up of a usable card of its store. Idempotent per key: a retry
/// answers the same request (as it is now), marked as a replay.
pub fn create_request(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    idempotency_key: &str,
    req: &NewTopUpRequest,
) -> Result<Replayable<TopUpRequest>> {
    let amount = positive("amount", req.amount)?;
    if amount > MAX_REQUEST_FEN {
        return Err(MembershipError::invalid(
            "amount",
            "at most 1000000.00 per top-up",
        ));
    }
    let now = now_db(clock);
    let expires = dms_db::to_db_time(clock.now() + chrono::Duration::minutes(REQUEST_TTL_MINUTES));
    let r = run_idempotent(
        conn,
        actor,
        idempotency_key,
        "topup_request.create",
        req,
        now,
        |c| {
            let card = usable_card(c, scope, &req.card_id, now)?;
            // Requests of this card past their time are marked expired on the way.
            diesel::update(
                t::table
                    .filter(t::card_id.eq(&card.id))
                    .filter(t::status.eq("pending"))
                    .filter(t::expires_at.le(now)),
            )
            .set((t::status.eq("expired"), t::updated_at.eq(now)))
            .execute(c)?;
            let pending: i64 = t::table
                .filter(t::card_id.eq(&card.id))
                .filter(t::device_id.eq(&req.device_id))
                .filter(t::status.eq("pending"))
                .count()
                .get_result(c)?;
            if pending > 0 {
                return Err(Refusal::Pending.error());
            }
            let bonus = effective_config(c, &card.store_id)?
                .topup_bonus(req.amount)
                .fen();
            let id = dms_core::new_id();
            diesel::insert_into(t::table)
                .values((
                    t::id.eq(&id),
                    t::store_id.eq(&card.store_id),
                    t::device_id.eq(&req.device_id),
                    t::device_name.eq(&req.device_name),
                    t::card_id.eq(&card.id),
                    t::amount_fen.eq(amount),
                    t::expected_bonus_fen.eq(bonus),
                    t::payment_method.eq(req.payment_method.code()),
                    t::status.eq("pending"),
                    t::requested_by.eq(&actor.name),
                    t::requested_at.eq(now),
                    t::expires_at.eq(expires),
                    t::updated_at.eq(now),
                ))
                .execute(c)?;
            audit(
                c,
                actor,
                Some(&card.store_id),
                "membership.topup_request.create",
                "top_up_request",
                &id,
                json!({"card_id": card.id, "amount": req.amount, "expected_bonus": Money::from_fen(bonus),
                       "method": req.payment_method.code()}),
            )?;
            let row = load_row(c, scope, &id, None)?;
            view(c, row, now)
        },
    )?;
    if r.replayed {
        let value = get_request(conn, scope, clock, &r.value.id, Some(&req.device_id))?;
        return Ok(Replayable {
            value,
            replayed: true,
        });
    }
    Ok(r)
}

/// The terminal's pending request for a card, if it has one (what a second request collided
/// with).
pub fn pending_request_of(
    conn: &mut DbConnection,
    scope: &StoreScope,
    clock: &dyn Clock,
    device_id: &str,
    card_id: &str,
) -> Result<Option<String>> {
    let ids: Vec<(String, String)> = t::table
        .filter(t::card_id.eq(card_id))
        .filter(t::device_id.eq(device_id))
        .filter(t::status.eq("pending"))
        .filter(t::expires_at.gt(now_db(clock)))
        .select((t::id, t::store_id))
        .load(conn)?;
    Ok(ids
        .into_iter()
        .find(|(_, s)| scope.allows(s))
        .map(|(id, _)| id))
}

/// Requests of the caller's stores, newest first. `status`: `pending`, `confirmed`,
/// `cancelled`, `expired`, or all when absent.
pub fn list_requests(
    conn: &mut DbConnection,
    scope: &StoreScope,
    clock: &dyn Clock,
    store_id: Option<&str>,
    status: Option<&str>,
    page: &PageRequest,
) -> Result<(Vec<TopUpRequest>, Option<String>)> {
    let now = now_db(clock);
    let mut q = t::table.select(Row::as_select()).into_boxed();
    match status {
        None => {}
        Some("pending") => {
            q = q
                .filter(t::status.eq("pending"))
                .filter(t::expires_at.gt(now))
        }
        Some("expired") => {
            q = q.filter(
                t::status
                    .eq("expired")
                    .or(t::status.eq("pending").and(t::expires_at.le(now))),
            )
        }
        Some(s @ ("confirmed" | "cancelled")) => q = q.filter(t::status.eq(s.to_string())),
        Some(_) => {
            return Err(MembershipError::invalid(
                "status",
                "pending, confirmed, cancelled or expired",
            ))
        }
    }
    if let StoreScope::Stores(ids) = scope {
        q = q.filter(t::store_id.eq_any(ids.clone()));
    }
    if let Some(s) = store_id {
        q = q.filter(t::store_id.eq(s.to_string()));
    }
    if let Some(Cursor { after_id }) = &page.after {
        q = q.filter(t::id.lt(after_id.clone()));
    }
    let rows = q.order(t::id.desc()).limit(page.fetch_limit()).load(conn)?;
    let (rows, next) = page.finish(rows, |r: &Row| &r.id);
    Ok((views(conn, rows, now)?, next))
}

/// The cashier's confirmation: what was actually received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfirmTopUp {
    pub request_id: String,
    /// Default: what the member said they would pay with.
    pub payment_method: Option<PaymentMethod>,
    /// The slip number, 1-64 characters.
    pub reference: Option<String>,
}

/// Confirms a pending request: the top-up and the `confirmed` mark commit together, once.
/// Needs `membership.topup` (the server checks it; `scope` is where the caller holds it).
pub fn confirm_request(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    idempotency_key: &str,
    req: &ConfirmTopUp,
) -> Result<Replayable<TopUpRequest>> {
    let reference = match req.reference.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(r) if r.chars().count() > 64 => {
            return Err(MembershipError::invalid(
                "reference",
                "at most 64 characters",
            ))
        }
        Some(r) => Some(r.to_string()),
    };
    let now = now_db(clock);
    let r = run_idempotent(
        conn,
        actor,
        idempotency_key,
        "topup_request.confirm",
        req,
        now,
        |c| {
            let row = load_row(c, scope, &req.request_id, None)?;
            row.refuse_unless_pending(now)?;
            let received = match req.payment_method {
                Some(m) => m,
                None => method(&row.payment_method)?,
            };
            // Claim the request first: whoever claims it is the one who tops up.
            let claimed = diesel::update(
                t::table
                    .find(&row.id)
                    .filter(t::status.eq("pending"))
                    .filter(t::expires_at.gt(now)),
            )
            .set((
                t::status.eq("confirmed"),
                t::received_method.eq(received.code()),
                t::reference.eq(reference.as_deref()),
                t::decided_at.eq(now),
                t::decided_by.eq(&actor.name),
                t::decided_by_id.eq(actor.id.as_deref()),
                t::updated_at.eq(now),
            ))
            .execute(c)?;
            if claimed != 1 {
                let again = load_row(c, scope, &row.id, None)?;
                again.refuse_unless_pending(now)?;
                return Err(Refusal::Confirmed.error());
            }
            let done = top_up(
                c,
                actor,
                scope,
                clock,
                &format!("top-up-request:{}", row.id),
                &TopUp {
                    card_id: row.card_id.clone(),
                    amount: Money::from_fen(row.amount_fen),
                    payment_method: received,
                    terminal_id: row.device_id.clone(),
                },
            )?
            .value;
            let stored = serde_json::to_string(&done)
                .map_err(|e| MembershipError::Internal(e.to_string()))?;
            diesel::update(t::table.find(&row.id))
                .set((t::top_up_txn_id.eq(&done.txn_id), t::top_up.eq(&stored)))
                .execute(c)?;
            audit(
                c,
                actor,
                Some(&row.store_id),
                "membership.topup_request.confirm",
                "top_up_request",
                &row.id,
                json!({"txn": done.txn_id, "card_id": row.card_id, "amount": done.paid,
                       "bonus": done.bonus, "method": received.code(), "reference": reference}),
            )?;
            let row = load_row(c, scope, &row.id, None)?;
            view(c, row, now)
        },
    )?;
    if r.replayed {
        let value = get_request(conn, scope, clock, &req.request_id, None)?;
        return Ok(Replayable {
            value,
            replayed: true,
        });
    }
    Ok(r)
}

/// Withdraws a pending request: staff with a reason, or the terminal that asked
/// (`device_id`).
pub fn cancel_request(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    id: &str,
    device_id: Option<&str>,
    reason: Option<&str>,
) -> Result<TopUpRequest> {
    let reason = match reason.map(str::trim) {
        Some(r) if r.is_empty() || r.chars().count() > 200 => {
            return Err(MembershipError::invalid("reason", "1-200 characters"))
        }
        r => r.map(str::to_string),
    };
    let now = now_db(clock);
    write(conn, |c| {
        let row = load_row(c, scope, id, device_id)?;
        row.refuse_unless_pending(now)?;
        diesel::update(t::table.find(id).filter(t::status.eq("pending")))
            .set((
                t::status.eq("cancelled"),
                t::cancel_reason.eq(reason.as_deref()),
                t::decided_at.eq(now),
                t::decided_by.eq(&actor.name),
                t::decided_by_id.eq(actor.id.as_deref()),
                t::updated_at.eq(now),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&row.store_id),
            "membership.topup_request.cancel",
            "top_up_request",
            id,
            json!({"reason": reason}),
        )?;
        let row = load_row(c, scope, id, None)?;
        view(c, row, now)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use dms_core::FixedClock;
    use dms_db::testing::TestDb;

    struct Setup {
        store: String,
        card: String,
        device: String,
        clock: FixedClock,
    }

    fn cashier() -> Actor {
        Actor {
            kind: "staff",
            id: Some("staff-1".into()),
            name: "收银员".into(),
            request_id: None,
        }
    }

    fn kiosk(device: &str) -> Actor {
        Actor {
            kind: "device",
            id: Some(device.into()),
            name: "服务前台1号机".into(),
            request_id: None,
        }
    }

    fn setup(c: &mut DbConnection) -> Setup {
        let clock = FixedClock::new(chrono::Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap());
        let sys = Actor::system("test");
        let store = dms_identity::create_store(
            c,
            &sys,
            &dms_identity::NewStore {
                code: "TU01".into(),
                name: "TU01店".into(),
                address: String::new(),
                phone: String::new(),
            },
        )
        .unwrap()
        .id;
        let customer = dms_identity::create_customer(
            c,
            &sys,
            &StoreScope::AllStores,
            &dms_identity::NewCustomer {
                store_id: store.clone(),
                name: "张三丰".into(),
                phone: "13900001111".into(),
            },
        )
        .unwrap()
        .id;
        let member = crate::join_member(
            c,
            &cashier(),
            &StoreScope::AllStores,
            &clock,
            &crate::JoinMember {
                customer_id: customer,
                store_id: store.clone(),
                channel: crate::JoinChannel::Purchase,
                tier_code: None,
                fee_paid: None,
                past_spend: None,
            },
        )
        .unwrap();
        let card = crate::issue_card(
            c,
            &cashier(),
            &StoreScope::AllStores,
            &clock,
            &crate::IssueCard {
                member_id: member.id,
                ..Default::default()
            },
        )
        .unwrap()
        .id;
        let device = dms_identity::create_device(
            c,
            &sys,
            &StoreScope::AllStores,
            &store,
            "服务前台1号机",
            chrono::Duration::minutes(10),
        )
        .unwrap()
        .device
        .id;
        Setup {
            store,
            card,
            device,
            clock,
        }
    }

    fn ask(c: &mut DbConnection, s: &Setup, device: &str, amount: &str) -> Result<TopUpRequest> {
        create_request(
            c,
            &kiosk(device),
            &StoreScope::Stores(vec![s.store.clone()]),
            &s.clock,
            &dms_core::new_id(),
            &NewTopUpRequest {
                card_id: s.card.clone(),
                amount: amount.parse().unwrap(),
                payment_method: PaymentMethod::Cash,
                device_id: device.into(),
                device_name: "服务前台1号机".into(),
            },
        )
        .map(|r| r.value)
    }

    fn confirm(c: &mut DbConnection, s: &Setup, id: &str, key: &str) -> Result<TopUpRequest> {
        confirm_request(
            c,
            &cashier(),
            &StoreScope::AllStores,
            &s.clock,
            key,
            &ConfirmTopUp {
                request_id: id.into(),
                payment_method: Some(PaymentMethod::BankCard),
                reference: Some("POS-001".into()),
            },
        )
        .map(|r| r.value)
    }

    fn one_pending_per_card_and_terminal(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let s = setup(&mut c);
        let first = ask(&mut c, &s, &s.device, "1000").unwrap();
        assert_eq!(first.status, "pending");
        assert_eq!(first.expected_bonus, "100".parse().unwrap());
        assert_eq!(first.customer_name, "张三丰");
        let again = ask(&mut c, &s, &s.device, "500").unwrap_err();
        assert_eq!(Refusal::of(&again), Some(Refusal::Pending));
        let scope = StoreScope::AllStores;
        assert_eq!(
            pending_request_of(&mut c, &scope, &s.clock, &s.device, &s.card).unwrap(),
            Some(first.id.clone())
        );
        // Once it is decided the terminal may ask again.
        cancel_request(
            &mut c,
            &kiosk(&s.device),
            &scope,
            &s.clock,
            &first.id,
            Some(&s.device),
            None,
        )
        .unwrap();
        let second = ask(&mut c, &s, &s.device, "500").unwrap();
        assert_eq!(second.expected_bonus, Money::ZERO);
        // Another terminal does not see it.
        let err = get_request(&mut c, &scope, &s.clock, &second.id, Some("other")).unwrap_err();
        assert!(matches!(err, MembershipError::NotFound(_)));
    }

    fn expired_requests_cannot_be_confirmed(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let s = setup(&mut c);
        let r = ask(&mut c, &s, &s.device, "1000").unwrap();
        s.clock
            .advance(chrono::Duration::minutes(REQUEST_TTL_MINUTES));
        let read = get_request(&mut c, &StoreScope::AllStores, &s.clock, &r.id, None).unwrap();
        assert_eq!(read.status, "expired");
        let err = confirm(&mut c, &s, &r.id, "k1").unwrap_err();
        assert_eq!(Refusal::of(&err), Some(Refusal::Expired));
        let (page, _) = list_requests(
            &mut c,
            &StoreScope::AllStores,
            &s.clock,
            None,
            Some("pending"),
            &PageRequest::first(50),
        )
        .unwrap();
        assert!(page.is_empty());
        // An expired request does not block a new one, and is marked on the way.
        let fresh = ask(&mut c, &s, &s.device, "1000").unwrap();
        let (expired, _) = list_requests(
            &mut c,
            &StoreScope::AllStores,
            &s.clock,
            None,
            Some("expired"),
            &PageRequest::first(50),
        )
        .unwrap();
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].id, r.id);
        let card = crate::get_card(&mut c, &StoreScope::AllStores, &s.card).unwrap();
        assert_eq!(card.principal_fen, 0, "nothing moved");
        // The fresh one confirms once: the top-up with its bonus; a second confirmation with
        // another key is refused, the same key replays.
        let done = confirm(&mut c, &s, &fresh.id, "k2").unwrap();
        assert_eq!(done.status, "confirmed");
        assert_eq!(done.received_method, Some(PaymentMethod::BankCard));
        let tu = done.top_up.unwrap();
        assert_eq!(tu.bonus, "100".parse().unwrap());
        let err = confirm(&mut c, &s, &fresh.id, "k3").unwrap_err();
        assert_eq!(Refusal::of(&err), Some(Refusal::Confirmed));
        let replay = confirm_request(
            &mut c,
            &cashier(),
            &StoreScope::AllStores,
            &s.clock,
            "k2",
            &ConfirmTopUp {
                request_id: fresh.id.clone(),
                payment_method: Some(PaymentMethod::BankCard),
                reference: Some("POS-001".into()),
            },
        )
        .unwrap();
        assert!(replay.replayed);
        let card = crate::get_card(&mut c, &StoreScope::AllStores, &s.card).unwrap();
        assert_eq!(card.principal_fen, 100_000);
        assert_eq!(card.bonus_fen, 10_000);
        // A confirmed request cannot be cancelled.
        let err = cancel_request(
            &mut c,
            &cashier(),
            &StoreScope::AllStores,
            &s.clock,
            &fresh.id,
            None,
            Some("客户改主意"),
        )
        .unwrap_err();
        assert_eq!(Refusal::of(&err), Some(Refusal::Confirmed));
        let check = crate::verify_ledgers(&mut c).unwrap();
        assert!(check.problems.is_empty(), "{check:?}");
    }

    fn bad_amounts_are_refused(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let s = setup(&mut c);
        for bad in ["0", "-1", "1000000.01"] {
            let err = ask(&mut c, &s, &s.device, bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    MembershipError::Invalid {
                        field: "amount",
                        ..
                    }
                ),
                "{bad}: {err:?}"
            );
        }
    }

    dms_db::engine_tests!(
        one_pending_per_card_and_terminal,
        expired_requests_cannot_be_confirmed,
        bad_amounts_are_refused,
    );
}
