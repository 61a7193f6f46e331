//! The message outbox: templates, queuing one message, its delivery status, statistics. The
//! worker that sends them runs in `start_jobs`.

use super::dto::*;
use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::{page_request, parse_json, path_id, Body, QueryParams};
use crate::AppState;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::Utc;
use dms_api_types::crm::*;
use dms_api_types::PageParams;
use dms_api_types::Problem;
use dms_identity::Permission;
use std::collections::BTreeMap;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(templates)
        .service(message_stats)
        .service(sms_receipts)
        .service(list_messages)
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
    let purpose = purpose_of(&b.purpose)?;
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

/// The outbox.
#[utoipa::path(
    tag = "messages",
    description = "Messages of the caller's stores in creation order, filtered by `status` (`pending`, `sent`, `delivered`, `failed`, `suppressed`), \
`channel` (`sms`, `email`), `customer_id` and the creation days `[from, to)`. An SMS is `sent` when the gateway accepted it and `delivered` or \
`failed` (with the provider's code in `last_error`) when its receipt comes; an e-mail is `delivered` when the SMTP relay accepts it.\n\n\
**Permission:** `crm.care`.",
    params(MessageListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = MessagePage),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter, period or cursor", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/messages")]
pub async fn list_messages(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<MessageListParams>,
) -> Result<web::Json<MessagePage>, ApiError> {
    let scope = staff.require(Permission::CareWork)?;
    let p = q.0;
    let page = page_request(&PageParams {
        cursor: p.cursor,
        limit: p.limit,
    })?;
    if let Some(s) = &p.status {
        if !["pending", "sent", "delivered", "failed", "suppressed"].contains(&s.as_str()) {
            return Err(ApiError::invalid(
                "status",
                "invalid",
                "pending, sent, delivered, failed or suppressed",
            ));
        }
    }
    if let Some(ch) = &p.channel {
        if !["sms", "email"].contains(&ch.as_str()) {
            return Err(ApiError::invalid("channel", "invalid", "sms or email"));
        }
    }
    if let (Some(f), Some(t)) = (p.from, p.to) {
        if t <= f {
            return Err(ApiError::invalid("to", "invalid", "must be after from"));
        }
    }
    let filter = dms_crm::MessageFilter {
        status: p.status,
        channel: p.channel,
        customer_id: opt_body_id(&p.customer_id, "customer_id")?,
        from: p.from,
        to: p.to,
    };
    let (rows, next) = state
        .db(move |c| Ok(dms_crm::list_messages(c, &scope, &filter, &page)?))
        .await?;
    Ok(web::Json(MessagePage {
        items: rows.into_iter().map(message_dto).collect(),
        next_cursor: next,
    }))
}

/// How far a signed receipt's timestamp may be from the server's clock.
const RECEIPT_CLOCK_SKEW_SECS: i64 = 300;

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `X-Dms-Signature` of a receipt body sent at `timestamp` (Unix seconds):
/// `sha256=` + hex HMAC-SHA256 with the gateway key over `<timestamp>.<body>`.
pub fn sign_receipt(key: &str, timestamp: i64, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The gateway proves it knows `[crm] sms_gateway_key` either by signing (`X-Dms-Timestamp`:
/// Unix seconds, `X-Dms-Signature`: `sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>`) or,
/// for gateways that can only add a fixed header, with `Authorization: Bearer <key>`.
fn check_gateway(req: &HttpRequest, key: &str, body: &[u8]) -> Result<(), ApiError> {
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    if let Some(sig) = header("x-dms-signature") {
        let ts = header("x-dms-timestamp")
            .and_then(|t| t.trim().parse::<i64>().ok())
            .ok_or(ApiError::Unauthorized(
                "X-Dms-Timestamp missing or not Unix seconds",
            ))?;
        if (Utc::now().timestamp() - ts).abs() > RECEIPT_CLOCK_SKEW_SECS {
            return Err(ApiError::Unauthorized("receipt timestamp too far from now"));
        }
        let want = sign_receipt(key, ts, body);
        if constant_time_eq(want.as_bytes(), sig.trim().as_bytes()) {
            return Ok(());
        }
        return Err(ApiError::Unauthorized("signature does not match"));
    }
    match header("authorization").and_then(|v| v.split_once(' ')) {
        Some((scheme, k))
            if scheme.eq_ignore_ascii_case("bearer")
                && constant_time_eq(k.trim().as_bytes(), key.as_bytes()) =>
        {
            Ok(())
        }
        _ => Err(ApiError::Unauthorized(
            "sign the receipt with the gateway key (X-Dms-Signature) or send it as a bearer token",
        )),
    }
}

/// Delivery receipts from the SMS gateway.
#[utoipa::path(
    tag = "messages",
    description = "The SMS gateway's callback: `{\"receipts\": [{\"id\": \"<the gateway's message id>\", \"status\": \"delivered\"|\"failed\", \
\"code\": \"UNDELIV\", \"detail\": \"...\", \"at\": \"RFC 3339\"}]}` (1-500 receipts). A `delivered` receipt marks the SMS delivered; `failed` \
marks it failed with the provider's code and text in `last_error` (the message statistics count both). Repeated receipts change nothing; ids \
with no message (login codes go through the same gateway) are answered in `unknown`.\n\n\
**Permission:** not a staff token: the gateway authenticates with `[crm] sms_gateway_key` (`DMS_SMS_GATEWAY_KEY`), either signing the \
request (`X-Dms-Timestamp`: Unix seconds, within 5 minutes; `X-Dms-Signature`: `sha256=` + hex HMAC-SHA256 over `<timestamp>.<raw body>`) or \
sending `Authorization: Bearer <key>`.",
    request_body = SmsReceiptBatch,
    security(("sms_gateway" = [])),
    responses(
        (status = 200, body = SmsReceiptResult),
        (status = 400, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or wrong gateway key or signature", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A receipt for a message that was not sent", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A receipt is invalid (status, code)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No gateway key is configured", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/messages/sms-receipts")]
pub async fn sms_receipts(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<web::Json<SmsReceiptResult>, ApiError> {
    let Some(key) = state.crm.settings.sms_gateway_key.clone() else {
        return Err(ApiError::Unavailable(
            "delivery receipts are off: set crm.sms_gateway_key".into(),
        ));
    };
    check_gateway(&req, &key, &body)?;
    let batch: SmsReceiptBatch = parse_json(&body)?;
    let mut receipts = Vec::with_capacity(batch.receipts.len());
    for (i, r) in batch.receipts.into_iter().enumerate() {
        let outcome = match r.status.as_str() {
            "delivered" => dms_crm::ReceiptOutcome::Delivered,
            "failed" => dms_crm::ReceiptOutcome::Failed {
                code: r.code.clone().ok_or_else(|| {
                    ApiError::invalid(
                        &format!("receipts[{i}].code"),
                        "required",
                        "the provider's code for a failure",
                    )
                })?,
                detail: r.detail.clone().unwrap_or_default(),
            },
            _ => {
                return Err(ApiError::invalid(
                    &format!("receipts[{i}].status"),
                    "invalid",
                    "delivered or failed",
                ))
            }
        };
        receipts.push((r.id, outcome, r.at));
    }
    let out = state
        .db(move |c| {
            let now = Utc::now();
            let mut out = SmsReceiptResult {
                updated: 0,
                unchanged: 0,
                unknown: vec![],
            };
            for (id, outcome, at) in &receipts {
                match dms_crm::record_delivery_receipt(c, id, outcome, at.unwrap_or(now), now) {
                    Ok((_, true)) => out.updated += 1,
                    Ok((_, false)) => out.unchanged += 1,
                    Err(dms_crm::CrmError::NotFound(_)) => out.unknown.push(id.clone()),
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(out)
        })
        .await?;
    Ok(web::Json(out))
}

/// A message's `purpose` field: `service` or `marketing` (which needs a recorded consent).
pub(crate) fn purpose_of(purpose: &str) -> Result<dms_crm::Purpose, ApiError> {
    match purpose {
        "service" => Ok(dms_crm::Purpose::Service),
        "marketing" => Ok(dms_crm::Purpose::Marketing),
        _ => Err(ApiError::invalid(
            "purpose",
            "invalid",
            "service or marketing",
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn receipt_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Reference value from an independent HMAC-SHA256 implementation.
        assert_eq!(
            super::sign_receipt("gw-key", 1_700_000_000, br#"{"receipts":[]}"#),
            "sha256=bef7cc2cf291b9f511f9fa6283a4f9353bf75bfa3ff7951c6a42ac06725017b5"
        );
    }
}
