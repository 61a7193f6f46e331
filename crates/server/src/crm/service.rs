//! After-sales care: follow-up tasks, complaints, questionnaires and surveys, satisfaction and
//! the CRM's statistics; the member club's block of the 360 view; demo data.

use super::dto::*;
use crate::auth::{Caller, Principal, Staff};
use crate::error::ApiError;
use crate::extract::{page_request, path_id, Body, QueryParams};
use crate::AppState;
use actix_web::{get, post, web, HttpResponse};
use chrono::Utc;
use dms_api_types::crm::*;
use dms_api_types::{PageParams, Problem};
use dms_core::StoreScope;
use dms_db::DbConnection;
use dms_identity::Permission;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_tasks)
        .service(create_task)
        .service(complete_task)
        .service(open_complaint)
        .service(list_complaints)
        .service(complaint_stats)
        // Before `/complaints/{id}`, which would take "assignees" for an id.
        .service(complaint_assignees)
        .service(get_complaint)
        .service(assign_complaint)
        .service(resolve_complaint)
        .service(confirm_complaint)
        .service(create_questionnaire)
        .service(get_questionnaire)
        .service(send_survey)
        .service(answer_survey)
        .service(satisfaction)
        .service(crm_statistics);
}

// ---------------------------------------------------------------- tasks

/// Follow-up tasks: customer service's queue.
#[utoipa::path(
    tag = "care",
    description = "Tasks of the caller's stores, in creation order: `status` (default `open`), `due_on_or_before` (today's queue: today), \
`mine=true` for the caller's own, `customer_id`.\n\n**Permission:** `crm.care`.",
    params(TaskListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = TaskPage),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter or cursor", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/tasks")]
pub async fn list_tasks(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<TaskListParams>,
) -> Result<web::Json<TaskPage>, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let p = q.0;
    let page = page_request(&PageParams {
        cursor: p.cursor,
        limit: p.limit,
    })?;
    let filter = dms_crm::TaskFilter {
        assigned_to: (p.mine == Some(true)).then(|| staff.principal.user.id.clone()),
        status: Some(p.status.unwrap_or_else(|| "open".into())),
        rule: None,
        due_on_or_before: p.due_on_or_before,
        customer_id: p.customer_id,
    };
    let (rows, next) = state
        .db(move |c| Ok(dms_crm::list_tasks(c, &scope, &filter, &page)?))
        .await?;
    Ok(web::Json(TaskPage {
        items: rows.into_iter().map(task_dto).collect(),
        next_cursor: next,
    }))
}

/// A task made by hand.
#[utoipa::path(
    tag = "care",
    description = "A manager's call list, a complaint follow-up... Audited.\n\n**Permission:** `crm.care` in the store.",
    request_body = CreateTaskRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = TaskDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid store, customer or title", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/tasks")]
pub async fn create_task(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<CreateTaskRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let b = body.0;
    let new = dms_crm::NewTask {
        store_id: body_id(&b.store_id, "store_id")?,
        customer_id: opt_body_id(&b.customer_id, "customer_id")?,
        vehicle_id: opt_body_id(&b.vehicle_id, "vehicle_id")?,
        title: b.title,
        due_on: b.due_on,
        assigned_to: opt_body_id(&b.assigned_to, "assigned_to")?,
    };
    let actor = staff.actor();
    let t = state
        .db(move |c| Ok(dms_crm::create_task(c, &actor, &scope, &new, Utc::now())?))
        .await?;
    Ok(HttpResponse::Created().json(task_dto(t)))
}

fn outcome_of(b: &CompleteTaskRequest) -> Result<dms_crm::TaskOutcome, ApiError> {
    use dms_crm::{RefusalReason as R, TaskOutcome as O};
    Ok(match b.outcome.as_str() {
        "reached" => O::Reached,
        "appointment_made" => O::AppointmentMade,
        "no_answer" => O::NoAnswer,
        "refused" => O::Refused(match b.reason.as_deref().map(str::trim) {
            None | Some("") => {
                return Err(ApiError::invalid(
                    "reason",
                    "required",
                    "say why the customer declined",
                ))
            }
            Some("serviced_elsewhere") => R::ServicedElsewhere,
            Some("too_expensive") => R::TooExpensive,
            Some("too_far") => R::TooFar,
            Some("car_sold") => R::CarSold,
            Some("moved") => R::Moved,
            Some(other) => R::Other(other.to_string()),
        }),
        _ => {
            return Err(ApiError::invalid(
                "outcome",
                "invalid",
                "reached, appointment_made, no_answer or refused",
            ))
        }
    })
}

/// Records what came of the call, in one request.
#[utoipa::path(
    tag = "care",
    description = "`reached`, `appointment_made`, `no_answer` (the task stays open, due tomorrow) or `refused` with a `reason`: `serviced_elsewhere`, \
`too_expensive`, `too_far`, `car_sold` (the vehicle leaves the customer base and its other open tasks are cancelled), `moved` (the customer is \
tagged 已迁出 and their open tasks are cancelled) or free text. Reasons feed the statistics. Audited.\n\n**Permission:** `crm.care` in the task's store.",
    params(("id" = String, Path, description = "Task id")),
    request_body = CompleteTaskRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = TaskDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such task among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The task is already done or cancelled", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown outcome or no reason", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/tasks/{id}/outcome")]
pub async fn complete_task(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<CompleteTaskRequest>,
) -> Result<web::Json<TaskDto>, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let id = path_id(&id, "task")?;
    let b = body.0;
    let outcome = outcome_of(&b)?;
    let actor = staff.actor();
    let t = state
        .db(move |c| {
            Ok(dms_crm::complete_task(
                c,
                &actor,
                &scope,
                &id,
                &outcome,
                &b.note,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(web::Json(task_dto(t)))
}

// ---------------------------------------------------------------- complaints

fn severity_of(s: &str) -> Result<dms_crm::Severity, ApiError> {
    match s {
        "low" => Ok(dms_crm::Severity::Low),
        "normal" => Ok(dms_crm::Severity::Normal),
        "high" => Ok(dms_crm::Severity::High),
        "critical" => Ok(dms_crm::Severity::Critical),
        _ => Err(ApiError::invalid(
            "severity",
            "invalid",
            "low, normal, high or critical",
        )),
    }
}

/// Takes in a complaint.
#[utoipa::path(
    tag = "complaints",
    description = "From any channel, with category and severity; the SLA deadline follows from the severity (configurable: critical 4 h, high 24 h, \
normal 72 h, low 168 h). Overdue open complaints are escalated by a background job up the store's ladder. Audited.\n\n**Permission:** `crm.care` in the store.",
    request_body = OpenComplaintRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = ComplaintDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown channel, category, severity, store or customer", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/complaints")]
pub async fn open_complaint(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<OpenComplaintRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let b = body.0;
    let new = dms_crm::NewComplaint {
        store_id: body_id(&b.store_id, "store_id")?,
        customer_id: body_id(&b.customer_id, "customer_id")?,
        vehicle_id: opt_body_id(&b.vehicle_id, "vehicle_id")?,
        order_ref: b.order_ref,
        work_order_ref: b.work_order_ref,
        channel: b.channel,
        category: b.category,
        severity: severity_of(&b.severity)?,
        description: b.description,
        assigned_to: opt_body_id(&b.assigned_to, "assigned_to")?,
    };
    let actor = staff.actor();
    let st = state.clone();
    let x = state
        .db(move |c| {
            Ok(dms_crm::open_complaint(
                c,
                &actor,
                &scope,
                &new,
                &st.crm.settings.complaints,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(HttpResponse::Created().json(complaint_dto(x)))
}

/// Complaints of the caller's stores.
#[utoipa::path(
    tag = "complaints",
    description = "In creation order, filtered by status, customer or assignee.\n\n**Permission:** `crm.care`.",
    params(ComplaintListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ComplaintPage),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter or cursor", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/complaints")]
pub async fn list_complaints(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<ComplaintListParams>,
) -> Result<web::Json<ComplaintPage>, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let p = q.0;
    let page = page_request(&PageParams {
        cursor: p.cursor,
        limit: p.limit,
    })?;
    let filter = dms_crm::ComplaintFilter {
        status: p.status,
        customer_id: p.customer_id,
        assigned_to: p.assigned_to,
    };
    let (rows, next) = state
        .db(move |c| Ok(dms_crm::list_complaints(c, &scope, &filter, &page)?))
        .await?;
    Ok(web::Json(ComplaintPage {
        items: rows.into_iter().map(complaint_dto).collect(),
        next_cursor: next,
    }))
}

fn period(p: &PeriodParams) -> Result<(), ApiError> {
    if p.to <= p.from {
        return Err(ApiError::invalid("to", "invalid", "must be after from"));
    }
    if (p.to - p.from).num_days() > 3700 {
        return Err(ApiError::invalid("to", "invalid", "at most ten years"));
    }
    Ok(())
}

fn complaint_stats_dto(s: dms_crm::ComplaintStats) -> ComplaintStatsDto {
    ComplaintStatsDto {
        by_category: s.by_category,
        by_severity: s.by_severity,
        resolved: s.resolved,
        escalated: s.escalated,
        mean_hours_to_resolve: s.mean_hours_to_resolve,
    }
}

/// Complaint figures for a period.
#[utoipa::path(
    tag = "complaints",
    description = "Complaints opened in `[from, to)`: counts by category and severity, resolved, escalated, mean hours to resolve.\n\n\
**Permission:** `crm.care` or `reports.read`.",
    params(PeriodParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ComplaintStatsDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid period", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/complaints/statistics")]
pub async fn complaint_stats(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<PeriodParams>,
) -> Result<web::Json<ComplaintStatsDto>, ApiError> {
    let scope = care_or_reports(&staff)?;
    let p = q.0;
    period(&p)?;
    let s = state
        .db(move |c| Ok(dms_crm::complaint_stats(c, &scope, p.from, p.to)?))
        .await?;
    Ok(web::Json(complaint_stats_dto(s)))
}

fn care_or_reports(staff: &Staff) -> Result<StoreScope, ApiError> {
    staff
        .require(Permission::ReportsRead)
        .or_else(|_| staff.require(Permission::CareWork))
}

/// One complaint.
#[utoipa::path(
    tag = "complaints",
    description = "**Permission:** `crm.care` in the complaint's store.",
    params(("id" = String, Path, description = "Complaint id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ComplaintDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such complaint among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/complaints/{id}")]
pub async fn get_complaint(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<ComplaintDto>, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let id = path_id(&id, "complaint")?;
    let x = state
        .db(move |c| Ok(dms_crm::get_complaint(c, &scope, &id)?))
        .await?;
    Ok(web::Json(complaint_dto(x)))
}

/// Who a complaint (or a task) in a store can be given to.
#[utoipa::path(
    tag = "complaints",
    description = "Active staff holding `crm.care` in the store, by name (ids and display names only).\n\n**Permission:** `crm.care` in that store.",
    params(AssigneeParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = AssigneeListDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such store among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid store id", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/complaints/assignees")]
pub async fn complaint_assignees(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<AssigneeParams>,
) -> Result<web::Json<AssigneeListDto>, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let store = body_id(&q.0.store_id, "store_id")?;
    if !scope.allows(&store) {
        return Err(ApiError::NotFound("store"));
    }
    let people = state
        .db(move |c| {
            Ok(dms_identity::staff_holding(
                c,
                &store,
                Permission::CareWork,
            )?)
        })
        .await?;
    Ok(web::Json(AssigneeListDto {
        items: people
            .into_iter()
            .map(|(staff_id, display_name)| AssigneeDto {
                staff_id,
                display_name,
            })
            .collect(),
    }))
}

/// Assigns the complaint.
#[utoipa::path(
    tag = "complaints",
    description = "Audited.\n\n**Permission:** `crm.care` in the complaint's store.",
    params(("id" = String, Path, description = "Complaint id")),
    request_body = AssignRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = ComplaintDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such complaint among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The complaint is closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a staff id", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/complaints/{id}/assign")]
pub async fn assign_complaint(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<AssignRequest>,
) -> Result<web::Json<ComplaintDto>, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let id = path_id(&id, "complaint")?;
    let to = body_id(&body.0.staff_id, "staff_id")?;
    let actor = staff.actor();
    let x = state
        .db(move |c| {
            Ok(dms_crm::assign_complaint(
                c,
                &actor,
                &scope,
                &id,
                &to,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(web::Json(complaint_dto(x)))
}

/// Records the resolution.
#[utoipa::path(
    tag = "complaints",
    description = "The complaint waits for the customer's confirmation (`resolved`). Audited.\n\n**Permission:** `crm.care` in the complaint's store.",
    params(("id" = String, Path, description = "Complaint id")),
    request_body = ResolveRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = ComplaintDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such complaint among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not open", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No resolution", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/complaints/{id}/resolve")]
pub async fn resolve_complaint(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<ResolveRequest>,
) -> Result<web::Json<ComplaintDto>, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let id = path_id(&id, "complaint")?;
    let text = body.0.resolution;
    let actor = staff.actor();
    let x = state
        .db(move |c| {
            Ok(dms_crm::resolve_complaint(
                c,
                &actor,
                &scope,
                &id,
                &text,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(web::Json(complaint_dto(x)))
}

/// The customer's confirmation.
#[utoipa::path(
    tag = "complaints",
    description = "`satisfied: true` closes the complaint; `false` reopens it with a new SLA deadline. Audited.\n\n**Permission:** `crm.care` in the complaint's store.",
    params(("id" = String, Path, description = "Complaint id")),
    request_body = ConfirmRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = ComplaintDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such complaint among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not resolved", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/complaints/{id}/confirm")]
pub async fn confirm_complaint(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<ConfirmRequest>,
) -> Result<web::Json<ComplaintDto>, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let id = path_id(&id, "complaint")?;
    let satisfied = body.0.satisfied;
    let actor = staff.actor();
    let st = state.clone();
    let x = state
        .db(move |c| {
            Ok(dms_crm::confirm_complaint(
                c,
                &actor,
                &scope,
                &id,
                satisfied,
                &st.crm.settings.complaints,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(web::Json(complaint_dto(x)))
}

// ---------------------------------------------------------------- surveys

fn questionnaire_dto(q: dms_crm::Questionnaire) -> QuestionnaireDto {
    QuestionnaireDto {
        id: q.id,
        code: q.code,
        title: q.title,
        occasion: q.occasion,
        questions: q.questions.into_iter().map(question_dto).collect(),
        active: q.active,
    }
}

/// Creates a questionnaire (group-wide).
#[utoipa::path(
    tag = "surveys",
    description = "Questions of kind `csat` (1-5), `nps` (0-10), `scale` (`min`..`max`) or `text`. Group-wide, so stores' figures compare. Audited.\n\n\
**Permission:** `crm.care` in every store (a group role).",
    request_body = CreateQuestionnaireRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = QuestionnaireDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission group-wide", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The code is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid question", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/questionnaires")]
pub async fn create_questionnaire(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<CreateQuestionnaireRequest>,
) -> Result<HttpResponse, ApiError> {
    if staff.require(Permission::CareWork)? != StoreScope::AllStores {
        return Err(ApiError::Forbidden(
            "questionnaires are group-wide: requires crm.care in every store".into(),
        ));
    }
    let b = body.0;
    let questions = b
        .questions
        .iter()
        .enumerate()
        .map(|(i, q)| question_from(i, q))
        .collect::<Result<Vec<_>, _>>()?;
    let new = dms_crm::NewQuestionnaire {
        code: b.code,
        title: b.title,
        occasion: b.occasion,
        questions,
    };
    let actor = staff.actor();
    let q = state
        .db(move |c| Ok(dms_crm::create_questionnaire(c, &actor, &new, Utc::now())?))
        .await?;
    Ok(HttpResponse::Created().json(questionnaire_dto(q)))
}

/// One questionnaire, by code.
#[utoipa::path(
    tag = "surveys",
    description = "**Permission:** `crm.care`, or a customer token (to show the questions of their survey).",
    params(("code" = String, Path, description = "Questionnaire code")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = QuestionnaireDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such questionnaire", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/questionnaires/{code}")]
pub async fn get_questionnaire(
    state: web::Data<AppState>,
    caller: Caller,
    code: web::Path<String>,
) -> Result<web::Json<QuestionnaireDto>, ApiError> {
    if let Principal::Staff(p) = &caller.principal {
        if !p.holds(Permission::CareWork) {
            return Err(ApiError::Forbidden("requires permission crm.care".into()));
        }
    }
    let code = code.into_inner();
    if code.is_empty() || code.len() > 32 {
        return Err(ApiError::NotFound("questionnaire"));
    }
    let q = state
        .db(move |c| Ok(dms_crm::get_questionnaire(c, &code)?))
        .await?;
    Ok(web::Json(questionnaire_dto(q)))
}

/// Records that a survey went out to a customer.
#[utoipa::path(
    tag = "surveys",
    description = "After a delivery or a service visit, naming the advisor or consultant it rates. Audited.\n\n**Permission:** `crm.care` in the store.",
    request_body = SendSurveyRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = SurveyDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown questionnaire, store or customer", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/surveys")]
pub async fn send_survey(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<SendSurveyRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let b = body.0;
    let new = dms_crm::NewSurvey {
        store_id: body_id(&b.store_id, "store_id")?,
        questionnaire_code: b.questionnaire_code,
        customer_id: body_id(&b.customer_id, "customer_id")?,
        subject_ref: b.subject_ref,
        advisor_id: opt_body_id(&b.advisor_id, "advisor_id")?,
        consultant_id: opt_body_id(&b.consultant_id, "consultant_id")?,
    };
    let actor = staff.actor();
    let s = state
        .db(move |c| Ok(dms_crm::send_survey(c, &actor, &scope, &new, Utc::now())?))
        .await?;
    Ok(HttpResponse::Created().json(survey_dto(s)))
}

/// Answers a survey.
#[utoipa::path(
    tag = "surveys",
    description = "Scores within each question's range, required questions answered; once only (409). Feeds CSAT/NPS.\n\n\
**Permission:** `crm.care` in the survey's store (staff taking the answers by phone), or the customer's own token for their own survey (others read as 404).",
    params(("id" = String, Path, description = "Survey id")),
    request_body = AnswerSurveyRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = SurveyDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such survey among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already answered", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A score out of range or a required answer missing", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/surveys/{id}/answers")]
pub async fn answer_survey(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: Body<AnswerSurveyRequest>,
) -> Result<web::Json<SurveyDto>, ApiError> {
    let id = path_id(&id, "survey")?;
    let (scope, actor, own) = match &caller.principal {
        Principal::Staff(p) => {
            let s = p.scope(Permission::CareWork);
            if s.is_empty() {
                return Err(ApiError::Forbidden("requires permission crm.care".into()));
            }
            (s, p.actor(caller.request_id.clone()), None)
        }
        Principal::Customer(c) => (
            StoreScope::AllStores,
            dms_identity::Actor {
                kind: "customer",
                id: Some(c.id.clone()),
                name: c.name.clone(),
                request_id: caller.request_id.clone(),
            },
            Some(c.id.clone()),
        ),
    };
    let answers: Vec<dms_crm::Answer> = body
        .0
        .answers
        .into_iter()
        .map(|a| dms_crm::Answer {
            question_code: a.question_code,
            score: a.score,
            text: a.text,
        })
        .collect();
    let s = state
        .db(move |c| {
            if let Some(me) = &own {
                let mine = dms_crm::customer_surveys(c, &StoreScope::AllStores, me)?;
                if !mine.iter().any(|s| s.id == id) {
                    return Err(ApiError::NotFound("survey"));
                }
            }
            Ok(dms_crm::answer_survey(
                c,
                &actor,
                &scope,
                &id,
                &answers,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(web::Json(survey_dto(s)))
}

/// CSAT and NPS.
#[utoipa::path(
    tag = "surveys",
    description = "Surveys answered in `[from, to)` by store, advisor or consultant (`by`): responses, CSAT (share of 4-5 and mean) and NPS.\n\n\
**Permission:** `reports.read` or `crm.care`.",
    params(PeriodParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = SatisfactionDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid period or grouping", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/satisfaction")]
pub async fn satisfaction(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<PeriodParams>,
) -> Result<web::Json<SatisfactionDto>, ApiError> {
    let scope = care_or_reports(&staff)?;
    let p = q.0;
    period(&p)?;
    let by_code = p.by.clone().unwrap_or_else(|| "store".into());
    let by = match by_code.as_str() {
        "store" => dms_crm::SatisfactionBy::Store,
        "advisor" => dms_crm::SatisfactionBy::Advisor,
        "consultant" => dms_crm::SatisfactionBy::Consultant,
        _ => {
            return Err(ApiError::invalid(
                "by",
                "invalid",
                "store, advisor or consultant",
            ))
        }
    };
    let rows = state
        .db(move |c| Ok(dms_crm::satisfaction(c, &scope, p.from, p.to, by)?))
        .await?;
    Ok(web::Json(SatisfactionDto {
        by: by_code,
        rows: rows
            .into_iter()
            .map(|r| SatisfactionRowDto {
                key: r.key,
                responses: r.responses,
                csat_percent: r.csat_percent,
                csat_mean: r.csat_mean,
                nps: r.nps,
            })
            .collect(),
    }))
}

/// The CRM's figures for reports.
#[utoipa::path(
    tag = "care",
    description = "For `[from, to)`: per care rule the tasks due, contacts made, appointments made and reasons for not returning; lead conversion by \
grade and by consultant; complaint figures.\n\n**Permission:** `reports.read`.",
    params(PeriodParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CrmStatsDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid period", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/crm/statistics")]
pub async fn crm_statistics(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<PeriodParams>,
) -> Result<web::Json<CrmStatsDto>, ApiError> {
    let scope = staff.require(Permission::ReportsRead)?;
    let p = q.0;
    period(&p)?;
    let (care, (by_grade, by_consultant), complaints) = state
        .db(move |c| {
            Ok((
                dms_crm::care_stats(c, &scope, p.from, p.to)?,
                dms_crm::lead_conversion(c, &scope, p.from, p.to)?,
                dms_crm::complaint_stats(c, &scope, p.from, p.to)?,
            ))
        })
        .await?;
    let conv = |rows: Vec<dms_crm::ConversionRow>| {
        rows.into_iter()
            .map(|r| ConversionRowDto {
                key: r.key,
                leads: r.leads,
                converted: r.converted,
                lost: r.lost,
            })
            .collect()
    };
    Ok(web::Json(CrmStatsDto {
        care: care
            .into_iter()
            .map(|(k, s)| {
                (
                    k,
                    CareRuleStatsDto {
                        due: s.due,
                        contacted: s.contacted,
                        appointments: s.appointments,
                        refusals: s.refusals,
                    },
                )
            })
            .collect(),
        leads_by_grade: conv(by_grade),
        leads_by_consultant: conv(by_consultant),
        complaints: complaint_stats_dto(complaints),
    }))
}

// ---------------------------------------------------------------- the member club's 360 block

/// The `membership` block of the 360 view: the member (tier, points, term) and their cards
/// (masked numbers, status, balances), read through `dms_membership`.
pub struct MembershipSection;

impl dms_crm::Customer360Section for MembershipSection {
    fn key(&self) -> &'static str {
        "membership"
    }

    fn section(
        &self,
        conn: &mut DbConnection,
        scope: &StoreScope,
        customer_id: &str,
    ) -> dms_crm::Result<Option<serde_json::Value>> {
        let m = match dms_membership::member_by_customer(conn, scope, customer_id) {
            Ok(m) => m,
            Err(dms_membership::MembershipError::NotFound(_)) => return Ok(None),
            Err(e) => {
                log::warn!("360: membership block unavailable: {e}");
                return Ok(None);
            }
        };
        let cards = dms_membership::cards_of_customer(conn, customer_id).unwrap_or_default();
        Ok(Some(serde_json::json!({
            "member_id": m.id,
            "store_id": m.store_id,
            "tier": m.tier_code,
            "status": m.status,
            "term_expires_at": m.term_expires_at,
            "tier_points": m.tier_points,
            "redeemable_points": m.redeemable_points,
            "cards": cards.iter().map(|c| serde_json::json!({
                "card_id": c.id,
                "card_no": dms_membership::mask_card_no(&c.card_no),
                "status": c.status,
                "balance": format!("{:.2}", (c.principal_fen + c.bonus_fen) as f64 / 100.0),
            })).collect::<Vec<_>>(),
        })))
    }
}
