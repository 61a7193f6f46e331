//! Card changes that move money: replace (补卡: a new card, balance and bonus lots move to it,
//! the old card is dead) and return (退卡: refundable principal paid back, bonus forfeited,
//! card closed). Points and tier live on the member and need no move.

use crate::cards::{insert_card, load_card, mask_card_no, scoped_card, Card, IssueCard};
use crate::error::{MembershipError, Result};
use crate::idempotency::{run_idempotent, Replayable};
use crate::ledger::{append_legs, post_sv, Leg, SvTxn};
use crate::schema::{mem_bonus_lots, mem_cards};
use crate::stored_value::PaymentMethod;
use crate::util::{audit, now_db};
use diesel::prelude::*;
use dms_core::{Clock, Money, StoreScope};
use dms_db::DbConnection;
use dms_identity::Actor;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplaceCard {
    pub card_id: String,
    pub new_card_no: Option<String>,
    pub new_chip_uid: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplaceResult {
    pub old_card_id: String,
    pub new_card: Card,
    pub principal_moved: Money,
    pub bonus_moved: Money,
}

/// Lots with something left on a card: (id, remaining, expires_at).
fn open_lots(
    c: &mut DbConnection,
    card_id: &str,
) -> Result<Vec<(String, i64, chrono::NaiveDateTime)>> {
    Ok(mem_bonus_lots::table
        .filter(mem_bonus_lots::card_id.eq(card_id))
        .filter(mem_bonus_lots::remaining_fen.gt(0))
        .order((mem_bonus_lots::expires_at, mem_bonus_lots::id))
        .select((
            mem_bonus_lots::id,
            mem_bonus_lots::remaining_fen,
            mem_bonus_lots::expires_at,
        ))
        .load(c)?)
}

/// 补卡: issues a new card to the same member and moves principal and every bonus lot (with its
/// own expiry) to it in one ledger transaction; the old card becomes `replaced`.
pub fn replace_card(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    idempotency_key: &str,
    req: &ReplaceCard,
) -> Result<Replayable<ReplaceResult>> {
    let now = now_db(clock);
    run_idempotent(
        conn,
        actor,
        idempotency_key,
        "replace_card",
        req,
        now,
        |c| {
            let old = scoped_card(c, scope, &req.card_id)?;
            if !matches!(old.status.as_str(), "active" | "lost" | "frozen") {
                return Err(MembershipError::conflict(
                    "card_id",
                    format!("card is {}", old.status),
                ));
            }
            let expires = if old.expires_at > now {
                Some(dms_db::from_db_time(old.expires_at))
            } else {
                None
            };
            let new = insert_card(
                c,
                actor,
                scope,
                clock,
                &IssueCard {
                    member_id: old.member_id.clone(),
                    card_no: req.new_card_no.clone(),
                    chip_uid: req.new_chip_uid.clone(),
                    expires_at: expires,
                },
            )?;
            // The old card is dead before money moves, so nothing can pay with it meanwhile.
            diesel::update(mem_cards::table.find(&old.id))
                .set((
                    mem_cards::status.eq("replaced"),
                    mem_cards::replaced_by.eq(&new.id),
                    mem_cards::updated_at.eq(now),
                ))
                .execute(c)?;
            let lots = open_lots(c, &old.id)?;
            let bonus: i64 = lots.iter().map(|l| l.1).sum();
            if old.principal_fen > 0 || bonus > 0 {
                let txn = post_sv(
                    c,
                    actor,
                    now,
                    &SvTxn {
                        store_id: &old.store_id,
                        card_id: &old.id,
                        kind: "replace",
                        amount_fen: old.principal_fen + bonus,
                        payment_method: None,
                        ref_id: Some(&new.id),
                        reverses: None,
                        terminal_id: None,
                        memo: "",
                    },
                    &[
                        Leg::principal(&old.id, -old.principal_fen),
                        Leg::principal(&new.id, old.principal_fen),
                    ],
                )?;
                for (lot, rem, exp) in &lots {
                    let new_lot = dms_core::new_id();
                    diesel::insert_into(mem_bonus_lots::table)
                        .values((
                            mem_bonus_lots::id.eq(&new_lot),
                            mem_bonus_lots::store_id.eq(&new.store_id),
                            mem_bonus_lots::card_id.eq(&new.id),
                            mem_bonus_lots::txn_id.eq(&txn),
                            mem_bonus_lots::amount_fen.eq(rem),
                            mem_bonus_lots::remaining_fen.eq(0i64),
                            mem_bonus_lots::expires_at.eq(exp),
                            mem_bonus_lots::created_at.eq(now),
                        ))
                        .execute(c)?;
                    append_legs(
                        c,
                        now,
                        &txn,
                        &old.store_id,
                        &[
                            Leg::bonus(&old.id, lot, -rem),
                            Leg::bonus(&new.id, &new_lot, *rem),
                        ],
                    )?;
                }
            }
            audit(
                c,
                actor,
                Some(&old.store_id),
                "membership.card.replace",
                "card",
                &old.id,
                json!({"new_card": new.id, "new_card_no": mask_card_no(&new.card_no),
                   "principal": old.principal(), "bonus": Money::from_fen(bonus)}),
            )?;
            Ok(ReplaceResult {
                old_card_id: old.id.clone(),
                new_card: load_card(c, &new.id)?,
                principal_moved: old.principal(),
                bonus_moved: Money::from_fen(bonus),
            })
        },
    )
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnCard {
    pub card_id: String,
    pub refund_method: PaymentMethod,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnResult {
    pub card_id: String,
    pub refunded: Money,
    pub bonus_forfeited: Money,
}

/// 退卡: refunds the refundable principal (never the bonus, which is forfeited) and closes the
/// card.
pub fn return_card(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    idempotency_key: &str,
    req: &ReturnCard,
) -> Result<Replayable<ReturnResult>> {
    if req.reason.trim().is_empty() {
        return Err(MembershipError::invalid("reason", "required"));
    }
    let now = now_db(clock);
    run_idempotent(conn, actor, idempotency_key, "return_card", req, now, |c| {
        let card = scoped_card(c, scope, &req.card_id)?;
        if !matches!(card.status.as_str(), "active" | "lost" | "frozen") {
            return Err(MembershipError::conflict(
                "card_id",
                format!("card is {}", card.status),
            ));
        }
        let lots = open_lots(c, &card.id)?;
        let bonus: i64 = lots.iter().map(|l| l.1).sum();
        if card.principal_fen > 0 || bonus > 0 {
            let mut legs = vec![
                Leg::principal(&card.id, -card.principal_fen),
                Leg::counter(
                    &format!("refund:{}", req.refund_method.code()),
                    card.principal_fen,
                ),
            ];
            for (lot, rem, _) in &lots {
                legs.push(Leg::bonus(&card.id, lot, -rem));
            }
            legs.push(Leg::counter("bonus_forfeit", bonus));
            post_sv(
                c,
                actor,
                now,
                &SvTxn {
                    store_id: &card.store_id,
                    card_id: &card.id,
                    kind: "return",
                    amount_fen: -(card.principal_fen + bonus),
                    payment_method: Some(req.refund_method.code()),
                    ref_id: None,
                    reverses: None,
                    terminal_id: None,
                    memo: &req.reason,
                },
                &legs,
            )?;
        }
        diesel::update(mem_cards::table.find(&card.id))
            .set((
                mem_cards::status.eq("closed"),
                mem_cards::updated_at.eq(now),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&card.store_id),
            "membership.card.return",
            "card",
            &card.id,
            json!({"refunded": card.principal(), "bonus_forfeited": Money::from_fen(bonus),
                   "method": req.refund_method.code(), "reason": req.reason}),
        )?;
        Ok(ReturnResult {
            card_id: card.id.clone(),
            refunded: card.principal(),
            bonus_forfeited: Money::from_fen(bonus),
        })
    })
}
