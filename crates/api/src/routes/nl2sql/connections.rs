//! Connections (CRUD, test, execution mode), their schema and semantic model, and
//! hand-written queries through the guard.

use super::*;

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

pub(super) fn mode(raw: &str) -> ApiResult<ExecutionMode> {
    ExecutionMode::parse(raw).ok_or_else(|| {
        ApiError::validation(
            "execution_mode",
            "execution_mode is auto_execute, review_first or generate_only",
        )
    })
}

pub(super) fn view(c: &SqlConnection) -> ConnectionView {
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

pub(super) fn builtin_view(svc: &DataService, tenant: &TenantId) -> Option<ConnectionView> {
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
pub(super) fn spec_of(
    svc: &DataService,
    body: &ConnectionBody,
) -> ApiResult<(Engine, String, ExecutionMode)> {
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
