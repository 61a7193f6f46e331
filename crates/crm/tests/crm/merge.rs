//! Duplicate merge: every linked row moves, nothing is lost, another crate's table joins in
//! the same transaction, the audit trail is kept.

use crate::common::*;
use diesel::prelude::*;
use dms_core::StoreScope;
use dms_crm::*;
use dms_db::testing::TestDb;
use dms_db::DbConnection;

/// Stands in for a crate that lands later (membership cards): its own table, its own handler.
struct FakeCards;
impl CustomerLinks for FakeCards {
    fn name(&self) -> &'static str {
        "membership.cards(test)"
    }
    fn move_customer(&self, c: &mut DbConnection, from: &str, into: &str) -> dms_crm::Result<u64> {
        let n = diesel::sql_query(format!(
            "UPDATE test_cards SET customer_id = '{into}' WHERE customer_id = '{from}'"
        ))
        .execute(c)?;
        Ok(n as u64)
    }
}

struct FailingLinks;
impl CustomerLinks for FailingLinks {
    fn name(&self) -> &'static str {
        "fails"
    }
    fn move_customer(&self, _: &mut DbConnection, _: &str, _: &str) -> dms_crm::Result<u64> {
        Err(CrmError::conflict("links", "refused"))
    }
}

fn count(c: &mut DbConnection, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let r: Vec<N> = diesel::sql_query(sql).load(c).unwrap();
    r[0].n
}

fn merge_moves_everything(db: &TestDb) {
    let mut c = conn(db);
    diesel::sql_query("CREATE TABLE test_cards (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL)")
        .execute(&mut *c)
        .unwrap();
    let s = store(&mut c, "BJ01");
    let all = StoreScope::AllStores;
    let now = at(2026, 2, 1, 8);
    let mut n1 = NewCustomer::individual(&s, "孙悟空", "13811110001");
    n1.tags = vec!["VIP".into()];
    n1.consents = vec![ConsentInput {
        channel: Channel::Sms,
        granted: true,
        on: day(2025, 1, 1),
        source: "展厅".into(),
    }];
    let keep = create_customer(&mut c, &actor(), &all, &n1, now).unwrap();
    let mut n2 = NewCustomer::individual(&s, "孙悟空", "13811110002");
    n2.id_number = Some("11010519491231002X".into());
    n2.email = Some("wukong@example.com".into());
    n2.tags = vec!["VIP".into(), "车队".into()];
    n2.other_phones = vec![NewPhone {
        phone: "13811110003".into(),
        label: "".into(),
    }];
    n2.consents = vec![
        ConsentInput {
            channel: Channel::Sms,
            granted: false,
            on: day(2026, 1, 1),
            source: "电话".into(),
        },
        ConsentInput {
            channel: Channel::Email,
            granted: true,
            on: day(2026, 1, 1),
            source: "app".into(),
        },
    ];
    n2.addresses = vec![NewAddress {
        label: "公司".into(),
        province: "北京".into(),
        city: "北京".into(),
        district: "海淀".into(),
        line: "中关村1号".into(),
        postal_code: None,
    }];
    let gone = create_customer(&mut c, &actor(), &all, &n2, at(2026, 2, 1, 9)).unwrap();
    let mut nv = NewVehicle::new(&s, "1HGCM82633A004352");
    nv.customer_id = Some(gone.id.clone());
    nv.delivery_date = Some(day(2025, 6, 1));
    let v = create_vehicle(&mut c, &actor(), &all, &nv, now).unwrap();
    record_service_visit(
        &mut c,
        &actor(),
        &all,
        &NewServiceVisit {
            store_id: s.clone(),
            vehicle_id: v.id.clone(),
            visited_on: day(2026, 1, 20),
            kind: VisitKind::Maintenance,
            km: Some(8000),
            advisor_id: None,
            work_order_ref: None,
        },
        now,
    )
    .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO test_cards VALUES ('card-1', '{}')",
        gone.id
    ))
    .execute(&mut *c)
    .unwrap();

    // A handler that fails rolls the whole merge back.
    let mut bad = MergeRegistry::crm();
    bad.register(Box::new(FailingLinks));
    assert!(merge_customers(&mut c, &actor(), &all, &keep.id, &gone.id, &bad, now).is_err());
    assert_eq!(
        get_customer(&mut c, &all, &gone.id).unwrap().status,
        "active"
    );
    assert_eq!(
        list_customer_vehicles(&mut c, &all, &gone.id)
            .unwrap()
            .len(),
        1
    );

    let mut reg = MergeRegistry::crm();
    reg.register(Box::new(FakeCards));
    let report = merge_customers(
        &mut c,
        &actor(),
        &all,
        &keep.id,
        &gone.id,
        &reg,
        at(2026, 2, 2, 8),
    )
    .unwrap();
    let moved = |name: &str| report.moved.iter().find(|(n, _)| *n == name).unwrap().1;
    assert_eq!(moved("crm.vehicles"), 1);
    assert_eq!(moved("crm.vehicle_owners"), 1);
    assert_eq!(moved("crm.service_visits"), 1);
    assert_eq!(moved("membership.cards(test)"), 1);
    assert_eq!(
        moved("crm.customer_phones"),
        2,
        "further number + former primary"
    );
    assert!(report.filled.contains(&"email") && report.filled.contains(&"id_number"));

    // Nothing points at the merged record any more.
    for t in [
        "customer_phones",
        "customer_addresses",
        "customer_tags",
        "marketing_consents",
        "vehicles",
        "vehicle_owners",
        "service_visits",
        "test_cards",
    ] {
        assert_eq!(
            count(
                &mut c,
                &format!(
                    "SELECT COUNT(*) AS n FROM {t} WHERE customer_id = '{}'",
                    gone.id
                )
            ),
            0,
            "{t}"
        );
    }
    let p = get_customer_profile(&mut c, &all, &keep.id).unwrap();
    assert_eq!(p.tags, vec!["VIP".to_string(), "车队".to_string()]);
    let mut phones: Vec<_> = p.phones.iter().map(|p| p.phone.clone()).collect();
    phones.sort();
    assert_eq!(phones, vec!["13811110002", "13811110003"]);
    assert_eq!(p.addresses.len(), 1);
    // The newer statement (withdrawn on 2026-01-01) wins over the older consent.
    assert!(has_opted_out(&mut c, &keep.id, Channel::Sms).unwrap());
    assert!(has_marketing_consent(&mut c, &keep.id, Channel::Email).unwrap());
    assert_eq!(p.customer.email.as_deref(), Some("wukong@example.com"));
    assert!(p.customer.id_number.is_some());
    assert_eq!(
        list_customer_vehicles(&mut c, &all, &keep.id)
            .unwrap()
            .len(),
        1
    );
    // The merged record is kept, marked, and its phone freed for the app login.
    let g = get_customer(&mut c, &all, &gone.id).unwrap();
    assert_eq!(g.status, "merged");
    assert_eq!(g.merged_into_id.as_deref(), Some(keep.id.as_str()));
    // The merged record's old login number now leads to the survivor.
    assert_eq!(
        customer_for_login_phone(&mut c, "13811110002").unwrap(),
        Some(keep.id.clone())
    );
    assert_eq!(
        customer_for_login_phone(&mut c, "13811110001").unwrap(),
        Some(keep.id.clone())
    );
    assert_eq!(
        customer_for_login_phone(&mut c, "13899999999").unwrap(),
        None
    );
    assert!(search_customers(&mut c, &all, "13811110002", None, 10)
        .unwrap()
        .iter()
        .all(|x| x.id == keep.id));
    // Duplicate checks now point at the survivor only.
    let d = find_duplicates(
        &mut c,
        &DuplicateProbe {
            id_number: Some(IdNumber::parse("11010519491231002X").unwrap()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].customer_id, keep.id);
    assert_eq!(audit_count(&mut c, "customer.merge"), 1);
    assert_eq!(audit_count(&mut c, "customer.merged_away"), 1);
    assert_eq!(
        count(&mut c, "SELECT COUNT(*) AS n FROM customer_merges"),
        1
    );
    // Merging again or into itself is refused.
    assert!(merge_customers(&mut c, &actor(), &all, &keep.id, &gone.id, &reg, now).is_err());
    assert!(merge_customers(&mut c, &actor(), &all, &keep.id, &keep.id, &reg, now).is_err());
}

dms_db::engine_tests!(merge_moves_everything);
