//! Language models end to end: the real binary pointed at fake vendors through the vendors'
//! own environment variables (`OPENAI_BASE_URL`, `ANTHROPIC_BASE_URL`, …): quick chat,
//! failover, cancellation, stored keys and provider management.

use std::time::Duration;

use futures::StreamExt;
use quarry_providers::testing::{FakeVendor, Fault};
use quarry_tests::{assert_error_shape, client};
use reqwest::Method;
use serde_json::{Value, json};

use crate::fresh_server_with;

/// Every variable that could configure a provider, emptied (empty counts as unset), so a
/// developer's own keys never reach a test server.
const CLEAR: &[(&str, &str)] = &[
    ("OPENAI_API_KEY", ""),
    ("OPENAI_BASE_URL", ""),
    ("ANTHROPIC_API_KEY", ""),
    ("ANTHROPIC_BASE_URL", ""),
    ("GEMINI_API_KEY", ""),
    ("GOOGLE_API_KEY", ""),
    ("XAI_API_KEY", ""),
    ("OPENROUTER_API_KEY", ""),
    ("GROQ_API_KEY", ""),
    ("AWS_ACCESS_KEY_ID", ""),
    ("OLLAMA_HOST", ""),
    // The offline analyst would otherwise answer where these tests expect every provider's
    // failure; `offline_analyst_answers_without_a_provider` turns it back on.
    ("QUARRY_LLM_OFFLINE_FALLBACK", "false"),
];

fn env_with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env: Vec<(&str, &str)> = CLEAR.to_vec();
    env.extend_from_slice(extra);
    env
}

/// `(event, data)` pairs of an SSE body.
fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            (!event.is_empty()).then(|| (event, serde_json::from_str(&data).unwrap_or(Value::Null)))
        })
        .collect()
}

fn deltas(events: &[(String, Value)]) -> String {
    events
        .iter()
        .filter(|(e, _)| e == "assistant_delta")
        .map(|(_, d)| d["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_openai_base_url_and_a_key_are_enough_to_chat() {
    let fake = FakeVendor::start().await;
    let base = fake.openai_url();
    let (_dir, server) = fresh_server_with(
        &[],
        &env_with(&[
            ("OPENAI_BASE_URL", &base),
            ("OPENAI_API_KEY", "sk-only-this"),
        ]),
    );
    let http = client();
    let resp = http
        .post(server.url("/v1/chat"))
        .json(&json!({"message": "How many orders?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = sse_events(&resp.text().await.unwrap());
    assert_eq!(deltas(&events), "Hello, world!", "{events:?}");
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    let usage = names
        .iter()
        .position(|e| *e == "usage")
        .expect("usage event");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    assert!(usage < names.len() - 1);
    let (_, u) = &events[usage];
    assert_eq!(
        (u["input_tokens"].as_u64(), u["output_tokens"].as_u64()),
        (Some(12), Some(4))
    );
    assert!(
        u["cost_usd"].as_f64().unwrap() > 0.0,
        "gpt-4o-mini is priced: {u}"
    );
    assert_eq!(events.last().unwrap().1["provider"], "openai");
    let got = fake.received().pop().unwrap();
    assert_eq!(got.header("authorization"), Some("Bearer sk-only-this"));
    assert_eq!(got.body["messages"][0]["content"], "How many orders?");

    // One JSON body with "stream": false, through the alias too.
    for path in ["/v1/chat", "/v1/query"] {
        let body: Value = http
            .post(server.url(path))
            .json(&json!({"message": "hi", "stream": false, "effort": "high", "system_prompt": "be brief"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["text"], "Hello, world!", "{body}");
        assert_eq!(body["provider"], "openai");
        assert_eq!(body["finish_reason"], "stop");
        assert_eq!(body["usage"]["output_tokens"], 4);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_analyst_answers_without_a_provider() {
    let (_dir, server) =
        fresh_server_with(&[], &env_with(&[("QUARRY_LLM_OFFLINE_FALLBACK", "true")]));
    let http = client();
    let answer: Value = http
        .post(server.url("/v1/chat"))
        .json(&json!({"message": "How many customers are there?", "stream": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["provider"], "offline", "{answer}");
    // The demo database has 500 customers; the answer comes from running the query.
    assert!(answer["text"].as_str().unwrap().contains("500"), "{answer}");

    // Streaming: deltas, then done, from the same provider.
    let body = http
        .post(server.url("/v1/chat"))
        .json(&json!({"message": "How many customers are there?"}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events = sse_events(&body);
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names, ["assistant_delta", "usage", "done"], "{body}");
    let (last, data) = events.last().unwrap();
    assert_eq!(last, "done", "{body}");
    assert_eq!(data["provider"], "offline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_provider_chat_is_503_naming_the_variables() {
    let (_dir, server) = fresh_server_with(&[], &env_with(&[]));
    let http = client();
    let resp = http
        .post(server.url("/v1/chat"))
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(assert_error_shape(&body), "SERVICE_UNAVAILABLE");
    let msg = body["error"]["message"].as_str().unwrap();
    for var in [
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY",
        "OLLAMA_HOST",
    ] {
        assert!(msg.contains(var), "{msg}");
    }
    // Bad input is refused before anything else.
    for (body, code) in [
        (json!({"message": ""}), "VALIDATION_ERROR"),
        (
            json!({"message": "x", "effort": "extreme"}),
            "VALIDATION_ERROR",
        ),
        (
            json!({"message": "x", "model": "has space"}),
            "VALIDATION_ERROR",
        ),
        (json!({"nomessage": 1}), "VALIDATION_ERROR"),
    ] {
        let resp = http
            .post(server.url("/v1/chat"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 422, "{body}");
        assert_eq!(assert_error_shape(&resp.json().await.unwrap()), code);
    }
    let resp = http
        .post(server.url("/v1/query"))
        .header("content-type", "application/json")
        .body("{\"message\":")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_failing_mid_answer_hands_over_visibly() {
    let first = FakeVendor::start().await;
    let second = FakeVendor::start().await;
    first.set_fault(Fault::HangMidStream);
    let (a, b) = (first.openai_url(), second.url());
    let (_dir, server) = fresh_server_with(
        &[],
        &env_with(&[
            ("OPENAI_BASE_URL", &a),
            ("OPENAI_API_KEY", "k1"),
            ("ANTHROPIC_BASE_URL", &b),
            ("ANTHROPIC_API_KEY", "k2"),
            ("QUARRY_PROVIDER_ORDER", "openai,anthropic"),
            ("QUARRY_LLM_IDLE_TIMEOUT_MS", "300"),
        ]),
    );
    let resp = client()
        .post(server.url("/v1/chat"))
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    let events = sse_events(&resp.text().await.unwrap());
    let failover = events
        .iter()
        .find(|(e, _)| e == "failover")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(failover.1["from"], "openai");
    assert_eq!(failover.1["to"], "anthropic");
    assert!(
        failover.1["reason"]
            .as_str()
            .unwrap()
            .contains("timed out (idle)")
    );
    let after: Vec<_> = events
        .iter()
        .skip_while(|(e, _)| e != "failover")
        .cloned()
        .collect();
    assert_eq!(deltas(&after), "Hello, world!");
    assert_eq!(events.last().unwrap().0, "done");
    assert_eq!(events.last().unwrap().1["provider"], "anthropic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_provider_fails_the_error_names_each() {
    let fake = FakeVendor::start().await;
    fake.set_fault(Fault::ServerError);
    let other = FakeVendor::start().await;
    other.set_fault(Fault::RateLimited(120));
    let (a, b) = (fake.openai_url(), other.url());
    let (_dir, server) = fresh_server_with(
        &[],
        &env_with(&[
            ("OPENAI_BASE_URL", &a),
            ("OPENAI_API_KEY", "k1"),
            ("ANTHROPIC_BASE_URL", &b),
            ("ANTHROPIC_API_KEY", "k2"),
            ("QUARRY_LLM_RETRIES", "0"),
        ]),
    );
    let resp = client()
        .post(server.url("/v1/chat"))
        .json(&json!({"message": "hi", "stream": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_error_shape(&body);
    let failures = body["error"]["details"]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2, "{body}");
    assert!(
        failures[0]
            .as_str()
            .unwrap()
            .starts_with("openai: HTTP 500"),
        "{body}"
    );
    assert!(
        failures[1]
            .as_str()
            .unwrap()
            .starts_with("anthropic: rate limited"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_disconnect_cancels_the_upstream_request() {
    let fake = FakeVendor::start().await;
    fake.set_fault(Fault::HangMidStream);
    let base = fake.openai_url();
    let (_dir, server) = fresh_server_with(
        &[],
        &env_with(&[("OPENAI_BASE_URL", &base), ("OPENAI_API_KEY", "k")]),
    );
    let resp = client()
        .post(server.url("/v1/chat"))
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    let mut body = resp.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("assistant_delta") {
        let chunk = body.next().await.expect("first delta").unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert_eq!(fake.closed_early(), 0);
    drop(body);
    for _ in 0..400 {
        if fake.closed_early() == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the upstream connection stayed open after the client left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_keys_are_sealed_used_per_tenant_and_never_returned() {
    let fake = FakeVendor::start().await;
    let base = fake.openai_url();
    let (dir, server) = fresh_server_with(&[], &env_with(&[]));
    let http = client();
    let key = "sk-stored-abcdef987654";
    let resp = http
        .put(server.url("/me/providers/openai"))
        .header("x-tenant-id", "team-a")
        .json(&json!({"api_key": key, "base_url": base}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(!text.contains(key), "{text}");
    let view: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(view["api_key_hint"], "sk-…7654");
    assert_eq!(view["has_api_key"], true);

    let listed = http
        .get(server.url("/me/providers"))
        .header("x-tenant-id", "team-a")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !listed.contains(key) && listed.contains("sk-…7654"),
        "{listed}"
    );

    let answer: Value = http
        .post(server.url("/v1/chat"))
        .header("x-tenant-id", "team-a")
        .json(&json!({"message": "hi", "stream": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["text"], "Hello, world!", "{answer}");
    let auth = fake.received().pop().unwrap();
    assert_eq!(
        auth.header("authorization"),
        Some(&*format!("Bearer {key}"))
    );

    // Another tenant has no provider.
    let other = http
        .post(server.url("/v1/chat"))
        .header("x-tenant-id", "team-b")
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 503);
    let listed_b: Value = http
        .get(server.url("/me/providers"))
        .header("x-tenant-id", "team-b")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed_b["providers"], json!([]));

    // Sealed at rest: the key is nowhere in the data directory in clear.
    drop(server);
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
            "{} holds the key in clear",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nl2sql_provider_crud_and_test() {
    let fake = FakeVendor::start().await;
    let base = fake.openai_url();
    let (_dir, server) = fresh_server_with(&[], &env_with(&[]));
    let http = client();
    let url = server.url("/api/v1/providers");
    let resp = http
        .post(&url)
        .json(
            &json!({"name": "local", "provider_type": "openai_compatible", "base_url": base,
                      "api_key": "lm-studio-key-123", "model": "qwen2.5"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["provider_type"], "openai_compatible");
    assert_eq!(created["api_key_hint"], "lm-…-123");
    assert!(created.get("api_key").is_none());

    for (body, status) in [
        (
            json!({"name": "local", "provider_type": "groq", "api_key": "k"}),
            409,
        ),
        (json!({"name": "x", "provider_type": "skynet"}), 422),
        (
            json!({"name": "x", "provider_type": "openai_compatible"}),
            422,
        ),
        (json!({"name": "Bad Name", "provider_type": "groq"}), 422),
        (
            json!({"name": "x", "provider_type": "groq", "base_url": "ftp://h"}),
            422,
        ),
    ] {
        let resp = http.post(&url).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), status, "{body}");
        assert_error_shape(&resp.json().await.unwrap());
    }

    let list: Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let one_url = format!("{url}/{id}");
    let updated =
        quarry_tests::send_json(&http, Method::PUT, &one_url, &json!({"model": "llama3"})).await;
    assert_eq!(updated["model"], "llama3");
    assert_eq!(updated["api_key_hint"], "lm-…-123", "the key stays");

    let test: Value = http
        .post(format!("{one_url}/test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(test["ok"], true, "{test}");
    assert_eq!(test["reply"], "Hello, world!");
    let got = fake.received().pop().unwrap();
    assert_eq!(got.body["model"], "llama3");
    assert_eq!(
        got.header("authorization"),
        Some("Bearer lm-studio-key-123")
    );

    // The stored provider answers quick chat too.
    let answer: Value = http
        .post(server.url("/v1/chat"))
        .json(&json!({"message": "hi", "stream": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["provider"], "local", "{answer}");

    let resp = http.delete(&one_url).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    let resp = http.get(&one_url).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_error_shape(&resp.json().await.unwrap());
    let resp = http.get(format!("{url}/..%2Fx")).send().await.unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_is_the_current_principal() {
    let (_dir, server) = fresh_server_with(&[], &env_with(&[]));
    let http = client();
    let me: Value = http
        .get(server.url("/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "owner", "{me}");
    assert_eq!(me["tenant_id"], "default");
    let status: Value = http
        .get(server.url("/me/auth/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["signed_in"], false);
    assert!(status["email"].is_null() && status["balance"].is_null());
}
