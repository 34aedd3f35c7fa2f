//! The SQL data agent as the HTTP layer holds it: the agent (schema and query caches,
//! settings), the default connection (the demo database unless configured otherwise), an
//! optional language model, and a scratch directory where exports are streamed before they
//! become artifacts.

use std::{path::PathBuf, sync::Arc};

use quarry_core::LlmProvider;
use quarry_sql::{DefaultConnection, SqlAgent};

/// The data agent's shared parts.
#[derive(Clone, Debug)]
pub struct DataService {
    /// The agent.
    pub agent: Arc<SqlAgent>,
    /// The connection questions go to when they name none.
    pub default: Option<DefaultConnection>,
    /// A language model; `None` uses the offline analyst.
    pub llm: Option<Arc<dyn LlmProvider>>,
    /// Where exports are written before they are stored as artifacts.
    pub scratch_dir: PathBuf,
    /// Rows exported at most by `/agents/data`.
    pub export_max_rows: usize,
}

impl DataService {
    /// A service over `agent` answering from `default`.
    pub fn new(
        agent: Arc<SqlAgent>,
        default: Option<DefaultConnection>,
        scratch_dir: PathBuf,
    ) -> Self {
        Self {
            agent,
            default,
            llm: None,
            scratch_dir,
            export_max_rows: 1_000_000,
        }
    }

    /// The same service writing queries with `llm`.
    pub fn with_llm(mut self, llm: Arc<dyn LlmProvider>) -> Self {
        self.llm = Some(llm);
        self
    }
}
