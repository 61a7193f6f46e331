-- Member club statistics by SQL aggregates (crates/membership/src/statistics.rs): every source
-- is read by one range scan on created_at over an index that covers the columns the report
-- groups by, and the joins to the member's tier go through covering (id, ...) indexes, so a
-- month over 10 million ledger entries never touches the tables themselves.

-- Consumption per category: the lines of each checkout's receipt, one row each, written by a
-- trigger in the same transaction as the checkout (the receipt is the record of the lines).
CREATE TABLE mem_checkout_lines (
    checkout_id TEXT NOT NULL REFERENCES mem_checkouts(id),
    line_no INTEGER NOT NULL,
    store_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    category TEXT NOT NULL,
    gross_fen BIGINT NOT NULL,
    net_fen BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (checkout_id, line_no)
);
CREATE INDEX mem_checkout_lines_stats
    ON mem_checkout_lines (created_at, store_id, category, net_fen, gross_fen, checkout_id);

-- Money strings have at most two decimals; a double holds them exactly enough to round to fen.
CREATE TRIGGER mem_checkout_lines_fill AFTER INSERT ON mem_checkouts
BEGIN
    INSERT INTO mem_checkout_lines
        (checkout_id, line_no, store_id, member_id, category, gross_fen, net_fen, created_at)
    SELECT NEW.id, j.key, NEW.store_id, NEW.member_id,
           COALESCE(json_extract(j.value, '$.category'), 'other'),
           CAST(ROUND(CAST(json_extract(j.value, '$.gross') AS REAL) * 100) AS INTEGER),
           CAST(ROUND(CAST(json_extract(j.value, '$.net') AS REAL) * 100) AS INTEGER),
           NEW.created_at
    FROM json_each(NEW.receipt, '$.basket.lines') AS j;
END;

INSERT INTO mem_checkout_lines
    (checkout_id, line_no, store_id, member_id, category, gross_fen, net_fen, created_at)
SELECT k.id, j.key, k.store_id, k.member_id,
       COALESCE(json_extract(j.value, '$.category'), 'other'),
       CAST(ROUND(CAST(json_extract(j.value, '$.gross') AS REAL) * 100) AS INTEGER),
       CAST(ROUND(CAST(json_extract(j.value, '$.net') AS REAL) * 100) AS INTEGER),
       k.created_at
FROM mem_checkouts AS k, json_each(k.receipt, '$.basket.lines') AS j;

CREATE INDEX mem_sv_entries_stats
    ON mem_sv_entries (created_at, store_id, account, amount_fen, txn_id) WHERE card_id IS NULL;
CREATE INDEX mem_points_entries_stats
    ON mem_points_entries (created_at, track, store_id, account, amount, txn_id) WHERE member_id IS NULL;
CREATE INDEX mem_checkouts_stats
    ON mem_checkouts (created_at, store_id, status, total_fen, member_id);
CREATE INDEX mem_cards_stats ON mem_cards (created_at, store_id, member_id);
CREATE INDEX mem_gift_redemptions_stats
    ON mem_gift_redemptions (created_at, store_id, member_id, points);
CREATE INDEX mem_coupons_used ON mem_coupons (used_at, store_id, member_id) WHERE status = 'used';

-- The tier joins: SQLite's TEXT primary keys are separate indexes pointing at the row, so
-- these answer "whose card, which tier" from the index alone.
CREATE INDEX mem_sv_txns_card_of ON mem_sv_txns (id, card_id);
CREATE INDEX mem_points_txns_member_of ON mem_points_txns (id, member_id);
CREATE INDEX mem_cards_member_of ON mem_cards (id, member_id);
CREATE INDEX mem_members_tier_of ON mem_members (id, tier_code);
CREATE INDEX mem_checkouts_status_of ON mem_checkouts (id, status, member_id);
