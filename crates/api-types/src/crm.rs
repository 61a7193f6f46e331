//! Bodies of the CRM's endpoints (customer 360, vehicles, leads, tasks, complaints, surveys).
//!
//! Dates are `YYYY-MM-DD` (the stores' local calendar), instants RFC 3339 in UTC. ID numbers
//! are only ever returned masked (`1101**********1234`).

use crate::CustomerDto;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

// ---------------------------------------------------------------- customers

/// The CRM's customer: the fields of [`CustomerDto`] (which older clients read) and the rest
/// of the record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CrmCustomerDto {
    #[serde(flatten)]
    pub base: CustomerDto,
    /// `individual` or `company`.
    pub kind: String,
    pub gender: Option<String>,
    pub email: Option<String>,
    /// Masked (`110105********1234`): the full number is never returned.
    pub id_number_masked: Option<String>,
    pub birthday: Option<NaiveDate>,
    pub contact_person: Option<String>,
    pub tax_id: Option<String>,
    #[schema(value_type = Object)]
    pub preferences: serde_json::Value,
    pub notes: String,
    pub owner_staff_id: Option<String>,
    /// `active`, or `merged` (then `merged_into_id` names the survivor).
    pub status: String,
    pub merged_into_id: Option<String>,
}

crate::page_type!(CrmCustomerPage, CrmCustomerDto);

/// `POST /customers`: what [`crate::CreateCustomerRequest`] carries (store, name, phone) and,
/// optionally, the rest of the record.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomerRequest {
    /// The customer's home store (one of the caller's).
    pub store_id: String,
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// 11-digit mainland mobile number (a company may give a landline with area code). It is
    /// also the owners' app login, so unique.
    #[validate(length(min = 3, max = 32))]
    #[schema(min_length = 3, max_length = 32)]
    pub phone: String,
    /// `individual` (default) or `company`.
    pub kind: Option<String>,
    #[serde(default)]
    #[validate(length(max = 10), nested)]
    #[schema(max_items = 10)]
    pub other_phones: Vec<PhoneInput>,
    pub email: Option<String>,
    pub gender: Option<String>,
    /// 18-character resident ID number: check digit and birth date are validated.
    pub id_number: Option<String>,
    pub birthday: Option<NaiveDate>,
    pub contact_person: Option<String>,
    pub tax_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    #[validate(custom(function = "crate::common::json_object"))]
    pub preferences: Option<serde_json::Value>,
    #[serde(default)]
    #[validate(length(max = 50))]
    #[schema(max_items = 50)]
    pub tags: Vec<String>,
    #[serde(default)]
    #[validate(length(max = 10), nested)]
    #[schema(max_items = 10)]
    pub addresses: Vec<AddressInput>,
    #[serde(default)]
    #[validate(length(max = 4), nested)]
    #[schema(max_items = 4)]
    pub consents: Vec<ConsentRequest>,
    pub owner_staff_id: Option<String>,
    #[serde(default)]
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub notes: String,
    /// VINs of the cars the customer brings: checked against known vehicles for duplicates.
    #[serde(default)]
    #[validate(length(max = 10))]
    #[schema(max_items = 10)]
    pub vins: Vec<String>,
    /// Create even though likely duplicates exist (after a person looked at the 409's list).
    #[serde(default)]
    pub allow_duplicate: bool,
}

/// Filters of `GET /customers` (besides the page).
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerListParams {
    #[validate(length(min = 1, max = 200))]
    #[param(min_length = 1, max_length = 200)]
    pub cursor: Option<String>,
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Only customers carrying this tag.
    #[validate(length(min = 1, max = 32))]
    #[param(min_length = 1, max_length = 32)]
    pub tag: Option<String>,
    /// `individual` or `company`.
    #[validate(length(min = 1, max = 16))]
    #[param(min_length = 1, max_length = 16)]
    pub kind: Option<String>,
    /// Only the customers this staff member looks after.
    #[validate(length(min = 1, max = 64))]
    #[param(min_length = 1, max_length = 64)]
    pub owner_staff_id: Option<String>,
    /// Search instead of listing: a name prefix, phone prefix (3+ digits), plate or VIN. The
    /// answer is then one page of at most `limit` matches without a cursor.
    #[validate(length(min = 1, max = 64))]
    #[param(min_length = 1, max_length = 64)]
    pub q: Option<String>,
}

/// `GET /customer-search?q=`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerSearchParams {
    /// Name prefix (Chinese included), phone prefix (3+ digits), plate (`京A12345`, `京A·123`)
    /// or a 17-character VIN.
    #[validate(length(min = 1, max = 64))]
    #[param(min_length = 1, max_length = 64)]
    pub q: String,
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneInput {
    #[validate(length(min = 3, max = 32))]
    #[schema(min_length = 3, max_length = 32)]
    pub phone: String,
    /// 手机 / 家庭 / 单位 ...
    #[serde(default)]
    #[validate(length(max = 16))]
    #[schema(max_length = 16)]
    pub label: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPhoneRequest {
    #[validate(length(min = 3, max = 32))]
    #[schema(min_length = 3, max_length = 32)]
    pub phone: String,
    #[serde(default)]
    #[validate(length(max = 16))]
    #[schema(max_length = 16)]
    pub label: String,
    /// Add even though another customer has this number (after a person looked).
    #[serde(default)]
    pub allow_duplicate: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    #[serde(default)]
    #[validate(length(max = 16))]
    #[schema(max_length = 16)]
    pub label: String,
    #[serde(default)]
    #[validate(length(max = 32))]
    #[schema(max_length = 32)]
    pub province: String,
    #[validate(length(min = 1, max = 32))]
    #[schema(min_length = 1, max_length = 32)]
    pub city: String,
    #[serde(default)]
    #[validate(length(max = 32))]
    #[schema(max_length = 32)]
    pub district: String,
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub line: String,
    #[validate(length(max = 16))]
    #[schema(max_length = 16)]
    pub postal_code: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// `sms`, `email`, `phone` or `wechat`.
    #[validate(length(min = 1, max = 16))]
    #[schema(min_length = 1, max_length = 16)]
    pub channel: String,
    pub granted: bool,
    /// The day the customer gave (or withdrew) consent; not in the future.
    pub on: NaiveDate,
    /// Where: 展厅登记表, app, 电话 ...
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsRequest {
    /// The customer's whole tag set (replaces the old one).
    #[validate(length(max = 50))]
    #[schema(max_items = 50)]
    pub tags: Vec<String>,
}

/// Changes to a customer: absent fields stay; `null` clears a field that may be empty.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomerRequest {
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[validate(length(min = 3, max = 32))]
    #[schema(min_length = 3, max_length = 32)]
    pub phone: Option<String>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// `male` / `female` or free text.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub gender: Option<Option<String>>,
    /// 18-character resident ID number (check digit and birth date validated).
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub id_number: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub birthday: Option<Option<NaiveDate>>,
    /// A company's contact person.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub contact_person: Option<Option<String>>,
    /// A company's tax id (统一社会信用代码).
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub tax_id: Option<Option<String>>,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
    /// The staff member who looks after the customer.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub owner_staff_id: Option<Option<String>>,
    #[schema(value_type = Option<Object>)]
    #[validate(custom(function = "crate::common::json_object"))]
    pub preferences: Option<serde_json::Value>,
}

/// `Option<Option<T>>` from JSON: absent = `None`, `null` = `Some(None)`.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            None => s.serialize_none(),
            Some(inner) => inner.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerPhoneDto {
    pub id: String,
    pub phone: String,
    pub label: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerAddressDto {
    pub id: String,
    pub label: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub line: String,
    pub postal_code: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsentDto {
    pub channel: String,
    pub granted: bool,
    pub on: NaiveDate,
    pub source: String,
}

/// The customer's whole card: the record, further numbers, addresses, tags and consents.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerProfileDto {
    pub customer: CrmCustomerDto,
    pub phones: Vec<CustomerPhoneDto>,
    pub addresses: Vec<CustomerAddressDto>,
    pub tags: Vec<String>,
    pub consents: Vec<ConsentDto>,
}

/// An existing customer that a new record (or the probe) probably duplicates.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DuplicateMatchDto {
    pub customer_id: String,
    pub store_id: String,
    pub name: String,
    /// `phone`, `id_number` or `vin`.
    pub matched_on: String,
    /// The request field that matched: `phone`, `other_phones[i].phone`, `id_number`,
    /// `vins[i]` (`phones[i]` for the duplicate check).
    #[serde(default)]
    pub field: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateCheckRequest {
    #[serde(default)]
    #[validate(length(max = 10))]
    #[schema(max_items = 10)]
    pub phones: Vec<String>,
    pub id_number: Option<String>,
    #[serde(default)]
    #[validate(length(max = 10))]
    #[schema(max_items = 10)]
    pub vins: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DuplicateCheckDto {
    pub matches: Vec<DuplicateMatchDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The customer that is merged away into the one in the path (the survivor).
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub merged_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MergeReportDto {
    pub merge_id: String,
    pub survivor_id: String,
    pub merged_id: String,
    /// Rows moved per linked table (`crm.vehicles`, `crm.follow_up_tasks`, ...).
    pub moved: BTreeMap<String, u64>,
    /// Fields of the survivor that were empty and were taken from the merged record.
    pub filled: Vec<String>,
}

// ---------------------------------------------------------------- vehicles

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VehicleDto {
    pub id: String,
    pub store_id: String,
    pub vin: String,
    /// False only for a VIN accepted with `allow_bad_check_digit`.
    pub vin_check_ok: bool,
    pub plate: Option<String>,
    pub brand: String,
    pub model: String,
    pub trim_level: String,
    pub colour: String,
    pub model_year: Option<i32>,
    pub purchase_date: Option<NaiveDate>,
    pub delivery_date: Option<NaiveDate>,
    pub warranty_end: Option<NaiveDate>,
    pub insurance_expiry: Option<NaiveDate>,
    pub insurer: Option<String>,
    pub inspection_due: Option<NaiveDate>,
    pub first_service_done: bool,
    pub last_service_on: Option<NaiveDate>,
    pub customer_id: Option<String>,
    /// `active`, `sold` or `scrapped`.
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVehicleRequest {
    pub store_id: String,
    /// 17 characters, no I/O/Q, with a valid check digit (9th character).
    #[validate(length(min = 1, max = 32))]
    #[schema(min_length = 1, max_length = 32)]
    pub vin: String,
    /// Accept a VIN whose check digit does not compute (grey imports); recorded on the vehicle.
    #[serde(default)]
    pub allow_bad_check_digit: bool,
    pub plate: Option<String>,
    #[serde(default)]
    #[validate(length(max = 64))]
    #[schema(max_length = 64)]
    pub brand: String,
    #[serde(default)]
    #[validate(length(max = 64))]
    #[schema(max_length = 64)]
    pub model: String,
    #[serde(default)]
    #[validate(length(max = 64))]
    #[schema(max_length = 64)]
    pub trim_level: String,
    #[serde(default)]
    #[validate(length(max = 32))]
    #[schema(max_length = 32)]
    pub colour: String,
    pub model_year: Option<i32>,
    pub purchase_date: Option<NaiveDate>,
    pub delivery_date: Option<NaiveDate>,
    pub warranty_end: Option<NaiveDate>,
    pub insurance_expiry: Option<NaiveDate>,
    pub insurer: Option<String>,
    pub inspection_due: Option<NaiveDate>,
    /// The owner.
    pub customer_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVehicleRequest {
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub plate: Option<Option<String>>,
    #[validate(length(max = 64))]
    pub brand: Option<String>,
    #[validate(length(max = 64))]
    pub model: Option<String>,
    #[validate(length(max = 64))]
    pub trim_level: Option<String>,
    #[validate(length(max = 32))]
    pub colour: Option<String>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub warranty_end: Option<Option<NaiveDate>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub insurance_expiry: Option<Option<NaiveDate>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub insurer: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub inspection_due: Option<Option<NaiveDate>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MileageRequest {
    /// Not in the future.
    pub read_on: NaiveDate,
    #[validate(range(min = 0, max = 3000000))]
    #[schema(minimum = 0, maximum = 3000000)]
    pub km: i64,
    /// Where the reading came from: `service`, `customer`, `inspection`...
    #[serde(default)]
    #[validate(length(max = 32))]
    #[schema(max_length = 32)]
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MileageDto {
    pub read_on: NaiveDate,
    pub km: i64,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferVehicleRequest {
    /// The new owner.
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub customer_id: String,
    pub on: NaiveDate,
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OwnershipDto {
    pub customer_id: String,
    pub from_date: NaiveDate,
    pub to_date: Option<NaiveDate>,
    pub reason: String,
}

// ---------------------------------------------------------------- leads

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LeadDto {
    pub id: String,
    pub store_id: String,
    pub customer_id: Option<String>,
    pub name: String,
    pub phone: String,
    pub source_channel: String,
    pub interest_brand: String,
    pub interest_model: String,
    /// H, A, B or C.
    pub grade: String,
    pub assigned_to: Option<String>,
    /// `open`, `lost` or `converted`.
    pub status: String,
    pub lost_reason: Option<String>,
    pub next_follow_up_on: Option<NaiveDate>,
    pub last_contact_at: Option<DateTime<Utc>>,
}

crate::page_type!(LeadPage, LeadDto);

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLeadRequest {
    pub store_id: String,
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[validate(length(min = 3, max = 32))]
    #[schema(min_length = 3, max_length = 32)]
    pub phone: String,
    /// `walk_in`, `phone`, `online`, `referral`, `event`, ...
    #[validate(length(min = 1, max = 32))]
    #[schema(min_length = 1, max_length = 32)]
    pub source_channel: String,
    #[serde(default)]
    #[validate(length(max = 64))]
    pub interest_brand: String,
    #[serde(default)]
    #[validate(length(max = 64))]
    pub interest_model: String,
    /// H, A, B or C.
    #[validate(length(min = 1, max = 1))]
    #[schema(min_length = 1, max_length = 1)]
    pub grade: String,
    /// A consultant creating a lead gets it; a manager may name one.
    pub assigned_to: Option<String>,
    pub customer_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LeadListParams {
    #[validate(length(min = 1, max = 200))]
    #[param(min_length = 1, max_length = 200)]
    pub cursor: Option<String>,
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// H, A, B or C.
    #[validate(length(min = 1, max = 1))]
    #[param(min_length = 1, max_length = 1)]
    pub grade: Option<String>,
    /// `open`, `lost` or `converted`.
    #[validate(length(min = 1, max = 16))]
    #[param(min_length = 1, max_length = 16)]
    pub status: Option<String>,
    /// The consultant.
    #[validate(length(min = 1, max = 64))]
    #[param(min_length = 1, max_length = 64)]
    pub assigned_to: Option<String>,
    /// Only open leads whose follow-up date has passed (ignores the cursor).
    pub overdue: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AssigneeParams {
    /// The store whose work is being given out.
    #[validate(length(min = 1, max = 64))]
    #[param(min_length = 1, max_length = 64)]
    pub store_id: String,
}

/// Someone work can be given to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AssigneeDto {
    pub staff_id: String,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AssigneeListDto {
    pub items: Vec<AssigneeDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub staff_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadContactRequest {
    /// `phone`, `visit`, `wechat`, `sms`...
    #[validate(length(min = 1, max = 16))]
    #[schema(min_length = 1, max_length = 16)]
    pub channel: String,
    #[serde(default)]
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub note: String,
    /// A new intent grade after this contact (H/A/B/C).
    #[validate(length(min = 1, max = 1))]
    #[schema(min_length = 1, max_length = 1)]
    pub new_grade: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LeadContactDto {
    pub staff_id: Option<String>,
    pub channel: String,
    pub note: String,
    pub contacted_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LeadGradeChangeDto {
    pub from_grade: Option<String>,
    pub to_grade: String,
    pub reason: String,
    pub staff_id: Option<String>,
    pub changed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LostRequest {
    /// 战败原因.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertRequest {
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub customer_id: String,
}

// ---------------------------------------------------------------- tasks

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskDto {
    pub id: String,
    pub store_id: String,
    pub customer_id: Option<String>,
    pub vehicle_id: Option<String>,
    /// The care rule that made it (`delivery_7d`, `maintenance`, `manual`...).
    pub rule: String,
    pub title: String,
    pub due_on: NaiveDate,
    pub assigned_to: Option<String>,
    /// `open`, `done` or `cancelled`.
    pub status: String,
    pub outcome: Option<String>,
    pub refusal_reason: Option<String>,
    pub note: String,
}

crate::page_type!(TaskPage, TaskDto);

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaskListParams {
    #[validate(length(min = 1, max = 200))]
    #[param(min_length = 1, max_length = 200)]
    pub cursor: Option<String>,
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `open` (default), `done` or `cancelled`.
    #[validate(length(min = 1, max = 16))]
    #[param(min_length = 1, max_length = 16)]
    pub status: Option<String>,
    /// Due on or before this day (today's queue: today).
    pub due_on_or_before: Option<NaiveDate>,
    /// Only the caller's own tasks.
    pub mine: Option<bool>,
    #[validate(length(min = 1, max = 64))]
    #[param(min_length = 1, max_length = 64)]
    pub customer_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteTaskRequest {
    /// `reached`, `appointment_made`, `no_answer` (comes back tomorrow) or `refused`.
    #[validate(length(min = 1, max = 32))]
    #[schema(min_length = 1, max_length = 32)]
    pub outcome: String,
    /// With `refused`: `serviced_elsewhere`, `too_expensive`, `too_far`, `car_sold` (the car
    /// leaves the customer base), `moved` (the customer is tagged 已迁出) or free text.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub reason: Option<String>,
    #[serde(default)]
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    pub store_id: String,
    pub customer_id: Option<String>,
    pub vehicle_id: Option<String>,
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    pub due_on: NaiveDate,
    pub assigned_to: Option<String>,
}

// ---------------------------------------------------------------- complaints

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ComplaintDto {
    pub id: String,
    pub store_id: String,
    pub customer_id: String,
    pub vehicle_id: Option<String>,
    pub order_ref: Option<String>,
    pub work_order_ref: Option<String>,
    pub channel: String,
    pub category: String,
    pub severity: String,
    pub description: String,
    pub assigned_to: Option<String>,
    /// `open`, `resolved` (waiting for the customer) or `closed`.
    pub status: String,
    /// The SLA deadline (UTC).
    pub due_at: DateTime<Utc>,
    pub escalation_level: i32,
    pub resolution: Option<String>,
    pub customer_satisfied: Option<bool>,
}

crate::page_type!(ComplaintPage, ComplaintDto);

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenComplaintRequest {
    pub store_id: String,
    pub customer_id: String,
    pub vehicle_id: Option<String>,
    pub order_ref: Option<String>,
    pub work_order_ref: Option<String>,
    /// `phone`, `walk_in`, `app`, `wechat`, `email`, `oem`, `survey`, `other`.
    #[validate(length(min = 1, max = 16))]
    #[schema(min_length = 1, max_length = 16)]
    pub channel: String,
    /// `service_quality`, `repair_quality`, `price`, `waiting_time`, `parts`, `sales`,
    /// `attitude`, `other`.
    #[validate(length(min = 1, max = 32))]
    #[schema(min_length = 1, max_length = 32)]
    pub category: String,
    /// `low`, `normal`, `high` or `critical` (sets the SLA).
    #[validate(length(min = 1, max = 16))]
    #[schema(min_length = 1, max_length = 16)]
    pub severity: String,
    #[validate(length(min = 1, max = 4000))]
    #[schema(min_length = 1, max_length = 4000)]
    pub description: String,
    pub assigned_to: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ComplaintListParams {
    #[validate(length(min = 1, max = 200))]
    #[param(min_length = 1, max_length = 200)]
    pub cursor: Option<String>,
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    #[validate(length(min = 1, max = 16))]
    #[param(min_length = 1, max_length = 16)]
    pub status: Option<String>,
    #[validate(length(min = 1, max = 64))]
    #[param(min_length = 1, max_length = 64)]
    pub customer_id: Option<String>,
    #[validate(length(min = 1, max = 64))]
    #[param(min_length = 1, max_length = 64)]
    pub assigned_to: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    #[validate(length(min = 1, max = 4000))]
    #[schema(min_length = 1, max_length = 4000)]
    pub resolution: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The customer is satisfied (closes it); false reopens it.
    pub satisfied: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ComplaintStatsDto {
    pub by_category: BTreeMap<String, i64>,
    pub by_severity: BTreeMap<String, i64>,
    pub resolved: i64,
    pub escalated: i64,
    pub mean_hours_to_resolve: Option<f64>,
}

/// A period `[from, to)` of days.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodParams {
    pub from: NaiveDate,
    /// Exclusive.
    pub to: NaiveDate,
    /// For satisfaction: `store` (default), `advisor` or `consultant`.
    #[validate(length(min = 1, max = 16))]
    #[param(min_length = 1, max_length = 16)]
    pub by: Option<String>,
}

/// The CRM statistics as a file: the period `[from, to)`, optionally one store, and the
/// format.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CrmExportParams {
    pub from: NaiveDate,
    /// Exclusive.
    pub to: NaiveDate,
    /// One of the caller's stores; none = every store the caller may read.
    #[validate(length(min = 1, max = 64))]
    #[param(min_length = 1, max_length = 64)]
    pub store_id: Option<String>,
    /// `xlsx` (default) or `csv`.
    #[validate(length(min = 1, max = 8))]
    #[param(min_length = 1, max_length = 8)]
    pub format: Option<String>,
}

// ---------------------------------------------------------------- surveys

/// One question: `kind` is `csat` (1-5), `nps` (0-10), `scale` (with `min`/`max`) or `text`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionDto {
    pub code: String,
    pub text: String,
    pub kind: String,
    pub min: Option<i32>,
    pub max: Option<i32>,
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateQuestionnaireRequest {
    #[validate(length(min = 1, max = 32))]
    #[schema(min_length = 1, max_length = 32)]
    pub code: String,
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub title: String,
    /// `delivery` or `service`.
    #[validate(length(min = 1, max = 16))]
    #[schema(min_length = 1, max_length = 16)]
    pub occasion: String,
    #[validate(length(min = 1, max = 50))]
    #[schema(min_items = 1, max_items = 50)]
    pub questions: Vec<QuestionDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuestionnaireDto {
    pub id: String,
    pub code: String,
    pub title: String,
    pub occasion: String,
    pub questions: Vec<QuestionDto>,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendSurveyRequest {
    pub store_id: String,
    #[validate(length(min = 1, max = 32))]
    #[schema(min_length = 1, max_length = 32)]
    pub questionnaire_code: String,
    pub customer_id: String,
    /// The delivery or work order it is about.
    pub subject_ref: Option<String>,
    pub advisor_id: Option<String>,
    pub consultant_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SurveyDto {
    pub id: String,
    pub store_id: String,
    pub customer_id: String,
    pub occasion: String,
    pub subject_ref: Option<String>,
    pub advisor_id: Option<String>,
    pub consultant_id: Option<String>,
    /// `sent` or `answered`.
    pub status: String,
    pub sent_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub csat: Option<i32>,
    pub nps: Option<i32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    #[validate(length(min = 1, max = 32))]
    #[schema(min_length = 1, max_length = 32)]
    pub question_code: String,
    pub score: Option<i32>,
    #[validate(length(max = 4000))]
    #[schema(max_length = 4000)]
    pub text: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerSurveyRequest {
    #[validate(length(min = 1, max = 50), nested)]
    #[schema(min_items = 1, max_items = 50)]
    pub answers: Vec<AnswerInput>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SatisfactionRowDto {
    /// The store, advisor or consultant id.
    pub key: String,
    pub responses: i64,
    /// Share of CSAT answers of 4 or 5, in percent.
    pub csat_percent: Option<f64>,
    pub csat_mean: Option<f64>,
    /// Promoters minus detractors, in percent (-100..100).
    pub nps: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SatisfactionDto {
    /// `store`, `advisor` or `consultant`.
    pub by: String,
    pub rows: Vec<SatisfactionRowDto>,
}

// ---------------------------------------------------------------- 360 and statistics

/// What a service advisor sees when the customer walks in. `sections` holds the blocks other
/// domains contribute (`membership`, later `orders`, `work_orders`), by key.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Customer360Dto {
    pub profile: CustomerProfileDto,
    pub vehicles: Vec<VehicleDto>,
    pub open_leads: Vec<LeadDto>,
    pub recent_visits: Vec<ServiceVisitDto>,
    pub open_tasks: Vec<TaskDto>,
    pub open_complaints: Vec<ComplaintDto>,
    pub satisfaction: Vec<SurveyDto>,
    #[schema(value_type = Object)]
    pub sections: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceVisitDto {
    pub id: String,
    pub store_id: String,
    pub vehicle_id: String,
    pub visited_on: NaiveDate,
    pub kind: String,
    pub km: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CareRuleStatsDto {
    pub due: i64,
    pub contacted: i64,
    pub appointments: i64,
    pub refusals: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConversionRowDto {
    pub key: String,
    pub leads: i64,
    pub converted: i64,
    pub lost: i64,
}

/// Seed 004's figures for `[from, to)`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CrmStatsDto {
    /// Per care rule: tasks due, contacts made, appointments made, reasons for not returning.
    pub care: BTreeMap<String, CareRuleStatsDto>,
    pub leads_by_grade: Vec<ConversionRowDto>,
    pub leads_by_consultant: Vec<ConversionRowDto>,
    pub complaints: ComplaintStatsDto,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CareRunDto {
    pub created: BTreeMap<String, u32>,
    pub already_present: u32,
    pub opted_out: u32,
    pub at: DateTime<Utc>,
}

// ---------------------------------------------------------------- messages

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageTemplateDto {
    pub code: String,
    /// `sms` or `email`.
    pub channel: String,
    pub subject: String,
    /// Chinese text with `{{name}}`-style placeholders.
    pub body: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueMessageRequest {
    pub store_id: String,
    pub customer_id: String,
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub template_code: String,
    /// `service` (sent unless the customer said no on the channel) or `marketing` (only with
    /// a recorded consent).
    #[validate(length(min = 1, max = 16))]
    #[schema(min_length = 1, max_length = 16)]
    pub purpose: String,
    /// Values of the template's placeholders (`name`, `store`, `plate`... as the template needs).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Queue at most once per key (e.g. `insurance_renewal:<vehicle>:<date>`).
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub dedupe_key: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageDto {
    pub id: String,
    pub store_id: String,
    pub customer_id: Option<String>,
    pub channel: String,
    pub purpose: String,
    pub template_code: String,
    pub subject: String,
    pub body: String,
    /// `pending`, `sent`, `delivered`, `failed` or `suppressed`.
    pub status: String,
    pub attempts: i32,
    /// Why it failed or was suppressed (`no_consent`, `opted_out`, `no_address`, the provider's answer).
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Which messages to list (`GET /messages`); every criterion given must hold.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MessageListParams {
    #[validate(length(min = 1, max = 200))]
    #[param(min_length = 1, max_length = 200)]
    pub cursor: Option<String>,
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `pending`, `sent`, `delivered`, `failed` or `suppressed`.
    #[validate(length(min = 1, max = 16))]
    #[param(min_length = 1, max_length = 16)]
    pub status: Option<String>,
    /// `sms` or `email`.
    #[validate(length(min = 1, max = 8))]
    #[param(min_length = 1, max_length = 8)]
    pub channel: Option<String>,
    #[validate(length(min = 1, max = 64))]
    #[param(min_length = 1, max_length = 64)]
    pub customer_id: Option<String>,
    /// Created on or after this day (UTC).
    pub from: Option<NaiveDate>,
    /// Created before this day (exclusive).
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessagePage {
    pub items: Vec<MessageDto>,
    pub next_cursor: Option<String>,
}

/// One delivery receipt from the SMS gateway.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsReceiptDto {
    /// The gateway's message id, as it answered when it accepted the message.
    #[validate(length(min = 1, max = 128))]
    #[schema(min_length = 1, max_length = 128)]
    pub id: String,
    /// `delivered` or `failed`.
    #[validate(length(min = 1, max = 16))]
    #[schema(min_length = 1, max_length = 16)]
    pub status: String,
    /// The provider's status code (`DELIVRD`, `UNDELIV`, `MK:0001`...); required with `failed`.
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub code: Option<String>,
    #[validate(length(max = 500))]
    #[schema(max_length = 500)]
    pub detail: Option<String>,
    /// When the handset got it (or the operator gave up); default: when the receipt arrives.
    pub at: Option<DateTime<Utc>>,
}

/// The gateway's callback body: one or more receipts.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsReceiptBatch {
    #[validate(length(min = 1, max = 500), nested)]
    #[schema(min_items = 1, max_items = 500)]
    pub receipts: Vec<SmsReceiptDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SmsReceiptResult {
    /// Receipts that changed a message's status.
    pub updated: u32,
    /// Receipts for messages that already had that status.
    pub unchanged: u32,
    /// Gateway ids with no message in the outbox (e.g. login codes, which have none).
    pub unknown: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageStatsDto {
    pub queued: i64,
    pub sent: i64,
    pub delivered: i64,
    pub failed: i64,
    pub suppressed: i64,
}

// ---------------------------------------------------------------- segments

/// A saved filter; every given criterion must hold.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentFilterDto {
    /// "Lost" customers: a car older than N days and no workshop visit in the last N days.
    #[validate(range(min = 1, max = 36500))]
    #[schema(minimum = 1, maximum = 36500)]
    pub lost_after_days: Option<u32>,
    /// Vehicle age in whole years since delivery (inclusive).
    #[validate(range(max = 100))]
    #[schema(maximum = 100)]
    pub vehicle_age_years_min: Option<u32>,
    #[validate(range(max = 100))]
    #[schema(maximum = 100)]
    pub vehicle_age_years_max: Option<u32>,
    /// Latest odometer reading (inclusive).
    #[validate(range(min = 0, max = 3000000))]
    #[schema(minimum = 0, maximum = 3000000)]
    pub mileage_km_min: Option<i64>,
    #[validate(range(min = 0, max = 3000000))]
    #[schema(minimum = 0, maximum = 3000000)]
    pub mileage_km_max: Option<i64>,
    /// Insurance expiring within N days.
    #[validate(range(max = 3650))]
    #[schema(maximum = 3650)]
    pub insurance_expiring_within_days: Option<u32>,
    /// Every one of these tags.
    #[serde(default)]
    #[validate(length(max = 20))]
    pub tags: Vec<String>,
    /// Any of these member tiers (`standard`, `silver`, `gold`, `diamond`).
    #[serde(default)]
    #[validate(length(max = 10))]
    pub tiers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSegmentRequest {
    /// The store it belongs to; absent for a group-wide segment (group roles only).
    pub store_id: Option<String>,
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[validate(nested)]
    pub filter: SegmentFilterDto,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SegmentDto {
    pub id: String,
    pub store_id: Option<String>,
    pub name: String,
    pub filter: SegmentFilterDto,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SegmentMembersDto {
    /// The customers matching today, among the caller's stores.
    pub customer_ids: Vec<String>,
}

/// A campaign: one message to every customer of a segment.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentMessagesRequest {
    /// The store the messages are sent for.
    pub store_id: String,
    /// Names the campaign (e.g. `2026-双十二保养`): the same campaign queues nobody twice.
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub campaign: String,
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub template_code: String,
    /// `service` (sent unless the customer said no on the channel) or `marketing` (only with
    /// a recorded consent).
    #[validate(length(min = 1, max = 16))]
    #[schema(min_length = 1, max_length = 16)]
    pub purpose: String,
    /// Values of the template's placeholders shared by every message (`name` is each
    /// customer's own).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SegmentMessagesDto {
    /// Messages queued for sending.
    pub queued: u32,
    /// Recorded but not sent: no consent, opted out or no address (see `GET /messages`).
    pub suppressed: u32,
    /// Customers this campaign had already reached.
    pub already_queued: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentTasksRequest {
    pub store_id: String,
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    pub due_on: NaiveDate,
    /// Staff the tasks are spread over; empty = unassigned.
    #[serde(default)]
    #[validate(length(max = 50))]
    pub assignees: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SegmentTasksDto {
    /// Tasks created (a customer with an open task of this segment and day gets none twice).
    pub created: u32,
}

// ---------------------------------------------------------------- import

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportCustomersRequest {
    /// A department's old list, 1-500 rows, each like `POST /customers`.
    #[validate(length(min = 1, max = 500), nested)]
    #[schema(min_items = 1, max_items = 500)]
    pub rows: Vec<NewCustomerRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportDuplicateDto {
    /// Index of the row in the request.
    pub row: usize,
    pub matches: Vec<DuplicateMatchDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportRejectedDto {
    pub row: usize,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportReportDto {
    /// Ids of the customers created, in row order.
    pub created: Vec<String>,
    /// Rows held back as likely duplicates (resend them with `allow_duplicate` after a look).
    pub duplicates: Vec<ImportDuplicateDto>,
    /// Rows refused, with the field to blame.
    pub rejected: Vec<ImportRejectedDto>,
}
