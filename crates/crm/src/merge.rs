//! Merging two records of the same customer. Every row that points at the merged record is
//! moved to the survivor in one transaction, the merged record stays (status `merged`,
//! `merged_into_id`) so nothing is lost, and `customer_merges` plus the audit log say what
//! moved.
//!
//! Other crates own tables that point at customers too (membership cards, orders, work
//! orders). They implement [`CustomerLinks`] and the server registers them in the
//! [`MergeRegistry`] it passes here, so their rows move in the same transaction: a merge that
//! fails anywhere changes nothing.
//!
//! The merged record's primary phone is the app login and unique, so it is freed (replaced by
//! `merged:<id>`) and kept as a further number of the survivor.

use crate::customers::{get_customer, insert_tag};
use crate::schema::{
    complaints, customer_addresses, customer_merges, customer_phones, customer_tags,
    follow_up_tasks, leads, marketing_consents, outbox_messages, service_visits, surveys,
    vehicle_owners, vehicles,
};
use crate::{audit, CrmError, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use dms_core::StoreScope;
use dms_db::schema::customers;
use dms_db::{to_db_time, write_tx, DbConnection};
use dms_identity::Actor;
use serde_json::json;

/// Rows of one table (or one crate) that refer to a customer.
pub trait CustomerLinks: Send + Sync {
    /// Shown in the merge report and audit trail, e.g. `membership.cards`.
    fn name(&self) -> &'static str;
    /// Re-points every row that refers to `from` at `into`; runs inside the merge transaction
    /// and returns how many rows moved. Must not drop rows: resolve clashes (a unique key per
    /// customer) by keeping both or by keeping the newer and recording it.
    fn move_customer(&self, conn: &mut DbConnection, from: &str, into: &str) -> Result<u64>;
}

type MoveFn = fn(&mut DbConnection, &str, &str) -> Result<u64>;

/// A handler from a plain function; the CRM registers its own tables this way.
pub struct FnLinks {
    pub name: &'static str,
    pub move_fn: MoveFn,
}

impl CustomerLinks for FnLinks {
    fn name(&self) -> &'static str {
        self.name
    }

    fn move_customer(&self, conn: &mut DbConnection, from: &str, into: &str) -> Result<u64> {
        (self.move_fn)(conn, from, into)
    }
}

/// The handlers a merge runs, in order.
pub struct MergeRegistry {
    links: Vec<Box<dyn CustomerLinks>>,
}

macro_rules! simple_move {
    ($name:literal, $table:ident) => {
        FnLinks {
            name: $name,
            move_fn: |c, from, into| {
                Ok(
                    diesel::update($table::table.filter($table::customer_id.eq(from)))
                        .set($table::customer_id.eq(into))
                        .execute(c)? as u64,
                )
            },
        }
    };
}

fn move_tags(c: &mut DbConnection, from: &str, into: &str) -> Result<u64> {
    let tags: Vec<(String, NaiveDateTime)> = customer_tags::table
        .filter(customer_tags::customer_id.eq(from))
        .select((customer_tags::tag, customer_tags::created_at))
        .load(c)?;
    diesel::delete(customer_tags::table.filter(customer_tags::customer_id.eq(from))).execute(c)?;
    for (t, ts) in &tags {
        insert_tag(c, into, t, *ts)?;
    }
    Ok(tags.len() as u64)
}

/// One consent row per channel: the more recent statement of the customer's wish wins.
fn move_consents(c: &mut DbConnection, from: &str, into: &str) -> Result<u64> {
    let theirs: Vec<(String, String, NaiveDateTime)> = marketing_consents::table
        .filter(marketing_consents::customer_id.eq(from))
        .select((
            marketing_consents::id,
            marketing_consents::channel,
            marketing_consents::recorded_at,
        ))
        .load(c)?;
    let mut moved = 0;
    for (id, channel, at) in theirs {
        let ours: Option<(String, NaiveDateTime)> = marketing_consents::table
            .filter(marketing_consents::customer_id.eq(into))
            .filter(marketing_consents::channel.eq(&channel))
            .select((marketing_consents::id, marketing_consents::recorded_at))
            .first(c)
            .optional()?;
        match ours {
            Some((_, our_at)) if our_at >= at => {
                diesel::delete(marketing_consents::table.find(&id)).execute(c)?;
            }
            Some((our_id, _)) => {
                diesel::delete(marketing_consents::table.find(&our_id)).execute(c)?;
                diesel::update(marketing_consents::table.find(&id))
                    .set(marketing_consents::customer_id.eq(into))
                    .execute(c)?;
                moved += 1;
            }
            None => {
                diesel::update(marketing_consents::table.find(&id))
                    .set(marketing_consents::customer_id.eq(into))
                    .execute(c)?;
                moved += 1;
            }
        }
    }
    Ok(moved)
}

impl MergeRegistry {
    /// The CRM's own tables.
    pub fn crm() -> MergeRegistry {
        let links: Vec<Box<dyn CustomerLinks>> = vec![
            Box::new(simple_move!("crm.customer_phones", customer_phones)),
            Box::new(simple_move!("crm.customer_addresses", customer_addresses)),
            Box::new(FnLinks {
                name: "crm.customer_tags",
                move_fn: move_tags,
            }),
            Box::new(FnLinks {
                name: "crm.marketing_consents",
                move_fn: move_consents,
            }),
            Box::new(simple_move!("crm.vehicles", vehicles)),
            Box::new(simple_move!("crm.vehicle_owners", vehicle_owners)),
            Box::new(simple_move!("crm.service_visits", service_visits)),
            Box::new(simple_move!("crm.leads", leads)),
            Box::new(simple_move!("crm.follow_up_tasks", follow_up_tasks)),
            Box::new(simple_move!("crm.complaints", complaints)),
            Box::new(simple_move!("crm.surveys", surveys)),
            Box::new(simple_move!("crm.outbox_messages", outbox_messages)),
        ];
        MergeRegistry { links }
    }

    /// Adds another crate's handler (membership cards, sales orders, service work orders).
    pub fn register(&mut self, links: Box<dyn CustomerLinks>) -> &mut Self {
        self.links.push(links);
        self
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.links.iter().map(|l| l.name()).collect()
    }
}

#[derive(Debug, Clone)]
pub struct MergeReport {
    pub merge_id: String,
    pub survivor_id: String,
    pub merged_id: String,
    /// Rows moved per handler, in registry order.
    pub moved: Vec<(&'static str, u64)>,
    /// Fields of the survivor that were empty and were filled from the merged record.
    pub filled: Vec<&'static str>,
}

/// Merges `merged_id` into `survivor_id`. Both must be active and visible in `scope`.
pub fn merge_customers(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    survivor_id: &str,
    merged_id: &str,
    registry: &MergeRegistry,
    now: DateTime<Utc>,
) -> Result<MergeReport> {
    if survivor_id == merged_id {
        return Err(CrmError::invalid(
            "merged_id",
            "cannot merge a customer into itself",
        ));
    }
    write_tx(conn, |c| {
        let s = get_customer(c, scope, survivor_id)?;
        let m = get_customer(c, scope, merged_id)?;
        if s.status != "active" || m.status != "active" {
            return Err(CrmError::conflict(
                "status",
                "both customers must be active",
            ));
        }
        let ts = to_db_time(now);
        // Free the merged record's login phone and keep the number on the survivor.
        diesel::update(customers::table.find(merged_id))
            .set((
                customers::phone.eq(format!("merged:{merged_id}")),
                customers::status.eq("merged"),
                customers::merged_into_id.eq(Some(survivor_id)),
                customers::id_number_hash.eq(None::<String>),
                customers::updated_at.eq(ts),
            ))
            .execute(c)?;
        // The merged record's owners' app sessions end now: from here on its number logs in
        // as the survivor.
        dms_identity::revoke_principal_sessions(
            c,
            dms_identity::PrincipalKind::Customer,
            merged_id,
        )?;
        diesel::insert_into(customer_phones::table)
            .values((
                customer_phones::id.eq(dms_core::new_id()),
                customer_phones::customer_id.eq(merged_id),
                customer_phones::phone.eq(&m.phone),
                customer_phones::label.eq("合并前主号码"),
                customer_phones::created_at.eq(ts),
            ))
            .execute(c)?;
        let mut moved = Vec::new();
        for l in &registry.links {
            moved.push((l.name(), l.move_customer(c, merged_id, survivor_id)?));
        }
        // Fill the survivor's gaps from the merged record; the survivor's values win.
        let mut filled = Vec::new();
        let mut upd_email = s.email.clone();
        if upd_email.is_none() && m.email.is_some() {
            upd_email = m.email.clone();
            filled.push("email");
        }
        let mut upd_gender = s.gender.clone();
        if upd_gender.is_none() && m.gender.is_some() {
            upd_gender = m.gender.clone();
            filled.push("gender");
        }
        let mut upd_id = s.id_number.clone();
        if upd_id.is_none() && m.id_number.is_some() {
            upd_id = m.id_number.clone();
            filled.push("id_number");
        }
        let mut upd_birthday = s.birthday;
        if upd_birthday.is_none() && m.birthday.is_some() {
            upd_birthday = m.birthday;
            filled.push("birthday");
        }
        let mut upd_contact = s.contact_person.clone();
        if upd_contact.is_none() && m.contact_person.is_some() {
            upd_contact = m.contact_person.clone();
            filled.push("contact_person");
        }
        let mut upd_tax = s.tax_id.clone();
        if upd_tax.is_none() && m.tax_id.is_some() {
            upd_tax = m.tax_id.clone();
            filled.push("tax_id");
        }
        let mut upd_owner = s.owner_staff_id.clone();
        if upd_owner.is_none() && m.owner_staff_id.is_some() {
            upd_owner = m.owner_staff_id.clone();
            filled.push("owner_staff_id");
        }
        let mut prefs = s.preferences.clone();
        if let (Some(p), Some(theirs)) = (prefs.as_object_mut(), m.preferences.as_object()) {
            for (k, v) in theirs {
                if !p.contains_key(k) {
                    p.insert(k.clone(), v.clone());
                    if !filled.contains(&"preferences") {
                        filled.push("preferences");
                    }
                }
            }
        }
        let notes = match (s.notes.is_empty(), m.notes.is_empty()) {
            (_, true) => s.notes.clone(),
            (true, false) => m.notes.clone(),
            (false, false) => format!("{}\n{}", s.notes, m.notes),
        };
        diesel::update(customers::table.find(survivor_id))
            .set((
                customers::email.eq(upd_email),
                customers::gender.eq(upd_gender),
                customers::id_number.eq(upd_id.as_ref().map(|i| i.expose().to_string())),
                customers::id_number_hash.eq(upd_id.as_ref().map(|i| i.match_hash())),
                customers::birthday.eq(upd_birthday),
                customers::birthday_md.eq(upd_birthday.map(|d| d.format("%m-%d").to_string())),
                customers::contact_person.eq(upd_contact),
                customers::tax_id.eq(upd_tax),
                customers::owner_staff_id.eq(upd_owner),
                customers::preferences.eq(prefs.to_string()),
                customers::notes.eq(notes),
                customers::updated_at.eq(ts),
            ))
            .execute(c)?;
        let merge_id = dms_core::new_id();
        let detail = json!({
            "survivor_id": survivor_id,
            "merged_id": merged_id,
            "moved": moved.iter().map(|(n, k)| json!({"links": n, "rows": k})).collect::<Vec<_>>(),
            "filled": filled,
        });
        diesel::insert_into(customer_merges::table)
            .values((
                customer_merges::id.eq(&merge_id),
                customer_merges::survivor_id.eq(survivor_id),
                customer_merges::merged_id.eq(merged_id),
                customer_merges::detail.eq(detail.to_string()),
                customer_merges::actor_id.eq(actor.id.as_deref()),
                customer_merges::merged_at.eq(ts),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&s.store_id),
            "customer.merge",
            "customer",
            survivor_id,
            detail.clone(),
        )?;
        audit(
            c,
            actor,
            Some(&m.store_id),
            "customer.merged_away",
            "customer",
            merged_id,
            detail,
        )?;
        Ok(MergeReport {
            merge_id: merge_id.clone(),
            survivor_id: survivor_id.to_string(),
            merged_id: merged_id.to_string(),
            moved: moved.clone(),
            filled: filled.clone(),
        })
    })
}
