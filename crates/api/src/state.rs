//! What every handler shares.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use quarry_core::{
    ArtifactStore, DEFAULT_SESSION_ID, MetadataStore, NewSession, ProviderStore, SecretBox,
    Session, SessionId, TenantId,
};
use quarry_providers::Gateway;

use quarry_auth::{Authenticator, RateLimiter};

use crate::{error::ApiResult, extract::session_id, listing_cache::ListingCache};

/// Settings the HTTP layer needs (the server binary builds them from its configuration).
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Largest JSON body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Where session workspaces live (`<data dir>/workspaces`).
    pub workspace_root: PathBuf,
    /// Origins allowed by CORS besides loopback ones.
    pub cors_origins: Vec<String>,
    /// Every route but health, docs and login needs credentials. Off: requests without
    /// credentials act as the owner (single-tenant, loopback).
    pub auth_required: bool,
    /// Requests per minute by kind of principal.
    pub rate_limits: RateLimits,
    /// Reverse proxies whose `X-Forwarded-For` names the client, for per-address budgets.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Answer only requests addressed to a loopback name, and refuse cross-site writes: the
    /// protection of a server without authentication. Off when an operator deliberately
    /// serves on another address (behind an authenticating proxy).
    pub loopback_only: bool,
    /// Largest file accepted by the DSAgent upload, in bytes (`DSAGENT_MAX_UPLOAD_MB`);
    /// 0 means no limit.
    pub max_upload_bytes: u64,
    /// The AntV G2Plot bundle (`g2plot.min.js`) served at `/assets/` for interactive charts.
    pub chart_bundle: PathBuf,
}

impl ApiConfig {
    /// Defaults for a server whose data directory is `data_dir`.
    pub fn for_data_dir(data_dir: &Path) -> Self {
        Self {
            max_body_bytes: 2 * 1024 * 1024,
            workspace_root: data_dir.join("workspaces"),
            cors_origins: Vec::new(),
            auth_required: false,
            rate_limits: RateLimits::default(),
            trusted_proxies: Vec::new(),
            loopback_only: true,
            max_upload_bytes: 50 * 1024 * 1024,
            chart_bundle: quarry_chart::default_bundle_path(),
        }
    }
}

/// Requests per minute for each kind of principal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Members (and their keys).
    pub user: u32,
    /// Admins and the owner's shared key.
    pub admin: u32,
    /// Requests without credentials, per client address (login, setup, refresh, token).
    pub anonymous: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            user: 100,
            admin: 1000,
            anonymous: 60,
        }
    }
}

/// Shared state of the router: one pointer, so handing it to every middleware and handler
/// costs one reference count. Fields are reached through [`std::ops::Deref`].
#[derive(Clone, Debug)]
pub struct AppState(Arc<StateInner>);

impl std::ops::Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}

/// What [`AppState`] holds.
#[derive(Clone, Debug)]
pub struct StateInner {
    /// Sessions, runs, artifacts, messages, events.
    pub metadata: Arc<dyn MetadataStore>,
    /// Artifact bytes.
    pub artifacts: Arc<dyn ArtifactStore>,
    /// HTTP settings.
    pub config: Arc<ApiConfig>,
    /// When the server started, for `uptime_seconds`.
    pub started: Instant,
    /// Rendered session listings (see [`crate::listing_cache`]).
    pub(crate) listings: Arc<ListingCache>,
    /// Checks credentials; `None` when no auth store is configured (owner only).
    pub auth: Option<Arc<Authenticator>>,
    /// Request budgets.
    pub(crate) limiter: Arc<RateLimiter>,
    /// Seals secrets stored at rest (provider keys, database credentials).
    pub sealer: SecretBox,
    /// Python kernels, one per session; `None` when the server runs without them.
    pub kernels: Option<Arc<quarry_kernel::KernelManager>>,
    /// Writes the code of `/agents/python` (rules, then a model when one is set).
    pub python_analyst: quarry_kernel::PythonAnalyst,
    /// The language models: the failover gateway over the configured providers and the last
    /// resort. Requests use it through [`crate::llm::gateway_for`], which puts the tenant's
    /// stored keys in front.
    pub llm: Gateway,
    /// Provider keys stored per tenant; `None` when no store is configured.
    pub provider_store: Option<Arc<dyn ProviderStore>>,
    /// The tenants' stored providers, built once per change.
    pub(crate) tenant_llm: Arc<crate::llm::TenantProviders>,
    /// The SQL data agent; `None` when the server runs without one.
    pub data: Option<Arc<crate::data::DataService>>,
}

impl AppState {
    /// State over the given stores.
    pub fn new(
        metadata: Arc<dyn MetadataStore>,
        artifacts: Arc<dyn ArtifactStore>,
        config: ApiConfig,
    ) -> Self {
        Self(Arc::new(StateInner {
            metadata,
            artifacts,
            config: Arc::new(config),
            started: Instant::now(),
            listings: Arc::default(),
            auth: None,
            limiter: Arc::default(),
            sealer: SecretBox::new(&SecretBox::generate_key()),
            kernels: None,
            python_analyst: quarry_kernel::PythonAnalyst::default(),
            llm: Gateway::default(),
            provider_store: None,
            tenant_llm: Arc::default(),
            data: None,
        }))
    }

    /// The same state, answering language-model requests through `llm`.
    pub fn with_llm(mut self, llm: Gateway) -> Self {
        Arc::make_mut(&mut self.0).llm = llm;
        self
    }

    /// The same state, keeping tenants' provider keys in `store`.
    pub fn with_provider_store(mut self, store: Arc<dyn ProviderStore>) -> Self {
        Arc::make_mut(&mut self.0).provider_store = Some(store);
        self
    }

    /// The same state, checking credentials with `auth`.
    pub fn with_auth(mut self, auth: Authenticator) -> Self {
        Arc::make_mut(&mut self.0).auth = Some(Arc::new(auth));
        self
    }

    /// The same state, sealing stored secrets with `sealer` (the server's persistent key;
    /// without it, a random key that lives as long as the process).
    pub fn with_sealer(mut self, sealer: SecretBox) -> Self {
        Arc::make_mut(&mut self.0).sealer = sealer;
        self
    }

    /// The same state, running code in `kernels`.
    pub fn with_kernels(mut self, kernels: Arc<quarry_kernel::KernelManager>) -> Self {
        Arc::make_mut(&mut self.0).kernels = Some(kernels);
        self
    }

    /// The same state, asking `llm` for the Python the offline analyst cannot write.
    pub fn with_python_llm(mut self, llm: Arc<dyn quarry_core::LlmProvider>) -> Self {
        Arc::make_mut(&mut self.0).python_analyst = quarry_kernel::PythonAnalyst::new(Some(llm));
        self
    }

    /// The same state, answering data questions with `data`.
    pub fn with_data(mut self, data: crate::data::DataService) -> Self {
        Arc::make_mut(&mut self.0).data = Some(Arc::new(data));
        self
    }

    /// The workspace directory of a session (created on first use by the kernel and files).
    pub fn workspace_path(&self, tenant: &TenantId, session: &SessionId) -> PathBuf {
        self.config
            .workspace_root
            .join(tenant.as_str())
            .join(session.as_str())
    }

    /// The session a request names, or, when it names none, the default session
    /// (`default_local_user`), created on first use as oneprompt does.
    pub async fn session_or_default(
        &self,
        tenant: &TenantId,
        requested: Option<&str>,
    ) -> ApiResult<Session> {
        match requested {
            Some(raw) => {
                let id = session_id(raw)?;
                Ok(self.metadata.get_session(tenant, &id).await?)
            }
            None => {
                let new = NewSession {
                    id: SessionId::parse(DEFAULT_SESSION_ID)?,
                    tenant_id: tenant.clone(),
                    name: DEFAULT_SESSION_ID.to_owned(),
                    model: None,
                    hitl_mode: Default::default(),
                };
                Ok(self.metadata.get_or_create_session(new).await?)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Arc;

    use quarry_core::{DEFAULT_SESSION_ID, SessionQuery, TenantId};
    use quarry_store::{FsArtifactStore, MetadataOptions};

    use super::*;
    use crate::ErrorCode;

    async fn state(dir: &Path) -> AppState {
        let url = format!("sqlite://{}", dir.join("q.db").display());
        let meta = quarry_store::connect_metadata(&url, MetadataOptions::default())
            .await
            .unwrap();
        let files = FsArtifactStore::open(dir.join("artifacts")).await.unwrap();
        AppState::new(meta, Arc::new(files), ApiConfig::for_data_dir(dir))
    }

    #[tokio::test]
    async fn default_session_is_created_once_on_first_use() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path()).await;
        let tenant = TenantId::owner();
        let calls = (0..8).map(|_| state.session_or_default(&tenant, None));
        let sessions = futures::future::try_join_all(calls).await.unwrap();
        assert!(sessions.iter().all(|s| s.id.as_str() == DEFAULT_SESSION_ID));
        assert_eq!(sessions[0].name, DEFAULT_SESSION_ID);
        let page = state
            .metadata
            .list_sessions(&tenant, SessionQuery::default())
            .await
            .unwrap();
        assert_eq!(page.total, 1);
        // Each tenant has its own default session.
        let other = TenantId::parse("team-beta").unwrap();
        state.session_or_default(&other, None).await.unwrap();
        assert_eq!(
            state
                .metadata
                .list_sessions(&other, SessionQuery::default())
                .await
                .unwrap()
                .total,
            1
        );
    }

    #[tokio::test]
    async fn a_named_session_must_exist_and_be_valid() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path()).await;
        let tenant = TenantId::owner();
        let err = state
            .session_or_default(&tenant, Some("missing"))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound);
        let err = state
            .session_or_default(&tenant, Some("../x"))
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidId);
    }
}
