//! The membership tables as diesel sees them; kept in step with
//! `migrations/{sqlite,postgres}/2026-11-26-000010_membership`. This crate owns these tables;
//! the foundation tables (stores, customers) are read through `dms_db::schema`, in separate
//! queries rather than joined, except where the payment hot path saves a query.

diesel::table! {
    mem_programme_configs (id) {
        id -> Text,
        store_id -> Nullable<Text>,
        config -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mem_members (id) {
        id -> Text,
        store_id -> Text,
        customer_id -> Text,
        tier_code -> Text,
        join_channel -> Text,
        status -> Text,
        joined_at -> Timestamp,
        term_expires_at -> Timestamp,
        tier_points -> BigInt,
        redeemable_points -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mem_cards (id) {
        id -> Text,
        store_id -> Text,
        member_id -> Text,
        card_no -> Text,
        chip_uid -> Nullable<Text>,
        status -> Text,
        expires_at -> Timestamp,
        principal_fen -> BigInt,
        bonus_fen -> BigInt,
        pin_hash -> Nullable<Text>,
        pin_failures -> Integer,
        pin_locked_until -> Nullable<Timestamp>,
        pin_hard_locked -> Bool,
        replaced_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mem_sv_txns (id) {
        id -> Text,
        store_id -> Text,
        card_id -> Text,
        kind -> Text,
        amount_fen -> BigInt,
        payment_method -> Nullable<Text>,
        ref_id -> Nullable<Text>,
        reverses_txn_id -> Nullable<Text>,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        terminal_id -> Nullable<Text>,
        memo -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mem_bonus_lots (id) {
        id -> Text,
        store_id -> Text,
        card_id -> Text,
        txn_id -> Text,
        amount_fen -> BigInt,
        remaining_fen -> BigInt,
        expires_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mem_sv_entries (id) {
        id -> Text,
        txn_id -> Text,
        store_id -> Text,
        card_id -> Nullable<Text>,
        account -> Text,
        bonus_lot_id -> Nullable<Text>,
        amount_fen -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mem_points_txns (id) {
        id -> Text,
        store_id -> Text,
        member_id -> Text,
        kind -> Text,
        reason -> Text,
        ref_id -> Nullable<Text>,
        reverses_txn_id -> Nullable<Text>,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mem_points_entries (id) {
        id -> Text,
        txn_id -> Text,
        store_id -> Text,
        member_id -> Nullable<Text>,
        track -> Text,
        account -> Text,
        amount -> BigInt,
        expires_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mem_idempotency (principal, idem_key) {
        principal -> Text,
        idem_key -> Text,
        operation -> Text,
        fingerprint -> Text,
        result -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mem_checkouts (id) {
        id -> Text,
        store_id -> Text,
        card_id -> Text,
        member_id -> Text,
        terminal_id -> Nullable<Text>,
        status -> Text,
        subtotal_fen -> BigInt,
        discount_fen -> BigInt,
        total_fen -> BigInt,
        sv_txn_id -> Nullable<Text>,
        points_txn_id -> Nullable<Text>,
        receipt -> Text,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        created_at -> Timestamp,
        voided_at -> Nullable<Timestamp>,
        void_reason -> Nullable<Text>,
    }
}

diesel::table! {
    mem_coupon_templates (id) {
        id -> Text,
        store_id -> Nullable<Text>,
        name -> Text,
        kind -> Text,
        amount_fen -> BigInt,
        percent_bp -> Integer,
        cap_fen -> Nullable<BigInt>,
        free_item -> Nullable<Text>,
        min_spend_fen -> BigInt,
        categories -> Text,
        valid_from -> Timestamp,
        valid_until -> Timestamp,
        per_member_limit -> Integer,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mem_coupons (id) {
        id -> Text,
        template_id -> Text,
        store_id -> Text,
        member_id -> Text,
        status -> Text,
        issued_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        used_checkout_id -> Nullable<Text>,
        voided_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    mem_gifts (id) {
        id -> Text,
        store_id -> Nullable<Text>,
        name -> Text,
        points_cost -> BigInt,
        stock -> Integer,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mem_gift_redemptions (id) {
        id -> Text,
        gift_id -> Text,
        store_id -> Text,
        member_id -> Text,
        quantity -> Integer,
        points -> BigInt,
        points_txn_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mem_qualifying_events (id) {
        id -> Text,
        store_id -> Text,
        member_id -> Text,
        kind -> Text,
        amount_fen -> BigInt,
        ref_id -> Nullable<Text>,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    mem_tier_changes (id) {
        id -> Text,
        store_id -> Text,
        member_id -> Text,
        from_tier -> Text,
        to_tier -> Text,
        reason -> Text,
        effective_on -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    mem_entitlement_uses (id) {
        id -> Text,
        store_id -> Text,
        member_id -> Text,
        code -> Text,
        used_at -> Timestamp,
        ref_id -> Nullable<Text>,
        actor_id -> Nullable<Text>,
    }
}

diesel::table! {
    mem_pending_bills (id) {
        id -> Text,
        store_id -> Text,
        card_id -> Nullable<Text>,
        reference -> Text,
        lines -> Text,
        total_fen -> BigInt,
        status -> Text,
        checkout_id -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mem_import_jobs (id) {
        id -> Text,
        store_id -> Text,
        principal -> Text,
        idem_key -> Text,
        fingerprint -> Text,
        actor_id -> Nullable<Text>,
        file_format -> Text,
        status -> Text,
        rows_total -> BigInt,
        rows_processed -> BigInt,
        errors -> Text,
        result -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    mem_top_up_requests (id) {
        id -> Text,
        store_id -> Text,
        device_id -> Nullable<Text>,
        device_name -> Nullable<Text>,
        card_id -> Text,
        amount_fen -> BigInt,
        expected_bonus_fen -> BigInt,
        payment_method -> Text,
        received_method -> Nullable<Text>,
        status -> Text,
        requested_by -> Text,
        requested_at -> Timestamp,
        expires_at -> Timestamp,
        decided_at -> Nullable<Timestamp>,
        decided_by -> Nullable<Text>,
        decided_by_id -> Nullable<Text>,
        cancel_reason -> Nullable<Text>,
        reference -> Nullable<Text>,
        top_up_txn_id -> Nullable<Text>,
        top_up -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

// The payment hot path reads a card and its member in one locking statement.
diesel::joinable!(mem_cards -> mem_members (member_id));
diesel::allow_tables_to_appear_in_same_query!(mem_cards, mem_members);
// … and checks the store exists while it reads the store's programme configuration.
// (The foundation's `stores` table, as far as that query needs it: diesel's joins need both
// tables declared in one crate.)
diesel::table! {
    stores (id) {
        id -> Text,
    }
}
diesel::allow_tables_to_appear_in_same_query!(stores, mem_programme_configs);
