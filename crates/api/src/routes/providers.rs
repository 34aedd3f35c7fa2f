//! Provider management. OpenAnalyst's `GET /me/providers` and `PUT /me/providers/{name}`,
//! the NL→SQL server's `/api/v1/providers[/{id}]` CRUD with `POST …/{id}/test`, `GET /me`
//! and `GET /me/auth/status`. Keys are sealed at rest and never returned: only a masked hint.

use std::time::{Duration, Instant};

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use quarry_core::{
    ChatEvent, ChatMessage, ChatRequest, LlmProvider, MAX_PROVIDERS_PER_TENANT, Principal,
    ProviderRecord, ProviderStore, RunId, mask_secret,
};
use quarry_providers::{Gateway, PROVIDER_TYPES, Pricing, build_provider, canonical_type};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use utoipa::ToSchema;

use crate::{
    AppState,
    error::{ApiError, ApiResult, ErrorCode},
    extract::{Caller, IdPath, JsonBody},
    llm::spec_of,
};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me))
        .route("/me/auth/status", get(auth_status))
        .route("/me/providers", get(list_mine))
        .route("/me/providers/{name}", put(put_mine))
        .route("/api/v1/providers", get(list).post(create))
        .route(
            "/api/v1/providers/{id}",
            get(get_one).put(update).delete(delete),
        )
        .route("/api/v1/providers/{id}/test", post(test))
}

/// The current principal (OpenAnalyst's `GET /me`).
#[utoipa::path(get, path = "/me", tag = "providers", responses((status = 200), (status = 401)))]
pub(crate) async fn me(state: State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    super::auth::me(state, caller).await
}

/// Sign-in state of OpenAnalyst's hosted account: quarry has none, so never signed in.
#[utoipa::path(get, path = "/me/auth/status", tag = "providers", responses((status = 200)))]
pub(crate) async fn auth_status(
    State(state): State<AppState>,
    Caller(me): Caller,
) -> ApiResult<Json<Value>> {
    let manual = match &state.provider_store {
        Some(store) => store
            .list_providers(&me.tenant_id)
            .await?
            .iter()
            .any(|r| r.name == "openanalyst"),
        None => false,
    };
    Ok(Json(json!({
        "signed_in": false,
        "email": null,
        "expires_at": null,
        "balance": null,
        "manual_key_present": manual,
        "preferred_source": "manual",
    })))
}

/// A provider as listed: never its key.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    /// Its id (`env:NAME` for providers configured by the server's environment or file).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its type (`openai`, `anthropic`, `gemini`, `xai`, `openrouter`, `groq`, `bedrock`,
    /// `ollama`, `openai_compatible`).
    pub provider_type: String,
    /// Base URL, when not the vendor's default.
    pub base_url: Option<String>,
    /// Default model.
    pub model: Option<String>,
    /// Whether a key is set.
    pub has_api_key: bool,
    /// A masked hint of the key (`sk-…1234`).
    pub api_key_hint: Option<String>,
    /// `stored` (through this API) or `environment` (server configuration).
    pub source: String,
    /// Creation time (stored providers).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_at: Option<DateTime<Utc>>,
    /// Last change (stored providers).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<&ProviderRecord> for ProviderView {
    fn from(r: &ProviderRecord) -> Self {
        Self {
            id: r.id.clone(),
            name: r.name.clone(),
            provider_type: r.kind.clone(),
            base_url: r.base_url.clone(),
            model: r.model.clone(),
            has_api_key: r.sealed_key.is_some(),
            api_key_hint: r.key_hint.clone(),
            source: "stored".to_owned(),
            created_at: Some(r.created_at),
            updated_at: Some(r.updated_at),
        }
    }
}

fn store(state: &AppState) -> ApiResult<&Arc<dyn ProviderStore>> {
    state.provider_store.as_ref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            "provider storage is not configured on this server",
        )
    })
}

fn require_admin(me: &Principal) -> ApiResult<()> {
    if me.is_admin() {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            "only an admin may change the tenant's providers",
        ))
    }
}

/// A provider name: `[a-z0-9_-]{1,64}`.
fn valid_name(name: &str) -> ApiResult<String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(ApiError::validation(
            "name",
            "provider name must match [a-z0-9_-]{1,64}",
        ))
    }
}

fn valid_key(key: &str) -> ApiResult<String> {
    let key = key.trim();
    if key.is_empty() || key.len() > 4096 || key.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "api_key",
            "api_key must be 1 to 4096 printable characters",
        ));
    }
    Ok(key.to_owned())
}

fn valid_base_url(url: Option<String>) -> ApiResult<Option<String>> {
    let Some(url) = url.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let host_ok = rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !host.contains(char::is_whitespace)
    });
    if url.len() > 2048 || !host_ok || reqwest_url_invalid(&url) {
        return Err(ApiError::validation(
            "base_url",
            "base_url must be an http:// or https:// URL",
        ));
    }
    Ok(Some(url))
}

fn reqwest_url_invalid(url: &str) -> bool {
    url.chars().any(|c| c.is_control() || c == ' ')
}

fn valid_model(model: Option<String>) -> ApiResult<Option<String>> {
    let Some(m) = model.map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()) else {
        return Ok(None);
    };
    if m.len() > 200 || m.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ApiError::validation(
            "model",
            "model must be a name of at most 200 characters without spaces",
        ));
    }
    Ok(Some(m))
}

fn valid_type(label: &str, base_url: Option<&String>) -> ApiResult<String> {
    let t = canonical_type(label).ok_or_else(|| {
        ApiError::validation(
            "provider_type",
            format!("provider_type must be one of {}", PROVIDER_TYPES.join(", ")),
        )
    })?;
    if t == "openai_compatible" && base_url.is_none() {
        return Err(ApiError::validation(
            "base_url",
            "an openai_compatible provider needs a base_url",
        ));
    }
    Ok(t.to_owned())
}

fn seal(state: &AppState, record: &mut ProviderRecord, key: Option<String>) -> ApiResult<()> {
    if let Some(key) = key {
        let context = ProviderRecord::seal_context(&record.tenant_id, &record.id);
        record.sealed_key = Some(state.sealer.seal(&context, &key).map_err(|e| {
            tracing::error!(error = %e, "cannot seal a provider key");
            ApiError::new(
                ErrorCode::InternalError,
                "internal error; see the server log",
            )
        })?);
        record.key_hint = Some(mask_secret(&key));
    }
    Ok(())
}

async fn ensure_room(store: &Arc<dyn ProviderStore>, me: &Principal) -> ApiResult<()> {
    if store.list_providers(&me.tenant_id).await?.len() >= MAX_PROVIDERS_PER_TENANT {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("a tenant may store at most {MAX_PROVIDERS_PER_TENANT} providers"),
        ));
    }
    Ok(())
}

/// Providers the server itself configures (environment, `quarry.toml`), as listed.
fn server_views(state: &AppState) -> Vec<ProviderView> {
    state
        .llm
        .status()
        .into_iter()
        .map(|s| ProviderView {
            id: format!("env:{}", s.name),
            provider_type: quarry_providers::known(&s.name)
                .map_or("openai_compatible", |k| k.name)
                .to_owned(),
            name: s.name,
            base_url: None,
            model: Some(s.model),
            has_api_key: true,
            api_key_hint: None,
            source: "environment".to_owned(),
            created_at: None,
            updated_at: None,
        })
        .collect()
}

/// Configured providers: the tenant's stored ones, then the server's.
#[utoipa::path(get, path = "/me/providers", tag = "providers",
    responses((status = 200, body = Object)))]
pub(crate) async fn list_mine(
    State(state): State<AppState>,
    Caller(me): Caller,
) -> ApiResult<Json<Value>> {
    let mut views: Vec<ProviderView> = match &state.provider_store {
        Some(store) => store
            .list_providers(&me.tenant_id)
            .await?
            .iter()
            .map(ProviderView::from)
            .collect(),
        None => Vec::new(),
    };
    views.extend(server_views(&state));
    Ok(Json(json!({ "providers": views })))
}

/// A key for provider `name` (OpenAnalyst's `PUT /me/providers/{name}`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutProviderBody {
    /// The key (stored sealed, never returned).
    pub api_key: String,
    /// Base URL, when not the vendor's (required for a name quarry does not know).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Default model.
    #[serde(default)]
    pub model: Option<String>,
}

/// Adds or replaces the key of provider `name` for the caller's tenant.
#[utoipa::path(put, path = "/me/providers/{name}", tag = "providers",
    params(("name" = String, Path, description = "openai, anthropic, gemini, xai, openrouter, groq, bedrock, ollama, or a name of your own with a base_url")),
    request_body = PutProviderBody,
    responses((status = 200, body = ProviderView), (status = 403), (status = 422)))]
pub(crate) async fn put_mine(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(name): IdPath<String>,
    JsonBody(body): JsonBody<PutProviderBody>,
) -> ApiResult<Json<ProviderView>> {
    let name = valid_name(&name)?;
    let key = valid_key(&body.api_key)?;
    let base_url = valid_base_url(body.base_url)?;
    let model = valid_model(body.model)?;
    let kind = match canonical_type(&name) {
        Some(t) => t.to_owned(),
        None => valid_type("openai_compatible", base_url.as_ref())?,
    };
    require_admin(&me)?;
    let store = store(&state)?;
    let existing = store
        .list_providers(&me.tenant_id)
        .await?
        .into_iter()
        .find(|r| r.name == name);
    let now = quarry_core::time::now();
    let record = match existing {
        Some(mut r) => {
            r.kind = kind;
            r.base_url = base_url;
            r.model = model;
            r.updated_at = now;
            seal(&state, &mut r, Some(key))?;
            store.update_provider(&r).await?;
            r
        }
        None => {
            ensure_room(store, &me).await?;
            let mut r = new_record(&me, name, kind, base_url, model, now);
            seal(&state, &mut r, Some(key))?;
            store.insert_provider(&r).await?;
            r
        }
    };
    state.tenant_llm.invalidate(&me.tenant_id);
    Ok(Json(ProviderView::from(&record)))
}

fn new_record(
    me: &Principal,
    name: String,
    kind: String,
    base_url: Option<String>,
    model: Option<String>,
    now: DateTime<Utc>,
) -> ProviderRecord {
    ProviderRecord {
        id: format!("prv_{}", RunId::generate()),
        tenant_id: me.tenant_id.clone(),
        name,
        kind,
        base_url,
        model,
        sealed_key: None,
        key_hint: None,
        created_at: now,
        updated_at: now,
    }
}

/// The tenant's stored provider configurations (NL→SQL server).
#[utoipa::path(get, path = "/api/v1/providers", tag = "providers",
    responses((status = 200, body = Vec<ProviderView>)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(me): Caller,
) -> ApiResult<Json<Vec<ProviderView>>> {
    let store = store(&state)?;
    Ok(Json(
        store
            .list_providers(&me.tenant_id)
            .await?
            .iter()
            .map(ProviderView::from)
            .collect(),
    ))
}

/// A new provider configuration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProviderBody {
    /// Its name, unique in the tenant (`[a-z0-9_-]{1,64}`).
    pub name: String,
    /// Its type: openai, anthropic (or claude), gemini (or google), xai, openrouter, groq,
    /// bedrock, ollama, openai_compatible.
    pub provider_type: String,
    /// Its key (stored sealed, never returned).
    #[serde(default)]
    pub api_key: Option<String>,
    /// Base URL (required for openai_compatible).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Default model.
    #[serde(default)]
    pub model: Option<String>,
}

/// Stores a provider configuration.
#[utoipa::path(post, path = "/api/v1/providers", tag = "providers", request_body = NewProviderBody,
    responses((status = 201, body = ProviderView), (status = 403), (status = 409), (status = 422)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(me): Caller,
    JsonBody(body): JsonBody<NewProviderBody>,
) -> ApiResult<Response> {
    let name = valid_name(&body.name)?;
    let base_url = valid_base_url(body.base_url)?;
    let kind = valid_type(&body.provider_type, base_url.as_ref())?;
    let model = valid_model(body.model)?;
    let key = body.api_key.as_deref().map(valid_key).transpose()?;
    require_admin(&me)?;
    let store = store(&state)?;
    ensure_room(store, &me).await?;
    let mut record = new_record(&me, name, kind, base_url, model, quarry_core::time::now());
    seal(&state, &mut record, key)?;
    store.insert_provider(&record).await?;
    state.tenant_llm.invalidate(&me.tenant_id);
    Ok((StatusCode::CREATED, Json(ProviderView::from(&record))).into_response())
}

fn valid_id(id: &str) -> ApiResult<&str> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(id)
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidId,
            "invalid provider id: must match [a-zA-Z0-9_-]{1,128}",
        )
        .with_details(json!({ "field": "id" })))
    }
}

/// One stored provider configuration.
#[utoipa::path(get, path = "/api/v1/providers/{id}", tag = "providers",
    params(("id" = String, Path, description = "Provider id")),
    responses((status = 200, body = ProviderView), (status = 404)))]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(id): IdPath<String>,
) -> ApiResult<Json<ProviderView>> {
    let id = valid_id(&id)?;
    let store = store(&state)?;
    Ok(Json(ProviderView::from(
        &store.get_provider(&me.tenant_id, id).await?,
    )))
}

/// Changes to a provider configuration; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProviderBody {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New type.
    #[serde(default)]
    pub provider_type: Option<String>,
    /// New key.
    #[serde(default)]
    pub api_key: Option<String>,
    /// New base URL (`""` clears it).
    #[serde(default)]
    pub base_url: Option<String>,
    /// New default model (`""` clears it).
    #[serde(default)]
    pub model: Option<String>,
}

/// Updates a stored provider configuration.
#[utoipa::path(put, path = "/api/v1/providers/{id}", tag = "providers",
    params(("id" = String, Path, description = "Provider id")),
    request_body = UpdateProviderBody,
    responses((status = 200, body = ProviderView), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(id): IdPath<String>,
    JsonBody(body): JsonBody<UpdateProviderBody>,
) -> ApiResult<Json<ProviderView>> {
    let id = valid_id(&id)?.to_owned();
    let name = body.name.as_deref().map(valid_name).transpose()?;
    let key = body.api_key.as_deref().map(valid_key).transpose()?;
    let base_url = body.base_url.map(|u| valid_base_url(Some(u))).transpose()?;
    let model = body.model.map(|m| valid_model(Some(m))).transpose()?;
    require_admin(&me)?;
    let store = store(&state)?;
    let mut record = store.get_provider(&me.tenant_id, &id).await?;
    if let Some(n) = name {
        record.name = n;
    }
    if let Some(u) = base_url {
        record.base_url = u;
    }
    if let Some(m) = model {
        record.model = m;
    }
    let label = body.provider_type.unwrap_or_else(|| record.kind.clone());
    record.kind = valid_type(&label, record.base_url.as_ref())?;
    record.updated_at = quarry_core::time::now();
    seal(&state, &mut record, key)?;
    store.update_provider(&record).await?;
    state.tenant_llm.invalidate(&me.tenant_id);
    Ok(Json(ProviderView::from(&record)))
}

/// Deletes a stored provider configuration.
#[utoipa::path(delete, path = "/api/v1/providers/{id}", tag = "providers",
    params(("id" = String, Path, description = "Provider id")),
    responses((status = 204), (status = 403), (status = 404)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(id): IdPath<String>,
) -> ApiResult<StatusCode> {
    let id = valid_id(&id)?.to_owned();
    require_admin(&me)?;
    let store = store(&state)?;
    store.delete_provider(&me.tenant_id, &id).await?;
    state.tenant_llm.invalidate(&me.tenant_id);
    Ok(StatusCode::NO_CONTENT)
}

/// Result of a provider test.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderTest {
    /// Whether the provider answered.
    pub ok: bool,
    /// The provider.
    pub provider: String,
    /// The model that answered (or was asked).
    pub model: String,
    /// Time to the complete answer, in milliseconds.
    pub latency_ms: u64,
    /// The start of the answer.
    pub reply: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Sends a tiny request to a stored provider and reports whether it answered.
#[utoipa::path(post, path = "/api/v1/providers/{id}/test", tag = "providers",
    params(("id" = String, Path, description = "Provider id")),
    responses((status = 200, body = ProviderTest), (status = 404)))]
pub(crate) async fn test(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(id): IdPath<String>,
) -> ApiResult<Json<ProviderTest>> {
    let id = valid_id(&id)?.to_owned();
    let store = store(&state)?;
    let record = store.get_provider(&me.tenant_id, &id).await?;
    let Some(spec) = spec_of(&state, &record) else {
        return Ok(Json(ProviderTest {
            ok: false,
            provider: record.name,
            model: record.model.unwrap_or_default(),
            latency_ms: 0,
            reply: None,
            error: Some("the stored configuration cannot be used; store the key again".into()),
        }));
    };
    let mut policy = *state.llm.policy();
    policy.retries = 0;
    policy.total_timeout = policy.total_timeout.min(Duration::from_secs(30));
    let provider = build_provider(&spec, policy.connect_timeout);
    let model = provider.default_model().to_owned();
    let gateway = Gateway::new(vec![provider], policy, Pricing::default());
    let started = Instant::now();
    let request = ChatRequest {
        messages: vec![ChatMessage::user("Reply with the single word: OK")],
        max_tokens: Some(16),
        ..ChatRequest::default()
    };
    let outcome = async {
        let mut stream = gateway.chat(request).await?;
        let mut reply = String::new();
        let mut answered = model.clone();
        while let Some(ev) = stream.next().await {
            match ev? {
                ChatEvent::TextDelta { text } if reply.len() < 200 => reply.push_str(&text),
                ChatEvent::Finish { model, .. } => answered = model,
                _ => {}
            }
        }
        Ok::<_, quarry_core::LlmError>((reply, answered))
    }
    .await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(Json(match outcome {
        Ok((reply, answered)) => ProviderTest {
            ok: true,
            provider: record.name,
            model: answered,
            latency_ms,
            reply: Some(reply),
            error: None,
        },
        Err(e) => ProviderTest {
            ok: false,
            provider: record.name,
            model,
            latency_ms,
            reply: None,
            error: Some(e.to_string()),
        },
    }))
}
