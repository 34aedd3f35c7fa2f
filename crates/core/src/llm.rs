//! The language-model port: one normalised request, one normalised stream of events.
//!
//! Every provider (OpenAI-compatible, Anthropic, Gemini, Ollama, Bedrock, the built-in
//! offline analyst, a user's own crate) implements [`LlmProvider`]; the failover router in
//! `quarry-providers` implements it too, so callers never know how many providers stand
//! behind the one they hold.

use std::{fmt, pin::Pin};

use async_trait::async_trait;
use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::Usage;

/// Who said a chat message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatRole {
    /// The person (or program) asking.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call, fed back to the model.
    Tool,
}

/// One message of a conversation sent to a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who said it.
    pub role: ChatRole,
    /// Its text (for [`ChatRole::Tool`], the tool's output).
    #[serde(default)]
    pub content: String,
    /// Tool calls the assistant made in this message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a tool result: the id of the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: ChatRole::User,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: ChatRole::Assistant,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// The output of tool call `call_id`.
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            role: ChatRole::Tool,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: Some(call_id.into()),
        }
    }
}

/// A tool the model may call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Its name (`[a-zA-Z0-9_-]{1,64}`).
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of its arguments (an object schema).
    pub parameters: serde_json::Value,
}

/// A tool call the model made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id for the call (generated when the provider has none).
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// Its arguments, parsed from the model's JSON.
    pub arguments: serde_json::Value,
}

/// How hard the model should think (OpenAnalyst's `effort`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effort {
    /// Fast and cheap.
    Low,
    /// The default.
    #[default]
    Medium,
    /// More reasoning.
    High,
    /// As much as the model offers.
    Max,
}

impl Effort {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Max => "max",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            "max" => Some(Self::Max),
            _ => None,
        }
    }
}

/// A normalised request to a model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model; `None` lets the provider (or router) choose its default.
    pub model: Option<String>,
    /// The system prompt.
    pub system: Option<String>,
    /// The conversation so far, oldest first.
    pub messages: Vec<ChatMessage>,
    /// Tools the model may call.
    #[serde(default)]
    pub tools: Vec<ToolSpec>,
    /// Reasoning effort.
    #[serde(default)]
    pub effort: Effort,
    /// Largest answer, in tokens.
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
}

/// Why a model stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// It finished its answer.
    Stop,
    /// It hit `max_tokens`.
    Length,
    /// It wants tool results.
    ToolCalls,
    /// The provider filtered the answer.
    ContentFilter,
    /// Something else the provider reported.
    Other,
}

/// One event of a model's streamed answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatEvent {
    /// More answer text.
    TextDelta {
        /// The new text.
        text: String,
    },
    /// A complete tool call (providers assemble calls split across chunks).
    ToolCall {
        /// The call.
        call: ToolCall,
    },
    /// Tokens used and their cost.
    Usage {
        /// The figures.
        usage: Usage,
    },
    /// A provider failed after the stream had started and another one takes over from the
    /// beginning of the answer; text already received from `from` should be discarded.
    Failover {
        /// The provider that failed.
        from: String,
        /// The provider that answers now.
        to: String,
        /// Why `from` failed.
        reason: String,
    },
    /// The answer is complete; nothing follows.
    Finish {
        /// Why it stopped.
        reason: FinishReason,
        /// The provider that produced the answer.
        provider: String,
        /// The model that produced the answer.
        model: String,
    },
}

/// How a model call failed, classified for the failover router.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// The provider could not be reached (DNS, refused, TLS, reset before an answer).
    #[error("{provider}: cannot connect: {message}")]
    Connect {
        /// The provider.
        provider: String,
        /// What happened.
        message: String,
    },
    /// A configured timeout expired.
    #[error("{provider}: timed out ({stage})")]
    Timeout {
        /// The provider.
        provider: String,
        /// Which timeout: `connect`, `first byte`, `idle`, `total`.
        stage: String,
    },
    /// The provider asked us to slow down (HTTP 429).
    #[error("{provider}: rate limited{}", retry_after_secs.map(|s| format!(" (retry after {s}s)")).unwrap_or_default())]
    RateLimited {
        /// The provider.
        provider: String,
        /// Its `Retry-After`, in seconds.
        retry_after_secs: Option<u64>,
    },
    /// The provider answered with an error status.
    #[error("{provider}: HTTP {status}: {message}")]
    Status {
        /// The provider.
        provider: String,
        /// The HTTP status.
        status: u16,
        /// The provider's error message.
        message: String,
    },
    /// The provider's answer could not be understood (garbage chunk, truncated JSON).
    #[error("{provider}: malformed response: {message}")]
    Malformed {
        /// The provider.
        provider: String,
        /// What was wrong.
        message: String,
    },
    /// The provider is not configured well enough to be called (no key, unknown model).
    #[error("{provider}: not configured: {message}")]
    NotConfigured {
        /// The provider.
        provider: String,
        /// What is missing.
        message: String,
    },
    /// The request itself is wrong; no provider would accept it (HTTP 400-class except 429).
    #[error("{provider}: request refused: {message}")]
    InvalidRequest {
        /// The provider.
        provider: String,
        /// Why.
        message: String,
    },
    /// The provider's circuit breaker is open.
    #[error("{provider}: temporarily skipped after repeated failures")]
    CircuitOpen {
        /// The provider.
        provider: String,
    },
    /// Every provider of a chain failed; each entry says which and why.
    #[error("every provider failed: {}", join_failures(.0))]
    AllFailed(Vec<LlmError>),
}

fn join_failures(errors: &[LlmError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl LlmError {
    /// True when another attempt (on this provider or the next) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect { .. }
            | Self::Timeout { .. }
            | Self::RateLimited { .. }
            | Self::Malformed { .. }
            | Self::CircuitOpen { .. } => true,
            Self::Status { status, .. } => *status >= 500 || *status == 408 || *status == 409,
            Self::NotConfigured { .. } | Self::InvalidRequest { .. } | Self::AllFailed(_) => false,
        }
    }
}

/// A model's streamed answer.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatEvent, LlmError>> + Send + 'static>>;

/// A language model behind some wire format.
///
/// `chat` returns once the provider has accepted the request (status and headers received);
/// the stream then yields events and ends after [`ChatEvent::Finish`] or an error. Dropping
/// the stream cancels the upstream request.
#[async_trait]
pub trait LlmProvider: Send + Sync + fmt::Debug {
    /// The provider's name (`openai`, `anthropic`, `offline`, …), unique in a router.
    fn name(&self) -> &str;

    /// The model used when a request names none.
    fn default_model(&self) -> &str;

    /// True when this provider serves `model` (the router sends a named model to the first
    /// provider that claims it).
    fn supports_model(&self, model: &str) -> bool;

    /// Sends `request` and streams the answer.
    async fn chat(&self, request: ChatRequest) -> Result<ChatStream, LlmError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_each_provider() {
        let all = LlmError::AllFailed(vec![
            LlmError::Timeout {
                provider: "openai".into(),
                stage: "first byte".into(),
            },
            LlmError::RateLimited {
                provider: "anthropic".into(),
                retry_after_secs: Some(3),
            },
        ]);
        let text = all.to_string();
        assert!(text.contains("openai: timed out (first byte)"), "{text}");
        assert!(
            text.contains("anthropic: rate limited (retry after 3s)"),
            "{text}"
        );
        assert!(!all.is_retryable());
    }

    #[test]
    fn events_serialise_with_a_type_tag() {
        let ev = ChatEvent::TextDelta { text: "hi".into() };
        assert_eq!(
            serde_json::to_value(&ev).ok(),
            Some(serde_json::json!({"type":"text_delta","text":"hi"}))
        );
        assert_eq!(Effort::parse("max"), Some(Effort::Max));
        assert_eq!(Effort::parse("extreme"), None);
    }
}
