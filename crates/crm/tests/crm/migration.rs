//! The CRM migration reverts and re-applies cleanly on both engines, and identity's
//! minimal customer insert keeps working on the extended table.

use crate::common::*;
use diesel::connection::SimpleConnection;
use dms_core::StoreScope;
use dms_crm::*;
use dms_db::testing::TestDb;
use dms_db::Engine;

fn down_then_up_again(db: &TestDb) {
    let mut c = conn(db);
    let (down, up) = match c.engine() {
        Engine::Sqlite => (
            include_str!("../../../../migrations/sqlite/2026-11-26-000020_crm/down.sql"),
            include_str!("../../../../migrations/sqlite/2026-11-26-000020_crm/up.sql"),
        ),
        Engine::Postgres => (
            include_str!("../../../../migrations/postgres/2026-11-26-000020_crm/down.sql"),
            include_str!("../../../../migrations/postgres/2026-11-26-000020_crm/up.sql"),
        ),
    };
    let s = store(&mut c, "BJ01");
    // A row from before CRM existed survives the round trip.
    dms_identity::create_customer(
        &mut c,
        &actor(),
        &StoreScope::AllStores,
        &dms_identity::NewCustomer {
            store_id: s.clone(),
            name: "老客户".into(),
            phone: "13800000099".into(),
        },
    )
    .unwrap();
    c.batch_execute(down).unwrap();
    c.batch_execute(up).unwrap();
    let hits = search_customers(&mut c, &StoreScope::AllStores, "老客户", None, 5).unwrap();
    assert_eq!(hits.len(), 1, "backfilled search key");
    assert_eq!(hits[0].kind, CustomerKind::Individual);
    customer(&mut c, &s, "新客户", "13800000098");
}

dms_db::engine_tests!(down_then_up_again);
