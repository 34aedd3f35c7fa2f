//! The SQL [`AuthStore`]: users and credentials, in the same database (and pool) as the
//! metadata, with one set of queries for SQLite and PostgreSQL.
//!
//! The schema's foreign keys carry tenant ids and cascade: deleting a user deletes its API
//! keys, refresh tokens and authorization codes, and the OAuth2 clients it is the service
//! user of (with their codes and tokens); deleting a client deletes its codes and tokens.

mod api_keys;
mod clients;
mod rows;
mod tokens;
mod users;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use quarry_core::{
    ApiKey, ApiKeyId, AuthCode, AuthStore, ClientId, OAuthClient, Page, RefreshToken, Result,
    Rotation, TenantId, User, UserId, UserPatch, time,
};

use super::SqlMetadataStore;

#[async_trait]
impl AuthStore for SqlMetadataStore {
    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user.id))]
    async fn create_first_user(&self, user: &User) -> Result<bool> {
        users::create_first(&self.db, user).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %user.id))]
    async fn create_user(&self, user: &User) -> Result<()> {
        users::create(&self.db, user).await
    }

    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<User> {
        users::get(&self.db, tenant, id).await
    }

    async fn find_user_by_username(&self, username: &str) -> Result<Option<User>> {
        users::find_by_username(&self.db, username).await
    }

    async fn list_users(&self, tenant: &TenantId, limit: u32, offset: u32) -> Result<Page<User>> {
        users::list(&self.db, tenant, limit, offset).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %id))]
    async fn update_user(&self, tenant: &TenantId, id: &UserId, patch: &UserPatch) -> Result<User> {
        users::update(&self.db, tenant, id, patch).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_id = %id))]
    async fn delete_user(&self, tenant: &TenantId, id: &UserId) -> Result<()> {
        users::delete(&self.db, tenant, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(key_id = %key.id))]
    async fn insert_api_key(&self, key: &ApiKey) -> Result<()> {
        api_keys::insert(&self.db, key).await
    }

    async fn find_api_key(&self, secret_hash: &str) -> Result<Option<ApiKey>> {
        api_keys::find(&self.db, secret_hash).await
    }

    async fn touch_api_key(&self, id: &ApiKeyId, at: DateTime<Utc>) -> Result<()> {
        api_keys::touch(&self.db, id, at).await
    }

    async fn list_api_keys(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<ApiKey>> {
        api_keys::list(&self.db, tenant, user).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(key_id = %id))]
    async fn revoke_api_key(&self, tenant: &TenantId, id: &ApiKeyId) -> Result<ApiKey> {
        api_keys::revoke(&self.db, tenant, id, time::now()).await
    }

    async fn insert_refresh_token(&self, token: &RefreshToken) -> Result<()> {
        tokens::insert(&self.db, token).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        successor: &RefreshToken,
        now: DateTime<Utc>,
    ) -> Result<Rotation> {
        tokens::rotate(&self.db, presented_hash, successor, now).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(family_id = %family_id))]
    async fn revoke_token_family(&self, family_id: &str, now: DateTime<Utc>) -> Result<()> {
        tokens::revoke_family(&self.db, family_id, now).await
    }

    async fn revoke_user_tokens(
        &self,
        tenant: &TenantId,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        tokens::revoke_user(&self.db, tenant, user, now).await
    }

    async fn purge_expired(&self, before: DateTime<Utc>) -> Result<u64> {
        tokens::purge_expired(&self.db, before).await
    }

    async fn token_family(&self, token_hash: &str) -> Result<Option<String>> {
        tokens::family(&self.db, token_hash).await
    }

    async fn find_refresh_token(&self, token_hash: &str) -> Result<Option<RefreshToken>> {
        tokens::find(&self.db, token_hash).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(client_id = %client.id))]
    async fn insert_client(&self, client: &OAuthClient) -> Result<()> {
        clients::insert(&self.db, client).await
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<OAuthClient>> {
        clients::find(&self.db, id).await
    }

    async fn list_clients(&self, tenant: &TenantId) -> Result<Vec<OAuthClient>> {
        clients::list(&self.db, tenant).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(client_id = %id))]
    async fn delete_client(&self, tenant: &TenantId, id: &ClientId) -> Result<()> {
        clients::delete(&self.db, tenant, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(client_id = %code.client_id))]
    async fn insert_auth_code(&self, code: &AuthCode) -> Result<()> {
        clients::insert_code(&self.db, code).await
    }

    async fn take_auth_code(&self, code_hash: &str) -> Result<Option<AuthCode>> {
        clients::take_code(&self.db, code_hash).await
    }
}
