//! The `/sessions` resource of oneprompt and OpenAnalyst.

use quarry_tests::{assert_error_shape, client, get_json};
use serde_json::{Value, json};

use crate::fresh_server;

#[tokio::test]
async fn create_list_get_delete_in_oneprompt_and_openanalyst_shapes() {
    let (_dir, server) = fresh_server();
    let http = client();

    let resp = http
        .post(server.url("/sessions"))
        .json(&json!({"name": "Q1 Analysis"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let id = created["session_id"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "Q1 Analysis");
    assert_eq!(created["status"], "active");
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    // OpenAnalyst creates with a JSON content type and no body at all.
    let resp = http
        .post(server.url("/sessions"))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let second: Value = resp.json().await.unwrap();
    assert!(second["name"].as_str().unwrap().starts_with("Session "));

    let list: Value = get_json(&http, server.url("/sessions")).await;
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(list["total"], 2);
    assert_eq!(list["has_more"], false);
    // Newest first.
    assert_eq!(sessions[0]["session_id"], second["session_id"]);
    for key in ["session_id", "name", "created_at", "status"] {
        assert!(sessions[1].get(key).is_some(), "{key} missing");
    }

    let detail: Value = get_json(&http, server.url(&format!("/sessions/{id}"))).await;
    assert_eq!(detail["session_id"], id.as_str());
    assert_eq!(detail["history"], json!([]));

    let resp = http
        .delete(server.url(&format!("/sessions/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["success"], true);
    let resp = http
        .get(server.url(&format!("/sessions/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(assert_error_shape(&resp.json().await.unwrap()), "NOT_FOUND");
    let resp = http
        .delete(server.url(&format!("/sessions/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn listing_pages_and_filters() {
    let (_dir, server) = fresh_server();
    let http = client();
    for i in 0..7 {
        let r = http
            .post(server.url("/sessions"))
            .json(&json!({"name": format!("s{i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let page: Value = get_json(&http, server.url("/sessions?limit=3&offset=3")).await;
    let names: Vec<_> = page["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["s3", "s2", "s1"]);
    assert_eq!(page["total"], 7);
    assert_eq!(page["has_more"], true);

    let none: Value = get_json(&http, server.url("/sessions?status=archived")).await;
    assert_eq!(none["total"], 0);

    for bad in [
        "limit=0",
        "limit=101",
        "limit=x",
        "offset=-1",
        "status=bogus",
    ] {
        let resp = http
            .get(server.url(&format!("/sessions?{bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 422, "{bad}");
        assert_eq!(
            assert_error_shape(&resp.json().await.unwrap()),
            "VALIDATION_ERROR",
            "{bad}"
        );
    }
}

#[tokio::test]
async fn tenants_never_see_each_other() {
    let (_dir, server) = fresh_server();
    let http = client();
    let created: Value = http
        .post(server.url("/sessions"))
        .header("X-Tenant-ID", "team-alpha")
        .json(&json!({"name": "alpha only"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["session_id"].as_str().unwrap();

    let beta: Value = http
        .get(server.url("/sessions"))
        .header("X-Tenant-ID", "team-beta")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(beta["total"], 0);
    let owner: Value = get_json(&http, server.url("/sessions")).await;
    assert_eq!(owner["total"], 0);

    for (method, path) in [
        ("GET", format!("/sessions/{id}")),
        ("DELETE", format!("/sessions/{id}")),
        ("GET", format!("/api/sessions/{id}")),
        ("PUT", format!("/api/sessions/{id}")),
        ("POST", format!("/api/sessions/{id}/archive")),
        ("DELETE", format!("/api/sessions/{id}")),
    ] {
        let resp = http
            .request(method.parse().unwrap(), server.url(&path))
            .header("X-Tenant-ID", "team-beta")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{method} {path}");
        assert_eq!(assert_error_shape(&resp.json().await.unwrap()), "NOT_FOUND");
    }
    // Still there for its own tenant.
    let resp = http
        .get(server.url(&format!("/sessions/{id}")))
        .header("X-Tenant-ID", "team-alpha")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let resp = http
        .get(server.url("/sessions"))
        .header("X-Tenant-ID", "../etc")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        assert_error_shape(&resp.json().await.unwrap()),
        "INVALID_ID"
    );
}
