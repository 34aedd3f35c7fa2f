//! Conversation records: messages, execution results and DSAgent-style turns.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{MessageId, Plan, SessionId, TenantId};

/// Who wrote a message (DSAgent's roles).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The human.
    User,
    /// The analyst.
    Assistant,
    /// Output of executed code.
    Execution,
    /// System instructions.
    System,
}

impl Role {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Execution => "execution",
            Self::System => "system",
        }
    }

    /// Parses a wire or storage name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "user" => Self::User,
            "assistant" => Self::Assistant,
            "execution" => Self::Execution,
            "system" => Self::System,
            _ => return None,
        })
    }
}

/// One message of a session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Its id.
    pub id: MessageId,
    /// Its tenant.
    #[serde(skip_serializing)]
    pub tenant_id: TenantId,
    /// Its session.
    #[serde(skip_serializing)]
    pub session_id: SessionId,
    /// Who wrote it.
    pub role: Role,
    /// Its text.
    pub content: String,
    /// When it was written.
    #[serde(with = "crate::time::wire")]
    pub timestamp: DateTime<Utc>,
    /// Free-form facts about it (`has_code`, `has_plan`, …).
    pub metadata: serde_json::Value,
}

/// Filter and page for listing messages, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageQuery {
    /// Only messages with this role.
    pub role: Option<Role>,
    /// Page size.
    pub limit: u32,
    /// Messages to skip.
    pub offset: u32,
}

/// A picture produced by code, base64 encoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// `png`, `jpeg`, …
    pub format: String,
    /// Base64 of the bytes.
    pub data: String,
}

/// What running a piece of code produced (DSAgent's `ExecutionResult`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionResult {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Error text when it failed.
    pub error: Option<String>,
    /// Pictures it drew.
    pub images: Vec<Image>,
    /// True when it ran without error.
    pub success: bool,
}

/// One round of the analyst, in the shape of DSAgent's `round_complete` event and `turns`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// 1-based round number.
    pub round: u32,
    /// When the round ended.
    #[serde(with = "crate::time::wire::option", default)]
    pub timestamp: Option<DateTime<Utc>>,
    /// The user's message that started it; `None` for autonomous continuation rounds.
    pub user_message: Option<String>,
    /// Full model response text.
    pub content: String,
    /// Code extracted from the response.
    pub code: Option<String>,
    /// What running the code produced.
    pub execution_result: Option<ExecutionResult>,
    /// The plan as it stands after the round.
    pub plan: Option<Plan>,
    /// True when the response holds an answer.
    pub has_answer: bool,
    /// The answer text.
    pub answer: Option<String>,
    /// The model's reasoning, when available.
    pub thinking: Option<String>,
    /// True when the task is done.
    pub is_complete: bool,
}
