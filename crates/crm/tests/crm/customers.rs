//! Customers: create with everything, validation, duplicates, scope, search, pagination.

use crate::common::*;
use chrono::NaiveDate;
use dms_core::{PageRequest, StoreScope};
use dms_crm::*;
use dms_db::testing::TestDb;
use serde_json::json;

fn full_customer_round_trip(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let mut n = NewCustomer::individual(&s, "王 小明", "138 0013 8000");
    n.other_phones = vec![NewPhone {
        phone: "010-62345678".into(),
        label: "家庭".into(),
    }];
    n.email = Some("xm.wang@example.com".into());
    n.id_number = Some("11010519491231002X".into());
    n.preferences = json!({"contact_time": "晚上", "drink": "茶"});
    n.tags = vec!["VIP".into(), "老客户".into()];
    n.addresses = vec![NewAddress {
        label: "家".into(),
        province: "北京".into(),
        city: "北京".into(),
        district: "朝阳区".into(),
        line: "建国路88号".into(),
        postal_code: Some("100022".into()),
    }];
    n.consents = vec![ConsentInput {
        channel: Channel::Sms,
        granted: true,
        on: day(2025, 12, 30),
        source: "展厅登记表".into(),
    }];
    n.owner_staff_id = Some("staff-9".into());
    let cust = create_customer(
        &mut c,
        &actor(),
        &StoreScope::AllStores,
        &n,
        at(2026, 1, 1, 8),
    )
    .unwrap();
    assert_eq!(cust.phone, "13800138000");
    assert_eq!(cust.name, "王 小明");
    // Birthday taken from the ID number when not given.
    assert_eq!(cust.birthday, NaiveDate::from_ymd_opt(1949, 12, 31));
    assert!(!format!("{cust:?}").contains("19491231002"));
    let p = get_customer_profile(&mut c, &StoreScope::Stores(vec![s.clone()]), &cust.id).unwrap();
    assert_eq!(p.phones.len(), 1);
    assert_eq!(p.phones[0].phone, "01062345678");
    assert_eq!(p.addresses.len(), 1);
    assert_eq!(p.tags, vec!["VIP".to_string(), "老客户".to_string()]);
    assert_eq!(p.consents.len(), 1);
    assert_eq!(p.customer.preferences["drink"], "茶");
    assert!(has_marketing_consent(&mut c, &cust.id, Channel::Sms).unwrap());
    assert!(!has_marketing_consent(&mut c, &cust.id, Channel::Email).unwrap());
    // Withdraw consent; the row is replaced, not duplicated.
    set_consent(
        &mut c,
        &actor(),
        &StoreScope::AllStores,
        &cust.id,
        &ConsentInput {
            channel: Channel::Sms,
            granted: false,
            on: day(2026, 1, 1),
            source: "电话".into(),
        },
        at(2026, 1, 1, 9),
    )
    .unwrap();
    assert!(has_opted_out(&mut c, &cust.id, Channel::Sms).unwrap());
    assert_eq!(
        get_customer_profile(&mut c, &StoreScope::AllStores, &cust.id)
            .unwrap()
            .consents
            .len(),
        1
    );
    // Update.
    let u = update_customer(
        &mut c,
        &actor(),
        &StoreScope::AllStores,
        &cust.id,
        &CustomerUpdate {
            name: Some("王晓明".into()),
            email: Some(None),
            ..Default::default()
        },
        at(2026, 1, 2, 8),
    )
    .unwrap();
    assert_eq!(u.name, "王晓明");
    assert!(u.email.is_none());
    assert_eq!(audit_count(&mut c, "customer.create"), 1);
    assert_eq!(audit_count(&mut c, "customer.update"), 1);
    assert_eq!(audit_count(&mut c, "customer.consent"), 1);
    // The audit log never holds the ID number.
    {
        use diesel::prelude::*;
        let details: Vec<String> = dms_db::schema::audit_log::table
            .select(dms_db::schema::audit_log::detail)
            .load(&mut *c)
            .unwrap();
        assert!(details.iter().all(|d| !d.contains("1949123")));
    }
}

fn bad_input_is_refused(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let all = StoreScope::AllStores;
    let now = at(2026, 1, 1, 8);
    let bad = |f: &dyn Fn(&mut NewCustomer)| {
        let mut n = NewCustomer::individual(&s, "李四", "13900139000");
        f(&mut n);
        n
    };
    let cases: Vec<(NewCustomer, &str)> = vec![
        (bad(&|n| n.phone = "12345".into()), "phone"),
        (
            bad(&|n| n.id_number = Some("110105194912310021".into())),
            "id_number",
        ),
        (bad(&|n| n.email = Some("not-mail".into())), "email"),
        (bad(&|n| n.name = "  ".into()), "name"),
        (bad(&|n| n.birthday = Some(day(2030, 1, 1))), "birthday"),
        (bad(&|n| n.preferences = json!([1])), "preferences"),
        (bad(&|n| n.store_id = "nope".into()), "store_id"),
    ];
    for (n, field) in cases {
        match create_customer(&mut c, &actor(), &all, &n, now) {
            Err(CrmError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    // A store outside the caller's scope is as unknown as a missing one.
    let other = store(&mut c, "SH01");
    let n = NewCustomer::individual(&other, "李四", "13900139000");
    assert!(matches!(
        create_customer(
            &mut c,
            &actor(),
            &StoreScope::Stores(vec![s.clone()]),
            &n,
            now
        ),
        Err(CrmError::Invalid {
            field: "store_id",
            ..
        })
    ));
    // A company may give a landline as its main number.
    let mut co = NewCustomer::individual(&s, "北京华通物流有限公司", "010-87654321");
    co.kind = CustomerKind::Company;
    co.tax_id = Some("91110105MA00000000".into());
    co.contact_person = Some("赵经理".into());
    let co = create_customer(&mut c, &actor(), &all, &co, now).unwrap();
    assert_eq!(co.kind, CustomerKind::Company);
    assert_eq!(audit_count(&mut c, "customer.create"), 1);
}

fn duplicates_are_detected_on_create(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let all = StoreScope::AllStores;
    let now = at(2026, 1, 1, 8);
    let mut first = NewCustomer::individual(&s, "张三", "13700137000");
    first.id_number = Some("11010519491231002X".into());
    first.other_phones = vec![NewPhone {
        phone: "13600136000".into(),
        label: "备用".into(),
    }];
    let a = create_customer(&mut c, &actor(), &all, &first, now).unwrap();

    // Same primary phone: suspected; even with allow_duplicate it stays a conflict (login).
    let same_phone = NewCustomer::individual(&s, "张叁", "13700137000");
    match create_customer(&mut c, &actor(), &all, &same_phone, now) {
        Err(CrmError::DuplicateSuspected { matches }) => {
            assert_eq!(matches[0].customer_id, a.id);
            assert_eq!(matches[0].matched_on, MatchKind::Phone);
        }
        other => panic!("{other:?}"),
    }
    let mut forced = same_phone.clone();
    forced.allow_duplicate = true;
    assert!(matches!(
        create_customer(&mut c, &actor(), &all, &forced, now),
        Err(CrmError::Conflict { field: "phone", .. })
    ));
    // Someone's further number as a new primary number.
    let by_other = NewCustomer::individual(&s, "张三", "13600136000");
    assert!(matches!(
        create_customer(&mut c, &actor(), &all, &by_other, now),
        Err(CrmError::DuplicateSuspected { .. })
    ));
    // Same ID number, different phone.
    let mut by_id = NewCustomer::individual(&s, "张三", "13500135000");
    by_id.id_number = Some("11010519491231002x".into());
    match create_customer(&mut c, &actor(), &all, &by_id, now) {
        Err(CrmError::DuplicateSuspected { matches }) => {
            assert_eq!(matches.len(), 1);
            assert_eq!(matches[0].matched_on, MatchKind::IdNumber);
        }
        other => panic!("{other:?}"),
    }
    // Acknowledged by a person: created.
    by_id.allow_duplicate = true;
    let b = create_customer(&mut c, &actor(), &all, &by_id, now).unwrap();
    assert_ne!(a.id, b.id);
    let found = find_duplicates(
        &mut c,
        &DuplicateProbe {
            id_number: Some(IdNumber::parse("11010519491231002X").unwrap()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(found.len(), 2);
}

fn scope_hides_other_stores(db: &TestDb) {
    let mut c = conn(db);
    let bj = store(&mut c, "BJ01");
    let sh = store(&mut c, "SH01");
    let a = customer(&mut c, &bj, "王五", "13800000001");
    let b = customer(&mut c, &sh, "王六", "13800000002");
    let only_bj = StoreScope::Stores(vec![bj.clone()]);
    assert!(get_customer(&mut c, &only_bj, &a.id).is_ok());
    assert!(matches!(
        get_customer(&mut c, &only_bj, &b.id),
        Err(CrmError::NotFound(_))
    ));
    assert!(matches!(
        update_customer(
            &mut c,
            &actor(),
            &only_bj,
            &b.id,
            &CustomerUpdate::default(),
            at(2026, 1, 2, 0)
        ),
        Err(CrmError::NotFound(_))
    ));
    let hits = search_customers(&mut c, &only_bj, "王", None, 10).unwrap();
    assert_eq!(hits.len(), 1);
    let hits = search_customers(&mut c, &StoreScope::AllStores, "王", None, 10).unwrap();
    assert_eq!(hits.len(), 2);
}

struct Cards;
impl CardLookup for Cards {
    fn customers_by_card(
        &self,
        conn: &mut dms_db::DbConnection,
        card: &str,
    ) -> dms_crm::Result<Vec<String>> {
        use diesel::prelude::*;
        if card == "880001" {
            Ok(dms_db::schema::customers::table
                .filter(dms_db::schema::customers::phone.eq("13900000003"))
                .select(dms_db::schema::customers::id)
                .load(conn)?)
        } else {
            Ok(vec![])
        }
    }
}

fn search_by_name_phone_plate_vin_card(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let all = StoreScope::AllStores;
    let a = customer(&mut c, &s, "欧阳娜娜", "13900000001");
    let b = customer(&mut c, &s, "John Smith", "13900000002");
    let d = customer(&mut c, &s, "欧阳修", "13800000003");
    let e = customer(&mut c, &s, "刘备", "13900000003");
    add_customer_phone(
        &mut c,
        &actor(),
        &all,
        &d.id,
        &NewPhone {
            phone: "13912345678".into(),
            label: "".into(),
        },
        false,
        at(2026, 1, 1, 9),
    )
    .unwrap();
    // Someone else's number as a further phone: a likely duplicate unless acknowledged.
    let fam = NewPhone {
        phone: "13900000002".into(),
        label: "家人".into(),
    };
    assert!(matches!(
        add_customer_phone(
            &mut c,
            &actor(),
            &all,
            &d.id,
            &fam,
            false,
            at(2026, 1, 1, 9)
        ),
        Err(CrmError::DuplicateSuspected { .. })
    ));
    add_customer_phone(&mut c, &actor(), &all, &d.id, &fam, true, at(2026, 1, 1, 9)).unwrap();
    let names = |v: Vec<Customer>| v.into_iter().map(|c| c.name).collect::<Vec<_>>();
    assert_eq!(
        names(search_customers(&mut c, &all, "欧阳", None, 10).unwrap()),
        vec!["欧阳修", "欧阳娜娜"]
    );
    assert_eq!(
        names(search_customers(&mut c, &all, "john s", None, 10).unwrap()),
        vec!["John Smith"]
    );
    assert_eq!(
        names(search_customers(&mut c, &all, "JOHN", None, 10).unwrap()),
        vec!["John Smith"]
    );
    // Phone prefix, including further numbers.
    let hits = search_customers(&mut c, &all, "139", None, 10).unwrap();
    let mut ids: Vec<_> = hits.iter().map(|c| c.id.clone()).collect();
    ids.sort();
    let mut want = vec![a.id.clone(), b.id.clone(), d.id.clone(), e.id.clone()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(
        names(search_customers(&mut c, &all, "1391234", None, 10).unwrap()),
        vec!["欧阳修"]
    );
    // A card number found by the membership hook wins over the phone reading.
    assert_eq!(
        names(search_customers(&mut c, &all, "880001", Some(&Cards), 10).unwrap()),
        vec!["刘备"]
    );
    // Plate and VIN.
    create_vehicle(
        &mut c,
        &actor(),
        &all,
        &NewVehicle {
            plate: Some("京A·12345".into()),
            customer_id: Some(b.id.clone()),
            ..NewVehicle::new(&s, "1HGCM82633A004352")
        },
        at(2026, 1, 1, 9),
    )
    .unwrap();
    assert_eq!(
        names(search_customers(&mut c, &all, "京A12", None, 10).unwrap()),
        vec!["John Smith"]
    );
    assert_eq!(
        names(search_customers(&mut c, &all, "1hgcm82633a004352", None, 10).unwrap()),
        vec!["John Smith"]
    );
    assert_eq!(classify_query("京A12345"), SearchKind::Plate);
    assert_eq!(classify_query("王"), SearchKind::Name);
}

fn list_pages_through_everyone(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    for i in 0..5 {
        customer(&mut c, &s, &format!("客户{i}"), &format!("1370000000{i}"));
    }
    let (first, _) = list_customers(
        &mut c,
        &StoreScope::AllStores,
        &CustomerFilter::default(),
        &PageRequest::first(1),
    )
    .unwrap();
    set_customer_tags(
        &mut c,
        &actor(),
        &StoreScope::AllStores,
        &first[0].id,
        &["VIP".into()],
        at(2026, 1, 1, 9),
    )
    .unwrap();
    let mut page = PageRequest::first(2);
    let mut seen = vec![];
    loop {
        let (rows, next) = list_customers(
            &mut c,
            &StoreScope::AllStores,
            &CustomerFilter::default(),
            &page,
        )
        .unwrap();
        seen.extend(rows.into_iter().map(|c| c.name));
        match next {
            Some(n) => page.after = Some(dms_core::Cursor::decode(&n).unwrap()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let f = CustomerFilter {
        tag: Some("VIP".into()),
        ..Default::default()
    };
    let (rows, _) =
        list_customers(&mut c, &StoreScope::AllStores, &f, &PageRequest::first(10)).unwrap();
    assert_eq!(rows.len(), 1);
}

/// A customer created by identity (the owners' app path) is still found by name: the
/// migration's trigger fills the search key.
fn identity_created_customer_is_searchable(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    dms_identity::create_customer(
        &mut c,
        &actor(),
        &StoreScope::AllStores,
        &dms_identity::NewCustomer {
            store_id: s.clone(),
            name: "Alice 陈".into(),
            phone: "13800138001".into(),
        },
    )
    .unwrap();
    let hits = search_customers(&mut c, &StoreScope::AllStores, "alice", None, 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].kind, CustomerKind::Individual);
    assert_eq!(hits[0].status, "active");
}

fn import_reports_each_row(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    customer(&mut c, &s, "已有客户", "13600000001");
    let rows = vec![
        NewCustomer::individual(&s, "甲", "13600000002"),
        NewCustomer::individual(&s, "已有客户", "13600000001"),
        NewCustomer::individual(&s, "乙", "not a phone"),
        NewCustomer::individual(&s, "甲(重复行)", "13600000002"),
        NewCustomer::individual(&s, "丙", "13600000003"),
    ];
    let r = import_customers(
        &mut c,
        &actor(),
        &StoreScope::AllStores,
        &rows,
        at(2026, 1, 1, 8),
    )
    .unwrap();
    assert_eq!(r.created.len(), 2);
    assert_eq!(
        r.duplicates.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        vec![1, 3]
    );
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].0, 2);
    assert_eq!(audit_count(&mut c, "customer.create"), 3);
}

dms_db::engine_tests!(
    import_reports_each_row,
    full_customer_round_trip,
    bad_input_is_refused,
    duplicates_are_detected_on_create,
    scope_hides_other_stores,
    search_by_name_phone_plate_vin_card,
    list_pages_through_everyone,
    identity_created_customer_is_searchable,
);
