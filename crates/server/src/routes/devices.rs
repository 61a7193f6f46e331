//! `/devices` and `/auth/device`: registering card terminals (the service-desk kiosk) and
//! their login with a one-time pairing code. What a terminal may then do is decided in
//! [`crate::auth`]: only the kiosk's endpoints, only in its store, only for the card it read.

use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::{page_request, path_id, Body, QueryParams};
use crate::AppState;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use dms_api_types::devices::{
    CreateDeviceRequest, DeviceDto, DeviceListParams, DeviceLoginResponse, DevicePage,
    DevicePairRequest, DevicePairingDto,
};
use dms_api_types::{PageParams, Problem};
use dms_db::from_db_time;
use dms_identity::{Permission, PrincipalKind};

/// How long a pairing code works.
const PAIRING_CODE_MINUTES: i64 = 15;

pub fn device_dto(d: dms_identity::Device) -> DeviceDto {
    DeviceDto {
        id: d.id,
        store_id: d.store_id,
        name: d.name,
        status: d.status,
        pairing_expires_at: d.pairing_expires_at.map(from_db_time),
        paired_at: d.paired_at.map(from_db_time),
        revoked_at: d.revoked_at.map(from_db_time),
        created_by: d.created_by,
        created_at: from_db_time(d.created_at),
    }
}

/// Registers a card terminal.
#[utoipa::path(
    tag = "devices",
    description = "Registers a card terminal (自助终端) for one store and returns its one-time pairing code (ten digits, valid 15 minutes, stored only as a hash). \
Type the code into the kiosk at first start; it exchanges it at `POST /auth/device`. Audited.\n\n**Permission:** `membership.config` in that store (store or general manager, group admin).",
    request_body = CreateDeviceRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = DevicePairingDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such store among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/devices")]
pub async fn create_device(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<CreateDeviceRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipConfig)?;
    let b = body.0;
    let store_id = dms_core::parse_id(&b.store_id)
        .map_err(|_| ApiError::invalid("store_id", "invalid_id", "not a store id"))?;
    let actor = staff.actor();
    let p = state
        .db(move |c| {
            Ok(dms_identity::create_device(
                c,
                &actor,
                &scope,
                &store_id,
                &b.name,
                chrono::Duration::minutes(PAIRING_CODE_MINUTES),
            )?)
        })
        .await?;
    Ok(HttpResponse::Created().json(DevicePairingDto {
        device: device_dto(p.device),
        pairing_code: p.code,
        pairing_expires_at: p.expires_at,
    }))
}

/// Card terminals of the caller's stores.
#[utoipa::path(
    tag = "devices",
    description = "Every terminal (pending, active, revoked) of the caller's stores, or of one.\n\n**Permission:** `membership.config`.",
    params(DeviceListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = DevicePage),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cursor, limit or store id", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/devices")]
pub async fn list_devices(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<DeviceListParams>,
) -> Result<web::Json<DevicePage>, ApiError> {
    let scope = staff.require(Permission::MembershipConfig)?;
    let q = q.0;
    let page = page_request(&PageParams {
        cursor: q.cursor,
        limit: q.limit,
    })?;
    let store = match &q.store_id {
        None => None,
        Some(s) => Some(
            dms_core::parse_id(s)
                .map_err(|_| ApiError::invalid("store_id", "invalid_id", "not a store id"))?,
        ),
    };
    let (rows, next) = state
        .db(move |c| {
            Ok(dms_identity::list_devices(
                c,
                &scope,
                store.as_deref(),
                &page,
            )?)
        })
        .await?;
    Ok(web::Json(DevicePage {
        items: rows.into_iter().map(device_dto).collect(),
        next_cursor: next,
    }))
}

/// Revokes a card terminal.
#[utoipa::path(
    tag = "devices",
    description = "Revokes a terminal: its pairing code and every session end at once (its next request is a 401). Audited.\n\n**Permission:** `membership.config` in its store.",
    params(("id" = String, Path, description = "Device id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = DeviceDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such device among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/devices/{id}/revoke")]
pub async fn revoke_device(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<DeviceDto>, ApiError> {
    let scope = staff.require(Permission::MembershipConfig)?;
    let id = path_id(&id, "device")?;
    let actor = staff.actor();
    let d = state
        .db(move |c| Ok(dms_identity::revoke_device(c, &actor, &scope, &id)?))
        .await?;
    Ok(web::Json(device_dto(d)))
}

/// A card terminal logs in with its pairing code.
#[utoipa::path(
    tag = "auth",
    description = "The kiosk's first start: exchanges the one-time pairing code for an access token (`typ` `device_access`, at most 15 minutes) and a refresh token, \
rotated through `POST /auth/refresh`. A code works once and only until it expires. Attempts are limited per client address (429 with `Retry-After`).\n\n\
With a device token the terminal may call only the kiosk's endpoints, in its own store, and every request about a card must carry the chip UID it read in the `X-Card-Uid` header: \
a UID that is not the named card's is a 409 `card_uid_mismatch`, a missing one a 422 `card_uid_required`, a lost, frozen, closed or expired card a 409 `card_lost` / `card_frozen` / `card_closed` / `card_expired`.\n\n**Permission:** none (the code is the credential).",
    request_body = DevicePairRequest,
    responses(
        (status = 200, body = DeviceLoginResponse),
        (status = 401, description = "Unknown, used or expired code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/auth/device")]
pub async fn device_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Body<DevicePairRequest>,
) -> Result<web::Json<DeviceLoginResponse>, ApiError> {
    let ip_key = format!(
        "pair-ip:{}",
        req.peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "unknown".into())
    );
    let max = state.config.auth.login_max_attempts_per_address;
    if let Some(wait) = state.throttle.blocked(&ip_key, max) {
        return Err(ApiError::TooManyRequests(wait));
    }
    state.throttle.hit(&ip_key);
    let code = body.0.code;
    let ttl = chrono::Duration::hours(state.config.auth.refresh_ttl_hours);
    let (device, session) = state
        .db(move |c| {
            let d = dms_identity::pair_device(c, &code)?;
            let s = dms_identity::issue_session(c, PrincipalKind::Device, &d.id, ttl)?;
            Ok((d, s))
        })
        .await?;
    state.throttle.forgive(&ip_key);
    log::info!("device paired device={}", device.id);
    Ok(web::Json(DeviceLoginResponse {
        access_token: state
            .keys
            .issue(PrincipalKind::Device, &device.id, &session.family_id)?,
        refresh_token: session.refresh_token,
        token_type: "Bearer".into(),
        expires_in: state.keys.access_ttl,
        refresh_expires_at: session.expires_at,
        device: device_dto(device),
    }))
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(device_login)
        .service(create_device)
        .service(list_devices)
        .service(revoke_device);
}
