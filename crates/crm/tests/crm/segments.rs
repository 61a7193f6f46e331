//! Segments: saved filters evaluated over customers, vehicles, visits, readings, tags and
//! (through the membership hook) tiers; call lists made from them once.

use crate::common::*;
use dms_core::{PageRequest, StoreScope};
use dms_crm::*;
use dms_db::testing::TestDb;

struct Tiers(String);
impl TierLookup for Tiers {
    fn customers_in_tiers(
        &self,
        _: &mut dms_db::DbConnection,
        tiers: &[String],
    ) -> dms_crm::Result<Vec<String>> {
        Ok(if tiers.iter().any(|t| t == "gold") {
            vec![self.0.clone()]
        } else {
            vec![]
        })
    }
}

fn segments_select_and_feed_call_lists(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let all = StoreScope::AllStores;
    let today = day(2026, 11, 26);
    let now = at(2026, 11, 26, 2);
    let mk = |c: &mut dms_db::DbConnection,
              name: &str,
              phone: &str,
              vin: &str,
              delivered: chrono::NaiveDate,
              ins: Option<chrono::NaiveDate>| {
        let cu = customer(c, &s, name, phone);
        let mut nv = NewVehicle::new(&s, vin);
        nv.customer_id = Some(cu.id.clone());
        nv.delivery_date = Some(delivered);
        nv.insurance_expiry = ins;
        let v = create_vehicle(c, &actor(), &all, &nv, at(2020, 1, 1, 0)).unwrap();
        (cu, v)
    };
    // Old car, no visit for two years: lost.
    let (lost, lv) = mk(
        &mut c,
        "流失客户",
        "13900012001",
        "1HGCM82633A004352",
        day(2019, 5, 1),
        None,
    );
    record_service_visit(
        &mut c,
        &actor(),
        &all,
        &NewServiceVisit {
            store_id: s.clone(),
            vehicle_id: lv.id.clone(),
            visited_on: day(2024, 6, 1),
            kind: VisitKind::Maintenance,
            km: Some(90000),
            advisor_id: None,
            work_order_ref: None,
        },
        at(2024, 6, 1, 9),
    )
    .unwrap();
    // Regular visitor, insurance expiring in 20 days.
    let (loyal, vv) = mk(
        &mut c,
        "忠诚客户",
        "13900012002",
        "1M8GDM9AXKP042788",
        day(2023, 3, 1),
        Some(day(2026, 12, 16)),
    );
    record_service_visit(
        &mut c,
        &actor(),
        &all,
        &NewServiceVisit {
            store_id: s.clone(),
            vehicle_id: vv.id.clone(),
            visited_on: day(2026, 10, 1),
            kind: VisitKind::Maintenance,
            km: Some(30000),
            advisor_id: None,
            work_order_ref: None,
        },
        at(2026, 10, 1, 9),
    )
    .unwrap();
    // New car.
    let (fresh, _) = mk(
        &mut c,
        "新车客户",
        "13900012003",
        "11111111111111111",
        day(2026, 9, 1),
        None,
    );

    let ev = |c: &mut dms_db::DbConnection, f: SegmentFilter| {
        evaluate_segment(c, &all, &f, today, Some(&Tiers(loyal.id.clone()))).unwrap()
    };
    assert_eq!(
        ev(
            &mut c,
            SegmentFilter {
                lost_after_days: Some(365),
                ..Default::default()
            }
        ),
        vec![lost.id.clone()]
    );
    assert_eq!(
        ev(
            &mut c,
            SegmentFilter {
                insurance_expiring_within_days: Some(30),
                ..Default::default()
            }
        ),
        vec![loyal.id.clone()]
    );
    assert_eq!(
        ev(
            &mut c,
            SegmentFilter {
                vehicle_age_years_max: Some(0),
                ..Default::default()
            }
        ),
        vec![fresh.id.clone()]
    );
    let mut three_plus = ev(
        &mut c,
        SegmentFilter {
            vehicle_age_years_min: Some(3),
            ..Default::default()
        },
    );
    three_plus.sort();
    let mut want = vec![lost.id.clone(), loyal.id.clone()];
    want.sort();
    assert_eq!(three_plus, want);
    assert_eq!(
        ev(
            &mut c,
            SegmentFilter {
                mileage_km_min: Some(50000),
                ..Default::default()
            }
        ),
        vec![lost.id.clone()]
    );
    assert_eq!(
        ev(
            &mut c,
            SegmentFilter {
                tiers: vec!["gold".into()],
                vehicle_age_years_min: Some(1),
                ..Default::default()
            }
        ),
        vec![loyal.id.clone()]
    );
    assert!(matches!(
        evaluate_segment(&mut c, &all, &SegmentFilter::default(), today, None),
        Err(CrmError::Invalid {
            field: "filter",
            ..
        })
    ));
    assert!(matches!(
        evaluate_segment(
            &mut c,
            &all,
            &SegmentFilter {
                tiers: vec!["gold".into()],
                ..Default::default()
            },
            today,
            None
        ),
        Err(CrmError::Invalid { field: "tiers", .. })
    ));

    let seg = save_segment(
        &mut c,
        &actor(),
        &all,
        Some(&s),
        "一年未回厂",
        &SegmentFilter {
            lost_after_days: Some(365),
            ..Default::default()
        },
        now,
    )
    .unwrap();
    assert_eq!(
        get_segment(&mut c, &all, &seg.id)
            .unwrap()
            .filter
            .lost_after_days,
        Some(365)
    );
    let n = create_segment_tasks(
        &mut c,
        &actor(),
        &all,
        &seg.id,
        &s,
        "流失客户召回",
        day(2026, 11, 30),
        &["cs-1".into()],
        None,
        today,
        now,
    )
    .unwrap();
    assert_eq!(n, 1);
    let again = create_segment_tasks(
        &mut c,
        &actor(),
        &all,
        &seg.id,
        &s,
        "流失客户召回",
        day(2026, 11, 30),
        &["cs-1".into()],
        None,
        today,
        now,
    )
    .unwrap();
    assert_eq!(again, 0);
    let (tasks, _) = list_tasks(
        &mut c,
        &all,
        &TaskFilter {
            rule: Some("segment".into()),
            ..Default::default()
        },
        &PageRequest::first(10),
    )
    .unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].customer_id.as_deref(), Some(lost.id.as_str()));
    // Store staff cannot save group-wide segments, nor see another store's.
    let other = store(&mut c, "SH01");
    let only_other = StoreScope::Stores(vec![other.clone()]);
    assert!(matches!(
        save_segment(
            &mut c,
            &actor(),
            &only_other,
            None,
            "x",
            &SegmentFilter {
                lost_after_days: Some(1),
                ..Default::default()
            },
            now
        ),
        Err(CrmError::Forbidden(_))
    ));
    assert!(matches!(
        get_segment(&mut c, &only_other, &seg.id),
        Err(CrmError::NotFound(_))
    ));
    assert!(evaluate_segment(
        &mut c,
        &only_other,
        &SegmentFilter {
            lost_after_days: Some(365),
            ..Default::default()
        },
        today,
        None
    )
    .unwrap()
    .is_empty());
}

dms_db::engine_tests!(segments_select_and_feed_call_lists);
