//! The behaviour suite every auth backend passes. Each case makes its own tenants and
//! usernames (which are unique across the server), so cases share a database without seeing
//! each other — except the first-user case, which needs the database empty and so runs first.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use quarry_core::{
    ApiKey, ApiKeyId, AuthCode, AuthStore, ClientId, Error, OAuthClient, RefreshToken, Rotation,
    TenantId, User, UserId, UserPatch, UserRole, time,
};

use crate::backends::Harness;

mod clients;
mod tokens;
mod users;

type Case = fn(Arc<Harness>) -> BoxFuture<'static, ()>;

macro_rules! cases {
    ($($module:ident :: $name:ident),* $(,)?) => {
        const CASES: &[(&str, Case)] = &[
            $((stringify!($name), |h| Box::pin($module::$name(h))),)*
        ];
    };
}

cases!(
    // Needs an empty database: first.
    users::first_user_is_created_once_under_concurrency,
    users::users_round_trip_and_list_oldest_first,
    users::usernames_are_unique_without_regard_to_case,
    users::update_applies_the_patch_and_bumps_updated_at,
    users::delete_user_cascades_to_everything_it_owns,
    users::tenants_cannot_see_or_touch_each_other,
    tokens::api_keys_round_trip_touch_and_revoke,
    tokens::refresh_tokens_rotate_and_detect_reuse,
    tokens::expired_unknown_and_mismatched_rotations_change_nothing,
    tokens::concurrent_rotations_have_one_winner_and_revoke_the_family,
    tokens::revoking_a_family_spares_other_families,
    tokens::user_revocation_and_purge_of_expired_tokens,
    clients::clients_round_trip_and_delete_with_their_codes_and_tokens,
    clients::auth_codes_are_taken_once,
    clients::concurrent_takers_of_a_code_have_one_winner,
    clients::expired_codes_are_returned_then_purged,
);

/// Runs every case in its own task, in order; returns the failures.
pub async fn run_suite(h: Arc<Harness>) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, case) in CASES {
        match tokio::spawn(case(h.clone())).await {
            Ok(()) => eprintln!("[{} auth] {name} ... ok", h.name),
            Err(e) => {
                eprintln!("[{} auth] {name} ... FAILED", h.name);
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    eprintln!(
        "[{} auth] {} passed, {} failed",
        h.name,
        CASES.len() - failures.len(),
        failures.len()
    );
    failures
}

fn tenant() -> TenantId {
    TenantId::parse(&format!("t{:016x}", rand::random::<u64>())).unwrap()
}

/// A username no other case uses, with some upper case in it.
fn username(base: &str) -> String {
    format!("{base}-{:08X}", rand::random::<u32>())
}

/// A fresh SHA-256-looking hex string.
fn hash() -> String {
    (0..4)
        .map(|_| format!("{:016x}", rand::random::<u64>()))
        .collect()
}

fn user(tenant: &TenantId, name: &str) -> User {
    let now = time::now();
    User {
        id: UserId::generate(),
        tenant_id: tenant.clone(),
        username: name.to_owned(),
        email: Some(format!("{}@example.com", name.to_lowercase())),
        role: UserRole::Member,
        can_act_for_tenants: false,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
        disabled: false,
        created_at: now,
        updated_at: now,
    }
}

fn api_key(u: &User, name: &str) -> ApiKey {
    ApiKey {
        id: ApiKeyId::generate(),
        tenant_id: u.tenant_id.clone(),
        user_id: u.id.clone(),
        name: name.to_owned(),
        prefix: "qk_ab12".to_owned(),
        secret_hash: hash(),
        created_at: time::now(),
        last_used_at: None,
        revoked_at: None,
    }
}

fn refresh_token(u: &User, client: Option<&ClientId>, family: &str) -> RefreshToken {
    let now = time::now();
    RefreshToken {
        token_hash: hash(),
        family_id: family.to_owned(),
        tenant_id: u.tenant_id.clone(),
        user_id: u.id.clone(),
        client_id: client.cloned(),
        created_at: now,
        expires_at: now + chrono::Duration::days(30),
        rotated_at: None,
        revoked_at: None,
    }
}

/// The successor a caller builds for `old`: same family, tenant, user and client.
fn successor(old: &RefreshToken) -> RefreshToken {
    let now = time::now();
    RefreshToken {
        token_hash: hash(),
        created_at: now,
        expires_at: now + chrono::Duration::days(30),
        rotated_at: None,
        revoked_at: None,
        ..old.clone()
    }
}

fn family() -> String {
    format!("fam_{:016x}", rand::random::<u64>())
}

fn client(service_user: &User, uris: &[&str]) -> OAuthClient {
    OAuthClient {
        id: ClientId::generate(),
        tenant_id: service_user.tenant_id.clone(),
        name: "Notebook \"integration\" ; --".to_owned(),
        secret_hash: Some(hash()),
        redirect_uris: uris.iter().map(|s| (*s).to_owned()).collect(),
        service_user_id: service_user.id.clone(),
        created_at: time::now(),
    }
}

fn code(c: &OAuthClient, u: &User, expires_at: DateTime<Utc>) -> AuthCode {
    AuthCode {
        code_hash: hash(),
        client_id: c.id.clone(),
        tenant_id: u.tenant_id.clone(),
        user_id: u.id.clone(),
        redirect_uri: c.redirect_uris.first().cloned().unwrap_or_default(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        expires_at,
    }
}

#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(r: quarry_core::Result<T>, what: &str) {
    match r {
        Err(Error::NotFound { kind, .. }) if kind == what => {}
        other => panic!("expected {what} not found, got {other:?}"),
    }
}

#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(r: quarry_core::Result<T>) {
    assert!(matches!(r, Err(Error::Conflict(_))), "{r:?}");
}

/// Lets the clock move on, so timestamps taken before and after differ.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(3)).await;
}

/// The stored records of these token hashes, in order.
async fn tokens(store: &Arc<dyn AuthStore>, hashes: &[&str]) -> Vec<Option<RefreshToken>> {
    let mut out = Vec::new();
    for h in hashes {
        out.push(store.find_refresh_token(h).await.unwrap());
    }
    out
}
