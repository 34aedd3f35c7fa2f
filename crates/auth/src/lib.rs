//! quarry-auth: who a request is, and how much it may ask.
//!
//! - [`secret`]: API keys and opaque tokens (random, shown once, stored as SHA-256) and
//!   argon2id password hashes.
//! - [`jwt`]: short-lived HS256 access tokens; nothing but HS256 is ever accepted.
//! - [`Authenticator`]: API keys, access tokens, logins, rotating refresh tokens with reuse
//!   detection, first-boot setup, OAuth2 client credentials and authorization codes with PKCE,
//!   all over the [`quarry_core::AuthStore`] port.
//! - [`RateLimiter`]: per-principal and per-IP request budgets with the numbers the
//!   `X-RateLimit-*` headers report.
//!
//! This crate must never depend on an HTTP framework or a database driver.

mod error;
pub mod jwt;
mod limit;
pub mod pkce;
pub mod secret;
mod service;

pub use error::AuthError;
pub use jwt::{AccessClaims, JwtKeys};
pub use limit::{Decision, RateLimiter};
pub use service::{AuthConfig, Authenticator, IssuedKey, TokenPair, blocking, valid_redirect_uri};
