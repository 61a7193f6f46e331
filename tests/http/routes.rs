//! Unknown routes and methods, health checks, the served spec and the offline reference page.

use dms_tests::{http_tests, TestServer};

fn unknown_routes_are_404_and_wrong_methods_405(s: &TestServer) {
    let c = s.login("admin");
    c.get("/api/v1/no-such-thing")
        .problem(404, "route_not_found");
    c.get("/api/v2/me").problem(404, "route_not_found");
    let r = c.delete("/api/v1/me");
    r.problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET"));
    let r = c.raw("PUT", "/api/v1/stores", "application/json", b"{}");
    r.problem(405, "method_not_allowed");
    let allow = r.header("allow").unwrap();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    // Templated paths match by shape.
    let r = c.raw(
        "POST",
        &format!("/api/v1/stores/{}", s.fixture.ht01),
        "application/json",
        b"{}",
    );
    r.problem(405, "method_not_allowed");
}

fn health_and_readiness(s: &TestServer) {
    let c = s.client();
    let h = c.get("/healthz");
    assert_eq!(h.status, 200);
    assert_eq!(h.json["status"], "ok");
    let r = c.get("/readyz");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["status"], "ready");
    assert!(r.header("x-request-id").is_some_and(|v| !v.is_empty()));
}

fn request_ids_are_kept_or_made(s: &TestServer) {
    let c = s.client();
    let r = c.send(
        c.request("GET", "/healthz")
            .set("X-Request-Id", "till-7-abc"),
        None,
    );
    assert_eq!(r.header("x-request-id"), Some("till-7-abc"));
    // A hostile id (log injection) is replaced.
    let r = c.send(
        c.request("GET", "/healthz").set("X-Request-Id", "a b\tc"),
        None,
    );
    assert_ne!(r.header("x-request-id"), Some("a b\tc"));
}

fn spec_and_reference_page_are_served_offline(s: &TestServer) {
    let c = s.client();
    let spec = c.get("/api/openapi.json");
    assert_eq!(spec.status, 200);
    assert_eq!(
        spec.json,
        serde_json::to_value(dms_server::openapi()).unwrap(),
        "the served spec is the generated one"
    );
    let docs = c.get("/api/docs");
    assert_eq!(docs.status, 200);
    assert!(docs.content_type.starts_with("text/html"));
    assert!(docs.body.contains("/api/v1/auth/login"));
    assert!(
        docs.body.contains("org.staff.write"),
        "permissions are shown"
    );
    for external in ["src=\"http", "href=\"http", "@import", "<script"] {
        assert!(
            !docs.body.contains(external),
            "the page loads nothing: found {external}"
        );
    }
}

fn other_paths_go_to_the_web_app(s: &TestServer) {
    // This server has no built web app: it says how to build one instead of a bare 404.
    let r = s.client().get("/members/123");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("scripts/run.sh"), "{}", r.body);
}

http_tests!(
    unknown_routes_are_404_and_wrong_methods_405,
    health_and_readiness,
    request_ids_are_kept_or_made,
    spec_and_reference_page_are_served_offline,
    other_paths_go_to_the_web_app,
);
