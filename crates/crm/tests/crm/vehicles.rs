//! Vehicles: VIN rules, plates, dates in order, mileage, owner history, visits.

use crate::common::*;
use dms_core::StoreScope;
use dms_crm::*;
use dms_db::testing::TestDb;

fn vehicle_life(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let all = StoreScope::AllStores;
    let a = customer(&mut c, &s, "赵一", "13800000011");
    let b = customer(&mut c, &s, "钱二", "13800000012");
    let mut nv = NewVehicle::new(&s, "1m8gdm9axkp042788");
    nv.plate = Some("京N·8A123".into());
    nv.brand = "大众".into();
    nv.model = "帕萨特".into();
    nv.trim_level = "330TSI 豪华版".into();
    nv.colour = "星空蓝".into();
    nv.model_year = Some(2025);
    nv.purchase_date = Some(day(2025, 3, 1));
    nv.delivery_date = Some(day(2025, 3, 5));
    nv.warranty_end = Some(day(2028, 3, 5));
    nv.insurance_expiry = Some(day(2026, 3, 4));
    nv.insurer = Some("中国人保".into());
    nv.inspection_due = Some(day(2031, 3, 31));
    nv.customer_id = Some(a.id.clone());
    let v = create_vehicle(&mut c, &actor(), &all, &nv, at(2025, 3, 5, 8)).unwrap();
    assert_eq!(v.vin, "1M8GDM9AXKP042788");
    assert!(v.vin_check_ok);
    assert_eq!(v.plate_norm.as_deref(), Some("京N8A123"));
    // The same VIN again is a conflict, not a second car.
    assert!(matches!(
        create_vehicle(&mut c, &actor(), &all, &nv, at(2025, 3, 5, 8)),
        Err(CrmError::Conflict { field: "vin", .. })
    ));
    // Mileage over time; the odometer does not run backwards.
    record_mileage(
        &mut c,
        &actor(),
        &all,
        &v.id,
        day(2025, 6, 5),
        5000,
        "call",
        at(2025, 6, 5, 8),
    )
    .unwrap();
    assert!(matches!(
        record_mileage(
            &mut c,
            &actor(),
            &all,
            &v.id,
            day(2025, 7, 1),
            4000,
            "call",
            at(2025, 7, 1, 8)
        ),
        Err(CrmError::Invalid { field: "km", .. })
    ));
    record_service_visit(
        &mut c,
        &actor(),
        &all,
        &NewServiceVisit {
            store_id: s.clone(),
            vehicle_id: v.id.clone(),
            visited_on: day(2025, 9, 2),
            kind: VisitKind::FirstService,
            km: Some(10000),
            advisor_id: Some("adv-1".into()),
            work_order_ref: Some("WO-1".into()),
        },
        at(2025, 9, 2, 10),
    )
    .unwrap();
    let hist = mileage_history(&mut c, &all, &v.id).unwrap();
    assert_eq!(
        hist.iter().map(|r| r.km).collect::<Vec<_>>(),
        vec![5000, 10000]
    );
    let pts: Vec<_> = hist.iter().map(|r| (r.read_on, r.km)).collect();
    // 10 000 km over 181 days since delivery: about 55 km a day.
    let rate = daily_km_rate(&pts, v.delivery_date).unwrap();
    assert!((rate - 10000.0 / 181.0).abs() < 0.01, "{rate}");
    assert_eq!(
        projected_km(&pts, v.delivery_date, day(2025, 12, 1)),
        Some(10000 + (rate * 90.0).round() as i64)
    );
    let v2 = get_vehicle(&mut c, &all, &v.id).unwrap();
    assert!(v2.first_service_done);
    assert_eq!(v2.last_service_on, Some(day(2025, 9, 2)));
    // Sold to another customer.
    transfer_vehicle(
        &mut c,
        &actor(),
        &all,
        &v.id,
        &b.id,
        day(2026, 1, 10),
        "二手车转让",
        at(2026, 1, 10, 9),
    )
    .unwrap();
    let owners = owner_history(&mut c, &all, &v.id).unwrap();
    assert_eq!(owners.len(), 2);
    assert_eq!(owners[0].customer_id, a.id);
    assert_eq!(owners[0].to_date, Some(day(2026, 1, 10)));
    assert_eq!(owners[1].customer_id, b.id);
    assert!(owners[1].to_date.is_none());
    assert!(list_customer_vehicles(&mut c, &all, &a.id)
        .unwrap()
        .is_empty());
    assert_eq!(
        list_customer_vehicles(&mut c, &all, &b.id).unwrap().len(),
        1
    );
    // Update: renewal of the insurance.
    let u = update_vehicle(
        &mut c,
        &actor(),
        &all,
        &v.id,
        &VehicleUpdate {
            insurance_expiry: Some(Some(day(2027, 3, 4))),
            insurer: Some(Some("平安保险".into())),
            ..Default::default()
        },
        at(2026, 2, 1, 9),
    )
    .unwrap();
    assert_eq!(u.insurance_expiry, Some(day(2027, 3, 4)));
    // Sold outside the dealer: out of the base, history kept.
    let sold = mark_vehicle_sold(
        &mut c,
        &actor(),
        &all,
        &v.id,
        day(2026, 6, 1),
        at(2026, 6, 2, 9),
    )
    .unwrap();
    assert_eq!(sold.status, "sold");
    assert!(sold.customer_id.is_none());
    assert_eq!(
        owner_history(&mut c, &all, &v.id).unwrap()[1].to_date,
        Some(day(2026, 6, 1))
    );
    assert!(matches!(
        mark_vehicle_sold(
            &mut c,
            &actor(),
            &all,
            &v.id,
            day(2026, 6, 1),
            at(2026, 6, 2, 9)
        ),
        Err(CrmError::Conflict { .. })
    ));
    assert_eq!(audit_count(&mut c, "vehicle.transfer"), 1);
}

fn vehicle_bad_input(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let all = StoreScope::AllStores;
    let now = at(2026, 1, 1, 8);
    let try_vin = |c: &mut dms_db::DbConnection, vin: &str, policy: VinPolicy| {
        let mut nv = NewVehicle::new(&s, vin);
        nv.vin_policy = policy;
        create_vehicle(c, &actor(), &all, &nv, now)
    };
    for vin in ["1M8GDM9AXKP04278", "1M8GDM9AXKP0427I8", "1M8GDM9AXKP042789"] {
        assert!(
            matches!(
                try_vin(&mut c, vin, VinPolicy::Strict),
                Err(CrmError::Invalid { field: "vin", .. })
            ),
            "{vin}"
        );
    }
    // A grey import whose ninth character is no check digit: accepted on purpose, and marked.
    let v = try_vin(&mut c, "1M8GDM9AXKP042789", VinPolicy::AllowBadCheckDigit).unwrap();
    assert!(!v.vin_check_ok);
    let mut nv = NewVehicle::new(&s, "1HGCM82633A004352");
    nv.purchase_date = Some(day(2025, 5, 1));
    nv.delivery_date = Some(day(2025, 4, 1));
    assert!(matches!(
        create_vehicle(&mut c, &actor(), &all, &nv, now),
        Err(CrmError::Invalid {
            field: "delivery_date",
            ..
        })
    ));
    nv.delivery_date = None;
    nv.warranty_end = Some(day(2024, 1, 1));
    assert!(matches!(
        create_vehicle(&mut c, &actor(), &all, &nv, now),
        Err(CrmError::Invalid {
            field: "warranty_end",
            ..
        })
    ));
    nv.warranty_end = None;
    nv.plate = Some("12345".into());
    assert!(matches!(
        create_vehicle(&mut c, &actor(), &all, &nv, now),
        Err(CrmError::Invalid { field: "plate", .. })
    ));
    nv.plate = None;
    let other = store(&mut c, "SH01");
    let v = create_vehicle(
        &mut c,
        &actor(),
        &all,
        &NewVehicle::new(&other, "1HGCM82633A004352"),
        now,
    )
    .unwrap();
    assert!(matches!(
        get_vehicle(&mut c, &StoreScope::Stores(vec![s.clone()]), &v.id),
        Err(CrmError::NotFound(_))
    ));
}

dms_db::engine_tests!(vehicle_life, vehicle_bad_input);
