//! Complaints (投诉): intake from any channel, category and severity, an SLA by severity,
//! assignment, escalation when overdue, resolution and the customer's confirmation; linked to
//! the vehicle, order or work order concerned.

use crate::customers::load_row;
use crate::schema::complaints;
use crate::vehicles::load_vehicle;
use crate::{audit, CrmError, Result};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use dms_core::{Cursor, PageRequest, StoreScope};
use dms_db::{from_db_time, to_db_time, write_tx, DbConnection};
use dms_identity::Actor;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Low,
    Normal,
    High,
    Critical,
}

impl Severity {
    pub fn code(&self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Normal => "normal",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn from_code(s: &str) -> Option<Severity> {
        match s {
            "low" => Some(Severity::Low),
            "normal" => Some(Severity::Normal),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// Response times and who a complaint goes to when it is overdue. Configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct ComplaintPolicy {
    pub sla_hours_low: u32,
    pub sla_hours_normal: u32,
    pub sla_hours_high: u32,
    pub sla_hours_critical: u32,
    /// Per store, the escalation ladder: level 1 goes to the first (e.g. the service manager),
    /// level 2 to the second (the general manager), and so on.
    pub escalate_to: BTreeMap<String, Vec<String>>,
}

impl Default for ComplaintPolicy {
    fn default() -> Self {
        ComplaintPolicy {
            sla_hours_low: 168,
            sla_hours_normal: 72,
            sla_hours_high: 24,
            sla_hours_critical: 4,
            escalate_to: BTreeMap::new(),
        }
    }
}

impl ComplaintPolicy {
    pub fn sla(&self, s: Severity) -> Duration {
        Duration::hours(i64::from(match s {
            Severity::Low => self.sla_hours_low,
            Severity::Normal => self.sla_hours_normal,
            Severity::High => self.sla_hours_high,
            Severity::Critical => self.sla_hours_critical,
        }))
    }
}

pub const COMPLAINT_CHANNELS: &[&str] = &[
    "phone", "walk_in", "app", "wechat", "email", "oem", "survey", "other",
];
pub const COMPLAINT_CATEGORIES: &[&str] = &[
    "service_quality",
    "repair_quality",
    "price",
    "waiting_time",
    "parts",
    "sales",
    "attitude",
    "other",
];

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = complaints)]
pub struct Complaint {
    pub id: String,
    pub store_id: String,
    pub customer_id: String,
    pub vehicle_id: Option<String>,
    pub order_ref: Option<String>,
    pub work_order_ref: Option<String>,
    pub channel: String,
    pub category: String,
    pub severity: String,
    pub description: String,
    pub assigned_to: Option<String>,
    /// `open`, `resolved` (waiting for the customer) or `closed` (customer confirmed).
    pub status: String,
    pub due_at: NaiveDateTime,
    pub escalation_level: i32,
    pub escalated_at: Option<NaiveDateTime>,
    pub resolution: Option<String>,
    pub resolved_at: Option<NaiveDateTime>,
    pub confirmed_at: Option<NaiveDateTime>,
    pub customer_satisfied: Option<bool>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct NewComplaint {
    pub store_id: String,
    pub customer_id: String,
    pub vehicle_id: Option<String>,
    pub order_ref: Option<String>,
    pub work_order_ref: Option<String>,
    pub channel: String,
    pub category: String,
    pub severity: Severity,
    pub description: String,
    pub assigned_to: Option<String>,
}

fn load(c: &mut DbConnection, id: &str) -> Result<Option<Complaint>> {
    Ok(complaints::table
        .find(id)
        .select(Complaint::as_select())
        .first(c)
        .optional()?)
}

pub fn get_complaint(conn: &mut DbConnection, scope: &StoreScope, id: &str) -> Result<Complaint> {
    match load(conn, id)? {
        Some(x) if scope.allows(&x.store_id) => Ok(x),
        _ => Err(CrmError::NotFound("complaint")),
    }
}

pub fn open_complaint(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    new: &NewComplaint,
    policy: &ComplaintPolicy,
    now: DateTime<Utc>,
) -> Result<Complaint> {
    if !COMPLAINT_CHANNELS.contains(&new.channel.as_str()) {
        return Err(CrmError::invalid(
            "channel",
            format!("one of {}", COMPLAINT_CHANNELS.join(", ")),
        ));
    }
    if !COMPLAINT_CATEGORIES.contains(&new.category.as_str()) {
        return Err(CrmError::invalid(
            "category",
            format!("one of {}", COMPLAINT_CATEGORIES.join(", ")),
        ));
    }
    let description = new.description.trim();
    if description.is_empty() || description.chars().count() > 4000 {
        return Err(CrmError::invalid("description", "1-4000 characters"));
    }
    if !scope.allows(&new.store_id) {
        return Err(CrmError::invalid("store_id", "no such store among yours"));
    }
    write_tx(conn, |c| {
        load_row(c, &new.customer_id)?
            .ok_or_else(|| CrmError::invalid("customer_id", "no such customer"))?;
        if let Some(v) = &new.vehicle_id {
            load_vehicle(c, v)?
                .ok_or_else(|| CrmError::invalid("vehicle_id", "no such vehicle"))?;
        }
        let id = dms_core::new_id();
        let ts = to_db_time(now);
        diesel::insert_into(complaints::table)
            .values((
                complaints::id.eq(&id),
                complaints::store_id.eq(&new.store_id),
                complaints::customer_id.eq(&new.customer_id),
                complaints::vehicle_id.eq(new.vehicle_id.as_deref()),
                complaints::order_ref.eq(new.order_ref.as_deref()),
                complaints::work_order_ref.eq(new.work_order_ref.as_deref()),
                complaints::channel.eq(&new.channel),
                complaints::category.eq(&new.category),
                complaints::severity.eq(new.severity.code()),
                complaints::description.eq(description),
                complaints::assigned_to.eq(new.assigned_to.as_deref()),
                complaints::status.eq("open"),
                complaints::due_at.eq(to_db_time(now + policy.sla(new.severity))),
                complaints::escalation_level.eq(0),
                complaints::created_at.eq(ts),
                complaints::updated_at.eq(ts),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&new.store_id),
            "complaint.open",
            "complaint",
            &id,
            json!({"severity": new.severity.code(), "category": new.category, "channel": new.channel}),
        )?;
        load(c, &id)?.ok_or(CrmError::NotFound("complaint"))
    })
}

pub fn assign_complaint(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    id: &str,
    staff_id: &str,
    now: DateTime<Utc>,
) -> Result<Complaint> {
    write_tx(conn, |c| {
        let x = get_complaint(c, scope, id)?;
        if x.status == "closed" {
            return Err(CrmError::conflict("status", "complaint is closed"));
        }
        diesel::update(complaints::table.find(id))
            .set((
                complaints::assigned_to.eq(Some(staff_id)),
                complaints::updated_at.eq(to_db_time(now)),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&x.store_id),
            "complaint.assign",
            "complaint",
            id,
            json!({"to": staff_id}),
        )?;
        load(c, id)?.ok_or(CrmError::NotFound("complaint"))
    })
}

/// The periodic job: every open complaint past its due time goes one level up the store's
/// ladder, is reassigned, and gets a fresh SLA. Returns the ids escalated.
pub fn escalate_overdue_complaints(
    conn: &mut DbConnection,
    policy: &ComplaintPolicy,
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    let actor = Actor::system("complaint-escalation");
    write_tx(conn, |c| {
        let overdue: Vec<Complaint> = complaints::table
            .filter(complaints::status.eq("open"))
            .filter(complaints::due_at.lt(to_db_time(now)))
            .select(Complaint::as_select())
            .load(c)?;
        let mut ids = Vec::new();
        for x in overdue {
            let level = x.escalation_level + 1;
            let ladder = policy.escalate_to.get(&x.store_id);
            let to = ladder
                .and_then(|l| l.get((level - 1) as usize).or(l.last()))
                .cloned()
                .or(x.assigned_to.clone());
            let sev = Severity::from_code(&x.severity).unwrap_or(Severity::Normal);
            diesel::update(complaints::table.find(&x.id))
                .set((
                    complaints::escalation_level.eq(level),
                    complaints::escalated_at.eq(Some(to_db_time(now))),
                    complaints::assigned_to.eq(to.as_deref()),
                    complaints::due_at.eq(to_db_time(now + policy.sla(sev))),
                    complaints::updated_at.eq(to_db_time(now)),
                ))
                .execute(c)?;
            audit(
                c,
                &actor,
                Some(&x.store_id),
                "complaint.escalate",
                "complaint",
                &x.id,
                json!({"level": level, "to": to}),
            )?;
            ids.push(x.id);
        }
        Ok(ids)
    })
}

pub fn resolve_complaint(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    id: &str,
    resolution: &str,
    now: DateTime<Utc>,
) -> Result<Complaint> {
    let resolution = resolution.trim();
    if resolution.is_empty() {
        return Err(CrmError::invalid("resolution", "say how it was resolved"));
    }
    write_tx(conn, |c| {
        let x = get_complaint(c, scope, id)?;
        if x.status != "open" {
            return Err(CrmError::conflict(
                "status",
                format!("complaint is {}", x.status),
            ));
        }
        diesel::update(complaints::table.find(id))
            .set((
                complaints::status.eq("resolved"),
                complaints::resolution.eq(Some(resolution)),
                complaints::resolved_at.eq(Some(to_db_time(now))),
                complaints::updated_at.eq(to_db_time(now)),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&x.store_id),
            "complaint.resolve",
            "complaint",
            id,
            json!({}),
        )?;
        load(c, id)?.ok_or(CrmError::NotFound("complaint"))
    })
}

/// The customer's word on the resolution: satisfied closes the complaint, not satisfied
/// reopens it with a fresh SLA.
pub fn confirm_complaint(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    id: &str,
    satisfied: bool,
    policy: &ComplaintPolicy,
    now: DateTime<Utc>,
) -> Result<Complaint> {
    write_tx(conn, |c| {
        let x = get_complaint(c, scope, id)?;
        if x.status != "resolved" {
            return Err(CrmError::conflict(
                "status",
                "only a resolved complaint is confirmed",
            ));
        }
        let ts = to_db_time(now);
        if satisfied {
            diesel::update(complaints::table.find(id))
                .set((
                    complaints::status.eq("closed"),
                    complaints::confirmed_at.eq(Some(ts)),
                    complaints::customer_satisfied.eq(Some(true)),
                    complaints::updated_at.eq(ts),
                ))
                .execute(c)?;
        } else {
            let sev = Severity::from_code(&x.severity).unwrap_or(Severity::Normal);
            diesel::update(complaints::table.find(id))
                .set((
                    complaints::status.eq("open"),
                    complaints::customer_satisfied.eq(Some(false)),
                    complaints::resolved_at.eq(None::<NaiveDateTime>),
                    complaints::due_at.eq(to_db_time(now + policy.sla(sev))),
                    complaints::updated_at.eq(ts),
                ))
                .execute(c)?;
        }
        audit(
            c,
            actor,
            Some(&x.store_id),
            "complaint.confirm",
            "complaint",
            id,
            json!({"satisfied": satisfied}),
        )?;
        load(c, id)?.ok_or(CrmError::NotFound("complaint"))
    })
}

#[derive(Debug, Clone, Default)]
pub struct ComplaintFilter {
    pub status: Option<String>,
    pub customer_id: Option<String>,
    pub assigned_to: Option<String>,
}

pub fn list_complaints(
    conn: &mut DbConnection,
    scope: &StoreScope,
    filter: &ComplaintFilter,
    page: &PageRequest,
) -> Result<(Vec<Complaint>, Option<String>)> {
    let mut q = complaints::table
        .select(Complaint::as_select())
        .into_boxed();
    if let StoreScope::Stores(ids) = scope {
        q = q.filter(complaints::store_id.eq_any(ids.clone()));
    }
    if let Some(s) = &filter.status {
        q = q.filter(complaints::status.eq(s.clone()));
    }
    if let Some(s) = &filter.customer_id {
        q = q.filter(complaints::customer_id.eq(s.clone()));
    }
    if let Some(s) = &filter.assigned_to {
        q = q.filter(complaints::assigned_to.eq(s.clone()));
    }
    if let Some(Cursor { after_id }) = &page.after {
        q = q.filter(complaints::id.gt(after_id.clone()));
    }
    let rows = q
        .order(complaints::id.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(page.finish(rows, |x: &Complaint| &x.id))
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComplaintStats {
    pub by_category: BTreeMap<String, i64>,
    pub by_severity: BTreeMap<String, i64>,
    pub resolved: i64,
    pub escalated: i64,
    /// Mean hours from intake to resolution over the resolved ones.
    pub mean_hours_to_resolve: Option<f64>,
}

/// Complaint counts and time to resolve for complaints received in `[from, to)`.
pub fn complaint_stats(
    conn: &mut DbConnection,
    scope: &StoreScope,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<ComplaintStats> {
    let mut q = complaints::table
        .filter(complaints::created_at.ge(from.and_time(chrono::NaiveTime::MIN)))
        .filter(complaints::created_at.lt(to.and_time(chrono::NaiveTime::MIN)))
        .select(Complaint::as_select())
        .into_boxed();
    if let StoreScope::Stores(ids) = scope {
        q = q.filter(complaints::store_id.eq_any(ids.clone()));
    }
    let rows: Vec<Complaint> = q.load(conn)?;
    let mut s = ComplaintStats::default();
    let mut hours = Vec::new();
    for x in &rows {
        *s.by_category.entry(x.category.clone()).or_default() += 1;
        *s.by_severity.entry(x.severity.clone()).or_default() += 1;
        if x.escalation_level > 0 {
            s.escalated += 1;
        }
        if let Some(r) = x.resolved_at {
            s.resolved += 1;
            hours.push((from_db_time(r) - from_db_time(x.created_at)).num_minutes() as f64 / 60.0);
        }
    }
    if !hours.is_empty() {
        s.mean_hours_to_resolve = Some(hours.iter().sum::<f64>() / hours.len() as f64);
    }
    Ok(s)
}
