//! The NL→SQL server's auth and user API under `/api/v1`: first-boot setup, login, refresh,
//! logout, the current user, API keys, and user management.

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{delete, get, post},
};
use chrono::{DateTime, Utc};
use quarry_auth::{Authenticator, TokenPair};
use quarry_core::{ApiKey, ApiKeyId, Principal, User, UserId, UserPatch, UserRole};
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
        .route("/api/v1/auth/setup", post(setup))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/auth/keys", get(list_keys).post(create_key))
        .route("/api/v1/auth/keys/{key_id}", delete(revoke_key))
        .route("/api/v1/users", get(list_users).post(create_user))
        .route(
            "/api/v1/users/{user_id}",
            get(get_user).put(update_user).delete(delete_user),
        )
}

/// A user as the API shows it (never its password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// User id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Contact address.
    pub email: Option<String>,
    /// `admin` or `member`.
    pub role: String,
    /// Tenant.
    pub tenant_id: String,
    /// Disabled users cannot authenticate.
    pub disabled: bool,
    /// Creation time.
    #[serde(with = "quarry_core::time::wire")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id.into_string(),
            username: u.username,
            email: u.email,
            role: u.role.as_str().to_owned(),
            tenant_id: u.tenant_id.into_string(),
            disabled: u.disabled,
            created_at: u.created_at,
        }
    }
}

/// Tokens, in OAuth2's field names.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    /// Bearer access token (JWT).
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single-use refresh token; rotates on every refresh.
    pub refresh_token: Option<String>,
}

impl From<TokenPair> for TokenView {
    fn from(t: TokenPair) -> Self {
        Self {
            access_token: t.access_token,
            token_type: "bearer",
            expires_in: t.expires_in,
            refresh_token: t.refresh_token,
        }
    }
}

/// Setup and login answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginView {
    /// The user.
    pub user: UserView,
    /// Its tokens.
    #[serde(flatten)]
    pub tokens: TokenView,
}

/// `POST /api/v1/auth/setup` and `POST /api/v1/users` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    /// Login name (a-z, 0-9, `.`, `_`, `@`, `-`).
    pub username: String,
    /// At least 8 characters. Optional for users that will only use API keys.
    pub password: Option<String>,
    /// Contact address.
    pub email: Option<String>,
    /// `admin` or `member` (default); ignored by setup, whose user is an admin.
    pub role: Option<String>,
    /// Tenant of the new user (admins acting for tenants only; default: the caller's).
    pub tenant_id: Option<String>,
    /// Setup only: the token from `<data dir>/secrets/setup-token` when auth is required.
    pub setup_token: Option<String>,
}

/// `POST /api/v1/auth/login` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// `refresh` and `logout` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    /// The refresh token.
    pub refresh_token: String,
}

fn authenticator(state: &AppState) -> ApiResult<&Authenticator> {
    state.auth.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            "authentication is not configured on this server",
        )
    })
}

fn parse_role(raw: Option<&str>) -> ApiResult<UserRole> {
    match raw {
        None => Ok(UserRole::Member),
        Some(r) => UserRole::parse(r)
            .ok_or_else(|| ApiError::validation("role", "role must be admin or member")),
    }
}

/// The user behind a principal; `None` for the owner of an unauthenticated server.
async fn user_of(state: &AppState, me: &Principal) -> ApiResult<Option<User>> {
    let Some(id) = me.user_id.as_deref().and_then(|u| UserId::parse(u).ok()) else {
        return Ok(None);
    };
    if me.role == quarry_core::PrincipalRole::Owner {
        return Ok(None);
    }
    let auth = authenticator(state)?;
    Ok(Some(auth.store().get_user(&me.home_tenant_id, &id).await?))
}

/// First-boot setup: creates the first admin while no user exists (409 afterwards).
#[utoipa::path(post, path = "/api/v1/auth/setup", tag = "auth", request_body = NewUserBody,
    responses((status = 201, body = LoginView), (status = 409), (status = 422)))]
pub(crate) async fn setup(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewUserBody>,
) -> ApiResult<(StatusCode, Json<LoginView>)> {
    let auth = authenticator(&state)?;
    let password = body
        .password
        .ok_or_else(|| ApiError::validation("password", "password is required"))?;
    let (user, tokens) = auth
        .setup(
            &body.username,
            password,
            body.email,
            body.setup_token.as_deref(),
        )
        .await?;
    tracing::info!(user_id = %user.id, "first admin created");
    Ok((
        StatusCode::CREATED,
        Json(LoginView {
            user: user.into(),
            tokens: tokens.into(),
        }),
    ))
}

/// Log in with a username and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = LoginView), (status = 401), (status = 429)))]
pub(crate) async fn login(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<Json<LoginView>, axum::response::Response> {
    use axum::response::IntoResponse;
    // Each account has its own budget too, so guessing one password from many addresses
    // is as slow as from one.
    let account = format!("login:{}", body.username.trim().to_lowercase());
    let decision = state
        .limiter
        .check(&account, state.config.rate_limits.anonymous);
    if !decision.allowed {
        return Err(crate::authn::rate_limited(decision));
    }
    login_checked(&state, body)
        .await
        .map_err(IntoResponse::into_response)
}

async fn login_checked(state: &AppState, body: LoginBody) -> ApiResult<Json<LoginView>> {
    let auth = authenticator(state)?;
    let (user, tokens) = auth.login(&body.username, body.password).await?;
    Ok(Json(LoginView {
        user: user.into(),
        tokens: tokens.into(),
    }))
}

/// Exchange a refresh token for new tokens; using one twice signs the login out everywhere.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshBody,
    responses((status = 200, body = TokenView), (status = 401)))]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshBody>,
) -> ApiResult<Json<TokenView>> {
    let auth = authenticator(&state)?;
    Ok(Json(auth.refresh(&body.refresh_token, None).await?.into()))
}

/// Sign out: revokes the refresh token's whole login.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshBody,
    responses((status = 200)))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshBody>,
) -> ApiResult<Json<Value>> {
    let auth = authenticator(&state)?;
    auth.logout(&body.refresh_token).await?;
    Ok(Json(json!({ "success": true, "message": "Logged out" })))
}

/// The current principal.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200), (status = 401)))]
pub(crate) async fn me(
    State(state): State<AppState>,
    Caller(me): Caller,
) -> ApiResult<Json<Value>> {
    Ok(Json(match user_of(&state, &me).await? {
        Some(user) => serde_json::to_value(UserView::from(user)).unwrap_or_default(),
        None => json!({
            "id": "owner",
            "username": "owner",
            "role": "owner",
            "tenant_id": me.tenant_id,
            "disabled": false,
        }),
    }))
}

/// An API key as listed (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    /// Key id.
    pub id: String,
    /// Its label.
    pub name: String,
    /// The first characters of the secret.
    pub prefix: String,
    /// The secret, present only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Creation time.
    #[serde(with = "quarry_core::time::wire")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// Last use.
    #[serde(with = "quarry_core::time::wire::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revocation time.
    #[serde(with = "quarry_core::time::wire::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl KeyView {
    fn of(k: ApiKey, secret: Option<String>) -> Self {
        Self {
            id: k.id.into_string(),
            name: k.name,
            prefix: k.prefix,
            key: secret,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// `POST /api/v1/auth/keys` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    /// A label for the key.
    pub name: String,
}

async fn require_user(state: &AppState, me: &Principal) -> ApiResult<User> {
    user_of(state, me).await?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::Forbidden,
            "API keys belong to users: log in as a user (or use `quarry key create`)",
        )
    })
}

/// Create an API key for the current user; the secret is shown in this answer only.
#[utoipa::path(post, path = "/api/v1/auth/keys", tag = "auth", request_body = NewKeyBody,
    responses((status = 201, body = KeyView), (status = 401), (status = 403)))]
pub(crate) async fn create_key(
    State(state): State<AppState>,
    Caller(me): Caller,
    JsonBody(body): JsonBody<NewKeyBody>,
) -> ApiResult<(StatusCode, Json<KeyView>)> {
    let user = require_user(&state, &me).await?;
    let issued = authenticator(&state)?
        .create_api_key(&user, &body.name)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(KeyView::of(issued.key, Some(issued.secret))),
    ))
}

/// The current user's API keys.
#[utoipa::path(get, path = "/api/v1/auth/keys", tag = "auth",
    responses((status = 200), (status = 401)))]
pub(crate) async fn list_keys(
    State(state): State<AppState>,
    Caller(me): Caller,
) -> ApiResult<Json<Value>> {
    let user = require_user(&state, &me).await?;
    let keys = authenticator(&state)?
        .store()
        .list_api_keys(&user.tenant_id, &user.id)
        .await?;
    let keys: Vec<KeyView> = keys.into_iter().map(|k| KeyView::of(k, None)).collect();
    Ok(Json(json!({ "keys": keys })))
}

/// Revoke one of the current user's keys (admins: any key of the tenant).
#[utoipa::path(delete, path = "/api/v1/auth/keys/{key_id}", tag = "auth",
    params(("key_id" = String, Path, description = "Key id")),
    responses((status = 200, body = KeyView), (status = 404)))]
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(raw): IdPath<String>,
) -> ApiResult<Json<KeyView>> {
    let id =
        ApiKeyId::parse(&raw).map_err(|_| ApiError::new(ErrorCode::InvalidId, "invalid key id"))?;
    let store = authenticator(&state)?.store();
    if !me.is_admin() {
        let user = require_user(&state, &me).await?;
        let mine = store.list_api_keys(&user.tenant_id, &user.id).await?;
        if !mine.iter().any(|k| k.id == id) {
            return Err(ApiError::not_found("api key", id.as_str()));
        }
    }
    let key = store.revoke_api_key(&me.tenant_id, &id).await?;
    Ok(Json(KeyView::of(key, None)))
}

/// Paging for users.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListParams {
    /// Page size, 1–100 (default 50).
    pub limit: Option<i64>,
    /// Users to skip.
    pub offset: Option<i64>,
}

/// Users of the caller's tenant (members see only themselves).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UserListParams),
    responses((status = 200), (status = 401)))]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    Caller(me): Caller,
    QueryParams(p): QueryParams<UserListParams>,
) -> ApiResult<Json<Value>> {
    let limit = p.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            "limit must be between 1 and 100",
        ));
    }
    let offset = u32::try_from(p.offset.unwrap_or(0))
        .map_err(|_| ApiError::validation("offset", "offset must not be negative"))?;
    if !me.is_admin() {
        let user = require_user(&state, &me).await?;
        return Ok(Json(json!({
            "users": [UserView::from(user)], "total": 1, "has_more": false
        })));
    }
    let page = authenticator(&state)?
        .store()
        .list_users(&me.tenant_id, limit as u32, offset)
        .await?;
    let has_more = page.has_more(offset);
    let users: Vec<UserView> = page.items.into_iter().map(UserView::from).collect();
    Ok(Json(
        json!({ "users": users, "total": page.total, "has_more": has_more }),
    ))
}

fn forbid_members(me: &Principal) -> ApiResult<()> {
    if me.is_admin() {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            "only admins manage users",
        ))
    }
}

/// Create a user (admins).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUserBody,
    responses((status = 201, body = UserView), (status = 403), (status = 409), (status = 422)))]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    Caller(me): Caller,
    JsonBody(body): JsonBody<NewUserBody>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    forbid_members(&me)?;
    let tenant = match body.tenant_id.as_deref() {
        None => me.tenant_id.clone(),
        Some(t) if me.acts_for_tenants => quarry_core::TenantId::parse(t)?,
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "only admins that act for tenants may create users in another tenant",
            ));
        }
    };
    let auth = authenticator(&state)?;
    let role = parse_role(body.role.as_deref())?;
    let user = auth
        .new_user(tenant, &body.username, body.password, body.email, role)
        .await?;
    auth.store().create_user(&user).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

fn user_id(raw: &str) -> ApiResult<UserId> {
    UserId::parse(raw).map_err(|_| ApiError::new(ErrorCode::InvalidId, "invalid user id"))
}

/// Admins may touch any user of their tenant; members only themselves.
fn may_touch(me: &Principal, id: &UserId) -> ApiResult<()> {
    if me.is_admin() || me.user_id.as_deref() == Some(id.as_str()) {
        Ok(())
    } else {
        // Indistinguishable from a missing user.
        Err(ApiError::not_found("user", id.as_str()))
    }
}

/// Loads a user `me` may change: an account that acts for every tenant can be changed only
/// by itself or by another such principal, so a tenant admin cannot take it over.
async fn changeable_user(state: &AppState, me: &Principal, id: &UserId) -> ApiResult<User> {
    may_touch(me, id)?;
    let user = authenticator(state)?
        .store()
        .get_user(&me.tenant_id, id)
        .await?;
    let is_self = me.user_id.as_deref() == Some(id.as_str());
    if user.can_act_for_tenants && !is_self && !me.acts_for_tenants {
        return Err(ApiError::not_found("user", id.as_str()));
    }
    Ok(user)
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{user_id}", tag = "users",
    params(("user_id" = String, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 404)))]
pub(crate) async fn get_user(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(raw): IdPath<String>,
) -> ApiResult<Json<UserView>> {
    let id = user_id(&raw)?;
    may_touch(&me, &id)?;
    let user = authenticator(&state)?
        .store()
        .get_user(&me.tenant_id, &id)
        .await?;
    Ok(Json(user.into()))
}

/// `PUT /api/v1/users/{id}` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserBody {
    /// New email.
    pub email: Option<String>,
    /// New password (at least 8 characters).
    pub password: Option<String>,
    /// The current password: required to change one's own password.
    pub current_password: Option<String>,
    /// New role (admins only).
    pub role: Option<String>,
    /// Disable or enable (admins only).
    pub disabled: Option<bool>,
}

/// Update a user: members may change their own email and password; admins also role and
/// disabled.
#[utoipa::path(put, path = "/api/v1/users/{user_id}", tag = "users", request_body = UpdateUserBody,
    params(("user_id" = String, Path, description = "User id")),
    responses((status = 200, body = UserView), (status = 403), (status = 404), (status = 422)))]
pub(crate) async fn update_user(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(raw): IdPath<String>,
    JsonBody(body): JsonBody<UpdateUserBody>,
) -> ApiResult<Json<UserView>> {
    let id = user_id(&raw)?;
    let target = changeable_user(&state, &me, &id).await?;
    if !me.is_admin() && (body.role.is_some() || body.disabled.is_some()) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only admins change roles or disable users",
        ));
    }
    let password_hash = match body.password {
        Some(p) => {
            quarry_auth::secret::check_password(&p)?;
            // Changing one's own password needs the current one: a stolen access token must
            // not become a permanent takeover.
            if me.user_id.as_deref() == Some(id.as_str()) {
                let current = body.current_password.unwrap_or_default();
                let phc = target.password_hash.clone().unwrap_or_default();
                let ok = quarry_auth::blocking(move || {
                    quarry_auth::secret::verify_password(&current, &phc)
                })
                .await?;
                if !ok && target.password_hash.is_some() {
                    return Err(ApiError::new(
                        ErrorCode::Forbidden,
                        "current_password is wrong or missing",
                    ));
                }
            }
            Some(quarry_auth::blocking(move || quarry_auth::secret::hash_password(&p)).await??)
        }
        None => None,
    };
    let signs_out = password_hash.is_some() || body.role.is_some() || body.disabled == Some(true);
    let patch = UserPatch {
        email: body.email.map(Some),
        role: body
            .role
            .as_deref()
            .map(|r| parse_role(Some(r)))
            .transpose()?,
        password_hash,
        disabled: body.disabled,
    };
    let store = authenticator(&state)?.store();
    let user = store.update_user(&me.tenant_id, &id, &patch).await?;
    if signs_out {
        // New password, role or status: every login of the account must start over.
        store
            .revoke_user_tokens(&me.tenant_id, &id, quarry_core::time::now())
            .await?;
    }
    Ok(Json(user.into()))
}

/// Delete a user with its keys and tokens (admins; members may delete themselves).
#[utoipa::path(delete, path = "/api/v1/users/{user_id}", tag = "users",
    params(("user_id" = String, Path, description = "User id")),
    responses((status = 200), (status = 404)))]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(raw): IdPath<String>,
) -> ApiResult<Json<Value>> {
    let id = user_id(&raw)?;
    changeable_user(&state, &me, &id).await?;
    authenticator(&state)?
        .store()
        .delete_user(&me.tenant_id, &id)
        .await?;
    Ok(Json(
        json!({ "success": true, "message": "User deleted", "user_id": id }),
    ))
}
