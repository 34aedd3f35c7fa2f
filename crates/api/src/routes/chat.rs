//! OpenAnalyst's quick chat: `POST /v1/chat` and its alias `POST /v1/query`. One message in;
//! an SSE stream out (`assistant_delta`, `tool_call`, `failover`, `usage`, then `done`, or
//! `error`), or with `"stream": false` one JSON body.

use std::{convert::Infallible, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    response::{
        IntoResponse, Response,
        sse::{Event as SseEvent, KeepAlive, Sse},
    },
    routing::post,
};
use futures::StreamExt;
use quarry_core::{ChatEvent, ChatMessage, ChatRequest, Effort, LlmError, LlmProvider};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::{
    AppState,
    error::{ApiError, ApiResult, ErrorCode},
    extract::{Caller, JsonBody},
    llm::{NO_PROVIDER, gateway_for},
};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/chat", post(chat))
        .route("/v1/query", post(query))
}

/// Longest message, in characters.
const MAX_MESSAGE_CHARS: usize = 200_000;

/// A quick-chat request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatBody {
    /// What to ask.
    pub message: String,
    /// The model; the first configured provider's default when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// `low`, `medium` (default), `high` or `max`.
    #[serde(default)]
    pub effort: Option<String>,
    /// A system prompt.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// `false` for one JSON body instead of an SSE stream (default `true`).
    #[serde(default)]
    pub stream: Option<bool>,
}

/// The answer of `"stream": false`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatAnswer {
    /// The whole answer.
    pub text: String,
    /// Tool calls the model made.
    #[schema(value_type = Vec<Object>)]
    pub tool_calls: Vec<Value>,
    /// Tokens and cost.
    #[schema(value_type = Object)]
    pub usage: Value,
    /// The provider that answered.
    pub provider: String,
    /// The model that answered.
    pub model: String,
    /// Why it stopped.
    pub finish_reason: String,
    /// Providers that failed after the answer had started (`from`, `to`, `reason`).
    #[schema(value_type = Vec<Object>)]
    pub failovers: Vec<Value>,
}

fn validate(body: ChatBody) -> ApiResult<(ChatRequest, bool)> {
    if body.message.trim().is_empty() {
        return Err(ApiError::validation("message", "message must not be empty"));
    }
    if body.message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::validation(
            "message",
            format!("message is longer than {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    let effort = match body.effort.as_deref() {
        None => Effort::default(),
        Some(e) => Effort::parse(e).ok_or_else(|| {
            ApiError::validation("effort", "effort must be one of low, medium, high, max")
        })?,
    };
    let model = body.model.filter(|m| !m.trim().is_empty());
    if let Some(m) = &model
        && (m.len() > 200 || m.chars().any(|c| c.is_control() || c.is_whitespace()))
    {
        return Err(ApiError::validation(
            "model",
            "model must be a name of at most 200 characters without spaces",
        ));
    }
    if body
        .system_prompt
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_MESSAGE_CHARS)
    {
        return Err(ApiError::validation(
            "system_prompt",
            format!("system_prompt is longer than {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    Ok((
        ChatRequest {
            model,
            system: body.system_prompt.filter(|s| !s.trim().is_empty()),
            messages: vec![ChatMessage::user(body.message)],
            effort,
            ..ChatRequest::default()
        },
        body.stream.unwrap_or(true),
    ))
}

/// The HTTP error for a model failure.
pub(crate) fn llm_error(e: &LlmError) -> ApiError {
    let failures: Vec<&LlmError> = match e {
        LlmError::AllFailed(v) => v.iter().collect(),
        other => vec![other],
    };
    let details = json!({
        "failures": failures.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
    });
    // A request every provider refused is the caller's to fix.
    let refused = !failures.is_empty()
        && failures
            .iter()
            .all(|f| matches!(f, LlmError::InvalidRequest { .. }));
    let code = if refused {
        ErrorCode::ValidationError
    } else {
        ErrorCode::ServiceUnavailable
    };
    ApiError::new(code, e.to_string()).with_details(details)
}

/// Quick chat: one message, the answer streamed as it is written.
#[utoipa::path(post, path = "/v1/chat", tag = "chat", request_body = ChatBody,
    responses(
        (status = 200, description = "SSE: assistant_delta, tool_call, failover, usage, done (or error); JSON ChatAnswer with \"stream\": false", body = ChatAnswer),
        (status = 422, description = "Invalid body"),
        (status = 503, description = "No provider configured, or every provider failed"),
    ))]
pub(crate) async fn chat(
    State(state): State<AppState>,
    Caller(me): Caller,
    JsonBody(body): JsonBody<ChatBody>,
) -> ApiResult<Response> {
    let (request, stream) = validate(body)?;
    let gateway = gateway_for(&state, &me.tenant_id).await?;
    if gateway.is_empty() {
        return Err(ApiError::new(ErrorCode::ServiceUnavailable, NO_PROVIDER));
    }
    let events = gateway.chat(request).await.map_err(|e| llm_error(&e))?;
    if stream {
        Ok(sse(events).into_response())
    } else {
        Ok(Json(collect(events).await?).into_response())
    }
}

/// Alias of `POST /v1/chat`.
#[utoipa::path(post, path = "/v1/query", tag = "chat", request_body = ChatBody,
    responses(
        (status = 200, description = "As POST /v1/chat", body = ChatAnswer),
        (status = 422, description = "Invalid body"),
        (status = 503, description = "No provider configured, or every provider failed"),
    ))]
pub(crate) async fn query(
    state: State<AppState>,
    caller: Caller,
    body: JsonBody<ChatBody>,
) -> ApiResult<Response> {
    chat(state, caller, body).await
}

fn sse_event(ev: ChatEvent) -> SseEvent {
    let (name, data) = match ev {
        ChatEvent::TextDelta { text } => ("assistant_delta", json!({ "text": text })),
        ChatEvent::ToolCall { call } => (
            "tool_call",
            json!({ "id": call.id, "tool_name": call.name, "arguments": call.arguments }),
        ),
        ChatEvent::Usage { usage } => (
            "usage",
            json!({
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cost_usd": usage.cost_usd,
            }),
        ),
        ChatEvent::Failover { from, to, reason } => (
            "failover",
            json!({ "from": from, "to": to, "reason": reason }),
        ),
        ChatEvent::Finish {
            reason,
            provider,
            model,
        } => (
            "done",
            json!({ "finish_reason": reason, "provider": provider, "model": model }),
        ),
    };
    SseEvent::default().event(name).data(data.to_string())
}

fn sse(
    events: quarry_core::ChatStream,
) -> Sse<impl futures::Stream<Item = Result<SseEvent, Infallible>>> {
    let stream = events.map(|item| {
        Ok(match item {
            Ok(ev) => sse_event(ev),
            Err(e) => {
                let err = llm_error(&e);
                SseEvent::default().event("error").data(
                    json!({
                        "error": err.code.as_str(),
                        "message": err.message,
                        "details": err.details,
                    })
                    .to_string(),
                )
            }
        })
    });
    // Comments while a provider thinks keep proxies from closing the connection, and let a
    // client's disconnect be noticed (which drops the upstream request).
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(5)))
}

async fn collect(mut events: quarry_core::ChatStream) -> ApiResult<ChatAnswer> {
    let mut answer = ChatAnswer {
        text: String::new(),
        tool_calls: Vec::new(),
        usage: json!({ "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0 }),
        provider: String::new(),
        model: String::new(),
        finish_reason: String::new(),
        failovers: Vec::new(),
    };
    while let Some(item) = events.next().await {
        match item.map_err(|e| llm_error(&e))? {
            ChatEvent::TextDelta { text } => answer.text.push_str(&text),
            ChatEvent::ToolCall { call } => answer.tool_calls.push(
                json!({ "id": call.id, "tool_name": call.name, "arguments": call.arguments }),
            ),
            ChatEvent::Usage { usage } => {
                answer.usage = json!({
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "cost_usd": usage.cost_usd,
                });
            }
            ChatEvent::Failover { from, to, reason } => {
                // The answer restarts with the provider that took over.
                answer.text.clear();
                answer.tool_calls.clear();
                answer
                    .failovers
                    .push(json!({ "from": from, "to": to, "reason": reason }));
            }
            ChatEvent::Finish {
                reason,
                provider,
                model,
            } => {
                answer.provider = provider;
                answer.model = model;
                answer.finish_reason = serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
            }
        }
    }
    Ok(answer)
}
