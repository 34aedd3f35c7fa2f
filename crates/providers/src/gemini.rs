//! Google Gemini (`POST {base}/v1beta/models/{model}:streamGenerateContent?alt=sse`): each
//! server-sent chunk is a `GenerateContentResponse` whose parts carry text or a whole
//! `functionCall`; the last carries `finishReason` and `usageMetadata`.

use std::collections::VecDeque;

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

/// The Gemini API.
#[derive(Debug)]
pub struct Gemini {
    common: Common,
    base: String,
}

impl Gemini {
    pub(crate) fn new(common: Common, base_url: String) -> Self {
        Self {
            common,
            base: base_url.trim_end_matches('/').to_owned(),
        }
    }
}

/// The request body for `request` to `model`.
pub fn body(request: &ChatRequest, model: &str) -> Value {
    let mut contents: Vec<Value> = Vec::new();
    for m in &request.messages {
        let (role, parts) = match m.role {
            ChatRole::User => ("user", vec![json!({"text": m.content})]),
            ChatRole::Assistant => {
                let mut parts = Vec::new();
                if !m.content.is_empty() {
                    parts.push(json!({"text": m.content}));
                }
                for c in &m.tool_calls {
                    parts.push(json!({"functionCall": {"name": c.name, "args": c.arguments}}));
                }
                ("model", parts)
            }
            ChatRole::Tool => {
                // Gemini names the function, not the call: find it in the conversation.
                let name = request
                    .messages
                    .iter()
                    .flat_map(|m| &m.tool_calls)
                    .find(|c| Some(&c.id) == m.tool_call_id.as_ref())
                    .map_or("tool", |c| c.name.as_str());
                (
                    "user",
                    vec![
                        json!({"functionResponse": {"name": name, "response": {"content": m.content}}}),
                    ],
                )
            }
        };
        contents.push(json!({"role": role, "parts": parts}));
    }
    let mut generation = json!({});
    if let Some(n) = request.max_tokens {
        generation["maxOutputTokens"] = json!(n);
    }
    if let Some(t) = request.temperature {
        generation["temperature"] = json!(t);
    }
    if model.starts_with("gemini-2.5") {
        let budget = match request.effort {
            Effort::Low => 0,
            Effort::Medium => -1,
            Effort::High => 8192,
            Effort::Max => 24_576,
        };
        // Pro models cannot turn thinking off.
        let budget = if budget == 0 && model.contains("pro") {
            128
        } else {
            budget
        };
        generation["thinkingConfig"] = json!({"thinkingBudget": budget});
    }
    let mut body = json!({"contents": contents, "generationConfig": generation});
    if let Some(system) = &request.system {
        body["systemInstruction"] = json!({"parts": [{"text": system}]});
    }
    if !request.tools.is_empty() {
        body["tools"] = json!([{"functionDeclarations": request.tools.iter().map(|t| json!({
            "name": t.name, "description": t.description, "parameters": t.parameters,
        })).collect::<Vec<_>>()}]);
    }
    body
}

#[async_trait]
impl LlmProvider for Gemini {
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
            "{}/v1beta/models/{}:streamGenerateContent?alt=sse",
            self.base, model
        );
        let mut req = self
            .common
            .client
            .post(url)
            .header("accept", "text/event-stream")
            .json(&body(&request, &model));
        if let Some(key) = &self.common.api_key {
            req = req.header("x-goog-api-key", key);
        }
        let resp = http::send(&self.common.name, req).await?;
        Ok(http::decode(
            &self.common.name,
            resp,
            GeminiDecoder {
                provider: self.common.name.clone(),
                model,
                sse: Sse::default(),
                usage: Usage::default(),
                finish: None,
                calls: false,
            },
        ))
    }
}

#[derive(Debug)]
struct GeminiDecoder {
    provider: String,
    model: String,
    sse: Sse,
    usage: Usage,
    finish: Option<FinishReason>,
    calls: bool,
}

impl GeminiDecoder {
    fn on_data(&mut self, data: &str, out: &mut VecDeque<ChatEvent>) -> Result<(), LlmError> {
        let v = http::json(&self.provider, data)?;
        if let Some(err) = v.get("error") {
            return Err(LlmError::Status {
                provider: self.provider.clone(),
                status: u16::try_from(err["code"].as_u64().unwrap_or(500)).unwrap_or(500),
                message: err["message"].as_str().unwrap_or("error").to_owned(),
            });
        }
        if v.get("candidates").is_none() && v.get("usageMetadata").is_none() {
            return Err(malformed(&self.provider, "a chunk has no candidates"));
        }
        if let Some(m) = v["modelVersion"].as_str() {
            m.clone_into(&mut self.model);
        }
        let candidate = &v["candidates"][0];
        for part in candidate["content"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if part["thought"].as_bool() == Some(true) {
                continue;
            }
            if let Some(text) = part["text"].as_str() {
                if !text.is_empty() {
                    out.push_back(ChatEvent::TextDelta {
                        text: text.to_owned(),
                    });
                }
            } else if let Some(call) = part.get("functionCall") {
                self.calls = true;
                out.push_back(ChatEvent::ToolCall {
                    call: quarry_core::ToolCall {
                        id: call["id"]
                            .as_str()
                            .map_or_else(http::call_id, str::to_owned),
                        name: call["name"].as_str().unwrap_or("").to_owned(),
                        arguments: call.get("args").cloned().unwrap_or_else(|| json!({})),
                    },
                });
            }
        }
        if let Some(reason) = candidate["finishReason"].as_str() {
            self.finish = Some(match reason {
                "STOP" if self.calls => FinishReason::ToolCalls,
                "STOP" => FinishReason::Stop,
                "MAX_TOKENS" => FinishReason::Length,
                "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" => {
                    FinishReason::ContentFilter
                }
                _ => FinishReason::Other,
            });
        }
        if let Some(u) = v.get("usageMetadata") {
            self.usage.input_tokens = u["promptTokenCount"].as_u64().unwrap_or(0);
            self.usage.output_tokens = u["candidatesTokenCount"].as_u64().unwrap_or(0)
                + u["thoughtsTokenCount"].as_u64().unwrap_or(0);
        }
        Ok(())
    }
}

impl Decoder for GeminiDecoder {
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
        let Some(reason) = self.finish else {
            return Err(malformed(
                &self.provider,
                "the stream ended without finishReason",
            ));
        };
        out.push_back(ChatEvent::Usage { usage: self.usage });
        out.push_back(ChatEvent::Finish {
            reason,
            provider: self.provider.clone(),
            model: self.model.clone(),
        });
        Ok(())
    }
}
