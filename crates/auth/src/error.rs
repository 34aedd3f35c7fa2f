//! Why authentication failed. Messages never carry a secret.

/// Authentication and authorisation failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credentials where some are required.
    #[error("authentication required: send an API key (X-API-Key) or a bearer token")]
    Missing,
    /// Credentials that do not authenticate (wrong, expired, revoked, malformed).
    #[error("invalid credentials")]
    Invalid,
    /// Wrong username or password (kept vague on purpose).
    #[error("invalid username or password")]
    BadLogin,
    /// A refresh token that was already used: its whole family is now revoked.
    #[error("refresh token reuse detected; every session of this login was signed out")]
    TokenReuse,
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// An OAuth2 request that breaks the protocol (`invalid_request`, `invalid_grant`, …).
    #[error("{code}: {description}")]
    OAuth {
        /// The RFC 6749 error code.
        code: &'static str,
        /// What is wrong.
        description: String,
    },
    /// First-boot setup after a user already exists.
    #[error("setup is already done: log in instead")]
    AlreadySetUp,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] quarry_core::Error),
    /// Hashing failed (never expected).
    #[error("password hashing failed")]
    Hashing,
}

impl AuthError {
    /// An OAuth2 error with its RFC 6749 code.
    pub fn oauth(code: &'static str, description: impl Into<String>) -> Self {
        Self::OAuth {
            code,
            description: description.into(),
        }
    }
}
