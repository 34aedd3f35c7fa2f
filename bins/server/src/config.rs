//! Configuration, layered: defaults < `quarry.toml` < `DATABASE_URL` < `QUARRY_*` environment
//! < command-line flags. Unknown keys in the file are an error, so a typo is never ignored.

use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// How logs are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Every setting of the server. `Debug` hides the secrets.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to bind.
    pub host: String,
    /// Port to bind.
    pub port: u16,
    /// Directory for the metadata database, artifacts and workspaces.
    pub data_dir: PathBuf,
    /// Metadata store URL; SQLite in the data directory when unset.
    pub database_url: Option<String>,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter (`info`, `quarry_api=debug,info`, …); `RUST_LOG` wins when set.
    pub log_level: String,
    /// Largest JSON request body, in bytes.
    pub max_body_bytes: usize,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    pub shutdown_grace_seconds: u64,
    /// Browser origins allowed besides loopback ones.
    pub cors_origins: Vec<String>,
    /// Serve on a non-loopback address although no authentication is configured.
    pub allow_insecure_bind: bool,
    /// Require credentials on every route but health, docs and login.
    pub auth_required: bool,
    /// HS256 key for access tokens (32+ bytes); generated into the data dir when unset.
    pub jwt_secret: Option<String>,
    /// Requests per minute for members.
    pub rate_limit_user: u32,
    /// Requests per minute for admins.
    pub rate_limit_admin: u32,
    /// Requests per minute per address without credentials (login, setup, token).
    pub rate_limit_anonymous: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client (exact addresses).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// DSAgent's shared key (`DSAGENT_API_KEY`); setting it requires credentials.
    pub dsagent_api_key: Option<String>,
    /// DSAgent's `DSAGENT_REQUIRE_API_KEY`: refuse to start without `DSAGENT_API_KEY`.
    pub dsagent_require_api_key: bool,
    /// DSAgent's `DSAGENT_MAX_UPLOAD_MB`: largest uploaded file in MB (0 = no limit).
    pub dsagent_max_upload_mb: u64,
    /// Run Python kernels (the kernel, files' kernel side and `/agents/python`).
    pub kernel_enabled: bool,
    /// Run kernels in the bubblewrap sandbox. Turning it off lets code reach the host and
    /// the network; quarry then logs a warning at start.
    pub kernel_sandbox: bool,
    /// An existing Python environment with ipykernel to use instead of quarry's own
    /// (`<data dir>/python`, created by `quarry setup` or on first use).
    pub kernel_python_env: Option<PathBuf>,
    /// The interpreter that creates quarry's environment.
    pub kernel_base_python: String,
    /// Pre-started kernels kept ready.
    pub kernel_pool_size: usize,
    /// Most session kernels at once.
    pub kernel_max: usize,
    /// A session's kernel idle this many seconds is stopped.
    pub kernel_idle_timeout_seconds: u64,
    /// Wall-clock limit of one execution, in seconds.
    pub kernel_execution_timeout_seconds: u64,
    /// Address-space (virtual memory) limit of a kernel, in MB.
    pub kernel_memory_mb: u64,
    /// Most processes and threads of a kernel.
    pub kernel_max_processes: u64,
    /// Largest file a kernel may write, in MB.
    pub kernel_max_file_mb: u64,
    /// CPU seconds a kernel may use over its life.
    pub kernel_cpu_seconds: u64,
    /// The G2Plot bundle (`g2plot.min.js`) for interactive charts; by default the one
    /// `scripts/setup-web` installs under `web/node_modules` of the checkout quarry was built from.
    pub chart_bundle: Option<PathBuf>,
    /// Language-model providers, failover order, timeouts and prices (`[llm]`); keys and
    /// base URLs also come from the vendors' environment variables.
    pub llm: quarry_providers::LlmConfig,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |o: &Option<String>| o.as_ref().map(|_| "***");
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("data_dir", &self.data_dir)
            .field("database_url", &hidden(&self.database_url))
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("auth_required", &self.auth_required)
            .field("jwt_secret", &hidden(&self.jwt_secret))
            .field("dsagent_api_key", &hidden(&self.dsagent_api_key))
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: 8000,
            data_dir: PathBuf::from("./quarry-data"),
            database_url: None,
            log_format: LogFormat::Pretty,
            log_level: "info".to_owned(),
            max_body_bytes: 2 * 1024 * 1024,
            shutdown_grace_seconds: 10,
            cors_origins: Vec::new(),
            allow_insecure_bind: false,
            auth_required: false,
            jwt_secret: None,
            rate_limit_user: 100,
            rate_limit_admin: 1000,
            rate_limit_anonymous: 60,
            trusted_proxies: Vec::new(),
            dsagent_api_key: None,
            dsagent_require_api_key: false,
            dsagent_max_upload_mb: 50,
            kernel_enabled: true,
            kernel_sandbox: true,
            kernel_python_env: None,
            kernel_base_python: "python3.11".to_owned(),
            kernel_pool_size: 2,
            kernel_max: 32,
            kernel_idle_timeout_seconds: 1800,
            kernel_execution_timeout_seconds: 120,
            kernel_memory_mb: 4096,
            kernel_max_processes: 64,
            kernel_max_file_mb: 512,
            kernel_cpu_seconds: 3600,
            chart_bundle: None,
            llm: quarry_providers::LlmConfig::default(),
        }
    }
}

/// Settings given on the command line; `None` leaves the lower layers' value.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overrides {
    /// `--host`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `--port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// `--log-format`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

/// Keys the `QUARRY_*` environment may set (others, like `QUARRY_TEST_*`, are not settings).
const ENV_KEYS: [&str; 29] = [
    "host",
    "port",
    "data_dir",
    "database_url",
    "log_format",
    "log_level",
    "max_body_bytes",
    "shutdown_grace_seconds",
    "cors_origins",
    "allow_insecure_bind",
    "auth_required",
    "jwt_secret",
    "rate_limit_user",
    "rate_limit_admin",
    "rate_limit_anonymous",
    "trusted_proxies",
    "kernel_enabled",
    "kernel_sandbox",
    "kernel_python_env",
    "kernel_base_python",
    "kernel_pool_size",
    "kernel_max",
    "kernel_idle_timeout_seconds",
    "kernel_execution_timeout_seconds",
    "kernel_memory_mb",
    "kernel_max_processes",
    "kernel_max_file_mb",
    "kernel_cpu_seconds",
    "chart_bundle",
];

impl Config {
    /// Loads the layers. `file` is `--config`; without it `./quarry.toml` is read when present.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Self> {
        Self::figment(file, overrides)?
            .extract::<Self>()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))
            .and_then(Self::resolved)
    }

    fn figment(file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Figment> {
        let mut fig = Figment::from(Serialized::defaults(Self::default()));
        match file {
            Some(path) => {
                anyhow::ensure!(
                    path.is_file(),
                    "configuration file {} does not exist",
                    path.display()
                );
                fig = fig.merge(Toml::file_exact(path));
            }
            None if Path::new("quarry.toml").is_file() => {
                fig = fig.merge(Toml::file_exact("quarry.toml"));
            }
            None => {}
        }
        Ok(fig
            .merge(
                Env::raw()
                    .only(&[
                        "DATABASE_URL",
                        "DSAGENT_API_KEY",
                        "DSAGENT_REQUIRE_API_KEY",
                        "DSAGENT_MAX_UPLOAD_MB",
                    ])
                    .lowercase(true),
            )
            .merge(Env::prefixed("QUARRY_").only(&ENV_KEYS))
            .merge(Serialized::defaults(overrides)))
    }

    fn resolved(mut self) -> anyhow::Result<Self> {
        if self.data_dir.is_relative() {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            // `./quarry-data` becomes `<cwd>/quarry-data`, without a `.` in the middle.
            let relative: PathBuf = self
                .data_dir
                .components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .collect();
            self.data_dir = cwd.join(relative);
        }
        if let Some(url) = &self.database_url {
            anyhow::ensure!(
                url.starts_with("postgres://")
                    || url.starts_with("postgresql://")
                    || url.starts_with("sqlite:"),
                "database_url must start with postgres://, postgresql:// or sqlite:"
            );
        }
        anyhow::ensure!(self.max_body_bytes > 0, "max_body_bytes must be positive");
        if self
            .dsagent_api_key
            .as_deref()
            .is_some_and(|k| k.trim().is_empty())
        {
            self.dsagent_api_key = None;
        }
        anyhow::ensure!(
            !self.dsagent_require_api_key || self.dsagent_api_key.is_some(),
            "DSAGENT_REQUIRE_API_KEY is set but DSAGENT_API_KEY is not: set the key"
        );
        if self.jwt_secret.as_deref().is_some_and(|s| s.len() < 32) {
            anyhow::bail!("jwt_secret must be at least 32 bytes");
        }
        Ok(self)
    }

    /// The metadata store URL: `database_url`, or SQLite in the data directory.
    pub fn metadata_url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        let path = self.data_dir.join("quarry.db");
        let path = path
            .to_str()
            .context("the data directory path is not valid UTF-8")?;
        Ok(format!("sqlite://{path}"))
    }

    /// Whether every route but health, docs and login needs credentials: asked for, or
    /// implied by DSAgent's shared key.
    pub fn auth_enforced(&self) -> bool {
        self.auth_required || self.dsagent_api_key.is_some()
    }

    /// `sqlite` or `postgres`, for logs (the URL itself may hold a password).
    pub fn metadata_backend(&self) -> &'static str {
        match &self.database_url {
            Some(u) if u.starts_with("postgres") => "postgres",
            _ => "sqlite",
        }
    }
}

#[cfg(test)]
mod tests {
    // figment's Jail returns its large error type from every closure.
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]

    use figment::Jail;

    use super::*;

    #[test]
    fn layers_apply_in_order() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "quarry.toml",
                "port = 9001\nhost = \"127.0.0.2\"\nlog_level = \"debug\"",
            )?;
            jail.set_env("QUARRY_PORT", "9002");
            jail.set_env("QUARRY_TEST_SOMETHING", "ignored");
            jail.set_env("QUARRY_CHART_BUNDLE", "/opt/g2plot.min.js");
            let c = Config::load(None, Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(c.port, 9002, "env beats file");
            assert_eq!(c.host, "127.0.0.2", "file beats defaults");
            assert_eq!(c.log_level, "debug");
            assert_eq!(
                c.chart_bundle.as_deref(),
                Some(Path::new("/opt/g2plot.min.js"))
            );
            let c = Config::load(
                None,
                Overrides {
                    port: Some(9003),
                    ..Overrides::default()
                },
            )
            .map_err(|e| e.to_string())?;
            assert_eq!(c.port, 9003, "flags beat env");
            Ok(())
        });
    }

    #[test]
    fn database_url_env_selects_postgres_and_quarry_env_beats_it() {
        Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "postgres://u@h/db");
            let c = Config::load(None, Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(c.metadata_backend(), "postgres");
            assert_eq!(c.metadata_url().unwrap(), "postgres://u@h/db");
            jail.set_env("QUARRY_DATABASE_URL", "postgres://other@h/db");
            let c = Config::load(None, Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(c.metadata_url().unwrap(), "postgres://other@h/db");
            Ok(())
        });
    }

    #[test]
    fn defaults_use_sqlite_in_an_absolute_data_dir() {
        Jail::expect_with(|_| {
            let c = Config::load(None, Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 8000));
            assert!(c.data_dir.is_absolute());
            assert!(c.data_dir.ends_with("quarry-data"));
            assert!(!c.data_dir.to_string_lossy().contains("/./"), "{c:?}");
            assert!(c.metadata_url().unwrap().ends_with("quarry-data/quarry.db"));
            Ok(())
        });
    }

    #[test]
    fn dsagent_key_enforces_auth_and_debug_hides_secrets() {
        Jail::expect_with(|jail| {
            jail.set_env("DSAGENT_API_KEY", "my-secret-key");
            jail.set_env("QUARRY_JWT_SECRET", "0123456789abcdef0123456789abcdef");
            let c = Config::load(None, Overrides::default()).map_err(|e| e.to_string())?;
            assert!(c.auth_enforced());
            let shown = format!("{c:?}");
            assert!(!shown.contains("my-secret-key") && !shown.contains("0123456789abcdef"));
            jail.set_env("DSAGENT_API_KEY", "");
            jail.set_env("DSAGENT_REQUIRE_API_KEY", "true");
            assert!(Config::load(None, Overrides::default()).is_err());
            Ok(())
        });
    }

    #[test]
    fn the_llm_table_configures_providers_order_timeouts_and_prices() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "quarry.toml",
                "[llm]\norder = [\"local\"]\n[llm.timeouts]\nfirst_byte_ms = 1500\n\
                 [llm.providers.local]\nbase_url = \"http://127.0.0.1:1234/v1\"\nmodel = \"qwen\"\n\
                 [llm.pricing.qwen]\ninput = 1.0\noutput = 2.0\n",
            )?;
            let c = Config::load(None, Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(c.llm.timeouts.first_byte_ms, 1500);
            assert_eq!(c.llm.order, ["local"]);
            let specs = c.llm.specs(&|_| None).unwrap();
            assert_eq!(specs[0].name, "local");
            assert!((c.llm.pricing().cost("qwen", 1_000_000, 0) - 1.0).abs() < 1e-9);
            jail.create_file("quarry.toml", "[llm.timeouts]\nfirst_bite_ms = 1")?;
            assert!(Config::load(None, Overrides::default()).is_err());
            Ok(())
        });
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        Jail::expect_with(|jail| {
            jail.create_file("quarry.toml", "prot = 1")?;
            let err = Config::load(None, Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("prot"), "{err}");
            jail.create_file("quarry.toml", "database_url = \"mysql://x\"")?;
            assert!(Config::load(None, Overrides::default()).is_err());
            assert!(Config::load(Some(Path::new("missing.toml")), Overrides::default()).is_err());
            Ok(())
        });
    }
}
