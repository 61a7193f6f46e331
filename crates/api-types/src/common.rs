use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// `application/problem+json` (RFC 9457) with a stable machine-readable `code` and the fields
/// that were wrong.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:dms:problem:<code>`).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Stable snake_case code, e.g. `validation_failed`, `not_found`, `forbidden`.
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Every field that was wrong, with why.
    #[serde(default)]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct FieldError {
    /// Path of the field in the request, e.g. `password`, `roles[1].store_id`, `cursor`.
    pub field: String,
    /// Stable code, e.g. `required`, `length`, `unknown_field`, `invalid_type`.
    pub code: String,
    pub message: String,
}

/// Cursor pagination of every list: pass `next_cursor` back as `cursor` for the next page.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, IntoParams, ToSchema)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// The `next_cursor` of the previous page.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    #[param(min_length = 1, max_length = 200)]
    pub cursor: Option<String>,
    /// Rows per page, 1-200 (default 50).
    #[validate(range(min = 1, max = 200))]
    #[schema(minimum = 1, maximum = 200)]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    pub status: String,
    /// `sqlite` or `postgres`.
    pub database: String,
}

/// Declares `NamePage { items: Vec<T>, next_cursor }` for a list endpoint.
#[macro_export]
macro_rules! page_type {
    ($name:ident, $item:ty) => {
        #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            /// Absent on the last page.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub next_cursor: Option<String>,
        }
    };
}

/// For `serde_json::Value` fields documented as objects: anything else is refused by name.
pub fn json_object(v: &serde_json::Value) -> Result<(), validator::ValidationError> {
    if v.is_object() {
        Ok(())
    } else {
        Err(validator::ValidationError::new("invalid_type")
            .with_message("must be a JSON object".into()))
    }
}
