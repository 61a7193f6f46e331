//! Idempotency keys for every money- or points-moving operation.
//!
//! The record (caller, key, request fingerprint, result JSON) is written in the same transaction
//! as the movement, so either both exist or neither. A retry with the same key and the same
//! request returns the stored result marked as a replay and moves nothing; the same key with a
//! different request is [`MembershipError::IdempotencyMismatch`]. Two concurrent requests with one
//! key cannot both move money: on SQLite the write lock serialises them, on PostgreSQL the second
//! insert of the primary key fails and the whole transaction is retried, then finds the first
//! one's record. Keys are scoped to the caller (actor kind and id) and kept 72 hours
//! ([`purge_idempotency`]).

use crate::error::{MembershipError, Result};
use crate::schema::mem_idempotency;
use diesel::prelude::*;
use dms_db::DbConnection;
use dms_identity::Actor;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a key is remembered.
pub const KEY_RETENTION_HOURS: i64 = 72;

/// The result of an idempotent operation and whether it was a replay of an earlier one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replayable<T> {
    pub value: T,
    pub replayed: bool,
}

/// Who a key belongs to: two callers may use the same key without colliding.
pub fn principal_of(actor: &Actor) -> String {
    format!(
        "{}:{}",
        actor.kind,
        actor.id.as_deref().unwrap_or(actor.name.as_str())
    )
}

/// SHA-256 over the operation name and the request's JSON.
pub fn fingerprint<R: Serialize>(operation: &str, request: &R) -> Result<String> {
    let body = serde_json::to_vec(request).map_err(|e| MembershipError::Internal(e.to_string()))?;
    let mut h = Sha256::new();
    h.update(operation.as_bytes());
    h.update([0u8]);
    h.update(&body);
    Ok(hex::encode(h.finalize()))
}

pub(crate) fn check_key(key: &str) -> Result<()> {
    let ok = !key.is_empty() && key.len() <= 128 && key.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(MembershipError::invalid(
            "idempotency_key",
            "1-128 visible ASCII characters",
        ))
    }
}

/// Runs `body` once per (caller, key): inside one write transaction it looks the key up,
/// replays or refuses, or runs the body and stores its result.
pub(crate) fn run_idempotent<T, R, F>(
    conn: &mut DbConnection,
    actor: &Actor,
    key: &str,
    operation: &str,
    request: &R,
    now: chrono::NaiveDateTime,
    body: F,
) -> Result<Replayable<T>>
where
    T: Serialize + DeserializeOwned,
    R: Serialize,
    F: FnMut(&mut DbConnection) -> Result<T>,
{
    let no_lock = |_: &mut DbConnection| Ok(());
    let mut body = body;
    run_in(
        conn,
        actor,
        key,
        operation,
        request,
        now,
        false,
        no_lock,
        |c, ()| body(c),
    )
}

/// As [`run_idempotent`] for the payment hot path: `lock` runs first in the transaction, locks
/// the rows the body decides on (see `dms_db::write_tx_lock_first`) and hands what it read to
/// the body; concurrent requests on the same card, or with the same key, then wait for each
/// other instead of retrying.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_idempotent_locked<T, R, Locked, L, F>(
    conn: &mut DbConnection,
    actor: &Actor,
    key: &str,
    operation: &str,
    request: &R,
    now: chrono::NaiveDateTime,
    lock: L,
    body: F,
) -> Result<Replayable<T>>
where
    T: Serialize + DeserializeOwned,
    R: Serialize,
    L: FnMut(&mut DbConnection) -> Result<Locked>,
    F: FnMut(&mut DbConnection, Locked) -> Result<T>,
{
    run_in(conn, actor, key, operation, request, now, true, lock, body)
}

#[allow(clippy::too_many_arguments)]
fn run_in<T, R, Locked, L, F>(
    conn: &mut DbConnection,
    actor: &Actor,
    key: &str,
    operation: &str,
    request: &R,
    now: chrono::NaiveDateTime,
    lock_first: bool,
    mut lock: L,
    mut body: F,
) -> Result<Replayable<T>>
where
    T: Serialize + DeserializeOwned,
    R: Serialize,
    L: FnMut(&mut DbConnection) -> Result<Locked>,
    F: FnMut(&mut DbConnection, Locked) -> Result<T>,
{
    check_key(key)?;
    let principal = principal_of(actor);
    let fp = fingerprint(operation, request)?;
    let tx = |c: &mut DbConnection| {
        let locked = lock(c)?;
        let existing: Option<(String, String, String)> = mem_idempotency::table
            .find((&principal, key))
            .select((
                mem_idempotency::operation,
                mem_idempotency::fingerprint,
                mem_idempotency::result,
            ))
            .first(c)
            .optional()?;
        if let Some((op, stored_fp, result)) = existing {
            if op != operation || stored_fp != fp {
                return Err(MembershipError::IdempotencyMismatch);
            }
            let value = serde_json::from_str(&result)
                .map_err(|e| MembershipError::Internal(format!("stored result: {e}")))?;
            return Ok(Replayable {
                value,
                replayed: true,
            });
        }
        let value = body(c, locked)?;
        let result =
            serde_json::to_string(&value).map_err(|e| MembershipError::Internal(e.to_string()))?;
        let inserted = diesel::insert_into(mem_idempotency::table)
            .values((
                mem_idempotency::principal.eq(&principal),
                mem_idempotency::idem_key.eq(key),
                mem_idempotency::operation.eq(operation),
                mem_idempotency::fingerprint.eq(&fp),
                mem_idempotency::result.eq(&result),
                mem_idempotency::created_at.eq(now),
            ))
            .execute(c);
        match inserted {
            Ok(_) => Ok(Replayable {
                value,
                replayed: false,
            }),
            Err(e) if dms_db::is_unique_violation(&e) => Err(MembershipError::retry_conflict()),
            Err(e) => Err(e.into()),
        }
    };
    if lock_first {
        crate::util::write_lock_first(conn, tx)
    } else {
        crate::util::write(conn, tx)
    }
}

/// Forgets keys older than the retention window; returns how many were removed.
pub fn purge_idempotency(
    conn: &mut DbConnection,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<usize> {
    let cutoff = dms_db::to_db_time(now - chrono::Duration::hours(KEY_RETENTION_HOURS));
    Ok(
        diesel::delete(mem_idempotency::table.filter(mem_idempotency::created_at.lt(cutoff)))
            .execute(conn)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_depends_on_operation_and_body() {
        let a = fingerprint("topup", &serde_json::json!({"amount": "1.00"})).unwrap();
        let b = fingerprint("topup", &serde_json::json!({"amount": "1.01"})).unwrap();
        let c = fingerprint("debit", &serde_json::json!({"amount": "1.00"})).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn keys_are_checked() {
        assert!(check_key("abc-123").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("has space").is_err());
        assert!(check_key(&"x".repeat(129)).is_err());
    }
}
