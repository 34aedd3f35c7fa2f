//! End-to-end tests: each starts the real `quarry` binary and speaks HTTP to it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod artifacts;
mod auth;
mod charts;
mod cli;
mod crash;
mod data;
mod dsagent;
mod errors;
mod health;
mod kernel;
mod layers;
mod nl2sql;
mod providers;
mod sessions;
mod shutdown;

use quarry_tests::Server;

/// A server with a fresh data directory (kept alive as long as the returned guard).
pub fn fresh_server() -> (tempfile::TempDir, Server) {
    fresh_server_with(&[], &[])
}

/// The same with extra CLI args and env.
pub fn fresh_server_with(args: &[&str], env: &[(&str, &str)]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), args, env);
    (dir, server)
}
