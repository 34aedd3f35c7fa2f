//! Message queries.

use quarry_core::{Error, Message, MessageQuery, Page, Result, SessionId, TenantId, time};

use super::error::{store_error, write_error};
use super::rows::{self, MESSAGE_COLUMNS, total_from_page, ts};
use super::{Db, sessions};

/// Appends a message, counting it on its session and bumping the session's `updated_at`,
/// all in one transaction.
pub(crate) async fn append(db: &Db, m: &Message) -> Result<()> {
    let metadata = serde_json::to_string(&m.metadata)
        .map_err(|e| Error::invalid(format!("message metadata: {e}")))?;
    let mut tx = db.begin_write().await?;
    let counted = sqlx::query(
        "UPDATE sessions SET message_count = message_count + 1, updated_at = $3 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(m.tenant_id.as_str())
    .bind(m.session_id.as_str())
    .bind(ts(&time::now()))
    .execute(&mut *tx)
    .await
    .map_err(store_error)?;
    if counted.rows_affected() == 0 {
        return Err(Error::not_found("session", m.session_id.as_str()));
    }
    sqlx::query(
        "INSERT INTO messages (tenant_id, id, session_id, role, content, sent_at, metadata) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(m.tenant_id.as_str())
    .bind(m.id.as_str())
    .bind(m.session_id.as_str())
    .bind(m.role.as_str())
    .bind(m.content.as_str())
    .bind(ts(&m.timestamp))
    .bind(metadata)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        write_error(
            e,
            || Error::Conflict(format!("message '{}' already exists", m.id).into()),
            || Error::not_found("session", m.session_id.as_str()),
        )
    })?;
    tx.commit().await.map_err(store_error)
}

/// A page of a session's messages, oldest first, and how many match.
pub(crate) async fn list(
    db: &Db,
    tenant: &TenantId,
    session: &SessionId,
    q: MessageQuery,
) -> Result<Page<Message>> {
    let role = q.role.map(|r| r.as_str());
    let (filter, next) = match role {
        Some(_) => (" AND role = $3", 4),
        None => ("", 3),
    };
    let page_sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND session_id = $2{filter} \
         ORDER BY sent_at, seq LIMIT ${next} OFFSET ${}",
        next + 1
    );
    let mut page = sqlx::query(&page_sql)
        .bind(tenant.as_str())
        .bind(session.as_str());
    if let Some(role) = role {
        page = page.bind(role);
    }
    let items = page
        .bind(i64::from(q.limit))
        .bind(i64::from(q.offset))
        .fetch_all(&db.pool)
        .await
        .map_err(store_error)?
        .iter()
        .map(rows::message)
        .collect::<Result<Vec<_>>>()?;
    // Rows prove the session exists; an empty page has to ask.
    if items.is_empty() && !sessions::exists(db, tenant, session).await? {
        return Err(Error::not_found("session", session.as_str()));
    }
    let total = match total_from_page(q.offset, q.limit, items.len()) {
        Some(total) => total,
        None => {
            let count_sql = format!(
                "SELECT COUNT(*) AS total FROM messages \
                 WHERE tenant_id = $1 AND session_id = $2{filter}"
            );
            let mut count = sqlx::query(&count_sql)
                .bind(tenant.as_str())
                .bind(session.as_str());
            if let Some(role) = role {
                count = count.bind(role);
            }
            let row = count.fetch_one(&db.pool).await.map_err(store_error)?;
            rows::total(&row)?
        }
    };
    Ok(Page { items, total })
}
