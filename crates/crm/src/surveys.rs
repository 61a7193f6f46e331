//! Satisfaction surveys (满意度调查): questionnaires of questions and scales, surveys sent
//! after delivery and service, answers, and CSAT / NPS per store, service advisor and sales
//! consultant.

use crate::customers::load_row;
use crate::schema::{questionnaires, survey_answers, surveys};
use crate::{audit, CrmError, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use dms_core::StoreScope;
use dms_db::{to_db_time, write_tx, DbConnection};
use dms_identity::Actor;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QuestionKind {
    /// Overall satisfaction 1-5: the survey's CSAT.
    Csat,
    /// "How likely are you to recommend us" 0-10: the survey's NPS answer.
    Nps,
    Scale {
        min: i32,
        max: i32,
    },
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub code: String,
    pub text: String,
    #[serde(flatten)]
    pub kind: QuestionKind,
    pub required: bool,
}

#[derive(Debug, Clone)]
pub struct Questionnaire {
    pub id: String,
    pub code: String,
    pub title: String,
    /// `delivery` or `service`.
    pub occasion: String,
    pub questions: Vec<Question>,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct NewQuestionnaire {
    pub code: String,
    pub title: String,
    pub occasion: String,
    pub questions: Vec<Question>,
}

fn range(k: &QuestionKind) -> Option<(i32, i32)> {
    match k {
        QuestionKind::Csat => Some((1, 5)),
        QuestionKind::Nps => Some((0, 10)),
        QuestionKind::Scale { min, max } => Some((*min, *max)),
        QuestionKind::Text => None,
    }
}

/// Questionnaires are group-wide: every store asks the same questions, so figures compare.
pub fn create_questionnaire(
    conn: &mut DbConnection,
    actor: &Actor,
    new: &NewQuestionnaire,
    now: DateTime<Utc>,
) -> Result<Questionnaire> {
    if new.code.trim().is_empty() || new.title.trim().is_empty() {
        return Err(CrmError::invalid("code", "code and title are required"));
    }
    if !matches!(new.occasion.as_str(), "delivery" | "service") {
        return Err(CrmError::invalid("occasion", "delivery or service"));
    }
    if new.questions.is_empty() {
        return Err(CrmError::invalid("questions", "at least one"));
    }
    let mut codes = std::collections::HashSet::new();
    for q in &new.questions {
        if q.code.trim().is_empty() || !codes.insert(q.code.clone()) {
            return Err(CrmError::invalid(
                "questions",
                "each question needs its own code",
            ));
        }
        if let QuestionKind::Scale { min, max } = q.kind {
            if min >= max {
                return Err(CrmError::invalid(
                    "questions",
                    "scale min must be below max",
                ));
            }
        }
    }
    for k in ["csat", "nps"] {
        let n = new
            .questions
            .iter()
            .filter(|q| {
                matches!(
                    (&q.kind, k),
                    (QuestionKind::Csat, "csat") | (QuestionKind::Nps, "nps")
                )
            })
            .count();
        if n > 1 {
            return Err(CrmError::invalid(
                "questions",
                format!("at most one {k} question"),
            ));
        }
    }
    let questions = serde_json::to_string(&new.questions)
        .map_err(|e| CrmError::invalid("questions", e.to_string()))?;
    write_tx(conn, |c| {
        let taken: i64 = questionnaires::table
            .filter(questionnaires::code.eq(new.code.trim()))
            .count()
            .get_result(c)?;
        if taken > 0 {
            return Err(CrmError::conflict(
                "code",
                "a questionnaire with this code exists",
            ));
        }
        let id = dms_core::new_id();
        diesel::insert_into(questionnaires::table)
            .values((
                questionnaires::id.eq(&id),
                questionnaires::code.eq(new.code.trim()),
                questionnaires::title.eq(new.title.trim()),
                questionnaires::occasion.eq(&new.occasion),
                questionnaires::questions.eq(&questions),
                questionnaires::active.eq(true),
                questionnaires::created_at.eq(to_db_time(now)),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            None,
            "questionnaire.create",
            "questionnaire",
            &id,
            json!({"code": new.code}),
        )?;
        Ok(())
    })?;
    get_questionnaire(conn, new.code.trim())
}

pub fn get_questionnaire(conn: &mut DbConnection, code: &str) -> Result<Questionnaire> {
    let row: Option<(String, String, String, String, String, bool)> = questionnaires::table
        .filter(questionnaires::code.eq(code))
        .select((
            questionnaires::id,
            questionnaires::code,
            questionnaires::title,
            questionnaires::occasion,
            questionnaires::questions,
            questionnaires::active,
        ))
        .first(conn)
        .optional()?;
    let (id, code, title, occasion, questions, active) =
        row.ok_or(CrmError::NotFound("questionnaire"))?;
    let questions = serde_json::from_str(&questions).unwrap_or_default();
    Ok(Questionnaire {
        id,
        code,
        title,
        occasion,
        questions,
        active,
    })
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = surveys)]
pub struct Survey {
    pub id: String,
    pub store_id: String,
    pub questionnaire_id: String,
    pub customer_id: String,
    pub occasion: String,
    pub subject_ref: Option<String>,
    pub advisor_id: Option<String>,
    pub consultant_id: Option<String>,
    /// `sent` or `answered`.
    pub status: String,
    pub sent_at: NaiveDateTime,
    pub answered_at: Option<NaiveDateTime>,
    pub csat: Option<i32>,
    pub nps: Option<i32>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct NewSurvey {
    pub store_id: String,
    pub questionnaire_code: String,
    pub customer_id: String,
    /// The delivery or work order it is about.
    pub subject_ref: Option<String>,
    pub advisor_id: Option<String>,
    pub consultant_id: Option<String>,
}

/// Records that a survey went out (the message itself goes through the outbox).
pub fn send_survey(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    new: &NewSurvey,
    now: DateTime<Utc>,
) -> Result<Survey> {
    if !scope.allows(&new.store_id) {
        return Err(CrmError::invalid("store_id", "no such store among yours"));
    }
    write_tx(conn, |c| {
        let q = get_questionnaire(c, &new.questionnaire_code)
            .map_err(|_| CrmError::invalid("questionnaire_code", "no such questionnaire"))?;
        if !q.active {
            return Err(CrmError::invalid(
                "questionnaire_code",
                "questionnaire is retired",
            ));
        }
        load_row(c, &new.customer_id)?
            .ok_or_else(|| CrmError::invalid("customer_id", "no such customer"))?;
        let id = dms_core::new_id();
        let ts = to_db_time(now);
        diesel::insert_into(surveys::table)
            .values((
                surveys::id.eq(&id),
                surveys::store_id.eq(&new.store_id),
                surveys::questionnaire_id.eq(&q.id),
                surveys::customer_id.eq(&new.customer_id),
                surveys::occasion.eq(&q.occasion),
                surveys::subject_ref.eq(new.subject_ref.as_deref()),
                surveys::advisor_id.eq(new.advisor_id.as_deref()),
                surveys::consultant_id.eq(new.consultant_id.as_deref()),
                surveys::status.eq("sent"),
                surveys::sent_at.eq(ts),
                surveys::created_at.eq(ts),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&new.store_id),
            "survey.send",
            "survey",
            &id,
            json!({"questionnaire": q.code}),
        )?;
        Ok(surveys::table
            .find(&id)
            .select(Survey::as_select())
            .first(c)?)
    })
}

#[derive(Debug, Clone)]
pub struct Answer {
    pub question_code: String,
    pub score: Option<i32>,
    pub text: Option<String>,
}

/// Stores the customer's answers (once), checked against the questionnaire.
pub fn answer_survey(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    survey_id: &str,
    answers: &[Answer],
    now: DateTime<Utc>,
) -> Result<Survey> {
    write_tx(conn, |c| {
        let s: Survey = surveys::table
            .find(survey_id)
            .select(Survey::as_select())
            .first(c)
            .optional()?
            .filter(|s| scope.allows(&s.store_id))
            .ok_or(CrmError::NotFound("survey"))?;
        if s.status != "sent" {
            return Err(CrmError::conflict("status", "survey already answered"));
        }
        let qcode: String = questionnaires::table
            .find(&s.questionnaire_id)
            .select(questionnaires::code)
            .first(c)?;
        let q = get_questionnaire(c, &qcode)?;
        let mut csat = None;
        let mut nps = None;
        for question in &q.questions {
            let a = answers.iter().find(|a| a.question_code == question.code);
            match (a, range(&question.kind)) {
                (None, _) if question.required => {
                    return Err(CrmError::invalid(
                        "answers",
                        format!("{} is required", question.code),
                    ))
                }
                (None, _) => {}
                (Some(a), Some((lo, hi))) => match a.score {
                    Some(v) if (lo..=hi).contains(&v) => {
                        if question.kind == QuestionKind::Csat {
                            csat = Some(v);
                        }
                        if question.kind == QuestionKind::Nps {
                            nps = Some(v);
                        }
                    }
                    None if !question.required => {}
                    _ => {
                        return Err(CrmError::invalid(
                            "answers",
                            format!("{}: a score from {lo} to {hi}", question.code),
                        ))
                    }
                },
                (Some(a), None) => {
                    if a.text.as_deref().is_some_and(|t| t.chars().count() > 2000) {
                        return Err(CrmError::invalid(
                            "answers",
                            "free text up to 2000 characters",
                        ));
                    }
                }
            }
        }
        if let Some(a) = answers
            .iter()
            .find(|a| !q.questions.iter().any(|x| x.code == a.question_code))
        {
            return Err(CrmError::invalid(
                "answers",
                format!("no question {}", a.question_code),
            ));
        }
        for a in answers {
            diesel::insert_into(survey_answers::table)
                .values((
                    survey_answers::id.eq(dms_core::new_id()),
                    survey_answers::survey_id.eq(survey_id),
                    survey_answers::question_code.eq(&a.question_code),
                    survey_answers::score.eq(a.score),
                    survey_answers::text_answer.eq(a.text.as_deref()),
                ))
                .execute(c)?;
        }
        diesel::update(surveys::table.find(survey_id))
            .set((
                surveys::status.eq("answered"),
                surveys::answered_at.eq(Some(to_db_time(now))),
                surveys::csat.eq(csat),
                surveys::nps.eq(nps),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&s.store_id),
            "survey.answer",
            "survey",
            survey_id,
            json!({}),
        )?;
        Ok(surveys::table
            .find(survey_id)
            .select(Survey::as_select())
            .first(c)?)
    })
}

/// The surveys of one customer (their satisfaction history).
pub fn customer_surveys(
    conn: &mut DbConnection,
    scope: &StoreScope,
    customer_id: &str,
) -> Result<Vec<Survey>> {
    let mut q = surveys::table
        .filter(surveys::customer_id.eq(customer_id))
        .select(Survey::as_select())
        .into_boxed();
    if let StoreScope::Stores(ids) = scope {
        q = q.filter(surveys::store_id.eq_any(ids.clone()));
    }
    Ok(q.order(surveys::id.asc()).load(conn)?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SatisfactionBy {
    Store,
    Advisor,
    Consultant,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SatisfactionRow {
    pub key: String,
    pub responses: i64,
    /// Share of CSAT answers that are 4 or 5, in per cent.
    pub csat_percent: Option<f64>,
    /// Mean CSAT score (1-5).
    pub csat_mean: Option<f64>,
    /// Promoters (9-10) minus detractors (0-6), in per cent of NPS answers: -100 to 100.
    pub nps: Option<f64>,
}

/// CSAT and NPS of the surveys answered in `[from, to)`, per store, advisor or consultant.
pub fn satisfaction(
    conn: &mut DbConnection,
    scope: &StoreScope,
    from: NaiveDate,
    to: NaiveDate,
    by: SatisfactionBy,
) -> Result<Vec<SatisfactionRow>> {
    let mut q = surveys::table
        .filter(surveys::status.eq("answered"))
        .filter(surveys::answered_at.ge(from.and_time(chrono::NaiveTime::MIN)))
        .filter(surveys::answered_at.lt(to.and_time(chrono::NaiveTime::MIN)))
        .select(Survey::as_select())
        .into_boxed();
    if let StoreScope::Stores(ids) = scope {
        q = q.filter(surveys::store_id.eq_any(ids.clone()));
    }
    let rows: Vec<Survey> = q.load(conn)?;
    let mut groups: BTreeMap<String, Vec<&Survey>> = BTreeMap::new();
    for s in &rows {
        let key = match by {
            SatisfactionBy::Store => Some(s.store_id.clone()),
            SatisfactionBy::Advisor => s.advisor_id.clone(),
            SatisfactionBy::Consultant => s.consultant_id.clone(),
        };
        if let Some(k) = key {
            groups.entry(k).or_default().push(s);
        }
    }
    Ok(groups
        .into_iter()
        .map(|(key, ss)| {
            let cs: Vec<i32> = ss.iter().filter_map(|s| s.csat).collect();
            let ns: Vec<i32> = ss.iter().filter_map(|s| s.nps).collect();
            let pct = |n: usize, d: usize| n as f64 * 100.0 / d as f64;
            SatisfactionRow {
                key,
                responses: ss.len() as i64,
                csat_percent: (!cs.is_empty())
                    .then(|| pct(cs.iter().filter(|v| **v >= 4).count(), cs.len())),
                csat_mean: (!cs.is_empty())
                    .then(|| cs.iter().sum::<i32>() as f64 / cs.len() as f64),
                nps: (!ns.is_empty()).then(|| {
                    pct(ns.iter().filter(|v| **v >= 9).count(), ns.len())
                        - pct(ns.iter().filter(|v| **v <= 6).count(), ns.len())
                }),
            }
        })
        .collect())
}
