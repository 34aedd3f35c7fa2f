//! What every HTTP wire format shares: the client, turning an HTTP answer into an
//! [`LlmError`], and turning a byte stream into events through a [`Decoder`].

use std::{collections::VecDeque, time::Duration};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use quarry_core::{ChatEvent, ChatStream, LlmError};

/// Largest single line (SSE field, NDJSON record) or frame accepted from a provider.
pub(crate) const MAX_LINE: usize = 4 * 1024 * 1024;

/// The HTTP client a provider uses: its connect timeout set, no overall timeout (the gateway
/// enforces first-byte, idle and total timeouts on the stream).
pub(crate) fn client(connect_timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_default()
}

/// Sends `req`, mapping transport failures and error statuses to [`LlmError`].
pub(crate) async fn send(
    provider: &str,
    req: reqwest::RequestBuilder,
) -> Result<reqwest::Response, LlmError> {
    let resp = req
        .send()
        .await
        .map_err(|e| transport_error(provider, &e))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    // The error body is small; read at most a little of it, and never wait long for it.
    let body = tokio::time::timeout(Duration::from_secs(2), resp.bytes())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    Err(status_error(provider, status.as_u16(), retry_after, &body))
}

/// The [`LlmError`] for an error status and its body.
pub(crate) fn status_error(
    provider: &str,
    status: u16,
    retry_after_secs: Option<u64>,
    body: &[u8],
) -> LlmError {
    let message = error_message(body);
    match status {
        429 => LlmError::RateLimited {
            provider: provider.to_owned(),
            retry_after_secs,
        },
        401 | 403 => LlmError::NotConfigured {
            provider: provider.to_owned(),
            message: format!("HTTP {status}: {message}"),
        },
        400..=499 if status != 408 && status != 409 => LlmError::InvalidRequest {
            provider: provider.to_owned(),
            message: format!("HTTP {status}: {message}"),
        },
        _ => LlmError::Status {
            provider: provider.to_owned(),
            status,
            message,
        },
    }
}

/// The vendor's error message from a JSON error body (`{"error":{"message"}}`,
/// `{"error":"…"}`, `{"message":"…"}`), or the start of the body.
fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let found = v["error"]["message"]
            .as_str()
            .or_else(|| v["error"].as_str())
            .or_else(|| v["message"].as_str())
            .or_else(|| v["Message"].as_str());
        if let Some(m) = found {
            return truncate(m);
        }
    }
    truncate(&String::from_utf8_lossy(body))
}

fn truncate(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// A transport failure before or while reading the answer.
pub(crate) fn transport_error(provider: &str, e: &reqwest::Error) -> LlmError {
    if e.is_timeout() {
        return LlmError::Timeout {
            provider: provider.to_owned(),
            stage: "connect".to_owned(),
        };
    }
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message = format!("{message}: {s}");
        source = s.source();
    }
    LlmError::Connect {
        provider: provider.to_owned(),
        message,
    }
}

/// A malformed-answer error.
pub(crate) fn malformed(provider: &str, message: impl Into<String>) -> LlmError {
    LlmError::Malformed {
        provider: provider.to_owned(),
        message: message.into(),
    }
}

/// Turns a wire format's bytes into events.
pub(crate) trait Decoder: Send + 'static {
    /// Consumes the next bytes, pushing the events they complete.
    fn feed(&mut self, chunk: &[u8], out: &mut VecDeque<ChatEvent>) -> Result<(), LlmError>;
    /// The body ended: push what remains, or fail if the answer is incomplete.
    fn finish(&mut self, out: &mut VecDeque<ChatEvent>) -> Result<(), LlmError>;
}

struct DecodeState<S, D> {
    provider: String,
    body: S,
    decoder: D,
    out: VecDeque<ChatEvent>,
    done: bool,
}

/// The event stream of `resp` read through `decoder`. Ends after [`ChatEvent::Finish`] or
/// the first error; dropping it drops the connection.
pub(crate) fn decode(provider: &str, resp: reqwest::Response, decoder: impl Decoder) -> ChatStream {
    decode_bytes(provider, resp.bytes_stream(), decoder)
}

pub(crate) fn decode_bytes<S>(provider: &str, body: S, decoder: impl Decoder) -> ChatStream
where
    S: Stream<Item = Result<Bytes, reqwest::Error>> + Send + Unpin + 'static,
{
    let state = DecodeState {
        provider: provider.to_owned(),
        body,
        decoder,
        out: VecDeque::new(),
        done: false,
    };
    Box::pin(futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(ev) = s.out.pop_front() {
                if matches!(ev, ChatEvent::Finish { .. }) {
                    s.done = true;
                    s.out.clear();
                }
                return Some((Ok(ev), s));
            }
            if s.done {
                return None;
            }
            let step = match s.body.next().await {
                Some(Ok(chunk)) => s.decoder.feed(&chunk, &mut s.out),
                Some(Err(e)) => Err(LlmError::Connect {
                    provider: s.provider.clone(),
                    message: format!("stream interrupted: {}", transport_error("", &e))
                        .replace(": cannot connect: ", ""),
                }),
                None => {
                    let r = s.decoder.finish(&mut s.out);
                    if r.is_ok() && !s.out.iter().any(|e| matches!(e, ChatEvent::Finish { .. })) {
                        Err(malformed(
                            &s.provider,
                            "the stream ended before the answer was complete",
                        ))
                    } else {
                        r
                    }
                }
            };
            if let Err(e) = step {
                s.done = true;
                s.out.clear();
                return Some((Err(e), s));
            }
        }
    }))
}

/// Splits bytes into lines (`\n`, optional `\r`), bounded by [`MAX_LINE`].
#[derive(Debug, Default)]
pub(crate) struct Lines {
    buf: Vec<u8>,
}

impl Lines {
    /// Appends `chunk` and calls `each` on every complete line.
    pub(crate) fn feed(
        &mut self,
        provider: &str,
        chunk: &[u8],
        mut each: impl FnMut(&str) -> Result<(), LlmError>,
    ) -> Result<(), LlmError> {
        self.buf.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|b| *b == b'\n') {
            let end = start + pos;
            let line = &self.buf[start..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let text = std::str::from_utf8(line)
                .map_err(|_| malformed(provider, "a line of the stream is not UTF-8"))?;
            each(text)?;
            start = end + 1;
        }
        self.buf.drain(..start);
        if self.buf.len() > MAX_LINE {
            return Err(malformed(provider, "a line of the stream is too long"));
        }
        Ok(())
    }

    /// The unterminated rest, if any.
    pub(crate) fn rest(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buf);
        let text = String::from_utf8_lossy(&rest).trim().to_owned();
        (!text.is_empty()).then_some(text)
    }
}

/// Parses one JSON payload of a stream.
pub(crate) fn json(provider: &str, text: &str) -> Result<serde_json::Value, LlmError> {
    serde_json::from_str(text).map_err(|e| {
        malformed(
            provider,
            format!("invalid JSON in the stream ({e}): {}", truncate(text)),
        )
    })
}

/// Joins a base URL and a path with exactly one slash.
pub(crate) fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// Parses assembled tool-call arguments (an empty string is `{}`).
pub(crate) fn arguments(provider: &str, raw: &str) -> Result<serde_json::Value, LlmError> {
    if raw.trim().is_empty() {
        return Ok(serde_json::json!({}));
    }
    serde_json::from_str(raw)
        .map_err(|e| malformed(provider, format!("tool call arguments are not JSON: {e}")))
}

/// A fresh id for a tool call whose provider gives none.
pub(crate) fn call_id() -> String {
    format!("call_{:016x}", rand::random::<u64>())
}
