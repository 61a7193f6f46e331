-- Member club statistics by SQL aggregates (crates/membership/src/statistics.rs): every source
-- is read by one range scan on created_at over an index that covers the columns the report
-- groups by. (The primary-key joins to the member's tier need no extra index here.)

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

CREATE FUNCTION mem_checkout_lines_fill() RETURNS trigger AS $$
BEGIN
    INSERT INTO mem_checkout_lines
        (checkout_id, line_no, store_id, member_id, category, gross_fen, net_fen, created_at)
    SELECT NEW.id, (l.ord - 1)::integer, NEW.store_id, NEW.member_id,
           COALESCE(l.v->>'category', 'other'),
           round((l.v->>'gross')::numeric * 100)::bigint,
           round((l.v->>'net')::numeric * 100)::bigint,
           NEW.created_at
    FROM jsonb_array_elements(NEW.receipt::jsonb->'basket'->'lines') WITH ORDINALITY AS l(v, ord);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER mem_checkout_lines_fill AFTER INSERT ON mem_checkouts
    FOR EACH ROW EXECUTE FUNCTION mem_checkout_lines_fill();

INSERT INTO mem_checkout_lines
    (checkout_id, line_no, store_id, member_id, category, gross_fen, net_fen, created_at)
SELECT k.id, (l.ord - 1)::integer, k.store_id, k.member_id,
       COALESCE(l.v->>'category', 'other'),
       round((l.v->>'gross')::numeric * 100)::bigint,
       round((l.v->>'net')::numeric * 100)::bigint,
       k.created_at
FROM mem_checkouts AS k,
     jsonb_array_elements(k.receipt::jsonb->'basket'->'lines') WITH ORDINALITY AS l(v, ord);

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
