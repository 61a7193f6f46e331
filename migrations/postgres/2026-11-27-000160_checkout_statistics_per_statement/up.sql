-- A batch of checkouts is one INSERT into mem_checkouts (crates/membership/src/checkout.rs):
-- their statistics facts, like the ledgers' (000150), are now written once per statement
-- from its new rows, each receipt parsed once. Voids stay row by row (one at a time anyway).
-- The facts written are the same.
DROP TRIGGER mem_stat_checkout ON mem_checkouts;
CREATE TRIGGER mem_stat_checkout AFTER UPDATE OF status ON mem_checkouts
    FOR EACH ROW EXECUTE FUNCTION mem_stat_checkout();

CREATE FUNCTION mem_stat_checkout_rows() RETURNS trigger AS $$
BEGIN
    WITH k AS (
        SELECT to_char(created_at, 'YYYY-MM-DD') AS day, store_id, total_fen, receipt::jsonb AS doc
        FROM new_checkouts
    )
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, extra, n)
    SELECT day, store_id, COALESCE(doc->'basket'->>'tier_code', ''), 'checkout', total_fen, 0, 1
    FROM k
    UNION ALL
    SELECT day, store_id, COALESCE(doc->'basket'->>'tier_code', ''),
           'cat:' || COALESCE(l->>'category', 'other'),
           round((l->>'net')::numeric * 100)::bigint,
           round((l->>'gross')::numeric * 100)::bigint, 1
    FROM k, jsonb_array_elements(doc->'basket'->'lines') AS l;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER mem_stat_checkout_rows AFTER INSERT ON mem_checkouts
    REFERENCING NEW TABLE AS new_checkouts
    FOR EACH STATEMENT EXECUTE FUNCTION mem_stat_checkout_rows();
