//! SIGKILL in the middle of writes leaves a readable store with nothing half-written visible.

use std::{
    collections::HashSet,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
};

use quarry_core::{ArtifactFilter, TenantId};
use quarry_store::MetadataOptions;
use quarry_tests::{SIGKILL, Server, client, get_json, send_signal};
use serde_json::{Value, json};
use sha2::Digest;

#[tokio::test]
async fn sigkill_during_a_burst_of_session_writes_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_in(dir.path(), &[], &[]);
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let url = server.url("/sessions");
    let mut writers = Vec::new();
    for w in 0..4 {
        let (acked, url) = (acked.clone(), url.clone());
        writers.push(tokio::spawn(async move {
            let http = client();
            for i in 0.. {
                let Ok(resp) = http
                    .post(&url)
                    .json(&json!({"name": format!("burst {w}-{i}")}))
                    .send()
                    .await
                else {
                    break; // the server is gone
                };
                let status = resp.status();
                let Ok(body) = resp.json::<Value>().await else {
                    break; // killed mid-response
                };
                assert_eq!(status, 201, "{body}");
                let id = body["session_id"].as_str().unwrap().to_owned();
                acked.lock().unwrap().insert(id);
            }
        }));
    }
    // Kill once a few hundred writes went through, with writers still going.
    while acked.lock().unwrap().len() < 300 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let status = server.signal_and_wait(SIGKILL);
    assert!(!status.success());
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    let server = Server::start_in(dir.path(), &[], &[]);
    let http = client();
    let ready = http.get(server.url("/health/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let mut listed = HashSet::new();
    let mut offset = 0;
    loop {
        let page: Value = get_json(
            &http,
            server.url(&format!("/sessions?limit=100&offset={offset}")),
        )
        .await;
        for s in page["sessions"].as_array().unwrap() {
            assert!(s["name"].as_str().unwrap().starts_with("burst "));
            listed.insert(s["session_id"].as_str().unwrap().to_owned());
        }
        if page["has_more"] != true {
            break;
        }
        offset += 100;
    }
    let missing: Vec<_> = acked.difference(&listed).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    // Each listed session reads back whole.
    for id in listed.iter().take(50) {
        let r = http
            .get(server.url(&format!("/api/sessions/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

#[tokio::test]
async fn sigkill_mid_artifact_write_leaves_no_half_written_artifact_visible() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = Command::new(env!("CARGO_BIN_EXE_artifact-writer"))
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(writer.stdout.take().unwrap()).lines();
    let mut written = 0;
    while written < 20 {
        let line = lines.next().expect("writer ended early").unwrap();
        assert!(line.starts_with("wrote "), "{line}");
        written += 1;
    }
    send_signal(writer.id(), SIGKILL).unwrap();
    let status = writer.wait().unwrap();
    assert!(!status.success());
    // Anything it acknowledged after we stopped reading counts too.
    written += lines.map_while(Result::ok).count();

    let server = Server::start_in(dir.path(), &[], &[]);
    // Opening the store swept the writer's unfinished temporary files.
    let tmp = dir.path().join("artifacts").join(".tmp");
    let leftovers = std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
    assert_eq!(
        leftovers,
        0,
        "stale temporary files left in {}",
        tmp.display()
    );

    let url = format!("sqlite://{}", dir.path().join("quarry.db").display());
    let meta = quarry_store::connect_metadata(&url, MetadataOptions::default())
        .await
        .unwrap();
    let artifacts = meta
        .list_artifacts(&TenantId::owner(), &ArtifactFilter::default())
        .await
        .unwrap();
    assert!(
        artifacts.len() >= written,
        "{} recorded, {written} acknowledged",
        artifacts.len()
    );
    let http = client();
    for a in &artifacts {
        let resp = http
            .get(server.url(&format!("/runs/{}/artifacts/{}", a.run_id, a.id)))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{}", a.id);
        let bytes = resp.bytes().await.unwrap();
        assert_eq!(bytes.len() as u64, a.size);
        assert_eq!(bytes.len(), 64 * 4096, "artifact {} is partial", a.id);
        assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), a.sha256);
    }
}
