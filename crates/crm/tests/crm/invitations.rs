//! Automatic survey invitations over a simulated calendar: a survey and an SMS the right
//! number of days after a delivery and after a workshop visit, once; an SMS opt-out
//! suppresses the message but keeps the survey.

use crate::common::*;
use chrono::Duration;
use dms_core::StoreScope;
use dms_crm::*;
use dms_db::testing::TestDb;

fn questionnaire(c: &mut dms_db::DbConnection, code: &str, occasion: &str) {
    create_questionnaire(
        c,
        &actor(),
        &NewQuestionnaire {
            code: code.into(),
            title: "满意度".into(),
            occasion: occasion.into(),
            questions: vec![Question {
                code: "csat".into(),
                text: "您满意吗?".into(),
                kind: QuestionKind::Csat,
                required: true,
            }],
        },
        at(2026, 1, 1, 1),
    )
    .unwrap();
}

fn invitations_after_delivery_and_service(db: &TestDb) {
    let mut c = conn(db);
    let s = store(&mut c, "BJ01");
    let all = StoreScope::AllStores;
    questionnaire(&mut c, "DELIVERY", "delivery");
    questionnaire(&mut c, "SERVICE", "service");
    let a = customer(&mut c, &s, "冯一", "13900005001");
    let mut nb = NewCustomer::individual(&s, "冯二", "13900005002");
    nb.consents = vec![ConsentInput {
        channel: Channel::Sms,
        granted: false,
        on: day(2026, 2, 1),
        source: "电话".into(),
    }];
    let b = create_customer(&mut c, &actor(), &all, &nb, at(2026, 3, 1, 1)).unwrap();
    let mut nv = NewVehicle::new(&s, "1HGCM82633A004352");
    nv.delivery_date = Some(day(2026, 3, 1));
    nv.customer_id = Some(a.id.clone());
    let v = create_vehicle(&mut c, &actor(), &all, &nv, at(2026, 3, 1, 1)).unwrap();
    let mut nv2 = NewVehicle::new(&s, "1M8GDM9AXKP042788");
    nv2.delivery_date = Some(day(2026, 3, 2));
    nv2.customer_id = Some(b.id.clone());
    create_vehicle(&mut c, &actor(), &all, &nv2, at(2026, 3, 1, 1)).unwrap();

    let rules = SurveyInvitationRules {
        link_base: "https://app.huatong.example/s/".into(),
        ..SurveyInvitationRules::default()
    };
    let t = TemplateSet::standard();
    let mut made: Vec<(chrono::NaiveDate, InvitationReport)> = vec![];
    let mut today = day(2026, 3, 1);
    while today <= day(2026, 3, 20) {
        if today == day(2026, 3, 10) {
            record_service_visit(
                &mut c,
                &actor(),
                &all,
                &NewServiceVisit {
                    store_id: s.clone(),
                    vehicle_id: v.id.clone(),
                    visited_on: today,
                    kind: VisitKind::FirstService,
                    km: Some(3000),
                    advisor_id: Some("adv-1".into()),
                    work_order_ref: Some("WO-1".into()),
                },
                at(2026, 3, 10, 3),
            )
            .unwrap();
        }
        // The job runs twice some days: nothing twice.
        for _ in 0..2 {
            let r = run_survey_invitations(
                &mut c,
                today,
                &rules,
                &t,
                at(2026, 3, 1, 22) + Duration::days((today - day(2026, 3, 1)).num_days()),
            )
            .unwrap();
            if r.created.values().sum::<u32>() > 0 {
                made.push((today, r));
            }
        }
        today += Duration::days(1);
    }
    let days: Vec<(chrono::NaiveDate, Vec<(String, u32)>)> = made
        .iter()
        .map(|(d, r)| (*d, r.created.clone().into_iter().collect()))
        .collect();
    assert_eq!(
        days,
        vec![
            (day(2026, 3, 4), vec![("delivery".to_string(), 1)]),
            (day(2026, 3, 5), vec![("delivery".to_string(), 1)]),
            (day(2026, 3, 11), vec![("service".to_string(), 1)]),
        ],
        "3 days after each delivery, 1 day after the visit, once each"
    );
    assert_eq!(made[1].1.suppressed, 1, "B said no to SMS");

    let sa = customer_surveys(&mut c, &all, &a.id).unwrap();
    assert_eq!(sa.len(), 2);
    let service = sa.iter().find(|x| x.occasion == "service").unwrap();
    assert_eq!(
        service.advisor_id.as_deref(),
        Some("adv-1"),
        "rates the advisor"
    );
    let sb = customer_surveys(&mut c, &all, &b.id).unwrap();
    assert_eq!(
        sb.len(),
        1,
        "the survey exists for a call even without the SMS"
    );

    let page = dms_core::PageRequest::first(50);
    let (msgs, _) = list_messages(
        &mut c,
        &all,
        &MessageFilter {
            customer_id: Some(a.id.clone()),
            ..Default::default()
        },
        &page,
    )
    .unwrap();
    assert_eq!(msgs.len(), 2);
    for m in &msgs {
        assert_eq!(m.channel, "sms");
        assert_eq!(m.status, "pending");
        assert!(m.body.starts_with("【BJ01店】尊敬的冯一"), "{}", m.body);
        assert!(
            sa.iter().any(|x| m
                .body
                .contains(&format!("https://app.huatong.example/s/{}", x.id))),
            "the link names the survey: {}",
            m.body
        );
    }
    let (msgs, _) = list_messages(
        &mut c,
        &all,
        &MessageFilter {
            customer_id: Some(b.id.clone()),
            ..Default::default()
        },
        &page,
    )
    .unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].status, "suppressed");
    assert_eq!(msgs[0].last_error.as_deref(), Some("opted_out"));

    // Without the questionnaire nothing is sent, and it says so.
    let off = SurveyInvitationRules {
        after_delivery: Some(InvitationRule {
            questionnaire: "NOPE".into(),
            days_after: 3,
        }),
        after_service: None,
        ..rules.clone()
    };
    let r = run_survey_invitations(&mut c, day(2026, 3, 4), &off, &t, at(2026, 3, 4, 1)).unwrap();
    assert_eq!(r.no_questionnaire, 1);
    assert!(r.created.is_empty());
}

dms_db::engine_tests!(invitations_after_delivery_and_service);
