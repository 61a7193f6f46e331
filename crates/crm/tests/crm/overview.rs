//! Customer 360: the CRM's own parts plus blocks other crates plug in.

use crate::common::*;
use dms_core::StoreScope;
use dms_crm::*;
use dms_db::testing::TestDb;
use serde_json::json;

struct Membership;
impl Customer360Section for Membership {
    fn key(&self) -> &'static str {
        "membership"
    }
    fn section(
        &self,
        _: &mut dms_db::DbConnection,
        _: &StoreScope,
        _: &str,
    ) -> dms_crm::Result<Option<serde_json::Value>> {
        Ok(Some(json!({"tier": "金卡", "points": 1200})))
    }
}
struct NoOrders;
impl Customer360Section for NoOrders {
    fn key(&self) -> &'static str {
        "orders"
    }
    fn section(
        &self,
        _: &mut dms_db::DbConnection,
        _: &StoreScope,
        _: &str,
    ) -> dms_crm::Result<Option<serde_json::Value>> {
        Ok(None)
    }
}

fn walk_in_view(db: &TestDb) {
    let mut c = conn(db);
    let bj = store(&mut c, "BJ01");
    let sh = store(&mut c, "SH01");
    let all = StoreScope::AllStores;
    let a = customer(&mut c, &bj, "林七", "13900011001");
    let mut nv = NewVehicle::new(&bj, "1HGCM82633A004352");
    nv.customer_id = Some(a.id.clone());
    nv.delivery_date = Some(day(2026, 3, 1));
    create_vehicle(&mut c, &actor(), &all, &nv, at(2026, 3, 1, 1)).unwrap();
    // A lead at the other store, found by phone before it is linked.
    create_lead(
        &mut c,
        &actor(),
        &LeadAccess::manager(all.clone()),
        &NewLead {
            store_id: sh.clone(),
            name: "林七".into(),
            phone: "13900011001".into(),
            source_channel: "phone".into(),
            interest_brand: "奥迪".into(),
            interest_model: "Q5L".into(),
            grade: IntentGrade::B,
            assigned_to: None,
            customer_id: None,
        },
        &LeadCadence::default(),
        at(2026, 3, 2, 1),
    )
    .unwrap();
    run_care_engine(
        &mut c,
        day(2026, 3, 1),
        &CareRules::default(),
        &[],
        at(2026, 3, 1, 2),
    )
    .unwrap();
    open_complaint(
        &mut c,
        &actor(),
        &all,
        &NewComplaint {
            store_id: bj.clone(),
            customer_id: a.id.clone(),
            vehicle_id: None,
            order_ref: None,
            work_order_ref: None,
            channel: "app".into(),
            category: "waiting_time".into(),
            severity: Severity::Normal,
            description: "交车等太久".into(),
            assigned_to: None,
        },
        &ComplaintPolicy::default(),
        at(2026, 3, 1, 3),
    )
    .unwrap();
    let v = customer_360(&mut c, &all, &a.id, &[&Membership, &NoOrders]).unwrap();
    assert_eq!(v.profile.customer.id, a.id);
    assert_eq!(v.vehicles.len(), 1);
    assert_eq!(v.open_leads.len(), 1);
    assert_eq!(v.open_tasks.len(), 1, "the delivery thank-you call");
    assert_eq!(v.open_complaints.len(), 1);
    assert_eq!(v.sections["membership"]["tier"], "金卡");
    assert!(!v.sections.contains_key("orders"));
    // Store staff see the shared customer and car but only their store's activity.
    let only_bj = StoreScope::Stores(vec![bj.clone()]);
    let v = customer_360(&mut c, &only_bj, &a.id, &[]).unwrap();
    assert!(v.open_leads.is_empty());
    assert_eq!(v.open_complaints.len(), 1);
    assert!(matches!(
        customer_360(&mut c, &StoreScope::Stores(vec![sh]), &a.id, &[]),
        Err(CrmError::NotFound(_))
    ));
}

dms_db::engine_tests!(walk_in_view);
