-- Member club statistics at scale (crates/membership/src/statistics.rs). Every movement the
-- report counts becomes one fact row, written by a trigger in the same transaction as the
-- movement itself: a stored-value or points counter entry, a checkout and its lines (and their
-- reversal on a void), a card issued, a gift redemption, a coupon used (or given back). A fact
-- carries the UTC day, the store and the member's tier at that moment, so one month of the
-- report is one range scan of the index below, with no join. Facts are never updated: a void
-- adds compensating rows. The report's totals are tested against sums over the ledgers.
CREATE TABLE mem_stat_facts (
    id BIGSERIAL PRIMARY KEY,
    day TEXT NOT NULL,
    store_id TEXT NOT NULL,
    tier_code TEXT NOT NULL,
    -- sv:<counter account> | pt:<counter account> | checkout | checkout_voided | cat:<category>
    -- | card_issued | gift | coupon_used
    metric TEXT NOT NULL,
    amount BIGINT NOT NULL,
    -- cat: the lines' gross before discounts.
    extra BIGINT NOT NULL DEFAULT 0,
    n BIGINT NOT NULL
);
CREATE INDEX mem_stat_facts_day ON mem_stat_facts (day, store_id, tier_code, metric, amount, extra, n);

CREATE FUNCTION mem_stat_sv() RETURNS trigger AS $$
BEGIN
    IF NEW.card_id IS NULL THEN
        INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
        SELECT to_char(NEW.created_at, 'YYYY-MM-DD'), NEW.store_id, m.tier_code, 'sv:' || NEW.account,
               NEW.amount_fen, 1
        FROM mem_sv_txns x JOIN mem_cards cd ON cd.id = x.card_id JOIN mem_members m ON m.id = cd.member_id
        WHERE x.id = NEW.txn_id;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER mem_stat_sv AFTER INSERT ON mem_sv_entries FOR EACH ROW EXECUTE FUNCTION mem_stat_sv();

CREATE FUNCTION mem_stat_points() RETURNS trigger AS $$
BEGIN
    IF NEW.member_id IS NULL AND NEW.track = 'redeemable' THEN
        INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
        SELECT to_char(NEW.created_at, 'YYYY-MM-DD'), NEW.store_id, m.tier_code, 'pt:' || NEW.account,
               NEW.amount, 1
        FROM mem_points_txns x JOIN mem_members m ON m.id = x.member_id
        WHERE x.id = NEW.txn_id;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER mem_stat_points AFTER INSERT ON mem_points_entries FOR EACH ROW EXECUTE FUNCTION mem_stat_points();

-- A checkout's tier is the one its receipt was priced at. `dir` -1 takes a voided checkout
-- and its lines out of the day it was made.
-- Scalar arguments, not the row type: reverting the membership migration may drop mem_checkouts.
CREATE FUNCTION mem_stat_checkout_facts(created_at TIMESTAMP, store TEXT, total BIGINT, receipt TEXT,
                                        dir INTEGER) RETURNS void AS $$
DECLARE
    doc JSONB := receipt::jsonb;
    tier TEXT := COALESCE(doc->'basket'->>'tier_code', '');
    d TEXT := to_char(created_at, 'YYYY-MM-DD');
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    VALUES (d, store, tier, 'checkout', dir * total, dir);
    IF dir < 0 THEN
        INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
        VALUES (d, store, tier, 'checkout_voided', 0, 1);
    END IF;
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, extra, n)
    SELECT d, store, tier, 'cat:' || COALESCE(l->>'category', 'other'),
           dir * round((l->>'net')::numeric * 100)::bigint,
           dir * round((l->>'gross')::numeric * 100)::bigint, dir
    FROM jsonb_array_elements(doc->'basket'->'lines') AS l;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION mem_stat_checkout() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM mem_stat_checkout_facts(NEW.created_at, NEW.store_id, NEW.total_fen, NEW.receipt, 1);
    ELSIF OLD.status = 'completed' AND NEW.status = 'voided' THEN
        PERFORM mem_stat_checkout_facts(OLD.created_at, OLD.store_id, OLD.total_fen, OLD.receipt, -1);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER mem_stat_checkout AFTER INSERT OR UPDATE OF status ON mem_checkouts
    FOR EACH ROW EXECUTE FUNCTION mem_stat_checkout();

CREATE FUNCTION mem_stat_card() RETURNS trigger AS $$
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    SELECT to_char(NEW.created_at, 'YYYY-MM-DD'), NEW.store_id, m.tier_code, 'card_issued', 0, 1
    FROM mem_members m WHERE m.id = NEW.member_id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER mem_stat_card AFTER INSERT ON mem_cards FOR EACH ROW EXECUTE FUNCTION mem_stat_card();

CREATE FUNCTION mem_stat_gift() RETURNS trigger AS $$
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    SELECT to_char(NEW.created_at, 'YYYY-MM-DD'), NEW.store_id, m.tier_code, 'gift', NEW.points, 1
    FROM mem_members m WHERE m.id = NEW.member_id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER mem_stat_gift AFTER INSERT ON mem_gift_redemptions FOR EACH ROW EXECUTE FUNCTION mem_stat_gift();

CREATE FUNCTION mem_stat_coupon() RETURNS trigger AS $$
BEGIN
    IF NEW.status = 'used' AND OLD.status <> 'used' THEN
        INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
        SELECT to_char(NEW.used_at, 'YYYY-MM-DD'), NEW.store_id, m.tier_code, 'coupon_used', 0, 1
        FROM mem_members m WHERE m.id = NEW.member_id;
    ELSIF OLD.status = 'used' AND NEW.status <> 'used' THEN
        INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
        SELECT to_char(OLD.used_at, 'YYYY-MM-DD'), OLD.store_id, m.tier_code, 'coupon_used', 0, -1
        FROM mem_members m WHERE m.id = OLD.member_id;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER mem_stat_coupon AFTER UPDATE OF status ON mem_coupons FOR EACH ROW EXECUTE FUNCTION mem_stat_coupon();

-- What happened before this migration (tiers as they are now).
INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
SELECT to_char(e.created_at, 'YYYY-MM-DD'), e.store_id, m.tier_code, 'sv:' || e.account, e.amount_fen, 1
FROM mem_sv_entries e JOIN mem_sv_txns x ON x.id = e.txn_id JOIN mem_cards cd ON cd.id = x.card_id
    JOIN mem_members m ON m.id = cd.member_id
WHERE e.card_id IS NULL;
INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
SELECT to_char(e.created_at, 'YYYY-MM-DD'), e.store_id, m.tier_code, 'pt:' || e.account, e.amount, 1
FROM mem_points_entries e JOIN mem_points_txns x ON x.id = e.txn_id JOIN mem_members m ON m.id = x.member_id
WHERE e.member_id IS NULL AND e.track = 'redeemable';
SELECT mem_stat_checkout_facts(k.created_at, k.store_id, k.total_fen, k.receipt, 1)
FROM mem_checkouts k WHERE k.status = 'completed';
INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
SELECT to_char(k.created_at, 'YYYY-MM-DD'), k.store_id, COALESCE(k.receipt::jsonb->'basket'->>'tier_code', ''),
       'checkout_voided', 0, 1
FROM mem_checkouts k WHERE k.status = 'voided';
INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
SELECT to_char(cd.created_at, 'YYYY-MM-DD'), cd.store_id, m.tier_code, 'card_issued', 0, 1
FROM mem_cards cd JOIN mem_members m ON m.id = cd.member_id;
INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
SELECT to_char(g.created_at, 'YYYY-MM-DD'), g.store_id, m.tier_code, 'gift', g.points, 1
FROM mem_gift_redemptions g JOIN mem_members m ON m.id = g.member_id;
INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
SELECT to_char(u.used_at, 'YYYY-MM-DD'), u.store_id, m.tier_code, 'coupon_used', 0, 1
FROM mem_coupons u JOIN mem_members m ON m.id = u.member_id
WHERE u.status = 'used';
