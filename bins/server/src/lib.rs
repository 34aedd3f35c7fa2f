//! The quarry server as a library: [`ServerBuilder`] runs the same `quarry` command line as
//! the binary, with language-model providers of your own registered in code.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # fn provider() -> Arc<dyn quarry_core::LlmProvider> { unimplemented!() }
//! fn main() -> std::process::ExitCode {
//!     quarry_server::ServerBuilder::new()
//!         .provider(provider())
//!         .main()
//! }
//! ```
//!
//! `quarry serve`: open the stores, wire the providers into the failover gateway, serve.
//! Configuration is layered: defaults < `quarry.toml` < `QUARRY_*` environment < flags.

mod cli;
pub mod config;
mod data;
mod kernels;
mod logging;
mod secrets;
mod serve;
mod web;

use std::sync::Arc;

use clap::Parser;
use quarry_core::LlmProvider;
use quarry_providers::{Gateway, LlmConfig};

pub use config::Config;

/// Builds a quarry server with extra language-model providers.
#[derive(Debug, Default)]
pub struct ServerBuilder {
    providers: Vec<Arc<dyn LlmProvider>>,
    last_resort: Option<Arc<dyn LlmProvider>>,
}

impl ServerBuilder {
    /// A builder with only the providers the configuration names.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a provider. Registered providers come first in the failover order, before
    /// those configured by the environment and `quarry.toml`, unless `QUARRY_PROVIDER_ORDER`
    /// (or `[llm] order`) names them elsewhere; names must be unique.
    pub fn provider(mut self, provider: Arc<dyn LlmProvider>) -> Self {
        self.providers.push(provider);
        self
    }

    /// Sets the last resort: tried after every provider failed, and alone when none is
    /// configured (the built-in offline analyst).
    pub fn last_resort(mut self, provider: Arc<dyn LlmProvider>) -> Self {
        self.last_resort = Some(provider);
        self
    }

    /// The failover gateway over the registered providers and those `llm` and the
    /// environment configure, in order.
    pub fn gateway(
        &self,
        llm: &LlmConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Gateway> {
        let mut llm = llm.clone();
        llm.apply_env(env).map_err(anyhow::Error::msg)?;
        let order = std::mem::take(&mut llm.order);
        let mut all: Vec<Arc<dyn LlmProvider>> = self.providers.clone();
        all.extend(llm.providers(env).map_err(anyhow::Error::msg)?);
        let mut ordered = Vec::with_capacity(all.len());
        for name in &order {
            let Some(pos) = all.iter().position(|p| p.name() == name) else {
                anyhow::bail!(
                    "the provider order names '{name}', which is not configured (configured: {})",
                    all.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
                );
            };
            ordered.push(all.remove(pos));
        }
        ordered.extend(all);
        let mut seen = std::collections::HashSet::new();
        for p in &ordered {
            anyhow::ensure!(
                seen.insert(p.name().to_owned()),
                "two providers are named '{}'",
                p.name()
            );
        }
        let mut gateway = Gateway::new(ordered, llm.policy(), llm.pricing());
        if let Some(last) = &self.last_resort {
            gateway = gateway.with_last_resort(last.clone());
        }
        Ok(gateway)
    }

    /// Parses the command line and runs it (`quarry serve`, `quarry migrate`, …) on a new
    /// runtime; the process's exit code.
    pub fn main(self) -> std::process::ExitCode {
        let cli = cli::Cli::parse();
        let result = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| {
                let result = rt.block_on(cli::run(cli, self));
                // Blocking work still running (a hung disk) must not hold the exit forever.
                rt.shutdown_timeout(std::time::Duration::from_secs(5));
                result
            });
        match result {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                // Logging may not be set up yet (bad config), so report on stderr directly.
                eprintln!("quarry: error: {e:#}");
                std::process::ExitCode::FAILURE
            }
        }
    }

    /// Serves with `config` until SIGINT or SIGTERM (logging must be set up by the caller).
    pub async fn serve(self, config: Config) -> anyhow::Result<()> {
        serve::serve(config, self).await
    }
}
