//! Wire shapes: what each surface sends and accepts. Only this crate knows these names.

use chrono::{DateTime, Utc};
use quarry_core::{HitlMode, Message, Session, SessionStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` while the process serves requests.
    pub status: &'static str,
    /// quarry's version.
    pub version: &'static str,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// Current server time.
    #[serde(with = "quarry_core::time::wire")]
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: DateTime<Utc>,
}

/// A session as oneprompt and OpenAnalyst show it (one resource, the union of both shapes).
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Session id.
    pub session_id: String,
    /// Display name.
    pub name: String,
    /// `active`, `paused`, `completed` or `archived`.
    #[schema(value_type = String, example = "active")]
    pub status: SessionStatus,
    /// Creation time.
    #[serde(with = "quarry_core::time::wire")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "quarry_core::time::wire")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    /// Messages so far.
    pub message_count: u64,
}

impl From<Session> for SessionView {
    fn from(s: Session) -> Self {
        Self {
            session_id: s.id.into_string(),
            name: s.name,
            status: s.status,
            created_at: s.created_at,
            updated_at: s.updated_at,
            message_count: s.message_count,
        }
    }
}

/// `GET /sessions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// Newest first.
    pub sessions: Vec<SessionView>,
    /// Sessions matching in all.
    pub total: u64,
    /// True when more pages follow.
    pub has_more: bool,
}

/// One entry of a session's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// Message id.
    pub id: String,
    /// `user`, `assistant`, `execution` or `system`.
    #[schema(value_type = String)]
    pub role: quarry_core::Role,
    /// Text.
    pub content: String,
    /// When it was written.
    #[serde(with = "quarry_core::time::wire")]
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: DateTime<Utc>,
}

impl From<Message> for HistoryEntry {
    fn from(m: Message) -> Self {
        Self {
            id: m.id.into_string(),
            role: m.role,
            content: m.content,
            timestamp: m.timestamp,
        }
    }
}

/// `GET /sessions/{id}`: details and conversation history.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDetail {
    /// The session.
    #[serde(flatten)]
    pub session: SessionView,
    /// Messages, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// `POST /sessions` body; every field optional, unknown fields ignored.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateSession {
    /// Display name.
    pub name: Option<String>,
}

/// A session in DSAgent's shape.
#[derive(Debug, Serialize, ToSchema)]
pub struct DsSession {
    /// Session id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `active`, `paused`, `completed` or `archived`.
    #[schema(value_type = String, example = "active")]
    pub status: SessionStatus,
    /// Creation time.
    #[serde(with = "quarry_core::time::wire")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(with = "quarry_core::time::wire")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    /// Messages so far.
    pub message_count: u64,
    /// Variables in the session's kernel.
    pub kernel_variables: u64,
    /// Absolute path of the session's workspace.
    pub workspace_path: String,
    /// Preferred model.
    pub model: Option<String>,
    /// Human-in-the-loop mode.
    #[schema(value_type = String, example = "none")]
    pub hitl_mode: HitlMode,
}

/// `GET /api/sessions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DsSessionList {
    /// Newest first.
    pub sessions: Vec<DsSession>,
    /// Sessions matching in all.
    pub total: u64,
    /// True when more pages follow.
    pub has_more: bool,
}

/// `POST /api/sessions` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DsCreateSession {
    /// Display name.
    pub name: Option<String>,
    /// LLM model.
    pub model: Option<String>,
    /// `none`, `plan_only`, `on_error`, `plan_and_answer` or `full`.
    #[schema(value_type = Option<String>)]
    pub hitl_mode: Option<HitlMode>,
}

/// `PUT /api/sessions/{id}` body; only the fields given change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DsUpdateSession {
    /// New name.
    pub name: Option<String>,
    /// `active`, `paused`, `completed` or `archived`.
    #[schema(value_type = Option<String>)]
    pub status: Option<SessionStatus>,
    /// New model; `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub model: Option<Option<String>>,
    /// New HITL mode.
    #[schema(value_type = Option<String>)]
    pub hitl_mode: Option<HitlMode>,
}

fn double_option<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Paging for session listings (shared by both surfaces).
#[derive(Debug, Default, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListSessionsParams {
    /// Only sessions with this status.
    pub status: Option<String>,
    /// Page size, 1–100 (default 50).
    pub limit: Option<i64>,
    /// Sessions to skip (default 0).
    pub offset: Option<i64>,
}

/// A JSON response from an already rendered body.
pub fn json_bytes(body: bytes::Bytes) -> axum::response::Response {
    use axum::{
        http::{HeaderValue, header},
        response::IntoResponse,
    };
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Renders `value` as JSON into a buffer of `capacity` bytes, sized up front so a large
/// listing is not copied several times while the buffer grows.
pub fn render_json<T: Serialize>(
    value: &T,
    capacity: usize,
) -> Result<Vec<u8>, crate::error::ApiError> {
    let mut buf = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut buf, value).map_err(|e| {
        crate::error::ApiError::new(
            crate::error::ErrorCode::InternalError,
            format!("cannot render the response: {e}"),
        )
    })?;
    Ok(buf)
}

/// Outcome of a delete or an action, as DSAgent reports it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ack {
    /// True when it was done.
    pub success: bool,
    /// What was done.
    pub message: String,
    /// The session acted on.
    pub session_id: String,
}
