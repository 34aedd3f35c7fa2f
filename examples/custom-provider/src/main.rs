//! `quarry-echo`: the quarry server with [`EchoProvider`] registered. It takes the same
//! command line as `quarry` (`quarry-echo serve --port 8000`); the echo provider comes first
//! in the failover order, before any provider the environment configures.

use std::sync::Arc;

use quarry_example_custom_provider::EchoProvider;

fn main() -> std::process::ExitCode {
    quarry_server::ServerBuilder::new()
        .provider(Arc::new(EchoProvider))
        .main()
}
