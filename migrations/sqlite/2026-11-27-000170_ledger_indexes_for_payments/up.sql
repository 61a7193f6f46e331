-- The ledgers' indexes, shaped for a payment's writes (measured with the checkout benchmark
-- on SQLite, where one writer does every payment's index work).
--
-- A card's (a member's) transactions are found through its entries, which every transaction
-- that moved its money (points) has (crates/membership/src/history.rs): the transactions'
-- own index by card (member) was one more page of a different card written by every payment.
-- The entries' index by card (member) is now in transaction order, so that a payment's
-- entries on one card sit together at the end of the card's range (by account or track they
-- were two pages), and a history page is read in index order. Counter entries have no card
-- (member) and are not indexed by it.
DROP INDEX mem_sv_txns_card;
DROP INDEX mem_points_txns_member;
DROP INDEX mem_sv_entries_card;
CREATE INDEX mem_sv_entries_card ON mem_sv_entries (card_id, txn_id) WHERE card_id IS NOT NULL;
DROP INDEX mem_points_entries_member;
CREATE INDEX mem_points_entries_member ON mem_points_entries (member_id, txn_id)
    WHERE member_id IS NOT NULL;
