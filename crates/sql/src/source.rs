//! Data sources: a SQLite file, a PostgreSQL or a MySQL/MariaDB server, each behind a small
//! connection pool.

use std::{str::FromStr, time::Duration};

use serde::{Deserialize, Serialize};
use sqlx::{
    mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions},
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions},
};

use crate::{Result, SqlError};

/// The database engine of a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
    /// A MySQL or MariaDB server.
    Mysql,
}

impl Engine {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
        }
    }

    /// Parses a wire name (a few common aliases included).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "sqlite" | "sqlite3" => Some(Self::Sqlite),
            "postgres" | "postgresql" | "pg" => Some(Self::Postgres),
            "mysql" | "mariadb" => Some(Self::Mysql),
            _ => None,
        }
    }

    /// The dialect's display name (`query_dialect` of the NL→SQL wire).
    pub fn dialect_name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
            Self::Mysql => "MySQL",
        }
    }

    /// The engine a connection URL names by its scheme.
    pub fn of_url(url: &str) -> Option<Self> {
        let scheme = url.split_once(':')?.0;
        Self::parse(scheme)
    }
}

/// How to reach a source: its engine and URL (credentials included; callers seal it at rest).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionSpec {
    /// The engine.
    pub engine: Engine,
    /// `sqlite:///path/to/file.db`, `postgres://user:pw@host/db`, `mysql://user:pw@host/db`.
    pub url: String,
}

impl std::fmt::Debug for ConnectionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: never print it.
        f.debug_struct("ConnectionSpec")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl ConnectionSpec {
    /// A SQLite file.
    pub fn sqlite(path: &std::path::Path) -> Self {
        Self {
            engine: Engine::Sqlite,
            url: format!("sqlite://{}", path.display()),
        }
    }
}

/// How long connecting (or waiting for a pooled connection) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    Mysql(MySqlPool),
}

/// A connected source.
#[derive(Clone, Debug)]
pub struct DataSource {
    pub(crate) engine: Engine,
    pub(crate) pool: Pool,
    /// MySQL-family server that is MariaDB (its statement timeout is spelled differently).
    pub(crate) mariadb: bool,
}

impl DataSource {
    /// Opens a pool to `spec` (lazily: the first query connects). SQLite files are opened
    /// read-only, so not even a guard miss can write to them.
    pub async fn connect(spec: &ConnectionSpec) -> Result<Self> {
        let invalid = |e: sqlx::Error| SqlError::InvalidConnection(e.to_string());
        let pool = match spec.engine {
            Engine::Sqlite => {
                let url = if spec.url.starts_with("sqlite:") {
                    spec.url.clone()
                } else {
                    format!("sqlite://{}", spec.url)
                };
                let opts = SqliteConnectOptions::from_str(&url)
                    .map_err(invalid)?
                    .read_only(true)
                    .create_if_missing(false);
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(CONNECT_TIMEOUT)
                        .connect_lazy_with(opts),
                )
            }
            Engine::Postgres => {
                let opts = PgConnectOptions::from_str(&spec.url)
                    .map_err(invalid)?
                    .application_name("quarry");
                Pool::Postgres(
                    PgPoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(CONNECT_TIMEOUT)
                        .connect_lazy_with(opts),
                )
            }
            Engine::Mysql => {
                let opts = MySqlConnectOptions::from_str(&spec.url).map_err(invalid)?;
                Pool::Mysql(
                    MySqlPoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(CONNECT_TIMEOUT)
                        .connect_lazy_with(opts),
                )
            }
        };
        let mut source = Self {
            engine: spec.engine,
            pool,
            mariadb: false,
        };
        if let Pool::Mysql(pool) = &source.pool {
            let version: (String,) = sqlx::query_as("SELECT VERSION()")
                .fetch_one(pool)
                .await
                .map_err(SqlError::db)?;
            source.mariadb = version.0.to_ascii_lowercase().contains("mariadb");
        }
        Ok(source)
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Checks that the source answers.
    pub async fn test(&self) -> Result<()> {
        use sqlx::Executor as _;
        let q = "SELECT 1";
        match &self.pool {
            Pool::Sqlite(p) => p.execute(q).await.map(|_| ()),
            Pool::Postgres(p) => p.execute(q).await.map(|_| ()),
            Pool::Mysql(p) => p.execute(q).await.map(|_| ()),
        }
        .map_err(SqlError::db)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
            Pool::Mysql(p) => p.close().await,
        }
    }
}
