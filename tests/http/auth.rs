//! Staff login, refresh rotation and reuse detection, logout, `/me`, throttling, and the
//! owners' app login by one-time code.

use dms_tests::{http_tests, TestServer, PASSWORD};
use serde_json::{json, Value};

fn login_body(username: &str, password: &str) -> Value {
    json!({"username": username, "password": password})
}

fn login_me_and_expiry(s: &TestServer) {
    let c = s.client();
    let r = c.post("/api/v1/auth/login", &login_body("ht01.cs", PASSWORD));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["token_type"], "Bearer");
    let expires_in = r.json["expires_in"].as_u64().unwrap();
    assert!(
        expires_in > 0 && expires_in <= 900,
        "access token lives at most 15 minutes"
    );
    let me = c
        .with_token(r.json["access_token"].as_str().unwrap())
        .get("/api/v1/me");
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json["kind"], "staff");
    assert_eq!(me.json["username"], "ht01.cs");
    assert_eq!(me.json["group_wide"], false);
    let stores: Vec<&str> = me.json["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap())
        .collect();
    assert_eq!(stores, ["HT01"], "a store clerk sees only her store");
    let perms = me.json["permissions"].as_array().unwrap();
    assert!(perms.contains(&json!("customers.read")));
    assert!(!perms.contains(&json!("finance.write")));
}

fn wrong_password_and_unknown_user_look_the_same(s: &TestServer) {
    let c = s.client();
    let a = c.post(
        "/api/v1/auth/login",
        &login_body("ht01.cs", "wrong-password"),
    );
    let b = c.post(
        "/api/v1/auth/login",
        &login_body("nobody", "wrong-password"),
    );
    a.problem(401, "invalid_credentials");
    b.problem(401, "invalid_credentials");
    assert_eq!(a.json["title"], b.json["title"]);
}

fn refresh_rotates_and_reuse_revokes_the_family(s: &TestServer) {
    let c = s.client();
    let first = c.post("/api/v1/auth/login", &login_body("ht01.cs", PASSWORD));
    let r1 = first.json["refresh_token"].as_str().unwrap().to_string();
    let second = c.post("/api/v1/auth/refresh", &json!({ "refresh_token": r1 }));
    assert_eq!(second.status, 200, "{}", second.body);
    let r2 = second.json["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2, "refresh tokens rotate");
    let access2 = second.json["access_token"].as_str().unwrap().to_string();
    assert_eq!(c.with_token(&access2).get("/api/v1/me").status, 200);

    // Someone replays the old refresh token: the whole session dies, for both holders.
    c.post("/api/v1/auth/refresh", &json!({ "refresh_token": r1 }))
        .problem(401, "unauthorized");
    c.post("/api/v1/auth/refresh", &json!({ "refresh_token": r2 }))
        .problem(401, "unauthorized");
    c.with_token(&access2)
        .get("/api/v1/me")
        .problem(401, "unauthorized");

    // Another login is a different family and still works.
    let other = s.login("ht01.cs");
    assert_eq!(other.get("/api/v1/me").status, 200);
}

fn logout_revokes_the_session(s: &TestServer) {
    let c = s.client();
    let t = c.post("/api/v1/auth/login", &login_body("ht01.cs", PASSWORD));
    let access = t.json["access_token"].as_str().unwrap();
    let refresh = t.json["refresh_token"].as_str().unwrap();
    let other = s.login("ht01.cs");
    let me = c.with_token(access);
    let r = me.post("/api/v1/auth/logout", &json!({}));
    assert_eq!(r.status, 204, "{}", r.body);
    me.get("/api/v1/me").problem(401, "unauthorized");
    c.post("/api/v1/auth/refresh", &json!({ "refresh_token": refresh }))
        .problem(401, "unauthorized");
    assert_eq!(
        other.get("/api/v1/me").status,
        200,
        "other sessions live on"
    );
    let r = other.post("/api/v1/auth/logout", &json!({"everywhere": true}));
    assert_eq!(r.status, 204);
    other.get("/api/v1/me").problem(401, "unauthorized");
}

fn login_is_throttled_per_account_before_hashing(s: &TestServer) {
    let c = s.client();
    let max = s.config.auth.login_max_failures_per_account;
    for _ in 0..max {
        c.post(
            "/api/v1/auth/login",
            &login_body("ht01.tech", "wrong-password"),
        )
        .problem(401, "invalid_credentials");
    }
    // Now even the right password is refused, without being checked.
    let r = c.post("/api/v1/auth/login", &login_body("ht01.tech", PASSWORD));
    r.problem(429, "too_many_requests");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(wait > 0 && wait <= s.config.auth.login_window_secs);
    // Other accounts are not affected.
    assert_eq!(
        c.post("/api/v1/auth/login", &login_body("ht01.cs", PASSWORD))
            .status,
        200
    );
}

fn login_is_throttled_per_address(s: &TestServer) {
    let c = s.client();
    let max = s.config.auth.login_max_attempts_per_address;
    for i in 0..max {
        c.post(
            "/api/v1/auth/login",
            &login_body(&format!("guess{i}"), "wrong-password"),
        )
        .problem(401, "invalid_credentials");
    }
    c.post("/api/v1/auth/login", &login_body("ht01.cs", PASSWORD))
        .problem(429, "too_many_requests");
}

fn successful_logins_from_one_address_are_not_throttled(s: &TestServer) {
    // A store's staff share one address: a morning of logins must not lock them out.
    let c = s.client();
    for _ in 0..(s.config.auth.login_max_attempts_per_address + 5) {
        let r = c.post("/api/v1/auth/login", &login_body("ht01.cs", PASSWORD));
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

fn last_code_sent_to(s: &TestServer, phone: &str) -> String {
    let text = std::fs::read_to_string(&s.outbox).unwrap_or_default();
    let line = text
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["to"] == phone)
        .unwrap_or_else(|| panic!("no message to {phone} in {text}"));
    // "【品牌】您的登录验证码是123456，5分钟内有效。…"
    let text = line["text"].as_str().unwrap();
    let after = text.split("验证码是").nth(1).unwrap();
    after.chars().take_while(char::is_ascii_digit).collect()
}

fn customer_logs_in_with_a_code_and_sees_only_itself(s: &TestServer) {
    let c = s.client();
    let phone = "13801012345";
    let r = c.post("/api/v1/auth/customer/code", &json!({ "phone": phone }));
    assert_eq!(r.status, 202, "{}", r.body);
    // An unknown number gets the same answer, so numbers cannot be probed.
    let unknown = c.post(
        "/api/v1/auth/customer/code",
        &json!({"phone": "13000000000"}),
    );
    assert_eq!(unknown.status, 202);
    assert_eq!(unknown.json, r.json);

    c.post(
        "/api/v1/auth/customer/login",
        &json!({"phone": phone, "code": "000000"}),
    )
    .problem(401, "invalid_credentials");
    let code = last_code_sent_to(s, phone);
    let t = c.post(
        "/api/v1/auth/customer/login",
        &json!({ "phone": phone, "code": code }),
    );
    assert_eq!(t.status, 200, "{}", t.body);
    let me = c.with_token(t.json["access_token"].as_str().unwrap());
    let who = me.get("/api/v1/me");
    assert_eq!(who.json["kind"], "customer");
    assert_eq!(who.json["id"], s.fixture.customer_ht01.as_str());
    assert_ne!(who.json["phone"], phone, "the phone number is masked");

    let own = me.get(&format!("/api/v1/customers/{}", s.fixture.customer_ht01));
    assert_eq!(own.status, 200, "{}", own.body);
    me.get(&format!("/api/v1/customers/{}", s.fixture.customer_ht02))
        .problem(404, "not_found");
    // A customer token is not a staff token.
    me.get("/api/v1/customers").problem(403, "forbidden");
    me.get("/api/v1/stores").problem(403, "forbidden");
    // The code works once.
    c.post(
        "/api/v1/auth/customer/login",
        &json!({ "phone": phone, "code": code }),
    )
    .problem(401, "invalid_credentials");
}

http_tests!(
    login_me_and_expiry,
    wrong_password_and_unknown_user_look_the_same,
    refresh_rotates_and_reuse_revokes_the_family,
    logout_revokes_the_session,
    login_is_throttled_per_account_before_hashing,
    login_is_throttled_per_address,
    successful_logins_from_one_address_are_not_throttled,
    customer_logs_in_with_a_code_and_sees_only_itself,
);
