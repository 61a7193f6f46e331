//! Refresh tokens: opaque random strings, stored only as SHA-256 hashes, rotated on every use.
//! Each login starts a family; presenting a token that was already used (or revoked) means it
//! leaked, so the whole family is revoked. Access tokens carry the family id, so revoking a
//! family ends its access tokens at once too.

use crate::Result;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use dms_db::schema::refresh_tokens;
use dms_db::{from_db_time, to_db_time, DbConnection};
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    Staff,
    Customer,
    Device,
    Client,
}

impl PrincipalKind {
    pub fn code(&self) -> &'static str {
        match self {
            PrincipalKind::Staff => "staff",
            PrincipalKind::Customer => "customer",
            PrincipalKind::Device => "device",
            PrincipalKind::Client => "client",
        }
    }

    pub fn from_code(s: &str) -> Option<PrincipalKind> {
        match s {
            "staff" => Some(PrincipalKind::Staff),
            "customer" => Some(PrincipalKind::Customer),
            "device" => Some(PrincipalKind::Device),
            "client" => Some(PrincipalKind::Client),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SessionTokens {
    pub refresh_token: String,
    pub family_id: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug)]
pub enum RotateOutcome {
    Rotated {
        kind: PrincipalKind,
        principal_id: String,
        tokens: SessionTokens,
    },
    /// An old token came back: the family is now revoked.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn insert_token(
    conn: &mut DbConnection,
    family_id: &str,
    kind: PrincipalKind,
    principal_id: &str,
    ttl: Duration,
) -> Result<SessionTokens> {
    let token = new_token();
    let now = Utc::now();
    let expires_at = now + ttl;
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(dms_core::new_id()),
            refresh_tokens::family_id.eq(family_id),
            refresh_tokens::principal_kind.eq(kind.code()),
            refresh_tokens::principal_id.eq(principal_id),
            refresh_tokens::token_hash.eq(token_hash(&token)),
            refresh_tokens::issued_at.eq(to_db_time(now)),
            refresh_tokens::expires_at.eq(to_db_time(expires_at)),
        ))
        .execute(conn)?;
    Ok(SessionTokens {
        refresh_token: token,
        family_id: family_id.to_string(),
        expires_at,
    })
}

/// Starts a new session (a new token family) for a principal who just logged in.
pub fn issue_session(
    conn: &mut DbConnection,
    kind: PrincipalKind,
    principal_id: &str,
    ttl: Duration,
) -> Result<SessionTokens> {
    insert_token(conn, &dms_core::new_id(), kind, principal_id, ttl)
}

type TokenRow = (
    String,
    String,
    String,
    String,
    chrono::NaiveDateTime,
    Option<chrono::NaiveDateTime>,
    Option<chrono::NaiveDateTime>,
);

pub fn rotate_session(
    conn: &mut DbConnection,
    token: &str,
    ttl: Duration,
) -> Result<RotateOutcome> {
    let hash = token_hash(token);
    dms_db::write_tx(conn, |c| {
        let row: Option<TokenRow> = refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(&hash))
            .select((
                refresh_tokens::id,
                refresh_tokens::family_id,
                refresh_tokens::principal_kind,
                refresh_tokens::principal_id,
                refresh_tokens::expires_at,
                refresh_tokens::used_at,
                refresh_tokens::revoked_at,
            ))
            .first(c)
            .optional()?;
        let Some((id, family, kind, principal_id, expires_at, used_at, revoked_at)) = row else {
            return Ok(RotateOutcome::Invalid);
        };
        if used_at.is_some() {
            if revoked_at.is_none() {
                log::warn!("refresh token reuse detected; revoking session family {family}");
            }
            revoke_family(c, &family)?;
            return Ok(RotateOutcome::Reused);
        }
        let Some(kind) = PrincipalKind::from_code(&kind) else {
            return Ok(RotateOutcome::Invalid);
        };
        if revoked_at.is_some() || from_db_time(expires_at) <= Utc::now() {
            return Ok(RotateOutcome::Invalid);
        }
        diesel::update(refresh_tokens::table.find(&id))
            .set(refresh_tokens::used_at.eq(to_db_time(Utc::now())))
            .execute(c)?;
        let tokens = insert_token(c, &family, kind, &principal_id, ttl)?;
        Ok(RotateOutcome::Rotated {
            kind,
            principal_id,
            tokens,
        })
    })
}

pub fn revoke_family(conn: &mut DbConnection, family_id: &str) -> Result<usize> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(to_db_time(Utc::now())))
    .execute(conn)?)
}

/// Ends every session of a principal (password reset, disabling, role change, "log out
/// everywhere").
pub fn revoke_principal_sessions(
    conn: &mut DbConnection,
    kind: PrincipalKind,
    principal_id: &str,
) -> Result<usize> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::principal_kind.eq(kind.code()))
            .filter(refresh_tokens::principal_id.eq(principal_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(to_db_time(Utc::now())))
    .execute(conn)?)
}

/// Whether the session an access token belongs to is still open.
pub fn family_is_live(
    conn: &mut DbConnection,
    kind: PrincipalKind,
    principal_id: &str,
    family_id: &str,
) -> Result<bool> {
    let n: i64 = refresh_tokens::table
        .filter(refresh_tokens::family_id.eq(family_id))
        .filter(refresh_tokens::principal_kind.eq(kind.code()))
        .filter(refresh_tokens::principal_id.eq(principal_id))
        .filter(refresh_tokens::revoked_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}
