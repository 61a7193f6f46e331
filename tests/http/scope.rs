//! Who may see and change what: other stores' rows read as 404, missing permissions are 403,
//! group roles see every store, and changes to users and roles land in the audit log.

use dms_tests::{http_tests, TestServer};
use serde_json::json;

fn other_stores_rows_are_404(s: &TestServer) {
    let cs1 = s.login("ht01.cs");
    let own = cs1.get(&format!("/api/v1/customers/{}", s.fixture.customer_ht01));
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.json["name"], "王建国");

    let other = cs1.get(&format!("/api/v1/customers/{}", s.fixture.customer_ht02));
    other.problem(404, "not_found");
    // Indistinguishable from a row that does not exist at all.
    let missing = cs1.get(&format!("/api/v1/customers/{}", dms_core::new_id()));
    missing.problem(404, "not_found");
    assert_eq!(other.json["title"], missing.json["title"]);

    cs1.get(&format!("/api/v1/stores/{}", s.fixture.ht02))
        .problem(404, "not_found");
    assert_eq!(
        cs1.get(&format!("/api/v1/stores/{}", s.fixture.ht01))
            .status,
        200
    );

    let list = cs1.get("/api/v1/customers");
    let names: Vec<&str> = list.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["王建国"], "the list holds only the caller's store");

    // Nor can she create a customer in the other store: that store is not one of hers.
    let r = cs1.post(
        "/api/v1/customers",
        &json!({"store_id": s.fixture.ht02, "name": "赵六", "phone": "13700000001"}),
    );
    r.problem(422, "validation_failed");
    assert_eq!(r.invalid_fields(), ["store_id"]);
}

fn group_roles_see_every_store(s: &TestServer) {
    let admin = s.login("admin");
    let list = admin.get("/api/v1/customers");
    assert_eq!(list.json["items"].as_array().unwrap().len(), 2);
    let stores = admin.get("/api/v1/stores");
    assert_eq!(stores.json["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        admin
            .get(&format!("/api/v1/customers/{}", s.fixture.customer_ht02))
            .status,
        200
    );
}

fn missing_permission_is_403(s: &TestServer) {
    let tech = s.login("ht01.tech");
    let r = tech.get("/api/v1/customers");
    let p = r.problem(403, "forbidden");
    assert!(
        p["detail"].as_str().unwrap().contains("customers.read"),
        "{p}"
    );
    tech.get("/api/v1/staff").problem(403, "forbidden");
    tech.get("/api/v1/audit-log").problem(403, "forbidden");
    // A store manager may not create stores: that is a group matter.
    s.login("ht01.manager")
        .post(
            "/api/v1/stores",
            &json!({"code": "HT03", "name": "三店", "address": "天津", "phone": "022-1234567"}),
        )
        .problem(403, "forbidden");
    // Anonymous is 401, not 403.
    s.client()
        .get("/api/v1/customers")
        .problem(401, "unauthorized");
}

fn staff_and_roles_are_managed_within_ones_stores_and_audited(s: &TestServer) {
    let manager = s.login("ht01.manager");
    let created = manager.post(
        "/api/v1/staff",
        &json!({
            "username": "ht01.cashier2",
            "display_name": "新收银员",
            "password": "Cashier@2026",
            "roles": [{"role": "cashier", "store_id": s.fixture.ht01}]
        }),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json["id"].as_str().unwrap().to_string();

    // A store manager cannot grant roles in another store, nor group-wide roles.
    manager
        .put(
            &format!("/api/v1/staff/{id}/roles"),
            &json!({"roles": [{"role": "cashier", "store_id": s.fixture.ht02}]}),
        )
        .problem(403, "forbidden");
    let r = manager.put(
        &format!("/api/v1/staff/{id}/roles"),
        &json!({"roles": [{"role": "group_admin", "store_id": null}]}),
    );
    assert!(r.status == 403 || r.status == 422, "{}", r.body);

    let new_user = s.client().post(
        "/api/v1/auth/login",
        &json!({"username": "ht01.cashier2", "password": "Cashier@2026"}),
    );
    assert_eq!(new_user.status, 200, "{}", new_user.body);

    // The other store's staff do not see the new user.
    let admin = s.login("admin");
    let r = admin.put(
        &format!("/api/v1/staff/{id}/roles"),
        &json!({"roles": [{"role": "cashier", "store_id": s.fixture.ht02}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    manager
        .get(&format!("/api/v1/staff/{id}"))
        .problem(404, "not_found");

    let audit = admin.get(&format!("/api/v1/audit-log?entity_id={id}"));
    assert_eq!(audit.status, 200, "{}", audit.body);
    let actions: Vec<(&str, &str)> = audit.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("staff.create", "ht01.manager")),
        "{actions:?}"
    );
    assert!(
        actions
            .iter()
            .any(|(a, who)| a.starts_with("staff.roles") && *who == "admin"),
        "{actions:?}"
    );
    let text = audit.body.to_lowercase();
    assert!(
        !text.contains("cashier@2026"),
        "no password in the audit log"
    );
}

fn lists_paginate_with_cursors(s: &TestServer) {
    let admin = s.login("admin");
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/staff?limit=2&cursor={c}"),
            None => "/api/v1/staff?limit=2".to_string(),
        };
        let page = admin.get(&path);
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.json["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|u| u["username"].as_str().unwrap().to_string()),
        );
        match page.json["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let mut expected: Vec<String> = dms_tests::STAFF
        .iter()
        .map(|(u, _, _)| u.to_string())
        .collect();
    expected.sort();
    let mut got = seen.clone();
    got.sort();
    assert_eq!(got, expected, "every user exactly once across pages");
}

http_tests!(
    other_stores_rows_are_404,
    group_roles_see_every_store,
    missing_permission_is_403,
    staff_and_roles_are_managed_within_ones_stores_and_audited,
    lists_paginate_with_cursors,
);
