//! Secrets: random tokens shown once and stored as SHA-256, and argon2id password hashes.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::AuthError;

/// Prefix of every quarry API key, so a leaked key is recognisable (and scannable).
pub const API_KEY_PREFIX: &str = "qk_";
/// Characters of a key kept in clear to tell keys apart in listings.
pub const DISPLAY_PREFIX_LEN: usize = 10;
/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;

/// A new random token: `prefix` and 32 random bytes in URL-safe base64 (256 bits).
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A new API key secret (`qk_…`).
pub fn new_api_key() -> String {
    random_token(API_KEY_PREFIX)
}

/// Lower-case hex SHA-256: how tokens and keys are stored and looked up. Plain SHA-256 is
/// right for 256-bit random secrets (nothing to brute-force); passwords use argon2id.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two secrets without an early exit on the first differing byte.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// An argon2id PHC string for `password` (OWASP's parameters: 19 MiB, 2 passes). CPU-heavy:
/// call it off the async runtime.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| AuthError::Hashing)
}

/// Checks `password` against a PHC string. CPU-heavy: call it off the async runtime.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Checks that a password is acceptable: 8 to 1024 characters.
pub fn check_password(password: &str) -> Result<(), quarry_core::Error> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_LEN {
        return Err(quarry_core::Error::invalid(
            "password must be at least 8 characters",
        ));
    }
    if n > 1024 {
        return Err(quarry_core::Error::invalid(
            "password must be at most 1024 characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_long() {
        let a = new_api_key();
        let b = new_api_key();
        assert_ne!(a, b);
        assert!(a.starts_with("qk_"));
        assert_eq!(a.len(), 3 + 43);
    }

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse").unwrap_or_default();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsf", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn equality_and_hashing() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert_eq!(sha256_hex("abc").len(), 64);
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
    }
}
