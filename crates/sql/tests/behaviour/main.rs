//! Behaviour of quarry-sql against real databases: SQLite always, PostgreSQL and MariaDB
//! when they run (on CI they must).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod agent;
mod analyst;
mod engines;
