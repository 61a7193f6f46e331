//! The outbox over HTTP: listing with filters, SMS delivery receipts from the gateway (signed
//! with the gateway key, not a staff token) and the statistics that follow them. The gateway
//! is a local HTTP peer speaking the generic gateway's protocol.

use dms_tests::TestServer;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

const GATEWAY_KEY: &str = "gw-test-key-0123456789";

/// An SMS gateway that accepts every message and answers `{"id": "gw-<n>"}`.
fn gateway_peer() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/sms", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for (n, stream) in l.incoming().enumerate() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let answer = format!("{{\"id\":\"gw-{}\"}}", n + 1);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    url
}

fn server(db: dms_db::testing::TestDb) -> TestServer {
    let url = gateway_peer();
    TestServer::start_with(db, |c| {
        c.crm.sms_gateway_url = Some(url);
        c.crm.sms_gateway_key = Some(GATEWAY_KEY.into());
    })
}

fn receipts(s: &TestServer, body: &Value, signed: bool) -> dms_tests::Reply {
    let c = s.client();
    let raw = body.to_string();
    let mut req = c
        .request("POST", "/api/v1/messages/sms-receipts")
        .set("Content-Type", "application/json");
    if signed {
        let ts = chrono::Utc::now().timestamp();
        req = req.set("X-Dms-Timestamp", &ts.to_string()).set(
            "X-Dms-Signature",
            &dms_server::crm::sign_receipt(GATEWAY_KEY, ts, raw.as_bytes()),
        );
    }
    c.send(req, Some(raw.as_bytes()))
}

fn receipts_update_the_outbox_and_its_statistics(db: dms_db::testing::TestDb) {
    let s = server(db);
    let cs = s.login("ht01.cs");
    let mut customers = vec![];
    for (name, phone) in [
        ("冯涛", "13620000001"),
        ("邓敏", "13620000002"),
        ("曹杰", "13620000003"),
    ] {
        let r = cs.post(
            "/api/v1/customers",
            &json!({"store_id": s.fixture.ht01, "name": name, "phone": phone}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        customers.push(r.json["id"].as_str().unwrap().to_string());
    }
    let mut ids = vec![];
    for c in &customers {
        let r = cs.post(
            "/api/v1/messages",
            &json!({"store_id": s.fixture.ht01, "customer_id": c, "purpose": "service",
                    "template_code": "birthday", "vars": {"store": "测试一店"}}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.json["id"].as_str().unwrap().to_string());
    }
    // Another store's message is not in HT01's outbox.
    let other = s.login("ht02.cs");
    let r = other.post(
        "/api/v1/messages",
        &json!({"store_id": s.fixture.ht02, "customer_id": s.fixture.customer_ht02,
                "purpose": "service", "template_code": "birthday", "vars": {"store": "测试二店"}}),
    );
    assert_eq!(r.status, 201, "{}", r.body);

    let pending = cs.get("/api/v1/messages?status=pending");
    assert_eq!(pending.status, 200, "{}", pending.body);
    assert_eq!(pending.json["items"].as_array().unwrap().len(), 3);

    // The worker sends them (tomorrow 10:00 Beijing time, outside quiet hours).
    {
        let mut conn = s.db.pool.get().unwrap();
        let at = (chrono::Utc::now().date_naive() + chrono::Duration::days(1))
            .and_hms_opt(2, 0, 0)
            .unwrap()
            .and_utc();
        let rep = dms_server::crm::run_outbox_job(&mut conn, &s.config.crm, at).unwrap();
        assert_eq!(rep.sent, 4, "{rep:?}");
    }
    let sent = cs.get("/api/v1/messages?status=sent&channel=sms&limit=2");
    assert_eq!(sent.json["items"].as_array().unwrap().len(), 2);
    let next = sent.json["next_cursor"].as_str().unwrap();
    let rest = cs.get(&format!("/api/v1/messages?status=sent&cursor={next}"));
    assert_eq!(rest.json["items"].as_array().unwrap().len(), 1);
    let refs: Vec<String> = {
        let mut conn = s.db.pool.get().unwrap();
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct R {
            #[diesel(sql_type = diesel::sql_types::Text)]
            provider_ref: String,
        }
        ids.iter()
            .map(|id| {
                diesel::sql_query(format!(
                    "SELECT provider_ref FROM outbox_messages WHERE id = '{id}'"
                ))
                .get_result::<R>(&mut conn)
                .unwrap()
                .provider_ref
            })
            .collect()
    };

    // Without the gateway key: refused, nothing changes. A staff token is not the key either.
    let body = json!({"receipts": [{"id": refs[0], "status": "delivered"}]});
    receipts(&s, &body, false).problem(401, "unauthorized");
    let r = cs.send(
        cs.request("POST", "/api/v1/messages/sms-receipts")
            .set("Content-Type", "application/json"),
        Some(body.to_string().as_bytes()),
    );
    r.problem(401, "unauthorized");
    let c = s.client();
    let forged = c.send(
        c.request("POST", "/api/v1/messages/sms-receipts")
            .set("Content-Type", "application/json")
            .set(
                "X-Dms-Timestamp",
                &chrono::Utc::now().timestamp().to_string(),
            )
            .set(
                "X-Dms-Signature",
                &dms_server::crm::sign_receipt(
                    "wrong-key",
                    chrono::Utc::now().timestamp(),
                    body.to_string().as_bytes(),
                ),
            ),
        Some(body.to_string().as_bytes()),
    );
    forged.problem(401, "unauthorized");

    // Signed receipts: one delivered, one failed with the provider's code, one unknown id.
    let r = receipts(
        &s,
        &json!({"receipts": [
            {"id": refs[0], "status": "delivered", "code": "DELIVRD"},
            {"id": refs[1], "status": "failed", "code": "UNDELIV", "detail": "空号"},
            {"id": "gw-login-code-77", "status": "delivered"},
        ]}),
        true,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["updated"], 2);
    assert_eq!(r.json["unknown"], json!(["gw-login-code-77"]));
    // A gateway that can only add a fixed header sends the key as a bearer token; a repeated
    // receipt changes nothing.
    let r = c.send(
        c.request("POST", "/api/v1/messages/sms-receipts")
            .set("Content-Type", "application/json")
            .set("Authorization", &format!("Bearer {GATEWAY_KEY}")),
        Some(
            json!({"receipts": [{"id": refs[0], "status": "delivered"}]})
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["unchanged"], 1);
    // A failure needs its code.
    let r = receipts(
        &s,
        &json!({"receipts": [{"id": refs[2], "status": "failed"}]}),
        true,
    );
    r.problem(422, "validation_failed");
    assert_eq!(r.invalid_fields(), ["receipts[0].code"]);

    let m = cs.get(&format!("/api/v1/messages/{}", ids[0]));
    assert_eq!(m.json["status"], "delivered");
    assert!(m.json["delivered_at"].is_string());
    let m = cs.get(&format!("/api/v1/messages/{}", ids[1]));
    assert_eq!(m.json["status"], "failed");
    assert!(
        m.json["last_error"].as_str().unwrap().contains("UNDELIV"),
        "{}",
        m.body
    );
    let failed = cs.get(&format!(
        "/api/v1/messages?status=failed&customer_id={}",
        customers[1]
    ));
    assert_eq!(failed.json["items"].as_array().unwrap().len(), 1);
    let none = cs.get(&format!(
        "/api/v1/messages?status=failed&customer_id={}",
        customers[0]
    ));
    assert_eq!(none.json["items"].as_array().unwrap().len(), 0);

    let day = chrono::Utc::now().date_naive();
    let st = cs.get(&format!(
        "/api/v1/messages/statistics?from={day}&to={}",
        day + chrono::Duration::days(1)
    ));
    assert_eq!(st.status, 200, "{}", st.body);
    assert_eq!(st.json["birthday"]["delivered"], 1, "{}", st.body);
    assert_eq!(st.json["birthday"]["failed"], 1);
    assert_eq!(
        st.json["birthday"]["sent"], 2,
        "sent counts the delivered one"
    );
    // A store's customer service sees only its own store's messages.
    let all_ht02 = other.get("/api/v1/messages");
    assert_eq!(all_ht02.json["items"].as_array().unwrap().len(), 1);
    // Bad filters name the field.
    let r = cs.get("/api/v1/messages?status=lost");
    r.problem(422, "validation_failed");
    assert_eq!(r.invalid_fields(), ["status"]);
    let r = cs.get("/api/v1/messages?from=2026-06-02&to=2026-06-01");
    assert_eq!(r.invalid_fields(), ["to"]);
    s.login("ht01.tech")
        .get("/api/v1/messages")
        .problem(403, "forbidden");
}

fn receipts_off_without_a_key(s: &TestServer) {
    let r = s.client().post(
        "/api/v1/messages/sms-receipts",
        &json!({"receipts": [{"id": "x", "status": "delivered"}]}),
    );
    r.problem(503, "unavailable");
}

// The receipts test needs a server configured with a gateway, so it is declared by hand.
mod sqlite {
    #[test]
    fn receipts_update_the_outbox_and_its_statistics() {
        super::receipts_update_the_outbox_and_its_statistics(dms_db::testing::TestDb::sqlite());
    }

    #[test]
    fn receipts_off_without_a_key() {
        super::receipts_off_without_a_key(&dms_tests::TestServer::sqlite());
    }
}

mod postgres {
    #[test]
    fn receipts_update_the_outbox_and_its_statistics() {
        if let Some(db) = dms_db::testing::TestDb::postgres() {
            super::receipts_update_the_outbox_and_its_statistics(db);
        }
    }

    #[test]
    fn receipts_off_without_a_key() {
        if let Some(s) = dms_tests::TestServer::postgres() {
            super::receipts_off_without_a_key(&s);
        }
    }
}
