-- Back to a row per fact: each total becomes one fact row carrying its count, so every sum
-- the report takes stays the same.
DROP TRIGGER mem_stat_coupon_returned;
DROP TRIGGER mem_stat_coupon_used;
DROP TRIGGER mem_stat_gift;
DROP TRIGGER mem_stat_card;
DROP TRIGGER mem_stat_checkout_void;
DROP TRIGGER mem_stat_checkout;
DROP TRIGGER mem_stat_points;
DROP TRIGGER mem_stat_sv;

CREATE TABLE mem_stat_rows (
    id INTEGER PRIMARY KEY,
    day TEXT NOT NULL,
    store_id TEXT NOT NULL,
    tier_code TEXT NOT NULL,
    metric TEXT NOT NULL,
    amount BIGINT NOT NULL,
    extra BIGINT NOT NULL DEFAULT 0,
    n BIGINT NOT NULL
);
INSERT INTO mem_stat_rows (day, store_id, tier_code, metric, amount, extra, n)
SELECT day, store_id, tier_code, metric, amount, extra, n FROM mem_stat_facts;
DROP TABLE mem_stat_facts;
ALTER TABLE mem_stat_rows RENAME TO mem_stat_facts;
CREATE INDEX mem_stat_facts_day ON mem_stat_facts (day, store_id, tier_code, metric, amount, extra, n);

CREATE TRIGGER mem_stat_sv AFTER INSERT ON mem_sv_entries WHEN NEW.card_id IS NULL
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    SELECT substr(NEW.created_at, 1, 10), NEW.store_id, m.tier_code, 'sv:' || NEW.account,
           NEW.amount_fen, 1
    FROM mem_sv_txns x JOIN mem_cards cd ON cd.id = x.card_id JOIN mem_members m ON m.id = cd.member_id
    WHERE x.id = NEW.txn_id;
END;

CREATE TRIGGER mem_stat_points AFTER INSERT ON mem_points_entries
    WHEN NEW.member_id IS NULL AND NEW.track = 'redeemable'
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    SELECT substr(NEW.created_at, 1, 10), NEW.store_id, m.tier_code, 'pt:' || NEW.account,
           NEW.amount, 1
    FROM mem_points_txns x JOIN mem_members m ON m.id = x.member_id
    WHERE x.id = NEW.txn_id;
END;

-- A checkout's tier is the one its receipt was priced at; money strings have at most two
-- decimals, which a double holds exactly enough to round to the fen.
CREATE TRIGGER mem_stat_checkout AFTER INSERT ON mem_checkouts
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    VALUES (substr(NEW.created_at, 1, 10), NEW.store_id,
            COALESCE(json_extract(NEW.receipt, '$.basket.tier_code'), ''), 'checkout', NEW.total_fen, 1);
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, extra, n)
    SELECT substr(NEW.created_at, 1, 10), NEW.store_id,
           COALESCE(json_extract(NEW.receipt, '$.basket.tier_code'), ''),
           'cat:' || COALESCE(json_extract(j.value, '$.category'), 'other'),
           CAST(ROUND(CAST(json_extract(j.value, '$.net') AS REAL) * 100) AS INTEGER),
           CAST(ROUND(CAST(json_extract(j.value, '$.gross') AS REAL) * 100) AS INTEGER), 1
    FROM json_each(NEW.receipt, '$.basket.lines') AS j;
END;

-- A void takes the checkout and its lines out of the day it was made, and counts it as voided.
CREATE TRIGGER mem_stat_checkout_void AFTER UPDATE OF status ON mem_checkouts
    WHEN OLD.status = 'completed' AND NEW.status = 'voided'
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    VALUES (substr(OLD.created_at, 1, 10), OLD.store_id,
            COALESCE(json_extract(OLD.receipt, '$.basket.tier_code'), ''), 'checkout', -OLD.total_fen, -1);
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    VALUES (substr(OLD.created_at, 1, 10), OLD.store_id,
            COALESCE(json_extract(OLD.receipt, '$.basket.tier_code'), ''), 'checkout_voided', 0, 1);
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, extra, n)
    SELECT substr(OLD.created_at, 1, 10), OLD.store_id,
           COALESCE(json_extract(OLD.receipt, '$.basket.tier_code'), ''),
           'cat:' || COALESCE(json_extract(j.value, '$.category'), 'other'),
           -CAST(ROUND(CAST(json_extract(j.value, '$.net') AS REAL) * 100) AS INTEGER),
           -CAST(ROUND(CAST(json_extract(j.value, '$.gross') AS REAL) * 100) AS INTEGER), -1
    FROM json_each(OLD.receipt, '$.basket.lines') AS j;
END;

CREATE TRIGGER mem_stat_card AFTER INSERT ON mem_cards
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    SELECT substr(NEW.created_at, 1, 10), NEW.store_id, m.tier_code, 'card_issued', 0, 1
    FROM mem_members m WHERE m.id = NEW.member_id;
END;

CREATE TRIGGER mem_stat_gift AFTER INSERT ON mem_gift_redemptions
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    SELECT substr(NEW.created_at, 1, 10), NEW.store_id, m.tier_code, 'gift', NEW.points, 1
    FROM mem_members m WHERE m.id = NEW.member_id;
END;

CREATE TRIGGER mem_stat_coupon_used AFTER UPDATE OF status ON mem_coupons
    WHEN NEW.status = 'used' AND OLD.status <> 'used'
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    SELECT substr(NEW.used_at, 1, 10), NEW.store_id, m.tier_code, 'coupon_used', 0, 1
    FROM mem_members m WHERE m.id = NEW.member_id;
END;

CREATE TRIGGER mem_stat_coupon_returned AFTER UPDATE OF status ON mem_coupons
    WHEN OLD.status = 'used' AND NEW.status <> 'used'
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    SELECT substr(OLD.used_at, 1, 10), OLD.store_id, m.tier_code, 'coupon_used', 0, -1
    FROM mem_members m WHERE m.id = OLD.member_id;
END;
