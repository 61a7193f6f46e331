//! The care engine over a simulated calendar: the right task on the right day, none twice,
//! missed days caught up, opt-outs respected, outcomes that change the records.

use crate::common::*;
use chrono::Duration;
use dms_core::{Clock, FixedClock, PageRequest, StoreScope};
use dms_crm::*;
use dms_db::testing::TestDb;
use std::collections::BTreeMap;

fn rules(store: &str) -> CareRules {
    let mut r = CareRules::default();
    r.assignees
        .insert(store.to_string(), vec!["cs-1".into(), "cs-2".into()]);
    r
}

fn all_tasks(c: &mut dms_db::DbConnection) -> Vec<FollowUpTask> {
    list_tasks(
        c,
        &StoreScope::AllStores,
        &TaskFilter::default(),
        &PageRequest::first(200),
    )
    .unwrap()
    .0
}

fn simulated_calendar(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let all = StoreScope::AllStores;
    let mut n = NewCustomer::individual(&s, "郑一", "13900001001");
    n.birthday = Some(day(1990, 4, 10));
    let a = create_customer(&mut c, &actor(), &all, &n, at(2026, 3, 1, 1)).unwrap();
    // B asked not to be called: no task for B whatever the rules say.
    let mut nb = NewCustomer::individual(&s, "王二", "13900001002");
    nb.consents = vec![ConsentInput {
        channel: Channel::Phone,
        granted: false,
        on: day(2026, 2, 1),
        source: "电话".into(),
    }];
    let b = create_customer(&mut c, &actor(), &all, &nb, at(2026, 3, 1, 1)).unwrap();
    let mut nv = NewVehicle::new(&s, "1HGCM82633A004352");
    nv.plate = Some("京A88888".into());
    nv.brand = "本田".into();
    nv.model = "雅阁".into();
    nv.delivery_date = Some(day(2026, 3, 1));
    nv.insurance_expiry = Some(day(2026, 5, 15));
    nv.insurer = Some("平安".into());
    nv.inspection_due = Some(day(2026, 4, 20));
    nv.customer_id = Some(a.id.clone());
    let v = create_vehicle(&mut c, &actor(), &all, &nv, at(2026, 3, 1, 1)).unwrap();
    let mut nv2 = NewVehicle::new(&s, "1M8GDM9AXKP042788");
    nv2.delivery_date = Some(day(2026, 3, 1));
    nv2.customer_id = Some(b.id.clone());
    create_vehicle(&mut c, &actor(), &all, &nv2, at(2026, 3, 1, 1)).unwrap();

    let r = rules(&s);
    let clock = FixedClock::new(at(2026, 3, 1, 2));
    let mut created_on: BTreeMap<String, (chrono::NaiveDate, chrono::NaiveDate)> = BTreeMap::new();
    let mut opted_out = 0;
    loop {
        let today = clock.now().date_naive();
        if today > day(2026, 7, 31) {
            break;
        }
        // The job did not run on 8 March (server down): caught up on the 9th.
        if today != day(2026, 3, 8) {
            // Workshop events happen during the day, before the night's run.
            if today == day(2026, 3, 31) {
                record_mileage(
                    &mut c,
                    &actor(),
                    &all,
                    &v.id,
                    today,
                    3000,
                    "电话回访",
                    clock.now(),
                )
                .unwrap();
            }
            if today == day(2026, 4, 18) {
                record_service_visit(
                    &mut c,
                    &actor(),
                    &all,
                    &NewServiceVisit {
                        store_id: s.clone(),
                        vehicle_id: v.id.clone(),
                        visited_on: today,
                        kind: VisitKind::FirstService,
                        km: Some(4800),
                        advisor_id: Some("adv-1".into()),
                        work_order_ref: None,
                    },
                    clock.now(),
                )
                .unwrap();
            }
            let before: std::collections::HashSet<String> =
                all_tasks(&mut c).into_iter().map(|t| t.id).collect();
            let rep = run_care_engine(&mut c, today, &r, &[], clock.now()).unwrap();
            opted_out += rep.opted_out;
            // Twice the same day: nothing new.
            let again = run_care_engine(&mut c, today, &r, &[], clock.now()).unwrap();
            assert_eq!(again.total_created(), 0, "second run on {today}");
            for t in all_tasks(&mut c) {
                if !before.contains(&t.id) {
                    assert!(created_on
                        .insert(t.rule.clone() + "#" + &t.title, (today, t.due_on))
                        .is_none());
                }
            }
        }
        clock.advance(Duration::days(1));
    }
    let got: Vec<(String, chrono::NaiveDate, chrono::NaiveDate)> = created_on
        .iter()
        .map(|(k, (on, due))| (k.split('#').next().unwrap().to_string(), *on, *due))
        .collect();
    let mut got_sorted = got.clone();
    got_sorted.sort_by_key(|(_, on, _)| *on);
    let want = vec![
        ("delivery_thanks", day(2026, 3, 1), day(2026, 3, 2)),
        ("delivery_call", day(2026, 3, 9), day(2026, 3, 8)),
        ("annual_inspection", day(2026, 3, 21), day(2026, 4, 20)),
        ("birthday", day(2026, 4, 10), day(2026, 4, 10)),
        // 3 000 km in 30 days: 5 000 km projected on 20 April, a week's notice.
        ("first_service", day(2026, 4, 13), day(2026, 4, 20)),
        ("insurance_renewal", day(2026, 4, 15), day(2026, 5, 8)),
        ("after_service_call", day(2026, 4, 21), day(2026, 4, 21)),
        ("periodic_call", day(2026, 5, 1), day(2026, 5, 1)),
        ("periodic_call", day(2026, 7, 1), day(2026, 7, 1)),
        // 4 800 km in 48 days = 100 km/day: 14 800 km on 27 July.
        ("maintenance", day(2026, 7, 20), day(2026, 7, 27)),
    ];
    let got_cmp: Vec<(&str, chrono::NaiveDate, chrono::NaiveDate)> = got_sorted
        .iter()
        .map(|(k, a, b)| (k.as_str(), *a, *b))
        .collect();
    assert_eq!(got_cmp, want);
    assert!(opted_out > 0, "B's calls were skipped");
    let tasks = all_tasks(&mut c);
    assert!(tasks
        .iter()
        .all(|t| t.customer_id.as_deref() == Some(a.id.as_str())));
    assert!(tasks
        .iter()
        .all(|t| matches!(t.assigned_to.as_deref(), Some("cs-1") | Some("cs-2"))));
    let ins = tasks
        .iter()
        .find(|t| t.rule == "insurance_renewal")
        .unwrap();
    assert!(
        ins.title.contains("平安") && ins.title.contains("京A88888"),
        "{}",
        ins.title
    );
}

fn outcomes_update_records(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let all = StoreScope::AllStores;
    let a = customer(&mut c, &s, "冯三", "13900002001");
    let mut nv = NewVehicle::new(&s, "1HGCM82633A004352");
    nv.delivery_date = Some(day(2026, 3, 1));
    nv.insurance_expiry = Some(day(2026, 3, 20));
    nv.customer_id = Some(a.id.clone());
    let v = create_vehicle(&mut c, &actor(), &all, &nv, at(2026, 3, 1, 1)).unwrap();
    let r = rules(&s);
    let rep = run_care_engine(&mut c, day(2026, 3, 1), &r, &[], at(2026, 3, 1, 2)).unwrap();
    assert_eq!(rep.created.get("delivery_thanks"), Some(&1));
    assert_eq!(rep.created.get("insurance_renewal"), Some(&1));
    let tasks = all_tasks(&mut c);
    let thanks = tasks.iter().find(|t| t.rule == "delivery_thanks").unwrap();
    let t = complete_task(
        &mut c,
        &actor(),
        &all,
        &thanks.id,
        &TaskOutcome::NoAnswer,
        "",
        at(2026, 3, 2, 9),
    )
    .unwrap();
    assert_eq!(t.status, "open");
    assert_eq!(t.due_on, day(2026, 3, 3));
    let t = complete_task(
        &mut c,
        &actor(),
        &all,
        &thanks.id,
        &TaskOutcome::Reached,
        "客户很满意",
        at(2026, 3, 3, 9),
    )
    .unwrap();
    assert_eq!(t.status, "done");
    assert_eq!(t.outcome.as_deref(), Some("reached"));
    assert!(matches!(
        complete_task(
            &mut c,
            &actor(),
            &all,
            &thanks.id,
            &TaskOutcome::Reached,
            "",
            at(2026, 3, 3, 9)
        ),
        Err(CrmError::Conflict { .. })
    ));
    // "Car sold" on the insurance call: the vehicle leaves the base, its other tasks close,
    // and the engine makes no more tasks for it.
    let ins = tasks
        .iter()
        .find(|t| t.rule == "insurance_renewal")
        .unwrap();
    run_care_engine(&mut c, day(2026, 3, 8), &r, &[], at(2026, 3, 8, 2)).unwrap();
    let open_before = all_tasks(&mut c)
        .iter()
        .filter(|t| t.status == "open")
        .count();
    assert!(open_before >= 2);
    complete_task(
        &mut c,
        &actor(),
        &all,
        &ins.id,
        &TaskOutcome::Refused(RefusalReason::CarSold),
        "已卖给朋友",
        at(2026, 3, 8, 10),
    )
    .unwrap();
    let v2 = get_vehicle(&mut c, &all, &v.id).unwrap();
    assert_eq!(v2.status, "sold");
    assert!(v2.customer_id.is_none());
    assert_eq!(
        owner_history(&mut c, &all, &v.id).unwrap()[0].to_date,
        Some(day(2026, 3, 8))
    );
    assert_eq!(
        all_tasks(&mut c)
            .iter()
            .filter(|t| t.status == "open")
            .count(),
        0
    );
    let rep = run_care_engine(&mut c, day(2026, 5, 1), &r, &[], at(2026, 5, 1, 2)).unwrap();
    assert_eq!(rep.total_created(), 0);
    let stats = care_stats(&mut c, &all, day(2026, 3, 1), day(2026, 4, 1)).unwrap();
    assert_eq!(
        stats["insurance_renewal"].refusals.get("car_sold"),
        Some(&1)
    );
    assert_eq!(stats["delivery_thanks"].contacted, 1);
    assert_eq!(audit_count(&mut c, "vehicle.sold"), 1);
}

/// Another crate's reminders (membership expiry) join the run through `CareSource`.
struct MembershipExpiry(String, String);
impl CareSource for MembershipExpiry {
    fn candidates(
        &self,
        _: &mut dms_db::DbConnection,
        today: chrono::NaiveDate,
    ) -> dms_crm::Result<Vec<CareCandidate>> {
        Ok(vec![CareCandidate {
            rule: "membership_expiry",
            dedupe_key: format!("membership_expiry:card-1:{}", today.format("%Y")),
            store_id: self.0.clone(),
            customer_id: Some(self.1.clone()),
            vehicle_id: None,
            title: "会员卡即将到期".into(),
            due_on: today,
        }])
    }
}

fn other_crates_plug_in(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let a = customer(&mut c, &s, "陈四", "13900003001");
    let src = MembershipExpiry(s.clone(), a.id.clone());
    let r = CareRules::default();
    let rep = run_care_engine(&mut c, day(2026, 6, 1), &r, &[&src], at(2026, 6, 1, 2)).unwrap();
    assert_eq!(rep.created.get("membership_expiry"), Some(&1));
    let rep = run_care_engine(&mut c, day(2026, 6, 2), &r, &[&src], at(2026, 6, 2, 2)).unwrap();
    assert_eq!(rep.total_created(), 0);
    assert_eq!(rep.already_present, 1);
    let t = &all_tasks(&mut c)[0];
    assert!(
        t.assigned_to.is_none(),
        "no assignees configured: the manager's pool"
    );
}

/// Two servers running the daily job at the same moment still make each task once.
fn concurrent_runs_create_each_task_once(db: &TestDb) {
    let s = {
        let mut c = conn(db);
        let s = store(&mut c, "BJ01");
        let all = StoreScope::AllStores;
        for i in 0..30u32 {
            let cu = customer(&mut c, &s, &format!("并发{i}"), &format!("1390002{i:04}"));
            let body = format!("LBV{i:013}");
            let check = vin_check_digit(&format!("{}0{}", &body[..8], &body[8..])).unwrap();
            let vin = format!("{}{check}{}", &body[..8], &body[8..]);
            let mut nv = NewVehicle::new(&s, &vin);
            nv.customer_id = Some(cu.id.clone());
            nv.delivery_date = Some(day(2026, 3, 1));
            nv.insurance_expiry = Some(day(2026, 3, 20));
            create_vehicle(&mut c, &actor(), &all, &nv, at(2026, 3, 1, 1)).unwrap();
        }
        s
    };
    let reports: Vec<CareRunReport> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let pool = db.pool.clone();
                let r = rules(&s);
                sc.spawn(move || {
                    let mut c = pool.get().unwrap();
                    run_care_engine(&mut c, day(2026, 3, 1), &r, &[], at(2026, 3, 1, 2)).unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created: u32 = reports.iter().map(|r| r.total_created()).sum();
    let mut c = conn(db);
    assert_eq!(all_tasks(&mut c).len(), 60);
    assert_eq!(
        created, 60,
        "thank-you call and insurance renewal for 30 cars, once"
    );
}

dms_db::engine_tests!(
    simulated_calendar,
    outcomes_update_records,
    other_crates_plug_in,
    concurrent_runs_create_each_task_once,
);
