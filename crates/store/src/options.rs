//! How to connect the metadata store.

use std::time::Duration;

/// Options for [`crate::connect_metadata`]; [`Default`] suits a single local server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataOptions {
    /// Most pooled connections; `None` picks the backend's default (SQLite 4, PostgreSQL 10).
    pub max_connections: Option<u32>,
    /// How long to wait to open a connection or to get one from the pool.
    pub connect_timeout: Duration,
    /// SQLite: how long a writer waits for the database lock before failing.
    pub busy_timeout: Duration,
    /// PostgreSQL: the longest one statement may run (`statement_timeout`).
    pub statement_timeout: Duration,
    /// Serve session reads from a [`crate::CachedMetadataStore`]. Only correct while this
    /// process is the store's sole writer (an embedded SQLite store whose data directory the
    /// server has locked); never enable it for a database other processes write to.
    pub session_cache: bool,
    /// How many tenants the session cache holds at most.
    pub session_cache_tenants: usize,
}

impl Default for MetadataOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            connect_timeout: Duration::from_secs(10),
            busy_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            session_cache: false,
            session_cache_tenants: 1024,
        }
    }
}
