//! The programme document and the club's statistics.

use super::dto::{self, opt_body_id};
use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::{Body, QueryParams};
use crate::AppState;
use actix_web::{get, put, web};
use dms_api_types::membership::{
    DayStatisticsDto, ProgrammeDto, ProgrammeParams, SetProgrammeRequest, StatisticsParams,
    StatisticsReportDto, StoreStatisticsDto,
};
use dms_api_types::Problem;
use dms_core::{StoreScope, SystemClock};
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

fn union(a: StoreScope, b: StoreScope) -> StoreScope {
    match (a, b) {
        (StoreScope::AllStores, _) | (_, StoreScope::AllStores) => StoreScope::AllStores,
        (StoreScope::Stores(mut x), StoreScope::Stores(y)) => {
            for s in y {
                if !x.contains(&s) {
                    x.push(s);
                }
            }
            StoreScope::Stores(x)
        }
    }
}

/// Member club statistics for a period.
#[utoipa::path(
    tag = "membership",
    description = "Top-ups, bonus, consumption, refunds, checkouts, cards issued, points, gift redemptions and coupon use for `[from, to)` (UTC days, at most 366), in total, per store and (with `by_day=true`) per day; the totals reconcile with the ledgers.\n\n**Permission:** `membership.read` or `reports.read`.",
    params(StatisticsParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = StatisticsReportDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such store among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid dates", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/membership/statistics")]
pub async fn statistics(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<StatisticsParams>,
) -> Result<web::Json<StatisticsReportDto>, ApiError> {
    let scope = union(
        staff.principal.scope(Permission::MembershipRead),
        staff.principal.scope(Permission::ReportsRead),
    );
    if scope.is_empty() {
        return Err(ApiError::Forbidden(format!(
            "requires permission {} or {}",
            Permission::MembershipRead,
            Permission::ReportsRead
        )));
    }
    let q = q.0;
    if q.to <= q.from || (q.to - q.from).num_days() > 366 {
        return Err(ApiError::invalid(
            "to",
            "invalid_range",
            "after from, at most 366 days",
        ));
    }
    let store = opt_body_id("store_id", q.store_id.as_ref())?;
    let scope = scope.narrowed_to(store.as_deref());
    if scope.is_empty() {
        return Err(ApiError::NotFound("store"));
    }
    let start = q.from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let end = q.to.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let (from, to, by_day) = (q.from, q.to, q.by_day);
    let (total, by_store, days) = state
        .db(move |c| {
            let total = m::club_statistics(c, &scope, start, end)?;
            let by_store = m::statistics_by_store(c, &scope, start, end)?;
            let days = if by_day {
                m::statistics_by_day(c, &scope, from, to)?
            } else {
                vec![]
            };
            Ok((total, by_store, days))
        })
        .await?;
    Ok(web::Json(StatisticsReportDto {
        from: q.from,
        to: q.to,
        total: dto::stats_dto(total),
        by_store: by_store
            .into_iter()
            .map(|(store_id, s)| StoreStatisticsDto {
                store_id,
                statistics: dto::stats_dto(s),
            })
            .collect(),
        by_day: days
            .into_iter()
            .map(|(day, s)| DayStatisticsDto {
                day,
                statistics: dto::stats_dto(s),
            })
            .collect(),
    }))
}
