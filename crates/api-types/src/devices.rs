//! Card terminals (`/api/v1/devices`, `/auth/device`), the kiosk's own reads (`/kiosk/...`) and
//! pending bills (`/bills`): the bodies the server and the kiosk (`dms-kiosk`) share.
//!
//! Every request a terminal makes about a card carries the chip UID it read in the
//! [`CARD_UID_HEADER`] header; the server refuses the request when the UID does not belong to
//! the card the request names, and when that card is lost, frozen, closed or expired.

use crate::membership::{BasketLineDto, CardDto, PaymentMethod, ReceiptDto, TenderDto, TopUpDto};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::{Validate, ValidationError};

/// The header a terminal sends with the chip UID it read (hex, as the reader reports it).
pub const CARD_UID_HEADER: &str = "X-Card-Uid";

/// Token type of a terminal's access token (`typ` claim).
pub const DEVICE_TOKEN_TYPE: &str = "device_access";

fn validate_pin(s: &str) -> Result<(), ValidationError> {
    if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ValidationError::new("pin").with_message("six digits".into()))
    }
}

// ---------------------------------------------------------------- devices

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDeviceRequest {
    /// The store the terminal serves; it acts only there.
    pub store_id: String,
    /// Where it stands, e.g. `服务前台1号机`.
    #[validate(length(min = 1, max = 60))]
    #[schema(min_length = 1, max_length = 60)]
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceDto {
    pub id: String,
    pub store_id: String,
    pub name: String,
    /// `pending` (pairing code issued), `active` or `revoked`.
    pub status: String,
    pub pairing_expires_at: Option<DateTime<Utc>>,
    pub paired_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

crate::page_type!(DevicePage, DeviceDto);

/// A new terminal and its one-time pairing code: shown once, typed on the kiosk.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DevicePairingDto {
    pub device: DeviceDto,
    /// Ten digits; works once, until `pairing_expires_at`.
    pub pairing_code: String,
    pub pairing_expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeviceListParams {
    /// Only this store's terminals.
    pub store_id: Option<String>,
    #[validate(length(min = 1, max = 200))]
    pub cursor: Option<String>,
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

#[derive(Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevicePairRequest {
    /// The pairing code (dashes and spaces are ignored).
    #[validate(length(min = 1, max = 32))]
    #[schema(min_length = 1, max_length = 32)]
    pub code: String,
}

impl std::fmt::Debug for DevicePairRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DevicePairRequest { code: <redacted> }")
    }
}

/// Tokens for a terminal, and which terminal it is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeviceLoginResponse {
    /// JWT (`typ` = `device_access`, at most 15 minutes).
    pub access_token: String,
    /// Rotated through `/api/v1/auth/refresh` like any other.
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub refresh_expires_at: DateTime<Utc>,
    pub device: DeviceDto,
}

// ---------------------------------------------------------------- kiosk

/// What the kiosk shows after a tap.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KioskSummaryDto {
    pub card: CardDto,
    /// The holder's name with all but the first character hidden (`张**`).
    pub masked_name: String,
    pub member_id: String,
    pub tier_code: String,
    /// The tier's name in the programme (`金卡`).
    pub tier_name: String,
    pub tier_points: i64,
    pub redeemable_points: i64,
    /// Usable coupons.
    pub coupons: Vec<KioskCouponDto>,
    /// The store's name, for the receipt header.
    pub store_name: String,
    pub pin_set: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct KioskCouponDto {
    pub id: String,
    pub name: String,
}

/// What became of a money request the terminal sent with an `Idempotency-Key`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RequestOutcomeDto {
    pub key: String,
    /// `completed` (the server did it once; the result is here) or `unknown` (no request with
    /// this key reached the server, so nothing moved).
    pub status: String,
    /// `checkout` or `top_up`, when completed.
    pub operation: Option<String>,
    pub receipt: Option<ReceiptDto>,
    pub top_up: Option<TopUpDto>,
}

// ---------------------------------------------------------------- pending bills

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBillRequest {
    pub store_id: String,
    /// The card the bill is for; absent: any card of the store may pay it.
    #[serde(default)]
    pub card_id: Option<String>,
    /// The cashier's reference (work order, invoice), printed on the receipt.
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub reference: String,
    #[validate(length(min = 1, max = 200), nested)]
    pub lines: Vec<BasketLineDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BillDto {
    pub id: String,
    pub store_id: String,
    pub card_id: Option<String>,
    pub reference: String,
    pub lines: Vec<BasketLineDto>,
    /// Before member discounts: the quote says what the member pays.
    pub total: String,
    /// `open`, `paid` or `cancelled`.
    pub status: String,
    pub checkout_id: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

crate::page_type!(BillPage, BillDto);

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BillListParams {
    pub store_id: Option<String>,
    /// Bills for this card, and bills for any card.
    pub card_id: Option<String>,
    /// `open` (default), `paid` or `cancelled`.
    pub status: Option<String>,
    #[validate(length(min = 1, max = 200))]
    pub cursor: Option<String>,
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Pays a pending bill with a card: a checkout of the bill's lines.
#[derive(Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayBillRequest {
    pub card_id: String,
    #[serde(default)]
    #[validate(length(min = 1, max = 64))]
    pub terminal_id: Option<String>,
    #[serde(default)]
    #[validate(length(max = 10))]
    pub coupon_ids: Vec<String>,
    #[serde(default)]
    #[validate(range(min = 0, max = 100000000))]
    pub redeem_points: i64,
    #[validate(length(max = 10), nested)]
    pub tenders: Vec<TenderDto>,
    /// The card PIN (required from a terminal). Never echoed or logged.
    #[serde(default)]
    #[validate(custom(function = "validate_pin"))]
    #[schema(write_only, pattern = "^[0-9]{6}$")]
    pub pin: Option<String>,
}

impl std::fmt::Debug for PayBillRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayBillRequest")
            .field("card_id", &self.card_id)
            .field("tenders", &self.tenders)
            .field("pin", &self.pin.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

// ---------------------------------------------------------------- top-up requests

/// The kiosk asks for a top-up of the card it read (`X-Card-Uid`); the cashier confirms it
/// once the money is in hand (`POST /top-up-requests/{id}/confirm`).
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KioskTopUpRequest {
    pub card_id: String,
    /// The amount to pay in, e.g. `"1000.00"`: positive, at most two decimals.
    #[validate(custom(function = "crate::membership::validate_positive_money"))]
    #[schema(pattern = r"^[0-9]{1,12}(\.[0-9]{1,2})?$", example = "1000.00")]
    pub amount: String,
    /// What the member says they will pay with.
    pub payment_method: PaymentMethod,
}

/// A top-up the kiosk asked for, and what became of it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TopUpRequestDto {
    pub id: String,
    pub store_id: String,
    /// The terminal that asked.
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    pub card_id: String,
    pub masked_card_no: String,
    /// The holder's name; a terminal sees all but the first character hidden (`张**`).
    pub member_name: String,
    pub amount: String,
    /// What the programme's top-up rules add to this amount (the top-up's own `bonus` is what
    /// was added).
    pub expected_bonus: String,
    /// What the member said they would pay with.
    pub payment_method: PaymentMethod,
    /// Once confirmed: what the cashier received.
    pub received_method: Option<PaymentMethod>,
    /// `pending`, `confirmed`, `cancelled` or `expired` (pending for 15 minutes at most).
    pub status: String,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The staff member who confirmed or cancelled it (or the terminal that withdrew it).
    pub decided_by: Option<String>,
    pub cancel_reason: Option<String>,
    /// The cashier's slip number, when given.
    pub reference: Option<String>,
    /// The top-up, once confirmed: what the kiosk prints.
    pub top_up: Option<TopUpDto>,
}

crate::page_type!(TopUpRequestPage, TopUpRequestDto);

/// The cashier confirms that the money was received.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmTopUpRequest {
    /// What was actually received; default: what the member said.
    #[serde(default)]
    pub payment_method: Option<PaymentMethod>,
    /// The slip number (bank-card or transfer reference).
    #[serde(default)]
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub reference: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TopUpRequestListParams {
    pub store_id: Option<String>,
    /// `pending`, `confirmed`, `cancelled` or `expired`; all when absent.
    pub status: Option<String>,
    #[validate(length(min = 1, max = 200))]
    pub cursor: Option<String>,
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}
