//! `POST /agents/chart` through the real binary, and its pages in headless Chromium.

use quarry_core::TenantId;
use quarry_tests::{assert_error_shape, browser::Browser, client};
use serde_json::{Value, json};

use crate::{artifacts::store_artifact, fresh_server, fresh_server_with};

async fn chart(
    http: &reqwest::Client,
    server: &quarry_tests::Server,
    body: Value,
) -> (reqwest::StatusCode, Value) {
    let resp = http
        .post(server.url("/agents/chart"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

fn monthly() -> String {
    let mut s = String::from("month,revenue\n");
    for m in 1..=12 {
        s.push_str(&format!("2025-{m:02},{}.00\n", 40000 + m * 1500));
    }
    s
}

/// One data set and question per chart type.
fn gallery() -> Vec<(&'static str, String, &'static str)> {
    let mut scatter = String::from("price,quantity\n");
    let mut values = String::from("order_value\n");
    for i in 0..60u32 {
        scatter.push_str(&format!("{},{}\n", 5 + i, 200 - i * 3));
        values.push_str(&format!("{}\n", (i * 37) % 300));
    }
    vec![
        ("line", monthly(), "monthly revenue trend"),
        ("area", monthly(), "revenue as an area chart"),
        (
            "column",
            "category,channel,sales\nBooks,web,120\nBooks,store,80\nGames,web,200\nGames,store,150\n"
                .into(),
            "sales by category and channel",
        ),
        (
            "bar",
            "product_name,total_revenue\nWidget Professional,45230.00\nGadget Max Deluxe,38110.50\n\
             Doohickey Deluxe Edition,30500.00\n"
                .into(),
            "top products by revenue",
        ),
        (
            "pie",
            "segment,revenue\nConsumer,5400\nCorporate,3100\nHome office,1800\n".into(),
            "share of revenue by segment",
        ),
        ("scatter", scatter, "price vs quantity"),
        ("histogram", values, "distribution of order value"),
    ]
}

fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

#[tokio::test]
async fn every_chart_type_renders_in_chromium_without_errors() {
    let (_dir, server) = fresh_server();
    let http = client();
    let mut browser = Browser::launch();
    for (expected, data, question) in gallery() {
        let (status, body) = chart(
            &http,
            &server,
            json!({ "question": question, "data_preview": data }),
        )
        .await;
        assert_eq!(status, 200, "{expected}: {body}");
        assert_eq!(body["ok"], true);
        assert_eq!(body["result"]["spec"]["type"], expected, "{body}");
        assert_eq!(body["result"]["interactive"], true, "{body}");
        assert_eq!(body["session_id"], "default_local_user");
        let arts = body["artifacts"].as_array().unwrap();
        let names: Vec<&str> = arts.iter().map(|a| a["name"].as_str().unwrap()).collect();
        let stem = format!("{expected}_chart");
        assert_eq!(
            names,
            [
                format!("{stem}.html"),
                format!("{stem}.svg"),
                format!("{stem}.png")
            ]
        );
        assert!(arts.iter().all(|a| a["type"] == "chart"));
        assert_eq!(body["result"]["name"], format!("{stem}.html"));
        let png = http
            .get(server.url(arts[2]["url"].as_str().unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(png.headers()["content-type"], "image/png");
        assert_eq!(png_size(&png.bytes().await.unwrap()), (960, 540));
        let svg = http
            .get(server.url(arts[1]["url"].as_str().unwrap()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(svg.contains("<svg") && svg.trim_end().ends_with("</svg>"));

        let Some(b) = browser.as_mut() else { continue };
        let page = server.url(arts[0]["url"].as_str().unwrap());
        let state = b.open_chart(&page);
        assert_eq!(state, "ready", "{expected}: the chart did not render");
        let inked = b.inked_canvas_pixels();
        assert!(
            inked > 1000,
            "{expected}: blank canvas ({inked} pixels drawn)"
        );
        let errors = b.errors();
        assert!(errors.is_empty(), "{expected}: console errors {errors:#?}");
    }
}

#[tokio::test]
async fn markup_in_labels_is_shown_as_text_never_run() {
    let (_dir, server) = fresh_server();
    let http = client();
    let data = json!([
        { "<script>window.__pwned=1</script>": "<img src=x onerror=\"window.__pwned=1\">", "revenue": 5 },
        { "<script>window.__pwned=1</script>": "</script><script>window.__pwned=1</script>", "revenue": 7 },
        { "<script>window.__pwned=1</script>": "'\"><svg onload=window.__pwned=1>", "revenue": 3 },
    ]);
    let (status, body) = chart(
        &http,
        &server,
        json!({ "question": "column chart of revenue", "data_preview": data.to_string() }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let url = server.url(body["artifacts"][0]["url"].as_str().unwrap());
    let html = http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("<img src=x"), "raw markup in the page");
    let Some(mut b) = Browser::launch() else {
        return;
    };
    assert_eq!(b.open_chart(&url), "ready");
    b.hover_chart();
    let tooltip = b.eval(
        "(() => { const t = document.querySelector('.g2-tooltip'); return t ? t.textContent : ''; })()",
    );
    assert_eq!(
        b.eval("typeof window.__pwned"),
        "undefined",
        "a label ran as script"
    );
    assert_eq!(
        b.eval("document.querySelectorAll('img, #chart svg').length"),
        0
    );
    // The labels are there, as text.
    let fallback = b.eval("document.getElementById('fallback').textContent");
    assert!(
        fallback.as_str().unwrap().contains("<img src=x"),
        "{fallback}"
    );
    let t = tooltip.as_str().unwrap();
    assert!(
        t.contains("<img src=x") || t.contains("</script>") || t.contains("<svg onload"),
        "the tooltip did not show a label: {t:?}"
    );
    assert!(b.errors().is_empty(), "{:#?}", b.errors());
}

#[tokio::test]
async fn standalone_download_inlines_g2plot_and_opens_offline() {
    let (dir, server) = fresh_server();
    let http = client();
    let (_, body) = chart(
        &http,
        &server,
        json!({ "question": "monthly revenue trend", "data_preview": monthly() }),
    )
    .await;
    let url = server.url(body["artifacts"][0]["url"].as_str().unwrap());
    let linked = http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(linked.contains("src=\"/assets/g2plot.min.js\""));
    let resp = http
        .get(format!("{url}?standalone=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.contains("standalone"), "{etag}");
    let page = resp.text().await.unwrap();
    assert!(!page.contains("/assets/g2plot.min.js"));
    assert!(page.len() > linked.len() + 500_000, "bundle not inlined");
    let file = dir.path().join("offline.html");
    std::fs::write(&file, &page).unwrap();
    let Some(mut b) = Browser::launch() else {
        return;
    };
    assert_eq!(b.open_chart(&format!("file://{}", file.display())), "ready");
    assert!(b.inked_canvas_pixels() > 1000);
    assert!(b.errors().is_empty(), "{:#?}", b.errors());
}

#[tokio::test]
async fn data_artifacts_are_charted_and_bad_input_is_refused_clearly() {
    let (_dir, server) = fresh_server();
    let http = client();
    // A data artifact, as the SQL agent writes them (JSON rows, numbers as strings).
    let s: Value = http
        .post(server.url("/sessions"))
        .json(&json!({"name": "charts"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = s["session_id"].as_str().unwrap();
    const ROWS: &[u8] = br#"[{"month":"2025-01","revenue":"45230.00"},{"month":"2025-02","revenue":"47100.50"},{"month":"2025-03","revenue":"51000.00"}]"#;
    let data = store_artifact(
        &server.data_dir,
        &TenantId::owner(),
        session,
        "monthly_revenue.json",
        "application/json",
        ROWS,
    )
    .await;
    let (status, body) = chart(
        &http,
        &server,
        json!({ "question": "monthly revenue trend", "data_artifact_id": data.id.as_str(),
                "session_id": session }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["session_id"], session);
    let spec = &body["result"]["spec"];
    assert_eq!(
        (
            spec["type"].as_str(),
            spec["x"].as_str(),
            spec["y"].as_str()
        ),
        (Some("line"), Some("month"), Some("revenue"))
    );
    assert_eq!(spec["aggregation"], "none");

    let refused = |status: reqwest::StatusCode, body: &Value, want: u16, text: &str| {
        assert_eq!(status.as_u16(), want, "{body}");
        assert_error_shape(body);
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(text), "{msg:?} lacks {text:?}");
    };
    let (st, b) = chart(
        &http,
        &server,
        json!({ "question": "x", "data_artifact_id": "nope123" }),
    )
    .await;
    refused(st, &b, 404, "not found");
    let png = store_artifact(
        &server.data_dir,
        &TenantId::owner(),
        session,
        "picture.png",
        "image/png",
        b"\x89PNG\r\n\x1a\n",
    )
    .await;
    let (st, b) = chart(
        &http,
        &server,
        json!({ "question": "x", "data_artifact_id": png.id.as_str() }),
    )
    .await;
    refused(st, &b, 422, "not tabular");
    let (st, b) = chart(
        &http,
        &server,
        json!({ "question": "x", "data_preview": "month,revenue\n" }),
    )
    .await;
    refused(st, &b, 422, "no rows");
    assert_eq!(b["error"]["details"]["reason"], "empty");
    let (st, b) = chart(&http, &server, json!({ "question": "x" })).await;
    refused(st, &b, 422, "data_artifact_id");
    let (st, b) = chart(&http, &server, json!({ "data_preview": monthly() })).await;
    refused(st, &b, 422, "question");
    let (st, b) = chart(
        &http,
        &server,
        json!({ "question": "x", "data_preview": "{\"a\": 1}" }),
    )
    .await;
    refused(st, &b, 422, "array of row objects");
    let (st, b) = chart(
        &http,
        &server,
        json!({ "question": "x", "data_preview": "a,b\n1,2,3\n" }),
    )
    .await;
    refused(st, &b, 422, "not tabular");
    let (st, b) = chart(
        &http,
        &server,
        json!({ "question": "x", "data_preview": "a\n".repeat(600_000) }),
    )
    .await;
    refused(st, &b, 413, "larger than");
}

#[tokio::test]
async fn without_the_bundle_the_static_chart_is_made_and_the_fix_is_named() {
    let (_dir, server) = fresh_server_with(
        &[],
        &[("QUARRY_CHART_BUNDLE", "/nonexistent/g2plot.min.js")],
    );
    let http = client();
    let (status, body) = chart(
        &http,
        &server,
        json!({ "question": "monthly revenue trend", "data_preview": monthly() }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["interactive"], false);
    assert!(
        body["result"]["notice"]
            .as_str()
            .unwrap()
            .contains("scripts/setup-web")
    );
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .contains("scripts/setup-web")
    );
    assert_eq!(body["artifacts"].as_array().unwrap().len(), 3);
    let page = http
        .get(server.url(body["artifacts"][0]["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<svg") && page.contains("scripts/setup-web"));
    let assets = http
        .get(server.url("/assets/g2plot.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(assets.status(), 404);
    let Some(mut b) = Browser::launch() else {
        return;
    };
    let url = server.url(body["artifacts"][0]["url"].as_str().unwrap());
    assert_eq!(b.open_chart(&url), "fallback");
    assert_eq!(
        b.eval("document.querySelector('#fallback svg') !== null"),
        true
    );
}

/// The chain oneprompt documents, from the demo database: `/agents/data` answers "monthly
/// revenue", `/agents/chart` draws it from the data artifact as a line, and the page renders.
#[tokio::test]
async fn demo_monthly_revenue_from_the_data_agent_is_a_line_chart_in_a_browser() {
    let (_dir, server) = fresh_server();
    let http = client();
    let data: Value = http
        .post(server.url("/agents/data"))
        .json(&json!({ "query": "monthly revenue" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(data["ok"], true, "{data}");
    assert!(
        data["result"]["row_count"].as_u64().unwrap() >= 12,
        "{data}"
    );
    let csv = &data["artifacts"][0];
    assert_eq!(csv["type"], "data", "{data}");

    let (status, body) = chart(
        &http,
        &server,
        json!({ "question": "monthly revenue trend", "data_artifact_id": csv["id"] }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["spec"]["type"], "line", "{body}");
    assert_eq!(body["session_id"], data["session_id"]);
    let page = server.url(body["artifacts"][0]["url"].as_str().unwrap());
    let Some(mut b) = Browser::launch() else {
        return;
    };
    assert_eq!(b.open_chart(&page), "ready");
}
