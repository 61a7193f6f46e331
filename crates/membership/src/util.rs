//! Small helpers shared by the modules: the write wrapper with extra retries, audit, time.

use crate::error::{MembershipError, Result};
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use dms_core::Clock;
use dms_db::{DbConnection, TxError};
use dms_identity::{record_audit, Actor, NewAudit};
use std::time::Duration;

/// Outer attempts around `dms_db::write_tx` (which itself retries with backoff). A few more
/// rounds cover the rare case where dozens of terminals hit one hot card under PostgreSQL
/// SERIALIZABLE at once; a conflict is always safe to retry because the body is pure database
/// work.
const OUTER_ATTEMPTS: u32 = 3;

fn in_transaction(conn: &mut DbConnection) -> bool {
    let status = match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
        DbConnection::Pg(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
    };
    status
        .transaction_depth()
        .ok()
        .flatten()
        .is_some_and(|d| d.get() > 0)
}

/// A write transaction (see `dms_db::write_tx`), retried further on conflicts when it is the
/// outermost one. Inside a caller's transaction it is a savepoint and the caller owns retries.
pub(crate) fn write<T, F>(conn: &mut DbConnection, body: F) -> Result<T>
where
    F: FnMut(&mut DbConnection) -> Result<T>,
{
    write_in(conn, false, body)
}

/// As [`write`], for bodies that lock the card and member they work on before reading them
/// (`dms_db::write_tx_lock_first`, READ COMMITTED on PostgreSQL): the payment hot path.
pub(crate) fn write_lock_first<T, F>(conn: &mut DbConnection, body: F) -> Result<T>
where
    F: FnMut(&mut DbConnection) -> Result<T>,
{
    write_in(conn, true, body)
}

fn write_in<T, F>(conn: &mut DbConnection, lock_first: bool, mut body: F) -> Result<T>
where
    F: FnMut(&mut DbConnection) -> Result<T>,
{
    let mut tx = |c: &mut DbConnection| {
        if lock_first {
            dms_db::write_tx_lock_first(c, &mut body)
        } else {
            dms_db::write_tx(c, &mut body)
        }
    };
    if in_transaction(conn) {
        return tx(conn);
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        match tx(conn) {
            Err(e)
                if attempt < OUTER_ATTEMPTS
                    && e.diesel_error().is_some_and(dms_db::is_retryable) =>
            {
                let jitter = u64::from(rand::random::<u8>() % 20);
                std::thread::sleep(Duration::from_millis(u64::from(attempt) * 10 + jitter));
            }
            other => return other,
        }
    }
}

pub(crate) fn now_db(clock: &dyn Clock) -> chrono::NaiveDateTime {
    dms_db::to_db_time(clock.now())
}

pub(crate) fn audit(
    conn: &mut DbConnection,
    actor: &Actor,
    store_id: Option<&str>,
    action: &str,
    entity: &str,
    entity_id: &str,
    detail: serde_json::Value,
) -> Result<()> {
    record_audit(
        conn,
        actor,
        NewAudit {
            store_id,
            action,
            entity,
            entity_id,
            detail,
        },
    )?;
    Ok(())
}

pub(crate) fn store_exists(conn: &mut DbConnection, store_id: &str) -> Result<()> {
    use dms_db::schema::stores;
    let n: i64 = stores::table
        .filter(stores::id.eq(store_id))
        .count()
        .get_result(conn)?;
    if n == 0 {
        return Err(MembershipError::NotFound("store"));
    }
    Ok(())
}

/// Validates a positive amount (a money-moving request never moves zero or less).
pub(crate) fn positive(field: &'static str, m: dms_core::Money) -> Result<i64> {
    if m.fen() <= 0 {
        return Err(MembershipError::invalid(field, "must be greater than zero"));
    }
    Ok(m.fen())
}

/// A unique-constraint failure raced past the check in code: report it as the conflict the
/// check would have reported, not as a database error.
pub(crate) fn unique_conflict(
    e: diesel::result::Error,
    field: &'static str,
    message: &str,
) -> MembershipError {
    if dms_db::is_unique_violation(&e) {
        MembershipError::conflict(field, message)
    } else {
        MembershipError::Db(e)
    }
}
