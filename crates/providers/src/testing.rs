//! Local fake vendors for tests and benchmarks (feature `testing`): one HTTP/1.1 server on
//! loopback that speaks every wire format quarry implements, chosen by path —
//! OpenAI `POST /v1/chat/completions`, Anthropic `POST /v1/messages`, Gemini
//! `POST /v1beta/models/{m}:streamGenerateContent`, Ollama `POST /api/chat`, Bedrock
//! `POST /model/{id}/converse-stream` — and injects faults on demand: hang before headers,
//! hang mid-stream, connection reset mid-stream, 429 with `Retry-After`, 500, a garbage
//! chunk, truncated JSON.
//!
//! The server is written on raw TCP so that faults are real: a hang is a socket that never
//! answers, a reset is an RST. It notices when the client closes a connection it is still
//! streaming to ([`FakeVendor::closed_early`]), which proves cancellation reaches upstream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// What the fake does with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answers normally.
    None,
    /// Reads the request and never answers (until the client gives up).
    HangBeforeHeaders,
    /// Sends the headers and the first event, then goes silent.
    HangMidStream,
    /// Sends the headers and the first event, then resets the connection.
    ResetMidStream,
    /// `429 Too Many Requests` with `Retry-After: n`.
    RateLimited(u64),
    /// `500 Internal Server Error`.
    ServerError,
    /// Sends the first event, then bytes that are not the wire format.
    GarbageChunk,
    /// Sends the first event, then half a JSON object, then ends the body.
    TruncatedJson,
}

/// The answer the fake streams.
#[derive(Clone, Debug, PartialEq)]
pub struct Script {
    /// Text pieces, one per event.
    pub text: Vec<String>,
    /// A tool call `(name, arguments)` after the text, its arguments split across events.
    pub tool_call: Option<(String, Value)>,
    /// Reported input tokens.
    pub input_tokens: u64,
    /// Reported output tokens.
    pub output_tokens: u64,
    /// Pause before each event after the first.
    pub delay: Duration,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            text: vec!["Hello".into(), ", ".into(), "world".into(), "!".into()],
            tool_call: None,
            input_tokens: 12,
            output_tokens: 4,
            delay: Duration::ZERO,
        }
    }
}

/// A request the fake received.
#[derive(Clone, Debug, PartialEq)]
pub struct Received {
    /// Its path (with query).
    pub path: String,
    /// Its headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Its JSON body (`Null` when not JSON).
    pub body: Value,
}

impl Received {
    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
struct State {
    faults: Mutex<VecDeque<Fault>>,
    default_fault: Mutex<Fault>,
    script: Mutex<Script>,
    requests: AtomicUsize,
    closed_early: AtomicUsize,
    received: Mutex<Vec<Received>>,
}

/// A running fake vendor; it stops when dropped.
#[derive(Debug)]
pub struct FakeVendor {
    addr: std::net::SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeVendor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeVendor {
    /// Starts a fake on a free loopback port.
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0").await
    }

    /// Starts a fake on `addr`.
    pub async fn start_on(addr: &str) -> Self {
        let listener = TcpListener::bind(addr).await.expect("bind fake vendor");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State {
            faults: Mutex::new(VecDeque::new()),
            default_fault: Mutex::new(Fault::None),
            script: Mutex::new(Script::default()),
            requests: AtomicUsize::new(0),
            closed_early: AtomicUsize::new(0),
            received: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                let _ = sock.set_nodelay(true);
                tokio::spawn(serve_connection(sock, st.clone()));
            }
        });
        Self { addr, state, task }
    }

    /// `http://127.0.0.1:PORT` (Anthropic, Gemini, Ollama and Bedrock base URL).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1` (the OpenAI-compatible base URL).
    pub fn openai_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The next request gets `fault` (queued faults are used in order, then the default).
    pub fn push_fault(&self, fault: Fault) {
        self.state.faults.lock().unwrap().push_back(fault);
    }

    /// Every request without a queued fault gets `fault`.
    pub fn set_fault(&self, fault: Fault) {
        *self.state.default_fault.lock().unwrap() = fault;
    }

    /// The answer to stream.
    pub fn set_script(&self, script: Script) {
        *self.state.script.lock().unwrap() = script;
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Connections the client closed while the fake was still answering.
    pub fn closed_early(&self) -> usize {
        self.state.closed_early.load(Ordering::SeqCst)
    }

    /// The requests received so far (the last 100).
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }
}

/// Reads one request (headers and a `Content-Length` body); `None` at end of connection.
async fn read_request(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Received> {
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let mut chunk = [0u8; 8192];
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 1 << 20 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while buf.len() < body_start + len {
        let mut chunk = [0u8; 8192];
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buf[body_start..body_start + len]).unwrap_or(Value::Null);
    buf.drain(..body_start + len);
    Some(Received {
        path,
        headers,
        body,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wire {
    OpenAi,
    Anthropic,
    Gemini,
    Ollama,
    Bedrock,
}

fn wire_of(path: &str) -> Option<Wire> {
    if path.ends_with("/chat/completions") {
        Some(Wire::OpenAi)
    } else if path.ends_with("/v1/messages") {
        Some(Wire::Anthropic)
    } else if path.contains(":streamGenerateContent") {
        Some(Wire::Gemini)
    } else if path.ends_with("/api/chat") {
        Some(Wire::Ollama)
    } else if path.contains("/converse-stream") {
        Some(Wire::Bedrock)
    } else {
        None
    }
}

async fn serve_connection(mut sock: TcpStream, state: Arc<State>) {
    let mut buf = Vec::new();
    while let Some(req) = read_request(&mut sock, &mut buf).await {
        state.requests.fetch_add(1, Ordering::SeqCst);
        {
            let mut r = state.received.lock().unwrap();
            if r.len() >= 100 {
                r.remove(0);
            }
            r.push(req.clone());
        }
        let fault = state
            .faults
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(*state.default_fault.lock().unwrap());
        let script = state.script.lock().unwrap().clone();
        let keep = answer(&mut sock, &req, fault, &script, &state).await;
        if !keep {
            return;
        }
    }
}

async fn write_simple(sock: &mut TcpStream, status: &str, extra: &str, body: &str) -> bool {
    let resp = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}\r\n{body}",
        body.len()
    );
    sock.write_all(resp.as_bytes()).await.is_ok()
}

async fn write_chunk(sock: &mut TcpStream, data: &[u8]) -> bool {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    sock.write_all(&out).await.is_ok()
}

/// Waits until the client closes the connection (at most a minute), counting it.
async fn wait_for_close(sock: &mut TcpStream, state: &State) {
    let mut scratch = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match sock.read(&mut scratch).await {
                Ok(0) | Err(_) => {
                    state.closed_early.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                Ok(_) => {}
            }
        }
    })
    .await;
}

/// Answers one request; false when the connection must close.
async fn answer(
    sock: &mut TcpStream,
    req: &Received,
    fault: Fault,
    script: &Script,
    state: &State,
) -> bool {
    let Some(wire) = wire_of(&req.path) else {
        return write_simple(
            sock,
            "404 Not Found",
            "",
            r#"{"error":{"message":"no such route"}}"#,
        )
        .await;
    };
    match fault {
        Fault::HangBeforeHeaders => {
            wait_for_close(sock, state).await;
            return false;
        }
        Fault::RateLimited(secs) => {
            return write_simple(
                sock,
                "429 Too Many Requests",
                &format!("retry-after: {secs}\r\n"),
                r#"{"error":{"message":"rate limited","type":"rate_limit_error"}}"#,
            )
            .await;
        }
        Fault::ServerError => {
            return write_simple(
                sock,
                "500 Internal Server Error",
                "",
                r#"{"error":{"message":"upstream exploded","type":"api_error"}}"#,
            )
            .await;
        }
        _ => {}
    }
    let streaming = !(wire == Wire::OpenAi && req.body["stream"] == json!(false));
    if !streaming {
        let body = openai_complete(script, &req.body);
        return write_simple(sock, "200 OK", "", &body.to_string()).await;
    }
    let content_type = match wire {
        Wire::Ollama => "application/x-ndjson",
        Wire::Bedrock => "application/vnd.amazon.eventstream",
        _ => "text/event-stream",
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    if sock.write_all(head.as_bytes()).await.is_err() {
        return false;
    }
    let model = req.body["model"]
        .as_str()
        .unwrap_or("fake-model")
        .to_owned();
    let pieces = encode(wire, script, &model);
    for (i, piece) in pieces.iter().enumerate() {
        if i == 1 {
            match fault {
                Fault::HangMidStream => {
                    wait_for_close(sock, state).await;
                    return false;
                }
                Fault::ResetMidStream => {
                    #[allow(deprecated)]
                    let _ = sock.set_linger(Some(Duration::ZERO));
                    return false;
                }
                Fault::GarbageChunk => {
                    let garbage: &[u8] = match wire {
                        Wire::Bedrock => {
                            &[0, 0, 0, 16, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]
                        }
                        Wire::Ollama => b"%%% not json %%%\n",
                        _ => b"data: %%% not json %%%\n\n",
                    };
                    let _ = write_chunk(sock, garbage).await;
                    let _ = sock.write_all(b"0\r\n\r\n").await;
                    return false;
                }
                Fault::TruncatedJson => {
                    let cut: &[u8] = match wire {
                        Wire::Bedrock => &piece[..piece.len() / 2],
                        Wire::Ollama => br#"{"message":{"role":"assistant","content":"trunc"#,
                        _ => br#"data: {"choices":[{"delta":{"content":"trunc"#,
                    };
                    let _ = write_chunk(sock, cut).await;
                    let _ = sock.write_all(b"0\r\n\r\n").await;
                    return false;
                }
                _ => {}
            }
        }
        if i > 0 && !script.delay.is_zero() {
            tokio::time::sleep(script.delay).await;
        }
        if !write_chunk(sock, piece).await {
            state.closed_early.fetch_add(1, Ordering::SeqCst);
            return false;
        }
    }
    sock.write_all(b"0\r\n\r\n").await.is_ok()
}

fn openai_complete(script: &Script, body: &Value) -> Value {
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": body["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": script.text.concat()}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": script.input_tokens, "completion_tokens": script.output_tokens},
    })
}

fn sse(event: Option<&str>, data: &Value) -> Vec<u8> {
    match event {
        Some(e) => format!("event: {e}\ndata: {data}\n\n").into_bytes(),
        None => format!("data: {data}\n\n").into_bytes(),
    }
}

fn frame(event_type: &str, payload: &Value) -> Vec<u8> {
    let msg = Message::new(payload.to_string().into_bytes())
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String("event".into()),
        ))
        .add_header(Header::new(
            ":event-type",
            HeaderValue::String(event_type.to_owned().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ));
    let mut out = Vec::new();
    aws_smithy_eventstream::frame::write_message_to(&msg, &mut out).expect("encode frame");
    out
}

/// The body pieces of a normal answer in `wire`'s format.
fn encode(wire: Wire, s: &Script, model: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let args = s.tool_call.as_ref().map(|(_, a)| a.to_string());
    let (a1, a2) = args
        .as_deref()
        .map_or(("", ""), |a| a.split_at(a.len() / 2));
    let tool_name = s.tool_call.as_ref().map(|(n, _)| n.as_str());
    match wire {
        Wire::OpenAi => {
            for t in &s.text {
                out.push(sse(None, &json!({"id":"c","object":"chat.completion.chunk","model":model,
                    "choices":[{"index":0,"delta":{"role":"assistant","content":t},"finish_reason":null}]})));
            }
            if let Some(name) = tool_name {
                out.push(sse(None, &json!({"model":model,"choices":[{"index":0,"delta":{"tool_calls":[
                    {"index":0,"id":"call_1","type":"function","function":{"name":name,"arguments":a1}}]}}]})));
                out.push(sse(
                    None,
                    &json!({"model":model,"choices":[{"index":0,"delta":{"tool_calls":[
                    {"index":0,"function":{"arguments":a2}}]}}]}),
                ));
            }
            let reason = if tool_name.is_some() {
                "tool_calls"
            } else {
                "stop"
            };
            out.push(sse(
                None,
                &json!({"model":model,"choices":[{"index":0,"delta":{},"finish_reason":reason}]}),
            ));
            out.push(sse(
                None,
                &json!({"model":model,"choices":[],"usage":{
                "prompt_tokens":s.input_tokens,"completion_tokens":s.output_tokens,
                "total_tokens":s.input_tokens + s.output_tokens}}),
            ));
            out.push(b"data: [DONE]\n\n".to_vec());
        }
        Wire::Anthropic => {
            let mut first = sse(
                Some("message_start"),
                &json!({"type":"message_start","message":{
                "id":"msg_1","type":"message","role":"assistant","model":model,"content":[],
                "usage":{"input_tokens":s.input_tokens,"output_tokens":1}}}),
            );
            first.extend(sse(
                Some("content_block_start"),
                &json!({"type":"content_block_start","index":0,
                "content_block":{"type":"text","text":""}}),
            ));
            let mut texts = s.text.iter();
            if let Some(t) = texts.next() {
                first.extend(sse(
                    Some("content_block_delta"),
                    &json!({"type":"content_block_delta","index":0,
                    "delta":{"type":"text_delta","text":t}}),
                ));
            }
            out.push(first);
            for t in texts {
                out.push(sse(
                    Some("content_block_delta"),
                    &json!({"type":"content_block_delta","index":0,
                    "delta":{"type":"text_delta","text":t}}),
                ));
            }
            out.push(sse(
                Some("content_block_stop"),
                &json!({"type":"content_block_stop","index":0}),
            ));
            if let Some(name) = tool_name {
                out.push(sse(
                    Some("content_block_start"),
                    &json!({"type":"content_block_start","index":1,
                    "content_block":{"type":"tool_use","id":"toolu_1","name":name,"input":{}}}),
                ));
                for part in [a1, a2] {
                    out.push(sse(
                        Some("content_block_delta"),
                        &json!({"type":"content_block_delta","index":1,
                        "delta":{"type":"input_json_delta","partial_json":part}}),
                    ));
                }
                out.push(sse(
                    Some("content_block_stop"),
                    &json!({"type":"content_block_stop","index":1}),
                ));
            }
            let reason = if tool_name.is_some() {
                "tool_use"
            } else {
                "end_turn"
            };
            out.push(sse(
                Some("message_delta"),
                &json!({"type":"message_delta",
                "delta":{"stop_reason":reason},"usage":{"output_tokens":s.output_tokens}}),
            ));
            out.push(sse(Some("message_stop"), &json!({"type":"message_stop"})));
        }
        Wire::Gemini => {
            for t in &s.text {
                out.push(sse(None, &json!({"candidates":[{"content":{"role":"model","parts":[{"text":t}]},"index":0}],
                    "modelVersion":model})));
            }
            let mut parts = Vec::new();
            if let Some((name, a)) = &s.tool_call {
                parts.push(json!({"functionCall":{"name":name,"args":a}}));
            }
            out.push(sse(None, &json!({"candidates":[{"content":{"role":"model","parts":parts},
                "finishReason":"STOP","index":0}],
                "usageMetadata":{"promptTokenCount":s.input_tokens,"candidatesTokenCount":s.output_tokens},
                "modelVersion":model})));
        }
        Wire::Ollama => {
            let line = |v: Value| format!("{v}\n").into_bytes();
            for t in &s.text {
                out.push(line(
                    json!({"model":model,"message":{"role":"assistant","content":t},"done":false}),
                ));
            }
            if let Some((name, a)) = &s.tool_call {
                out.push(line(
                    json!({"model":model,"message":{"role":"assistant","content":"",
                    "tool_calls":[{"function":{"name":name,"arguments":a}}]},"done":false}),
                ));
            }
            out.push(line(json!({"model":model,"message":{"role":"assistant","content":""},"done":true,
                "done_reason":"stop","prompt_eval_count":s.input_tokens,"eval_count":s.output_tokens})));
        }
        Wire::Bedrock => {
            let mut first = frame("messageStart", &json!({"role":"assistant"}));
            let mut texts = s.text.iter();
            if let Some(t) = texts.next() {
                first.extend(frame(
                    "contentBlockDelta",
                    &json!({"contentBlockIndex":0,"delta":{"text":t}}),
                ));
            }
            out.push(first);
            for t in texts {
                out.push(frame(
                    "contentBlockDelta",
                    &json!({"contentBlockIndex":0,"delta":{"text":t}}),
                ));
            }
            out.push(frame("contentBlockStop", &json!({"contentBlockIndex":0})));
            if let Some(name) = tool_name {
                out.push(frame(
                    "contentBlockStart",
                    &json!({"contentBlockIndex":1,
                    "start":{"toolUse":{"toolUseId":"tooluse_1","name":name}}}),
                ));
                for part in [a1, a2] {
                    out.push(frame(
                        "contentBlockDelta",
                        &json!({"contentBlockIndex":1,
                        "delta":{"toolUse":{"input":part}}}),
                    ));
                }
                out.push(frame("contentBlockStop", &json!({"contentBlockIndex":1})));
            }
            let reason = if tool_name.is_some() {
                "tool_use"
            } else {
                "end_turn"
            };
            out.push(frame("messageStop", &json!({"stopReason":reason})));
            out.push(frame(
                "metadata",
                &json!({"usage":{"inputTokens":s.input_tokens,
                "outputTokens":s.output_tokens,"totalTokens":s.input_tokens + s.output_tokens},
                "metrics":{"latencyMs":1}}),
            ));
        }
    }
    out
}
