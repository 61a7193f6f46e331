//! The member club (会员): programmes and tiers, cards and their lifecycle, the stored-value and
//! points ledgers, coupons, gifts and checkout pricing. Money and points move only through
//! this crate's append-only ledgers.
//!
//! Every function takes the caller's [`dms_core::StoreScope`] (rows of other stores read as not
//! found), an [`dms_identity::Actor`] for the audit log and a [`dms_core::Clock`]; every
//! money-moving one takes an idempotency key (see [`idempotency`]).
//!
//! Decisions worth knowing before calling in:
//! * Stored value lives on the card (principal, and bonus in lots with their own expiry);
//!   points and tier live on the member, so a replacement card needs to move only money.
//! * The programme is one JSON document per scope (group default, optional store override that
//!   replaces it whole); without one, [`ProgrammeConfig::default`] holds the seed figures.
//! * Each ledger transaction sums to zero against named counter accounts (`tender:cash`,
//!   `sales`, `refund:transfer`, `bonus_promotion`, `bonus_expired`, `earned`, `redeemed`...);
//!   [`verify_ledgers`] checks every invariant and the tests call it after every scenario.
//! * Rounding: see the `checkout` module (half away from zero per line; coupon shares and
//!   points down).
//! * Errors: [`MembershipError`]; `NotFound` also for rows outside the caller's stores.
//! * Permission checks are the server's: functions that need one take a flag the server set
//!   ([`CheckoutPermissions`]), or are documented as needing one (points adjustment, config).

pub mod cards;
pub mod checkout;
pub mod config;
pub mod coupons;
pub mod entitlements;
mod error;
pub mod export;
pub mod gifts;
pub mod history;
pub mod idempotency;
pub mod import;
mod ledger;
pub mod lifecycle;
pub mod members;
pub mod merge;
pub mod pending_bills;
pub mod pin;
pub mod points;
pub mod schema;
pub mod statistics;
pub mod stored_value;
pub mod tiers;
pub mod top_up_requests;
mod util;

pub use cards::{
    card_by_chip, card_by_number, cards_of_member, change_expiry, freeze, get_card, issue_card,
    issue_cards_batch, mask_card_no, report_lost, unblock, Card, IssueCard,
};
pub use checkout::{
    checkout, checkout_batch, checkout_with_pin, get_receipt, price_basket, quote, void_checkout,
    AppliedCoupon, BasketLine, CheckoutJob, CheckoutPermissions, CheckoutRequest, DiscountOverride,
    PricedBasket, PricedLine, Receipt, Tender, VoidCheckout,
};
pub use config::{
    clear_store_config, effective_config, group_config, set_config, BonusSpendOrder, Category,
    Entitlement, ProgrammeConfig, RenewalRules, Tier, TopUpBonusRule, UpgradeRules,
};
pub use coupons::{
    coupons_of_member, create_coupon_template, issue_coupon, issue_coupons_to_segment, void_coupon,
    Coupon, CouponKind, CouponTemplate, NewCouponTemplate, Segment,
};
pub use entitlements::{entitlements, use_entitlement, EntitlementBalance, UseEntitlement};
pub use error::{MembershipError, Result};
pub use gifts::{
    create_gift, list_gifts, redeem_gift, restock_gift, Gift, GiftRedemption, NewGift, RedeemGift,
};
pub use history::{
    card_transactions, cards_of_customer, list_checkouts, list_members, points_transactions,
    transactions_moving_card, CheckoutSummary, PointsTransaction, SvTransaction,
};
pub use idempotency::{purge_idempotency, Replayable};
pub use ledger::{verify_ledgers, LedgerCheck};
pub use lifecycle::{
    replace_card, return_card, ReplaceCard, ReplaceResult, ReturnCard, ReturnResult,
};
pub use members::{get_member, join_member, member_by_customer, JoinChannel, JoinMember, Member};
pub use pin::{change_pin, reset_pin, set_pin, verify_pin, Pin, PinPolicy};
pub use points::{
    adjust_points, expire_points, record_insurance, renew_membership, upgrade_with_points,
    AdjustPoints, PointsBalances, PointsTrack, RenewMembership, Renewal, UpgradeWithPoints,
};
pub use statistics::{club_statistics, statistics_by_day, statistics_by_store, ClubStatistics};
pub use stored_value::{
    card_balances, debit, expire_bonus, split_by_order, top_up, Balances, Debit, DebitResult,
    PaymentMethod, TopUp, TopUpResult,
};
pub use tiers::{evaluate_tiers, run_daily, DailyReport, TierEvaluation};
