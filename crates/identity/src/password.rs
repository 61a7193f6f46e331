use crate::IdentityError;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

pub const MIN_PASSWORD_LEN: usize = 8;

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_password(password: &str) -> Result<String, IdentityError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| IdentityError::Hash)
}

#[derive(Debug, PartialEq, Eq)]
pub enum PasswordCheck {
    Match,
    Mismatch,
}

pub fn verify_password(password: &str, stored: &str) -> PasswordCheck {
    match PasswordHash::new(stored) {
        Ok(h) if argon2().verify_password(password.as_bytes(), &h).is_ok() => PasswordCheck::Match,
        _ => PasswordCheck::Mismatch,
    }
}

/// A hash to verify against when the username does not exist, so that the answer takes as
/// long as for a real account and does not reveal which usernames exist.
pub(crate) fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password("dummy-password-for-timing").unwrap_or_default())
}

pub(crate) fn check_password_rules(password: &str) -> Result<(), IdentityError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(IdentityError::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if password.len() > 256 {
        return Err(IdentityError::invalid(
            "password",
            "must be at most 256 bytes",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(verify_password("correct horse", &h), PasswordCheck::Match);
        assert_eq!(verify_password("wrong horse", &h), PasswordCheck::Mismatch);
        assert_eq!(verify_password("x", "not a hash"), PasswordCheck::Mismatch);
        assert_ne!(hash_password("correct horse").unwrap(), h, "salted");
    }
}
