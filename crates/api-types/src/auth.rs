use crate::org::{RoleGrantDto, StoreDto};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub username: String,
    #[validate(length(min = 1, max = 256))]
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// JWT for `Authorization: Bearer`; short-lived.
    pub access_token: String,
    /// Opaque; exchange at `/api/v1/auth/refresh` before it expires. Works once.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[validate(length(min = 1, max = 512))]
    #[schema(min_length = 1, max_length = 512)]
    pub refresh_token: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// End every session of this user, on every device, not just the current one.
    #[serde(default)]
    pub everywhere: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerCodeRequest {
    /// 11-digit mainland mobile number.
    #[validate(length(equal = 11))]
    #[schema(min_length = 11, max_length = 11, pattern = "^1[3-9][0-9]{9}$")]
    pub phone: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerLoginRequest {
    #[validate(length(equal = 11))]
    #[schema(min_length = 11, max_length = 11, pattern = "^1[3-9][0-9]{9}$")]
    pub phone: String,
    /// The 6-digit code sent by SMS.
    #[validate(length(equal = 6))]
    #[schema(min_length = 6, max_length = 6, pattern = "^[0-9]{6}$")]
    pub code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CodeSent {
    /// Always `accepted`: the answer does not reveal whether the number belongs to a customer.
    pub status: String,
    pub expires_in: u64,
}

/// Who the token belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Me {
    Staff(StaffMe),
    Customer(CustomerMe),
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StaffMe {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<RoleGrantDto>,
    /// Every permission held in at least one store.
    pub permissions: Vec<String>,
    /// The stores the user works in (all stores for group-wide roles).
    pub stores: Vec<StoreDto>,
    /// Holds a role in every store of the group.
    pub group_wide: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerMe {
    pub id: String,
    pub name: String,
    /// Masked, e.g. `138****8000`.
    #[schema(pattern = "^1[3-9][0-9]{9}$")]
    pub phone: String,
    pub store_id: String,
}
