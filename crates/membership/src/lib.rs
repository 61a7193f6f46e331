//! The member club (会员): programmes and tiers, cards and their lifecycle, the stored-value and
//! points ledgers, coupons, gifts and checkout pricing. Money and points move only through
//! this crate's append-only ledgers.
