//! Automatic survey invitations: N days after a delivery or a workshop visit, the daily job
//! creates a survey of the configured questionnaire and queues an SMS inviting the owner to
//! answer it in the owners' app (the link carries the survey id). Consent is the outbox's
//! (a "no" to SMS records the message as suppressed, the survey still exists for a call) and
//! quiet hours are the worker's.
//!
//! Idempotent: the survey's `subject_ref` and the message's dedupe key name the occasion
//! (`delivery:<vehicle>:<date>`, `visit:<visit id>`), so a second run creates nothing; a day
//! the job did not run is caught up for `catch_up_days`.

use crate::customers::load_row;
use crate::outbox::{enqueue_message, EnqueueOutcome, NewMessage, Purpose, TemplateSet};
use crate::schema::{service_visits, surveys, vehicles};
use crate::surveys::{get_questionnaire, send_survey, NewSurvey};
use crate::{CrmError, Result};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::prelude::*;
use dms_core::StoreScope;
use dms_db::schema::stores;
use dms_db::{write_tx, DbConnection};
use dms_identity::Actor;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One occasion's invitation: which questionnaire, how many days after.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InvitationRule {
    pub questionnaire: String,
    pub days_after: u32,
}

/// Configuration (`[crm.survey_invitations]`); an occasion set to `None` sends nothing.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SurveyInvitationRules {
    pub after_delivery: Option<InvitationRule>,
    pub after_service: Option<InvitationRule>,
    /// The SMS's `{{link}}`: this followed by the survey id (the owners' app's survey page).
    pub link_base: String,
    /// The SMS template (see [`TemplateSet`]); needs `{{store}}` and `{{link}}` at most.
    pub template: String,
    pub catch_up_days: u32,
}

impl Default for SurveyInvitationRules {
    fn default() -> Self {
        SurveyInvitationRules {
            after_delivery: Some(InvitationRule {
                questionnaire: "DELIVERY".into(),
                days_after: 3,
            }),
            after_service: Some(InvitationRule {
                questionnaire: "SERVICE".into(),
                days_after: 1,
            }),
            link_base: "https://app.example.com/s/".into(),
            template: "survey_invite_sms".into(),
            catch_up_days: 7,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvitationReport {
    /// Surveys created (with their message) per occasion (`delivery`, `service`).
    pub created: BTreeMap<String, u32>,
    /// Occasions that already had their survey.
    pub already_present: u32,
    /// Messages recorded as suppressed (no consent, opted out, no mobile number).
    pub suppressed: u32,
    /// Occasions skipped because their questionnaire does not exist or is retired.
    pub no_questionnaire: u32,
}

struct Occasion {
    kind: &'static str,
    key: String,
    store_id: String,
    customer_id: String,
    advisor_id: Option<String>,
    questionnaire: String,
}

/// The daily run for `today`: surveys and invitations for the deliveries and visits the
/// rules point at. Safe to run twice.
pub fn run_survey_invitations(
    conn: &mut DbConnection,
    today: NaiveDate,
    rules: &SurveyInvitationRules,
    templates: &TemplateSet,
    now: DateTime<Utc>,
) -> Result<InvitationReport> {
    let mut occasions = Vec::new();
    let cu = i64::from(rules.catch_up_days);
    if let Some(r) = &rules.after_delivery {
        let last = today - Duration::days(i64::from(r.days_after));
        let rows: Vec<(String, String, Option<String>, Option<NaiveDate>)> = vehicles::table
            .filter(vehicles::status.eq("active"))
            .filter(vehicles::delivery_date.ge(last - Duration::days(cu)))
            .filter(vehicles::delivery_date.le(last))
            .select((
                vehicles::id,
                vehicles::store_id,
                vehicles::customer_id,
                vehicles::delivery_date,
            ))
            .load(conn)?;
        for (vid, store, cust, day) in rows {
            let (Some(cust), Some(day)) = (cust, day) else {
                continue;
            };
            occasions.push(Occasion {
                kind: "delivery",
                key: format!("delivery:{vid}:{day}"),
                store_id: store,
                customer_id: cust,
                advisor_id: None,
                questionnaire: r.questionnaire.clone(),
            });
        }
    }
    if let Some(r) = &rules.after_service {
        let last = today - Duration::days(i64::from(r.days_after));
        let rows: Vec<(String, String, Option<String>, Option<String>)> = service_visits::table
            .filter(service_visits::visited_on.ge(last - Duration::days(cu)))
            .filter(service_visits::visited_on.le(last))
            .select((
                service_visits::id,
                service_visits::store_id,
                service_visits::customer_id,
                service_visits::advisor_id,
            ))
            .load(conn)?;
        for (visit, store, cust, advisor) in rows {
            let Some(cust) = cust else { continue };
            occasions.push(Occasion {
                kind: "service",
                key: format!("visit:{visit}"),
                store_id: store,
                customer_id: cust,
                advisor_id: advisor,
                questionnaire: r.questionnaire.clone(),
            });
        }
    }

    let mut report = InvitationReport::default();
    let actor = Actor::system("survey-invitations");
    let all = StoreScope::AllStores;
    for o in occasions {
        let usable = get_questionnaire(conn, &o.questionnaire)
            .map(|q| q.active)
            .unwrap_or(false);
        if !usable {
            report.no_questionnaire += 1;
            continue;
        }
        let outcome = write_tx(conn, |c| {
            let seen: i64 = surveys::table
                .filter(surveys::subject_ref.eq(&o.key))
                .count()
                .get_result(c)?;
            if seen > 0 {
                return Ok(None);
            }
            // A merged or removed customer gets no invitation.
            if load_row(c, &o.customer_id)?.is_none_or(|x| x.status != "active") {
                return Ok(Some(None));
            }
            let survey = send_survey(
                c,
                &actor,
                &all,
                &NewSurvey {
                    store_id: o.store_id.clone(),
                    questionnaire_code: o.questionnaire.clone(),
                    customer_id: o.customer_id.clone(),
                    subject_ref: Some(o.key.clone()),
                    advisor_id: o.advisor_id.clone(),
                    consultant_id: None,
                },
                now,
            )?;
            let store: String = stores::table
                .find(&o.store_id)
                .select(stores::name)
                .first(c)?;
            let mut vars = BTreeMap::new();
            vars.insert("store".to_string(), store);
            vars.insert(
                "link".to_string(),
                format!("{}{}", rules.link_base, survey.id),
            );
            let m = enqueue_message(
                c,
                &actor,
                &all,
                templates,
                &NewMessage {
                    store_id: o.store_id.clone(),
                    customer_id: o.customer_id.clone(),
                    purpose: Purpose::Service,
                    template_code: rules.template.clone(),
                    vars,
                    dedupe_key: Some(format!("survey_invite:{}", o.key)),
                },
                now,
            )?;
            Ok::<_, CrmError>(Some(Some(matches!(m, EnqueueOutcome::Suppressed(_)))))
        })?;
        match outcome {
            None => report.already_present += 1,
            Some(None) => {}
            Some(Some(suppressed)) => {
                *report.created.entry(o.kind.to_string()).or_default() += 1;
                report.suppressed += u32::from(suppressed);
            }
        }
    }
    Ok(report)
}
