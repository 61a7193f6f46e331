//! The message outbox: SMS and e-mail rendered from (Chinese) templates, queued in the same
//! transaction as the change that causes them, and delivered by a worker with retries,
//! back-off and delivery status. Consent is checked when a message is queued (marketing needs
//! a recorded "yes" on the channel; service messages stop at a recorded "no") and quiet hours
//! when it is sent.
//!
//! Providers sit behind two small traits: [`SmtpEmailSender`] speaks SMTP through lettre to a
//! relay; [`HttpSmsGateway`] posts JSON to a generic HTTP SMS gateway.

use crate::customers::{has_marketing_consent, has_opted_out, load_row, Channel};
use crate::schema::outbox_messages;
use crate::{audit, CrmError, Result};
use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, NaiveTime, Utc};
use diesel::prelude::*;
use dms_core::StoreScope;
use dms_db::{to_db_time, write_tx, DbConnection};
use dms_identity::Actor;
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageChannel {
    Sms,
    Email,
}

impl MessageChannel {
    pub fn code(&self) -> &'static str {
        match self {
            MessageChannel::Sms => "sms",
            MessageChannel::Email => "email",
        }
    }

    fn consent_channel(&self) -> Channel {
        match self {
            MessageChannel::Sms => Channel::Sms,
            MessageChannel::Email => Channel::Email,
        }
    }
}

/// Why a message is sent decides which consent it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// About the customer's own car or business (reminders, survey invitations): sent unless
    /// the customer said no on that channel.
    Service,
    /// Campaigns and offers: only with a recorded consent on that channel.
    Marketing,
}

impl Purpose {
    pub fn code(&self) -> &'static str {
        match self {
            Purpose::Service => "service",
            Purpose::Marketing => "marketing",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTemplate {
    pub code: String,
    pub channel: MessageChannel,
    /// E-mail subject; empty for SMS.
    pub subject: String,
    /// Text with `{{name}}` placeholders.
    pub body: String,
}

/// The templates in use, by code. [`TemplateSet::standard`] holds the stock Chinese texts;
/// deployments replace or add their own.
#[derive(Debug, Clone, Default)]
pub struct TemplateSet {
    templates: BTreeMap<String, MessageTemplate>,
}

impl TemplateSet {
    pub fn standard() -> TemplateSet {
        let mut t = TemplateSet::default();
        let sms = |code: &str, body: &str| MessageTemplate {
            code: code.into(),
            channel: MessageChannel::Sms,
            subject: String::new(),
            body: body.into(),
        };
        t.insert(sms(
            "insurance_renewal",
            "【{{store}}】尊敬的{{name}}，您的爱车{{plate}}的保险将于{{date}}到期，续保请致电{{store_phone}}。",
        ));
        t.insert(sms(
            "maintenance_due",
            "【{{store}}】尊敬的{{name}}，您的爱车{{plate}}即将到期保养，欢迎预约：{{store_phone}}。",
        ));
        t.insert(sms(
            "annual_inspection",
            "【{{store}}】尊敬的{{name}}，您的爱车{{plate}}需在{{date}}前年审，本店可代办。",
        ));
        t.insert(sms(
            "birthday",
            "【{{store}}】亲爱的{{name}}，祝您生日快乐！",
        ));
        t.insert(sms(
            "promotion",
            "【{{store}}】{{name}}您好，{{offer}}。回复TD退订。",
        ));
        t.insert(sms(
            "survey_invite_sms",
            "【{{store}}】尊敬的{{name}}，感谢您的信任！请花一分钟评价我们的服务：{{link}}",
        ));
        t.insert(MessageTemplate {
            code: "survey_invite".into(),
            channel: MessageChannel::Email,
            subject: "{{store}}服务满意度调查".into(),
            body: "尊敬的{{name}}：\n\n感谢您光临{{store}}。请花一分钟告诉我们您的感受：{{link}}\n\n{{store}}客户服务部".into(),
        });
        t
    }

    pub fn insert(&mut self, t: MessageTemplate) {
        self.templates.insert(t.code.clone(), t);
    }

    pub fn get(&self, code: &str) -> Option<&MessageTemplate> {
        self.templates.get(code)
    }

    /// Every template, by code.
    pub fn iter(&self) -> impl Iterator<Item = &MessageTemplate> {
        self.templates.values()
    }
}

/// Replaces `{{var}}` with its value. A placeholder without a value is an error rather than
/// a message that reaches a customer with braces in it.
pub fn render(text: &str, vars: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| CrmError::invalid("template", "unclosed {{"))?;
        let name = after[..end].trim();
        let v = vars
            .get(name)
            .ok_or_else(|| CrmError::invalid("vars", format!("no value for {{{{{name}}}}}")))?;
        out.push_str(v);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox_messages)]
pub struct OutboxMessage {
    pub id: String,
    pub store_id: String,
    pub customer_id: Option<String>,
    pub channel: String,
    pub purpose: String,
    pub recipient: String,
    pub template_code: String,
    pub subject: String,
    pub body: String,
    /// `pending`, `sent`, `delivered`, `failed` or `suppressed` (no consent / no address).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub provider_ref: Option<String>,
    pub sent_at: Option<NaiveDateTime>,
    pub delivered_at: Option<NaiveDateTime>,
    pub dedupe_key: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub store_id: String,
    pub customer_id: String,
    pub purpose: Purpose,
    pub template_code: String,
    pub vars: BTreeMap<String, String>,
    /// Makes queuing idempotent (`insurance_renewal:<vehicle>:<expiry>`).
    pub dedupe_key: Option<String>,
}

#[derive(Debug, Clone)]
pub enum EnqueueOutcome {
    Queued(OutboxMessage),
    /// Recorded, not sent: the reason is in `last_error` (`no_consent`, `opted_out`,
    /// `no_address`).
    Suppressed(OutboxMessage),
    /// The dedupe key was used before; the earlier message.
    AlreadyQueued(OutboxMessage),
}

fn load_msg(c: &mut DbConnection, id: &str) -> Result<OutboxMessage> {
    Ok(outbox_messages::table
        .find(id)
        .select(OutboxMessage::as_select())
        .first(c)?)
}

/// Renders and queues one message for a customer. Runs in its own transaction, or in the
/// caller's when there is one (the message then exists only if the change does).
pub fn enqueue_message(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    templates: &TemplateSet,
    new: &NewMessage,
    now: DateTime<Utc>,
) -> Result<EnqueueOutcome> {
    let t = templates
        .get(&new.template_code)
        .ok_or_else(|| CrmError::invalid("template_code", "no such template"))?;
    if !scope.allows(&new.store_id) {
        return Err(CrmError::invalid("store_id", "no such store among yours"));
    }
    let mut vars = new.vars.clone();
    write_tx(conn, |c| {
        if let Some(k) = &new.dedupe_key {
            let prior: Option<OutboxMessage> = outbox_messages::table
                .filter(outbox_messages::dedupe_key.eq(k))
                .select(OutboxMessage::as_select())
                .first(c)
                .optional()?;
            if let Some(p) = prior {
                return Ok(EnqueueOutcome::AlreadyQueued(p));
            }
        }
        let cust = load_row(c, &new.customer_id)?
            .filter(|x| x.status == "active")
            .ok_or_else(|| CrmError::invalid("customer_id", "no such customer"))?;
        vars.entry("name".into())
            .or_insert_with(|| cust.name.clone());
        let body = render(&t.body, &vars)?;
        let subject = render(&t.subject, &vars)?;
        let (recipient, mut problem) = match t.channel {
            MessageChannel::Sms => {
                let mobile = crate::validate::check_phone(&cust.phone, false).ok();
                let p = mobile.is_none().then_some("no_address");
                (mobile.unwrap_or_default(), p)
            }
            MessageChannel::Email => match &cust.email {
                Some(e) => (e.clone(), None),
                None => (String::new(), Some("no_address")),
            },
        };
        let ch = t.channel.consent_channel();
        if problem.is_none() {
            problem = match new.purpose {
                Purpose::Marketing if !has_marketing_consent(c, &cust.id, ch)? => {
                    Some("no_consent")
                }
                Purpose::Service if has_opted_out(c, &cust.id, ch)? => Some("opted_out"),
                _ => None,
            };
        }
        let id = dms_core::new_id();
        let ts = to_db_time(now);
        diesel::insert_into(outbox_messages::table)
            .values((
                outbox_messages::id.eq(&id),
                outbox_messages::store_id.eq(&new.store_id),
                outbox_messages::customer_id.eq(Some(&cust.id)),
                outbox_messages::channel.eq(t.channel.code()),
                outbox_messages::purpose.eq(new.purpose.code()),
                outbox_messages::recipient.eq(&recipient),
                outbox_messages::template_code.eq(&t.code),
                outbox_messages::subject.eq(&subject),
                outbox_messages::body.eq(&body),
                outbox_messages::status.eq(if problem.is_some() {
                    "suppressed"
                } else {
                    "pending"
                }),
                outbox_messages::attempts.eq(0),
                outbox_messages::next_attempt_at.eq(ts),
                outbox_messages::last_error.eq(problem),
                outbox_messages::dedupe_key.eq(new.dedupe_key.as_deref()),
                outbox_messages::created_at.eq(ts),
                outbox_messages::updated_at.eq(ts),
            ))
            .execute(c)?;
        // The audit names the template, never the text (it may hold personal details).
        audit(
            c,
            actor,
            Some(&new.store_id),
            "message.enqueue",
            "outbox_message",
            &id,
            json!({"template": t.code, "channel": t.channel.code(), "suppressed": problem}),
        )?;
        let m = load_msg(c, &id)?;
        Ok(if problem.is_some() {
            EnqueueOutcome::Suppressed(m)
        } else {
            EnqueueOutcome::Queued(m)
        })
    })
}

/// A provider's refusal. `permanent` failures (bad number, rejected address) are not retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub message: String,
    pub permanent: bool,
}

pub trait SmsGateway: Send + Sync {
    /// Sends one text; returns the provider's message id for delivery receipts.
    fn send_sms(&self, to: &str, text: &str) -> std::result::Result<String, SendError>;
}

pub trait EmailSender: Send + Sync {
    fn send_email(
        &self,
        to: &str,
        subject: &str,
        body: &str,
    ) -> std::result::Result<String, SendError>;
}

/// A generic HTTP SMS gateway: `POST {url}` with `{"to", "text", "sign"}` as JSON and an
/// optional bearer key; a 2xx answer with `{"id": ...}` is accepted; 4xx other than 429 is a
/// permanent refusal; 5xx, 429 and network errors are retried.
pub struct HttpSmsGateway {
    pub url: String,
    pub api_key: Option<String>,
    /// The registered SMS signature (签名), e.g. 华通4S店.
    pub sign: String,
    agent: ureq::Agent,
}

impl HttpSmsGateway {
    pub fn new(
        url: &str,
        api_key: Option<String>,
        sign: &str,
        timeout: std::time::Duration,
    ) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        HttpSmsGateway {
            url: url.to_string(),
            api_key,
            sign: sign.to_string(),
            agent,
        }
    }
}

impl SmsGateway for HttpSmsGateway {
    fn send_sms(&self, to: &str, text: &str) -> std::result::Result<String, SendError> {
        let payload = json!({"to": to, "text": text, "sign": self.sign}).to_string();
        let mut req = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json; charset=utf-8");
        if let Some(k) = &self.api_key {
            req = req.header("Authorization", &format!("Bearer {k}"));
        }
        let mut resp = req.send(payload).map_err(|e| SendError {
            message: format!("gateway unreachable: {e}"),
            permanent: false,
        })?;
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        match status {
            200..=299 => {
                let id = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("id").and_then(|i| i.as_str().map(String::from)))
                    .unwrap_or_default();
                Ok(id)
            }
            429 | 500..=599 => Err(SendError {
                message: format!("gateway answered {status}"),
                permanent: false,
            }),
            _ => Err(SendError {
                message: format!(
                    "gateway refused ({status}): {}",
                    body.chars().take(200).collect::<String>()
                ),
                permanent: true,
            }),
        }
    }
}

/// The owners' app login codes can go through the same gateway.
impl dms_identity::LoginCodeSender for HttpSmsGateway {
    fn send_login_code(&self, phone: &str, text: &str) -> std::result::Result<(), String> {
        self.send_sms(phone, text)
            .map(|_| ())
            .map_err(|e| e.message)
    }
}

/// SMTP through lettre, without TLS: for a relay on the same host or a trusted network (the
/// crate is built without a TLS stack so it builds from crates.io alone; put a local relay
/// such as Postfix in front of a provider that needs TLS).
pub struct SmtpEmailSender {
    pub from: lettre::message::Mailbox,
    transport: lettre::SmtpTransport,
}

impl SmtpEmailSender {
    pub fn new(host: &str, port: u16, from: &str, timeout: std::time::Duration) -> Result<Self> {
        let from = from
            .parse()
            .map_err(|_| CrmError::invalid("from", "not a mailbox (名称 <addr@example.com>)"))?;
        let transport = lettre::SmtpTransport::builder_dangerous(host)
            .port(port)
            .timeout(Some(timeout))
            .build();
        Ok(SmtpEmailSender { from, transport })
    }
}

impl EmailSender for SmtpEmailSender {
    fn send_email(
        &self,
        to: &str,
        subject: &str,
        body: &str,
    ) -> std::result::Result<String, SendError> {
        use lettre::message::header::{ContentTransferEncoding, ContentType};
        use lettre::message::SinglePart;
        use lettre::Transport;
        let to_box: lettre::message::Mailbox = to.parse().map_err(|_| SendError {
            message: "recipient is not an address".into(),
            permanent: true,
        })?;
        let msg = lettre::Message::builder()
            .from(self.from.clone())
            .to(to_box)
            .subject(subject)
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .header(ContentTransferEncoding::Base64)
                    .body(body.to_string()),
            )
            .map_err(|e| SendError {
                message: format!("message not built: {e}"),
                permanent: true,
            })?;
        match self.transport.send(&msg) {
            Ok(resp) => Ok(resp.message().collect::<Vec<_>>().join(" ")),
            Err(e) => Err(SendError {
                permanent: e.is_permanent(),
                message: e.to_string(),
            }),
        }
    }
}

/// How the worker behaves. Configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxPolicy {
    pub max_attempts: i32,
    /// First retry after this long, doubling each time.
    pub backoff_base: Duration,
    /// Local time window in which nothing is sent (21:00-08:00 by default).
    pub quiet_start: NaiveTime,
    pub quiet_end: NaiveTime,
    /// The stores' local time (China: UTC+8).
    pub utc_offset: FixedOffset,
    pub batch_size: i64,
    /// How long a claimed message is reserved for the worker that claimed it.
    pub claim_for: Duration,
}

impl Default for OutboxPolicy {
    fn default() -> Self {
        OutboxPolicy {
            max_attempts: 5,
            backoff_base: Duration::seconds(60),
            quiet_start: NaiveTime::from_hms_opt(21, 0, 0).unwrap_or(NaiveTime::MIN),
            quiet_end: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN),
            utc_offset: dms_core::china_time(),
            batch_size: 50,
            claim_for: Duration::minutes(5),
        }
    }
}

impl OutboxPolicy {
    pub fn is_quiet(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.utc_offset).time();
        if self.quiet_start <= self.quiet_end {
            local >= self.quiet_start && local < self.quiet_end
        } else {
            local >= self.quiet_start || local < self.quiet_end
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: u32,
    pub retried: u32,
    pub failed: u32,
    /// Due but held back by quiet hours.
    pub deferred: u32,
}

/// One pass of the worker: claims due messages, sends them, records the outcome. Call it
/// every few seconds from a background job; several workers may run at once (claims keep
/// them apart). Sending happens outside any transaction.
pub fn deliver_due_messages(
    conn: &mut DbConnection,
    policy: &OutboxPolicy,
    sms: &dyn SmsGateway,
    email: &dyn EmailSender,
    now: DateTime<Utc>,
) -> Result<DeliveryReport> {
    let ts = to_db_time(now);
    let mut report = DeliveryReport::default();
    if policy.is_quiet(now) {
        let n: i64 = outbox_messages::table
            .filter(outbox_messages::status.eq("pending"))
            .filter(outbox_messages::next_attempt_at.le(ts))
            .count()
            .get_result(conn)?;
        report.deferred = n as u32;
        return Ok(report);
    }
    let claimed: Vec<OutboxMessage> = write_tx(conn, |c| {
        let due: Vec<OutboxMessage> = outbox_messages::table
            .filter(outbox_messages::status.eq("pending"))
            .filter(outbox_messages::next_attempt_at.le(ts))
            .filter(
                outbox_messages::claimed_until
                    .is_null()
                    .or(outbox_messages::claimed_until.lt(ts)),
            )
            .order(outbox_messages::next_attempt_at.asc())
            .limit(policy.batch_size)
            .select(OutboxMessage::as_select())
            .load(c)?;
        let ids: Vec<&str> = due.iter().map(|m| m.id.as_str()).collect();
        diesel::update(outbox_messages::table.filter(outbox_messages::id.eq_any(&ids)))
            .set(outbox_messages::claimed_until.eq(Some(to_db_time(now + policy.claim_for))))
            .execute(c)?;
        Ok::<_, CrmError>(due)
    })?;
    for m in claimed {
        let outcome = match m.channel.as_str() {
            "sms" => sms.send_sms(&m.recipient, &m.body),
            "email" => email.send_email(&m.recipient, &m.subject, &m.body),
            other => Err(SendError {
                message: format!("unknown channel {other}"),
                permanent: true,
            }),
        };
        let attempts = m.attempts + 1;
        write_tx(conn, |c| {
            match &outcome {
                Ok(provider_ref) => {
                    // An SMTP relay's acceptance is the last word e-mail gets: delivered. An
                    // SMS is `sent` until the gateway's receipt says delivered or failed.
                    let email = m.channel == "email";
                    diesel::update(outbox_messages::table.find(&m.id))
                        .set((
                            outbox_messages::status.eq(if email { "delivered" } else { "sent" }),
                            outbox_messages::delivered_at.eq(email.then_some(ts)),
                            outbox_messages::attempts.eq(attempts),
                            outbox_messages::provider_ref.eq(Some(provider_ref)),
                            outbox_messages::sent_at.eq(Some(ts)),
                            outbox_messages::claimed_until.eq(None::<NaiveDateTime>),
                            outbox_messages::last_error.eq(None::<String>),
                            outbox_messages::updated_at.eq(ts),
                        ))
                        .execute(c)?;
                }
                Err(e) => {
                    let give_up = e.permanent || attempts >= policy.max_attempts;
                    let wait = policy.backoff_base * 2i32.pow((attempts - 1).clamp(0, 16) as u32);
                    diesel::update(outbox_messages::table.find(&m.id))
                        .set((
                            outbox_messages::status.eq(if give_up { "failed" } else { "pending" }),
                            outbox_messages::attempts.eq(attempts),
                            outbox_messages::next_attempt_at.eq(to_db_time(now + wait)),
                            outbox_messages::claimed_until.eq(None::<NaiveDateTime>),
                            outbox_messages::last_error
                                .eq(Some(e.message.chars().take(500).collect::<String>())),
                            outbox_messages::updated_at.eq(ts),
                        ))
                        .execute(c)?;
                }
            }
            Ok::<_, CrmError>(())
        })?;
        match &outcome {
            Ok(_) => report.sent += 1,
            Err(e) if e.permanent || attempts >= policy.max_attempts => {
                log::warn!(
                    "message {} failed for good after {attempts} attempt(s)",
                    m.id
                );
                report.failed += 1
            }
            Err(_) => report.retried += 1,
        }
    }
    Ok(report)
}

/// What a delivery receipt says happened to one SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptOutcome {
    Delivered,
    /// Not delivered, with the provider's code (e.g. `UNDELIV`, `MK:0001`) and text.
    Failed {
        code: String,
        detail: String,
    },
}

/// A delivery receipt from the SMS gateway (its callback, checked and relayed by the server),
/// for the message it named `provider_ref` when it accepted it. Receipts come late, twice or
/// out of order: a repeated receipt changes nothing, and a message not yet sent is a
/// conflict. `NotFound` when no message has that reference (login codes go through the same
/// gateway without an outbox row). Returns the message and whether the receipt changed it.
pub fn record_delivery_receipt(
    conn: &mut DbConnection,
    provider_ref: &str,
    outcome: &ReceiptOutcome,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(OutboxMessage, bool)> {
    if provider_ref.trim().is_empty() {
        return Err(CrmError::invalid("id", "required"));
    }
    write_tx(conn, |c| {
        let m: OutboxMessage = outbox_messages::table
            .filter(outbox_messages::provider_ref.eq(provider_ref))
            .filter(outbox_messages::channel.eq("sms"))
            .select(OutboxMessage::as_select())
            .first(c)
            .optional()?
            .ok_or(CrmError::NotFound("message"))?;
        if !matches!(m.status.as_str(), "sent" | "delivered" | "failed") {
            return Err(CrmError::conflict(
                "status",
                format!("message is {}, not sent", m.status),
            ));
        }
        let ts = to_db_time(now);
        let changed = match outcome {
            ReceiptOutcome::Delivered if m.status != "delivered" => {
                diesel::update(outbox_messages::table.find(&m.id))
                    .set((
                        outbox_messages::status.eq("delivered"),
                        outbox_messages::delivered_at.eq(Some(to_db_time(at))),
                        outbox_messages::last_error.eq(None::<String>),
                        outbox_messages::updated_at.eq(ts),
                    ))
                    .execute(c)?;
                true
            }
            ReceiptOutcome::Failed { code, detail } if m.status != "failed" => {
                let why = format!("{code}: {detail}");
                diesel::update(outbox_messages::table.find(&m.id))
                    .set((
                        outbox_messages::status.eq("failed"),
                        outbox_messages::delivered_at.eq(None::<NaiveDateTime>),
                        outbox_messages::last_error
                            .eq(Some(why.trim().chars().take(500).collect::<String>())),
                        outbox_messages::updated_at.eq(ts),
                    ))
                    .execute(c)?;
                true
            }
            _ => false,
        };
        if changed {
            audit(
                c,
                &Actor::system("sms-gateway"),
                Some(&m.store_id),
                "message.receipt",
                "outbox_message",
                &m.id,
                json!({"delivered": *outcome == ReceiptOutcome::Delivered,
                       "code": match outcome { ReceiptOutcome::Failed { code, .. } => Some(code), _ => None }}),
            )?;
        }
        Ok((load_msg(c, &m.id)?, changed))
    })
}

/// Which messages to list; every criterion given must hold.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub status: Option<String>,
    pub channel: Option<String>,
    pub customer_id: Option<String>,
    /// Created on or after this day (UTC).
    pub from: Option<chrono::NaiveDate>,
    /// Created before this day.
    pub to: Option<chrono::NaiveDate>,
}

/// The outbox of the caller's stores, in creation order, a page at a time.
pub fn list_messages(
    conn: &mut DbConnection,
    scope: &StoreScope,
    filter: &MessageFilter,
    page: &dms_core::PageRequest,
) -> Result<(Vec<OutboxMessage>, Option<String>)> {
    let mut q = outbox_messages::table
        .select(OutboxMessage::as_select())
        .into_boxed();
    if let StoreScope::Stores(ids) = scope {
        q = q.filter(outbox_messages::store_id.eq_any(ids.clone()));
    }
    if let Some(s) = &filter.status {
        q = q.filter(outbox_messages::status.eq(s.clone()));
    }
    if let Some(ch) = &filter.channel {
        q = q.filter(outbox_messages::channel.eq(ch.clone()));
    }
    if let Some(cu) = &filter.customer_id {
        q = q.filter(outbox_messages::customer_id.eq(cu.clone()));
    }
    if let Some(d) = filter.from {
        q = q.filter(outbox_messages::created_at.ge(d.and_time(NaiveTime::MIN)));
    }
    if let Some(d) = filter.to {
        q = q.filter(outbox_messages::created_at.lt(d.and_time(NaiveTime::MIN)));
    }
    if let Some(dms_core::Cursor { after_id }) = &page.after {
        q = q.filter(outbox_messages::id.gt(after_id.clone()));
    }
    let rows = q
        .order(outbox_messages::id.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(page.finish(rows, |m: &OutboxMessage| &m.id))
}

pub fn get_message(conn: &mut DbConnection, scope: &StoreScope, id: &str) -> Result<OutboxMessage> {
    let m: Option<OutboxMessage> = outbox_messages::table
        .find(id)
        .select(OutboxMessage::as_select())
        .first(conn)
        .optional()?;
    match m {
        Some(m) if scope.allows(&m.store_id) => Ok(m),
        _ => Err(CrmError::NotFound("message")),
    }
}

/// Messages per template created in `[from, to)`, by outcome: with the care statistics this
/// gives seed 004's "reminders sent ÷ vehicles due".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageStats {
    pub queued: i64,
    /// Sent or delivered.
    pub sent: i64,
    pub delivered: i64,
    pub failed: i64,
    pub suppressed: i64,
}

pub fn message_stats(
    conn: &mut DbConnection,
    scope: &StoreScope,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<BTreeMap<String, MessageStats>> {
    let mut q = outbox_messages::table
        .filter(outbox_messages::created_at.ge(from.and_time(NaiveTime::MIN)))
        .filter(outbox_messages::created_at.lt(to.and_time(NaiveTime::MIN)))
        .select((outbox_messages::template_code, outbox_messages::status))
        .into_boxed();
    if let StoreScope::Stores(ids) = scope {
        q = q.filter(outbox_messages::store_id.eq_any(ids.clone()));
    }
    let rows: Vec<(String, String)> = q.load(conn)?;
    let mut out: BTreeMap<String, MessageStats> = BTreeMap::new();
    for (tpl, status) in rows {
        let e = out.entry(tpl).or_default();
        match status.as_str() {
            "pending" => e.queued += 1,
            "sent" => e.sent += 1,
            "delivered" => {
                e.sent += 1;
                e.delivered += 1
            }
            "failed" => e.failed += 1,
            _ => e.suppressed += 1,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_in_chinese() {
        let t = TemplateSet::standard();
        let ins = t.get("insurance_renewal").unwrap();
        let mut v = BTreeMap::new();
        v.insert("store".to_string(), "华通4S店".to_string());
        v.insert("name".to_string(), "王先生".to_string());
        v.insert("plate".to_string(), "京A12345".to_string());
        v.insert("date".to_string(), "2026-05-15".to_string());
        v.insert("store_phone".to_string(), "010-62345678".to_string());
        assert_eq!(
            render(&ins.body, &v).unwrap(),
            "【华通4S店】尊敬的王先生，您的爱车京A12345的保险将于2026-05-15到期，续保请致电010-62345678。"
        );
        v.remove("plate");
        let e = render(&ins.body, &v).unwrap_err();
        assert!(e.to_string().contains("plate"), "{e}");
        assert!(render("a {{x", &v).is_err());
        assert_eq!(render("无变量", &v).unwrap(), "无变量");
    }

    #[test]
    fn quiet_hours_are_local_time() {
        let p = OutboxPolicy::default();
        let utc = |h, m| chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 5, 1, h, m, 0).unwrap();
        assert!(p.is_quiet(utc(13, 30)), "21:30 in Beijing");
        assert!(p.is_quiet(utc(23, 59)), "07:59 in Beijing");
        assert!(!p.is_quiet(utc(0, 0)), "08:00 in Beijing");
        assert!(!p.is_quiet(utc(12, 59)), "20:59 in Beijing");
    }
}
