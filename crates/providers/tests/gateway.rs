//! The failover gateway against fake vendors injecting every fault: each case ends in an
//! answer from the next provider or a clear error, never a hang.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use futures::StreamExt;
use quarry_core::{
    ChatEvent, ChatMessage, ChatRequest, ChatStream, FinishReason, LlmError, LlmProvider,
};
use quarry_providers::{
    Gateway, Policy, Pricing, ProviderKind, ProviderSpec, build_provider,
    testing::{FakeVendor, Fault, Script},
};

fn policy() -> Policy {
    Policy {
        connect_timeout: Duration::from_secs(2),
        first_byte_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(400),
        total_timeout: Duration::from_secs(20),
        retries: 1,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_secs(3),
        breaker_failures: 3,
        breaker_cooldown: Duration::from_millis(300),
    }
}

fn openai(name: &str, fake: &FakeVendor) -> Arc<dyn LlmProvider> {
    let mut s = ProviderSpec::named(name, Some("k".into()), Some(fake.openai_url()));
    s.kind = ProviderKind::Openai;
    s.model = Some(format!("{name}-model"));
    build_provider(&s, Duration::from_secs(2))
}

fn anthropic(fake: &FakeVendor) -> Arc<dyn LlmProvider> {
    build_provider(
        &ProviderSpec::named("anthropic", Some("k".into()), Some(fake.url())),
        Duration::from_secs(2),
    )
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::user("hi")],
        ..ChatRequest::default()
    }
}

async fn run(p: &dyn LlmProvider) -> Result<Vec<ChatEvent>, LlmError> {
    tokio::time::timeout(Duration::from_secs(30), async {
        let mut stream = p.chat(request()).await?;
        let mut out = Vec::new();
        while let Some(ev) = stream.next().await {
            out.push(ev?);
        }
        Ok(out)
    })
    .await
    .expect("the gateway must never hang")
}

fn finished_by(events: &[ChatEvent]) -> &str {
    match events.last() {
        Some(ChatEvent::Finish { provider, .. }) => provider,
        other => panic!("no finish: {other:?}"),
    }
}

#[tokio::test]
async fn every_fault_ends_in_an_answer_from_the_next_provider() {
    for fault in [
        Fault::HangBeforeHeaders,
        Fault::HangMidStream,
        Fault::ResetMidStream,
        Fault::RateLimited(1),
        Fault::ServerError,
        Fault::GarbageChunk,
        Fault::TruncatedJson,
    ] {
        let first = FakeVendor::start().await;
        let second = FakeVendor::start().await;
        first.set_fault(fault);
        let gw = Gateway::new(
            vec![openai("primary", &first), anthropic(&second)],
            policy(),
            Pricing::builtin(),
        );
        let events = run(&gw).await.unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(finished_by(&events), "anthropic", "{fault:?}");
        let failover = events.iter().find_map(|e| match e {
            ChatEvent::Failover { from, to, reason } => Some((from, to, reason)),
            _ => None,
        });
        let mid_stream = matches!(
            fault,
            Fault::HangMidStream
                | Fault::ResetMidStream
                | Fault::GarbageChunk
                | Fault::TruncatedJson
        );
        if mid_stream {
            // After the first byte, failover is announced, and the answer restarts.
            let (from, to, reason) = failover.unwrap_or_else(|| panic!("{fault:?}: {events:?}"));
            assert_eq!((from.as_str(), to.as_str()), ("primary", "anthropic"));
            assert!(!reason.is_empty());
            let after: String = events
                .iter()
                .skip_while(|e| !matches!(e, ChatEvent::Failover { .. }))
                .filter_map(|e| match e {
                    ChatEvent::TextDelta { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect();
            assert_eq!(after, "Hello, world!", "{fault:?}");
        } else {
            assert!(
                failover.is_none(),
                "{fault:?}: silent before the first byte"
            );
        }
        assert!(first.requests() >= 1 && second.requests() == 1, "{fault:?}");
    }
}

#[tokio::test]
async fn when_every_provider_fails_the_error_names_each() {
    let a = FakeVendor::start().await;
    let b = FakeVendor::start().await;
    a.set_fault(Fault::ServerError);
    b.set_fault(Fault::HangBeforeHeaders);
    let mut p = policy();
    p.retries = 0;
    let gw = Gateway::new(
        vec![openai("alpha", &a), anthropic(&b)],
        p,
        Pricing::builtin(),
    );
    let err = run(&gw).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, LlmError::AllFailed(ref v) if v.len() == 2),
        "{err:?}"
    );
    assert!(text.contains("alpha: HTTP 500"), "{text}");
    assert!(text.contains("anthropic: timed out (first byte)"), "{text}");
}

#[tokio::test]
async fn retryable_failures_are_retried_and_retry_after_is_honoured() {
    let fake = FakeVendor::start().await;
    fake.push_fault(Fault::RateLimited(1));
    let gw = Gateway::new(vec![openai("solo", &fake)], policy(), Pricing::builtin());
    let events = run(&gw).await.unwrap();
    assert_eq!(finished_by(&events), "solo");
    assert_eq!(fake.requests(), 2);
}

#[tokio::test]
async fn the_breaker_opens_and_recovers_through_a_half_open_probe() {
    let flaky = FakeVendor::start().await;
    let steady = FakeVendor::start().await;
    flaky.set_fault(Fault::ServerError);
    let mut p = policy();
    p.retries = 0;
    p.breaker_failures = 2;
    p.breaker_cooldown = Duration::from_millis(300);
    let gw = Gateway::new(
        vec![openai("flaky", &flaky), anthropic(&steady)],
        p,
        Pricing::builtin(),
    );
    for _ in 0..2 {
        assert_eq!(finished_by(&run(&gw).await.unwrap()), "anthropic");
    }
    assert_eq!(flaky.requests(), 2);
    assert!(gw.status()[0].breaker_open);
    // Open: the flaky provider is skipped.
    for _ in 0..3 {
        assert_eq!(finished_by(&run(&gw).await.unwrap()), "anthropic");
    }
    assert_eq!(flaky.requests(), 2, "an open breaker sends nothing");
    // After the cooldown one probe goes through; it succeeds and closes the breaker.
    flaky.set_fault(Fault::None);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(finished_by(&run(&gw).await.unwrap()), "flaky");
    assert_eq!(flaky.requests(), 3);
    assert!(!gw.status()[0].breaker_open);
}

#[tokio::test]
async fn an_abandoned_probe_gives_its_slot_back() {
    let flaky = FakeVendor::start().await;
    let steady = FakeVendor::start().await;
    flaky.set_fault(Fault::ServerError);
    let mut p = policy();
    p.retries = 0;
    p.breaker_failures = 1;
    p.breaker_cooldown = Duration::from_millis(200);
    p.idle_timeout = Duration::from_secs(60);
    let gw = Gateway::new(
        vec![openai("flaky", &flaky), anthropic(&steady)],
        p,
        Pricing::builtin(),
    );
    assert_eq!(finished_by(&run(&gw).await.unwrap()), "anthropic");
    assert!(gw.status()[0].breaker_open);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The probe starts answering, then its caller goes away mid-answer.
    flaky.set_fault(Fault::HangMidStream);
    let mut stream = gw.chat(request()).await.unwrap();
    assert!(matches!(
        stream.next().await,
        Some(Ok(ChatEvent::TextDelta { .. }))
    ));
    drop(stream);
    assert_eq!(flaky.requests(), 2);
    // The next request may probe again (and this one succeeds, closing the breaker).
    flaky.set_fault(Fault::None);
    assert_eq!(finished_by(&run(&gw).await.unwrap()), "flaky");
    assert_eq!(flaky.requests(), 3);
    assert!(!gw.status()[0].breaker_open);
}

#[tokio::test]
async fn usage_is_priced() {
    let fake = FakeVendor::start().await;
    fake.set_script(Script {
        input_tokens: 1_000_000,
        output_tokens: 1_000_000,
        ..Script::default()
    });
    let mut s = ProviderSpec::named("openai", Some("k".into()), Some(fake.openai_url()));
    s.model = Some("gpt-4o-mini".into());
    let gw = Gateway::new(
        vec![build_provider(&s, Duration::from_secs(1))],
        policy(),
        Pricing::builtin(),
    );
    let events = run(&gw).await.unwrap();
    let cost = events
        .iter()
        .find_map(|e| match e {
            ChatEvent::Usage { usage } => Some(usage.cost_usd),
            _ => None,
        })
        .unwrap();
    assert!((cost - 0.75).abs() < 1e-9, "{cost}");
}

/// A provider that always answers "offline".
#[derive(Debug)]
struct Offline;

#[async_trait]
impl LlmProvider for Offline {
    fn name(&self) -> &str {
        "offline"
    }
    fn default_model(&self) -> &str {
        "offline"
    }
    fn supports_model(&self, _: &str) -> bool {
        false
    }
    async fn chat(&self, _: ChatRequest) -> Result<ChatStream, LlmError> {
        Ok(Box::pin(futures::stream::iter([
            Ok(ChatEvent::TextDelta {
                text: "offline answer".into(),
            }),
            Ok(ChatEvent::Finish {
                reason: FinishReason::Stop,
                provider: "offline".into(),
                model: "offline".into(),
            }),
        ])))
    }
}

#[tokio::test]
async fn the_last_resort_answers_after_every_provider_and_alone() {
    let fake = FakeVendor::start().await;
    fake.set_fault(Fault::ServerError);
    let mut p = policy();
    p.retries = 0;
    let gw = Gateway::new(vec![openai("down", &fake)], p, Pricing::builtin())
        .with_last_resort(Arc::new(Offline));
    assert_eq!(finished_by(&run(&gw).await.unwrap()), "offline");
    let alone = Gateway::new(Vec::new(), p, Pricing::builtin()).with_last_resort(Arc::new(Offline));
    assert!(!alone.is_empty());
    assert_eq!(finished_by(&run(&alone).await.unwrap()), "offline");
    let nothing = Gateway::new(Vec::new(), p, Pricing::builtin());
    assert!(nothing.is_empty());
    assert!(matches!(
        run(&nothing).await,
        Err(LlmError::NotConfigured { .. })
    ));
}

#[tokio::test]
async fn a_named_model_goes_to_its_provider_first() {
    let a = FakeVendor::start().await;
    let b = FakeVendor::start().await;
    let gw = Gateway::new(
        vec![openai("openai", &a), anthropic(&b)],
        policy(),
        Pricing::builtin(),
    );
    let mut req = request();
    req.model = Some("claude-opus-4-1".into());
    let mut s = gw.chat(req).await.unwrap();
    while s.next().await.is_some() {}
    assert_eq!((a.requests(), b.requests()), (0, 1));
    assert_eq!(b.received()[0].body["model"], "claude-opus-4-1");
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_upstream_request() {
    let fake = FakeVendor::start().await;
    fake.set_fault(Fault::HangMidStream);
    let mut p = policy();
    p.idle_timeout = Duration::from_secs(60);
    let gw = Gateway::new(vec![openai("slow", &fake)], p, Pricing::builtin());
    let mut stream = gw.chat(request()).await.unwrap();
    assert!(matches!(
        stream.next().await,
        Some(Ok(ChatEvent::TextDelta { .. }))
    ));
    assert_eq!(fake.closed_early(), 0);
    drop(stream);
    for _ in 0..200 {
        if fake.closed_early() == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the fake vendor never saw its connection closed");
}
