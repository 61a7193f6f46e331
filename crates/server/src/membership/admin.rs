//! The programme document (the club's statistics are in `statistics`).

use super::dto::opt_body_id;
use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::{Body, QueryParams};
use crate::AppState;
use actix_web::{get, put, web};
use dms_api_types::membership::{ProgrammeDto, ProgrammeParams, SetProgrammeRequest};
use dms_api_types::Problem;
use dms_core::SystemClock;
use dms_identity::Permission;
use dms_membership as m;

fn programme_dto(
    store_id: Option<String>,
    p: &m::ProgrammeConfig,
) -> Result<ProgrammeDto, ApiError> {
    Ok(ProgrammeDto {
        store_id,
        programme: serde_json::to_value(p).map_err(|e| ApiError::Internal(e.to_string()))?,
    })
}

/// The programme in effect.
#[utoipa::path(
    tag = "membership",
    description = "The programme (tiers with discount per category, earning ratios, top-up bonus rules, renewal and upgrade thresholds) in effect in `store_id` (its override, else the group's), or the group's without it.\n\n**Permission:** `membership.read`.",
    params(ProgrammeParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ProgrammeDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such store among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid store id", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/membership/programme")]
pub async fn get_programme(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<ProgrammeParams>,
) -> Result<web::Json<ProgrammeDto>, ApiError> {
    let scope = staff.require(Permission::MembershipRead)?;
    let store = opt_body_id("store_id", q.0.store_id.as_ref())?;
    let p = state
        .db(move |c| match &store {
            Some(s) if !scope.allows(s) => Err(ApiError::NotFound("store")),
            Some(s) => Ok(m::effective_config(c, s)?),
            None => Ok(m::group_config(c)?),
        })
        .await?;
    Ok(web::Json(programme_dto(q.0.store_id.clone(), &p)?))
}

/// Saves the group programme or a store's override.
#[utoipa::path(
    tag = "membership",
    description = "Replaces the whole document: the group's (without `store_id`, group-wide role) or one store's override. Checked before saving (tiers, ratios, thresholds). Audited.\n\n**Permission:** `membership.config`.",
    request_body = SetProgrammeRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = ProgrammeDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission (or a group-wide role for the group programme)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such store among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The document is invalid (the field is named)", body = Problem, content_type = "application/problem+json")
    )
)]
#[put("/membership/programme")]
pub async fn set_programme(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<SetProgrammeRequest>,
) -> Result<web::Json<ProgrammeDto>, ApiError> {
    let scope = staff.require(Permission::MembershipConfig)?;
    let b = body.0;
    let store = opt_body_id("store_id", b.store_id.as_ref())?;
    let cfg: m::ProgrammeConfig = serde_path_to_error::deserialize(b.programme).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "programme".to_string()
        } else {
            format!("programme.{path}")
        };
        ApiError::invalid(&field, "invalid", e.inner().to_string())
    })?;
    let actor = staff.actor();
    let saved = cfg.clone();
    state
        .db(move |c| {
            m::set_config(c, &actor, &scope, &SystemClock, store.as_deref(), &cfg)?;
            Ok(())
        })
        .await?;
    Ok(web::Json(programme_dto(b.store_id, &saved)?))
}
