//! Every wire format against the fake vendor: streamed text, tool calls split across chunks,
//! usage, and errors mapped to the classified [`LlmError`]s.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use futures::StreamExt;
use quarry_core::{
    ChatEvent, ChatMessage, ChatRequest, FinishReason, LlmError, LlmProvider, ToolSpec,
};
use quarry_providers::{
    ProviderKind, ProviderSpec, build_provider,
    testing::{FakeVendor, Fault, Script},
};
use serde_json::json;

const KINDS: [ProviderKind; 5] = [
    ProviderKind::Openai,
    ProviderKind::Anthropic,
    ProviderKind::Gemini,
    ProviderKind::Ollama,
    ProviderKind::Bedrock,
];

fn spec(kind: ProviderKind, fake: &FakeVendor) -> ProviderSpec {
    let name = kind.as_str();
    let base = if kind == ProviderKind::Openai {
        fake.openai_url()
    } else {
        fake.url()
    };
    let mut s = ProviderSpec::named(name, Some("test-key-123456".into()), Some(base));
    s.kind = kind;
    if kind == ProviderKind::Bedrock {
        s.secret_key = Some("secret".into());
        s.region = Some("us-west-2".into());
    }
    s
}

fn provider(kind: ProviderKind, fake: &FakeVendor) -> std::sync::Arc<dyn LlmProvider> {
    build_provider(&spec(kind, fake), Duration::from_secs(2))
}

fn request() -> ChatRequest {
    ChatRequest {
        system: Some("be brief".into()),
        messages: vec![ChatMessage::user("hi")],
        tools: vec![ToolSpec {
            name: "run_sql".into(),
            description: "Runs SQL".into(),
            parameters: json!({"type":"object","properties":{"sql":{"type":"string"}}}),
        }],
        max_tokens: Some(100),
        ..ChatRequest::default()
    }
}

async fn collect(p: &dyn LlmProvider) -> Result<Vec<ChatEvent>, LlmError> {
    let mut stream = p.chat(request()).await?;
    let mut out = Vec::new();
    let guard = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(ev) = stream.next().await {
            out.push(ev?);
        }
        Ok::<_, LlmError>(())
    });
    guard.await.expect("the stream must end")?;
    Ok(out)
}

fn text(events: &[ChatEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn every_wire_format_streams_text_tool_calls_and_usage() {
    let fake = FakeVendor::start().await;
    fake.set_script(Script {
        tool_call: Some((
            "run_sql".into(),
            json!({"sql": "SELECT count(*) FROM orders"}),
        )),
        input_tokens: 21,
        output_tokens: 7,
        ..Script::default()
    });
    for kind in KINDS {
        let p = provider(kind, &fake);
        let events = collect(p.as_ref())
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(text(&events), "Hello, world!", "{kind:?}: {events:?}");
        let calls: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                ChatEvent::ToolCall { call } => Some(call),
                _ => None,
            })
            .collect();
        assert_eq!(calls.len(), 1, "{kind:?}: {events:?}");
        assert_eq!(calls[0].name, "run_sql");
        assert_eq!(
            calls[0].arguments,
            json!({"sql": "SELECT count(*) FROM orders"})
        );
        assert!(!calls[0].id.is_empty());
        assert!(
            events.iter().any(|e| matches!(e, ChatEvent::Usage { usage } if usage.input_tokens == 21 && usage.output_tokens == 7)),
            "{kind:?}: {events:?}"
        );
        match events.last() {
            Some(ChatEvent::Finish {
                reason, provider, ..
            }) => {
                assert_eq!(*reason, FinishReason::ToolCalls, "{kind:?}");
                assert_eq!(provider, kind.as_str());
            }
            other => panic!("{kind:?}: last event {other:?}"),
        }
        // Each wire carries its credentials its own way.
        let got = fake.received().pop().unwrap();
        match kind {
            ProviderKind::Openai => {
                assert_eq!(got.header("authorization"), Some("Bearer test-key-123456"));
                assert_eq!(got.body["messages"][0]["role"], "system");
                assert_eq!(got.body["tools"][0]["function"]["name"], "run_sql");
            }
            ProviderKind::Anthropic => {
                assert_eq!(got.header("x-api-key"), Some("test-key-123456"));
                assert_eq!(got.header("anthropic-version"), Some("2023-06-01"));
                assert_eq!(got.body["system"], "be brief");
            }
            ProviderKind::Gemini => {
                assert_eq!(got.header("x-goog-api-key"), Some("test-key-123456"));
                assert!(got.path.contains("alt=sse"), "{}", got.path);
            }
            ProviderKind::Ollama => assert_eq!(got.body["stream"], true),
            ProviderKind::Bedrock => {
                let auth = got.header("authorization").unwrap();
                assert!(
                    auth.starts_with("AWS4-HMAC-SHA256 Credential=test-key-123456/"),
                    "{auth}"
                );
                assert!(auth.contains("/us-west-2/bedrock/aws4_request"), "{auth}");
                assert!(got.header("x-amz-date").is_some());
                assert!(got.path.starts_with("/model/") && got.path.ends_with("/converse-stream"));
            }
        }
    }
}

#[tokio::test]
async fn errors_are_classified_for_every_wire_format() {
    let fake = FakeVendor::start().await;
    for kind in KINDS {
        let p = provider(kind, &fake);
        fake.push_fault(Fault::RateLimited(7));
        match collect(p.as_ref()).await {
            Err(LlmError::RateLimited {
                retry_after_secs, ..
            }) => {
                assert_eq!(retry_after_secs, Some(7), "{kind:?}");
            }
            other => panic!("{kind:?}: 429 gave {other:?}"),
        }
        fake.push_fault(Fault::ServerError);
        match collect(p.as_ref()).await {
            Err(LlmError::Status {
                status: 500,
                message,
                ..
            }) => {
                assert!(message.contains("upstream exploded"), "{kind:?}: {message}");
            }
            other => panic!("{kind:?}: 500 gave {other:?}"),
        }
        for fault in [Fault::GarbageChunk, Fault::TruncatedJson] {
            fake.push_fault(fault);
            match collect(p.as_ref()).await {
                Err(LlmError::Malformed { provider, .. }) => assert_eq!(provider, kind.as_str()),
                other => panic!("{kind:?}: {fault:?} gave {other:?}"),
            }
        }
        fake.push_fault(Fault::ResetMidStream);
        let err = collect(p.as_ref()).await.unwrap_err();
        assert!(err.is_retryable(), "{kind:?}: reset gave {err:?}");
    }
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let fake = FakeVendor::start().await;
    let url = fake.openai_url();
    drop(fake);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let p = build_provider(
        &ProviderSpec::named("openai", Some("k".into()), Some(url)),
        Duration::from_secs(2),
    );
    match p.chat(request()).await {
        Err(LlmError::Connect { provider, .. }) => assert_eq!(provider, "openai"),
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("a closed port answered"),
    }
}
