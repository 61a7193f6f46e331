use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::{page_request, path_id, Body, QueryParams};
use crate::routes::{audit_dto, grant_dto, grants_from_dto, staff_dto, store_dto};
use crate::AppState;
use actix_web::{delete, get, patch, post, put, web, HttpResponse};
use dms_api_types::{
    AuditPage, CreateStaffRequest, CreateStoreRequest, PageParams, Problem, ResetPasswordRequest,
    RoleDto, RoleGrantDto, SetRolesRequest, StaffDto, StaffPage, StoreDto, StorePage,
    UpdateStaffRequest, UpdateStoreRequest,
};
use dms_identity::{Permission, Role, StaffStatus};
use serde::Deserialize;
use utoipa::IntoParams;
use validator::Validate;

/// The role catalogue.
#[utoipa::path(
    tag = "organisation",
    description = "Every role with its labels and permissions.\n\n**Permission:** any staff user.",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<RoleDto>),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a staff token", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/roles")]
pub async fn list_roles(_staff: Staff) -> web::Json<Vec<RoleDto>> {
    web::Json(
        Role::ALL
            .iter()
            .map(|r| RoleDto {
                code: r.code().into(),
                label_zh: r.label_zh().into(),
                label_en: r.label_en().into(),
                group_only: r.is_group_only(),
                permissions: r
                    .permissions()
                    .iter()
                    .map(|p| p.code().to_string())
                    .collect(),
            })
            .collect(),
    )
}

/// Stores the caller may see.
#[utoipa::path(
    tag = "organisation",
    description = "The stores the caller works in (every store for group-wide roles), oldest first.\n\n**Permission:** `org.stores.read`.",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = StorePage),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cursor or limit", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/stores")]
pub async fn list_stores(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<PageParams>,
) -> Result<web::Json<StorePage>, ApiError> {
    let scope = staff.require(Permission::StoresRead)?;
    let page = page_request(&q.0)?;
    let (rows, next) = state
        .db(move |c| Ok(dms_identity::list_stores(c, &scope, &page)?))
        .await?;
    Ok(web::Json(StorePage {
        items: rows.into_iter().map(store_dto).collect(),
        next_cursor: next,
    }))
}

/// One store.
#[utoipa::path(
    tag = "organisation",
    description = "**Permission:** `org.stores.read` in that store (another store reads as 404).",
    params(("id" = String, Path, description = "Store id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = StoreDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such store among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/stores/{id}")]
pub async fn get_store(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<StoreDto>, ApiError> {
    let scope = staff.require(Permission::StoresRead)?;
    let id = path_id(&id, "store")?;
    let s = state
        .db(move |c| Ok(dms_identity::get_store(c, &scope, &id)?))
        .await?;
    Ok(web::Json(store_dto(s)))
}

fn check_store_code(code: &str) -> Result<(), ApiError> {
    if code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "code",
            "invalid_format",
            "letters, digits and '-' only",
        ))
    }
}

/// Opens a store.
#[utoipa::path(
    tag = "organisation",
    description = "Adds a store to the group. Audited.\n\n**Permission:** `org.stores.write` (group-wide).",
    request_body = CreateStoreRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = StoreDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Store code already in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/stores")]
pub async fn create_store(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<CreateStoreRequest>,
) -> Result<HttpResponse, ApiError> {
    if staff.require(Permission::StoresWrite)? != dms_core::StoreScope::AllStores {
        return Err(ApiError::Forbidden(
            "opening a store needs a group-wide role".into(),
        ));
    }
    let b = body.0;
    check_store_code(&b.code)?;
    let actor = staff.actor();
    let new = dms_identity::NewStore {
        code: b.code,
        name: b.name,
        address: b.address,
        phone: b.phone,
    };
    let s = state
        .db(move |c| Ok(dms_identity::create_store(c, &actor, &new)?))
        .await?;
    Ok(HttpResponse::Created().json(store_dto(s)))
}

/// Changes a store.
#[utoipa::path(
    tag = "organisation",
    description = "Changes the given fields. Audited.\n\n**Permission:** `org.stores.write` in that store.",
    params(("id" = String, Path, description = "Store id")),
    request_body = UpdateStoreRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = StoreDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such store among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[patch("/stores/{id}")]
pub async fn update_store(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<UpdateStoreRequest>,
) -> Result<web::Json<StoreDto>, ApiError> {
    let scope = staff.require(Permission::StoresWrite)?;
    let id = path_id(&id, "store")?;
    let b = body.0;
    let upd = dms_identity::StoreUpdate {
        name: b.name,
        address: b.address,
        phone: b.phone,
        active: b.active,
    };
    let actor = staff.actor();
    let s = state
        .db(move |c| Ok(dms_identity::update_store(c, &actor, &scope, &id, &upd)?))
        .await?;
    Ok(web::Json(store_dto(s)))
}

/// Staff the caller may see.
#[utoipa::path(
    tag = "organisation",
    description = "Staff holding a role in the caller's stores (everyone for group-wide readers).\n\n**Permission:** `org.staff.read`.",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = StaffPage),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cursor or limit", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/staff")]
pub async fn list_staff(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<PageParams>,
) -> Result<web::Json<StaffPage>, ApiError> {
    let scope = staff.require(Permission::StaffRead)?;
    let page = page_request(&q.0)?;
    let (rows, next) = state
        .db(move |c| Ok(dms_identity::list_staff(c, &scope, &page)?))
        .await?;
    Ok(web::Json(StaffPage {
        items: rows.into_iter().map(staff_dto).collect(),
        next_cursor: next,
    }))
}

/// One staff user.
#[utoipa::path(
    tag = "organisation",
    description = "**Permission:** `org.staff.read` in a store where the user holds a role (otherwise 404).",
    params(("id" = String, Path, description = "Staff user id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = StaffDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user among the caller's stores", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/staff/{id}")]
pub async fn get_staff(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<StaffDto>, ApiError> {
    let scope = staff.require(Permission::StaffRead)?;
    let id = path_id(&id, "staff user")?;
    let u = state
        .db(move |c| Ok(dms_identity::get_staff(c, &scope, &id)?))
        .await?;
    Ok(web::Json(staff_dto(u)))
}

/// Creates a staff user.
#[utoipa::path(
    tag = "organisation",
    description = "Creates a user with roles. A store-level manager can only give roles in their own stores and only roles whose \
permissions they hold there. Audited.\n\n**Permission:** `org.staff.write`.",
    request_body = CreateStaffRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = StaffDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission, or a role is beyond the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Username already in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/staff")]
pub async fn create_staff(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<CreateStaffRequest>,
) -> Result<HttpResponse, ApiError> {
    staff.require(Permission::StaffWrite)?;
    let b = body.0;
    let grants = grants_from_dto(&b.roles)?;
    let new = dms_identity::NewStaff {
        username: b.username,
        display_name: b.display_name,
        password: b.password,
        grants,
    };
    let actor = staff.actor();
    let caller = staff.principal;
    let u = state
        .db(move |c| Ok(dms_identity::create_staff(c, &actor, Some(&caller), &new)?))
        .await?;
    Ok(HttpResponse::Created().json(staff_dto(u)))
}

/// Changes a staff user's name or status.
#[utoipa::path(
    tag = "organisation",
    description = "Renames, disables (`status: disabled`, which ends the user's sessions at once) or re-enables a user. \
Nobody can change their own account here. Audited.\n\n**Permission:** `org.staff.write` in every store where the user holds a role.",
    params(("id" = String, Path, description = "Staff user id")),
    request_body = UpdateStaffRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = StaffDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user among the caller's stores", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[patch("/staff/{id}")]
pub async fn update_staff(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<UpdateStaffRequest>,
) -> Result<web::Json<StaffDto>, ApiError> {
    staff.require(Permission::StaffWrite)?;
    let id = path_id(&id, "staff user")?;
    let b = body.0;
    let status = match b.status.as_deref() {
        None => None,
        Some("active") => Some(StaffStatus::Active),
        Some("disabled") => Some(StaffStatus::Disabled),
        Some(_) => {
            return Err(ApiError::invalid(
                "status",
                "invalid_value",
                "must be 'active' or 'disabled'",
            ))
        }
    };
    let upd = dms_identity::StaffUpdate {
        display_name: b.display_name,
        status,
    };
    let actor = staff.actor();
    let caller = staff.principal;
    let u = state
        .db(move |c| Ok(dms_identity::update_staff(c, &actor, &caller, &id, &upd)?))
        .await?;
    Ok(web::Json(staff_dto(u)))
}

/// Replaces a staff user's roles in the caller's stores.
#[utoipa::path(
    tag = "organisation",
    description = "Sets the user's roles in the caller's stores; roles in other stores are kept. The user's sessions end so the \
change takes effect at once. Audited.\n\n**Permission:** `org.staff.write`.",
    params(("id" = String, Path, description = "Staff user id")),
    request_body = SetRolesRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<RoleGrantDto>),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission, or a role is beyond the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user among the caller's stores", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[put("/staff/{id}/roles")]
pub async fn set_staff_roles(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<SetRolesRequest>,
) -> Result<web::Json<Vec<RoleGrantDto>>, ApiError> {
    staff.require(Permission::StaffWrite)?;
    let id = path_id(&id, "staff user")?;
    let grants = grants_from_dto(&body.0.roles)?;
    let actor = staff.actor();
    let caller = staff.principal;
    let after = state
        .db(move |c| {
            Ok(dms_identity::set_staff_roles(
                c, &actor, &caller, &id, &grants,
            )?)
        })
        .await?;
    Ok(web::Json(after.iter().map(grant_dto).collect()))
}

/// Sets a new password for a staff user.
#[utoipa::path(
    tag = "organisation",
    description = "A manager resets another user's password (at least 8 characters); the user's sessions end. Audited (the password never is).\n\n**Permission:** `org.staff.write` in every store where the user holds a role.",
    params(("id" = String, Path, description = "Staff user id")),
    request_body = ResetPasswordRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Password changed"),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user among the caller's stores", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/staff/{id}/password")]
pub async fn reset_staff_password(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<ResetPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    staff.require(Permission::StaffWrite)?;
    let id = path_id(&id, "staff user")?;
    let password = body.0.password;
    let actor = staff.actor();
    let caller = staff.principal;
    state
        .db(move |c| {
            Ok(dms_identity::set_staff_password(
                c, &actor, &caller, &id, &password,
            )?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a staff user.
#[utoipa::path(
    tag = "organisation",
    description = "The user can no longer log in and every session ends; the record stays for the audit log. Audited.\n\n**Permission:** `org.staff.write` in every store where the user holds a role.",
    params(("id" = String, Path, description = "Staff user id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user among the caller's stores", body = Problem, content_type = "application/problem+json")
    )
)]
#[delete("/staff/{id}")]
pub async fn delete_staff(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    staff.require(Permission::StaffWrite)?;
    let id = path_id(&id, "staff user")?;
    let actor = staff.actor();
    let caller = staff.principal;
    state
        .db(move |c| Ok(dms_identity::delete_staff(c, &actor, &caller, &id)?))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Clone, Default, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// The `next_cursor` of the previous page.
    #[validate(length(min = 1, max = 200))]
    #[param(min_length = 1, max_length = 200)]
    pub cursor: Option<String>,
    /// Rows per page, 1-200 (default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Only entries about this kind of row, e.g. `staff_user`, `store`.
    #[validate(length(min = 1, max = 64))]
    #[param(min_length = 1, max_length = 64)]
    pub entity: Option<String>,
    /// Only entries about this row.
    #[validate(length(min = 1, max = 64))]
    #[param(min_length = 1, max_length = 64)]
    pub entity_id: Option<String>,
    /// Only entries by this actor.
    #[validate(length(min = 1, max = 64))]
    #[param(min_length = 1, max_length = 64)]
    pub actor_id: Option<String>,
}

/// The audit log.
#[utoipa::path(
    tag = "organisation",
    description = "Who changed what and when, newest first. Store-level readers see their stores' entries.\n\n**Permission:** `audit.read`.",
    params(AuditParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = AuditPage),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter, cursor or limit", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/audit-log")]
pub async fn list_audit(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<AuditParams>,
) -> Result<web::Json<AuditPage>, ApiError> {
    let scope = staff.require(Permission::AuditRead)?;
    let q = q.0;
    let page = page_request(&PageParams {
        cursor: q.cursor.clone(),
        limit: q.limit,
    })?;
    let filter = dms_identity::AuditFilter {
        entity: q.entity,
        entity_id: q.entity_id,
        actor_id: q.actor_id,
    };
    let (rows, next) = state
        .db(move |c| Ok(dms_identity::list_audit(c, &scope, &filter, &page)?))
        .await?;
    Ok(web::Json(AuditPage {
        items: rows.into_iter().map(audit_dto).collect(),
        next_cursor: next,
    }))
}
