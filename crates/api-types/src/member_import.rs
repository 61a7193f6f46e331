//! Bodies of the member club's import and export endpoints (`/api/v1/members/import`,
//! `/members/export`, `/ledger/export`). The upload itself is the raw file (CSV or XLSX), not
//! JSON; what comes back is an import job, polled until it is `done` or `failed`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// Where the uploaded members go.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberImportParams {
    /// The store the members join (one of the caller's).
    #[validate(length(min = 1, max = 64))]
    pub store_id: String,
}

/// One problem found in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportRowErrorDto {
    /// Spreadsheet row number (the header is row 1); 0 for a problem with the whole job.
    pub row: u64,
    /// `name`, `phone`, `card_no`, `chip_uid`, `tier`, `principal`, `bonus`,
    /// `redeemable_points`, `tier_points`, `expires_on`, or `body` for the whole file.
    pub field: String,
    /// The column's header as written in the file.
    pub column: Option<String>,
    /// Stable code, e.g. `invalid_phone`, `unknown_tier`, `duplicate_in_file`, `card_no_taken`,
    /// `negative`, `too_precise`, `already_member`.
    pub code: String,
    pub message: String,
}

/// What a finished import wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportSummaryDto {
    pub members_created: u64,
    /// New CRM customers (no customer had the row's mobile number).
    pub customers_created: u64,
    /// Rows linked to an existing CRM customer by mobile number.
    pub customers_linked: u64,
    pub cards_issued: u64,
    /// Opening stored value (principal), e.g. `"12800.00"`.
    pub principal_total: String,
    pub bonus_total: String,
    pub tier_points_total: i64,
    pub redeemable_points_total: i64,
    /// Headers in the file that the import does not use.
    pub ignored_columns: Vec<String>,
}

/// An import job and its progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportJobDto {
    pub id: String,
    pub store_id: String,
    /// `csv` or `xlsx`.
    pub file_format: String,
    /// `validating` (every row is checked first), `importing` (all rows in one transaction),
    /// `done` or `failed` (nothing was written; see `errors`).
    pub status: String,
    pub rows_total: i64,
    /// Rows checked (while validating) or written (while importing) so far.
    pub rows_processed: i64,
    /// How many problems were found; `errors` lists the first 1000.
    pub error_count: i64,
    pub errors: Vec<ImportRowErrorDto>,
    pub summary: Option<ImportSummaryDto>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// File format of an export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    #[default]
    Xlsx,
    Csv,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberExportParams {
    /// Only this store's members (default: every store of the caller's).
    #[validate(length(min = 1, max = 64))]
    pub store_id: Option<String>,
    /// Only members of this tier code, e.g. `gold`.
    #[validate(length(min = 1, max = 32))]
    pub tier: Option<String>,
    /// `xlsx` (default) or `csv`.
    #[param(inline)]
    pub format: Option<ExportFormat>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LedgerExportParams {
    /// First day (Beijing time), `YYYY-MM-DD`.
    pub from: Option<chrono::NaiveDate>,
    /// Last day included (Beijing time), `YYYY-MM-DD`.
    pub to: Option<chrono::NaiveDate>,
    /// Only this store's transactions (default: every store of the caller's).
    #[validate(length(min = 1, max = 64))]
    pub store_id: Option<String>,
    /// `xlsx` (default) or `csv`.
    #[param(inline)]
    pub format: Option<ExportFormat>,
}

/// `GET /members`: a page of members, or the members a search finds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberListParams {
    /// Search as the CRM's search box reads it: a name prefix, a phone prefix (3 digits or
    /// more), a member card number or a plate prefix. With `q` the answer is one page of at
    /// most `limit` (default 50) matches, without a cursor.
    #[validate(length(min = 1, max = 100))]
    pub q: Option<String>,
    /// Only this store's members.
    #[validate(length(min = 1, max = 64))]
    pub store_id: Option<String>,
    #[validate(length(min = 1, max = 200))]
    pub cursor: Option<String>,
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}
