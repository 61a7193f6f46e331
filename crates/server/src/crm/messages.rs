//! The message outbox: templates, queuing one message, its delivery status, statistics. The
//! worker that sends them runs in `start_jobs`.

use super::dto::*;
use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::{path_id, Body, QueryParams};
use crate::AppState;
use actix_web::{get, post, web, HttpResponse};
use chrono::Utc;
use dms_api_types::crm::*;
use dms_api_types::Problem;
use dms_identity::Permission;
use std::collections::BTreeMap;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(templates)
        .service(message_stats)
        .service(queue_message)
        .service(get_message);
}

fn message_dto(m: dms_crm::OutboxMessage) -> MessageDto {
    MessageDto {
        id: m.id,
        store_id: m.store_id,
        customer_id: m.customer_id,
        channel: m.channel,
        purpose: m.purpose,
        template_code: m.template_code,
        subject: m.subject,
        body: m.body,
        status: m.status,
        attempts: m.attempts,
        last_error: m.last_error,
        sent_at: m.sent_at.map(dms_db::from_db_time),
        delivered_at: m.delivered_at.map(dms_db::from_db_time),
        created_at: dms_db::from_db_time(m.created_at),
    }
}

/// The message templates.
#[utoipa::path(
    tag = "messages",
    description = "The Chinese SMS and e-mail texts the CRM sends (reminders, greetings, survey invitations), with their placeholders.\n\n**Permission:** `crm.care`.",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<MessageTemplateDto>),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/messages/templates")]
pub async fn templates(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<web::Json<Vec<MessageTemplateDto>>, ApiError> {
    staff.require(Permission::CareWork)?;
    Ok(web::Json(
        state
            .crm
            .templates
            .iter()
            .map(|t| MessageTemplateDto {
                code: t.code.clone(),
                channel: t.channel.code().into(),
                subject: t.subject.clone(),
                body: t.body.clone(),
            })
            .collect(),
    ))
}

/// Queues one message to a customer.
#[utoipa::path(
    tag = "messages",
    description = "Renders the template with `vars` and queues it for the worker (retries with back-off, quiet hours 21:00-08:00 respected). \
Without the consent the purpose needs, or without a phone/e-mail, the message is recorded as `suppressed` (201 all the same, the reason in \
`last_error`). With a `dedupe_key` used before, the earlier message is answered (200). Audited.\n\n**Permission:** `crm.care` in the store.",
    request_body = QueueMessageRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Already queued under this dedupe key", body = MessageDto),
        (status = 201, body = MessageDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown template, store or customer, a placeholder without a value", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/messages")]
pub async fn queue_message(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<QueueMessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let b = body.0;
    let purpose = match b.purpose.as_str() {
        "service" => dms_crm::Purpose::Service,
        "marketing" => dms_crm::Purpose::Marketing,
        _ => {
            return Err(ApiError::invalid(
                "purpose",
                "invalid",
                "service or marketing",
            ))
        }
    };
    let new = dms_crm::NewMessage {
        store_id: body_id(&b.store_id, "store_id")?,
        customer_id: body_id(&b.customer_id, "customer_id")?,
        purpose,
        template_code: b.template_code,
        vars: b.vars.into_iter().collect::<BTreeMap<_, _>>(),
        dedupe_key: b.dedupe_key,
    };
    let actor = staff.actor();
    let st = state.clone();
    let out = state
        .db(move |c| {
            Ok(dms_crm::enqueue_message(
                c,
                &actor,
                &scope,
                &st.crm.templates,
                &new,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(match out {
        dms_crm::EnqueueOutcome::Queued(m) | dms_crm::EnqueueOutcome::Suppressed(m) => {
            HttpResponse::Created().json(message_dto(m))
        }
        dms_crm::EnqueueOutcome::AlreadyQueued(m) => HttpResponse::Ok().json(message_dto(m)),
    })
}

/// One message and its delivery status.
#[utoipa::path(
    tag = "messages",
    description = "**Permission:** `crm.care` in the message's store.",
    params(("id" = String, Path, description = "Message id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = MessageDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/messages/{id}")]
pub async fn get_message(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<MessageDto>, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let id = path_id(&id, "message")?;
    let m = state
        .db(move |c| Ok(dms_crm::get_message(c, &scope, &id)?))
        .await?;
    Ok(web::Json(message_dto(m)))
}

/// Messages per template, by outcome.
#[utoipa::path(
    tag = "messages",
    description = "Messages created in `[from, to)` per template: queued, sent, delivered, failed, suppressed (with the care statistics: reminders sent ÷ vehicles due).\n\n\
**Permission:** `reports.read` or `crm.care`.",
    params(PeriodParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = BTreeMap<String, MessageStatsDto>),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid period", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/messages/statistics")]
pub async fn message_stats(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<PeriodParams>,
) -> Result<web::Json<BTreeMap<String, MessageStatsDto>>, ApiError> {
    let scope = staff
        .require(Permission::ReportsRead)
        .or_else(|_| staff.require(Permission::CareWork))?;
    let p = q.0;
    if p.to <= p.from {
        return Err(ApiError::invalid("to", "invalid", "must be after from"));
    }
    let rows = state
        .db(move |c| Ok(dms_crm::message_stats(c, &scope, p.from, p.to)?))
        .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|(k, s)| {
                (
                    k,
                    MessageStatsDto {
                        queued: s.queued,
                        sent: s.sent,
                        delivered: s.delivered,
                        failed: s.failed,
                        suppressed: s.suppressed,
                    },
                )
            })
            .collect(),
    ))
}
