//! OpenAI Chat Completions, streamed (`POST {base}/chat/completions`, `stream: true`,
//! server-sent `data:` chunks ending with `[DONE]`). Serves every OpenAI-compatible server:
//! OpenAI, xAI, Groq, OpenRouter, vLLM, LM Studio, llama.cpp, … through its base URL.

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

/// An OpenAI-compatible provider.
#[derive(Debug)]
pub struct OpenAi {
    common: Common,
    url: String,
}

impl OpenAi {
    pub(crate) fn new(common: Common, base_url: String) -> Self {
        let url = http::join(&base_url, "chat/completions");
        Self { common, url }
    }
}

/// The request body for `request` to `model`.
pub fn body(request: &ChatRequest, model: &str) -> Value {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = &request.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    for m in &request.messages {
        messages.push(match m.role {
            ChatRole::User => json!({"role": "user", "content": m.content}),
            ChatRole::Assistant if m.tool_calls.is_empty() => {
                json!({"role": "assistant", "content": m.content})
            }
            ChatRole::Assistant => json!({
                "role": "assistant",
                "content": if m.content.is_empty() { Value::Null } else { json!(m.content) },
                "tool_calls": m.tool_calls.iter().map(|c| json!({
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments.to_string()},
                })).collect::<Vec<_>>(),
            }),
            ChatRole::Tool => json!({
                "role": "tool",
                "tool_call_id": m.tool_call_id,
                "content": m.content,
            }),
        });
    }
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
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
    if let Some(n) = request.max_tokens {
        body["max_tokens"] = json!(n);
    }
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    // Only reasoning models accept `reasoning_effort`; others refuse the request.
    if ["o1", "o3", "o4", "gpt-5"]
        .iter()
        .any(|p| model.starts_with(p))
    {
        body["reasoning_effort"] = json!(match request.effort {
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High | Effort::Max => "high",
        });
    }
    body
}

#[async_trait]
impl LlmProvider for OpenAi {
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
            .header("accept", "text/event-stream")
            .json(&body(&request, &model));
        if let Some(key) = &self.common.api_key {
            req = req.bearer_auth(key);
        }
        let resp = http::send(&self.common.name, req).await?;
        Ok(http::decode(
            &self.common.name,
            resp,
            OpenAiDecoder::new(&self.common.name, &model),
        ))
    }
}

#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Decodes the chunk stream.
#[derive(Debug)]
pub(crate) struct OpenAiDecoder {
    provider: String,
    model: String,
    sse: Sse,
    calls: BTreeMap<u64, PartialCall>,
    finish: Option<FinishReason>,
    done: bool,
}

impl OpenAiDecoder {
    pub(crate) fn new(provider: &str, model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            sse: Sse::default(),
            calls: BTreeMap::new(),
            finish: None,
            done: false,
        }
    }

    fn on_data(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<(), LlmError> {
        if self.done {
            return Ok(());
        }
        if data.trim() == "[DONE]" {
            self.flush_calls(out)?;
            self.done = true;
            out.push_back(ChatEvent::Finish {
                reason: self.finish.unwrap_or(FinishReason::Stop),
                provider: self.provider.clone(),
                model: self.model.clone(),
            });
            return Ok(());
        }
        let v = http::json(&self.provider, data)?;
        if let Some(err) = v.get("error") {
            let message = err["message"].as_str().unwrap_or("error in the stream");
            return Err(LlmError::Status {
                provider: self.provider.clone(),
                status: 502,
                message: message.to_owned(),
            });
        }
        if let Some(m) = v["model"].as_str()
            && !m.is_empty()
        {
            m.clone_into(&mut self.model);
        }
        let choices = v["choices"].as_array();
        if choices.is_none() && v.get("usage").is_none() {
            return Err(malformed(
                &self.provider,
                "a chunk has neither choices nor usage",
            ));
        }
        for choice in choices.into_iter().flatten() {
            let delta = &choice["delta"];
            if let Some(text) = delta["content"].as_str()
                && !text.is_empty()
            {
                out.push_back(ChatEvent::TextDelta {
                    text: text.to_owned(),
                });
            }
            for tc in delta["tool_calls"].as_array().into_iter().flatten() {
                let index = tc["index"].as_u64().unwrap_or(0);
                let call = self.calls.entry(index).or_default();
                if let Some(id) = tc["id"].as_str() {
                    call.id.push_str(id);
                }
                if let Some(name) = tc["function"]["name"].as_str() {
                    call.name.push_str(name);
                }
                if let Some(args) = tc["function"]["arguments"].as_str() {
                    call.arguments.push_str(args);
                }
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                self.finish = Some(match reason {
                    "stop" => FinishReason::Stop,
                    "length" => FinishReason::Length,
                    "tool_calls" | "function_call" => FinishReason::ToolCalls,
                    "content_filter" => FinishReason::ContentFilter,
                    _ => FinishReason::Other,
                });
                self.flush_calls(out)?;
            }
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            out.push_back(ChatEvent::Usage {
                usage: Usage {
                    input_tokens: u["prompt_tokens"].as_u64().unwrap_or(0),
                    output_tokens: u["completion_tokens"].as_u64().unwrap_or(0),
                    cost_usd: 0.0,
                },
            });
        }
        Ok(())
    }

    fn flush_calls(&mut self, out: &mut VecDeque<ChatEvent>) -> Result<(), LlmError> {
        for (_, call) in std::mem::take(&mut self.calls) {
            out.push_back(ChatEvent::ToolCall {
                call: quarry_core::ToolCall {
                    id: if call.id.is_empty() {
                        http::call_id()
                    } else {
                        call.id
                    },
                    arguments: http::arguments(&self.provider, &call.arguments)?,
                    name: call.name,
                },
            });
        }
        Ok(())
    }
}

impl Decoder for OpenAiDecoder {
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
            return Err(malformed(&self.provider, "the stream ended without [DONE]"));
        }
        Ok(())
    }
}
