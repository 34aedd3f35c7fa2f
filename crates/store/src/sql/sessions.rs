//! Session queries.

use quarry_core::{
    Artifact, Error, NewSession, Page, Result, Session, SessionId, SessionPatch, SessionQuery,
    SessionStatus, TenantId, time,
};
use sqlx::Row;

use super::Db;
use super::error::{store_error, write_error};
use super::patch::{Value, update_returning};
use super::rows::{self, ARTIFACT_COLUMNS, SESSION_COLUMNS, db_int, total_from_page, ts};

const INSERT: &str = "INSERT INTO sessions (tenant_id, id, name, status, model, hitl_mode, \
     created_at, updated_at, message_count, kernel_variables, event_seq) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0, 0, 0)";

fn not_found(id: &SessionId) -> Error {
    Error::not_found("session", id.as_str())
}

fn fresh(new: NewSession) -> Session {
    let now = time::now();
    Session {
        id: new.id,
        tenant_id: new.tenant_id,
        name: new.name,
        status: SessionStatus::Active,
        model: new.model,
        hitl_mode: new.hitl_mode,
        created_at: now,
        updated_at: now,
        message_count: 0,
        kernel_variables: 0,
    }
}

/// Inserts `s`; with `or_ignore`, an existing row with its id wins. Returns whether it inserted.
async fn insert(db: &Db, s: &Session, or_ignore: bool) -> Result<bool> {
    let sql = if or_ignore {
        const IGNORING: &str = "INSERT INTO sessions (tenant_id, id, name, status, model, \
             hitl_mode, created_at, updated_at, message_count, kernel_variables, event_seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0, 0, 0) \
             ON CONFLICT (tenant_id, id) DO NOTHING";
        IGNORING
    } else {
        INSERT
    };
    let done = sqlx::query(sql)
        .bind(s.tenant_id.as_str())
        .bind(s.id.as_str())
        .bind(s.name.as_str())
        .bind(s.status.as_str())
        .bind(s.model.as_deref())
        .bind(s.hitl_mode.as_str())
        .bind(ts(&s.created_at))
        .execute(&db.pool)
        .await
        .map_err(|e| {
            write_error(
                e,
                || Error::Conflict(format!("session '{}' already exists", s.id).into()),
                || Error::Store("unexpected foreign key on sessions".to_owned()),
            )
        })?;
    Ok(done.rows_affected() == 1)
}

/// Stores a new session; a taken id is a conflict.
pub(crate) async fn create(db: &Db, new: NewSession) -> Result<Session> {
    let session = fresh(new);
    insert(db, &session, false).await?;
    Ok(session)
}

/// Returns the session, creating it when missing. Concurrent callers all get the one row
/// that won the insert.
pub(crate) async fn get_or_create(db: &Db, new: NewSession) -> Result<Session> {
    // Read first: the session usually exists, and a read takes no write lock.
    match get(db, &new.tenant_id, &new.id).await {
        Err(Error::NotFound { .. }) => {}
        found => return found,
    }
    let session = fresh(new);
    // A delete racing between the insert and the read could hide the row; try again then.
    for _ in 0..3 {
        insert(db, &session, true).await?;
        match get(db, &session.tenant_id, &session.id).await {
            Err(Error::NotFound { .. }) => continue,
            found => return found,
        }
    }
    Err(not_found(&session.id))
}

/// Whether the tenant has this session.
pub(crate) async fn exists(db: &Db, tenant: &TenantId, id: &SessionId) -> Result<bool> {
    let row = sqlx::query("SELECT 1 AS one FROM sessions WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&db.pool)
        .await
        .map_err(store_error)?;
    Ok(row.is_some())
}

/// One session.
pub(crate) async fn get(db: &Db, tenant: &TenantId, id: &SessionId) -> Result<Session> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant_id = $1 AND id = $2");
    let row = sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&db.pool)
        .await
        .map_err(store_error)?;
    row.as_ref()
        .map(rows::session)
        .unwrap_or_else(|| Err(not_found(id)))
}

/// A page of sessions, newest first, and how many match.
pub(crate) async fn list(db: &Db, tenant: &TenantId, q: SessionQuery) -> Result<Page<Session>> {
    let status = q.status.map(SessionStatus::as_str);
    let (filter, next) = match status {
        Some(_) => (" AND status = $2", 3),
        None => ("", 2),
    };
    let page_sql = format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE tenant_id = $1{filter} \
         ORDER BY created_at DESC, id DESC LIMIT ${next} OFFSET ${}",
        next + 1
    );
    let mut page = sqlx::query(&page_sql).bind(tenant.as_str());
    if let Some(status) = status {
        page = page.bind(status);
    }
    let items = page
        .bind(i64::from(q.limit))
        .bind(i64::from(q.offset))
        .fetch_all(&db.pool)
        .await
        .map_err(store_error)?
        .iter()
        .map(rows::session)
        .collect::<Result<Vec<_>>>()?;
    let total = match total_from_page(q.offset, q.limit, items.len()) {
        Some(total) => total,
        None => {
            let count_sql =
                format!("SELECT COUNT(*) AS total FROM sessions WHERE tenant_id = $1{filter}");
            let mut count = sqlx::query(&count_sql).bind(tenant.as_str());
            if let Some(status) = status {
                count = count.bind(status);
            }
            let row = count.fetch_one(&db.pool).await.map_err(store_error)?;
            rows::total(&row)?
        }
    };
    Ok(Page { items, total })
}

/// Applies `patch`, bumps `updated_at` and returns the session as stored.
pub(crate) async fn update(
    db: &Db,
    tenant: &TenantId,
    id: &SessionId,
    patch: &SessionPatch,
) -> Result<Session> {
    let kernel_variables = patch
        .kernel_variables
        .map(|v| db_int(v, "kernel_variables"))
        .transpose()?;
    let mut changes = Vec::new();
    if let Some(name) = &patch.name {
        changes.push(("name", Value::Text(Some(name.as_str()))));
    }
    if let Some(status) = patch.status {
        changes.push(("status", Value::Text(Some(status.as_str()))));
    }
    if let Some(model) = &patch.model {
        changes.push(("model", Value::Text(model.as_deref())));
    }
    if let Some(mode) = patch.hitl_mode {
        changes.push(("hitl_mode", Value::Text(Some(mode.as_str()))));
    }
    if let Some(v) = kernel_variables {
        changes.push(("kernel_variables", Value::Int(v)));
    }
    let row = update_returning(
        db,
        "sessions",
        SESSION_COLUMNS,
        tenant.as_str(),
        id.as_str(),
        &changes,
    )
    .await?;
    row.as_ref()
        .map(rows::session)
        .unwrap_or_else(|| Err(not_found(id)))
}

/// Deletes a session; the schema cascades to its runs, messages, events and artifact rows.
/// Returns the artifacts it held, oldest first, so their bytes can be deleted.
pub(crate) async fn delete(db: &Db, tenant: &TenantId, id: &SessionId) -> Result<Vec<Artifact>> {
    let mut tx = db.begin_write().await?;
    // Artifact rows go first, explicitly, to hand them back; the cascade takes the rest. On
    // PostgreSQL an artifact committed by another transaction between these two statements
    // is removed by the cascade without being returned: its bytes are orphaned, never
    // exposed, since no row names them any more.
    let sql = format!(
        "DELETE FROM artifacts WHERE tenant_id = $1 AND session_id = $2 \
         RETURNING seq, {ARTIFACT_COLUMNS}"
    );
    let deleted = sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    let done = sqlx::query("DELETE FROM sessions WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    if done.rows_affected() == 0 {
        // Dropping the transaction rolls it back.
        return Err(not_found(id));
    }
    tx.commit().await.map_err(store_error)?;
    let mut artifacts = deleted
        .iter()
        .map(|row| {
            let seq = row.try_get::<i64, _>("seq").map_err(store_error)?;
            Ok((rows::artifact(row)?, seq))
        })
        .collect::<Result<Vec<_>>>()?;
    artifacts.sort_by(|(a, a_seq), (b, b_seq)| (a.created_at, a_seq).cmp(&(b.created_at, b_seq)));
    Ok(artifacts.into_iter().map(|(a, _)| a).collect())
}
