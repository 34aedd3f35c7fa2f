//! `GET /health` and `GET /health/ready` (every seed has them; no auth).

use std::time::Duration;

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};

use crate::{
    AppState,
    error::{ApiError, ErrorCode},
    views::Health,
};

/// How long a readiness probe waits for each dependency.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/health/ready", get(ready))
}

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "Alive", body = Health)))]
pub(crate) async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started.elapsed().as_secs(),
        timestamp: chrono::Utc::now(),
    })
}

/// Readiness: every dependency answers. 503 names the failing part.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses((status = 200, description = "Ready"), (status = 503, description = "A dependency failed")))]
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let (meta, art) = tokio::join!(
        tokio::time::timeout(CHECK_TIMEOUT, state.metadata.ping()),
        tokio::time::timeout(CHECK_TIMEOUT, state.artifacts.ping()),
    );
    // Readiness needs no auth, so the body names what failed and the log says why.
    let check =
        |part: &str, r: Result<quarry_core::Result<()>, tokio::time::error::Elapsed>| match r {
            Ok(Ok(())) => json!({ "ok": true }),
            Ok(Err(e)) => {
                tracing::warn!(part, error = %e, "readiness check failed");
                json!({ "ok": false, "error": "check failed; see the server log" })
            }
            Err(_) => {
                tracing::warn!(part, "readiness check timed out");
                let secs = CHECK_TIMEOUT.as_secs();
                json!({ "ok": false, "error": format!("no answer within {secs}s") })
            }
        };
    let mut meta = check("metadata_store", meta);
    meta["backend"] = json!(state.metadata.backend());
    let mut checks =
        json!({ "metadata_store": meta, "artifact_store": check("artifact_store", art) });
    // What the agents can do; informational: quarry serves without any of them.
    checks["kernels"] = match &state.kernels {
        Some(k) => json!({
            "ok": true,
            "enabled": true,
            "sandboxed": k.config().sandbox.enabled,
            "environment_ready": k.environment_present(),
        }),
        None => json!({ "ok": true, "enabled": false }),
    };
    let models: Vec<Value> = state
        .llm
        .status()
        .into_iter()
        .map(|p| json!({ "name": p.name, "model": p.model, "breaker_open": p.breaker_open }))
        .collect();
    checks["language_models"] = json!({ "ok": true, "providers": models });
    checks["data_agent"] = json!({
        "ok": true,
        "enabled": state.data.is_some(),
        "default_connection": state.data.as_ref().and_then(|d| d.default.as_ref()).map(|c| c.id.clone()),
    });
    let failing: Vec<&str> = checks
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, v)| v["ok"] != Value::Bool(true))
                .map(|(k, _)| k.as_str())
                .collect()
        })
        .unwrap_or_default();
    if failing.is_empty() {
        return Json(json!({ "ready": true, "checks": checks })).into_response();
    }
    let err = ApiError::new(
        ErrorCode::ServiceUnavailable,
        format!("not ready: {} failing", failing.join(", ")),
    )
    .with_details(json!({ "failing": failing }));
    let mut body = err.body();
    body["ready"] = json!(false);
    body["checks"] = checks;
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, HeaderValue::from_static("5"))],
        Json(body),
    )
        .into_response()
}
