//! Leads (潜在/意向客户): where they came from, the car they want, the intent grade H/A/B/C
//! with a follow-up cadence per grade, the sales consultant they belong to, every contact,
//! grade changes, lost (战败) with a reason, converted (linked to the customer), and the
//! overdue list for the sales manager.

use crate::customers::get_customer;
use crate::schema::{lead_contacts, lead_grade_changes, leads};
use crate::validate::check_phone;
use crate::{audit, CrmError, Result};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use dms_core::{Cursor, PageRequest, StoreScope};
use dms_db::{to_db_time, write_tx, DbConnection};
use dms_identity::Actor;
use serde_json::json;

/// 意向等级: H = buys within days, A = within a couple of weeks, B = within a month or two,
/// C = later or undecided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IntentGrade {
    H,
    A,
    B,
    C,
}

impl IntentGrade {
    pub fn code(&self) -> &'static str {
        match self {
            IntentGrade::H => "H",
            IntentGrade::A => "A",
            IntentGrade::B => "B",
            IntentGrade::C => "C",
        }
    }

    pub fn from_code(s: &str) -> Option<IntentGrade> {
        match s {
            "H" => Some(IntentGrade::H),
            "A" => Some(IntentGrade::A),
            "B" => Some(IntentGrade::B),
            "C" => Some(IntentGrade::C),
            _ => None,
        }
    }
}

/// Days until the next follow-up per grade; configuration, with the usual showroom practice
/// as default (H next day, A every 3 days, B weekly, C monthly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeadCadence {
    pub h_days: u32,
    pub a_days: u32,
    pub b_days: u32,
    pub c_days: u32,
}

impl Default for LeadCadence {
    fn default() -> Self {
        LeadCadence {
            h_days: 1,
            a_days: 3,
            b_days: 7,
            c_days: 30,
        }
    }
}

impl LeadCadence {
    pub fn days(&self, g: IntentGrade) -> u32 {
        match g {
            IntentGrade::H => self.h_days,
            IntentGrade::A => self.a_days,
            IntentGrade::B => self.b_days,
            IntentGrade::C => self.c_days,
        }
    }

    pub fn next_after(&self, g: IntentGrade, on: NaiveDate) -> NaiveDate {
        on + Duration::days(i64::from(self.days(g).max(1)))
    }
}

pub const LEAD_SOURCES: &[&str] = &[
    "walk_in",
    "phone",
    "online",
    "referral",
    "event",
    "auto_show",
    "app",
    "other",
];

/// Who looks at leads: a consultant sees the leads assigned to them, a sales manager every
/// lead of their stores. Leads outside read as not found.
#[derive(Debug, Clone)]
pub struct LeadAccess {
    pub scope: StoreScope,
    /// `Some(staff id)` for a consultant: only their own leads.
    pub own_only: Option<String>,
}

impl LeadAccess {
    pub fn manager(scope: StoreScope) -> LeadAccess {
        LeadAccess {
            scope,
            own_only: None,
        }
    }

    pub fn consultant(scope: StoreScope, staff_id: &str) -> LeadAccess {
        LeadAccess {
            scope,
            own_only: Some(staff_id.to_string()),
        }
    }

    fn sees(&self, l: &Lead) -> bool {
        self.scope.allows(&l.store_id)
            && match &self.own_only {
                Some(me) => l.assigned_to.as_deref() == Some(me.as_str()),
                None => true,
            }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = leads)]
pub struct Lead {
    pub id: String,
    pub store_id: String,
    pub customer_id: Option<String>,
    pub name: String,
    pub phone: String,
    pub source_channel: String,
    pub interest_brand: String,
    pub interest_model: String,
    pub grade: String,
    pub assigned_to: Option<String>,
    /// `open`, `lost` or `converted`.
    pub status: String,
    pub lost_reason: Option<String>,
    pub next_follow_up_on: Option<NaiveDate>,
    pub last_contact_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Lead {
    pub fn intent_grade(&self) -> Option<IntentGrade> {
        IntentGrade::from_code(&self.grade)
    }
}

#[derive(Debug, Clone)]
pub struct NewLead {
    pub store_id: String,
    pub name: String,
    pub phone: String,
    pub source_channel: String,
    pub interest_brand: String,
    pub interest_model: String,
    pub grade: IntentGrade,
    pub assigned_to: Option<String>,
    /// An existing customer (a second car, a referral already on file).
    pub customer_id: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lead_contacts)]
pub struct LeadContact {
    pub id: String,
    pub lead_id: String,
    pub staff_id: Option<String>,
    pub channel: String,
    pub note: String,
    pub contacted_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = lead_grade_changes)]
pub struct LeadGradeChange {
    pub id: String,
    pub lead_id: String,
    pub from_grade: Option<String>,
    pub to_grade: String,
    pub reason: String,
    pub staff_id: Option<String>,
    pub changed_at: NaiveDateTime,
}

/// One contact with the lead, possibly regrading it.
#[derive(Debug, Clone)]
pub struct LeadContactInput {
    /// `phone`, `visit`, `wechat`, `sms`, `test_drive` ...
    pub channel: String,
    pub note: String,
    pub new_grade: Option<IntentGrade>,
}

fn load_lead(c: &mut DbConnection, id: &str) -> Result<Option<Lead>> {
    Ok(leads::table
        .find(id)
        .select(Lead::as_select())
        .first(c)
        .optional()?)
}

pub fn get_lead(conn: &mut DbConnection, access: &LeadAccess, id: &str) -> Result<Lead> {
    match load_lead(conn, id)? {
        Some(l) if access.sees(&l) => Ok(l),
        _ => Err(CrmError::NotFound("lead")),
    }
}

fn record_grade(
    c: &mut DbConnection,
    lead_id: &str,
    from: Option<&str>,
    to: IntentGrade,
    reason: &str,
    actor: &Actor,
    ts: NaiveDateTime,
) -> Result<()> {
    diesel::insert_into(lead_grade_changes::table)
        .values((
            lead_grade_changes::id.eq(dms_core::new_id()),
            lead_grade_changes::lead_id.eq(lead_id),
            lead_grade_changes::from_grade.eq(from),
            lead_grade_changes::to_grade.eq(to.code()),
            lead_grade_changes::reason.eq(reason),
            lead_grade_changes::staff_id.eq(actor.id.as_deref()),
            lead_grade_changes::changed_at.eq(ts),
        ))
        .execute(c)?;
    Ok(())
}

pub fn create_lead(
    conn: &mut DbConnection,
    actor: &Actor,
    access: &LeadAccess,
    new: &NewLead,
    cadence: &LeadCadence,
    now: DateTime<Utc>,
) -> Result<Lead> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(CrmError::invalid("name", "1-100 characters"));
    }
    let phone = check_phone(&new.phone, true)?;
    if !LEAD_SOURCES.contains(&new.source_channel.as_str()) {
        return Err(CrmError::invalid(
            "source_channel",
            format!("one of {}", LEAD_SOURCES.join(", ")),
        ));
    }
    if !access.scope.allows(&new.store_id) {
        return Err(CrmError::invalid("store_id", "no such store among yours"));
    }
    // A consultant's own new lead is theirs; only managers hand leads to others.
    let assigned = match (&access.own_only, &new.assigned_to) {
        (Some(me), Some(other)) if me != other => {
            return Err(CrmError::Forbidden(
                "consultants create leads for themselves".into(),
            ))
        }
        (Some(me), _) => Some(me.clone()),
        (None, a) => a.clone(),
    };
    write_tx(conn, |c| {
        if let Some(cid) = &new.customer_id {
            get_customer(c, &StoreScope::AllStores, cid)
                .map_err(|_| CrmError::invalid("customer_id", "no such customer"))?;
        }
        // One open lead per person and store: a second consultant registering the same
        // walk-in (撞单) is told, instead of two consultants chasing one buyer.
        let open_same: i64 = leads::table
            .filter(leads::store_id.eq(&new.store_id))
            .filter(leads::phone.eq(&phone))
            .filter(leads::status.eq("open"))
            .count()
            .get_result(c)?;
        if open_same > 0 {
            return Err(CrmError::conflict(
                "phone",
                "an open lead with this phone exists in this store",
            ));
        }
        let id = dms_core::new_id();
        let ts = to_db_time(now);
        diesel::insert_into(leads::table)
            .values((
                leads::id.eq(&id),
                leads::store_id.eq(&new.store_id),
                leads::customer_id.eq(new.customer_id.as_deref()),
                leads::name.eq(name),
                leads::phone.eq(&phone),
                leads::source_channel.eq(&new.source_channel),
                leads::interest_brand.eq(new.interest_brand.trim()),
                leads::interest_model.eq(new.interest_model.trim()),
                leads::grade.eq(new.grade.code()),
                leads::assigned_to.eq(assigned.as_deref()),
                leads::status.eq("open"),
                leads::next_follow_up_on.eq(Some(
                    cadence.next_after(new.grade, dms_core::business_date(now)),
                )),
                leads::created_at.eq(ts),
                leads::updated_at.eq(ts),
            ))
            .execute(c)?;
        record_grade(c, &id, None, new.grade, "首次登记", actor, ts)?;
        audit(
            c,
            actor,
            Some(&new.store_id),
            "lead.create",
            "lead",
            &id,
            json!({"grade": new.grade.code(), "source": new.source_channel}),
        )?;
        load_lead(c, &id)?.ok_or(CrmError::NotFound("lead"))
    })
}

fn open_lead(c: &mut DbConnection, access: &LeadAccess, id: &str) -> Result<Lead> {
    let l = get_lead(c, access, id)?;
    if l.status != "open" {
        return Err(CrmError::conflict(
            "status",
            format!("lead is {}", l.status),
        ));
    }
    Ok(l)
}

/// Hands the lead to a consultant (managers only).
pub fn assign_lead(
    conn: &mut DbConnection,
    actor: &Actor,
    access: &LeadAccess,
    id: &str,
    staff_id: &str,
    now: DateTime<Utc>,
) -> Result<Lead> {
    if access.own_only.is_some() {
        return Err(CrmError::Forbidden(
            "only a sales manager assigns leads".into(),
        ));
    }
    write_tx(conn, |c| {
        let l = open_lead(c, access, id)?;
        diesel::update(leads::table.find(id))
            .set((
                leads::assigned_to.eq(Some(staff_id)),
                leads::updated_at.eq(to_db_time(now)),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&l.store_id),
            "lead.assign",
            "lead",
            id,
            json!({"from": l.assigned_to, "to": staff_id}),
        )?;
        load_lead(c, id)?.ok_or(CrmError::NotFound("lead"))
    })
}

/// Logs a contact; the next follow-up is set from the (possibly new) grade's cadence.
pub fn log_lead_contact(
    conn: &mut DbConnection,
    actor: &Actor,
    access: &LeadAccess,
    id: &str,
    input: &LeadContactInput,
    cadence: &LeadCadence,
    now: DateTime<Utc>,
) -> Result<Lead> {
    let channel = input.channel.trim();
    if channel.is_empty() {
        return Err(CrmError::invalid("channel", "required"));
    }
    write_tx(conn, |c| {
        let l = open_lead(c, access, id)?;
        let ts = to_db_time(now);
        diesel::insert_into(lead_contacts::table)
            .values((
                lead_contacts::id.eq(dms_core::new_id()),
                lead_contacts::lead_id.eq(id),
                lead_contacts::staff_id.eq(actor.id.as_deref()),
                lead_contacts::channel.eq(channel),
                lead_contacts::note.eq(input.note.trim()),
                lead_contacts::contacted_at.eq(ts),
            ))
            .execute(c)?;
        let current = l.intent_grade().unwrap_or(IntentGrade::C);
        let grade = input.new_grade.unwrap_or(current);
        if grade != current {
            record_grade(c, id, Some(&l.grade), grade, input.note.trim(), actor, ts)?;
        }
        diesel::update(leads::table.find(id))
            .set((
                leads::grade.eq(grade.code()),
                leads::last_contact_at.eq(Some(ts)),
                leads::next_follow_up_on.eq(Some(
                    cadence.next_after(grade, dms_core::business_date(now)),
                )),
                leads::updated_at.eq(ts),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&l.store_id),
            "lead.contact",
            "lead",
            id,
            json!({"channel": channel, "grade": grade.code()}),
        )?;
        load_lead(c, id)?.ok_or(CrmError::NotFound("lead"))
    })
}

/// 战败: the lead bought elsewhere or gave up; the reason feeds the loss analysis.
pub fn mark_lead_lost(
    conn: &mut DbConnection,
    actor: &Actor,
    access: &LeadAccess,
    id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Lead> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(CrmError::invalid("reason", "say why the lead was lost"));
    }
    write_tx(conn, |c| {
        let l = open_lead(c, access, id)?;
        let ts = to_db_time(now);
        diesel::update(leads::table.find(id))
            .set((
                leads::status.eq("lost"),
                leads::lost_reason.eq(Some(reason)),
                leads::next_follow_up_on.eq(None::<NaiveDate>),
                leads::closed_at.eq(Some(ts)),
                leads::updated_at.eq(ts),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&l.store_id),
            "lead.lost",
            "lead",
            id,
            json!({"reason": reason}),
        )?;
        load_lead(c, id)?.ok_or(CrmError::NotFound("lead"))
    })
}

/// The lead bought: link it to the customer record (created by the caller, or existing).
pub fn convert_lead(
    conn: &mut DbConnection,
    actor: &Actor,
    access: &LeadAccess,
    id: &str,
    customer_id: &str,
    now: DateTime<Utc>,
) -> Result<Lead> {
    write_tx(conn, |c| {
        let l = open_lead(c, access, id)?;
        get_customer(c, &StoreScope::AllStores, customer_id)
            .map_err(|_| CrmError::invalid("customer_id", "no such customer"))?;
        let ts = to_db_time(now);
        diesel::update(leads::table.find(id))
            .set((
                leads::status.eq("converted"),
                leads::customer_id.eq(Some(customer_id)),
                leads::next_follow_up_on.eq(None::<NaiveDate>),
                leads::closed_at.eq(Some(ts)),
                leads::updated_at.eq(ts),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&l.store_id),
            "lead.convert",
            "lead",
            id,
            json!({"customer_id": customer_id}),
        )?;
        load_lead(c, id)?.ok_or(CrmError::NotFound("lead"))
    })
}

pub fn lead_contacts_of(
    conn: &mut DbConnection,
    access: &LeadAccess,
    id: &str,
) -> Result<Vec<LeadContact>> {
    get_lead(conn, access, id)?;
    Ok(lead_contacts::table
        .filter(lead_contacts::lead_id.eq(id))
        .order(lead_contacts::id.asc())
        .select(LeadContact::as_select())
        .load(conn)?)
}

pub fn lead_grade_history(
    conn: &mut DbConnection,
    access: &LeadAccess,
    id: &str,
) -> Result<Vec<LeadGradeChange>> {
    get_lead(conn, access, id)?;
    Ok(lead_grade_changes::table
        .filter(lead_grade_changes::lead_id.eq(id))
        .order(lead_grade_changes::id.asc())
        .select(LeadGradeChange::as_select())
        .load(conn)?)
}

#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    pub status: Option<String>,
    pub grade: Option<IntentGrade>,
    pub assigned_to: Option<String>,
}

type Backend = <DbConnection as diesel::Connection>::Backend;

fn scoped(
    access: &LeadAccess,
) -> leads::BoxedQuery<'static, Backend, diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<Lead, Backend>>>
{
    let mut q = leads::table.select(Lead::as_select()).into_boxed();
    if let StoreScope::Stores(ids) = &access.scope {
        q = q.filter(leads::store_id.eq_any(ids.clone()));
    }
    if let Some(me) = &access.own_only {
        q = q.filter(leads::assigned_to.eq(me.clone()));
    }
    q
}

pub fn list_leads(
    conn: &mut DbConnection,
    access: &LeadAccess,
    filter: &LeadFilter,
    page: &PageRequest,
) -> Result<(Vec<Lead>, Option<String>)> {
    let mut q = scoped(access);
    if let Some(s) = &filter.status {
        q = q.filter(leads::status.eq(s.clone()));
    }
    if let Some(g) = filter.grade {
        q = q.filter(leads::grade.eq(g.code()));
    }
    if let Some(a) = &filter.assigned_to {
        q = q.filter(leads::assigned_to.eq(a.clone()));
    }
    if let Some(Cursor { after_id }) = &page.after {
        q = q.filter(leads::id.gt(after_id.clone()));
    }
    let rows = q
        .order(leads::id.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(page.finish(rows, |l: &Lead| &l.id))
}

/// Open leads whose follow-up date has passed (due today is not yet overdue), most overdue
/// first: the sales manager's list.
pub fn overdue_leads(
    conn: &mut DbConnection,
    access: &LeadAccess,
    today: NaiveDate,
    limit: u32,
) -> Result<Vec<Lead>> {
    Ok(scoped(access)
        .filter(leads::status.eq("open"))
        .filter(leads::next_follow_up_on.lt(today))
        .order((leads::next_follow_up_on.asc(), leads::id.asc()))
        .limit(i64::from(limit.clamp(1, 1000)))
        .load(conn)?)
}

/// Lead counts per key (a grade or a consultant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionRow {
    pub key: String,
    pub leads: i64,
    pub converted: i64,
    pub lost: i64,
}

/// Lead conversion by current grade and by consultant for leads created in `[from, to)`.
pub fn lead_conversion(
    conn: &mut DbConnection,
    scope: &StoreScope,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(Vec<ConversionRow>, Vec<ConversionRow>)> {
    let access = LeadAccess::manager(scope.clone());
    let rows: Vec<Lead> = scoped(&access)
        .filter(leads::created_at.ge(from.and_time(chrono::NaiveTime::MIN)))
        .filter(leads::created_at.lt(to.and_time(chrono::NaiveTime::MIN)))
        .load(conn)?;
    let tally = |key_of: &dyn Fn(&Lead) -> String| {
        let mut m: std::collections::BTreeMap<String, ConversionRow> = Default::default();
        for l in &rows {
            let k = key_of(l);
            let e = m.entry(k.clone()).or_insert(ConversionRow {
                key: k,
                leads: 0,
                converted: 0,
                lost: 0,
            });
            e.leads += 1;
            e.converted += i64::from(l.status == "converted");
            e.lost += i64::from(l.status == "lost");
        }
        m.into_values().collect::<Vec<_>>()
    };
    let by_grade = tally(&|l| l.grade.clone());
    let by_consultant = tally(&|l| l.assigned_to.clone().unwrap_or_default());
    Ok((by_grade, by_consultant))
}
