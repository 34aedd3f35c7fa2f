//! Bad input of every kind gets the error shape and the right status, never a 500.

use quarry_tests::{assert_error_shape, client, get_json};
use serde_json::Value;

use crate::{fresh_server, fresh_server_with};

async fn expect(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status(), status);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(assert_error_shape(&body), code, "{body}");
    body
}

#[tokio::test]
async fn malformed_json_wrong_types_and_media_types() {
    let (_dir, server) = fresh_server();
    let http = client();
    for path in ["/sessions", "/api/sessions"] {
        for raw in [
            "{",
            "{\"name\": }",
            "[1,",
            "nul",
            "{\"name\":\"a\"} trailing",
        ] {
            let resp = http
                .post(server.url(path))
                .header("content-type", "application/json")
                .body(raw)
                .send()
                .await
                .unwrap();
            let body = expect(resp, 400, "INVALID_JSON").await;
            assert!(body["error"]["details"]["line"].is_u64(), "{body}");
        }
        for raw in ["{\"name\": 5}", "[]", "\"x\"", "{\"name\": [\"a\"]}"] {
            let resp = http
                .post(server.url(path))
                .header("content-type", "application/json")
                .body(raw)
                .send()
                .await
                .unwrap();
            expect(resp, 422, "VALIDATION_ERROR").await;
        }
        let resp = http
            .post(server.url(path))
            .header("content-type", "text/plain")
            .body("{\"name\":\"x\"}")
            .send()
            .await
            .unwrap();
        expect(resp, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    }
}

#[tokio::test]
async fn oversized_bodies_are_413_and_change_nothing() {
    let (_dir, server) = fresh_server_with(&[], &[("QUARRY_MAX_BODY_BYTES", "1024")]);
    let http = client();
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(4096));
    for path in ["/sessions", "/api/sessions"] {
        let resp = http
            .post(server.url(path))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        let body = expect(resp, 413, "PAYLOAD_TOO_LARGE").await;
        assert_eq!(body["error"]["details"]["limit_bytes"], 1024);
    }
    // Without Content-Length (chunked), the limit still holds.
    let chunks = futures::stream::iter(
        (0..8).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 512]))),
    );
    let resp = http
        .post(server.url("/api/sessions"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    expect(resp, 413, "PAYLOAD_TOO_LARGE").await;
    let list: Value = get_json(&http, server.url("/sessions")).await;
    assert_eq!(list["total"], 0);
}

#[tokio::test]
async fn unknown_routes_and_methods_use_the_error_shape() {
    let (_dir, server) = fresh_server();
    let http = client();
    let resp = http.get(server.url("/no/such/route")).send().await.unwrap();
    expect(resp, 404, "NOT_FOUND").await;
    let resp = http.patch(server.url("/sessions")).send().await.unwrap();
    expect(resp, 405, "METHOD_NOT_ALLOWED").await;
    let resp = http.post(server.url("/health")).send().await.unwrap();
    expect(resp, 405, "METHOD_NOT_ALLOWED").await;
}

#[tokio::test]
async fn unreadable_path_segments_are_400_with_the_error_shape() {
    let (_dir, server) = fresh_server();
    let http = client();
    for path in [
        "/sessions/%FF",
        "/api/sessions/%C3%28",
        "/runs/%FF/artifacts/abc",
    ] {
        let resp = http.get(server.url(path)).send().await.unwrap();
        expect(resp, 400, "INVALID_ID").await;
    }
}

#[tokio::test]
async fn foreign_hosts_and_cross_site_writes_are_refused_without_auth() {
    let (_dir, server) = fresh_server();
    let http = client();
    // DNS rebinding: the right address under a foreign name.
    let resp = http
        .get(server.url("/sessions"))
        .header("Host", "attacker.example")
        .send()
        .await
        .unwrap();
    expect(resp, 403, "FORBIDDEN").await;
    // A browser on another site posting to the local server.
    let resp = http
        .post(server.url("/sessions"))
        .header("Origin", "https://attacker.example")
        .header("Content-Type", "text/plain")
        .send()
        .await
        .unwrap();
    expect(resp, 403, "FORBIDDEN").await;
    // The same from a loopback page, or with no Origin (curl, SDKs), goes through.
    for origin in [Some("http://localhost:3000"), None] {
        let mut req = http
            .post(server.url("/sessions"))
            .json(&serde_json::json!({}));
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        assert_eq!(req.send().await.unwrap().status(), 201, "{origin:?}");
    }
    let list: Value = http
        .get(server.url("/sessions"))
        .header("Host", "localhost")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 2);
}
