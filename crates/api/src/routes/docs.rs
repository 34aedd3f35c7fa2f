//! `/openapi.json` and the interactive docs at `/docs`.

use std::sync::OnceLock;

use axum::{
    Router,
    http::header,
    response::{Html, IntoResponse},
    routing::get,
};

use crate::{AppState, openapi};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs))
}

fn spec_json() -> &'static str {
    static SPEC: OnceLock<String> = OnceLock::new();
    SPEC.get_or_init(|| {
        openapi()
            .to_pretty_json()
            .unwrap_or_else(|_| "{}".to_owned())
    })
}

async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], spec_json())
}

/// The docs page lists every operation server-side, so it is useful offline, and upgrades
/// to the interactive Scalar reference when the browser can load it.
async fn docs() -> Html<&'static str> {
    static PAGE: OnceLock<String> = OnceLock::new();
    Html(PAGE.get_or_init(render_docs))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn render_docs() -> String {
    let doc = openapi();
    let mut rows = String::new();
    for (path, item) in &doc.paths.paths {
        let ops = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("DELETE", &item.delete),
        ];
        for (method, op) in ops {
            if let Some(op) = op {
                let summary = op
                    .summary
                    .clone()
                    .or_else(|| op.description.clone())
                    .unwrap_or_default();
                rows.push_str(&format!(
                    "<tr><td><code>{method}</code></td><td><code>{}</code></td><td>{}</td></tr>\n",
                    escape(path),
                    escape(&summary)
                ));
            }
        }
    }
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>quarry API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}}td{{padding:.2rem .8rem;vertical-align:top}}</style>
</head><body>
<div id="static">
<h1>quarry API {version}</h1>
<p>The machine-readable spec is at <a href="/openapi.json">/openapi.json</a>.</p>
<table>{rows}</table>
</div>
<script id="api-reference" data-url="/openapi.json"></script>
<script>
  var s = document.createElement('script');
  s.src = 'https://cdn.jsdelivr.net/npm/@scalar/api-reference';
  s.onload = function () {{ document.getElementById('static').remove(); }};
  document.body.appendChild(s);
</script>
</body></html>"#,
        version = escape(&doc.info.version),
    )
}
