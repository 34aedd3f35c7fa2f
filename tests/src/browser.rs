//! Headless Chromium (Debian's `chromium`) driven over the DevTools protocol, for tests that
//! must see a page as a browser does: console errors, drawn pixels, injected scripts.

use std::{
    io::{BufRead, BufReader},
    net::TcpStream,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

/// A running headless Chromium with one page attached.
#[derive(Debug)]
pub struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    /// Every event received so far.
    pub events: Vec<Value>,
}

/// How long one DevTools call may take before the test fails.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

impl Browser {
    /// Starts Chromium, or `None` (after saying so loudly) when it is not installed and CI is
    /// not set; under CI a missing Chromium fails the test.
    pub fn launch() -> Option<Self> {
        let bin = ["chromium", "chromium-browser"].into_iter().find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
        let Some(bin) = bin else {
            assert!(
                std::env::var_os("CI").is_none(),
                "Chromium is not installed (scripts/test installs the Debian package chromium)"
            );
            eprintln!("SKIPPED: Chromium is not installed; run scripts/test to install it");
            return None;
        };
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--remote-debugging-port=0",
                "--window-size=1200,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(CALL_TIMEOUT)
            .expect("Chromium did not print its DevTools address");
        let (ws, _) = tungstenite::connect(url.as_str()).unwrap();
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        let mut b = Self {
            child,
            _profile: profile,
            ws,
            session: String::new(),
            next_id: 0,
            events: Vec::new(),
        };
        let target = b.call("Target.createTarget", json!({ "url": "about:blank" }));
        let attached = b.call(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_owned();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            b.call(domain, json!({}));
        }
        Some(b)
    }

    /// Sends one command (to the page once attached) and returns its result.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws.send(Message::text(msg.to_string())).unwrap();
        let start = Instant::now();
        loop {
            assert!(
                start.elapsed() < CALL_TIMEOUT,
                "{method}: no answer from Chromium"
            );
            let frame = match self.ws.read() {
                Ok(Message::Text(t)) => t,
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue;
                }
                Err(e) => panic!("{method}: {e}"),
            };
            let v: Value = serde_json::from_str(frame.as_str()).unwrap();
            if v["id"] == json!(id) {
                assert!(v.get("error").is_none(), "{method} failed: {v}");
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    /// Evaluates `expression` in the page and returns its value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    /// Loads `url` and waits until `document.body.dataset.chartState` leaves `loading`;
    /// returns that state (`ready`, `fallback`) or `timeout`.
    pub fn open_chart(&mut self, url: &str) -> String {
        self.call("Page.navigate", json!({ "url": url }));
        for _ in 0..300 {
            let state = self.eval(
                "document.readyState === 'complete' && document.body \
                 ? (document.body.dataset.chartState || 'none') : 'loading'",
            );
            match state.as_str() {
                Some("loading") | None => std::thread::sleep(Duration::from_millis(100)),
                Some(s) => return s.to_owned(),
            }
        }
        "timeout".into()
    }

    /// Console errors, uncaught exceptions and failed loads seen so far.
    pub fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| {
                let p = &e["params"];
                match e["method"].as_str()? {
                    "Runtime.exceptionThrown" => Some(p["exceptionDetails"].to_string()),
                    "Runtime.consoleAPICalled" if p["type"] == "error" => {
                        Some(p["args"].to_string())
                    }
                    "Log.entryAdded" if p["entry"]["level"] == "error" => {
                        Some(p["entry"].to_string())
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// Pixels of the chart's canvas that are not blank (transparent or near white).
    pub fn inked_canvas_pixels(&mut self) -> i64 {
        self.eval(
            "(() => { const c = document.querySelector('#chart canvas'); if (!c) return -1; \
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0; \
             for (let i = 0; i < d.length; i += 4) { \
               if (d[i + 3] > 0 && (d[i] < 235 || d[i + 1] < 235 || d[i + 2] < 235)) n++; } \
             return n; })()",
        )
        .as_i64()
        .unwrap_or(-1)
    }

    /// Moves the mouse across the middle of the chart (to raise tooltips).
    pub fn hover_chart(&mut self) {
        let rect = self.eval(
            "(() => { const r = document.getElementById('chart').getBoundingClientRect(); \
             return [r.left, r.top, r.width, r.height]; })()",
        );
        let r: Vec<f64> = rect
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        for i in 1..20 {
            for j in [0.3, 0.5, 0.7] {
                let x = r[0] + r[2] * f64::from(i) / 20.0;
                let y = r[1] + r[3] * j;
                self.call(
                    "Input.dispatchMouseEvent",
                    json!({ "type": "mouseMoved", "x": x, "y": y }),
                );
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
