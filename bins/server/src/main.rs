//! `quarry`: the server binary. `quarry serve` runs the HTTP API; `quarry migrate` brings the
//! metadata store's schema up to date. Configuration is layered: defaults < `quarry.toml` <
//! `QUARRY_*` environment < command-line flags.

mod cli;
mod config;
mod data;
mod logging;
mod secrets;
mod serve;

use clap::Parser;

// Request handling allocates many small strings; mimalloc keeps that cheap under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| {
            let result = rt.block_on(cli::run(cli));
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
