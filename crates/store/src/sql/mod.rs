//! The SQL [`MetadataStore`] and [`AuthStore`]: one set of queries for SQLite and PostgreSQL,
//! through sqlx's `Any` driver (runtime queries only, so building never needs a database).
//!
//! Queries use `$n` placeholders, which both SQLite and PostgreSQL accept, and store
//! timestamps as fixed-width sortable text. Every query names the tenant, except the auth
//! lookups the port defines as global (by secret hash, username, client or key id).

mod artifacts;
mod auth;
mod catalog;
mod connect;
mod error;
mod events;
mod messages;
mod patch;
mod providers;
mod rows;
mod runs;
mod sessions;
mod url;

use std::sync::Arc;

use async_trait::async_trait;
use quarry_core::{
    Artifact, ArtifactFilter, ArtifactId, AuthStore, Event, EventRecord, Message, MessageQuery,
    MetadataStore, NewSession, Page, ProviderStore, Result, Run, RunId, RunStatus, Session,
    SessionId, SessionPatch, SessionQuery, TenantId,
};
use sqlx::{Any, AnyPool, Transaction};

use self::error::store_error;
use self::url::{Backend, DbUrl};
use crate::{CachedMetadataStore, MetadataOptions};

/// The stores one database holds, sharing one connection pool. Closing either closes the
/// pool for both.
#[derive(Clone, Debug)]
pub struct Stores {
    /// Sessions, runs, artifacts, messages and events; behind a [`CachedMetadataStore`] when
    /// [`MetadataOptions::session_cache`] asks for it.
    pub metadata: Arc<dyn MetadataStore>,
    /// Users and credentials (never cached).
    pub auth: Arc<dyn AuthStore>,
    /// Language-model provider configurations (never cached).
    pub providers: Arc<dyn ProviderStore>,
    /// The SQL data agent's connections, semantic models, examples, settings and history.
    pub sql_catalog: Arc<dyn quarry_core::SqlCatalog>,
}

/// Opens the stores at `url` (`sqlite://PATH`, created when missing, or `postgres://…`),
/// migrating the schema, over one pool. The metadata store is wrapped in a
/// [`CachedMetadataStore`] when `options.session_cache` asks for it. Errors never carry the
/// URL's password.
///
/// Calls sqlx's `install_default_drivers` (idempotent); a program embedding this crate must
/// not install a different `Any` driver set with `sqlx::any::install_drivers`.
pub async fn connect_stores(url: &str, options: MetadataOptions) -> Result<Stores> {
    let store = Arc::new(SqlMetadataStore::connect(url, &options).await?);
    let auth: Arc<dyn AuthStore> = store.clone();
    let providers: Arc<dyn ProviderStore> = store.clone();
    let sql_catalog: Arc<dyn quarry_core::SqlCatalog> = store.clone();
    let metadata: Arc<dyn MetadataStore> = if options.session_cache {
        Arc::new(CachedMetadataStore::new(
            store,
            options.session_cache_tenants,
        ))
    } else {
        store
    };
    Ok(Stores {
        metadata,
        auth,
        providers,
        sql_catalog,
    })
}

/// Opens the metadata store at `url`; [`connect_stores`] without the auth store.
pub async fn connect_metadata(
    url: &str,
    options: MetadataOptions,
) -> Result<Arc<dyn MetadataStore>> {
    Ok(connect_stores(url, options).await?.metadata)
}

/// Brings the schema of the store at `url` up to date, then disconnects (`quarry migrate`).
pub async fn migrate(url: &str) -> Result<()> {
    let store = SqlMetadataStore::connect(url, &MetadataOptions::default()).await?;
    store.close().await;
    Ok(())
}

/// A pool and the backend it talks to.
#[derive(Clone)]
pub(crate) struct Db {
    pool: AnyPool,
    backend: Backend,
}

impl Db {
    /// Starts a transaction that will write.
    async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        self.pool
            .begin_with(self.backend.begin_write())
            .await
            .map_err(store_error)
    }
}

/// The [`MetadataStore`] and [`AuthStore`] on SQLite or PostgreSQL.
pub struct SqlMetadataStore {
    db: Db,
}

impl std::fmt::Debug for SqlMetadataStore {
    // By hand: the pool's options hold the URL, password included.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlMetadataStore")
            .field("backend", &self.db.backend.name())
            .field("connections", &self.db.pool.size())
            .field("closed", &self.db.pool.is_closed())
            .finish()
    }
}

impl SqlMetadataStore {
    /// Connects to `url` and migrates its schema; see [`connect_metadata`].
    pub async fn connect(url: &str, options: &MetadataOptions) -> Result<Self> {
        let parsed = DbUrl::parse(url)?;
        let pool = connect::open_pool(&parsed, options).await?;
        tracing::info!(
            backend = parsed.backend.name(),
            url = %parsed.redacted(),
            "metadata store ready"
        );
        Ok(Self {
            db: Db {
                pool,
                backend: parsed.backend,
            },
        })
    }
}

#[async_trait]
impl MetadataStore for SqlMetadataStore {
    fn backend(&self) -> &'static str {
        self.db.backend.name()
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.db.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(session_id = %new.id))]
    async fn create_session(&self, new: NewSession) -> Result<Session> {
        sessions::create(&self.db, new).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(session_id = %new.id))]
    async fn get_or_create_session(&self, new: NewSession) -> Result<Session> {
        sessions::get_or_create(&self.db, new).await
    }

    async fn get_session(&self, tenant: &TenantId, id: &SessionId) -> Result<Session> {
        sessions::get(&self.db, tenant, id).await
    }

    async fn list_sessions(
        &self,
        tenant: &TenantId,
        query: SessionQuery,
    ) -> Result<Arc<Page<Session>>> {
        sessions::list(&self.db, tenant, query).await.map(Arc::new)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(session_id = %id))]
    async fn update_session(
        &self,
        tenant: &TenantId,
        id: &SessionId,
        patch: &SessionPatch,
    ) -> Result<Session> {
        sessions::update(&self.db, tenant, id, patch).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(session_id = %id))]
    async fn delete_session(&self, tenant: &TenantId, id: &SessionId) -> Result<Vec<Artifact>> {
        sessions::delete(&self.db, tenant, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(session_id = %run.session_id, run_id = %run.id))]
    async fn create_run(&self, run: &Run) -> Result<()> {
        runs::create(&self.db, run).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(run_id = %id))]
    async fn finish_run(
        &self,
        tenant: &TenantId,
        id: &RunId,
        status: RunStatus,
        summary: Option<&str>,
    ) -> Result<Run> {
        runs::finish(&self.db, tenant, id, status, summary).await
    }

    async fn get_run(&self, tenant: &TenantId, id: &RunId) -> Result<Run> {
        runs::get(&self.db, tenant, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(session_id = %artifact.session_id, run_id = %artifact.run_id))]
    async fn insert_artifact(&self, artifact: &Artifact) -> Result<()> {
        artifacts::insert(&self.db, artifact).await
    }

    async fn get_artifact(&self, tenant: &TenantId, id: &ArtifactId) -> Result<Artifact> {
        artifacts::get(&self.db, tenant, id).await
    }

    async fn list_artifacts(
        &self,
        tenant: &TenantId,
        filter: &ArtifactFilter,
    ) -> Result<Vec<Artifact>> {
        artifacts::list(&self.db, tenant, filter).await
    }

    async fn delete_artifact(&self, tenant: &TenantId, id: &ArtifactId) -> Result<Artifact> {
        artifacts::delete(&self.db, tenant, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(session_id = %message.session_id))]
    async fn append_message(&self, message: &Message) -> Result<()> {
        messages::append(&self.db, message).await
    }

    async fn list_messages(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        query: MessageQuery,
    ) -> Result<Page<Message>> {
        messages::list(&self.db, tenant, session, query).await
    }

    async fn append_event(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        run: Option<&RunId>,
        event: &Event,
    ) -> Result<EventRecord> {
        events::append(&self.db, tenant, session, run, event).await
    }

    async fn list_events(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<EventRecord>> {
        events::list(&self.db, tenant, session, after_seq, limit).await
    }

    async fn close(&self) {
        self.db.pool.close().await;
    }
}
