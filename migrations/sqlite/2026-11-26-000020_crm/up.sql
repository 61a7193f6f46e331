-- CRM: the full customer record (extends the foundation's minimal `customers`), vehicles and
-- their mileage and owner history, merges, leads, follow-up tasks, visits, complaints,
-- questionnaires and surveys, and the message outbox.
-- Every new `customers` column is nullable or defaulted: identity's insert of
-- (id, store_id, name, phone, created_at, updated_at) keeps working.
-- `customers.phone` stays UNIQUE: it is the owner's app login. Further numbers live in
-- customer_phones, which is not unique, so suspected duplicates can be recorded and merged.

ALTER TABLE customers ADD COLUMN kind TEXT NOT NULL DEFAULT 'individual';
ALTER TABLE customers ADD COLUMN name_norm TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN gender TEXT;
ALTER TABLE customers ADD COLUMN email TEXT;
ALTER TABLE customers ADD COLUMN id_number TEXT;
ALTER TABLE customers ADD COLUMN id_number_hash TEXT;
ALTER TABLE customers ADD COLUMN birthday DATE;
ALTER TABLE customers ADD COLUMN birthday_md TEXT;
ALTER TABLE customers ADD COLUMN contact_person TEXT;
ALTER TABLE customers ADD COLUMN tax_id TEXT;
ALTER TABLE customers ADD COLUMN preferences TEXT NOT NULL DEFAULT '{}';
ALTER TABLE customers ADD COLUMN notes TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN owner_staff_id TEXT;
ALTER TABLE customers ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE customers ADD COLUMN merged_into_id TEXT;
CREATE INDEX customers_name_norm ON customers (name_norm);
-- Rows inserted without CRM's help (identity's create) get their search key filled here.
UPDATE customers SET name_norm = lower(replace(name, ' ', ''));
CREATE TRIGGER customers_name_norm_fill AFTER INSERT ON customers
WHEN NEW.name_norm = ''
BEGIN
    UPDATE customers SET name_norm = lower(replace(NEW.name, ' ', '')) WHERE id = NEW.id;
END;
CREATE INDEX customers_id_number_hash ON customers (id_number_hash);
CREATE INDEX customers_birthday_md ON customers (birthday_md);
CREATE INDEX customers_owner ON customers (owner_staff_id);

CREATE TABLE customer_phones (
    id TEXT PRIMARY KEY NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    phone TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX customer_phones_phone ON customer_phones (phone);
CREATE INDEX customer_phones_customer ON customer_phones (customer_id);

CREATE TABLE customer_addresses (
    id TEXT PRIMARY KEY NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    label TEXT NOT NULL,
    province TEXT NOT NULL,
    city TEXT NOT NULL,
    district TEXT NOT NULL,
    line TEXT NOT NULL,
    postal_code TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX customer_addresses_customer ON customer_addresses (customer_id);

CREATE TABLE customer_tags (
    id TEXT PRIMARY KEY NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    tag TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (customer_id, tag)
);
CREATE INDEX customer_tags_tag ON customer_tags (tag);

CREATE TABLE marketing_consents (
    id TEXT PRIMARY KEY NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    channel TEXT NOT NULL,
    granted BOOLEAN NOT NULL,
    consent_on DATE NOT NULL,
    source TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    UNIQUE (customer_id, channel)
);

CREATE TABLE customer_merges (
    id TEXT PRIMARY KEY NOT NULL,
    survivor_id TEXT NOT NULL REFERENCES customers(id),
    merged_id TEXT NOT NULL REFERENCES customers(id),
    detail TEXT NOT NULL,
    actor_id TEXT,
    merged_at TIMESTAMP NOT NULL
);
CREATE INDEX customer_merges_survivor ON customer_merges (survivor_id);

CREATE TABLE vehicles (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    vin TEXT NOT NULL UNIQUE,
    vin_check_ok BOOLEAN NOT NULL,
    plate TEXT,
    plate_norm TEXT,
    brand TEXT NOT NULL,
    model TEXT NOT NULL,
    trim_level TEXT NOT NULL,
    colour TEXT NOT NULL,
    model_year INTEGER,
    purchase_date DATE,
    delivery_date DATE,
    warranty_end DATE,
    insurance_expiry DATE,
    insurer TEXT,
    inspection_due DATE,
    first_service_done BOOLEAN NOT NULL DEFAULT FALSE,
    last_service_on DATE,
    customer_id TEXT REFERENCES customers(id),
    status TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX vehicles_plate_norm ON vehicles (plate_norm);
CREATE INDEX vehicles_customer ON vehicles (customer_id);
CREATE INDEX vehicles_store ON vehicles (store_id);
CREATE INDEX vehicles_insurance ON vehicles (insurance_expiry);
CREATE INDEX vehicles_inspection ON vehicles (inspection_due);
CREATE INDEX vehicles_delivery ON vehicles (delivery_date);

CREATE TABLE mileage_readings (
    id TEXT PRIMARY KEY NOT NULL,
    vehicle_id TEXT NOT NULL REFERENCES vehicles(id),
    read_on DATE NOT NULL,
    km BIGINT NOT NULL,
    source TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX mileage_readings_vehicle ON mileage_readings (vehicle_id, read_on);

CREATE TABLE vehicle_owners (
    id TEXT PRIMARY KEY NOT NULL,
    vehicle_id TEXT NOT NULL REFERENCES vehicles(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    from_date DATE NOT NULL,
    to_date DATE,
    reason TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX vehicle_owners_vehicle ON vehicle_owners (vehicle_id);
CREATE INDEX vehicle_owners_customer ON vehicle_owners (customer_id);

CREATE TABLE service_visits (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    vehicle_id TEXT NOT NULL REFERENCES vehicles(id),
    customer_id TEXT REFERENCES customers(id),
    visited_on DATE NOT NULL,
    kind TEXT NOT NULL,
    km BIGINT,
    advisor_id TEXT,
    work_order_ref TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX service_visits_vehicle ON service_visits (vehicle_id, visited_on);
CREATE INDEX service_visits_date ON service_visits (visited_on);
CREATE INDEX service_visits_customer ON service_visits (customer_id);

CREATE TABLE leads (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    customer_id TEXT REFERENCES customers(id),
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    source_channel TEXT NOT NULL,
    interest_brand TEXT NOT NULL,
    interest_model TEXT NOT NULL,
    grade TEXT NOT NULL,
    assigned_to TEXT,
    status TEXT NOT NULL,
    lost_reason TEXT,
    next_follow_up_on DATE,
    last_contact_at TIMESTAMP,
    closed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX leads_store_status ON leads (store_id, status, next_follow_up_on);
CREATE INDEX leads_assigned ON leads (assigned_to, status);
CREATE INDEX leads_customer ON leads (customer_id);
CREATE INDEX leads_phone ON leads (phone);

CREATE TABLE lead_contacts (
    id TEXT PRIMARY KEY NOT NULL,
    lead_id TEXT NOT NULL REFERENCES leads(id),
    staff_id TEXT,
    channel TEXT NOT NULL,
    note TEXT NOT NULL,
    contacted_at TIMESTAMP NOT NULL
);
CREATE INDEX lead_contacts_lead ON lead_contacts (lead_id);

CREATE TABLE lead_grade_changes (
    id TEXT PRIMARY KEY NOT NULL,
    lead_id TEXT NOT NULL REFERENCES leads(id),
    from_grade TEXT,
    to_grade TEXT NOT NULL,
    reason TEXT NOT NULL,
    staff_id TEXT,
    changed_at TIMESTAMP NOT NULL
);
CREATE INDEX lead_grade_changes_lead ON lead_grade_changes (lead_id);

CREATE TABLE follow_up_tasks (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    customer_id TEXT REFERENCES customers(id),
    vehicle_id TEXT REFERENCES vehicles(id),
    rule TEXT NOT NULL,
    dedupe_key TEXT UNIQUE,
    title TEXT NOT NULL,
    due_on DATE NOT NULL,
    assigned_to TEXT,
    status TEXT NOT NULL,
    outcome TEXT,
    refusal_reason TEXT,
    note TEXT NOT NULL DEFAULT '',
    completed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX follow_up_tasks_due ON follow_up_tasks (store_id, status, due_on);
CREATE INDEX follow_up_tasks_customer ON follow_up_tasks (customer_id);
CREATE INDEX follow_up_tasks_vehicle ON follow_up_tasks (vehicle_id);
CREATE INDEX follow_up_tasks_assigned ON follow_up_tasks (assigned_to, status);

CREATE TABLE complaints (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    vehicle_id TEXT REFERENCES vehicles(id),
    order_ref TEXT,
    work_order_ref TEXT,
    channel TEXT NOT NULL,
    category TEXT NOT NULL,
    severity TEXT NOT NULL,
    description TEXT NOT NULL,
    assigned_to TEXT,
    status TEXT NOT NULL,
    due_at TIMESTAMP NOT NULL,
    escalation_level INTEGER NOT NULL DEFAULT 0,
    escalated_at TIMESTAMP,
    resolution TEXT,
    resolved_at TIMESTAMP,
    confirmed_at TIMESTAMP,
    customer_satisfied BOOLEAN,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX complaints_store_status ON complaints (store_id, status, due_at);
CREATE INDEX complaints_customer ON complaints (customer_id);

CREATE TABLE questionnaires (
    id TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    occasion TEXT NOT NULL,
    questions TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE surveys (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    questionnaire_id TEXT NOT NULL REFERENCES questionnaires(id),
    customer_id TEXT NOT NULL REFERENCES customers(id),
    occasion TEXT NOT NULL,
    subject_ref TEXT,
    advisor_id TEXT,
    consultant_id TEXT,
    status TEXT NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    answered_at TIMESTAMP,
    csat INTEGER,
    nps INTEGER,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX surveys_store ON surveys (store_id, status);
CREATE INDEX surveys_customer ON surveys (customer_id);

CREATE TABLE survey_answers (
    id TEXT PRIMARY KEY NOT NULL,
    survey_id TEXT NOT NULL REFERENCES surveys(id),
    question_code TEXT NOT NULL,
    score INTEGER,
    text_answer TEXT,
    UNIQUE (survey_id, question_code)
);

CREATE TABLE outbox_messages (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    customer_id TEXT REFERENCES customers(id),
    channel TEXT NOT NULL,
    purpose TEXT NOT NULL,
    recipient TEXT NOT NULL,
    template_code TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until TIMESTAMP,
    last_error TEXT,
    provider_ref TEXT,
    sent_at TIMESTAMP,
    delivered_at TIMESTAMP,
    dedupe_key TEXT UNIQUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX outbox_messages_due ON outbox_messages (status, next_attempt_at);
CREATE INDEX outbox_messages_customer ON outbox_messages (customer_id);
CREATE INDEX outbox_messages_provider_ref ON outbox_messages (provider_ref);

-- Saved customer filters for campaigns, coupon issue and task lists; `filter` is JSON.
CREATE TABLE customer_segments (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT REFERENCES stores(id),
    name TEXT NOT NULL,
    filter TEXT NOT NULL,
    created_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
