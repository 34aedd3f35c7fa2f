//! API key queries.

use chrono::{DateTime, Utc};
use quarry_core::{ApiKey, ApiKeyId, Error, Result, TenantId, UserId};

use super::rows::{self, API_KEY_COLUMNS};
use super::users;
use crate::sql::Db;
use crate::sql::error::{store_error, write_error};
use crate::sql::rows::ts;

fn not_found(id: &ApiKeyId) -> Error {
    Error::not_found("api key", id.as_str())
}

/// Stores a key record; its user must exist in its tenant.
pub(crate) async fn insert(db: &Db, key: &ApiKey) -> Result<()> {
    let sql = format!(
        "INSERT INTO api_keys ({API_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    );
    sqlx::query(&sql)
        .bind(key.id.as_str())
        .bind(key.tenant_id.as_str())
        .bind(key.user_id.as_str())
        .bind(key.name.as_str())
        .bind(key.prefix.as_str())
        .bind(key.secret_hash.as_str())
        .bind(ts(&key.created_at))
        .bind(key.last_used_at.as_ref().map(ts))
        .bind(key.revoked_at.as_ref().map(ts))
        .execute(&db.pool)
        .await
        .map_err(|e| {
            write_error(
                e,
                || {
                    Error::Conflict(
                        format!("API key '{}' or its secret already exists", key.id).into(),
                    )
                },
                || users::not_found(&key.user_id),
            )
        })?;
    Ok(())
}

/// The key with this secret hash, in any tenant, revoked or not.
pub(crate) async fn find(db: &Db, secret_hash: &str) -> Result<Option<ApiKey>> {
    let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE secret_hash = $1");
    let row = sqlx::query(&sql)
        .bind(secret_hash)
        .fetch_optional(&db.pool)
        .await
        .map_err(store_error)?;
    row.as_ref().map(rows::api_key).transpose()
}

/// Sets `last_used_at` to `at`, unless a later use is already recorded (touches may land
/// out of order).
pub(crate) async fn touch(db: &Db, id: &ApiKeyId, at: DateTime<Utc>) -> Result<()> {
    let done = sqlx::query(
        "UPDATE api_keys SET last_used_at = CASE \
         WHEN last_used_at IS NULL OR last_used_at < $2 THEN $2 ELSE last_used_at END \
         WHERE id = $1",
    )
    .bind(id.as_str())
    .bind(ts(&at))
    .execute(&db.pool)
    .await
    .map_err(store_error)?;
    if done.rows_affected() == 0 {
        return Err(not_found(id));
    }
    Ok(())
}

/// A user's keys, newest first; a user missing from the tenant is not found.
pub(crate) async fn list(db: &Db, tenant: &TenantId, user: &UserId) -> Result<Vec<ApiKey>> {
    let sql = format!(
        "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND user_id = $2 \
         ORDER BY created_at DESC, id DESC"
    );
    let keys = sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(user.as_str())
        .fetch_all(&db.pool)
        .await
        .map_err(store_error)?
        .iter()
        .map(rows::api_key)
        .collect::<Result<Vec<_>>>()?;
    if keys.is_empty() && !users::exists(db, tenant, user).await? {
        return Err(users::not_found(user));
    }
    Ok(keys)
}

/// Revokes a key, keeping the first revocation time, and returns it.
pub(crate) async fn revoke(
    db: &Db,
    tenant: &TenantId,
    id: &ApiKeyId,
    now: DateTime<Utc>,
) -> Result<ApiKey> {
    let sql = format!(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) \
         WHERE tenant_id = $1 AND id = $2 RETURNING {API_KEY_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(ts(&now))
        .fetch_optional(&db.pool)
        .await
        .map_err(store_error)?;
    row.as_ref()
        .map(rows::api_key)
        .unwrap_or_else(|| Err(not_found(id)))
}
