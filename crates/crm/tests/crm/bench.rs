//! Scale check on SQLite (ignored by default; run with
//! `cargo test -p dms-crm --release --test crm bench -- --ignored --nocapture`):
//! customer search by phone prefix and by plate over DMS_BENCH_CUSTOMERS customers (default
//! 1 000 000) and 1.5 times as many vehicles, and the daily care job over that fleet.

use chrono::{Duration, NaiveDate};
use diesel::connection::SimpleConnection;
use dms_core::StoreScope;
use dms_crm::*;
use dms_db::testing::TestDb;
use std::time::Instant;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平",
];

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[test]
#[ignore]
fn sqlite_search_and_care_at_scale() {
    let n: usize = std::env::var("DMS_BENCH_CUSTOMERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let nv = n * 3 / 2;
    let db = TestDb::sqlite();
    let mut c = db.pool.get().unwrap();
    let store = crate::common::store(&mut c, "BJ01");
    let t = Instant::now();
    let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
    let ts = "2026-01-01 00:00:00";
    let batch = 2000;
    let mut i = 0;
    c.batch_execute("BEGIN").unwrap();
    while i < n {
        let mut sql = String::from("INSERT INTO customers (id, store_id, name, phone, created_at, updated_at, name_norm, birthday_md) VALUES ");
        for k in i..(i + batch).min(n) {
            let name = format!(
                "{}{}{}",
                SURNAMES[k % 20],
                GIVEN[(k / 20) % 20],
                GIVEN[(k / 400) % 20]
            );
            let phone = format!("13{:09}", (k as u64 * 7919 + 12345) % 1_000_000_000);
            let md = format!("{:02}-{:02}", k % 12 + 1, k % 28 + 1);
            if k > i {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('c{k:010}','{store}','{name}','{phone}','{ts}','{ts}','{name}','{md}')"
            ));
        }
        c.batch_execute(&sql).unwrap();
        i += batch;
    }
    i = 0;
    while i < nv {
        let mut sql = String::from("INSERT INTO vehicles (id, store_id, vin, vin_check_ok, plate, plate_norm, brand, model, trim_level, colour, delivery_date, insurance_expiry, inspection_due, first_service_done, last_service_on, customer_id, status, created_at, updated_at) VALUES ");
        let mut rsql = String::from("INSERT INTO mileage_readings (id, vehicle_id, read_on, km, source, created_at) VALUES ");
        for k in i..(i + batch).min(nv) {
            let plate = format!(
                "京{}{:05}",
                char::from(b'A' + ((k / 100_000) % 26) as u8),
                k % 100_000
            );
            let delivered = today - Duration::days((k % 1800) as i64 + 1);
            let ins = today + Duration::days((k % 365) as i64);
            let insp = today + Duration::days((k % 730) as i64);
            let last = today - Duration::days((k % 365) as i64);
            let last = last.max(delivered);
            let km = ((last - delivered).num_days() * 40).max(0);
            if k > i {
                sql.push(',');
                rsql.push(',');
            }
            sql.push_str(&format!(
                "('v{k:010}','{store}','LBV{k:014}',1,'{plate}','{plate}','大众','帕萨特','豪华版','黑','{delivered}','{ins}','{insp}',{},'{last}','c{:010}','active','{ts}','{ts}')",
                if k % 10 == 0 { 0 } else { 1 },
                k % n
            ));
            rsql.push_str(&format!(
                "('r{k:010}','v{k:010}','{last}',{km},'service_visit','{ts}')"
            ));
        }
        c.batch_execute(&sql).unwrap();
        c.batch_execute(&rsql).unwrap();
        i += batch;
    }
    c.batch_execute("COMMIT; ANALYZE;").unwrap();
    eprintln!(
        "loaded {n} customers, {nv} vehicles, {nv} mileage readings in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let all = StoreScope::AllStores;
    let mut phone_ms = Vec::new();
    let mut plate_ms = Vec::new();
    let mut name_ms = Vec::new();
    let mut hits = 0usize;
    for q in 0..1000u64 {
        let k = (q * 104_729) % n as u64;
        let phone = format!("13{:09}", (k * 7919 + 12345) % 1_000_000_000);
        let t = Instant::now();
        hits += search_customers(&mut c, &all, &phone[..7], None, 20)
            .unwrap()
            .len();
        phone_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let kv = (q * 15_485_863) % nv as u64;
        let plate = format!(
            "京{}{:05}",
            char::from(b'A' + ((kv / 100_000) % 26) as u8),
            kv % 100_000
        );
        let t = Instant::now();
        let r = search_customers(&mut c, &all, &plate, None, 20).unwrap();
        plate_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(!r.is_empty(), "{plate}");
        let t = Instant::now();
        search_customers(
            &mut c,
            &all,
            &format!("{}{}", SURNAMES[(q % 20) as usize], GIVEN[(q % 7) as usize]),
            None,
            20,
        )
        .unwrap();
        name_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    eprintln!(
        "search by phone prefix (7 digits): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({hits} hits over 1000 queries)",
        pct(phone_ms.clone(), 0.5), pct(phone_ms.clone(), 0.99), pct(phone_ms, 1.0)
    );
    eprintln!(
        "search by plate: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(plate_ms.clone(), 0.5),
        pct(plate_ms.clone(), 0.99),
        pct(plate_ms, 1.0)
    );
    eprintln!(
        "search by name prefix (2 characters): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(name_ms.clone(), 0.5),
        pct(name_ms.clone(), 0.99),
        pct(name_ms, 1.0)
    );

    let rules = CareRules::default();
    let now = chrono::Utc::now();
    let t = Instant::now();
    let r1 = run_care_engine(&mut c, today, &rules, &[], now).unwrap();
    eprintln!(
        "care job, first run over {nv} vehicles: {:.1} s, {} tasks {:?}",
        t.elapsed().as_secs_f64(),
        r1.total_created(),
        r1.created
    );
    let t = Instant::now();
    let r2 = run_care_engine(&mut c, today, &rules, &[], now).unwrap();
    eprintln!(
        "care job, same day again: {:.1} s, {} tasks, {} already present",
        t.elapsed().as_secs_f64(),
        r2.total_created(),
        r2.already_present
    );
    assert_eq!(r2.total_created(), 0);
    let t = Instant::now();
    let r3 = run_care_engine(&mut c, today + Duration::days(1), &rules, &[], now).unwrap();
    eprintln!(
        "care job, next day: {:.1} s, {} new tasks",
        t.elapsed().as_secs_f64(),
        r3.total_created()
    );
}
