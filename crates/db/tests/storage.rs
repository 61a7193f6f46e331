//! The storage layer on both engines: migrations, settings, transactions, money columns.
#![allow(clippy::unwrap_used)]

use dms_db::diesel::prelude::*;
use dms_db::diesel::sql_types::{BigInt, Text};
use dms_db::schema::{dealer_groups, stores};
use dms_db::testing::TestDb;
use dms_db::{engine_tests, write_tx, DbConnection, Engine};

#[derive(QueryableByName)]
struct Text1 {
    #[diesel(sql_type = Text)]
    v: String,
}

#[derive(QueryableByName)]
struct Big1 {
    #[diesel(sql_type = BigInt)]
    v: i64,
}

fn now() -> chrono::NaiveDateTime {
    dms_db::to_db_time(chrono::Utc::now())
}

fn make_group(c: &mut DbConnection) -> String {
    let id = dms_core::new_id();
    diesel::insert_into(dealer_groups::table)
        .values((
            dealer_groups::id.eq(&id),
            dealer_groups::name.eq("华通汽车集团"),
            dealer_groups::created_at.eq(now()),
        ))
        .execute(c)
        .unwrap();
    id
}

fn sqlite_settings_are_applied(db: &TestDb) {
    let mut c = db.pool.get().unwrap();
    if c.engine() != Engine::Sqlite {
        return;
    }
    let mode: Vec<Text1> = diesel::sql_query("PRAGMA journal_mode AS v")
        .load(&mut *c)
        .unwrap_or_default();
    let mode = mode.first().map(|r| r.v.clone()).unwrap_or_else(|| {
        let r: Vec<Text1> = diesel::sql_query("SELECT journal_mode AS v FROM pragma_journal_mode")
            .load(&mut *c)
            .unwrap();
        r[0].v.clone()
    });
    assert_eq!(mode.to_lowercase(), "wal");
    let sync: Vec<Big1> = diesel::sql_query("SELECT synchronous AS v FROM pragma_synchronous")
        .load(&mut *c)
        .unwrap();
    assert_eq!(sync[0].v, 2, "synchronous=FULL");
    let fk: Vec<Big1> = diesel::sql_query("SELECT foreign_keys AS v FROM pragma_foreign_keys")
        .load(&mut *c)
        .unwrap();
    assert_eq!(fk[0].v, 1);
    let busy: Vec<Big1> = diesel::sql_query("SELECT timeout AS v FROM pragma_busy_timeout")
        .load(&mut *c)
        .unwrap();
    assert!(busy[0].v >= 5000);
}

fn foreign_keys_are_enforced(db: &TestDb) {
    let mut c = db.pool.get().unwrap();
    let r = diesel::insert_into(stores::table)
        .values((
            stores::id.eq(dms_core::new_id()),
            stores::group_id.eq("no-such-group"),
            stores::code.eq("X1"),
            stores::name.eq("x"),
            stores::created_at.eq(now()),
            stores::updated_at.eq(now()),
        ))
        .execute(&mut *c);
    assert!(r.is_err(), "a store of a missing group must be refused");
}

fn failed_transaction_leaves_nothing(db: &TestDb) {
    let mut c = db.pool.get().unwrap();
    let r: Result<(), diesel::result::Error> = write_tx(&mut c, |c| {
        make_group(c);
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert!(r.is_err());
    let n: i64 = dealer_groups::table.count().get_result(&mut *c).unwrap();
    assert_eq!(n, 0);
    // The connection is usable and out of the transaction afterwards.
    write_tx(&mut c, |c| -> Result<(), diesel::result::Error> {
        make_group(c);
        Ok(())
    })
    .unwrap();
    let n: i64 = dealer_groups::table.count().get_result(&mut *c).unwrap();
    assert_eq!(n, 1);
}

/// Many threads increment one counter with read-modify-write inside `write_tx`: on SQLite the
/// IMMEDIATE lock serialises them, on PostgreSQL SERIALIZABLE + retry does. No update is lost.
fn concurrent_read_modify_write_loses_nothing(db: &TestDb) {
    let group = {
        let mut c = db.pool.get().unwrap();
        make_group(&mut c)
    };
    let threads = 4;
    let per_thread = 15;
    std::thread::scope(|s| {
        for _ in 0..threads {
            let pool = db.pool.clone();
            let group = group.clone();
            s.spawn(move || {
                for _ in 0..per_thread {
                    let mut c = pool.get().unwrap();
                    write_tx(&mut c, |c| -> Result<(), diesel::result::Error> {
                        let name: String = dealer_groups::table
                            .find(&group)
                            .select(dealer_groups::name)
                            .first(c)?;
                        let n: i64 = name
                            .rsplit('#')
                            .next()
                            .and_then(|x| x.parse().ok())
                            .unwrap_or(0);
                        diesel::update(dealer_groups::table.find(&group))
                            .set(dealer_groups::name.eq(format!("g#{}", n + 1)))
                            .execute(c)?;
                        Ok(())
                    })
                    .unwrap();
                }
            });
        }
    });
    let mut c = db.pool.get().unwrap();
    let name: String = dealer_groups::table
        .find(&group)
        .select(dealer_groups::name)
        .first(&mut *c)
        .unwrap();
    assert_eq!(name, format!("g#{}", threads * per_thread));
}

fn timestamps_round_trip(db: &TestDb) {
    let mut c = db.pool.get().unwrap();
    let id = dms_core::new_id();
    let t = chrono::NaiveDate::from_ymd_opt(2026, 2, 28)
        .unwrap()
        .and_hms_micro_opt(23, 59, 58, 123_456)
        .unwrap();
    diesel::insert_into(dealer_groups::table)
        .values((
            dealer_groups::id.eq(&id),
            dealer_groups::name.eq("t"),
            dealer_groups::created_at.eq(t),
        ))
        .execute(&mut *c)
        .unwrap();
    let back: chrono::NaiveDateTime = dealer_groups::table
        .find(&id)
        .select(dealer_groups::created_at)
        .first(&mut *c)
        .unwrap();
    assert_eq!(back, t);
    let later: i64 = dealer_groups::table
        .filter(dealer_groups::created_at.gt(t - chrono::Duration::microseconds(1)))
        .count()
        .get_result(&mut *c)
        .unwrap();
    assert_eq!(later, 1);
}

fn wrong_scheme_is_refused_not_a_file() {
    assert!(Engine::from_url("postgress://x").is_err());
    assert!(Engine::from_url("mysql://x").is_err());
    assert_eq!(
        Engine::from_url("postgresql://u@h/db").unwrap(),
        Engine::Postgres
    );
    assert_eq!(
        Engine::from_url("./data/dms.sqlite3").unwrap(),
        Engine::Sqlite
    );
    // An unreachable PostgreSQL is an error, never a SQLite file named like the URL.
    let r = dms_db::establish("postgres://nobody@127.0.0.1:1/none");
    assert!(r.is_err());
    assert!(!std::path::Path::new("postgres:").exists());
}

#[test]
fn url_schemes() {
    wrong_scheme_is_refused_not_a_file();
}

/// Many rows in one write: inserted with every type of value (NULLs too), added to by key,
/// and a row that does not fit its columns refused before anything is written.
fn rows_insert_and_add_to(db: &TestDb) {
    use dms_db::diesel::connection::SimpleConnection;
    use dms_db::{ColumnType as T, Rows, Value};
    let mut c = db.pool.get().unwrap();
    c.batch_execute(
        "CREATE TABLE tally (id TEXT PRIMARY KEY, n BIGINT NOT NULL CHECK (n >= 0), \
         note TEXT, at TIMESTAMP NOT NULL, due TIMESTAMP)",
    )
    .unwrap();
    const COLUMNS: &[(&str, T)] = &[
        ("id", T::Text),
        ("n", T::BigInt),
        ("note", T::NullableText),
        ("at", T::Timestamp),
        ("due", T::NullableTimestamp),
    ];
    // Whole seconds: PostgreSQL keeps microseconds only.
    let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 27)
        .and_then(|d| d.and_hms_opt(8, 30, 0))
        .unwrap();
    let mut rows = Rows::new("tally", COLUMNS);
    for i in 0..50i64 {
        rows.push(vec![
            format!("t{i:02}").into(),
            i.into(),
            (i % 2 == 0).then(|| format!("第{i}行")).into(),
            at.into(),
            (i % 3 == 0).then_some(at).into(),
        ]);
    }
    assert_eq!(rows.insert(&mut c).unwrap(), 50);
    let read =
        |c: &mut DbConnection, id: &str| -> (i64, Option<String>, Option<chrono::NaiveDateTime>) {
            diesel::sql_query(format!("SELECT n, note, due FROM tally WHERE id = '{id}'"))
                .get_result::<Tally>(c)
                .map(|t| (t.n, t.note, t.due))
                .unwrap()
        };
    assert_eq!(read(&mut c, "t04"), (4, Some("第4行".into()), None));
    assert_eq!(read(&mut c, "t03"), (3, None, Some(at)));
    // SQLite writes them 32, 16 and 2 to a statement: the rows at each boundary are whole.
    assert_eq!(read(&mut c, "t31"), (31, None, None));
    assert_eq!(read(&mut c, "t32"), (32, Some("第32行".into()), None));
    assert_eq!(read(&mut c, "t48"), (48, Some("第48行".into()), Some(at)));
    assert_eq!(read(&mut c, "t49"), (49, None, None));
    // Added to by key; an unknown key updates nothing.
    const DELTAS: &[(&str, T)] = &[("id", T::Text), ("n", T::BigInt), ("note", T::NullableText)];
    let mut d = Rows::new("tally", DELTAS);
    d.push(vec!["t01".into(), 10i64.into(), Some("加").into()]);
    d.push(vec![
        "t02".into(),
        (-2i64).into(),
        Value::NullableText(None),
    ]);
    d.push(vec![
        "nobody".into(),
        1i64.into(),
        Value::NullableText(None),
    ]);
    assert_eq!(d.add_to(&mut c, 1).unwrap(), 2);
    assert_eq!(read(&mut c, "t01"), (11, Some("加".into()), None));
    assert_eq!(read(&mut c, "t02").0, 0);
    // A CHECK refuses the whole statement.
    let mut below = Rows::new("tally", DELTAS);
    below.push(vec![
        "t05".into(),
        (-1i64).into(),
        Value::NullableText(None),
    ]);
    below.push(vec![
        "t06".into(),
        (-7i64).into(),
        Value::NullableText(None),
    ]);
    let failed: Result<usize, diesel::result::Error> = write_tx(&mut c, |c| below.add_to(c, 1));
    assert!(failed.is_err());
    assert_eq!(read(&mut c, "t05").0, 5);
    // A row of the wrong shape: nothing of the set is written.
    let mut bad = Rows::new("tally", COLUMNS);
    bad.push(vec![
        "x1".into(),
        1i64.into(),
        Value::NullableText(None),
        at.into(),
        Value::NullableTimestamp(None),
    ]);
    bad.push(vec!["x2".into(), "not a number".into()]);
    assert!(bad.insert(&mut c).is_err());
    let n: i64 = diesel::sql_query("SELECT COUNT(*) AS v FROM tally")
        .get_result::<Big1>(&mut c)
        .unwrap()
        .v;
    assert_eq!(n, 50);
}

#[derive(QueryableByName)]
struct Tally {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    note: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamp>)]
    due: Option<chrono::NaiveDateTime>,
}

engine_tests!(
    sqlite_settings_are_applied,
    foreign_keys_are_enforced,
    failed_transaction_leaves_nothing,
    concurrent_read_modify_write_loses_nothing,
    timestamps_round_trip,
    rows_insert_and_add_to,
);

/// The group-commit writer: jobs queued together share one transaction, each is answered only
/// after it is committed, a failing job undoes only its own savepoint, a job alone commits on
/// its own, and a panicking job undoes its whole batch, each of whose callers is told nothing
/// was saved.
#[test]
fn sqlite_group_commit_writer() {
    use std::sync::mpsc;
    let db = TestDb::sqlite();
    let group = {
        let mut c = db.pool.get().unwrap();
        make_group(&mut c)
    };
    let writer = dms_db::SqliteWriter::start(&db.url, 8).unwrap();
    let count = |db: &TestDb| -> i64 {
        let mut c = db.pool.get().unwrap();
        stores::table.count().get_result(&mut c).unwrap()
    };
    // A job adding a store through a domain-style transaction (a savepoint here); `fail`
    // makes it fail after its insert.
    let job = |code: String, fail: bool, answers: mpsc::Sender<(String, Result<bool, String>)>| {
        let group = group.clone();
        Box::new(move |c: &mut DbConnection| {
            let r: Result<(), diesel::result::Error> = write_tx(c, |c| {
                diesel::insert_into(stores::table)
                    .values((
                        stores::id.eq(dms_core::new_id()),
                        stores::group_id.eq(&group),
                        stores::code.eq(&code),
                        stores::name.eq("门店"),
                        stores::created_at.eq(now()),
                        stores::updated_at.eq(now()),
                    ))
                    .execute(c)?;
                if fail {
                    return Err(diesel::result::Error::RollbackTransaction);
                }
                Ok(())
            });
            Box::new(move |commit: Result<(), dms_db::DbError>| {
                let _ = answers.send((code, commit.map(|()| r.is_ok()).map_err(|e| e.to_string())));
            }) as dms_db::Completion
        }) as dms_db::WriteJob
    };
    let (tx, rx) = mpsc::channel();
    for i in 0..20 {
        assert!(writer.submit(job(format!("G{i:02}"), i % 5 == 0, tx.clone())));
    }
    let mut answers: Vec<_> = (0..20).map(|_| rx.recv().unwrap()).collect();
    answers.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (_, r)) in answers.iter().enumerate() {
        assert_eq!(r, &Ok(i % 5 != 0), "job {i}");
    }
    assert_eq!(
        count(&db),
        16,
        "the four failing jobs undid only themselves"
    );

    // A job alone (the writer idle when it comes) commits in its own transaction, which
    // another connection sees once it is answered; alone, a failing job still saves nothing.
    let (tx, rx) = mpsc::channel();
    assert!(writer.submit(job("A01".into(), false, tx.clone())));
    assert_eq!(rx.recv().unwrap(), ("A01".to_string(), Ok(true)));
    assert_eq!(count(&db), 17);
    assert!(writer.submit(job("A02".into(), true, tx.clone())));
    assert_eq!(rx.recv().unwrap(), ("A02".to_string(), Ok(false)));
    assert_eq!(count(&db), 17, "the failing job alone saved nothing");

    // A panic in a batch: nothing of that batch is saved and every job of it is told so.
    let (tx, rx) = mpsc::channel();
    let ok_job = job("P01".into(), false, tx.clone());
    // It panics half-way through its own transaction, inside a savepoint.
    let group_of_panic = group.clone();
    let panicking: dms_db::WriteJob = Box::new(move |c: &mut DbConnection| {
        let _: Result<(), diesel::result::Error> = write_tx(c, |c| {
            diesel::insert_into(stores::table)
                .values((
                    stores::id.eq(dms_core::new_id()),
                    stores::group_id.eq(&group_of_panic),
                    stores::code.eq("P99"),
                    stores::name.eq("门店"),
                    stores::created_at.eq(now()),
                    stores::updated_at.eq(now()),
                ))
                .execute(c)?;
            panic!("a bug in a job");
        });
        unreachable!()
    });
    // Queued back to back, so they share a batch unless the writer is idle in between: either
    // way the panicking job's batch saves nothing, and the writer keeps working.
    assert!(writer.submit(ok_job));
    assert!(writer.submit(panicking));
    let (code, r) = rx.recv().unwrap();
    assert_eq!(code, "P01");
    let saved = count(&db) == 18;
    assert_eq!(r.is_ok(), saved, "answered as it was saved: {r:?}");
    // The writer survives the panic: a later job is answered. One that lands in the panicking
    // job's batch (if the writer had not reached it yet) is dropped unrun, which its caller
    // sees as a closed channel, so it is sent again.
    let mut answered = None;
    for _ in 0..3 {
        let (tx, rx) = mpsc::channel();
        assert!(writer.submit(job("P02".into(), false, tx)));
        if let Ok((_, r)) = rx.recv() {
            answered = Some(r);
            break;
        }
    }
    assert_eq!(answered, Some(Ok(true)), "the writer survives a panic");
}
