//! Members (会员): a CRM customer who joined the programme, with a tier, a join channel
//! (入会方式), a membership term and cached points balances (the ledger is the truth).

use crate::config::effective_config;
use crate::error::{MembershipError, Result};
use crate::schema::mem_members;
use crate::util::{audit, now_db, write};
use chrono::{DateTime, Months, Utc};
use diesel::prelude::*;
use dms_core::{Clock, Money, StoreScope};
use dms_db::DbConnection;
use dms_identity::Actor;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// 入会方式: how the member joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinChannel {
    /// 销售入会: bought a vehicle here.
    Purchase,
    /// 带车入会: brought a car bought elsewhere.
    BringOwnCar,
    /// 消费入会: joined by spending.
    Spend,
    /// 驾培入会: through the driving school.
    DrivingSchool,
    /// 交会费入会: paid a fee.
    Fee,
}

impl JoinChannel {
    pub fn code(&self) -> &'static str {
        match self {
            JoinChannel::Purchase => "purchase",
            JoinChannel::BringOwnCar => "bring_own_car",
            JoinChannel::Spend => "spend",
            JoinChannel::DrivingSchool => "driving_school",
            JoinChannel::Fee => "fee",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize, Deserialize)]
#[diesel(table_name = mem_members)]
pub struct Member {
    pub id: String,
    pub store_id: String,
    pub customer_id: String,
    pub tier_code: String,
    pub join_channel: String,
    /// `active`, `expired` or `closed`.
    pub status: String,
    pub joined_at: chrono::NaiveDateTime,
    pub term_expires_at: chrono::NaiveDateTime,
    pub tier_points: i64,
    pub redeemable_points: i64,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct JoinMember {
    pub customer_id: String,
    pub store_id: String,
    pub channel: JoinChannel,
    /// An explicit starting tier (staff decision from past spend, 80/20 analysis).
    pub tier_code: Option<String>,
    /// Fee paid on joining: the highest tier whose join fee it covers.
    pub fee_paid: Option<Money>,
    /// Past spend with the dealer (from the legacy system): counted one tier point per whole
    /// yuan against the tiers' thresholds. The better of fee and spend wins.
    pub past_spend: Option<Money>,
}

/// The starting tier: an explicit one, else the best tier the fee buys, else the lowest.
pub(crate) fn starting_tier(
    cfg: &crate::config::ProgrammeConfig,
    explicit: Option<&str>,
    fee: Option<Money>,
    past_spend: Option<Money>,
) -> Result<String> {
    if let Some(code) = explicit {
        return cfg
            .tier(code)
            .map(|t| t.code.clone())
            .ok_or_else(|| MembershipError::invalid("tier_code", "no such tier"));
    }
    let mut best = 0usize;
    if let Some(fee) = fee {
        if fee.is_negative() {
            return Err(MembershipError::invalid("fee_paid", "not negative"));
        }
        if let Some(i) = cfg
            .tiers
            .iter()
            .rposition(|t| t.join_fee.is_some_and(|f| f <= fee))
        {
            best = best.max(i);
        }
    }
    if let Some(spend) = past_spend {
        if spend.is_negative() {
            return Err(MembershipError::invalid("past_spend", "not negative"));
        }
        let points = spend.fen() / 100;
        if let Some(i) = cfg
            .tiers
            .iter()
            .rposition(|t| t.upgrade_at_tier_points.is_some_and(|th| th <= points))
        {
            best = best.max(i);
        }
    }
    cfg.tiers
        .get(best)
        .map(|t| t.code.clone())
        .ok_or_else(|| MembershipError::invalid("tiers", "programme has no tiers"))
}

pub(crate) fn add_months(t: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    t.checked_add_months(Months::new(months)).unwrap_or(t)
}

/// 入会: makes a customer a member. One membership per customer.
pub fn join_member(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    req: &JoinMember,
) -> Result<Member> {
    if !scope.allows(&req.store_id) {
        return Err(MembershipError::NotFound("store"));
    }
    write(conn, |c| {
        crate::util::store_exists(c, &req.store_id)?;
        {
            use dms_db::schema::customers;
            let n: i64 = customers::table
                .filter(customers::id.eq(&req.customer_id))
                .count()
                .get_result(c)?;
            if n == 0 {
                return Err(MembershipError::NotFound("customer"));
            }
        }
        let taken: i64 = mem_members::table
            .filter(mem_members::customer_id.eq(&req.customer_id))
            .count()
            .get_result(c)?;
        if taken > 0 {
            return Err(MembershipError::conflict(
                "customer_id",
                "the customer is already a member",
            ));
        }
        let cfg = effective_config(c, &req.store_id)?;
        let tier = starting_tier(&cfg, req.tier_code.as_deref(), req.fee_paid, req.past_spend)?;
        let now = clock.now();
        let id = dms_core::new_id();
        let ndb = now_db(clock);
        diesel::insert_into(mem_members::table)
            .values((
                mem_members::id.eq(&id),
                mem_members::store_id.eq(&req.store_id),
                mem_members::customer_id.eq(&req.customer_id),
                mem_members::tier_code.eq(&tier),
                mem_members::join_channel.eq(req.channel.code()),
                mem_members::status.eq("active"),
                mem_members::joined_at.eq(ndb),
                mem_members::term_expires_at
                    .eq(dms_db::to_db_time(add_months(now, cfg.term_months))),
                mem_members::tier_points.eq(0i64),
                mem_members::redeemable_points.eq(0i64),
                mem_members::created_at.eq(ndb),
                mem_members::updated_at.eq(ndb),
            ))
            .execute(c)
            .map_err(|e| {
                crate::util::unique_conflict(e, "customer_id", "the customer is already a member")
            })?;
        audit(
            c,
            actor,
            Some(&req.store_id),
            "membership.member.join",
            "member",
            &id,
            json!({"channel": req.channel.code(), "tier": tier, "fee_paid": req.fee_paid,
                   "past_spend": req.past_spend}),
        )?;
        load_member(c, &id)
    })
}

pub(crate) fn load_member(conn: &mut DbConnection, id: &str) -> Result<Member> {
    mem_members::table
        .find(id)
        .select(Member::as_select())
        .first(conn)
        .optional()?
        .ok_or(MembershipError::NotFound("member"))
}

pub fn get_member(conn: &mut DbConnection, scope: &StoreScope, id: &str) -> Result<Member> {
    match load_member(conn, id) {
        Ok(m) if scope.allows(&m.store_id) => Ok(m),
        Ok(_) => Err(MembershipError::NotFound("member")),
        Err(e) => Err(e),
    }
}

pub fn member_by_customer(
    conn: &mut DbConnection,
    scope: &StoreScope,
    customer_id: &str,
) -> Result<Member> {
    let m: Option<Member> = mem_members::table
        .filter(mem_members::customer_id.eq(customer_id))
        .select(Member::as_select())
        .first(conn)
        .optional()?;
    match m {
        Some(m) if scope.allows(&m.store_id) => Ok(m),
        _ => Err(MembershipError::NotFound("member")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProgrammeConfig;

    #[test]
    fn starting_tier_by_fee_or_explicit() {
        let cfg = ProgrammeConfig::default();
        assert_eq!(starting_tier(&cfg, None, None, None).unwrap(), "standard");
        assert_eq!(
            starting_tier(&cfg, None, Some(Money::from_fen(50_000)), None).unwrap(),
            "silver"
        );
        assert_eq!(
            starting_tier(&cfg, None, Some(Money::from_fen(150_000)), None).unwrap(),
            "gold"
        );
        assert_eq!(
            starting_tier(&cfg, Some("diamond"), None, None).unwrap(),
            "diamond"
        );
        assert!(starting_tier(&cfg, Some("platinum"), None, None).is_err());
        // 25000 yuan of past spend reaches gold (20000); a silver fee does not lower it.
        assert_eq!(
            starting_tier(
                &cfg,
                None,
                Some(Money::from_fen(50_000)),
                Some(Money::from_fen(2_500_000))
            )
            .unwrap(),
            "gold"
        );
    }
}
