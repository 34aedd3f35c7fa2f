//! Graceful shutdown: stop accepting, let in-flight requests finish, close the store.

use std::time::Duration;

use quarry_tests::{SIGINT, SIGTERM, client, get_json, send_json, send_signal};
use serde_json::Value;

use crate::fresh_server;

#[tokio::test]
async fn sigterm_drains_in_flight_requests_then_exits_cleanly() {
    let (_dir, mut server) = fresh_server();
    let http = client();
    // A request whose body arrives slowly is in flight when the signal comes.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let url = server.url("/sessions");
    let in_flight = tokio::spawn({
        let http = http.clone();
        async move {
            http.post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
        }
    });
    tx.send(Ok(bytes::Bytes::from_static(b"{\"name\":")))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    send_signal(server.pid(), SIGTERM).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // New connections are refused while the old request is still open.
    assert!(http.get(server.url("/health")).send().await.is_err());

    tx.send(Ok(bytes::Bytes::from_static(b"\"late\"}")))
        .await
        .unwrap();
    drop(tx);
    let resp = in_flight.await.unwrap().unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["name"], "late");

    let status = server
        .wait_exit(Duration::from_secs(30))
        .expect("quarry exits after draining");
    assert!(status.success(), "exit status {status:?}");
    let log = server.log();
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("metadata store closed"), "{log}");
}

#[tokio::test]
async fn sigint_exits_cleanly_and_data_survives_a_restart() {
    let (dir, mut server) = fresh_server();
    let http = client();
    let created: Value = send_json(
        &http,
        reqwest::Method::POST,
        server.url("/sessions"),
        &serde_json::json!({"name": "keep me"}),
    )
    .await;
    let status = server.signal_and_wait(SIGINT);
    assert!(status.success(), "exit status {status:?}");
    drop(server);
    let server = quarry_tests::Server::start_in(dir.path(), &[], &[]);
    let id = created["session_id"].as_str().unwrap();
    let got: Value = get_json(&http, server.url(&format!("/sessions/{id}"))).await;
    assert_eq!(got["name"], "keep me");
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
