//! The crate error: what can go wrong in the domain and behind its ports.

use std::borrow::Cow;

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Failures the domain and its ports report; `api` maps each to one stable wire code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The named object does not exist for this tenant (another tenant's object looks the same).
    #[error("{kind} '{id}' not found")]
    NotFound {
        /// What kind of object was looked up ("session", "artifact", …).
        kind: &'static str,
        /// The id that was asked for.
        id: String,
    },
    /// The input is well-formed but not acceptable (bad id, bad value).
    #[error("{0}")]
    Invalid(Cow<'static, str>),
    /// The operation conflicts with the stored state (duplicate id, wrong status).
    #[error("{0}")]
    Conflict(Cow<'static, str>),
    /// A body or file is larger than the configured limit.
    #[error("too large: the limit is {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The metadata store failed; the message never carries connection secrets.
    #[error("metadata store: {0}")]
    Store(String),
    /// Reading or writing artifact bytes failed.
    #[error("artifact store: {0}")]
    Io(#[from] std::io::Error),
    /// The component is shutting down or not ready.
    #[error("{0} unavailable")]
    Unavailable(Cow<'static, str>),
}

impl Error {
    /// A not-found error for `kind` with `id`.
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            kind,
            id: id.into(),
        }
    }

    /// An invalid-input error with `message`.
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::Invalid(message.into())
    }
}
