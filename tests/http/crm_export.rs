//! The CRM statistics export (`GET /api/v1/crm/statistics/export`): what a manager downloads.

use chrono::NaiveDate;
use dms_tests::{http_tests, Client, TestServer};
use serde_json::json;
use std::io::Read;

fn bytes_of(c: &Client, path: &str) -> (u16, String, String, Vec<u8>) {
    let resp = match c.request("GET", path).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = resp.status();
    let ct = resp.header("Content-Type").unwrap_or_default().to_string();
    let cd = resp
        .header("Content-Disposition")
        .unwrap_or_default()
        .to_string();
    let mut buf = Vec::new();
    resp.into_reader().read_to_end(&mut buf).unwrap();
    (status, ct, cd, buf)
}

/// Customer service refuses a follow-up ("serviced elsewhere"); the store manager downloads
/// the month's figures as CSV and as Excel, named after the month.
fn manager_downloads_the_months_figures(s: &TestServer) {
    let cs = s.login("ht01.cs");
    let r = cs.post(
        "/api/v1/customers",
        &json!({"store_id": s.fixture.ht01, "name": "赵磊", "phone": "13622223333"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let cid = r.json["id"].as_str().unwrap().to_string();
    let r = cs.post(
        "/api/v1/vehicles",
        &json!({
            "store_id": s.fixture.ht01, "customer_id": cid, "vin": "LVGBE40K7PG123456",
            "plate": "京C·12345", "brand": "丰田", "model": "卡罗拉",
            "purchase_date": "2026-06-01", "delivery_date": "2026-06-01",
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    {
        let mut conn = s.db.pool.get().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        dms_server::crm::run_care_job(&mut conn, &s.config.crm, day).unwrap();
    }
    let tasks = cs.get("/api/v1/tasks?due_on_or_before=2026-06-02");
    let tid = tasks.json["items"][0]["id"].as_str().unwrap().to_string();
    let r = cs.post(
        &format!("/api/v1/tasks/{tid}/outcome"),
        &json!({"outcome": "refused", "reason": "serviced_elsewhere"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let m = s.login("ht01.manager");
    let path = "/api/v1/crm/statistics/export?from=2026-06-01&to=2026-07-01&format=csv";
    let r = m.get(path);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type, "text/csv");
    let cd = r.header("content-disposition").unwrap();
    assert!(
        cd.contains("filename=\"crm-statistics_2026-06-01_2026-06-30.csv\""),
        "{cd}"
    );
    assert!(r.body.starts_with('\u{feff}'), "UTF-8 BOM for Excel");
    for needle in [
        "【回访统计】",
        "回访规则,应回访数,已联系,联系率(%),预约数,预约率(%),拒绝数",
        "交车24小时感谢回访,1,1,100.0,0,0.0,1",
        "【未回厂原因】",
        "交车24小时感谢回访,已在别处保养,1",
        "【线索转化(按级别)】",
        "【满意度】",
        "结束日期,2026-06-30",
    ] {
        assert!(r.body.contains(needle), "missing {needle} in\n{}", r.body);
    }

    let (status, ct, cd, bytes) = bytes_of(
        &m,
        &format!(
            "/api/v1/crm/statistics/export?from=2026-06-01&to=2026-07-01&store_id={}",
            s.fixture.ht01
        ),
    );
    assert_eq!(status, 200);
    assert_eq!(
        ct,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(
        cd.contains("crm-statistics_2026-06-01_2026-06-30.xlsx"),
        "{cd}"
    );
    assert_eq!(&bytes[..2], b"PK", "an xlsx is a zip");
    assert!(bytes.len() > 2000);
}

/// Same permission as `/crm/statistics`; another store's figures are not there to ask for;
/// bad parameters name the field.
fn export_permission_and_bad_input(s: &TestServer) {
    let cs = s.login("ht01.cs");
    cs.get("/api/v1/crm/statistics/export?from=2026-06-01&to=2026-07-01")
        .problem(403, "forbidden");
    s.client()
        .get("/api/v1/crm/statistics/export?from=2026-06-01&to=2026-07-01")
        .problem(401, "unauthorized");
    let m = s.login("ht01.manager");
    m.get(&format!(
        "/api/v1/crm/statistics/export?from=2026-06-01&to=2026-07-01&store_id={}",
        s.fixture.ht02
    ))
    .problem(404, "not_found");
    let r = m.get("/api/v1/crm/statistics/export?from=2026-06-01&to=2026-07-01&format=pdf");
    r.problem(422, "validation_failed");
    assert_eq!(r.invalid_fields(), ["format"]);
    let r = m.get("/api/v1/crm/statistics/export?from=2026-07-01&to=2026-06-01");
    r.problem(422, "validation_failed");
    assert_eq!(r.invalid_fields(), ["to"]);
    let r = m.get("/api/v1/crm/statistics/export?from=2026-06-01");
    r.problem(422, "validation_failed");
    // The group admin may ask for either store.
    let a = s.login("admin");
    let r = a.get(&format!(
        "/api/v1/crm/statistics/export?from=2026-06-01&to=2026-07-01&format=csv&store_id={}",
        s.fixture.ht02
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("门店,测试二店"), "{}", r.body);
}

http_tests!(
    manager_downloads_the_months_figures,
    export_permission_and_bad_input
);
