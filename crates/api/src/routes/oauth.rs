//! An OAuth2 authorization server for machine clients (RFC 6749, PKCE per RFC 7636):
//! `POST /oauth/token` (client_credentials, authorization_code, refresh_token),
//! `GET /oauth/authorize`, and client registration by admins under `/api/v1/oauth/clients`.
//! The token endpoint answers in RFC 6749's own error format, which OAuth2 libraries expect.

use axum::{
    Form, Json, Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{delete, get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use quarry_auth::AuthError;
use quarry_core::{ClientId, OAuthClient, PrincipalRole, UserRole};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::{
    AppState,
    error::{ApiError, ApiResult, ErrorCode},
    extract::{Caller, IdPath, JsonBody, QueryParams},
};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/oauth/authorize", get(authorize))
        .route(
            "/api/v1/oauth/clients",
            get(list_clients).post(create_client),
        )
        .route("/api/v1/oauth/clients/{client_id}", delete(delete_client))
}

/// `POST /oauth/token` form.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `client_credentials`, `authorization_code` or `refresh_token`.
    pub grant_type: String,
    /// The client (or in HTTP Basic auth).
    pub client_id: Option<String>,
    /// The client's secret (or in HTTP Basic auth).
    pub client_secret: Option<String>,
    /// The authorization code.
    pub code: Option<String>,
    /// The redirect URI the code was issued for.
    pub redirect_uri: Option<String>,
    /// The PKCE verifier.
    pub code_verifier: Option<String>,
    /// The refresh token.
    pub refresh_token: Option<String>,
}

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    let mut resp = (
        status,
        Json(json!({ "error": code, "error_description": description })),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"quarry\""),
        );
    }
    resp
}

fn from_auth_error(e: AuthError) -> Response {
    match e {
        AuthError::OAuth { code, description } => {
            let status = if code == "invalid_client" {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::BAD_REQUEST
            };
            oauth_error(status, code, &description)
        }
        AuthError::Invalid | AuthError::TokenReuse => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "invalid, expired or reused grant",
        ),
        other => ApiError::from(other).into_response(),
    }
}

/// Client credentials from HTTP Basic (client_secret_basic) or the form (client_secret_post).
fn client_credentials(
    headers: &HeaderMap,
    form: &TokenRequest,
) -> Option<(String, Option<String>)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        && let Ok(decoded) = STANDARD.decode(basic.trim())
        && let Ok(text) = String::from_utf8(decoded)
        && let Some((id, secret)) = text.split_once(':')
    {
        return Some((id.to_owned(), Some(secret.to_owned())));
    }
    form.client_id
        .clone()
        .map(|id| (id, form.client_secret.clone()))
}

/// The token endpoint.
#[utoipa::path(post, path = "/oauth/token", tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200), (status = 400), (status = 401)))]
pub(crate) async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send an application/x-www-form-urlencoded body with grant_type",
        );
    };
    let Some(auth) = state.auth.as_deref() else {
        return ApiError::new(
            ErrorCode::ServiceUnavailable,
            "authentication is not configured on this server",
        )
        .into_response();
    };
    let client = client_credentials(&headers, &form);
    let result = match form.grant_type.as_str() {
        "client_credentials" => match &client {
            Some((id, secret)) => auth.client_credentials(id, secret.as_deref()).await,
            None => Err(AuthError::oauth(
                "invalid_client",
                "client authentication required",
            )),
        },
        "authorization_code" => {
            match (&client, &form.code, &form.redirect_uri, &form.code_verifier) {
                (Some((id, secret)), Some(code), Some(uri), Some(verifier)) => {
                    auth.exchange_code(id, secret.as_deref(), code, uri, verifier)
                        .await
                }
                _ => Err(AuthError::oauth(
                    "invalid_request",
                    "authorization_code needs client_id, code, redirect_uri and code_verifier",
                )),
            }
        }
        "refresh_token" => match (&client, &form.refresh_token) {
            (Some((id, secret)), Some(rt)) => {
                auth.refresh_for_client(id, secret.as_deref(), rt).await
            }
            _ => Err(AuthError::oauth(
                "invalid_request",
                "refresh_token needs client_id and refresh_token",
            )),
        },
        _ => Err(AuthError::oauth(
            "unsupported_grant_type",
            "grant_type must be client_credentials, authorization_code or refresh_token",
        )),
    };
    match result {
        Ok(t) => {
            let mut body = json!({
                "access_token": t.access_token,
                "token_type": "Bearer",
                "expires_in": t.expires_in,
            });
            if let Some(rt) = t.refresh_token {
                body["refresh_token"] = json!(rt);
            }
            let mut resp = Json(body).into_response();
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => from_auth_error(e),
    }
}

/// `GET /oauth/authorize` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeParams {
    /// Must be `code`.
    pub response_type: String,
    /// The client.
    pub client_id: String,
    /// A registered redirect URI.
    pub redirect_uri: String,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// Must be `S256`.
    pub code_challenge_method: Option<String>,
    /// Opaque value returned to the client.
    pub state: Option<String>,
}

/// Authorization endpoint for an authenticated user (bearer token or API key): redirects to
/// the client's redirect URI with a one-time `code` (and `state`).
#[utoipa::path(get, path = "/oauth/authorize", tag = "oauth", params(AuthorizeParams),
    responses((status = 303, description = "Redirect to the client with a code"), (status = 400), (status = 401)))]
pub(crate) async fn authorize(
    State(state): State<AppState>,
    Caller(me): Caller,
    QueryParams(p): QueryParams<AuthorizeParams>,
) -> ApiResult<Response> {
    let auth = state.auth.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            "authentication is not configured",
        )
    })?;
    if me.role == PrincipalRole::Owner {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "authorize as a user: log in or use a user's API key",
        ));
    }
    if p.response_type != "code" {
        return Err(ApiError::validation(
            "response_type",
            "response_type must be code",
        ));
    }
    let code = auth
        .authorize(
            &me,
            &p.client_id,
            &p.redirect_uri,
            p.code_challenge.as_deref().unwrap_or_default(),
            p.code_challenge_method.as_deref().unwrap_or_default(),
        )
        .await?;
    let mut target = format!(
        "{}{}code={}",
        p.redirect_uri,
        if p.redirect_uri.contains('?') {
            '&'
        } else {
            '?'
        },
        code
    );
    if let Some(s) = p.state {
        target.push_str("&state=");
        target.push_str(&urlencode(&s));
    }
    Ok(Redirect::to(&target).into_response())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `POST /api/v1/oauth/clients` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClientBody {
    /// Display name.
    pub name: String,
    /// Redirect URIs for the authorization code flow.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Confidential clients get a secret (and may use client_credentials).
    #[serde(default = "yes")]
    pub confidential: bool,
    /// Role of the client's own user for client_credentials: `member` (default) or `admin`.
    pub role: Option<String>,
}

fn yes() -> bool {
    true
}

/// A client as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    /// `client_id`.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Whether it has a secret.
    pub confidential: bool,
    /// The secret, in the answer that created the client only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl ClientView {
    fn of(c: OAuthClient, secret: Option<String>) -> Self {
        Self {
            client_id: c.id.into_string(),
            name: c.name,
            redirect_uris: c.redirect_uris,
            confidential: c.secret_hash.is_some(),
            client_secret: secret,
        }
    }
}

fn admin_only(me: &quarry_core::Principal) -> ApiResult<()> {
    if me.is_admin() {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            "only admins manage OAuth clients",
        ))
    }
}

/// Register a client (admins). It gets its own user for client_credentials.
#[utoipa::path(post, path = "/api/v1/oauth/clients", tag = "oauth", request_body = NewClientBody,
    responses((status = 201, body = ClientView), (status = 403), (status = 422)))]
pub(crate) async fn create_client(
    State(state): State<AppState>,
    Caller(me): Caller,
    JsonBody(body): JsonBody<NewClientBody>,
) -> ApiResult<(StatusCode, Json<ClientView>)> {
    admin_only(&me)?;
    let auth = state.auth.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            "authentication is not configured",
        )
    })?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::validation(
            "name",
            "name must be 1-100 characters",
        ));
    }
    let role = match body.role.as_deref() {
        None => UserRole::Member,
        Some(r) => UserRole::parse(r)
            .ok_or_else(|| ApiError::validation("role", "role must be admin or member"))?,
    };
    let username = format!("svc-{}", &quarry_auth::secret::random_token("")[..12]).to_lowercase();
    let service_user = auth
        .new_user(me.tenant_id.clone(), &username, None, None, role)
        .await?;
    auth.store().create_user(&service_user).await?;
    let (client, secret) = auth
        .register_client(&service_user, name, body.redirect_uris, body.confidential)
        .await?;
    Ok((StatusCode::CREATED, Json(ClientView::of(client, secret))))
}

/// The tenant's clients (admins).
#[utoipa::path(get, path = "/api/v1/oauth/clients", tag = "oauth",
    responses((status = 200), (status = 403)))]
pub(crate) async fn list_clients(
    State(state): State<AppState>,
    Caller(me): Caller,
) -> ApiResult<Json<Value>> {
    admin_only(&me)?;
    let auth = state.auth.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            "authentication is not configured",
        )
    })?;
    let clients: Vec<ClientView> = auth
        .store()
        .list_clients(&me.tenant_id)
        .await?
        .into_iter()
        .map(|c| ClientView::of(c, None))
        .collect();
    Ok(Json(json!({ "clients": clients })))
}

/// Delete a client with its codes and tokens (admins).
#[utoipa::path(delete, path = "/api/v1/oauth/clients/{client_id}", tag = "oauth",
    params(("client_id" = String, Path, description = "Client id")),
    responses((status = 200), (status = 403), (status = 404)))]
pub(crate) async fn delete_client(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(raw): IdPath<String>,
) -> ApiResult<Json<Value>> {
    admin_only(&me)?;
    let id = ClientId::parse(&raw)
        .map_err(|_| ApiError::new(ErrorCode::InvalidId, "invalid client id"))?;
    let auth = state.auth.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            "authentication is not configured",
        )
    })?;
    auth.store().delete_client(&me.tenant_id, &id).await?;
    Ok(Json(json!({ "success": true, "client_id": id })))
}
