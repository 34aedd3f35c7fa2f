//! The agent: cache, execution modes, the language-model path with error feedback, and the
//! offline analyst behind the `LlmProvider` port.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::StreamExt;
use quarry_core::{
    ChatEvent, ChatMessage, ChatRequest, ChatRole, ChatStream, FinishReason, LlmError, LlmProvider,
};
use quarry_sql::{
    AgentSettings, AgentStatus, ConnectionSpec, DataSource, DefaultConnection, ExecutionMode,
    OfflineProvider, Question, SemanticModel, SqlAgent, demo,
};

/// A model that answers with scripted replies, in order, and records what it was sent.
#[derive(Debug, Default)]
struct Scripted {
    replies: Mutex<Vec<String>>,
    seen: Mutex<Vec<ChatRequest>>,
}

#[async_trait]
impl LlmProvider for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn default_model(&self) -> &str {
        "scripted-1"
    }
    fn supports_model(&self, _: &str) -> bool {
        true
    }
    async fn chat(&self, request: ChatRequest) -> Result<ChatStream, LlmError> {
        self.seen.lock().unwrap().push(request);
        let mut replies = self.replies.lock().unwrap();
        if replies.is_empty() {
            return Err(LlmError::InvalidRequest {
                provider: "scripted".into(),
                message: "script exhausted".into(),
            });
        }
        let text = replies.remove(0);
        // Split the answer across chunks as real providers do.
        let (a, b) = text.split_at(text.len() / 2);
        let events = vec![
            Ok(ChatEvent::TextDelta { text: a.to_owned() }),
            Ok(ChatEvent::TextDelta { text: b.to_owned() }),
            Ok(ChatEvent::Finish {
                reason: FinishReason::Stop,
                provider: "scripted".into(),
                model: "scripted-1".into(),
            }),
        ];
        Ok(Box::pin(futures::stream::iter(events)))
    }
}

async fn demo_source() -> (tempfile::TempDir, DataSource) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(demo::DEMO_FILE);
    demo::ensure(&path).await.unwrap();
    let src = DataSource::connect(&ConnectionSpec::sqlite(&path))
        .await
        .unwrap();
    (dir, src)
}

fn question<'a>(
    src: &'a DataSource,
    sem: &'a SemanticModel,
    text: &'a str,
    mode: ExecutionMode,
) -> Question<'a> {
    Question {
        connection_id: "demo",
        source: src,
        semantic: sem,
        examples: &[],
        text,
        mode,
        max_rows: None,
        llm: None,
    }
}

#[tokio::test]
async fn offline_answers_are_cached_and_modes_are_respected() {
    let (_dir, src) = demo_source().await;
    let sem = SemanticModel::default();
    let agent = SqlAgent::new(AgentSettings::default());
    let a = agent
        .ask(question(
            &src,
            &sem,
            "How many customers are there?",
            ExecutionMode::AutoExecute,
        ))
        .await;
    assert_eq!(a.status, AgentStatus::Executed, "{a:?}");
    assert!(!a.cache_hit);
    assert_eq!(a.result.as_ref().unwrap().rows[0][0], demo::CUSTOMERS);
    assert_eq!(a.dialect, "SQLite");
    let b = agent
        .ask(question(
            &src,
            &sem,
            "how many customers are there",
            ExecutionMode::AutoExecute,
        ))
        .await;
    assert_eq!((b.status, b.cache_hit), (AgentStatus::Cached, true));
    assert_eq!(b.result, a.result);
    let stats = agent.cache_stats();
    assert_eq!((stats.hits, stats.entries), (1, 1));
    assert_eq!(agent.clear_cache(), 1);

    let r = agent
        .ask(question(
            &src,
            &sem,
            "How many orders were completed?",
            ExecutionMode::ReviewFirst,
        ))
        .await;
    assert_eq!(r.status, AgentStatus::PendingApproval);
    assert!(r.result.is_none());
    // Approving runs the held query through the guard again; an edited one too.
    let held = r.sql.unwrap();
    let ran = agent.run_sql(&src, &held, None).await.unwrap();
    assert!(ran.rows[0][0].as_i64().unwrap() > 0);
    assert!(
        agent
            .run_sql(&src, "DELETE FROM orders", None)
            .await
            .is_err()
    );

    let g = agent
        .ask(question(
            &src,
            &sem,
            "Revenue by category",
            ExecutionMode::GenerateOnly,
        ))
        .await;
    assert_eq!(g.status, AgentStatus::QueryOnly);
    assert!(g.result.is_none() && g.sql.is_some());

    let n = agent
        .ask(question(
            &src,
            &sem,
            "Why do customers leave?",
            ExecutionMode::AutoExecute,
        ))
        .await;
    assert_eq!(n.status, AgentStatus::Error);
    assert!(n.error.unwrap().contains("language model"));
}

#[tokio::test]
async fn a_model_gets_its_database_error_back_and_corrects_itself() {
    let (_dir, src) = demo_source().await;
    let sem = SemanticModel::default();
    let agent = SqlAgent::new(AgentSettings::default());
    let model = Arc::new(Scripted {
        replies: Mutex::new(vec![
            "Counting clients.\n```sql\nSELECT COUNT(*) AS n FROM clients\n```".into(),
            "Sorry.\n```sql\nDELETE FROM customers\n```".into(),
            "Counting customers.\n```sql\nSELECT COUNT(*) AS n FROM customers\n```".into(),
        ]),
        ..Scripted::default()
    });
    let mut q = question(
        &src,
        &sem,
        "How many customers are there?",
        ExecutionMode::AutoExecute,
    );
    q.llm = Some(model.clone());
    let a = agent.ask(q).await;
    assert_eq!(a.status, AgentStatus::Executed, "{a:?}");
    assert_eq!(a.generator, "scripted");
    assert_eq!(a.result.unwrap().rows[0][0], demo::CUSTOMERS);
    let seen = model.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    // The prompt carries the schema; each retry carries the previous failure.
    assert!(seen[0].system.as_ref().unwrap().contains("TABLE customers"));
    let last: &ChatMessage = seen[1].messages.last().unwrap();
    assert_eq!(last.role, ChatRole::User);
    assert!(last.content.contains("clients"), "{}", last.content);
    assert!(
        seen[2]
            .messages
            .last()
            .unwrap()
            .content
            .contains("only read-only"),
        "{:?}",
        seen[2].messages
    );

    // Retries are bounded.
    let stubborn = Arc::new(Scripted {
        replies: Mutex::new(vec!["```sql\nSELECT nope FROM customers\n```".into(); 10]),
        ..Scripted::default()
    });
    let mut q = question(
        &src,
        &sem,
        "How many customers now?",
        ExecutionMode::AutoExecute,
    );
    q.llm = Some(stubborn.clone());
    let a = agent.ask(q).await;
    assert_eq!(a.status, AgentStatus::Error);
    assert_eq!(
        stubborn.seen.lock().unwrap().len(),
        AgentSettings::default().max_retries + 1
    );
}

#[tokio::test]
async fn the_offline_provider_answers_data_questions_in_plain_text() {
    let (_dir, src) = demo_source().await;
    let agent = Arc::new(SqlAgent::default());
    let provider = OfflineProvider::new(
        agent,
        Some(DefaultConnection {
            id: "demo".into(),
            source: src,
            semantic: SemanticModel::default(),
        }),
    );
    assert_eq!(provider.name(), "offline");
    let ask = |text: &str| ChatRequest {
        messages: vec![ChatMessage::user(text)],
        ..ChatRequest::default()
    };
    let mut stream = provider
        .chat(ask("How many customers are there?"))
        .await
        .unwrap();
    let mut text = String::new();
    let mut finished = false;
    while let Some(ev) = stream.next().await {
        match ev.unwrap() {
            ChatEvent::TextDelta { text: t } => text.push_str(&t),
            ChatEvent::Finish { provider, .. } => {
                assert_eq!(provider, "offline");
                finished = true;
            }
            _ => {}
        }
    }
    assert!(finished);
    assert!(text.contains(&demo::CUSTOMERS.to_string()), "{text}");
    let help = provider.answer(&ask("Write me a poem")).await;
    assert!(
        help.contains("offline analyst") && help.contains("provider"),
        "{help}"
    );
    let alone = OfflineProvider::new(Arc::new(SqlAgent::default()), None);
    assert!(
        alone
            .answer(&ask("How many customers?"))
            .await
            .contains("No database")
    );
}
