//! quarry-store's integration tests, in one binary: the metadata and auth suites against
//! every backend, the session cache, and the file system artifact store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod artifacts;
mod auth;
mod backends;
mod cache;
mod metadata;
mod providers;
