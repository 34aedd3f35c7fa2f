//! The server's own secrets: the JWT signing key, from configuration or generated once into
//! `<data dir>/secrets/jwt.key` (mode 0600), and the authenticator built on it.

use std::{path::Path, sync::Arc};

use anyhow::Context;
use quarry_auth::{AuthConfig, Authenticator, JwtKeys};
use quarry_core::{AuthStore, SecretBox};

use crate::config::Config;

/// The JWT signing secret: configured, or read from (or first written to) the data dir.
pub fn jwt_secret(config: &Config) -> anyhow::Result<String> {
    if let Some(s) = &config.jwt_secret {
        return Ok(s.clone());
    }
    let dir = config.data_dir.join("secrets");
    let path = dir.join("jwt.key");
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => return Ok(s.trim().to_owned()),
        Ok(_) => anyhow::bail!("{} is too short (32+ bytes needed)", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let secret = quarry_auth::secret::random_token("");
    write_private(&path, &secret)?;
    tracing::info!(path = %path.display(), "generated the JWT signing key");
    Ok(secret)
}

fn write_private(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(content.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// The one-time token first-boot setup needs while authentication is required: written to
/// `<data dir>/secrets/setup-token` (mode 0600, new at every start), so only someone who can
/// read the server's files can claim the first admin account.
fn setup_token(config: &Config) -> anyhow::Result<Option<String>> {
    if !config.auth_enforced() {
        return Ok(None);
    }
    let dir = config.data_dir.join("secrets");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("setup-token");
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot replace {}", path.display())),
    }
    let token = quarry_auth::secret::random_token("qst_");
    write_private(&path, &token)?;
    Ok(Some(token))
}

/// The key that seals secrets at rest (provider API keys, database credentials): read from
/// (or first written to) `<data dir>/secrets/data.key` as 64 hex digits, mode 0600. Losing
/// this file makes stored secrets unreadable; back it up with the database.
pub fn data_box(config: &Config) -> anyhow::Result<SecretBox> {
    let dir = config.data_dir.join("secrets");
    let path = dir.join("data.key");
    match std::fs::read_to_string(&path) {
        Ok(s) => {
            let bytes = hex::decode(s.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .with_context(|| format!("{} must hold 64 hex digits", path.display()))?;
            return Ok(SecretBox::new(&bytes));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let key = SecretBox::generate_key();
    write_private(&path, &hex::encode(key))?;
    tracing::info!(path = %path.display(), "generated the key that seals stored secrets");
    Ok(SecretBox::new(&key))
}

/// The authenticator the server uses for `config` over `store`.
pub fn authenticator(config: &Config, store: Arc<dyn AuthStore>) -> anyhow::Result<Authenticator> {
    let keys = JwtKeys::new(jwt_secret(config)?.as_bytes(), "quarry")?;
    Ok(Authenticator::new(
        store,
        keys,
        AuthConfig {
            static_api_key: config.dsagent_api_key.clone(),
            setup_token: setup_token(config)?,
            ..AuthConfig::default()
        },
    ))
}

/// An authenticator for command-line tools (no setup token).
pub fn cli_authenticator(
    config: &Config,
    store: Arc<dyn AuthStore>,
) -> anyhow::Result<Authenticator> {
    let keys = JwtKeys::new(jwt_secret(config)?.as_bytes(), "quarry")?;
    Ok(Authenticator::new(store, keys, AuthConfig::default()))
}
