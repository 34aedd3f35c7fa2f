//! Authentication and rate limiting, in front of every route.
//!
//! Credentials come as `X-API-Key` or `Authorization: Bearer` (an access token or an API
//! key). Without credentials a request acts as the owner unless auth is required. The
//! resolved [`Principal`] goes into the request's extensions for [`crate::extract::Caller`];
//! `X-Tenant-ID` switches tenant only for principals that act for tenants. Every response of
//! a counted request carries `X-RateLimit-Limit`, `-Remaining` and `-Reset`.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{Arc, OnceLock},
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use quarry_auth::{AuthError, Decision};
use quarry_core::{Principal, PrincipalRole, TenantId};
use serde_json::json;

use crate::{
    AppState,
    error::{ApiError, ErrorCode},
    extract::TENANT_HEADER,
};

/// Routes anyone may call without a budget: probes and docs.
const OPEN: [&str; 5] = [
    "/health",
    "/health/ready",
    "/docs",
    "/openapi.json",
    "/assets/g2plot.min.js",
];

/// Routes anyone may call within the per-address budget: those that hand out credentials.
const PUBLIC: [&str; 5] = [
    "/api/v1/auth/setup",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/logout",
    "/oauth/token",
];

/// Whether `path` needs no credentials.
pub fn is_public(path: &str) -> bool {
    OPEN.contains(&path) || PUBLIC.contains(&path)
}

enum Credential {
    ApiKey(String),
    Bearer(String),
}

fn credential(headers: &HeaderMap) -> Result<Option<Credential>, ApiError> {
    if let Some(v) = headers.get("x-api-key") {
        let key = v.to_str().map_err(|_| AuthError::Invalid)?.trim();
        return Ok(Some(Credential::ApiKey(key.to_owned())));
    }
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v.to_str().map_err(|_| AuthError::Invalid)?;
    match v.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Ok(Some(Credential::Bearer(token.trim().to_owned())))
        }
        _ => Err(AuthError::Invalid.into()),
    }
}

/// The client's address: the TCP peer, or, when the peer is a trusted reverse proxy, the
/// right-most address in `X-Forwarded-For` that is not itself a trusted proxy (the left part
/// of the header is whatever the client claimed, so it is never believed).
fn client_ip(req: &Request, trusted: &[IpAddr]) -> String {
    let Some(peer) = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip())
    else {
        return "unknown".to_owned();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    forwarded
        .iter()
        .rev()
        .filter_map(|a| a.parse::<IpAddr>().ok())
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
        .to_string()
}

/// The middleware.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(refusal) = crate::routes::refuse_foreign_caller(&state, &req) {
        return refusal;
    }
    let limits = state.config.rate_limits;
    let path = req.uri().path();
    if OPEN.contains(&path) {
        return next.run(req).await;
    }
    // Routes that hand out credentials are budgeted per address (login brute force).
    if PUBLIC.contains(&path) {
        let key = format!("ip:{}", client_ip(&req, &state.config.trusted_proxies));
        let decision = state.limiter.check(&key, limits.anonymous);
        return finish(decision, next, req).await;
    }
    let principal = match resolve(&state, req.headers()).await {
        Ok(p) => p,
        Err(e) => {
            // Failed attempts count against the address, so keys cannot be guessed fast.
            let key = format!("ip:{}", client_ip(&req, &state.config.trusted_proxies));
            let decision = state.limiter.check(&key, limits.anonymous);
            if !decision.allowed {
                return with_headers(rate_limited(decision), decision);
            }
            return with_headers(e.into_response(), decision);
        }
    };
    let Some(mut principal) = principal else {
        // Owner mode without credentials: the single local user, not budgeted.
        let principal = if req.headers().contains_key(TENANT_HEADER) {
            let mut p = Principal::owner(TenantId::owner());
            if let Err(e) = select_tenant(&mut p, req.headers()) {
                return e.into_response();
            }
            Arc::new(p)
        } else {
            owner().clone()
        };
        req.extensions_mut().insert(principal);
        return next.run(req).await;
    };
    if let Err(e) = select_tenant(&mut principal, req.headers()) {
        return e.into_response();
    }
    let (key, limit) = match (&principal.user_id, principal.role) {
        (Some(user), PrincipalRole::Member) => (format!("user:{user}"), limits.user),
        (Some(user), _) => (format!("user:{user}"), limits.admin),
        (None, _) => (
            format!("ip:{}", client_ip(&req, &state.config.trusted_proxies)),
            limits.anonymous,
        ),
    };
    let decision = state.limiter.check(&key, limit);
    req.extensions_mut().insert(Arc::new(principal));
    finish(decision, next, req).await
}

/// The owner of the default tenant, built once: most owner-mode requests use it.
fn owner() -> &'static Arc<Principal> {
    static OWNER: OnceLock<Arc<Principal>> = OnceLock::new();
    OWNER.get_or_init(|| Arc::new(Principal::owner(TenantId::owner())))
}

/// Resolves the principal: `Ok(None)` means no credentials in owner mode.
async fn resolve(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
    let cred = credential(headers)?;
    let Some(cred) = cred else {
        return if state.config.auth_required {
            Err(AuthError::Missing.into())
        } else {
            Ok(None)
        };
    };
    let auth = state.auth.as_ref().ok_or(AuthError::Invalid)?;
    let principal = match cred {
        Credential::ApiKey(k) => auth.authenticate_api_key(&k).await?,
        Credential::Bearer(t) => auth.authenticate_bearer(&t).await?,
    };
    Ok(Some(principal))
}

/// Applies `X-Tenant-ID`: honoured for principals that act for tenants; for anyone else it
/// may only name their own tenant.
fn select_tenant(principal: &mut Principal, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(v) = headers.get(TENANT_HEADER) else {
        return Ok(());
    };
    let tenant = v
        .to_str()
        .ok()
        .and_then(|s| TenantId::parse(s.trim()).ok())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidId,
                "invalid X-Tenant-ID: must match [a-zA-Z0-9_-]{1,128}",
            )
        })?;
    if principal.acts_for_tenants && principal.is_admin() {
        principal.tenant_id = tenant;
    } else if tenant != principal.tenant_id {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this principal may not act for another tenant",
        ));
    }
    Ok(())
}

async fn finish(decision: Decision, next: Next, req: Request) -> Response {
    if !decision.allowed {
        return with_headers(rate_limited(decision), decision);
    }
    with_headers(next.run(req).await, decision)
}

pub(crate) fn rate_limited(decision: Decision) -> Response {
    let mut resp = ApiError::new(
        ErrorCode::RateLimited,
        format!(
            "rate limit of {} requests per minute reached; retry in {} s",
            decision.limit, decision.reset_seconds
        ),
    )
    .with_details(json!({ "limit": decision.limit, "retry_after_seconds": decision.reset_seconds }))
    .into_response();
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(decision.reset_seconds),
    );
    resp
}

fn with_headers(mut resp: Response, d: Decision) -> Response {
    let h = resp.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from(d.reset_seconds));
    resp
}
