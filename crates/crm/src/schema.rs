//! The CRM's own tables as diesel sees them, kept in step with
//! `migrations/{sqlite,postgres}/2026-11-26-000020_crm`. The extended `customers` table lives in
//! `dms_db::schema` because identity reads it too. No joins across crates: queries go table by
//! table.

diesel::table! {
    customer_phones (id) {
        id -> Text,
        customer_id -> Text,
        phone -> Text,
        label -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    customer_addresses (id) {
        id -> Text,
        customer_id -> Text,
        label -> Text,
        province -> Text,
        city -> Text,
        district -> Text,
        line -> Text,
        postal_code -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    customer_tags (id) {
        id -> Text,
        customer_id -> Text,
        tag -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    marketing_consents (id) {
        id -> Text,
        customer_id -> Text,
        channel -> Text,
        granted -> Bool,
        consent_on -> Date,
        source -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    customer_merges (id) {
        id -> Text,
        survivor_id -> Text,
        merged_id -> Text,
        detail -> Text,
        actor_id -> Nullable<Text>,
        merged_at -> Timestamp,
    }
}

diesel::table! {
    vehicles (id) {
        id -> Text,
        store_id -> Text,
        vin -> Text,
        vin_check_ok -> Bool,
        plate -> Nullable<Text>,
        plate_norm -> Nullable<Text>,
        brand -> Text,
        model -> Text,
        trim_level -> Text,
        colour -> Text,
        model_year -> Nullable<Integer>,
        purchase_date -> Nullable<Date>,
        delivery_date -> Nullable<Date>,
        warranty_end -> Nullable<Date>,
        insurance_expiry -> Nullable<Date>,
        insurer -> Nullable<Text>,
        inspection_due -> Nullable<Date>,
        first_service_done -> Bool,
        last_service_on -> Nullable<Date>,
        customer_id -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mileage_readings (id) {
        id -> Text,
        vehicle_id -> Text,
        read_on -> Date,
        km -> BigInt,
        source -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    vehicle_owners (id) {
        id -> Text,
        vehicle_id -> Text,
        customer_id -> Text,
        from_date -> Date,
        to_date -> Nullable<Date>,
        reason -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    service_visits (id) {
        id -> Text,
        store_id -> Text,
        vehicle_id -> Text,
        customer_id -> Nullable<Text>,
        visited_on -> Date,
        kind -> Text,
        km -> Nullable<BigInt>,
        advisor_id -> Nullable<Text>,
        work_order_ref -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    leads (id) {
        id -> Text,
        store_id -> Text,
        customer_id -> Nullable<Text>,
        name -> Text,
        phone -> Text,
        source_channel -> Text,
        interest_brand -> Text,
        interest_model -> Text,
        grade -> Text,
        assigned_to -> Nullable<Text>,
        status -> Text,
        lost_reason -> Nullable<Text>,
        next_follow_up_on -> Nullable<Date>,
        last_contact_at -> Nullable<Timestamp>,
        closed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    lead_contacts (id) {
        id -> Text,
        lead_id -> Text,
        staff_id -> Nullable<Text>,
        channel -> Text,
        note -> Text,
        contacted_at -> Timestamp,
    }
}

diesel::table! {
    lead_grade_changes (id) {
        id -> Text,
        lead_id -> Text,
        from_grade -> Nullable<Text>,
        to_grade -> Text,
        reason -> Text,
        staff_id -> Nullable<Text>,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    follow_up_tasks (id) {
        id -> Text,
        store_id -> Text,
        customer_id -> Nullable<Text>,
        vehicle_id -> Nullable<Text>,
        rule -> Text,
        dedupe_key -> Nullable<Text>,
        title -> Text,
        due_on -> Date,
        assigned_to -> Nullable<Text>,
        status -> Text,
        outcome -> Nullable<Text>,
        refusal_reason -> Nullable<Text>,
        note -> Text,
        completed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    complaints (id) {
        id -> Text,
        store_id -> Text,
        customer_id -> Text,
        vehicle_id -> Nullable<Text>,
        order_ref -> Nullable<Text>,
        work_order_ref -> Nullable<Text>,
        channel -> Text,
        category -> Text,
        severity -> Text,
        description -> Text,
        assigned_to -> Nullable<Text>,
        status -> Text,
        due_at -> Timestamp,
        escalation_level -> Integer,
        escalated_at -> Nullable<Timestamp>,
        resolution -> Nullable<Text>,
        resolved_at -> Nullable<Timestamp>,
        confirmed_at -> Nullable<Timestamp>,
        customer_satisfied -> Nullable<Bool>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    questionnaires (id) {
        id -> Text,
        code -> Text,
        title -> Text,
        occasion -> Text,
        questions -> Text,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    surveys (id) {
        id -> Text,
        store_id -> Text,
        questionnaire_id -> Text,
        customer_id -> Text,
        occasion -> Text,
        subject_ref -> Nullable<Text>,
        advisor_id -> Nullable<Text>,
        consultant_id -> Nullable<Text>,
        status -> Text,
        sent_at -> Timestamp,
        answered_at -> Nullable<Timestamp>,
        csat -> Nullable<Integer>,
        nps -> Nullable<Integer>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    survey_answers (id) {
        id -> Text,
        survey_id -> Text,
        question_code -> Text,
        score -> Nullable<Integer>,
        text_answer -> Nullable<Text>,
    }
}

diesel::table! {
    outbox_messages (id) {
        id -> Text,
        store_id -> Text,
        customer_id -> Nullable<Text>,
        channel -> Text,
        purpose -> Text,
        recipient -> Text,
        template_code -> Text,
        subject -> Text,
        body -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        provider_ref -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
        delivered_at -> Nullable<Timestamp>,
        dedupe_key -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    customer_segments (id) {
        id -> Text,
        store_id -> Nullable<Text>,
        name -> Text,
        filter -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}
