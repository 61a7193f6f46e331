DROP INDEX mem_points_entries_member;
CREATE INDEX mem_points_entries_member ON mem_points_entries (member_id, track);
DROP INDEX mem_sv_entries_card;
CREATE INDEX mem_sv_entries_card ON mem_sv_entries (card_id, account);
CREATE INDEX mem_points_txns_member ON mem_points_txns (member_id);
CREATE INDEX mem_sv_txns_card ON mem_sv_txns (card_id);
