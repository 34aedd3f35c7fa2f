//! DSAgent's session API under `/api/sessions`, in DSAgent's session shape.

use axum::{
    Json, Router,
    extract::State,
    response::Response,
    routing::{get, post},
};
use quarry_core::{NewSession, Session, SessionPatch, SessionStatus};

use super::sessions::{create_with_fresh_id, listing, session_name};
use crate::{
    AppState,
    error::{ApiError, ApiResult},
    extract::{Caller, IdPath, JsonBody, QueryParams, session_id},
    listing_cache::Surface,
    views::{
        Ack, DsCreateSession, DsSession, DsSessionList, DsUpdateSession, ListSessionsParams,
        render_json,
    },
};

/// Longest model name accepted.
const MAX_MODEL_CHARS: usize = 200;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sessions", get(list_sessions).post(create_session))
        .route(
            "/api/sessions/{session_id}",
            get(get_session).put(update_session).delete(delete_session),
        )
        .route("/api/sessions/{session_id}/archive", post(archive_session))
}

fn render(state: &AppState, s: Session) -> DsSession {
    let workspace_path = state
        .workspace_path(&s.tenant_id, &s.id)
        .to_string_lossy()
        .into_owned();
    DsSession {
        id: s.id.into_string(),
        name: s.name,
        status: s.status,
        created_at: s.created_at,
        updated_at: s.updated_at,
        message_count: s.message_count,
        kernel_variables: s.kernel_variables,
        workspace_path,
        model: s.model,
        hitl_mode: s.hitl_mode,
    }
}

fn model_name(model: Option<String>) -> ApiResult<Option<String>> {
    match model.map(|m| m.trim().to_owned()) {
        None => Ok(None),
        Some(m) if m.is_empty() => Ok(None),
        Some(m) if m.chars().count() > MAX_MODEL_CHARS || m.chars().any(char::is_control) => Err(
            ApiError::validation("model", "model must be at most 200 printable characters"),
        ),
        Some(m) => Ok(Some(m)),
    }
}

/// Create a session (`name`, `model`, `hitl_mode`, all optional).
#[utoipa::path(post, path = "/api/sessions", tag = "dsagent", request_body = DsCreateSession,
    responses((status = 200, body = DsSession), (status = 400), (status = 422)))]
pub(crate) async fn create_session(
    State(state): State<AppState>,
    Caller(me): Caller,
    JsonBody(body): JsonBody<DsCreateSession>,
) -> ApiResult<Json<DsSession>> {
    let mut new = NewSession::named(me.tenant_id.clone(), session_name(body.name)?);
    new.model = model_name(body.model)?;
    new.hitl_mode = body.hitl_mode.unwrap_or_default();
    let session = create_with_fresh_id(&state, new).await?;
    Ok(Json(render(&state, session)))
}

/// List sessions, newest first (`status`, `limit` 1–100 default 50, `offset`).
#[utoipa::path(get, path = "/api/sessions", tag = "dsagent", params(ListSessionsParams),
    responses((status = 200, body = DsSessionList), (status = 422)))]
pub(crate) async fn list_sessions(
    State(state): State<AppState>,
    Caller(me): Caller,
    QueryParams(params): QueryParams<ListSessionsParams>,
) -> ApiResult<Response> {
    listing(
        &state,
        &me.tenant_id,
        &params,
        Surface::DsAgent,
        |page, has_more| {
            let list = DsSessionList {
                total: page.total,
                has_more,
                sessions: page
                    .items
                    .iter()
                    .cloned()
                    .map(|s| render(&state, s))
                    .collect(),
            };
            render_json(&list, 64 + 384 * page.items.len())
        },
    )
    .await
}

/// One session.
#[utoipa::path(get, path = "/api/sessions/{session_id}", tag = "dsagent",
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, body = DsSession), (status = 400), (status = 404)))]
pub(crate) async fn get_session(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(raw): IdPath<String>,
) -> ApiResult<Json<DsSession>> {
    let id = session_id(&raw)?;
    let session = state.metadata.get_session(&me.tenant_id, &id).await?;
    Ok(Json(render(&state, session)))
}

/// Update name, status, model or HITL mode; fields left out stay as they are.
#[utoipa::path(put, path = "/api/sessions/{session_id}", tag = "dsagent", request_body = DsUpdateSession,
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, body = DsSession), (status = 400), (status = 404), (status = 422)))]
pub(crate) async fn update_session(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(raw): IdPath<String>,
    JsonBody(body): JsonBody<DsUpdateSession>,
) -> ApiResult<Json<DsSession>> {
    let id = session_id(&raw)?;
    let patch = SessionPatch {
        name: body.name.map(|n| session_name(Some(n))).transpose()?,
        status: body.status,
        model: body.model.map(model_name).transpose()?,
        hitl_mode: body.hitl_mode,
        kernel_variables: None,
    };
    let session = if patch.is_empty() {
        state.metadata.get_session(&me.tenant_id, &id).await?
    } else {
        state
            .metadata
            .update_session(&me.tenant_id, &id, &patch)
            .await?
    };
    Ok(Json(render(&state, session)))
}

/// Delete a session with its runs, messages, artifacts and workspace.
#[utoipa::path(delete, path = "/api/sessions/{session_id}", tag = "dsagent",
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, body = Ack), (status = 400), (status = 404)))]
pub(crate) async fn delete_session(
    State(state): State<AppState>,
    Caller(me): Caller,
    path: IdPath<String>,
) -> ApiResult<Json<Ack>> {
    // The same resource and answer as OpenAnalyst's delete.
    super::sessions::delete_session(State(state), Caller(me), path).await
}

/// Archive a session (status `archived`); it stays readable.
#[utoipa::path(post, path = "/api/sessions/{session_id}/archive", tag = "dsagent",
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, body = DsSession), (status = 400), (status = 404)))]
pub(crate) async fn archive_session(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(raw): IdPath<String>,
) -> ApiResult<Json<DsSession>> {
    let id = session_id(&raw)?;
    let patch = SessionPatch {
        status: Some(SessionStatus::Archived),
        ..Default::default()
    };
    let session = state
        .metadata
        .update_session(&me.tenant_id, &id, &patch)
        .await?;
    Ok(Json(render(&state, session)))
}
