//! The offline analyst as a [`LlmProvider`] (`offline`): the failover router's last resort.
//! Given a chat, it answers a data question about the default connection in plain text (it
//! runs the query and states the result); otherwise it explains what it can do.

use std::sync::Arc;

use async_trait::async_trait;
use quarry_core::{
    ChatEvent, ChatRequest, ChatRole, ChatStream, FinishReason, LlmError, LlmProvider,
};

use crate::{
    DataSource, SemanticModel,
    agent::{AgentStatus, ExecutionMode, Question, SqlAgent},
    analyst::{CAPABILITIES, PROVIDER_HINT},
};

/// The model name the offline provider reports.
pub const OFFLINE_MODEL: &str = "offline-analyst";

/// The connection the offline provider answers from.
#[derive(Clone, Debug)]
pub struct DefaultConnection {
    /// Its id.
    pub id: String,
    /// The source.
    pub source: DataSource,
    /// Its semantic model.
    pub semantic: SemanticModel,
}

/// The offline analyst behind the language-model port.
#[derive(Clone, Debug)]
pub struct OfflineProvider {
    agent: Arc<SqlAgent>,
    connection: Option<DefaultConnection>,
}

impl OfflineProvider {
    /// A provider answering from `connection` (none: it can only explain itself).
    pub fn new(agent: Arc<SqlAgent>, connection: Option<DefaultConnection>) -> Self {
        Self { agent, connection }
    }

    /// The plain-text answer to `request`.
    pub async fn answer(&self, request: &ChatRequest) -> String {
        let question = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == ChatRole::User)
            .map(|m| m.content.trim().to_owned())
            .unwrap_or_default();
        let Some(conn) = &self.connection else {
            return format!(
                "{CAPABILITIES} No database is connected, so I cannot answer questions yet. {PROVIDER_HINT}"
            );
        };
        if question.is_empty() {
            return CAPABILITIES.to_owned();
        }
        let answer = self
            .agent
            .ask(Question {
                connection_id: &conn.id,
                source: &conn.source,
                semantic: &conn.semantic,
                examples: &[],
                text: &question,
                mode: ExecutionMode::AutoExecute,
                max_rows: Some(20),
                llm: None,
            })
            .await;
        match answer.status {
            AgentStatus::Executed | AgentStatus::Cached => {
                let mut text = answer.sentence();
                if let (Some(r), Some(sql)) = (&answer.result, &answer.sql) {
                    if r.rows.len() > 1 || r.columns.len() > 1 {
                        text.push_str("\n\n");
                        text.push_str(&r.columns.join(" | "));
                        for row in r.rows.iter().take(20) {
                            text.push('\n');
                            text.push_str(
                                &row.iter()
                                    .map(|v| {
                                        v.as_str()
                                            .map(str::to_owned)
                                            .unwrap_or_else(|| v.to_string())
                                    })
                                    .collect::<Vec<_>>()
                                    .join(" | "),
                            );
                        }
                    }
                    text.push_str(&format!("\n\nQuery:\n{sql}"));
                }
                text
            }
            _ => format!(
                "{}\n\n{CAPABILITIES}",
                answer.error.unwrap_or(answer.explanation)
            ),
        }
    }
}

#[async_trait]
impl LlmProvider for OfflineProvider {
    fn name(&self) -> &str {
        "offline"
    }

    fn default_model(&self) -> &str {
        OFFLINE_MODEL
    }

    fn supports_model(&self, model: &str) -> bool {
        model == OFFLINE_MODEL || model == "offline"
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatStream, LlmError> {
        let text = self.answer(&request).await;
        let events = vec![
            Ok(ChatEvent::TextDelta { text }),
            // No tokens, no cost: reported all the same, so every answer has its usage.
            Ok(ChatEvent::Usage {
                usage: quarry_core::Usage::default(),
            }),
            Ok(ChatEvent::Finish {
                reason: FinishReason::Stop,
                provider: "offline".into(),
                model: OFFLINE_MODEL.into(),
            }),
        ];
        Ok(Box::pin(futures::stream::iter(events)))
    }
}
