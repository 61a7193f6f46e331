//! HTTP in, domain call, HTTP out. Every handler names its permission in its OpenAPI
//! description and checks it first.

pub mod auth;
pub mod customers;
pub mod devices;
pub mod health;
pub mod org;

use crate::error::ApiError;
use dms_api_types::{AuditEntryDto, RoleGrantDto, StaffDto, StoreDto};
use dms_db::from_db_time;

pub fn store_dto(s: dms_identity::Store) -> StoreDto {
    StoreDto {
        id: s.id,
        code: s.code,
        name: s.name,
        address: s.address,
        phone: s.phone,
        active: s.active,
        created_at: from_db_time(s.created_at),
        updated_at: from_db_time(s.updated_at),
    }
}

pub fn grant_dto(g: &dms_identity::RoleGrant) -> RoleGrantDto {
    RoleGrantDto {
        role: g.role.code().to_string(),
        store_id: g.store_id.clone(),
    }
}

pub fn staff_dto((u, grants): (dms_identity::StaffUser, Vec<dms_identity::RoleGrant>)) -> StaffDto {
    StaffDto {
        id: u.id,
        username: u.username,
        display_name: u.display_name,
        status: u.status,
        roles: grants.iter().map(grant_dto).collect(),
        created_at: from_db_time(u.created_at),
        updated_at: from_db_time(u.updated_at),
    }
}

pub fn audit_dto(a: dms_identity::AuditEntry) -> AuditEntryDto {
    AuditEntryDto {
        id: a.id,
        occurred_at: from_db_time(a.occurred_at),
        actor_kind: a.actor_kind,
        actor_id: a.actor_id,
        actor_name: a.actor_name,
        store_id: a.store_id,
        action: a.action,
        entity: a.entity,
        entity_id: a.entity_id,
        detail: serde_json::from_str(&a.detail).unwrap_or(serde_json::Value::Null),
        request_id: a.request_id,
    }
}

/// Role grants as the API names them, checked: unknown role codes and malformed store ids are
/// field errors on `roles[i]`.
pub fn grants_from_dto(list: &[RoleGrantDto]) -> Result<Vec<dms_identity::RoleGrant>, ApiError> {
    let mut errors = vec![];
    let mut out = vec![];
    for (i, g) in list.iter().enumerate() {
        let role = dms_identity::Role::from_code(&g.role);
        if role.is_none() {
            errors.push(crate::error::field_error(
                &format!("roles[{i}].role"),
                "unknown_role",
                "see GET /api/v1/roles",
            ));
        }
        let store = match &g.store_id {
            None => None,
            Some(s) => match dms_core::parse_id(s) {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.push(crate::error::field_error(
                        &format!("roles[{i}].store_id"),
                        "invalid_id",
                        "not a store id",
                    ));
                    None
                }
            },
        };
        if let Some(role) = role {
            out.push(dms_identity::RoleGrant {
                role,
                store_id: store,
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::Validation(errors))
    }
}
