//! Demo data: richer customer records, their cars (real-looking VINs, Beijing plates), leads
//! across grades, the care engine's tasks for today, a complaint and answered surveys. Built
//! through the domain, so it obeys every rule the API does.

use chrono::{Duration, NaiveDate, Utc};
use dms_core::StoreScope;
use dms_crm::*;
use dms_db::DbConnection;
use dms_identity::Actor;
use std::collections::BTreeMap;

const MODELS: &[(&str, &str, &str, &str)] = &[
    ("丰田", "凯美瑞", "2.5G 豪华版", "珍珠白"),
    ("丰田", "RAV4荣放", "2.0L CVT四驱风尚版", "冰川银"),
    ("丰田", "汉兰达", "2.5L 双擎四驱至尊版", "墨晶黑"),
    ("丰田", "卡罗拉", "1.2T S-CVT 精英版", "烈焰红"),
    ("丰田", "亚洲龙", "2.0L XLE 尊享版", "铂金珍珠白"),
    ("丰田", "赛那", "2.5L 混动 尊贵版", "星光灰"),
];

fn vin(serial: usize) -> String {
    let mut v: Vec<char> = format!("LVGBE40K0PG{:06}", 100_000 + serial * 7919 % 900_000)
        .chars()
        .collect();
    if let Some(d) = vin_check_digit(&v.iter().collect::<String>()) {
        v[8] = d;
    }
    v.into_iter().collect()
}

fn plate(i: usize) -> String {
    const LETTERS: &[char] = &[
        'A', 'B', 'C', 'E', 'F', 'G', 'H', 'J', 'K', 'L', 'M', 'N', 'P',
    ];
    format!(
        "京{}·{:05}",
        LETTERS[i % LETTERS.len()],
        10_000 + (i * 3571) % 89_999
    )
}

fn e(x: CrmError) -> String {
    x.to_string()
}

pub fn seed_demo(conn: &mut DbConnection, demo: &crate::seed::DemoOrg) -> Result<String, String> {
    let actor = Actor::system("seed-demo");
    let all = StoreScope::AllStores;
    let now = Utc::now();
    let today = crate::jobs::local_now().date_naive();
    let staff = |name: &str| {
        demo.staff
            .iter()
            .find(|(u, _)| u == name)
            .map(|(_, id)| id.clone())
    };
    let store_code = |id: &str| {
        demo.stores
            .iter()
            .find(|(_, s)| s == id)
            .map(|(c, _)| c.to_lowercase())
            .unwrap_or_default()
    };

    // Customers: birthdays, tags, consent; each with a car delivered at a different time.
    let ages = [0i64, 7, 61, 95, 183, 365, 420, 610, 730, 900, 1100, 40];
    let mut vehicles = 0;
    let mut cars: Vec<(String, String, String)> = vec![]; // (vehicle, customer, store)
    for (i, (cid, store, _name, _phone)) in demo.customers.iter().enumerate() {
        let birthday = NaiveDate::from_ymd_opt(
            1965 + (i as i32 * 3) % 35,
            1 + (i as u32 * 5) % 12,
            1 + (i as u32 * 7) % 28,
        );
        let upd = CustomerUpdate {
            birthday: Some(birthday),
            email: Some(Some(format!("owner{:02}@example.cn", i + 1))),
            notes: Some(
                ["喜欢周末保养", "需提前电话预约", "车队客户，对接行政部", ""][i % 4].to_string(),
            ),
            owner_staff_id: Some(staff(&format!("{}.advisor", store_code(store)))),
            ..Default::default()
        };
        update_customer(conn, &actor, &all, cid, &upd, now).map_err(e)?;
        let tags: Vec<String> = match i % 3 {
            0 => vec!["老客户".into(), "保养准时".into()],
            1 => vec!["价格敏感".into()],
            _ => vec!["家庭用车".into()],
        };
        set_customer_tags(conn, &actor, &all, cid, &tags, now).map_err(e)?;
        let delivered = today - Duration::days(ages[i % ages.len()]);
        set_consent(
            conn,
            &actor,
            &all,
            cid,
            &ConsentInput {
                channel: Channel::Sms,
                granted: i % 5 != 4,
                on: delivered.min(today),
                source: "展厅登记表".into(),
            },
            now,
        )
        .map_err(e)?;
        let (brand, model, trim, colour) = MODELS[i % MODELS.len()];
        let mut nv = NewVehicle::new(store, &vin(i + 1));
        nv.plate = Some(plate(i));
        nv.brand = brand.into();
        nv.model = model.into();
        nv.trim_level = trim.into();
        nv.colour = colour.into();
        nv.model_year = Some(2020 + (i as i32 % 6));
        nv.purchase_date = Some(delivered);
        nv.delivery_date = Some(delivered);
        nv.warranty_end = Some(delivered + Duration::days(3 * 365));
        nv.insurance_expiry = Some(today + Duration::days(10 + (i as i64 * 23) % 300));
        nv.insurer = Some(["中国人保", "平安保险", "太平洋保险"][i % 3].into());
        nv.inspection_due = Some(today + Duration::days(20 + (i as i64 * 41) % 330));
        nv.customer_id = Some(cid.clone());
        let v = create_vehicle(conn, &actor, &all, &nv, now).map_err(e)?;
        if ages[i % ages.len()] > 30 {
            let km = ages[i % ages.len()] * 45;
            record_mileage(
                conn,
                &actor,
                &all,
                &v.id,
                today - Duration::days(15),
                km,
                "service",
                now,
            )
            .map_err(e)?;
        }
        vehicles += 1;
        cars.push((v.id, cid.clone(), store.clone()));
    }

    // Leads across grades for each store's consultant; two are overdue.
    let leads_in = [
        (
            "钱先生",
            "13912340001",
            "walk_in",
            "凯美瑞",
            IntentGrade::H,
            10,
        ),
        (
            "冯女士",
            "13912340002",
            "online",
            "RAV4荣放",
            IntentGrade::A,
            2,
        ),
        (
            "褚先生",
            "13912340003",
            "phone",
            "汉兰达",
            IntentGrade::B,
            1,
        ),
        (
            "卫女士",
            "13912340004",
            "referral",
            "卡罗拉",
            IntentGrade::C,
            0,
        ),
        ("蒋先生", "13912340005", "event", "赛那", IntentGrade::A, 9),
        (
            "沈女士",
            "13912340006",
            "walk_in",
            "亚洲龙",
            IntentGrade::H,
            0,
        ),
    ];
    let mut leads = 0;
    for (code, store) in &demo.stores {
        let consultant = staff(&format!("{}.sales", code.to_lowercase()));
        for (j, (name, phone, source, model, grade, days_ago)) in leads_in.iter().enumerate() {
            if j >= 4 && code != "HT01" {
                break;
            }
            let access = LeadAccess::manager(all.clone());
            let when = now - Duration::days(*days_ago);
            create_lead(
                conn,
                &actor,
                &access,
                &NewLead {
                    store_id: store.clone(),
                    name: (*name).into(),
                    phone: phone.replace(
                        "1391234",
                        if code == "HT01" { "1391234" } else { "1391235" },
                    ),
                    source_channel: (*source).into(),
                    interest_brand: "丰田".into(),
                    interest_model: (*model).into(),
                    grade: *grade,
                    assigned_to: consultant.clone(),
                    customer_id: None,
                },
                &LeadCadence::default(),
                when,
            )
            .map_err(e)?;
            leads += 1;
        }
    }

    // Today's follow-up calls, shared among each store's customer service.
    let rules = CareRules {
        assignees: demo
            .stores
            .iter()
            .filter_map(|(code, id)| {
                staff(&format!("{}.cs", code.to_lowercase())).map(|s| (id.clone(), vec![s]))
            })
            .collect::<BTreeMap<_, _>>(),
        ..CareRules::default()
    };
    let report = run_care_engine(conn, today, &rules, &[], now).map_err(e)?;

    // A complaint in the first store.
    let mut complaints = 0;
    if let Some((vid, cid, store)) = cars.first() {
        open_complaint(
            conn,
            &actor,
            &all,
            &NewComplaint {
                store_id: store.clone(),
                customer_id: cid.clone(),
                vehicle_id: Some(vid.clone()),
                order_ref: None,
                work_order_ref: Some("WO-20261120-0017".into()),
                channel: "phone".into(),
                category: "waiting_time".into(),
                severity: Severity::High,
                description: "保养预约 9:00，实际 11:30 才开始施工，客户不满".into(),
                assigned_to: staff(&format!("{}.cs", store_code(store))),
            },
            &ComplaintPolicy::default(),
            now,
        )
        .map_err(e)?;
        complaints += 1;
    }

    // A questionnaire and a few answered surveys.
    create_questionnaire(
        conn,
        &actor,
        &NewQuestionnaire {
            code: "SERVICE".into(),
            title: "售后服务满意度回访".into(),
            occasion: "service".into(),
            questions: vec![
                Question {
                    code: "csat".into(),
                    text: "您对本次保养/维修服务是否满意？".into(),
                    kind: QuestionKind::Csat,
                    required: true,
                },
                Question {
                    code: "nps".into(),
                    text: "您向亲友推荐本店的可能性有多大？".into(),
                    kind: QuestionKind::Nps,
                    required: true,
                },
                Question {
                    code: "comment".into(),
                    text: "您还有什么意见或建议？".into(),
                    kind: QuestionKind::Text,
                    required: false,
                },
            ],
        },
        now,
    )
    .map_err(e)?;
    let scores = [(5, 10), (4, 8), (5, 9), (3, 6), (4, 9)];
    let mut surveys = 0;
    for (k, (_, cid, store)) in cars.iter().take(scores.len()).enumerate() {
        let s = send_survey(
            conn,
            &actor,
            &all,
            &NewSurvey {
                store_id: store.clone(),
                questionnaire_code: "SERVICE".into(),
                customer_id: cid.clone(),
                subject_ref: Some(format!("WO-202611{:02}-00{:02}", 10 + k, k + 1)),
                advisor_id: staff(&format!("{}.advisor", store_code(store))),
                consultant_id: None,
            },
            now - Duration::days(3),
        )
        .map_err(e)?;
        let (csat, nps) = scores[k];
        answer_survey(
            conn,
            &actor,
            &all,
            &s.id,
            &[
                Answer {
                    question_code: "csat".into(),
                    score: Some(csat),
                    text: None,
                },
                Answer {
                    question_code: "nps".into(),
                    score: Some(nps),
                    text: None,
                },
                Answer {
                    question_code: "comment".into(),
                    score: None,
                    text: Some(
                        [
                            "服务很专业",
                            "等待时间有点长",
                            "",
                            "价格偏高",
                            "休息区很舒适",
                        ][k]
                            .into(),
                    ),
                },
            ],
            now - Duration::days(2),
        )
        .map_err(e)?;
        surveys += 1;
    }
    Ok(format!(
        "CRM: {vehicles} vehicles, {leads} leads, {} follow-up tasks, {complaints} complaint, {surveys} answered surveys",
        report.total_created()
    ))
}
