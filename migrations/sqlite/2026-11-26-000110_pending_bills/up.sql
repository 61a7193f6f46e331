-- Pending bills: a basket the cashier prepares at the desk for the kiosk to pay with a card.
CREATE TABLE mem_pending_bills (
    id TEXT PRIMARY KEY NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    -- The card it is meant for, when the cashier knows it; any card of the store otherwise.
    card_id TEXT REFERENCES mem_cards(id),
    reference TEXT NOT NULL,
    -- The basket lines as JSON (the checkout's own line shape).
    lines TEXT NOT NULL,
    total_fen BIGINT NOT NULL CHECK (total_fen >= 0),
    status TEXT NOT NULL CHECK (status IN ('open', 'paid', 'cancelled')),
    checkout_id TEXT UNIQUE REFERENCES mem_checkouts(id),
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX mem_pending_bills_store ON mem_pending_bills (store_id, status, created_at);
CREATE INDEX mem_pending_bills_card ON mem_pending_bills (card_id);
