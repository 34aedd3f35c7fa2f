//! oneprompt's chart agent, `POST /agents/chart`, and the G2Plot bundle its pages load,
//! `GET /assets/g2plot.min.js`.

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use futures::StreamExt;
use quarry_chart::{Bundle, Chart, ChartError, Table};
use quarry_core::{ArtifactKind, RunKind};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::{
    AppState,
    agents::{AgentResponse, RunRecorder, open_artifact},
    error::{ApiError, ApiResult, ErrorCode},
    extract::{Caller, JsonBody},
};

/// Largest inline `data_preview`, in bytes.
pub const MAX_PREVIEW_BYTES: usize = 1024 * 1024;
/// Largest data artifact charted, in bytes (larger results should be aggregated first).
pub const MAX_DATA_ARTIFACT_BYTES: u64 = 32 * 1024 * 1024;
/// Longest question, in characters.
pub const MAX_QUESTION_CHARS: usize = 4000;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/agents/chart", post(create_chart))
        .route("/assets/g2plot.min.js", get(g2plot_bundle))
}

/// Body of `POST /agents/chart`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChartRequest {
    /// What to chart, in plain language ("monthly revenue trend", "as a pie chart").
    pub question: String,
    /// A `data` artifact (CSV or JSON rows) from an earlier run.
    #[serde(default)]
    pub data_artifact_id: Option<String>,
    /// Inline data instead: CSV with a header row, or a JSON array of row objects.
    #[serde(default)]
    pub data_preview: Option<String>,
    /// Session of the run; the default session when omitted.
    #[serde(default)]
    pub session_id: Option<String>,
}

/// Generate a chart: infers the chart type and fields from the data and the question, and
/// writes an interactive G2Plot page (`chart`, HTML) with its static SVG and PNG. `result`
/// carries the chosen `spec` (type, x, y, series, aggregation, …) so a client can re-render
/// it. Download the page with `?standalone=1` to get it with G2Plot inlined (opens offline).
#[utoipa::path(post, path = "/agents/chart", tag = "agents", request_body = ChartRequest,
    responses((status = 200, body = AgentResponse), (status = 400), (status = 404),
              (status = 413), (status = 422)))]
pub(crate) async fn create_chart(
    State(state): State<AppState>,
    Caller(me): Caller,
    JsonBody(req): JsonBody<ChartRequest>,
) -> ApiResult<Json<AgentResponse>> {
    if req.question.chars().count() > MAX_QUESTION_CHARS {
        return Err(ApiError::validation(
            "question",
            format!("question is longer than {MAX_QUESTION_CHARS} characters"),
        ));
    }
    let session = state
        .session_or_default(&me.tenant_id, req.session_id.as_deref())
        .await?;
    let bytes = match (req.data_artifact_id.as_deref(), req.data_preview) {
        (Some(id), _) => read_data_artifact(&state, &me, id).await?,
        (None, Some(preview)) => {
            if preview.len() > MAX_PREVIEW_BYTES {
                return Err(ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "data_preview is larger than {MAX_PREVIEW_BYTES} bytes; store the data \
                         as an artifact and pass data_artifact_id"
                    ),
                )
                .with_details(
                    json!({ "field": "data_preview", "limit_bytes": MAX_PREVIEW_BYTES }),
                ));
            }
            preview.into_bytes()
        }
        (None, None) => {
            return Err(ApiError::validation(
                "data_artifact_id",
                "give the data to chart: data_artifact_id (a data artifact from /agents/data) \
                 or data_preview (CSV with a header row, or a JSON array of row objects)",
            ));
        }
    };
    let bundle_path = state.config.chart_bundle.clone();
    let interactive = tokio::fs::metadata(&bundle_path)
        .await
        .is_ok_and(|m| m.is_file());
    if !interactive {
        tracing::warn!(path = %bundle_path.display(), "{}", quarry_chart::INSTALL_HINT);
    }
    let question = req.question;
    let built = tokio::task::spawn_blocking(move || {
        let table = Table::parse(&bytes)?;
        let bundle = if interactive {
            Bundle::Linked
        } else {
            Bundle::Missing
        };
        let rows = table.len();
        Chart::build(&table, &question, bundle).map(|c| (c, rows))
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "chart task failed");
        ApiError::new(
            ErrorCode::InternalError,
            "internal error; see the server log",
        )
    })?;
    let (chart, rows) = built.map_err(chart_error)?;

    let mut run = RunRecorder::start(&state, &session, RunKind::Chart).await?;
    let stem = chart.file_stem();
    let name = format!("{stem}.html");
    let files: [(String, &str, bytes::Bytes); 3] = [
        (
            name.clone(),
            "text/html; charset=utf-8",
            chart.html.clone().into(),
        ),
        (
            format!("{stem}.svg"),
            "image/svg+xml",
            chart.svg.clone().into(),
        ),
        (format!("{stem}.png"), "image/png", chart.png.clone().into()),
    ];
    for (file, media, body) in files {
        if let Err(e) = run
            .save_bytes(ArtifactKind::Chart, &file, media, body)
            .await
        {
            return Err(run.fail(e).await);
        }
    }
    let kind = chart.spec.chart_type.as_str();
    let mut summary = format!(
        "{}{} chart: {}",
        kind[..1].to_uppercase(),
        &kind[1..],
        chart.spec.title
    );
    if let Some(sub) = &chart.spec.subtitle {
        summary.push_str(&format!(" ({sub})"));
    }
    let mut result = json!({
        "ok": true,
        "name": name,
        "spec": chart.spec,
        "rows": rows,
        "points": chart.data.points.len(),
        "interactive": interactive,
    });
    if !interactive {
        result["notice"] = json!(quarry_chart::INSTALL_HINT);
        summary.push_str(". Interactive chart unavailable: run scripts/setup-web.");
    }
    Ok(Json(run.finish(true, summary, result).await?))
}

/// Reads a caller's data artifact, within [`MAX_DATA_ARTIFACT_BYTES`].
async fn read_data_artifact(
    state: &AppState,
    me: &quarry_core::Principal,
    id: &str,
) -> ApiResult<Vec<u8>> {
    let (artifact, mut stream) = open_artifact(state, me, id).await?;
    let media = artifact.media_type.to_ascii_lowercase();
    let name = artifact.name.to_ascii_lowercase();
    let tabular_type = [
        "text/csv",
        "application/json",
        "text/plain",
        "application/csv",
    ]
    .iter()
    .any(|t| media.starts_with(t));
    let tabular_name = name.ends_with(".csv") || name.ends_with(".json");
    if !tabular_type && !tabular_name {
        return Err(not_tabular(
            id,
            &format!(
                "artifact {id} ({}, {}) is not tabular data; chart a CSV or JSON data artifact",
                artifact.name, artifact.media_type
            ),
        ));
    }
    if artifact.size > MAX_DATA_ARTIFACT_BYTES {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "artifact {id} is {} bytes; the chart agent reads at most {MAX_DATA_ARTIFACT_BYTES}: \
                 aggregate the data first",
                artifact.size
            ),
        )
        .with_details(json!({ "limit_bytes": MAX_DATA_ARTIFACT_BYTES })));
    }
    let mut bytes = Vec::with_capacity(artifact.size as usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(read_failed)?;
        if (bytes.len() + chunk.len()) as u64 > MAX_DATA_ARTIFACT_BYTES {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                "the data artifact is too large to chart",
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn read_failed(e: std::io::Error) -> ApiError {
    ApiError::from(quarry_core::Error::from(e))
}

fn not_tabular(id: &str, message: &str) -> ApiError {
    ApiError::new(ErrorCode::ValidationError, message)
        .with_details(json!({ "field": "data_artifact_id", "id": id, "reason": "not_tabular" }))
}

/// Chart errors as HTTP: bad or empty data is the caller's (422), bounds are 413.
fn chart_error(e: ChartError) -> ApiError {
    let reason = match &e {
        ChartError::NotTabular(_) => "not_tabular",
        ChartError::Empty(_) => "empty",
        ChartError::InvalidSpec(_) => "invalid_spec",
        ChartError::TooLarge(_) => {
            return ApiError::new(ErrorCode::PayloadTooLarge, e.to_string());
        }
        ChartError::Render(_) | _ => {
            tracing::error!(error = %e, "chart rendering failed");
            return ApiError::new(
                ErrorCode::InternalError,
                "internal error; see the server log",
            );
        }
    };
    ApiError::new(ErrorCode::ValidationError, e.to_string())
        .with_details(json!({ "reason": reason }))
}

/// The AntV G2Plot bundle the interactive charts load (installed by `scripts/setup-web`).
#[utoipa::path(get, path = "/assets/g2plot.min.js", tag = "agents",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript"),
              (status = 404, description = "Not installed: run scripts/setup-web")))]
pub(crate) async fn g2plot_bundle(State(state): State<AppState>) -> ApiResult<Response> {
    let path = &state.config.chart_bundle;
    let js = tokio::fs::read(path).await.map_err(|_| {
        ApiError::new(
            ErrorCode::NotFound,
            format!(
                "the G2Plot bundle is not installed at {}: run scripts/setup-web (npm ci in web/) \
                 or set chart_bundle",
                path.display()
            ),
        )
    })?;
    let mut resp = js.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Chart pages are sandboxed (an opaque origin); they may still load this script.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    Ok(resp)
}

/// A chart page with the G2Plot bundle inlined; unchanged when the bundle is not installed
/// (the page then shows its static chart).
pub(crate) async fn standalone_page(
    state: &AppState,
    mut stream: quarry_core::ByteStream,
) -> ApiResult<String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.map_err(read_failed)?);
    }
    let page = String::from_utf8_lossy(&bytes).into_owned();
    match tokio::fs::read_to_string(&state.config.chart_bundle).await {
        Ok(js) => Ok(quarry_chart::inline_bundle(&page, &js)),
        Err(_) => {
            tracing::warn!("{}", quarry_chart::INSTALL_HINT);
            Ok(page)
        }
    }
}
