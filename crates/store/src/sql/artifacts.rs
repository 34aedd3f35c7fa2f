//! Artifact record queries (the bytes live in an [`quarry_core::ArtifactStore`]).

use quarry_core::{Artifact, ArtifactFilter, ArtifactId, Error, Result, TenantId};

use super::Db;
use super::error::{store_error, write_error};
use super::rows::{self, ARTIFACT_COLUMNS, db_int, ts};

fn not_found(id: &ArtifactId) -> Error {
    Error::not_found("artifact", id.as_str())
}

/// Records an artifact; its run must exist in its session.
pub(crate) async fn insert(db: &Db, a: &Artifact) -> Result<()> {
    sqlx::query(
        "INSERT INTO artifacts (tenant_id, id, session_id, run_id, kind, name, media_type, \
         size, sha256, created_at, storage_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(a.tenant_id.as_str())
    .bind(a.id.as_str())
    .bind(a.session_id.as_str())
    .bind(a.run_id.as_str())
    .bind(a.kind.as_str())
    .bind(a.name.as_str())
    .bind(a.media_type.as_str())
    .bind(db_int(a.size, "artifact size")?)
    .bind(a.sha256.as_str())
    .bind(ts(&a.created_at))
    .bind(a.storage_key.as_str())
    .execute(&db.pool)
    .await
    .map_err(|e| {
        write_error(
            e,
            || Error::Conflict(format!("artifact '{}' already exists", a.id).into()),
            // The key references (session, run): a missing session means a missing run too.
            || Error::not_found("run", a.run_id.as_str()),
        )
    })?;
    Ok(())
}

/// One artifact.
pub(crate) async fn get(db: &Db, tenant: &TenantId, id: &ArtifactId) -> Result<Artifact> {
    let sql = format!("SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE tenant_id = $1 AND id = $2");
    let row = sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&db.pool)
        .await
        .map_err(store_error)?;
    row.as_ref()
        .map(rows::artifact)
        .unwrap_or_else(|| Err(not_found(id)))
}

/// Artifacts matching `filter`, oldest first.
pub(crate) async fn list(
    db: &Db,
    tenant: &TenantId,
    filter: &ArtifactFilter,
) -> Result<Vec<Artifact>> {
    let mut sql = format!("SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE tenant_id = $1");
    let mut n = 1;
    let mut cond = |col: &str| {
        n += 1;
        format!(" AND {col} = ${n}")
    };
    if filter.session_id.is_some() {
        sql.push_str(&cond("session_id"));
    }
    if filter.run_id.is_some() {
        sql.push_str(&cond("run_id"));
    }
    if filter.kind.is_some() {
        sql.push_str(&cond("kind"));
    }
    sql.push_str(" ORDER BY created_at, seq");
    let mut q = sqlx::query(&sql).bind(tenant.as_str());
    if let Some(session) = &filter.session_id {
        q = q.bind(session.as_str());
    }
    if let Some(run) = &filter.run_id {
        q = q.bind(run.as_str());
    }
    if let Some(kind) = filter.kind {
        q = q.bind(kind.as_str());
    }
    q.fetch_all(&db.pool)
        .await
        .map_err(store_error)?
        .iter()
        .map(rows::artifact)
        .collect()
}

/// Removes an artifact record and returns it.
pub(crate) async fn delete(db: &Db, tenant: &TenantId, id: &ArtifactId) -> Result<Artifact> {
    let sql = format!(
        "DELETE FROM artifacts WHERE tenant_id = $1 AND id = $2 RETURNING {ARTIFACT_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&db.pool)
        .await
        .map_err(store_error)?;
    row.as_ref()
        .map(rows::artifact)
        .unwrap_or_else(|| Err(not_found(id)))
}
