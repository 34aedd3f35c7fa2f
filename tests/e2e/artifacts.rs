//! `GET /runs/{run_id}/artifacts/{artifact_id}`.

use bytes::Bytes;
use quarry_core::{
    Artifact, ArtifactId, ArtifactKind, ArtifactStore, ObjectKey, Run, RunKind, SessionId, TenantId,
};
use quarry_store::{FsArtifactStore, MetadataOptions};
use quarry_tests::{assert_error_shape, client, send_json};
use serde_json::{Value, json};
use sha2::Digest;

use crate::fresh_server;

/// Stores an artifact with the library, the way agents will, into the server's data dir.
pub(crate) async fn store_artifact(
    data_dir: &std::path::Path,
    tenant: &TenantId,
    session: &str,
    name: &str,
    media_type: &str,
    bytes: &'static [u8],
) -> Artifact {
    let url = format!("sqlite://{}", data_dir.join("quarry.db").display());
    let meta = quarry_store::connect_metadata(&url, MetadataOptions::default())
        .await
        .unwrap();
    let files = FsArtifactStore::open(data_dir.join("artifacts"))
        .await
        .unwrap();
    let session = SessionId::parse(session).unwrap();
    let run = Run::start(tenant.clone(), session.clone(), RunKind::Data);
    meta.create_run(&run).await.unwrap();
    let id = ArtifactId::generate();
    let key = ObjectKey {
        tenant_id: tenant.clone(),
        session_id: session.clone(),
        run_id: run.id.clone(),
        artifact_id: id.clone(),
        file_name: name.to_owned(),
    };
    let body = futures::stream::iter([Ok(Bytes::from_static(bytes))]);
    let stored = files.put(&key, Box::pin(body), None).await.unwrap();
    let artifact = Artifact {
        id,
        tenant_id: tenant.clone(),
        session_id: session,
        run_id: run.id,
        kind: ArtifactKind::Data,
        name: name.to_owned(),
        media_type: media_type.to_owned(),
        size: stored.size,
        sha256: stored.sha256,
        created_at: quarry_core::time::now(),
        storage_key: stored.key,
    };
    meta.insert_artifact(&artifact).await.unwrap();
    meta.close().await;
    artifact
}

#[tokio::test]
async fn downloads_stream_with_type_length_etag_and_disposition() {
    let (_dir, server) = fresh_server();
    let http = client();
    let s: Value = send_json(
        &http,
        reqwest::Method::POST,
        server.url("/sessions"),
        &json!({"name": "a"}),
    )
    .await;
    let session = s["session_id"].as_str().unwrap();
    const CSV: &[u8] = b"product_name,total_revenue\nWidget Pro,45230.00\n";
    let a = store_artifact(
        &server.data_dir,
        &TenantId::owner(),
        session,
        "top_products.csv",
        "text/csv",
        CSV,
    )
    .await;
    let url = server.url(&format!("/runs/{}/artifacts/{}", a.run_id, a.id));
    let resp = http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "text/csv");
    assert_eq!(h["content-length"], CSV.len().to_string().as_str());
    let etag = h["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        etag,
        format!("\"{}\"", hex::encode(sha2::Sha256::digest(CSV)))
    );
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .contains("filename=\"top_products.csv\"")
    );
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox;"),
        "non-HTML artifacts run no scripts"
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), CSV);

    let resp = http
        .get(&url)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);

    // The right artifact under the wrong run, an unknown artifact, another tenant: 404.
    let other_run = Run::start(TenantId::owner(), a.session_id.clone(), RunKind::Data).id;
    for (path, tenant) in [
        (format!("/runs/{other_run}/artifacts/{}", a.id), "default"),
        (
            format!("/runs/{}/artifacts/000000000000", a.run_id),
            "default",
        ),
        (
            format!("/runs/{}/artifacts/{}", a.run_id, a.id),
            "team-beta",
        ),
    ] {
        let resp = http
            .get(server.url(&path))
            .header("X-Tenant-ID", tenant)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{path} as {tenant}");
        assert_eq!(assert_error_shape(&resp.json().await.unwrap()), "NOT_FOUND");
    }
    for path in [
        format!("/runs/bad.run/artifacts/{}", a.id),
        format!("/runs/{}/artifacts/bad%20id", a.run_id),
    ] {
        let resp = http.get(server.url(&path)).send().await.unwrap();
        assert_eq!(resp.status(), 400, "{path}");
        assert_eq!(
            assert_error_shape(&resp.json().await.unwrap()),
            "INVALID_ID"
        );
    }

    // Deleting the session removes the artifact and its bytes.
    let resp = http
        .delete(server.url(&format!("/sessions/{session}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 404);
    let path = server.data_dir.join("artifacts").join(&a.storage_key);
    assert!(!path.exists(), "{} still exists", path.display());
}

#[tokio::test]
async fn html_artifacts_are_sandboxed() {
    let (_dir, server) = fresh_server();
    let http = client();
    let s: Value = http
        .post(server.url("/sessions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let a = store_artifact(
        &server.data_dir,
        &TenantId::owner(),
        s["session_id"].as_str().unwrap(),
        "chart.html",
        "text/html; charset=utf-8",
        b"<html><script>fetch('/sessions')</script></html>",
    )
    .await;
    let resp = http
        .get(server.url(&format!("/runs/{}/artifacts/{}", a.run_id, a.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-security-policy"],
        "sandbox allow-scripts allow-downloads"
    );
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
}
