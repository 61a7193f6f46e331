-- The ledger statistics triggers (000120) fire once per INSERT statement instead of once per
-- row: a checkout or a top-up writes its entries in one multi-row INSERT, and an import in a
-- few large ones, so one set-based insert of facts from the statement's new rows replaces a
-- PL/pgSQL call and a join per entry. The facts written are the same.
DROP TRIGGER mem_stat_sv ON mem_sv_entries;
DROP TRIGGER mem_stat_points ON mem_points_entries;

CREATE FUNCTION mem_stat_sv_rows() RETURNS trigger AS $$
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    SELECT to_char(e.created_at, 'YYYY-MM-DD'), e.store_id, m.tier_code, 'sv:' || e.account,
           e.amount_fen, 1
    FROM new_entries e JOIN mem_sv_txns x ON x.id = e.txn_id JOIN mem_cards cd ON cd.id = x.card_id
        JOIN mem_members m ON m.id = cd.member_id
    WHERE e.card_id IS NULL;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER mem_stat_sv AFTER INSERT ON mem_sv_entries REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION mem_stat_sv_rows();

CREATE FUNCTION mem_stat_points_rows() RETURNS trigger AS $$
BEGIN
    INSERT INTO mem_stat_facts (day, store_id, tier_code, metric, amount, n)
    SELECT to_char(e.created_at, 'YYYY-MM-DD'), e.store_id, m.tier_code, 'pt:' || e.account,
           e.amount, 1
    FROM new_entries e JOIN mem_points_txns x ON x.id = e.txn_id JOIN mem_members m ON m.id = x.member_id
    WHERE e.member_id IS NULL AND e.track = 'redeemable';
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER mem_stat_points AFTER INSERT ON mem_points_entries REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION mem_stat_points_rows();
