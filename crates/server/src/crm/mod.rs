//! The CRM's endpoints (customers 360, vehicles, leads, follow-up tasks, complaints, surveys, messages) and its care-engine and outbox jobs.
//!
//! Owned as a unit: `Settings` is the `[crm]` section of the configuration, `DomainState` what
//! its handlers need at run time, `configure` registers its handlers under `/api/v1`, and
//! `start_jobs` its background work.
//!
//! Access, in short: customers and vehicles need `customers.read` / `customers.write` in the
//! customer's (vehicle's) home store; leads `crm.leads` (sales consultants see and work their
//! own leads, managers — sales, store and general managers, group admins — their stores'); tasks,
//! complaints and surveys `crm.care`; statistics `reports.read`; a merge `customers.write` plus a
//! manager's role (store/general manager, sales or service manager, group admin), audited.

mod customers;
mod dto;
mod error;
mod export;
mod leads;
mod messages;
mod seed;
mod segments;
mod service;
mod vehicles;

pub use customers::{address_of, channel_of};
pub use dto::*;
pub use messages::sign_receipt;

use crate::config::EnvLookup;
use crate::AppState;
use actix_web::web;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use dms_crm::{
    CareRules, ComplaintPolicy, Customer360Section, CustomerLinks, LeadCadence, MergeRegistry,
};
use dms_db::DbConnection;
use serde::Deserialize;
use std::sync::Arc;

/// Follow-up cadence per intent grade, in days (`[crm.lead_cadence]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CadenceSettings {
    pub h_days: u32,
    pub a_days: u32,
    pub b_days: u32,
    pub c_days: u32,
}

impl Default for CadenceSettings {
    fn default() -> Self {
        let d = LeadCadence::default();
        CadenceSettings {
            h_days: d.h_days,
            a_days: d.a_days,
            b_days: d.b_days,
            c_days: d.c_days,
        }
    }
}

/// A message text of the deployment's (`[[crm.templates]]`): replaces the stock text of the
/// same code, or adds one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSetting {
    pub code: String,
    /// `sms` or `email`.
    pub channel: String,
    #[serde(default)]
    pub subject: String,
    /// With `{{name}}`-style placeholders.
    pub body: String,
}

/// The `[crm]` section of `dms.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `[crm.care]`: which follow-up tasks the daily care engine makes (see `dms_crm::CareRules`).
    pub care: CareRules,
    /// `[crm.complaints]`: SLA hours per severity and the escalation ladder per store.
    pub complaints: ComplaintPolicy,
    pub lead_cadence: CadenceSettings,
    /// `[crm.survey_invitations]`: which questionnaire N days after a delivery or a workshop
    /// visit, and the owners' app link (see `dms_crm::SurveyInvitationRules`).
    pub survey_invitations: dms_crm::SurveyInvitationRules,
    /// `[[crm.templates]]`: the deployment's own message texts over the stock Chinese ones.
    pub templates: Vec<TemplateSetting>,
    /// The membership-expiry call this many days before a member's term ends.
    pub membership_expiry_days_before: u32,
    /// Local time (UTC+8) of the daily care run, `HH:MM`.
    pub care_run_at: String,
    /// Seconds between outbox deliveries and between complaint-escalation sweeps.
    pub outbox_every_secs: u64,
    pub escalation_every_secs: u64,
    /// A generic HTTP SMS gateway (`DMS_SMS_GATEWAY_URL`); none = SMS stays queued.
    pub sms_gateway_url: Option<String>,
    /// `DMS_SMS_GATEWAY_KEY`.
    pub sms_gateway_key: Option<String>,
    /// The registered SMS signature (签名).
    pub sms_sign: String,
    /// An SMTP relay for e-mail (`DMS_SMTP_HOST`), port and sender.
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    pub smtp_from: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            care: CareRules::default(),
            complaints: ComplaintPolicy::default(),
            lead_cadence: CadenceSettings::default(),
            survey_invitations: dms_crm::SurveyInvitationRules::default(),
            templates: vec![],
            membership_expiry_days_before: 30,
            care_run_at: "06:00".into(),
            outbox_every_secs: 30,
            escalation_every_secs: 300,
            sms_gateway_url: None,
            sms_gateway_key: None,
            sms_sign: "4S会员".into(),
            smtp_host: None,
            smtp_port: 25,
            smtp_from: "noreply@localhost".into(),
        }
    }
}

impl Settings {
    /// `DMS_*` variables that override this section.
    pub fn apply_env(&mut self, env: &EnvLookup<'_>) -> Result<(), String> {
        if let Some(v) = env("DMS_SMS_GATEWAY_URL") {
            self.sms_gateway_url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = env("DMS_SMS_GATEWAY_KEY") {
            self.sms_gateway_key = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = env("DMS_SMTP_HOST") {
            self.smtp_host = Some(v).filter(|v| !v.is_empty());
        }
        self.care_time()?;
        self.template_set()?;
        if let Some(u) = &self.sms_gateway_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err("crm.sms_gateway_url must be an http(s) URL".into());
            }
        }
        Ok(())
    }

    fn care_time(&self) -> Result<chrono::NaiveTime, String> {
        chrono::NaiveTime::parse_from_str(&self.care_run_at, "%H:%M")
            .map_err(|_| "crm.care_run_at must be HH:MM".to_string())
    }

    /// The stock templates with the configured ones over them.
    pub fn template_set(&self) -> Result<dms_crm::TemplateSet, String> {
        let mut set = dms_crm::TemplateSet::standard();
        for t in &self.templates {
            let channel = match t.channel.as_str() {
                "sms" => dms_crm::MessageChannel::Sms,
                "email" => dms_crm::MessageChannel::Email,
                _ => {
                    return Err(format!(
                        "crm.templates {}: channel must be sms or email",
                        t.code
                    ))
                }
            };
            if t.code.trim().is_empty() || t.body.trim().is_empty() {
                return Err("crm.templates: code and body are required".into());
            }
            // A placeholder left open would fail every message: refuse it at start.
            let probe: std::collections::BTreeMap<String, String> = Default::default();
            for text in [&t.body, &t.subject] {
                if let Err(dms_crm::CrmError::Invalid {
                    field: "template",
                    message,
                }) = dms_crm::render(text, &probe)
                {
                    return Err(format!("crm.templates {}: {message}", t.code));
                }
            }
            set.insert(dms_crm::MessageTemplate {
                code: t.code.trim().to_string(),
                channel,
                subject: t.subject.clone(),
                body: t.body.clone(),
            });
        }
        Ok(set)
    }

    pub fn cadence(&self) -> LeadCadence {
        LeadCadence {
            h_days: self.lead_cadence.h_days,
            a_days: self.lead_cadence.a_days,
            b_days: self.lead_cadence.b_days,
            c_days: self.lead_cadence.c_days,
        }
    }

    fn sms_gateway(&self) -> Option<dms_crm::HttpSmsGateway> {
        self.sms_gateway_url.as_deref().map(|url| {
            dms_crm::HttpSmsGateway::new(
                url,
                self.sms_gateway_key.clone(),
                &self.sms_sign,
                std::time::Duration::from_secs(10),
            )
        })
    }
}

/// The owners' app login codes through the CRM's SMS gateway, when one is configured.
pub fn login_code_sender(settings: &Settings) -> Option<Arc<dyn dms_identity::LoginCodeSender>> {
    settings
        .sms_gateway()
        .map(|g| Arc::new(g) as Arc<dyn dms_identity::LoginCodeSender>)
}

/// A block of the customer 360 contributed by another domain, shareable across workers.
pub type Section = Arc<dyn Customer360Section + Send + Sync>;

/// What the handlers need besides the pool, built once at start.
pub struct DomainState {
    pub settings: Settings,
    pub cadence: LeadCadence,
    /// Every table that points at a customer: the CRM's own, then other domains'.
    pub merge: MergeRegistry,
    /// The 360 view's blocks from other domains (the member club's `membership`).
    pub sections: Vec<Section>,
    /// The message templates (the stock Chinese texts, and `[[crm.templates]]` over them).
    pub templates: dms_crm::TemplateSet,
}

impl DomainState {
    pub fn new(settings: &Settings) -> Result<DomainState, String> {
        let mut merge = MergeRegistry::crm();
        for l in other_links() {
            merge.register(l);
        }
        Ok(DomainState {
            settings: settings.clone(),
            cadence: settings.cadence(),
            merge,
            sections: other_sections(),
            templates: settings.template_set()?,
        })
    }
}

/// Other domains' customer links, moved by a merge: the member club's members (refusing the
/// merge when both customers are members). Sales orders and work orders register here.
fn other_links() -> Vec<Box<dyn CustomerLinks>> {
    vec![Box::new(dms_membership::merge::MemberLinks)]
}

/// Other domains' 360 blocks.
fn other_sections() -> Vec<Section> {
    vec![Arc::new(service::MembershipSection)]
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    customers::configure(cfg);
    vehicles::configure(cfg);
    leads::configure(cfg);
    service::configure(cfg);
    export::configure(cfg);
    messages::configure(cfg);
    segments::configure(cfg);
}

/// 06:00 local (UTC+8) of `day`, as the care engine's clock.
pub fn morning_of(day: NaiveDate) -> DateTime<Utc> {
    dms_core::china_time()
        .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
        .single()
        .map(|d| d.with_timezone(&Utc) + chrono::Duration::hours(6))
        .unwrap_or_else(Utc::now)
}

/// What the daily job does for `today`: runs the care engine with the configured rules and
/// the member club's expiry reminders.
/// Idempotent: a second run for the same day creates nothing.
pub fn run_care_job(
    conn: &mut DbConnection,
    settings: &Settings,
    today: NaiveDate,
) -> Result<dms_crm::CareRunReport, dms_crm::CrmError> {
    let expiry = dms_membership::merge::MembershipExpiry {
        days_before: settings.membership_expiry_days_before,
    };
    dms_crm::run_care_engine(conn, today, &settings.care, &[&expiry], morning_of(today))
}

/// The daily survey invitations for `today` (after the care run): a survey and an SMS
/// invitation per delivery and workshop visit the rules point at, once each.
pub fn run_survey_invitation_job(
    conn: &mut DbConnection,
    settings: &Settings,
    templates: &dms_crm::TemplateSet,
    today: NaiveDate,
) -> Result<dms_crm::InvitationReport, dms_crm::CrmError> {
    dms_crm::run_survey_invitations(
        conn,
        today,
        &settings.survey_invitations,
        templates,
        morning_of(today),
    )
}

/// What the escalation job does at `now`: escalates open complaints past their SLA one level
/// up the store's ladder; returns their ids.
pub fn run_escalation_job(
    conn: &mut DbConnection,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Vec<String>, dms_crm::CrmError> {
    dms_crm::escalate_overdue_complaints(conn, &settings.complaints, now)
}

/// A channel without a configured provider: its messages stay queued (retried later).
struct NotConfigured;

impl dms_crm::SmsGateway for NotConfigured {
    fn send_sms(&self, _: &str, _: &str) -> Result<String, dms_crm::SendError> {
        Err(dms_crm::SendError {
            message: "no SMS gateway configured".into(),
            permanent: false,
        })
    }
}

impl dms_crm::EmailSender for NotConfigured {
    fn send_email(&self, _: &str, _: &str, _: &str) -> Result<String, dms_crm::SendError> {
        Err(dms_crm::SendError {
            message: "no SMTP relay configured".into(),
            permanent: false,
        })
    }
}

/// One pass of the outbox worker at `now` with the configured SMS gateway and SMTP relay
/// (what the `crm-outbox` job runs).
pub fn run_outbox_job(
    conn: &mut DbConnection,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<dms_crm::DeliveryReport, dms_crm::CrmError> {
    let sms = settings.sms_gateway();
    let email = match settings.smtp_host.as_deref() {
        Some(h) => Some(dms_crm::SmtpEmailSender::new(
            h,
            settings.smtp_port,
            &settings.smtp_from,
            std::time::Duration::from_secs(20),
        )?),
        None => None,
    };
    dms_crm::deliver_due_messages(
        conn,
        &dms_crm::OutboxPolicy::default(),
        sms.as_ref()
            .map_or(&NotConfigured as &dyn dms_crm::SmsGateway, |g| g),
        email
            .as_ref()
            .map_or(&NotConfigured as &dyn dms_crm::EmailSender, |e| e),
        now,
    )
}

/// Background work for `dms serve` (not for tests, which call the domain directly).
pub fn start_jobs(state: &web::Data<AppState>) {
    let settings = state.crm.settings.clone();
    let at = settings
        .care_time()
        .unwrap_or(chrono::NaiveTime::from_hms_opt(6, 0, 0).unwrap_or(chrono::NaiveTime::MIN));
    let pool = state.pool.clone();
    let s = settings.clone();
    let templates = state.crm.templates.clone();
    crate::jobs::daily("crm-care", at, move |today| {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        let r = run_care_job(&mut conn, &s, today).map_err(|e| e.to_string())?;
        let inv = run_survey_invitation_job(&mut conn, &s, &templates, today)
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "{} task(s) created, {} already present, {} opted out; survey invitations {:?} ({} suppressed, {} without questionnaire)",
            r.total_created(),
            r.already_present,
            r.opted_out,
            inv.created,
            inv.suppressed,
            inv.no_questionnaire
        ))
    });
    let pool = state.pool.clone();
    let s = settings.clone();
    crate::jobs::every(
        "crm-complaint-escalation",
        std::time::Duration::from_secs(60),
        std::time::Duration::from_secs(settings.escalation_every_secs.max(10)),
        move || {
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            let ids = run_escalation_job(&mut conn, &s, Utc::now()).map_err(|e| e.to_string())?;
            Ok(if ids.is_empty() {
                String::new()
            } else {
                format!("{} complaint(s) escalated", ids.len())
            })
        },
    );
    let sms = settings.sms_gateway();
    let email = settings.smtp_host.as_deref().and_then(|h| {
        dms_crm::SmtpEmailSender::new(
            h,
            settings.smtp_port,
            &settings.smtp_from,
            std::time::Duration::from_secs(20),
        )
        .map_err(|e| log::error!("crm: SMTP sender not usable: {e}"))
        .ok()
    });
    match (sms, email) {
        (Some(sms), Some(email)) => {
            let pool = state.pool.clone();
            crate::jobs::every(
                "crm-outbox",
                std::time::Duration::from_secs(15),
                std::time::Duration::from_secs(settings.outbox_every_secs.max(5)),
                move || {
                    let mut conn = pool.get().map_err(|e| e.to_string())?;
                    let r = dms_crm::deliver_due_messages(
                        &mut conn,
                        &dms_crm::OutboxPolicy::default(),
                        &sms,
                        &email,
                        Utc::now(),
                    )
                    .map_err(|e| e.to_string())?;
                    Ok(format!("{r:?}"))
                },
            );
        }
        _ => log::info!(
            "crm: outbox worker off (set crm.sms_gateway_url and crm.smtp_host to send messages)"
        ),
    }
}

/// Demo data for `dms seed-demo` / `dms serve --demo`, loaded after the stores, staff and
/// customers of [`crate::seed`]; returns a one-line summary.
pub fn seed_demo(
    conn: &mut dms_db::DbConnection,
    demo: &crate::seed::DemoOrg,
) -> Result<String, String> {
    seed::seed_demo(conn, demo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_templates_replace_or_add() {
        let mut s = Settings {
            templates: vec![
                TemplateSetting {
                    code: "birthday".into(),
                    channel: "sms".into(),
                    subject: String::new(),
                    body: "【{{store}}】{{name}}，生日快乐！".into(),
                },
                TemplateSetting {
                    code: "recall".into(),
                    channel: "sms".into(),
                    subject: String::new(),
                    body: "【{{store}}】{{name}}您好，您的爱车{{plate}}需召回检修。".into(),
                },
            ],
            ..Settings::default()
        };
        let set = s.template_set().unwrap();
        assert_eq!(
            set.get("birthday").unwrap().body,
            "【{{store}}】{{name}}，生日快乐！"
        );
        assert!(set.get("recall").is_some());
        assert!(
            set.get("insurance_renewal").is_some(),
            "the stock ones stay"
        );
        s.templates[1].channel = "fax".into();
        assert!(s.template_set().is_err());
        s.templates[1].channel = "sms".into();
        s.templates[1].body = "{{name".into();
        assert!(s.template_set().unwrap_err().contains("unclosed"));
    }
}
