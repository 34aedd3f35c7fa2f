//! The one event model: agents emit [`Event`]s; each API surface renders them in its own wire
//! format, and the store keeps them so history and replay read the same record.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ExecutionResult, Plan, RunId, SessionId, Turn};

/// Token usage and cost of one model call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Cost in US dollars, from the pricing table.
    pub cost_usd: f64,
}

/// Everything that can happen while an agent works on a session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The model started working.
    Thinking {
        /// Progress text.
        message: String,
    },
    /// A full model response arrived.
    LlmResponse {
        /// Its text.
        content: String,
    },
    /// A chunk of streamed model text.
    AssistantDelta {
        /// The new text.
        text: String,
    },
    /// A plan was extracted or updated.
    Plan(Plan),
    /// Code is about to run.
    CodeExecuting {
        /// The code.
        code: String,
    },
    /// Code finished running.
    CodeResult(ExecutionResult),
    /// The model called a tool.
    ToolCall {
        /// Tool name.
        tool_name: String,
        /// Its arguments.
        arguments: serde_json::Value,
    },
    /// A tool returned.
    ToolResult {
        /// Tool name.
        tool_name: String,
        /// What it returned.
        output: String,
        /// How long it took.
        duration_ms: u64,
        /// Error text when it failed.
        error: Option<String>,
    },
    /// Token usage of a model call.
    Usage(Usage),
    /// The session changed state (`thinking`, `tool_use`, `idle`).
    State {
        /// The new state.
        state: String,
    },
    /// Another provider took over a stream after the first one failed.
    ProviderFailover {
        /// The provider that failed.
        from: String,
        /// The provider that took over.
        to: String,
        /// Why the first one failed.
        reason: String,
    },
    /// A round ended.
    RoundComplete(Box<Turn>),
    /// The whole task ended.
    Done,
    /// Something failed.
    Error {
        /// What went wrong.
        message: String,
    },
}

/// An event as stored: ordered per session by `seq`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Position in the session's event log, from 1.
    pub seq: u64,
    /// The session.
    pub session_id: SessionId,
    /// The run that emitted it, if any.
    pub run_id: Option<RunId>,
    /// When it happened.
    #[serde(with = "crate::time::wire")]
    pub at: DateTime<Utc>,
    /// The event.
    pub event: Event,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_json() {
        let events = [
            Event::Thinking {
                message: "Processing...".into(),
            },
            Event::Plan(Plan::parse("1. [ ] a")),
            Event::CodeResult(ExecutionResult::default()),
            Event::RoundComplete(Box::default()),
            Event::Done,
        ];
        for e in events {
            let json = serde_json::to_string(&e).unwrap_or_default();
            let back: Event = serde_json::from_str(&json).unwrap_or(Event::Done);
            assert_eq!(back, e, "{json}");
        }
    }
}
