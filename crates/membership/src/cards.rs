//! Member cards (会员卡): issue (single and batch), look-up by number or chip, and the status
//! changes that move no money: report lost (挂失), unblock (解挂), freeze, change expiry.
//! Replacement and return move money and live in [`crate::lifecycle`].
//!
//! One card carries everything ("多卡合一"): stored value on the card, points and tier on the
//! member, coupons on the member.

use crate::error::{MembershipError, Result};
use crate::members::{add_months, load_member, Member};
use crate::schema::{mem_cards, mem_members};
use crate::util::{audit, now_db, write};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use dms_core::{Clock, Money, StoreScope};
use dms_db::DbConnection;
use dms_identity::Actor;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A card as callers see it. The PIN hash is deliberately not part of it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize, Deserialize)]
#[diesel(table_name = mem_cards)]
pub struct Card {
    pub id: String,
    pub store_id: String,
    pub member_id: String,
    pub card_no: String,
    pub chip_uid: Option<String>,
    /// `active`, `lost`, `frozen`, `replaced` or `closed`.
    pub status: String,
    pub expires_at: chrono::NaiveDateTime,
    pub principal_fen: i64,
    pub bonus_fen: i64,
    pub pin_failures: i32,
    pub pin_locked_until: Option<chrono::NaiveDateTime>,
    pub pin_hard_locked: bool,
    pub replaced_by: Option<String>,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl Card {
    pub fn principal(&self) -> Money {
        Money::from_fen(self.principal_fen)
    }
    pub fn bonus(&self) -> Money {
        Money::from_fen(self.bonus_fen)
    }
    pub fn masked_no(&self) -> String {
        mask_card_no(&self.card_no)
    }
}

/// Shows the first four and last four characters (`8800********1234`): enough for the member to
/// recognise the card on a receipt, not enough to use it.
pub fn mask_card_no(no: &str) -> String {
    let chars: Vec<char> = no.chars().collect();
    if chars.len() <= 8 {
        let keep = chars.len().saturating_sub(4);
        return std::iter::repeat_n('*', keep)
            .chain(chars[keep..].iter().copied())
            .collect();
    }
    let n = chars.len();
    chars[..4]
        .iter()
        .copied()
        .chain(std::iter::repeat_n('*', n - 8))
        .chain(chars[n - 4..].iter().copied())
        .collect()
}

#[derive(Debug, Clone, Default)]
pub struct IssueCard {
    pub member_id: String,
    /// A pre-printed number; `None` makes one (16 digits starting 88).
    pub card_no: Option<String>,
    /// The chip's UID when the card has one, bound to the number for the reader.
    pub chip_uid: Option<String>,
    /// Default: the programme's card validity from today.
    pub expires_at: Option<DateTime<Utc>>,
}

fn check_card_no(no: &str) -> Result<()> {
    let ok = (6..=32).contains(&no.len()) && no.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(MembershipError::invalid(
            "card_no",
            "6-32 letters or digits",
        ))
    }
}

fn check_chip(uid: &str) -> Result<()> {
    let ok = (4..=64).contains(&uid.len()) && uid.chars().all(|c| c.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(MembershipError::invalid("chip_uid", "4-64 hex digits"))
    }
}

fn generate_card_no() -> String {
    let mut rng = rand::thread_rng();
    let mut s = String::from("88");
    for _ in 0..14 {
        s.push(char::from(b'0' + rng.gen_range(0..10u8)));
    }
    s
}

pub(crate) fn load_card(conn: &mut DbConnection, id: &str) -> Result<Card> {
    mem_cards::table
        .find(id)
        .select(Card::as_select())
        .first(conn)
        .optional()?
        .ok_or(MembershipError::NotFound("card"))
}

pub(crate) fn scoped_card(conn: &mut DbConnection, scope: &StoreScope, id: &str) -> Result<Card> {
    match load_card(conn, id) {
        Ok(c) if scope.allows(&c.store_id) => Ok(c),
        Ok(_) => Err(MembershipError::NotFound("card")),
        Err(e) => Err(e),
    }
}

/// Locks the cards and their members for a batch of payments and reads them, in one
/// statement (`SELECT … FOR UPDATE` in card order on PostgreSQL, so two batches lock in the
/// same order; SQLite's writer lock is already held). Unknown cards are simply absent.
pub(crate) fn lock_cards_and_members(
    conn: &mut DbConnection,
    card_ids: &[&str],
) -> Result<Vec<(Card, Member)>> {
    let q = || {
        mem_cards::table
            .inner_join(mem_members::table)
            .filter(mem_cards::id.eq_any(card_ids.to_vec()))
            .order(mem_cards::id)
    };
    Ok(match conn {
        DbConnection::Pg(c) => q()
            .select((Card::as_select(), Member::as_select()))
            .for_update()
            .load(c)?,
        DbConnection::Sqlite(c) => q()
            .select((Card::as_select(), Member::as_select()))
            .load(c)?,
    })
}

/// Refuses a card that may not pay or be paid into now: lost, frozen, closed, or past its
/// expiry.
pub(crate) fn check_usable(card: Card, now: chrono::NaiveDateTime) -> Result<Card> {
    if card.status != "active" {
        return Err(MembershipError::CardBlocked {
            status: card.status,
        });
    }
    if card.expires_at <= now {
        return Err(MembershipError::CardExpired);
    }
    Ok(card)
}

/// A card that may pay or be paid into now: active and not past its expiry.
pub(crate) fn usable_card(
    conn: &mut DbConnection,
    scope: &StoreScope,
    id: &str,
    now: chrono::NaiveDateTime,
) -> Result<Card> {
    check_usable(scoped_card(conn, scope, id)?, now)
}

pub fn get_card(conn: &mut DbConnection, scope: &StoreScope, id: &str) -> Result<Card> {
    scoped_card(conn, scope, id)
}

pub fn card_by_number(conn: &mut DbConnection, scope: &StoreScope, card_no: &str) -> Result<Card> {
    let c: Option<Card> = mem_cards::table
        .filter(mem_cards::card_no.eq(card_no))
        .select(Card::as_select())
        .first(conn)
        .optional()?;
    match c {
        Some(c) if scope.allows(&c.store_id) => Ok(c),
        _ => Err(MembershipError::NotFound("card")),
    }
}

pub fn card_by_chip(conn: &mut DbConnection, scope: &StoreScope, chip_uid: &str) -> Result<Card> {
    let uid = chip_uid.to_ascii_uppercase();
    let c: Option<Card> = mem_cards::table
        .filter(mem_cards::chip_uid.eq(&uid))
        .select(Card::as_select())
        .first(conn)
        .optional()?;
    match c {
        Some(c) if scope.allows(&c.store_id) => Ok(c),
        _ => Err(MembershipError::NotFound("card")),
    }
}

pub fn cards_of_member(
    conn: &mut DbConnection,
    scope: &StoreScope,
    member_id: &str,
) -> Result<Vec<Card>> {
    let m = crate::members::get_member(conn, scope, member_id)?;
    Ok(mem_cards::table
        .filter(mem_cards::member_id.eq(&m.id))
        .select(Card::as_select())
        .order(mem_cards::id)
        .load(conn)?)
}

/// Inserts one card inside the caller's transaction.
pub(crate) fn insert_card(
    c: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    req: &IssueCard,
) -> Result<Card> {
    let member = load_member(c, &req.member_id)?;
    if !scope.allows(&member.store_id) {
        return Err(MembershipError::NotFound("member"));
    }
    if member.status == "closed" {
        return Err(MembershipError::conflict(
            "member_id",
            "membership is closed",
        ));
    }
    let cfg = crate::config::effective_config(c, &member.store_id)?;
    let now = clock.now();
    let expires = req
        .expires_at
        .unwrap_or_else(|| add_months(now, cfg.card_valid_months));
    if expires <= now {
        return Err(MembershipError::invalid(
            "expires_at",
            "must be in the future",
        ));
    }
    let chip = match &req.chip_uid {
        Some(u) => {
            check_chip(u)?;
            Some(u.to_ascii_uppercase())
        }
        None => None,
    };
    if let Some(uid) = &chip {
        let n: i64 = mem_cards::table
            .filter(mem_cards::chip_uid.eq(uid))
            .count()
            .get_result(c)?;
        if n > 0 {
            return Err(MembershipError::conflict("chip_uid", "chip already bound"));
        }
    }
    let card_no = match &req.card_no {
        Some(n) => {
            check_card_no(n)?;
            n.clone()
        }
        None => loop {
            let n = generate_card_no();
            let taken: i64 = mem_cards::table
                .filter(mem_cards::card_no.eq(&n))
                .count()
                .get_result(c)?;
            if taken == 0 {
                break n;
            }
        },
    };
    let taken: i64 = mem_cards::table
        .filter(mem_cards::card_no.eq(&card_no))
        .count()
        .get_result(c)?;
    if taken > 0 {
        return Err(MembershipError::conflict("card_no", "card number in use"));
    }
    let id = dms_core::new_id();
    let ndb = now_db(clock);
    diesel::insert_into(mem_cards::table)
        .values((
            mem_cards::id.eq(&id),
            mem_cards::store_id.eq(&member.store_id),
            mem_cards::member_id.eq(&member.id),
            mem_cards::card_no.eq(&card_no),
            mem_cards::chip_uid.eq(chip.as_deref()),
            mem_cards::status.eq("active"),
            mem_cards::expires_at.eq(dms_db::to_db_time(expires)),
            mem_cards::principal_fen.eq(0i64),
            mem_cards::bonus_fen.eq(0i64),
            mem_cards::pin_failures.eq(0),
            mem_cards::pin_hard_locked.eq(false),
            mem_cards::created_at.eq(ndb),
            mem_cards::updated_at.eq(ndb),
        ))
        .execute(c)
        .map_err(|e| crate::util::unique_conflict(e, "card_no", "card number or chip in use"))?;
    audit(
        c,
        actor,
        Some(&member.store_id),
        "membership.card.issue",
        "card",
        &id,
        json!({"card_no": mask_card_no(&card_no), "chip": chip.is_some()}),
    )?;
    load_card(c, &id)
}

/// 发卡: issues one card to a member.
pub fn issue_card(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    req: &IssueCard,
) -> Result<Card> {
    write(conn, |c| insert_card(c, actor, scope, clock, req))
}

/// Batch issue: all cards or none (one bad row names its index in the error message).
pub fn issue_cards_batch(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    reqs: &[IssueCard],
) -> Result<Vec<Card>> {
    if reqs.is_empty() || reqs.len() > 1000 {
        return Err(MembershipError::invalid("cards", "1-1000 cards per batch"));
    }
    write(conn, |c| {
        let mut out = Vec::with_capacity(reqs.len());
        for (i, r) in reqs.iter().enumerate() {
            match insert_card(c, actor, scope, clock, r) {
                Ok(card) => out.push(card),
                Err(MembershipError::Invalid { field, message })
                | Err(MembershipError::Conflict { field, message }) => {
                    return Err(MembershipError::invalid(
                        field,
                        format!("row {i}: {message}"),
                    ))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    })
}

/// A status change: allowed starting states, the new state, the audit action and its reason.
struct Transition<'a> {
    from: &'a [&'a str],
    to: &'a str,
    action: &'a str,
    reason: &'a str,
}

fn set_status(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    card_id: &str,
    t: Transition<'_>,
) -> Result<Card> {
    let Transition {
        from,
        to,
        action,
        reason,
    } = t;
    write(conn, |c| {
        let card = scoped_card(c, scope, card_id)?;
        if !from.contains(&card.status.as_str()) {
            return Err(MembershipError::conflict(
                "status",
                format!("card is {}", card.status),
            ));
        }
        diesel::update(mem_cards::table.find(&card.id))
            .set((
                mem_cards::status.eq(to),
                mem_cards::updated_at.eq(now_db(clock)),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&card.store_id),
            action,
            "card",
            &card.id,
            json!({"from": card.status, "to": to, "reason": reason}),
        )?;
        load_card(c, &card.id)
    })
}

/// 挂失: blocks every use of the card at once.
pub fn report_lost(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    card_id: &str,
) -> Result<Card> {
    set_status(
        conn,
        actor,
        scope,
        clock,
        card_id,
        Transition {
            from: &["active", "frozen"],
            to: "lost",
            action: "membership.card.report_lost",
            reason: "",
        },
    )
}

/// 解挂 / unfreeze: a lost or frozen card becomes usable again.
pub fn unblock(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    card_id: &str,
) -> Result<Card> {
    set_status(
        conn,
        actor,
        scope,
        clock,
        card_id,
        Transition {
            from: &["lost", "frozen"],
            to: "active",
            action: "membership.card.unblock",
            reason: "",
        },
    )
}

/// Freeze (by the store, e.g. a dispute): blocks use like a loss report, with a reason.
pub fn freeze(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    card_id: &str,
    reason: &str,
) -> Result<Card> {
    if reason.trim().is_empty() {
        return Err(MembershipError::invalid("reason", "required"));
    }
    set_status(
        conn,
        actor,
        scope,
        clock,
        card_id,
        Transition {
            from: &["active"],
            to: "frozen",
            action: "membership.card.freeze",
            reason,
        },
    )
}

/// 有效期: moves the card's expiry (forward or back, never into the past).
pub fn change_expiry(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    card_id: &str,
    expires_at: DateTime<Utc>,
) -> Result<Card> {
    if expires_at <= clock.now() {
        return Err(MembershipError::invalid(
            "expires_at",
            "must be in the future",
        ));
    }
    write(conn, |c| {
        let card = scoped_card(c, scope, card_id)?;
        if matches!(card.status.as_str(), "replaced" | "closed") {
            return Err(MembershipError::conflict(
                "status",
                "card is no longer in use",
            ));
        }
        diesel::update(mem_cards::table.find(&card.id))
            .set((
                mem_cards::expires_at.eq(dms_db::to_db_time(expires_at)),
                mem_cards::updated_at.eq(now_db(clock)),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&card.store_id),
            "membership.card.change_expiry",
            "card",
            &card.id,
            json!({"from": card.expires_at, "to": dms_db::to_db_time(expires_at)}),
        )?;
        load_card(c, &card.id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking() {
        assert_eq!(mask_card_no("8800123456781234"), "8800********1234");
        assert_eq!(mask_card_no("123456"), "**3456");
        assert!(check_card_no("88001234").is_ok());
        assert!(check_card_no("88 01234").is_err());
        assert_eq!(generate_card_no().len(), 16);
    }
}
