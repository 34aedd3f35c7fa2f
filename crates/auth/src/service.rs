//! The authenticator: credentials in, principals and tokens out, over the `AuthStore` port.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use quarry_core::{
    ApiKey, ApiKeyId, AuthCode, AuthStore, ClientId, OAuthClient, Principal, PrincipalRole,
    RefreshToken, Rotation, TenantId, User, UserId, UserRole,
};

use crate::{
    AuthError, JwtKeys, pkce,
    secret::{self, API_KEY_PREFIX, DISPLAY_PREFIX_LEN},
};

/// Lifetimes and the optional static key.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// Access token life.
    pub access_ttl: Duration,
    /// Refresh token life.
    pub refresh_ttl: Duration,
    /// Authorization code life.
    pub code_ttl: Duration,
    /// DSAgent's `DSAGENT_API_KEY`: one shared key that acts as the owner.
    pub static_api_key: Option<String>,
    /// When set, first-boot setup must present this token (see `docs/security.md`).
    pub setup_token: Option<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            code_ttl: Duration::from_secs(5 * 60),
            static_api_key: None,
            setup_token: None,
        }
    }
}

/// Tokens handed to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPair {
    /// The bearer access token (JWT).
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The refresh token, when one is issued.
    pub refresh_token: Option<String>,
}

/// A new API key: its record and the secret, shown this once.
#[derive(Clone, Debug)]
pub struct IssuedKey {
    /// The stored record.
    pub key: ApiKey,
    /// The secret (`qk_…`).
    pub secret: String,
}

/// Checks credentials and issues tokens.
#[derive(Clone, Debug)]
pub struct Authenticator {
    store: Arc<dyn AuthStore>,
    jwt: JwtKeys,
    config: AuthConfig,
}

fn ttl(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Runs CPU-heavy hashing off the async runtime, at most one per core at a time: each
/// argon2id hash takes 19 MiB and most of a core, so a login flood must queue, not pile up.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AuthError> {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let permits = PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        tokio::sync::Semaphore::new(cores)
    });
    let _permit = permits.acquire().await.map_err(|_| AuthError::Hashing)?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| AuthError::Hashing)
}

fn principal_of(user: &User) -> Principal {
    Principal {
        tenant_id: user.tenant_id.clone(),
        home_tenant_id: user.tenant_id.clone(),
        user_id: Some(user.id.to_string()),
        role: match user.role {
            UserRole::Admin => PrincipalRole::Admin,
            UserRole::Member => PrincipalRole::Member,
        },
        acts_for_tenants: user.can_act_for_tenants,
    }
}

/// A redirect URI quarry will send codes to: parsed, https (or http to a loopback host), no
/// user info, no fragment, and written exactly as parsed (so matching is exact).
pub fn valid_redirect_uri(raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw) else {
        return false;
    };
    let loopback = matches!(
        url.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    scheme_ok
        && url.username().is_empty()
        && url.password().is_none()
        && url.fragment().is_none()
        && url.host().is_some()
        && raw.is_ascii()
        && raw.len() <= 2000
}

/// Usernames: 1–64 of `[a-z0-9._@-]`, compared in lower case.
pub fn normalize_username(raw: &str) -> Result<String, quarry_core::Error> {
    let name = raw.trim().to_lowercase();
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
    if ok {
        Ok(name)
    } else {
        Err(quarry_core::Error::invalid(
            "username must be 1-64 characters of a-z, 0-9, '.', '_', '@', '-'",
        ))
    }
}

impl Authenticator {
    /// An authenticator over `store`.
    pub fn new(store: Arc<dyn AuthStore>, jwt: JwtKeys, config: AuthConfig) -> Self {
        Self { store, jwt, config }
    }

    /// The store it reads.
    pub fn store(&self) -> &Arc<dyn AuthStore> {
        &self.store
    }

    /// Access token life in seconds.
    pub fn access_ttl_seconds(&self) -> u64 {
        self.config.access_ttl.as_secs()
    }

    /// Authenticates an `X-API-Key` value: DSAgent's static key, or a quarry API key.
    pub async fn authenticate_api_key(&self, presented: &str) -> Result<Principal, AuthError> {
        if let Some(key) = &self.config.static_api_key
            && secret::secrets_equal(presented, key)
        {
            return Ok(Principal::owner(TenantId::owner()));
        }
        if !presented.starts_with(API_KEY_PREFIX) {
            return Err(AuthError::Invalid);
        }
        let hash = secret::sha256_hex(presented);
        let key = self
            .store
            .find_api_key(&hash)
            .await?
            .filter(|k| k.revoked_at.is_none())
            .ok_or(AuthError::Invalid)?;
        let user = self
            .store
            .get_user(&key.tenant_id, &key.user_id)
            .await
            .map_err(|_| AuthError::Invalid)?;
        if user.disabled {
            return Err(AuthError::Invalid);
        }
        // Last-used is bookkeeping: it must not slow or fail the request.
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.touch_api_key(&key.id, quarry_core::time::now()).await {
                tracing::debug!(error = %e, "could not record API key use");
            }
        });
        Ok(principal_of(&user))
    }

    /// Authenticates an `Authorization: Bearer` value: an access token, or an API key.
    pub async fn authenticate_bearer(&self, token: &str) -> Result<Principal, AuthError> {
        if token.starts_with(API_KEY_PREFIX)
            || self
                .config
                .static_api_key
                .as_deref()
                .is_some_and(|k| secret::secrets_equal(token, k))
        {
            return self.authenticate_api_key(token).await;
        }
        // The signature proves who; the stored account decides what: a disabled, deleted or
        // demoted user loses its rights at once, not when the token expires.
        let claims = self.jwt.verify(token)?;
        let claimed = claims.principal().ok_or(AuthError::Invalid)?;
        let user_id = UserId::parse(&claims.sub).map_err(|_| AuthError::Invalid)?;
        let user = match self.store.get_user(&claimed.tenant_id, &user_id).await {
            Ok(u) => u,
            Err(quarry_core::Error::NotFound { .. }) => return Err(AuthError::Invalid),
            Err(e) => return Err(e.into()),
        };
        if user.disabled {
            return Err(AuthError::Invalid);
        }
        Ok(principal_of(&user))
    }

    /// Builds a new user record with a hashed password.
    pub async fn new_user(
        &self,
        tenant: TenantId,
        username: &str,
        password: Option<String>,
        email: Option<String>,
        role: UserRole,
    ) -> Result<User, AuthError> {
        let username = normalize_username(username)?;
        let password_hash = match password {
            Some(p) => {
                secret::check_password(&p)?;
                Some(blocking(move || secret::hash_password(&p)).await??)
            }
            None => None,
        };
        let now = quarry_core::time::now();
        Ok(User {
            id: UserId::generate(),
            tenant_id: tenant,
            username,
            email,
            role,
            can_act_for_tenants: false,
            password_hash,
            disabled: false,
            created_at: now,
            updated_at: now,
        })
    }

    /// First-boot setup: creates the first admin (who may act for every tenant) only while no
    /// user exists, and logs it in.
    pub async fn setup(
        &self,
        username: &str,
        password: String,
        email: Option<String>,
        setup_token: Option<&str>,
    ) -> Result<(User, TokenPair), AuthError> {
        if let Some(expected) = &self.config.setup_token
            && !setup_token.is_some_and(|t| secret::secrets_equal(t, expected))
        {
            return Err(AuthError::Forbidden(
                "setup needs the setup_token written to <data dir>/secrets/setup-token",
            ));
        }
        let mut user = self
            .new_user(
                TenantId::owner(),
                username,
                Some(password),
                email,
                UserRole::Admin,
            )
            .await?;
        user.can_act_for_tenants = true;
        if !self.store.create_first_user(&user).await? {
            return Err(AuthError::AlreadySetUp);
        }
        let tokens = self.issue_tokens(&user, None, true).await?;
        Ok((user, tokens))
    }

    /// Checks a username and password and issues tokens.
    pub async fn login(
        &self,
        username: &str,
        password: String,
    ) -> Result<(User, TokenPair), AuthError> {
        let user = match normalize_username(username) {
            Ok(name) => self.store.find_user_by_username(&name).await?,
            Err(_) => None,
        };
        // Verify against a real hash even for unknown users, so timing tells nothing.
        const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$5W1bPNWZQ+Cy3mNCm7SWDjAp7xVX2ZpKsB9IIJbHyJ0";
        let phc = user
            .as_ref()
            .and_then(|u| u.password_hash.clone())
            .unwrap_or_else(|| DUMMY.to_owned());
        let ok = blocking(move || secret::verify_password(&password, &phc)).await?;
        match user {
            Some(user) if ok && !user.disabled && user.password_hash.is_some() => {
                let tokens = self.issue_tokens(&user, None, true).await?;
                Ok((user, tokens))
            }
            _ => Err(AuthError::BadLogin),
        }
    }

    /// A fresh access token and, when `with_refresh`, a refresh token starting a new family.
    pub async fn issue_tokens(
        &self,
        user: &User,
        client: Option<&ClientId>,
        with_refresh: bool,
    ) -> Result<TokenPair, AuthError> {
        let now = quarry_core::time::now();
        let refresh_token = if with_refresh {
            let token = secret::random_token("qr_");
            self.store
                .insert_refresh_token(&RefreshToken {
                    token_hash: secret::sha256_hex(&token),
                    family_id: secret::random_token("fam_"),
                    tenant_id: user.tenant_id.clone(),
                    user_id: user.id.clone(),
                    client_id: client.cloned(),
                    created_at: now,
                    expires_at: now + ttl(self.config.refresh_ttl),
                    rotated_at: None,
                    revoked_at: None,
                })
                .await?;
            Some(token)
        } else {
            None
        };
        Ok(TokenPair {
            access_token: self.access_token(user, client, now)?,
            expires_in: self.config.access_ttl.as_secs(),
            refresh_token,
        })
    }

    fn access_token(
        &self,
        user: &User,
        client: Option<&ClientId>,
        now: DateTime<Utc>,
    ) -> Result<String, AuthError> {
        self.jwt.issue(
            user,
            client.map(ClientId::as_str),
            now,
            now + ttl(self.config.access_ttl),
        )
    }

    /// Exchanges a refresh token for a new pair (rotation). A token used twice revokes every
    /// token of its login.
    pub async fn refresh(
        &self,
        presented: &str,
        client: Option<&ClientId>,
    ) -> Result<TokenPair, AuthError> {
        let hash = secret::sha256_hex(presented);
        let current = self
            .store
            .find_refresh_token(&hash)
            .await?
            .ok_or(AuthError::Invalid)?;
        // A client's token is redeemed only by that client, and a user's only without one.
        if current.client_id.as_ref() != client {
            return Err(AuthError::oauth(
                "invalid_grant",
                "refresh token was issued to another client",
            ));
        }
        // Read the user before rotating, so a store hiccup cannot burn the token.
        let user = match self
            .store
            .get_user(&current.tenant_id, &current.user_id)
            .await
        {
            Ok(u) => u,
            Err(quarry_core::Error::NotFound { .. }) => return Err(AuthError::Invalid),
            Err(e) => return Err(e.into()),
        };
        let now = quarry_core::time::now();
        if user.disabled {
            self.store
                .revoke_token_family(&current.family_id, now)
                .await?;
            return Err(AuthError::Invalid);
        }
        let token = secret::random_token("qr_");
        let successor = RefreshToken {
            token_hash: secret::sha256_hex(&token),
            family_id: current.family_id.clone(),
            tenant_id: current.tenant_id.clone(),
            user_id: current.user_id.clone(),
            client_id: current.client_id.clone(),
            created_at: now,
            // A login lives refresh_ttl from its start, however often it is refreshed.
            expires_at: current.expires_at,
            rotated_at: None,
            revoked_at: None,
        };
        match self
            .store
            .rotate_refresh_token(&hash, &successor, now)
            .await?
        {
            Rotation::Rotated(_) => {}
            Rotation::Reused { family_id } => {
                tracing::warn!(family = %family_id, "refresh token reuse: family revoked");
                return Err(AuthError::TokenReuse);
            }
            Rotation::Expired | Rotation::Unknown => return Err(AuthError::Invalid),
        }
        Ok(TokenPair {
            access_token: self.access_token(&user, current.client_id.as_ref(), now)?,
            expires_in: self.config.access_ttl.as_secs(),
            refresh_token: Some(token),
        })
    }

    /// Signs out the login a refresh token belongs to.
    pub async fn logout(&self, presented: &str) -> Result<(), AuthError> {
        let hash = secret::sha256_hex(presented);
        if let Some(family) = self.store.token_family(&hash).await? {
            self.store
                .revoke_token_family(&family, quarry_core::time::now())
                .await?;
        }
        Ok(())
    }

    /// Creates an API key acting as `user`.
    pub async fn create_api_key(&self, user: &User, name: &str) -> Result<IssuedKey, AuthError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(quarry_core::Error::invalid("key name must be 1-100 characters").into());
        }
        let secret = secret::new_api_key();
        let key = ApiKey {
            id: ApiKeyId::generate(),
            tenant_id: user.tenant_id.clone(),
            user_id: user.id.clone(),
            name: name.to_owned(),
            prefix: secret.chars().take(DISPLAY_PREFIX_LEN).collect(),
            secret_hash: secret::sha256_hex(&secret),
            created_at: quarry_core::time::now(),
            last_used_at: None,
            revoked_at: None,
        };
        self.store.insert_api_key(&key).await?;
        Ok(IssuedKey { key, secret })
    }

    /// Registers an OAuth2 client acting as `service_user` for `client_credentials`; a
    /// confidential client gets a secret, shown this once.
    pub async fn register_client(
        &self,
        service_user: &User,
        name: &str,
        redirect_uris: Vec<String>,
        confidential: bool,
    ) -> Result<(OAuthClient, Option<String>), AuthError> {
        for uri in &redirect_uris {
            if !valid_redirect_uri(uri) {
                return Err(quarry_core::Error::invalid(
                    "redirect URIs must be absolute https:// URLs (or http:// on localhost, \
                     127.0.0.1 or [::1]) without user info or fragment",
                )
                .into());
            }
        }
        if !confidential && redirect_uris.is_empty() {
            return Err(quarry_core::Error::invalid(
                "a public client needs at least one redirect URI",
            )
            .into());
        }
        let secret = confidential.then(|| secret::random_token("qcs_"));
        let client = OAuthClient {
            id: ClientId::generate(),
            tenant_id: service_user.tenant_id.clone(),
            name: name.trim().to_owned(),
            secret_hash: secret.as_deref().map(secret::sha256_hex),
            redirect_uris,
            service_user_id: service_user.id.clone(),
            created_at: quarry_core::time::now(),
        };
        self.store.insert_client(&client).await?;
        Ok((client, secret))
    }

    async fn client(&self, id: &str) -> Result<OAuthClient, AuthError> {
        let id = ClientId::parse(id)
            .map_err(|_| AuthError::oauth("invalid_client", "unknown client"))?;
        self.store
            .find_client(&id)
            .await?
            .ok_or_else(|| AuthError::oauth("invalid_client", "unknown client"))
    }

    fn check_secret(client: &OAuthClient, presented: Option<&str>) -> Result<(), AuthError> {
        match (&client.secret_hash, presented) {
            (None, None) => Ok(()),
            (Some(hash), Some(p)) if secret::secrets_equal(&secret::sha256_hex(p), hash) => Ok(()),
            _ => Err(AuthError::oauth(
                "invalid_client",
                "client authentication failed",
            )),
        }
    }

    /// `grant_type=refresh_token` at the token endpoint: the client authenticates as it did
    /// when it got the token, then the token rotates as in [`Authenticator::refresh`].
    pub async fn refresh_for_client(
        &self,
        client_id: &str,
        client_secret: Option<&str>,
        refresh_token: &str,
    ) -> Result<TokenPair, AuthError> {
        let client = self.client(client_id).await?;
        Self::check_secret(&client, client_secret)?;
        self.refresh(refresh_token, Some(&client.id)).await
    }

    /// `grant_type=client_credentials`: an access token for a confidential client's service
    /// user (no refresh token, per RFC 6749 §4.4.3).
    pub async fn client_credentials(
        &self,
        client_id: &str,
        client_secret: Option<&str>,
    ) -> Result<TokenPair, AuthError> {
        let client = self.client(client_id).await?;
        if client.secret_hash.is_none() {
            return Err(AuthError::oauth(
                "unauthorized_client",
                "public clients cannot use client_credentials",
            ));
        }
        Self::check_secret(&client, client_secret)?;
        let user = self
            .store
            .get_user(&client.tenant_id, &client.service_user_id)
            .await
            .map_err(|_| AuthError::oauth("invalid_client", "the client's user is gone"))?;
        if user.disabled {
            return Err(AuthError::oauth(
                "invalid_client",
                "the client's user is disabled",
            ));
        }
        self.issue_tokens(&user, Some(&client.id), false).await
    }

    /// `GET /oauth/authorize` for an authenticated user: checks the client and redirect URI
    /// and returns a one-time code bound to the PKCE challenge.
    pub async fn authorize(
        &self,
        principal: &Principal,
        client_id: &str,
        redirect_uri: &str,
        code_challenge: &str,
        code_challenge_method: &str,
    ) -> Result<String, AuthError> {
        let client = self.client(client_id).await?;
        if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
            return Err(AuthError::oauth(
                "invalid_request",
                "redirect_uri is not registered for this client",
            ));
        }
        if code_challenge_method != "S256" || !pkce::valid_challenge(code_challenge) {
            return Err(AuthError::oauth(
                "invalid_request",
                "PKCE is required: code_challenge_method=S256 with a 43-character code_challenge",
            ));
        }
        let user_id = principal
            .user_id
            .as_deref()
            .and_then(|u| UserId::parse(u).ok())
            .ok_or(AuthError::Forbidden("only users can authorize clients"))?;
        if principal.home_tenant_id != client.tenant_id {
            return Err(AuthError::oauth("invalid_client", "unknown client"));
        }
        let code = secret::random_token("qac_");
        self.store
            .insert_auth_code(&AuthCode {
                code_hash: secret::sha256_hex(&code),
                client_id: client.id,
                tenant_id: principal.home_tenant_id.clone(),
                user_id,
                redirect_uri: redirect_uri.to_owned(),
                code_challenge: code_challenge.to_owned(),
                expires_at: quarry_core::time::now() + ttl(self.config.code_ttl),
            })
            .await?;
        Ok(code)
    }

    /// `grant_type=authorization_code`: redeems a code once, checking client, redirect URI
    /// and PKCE verifier, and issues tokens for the user who approved it.
    pub async fn exchange_code(
        &self,
        client_id: &str,
        client_secret: Option<&str>,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<TokenPair, AuthError> {
        let client = self.client(client_id).await?;
        Self::check_secret(&client, client_secret)?;
        let invalid = || AuthError::oauth("invalid_grant", "invalid, expired or used code");
        let taken = self
            .store
            .take_auth_code(&secret::sha256_hex(code))
            .await?
            .ok_or_else(invalid)?;
        if taken.client_id != client.id
            || taken.redirect_uri != redirect_uri
            || taken.expires_at <= quarry_core::time::now()
            || !pkce::verify(code_verifier, &taken.code_challenge)
        {
            return Err(invalid());
        }
        let user = self
            .store
            .get_user(&taken.tenant_id, &taken.user_id)
            .await
            .map_err(|_| invalid())?;
        if user.disabled {
            return Err(invalid());
        }
        self.issue_tokens(&user, Some(&client.id), true).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_checked_by_parsing() {
        for ok in [
            "https://app.example/cb",
            "http://127.0.0.1:9/callback",
            "http://localhost:8080/cb?x=1",
            "http://[::1]/cb",
        ] {
            assert!(valid_redirect_uri(ok), "{ok}");
        }
        for bad in [
            "http://app.example/cb",
            "http://localhost.evil.com/cb",
            "http://127.0.0.1.evil.net/cb",
            "http://localhost@evil.com/cb",
            "https://user:pw@app.example/cb",
            "https://app.example/cb#frag",
            "https://app.example/c\u{e9}",
            "javascript:alert(1)",
            "/relative",
        ] {
            assert!(!valid_redirect_uri(bad), "{bad}");
        }
    }
}
