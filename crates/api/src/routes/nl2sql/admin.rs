//! The query cache, verified examples and settings.

use super::*;

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

pub(super) fn example_view(e: &SqlExample) -> Value {
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

pub(super) fn settings_view(s: &AgentSettings, log_level: &str) -> Value {
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
