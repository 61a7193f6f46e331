//! Top-up requests over HTTP: the card terminal asks for a top-up of the card it read, the
//! cashier confirms it once the money is in hand (the top-up happens then, exactly once, even
//! with twenty cashiers clicking at once), and only the terminal that asked and the staff of
//! the request's store see it.

use diesel::prelude::*;
use dms_tests::{http_tests, Client, Reply, TestServer};
use serde_json::{json, Value};

const UID: &str = "04C1D2E3F40516";
const OTHER_UID: &str = "04C1D2E3F40527";
const HT02_UID: &str = "04C1D2E3F40538";

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

fn key() -> String {
    dms_core::new_id()
}

/// A member of `store` with a chip card and 1000.00 topped up (1100.00 with the bonus):
/// (member id, card id).
fn member_with_chip_card(
    cashier: &Client,
    customer: &str,
    store: &str,
    uid: &str,
) -> (String, String) {
    let m = cashier.post(
        "/api/v1/members",
        &json!({"customer_id": customer, "store_id": store, "channel": "purchase"}),
    );
    assert_eq!(m.status, 201, "{}", m.body);
    let member = m.json["id"].as_str().unwrap().to_string();
    let card = chip_card(cashier, &member, uid);
    let t = post_key(
        cashier,
        &format!("/api/v1/cards/{card}/top-ups"),
        &key(),
        None,
        &json!({"amount": "1000.00", "payment_method": "cash"}),
    );
    assert_eq!(t.status, 201, "{}", t.body);
    (member, card)
}

fn chip_card(cashier: &Client, member: &str, uid: &str) -> String {
    let card = cashier.post(
        "/api/v1/cards",
        &json!({"member_id": member, "chip_uid": uid}),
    );
    assert_eq!(card.status, 201, "{}", card.body);
    card.json["id"].as_str().unwrap().to_string()
}

/// Registers a terminal in `store` and pairs it: (device id, device client).
fn paired_device(s: &TestServer, store: &str, name: &str) -> (String, Client) {
    let manager = s.login("admin");
    let r = manager.post("/api/v1/devices", &json!({"store_id": store, "name": name}));
    assert_eq!(r.status, 201, "{}", r.body);
    let code = r.json["pairing_code"].as_str().unwrap().to_string();
    let id = r.json["device"]["id"].as_str().unwrap().to_string();
    let login = s
        .client()
        .post("/api/v1/auth/device", &json!({ "code": code }));
    assert_eq!(login.status, 200, "{}", login.body);
    let token = login.json["access_token"].as_str().unwrap();
    (id, s.client().with_token(token))
}

fn ask(kiosk: &Client, uid: &str, card: &str, amount: &str, method: &str) -> Reply {
    post_key(
        kiosk,
        "/api/v1/kiosk/top-up-requests",
        &key(),
        Some(uid),
        &json!({"card_id": card, "amount": amount, "payment_method": method}),
    )
}

fn get_uid(c: &Client, path: &str, uid: &str) -> Reply {
    c.send(c.request("GET", path).set("X-Card-Uid", uid), None)
}

fn balance(cashier: &Client, card: &str) -> Value {
    let c = cashier.get(&format!("/api/v1/cards/{card}"));
    assert_eq!(c.status, 200, "{}", c.body);
    c.json
}

fn confirm(cashier: &Client, id: &str, key: &str, body: &Value) -> Reply {
    post_key(
        cashier,
        &format!("/api/v1/top-up-requests/{id}/confirm"),
        key,
        None,
        body,
    )
}

fn the_kiosk_asks_and_the_cashier_confirms(s: &TestServer) {
    let ht01 = &s.fixture.ht01;
    let cashier = s.login("ht01.cashier");
    let (member, card) = member_with_chip_card(&cashier, &s.fixture.customer_ht01, ht01, UID);
    let other_card = chip_card(&cashier, &member, OTHER_UID);
    let (device_id, kiosk) = paired_device(s, ht01, "服务前台1号机");
    let (_, kiosk2) = paired_device(s, ht01, "服务前台2号机");
    assert_eq!(balance(&cashier, &card)["balance"], "1100.00");

    // The terminal asks for 3000.00 by bank card: the 3000 rule promises 400.00.
    let k = key();
    let body = json!({"card_id": card, "amount": "3000.00", "payment_method": "bank_card"});
    let r = post_key(
        &kiosk,
        "/api/v1/kiosk/top-up-requests",
        &k,
        Some(UID),
        &body,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json["status"], "pending");
    assert_eq!(r.json["amount"], "3000.00");
    assert_eq!(r.json["expected_bonus"], "400.00");
    assert_eq!(r.json["payment_method"], "bank_card");
    assert_eq!(r.json["member_name"], "王**");
    assert_eq!(r.json["device_id"], device_id.as_str());
    assert_eq!(r.json["device_name"], "服务前台1号机");
    assert!(r.json["top_up"].is_null());
    let id = r.json["id"].as_str().unwrap().to_string();
    // A retry: the same request.
    let again = post_key(
        &kiosk,
        "/api/v1/kiosk/top-up-requests",
        &k,
        Some(UID),
        &body,
    );
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(again.json["id"], id.as_str());
    // Another request for the same card while this one is pending: refused, naming it.
    let second = ask(&kiosk, UID, &card, "500.00", "cash");
    let p = second.problem(409, "top_up_request_pending");
    assert_eq!(p["pending_request_id"], id.as_str());
    // The card read must be the card named; a terminal always says which card it read.
    ask(&kiosk, OTHER_UID, &card, "500.00", "cash").problem(409, "card_uid_mismatch");
    let no_uid = post_key(
        &kiosk,
        "/api/v1/kiosk/top-up-requests",
        &key(),
        None,
        &json!({"card_id": card, "amount": "500.00", "payment_method": "cash"}),
    );
    assert_eq!(no_uid.status, 422, "{}", no_uid.body);
    // A staff token cannot ask: only terminals do.
    post_key(
        &cashier,
        "/api/v1/kiosk/top-up-requests",
        &key(),
        Some(UID),
        &json!({"card_id": card, "amount": "500.00", "payment_method": "cash"}),
    )
    .problem(403, "forbidden");
    // Nor can the terminal reach the cashier's side.
    kiosk
        .get("/api/v1/top-up-requests")
        .problem(403, "forbidden");
    post_key(
        &kiosk,
        &format!("/api/v1/top-up-requests/{id}/confirm"),
        &key(),
        Some(UID),
        &json!({}),
    )
    .problem(403, "forbidden");

    // The terminal polls; another terminal of the same store does not see it.
    let poll = kiosk.get(&format!("/api/v1/kiosk/top-up-requests/{id}"));
    assert_eq!(poll.status, 200, "{}", poll.body);
    assert_eq!(poll.json["status"], "pending");
    kiosk2
        .get(&format!("/api/v1/kiosk/top-up-requests/{id}"))
        .problem(404, "not_found");
    kiosk2
        .post(
            &format!("/api/v1/kiosk/top-up-requests/{id}/cancel"),
            &json!({}),
        )
        .problem(404, "not_found");
    // The second terminal may ask for the other card meanwhile.
    let other = ask(&kiosk2, OTHER_UID, &other_card, "100.00", "cash");
    assert_eq!(other.status, 201, "{}", other.body);

    // The cashier sees both (full name); the other store's cashier sees neither.
    let list = cashier.get("/api/v1/top-up-requests?status=pending");
    assert_eq!(list.status, 200, "{}", list.body);
    let items = list.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", list.body);
    assert_eq!(items[1]["id"], id.as_str(), "newest first");
    assert_eq!(items[1]["member_name"], "王建国");
    let ht02 = s.login("ht02.cashier");
    let list2 = ht02.get("/api/v1/top-up-requests");
    assert_eq!(list2.status, 200, "{}", list2.body);
    assert!(list2.json["items"].as_array().unwrap().is_empty());
    ht02.get(&format!("/api/v1/top-up-requests/{id}"))
        .problem(404, "not_found");
    confirm(&ht02, &id, &key(), &json!({})).problem(404, "not_found");
    // Someone without membership.topup, and a customer, may not.
    s.login("ht01.advisor")
        .get("/api/v1/top-up-requests")
        .problem(403, "forbidden");
    let me = s.owner_login("13801012345");
    me.get("/api/v1/top-up-requests").problem(403, "forbidden");
    confirm(&me, &id, &key(), &json!({})).problem(403, "forbidden");
    me.get(&format!("/api/v1/kiosk/top-up-requests/{id}"))
        .problem(403, "forbidden");
    // A page at a time.
    let first = cashier.get("/api/v1/top-up-requests?limit=1");
    assert_eq!(first.json["items"].as_array().unwrap().len(), 1);
    let cursor = first.json["next_cursor"].as_str().unwrap();
    let next = cashier.get(&format!("/api/v1/top-up-requests?limit=1&cursor={cursor}"));
    assert_eq!(next.json["items"][0]["id"], id.as_str());
    cashier
        .get("/api/v1/top-up-requests?status=done")
        .problem(422, "validation_failed");

    // Confirmed with cash actually received and a slip number: the money moves now.
    let ck = key();
    let cbody = json!({"payment_method": "cash", "reference": "POS-20261126-01"});
    let done = confirm(&cashier, &id, &ck, &cbody);
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.json["status"], "confirmed");
    assert_eq!(done.json["received_method"], "cash");
    assert_eq!(done.json["payment_method"], "bank_card");
    assert_eq!(done.json["reference"], "POS-20261126-01");
    assert_eq!(done.json["decided_by"], "ht01.cashier");
    assert_eq!(done.json["top_up"]["paid"], "3000.00");
    assert_eq!(done.json["top_up"]["bonus"], "400.00");
    let c = balance(&cashier, &card);
    assert_eq!(c["principal"], "4000.00");
    assert_eq!(c["bonus"], "500.00");
    assert_eq!(c["balance"], "4500.00");
    // The same click again: the same answer, nothing moves.
    let replay = confirm(&cashier, &id, &ck, &cbody);
    assert_eq!(replay.status, 200, "{}", replay.body);
    assert_eq!(replay.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(
        replay.json["top_up"]["txn_id"],
        done.json["top_up"]["txn_id"]
    );
    // Another cashier's click: already confirmed, nothing moves.
    let manager = s.login("ht01.manager");
    confirm(&manager, &id, &key(), &json!({})).problem(409, "already_confirmed");
    assert_eq!(balance(&cashier, &card)["balance"], "4500.00");
    // The terminal sees the top-up to print, masked; it can no longer withdraw it.
    let poll = kiosk.get(&format!("/api/v1/kiosk/top-up-requests/{id}"));
    assert_eq!(poll.json["status"], "confirmed");
    assert_eq!(poll.json["member_name"], "王**");
    assert_eq!(poll.json["top_up"]["principal_after"], "4000.00");
    assert_eq!(poll.json["top_up"]["bonus_after"], "500.00");
    kiosk
        .post(
            &format!("/api/v1/kiosk/top-up-requests/{id}/cancel"),
            &json!({}),
        )
        .problem(409, "already_confirmed");
    // The ledger names the cashier, the request names the terminal.
    let audit = manager.get(&format!("/api/v1/audit-log?entity_id={id}"));
    assert_eq!(audit.status, 200, "{}", audit.body);
    let actions: Vec<&str> = audit.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"membership.topup_request.confirm"),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"membership.topup_request.create"),
        "{actions:?}"
    );
    // Now the terminal may ask again for this card.
    assert_eq!(ask(&kiosk, UID, &card, "100.00", "cash").status, 201);
    // The kiosk's summary of the card it read agrees.
    let summary = get_uid(&kiosk, "/api/v1/kiosk/summary", UID);
    assert_eq!(summary.json["card"]["balance"], "4500.00");
}

fn cancelled_and_expired_requests_move_nothing(s: &TestServer) {
    let ht01 = &s.fixture.ht01;
    let cashier = s.login("ht01.cashier");
    let (_, card) = member_with_chip_card(&cashier, &s.fixture.customer_ht01, ht01, UID);
    let (_, kiosk) = paired_device(s, ht01, "服务前台1号机");

    // The member walks away: the terminal withdraws its request.
    let r = ask(&kiosk, UID, &card, "1000.00", "cash");
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json["id"].as_str().unwrap().to_string();
    let c = kiosk.post(
        &format!("/api/v1/kiosk/top-up-requests/{id}/cancel"),
        &json!({}),
    );
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(c.json["status"], "cancelled");
    assert_eq!(c.json["decided_by"], "服务前台1号机");
    confirm(&cashier, &id, &key(), &json!({})).problem(409, "already_cancelled");

    // The cashier cancels one, with a reason (required).
    let r = ask(&kiosk, UID, &card, "1000.00", "bank_card");
    let id2 = r.json["id"].as_str().unwrap().to_string();
    let bad = cashier.post(
        &format!("/api/v1/top-up-requests/{id2}/cancel"),
        &json!({"reason": ""}),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(bad.invalid_fields(), vec!["reason"]);
    let c = cashier.post(
        &format!("/api/v1/top-up-requests/{id2}/cancel"),
        &json!({"reason": "刷卡失败"}),
    );
    assert_eq!(c.status, 200, "{}", c.body);
    assert_eq!(c.json["status"], "cancelled");
    assert_eq!(c.json["cancel_reason"], "刷卡失败");
    let poll = kiosk.get(&format!("/api/v1/kiosk/top-up-requests/{id2}"));
    assert_eq!(poll.json["cancel_reason"], "刷卡失败");
    cashier
        .post(
            &format!("/api/v1/top-up-requests/{id2}/cancel"),
            &json!({"reason": "again"}),
        )
        .problem(409, "already_cancelled");

    // Fifteen minutes without the cashier: expired, cannot be confirmed or cancelled.
    let r = ask(&kiosk, UID, &card, "1000.00", "cash");
    let id3 = r.json["id"].as_str().unwrap().to_string();
    {
        use dms_membership::schema::mem_top_up_requests as t;
        let mut c = s.db.pool.get().unwrap();
        let past = dms_db::to_db_time(chrono::Utc::now() - chrono::Duration::seconds(1));
        diesel::update(t::table.find(&id3))
            .set(t::expires_at.eq(past))
            .execute(&mut *c)
            .unwrap();
    }
    let poll = kiosk.get(&format!("/api/v1/kiosk/top-up-requests/{id3}"));
    assert_eq!(poll.json["status"], "expired");
    confirm(&cashier, &id3, &key(), &json!({})).problem(409, "top_up_request_expired");
    kiosk
        .post(
            &format!("/api/v1/kiosk/top-up-requests/{id3}/cancel"),
            &json!({}),
        )
        .problem(409, "top_up_request_expired");
    let pending = cashier.get("/api/v1/top-up-requests?status=pending");
    assert!(pending.json["items"].as_array().unwrap().is_empty());
    let expired = cashier.get("/api/v1/top-up-requests?status=expired");
    assert_eq!(expired.json["items"][0]["id"], id3.as_str());
    let cancelled = cashier.get("/api/v1/top-up-requests?status=cancelled");
    assert_eq!(cancelled.json["items"].as_array().unwrap().len(), 2);
    // An expired request does not block the next one.
    assert_eq!(ask(&kiosk, UID, &card, "10.00", "cash").status, 201);
    assert_eq!(
        balance(&cashier, &card)["balance"],
        "1100.00",
        "nothing moved"
    );
}

fn another_store_cannot_see_or_ask(s: &TestServer) {
    let cashier = s.login("ht01.cashier");
    let (_, card) = member_with_chip_card(&cashier, &s.fixture.customer_ht01, &s.fixture.ht01, UID);
    let ht02_cashier = s.login("ht02.cashier");
    let (_, card2) = member_with_chip_card(
        &ht02_cashier,
        &s.fixture.customer_ht02,
        &s.fixture.ht02,
        HT02_UID,
    );
    let (_, kiosk) = paired_device(s, &s.fixture.ht01, "服务前台1号机");
    let (_, kiosk_ht02) = paired_device(s, &s.fixture.ht02, "二店前台");
    // A card of another store: its chip is not found at this terminal.
    ask(&kiosk, HT02_UID, &card2, "100.00", "cash").problem(404, "not_found");
    let r = ask(&kiosk, UID, &card, "100.00", "cash");
    let id = r.json["id"].as_str().unwrap().to_string();
    kiosk_ht02
        .get(&format!("/api/v1/kiosk/top-up-requests/{id}"))
        .problem(404, "not_found");
    // The group sees every store's requests; a store filter narrows them.
    let admin = s.login("admin");
    let all = admin.get("/api/v1/top-up-requests");
    assert_eq!(all.json["items"][0]["id"], id.as_str());
    let ht02 = admin.get(&format!(
        "/api/v1/top-up-requests?store_id={}",
        s.fixture.ht02
    ));
    assert!(ht02.json["items"].as_array().unwrap().is_empty());
    ht02_cashier
        .post(
            &format!("/api/v1/top-up-requests/{id}/cancel"),
            &json!({"reason": "x"}),
        )
        .problem(404, "not_found");
}

fn twenty_cashiers_confirm_once(s: &TestServer) {
    const THREADS: usize = 20;
    let cashier = s.login("ht01.cashier");
    let manager = s.login("ht01.manager");
    let (_, card) = member_with_chip_card(&cashier, &s.fixture.customer_ht01, &s.fixture.ht01, UID);
    let (_, kiosk) = paired_device(s, &s.fixture.ht01, "服务前台1号机");
    let r = ask(&kiosk, UID, &card, "5000.00", "cash");
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json["id"].as_str().unwrap().to_string();
    // Half of them share one key (a double click), the others each their own.
    let shared = key();
    let replies: Vec<Reply> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..THREADS)
            .map(|i| {
                let (cashier, manager, id, shared) = (&cashier, &manager, &id, &shared);
                sc.spawn(move || {
                    let who = if i % 2 == 0 { cashier } else { manager };
                    let k = if i % 4 == 0 { shared.clone() } else { key() };
                    for _ in 0..50 {
                        let r = confirm(who, id, &k, &json!({}));
                        if r.status != 503 {
                            return r;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    panic!("still busy after retries");
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        replies.iter().all(|r| matches!(r.status, 200 | 409)),
        "{replies:?}"
    );
    let firsts: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == 200 && r.header("Idempotent-Replayed").is_none())
        .collect();
    assert_eq!(firsts.len(), 1, "exactly one confirmation: {replies:?}");
    for r in replies.iter().filter(|r| r.status == 409) {
        assert_eq!(r.json["code"], "already_confirmed", "{}", r.body);
    }
    // 1000.00 + 100.00 before; 5000.00 + 800.00 once.
    let c = balance(&cashier, &card);
    assert_eq!(c["balance"], "6900.00");
    assert_eq!(c["principal"], "6000.00");
    let txns = cashier.get(&format!("/api/v1/cards/{card}/transactions"));
    assert_eq!(txns.status, 200, "{}", txns.body);
    assert_eq!(
        txns.json["items"].as_array().unwrap().len(),
        2,
        "{}",
        txns.body
    );
    let mut conn = s.db.pool.get().unwrap();
    let check = dms_membership::verify_ledgers(&mut conn).unwrap();
    assert!(check.problems.is_empty(), "{check:?}");
}

fn bad_input_names_the_field(s: &TestServer) {
    let cashier = s.login("ht01.cashier");
    let (_, card) = member_with_chip_card(&cashier, &s.fixture.customer_ht01, &s.fixture.ht01, UID);
    let (_, kiosk) = paired_device(s, &s.fixture.ht01, "服务前台1号机");
    for amount in ["0", "0.00", "-100.00", "100.123", "abc", "", "1000000.01"] {
        let r = ask(&kiosk, UID, &card, amount, "cash");
        assert_eq!(r.status, 422, "{amount}: {}", r.body);
        assert_eq!(r.invalid_fields(), vec!["amount"], "{amount}: {}", r.body);
    }
    let r = post_key(
        &kiosk,
        "/api/v1/kiosk/top-up-requests",
        &key(),
        Some(UID),
        &json!({"card_id": card, "amount": "100.00", "payment_method": "cheque"}),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let r = post_key(
        &kiosk,
        "/api/v1/kiosk/top-up-requests",
        &key(),
        Some(UID),
        &json!({"card_id": card, "amount": "100.00", "payment_method": "cash", "bonus": "999.00"}),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    // No key: refused before anything is stored.
    let r = kiosk.send(
        kiosk
            .request("POST", "/api/v1/kiosk/top-up-requests")
            .set("Content-Type", "application/json")
            .set("X-Card-Uid", UID),
        Some(
            json!({"card_id": card, "amount": "100.00", "payment_method": "cash"})
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(cashier.get("/api/v1/top-up-requests").json["items"]
        .as_array()
        .unwrap()
        .is_empty());
    // A confirmation with a bad body, or without a key.
    let ok = ask(&kiosk, UID, &card, "100.00", "cash");
    let id = ok.json["id"].as_str().unwrap().to_string();
    let r = confirm(&cashier, &id, &key(), &json!({"reference": ""}));
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.invalid_fields(), vec!["reference"]);
    let r = cashier.post(&format!("/api/v1/top-up-requests/{id}/confirm"), &json!({}));
    assert_eq!(r.status, 422, "{}", r.body);
    cashier
        .get("/api/v1/top-up-requests/not-an-id")
        .problem(404, "not_found");
    assert_eq!(balance(&cashier, &card)["balance"], "1100.00");
}

http_tests!(
    the_kiosk_asks_and_the_cashier_confirms,
    cancelled_and_expired_requests_move_nothing,
    another_store_cannot_see_or_ask,
    twenty_cashiers_confirm_once,
    bad_input_names_the_field,
);
