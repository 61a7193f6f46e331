//! The one customer record every department shares: individuals and companies, their phone
//! numbers, addresses, ID number, birthday, preferences, tags, marketing consent per channel
//! and the staff member who owns the relationship; duplicate detection on create; search by
//! name, phone, plate, VIN and (through [`CardLookup`]) member card number.
//!
//! `customers.phone` is the primary number and stays unique because the owners' app logs in
//! with it (identity looks customers up by phone). Further numbers go to `customer_phones`,
//! which is not unique: that is where a second record of the same person shows up, and what the
//! duplicate check and the merge work on.

use crate::engine::filter_prefix;
use crate::schema::{
    customer_addresses, customer_phones, customer_tags, marketing_consents, vehicles,
};
use crate::validate::{check_phone, name_key, IdNumber, Vin, VinPolicy};
use crate::{audit, CrmError, DuplicateMatch, MatchKind, Result};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use dms_core::{Cursor, PageRequest, StoreScope};
use dms_db::schema::{customers, stores};
use dms_db::{to_db_time, write_tx, DbConnection};
use dms_identity::Actor;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerKind {
    Individual,
    Company,
}

impl CustomerKind {
    pub fn code(&self) -> &'static str {
        match self {
            CustomerKind::Individual => "individual",
            CustomerKind::Company => "company",
        }
    }

    pub fn from_code(s: &str) -> Option<CustomerKind> {
        match s {
            "individual" => Some(CustomerKind::Individual),
            "company" => Some(CustomerKind::Company),
            _ => None,
        }
    }
}

/// Channels a customer may consent to marketing on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Sms,
    Email,
    Phone,
    Wechat,
}

impl Channel {
    pub fn code(&self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Phone => "phone",
            Channel::Wechat => "wechat",
        }
    }

    pub fn from_code(s: &str) -> Option<Channel> {
        match s {
            "sms" => Some(Channel::Sms),
            "email" => Some(Channel::Email),
            "phone" => Some(Channel::Phone),
            "wechat" => Some(Channel::Wechat),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = customers)]
struct CustomerRow {
    id: String,
    store_id: String,
    name: String,
    phone: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    kind: String,
    gender: Option<String>,
    email: Option<String>,
    id_number: Option<String>,
    birthday: Option<NaiveDate>,
    contact_person: Option<String>,
    tax_id: Option<String>,
    preferences: String,
    notes: String,
    owner_staff_id: Option<String>,
    status: String,
    merged_into_id: Option<String>,
}

/// A customer as the CRM sees it. `id_number` prints masked.
#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub store_id: String,
    pub kind: CustomerKind,
    pub name: String,
    pub phone: String,
    pub gender: Option<String>,
    pub email: Option<String>,
    pub id_number: Option<IdNumber>,
    pub birthday: Option<NaiveDate>,
    pub contact_person: Option<String>,
    pub tax_id: Option<String>,
    pub preferences: serde_json::Value,
    pub notes: String,
    pub owner_staff_id: Option<String>,
    /// `active`, or `merged` (then `merged_into_id` names the survivor).
    pub status: String,
    pub merged_into_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CustomerRow> for Customer {
    fn from(r: CustomerRow) -> Self {
        Customer {
            kind: CustomerKind::from_code(&r.kind).unwrap_or(CustomerKind::Individual),
            // A stored number was validated on the way in; one that no longer parses (edited
            // by hand in the database) is shown as absent rather than failing the whole read.
            id_number: r.id_number.as_deref().and_then(|s| IdNumber::parse(s).ok()),
            preferences: serde_json::from_str(&r.preferences).unwrap_or_else(|_| json!({})),
            id: r.id,
            store_id: r.store_id,
            name: r.name,
            phone: r.phone,
            gender: r.gender,
            email: r.email,
            birthday: r.birthday,
            contact_person: r.contact_person,
            tax_id: r.tax_id,
            notes: r.notes,
            owner_staff_id: r.owner_staff_id,
            status: r.status,
            merged_into_id: r.merged_into_id,
            created_at: dms_db::from_db_time(r.created_at),
            updated_at: dms_db::from_db_time(r.updated_at),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewPhone {
    pub phone: String,
    /// 手机 / 家庭 / 单位 ... free text.
    pub label: String,
}

#[derive(Debug, Clone, Default)]
pub struct NewAddress {
    pub label: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub line: String,
    pub postal_code: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ConsentInput {
    pub channel: Channel,
    pub granted: bool,
    /// The day the customer gave (or withdrew) consent.
    pub on: NaiveDate,
    /// Where: "展厅登记表", "app", "电话" ...
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub store_id: String,
    pub kind: CustomerKind,
    pub name: String,
    pub phone: String,
    pub other_phones: Vec<NewPhone>,
    pub email: Option<String>,
    pub gender: Option<String>,
    pub id_number: Option<String>,
    pub birthday: Option<NaiveDate>,
    pub contact_person: Option<String>,
    pub tax_id: Option<String>,
    pub preferences: serde_json::Value,
    pub tags: Vec<String>,
    pub addresses: Vec<NewAddress>,
    pub consents: Vec<ConsentInput>,
    pub owner_staff_id: Option<String>,
    pub notes: String,
    /// VINs of cars the customer brings, checked against existing vehicles for duplicates.
    pub probe_vins: Vec<String>,
    /// Create even though likely duplicates exist (after a person looked at them).
    pub allow_duplicate: bool,
}

impl NewCustomer {
    /// An individual with just a name and a mobile number; the rest empty.
    pub fn individual(store_id: &str, name: &str, phone: &str) -> NewCustomer {
        NewCustomer {
            store_id: store_id.to_string(),
            kind: CustomerKind::Individual,
            name: name.to_string(),
            phone: phone.to_string(),
            other_phones: vec![],
            email: None,
            gender: None,
            id_number: None,
            birthday: None,
            contact_person: None,
            tax_id: None,
            preferences: json!({}),
            tags: vec![],
            addresses: vec![],
            consents: vec![],
            owner_staff_id: None,
            notes: String::new(),
            probe_vins: vec![],
            allow_duplicate: false,
        }
    }
}

/// Changes to a customer: `None` leaves a field alone; `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct CustomerUpdate {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<Option<String>>,
    pub gender: Option<Option<String>>,
    pub id_number: Option<Option<String>>,
    pub birthday: Option<Option<NaiveDate>>,
    pub contact_person: Option<Option<String>>,
    pub tax_id: Option<Option<String>>,
    pub preferences: Option<serde_json::Value>,
    pub notes: Option<String>,
    pub owner_staff_id: Option<Option<String>>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = customer_phones)]
pub struct CustomerPhone {
    pub id: String,
    pub customer_id: String,
    pub phone: String,
    pub label: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = customer_addresses)]
pub struct CustomerAddress {
    pub id: String,
    pub customer_id: String,
    pub label: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub line: String,
    pub postal_code: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = marketing_consents)]
pub struct MarketingConsent {
    pub id: String,
    pub customer_id: String,
    pub channel: String,
    pub granted: bool,
    pub consent_on: NaiveDate,
    pub source: String,
    pub recorded_at: NaiveDateTime,
}

/// Everything on the customer's card.
#[derive(Debug, Clone)]
pub struct CustomerProfile {
    pub customer: Customer,
    pub phones: Vec<CustomerPhone>,
    pub addresses: Vec<CustomerAddress>,
    pub tags: Vec<String>,
    pub consents: Vec<MarketingConsent>,
}

/// How a member card number becomes customer ids. The membership crate implements it; the CRM
/// search calls it when the query looks like a card number.
pub trait CardLookup {
    fn customers_by_card(&self, conn: &mut DbConnection, card_number: &str) -> Result<Vec<String>>;
}

fn check_name(name: &str) -> Result<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 {
        return Err(CrmError::invalid("name", "1-100 characters"));
    }
    Ok(n.to_string())
}

fn check_email(e: &str) -> Result<String> {
    let e = e.trim();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
        })
        && !e.contains(char::is_whitespace);
    if ok {
        Ok(e.to_string())
    } else {
        Err(CrmError::invalid("email", "not an e-mail address"))
    }
}

fn check_tag(t: &str) -> Result<String> {
    let t = t.trim();
    if t.is_empty() || t.chars().count() > 32 {
        return Err(CrmError::invalid("tags", "each tag 1-32 characters"));
    }
    Ok(t.to_string())
}

fn check_preferences(p: &serde_json::Value) -> Result<String> {
    if !p.is_object() {
        return Err(CrmError::invalid("preferences", "must be an object"));
    }
    Ok(p.to_string())
}

fn birthday_md(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| format!("{:02}-{:02}", d.month(), d.day()))
}

pub(crate) fn load_row(conn: &mut DbConnection, id: &str) -> Result<Option<Customer>> {
    Ok(customers::table
        .find(id)
        .select(CustomerRow::as_select())
        .first(conn)
        .optional()?
        .map(Customer::from))
}

/// The customer if it exists and the caller's scope covers its store.
pub fn get_customer(conn: &mut DbConnection, scope: &StoreScope, id: &str) -> Result<Customer> {
    match load_row(conn, id)? {
        Some(c) if scope.allows(&c.store_id) => Ok(c),
        _ => Err(CrmError::NotFound("customer")),
    }
}

pub fn get_customer_profile(
    conn: &mut DbConnection,
    scope: &StoreScope,
    id: &str,
) -> Result<CustomerProfile> {
    let customer = get_customer(conn, scope, id)?;
    let phones = customer_phones::table
        .filter(customer_phones::customer_id.eq(id))
        .order(customer_phones::id.asc())
        .select(CustomerPhone::as_select())
        .load(conn)?;
    let addresses = customer_addresses::table
        .filter(customer_addresses::customer_id.eq(id))
        .order(customer_addresses::id.asc())
        .select(CustomerAddress::as_select())
        .load(conn)?;
    let tags = customer_tags::table
        .filter(customer_tags::customer_id.eq(id))
        .order(customer_tags::tag.asc())
        .select(customer_tags::tag)
        .load(conn)?;
    let consents = marketing_consents::table
        .filter(marketing_consents::customer_id.eq(id))
        .order(marketing_consents::channel.asc())
        .select(MarketingConsent::as_select())
        .load(conn)?;
    Ok(CustomerProfile {
        customer,
        phones,
        addresses,
        tags,
        consents,
    })
}

/// What to look for when checking a new or imported record for duplicates.
#[derive(Debug, Clone, Default)]
pub struct DuplicateProbe {
    pub phones: Vec<String>,
    pub id_number: Option<IdNumber>,
    pub vins: Vec<String>,
}

/// Active customers sharing a phone (primary or further), the ID number or a car's VIN.
/// Customers are shared across the group, so the check spans every store.
pub fn find_duplicates(
    conn: &mut DbConnection,
    probe: &DuplicateProbe,
) -> Result<Vec<DuplicateMatch>> {
    // (customer, kind, the probe's field)
    let mut hits: Vec<(String, MatchKind, String)> = Vec::new();
    let phone_field = |p: &str| {
        let i = probe.phones.iter().position(|x| x == p).unwrap_or(0);
        format!("phones[{i}]")
    };
    if !probe.phones.is_empty() {
        let primary: Vec<(String, String)> = customers::table
            .filter(customers::phone.eq_any(&probe.phones))
            .select((customers::id, customers::phone))
            .load(conn)?;
        hits.extend(
            primary
                .into_iter()
                .map(|(id, p)| (id, MatchKind::Phone, phone_field(&p))),
        );
        let other: Vec<(String, String)> = customer_phones::table
            .filter(customer_phones::phone.eq_any(&probe.phones))
            .select((customer_phones::customer_id, customer_phones::phone))
            .load(conn)?;
        hits.extend(
            other
                .into_iter()
                .map(|(id, p)| (id, MatchKind::Phone, phone_field(&p))),
        );
    }
    if let Some(idn) = &probe.id_number {
        let ids: Vec<String> = customers::table
            .filter(customers::id_number_hash.eq(idn.match_hash()))
            .select(customers::id)
            .load(conn)?;
        hits.extend(
            ids.into_iter()
                .map(|id| (id, MatchKind::IdNumber, "id_number".to_string())),
        );
    }
    if !probe.vins.is_empty() {
        let rows: Vec<(Option<String>, String)> = vehicles::table
            .filter(vehicles::vin.eq_any(&probe.vins))
            .select((vehicles::customer_id, vehicles::vin))
            .load(conn)?;
        for (id, vin) in rows {
            let Some(id) = id else { continue };
            // The same VIN may be listed twice: each listing is its own field.
            for (i, _) in probe.vins.iter().enumerate().filter(|(_, v)| **v == vin) {
                hits.push((id.clone(), MatchKind::Vin, format!("vins[{i}]")));
            }
        }
    }
    let mut out: Vec<DuplicateMatch> = Vec::new();
    for (id, kind, field) in hits {
        if out.iter().any(|m| m.customer_id == id && m.field == field) {
            continue;
        }
        if let Some(c) = load_row(conn, &id)? {
            if c.status == "active" {
                out.push(DuplicateMatch {
                    customer_id: c.id,
                    store_id: c.store_id,
                    name: c.name,
                    matched_on: kind,
                    field,
                });
            }
        }
    }
    Ok(out)
}

fn store_exists(conn: &mut DbConnection, store_id: &str) -> Result<bool> {
    let n: i64 = stores::table
        .filter(stores::id.eq(store_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Creates a customer with its phones, addresses, tags and consents. Refuses with
/// [`CrmError::DuplicateSuspected`] when the phone, ID number or a VIN is already known, unless
/// `allow_duplicate`; a primary phone already used as someone's primary phone is always a
/// conflict (it is the app login).
pub fn create_customer(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    new: &NewCustomer,
    now: DateTime<Utc>,
) -> Result<Customer> {
    let company = new.kind == CustomerKind::Company;
    let name = check_name(&new.name)?;
    let phone = check_phone(&new.phone, company)?;
    let mut others = Vec::new();
    // The request's index of each further number, to name `other_phones[i].phone` in a match.
    let mut other_at = Vec::new();
    for (i, p) in new.other_phones.iter().enumerate() {
        let n = check_phone(&p.phone, true)?;
        if n != phone && !others.iter().any(|(x, _): &(String, String)| *x == n) {
            others.push((n, p.label.trim().to_string()));
            other_at.push(i);
        }
    }
    let email = new.email.as_deref().map(check_email).transpose()?;
    let id_number = new.id_number.as_deref().map(IdNumber::parse).transpose()?;
    if company && id_number.is_some() {
        return Err(CrmError::invalid(
            "id_number",
            "a company has a tax id, not a personal ID number",
        ));
    }
    let birthday = new
        .birthday
        .or_else(|| id_number.as_ref().and_then(IdNumber::birthday));
    if let Some(b) = birthday {
        if b > dms_core::business_date(now) {
            return Err(CrmError::invalid("birthday", "lies in the future"));
        }
    }
    let preferences = check_preferences(&new.preferences)?;
    let tags = new
        .tags
        .iter()
        .map(|t| check_tag(t))
        .collect::<Result<Vec<_>>>()?;
    let mut vins = Vec::new();
    for v in &new.probe_vins {
        vins.push(
            Vin::parse(v, VinPolicy::AllowBadCheckDigit)?
                .as_str()
                .to_string(),
        );
    }
    for a in &new.addresses {
        if a.line.trim().is_empty() || a.city.trim().is_empty() {
            return Err(CrmError::invalid(
                "addresses",
                "city and street are required",
            ));
        }
    }
    write_tx(conn, |c| {
        if !scope.allows(&new.store_id) || !store_exists(c, &new.store_id)? {
            return Err(CrmError::invalid("store_id", "no such store among yours"));
        }
        let mut phones = vec![phone.clone()];
        phones.extend(others.iter().map(|(p, _)| p.clone()));
        let mut matches = find_duplicates(
            c,
            &DuplicateProbe {
                phones,
                id_number: id_number.clone(),
                vins: vins.clone(),
            },
        )?;
        for m in &mut matches {
            if let Some(i) = m
                .field
                .strip_prefix("phones[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|r| r.parse::<usize>().ok())
            {
                m.field = match i.checked_sub(1).and_then(|j| other_at.get(j)) {
                    None => "phone".to_string(),
                    Some(k) => format!("other_phones[{k}].phone"),
                };
            }
        }
        let taken: i64 = customers::table
            .filter(customers::phone.eq(&phone))
            .count()
            .get_result(c)?;
        if taken > 0 {
            if new.allow_duplicate {
                return Err(CrmError::conflict(
                    "phone",
                    "another customer logs in with this phone; add it as a further number or merge",
                ));
            }
            return Err(CrmError::DuplicateSuspected { matches });
        }
        if !matches.is_empty() && !new.allow_duplicate {
            return Err(CrmError::DuplicateSuspected { matches });
        }
        let id = dms_core::new_id();
        let ts = to_db_time(now);
        diesel::insert_into(customers::table)
            .values((
                customers::id.eq(&id),
                customers::store_id.eq(&new.store_id),
                customers::name.eq(&name),
                customers::phone.eq(&phone),
                customers::created_at.eq(ts),
                customers::updated_at.eq(ts),
                customers::kind.eq(new.kind.code()),
                customers::name_norm.eq(name_key(&name)),
                customers::gender.eq(new.gender.as_deref()),
                customers::email.eq(email.as_deref()),
                customers::id_number.eq(id_number.as_ref().map(IdNumber::expose)),
                customers::id_number_hash.eq(id_number.as_ref().map(IdNumber::match_hash)),
                customers::birthday.eq(birthday),
                customers::birthday_md.eq(birthday_md(birthday)),
                customers::contact_person.eq(new.contact_person.as_deref()),
                customers::tax_id.eq(new.tax_id.as_deref()),
                customers::preferences.eq(&preferences),
                customers::notes.eq(&new.notes),
                customers::owner_staff_id.eq(new.owner_staff_id.as_deref()),
                customers::status.eq("active"),
            ))
            .execute(c)?;
        for (p, label) in &others {
            insert_phone(c, &id, p, label, ts)?;
        }
        for a in &new.addresses {
            insert_address(c, &id, a, ts)?;
        }
        for t in &tags {
            insert_tag(c, &id, t, ts)?;
        }
        for k in &new.consents {
            upsert_consent(c, &id, k, ts)?;
        }
        audit(
            c,
            actor,
            Some(&new.store_id),
            "customer.create",
            "customer",
            &id,
            json!({
                "kind": new.kind.code(),
                "duplicates_acknowledged": matches.iter().map(|m| &m.customer_id).collect::<Vec<_>>(),
            }),
        )?;
        load_row(c, &id)?.ok_or(CrmError::NotFound("customer"))
    })
}

fn insert_phone(
    c: &mut DbConnection,
    customer_id: &str,
    phone: &str,
    label: &str,
    ts: NaiveDateTime,
) -> Result<()> {
    diesel::insert_into(customer_phones::table)
        .values((
            customer_phones::id.eq(dms_core::new_id()),
            customer_phones::customer_id.eq(customer_id),
            customer_phones::phone.eq(phone),
            customer_phones::label.eq(label),
            customer_phones::created_at.eq(ts),
        ))
        .execute(c)?;
    Ok(())
}

fn insert_address(
    c: &mut DbConnection,
    customer_id: &str,
    a: &NewAddress,
    ts: NaiveDateTime,
) -> Result<String> {
    let id = dms_core::new_id();
    diesel::insert_into(customer_addresses::table)
        .values((
            customer_addresses::id.eq(&id),
            customer_addresses::customer_id.eq(customer_id),
            customer_addresses::label.eq(a.label.trim()),
            customer_addresses::province.eq(a.province.trim()),
            customer_addresses::city.eq(a.city.trim()),
            customer_addresses::district.eq(a.district.trim()),
            customer_addresses::line.eq(a.line.trim()),
            customer_addresses::postal_code.eq(a.postal_code.as_deref()),
            customer_addresses::created_at.eq(ts),
        ))
        .execute(c)?;
    Ok(id)
}

pub(crate) fn insert_tag(
    c: &mut DbConnection,
    customer_id: &str,
    tag: &str,
    ts: NaiveDateTime,
) -> Result<()> {
    let n: i64 = customer_tags::table
        .filter(customer_tags::customer_id.eq(customer_id))
        .filter(customer_tags::tag.eq(tag))
        .count()
        .get_result(c)?;
    if n == 0 {
        diesel::insert_into(customer_tags::table)
            .values((
                customer_tags::id.eq(dms_core::new_id()),
                customer_tags::customer_id.eq(customer_id),
                customer_tags::tag.eq(tag),
                customer_tags::created_at.eq(ts),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// One row per customer and channel: update it, or insert when there is none. (Written as
/// update-then-insert rather than an engine-specific upsert; the write transaction makes it
/// race-free.)
fn upsert_consent(
    c: &mut DbConnection,
    customer_id: &str,
    k: &ConsentInput,
    ts: NaiveDateTime,
) -> Result<()> {
    let source = k.source.trim();
    if source.is_empty() {
        return Err(CrmError::invalid(
            "consents",
            "the source of consent is required",
        ));
    }
    let n = diesel::update(
        marketing_consents::table
            .filter(marketing_consents::customer_id.eq(customer_id))
            .filter(marketing_consents::channel.eq(k.channel.code())),
    )
    .set((
        marketing_consents::granted.eq(k.granted),
        marketing_consents::consent_on.eq(k.on),
        marketing_consents::source.eq(source),
        marketing_consents::recorded_at.eq(ts),
    ))
    .execute(c)?;
    if n == 0 {
        diesel::insert_into(marketing_consents::table)
            .values((
                marketing_consents::id.eq(dms_core::new_id()),
                marketing_consents::customer_id.eq(customer_id),
                marketing_consents::channel.eq(k.channel.code()),
                marketing_consents::granted.eq(k.granted),
                marketing_consents::consent_on.eq(k.on),
                marketing_consents::source.eq(source),
                marketing_consents::recorded_at.eq(ts),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// Records consent given or withdrawn on one channel, with the day and the source.
pub fn set_consent(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    customer_id: &str,
    consent: &ConsentInput,
    now: DateTime<Utc>,
) -> Result<()> {
    if consent.on > dms_core::business_date(now) {
        return Err(CrmError::invalid("on", "lies in the future"));
    }
    write_tx(conn, |c| {
        let cust = get_customer(c, scope, customer_id)?;
        upsert_consent(c, customer_id, consent, to_db_time(now))?;
        audit(
            c,
            actor,
            Some(&cust.store_id),
            "customer.consent",
            "customer",
            customer_id,
            json!({"channel": consent.channel.code(), "granted": consent.granted,
                   "on": consent.on, "source": consent.source}),
        )
    })
}

/// Whether the customer currently agrees to marketing on `channel` (no record = no).
pub fn has_marketing_consent(
    conn: &mut DbConnection,
    customer_id: &str,
    channel: Channel,
) -> Result<bool> {
    let g: Option<bool> = marketing_consents::table
        .filter(marketing_consents::customer_id.eq(customer_id))
        .filter(marketing_consents::channel.eq(channel.code()))
        .select(marketing_consents::granted)
        .first(conn)
        .optional()?;
    Ok(g == Some(true))
}

/// Whether the customer has withdrawn consent on `channel` (they asked not to be contacted).
pub fn has_opted_out(conn: &mut DbConnection, customer_id: &str, channel: Channel) -> Result<bool> {
    let g: Option<bool> = marketing_consents::table
        .filter(marketing_consents::customer_id.eq(customer_id))
        .filter(marketing_consents::channel.eq(channel.code()))
        .select(marketing_consents::granted)
        .first(conn)
        .optional()?;
    Ok(g == Some(false))
}

pub fn update_customer(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    id: &str,
    upd: &CustomerUpdate,
    now: DateTime<Utc>,
) -> Result<Customer> {
    write_tx(conn, |c| {
        let cur = get_customer(c, scope, id)?;
        if cur.status != "active" {
            return Err(CrmError::conflict(
                "status",
                "customer was merged into another",
            ));
        }
        let company = cur.kind == CustomerKind::Company;
        let mut changed: Vec<&str> = Vec::new();
        let name = match &upd.name {
            Some(n) => {
                changed.push("name");
                check_name(n)?
            }
            None => cur.name.clone(),
        };
        let phone = match &upd.phone {
            Some(p) => {
                let p = check_phone(p, company)?;
                if p != cur.phone {
                    let taken: i64 = customers::table
                        .filter(customers::phone.eq(&p))
                        .count()
                        .get_result(c)?;
                    if taken > 0 {
                        return Err(CrmError::conflict(
                            "phone",
                            "another customer has this phone",
                        ));
                    }
                    changed.push("phone");
                }
                p
            }
            None => cur.phone.clone(),
        };
        let email = match &upd.email {
            Some(e) => {
                changed.push("email");
                e.as_deref().map(check_email).transpose()?
            }
            None => cur.email.clone(),
        };
        let id_number = match &upd.id_number {
            Some(n) => {
                changed.push("id_number");
                let parsed = n.as_deref().map(IdNumber::parse).transpose()?;
                if company && parsed.is_some() {
                    return Err(CrmError::invalid("id_number", "not for a company"));
                }
                parsed
            }
            None => cur.id_number.clone(),
        };
        let birthday = match upd.birthday {
            Some(b) => {
                changed.push("birthday");
                if b.is_some_and(|b| b > dms_core::business_date(now)) {
                    return Err(CrmError::invalid("birthday", "lies in the future"));
                }
                b
            }
            None => cur.birthday,
        };
        let preferences = match &upd.preferences {
            Some(p) => {
                changed.push("preferences");
                check_preferences(p)?
            }
            None => cur.preferences.to_string(),
        };
        let pick = |u: &Option<Option<String>>,
                    cur: &Option<String>,
                    f: &'static str,
                    ch: &mut Vec<&str>| {
            match u {
                Some(v) => {
                    ch.push(f);
                    v.clone()
                }
                None => cur.clone(),
            }
        };
        let gender = pick(&upd.gender, &cur.gender, "gender", &mut changed);
        let contact = pick(
            &upd.contact_person,
            &cur.contact_person,
            "contact_person",
            &mut changed,
        );
        let tax_id = pick(&upd.tax_id, &cur.tax_id, "tax_id", &mut changed);
        let owner = pick(
            &upd.owner_staff_id,
            &cur.owner_staff_id,
            "owner_staff_id",
            &mut changed,
        );
        let notes = match &upd.notes {
            Some(n) => {
                changed.push("notes");
                n.clone()
            }
            None => cur.notes.clone(),
        };
        diesel::update(customers::table.find(id))
            .set((
                customers::name.eq(&name),
                customers::name_norm.eq(name_key(&name)),
                customers::phone.eq(&phone),
                customers::email.eq(email.as_deref()),
                customers::gender.eq(gender.as_deref()),
                customers::id_number.eq(id_number.as_ref().map(IdNumber::expose)),
                customers::id_number_hash.eq(id_number.as_ref().map(IdNumber::match_hash)),
                customers::birthday.eq(birthday),
                customers::birthday_md.eq(birthday_md(birthday)),
                customers::contact_person.eq(contact.as_deref()),
                customers::tax_id.eq(tax_id.as_deref()),
                customers::preferences.eq(&preferences),
                customers::notes.eq(&notes),
                customers::owner_staff_id.eq(owner.as_deref()),
                customers::updated_at.eq(to_db_time(now)),
            ))
            .execute(c)?;
        // Field names only: the audit log must not carry the ID number or other values.
        audit(
            c,
            actor,
            Some(&cur.store_id),
            "customer.update",
            "customer",
            id,
            json!({ "fields": changed }),
        )?;
        load_row(c, id)?.ok_or(CrmError::NotFound("customer"))
    })
}

/// Adds a further phone number (home, office, a family member's). A number another
/// customer already has is refused as a likely duplicate unless `allow_duplicate`.
pub fn add_customer_phone(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    customer_id: &str,
    phone: &NewPhone,
    allow_duplicate: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let p = check_phone(&phone.phone, true)?;
    write_tx(conn, |c| {
        let cust = get_customer(c, scope, customer_id)?;
        if cust.phone == p {
            return Err(CrmError::conflict(
                "phone",
                "already the customer's main number",
            ));
        }
        // The same number on another customer is how duplicates show up: say so, unless a
        // person has looked (a family member's phone shared by two customers).
        let matches: Vec<DuplicateMatch> = find_duplicates(
            c,
            &DuplicateProbe {
                phones: vec![p.clone()],
                ..Default::default()
            },
        )?
        .into_iter()
        .filter(|m| m.customer_id != customer_id)
        .map(|m| DuplicateMatch {
            field: "phone".into(),
            ..m
        })
        .collect();
        if !matches.is_empty() && !allow_duplicate {
            return Err(CrmError::DuplicateSuspected { matches });
        }
        insert_phone(c, customer_id, &p, phone.label.trim(), to_db_time(now))?;
        audit(
            c,
            actor,
            Some(&cust.store_id),
            "customer.phone_add",
            "customer",
            customer_id,
            json!({}),
        )
    })
}

pub fn add_customer_address(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    customer_id: &str,
    address: &NewAddress,
    now: DateTime<Utc>,
) -> Result<String> {
    if address.line.trim().is_empty() || address.city.trim().is_empty() {
        return Err(CrmError::invalid("line", "city and street are required"));
    }
    write_tx(conn, |c| {
        let cust = get_customer(c, scope, customer_id)?;
        let id = insert_address(c, customer_id, address, to_db_time(now))?;
        audit(
            c,
            actor,
            Some(&cust.store_id),
            "customer.address_add",
            "customer",
            customer_id,
            json!({}),
        )?;
        Ok(id)
    })
}

/// Replaces the customer's tags.
pub fn set_customer_tags(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    customer_id: &str,
    tags: &[String],
    now: DateTime<Utc>,
) -> Result<()> {
    let tags = tags
        .iter()
        .map(|t| check_tag(t))
        .collect::<Result<Vec<_>>>()?;
    write_tx(conn, |c| {
        let cust = get_customer(c, scope, customer_id)?;
        diesel::delete(customer_tags::table.filter(customer_tags::customer_id.eq(customer_id)))
            .execute(c)?;
        for t in &tags {
            insert_tag(c, customer_id, t, to_db_time(now))?;
        }
        audit(
            c,
            actor,
            Some(&cust.store_id),
            "customer.tags",
            "customer",
            customer_id,
            json!({"tags": tags}),
        )
    })
}

#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    pub tag: Option<String>,
    pub owner_staff_id: Option<String>,
    pub kind: Option<CustomerKind>,
    /// Merged-away records are hidden unless asked for.
    pub include_merged: bool,
}

/// Customers in id (creation) order, a page at a time.
pub fn list_customers(
    conn: &mut DbConnection,
    scope: &StoreScope,
    filter: &CustomerFilter,
    page: &PageRequest,
) -> Result<(Vec<Customer>, Option<String>)> {
    let mut q = customers::table
        .select(CustomerRow::as_select())
        .into_boxed();
    if let StoreScope::Stores(ids) = scope {
        q = q.filter(customers::store_id.eq_any(ids.clone()));
    }
    if !filter.include_merged {
        q = q.filter(customers::status.eq("active"));
    }
    if let Some(o) = &filter.owner_staff_id {
        q = q.filter(customers::owner_staff_id.eq(o.clone()));
    }
    if let Some(k) = filter.kind {
        q = q.filter(customers::kind.eq(k.code()));
    }
    if let Some(t) = &filter.tag {
        let ids: Vec<String> = customer_tags::table
            .filter(customer_tags::tag.eq(t))
            .select(customer_tags::customer_id)
            .load(conn)?;
        q = q.filter(customers::id.eq_any(ids));
    }
    if let Some(Cursor { after_id }) = &page.after {
        q = q.filter(customers::id.gt(after_id.clone()));
    }
    let rows = q
        .order(customers::id.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    let rows = rows.into_iter().map(Customer::from).collect();
    Ok(page.finish(rows, |c: &Customer| &c.id))
}

/// What the search box understood the query to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchKind {
    Phone,
    Vin,
    Plate,
    Card,
    Name,
}

/// Reads the query the way the front desk types it: digits are a phone prefix (or a card
/// number, when a [`CardLookup`] is given and finds it); 17 VIN characters are a VIN; a
/// province character followed by a letter is a plate (prefix); anything else is a name
/// prefix (case- and space-insensitive, Chinese included).
pub fn classify_query(q: &str) -> SearchKind {
    let t: String = q.chars().filter(|c| !c.is_whitespace()).collect();
    let chars: Vec<char> = t.chars().collect();
    if !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || c == '+' || c == '-')
    {
        return SearchKind::Phone;
    }
    if chars.len() == 17 && t.chars().all(|c| c.is_ascii_alphanumeric()) {
        return SearchKind::Vin;
    }
    if chars.len() >= 2
        && !chars[0].is_ascii()
        && chars[1].is_ascii_alphabetic()
        && crate::validate::normalize_plate(&t).chars().count() <= 8
    {
        return SearchKind::Plate;
    }
    SearchKind::Name
}

fn active_in_scope(
    conn: &mut DbConnection,
    scope: &StoreScope,
    ids: Vec<String>,
    limit: i64,
) -> Result<Vec<Customer>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = customers::table
        .filter(customers::id.eq_any(ids))
        .filter(customers::status.eq("active"))
        .select(CustomerRow::as_select())
        .into_boxed();
    if let StoreScope::Stores(s) = scope {
        q = q.filter(customers::store_id.eq_any(s.clone()));
    }
    let rows = q.order(customers::id.asc()).limit(limit).load(conn)?;
    Ok(rows.into_iter().map(Customer::from).collect())
}

/// The search box: up to `limit` active customers matching `q` (see [`classify_query`]).
pub fn search_customers(
    conn: &mut DbConnection,
    scope: &StoreScope,
    q: &str,
    cards: Option<&dyn CardLookup>,
    limit: u32,
) -> Result<Vec<Customer>> {
    let limit = i64::from(limit.clamp(1, 200));
    let kind = classify_query(q);
    match kind {
        SearchKind::Phone => {
            let digits = crate::validate::normalize_phone(q);
            if digits.len() < 3 {
                return Err(CrmError::invalid("q", "at least 3 digits"));
            }
            if let Some(cards) = cards {
                let ids = cards.customers_by_card(conn, &digits)?;
                if !ids.is_empty() {
                    return active_in_scope(conn, scope, ids, limit);
                }
            }
            let mut pq = customers::table
                .filter(customers::status.eq("active"))
                .select(CustomerRow::as_select())
                .into_boxed();
            pq = filter_prefix!(pq, conn, customers::phone, &digits);
            if let StoreScope::Stores(s) = scope {
                pq = pq.filter(customers::store_id.eq_any(s.clone()));
            }
            let mut out: Vec<Customer> = pq
                .order(customers::phone.asc())
                .limit(limit)
                .load(conn)?
                .into_iter()
                .map(Customer::from)
                .collect();
            if (out.len() as i64) < limit {
                let mut oq = customer_phones::table
                    .select(customer_phones::customer_id)
                    .into_boxed();
                oq = filter_prefix!(oq, conn, customer_phones::phone, &digits);
                let ids: Vec<String> = oq.limit(limit).load(conn)?;
                let ids: Vec<String> = ids
                    .into_iter()
                    .filter(|i| !out.iter().any(|c| &c.id == i))
                    .collect();
                let more = active_in_scope(conn, scope, ids, limit - out.len() as i64)?;
                out.extend(more);
            }
            Ok(out)
        }
        SearchKind::Vin => {
            let v = q.trim().to_ascii_uppercase();
            let ids: Vec<Option<String>> = vehicles::table
                .filter(vehicles::vin.eq(&v))
                .select(vehicles::customer_id)
                .load(conn)?;
            active_in_scope(conn, scope, ids.into_iter().flatten().collect(), limit)
        }
        SearchKind::Plate => {
            let p = crate::validate::normalize_plate(q);
            let mut vq = vehicles::table.select(vehicles::customer_id).into_boxed();
            vq = filter_prefix!(vq, conn, vehicles::plate_norm, &p);
            let ids: Vec<Option<String>> = vq.limit(limit).load(conn)?;
            active_in_scope(conn, scope, ids.into_iter().flatten().collect(), limit)
        }
        SearchKind::Card => Ok(vec![]),
        SearchKind::Name => {
            let key = name_key(q);
            if key.is_empty() {
                return Err(CrmError::invalid("q", "empty query"));
            }
            let mut nq = customers::table
                .filter(customers::status.eq("active"))
                .select(CustomerRow::as_select())
                .into_boxed();
            nq = filter_prefix!(nq, conn, customers::name_norm, &key);
            if let StoreScope::Stores(s) = scope {
                nq = nq.filter(customers::store_id.eq_any(s.clone()));
            }
            Ok(nq
                .order(customers::name_norm.asc())
                .limit(limit)
                .load(conn)?
                .into_iter()
                .map(Customer::from)
                .collect())
        }
    }
}

/// What an import did with each row.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub created: Vec<String>,
    /// Rows held back as likely duplicates: (row index, the existing customers).
    pub duplicates: Vec<(usize, Vec<DuplicateMatch>)>,
    /// Rows refused: (row index, the error).
    pub rejected: Vec<(usize, CrmError)>,
}

/// Imports customers (a department's old spreadsheet) row by row, each in its own
/// transaction: a bad row or a likely duplicate is reported, never half-written, and does
/// not stop the others. Duplicates within the file are caught too, since each row sees the
/// rows created before it.
pub fn import_customers(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    rows: &[NewCustomer],
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    for (i, row) in rows.iter().enumerate() {
        match create_customer(conn, actor, scope, row, now) {
            Ok(c) => report.created.push(c.id),
            Err(CrmError::DuplicateSuspected { matches }) => report.duplicates.push((i, matches)),
            Err(e @ (CrmError::Invalid { .. } | CrmError::Conflict { .. })) => {
                report.rejected.push((i, e))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

/// The customer an owners' app login by `phone` belongs to: the active customer whose main
/// number it is, else the one active customer holding it as a further number (a merged
/// record's old login number ends up there). `None` when unknown or ambiguous.
pub fn customer_for_login_phone(conn: &mut DbConnection, phone: &str) -> Result<Option<String>> {
    let p = crate::validate::normalize_phone(phone);
    let main: Option<String> = customers::table
        .filter(customers::phone.eq(&p))
        .filter(customers::status.eq("active"))
        .select(customers::id)
        .first(conn)
        .optional()?;
    if main.is_some() {
        return Ok(main);
    }
    let holders: Vec<String> = customer_phones::table
        .filter(customer_phones::phone.eq(&p))
        .select(customer_phones::customer_id)
        .load(conn)?;
    let active = active_in_scope(conn, &StoreScope::AllStores, holders, 2)?;
    Ok(match active.as_slice() {
        [one] => Some(one.id.clone()),
        _ => None,
    })
}
