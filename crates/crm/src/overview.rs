//! Customer 360: what a service advisor sees when the customer walks in. The CRM fills in
//! its own parts; other domains (membership summary, recent orders, work orders) plug in
//! through [`Customer360Section`] and contribute nothing until they exist.

use crate::care::FollowUpTask;
use crate::complaints::Complaint;
use crate::customers::{get_customer_profile, CustomerProfile};
use crate::leads::Lead;
use crate::schema::{complaints, follow_up_tasks, leads, service_visits, surveys, vehicles};
use crate::surveys::Survey;
use crate::vehicles::{ServiceVisit, Vehicle};
use crate::Result;
use diesel::prelude::*;
use dms_core::StoreScope;
use dms_db::DbConnection;
use std::collections::BTreeMap;

/// One block of the 360 view contributed by another crate.
pub trait Customer360Section {
    /// The block's name in the view, e.g. `membership`, `orders`.
    fn key(&self) -> &'static str;
    /// The block for this customer, or `None` when there is nothing to show.
    fn section(
        &self,
        conn: &mut DbConnection,
        scope: &StoreScope,
        customer_id: &str,
    ) -> Result<Option<serde_json::Value>>;
}

#[derive(Debug, Clone)]
pub struct Customer360 {
    pub profile: CustomerProfile,
    pub vehicles: Vec<Vehicle>,
    pub open_leads: Vec<Lead>,
    pub recent_visits: Vec<ServiceVisit>,
    pub open_tasks: Vec<FollowUpTask>,
    pub open_complaints: Vec<Complaint>,
    /// Answered surveys, newest first.
    pub satisfaction: Vec<Survey>,
    /// Blocks from other domains, by key.
    pub sections: BTreeMap<String, serde_json::Value>,
}

/// Shared data (the customer, their cars) is shown whatever store owns it; store-owned
/// activity (leads, tasks, complaints, visits, surveys) only from the caller's stores.
pub fn customer_360(
    conn: &mut DbConnection,
    scope: &StoreScope,
    customer_id: &str,
    extra: &[&dyn Customer360Section],
) -> Result<Customer360> {
    let profile = get_customer_profile(conn, scope, customer_id)?;
    let stores: Option<Vec<String>> = match scope {
        StoreScope::AllStores => None,
        StoreScope::Stores(s) => Some(s.clone()),
    };
    let vehicles = vehicles::table
        .filter(vehicles::customer_id.eq(customer_id))
        .order(vehicles::id.asc())
        .select(Vehicle::as_select())
        .load(conn)?;
    let mut lq = leads::table
        .filter(leads::status.eq("open"))
        .filter(
            leads::customer_id
                .eq(customer_id)
                .or(leads::phone.eq(&profile.customer.phone)),
        )
        .select(Lead::as_select())
        .into_boxed();
    let mut vq = service_visits::table
        .filter(service_visits::customer_id.eq(customer_id))
        .select(ServiceVisit::as_select())
        .into_boxed();
    let mut tq = follow_up_tasks::table
        .filter(follow_up_tasks::customer_id.eq(customer_id))
        .filter(follow_up_tasks::status.eq("open"))
        .select(FollowUpTask::as_select())
        .into_boxed();
    let mut cq = complaints::table
        .filter(complaints::customer_id.eq(customer_id))
        .filter(complaints::status.ne("closed"))
        .select(Complaint::as_select())
        .into_boxed();
    let mut sq = surveys::table
        .filter(surveys::customer_id.eq(customer_id))
        .filter(surveys::status.eq("answered"))
        .select(Survey::as_select())
        .into_boxed();
    if let Some(s) = &stores {
        lq = lq.filter(leads::store_id.eq_any(s.clone()));
        vq = vq.filter(service_visits::store_id.eq_any(s.clone()));
        tq = tq.filter(follow_up_tasks::store_id.eq_any(s.clone()));
        cq = cq.filter(complaints::store_id.eq_any(s.clone()));
        sq = sq.filter(surveys::store_id.eq_any(s.clone()));
    }
    let open_leads = lq.order(leads::id.asc()).load(conn)?;
    let recent_visits = vq
        .order(service_visits::visited_on.desc())
        .limit(10)
        .load(conn)?;
    let open_tasks = tq.order(follow_up_tasks::due_on.asc()).load(conn)?;
    let open_complaints = cq.order(complaints::id.asc()).load(conn)?;
    let satisfaction = sq.order(surveys::id.desc()).limit(10).load(conn)?;
    let mut sections = BTreeMap::new();
    for s in extra {
        if let Some(v) = s.section(conn, scope, customer_id)? {
            sections.insert(s.key().to_string(), v);
        }
    }
    Ok(Customer360 {
        profile,
        vehicles,
        open_leads,
        recent_visits,
        open_tasks,
        open_complaints,
        satisfaction,
        sections,
    })
}
