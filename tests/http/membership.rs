//! The member club over HTTP: cards, top-up, checkout, points, coupons, gifts; money exact under concurrency.
//!
//! Every figure is checked to the fen against what the programme's demo defaults give (gold:
//! labour 10 % off, parts 5 % off; top-up of 1000 or more earns a 100 bonus, spent first).

use dms_tests::{http_tests, Client, Reply, TestServer};
use serde_json::{json, Value};

fn key() -> String {
    dms_core::new_id()
}

/// A POST with an `Idempotency-Key`.
fn post_key(c: &Client, path: &str, key: &str, body: &Value) -> Reply {
    let req = c
        .request("POST", path)
        .set("Content-Type", "application/json")
        .set("Idempotency-Key", key);
    c.send(req, Some(body.to_string().as_bytes()))
}

fn replayed(r: &Reply) -> bool {
    r.header("Idempotent-Replayed") == Some("true")
}

/// Joins `customer` in `store` (a fee of `fee` picks the tier) and issues one card.
fn member_with_card(c: &Client, customer: &str, store: &str, fee: &str) -> (String, String) {
    let m = c.post(
        "/api/v1/members",
        &json!({"customer_id": customer, "store_id": store, "channel": "fee", "fee_paid": fee}),
    );
    assert_eq!(m.status, 201, "{}", m.body);
    let member = m.json["id"].as_str().unwrap().to_string();
    let card = c.post("/api/v1/cards", &json!({"member_id": member}));
    assert_eq!(card.status, 201, "{}", card.body);
    assert_eq!(card.json["balance"], "0.00");
    (member, card.json["id"].as_str().unwrap().to_string())
}

fn top_up(c: &Client, card: &str, amount: &str) -> Reply {
    post_key(
        c,
        &format!("/api/v1/cards/{card}/top-ups"),
        &key(),
        &json!({"amount": amount, "payment_method": "cash"}),
    )
}

fn card(c: &Client, card: &str) -> Value {
    let r = c.get(&format!("/api/v1/cards/{card}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json
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

/// Every stored-value transaction of the card, through the API's pages.
fn transactions(c: &Client, card: &str) -> Vec<Value> {
    let mut out = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cur) => format!("/api/v1/cards/{card}/transactions?limit=200&cursor={cur}"),
            None => format!("/api/v1/cards/{card}/transactions?limit=200"),
        };
        let r = c.get(&path);
        assert_eq!(r.status, 200, "{}", r.body);
        out.extend(r.json["items"].as_array().unwrap().iter().cloned());
        match r.json["next_cursor"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => return out,
        }
    }
}

fn assert_balance_is_sum_of_transactions(c: &Client, card_id: &str) -> i64 {
    let balance = fen(&card(c, card_id)["balance"]);
    let txns = transactions(c, card_id);
    let sum: i64 = txns.iter().map(|t| fen(&t["balance_change"])).sum();
    assert_eq!(
        balance, sum,
        "balance is the sum of the card's transactions"
    );
    balance
}

/// The basket of the cashier's flow: gold prices labour 400.00 at 360.00 and two parts of
/// 150.00 at 285.00; the 50.00 coupon is shared 27.91 / 22.09; the member pays 595.00.
fn basket() -> Value {
    json!([
        {"category": "labour", "description": "更换刹车片工时", "quantity": "1", "unit_price": "400.00"},
        {"category": "parts", "item_code": "BP-01", "description": "刹车片", "quantity": "2", "unit_price": "150.00"}
    ])
}

fn cashier_flow_join_topup_checkout_receipt(s: &TestServer) {
    let cashier = s.login("ht01.cashier");
    let manager = s.login("ht01.manager");
    let ht01 = &s.fixture.ht01;
    let (member, card_id) = member_with_card(&cashier, &s.fixture.customer_ht01, ht01, "1000.00");
    let mj = cashier.get(&format!("/api/v1/members/{member}")).json;
    assert_eq!(mj["tier_code"], "gold", "a 1000 fee buys gold");
    let tier_points_before = mj["tier_points"].as_i64().unwrap();

    // Top-up of 1000.00: the bonus rule adds 100.00, shown in the answer.
    let t = top_up(&cashier, &card_id, "1000.00");
    assert_eq!(t.status, 201, "{}", t.body);
    assert_eq!(t.json["paid"], "1000.00");
    assert_eq!(t.json["bonus"], "100.00");
    assert_eq!(t.json["principal_after"], "1000.00");
    assert_eq!(t.json["bonus_after"], "100.00");
    assert!(t.json["bonus_expires_at"].is_string());
    assert_eq!(card(&cashier, &card_id)["balance"], "1100.00");

    // The kiosk finds the card by its number.
    let no = card(&cashier, &card_id)["card_no"]
        .as_str()
        .unwrap()
        .to_string();
    let found = cashier.get(&format!("/api/v1/cards/lookup?number={no}"));
    assert_eq!(found.json["id"], card_id.as_str(), "{}", found.body);

    // A coupon (template by the manager, issued by the cashier).
    let tpl = manager.post(
        "/api/v1/coupon-templates",
        &json!({"store_id": ht01, "name": "保养立减50元", "kind": "amount_off", "amount": "50.00",
                "min_spend": "200.00", "valid_from": "2026-01-01T00:00:00Z",
                "valid_until": "2030-01-01T00:00:00Z"}),
    );
    assert_eq!(tpl.status, 201, "{}", tpl.body);
    let coupon = cashier.post(
        "/api/v1/coupons",
        &json!({"template_id": tpl.json["id"], "member_id": member}),
    );
    assert_eq!(coupon.status, 201, "{}", coupon.body);
    let coupon_id = coupon.json["id"].as_str().unwrap().to_string();

    // Quote: nothing moves.
    let q = cashier.post(
        "/api/v1/checkouts/quote",
        &json!({"card_id": card_id, "store_id": ht01, "lines": basket(), "coupon_ids": [coupon_id]}),
    );
    assert_eq!(q.status, 200, "{}", q.body);
    assert_eq!(q.json["subtotal"], "700.00");
    assert_eq!(q.json["tier_discount"], "55.00");
    assert_eq!(q.json["coupon_discount"], "50.00");
    assert_eq!(q.json["member_pays"], "595.00");
    assert_eq!(q.json["lines"][0]["net"], "332.09");
    assert_eq!(q.json["lines"][1]["net"], "262.91");
    assert_eq!(q.json["points_earned"], 594);
    assert_eq!(card(&cashier, &card_id)["balance"], "1100.00");

    // Checkout with the coupon and split tenders: 500.00 from the card (bonus first), 95.00 cash.
    let k = key();
    let body = json!({"card_id": card_id, "store_id": ht01, "terminal_id": "desk-1",
        "lines": basket(), "coupon_ids": [coupon_id],
        "tenders": [{"kind": "stored_value", "amount": "500.00"}, {"kind": "cash", "amount": "95.00"}]});
    let r = post_key(&cashier, "/api/v1/checkouts", &k, &body);
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(!replayed(&r));
    let receipt = &r.json;
    assert_eq!(receipt["basket"]["member_pays"], "595.00");
    assert_eq!(receipt["bonus_used"], "100.00");
    assert_eq!(receipt["principal_used"], "400.00");
    assert_eq!(receipt["principal_after"], "600.00");
    assert_eq!(receipt["bonus_after"], "0.00");
    assert_eq!(receipt["basket"]["coupons"][0]["discount"], "50.00");
    assert_eq!(receipt["tenders"].as_array().unwrap().len(), 2);
    assert_eq!(receipt["terminal_id"], "desk-1");
    assert_eq!(
        receipt["tier_points_after"].as_i64().unwrap(),
        tier_points_before + 594
    );
    let masked = receipt["masked_card_no"].as_str().unwrap();
    assert!(
        masked.contains('*') && !masked.contains(&no),
        "masked: {masked}"
    );
    let checkout_id = receipt["checkout_id"].as_str().unwrap().to_string();

    // The stored receipt is the same document.
    let again = cashier.get(&format!("/api/v1/checkouts/{checkout_id}/receipt"));
    assert_eq!(again.json, r.json);
    let c = card(&cashier, &card_id);
    assert_eq!(
        (c["principal"].as_str(), c["bonus"].as_str()),
        (Some("600.00"), Some("0.00"))
    );
    let coupons = cashier.get(&format!("/api/v1/members/{member}/coupons"));
    assert_eq!(coupons.json["items"][0]["status"], "used");
    let list = cashier.get(&format!("/api/v1/checkouts?card_id={card_id}"));
    assert_eq!(list.json["items"][0]["total"], "595.00");
    assert_balance_is_sum_of_transactions(&cashier, &card_id);

    // The same coupon cannot be used twice.
    let twice = post_key(&cashier, "/api/v1/checkouts", &key(), &body);
    assert!(matches!(twice.status, 409 | 422), "{}", twice.body);
    assert_eq!(card(&cashier, &card_id)["balance"], "600.00");

    // The cashier may not void; the manager voids and everything comes back exactly.
    let void_path = format!("/api/v1/checkouts/{checkout_id}/void");
    post_key(&cashier, &void_path, &key(), &json!({"reason": "客户取消"}))
        .problem(403, "forbidden");
    let v = post_key(&manager, &void_path, &key(), &json!({"reason": "客户取消"}));
    assert_eq!(v.status, 200, "{}", v.body);
    assert_eq!(v.json["voided"], true);
    let c = card(&cashier, &card_id);
    assert_eq!(
        (c["principal"].as_str(), c["bonus"].as_str()),
        (Some("1000.00"), Some("100.00"))
    );
    let mj = cashier.get(&format!("/api/v1/members/{member}")).json;
    assert_eq!(mj["tier_points"].as_i64().unwrap(), tier_points_before);
    let coupons = cashier.get(&format!("/api/v1/members/{member}/coupons"));
    assert_eq!(coupons.json["items"][0]["status"], "issued");
    assert_eq!(
        cashier
            .get(&format!("/api/v1/checkouts/{checkout_id}/receipt"))
            .json["voided"],
        true
    );
    post_key(&manager, &void_path, &key(), &json!({"reason": "再次"})).problem(409, "conflict");
    assert_eq!(
        assert_balance_is_sum_of_transactions(&cashier, &card_id),
        110_000
    );

    // Statistics reconcile: 1000.00 topped up, 100.00 bonus, nothing consumed net of the void.
    let st = manager.get(&format!(
        "/api/v1/membership/statistics?from=2026-01-01&to=2026-12-31&store_id={ht01}"
    ));
    assert_eq!(st.status, 200, "{}", st.body);
    assert_eq!(st.json["total"]["topped_up"], "1000.00");
    assert_eq!(st.json["total"]["bonus_granted"], "100.00");
    assert_eq!(st.json["total"]["consumed"], "0.00");
    assert_eq!(st.json["total"]["checkouts_voided"], 1);
    let today = chrono::Utc::now().date_naive();
    let st = manager.get(&format!(
        "/api/v1/membership/statistics?from={today}&to={}&by_day=true",
        today.succ_opt().unwrap()
    ));
    assert_eq!(
        st.json["by_day"][0]["statistics"]["topped_up"], "1000.00",
        "{}",
        st.body
    );
    assert_eq!(st.json["by_store"][0]["statistics"]["topped_up"], "1000.00");
    s.login("ht01.tech")
        .get("/api/v1/membership/statistics?from=2026-01-01&to=2026-02-01")
        .problem(403, "forbidden");
}

fn permissions_and_other_stores(s: &TestServer) {
    let cashier = s.login("ht01.cashier");
    let (member, card_id) =
        member_with_card(&cashier, &s.fixture.customer_ht01, &s.fixture.ht01, "0");
    assert_eq!(top_up(&cashier, &card_id, "300.00").status, 201);

    // A technician holds no membership permission.
    let tech = s.login("ht01.tech");
    tech.get("/api/v1/members").problem(403, "forbidden");
    tech.get(&format!("/api/v1/cards/{card_id}"))
        .problem(403, "forbidden");
    top_up(&tech, &card_id, "10.00").problem(403, "forbidden");

    // Another store's cashier: the card and the member are simply not there.
    let other = s.login("ht02.cashier");
    other
        .get(&format!("/api/v1/cards/{card_id}"))
        .problem(404, "not_found");
    other
        .get(&format!("/api/v1/members/{member}"))
        .problem(404, "not_found");
    top_up(&other, &card_id, "10.00").problem(404, "not_found");
    let no = card(&cashier, &card_id)["card_no"]
        .as_str()
        .unwrap()
        .to_string();
    other
        .get(&format!("/api/v1/cards/lookup?number={no}"))
        .problem(404, "not_found");
    let names: Vec<Value> = other.get("/api/v1/members").json["items"]
        .as_array()
        .unwrap()
        .clone();
    assert!(names.is_empty(), "HT02 sees no HT01 member");

    // A discount override needs membership.override: the cashier is refused, nothing moves.
    let body = json!({"card_id": card_id, "store_id": s.fixture.ht01,
        "lines": [{"category": "labour", "description": "工时", "quantity": "1", "unit_price": "100.00"}],
        "discount_override": {"percent": "50", "reason": "老客户"},
        "tenders": [{"kind": "stored_value", "amount": "50.00"}]});
    post_key(&cashier, "/api/v1/checkouts", &key(), &body).problem(403, "forbidden");
    assert_eq!(card(&cashier, &card_id)["balance"], "300.00");
    // The manager may, and the receipt says so.
    let manager = s.login("ht01.manager");
    let r = post_key(&manager, "/api/v1/checkouts", &key(), &body);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json["discount_override"]["percent"], "50");
    assert_eq!(r.json["basket"]["tier_discount"], "50.00");
    let checkout_id = r.json["checkout_id"].as_str().unwrap();
    let audit = s
        .login("admin")
        .get(&format!("/api/v1/audit-log?entity_id={checkout_id}"));
    let actions: Vec<&str> = audit.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["membership.checkout.override"], "{}", audit.body);
    assert_eq!(card(&cashier, &card_id)["balance"], "250.00");

    // Manual points adjustments are the manager's too.
    let adj = json!({"track": "redeemable", "delta": 100, "reason": "活动补偿"});
    let path = format!("/api/v1/members/{member}/points/adjustments");
    post_key(&cashier, &path, &key(), &adj).problem(403, "forbidden");
    let a = post_key(&manager, &path, &key(), &adj);
    assert_eq!(a.status, 201, "{}", a.body);

    // Business rules have their own codes: a lost card refuses money at once.
    let lost = cashier.post(&format!("/api/v1/cards/{card_id}/report-lost"), &json!({}));
    assert_eq!(lost.status, 200, "{}", lost.body);
    top_up(&cashier, &card_id, "10.00").problem(409, "card_lost");
    assert_eq!(
        cashier
            .post(&format!("/api/v1/cards/{card_id}/unblock"), &json!({}))
            .status,
        200
    );
    // More than the card holds.
    let big = json!({"card_id": card_id, "store_id": s.fixture.ht01,
        "lines": [{"category": "other", "description": "洗车", "quantity": "1", "unit_price": "999.00"}],
        "tenders": [{"kind": "stored_value", "amount": "999.00"}]});
    post_key(&cashier, "/api/v1/checkouts", &key(), &big).problem(409, "insufficient_balance");
    assert_eq!(
        assert_balance_is_sum_of_transactions(&cashier, &card_id),
        25_000
    );
}

fn idempotency_over_http(s: &TestServer) {
    let cashier = s.login("ht01.cashier");
    let (_, card_id) = member_with_card(&cashier, &s.fixture.customer_ht01, &s.fixture.ht01, "0");
    let path = format!("/api/v1/cards/{card_id}/top-ups");
    let k = key();
    let body = json!({"amount": "200.00", "payment_method": "bank_card"});
    let first = post_key(&cashier, &path, &k, &body);
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(!replayed(&first));
    let again = post_key(&cashier, &path, &k, &body);
    assert_eq!(again.status, 201);
    assert!(replayed(&again), "a retry is marked as a replay");
    assert_eq!(again.json, first.json, "a retry answers the first body");
    assert_eq!(card(&cashier, &card_id)["balance"], "200.00");

    // The same key with another body is refused and moves nothing.
    let other = post_key(
        &cashier,
        &path,
        &k,
        &json!({"amount": "300.00", "payment_method": "bank_card"}),
    );
    other.problem(422, "idempotency_key_reused");
    assert_eq!(other.invalid_fields(), ["Idempotency-Key"]);
    // No key at all.
    let none = cashier.post(&path, &body);
    none.problem(422, "validation_failed");
    assert_eq!(none.invalid_fields(), ["Idempotency-Key"]);
    // Keys are the caller's: another cashier's same key is a new request.
    let manager = s.login("ht01.manager");
    let m = post_key(&manager, &path, &k, &body);
    assert_eq!(m.status, 201);
    assert!(!replayed(&m));
    assert_eq!(card(&cashier, &card_id)["balance"], "400.00");
    assert_eq!(
        assert_balance_is_sum_of_transactions(&cashier, &card_id),
        40_000
    );
}

fn bad_input_is_422_naming_the_field(s: &TestServer) {
    let cashier = s.login("ht01.cashier");
    let (_, card_id) = member_with_card(&cashier, &s.fixture.customer_ht01, &s.fixture.ht01, "0");
    assert_eq!(top_up(&cashier, &card_id, "100.00").status, 201);
    let path = format!("/api/v1/cards/{card_id}/top-ups");
    for (body, field) in [
        (
            json!({"amount": "12.345", "payment_method": "cash"}),
            "amount",
        ),
        (
            json!({"amount": "-5.00", "payment_method": "cash"}),
            "amount",
        ),
        (
            json!({"amount": "0.00", "payment_method": "cash"}),
            "amount",
        ),
        (json!({"amount": 12.5, "payment_method": "cash"}), "amount"),
        (json!({"amount": "1e3", "payment_method": "cash"}), "amount"),
        (
            json!({"amount": "10.00", "payment_method": "cheque"}),
            "payment_method",
        ),
        (
            json!({"amount": "10.00", "payment_method": "cash", "bonus": "999.00"}),
            "bonus",
        ),
        (json!({"payment_method": "cash"}), "amount"),
    ] {
        let r = post_key(&cashier, &path, &key(), &body);
        r.problem(422, "validation_failed");
        assert_eq!(r.invalid_fields(), [field], "{body}: {}", r.body);
    }
    // Checkout lines and tenders are named by their position.
    let r = post_key(
        &cashier,
        "/api/v1/checkouts",
        &key(),
        &json!({"card_id": card_id, "store_id": s.fixture.ht01,
            "lines": [{"category": "parts", "description": "机油", "quantity": "1", "unit_price": "1.234"}],
            "tenders": [{"kind": "stored_value", "amount": "-1"}]}),
    );
    r.problem(422, "validation_failed");
    assert_eq!(
        r.invalid_fields(),
        ["lines[0].unit_price", "tenders[0].amount"]
    );
    // Tenders that do not add up.
    let r = post_key(
        &cashier,
        "/api/v1/checkouts",
        &key(),
        &json!({"card_id": card_id, "store_id": s.fixture.ht01,
            "lines": [{"category": "parts", "description": "机油", "quantity": "1.5", "unit_price": "40.00"}],
            "tenders": [{"kind": "stored_value", "amount": "50.00"}]}),
    );
    r.problem(422, "validation_failed");
    assert_eq!(r.invalid_fields(), ["tenders"]);
    // An unknown card is a 404, a malformed id in the body a 422 on the field.
    let r = top_up(&cashier, &dms_core::new_id(), "10.00");
    r.problem(404, "not_found");
    let r = cashier.post(
        "/api/v1/checkouts/quote",
        &json!({"card_id": "nope", "store_id": s.fixture.ht01, "lines": basket()}),
    );
    r.problem(422, "validation_failed");
    assert_eq!(r.invalid_fields(), ["card_id"]);
    assert_eq!(
        card(&cashier, &card_id)["balance"],
        "100.00",
        "nothing moved"
    );
    assert_eq!(
        assert_balance_is_sum_of_transactions(&cashier, &card_id),
        10_000
    );
}

fn pin_locks_after_five_wrong_and_never_shows(s: &TestServer) {
    let cashier = s.login("ht01.cashier");
    let (_, card_id) = member_with_card(&cashier, &s.fixture.customer_ht01, &s.fixture.ht01, "0");
    let pin_path = format!("/api/v1/cards/{card_id}/pin");
    let verify = format!("/api/v1/cards/{card_id}/pin/verify");
    let mut bodies = vec![];
    let r = cashier.put(&pin_path, &json!({"pin": "135792"}));
    assert_eq!(r.status, 204, "{}", r.body);
    bodies.push(r.body);
    let r = cashier.post(&verify, &json!({"pin": "135792"}));
    assert_eq!(r.status, 204, "{}", r.body);
    let r = cashier.put(&pin_path, &json!({"pin": "12345"}));
    r.problem(422, "validation_failed");
    assert_eq!(r.invalid_fields(), ["pin"]);
    bodies.push(r.body.clone());
    for i in 1..=4 {
        let r = cashier.post(&verify, &json!({"pin": "864200"}));
        r.problem(422, "wrong_pin");
        assert!(r.json["title"]
            .as_str()
            .unwrap()
            .contains(&format!("{} attempts", 5 - i)));
        bodies.push(r.body.clone());
    }
    let fifth = cashier.post(&verify, &json!({"pin": "864200"}));
    fifth.problem(409, "pin_locked");
    bodies.push(fifth.body.clone());
    // Locked: even the right PIN is refused now, and a PIN checkout moves nothing.
    let right = cashier.post(&verify, &json!({"pin": "135792"}));
    right.problem(409, "pin_locked");
    bodies.push(right.body.clone());
    assert_eq!(card(&cashier, &card_id)["pin_locked"], true);
    let co = post_key(
        &cashier,
        "/api/v1/checkouts",
        &key(),
        &json!({"card_id": card_id, "store_id": s.fixture.ht01, "pin": "135792",
            "lines": [{"category": "other", "description": "洗车", "quantity": "1", "unit_price": "30.00"}],
            "tenders": [{"kind": "cash", "amount": "30.00"}]}),
    );
    co.problem(409, "pin_locked");
    bodies.push(co.body.clone());
    // Staff reset with a reason unlocks it.
    cashier
        .post(
            &format!("/api/v1/cards/{card_id}/pin/reset"),
            &json!({"reason": ""}),
        )
        .problem(422, "validation_failed");
    let reset = cashier.post(
        &format!("/api/v1/cards/{card_id}/pin/reset"),
        &json!({"reason": "客户本人持证件重置", "new_pin": "246801"}),
    );
    assert_eq!(reset.status, 204, "{}", reset.body);
    assert_eq!(cashier.post(&verify, &json!({"pin": "246801"})).status, 204);
    bodies.push(card(&cashier, &card_id).to_string());
    for b in &bodies {
        for pin in ["135792", "864200", "246801"] {
            assert!(!b.contains(pin), "a PIN appeared in a response: {b}");
        }
    }
}

fn concurrent_top_ups_and_payments_are_exact(s: &TestServer) {
    const THREADS: usize = 8;
    const OPS: usize = 10;
    let cashier = s.login("ht01.cashier");
    let (_, card_id) = member_with_card(&cashier, &s.fixture.customer_ht01, &s.fixture.ht01, "0");
    // 1000.00 in (plus its 100.00 bonus).
    assert_eq!(top_up(&cashier, &card_id, "1000.00").status, 201);
    let store = s.fixture.ht01.clone();
    // Retries a request with the same key while the server is busy, as a client would.
    let send = |path: &str, k: &str, body: &Value| -> Reply {
        for _ in 0..30 {
            let r = post_key(&cashier, path, k, body);
            if r.status != 503 {
                return r;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("still busy after retries");
    };
    let top_path = format!("/api/v1/cards/{card_id}/top-ups");
    std::thread::scope(|sc| {
        for t in 0..THREADS {
            let (send, top_path, card_id, store) = (&send, &top_path, &card_id, &store);
            sc.spawn(move || {
                for i in 0..OPS {
                    let r = if (t + i) % 2 == 0 {
                        send(
                            top_path,
                            &key(),
                            &json!({"amount": "10.00", "payment_method": "cash"}),
                        )
                    } else {
                        send(
                            "/api/v1/checkouts",
                            &key(),
                            &json!({"card_id": card_id, "store_id": store,
                                "lines": [{"category": "other", "description": "洗车", "quantity": "1", "unit_price": "7.00"}],
                                "tenders": [{"kind": "stored_value", "amount": "7.00"}]}),
                        )
                    };
                    assert_eq!(r.status, 201, "thread {t} op {i}: {}", r.body);
                }
            });
        }
    });
    // 40 top-ups of 10.00 and 40 payments of 7.00: 1100.00 + 400.00 - 280.00.
    assert_eq!(card(&cashier, &card_id)["balance"], "1220.00");

    // Eight requests at once with one key: one effect, the others the replay (or 409).
    let shared = key();
    let body = json!({"amount": "50.00", "payment_method": "cash"});
    let replies: Vec<Reply> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..THREADS)
            .map(|_| sc.spawn(|| send(&top_path, &shared, &body)))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert!(
        replies.iter().all(|r| matches!(r.status, 201 | 409)),
        "{replies:?}"
    );
    assert_eq!(
        ok.iter().filter(|r| !replayed(r)).count(),
        1,
        "exactly one effect"
    );
    assert!(
        ok.iter().all(|r| r.json == ok[0].json),
        "every answer is the first"
    );
    assert_eq!(card(&cashier, &card_id)["balance"], "1270.00");

    // The ledger through the API: 1 + 40 + 40 + 1 transactions summing to the balance.
    let txns = transactions(&cashier, &card_id);
    assert_eq!(txns.len(), 1 + THREADS * OPS + 1);
    assert_eq!(
        assert_balance_is_sum_of_transactions(&cashier, &card_id),
        127_000
    );
    let checkouts = txns.iter().filter(|t| t["kind"] == "checkout").count();
    assert_eq!(checkouts, THREADS * OPS / 2);

    // Parallel payments never overdraw: 100.00 on a fresh card, eight payments of 30.00 at
    // once; exactly three succeed, the others are refused, 10.00 is left.
    let admin = s.login("admin");
    let (_, small) = member_with_card(&admin, &s.fixture.customer_ht02, &s.fixture.ht02, "0");
    assert_eq!(top_up(&admin, &small, "100.00").status, 201);
    let pay = json!({"card_id": small, "store_id": s.fixture.ht02,
        "lines": [{"category": "other", "description": "洗车", "quantity": "1", "unit_price": "30.00"}],
        "tenders": [{"kind": "stored_value", "amount": "30.00"}]});
    let statuses: Vec<u16> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..THREADS)
            .map(|_| {
                sc.spawn(|| {
                    let k = key();
                    loop {
                        let r = post_key(&admin, "/api/v1/checkouts", &k, &pay);
                        if r.status != 503 {
                            if r.status == 409 {
                                assert_eq!(r.json["code"], "insufficient_balance", "{}", r.body);
                            }
                            return r.status;
                        }
                    }
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), THREADS - 3);
    assert_eq!(card(&admin, &small)["balance"], "10.00");
    assert_eq!(assert_balance_is_sum_of_transactions(&admin, &small), 1_000);
}

fn customer_token_sees_only_own_data(s: &TestServer) {
    let cashier = s.login("ht01.cashier");
    let (member, card_id) =
        member_with_card(&cashier, &s.fixture.customer_ht01, &s.fixture.ht01, "0");
    assert_eq!(top_up(&cashier, &card_id, "88.00").status, 201);
    let admin = s.login("admin");
    let (other_member, other_card) =
        member_with_card(&admin, &s.fixture.customer_ht02, &s.fixture.ht02, "0");

    // The owner logs in with a code sent to the phone.
    let phone = "13801012345";
    let me = s.owner_login(phone);

    let own = me.get(&format!(
        "/api/v1/customers/{}/membership",
        s.fixture.customer_ht01
    ));
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.json["member"]["id"], member.as_str());
    assert_eq!(own.json["cards"][0]["balance"], "88.00");
    assert_eq!(
        me.get(&format!("/api/v1/cards/{card_id}")).json["balance"],
        "88.00"
    );
    let tx = me.get(&format!("/api/v1/cards/{card_id}/transactions"));
    assert_eq!(tx.json["items"][0]["amount"], "88.00");
    assert_eq!(tx.json["items"][0]["balance_change"], "88.00");
    assert_eq!(
        me.get(&format!("/api/v1/members/{member}/points")).status,
        200
    );
    assert_eq!(
        me.get(&format!("/api/v1/members/{member}/coupons")).status,
        200
    );
    assert_eq!(
        me.get(&format!("/api/v1/members/{member}/cards")).status,
        200
    );

    // Anything else is not there for them; staff endpoints are refused.
    for path in [
        format!("/api/v1/cards/{other_card}"),
        format!("/api/v1/cards/{other_card}/transactions"),
        format!("/api/v1/members/{other_member}"),
        format!("/api/v1/members/{other_member}/points"),
        format!("/api/v1/members/{other_member}/coupons"),
        format!("/api/v1/customers/{}/membership", s.fixture.customer_ht02),
    ] {
        me.get(&path).problem(404, "not_found");
    }
    me.get("/api/v1/members").problem(403, "forbidden");
    top_up(&me, &card_id, "10.00").problem(403, "forbidden");
    assert_eq!(card(&cashier, &card_id)["balance"], "88.00");
}

fn programme_loyalty_and_card_lifecycle(s: &TestServer) {
    let cashier = s.login("ht01.cashier");
    let manager = s.login("ht01.manager");
    let ht01 = &s.fixture.ht01;

    // The programme: the seed figures by default; a store override changes the top-up bonus.
    let p = manager.get(&format!("/api/v1/membership/programme?store_id={ht01}"));
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.json["programme"]["tiers"][2]["code"], "gold");
    let mut doc = p.json["programme"].clone();
    doc["topup_bonus_rules"] = json!([{"min_amount": "500.00", "bonus": "60.00"}]);
    let put = json!({"store_id": ht01, "programme": doc});
    cashier
        .put("/api/v1/membership/programme", &put)
        .problem(403, "forbidden");
    let saved = manager.put("/api/v1/membership/programme", &put);
    assert_eq!(saved.status, 200, "{}", saved.body);
    let mut bad = doc.clone();
    bad["tiers"] = json!("gold");
    let r = manager.put(
        "/api/v1/membership/programme",
        &json!({"store_id": ht01, "programme": bad}),
    );
    r.problem(422, "validation_failed");
    assert_eq!(r.invalid_fields(), ["programme.tiers"]);
    // The group's programme needs a group-wide role.
    manager
        .put("/api/v1/membership/programme", &json!({"programme": doc}))
        .problem(403, "forbidden");

    // A silver member (a 500.00 fee) with a card; 500.00 now earns 60.00.
    let (member, card_id) = member_with_card(&cashier, &s.fixture.customer_ht01, ht01, "500.00");
    let t = top_up(&cashier, &card_id, "500.00");
    assert_eq!(t.json["bonus"], "60.00", "{}", t.body);

    // Entitlements: silver washes twice a year.
    let ent = cashier.get(&format!("/api/v1/members/{member}/entitlements"));
    assert_eq!(ent.json["items"][0]["code"], "wash", "{}", ent.body);
    assert_eq!(ent.json["items"][0]["left"], 2);
    let use_path = format!("/api/v1/members/{member}/entitlements/wash/uses");
    for left in [1, 0] {
        let u = post_key(&cashier, &use_path, &key(), &json!({}));
        assert_eq!(u.status, 201, "{}", u.body);
        assert_eq!(u.json["left"], left);
    }
    post_key(&cashier, &use_path, &key(), &json!({})).problem(409, "conflict");

    // Points and a gift: 1200 points in, two gifts of 500 out, stock and points exact.
    let adj = post_key(
        &manager,
        &format!("/api/v1/members/{member}/points/adjustments"),
        &key(),
        &json!({"track": "redeemable", "delta": 1200, "reason": "开业活动赠送"}),
    );
    assert_eq!(adj.json["redeemable_points"], 1200, "{}", adj.body);
    let gift = manager.post(
        "/api/v1/gifts",
        &json!({"store_id": ht01, "name": "车载香薰", "points_cost": 500, "stock": 2}),
    );
    assert_eq!(gift.status, 201, "{}", gift.body);
    let gift_id = gift.json["id"].as_str().unwrap();
    let redeem = format!("/api/v1/gifts/{gift_id}/redemptions");
    let r = post_key(
        &cashier,
        &redeem,
        &key(),
        &json!({"member_id": member, "quantity": 2}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json["points_spent"], 1000);
    assert_eq!(r.json["redeemable_points_after"], 200);
    let again = post_key(
        &cashier,
        &redeem,
        &key(),
        &json!({"member_id": member, "quantity": 1}),
    );
    assert_eq!(again.status, 409, "{}", again.body);
    let pts = cashier.get(&format!("/api/v1/members/{member}/points"));
    assert_eq!(pts.json["redeemable_points"], 200);
    let restock = manager.post(
        &format!("/api/v1/gifts/{gift_id}/restock"),
        &json!({"delta": 3}),
    );
    assert_eq!(restock.json["stock"], 3, "{}", restock.body);
    // Renewal by points needs 500: refused, nothing spent.
    post_key(
        &cashier,
        &format!("/api/v1/members/{member}/renewals"),
        &key(),
        &json!({"method": "points"}),
    )
    .problem(409, "insufficient_points");

    // Coupons to a segment, and a void.
    let tpl = manager.post(
        "/api/v1/coupon-templates",
        &json!({"store_id": ht01, "name": "精洗免费", "kind": "free_item", "item_code": "WASH",
                "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"}),
    );
    assert_eq!(tpl.status, 201, "{}", tpl.body);
    let seg = manager.post(
        "/api/v1/coupons/segment",
        &json!({"template_id": tpl.json["id"], "tier_code": "silver"}),
    );
    assert_eq!(seg.json["issued"], 1, "{}", seg.body);
    let templates = cashier.get("/api/v1/coupon-templates");
    assert_eq!(templates.json["items"].as_array().unwrap().len(), 1);
    let coupons = cashier.get(&format!("/api/v1/members/{member}/coupons"));
    let coupon_id = coupons.json["items"][0]["id"].as_str().unwrap().to_string();
    let void = format!("/api/v1/coupons/{coupon_id}/void");
    cashier
        .post(&void, &json!({"reason": "发错"}))
        .problem(403, "forbidden");
    let v = manager.post(&void, &json!({"reason": "发错"}));
    assert_eq!(v.json["status"], "voided", "{}", v.body);

    // Batch issue is all or nothing.
    let bad = cashier.post(
        "/api/v1/cards/batch",
        &json!({"cards": [{"member_id": member}, {"member_id": member, "card_no": "12"}]}),
    );
    bad.problem(422, "validation_failed");
    assert_eq!(bad.invalid_fields(), ["cards[1].card_no"]);
    let cards_before = cashier.get(&format!("/api/v1/members/{member}/cards")).json["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(cards_before, 1);
    let ok = cashier.post(
        "/api/v1/cards/batch",
        &json!({"cards": [{"member_id": member}, {"member_id": member, "chip_uid": "04AABBCCDD"}]}),
    );
    assert_eq!(ok.json["items"].as_array().unwrap().len(), 2, "{}", ok.body);
    let by_chip = cashier.get("/api/v1/cards/lookup?chip_uid=04aabbccdd");
    assert_eq!(by_chip.status, 200, "{}", by_chip.body);

    // Replace moves the money to a new card; the old one is dead. Return refunds the principal.
    let rep = post_key(
        &cashier,
        &format!("/api/v1/cards/{card_id}/replace"),
        &key(),
        &json!({}),
    );
    assert_eq!(rep.status, 201, "{}", rep.body);
    assert_eq!(rep.json["principal_moved"], "500.00");
    assert_eq!(rep.json["bonus_moved"], "60.00");
    let new_card = rep.json["new_card"]["id"].as_str().unwrap().to_string();
    assert_eq!(card(&cashier, &card_id)["status"], "replaced");
    assert_eq!(card(&cashier, &card_id)["balance"], "0.00");
    assert_eq!(top_up(&cashier, &card_id, "10.00").status, 409);
    let ret_path = format!("/api/v1/cards/{new_card}/return");
    let ret = json!({"refund_method": "transfer", "reason": "客户退卡"});
    post_key(&cashier, &ret_path, &key(), &ret).problem(403, "forbidden");
    let r = post_key(&manager, &ret_path, &key(), &ret);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["refunded"], "500.00");
    assert_eq!(r.json["bonus_forfeited"], "60.00");
    let c = card(&cashier, &new_card);
    assert_eq!(
        (c["status"].as_str(), c["balance"].as_str()),
        (Some("closed"), Some("0.00"))
    );
    assert_balance_is_sum_of_transactions(&cashier, &new_card);
    assert_balance_is_sum_of_transactions(&cashier, &card_id);
}

http_tests!(
    cashier_flow_join_topup_checkout_receipt,
    permissions_and_other_stores,
    idempotency_over_http,
    bad_input_is_422_naming_the_field,
    pin_locks_after_five_wrong_and_never_shows,
    concurrent_top_ups_and_payments_are_exact,
    customer_token_sees_only_own_data,
    programme_loyalty_and_card_lifecycle,
);
