//! The router: one sub-router per API surface, merged over one state, with the fallbacks
//! and layers every route shares.

mod artifacts;
pub(crate) mod auth;
pub(crate) mod charts;
pub(crate) mod chat;
mod data;
mod docs;
mod dsagent;
pub(crate) mod files;
mod health;
pub(crate) mod kernel;
mod nl2sql;
pub(crate) mod oauth;
pub(crate) mod providers;
pub(crate) mod python_agent;
pub(crate) mod sessions;

use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, Method, header, request::Parts},
    response::{IntoResponse, Response},
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    trace::TraceLayer,
};

use crate::{
    AppState,
    error::{ApiError, ErrorCode},
};

pub(crate) use artifacts::__path_download;
pub(crate) use data::__path_data_agent;
pub(crate) use dsagent::{
    __path_archive_session, __path_create_session as __path_ds_create_session,
    __path_delete_session as __path_ds_delete_session, __path_get_session as __path_ds_get_session,
    __path_list_sessions as __path_ds_list_sessions, __path_update_session,
};
pub(crate) use files::{
    __path_delete_artifact, __path_delete_file, __path_download_artifact, __path_download_file,
    __path_list_artifacts, __path_list_files, __path_upload_files,
};
pub(crate) use health::{__path_health, __path_ready};
pub(crate) use kernel::{__path_execute, __path_kernel_state, __path_reset};
pub(crate) use nl2sql::{
    __path_cache_stats, __path_chat, __path_clear_cache, __path_create_connection,
    __path_create_example, __path_delete_connection, __path_delete_example, __path_delete_semantic,
    __path_execute_pending, __path_get_connection, __path_get_schema, __path_get_semantic,
    __path_get_settings, __path_history, __path_list_connections, __path_list_examples,
    __path_put_semantic, __path_put_settings, __path_refresh_schema, __path_run_query,
    __path_set_execution_mode, __path_test_connection, __path_update_connection,
};
pub(crate) use python_agent::__path_python_agent;
pub(crate) use sessions::{
    __path_create_session, __path_delete_session, __path_get_session, __path_list_sessions,
};

/// Every route quarry serves, with its shared layers.
pub fn router(state: AppState) -> Router {
    let cors = cors_layer(&state.config.cors_origins);
    Router::new()
        .merge(health::router())
        .merge(sessions::router())
        .merge(dsagent::router())
        .merge(kernel::router())
        .merge(files::router())
        .merge(python_agent::router())
        .merge(artifacts::router())
        .merge(charts::router())
        .merge(data::router())
        .merge(nl2sql::router())
        .merge(auth::router())
        .merge(oauth::router())
        .merge(docs::router())
        .merge(chat::router())
        .merge(providers::router())
        .fallback(|| async {
            ApiError::new(ErrorCode::NotFound, "no such route; see /docs for the API")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "method not allowed on this route; see /docs for the API",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::authn::authenticate,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            use axum::response::IntoResponse;
            ApiError::new(
                ErrorCode::InternalError,
                "internal error; see the server log",
            )
            .into_response()
        }))
        .layer(TraceLayer::new_for_http())
        .layer(cors)
        .with_state(state)
}

/// Browser clients on loopback origins (and configured ones) may call the API; other sites
/// may not, so a page on the web cannot drive an unauthenticated local server.
fn cors_layer(extra: &[String]) -> CorsLayer {
    let extra: Vec<HeaderValue> = extra
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _: &Parts| {
            is_loopback_origin(origin) || extra.contains(origin)
        }))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(tower_http::cors::Any)
}

/// While quarry serves without authentication on loopback, only loopback callers may use it:
/// a `Host` that is not a loopback name is refused (DNS rebinding), and so is a state-changing
/// request whose `Origin` is another site (cross-site requests from a browser). Called first
/// by the authentication middleware; `Some` is the refusal.
pub(crate) fn refuse_foreign_caller(state: &AppState, req: &Request) -> Option<Response> {
    if !state.config.loopback_only {
        return None;
    }
    let headers = req.headers();
    if let Some(host) = headers.get(header::HOST)
        && !host.to_str().is_ok_and(is_loopback_authority)
    {
        return Some(
            ApiError::new(
                ErrorCode::Forbidden,
                "this server answers only to loopback names (localhost, 127.0.0.1, [::1]) while \
                 it runs without authentication",
            )
            .into_response(),
        );
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe
        && let Some(origin) = headers.get(header::ORIGIN)
        && !is_loopback_origin(origin)
        && !state
            .config
            .cors_origins
            .iter()
            .any(|o| o.as_bytes() == origin.as_bytes())
    {
        return Some(
            ApiError::new(ErrorCode::Forbidden, "cross-site request refused").into_response(),
        );
    }
    None
}

/// `host` or `host:port` naming a loopback address.
fn is_loopback_authority(authority: &str) -> bool {
    let host = if authority.starts_with('[') {
        authority.split(']').next().map(|h| format!("{h}]"))
    } else {
        authority.split(':').next().map(str::to_owned)
    };
    matches!(
        host.map(|h| h.to_ascii_lowercase()).as_deref(),
        Some("localhost" | "127.0.0.1" | "[::1]")
    )
}

fn is_loopback_origin(origin: &HeaderValue) -> bool {
    let Ok(o) = origin.to_str() else { return false };
    o.strip_prefix("http://")
        .or_else(|| o.strip_prefix("https://"))
        .is_some_and(|rest| !rest.contains('/') && is_loopback_authority(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_origins_pass() {
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1",
            "https://[::1]:8080",
        ] {
            assert!(is_loopback_origin(&HeaderValue::from_static(ok)), "{ok}");
        }
        for ok in ["localhost:8000", "127.0.0.1", "[::1]:1", "LOCALHOST"] {
            assert!(is_loopback_authority(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "127.0.0.1.evil.example:80",
            "localhost.evil",
            "",
        ] {
            assert!(!is_loopback_authority(bad), "{bad}");
        }
        for bad in [
            "https://evil.example",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil.example",
            "null",
        ] {
            assert!(!is_loopback_origin(&HeaderValue::from_static(bad)), "{bad}");
        }
    }
}
