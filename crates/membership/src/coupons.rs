//! Coupons (优惠券): templates (amount off, percent off with a cap, a free service item; minimum
//! spend; valid categories; validity window; per-member limit), issue to one member or to a
//! segment (tier, store), single use at checkout, void.
//!
//! A coupon is used by flipping its status from `issued` to `used` with a conditional UPDATE in
//! the checkout's transaction: of many concurrent checkouts presenting one coupon exactly one
//! changes the row, the others see zero rows changed and fail with a conflict.

use crate::config::Category;
use crate::error::{MembershipError, Result};
use crate::schema::{mem_coupon_templates, mem_coupons, mem_members};
use crate::util::{audit, now_db, write};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use dms_core::{Clock, Money, StoreScope};
use dms_db::DbConnection;
use dms_identity::Actor;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize, Deserialize)]
#[diesel(table_name = mem_coupon_templates)]
pub struct CouponTemplate {
    pub id: String,
    pub store_id: Option<String>,
    pub name: String,
    /// `amount_off`, `percent_off` or `free_item`.
    pub kind: String,
    pub amount_fen: i64,
    /// Percent off in basis points (1000 = 10 %).
    pub percent_bp: i32,
    pub cap_fen: Option<i64>,
    pub free_item: Option<String>,
    pub min_spend_fen: i64,
    /// Comma-separated category codes; empty: every category.
    pub categories: String,
    pub valid_from: NaiveDateTime,
    pub valid_until: NaiveDateTime,
    pub per_member_limit: i32,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

impl CouponTemplate {
    pub fn applies_to(&self, cat: Category) -> bool {
        self.categories.is_empty() || self.categories.split(',').any(|c| c == cat.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Serialize, Deserialize)]
#[diesel(table_name = mem_coupons)]
pub struct Coupon {
    pub id: String,
    pub template_id: String,
    pub store_id: String,
    pub member_id: String,
    /// `issued`, `used` or `voided`.
    pub status: String,
    pub issued_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub used_checkout_id: Option<String>,
    pub voided_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CouponKind {
    AmountOff {
        amount: Money,
    },
    /// `percent_bp` in basis points (1..=10000), `cap` the most it takes off.
    PercentOff {
        percent_bp: i32,
        cap: Option<Money>,
    },
    /// One unit of the line with this item code is free.
    FreeItem {
        item_code: String,
    },
}

#[derive(Debug, Clone)]
pub struct NewCouponTemplate {
    /// `None`: valid in every store (needs a group-wide scope).
    pub store_id: Option<String>,
    pub name: String,
    pub kind: CouponKind,
    pub min_spend: Money,
    pub categories: Vec<Category>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub per_member_limit: i32,
}

pub fn create_coupon_template(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    new: &NewCouponTemplate,
) -> Result<CouponTemplate> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(MembershipError::invalid("name", "1-64 characters"));
    }
    if new.valid_until <= new.valid_from {
        return Err(MembershipError::invalid("valid_until", "after valid_from"));
    }
    if new.per_member_limit < 1 {
        return Err(MembershipError::invalid("per_member_limit", "at least 1"));
    }
    if new.min_spend.is_negative() {
        return Err(MembershipError::invalid("min_spend", "not negative"));
    }
    let (kind, amount, bp, cap, item) = match &new.kind {
        CouponKind::AmountOff { amount } => {
            crate::util::positive("amount", *amount)?;
            ("amount_off", amount.fen(), 0, None, None)
        }
        CouponKind::PercentOff { percent_bp, cap } => {
            if !(1..=10_000).contains(percent_bp) {
                return Err(MembershipError::invalid("percent_bp", "1-10000"));
            }
            if let Some(c) = cap {
                crate::util::positive("cap", *c)?;
            }
            ("percent_off", 0, *percent_bp, cap.map(|c| c.fen()), None)
        }
        CouponKind::FreeItem { item_code } => {
            if item_code.trim().is_empty() {
                return Err(MembershipError::invalid("item_code", "required"));
            }
            ("free_item", 0, 0, None, Some(item_code.clone()))
        }
    };
    match &new.store_id {
        None if scope != &StoreScope::AllStores => {
            return Err(MembershipError::Forbidden(
                "group-wide coupons need a group-wide role".into(),
            ))
        }
        Some(s) if !scope.allows(s) => return Err(MembershipError::NotFound("store")),
        _ => {}
    }
    let cats: Vec<&str> = new.categories.iter().map(|c| c.code()).collect();
    write(conn, |c| {
        if let Some(s) = &new.store_id {
            crate::util::store_exists(c, s)?;
        }
        let id = dms_core::new_id();
        diesel::insert_into(mem_coupon_templates::table)
            .values((
                mem_coupon_templates::id.eq(&id),
                mem_coupon_templates::store_id.eq(new.store_id.as_deref()),
                mem_coupon_templates::name.eq(name),
                mem_coupon_templates::kind.eq(kind),
                mem_coupon_templates::amount_fen.eq(amount),
                mem_coupon_templates::percent_bp.eq(bp),
                mem_coupon_templates::cap_fen.eq(cap),
                mem_coupon_templates::free_item.eq(item.as_deref()),
                mem_coupon_templates::min_spend_fen.eq(new.min_spend.fen()),
                mem_coupon_templates::categories.eq(cats.join(",")),
                mem_coupon_templates::valid_from.eq(dms_db::to_db_time(new.valid_from)),
                mem_coupon_templates::valid_until.eq(dms_db::to_db_time(new.valid_until)),
                mem_coupon_templates::per_member_limit.eq(new.per_member_limit),
                mem_coupon_templates::active.eq(true),
                mem_coupon_templates::created_at.eq(now_db(clock)),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            new.store_id.as_deref(),
            "membership.coupon_template.create",
            "coupon_template",
            &id,
            json!({"name": name, "kind": kind}),
        )?;
        load_template(c, &id)
    })
}

pub(crate) fn load_template(c: &mut DbConnection, id: &str) -> Result<CouponTemplate> {
    mem_coupon_templates::table
        .find(id)
        .select(CouponTemplate::as_select())
        .first(c)
        .optional()?
        .ok_or(MembershipError::NotFound("coupon template"))
}

fn visible_template(c: &mut DbConnection, scope: &StoreScope, id: &str) -> Result<CouponTemplate> {
    let t = load_template(c, id)?;
    match &t.store_id {
        Some(s) if !scope.allows(s) => Err(MembershipError::NotFound("coupon template")),
        _ => Ok(t),
    }
}

fn insert_coupon(
    c: &mut DbConnection,
    t: &CouponTemplate,
    member_id: &str,
    store_id: &str,
    now: NaiveDateTime,
) -> Result<Option<Coupon>> {
    let held: i64 = mem_coupons::table
        .filter(mem_coupons::template_id.eq(&t.id))
        .filter(mem_coupons::member_id.eq(member_id))
        .filter(mem_coupons::status.ne("voided"))
        .count()
        .get_result(c)?;
    if held >= i64::from(t.per_member_limit) {
        return Ok(None);
    }
    let id = dms_core::new_id();
    diesel::insert_into(mem_coupons::table)
        .values((
            mem_coupons::id.eq(&id),
            mem_coupons::template_id.eq(&t.id),
            mem_coupons::store_id.eq(store_id),
            mem_coupons::member_id.eq(member_id),
            mem_coupons::status.eq("issued"),
            mem_coupons::issued_at.eq(now),
        ))
        .execute(c)?;
    Ok(Some(load_coupon(c, &id)?))
}

pub(crate) fn load_coupon(c: &mut DbConnection, id: &str) -> Result<Coupon> {
    mem_coupons::table
        .find(id)
        .select(Coupon::as_select())
        .first(c)
        .optional()?
        .ok_or(MembershipError::NotFound("coupon"))
}

/// Issues one coupon to one member; the per-member limit is a conflict.
pub fn issue_coupon(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    template_id: &str,
    member_id: &str,
) -> Result<Coupon> {
    let now = now_db(clock);
    write(conn, |c| {
        let t = visible_template(c, scope, template_id)?;
        if !t.active || t.valid_until <= now {
            return Err(MembershipError::conflict(
                "template_id",
                "template is not current",
            ));
        }
        let m = crate::members::get_member(c, scope, member_id)?;
        let coupon = insert_coupon(c, &t, &m.id, &m.store_id, now)?
            .ok_or_else(|| MembershipError::conflict("member_id", "per-member limit reached"))?;
        audit(
            c,
            actor,
            Some(&m.store_id),
            "membership.coupon.issue",
            "coupon",
            &coupon.id,
            json!({"template": t.id, "member": m.id}),
        )?;
        Ok(coupon)
    })
}

/// Which members a segment issue reaches: active members in the caller's scope, optionally of
/// one tier and/or one store.
#[derive(Debug, Clone, Default)]
pub struct Segment {
    pub tier_code: Option<String>,
    pub store_id: Option<String>,
}

/// Issues one coupon to every member of the segment who is below the per-member limit; returns
/// how many were issued. All or nothing.
pub fn issue_coupons_to_segment(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    template_id: &str,
    segment: &Segment,
) -> Result<usize> {
    let now = now_db(clock);
    let scope = scope.narrowed_to(segment.store_id.as_deref());
    if scope.is_empty() {
        return Err(MembershipError::NotFound("store"));
    }
    write(conn, |c| {
        let t = visible_template(c, &scope, template_id)?;
        if !t.active || t.valid_until <= now {
            return Err(MembershipError::conflict(
                "template_id",
                "template is not current",
            ));
        }
        let mut q = mem_members::table
            .filter(mem_members::status.eq("active"))
            .select((mem_members::id, mem_members::store_id))
            .into_boxed();
        if let StoreScope::Stores(ids) = &scope {
            q = q.filter(mem_members::store_id.eq_any(ids.clone()));
        }
        if let Some(tier) = &segment.tier_code {
            q = q.filter(mem_members::tier_code.eq(tier.clone()));
        }
        if let Some(s) = &t.store_id {
            q = q.filter(mem_members::store_id.eq(s.clone()));
        }
        let members: Vec<(String, String)> = q.order(mem_members::id).load(c)?;
        let mut n = 0;
        for (m, s) in &members {
            if insert_coupon(c, &t, m, s, now)?.is_some() {
                n += 1;
            }
        }
        audit(
            c,
            actor,
            t.store_id.as_deref(),
            "membership.coupon.issue_segment",
            "coupon_template",
            &t.id,
            json!({"tier": segment.tier_code, "store": segment.store_id, "issued": n}),
        )?;
        Ok(n)
    })
}

/// Voids an unused coupon.
pub fn void_coupon(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    coupon_id: &str,
    reason: &str,
) -> Result<Coupon> {
    if reason.trim().is_empty() {
        return Err(MembershipError::invalid("reason", "required"));
    }
    let now = now_db(clock);
    write(conn, |c| {
        let cp = load_coupon(c, coupon_id)?;
        if !scope.allows(&cp.store_id) {
            return Err(MembershipError::NotFound("coupon"));
        }
        let n = diesel::update(
            mem_coupons::table
                .find(&cp.id)
                .filter(mem_coupons::status.eq("issued")),
        )
        .set((
            mem_coupons::status.eq("voided"),
            mem_coupons::voided_at.eq(now),
        ))
        .execute(c)?;
        if n != 1 {
            return Err(MembershipError::conflict(
                "coupon",
                format!("coupon is {}", cp.status),
            ));
        }
        audit(
            c,
            actor,
            Some(&cp.store_id),
            "membership.coupon.void",
            "coupon",
            &cp.id,
            json!({"reason": reason}),
        )?;
        load_coupon(c, &cp.id)
    })
}

pub fn coupons_of_member(
    conn: &mut DbConnection,
    scope: &StoreScope,
    member_id: &str,
) -> Result<Vec<Coupon>> {
    let m = crate::members::get_member(conn, scope, member_id)?;
    Ok(mem_coupons::table
        .filter(mem_coupons::member_id.eq(&m.id))
        .select(Coupon::as_select())
        .order(mem_coupons::id)
        .load(conn)?)
}

/// A coupon the member presents at checkout, checked for use in `store_id` at `now`.
pub(crate) fn usable_coupon(
    c: &mut DbConnection,
    coupon_id: &str,
    member_id: &str,
    store_id: &str,
    now: NaiveDateTime,
) -> Result<(Coupon, CouponTemplate)> {
    let cp = load_coupon(c, coupon_id)?;
    if cp.member_id != member_id {
        // Another member's coupon reads as unknown: no hint that it exists.
        return Err(MembershipError::NotFound("coupon"));
    }
    if cp.status != "issued" {
        return Err(MembershipError::conflict(
            "coupons",
            format!("coupon is {}", cp.status),
        ));
    }
    let t = load_template(c, &cp.template_id)?;
    if !t.active || now < t.valid_from || now >= t.valid_until {
        return Err(MembershipError::invalid(
            "coupons",
            "coupon is not valid now",
        ));
    }
    if t.store_id.as_deref().is_some_and(|s| s != store_id) {
        return Err(MembershipError::invalid(
            "coupons",
            "coupon is not valid in this store",
        ));
    }
    Ok((cp, t))
}

/// Marks a coupon used; exactly one concurrent caller succeeds.
pub(crate) fn mark_used(
    c: &mut DbConnection,
    coupon_id: &str,
    checkout_id: &str,
    now: NaiveDateTime,
) -> Result<()> {
    let n = diesel::update(
        mem_coupons::table
            .find(coupon_id)
            .filter(mem_coupons::status.eq("issued")),
    )
    .set((
        mem_coupons::status.eq("used"),
        mem_coupons::used_at.eq(now),
        mem_coupons::used_checkout_id.eq(checkout_id),
    ))
    .execute(c)?;
    if n != 1 {
        return Err(MembershipError::conflict("coupons", "coupon already used"));
    }
    Ok(())
}

/// Puts the coupons of a voided checkout back into the member's hands.
pub(crate) fn restore_for_checkout(c: &mut DbConnection, checkout_id: &str) -> Result<usize> {
    Ok(diesel::update(
        mem_coupons::table
            .filter(mem_coupons::used_checkout_id.eq(checkout_id))
            .filter(mem_coupons::status.eq("used")),
    )
    .set((
        mem_coupons::status.eq("issued"),
        mem_coupons::used_at.eq(None::<NaiveDateTime>),
        mem_coupons::used_checkout_id.eq(None::<String>),
    ))
    .execute(c)?)
}
