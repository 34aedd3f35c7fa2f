//! The `/sessions` resource oneprompt and OpenAnalyst share, and the session logic the other
//! surfaces reuse (paging rules, names, the default session, deletion with files).

use axum::{Json, Router, extract::State, http::StatusCode, response::Response, routing::get};
use quarry_core::{
    MessageQuery, NewSession, Page, Session, SessionId, SessionQuery, SessionStatus, TenantId,
};

use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::{Caller, IdPath, JsonBody, QueryParams, session_id},
    listing_cache::Surface,
    views::{
        Ack, CreateSession, HistoryEntry, ListSessionsParams, SessionDetail, SessionList,
        SessionView, json_bytes, render_json,
    },
};

/// Default and largest page of a session listing (DSAgent's limits, used on every surface).
pub(crate) const DEFAULT_LIMIT: i64 = 50;
/// Largest page of a session listing.
pub(crate) const MAX_LIMIT: i64 = 100;
/// Longest session name accepted.
const MAX_NAME_CHARS: usize = 200;
/// Messages shown in a session's history.
const HISTORY_LIMIT: u32 = 1000;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions", get(list_sessions).post(create_session))
        .route(
            "/sessions/{session_id}",
            get(get_session).delete(delete_session),
        )
}

/// Create a session (oneprompt, OpenAnalyst). The body and its `name` are optional.
#[utoipa::path(post, path = "/sessions", tag = "sessions", request_body = CreateSession,
    responses((status = 201, body = SessionView), (status = 400), (status = 413), (status = 422)))]
pub(crate) async fn create_session(
    State(state): State<AppState>,
    Caller(me): Caller,
    JsonBody(body): JsonBody<CreateSession>,
) -> ApiResult<(StatusCode, Json<SessionView>)> {
    let name = session_name(body.name)?;
    let session =
        create_with_fresh_id(&state, NewSession::named(me.tenant_id.clone(), name)).await?;
    Ok((StatusCode::CREATED, Json(session.into())))
}

/// List sessions, newest first (`limit` 1–100, default 50; `offset`; `status`).
#[utoipa::path(get, path = "/sessions", tag = "sessions", params(ListSessionsParams),
    responses((status = 200, body = SessionList), (status = 422)))]
pub(crate) async fn list_sessions(
    State(state): State<AppState>,
    Caller(me): Caller,
    QueryParams(params): QueryParams<ListSessionsParams>,
) -> ApiResult<Response> {
    listing(
        &state,
        &me.tenant_id,
        &params,
        Surface::Sessions,
        |page, has_more| {
            let list = SessionList {
                total: page.total,
                has_more,
                sessions: page.items.iter().cloned().map(SessionView::from).collect(),
            };
            render_json(&list, 64 + 256 * page.items.len())
        },
    )
    .await
}

/// Reads the page of sessions `params` asks for and answers with it rendered by `render`
/// (given the page and whether more follow); an unchanged page is not rendered again.
pub(crate) async fn listing(
    state: &AppState,
    tenant: &TenantId,
    params: &ListSessionsParams,
    surface: Surface,
    render: impl FnOnce(&Page<Session>, bool) -> ApiResult<Vec<u8>>,
) -> ApiResult<Response> {
    let query = list_query(params)?;
    let page = state.metadata.list_sessions(tenant, query).await?;
    let body = state
        .listings
        .get_or_render(tenant, surface, query, page, |page| {
            render(page, page.has_more(query.offset))
        })?;
    Ok(json_bytes(body))
}

/// A session's details and conversation history (OpenAnalyst).
#[utoipa::path(get, path = "/sessions/{session_id}", tag = "sessions",
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, body = SessionDetail), (status = 400), (status = 404)))]
pub(crate) async fn get_session(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(raw): IdPath<String>,
) -> ApiResult<Json<SessionDetail>> {
    let id = session_id(&raw)?;
    let session = state.metadata.get_session(&me.tenant_id, &id).await?;
    let history = state
        .metadata
        .list_messages(
            &me.tenant_id,
            &id,
            MessageQuery {
                role: None,
                limit: HISTORY_LIMIT,
                offset: 0,
            },
        )
        .await?;
    Ok(Json(SessionDetail {
        session: session.into(),
        history: history.items.into_iter().map(HistoryEntry::from).collect(),
    }))
}

/// Delete a session with its runs, messages, artifacts and workspace (OpenAnalyst).
#[utoipa::path(delete, path = "/sessions/{session_id}", tag = "sessions",
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, body = Ack), (status = 400), (status = 404)))]
pub(crate) async fn delete_session(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(raw): IdPath<String>,
) -> ApiResult<Json<Ack>> {
    let id = session_id(&raw)?;
    delete_with_files(&state, &me.tenant_id, &id).await?;
    Ok(Json(Ack {
        success: true,
        message: "Session deleted".to_owned(),
        session_id: id.into_string(),
    }))
}

/// Creates a session under a generated id, drawing a new id when it collides: DSAgent's id
/// form has 24 random bits per second, so bursts of thousands per second do collide.
pub(crate) async fn create_with_fresh_id(
    state: &AppState,
    mut new: NewSession,
) -> ApiResult<quarry_core::Session> {
    const ATTEMPTS: usize = 5;
    for _ in 1..ATTEMPTS {
        match state.metadata.create_session(new.clone()).await {
            Err(quarry_core::Error::Conflict(_)) => new.id = SessionId::generate(),
            other => return Ok(other?),
        }
    }
    Ok(state.metadata.create_session(new).await?)
}

/// Deletes a session's records, then its artifact bytes and workspace. Records go first so a
/// failure part-way never leaves a listed session pointing at missing files.
pub(crate) async fn delete_with_files(
    state: &AppState,
    tenant: &TenantId,
    id: &SessionId,
) -> ApiResult<()> {
    let removed = state.metadata.delete_session(tenant, id).await?;
    for artifact in removed {
        if let Err(e) = state.artifacts.delete(&artifact.storage_key).await {
            tracing::warn!(artifact_id = %artifact.id, error = %e, "could not delete artifact bytes");
        }
    }
    if let Some(kernels) = &state.kernels {
        kernels
            .reset(&format!("{}/{}", tenant.as_str(), id.as_str()))
            .await;
    }
    let workspace = state.workspace_path(tenant, id);
    match tokio::fs::remove_dir_all(&workspace).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(session_id = %id, error = %e, "could not delete workspace"),
    }
    Ok(())
}

/// Checks paging parameters: `limit` 1–100 (default 50), `offset` ≥ 0, a known `status`.
pub(crate) fn list_query(p: &ListSessionsParams) -> ApiResult<SessionQuery> {
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let offset = p.offset.unwrap_or(0);
    let offset = u32::try_from(offset)
        .map_err(|_| ApiError::validation("offset", "offset must be between 0 and 4294967295"))?;
    let status = match p.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(SessionStatus::parse(s).ok_or_else(|| {
            ApiError::validation(
                "status",
                "status must be one of active, paused, completed, archived",
            )
        })?),
    };
    Ok(SessionQuery {
        status,
        limit: limit as u32,
        offset,
    })
}

/// A session name: trimmed, 1–200 characters, no control characters; a dated default
/// when none is given.
pub(crate) fn session_name(name: Option<String>) -> ApiResult<String> {
    let Some(name) = name else {
        return Ok(format!(
            "Session {}",
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S")
        ));
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::validation("name", "name must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::validation(
            "name",
            format!("name must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "name",
            "name must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}
