//! quarry-store: where quarry keeps its records and files.
//!
//! - [`connect_stores`] opens the [`MetadataStore`](quarry_core::MetadataStore) and the
//!   [`AuthStore`](quarry_core::AuthStore) over one pool for a `sqlite://` (the default,
//!   embedded) or `postgres://` URL ([`connect_metadata`]: the metadata store alone). One
//!   implementation of the queries serves both backends through sqlx's `Any` driver; the
//!   schema is migrated on connect (and by [`migrate`], for the `quarry migrate` command).
//! - [`CachedMetadataStore`] is an opt-in read cache for session reads, correct only while this
//!   process is the store's sole writer.
//! - [`FsArtifactStore`] keeps artifact bytes as files: streamed, hashed, size-capped, made
//!   visible only by an atomic rename after `fsync`.
//!
//! This crate implements ports of `quarry-core` and must never depend on an HTTP framework
//! (axum, hyper) or on any crate above it (`api`, `agent`, …).

mod cache;
mod fs;
mod keys;
mod options;
mod sql;

pub use cache::CachedMetadataStore;
pub use fs::FsArtifactStore;
pub use options::MetadataOptions;
pub use sql::{SqlMetadataStore, Stores, connect_metadata, connect_stores, migrate};
