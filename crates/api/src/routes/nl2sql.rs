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

/// A connection as the API shows it: never its URL or credentials.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConnectionView {
    id: String,
    name: String,
    engine: String,
    execution_mode: String,
    /// Built in (the demo database): cannot be edited or deleted.
    builtin: bool,
    created_at: Option<String>,
    updated_at: Option<String>,
}

/// Body of `POST /api/v1/connections` and `PUT /api/v1/connections/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConnectionBody {
    /// A name people recognise.
    name: String,
    /// `sqlite`, `postgres` or `mysql`; taken from the URL's scheme when omitted.
    #[serde(default)]
    engine: Option<String>,
    /// `postgres://user:password@host:5432/db`, `mysql://…`, or for SQLite a file name in
    /// the server's databases directory.
    url: String,
    /// `auto_execute` (default), `review_first` or `generate_only`.
    #[serde(default)]
    execution_mode: Option<String>,
}

/// Body of `PUT /api/v1/connections/{id}/execution-mode`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModeBody {
    /// `auto_execute`, `review_first` or `generate_only`.
    execution_mode: String,
}

fn mode(raw: &str) -> ApiResult<ExecutionMode> {
    ExecutionMode::parse(raw).ok_or_else(|| {
        ApiError::validation(
            "execution_mode",
            "execution_mode is auto_execute, review_first or generate_only",
        )
    })
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

fn view(c: &SqlConnection) -> ConnectionView {
    ConnectionView {
        id: c.id.clone(),
        name: c.name.clone(),
        engine: c.engine.clone(),
        execution_mode: c.execution_mode.clone(),
        builtin: false,
        created_at: Some(c.created_at.to_rfc3339()),
        updated_at: Some(c.updated_at.to_rfc3339()),
    }
}

fn builtin_view(svc: &DataService, tenant: &TenantId) -> Option<ConnectionView> {
    let d = svc.default.as_ref()?;
    let o = lock(&svc.overrides)
        .get(&(tenant.to_string(), d.id.clone()))
        .cloned()
        .unwrap_or_default();
    Some(ConnectionView {
        id: d.id.clone(),
        name: "Demo shop".to_owned(),
        engine: d.source.engine().as_str().to_owned(),
        execution_mode: o.mode.unwrap_or_default().as_str().to_owned(),
        builtin: true,
        created_at: None,
        updated_at: None,
    })
}

/// Validates a connection body into (engine, URL ready to connect, mode).
fn spec_of(svc: &DataService, body: &ConnectionBody) -> ApiResult<(Engine, String, ExecutionMode)> {
    let name_len = body.name.trim().chars().count();
    if name_len == 0 || name_len > MAX_NAME_CHARS {
        return Err(ApiError::validation(
            "name",
            format!("name must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    if body.url.is_empty() || body.url.len() > 2048 {
        return Err(ApiError::validation(
            "url",
            "url must be 1 to 2048 characters",
        ));
    }
    let engine = match &body.engine {
        Some(e) => Engine::parse(e)
            .ok_or_else(|| ApiError::validation("engine", "engine is sqlite, postgres or mysql"))?,
        None => Engine::of_url(&body.url).ok_or_else(|| {
            ApiError::validation(
                "engine",
                "name the engine or use a postgres://, mysql:// or sqlite: URL",
            )
        })?,
    };
    let url = match engine {
        Engine::Sqlite => {
            // Only files in the databases directory: never quarry's own stores.
            let name = body
                .url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                && !name.starts_with('.');
            if !ok {
                return Err(ApiError::validation(
                    "url",
                    "a SQLite connection names a file in the server's databases directory (letters, digits, '.', '_', '-')",
                ));
            }
            format!("sqlite://{}", svc.sqlite_dir.join(name).display())
        }
        Engine::Postgres
            if !(body.url.starts_with("postgres://") || body.url.starts_with("postgresql://")) =>
        {
            return Err(ApiError::validation(
                "url",
                "a PostgreSQL URL starts with postgres://",
            ));
        }
        Engine::Mysql
            if !(body.url.starts_with("mysql://") || body.url.starts_with("mariadb://")) =>
        {
            return Err(ApiError::validation(
                "url",
                "a MySQL URL starts with mysql://",
            ));
        }
        _ => body.url.replacen("mariadb://", "mysql://", 1),
    };
    let m = match &body.execution_mode {
        Some(m) => mode(m)?,
        None => ExecutionMode::AutoExecute,
    };
    Ok((engine, url, m))
}

/// List connections (the built-in demo database first).
#[utoipa::path(get, path = "/api/v1/connections", tag = "nl2sql",
    responses((status = 200, body = [ConnectionView])))]
pub(crate) async fn list_connections(
    State(state): State<AppState>,
    Caller(me): Caller,
) -> ApiResult<Json<Vec<ConnectionView>>> {
    let svc = service(&state)?;
    let mut out: Vec<ConnectionView> = builtin_view(svc, &me.tenant_id).into_iter().collect();
    if let Some(cat) = &svc.catalog {
        out.extend(cat.list_connections(&me.tenant_id).await?.iter().map(view));
    }
    Ok(Json(out))
}

/// Save a connection; its URL is sealed at rest and never returned.
#[utoipa::path(post, path = "/api/v1/connections", tag = "nl2sql", request_body = ConnectionBody,
    responses((status = 201, body = ConnectionView), (status = 400), (status = 422), (status = 503)))]
pub(crate) async fn create_connection(
    State(state): State<AppState>,
    Caller(me): Caller,
    JsonBody(body): JsonBody<ConnectionBody>,
) -> ApiResult<(StatusCode, Json<ConnectionView>)> {
    let svc = service(&state)?;
    let cat = catalog(svc)?;
    let (engine, url, m) = spec_of(svc, &body)?;
    let now = Utc::now();
    let c = SqlConnection {
        id: MessageId::generate().to_string(),
        tenant_id: me.tenant_id.clone(),
        name: body.name.trim().to_owned(),
        engine: engine.as_str().to_owned(),
        sealed_url: state.sealer.seal(SEAL_CONTEXT, &url)?,
        execution_mode: m.as_str().to_owned(),
        created_at: now,
        updated_at: now,
    };
    cat.create_connection(&c).await?;
    Ok((StatusCode::CREATED, Json(view(&c))))
}

/// A connection.
#[utoipa::path(get, path = "/api/v1/connections/{id}", tag = "nl2sql",
    params(("id" = String, Path)), responses((status = 200, body = ConnectionView), (status = 404)))]
pub(crate) async fn get_connection(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(id): IdPath<String>,
) -> ApiResult<Json<ConnectionView>> {
    let svc = service(&state)?;
    check_id(&id)?;
    if is_builtin(svc, &id) {
        return builtin_view(svc, &me.tenant_id)
            .map(Json)
            .ok_or_else(|| ApiError::not_found("connection", &id));
    }
    let c = catalog(svc)
        .map_err(|_| ApiError::not_found("connection", &id))?
        .get_connection(&me.tenant_id, &id)
        .await?;
    Ok(Json(view(&c)))
}

/// Replace a connection's name, URL and mode.
#[utoipa::path(put, path = "/api/v1/connections/{id}", tag = "nl2sql", request_body = ConnectionBody,
    params(("id" = String, Path)), responses((status = 200, body = ConnectionView), (status = 404), (status = 409), (status = 422)))]
pub(crate) async fn update_connection(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(id): IdPath<String>,
    JsonBody(body): JsonBody<ConnectionBody>,
) -> ApiResult<Json<ConnectionView>> {
    let svc = service(&state)?;
    check_id(&id)?;
    if is_builtin(svc, &id) {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the built-in connection cannot be edited",
        ));
    }
    let cat = catalog(svc)?;
    let mut c = cat.get_connection(&me.tenant_id, &id).await?;
    let (engine, url, m) = spec_of(svc, &body)?;
    c.name = body.name.trim().to_owned();
    c.engine = engine.as_str().to_owned();
    c.sealed_url = state.sealer.seal(SEAL_CONTEXT, &url)?;
    c.execution_mode = m.as_str().to_owned();
    c.updated_at = Utc::now();
    cat.update_connection(&c).await?;
    svc.agent.forget(&id);
    Ok(Json(view(&c)))
}

/// Delete a connection with its semantic model, examples and pending queries.
#[utoipa::path(delete, path = "/api/v1/connections/{id}", tag = "nl2sql",
    params(("id" = String, Path)), responses((status = 204), (status = 404), (status = 409)))]
pub(crate) async fn delete_connection(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(id): IdPath<String>,
) -> ApiResult<StatusCode> {
    let svc = service(&state)?;
    check_id(&id)?;
    if is_builtin(svc, &id) {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the built-in connection cannot be deleted",
        ));
    }
    catalog(svc)?.delete_connection(&me.tenant_id, &id).await?;
    let removed = lock(&svc.sources).remove(&(me.tenant_id.to_string(), id.clone()));
    if let Some((_, s)) = removed {
        s.close().await;
    }
    svc.agent.forget(&id);
    Ok(StatusCode::NO_CONTENT)
}

/// Check that a connection answers.
#[utoipa::path(post, path = "/api/v1/connections/{id}/test", tag = "nl2sql",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)))]
pub(crate) async fn test_connection(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(id): IdPath<String>,
) -> ApiResult<Json<Value>> {
    let svc = service(&state)?;
    let r = resolve(&state, svc, &me.tenant_id, &id).await;
    let r = match r {
        Ok(r) => r,
        Err(e) if e.code == ErrorCode::NotFound || e.code == ErrorCode::InvalidId => return Err(e),
        Err(e) => return Ok(Json(json!({"ok": false, "message": e.message}))),
    };
    let started = std::time::Instant::now();
    Ok(Json(
        match tokio::time::timeout(Duration::from_secs(15), r.source.test()).await {
            Ok(Ok(())) => {
                json!({"ok": true, "message": "connected", "latency_ms": started.elapsed().as_secs_f64() * 1000.0})
            }
            Ok(Err(e)) => json!({"ok": false, "message": e.to_string()}),
            Err(_) => json!({"ok": false, "message": "timed out after 15 s"}),
        },
    ))
}

/// Set a connection's execution mode.
#[utoipa::path(put, path = "/api/v1/connections/{id}/execution-mode", tag = "nl2sql", request_body = ModeBody,
    params(("id" = String, Path)), responses((status = 200, body = ConnectionView), (status = 404), (status = 422)))]
pub(crate) async fn set_execution_mode(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(id): IdPath<String>,
    JsonBody(body): JsonBody<ModeBody>,
) -> ApiResult<Json<ConnectionView>> {
    let svc = service(&state)?;
    check_id(&id)?;
    let m = mode(&body.execution_mode)?;
    if is_builtin(svc, &id) {
        lock(&svc.overrides)
            .entry((me.tenant_id.to_string(), id.clone()))
            .or_default()
            .mode = Some(m);
        return builtin_view(svc, &me.tenant_id)
            .map(Json)
            .ok_or_else(|| ApiError::not_found("connection", &id));
    }
    let cat = catalog(svc)?;
    let mut c = cat.get_connection(&me.tenant_id, &id).await?;
    c.execution_mode = m.as_str().to_owned();
    c.updated_at = Utc::now();
    cat.update_connection(&c).await?;
    Ok(Json(view(&c)))
}

/// A connection's schema (introspected on first use, then cached).
#[utoipa::path(get, path = "/api/v1/connections/{id}/schema", tag = "nl2sql",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404), (status = 503)))]
pub(crate) async fn get_schema(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(id): IdPath<String>,
) -> ApiResult<Json<Schema>> {
    let svc = service(&state)?;
    let r = resolve(&state, svc, &me.tenant_id, &id).await?;
    let key = scoped(&me.tenant_id, &r);
    Ok(Json((*svc.agent.schema(&key, &r.source).await?).clone()))
}

/// Read a connection's schema again.
#[utoipa::path(post, path = "/api/v1/connections/{id}/schema/refresh", tag = "nl2sql",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404), (status = 503)))]
pub(crate) async fn refresh_schema(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(id): IdPath<String>,
) -> ApiResult<Json<Schema>> {
    let svc = service(&state)?;
    let r = resolve(&state, svc, &me.tenant_id, &id).await?;
    let key = scoped(&me.tenant_id, &r);
    Ok(Json(
        (*svc.agent.refresh_schema(&key, &r.source).await?).clone(),
    ))
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

/// Body of `POST /api/v1/connections/{id}/query`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryBody {
    /// One read-only statement.
    sql: String,
    /// Rows wanted (capped by the settings' limit).
    #[serde(default)]
    max_rows: Option<usize>,
}

/// Results as the NL→SQL wire shows them.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ResultsView {
    columns: Vec<String>,
    #[schema(value_type = Vec<Vec<Object>>)]
    rows: Vec<Vec<Value>>,
    row_count: usize,
    truncated: bool,
    execution_time_ms: f64,
}

impl From<QueryResult> for ResultsView {
    fn from(r: QueryResult) -> Self {
        Self {
            columns: r.columns,
            rows: r.rows,
            row_count: r.row_count,
            truncated: r.truncated,
            execution_time_ms: r.execution_time_ms,
        }
    }
}

/// Run a hand-written query through the guard, read-only transaction, timeout and row cap.
/// Refused statements are a 400.
#[utoipa::path(post, path = "/api/v1/connections/{id}/query", tag = "nl2sql", request_body = QueryBody,
    params(("id" = String, Path)), responses((status = 200, body = ResultsView), (status = 400), (status = 404)))]
pub(crate) async fn run_query(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(id): IdPath<String>,
    JsonBody(body): JsonBody<QueryBody>,
) -> ApiResult<Json<ResultsView>> {
    let svc = service(&state)?;
    let r = resolve(&state, svc, &me.tenant_id, &id).await?;
    let result = svc
        .agent
        .run_sql(&r.source, &body.sql, body.max_rows)
        .await?;
    Ok(Json(result.into()))
}

/// A connection's semantic model.
#[utoipa::path(get, path = "/api/v1/connections/{id}/semantic-model", tag = "nl2sql",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404)))]
pub(crate) async fn get_semantic(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(id): IdPath<String>,
) -> ApiResult<Json<SemanticModel>> {
    let svc = service(&state)?;
    Ok(Json(
        resolve(&state, svc, &me.tenant_id, &id).await?.semantic,
    ))
}

/// Replace a connection's semantic model.
#[utoipa::path(put, path = "/api/v1/connections/{id}/semantic-model", tag = "nl2sql", request_body = Object,
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404), (status = 422)))]
pub(crate) async fn put_semantic(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(id): IdPath<String>,
    JsonBody(model): JsonBody<SemanticModel>,
) -> ApiResult<Json<SemanticModel>> {
    let svc = service(&state)?;
    let r = resolve(&state, svc, &me.tenant_id, &id).await?;
    let size = model.tables.len() + model.join_hints.len() + model.value_mappings.len();
    if size > 10_000 {
        return Err(ApiError::validation(
            "tables",
            "the semantic model is too large",
        ));
    }
    if r.builtin {
        lock(&svc.overrides)
            .entry((me.tenant_id.to_string(), id))
            .or_default()
            .semantic = Some(model.clone());
    } else {
        let json = serde_json::to_string(&model)
            .map_err(|e| ApiError::new(ErrorCode::InternalError, e.to_string()))?;
        catalog(svc)?
            .put_semantic_model(&me.tenant_id, &id, &json)
            .await?;
    }
    Ok(Json(model))
}

/// Remove a connection's semantic model.
#[utoipa::path(delete, path = "/api/v1/connections/{id}/semantic-model", tag = "nl2sql",
    params(("id" = String, Path)), responses((status = 204), (status = 404)))]
pub(crate) async fn delete_semantic(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(id): IdPath<String>,
) -> ApiResult<StatusCode> {
    let svc = service(&state)?;
    let r = resolve(&state, svc, &me.tenant_id, &id).await?;
    if r.builtin {
        lock(&svc.overrides)
            .entry((me.tenant_id.to_string(), id))
            .or_default()
            .semantic = None;
    } else {
        catalog(svc)?
            .delete_semantic_model(&me.tenant_id, &id)
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

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

fn status_name(s: AgentStatus) -> &'static str {
    match s {
        AgentStatus::Executed => "executed",
        AgentStatus::Cached => "cached",
        AgentStatus::PendingApproval => "pending_approval",
        AgentStatus::QueryOnly => "query_only",
        AgentStatus::Error => "error",
    }
}

fn results_json(r: &QueryResult) -> Value {
    json!({
        "columns": r.columns,
        "rows": r.rows,
        "row_count": r.row_count,
        "execution_time_ms": r.execution_time_ms,
    })
}

fn respond(session_id: &str, message_id: &str, a: &AgentAnswer, show_query: bool) -> ChatResponse {
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

/// Query cache statistics.
#[utoipa::path(get, path = "/api/v1/cache/stats", tag = "nl2sql", responses((status = 200, body = Object)))]
pub(crate) async fn cache_stats(
    State(state): State<AppState>,
    Caller(_me): Caller,
) -> ApiResult<Json<Value>> {
    let svc = service(&state)?;
    let s = svc.agent.cache_stats();
    let lookups = s.hits + s.misses;
    Ok(Json(json!({
        "entries": s.entries,
        "hits": s.hits,
        "misses": s.misses,
        "expired": s.expired,
        "hit_rate": if lookups == 0 { 0.0 } else { s.hits as f64 / lookups as f64 },
        "ttl_seconds": svc.agent.settings().cache_ttl_secs,
    })))
}

/// Empty the query cache.
#[utoipa::path(delete, path = "/api/v1/cache", tag = "nl2sql", responses((status = 200, body = Object)))]
pub(crate) async fn clear_cache(
    State(state): State<AppState>,
    Caller(_me): Caller,
) -> ApiResult<Json<Value>> {
    let svc = service(&state)?;
    Ok(Json(json!({"cleared": svc.agent.clear_cache()})))
}

/// Body of `POST /api/v1/examples`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExampleBody {
    /// The connection.
    connection_id: String,
    /// The question.
    question: String,
    /// A verified query answering it (checked by the guard).
    sql: String,
}

fn example_view(e: &SqlExample) -> Value {
    json!({"id": e.id, "connection_id": e.connection_id, "question": e.question, "sql": e.sql, "created_at": e.created_at.to_rfc3339()})
}

/// Verified examples.
#[utoipa::path(get, path = "/api/v1/examples", tag = "nl2sql", responses((status = 200, body = Object)))]
pub(crate) async fn list_examples(
    State(state): State<AppState>,
    Caller(me): Caller,
) -> ApiResult<Json<Vec<Value>>> {
    let svc = service(&state)?;
    let all = catalog(svc)?.list_examples(&me.tenant_id, None).await?;
    Ok(Json(all.iter().map(example_view).collect()))
}

/// Add a verified example (its query must pass the guard).
#[utoipa::path(post, path = "/api/v1/examples", tag = "nl2sql", request_body = ExampleBody,
    responses((status = 201, body = Object), (status = 400), (status = 404), (status = 422)))]
pub(crate) async fn create_example(
    State(state): State<AppState>,
    Caller(me): Caller,
    JsonBody(body): JsonBody<ExampleBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let svc = service(&state)?;
    let q = body.question.trim();
    if q.is_empty() || q.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::validation(
            "question",
            "question must be 1 to 4000 characters",
        ));
    }
    check_id(&body.connection_id)?;
    if is_builtin(svc, &body.connection_id) {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "examples are kept for saved connections",
        ));
    }
    let cat = catalog(svc)?;
    let c = cat
        .get_connection(&me.tenant_id, &body.connection_id)
        .await?;
    let engine = Engine::parse(&c.engine).unwrap_or(Engine::Postgres);
    let checked = guard::check(engine, &body.sql)
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, e.to_string()))?;
    let e = SqlExample {
        id: MessageId::generate().to_string(),
        tenant_id: me.tenant_id.clone(),
        connection_id: c.id,
        question: q.to_owned(),
        sql: checked.to_string(),
        created_at: Utc::now(),
    };
    cat.add_example(&e).await?;
    Ok((StatusCode::CREATED, Json(example_view(&e))))
}

/// Delete an example.
#[utoipa::path(delete, path = "/api/v1/examples/{id}", tag = "nl2sql",
    params(("id" = String, Path)), responses((status = 204), (status = 404)))]
pub(crate) async fn delete_example(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(id): IdPath<String>,
) -> ApiResult<StatusCode> {
    let svc = service(&state)?;
    check_id(&id)?;
    catalog(svc)?.delete_example(&me.tenant_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Settings as the wire shows them.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsBody {
    /// Seconds a cached answer lives.
    #[serde(default)]
    cache_ttl: Option<u64>,
    /// Rows returned when a request names no limit.
    #[serde(default)]
    default_row_limit: Option<usize>,
    /// The largest limit a request may ask for.
    #[serde(default)]
    max_row_limit: Option<usize>,
    /// `trace`, `debug`, `info`, `warn` or `error` (recorded; the server's log level is set
    /// at start).
    #[serde(default)]
    log_level: Option<String>,
}

fn settings_view(s: &AgentSettings, log_level: &str) -> Value {
    json!({
        "cache_ttl": s.cache_ttl_secs,
        "default_row_limit": s.default_max_rows,
        "max_row_limit": s.max_rows_limit,
        "statement_timeout": s.statement_timeout_secs,
        "log_level": log_level,
    })
}

/// The data agent's settings.
#[utoipa::path(get, path = "/api/v1/settings", tag = "nl2sql", responses((status = 200, body = Object)))]
pub(crate) async fn get_settings(
    State(state): State<AppState>,
    Caller(me): Caller,
) -> ApiResult<Json<Value>> {
    let svc = service(&state)?;
    let stored = match &svc.catalog {
        Some(cat) => cat.get_settings(&me.tenant_id).await?,
        None => None,
    };
    let log_level = stored
        .as_deref()
        .and_then(|s| serde_json::from_str::<HashMap<String, Value>>(s).ok())
        .and_then(|m| {
            m.get("log_level")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "info".to_owned());
    Ok(Json(settings_view(&svc.agent.settings(), &log_level)))
}

/// Change the data agent's settings (admins).
#[utoipa::path(put, path = "/api/v1/settings", tag = "nl2sql", request_body = SettingsBody,
    responses((status = 200, body = Object), (status = 403), (status = 422)))]
pub(crate) async fn put_settings(
    State(state): State<AppState>,
    Caller(me): Caller,
    JsonBody(body): JsonBody<SettingsBody>,
) -> ApiResult<Json<Value>> {
    let svc = service(&state)?;
    if !me.is_admin() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only administrators change settings",
        ));
    }
    let mut s = svc.agent.settings();
    if let Some(t) = body.cache_ttl {
        if t > 30 * 86_400 {
            return Err(ApiError::validation(
                "cache_ttl",
                "cache_ttl is at most 30 days",
            ));
        }
        s.cache_ttl_secs = t;
    }
    if let Some(m) = body.max_row_limit {
        if !(1..=1_000_000).contains(&m) {
            return Err(ApiError::validation(
                "max_row_limit",
                "max_row_limit is 1 to 1000000",
            ));
        }
        s.max_rows_limit = m;
    }
    if let Some(d) = body.default_row_limit {
        if d == 0 || d > s.max_rows_limit {
            return Err(ApiError::validation(
                "default_row_limit",
                "default_row_limit is 1 to max_row_limit",
            ));
        }
        s.default_max_rows = d;
    }
    let level = match body.log_level.as_deref() {
        None => None,
        Some(l @ ("trace" | "debug" | "info" | "warn" | "error")) => Some(l.to_owned()),
        Some(_) => {
            return Err(ApiError::validation(
                "log_level",
                "log_level is trace, debug, info, warn or error",
            ));
        }
    };
    if s.default_max_rows > s.max_rows_limit {
        s.default_max_rows = s.max_rows_limit;
    }
    svc.agent.set_settings(s.clone());
    let level = level.unwrap_or_else(|| "info".to_owned());
    if let Some(cat) = &svc.catalog {
        let json = json!({"cache_ttl": s.cache_ttl_secs, "default_row_limit": s.default_max_rows, "max_row_limit": s.max_rows_limit, "log_level": level});
        cat.put_settings(&me.tenant_id, &json.to_string()).await?;
    }
    Ok(Json(settings_view(&s, &level)))
}
