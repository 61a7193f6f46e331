-- Member club statistics at scale (crates/membership/src/statistics.rs). Every movement the
-- report counts becomes one fact row, written by a trigger in the same transaction as the
-- movement itself: a stored-value or points counter entry, a checkout and its lines (and their
-- reversal on a void), a card issued, a gift redemption, a coupon used (or given back). A fact
-- carries the UTC day, the store and the member's tier at that moment, so one month of the
-- report is one ordered range scan of the index below, grouped in index order, with no join
-- and no sort, whatever the size of the ledgers. Facts are never updated: a void adds
-- compensating rows. The report's totals are tested against sums over the ledgers themselves.
CREATE TABLE mem_stat_facts (
    id INTEGER PRIMARY KEY,
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

-- What happened before this migration (tiers as they are now).
INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
SELECT substr(e.created_at, 1, 10), e.store_id, m.tier_code, 'sv:' || e.account, e.amount_fen, 1
FROM mem_sv_entries e JOIN mem_sv_txns x ON x.id = e.txn_id JOIN mem_cards cd ON cd.id = x.card_id
    JOIN mem_members m ON m.id = cd.member_id
WHERE e.card_id IS NULL;
INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
SELECT substr(e.created_at, 1, 10), e.store_id, m.tier_code, 'pt:' || e.account, e.amount, 1
FROM mem_points_entries e JOIN mem_points_txns x ON x.id = e.txn_id JOIN mem_members m ON m.id = x.member_id
WHERE e.member_id IS NULL AND e.track = 'redeemable';
INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
SELECT substr(k.created_at, 1, 10), k.store_id, COALESCE(json_extract(k.receipt, '$.basket.tier_code'), ''),
       CASE k.status WHEN 'completed' THEN 'checkout' ELSE 'checkout_voided' END,
       CASE k.status WHEN 'completed' THEN k.total_fen ELSE 0 END, 1
FROM mem_checkouts k;
INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, extra, n)
SELECT substr(k.created_at, 1, 10), k.store_id, COALESCE(json_extract(k.receipt, '$.basket.tier_code'), ''),
       'cat:' || COALESCE(json_extract(j.value, '$.category'), 'other'),
       CAST(ROUND(CAST(json_extract(j.value, '$.net') AS REAL) * 100) AS INTEGER),
       CAST(ROUND(CAST(json_extract(j.value, '$.gross') AS REAL) * 100) AS INTEGER), 1
FROM mem_checkouts k, json_each(k.receipt, '$.basket.lines') AS j
WHERE k.status = 'completed';
INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
SELECT substr(cd.created_at, 1, 10), cd.store_id, m.tier_code, 'card_issued', 0, 1
FROM mem_cards cd JOIN mem_members m ON m.id = cd.member_id;
INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
SELECT substr(g.created_at, 1, 10), g.store_id, m.tier_code, 'gift', g.points, 1
FROM mem_gift_redemptions g JOIN mem_members m ON m.id = g.member_id;
INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
SELECT substr(u.used_at, 1, 10), u.store_id, m.tier_code, 'coupon_used', 0, 1
FROM mem_coupons u JOIN mem_members m ON m.id = u.member_id
WHERE u.status = 'used';
