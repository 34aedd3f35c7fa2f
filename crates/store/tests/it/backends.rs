//! Where the suites run: SQLite in a temp dir (the metadata suite also behind the session
//! cache) and a throwaway PostgreSQL database.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use quarry_core::MetadataStore;
use quarry_store::{MetadataOptions, Stores, connect_metadata, connect_stores};
use sqlx::Connection;

use crate::metadata::run_suite;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// One backend under test: every call to [`Harness::open`] connects to the same database.
pub struct Harness {
    pub name: &'static str,
    url: String,
    options: MetadataOptions,
}

impl Harness {
    pub fn new(name: &'static str, url: String, options: MetadataOptions) -> Arc<Self> {
        Arc::new(Self { name, url, options })
    }

    /// A fresh connection (pool) to the backend's database.
    pub async fn open(&self) -> Arc<dyn MetadataStore> {
        connect_metadata(&self.url, self.options.clone())
            .await
            .unwrap_or_else(|e| panic!("{}: connect: {e}", self.name))
    }

    /// Fresh metadata and auth stores over one pool to the backend's database.
    pub async fn stores(&self) -> Stores {
        connect_stores(&self.url, self.options.clone())
            .await
            .unwrap_or_else(|e| panic!("{}: connect: {e}", self.name))
    }

    /// The backend's `backend()` name.
    pub fn backend(&self) -> &'static str {
        if self.url.starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgres"
        }
    }
}

fn assert_passed(name: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{name}: {} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_suite_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/nested/meta.db", dir.path().display());
    let h = Harness::new("sqlite", url, MetadataOptions::default());
    assert_passed(h.name, run_suite(h.clone()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_suite_on_cached_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/meta.db", dir.path().display());
    let options = MetadataOptions {
        session_cache: true,
        session_cache_tenants: 4,
        ..MetadataOptions::default()
    };
    let h = Harness::new("sqlite+cache", url, options);
    assert_passed(h.name, run_suite(h.clone()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_suite_on_postgres() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let h = Harness::new("postgres", db.url.clone(), MetadataOptions::default());
    let failures = run_suite(h.clone()).await;
    // Dropped whatever happened: every case runs in its own task, so a failed assertion
    // reaches this line.
    db.drop_database().await;
    assert_passed(h.name, failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_suite_on_sqlite() {
    // A database of its own: the suite's first case needs it empty.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/auth.db", dir.path().display());
    let h = Harness::new("sqlite", url, MetadataOptions::default());
    assert_passed(h.name, crate::auth::run_suite(h.clone()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_suite_on_postgres() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let h = Harness::new("postgres", db.url.clone(), MetadataOptions::default());
    let failures = crate::auth::run_suite(h.clone()).await;
    db.drop_database().await;
    assert_passed(h.name, failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_configs_on_sqlite_and_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/providers.db", dir.path().display());
    let h = Harness::new("sqlite", url, MetadataOptions::default());
    crate::providers::run(&h.stores().await).await;
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let h = Harness::new("postgres", db.url.clone(), MetadataOptions::default());
    let stores = h.stores().await;
    let outcome = tokio::spawn(async move { crate::providers::run(&stores).await }).await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// `connect_stores` opens one pool for both stores, caching only the metadata store.
#[tokio::test]
async fn stores_share_one_pool_and_only_metadata_is_cached() {
    use quarry_core::{NewSession, TenantId, UserRole, time};

    let options = MetadataOptions {
        session_cache: true,
        ..MetadataOptions::default()
    };
    let stores = connect_stores("sqlite::memory:", options).await.unwrap();
    let debug = format!("{:?} {:?}", stores.metadata, stores.auth);
    assert!(debug.contains("CachedMetadataStore"), "{debug}");
    let t = TenantId::owner();
    let s = stores
        .metadata
        .create_session(NewSession::named(t.clone(), "s"))
        .await
        .unwrap();
    let now = time::now();
    let admin = quarry_core::User {
        id: quarry_core::UserId::generate(),
        tenant_id: t.clone(),
        username: "Admin".into(),
        email: None,
        role: UserRole::Admin,
        can_act_for_tenants: true,
        password_hash: None,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    assert!(stores.auth.create_first_user(&admin).await.unwrap());
    assert_eq!(stores.metadata.get_session(&t, &s.id).await.unwrap(), s);
    assert_eq!(
        stores
            .auth
            .find_user_by_username("ADMIN")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(admin.id.clone())
    );
    // One pool: closing the metadata store closes it for the auth store too.
    stores.metadata.close().await;
    let closed = stores.auth.get_user(&t, &admin.id).await;
    assert!(
        matches!(closed, Err(quarry_core::Error::Unavailable(_))),
        "{closed:?}"
    );
}

#[tokio::test]
async fn sqlite_store_is_created_with_its_directory_and_migrates() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a/b/meta.db");
    let url = format!("sqlite://{}", file.display());
    quarry_store::migrate(&url).await.unwrap();
    assert!(file.exists());
    // Migrating again is a no-op.
    quarry_store::migrate(&url).await.unwrap();
    let wal: (String,) = {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(wal.0, "wal");
}

#[tokio::test]
async fn in_memory_sqlite_works_for_tests() {
    let store = connect_metadata("sqlite::memory:", MetadataOptions::default())
        .await
        .unwrap();
    let t = quarry_core::TenantId::owner();
    let s = store
        .create_session(quarry_core::NewSession::named(t.clone(), "mem"))
        .await
        .unwrap();
    assert_eq!(store.get_session(&t, &s.id).await.unwrap(), s);
    store.close().await;
}

#[tokio::test]
async fn bad_urls_fail_without_leaking_the_password() {
    for url in [
        "mysql://user:s3cr3t-pw@localhost/db",
        "postgres://user:s3cr3t-pw@127.0.0.1:1/db",
        "not a url",
    ] {
        let options = MetadataOptions {
            connect_timeout: Duration::from_secs(3),
            ..MetadataOptions::default()
        };
        let err = connect_metadata(url, options).await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("s3cr3t-pw"), "{text}");
    }
}

#[tokio::test]
async fn wrong_postgres_password_is_not_echoed() {
    // With trust auth the password is ignored and this connects; either way it must not
    // appear in any message.
    let Some(admin) = admin_url_if_reachable().await else {
        return;
    };
    let mut url = sqlx::any::AnyConnectOptions::from_str(&admin)
        .unwrap()
        .database_url;
    url.set_password(Some("pw-that-must-not-leak")).unwrap();
    url.set_path("/quarry_no_such_database_for_tests");
    let err = connect_metadata(url.as_str(), MetadataOptions::default())
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("pw-that-must-not-leak"), "{text}");
}

/// The admin URL when PostgreSQL answers; otherwise `None` after saying why (or a panic on
/// CI, where PostgreSQL must be there).
async fn admin_url_if_reachable() -> Option<String> {
    let admin = std::env::var("QUARRY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let attempt =
        tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(&admin)).await;
    let why = match attempt {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            return Some(admin);
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "connecting timed out after 5s".to_owned(),
    };
    if std::env::var_os("CI").is_some() {
        panic!(
            "PostgreSQL is required on CI (QUARRY_TEST_POSTGRES_URL or {DEFAULT_POSTGRES_URL}): {why}"
        );
    }
    eprintln!(
        "\n!!!!!!!! PostgreSQL tests SKIPPED: cannot reach PostgreSQL \
         (set QUARRY_TEST_POSTGRES_URL; default {DEFAULT_POSTGRES_URL}): {why} !!!!!!!!\n"
    );
    None
}

/// A database made for one test run and dropped after it.
struct TestDatabase {
    admin: String,
    name: String,
    url: String,
}

impl TestDatabase {
    async fn create() -> Option<Self> {
        let admin = admin_url_if_reachable().await?;
        let name = format!("quarry_test_{:016x}", rand::random::<u64>());
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let _ = conn.close().await;
        let mut url = sqlx::any::AnyConnectOptions::from_str(&admin)
            .unwrap()
            .database_url;
        url.set_path(&format!("/{name}"));
        Some(Self {
            admin,
            name,
            url: url.to_string(),
        })
    }

    async fn drop_database(self) {
        let mut conn = sqlx::PgConnection::connect(&self.admin).await.unwrap();
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        let _ = conn.close().await;
    }
}
