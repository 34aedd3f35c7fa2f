//! oneprompt `POST /agents/data` against the real binary: with no configuration, questions
//! are answered from the generated demo database by the offline analyst.

use quarry_tests::{assert_error_shape, client};
use serde_json::{Value, json};

use crate::fresh_server;

#[tokio::test]
async fn data_agent_answers_from_the_demo_database_without_configuration() {
    let (_dir, server) = fresh_server();
    let http = client();
    let res = http
        .post(server.url("/agents/data"))
        .json(&json!({"query": "How many customers are there?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(body["session_id"], "default_local_user");
    assert_eq!(body["result"]["ok"], true);
    assert_eq!(body["result"]["intent"], "count");
    assert_eq!(body["result"]["row_count"], 1);
    assert_eq!(body["result"]["columns"], json!(["count"]));
    assert_eq!(body["result"]["preview"], json!([{"count": 500}]));
    assert!(body["summary"].as_str().unwrap().contains("500"), "{body}");
    let artifacts = body["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 2);
    let csv = http
        .get(server.url(artifacts[0]["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.text().await.unwrap(), "count\r\n500\r\n");
    assert_eq!(artifacts[1]["type"], "data");
    let json_file: Value = http
        .get(server.url(artifacts[1]["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json_file, json!([{"count": 500}]));

    // A breakdown exports every row, in column order.
    let body: Value = http
        .post(server.url("/agents/data"))
        .json(&json!({"query": "Revenue by category"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["result"]["row_count"], 6, "{body}");
    assert_eq!(body["result"]["columns"], json!(["category", "revenue"]));
    let csv = http
        .get(server.url(body["artifacts"][0]["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("category,revenue\r\n"), "{csv}");
    assert_eq!(csv.lines().count(), 7);

    // Not understood: a plain answer, not a guess.
    let body: Value = http
        .post(server.url("/agents/data"))
        .json(&json!({"query": "Why do customers leave?"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["ok"], false);
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .contains("language model provider"),
        "{body}"
    );
    assert_eq!(body["artifacts"], json!([]));

    // Bad input is a 4xx with the error shape.
    for bad in [
        json!({}),
        json!({"query": ""}),
        json!({"query": 5}),
        json!({"query": "x", "connection_id": "nope"}),
    ] {
        let res = http
            .post(server.url("/agents/data"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{bad}: {}", res.status());
        assert_error_shape(&res.json().await.unwrap());
    }
}
