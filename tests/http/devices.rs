//! Card terminals over HTTP: pairing codes work once and expire, a device token reaches only the
//! kiosk's endpoints in its own store and only for the card whose chip it read, revoking ends
//! it, and a pending bill is paid exactly once.

use diesel::prelude::*;
use dms_tests::{http_tests, Client, Reply, TestServer};
use serde_json::{json, Value};

const UID: &str = "04A1B2C3D4E5F6";
const OTHER_UID: &str = "04FFEEDDCCBBAA";

fn post_key(c: &Client, path: &str, key: &str, uid: Option<&str>, body: &Value) -> Reply {
    let mut req = c
        .request("POST", path)
        .set("Content-Type", "application/json")
        .set("Idempotency-Key", key);
    if let Some(u) = uid {
        req = req.set("X-Card-Uid", u);
    }
    c.send(req, Some(body.to_string().as_bytes()))
}

fn get_uid(c: &Client, path: &str, uid: &str) -> Reply {
    c.send(c.request("GET", path).set("X-Card-Uid", uid), None)
}

fn post_uid(c: &Client, path: &str, uid: &str, body: &Value) -> Reply {
    let req = c
        .request("POST", path)
        .set("Content-Type", "application/json")
        .set("X-Card-Uid", uid);
    c.send(req, Some(body.to_string().as_bytes()))
}

/// A member of `store` with a chip card, a PIN and 1000.00 on it: (member id, card id).
fn member_with_chip_card(
    cashier: &Client,
    customer: &str,
    store: &str,
    uid: &str,
) -> (String, String) {
    let m = cashier.post(
        "/api/v1/members",
        &json!({"customer_id": customer, "store_id": store, "channel": "fee", "fee_paid": "1000.00"}),
    );
    assert_eq!(m.status, 201, "{}", m.body);
    let member = m.json["id"].as_str().unwrap().to_string();
    let card = cashier.post(
        "/api/v1/cards",
        &json!({"member_id": member, "chip_uid": uid}),
    );
    assert_eq!(card.status, 201, "{}", card.body);
    let card_id = card.json["id"].as_str().unwrap().to_string();
    let pin = cashier.put(
        &format!("/api/v1/cards/{card_id}/pin"),
        &json!({"pin": "246810"}),
    );
    assert!(pin.status < 300, "{}", pin.body);
    let t = post_key(
        cashier,
        &format!("/api/v1/cards/{card_id}/top-ups"),
        &dms_core::new_id(),
        None,
        &json!({"amount": "1000.00", "payment_method": "cash"}),
    );
    assert_eq!(t.status, 201, "{}", t.body);
    (member, card_id)
}

/// Registers a terminal in `store` and pairs it: (device id, device client, refresh token).
fn paired_device(s: &TestServer, store: &str) -> (String, Client, String) {
    let manager = s.login("ht01.manager");
    let r = manager.post(
        "/api/v1/devices",
        &json!({"store_id": store, "name": "服务前台1号机"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let code = r.json["pairing_code"].as_str().unwrap().to_string();
    let id = r.json["device"]["id"].as_str().unwrap().to_string();
    let login = s
        .client()
        .post("/api/v1/auth/device", &json!({ "code": code }));
    assert_eq!(login.status, 200, "{}", login.body);
    assert_eq!(login.json["device"]["status"], "active");
    let token = login.json["access_token"].as_str().unwrap();
    let refresh = login.json["refresh_token"].as_str().unwrap().to_string();
    (id, s.client().with_token(token), refresh)
}

fn pairing_code_works_once_and_expires(s: &TestServer) {
    let manager = s.login("ht01.manager");
    let ht01 = &s.fixture.ht01;
    // A cashier may not register terminals.
    s.login("ht01.cashier")
        .post(
            "/api/v1/devices",
            &json!({"store_id": ht01, "name": "前台"}),
        )
        .problem(403, "forbidden");
    // Nor a manager of another store.
    manager
        .post(
            "/api/v1/devices",
            &json!({"store_id": s.fixture.ht02, "name": "前台"}),
        )
        .problem(404, "not_found");

    let r = manager.post(
        "/api/v1/devices",
        &json!({"store_id": ht01, "name": "前台"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let code = r.json["pairing_code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 10);
    assert_eq!(r.json["device"]["status"], "pending");

    let first = s
        .client()
        .post("/api/v1/auth/device", &json!({ "code": code }));
    assert_eq!(first.status, 200, "{}", first.body);
    let claims = first.json["access_token"].as_str().unwrap();
    assert!(first.json["expires_in"].as_u64().unwrap() <= 900);
    assert!(!claims.is_empty());
    // The same code again: spent.
    s.client()
        .post("/api/v1/auth/device", &json!({ "code": code }))
        .problem(401, "invalid_credentials");

    // A code past its time does not work.
    let r = manager.post(
        "/api/v1/devices",
        &json!({"store_id": ht01, "name": "前台2"}),
    );
    let code = r.json["pairing_code"].as_str().unwrap().to_string();
    let id = r.json["device"]["id"].as_str().unwrap().to_string();
    {
        use dms_db::schema::devices;
        let mut c = s.db.pool.get().unwrap();
        let past = dms_db::to_db_time(chrono::Utc::now() - chrono::Duration::minutes(1));
        diesel::update(devices::table.find(&id))
            .set(devices::pairing_expires_at.eq(past))
            .execute(&mut *c)
            .unwrap();
    }
    s.client()
        .post("/api/v1/auth/device", &json!({ "code": code }))
        .problem(401, "invalid_credentials");

    // The refresh token rotates like a person's, and the list shows both terminals.
    let (_, _, refresh) = paired_device(s, ht01);
    let rotated = s
        .client()
        .post("/api/v1/auth/refresh", &json!({ "refresh_token": refresh }));
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let list = manager.get(&format!("/api/v1/devices?store_id={ht01}"));
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json["items"].as_array().unwrap().len(), 3);
}

fn device_token_reaches_only_the_kiosk_in_its_store(s: &TestServer) {
    let cashier = s.login("ht01.cashier");
    let (member, card) =
        member_with_chip_card(&cashier, &s.fixture.customer_ht01, &s.fixture.ht01, UID);
    let cashier2 = s.login("ht02.cashier");
    let (_, card2) = member_with_chip_card(
        &cashier2,
        &s.fixture.customer_ht02,
        &s.fixture.ht02,
        OTHER_UID,
    );
    let (device_id, kiosk, _) = paired_device(s, &s.fixture.ht01);

    // Staff endpoints: 403, even those its role's permissions would cover.
    for path in [
        "/api/v1/stores",
        "/api/v1/staff",
        "/api/v1/customers",
        "/api/v1/members",
        "/api/v1/roles",
        "/api/v1/devices",
    ] {
        kiosk.get(path).problem(403, "forbidden");
    }
    kiosk
        .post(
            "/api/v1/devices",
            &json!({"store_id": s.fixture.ht01, "name": "x"}),
        )
        .problem(403, "forbidden");
    kiosk
        .post(&format!("/api/v1/cards/{card}/report-lost"), &json!({}))
        .problem(403, "forbidden");
    // Nor can it credit a card, even the one it read: it cannot see the money.
    let top_up = post_key(
        &kiosk,
        &format!("/api/v1/cards/{card}/top-ups"),
        &dms_core::new_id(),
        Some(UID),
        &json!({"amount": "100.00", "payment_method": "cash"}),
    );
    assert_eq!(top_up.status, 403, "{}", top_up.body);

    // The kiosk's own reads work for the card it read.
    let summary = get_uid(&kiosk, "/api/v1/kiosk/summary", UID);
    assert_eq!(summary.status, 200, "{}", summary.body);
    assert_eq!(summary.json["card"]["id"], card.as_str());
    assert_eq!(summary.json["masked_name"], "王**");
    assert_eq!(summary.json["card"]["balance"], "1100.00");
    assert_eq!(summary.json["tier_code"], "gold");
    let m = get_uid(&kiosk, &format!("/api/v1/members/{member}"), UID);
    assert_eq!(m.status, 200, "{}", m.body);
    let lookup = get_uid(&kiosk, &format!("/api/v1/cards/lookup?chip_uid={UID}"), UID);
    assert_eq!(lookup.status, 200, "{}", lookup.body);

    // Another store's card: its chip is not found in this terminal's store.
    get_uid(&kiosk, "/api/v1/kiosk/summary", OTHER_UID).problem(404, "not_found");
    get_uid(&kiosk, &format!("/api/v1/cards/{card2}"), UID).problem(409, "card_uid_mismatch");

    // A request about a card without the chip UID, or naming another card than the one read.
    kiosk
        .get(&format!("/api/v1/cards/{card}"))
        .problem(422, "validation_failed");
    let basket = json!([{"category": "labour", "description": "洗车", "quantity": "1", "unit_price": "100.00"}]);
    let body = json!({"card_id": card2, "store_id": s.fixture.ht01, "terminal_id": device_id,
        "lines": basket, "tenders": [{"kind": "stored_value", "amount": "90.00"}], "pin": "246810"});
    post_key(
        &kiosk,
        "/api/v1/checkouts",
        &dms_core::new_id(),
        Some(UID),
        &body,
    )
    .problem(409, "card_uid_mismatch");

    // The right card, without the PIN: refused; with it: paid, recorded as this terminal.
    let mut body = json!({"card_id": card, "store_id": s.fixture.ht01, "terminal_id": device_id,
        "lines": basket, "tenders": [{"kind": "stored_value", "amount": "90.00"}]});
    let r = post_key(
        &kiosk,
        "/api/v1/checkouts",
        &dms_core::new_id(),
        Some(UID),
        &body,
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.invalid_fields(), vec!["pin"]);
    body["pin"] = json!("246810");
    let key = dms_core::new_id();
    let r = post_key(&kiosk, "/api/v1/checkouts", &key, Some(UID), &body);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json["terminal_id"], device_id.as_str());
    assert_eq!(r.json["cashier"], "服务前台1号机");
    let checkout_id = r.json["checkout_id"].as_str().unwrap().to_string();
    // The journal's question: what became of this key.
    let o = kiosk.get(&format!("/api/v1/kiosk/requests/{key}"));
    assert_eq!(o.status, 200, "{}", o.body);
    assert_eq!(o.json["status"], "completed");
    assert_eq!(o.json["receipt"]["checkout_id"], checkout_id.as_str());
    let o = kiosk.get(&format!("/api/v1/kiosk/requests/{}", dms_core::new_id()));
    assert_eq!(o.json["status"], "unknown");
    // Reprint: the receipt of the card it read.
    let rc = get_uid(
        &kiosk,
        &format!("/api/v1/checkouts/{checkout_id}/receipt"),
        UID,
    );
    assert_eq!(rc.status, 200, "{}", rc.body);
    // The audit log names the terminal.
    let audit = s
        .login("ht01.manager")
        .get(&format!("/api/v1/audit-log?entity_id={checkout_id}"));
    assert_eq!(audit.status, 200, "{}", audit.body);
    assert_eq!(audit.json["items"][0]["actor_kind"], "device");
    assert_eq!(audit.json["items"][0]["actor_id"], device_id.as_str());
}

fn revoking_ends_the_device_at_once(s: &TestServer) {
    let cashier = s.login("ht01.cashier");
    member_with_chip_card(&cashier, &s.fixture.customer_ht01, &s.fixture.ht01, UID);
    let (id, kiosk, refresh) = paired_device(s, &s.fixture.ht01);
    assert_eq!(get_uid(&kiosk, "/api/v1/kiosk/summary", UID).status, 200);
    let manager = s.login("ht01.manager");
    let r = manager.post(&format!("/api/v1/devices/{id}/revoke"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["status"], "revoked");
    get_uid(&kiosk, "/api/v1/kiosk/summary", UID).problem(401, "unauthorized");
    s.client()
        .post("/api/v1/auth/refresh", &json!({ "refresh_token": refresh }))
        .problem(401, "unauthorized");
}

fn lost_card_and_wrong_uid_are_refused(s: &TestServer) {
    let cashier = s.login("ht01.cashier");
    let (_, card) = member_with_chip_card(&cashier, &s.fixture.customer_ht01, &s.fixture.ht01, UID);
    let (device_id, kiosk, _) = paired_device(s, &s.fixture.ht01);
    // A chip nobody issued.
    get_uid(&kiosk, "/api/v1/kiosk/summary", "04000000000000").problem(404, "not_found");
    // PIN verify for the card read works; the body's card must be the one read.
    let v = post_uid(
        &kiosk,
        &format!("/api/v1/cards/{card}/pin/verify"),
        UID,
        &json!({"pin": "111111"}),
    );
    v.problem(422, "wrong_pin");
    let lost = cashier.post(
        &format!("/api/v1/cards/{card}/report-lost"),
        &json!({"reason": "客户挂失"}),
    );
    assert_eq!(lost.status, 200, "{}", lost.body);
    get_uid(&kiosk, "/api/v1/kiosk/summary", UID).problem(409, "card_lost");
    let body = json!({"card_id": card, "store_id": s.fixture.ht01, "terminal_id": device_id,
        "lines": [{"category": "labour", "description": "洗车", "quantity": "1", "unit_price": "10.00"}],
        "tenders": [{"kind": "stored_value", "amount": "9.00"}], "pin": "246810"});
    post_key(
        &kiosk,
        "/api/v1/checkouts",
        &dms_core::new_id(),
        Some(UID),
        &body,
    )
    .problem(409, "card_lost");
}

fn a_pending_bill_is_paid_once(s: &TestServer) {
    let cashier = s.login("ht01.cashier");
    let (_, card) = member_with_chip_card(&cashier, &s.fixture.customer_ht01, &s.fixture.ht01, UID);
    let (device_id, kiosk, _) = paired_device(s, &s.fixture.ht01);
    let b = cashier.post(
        "/api/v1/bills",
        &json!({"store_id": s.fixture.ht01, "card_id": card, "reference": "WO-2026-0001",
            "lines": [{"category": "labour", "description": "更换刹车片工时", "quantity": "1", "unit_price": "400.00"}]}),
    );
    assert_eq!(b.status, 201, "{}", b.body);
    assert_eq!(b.json["total"], "400.00");
    let bill = b.json["id"].as_str().unwrap().to_string();
    // The terminal cannot create bills; it lists the open ones for the card it read.
    kiosk
        .post(
            "/api/v1/bills",
            &json!({"store_id": s.fixture.ht01, "reference": "x",
                "lines": [{"category": "other", "description": "x", "quantity": "1", "unit_price": "1.00"}]}),
        )
        .problem(403, "forbidden");
    let list = kiosk.get(&format!("/api/v1/bills?card_id={card}"));
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json["items"][0]["id"], bill.as_str());
    // Gold: labour 10 % off.
    let pay = json!({"card_id": card, "terminal_id": device_id, "pin": "246810",
        "tenders": [{"kind": "stored_value", "amount": "360.00"}]});
    let key = dms_core::new_id();
    let r = post_key(
        &kiosk,
        &format!("/api/v1/bills/{bill}/pay"),
        &key,
        Some(UID),
        &pay,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json["basket"]["member_pays"], "360.00");
    // The same key: the same receipt, nothing moves.
    let again = post_key(
        &kiosk,
        &format!("/api/v1/bills/{bill}/pay"),
        &key,
        Some(UID),
        &pay,
    );
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(again.json["checkout_id"], r.json["checkout_id"]);
    // Another key: the bill is paid already, and nothing moves.
    let twice = post_key(
        &kiosk,
        &format!("/api/v1/bills/{bill}/pay"),
        &dms_core::new_id(),
        Some(UID),
        &pay,
    );
    assert_eq!(twice.status, 409, "{}", twice.body);
    let c = cashier.get(&format!("/api/v1/cards/{card}"));
    assert_eq!(c.json["balance"], "740.00", "1100.00 - 360.00, once");
    let b = cashier.get(&format!("/api/v1/bills/{bill}"));
    assert_eq!(b.json["status"], "paid");
    assert_eq!(b.json["checkout_id"], r.json["checkout_id"]);
}

http_tests!(
    pairing_code_works_once_and_expires,
    device_token_reaches_only_the_kiosk_in_its_store,
    revoking_ends_the_device_at_once,
    lost_card_and_wrong_uid_are_refused,
    a_pending_bill_is_paid_once,
);
