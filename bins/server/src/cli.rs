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
    /// Create the Python environment kernels run in (`<data dir>/python`) and check the
    /// sandbox, showing progress; `serve` does it on first use otherwise.
    Setup(CommonArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user. The password is read from standard input with --password-stdin.
    Create {
        #[command(flatten)]
        common: CommonArgs,
        /// Login name.
        #[arg(long)]
        username: String,
        /// `admin` or `member`.
        #[arg(long, default_value = "member")]
        role: String,
        /// Tenant of the user.
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Contact address.
        #[arg(long)]
        email: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Create the first admin, who may act for every tenant (only while no user exists).
        #[arg(long)]
        first_admin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Create an API key for a user and print it (shown this once).
    Create {
        #[command(flatten)]
        common: CommonArgs,
        /// The user the key acts as.
        #[arg(long)]
        username: String,
        /// A label for the key.
        #[arg(long, default_value = "cli")]
        name: String,
    },
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
pub async fn run(cli: Cli, builder: crate::ServerBuilder) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let overrides = Overrides {
                host: args.host,
                port: args.port,
                ..args.common.overrides()
            };
            let config = Config::load(args.common.config.as_deref(), overrides)?;
            crate::logging::init(&config)?;
            crate::serve::serve(config, builder).await
        }
        Command::User(UserCommand::Create {
            common,
            username,
            role,
            tenant,
            email,
            password_stdin,
            first_admin,
        }) => {
            let auth = open_auth(&common).await?;
            let role = quarry_core::UserRole::parse(&role)
                .ok_or_else(|| anyhow::anyhow!("--role must be admin or member"))?;
            let tenant = quarry_core::TenantId::parse(&tenant)?;
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                Some(line.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                None
            };
            let mut user = auth
                .new_user(tenant, &username, password, email, role)
                .await?;
            if first_admin {
                anyhow::ensure!(
                    user.role == quarry_core::UserRole::Admin,
                    "--first-admin needs --role admin"
                );
                user.can_act_for_tenants = true;
                anyhow::ensure!(
                    auth.store().create_first_user(&user).await?,
                    "users exist already: the first admin was created before"
                );
            } else {
                auth.store().create_user(&user).await?;
            }
            say(&format!(
                "created {} user {} ({}) in tenant {}",
                user.role.as_str(),
                user.username,
                user.id,
                user.tenant_id
            ))
        }
        Command::Key(KeyCommand::Create {
            common,
            username,
            name,
        }) => {
            let auth = open_auth(&common).await?;
            let name_lower = username.trim().to_lowercase();
            let user = auth
                .store()
                .find_user_by_username(&name_lower)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user named {username}"))?;
            let issued = auth.create_api_key(&user, &name).await?;
            say(&issued.secret)
        }
        Command::Setup(args) => {
            let config = Config::load(args.config.as_deref(), args.overrides())?;
            crate::kernels::setup(&config, |line| {
                let _ = say(line);
            })
            .await?;
            crate::web::setup(&config, |line| {
                let _ = say(line);
            })
            .await?;
            say("setup complete")
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

/// Opens the auth store of the configured data dir (a running server may share it).
async fn open_auth(common: &CommonArgs) -> anyhow::Result<quarry_auth::Authenticator> {
    let config = Config::load(common.config.as_deref(), common.overrides())?;
    std::fs::create_dir_all(&config.data_dir)?;
    let stores = quarry_store::connect_stores(
        &config.metadata_url()?,
        quarry_store::MetadataOptions::default(),
    )
    .await?;
    crate::secrets::cli_authenticator(&config, stores.auth)
}

/// Writes one line of command output to stdout.
fn say(line: &str) -> anyhow::Result<()> {
    use std::io::Write;
    writeln!(std::io::stdout().lock(), "{line}")?;
    Ok(())
}
