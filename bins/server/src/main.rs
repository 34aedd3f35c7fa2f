//! `quarry`: the server binary. `quarry serve` runs the HTTP API; `quarry migrate` brings the
//! metadata store's schema up to date. A thin main over [`quarry_server::ServerBuilder`].

// Request handling allocates many small strings; mimalloc keeps that cheap under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    quarry_server::ServerBuilder::new().main()
}
