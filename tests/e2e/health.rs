use quarry_tests::{assert_error_shape, client, get_json};
use serde_json::Value;

use crate::fresh_server;

#[tokio::test]
async fn health_reports_status_version_and_uptime() {
    let (_dir, server) = fresh_server();
    let resp = client().get(server.url("/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["uptime_seconds"].is_u64(), "{body}");
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn ready_is_200_when_stores_answer_and_503_naming_the_failing_part() {
    let (_dir, server) = fresh_server();
    let http = client();
    let resp = http.get(server.url("/health/ready")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["ready"], true);
    assert_eq!(body["checks"]["metadata_store"]["ok"], true);
    assert_eq!(body["checks"]["metadata_store"]["backend"], "sqlite");
    assert_eq!(body["checks"]["artifact_store"]["ok"], true);
    // What the agents can do, for operators: the demo connection, the offline analyst as the
    // last language model, the kernels' sandbox.
    let checks = &body["checks"];
    assert_eq!(checks["data_agent"]["default_connection"], "demo", "{body}");
    let models = checks["language_models"]["providers"].as_array().unwrap();
    assert_eq!(models.last().unwrap()["name"], "offline", "{body}");
    assert_eq!(checks["kernels"]["enabled"], true, "{body}");
    assert_eq!(checks["kernels"]["sandboxed"], true, "{body}");

    // Break the artifact store: its root becomes a plain file.
    let root = server.data_dir.join("artifacts");
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::write(&root, b"not a directory").unwrap();
    let resp = http.get(server.url("/health/ready")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(assert_error_shape(&body), "SERVICE_UNAVAILABLE");
    assert_eq!(body["ready"], false);
    assert_eq!(body["checks"]["artifact_store"]["ok"], false);
    assert_eq!(body["checks"]["metadata_store"]["ok"], true);
    assert!(
        body["detail"].as_str().unwrap().contains("artifact_store"),
        "{body}"
    );
}

#[tokio::test]
async fn openapi_and_docs_describe_every_route() {
    let (_dir, server) = fresh_server();
    let http = client();
    let spec: Value = get_json(&http, server.url("/openapi.json")).await;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let paths = spec["paths"].as_object().unwrap();
    for p in [
        "/health",
        "/health/ready",
        "/sessions",
        "/sessions/{session_id}",
        "/api/sessions",
        "/api/sessions/{session_id}",
        "/api/sessions/{session_id}/archive",
        "/runs/{run_id}/artifacts/{artifact_id}",
    ] {
        assert!(paths.contains_key(p), "{p} missing from /openapi.json");
    }
    assert!(paths["/api/sessions/{session_id}"]["put"].is_object());
    let resp = http.get(server.url("/docs")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("/api/sessions/{session_id}/archive"));
    assert!(html.contains("/openapi.json"));
}
