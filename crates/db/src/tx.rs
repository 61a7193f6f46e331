use crate::connection::DbConnection;
use crate::error::is_retryable;
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

fn begin(conn: &mut DbConnection, write: bool) -> Result<(), DieselError> {
    match conn {
        DbConnection::Sqlite(c) => {
            let sql = if write {
                "BEGIN IMMEDIATE"
            } else {
                "BEGIN DEFERRED"
            };
            AnsiTransactionManager::begin_transaction_sql(c, sql)
        }
        DbConnection::Pg(c) => {
            let sql = if write {
                "BEGIN ISOLATION LEVEL SERIALIZABLE"
            } else {
                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
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

fn run<T, E, F>(conn: &mut DbConnection, write: bool, mut body: F) -> Result<T, E>
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
        let outcome = begin(conn, write)
            .map_err(E::from)
            .and_then(|()| match body(conn) {
                Ok(v) => finish(conn, true).map(|()| v).map_err(E::from),
                Err(e) => {
                    let _ = finish(conn, false);
                    Err(e)
                }
            });
        match outcome {
            Err(e) if attempt < MAX_ATTEMPTS && e.diesel_error().is_some_and(is_retryable) => {
                log::debug!("transaction conflict, retrying (attempt {attempt})");
                std::thread::sleep(backoff(attempt));
            }
            other => return other,
        }
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
    run(conn, true, body)
}

/// Runs `body` in a read transaction that sees one consistent snapshot.
pub fn read_tx<T, E, F>(conn: &mut DbConnection, body: F) -> Result<T, E>
where
    E: TxError,
    F: FnMut(&mut DbConnection) -> Result<T, E>,
{
    run(conn, false, body)
}
