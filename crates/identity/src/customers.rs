//! The minimal customer record (the CRM crate extends it) and the owners' app login by phone
//! number and one-time code.

use crate::{record_audit, Actor, IdentityError, NewAudit, Result};
use chrono::{Duration, Utc};
use diesel::prelude::*;
use dms_core::{Cursor, PageRequest, StoreScope};
use dms_db::schema::{customer_login_codes, customers, stores};
use dms_db::{to_db_time, DbConnection};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde_json::json;
use sha2::Sha256;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = customers)]
pub struct Customer {
    pub id: String,
    pub store_id: String,
    pub name: String,
    pub phone: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

pub struct NewCustomer {
    pub store_id: String,
    pub name: String,
    pub phone: String,
}

/// Mainland mobile numbers: 11 digits starting 13-19.
pub(crate) fn check_phone(phone: &str) -> Result<()> {
    let b = phone.as_bytes();
    let ok = b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit);
    if ok {
        Ok(())
    } else {
        Err(IdentityError::invalid(
            "phone",
            "must be an 11-digit mobile number",
        ))
    }
}

pub fn create_customer(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    new: &NewCustomer,
) -> Result<Customer> {
    check_phone(&new.phone)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(IdentityError::invalid("name", "1-64 characters"));
    }
    dms_db::write_tx(conn, |c| {
        let store_known: i64 = stores::table
            .filter(stores::id.eq(&new.store_id))
            .count()
            .get_result(c)?;
        if store_known == 0 || !scope.allows(&new.store_id) {
            return Err(IdentityError::invalid(
                "store_id",
                "no such store among yours",
            ));
        }
        let taken: i64 = customers::table
            .filter(customers::phone.eq(&new.phone))
            .count()
            .get_result(c)?;
        if taken > 0 {
            return Err(IdentityError::Conflict {
                field: "phone",
                message: "a customer with this phone exists".into(),
            });
        }
        let id = dms_core::new_id();
        let now = to_db_time(Utc::now());
        diesel::insert_into(customers::table)
            .values((
                customers::id.eq(&id),
                customers::store_id.eq(&new.store_id),
                customers::name.eq(name),
                customers::phone.eq(&new.phone),
                customers::created_at.eq(now),
                customers::updated_at.eq(now),
            ))
            .execute(c)?;
        record_audit(
            c,
            actor,
            NewAudit {
                store_id: Some(&new.store_id),
                action: "customer.create",
                entity: "customer",
                entity_id: &id,
                detail: json!({}),
            },
        )?;
        Ok(customers::table
            .find(&id)
            .select(Customer::as_select())
            .first(c)?)
    })
}

pub fn get_customer(conn: &mut DbConnection, scope: &StoreScope, id: &str) -> Result<Customer> {
    let c: Option<Customer> = customers::table
        .find(id)
        .select(Customer::as_select())
        .first(conn)
        .optional()?;
    match c {
        Some(c) if scope.allows(&c.store_id) => Ok(c),
        _ => Err(IdentityError::NotFound("customer")),
    }
}

pub fn list_customers(
    conn: &mut DbConnection,
    scope: &StoreScope,
    page: &PageRequest,
) -> Result<(Vec<Customer>, Option<String>)> {
    let mut q = customers::table.select(Customer::as_select()).into_boxed();
    if let StoreScope::Stores(ids) = scope {
        q = q.filter(customers::store_id.eq_any(ids.clone()));
    }
    if let Some(Cursor { after_id }) = &page.after {
        q = q.filter(customers::id.gt(after_id.clone()));
    }
    let rows = q
        .order(customers::id.asc())
        .limit(page.fetch_limit())
        .load(conn)?;
    Ok(page.finish(rows, |c| &c.id))
}

/// Delivers a login code to a phone. The CRM outbox implements this for real SMS; until then
/// [`FileCodeSender`] writes the messages to a file that staff can read in a demo.
pub trait LoginCodeSender: Send + Sync {
    fn send_login_code(&self, phone: &str, text: &str) -> std::result::Result<(), String>;
}

/// Appends each message as one JSON line (`{"channel":"sms","to":..,"text":..}`) to a file.
pub struct FileCodeSender {
    pub path: PathBuf,
}

impl LoginCodeSender for FileCodeSender {
    fn send_login_code(&self, phone: &str, text: &str) -> std::result::Result<(), String> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| e.to_string())?;
        let line =
            json!({"channel": "sms", "to": phone, "text": text, "at": Utc::now().to_rfc3339()});
        writeln!(f, "{line}").map_err(|e| e.to_string())
    }
}

/// How login codes behave; the pepper comes from configuration.
#[derive(Clone)]
pub struct OtpPolicy {
    pub pepper: Vec<u8>,
    pub ttl: Duration,
    pub resend_after: Duration,
    pub max_per_hour: i64,
    pub max_attempts: i32,
    pub brand: String,
}

impl OtpPolicy {
    pub fn new(pepper: Vec<u8>) -> OtpPolicy {
        OtpPolicy {
            pepper,
            ttl: Duration::minutes(5),
            resend_after: Duration::seconds(60),
            max_per_hour: 5,
            max_attempts: 5,
            brand: "4S会员".to_string(),
        }
    }

    fn hash(&self, phone: &str, code: &str) -> String {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.pepper) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(phone.as_bytes());
        mac.update(b":");
        mac.update(code.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum CodeRequest {
    /// A code went out (or would have, had the number belonged to a customer: callers answer
    /// both the same way, so the endpoint does not reveal who is a customer).
    Accepted,
}

pub fn request_login_code(
    conn: &mut DbConnection,
    sender: &dyn LoginCodeSender,
    policy: &OtpPolicy,
    phone: &str,
) -> Result<CodeRequest> {
    request_code(conn, sender, policy, phone, None)
}

/// As [`request_login_code`], for a phone the caller has already resolved: `known` says
/// whether it belongs to a customer (the CRM also knows the further numbers a merge moved
/// to the surviving record, which `customers.phone` does not hold).
pub fn request_login_code_for(
    conn: &mut DbConnection,
    sender: &dyn LoginCodeSender,
    policy: &OtpPolicy,
    phone: &str,
    known: bool,
) -> Result<CodeRequest> {
    request_code(conn, sender, policy, phone, Some(known))
}

fn request_code(
    conn: &mut DbConnection,
    sender: &dyn LoginCodeSender,
    policy: &OtpPolicy,
    phone: &str,
    known: Option<bool>,
) -> Result<CodeRequest> {
    check_phone(phone)?;
    let now = Utc::now();
    let issued: Option<String> = dms_db::write_tx(conn, |c| {
        let recent: Vec<chrono::NaiveDateTime> = customer_login_codes::table
            .filter(customer_login_codes::phone.eq(phone))
            .filter(customer_login_codes::created_at.gt(to_db_time(now - Duration::hours(1))))
            .select(customer_login_codes::created_at)
            .order(customer_login_codes::created_at.desc())
            .load(c)?;
        if let Some(last) = recent.first() {
            let wait = dms_db::from_db_time(*last) + policy.resend_after - now;
            if wait > Duration::zero() {
                return Err(IdentityError::TooManyAttempts {
                    retry_after_secs: wait.num_seconds().max(1) as u64,
                });
            }
        }
        if recent.len() as i64 >= policy.max_per_hour {
            return Err(IdentityError::TooManyAttempts {
                retry_after_secs: 3600,
            });
        }
        let known: i64 = match known {
            Some(k) => i64::from(k),
            None => customers::table
                .filter(customers::phone.eq(phone))
                .count()
                .get_result(c)?,
        };
        let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
        // Unknown numbers are throttled like real ones but get no code.
        diesel::insert_into(customer_login_codes::table)
            .values((
                customer_login_codes::id.eq(dms_core::new_id()),
                customer_login_codes::phone.eq(phone),
                customer_login_codes::code_hash.eq(if known > 0 {
                    policy.hash(phone, &code)
                } else {
                    String::new()
                }),
                customer_login_codes::failed_attempts.eq(0),
                customer_login_codes::expires_at.eq(to_db_time(now + policy.ttl)),
                customer_login_codes::created_at.eq(to_db_time(now)),
            ))
            .execute(c)?;
        Ok((known > 0).then_some(code))
    })?;
    if let Some(code) = issued {
        let text = format!(
            "【{}】您的登录验证码是{code}，{}分钟内有效。请勿告诉他人。",
            policy.brand,
            policy.ttl.num_minutes()
        );
        sender
            .send_login_code(phone, &text)
            .map_err(IdentityError::SenderUnavailable)?;
    }
    Ok(CodeRequest::Accepted)
}

enum CodeCheck {
    Ok(Customer),
    Wrong,
}

/// Checks a code against the newest one sent to the phone; a code works once, and five wrong
/// tries spend it.
pub fn verify_login_code(
    conn: &mut DbConnection,
    policy: &OtpPolicy,
    phone: &str,
    code: &str,
) -> Result<Customer> {
    verify_code(conn, policy, phone, code, None)
}

/// As [`verify_login_code`], for a phone the caller has already resolved to `customer_id`
/// (the CRM's login-phone rule, which knows further numbers): the code logs in as that
/// customer; `None` (unknown number) is a wrong code.
pub fn verify_login_code_for(
    conn: &mut DbConnection,
    policy: &OtpPolicy,
    phone: &str,
    code: &str,
    customer_id: Option<&str>,
) -> Result<Customer> {
    verify_code(conn, policy, phone, code, Some(customer_id))
}

fn verify_code(
    conn: &mut DbConnection,
    policy: &OtpPolicy,
    phone: &str,
    code: &str,
    resolved: Option<Option<&str>>,
) -> Result<Customer> {
    check_phone(phone)?;
    let now = to_db_time(Utc::now());
    let outcome = dms_db::write_tx(conn, |c| -> Result<CodeCheck> {
        let row: Option<(String, String, i32)> = customer_login_codes::table
            .filter(customer_login_codes::phone.eq(phone))
            .filter(customer_login_codes::consumed_at.is_null())
            .filter(customer_login_codes::expires_at.gt(now))
            .order(customer_login_codes::created_at.desc())
            .select((
                customer_login_codes::id,
                customer_login_codes::code_hash,
                customer_login_codes::failed_attempts,
            ))
            .first(c)
            .optional()?;
        let Some((id, hash, failed)) = row else {
            return Ok(CodeCheck::Wrong);
        };
        if failed >= policy.max_attempts || hash.is_empty() {
            return Ok(CodeCheck::Wrong);
        }
        let presented = policy.hash(phone, code);
        if !constant_time_eq(presented.as_bytes(), hash.as_bytes()) {
            diesel::update(customer_login_codes::table.find(&id))
                .set(customer_login_codes::failed_attempts.eq(failed + 1))
                .execute(c)?;
            return Ok(CodeCheck::Wrong);
        }
        diesel::update(customer_login_codes::table.find(&id))
            .set(customer_login_codes::consumed_at.eq(now))
            .execute(c)?;
        let customer = match resolved {
            None => customers::table
                .filter(customers::phone.eq(phone))
                .select(Customer::as_select())
                .first(c)
                .optional()?,
            Some(None) => None,
            Some(Some(id)) => customers::table
                .find(id)
                .select(Customer::as_select())
                .first(c)
                .optional()?,
        };
        Ok(customer.map(CodeCheck::Ok).unwrap_or(CodeCheck::Wrong))
    })?;
    match outcome {
        CodeCheck::Ok(c) => Ok(c),
        CodeCheck::Wrong => Err(IdentityError::InvalidCredentials),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_rules() {
        assert!(check_phone("13800138000").is_ok());
        assert!(check_phone("12800138000").is_err());
        assert!(check_phone("1380013800").is_err());
        assert!(check_phone("1380013800a").is_err());
    }

    #[test]
    fn code_hash_depends_on_pepper_and_phone() {
        let a = OtpPolicy::new(b"pepper-a".to_vec());
        let b = OtpPolicy::new(b"pepper-b".to_vec());
        assert_ne!(
            a.hash("13800138000", "123456"),
            b.hash("13800138000", "123456")
        );
        assert_ne!(
            a.hash("13800138000", "123456"),
            a.hash("13800138001", "123456")
        );
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
    }
}
