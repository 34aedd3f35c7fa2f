//! The baseline for `just bench`: the smallest axum server that answers `GET /health`, built
//! with the same profile, runtime and HTTP stack as quarry, so the ratio measures quarry's own
//! cost. Usage: `quarry-bench-hello [ADDR]` (default `127.0.0.1:8100`).

use axum::{Router, routing::get};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8100".to_owned());
    let app = Router::new().route("/health", get(|| async { "Hello, World!" }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
