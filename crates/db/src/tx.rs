use crate::connection::DbConnection;
use crate::error::{is_retryable, DbError};
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::result::Error as DieselError;
use diesel::Connection;
use std::time::Duration;

/// Under heavy contention on one row (a busy member card) PostgreSQL lets one writer of each
/// round win; enough attempts with growing, jittered pauses get every writer through.
const MAX_ATTEMPTS: u32 = 30;

/// Errors a transaction body may return: the crate's own error, able to say whether it wraps a
/// database conflict worth retrying.
pub trait TxError: From<DieselError> {
    fn diesel_error(&self) -> Option<&DieselError>;
}

impl TxError for DieselError {
    fn diesel_error(&self) -> Option<&DieselError> {
        Some(self)
    }
}

fn depth(conn: &mut DbConnection) -> u32 {
    let status = match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
        DbConnection::Pg(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
    };
    status
        .transaction_depth()
        .ok()
        .flatten()
        .map(|d| d.get())
        .unwrap_or(0)
}

/// How a transaction isolates itself from concurrent ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// PostgreSQL SERIALIZABLE: correct whatever the body reads, at the price of retries.
    Write,
    /// PostgreSQL READ COMMITTED: the body locks the rows it decides on first
    /// (`SELECT … FOR UPDATE`).
    LockFirst,
    Read,
}

fn begin(conn: &mut DbConnection, mode: Mode) -> Result<(), DieselError> {
    match conn {
        DbConnection::Sqlite(c) => {
            let sql = match mode {
                Mode::Write | Mode::LockFirst => "BEGIN IMMEDIATE",
                Mode::Read => "BEGIN DEFERRED",
            };
            AnsiTransactionManager::begin_transaction_sql(c, sql)
        }
        DbConnection::Pg(c) => {
            let sql = match mode {
                Mode::Write => "BEGIN ISOLATION LEVEL SERIALIZABLE",
                Mode::LockFirst => "BEGIN ISOLATION LEVEL READ COMMITTED",
                Mode::Read => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            };
            AnsiTransactionManager::begin_transaction_sql(c, sql)
        }
    }
}

fn finish(conn: &mut DbConnection, commit: bool) -> Result<(), DieselError> {
    let r = match (conn as &mut DbConnection, commit) {
        (DbConnection::Sqlite(c), true) => AnsiTransactionManager::commit_transaction(c),
        (DbConnection::Pg(c), true) => AnsiTransactionManager::commit_transaction(c),
        (DbConnection::Sqlite(c), false) => AnsiTransactionManager::rollback_transaction(c),
        (DbConnection::Pg(c), false) => AnsiTransactionManager::rollback_transaction(c),
    };
    if r.is_err() && depth(conn) > 0 {
        // A failed COMMIT can leave the transaction open on SQLite (BUSY); never hand a
        // connection back to the pool mid-transaction.
        let _ = finish(conn, false);
    }
    r
}

fn run<T, E, F>(conn: &mut DbConnection, mode: Mode, mut body: F) -> Result<T, E>
where
    E: TxError,
    F: FnMut(&mut DbConnection) -> Result<T, E>,
{
    if depth(conn) > 0 {
        // Already inside a workflow's transaction: a savepoint keeps this part all-or-nothing
        // and the outer transaction owns the retry.
        return conn.transaction(|c| body(c));
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let writer = sqlite_writer_turn(conn, mode);
        let outcome = begin(conn, mode)
            .map_err(E::from)
            .and_then(|()| match body(conn) {
                Ok(v) => finish(conn, true).map(|()| v).map_err(E::from),
                Err(e) => {
                    let _ = finish(conn, false);
                    Err(e)
                }
            });
        // The next writer's turn; not held through a retry's pause.
        drop(writer);
        match outcome {
            Err(e) if attempt < MAX_ATTEMPTS && e.diesel_error().is_some_and(is_retryable) => {
                log::debug!("transaction conflict, retrying (attempt {attempt})");
                std::thread::sleep(backoff(attempt));
            }
            other => return other,
        }
    }
}

/// SQLite admits one writer at a time. Writers of this process queue here, and the next one
/// starts the moment the last commits, instead of in SQLite's busy handler, which sleeps in
/// growing steps (1, 2, 5 … 100 ms) while the lock may already be free: under load that left
/// the database idle between payments and made some wait over a second. Other processes (the
/// CLI) still meet the busy timeout. A turn not granted within the busy timeout is not waited
/// for any longer: the transaction then proceeds as before, so a writer that somehow needs a
/// second one (another connection of the same thread) fails as it did, not forever.
static SQLITE_WRITER: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

fn sqlite_writer_turn(
    conn: &mut DbConnection,
    mode: Mode,
) -> Option<parking_lot::MutexGuard<'static, ()>> {
    match (conn, mode) {
        (DbConnection::Sqlite(_), Mode::Write | Mode::LockFirst) => {
            SQLITE_WRITER.try_lock_for(Duration::from_secs(10))
        }
        _ => None,
    }
}

/// 2, 4, 8 … 128 ms (then flat), plus up to as much again at random, so colliding writers
/// spread out instead of colliding again in step.
fn backoff(attempt: u32) -> Duration {
    let base = 2u64 << attempt.min(6);
    // The low bits of a fresh UUIDv4 are random enough for jitter.
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[15]) % base;
    Duration::from_millis(base + jitter)
}

/// Runs `body` in a write transaction: `BEGIN IMMEDIATE` on SQLite, `SERIALIZABLE` on
/// PostgreSQL, retried (up to 30 attempts, with backoff) when the engine reports a conflict. The body may run
/// more than once, so it must not have effects outside the database.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, body: F) -> Result<T, E>
where
    E: TxError,
    F: FnMut(&mut DbConnection) -> Result<T, E>,
{
    run(conn, Mode::Write, body)
}

/// Runs `body` in a write transaction whose first statements lock the rows it decides on
/// (`SELECT … FOR UPDATE` on PostgreSQL): `BEGIN IMMEDIATE` on SQLite as [`write_tx`],
/// `READ COMMITTED` on PostgreSQL. Once the body holds the locks of a card and its member, every later statement
/// sees the latest committed state of what they own, and concurrent payments on the same card
/// queue on the lock instead of failing and retrying as under SERIALIZABLE; a second write of
/// a row somebody else changed meanwhile is guarded by the constraints (balances never
/// negative, single-use updates counting their rows). For hot paths that follow that rule
/// only; everything else uses [`write_tx`]. Retried like it on deadlocks and unique conflicts
/// the body reports as retryable.
pub fn write_tx_lock_first<T, E, F>(conn: &mut DbConnection, body: F) -> Result<T, E>
where
    E: TxError,
    F: FnMut(&mut DbConnection) -> Result<T, E>,
{
    run(conn, Mode::LockFirst, body)
}

/// Runs `body` in a read transaction that sees one consistent snapshot.
pub fn read_tx<T, E, F>(conn: &mut DbConnection, body: F) -> Result<T, E>
where
    E: TxError,
    F: FnMut(&mut DbConnection) -> Result<T, E>,
{
    run(conn, Mode::Read, body)
}

/// What a [`SqliteWriter`] job hands back once it has run: called with the outcome of the
/// COMMIT of its batch (or of the BEGIN, when the batch could not start). A job that ran alone
/// is called with `Ok`: its own transactions have already reported their commits to it.
pub type Completion = Box<dyn FnOnce(Result<(), DbError>) + Send>;

/// A unit of write work for a [`SqliteWriter`]: runs inside the batch's transaction, or, when
/// it is the only job waiting, in transactions of its own.
pub type WriteJob = Box<dyn FnOnce(&mut DbConnection) -> Completion + Send>;

/// Group commit for SQLite's one writer. SQLite writes one transaction at a time; when many
/// payments arrive together, each paying for its own BEGIN, its own fsync, its own WAL copy of
/// the same index pages, and a connection whose page cache the others' writes have just
/// invalidated, most of a payment's time is that overhead, not its work. This writer owns one
/// connection and one thread: it takes every job waiting (up to a batch size), runs them one
/// after another inside one `BEGIN IMMEDIATE` transaction (each job's own transactions become
/// savepoints, so a job that fails rolls back only itself), commits once, and only then tells
/// each job how the commit went, so nobody is answered before their work is durable. A job
/// that is alone runs without that outer transaction: its own transactions commit as usual
/// before it is told `Ok`. It takes the same in-process writer turn as every other write, so
/// other writes interleave safely.
///
/// A job must not need another connection of its own for writing, and it must not panic: a
/// panic rolls the whole batch back and every job of it is told so (a job alone may have
/// committed a transaction before it panicked; callers retry with their idempotency keys).
/// Clones share the writer.
#[derive(Clone)]
pub struct SqliteWriter {
    jobs: std::sync::mpsc::Sender<WriteJob>,
}

impl SqliteWriter {
    /// Opens the writer's connection and starts its thread. `max_batch` bounds how many jobs
    /// share one commit (and so how long the first one waits for the last).
    pub fn start(url: &str, max_batch: usize) -> Result<SqliteWriter, DbError> {
        let mut conn = establish_writer(url)?;
        let (tx, rx) = std::sync::mpsc::channel::<WriteJob>();
        let url = url.to_string();
        std::thread::Builder::new()
            .name("dms-sqlite-writer".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < max_batch.max(1) {
                        match rx.try_recv() {
                            Ok(j) => batch.push(j),
                            Err(_) => break,
                        }
                    }
                    if run_batch(&mut conn, batch).is_err() {
                        // A job panicked, possibly inside one of its savepoints, or the batch
                        // could not begin: a fresh connection is the one state known to be
                        // clean (closing the old one rolls back whatever it still had open).
                        match establish_writer(&url) {
                            Ok(fresh) => conn = fresh,
                            Err(e) => log::error!("SQLite writer cannot reconnect: {e}"),
                        }
                    }
                }
            })
            .map_err(|e| DbError::NotSaved(format!("cannot start the SQLite writer: {e}")))?;
        Ok(SqliteWriter { jobs: tx })
    }

    /// Queues a job; `false` when the writer has stopped (the job is dropped unrun).
    pub fn submit(&self, job: WriteJob) -> bool {
        self.jobs.send(job).is_ok()
    }
}

/// The writer's connection. Each job runs in a savepoint of the batch's transaction, and
/// SQLite keeps what a savepoint would roll back in a statement journal, which spills to a
/// temporary file past 64 KiB: measured, most of the writer's writes went to those files, not
/// to the WAL. The writer keeps it in memory; its jobs are small writes, never big sorts.
fn establish_writer(url: &str) -> Result<DbConnection, DbError> {
    use diesel::connection::SimpleConnection;
    let mut conn = crate::connection::establish(url)?;
    match &mut conn {
        DbConnection::Sqlite(c) => c.batch_execute("PRAGMA temp_store = MEMORY")?,
        DbConnection::Pg(_) => {
            return Err(DbError::BadUrl(
                "the group-commit writer is for SQLite".into(),
            ))
        }
    }
    Ok(conn)
}

/// Runs one batch; `Err` when the connection should be replaced: a job panicked (the batch
/// was rolled back) or the transaction could not begin (nothing ran).
fn run_batch(conn: &mut DbConnection, mut batch: Vec<WriteJob>) -> Result<(), ()> {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    if batch.len() == 1 {
        // Alone, a job needs no batch around it: its own transactions commit as they go
        // (a checkout job is itself a batch of checkouts). A savepoint would make SQLite copy
        // every page the job changes into a statement journal first; measured, that was a
        // tenth of the writer's time.
        let job = batch.pop().ok_or(())?;
        return match catch_unwind(AssertUnwindSafe(|| job(conn))) {
            Ok(done) => {
                done(Ok(()));
                Ok(())
            }
            Err(_) => Err(()),
        };
    }
    let turn = SQLITE_WRITER.try_lock_for(Duration::from_secs(10));
    if let Err(e) = begin(conn, Mode::Write) {
        drop(turn);
        // Unrun jobs are dropped: their callers see the writer's answer channel close.
        log::error!("SQLite writer could not begin a transaction: {e}");
        return Err(());
    }
    let mut done: Vec<Completion> = Vec::with_capacity(batch.len());
    let mut panicked = false;
    for job in batch {
        if panicked {
            // Dropped: its caller is told the work did not happen.
            continue;
        }
        match catch_unwind(AssertUnwindSafe(|| job(conn))) {
            Ok(c) => done.push(c),
            Err(_) => panicked = true,
        }
    }
    let outcome = if panicked {
        let _ = finish(conn, false);
        Err(DbError::NotSaved(
            "another write of the same batch failed".into(),
        ))
    } else {
        finish(conn, true).map_err(DbError::from)
    };
    drop(turn);
    for c in done {
        c(match &outcome {
            Ok(()) => Ok(()),
            Err(e) => Err(DbError::NotSaved(e.to_string())),
        });
    }
    if panicked {
        Err(())
    } else {
        Ok(())
    }
}
