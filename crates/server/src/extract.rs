//! Request extractors that turn every kind of bad input into a problem naming the field:
//! [`Body`] (JSON only, size-limited, unknown fields refused, then `validator`), [`QueryParams`]
//! and [`page_request`].

use crate::error::{field_error, ApiError};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use dms_api_types::{FieldError, PageParams};
use dms_core::{Cursor, PageRequest, DEFAULT_PAGE_SIZE};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

/// Flattens validator's tree into `field`, `list[2].field` paths.
pub fn validation_fields(errors: &ValidationErrors) -> Vec<FieldError> {
    fn walk(prefix: &str, errors: &ValidationErrors, out: &mut Vec<FieldError>) {
        for (field, kind) in errors.errors() {
            let path = if prefix.is_empty() {
                field.to_string()
            } else {
                format!("{prefix}.{field}")
            };
            match kind {
                ValidationErrorsKind::Field(list) => {
                    for e in list {
                        let message = e
                            .message
                            .as_ref()
                            .map(|m| m.to_string())
                            .unwrap_or_else(|| describe(e));
                        out.push(field_error(&path, &e.code, message));
                    }
                }
                ValidationErrorsKind::Struct(inner) => walk(&path, inner, out),
                ValidationErrorsKind::List(items) => {
                    for (i, inner) in items {
                        walk(&format!("{path}[{i}]"), inner, out);
                    }
                }
            }
        }
    }
    fn describe(e: &validator::ValidationError) -> String {
        let p = |k: &str| e.params.get(k).map(|v| v.to_string());
        match e.code.as_ref() {
            "length" => match (p("min"), p("max"), p("equal")) {
                (_, _, Some(eq)) => format!("must have length {eq}"),
                (Some(min), Some(max), _) => format!("length must be between {min} and {max}"),
                (Some(min), None, _) => format!("length must be at least {min}"),
                (None, Some(max), _) => format!("length must be at most {max}"),
                _ => "wrong length".into(),
            },
            "range" => match (p("min"), p("max")) {
                (Some(min), Some(max)) => format!("must be between {min} and {max}"),
                _ => "out of range".into(),
            },
            other => format!("failed check '{other}'"),
        }
    }
    let mut out = Vec::new();
    walk("", errors, &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

/// Turns a serde error at `path` into a field error with a stable code.
fn serde_field_error(path: &serde_path_to_error::Path, err: &str) -> FieldError {
    let mut field = path.to_string();
    if field == "." {
        field.clear();
    }
    let join = |f: &str, name: &str| {
        // serde_path_to_error already ends the path with an unknown key; a missing one not.
        if f == name || f.ends_with(&format!(".{name}")) {
            f.to_string()
        } else if f.is_empty() {
            name.to_string()
        } else {
            format!("{f}.{name}")
        }
    };
    let between = |s: &str| s.split('`').nth(1).map(str::to_string);
    if err.starts_with("unknown field") {
        let name = between(err).unwrap_or_default();
        return field_error(
            &join(&field, &name),
            "unknown_field",
            "this field is not accepted",
        );
    }
    if err.starts_with("missing field") {
        let name = between(err).unwrap_or_default();
        return field_error(&join(&field, &name), "required", "this field is required");
    }
    let code = if err.starts_with("invalid type") {
        "invalid_type"
    } else {
        "invalid_value"
    };
    // Keep serde's explanation but not its position suffix.
    let message = err.split(" at line ").next().unwrap_or(err).to_string();
    field_error(
        if field.is_empty() { "body" } else { &field },
        code,
        message,
    )
}

pub fn parse_json<T: DeserializeOwned + Validate>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every request body is an object; serde would also fill a struct from an array.
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | None => {}
        Some(_) if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err() => {
            return Err(ApiError::MalformedBody("invalid JSON".into()));
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "body",
                "invalid_type",
                "the body must be a JSON object",
            ))
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = match serde_path_to_error::deserialize(de) {
        Ok(v) => v,
        Err(e) => {
            let inner = e.inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::MalformedBody(format!("invalid JSON: {inner}")));
            }
            return Err(ApiError::Validation(vec![serde_field_error(
                e.path(),
                &inner.to_string(),
            )]));
        }
    };
    value
        .validate()
        .map_err(|e| ApiError::Validation(validation_fields(&e)))?;
    Ok(value)
}

/// A validated JSON request body.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned + Validate + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || m.ends_with("+json")
            })
            .unwrap_or(false);
        let limit = req
            .app_data::<web::Data<crate::AppState>>()
            .map(|s| s.config.max_body_bytes)
            .unwrap_or(256 * 1024);
        let declared_len = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            if declared_len.is_some_and(|n| n > limit) {
                return Err(ApiError::BodyTooLarge(limit));
            }
            let bytes = bytes.await.map_err(|e| {
                let why = e.to_string().to_ascii_lowercase();
                if ["overflow", "too large", "size limit"]
                    .iter()
                    .any(|w| why.contains(w))
                {
                    ApiError::BodyTooLarge(limit)
                } else {
                    ApiError::MalformedBody("could not read the request body".into())
                }
            })?;
            if bytes.len() > limit {
                return Err(ApiError::BodyTooLarge(limit));
            }
            parse_json(&bytes).map(Body)
        })
    }
}

/// Validated query parameters; unknown parameters are refused like unknown body fields.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned + Validate + 'static> FromRequest for QueryParams<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = (|| {
            let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(req.query_string()));
            let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
                let msg = e.inner().to_string();
                let mut f = serde_field_error(e.path(), &msg);
                if f.field == "body" {
                    f.field = "query".into();
                }
                ApiError::Validation(vec![f])
            })?;
            value
                .validate()
                .map_err(|e| ApiError::Validation(validation_fields(&e)))?;
            Ok(QueryParams(value))
        })();
        std::future::ready(parsed)
    }
}

fn form_urlencoded_parse(q: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(q.as_bytes())
}

/// The page a list endpoint was asked for; a cursor we did not issue is a 422 on `cursor`.
pub fn page_request(p: &PageParams) -> Result<PageRequest, ApiError> {
    let after = match &p.cursor {
        None => None,
        Some(c) => Some(Cursor::decode(c).map_err(|_| {
            ApiError::invalid(
                "cursor",
                "invalid_cursor",
                "not a cursor this server issued",
            )
        })?),
    };
    Ok(PageRequest {
        after,
        limit: p.limit.unwrap_or(DEFAULT_PAGE_SIZE),
    })
}

/// The `Idempotency-Key` header every money- or points-moving request must carry: a retry with
/// the same key returns the first answer instead of moving money twice. Missing or malformed,
/// the request is refused before anything is read from the database.
pub struct IdempotencyKey(pub String);

pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let value = req
            .headers()
            .get(IDEMPOTENCY_HEADER)
            .map(|v| v.to_str().map(str::to_string));
        std::future::ready(match value {
            None => Err(ApiError::invalid(
                IDEMPOTENCY_HEADER,
                "required",
                "money-moving requests need an Idempotency-Key header (e.g. a UUID made once per attempt)",
            )),
            Some(Ok(k)) if !k.is_empty() && k.len() <= 128 && k.chars().all(|c| c.is_ascii_graphic()) => {
                Ok(IdempotencyKey(k))
            }
            Some(_) => Err(ApiError::invalid(
                IDEMPOTENCY_HEADER,
                "invalid_format",
                "1-128 visible ASCII characters",
            )),
        })
    }
}

/// A path id, checked before it reaches a query.
pub fn path_id(raw: &str, what: &'static str) -> Result<String, ApiError> {
    dms_core::parse_id(raw).map_err(|_| ApiError::NotFound(what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dms_api_types::{CreateStaffRequest, LoginRequest};

    fn fields(e: ApiError) -> Vec<(String, String)> {
        match e {
            ApiError::Validation(f) => f.into_iter().map(|f| (f.field, f.code)).collect(),
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn names_the_field_that_is_wrong() {
        let e =
            parse_json::<LoginRequest>(br#"{"username":"a","password":"x","admin":true}"#).err();
        assert_eq!(
            fields(e.unwrap_or(ApiError::RouteNotFound)),
            vec![("admin".into(), "unknown_field".into())]
        );
        let e = parse_json::<LoginRequest>(br#"{"username":"a"}"#).err();
        assert_eq!(
            fields(e.unwrap_or(ApiError::RouteNotFound)),
            vec![("password".into(), "required".into())]
        );
        let e = parse_json::<LoginRequest>(br#"{"username":5,"password":"x"}"#).err();
        assert_eq!(
            fields(e.unwrap_or(ApiError::RouteNotFound)),
            vec![("username".into(), "invalid_type".into())]
        );
        let e = parse_json::<LoginRequest>(br#"{"username":"","password":"x"}"#).err();
        assert_eq!(
            fields(e.unwrap_or(ApiError::RouteNotFound)),
            vec![("username".into(), "length".into())]
        );
        assert!(matches!(
            parse_json::<LoginRequest>(b"{not json"),
            Err(ApiError::MalformedBody(_))
        ));
    }

    #[test]
    fn nested_list_paths() {
        let body = br#"{"username":"abc","display_name":"x","password":"12345678","roles":[{"role":"cashier"},{"role":""}]}"#;
        let e = parse_json::<CreateStaffRequest>(body).err();
        assert_eq!(
            fields(e.unwrap_or(ApiError::RouteNotFound)),
            vec![("roles[1].role".into(), "length".into())]
        );
        let body = br#"{"username":"abc","display_name":"x","password":"12345678","roles":[{"role":"cashier","x":1}]}"#;
        let e = parse_json::<CreateStaffRequest>(body).err();
        assert_eq!(
            fields(e.unwrap_or(ApiError::RouteNotFound)),
            vec![("roles[0].x".into(), "unknown_field".into())]
        );
    }

    #[test]
    fn bad_cursor_is_a_field_error() {
        let p = PageParams {
            cursor: Some("garbage".into()),
            limit: None,
        };
        assert!(matches!(page_request(&p), Err(ApiError::Validation(_))));
    }
}
