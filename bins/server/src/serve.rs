//! `quarry serve`: open the stores, bind, serve, and shut down gracefully.

use std::{fs::File, net::IpAddr, path::Path, sync::Arc, time::Duration};

use anyhow::Context;
use quarry_api::{ApiConfig, AppState, RateLimits};
use quarry_store::{FsArtifactStore, MetadataOptions};
use tokio::net::TcpListener;

use crate::config::Config;

/// Runs the server until SIGINT or SIGTERM.
pub async fn serve(config: Config, builder: crate::ServerBuilder) -> anyhow::Result<()> {
    refuse_unprotected_bind(&config)?;
    // Registered before anything slow (migrations), so an early signal is not lost.
    let mut signals = Signals::register()?;
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let _lock = lock_data_dir(&config.data_dir)?;

    // Only the embedded store in the locked data directory is known to have no other writer.
    let embedded = config.database_url.is_none();
    let stores = quarry_store::connect_stores(
        &config.metadata_url()?,
        MetadataOptions {
            // One process owns a data directory (the lock above), so its reads may be cached.
            session_cache: embedded,
            ..MetadataOptions::default()
        },
    )
    .await
    .context("cannot open the metadata store")?;
    let metadata = stores.metadata.clone();
    let purge = tokio::spawn(purge_expired_credentials(stores.auth.clone()));
    let authenticator = crate::secrets::authenticator(&config, stores.auth)?;
    if config.auth_enforced() {
        tracing::info!(
            path = %config.data_dir.join("secrets").join("setup-token").display(),
            "first-boot setup (POST /api/v1/auth/setup) needs the setup_token in this file"
        );
    }
    let artifacts = FsArtifactStore::open(config.data_dir.join("artifacts"))
        .await
        .context("cannot open the artifact store")?;

    let mut api_config = ApiConfig::for_data_dir(&config.data_dir);
    api_config.max_body_bytes = config.max_body_bytes;
    api_config.cors_origins = config.cors_origins.clone();
    api_config.auth_required = config.auth_enforced();
    // Host and Origin checks protect a server that trusts every caller as the owner.
    api_config.loopback_only = !config.auth_enforced() && !config.allow_insecure_bind;
    api_config.trusted_proxies = config.trusted_proxies.clone();
    if let Some(bundle) = &config.chart_bundle {
        api_config.chart_bundle = bundle.clone();
    }
    if !api_config.chart_bundle.is_file() {
        tracing::warn!(
            path = %api_config.chart_bundle.display(),
            "G2Plot bundle not found: charts will be static only until you run scripts/setup-web \
             (npm ci in web/) or set chart_bundle"
        );
    }
    api_config.rate_limits = RateLimits {
        user: config.rate_limit_user,
        admin: config.rate_limit_admin,
        anonymous: config.rate_limit_anonymous,
    };
    api_config.max_upload_bytes = config.dsagent_max_upload_mb.saturating_mul(1024 * 1024);
    let kernels = crate::kernels::start(&config, &api_config.workspace_root).await;
    let sealer = crate::secrets::data_box(&config)?;
    let data = crate::data::open(&config.data_dir).await.map(|data| {
        let sqlite_dir = config.data_dir.join("databases");
        data.with_catalog(stores.sql_catalog.clone(), sqlite_dir)
    });
    let mut llm = builder.gateway(&config.llm, &|k| std::env::var(k).ok())?;
    let mut llm_settings = config.llm.clone();
    llm_settings
        .apply_env(&|k| std::env::var(k).ok())
        .map_err(anyhow::Error::msg)?;
    if llm_settings.offline_fallback
        && !llm.has_last_resort()
        && let Some(data) = &data
    {
        // The offline analyst answers when no provider is configured or every one failed.
        llm = llm.with_last_resort(Arc::new(data.offline_provider()));
    }
    let names: Vec<String> = llm.status().into_iter().map(|s| s.name).collect();
    if names.is_empty() {
        tracing::warn!("{}", quarry_api::llm::NO_PROVIDER);
    } else {
        tracing::info!(providers = %names.join(","), "language model providers, in failover order");
    }
    let mut state = AppState::new(metadata.clone(), Arc::new(artifacts), api_config)
        .with_auth(authenticator)
        .with_sealer(sealer)
        .with_llm(llm)
        .with_provider_store(stores.providers.clone());
    if let Some(k) = &kernels {
        state = state.with_kernels(k.manager.clone());
    }
    if let Some(data) = data {
        state = state.with_data(data);
    }
    let app = quarry_api::router(state);

    let addr = format!("{}:{}", config.host, config.port);
    let listener = TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(
        address = %local,
        data_dir = %config.data_dir.display(),
        metadata = config.metadata_backend(),
        version = env!("CARGO_PKG_VERSION"),
        auth = if config.auth_enforced() { "required" } else { "owner mode (loopback, no credentials needed)" },
        "quarry listening on http://{local} (API docs at http://{local}/docs)"
    );

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut server = tokio::spawn(async move {
        let mut stop_rx = stop_rx;
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop_rx.wait_for(|stop| *stop).await;
        })
        .await
    });

    tokio::select! {
        result = &mut server => {
            purge.abort();
            crate::kernels::stop(kernels).await;
            metadata.close().await;
            return result.context("server task failed")?.context("server failed");
        }
        signal = signals.next() => {
            tracing::info!(signal, "shutting down: no new connections, draining in-flight requests");
        }
    }
    let _ = stop_tx.send(true);
    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    tokio::select! {
        drained = tokio::time::timeout(grace, &mut server) => match drained {
            Ok(Ok(Ok(()))) => tracing::info!("all requests finished"),
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "server ended with an error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "server task failed"),
            Err(_) => tracing::warn!(
                grace_seconds = grace.as_secs(),
                "requests still running after the grace period; abandoning them"
            ),
        },
        signal = signals.next() => {
            tracing::warn!(signal, "second signal: exiting without waiting for requests");
        }
    }
    server.abort();
    purge.abort();
    crate::kernels::stop(kernels).await;
    // Abandoned requests may still hold connections; closing waits for them only so long.
    if tokio::time::timeout(CLOSE_TIMEOUT, metadata.close())
        .await
        .is_err()
    {
        tracing::warn!(
            "metadata store did not close within {}s",
            CLOSE_TIMEOUT.as_secs()
        );
    } else {
        tracing::info!("metadata store closed; bye");
    }
    Ok(())
}

/// Deletes expired refresh tokens and authorization codes once an hour, so the tables hold
/// only credentials that can still be used.
async fn purge_expired_credentials(store: Arc<dyn quarry_core::AuthStore>) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        match store.purge_expired(quarry_core::time::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(refresh_tokens = n, "purged expired credentials"),
            Err(e) => tracing::warn!(error = %e, "could not purge expired credentials"),
        }
    }
}

/// How long closing the metadata store may take after the drain.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Without authentication only loopback addresses are safe to bind.
fn refuse_unprotected_bind(config: &Config) -> anyhow::Result<()> {
    let loopback = config.host == "localhost"
        || config
            .host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    anyhow::ensure!(
        loopback || config.auth_enforced() || config.allow_insecure_bind,
        "refusing to listen on {} without authentication: anyone who can reach it could read \
         and delete every session. Bind 127.0.0.1 (the default), or turn authentication on \
         (auth_required = true / QUARRY_AUTH_REQUIRED=true, or DSAGENT_API_KEY), or put quarry \
         behind an authenticating proxy and set allow_insecure_bind = true \
         (QUARRY_ALLOW_INSECURE_BIND=true).",
        config.host
    );
    Ok(())
}

/// Takes an exclusive lock on the data directory, so two servers never share one (the
/// SQLite read cache relies on being the only writer). Released when the file is dropped.
fn lock_data_dir(dir: &Path) -> anyhow::Result<File> {
    let path = dir.join(".quarry.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another quarry server is using the data directory {}; stop it or choose another \
             --data-dir",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// SIGINT and SIGTERM, registered once.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn register() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            int: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    /// Waits for the next signal and names it.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}
