//! The streaming chat pipeline (`POST /api/v1/chat`), approvals of held queries and a
//! session's history.

use super::*;

/// Body of `POST /api/v1/chat`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChatBody {
    /// The connection; the built-in demo database when omitted.
    #[serde(default)]
    connection_id: Option<String>,
    /// The chat session; a new one when omitted.
    #[serde(default)]
    session_id: Option<String>,
    /// The question.
    message: String,
    /// A provider configuration id (the server's configured chain answers).
    #[serde(default)]
    provider: Option<String>,
    /// Options.
    #[serde(default)]
    options: ChatOptions,
}

/// Options of a chat request.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChatOptions {
    /// Include the query in the answer (default true).
    #[serde(default)]
    show_query: Option<bool>,
    /// Rows wanted.
    #[serde(default)]
    max_rows: Option<usize>,
    /// Accepted; explanations are always included.
    #[serde(default)]
    explain_results: Option<bool>,
}

/// The final `done` event of the chat stream.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChatResponse {
    session_id: String,
    message_id: String,
    query: Option<String>,
    query_dialect: String,
    explanation: String,
    #[schema(value_type = Option<Object>)]
    results: Option<Value>,
    status: String,
    cache_hit: bool,
    error: Option<String>,
}

pub(super) fn status_name(s: AgentStatus) -> &'static str {
    match s {
        AgentStatus::Executed => "executed",
        AgentStatus::Cached => "cached",
        AgentStatus::PendingApproval => "pending_approval",
        AgentStatus::QueryOnly => "query_only",
        AgentStatus::Error => "error",
    }
}

pub(super) fn results_json(r: &QueryResult) -> Value {
    json!({
        "columns": r.columns,
        "rows": r.rows,
        "row_count": r.row_count,
        "execution_time_ms": r.execution_time_ms,
    })
}

pub(super) fn respond(
    session_id: &str,
    message_id: &str,
    a: &AgentAnswer,
    show_query: bool,
) -> ChatResponse {
    ChatResponse {
        session_id: session_id.to_owned(),
        message_id: message_id.to_owned(),
        query: if show_query || a.status != AgentStatus::Executed {
            a.sql.clone()
        } else {
            None
        },
        query_dialect: a.dialect.clone(),
        explanation: a.sentence(),
        results: a.result.as_ref().map(results_json),
        status: status_name(a.status).to_owned(),
        cache_hit: a.cache_hit,
        error: a.error.clone(),
    }
}

/// Ask a question (Server-Sent Events): `status` events while it works, then one `done`
/// event with the complete answer (`status` executed, cached, pending_approval, query_only
/// or error).
#[utoipa::path(post, path = "/api/v1/chat", tag = "nl2sql", request_body = ChatBody,
    responses((status = 200, description = "text/event-stream; the final `done` event carries a ChatResponse", body = ChatResponse), (status = 404), (status = 422)))]
pub(crate) async fn chat(
    State(state): State<AppState>,
    Caller(me): Caller,
    JsonBody(body): JsonBody<ChatBody>,
) -> ApiResult<Response> {
    let svc = service(&state)?;
    let message = body.message.trim().to_owned();
    if message.is_empty() || message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::validation(
            "message",
            format!("message must be 1 to {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    let _ = (&body.provider, body.options.explain_results);
    let conn_id = match &body.connection_id {
        Some(c) => c.clone(),
        None => svc
            .default
            .as_ref()
            .map(|d| d.id.clone())
            .ok_or_else(|| ApiError::validation("connection_id", "name a connection"))?,
    };
    let session_id = match &body.session_id {
        Some(s) => {
            check_id(s)?;
            s.clone()
        }
        None => quarry_core::SessionId::generate().to_string(),
    };
    let r = resolve(&state, svc, &me.tenant_id, &conn_id).await?;
    let show_query = body.options.show_query.unwrap_or(true);
    let max_rows = body.options.max_rows;
    let state2 = state.clone();
    let me2: Arc<Principal> = me.clone();
    let work = async move {
        let Some(svc) = state2.data.as_deref() else {
            return SseEvent::default().event("done").data("{}");
        };
        let message_id = MessageId::generate().to_string();
        let examples: Vec<Example> = match &svc.catalog {
            Some(cat) => cat
                .list_examples(&me2.tenant_id, Some(&r.id))
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|e| Example {
                    question: e.question,
                    sql: e.sql,
                })
                .collect(),
            None => Vec::new(),
        };
        let key = scoped(&me2.tenant_id, &r);
        let llm = match crate::llm::writing_model(&state2, &me2.tenant_id, svc.llm.as_ref()).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e.message, "cannot read the tenant's providers; answering offline");
                None
            }
        };
        let answer = svc
            .agent
            .ask(Question {
                connection_id: &key,
                source: &r.source,
                semantic: &r.semantic,
                examples: &examples,
                text: &message,
                mode: r.mode,
                max_rows,
                llm,
            })
            .await;
        let response = respond(&session_id, &message_id, &answer, show_query);
        let data = serde_json::to_string(&response).unwrap_or_else(|_| "{}".to_owned());
        if let Some(cat) = &svc.catalog {
            let now = Utc::now();
            let user = SqlChatMessage {
                id: MessageId::generate().to_string(),
                tenant_id: me2.tenant_id.clone(),
                session_id: session_id.clone(),
                connection_id: r.id.clone(),
                role: "user".into(),
                content: json!({"message": message}).to_string(),
                created_at: now,
            };
            let reply = SqlChatMessage {
                id: message_id.clone(),
                role: "assistant".into(),
                content: data.clone(),
                created_at: Utc::now(),
                ..user.clone()
            };
            for m in [&user, &reply] {
                if let Err(e) = cat.append_chat(m).await {
                    tracing::warn!(error = %e, "cannot record the chat message");
                }
            }
            if answer.status == AgentStatus::PendingApproval
                && let Some(sql) = &answer.sql
            {
                let pending = PendingQuery {
                    message_id: message_id.clone(),
                    tenant_id: me2.tenant_id.clone(),
                    session_id: session_id.clone(),
                    connection_id: r.id.clone(),
                    question: message.clone(),
                    sql: sql.clone(),
                    created_at: Utc::now(),
                };
                if let Err(e) = cat.put_pending(&pending).await {
                    tracing::warn!(error = %e, "cannot hold the query for approval");
                }
            }
        }
        SseEvent::default().event("done").data(data)
    };
    let first = SseEvent::default()
        .event("status")
        .data(json!({"stage": "generating"}).to_string());
    let stream = futures::stream::iter([first])
        .chain(futures::stream::once(work))
        .map(Ok::<_, Infallible>);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Body of `POST /chat/execute/{message_id}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExecuteBody {
    /// An edited query to run instead (checked by the guard again).
    #[serde(default)]
    query: Option<String>,
    /// Rows wanted.
    #[serde(default)]
    max_rows: Option<usize>,
}

/// Approve a query held for review (possibly edited) and run it.
#[utoipa::path(post, path = "/api/v1/chat/execute/{message_id}", tag = "nl2sql", request_body = ExecuteBody,
    params(("message_id" = String, Path)), responses((status = 200, body = ChatResponse), (status = 400), (status = 404)))]
pub(crate) async fn execute_pending(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(message_id): IdPath<String>,
    raw: axum::body::Bytes,
) -> ApiResult<Json<ChatResponse>> {
    let svc = service(&state)?;
    check_id(&message_id)?;
    // The body is optional: empty approves the query as generated.
    let body: ExecuteBody = if raw.iter().all(u8::is_ascii_whitespace) {
        ExecuteBody::default()
    } else {
        serde_json::from_slice(&raw)
            .map_err(|e| ApiError::new(ErrorCode::InvalidJson, format!("invalid JSON body: {e}")))?
    };
    let cat = catalog(svc)?;
    let pending = cat.take_pending(&me.tenant_id, &message_id).await?;
    let r = resolve(&state, svc, &me.tenant_id, &pending.connection_id).await?;
    let sql = body.query.clone().unwrap_or_else(|| pending.sql.clone());
    let checked = match guard::check(r.source.engine(), &sql) {
        Ok(g) => g,
        Err(e) => {
            // Still pending: the reviewer may correct the edit.
            if let Err(err) = cat.put_pending(&pending).await {
                tracing::warn!(error = %err, "cannot hold the query for approval again");
            }
            return Err(ApiError::new(ErrorCode::BadRequest, e.to_string()));
        }
    };
    let result = r
        .source
        .query(&checked, svc.agent.limits(body.max_rows))
        .await?;
    Ok(Json(ChatResponse {
        session_id: pending.session_id,
        message_id,
        query: Some(checked.to_string()),
        query_dialect: r.source.engine().dialect_name().to_owned(),
        explanation: pending.question,
        results: Some(results_json(&result)),
        status: "executed".to_owned(),
        cache_hit: false,
        error: None,
    }))
}

/// A chat session's messages, oldest first.
#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/history", tag = "nl2sql",
    params(("session_id" = String, Path)), responses((status = 200, body = Object), (status = 400)))]
pub(crate) async fn history(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(session_id): IdPath<String>,
) -> ApiResult<Json<Value>> {
    let svc = service(&state)?;
    check_id(&session_id)?;
    let msgs = catalog(svc)?
        .chat_history(&me.tenant_id, &session_id, HISTORY_LIMIT)
        .await?;
    let messages: Vec<Value> = msgs
        .into_iter()
        .map(|m| {
            json!({
                "message_id": m.id,
                "role": m.role,
                "connection_id": m.connection_id,
                "content": serde_json::from_str::<Value>(&m.content).unwrap_or(Value::String(m.content)),
                "created_at": m.created_at.to_rfc3339(),
            })
        })
        .collect();
    Ok(Json(
        json!({"session_id": session_id, "messages": messages}),
    ))
}
