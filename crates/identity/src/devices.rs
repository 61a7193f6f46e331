//! Card terminals (the service-desk kiosk): each belongs to one store. A manager creates one and
//! gets a one-time pairing code (stored only as a SHA-256 hash, valid for a few minutes); the
//! kiosk exchanges the code for a session once. Revoking a device ends its sessions at once.

use crate::audit::{record_audit, Actor, NewAudit};
use crate::sessions::{revoke_principal_sessions, PrincipalKind};
use crate::staff::{RoleGrant, StaffPrincipal, StaffUser};
use crate::{IdentityError, Result, Role};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use dms_core::{Cursor, PageRequest, StoreScope};
use dms_db::schema::{devices, stores};
use dms_db::{to_db_time, DbConnection};
use rand::Rng;
use sha2::{Digest, Sha256};

/// Digits in a pairing code: typed once on the kiosk's keypad.
pub const PAIRING_CODE_DIGITS: usize = 10;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = devices)]
pub struct Device {
    pub id: String,
    pub store_id: String,
    pub name: String,
    /// `pending` (code issued, not yet used), `active` or `revoked`.
    pub status: String,
    pub pairing_expires_at: Option<chrono::NaiveDateTime>,
    pub paired_at: Option<chrono::NaiveDateTime>,
    pub revoked_at: Option<chrono::NaiveDateTime>,
    pub created_by: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl Device {
    /// The terminal as the permission checks see it: the device-only role in its one store.
    pub fn principal(&self) -> StaffPrincipal {
        StaffPrincipal {
            user: StaffUser {
                id: self.id.clone(),
                username: self.name.clone(),
                display_name: self.name.clone(),
                status: self.status.clone(),
                created_at: self.created_at,
                updated_at: self.updated_at,
            },
            grants: vec![RoleGrant {
                role: Role::KioskDevice,
                store_id: Some(self.store_id.clone()),
            }],
        }
    }

    pub fn actor(&self, request_id: Option<String>) -> Actor {
        Actor {
            kind: "device",
            id: Some(self.id.clone()),
            name: self.name.clone(),
            request_id,
        }
    }
}

/// A new device and its pairing code (shown once to the manager).
#[derive(Debug, Clone)]
pub struct NewPairing {
    pub device: Device,
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.as_bytes()))
}

fn new_code() -> String {
    let mut rng = rand::thread_rng();
    (0..PAIRING_CODE_DIGITS)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

fn load(conn: &mut DbConnection, id: &str) -> Result<Option<Device>> {
    Ok(devices::table
        .find(id)
        .select(Device::as_select())
        .first(conn)
        .optional()?)
}

/// Registers a terminal in `store_id` and issues its pairing code.
pub fn create_device(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    store_id: &str,
    name: &str,
    code_ttl: Duration,
) -> Result<NewPairing> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(IdentityError::invalid("name", "1-60 characters"));
    }
    if !scope.allows(store_id) {
        return Err(IdentityError::NotFound("store"));
    }
    dms_db::write_tx(conn, |c| {
        let exists: i64 = stores::table
            .filter(stores::id.eq(store_id))
            .count()
            .get_result(c)?;
        if exists == 0 {
            return Err(IdentityError::NotFound("store"));
        }
        let now = Utc::now();
        let code = new_code();
        let id = dms_core::new_id();
        diesel::insert_into(devices::table)
            .values((
                devices::id.eq(&id),
                devices::store_id.eq(store_id),
                devices::name.eq(name),
                devices::status.eq("pending"),
                devices::pairing_code_hash.eq(code_hash(&code)),
                devices::pairing_expires_at.eq(to_db_time(now + code_ttl)),
                devices::created_by.eq(&actor.name),
                devices::created_at.eq(to_db_time(now)),
                devices::updated_at.eq(to_db_time(now)),
            ))
            .execute(c)?;
        record_audit(
            c,
            actor,
            NewAudit {
                store_id: Some(store_id),
                action: "device.create",
                entity: "device",
                entity_id: &id,
                detail: serde_json::json!({ "name": name }),
            },
        )?;
        let device = load(c, &id)?.ok_or(IdentityError::NotFound("device"))?;
        Ok(NewPairing {
            device,
            code: code.clone(),
            expires_at: now + code_ttl,
        })
    })
}

/// Spends a pairing code: the device becomes active. A code works once and only until it
/// expires; anything else is `InvalidCredentials` (which code was wrong is not told).
pub fn pair_device(conn: &mut DbConnection, code: &str) -> Result<Device> {
    let code = code.trim().replace(['-', ' '], "");
    if code.len() != PAIRING_CODE_DIGITS || !code.chars().all(|c| c.is_ascii_digit()) {
        return Err(IdentityError::InvalidCredentials);
    }
    let hash = code_hash(&code);
    dms_db::write_tx(conn, |c| {
        let found: Option<(String, Option<chrono::NaiveDateTime>)> = devices::table
            .filter(devices::pairing_code_hash.eq(&hash))
            .filter(devices::status.eq("pending"))
            .select((devices::id, devices::pairing_expires_at))
            .first(c)
            .optional()?;
        let Some((id, expires)) = found else {
            return Err(IdentityError::InvalidCredentials);
        };
        let now = to_db_time(Utc::now());
        if expires.is_none_or(|e| e <= now) {
            return Err(IdentityError::InvalidCredentials);
        }
        diesel::update(devices::table.find(&id))
            .set((
                devices::status.eq("active"),
                devices::pairing_code_hash.eq(None::<String>),
                devices::pairing_expires_at.eq(None::<chrono::NaiveDateTime>),
                devices::paired_at.eq(now),
                devices::updated_at.eq(now),
            ))
            .execute(c)?;
        let device = load(c, &id)?.ok_or(IdentityError::NotFound("device"))?;
        record_audit(
            c,
            &device.actor(None),
            NewAudit {
                store_id: Some(&device.store_id),
                action: "device.pair",
                entity: "device",
                entity_id: &id,
                detail: serde_json::json!({}),
            },
        )?;
        Ok(device)
    })
}

/// An active device, for checking a token; `None` when revoked, unpaired or unknown.
pub fn load_active_device(conn: &mut DbConnection, id: &str) -> Result<Option<Device>> {
    Ok(load(conn, id)?.filter(|d| d.status == "active"))
}

pub fn get_device(conn: &mut DbConnection, scope: &StoreScope, id: &str) -> Result<Device> {
    load(conn, id)?
        .filter(|d| scope.allows(&d.store_id))
        .ok_or(IdentityError::NotFound("device"))
}

/// The devices of the caller's stores (or of one of them), oldest first.
pub fn list_devices(
    conn: &mut DbConnection,
    scope: &StoreScope,
    store_id: Option<&str>,
    page: &PageRequest,
) -> Result<(Vec<Device>, Option<String>)> {
    let mut q = devices::table.select(Device::as_select()).into_boxed();
    if let StoreScope::Stores(ids) = scope {
        q = q.filter(devices::store_id.eq_any(ids.clone()));
    }
    if let Some(s) = store_id {
        q = q.filter(devices::store_id.eq(s.to_string()));
    }
    if let Some(Cursor { after_id }) = &page.after {
        q = q.filter(devices::id.gt(after_id.clone()));
    }
    let rows = q
        .order(devices::id.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(page.finish(rows, |r| &r.id))
}

/// Revokes a device: its pairing code and every session end now.
pub fn revoke_device(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    id: &str,
) -> Result<Device> {
    dms_db::write_tx(conn, |c| {
        let d = get_device(c, scope, id)?;
        if d.status != "revoked" {
            let now = to_db_time(Utc::now());
            diesel::update(devices::table.find(id))
                .set((
                    devices::status.eq("revoked"),
                    devices::pairing_code_hash.eq(None::<String>),
                    devices::revoked_at.eq(now),
                    devices::updated_at.eq(now),
                ))
                .execute(c)?;
            revoke_principal_sessions(c, PrincipalKind::Device, id)?;
            record_audit(
                c,
                actor,
                NewAudit {
                    store_id: Some(&d.store_id),
                    action: "device.revoke",
                    entity: "device",
                    entity_id: id,
                    detail: serde_json::json!({ "name": d.name }),
                },
            )?;
        }
        get_device(c, scope, id)
    })
}
