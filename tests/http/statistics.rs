//! Member club statistics over HTTP (`GET /api/v1/membership/statistics` and its export): after
//! varied activity in two stores, the report's totals equal what the desk did and what the
//! ledgers hold, and every breakdown (store, day, month, tier, category) sums to the total.

use dms_tests::{http_tests, Client, Reply, TestServer};
use serde_json::{json, Value};
use std::io::Read;

fn post_key(c: &Client, path: &str, body: &Value) -> Reply {
    let req = c
        .request("POST", path)
        .set("Content-Type", "application/json")
        .set("Idempotency-Key", &dms_core::new_id());
    c.send(req, Some(body.to_string().as_bytes()))
}

fn fen(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not money: {v}"));
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (y, f) = s.split_once('.').unwrap();
    let n = y.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap();
    if neg {
        -n
    } else {
        n
    }
}

const MONEY: [&str; 6] = [
    "topped_up",
    "bonus_granted",
    "consumed",
    "refunded",
    "bonus_forfeited",
    "checkout_total",
];
const COUNTS: [&str; 8] = [
    "checkouts",
    "checkouts_voided",
    "cards_issued",
    "points_earned",
    "points_redeemed",
    "gift_redemptions",
    "gift_points",
    "coupons_used",
];

/// Every figure of a breakdown's rows summed, compared with the total.
fn assert_sums_to_total(report: &Value, breakdown: &str) {
    let rows = report[breakdown].as_array().unwrap();
    for f in MONEY {
        let sum: i64 = rows.iter().map(|r| fen(&r["statistics"][f])).sum();
        assert_eq!(
            sum,
            fen(&report["total"][f]),
            "{breakdown} sums to the total for {f}"
        );
    }
    for f in COUNTS {
        let sum: i64 = rows
            .iter()
            .map(|r| r["statistics"][f].as_i64().unwrap())
            .sum();
        assert_eq!(
            sum,
            report["total"][f].as_i64().unwrap(),
            "{breakdown} sums to the total for {f}"
        );
    }
}

#[derive(Default)]
struct Expected {
    topped_up: i64,
    bonus: i64,
    consumed: i64,
    checkouts: i64,
    voided: i64,
    checkout_total: i64,
    cards: i64,
    points_earned: i64,
    coupons_used: i64,
    /// Net per category of the completed checkouts.
    categories: std::collections::BTreeMap<String, i64>,
}

struct Desk<'a> {
    cashier: Client,
    store: &'a str,
}

fn member_with_card(d: &Desk, customer: &str, fee: &str, e: &mut Expected) -> (String, String) {
    let m = d.cashier.post(
        "/api/v1/members",
        &json!({"customer_id": customer, "store_id": d.store, "channel": "fee", "fee_paid": fee}),
    );
    assert_eq!(m.status, 201, "{}", m.body);
    let member = m.json["id"].as_str().unwrap().to_string();
    let card = d
        .cashier
        .post("/api/v1/cards", &json!({"member_id": member}));
    assert_eq!(card.status, 201, "{}", card.body);
    e.cards += 1;
    (member, card.json["id"].as_str().unwrap().to_string())
}

fn top_up(d: &Desk, card: &str, amount: &str, e: &mut Expected) {
    let t = post_key(
        &d.cashier,
        &format!("/api/v1/cards/{card}/top-ups"),
        &json!({"amount": amount, "payment_method": "cash"}),
    );
    assert_eq!(t.status, 201, "{}", t.body);
    e.topped_up += fen(&t.json["paid"]);
    e.bonus += fen(&t.json["bonus"]);
}

/// A checkout paid by stored value (and cash for the rest); returns the receipt.
fn checkout(d: &Desk, card: &str, lines: Value, sv: &str, e: &mut Expected) -> Value {
    let q = d.cashier.post(
        "/api/v1/checkouts/quote",
        &json!({"card_id": card, "store_id": d.store, "lines": lines}),
    );
    assert_eq!(q.status, 200, "{}", q.body);
    let pays = fen(&q.json["member_pays"]);
    let sv_fen = fen(&json!(sv)).min(pays);
    let mut tenders = vec![json!({"kind": "stored_value", "amount": fmt(sv_fen)})];
    if pays > sv_fen {
        tenders.push(json!({"kind": "cash", "amount": fmt(pays - sv_fen)}));
    }
    let r = post_key(
        &d.cashier,
        "/api/v1/checkouts",
        &json!({"card_id": card, "store_id": d.store, "lines": lines, "tenders": tenders}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let receipt = r.json;
    e.checkouts += 1;
    e.checkout_total += fen(&receipt["basket"]["total"]);
    e.consumed += fen(&receipt["principal_used"]) + fen(&receipt["bonus_used"]);
    e.points_earned += receipt["basket"]["points_earned"].as_i64().unwrap();
    for l in receipt["basket"]["lines"].as_array().unwrap() {
        *e.categories
            .entry(l["category"].as_str().unwrap().to_string())
            .or_default() += fen(&l["net"]);
    }
    receipt
}

fn fmt(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

fn line(category: &str, qty: &str, price: &str) -> Value {
    json!({"category": category, "description": format!("{category} 项目"), "quantity": qty, "unit_price": price})
}

fn activity_reconciles_with_the_ledgers(s: &TestServer) {
    let mut e = Expected::default();
    let d1 = Desk {
        cashier: s.login("ht01.cashier"),
        store: &s.fixture.ht01,
    };
    let d2 = Desk {
        cashier: s.login("ht02.cashier"),
        store: &s.fixture.ht02,
    };
    // HT01: a gold member (fee) and a standard one; HT02: a standard member.
    let (_, gold) = member_with_card(&d1, &s.fixture.customer_ht01, "1000.00", &mut e);
    let (_, gold2) = {
        let c = d1.cashier.post(
            "/api/v1/customers",
            &json!({"store_id": d1.store, "name": "钱敏", "phone": "13900001111"}),
        );
        let cust = if c.status == 201 {
            c.json["id"].as_str().unwrap().to_string()
        } else {
            // Cashiers may not create customers: the manager does.
            let m = s.login("ht01.manager").post(
                "/api/v1/customers",
                &json!({"store_id": d1.store, "name": "钱敏", "phone": "13900001111"}),
            );
            assert_eq!(m.status, 201, "{}", m.body);
            m.json["id"].as_str().unwrap().to_string()
        };
        member_with_card(&d1, &cust, "0", &mut e)
    };
    let (_, std2) = member_with_card(&d2, &s.fixture.customer_ht02, "0", &mut e);

    top_up(&d1, &gold, "1000.00", &mut e); // + 100.00 bonus
    top_up(&d1, &gold, "88.80", &mut e);
    top_up(&d1, &gold2, "500.00", &mut e);
    top_up(&d2, &std2, "1500.00", &mut e);
    top_up(&d2, &std2, "0.01", &mut e);

    checkout(
        &d1,
        &gold,
        json!([line("labour", "1", "400.00"), line("parts", "2", "150.00")]),
        "300.00",
        &mut e,
    );
    checkout(
        &d1,
        &gold2,
        json!([line("detailing", "1", "199.00")]),
        "199.00",
        &mut e,
    );
    let voided = checkout(
        &d2,
        &std2,
        json!([
            line("accessories", "3", "33.33"),
            line("labour", "1", "120.00")
        ]),
        "1000.00",
        &mut e,
    );
    checkout(
        &d2,
        &std2,
        json!([line("parts", "1", "0.99")]),
        "0.99",
        &mut e,
    );

    // HT02's checkout is voided by the group admin: it leaves the consumption and counts as voided.
    let admin = s.login("admin");
    let v = post_key(
        &admin,
        &format!(
            "/api/v1/checkouts/{}/void",
            voided["checkout_id"].as_str().unwrap()
        ),
        &json!({"reason": "录错单"}),
    );
    assert_eq!(v.status, 200, "{}", v.body);
    e.checkouts -= 1;
    e.voided += 1;
    e.checkout_total -= fen(&voided["basket"]["total"]);
    e.consumed -= fen(&voided["principal_used"]) + fen(&voided["bonus_used"]);
    e.points_earned -= voided["basket"]["points_earned"].as_i64().unwrap();
    for l in voided["basket"]["lines"].as_array().unwrap() {
        *e.categories
            .get_mut(l["category"].as_str().unwrap())
            .unwrap() -= fen(&l["net"]);
    }
    e.categories.retain(|_, v| *v != 0);

    let today = chrono::Utc::now().date_naive();
    let month_start = today.with_day0(0).unwrap();
    let tomorrow = today.succ_opt().unwrap();
    let r = admin.get(&format!(
        "/api/v1/membership/statistics?from={month_start}&to={tomorrow}&granularity=day"
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    let t = &r.json["total"];
    assert_eq!(fen(&t["topped_up"]), e.topped_up, "{}", r.body);
    assert_eq!(fen(&t["bonus_granted"]), e.bonus);
    assert_eq!(e.bonus, 20_000, "two top-ups of 1000 or more");
    assert_eq!(fen(&t["consumed"]), e.consumed);
    assert_eq!(t["checkouts"], e.checkouts);
    assert_eq!(t["checkouts_voided"], e.voided);
    assert_eq!(fen(&t["checkout_total"]), e.checkout_total);
    assert_eq!(t["cards_issued"], e.cards);
    assert_eq!(t["points_earned"], e.points_earned);
    assert_eq!(t["coupons_used"], e.coupons_used);
    for b in ["by_store", "by_period", "by_tier", "by_day"] {
        assert_sums_to_total(&r.json, b);
    }
    assert_eq!(
        r.json["by_period"].as_array().unwrap().len() as i64,
        (tomorrow - month_start).num_days(),
        "every day of the period, zeros included"
    );
    let tiers: Vec<&str> = r.json["by_tier"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["tier_code"].as_str().unwrap())
        .collect();
    assert_eq!(tiers, vec!["standard", "gold"], "programme order");
    let cats: std::collections::BTreeMap<String, i64> = r.json["by_category"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["category"].as_str().unwrap().to_string(), fen(&c["net"])))
        .collect();
    assert_eq!(cats, e.categories);
    assert_eq!(cats.values().sum::<i64>(), e.checkout_total);

    // The ledgers themselves: every card's balance is what the period moved in and out.
    {
        use diesel::prelude::*;
        use dms_membership::schema::{mem_cards, mem_members, mem_sv_entries};
        let mut c = s.db.pool.get().unwrap();
        let balances: Vec<(i64, i64)> = mem_cards::table
            .select((mem_cards::principal_fen, mem_cards::bonus_fen))
            .load(&mut c)
            .unwrap();
        let held: i64 = balances.iter().map(|(p, b)| p + b).sum();
        assert_eq!(
            held,
            fen(&t["topped_up"]) + fen(&t["bonus_granted"])
                - fen(&t["consumed"])
                - fen(&t["refunded"])
                - fen(&t["bonus_forfeited"]),
            "cards hold what was topped up and granted less what was spent"
        );
        let card_side: Vec<i64> = mem_sv_entries::table
            .filter(mem_sv_entries::card_id.is_not_null())
            .select(mem_sv_entries::amount_fen)
            .load(&mut c)
            .unwrap();
        assert_eq!(card_side.iter().sum::<i64>(), held);
        let points: Vec<i64> = mem_members::table
            .select(mem_members::redeemable_points)
            .load(&mut c)
            .unwrap();
        assert_eq!(
            points.iter().sum::<i64>(),
            t["points_earned"].as_i64().unwrap() - t["points_redeemed"].as_i64().unwrap()
        );
    }

    // Month granularity, one store, one tier.
    let r = admin.get(&format!(
        "/api/v1/membership/statistics?from={month_start}&to={tomorrow}&store_id={}",
        s.fixture.ht02
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["granularity"], "month");
    assert_eq!(r.json["by_period"].as_array().unwrap().len(), 1);
    assert_eq!(r.json["by_store"].as_array().unwrap().len(), 1);
    assert_eq!(fen(&r.json["total"]["topped_up"]), 150_001);
    assert_sums_to_total(&r.json, "by_period");
    let g = admin.get(&format!(
        "/api/v1/membership/statistics?from={month_start}&to={tomorrow}&tier=gold"
    ));
    assert_eq!(g.status, 200, "{}", g.body);
    assert_eq!(fen(&g.json["total"]["topped_up"]), 108_880);
    assert_eq!(g.json["total"]["cards_issued"], 1);

    // A store's cashier sees only that store.
    let own = d1.cashier.get(&format!(
        "/api/v1/membership/statistics?from={month_start}&to={tomorrow}"
    ));
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(
        fen(&own.json["total"]["topped_up"]),
        100_000 + 8_880 + 50_000
    );
    d1.cashier
        .get(&format!(
            "/api/v1/membership/statistics?from={month_start}&to={tomorrow}&store_id={}",
            s.fixture.ht02
        ))
        .problem(404, "not_found");
}

fn download(c: &Client, path: &str) -> (u16, String, String, Vec<u8>) {
    let resp = match c.request("GET", path).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = resp.status();
    let ct = resp.header("Content-Type").unwrap_or_default().to_string();
    let cd = resp
        .header("Content-Disposition")
        .unwrap_or_default()
        .to_string();
    let mut buf = Vec::new();
    resp.into_reader().read_to_end(&mut buf).unwrap();
    (status, ct, cd, buf)
}

fn manager_exports_the_figures(s: &TestServer) {
    let mut e = Expected::default();
    let d1 = Desk {
        cashier: s.login("ht01.cashier"),
        store: &s.fixture.ht01,
    };
    let (_, card) = member_with_card(&d1, &s.fixture.customer_ht01, "0", &mut e);
    top_up(&d1, &card, "1234.56", &mut e);
    checkout(
        &d1,
        &card,
        json!([line("labour", "1", "300.00")]),
        "300.00",
        &mut e,
    );

    let m = s.login("ht01.manager");
    let today = chrono::Utc::now().date_naive();
    let from = today.with_day0(0).unwrap();
    let to = today.succ_opt().unwrap();
    let (status, ct, cd, body) = download(
        &m,
        &format!(
            "/api/v1/membership/statistics/export?from={from}&to={to}&granularity=day&format=csv"
        ),
    );
    assert_eq!(status, 200);
    assert_eq!(ct, "text/csv; charset=utf-8");
    assert!(
        cd.contains(&format!(
            "filename=\"member-statistics_{from}_{today}.csv\""
        )),
        "{cd}"
    );
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with('\u{feff}'), "UTF-8 BOM for Excel");
    for needle in [
        "【汇总】",
        "范围,充值金额,充值赠送,储值消费,退卡退款,赠送作废,消费笔数,作废笔数,消费金额,发卡数",
        "合计,1234.56,100.00,300.00,0.00,0.00,1,0,300.00,1,",
        "【按门店】",
        "【按日】",
        &format!("{today},1234.56,100.00,300.00"),
        "【按等级】",
        "【按消费类别】",
        "labour,工时费,1,300.00,300.00",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }

    let (status, ct, cd, body) = download(
        &m,
        &format!("/api/v1/membership/statistics/export?from={from}&to={to}"),
    );
    assert_eq!(status, 200);
    assert_eq!(
        ct,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(
        cd.contains(&format!("member-statistics_{from}_{today}.xlsx")),
        "{cd}"
    );
    assert_eq!(&body[..2], b"PK", "an xlsx is a zip");

    // Bad input is a problem naming the field; no permission is 403.
    m.get(&format!(
        "/api/v1/membership/statistics/export?from={from}&to={to}&format=pdf"
    ))
    .problem(422, "validation_failed");
    let r = m.get(&format!(
        "/api/v1/membership/statistics/export?from={to}&to={from}"
    ));
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("\"to\""), "{}", r.body);
    s.login("ht01.tech")
        .get(&format!(
            "/api/v1/membership/statistics/export?from={from}&to={to}"
        ))
        .problem(403, "forbidden");
}

use chrono::Datelike;

http_tests!(
    activity_reconciles_with_the_ledgers,
    manager_exports_the_figures
);
