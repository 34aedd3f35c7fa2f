//! Anthropic Messages, streamed (`POST {base}/v1/messages`, `stream: true`): server-sent
//! `message_start`, `content_block_start|delta|stop` (text and `tool_use` blocks whose JSON
//! input arrives in `input_json_delta` pieces), `message_delta` and `message_stop`.

use std::collections::{BTreeMap, VecDeque};

use async_trait::async_trait;
use quarry_core::{
    ChatEvent, ChatRequest, ChatRole, ChatStream, Effort, FinishReason, LlmError, LlmProvider,
    Usage,
};
use serde_json::{Value, json};

use crate::{
    config::Common,
    http::{self, Decoder, malformed},
    sse::Sse,
};

/// The Anthropic Messages API.
#[derive(Debug)]
pub struct Anthropic {
    common: Common,
    url: String,
}

impl Anthropic {
    pub(crate) fn new(common: Common, base_url: String) -> Self {
        let base = base_url.trim_end_matches('/');
        let url = if base.ends_with("/v1") {
            format!("{base}/messages")
        } else {
            format!("{base}/v1/messages")
        };
        Self { common, url }
    }
}

/// The request body for `request` to `model`.
pub fn body(request: &ChatRequest, model: &str) -> Value {
    let mut messages: Vec<Value> = Vec::with_capacity(request.messages.len());
    for m in &request.messages {
        let (role, content) = match m.role {
            ChatRole::User => ("user", json!([{"type": "text", "text": m.content}])),
            ChatRole::Assistant => {
                let mut blocks = Vec::new();
                if !m.content.is_empty() {
                    blocks.push(json!({"type": "text", "text": m.content}));
                }
                for c in &m.tool_calls {
                    blocks.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}));
                }
                ("assistant", Value::Array(blocks))
            }
            ChatRole::Tool => (
                "user",
                json!([{"type": "tool_result", "tool_use_id": m.tool_call_id, "content": m.content}]),
            ),
        };
        // Consecutive tool results travel in one user message.
        if let Some(last) = messages.last_mut()
            && last["role"] == role
            && let (Some(prev), Some(new)) = (last["content"].as_array_mut(), content.as_array())
        {
            prev.extend(new.iter().cloned());
            continue;
        }
        messages.push(json!({"role": role, "content": content}));
    }
    let mut max_tokens = request.max_tokens.unwrap_or(4096);
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
    });
    if let Some(system) = &request.system {
        body["system"] = json!(system);
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
    }
    // Extended thinking for high and max effort on models that have it.
    let thinking = [
        "claude-opus-4",
        "claude-sonnet-4",
        "claude-3-7",
        "claude-haiku-4",
    ]
    .iter()
    .any(|p| model.starts_with(p));
    let budget = match request.effort {
        Effort::High => Some(4096),
        Effort::Max => Some(16_384),
        Effort::Low | Effort::Medium => None,
    };
    if let (true, Some(budget)) = (thinking, budget) {
        max_tokens = max_tokens.max(budget + 1024);
        body["thinking"] = json!({"type": "enabled", "budget_tokens": budget});
    } else if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    body["max_tokens"] = json!(max_tokens);
    body
}

#[async_trait]
impl LlmProvider for Anthropic {
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
        let mut req = self
            .common
            .client
            .post(&self.url)
            .header("anthropic-version", "2023-06-01")
            .header("accept", "text/event-stream")
            .json(&body(&request, &model));
        if let Some(key) = &self.common.api_key {
            req = req.header("x-api-key", key);
        }
        let resp = http::send(&self.common.name, req).await?;
        Ok(http::decode(
            &self.common.name,
            resp,
            AnthropicDecoder::new(&self.common.name, &model),
        ))
    }
}

#[derive(Debug, Default)]
struct Block {
    id: String,
    name: String,
    input: String,
    tool: bool,
}

#[derive(Debug)]
struct AnthropicDecoder {
    provider: String,
    model: String,
    sse: Sse,
    blocks: BTreeMap<u64, Block>,
    usage: Usage,
    finish: FinishReason,
    done: bool,
}

impl AnthropicDecoder {
    fn new(provider: &str, model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            sse: Sse::default(),
            blocks: BTreeMap::new(),
            usage: Usage::default(),
            finish: FinishReason::Stop,
            done: false,
        }
    }

    fn on_data(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<(), LlmError> {
        if self.done {
            return Ok(());
        }
        let v = http::json(&self.provider, data)?;
        let index = v["index"].as_u64().unwrap_or(0);
        match v["type"].as_str().unwrap_or("") {
            "message_start" => {
                let m = &v["message"];
                if let Some(model) = m["model"].as_str() {
                    model.clone_into(&mut self.model);
                }
                self.usage.input_tokens = m["usage"]["input_tokens"].as_u64().unwrap_or(0);
                self.usage.output_tokens = m["usage"]["output_tokens"].as_u64().unwrap_or(0);
            }
            "content_block_start" => {
                let b = &v["content_block"];
                let block = Block {
                    tool: b["type"] == "tool_use",
                    id: b["id"].as_str().unwrap_or("").to_owned(),
                    name: b["name"].as_str().unwrap_or("").to_owned(),
                    input: String::new(),
                };
                if b["type"] == "text"
                    && let Some(text) = b["text"].as_str().filter(|t| !t.is_empty())
                {
                    out.push_back(ChatEvent::TextDelta {
                        text: text.to_owned(),
                    });
                }
                self.blocks.insert(index, block);
            }
            "content_block_delta" => {
                let d = &v["delta"];
                match d["type"].as_str().unwrap_or("") {
                    "text_delta" => {
                        if let Some(text) = d["text"].as_str() {
                            out.push_back(ChatEvent::TextDelta {
                                text: text.to_owned(),
                            });
                        }
                    }
                    "input_json_delta" => {
                        let block = self.blocks.entry(index).or_default();
                        block
                            .input
                            .push_str(d["partial_json"].as_str().unwrap_or(""));
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some(b) = self.blocks.remove(&index)
                    && b.tool
                {
                    out.push_back(ChatEvent::ToolCall {
                        call: quarry_core::ToolCall {
                            id: if b.id.is_empty() {
                                http::call_id()
                            } else {
                                b.id
                            },
                            arguments: http::arguments(&self.provider, &b.input)?,
                            name: b.name,
                        },
                    });
                }
            }
            "message_delta" => {
                if let Some(n) = v["usage"]["output_tokens"].as_u64() {
                    self.usage.output_tokens = n;
                }
                if let Some(n) = v["usage"]["input_tokens"].as_u64().filter(|n| *n > 0) {
                    self.usage.input_tokens = n;
                }
                if let Some(reason) = v["delta"]["stop_reason"].as_str() {
                    self.finish = match reason {
                        "end_turn" | "stop_sequence" => FinishReason::Stop,
                        "max_tokens" => FinishReason::Length,
                        "tool_use" => FinishReason::ToolCalls,
                        "refusal" => FinishReason::ContentFilter,
                        _ => FinishReason::Other,
                    };
                }
            }
            "message_stop" => {
                self.done = true;
                out.push_back(ChatEvent::Usage { usage: self.usage });
                out.push_back(ChatEvent::Finish {
                    reason: self.finish,
                    provider: self.provider.clone(),
                    model: self.model.clone(),
                });
            }
            "error" => {
                let kind = v["error"]["type"].as_str().unwrap_or("error");
                let message = v["error"]["message"].as_str().unwrap_or(kind).to_owned();
                return Err(match kind {
                    "rate_limit_error" => LlmError::RateLimited {
                        provider: self.provider.clone(),
                        retry_after_secs: None,
                    },
                    "invalid_request_error" => LlmError::InvalidRequest {
                        provider: self.provider.clone(),
                        message,
                    },
                    // overloaded_error (529), api_error (500)
                    _ => LlmError::Status {
                        provider: self.provider.clone(),
                        status: if kind == "overloaded_error" { 529 } else { 500 },
                        message,
                    },
                });
            }
            "ping" => {}
            other => {
                if other.is_empty() {
                    return Err(malformed(&self.provider, "an event has no type"));
                }
            }
        }
        Ok(())
    }
}

impl Decoder for AnthropicDecoder {
    fn feed(&mut self, chunk: &[u8], out: &mut VecDeque<ChatEvent>) -> Result<(), LlmError> {
        let provider = self.provider.clone();
        let mut sse = std::mem::take(&mut self.sse);
        let r = sse.feed(&provider, chunk, |_, data| self.on_data(data, out));
        self.sse = sse;
        r
    }

    fn finish(&mut self, out: &mut VecDeque<ChatEvent>) -> Result<(), LlmError> {
        let mut sse = std::mem::take(&mut self.sse);
        sse.finish(|_, data| self.on_data(data, out))?;
        if !self.done {
            return Err(malformed(
                &self.provider,
                "the stream ended without message_stop",
            ));
        }
        Ok(())
    }
}
