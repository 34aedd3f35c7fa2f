//! DSAgent's `/api/sessions` surface.

use quarry_tests::{assert_error_shape, client, get_json, send_json};
use serde_json::{Value, json};

use crate::fresh_server;

const DS_KEYS: [&str; 8] = [
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "message_count",
    "kernel_variables",
    "workspace_path",
];

#[tokio::test]
async fn crud_and_archive_in_the_dsagent_shape() {
    let (_dir, server) = fresh_server();
    let http = client();
    let resp = http
        .post(server.url("/api/sessions"))
        .json(&json!({"name": "My Analysis Session", "model": "gpt-4o", "hitl_mode": "none"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let s: Value = resp.json().await.unwrap();
    for key in DS_KEYS {
        assert!(s.get(key).is_some(), "{key} missing in {s}");
    }
    let id = s["id"].as_str().unwrap().to_owned();
    assert_eq!(s["message_count"], 0);
    assert_eq!(s["kernel_variables"], 0);
    assert_eq!(s["model"], "gpt-4o");
    assert!(s["workspace_path"].as_str().unwrap().ends_with(&id));
    assert!(
        std::path::Path::new(s["workspace_path"].as_str().unwrap()).is_absolute(),
        "{s}"
    );
    // DSAgent's id form: YYYYMMDD_HHMMSS_xxxxxx.
    assert_eq!(id.len(), 22, "{id}");

    // The same session is visible on the oneprompt surface.
    let op: Value = get_json(&http, server.url(&format!("/sessions/{id}"))).await;
    assert_eq!(op["name"], "My Analysis Session");

    // Partial update: only the given fields change.
    let resp = http
        .put(server.url(&format!("/api/sessions/{id}")))
        .json(&json!({"hitl_mode": "plan_only"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let u: Value = resp.json().await.unwrap();
    assert_eq!(u["hitl_mode"], "plan_only");
    assert_eq!(u["model"], "gpt-4o");
    assert_eq!(u["name"], "My Analysis Session");
    assert!(u["updated_at"].as_str().unwrap() >= s["updated_at"].as_str().unwrap());

    let u: Value = send_json(
        &http,
        reqwest::Method::PUT,
        server.url(&format!("/api/sessions/{id}")),
        &json!({"name": "Renamed", "status": "paused", "model": "claude-sonnet-4-20250514"}),
    )
    .await;
    assert_eq!(
        (&u["name"], &u["status"], &u["model"]),
        (
            &json!("Renamed"),
            &json!("paused"),
            &json!("claude-sonnet-4-20250514")
        )
    );
    let u: Value = send_json(
        &http,
        reqwest::Method::PUT,
        server.url(&format!("/api/sessions/{id}")),
        &json!({"model": null}),
    )
    .await;
    assert_eq!(u["model"], Value::Null);

    let a: Value = http
        .post(server.url(&format!("/api/sessions/{id}/archive")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a["status"], "archived");
    let got: Value = get_json(&http, server.url(&format!("/api/sessions/{id}"))).await;
    assert_eq!(got["status"], "archived");

    let resp = http
        .delete(server.url(&format!("/api/sessions/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = http
        .get(server.url(&format!("/api/sessions/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn listing_defaults_to_50_caps_at_100_and_filters_by_status() {
    let (_dir, server) = fresh_server();
    let http = client();
    for i in 0..55 {
        let r = http
            .post(server.url("/api/sessions"))
            .json(&json!({"name": format!("s{i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let list: Value = get_json(&http, server.url("/api/sessions")).await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 50);
    assert_eq!(list["total"], 55);
    assert_eq!(list["has_more"], true);
    let list: Value = get_json(&http, server.url("/api/sessions?limit=100")).await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 55);
    let resp = http
        .get(server.url("/api/sessions?limit=101"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);

    let first = list["sessions"][0]["id"].as_str().unwrap();
    http.post(server.url(&format!("/api/sessions/{first}/archive")))
        .send()
        .await
        .unwrap();
    let active: Value = get_json(&http, server.url("/api/sessions?status=active&limit=100")).await;
    assert_eq!(active["total"], 54);
    let archived: Value = get_json(&http, server.url("/api/sessions?status=archived")).await;
    assert_eq!(archived["sessions"][0]["id"], first);
}

#[tokio::test]
async fn bad_ids_are_400_unknown_ids_404() {
    let (_dir, server) = fresh_server();
    let http = client();
    let long = "x".repeat(129);
    for bad in ["bad.id", "a%20b", "..x", "caf%C3%A9", long.as_str()] {
        for (method, path) in [
            ("GET", format!("/api/sessions/{bad}")),
            ("PUT", format!("/api/sessions/{bad}")),
            ("DELETE", format!("/api/sessions/{bad}")),
            ("POST", format!("/api/sessions/{bad}/archive")),
            ("GET", format!("/sessions/{bad}")),
            ("DELETE", format!("/sessions/{bad}")),
        ] {
            let resp = http
                .request(method.parse().unwrap(), server.url(&path))
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 400, "{method} {path}");
            assert_eq!(
                assert_error_shape(&resp.json().await.unwrap()),
                "INVALID_ID",
                "{method} {path}"
            );
        }
    }
    for (method, path) in [
        ("GET", "/api/sessions/nope"),
        ("PUT", "/api/sessions/nope"),
        ("DELETE", "/api/sessions/nope"),
        ("POST", "/api/sessions/nope/archive"),
    ] {
        let resp = http
            .request(method.parse().unwrap(), server.url(path))
            .json(&json!({"name": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{method} {path}");
        assert_eq!(assert_error_shape(&resp.json().await.unwrap()), "NOT_FOUND");
    }
}

#[tokio::test]
async fn bodies_are_validated() {
    let (_dir, server) = fresh_server();
    let http = client();
    let s: Value = send_json(
        &http,
        reqwest::Method::POST,
        server.url("/api/sessions"),
        &json!({}),
    )
    .await;
    let id = s["id"].as_str().unwrap();
    let cases = [
        json!({"hitl_mode": "sometimes"}),
        json!({"status": "deleted"}),
        json!({"name": ""}),
        json!({"name": 42}),
        json!({"name": "x".repeat(201)}),
        json!({"nmae": "typo"}),
    ];
    for body in &cases {
        for (method, path) in [
            ("POST", "/api/sessions".to_owned()),
            ("PUT", format!("/api/sessions/{id}")),
        ] {
            if method == "POST" && body.get("status").is_some() {
                continue;
            }
            let resp = http
                .request(method.parse().unwrap(), server.url(&path))
                .json(body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 422, "{method} {path} {body}");
            assert_eq!(
                assert_error_shape(&resp.json().await.unwrap()),
                "VALIDATION_ERROR"
            );
        }
    }
    // Nothing was changed by the refused updates.
    let after: Value = get_json(&http, server.url(&format!("/api/sessions/{id}"))).await;
    assert_eq!(after["name"], s["name"]);
    assert_eq!(after["hitl_mode"], "none");
}
