//! The language models a request may use: the server's gateway (providers from the
//! environment and `quarry.toml`, then the last resort) with the tenant's own stored keys in
//! front. A tenant's stored providers are built once and rebuilt after every change.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use quarry_core::{LlmProvider, ProviderRecord, TenantId};
use quarry_providers::{Gateway, ProviderSpec, build_provider};

use crate::{AppState, error::ApiResult};

/// One tenant's built providers.
type Built = Arc<[Arc<dyn LlmProvider>]>;

/// Built providers by tenant, with when they were built.
#[derive(Debug, Default)]
pub struct TenantProviders {
    built: Mutex<HashMap<TenantId, (Instant, Built)>>,
}

/// Most tenants whose providers are kept built.
const MAX_CACHED_TENANTS: usize = 4096;

/// How long built providers are reused: changes made through this server invalidate them at
/// once; changes made through another server sharing the database are seen after this.
const REBUILD_AFTER: Duration = Duration::from_secs(30);

impl TenantProviders {
    /// Forgets `tenant`'s providers (after a change).
    pub fn invalidate(&self, tenant: &TenantId) {
        if let Ok(mut m) = self.built.lock() {
            m.remove(tenant);
        }
    }

    fn get(&self, tenant: &TenantId) -> Option<Built> {
        let m = self.built.lock().ok()?;
        let (at, built) = m.get(tenant)?;
        (at.elapsed() < REBUILD_AFTER).then(|| built.clone())
    }

    fn put(&self, tenant: &TenantId, providers: Built) {
        if let Ok(mut m) = self.built.lock() {
            if m.len() >= MAX_CACHED_TENANTS {
                m.clear();
            }
            m.insert(tenant.clone(), (Instant::now(), providers));
        }
    }
}

/// The spec of a stored record, its key unsealed; `None` (logged) when it cannot be used.
pub(crate) fn spec_of(state: &AppState, record: &ProviderRecord) -> Option<ProviderSpec> {
    let key = match &record.sealed_key {
        Some(sealed) => {
            let context = ProviderRecord::seal_context(&record.tenant_id, &record.id);
            match state.sealer.open(&context, sealed) {
                Ok(k) => Some(k),
                Err(e) => {
                    tracing::warn!(provider = %record.name, error = %e, "cannot unseal a stored provider key; skipping it");
                    return None;
                }
            }
        }
        None => None,
    };
    match ProviderSpec::stored(
        &record.name,
        &record.kind,
        key,
        record.base_url.clone(),
        record.model.clone(),
    ) {
        Ok(spec) => Some(spec),
        Err(e) => {
            tracing::warn!(provider = %record.name, error = %e, "stored provider is unusable; skipping it");
            None
        }
    }
}

/// The gateway for `tenant`'s requests: its stored providers first, then the server's.
pub async fn gateway_for(state: &AppState, tenant: &TenantId) -> ApiResult<Gateway> {
    let Some(store) = &state.provider_store else {
        return Ok(state.llm.clone());
    };
    let providers = match state.tenant_llm.get(tenant) {
        Some(p) => p,
        None => {
            let records = store.list_providers(tenant).await?;
            let connect = state.llm.policy().connect_timeout;
            let built: Built = records
                .iter()
                .filter_map(|r| spec_of(state, r))
                .map(|spec| build_provider(&spec, connect))
                .collect();
            state.tenant_llm.put(tenant, built.clone());
            built
        }
    };
    Ok(state.llm.with_front(&providers))
}

/// The language model that writes SQL or Python for `tenant`: an explicitly configured one
/// (`fixed`, set in code), else the tenant's gateway without its last resort, or `None` when no
/// provider is configured (the caller then uses its own offline rules, which know the data
/// better than the offline chat answer would).
pub async fn writing_model(
    state: &AppState,
    tenant: &TenantId,
    fixed: Option<&Arc<dyn LlmProvider>>,
) -> ApiResult<Option<Arc<dyn LlmProvider>>> {
    if let Some(m) = fixed {
        return Ok(Some(m.clone()));
    }
    Ok(gateway_for(state, tenant)
        .await?
        .models_only()
        .map(|g| Arc::new(g) as Arc<dyn LlmProvider>))
}

/// What to tell a caller when no provider can answer.
pub const NO_PROVIDER: &str = "no language model provider is configured: set OPENAI_API_KEY \
    (with OPENAI_BASE_URL for any OpenAI-compatible server), ANTHROPIC_API_KEY, GEMINI_API_KEY \
    or GOOGLE_API_KEY, XAI_API_KEY, OPENROUTER_API_KEY, GROQ_API_KEY, AWS_ACCESS_KEY_ID with \
    AWS_SECRET_ACCESS_KEY, or OLLAMA_HOST before starting quarry, or store a key with \
    PUT /me/providers/{name}";
