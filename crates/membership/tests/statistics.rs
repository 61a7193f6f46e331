//! Member statistics reconcile with the ledgers, on both engines: after varied activity over
//! several days, two stores and two tiers (top-ups with and without bonus, debits, checkouts of
//! several categories, a void), the SQL report equals sums taken independently in Rust from the
//! ledger rows, and the stores, days, months and tiers each sum to the total.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use common::*;
use diesel::prelude::*;
use dms_core::{FixedClock, Money, StoreScope};
use dms_db::testing::TestDb;
use dms_db::DbConnection;
use dms_membership::schema::{mem_cards, mem_checkouts, mem_members, mem_sv_entries, mem_sv_txns};
use dms_membership::statistics::{
    statistics_report, ClubStatistics, Granularity, StatisticsQuery, StatisticsReport,
};
use dms_membership::*;
use std::collections::BTreeMap;

fn main_clock(day: u32, hour: u32) -> FixedClock {
    FixedClock::new(Utc.with_ymd_and_hms(2026, 11, day, hour, 30, 0).unwrap())
}

fn line(cat: Category, price: &str) -> BasketLine {
    BasketLine {
        category: cat,
        item_code: None,
        description: "项目".into(),
        quantity: 1.into(),
        unit_price: yuan(price),
        insurer_paid: false,
    }
}

/// The reference: the period's stored-value counter entries classified in Rust, per
/// (store, day, tier now), without SQL aggregates.
fn reference(
    c: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
) -> BTreeMap<(String, NaiveDate, String), ClubStatistics> {
    let start = dms_db::to_db_time(from.and_hms_opt(0, 0, 0).unwrap().and_utc());
    let end = dms_db::to_db_time(to.and_hms_opt(0, 0, 0).unwrap().and_utc());
    let member_tier: BTreeMap<String, String> = mem_members::table
        .select((mem_members::id, mem_members::tier_code))
        .load::<(String, String)>(c)
        .unwrap()
        .into_iter()
        .collect();
    let tiers: BTreeMap<String, String> = mem_cards::table
        .select((mem_cards::id, mem_cards::member_id))
        .load::<(String, String)>(c)
        .unwrap()
        .into_iter()
        .map(|(card, member)| (card, member_tier[&member].clone()))
        .collect();
    let txn_card: BTreeMap<String, String> = mem_sv_txns::table
        .select((mem_sv_txns::id, mem_sv_txns::card_id))
        .load::<(String, String)>(c)
        .unwrap()
        .into_iter()
        .collect();
    let mut out: BTreeMap<(String, NaiveDate, String), ClubStatistics> = BTreeMap::new();
    let rows: Vec<(String, String, i64, chrono::NaiveDateTime, String)> = mem_sv_entries::table
        .filter(mem_sv_entries::card_id.is_null())
        .filter(mem_sv_entries::created_at.ge(start))
        .filter(mem_sv_entries::created_at.lt(end))
        .select((
            mem_sv_entries::store_id,
            mem_sv_entries::account,
            mem_sv_entries::amount_fen,
            mem_sv_entries::created_at,
            mem_sv_entries::txn_id,
        ))
        .load(c)
        .unwrap();
    let add = |m: Money, fen: i64| Money::from_fen(m.fen() + fen);
    for (store, account, amount, at, txn) in rows {
        let card = &txn_card[&txn];
        let s = out
            .entry((store, at.date(), tiers[card].clone()))
            .or_default();
        if account.starts_with("tender:") {
            s.topped_up = add(s.topped_up, -amount);
        } else if account == "bonus_promotion" {
            s.bonus_granted = add(s.bonus_granted, -amount);
        } else if account == "sales" {
            s.consumed = add(s.consumed, amount);
        } else if account.starts_with("refund:") {
            s.refunded = add(s.refunded, amount);
        }
    }
    let checkouts: Vec<(String, String, i64, chrono::NaiveDateTime, String)> = mem_checkouts::table
        .filter(mem_checkouts::created_at.ge(start))
        .filter(mem_checkouts::created_at.lt(end))
        .select((
            mem_checkouts::store_id,
            mem_checkouts::status,
            mem_checkouts::total_fen,
            mem_checkouts::created_at,
            mem_checkouts::card_id,
        ))
        .load(c)
        .unwrap();
    for (store, status, total, at, card) in checkouts {
        let s = out
            .entry((store, at.date(), tiers[&card].clone()))
            .or_default();
        if status == "completed" {
            s.checkouts += 1;
            s.checkout_total = add(s.checkout_total, total);
        } else {
            s.checkouts_voided += 1;
        }
    }
    let cards: Vec<(String, chrono::NaiveDateTime, String)> = mem_cards::table
        .filter(mem_cards::created_at.ge(start))
        .filter(mem_cards::created_at.lt(end))
        .select((mem_cards::store_id, mem_cards::created_at, mem_cards::id))
        .load(c)
        .unwrap();
    for (store, at, card) in cards {
        out.entry((store, at.date(), tiers[&card].clone()))
            .or_default()
            .cards_issued += 1;
    }
    out
}

fn money_only(s: &ClubStatistics) -> ClubStatistics {
    ClubStatistics {
        topped_up: s.topped_up,
        bonus_granted: s.bonus_granted,
        consumed: s.consumed,
        refunded: s.refunded,
        checkouts: s.checkouts,
        checkouts_voided: s.checkouts_voided,
        checkout_total: s.checkout_total,
        cards_issued: s.cards_issued,
        ..Default::default()
    }
}

fn sum<'a>(rows: impl Iterator<Item = &'a ClubStatistics>) -> ClubStatistics {
    let mut t = ClubStatistics::default();
    for s in rows {
        let m = |a: Money, b: Money| Money::from_fen(a.fen() + b.fen());
        t.topped_up = m(t.topped_up, s.topped_up);
        t.bonus_granted = m(t.bonus_granted, s.bonus_granted);
        t.consumed = m(t.consumed, s.consumed);
        t.refunded = m(t.refunded, s.refunded);
        t.bonus_forfeited = m(t.bonus_forfeited, s.bonus_forfeited);
        t.checkouts += s.checkouts;
        t.checkouts_voided += s.checkouts_voided;
        t.checkout_total = m(t.checkout_total, s.checkout_total);
        t.cards_issued += s.cards_issued;
        t.points_earned += s.points_earned;
        t.points_redeemed += s.points_redeemed;
        t.gift_redemptions += s.gift_redemptions;
        t.gift_points += s.gift_points;
        t.coupons_used += s.coupons_used;
    }
    t
}

fn assert_breakdowns_sum_to_total(r: &StatisticsReport) {
    assert_eq!(sum(r.by_store.iter().map(|(_, s)| s)), r.total);
    assert_eq!(sum(r.by_period.iter().map(|(_, s)| s)), r.total);
    assert_eq!(sum(r.by_tier.iter().map(|(_, s)| s)), r.total);
    let cats: i64 = r.by_category.iter().map(|c| c.net.fen()).sum();
    assert_eq!(cats, r.total.checkout_total.fen());
}

fn report_reconciles_with_the_ledgers(db: &TestDb) {
    let mut c = db.pool.get().unwrap();
    let a = store(&mut c, "A01");
    let b = store(&mut c, "B01");
    let all = StoreScope::AllStores;
    let fixtures = [
        member_with_card(&mut c, &a, Some("gold")),
        member_with_card(&mut c, &a, None),
        member_with_card(&mut c, &b, Some("gold")),
        member_with_card(&mut c, &b, None),
    ];
    // Activity on 27, 28 and 29 November, at varied hours, spread over the four cards.
    let cats = [
        Category::Labour,
        Category::Parts,
        Category::Detailing,
        Category::Accessories,
    ];
    let mut n = 0;
    let mut completed = Vec::new();
    for day in 27..30u32 {
        for (i, f) in fixtures.iter().enumerate() {
            n += 1;
            let clock = main_clock(day, 8 + (i as u32) * 3);
            let amount = ["1000", "250.50", "88.88", "1500"][(n + i) % 4];
            top_up(
                &mut c,
                &staff(),
                &all,
                &clock,
                &format!("t{n}"),
                &TopUp {
                    card_id: f.card.id.clone(),
                    amount: yuan(amount),
                    payment_method: if n % 2 == 0 {
                        PaymentMethod::Cash
                    } else {
                        PaymentMethod::BankCard
                    },
                    terminal_id: None,
                },
            )
            .unwrap();
            clock.advance(Duration::minutes(20));
            debit(
                &mut c,
                &staff(),
                &all,
                &clock,
                &format!("d{n}"),
                &Debit {
                    card_id: f.card.id.clone(),
                    amount: yuan("12.34"),
                    terminal_id: None,
                    memo: String::new(),
                },
            )
            .unwrap();
            clock.advance(Duration::minutes(20));
            let lines = vec![
                line(cats[n % 4], "199.99"),
                line(cats[(n + 1) % 4], "45.50"),
            ];
            let quote = price_for(&mut c, &f.card.id, &f.store, &lines);
            let r = checkout(
                &mut c,
                &staff(),
                &all,
                &clock,
                &format!("c{n}"),
                &CheckoutRequest {
                    card_id: f.card.id.clone(),
                    store_id: f.store.clone(),
                    terminal_id: None,
                    lines,
                    coupon_ids: vec![],
                    redeem_points: 0,
                    tenders: vec![Tender::StoredValue(quote)],
                    discount_override: None,
                },
                CheckoutPermissions::default(),
            )
            .unwrap();
            completed.push((clock, r.value.checkout_id));
        }
    }
    // One checkout voided the next day.
    let (clock, id) = &completed[5];
    clock.advance(Duration::days(1));
    void_checkout(
        &mut c,
        &staff(),
        &all,
        clock,
        "v1",
        &VoidCheckout {
            checkout_id: id.clone(),
            reason: "录错".into(),
        },
    )
    .unwrap();
    assert_ledgers_ok(&mut c);

    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
    );
    let q = |g, tier: Option<&str>| StatisticsQuery {
        from,
        to,
        tier: tier.map(str::to_string),
        granularity: g,
    };
    let r = statistics_report(&mut c, &all, &q(Granularity::Day, None)).unwrap();
    let reference = reference(&mut c, from, to);
    let want = sum(reference.values());
    assert_eq!(money_only(&r.total), want);
    assert!(
        r.total.bonus_granted > Money::ZERO,
        "some top-ups earned a bonus"
    );
    assert_eq!(r.total.checkouts, 11);
    assert_eq!(r.total.checkouts_voided, 1);
    assert_eq!(r.total.cards_issued, 4);
    assert!(r.total.points_earned > 0);
    assert_breakdowns_sum_to_total(&r);
    // Each store, day and tier equals the reference's.
    for (store, s) in &r.by_store {
        let w = sum(reference
            .iter()
            .filter(|((st, _, _), _)| st == store)
            .map(|(_, s)| s));
        assert_eq!(money_only(s), w, "store {store}");
    }
    for (day, s) in &r.by_period {
        let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
        let w = sum(reference
            .iter()
            .filter(|((_, dd, _), _)| *dd == d)
            .map(|(_, s)| s));
        assert_eq!(money_only(s), w, "day {day}");
    }
    assert_eq!(r.by_period.len(), 30);
    for (tier, s) in &r.by_tier {
        let w = sum(reference
            .iter()
            .filter(|((_, _, t), _)| t == tier)
            .map(|(_, s)| s));
        assert_eq!(money_only(s), w, "tier {tier}");
    }
    assert_eq!(
        r.by_tier
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>(),
        vec!["standard", "gold"]
    );
    // The stored value the cards hold is what came in less what went out.
    let held: Vec<(i64, i64)> = mem_cards::table
        .select((mem_cards::principal_fen, mem_cards::bonus_fen))
        .load(&mut c)
        .unwrap();
    let held: i64 = held.iter().map(|(p, b)| p + b).sum();
    let t = &r.total;
    assert_eq!(
        held,
        t.topped_up.fen() + t.bonus_granted.fen()
            - t.consumed.fen()
            - t.refunded.fen()
            - t.bonus_forfeited.fen()
    );

    // By month: one row, the same total; one store; one tier.
    let m = statistics_report(&mut c, &all, &q(Granularity::Month, None)).unwrap();
    assert_eq!(m.total, r.total);
    assert_eq!(m.by_period.len(), 1);
    assert_eq!(m.by_category, r.by_category);
    let only_b = StoreScope::Stores(vec![b.clone()]);
    let rb = statistics_report(&mut c, &only_b, &q(Granularity::Day, None)).unwrap();
    assert_eq!(rb.by_store.len(), 1);
    assert_eq!(
        rb.total,
        r.by_store.iter().find(|(s, _)| *s == b).unwrap().1
    );
    let gold = statistics_report(&mut c, &all, &q(Granularity::Month, Some("gold"))).unwrap();
    assert_eq!(
        gold.total,
        r.by_tier.iter().find(|(t, _)| t == "gold").unwrap().1
    );
    assert_breakdowns_sum_to_total(&gold);
    // A bad range is refused.
    assert!(statistics_report(
        &mut c,
        &all,
        &StatisticsQuery {
            from: to,
            to: from,
            tier: None,
            granularity: Granularity::Day
        }
    )
    .is_err());
}

/// What the member pays for `lines` (the stored-value tender must be exactly that).
fn price_for(c: &mut DbConnection, card: &str, store: &str, lines: &[BasketLine]) -> Money {
    quote(
        c,
        &StoreScope::AllStores,
        &clock(),
        &CheckoutRequest {
            card_id: card.into(),
            store_id: store.into(),
            terminal_id: None,
            lines: lines.to_vec(),
            coupon_ids: vec![],
            redeem_points: 0,
            tenders: vec![],
            discount_override: None,
        },
        CheckoutPermissions::default(),
    )
    .unwrap()
    .member_pays
}

dms_db::engine_tests!(report_reconciles_with_the_ledgers);
