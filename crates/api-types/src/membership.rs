//! Bodies of the member club's endpoints (`/api/v1/members`, `/cards`, `/checkouts`, ...).
//!
//! Money is a decimal string with at most two places (`"680.00"`, `"12.5"`); anything finer,
//! a number instead of a string, or a sign where none is allowed is a 422 naming the field.
//! Every request body refuses unknown fields.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

/// Pattern of an amount of money in requests: up to 12 integer digits and two decimals.
pub const MONEY_PATTERN: &str = r"^-?[0-9]{1,12}(\.[0-9]{1,2})?$";

fn money_ok(s: &str, allow_negative: bool) -> bool {
    let digits = match s.strip_prefix('-') {
        Some(rest) if allow_negative => rest,
        Some(_) => return false,
        None => s,
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let int_ok = (1..=12).contains(&int.len()) && int.bytes().all(|b| b.is_ascii_digit());
    let frac_ok =
        frac.is_none_or(|f| (1..=2).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()));
    int_ok && frac_ok
}

/// A non-negative amount with at most two decimals.
pub fn validate_money(s: &str) -> Result<(), ValidationError> {
    if money_ok(s, false) {
        Ok(())
    } else {
        let mut e = ValidationError::new("money_format");
        e.message = Some(
            "a non-negative amount as a string with at most two decimals, e.g. \"680.00\"".into(),
        );
        Err(e)
    }
}

/// A strictly positive amount with at most two decimals.
pub fn validate_positive_money(s: &str) -> Result<(), ValidationError> {
    validate_money(s)?;
    if s.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        Ok(())
    } else {
        let mut e = ValidationError::new("not_positive");
        e.message = Some("must be more than zero".into());
        Err(e)
    }
}

/// A quantity: positive, at most three decimals.
pub fn validate_quantity(s: &str) -> Result<(), ValidationError> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let ok = (1..=6).contains(&int.len())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| (1..=3).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()))
        && s.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if ok {
        Ok(())
    } else {
        let mut e = ValidationError::new("quantity_format");
        e.message = Some("a positive number as a string with at most three decimals".into());
        Err(e)
    }
}

/// A percentage 0-100 with at most two decimals.
pub fn validate_percent(s: &str) -> Result<(), ValidationError> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let ok = money_ok(s, false)
        && int
            .parse::<u32>()
            .is_ok_and(|i| i < 100 || (i == 100 && frac.bytes().all(|b| b == b'0')));
    if ok {
        Ok(())
    } else {
        let mut e = ValidationError::new("percent_format");
        e.message = Some("0-100 as a string with at most two decimals".into());
        Err(e)
    }
}

fn validate_pin(s: &str) -> Result<(), ValidationError> {
    if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        let mut e = ValidationError::new("pin_format");
        e.message = Some("six digits".into());
        Err(e)
    }
}

/// What a basket line is for; discount rates and earning ratios are set per category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Labour,
    Parts,
    Accessories,
    Detailing,
    Modification,
    Vehicle,
    Other,
}

/// How money was paid in (or back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    BankCard,
    Transfer,
    Online,
}

/// How the customer joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JoinChannel {
    Purchase,
    BringOwnCar,
    Spend,
    DrivingSchool,
    Fee,
}

// ---------------------------------------------------------------- members

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinMemberRequest {
    pub customer_id: String,
    /// The store the member belongs to (one of the caller's).
    pub store_id: String,
    pub channel: JoinChannel,
    /// An explicit starting tier; otherwise the best the fee or past spend buys.
    #[serde(default)]
    #[validate(length(min = 1, max = 32))]
    pub tier_code: Option<String>,
    #[serde(default)]
    #[validate(custom(function = "validate_money"))]
    #[schema(pattern = r"^[0-9]{1,12}(\.[0-9]{1,2})?$", example = "1000.00")]
    pub fee_paid: Option<String>,
    #[serde(default)]
    #[validate(custom(function = "validate_money"))]
    #[schema(pattern = r"^[0-9]{1,12}(\.[0-9]{1,2})?$")]
    pub past_spend: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberDto {
    pub id: String,
    pub store_id: String,
    pub customer_id: String,
    pub tier_code: String,
    pub join_channel: String,
    /// `active`, `expired` or `closed`.
    pub status: String,
    pub joined_at: DateTime<Utc>,
    pub term_expires_at: DateTime<Utc>,
    pub tier_points: i64,
    pub redeemable_points: i64,
}

crate::page_type!(MemberPage, MemberDto);

/// A customer's membership as the customer 360 shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MembershipSummaryDto {
    pub customer_id: String,
    /// Absent when the customer is not a member.
    pub member: Option<MemberDto>,
    pub cards: Vec<CardDto>,
}

// ---------------------------------------------------------------- cards

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueCardRequest {
    pub member_id: String,
    /// A pre-printed number (6-32 letters or digits); absent: one is made.
    #[serde(default)]
    #[validate(length(min = 6, max = 32))]
    pub card_no: Option<String>,
    /// The chip's UID, bound to the number for the card reader.
    #[serde(default)]
    #[validate(length(min = 4, max = 32))]
    pub chip_uid: Option<String>,
    /// Default: the programme's card validity from today.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchIssueCardsRequest {
    /// 1-1000 cards, all issued or none.
    #[validate(length(min = 1, max = 1000), nested)]
    pub cards: Vec<IssueCardRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CardDto {
    pub id: String,
    pub store_id: String,
    pub member_id: String,
    pub card_no: String,
    pub masked_card_no: String,
    pub chip_uid: Option<String>,
    /// `active`, `lost`, `frozen`, `replaced` or `closed` (returned).
    pub status: String,
    pub expires_at: DateTime<Utc>,
    /// Refundable stored value.
    #[schema(example = "680.00")]
    pub principal: String,
    /// Top-up bonus (not refundable; expires by lot).
    pub bonus: String,
    /// principal + bonus.
    pub balance: String,
    pub pin_locked: bool,
    pub replaced_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CardListDto {
    pub items: Vec<CardDto>,
}

/// Exactly one of `number` and `chip_uid`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CardLookupParams {
    /// The printed card number.
    #[validate(length(min = 1, max = 32))]
    pub number: Option<String>,
    /// The chip UID as the reader reports it.
    #[validate(length(min = 1, max = 32))]
    pub chip_uid: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeExpiryRequest {
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceCardRequest {
    #[serde(default)]
    #[validate(length(min = 6, max = 32))]
    pub new_card_no: Option<String>,
    #[serde(default)]
    #[validate(length(min = 4, max = 32))]
    pub new_chip_uid: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReplaceCardDto {
    pub old_card_id: String,
    pub new_card: CardDto,
    pub principal_moved: String,
    pub bonus_moved: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnCardRequest {
    pub refund_method: PaymentMethod,
    #[validate(length(min = 1, max = 200))]
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReturnCardDto {
    pub card_id: String,
    pub refunded: String,
    pub bonus_forfeited: String,
}

/// One stored-value transaction of a card. `amount` is the transaction's own figure (what was
/// paid in, spent, refunded); `balance_change` its effect on this card (principal and bonus
/// together, positive in, negative out), so the `balance_change`s of all of a card's
/// transactions sum to its balance.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CardTransactionDto {
    pub id: String,
    pub store_id: String,
    /// `topup`, `debit`, `checkout`, `checkout_void`, `replace`, `return`, `bonus_expiry`.
    pub kind: String,
    pub amount: String,
    pub principal_change: String,
    pub bonus_change: String,
    pub balance_change: String,
    pub payment_method: Option<String>,
    pub ref_id: Option<String>,
    pub reverses_txn_id: Option<String>,
    pub terminal_id: Option<String>,
    pub memo: String,
    pub created_at: DateTime<Utc>,
}

crate::page_type!(CardTransactionPage, CardTransactionDto);

// ---------------------------------------------------------------- top-up

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopUpRequest {
    #[validate(custom(function = "validate_positive_money"))]
    #[schema(pattern = r"^[0-9]{1,12}(\.[0-9]{1,2})?$", example = "1000.00")]
    pub amount: String,
    pub payment_method: PaymentMethod,
    #[serde(default)]
    #[validate(length(min = 1, max = 64))]
    pub terminal_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TopUpDto {
    pub txn_id: String,
    pub card_id: String,
    pub masked_card_no: String,
    pub paid: String,
    /// Bonus the programme's top-up rules added.
    pub bonus: String,
    pub bonus_expires_at: Option<DateTime<Utc>>,
    pub principal_after: String,
    pub bonus_after: String,
}

// ---------------------------------------------------------------- checkout

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BasketLineDto {
    pub category: Category,
    #[serde(default)]
    #[validate(length(min = 1, max = 64))]
    pub item_code: Option<String>,
    #[validate(length(min = 1, max = 200))]
    pub description: String,
    /// Up to three decimals (litres of oil).
    #[validate(custom(function = "validate_quantity"))]
    #[schema(example = "1")]
    pub quantity: String,
    #[validate(custom(function = "validate_money"))]
    #[schema(pattern = r"^[0-9]{1,12}(\.[0-9]{1,2})?$", example = "380.00")]
    pub unit_price: String,
    /// Paid by an insurer: no member discount, no points.
    #[serde(default)]
    pub insurer_paid: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscountOverrideDto {
    /// Percent off for every customer-paid line, e.g. `"15"`.
    #[validate(custom(function = "validate_percent"))]
    pub percent: String,
    #[validate(length(min = 1, max = 200))]
    pub reason: String,
}

/// How a part of the bill is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenderKind {
    /// From the card in the programme's spending order (principal and bonus).
    StoredValue,
    /// From the card's bonus only.
    Bonus,
    Cash,
    BankCard,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenderDto {
    pub kind: TenderKind,
    #[validate(custom(function = "validate_positive_money"))]
    #[schema(pattern = r"^[0-9]{1,12}(\.[0-9]{1,2})?$", example = "100.00")]
    pub amount: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    pub card_id: String,
    /// Where the checkout happens (one of the caller's stores).
    pub store_id: String,
    #[validate(length(min = 1, max = 200), nested)]
    pub lines: Vec<BasketLineDto>,
    #[serde(default)]
    #[validate(length(max = 10))]
    pub coupon_ids: Vec<String>,
    /// Redeemable points used as a tender.
    #[serde(default)]
    #[validate(range(min = 0, max = 100000000))]
    pub redeem_points: i64,
    /// Needs `membership.override`; audited.
    #[serde(default)]
    #[validate(nested)]
    pub discount_override: Option<DiscountOverrideDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    pub card_id: String,
    pub store_id: String,
    #[serde(default)]
    #[validate(length(min = 1, max = 64))]
    pub terminal_id: Option<String>,
    #[validate(length(min = 1, max = 200), nested)]
    pub lines: Vec<BasketLineDto>,
    #[serde(default)]
    #[validate(length(max = 10))]
    pub coupon_ids: Vec<String>,
    #[serde(default)]
    #[validate(range(min = 0, max = 100000000))]
    pub redeem_points: i64,
    /// Together they must equal what the member pays (after points).
    #[validate(length(max = 10), nested)]
    pub tenders: Vec<TenderDto>,
    /// Needs `membership.override`; audited.
    #[serde(default)]
    #[validate(nested)]
    pub discount_override: Option<DiscountOverrideDto>,
    /// The card PIN, when the member authorises with it (kiosk). Never echoed or logged.
    #[serde(default)]
    #[validate(custom(function = "validate_pin"))]
    #[schema(write_only, pattern = "^[0-9]{6}$")]
    pub pin: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PricedLineDto {
    pub category: Category,
    pub item_code: Option<String>,
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    pub insurer_paid: bool,
    pub gross: String,
    pub discount_percent: String,
    pub tier_discount: String,
    pub coupon_discount: String,
    pub net: String,
    pub points_earned: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AppliedCouponDto {
    pub coupon_id: String,
    pub name: String,
    pub discount: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PricedBasketDto {
    pub tier_code: String,
    pub lines: Vec<PricedLineDto>,
    pub coupons: Vec<AppliedCouponDto>,
    pub subtotal: String,
    pub tier_discount: String,
    pub coupon_discount: String,
    pub total: String,
    pub insurer_pays: String,
    pub member_pays: String,
    pub points_redeemed: i64,
    pub points_value: String,
    pub points_earned: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReceiptDto {
    pub checkout_id: String,
    pub store_id: String,
    /// The paying member.
    pub member_id: String,
    pub terminal_id: Option<String>,
    pub at: DateTime<Utc>,
    pub cashier: String,
    pub masked_card_no: String,
    pub basket: PricedBasketDto,
    pub discount_override: Option<DiscountOverrideDto>,
    pub tenders: Vec<TenderDto>,
    pub principal_used: String,
    pub bonus_used: String,
    pub principal_after: String,
    pub bonus_after: String,
    pub tier_points_after: i64,
    pub redeemable_points_after: i64,
    pub voided: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckoutSummaryDto {
    pub id: String,
    pub store_id: String,
    pub card_id: String,
    pub member_id: String,
    pub terminal_id: Option<String>,
    /// `completed` or `voided`.
    pub status: String,
    pub subtotal: String,
    pub discount: String,
    pub total: String,
    pub created_at: DateTime<Utc>,
}

crate::page_type!(CheckoutPage, CheckoutSummaryDto);

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CheckoutListParams {
    /// Only this card's checkouts.
    pub card_id: Option<String>,
    /// Only this store's checkouts.
    #[validate(length(min = 1, max = 64))]
    pub store_id: Option<String>,
    #[validate(length(min = 1, max = 200))]
    pub cursor: Option<String>,
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

// ---------------------------------------------------------------- PIN

#[derive(Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPinRequest {
    /// The new PIN, six digits.
    #[validate(custom(function = "validate_pin"))]
    #[schema(write_only, pattern = "^[0-9]{6}$")]
    pub pin: String,
    /// The current PIN, required when one is set.
    #[serde(default)]
    #[validate(custom(function = "validate_pin"))]
    #[schema(write_only, pattern = "^[0-9]{6}$")]
    pub old_pin: Option<String>,
}

#[derive(Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPinRequest {
    #[validate(length(min = 1, max = 200))]
    pub reason: String,
    /// Absent: the PIN is cleared and the member sets a new one.
    #[serde(default)]
    #[validate(custom(function = "validate_pin"))]
    #[schema(write_only, pattern = "^[0-9]{6}$")]
    pub new_pin: Option<String>,
}

#[derive(Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyPinRequest {
    #[validate(custom(function = "validate_pin"))]
    #[schema(write_only, pattern = "^[0-9]{6}$")]
    pub pin: String,
}

// Redacted: a PIN never reaches a log through Debug.
macro_rules! redacted_debug {
    ($($t:ty),*) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($t), " { <redacted> }"))
            }
        }
    )*};
}
redacted_debug!(SetPinRequest, ResetPinRequest, VerifyPinRequest);

// ---------------------------------------------------------------- points

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PointsTrack {
    /// Cumulative, drive the tier.
    Tier,
    /// Spent on gifts, renewals, checkouts.
    Redeemable,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PointsDto {
    pub member_id: String,
    pub tier_points: i64,
    pub redeemable_points: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PointsTransactionDto {
    pub id: String,
    pub store_id: String,
    pub kind: String,
    pub reason: String,
    pub tier_delta: i64,
    pub redeemable_delta: i64,
    pub created_at: DateTime<Utc>,
}

crate::page_type!(PointsTransactionPage, PointsTransactionDto);

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustPointsRequest {
    pub track: PointsTrack,
    /// Positive adds, negative takes away (never below zero); not zero.
    #[validate(range(min = -10000000, max = 10000000))]
    pub delta: i64,
    #[validate(length(min = 1, max = 200))]
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RenewalMethod {
    Fee,
    Points,
    Insurance,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    pub method: RenewalMethod,
    /// The fee paid (`fee`) or the insurance premium (`insurance`).
    #[serde(default)]
    #[validate(custom(function = "validate_positive_money"))]
    pub amount: Option<String>,
}

// ---------------------------------------------------------------- coupons

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CouponKindCode {
    AmountOff,
    PercentOff,
    FreeItem,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCouponTemplateRequest {
    /// Absent: valid in every store (needs a group-wide role).
    #[serde(default)]
    pub store_id: Option<String>,
    #[validate(length(min = 1, max = 64))]
    pub name: String,
    pub kind: CouponKindCode,
    /// `amount_off`: the amount.
    #[serde(default)]
    #[validate(custom(function = "validate_positive_money"))]
    pub amount: Option<String>,
    /// `percent_off`: basis points 1-10000 (1000 = 10 %).
    #[serde(default)]
    #[validate(range(min = 1, max = 10000))]
    pub percent_bp: Option<i32>,
    /// `percent_off`: the most it takes off.
    #[serde(default)]
    #[validate(custom(function = "validate_positive_money"))]
    pub cap: Option<String>,
    /// `free_item`: the item code one unit of which is free.
    #[serde(default)]
    #[validate(length(min = 1, max = 64))]
    pub item_code: Option<String>,
    #[serde(default)]
    #[validate(custom(function = "validate_money"))]
    pub min_spend: Option<String>,
    /// Empty: every category.
    #[serde(default)]
    pub categories: Vec<Category>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    #[serde(default)]
    #[validate(range(min = 1, max = 1000))]
    pub per_member_limit: Option<i32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CouponTemplateDto {
    pub id: String,
    pub store_id: Option<String>,
    pub name: String,
    pub kind: String,
    pub amount: String,
    pub percent_bp: i32,
    pub cap: Option<String>,
    pub item_code: Option<String>,
    pub min_spend: String,
    pub categories: Vec<String>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub per_member_limit: i32,
    pub active: bool,
}

crate::page_type!(CouponTemplatePage, CouponTemplateDto);

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueCouponRequest {
    pub template_id: String,
    pub member_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueCouponSegmentRequest {
    pub template_id: String,
    /// Only members of this tier.
    #[serde(default)]
    pub tier_code: Option<String>,
    /// Only members of this store.
    #[serde(default)]
    pub store_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IssuedCountDto {
    pub issued: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CouponDto {
    pub id: String,
    pub template_id: String,
    /// The template's name, as the member sees the coupon (e.g. "保养立减50元").
    pub name: String,
    pub store_id: String,
    pub member_id: String,
    /// `issued`, `used` or `voided`.
    pub status: String,
    pub issued_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub used_checkout_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CouponListDto {
    pub items: Vec<CouponDto>,
}

// ---------------------------------------------------------------- gifts

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGiftRequest {
    /// Absent: the group catalogue (needs a group-wide role).
    #[serde(default)]
    pub store_id: Option<String>,
    #[validate(length(min = 1, max = 64))]
    pub name: String,
    #[validate(range(min = 1, max = 100000000))]
    pub points_cost: i64,
    #[validate(range(min = 0, max = 1000000))]
    pub stock: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GiftDto {
    pub id: String,
    pub store_id: Option<String>,
    pub name: String,
    pub points_cost: i64,
    pub stock: i32,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GiftListDto {
    pub items: Vec<GiftDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestockGiftRequest {
    /// Added (negative: removed) stock; not zero.
    #[validate(range(min = -1000000, max = 1000000))]
    pub delta: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemGiftRequest {
    pub member_id: String,
    #[validate(range(min = 1, max = 100))]
    pub quantity: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GiftRedemptionDto {
    pub redemption_id: String,
    pub gift_name: String,
    pub quantity: i32,
    pub points_spent: i64,
    pub redeemable_points_after: i64,
}

// ---------------------------------------------------------------- entitlements

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntitlementDto {
    pub code: String,
    pub name: String,
    pub per_year: u32,
    pub used: u32,
    pub left: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntitlementListDto {
    pub items: Vec<EntitlementDto>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UseEntitlementRequest {
    /// The work order or checkout it was used on.
    #[serde(default)]
    #[validate(length(min = 1, max = 64))]
    pub ref_id: Option<String>,
}

// ---------------------------------------------------------------- programme and statistics

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProgrammeParams {
    /// The store whose effective programme to show; absent: the group's.
    pub store_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetProgrammeRequest {
    /// Absent: the group programme (group-wide role); present: that store's override.
    #[serde(default)]
    pub store_id: Option<String>,
    /// The whole programme document (tiers, earning ratios, top-up bonus rules, renewal and
    /// upgrade rules), as `GET /membership/programme` returns it.
    #[schema(value_type = Object)]
    pub programme: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProgrammeDto {
    pub store_id: Option<String>,
    #[schema(value_type = Object)]
    pub programme: serde_json::Value,
}

/// How a statistics period is cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatisticsGranularity {
    Day,
    #[default]
    Month,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatisticsParams {
    /// First day (UTC), inclusive.
    pub from: NaiveDate,
    /// Last day, exclusive; at most 366 days after `from`.
    pub to: NaiveDate,
    /// One store; absent: every store of the caller's.
    pub store_id: Option<String>,
    /// Only what members did while in this tier (tier code, e.g. `gold`).
    #[validate(length(min = 1, max = 64))]
    pub tier: Option<String>,
    /// `by_period` per `day` or `month` (default `month`; `by_day=true` means `day`).
    pub granularity: Option<StatisticsGranularity>,
    /// Also one row per UTC day (`by_day`); the same as `granularity=day`.
    #[serde(default)]
    pub by_day: bool,
}

/// A statistics export file's format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatisticsExportFormat {
    #[default]
    Xlsx,
    Csv,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatisticsExportParams {
    /// First day (UTC), inclusive.
    pub from: NaiveDate,
    /// Last day, exclusive; at most 366 days after `from`.
    pub to: NaiveDate,
    /// One store; absent: every store of the caller's.
    pub store_id: Option<String>,
    /// Only what members did while in this tier (tier code).
    #[validate(length(min = 1, max = 64))]
    pub tier: Option<String>,
    /// Rows per `day` or `month` (default `month`).
    pub granularity: Option<StatisticsGranularity>,
    /// `xlsx` (default) or `csv` (UTF-8 with BOM, so Excel reads the Chinese headers).
    #[param(inline)]
    pub format: Option<StatisticsExportFormat>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatisticsDto {
    pub topped_up: String,
    pub bonus_granted: String,
    pub consumed: String,
    pub refunded: String,
    pub bonus_forfeited: String,
    pub checkouts: i64,
    pub checkouts_voided: i64,
    pub checkout_total: String,
    pub cards_issued: i64,
    pub points_earned: i64,
    pub points_redeemed: i64,
    pub gift_redemptions: i64,
    pub gift_points: i64,
    pub coupons_used: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StoreStatisticsDto {
    pub store_id: String,
    pub statistics: StatisticsDto,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DayStatisticsDto {
    pub day: NaiveDate,
    pub statistics: StatisticsDto,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PeriodStatisticsDto {
    /// `YYYY-MM-DD` (day) or `YYYY-MM` (month).
    pub period: String,
    pub statistics: StatisticsDto,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TierStatisticsDto {
    /// The member tier at the time of each movement.
    pub tier_code: String,
    pub statistics: StatisticsDto,
}

/// Net consumption of one category in completed checkouts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CategoryStatisticsDto {
    /// `labour`, `parts`, `accessories`, `detailing`, `modification`, `vehicle` or `other`.
    pub category: String,
    /// Basket lines of that category.
    pub lines: i64,
    /// Before discounts.
    pub gross: String,
    /// After discounts; the categories sum to `total.checkout_total`.
    pub net: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatisticsReportDto {
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[serde(default)]
    pub granularity: StatisticsGranularity,
    pub total: StatisticsDto,
    /// Every store of the caller's (or the one asked); the stores sum to `total`.
    pub by_store: Vec<StoreStatisticsDto>,
    /// With `by_day=true` or `granularity=day`: every day of the period; the days sum to `total`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_day: Vec<DayStatisticsDto>,
    /// Every day or month of the period (zeros included); they sum to `total`.
    #[serde(default)]
    pub by_period: Vec<PeriodStatisticsDto>,
    /// Per member tier at the time of each movement; the tiers sum to `total`.
    #[serde(default)]
    pub by_tier: Vec<TierStatisticsDto>,
    /// Consumption per category in completed checkouts.
    #[serde(default)]
    pub by_category: Vec<CategoryStatisticsDto>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_strings() {
        assert!(validate_money("680.00").is_ok());
        assert!(validate_money("12.5").is_ok());
        assert!(validate_money("0").is_ok());
        assert!(validate_money("12.345").is_err());
        assert!(validate_money("-1.00").is_err());
        assert!(validate_money("1e3").is_err());
        assert!(validate_money("").is_err());
        assert!(validate_positive_money("0.00").is_err());
        assert!(validate_positive_money("0.01").is_ok());
        assert!(validate_quantity("1.5").is_ok());
        assert!(validate_quantity("0").is_err());
        assert!(validate_percent("100").is_ok());
        assert!(validate_percent("15.5").is_ok());
        assert!(validate_percent("101").is_err());
    }
}
