//! The offline Python analyst: turns a plain-language instruction about a table `df` into
//! pandas code that leaves its answer in a DataFrame `result`. It understands common
//! operations (describe, filter, group and aggregate, sort/top-N, pivot, a computed column)
//! and plainly refuses the rest, unless a language model is at hand to write the code.

use std::{sync::Arc, time::Duration};

use futures::StreamExt;
use quarry_core::{ChatEvent, ChatMessage, ChatRequest, LlmProvider};

mod rules;

pub use rules::{generate, py_str};

/// Code for an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    /// Python that reads `df` and assigns `result`.
    pub code: String,
    /// One line saying what it does.
    pub summary: String,
    /// Who wrote it: `rules` or the model's provider name.
    pub author: String,
}

/// Why no code could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalystError {
    /// The rules do not understand the instruction and no model is configured.
    #[error("{0}")]
    NotUnderstood(String),
    /// The model failed or answered without code.
    #[error("language model: {0}")]
    Model(String),
}

/// Writes pandas code for instructions: by rules first, then by a model when one is set.
#[derive(Clone, Debug, Default)]
pub struct PythonAnalyst {
    llm: Option<Arc<dyn LlmProvider>>,
}

const MODEL_TIMEOUT: Duration = Duration::from_secs(120);

const SYSTEM_PROMPT: &str = "You write Python for a data analyst. A pandas DataFrame named `df` \
is loaded (pandas is imported as `pd`, numpy as `np`). Write code that answers the request and \
assigns the answer, a pandas DataFrame, to a variable named `result`. Use only pandas, numpy and \
matplotlib; no network, no files outside the current directory. Answer with one ```python code \
block and nothing else.";

impl PythonAnalyst {
    /// An analyst that asks `llm` when its rules do not understand an instruction.
    pub fn new(llm: Option<Arc<dyn LlmProvider>>) -> Self {
        Self { llm }
    }

    /// The model asked when the rules do not understand, if any.
    pub fn model(&self) -> Option<&Arc<dyn LlmProvider>> {
        self.llm.as_ref()
    }

    /// Code answering `instruction` about a table with `columns`.
    pub async fn code_for(
        &self,
        instruction: &str,
        columns: &[String],
    ) -> Result<Generated, AnalystError> {
        match generate(instruction, columns) {
            Ok(g) => Ok(g),
            Err(why) => match &self.llm {
                None => Err(AnalystError::NotUnderstood(why)),
                Some(llm) => ask_model(llm.as_ref(), instruction, columns).await,
            },
        }
    }
}

async fn ask_model(
    llm: &dyn LlmProvider,
    instruction: &str,
    columns: &[String],
) -> Result<Generated, AnalystError> {
    let request = ChatRequest {
        system: Some(SYSTEM_PROMPT.into()),
        messages: vec![ChatMessage::user(format!(
            "Columns of df: {}\nRequest: {instruction}",
            serde_json::to_string(columns).unwrap_or_default()
        ))],
        max_tokens: Some(2000),
        temperature: Some(0.0),
        ..ChatRequest::default()
    };
    let collect = async {
        let mut stream = llm
            .chat(request)
            .await
            .map_err(|e| AnalystError::Model(e.to_string()))?;
        let mut text = String::new();
        while let Some(event) = stream.next().await {
            match event.map_err(|e| AnalystError::Model(e.to_string()))? {
                ChatEvent::TextDelta { text: t } => text.push_str(&t),
                ChatEvent::Failover { .. } => text.clear(),
                ChatEvent::Finish { .. } => break,
                _ => {}
            }
        }
        Ok::<_, AnalystError>(text)
    };
    let text = tokio::time::timeout(MODEL_TIMEOUT, collect)
        .await
        .map_err(|_| AnalystError::Model("no answer within 120 s".into()))??;
    let code = extract_code(&text)
        .ok_or_else(|| AnalystError::Model("the answer holds no Python code".into()))?;
    Ok(Generated {
        code,
        summary: format!("Analysis written by {}", llm.name()),
        author: llm.name().to_owned(),
    })
}

/// The first fenced code block of `text`, or `text` itself when it has no fence.
fn extract_code(text: &str) -> Option<String> {
    let code = match text.find("```") {
        Some(start) => {
            let after = &text[start + 3..];
            let body = after.split_once('\n').map_or("", |(_, b)| b);
            body.split("```").next().unwrap_or(body)
        }
        None => text,
    };
    let code = code.trim();
    (!code.is_empty()).then(|| code.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn cols() -> Vec<String> {
        ["region", "product", "revenue", "cost", "month"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn extracts_fenced_code() {
        assert_eq!(
            extract_code("x\n```python\nresult = df\n```\n").unwrap(),
            "result = df"
        );
        assert_eq!(extract_code("result = df").unwrap(), "result = df");
        assert!(extract_code("``` \n```").is_none());
    }

    /// A provider that answers every request with a scripted text, as a vendor stream.
    #[derive(Debug)]
    struct Scripted(&'static str, std::sync::Mutex<Vec<ChatRequest>>);

    #[async_trait::async_trait]
    impl LlmProvider for Scripted {
        fn name(&self) -> &str {
            "scripted"
        }
        fn default_model(&self) -> &str {
            "m"
        }
        fn supports_model(&self, _: &str) -> bool {
            true
        }
        async fn chat(
            &self,
            request: ChatRequest,
        ) -> Result<quarry_core::ChatStream, quarry_core::LlmError> {
            self.1.lock().unwrap().push(request);
            let (a, b) = self.0.split_at(self.0.len() / 2);
            let events = vec![
                Ok(ChatEvent::TextDelta { text: a.to_owned() }),
                Ok(ChatEvent::TextDelta { text: b.to_owned() }),
                Ok(ChatEvent::Finish {
                    reason: quarry_core::FinishReason::Stop,
                    provider: "scripted".into(),
                    model: "m".into(),
                }),
            ];
            Ok(Box::pin(futures::stream::iter(events)))
        }
    }

    #[tokio::test]
    async fn asks_the_model_only_for_what_the_rules_refuse() {
        let fake = Arc::new(Scripted(
            "Here:\n```python\nresult = df.corr(numeric_only=True)\n```",
            Default::default(),
        ));
        let analyst = PythonAnalyst::new(Some(fake.clone()));
        let g = analyst
            .code_for("correlation matrix please", &cols())
            .await
            .unwrap();
        assert_eq!(g.code, "result = df.corr(numeric_only=True)");
        assert_eq!(g.author, "scripted");
        let sent = fake.1.lock().unwrap().clone();
        assert_eq!(sent.len(), 1);
        assert!(sent[0].messages[0].content.contains("\"revenue\""));
        // Understood instructions never reach the model.
        let g = analyst.code_for("describe", &cols()).await.unwrap();
        assert_eq!(g.author, "rules");
        assert_eq!(fake.1.lock().unwrap().len(), 1);
        // Without a model the refusal says what is understood.
        let err = PythonAnalyst::default()
            .code_for("correlation matrix please", &cols())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("group and"), "{err}");
    }
}
