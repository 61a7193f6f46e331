//! Complaints (SLA, escalation, resolution, confirmation) and satisfaction surveys
//! (questionnaires, answers, CSAT/NPS per store, advisor and consultant).

use crate::common::*;
use chrono::Duration;
use dms_core::{PageRequest, StoreScope};
use dms_crm::*;
use dms_db::testing::TestDb;

fn complaint_life(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let all = StoreScope::AllStores;
    let a = customer(&mut c, &s, "韩五", "13900004001");
    let mut policy = ComplaintPolicy::default();
    policy
        .escalate_to
        .insert(s.clone(), vec!["svc-mgr".into(), "gm".into()]);
    let t0 = at(2026, 4, 1, 9);
    let nc = NewComplaint {
        store_id: s.clone(),
        customer_id: a.id.clone(),
        vehicle_id: None,
        order_ref: None,
        work_order_ref: Some("WO-2026-0401".into()),
        channel: "phone".into(),
        category: "repair_quality".into(),
        severity: Severity::High,
        description: "保养后发动机异响".into(),
        assigned_to: Some("adv-1".into()),
    };
    let x = open_complaint(&mut c, &actor(), &all, &nc, &policy, t0).unwrap();
    assert_eq!(
        dms_db::from_db_time(x.due_at),
        t0 + Duration::hours(24),
        "high: 24 h SLA"
    );
    // Not overdue yet.
    assert!(
        escalate_overdue_complaints(&mut c, &policy, t0 + Duration::hours(23))
            .unwrap()
            .is_empty()
    );
    // Overdue: up one level, to the service manager, fresh SLA.
    let up = escalate_overdue_complaints(&mut c, &policy, t0 + Duration::hours(25)).unwrap();
    assert_eq!(up, vec![x.id.clone()]);
    let x = get_complaint(&mut c, &all, &x.id).unwrap();
    assert_eq!(x.escalation_level, 1);
    assert_eq!(x.assigned_to.as_deref(), Some("svc-mgr"));
    let up = escalate_overdue_complaints(&mut c, &policy, t0 + Duration::hours(50)).unwrap();
    assert_eq!(up.len(), 1);
    assert_eq!(
        get_complaint(&mut c, &all, &x.id)
            .unwrap()
            .assigned_to
            .as_deref(),
        Some("gm")
    );
    let x = resolve_complaint(
        &mut c,
        &actor(),
        &all,
        &x.id,
        "免费重新检修, 更换皮带",
        t0 + Duration::hours(60),
    )
    .unwrap();
    assert_eq!(x.status, "resolved");
    // Not satisfied: reopened.
    let x = confirm_complaint(
        &mut c,
        &actor(),
        &all,
        &x.id,
        false,
        &policy,
        t0 + Duration::hours(70),
    )
    .unwrap();
    assert_eq!(x.status, "open");
    let x = resolve_complaint(
        &mut c,
        &actor(),
        &all,
        &x.id,
        "再次检修",
        t0 + Duration::hours(72),
    )
    .unwrap();
    let x = confirm_complaint(
        &mut c,
        &actor(),
        &all,
        &x.id,
        true,
        &policy,
        t0 + Duration::hours(80),
    )
    .unwrap();
    assert_eq!(x.status, "closed");
    assert_eq!(x.customer_satisfied, Some(true));
    let st = complaint_stats(&mut c, &all, day(2026, 4, 1), day(2026, 5, 1)).unwrap();
    assert_eq!(st.by_category.get("repair_quality"), Some(&1));
    assert_eq!(st.escalated, 1);
    assert_eq!(st.mean_hours_to_resolve, Some(72.0));
    // Bad input and scope.
    let mut bad = nc.clone();
    bad.category = "weather".into();
    assert!(matches!(
        open_complaint(&mut c, &actor(), &all, &bad, &policy, t0),
        Err(CrmError::Invalid {
            field: "category",
            ..
        })
    ));
    let other = store(&mut c, "SH01");
    assert!(matches!(
        get_complaint(&mut c, &StoreScope::Stores(vec![other]), &x.id),
        Err(CrmError::NotFound(_))
    ));
    let (rows, _) = list_complaints(
        &mut c,
        &all,
        &ComplaintFilter {
            customer_id: Some(a.id.clone()),
            ..Default::default()
        },
        &PageRequest::first(10),
    )
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(audit_count(&mut c, "complaint.escalate"), 2);
}

fn surveys_and_scores(db: &TestDb) {
    let mut c = conn(db);
    let bj = store(&mut c, "BJ01");
    let all = StoreScope::AllStores;
    let q = create_questionnaire(
        &mut c,
        &actor(),
        &NewQuestionnaire {
            code: "SVC-2026".into(),
            title: "售后服务满意度".into(),
            occasion: "service".into(),
            questions: vec![
                Question {
                    code: "overall".into(),
                    text: "您对本次服务总体满意吗?".into(),
                    kind: QuestionKind::Csat,
                    required: true,
                },
                Question {
                    code: "recommend".into(),
                    text: "您愿意向朋友推荐本店吗?".into(),
                    kind: QuestionKind::Nps,
                    required: true,
                },
                Question {
                    code: "wait".into(),
                    text: "等待时间".into(),
                    kind: QuestionKind::Scale { min: 1, max: 10 },
                    required: false,
                },
                Question {
                    code: "comment".into(),
                    text: "其他建议".into(),
                    kind: QuestionKind::Text,
                    required: false,
                },
            ],
        },
        at(2026, 1, 1, 0),
    )
    .unwrap();
    assert_eq!(q.questions.len(), 4);
    // (csat, nps, advisor)
    let answers = [
        (5, 10, "adv-1"),
        (4, 9, "adv-1"),
        (2, 3, "adv-2"),
        (5, 7, "adv-2"),
    ];
    for (i, (cs, np, adv)) in answers.iter().enumerate() {
        let cu = customer(&mut c, &bj, &format!("客{i}"), &format!("1390000500{i}"));
        let s = send_survey(
            &mut c,
            &actor(),
            &all,
            &NewSurvey {
                store_id: bj.clone(),
                questionnaire_code: "SVC-2026".into(),
                customer_id: cu.id.clone(),
                subject_ref: Some(format!("WO-{i}")),
                advisor_id: Some(adv.to_string()),
                consultant_id: None,
            },
            at(2026, 2, 1, 9),
        )
        .unwrap();
        answer_survey(
            &mut c,
            &actor(),
            &all,
            &s.id,
            &[
                Answer {
                    question_code: "overall".into(),
                    score: Some(*cs),
                    text: None,
                },
                Answer {
                    question_code: "recommend".into(),
                    score: Some(*np),
                    text: None,
                },
                Answer {
                    question_code: "comment".into(),
                    score: None,
                    text: Some("挺好".into()),
                },
            ],
            at(2026, 2, 2, 9),
        )
        .unwrap();
        if i == 0 {
            assert!(matches!(
                answer_survey(&mut c, &actor(), &all, &s.id, &[], at(2026, 2, 2, 9)),
                Err(CrmError::Conflict { .. })
            ));
            assert_eq!(
                customer_surveys(&mut c, &all, &cu.id).unwrap()[0].csat,
                Some(5)
            );
        }
    }
    let by_store = satisfaction(
        &mut c,
        &all,
        day(2026, 2, 1),
        day(2026, 3, 1),
        SatisfactionBy::Store,
    )
    .unwrap();
    assert_eq!(by_store.len(), 1);
    let r = &by_store[0];
    assert_eq!(r.responses, 4);
    assert_eq!(r.csat_percent, Some(75.0));
    assert_eq!(r.csat_mean, Some(4.0));
    // Promoters 2 (10, 9), detractors 1 (3): (2 - 1) / 4 = 25.
    assert_eq!(r.nps, Some(25.0));
    let by_adv = satisfaction(
        &mut c,
        &all,
        day(2026, 2, 1),
        day(2026, 3, 1),
        SatisfactionBy::Advisor,
    )
    .unwrap();
    assert_eq!(
        by_adv
            .iter()
            .map(|r| (r.key.as_str(), r.nps))
            .collect::<Vec<_>>(),
        vec![("adv-1", Some(100.0)), ("adv-2", Some(-50.0))]
    );
    // Bad answers.
    let cu = customer(&mut c, &bj, "客X", "13900006000");
    let s = send_survey(
        &mut c,
        &actor(),
        &all,
        &NewSurvey {
            store_id: bj.clone(),
            questionnaire_code: "SVC-2026".into(),
            customer_id: cu.id.clone(),
            subject_ref: None,
            advisor_id: None,
            consultant_id: Some("sc-1".into()),
        },
        at(2026, 2, 1, 9),
    )
    .unwrap();
    for bad in [
        vec![
            Answer {
                question_code: "overall".into(),
                score: Some(6),
                text: None,
            },
            Answer {
                question_code: "recommend".into(),
                score: Some(5),
                text: None,
            },
        ],
        vec![Answer {
            question_code: "overall".into(),
            score: Some(3),
            text: None,
        }],
        vec![
            Answer {
                question_code: "overall".into(),
                score: Some(3),
                text: None,
            },
            Answer {
                question_code: "recommend".into(),
                score: Some(5),
                text: None,
            },
            Answer {
                question_code: "nope".into(),
                score: Some(1),
                text: None,
            },
        ],
    ] {
        assert!(matches!(
            answer_survey(&mut c, &actor(), &all, &s.id, &bad, at(2026, 2, 2, 9)),
            Err(CrmError::Invalid {
                field: "answers",
                ..
            })
        ));
    }
    assert!(matches!(
        create_questionnaire(
            &mut c,
            &actor(),
            &NewQuestionnaire {
                code: "X".into(),
                title: "x".into(),
                occasion: "party".into(),
                questions: vec![]
            },
            at(2026, 1, 1, 0)
        ),
        Err(CrmError::Invalid { .. })
    ));
}

dms_db::engine_tests!(complaint_life, surveys_and_scores);
