//! Turning failures into what a form shows: a message beside each field the server (or the
//! local check) named, and one general message for the rest.

use crate::api::ApiError;
use crate::i18n::{t, Key, Lang};
use dms_api_types::FieldError;
use std::collections::BTreeMap;

/// The messages a form shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormErrors {
    /// Field name → message, for the fields the form has.
    pub fields: BTreeMap<String, String>,
    /// Shown above the form.
    pub general: Option<String>,
}

impl FormErrors {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_none()
    }
}

/// The message for one field error: a translated one for the codes we know, else the server's.
pub fn field_message(error: &FieldError, lang: Lang) -> String {
    match error.code.as_str() {
        "required" => t(lang, Key::FieldRequired).to_string(),
        "length" => t(lang, Key::FieldLength).to_string(),
        "conflict" => t(lang, Key::FieldTaken).to_string(),
        "pattern" | "format" => t(lang, Key::FieldInvalid).to_string(),
        "password_length" => t(lang, Key::PasswordTooShort).to_string(),
        "phone" => t(lang, Key::PhoneInvalid).to_string(),
        "roles" => t(lang, Key::RolesRequired).to_string(),
        _ if !error.message.is_empty() => error.message.clone(),
        _ => t(lang, Key::FieldInvalid).to_string(),
    }
}

/// The one-line message for a failure (pages without fields use only this).
pub fn error_message(error: &ApiError, lang: Lang) -> String {
    match error {
        ApiError::Network(_) => t(lang, Key::NetworkError).to_string(),
        ApiError::SessionExpired => t(lang, Key::SessionExpired).to_string(),
        ApiError::Decode(_) => t(lang, Key::ServerError).to_string(),
        ApiError::Status(status) => status_message(*status, lang).to_string(),
        ApiError::Problem(p) => match p.code.as_str() {
            "too_many_requests" => t(lang, Key::TooManyAttempts).to_string(),
            "invalid_credentials" => t(lang, Key::InvalidCredentials).to_string(),
            "forbidden" => t(lang, Key::AccessDenied).to_string(),
            "internal_error" => t(lang, Key::ServerError).to_string(),
            "unavailable" => t(lang, Key::Unavailable).to_string(),
            "wrong_pin" => t(lang, Key::WrongPin).to_string(),
            "pin_locked" => t(lang, Key::PinLocked).to_string(),
            "insufficient_balance" => t(lang, Key::InsufficientBalance).to_string(),
            "insufficient_points" => t(lang, Key::InsufficientPoints).to_string(),
            "card_lost" => t(lang, Key::CardIsLost).to_string(),
            "card_frozen" => t(lang, Key::CardIsFrozen).to_string(),
            "card_expired" => t(lang, Key::CardIsExpired).to_string(),
            "card_closed" => t(lang, Key::CardIsClosed).to_string(),
            _ if p.status == 429 => t(lang, Key::TooManyAttempts).to_string(),
            _ => match p.detail.as_deref() {
                Some(detail) if !detail.is_empty() => format!("{}: {detail}", p.title),
                _ => p.title.clone(),
            },
        },
    }
}

fn status_message(status: u16, lang: Lang) -> &'static str {
    match status {
        401 => t(lang, Key::SessionExpired),
        403 => t(lang, Key::AccessDenied),
        404 => t(lang, Key::NotFound),
        429 => t(lang, Key::TooManyAttempts),
        502..=504 => t(lang, Key::Unavailable),
        _ => t(lang, Key::ServerError),
    }
}

/// Places field errors beside the form's `fields`; errors about other fields go to the general
/// message.
pub fn field_errors(errors: &[FieldError], lang: Lang, fields: &[&str]) -> FormErrors {
    let mut out = FormErrors::default();
    let mut others = Vec::new();
    for error in errors {
        let message = field_message(error, lang);
        // `roles[1].store_id` shows beside `roles` when the form has no such field.
        let base = error
            .field
            .split(['[', '.'])
            .next()
            .unwrap_or_default()
            .to_string();
        let name = if fields.contains(&error.field.as_str()) {
            Some(error.field.clone())
        } else if fields.contains(&base.as_str()) {
            Some(base)
        } else {
            None
        };
        if let Some(name) = name {
            // The first error per field is enough.
            out.fields.entry(name).or_insert(message);
        } else {
            others.push(format!("{}: {message}", error.field));
        }
    }
    if !others.is_empty() {
        out.general = Some(others.join("; "));
    }
    out
}

/// What a form shows for a failed submit.
pub fn form_errors(error: &ApiError, lang: Lang, fields: &[&str]) -> FormErrors {
    if let ApiError::Problem(p) = error {
        if !p.errors.is_empty() {
            let mut out = field_errors(&p.errors, lang, fields);
            if out.fields.is_empty() && out.general.is_none() {
                out.general = Some(error_message(error, lang));
            }
            return out;
        }
    }
    FormErrors {
        fields: BTreeMap::new(),
        general: Some(error_message(error, lang)),
    }
}

/// Why the last submit of a form failed; turned into messages at render time so the language
/// toggle applies to them too.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    Local(Vec<FieldError>),
    Server(ApiError),
}

impl Failure {
    pub fn errors(&self, lang: Lang, fields: &[&str]) -> FormErrors {
        match self {
            Failure::Local(list) => field_errors(list, lang, fields),
            Failure::Server(e) => form_errors(e, lang, fields),
        }
    }
}

/// The messages of an optional failure.
pub fn errors_of(failure: &Option<Failure>, lang: Lang, fields: &[&str]) -> FormErrors {
    failure
        .as_ref()
        .map(|f| f.errors(lang, fields))
        .unwrap_or_default()
}

fn invalid(field: &str, code: &str) -> FieldError {
    FieldError {
        field: field.to_string(),
        code: code.to_string(),
        message: String::new(),
    }
}

fn check_len(errors: &mut Vec<FieldError>, field: &str, value: &str, min: usize, max: usize) {
    let n = value.trim().chars().count();
    if n == 0 && min > 0 {
        errors.push(required(field));
    } else if n < min || n > max {
        errors.push(invalid(field, "length"));
    }
}

fn check_charset(errors: &mut Vec<FieldError>, field: &str, value: &str, extra: &[char]) {
    let ok = value
        .trim()
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c));
    if !ok && !errors.iter().any(|e| e.field == field) {
        errors.push(invalid(field, "pattern"));
    }
}

/// A mainland mobile number: 11 digits starting 1[3-9].
pub fn is_mobile(phone: &str) -> bool {
    let b = phone.as_bytes();
    b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit)
}

/// The store form (create: with the code; edit: without).
pub fn validate_store(
    code: Option<&str>,
    name: &str,
    address: &str,
    phone: &str,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(code) = code {
        check_len(&mut errors, "code", code, 2, 16);
        check_charset(&mut errors, "code", code, &['-']);
    }
    check_len(&mut errors, "name", name, 1, 100);
    check_len(&mut errors, "address", address, 0, 200);
    check_len(&mut errors, "phone", phone, 0, 32);
    errors
}

/// A password a manager sets for someone.
pub fn validate_password(password: &str) -> Vec<FieldError> {
    let n = password.chars().count();
    if password.is_empty() {
        vec![required("password")]
    } else if !(8..=256).contains(&n) {
        vec![invalid("password", "password_length")]
    } else {
        Vec::new()
    }
}

/// The new-staff form.
pub fn validate_staff(
    username: &str,
    display_name: &str,
    password: &str,
    role_count: usize,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    check_len(&mut errors, "username", username, 3, 32);
    check_charset(&mut errors, "username", username, &['.', '_', '-']);
    check_len(&mut errors, "display_name", display_name, 1, 64);
    errors.extend(validate_password(password));
    if role_count == 0 {
        errors.push(invalid("roles", "roles"));
    }
    errors
}

/// The new-customer form.
pub fn validate_customer(store_id: &str, name: &str, phone: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if store_id.is_empty() {
        errors.push(required("store_id"));
    }
    check_len(&mut errors, "name", name, 1, 64);
    if phone.trim().is_empty() {
        errors.push(required("phone"));
    } else if !is_mobile(phone.trim()) {
        errors.push(invalid("phone", "phone"));
    }
    errors
}

/// The login form's own check before anything is sent.
pub fn validate_login(username: &str, password: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if username.trim().is_empty() {
        errors.push(required("username"));
    }
    if password.is_empty() {
        errors.push(required("password"));
    }
    errors
}

fn required(field: &str) -> FieldError {
    FieldError {
        field: field.to_string(),
        code: "required".to_string(),
        message: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dms_api_types::Problem;

    const LOGIN_FIELDS: &[&str] = &["username", "password"];

    fn problem(status: u16, code: &str, errors: Vec<FieldError>) -> ApiError {
        ApiError::Problem(Box::new(Problem {
            kind: format!("urn:dms:problem:{code}"),
            title: "some title".into(),
            status,
            code: code.into(),
            detail: None,
            errors,
        }))
    }

    fn fe(field: &str, code: &str, message: &str) -> FieldError {
        FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }

    #[test]
    fn empty_fields_are_caught_locally() {
        let errors = validate_login("  ", "");
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["username", "password"]);
        assert!(validate_login("alice", "secret").is_empty());
        let shown = field_errors(&errors, Lang::Zh, LOGIN_FIELDS);
        assert_eq!(shown.field("username"), Some("必填"));
        assert_eq!(shown.field("password"), Some("必填"));
        assert_eq!(shown.general, None);
    }

    #[test]
    fn server_field_errors_go_beside_their_fields() {
        let err = problem(
            422,
            "validation_failed",
            vec![
                fe("username", "length", "must be 1-64 characters"),
                fe("username", "required", ""),
                fe("password", "weird", "server says no"),
            ],
        );
        let shown = form_errors(&err, Lang::En, LOGIN_FIELDS);
        assert_eq!(shown.field("username"), Some("Wrong length"));
        assert_eq!(shown.field("password"), Some("server says no"));
        assert_eq!(shown.general, None);
    }

    #[test]
    fn nested_field_errors_go_beside_their_list() {
        let err = problem(
            422,
            "validation_failed",
            vec![fe("roles[1].store_id", "forbidden_store", "not your store")],
        );
        let shown = form_errors(&err, Lang::En, &["username", "roles"]);
        assert_eq!(shown.field("roles"), Some("not your store"));
    }

    #[test]
    fn errors_about_unknown_fields_become_the_general_message() {
        let err = problem(
            422,
            "validation_failed",
            vec![fe("extra", "unknown_field", "not allowed")],
        );
        let shown = form_errors(&err, Lang::En, LOGIN_FIELDS);
        assert!(shown.fields.is_empty());
        assert_eq!(shown.general.as_deref(), Some("extra: not allowed"));
    }

    #[test]
    fn too_many_attempts_has_its_own_message() {
        let shown = form_errors(
            &problem(429, "too_many_requests", vec![]),
            Lang::Zh,
            LOGIN_FIELDS,
        );
        assert_eq!(
            shown.general.as_deref(),
            Some(t(Lang::Zh, Key::TooManyAttempts))
        );
        assert_eq!(
            error_message(&ApiError::Status(429), Lang::En),
            t(Lang::En, Key::TooManyAttempts)
        );
    }

    #[test]
    fn wrong_password_and_unknown_problems() {
        let shown = form_errors(
            &problem(401, "invalid_credentials", vec![]),
            Lang::En,
            LOGIN_FIELDS,
        );
        assert_eq!(
            shown.general.as_deref(),
            Some(t(Lang::En, Key::InvalidCredentials))
        );
        let mut other = problem(409, "conflict", vec![]);
        if let ApiError::Problem(p) = &mut other {
            p.detail = Some("already there".into());
        }
        assert_eq!(error_message(&other, Lang::En), "some title: already there");
        assert_eq!(
            error_message(&problem(418, "teapot", vec![]), Lang::En),
            "some title"
        );
    }

    fn fields_of(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn store_form_checks() {
        assert!(validate_store(Some("HT03"), "华通三店", "", "").is_empty());
        assert_eq!(
            fields_of(&validate_store(Some("H"), " ", "", "")),
            ["code", "name"]
        );
        assert_eq!(
            fields_of(&validate_store(Some("HT 03"), "x", "", "")),
            ["code"]
        );
        assert!(validate_store(None, "x", &"a".repeat(200), "010").is_empty());
        assert_eq!(
            fields_of(&validate_store(None, "x", &"a".repeat(201), "")),
            ["address"]
        );
    }

    #[test]
    fn staff_form_checks() {
        assert!(validate_staff("ht01.new", "新员工", "Secret@123", 1).is_empty());
        let errors = validate_staff("a b", "", "short", 0);
        assert_eq!(
            fields_of(&errors),
            ["username", "display_name", "password", "roles"]
        );
        let shown = field_errors(&errors, Lang::Zh, &["username", "password", "roles"]);
        assert_eq!(
            shown.field("password"),
            Some(t(Lang::Zh, Key::PasswordTooShort))
        );
        assert_eq!(shown.field("roles"), Some(t(Lang::Zh, Key::RolesRequired)));
        assert_eq!(
            fields_of(&validate_staff("ab", "x", "12345678", 1)),
            ["username"]
        );
        assert_eq!(
            fields_of(&validate_staff("a/b", "x", "12345678", 1)),
            ["username"]
        );
    }

    #[test]
    fn customer_form_checks() {
        assert!(validate_customer("s1", "王先生", "13800138000").is_empty());
        assert!(is_mobile("19912345678"));
        assert!(!is_mobile("12345678901"));
        assert!(!is_mobile("1380013800"));
        assert_eq!(
            fields_of(&validate_customer("", "", "138")),
            ["store_id", "name", "phone"]
        );
    }

    #[test]
    fn a_taken_username_is_shown_beside_the_field() {
        let err = problem(
            409,
            "conflict",
            vec![fe("username", "conflict", "username already in use")],
        );
        let shown = form_errors(&err, Lang::Zh, &["username"]);
        assert_eq!(shown.field("username"), Some(t(Lang::Zh, Key::FieldTaken)));
        let failure = Failure::Server(err);
        assert_eq!(errors_of(&Some(failure), Lang::Zh, &["username"]), shown);
        assert!(errors_of(&None, Lang::Zh, &["username"]).is_empty());
    }

    #[test]
    fn transport_failures() {
        assert_eq!(
            error_message(&ApiError::Network("down".into()), Lang::Zh),
            t(Lang::Zh, Key::NetworkError)
        );
        assert_eq!(
            error_message(&ApiError::Status(502), Lang::En),
            t(Lang::En, Key::Unavailable)
        );
        assert!(FormErrors::default().is_empty());
    }
}
