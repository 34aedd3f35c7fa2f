//! The crate error.

use crate::guard::GuardError;

/// What can go wrong between a question and its result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// The statement was refused by the guard.
    #[error("query refused: {0}")]
    Refused(#[from] GuardError),
    /// The connection settings are unusable.
    #[error("invalid connection: {0}")]
    InvalidConnection(String),
    /// The database could not be reached.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// The database rejected or failed the query.
    #[error("database error: {0}")]
    Database(String),
    /// The statement timeout expired.
    #[error("the query ran longer than {0} ms and was cancelled")]
    Timeout(u64),
    /// Writing an export failed.
    #[error("export failed: {0}")]
    Io(#[from] std::io::Error),
    /// The question could not be answered.
    #[error("{0}")]
    NotUnderstood(String),
    /// The language model failed.
    #[error("language model failed: {0}")]
    Llm(#[from] quarry_core::LlmError),
}

impl SqlError {
    pub(crate) fn db(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => {
                Self::Connect(e.to_string())
            }
            sqlx::Error::Database(d) => Self::Database(d.message().to_owned()),
            other => Self::Database(other.to_string()),
        }
    }
}

/// The crate result.
pub type Result<T, E = SqlError> = std::result::Result<T, E>;
