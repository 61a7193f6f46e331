//! Segments: saved customer filters (lost customers, vehicle age, mileage band, insurance
//! expiring, tags, member tier) that campaigns, coupon issue and call lists run on.
//!
//! A filter is evaluated table by table and the customer sets intersected in memory, which
//! keeps each query simple and on its index on both engines. The member tier belongs to the
//! membership crate and comes in through [`TierLookup`].

use crate::schema::{
    customer_segments, customer_tags, follow_up_tasks, mileage_readings, service_visits, vehicles,
};
use crate::{audit, CrmError, Result};
use chrono::{DateTime, Duration, Months, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use dms_core::StoreScope;
use dms_db::schema::customers;
use dms_db::{to_db_time, write_tx, DbConnection};
use dms_identity::Actor;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SegmentFilter {
    /// "Lost" customers: a car older than N days and no workshop visit in the last N days.
    pub lost_after_days: Option<u32>,
    /// Vehicle age in whole years since delivery, inclusive bounds.
    pub vehicle_age_years_min: Option<u32>,
    pub vehicle_age_years_max: Option<u32>,
    /// Latest odometer reading, inclusive bounds.
    pub mileage_km_min: Option<i64>,
    pub mileage_km_max: Option<i64>,
    /// Insurance expiring within N days from today.
    pub insurance_expiring_within_days: Option<u32>,
    /// Every one of these tags.
    pub tags: Vec<String>,
    /// Any of these member tiers (standard, silver, gold, diamond).
    pub tiers: Vec<String>,
}

/// Which customers hold a tier; implemented by the membership crate.
pub trait TierLookup {
    fn customers_in_tiers(&self, conn: &mut DbConnection, tiers: &[String]) -> Result<Vec<String>>;
}

#[derive(Debug, Clone)]
pub struct Segment {
    pub id: String,
    pub store_id: Option<String>,
    pub name: String,
    pub filter: SegmentFilter,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
}

fn intersect(acc: Option<BTreeSet<String>>, next: BTreeSet<String>) -> Option<BTreeSet<String>> {
    Some(match acc {
        None => next,
        Some(a) => a.intersection(&next).cloned().collect(),
    })
}

fn years_back(today: NaiveDate, y: u32) -> NaiveDate {
    today
        .checked_sub_months(Months::new(12 * y))
        .unwrap_or(today)
}

/// The active customers in `scope` the filter selects, in id order.
pub fn evaluate_segment(
    conn: &mut DbConnection,
    scope: &StoreScope,
    filter: &SegmentFilter,
    today: NaiveDate,
    tiers: Option<&dyn TierLookup>,
) -> Result<Vec<String>> {
    let mut acc: Option<BTreeSet<String>> = None;
    let active_vehicles = || {
        vehicles::table
            .filter(vehicles::status.eq("active"))
            .filter(vehicles::customer_id.is_not_null())
            .into_boxed()
    };
    if let Some(n) = filter.lost_after_days {
        let cutoff = today - Duration::days(i64::from(n));
        let owners: Vec<Option<String>> = active_vehicles()
            .filter(vehicles::delivery_date.le(cutoff))
            .select(vehicles::customer_id)
            .load(conn)?;
        let seen: BTreeSet<String> = service_visits::table
            .filter(service_visits::visited_on.ge(cutoff))
            .select(service_visits::customer_id)
            .load::<Option<String>>(conn)?
            .into_iter()
            .flatten()
            .collect();
        let lost = owners
            .into_iter()
            .flatten()
            .filter(|c| !seen.contains(c))
            .collect();
        acc = intersect(acc, lost);
    }
    if filter.vehicle_age_years_min.is_some() || filter.vehicle_age_years_max.is_some() {
        let mut q = active_vehicles().select(vehicles::customer_id);
        if let Some(min) = filter.vehicle_age_years_min {
            q = q.filter(vehicles::delivery_date.le(years_back(today, min)));
        }
        if let Some(max) = filter.vehicle_age_years_max {
            q = q.filter(vehicles::delivery_date.gt(years_back(today, max + 1)));
        }
        let ids: Vec<Option<String>> = q.load(conn)?;
        acc = intersect(acc, ids.into_iter().flatten().collect());
    }
    if filter.mileage_km_min.is_some() || filter.mileage_km_max.is_some() {
        let readings: Vec<(String, NaiveDate, i64)> = mileage_readings::table
            .select((
                mileage_readings::vehicle_id,
                mileage_readings::read_on,
                mileage_readings::km,
            ))
            .load(conn)?;
        let mut latest: HashMap<String, (NaiveDate, i64)> = HashMap::new();
        for (v, d, k) in readings {
            let e = latest.entry(v).or_insert((d, k));
            if (d, k) > *e {
                *e = (d, k);
            }
        }
        let lo = filter.mileage_km_min.unwrap_or(i64::MIN);
        let hi = filter.mileage_km_max.unwrap_or(i64::MAX);
        let in_band: Vec<String> = latest
            .into_iter()
            .filter(|(_, (_, k))| (lo..=hi).contains(k))
            .map(|(v, _)| v)
            .collect();
        let mut owners = BTreeSet::new();
        for chunk in in_band.chunks(500) {
            let ids: Vec<Option<String>> = active_vehicles()
                .filter(vehicles::id.eq_any(chunk))
                .select(vehicles::customer_id)
                .load(conn)?;
            owners.extend(ids.into_iter().flatten());
        }
        acc = intersect(acc, owners);
    }
    if let Some(n) = filter.insurance_expiring_within_days {
        let ids: Vec<Option<String>> = active_vehicles()
            .filter(vehicles::insurance_expiry.ge(today))
            .filter(vehicles::insurance_expiry.le(today + Duration::days(i64::from(n))))
            .select(vehicles::customer_id)
            .load(conn)?;
        acc = intersect(acc, ids.into_iter().flatten().collect());
    }
    for tag in &filter.tags {
        let ids: Vec<String> = customer_tags::table
            .filter(customer_tags::tag.eq(tag))
            .select(customer_tags::customer_id)
            .load(conn)?;
        acc = intersect(acc, ids.into_iter().collect());
    }
    if !filter.tiers.is_empty() {
        let ids = match tiers {
            Some(t) => t.customers_in_tiers(conn, &filter.tiers)?,
            None => {
                return Err(CrmError::invalid(
                    "tiers",
                    "member tiers are not available (membership not installed)",
                ))
            }
        };
        acc = intersect(acc, ids.into_iter().collect());
    }
    // No criterion at all means every customer: refuse rather than mail the whole base.
    let Some(candidates) = acc else {
        return Err(CrmError::invalid("filter", "at least one criterion"));
    };
    let candidates: Vec<String> = candidates.into_iter().collect();
    let mut out = Vec::new();
    for chunk in candidates.chunks(500) {
        let mut q = customers::table
            .filter(customers::id.eq_any(chunk))
            .filter(customers::status.eq("active"))
            .select(customers::id)
            .into_boxed();
        if let StoreScope::Stores(s) = scope {
            q = q.filter(customers::store_id.eq_any(s.clone()));
        }
        out.extend(q.load::<String>(conn)?);
    }
    out.sort();
    Ok(out)
}

/// Saves a filter under a name; `store_id = None` is a group-wide segment.
pub fn save_segment(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    store_id: Option<&str>,
    name: &str,
    filter: &SegmentFilter,
    now: DateTime<Utc>,
) -> Result<Segment> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(CrmError::invalid("name", "1-100 characters"));
    }
    match store_id {
        Some(s) if !scope.allows(s) => {
            return Err(CrmError::invalid("store_id", "no such store among yours"))
        }
        None if *scope != StoreScope::AllStores => {
            return Err(CrmError::Forbidden(
                "group-wide segments are for group staff".into(),
            ))
        }
        _ => {}
    }
    if filter == &SegmentFilter::default() {
        return Err(CrmError::invalid("filter", "at least one criterion"));
    }
    let text =
        serde_json::to_string(filter).map_err(|e| CrmError::invalid("filter", e.to_string()))?;
    let id = dms_core::new_id();
    write_tx(conn, |c| {
        let ts = to_db_time(now);
        diesel::insert_into(customer_segments::table)
            .values((
                customer_segments::id.eq(&id),
                customer_segments::store_id.eq(store_id),
                customer_segments::name.eq(name),
                customer_segments::filter.eq(&text),
                customer_segments::created_by.eq(actor.id.as_deref()),
                customer_segments::created_at.eq(ts),
                customer_segments::updated_at.eq(ts),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            store_id,
            "segment.save",
            "segment",
            &id,
            json!({"name": name}),
        )
    })?;
    get_segment(conn, scope, &id)
}

type SegmentRow = (
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    NaiveDateTime,
);

pub fn get_segment(conn: &mut DbConnection, scope: &StoreScope, id: &str) -> Result<Segment> {
    let row: Option<SegmentRow> = customer_segments::table
        .find(id)
        .select((
            customer_segments::id,
            customer_segments::store_id,
            customer_segments::name,
            customer_segments::filter,
            customer_segments::created_by,
            customer_segments::created_at,
        ))
        .first(conn)
        .optional()?;
    match row {
        Some((id, store_id, name, filter, created_by, created_at))
            if store_id.as_deref().is_none_or(|s| scope.allows(s)) =>
        {
            Ok(Segment {
                id,
                store_id,
                name,
                filter: serde_json::from_str(&filter).unwrap_or_default(),
                created_by,
                created_at,
            })
        }
        _ => Err(CrmError::NotFound("segment")),
    }
}

/// A call list from a segment: one task per customer, once per segment and due date.
#[allow(clippy::too_many_arguments)]
pub fn create_segment_tasks(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    segment_id: &str,
    store_id: &str,
    title: &str,
    due_on: NaiveDate,
    assignees: &[String],
    tiers: Option<&dyn TierLookup>,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<u32> {
    let seg = get_segment(conn, scope, segment_id)?;
    let ids = evaluate_segment(conn, scope, &seg.filter, today, tiers)?;
    if !scope.allows(store_id) {
        return Err(CrmError::invalid("store_id", "no such store among yours"));
    }
    if title.trim().is_empty() {
        return Err(CrmError::invalid("title", "required"));
    }
    write_tx(conn, |c| {
        let ts = to_db_time(now);
        let mut created = 0;
        for (i, cid) in ids.iter().enumerate() {
            let key = format!("segment:{segment_id}:{cid}:{due_on}");
            let exists: i64 = follow_up_tasks::table
                .filter(follow_up_tasks::dedupe_key.eq(&key))
                .count()
                .get_result(c)?;
            if exists > 0 {
                continue;
            }
            diesel::insert_into(follow_up_tasks::table)
                .values(
                    (
                        follow_up_tasks::id.eq(dms_core::new_id()),
                        follow_up_tasks::store_id.eq(store_id),
                        follow_up_tasks::customer_id.eq(Some(cid)),
                        follow_up_tasks::rule.eq("segment"),
                        follow_up_tasks::dedupe_key.eq(Some(&key)),
                        follow_up_tasks::title.eq(title.trim()),
                        follow_up_tasks::due_on.eq(due_on),
                        follow_up_tasks::assigned_to
                            .eq((!assignees.is_empty())
                                .then(|| assignees[i % assignees.len()].clone())),
                        follow_up_tasks::status.eq("open"),
                        follow_up_tasks::note.eq(""),
                        follow_up_tasks::created_at.eq(ts),
                        follow_up_tasks::updated_at.eq(ts),
                    ),
                )
                .execute(c)?;
            created += 1;
        }
        audit(
            c,
            actor,
            Some(store_id),
            "segment.tasks",
            "segment",
            segment_id,
            json!({"created": created}),
        )?;
        Ok(created)
    })
}

/// What a campaign did: customers messaged, recorded but not sent (no consent, opted out, no
/// address) and skipped because this campaign already reached them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CampaignCounts {
    pub queued: u32,
    pub suppressed: u32,
    pub already_queued: u32,
}

/// A campaign: one message from `template_code` to every customer of the segment, through
/// the outbox (consent and quiet hours as for any message). Each customer's message carries the
/// key `campaign:<segment>:<campaign>:<customer>`, so running the same campaign again (after a
/// crash, or a double click) queues nobody twice.
#[allow(clippy::too_many_arguments)]
pub fn queue_segment_messages(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    templates: &crate::TemplateSet,
    segment_id: &str,
    campaign: &str,
    message: &crate::NewMessage,
    tiers: Option<&dyn TierLookup>,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<CampaignCounts> {
    let seg = get_segment(conn, scope, segment_id)?;
    if templates.get(&message.template_code).is_none() {
        return Err(CrmError::invalid("template_code", "no such template"));
    }
    if !scope.allows(&message.store_id) {
        return Err(CrmError::invalid("store_id", "no such store among yours"));
    }
    let ids = evaluate_segment(conn, scope, &seg.filter, today, tiers)?;
    let mut counts = CampaignCounts::default();
    for cid in ids {
        let new = crate::NewMessage {
            customer_id: cid.clone(),
            dedupe_key: Some(format!("campaign:{segment_id}:{campaign}:{cid}")),
            ..message.clone()
        };
        match crate::enqueue_message(conn, actor, scope, templates, &new, now)? {
            crate::EnqueueOutcome::Queued(_) => counts.queued += 1,
            crate::EnqueueOutcome::Suppressed(_) => counts.suppressed += 1,
            crate::EnqueueOutcome::AlreadyQueued(_) => counts.already_queued += 1,
        }
    }
    Ok(counts)
}
