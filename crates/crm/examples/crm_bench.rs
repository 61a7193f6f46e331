//! The CRM's scale benchmark on SQLite (run it through `scripts/bench/crm.sh`).
//!
//! 1. Generates (once) a SQLite file with the real migrations and N customers (default
//!    1 000 000) in 10 stores, 1.5 N vehicles with check-digit-valid VINs and plates, one
//!    mileage reading and one service visit per serviced vehicle, and a second phone number
//!    for one customer in ten. The file is cached under `$DMS_BENCH_CACHE` (default
//!    `$HOME/.cache/dms/bench`), keyed by N and the list of migrations, so later runs skip
//!    the load; an interrupted load leaves no cache behind.
//! 2. Copies it to a scratch file and times `dms_crm::search_customers` (what
//!    `GET /customers/search` runs) over many queries of each kind: phone prefix, full phone,
//!    plate as typed at the desk, plate prefix, VIN, Chinese name prefix, with a group-wide and
//!    a one-store scope; prints p50, p90, p99 and max.
//! 3. Times the daily care job over the fleet: the first run (which creates the backlog), the
//!    same day again (creates nothing), and the next day (the steady state).
//!
//! Arguments: `--customers N`, `--queries Q` (per kind, default 2000), `--skip-care`,
//! `--rebuild`. Figures are printed as text and, with `--json FILE`, written as JSON.

// A benchmark program: a failure is reported by panicking with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, NaiveDate, Utc};
use diesel::connection::SimpleConnection;
use dms_core::StoreScope;
use dms_crm::{care_candidates, run_care_engine, search_customers, vin_check_digit, CareRules};
use dms_db::DbConnection;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "兰", "建", "国", "文", "辉", "鹏", "宇",
    "浩", "婷", "欣", "晨", "佳", "琳", "峰", "斌",
];
const MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "156", "157", "158", "159", "177", "180", "181", "186", "187", "188", "189",
];
const PROVINCES: &[&str] = &["京", "津", "冀", "沪", "粤", "苏", "浙", "鲁"];
/// Plate letters: no I or O.
const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const STORES: usize = 10;
const BATCH: usize = 2000;

struct Args {
    customers: usize,
    queries: usize,
    skip_care: bool,
    rebuild: bool,
    json: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        customers: 1_000_000,
        queries: 2000,
        skip_care: false,
        rebuild: false,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--customers" => a.customers = it.next().and_then(|v| v.parse().ok()).expect("N"),
            "--queries" => a.queries = it.next().and_then(|v| v.parse().ok()).expect("Q"),
            "--skip-care" => a.skip_care = true,
            "--rebuild" => a.rebuild = true,
            "--json" => a.json = it.next().map(PathBuf::from),
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(a.customers >= 1000, "--customers must be at least 1000");
    a
}

/// The day the generated data is centred on (the care job's "today").
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 26).expect("date")
}

fn phone_of(k: usize) -> String {
    // A bijection on 8 digits (48271 is prime to 10^8), so every phone is unique.
    let suffix = (k as u64 * 48_271 + 12_345) % 100_000_000;
    format!("{}{suffix:08}", MOBILE_PREFIXES[k % MOBILE_PREFIXES.len()])
}

fn second_phone_of(k: usize) -> String {
    let suffix = (k as u64 * 69_621 + 777) % 100_000_000;
    format!("199{suffix:08}")
}

fn name_of(k: usize) -> String {
    let s = SURNAMES.len();
    let g = GIVEN.len();
    format!(
        "{}{}{}",
        SURNAMES[k % s],
        GIVEN[(k / s) % g],
        GIVEN[(k / (s * g)) % g]
    )
}

/// (display plate, normalised plate) of vehicle `k`.
fn plate_of(k: usize) -> (String, String) {
    let p = PROVINCES[k % PROVINCES.len()];
    let l = LETTERS[(k / PROVINCES.len()) % LETTERS.len()] as char;
    let n = (k / (PROVINCES.len() * LETTERS.len())) % 100_000;
    (format!("{p}{l}·{n:05}"), format!("{p}{l}{n:05}"))
}

fn vin_of(k: usize) -> String {
    // WMI LSV, VDS AU218, check digit, model year N (2022), plant 2, serial.
    let draft = format!("LSVAU218?N{}{:06}", (k / 1_000_000) % 10, k % 1_000_000);
    let d = vin_check_digit(&draft.replace('?', "0")).expect("vin");
    draft.replace('?', &d.to_string())
}

fn migrations_key() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/sqlite");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("migrations dir")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
        .collect();
    names.sort();
    // FNV-1a: a short stable fingerprint of the schema's migration list.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in names.join(",").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn exec(c: &mut DbConnection, sql: &str) {
    match c {
        DbConnection::Sqlite(s) => s
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{e}: {}", &sql[..sql.len().min(300)])),
        DbConnection::Pg(_) => unreachable!("the benchmark runs on SQLite"),
    }
}

fn generate(path: &Path, n: usize) {
    let t = Instant::now();
    let url = path.to_string_lossy().to_string();
    dms_db::migrate(&url).expect("migrate");
    let mut c = dms_db::establish(&url).expect("open");
    // A throw-away file while it is being built: no journal, no fsync.
    exec(
        &mut c,
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF; PRAGMA cache_size = -400000;",
    );
    let ts = "2026-01-01 00:00:00";
    exec(
        &mut c,
        &format!("INSERT INTO dealer_groups (id, name, created_at) VALUES ('g1', '基准测试集团', '{ts}')"),
    );
    for s in 0..STORES {
        exec(
            &mut c,
            &format!(
                "INSERT INTO stores (id, group_id, code, name, address, phone, active, created_at, updated_at) \
                 VALUES ('s{s:02}', 'g1', 'BJ{s:02}', '基准{s:02}店', '北京市', '010-12345678', 1, '{ts}', '{ts}')"
            ),
        );
    }
    exec(&mut c, "BEGIN");
    let mut i = 0;
    while i < n {
        let mut sql = String::from(
            "INSERT INTO customers (id, store_id, name, phone, created_at, updated_at, name_norm, birthday, birthday_md) VALUES ",
        );
        let mut psql = String::from(
            "INSERT INTO customer_phones (id, customer_id, phone, label, created_at) VALUES ",
        );
        let mut any_phone = false;
        for k in i..(i + BATCH).min(n) {
            let name = name_of(k);
            let birthday = NaiveDate::from_ymd_opt(
                1960 + (k % 45) as i32,
                (k % 12) as u32 + 1,
                (k % 28) as u32 + 1,
            )
            .expect("birthday");
            if k > i {
                sql.push(',');
            }
            write!(
                sql,
                "('c{k:09}','s{:02}','{name}','{}','{ts}','{ts}','{name}','{birthday}','{}')",
                k % STORES,
                phone_of(k),
                birthday.format("%m-%d")
            )
            .expect("fmt");
            if k % 10 == 3 {
                if any_phone {
                    psql.push(',');
                }
                any_phone = true;
                write!(
                    psql,
                    "('p{k:09}','c{k:09}','{}','工作','{ts}')",
                    second_phone_of(k)
                )
                .expect("fmt");
            }
        }
        exec(&mut c, &sql);
        if any_phone {
            exec(&mut c, &psql);
        }
        i += BATCH;
    }
    let nv = n * 3 / 2;
    let today = today();
    i = 0;
    while i < nv {
        let mut sql = String::from(
            "INSERT INTO vehicles (id, store_id, vin, vin_check_ok, plate, plate_norm, brand, model, trim_level, colour, \
             purchase_date, delivery_date, insurance_expiry, insurer, inspection_due, first_service_done, last_service_on, \
             customer_id, status, created_at, updated_at) VALUES ",
        );
        let mut rsql = String::from(
            "INSERT INTO mileage_readings (id, vehicle_id, read_on, km, source, created_at) VALUES ",
        );
        let mut vsql = String::from(
            "INSERT INTO service_visits (id, store_id, vehicle_id, customer_id, visited_on, kind, km, created_at) VALUES ",
        );
        for k in i..(i + BATCH).min(nv) {
            let (plate, plate_norm) = plate_of(k);
            // Spread over five years of deliveries, a year of renewals and two of inspections.
            let delivered = today - Duration::days((k * 7 % 1800) as i64 + 1);
            let ins = today + Duration::days((k * 13 % 365) as i64);
            let insp = today + Duration::days((k * 17 % 730) as i64);
            let serviced = k % 10 != 0;
            let last = (today - Duration::days((k * 11 % 365) as i64)).max(delivered);
            let km = ((last - delivered).num_days() * 40).max(0);
            let owner = k % n;
            if k > i {
                sql.push(',');
                rsql.push(',');
                vsql.push(',');
            }
            write!(
                sql,
                "('v{k:09}','s{:02}','{}',1,'{plate}','{plate_norm}','大众','帕萨特','330TSI 豪华版','黑','{delivered}','{delivered}',\
                 '{ins}','平安保险','{insp}',{},{},'c{owner:09}','active','{ts}','{ts}')",
                owner % STORES,
                vin_of(k),
                i32::from(serviced),
                if serviced { format!("'{last}'") } else { "NULL".into() },
            )
            .expect("fmt");
            write!(
                rsql,
                "('r{k:09}','v{k:09}','{last}',{km},'service_visit','{ts}')"
            )
            .expect("fmt");
            write!(
                vsql,
                "('w{k:09}','s{:02}','v{k:09}','c{owner:09}','{last}','{}',{km},'{ts}')",
                owner % STORES,
                if serviced { "maintenance" } else { "repair" }
            )
            .expect("fmt");
        }
        exec(&mut c, &sql);
        exec(&mut c, &rsql);
        exec(&mut c, &vsql);
        i += BATCH;
    }
    exec(&mut c, "COMMIT; ANALYZE; PRAGMA journal_mode = WAL;");
    eprintln!(
        "generated {n} customers ({} second numbers), {nv} vehicles, {nv} mileage readings and visits in {:.1} s",
        n / 10,
        t.elapsed().as_secs_f64()
    );
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Figure {
    name: String,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    hits: usize,
    queries: usize,
}

fn time_queries(
    c: &mut DbConnection,
    name: &str,
    scope: &StoreScope,
    queries: &[String],
    must_hit: bool,
) -> Figure {
    // One untimed pass over a few queries warms the page cache the same way for every kind.
    for q in queries.iter().take(20) {
        search_customers(c, scope, q, None, 20).expect("search");
    }
    let mut ms = Vec::with_capacity(queries.len());
    let mut hits = 0;
    for q in queries {
        let t = Instant::now();
        let r = search_customers(c, scope, q, None, 20).expect("search");
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        if must_hit {
            assert!(!r.is_empty(), "{name}: nothing found for {q}");
        }
        hits += r.len();
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    Figure {
        name: name.into(),
        p50: pct(&ms, 0.5),
        p90: pct(&ms, 0.9),
        p99: pct(&ms, 0.99),
        max: pct(&ms, 1.0),
        hits,
        queries: queries.len(),
    }
}

/// The machine's load average: figures taken while other work runs are slower.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn main() {
    let a = args();
    eprintln!("load average at start: {}", load_average());
    let n = a.customers;
    let nv = n * 3 / 2;
    let cache = std::env::var_os("DMS_BENCH_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/dms/bench")
        });
    std::fs::create_dir_all(&cache).expect("cache dir");
    let file = cache.join(format!("crm-{n}-{}.sqlite3", migrations_key()));
    if a.rebuild {
        let _ = std::fs::remove_file(&file);
    }
    if file.exists() {
        eprintln!("using cached {}", file.display());
    } else {
        let tmp = cache.join(format!("crm-{n}.building-{}.sqlite3", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        generate(&tmp, n);
        std::fs::rename(&tmp, &file).expect("rename");
        for ext in ["-wal", "-shm"] {
            let mut p = tmp.clone().into_os_string();
            p.push(ext);
            let _ = std::fs::remove_file(p);
        }
    }
    // Work on a copy: the care job writes tasks, and every run must start from the same data.
    let work = cache.join(format!("work-{}.sqlite3", std::process::id()));
    let t = Instant::now();
    std::fs::copy(&file, &work).expect("copy");
    eprintln!(
        "copied to {} in {:.1} s",
        work.display(),
        t.elapsed().as_secs_f64()
    );
    let result = std::panic::catch_unwind(|| run(&a, &work, n, nv));
    for ext in ["", "-wal", "-shm"] {
        let mut p = work.clone().into_os_string();
        p.push(ext);
        let _ = std::fs::remove_file(p);
    }
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

fn run(a: &Args, work: &Path, n: usize, nv: usize) {
    let mut c = dms_db::establish(&work.to_string_lossy()).expect("open");
    let q = a.queries;
    // Deterministic spread over the data: stride by large primes.
    let cust = |i: usize| (i * 104_729) % n;
    let veh = |i: usize| (i * 15_485_863) % nv;
    let all = StoreScope::AllStores;
    let one = StoreScope::Stores(vec!["s03".into()]);
    let store3: Vec<usize> = (0..q)
        .map(|i| (cust(i) / STORES) * STORES + 3)
        .filter(|k| *k < n)
        .collect();
    let figures = vec![
        time_queries(
            &mut c,
            "phone prefix, 7 digits",
            &all,
            &(0..q)
                .map(|i| phone_of(cust(i))[..7].to_string())
                .collect::<Vec<_>>(),
            true,
        ),
        time_queries(
            &mut c,
            "phone prefix, 4 digits",
            &all,
            &(0..q)
                .map(|i| phone_of(cust(i))[..4].to_string())
                .collect::<Vec<_>>(),
            true,
        ),
        time_queries(
            &mut c,
            "full phone",
            &all,
            &(0..q).map(|i| phone_of(cust(i))).collect::<Vec<_>>(),
            true,
        ),
        time_queries(
            &mut c,
            "second phone, full",
            &all,
            &(0..q)
                .map(|i| cust(i) / 10 * 10 + 3)
                .filter(|k| *k < n)
                .map(second_phone_of)
                .collect::<Vec<_>>(),
            true,
        ),
        time_queries(
            &mut c,
            "plate as typed (京A·01234)",
            &all,
            &(0..q).map(|i| plate_of(veh(i)).0).collect::<Vec<_>>(),
            true,
        ),
        time_queries(
            &mut c,
            "plate prefix (京A0)",
            &all,
            &(0..q)
                .map(|i| plate_of(veh(i)).1.chars().take(3).collect())
                .collect::<Vec<_>>(),
            true,
        ),
        time_queries(
            &mut c,
            "VIN",
            &all,
            &(0..q).map(|i| vin_of(veh(i))).collect::<Vec<_>>(),
            true,
        ),
        time_queries(
            &mut c,
            "name, 2 characters",
            &all,
            &(0..q)
                .map(|i| name_of(cust(i)).chars().take(2).collect())
                .collect::<Vec<_>>(),
            true,
        ),
        time_queries(
            &mut c,
            "full name, 3 characters",
            &all,
            &(0..q).map(|i| name_of(cust(i))).collect::<Vec<_>>(),
            true,
        ),
        time_queries(
            &mut c,
            "one store: phone prefix, 7 digits",
            &one,
            &store3
                .iter()
                .map(|k| phone_of(*k)[..7].to_string())
                .collect::<Vec<_>>(),
            true,
        ),
        time_queries(
            &mut c,
            "one store: name, 2 characters",
            &one,
            &store3
                .iter()
                .map(|k| name_of(*k).chars().take(2).collect())
                .collect::<Vec<_>>(),
            true,
        ),
    ];
    println!("CRM search over {n} customers and {nv} vehicles (SQLite, dms_crm::search_customers, limit 20)");
    println!(
        "{:<36} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "query", "p50 ms", "p90 ms", "p99 ms", "max ms", "queries"
    );
    for f in &figures {
        println!(
            "{:<36} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>8}",
            f.name, f.p50, f.p90, f.p99, f.max, f.queries
        );
    }
    let mut json = String::from("{\"customers\":");
    write!(json, "{n},\"vehicles\":{nv},\"search\":[").expect("fmt");
    for (i, f) in figures.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        write!(
            json,
            "{{\"query\":\"{}\",\"p50_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3},\"max_ms\":{:.3},\"queries\":{},\"hits\":{}}}",
            f.name, f.p50, f.p90, f.p99, f.max, f.queries, f.hits
        )
        .expect("fmt");
    }
    json.push(']');
    if !a.skip_care {
        let rules = CareRules::default();
        let today = today();
        let now = Utc::now();
        // Where the job's time goes: each rule's candidate query alone (nothing written).
        let off = CareRules {
            delivery_thanks: false,
            delivery_call_days: None,
            periodic_call_months: None,
            after_service_call_days: None,
            first_service: None,
            maintenance: None,
            insurance_days_before: None,
            inspection_days_before: None,
            birthday_days_before: None,
            ..rules.clone()
        };
        let only: Vec<(&str, CareRules)> = vec![
            (
                "delivery calls",
                CareRules {
                    delivery_thanks: true,
                    delivery_call_days: rules.delivery_call_days,
                    periodic_call_months: rules.periodic_call_months,
                    ..off.clone()
                },
            ),
            (
                "after-service call",
                CareRules {
                    after_service_call_days: rules.after_service_call_days,
                    ..off.clone()
                },
            ),
            (
                "first service",
                CareRules {
                    first_service: rules.first_service.clone(),
                    ..off.clone()
                },
            ),
            (
                "maintenance",
                CareRules {
                    maintenance: rules.maintenance.clone(),
                    ..off.clone()
                },
            ),
            (
                "insurance",
                CareRules {
                    insurance_days_before: rules.insurance_days_before,
                    ..off.clone()
                },
            ),
            (
                "inspection",
                CareRules {
                    inspection_days_before: rules.inspection_days_before,
                    ..off.clone()
                },
            ),
            (
                "birthday",
                CareRules {
                    birthday_days_before: rules.birthday_days_before,
                    ..off.clone()
                },
            ),
        ];
        for (label, r) in &only {
            let t = Instant::now();
            let n = care_candidates(&mut c, today, r).expect("candidates").len();
            println!(
                "care candidates, {label}: {:.2} s, {n} candidate(s)",
                t.elapsed().as_secs_f64()
            );
        }
        let mut care = Vec::new();
        for (label, day) in [
            ("first run (creates the backlog)", today),
            ("same day again", today),
            ("next day", today + Duration::days(1)),
            ("the day after", today + Duration::days(2)),
        ] {
            let t = Instant::now();
            let r = run_care_engine(&mut c, day, &rules, &[], now).expect("care job");
            let secs = t.elapsed().as_secs_f64();
            println!(
                "care job, {label} ({day}): {secs:.1} s, {} task(s) created, {} already present {:?}",
                r.total_created(),
                r.already_present,
                r.created
            );
            care.push(format!(
                "{{\"run\":\"{label}\",\"day\":\"{day}\",\"seconds\":{secs:.2},\"created\":{},\"already_present\":{}}}",
                r.total_created(),
                r.already_present
            ));
        }
        write!(json, ",\"care\":[{}]", care.join(",")).expect("fmt");
    }
    json.push('}');
    println!("load average at the end: {}", load_average());
    if let Some(p) = &a.json {
        std::fs::write(p, json).expect("write json");
    }
}
