//! OAuth2 client and authorization code queries.

use quarry_core::{AuthCode, ClientId, Error, OAuthClient, Result, TenantId, time};

use super::rows::{self, AUTH_CODE_COLUMNS, CLIENT_COLUMNS, redirect_uris_json};
use super::users;
use crate::sql::Db;
use crate::sql::error::{Violation, store_error, violation, write_error};
use crate::sql::rows::ts;

pub(crate) fn not_found(id: &ClientId) -> Error {
    Error::not_found("client", id.as_str())
}

/// Stores a client; its service user must exist in its tenant.
pub(crate) async fn insert(db: &Db, client: &OAuthClient) -> Result<()> {
    let uris = redirect_uris_json(&client.redirect_uris)?;
    let sql =
        format!("INSERT INTO oauth_clients ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
    sqlx::query(&sql)
        .bind(client.id.as_str())
        .bind(client.tenant_id.as_str())
        .bind(client.name.as_str())
        .bind(client.secret_hash.as_deref())
        .bind(uris)
        .bind(client.service_user_id.as_str())
        .bind(ts(&client.created_at))
        .execute(&db.pool)
        .await
        .map_err(|e| {
            write_error(
                e,
                || Error::Conflict(format!("client '{}' already exists", client.id).into()),
                || users::not_found(&client.service_user_id),
            )
        })?;
    Ok(())
}

/// A client by id, in any tenant.
pub(crate) async fn find(db: &Db, id: &ClientId) -> Result<Option<OAuthClient>> {
    let sql = format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE id = $1");
    let row = sqlx::query(&sql)
        .bind(id.as_str())
        .fetch_optional(&db.pool)
        .await
        .map_err(store_error)?;
    row.as_ref().map(rows::client).transpose()
}

/// Whether the tenant has this client.
pub(crate) async fn exists(db: &Db, tenant: &TenantId, id: &ClientId) -> Result<bool> {
    let row = sqlx::query("SELECT 1 AS one FROM oauth_clients WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&db.pool)
        .await
        .map_err(store_error)?;
    Ok(row.is_some())
}

/// The tenant's clients, oldest first.
pub(crate) async fn list(db: &Db, tenant: &TenantId) -> Result<Vec<OAuthClient>> {
    let sql = format!(
        "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE tenant_id = $1 ORDER BY created_at, id"
    );
    sqlx::query(&sql)
        .bind(tenant.as_str())
        .fetch_all(&db.pool)
        .await
        .map_err(store_error)?
        .iter()
        .map(rows::client)
        .collect()
}

/// Deletes a client; the schema cascades to its authorization codes and refresh tokens.
pub(crate) async fn delete(db: &Db, tenant: &TenantId, id: &ClientId) -> Result<()> {
    let done = sqlx::query("DELETE FROM oauth_clients WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id.as_str())
        .execute(&db.pool)
        .await
        .map_err(store_error)?;
    if done.rows_affected() == 0 {
        return Err(not_found(id));
    }
    Ok(())
}

/// Stores a code; its client and user must exist in its tenant. Codes that expired before
/// now, never taken, are purged first, so abandoned authorizations do not pile up.
pub(crate) async fn insert_code(db: &Db, code: &AuthCode) -> Result<()> {
    sqlx::query("DELETE FROM auth_codes WHERE expires_at < $1")
        .bind(ts(&time::now()))
        .execute(&db.pool)
        .await
        .map_err(store_error)?;
    let sql =
        format!("INSERT INTO auth_codes ({AUTH_CODE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
    let inserted = sqlx::query(&sql)
        .bind(code.code_hash.as_str())
        .bind(code.client_id.as_str())
        .bind(code.tenant_id.as_str())
        .bind(code.user_id.as_str())
        .bind(code.redirect_uri.as_str())
        .bind(code.code_challenge.as_str())
        .bind(ts(&code.expires_at))
        .execute(&db.pool)
        .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(e) => Err(match violation(&e) {
            Some(Violation::Unique) => {
                Error::Conflict("an authorization code with this hash already exists".into())
            }
            Some(Violation::ForeignKey) => {
                if exists(db, &code.tenant_id, &code.client_id).await? {
                    users::not_found(&code.user_id)
                } else {
                    not_found(&code.client_id)
                }
            }
            None => store_error(e),
        }),
    }
}

/// Takes the code by deleting it: of concurrent takers exactly one gets the row. An expired
/// code is still returned; the caller checks `expires_at`.
pub(crate) async fn take_code(db: &Db, code_hash: &str) -> Result<Option<AuthCode>> {
    let sql = format!("DELETE FROM auth_codes WHERE code_hash = $1 RETURNING {AUTH_CODE_COLUMNS}");
    let row = sqlx::query(&sql)
        .bind(code_hash)
        .fetch_optional(&db.pool)
        .await
        .map_err(store_error)?;
    row.as_ref().map(rows::auth_code).transpose()
}
