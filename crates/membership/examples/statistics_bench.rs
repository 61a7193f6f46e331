//! The member statistics benchmark (`scripts/bench/statistics.sh`): fills a SQLite database,
//! built by the real migrations, with a club of 1,000,000 members and cards and 24 months of
//! activity (top-ups with bonus, stored-value checkouts with their lines and points) making
//! about 10,000,000 ledger entries; then times `statistics_report` for one month.
//!
//! ```text
//! statistics_bench generate PATH [--members N] [--entries N]
//! statistics_bench query PATH [--month YYYY-MM] [--runs N] [--granularity day|month]
//! ```
//!
//! Generation is plain SQL inside SQLite (recursive sequences, one transaction per table,
//! journal and sync off: a scratch file, rebuilt from nothing on any failure). Who, where and
//! how much come from a multiplicative hash of the row number, so every run makes the same
//! data: 20 stores, tiers 60 % standard, 25 % silver, 12 % gold, 3 % diamond, each transaction
//! on a card issued before it, at the card's store.

// A benchmark tool: a failure is reported by a panic with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use dms_core::StoreScope;
use dms_membership::statistics::{statistics_report, Granularity, StatisticsQuery};
use std::time::Instant;

const STORES: i64 = 20;
/// The activity covers the 24 months before this instant (2024-11-01 .. 2026-11-01).
const START: &str = "2024-11-01 00:00:00";
const SPAN_SECS: i64 = 731 * 86_400;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (cmd, path) = match (args.get(1), args.get(2)) {
        (Some(c), Some(p)) => (c.as_str(), p.clone()),
        _ => {
            eprintln!("usage: statistics_bench generate|query PATH [options]");
            std::process::exit(2);
        }
    };
    match cmd {
        "generate" => {
            let members: i64 = arg(&args, "--members").map_or(1_000_000, |v| v.parse().unwrap());
            let entries: i64 = arg(&args, "--entries").map_or(10_000_000, |v| v.parse().unwrap());
            generate(&path, members, entries);
        }
        "query" => {
            let month = arg(&args, "--month").unwrap_or_else(|| "2026-10".into());
            let runs: usize = arg(&args, "--runs").map_or(7, |v| v.parse().unwrap());
            let granularity = match arg(&args, "--granularity").as_deref() {
                None | Some("day") => Granularity::Day,
                Some("month") => Granularity::Month,
                Some(o) => panic!("granularity day or month, not {o}"),
            };
            query(&path, &month, runs, granularity);
        }
        o => panic!("unknown command {o}"),
    }
}

/// A 36-character id in the shape of the application's UUIDs, `kind` telling the tables apart.
fn id(kind: u32, n: &str) -> String {
    format!("printf('{kind:08x}-0000-7000-8000-%012d', {n})")
}

/// `created_at` of row `i` of `total`, spread evenly over the span (microseconds included, as
/// the application writes them).
fn at(i: &str, total: i64) -> String {
    format!(
        "strftime('%Y-%m-%d %H:%M:%S', '{START}', '+' || (({i}) * {SPAN_SECS} / {total}) || ' seconds') \
         || printf('.%06d', (({i}) * 7919) % 1000000)"
    )
}

fn seq(n: i64) -> String {
    format!("WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {n})")
}

fn exec(c: &mut dms_db::DbConnection, what: &str, sql: &str) {
    let t = Instant::now();
    c.batch_execute(sql)
        .unwrap_or_else(|e| panic!("{what}: {e}\n{sql}"));
    eprintln!("  {what}: {:.1} s", t.elapsed().as_secs_f64());
}

fn generate(path: &str, members: i64, entries: i64) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(format!("{path}-wal"));
    let _ = std::fs::remove_file(format!("{path}-shm"));
    let t0 = Instant::now();
    dms_db::migrate(path).expect("migrations");
    let mut c = dms_db::establish(path).expect("open");
    // A scratch file: no journal, no fsync, foreign keys trusted (the rows are made consistent).
    c.batch_execute(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF;
         PRAGMA cache_size = -2000000; PRAGMA temp_store = MEMORY;",
    )
    .unwrap();
    // Per top-up 2 entries (+2 with a bonus, 7.5 % of them), per checkout 2 stored-value and 4
    // points entries: 8.15 entries per pair, as many top-ups as checkouts.
    let topups = entries * 20 / 163;
    let checkouts = topups;
    eprintln!(
        "generating {members} members and cards, {topups} top-ups, {checkouts} checkouts into {path}"
    );
    // The card behind transaction i of n: one issued before it (cards are issued evenly over
    // the span, as the transactions are).
    let card_of = |i: &str, n: i64| {
        format!("(1 + ((({i}) * 2654435761) % 4294967296) % max(1, ({i}) * {members} / {n}))")
    };
    let store_of = |k: &str| format!("((({k}) * 40503) % {STORES})");
    let store_id = |k: &str| id(1, &store_of(k));
    let tier_of = |k: &str| {
        format!(
            "(CASE WHEN ((({k}) * 2246822519) % 100) < 60 THEN 'standard' \
             WHEN ((({k}) * 2246822519) % 100) < 85 THEN 'silver' \
             WHEN ((({k}) * 2246822519) % 100) < 97 THEN 'gold' ELSE 'diamond' END)"
        )
    };
    let sid = id(1, "s.i");
    exec(
        &mut c,
        "group and stores",
        &format!(
            "BEGIN;
             INSERT INTO dealer_groups (id, name, created_at)
                 VALUES ('bench-group', '基准测试集团', '{START}');
             {seq} INSERT INTO stores (id, group_id, code, name, created_at, updated_at)
                 SELECT {sid_s}, 'bench-group', printf('B%02d', i), printf('门店%02d', i),
                        '{START}', '{START}'
                 FROM (SELECT i - 1 AS i FROM seq) AS s;
             COMMIT;",
            seq = seq(STORES),
            sid_s = sid,
        ),
    );
    let k = "s.i";
    exec(
        &mut c,
        "customers",
        &format!(
            "BEGIN; {seq} INSERT INTO customers (id, store_id, name, phone, created_at, updated_at)
             SELECT {cid}, {store}, printf('会员%07d', i), printf('139%08d', i), {t}, {t}
             FROM seq AS s; COMMIT;",
            seq = seq(members),
            cid = id(2, k),
            store = store_id(k),
            t = at(k, members),
        ),
    );
    exec(
        &mut c,
        "members",
        &format!(
            "BEGIN; {seq} INSERT INTO mem_members (id, store_id, customer_id, tier_code, join_channel,
                 status, joined_at, term_expires_at, tier_points, redeemable_points, created_at, updated_at)
             SELECT {mid}, {store}, {cid}, {tier}, 'fee', 'active', {t}, '2027-12-31 00:00:00', 0, 0, {t}, {t}
             FROM seq AS s; COMMIT;",
            seq = seq(members),
            mid = id(3, k),
            cid = id(2, k),
            store = store_id(k),
            tier = tier_of(k),
            t = at(k, members),
        ),
    );
    exec(
        &mut c,
        "cards",
        &format!(
            "BEGIN; {seq} INSERT INTO mem_cards (id, store_id, member_id, card_no, status, expires_at,
                 principal_fen, bonus_fen, created_at, updated_at)
             SELECT {kid}, {store}, {mid}, printf('8800%010d', i), 'active', '2031-12-31 00:00:00',
                 0, 0, {t}, {t}
             FROM seq AS s; COMMIT;",
            seq = seq(members),
            kid = id(4, k),
            mid = id(3, k),
            store = store_id(k),
            t = at(k, members),
        ),
    );

    // Top-ups: 500-2400 yuan in cash, bank card or online; one in ten of 1000 or more gets a
    // 10 % bonus.
    let amount = "(50000 + ((s.i * 40503) % 20) * 10000)";
    let bonus =
        format!("(CASE WHEN {amount} >= 100000 AND (s.i % 10) = 0 THEN {amount} / 10 ELSE 0 END)");
    let tender = "(CASE s.i % 3 WHEN 0 THEN 'tender:cash' WHEN 1 THEN 'tender:bank_card' ELSE 'tender:online' END)";
    let card = card_of("s.i", topups);
    exec(
        &mut c,
        "top-up transactions",
        &format!(
            "BEGIN; {seq} INSERT INTO mem_sv_txns (id, store_id, card_id, kind, amount_fen,
                 payment_method, actor_kind, actor_id, memo, created_at)
             SELECT {tid}, {store}, {kid}, 'topup', {amount}, 'cash', 'staff', 'bench', '', {t}
             FROM (SELECT i, {card} AS card FROM seq) AS s; COMMIT;",
            seq = seq(topups),
            tid = id(5, "s.i"),
            store = store_id("s.card"),
            kid = id(4, "s.card"),
            card = card.replace("s.i", "i"),
            t = at("s.i", topups),
        ),
    );
    exec(
        &mut c,
        "top-up entries",
        &format!(
            "BEGIN; {seq} INSERT INTO mem_sv_entries (id, txn_id, store_id, card_id, account, amount_fen, created_at)
             SELECT {eid}, {tid}, {store},
                 CASE l.leg WHEN 0 THEN {kid} WHEN 2 THEN {kid} ELSE NULL END,
                 CASE l.leg WHEN 0 THEN 'card_principal' WHEN 1 THEN {tender} WHEN 2 THEN 'card_bonus' ELSE 'bonus_promotion' END,
                 CASE l.leg WHEN 0 THEN {amount} WHEN 1 THEN -{amount} WHEN 2 THEN {bonus} ELSE -{bonus} END,
                 {t}
             FROM (SELECT i, {card} AS card FROM seq) AS s
             JOIN (SELECT 0 AS leg UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) AS l
                 ON l.leg < 2 OR {bonus} > 0
             ORDER BY s.i, l.leg; COMMIT;",
            seq = seq(topups),
            eid = id(6, "(s.i * 4 + l.leg)"),
            tid = id(5, "s.i"),
            store = store_id("s.card"),
            kid = id(4, "s.card"),
            card = card.replace("s.i", "i"),
            t = at("s.i", topups),
        ),
    );

    // Checkouts: two lines (labour or detailing, then parts or accessories), the member's tier
    // discount, paid by stored value; points earned 1 per yuan on both tracks.
    let card = card_of("s.i", checkouts);
    let g1 = "(20000 + ((s.i * 2654435761) % 97) * 1000)";
    let g2 = "(5000 + ((s.i * 40503) % 89) * 1000)";
    let cat1 = "(CASE s.i % 4 WHEN 0 THEN 'detailing' ELSE 'labour' END)";
    let cat2 = "(CASE s.i % 5 WHEN 0 THEN 'accessories' ELSE 'parts' END)";
    let pct = "(CASE m.tier_code WHEN 'diamond' THEN 15 WHEN 'gold' THEN 10 WHEN 'silver' THEN 5 ELSE 0 END)";
    let n1 = format!("({g1} - {g1} * {pct} / 100)");
    let n2 = format!("({g2} - {g2} * {pct} / 100)");
    let yuan = |f: &str| format!("printf('%d.%02d', ({f}) / 100, ({f}) % 100)");
    let from_checkouts = format!(
        "FROM (SELECT i, {card} AS card FROM seq) AS s JOIN mem_members AS m ON m.id = {mid}",
        card = card.replace("s.i", "i"),
        mid = id(3, "s.card"),
    );
    exec(
        &mut c,
        "checkout stored-value transactions",
        &format!(
            "BEGIN; {seq} INSERT INTO mem_sv_txns (id, store_id, card_id, kind, amount_fen,
                 actor_kind, actor_id, memo, created_at)
             SELECT {tid}, {store}, {kid}, 'checkout', -({n1} + {n2}), 'staff', 'bench', '', {t}
             {from_checkouts}; COMMIT;",
            seq = seq(checkouts),
            tid = id(15, "s.i"),
            store = store_id("s.card"),
            kid = id(4, "s.card"),
            t = at("s.i", checkouts),
        ),
    );
    exec(
        &mut c,
        "checkout stored-value entries",
        &format!(
            "BEGIN; {seq} INSERT INTO mem_sv_entries (id, txn_id, store_id, card_id, account, amount_fen, created_at)
             SELECT {eid}, {tid}, {store}, CASE l.leg WHEN 0 THEN {kid} ELSE NULL END,
                 CASE l.leg WHEN 0 THEN 'card_principal' ELSE 'sales' END,
                 CASE l.leg WHEN 0 THEN -({n1} + {n2}) ELSE ({n1} + {n2}) END, {t}
             {from_checkouts} JOIN (SELECT 0 AS leg UNION ALL SELECT 1) AS l
             ORDER BY s.i, l.leg; COMMIT;",
            seq = seq(checkouts),
            eid = id(16, "(s.i * 2 + l.leg)"),
            tid = id(15, "s.i"),
            store = store_id("s.card"),
            kid = id(4, "s.card"),
            t = at("s.i", checkouts),
        ),
    );
    exec(
        &mut c,
        "checkout points transactions",
        &format!(
            "BEGIN; {seq} INSERT INTO mem_points_txns (id, store_id, member_id, kind, reason, ref_id,
                 actor_kind, actor_id, created_at)
             SELECT {pid}, {store}, {mid}, 'checkout', '', {cid}, 'staff', 'bench', {t}
             {from_checkouts}; COMMIT;",
            seq = seq(checkouts),
            pid = id(7, "s.i"),
            cid = id(9, "s.i"),
            store = store_id("s.card"),
            mid = id(3, "s.card"),
            t = at("s.i", checkouts),
        ),
    );
    exec(
        &mut c,
        "checkout points entries",
        &format!(
            "BEGIN; {seq} INSERT INTO mem_points_entries (id, txn_id, store_id, member_id, track, account, amount, created_at)
             SELECT {eid}, {pid}, {store}, CASE l.leg % 2 WHEN 0 THEN {mid} ELSE NULL END,
                 CASE WHEN l.leg < 2 THEN 'redeemable' ELSE 'tier' END,
                 CASE l.leg % 2 WHEN 0 THEN 'member' ELSE 'earned' END,
                 CASE l.leg % 2 WHEN 0 THEN ({n1} + {n2}) / 100 ELSE -(({n1} + {n2}) / 100) END, {t}
             {from_checkouts}
             JOIN (SELECT 0 AS leg UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) AS l
             ORDER BY s.i, l.leg; COMMIT;",
            seq = seq(checkouts),
            eid = id(8, "(s.i * 4 + l.leg)"),
            pid = id(7, "s.i"),
            store = store_id("s.card"),
            mid = id(3, "s.card"),
            t = at("s.i", checkouts),
        ),
    );
    // The receipt carries what the statistics read (tier, lines); the triggers of migration
    // 000120 write the statistics facts from it, as for a real checkout.
    exec(
        &mut c,
        "checkouts (and their facts, by the triggers)",
        &format!(
            "BEGIN; {seq} INSERT INTO mem_checkouts (id, store_id, card_id, member_id, status,
                 subtotal_fen, discount_fen, total_fen, sv_txn_id, points_txn_id, receipt,
                 actor_kind, actor_id, created_at)
             SELECT {cid}, {store}, {kid}, m.id, 'completed', {g1} + {g2},
                 ({g1} + {g2}) - ({n1} + {n2}), {n1} + {n2}, {tid}, {pid},
                 '{{\"basket\":{{\"tier_code\":\"' || m.tier_code || '\",\"lines\":[' ||
                 '{{\"category\":\"' || {cat1} || '\",\"gross\":\"' || {y_g1} || '\",\"net\":\"' || {y_n1} || '\"}},' ||
                 '{{\"category\":\"' || {cat2} || '\",\"gross\":\"' || {y_g2} || '\",\"net\":\"' || {y_n2} || '\"}}]}}}}',
                 'staff', 'bench', {t}
             {from_checkouts}; COMMIT;",
            seq = seq(checkouts),
            cid = id(9, "s.i"),
            tid = id(15, "s.i"),
            pid = id(7, "s.i"),
            store = store_id("s.card"),
            kid = id(4, "s.card"),
            y_g1 = yuan(g1),
            y_n1 = yuan(&n1),
            y_g2 = yuan(g2),
            y_n2 = yuan(&n2),
            t = at("s.i", checkouts),
        ),
    );
    c.batch_execute("PRAGMA journal_mode = WAL;").unwrap();
    let count = |c: &mut dms_db::DbConnection, t: &str| -> i64 {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {t}"))
            .get_result::<N>(c)
            .unwrap()
            .n
    };
    let sv = count(&mut c, "mem_sv_entries");
    let pts = count(&mut c, "mem_points_entries");
    eprintln!(
        "done in {:.0} s: {} members, {} cards, {sv} stored-value + {pts} points = {} ledger entries, {} statistics facts",
        t0.elapsed().as_secs_f64(),
        count(&mut c, "mem_members"),
        count(&mut c, "mem_cards"),
        sv + pts,
        count(&mut c, "mem_stat_facts"),
    );
}

fn query(path: &str, month: &str, runs: usize, granularity: Granularity) {
    let from =
        NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").expect("--month YYYY-MM");
    let to = from
        .checked_add_months(chrono::Months::new(1))
        .expect("month");
    let q = StatisticsQuery {
        from,
        to,
        tier: None,
        granularity,
    };
    // A fresh connection as the server opens it (WAL, synchronous=FULL, default cache).
    let mut c = dms_db::establish(path).expect("open");
    let mut times = Vec::new();
    let mut report = None;
    for run in 0..runs {
        let t = Instant::now();
        let r = statistics_report(&mut c, &StoreScope::AllStores, &q).expect("report");
        let secs = t.elapsed().as_secs_f64();
        eprintln!("  run {}: {:.3} s", run + 1, secs);
        times.push(secs);
        report = Some(r);
    }
    let r = report.expect("at least one run");
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let median = sorted[sorted.len() / 2];
    println!(
        "month {month}: topped up {}, {} checkouts for {}, {} cards issued, {} points earned, {} stores, {} periods, {} tiers, {} categories",
        r.total.topped_up,
        r.total.checkouts,
        r.total.checkout_total,
        r.total.cards_issued,
        r.total.points_earned,
        r.by_store.len(),
        r.by_period.len(),
        r.by_tier.len(),
        r.by_category.len(),
    );
    println!(
        "statistics for one month ({} runs): first {:.3} s, median {:.3} s, min {:.3} s, max {:.3} s",
        times.len(),
        times[0],
        median,
        sorted[0],
        sorted[sorted.len() - 1]
    );
}
