//! DSAgent's kernel API: `GET /api/sessions/{id}/kernel` (state and variables),
//! `POST …/kernel/execute` and `POST …/kernel/reset`. The session must exist before any
//! kernel is started for it.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    routing::{get, post},
};
use quarry_core::{Image, Principal, Session};
use quarry_kernel::KernelManager;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    AppState,
    error::{ApiError, ApiResult, ErrorCode},
    extract::{Caller, IdPath, JsonBody, session_id},
    views::Ack,
};

/// Largest piece of code accepted, in bytes.
const MAX_CODE_BYTES: usize = 1024 * 1024;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/sessions/{session_id}/kernel", get(kernel_state))
        .route("/api/sessions/{session_id}/kernel/execute", post(execute))
        .route("/api/sessions/{session_id}/kernel/reset", post(reset))
}

/// Code to run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteBody {
    /// Python source.
    pub code: String,
}

/// A picture the code drew.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImageView {
    /// `png` or `jpeg`.
    pub format: String,
    /// Base64 of the bytes.
    pub data: String,
}

/// The error raised by the code, in parts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Exception class (`ValueError`, `TimeoutError`, `KernelDied`, …).
    pub ename: String,
    /// Exception message.
    pub evalue: String,
    /// Traceback lines.
    pub traceback: Vec<String>,
}

/// What running the code produced (DSAgent's `ExecutionResult`, plus quarry's details).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExecutionView {
    /// Standard output (with the value of the last expression).
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// `"<ename>: <evalue>"` and the traceback, when it failed.
    pub error: Option<String>,
    /// Pictures, base64.
    pub images: Vec<ImageView>,
    /// True when it ran without error.
    pub success: bool,
    /// The error in parts.
    pub error_detail: Option<ErrorDetail>,
    /// Rich outputs (MIME bundles) in order.
    #[schema(value_type = Vec<Object>)]
    pub outputs: Vec<serde_json::Value>,
    /// Wall-clock time, in milliseconds.
    pub duration_ms: u64,
    /// The wall-clock limit stopped it.
    pub timed_out: bool,
    /// The kernel was restarted (its variables are gone).
    pub restarted: bool,
    /// The kernel's execution counter.
    pub execution_count: Option<u64>,
}

/// One variable of the kernel.
#[derive(Debug, Serialize, ToSchema)]
pub struct VariableView {
    /// Its name.
    pub name: String,
    /// Its Python type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Rows and columns of a table or array, length of a container.
    pub shape: Option<Vec<u64>>,
}

/// The state of a session's kernel.
#[derive(Debug, Serialize, ToSchema)]
pub struct KernelView {
    /// The session.
    pub session_id: String,
    /// `not_started`, `idle`, `busy` or `dead`.
    pub status: String,
    /// True while a kernel process runs for the session.
    pub alive: bool,
    /// Its variables (listed when idle).
    pub variables: Vec<VariableView>,
    /// Number of variables.
    pub variable_count: usize,
    /// Executions run in it.
    pub execution_count: u64,
    /// Times it was restarted after dying or hanging.
    pub restarts: u64,
    /// True when kernels run in the sandbox.
    pub sandboxed: bool,
}

/// The kernel manager, or 503 when the server runs without kernels.
pub(crate) fn kernels(state: &AppState) -> ApiResult<&Arc<KernelManager>> {
    state.kernels.as_ref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            "Python kernels are not enabled on this server",
        )
    })
}

/// The session named in the path, which must exist for the caller's tenant.
pub(crate) async fn session_of(state: &AppState, me: &Principal, raw: &str) -> ApiResult<Session> {
    let id = session_id(raw)?;
    Ok(state.metadata.get_session(&me.tenant_id, &id).await?)
}

/// The kernel manager's key for a session.
pub(crate) fn kernel_key(session: &Session) -> String {
    format!("{}/{}", session.tenant_id.as_str(), session.id.as_str())
}

/// State and variables of the session's kernel (does not start one).
#[utoipa::path(get, path = "/api/sessions/{session_id}/kernel", tag = "dsagent",
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, body = KernelView), (status = 400), (status = 404), (status = 503)))]
pub(crate) async fn kernel_state(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(raw): IdPath<String>,
) -> ApiResult<Json<KernelView>> {
    let session = session_of(&state, &me, &raw).await?;
    let manager = kernels(&state)?;
    let s = manager.state(&kernel_key(&session)).await;
    let status = serde_json::to_value(s.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let variables: Vec<VariableView> = s
        .variables
        .into_iter()
        .map(|v| VariableView {
            name: v.name,
            type_name: v.type_name,
            shape: v.shape,
        })
        .collect();
    Ok(Json(KernelView {
        session_id: session.id.to_string(),
        alive: matches!(
            s.status,
            quarry_kernel::KernelStatus::Idle | quarry_kernel::KernelStatus::Busy
        ),
        status,
        variable_count: variables.len(),
        variables,
        execution_count: s.execution_count,
        restarts: s.restarts,
        sandboxed: manager.config().sandbox.enabled,
    }))
}

/// Run Python in the session's kernel (started on first use). Errors raised by the code
/// are part of a 200 answer (`success: false`); a timeout interrupts the code and, if it
/// does not stop, restarts the kernel (`timed_out`, `restarted`).
#[utoipa::path(post, path = "/api/sessions/{session_id}/kernel/execute", tag = "dsagent",
    request_body = ExecuteBody,
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, body = ExecutionView), (status = 400), (status = 404),
              (status = 422), (status = 503)))]
pub(crate) async fn execute(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(raw): IdPath<String>,
    JsonBody(body): JsonBody<ExecuteBody>,
) -> ApiResult<Json<ExecutionView>> {
    let session = session_of(&state, &me, &raw).await?;
    if body.code.len() > MAX_CODE_BYTES || body.code.contains('\0') {
        return Err(ApiError::validation(
            "code",
            "code must be at most 1 MiB of text without NUL characters",
        ));
    }
    let manager = kernels(&state)?;
    let workspace = state.workspace_path(&session.tenant_id, &session.id);
    let key = kernel_key(&session);
    let out = manager.execute(&key, &workspace, &body.code).await?;
    // DSAgent's session shows how many variables its kernel holds.
    let count = manager.state(&key).await.variables.len() as u64;
    if count != session.kernel_variables {
        let patch = quarry_core::SessionPatch {
            kernel_variables: Some(count),
            ..Default::default()
        };
        if let Err(e) = state
            .metadata
            .update_session(&session.tenant_id, &session.id, &patch)
            .await
        {
            tracing::warn!(session_id = %session.id, error = %e, "cannot record kernel_variables");
        }
    }
    Ok(Json(render(out)))
}

pub(crate) fn render(out: quarry_kernel::Execution) -> ExecutionView {
    let result = out.to_result();
    ExecutionView {
        stdout: result.stdout,
        stderr: result.stderr,
        error: result.error,
        images: result
            .images
            .into_iter()
            .map(|Image { format, data }| ImageView { format, data })
            .collect(),
        success: result.success,
        error_detail: out.error.map(|e| ErrorDetail {
            ename: e.ename,
            evalue: e.evalue,
            traceback: e.traceback,
        }),
        outputs: out.outputs,
        duration_ms: out.duration_ms,
        timed_out: out.timed_out,
        restarted: out.restarted,
        execution_count: out.execution_count,
    }
}

/// Stop the session's kernel: its variables are cleared; files stay. The next execution
/// starts a fresh kernel.
#[utoipa::path(post, path = "/api/sessions/{session_id}/kernel/reset", tag = "dsagent",
    params(("session_id" = String, Path, description = "Session id")),
    responses((status = 200, body = Ack), (status = 400), (status = 404), (status = 503)))]
pub(crate) async fn reset(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(raw): IdPath<String>,
) -> ApiResult<Json<Ack>> {
    let session = session_of(&state, &me, &raw).await?;
    kernels(&state)?.reset(&kernel_key(&session)).await;
    Ok(Json(Ack {
        success: true,
        message: "kernel reset".into(),
        session_id: session.id.to_string(),
    }))
}
