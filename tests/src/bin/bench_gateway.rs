//! `bench-gateway`: the cost of quarry's provider gateway. Starts a fake OpenAI-compatible
//! vendor in this process and the quarry binary (`$QUARRY_BIN`) pointed at it, then measures
//! in the same run:
//!
//! 1. `POST /v1/chat` with `"stream": false` through quarry versus the same question sent
//!    straight to the fake, at concurrency 1 and 64 (p50, p99);
//! 2. time to the first streamed delta, through quarry and straight to the fake;
//! 3. a hung provider: time from the request to the first delta from the next provider,
//!    against the configured first-byte timeout.
//!
//! Prints a Markdown section on stdout. Traffic stays on 127.0.0.1; every loop is bounded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use quarry_providers::testing::{FakeVendor, Fault};
use quarry_tests::Server;
use serde_json::json;

const FIRST_BYTE_MS: u64 = 500;

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1000.0
}

/// Sends `total` requests with `concurrency` in flight; the latencies, sorted.
async fn load(
    http: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    total: usize,
    concurrency: usize,
) -> Vec<Duration> {
    let body = Arc::new(body.clone());
    let mut lat: Vec<Duration> = futures::stream::iter(0..total)
        .map(|_| {
            let http = http.clone();
            let url = url.to_owned();
            let body = body.clone();
            async move {
                let t = Instant::now();
                let resp = http.post(&url).json(&*body).send().await.unwrap();
                assert!(resp.status().is_success(), "{url}: {}", resp.status());
                let _ = resp.bytes().await.unwrap();
                t.elapsed()
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    lat.sort();
    lat
}

/// Time until the body contains `marker`.
async fn first(
    http: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    marker: &str,
) -> Duration {
    let t = Instant::now();
    let resp = http.post(url).json(body).send().await.unwrap();
    assert!(resp.status().is_success(), "{url}: {}", resp.status());
    let mut stream = resp.bytes_stream();
    let mut seen = String::new();
    while let Some(chunk) = stream.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        if seen.contains(marker) {
            return t.elapsed();
        }
    }
    panic!("{url}: no {marker} in {seen}");
}

fn clear_env() -> Vec<(&'static str, &'static str)> {
    [
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "XAI_API_KEY",
        "OPENROUTER_API_KEY",
        "GROQ_API_KEY",
        "AWS_ACCESS_KEY_ID",
        "OLLAMA_HOST",
    ]
    .iter()
    .map(|k| (*k, ""))
    .collect()
}

#[tokio::main]
async fn main() {
    let fake = FakeVendor::start().await;
    let dir = tempfile::tempdir().unwrap();
    let base = fake.openai_url();
    let mut env = clear_env();
    env.extend([
        ("OPENAI_BASE_URL", base.as_str()),
        ("OPENAI_API_KEY", "bench"),
        ("QUARRY_RATE_LIMIT_ADMIN", "100000000"),
        ("QUARRY_RATE_LIMIT_USER", "100000000"),
    ]);
    let server = Server::start_in(dir.path(), &[], &env);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let via = server.url("/v1/chat");
    let direct = format!("{base}/chat/completions");
    let q_body = json!({"message": "How many orders last week?", "stream": false});
    let d_body = json!({"model": "gpt-4o-mini", "stream": false,
        "messages": [{"role": "user", "content": "How many orders last week?"}]});

    // Warm both paths (connections, caches).
    load(&http, &via, &q_body, 500, 16).await;
    load(&http, &direct, &d_body, 500, 16).await;

    let mut rows = Vec::new();
    for (concurrency, total) in [(1usize, 2000usize), (64, 10_000)] {
        let d = load(&http, &direct, &d_body, total, concurrency).await;
        let q = load(&http, &via, &q_body, total, concurrency).await;
        rows.push((concurrency, total, d, q));
    }

    let s_direct = json!({"model": "gpt-4o-mini", "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});
    let s_via = json!({"message": "hi"});
    let mut ttfd_d = Vec::new();
    let mut ttfd_q = Vec::new();
    for _ in 0..300 {
        ttfd_d.push(first(&http, &direct, &s_direct, "\"content\"").await);
        ttfd_q.push(first(&http, &via, &s_via, "assistant_delta").await);
    }
    ttfd_d.sort();
    ttfd_q.sort();
    drop(server);

    // A hung first provider: every request waits the first-byte timeout, then the next
    // provider answers. The breaker is kept closed so every sample pays the timeout.
    let hung = FakeVendor::start().await;
    hung.set_fault(Fault::HangBeforeHeaders);
    let next = FakeVendor::start().await;
    let dir2 = tempfile::tempdir().unwrap();
    let cfg = dir2.path().join("bench.toml");
    std::fs::write(
        &cfg,
        format!(
            "[llm]\nbreaker_failures = 1000000\n[llm.timeouts]\nfirst_byte_ms = {FIRST_BYTE_MS}\n"
        ),
    )
    .unwrap();
    let (h, n) = (hung.openai_url(), next.url());
    let mut env = clear_env();
    env.extend([
        ("OPENAI_BASE_URL", h.as_str()),
        ("OPENAI_API_KEY", "bench"),
        ("ANTHROPIC_BASE_URL", n.as_str()),
        ("ANTHROPIC_API_KEY", "bench"),
        ("QUARRY_PROVIDER_ORDER", "openai,anthropic"),
    ]);
    let cfg_arg = cfg.to_str().unwrap().to_owned();
    let server = Server::start_in(dir2.path(), &["--config", &cfg_arg], &env);
    let via = server.url("/v1/chat");
    let mut hang = Vec::new();
    for _ in 0..20 {
        hang.push(first(&http, &via, &s_via, "assistant_delta").await);
    }
    hang.sort();
    drop(server);

    println!(
        "| request | concurrency | requests | direct p50 (ms) | quarry p50 (ms) | direct p99 (ms) | quarry p99 (ms) | added p50 (ms) | added p99 (ms) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (c, total, d, q) in &rows {
        let (dp50, qp50, dp99, qp99) = (pct(d, 0.5), pct(q, 0.5), pct(d, 0.99), pct(q, 0.99));
        println!(
            "| `POST /v1/chat` `\"stream\": false` | {c} | {total} | {dp50:.3} | {qp50:.3} | {dp99:.3} | {qp99:.3} | {:.3} | {:.3} |",
            qp50 - dp50,
            qp99 - dp99
        );
    }
    println!();
    println!(
        "| measure | direct p50 (ms) | quarry p50 (ms) | direct p99 (ms) | quarry p99 (ms) | added p50 (ms) | added p99 (ms) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let (a, b, c, d) = (
        pct(&ttfd_d, 0.5),
        pct(&ttfd_q, 0.5),
        pct(&ttfd_d, 0.99),
        pct(&ttfd_q, 0.99),
    );
    println!(
        "| time to first delta, streaming (300 sequential) | {a:.3} | {b:.3} | {c:.3} | {d:.3} | {:.3} | {:.3} |",
        b - a,
        d - c
    );
    println!();
    println!(
        "| measure | first-byte timeout (ms) | p50 (ms) | max (ms) | beyond the timeout, p50 / max (ms) |"
    );
    println!("|---|---:|---:|---:|---:|");
    let (p50, max) = (pct(&hang, 0.5), pct(&hang, 1.0));
    println!(
        "| hung provider → first delta from the next (20 sequential) | {FIRST_BYTE_MS} | {p50:.1} | {max:.1} | {:.1} / {:.1} |",
        p50 - FIRST_BYTE_MS as f64,
        max - FIRST_BYTE_MS as f64
    );
}
