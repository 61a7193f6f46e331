//! The one place where errors become HTTP: every failure is `application/problem+json` with a
//! stable `code`; unexpected ones are logged and answered with an opaque 500.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use dms_api_types::{FieldError, Problem};
use dms_identity::IdentityError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("request body is not valid JSON")]
    MalformedBody(String),
    #[error("some fields are invalid")]
    Validation(Vec<FieldError>),
    #[error("request body too large")]
    BodyTooLarge(usize),
    #[error("request body must be application/json")]
    UnsupportedMediaType,
    #[error("authentication required")]
    Unauthorized(&'static str),
    #[error("invalid username or password")]
    InvalidCredentials,
    #[error("permission required")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("no such route")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed(Vec<String>),
    #[error("conflict")]
    Conflict(FieldError),
    #[error("too many requests")]
    TooManyRequests(u64),
    #[error("service unavailable")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
    /// A business rule said no (insufficient balance, card lost, PIN locked, idempotency key
    /// reused...): the domain's own stable `code`, its status (409 or 422 as a rule), a title
    /// for people and, where one field is to blame, that field.
    #[error("{title}")]
    Rule {
        status: StatusCode,
        code: &'static str,
        title: String,
        field: Option<FieldError>,
    },
    /// As `Rule`, where several fields are to blame (a likely duplicate customer matched on
    /// the phone, the ID number and a VIN): one entry in `errors` per field.
    #[error("{title}")]
    RuleFields {
        status: StatusCode,
        code: &'static str,
        title: String,
        fields: Vec<FieldError>,
    },
    /// Another problem with extension members (RFC 9457 §3.2) the client acts on, e.g.
    /// `attempts_left` on `wrong_pin`; built with [`ApiError::with_member`].
    #[error("{inner}")]
    Extended {
        inner: Box<ApiError>,
        members: serde_json::Map<String, serde_json::Value>,
    },
}

pub fn field_error(field: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_string(),
        code: code.to_string(),
        message: message.into(),
    }
}

impl ApiError {
    pub fn invalid(field: &str, code: &str, message: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![field_error(field, code, message)])
    }

    /// Adds a top-level member to the problem body (the standard members cannot be replaced).
    pub fn with_member(self, name: &str, value: impl Into<serde_json::Value>) -> ApiError {
        let (inner, mut members) = match self {
            ApiError::Extended { inner, members } => (inner, members),
            other => (Box::new(other), serde_json::Map::new()),
        };
        members.insert(name.to_string(), value.into());
        ApiError::Extended { inner, members }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedBody(_) => "malformed_body",
            ApiError::Validation(_) => "validation_failed",
            ApiError::BodyTooLarge(_) => "body_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::RouteNotFound => "route_not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooManyRequests(_) => "too_many_requests",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal_error",
            ApiError::Rule { code, .. } | ApiError::RuleFields { code, .. } => code,
            ApiError::Extended { inner, .. } => inner.code(),
        }
    }

    fn detail(&self) -> Option<String> {
        match self {
            ApiError::MalformedBody(d) | ApiError::Forbidden(d) | ApiError::Unavailable(d) => {
                Some(d.clone())
            }
            ApiError::BodyTooLarge(limit) => Some(format!("the limit is {limit} bytes")),
            ApiError::Unauthorized(why) => Some((*why).to_string()),
            ApiError::TooManyRequests(secs) => Some(format!("try again in {secs} s")),
            ApiError::MethodNotAllowed(allowed) => Some(format!("allowed: {}", allowed.join(", "))),
            ApiError::Conflict(f) => Some(f.message.clone()),
            ApiError::Extended { inner, .. } => inner.detail(),
            _ => None,
        }
    }

    pub fn problem(&self) -> Problem {
        if let ApiError::Extended { inner, .. } = self {
            return inner.problem();
        }
        let errors = match self {
            ApiError::Validation(e) => e.clone(),
            ApiError::Conflict(f) => vec![f.clone()],
            ApiError::Rule { field: Some(f), .. } => vec![f.clone()],
            ApiError::RuleFields { fields, .. } => fields.clone(),
            // Whole-body faults still name what was wrong, so every 4xx has a field list.
            ApiError::MalformedBody(why) => vec![field_error("body", "malformed_json", why)],
            ApiError::BodyTooLarge(limit) => vec![field_error(
                "body",
                "too_large",
                format!("at most {limit} bytes"),
            )],
            ApiError::UnsupportedMediaType => vec![field_error(
                "content-type",
                "unsupported_media_type",
                "send application/json",
            )],
            _ => vec![],
        };
        Problem {
            kind: format!("urn:dms:problem:{}", self.code()),
            title: self.to_string(),
            status: self.status_code().as_u16(),
            code: self.code().to_string(),
            detail: self.detail(),
            errors,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::MalformedBody(_) => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unauthorized(_) | ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Rule { status, .. } | ApiError::RuleFields { status, .. } => *status,
            ApiError::Extended { inner, .. } => inner.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(why) = self {
            log::error!("internal error: {why}");
        }
        if let ApiError::Extended { inner, members } = self {
            let res = inner.error_response();
            let mut body = serde_json::to_value(self.problem()).unwrap_or_default();
            if let Some(obj) = body.as_object_mut() {
                for (k, v) in members {
                    if !obj.contains_key(k) {
                        obj.insert(k.clone(), v.clone());
                    }
                }
            }
            return res.set_body(actix_web::body::BoxBody::new(body.to_string()));
        }
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            ApiError::Unauthorized(_) | ApiError::InvalidCredentials => {
                res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::TooManyRequests(secs) => {
                res.insert_header((header::RETRY_AFTER, secs.to_string()));
            }
            ApiError::MethodNotAllowed(allowed) => {
                res.insert_header((header::ALLOW, allowed.join(", ")));
            }
            _ => {}
        }
        res.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::NotFound(what) => ApiError::NotFound(what),
            IdentityError::Invalid { field, message } => {
                ApiError::invalid(field, "invalid", message)
            }
            IdentityError::Conflict { field, message } => {
                ApiError::Conflict(field_error(field, "conflict", message))
            }
            IdentityError::Forbidden(why) => ApiError::Forbidden(why),
            IdentityError::InvalidCredentials => ApiError::InvalidCredentials,
            IdentityError::SessionInvalid => ApiError::Unauthorized("session is no longer valid"),
            IdentityError::TooManyAttempts { retry_after_secs } => {
                ApiError::TooManyRequests(retry_after_secs)
            }
            IdentityError::SenderUnavailable(why) => {
                log::error!("login code sender failed: {why}");
                ApiError::Unavailable("the code could not be sent; try again later".into())
            }
            IdentityError::Pool(dms_db::DbError::Pool(e)) => {
                log::error!("database pool: {e}");
                ApiError::Unavailable("database busy; try again".into())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// A row the request points at (a store, vehicle, staff member…) does not exist: the database's
/// foreign key said no. A 422, not a 500; the domains check the references they know first.
pub fn unknown_reference() -> ApiError {
    ApiError::invalid(
        "body",
        "unknown_reference",
        "an id in the request names nothing that exists",
    )
}

pub fn is_foreign_key_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ForeignKeyViolation,
            _
        )
    )
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        ApiError::Internal("worker thread pool gone".into())
    }
}

impl From<r2d2::Error> for ApiError {
    fn from(e: r2d2::Error) -> Self {
        log::error!("database pool: {e}");
        ApiError::Unavailable("database busy; try again".into())
    }
}
