//! Run queries.

use quarry_core::{Error, Result, Run, RunId, RunStatus, TenantId, time};

use super::Db;
use super::error::{store_error, write_error};
use super::rows::{self, RUN_COLUMNS, ts};

fn not_found(id: &RunId) -> Error {
    Error::not_found("run", id.as_str())
}

/// Stores a new run; its session must exist.
pub(crate) async fn create(db: &Db, run: &Run) -> Result<()> {
    sqlx::query(
        "INSERT INTO runs (tenant_id, id, session_id, kind, status, summary, created_at, \
         finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(run.tenant_id.as_str())
    .bind(run.id.as_str())
    .bind(run.session_id.as_str())
    .bind(run.kind.as_str())
    .bind(run.status.as_str())
    .bind(run.summary.as_deref())
    .bind(ts(&run.created_at))
    .bind(run.finished_at.as_ref().map(ts))
    .execute(&db.pool)
    .await
    .map_err(|e| {
        write_error(
            e,
            || Error::Conflict(format!("run '{}' already exists", run.id).into()),
            || Error::not_found("session", run.session_id.as_str()),
        )
    })?;
    Ok(())
}

/// Marks a running run finished; finishing it twice is a conflict.
pub(crate) async fn finish(
    db: &Db,
    tenant: &TenantId,
    id: &RunId,
    status: RunStatus,
    summary: Option<&str>,
) -> Result<Run> {
    if status == RunStatus::Running {
        return Err(Error::invalid(
            "a run finishes as succeeded or failed, not running",
        ));
    }
    let sql = format!(
        "UPDATE runs SET status = $3, summary = $4, finished_at = $5 \
         WHERE tenant_id = $1 AND id = $2 AND status = $6 RETURNING {RUN_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(status.as_str())
        .bind(summary)
        .bind(ts(&time::now()))
        .bind(RunStatus::Running.as_str())
        .fetch_optional(&db.pool)
        .await
        .map_err(store_error)?;
    match row {
        Some(row) => rows::run(&row),
        None => {
            // Missing (or another tenant's) stays not found; otherwise it already finished.
            get(db, tenant, id).await?;
            Err(Error::Conflict(
                format!("run '{id}' has already finished").into(),
            ))
        }
    }
}

/// One run.
pub(crate) async fn get(db: &Db, tenant: &TenantId, id: &RunId) -> Result<Run> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE tenant_id = $1 AND id = $2");
    let row = sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&db.pool)
        .await
        .map_err(store_error)?;
    row.as_ref()
        .map(rows::run)
        .unwrap_or_else(|| Err(not_found(id)))
}
