//! The SQLite baseline of the checkout benchmark (`scripts/bench/checkout.sh`): pgbench's
//! built-in TPC-B-like transaction, looped by `--clients` threads for `--seconds` on a SQLite
//! file opened exactly as the server opens it (`dms_db::establish`: WAL, synchronous=FULL,
//! busy_timeout) and written in `BEGIN IMMEDIATE` transactions, as the server's writes are.
//!
//! ```text
//! sqlite_tpcb PATH [--clients 8] [--seconds 10] [--scale 1]
//! ```
//!
//! Per transaction, as pgbench's script: update an account, read it back, update its teller
//! and branch, insert a history row; commit.

// A benchmark tool: a failure is reported by a panic with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect(name))
}

#[derive(QueryableByName)]
struct Balance {
    #[diesel(sql_type = BigInt)]
    abalance: i64,
}

/// A small xorshift generator per thread: no shared state between the clients.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .cloned()
        .expect("usage: sqlite_tpcb PATH [options]");
    let clients = arg(&args, "--clients", 8);
    let seconds = arg(&args, "--seconds", 10);
    let scale = arg(&args, "--scale", 1);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
    let mut c = dms_db::establish(&path).expect("open");
    let accounts = scale * 100_000;
    c.batch_execute(&format!(
        "CREATE TABLE pgbench_branches (bid INTEGER PRIMARY KEY, bbalance INTEGER NOT NULL, filler TEXT);
         CREATE TABLE pgbench_tellers (tid INTEGER PRIMARY KEY, bid INTEGER NOT NULL, tbalance INTEGER NOT NULL, filler TEXT);
         CREATE TABLE pgbench_accounts (aid INTEGER PRIMARY KEY, bid INTEGER NOT NULL, abalance INTEGER NOT NULL, filler TEXT);
         CREATE TABLE pgbench_history (tid INTEGER, bid INTEGER, aid INTEGER, delta INTEGER, mtime TIMESTAMP, filler TEXT);
         BEGIN;
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {scale})
             INSERT INTO pgbench_branches SELECT i, 0, NULL FROM s;
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {tellers})
             INSERT INTO pgbench_tellers SELECT i, (i - 1) / 10 + 1, 0, NULL FROM s;
         WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {accounts})
             INSERT INTO pgbench_accounts SELECT i, (i - 1) / 100000 + 1, 0, printf('%84s', '') FROM s;
         COMMIT;",
        tellers = scale * 10,
    ))
    .expect("initialise");
    drop(c);

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    let started = Instant::now();
    for n in 0..clients {
        let (path, stop, done, failed) = (path.clone(), stop.clone(), done.clone(), failed.clone());
        threads.push(std::thread::spawn(move || {
            let mut c = dms_db::establish(&path).expect("open");
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (n + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
            while !stop.load(Ordering::Relaxed) {
                let aid = (rng.below(accounts) + 1) as i32;
                let tid = (rng.below(scale * 10) + 1) as i32;
                let bid = (rng.below(scale) + 1) as i32;
                let delta = rng.below(10_001) as i32 - 5000;
                let r = (|| -> QueryResult<()> {
                    c.batch_execute("BEGIN IMMEDIATE")?;
                    diesel::sql_query(
                        "UPDATE pgbench_accounts SET abalance = abalance + ? WHERE aid = ?",
                    )
                    .bind::<Integer, _>(delta)
                    .bind::<Integer, _>(aid)
                    .execute(&mut c)?;
                    let b: Balance =
                        diesel::sql_query("SELECT abalance FROM pgbench_accounts WHERE aid = ?")
                            .bind::<Integer, _>(aid)
                            .get_result(&mut c)?;
                    std::hint::black_box(b.abalance);
                    diesel::sql_query(
                        "UPDATE pgbench_tellers SET tbalance = tbalance + ? WHERE tid = ?",
                    )
                    .bind::<Integer, _>(delta)
                    .bind::<Integer, _>(tid)
                    .execute(&mut c)?;
                    diesel::sql_query(
                        "UPDATE pgbench_branches SET bbalance = bbalance + ? WHERE bid = ?",
                    )
                    .bind::<Integer, _>(delta)
                    .bind::<Integer, _>(bid)
                    .execute(&mut c)?;
                    diesel::sql_query(
                        "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) \
                         VALUES (?, ?, ?, ?, CURRENT_TIMESTAMP)",
                    )
                    .bind::<Integer, _>(tid)
                    .bind::<Integer, _>(bid)
                    .bind::<Integer, _>(aid)
                    .bind::<Integer, _>(delta)
                    .execute(&mut c)?;
                    c.batch_execute("COMMIT")
                })();
                match r {
                    Ok(()) => {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        let _ = c.batch_execute("ROLLBACK");
                        if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("transaction failed: {e}");
                        }
                    }
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("client thread");
    }
    let secs = started.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    println!(
        "sqlite tpc-b: {clients} clients, {secs:.1} s, {n} transactions, {} failed, tps = {:.1}",
        failed.load(Ordering::Relaxed),
        n as f64 / secs
    );
}
