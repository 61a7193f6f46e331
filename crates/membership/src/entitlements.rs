//! Service packages (服务包): the entitlements of the member's tier (e.g. six free washes a
//! year), consumed one use at a time and counted per membership year (the twelve months before
//! the term's end). Counting and inserting happen in one write transaction, so two desks cannot
//! both take the last use.

use crate::config::effective_config;
use crate::error::{MembershipError, Result};
use crate::idempotency::{run_idempotent, Replayable};
use crate::members::{get_member, Member};
use crate::schema::mem_entitlement_uses;
use crate::util::{audit, now_db};
use diesel::prelude::*;
use dms_core::{Clock, StoreScope};
use dms_db::DbConnection;
use dms_identity::Actor;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntitlementBalance {
    pub code: String,
    pub name: String,
    pub per_year: u32,
    pub used: u32,
    pub left: u32,
}

fn year_start(m: &Member, term_months: u32) -> chrono::NaiveDateTime {
    m.term_expires_at
        .checked_sub_months(chrono::Months::new(term_months))
        .unwrap_or(m.term_expires_at)
}

fn balances(c: &mut DbConnection, m: &Member) -> Result<Vec<EntitlementBalance>> {
    let cfg = effective_config(c, &m.store_id)?;
    let Some(tier) = cfg.tier(&m.tier_code) else {
        return Ok(vec![]);
    };
    let since = year_start(m, cfg.term_months);
    let mut out = Vec::new();
    for e in &tier.entitlements {
        let used: i64 = mem_entitlement_uses::table
            .filter(mem_entitlement_uses::member_id.eq(&m.id))
            .filter(mem_entitlement_uses::code.eq(&e.code))
            .filter(mem_entitlement_uses::used_at.ge(since))
            .count()
            .get_result(c)?;
        let used = u32::try_from(used).unwrap_or(u32::MAX);
        out.push(EntitlementBalance {
            code: e.code.clone(),
            name: e.name.clone(),
            per_year: e.per_year,
            used,
            left: e.per_year.saturating_sub(used),
        });
    }
    Ok(out)
}

/// What the member's package holds this membership year.
pub fn entitlements(
    conn: &mut DbConnection,
    scope: &StoreScope,
    member_id: &str,
) -> Result<Vec<EntitlementBalance>> {
    let m = get_member(conn, scope, member_id)?;
    balances(conn, &m)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UseEntitlement {
    pub member_id: String,
    pub code: String,
    /// The work order or checkout it was used on.
    pub ref_id: Option<String>,
}

/// Consumes one use; refused when none is left or the membership is not active.
pub fn use_entitlement(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    idempotency_key: &str,
    req: &UseEntitlement,
) -> Result<Replayable<EntitlementBalance>> {
    let now = now_db(clock);
    run_idempotent(
        conn,
        actor,
        idempotency_key,
        "use_entitlement",
        req,
        now,
        |c| {
            let m = get_member(c, scope, &req.member_id)?;
            if m.status != "active" || m.term_expires_at <= now {
                return Err(MembershipError::conflict(
                    "member_id",
                    "membership is not active",
                ));
            }
            let b = balances(c, &m)?
                .into_iter()
                .find(|b| b.code == req.code)
                .ok_or_else(|| MembershipError::invalid("code", "not in the member's package"))?;
            if b.left == 0 {
                return Err(MembershipError::conflict("code", "no uses left this year"));
            }
            diesel::insert_into(mem_entitlement_uses::table)
                .values((
                    mem_entitlement_uses::id.eq(dms_core::new_id()),
                    mem_entitlement_uses::store_id.eq(&m.store_id),
                    mem_entitlement_uses::member_id.eq(&m.id),
                    mem_entitlement_uses::code.eq(&req.code),
                    mem_entitlement_uses::used_at.eq(now),
                    mem_entitlement_uses::ref_id.eq(req.ref_id.as_deref()),
                    mem_entitlement_uses::actor_id.eq(actor.id.as_deref()),
                ))
                .execute(c)?;
            audit(
                c,
                actor,
                Some(&m.store_id),
                "membership.entitlement.use",
                "member",
                &m.id,
                json!({"code": req.code, "ref": req.ref_id}),
            )?;
            Ok(EntitlementBalance {
                used: b.used + 1,
                left: b.left - 1,
                ..b
            })
        },
    )
}
