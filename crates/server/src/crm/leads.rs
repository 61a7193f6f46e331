//! Leads (潜在客户): sales consultants work their own, managers see their stores'.

use super::dto::*;
use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::{page_request, path_id, Body, QueryParams};
use crate::AppState;
use actix_web::{get, post, web, HttpResponse};
use chrono::Utc;
use dms_api_types::crm::*;
use dms_api_types::{PageParams, Problem};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_lead)
        .service(list_leads)
        .service(get_lead)
        .service(assign_lead)
        .service(log_contact)
        .service(lead_contacts)
        .service(lead_grades)
        .service(mark_lost)
        .service(convert_lead);
}

fn grade_of(code: &str, field: &str) -> Result<dms_crm::IntentGrade, ApiError> {
    dms_crm::IntentGrade::from_code(code)
        .ok_or_else(|| ApiError::invalid(field, "invalid", "H, A, B or C"))
}

/// Registers a lead.
#[utoipa::path(
    tag = "leads",
    description = "A prospect with source channel, vehicle of interest and intent grade; the first follow-up is due by the grade's cadence \
(configurable; H 1 day, A 3, B 7, C 30). A consultant's lead is assigned to the consultant; a manager may name one. One open lead per phone and store (409). Audited.\n\n\
**Permission:** `crm.leads` in the store.",
    request_body = CreateLeadRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = LeadDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An open lead with this phone exists in the store", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid phone, grade, source or store", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/leads")]
pub async fn create_lead(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<CreateLeadRequest>,
) -> Result<HttpResponse, ApiError> {
    let access = lead_access(&staff)?;
    let b = body.0;
    let assigned = match &access.own_only {
        Some(me) => Some(me.clone()),
        None => opt_body_id(&b.assigned_to, "assigned_to")?,
    };
    let new = dms_crm::NewLead {
        store_id: body_id(&b.store_id, "store_id")?,
        name: b.name,
        phone: b.phone,
        source_channel: b.source_channel,
        interest_brand: b.interest_brand,
        interest_model: b.interest_model,
        grade: grade_of(&b.grade, "grade")?,
        assigned_to: assigned,
        customer_id: opt_body_id(&b.customer_id, "customer_id")?,
    };
    let actor = staff.actor();
    let cadence = state.crm.cadence;
    let l = state
        .db(move |c| {
            Ok(dms_crm::create_lead(
                c,
                &actor,
                &access,
                &new,
                &cadence,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(HttpResponse::Created().json(lead_dto(l)))
}

/// Leads, by grade, status, consultant or overdue.
#[utoipa::path(
    tag = "leads",
    description = "A consultant sees the leads assigned to them; a manager (sales, store or general manager) every lead of their stores. \
`overdue=true`: open leads whose follow-up day has passed, oldest first (one page of at most `limit`, no cursor).\n\n\
**Permission:** `crm.leads`.",
    params(LeadListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = LeadPage),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter or cursor", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/leads")]
pub async fn list_leads(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<LeadListParams>,
) -> Result<web::Json<LeadPage>, ApiError> {
    let access = lead_access(&staff)?;
    let p = q.0;
    if p.overdue == Some(true) {
        let today = crate::jobs::local_now().date_naive();
        let limit = p.limit.unwrap_or(50);
        let rows = state
            .db(move |c| Ok(dms_crm::overdue_leads(c, &access, today, limit)?))
            .await?;
        return Ok(web::Json(LeadPage {
            items: rows.into_iter().map(lead_dto).collect(),
            next_cursor: None,
        }));
    }
    let page = page_request(&PageParams {
        cursor: p.cursor,
        limit: p.limit,
    })?;
    let filter = dms_crm::LeadFilter {
        status: p.status,
        grade: p
            .grade
            .as_deref()
            .map(|g| grade_of(g, "grade"))
            .transpose()?,
        assigned_to: p.assigned_to,
    };
    let (rows, next) = state
        .db(move |c| Ok(dms_crm::list_leads(c, &access, &filter, &page)?))
        .await?;
    Ok(web::Json(LeadPage {
        items: rows.into_iter().map(lead_dto).collect(),
        next_cursor: next,
    }))
}

/// One lead.
#[utoipa::path(
    tag = "leads",
    description = "**Permission:** `crm.leads` (a consultant: their own leads only; others read as 404).",
    params(("id" = String, Path, description = "Lead id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = LeadDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lead among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/leads/{id}")]
pub async fn get_lead(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<LeadDto>, ApiError> {
    let access = lead_access(&staff)?;
    let id = path_id(&id, "lead")?;
    let l = state
        .db(move |c| Ok(dms_crm::get_lead(c, &access, &id)?))
        .await?;
    Ok(web::Json(lead_dto(l)))
}

/// Assigns the lead to a consultant.
#[utoipa::path(
    tag = "leads",
    description = "Audited.\n\n**Permission:** `crm.leads` as a manager (sales, store or general manager); consultants get 403.",
    params(("id" = String, Path, description = "Lead id")),
    request_body = AssignRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = LeadDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a manager", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lead among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The lead is closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a consultant of the store", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/leads/{id}/assign")]
pub async fn assign_lead(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<AssignRequest>,
) -> Result<web::Json<LeadDto>, ApiError> {
    let access = lead_access(&staff)?;
    if access.own_only.is_some() {
        return Err(ApiError::Forbidden(
            "only a sales manager assigns leads".into(),
        ));
    }
    let id = path_id(&id, "lead")?;
    let to = body_id(&body.0.staff_id, "staff_id")?;
    let actor = staff.actor();
    let l = state
        .db(move |c| {
            Ok(dms_crm::assign_lead(
                c,
                &actor,
                &access,
                &id,
                &to,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(web::Json(lead_dto(l)))
}

/// Logs a contact (and maybe a new grade).
#[utoipa::path(
    tag = "leads",
    description = "Every contact is kept; a new grade is recorded in the grade history; the next follow-up moves by the grade's cadence. Audited.\n\n\
**Permission:** `crm.leads` (a consultant: own leads).",
    params(("id" = String, Path, description = "Lead id")),
    request_body = LeadContactRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = LeadDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lead among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The lead is closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid channel or grade", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/leads/{id}/contacts")]
pub async fn log_contact(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<LeadContactRequest>,
) -> Result<web::Json<LeadDto>, ApiError> {
    let access = lead_access(&staff)?;
    let id = path_id(&id, "lead")?;
    let b = body.0;
    let input = dms_crm::LeadContactInput {
        channel: b.channel,
        note: b.note,
        new_grade: b
            .new_grade
            .as_deref()
            .map(|g| grade_of(g, "new_grade"))
            .transpose()?,
    };
    let actor = staff.actor();
    let cadence = state.crm.cadence;
    let l = state
        .db(move |c| {
            Ok(dms_crm::log_lead_contact(
                c,
                &actor,
                &access,
                &id,
                &input,
                &cadence,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(web::Json(lead_dto(l)))
}

/// The lead's contacts.
#[utoipa::path(
    tag = "leads",
    description = "Oldest first.\n\n**Permission:** `crm.leads` (a consultant: own leads).",
    params(("id" = String, Path, description = "Lead id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<LeadContactDto>),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lead among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/leads/{id}/contacts")]
pub async fn lead_contacts(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<Vec<LeadContactDto>>, ApiError> {
    let access = lead_access(&staff)?;
    let id = path_id(&id, "lead")?;
    let rows = state
        .db(move |c| Ok(dms_crm::lead_contacts_of(c, &access, &id)?))
        .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|x| LeadContactDto {
                staff_id: x.staff_id,
                channel: x.channel,
                note: x.note,
                contacted_at: dms_db::from_db_time(x.contacted_at),
            })
            .collect(),
    ))
}

/// The lead's grade changes.
#[utoipa::path(
    tag = "leads",
    description = "Every intent grade the lead had, oldest first, with who changed it and why.\n\n**Permission:** `crm.leads` (a consultant: own leads).",
    params(("id" = String, Path, description = "Lead id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<LeadGradeChangeDto>),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lead among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/leads/{id}/grades")]
pub async fn lead_grades(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<Vec<LeadGradeChangeDto>>, ApiError> {
    let access = lead_access(&staff)?;
    let id = path_id(&id, "lead")?;
    let rows = state
        .db(move |c| Ok(dms_crm::lead_grade_history(c, &access, &id)?))
        .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|g| LeadGradeChangeDto {
                from_grade: g.from_grade,
                to_grade: g.to_grade,
                reason: g.reason,
                staff_id: g.staff_id,
                changed_at: dms_db::from_db_time(g.changed_at),
            })
            .collect(),
    ))
}

/// Marks the lead lost (战败).
#[utoipa::path(
    tag = "leads",
    description = "With the reason. Audited.\n\n**Permission:** `crm.leads` (a consultant: own leads).",
    params(("id" = String, Path, description = "Lead id")),
    request_body = LostRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = LeadDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lead among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The lead is closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/leads/{id}/lost")]
pub async fn mark_lost(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<LostRequest>,
) -> Result<web::Json<LeadDto>, ApiError> {
    let access = lead_access(&staff)?;
    let id = path_id(&id, "lead")?;
    let reason = body.0.reason;
    let actor = staff.actor();
    let l = state
        .db(move |c| {
            Ok(dms_crm::mark_lead_lost(
                c,
                &actor,
                &access,
                &id,
                &reason,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(web::Json(lead_dto(l)))
}

/// Marks the lead converted (a customer now).
#[utoipa::path(
    tag = "leads",
    description = "Links the lead to the customer record. Audited.\n\n**Permission:** `crm.leads` (a consultant: own leads).",
    params(("id" = String, Path, description = "Lead id")),
    request_body = ConvertRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = LeadDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such lead among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The lead is closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such customer", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/leads/{id}/convert")]
pub async fn convert_lead(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<ConvertRequest>,
) -> Result<web::Json<LeadDto>, ApiError> {
    let access = lead_access(&staff)?;
    let id = path_id(&id, "lead")?;
    let customer = body_id(&body.0.customer_id, "customer_id")?;
    let actor = staff.actor();
    let l = state
        .db(move |c| {
            Ok(dms_crm::convert_lead(
                c,
                &actor,
                &access,
                &id,
                &customer,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(web::Json(lead_dto(l)))
}
