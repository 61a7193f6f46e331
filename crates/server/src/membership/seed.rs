//! Demo data for the two demo stores, built with the domain functions so the ledgers stay
//! consistent: the programme with the seed figures, eight members across the tiers with a card
//! each (two with chips), top-ups with their bonus, a few checkouts (one with a coupon), group
//! coupons and a gift catalogue, a points migration, a gift redemption and a free wash used.

use dms_core::{Money, StoreScope, SystemClock};
use dms_db::DbConnection;
use dms_identity::Actor;
use dms_membership as m;
use rust_decimal::Decimal;

/// (tier, channel, top-up in yuan, payment method, chip UID)
const MEMBERS: &[(&str, m::JoinChannel, i64, m::PaymentMethod, Option<&str>)] = &[
    (
        "gold",
        m::JoinChannel::Purchase,
        5000,
        m::PaymentMethod::BankCard,
        Some("04A1B2C3D4E5F6"),
    ),
    (
        "silver",
        m::JoinChannel::BringOwnCar,
        1000,
        m::PaymentMethod::Cash,
        None,
    ),
    (
        "diamond",
        m::JoinChannel::Purchase,
        3000,
        m::PaymentMethod::Transfer,
        Some("04C7D8E9FA0B1C"),
    ),
    (
        "standard",
        m::JoinChannel::Spend,
        500,
        m::PaymentMethod::Online,
        None,
    ),
    (
        "gold",
        m::JoinChannel::Fee,
        2000,
        m::PaymentMethod::BankCard,
        None,
    ),
    (
        "silver",
        m::JoinChannel::DrivingSchool,
        1000,
        m::PaymentMethod::Cash,
        None,
    ),
    (
        "standard",
        m::JoinChannel::BringOwnCar,
        300,
        m::PaymentMethod::Online,
        None,
    ),
    (
        "diamond",
        m::JoinChannel::Purchase,
        10000,
        m::PaymentMethod::Transfer,
        None,
    ),
];

fn yuan(n: i64) -> Money {
    Money::from_fen(n * 100)
}

fn line(cat: m::Category, item: Option<&str>, what: &str, qty: i64, price: i64) -> m::BasketLine {
    m::BasketLine {
        category: cat,
        item_code: item.map(str::to_string),
        description: what.into(),
        quantity: Decimal::from(qty),
        unit_price: yuan(price),
        insurer_paid: false,
    }
}

/// The cashier of a store as the actor, so receipts and the audit log read naturally.
fn cashier(demo: &crate::seed::DemoOrg, store_code: &str) -> Actor {
    let username = format!("{}.cashier", store_code.to_lowercase());
    match demo.staff.iter().find(|(u, _)| *u == username) {
        Some((u, id)) => Actor {
            kind: "staff",
            id: Some(id.clone()),
            name: u.clone(),
            request_id: None,
        },
        None => Actor::system("seed-demo"),
    }
}

pub fn seed_demo(
    conn: &mut DbConnection,
    demo: &crate::seed::DemoOrg,
) -> Result<String, m::MembershipError> {
    let all = StoreScope::AllStores;
    let clock = SystemClock;
    let system = Actor::system("seed-demo");
    m::set_config(
        conn,
        &system,
        &all,
        &clock,
        None,
        &m::ProgrammeConfig::default(),
    )?;

    // Group coupons and gifts.
    let now = chrono::Utc::now();
    let year = chrono::Duration::days(365);
    let template = |kind, name: &str, min: i64, cats: Vec<m::Category>| m::NewCouponTemplate {
        store_id: None,
        name: name.into(),
        kind,
        min_spend: yuan(min),
        categories: cats,
        valid_from: now - chrono::Duration::days(1),
        valid_until: now + year,
        per_member_limit: 2,
    };
    let fifty_off = m::create_coupon_template(
        conn,
        &system,
        &all,
        &clock,
        &template(
            m::CouponKind::AmountOff { amount: yuan(50) },
            "保养立减50元",
            300,
            vec![],
        ),
    )?;
    let labour = m::create_coupon_template(
        conn,
        &system,
        &all,
        &clock,
        &template(
            m::CouponKind::PercentOff {
                percent_bp: 1000,
                cap: Some(yuan(200)),
            },
            "工时费九折券",
            0,
            vec![m::Category::Labour],
        ),
    )?;
    let wash = m::create_coupon_template(
        conn,
        &system,
        &all,
        &clock,
        &template(
            m::CouponKind::FreeItem {
                item_code: "WASH".into(),
            },
            "免费精洗一次",
            0,
            vec![m::Category::Detailing],
        ),
    )?;
    let mut gifts = vec![];
    for (name, cost, stock) in [
        ("车载香薰", 800, 50),
        ("定制晴雨伞", 1500, 30),
        ("行车记录仪", 12000, 5),
    ] {
        gifts.push(m::create_gift(
            conn,
            &system,
            &all,
            &clock,
            &m::NewGift {
                store_id: None,
                name: name.into(),
                points_cost: cost,
                stock,
            },
        )?);
    }

    // Members, cards and top-ups: the first eight demo customers (they alternate stores).
    let mut members = vec![];
    for (i, ((cust, store, _, _), (tier, channel, topup, method, chip))) in
        demo.customers.iter().zip(MEMBERS).enumerate()
    {
        let code = demo
            .stores
            .iter()
            .position(|(_, id)| id == store)
            .unwrap_or(0);
        let store_code = demo
            .stores
            .get(code)
            .map(|s| s.0.as_str())
            .unwrap_or("HT01");
        let actor = cashier(demo, store_code);
        let member = m::join_member(
            conn,
            &actor,
            &all,
            &clock,
            &m::JoinMember {
                customer_id: cust.clone(),
                store_id: store.clone(),
                channel: *channel,
                tier_code: Some((*tier).into()),
                fee_paid: (*channel == m::JoinChannel::Fee).then(|| yuan(1000)),
                past_spend: None,
            },
        )?;
        let card = m::issue_card(
            conn,
            &actor,
            &all,
            &clock,
            &m::IssueCard {
                member_id: member.id.clone(),
                card_no: Some(format!("88{:02}2026{:06}", code + 1, i + 1)),
                chip_uid: chip.map(str::to_string),
                expires_at: None,
            },
        )?;
        m::top_up(
            conn,
            &actor,
            &all,
            &clock,
            &format!("seed-topup-{i}"),
            &m::TopUp {
                card_id: card.id.clone(),
                amount: yuan(*topup),
                payment_method: *method,
                terminal_id: Some(format!("{}-desk-1", store_code.to_lowercase())),
            },
        )?;
        members.push((member, card, actor));
    }
    let issued = m::issue_coupons_to_segment(
        conn,
        &system,
        &all,
        &clock,
        &fifty_off.id,
        &m::Segment::default(),
    )? + m::issue_coupons_to_segment(
        conn,
        &system,
        &all,
        &clock,
        &labour.id,
        &m::Segment {
            tier_code: Some("gold".into()),
            store_id: None,
        },
    )? + m::issue_coupons_to_segment(
        conn,
        &system,
        &all,
        &clock,
        &wash.id,
        &m::Segment {
            tier_code: Some("diamond".into()),
            store_id: None,
        },
    )?;

    // Checkouts: a 40,000 km service, brake pads, detailing and an accessory, paid from the card.
    let baskets: [(usize, Vec<m::BasketLine>, bool); 4] = [
        (
            0,
            vec![
                line(
                    m::Category::Labour,
                    Some("SVC-40K"),
                    "4万公里保养工时",
                    1,
                    380,
                ),
                line(
                    m::Category::Parts,
                    Some("OIL-0W20"),
                    "全合成机油0W-20（升）",
                    4,
                    68,
                ),
                line(m::Category::Parts, Some("FLT-OIL"), "机油滤清器", 1, 45),
            ],
            true,
        ),
        (
            2,
            vec![
                line(m::Category::Labour, None, "更换前刹车片工时", 1, 260),
                line(
                    m::Category::Parts,
                    Some("BRK-F"),
                    "前刹车片（原厂）",
                    1,
                    680,
                ),
            ],
            false,
        ),
        (
            1,
            vec![line(
                m::Category::Detailing,
                Some("WASH"),
                "精洗+内饰清洁",
                1,
                198,
            )],
            false,
        ),
        (
            7,
            vec![line(
                m::Category::Accessories,
                Some("ACC-MAT"),
                "全包围脚垫",
                1,
                1280,
            )],
            false,
        ),
    ];
    let mut checkouts = 0;
    for (n, (who, lines, with_coupon)) in baskets.into_iter().enumerate() {
        let Some((member, card, actor)) = members.get(who) else {
            continue;
        };
        let coupon_ids = if with_coupon {
            m::coupons_of_member(conn, &all, &member.id)?
                .into_iter()
                .filter(|c| c.template_id == fifty_off.id && c.status == "issued")
                .map(|c| c.id)
                .take(1)
                .collect()
        } else {
            vec![]
        };
        let mut req = m::CheckoutRequest {
            card_id: card.id.clone(),
            store_id: card.store_id.clone(),
            terminal_id: Some("desk-1".into()),
            lines,
            coupon_ids,
            redeem_points: 0,
            tenders: vec![],
            discount_override: None,
        };
        let priced = m::quote(conn, &all, &clock, &req, m::CheckoutPermissions::default())?;
        req.tenders = vec![m::Tender::StoredValue(priced.member_pays)];
        m::checkout(
            conn,
            actor,
            &all,
            &clock,
            &format!("seed-checkout-{n}"),
            &req,
            m::CheckoutPermissions::default(),
        )?;
        checkouts += 1;
    }

    // Points carried over from the legacy system, a gift redeemed, a free wash used.
    if let Some((member, _, _)) = members.get(2) {
        m::adjust_points(
            conn,
            &system,
            &all,
            &clock,
            "seed-points-2",
            &m::AdjustPoints {
                member_id: member.id.clone(),
                track: m::PointsTrack::Redeemable,
                delta: 3000,
                reason: "旧系统积分迁移".into(),
            },
        )?;
        if let Some(g) = gifts.first() {
            m::redeem_gift(
                conn,
                &members[2].2,
                &all,
                &clock,
                "seed-gift-2",
                &m::RedeemGift {
                    member_id: member.id.clone(),
                    gift_id: g.id.clone(),
                    quantity: 1,
                },
            )?;
        }
    }
    if let Some((member, _, actor)) = members.first() {
        m::use_entitlement(
            conn,
            actor,
            &all,
            &clock,
            "seed-wash-0",
            &m::UseEntitlement {
                member_id: member.id.clone(),
                code: "wash".into(),
                ref_id: None,
            },
        )?;
    }
    let check = m::verify_ledgers(conn)?;
    if !check.problems.is_empty() {
        return Err(m::MembershipError::Internal(check.problems.join("; ")));
    }
    Ok(format!(
        "member club: {} members with cards, {} top-ups, {} checkouts, {} coupons, {} gifts",
        members.len(),
        members.len(),
        checkouts,
        issued,
        gifts.len()
    ))
}
