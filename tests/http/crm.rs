//! The CRM over HTTP: customer 360, vehicles, leads, follow-up tasks, complaints, surveys.

use chrono::NaiveDate;
use dms_tests::{http_tests, Client, TestServer};
use serde_json::{json, Value};

// Real-looking VINs with correct check digits (9th character).
const VIN_A: &str = "LVGBE40K7PG123456";
const VIN_B: &str = "LVGBE40K9PG654321";
const VIN_C: &str = "LFV2A21K3P3000111";
const VIN_D: &str = "LSVAU218XN2183294";
/// A valid resident ID number (the standard's example).
const ID_NUMBER: &str = "11010519491231002X";

fn staff_id(c: &Client) -> String {
    let me = c.get("/api/v1/me");
    assert_eq!(me.status, 200, "{}", me.body);
    me.json["id"].as_str().expect("me.id").to_string()
}

fn customer(c: &Client, store: &str, name: &str, phone: &str, extra: Value) -> Value {
    let mut body = json!({"store_id": store, "name": name, "phone": phone});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = c.post("/api/v1/customers", &body);
    assert_eq!(r.status, 201, "{}", r.body);
    r.json
}

fn vehicle(c: &Client, store: &str, owner: &str, vin: &str, plate: &str, delivered: &str) -> Value {
    let r = c.post(
        "/api/v1/vehicles",
        &json!({
            "store_id": store, "customer_id": owner, "vin": vin, "plate": plate,
            "brand": "丰田", "model": "凯美瑞", "trim_level": "2.5G 豪华版", "colour": "珍珠白",
            "purchase_date": delivered, "delivery_date": delivered,
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json
}

fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn run_care(s: &TestServer, on: &str) -> u32 {
    let mut conn = s.db.pool.get().unwrap();
    dms_server::crm::run_care_job(&mut conn, &s.config.crm, day(on))
        .unwrap()
        .total_created()
}

/// The service advisor's walk-in: the plate as typed at the desk finds the customer, whose 360
/// shows the car.
fn advisor_walk_in_search_by_plate_then_360(s: &TestServer) {
    let adv = s.login("ht01.advisor");
    let c = customer(&adv, &s.fixture.ht01, "张伟", "13912345678", json!({}));
    let id = c["id"].as_str().unwrap();
    vehicle(&adv, &s.fixture.ht01, id, VIN_A, "京A·12345", "2025-05-01");

    for q in ["京A12345", "京a 12345", "京A·123"] {
        let r = adv.get(&format!("/api/v1/customers/search?q={}", urlenc(q)));
        assert_eq!(r.status, 200, "{q}: {}", r.body);
        assert_eq!(ids(&r.json), [id], "search {q}");
    }
    // Also by VIN, by phone prefix and by name, and through the list's `q`.
    for q in [VIN_A, "1391234", "张"] {
        let r = adv.get(&format!("/api/v1/customers?q={}", urlenc(q)));
        assert_eq!(ids(&r.json), [id], "search {q}");
    }
    let v = adv.get(&format!("/api/v1/customers/{id}/360"));
    assert_eq!(v.status, 200, "{}", v.body);
    assert_eq!(v.json["profile"]["customer"]["name"], "张伟");
    assert_eq!(v.json["vehicles"].as_array().unwrap().len(), 1);
    assert_eq!(v.json["vehicles"][0]["plate"], "京A·12345");
    assert_eq!(v.json["vehicles"][0]["vin"], VIN_A);
    assert!(v.json["sections"].is_object());
    // A query too short to be useful is a field error.
    adv.get("/api/v1/customers/search?q=13")
        .problem(422, "validation_failed");
}

fn urlenc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Customer service's day: the care engine's tasks are the queue; a refusal "serviced
/// elsewhere" is recorded on the task in one request and counted in the statistics.
fn customer_service_day(s: &TestServer) {
    let cs = s.login("ht01.cs");
    let c = customer(&cs, &s.fixture.ht01, "刘洋", "13600001111", json!({}));
    let cid = c["id"].as_str().unwrap().to_string();
    vehicle(&cs, &s.fixture.ht01, &cid, VIN_B, "京B·66666", "2026-06-01");
    // Delivery day: the thank-you call.
    assert_eq!(run_care(s, "2026-06-01"), 1);

    let q = cs.get("/api/v1/tasks?due_on_or_before=2026-06-02");
    assert_eq!(q.status, 200, "{}", q.body);
    let items = q.json["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{}", q.body);
    let task = &items[0];
    assert_eq!(task["customer_id"], cid.as_str());
    let tid = task["id"].as_str().unwrap();

    // A refusal needs its reason.
    let r = cs.post(
        &format!("/api/v1/tasks/{tid}/outcome"),
        &json!({"outcome": "refused"}),
    );
    r.problem(422, "validation_failed");
    assert_eq!(r.invalid_fields(), ["reason"]);

    let r = cs.post(
        &format!("/api/v1/tasks/{tid}/outcome"),
        &json!({"outcome": "refused", "reason": "serviced_elsewhere", "note": "在路边店保养"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["status"], "done");
    assert_eq!(r.json["outcome"], "refused");
    assert_eq!(r.json["refusal_reason"], "serviced_elsewhere");
    // Done once: a second outcome is a conflict, and the queue is empty.
    cs.post(
        &format!("/api/v1/tasks/{tid}/outcome"),
        &json!({"outcome": "reached"}),
    )
    .problem(409, "conflict");
    let q = cs.get("/api/v1/tasks?due_on_or_before=2026-06-02");
    assert!(q.json["items"].as_array().unwrap().is_empty());
    let v = cs.get(&format!("/api/v1/customers/{cid}/360"));
    assert!(v.json["open_tasks"].as_array().unwrap().is_empty());

    // The manager's figures: one due, one contacted, the reason counted.
    let m = s.login("ht01.manager");
    let st = m.get("/api/v1/crm/statistics?from=2026-06-01&to=2026-07-01");
    assert_eq!(st.status, 200, "{}", st.body);
    let care = st.json["care"].as_object().unwrap();
    let (due, refused): (i64, i64) = care.values().fold((0, 0), |(d, r), x| {
        (
            d + x["due"].as_i64().unwrap(),
            r + x["refusals"]["serviced_elsewhere"].as_i64().unwrap_or(0),
        )
    });
    assert_eq!((due, refused), (1, 1), "{}", st.body);
    // Customer service has no reports.read.
    cs.get("/api/v1/crm/statistics?from=2026-06-01&to=2026-07-01")
        .problem(403, "forbidden");
}

/// The care engine run through the job's function twice for the same day creates nothing
/// the second time; the next milestone (7-day call) comes on its day.
fn care_job_twice_creates_nothing_twice(s: &TestServer) {
    let cs = s.login("ht01.cs");
    let c = customer(&cs, &s.fixture.ht01, "陈静", "13700002222", json!({}));
    vehicle(
        &cs,
        &s.fixture.ht01,
        c["id"].as_str().unwrap(),
        VIN_C,
        "京C·88888",
        "2026-03-02",
    );
    assert_eq!(run_care(s, "2026-03-02"), 1, "thank-you call");
    assert_eq!(run_care(s, "2026-03-02"), 0, "nothing twice");
    assert_eq!(run_care(s, "2026-03-09"), 1, "the 7-day call");
    assert_eq!(run_care(s, "2026-03-09"), 0, "nothing twice");
    let all = cs.get("/api/v1/tasks?limit=200");
    assert_eq!(all.json["items"].as_array().unwrap().len(), 2);

    // The member club's expiry reminder: a member whose term ends within 30 days, once.
    let m = s.login("ht01.manager");
    let r = m.post(
        "/api/v1/members",
        &json!({"customer_id": s.fixture.customer_ht01, "store_id": s.fixture.ht01, "channel": "bring_own_car"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    {
        use diesel::RunQueryDsl;
        let mut conn = s.db.pool.get().unwrap();
        diesel::sql_query(format!(
            "UPDATE mem_members SET term_expires_at = '2026-03-30 00:00:00' WHERE id = '{}'",
            r.json["id"].as_str().unwrap()
        ))
        .execute(&mut conn)
        .unwrap();
    }
    assert_eq!(run_care(s, "2026-03-10"), 1, "membership expiry");
    assert_eq!(run_care(s, "2026-03-11"), 0, "nothing twice");
    let t = cs.get(&format!(
        "/api/v1/tasks?customer_id={}",
        s.fixture.customer_ht01
    ));
    assert_eq!(
        t.json["items"][0]["rule"], "membership_expiry",
        "{}",
        t.body
    );
}

/// Duplicates: the same phone or ID number is a 409 naming the match; with `allow_duplicate`
/// the record is made; the merge moves vehicles and tasks and keeps an audit entry.
fn duplicate_on_create_then_merge_moves_everything(s: &TestServer) {
    let cs = s.login("ht01.cs");
    let old = customer(
        &cs,
        &s.fixture.ht01,
        "赵磊",
        "13500003333",
        json!({"id_number": ID_NUMBER}),
    );
    let old_id = old["id"].as_str().unwrap().to_string();
    assert_eq!(old["id_number_masked"].as_str().unwrap().len(), 18);
    assert!(
        !old.to_string().contains(ID_NUMBER),
        "never the full number"
    );
    vehicle(
        &cs,
        &s.fixture.ht01,
        &old_id,
        VIN_D,
        "京D·12345",
        "2026-04-01",
    );
    assert_eq!(run_care(s, "2026-04-01"), 1);

    // Same ID number under a new phone: 409 naming the match.
    let r = cs.post(
        "/api/v1/customers",
        &json!({"store_id": s.fixture.ht01, "name": "赵磊", "phone": "13500004444", "id_number": ID_NUMBER}),
    );
    r.problem(409, "duplicate_suspected");
    assert_eq!(r.invalid_fields(), ["id_number"]);
    assert!(r.json["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains(&old_id));
    assert!(!r.body.contains(ID_NUMBER), "the ID number is not echoed");
    // Another customer's login phone: a plain conflict, naming the customer.
    let r = cs.post(
        "/api/v1/customers",
        &json!({"store_id": s.fixture.ht01, "name": "赵小磊", "phone": "13500003333"}),
    );
    r.problem(409, "conflict");
    assert_eq!(r.invalid_fields(), ["phone"]);
    assert!(r.json["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains(&old_id));
    // ... which `allow_duplicate` does not override.
    cs.post(
        "/api/v1/customers",
        &json!({"store_id": s.fixture.ht01, "name": "赵小磊", "phone": "13500003333", "allow_duplicate": true}),
    )
    .problem(409, "conflict");
    // The same number as a further phone of a new record: a likely duplicate.
    let r = cs.post(
        "/api/v1/customers",
        &json!({"store_id": s.fixture.ht01, "name": "赵小磊", "phone": "13500005555",
                "other_phones": [{"phone": "13500003333", "label": "旧号"}]}),
    );
    r.problem(409, "duplicate_suspected");
    assert_eq!(r.invalid_fields(), ["other_phones[0].phone"]);
    // The structured check lists the match too.
    let d = cs.post(
        "/api/v1/customers/duplicates",
        &json!({"phones": ["13500003333"], "vins": [VIN_D]}),
    );
    assert_eq!(d.status, 200, "{}", d.body);
    let kinds: Vec<(&str, &str)> = d.json["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["customer_id"].as_str().unwrap(),
                m["matched_on"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(kinds.contains(&(old_id.as_str(), "phone")), "{kinds:?}");
    assert!(kinds.contains(&(old_id.as_str(), "vin")), "{kinds:?}");

    // A person looked and creates it anyway.
    let new = customer(
        &cs,
        &s.fixture.ht01,
        "赵磊",
        "13500004444",
        json!({"id_number": ID_NUMBER, "allow_duplicate": true}),
    );
    let new_id = new["id"].as_str().unwrap().to_string();

    // Merging takes a manager.
    cs.post(
        &format!("/api/v1/customers/{new_id}/merge"),
        &json!({"merged_id": old_id}),
    )
    .problem(403, "forbidden");
    let m = s.login("ht01.manager");
    let r = m.post(
        &format!("/api/v1/customers/{new_id}/merge"),
        &json!({"merged_id": old_id}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["moved"]["crm.vehicles"], 1);
    assert_eq!(r.json["moved"]["crm.follow_up_tasks"], 1);
    let v = m.get(&format!("/api/v1/customers/{new_id}/360"));
    assert_eq!(v.json["vehicles"][0]["vin"], VIN_D);
    assert_eq!(v.json["open_tasks"].as_array().unwrap().len(), 1);
    let phones: Vec<&str> = v.json["profile"]["phones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phone"].as_str().unwrap())
        .collect();
    assert_eq!(phones, ["13500003333"], "the old number is kept");
    let gone = m.get(&format!("/api/v1/customers/{old_id}"));
    assert_eq!(gone.json["status"], "merged");
    assert_eq!(gone.json["merged_into_id"], new_id.as_str());
    // Twice is a conflict; into itself a field error.
    m.post(
        &format!("/api/v1/customers/{new_id}/merge"),
        &json!({"merged_id": old_id}),
    )
    .problem(409, "conflict");
    m.post(
        &format!("/api/v1/customers/{new_id}/merge"),
        &json!({"merged_id": new_id}),
    )
    .problem(422, "validation_failed");
    // The audit log has the merge.
    let a = s.login("admin").get("/api/v1/audit-log?limit=200");
    assert!(a.body.contains("customer.merge"), "{}", a.body);
}

/// The member club moves with a merge: only the merged-away customer a member → the member
/// (and its card) moves; both members → 409 and nothing moves.
fn merge_moves_the_membership_or_refuses_two(s: &TestServer) {
    let m = s.login("ht01.manager");
    let join = |customer: &str| {
        let r = m.post(
            "/api/v1/members",
            &json!({"customer_id": customer, "store_id": s.fixture.ht01, "channel": "bring_own_car"}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let member = r.json["id"].as_str().unwrap().to_string();
        let card = m.post("/api/v1/cards", &json!({"member_id": member}));
        assert_eq!(card.status, 201, "{}", card.body);
        member
    };
    let a = customer(&m, &s.fixture.ht01, "郑强", "13100001111", json!({}));
    let b = customer(&m, &s.fixture.ht01, "郑强", "13100002222", json!({}));
    let c = customer(&m, &s.fixture.ht01, "郑强", "13100003333", json!({}));
    let (a, b, c) = (
        a["id"].as_str().unwrap(),
        b["id"].as_str().unwrap(),
        c["id"].as_str().unwrap(),
    );
    let member_b = join(b);
    // a is no member, b is: b's membership moves to a.
    let r = m.post(
        &format!("/api/v1/customers/{a}/merge"),
        &json!({"merged_id": b}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["moved"]["membership.members"], 1);
    let v = m.get(&format!("/api/v1/customers/{a}/360"));
    assert_eq!(
        v.json["sections"]["membership"]["member_id"],
        member_b.as_str()
    );
    assert_eq!(
        v.json["sections"]["membership"]["cards"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // c joins too: merging two members is refused, and nothing moved.
    join(c);
    let r = m.post(
        &format!("/api/v1/customers/{a}/merge"),
        &json!({"merged_id": c}),
    );
    r.problem(409, "conflict");
    assert_eq!(r.invalid_fields(), ["merged_id"]);
    assert_eq!(
        m.get(&format!("/api/v1/customers/{c}")).json["status"],
        "active"
    );
    assert!(
        m.get(&format!("/api/v1/customers/{c}/360")).json["sections"]["membership"].is_object()
    );
}

/// Import: good rows are created, a duplicate within the list and a bad phone are reported,
/// nothing stops the others.
fn import_reports_duplicates_and_bad_rows(s: &TestServer) {
    let cs = s.login("ht01.cs");
    let row =
        |name: &str, phone: &str| json!({"store_id": s.fixture.ht01, "name": name, "phone": phone});
    let r = cs.post(
        "/api/v1/customers/import",
        &json!({"rows": [
            row("何先生", "13200001111"),
            row("何先生", "13200001111"),
            row("吕女士", "1320000"),
            row("施先生", "13200002222"),
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["created"].as_array().unwrap().len(), 2, "{}", r.body);
    assert_eq!(r.json["duplicates"][0]["row"], 1);
    assert_eq!(r.json["rejected"][0]["row"], 2);
    assert_eq!(r.json["rejected"][0]["field"], "phone");
    let bad = cs.post(
        "/api/v1/customers/import",
        &json!({"rows": [row("x", "13200003333"), {"store_id": "nope", "name": "y", "phone": "13200004444"}]}),
    );
    assert_eq!(bad.invalid_fields(), ["rows[1].store_id"], "{}", bad.body);
}

/// Leads: a consultant sees their own, the manager the store's; overdue follow-ups are the
/// manager's list.
fn leads_visibility_and_overdue(s: &TestServer) {
    let sales = s.login("ht01.sales");
    let mgr = s.login("ht01.manager");
    let sales_id = staff_id(&sales);
    let lead = |c: &Client, name: &str, phone: &str, grade: &str| {
        let r = c.post(
            "/api/v1/leads",
            &json!({"store_id": s.fixture.ht01, "name": name, "phone": phone,
                    "source_channel": "walk_in", "interest_brand": "丰田",
                    "interest_model": "RAV4荣放", "grade": grade}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.json
    };
    let own = lead(&sales, "孙先生", "13300001111", "H");
    assert_eq!(own["assigned_to"], sales_id.as_str());
    let pool = lead(&mgr, "周女士", "13300002222", "A");
    assert!(pool["assigned_to"].is_null());
    let pool_id = pool["id"].as_str().unwrap();

    assert_eq!(ids(&sales.get("/api/v1/leads").json).len(), 1);
    assert_eq!(ids(&mgr.get("/api/v1/leads").json).len(), 2);
    sales
        .get(&format!("/api/v1/leads/{pool_id}"))
        .problem(404, "not_found");
    // Only a manager assigns.
    sales
        .post(
            &format!("/api/v1/leads/{pool_id}/assign"),
            &json!({"staff_id": sales_id}),
        )
        .problem(403, "forbidden");
    let r = mgr.post(
        &format!("/api/v1/leads/{pool_id}/assign"),
        &json!({"staff_id": sales_id}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&sales.get("/api/v1/leads").json).len(), 2);
    assert_eq!(ids(&sales.get("/api/v1/leads?grade=A").json), [pool_id]);

    // A contact upgrades the grade; lost needs a reason.
    let r = sales.post(
        &format!("/api/v1/leads/{pool_id}/contacts"),
        &json!({"channel": "phone", "note": "约周六试驾", "new_grade": "H"}),
    );
    assert_eq!(r.json["grade"], "H", "{}", r.body);
    let g = sales.get(&format!("/api/v1/leads/{pool_id}/grades"));
    let grades: Vec<&str> = g
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["to_grade"].as_str().unwrap())
        .collect();
    assert_eq!(grades, ["A", "H"], "{}", g.body);
    assert_eq!(
        sales
            .get(&format!("/api/v1/leads/{pool_id}/contacts"))
            .json
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = sales.post(
        &format!("/api/v1/leads/{pool_id}/lost"),
        &json!({"reason": ""}),
    );
    r.problem(422, "validation_failed");
    assert_eq!(r.invalid_fields(), ["reason"]);

    // Overdue: push the first lead's follow-up day into the past.
    {
        use diesel::RunQueryDsl;
        let mut conn = s.db.pool.get().unwrap();
        diesel::sql_query(format!(
            "UPDATE leads SET next_follow_up_on = '2026-01-05' WHERE id = '{}'",
            own["id"].as_str().unwrap()
        ))
        .execute(&mut conn)
        .unwrap();
    }
    let od = mgr.get("/api/v1/leads?overdue=true");
    assert_eq!(ids(&od.json), [own["id"].as_str().unwrap()], "{}", od.body);
    // Customer service works no leads.
    s.login("ht01.cs")
        .get("/api/v1/leads")
        .problem(403, "forbidden");
}

/// A complaint from intake to the customer's confirmation, escalated when overdue.
fn complaint_lifecycle_with_escalation(s: &TestServer) {
    let cs = s.login("ht01.cs");
    let cs_id = staff_id(&cs);
    let r = cs.post(
        "/api/v1/complaints",
        &json!({"store_id": s.fixture.ht01, "customer_id": s.fixture.customer_ht01,
                "channel": "phone", "category": "repair_quality", "severity": "critical",
                "description": "保养后发动机异响", "work_order_ref": "WO-2026-0001"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(r.json["status"], "open");
    assert_eq!(r.json["escalation_level"], 0);

    // Critical: 4 hours. Five hours on the job escalates it; again at once does nothing more.
    let mut conn = s.db.pool.get().unwrap();
    let later = chrono::Utc::now() + chrono::Duration::hours(5);
    let up = dms_server::crm::run_escalation_job(&mut conn, &s.config.crm, later).unwrap();
    assert_eq!(up, std::slice::from_ref(&id));
    drop(conn);
    let x = cs.get(&format!("/api/v1/complaints/{id}"));
    assert_eq!(x.json["escalation_level"], 1, "{}", x.body);

    // Who it can go to: this store's customer-service people (and others with crm.care
    // there), never another store's.
    let people = cs.get(&format!(
        "/api/v1/complaints/assignees?store_id={}",
        s.fixture.ht01
    ));
    assert_eq!(people.status, 200, "{}", people.body);
    let names: Vec<&str> = people.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["display_name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"测试ht01.cs"), "{names:?}");
    assert!(!names.contains(&"测试ht02.cs"), "{names:?}");
    assert!(!names.contains(&"测试ht01.tech"), "{names:?}");
    s.login("ht02.cs")
        .get(&format!(
            "/api/v1/complaints/assignees?store_id={}",
            s.fixture.ht01
        ))
        .problem(404, "not_found");
    s.login("ht01.tech")
        .get(&format!(
            "/api/v1/complaints/assignees?store_id={}",
            s.fixture.ht01
        ))
        .problem(403, "forbidden");

    let r = cs.post(
        &format!("/api/v1/complaints/{id}/assign"),
        &json!({"staff_id": cs_id}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Confirming before it is resolved is a conflict.
    cs.post(
        &format!("/api/v1/complaints/{id}/confirm"),
        &json!({"satisfied": true}),
    )
    .problem(409, "conflict");
    let r = cs.post(
        &format!("/api/v1/complaints/{id}/resolve"),
        &json!({"resolution": "更换发动机支架，免费"}),
    );
    assert_eq!(r.json["status"], "resolved", "{}", r.body);
    let r = cs.post(
        &format!("/api/v1/complaints/{id}/confirm"),
        &json!({"satisfied": true}),
    );
    assert_eq!(r.json["status"], "closed", "{}", r.body);
    assert_eq!(r.json["customer_satisfied"], true);

    let list = cs.get("/api/v1/complaints?status=closed");
    assert_eq!(ids(&list.json), [id.as_str()]);
    let today = chrono::Utc::now().date_naive();
    let st = cs.get(&format!(
        "/api/v1/complaints/statistics?from={}&to={}",
        today - chrono::Duration::days(1),
        today + chrono::Duration::days(2)
    ));
    assert_eq!(st.status, 200, "{}", st.body);
    assert_eq!(st.json["by_category"]["repair_quality"], 1);
    assert_eq!(st.json["resolved"], 1);
    assert_eq!(st.json["escalated"], 1);
    // Another store's staff does not see it.
    s.login("ht02.cs")
        .get(&format!("/api/v1/complaints/{id}"))
        .problem(404, "not_found");
}

/// Surveys: answers become CSAT and NPS per store and advisor.
fn survey_answers_give_satisfaction_figures(s: &TestServer) {
    let admin = s.login("admin");
    let r = admin.post(
        "/api/v1/questionnaires",
        &json!({"code": "SVC", "title": "售后服务满意度", "occasion": "service", "questions": [
            {"code": "csat", "text": "您对本次服务满意吗？", "kind": "csat", "required": true},
            {"code": "nps", "text": "您向朋友推荐本店的可能性？", "kind": "nps", "required": true},
            {"code": "say", "text": "其他意见", "kind": "text"}
        ]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // Store staff cannot define group-wide questionnaires.
    let cs = s.login("ht01.cs");
    assert_eq!(
        cs.post("/api/v1/questionnaires", &r.json).status,
        422,
        "unknown fields (id, active) are refused before the permission matters"
    );
    let advisor = staff_id(&s.login("ht01.advisor"));
    let c2 = customer(&cs, &s.fixture.ht01, "吴敏", "13800005555", json!({}));
    let survey = |customer: &str, csat: i32, nps: i32| {
        let r = cs.post(
            "/api/v1/surveys",
            &json!({"store_id": s.fixture.ht01, "questionnaire_code": "SVC",
                    "customer_id": customer, "advisor_id": advisor, "subject_ref": "WO-1"}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.json["id"].as_str().unwrap().to_string();
        let a = cs.post(
            &format!("/api/v1/surveys/{id}/answers"),
            &json!({"answers": [{"question_code": "csat", "score": csat},
                                {"question_code": "nps", "score": nps},
                                {"question_code": "say", "text": "服务很好"}]}),
        );
        assert_eq!(a.status, 200, "{}", a.body);
        id
    };
    let first = survey(&s.fixture.customer_ht01, 5, 9);
    survey(c2["id"].as_str().unwrap(), 3, 6);
    // Once only; scores within range.
    cs.post(
        &format!("/api/v1/surveys/{first}/answers"),
        &json!({"answers": [{"question_code": "csat", "score": 4}, {"question_code": "nps", "score": 8}]}),
    )
    .problem(409, "conflict");
    let r = cs.post(
        "/api/v1/surveys",
        &json!({"store_id": s.fixture.ht01, "questionnaire_code": "SVC", "customer_id": s.fixture.customer_ht01}),
    );
    let third = r.json["id"].as_str().unwrap();
    let bad = cs.post(
        &format!("/api/v1/surveys/{third}/answers"),
        &json!({"answers": [{"question_code": "csat", "score": 6}, {"question_code": "nps", "score": 8}]}),
    );
    bad.problem(422, "validation_failed");
    assert_eq!(bad.invalid_fields(), ["answers"]);

    let today = chrono::Utc::now().date_naive();
    let period = format!(
        "from={}&to={}",
        today - chrono::Duration::days(1),
        today + chrono::Duration::days(2)
    );
    let m = s.login("ht01.manager");
    for by in ["store", "advisor"] {
        let r = m.get(&format!("/api/v1/satisfaction?{period}&by={by}"));
        assert_eq!(r.status, 200, "{}", r.body);
        let rows = r.json["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{}", r.body);
        assert_eq!(rows[0]["responses"], 2);
        // CSAT: one of two answered 4-5; mean 4.0. NPS: one promoter, one detractor → 0.
        assert_eq!(rows[0]["csat_percent"].as_f64().unwrap(), 50.0);
        assert_eq!(rows[0]["csat_mean"].as_f64().unwrap(), 4.0);
        assert_eq!(rows[0]["nps"].as_f64().unwrap(), 0.0);
    }
    let r = m.get(&format!("/api/v1/satisfaction?{period}&by=weather"));
    assert_eq!(r.invalid_fields(), ["by"]);
    // The 360 shows the answered survey.
    let v = m.get(&format!(
        "/api/v1/customers/{}/360",
        s.fixture.customer_ht01
    ));
    assert_eq!(v.json["satisfaction"][0]["csat"], 5);
}

/// Messages: a service message is queued, a marketing one without consent is suppressed, a
/// dedupe key queues once.
fn messages_respect_consent_and_dedupe(s: &TestServer) {
    let cs = s.login("ht01.cs");
    let t = cs.get("/api/v1/messages/templates");
    assert_eq!(t.status, 200, "{}", t.body);
    assert!(t.body.contains("birthday"), "{}", t.body);
    let send = |template: &str, purpose: &str, key: Option<&str>| {
        cs.post(
            "/api/v1/messages",
            &json!({"store_id": s.fixture.ht01, "customer_id": s.fixture.customer_ht01,
                    "template_code": template, "purpose": purpose, "dedupe_key": key,
                    "vars": {"name": "王建国", "store": "测试一店", "offer": "保养八折"}}),
        )
    };
    let r = send("birthday", "service", Some("birthday:2026"));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json["status"], "pending");
    assert!(r.json["body"].as_str().unwrap().contains("王建国"));
    let id = r.json["id"].as_str().unwrap().to_string();
    let again = send("birthday", "service", Some("birthday:2026"));
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json["id"], id.as_str());
    let r = send("promotion", "marketing", None);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json["status"], "suppressed");
    assert_eq!(r.json["last_error"], "no_consent");
    assert_eq!(
        cs.get(&format!("/api/v1/messages/{id}")).json["status"],
        "pending"
    );
    s.login("ht02.cs")
        .get(&format!("/api/v1/messages/{id}"))
        .problem(404, "not_found");
    let r = send("no_such_template", "service", None);
    assert_eq!(r.invalid_fields(), ["template_code"]);
}

/// The owners' app: a customer token reads its own 360 and answers its own survey; anyone
/// else's reads as 404.
fn owner_token_reads_own_360_and_answers_own_survey(s: &TestServer) {
    let admin = s.login("admin");
    let r = admin.post(
        "/api/v1/questionnaires",
        &json!({"code": "DLV", "title": "交车满意度", "occasion": "delivery", "questions": [
            {"code": "csat", "text": "您对交车过程满意吗？", "kind": "csat", "required": true}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let mut surveys = vec![];
    for (store, customer) in [
        (&s.fixture.ht01, &s.fixture.customer_ht01),
        (&s.fixture.ht02, &s.fixture.customer_ht02),
    ] {
        let r = admin.post(
            "/api/v1/surveys",
            &json!({"store_id": store, "questionnaire_code": "DLV", "customer_id": customer}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        surveys.push(r.json["id"].as_str().unwrap().to_string());
    }
    let phone = "13801012345";
    let me = s.owner_login(phone);
    let own = me.get(&format!(
        "/api/v1/customers/{}/360",
        s.fixture.customer_ht01
    ));
    assert_eq!(own.status, 200, "{}", own.body);
    me.get(&format!(
        "/api/v1/customers/{}/360",
        s.fixture.customer_ht02
    ))
    .problem(404, "not_found");
    let answer = json!({"answers": [{"question_code": "csat", "score": 5}]});
    me.post(&format!("/api/v1/surveys/{}/answers", surveys[1]), &answer)
        .problem(404, "not_found");
    let r = me.post(&format!("/api/v1/surveys/{}/answers", surveys[0]), &answer);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["csat"], 5);
    // Staff-only endpoints stay closed to the owner.
    me.get("/api/v1/tasks").problem(403, "forbidden");
}

/// Segments: a saved filter selects customers and makes one task each, once.
fn segment_selects_and_makes_tasks_once(s: &TestServer) {
    let cs = s.login("ht01.cs");
    let r = cs.put(
        &format!("/api/v1/customers/{}/tags", s.fixture.customer_ht01),
        &json!({"tags": ["VIP"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let seg = cs.post(
        "/api/v1/segments",
        &json!({"store_id": s.fixture.ht01, "name": "VIP 客户", "filter": {"tags": ["VIP"]}}),
    );
    assert_eq!(seg.status, 201, "{}", seg.body);
    let id = seg.json["id"].as_str().unwrap();
    let m = cs.get(&format!("/api/v1/segments/{id}/customers"));
    assert_eq!(
        m.json["customer_ids"],
        json!([s.fixture.customer_ht01]),
        "{}",
        m.body
    );
    let body = json!({"store_id": s.fixture.ht01, "title": "VIP 年终回访", "due_on": "2026-12-20"});
    let t = cs.post(&format!("/api/v1/segments/{id}/tasks"), &body);
    assert_eq!(t.json["created"], 1, "{}", t.body);
    let t = cs.post(&format!("/api/v1/segments/{id}/tasks"), &body);
    assert_eq!(t.json["created"], 0, "{}", t.body);

    // A campaign to the segment: marketing without consent is recorded, not sent; with the
    // customer's consent it is queued, and running the campaign again queues nothing twice.
    let campaign = |name: &str| {
        cs.post(
            &format!("/api/v1/segments/{id}/messages"),
            &json!({"store_id": s.fixture.ht01, "campaign": name, "template_code": "promotion",
                    "purpose": "marketing", "vars": {"store": "红旗4S", "offer": "冬季保养八折"}}),
        )
    };
    let r = campaign("冬季保养-A");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (&r.json["queued"], &r.json["suppressed"]),
        (&json!(0), &json!(1)),
        "{}",
        r.body
    );
    let r = cs.post(
        &format!("/api/v1/customers/{}/consents", s.fixture.customer_ht01),
        &json!({"channel": "sms", "granted": true, "on": "2026-01-10", "source": "展厅登记表"}),
    );
    assert!(r.status < 300, "{}", r.body);
    let r = campaign("冬季保养-B");
    assert_eq!(r.json["queued"], 1, "{}", r.body);
    let r = campaign("冬季保养-B");
    assert_eq!(
        (&r.json["queued"], &r.json["already_queued"]),
        (&json!(0), &json!(1)),
        "{}",
        r.body
    );
    let listed = cs.get(&format!(
        "/api/v1/messages?customer_id={}&status=pending",
        s.fixture.customer_ht01
    ));
    assert!(
        listed.body.contains("冬季保养八折"),
        "the queued message is in the outbox: {}",
        listed.body
    );
    cs.post(
        &format!("/api/v1/segments/{id}/messages"),
        &json!({"store_id": s.fixture.ht01, "campaign": "x", "template_code": "no_such",
                "purpose": "marketing"}),
    )
    .problem(422, "validation_failed");
    s.login("ht02.cs")
        .get(&format!("/api/v1/segments/{id}"))
        .problem(404, "not_found");
}

/// Other stores' customers read as 404; roles without the permission get 403.
fn store_scoping_and_permissions(s: &TestServer) {
    let cs2 = s.login("ht02.cs");
    for path in ["", "/360", "/vehicles"] {
        cs2.get(&format!(
            "/api/v1/customers/{}{path}",
            s.fixture.customer_ht01
        ))
        .problem(404, "not_found");
    }
    cs2.patch(
        &format!("/api/v1/customers/{}", s.fixture.customer_ht01),
        &json!({"notes": "x"}),
    )
    .problem(404, "not_found");
    let r = cs2.get("/api/v1/customers/search?q=王");
    assert!(r.json["items"].as_array().unwrap().is_empty(), "{}", r.body);

    let tech = s.login("ht01.tech");
    for path in [
        format!("/api/v1/customers/{}/360", s.fixture.customer_ht01),
        "/api/v1/customers/search?q=王".to_string(),
        "/api/v1/tasks".to_string(),
        "/api/v1/complaints".to_string(),
        "/api/v1/leads".to_string(),
    ] {
        tech.get(&path).problem(403, "forbidden");
    }
    // The cashier reads customers but changes none.
    let cashier = s.login("ht01.cashier");
    assert_eq!(
        cashier
            .get(&format!(
                "/api/v1/customers/{}/360",
                s.fixture.customer_ht01
            ))
            .status,
        200
    );
    cashier
        .patch(
            &format!("/api/v1/customers/{}", s.fixture.customer_ht01),
            &json!({"notes": "x"}),
        )
        .problem(403, "forbidden");
    // The same store's customer service may change the record.
    let cs = s.login("ht01.cs");
    let r = cs.patch(
        &format!("/api/v1/customers/{}", s.fixture.customer_ht01),
        &json!({"notes": "喜欢周末保养", "birthday": "1980-03-15"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json["birthday"], "1980-03-15");
    let r = cs.put(
        &format!("/api/v1/customers/{}/tags", s.fixture.customer_ht01),
        &json!({"tags": ["老客户", "VIP"]}),
    );
    assert_eq!(r.json["tags"].as_array().unwrap().len(), 2, "{}", r.body);
    let r = cs.post(
        &format!("/api/v1/customers/{}/consents", s.fixture.customer_ht01),
        &json!({"channel": "sms", "granted": true, "on": "2026-01-10", "source": "展厅登记表"}),
    );
    assert_eq!(r.json["consents"][0]["granted"], true, "{}", r.body);
}

/// Bad input: a clear 422 naming the field.
fn bad_input_names_the_field(s: &TestServer) {
    let cs = s.login("ht01.cs");
    let v = |vin: &str| {
        cs.post(
            "/api/v1/vehicles",
            &json!({"store_id": s.fixture.ht01, "vin": vin}),
        )
    };
    for vin in [
        "LVGBE40KIPG123456", // I
        "LVGBE40K7PG12345O", // O
        "LVGBE40K7PQ123456", // Q
        "LVGBE40K0PG123456", // wrong check digit
        "LVGBE40K7PG12345",  // 16 characters
    ] {
        let r = v(vin);
        r.problem(422, "validation_failed");
        assert_eq!(r.invalid_fields(), ["vin"], "{vin}: {}", r.body);
    }
    // A grey import with a bad check digit goes in only when said so, and is marked.
    let r = cs.post(
        "/api/v1/vehicles",
        &json!({"store_id": s.fixture.ht01, "vin": "LVGBE40K0PG123456", "allow_bad_check_digit": true}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json["vin_check_ok"], false);
    // Dates in the wrong order.
    let r = cs.post(
        "/api/v1/vehicles",
        &json!({"store_id": s.fixture.ht01, "vin": VIN_A,
                "purchase_date": "2026-05-01", "delivery_date": "2026-04-01"}),
    );
    r.problem(422, "validation_failed");
    assert_eq!(r.invalid_fields().len(), 1, "{}", r.body);

    let c = |extra: Value| {
        let mut b = json!({"store_id": s.fixture.ht01, "name": "测试", "phone": "13912340000"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        cs.post("/api/v1/customers", &b)
    };
    for (extra, field) in [
        (json!({"id_number": "110105194912310021"}), "id_number"), // check digit
        (json!({"id_number": "11010519491331002X"}), "id_number"), // 13th month
        (json!({"phone": "12345"}), "phone"),
        (json!({"phone": "23912345678"}), "phone"),
        (json!({"kind": "alien"}), "kind"),
        (json!({"vip": true}), "vip"),
    ] {
        let r = c(extra.clone());
        r.problem(422, "validation_failed");
        assert_eq!(r.invalid_fields(), [field], "{extra}: {}", r.body);
        assert!(
            !r.body.contains("110105194912310021"),
            "no ID number echoed"
        );
    }
    let r = cs.post(
        &format!("/api/v1/customers/{}/phones", s.fixture.customer_ht01),
        &json!({"phone": "99"}),
    );
    r.problem(422, "validation_failed");
    assert_eq!(r.invalid_fields(), ["phone"]);
    let r = cs.get("/api/v1/satisfaction?from=2026-02-01&to=2026-01-01");
    assert_eq!(r.invalid_fields(), ["to"]);
}

http_tests!(
    advisor_walk_in_search_by_plate_then_360,
    customer_service_day,
    care_job_twice_creates_nothing_twice,
    duplicate_on_create_then_merge_moves_everything,
    merge_moves_the_membership_or_refuses_two,
    import_reports_duplicates_and_bad_rows,
    leads_visibility_and_overdue,
    complaint_lifecycle_with_escalation,
    survey_answers_give_satisfaction_figures,
    store_scoping_and_permissions,
    messages_respect_consent_and_dedupe,
    segment_selects_and_makes_tasks_once,
    owner_token_reads_own_360_and_answers_own_survey,
    bad_input_names_the_field,
);
