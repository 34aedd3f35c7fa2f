//! The chart page's JavaScript at setup: `quarry setup` installs the pinned AntV G2Plot bundle
//! with `npm ci` in the `web/` folder of the checkout quarry was built from, when that is where
//! the bundle is expected and it is missing (what `scripts/setup-web` does by hand).

use std::{path::Path, time::Duration};

use anyhow::Context;

use crate::config::Config;

/// Longest `npm ci` quarry waits for.
const NPM_TIMEOUT: Duration = Duration::from_secs(600);

/// Installs the G2Plot bundle when it is missing and quarry knows how; says what it did.
pub async fn setup(config: &Config, say: impl Fn(&str)) -> anyhow::Result<()> {
    let bundle = config
        .chart_bundle
        .clone()
        .unwrap_or_else(|| quarry_api::ApiConfig::for_data_dir(&config.data_dir).chart_bundle);
    if bundle.is_file() {
        say(&format!("the G2Plot bundle is at {}", bundle.display()));
        return Ok(());
    }
    let Some(web) = web_dir_of(&bundle) else {
        say(&format!(
            "the G2Plot bundle is missing at {}: charts stay static until it is there \
             (set chart_bundle to a g2plot.min.js)",
            bundle.display()
        ));
        return Ok(());
    };
    say(&format!(
        "installing the G2Plot bundle: npm ci in {}",
        web.display()
    ));
    let run = tokio::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&web)
        .kill_on_drop(true)
        .status();
    let status = tokio::time::timeout(NPM_TIMEOUT, run)
        .await
        .context("npm ci took longer than 10 minutes")?
        .context("cannot run npm: install Node.js and npm (Debian: apt-get install nodejs npm)")?;
    anyhow::ensure!(status.success(), "npm ci failed in {}", web.display());
    let lock = web.join("package-lock.json");
    // The marker scripts/setup-web uses to skip an up-to-date install.
    let _ = std::fs::copy(&lock, web.join("node_modules").join(".quarry-lock"));
    anyhow::ensure!(
        bundle.is_file(),
        "npm ci finished but {} is still missing",
        bundle.display()
    );
    say("the G2Plot bundle is installed");
    Ok(())
}

/// The `web/` folder (with its lockfile) the bundle path lies under, if it does.
fn web_dir_of(bundle: &Path) -> Option<std::path::PathBuf> {
    let web = bundle
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "node_modules"))?
        .parent()?
        .to_path_buf();
    web.join("package-lock.json").is_file().then_some(web)
}
