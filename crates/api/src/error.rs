//! The one place errors become HTTP: a table of stable codes to statuses, and the error body
//! every surface renders: `{"error":{"code","message","details"},"detail":"…"}`.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

/// Stable error codes, in the seeds' upper snake case; each has exactly one status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request is malformed (bad query string, bad header).
    BadRequest,
    /// The body is not valid JSON.
    InvalidJson,
    /// An id in the path or body does not match `[a-zA-Z0-9_-]{1,128}`.
    InvalidId,
    /// Well-formed input with wrong types or values.
    ValidationError,
    /// No credentials, or credentials that do not authenticate.
    Unauthorized,
    /// The request comes from somewhere it may not, or the principal may not do this.
    Forbidden,
    /// Unknown object, or another tenant's.
    NotFound,
    /// The route exists but not for this method.
    MethodNotAllowed,
    /// Conflicts with stored state.
    Conflict,
    /// Body larger than the configured limit.
    PayloadTooLarge,
    /// Over the request budget.
    RateLimited,
    /// Body is not JSON where JSON is required.
    UnsupportedMediaType,
    /// A dependency (store, kernel, provider) is not available.
    ServiceUnavailable,
    /// A bug: never expected.
    InternalError,
}

impl ErrorCode {
    /// The wire code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "BAD_REQUEST",
            Self::InvalidJson => "INVALID_JSON",
            Self::InvalidId => "INVALID_ID",
            Self::ValidationError => "VALIDATION_ERROR",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::Conflict => "CONFLICT",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::RateLimited => "RATE_LIMITED",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::InternalError => "INTERNAL_ERROR",
        }
    }

    /// The HTTP status for this code.
    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest | Self::InvalidJson | Self::InvalidId => StatusCode::BAD_REQUEST,
            Self::ValidationError => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error on its way to becoming a response.
#[derive(Debug)]
pub struct ApiError {
    /// The stable code (decides the status).
    pub code: ErrorCode,
    /// Human-readable text, safe to show (no secrets).
    pub message: String,
    /// Structured facts (field, limit, id…); `{}` when none.
    pub details: Value,
}

impl ApiError {
    /// An error with `code` and `message` and no details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: json!({}),
        }
    }

    /// Adds structured details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// 422 for a field whose value is not acceptable.
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationError, message).with_details(json!({ "field": field }))
    }

    /// 404 for an object of `kind` with `id`.
    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{kind} '{id}' not found"))
            .with_details(json!({ "kind": kind, "id": id }))
    }

    /// The JSON body (also used by responses that add fields of their own).
    pub fn body(&self) -> Value {
        json!({
            "error": {
                "code": self.code.as_str(),
                "message": self.message,
                "details": self.details,
            },
            "detail": self.message,
        })
    }
}

impl From<quarry_core::Error> for ApiError {
    fn from(e: quarry_core::Error) -> Self {
        use quarry_core::Error as E;
        match e {
            E::NotFound { kind, id } => Self::not_found(kind, &id),
            E::Invalid(m) => Self::new(ErrorCode::ValidationError, m),
            E::Conflict(m) => Self::new(ErrorCode::Conflict, m),
            E::TooLarge { limit } => Self::new(
                ErrorCode::PayloadTooLarge,
                format!("too large: the limit is {limit} bytes"),
            )
            .with_details(json!({ "limit_bytes": limit })),
            E::Unavailable(what) => {
                Self::new(ErrorCode::ServiceUnavailable, format!("{what} unavailable"))
            }
            other => {
                // Store and I/O failures are logged in full and reported without internals.
                tracing::error!(error = %other, "request failed");
                Self::new(
                    ErrorCode::InternalError,
                    "internal error; see the server log",
                )
            }
        }
    }
}

impl From<quarry_auth::AuthError> for ApiError {
    fn from(e: quarry_auth::AuthError) -> Self {
        use quarry_auth::AuthError as A;
        match e {
            A::Missing | A::Invalid | A::BadLogin | A::TokenReuse => {
                Self::new(ErrorCode::Unauthorized, e.to_string())
            }
            A::Forbidden(m) => Self::new(ErrorCode::Forbidden, m),
            A::AlreadySetUp => Self::new(ErrorCode::Conflict, e.to_string()),
            A::OAuth { code, description } => Self::new(ErrorCode::BadRequest, description)
                .with_details(json!({ "oauth_error": code })),
            A::Store(inner) => inner.into(),
            other => {
                tracing::error!(error = %other, "authentication failed unexpectedly");
                Self::new(
                    ErrorCode::InternalError,
                    "internal error; see the server log",
                )
            }
        }
    }
}

impl From<quarry_kernel::KernelError> for ApiError {
    fn from(e: quarry_kernel::KernelError) -> Self {
        use quarry_kernel::KernelError as K;
        match e {
            K::Environment(_) | K::Start(_) | K::Unavailable(_) => {
                tracing::warn!(error = %e, "no kernel available");
                Self::new(
                    ErrorCode::ServiceUnavailable,
                    format!("kernel unavailable: {e}"),
                )
            }
            other => {
                tracing::error!(error = %other, "kernel failed");
                Self::new(
                    ErrorCode::InternalError,
                    "kernel failed; see the server log",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let mut resp = (status, Json(self.body())).into_response();
        let headers = resp.headers_mut();
        match status {
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            // The rest of an oversized body is never read: the connection cannot be reused.
            StatusCode::PAYLOAD_TOO_LARGE => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            StatusCode::UNAUTHORIZED => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"quarry\""),
                );
            }
            _ => {}
        }
        resp
    }
}

/// Result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

impl From<quarry_sql::SqlError> for ApiError {
    fn from(e: quarry_sql::SqlError) -> Self {
        use quarry_sql::SqlError as E;
        let code = match &e {
            // A refused or failing query is the caller's input: a clear 400. So is a saved
            // connection that does not answer: its settings are the caller's.
            E::Refused(_)
            | E::Database(_)
            | E::Timeout(_)
            | E::NotUnderstood(_)
            | E::Connect(_) => ErrorCode::BadRequest,
            E::InvalidConnection(_) => ErrorCode::ValidationError,
            E::Llm(_) => ErrorCode::ServiceUnavailable,
            _ => ErrorCode::InternalError,
        };
        Self::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_distinct_name_and_an_error_status() {
        let all = [
            ErrorCode::BadRequest,
            ErrorCode::InvalidJson,
            ErrorCode::InvalidId,
            ErrorCode::ValidationError,
            ErrorCode::Unauthorized,
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::RateLimited,
            ErrorCode::MethodNotAllowed,
            ErrorCode::Conflict,
            ErrorCode::PayloadTooLarge,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::ServiceUnavailable,
            ErrorCode::InternalError,
        ];
        let mut names: Vec<_> = all.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        assert!(all.iter().all(|c| c.status().as_u16() >= 400));
    }

    #[test]
    fn body_carries_both_conventions() {
        let b = ApiError::not_found("session", "x").body();
        assert_eq!(b["error"]["code"], "NOT_FOUND");
        assert_eq!(b["detail"], b["error"]["message"]);
        assert_eq!(b["error"]["details"]["id"], "x");
    }
}
