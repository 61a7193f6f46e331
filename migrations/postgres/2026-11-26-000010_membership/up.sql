-- Member club: programme configuration (group default + store overrides), members, cards,
-- the stored-value ledger (principal and bonus), bonus lots, the points ledgers (tier and
-- redeemable), idempotency records, checkouts, coupons, gifts and tier changes.
-- Money is BIGINT fen, points BIGINT; ledgers are append-only (triggers refuse UPDATE/DELETE).

CREATE TABLE mem_programme_configs (
    id TEXT PRIMARY KEY NOT NULL,
    -- NULL: the group default; otherwise a store's override.
    store_id TEXT REFERENCES stores(id),
    config TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX mem_programme_configs_scope ON mem_programme_configs (COALESCE(store_id, ''));

CREATE TABLE mem_members (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    customer_id TEXT NOT NULL UNIQUE REFERENCES customers(id),
    tier_code TEXT NOT NULL,
    join_channel TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'expired', 'closed')),
    joined_at TIMESTAMP NOT NULL,
    term_expires_at TIMESTAMP NOT NULL,
    -- Caches of the points ledger, checked against it by the tests.
    tier_points BIGINT NOT NULL DEFAULT 0 CHECK (tier_points >= 0),
    redeemable_points BIGINT NOT NULL DEFAULT 0 CHECK (redeemable_points >= 0),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX mem_members_store ON mem_members (store_id);

CREATE TABLE mem_cards (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    member_id TEXT NOT NULL REFERENCES mem_members(id),
    card_no TEXT NOT NULL UNIQUE,
    chip_uid TEXT UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('active', 'lost', 'frozen', 'replaced', 'closed')),
    expires_at TIMESTAMP NOT NULL,
    -- Caches of the stored-value ledger; never negative.
    principal_fen BIGINT NOT NULL DEFAULT 0 CHECK (principal_fen >= 0),
    bonus_fen BIGINT NOT NULL DEFAULT 0 CHECK (bonus_fen >= 0),
    pin_hash TEXT,
    pin_failures INTEGER NOT NULL DEFAULT 0,
    pin_locked_until TIMESTAMP,
    pin_hard_locked BOOLEAN NOT NULL DEFAULT FALSE,
    replaced_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX mem_cards_member ON mem_cards (member_id);
CREATE INDEX mem_cards_store ON mem_cards (store_id);

CREATE TABLE mem_sv_txns (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    card_id TEXT NOT NULL REFERENCES mem_cards(id),
    kind TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    payment_method TEXT,
    ref_id TEXT,
    -- A reversal names the transaction it reverses; UNIQUE so nothing is reversed twice.
    reverses_txn_id TEXT UNIQUE REFERENCES mem_sv_txns(id),
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    terminal_id TEXT,
    memo TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX mem_sv_txns_card ON mem_sv_txns (card_id);

CREATE TABLE mem_bonus_lots (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    card_id TEXT NOT NULL REFERENCES mem_cards(id),
    txn_id TEXT NOT NULL REFERENCES mem_sv_txns(id),
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    -- Cache of amount + the lot's ledger entries.
    remaining_fen BIGINT NOT NULL CHECK (remaining_fen >= 0),
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX mem_bonus_lots_card ON mem_bonus_lots (card_id, expires_at);

CREATE TABLE mem_sv_entries (
    id TEXT PRIMARY KEY NOT NULL,
    txn_id TEXT NOT NULL REFERENCES mem_sv_txns(id),
    store_id TEXT NOT NULL REFERENCES stores(id),
    -- Set on the card's own accounts (principal, bonus); NULL on counter accounts.
    card_id TEXT REFERENCES mem_cards(id),
    account TEXT NOT NULL,
    bonus_lot_id TEXT REFERENCES mem_bonus_lots(id),
    amount_fen BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX mem_sv_entries_txn ON mem_sv_entries (txn_id);
CREATE INDEX mem_sv_entries_card ON mem_sv_entries (card_id, account);

CREATE TABLE mem_points_txns (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    member_id TEXT NOT NULL REFERENCES mem_members(id),
    kind TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    ref_id TEXT,
    reverses_txn_id TEXT UNIQUE REFERENCES mem_points_txns(id),
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX mem_points_txns_member ON mem_points_txns (member_id);

CREATE TABLE mem_points_entries (
    id TEXT PRIMARY KEY NOT NULL,
    txn_id TEXT NOT NULL REFERENCES mem_points_txns(id),
    store_id TEXT NOT NULL REFERENCES stores(id),
    member_id TEXT REFERENCES mem_members(id),
    track TEXT NOT NULL CHECK (track IN ('tier', 'redeemable')),
    account TEXT NOT NULL,
    amount BIGINT NOT NULL,
    expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX mem_points_entries_txn ON mem_points_entries (txn_id);
CREATE INDEX mem_points_entries_member ON mem_points_entries (member_id, track);

CREATE TABLE mem_idempotency (
    principal TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    operation TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (principal, idem_key)
);
CREATE INDEX mem_idempotency_created ON mem_idempotency (created_at);

CREATE TABLE mem_checkouts (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    card_id TEXT NOT NULL REFERENCES mem_cards(id),
    member_id TEXT NOT NULL REFERENCES mem_members(id),
    terminal_id TEXT,
    status TEXT NOT NULL CHECK (status IN ('completed', 'voided')),
    subtotal_fen BIGINT NOT NULL,
    discount_fen BIGINT NOT NULL,
    total_fen BIGINT NOT NULL,
    sv_txn_id TEXT REFERENCES mem_sv_txns(id),
    points_txn_id TEXT REFERENCES mem_points_txns(id),
    receipt TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    created_at TIMESTAMP NOT NULL,
    voided_at TIMESTAMP,
    void_reason TEXT
);
CREATE INDEX mem_checkouts_card ON mem_checkouts (card_id);
CREATE INDEX mem_checkouts_store ON mem_checkouts (store_id, created_at);

CREATE TABLE mem_coupon_templates (
    id TEXT PRIMARY KEY NOT NULL,
    -- NULL: valid in every store of the group.
    store_id TEXT REFERENCES stores(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('amount_off', 'percent_off', 'free_item')),
    amount_fen BIGINT NOT NULL DEFAULT 0,
    percent_bp INTEGER NOT NULL DEFAULT 0,
    cap_fen BIGINT,
    free_item TEXT,
    min_spend_fen BIGINT NOT NULL DEFAULT 0,
    categories TEXT NOT NULL DEFAULT '',
    valid_from TIMESTAMP NOT NULL,
    valid_until TIMESTAMP NOT NULL,
    per_member_limit INTEGER NOT NULL DEFAULT 1,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE mem_coupons (
    id TEXT PRIMARY KEY NOT NULL,
    template_id TEXT NOT NULL REFERENCES mem_coupon_templates(id),
    store_id TEXT NOT NULL REFERENCES stores(id),
    member_id TEXT NOT NULL REFERENCES mem_members(id),
    status TEXT NOT NULL CHECK (status IN ('issued', 'used', 'voided')),
    issued_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    used_checkout_id TEXT,
    voided_at TIMESTAMP
);
CREATE INDEX mem_coupons_member ON mem_coupons (member_id, template_id);

CREATE TABLE mem_gifts (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT REFERENCES stores(id),
    name TEXT NOT NULL,
    points_cost BIGINT NOT NULL CHECK (points_cost > 0),
    stock INTEGER NOT NULL CHECK (stock >= 0),
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE mem_gift_redemptions (
    id TEXT PRIMARY KEY NOT NULL,
    gift_id TEXT NOT NULL REFERENCES mem_gifts(id),
    store_id TEXT NOT NULL REFERENCES stores(id),
    member_id TEXT NOT NULL REFERENCES mem_members(id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    points BIGINT NOT NULL,
    points_txn_id TEXT NOT NULL REFERENCES mem_points_txns(id),
    created_at TIMESTAMP NOT NULL
);

-- Qualifying events for tier rules that this crate does not see itself (insurance renewals
-- sold elsewhere) and single repairs recorded by checkout.
CREATE TABLE mem_qualifying_events (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    member_id TEXT NOT NULL REFERENCES mem_members(id),
    kind TEXT NOT NULL CHECK (kind IN ('repair', 'insurance')),
    amount_fen BIGINT NOT NULL,
    -- The checkout that recorded it (removed again when that checkout is voided).
    ref_id TEXT,
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX mem_qualifying_events_member ON mem_qualifying_events (member_id, kind);

-- Service-package uses (服务包): one row per use, counted per membership year.
CREATE TABLE mem_entitlement_uses (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    member_id TEXT NOT NULL REFERENCES mem_members(id),
    code TEXT NOT NULL,
    used_at TIMESTAMP NOT NULL,
    ref_id TEXT,
    actor_id TEXT
);
CREATE INDEX mem_entitlement_uses_member ON mem_entitlement_uses (member_id, code, used_at);

CREATE TABLE mem_tier_changes (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    member_id TEXT NOT NULL REFERENCES mem_members(id),
    from_tier TEXT NOT NULL,
    to_tier TEXT NOT NULL,
    reason TEXT NOT NULL,
    -- The evaluation day (YYYY-MM-DD): one change per member, reason and day keeps the job
    -- idempotent.
    effective_on TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (member_id, reason, effective_on)
);

CREATE FUNCTION mem_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are append-only (%)', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER mem_sv_txns_append_only BEFORE UPDATE OR DELETE ON mem_sv_txns
    FOR EACH ROW EXECUTE FUNCTION mem_append_only();
CREATE TRIGGER mem_sv_entries_append_only BEFORE UPDATE OR DELETE ON mem_sv_entries
    FOR EACH ROW EXECUTE FUNCTION mem_append_only();
CREATE TRIGGER mem_points_txns_append_only BEFORE UPDATE OR DELETE ON mem_points_txns
    FOR EACH ROW EXECUTE FUNCTION mem_append_only();
CREATE TRIGGER mem_points_entries_append_only BEFORE UPDATE OR DELETE ON mem_points_entries
    FOR EACH ROW EXECUTE FUNCTION mem_append_only();
