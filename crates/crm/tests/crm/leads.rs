//! Leads: cadence per grade, contacts and grade history, lost and converted, access rules,
//! the overdue list.

use crate::common::*;
use dms_core::{PageRequest, StoreScope};
use dms_crm::*;
use dms_db::testing::TestDb;

fn new_lead(store: &str, name: &str, phone: &str, grade: IntentGrade, to: Option<&str>) -> NewLead {
    NewLead {
        store_id: store.into(),
        name: name.into(),
        phone: phone.into(),
        source_channel: "walk_in".into(),
        interest_brand: "大众".into(),
        interest_model: "途观L".into(),
        grade,
        assigned_to: to.map(String::from),
        customer_id: None,
    }
}

fn lead_life_cycle(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let mgr = LeadAccess::manager(StoreScope::Stores(vec![s.clone()]));
    let cad = LeadCadence::default();
    let l = create_lead(
        &mut c,
        &actor(),
        &mgr,
        &new_lead(&s, "周先生", "13700001111", IntentGrade::A, Some("sc-1")),
        &cad,
        at(2026, 3, 2, 9),
    )
    .unwrap();
    assert_eq!(
        l.next_follow_up_on,
        Some(day(2026, 3, 5)),
        "A: every 3 days"
    );
    assert_eq!(l.status, "open");
    let me = LeadAccess::consultant(StoreScope::Stores(vec![s.clone()]), "sc-1");
    let l = log_lead_contact(
        &mut c,
        &actor(),
        &me,
        &l.id,
        &LeadContactInput {
            channel: "visit".into(),
            note: "试驾后很满意, 本周定".into(),
            new_grade: Some(IntentGrade::H),
        },
        &cad,
        at(2026, 3, 4, 15),
    )
    .unwrap();
    assert_eq!(l.grade, "H");
    assert_eq!(l.next_follow_up_on, Some(day(2026, 3, 5)), "H: next day");
    // A configurable cadence.
    let slow = LeadCadence {
        h_days: 2,
        ..LeadCadence::default()
    };
    let l = log_lead_contact(
        &mut c,
        &actor(),
        &me,
        &l.id,
        &LeadContactInput {
            channel: "phone".into(),
            note: "".into(),
            new_grade: None,
        },
        &slow,
        at(2026, 3, 5, 10),
    )
    .unwrap();
    assert_eq!(l.next_follow_up_on, Some(day(2026, 3, 7)));
    assert_eq!(lead_contacts_of(&mut c, &me, &l.id).unwrap().len(), 2);
    let hist = lead_grade_history(&mut c, &me, &l.id).unwrap();
    assert_eq!(
        hist.iter().map(|h| h.to_grade.as_str()).collect::<Vec<_>>(),
        vec!["A", "H"]
    );
    assert_eq!(hist[1].from_grade.as_deref(), Some("A"));
    let buyer = customer(&mut c, &s, "周先生", "13700001111");
    let l = convert_lead(&mut c, &actor(), &me, &l.id, &buyer.id, at(2026, 3, 6, 10)).unwrap();
    assert_eq!(l.status, "converted");
    assert_eq!(l.customer_id.as_deref(), Some(buyer.id.as_str()));
    assert!(l.next_follow_up_on.is_none());
    // Closed leads take no more contacts.
    assert!(matches!(
        log_lead_contact(
            &mut c,
            &actor(),
            &me,
            &l.id,
            &LeadContactInput {
                channel: "phone".into(),
                note: "".into(),
                new_grade: None
            },
            &cad,
            at(2026, 3, 7, 10)
        ),
        Err(CrmError::Conflict { .. })
    ));
    let l2 = create_lead(
        &mut c,
        &actor(),
        &me,
        &new_lead(&s, "吴女士", "13700002222", IntentGrade::B, None),
        &cad,
        at(2026, 3, 2, 9),
    )
    .unwrap();
    assert_eq!(
        l2.assigned_to.as_deref(),
        Some("sc-1"),
        "a consultant's lead is theirs"
    );
    assert!(matches!(
        mark_lead_lost(&mut c, &actor(), &me, &l2.id, " ", at(2026, 3, 8, 9)),
        Err(CrmError::Invalid { .. })
    ));
    let l2 = mark_lead_lost(
        &mut c,
        &actor(),
        &me,
        &l2.id,
        "买了竞品(丰田)",
        at(2026, 3, 8, 9),
    )
    .unwrap();
    assert_eq!(l2.status, "lost");
    let (by_grade, by_consultant) = lead_conversion(
        &mut c,
        &StoreScope::AllStores,
        day(2026, 3, 1),
        day(2026, 4, 1),
    )
    .unwrap();
    assert_eq!(
        by_grade,
        vec![
            ConversionRow {
                key: "B".into(),
                leads: 1,
                converted: 0,
                lost: 1
            },
            ConversionRow {
                key: "H".into(),
                leads: 1,
                converted: 1,
                lost: 0
            },
        ]
    );
    assert_eq!(
        by_consultant,
        vec![ConversionRow {
            key: "sc-1".into(),
            leads: 2,
            converted: 1,
            lost: 1
        }]
    );
    assert_eq!(audit_count(&mut c, "lead.convert"), 1);
    assert_eq!(audit_count(&mut c, "lead.lost"), 1);
}

fn consultants_see_their_own_managers_their_store(db: &TestDb) {
    let mut c = conn(db);
    let bj = store(&mut c, "BJ01");
    let sh = store(&mut c, "SH01");
    let cad = LeadCadence::default();
    let mgr_all = LeadAccess::manager(StoreScope::AllStores);
    let mine = create_lead(
        &mut c,
        &actor(),
        &mgr_all,
        &new_lead(&bj, "甲", "13700000001", IntentGrade::C, Some("sc-1")),
        &cad,
        at(2026, 3, 1, 9),
    )
    .unwrap();
    let theirs = create_lead(
        &mut c,
        &actor(),
        &mgr_all,
        &new_lead(&bj, "乙", "13700000002", IntentGrade::C, Some("sc-2")),
        &cad,
        at(2026, 3, 1, 9),
    )
    .unwrap();
    let other_store = create_lead(
        &mut c,
        &actor(),
        &mgr_all,
        &new_lead(&sh, "丙", "13700000003", IntentGrade::C, Some("sc-1")),
        &cad,
        at(2026, 3, 1, 9),
    )
    .unwrap();
    let sc1 = LeadAccess::consultant(StoreScope::Stores(vec![bj.clone()]), "sc-1");
    assert!(get_lead(&mut c, &sc1, &mine.id).is_ok());
    assert!(matches!(
        get_lead(&mut c, &sc1, &theirs.id),
        Err(CrmError::NotFound(_))
    ));
    assert!(matches!(
        get_lead(&mut c, &sc1, &other_store.id),
        Err(CrmError::NotFound(_))
    ));
    let (rows, _) = list_leads(
        &mut c,
        &sc1,
        &LeadFilter::default(),
        &PageRequest::first(50),
    )
    .unwrap();
    assert_eq!(rows.len(), 1);
    let bj_mgr = LeadAccess::manager(StoreScope::Stores(vec![bj.clone()]));
    let (rows, _) = list_leads(
        &mut c,
        &bj_mgr,
        &LeadFilter::default(),
        &PageRequest::first(50),
    )
    .unwrap();
    assert_eq!(rows.len(), 2);
    // Consultants neither assign nor create for others.
    assert!(matches!(
        assign_lead(&mut c, &actor(), &sc1, &mine.id, "sc-2", at(2026, 3, 1, 10)),
        Err(CrmError::Forbidden(_))
    ));
    assert!(matches!(
        create_lead(
            &mut c,
            &actor(),
            &sc1,
            &new_lead(&bj, "丁", "13700000004", IntentGrade::C, Some("sc-2")),
            &cad,
            at(2026, 3, 1, 9)
        ),
        Err(CrmError::Forbidden(_))
    ));
    let moved = assign_lead(
        &mut c,
        &actor(),
        &bj_mgr,
        &theirs.id,
        "sc-1",
        at(2026, 3, 1, 10),
    )
    .unwrap();
    assert_eq!(moved.assigned_to.as_deref(), Some("sc-1"));
    assert!(get_lead(&mut c, &sc1, &theirs.id).is_ok());
    // The same person again while their lead is open: told, not duplicated.
    assert!(matches!(
        create_lead(
            &mut c,
            &actor(),
            &bj_mgr,
            &new_lead(&bj, "甲", "13700000001", IntentGrade::A, Some("sc-2")),
            &cad,
            at(2026, 3, 2, 9)
        ),
        Err(CrmError::Conflict { field: "phone", .. })
    ));
    // Bad input.
    let mut bad = new_lead(&bj, "戊", "123", IntentGrade::C, None);
    assert!(matches!(
        create_lead(&mut c, &actor(), &bj_mgr, &bad, &cad, at(2026, 3, 1, 9)),
        Err(CrmError::Invalid { field: "phone", .. })
    ));
    bad.phone = "13700000005".into();
    bad.source_channel = "tv".into();
    assert!(matches!(
        create_lead(&mut c, &actor(), &bj_mgr, &bad, &cad, at(2026, 3, 1, 9)),
        Err(CrmError::Invalid {
            field: "source_channel",
            ..
        })
    ));
}

fn overdue_list_for_the_manager(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let cad = LeadCadence::default();
    let mgr = LeadAccess::manager(StoreScope::Stores(vec![s.clone()]));
    let h = create_lead(
        &mut c,
        &actor(),
        &mgr,
        &new_lead(&s, "H客", "13700000011", IntentGrade::H, Some("sc-1")),
        &cad,
        at(2026, 3, 1, 9),
    )
    .unwrap();
    let a = create_lead(
        &mut c,
        &actor(),
        &mgr,
        &new_lead(&s, "A客", "13700000012", IntentGrade::A, Some("sc-2")),
        &cad,
        at(2026, 3, 1, 9),
    )
    .unwrap();
    let _c = create_lead(
        &mut c,
        &actor(),
        &mgr,
        &new_lead(&s, "C客", "13700000013", IntentGrade::C, Some("sc-2")),
        &cad,
        at(2026, 3, 1, 9),
    )
    .unwrap();
    // 3 March: H was due 2 March (overdue), A is due today (not yet overdue), C far off.
    let ids = |v: Vec<Lead>| v.into_iter().map(|l| l.id).collect::<Vec<_>>();
    assert_eq!(
        ids(overdue_leads(&mut c, &mgr, day(2026, 3, 3), 100).unwrap()),
        vec![h.id.clone()]
    );
    assert_eq!(
        ids(overdue_leads(&mut c, &mgr, day(2026, 3, 5), 100).unwrap()),
        vec![h.id.clone(), a.id.clone()]
    );
    // A contact clears it.
    log_lead_contact(
        &mut c,
        &actor(),
        &mgr,
        &h.id,
        &LeadContactInput {
            channel: "phone".into(),
            note: "".into(),
            new_grade: None,
        },
        &cad,
        at(2026, 3, 5, 9),
    )
    .unwrap();
    assert_eq!(
        ids(overdue_leads(&mut c, &mgr, day(2026, 3, 5), 100).unwrap()),
        vec![a.id.clone()]
    );
    // The consultant sees only their own overdue leads.
    let sc1 = LeadAccess::consultant(StoreScope::Stores(vec![s.clone()]), "sc-1");
    assert!(overdue_leads(&mut c, &sc1, day(2026, 3, 5), 100)
        .unwrap()
        .is_empty());
}

dms_db::engine_tests!(
    lead_life_cycle,
    consultants_see_their_own_managers_their_store,
    overdue_list_for_the_manager,
);
