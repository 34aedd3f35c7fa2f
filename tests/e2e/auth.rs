//! Authentication, tenants and rate limits, against the real binary with auth required.

use std::collections::HashSet;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use quarry_tests::{Server, assert_error_shape, client, get_json};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const JWT_SECRET: &str = "e2e-test-signing-key-0123456789abcdef";
const ADMIN_PASSWORD: &str = "correct horse battery";

fn auth_server(extra_env: &[(&str, &str)]) -> (tempfile::TempDir, Server) {
    let mut env = vec![
        ("QUARRY_AUTH_REQUIRED", "true"),
        ("QUARRY_JWT_SECRET", JWT_SECRET),
    ];
    env.extend_from_slice(extra_env);
    crate::fresh_server_with(&[], &env)
}

async fn post(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut req = http.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The one-time setup token the server wrote into its data dir.
fn setup_token(server: &Server) -> String {
    std::fs::read_to_string(server.data_dir.join("secrets").join("setup-token")).unwrap()
}

/// Runs first-boot setup and returns (access token, refresh token).
async fn setup_admin(server: &Server) -> (String, String) {
    let (status, body) = post(
        &client(),
        server.url("/api/v1/auth/setup"),
        None,
        json!({"username": "admin", "password": ADMIN_PASSWORD, "setup_token": setup_token(server)}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// Creates a user in `tenant` (as the admin) and logs it in; returns (user id, access token).
async fn member(server: &Server, admin: &str, tenant: &str, name: &str) -> (String, String) {
    let http = client();
    let (status, user) = post(
        &http,
        server.url("/api/v1/users"),
        Some(admin),
        json!({"username": name, "password": "member password", "tenant_id": tenant}),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    let (status, login) = post(
        &http,
        server.url("/api/v1/auth/login"),
        None,
        json!({"username": name, "password": "member password"}),
    )
    .await;
    assert_eq!(status, 200, "{login}");
    (
        user["id"].as_str().unwrap().to_owned(),
        login["access_token"].as_str().unwrap().to_owned(),
    )
}

fn forge(secret: &str, alg: jsonwebtoken::Algorithm, exp_offset: i64) -> String {
    let now = chrono_now();
    let claims = json!({
        "sub": "usr_0000000000000000", "tid": "default", "role": "admin", "act": true,
        "iss": "quarry", "iat": now, "exp": now + exp_offset,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A token whose header claims another algorithm, with a signature that is not HS256's.
fn with_alg(alg: &str, sig: &str) -> String {
    let valid = forge(JWT_SECRET, jsonwebtoken::Algorithm::HS256, 600);
    let payload = valid.split('.').nth(1).unwrap();
    let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
    format!("{header}.{payload}.{sig}")
}

fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') { "x1" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_protected_route_refuses_missing_and_bad_credentials() {
    let (_dir, server) = auth_server(&[("QUARRY_RATE_LIMIT_ANONYMOUS", "100000")]);
    let (admin, _) = setup_admin(&server).await;
    let http = client();
    let spec = get_json(&http, server.url("/openapi.json")).await;
    let public: HashSet<&str> = [
        "/health",
        "/health/ready",
        "/api/v1/auth/setup",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/oauth/token",
        // A published JavaScript library, needed by chart pages wherever they are opened.
        "/assets/g2plot.min.js",
    ]
    .into();
    let other_key_token = forge(
        "another-key-entirely-0123456789abcdef",
        jsonwebtoken::Algorithm::HS256,
        600,
    );
    let bad: Vec<(&str, Option<(&str, String)>)> = vec![
        ("no credentials", None),
        (
            "wrong API key",
            Some((
                "x-api-key",
                "qk_wrongwrongwrongwrongwrongwrongwrongwrong".into(),
            )),
        ),
        ("not a key", Some(("x-api-key", "hunter2".into()))),
        (
            "expired token",
            Some((
                "authorization",
                format!(
                    "Bearer {}",
                    forge(JWT_SECRET, jsonwebtoken::Algorithm::HS256, -7200)
                ),
            )),
        ),
        (
            "token signed with another key",
            Some(("authorization", format!("Bearer {other_key_token}"))),
        ),
        (
            "alg none",
            Some(("authorization", format!("Bearer {}", with_alg("none", "")))),
        ),
        (
            "HS/RS confusion",
            Some((
                "authorization",
                format!("Bearer {}", with_alg("RS256", "c2lnbmF0dXJl")),
            )),
        ),
        (
            "HS512 header",
            Some((
                "authorization",
                format!("Bearer {}", with_alg("HS512", "c2lnbmF0dXJl")),
            )),
        ),
        (
            "basic scheme",
            Some(("authorization", "Basic YWRtaW46YWRtaW4=".into())),
        ),
    ];
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        if public.contains(path.as_str()) {
            continue;
        }
        for method in ["get", "post", "put", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let url = server.url(&concrete(path));
            let m: Method = method.to_uppercase().parse().unwrap();
            for (what, header) in &bad {
                let mut req = http.request(m.clone(), &url).json(&json!({}));
                if let Some((name, value)) = header {
                    req = req.header(*name, value);
                }
                let resp = req.send().await.unwrap();
                assert_eq!(resp.status(), 401, "{method} {path} with {what}");
                assert_eq!(
                    assert_error_shape(&resp.json().await.unwrap()),
                    "UNAUTHORIZED",
                    "{method} {path} with {what}"
                );
                checked += 1;
            }
            // The same route with the admin's valid token is not refused for credentials.
            let resp = http
                .request(m.clone(), &url)
                .bearer_auth(&admin)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_ne!(resp.status(), 401, "{method} {path} with a valid token");
        }
    }
    assert!(
        checked > 150,
        "only {checked} checks: the route list looks wrong"
    );
}

#[tokio::test]
async fn another_tenants_objects_are_404_and_its_header_is_refused() {
    let (_dir, server) = auth_server(&[]);
    let (admin, _) = setup_admin(&server).await;
    let (alpha_id, alpha) = member(&server, &admin, "alpha", "alice").await;
    let (_beta_id, beta) = member(&server, &admin, "beta", "bob").await;
    let http = client();
    let (status, s) = post(
        &http,
        server.url("/api/sessions"),
        Some(&alpha),
        json!({"name": "alpha's"}),
    )
    .await;
    assert_eq!(status, 200);
    let id = s["id"].as_str().unwrap();
    let artifact = crate::artifacts::store_artifact(
        &server.data_dir,
        &quarry_core::TenantId::parse("alpha").unwrap(),
        id,
        "alpha.csv",
        "text/csv",
        b"a,b\n1,2\n",
    )
    .await;
    let artifact_path = format!("/runs/{}/artifacts/{}", artifact.run_id, artifact.id);
    let resp = http
        .get(server.url(&artifact_path))
        .bearer_auth(&alpha)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "alpha reads its own artifact");
    let (status, key) = post(
        &http,
        server.url("/api/v1/auth/keys"),
        Some(&alpha),
        json!({"name": "k"}),
    )
    .await;
    assert_eq!(status, 201);
    let key_id = key["id"].as_str().unwrap();

    for (method, path) in [
        ("GET", format!("/api/sessions/{id}")),
        ("PUT", format!("/api/sessions/{id}")),
        ("POST", format!("/api/sessions/{id}/archive")),
        ("DELETE", format!("/api/sessions/{id}")),
        ("GET", format!("/sessions/{id}")),
        ("DELETE", format!("/sessions/{id}")),
        ("GET", format!("/api/v1/users/{alpha_id}")),
        ("PUT", format!("/api/v1/users/{alpha_id}")),
        ("DELETE", format!("/api/v1/users/{alpha_id}")),
        ("DELETE", format!("/api/v1/auth/keys/{key_id}")),
        ("GET", artifact_path.clone()),
    ] {
        let resp = http
            .request(method.parse().unwrap(), server.url(&path))
            .bearer_auth(&beta)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{method} {path}");
        assert_eq!(assert_error_shape(&resp.json().await.unwrap()), "NOT_FOUND");
    }
    // Beta's listings are empty; its own tenant is all it sees.
    let resp = http
        .get(server.url("/api/sessions"))
        .bearer_auth(&beta)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["total"], 0);
    // A member may not switch tenant; the admin who acts for tenants may.
    let resp = http
        .get(server.url("/api/sessions"))
        .bearer_auth(&beta)
        .header("X-Tenant-ID", "alpha")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = http
        .get(server.url(&format!("/api/sessions/{id}")))
        .bearer_auth(&admin)
        .header("X-Tenant-ID", "alpha")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Alpha still has everything.
    let resp = http
        .get(server.url(&format!("/api/sessions/{id}")))
        .bearer_auth(&alpha)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_whole_login() {
    let (_dir, server) = auth_server(&[]);
    let (_, r1) = setup_admin(&server).await;
    let http = client();
    let (status, t2) = post(
        &http,
        server.url("/api/v1/auth/refresh"),
        None,
        json!({"refresh_token": r1}),
    )
    .await;
    assert_eq!(status, 200, "{t2}");
    let r2 = t2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    let resp = http
        .get(server.url("/api/v1/auth/me"))
        .bearer_auth(t2["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["username"], "admin");
    // r1 again: reuse. The family is revoked, so r2 dies with it.
    let (status, body) = post(
        &http,
        server.url("/api/v1/auth/refresh"),
        None,
        json!({"refresh_token": r1}),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = post(
        &http,
        server.url("/api/v1/auth/refresh"),
        None,
        json!({"refresh_token": r2}),
    )
    .await;
    assert_eq!(status, 401);
    // Logout revokes a fresh login.
    let (_, login) = post(
        &http,
        server.url("/api/v1/auth/login"),
        None,
        json!({"username": "admin", "password": ADMIN_PASSWORD}),
    )
    .await;
    let r3 = login["refresh_token"].as_str().unwrap();
    let (status, _) = post(
        &http,
        server.url("/api/v1/auth/logout"),
        None,
        json!({"refresh_token": r3}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = post(
        &http,
        server.url("/api/v1/auth/refresh"),
        None,
        json!({"refresh_token": r3}),
    )
    .await;
    assert_eq!(status, 401);
    // Wrong passwords are 401 with the error shape.
    let (status, body) = post(
        &http,
        server.url("/api/v1/auth/login"),
        None,
        json!({"username": "admin", "password": "wrong password"}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(assert_error_shape(&body), "UNAUTHORIZED");
}

#[tokio::test]
async fn first_boot_setup_succeeds_exactly_once_under_concurrent_calls() {
    let (_dir, server) = auth_server(&[]);
    let http = client();
    // Without the token from the server's data dir, nobody can claim the first account.
    for token in [None, Some("qst_guess")] {
        let (status, body) = post(
            &http,
            server.url("/api/v1/auth/setup"),
            None,
            json!({"username": "intruder", "password": ADMIN_PASSWORD, "setup_token": token}),
        )
        .await;
        assert_eq!(status, 403, "{body}");
    }
    let token = setup_token(&server);
    let calls = (0..8).map(|i| {
        post(
            &http,
            server.url("/api/v1/auth/setup"),
            None,
            json!({"username": format!("admin{i}"), "password": ADMIN_PASSWORD, "setup_token": token}),
        )
    });
    let results = futures::future::join_all(calls).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let refused = results.iter().filter(|(s, _)| *s == 409).count();
    assert_eq!((created, refused), (1, 7), "{results:?}");
    let (status, body) = post(
        &http,
        server.url("/api/v1/auth/setup"),
        None,
        json!({"username": "late", "password": ADMIN_PASSWORD, "setup_token": token}),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(assert_error_shape(&body), "CONFLICT");
}

#[tokio::test]
async fn rate_limits_send_headers_and_refuse_bursts_and_brute_force() {
    let (_dir, server) = auth_server(&[
        ("QUARRY_RATE_LIMIT_USER", "5"),
        ("QUARRY_RATE_LIMIT_ANONYMOUS", "4"),
    ]);
    let (admin, _) = setup_admin(&server).await; // one anonymous request used
    let (_, bob) = member(&server, &admin, "default", "bob").await; // the login is the second
    let http = client();
    for expected_remaining in (0..5).rev() {
        let resp = http
            .get(server.url("/api/sessions"))
            .bearer_auth(&bob)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-ratelimit-limit"], "5");
        assert_eq!(
            resp.headers()["x-ratelimit-remaining"],
            expected_remaining.to_string().as_str()
        );
        assert!(resp.headers().contains_key("x-ratelimit-reset"));
    }
    let resp = http
        .get(server.url("/api/sessions"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(
        assert_error_shape(&resp.json().await.unwrap()),
        "RATE_LIMITED"
    );
    // The admin's budget is its own.
    let resp = http
        .get(server.url("/api/sessions"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-ratelimit-limit"], "1000");

    // Guessing passwords: the address's budget runs out, then even the right one waits.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let (s, _) = post(
            &http,
            server.url("/api/v1/auth/login"),
            None,
            json!({"username": "admin", "password": "guess guess"}),
        )
        .await;
        statuses.push(s.as_u16());
    }
    assert_eq!(statuses, [401, 401, 429]);
    let (s, _) = post(
        &http,
        server.url("/api/v1/auth/login"),
        None,
        json!({"username": "admin", "password": ADMIN_PASSWORD}),
    )
    .await;
    assert_eq!(s, 429);
}

#[tokio::test]
async fn dsagent_api_key_guards_everything_but_health() {
    let (_dir, server) = crate::fresh_server_with(&[], &[("DSAGENT_API_KEY", "ds-secret-key")]);
    let http = client();
    assert_eq!(
        http.get(server.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(server.url("/health/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(server.url("/api/sessions"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let resp = http
        .get(server.url("/api/sessions"))
        .header("X-API-Key", "ds-secret-key")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = http
        .get(server.url("/api/sessions"))
        .header("X-API-Key", "ds-secret-kez")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn cli_created_user_and_key_work_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let run = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = std::process::Command::new(quarry_tests::quarry_bin())
            .args(args)
            .current_dir(dir.path())
            .env_remove("DATABASE_URL")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let out = run(
        &[
            "user",
            "create",
            "--data-dir",
            data,
            "--username",
            "carol",
            "--role",
            "admin",
            "--first-admin",
            "--password-stdin",
        ],
        "carol's password\n",
    );
    assert!(out.contains("created admin user carol"), "{out}");
    let key = run(
        &["key", "create", "--data-dir", data, "--username", "carol"],
        "",
    );
    let key = key.trim();
    assert!(key.starts_with("qk_"), "{key}");

    let server = Server::start_in(
        dir.path(),
        &[],
        &[
            ("QUARRY_AUTH_REQUIRED", "true"),
            ("QUARRY_JWT_SECRET", JWT_SECRET),
        ],
    );
    let http = client();
    let resp = http
        .get(server.url("/api/v1/auth/me"))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["username"], "carol");
    let (status, _) = post(
        &http,
        server.url("/api/v1/auth/login"),
        None,
        json!({"username": "carol", "password": "carol's password"}),
    )
    .await;
    assert_eq!(status, 200);
    // Setup is over: a user exists.
    let (status, _) = post(
        &http,
        server.url("/api/v1/auth/setup"),
        None,
        json!({"username": "x", "password": ADMIN_PASSWORD, "setup_token": setup_token(&server)}),
    )
    .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn oauth_client_credentials_and_authorization_code_with_pkce() {
    let (_dir, server) = auth_server(&[]);
    let (admin, _) = setup_admin(&server).await;
    let http = client();
    let (status, c) = post(
        &http,
        server.url("/api/v1/oauth/clients"),
        Some(&admin),
        json!({"name": "etl", "redirect_uris": ["http://127.0.0.1:9/callback"]}),
    )
    .await;
    assert_eq!(status, 201, "{c}");
    let (cid, secret) = (
        c["client_id"].as_str().unwrap(),
        c["client_secret"].as_str().unwrap(),
    );

    // client_credentials, with HTTP Basic.
    let resp = http
        .post(server.url("/oauth/token"))
        .basic_auth(cid, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let t: Value = resp.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert!(t.get("refresh_token").is_none());
    let resp = http
        .get(server.url("/api/sessions"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // A wrong secret is invalid_client, RFC 6749's shape.
    let resp = http
        .post(server.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", cid),
            ("client_secret", "nope"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );

    // Authorization code with PKCE S256.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirect
        .get(server.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", cid),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("state", "xyz 1"),
        ])
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "{:?}", resp.text().await);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://127.0.0.1:9/callback?code="),
        "{location}"
    );
    assert!(location.ends_with("&state=xyz%201"), "{location}");
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let exchange = |verifier: &'static str, code: String| {
        let http = http.clone();
        let url = server.url("/oauth/token");
        let (cid, secret) = (cid.to_owned(), secret.to_owned());
        async move {
            http.post(url)
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("client_id", &cid),
                    ("client_secret", &secret),
                    ("code", &code),
                    ("redirect_uri", "http://127.0.0.1:9/callback"),
                    ("code_verifier", verifier),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let resp = exchange("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX", code.clone()).await;
    assert_eq!(resp.status(), 400, "a wrong verifier burns the code");
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    // Issue a fresh code and redeem it properly, once.
    let resp = no_redirect
        .get(server.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", cid),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let code = location.split("code=").nth(1).unwrap().to_owned();
    let resp = exchange(verifier, code.clone()).await;
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    assert!(tokens["refresh_token"].is_string());
    let resp = exchange(verifier, code).await;
    assert_eq!(resp.status(), 400, "codes are single use");
    // refresh_token grant for this client.
    let resp = http
        .post(server.url("/oauth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", cid),
            ("client_secret", secret),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let rotated: Value = resp.json().await.unwrap();
    // A client's refresh token is worthless without the client's credentials.
    let (status, _) = post(
        &http,
        server.url("/api/v1/auth/refresh"),
        None,
        json!({"refresh_token": rotated["refresh_token"]}),
    )
    .await;
    assert_eq!(status, 400);
    // PKCE is mandatory.
    let resp = no_redirect
        .get(server.url("/oauth/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", cid),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
        ])
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn logs_never_contain_secrets() {
    let (_dir, server) = auth_server(&[("RUST_LOG", "debug")]);
    let (admin, refresh) = setup_admin(&server).await;
    let http = client();
    let (_, key) = post(
        &http,
        server.url("/api/v1/auth/keys"),
        Some(&admin),
        json!({"name": "k"}),
    )
    .await;
    let key = key["key"].as_str().unwrap().to_owned();
    let _ = http
        .get(server.url("/api/sessions"))
        .header("X-API-Key", &key)
        .send()
        .await
        .unwrap();
    let _ = post(
        &http,
        server.url("/api/v1/auth/login"),
        None,
        json!({"username": "admin", "password": ADMIN_PASSWORD}),
    )
    .await;
    let _ = post(
        &http,
        server.url("/api/v1/auth/login"),
        None,
        json!({"username": "admin", "password": "a wrong password"}),
    )
    .await;
    let _ = post(
        &http,
        server.url("/api/v1/auth/refresh"),
        None,
        json!({"refresh_token": refresh}),
    )
    .await;
    let _ = post(
        &http,
        server.url("/api/v1/auth/refresh"),
        None,
        json!({"refresh_token": refresh}),
    )
    .await;
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = server.log();
    assert!(log.len() > 200, "the server logged almost nothing: {log}");
    for secret in [
        ADMIN_PASSWORD,
        "a wrong password",
        &key,
        &refresh,
        &admin,
        JWT_SECRET,
    ] {
        assert!(!log.contains(secret), "a secret appears in the log");
    }
}

#[tokio::test]
async fn tenant_admins_cannot_take_over_the_first_admin_and_demotion_is_immediate() {
    let (_dir, server) = auth_server(&[]);
    let (root, _) = setup_admin(&server).await;
    let http = client();
    let me = get_json_auth(&http, server.url("/api/v1/auth/me"), &root).await;
    let root_id = me["id"].as_str().unwrap().to_owned();
    // A second admin of the same tenant.
    let (status, _) = post(
        &http,
        server.url("/api/v1/users"),
        Some(&root),
        json!({"username": "deputy", "password": "deputy password", "role": "admin"}),
    )
    .await;
    assert_eq!(status, 201);
    let (_, login) = post(
        &http,
        server.url("/api/v1/auth/login"),
        None,
        json!({"username": "deputy", "password": "deputy password"}),
    )
    .await;
    let deputy = login["access_token"].as_str().unwrap().to_owned();
    let deputy_id = login["user"]["id"].as_str().unwrap().to_owned();
    for (method, body) in [
        ("PUT", json!({"password": "taken over!"})),
        ("DELETE", json!({})),
    ] {
        let resp = http
            .request(
                method.parse().unwrap(),
                server.url(&format!("/api/v1/users/{root_id}")),
            )
            .bearer_auth(&deputy)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{method}");
    }
    // Changing one's own password needs the current one.
    let url = server.url(&format!("/api/v1/users/{deputy_id}"));
    let resp = http
        .put(&url)
        .bearer_auth(&deputy)
        .json(&json!({"password": "new deputy pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = http
        .put(&url)
        .bearer_auth(&deputy)
        .json(&json!({"password": "new deputy pw", "current_password": "deputy password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The root admin demotes the deputy: its still-unexpired token loses admin rights now.
    let resp = http
        .put(&url)
        .bearer_auth(&root)
        .json(&json!({"role": "member"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = http
        .post(server.url("/api/v1/users"))
        .bearer_auth(&deputy)
        .json(&json!({"username": "sneaky", "password": "sneaky password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Disabling it refuses the token outright.
    let resp = http
        .put(&url)
        .bearer_auth(&root)
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = http
        .get(server.url("/api/sessions"))
        .bearer_auth(&deputy)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

async fn get_json_auth(http: &reqwest::Client, url: String, token: &str) -> Value {
    http.get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_budget() {
    let login = |http: reqwest::Client,
                 url: String,
                 client_addr: &'static str,
                 user: &'static str| async move {
        http.post(url)
            .header("X-Forwarded-For", format!("203.0.113.99, {client_addr}"))
            .json(&json!({"username": user, "password": "wrong password"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    // Trusted proxy: the forwarded address decides the bucket (and the spoofable left part
    // of the header does not).
    let (_dir, server) = auth_server(&[
        ("QUARRY_RATE_LIMIT_ANONYMOUS", "2"),
        ("QUARRY_TRUSTED_PROXIES", "[\"127.0.0.1\"]"),
    ]);
    let (http, url) = (client(), server.url("/api/v1/auth/login"));
    let mut a = Vec::new();
    for user in ["u1", "u2", "u3"] {
        a.push(login(http.clone(), url.clone(), "198.51.100.1", user).await);
    }
    assert_eq!(a, [401, 401, 429]);
    assert_eq!(
        login(http.clone(), url.clone(), "198.51.100.2", "u4").await,
        401
    );
    // One account guessed from many addresses runs out of its own budget.
    assert_eq!(
        login(http.clone(), url.clone(), "198.51.100.3", "u1").await,
        401
    );
    assert_eq!(
        login(http.clone(), url.clone(), "198.51.100.4", "u1").await,
        429
    );

    // Untrusted peer: the header is ignored, everyone shares the peer's bucket.
    let (_dir2, plain) = auth_server(&[("QUARRY_RATE_LIMIT_ANONYMOUS", "2")]);
    let url = plain.url("/api/v1/auth/login");
    assert_eq!(
        login(http.clone(), url.clone(), "198.51.100.1", "v1").await,
        401
    );
    assert_eq!(
        login(http.clone(), url.clone(), "198.51.100.2", "v2").await,
        401
    );
    assert_eq!(
        login(http.clone(), url.clone(), "198.51.100.3", "v3").await,
        429
    );
}
