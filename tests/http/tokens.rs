//! Access tokens that must not work: each is a 401 problem, never a 200 or a 500.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dms_tests::{http_tests, TestServer, JWT_SECRET};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// The claims of a real token of `username`, to be altered and re-signed.
fn real_claims(s: &TestServer, username: &str) -> (String, Value) {
    let c = s.login(username);
    let token = c.token.clone().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    (token, claims)
}

fn sign(claims: &Value, alg: Algorithm, secret: &str, kid: Option<&str>) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn assert_rejected(s: &TestServer, token: &str, why: &str) {
    let r = s.client().with_token(token).get("/api/v1/me");
    assert_eq!(r.status, 401, "{why}: {}", r.body);
    r.problem(401, "unauthorized");
    assert!(
        r.header("www-authenticate")
            .is_some_and(|v| v.starts_with("Bearer")),
        "{why}: 401 names the scheme"
    );
}

fn a_resigned_real_token_works(s: &TestServer) {
    // The control for the tests below: the same claims, properly signed, are accepted.
    let (_, claims) = real_claims(s, "ht01.cs");
    let t = sign(&claims, Algorithm::HS256, JWT_SECRET, Some("k1"));
    assert_eq!(s.client().with_token(&t).get("/api/v1/me").status, 200);
}

fn forged_tokens_are_401(s: &TestServer) {
    let (token, claims) = real_claims(s, "ht01.cs");

    // alg: none, no signature.
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    assert_rejected(s, &format!("{none_header}.{body}."), "alg none");

    assert_rejected(
        s,
        &sign(
            &claims,
            Algorithm::HS256,
            "another-secret-of-the-same-length!!",
            Some("k1"),
        ),
        "signed with another key",
    );
    assert_rejected(
        s,
        &sign(&claims, Algorithm::HS512, JWT_SECRET, Some("k1")),
        "another algorithm",
    );
    assert_rejected(
        s,
        &sign(&claims, Algorithm::HS256, JWT_SECRET, Some("k9")),
        "unknown key id",
    );

    let mut expired = claims.clone();
    expired["iat"] = json!(now() - 3600);
    expired["exp"] = json!(now() - 60);
    assert_rejected(
        s,
        &sign(&expired, Algorithm::HS256, JWT_SECRET, Some("k1")),
        "expired",
    );

    let mut aud = claims.clone();
    aud["aud"] = json!("another-api");
    assert_rejected(
        s,
        &sign(&aud, Algorithm::HS256, JWT_SECRET, Some("k1")),
        "wrong audience",
    );

    let mut iss = claims.clone();
    iss["iss"] = json!("someone-else");
    assert_rejected(
        s,
        &sign(&iss, Algorithm::HS256, JWT_SECRET, Some("k1")),
        "wrong issuer",
    );

    let mut typ = claims.clone();
    typ["typ"] = json!("refresh");
    assert_rejected(
        s,
        &sign(&typ, Algorithm::HS256, JWT_SECRET, Some("k1")),
        "wrong type",
    );

    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_rejected(
        s,
        &sign(&no_exp, Algorithm::HS256, JWT_SECRET, Some("k1")),
        "no exp",
    );

    let mut tampered = token.split('.').map(str::to_string).collect::<Vec<_>>();
    let mut other = claims.clone();
    other["sub"] = json!(dms_core::new_id());
    tampered[1] = URL_SAFE_NO_PAD.encode(other.to_string());
    assert_rejected(s, &tampered.join("."), "payload changed after signing");

    assert_rejected(s, "not-a-token", "garbage");
}

fn refresh_token_is_not_an_access_token(s: &TestServer) {
    let r = s.client().post(
        "/api/v1/auth/login",
        &json!({"username": "ht01.cs", "password": dms_tests::PASSWORD}),
    );
    assert_rejected(
        s,
        r.json["refresh_token"].as_str().unwrap(),
        "refresh token",
    );
}

fn disabled_or_deleted_users_lose_access_at_once(s: &TestServer) {
    let admin = s.login("admin");
    let tech = s.login("ht01.tech");
    let cs = s.login("ht01.cs");
    assert_eq!(tech.get("/api/v1/me").status, 200);
    let id = |c: &dms_tests::Client| c.get("/api/v1/me").json["id"].as_str().unwrap().to_string();
    let (tech_id, cs_id) = (id(&tech), id(&cs));

    let r = admin.patch(
        &format!("/api/v1/staff/{tech_id}"),
        &json!({"status": "disabled"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    tech.get("/api/v1/me").problem(401, "unauthorized");
    s.client()
        .post(
            "/api/v1/auth/login",
            &json!({"username": "ht01.tech", "password": dms_tests::PASSWORD}),
        )
        .problem(401, "invalid_credentials");

    let r = admin.delete(&format!("/api/v1/staff/{cs_id}"));
    assert_eq!(r.status, 204, "{}", r.body);
    cs.get("/api/v1/me").problem(401, "unauthorized");
}

http_tests!(
    a_resigned_real_token_works,
    forged_tokens_are_401,
    refresh_token_is_not_an_access_token,
    disabled_or_deleted_users_lose_access_at_once,
);
