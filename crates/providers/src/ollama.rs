//! Ollama's native chat (`POST {OLLAMA_HOST}/api/chat`): newline-delimited JSON objects, each
//! with a `message` piece; the last has `done: true` with the token counts.

use std::collections::VecDeque;

use async_trait::async_trait;
use quarry_core::{
    ChatEvent, ChatRequest, ChatRole, ChatStream, FinishReason, LlmError, LlmProvider, Usage,
};
use serde_json::{Value, json};

use crate::{
    config::Common,
    http::{self, Decoder, Lines, malformed},
};

/// An Ollama server.
#[derive(Debug)]
pub struct Ollama {
    common: Common,
    url: String,
}

impl Ollama {
    pub(crate) fn new(common: Common, host: String) -> Self {
        let host = if host.contains("://") {
            host
        } else {
            format!("http://{host}")
        };
        let url = http::join(&host, "api/chat");
        Self { common, url }
    }
}

/// The request body for `request` to `model`.
pub fn body(request: &ChatRequest, model: &str) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = &request.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    for m in &request.messages {
        messages.push(match m.role {
            ChatRole::User => json!({"role": "user", "content": m.content}),
            ChatRole::Assistant => json!({
                "role": "assistant",
                "content": m.content,
                "tool_calls": m.tool_calls.iter().map(|c| json!({
                    "function": {"name": c.name, "arguments": c.arguments}
                })).collect::<Vec<_>>(),
            }),
            ChatRole::Tool => json!({"role": "tool", "content": m.content}),
        });
    }
    let mut options = json!({});
    if let Some(n) = request.max_tokens {
        options["num_predict"] = json!(n);
    }
    if let Some(t) = request.temperature {
        options["temperature"] = json!(t);
    }
    let mut body =
        json!({"model": model, "messages": messages, "stream": true, "options": options});
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters,
                }})
            })
            .collect();
    }
    body
}

#[async_trait]
impl LlmProvider for Ollama {
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
        let req = self
            .common
            .client
            .post(&self.url)
            .json(&body(&request, &model));
        let resp = http::send(&self.common.name, req).await?;
        Ok(http::decode(
            &self.common.name,
            resp,
            OllamaDecoder {
                provider: self.common.name.clone(),
                model,
                lines: Lines::default(),
                calls: false,
                done: false,
            },
        ))
    }
}

#[derive(Debug)]
struct OllamaDecoder {
    provider: String,
    model: String,
    lines: Lines,
    calls: bool,
    done: bool,
}

impl OllamaDecoder {
    fn on_line(&mut self, line: &str, out: &mut VecDeque<ChatEvent>) -> Result<(), LlmError> {
        if line.trim().is_empty() || self.done {
            return Ok(());
        }
        let v = http::json(&self.provider, line)?;
        if let Some(err) = v["error"].as_str() {
            return Err(LlmError::Status {
                provider: self.provider.clone(),
                status: 500,
                message: err.to_owned(),
            });
        }
        if v.get("message").is_none() && v.get("done").is_none() {
            return Err(malformed(&self.provider, "a record has no message"));
        }
        let msg = &v["message"];
        if let Some(text) = msg["content"].as_str().filter(|t| !t.is_empty()) {
            out.push_back(ChatEvent::TextDelta {
                text: text.to_owned(),
            });
        }
        for tc in msg["tool_calls"].as_array().into_iter().flatten() {
            self.calls = true;
            let f = &tc["function"];
            let arguments = match &f["arguments"] {
                Value::String(s) => http::arguments(&self.provider, s)?,
                Value::Null => json!({}),
                other => other.clone(),
            };
            out.push_back(ChatEvent::ToolCall {
                call: quarry_core::ToolCall {
                    id: tc["id"].as_str().map_or_else(http::call_id, str::to_owned),
                    name: f["name"].as_str().unwrap_or("").to_owned(),
                    arguments,
                },
            });
        }
        if v["done"].as_bool() == Some(true) {
            self.done = true;
            if let Some(m) = v["model"].as_str() {
                m.clone_into(&mut self.model);
            }
            out.push_back(ChatEvent::Usage {
                usage: Usage {
                    input_tokens: v["prompt_eval_count"].as_u64().unwrap_or(0),
                    output_tokens: v["eval_count"].as_u64().unwrap_or(0),
                    cost_usd: 0.0,
                },
            });
            out.push_back(ChatEvent::Finish {
                reason: match v["done_reason"].as_str() {
                    _ if self.calls => FinishReason::ToolCalls,
                    Some("length") => FinishReason::Length,
                    Some("stop") | None => FinishReason::Stop,
                    Some(_) => FinishReason::Other,
                },
                provider: self.provider.clone(),
                model: self.model.clone(),
            });
        }
        Ok(())
    }
}

impl Decoder for OllamaDecoder {
    fn feed(&mut self, chunk: &[u8], out: &mut VecDeque<ChatEvent>) -> Result<(), LlmError> {
        let provider = self.provider.clone();
        let mut lines = std::mem::take(&mut self.lines);
        let r = lines.feed(&provider, chunk, |line| self.on_line(line, out));
        self.lines = lines;
        r
    }

    fn finish(&mut self, out: &mut VecDeque<ChatEvent>) -> Result<(), LlmError> {
        if let Some(rest) = self.lines.rest() {
            self.on_line(&rest, out)?;
        }
        if !self.done {
            return Err(malformed(
                &self.provider,
                "the stream ended before done: true",
            ));
        }
        Ok(())
    }
}
