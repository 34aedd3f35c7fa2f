//! The NL→SQL server surface under `/api/v1`: connections (credentials sealed, never
//! returned), schema, semantic models, the streaming chat pipeline with execution modes and
//! approvals, the query cache, verified examples, settings and hand-written queries.

use std::{collections::HashMap, convert::Infallible, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{
        IntoResponse, Response,
        sse::{Event as SseEvent, KeepAlive, Sse},
    },
    routing::{get, post, put},
};
use chrono::Utc;
use futures::StreamExt;
use quarry_core::{
    MessageId, PendingQuery, Principal, SqlChatMessage, SqlConnection, SqlExample, TenantId,
};
use quarry_sql::{
    AgentAnswer, AgentSettings, AgentStatus, ConnectionSpec, DataSource, Engine, Example,
    ExecutionMode, QueryResult, Question, Schema, SemanticModel, guard,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::{
    AppState,
    data::{DataService, lock},
    error::{ApiError, ApiResult, ErrorCode},
    extract::{Caller, IdPath, JsonBody},
};

/// Sealing context of connection URLs.
const SEAL_CONTEXT: &str = "sql-connection";
/// Longest chat message, in characters.
const MAX_MESSAGE_CHARS: usize = 4000;
/// Longest connection name.
const MAX_NAME_CHARS: usize = 200;
/// Messages returned by a session's history.
const HISTORY_LIMIT: u32 = 1000;

mod admin;
mod chat;
mod connections;

pub(crate) use admin::*;
pub(crate) use chat::*;
pub(crate) use connections::*;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/connections",
            get(list_connections).post(create_connection),
        )
        .route(
            "/api/v1/connections/{id}",
            get(get_connection)
                .put(update_connection)
                .delete(delete_connection),
        )
        .route("/api/v1/connections/{id}/test", post(test_connection))
        .route(
            "/api/v1/connections/{id}/execution-mode",
            put(set_execution_mode),
        )
        .route("/api/v1/connections/{id}/schema", get(get_schema))
        .route(
            "/api/v1/connections/{id}/schema/refresh",
            post(refresh_schema),
        )
        .route("/api/v1/connections/{id}/query", post(run_query))
        .route(
            "/api/v1/connections/{id}/semantic-model",
            get(get_semantic).put(put_semantic).delete(delete_semantic),
        )
        .route("/api/v1/chat", post(chat))
        .route("/api/v1/chat/execute/{message_id}", post(execute_pending))
        .route("/chat/execute/{message_id}", post(execute_pending))
        .route("/api/v1/sessions/{session_id}/history", get(history))
        .route("/api/v1/cache/stats", get(cache_stats))
        .route("/api/v1/cache", axum::routing::delete(clear_cache))
        .route("/api/v1/examples", get(list_examples).post(create_example))
        .route(
            "/api/v1/examples/{id}",
            axum::routing::delete(delete_example),
        )
        .route("/api/v1/settings", get(get_settings).put(put_settings))
}

fn service(state: &AppState) -> ApiResult<&DataService> {
    state.data.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            "the data agent is not configured on this server",
        )
    })
}

fn catalog(svc: &DataService) -> ApiResult<&Arc<dyn quarry_core::SqlCatalog>> {
    svc.catalog.as_ref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            "saved connections need a metadata store",
        )
    })
}

fn check_id(raw: &str) -> ApiResult<()> {
    MessageId::parse(raw)
        .map(|_| ())
        .map_err(|_| ApiError::new(ErrorCode::InvalidId, format!("{raw:?} is not a valid id")))
}

/// A connection resolved for a tenant.
struct Resolved {
    id: String,
    source: DataSource,
    semantic: SemanticModel,
    mode: ExecutionMode,
    builtin: bool,
}

fn is_builtin(svc: &DataService, id: &str) -> bool {
    svc.default.as_ref().is_some_and(|d| d.id == id)
}

async fn resolve(
    state: &AppState,
    svc: &DataService,
    tenant: &TenantId,
    id: &str,
) -> ApiResult<Resolved> {
    check_id(id)?;
    if let Some(d) = svc.default.as_ref().filter(|d| d.id == id) {
        let o = lock(&svc.overrides)
            .get(&(tenant.to_string(), id.to_owned()))
            .cloned()
            .unwrap_or_default();
        return Ok(Resolved {
            id: id.to_owned(),
            source: d.source.clone(),
            semantic: o.semantic.unwrap_or_else(|| d.semantic.clone()),
            mode: o.mode.unwrap_or_default(),
            builtin: true,
        });
    }
    let cat = catalog(svc).map_err(|_| ApiError::not_found("connection", id))?;
    let c = cat.get_connection(tenant, id).await?;
    let key = (tenant.to_string(), id.to_owned());
    let version = c.updated_at.to_rfc3339();
    let cached = lock(&svc.sources)
        .get(&key)
        .filter(|(v, _)| *v == version)
        .map(|(_, s)| s.clone());
    let source = match cached {
        Some(s) => s,
        None => {
            let url = state.sealer.open(SEAL_CONTEXT, &c.sealed_url)?;
            let engine = Engine::parse(&c.engine).unwrap_or(Engine::Postgres);
            let source = DataSource::connect(&ConnectionSpec { engine, url }).await?;
            lock(&svc.sources).insert(key, (version, source.clone()));
            source
        }
    };
    let semantic = match cat.get_semantic_model(tenant, id).await? {
        Some(json) => serde_json::from_str(&json).unwrap_or_default(),
        None => SemanticModel::default(),
    };
    Ok(Resolved {
        id: id.to_owned(),
        source,
        semantic,
        mode: ExecutionMode::parse(&c.execution_mode).unwrap_or_default(),
        builtin: false,
    })
}

/// A connection of `tenant` as the data agent uses it (its id being the agent's cache key).
pub(crate) async fn resolve_connection(
    state: &AppState,
    svc: &DataService,
    tenant: &TenantId,
    id: &str,
) -> ApiResult<quarry_sql::DefaultConnection> {
    let r = resolve(state, svc, tenant, id).await?;
    Ok(quarry_sql::DefaultConnection {
        id: scoped(tenant, &r),
        source: r.source,
        semantic: r.semantic,
    })
}

/// The agent's key for a connection: saved connections are per tenant, the built-in one
/// is shared.
fn scoped(tenant: &TenantId, r: &Resolved) -> String {
    if r.builtin {
        r.id.clone()
    } else {
        format!("{tenant}/{}", r.id)
    }
}
