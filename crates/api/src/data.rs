//! The SQL data agent as the HTTP layer holds it: the agent (schema and query caches,
//! settings), the default connection (the demo database unless configured otherwise), the
//! catalog of saved connections, an optional language model, and a scratch directory where
//! exports are streamed before they become artifacts.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
};

use quarry_core::{LlmProvider, SqlCatalog};
use quarry_sql::{DataSource, DefaultConnection, ExecutionMode, SemanticModel, SqlAgent};

/// Per-tenant settings of a built-in connection (it has no catalog row).
#[derive(Clone, Debug, Default)]
pub(crate) struct BuiltinOverride {
    pub mode: Option<ExecutionMode>,
    pub semantic: Option<SemanticModel>,
}

/// The data agent's shared parts.
#[derive(Debug)]
pub struct DataService {
    /// The agent.
    pub agent: Arc<SqlAgent>,
    /// The connection questions go to when they name none.
    pub default: Option<DefaultConnection>,
    /// Saved connections, semantic models, examples, settings and history; `None` keeps
    /// only the default connection.
    pub catalog: Option<Arc<dyn SqlCatalog>>,
    /// A language model; `None` uses the offline analyst.
    pub llm: Option<Arc<dyn LlmProvider>>,
    /// Where exports are written before they are stored as artifacts.
    pub scratch_dir: PathBuf,
    /// Where SQLite connections may point (file names are relative to it).
    pub sqlite_dir: PathBuf,
    /// Rows exported at most by `/agents/data`.
    pub export_max_rows: usize,
    /// Open pools of saved connections, by tenant, id and version.
    pub(crate) sources: Mutex<HashMap<(String, String), (String, DataSource)>>,
    /// Built-in connections' per-tenant settings.
    pub(crate) overrides: Mutex<HashMap<(String, String), BuiltinOverride>>,
}

impl DataService {
    /// A service over `agent` answering from `default`.
    pub fn new(
        agent: Arc<SqlAgent>,
        default: Option<DefaultConnection>,
        scratch_dir: PathBuf,
    ) -> Self {
        let sqlite_dir = scratch_dir.join("databases");
        Self {
            agent,
            default,
            catalog: None,
            llm: None,
            scratch_dir,
            sqlite_dir,
            export_max_rows: 1_000_000,
            sources: Mutex::default(),
            overrides: Mutex::default(),
        }
    }

    /// The same service writing queries with `llm`.
    pub fn with_llm(mut self, llm: Arc<dyn LlmProvider>) -> Self {
        self.llm = Some(llm);
        self
    }

    /// The offline analyst as a language-model provider (`offline`) answering from the
    /// default connection: the last resort of a provider failover chain.
    pub fn offline_provider(&self) -> quarry_sql::OfflineProvider {
        quarry_sql::OfflineProvider::new(self.agent.clone(), self.default.clone())
    }

    /// The same service keeping saved connections in `catalog`; SQLite connections may only
    /// name files in `sqlite_dir`.
    pub fn with_catalog(mut self, catalog: Arc<dyn SqlCatalog>, sqlite_dir: PathBuf) -> Self {
        self.catalog = Some(catalog);
        self.sqlite_dir = sqlite_dir;
        self
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
