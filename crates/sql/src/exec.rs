//! Execution: every statement runs inside a read-only transaction (SQLite: a read-only
//! connection) with a statement timeout and a row cap, and its rows are pushed into a
//! [`RowSink`] one at a time, so nothing holds a whole result in memory.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{Column as _, Connection, Database, Executor, TypeInfo};

use crate::{
    DataSource, GuardedSql, Result, SqlError, guard,
    source::Pool,
    value::{CellRef, ResultColumn, columns_of, decode_row},
};

/// Limits of one execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Rows read at most; the result says when more existed.
    pub max_rows: usize,
    /// Statement timeout.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_rows: 1000,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Where rows go.
pub trait RowSink: Send {
    /// The result's columns, once, before any row.
    fn columns(&mut self, columns: &[ResultColumn]) -> Result<()>;
    /// One row.
    fn row(&mut self, row: &[CellRef<'_>]) -> Result<()>;
    /// Called after each row: a sink writing to a file flushes its buffer here when full.
    fn flush(&mut self) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }
}

impl<A: RowSink, B: RowSink> RowSink for (A, B) {
    fn columns(&mut self, columns: &[ResultColumn]) -> Result<()> {
        self.0.columns(columns)?;
        self.1.columns(columns)
    }
    fn row(&mut self, row: &[CellRef<'_>]) -> Result<()> {
        self.0.row(row)?;
        self.1.row(row)
    }
    async fn flush(&mut self) -> Result<()> {
        self.0.flush().await?;
        self.1.flush().await
    }
}

/// Collects the first rows as JSON (previews, chat answers).
#[derive(Debug, Default)]
pub struct Collect {
    /// Rows kept at most.
    pub keep: usize,
    /// The columns.
    pub columns: Vec<ResultColumn>,
    /// The rows kept.
    pub rows: Vec<Vec<Value>>,
}

impl Collect {
    /// Keeps up to `keep` rows.
    pub fn new(keep: usize) -> Self {
        Self {
            keep,
            ..Self::default()
        }
    }
}

impl RowSink for Collect {
    fn columns(&mut self, columns: &[ResultColumn]) -> Result<()> {
        self.columns = columns.to_vec();
        Ok(())
    }
    fn row(&mut self, row: &[CellRef<'_>]) -> Result<()> {
        if self.rows.len() < self.keep {
            self.rows.push(row.iter().map(CellRef::to_json).collect());
        }
        Ok(())
    }
}

/// What an execution did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The columns.
    pub columns: Vec<ResultColumn>,
    /// Rows delivered to the sink.
    pub row_count: usize,
    /// More rows existed than the cap allowed.
    pub truncated: bool,
    /// Wall time, in milliseconds.
    pub execution_time_ms: f64,
}

/// A collected result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueryResult {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, values as JSON.
    pub rows: Vec<Vec<Value>>,
    /// Number of rows.
    pub row_count: usize,
    /// More rows existed than the cap allowed.
    pub truncated: bool,
    /// Wall time, in milliseconds.
    pub execution_time_ms: f64,
}

/// Extra time the client-side backstop allows beyond the statement timeout.
const BACKSTOP_SLACK: Duration = Duration::from_secs(5);

fn capped(sql: &GuardedSql, cap: usize) -> Option<String> {
    let wrapped = format!(
        "SELECT * FROM (\n{}\n) AS quarry_result LIMIT {}",
        sql.as_str(),
        cap.saturating_add(1)
    );
    // Defence in depth: what runs is checked again.
    guard::check(sql.engine(), &wrapped)
        .ok()
        .map(|g| g.as_str().to_owned())
}

fn classify(e: sqlx::Error, timeout: Duration) -> SqlError {
    if let sqlx::Error::Database(d) = &e {
        let msg = d.message().to_ascii_lowercase();
        let code = d.code().unwrap_or_default();
        if code == "57014"
            || msg.contains("max_statement_time")
            || msg.contains("maximum statement execution time")
            || msg.contains("interrupted")
        {
            return SqlError::Timeout(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        }
    }
    SqlError::db(e)
}

/// Streams the rows of `sql` on `conn` (a concrete connection type: generic code here would
/// make the futures' `Send` unprovable) into `sink`; gives columns, count and truncation.
macro_rules! drive {
    ($conn:expr, $sql:expr, $cap:expr, $sink:expr) => {{
        async move {
            let conn = $conn;
            let sql: &str = $sql;
            let cap: usize = $cap;
            let sink = $sink;
            let mut columns: Option<Vec<ResultColumn>> = None;
            let mut count = 0usize;
            let mut truncated = false;
            {
                let mut stream = sqlx::raw_sql(sql).fetch(&mut *conn);
                while let Some(row) = stream.try_next().await? {
                    if columns.is_none() {
                        let c = columns_of(&row);
                        sink.columns(&c).map_err(sink_err)?;
                        columns = Some(c);
                    }
                    if count >= cap {
                        truncated = true;
                        break;
                    }
                    let mut cells = Vec::with_capacity(columns.as_ref().map_or(0, Vec::len));
                    decode_row(&row, &mut cells)?;
                    sink.row(&cells).map_err(sink_err)?;
                    count += 1;
                    sink.flush().await.map_err(sink_err)?;
                }
            }
            let columns = match columns {
                Some(c) => c,
                None => {
                    // Only the names are wanted; a driver that cannot describe leaves them
                    // unknown.
                    let c: Vec<ResultColumn> = match (&mut *conn).describe(sql).await {
                        Ok(described) => described
                            .columns()
                            .iter()
                            .map(|c| ResultColumn {
                                name: c.name().to_owned(),
                                type_name: c.type_info().name().to_owned(),
                            })
                            .collect(),
                        Err(_) => Vec::new(),
                    };
                    sink.columns(&c).map_err(sink_err)?;
                    c
                }
            };
            Ok::<_, sqlx::Error>((columns, count, truncated))
        }
    }};
}

fn drive_sqlite<'a, S: RowSink + 'a>(
    conn: &'a mut sqlx::SqliteConnection,
    sql: &'a str,
    cap: usize,
    sink: &'a mut S,
) -> futures::future::BoxFuture<'a, Result<Driven, sqlx::Error>> {
    Box::pin(drive!(conn, sql, cap, sink))
}

fn drive_pg<'a, S: RowSink + 'a>(
    conn: &'a mut sqlx::PgConnection,
    sql: &'a str,
    cap: usize,
    sink: &'a mut S,
) -> futures::future::BoxFuture<'a, Result<Driven, sqlx::Error>> {
    Box::pin(drive!(conn, sql, cap, sink))
}

fn drive_mysql<'a, S: RowSink + 'a>(
    conn: &'a mut sqlx::MySqlConnection,
    sql: &'a str,
    cap: usize,
    sink: &'a mut S,
) -> futures::future::BoxFuture<'a, Result<Driven, sqlx::Error>> {
    Box::pin(drive!(conn, sql, cap, sink))
}

fn exec_pg<'a>(
    conn: &'a mut sqlx::PgConnection,
    sql: &'a str,
) -> futures::future::BoxFuture<'a, Result<(), sqlx::Error>> {
    Box::pin(async move { conn.execute(sql).await.map(|_| ()) })
}

fn exec_mysql<'a>(
    conn: &'a mut sqlx::MySqlConnection,
    sql: &'a str,
) -> futures::future::BoxFuture<'a, Result<(), sqlx::Error>> {
    Box::pin(async move { conn.execute(sql).await.map(|_| ()) })
}

fn sink_err(e: SqlError) -> sqlx::Error {
    sqlx::Error::Protocol(e.to_string())
}

impl DataSource {
    /// Runs `sql` under `limits`, pushing rows into `sink`.
    pub async fn run<S: RowSink>(
        &self,
        sql: &GuardedSql,
        limits: Limits,
        sink: &mut S,
    ) -> Result<Outcome> {
        let started = Instant::now();
        let timeout_ms = u64::try_from(limits.timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let cap = limits.max_rows;
        let backstop = limits.timeout + BACKSTOP_SLACK;
        let (columns, row_count, truncated) = match &self.pool {
            Pool::Sqlite(pool) => {
                let mut conn = pool.acquire().await.map_err(SqlError::db)?;
                let deadline = Instant::now() + limits.timeout;
                conn.lock_handle()
                    .await
                    .map_err(SqlError::db)?
                    .set_progress_handler(1000, move || Instant::now() < deadline);
                let res = tokio::time::timeout(
                    backstop,
                    drive_sqlite(&mut conn, sql.as_str(), cap, &mut *sink),
                )
                .await;
                match res {
                    Ok(Ok(done)) => {
                        if let Ok(mut h) = conn.lock_handle().await {
                            h.remove_progress_handler();
                        }
                        done
                    }
                    Ok(Err(e)) => {
                        drop(conn.detach());
                        return Err(classify(e, limits.timeout));
                    }
                    Err(_) => {
                        drop(conn.detach());
                        return Err(SqlError::Timeout(timeout_ms));
                    }
                }
            }
            Pool::Postgres(pool) => {
                let mut conn = pool.acquire().await.map_err(SqlError::db)?;
                let wrapped = capped(sql, cap);
                let text = wrapped.as_deref().unwrap_or(sql.as_str());
                let res = tokio::time::timeout(backstop, async {
                    let begin = format!(
                        "BEGIN TRANSACTION READ ONLY; SET LOCAL statement_timeout = {timeout_ms}; \
                         SET LOCAL lock_timeout = {timeout_ms}"
                    );
                    exec_pg(&mut conn, &begin).await?;
                    let out = drive_pg(&mut conn, text, cap, &mut *sink).await;
                    let rollback = exec_pg(&mut conn, "ROLLBACK").await;
                    let out = out?;
                    rollback?;
                    Ok::<_, sqlx::Error>(out)
                })
                .await;
                finish(conn, res, wrapped.is_some(), limits.timeout, timeout_ms).await?
            }
            Pool::Mysql(pool) => {
                let mut conn = pool.acquire().await.map_err(SqlError::db)?;
                let wrapped = capped(sql, cap);
                let text = wrapped.as_deref().unwrap_or(sql.as_str());
                let set_timeout = if self.mariadb {
                    format!(
                        "SET SESSION max_statement_time = {}",
                        timeout_ms as f64 / 1000.0
                    )
                } else {
                    format!("SET SESSION max_execution_time = {timeout_ms}")
                };
                let res = tokio::time::timeout(backstop, async {
                    exec_mysql(&mut conn, &set_timeout).await?;
                    exec_mysql(&mut conn, "START TRANSACTION READ ONLY").await?;
                    let out = drive_mysql(&mut conn, text, cap, &mut *sink).await;
                    let rollback = exec_mysql(&mut conn, "ROLLBACK").await;
                    let out = out?;
                    rollback?;
                    Ok::<_, sqlx::Error>(out)
                })
                .await;
                finish(conn, res, wrapped.is_some(), limits.timeout, timeout_ms).await?
            }
        };
        Ok(Outcome {
            columns,
            row_count,
            truncated,
            execution_time_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }

    /// Runs `sql` under `limits` and collects every row (up to the cap) as JSON.
    ///
    /// The future is boxed: it is `Send` for every lifetime, which callers behind
    /// `async_trait` (the offline provider) need and the compiler cannot prove through the
    /// drivers' higher-ranked bounds.
    pub fn query<'a>(
        &'a self,
        sql: &'a GuardedSql,
        limits: Limits,
    ) -> futures::future::BoxFuture<'a, Result<QueryResult>> {
        Box::pin(async move {
            let mut sink = Collect::new(limits.max_rows);
            let outcome = self.run(sql, limits, &mut sink).await?;
            Ok(QueryResult {
                columns: outcome.columns.into_iter().map(|c| c.name).collect(),
                rows: sink.rows,
                row_count: outcome.row_count,
                truncated: outcome.truncated,
                execution_time_ms: outcome.execution_time_ms,
            })
        })
    }
}

type Driven = (Vec<ResultColumn>, usize, bool);

/// Returns a server connection to the pool only when it is known to be clean: no open
/// transaction, no unread rows.
async fn finish<DB: Database>(
    conn: sqlx::pool::PoolConnection<DB>,
    res: Result<Result<Driven, sqlx::Error>, tokio::time::error::Elapsed>,
    wrapped: bool,
    timeout: Duration,
    timeout_ms: u64,
) -> Result<Driven> {
    match res {
        Ok(Ok(done)) => {
            if done.2 && !wrapped {
                let _ = conn.detach().close_hard().await;
            }
            Ok(done)
        }
        Ok(Err(e)) => {
            let _ = conn.detach().close_hard().await;
            Err(classify(e, timeout))
        }
        Err(_) => {
            drop(conn.detach());
            Err(SqlError::Timeout(timeout_ms))
        }
    }
}
