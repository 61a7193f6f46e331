//! Card PINs (卡密): set, change, verify, staff reset.
//!
//! Stored as argon2id with a pepper that lives in configuration, not in the database (a stolen
//! database alone does not allow offline guessing of six-digit PINs). Five consecutive failures
//! lock the PIN for 30 minutes; ten lock it until staff reset it. The counter is a column of the
//! card updated in a write transaction, so it survives restarts and concurrent guesses are all
//! counted. A [`Pin`] never prints: its `Debug` is redacted and it has no `Display` or
//! `Serialize`.

use crate::cards::scoped_card;
use crate::error::{MembershipError, Result};
use crate::schema::mem_cards;
use crate::util::{audit, now_db, write};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use dms_core::{Clock, StoreScope};
use dms_db::DbConnection;
use dms_identity::Actor;
use serde_json::json;

/// Consecutive failures that lock the PIN for [`SOFT_LOCK_MINUTES`].
pub const SOFT_LOCK_AFTER: i32 = 5;
pub const SOFT_LOCK_MINUTES: i64 = 30;
/// Consecutive failures that lock the PIN until staff reset it.
pub const HARD_LOCK_AFTER: i32 = 10;

/// A PIN as typed: six digits. Never printed.
#[derive(Clone)]
pub struct Pin(String);

impl Pin {
    pub fn new(s: &str) -> Result<Pin> {
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Pin(s.to_string()))
        } else {
            Err(MembershipError::invalid("pin", "six digits"))
        }
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

/// The pepper, from configuration.
#[derive(Clone)]
pub struct PinPolicy {
    pepper: Vec<u8>,
}

impl std::fmt::Debug for PinPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinPolicy { pepper: <redacted> }")
    }
}

impl PinPolicy {
    pub fn new(pepper: Vec<u8>) -> Result<PinPolicy> {
        if pepper.len() < 16 {
            return Err(MembershipError::invalid("pepper", "at least 16 bytes"));
        }
        Ok(PinPolicy { pepper })
    }

    fn argon2(&self) -> Result<Argon2<'_>> {
        let params = Params::new(19 * 1024, 2, 1, None)
            .map_err(|_| MembershipError::Internal("argon2 parameters".into()))?;
        Argon2::new_with_secret(&self.pepper, Algorithm::Argon2id, Version::V0x13, params)
            .map_err(|_| MembershipError::Internal("argon2 pepper".into()))
    }

    fn hash(&self, pin: &Pin) -> Result<String> {
        let salt = SaltString::generate(&mut OsRng);
        self.argon2()?
            .hash_password(pin.0.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| MembershipError::Internal("PIN hashing failed".into()))
    }

    fn matches(&self, pin: &Pin, stored: &str) -> Result<bool> {
        let Ok(h) = PasswordHash::new(stored) else {
            return Ok(false);
        };
        Ok(self.argon2()?.verify_password(pin.0.as_bytes(), &h).is_ok())
    }
}

/// What a verification did; the counter update must commit even when the PIN was wrong, so the
/// transaction returns this and the error is raised after it.
enum Check {
    Ok,
    Wrong { attempts_left: i32 },
    Locked(Option<DateTime<Utc>>),
    NotSet,
}

type PinRow = (Option<String>, i32, Option<chrono::NaiveDateTime>, bool);

fn pin_row(c: &mut DbConnection, card_id: &str) -> Result<PinRow> {
    Ok(mem_cards::table
        .find(card_id)
        .select((
            mem_cards::pin_hash,
            mem_cards::pin_failures,
            mem_cards::pin_locked_until,
            mem_cards::pin_hard_locked,
        ))
        .first(c)?)
}

fn check_in_tx(
    c: &mut DbConnection,
    policy: &PinPolicy,
    card_id: &str,
    pin: &Pin,
    now: chrono::NaiveDateTime,
) -> Result<Check> {
    let (hash, failures, until, hard) = pin_row(c, card_id)?;
    let Some(hash) = hash else {
        return Ok(Check::NotSet);
    };
    if hard {
        return Ok(Check::Locked(None));
    }
    if let Some(u) = until.filter(|u| *u > now) {
        return Ok(Check::Locked(Some(dms_db::from_db_time(u))));
    }
    if policy.matches(pin, &hash)? {
        diesel::update(mem_cards::table.find(card_id))
            .set((
                mem_cards::pin_failures.eq(0),
                mem_cards::pin_locked_until.eq(None::<chrono::NaiveDateTime>),
            ))
            .execute(c)?;
        return Ok(Check::Ok);
    }
    let failures = failures + 1;
    let hard = failures >= HARD_LOCK_AFTER;
    let until = (!hard && failures % SOFT_LOCK_AFTER == 0)
        .then(|| now + chrono::Duration::minutes(SOFT_LOCK_MINUTES));
    diesel::update(mem_cards::table.find(card_id))
        .set((
            mem_cards::pin_failures.eq(failures),
            mem_cards::pin_locked_until.eq(until),
            mem_cards::pin_hard_locked.eq(hard),
        ))
        .execute(c)?;
    if hard {
        Ok(Check::Locked(None))
    } else if let Some(u) = until {
        Ok(Check::Locked(Some(dms_db::from_db_time(u))))
    } else {
        Ok(Check::Wrong {
            attempts_left: SOFT_LOCK_AFTER - failures % SOFT_LOCK_AFTER,
        })
    }
}

fn outcome(check: Check) -> Result<()> {
    match check {
        Check::Ok => Ok(()),
        Check::Wrong { attempts_left } => Err(MembershipError::WrongPin { attempts_left }),
        Check::Locked(until) => Err(MembershipError::PinLocked { until }),
        Check::NotSet => Err(MembershipError::PinNotSet),
    }
}

/// Checks a PIN, counting failures.
pub fn verify_pin(
    conn: &mut DbConnection,
    scope: &StoreScope,
    clock: &dyn Clock,
    policy: &PinPolicy,
    card_id: &str,
    pin: &Pin,
) -> Result<()> {
    let now = now_db(clock);
    let check = write(conn, |c| {
        let card = scoped_card(c, scope, card_id)?;
        check_in_tx(c, policy, &card.id, pin, now)
    })?;
    outcome(check)
}

fn store_hash(
    c: &mut DbConnection,
    card_id: &str,
    hash: Option<&str>,
    now: chrono::NaiveDateTime,
) -> Result<()> {
    diesel::update(mem_cards::table.find(card_id))
        .set((
            mem_cards::pin_hash.eq(hash),
            mem_cards::pin_failures.eq(0),
            mem_cards::pin_locked_until.eq(None::<chrono::NaiveDateTime>),
            mem_cards::pin_hard_locked.eq(false),
            mem_cards::updated_at.eq(now),
        ))
        .execute(c)?;
    Ok(())
}

/// Sets the first PIN of a card (at issue, with the member present).
pub fn set_pin(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    policy: &PinPolicy,
    card_id: &str,
    pin: &Pin,
) -> Result<()> {
    let hash = policy.hash(pin)?;
    let now = now_db(clock);
    write(conn, |c| {
        let card = scoped_card(c, scope, card_id)?;
        if pin_row(c, &card.id)?.0.is_some() {
            return Err(MembershipError::conflict(
                "pin",
                "a PIN is set: change it or have staff reset it",
            ));
        }
        store_hash(c, &card.id, Some(&hash), now)?;
        audit(
            c,
            actor,
            Some(&card.store_id),
            "membership.pin.set",
            "card",
            &card.id,
            json!({}),
        )
    })
}

/// Changes the PIN, proving the old one (a wrong old PIN counts as a failure).
#[allow(clippy::too_many_arguments)] // the usual five context arguments plus two PINs
pub fn change_pin(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    policy: &PinPolicy,
    card_id: &str,
    old: &Pin,
    new: &Pin,
) -> Result<()> {
    let hash = policy.hash(new)?;
    let now = now_db(clock);
    let check = write(conn, |c| {
        let card = scoped_card(c, scope, card_id)?;
        let check = check_in_tx(c, policy, &card.id, old, now)?;
        if matches!(check, Check::Ok) {
            store_hash(c, &card.id, Some(&hash), now)?;
            audit(
                c,
                actor,
                Some(&card.store_id),
                "membership.pin.change",
                "card",
                &card.id,
                json!({}),
            )?;
        }
        Ok(check)
    })?;
    outcome(check)
}

/// Staff reset with a reason: clears the counter and locks, sets a new PIN or none.
#[allow(clippy::too_many_arguments)] // the usual five context arguments plus PIN and reason
pub fn reset_pin(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    policy: &PinPolicy,
    card_id: &str,
    new: Option<&Pin>,
    reason: &str,
) -> Result<()> {
    if reason.trim().is_empty() {
        return Err(MembershipError::invalid("reason", "required"));
    }
    let hash = new.map(|p| policy.hash(p)).transpose()?;
    let now = now_db(clock);
    write(conn, |c| {
        let card = scoped_card(c, scope, card_id)?;
        store_hash(c, &card.id, hash.as_deref(), now)?;
        audit(
            c,
            actor,
            Some(&card.store_id),
            "membership.pin.reset",
            "card",
            &card.id,
            json!({"reason": reason, "new_pin_set": hash.is_some()}),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_never_print_and_depend_on_the_pepper() {
        let p = Pin::new("123456").unwrap();
        assert_eq!(format!("{p:?}"), "Pin(<redacted>)");
        assert!(Pin::new("12345").is_err());
        assert!(Pin::new("12345a").is_err());
        let a = PinPolicy::new(b"pepper-aaaaaaaaaaaaaa".to_vec()).unwrap();
        let b = PinPolicy::new(b"pepper-bbbbbbbbbbbbbb".to_vec()).unwrap();
        assert!(!format!("{a:?}").contains("pepper-a"));
        let h = a.hash(&p).unwrap();
        assert!(!h.contains("123456"));
        assert!(a.matches(&p, &h).unwrap());
        assert!(!b.matches(&p, &h).unwrap());
        assert!(!a.matches(&Pin::new("654321").unwrap(), &h).unwrap());
        assert!(PinPolicy::new(b"short".to_vec()).is_err());
    }
}
