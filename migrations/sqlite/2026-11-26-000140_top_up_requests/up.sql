-- Top-up requests (待确认充值): the service-desk kiosk asks for a top-up of the card it read;
-- the cashier confirms it once the money is in hand, which performs the top-up (the ledger
-- entries live in mem_sv_txns) in the same transaction that marks the request confirmed.
CREATE TABLE mem_top_up_requests (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    -- The terminal that asked; only it may read or withdraw the request.
    device_id TEXT REFERENCES devices(id),
    device_name TEXT,
    card_id TEXT NOT NULL REFERENCES mem_cards(id),
    amount_fen BIGINT NOT NULL CHECK (amount_fen > 0),
    -- What the programme's top-up rules would add, as the member was told at the kiosk.
    expected_bonus_fen BIGINT NOT NULL CHECK (expected_bonus_fen >= 0),
    -- What the member said they would pay with, and what the cashier received.
    payment_method TEXT NOT NULL,
    received_method TEXT,
    -- `pending` past `expires_at` reads as expired; it is set to `expired` lazily.
    status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'cancelled', 'expired')),
    requested_by TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP,
    decided_by TEXT,
    decided_by_id TEXT,
    cancel_reason TEXT,
    -- The cashier's slip number (bank-card or transfer reference).
    reference TEXT,
    top_up_txn_id TEXT UNIQUE REFERENCES mem_sv_txns(id),
    -- The top-up's result as JSON, for the kiosk's receipt.
    top_up TEXT,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX mem_top_up_requests_store ON mem_top_up_requests (store_id, status, id);
CREATE INDEX mem_top_up_requests_card ON mem_top_up_requests (card_id, status);
