//! Stored value (储值): top-up (充值) with bonus rules (充值奖励), debit, balances.
//!
//! Principal is the money the member paid in: refundable on return. Bonus is granted by a
//! top-up rule: non-refundable, held in lots that expire on their own date, spent in the
//! programme's [`BonusSpendOrder`] (bonus lots soonest-expiring first). Every movement goes
//! through the ledger module (see [`crate::verify_ledgers`]) and is idempotent.

use crate::cards::{mask_card_no, usable_card, Card};
use crate::config::{effective_config, BonusSpendOrder};
use crate::error::{MembershipError, Result};
use crate::idempotency::{run_idempotent, Replayable};
use crate::ledger::{post_sv, Leg, SvTxn};
use crate::schema::mem_bonus_lots;
use crate::util::{audit, now_db, positive};
use diesel::prelude::*;
use dms_core::{Clock, Money, StoreScope};
use dms_db::DbConnection;
use dms_identity::Actor;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How a top-up was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    BankCard,
    Transfer,
    Online,
}

impl PaymentMethod {
    pub fn code(&self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::BankCard => "bank_card",
            PaymentMethod::Transfer => "transfer",
            PaymentMethod::Online => "online",
        }
    }
}

/// Upper bound of one top-up: a typo guard, not a business rule.
const MAX_TOPUP_FEN: i64 = 100_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUp {
    pub card_id: String,
    pub amount: Money,
    pub payment_method: PaymentMethod,
    pub terminal_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUpResult {
    pub txn_id: String,
    pub card_id: String,
    pub masked_card_no: String,
    pub paid: Money,
    pub bonus: Money,
    pub bonus_expires_at: Option<chrono::NaiveDateTime>,
    pub principal_after: Money,
    pub bonus_after: Money,
}

/// 充值: pays money in; the best matching bonus rule adds a bonus lot.
pub fn top_up(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    idempotency_key: &str,
    req: &TopUp,
) -> Result<Replayable<TopUpResult>> {
    let amount = positive("amount", req.amount)?;
    if amount > MAX_TOPUP_FEN {
        return Err(MembershipError::invalid(
            "amount",
            "at most 1000000.00 per top-up",
        ));
    }
    let now = now_db(clock);
    run_idempotent(conn, actor, idempotency_key, "topup", req, now, |c| {
        let card = usable_card(c, scope, &req.card_id, now)?;
        let cfg = effective_config(c, &card.store_id)?;
        let bonus = cfg.topup_bonus(req.amount).fen();
        let tender = format!("tender:{}", req.payment_method.code());
        let mut legs = vec![
            Leg::principal(&card.id, amount),
            Leg::counter(&tender, -amount),
        ];
        let mut lot_expiry = None;
        let lot_id = dms_core::new_id();
        if bonus > 0 {
            let expires = dms_db::to_db_time(
                clock.now() + chrono::Duration::days(i64::from(cfg.bonus_valid_days)),
            );
            lot_expiry = Some(expires);
            legs.push(Leg::bonus(&card.id, &lot_id, bonus));
            legs.push(Leg::counter("bonus_promotion", -bonus));
        }
        let txn_id = post_sv_with_lot(
            c,
            actor,
            now,
            &SvTxn {
                store_id: &card.store_id,
                card_id: &card.id,
                kind: "topup",
                amount_fen: amount,
                payment_method: Some(req.payment_method.code()),
                ref_id: None,
                reverses: None,
                terminal_id: req.terminal_id.as_deref(),
                memo: "",
            },
            &legs,
            lot_expiry.map(|e| (lot_id.as_str(), bonus, e)),
        )?;
        audit(
            c,
            actor,
            Some(&card.store_id),
            "membership.sv.topup",
            "card",
            &card.id,
            json!({"txn": txn_id, "amount": req.amount, "bonus": Money::from_fen(bonus),
                   "method": req.payment_method.code()}),
        )?;
        let after = crate::cards::load_card(c, &card.id)?;
        Ok(TopUpResult {
            txn_id,
            card_id: card.id.clone(),
            masked_card_no: mask_card_no(&card.card_no),
            paid: req.amount,
            bonus: Money::from_fen(bonus),
            bonus_expires_at: lot_expiry,
            principal_after: after.principal(),
            bonus_after: after.bonus(),
        })
    })
}

/// Posts a transaction whose legs may reference a new bonus lot: the lot row is inserted first
/// (empty) and filled by its ledger entry, so "remaining = sum of the lot's entries" holds from
/// the start. The lot's txn id is set once the transaction id is known, so the transaction is
/// inserted first with the lot inserted right after (entries come last).
pub(crate) fn post_sv_with_lot(
    c: &mut DbConnection,
    actor: &Actor,
    now: chrono::NaiveDateTime,
    t: &SvTxn<'_>,
    legs: &[Leg],
    lot: Option<(&str, i64, chrono::NaiveDateTime)>,
) -> Result<String> {
    let Some((lot_id, amount, expires)) = lot else {
        return post_sv(c, actor, now, t, legs);
    };
    // Split: post the non-lot legs with the transaction, then insert the lot, then its legs.
    // Both halves balance on their own, which keeps post_sv's check meaningful.
    let (lot_legs, other): (Vec<Leg>, Vec<Leg>) = legs
        .iter()
        .cloned()
        .partition(|l| l.lot_id.as_deref() == Some(lot_id) || l.account == "bonus_promotion");
    let txn_id = post_sv(c, actor, now, t, &other)?;
    diesel::insert_into(mem_bonus_lots::table)
        .values((
            mem_bonus_lots::id.eq(lot_id),
            mem_bonus_lots::store_id.eq(t.store_id),
            mem_bonus_lots::card_id.eq(t.card_id),
            mem_bonus_lots::txn_id.eq(&txn_id),
            mem_bonus_lots::amount_fen.eq(amount),
            mem_bonus_lots::remaining_fen.eq(0i64),
            mem_bonus_lots::expires_at.eq(expires),
            mem_bonus_lots::created_at.eq(now),
        ))
        .execute(c)?;
    crate::ledger::append_legs(c, now, &txn_id, t.store_id, &lot_legs)?;
    Ok(txn_id)
}

/// Bonus lots that can be spent now, soonest-expiring first.
pub(crate) fn spendable_lots(
    c: &mut DbConnection,
    card_id: &str,
    now: chrono::NaiveDateTime,
) -> Result<Vec<(String, i64)>> {
    Ok(mem_bonus_lots::table
        .filter(mem_bonus_lots::card_id.eq(card_id))
        .filter(mem_bonus_lots::remaining_fen.gt(0))
        .filter(mem_bonus_lots::expires_at.gt(now))
        .order((mem_bonus_lots::expires_at, mem_bonus_lots::id))
        .select((mem_bonus_lots::id, mem_bonus_lots::remaining_fen))
        .load(c)?)
}

/// How much of an amount comes from principal and how much from bonus.
pub fn split_by_order(
    order: BonusSpendOrder,
    amount_fen: i64,
    principal_fen: i64,
    bonus_fen: i64,
) -> Result<(i64, i64)> {
    if amount_fen > principal_fen + bonus_fen {
        return Err(MembershipError::InsufficientBalance {
            what: "stored value",
            needed: Money::from_fen(amount_fen).to_string(),
            available: Money::from_fen(principal_fen + bonus_fen).to_string(),
        });
    }
    Ok(match order {
        BonusSpendOrder::BonusFirst => {
            let b = amount_fen.min(bonus_fen);
            (amount_fen - b, b)
        }
        BonusSpendOrder::PrincipalFirst => {
            let p = amount_fen.min(principal_fen);
            (p, amount_fen - p)
        }
    })
}

/// The legs that take `principal` and `bonus` off a card (bonus from lots in order).
pub(crate) fn spend_legs(
    c: &mut DbConnection,
    card: &Card,
    now: chrono::NaiveDateTime,
    principal: i64,
    bonus: i64,
    counter: &str,
) -> Result<Vec<Leg>> {
    let lots = if bonus > 0 {
        spendable_lots(c, &card.id, now)?
    } else {
        Vec::new()
    };
    spend_legs_from(card, &lots, principal, bonus, counter)
}

/// As [`spend_legs`], with the card's spendable lots already loaded ([`spendable_lots`]).
pub(crate) fn spend_legs_from(
    card: &Card,
    lots: &[(String, i64)],
    principal: i64,
    bonus: i64,
    counter: &str,
) -> Result<Vec<Leg>> {
    if principal > card.principal_fen {
        return Err(MembershipError::InsufficientBalance {
            what: "principal",
            needed: Money::from_fen(principal).to_string(),
            available: card.principal().to_string(),
        });
    }
    let mut legs = Vec::new();
    if principal > 0 {
        legs.push(Leg::principal(&card.id, -principal));
    }
    let mut left = bonus;
    if left > 0 {
        for (lot, rem) in lots {
            let take = left.min(*rem);
            legs.push(Leg::bonus(&card.id, lot, -take));
            left -= take;
            if left == 0 {
                break;
            }
        }
        if left > 0 {
            return Err(MembershipError::InsufficientBalance {
                what: "bonus",
                needed: Money::from_fen(bonus).to_string(),
                available: Money::from_fen(bonus - left).to_string(),
            });
        }
    }
    if principal + bonus > 0 {
        legs.push(Leg::counter(counter, principal + bonus));
    }
    Ok(legs)
}

pub(crate) fn spendable_bonus(
    c: &mut DbConnection,
    card_id: &str,
    now: chrono::NaiveDateTime,
) -> Result<i64> {
    Ok(spendable_lots(c, card_id, now)?
        .iter()
        .map(|(_, r)| r)
        .sum())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Debit {
    pub card_id: String,
    pub amount: Money,
    pub terminal_id: Option<String>,
    pub memo: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebitResult {
    pub txn_id: String,
    pub principal_used: Money,
    pub bonus_used: Money,
    pub principal_after: Money,
    pub bonus_after: Money,
}

/// A plain stored-value payment outside a priced checkout (e.g. a fee), drawn in the
/// programme's spending order. Never overdraws.
pub fn debit(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    idempotency_key: &str,
    req: &Debit,
) -> Result<Replayable<DebitResult>> {
    let amount = positive("amount", req.amount)?;
    let now = now_db(clock);
    run_idempotent(conn, actor, idempotency_key, "debit", req, now, |c| {
        let card = usable_card(c, scope, &req.card_id, now)?;
        let cfg = effective_config(c, &card.store_id)?;
        let bonus_avail = spendable_bonus(c, &card.id, now)?;
        let (p, b) = split_by_order(
            cfg.bonus_spend_order,
            amount,
            card.principal_fen,
            bonus_avail,
        )?;
        let legs = spend_legs(c, &card, now, p, b, "sales")?;
        let txn_id = post_sv(
            c,
            actor,
            now,
            &SvTxn {
                store_id: &card.store_id,
                card_id: &card.id,
                kind: "debit",
                amount_fen: -amount,
                payment_method: None,
                ref_id: None,
                reverses: None,
                terminal_id: req.terminal_id.as_deref(),
                memo: &req.memo,
            },
            &legs,
        )?;
        audit(
            c,
            actor,
            Some(&card.store_id),
            "membership.sv.debit",
            "card",
            &card.id,
            json!({"txn": txn_id, "amount": req.amount}),
        )?;
        let after = crate::cards::load_card(c, &card.id)?;
        Ok(DebitResult {
            txn_id,
            principal_used: Money::from_fen(p),
            bonus_used: Money::from_fen(b),
            principal_after: after.principal(),
            bonus_after: after.bonus(),
        })
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balances {
    pub principal: Money,
    /// All bonus not yet swept, including lots past expiry.
    pub bonus: Money,
    /// Bonus that can be spent now.
    pub bonus_spendable: Money,
}

pub fn card_balances(
    conn: &mut DbConnection,
    scope: &StoreScope,
    clock: &dyn Clock,
    card_id: &str,
) -> Result<Balances> {
    let card = crate::cards::scoped_card(conn, scope, card_id)?;
    let spendable = spendable_bonus(conn, &card.id, now_db(clock))?;
    Ok(Balances {
        principal: card.principal(),
        bonus: card.bonus(),
        bonus_spendable: Money::from_fen(spendable),
    })
}

/// Sweeps expired bonus lots into `bonus_expired` (daily job; idempotent: a swept lot has
/// nothing left). Returns the number of lots swept.
pub fn expire_bonus(conn: &mut DbConnection, clock: &dyn Clock) -> Result<usize> {
    let now = now_db(clock);
    let actor = Actor::system("bonus-expiry");
    crate::util::write(conn, |c| {
        let lots: Vec<(String, String, String, i64)> = mem_bonus_lots::table
            .filter(mem_bonus_lots::remaining_fen.gt(0))
            .filter(mem_bonus_lots::expires_at.le(now))
            .select((
                mem_bonus_lots::id,
                mem_bonus_lots::store_id,
                mem_bonus_lots::card_id,
                mem_bonus_lots::remaining_fen,
            ))
            .load(c)?;
        for (lot, store, card, rem) in &lots {
            post_sv(
                c,
                &actor,
                now,
                &SvTxn {
                    store_id: store,
                    card_id: card,
                    kind: "bonus_expiry",
                    amount_fen: -rem,
                    payment_method: None,
                    ref_id: Some(lot),
                    reverses: None,
                    terminal_id: None,
                    memo: "",
                },
                &[
                    Leg::bonus(card, lot, -rem),
                    Leg::counter("bonus_expired", *rem),
                ],
            )?;
            audit(
                c,
                &actor,
                Some(store),
                "membership.sv.bonus_expire",
                "card",
                card,
                json!({"lot": lot, "amount": Money::from_fen(*rem)}),
            )?;
        }
        Ok(lots.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spending_order() {
        assert_eq!(
            split_by_order(BonusSpendOrder::BonusFirst, 150, 1000, 100).unwrap(),
            (50, 100)
        );
        assert_eq!(
            split_by_order(BonusSpendOrder::PrincipalFirst, 150, 1000, 100).unwrap(),
            (150, 0)
        );
        assert_eq!(
            split_by_order(BonusSpendOrder::PrincipalFirst, 1050, 1000, 100).unwrap(),
            (1000, 50)
        );
        assert!(split_by_order(BonusSpendOrder::BonusFirst, 1101, 1000, 100).is_err());
    }
}
