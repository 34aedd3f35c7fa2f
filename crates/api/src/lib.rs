//! quarry-api: the HTTP surfaces quarry speaks, as axum routers over one shared state.
//!
//! One router per API surface (health, oneprompt, OpenAnalyst, DSAgent, artifacts, docs),
//! all reading the same sessions through [`quarry_core::MetadataStore`]. This crate is the
//! only one that knows HTTP and the JSON wire names; errors become HTTP in exactly one table
//! ([`error::ErrorCode`]). It must never talk to a database driver directly.

pub mod agents;
pub mod authn;
pub mod data;
pub mod error;
mod extract;
mod listing_cache;
pub mod llm;
mod openapi;
mod routes;
mod state;
mod views;

pub use error::{ApiError, ErrorCode};
pub use openapi::openapi;
pub use routes::router;
pub use state::{ApiConfig, AppState, RateLimits, StateInner};
