DROP TRIGGER mem_stat_checkout_rows ON mem_checkouts;
DROP FUNCTION mem_stat_checkout_rows();
DROP TRIGGER mem_stat_checkout ON mem_checkouts;
CREATE TRIGGER mem_stat_checkout AFTER INSERT OR UPDATE OF status ON mem_checkouts
    FOR EACH ROW EXECUTE FUNCTION mem_stat_checkout();
