//! The member club on both engines (each test runs as `…::sqlite::name` and `…::postgres::name`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod setup {
    use crate::common::*;
    use dms_core::StoreScope;
    use dms_db::testing::TestDb;
    use dms_membership::*;
    use rust_decimal::Decimal;

    fn group_default_and_store_override(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let a = store(&mut c, "A01");
        let b = store(&mut c, "B01");
        let clock = clock();
        // Nothing saved: the seed defaults.
        assert_eq!(
            effective_config(&mut c, &a).unwrap(),
            ProgrammeConfig::default()
        );
        let group = ProgrammeConfig {
            term_months: 24,
            ..Default::default()
        };
        set_config(
            &mut c,
            &staff(),
            &StoreScope::AllStores,
            &clock,
            None,
            &group,
        )
        .unwrap();
        let mut over = group.clone();
        over.tiers[1]
            .discount_percent
            .insert(Category::Labour, Decimal::from(7));
        // A store-scoped manager may not touch the group document, may override its own store,
        // and cannot see another store.
        let only_b = StoreScope::Stores(vec![b.clone()]);
        assert!(matches!(
            set_config(&mut c, &staff(), &only_b, &clock, None, &over),
            Err(MembershipError::Forbidden(_))
        ));
        assert!(matches!(
            set_config(&mut c, &staff(), &only_b, &clock, Some(&a), &over),
            Err(MembershipError::NotFound(_))
        ));
        set_config(&mut c, &staff(), &only_b, &clock, Some(&b), &over).unwrap();
        assert_eq!(effective_config(&mut c, &a).unwrap().term_months, 24);
        assert_eq!(
            effective_config(&mut c, &b).unwrap().tiers[1].discount_percent[&Category::Labour],
            Decimal::from(7)
        );
        clear_store_config(&mut c, &staff(), &only_b, &b).unwrap();
        assert_eq!(effective_config(&mut c, &b).unwrap(), group);
        let mut bad = group.clone();
        bad.tiers.clear();
        assert!(matches!(
            set_config(&mut c, &staff(), &StoreScope::AllStores, &clock, None, &bad),
            Err(MembershipError::Invalid { .. })
        ));
    }

    fn join_issue_and_scope(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let a = store(&mut c, "A01");
        let b = store(&mut c, "B01");
        let clock = clock();
        let cust = customer(&mut c, &a);
        let join = JoinMember {
            customer_id: cust.clone(),
            store_id: a.clone(),
            channel: JoinChannel::Fee,
            tier_code: None,
            fee_paid: Some(yuan("1000")),
            past_spend: None,
        };
        let only_b = StoreScope::Stores(vec![b.clone()]);
        assert!(matches!(
            join_member(&mut c, &staff(), &only_b, &clock, &join),
            Err(MembershipError::NotFound(_))
        ));
        let m = join_member(&mut c, &staff(), &StoreScope::AllStores, &clock, &join).unwrap();
        assert_eq!(m.tier_code, "gold");
        assert_eq!(m.join_channel, "fee");
        assert_eq!(
            m.term_expires_at,
            dms_db::to_db_time(
                chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2027, 11, 26, 9, 0, 0).unwrap()
            )
        );
        assert!(matches!(
            join_member(&mut c, &staff(), &StoreScope::AllStores, &clock, &join),
            Err(MembershipError::Conflict { .. })
        ));
        let card = issue_card(
            &mut c,
            &staff(),
            &StoreScope::AllStores,
            &clock,
            &IssueCard {
                member_id: m.id.clone(),
                card_no: Some("8800000012345678".into()),
                chip_uid: Some("04a1b2c3d4".into()),
                expires_at: None,
            },
        )
        .unwrap();
        assert_eq!(card.status, "active");
        assert_eq!(card.masked_no(), "8800********5678");
        assert_eq!(
            card_by_chip(&mut c, &StoreScope::AllStores, "04A1B2C3D4")
                .unwrap()
                .id,
            card.id
        );
        assert!(matches!(
            get_card(&mut c, &only_b, &card.id),
            Err(MembershipError::NotFound(_))
        ));
        // Duplicate number and duplicate chip are conflicts.
        let dup = IssueCard {
            member_id: m.id.clone(),
            card_no: Some("8800000012345678".into()),
            chip_uid: None,
            expires_at: None,
        };
        assert!(matches!(
            issue_card(&mut c, &staff(), &StoreScope::AllStores, &clock, &dup),
            Err(MembershipError::Conflict { .. })
        ));
        // A batch with one bad row issues nothing.
        let m2 = member_with_card(&mut c, &a, None).member;
        let before = cards_of_member(&mut c, &StoreScope::AllStores, &m2.id)
            .unwrap()
            .len();
        let batch = vec![
            IssueCard {
                member_id: m2.id.clone(),
                ..Default::default()
            },
            dup.clone(),
        ];
        assert!(
            issue_cards_batch(&mut c, &staff(), &StoreScope::AllStores, &clock, &batch).is_err()
        );
        assert_eq!(
            cards_of_member(&mut c, &StoreScope::AllStores, &m2.id)
                .unwrap()
                .len(),
            before
        );
        let ok = vec![
            IssueCard {
                member_id: m2.id.clone(),
                ..Default::default()
            };
            3
        ];
        let issued =
            issue_cards_batch(&mut c, &staff(), &StoreScope::AllStores, &clock, &ok).unwrap();
        assert_eq!(issued.len(), 3);
        assert_eq!(
            cards_of_member(&mut c, &StoreScope::AllStores, &m2.id)
                .unwrap()
                .len(),
            before + 3
        );
    }

    dms_db::engine_tests!(group_default_and_store_override, join_issue_and_scope);
}

mod stored_value {
    use crate::common::*;
    use dms_core::StoreScope;
    use dms_db::testing::TestDb;
    use dms_membership::*;

    fn top_up_bonus_and_spending_order(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let s = store(&mut c, "A01");
        let f = member_with_card(&mut c, &s, None);
        let r = top_up_cash(&mut c, &f.card.id, "1000", "k1");
        assert_eq!(r.bonus, yuan("100"));
        assert_eq!(r.principal_after, yuan("1000"));
        assert_eq!(r.bonus_after, yuan("100"));
        let r = top_up_cash(&mut c, &f.card.id, "999.99", "k2");
        assert_eq!(r.bonus, yuan("0"));
        // Default order: bonus first.
        let d = debit(
            &mut c,
            &staff(),
            &StoreScope::AllStores,
            &clock(),
            "d1",
            &Debit {
                card_id: f.card.id.clone(),
                amount: yuan("150.50"),
                terminal_id: Some("POS-1".into()),
                memo: "洗车".into(),
            },
        )
        .unwrap()
        .value;
        assert_eq!(d.bonus_used, yuan("100"));
        assert_eq!(d.principal_used, yuan("50.50"));
        assert_eq!(d.principal_after, yuan("1949.49"));
        assert_eq!(d.bonus_after, yuan("0"));
        // After a year the next lot has expired: it is not spendable and the sweep forfeits it.
        top_up_cash(&mut c, &f.card.id, "3000", "k3");
        let later = clock();
        later.advance(chrono::Duration::days(366));
        let b = card_balances(&mut c, &StoreScope::AllStores, &later, &f.card.id).unwrap();
        assert_eq!(b.bonus, yuan("400"));
        assert_eq!(b.bonus_spendable, yuan("0"));
        assert_eq!(expire_bonus(&mut c, &later).unwrap(), 1);
        assert_eq!(expire_bonus(&mut c, &later).unwrap(), 0);
        let b = card_balances(&mut c, &StoreScope::AllStores, &later, &f.card.id).unwrap();
        assert_eq!(b.bonus, yuan("0"));
        assert_eq!(b.principal, yuan("4949.49"));
        assert_ledgers_ok(&mut c);
    }

    fn idempotency_replays_and_refuses_mismatch(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let s = store(&mut c, "A01");
        let f = member_with_card(&mut c, &s, None);
        let req = TopUp {
            card_id: f.card.id.clone(),
            amount: yuan("200"),
            payment_method: PaymentMethod::BankCard,
            terminal_id: None,
        };
        let all = StoreScope::AllStores;
        let first = top_up(&mut c, &staff(), &all, &clock(), "same", &req).unwrap();
        let again = top_up(&mut c, &staff(), &all, &clock(), "same", &req).unwrap();
        assert!(!first.replayed);
        assert!(again.replayed);
        assert_eq!(first.value, again.value);
        let other = TopUp {
            amount: yuan("201"),
            ..req.clone()
        };
        assert!(matches!(
            top_up(&mut c, &staff(), &all, &clock(), "same", &other),
            Err(MembershipError::IdempotencyMismatch)
        ));
        // Another caller's key is its own.
        let mut someone = staff();
        someone.id = Some("staff-2".into());
        assert!(
            !top_up(&mut c, &someone, &all, &clock(), "same", &req)
                .unwrap()
                .replayed
        );
        assert_eq!(
            get_card(&mut c, &all, &f.card.id).unwrap().principal(),
            yuan("400")
        );
        // Old keys are purged after 72 hours.
        let later = clock();
        later.advance(chrono::Duration::hours(73));
        assert_eq!(
            purge_idempotency(&mut c, dms_core::Clock::now(&later)).unwrap(),
            2
        );
        assert_ledgers_ok(&mut c);
    }

    fn bad_input_moves_nothing(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let s = store(&mut c, "A01");
        let f = member_with_card(&mut c, &s, None);
        let all = StoreScope::AllStores;
        top_up_cash(&mut c, &f.card.id, "100", "seed");
        let mk = |amount: &str| Debit {
            card_id: f.card.id.clone(),
            amount: yuan(amount),
            terminal_id: None,
            memo: String::new(),
        };
        for bad in ["0", "-1"] {
            assert!(matches!(
                debit(&mut c, &staff(), &all, &clock(), "x", &mk(bad)),
                Err(MembershipError::Invalid { .. })
            ));
        }
        assert!(matches!(
            debit(&mut c, &staff(), &all, &clock(), "x", &mk("100.01")),
            Err(MembershipError::InsufficientBalance { .. })
        ));
        let unknown = Debit {
            card_id: dms_core::new_id(),
            ..mk("1")
        };
        assert!(matches!(
            debit(&mut c, &staff(), &all, &clock(), "x", &unknown),
            Err(MembershipError::NotFound(_))
        ));
        assert!(matches!(
            debit(&mut c, &staff(), &all, &clock(), "", &mk("1")),
            Err(MembershipError::Invalid { .. })
        ));
        report_lost(&mut c, &staff(), &all, &clock(), &f.card.id).unwrap();
        assert!(matches!(
            debit(&mut c, &staff(), &all, &clock(), "x", &mk("1")),
            Err(MembershipError::CardBlocked { .. })
        ));
        unblock(&mut c, &staff(), &all, &clock(), &f.card.id).unwrap();
        let far = clock();
        far.advance(chrono::Duration::days(365 * 6));
        assert!(matches!(
            debit(&mut c, &staff(), &all, &far, "x", &mk("1")),
            Err(MembershipError::CardExpired)
        ));
        // The failed attempts stored no key: the same key now works once.
        debit(&mut c, &staff(), &all, &clock(), "x", &mk("1")).unwrap();
        assert_eq!(
            get_card(&mut c, &all, &f.card.id).unwrap().principal(),
            yuan("99")
        );
        assert_ledgers_ok(&mut c);
    }

    fn ledger_rows_are_append_only(db: &TestDb) {
        use dms_db::diesel::prelude::*;
        use dms_membership::schema::{mem_sv_entries, mem_sv_txns};
        let mut c = db.pool.get().unwrap();
        let s = store(&mut c, "A01");
        let f = member_with_card(&mut c, &s, None);
        top_up_cash(&mut c, &f.card.id, "10", "k");
        assert!(diesel::update(mem_sv_entries::table)
            .set(mem_sv_entries::amount_fen.eq(1))
            .execute(&mut *c)
            .is_err());
        assert!(diesel::delete(mem_sv_txns::table).execute(&mut *c).is_err());
        assert_ledgers_ok(&mut c);
    }

    /// Many threads, each with its own pooled connection, on one card.
    fn concurrent_operations_neither_create_nor_lose_money(db: &TestDb) {
        let (card, all) = {
            let mut c = db.pool.get().unwrap();
            let s = store(&mut c, "A01");
            let f = member_with_card(&mut c, &s, None);
            // 1000 + 100 bonus.
            top_up_cash(&mut c, &f.card.id, "1000", "fund");
            (f.card.id, StoreScope::AllStores)
        };
        const THREADS: usize = 10;
        // Phases 1 and 2: fifty requests at once, one thread each.
        const BURST: usize = 50;
        // Phase 1: 50 debits of 30.00 against 1100.00: exactly 36 succeed, nothing overdraws.
        let ok = std::sync::atomic::AtomicUsize::new(0);
        let short = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for t in 0..BURST {
                let (pool, card, all, ok, short) = (&db.pool, &card, &all, &ok, &short);
                s.spawn(move || {
                    for i in 0..1 {
                        let mut c = pool.get().unwrap();
                        let r = debit(
                            &mut c,
                            &staff(),
                            all,
                            &clock(),
                            &format!("p1-{t}-{i}"),
                            &Debit {
                                card_id: card.clone(),
                                amount: yuan("30"),
                                terminal_id: None,
                                memo: String::new(),
                            },
                        );
                        match r {
                            Ok(_) => ok.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
                            Err(MembershipError::InsufficientBalance { .. }) => {
                                short.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                            }
                            Err(e) => panic!("unexpected: {e:?}"),
                        };
                    }
                });
            }
        });
        assert_eq!(ok.into_inner(), 36);
        assert_eq!(short.into_inner(), 14);
        {
            let mut c = db.pool.get().unwrap();
            let k = get_card(&mut c, &all, &card).unwrap();
            assert_eq!(k.principal_fen + k.bonus_fen, 2000);
            assert_ledgers_ok(&mut c);
        }
        // Phase 2: 50 requests with one idempotency key: one effect, 49 replays.
        let fresh = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..BURST {
                let (pool, card, all, fresh) = (&db.pool, &card, &all, &fresh);
                s.spawn(move || {
                    for _ in 0..1 {
                        let mut c = pool.get().unwrap();
                        let r = top_up(
                            &mut c,
                            &staff(),
                            all,
                            &clock(),
                            "one-key",
                            &TopUp {
                                card_id: card.clone(),
                                amount: yuan("500"),
                                payment_method: PaymentMethod::Online,
                                terminal_id: None,
                            },
                        )
                        .unwrap();
                        if !r.replayed {
                            fresh.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        assert_eq!(fresh.into_inner(), 1);
        // Phase 3: mixed top-ups of 10.00 and debits of 5.00, 10 threads x 8 ops.
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (pool, card, all) = (&db.pool, &card, &all);
                s.spawn(move || {
                    for i in 0..8 {
                        let mut c = pool.get().unwrap();
                        if i % 2 == 0 {
                            top_up(
                                &mut c,
                                &staff(),
                                all,
                                &clock(),
                                &format!("p3t-{t}-{i}"),
                                &TopUp {
                                    card_id: card.clone(),
                                    amount: yuan("10"),
                                    payment_method: PaymentMethod::Cash,
                                    terminal_id: None,
                                },
                            )
                            .unwrap();
                        } else {
                            debit(
                                &mut c,
                                &staff(),
                                all,
                                &clock(),
                                &format!("p3d-{t}-{i}"),
                                &Debit {
                                    card_id: card.clone(),
                                    amount: yuan("5"),
                                    terminal_id: None,
                                    memo: String::new(),
                                },
                            )
                            .unwrap();
                        }
                    }
                });
            }
        });
        let mut c = db.pool.get().unwrap();
        let k = get_card(&mut c, &all, &card).unwrap();
        // 20.00 left after phase 1, +500.00, +40 x 10.00, -40 x 5.00.
        assert_eq!(
            k.principal_fen + k.bonus_fen,
            2000 + 50_000 + 40_000 - 20_000
        );
        assert_ledgers_ok(&mut c);
    }

    dms_db::engine_tests!(
        top_up_bonus_and_spending_order,
        idempotency_replays_and_refuses_mismatch,
        bad_input_moves_nothing,
        ledger_rows_are_append_only,
        concurrent_operations_neither_create_nor_lose_money
    );
}

mod checkout {
    use crate::common::*;
    use dms_core::StoreScope;
    use dms_db::testing::TestDb;
    use dms_db::DbConnection;
    use dms_membership::*;
    use rust_decimal::Decimal;

    fn line(cat: Category, qty: &str, price: &str) -> BasketLine {
        BasketLine {
            category: cat,
            item_code: None,
            description: "项目".into(),
            quantity: qty.parse().unwrap(),
            unit_price: yuan(price),
            insurer_paid: false,
        }
    }

    fn template(c: &mut DbConnection, kind: CouponKind, min: &str, cats: Vec<Category>) -> String {
        let clock = clock();
        create_coupon_template(
            c,
            &staff(),
            &StoreScope::AllStores,
            &clock,
            &NewCouponTemplate {
                store_id: None,
                name: "保养券".into(),
                kind,
                min_spend: yuan(min),
                categories: cats,
                valid_from: dms_core::Clock::now(&clock) - chrono::Duration::days(1),
                valid_until: dms_core::Clock::now(&clock) + chrono::Duration::days(30),
                per_member_limit: 2,
            },
        )
        .unwrap()
        .id
    }

    fn snapshot(c: &mut DbConnection, f: &Fixture) -> (i64, i64, i64, i64) {
        let k = get_card(c, &StoreScope::AllStores, &f.card.id).unwrap();
        let m = get_member(c, &StoreScope::AllStores, &f.member.id).unwrap();
        (
            k.principal_fen,
            k.bonus_fen,
            m.tier_points,
            m.redeemable_points,
        )
    }

    fn checkout_settles_and_void_reverses_exactly(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let s = store(&mut c, "A01");
        let f = member_with_card(&mut c, &s, Some("gold"));
        let all = StoreScope::AllStores;
        top_up_cash(&mut c, &f.card.id, "1000", "fund");
        let t = template(
            &mut c,
            CouponKind::AmountOff { amount: yuan("50") },
            "300",
            vec![Category::Labour, Category::Parts],
        );
        let coupon = issue_coupon(&mut c, &staff(), &all, &clock(), &t, &f.member.id).unwrap();
        let before = snapshot(&mut c, &f);
        let req = CheckoutRequest {
            card_id: f.card.id.clone(),
            store_id: s.clone(),
            terminal_id: Some("POS-1".into()),
            lines: vec![
                line(Category::Labour, "1.5", "333.33"),
                line(Category::Parts, "4.5", "68.80"),
                BasketLine {
                    insurer_paid: true,
                    ..line(Category::Parts, "1", "2000")
                },
            ],
            coupon_ids: vec![coupon.id.clone()],
            redeem_points: 0,
            // Gold: 500.00 - 50.00 + 309.60 - 15.48 - coupon 50.00 = 694.12 for the member.
            tenders: vec![
                Tender::StoredValue(yuan("600")),
                Tender::Cash(yuan("94.12")),
            ],
            discount_override: None,
        };
        let r = checkout(
            &mut c,
            &staff(),
            &all,
            &clock(),
            "co-1",
            &req,
            CheckoutPermissions::default(),
        )
        .unwrap();
        assert!(!r.replayed);
        let rc = r.value;
        assert_eq!(rc.basket.member_pays, yuan("694.12"));
        assert_eq!(rc.basket.insurer_pays, yuan("2000"));
        assert_eq!(rc.basket.coupon_discount, yuan("50"));
        assert_eq!(rc.basket.tier_discount, yuan("65.48"));
        // Bonus first: the 100.00 bonus, then 500.00 principal.
        assert_eq!(rc.bonus_used, yuan("100"));
        assert_eq!(rc.principal_used, yuan("500"));
        assert_eq!(rc.principal_after, yuan("500"));
        assert_eq!(rc.bonus_after, yuan("0"));
        // Per line, rounded down: 419.76 → 419 and 274.36 → 274.
        assert_eq!(rc.basket.points_earned, 693);
        assert_eq!(rc.redeemable_points_after, 693);
        assert_eq!(rc.tier_points_after, 693);
        assert!(rc.masked_card_no.contains("********"));
        assert_eq!(
            coupons_of_member(&mut c, &all, &f.member.id).unwrap()[0].status,
            "used"
        );
        // A retry replays; the coupon cannot be used twice.
        let again = checkout(
            &mut c,
            &staff(),
            &all,
            &clock(),
            "co-1",
            &req,
            CheckoutPermissions::default(),
        )
        .unwrap();
        assert!(again.replayed);
        assert_eq!(again.value, rc);
        assert!(matches!(
            checkout(
                &mut c,
                &staff(),
                &all,
                &clock(),
                "co-2",
                &req,
                CheckoutPermissions::default()
            ),
            Err(MembershipError::Conflict { .. })
        ));
        assert_ledgers_ok(&mut c);
        let void = VoidCheckout {
            checkout_id: rc.checkout_id.clone(),
            reason: "录入错误".into(),
        };
        let v = void_checkout(&mut c, &staff(), &all, &clock(), "void-1", &void).unwrap();
        assert!(v.value.voided);
        assert_eq!(snapshot(&mut c, &f), before);
        assert_eq!(
            coupons_of_member(&mut c, &all, &f.member.id).unwrap()[0].status,
            "issued"
        );
        assert!(
            void_checkout(&mut c, &staff(), &all, &clock(), "void-1", &void)
                .unwrap()
                .replayed
        );
        assert!(matches!(
            void_checkout(&mut c, &staff(), &all, &clock(), "void-2", &void),
            Err(MembershipError::Conflict { .. })
        ));
        assert!(get_receipt(&mut c, &all, &rc.checkout_id).unwrap().voided);
        assert_ledgers_ok(&mut c);
    }

    fn checkout_rules_and_bad_input(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let s = store(&mut c, "A01");
        let other_store = store(&mut c, "B01");
        let f = member_with_card(&mut c, &s, None);
        let g = member_with_card(&mut c, &s, None);
        let all = StoreScope::AllStores;
        top_up_cash(&mut c, &f.card.id, "500", "fund");
        let base = CheckoutRequest {
            card_id: f.card.id.clone(),
            store_id: s.clone(),
            terminal_id: None,
            lines: vec![line(Category::Labour, "1", "100")],
            coupon_ids: vec![],
            redeem_points: 0,
            tenders: vec![Tender::StoredValue(yuan("100"))],
            discount_override: None,
        };
        let perms = CheckoutPermissions::default();
        let mut key = 0;
        let mut go = |c: &mut DbConnection, req: &CheckoutRequest, p: CheckoutPermissions| {
            key += 1;
            checkout(c, &staff(), &all, &clock(), &format!("k{key}"), req, p)
        };
        let before = snapshot(&mut c, &f);
        // Tenders must add up.
        let short = CheckoutRequest {
            tenders: vec![Tender::StoredValue(yuan("99.99"))],
            ..base.clone()
        };
        assert!(matches!(
            go(&mut c, &short, perms),
            Err(MembershipError::Invalid { .. })
        ));
        // Override without the permission is forbidden, with it needs a reason and is audited.
        let over = CheckoutRequest {
            discount_override: Some(DiscountOverride {
                percent: Decimal::from(20),
                reason: "店长批准".into(),
            }),
            tenders: vec![Tender::StoredValue(yuan("80"))],
            ..base.clone()
        };
        assert!(matches!(
            go(&mut c, &over, perms),
            Err(MembershipError::Forbidden(_))
        ));
        let allowed = CheckoutPermissions {
            may_override_discount: true,
        };
        let r = go(&mut c, &over, allowed).unwrap().value;
        assert_eq!(r.basket.total, yuan("80"));
        let (audit, _) = dms_identity::list_audit(
            &mut c,
            &all,
            &dms_identity::AuditFilter {
                entity_id: Some(r.checkout_id.clone()),
                ..Default::default()
            },
            &dms_core::PageRequest::first(10),
        )
        .unwrap();
        assert_eq!(audit[0].action, "membership.checkout.override");
        assert!(audit[0].detail.contains("店长批准"));
        // Another member's coupon reads as unknown; a coupon for another category is refused.
        let t = template(
            &mut c,
            CouponKind::AmountOff { amount: yuan("10") },
            "0",
            vec![Category::Detailing],
        );
        let theirs = issue_coupon(&mut c, &staff(), &all, &clock(), &t, &g.member.id).unwrap();
        let mine = issue_coupon(&mut c, &staff(), &all, &clock(), &t, &f.member.id).unwrap();
        let req = CheckoutRequest {
            coupon_ids: vec![theirs.id.clone()],
            ..base.clone()
        };
        assert!(matches!(
            go(&mut c, &req, perms),
            Err(MembershipError::NotFound(_))
        ));
        let req = CheckoutRequest {
            coupon_ids: vec![mine.id.clone()],
            ..base.clone()
        };
        assert!(matches!(
            go(&mut c, &req, perms),
            Err(MembershipError::Invalid { .. })
        ));
        // Percent off with a cap, on detailing only.
        let pt = template(
            &mut c,
            CouponKind::PercentOff {
                percent_bp: 1500,
                cap: Some(yuan("20")),
            },
            "0",
            vec![Category::Detailing],
        );
        let pc = issue_coupon(&mut c, &staff(), &all, &clock(), &pt, &f.member.id).unwrap();
        let req = CheckoutRequest {
            lines: vec![
                line(Category::Labour, "1", "100"),
                line(Category::Detailing, "1", "200"),
            ],
            coupon_ids: vec![pc.id.clone()],
            tenders: vec![Tender::Cash(yuan("280"))],
            ..base.clone()
        };
        let r = go(&mut c, &req, perms).unwrap().value;
        assert_eq!(r.basket.coupon_discount, yuan("20"));
        assert_eq!(r.basket.lines[1].coupon_discount, yuan("20"));
        // A free-item coupon takes one unit of the named item off.
        let ft = template(
            &mut c,
            CouponKind::FreeItem {
                item_code: "WASH".into(),
            },
            "0",
            vec![],
        );
        let fc = issue_coupon(&mut c, &staff(), &all, &clock(), &ft, &f.member.id).unwrap();
        let req = CheckoutRequest {
            lines: vec![BasketLine {
                item_code: Some("WASH".into()),
                ..line(Category::Detailing, "2", "30")
            }],
            coupon_ids: vec![fc.id.clone()],
            tenders: vec![Tender::Cash(yuan("30"))],
            ..base.clone()
        };
        assert_eq!(
            go(&mut c, &req, perms).unwrap().value.basket.total,
            yuan("30")
        );
        // Points: not more than the member holds.
        let req = CheckoutRequest {
            redeem_points: 100_000,
            tenders: vec![],
            lines: vec![line(Category::Labour, "1", "1000")],
            ..base.clone()
        };
        assert!(matches!(
            go(&mut c, &req, perms),
            Err(MembershipError::InsufficientBalance { .. })
        ));
        // A store outside the caller's scope is unknown; so is an unknown card.
        let only_other = StoreScope::Stores(vec![other_store.clone()]);
        assert!(matches!(
            checkout(&mut c, &staff(), &only_other, &clock(), "z", &base, perms),
            Err(MembershipError::NotFound(_))
        ));
        let req = CheckoutRequest {
            card_id: dms_core::new_id(),
            ..base.clone()
        };
        assert!(matches!(
            go(&mut c, &req, perms),
            Err(MembershipError::NotFound(_))
        ));
        // Overdraft is refused.
        let req = CheckoutRequest {
            lines: vec![line(Category::Labour, "1", "1000")],
            tenders: vec![Tender::StoredValue(yuan("1000"))],
            ..base.clone()
        };
        assert!(matches!(
            go(&mut c, &req, perms),
            Err(MembershipError::InsufficientBalance { .. })
        ));
        // Only the successful override checkout (80.00) moved stored value.
        let after = snapshot(&mut c, &f);
        assert_eq!(after.0 + after.1, before.0 + before.1 - 8000);
        assert_ledgers_ok(&mut c);
    }

    /// 50 checkouts presenting one single-use coupon at once: exactly one succeeds.
    fn one_coupon_fifty_checkouts(db: &TestDb) {
        let (f, coupon) = {
            let mut c = db.pool.get().unwrap();
            let s = store(&mut c, "A01");
            let f = member_with_card(&mut c, &s, None);
            top_up_cash(&mut c, &f.card.id, "5000", "fund");
            let t = template(
                &mut c,
                CouponKind::AmountOff { amount: yuan("10") },
                "0",
                vec![],
            );
            let cp = issue_coupon(
                &mut c,
                &staff(),
                &StoreScope::AllStores,
                &clock(),
                &t,
                &f.member.id,
            )
            .unwrap();
            (f, cp)
        };
        let ok = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|sc| {
            for t in 0..50 {
                let (pool, f, coupon, ok) = (&db.pool, &f, &coupon, &ok);
                sc.spawn(move || {
                    for i in 0..1 {
                        let mut c = pool.get().unwrap();
                        let req = CheckoutRequest {
                            card_id: f.card.id.clone(),
                            store_id: f.store.clone(),
                            terminal_id: Some(format!("T{t}")),
                            lines: vec![line(Category::Labour, "1", "100")],
                            coupon_ids: vec![coupon.id.clone()],
                            redeem_points: 0,
                            tenders: vec![Tender::StoredValue(yuan("90"))],
                            discount_override: None,
                        };
                        match checkout(
                            &mut c,
                            &staff(),
                            &StoreScope::AllStores,
                            &clock(),
                            &format!("c-{t}-{i}"),
                            &req,
                            CheckoutPermissions::default(),
                        ) {
                            Ok(_) => {
                                ok.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            }
                            Err(MembershipError::Conflict { .. }) => {}
                            Err(e) => panic!("unexpected {e:?}"),
                        }
                    }
                });
            }
        });
        assert_eq!(ok.into_inner(), 1);
        let mut c = db.pool.get().unwrap();
        let k = get_card(&mut c, &StoreScope::AllStores, &f.card.id).unwrap();
        assert_eq!(k.principal_fen + k.bonus_fen, 500_000 + 80_000 - 9_000);
        assert_ledgers_ok(&mut c);
    }

    /// Checkouts settled together answer as if each had been settled alone, in order: a card
    /// paying twice pays the second time from what the first left, a key given twice is one
    /// effect, a coupon given twice is used once, and a refused checkout moves nothing.
    fn a_batch_settles_each_checkout_as_if_alone(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let s = store(&mut c, "A01");
        let f = member_with_card(&mut c, &s, None);
        let g = member_with_card(&mut c, &s, None);
        let all = StoreScope::AllStores;
        // 1000.00 with the demo rule's 100.00 bonus; g holds 50.00.
        top_up_cash(&mut c, &f.card.id, "1000", "fund-f");
        top_up_cash(&mut c, &g.card.id, "50", "fund-g");
        let t = template(
            &mut c,
            CouponKind::AmountOff { amount: yuan("10") },
            "0",
            vec![Category::Parts],
        );
        let coupon = issue_coupon(&mut c, &staff(), &all, &clock(), &t, &f.member.id).unwrap();
        let f_before = snapshot(&mut c, &f);
        let g_before = snapshot(&mut c, &g);
        let pay = |card: &str, amount: &str| CheckoutRequest {
            card_id: card.into(),
            store_id: s.clone(),
            terminal_id: None,
            lines: vec![line(Category::Parts, "1", amount)],
            coupon_ids: vec![],
            redeem_points: 0,
            tenders: vec![Tender::StoredValue(yuan(amount))],
            discount_override: None,
        };
        let with_coupon = CheckoutRequest {
            coupon_ids: vec![coupon.id.clone()],
            tenders: vec![Tender::StoredValue(yuan("90"))],
            ..pay(&f.card.id, "100")
        };
        let unknown = pay(&dms_core::new_id(), "1");
        let reqs = [
            ("b1", pay(&f.card.id, "300")),
            ("b2", pay(&f.card.id, "300")),
            ("b1", pay(&f.card.id, "300")),
            ("b3", pay(&g.card.id, "60")),
            ("b4", with_coupon.clone()),
            ("b5", with_coupon.clone()),
            ("b6", unknown),
            ("b1", pay(&f.card.id, "1")),
        ];
        let actor = staff();
        let jobs: Vec<CheckoutJob<'_>> = reqs
            .iter()
            .map(|(key, req)| CheckoutJob {
                actor: &actor,
                scope: &all,
                idempotency_key: key,
                request: req,
                perms: CheckoutPermissions::default(),
            })
            .collect();
        let r = checkout_batch(&mut c, &clock(), &jobs);
        assert_eq!(r.len(), reqs.len());
        let first = r[0].as_ref().unwrap();
        let second = r[1].as_ref().unwrap();
        assert!(!first.replayed && !second.replayed);
        // Bonus first: 100.00 bonus and 200.00 principal, then 300.00 principal.
        assert_eq!(first.value.bonus_used, yuan("100"));
        assert_eq!(first.value.principal_after, yuan("800"));
        assert_eq!(second.value.principal_after, yuan("500"));
        assert_eq!(second.value.bonus_after, yuan("0"));
        assert_eq!(
            second.value.redeemable_points_after,
            first.value.redeemable_points_after + second.value.basket.points_earned
        );
        // The same key again: the first answer, replayed.
        let replay = r[2].as_ref().unwrap();
        assert!(replay.replayed);
        assert_eq!(replay.value, first.value);
        assert!(matches!(
            r[3],
            Err(MembershipError::InsufficientBalance { .. })
        ));
        let used = r[4].as_ref().unwrap();
        assert_eq!(used.value.basket.coupon_discount, yuan("10"));
        assert_eq!(used.value.principal_after, yuan("410"));
        assert!(matches!(r[5], Err(MembershipError::Conflict { .. })));
        assert!(matches!(r[6], Err(MembershipError::NotFound("card"))));
        assert!(matches!(r[7], Err(MembershipError::IdempotencyMismatch)));
        // What moved is exactly the three checkouts that went through.
        let f_after = snapshot(&mut c, &f);
        assert_eq!(f_after.0 + f_after.1, f_before.0 + f_before.1 - 69_000);
        assert_eq!(snapshot(&mut c, &g), g_before);
        assert_eq!(
            coupons_of_member(&mut c, &all, &f.member.id).unwrap()[0].status,
            "used"
        );
        // Stored as if alone: a retry on its own replays the batch's answer.
        let again = checkout(
            &mut c,
            &staff(),
            &all,
            &clock(),
            "b2",
            &reqs[1].1,
            CheckoutPermissions::default(),
        )
        .unwrap();
        assert!(again.replayed);
        assert_eq!(again.value, second.value);
        assert_ledgers_ok(&mut c);
    }

    dms_db::engine_tests!(
        checkout_settles_and_void_reverses_exactly,
        checkout_rules_and_bad_input,
        one_coupon_fifty_checkouts,
        a_batch_settles_each_checkout_as_if_alone
    );
}

mod lifecycle {
    use crate::common::*;
    use dms_core::StoreScope;
    use dms_db::testing::TestDb;
    use dms_membership::*;

    fn replace_moves_everything_and_kills_the_old_card(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let s = store(&mut c, "A01");
        let f = member_with_card(&mut c, &s, None);
        let all = StoreScope::AllStores;
        top_up_cash(&mut c, &f.card.id, "1000", "t1");
        top_up_cash(&mut c, &f.card.id, "3000", "t2");
        report_lost(&mut c, &staff(), &all, &clock(), &f.card.id).unwrap();
        let req = ReplaceCard {
            card_id: f.card.id.clone(),
            new_card_no: None,
            new_chip_uid: Some("0A0B0C0D".into()),
        };
        let r = replace_card(&mut c, &staff(), &all, &clock(), "rep", &req).unwrap();
        assert_eq!(r.value.principal_moved, yuan("4000"));
        assert_eq!(r.value.bonus_moved, yuan("500"));
        let again = replace_card(&mut c, &staff(), &all, &clock(), "rep", &req).unwrap();
        assert!(again.replayed);
        assert_eq!(again.value.new_card.id, r.value.new_card.id);
        let old = get_card(&mut c, &all, &f.card.id).unwrap();
        assert_eq!(old.status, "replaced");
        assert_eq!(old.principal_fen + old.bonus_fen, 0);
        assert_eq!(
            old.replaced_by.as_deref(),
            Some(r.value.new_card.id.as_str())
        );
        let new = get_card(&mut c, &all, &r.value.new_card.id).unwrap();
        assert_eq!((new.principal(), new.bonus()), (yuan("4000"), yuan("500")));
        assert_eq!(new.expires_at, old.expires_at);
        // The old card cannot pay or be unblocked; the new one pays with the moved bonus.
        let d = |card: &str| Debit {
            card_id: card.into(),
            amount: yuan("150"),
            terminal_id: None,
            memo: String::new(),
        };
        assert!(matches!(
            debit(&mut c, &staff(), &all, &clock(), "d0", &d(&old.id)),
            Err(MembershipError::CardBlocked { .. })
        ));
        assert!(unblock(&mut c, &staff(), &all, &clock(), &old.id).is_err());
        let paid = debit(&mut c, &staff(), &all, &clock(), "d1", &d(&new.id))
            .unwrap()
            .value;
        assert_eq!(paid.bonus_used, yuan("150"));
        assert_ledgers_ok(&mut c);
    }

    fn return_refunds_principal_only(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let s = store(&mut c, "A01");
        let f = member_with_card(&mut c, &s, None);
        let all = StoreScope::AllStores;
        top_up_cash(&mut c, &f.card.id, "1000", "t1");
        debit(
            &mut c,
            &staff(),
            &all,
            &clock(),
            "d1",
            &Debit {
                card_id: f.card.id.clone(),
                amount: yuan("30"),
                terminal_id: None,
                memo: String::new(),
            },
        )
        .unwrap();
        let req = ReturnCard {
            card_id: f.card.id.clone(),
            refund_method: PaymentMethod::Transfer,
            reason: "客户搬家".into(),
        };
        let r = return_card(&mut c, &staff(), &all, &clock(), "ret", &req)
            .unwrap()
            .value;
        assert_eq!(r.refunded, yuan("1000"));
        assert_eq!(r.bonus_forfeited, yuan("70"));
        let k = get_card(&mut c, &all, &f.card.id).unwrap();
        assert_eq!(
            (k.status.as_str(), k.principal_fen, k.bonus_fen),
            ("closed", 0, 0)
        );
        assert!(matches!(
            return_card(&mut c, &staff(), &all, &clock(), "ret2", &req),
            Err(MembershipError::Conflict { .. })
        ));
        assert!(
            return_card(&mut c, &staff(), &all, &clock(), "ret", &req)
                .unwrap()
                .replayed
        );
        // Freeze and expiry changes on a live card.
        let g = member_with_card(&mut c, &s, None);
        assert!(freeze(&mut c, &staff(), &all, &clock(), &g.card.id, "").is_err());
        assert_eq!(
            freeze(&mut c, &staff(), &all, &clock(), &g.card.id, "纠纷")
                .unwrap()
                .status,
            "frozen"
        );
        assert_eq!(
            unblock(&mut c, &staff(), &all, &clock(), &g.card.id)
                .unwrap()
                .status,
            "active"
        );
        let later = dms_core::Clock::now(&clock()) + chrono::Duration::days(3650);
        let k = change_expiry(&mut c, &staff(), &all, &clock(), &g.card.id, later).unwrap();
        assert_eq!(k.expires_at, dms_db::to_db_time(later));
        assert!(change_expiry(
            &mut c,
            &staff(),
            &all,
            &clock(),
            &g.card.id,
            dms_core::Clock::now(&clock()) - chrono::Duration::days(1)
        )
        .is_err());
        assert_ledgers_ok(&mut c);
    }

    fn policy() -> PinPolicy {
        PinPolicy::new(b"test-pepper-0123456789".to_vec()).unwrap()
    }

    fn pin_lockout_survives_concurrency_and_staff_reset(db: &TestDb) {
        let card = {
            let mut c = db.pool.get().unwrap();
            let s = store(&mut c, "A01");
            member_with_card(&mut c, &s, None).card.id
        };
        let all = StoreScope::AllStores;
        let good = Pin::new("246810").unwrap();
        let bad = Pin::new("000000").unwrap();
        let clock = clock();
        {
            let mut c = db.pool.get().unwrap();
            assert!(matches!(
                verify_pin(&mut c, &all, &clock, &policy(), &card, &good),
                Err(MembershipError::PinNotSet)
            ));
            set_pin(&mut c, &staff(), &all, &clock, &policy(), &card, &good).unwrap();
            assert!(set_pin(&mut c, &staff(), &all, &clock, &policy(), &card, &good).is_err());
            verify_pin(&mut c, &all, &clock, &policy(), &card, &good).unwrap();
        }
        // 8 wrong guesses at once: exactly 5 are counted, then the PIN is locked for 30 minutes.
        std::thread::scope(|s| {
            for _ in 0..8 {
                let (pool, card, bad, clock, all) = (&db.pool, &card, &bad, &clock, &all);
                s.spawn(move || {
                    let mut c = pool.get().unwrap();
                    let e = verify_pin(&mut c, all, clock, &policy(), card, bad).unwrap_err();
                    assert!(matches!(
                        e,
                        MembershipError::WrongPin { .. } | MembershipError::PinLocked { .. }
                    ));
                    // The error text never holds the PIN.
                    assert!(!format!("{e} {e:?}").contains("000000"));
                });
            }
        });
        let mut c = db.pool.get().unwrap();
        let k = get_card(&mut c, &all, &card).unwrap();
        assert_eq!(k.pin_failures, 5);
        assert!(k.pin_locked_until.is_some());
        // Even the right PIN is refused while locked.
        assert!(matches!(
            verify_pin(&mut c, &all, &clock, &policy(), &card, &good),
            Err(MembershipError::PinLocked { until: Some(_) })
        ));
        clock.advance(chrono::Duration::minutes(31));
        for i in 0..5 {
            let e = verify_pin(&mut c, &all, &clock, &policy(), &card, &bad).unwrap_err();
            if i < 4 {
                assert!(matches!(e, MembershipError::WrongPin { .. }), "{e:?}");
            } else {
                assert!(
                    matches!(e, MembershipError::PinLocked { until: None }),
                    "{e:?}"
                );
            }
        }
        clock.advance(chrono::Duration::days(1));
        assert!(matches!(
            verify_pin(&mut c, &all, &clock, &policy(), &card, &good),
            Err(MembershipError::PinLocked { until: None })
        ));
        assert!(reset_pin(&mut c, &staff(), &all, &clock, &policy(), &card, None, " ").is_err());
        let fresh = Pin::new("135790").unwrap();
        reset_pin(
            &mut c,
            &staff(),
            &all,
            &clock,
            &policy(),
            &card,
            Some(&fresh),
            "本人持证件",
        )
        .unwrap();
        verify_pin(&mut c, &all, &clock, &policy(), &card, &fresh).unwrap();
        // Change needs the old PIN; a wrong old PIN counts.
        let newer = Pin::new("975310").unwrap();
        assert!(matches!(
            change_pin(
                &mut c,
                &staff(),
                &all,
                &clock,
                &policy(),
                &card,
                &bad,
                &newer
            ),
            Err(MembershipError::WrongPin { attempts_left: 4 })
        ));
        change_pin(
            &mut c,
            &staff(),
            &all,
            &clock,
            &policy(),
            &card,
            &fresh,
            &newer,
        )
        .unwrap();
        verify_pin(&mut c, &all, &clock, &policy(), &card, &newer).unwrap();
        assert_eq!(get_card(&mut c, &all, &card).unwrap().pin_failures, 0);
        // A different pepper does not accept the PIN.
        let other = PinPolicy::new(b"another-pepper-987654".to_vec()).unwrap();
        assert!(verify_pin(&mut c, &all, &clock, &other, &card, &newer).is_err());
    }

    dms_db::engine_tests!(
        replace_moves_everything_and_kills_the_old_card,
        return_refunds_principal_only,
        pin_lockout_survives_concurrency_and_staff_reset
    );
}

mod points_gifts_tiers {
    use crate::common::*;
    use chrono::NaiveDate;
    use dms_core::{Clock, StoreScope};
    use dms_db::testing::TestDb;
    use dms_membership::*;

    fn adjust(
        c: &mut dms_db::DbConnection,
        m: &str,
        track: PointsTrack,
        delta: i64,
        key: &str,
    ) -> Result<Replayable<PointsBalances>> {
        adjust_points(
            c,
            &staff(),
            &StoreScope::AllStores,
            &clock(),
            key,
            &AdjustPoints {
                member_id: m.into(),
                track,
                delta,
                reason: "补录积分".into(),
            },
        )
    }

    fn points_adjust_expire_renew_and_gifts(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let s = store(&mut c, "A01");
        let all = StoreScope::AllStores;
        // Redeemable points expire after 30 days in this store.
        let cfg = ProgrammeConfig {
            redeemable_points_valid_days: Some(30),
            ..Default::default()
        };
        set_config(&mut c, &staff(), &all, &clock(), Some(&s), &cfg).unwrap();
        let f = member_with_card(&mut c, &s, None);
        let m = &f.member.id;
        let b = adjust(&mut c, m, PointsTrack::Redeemable, 3000, "a1")
            .unwrap()
            .value;
        assert_eq!(b.redeemable_points, 3000);
        assert_eq!(b.tier_points, 0);
        assert!(matches!(
            adjust(&mut c, m, PointsTrack::Redeemable, -3001, "a2"),
            Err(MembershipError::InsufficientBalance { .. })
        ));
        assert!(adjust_points(
            &mut c,
            &staff(),
            &all,
            &clock(),
            "a3",
            &AdjustPoints {
                member_id: m.clone(),
                track: PointsTrack::Tier,
                delta: 5,
                reason: " ".into()
            }
        )
        .is_err());
        // Earn 100 points at checkout (they expire in 30 days); adjusted points never expire.
        top_up_cash(&mut c, &f.card.id, "100", "t");
        checkout(
            &mut c,
            &staff(),
            &all,
            &clock(),
            "co",
            &CheckoutRequest {
                card_id: f.card.id.clone(),
                store_id: s.clone(),
                terminal_id: None,
                lines: vec![BasketLine {
                    category: Category::Labour,
                    item_code: None,
                    description: "工时".into(),
                    quantity: 1.into(),
                    unit_price: yuan("100"),
                    insurer_paid: false,
                }],
                coupon_ids: vec![],
                redeem_points: 0,
                tenders: vec![Tender::StoredValue(yuan("100"))],
                discount_override: None,
            },
            CheckoutPermissions::default(),
        )
        .unwrap();
        assert_eq!(get_member(&mut c, &all, m).unwrap().redeemable_points, 3100);
        // A gift of 1000 points; stock 1.
        let g = create_gift(
            &mut c,
            &staff(),
            &all,
            &clock(),
            &NewGift {
                store_id: None,
                name: "车载吸尘器".into(),
                points_cost: 1000,
                stock: 1,
            },
        )
        .unwrap();
        let redeem = |c: &mut dms_db::DbConnection, key: &str| {
            redeem_gift(
                c,
                &staff(),
                &all,
                &clock(),
                key,
                &RedeemGift {
                    member_id: m.clone(),
                    gift_id: g.id.clone(),
                    quantity: 1,
                },
            )
        };
        let r = redeem(&mut c, "g1").unwrap().value;
        assert_eq!(r.redeemable_points_after, 2100);
        assert!(matches!(
            redeem(&mut c, "g2"),
            Err(MembershipError::Conflict { .. })
        ));
        restock_gift(&mut c, &staff(), &all, &clock(), &g.id, 5).unwrap();
        assert!(restock_gift(&mut c, &staff(), &all, &clock(), &g.id, -6).is_err());
        // Renewal with 500 points extends the term by a year from its end.
        let before = get_member(&mut c, &all, m).unwrap();
        let renewed = renew_membership(
            &mut c,
            &staff(),
            &all,
            &clock(),
            "r1",
            &RenewMembership {
                member_id: m.clone(),
                renewal: Renewal::Points,
            },
        )
        .unwrap()
        .value;
        assert_eq!(renewed.redeemable_points, 1600);
        assert_eq!(
            renewed.term_expires_at,
            before
                .term_expires_at
                .checked_add_months(chrono::Months::new(12))
                .unwrap()
        );
        assert!(matches!(
            renew_membership(
                &mut c,
                &staff(),
                &all,
                &clock(),
                "r2",
                &RenewMembership {
                    member_id: m.clone(),
                    renewal: Renewal::Insurance {
                        amount: yuan("2999.99")
                    },
                },
            ),
            Err(MembershipError::Invalid { .. })
        ));
        // After 31 days the 100 earned points have expired — but 1000 + 500 spent since then
        // consumed them first (oldest first), so nothing is left to expire.
        let later = clock();
        later.advance(chrono::Duration::days(31));
        assert_eq!(expire_points(&mut c, &later).unwrap(), 0);
        // A fresh member who keeps their earned points loses them.
        let g2 = member_with_card(&mut c, &s, None);
        top_up_cash(&mut c, &g2.card.id, "50", "t2");
        checkout(
            &mut c,
            &staff(),
            &all,
            &clock(),
            "co2",
            &CheckoutRequest {
                card_id: g2.card.id.clone(),
                store_id: s.clone(),
                terminal_id: None,
                lines: vec![BasketLine {
                    category: Category::Parts,
                    item_code: None,
                    description: "机油".into(),
                    quantity: 1.into(),
                    unit_price: yuan("50"),
                    insurer_paid: false,
                }],
                coupon_ids: vec![],
                redeem_points: 0,
                tenders: vec![Tender::StoredValue(yuan("50"))],
                discount_override: None,
            },
            CheckoutPermissions::default(),
        )
        .unwrap();
        assert_eq!(expire_points(&mut c, &later).unwrap(), 50);
        assert_eq!(expire_points(&mut c, &later).unwrap(), 0);
        let after = get_member(&mut c, &all, &g2.member.id).unwrap();
        assert_eq!((after.redeemable_points, after.tier_points), (0, 50));
        assert_ledgers_ok(&mut c);
    }

    fn tier_rules_from_config_and_idempotent_job(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let s = store(&mut c, "A01");
        let all = StoreScope::AllStores;
        let today = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        // By cumulative tier points: 20000 reaches gold directly.
        let a = member_with_card(&mut c, &s, None);
        adjust(&mut c, &a.member.id, PointsTrack::Tier, 20_000, "tp").unwrap();
        // By trading 2000 redeemable points: one tier up.
        let b = member_with_card(&mut c, &s, None);
        adjust(&mut c, &b.member.id, PointsTrack::Redeemable, 2_500, "rp").unwrap();
        let up = upgrade_with_points(
            &mut c,
            &staff(),
            &all,
            &clock(),
            "up",
            &UpgradeWithPoints {
                member_id: b.member.id.clone(),
            },
        )
        .unwrap()
        .value;
        assert_eq!(
            (up.tier_code.as_str(), up.redeemable_points),
            ("silver", 500)
        );
        assert!(matches!(
            upgrade_with_points(
                &mut c,
                &staff(),
                &all,
                &clock(),
                "up2",
                &UpgradeWithPoints {
                    member_id: b.member.id.clone()
                }
            ),
            Err(MembershipError::InsufficientBalance { .. })
        ));
        // By one repair of 5000: one tier up.
        let r = member_with_card(&mut c, &s, None);
        top_up_cash(&mut c, &r.card.id, "5000", "t");
        checkout(
            &mut c,
            &staff(),
            &all,
            &clock(),
            "big",
            &CheckoutRequest {
                card_id: r.card.id.clone(),
                store_id: s.clone(),
                terminal_id: None,
                lines: vec![BasketLine {
                    category: Category::Parts,
                    item_code: None,
                    description: "变速箱".into(),
                    quantity: 1.into(),
                    unit_price: yuan("5000"),
                    insurer_paid: false,
                }],
                coupon_ids: vec![],
                redeem_points: 0,
                tenders: vec![Tender::StoredValue(yuan("5000"))],
                discount_override: None,
            },
            CheckoutPermissions::default(),
        )
        .unwrap();
        // By insurance of 7000 in two consecutive years: one tier up; one year is not enough.
        let i = member_with_card(&mut c, &s, None);
        let one = member_with_card(&mut c, &s, None);
        let y1 = clock().now() - chrono::Duration::days(365);
        record_insurance(&mut c, &staff(), &all, &i.member.id, yuan("7000"), y1).unwrap();
        record_insurance(
            &mut c,
            &staff(),
            &all,
            &i.member.id,
            yuan("7200"),
            clock().now(),
        )
        .unwrap();
        record_insurance(
            &mut c,
            &staff(),
            &all,
            &one.member.id,
            yuan("9000"),
            clock().now(),
        )
        .unwrap();
        // A member whose term ended is expired and back to standard.
        let e = member_with_card(&mut c, &s, Some("gold"));
        let run = evaluate_tiers(&mut c, today).unwrap();
        assert_eq!(run.upgraded, 3);
        assert_eq!(run.expired, 0);
        let tier =
            |c: &mut dms_db::DbConnection, id: &str| get_member(c, &all, id).unwrap().tier_code;
        assert_eq!(tier(&mut c, &a.member.id), "gold");
        // 5000 of parts earn 5000 tier points (silver) and the repair rule lifts one more.
        assert_eq!(tier(&mut c, &r.member.id), "gold");
        assert_eq!(tier(&mut c, &i.member.id), "silver");
        assert_eq!(tier(&mut c, &one.member.id), "standard");
        // Idempotent: the same day again changes nothing.
        let again = evaluate_tiers(&mut c, today).unwrap();
        assert_eq!((again.upgraded, again.expired), (0, 0));
        let next_year = NaiveDate::from_ymd_opt(2027, 11, 27).unwrap();
        let run = evaluate_tiers(&mut c, next_year).unwrap();
        assert_eq!(run.expired, run.examined);
        let em = get_member(&mut c, &all, &e.member.id).unwrap();
        assert_eq!(
            (em.status.as_str(), em.tier_code.as_str()),
            ("expired", "standard")
        );
        assert_eq!(evaluate_tiers(&mut c, next_year).unwrap().examined, 0);
        // Thresholds come from the configuration: 1000 for a single repair in this store.
        let mut cfg = ProgrammeConfig::default();
        cfg.upgrade.single_repair_amount = yuan("1000");
        set_config(&mut c, &staff(), &all, &clock(), Some(&s), &cfg).unwrap();
        assert_eq!(
            effective_config(&mut c, &s)
                .unwrap()
                .upgrade
                .single_repair_amount,
            yuan("1000")
        );
        assert_ledgers_ok(&mut c);
    }

    dms_db::engine_tests!(
        points_adjust_expire_renew_and_gifts,
        tier_rules_from_config_and_idempotent_job
    );
}

mod soak {
    use crate::common::*;
    use dms_core::{Money, StoreScope};
    use dms_db::testing::TestDb;
    use dms_membership::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::sync::Mutex;

    pub const WORKERS: usize = 8;
    pub const OPS_PER_WORKER: usize = 40;
    const MEMBERS: usize = 6;

    /// What the workers were told succeeded.
    #[derive(Default)]
    struct Acked {
        /// Money in: paid + bonus granted.
        credited: i64,
        /// Money out: spent, refunded, forfeited (voids subtract from this).
        debited: i64,
        sv_txns: Vec<String>,
        checkouts: Vec<(String, bool)>,
        ops: usize,
    }

    fn pick_card(cards: &Mutex<Vec<String>>, rng: &mut StdRng) -> (usize, String) {
        let cards = cards.lock().unwrap();
        let i = rng.gen_range(0..cards.len());
        (i, cards[i].clone())
    }

    /// A seeded randomized mix of top-ups, debits, checkouts, voids, replacements and returns by
    /// many workers on a handful of cards. At the end every invariant holds, every acknowledged
    /// operation is in the database, and the money on the cards equals what the acknowledged
    /// operations put in minus what they took out.
    fn randomized_soak_keeps_the_books(db: &TestDb) {
        let all = StoreScope::AllStores;
        let (store_id, cards) = {
            let mut c = db.pool.get().unwrap();
            let s = store(&mut c, "A01");
            let cards: Vec<String> = (0..MEMBERS)
                .map(|_| member_with_card(&mut c, &s, None).card.id)
                .collect();
            (s, cards)
        };
        let cards = Mutex::new(cards);
        let acked = Mutex::new(Acked::default());
        std::thread::scope(|sc| {
            for w in 0..WORKERS {
                let (pool, cards, acked, all, store_id) =
                    (&db.pool, &cards, &acked, &all, &store_id);
                sc.spawn(move || {
                    let mut rng = StdRng::seed_from_u64(0x5eed_0000 + w as u64);
                    let mut my_checkouts: Vec<(String, i64)> = Vec::new();
                    for op in 0..OPS_PER_WORKER {
                        let mut c = pool.get().unwrap();
                        let key = format!("w{w}-op{op}");
                        let roll = rng.gen_range(0..100);
                        let (slot, card) = pick_card(cards, &mut rng);
                        let retry = rng.gen_bool(0.1);
                        if roll < 30 {
                            let req = TopUp {
                                card_id: card.clone(),
                                amount: Money::from_fen(rng.gen_range(1..=120_000)),
                                payment_method: PaymentMethod::Cash,
                                terminal_id: None,
                            };
                            match top_up(&mut c, &staff(), all, &clock(), &key, &req) {
                                Ok(r) => {
                                    if retry {
                                        let again =
                                            top_up(&mut c, &staff(), all, &clock(), &key, &req)
                                                .unwrap();
                                        assert!(again.replayed);
                                        assert_eq!(again.value, r.value);
                                    }
                                    let mut a = acked.lock().unwrap();
                                    a.credited += r.value.paid.fen() + r.value.bonus.fen();
                                    a.sv_txns.push(r.value.txn_id);
                                    a.ops += 1;
                                }
                                Err(MembershipError::CardBlocked { .. }) => {}
                                Err(e) => panic!("top-up: {e:?}"),
                            }
                        } else if roll < 50 {
                            let req = Debit {
                                card_id: card.clone(),
                                amount: Money::from_fen(rng.gen_range(1..=40_000)),
                                terminal_id: None,
                                memo: String::new(),
                            };
                            match debit(&mut c, &staff(), all, &clock(), &key, &req) {
                                Ok(r) => {
                                    let mut a = acked.lock().unwrap();
                                    a.debited +=
                                        r.value.principal_used.fen() + r.value.bonus_used.fen();
                                    a.sv_txns.push(r.value.txn_id);
                                    a.ops += 1;
                                }
                                Err(MembershipError::CardBlocked { .. })
                                | Err(MembershipError::InsufficientBalance { .. }) => {}
                                Err(e) => panic!("debit: {e:?}"),
                            }
                        } else if roll < 80 {
                            let price = rng.gen_range(100..=50_000);
                            let sv = rng.gen_range(0..=price);
                            let mut tenders = vec![];
                            if sv > 0 {
                                tenders.push(Tender::StoredValue(Money::from_fen(sv)));
                            }
                            if price > sv {
                                tenders.push(Tender::BankCard(Money::from_fen(price - sv)));
                            }
                            let req = CheckoutRequest {
                                card_id: card.clone(),
                                store_id: store_id.clone(),
                                terminal_id: Some(format!("T{w}")),
                                lines: vec![BasketLine {
                                    category: Category::Other,
                                    item_code: None,
                                    description: "soak".into(),
                                    quantity: 1.into(),
                                    unit_price: Money::from_fen(price),
                                    insurer_paid: false,
                                }],
                                coupon_ids: vec![],
                                redeem_points: 0,
                                tenders,
                                discount_override: None,
                            };
                            match checkout(
                                &mut c,
                                &staff(),
                                all,
                                &clock(),
                                &key,
                                &req,
                                CheckoutPermissions::default(),
                            ) {
                                Ok(r) => {
                                    let used =
                                        r.value.principal_used.fen() + r.value.bonus_used.fen();
                                    let mut a = acked.lock().unwrap();
                                    a.debited += used;
                                    a.checkouts.push((r.value.checkout_id.clone(), false));
                                    a.ops += 1;
                                    my_checkouts.push((r.value.checkout_id, used));
                                }
                                Err(MembershipError::CardBlocked { .. })
                                | Err(MembershipError::InsufficientBalance { .. }) => {}
                                Err(e) => panic!("checkout: {e:?}"),
                            }
                        } else if roll < 90 {
                            if my_checkouts.is_empty() {
                                continue;
                            }
                            let (id, used) =
                                my_checkouts.swap_remove(rng.gen_range(0..my_checkouts.len()));
                            let req = VoidCheckout {
                                checkout_id: id.clone(),
                                reason: "soak".into(),
                            };
                            match void_checkout(&mut c, &staff(), all, &clock(), &key, &req) {
                                Ok(_) => {
                                    let mut a = acked.lock().unwrap();
                                    a.debited -= used;
                                    if let Some(e) = a.checkouts.iter_mut().find(|e| e.0 == id) {
                                        e.1 = true;
                                    }
                                    a.ops += 1;
                                }
                                // The points it earned were spent, or its card was replaced and
                                // the money moved on: refused, nothing changes.
                                Err(MembershipError::Conflict { .. })
                                | Err(MembershipError::InsufficientBalance { .. }) => {}
                                Err(e) => panic!("void: {e:?}"),
                            }
                        } else if roll < 97 {
                            let req = ReplaceCard {
                                card_id: card.clone(),
                                new_card_no: None,
                                new_chip_uid: None,
                            };
                            match replace_card(&mut c, &staff(), all, &clock(), &key, &req) {
                                Ok(r) => {
                                    let mut cs = cards.lock().unwrap();
                                    if cs[slot] == card {
                                        cs[slot] = r.value.new_card.id;
                                    }
                                    acked.lock().unwrap().ops += 1;
                                }
                                Err(MembershipError::Conflict { .. }) => {}
                                Err(e) => panic!("replace: {e:?}"),
                            }
                        } else {
                            let req = ReturnCard {
                                card_id: card.clone(),
                                refund_method: PaymentMethod::Transfer,
                                reason: "soak".into(),
                            };
                            match return_card(&mut c, &staff(), all, &clock(), &key, &req) {
                                Ok(r) => {
                                    {
                                        let mut a = acked.lock().unwrap();
                                        a.debited +=
                                            r.value.refunded.fen() + r.value.bonus_forfeited.fen();
                                        a.ops += 1;
                                    }
                                    // The member comes back later with a new card.
                                    let member = get_card(&mut c, all, &card).unwrap().member_id;
                                    let fresh = issue_card(
                                        &mut c,
                                        &staff(),
                                        all,
                                        &clock(),
                                        &IssueCard {
                                            member_id: member,
                                            ..Default::default()
                                        },
                                    )
                                    .unwrap();
                                    let mut cs = cards.lock().unwrap();
                                    if cs[slot] == card {
                                        cs[slot] = fresh.id;
                                    }
                                }
                                Err(MembershipError::Conflict { .. }) => {}
                                Err(e) => panic!("return: {e:?}"),
                            }
                        }
                    }
                });
            }
        });
        let a = acked.into_inner().unwrap();
        let mut c = db.pool.get().unwrap();
        assert_ledgers_ok(&mut c);
        use dms_db::diesel::prelude::*;
        use dms_membership::schema::{mem_cards, mem_checkouts, mem_sv_txns};
        for t in &a.sv_txns {
            let n: i64 = mem_sv_txns::table
                .filter(mem_sv_txns::id.eq(t))
                .count()
                .get_result(&mut *c)
                .unwrap();
            assert_eq!(n, 1, "acknowledged transaction {t} missing");
        }
        for (id, voided) in &a.checkouts {
            let status: String = mem_checkouts::table
                .find(id)
                .select(mem_checkouts::status)
                .first(&mut *c)
                .unwrap();
            assert_eq!(status == "voided", *voided, "checkout {id}");
        }
        let balances: Vec<(String, i64, i64)> = mem_cards::table
            .select((
                mem_cards::status,
                mem_cards::principal_fen,
                mem_cards::bonus_fen,
            ))
            .load(&mut *c)
            .unwrap();
        let on_cards: i64 = balances.iter().map(|(_, p, b)| p + b).sum();
        // Dead cards hold nothing: replacement moved it, return paid it out.
        for (status, p, b) in &balances {
            if status == "replaced" || status == "closed" {
                assert_eq!((p, b), (&0, &0), "{status} card holds money");
            }
        }
        assert_eq!(on_cards, a.credited - a.debited);
        // The statistics reconcile with the ledgers and the cards to the fen.
        let from = dms_core::Clock::now(&clock()) - chrono::Duration::days(1);
        let to = dms_core::Clock::now(&clock()) + chrono::Duration::days(1);
        let st = club_statistics(&mut c, &StoreScope::AllStores, from, to).unwrap();
        assert_eq!(
            st.topped_up.fen() + st.bonus_granted.fen()
                - st.consumed.fen()
                - st.refunded.fen()
                - st.bonus_forfeited.fen(),
            on_cards
        );
        assert_eq!(
            st.checkouts as usize,
            a.checkouts.iter().filter(|c| !c.1).count()
        );
        eprintln!(
            "soak: {} workers x {} ops, {} acknowledged, {} stored-value transactions, {} on cards",
            WORKERS,
            OPS_PER_WORKER,
            a.ops,
            verify_ledgers(&mut c).unwrap().sv_transactions,
            Money::from_fen(on_cards)
        );
    }

    dms_db::engine_tests!(randomized_soak_keeps_the_books);
}

mod packages_and_lists {
    use crate::common::*;
    use dms_core::{PageRequest, StoreScope};
    use dms_db::testing::TestDb;
    use dms_membership::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Gold has six washes a year: ten desks asking at once get exactly six.
    fn entitlements_are_counted_under_concurrency(db: &TestDb) {
        let f = {
            let mut c = db.pool.get().unwrap();
            let s = store(&mut c, "A01");
            member_with_card(&mut c, &s, Some("gold"))
        };
        let all = StoreScope::AllStores;
        let ok = AtomicUsize::new(0);
        std::thread::scope(|sc| {
            for t in 0..10 {
                let (pool, f, all, ok) = (&db.pool, &f, &all, &ok);
                sc.spawn(move || {
                    let mut c = pool.get().unwrap();
                    let r = use_entitlement(
                        &mut c,
                        &staff(),
                        all,
                        &clock(),
                        &format!("wash-{t}"),
                        &UseEntitlement {
                            member_id: f.member.id.clone(),
                            code: "wash".into(),
                            ref_id: None,
                        },
                    );
                    match r {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(MembershipError::Conflict { .. }) => {}
                        Err(e) => panic!("{e:?}"),
                    }
                });
            }
        });
        assert_eq!(ok.into_inner(), 6);
        let mut c = db.pool.get().unwrap();
        let b = entitlements(&mut c, &all, &f.member.id).unwrap();
        assert_eq!((b[0].used, b[0].left), (6, 0));
        assert!(matches!(
            use_entitlement(
                &mut c,
                &staff(),
                &all,
                &clock(),
                "x",
                &UseEntitlement {
                    member_id: f.member.id.clone(),
                    code: "polish".into(),
                    ref_id: None
                }
            ),
            Err(MembershipError::Invalid { .. })
        ));
    }

    /// Stock 3, ten redemptions at once: three succeed, points are taken three times.
    fn gifts_never_oversell(db: &TestDb) {
        let all = StoreScope::AllStores;
        let (f, gift) = {
            let mut c = db.pool.get().unwrap();
            let s = store(&mut c, "A01");
            let f = member_with_card(&mut c, &s, None);
            adjust_points(
                &mut c,
                &staff(),
                &all,
                &clock(),
                "seed",
                &AdjustPoints {
                    member_id: f.member.id.clone(),
                    track: PointsTrack::Redeemable,
                    delta: 10_000,
                    reason: "活动赠送".into(),
                },
            )
            .unwrap();
            let g = create_gift(
                &mut c,
                &staff(),
                &all,
                &clock(),
                &NewGift {
                    store_id: Some(s.clone()),
                    name: "雨刮器".into(),
                    points_cost: 800,
                    stock: 3,
                },
            )
            .unwrap();
            (f, g)
        };
        let ok = AtomicUsize::new(0);
        std::thread::scope(|sc| {
            for t in 0..10 {
                let (pool, f, gift, all, ok) = (&db.pool, &f, &gift, &all, &ok);
                sc.spawn(move || {
                    let mut c = pool.get().unwrap();
                    match redeem_gift(
                        &mut c,
                        &staff(),
                        all,
                        &clock(),
                        &format!("g{t}"),
                        &RedeemGift {
                            member_id: f.member.id.clone(),
                            gift_id: gift.id.clone(),
                            quantity: 1,
                        },
                    ) {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(MembershipError::Conflict { .. }) => {}
                        Err(e) => panic!("{e:?}"),
                    }
                });
            }
        });
        assert_eq!(ok.into_inner(), 3);
        let mut c = db.pool.get().unwrap();
        assert_eq!(
            get_member(&mut c, &all, &f.member.id)
                .unwrap()
                .redeemable_points,
            10_000 - 3 * 800
        );
        assert_eq!(list_gifts(&mut c, &all).unwrap()[0].stock, 0);
        assert_ledgers_ok(&mut c);
    }

    fn lists_and_customer_view(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let a = store(&mut c, "A01");
        let b = store(&mut c, "B01");
        let fa = member_with_card(&mut c, &a, None);
        let _fb = member_with_card(&mut c, &b, None);
        let all = StoreScope::AllStores;
        for i in 0..3 {
            top_up_cash(&mut c, &fa.card.id, "10", &format!("t{i}"));
        }
        let (page1, next) =
            card_transactions(&mut c, &all, &fa.card.id, &PageRequest::first(2)).unwrap();
        assert_eq!(page1.len(), 2);
        let after = dms_core::Cursor::decode(&next.unwrap()).unwrap();
        let (page2, next) = card_transactions(
            &mut c,
            &all,
            &fa.card.id,
            &PageRequest {
                after: Some(after),
                limit: 2,
            },
        )
        .unwrap();
        assert_eq!((page2.len(), next), (1, None));
        assert!(page1[0].id > page1[1].id && page1[1].id > page2[0].id);
        let only_a = StoreScope::Stores(vec![a.clone()]);
        assert_eq!(
            list_members(&mut c, &only_a, &PageRequest::first(50))
                .unwrap()
                .0
                .len(),
            1
        );
        assert_eq!(
            list_members(&mut c, &all, &PageRequest::first(50))
                .unwrap()
                .0
                .len(),
            2
        );
        let only_b = StoreScope::Stores(vec![b.clone()]);
        assert!(card_transactions(&mut c, &only_b, &fa.card.id, &PageRequest::first(2)).is_err());
        // The customer's own view: their card only.
        let mine = cards_of_customer(&mut c, &fa.member.customer_id).unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].id, fa.card.id);
        assert!(cards_of_customer(&mut c, &dms_core::new_id())
            .unwrap()
            .is_empty());
        adjust_points(
            &mut c,
            &staff(),
            &all,
            &clock(),
            "p",
            &AdjustPoints {
                member_id: fa.member.id.clone(),
                track: PointsTrack::Tier,
                delta: 42,
                reason: "迁移".into(),
            },
        )
        .unwrap();
        let (pts, _) =
            points_transactions(&mut c, &all, &fa.member.id, &PageRequest::first(10)).unwrap();
        assert_eq!((pts[0].tier_delta, pts[0].redeemable_delta), (42, 0));
        let req = CheckoutRequest {
            card_id: fa.card.id.clone(),
            store_id: a.clone(),
            terminal_id: None,
            lines: vec![BasketLine {
                category: Category::Other,
                item_code: None,
                description: "杂项".into(),
                quantity: 1.into(),
                unit_price: yuan("5"),
                insurer_paid: false,
            }],
            coupon_ids: vec![],
            redeem_points: 0,
            tenders: vec![Tender::StoredValue(yuan("5"))],
            discount_override: None,
        };
        checkout(
            &mut c,
            &staff(),
            &all,
            &clock(),
            "lc",
            &req,
            CheckoutPermissions::default(),
        )
        .unwrap();
        let (list, _) =
            list_checkouts(&mut c, &only_a, Some(&fa.card.id), &PageRequest::first(10)).unwrap();
        assert_eq!((list.len(), list[0].total_fen), (1, 500));
        assert!(
            list_checkouts(&mut c, &only_b, None, &PageRequest::first(10))
                .unwrap()
                .0
                .is_empty()
        );
    }

    dms_db::engine_tests!(
        entitlements_are_counted_under_concurrency,
        gifts_never_oversell,
        lists_and_customer_view
    );
}

mod daily_and_kiosk {
    use crate::common::*;
    use dms_core::StoreScope;
    use dms_db::testing::TestDb;
    use dms_membership::*;

    fn kiosk_checkout_needs_the_pin(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let s = store(&mut c, "A01");
        let f = member_with_card(&mut c, &s, None);
        let all = StoreScope::AllStores;
        let policy = PinPolicy::new(b"kiosk-pepper-0123456789".to_vec()).unwrap();
        let pin = Pin::new("112233").unwrap();
        set_pin(&mut c, &staff(), &all, &clock(), &policy, &f.card.id, &pin).unwrap();
        top_up_cash(&mut c, &f.card.id, "100", "t");
        let req = CheckoutRequest {
            card_id: f.card.id.clone(),
            store_id: s.clone(),
            terminal_id: Some("KIOSK-1".into()),
            lines: vec![BasketLine {
                category: Category::Detailing,
                item_code: Some("WASH".into()),
                description: "洗车".into(),
                quantity: 1.into(),
                unit_price: yuan("40"),
                insurer_paid: false,
            }],
            coupon_ids: vec![],
            redeem_points: 0,
            tenders: vec![Tender::StoredValue(yuan("40"))],
            discount_override: None,
        };
        let kiosk = dms_identity::Actor {
            kind: "device",
            id: Some("KIOSK-1".into()),
            name: "自助终端".into(),
            request_id: None,
        };
        let wrong = Pin::new("999999").unwrap();
        assert!(matches!(
            checkout_with_pin(
                &mut c,
                &kiosk,
                &all,
                &clock(),
                "k1",
                &req,
                CheckoutPermissions::default(),
                &policy,
                &wrong
            ),
            Err(MembershipError::WrongPin { attempts_left: 4 })
        ));
        assert_eq!(
            get_card(&mut c, &all, &f.card.id).unwrap().principal(),
            yuan("100")
        );
        let r = checkout_with_pin(
            &mut c,
            &kiosk,
            &all,
            &clock(),
            "k1",
            &req,
            CheckoutPermissions::default(),
            &policy,
            &pin,
        )
        .unwrap()
        .value;
        assert_eq!(r.principal_after, yuan("60"));
        assert_eq!(r.terminal_id.as_deref(), Some("KIOSK-1"));
        assert_eq!(r.cashier_id.as_deref(), Some("KIOSK-1"));
        assert_ledgers_ok(&mut c);
    }

    fn daily_job_is_idempotent(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let s = store(&mut c, "A01");
        let f = member_with_card(&mut c, &s, None);
        top_up_cash(&mut c, &f.card.id, "1000", "t");
        let later = clock();
        later.advance(chrono::Duration::days(400));
        let first = run_daily(&mut c, &later).unwrap();
        assert_eq!(first.bonus_lots_expired, 1);
        assert_eq!(first.tiers.expired, 1);
        assert_eq!(first.idempotency_keys_purged, 1);
        let second = run_daily(&mut c, &later).unwrap();
        assert_eq!(second, DailyReport::default());
        let k = get_card(&mut c, &StoreScope::AllStores, &f.card.id).unwrap();
        assert_eq!((k.principal_fen, k.bonus_fen), (100_000, 0));
        assert_ledgers_ok(&mut c);
    }

    dms_db::engine_tests!(kiosk_checkout_needs_the_pin, daily_job_is_idempotent);
}

mod statistics {
    use crate::common::*;
    use dms_core::{Clock, StoreScope};
    use dms_db::testing::TestDb;
    use dms_membership::*;

    fn statistics_by_store_and_period(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let a = store(&mut c, "A01");
        let b = store(&mut c, "B01");
        let fa = member_with_card(&mut c, &a, None);
        let fb = member_with_card(&mut c, &b, None);
        let all = StoreScope::AllStores;
        top_up_cash(&mut c, &fa.card.id, "1000", "a1");
        top_up_cash(&mut c, &fb.card.id, "200", "b1");
        debit(
            &mut c,
            &staff(),
            &all,
            &clock(),
            "d",
            &Debit {
                card_id: fa.card.id.clone(),
                amount: yuan("120"),
                terminal_id: None,
                memo: String::new(),
            },
        )
        .unwrap();
        let now = clock().now();
        let (from, to) = (
            now - chrono::Duration::hours(1),
            now + chrono::Duration::hours(1),
        );
        let only_a = StoreScope::Stores(vec![a.clone()]);
        let sa = club_statistics(&mut c, &only_a, from, to).unwrap();
        assert_eq!(sa.topped_up, yuan("1000"));
        assert_eq!(sa.bonus_granted, yuan("100"));
        assert_eq!(sa.consumed, yuan("120"));
        assert_eq!(sa.cards_issued, 1);
        let s_all = club_statistics(&mut c, &all, from, to).unwrap();
        assert_eq!(s_all.topped_up, yuan("1200"));
        assert_eq!(s_all.cards_issued, 2);
        // Per store and per day add up to the total.
        let per_store = statistics_by_store(&mut c, &all, from, to).unwrap();
        assert_eq!(per_store.len(), 2);
        let summed: i64 = per_store.iter().map(|(_, s)| s.topped_up.fen()).sum();
        assert_eq!(summed, s_all.topped_up.fen());
        let day = now.date_naive();
        let days = statistics_by_day(
            &mut c,
            &all,
            day - chrono::Duration::days(2),
            day + chrono::Duration::days(1),
        )
        .unwrap();
        assert_eq!(days.len(), 3);
        assert_eq!(days[2].1, s_all);
        assert_eq!(days[0].1, ClubStatistics::default());
        assert!(statistics_by_day(&mut c, &all, day, day).is_err());
        // Another period sees nothing.
        let empty = club_statistics(&mut c, &all, to, to + chrono::Duration::days(1)).unwrap();
        assert_eq!(empty, ClubStatistics::default());
    }

    dms_db::engine_tests!(statistics_by_store_and_period);
}

mod coupon_rules {
    use crate::common::*;
    use dms_core::{Clock, StoreScope};
    use dms_db::testing::TestDb;
    use dms_membership::*;

    fn coupon_limits_segments_validity_and_void(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let a = store(&mut c, "A01");
        let b = store(&mut c, "B01");
        let all = StoreScope::AllStores;
        let now = clock().now();
        let gold1 = member_with_card(&mut c, &a, Some("gold"));
        let _gold2 = member_with_card(&mut c, &a, Some("gold"));
        let _silver = member_with_card(&mut c, &a, Some("silver"));
        let _gold_b = member_with_card(&mut c, &b, Some("gold"));
        let new = |store: Option<String>, days: i64| NewCouponTemplate {
            store_id: store,
            name: "金卡保养券".into(),
            kind: CouponKind::AmountOff { amount: yuan("30") },
            min_spend: yuan("0"),
            categories: vec![],
            valid_from: now - chrono::Duration::days(1),
            valid_until: now + chrono::Duration::days(days),
            per_member_limit: 2,
        };
        // Bad templates.
        let mut bad = new(None, 10);
        bad.valid_until = bad.valid_from;
        assert!(create_coupon_template(&mut c, &staff(), &all, &clock(), &bad).is_err());
        let mut bad = new(None, 10);
        bad.kind = CouponKind::PercentOff {
            percent_bp: 0,
            cap: None,
        };
        assert!(create_coupon_template(&mut c, &staff(), &all, &clock(), &bad).is_err());
        let only_a = StoreScope::Stores(vec![a.clone()]);
        assert!(matches!(
            create_coupon_template(&mut c, &staff(), &only_a, &clock(), &new(None, 10)),
            Err(MembershipError::Forbidden(_))
        ));
        // A store's template, issued to its gold segment: two members, not silver, not store B.
        let t = create_coupon_template(
            &mut c,
            &staff(),
            &only_a,
            &clock(),
            &new(Some(a.clone()), 10),
        )
        .unwrap();
        let seg = Segment {
            tier_code: Some("gold".into()),
            store_id: None,
        };
        assert_eq!(
            issue_coupons_to_segment(&mut c, &staff(), &only_a, &clock(), &t.id, &seg).unwrap(),
            2
        );
        assert_eq!(
            issue_coupons_to_segment(&mut c, &staff(), &all, &clock(), &t.id, &seg).unwrap(),
            2
        );
        // Per-member limit 2 reached: the segment issue skips, a direct issue is a conflict.
        assert_eq!(
            issue_coupons_to_segment(&mut c, &staff(), &all, &clock(), &t.id, &seg).unwrap(),
            0
        );
        assert!(matches!(
            issue_coupon(&mut c, &staff(), &all, &clock(), &t.id, &gold1.member.id),
            Err(MembershipError::Conflict { .. })
        ));
        // Void one: it cannot be used, voiding twice is a conflict, and the limit frees a slot.
        let mine = coupons_of_member(&mut c, &all, &gold1.member.id).unwrap();
        assert_eq!(mine.len(), 2);
        void_coupon(&mut c, &staff(), &all, &clock(), &mine[0].id, "发错").unwrap();
        assert!(matches!(
            void_coupon(&mut c, &staff(), &all, &clock(), &mine[0].id, "发错"),
            Err(MembershipError::Conflict { .. })
        ));
        let req = |coupon: &str, store: &str| CheckoutRequest {
            card_id: gold1.card.id.clone(),
            store_id: store.into(),
            terminal_id: None,
            lines: vec![BasketLine {
                category: Category::Detailing,
                item_code: None,
                description: "打蜡".into(),
                quantity: 1.into(),
                unit_price: yuan("100"),
                insurer_paid: false,
            }],
            coupon_ids: vec![coupon.into()],
            redeem_points: 0,
            // Gold detailing 15 % off: 85.00, less the coupon's 30.00.
            tenders: vec![Tender::Cash(yuan("55"))],
            discount_override: None,
        };
        let perms = CheckoutPermissions::default();
        assert!(matches!(
            checkout(
                &mut c,
                &staff(),
                &all,
                &clock(),
                "v",
                &req(&mine[0].id, &a),
                perms
            ),
            Err(MembershipError::Conflict { .. })
        ));
        // A store-A coupon is not valid in store B.
        assert!(matches!(
            checkout(
                &mut c,
                &staff(),
                &all,
                &clock(),
                "b",
                &req(&mine[1].id, &b),
                perms
            ),
            Err(MembershipError::Invalid { .. })
        ));
        // After its window it is not valid either.
        let late = clock();
        late.advance(chrono::Duration::days(11));
        assert!(matches!(
            checkout(
                &mut c,
                &staff(),
                &all,
                &late,
                "late",
                &req(&mine[1].id, &a),
                perms
            ),
            Err(MembershipError::Invalid { .. })
        ));
        let r = checkout(
            &mut c,
            &staff(),
            &all,
            &clock(),
            "ok",
            &req(&mine[1].id, &a),
            perms,
        )
        .unwrap()
        .value;
        assert_eq!(r.basket.member_pays, yuan("55"));
        assert_eq!(r.basket.coupons[0].discount, yuan("30"));
        // The voided coupon freed a slot (used ones still count), then the limit holds again.
        issue_coupon(&mut c, &staff(), &all, &clock(), &t.id, &gold1.member.id).unwrap();
        issue_coupon(&mut c, &staff(), &all, &clock(), &t.id, &gold1.member.id).unwrap_err();
        assert_ledgers_ok(&mut c);
    }

    dms_db::engine_tests!(coupon_limits_segments_validity_and_void);
}

mod migration {
    use crate::common::*;
    use dms_core::StoreScope;
    use dms_db::diesel::connection::SimpleConnection;
    use dms_db::testing::TestDb;
    use dms_db::{DbConnection, Engine};
    use dms_membership::*;

    /// The membership migration and every later one, in the order they apply: later
    /// migrations build on its tables (pending bills reference checkouts), so reverting it
    /// means reverting them first, as `diesel migration revert` would.
    fn scripts(engine: Engine) -> Vec<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../migrations")
            .join(match engine {
                Engine::Sqlite => "sqlite",
                Engine::Postgres => "postgres",
            });
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.as_str() >= "2026-11-26-000010_membership")
            .collect();
        names.sort();
        assert_eq!(names[0], "2026-11-26-000010_membership");
        names
            .iter()
            .map(|n| {
                let read = |f: &str| std::fs::read_to_string(dir.join(n).join(f)).unwrap();
                (read("down.sql"), read("up.sql"))
            })
            .collect()
    }

    fn batch(c: &mut DbConnection, sql: &str) {
        match c {
            DbConnection::Sqlite(c) => c.batch_execute(sql).unwrap(),
            DbConnection::Pg(c) => c.batch_execute(sql).unwrap(),
        }
    }

    /// The migration reverts with ledger rows present (the append-only triggers do not block
    /// dropping) and re-applies; the club works again afterwards.
    fn migration_reverts_and_reapplies(db: &TestDb) {
        let mut c = db.pool.get().unwrap();
        let s = store(&mut c, "A01");
        let f = member_with_card(&mut c, &s, None);
        top_up_cash(&mut c, &f.card.id, "1000", "t");
        let migrations = scripts(c.engine());
        for (down, _) in migrations.iter().rev() {
            batch(&mut c, down);
        }
        for (_, up) in &migrations {
            batch(&mut c, up);
        }
        assert!(get_card(&mut c, &StoreScope::AllStores, &f.card.id).is_err());
        let g = member_with_card(&mut c, &s, None);
        top_up_cash(&mut c, &g.card.id, "1000", "t");
        assert_ledgers_ok(&mut c);
    }

    dms_db::engine_tests!(migration_reverts_and_reapplies);
}
