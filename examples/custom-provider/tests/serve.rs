//! The example server answers `POST /v1/chat` with the custom provider.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

#[tokio::test]
async fn the_custom_provider_answers_v1_chat() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_quarry-echo"));
    cmd.args(["serve", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .current_dir(dir.path())
        .env("QUARRY_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // No vendor configured: the echo provider is the only one.
    for (k, _) in std::env::vars() {
        if k.ends_with("_API_KEY") || k.ends_with("_BASE_URL") || k.starts_with("QUARRY_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("QUARRY_LOG_FORMAT", "json");
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("quarry listening on http://").nth(1) {
                let addr: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("server started");
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("http://{addr}/v1/chat"))
        .json(&serde_json::json!({"message": "hello custom world", "stream": false}))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["text"], "echo: hello custom world");
    assert_eq!(body["provider"], "echo");
    assert_eq!(body["model"], "echo-1");
}
