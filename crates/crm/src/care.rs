//! The care engine (客户关怀): a daily job that turns vehicles, visits and birthdays into
//! follow-up tasks for customer service, and the tasks' outcomes.
//!
//! Idempotent: every task the engine makes carries a `dedupe_key` naming the rule, the subject
//! and the occurrence (`insurance:<vehicle>:<expiry>`), unique in the database; a second run on
//! the same day, or a re-run after a crash, creates nothing twice. A day the job did not run
//! is caught up on the next run for up to `catch_up_days`.
//!
//! Rules are configuration ([`CareRules`], deserialisable from the server's settings); a rule
//! set to `None` is off.

use crate::customers::{insert_tag, load_row};
use crate::schema::{
    follow_up_tasks, marketing_consents, mileage_readings, service_visits, vehicles,
};
use crate::vehicles::{load_vehicle, mark_sold_in_tx, projected_km, Vehicle};
use crate::{audit, CrmError, Result};
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use dms_core::{Cursor, PageRequest, StoreScope};
use dms_db::schema::customers;
use dms_db::{to_db_time, write_tx, DbConnection};
use dms_identity::Actor;
use serde::Deserialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct FirstServiceRule {
    /// 首保 is due this many months after delivery ...
    pub months_after_delivery: u32,
    /// ... or at this odometer reading, whichever the projection reaches first.
    pub km: i64,
    pub remind_days_before: u32,
}

impl Default for FirstServiceRule {
    fn default() -> Self {
        FirstServiceRule {
            months_after_delivery: 3,
            km: 5000,
            remind_days_before: 7,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct MaintenanceRule {
    pub interval_months: u32,
    pub interval_km: i64,
    pub remind_days_before: u32,
}

impl Default for MaintenanceRule {
    fn default() -> Self {
        MaintenanceRule {
            interval_months: 6,
            interval_km: 10000,
            remind_days_before: 7,
        }
    }
}

/// Which follow-ups the engine makes, and when. The defaults are the seed documents' routine.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct CareRules {
    /// Thank-you call within 24 h of delivery: task appears on delivery day, due next day.
    pub delivery_thanks: bool,
    /// The call N days after delivery (7).
    pub delivery_call_days: Option<u32>,
    /// A call every N months after delivery (2) ...
    pub periodic_call_months: Option<u32>,
    /// ... for this many months (24).
    pub periodic_call_for_months: u32,
    /// The call N days after a workshop visit (3).
    pub after_service_call_days: Option<u32>,
    pub first_service: Option<FirstServiceRule>,
    pub maintenance: Option<MaintenanceRule>,
    /// Insurance renewal (续保) reminder N days before expiry (30).
    pub insurance_days_before: Option<u32>,
    /// Annual inspection (年审) reminder N days before it is due (30).
    pub inspection_days_before: Option<u32>,
    /// Birthday greeting N days ahead (0 = on the day).
    pub birthday_days_before: Option<u32>,
    /// Occurrences whose day passed without a run are still created this many days later.
    pub catch_up_days: u32,
    /// Customer-service staff per store; tasks are spread over them. A store without
    /// assignees gets unassigned tasks (the manager's pool).
    pub assignees: BTreeMap<String, Vec<String>>,
}

impl Default for CareRules {
    fn default() -> Self {
        CareRules {
            delivery_thanks: true,
            delivery_call_days: Some(7),
            periodic_call_months: Some(2),
            periodic_call_for_months: 24,
            after_service_call_days: Some(3),
            first_service: Some(FirstServiceRule::default()),
            maintenance: Some(MaintenanceRule::default()),
            insurance_days_before: Some(30),
            inspection_days_before: Some(30),
            birthday_days_before: Some(0),
            catch_up_days: 7,
            assignees: BTreeMap::new(),
        }
    }
}

/// A follow-up the engine (or another crate through [`CareSource`]) wants to exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CareCandidate {
    pub rule: &'static str,
    pub dedupe_key: String,
    pub store_id: String,
    pub customer_id: Option<String>,
    pub vehicle_id: Option<String>,
    pub title: String,
    pub due_on: NaiveDate,
}

/// Lets crates that land later add their own reminders to the daily run (membership expiry
/// from the membership crate); their candidates get the same dedupe and assignment.
pub trait CareSource {
    fn candidates(&self, conn: &mut DbConnection, today: NaiveDate) -> Result<Vec<CareCandidate>>;
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CareRunReport {
    /// Tasks created per rule.
    pub created: BTreeMap<String, u32>,
    /// Candidates that already had their task.
    pub already_present: u32,
    /// Candidates skipped because the customer asked not to be called.
    pub opted_out: u32,
}

impl CareRunReport {
    pub fn total_created(&self) -> u32 {
        self.created.values().sum()
    }
}

fn add_months(d: NaiveDate, m: u32) -> NaiveDate {
    d.checked_add_months(Months::new(m)).unwrap_or(d)
}

fn within(trigger: NaiveDate, today: NaiveDate, catch_up: u32) -> bool {
    trigger <= today && (today - trigger).num_days() <= i64::from(catch_up)
}

fn owned_active(v: &Vehicle) -> Option<&str> {
    if v.status == "active" {
        v.customer_id.as_deref()
    } else {
        None
    }
}

fn vehicle_label(v: &Vehicle) -> String {
    match &v.plate {
        Some(p) => format!("{p} {}{}", v.brand, v.model),
        None => format!("{} {}{}", v.vin, v.brand, v.model),
    }
}

fn cand(
    rule: &'static str,
    key: String,
    v: &Vehicle,
    cust: &str,
    title: String,
    due: NaiveDate,
) -> CareCandidate {
    CareCandidate {
        rule,
        dedupe_key: key,
        store_id: v.store_id.clone(),
        customer_id: Some(cust.to_string()),
        vehicle_id: Some(v.id.clone()),
        title,
        due_on: due,
    }
}

fn load_vehicles<F>(c: &mut DbConnection, f: F) -> Result<Vec<Vehicle>>
where
    F: FnOnce(
        vehicles::BoxedQuery<
            'static,
            Backend,
            diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<Vehicle, Backend>>,
        >,
    ) -> vehicles::BoxedQuery<
        'static,
        Backend,
        diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<Vehicle, Backend>>,
    >,
{
    let q = vehicles::table
        .select(Vehicle::as_select())
        .filter(vehicles::status.eq("active"))
        .filter(vehicles::customer_id.is_not_null())
        .into_boxed();
    Ok(f(q).load(c)?)
}

type Backend = <DbConnection as diesel::Connection>::Backend;

fn readings_of(
    c: &mut DbConnection,
    ids: &[String],
) -> Result<HashMap<String, Vec<(NaiveDate, i64)>>> {
    let mut out: HashMap<String, Vec<(NaiveDate, i64)>> = HashMap::new();
    // Large chunks: the maintenance rule reads the readings of most serviced cars every day.
    for chunk in ids.chunks(5000) {
        let rows: Vec<(String, NaiveDate, i64)> = mileage_readings::table
            .filter(mileage_readings::vehicle_id.eq_any(chunk))
            .select((
                mileage_readings::vehicle_id,
                mileage_readings::read_on,
                mileage_readings::km,
            ))
            .load(c)?;
        for (v, d, k) in rows {
            out.entry(v).or_default().push((d, k));
        }
    }
    Ok(out)
}

/// The day the projected odometer reaches `target_km`, if the readings give a rate.
fn day_reaching(
    readings: &[(NaiveDate, i64)],
    delivery: Option<NaiveDate>,
    target_km: i64,
) -> Option<NaiveDate> {
    let rate = crate::vehicles::daily_km_rate(readings, delivery)?;
    if rate <= 0.0 {
        return None;
    }
    let last = readings
        .iter()
        .max()
        .copied()
        .or(delivery.map(|d| (d, 0)))?;
    if last.1 >= target_km {
        return Some(last.0);
    }
    let days = ((target_km - last.1) as f64 / rate).ceil() as i64;
    Some(last.0 + Duration::days(days))
}

/// Everything the built-in rules want to exist today.
pub fn care_candidates(
    conn: &mut DbConnection,
    today: NaiveDate,
    rules: &CareRules,
) -> Result<Vec<CareCandidate>> {
    let mut out = Vec::new();
    let cu = rules.catch_up_days;
    let window_start = today - Duration::days(i64::from(cu));

    // Delivery-based calls: thank-you, N-day call, the periodic calls. Only the delivery
    // days that make one of them fall due in the window are read (a few hundred dates at
    // most), so the query stays on the delivery-date index however large the fleet.
    let delivered = {
        let dates = delivery_dates_of_interest(today, rules);
        let mut all = Vec::new();
        for chunk in dates.chunks(200) {
            let chunk = chunk.to_vec();
            all.extend(load_vehicles(conn, |q| {
                q.filter(vehicles::delivery_date.eq_any(chunk))
            })?);
        }
        all
    };
    for v in &delivered {
        let (Some(d), Some(cust)) = (v.delivery_date, owned_active(v)) else {
            continue;
        };
        let label = vehicle_label(v);
        if rules.delivery_thanks && within(d, today, cu) {
            out.push(cand(
                "delivery_thanks",
                format!("delivery_thanks:{}:{d}", v.id),
                v,
                cust,
                format!("交车24小时感谢回访 {label}"),
                d + Duration::days(1),
            ));
        }
        if let Some(n) = rules.delivery_call_days {
            let due = d + Duration::days(i64::from(n));
            if within(due, today, cu) {
                out.push(cand(
                    "delivery_call",
                    format!("delivery_call:{}:{d}", v.id),
                    v,
                    cust,
                    format!("交车{n}日回访 {label}"),
                    due,
                ));
            }
        }
        if let Some(m) = rules.periodic_call_months.filter(|m| *m > 0) {
            let mut k = 1;
            while k * m <= rules.periodic_call_for_months {
                let due = add_months(d, k * m);
                if due > today {
                    break;
                }
                if within(due, today, cu) {
                    out.push(cand(
                        "periodic_call",
                        format!("periodic_call:{}:{d}:{k}", v.id),
                        v,
                        cust,
                        format!("定期关怀回访(交车后{}个月) {label}", k * m),
                        due,
                    ));
                }
                k += 1;
            }
        }
    }

    // The call after a workshop visit.
    if let Some(n) = rules.after_service_call_days {
        let visits: Vec<(String, String, NaiveDate)> = service_visits::table
            .filter(service_visits::visited_on.ge(window_start - Duration::days(i64::from(n))))
            .filter(service_visits::visited_on.le(today - Duration::days(i64::from(n))))
            .select((
                service_visits::id,
                service_visits::vehicle_id,
                service_visits::visited_on,
            ))
            .load(conn)?;
        for (visit_id, vehicle_id, on) in visits {
            let Some(v) = load_vehicle(conn, &vehicle_id)? else {
                continue;
            };
            let Some(cust) = owned_active(&v) else {
                continue;
            };
            out.push(cand(
                "after_service_call",
                format!("after_service_call:{visit_id}"),
                &v,
                cust,
                format!("维修保养后{n}日回访 {}", vehicle_label(&v)),
                on + Duration::days(i64::from(n)),
            ));
        }
    }

    // First service (首保): by date or projected mileage, whichever comes first.
    if let Some(r) = &rules.first_service {
        let since = add_months_back(today, r.months_after_delivery + 6);
        let fresh = load_vehicles(conn, |q| {
            q.filter(vehicles::first_service_done.eq(false))
                .filter(vehicles::delivery_date.ge(since))
                .filter(vehicles::delivery_date.le(today))
        })?;
        let ids: Vec<String> = fresh.iter().map(|v| v.id.clone()).collect();
        let readings = readings_of(conn, &ids)?;
        for v in &fresh {
            let (Some(d), Some(cust)) = (v.delivery_date, owned_active(v)) else {
                continue;
            };
            let by_date = add_months(d, r.months_after_delivery);
            let pts = readings.get(&v.id).cloned().unwrap_or_default();
            let by_km = day_reaching(&pts, Some(d), r.km);
            let due = by_km.map_or(by_date, |k| k.min(by_date));
            let trigger = due - Duration::days(i64::from(r.remind_days_before));
            if trigger <= today && today <= due + Duration::days(60) {
                out.push(cand(
                    "first_service",
                    format!("first_service:{}", v.id),
                    v,
                    cust,
                    format!("首保提醒 {}", vehicle_label(v)),
                    due,
                ));
            }
        }
    }

    // Scheduled maintenance (定期保养) after the last service.
    if let Some(r) = &rules.maintenance {
        let recent_enough = add_months_back(today, r.interval_months + 3);
        let serviced = load_vehicles(conn, |q| {
            q.filter(vehicles::first_service_done.eq(true))
                .filter(vehicles::last_service_on.ge(recent_enough))
                .filter(vehicles::last_service_on.le(today - Duration::days(14)))
        })?;
        let ids: Vec<String> = serviced.iter().map(|v| v.id.clone()).collect();
        let readings = readings_of(conn, &ids)?;
        for v in &serviced {
            let (Some(base), Some(cust)) = (v.last_service_on, owned_active(v)) else {
                continue;
            };
            let pts = readings.get(&v.id).cloned().unwrap_or_default();
            let by_date = add_months(base, r.interval_months);
            let base_km = pts
                .iter()
                .filter(|(d, _)| *d <= base)
                .map(|(_, k)| *k)
                .max();
            let by_km =
                base_km.and_then(|b| day_reaching(&pts, v.delivery_date, b + r.interval_km));
            let due = by_km
                .map_or(by_date, |k| k.min(by_date))
                .max(base + Duration::days(14));
            let trigger = due - Duration::days(i64::from(r.remind_days_before));
            if trigger <= today && today <= due + Duration::days(60) {
                let why = match by_km {
                    Some(k) if k < by_date => {
                        let km = projected_km(&pts, v.delivery_date, due).unwrap_or_default();
                        format!("预计里程约{km}公里")
                    }
                    _ => format!("距上次保养{}个月", r.interval_months),
                };
                out.push(cand(
                    "maintenance",
                    format!("maintenance:{}:{base}", v.id),
                    v,
                    cust,
                    format!("定期保养提醒({why}) {}", vehicle_label(v)),
                    due,
                ));
            }
        }
    }

    // Insurance renewal and annual inspection: the N days before the date.
    if let Some(n) = rules.insurance_days_before {
        let horizon = today + Duration::days(i64::from(n));
        let expiring = load_vehicles(conn, |q| {
            q.filter(vehicles::insurance_expiry.ge(today))
                .filter(vehicles::insurance_expiry.le(horizon))
        })?;
        for v in &expiring {
            let (Some(e), Some(cust)) = (v.insurance_expiry, owned_active(v)) else {
                continue;
            };
            let insurer = v.insurer.clone().unwrap_or_default();
            out.push(cand(
                "insurance_renewal",
                format!("insurance_renewal:{}:{e}", v.id),
                v,
                cust,
                format!("续保提醒: {insurer}保单{e}到期 {}", vehicle_label(v)),
                e - Duration::days(i64::from(n.min(7))),
            ));
        }
    }
    if let Some(n) = rules.inspection_days_before {
        let horizon = today + Duration::days(i64::from(n));
        let due_soon = load_vehicles(conn, |q| {
            q.filter(vehicles::inspection_due.ge(today))
                .filter(vehicles::inspection_due.le(horizon))
        })?;
        for v in &due_soon {
            let (Some(e), Some(cust)) = (v.inspection_due, owned_active(v)) else {
                continue;
            };
            out.push(cand(
                "annual_inspection",
                format!("annual_inspection:{}:{e}", v.id),
                v,
                cust,
                format!("年审提醒: {e}前年检 {}", vehicle_label(v)),
                e,
            ));
        }
    }

    // Birthdays, N days ahead; 29 February is greeted on 28 February in other years.
    if let Some(n) = rules.birthday_days_before {
        for back in 0..=i64::from(cu) {
            let run_day = today - Duration::days(back);
            let bday = run_day + Duration::days(i64::from(n));
            let mut mds = vec![format!("{:02}-{:02}", bday.month(), bday.day())];
            if bday.month() == 2
                && bday.day() == 28
                && NaiveDate::from_ymd_opt(bday.year(), 2, 29).is_none()
            {
                mds.push("02-29".into());
            }
            let rows: Vec<(String, String, String)> = customers::table
                .filter(customers::birthday_md.eq_any(&mds))
                .filter(customers::status.eq("active"))
                .select((customers::id, customers::store_id, customers::name))
                .load(conn)?;
            for (id, store, name) in rows {
                out.push(CareCandidate {
                    rule: "birthday",
                    dedupe_key: format!("birthday:{id}:{}", bday.year()),
                    store_id: store,
                    customer_id: Some(id),
                    vehicle_id: None,
                    title: format!("生日祝福 {name}"),
                    due_on: bday,
                });
            }
        }
    }
    Ok(out)
}

/// Delivery days for which some delivery rule falls due within the catch-up window ending
/// today.
fn delivery_dates_of_interest(today: NaiveDate, rules: &CareRules) -> Vec<NaiveDate> {
    let cu = i64::from(rules.catch_up_days);
    let mut set = std::collections::BTreeSet::new();
    for back in 0..=cu {
        let d = today - Duration::days(back);
        if rules.delivery_thanks {
            set.insert(d);
        }
        if let Some(n) = rules.delivery_call_days {
            set.insert(d - Duration::days(i64::from(n)));
        }
    }
    if let Some(m) = rules.periodic_call_months.filter(|m| *m > 0) {
        let mut k = 1;
        while k * m <= rules.periodic_call_for_months {
            let span = k * m;
            // Month-end clamping maps several delivery days onto one due day: scan a few
            // days around the inverse and keep the ones that land in the window.
            let mut d = add_months_back(today, span) - Duration::days(cu + 4);
            let last = add_months_back(today, span) + Duration::days(4);
            while d <= last {
                if within(add_months(d, span), today, rules.catch_up_days) {
                    set.insert(d);
                }
                d += Duration::days(1);
            }
            k += 1;
        }
    }
    set.into_iter().collect()
}

fn add_months_back(d: NaiveDate, m: u32) -> NaiveDate {
    d.checked_sub_months(Months::new(m)).unwrap_or(d)
}

fn pick_assignee(rules: &CareRules, store: &str, key: &str) -> Option<String> {
    let staff = rules.assignees.get(store)?;
    if staff.is_empty() {
        return None;
    }
    // Stable spread: the same task always goes to the same person, whichever run made it.
    let h = key
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    staff.get((h % staff.len() as u64) as usize).cloned()
}

/// A task row as the engine writes it (see `engine::insert_task_rows`).
pub(crate) struct NewTaskRow<'a> {
    pub(crate) id: String,
    pub(crate) store_id: &'a str,
    pub(crate) customer_id: Option<&'a str>,
    pub(crate) vehicle_id: Option<&'a str>,
    pub(crate) rule: &'a str,
    pub(crate) dedupe_key: Option<&'a str>,
    pub(crate) title: &'a str,
    pub(crate) due_on: NaiveDate,
    pub(crate) assigned_to: Option<String>,
    pub(crate) status: &'a str,
    pub(crate) note: &'a str,
    pub(crate) created_at: NaiveDateTime,
    pub(crate) updated_at: NaiveDateTime,
}

/// The daily job: creates the follow-up tasks the rules (and `sources`) call for today, each
/// once. Safe to run twice, or on several servers at once.
pub fn run_care_engine(
    conn: &mut DbConnection,
    today: NaiveDate,
    rules: &CareRules,
    sources: &[&dyn CareSource],
    now: DateTime<Utc>,
) -> Result<CareRunReport> {
    let mut cands = care_candidates(conn, today, rules)?;
    for s in sources {
        cands.extend(s.candidates(conn, today)?);
    }
    let mut seen = HashSet::new();
    cands.retain(|c| seen.insert(c.dedupe_key.clone()));
    let mut report = CareRunReport::default();
    let actor = Actor::system("care-engine");
    // 2000 rows of 13 values stay under both engines' bound-parameter limits.
    for chunk in cands.chunks(2000) {
        // Most days most candidates already have their task: a plain read finds those
        // without taking the write lock; only chunks with something new open a transaction
        // (which checks again, so a concurrent run cannot slip a duplicate in).
        let keys: Vec<&str> = chunk.iter().map(|k| k.dedupe_key.as_str()).collect();
        let present: i64 = follow_up_tasks::table
            .filter(follow_up_tasks::dedupe_key.eq_any(&keys))
            .count()
            .get_result(conn)?;
        if present as usize == chunk.len() {
            report.already_present += chunk.len() as u32;
            continue;
        }
        let mut tries = 0;
        let part = loop {
            tries += 1;
            let r = write_tx(conn, |c| {
                let mut part = CareRunReport::default();
                let keys: Vec<&str> = chunk.iter().map(|k| k.dedupe_key.as_str()).collect();
                let existing: HashSet<String> = follow_up_tasks::table
                    .filter(follow_up_tasks::dedupe_key.eq_any(&keys))
                    .select(follow_up_tasks::dedupe_key)
                    .load::<Option<String>>(c)?
                    .into_iter()
                    .flatten()
                    .collect();
                let custs: Vec<&str> = chunk
                    .iter()
                    .filter_map(|k| k.customer_id.as_deref())
                    .collect();
                // Customers who asked not to be called get no calls, greetings or reminders.
                let no_call: HashSet<String> = marketing_consents::table
                    .filter(marketing_consents::customer_id.eq_any(&custs))
                    .filter(marketing_consents::channel.eq("phone"))
                    .filter(marketing_consents::granted.eq(false))
                    .select(marketing_consents::customer_id)
                    .load::<String>(c)?
                    .into_iter()
                    .collect();
                let ts = to_db_time(now);
                let mut rows = Vec::new();
                for k in chunk {
                    if existing.contains(&k.dedupe_key) {
                        part.already_present += 1;
                        continue;
                    }
                    if k.customer_id
                        .as_ref()
                        .is_some_and(|id| no_call.contains(id))
                    {
                        part.opted_out += 1;
                        continue;
                    }
                    rows.push(NewTaskRow {
                        id: dms_core::new_id(),
                        store_id: &k.store_id,
                        customer_id: k.customer_id.as_deref(),
                        vehicle_id: k.vehicle_id.as_deref(),
                        rule: k.rule,
                        dedupe_key: Some(&k.dedupe_key),
                        title: &k.title,
                        due_on: k.due_on,
                        assigned_to: pick_assignee(rules, &k.store_id, &k.dedupe_key),
                        status: "open",
                        note: "",
                        created_at: ts,
                        updated_at: ts,
                    });
                    *part.created.entry(k.rule.to_string()).or_default() += 1;
                }
                // One multi-row INSERT per chunk: a first run over a large fleet makes hundreds of
                // thousands of tasks.
                crate::engine::insert_task_rows(c, &rows)?;
                if part.total_created() > 0 {
                    audit(
                        c,
                        &actor,
                        None,
                        "care.run",
                        "follow_up_tasks",
                        &today.to_string(),
                        json!({"created": part.created}),
                    )?;
                }
                Ok::<_, CrmError>(part)
            });
            match r {
                // Another server inserted the same task between our check and our insert (the
                // unique dedupe key caught it): run the chunk again, it now sees that task.
                Err(CrmError::Db(e)) if dms_db::is_unique_violation(&e) && tries < 3 => continue,
                other => break other?,
            }
        };
        for (k, n) in part.created {
            *report.created.entry(k).or_default() += n;
        }
        report.already_present += part.already_present;
        report.opted_out += part.opted_out;
    }
    Ok(report)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = follow_up_tasks)]
pub struct FollowUpTask {
    pub id: String,
    pub store_id: String,
    pub customer_id: Option<String>,
    pub vehicle_id: Option<String>,
    pub rule: String,
    pub dedupe_key: Option<String>,
    pub title: String,
    pub due_on: NaiveDate,
    pub assigned_to: Option<String>,
    /// `open`, `done` or `cancelled`.
    pub status: String,
    pub outcome: Option<String>,
    pub refusal_reason: Option<String>,
    pub note: String,
    pub completed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Why a customer declined; some reasons change the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalReason {
    ServicedElsewhere,
    TooExpensive,
    TooFar,
    /// The car was sold: the vehicle leaves the customer base and its open tasks close.
    CarSold,
    /// The customer moved away: tagged, and open tasks for them close.
    Moved,
    Other(String),
}

impl RefusalReason {
    pub fn code(&self) -> String {
        match self {
            RefusalReason::ServicedElsewhere => "serviced_elsewhere".into(),
            RefusalReason::TooExpensive => "too_expensive".into(),
            RefusalReason::TooFar => "too_far".into(),
            RefusalReason::CarSold => "car_sold".into(),
            RefusalReason::Moved => "moved".into(),
            RefusalReason::Other(s) => format!("other:{s}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    Reached,
    AppointmentMade,
    /// Nobody answered: the task stays open and comes back tomorrow.
    NoAnswer,
    Refused(RefusalReason),
}

impl TaskOutcome {
    pub fn code(&self) -> &'static str {
        match self {
            TaskOutcome::Reached => "reached",
            TaskOutcome::AppointmentMade => "appointment_made",
            TaskOutcome::NoAnswer => "no_answer",
            TaskOutcome::Refused(_) => "refused",
        }
    }
}

fn load_task(c: &mut DbConnection, id: &str) -> Result<Option<FollowUpTask>> {
    Ok(follow_up_tasks::table
        .find(id)
        .select(FollowUpTask::as_select())
        .first(c)
        .optional()?)
}

pub fn get_task(conn: &mut DbConnection, scope: &StoreScope, id: &str) -> Result<FollowUpTask> {
    match load_task(conn, id)? {
        Some(t) if scope.allows(&t.store_id) => Ok(t),
        _ => Err(CrmError::NotFound("task")),
    }
}

/// A task created by hand (a manager's call list, a complaint follow-up).
#[derive(Debug, Clone)]
pub struct NewTask {
    pub store_id: String,
    pub customer_id: Option<String>,
    pub vehicle_id: Option<String>,
    pub title: String,
    pub due_on: NaiveDate,
    pub assigned_to: Option<String>,
}

pub fn create_task(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    new: &NewTask,
    now: DateTime<Utc>,
) -> Result<FollowUpTask> {
    if new.title.trim().is_empty() {
        return Err(CrmError::invalid("title", "required"));
    }
    if !scope.allows(&new.store_id) {
        return Err(CrmError::invalid("store_id", "no such store among yours"));
    }
    write_tx(conn, |c| {
        if let Some(cid) = &new.customer_id {
            load_row(c, cid)?
                .ok_or_else(|| CrmError::invalid("customer_id", "no such customer"))?;
        }
        let id = dms_core::new_id();
        let ts = to_db_time(now);
        diesel::insert_into(follow_up_tasks::table)
            .values((
                follow_up_tasks::id.eq(&id),
                follow_up_tasks::store_id.eq(&new.store_id),
                follow_up_tasks::customer_id.eq(new.customer_id.as_deref()),
                follow_up_tasks::vehicle_id.eq(new.vehicle_id.as_deref()),
                follow_up_tasks::rule.eq("manual"),
                follow_up_tasks::title.eq(new.title.trim()),
                follow_up_tasks::due_on.eq(new.due_on),
                follow_up_tasks::assigned_to.eq(new.assigned_to.as_deref()),
                follow_up_tasks::status.eq("open"),
                follow_up_tasks::note.eq(""),
                follow_up_tasks::created_at.eq(ts),
                follow_up_tasks::updated_at.eq(ts),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&new.store_id),
            "task.create",
            "follow_up_task",
            &id,
            json!({}),
        )?;
        load_task(c, &id)?.ok_or(CrmError::NotFound("task"))
    })
}

fn cancel_open(
    c: &mut DbConnection,
    filter_vehicle: Option<&str>,
    filter_customer: Option<&str>,
    except: &str,
    ts: NaiveDateTime,
    why: &str,
) -> Result<usize> {
    let mut q = diesel::update(follow_up_tasks::table)
        .filter(follow_up_tasks::status.eq("open"))
        .filter(follow_up_tasks::id.ne(except))
        .into_boxed();
    if let Some(v) = filter_vehicle {
        q = q.filter(follow_up_tasks::vehicle_id.eq(v.to_string()));
    }
    if let Some(cu) = filter_customer {
        q = q.filter(follow_up_tasks::customer_id.eq(cu.to_string()));
    }
    Ok(q.set((
        follow_up_tasks::status.eq("cancelled"),
        follow_up_tasks::note.eq(why.to_string()),
        follow_up_tasks::updated_at.eq(ts),
    ))
    .execute(c)?)
}

/// Records what came of the call. "Car sold" takes the vehicle out of the customer base and
/// closes its other open tasks; "moved" tags the customer and closes their open tasks.
pub fn complete_task(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    id: &str,
    outcome: &TaskOutcome,
    note: &str,
    now: DateTime<Utc>,
) -> Result<FollowUpTask> {
    if let TaskOutcome::Refused(RefusalReason::Other(s)) = outcome {
        if s.trim().is_empty() {
            return Err(CrmError::invalid("reason", "say why"));
        }
    }
    write_tx(conn, |c| {
        let t = get_task(c, scope, id)?;
        if t.status != "open" {
            return Err(CrmError::conflict(
                "status",
                format!("task is {}", t.status),
            ));
        }
        let ts = to_db_time(now);
        let today = dms_core::business_date(now);
        if *outcome == TaskOutcome::NoAnswer {
            let note = if t.note.is_empty() {
                format!("{today} 未接通")
            } else {
                format!("{}\n{today} 未接通", t.note)
            };
            diesel::update(follow_up_tasks::table.find(id))
                .set((
                    follow_up_tasks::due_on.eq(today + Duration::days(1)),
                    follow_up_tasks::note.eq(note),
                    follow_up_tasks::updated_at.eq(ts),
                ))
                .execute(c)?;
        } else {
            let reason = match outcome {
                TaskOutcome::Refused(r) => Some(r.code()),
                _ => None,
            };
            diesel::update(follow_up_tasks::table.find(id))
                .set((
                    follow_up_tasks::status.eq("done"),
                    follow_up_tasks::outcome.eq(Some(outcome.code())),
                    follow_up_tasks::refusal_reason.eq(reason),
                    follow_up_tasks::note.eq(note.trim()),
                    follow_up_tasks::completed_at.eq(Some(ts)),
                    follow_up_tasks::updated_at.eq(ts),
                ))
                .execute(c)?;
            match outcome {
                TaskOutcome::Refused(RefusalReason::CarSold) => {
                    if let Some(v) = match &t.vehicle_id {
                        Some(vid) => load_vehicle(c, vid)?,
                        None => None,
                    } {
                        mark_sold_in_tx(c, actor, &v, today, ts)?;
                        cancel_open(c, Some(&v.id), None, id, ts, "车辆已售出")?;
                    }
                }
                TaskOutcome::Refused(RefusalReason::Moved) => {
                    if let Some(cid) = &t.customer_id {
                        insert_tag(c, cid, "已迁出", ts)?;
                        cancel_open(c, None, Some(cid), id, ts, "客户已迁出")?;
                    }
                }
                _ => {}
            }
        }
        audit(
            c,
            actor,
            Some(&t.store_id),
            "task.outcome",
            "follow_up_task",
            id,
            json!({"outcome": outcome.code(), "reason": match outcome { TaskOutcome::Refused(r) => Some(r.code()), _ => None }}),
        )?;
        load_task(c, id)?.ok_or(CrmError::NotFound("task"))
    })
}

#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub assigned_to: Option<String>,
    pub status: Option<String>,
    pub rule: Option<String>,
    pub due_on_or_before: Option<NaiveDate>,
    pub customer_id: Option<String>,
}

pub fn list_tasks(
    conn: &mut DbConnection,
    scope: &StoreScope,
    filter: &TaskFilter,
    page: &PageRequest,
) -> Result<(Vec<FollowUpTask>, Option<String>)> {
    let mut q = follow_up_tasks::table
        .select(FollowUpTask::as_select())
        .into_boxed();
    if let StoreScope::Stores(ids) = scope {
        q = q.filter(follow_up_tasks::store_id.eq_any(ids.clone()));
    }
    if let Some(a) = &filter.assigned_to {
        q = q.filter(follow_up_tasks::assigned_to.eq(a.clone()));
    }
    if let Some(s) = &filter.status {
        q = q.filter(follow_up_tasks::status.eq(s.clone()));
    }
    if let Some(r) = &filter.rule {
        q = q.filter(follow_up_tasks::rule.eq(r.clone()));
    }
    if let Some(d) = filter.due_on_or_before {
        q = q.filter(follow_up_tasks::due_on.le(d));
    }
    if let Some(cu) = &filter.customer_id {
        q = q.filter(follow_up_tasks::customer_id.eq(cu.clone()));
    }
    if let Some(Cursor { after_id }) = &page.after {
        q = q.filter(follow_up_tasks::id.gt(after_id.clone()));
    }
    let rows = q
        .order(follow_up_tasks::id.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(page.finish(rows, |t: &FollowUpTask| &t.id))
}

/// Seed 004's figures per rule for tasks due in `[from, to)`: how many were due, reached,
/// turned into appointments, and why customers declined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CareStats {
    pub due: i64,
    pub contacted: i64,
    pub appointments: i64,
    pub refusals: BTreeMap<String, i64>,
}

pub fn care_stats(
    conn: &mut DbConnection,
    scope: &StoreScope,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<BTreeMap<String, CareStats>> {
    let mut q = follow_up_tasks::table
        .filter(follow_up_tasks::due_on.ge(from))
        .filter(follow_up_tasks::due_on.lt(to))
        .select((
            follow_up_tasks::rule,
            follow_up_tasks::outcome,
            follow_up_tasks::refusal_reason,
        ))
        .into_boxed();
    if let StoreScope::Stores(ids) = scope {
        q = q.filter(follow_up_tasks::store_id.eq_any(ids.clone()));
    }
    let rows: Vec<(String, Option<String>, Option<String>)> = q.load(conn)?;
    let mut out: BTreeMap<String, CareStats> = BTreeMap::new();
    for (rule, outcome, reason) in rows {
        let e = out.entry(rule).or_default();
        e.due += 1;
        if outcome.is_some() {
            e.contacted += 1;
        }
        if outcome.as_deref() == Some("appointment_made") {
            e.appointments += 1;
        }
        if let Some(r) = reason {
            *e.refusals.entry(r).or_default() += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The date shortcut finds exactly the delivery days a scan of every day would find,
    /// month ends and leap years included.
    #[test]
    fn delivery_dates_match_a_full_scan() {
        let rules = CareRules::default();
        let mut today = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        let end = NaiveDate::from_ymd_opt(2029, 1, 1).unwrap();
        while today < end {
            let fast: std::collections::BTreeSet<NaiveDate> =
                delivery_dates_of_interest(today, &rules)
                    .into_iter()
                    .collect();
            let cu = rules.catch_up_days;
            let mut d = today - Duration::days(800);
            while d <= today {
                let hit = within(d, today, cu)
                    || within(d + Duration::days(7), today, cu)
                    || (1..=12).any(|k| within(add_months(d, 2 * k), today, cu));
                assert_eq!(hit, fast.contains(&d), "today {today}, delivered {d}");
                d += Duration::days(1);
            }
            today += Duration::days(1);
        }
    }
}
