//! Member and card import (CSV and XLSX, as a job with progress) and the member and ledger
//! exports, over HTTP: what a store's staff moving from a legacy system would check (balances,
//! points, nothing half-imported, who may do it), plus the small API additions the web app uses.

use dms_tests::{http_tests, Client, Reply, TestServer};
use serde_json::{json, Value};
use std::io::Read;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn key() -> String {
    dms_core::new_id()
}

fn upload(c: &Client, store: &str, content_type: &str, key: &str, body: &[u8]) -> Reply {
    let req = c
        .request("POST", &format!("/api/v1/members/import?store_id={store}"))
        .set("Content-Type", content_type)
        .set("Idempotency-Key", key);
    c.send(req, Some(body))
}

fn job(c: &Client, id: &str) -> Value {
    let r = c.get(&format!("/api/v1/members/import/{id}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json
}

/// Polls until the job is done or failed; returns the final job and every count seen.
fn wait(c: &Client, id: &str) -> (Value, Vec<i64>) {
    let mut seen = vec![];
    for _ in 0..2400 {
        let j = job(c, id);
        seen.push(j["rows_processed"].as_i64().unwrap());
        if j["status"] == "done" || j["status"] == "failed" {
            return (j, seen);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("import job {id} did not finish");
}

fn fen(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not money: {v}"));
    let d: f64 = s.parse().unwrap();
    (d * 100.0).round() as i64
}

fn card_by_number(c: &Client, no: &str) -> Value {
    let r = c.get(&format!("/api/v1/cards/lookup?number={no}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json
}

fn member(c: &Client, id: &str) -> Value {
    let r = c.get(&format!("/api/v1/members/{id}"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json
}

/// Every member of the caller's stores, through the pages.
fn member_count(c: &Client) -> usize {
    let mut n = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cur) => format!("/api/v1/members?limit=200&cursor={cur}"),
            None => "/api/v1/members?limit=200".to_string(),
        };
        let r = c.get(&path);
        assert_eq!(r.status, 200, "{}", r.body);
        n += r.json["items"].as_array().unwrap().len();
        match r.json["next_cursor"].as_str() {
            Some(x) => cursor = Some(x.to_string()),
            None => return n,
        }
    }
}

fn download(c: &Client, path: &str) -> (u16, String, String, Vec<u8>) {
    let resp = match c.request("GET", path).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let status = resp.status();
    let ct = resp.content_type().to_string();
    let cd = resp.header("Content-Disposition").unwrap_or("").to_string();
    let mut body = vec![];
    resp.into_reader().read_to_end(&mut body).unwrap();
    (status, ct, cd, body)
}

/// CSV rows (after the header) as cells, BOM removed.
fn csv_rows(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines();
    let split = |l: &str| l.split(',').map(str::to_string).collect::<Vec<_>>();
    let header = split(lines.next().unwrap());
    (header, lines.map(split).collect())
}

const HEADER: &str = "姓名,手机号,卡号,芯片号,等级,储值余额,赠送余额,积分,消费积分,到期日,备注";

fn import_csv_links_customers_and_opens_balances(s: &TestServer) {
    let admin = s.login("admin");
    let manager = s.login("ht01.manager");
    let ht01 = &s.fixture.ht01;
    // Row 2 is the fixture's 王建国 (13801012345): linked, not duplicated.
    let csv = format!(
        "{HEADER}\n\
         王建国,138 0101 2345,8800100000000001,04A1B2C3,金卡,1200.50,100,300,2500,2030-12-31,老会员\n\
         赵敏,13700000001,8800100000000002,,silver,0,0,0,0,,\n\
         钱多多,+86 13700000002,8800100000000003,,,88.80,,50,,2031/1/1,\n"
    );
    let k = key();
    let r = upload(&manager, ht01, "text/csv", &k, csv.as_bytes());
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(r
        .header("Location")
        .unwrap()
        .ends_with(r.json["id"].as_str().unwrap()));
    let j = r.json.clone();
    assert_eq!(
        j["status"], "done",
        "a small file is finished before the answer: {j}"
    );
    assert_eq!(j["rows_total"], 3);
    assert_eq!(j["rows_processed"], 3);
    let sum = &j["summary"];
    assert_eq!(sum["members_created"], 3);
    assert_eq!(sum["customers_linked"], 1);
    assert_eq!(sum["customers_created"], 2);
    assert_eq!(sum["principal_total"], "1289.30");
    assert_eq!(sum["bonus_total"], "100.00");
    assert_eq!(sum["tier_points_total"], 2500);
    assert_eq!(sum["redeemable_points_total"], 350);
    assert_eq!(sum["ignored_columns"], json!(["备注"]));

    // The existing customer is now a member with the card, balances and points of the file.
    let ms = manager.get(&format!(
        "/api/v1/customers/{}/membership",
        s.fixture.customer_ht01
    ));
    assert_eq!(ms.status, 200, "{}", ms.body);
    assert_eq!(ms.json["member"]["tier_code"], "gold");
    assert_eq!(ms.json["member"]["tier_points"], 2500);
    assert_eq!(ms.json["member"]["redeemable_points"], 300);
    let card = &ms.json["cards"][0];
    assert_eq!(card["card_no"], "8800100000000001");
    assert_eq!(card["chip_uid"], "04A1B2C3");
    assert_eq!(card["principal"], "1200.50");
    assert_eq!(card["bonus"], "100.00");
    assert_eq!(card["balance"], "1300.50");
    assert!(card["expires_at"]
        .as_str()
        .unwrap()
        .starts_with("2030-12-31"));
    // The opening balance is one ledger transaction of its own kind.
    let t = manager.get(&format!(
        "/api/v1/cards/{}/transactions",
        card["id"].as_str().unwrap()
    ));
    assert_eq!(t.status, 200, "{}", t.body);
    let items = t.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "migration");
    assert_eq!(items[0]["balance_change"], "1300.50");
    // The imported card works: a top-up lands on it.
    let top = manager
        .request(
            "POST",
            &format!("/api/v1/cards/{}/top-ups", card["id"].as_str().unwrap()),
        )
        .set("Content-Type", "application/json")
        .set("Idempotency-Key", &key());
    let top = manager.send(top, Some(br#"{"amount":"10.00","payment_method":"cash"}"#));
    assert_eq!(top.status, 201, "{}", top.body);
    assert_eq!(top.json["principal_after"], "1210.50");

    let c2 = card_by_number(&manager, "8800100000000002");
    let m2 = member(&manager, c2["member_id"].as_str().unwrap());
    assert_eq!(m2["tier_code"], "silver");
    assert_eq!(c2["balance"], "0.00");
    let c3 = card_by_number(&manager, "8800100000000003");
    let m3 = member(&manager, c3["member_id"].as_str().unwrap());
    assert_eq!(m3["tier_code"], "standard", "no tier: the lowest");
    assert_eq!(c3["principal"], "88.80");
    assert!(m3["term_expires_at"]
        .as_str()
        .unwrap()
        .starts_with("2031-01-01"));
    // The new customers are in the CRM, found by phone.
    let found = manager.get("/api/v1/customers/search?q=13700000002");
    assert_eq!(found.status, 200, "{}", found.body);
    assert!(found.body.contains("钱多多"), "{}", found.body);

    // A retry with the same key and file is the same job; another file is refused.
    let again = upload(&manager, ht01, "text/csv", &k, csv.as_bytes());
    assert_eq!(again.status, 202, "{}", again.body);
    assert_eq!(again.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(again.json["id"], j["id"]);
    let other = upload(
        &manager,
        ht01,
        "text/csv",
        &k,
        format!("{csv}\n").as_bytes(),
    );
    other.problem(422, "idempotency_key_reused");
    // The admin sees the job; the ledger is intact.
    assert_eq!(job(&admin, j["id"].as_str().unwrap())["status"], "done");
    let check = dms_membership::verify_ledgers(&mut s.db.pool.get().unwrap()).unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
}

fn import_xlsx_with_english_headers(s: &TestServer) {
    let admin = s.login("admin");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let headers = [
        "Name",
        "Phone",
        "Card No",
        "Tier",
        "Principal",
        "Bonus",
        "Points",
        "Tier Points",
        "Expires On",
    ];
    for (i, h) in headers.iter().enumerate() {
        ws.write_string(0, i as u16, *h).unwrap();
    }
    // Numbers typed as numbers, as Excel users do: phone and card number too.
    ws.write_string(1, 0, "孙悟空").unwrap();
    ws.write_number(1, 1, 13600000001.0).unwrap();
    ws.write_number(1, 2, 8800200000000001.0).unwrap();
    ws.write_string(1, 3, "钻石卡").unwrap();
    ws.write_number(1, 4, 5000.25).unwrap();
    ws.write_number(1, 5, 0.1).unwrap();
    ws.write_number(1, 6, 1000.0).unwrap();
    ws.write_number(1, 7, 30000.0).unwrap();
    let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2032, 3, 15).unwrap();
    let fmt = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    ws.write_datetime_with_format(1, 8, &date, &fmt).unwrap();
    ws.write_string(2, 0, "猪八戒").unwrap();
    ws.write_string(2, 1, "13600000002").unwrap();
    ws.write_string(2, 2, "8800200000000002").unwrap();
    ws.write_string(2, 3, "gold").unwrap();
    let bytes = wb.save_to_buffer().unwrap();
    let r = upload(&admin, &s.fixture.ht02, XLSX, &key(), &bytes);
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json["status"], "done", "{}", r.body);
    assert_eq!(r.json["file_format"], "xlsx");
    assert_eq!(r.json["summary"]["customers_created"], 2);
    let c = card_by_number(&admin, "8800200000000001");
    assert_eq!(c["store_id"].as_str(), Some(s.fixture.ht02.as_str()));
    assert_eq!(c["principal"], "5000.25");
    assert_eq!(c["bonus"], "0.10");
    assert!(c["expires_at"].as_str().unwrap().starts_with("2032-03-15"));
    let m = member(&admin, c["member_id"].as_str().unwrap());
    assert_eq!(m["tier_code"], "diamond");
    assert_eq!(m["tier_points"], 30000);
    assert_eq!(m["redeemable_points"], 1000);
}

fn bad_rows_are_reported_and_nothing_is_written(s: &TestServer) {
    let admin = s.login("admin");
    let ht01 = &s.fixture.ht01;
    let members_before = member_count(&admin);
    let ledger_before = download(&admin, "/api/v1/ledger/export?format=csv").3;
    let csv = format!(
        "{HEADER}\n\
         好人,13500000001,8800300000000001,,gold,100.00,,,,,\n\
         坏等级,13500000002,8800300000000002,,platinum,0,,,,,\n\
         坏手机,1350000,8800300000000003,,,0,,,,,\n\
         重卡号,13500000004,8800300000000001,,,0,,,,,\n\
         负余额,13500000005,8800300000000005,,,-5.00,,,,,\n\
         多小数,13500000006,8800300000000006,,,1.005,,,,,\n\
         坏积分,13500000007,8800300000000007,,,,,-3,1.5,2020-01-01,\n"
    );
    let r = upload(&admin, ht01, "text/csv", &key(), csv.as_bytes());
    assert_eq!(r.status, 202, "{}", r.body);
    let j = r.json;
    assert_eq!(j["status"], "failed", "{j}");
    let errs = errors_of(&j);
    let expect = |row: i64, field: &str, code: &str| {
        assert!(
            errs.contains(&(row, field.to_string(), code.to_string())),
            "expected row {row} {field} {code} in {errs:?}"
        );
    };
    expect(3, "tier", "unknown_tier");
    expect(4, "phone", "invalid_phone");
    expect(5, "card_no", "duplicate_in_file");
    expect(6, "principal", "negative");
    expect(7, "principal", "too_precise");
    expect(8, "redeemable_points", "negative");
    expect(8, "tier_points", "invalid_number");
    expect(8, "expires_on", "expired");
    assert!(!errs.iter().any(|e| e.0 == 2), "row 2 is fine: {errs:?}");
    assert_eq!(j["error_count"].as_i64().unwrap() as usize, errs.len());
    let unknown = j["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["code"] == "unknown_tier")
        .unwrap();
    assert_eq!(unknown["column"], "等级");
    assert!(unknown["message"].as_str().unwrap().contains("金卡"));
    // Nothing at all was written, not even the good row.
    assert_eq!(member_count(&admin), members_before);
    assert_eq!(
        admin
            .get("/api/v1/cards/lookup?number=8800300000000001")
            .status,
        404
    );
    assert_eq!(
        download(&admin, "/api/v1/ledger/export?format=csv").3,
        ledger_before
    );
    let found = admin.get("/api/v1/customers/search?q=13500000001");
    assert!(!found.body.contains("好人"), "{}", found.body);

    // A card number already in use is a row error too, and so is a member of another store
    // (a member of this store may receive further cards: see `several_cards_per_member`).
    let first = "姓名,手机号,卡号\n甲,13500000011,8800300000000011\n";
    let r = upload(&admin, ht01, "text/csv", &key(), first.as_bytes());
    assert_eq!(r.json["status"], "done", "{}", r.body);
    let second =
        "姓名,手机号,卡号\n甲,13500000011,8800300000000012\n乙,13500000012,8800300000000011\n";
    let r = upload(&admin, ht01, "text/csv", &key(), second.as_bytes());
    assert_eq!(r.json["status"], "failed", "{}", r.body);
    let codes: Vec<&str> = r.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["card_no_taken"]);
    let r = upload(
        &admin,
        &s.fixture.ht02,
        "text/csv",
        &key(),
        "姓名,手机号,卡号\n甲,13500000011,8800300000000013\n".as_bytes(),
    );
    assert_eq!(r.json["status"], "failed", "{}", r.body);
    assert_eq!(
        r.json["errors"][0]["code"], "member_of_other_store",
        "{}",
        r.body
    );
    assert_eq!(r.json["errors"][0]["field"], "phone");

    // Whole-file problems are a 422 at once, before any job.
    let r = upload(
        &admin,
        ht01,
        "text/csv",
        &key(),
        "姓名,备注\n张三,x\n".as_bytes(),
    );
    let p = r.problem(422, "validation_failed");
    assert!(p["errors"].to_string().contains("card_no"), "{p}");
    let r = upload(&admin, ht01, XLSX, &key(), b"not a zip file");
    r.problem(422, "validation_failed");
    let r = upload(&admin, ht01, "application/json", &key(), b"{}");
    r.problem(415, "unsupported_media_type");
    let req = admin
        .request("POST", &format!("/api/v1/members/import?store_id={ht01}"))
        .set("Content-Type", "text/csv");
    admin
        .send(req, Some(first.as_bytes()))
        .problem(422, "validation_failed");
}

fn a_large_file_runs_as_a_job_with_progress(s: &TestServer) {
    let admin = s.login("admin");
    let mut csv = String::from("姓名,手机号,卡号,等级,储值余额,积分\n");
    for i in 0..5000 {
        csv.push_str(&format!(
            "会员{i},1390000{i:04},88009000{i:08},silver,{}.{:02},{}\n",
            i % 500,
            i % 100,
            i
        ));
    }
    let r = upload(&admin, &s.fixture.ht01, "text/csv", &key(), csv.as_bytes());
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json["rows_total"], 5000);
    let id = r.json["id"].as_str().unwrap().to_string();
    let (j, seen) = wait(&admin, &id);
    assert_eq!(j["status"], "done", "{j}");
    assert_eq!(j["rows_processed"], 5000);
    assert_eq!(j["summary"]["members_created"], 5000);
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1] || w[1] == 0),
        "counts only grow within a phase: {seen:?}"
    );
    let expected: i64 = (0..5000i64).map(|i| (i % 500) * 100 + i % 100).sum();
    assert_eq!(fen(&j["summary"]["principal_total"]), expected);
    let c = card_by_number(&admin, "8800900000004999");
    assert_eq!(c["principal"], "499.99");
}

fn permissions_and_store_scope(s: &TestServer) {
    let admin = s.login("admin");
    let manager = s.login("ht01.manager");
    let cashier = s.login("ht01.cashier");
    let csv = "姓名,手机号,卡号\n周芷若,13300000001,8800400000000001\n";
    // A cashier may not import; a store manager not into another store.
    upload(
        &cashier,
        &s.fixture.ht01,
        "text/csv",
        &key(),
        csv.as_bytes(),
    )
    .problem(403, "forbidden");
    upload(
        &manager,
        &s.fixture.ht02,
        "text/csv",
        &key(),
        csv.as_bytes(),
    )
    .problem(404, "not_found");
    let r = upload(&admin, &s.fixture.ht02, "text/csv", &key(), csv.as_bytes());
    assert_eq!(r.json["status"], "done", "{}", r.body);
    let id = r.json["id"].as_str().unwrap();
    manager
        .get(&format!("/api/v1/members/import/{id}"))
        .problem(404, "not_found");
    cashier
        .get(&format!("/api/v1/members/import/{id}"))
        .problem(403, "forbidden");
    assert_eq!(
        s.client()
            .get(&format!("/api/v1/members/import/{id}"))
            .status,
        401
    );
    // Exports: the store manager sees only HT01, the ledger needs reports.read.
    let (st, _, _, body) = download(&manager, "/api/v1/members/export?format=csv");
    assert_eq!(st, 200);
    assert!(!String::from_utf8(body).unwrap().contains("周芷若"));
    let (st, _, _, _) = download(
        &manager,
        &format!("/api/v1/members/export?store_id={}", s.fixture.ht02),
    );
    assert_eq!(st, 404);
    let (st, _, _, _) = download(&cashier, "/api/v1/ledger/export");
    assert_eq!(st, 403);
    let (st, _, _, _) = download(
        &manager,
        "/api/v1/ledger/export?from=2026-02-01&to=2026-01-01",
    );
    assert_eq!(st, 422);
}

/// Exports one store's members as CSV with full numbers (the admin holds membership.config).
fn export_csv(c: &Client, store: &str) -> Vec<Vec<String>> {
    let (st, ct, cd, body) = download(
        c,
        &format!("/api/v1/members/export?store_id={store}&format=csv"),
    );
    assert_eq!(st, 200);
    assert!(ct.starts_with("text/csv"), "{ct}");
    assert!(cd.starts_with("attachment; filename=\"members-"), "{cd}");
    let (header, mut rows) = csv_rows(&body);
    assert_eq!(
        header[..10],
        [
            "姓名",
            "手机号",
            "卡号",
            "芯片号",
            "等级",
            "储值余额",
            "赠送余额",
            "积分",
            "等级积分",
            "到期日"
        ]
    );
    rows.sort_by(|a, b| a[2].cmp(&b[2]));
    rows
}

fn export_then_import_into_a_fresh_database_keeps_balances(s: &TestServer) {
    let admin = s.login("admin");
    let ht01 = &s.fixture.ht01;
    let csv = format!(
        "{HEADER}\n\
         王建国,13801012345,8800500000000001,0A0B0C0D,gold,1000.00,50.00,120,3000,2031-06-30,\n\
         吴用,13200000001,8800500000000002,,silver,20.05,,7,7,,\n"
    );
    let r = upload(&admin, ht01, "text/csv", &key(), csv.as_bytes());
    assert_eq!(r.json["status"], "done", "{}", r.body);
    // Move money after the import: a top-up of 1000.00 adds its 100.00 bonus.
    let card = card_by_number(&admin, "8800500000000002");
    let top = admin
        .request(
            "POST",
            &format!("/api/v1/cards/{}/top-ups", card["id"].as_str().unwrap()),
        )
        .set("Content-Type", "application/json")
        .set("Idempotency-Key", &key());
    let top = admin.send(
        top,
        Some(br#"{"amount":"1000.00","payment_method":"cash"}"#),
    );
    assert_eq!(top.status, 201, "{}", top.body);

    let rows = export_csv(&admin, ht01);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][2], "8800500000000001");
    assert_eq!(rows[0][3], "0A0B0C0D");
    assert_eq!(rows[1][5], "1020.05");
    assert_eq!(rows[1][6], "100.00");
    // Without membership.config the numbers are masked.
    let cashier = s.login("ht01.cashier");
    let (_, _, _, masked) = download(&cashier, "/api/v1/members/export?format=csv");
    let masked = String::from_utf8(masked).unwrap();
    assert!(masked.contains("8800********0001"), "{masked}");
    assert!(masked.contains("138****2345"), "{masked}");
    assert!(!masked.contains("8800500000000001"));
    // XLSX export, imported into a fresh database of the same engine.
    let (st, ct, cd, xlsx) = download(&admin, &format!("/api/v1/members/export?store_id={ht01}"));
    assert_eq!(st, 200);
    assert_eq!(ct, XLSX);
    assert!(cd.ends_with(".xlsx\""), "{cd}");
    let fresh = if s.db.url.starts_with("postgres") {
        TestServer::postgres().unwrap()
    } else {
        TestServer::sqlite()
    };
    let admin2 = fresh.login("admin");
    let r = upload(&admin2, &fresh.fixture.ht01, XLSX, &key(), &xlsx);
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json["status"], "done", "{}", r.body);
    assert_eq!(
        r.json["summary"]["customers_linked"], 1,
        "王建国 is in the fixture"
    );
    let again = export_csv(&admin2, &fresh.fixture.ht01);
    let money_and_points = |rows: &[Vec<String>]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| {
                [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
                    .iter()
                    .map(|&i| r[i].clone())
                    .collect()
            })
            .collect()
    };
    assert_eq!(money_and_points(&again), money_and_points(&rows));
    // And the CSV export imports too (into the other store of the fresh database: the card
    // numbers are taken there, so this shows the per-row report names them).
    let (_, _, _, csv_bytes) = download(
        &admin,
        &format!("/api/v1/members/export?store_id={ht01}&format=csv"),
    );
    let r = upload(&admin2, &fresh.fixture.ht02, "text/csv", &key(), &csv_bytes);
    assert_eq!(r.json["status"], "failed", "{}", r.body);
    assert!(r.body.contains("card_no_taken"), "{}", r.body);
}

fn ledger_export_lists_the_card_transactions(s: &TestServer) {
    let admin = s.login("admin");
    let manager = s.login("ht01.manager");
    let csv =
        "姓名,手机号,卡号,储值余额,赠送余额\n冯宝宝,13100000001,8800600000000001,300.00,20.00\n";
    let r = upload(
        &manager,
        &s.fixture.ht01,
        "text/csv",
        &key(),
        csv.as_bytes(),
    );
    assert_eq!(r.json["status"], "done", "{}", r.body);
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (
        today - chrono::Duration::days(1),
        today + chrono::Duration::days(1),
    );
    let (st, ct, _, body) = download(
        &manager,
        &format!("/api/v1/ledger/export?format=csv&from={from}&to={to}"),
    );
    assert_eq!(st, 200);
    assert!(ct.starts_with("text/csv"));
    let (header, rows) = csv_rows(&body);
    assert_eq!(header[0], "时间(北京时间)");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row[2], "8800********0001");
    assert_eq!(row[3], "旧系统迁移");
    assert_eq!(row[4], "320.00");
    assert_eq!(row[5], "300.00");
    assert_eq!(row[6], "20.00");
    assert_eq!(row[7], "320.00");
    assert_eq!(row[9], "测试ht01.manager");
    // A period without transactions exports just the header; XLSX works too.
    let (_, _, _, body) = download(
        &admin,
        "/api/v1/ledger/export?format=csv&from=2020-01-01&to=2020-01-31",
    );
    assert_eq!(csv_rows(&body).1.len(), 0);
    let (st, ct, _, body) = download(&admin, "/api/v1/ledger/export");
    assert_eq!(st, 200);
    assert_eq!(ct, XLSX);
    assert!(body.starts_with(b"PK"));
}

/// Cards issued today in the store, from the statistics (the facts the triggers write).
fn cards_issued_today(c: &Client, store: &str) -> i64 {
    let today = chrono::Utc::now().date_naive();
    let r = c.get(&format!(
        "/api/v1/membership/statistics?from={today}&to={}&store_id={store}",
        today.succ_opt().unwrap()
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json["total"]["cards_issued"].as_i64().unwrap()
}

fn errors_of(j: &Value) -> Vec<(i64, String, String)> {
    j["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn several_cards_per_member(s: &TestServer) {
    let admin = s.login("admin");
    let ht01 = &s.fixture.ht01;
    let issued_before = cards_issued_today(&admin, ht01);
    // 李雷 holds two cards: the member's points on both rows (as the export writes them), the
    // tier and the name on one row only. 韩梅梅 holds one.
    let csv = format!(
        "{HEADER}\n\
         李雷,13900000101,8800800000000001,,gold,100.00,10.00,500,2000,2031-06-30,\n\
         ,139 0000 0101,8800800000000002,,,50.00,,500,2000,2032-06-30,\n\
         韩梅梅,13900000102,8800800000000003,,,0,,,,,\n"
    );
    let r = upload(&admin, ht01, "text/csv", &key(), csv.as_bytes());
    assert_eq!(r.json["status"], "done", "{}", r.body);
    let sum = &r.json["summary"];
    assert_eq!(sum["members_created"], 2);
    assert_eq!(sum["customers_created"], 2);
    assert_eq!(sum["cards_issued"], 3);
    assert_eq!(sum["principal_total"], "150.00");
    assert_eq!(sum["bonus_total"], "10.00");
    assert_eq!(
        sum["redeemable_points_total"], 500,
        "the member's points, once"
    );
    assert_eq!(sum["tier_points_total"], 2000);
    let c1 = card_by_number(&admin, "8800800000000001");
    let c2 = card_by_number(&admin, "8800800000000002");
    assert_eq!(c1["member_id"], c2["member_id"], "one member, two cards");
    assert_eq!(c1["balance"], "110.00");
    assert_eq!(c2["balance"], "50.00");
    assert!(c1["expires_at"].as_str().unwrap().starts_with("2031-06-30"));
    assert!(c2["expires_at"].as_str().unwrap().starts_with("2032-06-30"));
    let member_id = c1["member_id"].as_str().unwrap().to_string();
    let m = member(&admin, &member_id);
    assert_eq!(m["tier_code"], "gold");
    assert_eq!(m["redeemable_points"], 500);
    assert_eq!(m["tier_points"], 2000);
    assert!(
        m["term_expires_at"]
            .as_str()
            .unwrap()
            .starts_with("2032-06-30"),
        "the membership runs to the latest card's date: {m}"
    );
    assert_eq!(
        cards_issued_today(&admin, ht01),
        issued_before + 3,
        "the statistics count every card"
    );

    // Member-level cells that disagree are row errors naming the field.
    let bad = format!(
        "{HEADER}\n\
         王五,13900000103,8800800000000004,,gold,,,100,,,\n\
         王五,13900000103,8800800000000005,,silver,,,200,,,\n\
         王六,13900000103,8800800000000006,,,,,,,,\n"
    );
    let r = upload(&admin, ht01, "text/csv", &key(), bad.as_bytes());
    assert_eq!(r.json["status"], "failed", "{}", r.body);
    let errs = errors_of(&r.json);
    assert_eq!(
        errs,
        vec![
            (3, "tier".to_string(), "member_mismatch".to_string()),
            (3, "redeemable_points".into(), "member_mismatch".into()),
            (4, "name".into(), "member_mismatch".into()),
        ]
    );
    assert!(r.body.contains("row 2"), "{}", r.body);

    // A member of this store receives further cards: the card with its balance, the points
    // added to the member's; the tier and the membership's term stay.
    let more = format!("{HEADER}\n李雷,13900000101,8800800000000007,,,20.00,,100,,2030-01-31,\n");
    let r = upload(&admin, ht01, "text/csv", &key(), more.as_bytes());
    assert_eq!(r.json["status"], "done", "{}", r.body);
    assert_eq!(r.json["summary"]["members_created"], 0);
    assert_eq!(r.json["summary"]["customers_linked"], 1);
    assert_eq!(r.json["summary"]["cards_issued"], 1);
    let c7 = card_by_number(&admin, "8800800000000007");
    assert_eq!(c7["member_id"].as_str(), Some(member_id.as_str()));
    assert_eq!(c7["balance"], "20.00");
    let m = member(&admin, &member_id);
    assert_eq!(m["redeemable_points"], 600);
    assert_eq!(m["tier_code"], "gold");
    assert!(m["term_expires_at"]
        .as_str()
        .unwrap()
        .starts_with("2032-06-30"));
    // ... but not at another tier than the member's.
    let other = format!("{HEADER}\n,13900000101,8800800000000008,,silver,,,,,,\n");
    let r = upload(&admin, ht01, "text/csv", &key(), other.as_bytes());
    assert_eq!(r.json["status"], "failed", "{}", r.body);
    assert_eq!(
        errors_of(&r.json),
        vec![(2, "tier".to_string(), "tier_mismatch".to_string())]
    );
    assert_eq!(
        cards_issued_today(&admin, ht01),
        issued_before + 4,
        "a failed import adds no facts"
    );
    let check = dms_membership::verify_ledgers(&mut s.db.pool.get().unwrap()).unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
}

/// The import's write transaction is short: a cashier's top-up while a 5000-row file is
/// imported waits for it at most briefly and succeeds (on SQLite the transaction holds the
/// database's write lock; a long one made other writes give up with 503).
fn a_top_up_during_a_large_import_succeeds(s: &TestServer) {
    let admin = s.login("admin");
    let ht01 = &s.fixture.ht01;
    let r = upload(
        &admin,
        ht01,
        "text/csv",
        &key(),
        "姓名,手机号,卡号\n柜台客,13900000200,8800810000000001\n".as_bytes(),
    );
    assert_eq!(r.json["status"], "done", "{}", r.body);
    let card = card_by_number(&admin, "8800810000000001")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut csv = String::from("姓名,手机号,卡号,等级,储值余额,赠送余额,积分,等级积分\n");
    for i in 0..5000 {
        csv.push_str(&format!(
            "会员{i},1370000{i:04},88008200{i:08},gold,{}.{:02},5.00,{i},{i}\n",
            i % 500,
            i % 100
        ));
    }
    let r = upload(&admin, ht01, "text/csv", &key(), csv.as_bytes());
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json["id"].as_str().unwrap().to_string();
    let mut top_ups = vec![];
    let mut during_write = 0;
    let last = loop {
        let j = job(&admin, &id);
        let status = j["status"].as_str().unwrap().to_string();
        if status == "done" || status == "failed" {
            break j;
        }
        let started = std::time::Instant::now();
        let req = admin
            .request("POST", &format!("/api/v1/cards/{card}/top-ups"))
            .set("Content-Type", "application/json")
            .set("Idempotency-Key", &key());
        let top = admin.send(req, Some(br#"{"amount":"1.00","payment_method":"cash"}"#));
        assert_eq!(
            top.status,
            201,
            "a top-up while the import is {status} took {:?}: {}",
            started.elapsed(),
            top.body
        );
        if status == "importing" {
            during_write += 1;
        }
        top_ups.push(started.elapsed());
    };
    assert_eq!(last["status"], "done", "{last}");
    assert_eq!(last["summary"]["cards_issued"], 5000);
    assert!(
        during_write > 0,
        "no top-up while the job was importing: {top_ups:?}"
    );
    let slowest = top_ups.iter().max().unwrap();
    assert!(
        slowest.as_secs_f64() < 5.0,
        "a top-up waited {slowest:?} for the import"
    );
    let c = card_by_number(&admin, "8800810000000001");
    assert_eq!(fen(&c["principal"]), 100 * top_ups.len() as i64);
    let check = dms_membership::verify_ledgers(&mut s.db.pool.get().unwrap()).unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
}

fn post_key(c: &Client, path: &str, body: &Value) -> Reply {
    let req = c
        .request("POST", path)
        .set("Content-Type", "application/json")
        .set("Idempotency-Key", &key());
    c.send(req, Some(body.to_string().as_bytes()))
}

fn web_app_additions(s: &TestServer) {
    let admin = s.login("admin");
    let manager = s.login("ht01.manager");
    let cashier = s.login("ht01.cashier");
    let (ht01, ht02) = (&s.fixture.ht01, &s.fixture.ht02);
    let csv = "姓名,手机号,卡号,等级,储值余额\n\
               王建国,13801012345,8800700000000001,gold,1000.00\n\
               欧阳锋,13000000001,8800700000000002,,50.00\n";
    assert_eq!(
        upload(&admin, ht01, "text/csv", &key(), csv.as_bytes()).json["status"],
        "done"
    );
    let csv2 = "姓名,手机号,卡号\n欧阳克,13000000002,8800700000000003\n";
    assert_eq!(
        upload(&admin, ht02, "text/csv", &key(), csv2.as_bytes()).json["status"],
        "done"
    );
    let c1 = card_by_number(&admin, "8800700000000001");
    let m1 = c1["member_id"].as_str().unwrap().to_string();

    // Member search: name prefix, phone prefix, card number; only the caller's stores.
    let names = |r: &Reply| -> Vec<String> {
        assert_eq!(r.status, 200, "{}", r.body);
        r.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };
    let ouyang = names(&admin.get("/api/v1/members?q=欧阳"));
    assert_eq!(ouyang.len(), 2, "both stores for the admin");
    assert_eq!(
        names(&manager.get("/api/v1/members?q=欧阳")).len(),
        1,
        "HT01 only"
    );
    let by_phone = names(&cashier.get("/api/v1/members?q=1380101"));
    assert_eq!(by_phone, vec![m1.clone()]);
    let by_card = names(&cashier.get("/api/v1/members?q=8800700000000001"));
    assert_eq!(by_card, vec![m1.clone()]);
    cashier
        .get("/api/v1/members?q=13")
        .problem(422, "validation_failed");
    let v = manager.post(
        "/api/v1/vehicles",
        &json!({
            "store_id": ht01, "customer_id": s.fixture.customer_ht01,
            "vin": "LVGBE40K7PG123456", "plate": "京A·12345", "brand": "丰田", "model": "凯美瑞",
            "purchase_date": "2024-05-01", "delivery_date": "2024-05-01",
        }),
    );
    assert_eq!(v.status, 201, "{}", v.body);
    let by_plate = names(&cashier.get("/api/v1/members?q=京A1234"));
    assert_eq!(by_plate, vec![m1.clone()]);
    // Store filter on the member and checkout lists.
    let in_ht02 = admin.get(&format!("/api/v1/members?store_id={ht02}"));
    let items = in_ht02.json["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", in_ht02.body);
    assert_eq!(items[0]["store_id"], ht02.as_str());
    assert_eq!(
        names(&manager.get(&format!("/api/v1/members?store_id={ht02}"))).len(),
        0,
        "another store's filter shows nothing"
    );

    // Coupons carry their template's name.
    let tpl = manager.post(
        "/api/v1/coupon-templates",
        &json!({"store_id": ht01, "name": "保养立减50元", "kind": "amount_off", "amount": "50.00",
                "min_spend": "200.00", "valid_from": "2026-01-01T00:00:00Z",
                "valid_until": "2036-01-01T00:00:00Z"}),
    );
    assert_eq!(tpl.status, 201, "{}", tpl.body);
    let cp = cashier.post(
        "/api/v1/coupons",
        &json!({"template_id": tpl.json["id"], "member_id": m1}),
    );
    assert_eq!(cp.status, 201, "{}", cp.body);
    assert_eq!(cp.json["name"], "保养立减50元");
    let list = cashier.get(&format!("/api/v1/members/{m1}/coupons"));
    assert_eq!(
        list.json["items"][0]["name"], "保养立减50元",
        "{}",
        list.body
    );

    // A wrong PIN says how many attempts are left, as a field of the problem.
    let card1 = c1["id"].as_str().unwrap();
    let r = cashier.put(
        &format!("/api/v1/cards/{card1}/pin"),
        &json!({"pin": "135792"}),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let r = cashier.post(
        &format!("/api/v1/cards/{card1}/pin/verify"),
        &json!({"pin": "864200"}),
    );
    r.problem(422, "wrong_pin");
    assert_eq!(r.json["attempts_left"], 4, "{}", r.body);
    assert_eq!(r.json["errors"][0]["field"], "pin");
    assert!(!r.body.contains("864200"));

    // A checkout's receipt names the member; the owner reads their own receipts only.
    let pay = json!({"card_id": card1, "store_id": ht01, "pin": "135792",
        "lines": [{"category": "labour", "description": "洗车", "quantity": "1", "unit_price": "100.00"}],
        "tenders": [{"kind": "stored_value", "amount": "90.00"}]});
    let r = post_key(&cashier, "/api/v1/checkouts", &pay);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json["member_id"], m1.as_str());
    let checkout = r.json["checkout_id"].as_str().unwrap().to_string();
    let receipt = format!("/api/v1/checkouts/{checkout}/receipt");
    assert_eq!(cashier.get(&receipt).json["member_id"], m1.as_str());
    let owner = s.owner_login("13801012345");
    let own = owner.get(&receipt);
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.json["basket"]["member_pays"], "90.00");
    let stranger = s.owner_login("13000000001");
    stranger.get(&receipt).problem(404, "not_found");
    s.login("ht02.cashier")
        .get(&receipt)
        .problem(404, "not_found");
    let checkouts = |c: &Client, store: &str| -> usize {
        let r = c.get(&format!("/api/v1/checkouts?store_id={store}"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json["items"].as_array().unwrap().len()
    };
    assert_eq!(checkouts(&admin, ht01), 1);
    assert_eq!(checkouts(&admin, ht02), 0);
}

fn a_job_interrupted_by_a_restart_is_failed(s: &TestServer) {
    use dms_membership::import as im;
    let admin = s.login("admin");
    // A job as a server that stopped mid-run leaves it: registered, never finished.
    let mut conn = s.db.pool.get().unwrap();
    let created = im::create_import_job(
        &mut conn,
        &dms_identity::Actor::system("test"),
        &dms_core::StoreScope::AllStores,
        &dms_core::SystemClock,
        "interrupted-1",
        &im::NewImport {
            store_id: &s.fixture.ht01,
            format: im::FileFormat::Csv,
            fingerprint: "x",
            rows_total: 10,
        },
    )
    .unwrap()
    .value;
    assert_eq!(created.status, "validating");
    assert_eq!(
        im::fail_interrupted_jobs(&mut conn, &dms_core::SystemClock).unwrap(),
        1
    );
    let j = job(&admin, &created.id);
    assert_eq!(j["status"], "failed");
    assert_eq!(j["errors"][0]["code"], "interrupted");
    assert!(j["finished_at"].is_string());
    // Finished jobs are left alone.
    assert_eq!(
        im::fail_interrupted_jobs(&mut conn, &dms_core::SystemClock).unwrap(),
        0
    );
}

http_tests!(
    import_csv_links_customers_and_opens_balances,
    import_xlsx_with_english_headers,
    bad_rows_are_reported_and_nothing_is_written,
    a_large_file_runs_as_a_job_with_progress,
    permissions_and_store_scope,
    export_then_import_into_a_fresh_database_keeps_balances,
    ledger_export_lists_the_card_transactions,
    web_app_additions,
    a_job_interrupted_by_a_restart_is_failed,
    several_cards_per_member,
    a_top_up_during_a_large_import_succeeds,
);
