//! The per-session event log.

use quarry_core::{Error, Event, EventRecord, Result, RunId, SessionId, TenantId, time};
use sqlx::Row;

use super::error::{store_error, write_error};
use super::rows::{self, EVENT_COLUMNS, ts};
use super::{Db, sessions};

/// Appends `event` with the session's next sequence number. The number comes from a counter
/// on the session row bumped in the same transaction: the row's write lock serialises
/// concurrent appends, so numbers are 1, 2, 3… without gaps or repeats.
pub(crate) async fn append(
    db: &Db,
    tenant: &TenantId,
    session: &SessionId,
    run: Option<&RunId>,
    event: &Event,
) -> Result<EventRecord> {
    let json = serde_json::to_string(event).map_err(|e| Error::invalid(format!("event: {e}")))?;
    let at = time::now();
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "UPDATE sessions SET event_seq = event_seq + 1 \
         WHERE tenant_id = $1 AND id = $2 RETURNING event_seq",
    )
    .bind(tenant.as_str())
    .bind(session.as_str())
    .fetch_optional(&mut *tx)
    .await
    .map_err(store_error)?
    .ok_or_else(|| Error::not_found("session", session.as_str()))?;
    let seq = row.try_get::<i64, _>("event_seq").map_err(store_error)?;
    sqlx::query(
        "INSERT INTO events (tenant_id, session_id, seq, run_id, at, event) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant.as_str())
    .bind(session.as_str())
    .bind(seq)
    .bind(run.map(RunId::as_str))
    .bind(ts(&at))
    .bind(json)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        write_error(
            e,
            || Error::Store(format!("event {seq} of session '{session}' already exists")),
            || Error::not_found("run", run.map(RunId::as_str).unwrap_or_default()),
        )
    })?;
    tx.commit().await.map_err(store_error)?;
    Ok(EventRecord {
        seq: u64::try_from(seq).map_err(|_| Error::Store("negative event sequence".into()))?,
        session_id: session.clone(),
        run_id: run.cloned(),
        at,
        event: event.clone(),
    })
}

/// Events of a session after `after_seq`, in order, at most `limit`.
pub(crate) async fn list(
    db: &Db,
    tenant: &TenantId,
    session: &SessionId,
    after_seq: u64,
    limit: u32,
) -> Result<Vec<EventRecord>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE tenant_id = $1 AND session_id = $2 \
         AND seq > $3 ORDER BY seq LIMIT $4"
    );
    let records = sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(session.as_str())
        .bind(i64::try_from(after_seq).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&db.pool)
        .await
        .map_err(store_error)?
        .iter()
        .map(rows::event)
        .collect::<Result<Vec<_>>>()?;
    if records.is_empty() && !sessions::exists(db, tenant, session).await? {
        return Err(Error::not_found("session", session.as_str()));
    }
    Ok(records)
}
