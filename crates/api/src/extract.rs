//! Request extractors that reject bad input with the error shape instead of axum's plain text.

use axum::{
    extract::{FromRequest, FromRequestParts, Query, Request},
    http::{header, request::Parts},
};
use std::sync::Arc;

use quarry_core::{Principal, SessionId};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::{
    AppState,
    error::{ApiError, ErrorCode},
};

/// A JSON body, read up to the configured limit. An empty body reads as `{}`, so requests
/// whose fields are all optional may omit it (as OpenAnalyst's `POST /sessions` does).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.config.max_body_bytes;
        let too_large = || {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("request body is larger than the limit of {limit} bytes"),
            )
            .with_details(json!({ "limit_bytes": limit }))
        };
        let headers = req.headers();
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|e| {
                if is_length_limit(&e) {
                    too_large()
                } else {
                    ApiError::new(ErrorCode::BadRequest, "could not read the request body")
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return parse(b"{}").map(JsonBody);
        }
        if let Some(ct) = content_type {
            let essence = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if essence != "application/json" && !essence.ends_with("+json") {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedMediaType,
                    format!("expected Content-Type: application/json, got '{essence}'"),
                ));
            }
        }
        parse(&bytes).map(JsonBody)
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Parses in two steps so that any syntax error is 400 even when the value has the wrong
/// shape early on (`[1,` must not read as "expected a string").
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(ErrorCode::InvalidJson, format!("malformed JSON: {e}"))
            .with_details(json!({ "line": e.line(), "column": e.column() }))
    })?;
    serde_json::from_value(value)
        .map_err(|e| ApiError::new(ErrorCode::ValidationError, format!("invalid body: {e}")))
}

/// Query parameters; wrong types or unknown values are 422 with the error shape.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(q)| QueryParams(q))
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::ValidationError,
                    format!("invalid query string: {}", e.body_text()),
                )
            })
    }
}

/// The principal a request acts as, as the authentication middleware
/// ([`crate::authn`]) resolved it, with the tenant `X-Tenant-ID` selected where allowed.
#[derive(Debug)]
pub struct Caller(pub Arc<Principal>);

/// Header that selects a tenant (owner mode, or principals that act for tenants).
pub const TENANT_HEADER: &str = "x-tenant-id";

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Arc<Principal>>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError::from(quarry_auth::AuthError::Missing))
    }
}

/// Path parameters; a segment that cannot be read (bad percent-encoding, invalid UTF-8) is
/// 400 `INVALID_ID` with the error shape, like any other bad id.
#[derive(Debug)]
pub struct IdPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for IdPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| IdPath(v))
            .map_err(|e| {
                ApiError::new(
                    ErrorCode::InvalidId,
                    format!("invalid path: {}", e.body_text()),
                )
            })
    }
}

/// Parses an artifact id (a path segment or `data_artifact_id`): 400 `INVALID_ID` when it is
/// not one.
pub fn artifact_id(raw: &str) -> Result<quarry_core::ArtifactId, ApiError> {
    quarry_core::ArtifactId::parse(raw).map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidId,
            "invalid artifact id: must match [a-zA-Z0-9_-]{1,128}",
        )
        .with_details(json!({ "field": "artifact_id" }))
    })
}

/// Parses a session id from a path segment: 400 `INVALID_ID` when it is not one.
pub fn session_id(raw: &str) -> Result<SessionId, ApiError> {
    SessionId::parse(raw).map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidId,
            "invalid session id: must match [a-zA-Z0-9_-]{1,128}",
        )
        .with_details(json!({ "field": "session_id" }))
    })
}
