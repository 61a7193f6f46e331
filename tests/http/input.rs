//! Bad input of every kind is a 4xx problem naming the field, and changes nothing.

use dms_tests::{http_tests, Client, Reply, TestServer};
use serde_json::json;

/// What a bad request could have changed: the staff list and the audit log.
fn footprint(admin: &Client) -> (usize, usize) {
    let staff = admin.get("/api/v1/staff?limit=200");
    let audit = admin.get("/api/v1/audit-log?limit=200");
    (
        staff.json["items"].as_array().unwrap().len(),
        audit.json["items"].as_array().unwrap().len(),
    )
}

fn valid_staff() -> serde_json::Value {
    json!({
        "username": "ht01.newbie",
        "display_name": "新员工",
        "password": "Newbie@2026",
        "roles": [{"role": "cashier", "store_id": null}]
    })
}

fn assert_field(r: &Reply, status: u16, code: &str, field: &str) {
    r.problem(status, code);
    assert!(
        r.invalid_fields().iter().any(|f| f == field),
        "expected field {field} in {}",
        r.body
    );
}

fn bad_bodies_name_the_field_and_change_nothing(s: &TestServer) {
    let admin = s.login("admin");
    let before = footprint(&admin);
    let mut staff = valid_staff();
    staff["roles"][0]["store_id"] = json!(s.fixture.ht01);

    let r = admin.raw(
        "POST",
        "/api/v1/staff",
        "application/json",
        br#"{"username": "#,
    );
    assert_field(&r, 400, "malformed_body", "body");

    let mut wrong_type = staff.clone();
    wrong_type["username"] = json!(12345);
    assert_field(
        &admin.post("/api/v1/staff", &wrong_type),
        422,
        "validation_failed",
        "username",
    );

    let mut missing = staff.clone();
    missing.as_object_mut().unwrap().remove("password");
    let r = admin.post("/api/v1/staff", &missing);
    assert_field(&r, 422, "validation_failed", "password");
    assert_eq!(r.json["errors"][0]["code"], "required");

    let mut unknown = staff.clone();
    unknown["is_superuser"] = json!(true);
    let r = admin.post("/api/v1/staff", &unknown);
    assert_field(&r, 422, "validation_failed", "is_superuser");
    assert_eq!(r.json["errors"][0]["code"], "unknown_field");

    let mut nested = staff.clone();
    nested["roles"][0]["colour"] = json!("red");
    assert_field(
        &admin.post("/api/v1/staff", &nested),
        422,
        "validation_failed",
        "roles[0].colour",
    );

    let mut bad_role = staff.clone();
    bad_role["roles"][0]["role"] = json!("emperor");
    assert_field(
        &admin.post("/api/v1/staff", &bad_role),
        422,
        "validation_failed",
        "roles[0].role",
    );

    let mut short = staff.clone();
    short["password"] = json!("short");
    assert_field(
        &admin.post("/api/v1/staff", &short),
        422,
        "validation_failed",
        "password",
    );

    let mut big = staff.clone();
    big["display_name"] = json!("大".repeat(300_000));
    let r = admin.post("/api/v1/staff", &big);
    assert_field(&r, 413, "body_too_large", "body");

    let r = admin.raw(
        "POST",
        "/api/v1/staff",
        "text/plain",
        staff.to_string().as_bytes(),
    );
    assert_field(&r, 415, "unsupported_media_type", "content-type");

    let r = admin.raw("POST", "/api/v1/staff", "application/json", b"[1, 2, 3]");
    assert!(r.status == 422 || r.status == 400, "{}", r.body);
    assert!(!r.invalid_fields().is_empty(), "{}", r.body);

    assert_eq!(footprint(&admin), before, "nothing was written");
    // And the same request, well formed, works: the checks above failed for their reason.
    let ok = admin.post("/api/v1/staff", &staff);
    assert_eq!(ok.status, 201, "{}", ok.body);
    let (staff_after, _) = footprint(&admin);
    assert_eq!(staff_after, before.0 + 1);
}

fn bad_queries_and_cursors_name_the_parameter(s: &TestServer) {
    let admin = s.login("admin");
    assert_field(
        &admin.get("/api/v1/staff?cursor=garbage"),
        422,
        "validation_failed",
        "cursor",
    );
    // A cursor that decodes but was never issued (not an id) is refused too.
    assert_field(
        &admin.get("/api/v1/staff?cursor=djE6bm90LWFuLWlk"),
        422,
        "validation_failed",
        "cursor",
    );
    assert_field(
        &admin.get("/api/v1/staff?limit=0"),
        422,
        "validation_failed",
        "limit",
    );
    assert_field(
        &admin.get("/api/v1/staff?limit=1000"),
        422,
        "validation_failed",
        "limit",
    );
    assert_field(
        &admin.get("/api/v1/staff?limit=ten"),
        422,
        "validation_failed",
        "limit",
    );
    assert_field(
        &admin.get("/api/v1/staff?sort=name"),
        422,
        "validation_failed",
        "sort",
    );
    // A malformed id in the path is simply not found.
    admin
        .get("/api/v1/staff/not-an-id")
        .problem(404, "not_found");
    admin
        .get("/api/v1/customers/1%20OR%201=1")
        .problem(404, "not_found");
}

fn duplicates_are_409_with_the_field(s: &TestServer) {
    let admin = s.login("admin");
    let r = admin.post(
        "/api/v1/customers",
        &json!({"store_id": s.fixture.ht01, "name": "重复", "phone": "13801012345"}),
    );
    assert_field(&r, 409, "conflict", "phone");
    let mut staff = valid_staff();
    staff["username"] = json!("ht01.cs");
    staff["roles"][0]["store_id"] = json!(s.fixture.ht01);
    assert_field(
        &admin.post("/api/v1/staff", &staff),
        409,
        "conflict",
        "username",
    );
}

http_tests!(
    bad_bodies_name_the_field_and_change_nothing,
    bad_queries_and_cursors_name_the_parameter,
    duplicates_are_409_with_the_field,
);
