//! Column lists and row decoding for accounts and credentials.

use quarry_core::{
    ApiKey, ApiKeyId, AuthCode, ClientId, Error, OAuthClient, RefreshToken, Result, TenantId, User,
    UserId, UserRole,
};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::sql::error::{corrupt, store_error};
use crate::sql::rows::{opt_text, opt_timestamp, parsed, text, timestamp};

/// Columns of a user, in the order [`user`] reads them.
pub(crate) const USER_COLUMNS: &str = "id, tenant_id, username, email, role, \
     can_act_for_tenants, password_hash, disabled, created_at, updated_at";

/// Columns of an API key.
pub(crate) const API_KEY_COLUMNS: &str = "id, tenant_id, user_id, name, prefix, secret_hash, \
     created_at, last_used_at, revoked_at";

/// Columns of a refresh token.
pub(crate) const REFRESH_TOKEN_COLUMNS: &str = "token_hash, family_id, tenant_id, user_id, \
     client_id, created_at, expires_at, rotated_at, revoked_at";

/// Columns of an OAuth2 client.
pub(crate) const CLIENT_COLUMNS: &str =
    "id, tenant_id, name, secret_hash, redirect_uris, service_user_id, created_at";

/// Columns of an authorization code.
pub(crate) const AUTH_CODE_COLUMNS: &str =
    "code_hash, client_id, tenant_id, user_id, redirect_uri, code_challenge, expires_at";

/// A flag as stored (0 or 1).
pub(crate) fn flag(v: bool) -> i64 {
    i64::from(v)
}

fn read_flag(row: &AnyRow, col: &str) -> Result<bool> {
    match row.try_get::<i64, _>(col).map_err(store_error)? {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(corrupt(col, &other.to_string())),
    }
}

fn tenant(row: &AnyRow) -> Result<TenantId> {
    parsed(row, "tenant_id", |s| TenantId::parse(s).ok())
}

fn user_id(row: &AnyRow, col: &str) -> Result<UserId> {
    parsed(row, col, |s| UserId::parse(s).ok())
}

fn client_id(row: &AnyRow, col: &str) -> Result<ClientId> {
    parsed(row, col, |s| ClientId::parse(s).ok())
}

/// Decodes a row of [`USER_COLUMNS`].
pub(crate) fn user(row: &AnyRow) -> Result<User> {
    Ok(User {
        id: user_id(row, "id")?,
        tenant_id: tenant(row)?,
        username: text(row, "username")?,
        email: opt_text(row, "email")?,
        role: parsed(row, "role", UserRole::parse)?,
        can_act_for_tenants: read_flag(row, "can_act_for_tenants")?,
        password_hash: opt_text(row, "password_hash")?,
        disabled: read_flag(row, "disabled")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
    })
}

/// Decodes a row of [`API_KEY_COLUMNS`].
pub(crate) fn api_key(row: &AnyRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: parsed(row, "id", |s| ApiKeyId::parse(s).ok())?,
        tenant_id: tenant(row)?,
        user_id: user_id(row, "user_id")?,
        name: text(row, "name")?,
        prefix: text(row, "prefix")?,
        secret_hash: text(row, "secret_hash")?,
        created_at: timestamp(row, "created_at")?,
        last_used_at: opt_timestamp(row, "last_used_at")?,
        revoked_at: opt_timestamp(row, "revoked_at")?,
    })
}

/// Decodes a row of [`REFRESH_TOKEN_COLUMNS`].
pub(crate) fn refresh_token(row: &AnyRow) -> Result<RefreshToken> {
    let client_id = match opt_text(row, "client_id")? {
        Some(s) => Some(ClientId::parse(&s).map_err(|_| corrupt("client_id", &s))?),
        None => None,
    };
    Ok(RefreshToken {
        token_hash: text(row, "token_hash")?,
        family_id: text(row, "family_id")?,
        tenant_id: tenant(row)?,
        user_id: user_id(row, "user_id")?,
        client_id,
        created_at: timestamp(row, "created_at")?,
        expires_at: timestamp(row, "expires_at")?,
        rotated_at: opt_timestamp(row, "rotated_at")?,
        revoked_at: opt_timestamp(row, "revoked_at")?,
    })
}

/// Redirect URIs as stored: a JSON array of strings.
pub(crate) fn redirect_uris_json(uris: &[String]) -> Result<String> {
    serde_json::to_string(uris).map_err(|e| Error::invalid(format!("redirect URIs: {e}")))
}

/// Decodes a row of [`CLIENT_COLUMNS`].
pub(crate) fn client(row: &AnyRow) -> Result<OAuthClient> {
    let uris = text(row, "redirect_uris")?;
    Ok(OAuthClient {
        id: client_id(row, "id")?,
        tenant_id: tenant(row)?,
        name: text(row, "name")?,
        secret_hash: opt_text(row, "secret_hash")?,
        redirect_uris: serde_json::from_str(&uris).map_err(|_| corrupt("redirect_uris", &uris))?,
        service_user_id: user_id(row, "service_user_id")?,
        created_at: timestamp(row, "created_at")?,
    })
}

/// Decodes a row of [`AUTH_CODE_COLUMNS`].
pub(crate) fn auth_code(row: &AnyRow) -> Result<AuthCode> {
    Ok(AuthCode {
        code_hash: text(row, "code_hash")?,
        client_id: client_id(row, "client_id")?,
        tenant_id: tenant(row)?,
        user_id: user_id(row, "user_id")?,
        redirect_uri: text(row, "redirect_uri")?,
        code_challenge: text(row, "code_challenge")?,
        expires_at: timestamp(row, "expires_at")?,
    })
}
