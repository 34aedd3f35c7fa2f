//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, LogFormat, Overrides};

/// quarry: a self-hosted AI data analyst.
#[derive(Debug, Parser)]
#[command(name = "quarry", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the HTTP server (default 127.0.0.1:8000).
    Serve(ServeArgs),
    /// Create or update the metadata store's schema, then exit.
    Migrate(CommonArgs),
}

#[derive(Debug, Args)]
struct CommonArgs {
    /// Configuration file (default: ./quarry.toml when it exists).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Directory for the metadata database, artifacts and workspaces.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Metadata store URL (`sqlite://…` or `postgres://…`); overrides DATABASE_URL.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Log format.
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Address to bind.
    #[arg(long)]
    host: Option<String>,
    /// Port to bind.
    #[arg(long)]
    port: Option<u16>,
}

impl CommonArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            log_format: self.log_format,
            ..Overrides::default()
        }
    }
}

/// Runs the chosen command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let overrides = Overrides {
                host: args.host,
                port: args.port,
                ..args.common.overrides()
            };
            let config = Config::load(args.common.config.as_deref(), overrides)?;
            crate::logging::init(&config)?;
            crate::serve::serve(config).await
        }
        Command::Migrate(args) => {
            let config = Config::load(args.config.as_deref(), args.overrides())?;
            crate::logging::init(&config)?;
            let url = config.metadata_url()?;
            quarry_store::migrate(&url).await?;
            tracing::info!(backend = %config.metadata_backend(), "metadata store is up to date");
            Ok(())
        }
    }
}
