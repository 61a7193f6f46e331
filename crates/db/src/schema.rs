// The tables as diesel sees them; kept in step with migrations/{sqlite,postgres} (the storage
// tests load every column of every table on both engines).

diesel::table! {
    audit_log (id) {
        id -> Text,
        occurred_at -> Timestamp,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        actor_name -> Text,
        store_id -> Nullable<Text>,
        action -> Text,
        entity -> Text,
        entity_id -> Text,
        detail -> Text,
        request_id -> Nullable<Text>,
    }
}

diesel::table! {
    customer_login_codes (id) {
        id -> Text,
        phone -> Text,
        code_hash -> Text,
        failed_attempts -> Integer,
        expires_at -> Timestamp,
        consumed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    customers (id) {
        id -> Text,
        store_id -> Text,
        name -> Text,
        phone -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        kind -> Text,
        name_norm -> Text,
        gender -> Nullable<Text>,
        email -> Nullable<Text>,
        id_number -> Nullable<Text>,
        id_number_hash -> Nullable<Text>,
        birthday -> Nullable<Date>,
        birthday_md -> Nullable<Text>,
        contact_person -> Nullable<Text>,
        tax_id -> Nullable<Text>,
        preferences -> Text,
        notes -> Text,
        owner_staff_id -> Nullable<Text>,
        status -> Text,
        merged_into_id -> Nullable<Text>,
    }
}

diesel::table! {
    devices (id) {
        id -> Text,
        store_id -> Text,
        name -> Text,
        status -> Text,
        pairing_code_hash -> Nullable<Text>,
        pairing_expires_at -> Nullable<Timestamp>,
        paired_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    dealer_groups (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        family_id -> Text,
        principal_kind -> Text,
        principal_id -> Text,
        token_hash -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    staff_roles (id) {
        id -> Text,
        user_id -> Text,
        role -> Text,
        store_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    staff_users (id) {
        id -> Text,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        status -> Text,
        password_changed_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    stores (id) {
        id -> Text,
        group_id -> Text,
        code -> Text,
        name -> Text,
        address -> Text,
        phone -> Text,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(customers -> stores (store_id));
diesel::joinable!(staff_roles -> staff_users (user_id));
diesel::joinable!(staff_roles -> stores (store_id));
diesel::joinable!(stores -> dealer_groups (group_id));
diesel::joinable!(devices -> stores (store_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_log,
    customer_login_codes,
    customers,
    dealer_groups,
    devices,
    refresh_tokens,
    staff_roles,
    staff_users,
    stores,
);
