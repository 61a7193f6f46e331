DROP TRIGGER mem_stat_sv ON mem_sv_entries;
DROP TRIGGER mem_stat_points ON mem_points_entries;
DROP FUNCTION mem_stat_sv_rows();
DROP FUNCTION mem_stat_points_rows();
CREATE TRIGGER mem_stat_sv AFTER INSERT ON mem_sv_entries FOR EACH ROW EXECUTE FUNCTION mem_stat_sv();
CREATE TRIGGER mem_stat_points AFTER INSERT ON mem_points_entries FOR EACH ROW EXECUTE FUNCTION mem_stat_points();
