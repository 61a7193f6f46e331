use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct StoreDto {
    pub id: String,
    /// Short code staff use, e.g. `HT01`.
    pub code: String,
    pub name: String,
    pub address: String,
    pub phone: String,
    pub active: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

crate::page_type!(StorePage, StoreDto);

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStoreRequest {
    /// 2-16 letters, digits or '-'.
    #[validate(length(min = 2, max = 16))]
    #[schema(min_length = 2, max_length = 16, pattern = "^[A-Za-z0-9-]+$")]
    pub code: String,
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[serde(default)]
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    pub address: String,
    #[serde(default)]
    #[validate(length(max = 32))]
    #[schema(max_length = 32)]
    pub phone: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStoreRequest {
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    pub address: Option<String>,
    #[validate(length(max = 32))]
    #[schema(max_length = 32)]
    pub phone: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RoleGrantDto {
    /// A role code from `GET /api/v1/roles`, e.g. `cashier`.
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub role: String,
    /// The store the role holds in; absent for a group-wide role.
    #[serde(default)]
    pub store_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoleDto {
    pub code: String,
    pub label_zh: String,
    pub label_en: String,
    /// Held group-wide only (never tied to one store).
    pub group_only: bool,
    pub permissions: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StaffDto {
    pub id: String,
    pub username: String,
    pub display_name: String,
    /// `active` or `disabled`.
    pub status: String,
    pub roles: Vec<RoleGrantDto>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

crate::page_type!(StaffPage, StaffDto);

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaffRequest {
    #[validate(length(min = 3, max = 32))]
    #[schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9._-]+$")]
    pub username: String,
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub display_name: String,
    /// At least 8 characters.
    #[validate(length(min = 8, max = 256))]
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    #[validate(length(min = 1, max = 50), nested)]
    #[schema(min_items = 1, max_items = 50)]
    pub roles: Vec<RoleGrantDto>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStaffRequest {
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub display_name: Option<String>,
    /// `active` or `disabled`.
    #[validate(length(min = 1, max = 16))]
    #[schema(min_length = 1, max_length = 16)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRolesRequest {
    /// The user's roles in the caller's stores; roles elsewhere are kept.
    #[validate(length(max = 50), nested)]
    #[schema(max_items = 50)]
    pub roles: Vec<RoleGrantDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    #[validate(length(min = 8, max = 256))]
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryDto {
    pub id: String,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    /// `staff`, `customer`, `device`, `client` or `system`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub store_id: Option<String>,
    /// e.g. `staff.create`, `staff.roles`, `store.update`.
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub detail: serde_json::Value,
    pub request_id: Option<String>,
}

crate::page_type!(AuditPage, AuditEntryDto);

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerDto {
    pub id: String,
    /// The customer's home store.
    pub store_id: String,
    pub name: String,
    pub phone: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

crate::page_type!(CustomerPage, CustomerDto);

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomerRequest {
    /// The customer's home store (one of the caller's).
    pub store_id: String,
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// 11-digit mainland mobile number.
    #[validate(length(equal = 11))]
    #[schema(min_length = 11, max_length = 11, pattern = "^1[3-9][0-9]{9}$")]
    pub phone: String,
}
