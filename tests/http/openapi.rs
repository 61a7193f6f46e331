//! The checked-in `openapi/openapi.json` is what the code generates, every documented
//! operation is routed, and every operation shows its permission and its errors.
//!
//! The other direction (every routed handler is documented) holds by construction: handlers
//! are registered through utoipa-actix-web, which only accepts `#[utoipa::path]` handlers.

use dms_tests::TestServer;
use serde_json::Value;
use std::path::PathBuf;

fn checked_in_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json")
}

fn generated() -> String {
    dms_server::openapi().to_pretty_json().unwrap() + "\n"
}

#[test]
fn checked_in_spec_matches_the_code() {
    let path = checked_in_path();
    let fresh = generated();
    if std::env::var("DMS_UPDATE_OPENAPI").as_deref() == Ok("1") {
        std::fs::write(&path, &fresh).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == fresh,
        "openapi/openapi.json differs from the code; regenerate it with \
         `cargo run -p dms-server -- openapi > openapi/openapi.json` \
         (or DMS_UPDATE_OPENAPI=1 cargo test -p dms-tests --test http openapi)"
    );
}

fn operations() -> Vec<(String, String, Value)> {
    let spec: Value = serde_json::from_str(&generated()).unwrap();
    let mut out = vec![];
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((path.clone(), method.clone(), op.clone()));
        }
    }
    assert!(out.len() >= 20, "the spec lists the API");
    out
}

const PUBLIC: &[&str] = &[
    "/healthz",
    "/readyz",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/customer/code",
    "/api/v1/auth/customer/login",
    "/api/v1/auth/device",
];

#[test]
fn every_operation_shows_permission_security_and_errors() {
    for (path, method, op) in operations() {
        let what = format!("{} {path}", method.to_uppercase());
        let responses = op["responses"].as_object().unwrap();
        if !path.starts_with("/api/") {
            continue;
        }
        let description = op["description"].as_str().unwrap_or_default();
        assert!(
            description.contains("**Permission:**"),
            "{what} does not name its permission"
        );
        if PUBLIC.contains(&path.as_str()) {
            continue;
        }
        assert!(
            op["security"].is_array(),
            "{what} has no security requirement"
        );
        assert!(
            responses.contains_key("401"),
            "{what} does not document 401"
        );
        for (code, r) in responses {
            if code.starts_with('4') {
                assert!(
                    r["content"]["application/problem+json"].is_object(),
                    "{what} {code} is not problem+json"
                );
            }
        }
    }
}

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                dms_core::new_id()
            } else {
                seg.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_documented_operation_is_routed() {
    let s = TestServer::sqlite();
    let c = s.client();
    for (path, method, _) in operations() {
        let r = c.raw(
            &method.to_uppercase(),
            &concrete(&path),
            "application/json",
            b"{}",
        );
        let code = r.json["code"].as_str().unwrap_or_default();
        assert!(
            code != "route_not_found" && code != "method_not_allowed",
            "{} {path} is documented but not routed: {}",
            method.to_uppercase(),
            r.body
        );
    }
}
