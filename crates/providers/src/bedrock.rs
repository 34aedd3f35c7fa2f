//! AWS Bedrock Converse stream (`POST {base}/model/{modelId}/converse-stream`), signed with
//! SigV4 (`aws-sigv4`); the answer is an `application/vnd.amazon.eventstream` body of binary
//! frames (`aws-smithy-eventstream`) whose `:event-type` is `messageStart`,
//! `contentBlockStart|Delta|Stop`, `messageStop` or `metadata`, or an exception.

use std::{collections::VecDeque, time::SystemTime};

use async_trait::async_trait;
use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::{HeaderValue, Message};
use bytes::BytesMut;
use quarry_core::{
    ChatEvent, ChatRequest, ChatRole, ChatStream, FinishReason, LlmError, LlmProvider, Usage,
};
use serde_json::{Value, json};

use crate::{
    config::Common,
    http::{self, Decoder, malformed},
};

/// Bedrock's Converse API.
pub struct Bedrock {
    common: Common,
    base: String,
    region: String,
    secret_key: Option<String>,
    session_token: Option<String>,
}

impl std::fmt::Debug for Bedrock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bedrock")
            .field("common", &self.common)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Bedrock {
    pub(crate) fn new(
        common: Common,
        base: String,
        region: String,
        secret_key: Option<String>,
        session_token: Option<String>,
    ) -> Self {
        Self {
            common,
            base: base.trim_end_matches('/').to_owned(),
            region,
            secret_key,
            session_token,
        }
    }

    fn not_configured(&self, message: &str) -> LlmError {
        LlmError::NotConfigured {
            provider: self.common.name.clone(),
            message: message.to_owned(),
        }
    }

    /// The SigV4 headers for a POST of `body` to `url`.
    fn sign(&self, url: &str, body: &[u8]) -> Result<Vec<(String, String)>, LlmError> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let (Some(access), Some(secret)) = (&self.common.api_key, &self.secret_key) else {
            return Err(self.not_configured(
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_REGION)",
            ));
        };
        let identity: aws_smithy_runtime_api::client::identity::Identity =
            aws_credential_types::Credentials::new(
                access.clone(),
                secret.clone(),
                self.session_token.clone(),
                None,
                "quarry",
            )
            .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("bedrock")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| self.not_configured(&format!("cannot sign: {e}")))?
            .into();
        let headers = [("content-type", "application/json")];
        let signable = SignableRequest::new(
            "POST",
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| self.not_configured(&format!("cannot sign: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| self.not_configured(&format!("cannot sign: {e}")))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect())
    }
}

/// The request body for `request`.
pub fn body(request: &ChatRequest) -> Value {
    let mut messages: Vec<Value> = Vec::new();
    for m in &request.messages {
        let (role, content) = match m.role {
            ChatRole::User => ("user", vec![json!({"text": m.content})]),
            ChatRole::Assistant => {
                let mut blocks = Vec::new();
                if !m.content.is_empty() {
                    blocks.push(json!({"text": m.content}));
                }
                for c in &m.tool_calls {
                    blocks.push(json!({"toolUse": {"toolUseId": c.id, "name": c.name, "input": c.arguments}}));
                }
                ("assistant", blocks)
            }
            ChatRole::Tool => (
                "user",
                vec![
                    json!({"toolResult": {"toolUseId": m.tool_call_id, "content": [{"text": m.content}]}}),
                ],
            ),
        };
        if let Some(last) = messages.last_mut()
            && last["role"] == role
            && let Some(prev) = last["content"].as_array_mut()
        {
            prev.extend(content);
            continue;
        }
        messages.push(json!({"role": role, "content": content}));
    }
    let mut inference = json!({});
    if let Some(n) = request.max_tokens {
        inference["maxTokens"] = json!(n);
    }
    if let Some(t) = request.temperature {
        inference["temperature"] = json!(t);
    }
    let mut body = json!({"messages": messages, "inferenceConfig": inference});
    if let Some(system) = &request.system {
        body["system"] = json!([{"text": system}]);
    }
    if !request.tools.is_empty() {
        body["toolConfig"] = json!({"tools": request.tools.iter().map(|t| json!({"toolSpec": {
            "name": t.name, "description": t.description, "inputSchema": {"json": t.parameters},
        }})).collect::<Vec<_>>()});
    }
    body
}

/// Percent-encodes a model id for the path (`:` and `/` included).
fn encode_model(model: &str) -> String {
    let mut out = String::with_capacity(model.len());
    for b in model.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[async_trait]
impl LlmProvider for Bedrock {
    fn name(&self) -> &str {
        &self.common.name
    }

    fn default_model(&self) -> &str {
        &self.common.model
    }

    fn supports_model(&self, model: &str) -> bool {
        self.common.supports(model)
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatStream, LlmError> {
        let model = self.common.model_for(request.model.as_deref()).to_owned();
        let url = format!(
            "{}/model/{}/converse-stream",
            self.base,
            encode_model(&model)
        );
        let payload =
            serde_json::to_vec(&body(&request)).map_err(|e| LlmError::InvalidRequest {
                provider: self.common.name.clone(),
                message: e.to_string(),
            })?;
        let signed = self.sign(&url, &payload)?;
        let mut req = self
            .common
            .client
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/vnd.amazon.eventstream");
        for (k, v) in signed {
            req = req.header(k, v);
        }
        let resp = http::send(&self.common.name, req.body(payload)).await?;
        Ok(http::decode(
            &self.common.name,
            resp,
            BedrockDecoder {
                provider: self.common.name.clone(),
                model,
                buf: BytesMut::new(),
                frames: MessageFrameDecoder::new(),
                call: None,
                usage: Usage::default(),
                finish: None,
                done: false,
            },
        ))
    }
}

struct BedrockDecoder {
    provider: String,
    model: String,
    buf: BytesMut,
    frames: MessageFrameDecoder,
    call: Option<(String, String, String)>,
    usage: Usage,
    finish: Option<FinishReason>,
    done: bool,
}

fn header<'a>(m: &'a Message, name: &str) -> Option<&'a str> {
    m.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| match h.value() {
            HeaderValue::String(s) => Some(s.as_str()),
            _ => None,
        })
}

impl BedrockDecoder {
    fn on_message(&mut self, m: &Message, out: &mut VecDeque<ChatEvent>) -> Result<(), LlmError> {
        let kind = header(m, ":message-type").unwrap_or("event");
        if kind != "event" {
            let name = header(m, ":exception-type")
                .or_else(|| header(m, ":error-code"))
                .unwrap_or("error");
            let body: Value = serde_json::from_slice(m.payload()).unwrap_or_default();
            let message = body["message"]
                .as_str()
                .or_else(|| header(m, ":error-message"))
                .unwrap_or(name)
                .to_owned();
            return Err(match name {
                "throttlingException" => LlmError::RateLimited {
                    provider: self.provider.clone(),
                    retry_after_secs: None,
                },
                "validationException" => LlmError::InvalidRequest {
                    provider: self.provider.clone(),
                    message,
                },
                _ => LlmError::Status {
                    provider: self.provider.clone(),
                    status: if name == "serviceUnavailableException" {
                        503
                    } else {
                        500
                    },
                    message: format!("{name}: {message}"),
                },
            });
        }
        let v: Value = serde_json::from_slice(m.payload())
            .map_err(|e| malformed(&self.provider, format!("event payload is not JSON: {e}")))?;
        match header(m, ":event-type").unwrap_or("") {
            "messageStart" => {}
            "contentBlockStart" => {
                if let Some(t) = v["start"].get("toolUse") {
                    self.call = Some((
                        t["toolUseId"]
                            .as_str()
                            .map_or_else(http::call_id, str::to_owned),
                        t["name"].as_str().unwrap_or("").to_owned(),
                        String::new(),
                    ));
                }
            }
            "contentBlockDelta" => {
                let d = &v["delta"];
                if let Some(text) = d["text"].as_str() {
                    out.push_back(ChatEvent::TextDelta {
                        text: text.to_owned(),
                    });
                } else if let Some(input) = d["toolUse"]["input"].as_str()
                    && let Some(call) = &mut self.call
                {
                    call.2.push_str(input);
                }
            }
            "contentBlockStop" => {
                if let Some((id, name, input)) = self.call.take() {
                    out.push_back(ChatEvent::ToolCall {
                        call: quarry_core::ToolCall {
                            id,
                            name,
                            arguments: http::arguments(&self.provider, &input)?,
                        },
                    });
                }
            }
            "messageStop" => {
                self.finish = Some(match v["stopReason"].as_str().unwrap_or("") {
                    "end_turn" | "stop_sequence" => FinishReason::Stop,
                    "max_tokens" => FinishReason::Length,
                    "tool_use" => FinishReason::ToolCalls,
                    "content_filtered" | "guardrail_intervened" => FinishReason::ContentFilter,
                    _ => FinishReason::Other,
                });
            }
            "metadata" => {
                self.usage.input_tokens = v["usage"]["inputTokens"].as_u64().unwrap_or(0);
                self.usage.output_tokens = v["usage"]["outputTokens"].as_u64().unwrap_or(0);
                self.complete(out);
            }
            other => {
                return Err(malformed(
                    &self.provider,
                    format!("unknown event type '{other}'"),
                ));
            }
        }
        Ok(())
    }

    fn complete(&mut self, out: &mut VecDeque<ChatEvent>) {
        if let (false, Some(reason)) = (self.done, self.finish) {
            self.done = true;
            out.push_back(ChatEvent::Usage { usage: self.usage });
            out.push_back(ChatEvent::Finish {
                reason,
                provider: self.provider.clone(),
                model: self.model.clone(),
            });
        }
    }
}

impl Decoder for BedrockDecoder {
    fn feed(&mut self, chunk: &[u8], out: &mut VecDeque<ChatEvent>) -> Result<(), LlmError> {
        self.buf.extend_from_slice(chunk);
        if self.buf.len() > http::MAX_LINE {
            return Err(malformed(
                &self.provider,
                "an event-stream frame is too long",
            ));
        }
        loop {
            match self.frames.decode_frame(&mut self.buf) {
                Ok(DecodedFrame::Complete(m)) => self.on_message(&m, out)?,
                Ok(DecodedFrame::Incomplete) => return Ok(()),
                Err(e) => {
                    return Err(malformed(
                        &self.provider,
                        format!("invalid event-stream frame: {e}"),
                    ));
                }
            }
        }
    }

    fn finish(&mut self, out: &mut VecDeque<ChatEvent>) -> Result<(), LlmError> {
        if !self.buf.is_empty() {
            return Err(malformed(&self.provider, "the stream ended inside a frame"));
        }
        // `metadata` is optional: a stream that stopped still completes the answer.
        self.complete(out);
        if !self.done {
            return Err(malformed(
                &self.provider,
                "the stream ended without messageStop",
            ));
        }
        Ok(())
    }
}
