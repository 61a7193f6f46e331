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
use dms_db::{ColumnType, DbConnection, Rows};
use dms_identity::Actor;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

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
/// replays or refuses, or runs the body and stores its result. (Checkouts do the same for a
/// whole batch at once: `checkout::checkout_batch`.)
pub(crate) fn run_idempotent<T, R, F>(
    conn: &mut DbConnection,
    actor: &Actor,
    key: &str,
    operation: &str,
    request: &R,
    now: chrono::NaiveDateTime,
    mut body: F,
) -> Result<Replayable<T>>
where
    T: Serialize + DeserializeOwned,
    R: Serialize,
    F: FnMut(&mut DbConnection) -> Result<T>,
{
    check_key(key)?;
    let principal = principal_of(actor);
    let fp = fingerprint(operation, request)?;
    crate::util::write(conn, |c| {
        let existing: Option<StoredAnswer> = mem_idempotency::table
            .find((&principal, key))
            .select((
                mem_idempotency::operation,
                mem_idempotency::fingerprint,
                mem_idempotency::result,
            ))
            .first(c)
            .optional()?;
        if let Some(stored) = existing {
            return replay(&stored, operation, &fp);
        }
        let value = body(c)?;
        let result =
            serde_json::to_string(&value).map_err(|e| MembershipError::Internal(e.to_string()))?;
        let mut answers = Answers::default();
        answers.push(&principal, key, operation, &fp, result, now);
        answers.write(c)?;
        Ok(Replayable {
            value,
            replayed: false,
        })
    })
}

/// What a key's first request answered: (operation, fingerprint, result JSON).
pub(crate) type StoredAnswer = (String, String, String);

/// The stored answer again, marked as a replay; refused when the key was used for another
/// request.
pub(crate) fn replay<T: DeserializeOwned>(
    stored: &StoredAnswer,
    operation: &str,
    fingerprint: &str,
) -> Result<Replayable<T>> {
    let (op, stored_fp, result) = stored;
    if op != operation || stored_fp != fingerprint {
        return Err(MembershipError::IdempotencyMismatch);
    }
    let value = serde_json::from_str(result)
        .map_err(|e| MembershipError::Internal(format!("stored result: {e}")))?;
    Ok(Replayable {
        value,
        replayed: true,
    })
}

/// The stored answers of several (principal, key) pairs, in one query.
pub(crate) fn stored_answers(
    c: &mut DbConnection,
    wanted: &[(&str, &str)],
) -> Result<HashMap<(String, String), StoredAnswer>> {
    let keys: Vec<&str> = wanted.iter().map(|(_, k)| *k).collect();
    let mut principals: Vec<&str> = wanted.iter().map(|(p, _)| *p).collect();
    principals.sort_unstable();
    principals.dedup();
    // Both columns of the primary key, so that the lookup is an index search.
    let q = || {
        mem_idempotency::table
            .filter(mem_idempotency::principal.eq_any(principals.clone()))
            .filter(mem_idempotency::idem_key.eq_any(keys.clone()))
            .select((
                mem_idempotency::principal,
                mem_idempotency::idem_key,
                mem_idempotency::operation,
                mem_idempotency::fingerprint,
                mem_idempotency::result,
            ))
    };
    // On its own connection each engine binds the keys its own way (one array on PostgreSQL).
    type Row = (String, String, String, String, String);
    let rows: Vec<Row> = match c {
        DbConnection::Pg(pg) => q().load(pg)?,
        DbConnection::Sqlite(lite) => q().load(lite)?,
    };
    Ok(rows
        .into_iter()
        .filter(|(p, k, ..)| wanted.contains(&(p.as_str(), k.as_str())))
        .map(|(p, k, op, fp, result)| ((p, k), (op, fp, result)))
        .collect())
}

/// First answers to store, written together in the transaction that did the work.
#[derive(Debug)]
pub(crate) struct Answers(Rows);

const ANSWER_COLUMNS: &[(&str, ColumnType)] = &[
    ("principal", ColumnType::Text),
    ("idem_key", ColumnType::Text),
    ("operation", ColumnType::Text),
    ("fingerprint", ColumnType::Text),
    ("result", ColumnType::Text),
    ("created_at", ColumnType::Timestamp),
];

impl Default for Answers {
    fn default() -> Answers {
        Answers(Rows::new("mem_idempotency", ANSWER_COLUMNS))
    }
}

impl Answers {
    pub(crate) fn push(
        &mut self,
        principal: &str,
        key: &str,
        operation: &str,
        fingerprint: &str,
        result: String,
        now: chrono::NaiveDateTime,
    ) {
        self.0.push(vec![
            principal.into(),
            key.into(),
            operation.into(),
            fingerprint.into(),
            result.into(),
            now.into(),
        ]);
    }

    pub(crate) fn append(&mut self, other: Answers) {
        self.0.append(other.0);
    }

    /// A key another transaction stored meanwhile makes the whole transaction retry; the
    /// retry then finds that answer.
    pub(crate) fn write(&self, c: &mut DbConnection) -> Result<()> {
        match self.0.insert(c) {
            Ok(_) => Ok(()),
            Err(e) if dms_db::is_unique_violation(&e) => Err(MembershipError::retry_conflict()),
            Err(e) => Err(e.into()),
        }
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
