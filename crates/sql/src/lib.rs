//! quarry-sql: the SQL data agent.
//!
//! Data sources (SQLite, PostgreSQL, MySQL/MariaDB), schema introspection, the semantic
//! model, the read-only [`guard`], execution inside a read-only transaction with a statement
//! timeout and a row cap, streaming export to CSV and JSON, the demo database, the offline
//! analyst (rule-based NL→SQL, also an [`quarry_core::LlmProvider`]) and the agent that ties
//! them together with a query cache.
//!
//! This crate depends on quarry-core only; language models reach it through the core
//! `LlmProvider` trait, never through a concrete provider crate, and it knows nothing of HTTP.

pub mod agent;
pub mod analyst;
pub mod cache;
pub mod demo;
mod error;
pub mod exec;
pub mod export;
pub mod guard;
pub mod offline;
pub mod schema;
pub mod semantic;
pub mod source;
pub mod value;

pub use agent::{
    AgentAnswer, AgentSettings, AgentStatus, Example, ExecutionMode, Question, SqlAgent,
};
pub use analyst::{Analysis, Intent, NotUnderstood, OfflineAnalyst};
pub use error::{Result, SqlError};
pub use exec::{Limits, Outcome, QueryResult, RowSink};
pub use guard::{GuardError, GuardedSql};
pub use offline::{DefaultConnection, OfflineProvider};
pub use schema::{Column, ForeignKey, Schema, Table};
pub use semantic::SemanticModel;
pub use source::{ConnectionSpec, DataSource, Engine};
pub use value::{Cell, CellRef, ColumnKind, ResultColumn};
