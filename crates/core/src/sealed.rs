//! Secrets at rest: API keys of LLM providers and database credentials are stored sealed
//! with XChaCha20-Poly1305 under a key the server keeps in its data directory
//! (`<data dir>/secrets/data.key`) or takes from configuration.
//!
//! A sealed value is `v1:` followed by base64 of a random 24-byte nonce and the ciphertext.
//! The associated data binds a value to what it belongs to (for instance
//! `provider:<tenant>:<name>`), so a sealed value copied onto another record does not open.

use base64::{Engine, engine::general_purpose::STANDARD_NO_PAD};
use chacha20poly1305::{
    Key, XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit, Payload},
};

use crate::{Error, Result};

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;

/// Seals and opens secrets with one 32-byte key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// A box over `key`.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// A fresh random key, for a new data directory.
    pub fn generate_key() -> [u8; 32] {
        rand::random()
    }

    /// Seals `plain`, bound to `context`.
    pub fn seal(&self, context: &str, plain: &str) -> Result<String> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Error::Invalid("cannot seal the secret".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD_NO_PAD.encode(out)))
    }

    /// Opens a value [`SecretBox::seal`] made with the same key and `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<String> {
        let corrupt = || {
            Error::Invalid("a stored secret cannot be opened with this server's key (was the data key replaced?)".into())
        };
        let body = sealed.strip_prefix(PREFIX).ok_or_else(corrupt)?;
        let raw = STANDARD_NO_PAD.decode(body).map_err(|_| corrupt())?;
        if raw.len() < NONCE_LEN {
            return Err(corrupt());
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| corrupt())?;
        String::from_utf8(plain).map_err(|_| corrupt())
    }
}

/// The last four characters of a secret behind a mask (`sk-…abcd`), the only form in which
/// a stored key is ever shown again.
pub fn mask_secret(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= 8 {
        return "…".to_owned();
    }
    let head: String = chars.iter().take(3).collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let b = SecretBox::new(&SecretBox::generate_key());
        let s = b.seal("provider:owner:openai", "sk-secret").unwrap();
        assert!(s.starts_with("v1:") && !s.contains("sk-secret"));
        assert_eq!(b.open("provider:owner:openai", &s).unwrap(), "sk-secret");
        // Another record's context, another key, or a tampered value does not open.
        assert!(b.open("provider:owner:groq", &s).is_err());
        assert!(
            SecretBox::new(&[7; 32])
                .open("provider:owner:openai", &s)
                .is_err()
        );
        let mut t = s.clone();
        t.pop();
        assert!(b.open("provider:owner:openai", &t).is_err());
        assert!(b.open("x", "plain").is_err());
        // Two seals of one value differ (random nonce).
        assert_ne!(s, b.seal("provider:owner:openai", "sk-secret").unwrap());
    }

    #[test]
    fn masks_show_only_the_ends() {
        assert_eq!(mask_secret("sk-abcdefghijkl1234"), "sk-…1234");
        assert_eq!(mask_secret("short"), "…");
    }
}
