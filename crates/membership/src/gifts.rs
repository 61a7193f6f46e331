//! Gift catalogue (礼品) with stock, redeemed with redeemable points (积分兑换).
//!
//! Stock is taken with a conditional UPDATE (`stock >= quantity`) in the same transaction as the
//! points movement, so concurrent redemptions never oversell and never take points for a gift
//! that was not there.

use crate::error::{MembershipError, Result};
use crate::idempotency::{run_idempotent, Replayable};
use crate::ledger::{post_points, PointsLeg, PointsTxn, REDEEMABLE};
use crate::members::{get_member, load_member};
use crate::schema::{mem_gift_redemptions, mem_gifts};
use crate::util::{audit, now_db, write};
use diesel::prelude::*;
use dms_core::{Clock, StoreScope};
use dms_db::DbConnection;
use dms_identity::Actor;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize, Deserialize)]
#[diesel(table_name = mem_gifts)]
pub struct Gift {
    pub id: String,
    pub store_id: Option<String>,
    pub name: String,
    pub points_cost: i64,
    pub stock: i32,
    pub active: bool,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct NewGift {
    /// `None`: in the group catalogue (needs a group-wide scope).
    pub store_id: Option<String>,
    pub name: String,
    pub points_cost: i64,
    pub stock: i32,
}

fn load_gift(c: &mut DbConnection, id: &str) -> Result<Gift> {
    mem_gifts::table
        .find(id)
        .select(Gift::as_select())
        .first(c)
        .optional()?
        .ok_or(MembershipError::NotFound("gift"))
}

fn visible_gift(c: &mut DbConnection, scope: &StoreScope, id: &str) -> Result<Gift> {
    let g = load_gift(c, id)?;
    match &g.store_id {
        Some(s) if !scope.allows(s) => Err(MembershipError::NotFound("gift")),
        _ => Ok(g),
    }
}

pub fn create_gift(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    new: &NewGift,
) -> Result<Gift> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(MembershipError::invalid("name", "1-64 characters"));
    }
    if new.points_cost <= 0 {
        return Err(MembershipError::invalid("points_cost", "positive"));
    }
    if new.stock < 0 {
        return Err(MembershipError::invalid("stock", "not negative"));
    }
    match &new.store_id {
        None if scope != &StoreScope::AllStores => {
            return Err(MembershipError::Forbidden(
                "the group catalogue needs a group-wide role".into(),
            ))
        }
        Some(s) if !scope.allows(s) => return Err(MembershipError::NotFound("store")),
        _ => {}
    }
    let now = now_db(clock);
    write(conn, |c| {
        if let Some(s) = &new.store_id {
            crate::util::store_exists(c, s)?;
        }
        let id = dms_core::new_id();
        diesel::insert_into(mem_gifts::table)
            .values((
                mem_gifts::id.eq(&id),
                mem_gifts::store_id.eq(new.store_id.as_deref()),
                mem_gifts::name.eq(name),
                mem_gifts::points_cost.eq(new.points_cost),
                mem_gifts::stock.eq(new.stock),
                mem_gifts::active.eq(true),
                mem_gifts::created_at.eq(now),
                mem_gifts::updated_at.eq(now),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            new.store_id.as_deref(),
            "membership.gift.create",
            "gift",
            &id,
            json!({"name": name, "points_cost": new.points_cost, "stock": new.stock}),
        )?;
        load_gift(c, &id)
    })
}

/// Adds (or with a negative number removes) stock; never below zero.
pub fn restock_gift(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    gift_id: &str,
    delta: i32,
) -> Result<Gift> {
    if delta == 0 {
        return Err(MembershipError::invalid("delta", "not zero"));
    }
    let now = now_db(clock);
    write(conn, |c| {
        let g = visible_gift(c, scope, gift_id)?;
        if g.store_id.is_none() && scope != &StoreScope::AllStores {
            return Err(MembershipError::Forbidden("group catalogue".into()));
        }
        let n = diesel::update(
            mem_gifts::table
                .find(&g.id)
                .filter(mem_gifts::stock.ge(-delta)),
        )
        .set((
            mem_gifts::stock.eq(mem_gifts::stock + delta),
            mem_gifts::updated_at.eq(now),
        ))
        .execute(c)?;
        if n != 1 {
            return Err(MembershipError::conflict(
                "delta",
                "stock would go below zero",
            ));
        }
        audit(
            c,
            actor,
            g.store_id.as_deref(),
            "membership.gift.restock",
            "gift",
            &g.id,
            json!({"delta": delta}),
        )?;
        load_gift(c, &g.id)
    })
}

/// Gifts the caller's stores can hand out: the group catalogue and their own.
pub fn list_gifts(conn: &mut DbConnection, scope: &StoreScope) -> Result<Vec<Gift>> {
    let rows: Vec<Gift> = mem_gifts::table
        .filter(mem_gifts::active.eq(true))
        .select(Gift::as_select())
        .order(mem_gifts::id)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|g| g.store_id.as_deref().is_none_or(|s| scope.allows(s)))
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeemGift {
    pub member_id: String,
    pub gift_id: String,
    pub quantity: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiftRedemption {
    pub redemption_id: String,
    pub gift_name: String,
    pub quantity: i32,
    pub points_spent: i64,
    pub redeemable_points_after: i64,
}

pub fn redeem_gift(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    idempotency_key: &str,
    req: &RedeemGift,
) -> Result<Replayable<GiftRedemption>> {
    if !(1..=100).contains(&req.quantity) {
        return Err(MembershipError::invalid("quantity", "1-100"));
    }
    let now = now_db(clock);
    run_idempotent(conn, actor, idempotency_key, "redeem_gift", req, now, |c| {
        let m = get_member(c, scope, &req.member_id)?;
        let g = visible_gift(c, scope, &req.gift_id)?;
        if !g.active {
            return Err(MembershipError::conflict("gift_id", "gift is withdrawn"));
        }
        let points = g
            .points_cost
            .checked_mul(i64::from(req.quantity))
            .ok_or_else(|| MembershipError::invalid("quantity", "too many"))?;
        if m.redeemable_points < points {
            return Err(MembershipError::InsufficientBalance {
                what: "redeemable points",
                needed: points.to_string(),
                available: m.redeemable_points.to_string(),
            });
        }
        let n = diesel::update(
            mem_gifts::table
                .find(&g.id)
                .filter(mem_gifts::stock.ge(req.quantity)),
        )
        .set((
            mem_gifts::stock.eq(mem_gifts::stock - req.quantity),
            mem_gifts::updated_at.eq(now),
        ))
        .execute(c)?;
        if n != 1 {
            return Err(MembershipError::conflict("gift_id", "out of stock"));
        }
        let store = g.store_id.clone().unwrap_or_else(|| m.store_id.clone());
        let txn = post_points(
            c,
            actor,
            now,
            &PointsTxn {
                store_id: &store,
                member_id: &m.id,
                kind: "gift",
                reason: &g.name,
                ref_id: Some(&g.id),
                reverses: None,
            },
            &[
                PointsLeg::member(REDEEMABLE, -points),
                PointsLeg::counter(REDEEMABLE, "gift", points),
            ],
        )?;
        let id = dms_core::new_id();
        diesel::insert_into(mem_gift_redemptions::table)
            .values((
                mem_gift_redemptions::id.eq(&id),
                mem_gift_redemptions::gift_id.eq(&g.id),
                mem_gift_redemptions::store_id.eq(&store),
                mem_gift_redemptions::member_id.eq(&m.id),
                mem_gift_redemptions::quantity.eq(req.quantity),
                mem_gift_redemptions::points.eq(points),
                mem_gift_redemptions::points_txn_id.eq(&txn),
                mem_gift_redemptions::created_at.eq(now),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&store),
            "membership.gift.redeem",
            "member",
            &m.id,
            json!({"gift": g.id, "quantity": req.quantity, "points": points}),
        )?;
        Ok(GiftRedemption {
            redemption_id: id,
            gift_name: g.name.clone(),
            quantity: req.quantity,
            points_spent: points,
            redeemable_points_after: load_member(c, &m.id)?.redeemable_points,
        })
    })
}
