DROP INDEX mem_coupons_used;
DROP INDEX mem_gift_redemptions_stats;
DROP INDEX mem_cards_stats;
DROP INDEX mem_checkouts_stats;
DROP INDEX mem_points_entries_stats;
DROP INDEX mem_sv_entries_stats;
DROP TRIGGER mem_checkout_lines_fill ON mem_checkouts;
DROP FUNCTION mem_checkout_lines_fill();
DROP TABLE mem_checkout_lines;
