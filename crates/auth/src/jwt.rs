//! Access tokens: HS256 JWTs with a short life. Only HS256 with quarry's own key is
//! accepted, so `alg: none`, RS/HS confusion and foreign keys all fail validation.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use quarry_core::{Principal, PrincipalRole, TenantId, User, UserRole};
use serde::{Deserialize, Serialize};

use crate::AuthError;

/// The claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: String,
    /// The tenant.
    pub tid: String,
    /// `admin` or `member`.
    pub role: String,
    /// May act for other tenants.
    #[serde(default)]
    pub act: bool,
    /// The OAuth2 client it was issued to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    /// Issuer.
    pub iss: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expiry (seconds).
    pub exp: i64,
}

impl AccessClaims {
    /// The principal these claims describe; `None` when they do not parse.
    pub fn principal(&self) -> Option<Principal> {
        let role = match UserRole::parse(&self.role)? {
            UserRole::Admin => PrincipalRole::Admin,
            UserRole::Member => PrincipalRole::Member,
        };
        let tenant_id = TenantId::parse(&self.tid).ok()?;
        Some(Principal {
            home_tenant_id: tenant_id.clone(),
            tenant_id,
            user_id: Some(self.sub.clone()),
            role,
            acts_for_tenants: self.act,
        })
    }
}

/// The signing key and the rules tokens are checked by.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// Seconds of clock skew tolerated on `exp`.
const LEEWAY_SECONDS: u64 = 30;

impl JwtKeys {
    /// Keys from a secret of at least 32 bytes.
    pub fn new(secret: &[u8], issuer: &str) -> Result<Self, quarry_core::Error> {
        if secret.len() < 32 {
            return Err(quarry_core::Error::invalid(
                "the JWT secret must be at least 32 bytes",
            ));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
        })
    }

    /// The issuer written into and required of every token.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Signs an access token for `user` valid from `now` until `expires`.
    pub fn issue(
        &self,
        user: &User,
        client_id: Option<&str>,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<String, AuthError> {
        let claims = AccessClaims {
            sub: user.id.to_string(),
            tid: user.tenant_id.to_string(),
            role: user.role.as_str().to_owned(),
            act: user.can_act_for_tenants,
            cid: client_id.map(str::to_owned),
            iss: self.issuer.clone(),
            iat: now.timestamp(),
            exp: expires.timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| AuthError::Hashing)
    }

    /// Checks a token's signature, algorithm, issuer and expiry.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, AuthError> {
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|_| AuthError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

    use super::*;

    fn keys(secret: &str) -> JwtKeys {
        JwtKeys::new(secret.as_bytes(), "quarry").unwrap_or_else(|_| unreachable!())
    }

    fn token(k: &JwtKeys, exp_offset: i64) -> String {
        let now = Utc::now();
        let user = User {
            id: quarry_core::UserId::generate(),
            tenant_id: TenantId::owner(),
            username: "u".into(),
            email: None,
            role: UserRole::Member,
            can_act_for_tenants: false,
            password_hash: None,
            disabled: false,
            created_at: now,
            updated_at: now,
        };
        k.issue(
            &user,
            None,
            now,
            now + chrono::Duration::seconds(exp_offset),
        )
        .unwrap_or_default()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip() {
        let k = keys(SECRET);
        let c = k.verify(&token(&k, 60));
        let p = c.ok().and_then(|c| c.principal());
        assert_eq!(p.map(|p| p.role), Some(PrincipalRole::Member));
    }

    #[test]
    fn refuses_expired_foreign_none_and_other_algorithms() {
        let k = keys(SECRET);
        assert!(k.verify(&token(&k, -3600)).is_err(), "expired");
        let other = keys("ffffffffffffffffffffffffffffffff");
        assert!(k.verify(&token(&other, 60)).is_err(), "another key");
        let good = token(&k, 60);
        let mut parts = good.split('.');
        let (_, payload) = (parts.next(), parts.next().unwrap_or_default());
        for alg in ["none", "RS256", "HS512", "ES256"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
            for sig in ["", "c2lnbmF0dXJl"] {
                let forged = format!("{header}.{payload}.{sig}");
                assert!(k.verify(&forged).is_err(), "{alg} {sig:?}");
            }
        }
        assert!(k.verify("not.a.jwt").is_err());
        assert!(JwtKeys::new(b"short", "quarry").is_err());
    }
}
