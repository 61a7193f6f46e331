//! Fixtures shared by the storage tests.
#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use dms_core::StoreScope;
use dms_crm::{create_customer, Customer, NewCustomer};
use dms_db::testing::TestDb;
use dms_db::{DbConnection, PooledConn};
use dms_identity::{create_store, Actor, NewStore};

pub fn conn(db: &TestDb) -> PooledConn {
    db.pool.get().unwrap()
}

pub fn actor() -> Actor {
    Actor {
        kind: "staff",
        id: Some("staff-1".into()),
        name: "测试员".into(),
        request_id: None,
    }
}

pub fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn store(c: &mut DbConnection, code: &str) -> String {
    create_store(
        c,
        &actor(),
        &NewStore {
            code: code.into(),
            name: format!("{code}店"),
            address: "北京市朝阳区".into(),
            phone: "01062345678".into(),
        },
    )
    .unwrap()
    .id
}

pub fn customer(c: &mut DbConnection, store_id: &str, name: &str, phone: &str) -> Customer {
    create_customer(
        c,
        &actor(),
        &StoreScope::AllStores,
        &NewCustomer::individual(store_id, name, phone),
        at(2026, 1, 1, 8),
    )
    .unwrap()
}

pub fn audit_count(c: &mut DbConnection, action: &str) -> i64 {
    use diesel::prelude::*;
    use dms_db::schema::audit_log;
    audit_log::table
        .filter(audit_log::action.eq(action))
        .count()
        .get_result(c)
        .unwrap()
}
