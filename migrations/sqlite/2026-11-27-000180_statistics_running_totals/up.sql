-- Statistics facts on SQLite become running totals: one row per UTC day, store, tier and
-- metric, which the triggers add to (an upsert) instead of appending a row per movement. The
-- report sums the same columns either way, so it reads the same figures. A checkout's facts
-- were four more rows, each with its index entry, on a handful of index pages for SQLite's
-- one writer to rewrite every commit; now they are a few totals on one page. SQLite has one
-- writer, so a total that every payment adds to makes nobody wait; PostgreSQL, whose writers
-- run side by side, keeps appending rows. The table is keyed by the report's grouping, without
-- a rowid, so a month is still one range scan in key order. Existing facts are summed into
-- their totals.
DROP TRIGGER mem_stat_coupon_returned;
DROP TRIGGER mem_stat_coupon_used;
DROP TRIGGER mem_stat_gift;
DROP TRIGGER mem_stat_card;
DROP TRIGGER mem_stat_checkout_void;
DROP TRIGGER mem_stat_checkout;
DROP TRIGGER mem_stat_points;
DROP TRIGGER mem_stat_sv;

CREATE TABLE mem_stat_totals (
    day TEXT NOT NULL,
    store_id TEXT NOT NULL,
    tier_code TEXT NOT NULL,
    -- As before: sv:<counter account> | pt:<counter account> | checkout | checkout_voided
    -- | cat:<category> | card_issued | gift | coupon_used
    metric TEXT NOT NULL,
    amount BIGINT NOT NULL,
    -- cat: the lines' gross before discounts.
    extra BIGINT NOT NULL DEFAULT 0,
    n BIGINT NOT NULL,
    PRIMARY KEY (day, store_id, tier_code, metric)
) WITHOUT ROWID;
INSERT INTO mem_stat_totals (day, store_id, tier_code, metric, amount, extra, n)
SELECT day, store_id, tier_code, metric, SUM(amount), SUM(extra), SUM(n)
FROM mem_stat_facts GROUP BY day, store_id, tier_code, metric;
DROP TABLE mem_stat_facts;
ALTER TABLE mem_stat_totals RENAME TO mem_stat_facts;

CREATE TRIGGER mem_stat_sv AFTER INSERT ON mem_sv_entries WHEN NEW.card_id IS NULL
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    SELECT substr(NEW.created_at, 1, 10), NEW.store_id, m.tier_code, 'sv:' || NEW.account,
           NEW.amount_fen, 1
    FROM mem_sv_txns x JOIN mem_cards cd ON cd.id = x.card_id JOIN mem_members m ON m.id = cd.member_id
    WHERE x.id = NEW.txn_id
    ON CONFLICT (day, store_id, tier_code, metric) DO UPDATE SET amount = amount + excluded.amount,
        extra = extra + excluded.extra, n = n + excluded.n;
END;

CREATE TRIGGER mem_stat_points AFTER INSERT ON mem_points_entries
    WHEN NEW.member_id IS NULL AND NEW.track = 'redeemable'
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    SELECT substr(NEW.created_at, 1, 10), NEW.store_id, m.tier_code, 'pt:' || NEW.account,
           NEW.amount, 1
    FROM mem_points_txns x JOIN mem_members m ON m.id = x.member_id
    WHERE x.id = NEW.txn_id
    ON CONFLICT (day, store_id, tier_code, metric) DO UPDATE SET amount = amount + excluded.amount,
        extra = extra + excluded.extra, n = n + excluded.n;
END;

-- A checkout's tier is the one its receipt was priced at; money strings have at most two
-- decimals, which a double holds exactly enough to round to the fen.
CREATE TRIGGER mem_stat_checkout AFTER INSERT ON mem_checkouts
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    VALUES (substr(NEW.created_at, 1, 10), NEW.store_id,
            COALESCE(json_extract(NEW.receipt, '$.basket.tier_code'), ''), 'checkout', NEW.total_fen, 1)
    ON CONFLICT (day, store_id, tier_code, metric) DO UPDATE SET amount = amount + excluded.amount,
        extra = extra + excluded.extra, n = n + excluded.n;
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, extra, n)
    SELECT substr(NEW.created_at, 1, 10), NEW.store_id,
           COALESCE(json_extract(NEW.receipt, '$.basket.tier_code'), ''),
           'cat:' || COALESCE(json_extract(j.value, '$.category'), 'other'),
           CAST(ROUND(CAST(json_extract(j.value, '$.net') AS REAL) * 100) AS INTEGER),
           CAST(ROUND(CAST(json_extract(j.value, '$.gross') AS REAL) * 100) AS INTEGER), 1
    FROM json_each(NEW.receipt, '$.basket.lines') AS j WHERE true
    ON CONFLICT (day, store_id, tier_code, metric) DO UPDATE SET amount = amount + excluded.amount,
        extra = extra + excluded.extra, n = n + excluded.n;
END;

-- A void takes the checkout and its lines out of the day it was made, and counts it as voided.
CREATE TRIGGER mem_stat_checkout_void AFTER UPDATE OF status ON mem_checkouts
    WHEN OLD.status = 'completed' AND NEW.status = 'voided'
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    VALUES (substr(OLD.created_at, 1, 10), OLD.store_id,
            COALESCE(json_extract(OLD.receipt, '$.basket.tier_code'), ''), 'checkout', -OLD.total_fen, -1)
    ON CONFLICT (day, store_id, tier_code, metric) DO UPDATE SET amount = amount + excluded.amount,
        extra = extra + excluded.extra, n = n + excluded.n;
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    VALUES (substr(OLD.created_at, 1, 10), OLD.store_id,
            COALESCE(json_extract(OLD.receipt, '$.basket.tier_code'), ''), 'checkout_voided', 0, 1)
    ON CONFLICT (day, store_id, tier_code, metric) DO UPDATE SET amount = amount + excluded.amount,
        extra = extra + excluded.extra, n = n + excluded.n;
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, extra, n)
    SELECT substr(OLD.created_at, 1, 10), OLD.store_id,
           COALESCE(json_extract(OLD.receipt, '$.basket.tier_code'), ''),
           'cat:' || COALESCE(json_extract(j.value, '$.category'), 'other'),
           -CAST(ROUND(CAST(json_extract(j.value, '$.net') AS REAL) * 100) AS INTEGER),
           -CAST(ROUND(CAST(json_extract(j.value, '$.gross') AS REAL) * 100) AS INTEGER), -1
    FROM json_each(OLD.receipt, '$.basket.lines') AS j WHERE true
    ON CONFLICT (day, store_id, tier_code, metric) DO UPDATE SET amount = amount + excluded.amount,
        extra = extra + excluded.extra, n = n + excluded.n;
END;

CREATE TRIGGER mem_stat_card AFTER INSERT ON mem_cards
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    SELECT substr(NEW.created_at, 1, 10), NEW.store_id, m.tier_code, 'card_issued', 0, 1
    FROM mem_members m WHERE m.id = NEW.member_id
    ON CONFLICT (day, store_id, tier_code, metric) DO UPDATE SET amount = amount + excluded.amount,
        extra = extra + excluded.extra, n = n + excluded.n;
END;

CREATE TRIGGER mem_stat_gift AFTER INSERT ON mem_gift_redemptions
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    SELECT substr(NEW.created_at, 1, 10), NEW.store_id, m.tier_code, 'gift', NEW.points, 1
    FROM mem_members m WHERE m.id = NEW.member_id
    ON CONFLICT (day, store_id, tier_code, metric) DO UPDATE SET amount = amount + excluded.amount,
        extra = extra + excluded.extra, n = n + excluded.n;
END;

CREATE TRIGGER mem_stat_coupon_used AFTER UPDATE OF status ON mem_coupons
    WHEN NEW.status = 'used' AND OLD.status <> 'used'
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    SELECT substr(NEW.used_at, 1, 10), NEW.store_id, m.tier_code, 'coupon_used', 0, 1
    FROM mem_members m WHERE m.id = NEW.member_id
    ON CONFLICT (day, store_id, tier_code, metric) DO UPDATE SET amount = amount + excluded.amount,
        extra = extra + excluded.extra, n = n + excluded.n;
END;

CREATE TRIGGER mem_stat_coupon_returned AFTER UPDATE OF status ON mem_coupons
    WHEN OLD.status = 'used' AND NEW.status <> 'used'
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    SELECT substr(OLD.used_at, 1, 10), OLD.store_id, m.tier_code, 'coupon_used', 0, -1
    FROM mem_members m WHERE m.id = OLD.member_id
    ON CONFLICT (day, store_id, tier_code, metric) DO UPDATE SET amount = amount + excluded.amount,
        extra = extra + excluded.extra, n = n + excluded.n;
END;
