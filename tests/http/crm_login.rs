//! The owners' app login after a merge: the merged record's number logs in as the survivor,
//! the merged record's own sessions end, and it never gets a token again.

use dms_tests::{http_tests, Client, TestServer};
use serde_json::{json, Value};

fn last_code_sent_to(s: &TestServer, phone: &str) -> Option<String> {
    let text = std::fs::read_to_string(&s.outbox).unwrap_or_default();
    let line = text
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["to"] == phone)?;
    let text = line["text"].as_str()?;
    let after = text.split("验证码是").nth(1)?;
    Some(after.chars().take_while(char::is_ascii_digit).collect())
}

fn codes_sent_to(s: &TestServer, phone: &str) -> usize {
    std::fs::read_to_string(&s.outbox)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["to"] == phone)
        .count()
}

/// Asks for a code and logs in with it; the customer id the token is for. Earlier codes to
/// the phone are dated back so that the one-per-minute limit does not apply.
fn owner_login(s: &TestServer, phone: &str) -> (Client, String) {
    {
        use diesel::RunQueryDsl;
        let mut conn = s.db.pool.get().unwrap();
        diesel::sql_query(format!(
            "UPDATE customer_login_codes SET created_at = '2020-01-01 00:00:00' WHERE phone = '{phone}'"
        ))
        .execute(&mut conn)
        .unwrap();
    }
    let c = s.client();
    let r = c.post("/api/v1/auth/customer/code", &json!({ "phone": phone }));
    assert_eq!(r.status, 202, "{}", r.body);
    let code = last_code_sent_to(s, phone).unwrap_or_else(|| panic!("no code to {phone}"));
    let t = c.post(
        "/api/v1/auth/customer/login",
        &json!({"phone": phone, "code": code}),
    );
    assert_eq!(t.status, 200, "{}", t.body);
    let me = c.with_token(t.json["access_token"].as_str().unwrap());
    let who = me.get("/api/v1/me");
    assert_eq!(who.status, 200, "{}", who.body);
    let id = who.json["id"]
        .as_str()
        .or_else(|| who.json["customer"]["id"].as_str())
        .unwrap_or_else(|| panic!("no id in {}", who.body))
        .to_string();
    (me, id)
}

fn merged_customers_number_logs_in_as_the_survivor(s: &TestServer) {
    let cs = s.login("ht01.cs");
    let create = |name: &str, phone: &str| -> String {
        let r = cs.post(
            "/api/v1/customers",
            &json!({"store_id": s.fixture.ht01, "name": name, "phone": phone,
                    "allow_duplicate": true}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.json["id"].as_str().unwrap().to_string()
    };
    let survivor = create("钱进", "13910000001");
    let merged = create("钱进(售后)", "13910000002");

    // Before the merge the second record is its own owner.
    let (old_app, id) = owner_login(s, "13910000002");
    assert_eq!(id, merged);
    assert_eq!(
        old_app
            .get(&format!("/api/v1/customers/{merged}/360"))
            .status,
        200
    );

    let m = s.login("ht01.manager");
    let r = m.post(
        &format!("/api/v1/customers/{survivor}/merge"),
        &json!({"merged_id": merged}),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    // The merged record's session ends with the merge.
    old_app.get("/api/v1/me").problem(401, "unauthorized");

    // Its number now logs in as the survivor, who sees their own 360 (with the old number).
    let (app, id) = owner_login(s, "13910000002");
    assert_eq!(id, survivor, "the merged number logs in as the survivor");
    let v = app.get(&format!("/api/v1/customers/{survivor}/360"));
    assert_eq!(v.status, 200, "{}", v.body);
    app.get(&format!("/api/v1/customers/{merged}/360"))
        .problem(404, "not_found");

    // The survivor's own number still works, and so does a further number added at the desk.
    let (_, id) = owner_login(s, "13910000001");
    assert_eq!(id, survivor);
    let r = cs.post(
        &format!("/api/v1/customers/{survivor}/phones"),
        &json!({"phone": "13910000003", "label": "家人"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, id) = owner_login(s, "13910000003");
    assert_eq!(id, survivor);

    // An unknown number gets the same answer and no code; a guessed code does not log in.
    let c = s.client();
    let r = c.post(
        "/api/v1/auth/customer/code",
        &json!({"phone": "13910000009"}),
    );
    assert_eq!(r.status, 202);
    assert_eq!(codes_sent_to(s, "13910000009"), 0);
    c.post(
        "/api/v1/auth/customer/login",
        &json!({"phone": "13910000009", "code": "123456"}),
    )
    .problem(401, "invalid_credentials");
}

http_tests!(merged_customers_number_logs_in_as_the_survivor);
