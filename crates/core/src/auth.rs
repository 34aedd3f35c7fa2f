//! Accounts and credentials as stored: users, API keys, refresh tokens, OAuth2 clients and
//! authorization codes, and the [`AuthStore`] port that keeps them. Secrets are never stored:
//! only hashes (argon2id for passwords, SHA-256 for high-entropy tokens), computed by the
//! `auth` crate.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ApiKeyId, ClientId, Page, Result, TenantId, UserId};

/// What a user may do within its tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    /// Manages users, keys, clients and settings.
    Admin,
    /// Uses the analyst; manages only itself.
    Member,
}

impl UserRole {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    /// Parses a wire or storage name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
}

/// A user account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Login name, unique across the server (lower case).
    pub username: String,
    /// Contact address, if given.
    pub email: Option<String>,
    /// Role within the tenant.
    pub role: UserRole,
    /// May act for any tenant through `X-Tenant-ID` (the first-boot admin).
    pub can_act_for_tenants: bool,
    /// argon2id PHC string; `None` for accounts that log in only with keys.
    pub password_hash: Option<String>,
    /// A disabled user's credentials are refused.
    pub disabled: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A partial update of a user; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserPatch {
    /// New email (`Some(None)` clears it).
    pub email: Option<Option<String>>,
    /// New role.
    pub role: Option<UserRole>,
    /// New password hash.
    pub password_hash: Option<String>,
    /// Enable or disable.
    pub disabled: Option<bool>,
}

/// An API key's record: the secret itself is shown once at creation and never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// Its id.
    pub id: ApiKeyId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The user it acts as.
    pub user_id: UserId,
    /// Label chosen by its owner.
    pub name: String,
    /// The first characters of the secret, to recognise it in lists.
    pub prefix: String,
    /// Lower-case hex SHA-256 of the secret.
    pub secret_hash: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last time it authenticated a request.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; a revoked key is refused.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A refresh token's record. Tokens rotate on every use; all tokens descended from one
/// login share a family, which is revoked whole when a rotated token is used again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshToken {
    /// Lower-case hex SHA-256 of the token (its key).
    pub token_hash: String,
    /// The login it descends from.
    pub family_id: String,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The user it refreshes.
    pub user_id: UserId,
    /// The OAuth2 client it was issued to, if any.
    pub client_id: Option<ClientId>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Set when it was exchanged for a successor.
    pub rotated_at: Option<DateTime<Utc>>,
    /// Set when its family was revoked (logout, reuse).
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What presenting a refresh token led to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// It was current: it is now rotated and its successor stored. Holds the old record.
    Rotated(RefreshToken),
    /// It had been rotated or revoked before: its whole family is now revoked.
    Reused {
        /// The revoked family.
        family_id: String,
    },
    /// It has expired.
    Expired,
    /// No such token.
    Unknown,
}

/// An OAuth2 client registered by an admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthClient {
    /// Its id (`client_id`).
    pub id: ClientId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Display name.
    pub name: String,
    /// SHA-256 of its secret; `None` for public clients (PKCE only).
    pub secret_hash: Option<String>,
    /// Where authorization codes may be sent (exact match).
    pub redirect_uris: Vec<String>,
    /// The user `client_credentials` tokens act as.
    pub service_user_id: UserId,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A one-time authorization code (PKCE S256 only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthCode {
    /// SHA-256 of the code (its key).
    pub code_hash: String,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The user who approved it.
    pub user_id: UserId,
    /// The redirect URI it was issued for.
    pub redirect_uri: String,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// Expiry (minutes after issue).
    pub expires_at: DateTime<Utc>,
}

/// Users and credentials. Lookups by secret hash are global (a key names its tenant); every
/// other call is scoped by tenant, with another tenant's object reported as missing.
#[async_trait]
pub trait AuthStore: Send + Sync + std::fmt::Debug + 'static {
    /// Creates `user` only if no user exists at all; false when one already does. Safe under
    /// concurrent calls: exactly one first user results.
    async fn create_first_user(&self, user: &User) -> Result<bool>;

    /// Stores a user; [`crate::Error::Conflict`] when the username is taken.
    async fn create_user(&self, user: &User) -> Result<()>;

    /// One user.
    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<User>;

    /// The user with this username, in any tenant (for login).
    async fn find_user_by_username(&self, username: &str) -> Result<Option<User>>;

    /// A page of a tenant's users, oldest first.
    async fn list_users(&self, tenant: &TenantId, limit: u32, offset: u32) -> Result<Page<User>>;

    /// Applies `patch` and returns the user.
    async fn update_user(&self, tenant: &TenantId, id: &UserId, patch: &UserPatch) -> Result<User>;

    /// Deletes a user with its keys and tokens.
    async fn delete_user(&self, tenant: &TenantId, id: &UserId) -> Result<()>;

    /// Stores an API key record.
    async fn insert_api_key(&self, key: &ApiKey) -> Result<()>;

    /// The key whose secret hashes to `secret_hash`, revoked or not.
    async fn find_api_key(&self, secret_hash: &str) -> Result<Option<ApiKey>>;

    /// Records that a key was used.
    async fn touch_api_key(&self, id: &ApiKeyId, at: DateTime<Utc>) -> Result<()>;

    /// A user's keys, newest first.
    async fn list_api_keys(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<ApiKey>>;

    /// Revokes a key (idempotent) and returns it.
    async fn revoke_api_key(&self, tenant: &TenantId, id: &ApiKeyId) -> Result<ApiKey>;

    /// Stores a new refresh token.
    async fn insert_refresh_token(&self, token: &RefreshToken) -> Result<()>;

    /// Atomically exchanges the token hashing to `presented_hash` for `successor` (same
    /// family), or reports why not; a reused token revokes its family.
    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        successor: &RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<Rotation>;

    /// Revokes every token of a family (logout).
    async fn revoke_token_family(&self, family_id: &str, now: DateTime<Utc>) -> Result<()>;

    /// Revokes every refresh token of a user (password, role or status changed).
    async fn revoke_user_tokens(
        &self,
        tenant: &TenantId,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<()>;

    /// Deletes refresh tokens and authorization codes that expired before `before`; returns
    /// how many refresh tokens went. Expired ones can never be used again.
    async fn purge_expired(&self, before: DateTime<Utc>) -> Result<u64>;

    /// The family of the token hashing to `token_hash`, if it exists.
    async fn token_family(&self, token_hash: &str) -> Result<Option<String>>;

    /// The token hashing to `token_hash`, whatever its state (the caller builds the
    /// successor for [`AuthStore::rotate_refresh_token`] from it).
    async fn find_refresh_token(&self, token_hash: &str) -> Result<Option<RefreshToken>>;

    /// Stores an OAuth2 client.
    async fn insert_client(&self, client: &OAuthClient) -> Result<()>;

    /// A client by id, in any tenant (for the token endpoint).
    async fn find_client(&self, id: &ClientId) -> Result<Option<OAuthClient>>;

    /// A tenant's clients.
    async fn list_clients(&self, tenant: &TenantId) -> Result<Vec<OAuthClient>>;

    /// Deletes a client with its codes and tokens.
    async fn delete_client(&self, tenant: &TenantId, id: &ClientId) -> Result<()>;

    /// Stores an authorization code.
    async fn insert_auth_code(&self, code: &AuthCode) -> Result<()>;

    /// Atomically takes the unused code hashing to `code_hash`: it can be taken once.
    async fn take_auth_code(&self, code_hash: &str) -> Result<Option<AuthCode>>;
}
