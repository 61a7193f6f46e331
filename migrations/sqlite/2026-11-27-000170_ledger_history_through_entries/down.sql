CREATE INDEX mem_sv_txns_card ON mem_sv_txns (card_id);
CREATE INDEX mem_points_txns_member ON mem_points_txns (member_id);
