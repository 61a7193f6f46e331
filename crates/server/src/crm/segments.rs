//! Segments: saved filters for campaigns, coupon issue and task creation.

use super::dto::*;
use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::{path_id, Body};
use crate::AppState;
use actix_web::{get, post, web, HttpResponse};
use chrono::Utc;
use dms_api_types::crm::*;
use dms_api_types::Problem;
use dms_identity::Permission;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_segment)
        .service(get_segment)
        .service(segment_customers)
        .service(segment_tasks)
        .service(segment_messages);
}

fn filter_of(f: SegmentFilterDto) -> dms_crm::SegmentFilter {
    dms_crm::SegmentFilter {
        lost_after_days: f.lost_after_days,
        vehicle_age_years_min: f.vehicle_age_years_min,
        vehicle_age_years_max: f.vehicle_age_years_max,
        mileage_km_min: f.mileage_km_min,
        mileage_km_max: f.mileage_km_max,
        insurance_expiring_within_days: f.insurance_expiring_within_days,
        tags: f.tags,
        tiers: f.tiers,
    }
}

fn segment_dto(s: dms_crm::Segment) -> SegmentDto {
    let f = s.filter;
    SegmentDto {
        id: s.id,
        store_id: s.store_id,
        name: s.name,
        filter: SegmentFilterDto {
            lost_after_days: f.lost_after_days,
            vehicle_age_years_min: f.vehicle_age_years_min,
            vehicle_age_years_max: f.vehicle_age_years_max,
            mileage_km_min: f.mileage_km_min,
            mileage_km_max: f.mileage_km_max,
            insurance_expiring_within_days: f.insurance_expiring_within_days,
            tags: f.tags,
            tiers: f.tiers,
        },
        created_at: dms_db::from_db_time(s.created_at),
    }
}

/// Saves a segment.
#[utoipa::path(
    tag = "segments",
    description = "A named filter: lost customers (no visit for N days), vehicle age, mileage band, insurance expiring, tags, member tiers. Audited.\n\n\
**Permission:** `crm.care` in the store (a group-wide segment: in every store).",
    request_body = CreateSegmentRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = SegmentDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name, store or bounds", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/segments")]
pub async fn create_segment(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<CreateSegmentRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let b = body.0;
    let store = opt_body_id(&b.store_id, "store_id")?;
    let filter = filter_of(b.filter);
    let actor = staff.actor();
    let s = state
        .db(move |c| {
            Ok(dms_crm::save_segment(
                c,
                &actor,
                &scope,
                store.as_deref(),
                &b.name,
                &filter,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(HttpResponse::Created().json(segment_dto(s)))
}

/// One segment.
#[utoipa::path(
    tag = "segments",
    description = "**Permission:** `crm.care` in the segment's store (group-wide segments: any store).",
    params(("id" = String, Path, description = "Segment id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = SegmentDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such segment among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/segments/{id}")]
pub async fn get_segment(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<SegmentDto>, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let id = path_id(&id, "segment")?;
    let s = state
        .db(move |c| Ok(dms_crm::get_segment(c, &scope, &id)?))
        .await?;
    Ok(web::Json(segment_dto(s)))
}

/// The customers in the segment today.
#[utoipa::path(
    tag = "segments",
    description = "Evaluated now, among the caller's stores.\n\n**Permission:** `crm.care`.",
    params(("id" = String, Path, description = "Segment id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = SegmentMembersDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such segment among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/segments/{id}/customers")]
pub async fn segment_customers(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<SegmentMembersDto>, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let id = path_id(&id, "segment")?;
    let today = crate::jobs::local_now().date_naive();
    let ids = state
        .db(move |c| {
            let s = dms_crm::get_segment(c, &scope, &id)?;
            Ok(dms_crm::evaluate_segment(
                c,
                &scope,
                &s.filter,
                today,
                Some(&dms_membership::merge::Tiers),
            )?)
        })
        .await?;
    Ok(web::Json(SegmentMembersDto { customer_ids: ids }))
}

/// A follow-up task for every customer in the segment.
#[utoipa::path(
    tag = "segments",
    description = "One task per customer, spread over `assignees`; running it again for the same day creates nothing twice. Audited.\n\n\
**Permission:** `crm.care` in the store.",
    params(("id" = String, Path, description = "Segment id")),
    request_body = SegmentTasksRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = SegmentTasksDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such segment among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid store, title or assignee", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/segments/{id}/tasks")]
pub async fn segment_tasks(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<SegmentTasksRequest>,
) -> Result<web::Json<SegmentTasksDto>, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let id = path_id(&id, "segment")?;
    let b = body.0;
    let store = body_id(&b.store_id, "store_id")?;
    let mut assignees = vec![];
    for (i, a) in b.assignees.iter().enumerate() {
        assignees.push(body_id(a, &format!("assignees[{i}]"))?);
    }
    let actor = staff.actor();
    let today = crate::jobs::local_now().date_naive();
    let n = state
        .db(move |c| {
            Ok(dms_crm::create_segment_tasks(
                c,
                &actor,
                &scope,
                &id,
                &store,
                &b.title,
                b.due_on,
                &assignees,
                Some(&dms_membership::merge::Tiers),
                today,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(web::Json(SegmentTasksDto { created: n }))
}

/// A campaign: one message to every customer in the segment.
#[utoipa::path(
    tag = "segments",
    description = "Queues one message from `template_code` for every customer the segment selects today, through the outbox: \
consent (marketing needs a recorded consent), opt-outs and quiet hours apply as for any message, and what is not sent is recorded \
as suppressed with the reason. Running the same `campaign` again queues nobody twice (a retry after a timeout is safe).\n\n\
**Permission:** `crm.care` in the store.",
    params(("id" = String, Path, description = "Segment id")),
    request_body = SegmentMessagesRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = SegmentMessagesDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such segment among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid store, template, purpose or placeholder", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/segments/{id}/messages")]
pub async fn segment_messages(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<SegmentMessagesRequest>,
) -> Result<web::Json<SegmentMessagesDto>, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let id = path_id(&id, "segment")?;
    let b = body.0;
    let purpose = super::messages::purpose_of(&b.purpose)?;
    let message = dms_crm::NewMessage {
        store_id: body_id(&b.store_id, "store_id")?,
        customer_id: String::new(),
        purpose,
        template_code: b.template_code,
        vars: b.vars.into_iter().collect(),
        dedupe_key: None,
    };
    let campaign = b.campaign;
    let actor = staff.actor();
    let today = crate::jobs::local_now().date_naive();
    let st = state.clone();
    let n = state
        .db(move |c| {
            Ok(dms_crm::queue_segment_messages(
                c,
                &actor,
                &scope,
                &st.crm.templates,
                &id,
                &campaign,
                &message,
                Some(&dms_membership::merge::Tiers),
                today,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(web::Json(SegmentMessagesDto {
        queued: n.queued,
        suppressed: n.suppressed,
        already_queued: n.already_queued,
    }))
}
