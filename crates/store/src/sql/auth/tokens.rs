//! Refresh token queries: rotation and reuse detection.

use chrono::{DateTime, Utc};
use quarry_core::{Error, RefreshToken, Result, Rotation};
use sqlx::{Any, Executor, Transaction};

use super::rows::{self, REFRESH_TOKEN_COLUMNS};
use super::{clients, users};
use crate::sql::Db;
use crate::sql::error::{Violation, store_error, violation};
use crate::sql::rows::ts;

/// The parent a refresh token's foreign key failed on: its client if it names one the
/// tenant lacks, else its user.
async fn missing_parent(db: &Db, token: &RefreshToken) -> Error {
    if let Some(client) = &token.client_id
        && !matches!(
            clients::exists(db, &token.tenant_id, client).await,
            Ok(true)
        )
    {
        return clients::not_found(client);
    }
    users::not_found(&token.user_id)
}

async fn insert_with<'c>(
    conn: impl Executor<'c, Database = Any>,
    token: &RefreshToken,
) -> sqlx::Result<()> {
    let sql = format!(
        "INSERT INTO refresh_tokens ({REFRESH_TOKEN_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    );
    sqlx::query(&sql)
        .bind(token.token_hash.as_str())
        .bind(token.family_id.as_str())
        .bind(token.tenant_id.as_str())
        .bind(token.user_id.as_str())
        .bind(token.client_id.as_ref().map(|c| c.as_str()))
        .bind(ts(&token.created_at))
        .bind(ts(&token.expires_at))
        .bind(token.rotated_at.as_ref().map(ts))
        .bind(token.revoked_at.as_ref().map(ts))
        .execute(conn)
        .await?;
    Ok(())
}

fn conflict() -> Error {
    Error::Conflict("a refresh token with this hash already exists".into())
}

/// Stores a new token; its user (and client, if any) must exist in its tenant.
pub(crate) async fn insert(db: &Db, token: &RefreshToken) -> Result<()> {
    match insert_with(&db.pool, token).await {
        Ok(()) => Ok(()),
        Err(e) => Err(match violation(&e) {
            Some(Violation::Unique) => conflict(),
            Some(Violation::ForeignKey) => missing_parent(db, token).await,
            None => store_error(e),
        }),
    }
}

/// Sets `revoked_at` on every token of the family that has none.
async fn revoke_family_with<'c>(
    conn: impl Executor<'c, Database = Any>,
    family_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family_id)
    .bind(ts(&now))
    .execute(conn)
    .await
    .map_err(store_error)?;
    Ok(())
}

/// Exchanges the presented token for `successor` in one transaction.
///
/// The winner of concurrent rotations is decided by the guarded `UPDATE … WHERE rotated_at
/// IS NULL AND revoked_at IS NULL`: on SQLite the transactions are serial anyway; on
/// PostgreSQL (READ COMMITTED) the losers wait for the winner's row lock, then find the row
/// changed and update nothing. A loser treats that as reuse and revokes the family in a
/// later statement, whose snapshot includes the winner's successor, so the successor is
/// revoked too.
///
/// The successor must be current (neither rotated nor revoked) and have the presented
/// token's family, tenant, user and client, else [`Error::Invalid`]: a family never changes
/// hands. That is checked only once the presented token is known to be current, so a stale
/// caller still gets `Reused`, `Expired` or `Unknown`.
pub(crate) async fn rotate(
    db: &Db,
    presented_hash: &str,
    successor: &RefreshToken,
    now: DateTime<Utc>,
) -> Result<Rotation> {
    let mut tx = db.begin_write().await?;
    let sql = format!("SELECT {REFRESH_TOKEN_COLUMNS} FROM refresh_tokens WHERE token_hash = $1");
    let row = sqlx::query(&sql)
        .bind(presented_hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
    let Some(row) = row else {
        return Ok(Rotation::Unknown);
    };
    let presented = rows::refresh_token(&row)?;
    if presented.rotated_at.is_some() || presented.revoked_at.is_some() {
        return reused(tx, presented.family_id, now).await;
    }
    if presented.expires_at <= now {
        return Ok(Rotation::Expired);
    }
    if successor.family_id != presented.family_id
        || successor.tenant_id != presented.tenant_id
        || successor.user_id != presented.user_id
        || successor.client_id != presented.client_id
        || successor.rotated_at.is_some()
        || successor.revoked_at.is_some()
    {
        return Err(Error::invalid(
            "a refresh token's successor must be current and have its family, tenant, user \
             and client",
        ));
    }
    let won = sqlx::query(
        "UPDATE refresh_tokens SET rotated_at = $2 \
         WHERE token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL",
    )
    .bind(presented_hash)
    .bind(ts(&now))
    .execute(&mut *tx)
    .await
    .map_err(store_error)?
    .rows_affected()
        == 1;
    if !won {
        return reused(tx, presented.family_id, now).await;
    }
    match insert_with(&mut *tx, successor).await {
        Ok(()) => {}
        Err(e) => match violation(&e) {
            Some(Violation::Unique) => return Err(conflict()),
            // The user or client was deleted meanwhile, and the presented token with it.
            Some(Violation::ForeignKey) => return Ok(Rotation::Unknown),
            None => return Err(store_error(e)),
        },
    }
    tx.commit().await.map_err(store_error)?;
    Ok(Rotation::Rotated(RefreshToken {
        rotated_at: Some(now),
        ..presented
    }))
}

/// Revokes the family of a reused token and commits.
async fn reused(
    mut tx: Transaction<'static, Any>,
    family_id: String,
    now: DateTime<Utc>,
) -> Result<Rotation> {
    tracing::warn!(family_id, "refresh token reused: revoking its family");
    revoke_family_with(&mut *tx, &family_id, now).await?;
    tx.commit().await.map_err(store_error)?;
    Ok(Rotation::Reused { family_id })
}

/// Revokes every token of a family (idempotent; an unknown family is no error).
pub(crate) async fn revoke_family(db: &Db, family_id: &str, now: DateTime<Utc>) -> Result<()> {
    revoke_family_with(&db.pool, family_id, now).await
}

/// Deletes refresh tokens and authorization codes that expired before `before`.
pub(crate) async fn purge_expired(db: &Db, before: DateTime<Utc>) -> Result<u64> {
    let cutoff = ts(&before);
    let tokens = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at < $1")
        .bind(&cutoff)
        .execute(&db.pool)
        .await
        .map_err(store_error)?;
    sqlx::query("DELETE FROM auth_codes WHERE expires_at < $1")
        .bind(&cutoff)
        .execute(&db.pool)
        .await
        .map_err(store_error)?;
    Ok(tokens.rows_affected())
}

/// Revokes every live refresh token of a user.
pub(crate) async fn revoke_user(
    db: &Db,
    tenant: &quarry_core::TenantId,
    user: &quarry_core::UserId,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $3 \
         WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(tenant.as_str())
    .bind(user.as_str())
    .bind(ts(&now))
    .execute(&db.pool)
    .await
    .map_err(store_error)?;
    Ok(())
}

/// The token with this hash, whatever its state.
pub(crate) async fn find(db: &Db, token_hash: &str) -> Result<Option<RefreshToken>> {
    let sql = format!("SELECT {REFRESH_TOKEN_COLUMNS} FROM refresh_tokens WHERE token_hash = $1");
    let row = sqlx::query(&sql)
        .bind(token_hash)
        .fetch_optional(&db.pool)
        .await
        .map_err(store_error)?;
    row.as_ref().map(rows::refresh_token).transpose()
}

/// The family of the token with this hash.
pub(crate) async fn family(db: &Db, token_hash: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT family_id FROM refresh_tokens WHERE token_hash = $1")
        .bind(token_hash)
        .fetch_optional(&db.pool)
        .await
        .map_err(store_error)?;
    row.as_ref()
        .map(|r| crate::sql::rows::text(r, "family_id"))
        .transpose()
}
