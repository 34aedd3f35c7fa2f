//! Opening the connection pool and migrating the schema.

use std::time::Duration;

use quarry_core::{Error, Result};
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

use super::error::store_error;
use super::url::{Backend, DbUrl};
use crate::MetadataOptions;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// SQLite pool size: WAL lets readers run beside the one writer; more connections than
/// that only queue on the write lock.
const SQLITE_MAX_CONNECTIONS: u32 = 4;
const POSTGRES_MAX_CONNECTIONS: u32 = 10;

/// Opens a pool for `url` and brings its schema up to date.
pub(crate) async fn open_pool(url: &DbUrl, options: &MetadataOptions) -> Result<AnyPool> {
    // sqlx keeps one driver set per process; the default set is idempotent with every other
    // caller of `install_default_drivers`.
    sqlx::any::install_default_drivers();
    let pool = match url.backend {
        Backend::Sqlite => sqlite_pool(url, options).await,
        Backend::Postgres => postgres_pool(url, options).await,
    }
    .map_err(|e| redact(e, url))?;
    let migrator = match url.backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    };
    if let Err(e) = migrator.run(&pool).await {
        pool.close().await;
        return Err(redact(
            Error::Store(format!("migrating the schema failed: {e}")),
            url,
        ));
    }
    Ok(pool)
}

async fn sqlite_pool(url: &DbUrl, options: &MetadataOptions) -> Result<AnyPool> {
    if let Some(dir) = url
        .sqlite_file
        .as_deref()
        .and_then(|f| f.parent())
        .filter(|d| !d.as_os_str().is_empty())
    {
        tokio::fs::create_dir_all(dir).await.map_err(|e| {
            Error::Store(format!(
                "cannot create the database directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    // WAL: readers never block the writer and a crash never leaves a torn database.
    // synchronous=NORMAL: in WAL mode a commit is durable against a process crash (SIGKILL:
    // the WAL is written before commit returns, and the OS keeps it), and the database stays
    // consistent after power loss, which at worst forgets the last commits. FULL would add
    // an fsync to every commit (every streamed event) to also survive power loss; artifact
    // bytes are fsynced before their row is written, so a lost row only orphans a file.
    let mut pragmas = format!(
        "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
        options.busy_timeout.as_millis()
    );
    if !url.in_memory {
        pragmas.push_str(" PRAGMA journal_mode = WAL;");
    }
    let mut pool = AnyPoolOptions::new()
        .acquire_timeout(options.connect_timeout)
        .after_connect(move |conn, _meta| {
            let pragmas = pragmas.clone();
            Box::pin(async move {
                conn.execute(pragmas.as_str()).await?;
                Ok(())
            })
        });
    pool = if url.in_memory {
        // An in-memory database lives as long as its one connection: never let it go.
        pool.max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        pool.max_connections(options.max_connections.unwrap_or(SQLITE_MAX_CONNECTIONS))
    };
    connect(pool, url, options.connect_timeout).await
}

async fn postgres_pool(url: &DbUrl, options: &MetadataOptions) -> Result<AnyPool> {
    let set_timeout = format!(
        "SET statement_timeout = {}",
        options.statement_timeout.as_millis()
    );
    let pool = AnyPoolOptions::new()
        .max_connections(options.max_connections.unwrap_or(POSTGRES_MAX_CONNECTIONS))
        .acquire_timeout(options.connect_timeout)
        .idle_timeout(Duration::from_secs(600))
        .after_connect(move |conn, _meta| {
            let set_timeout = set_timeout.clone();
            Box::pin(async move {
                conn.execute(set_timeout.as_str()).await?;
                Ok(())
            })
        });
    connect(pool, url, options.connect_timeout).await
}

async fn connect(pool: AnyPoolOptions, url: &DbUrl, timeout: Duration) -> Result<AnyPool> {
    match tokio::time::timeout(timeout, pool.connect_with(url.options.clone())).await {
        Ok(Ok(pool)) => Ok(pool),
        Ok(Err(e)) => Err(store_error(e)),
        Err(_) => Err(Error::Store(format!(
            "connecting to {} timed out after {timeout:?}",
            url.backend.name()
        ))),
    }
}

/// Strips the URL's password from an error's message.
fn redact(e: Error, url: &DbUrl) -> Error {
    match e {
        Error::Store(msg) => Error::Store(url.redactor.apply(msg)),
        Error::Invalid(msg) => Error::Invalid(url.redactor.apply(msg.into_owned()).into()),
        other => other,
    }
}
