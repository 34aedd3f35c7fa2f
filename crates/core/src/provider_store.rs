//! Language-model provider credentials that users store through the API (`PUT
//! /me/providers/{name}`, `/api/v1/providers`), per tenant, and the [`ProviderStore`] port
//! that keeps them. Keys are stored sealed ([`crate::SecretBox`]), never in clear.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{Result, TenantId};

/// Most provider configurations one tenant may store.
pub const MAX_PROVIDERS_PER_TENANT: usize = 32;

/// A stored provider configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderRecord {
    /// Its id (`[a-zA-Z0-9_-]{1,128}`).
    pub id: String,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its name, unique in the tenant (`openai`, `anthropic`, or a label).
    pub name: String,
    /// Its wire format (`openai`, `anthropic`, `gemini`, `ollama`, `bedrock`).
    pub kind: String,
    /// Base URL, when not the vendor's.
    pub base_url: Option<String>,
    /// Default model.
    pub model: Option<String>,
    /// The key, sealed with the server's data key (context `provider:<tenant>:<id>`).
    pub sealed_key: Option<String>,
    /// A masked hint of the key (`sk-…1234`), safe to show.
    pub key_hint: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for ProviderRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderRecord")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("key_hint", &self.key_hint)
            .finish_non_exhaustive()
    }
}

impl ProviderRecord {
    /// The sealing context of this record's key.
    pub fn seal_context(tenant: &TenantId, id: &str) -> String {
        format!("provider:{}:{id}", tenant.as_str())
    }
}

/// Keeps provider configurations, scoped by tenant.
#[async_trait]
pub trait ProviderStore: Send + Sync + std::fmt::Debug + 'static {
    /// The tenant's configurations, oldest first.
    async fn list_providers(&self, tenant: &TenantId) -> Result<Vec<ProviderRecord>>;

    /// One configuration; `NotFound` when it is not the tenant's.
    async fn get_provider(&self, tenant: &TenantId, id: &str) -> Result<ProviderRecord>;

    /// Stores a new configuration; `Conflict` when the name is taken in the tenant.
    async fn insert_provider(&self, record: &ProviderRecord) -> Result<()>;

    /// Replaces a configuration (matched by tenant and id); `NotFound`, or `Conflict` when
    /// the new name is taken.
    async fn update_provider(&self, record: &ProviderRecord) -> Result<()>;

    /// Deletes a configuration; `NotFound` when it is not the tenant's.
    async fn delete_provider(&self, tenant: &TenantId, id: &str) -> Result<()>;
}
