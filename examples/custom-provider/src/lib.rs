//! An example of a language-model provider crate for quarry: [`EchoProvider`] implements
//! [`LlmProvider`] by echoing the last user message, word by word. A real provider would
//! call its model here; everything else (failover, timeouts, circuit breaker, pricing, the
//! HTTP endpoints) comes from quarry.

use async_trait::async_trait;
use quarry_core::{
    ChatEvent, ChatRequest, ChatRole, ChatStream, FinishReason, LlmError, LlmProvider, Usage,
};

/// Echoes the last user message back.
#[derive(Debug, Default)]
pub struct EchoProvider;

#[async_trait]
impl LlmProvider for EchoProvider {
    fn name(&self) -> &str {
        "echo"
    }

    fn default_model(&self) -> &str {
        "echo-1"
    }

    fn supports_model(&self, model: &str) -> bool {
        model.starts_with("echo-")
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatStream, LlmError> {
        let last = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == ChatRole::User)
            .map(|m| m.content.clone())
            .ok_or_else(|| LlmError::InvalidRequest {
                provider: "echo".to_owned(),
                message: "no user message to echo".to_owned(),
            })?;
        let words: Vec<String> = last.split_inclusive(' ').map(str::to_owned).collect();
        let output_tokens = words.len() as u64;
        let mut events: Vec<Result<ChatEvent, LlmError>> = vec![Ok(ChatEvent::TextDelta {
            text: "echo: ".to_owned(),
        })];
        events.extend(
            words
                .into_iter()
                .map(|text| Ok(ChatEvent::TextDelta { text })),
        );
        events.push(Ok(ChatEvent::Usage {
            usage: Usage {
                input_tokens: output_tokens,
                output_tokens,
                cost_usd: 0.0,
            },
        }));
        events.push(Ok(ChatEvent::Finish {
            reason: FinishReason::Stop,
            provider: "echo".to_owned(),
            model: request.model.unwrap_or_else(|| "echo-1".to_owned()),
        }));
        Ok(Box::pin(futures::stream::iter(events)))
    }
}
