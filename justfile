# quarry's everyday commands. `just --list` shows them.

# Start the server on the embedded defaults (SQLite + data in ./quarry-data), 127.0.0.1:8000.
serve *ARGS:
    cargo run --release -p quarry-server -- serve {{ARGS}}

# Install the G2Plot bundle for interactive charts (npm ci of web/package-lock.json).
setup-web:
    scripts/setup-web

# Install what the tests need and run the whole suite.
test *ARGS:
    scripts/test {{ARGS}}

# Everything CI runs: fmt, clippy, cargo-deny, the suite.
ci:
    bash .ci/run

# Lints only.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo deny check bans licenses sources

# Format the code.
fmt:
    cargo fmt --all

# HTTP benchmarks against a hello-world baseline; writes docs/benchmarks.md.
bench:
    scripts/bench
