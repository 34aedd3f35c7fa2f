//! Column lists and row decoding: the one place that knows how records map to columns.

use chrono::{DateTime, Utc};
use quarry_core::{
    Artifact, ArtifactId, ArtifactKind, Error, Event, EventRecord, HitlMode, Message, MessageId,
    Result, Role, Run, RunId, RunKind, RunStatus, Session, SessionId, SessionStatus, TenantId,
    time,
};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::error::{corrupt, store_error};

/// Columns of a session, in the order [`session`] reads them.
pub(crate) const SESSION_COLUMNS: &str = "tenant_id, id, name, status, model, hitl_mode, \
     created_at, updated_at, message_count, kernel_variables";

/// Columns of a run.
pub(crate) const RUN_COLUMNS: &str =
    "tenant_id, id, session_id, kind, status, summary, created_at, finished_at";

/// Columns of an artifact.
pub(crate) const ARTIFACT_COLUMNS: &str = "tenant_id, id, session_id, run_id, kind, name, \
     media_type, size, sha256, created_at, storage_key";

/// Columns of a message.
pub(crate) const MESSAGE_COLUMNS: &str =
    "tenant_id, id, session_id, role, content, sent_at, metadata";

/// Columns of an event.
pub(crate) const EVENT_COLUMNS: &str = "session_id, seq, run_id, at, event";

/// A text column.
pub(crate) fn text(row: &AnyRow, col: &str) -> Result<String> {
    row.try_get::<String, _>(col).map_err(store_error)
}

/// A nullable text column.
pub(crate) fn opt_text(row: &AnyRow, col: &str) -> Result<Option<String>> {
    row.try_get::<Option<String>, _>(col).map_err(store_error)
}

fn count(row: &AnyRow, col: &str) -> Result<u64> {
    let v = row.try_get::<i64, _>(col).map_err(store_error)?;
    u64::try_from(v).map_err(|_| corrupt(col, &v.to_string()))
}

/// A stored timestamp column.
pub(crate) fn timestamp(row: &AnyRow, col: &str) -> Result<DateTime<Utc>> {
    let s = text(row, col)?;
    time::parse(&s).ok_or_else(|| corrupt(col, &s))
}

/// A nullable stored timestamp.
pub(crate) fn opt_timestamp(row: &AnyRow, col: &str) -> Result<Option<DateTime<Utc>>> {
    match opt_text(row, col)? {
        Some(s) => time::parse(&s).map(Some).ok_or_else(|| corrupt(col, &s)),
        None => Ok(None),
    }
}

/// A text column that must parse.
pub(crate) fn parsed<T>(
    row: &AnyRow,
    col: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T> {
    let s = text(row, col)?;
    parse(&s).ok_or_else(|| corrupt(col, &s))
}

/// A stored timestamp.
pub(crate) fn ts(t: &DateTime<Utc>) -> String {
    time::to_sortable(t)
}

/// A count as the database stores it.
pub(crate) fn db_int(v: u64, what: &'static str) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::invalid(format!("{what} is too large")))
}

/// A `total` read from `COUNT(*)`.
pub(crate) fn total(row: &AnyRow) -> Result<u64> {
    count(row, "total")
}

/// Decodes a row of [`SESSION_COLUMNS`].
pub(crate) fn session(row: &AnyRow) -> Result<Session> {
    Ok(Session {
        tenant_id: parsed(row, "tenant_id", |s| TenantId::parse(s).ok())?,
        id: parsed(row, "id", |s| SessionId::parse(s).ok())?,
        name: text(row, "name")?,
        status: parsed(row, "status", SessionStatus::parse)?,
        model: opt_text(row, "model")?,
        hitl_mode: parsed(row, "hitl_mode", HitlMode::parse)?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
        message_count: count(row, "message_count")?,
        kernel_variables: count(row, "kernel_variables")?,
    })
}

/// Decodes a row of [`RUN_COLUMNS`].
pub(crate) fn run(row: &AnyRow) -> Result<Run> {
    let finished_at = opt_timestamp(row, "finished_at")?;
    Ok(Run {
        id: parsed(row, "id", |s| RunId::parse(s).ok())?,
        tenant_id: parsed(row, "tenant_id", |s| TenantId::parse(s).ok())?,
        session_id: parsed(row, "session_id", |s| SessionId::parse(s).ok())?,
        kind: parsed(row, "kind", RunKind::parse)?,
        status: parsed(row, "status", RunStatus::parse)?,
        summary: opt_text(row, "summary")?,
        created_at: timestamp(row, "created_at")?,
        finished_at,
    })
}

/// Decodes a row of [`ARTIFACT_COLUMNS`].
pub(crate) fn artifact(row: &AnyRow) -> Result<Artifact> {
    Ok(Artifact {
        id: parsed(row, "id", |s| ArtifactId::parse(s).ok())?,
        tenant_id: parsed(row, "tenant_id", |s| TenantId::parse(s).ok())?,
        session_id: parsed(row, "session_id", |s| SessionId::parse(s).ok())?,
        run_id: parsed(row, "run_id", |s| RunId::parse(s).ok())?,
        kind: parsed(row, "kind", ArtifactKind::parse)?,
        name: text(row, "name")?,
        media_type: text(row, "media_type")?,
        size: count(row, "size")?,
        sha256: text(row, "sha256")?,
        created_at: timestamp(row, "created_at")?,
        storage_key: text(row, "storage_key")?,
    })
}

/// Decodes a row of [`MESSAGE_COLUMNS`].
pub(crate) fn message(row: &AnyRow) -> Result<Message> {
    let metadata = text(row, "metadata")?;
    Ok(Message {
        id: parsed(row, "id", |s| MessageId::parse(s).ok())?,
        tenant_id: parsed(row, "tenant_id", |s| TenantId::parse(s).ok())?,
        session_id: parsed(row, "session_id", |s| SessionId::parse(s).ok())?,
        role: parsed(row, "role", Role::parse)?,
        content: text(row, "content")?,
        timestamp: timestamp(row, "sent_at")?,
        metadata: serde_json::from_str(&metadata)
            .map_err(|e| Error::Store(format!("stored message metadata is invalid: {e}")))?,
    })
}

/// Decodes a row of [`EVENT_COLUMNS`].
pub(crate) fn event(row: &AnyRow) -> Result<EventRecord> {
    let run_id = match opt_text(row, "run_id")? {
        Some(s) => Some(RunId::parse(&s).map_err(|_| corrupt("run_id", &s))?),
        None => None,
    };
    let json = text(row, "event")?;
    let event: Event = serde_json::from_str(&json)
        .map_err(|e| Error::Store(format!("stored event is invalid: {e}")))?;
    Ok(EventRecord {
        seq: count(row, "seq")?,
        session_id: parsed(row, "session_id", |s| SessionId::parse(s).ok())?,
        run_id,
        at: timestamp(row, "at")?,
        event,
    })
}

/// The total of a page when the page alone tells it (a short page that is not past the
/// end), sparing a `COUNT(*)`.
pub(crate) fn total_from_page(offset: u32, limit: u32, len: usize) -> Option<u64> {
    let len = len as u64;
    let short = len < u64::from(limit);
    (short && (len > 0 || offset == 0)).then(|| u64::from(offset) + len)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn page_totals_are_known_only_from_short_pages() {
        assert_eq!(total_from_page(0, 10, 3), Some(3));
        assert_eq!(total_from_page(0, 10, 0), Some(0));
        assert_eq!(total_from_page(20, 10, 4), Some(24));
        assert_eq!(total_from_page(20, 10, 0), None);
        assert_eq!(total_from_page(0, 10, 10), None);
        assert_eq!(total_from_page(0, 0, 0), None);
    }
}
