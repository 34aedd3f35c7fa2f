//! Identifiers as newtypes. Every id matches `[a-zA-Z0-9_-]{1,128}` (the DSAgent rule), so an
//! id is always safe in a URL path segment and as a file name.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::Error;

/// Longest id accepted anywhere.
pub const MAX_ID_LEN: usize = 128;

fn is_valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses `s`, refusing anything outside `[a-zA-Z0-9_-]{1,128}`.
            pub fn parse(s: &str) -> Result<Self, Error> {
                if is_valid_id(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(Error::invalid(concat!(
                        "invalid ",
                        $what,
                        ": must match [a-zA-Z0-9_-]{1,128}"
                    )))
                }
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned string, without copying.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::parse(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// A session: the unit every surface groups runs, messages, files and a kernel under.
    SessionId,
    "session id"
);
id_type!(
    /// One execution of an agent (data, python, chart, chat) inside a session.
    RunId,
    "run id"
);
id_type!(
    /// A stored file produced by a run.
    ArtifactId,
    "artifact id"
);
id_type!(
    /// One message of a session's conversation.
    MessageId,
    "message id"
);
id_type!(
    /// The isolation boundary: every stored object belongs to exactly one tenant.
    TenantId,
    "tenant id"
);

id_type!(
    /// A user account.
    UserId,
    "user id"
);
id_type!(
    /// An API key (the id, never the secret).
    ApiKeyId,
    "API key id"
);
id_type!(
    /// An OAuth2 client registered by an admin.
    ClientId,
    "client id"
);

impl UserId {
    /// A new id, `usr_` and 16 hex digits.
    pub fn generate() -> Self {
        Self(format!("usr_{}", random_hex(8)))
    }
}

impl ApiKeyId {
    /// A new id, `key_` and 16 hex digits.
    pub fn generate() -> Self {
        Self(format!("key_{}", random_hex(8)))
    }
}

impl ClientId {
    /// A new id, `cli_` and 16 hex digits.
    pub fn generate() -> Self {
        Self(format!("cli_{}", random_hex(8)))
    }
}

impl SessionId {
    /// A new id in DSAgent's form, `YYYYMMDD_HHMMSS_xxxxxx`, which sorts by creation time.
    pub fn generate() -> Self {
        let now = crate::time::now();
        Self(format!("{}_{}", now.format("%Y%m%d_%H%M%S"), random_hex(3)))
    }
}

impl RunId {
    /// A new random id of 16 hex digits.
    pub fn generate() -> Self {
        Self(random_hex(8))
    }
}

impl ArtifactId {
    /// A new random id of 12 hex digits (oneprompt's form).
    pub fn generate() -> Self {
        Self(random_hex(6))
    }
}

impl MessageId {
    /// A new random id, `msg_` and 16 hex digits.
    pub fn generate() -> Self {
        Self(format!("msg_{}", random_hex(8)))
    }
}

impl TenantId {
    /// The tenant of the single-tenant owner (no auth, loopback).
    pub fn owner() -> Self {
        Self("default".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        for ok in [
            "a",
            "20260112_215333_b5537c",
            "team-alpha",
            &"x".repeat(128),
        ] {
            assert!(SessionId::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "a b",
            "../etc",
            "a/b",
            "é",
            "a.b",
            "a\0b",
            &"x".repeat(129),
        ] {
            assert!(SessionId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = SessionId::generate();
        let b = SessionId::generate();
        assert!(SessionId::parse(a.as_str()).is_ok());
        assert_eq!(a.as_str().len(), "20260112_215333_b5537c".len());
        assert_ne!(RunId::generate(), RunId::generate());
        assert_eq!(ArtifactId::generate().as_str().len(), 12);
        assert!(MessageId::generate().as_str().starts_with("msg_"));
        let _ = b;
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<SessionId>("\"ok_id\"").is_ok());
        assert!(serde_json::from_str::<SessionId>("\"../x\"").is_err());
    }
}
