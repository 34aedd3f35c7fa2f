//! quarry-providers: every language model quarry can talk to, behind the one
//! [`LlmProvider`](quarry_core::LlmProvider) port of `quarry-core`.
//!
//! Each wire format is its own module ([`openai`], [`anthropic`], [`gemini`], [`ollama`],
//! [`bedrock`]); [`config`] turns environment variables and `quarry.toml` into providers;
//! [`pricing`] prices usage; [`gateway`] is the failover router, itself an `LlmProvider`, that
//! wraps every provider in the same retry, backoff, circuit-breaker and timeout policy.
//!
//! The crate depends only on `quarry-core`; the HTTP client is reqwest.

pub mod anthropic;
pub mod bedrock;
pub mod config;
pub mod gateway;
pub mod gemini;
mod http;
pub mod ollama;
pub mod openai;
pub mod pricing;
mod sse;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{
    LlmConfig, PROVIDER_TYPES, ProviderKind, ProviderSpec, Timeouts, build_provider,
    canonical_type, known,
};
pub use gateway::{Gateway, Policy, ProviderStatus};
pub use pricing::{Price, Pricing};
