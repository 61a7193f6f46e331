//! Fixtures shared by the membership tests: a store, a customer, a member with a card.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use dms_core::{FixedClock, Money, StoreScope};
use dms_db::DbConnection;
use dms_identity::{create_customer, create_store, Actor, NewCustomer, NewStore};
use dms_membership::*;

pub fn clock() -> FixedClock {
    FixedClock::new(Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap())
}

pub fn staff() -> Actor {
    Actor {
        kind: "staff",
        id: Some("staff-1".into()),
        name: "收银员".into(),
        request_id: None,
    }
}

pub fn yuan(s: &str) -> Money {
    s.parse().unwrap()
}

pub fn store(c: &mut DbConnection, code: &str) -> String {
    create_store(
        c,
        &Actor::system("test"),
        &NewStore {
            code: code.into(),
            name: format!("{code}店"),
            address: String::new(),
            phone: String::new(),
        },
    )
    .unwrap()
    .id
}

static PHONE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn customer(c: &mut DbConnection, store_id: &str) -> String {
    let n = PHONE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let pid = u64::from(std::process::id()) % 1000;
    create_customer(
        c,
        &Actor::system("test"),
        &StoreScope::AllStores,
        &NewCustomer {
            store_id: store_id.into(),
            name: "张三".into(),
            phone: format!("139{pid:03}{n:05}"),
        },
    )
    .unwrap()
    .id
}

pub struct Fixture {
    pub store: String,
    pub member: Member,
    pub card: Card,
}

pub fn member_with_card(c: &mut DbConnection, store_id: &str, tier: Option<&str>) -> Fixture {
    let clock = clock();
    let cust = customer(c, store_id);
    let member = join_member(
        c,
        &staff(),
        &StoreScope::AllStores,
        &clock,
        &JoinMember {
            customer_id: cust,
            store_id: store_id.into(),
            channel: JoinChannel::Purchase,
            tier_code: tier.map(str::to_string),
            fee_paid: None,
            past_spend: None,
        },
    )
    .unwrap();
    let card = issue_card(
        c,
        &staff(),
        &StoreScope::AllStores,
        &clock,
        &IssueCard {
            member_id: member.id.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    Fixture {
        store: store_id.into(),
        member,
        card,
    }
}

pub fn top_up_cash(c: &mut DbConnection, card: &str, amount: &str, key: &str) -> TopUpResult {
    top_up(
        c,
        &staff(),
        &StoreScope::AllStores,
        &clock(),
        key,
        &TopUp {
            card_id: card.into(),
            amount: yuan(amount),
            payment_method: PaymentMethod::Cash,
            terminal_id: None,
        },
    )
    .unwrap()
    .value
}

pub fn assert_ledgers_ok(c: &mut DbConnection) {
    let check = verify_ledgers(c).unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
}
