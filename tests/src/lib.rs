//! Shared helpers for quarry's end-to-end tests: start the real `quarry` binary on a free
//! port with its own data directory, wait until it answers, and stop or kill it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod browser;

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    time::Duration,
};

/// The `quarry` binary under test: `$QUARRY_BIN`, or the one beside this test executable.
/// `cargo test` does not rebuild it (it belongs to another package): `scripts/test` builds
/// it first, so run the suite through that.
pub fn quarry_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("QUARRY_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/e2e-<hash> → target/<profile>/quarry
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let bin = profile_dir.join("quarry");
    assert!(
        bin.exists(),
        "{} not found: build it first with `cargo build -p quarry-server` (scripts/test does)",
        bin.display()
    );
    bin
}

/// A running `quarry serve`.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts a server on a free port with `data_dir`, extra CLI args and env vars.
    pub fn start_in(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(quarry_bin());
        cmd.arg("serve")
            .arg("--port")
            .arg("0")
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env_remove("DATABASE_URL")
            .env("QUARRY_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .current_dir(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // A developer's own QUARRY_* settings must not leak into the server under test.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("QUARRY_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("QUARRY_LOG_FORMAT", "json");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn quarry");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = listening_address(&line)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr);
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "quarry did not start within 60 s; its log:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        Self {
            child,
            base: format!("http://{addr}"),
            data_dir: data_dir.to_path_buf(),
            log,
        }
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Sends `signal` and waits for exit, returning the exit status.
    pub fn signal_and_wait(&mut self, signal: i32) -> std::process::ExitStatus {
        let _ = send_signal(self.child.id(), signal);
        self.child.wait().expect("wait for quarry")
    }

    /// Waits for the process to exit on its own (at most `timeout`).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a Unix signal to a process, through the `kill` command so this crate needs no
/// unsafe code.
pub fn send_signal(pid: u32, signal: i32) -> std::io::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "kill -{signal} {pid} failed"
        )))
    }
}

/// Parses the address from the JSON log line quarry writes when it starts listening.
fn listening_address(line: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let msg = v.get("message")?.as_str()?;
    if !msg.starts_with("quarry listening on") {
        return None;
    }
    v.get("address")?.as_str().map(str::to_owned)
}

/// An HTTP client with a timeout, for tests.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

/// Asserts the error shape every surface uses and returns the code.
pub fn assert_error_shape(body: &serde_json::Value) -> String {
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.code in {body}"));
    assert!(
        code.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
        "code {code} is not UPPER_SNAKE"
    );
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"]["details"].is_object(), "{body}");
    assert_eq!(body["detail"], body["error"]["message"], "{body}");
    code.to_owned()
}

/// SIGKILL.
pub const SIGKILL: i32 = 9;
/// SIGTERM.
pub const SIGTERM: i32 = 15;
/// SIGINT.
pub const SIGINT: i32 = 2;

/// `GET url`, expecting a JSON body (any status).
pub async fn get_json(http: &reqwest::Client, url: impl reqwest::IntoUrl) -> serde_json::Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

/// `method url` with a JSON body, expecting a JSON body back (any status).
pub async fn send_json(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: impl reqwest::IntoUrl,
    body: &serde_json::Value,
) -> serde_json::Value {
    http.request(method, url)
        .json(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}
