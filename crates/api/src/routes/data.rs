//! oneprompt's `POST /agents/data`: a question in plain language becomes a checked query
//! whose whole result is streamed into CSV and JSON `data` artifacts, with a preview.

use axum::{Json, Router, extract::State, routing::post};
use futures::StreamExt;
use quarry_core::{ArtifactKind, ByteStream, RunKind};
use quarry_sql::{
    AgentStatus, ExecutionMode, Limits, Question,
    exec::Collect,
    export::{CsvWriter, JsonWriter},
    guard,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::io::AsyncReadExt;
use utoipa::ToSchema;

use crate::{
    AppState,
    agents::{AgentResponse, RunRecorder},
    data::DataService,
    error::{ApiError, ApiResult, ErrorCode},
    extract::{Caller, JsonBody},
};

/// Rows shown in `result.preview`.
const PREVIEW_ROWS: usize = 20;
/// Longest question accepted, in characters.
const MAX_QUESTION_CHARS: usize = 4000;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/agents/data", post(data_agent))
}

/// Body of `POST /agents/data`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DataRequest {
    /// The question, in plain language.
    query: String,
    /// The session; the default session when omitted.
    #[serde(default)]
    session_id: Option<String>,
    /// The connection; the default connection (the demo database) when omitted.
    #[serde(default)]
    connection_id: Option<String>,
}

fn service(state: &AppState) -> ApiResult<&DataService> {
    state.data.as_deref().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            "the data agent is not configured on this server",
        )
    })
}

/// A file name from the question: its first words, lower case, joined by `_`.
fn base_name(question: &str) -> String {
    let words: Vec<String> = quarry_sql::analyst::words(question)
        .into_iter()
        .filter(|w| w.chars().all(|c| c.is_ascii_alphanumeric()))
        .take(6)
        .collect();
    let name = words.join("_");
    let name: String = name.chars().take(60).collect();
    if name.is_empty() {
        "result".to_owned()
    } else {
        name
    }
}

fn file_stream(file: tokio::fs::File) -> ByteStream {
    futures::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
    .boxed()
}

/// Ask a question about the data (oneprompt). The whole result is exported as CSV and JSON
/// artifacts; `result` carries `{ok, intent, columns, preview, row_count, format}`.
#[utoipa::path(post, path = "/agents/data", tag = "agents", request_body = DataRequest,
    responses((status = 200, body = AgentResponse), (status = 400), (status = 404), (status = 422), (status = 503)))]
pub(crate) async fn data_agent(
    State(state): State<AppState>,
    Caller(me): Caller,
    JsonBody(body): JsonBody<DataRequest>,
) -> ApiResult<Json<AgentResponse>> {
    let question = body.query.trim().to_owned();
    if question.is_empty() {
        return Err(ApiError::validation("query", "the question is empty"));
    }
    if question.chars().count() > MAX_QUESTION_CHARS {
        return Err(ApiError::validation(
            "query",
            format!("the question is longer than {MAX_QUESTION_CHARS} characters"),
        ));
    }
    let svc = service(&state)?;
    let conn_id = match (&body.connection_id, &svc.default) {
        (Some(id), _) => id.clone(),
        (None, Some(c)) => c.id.clone(),
        (None, None) => {
            return Err(ApiError::new(
                ErrorCode::ServiceUnavailable,
                "no database is connected",
            ));
        }
    };
    let conn = &super::nl2sql::resolve_connection(&state, svc, &me.tenant_id, &conn_id).await?;
    let session = state
        .session_or_default(&me.tenant_id, body.session_id.as_deref())
        .await?;
    let llm = crate::llm::writing_model(&state, &me.tenant_id, svc.llm.as_ref()).await?;
    let recorder = RunRecorder::start(&state, &session, RunKind::Data).await?;
    let answer = svc
        .agent
        .ask(Question {
            connection_id: &conn.id,
            source: &conn.source,
            semantic: &conn.semantic,
            examples: &[],
            text: &question,
            mode: ExecutionMode::GenerateOnly,
            max_rows: None,
            llm,
        })
        .await;
    let (Some(sql), AgentStatus::QueryOnly) = (answer.sql.clone(), answer.status) else {
        let reason = answer
            .error
            .clone()
            .unwrap_or_else(|| answer.explanation.clone());
        let result = json!({"ok": false, "intent": null, "columns": [], "preview": [], "row_count": 0, "format": "csv", "error": reason});
        return Ok(Json(recorder.finish(false, reason, result).await?));
    };
    match export(&state, svc, conn, recorder, &question, &sql, &answer).await {
        Ok(r) => Ok(Json(r)),
        Err(e) => Err(e),
    }
}

async fn export(
    state: &AppState,
    svc: &DataService,
    conn: &quarry_sql::DefaultConnection,
    mut recorder: RunRecorder,
    question: &str,
    sql: &str,
    answer: &quarry_sql::AgentAnswer,
) -> ApiResult<AgentResponse> {
    let _ = state;
    let checked = match guard::check(conn.source.engine(), sql) {
        Ok(g) => g,
        Err(e) => {
            return Err(recorder
                .fail(ApiError::new(ErrorCode::BadRequest, e.to_string()))
                .await);
        }
    };
    if let Err(e) = tokio::fs::create_dir_all(&svc.scratch_dir).await {
        return Err(recorder
            .fail(ApiError::new(
                ErrorCode::InternalError,
                format!("cannot create the scratch directory: {e}"),
            ))
            .await);
    }
    let stem = recorder.run().id.to_string();
    let csv_path = svc.scratch_dir.join(format!("{stem}.csv"));
    let json_path = svc.scratch_dir.join(format!("{stem}.json"));
    let outcome = write_exports(svc, conn, &checked, &csv_path, &json_path).await;
    let (outcome, preview) = match outcome {
        Ok(x) => x,
        Err(e) => {
            remove(&csv_path, &json_path).await;
            let message = e.to_string();
            let result = json!({"ok": false, "intent": answer.intent.map(|i| i.as_str()), "columns": [], "preview": [], "row_count": 0, "format": "csv", "error": message});
            return recorder.finish(false, message, result).await;
        }
    };
    let name = base_name(question);
    let saved = async {
        let csv = tokio::fs::File::open(&csv_path).await.map_err(io_err)?;
        recorder
            .save(
                ArtifactKind::Data,
                &format!("{name}.csv"),
                "text/csv",
                file_stream(csv),
            )
            .await?;
        let json = tokio::fs::File::open(&json_path).await.map_err(io_err)?;
        recorder
            .save(
                ArtifactKind::Data,
                &format!("{name}.json"),
                "application/json",
                file_stream(json),
            )
            .await?;
        Ok::<_, ApiError>(())
    }
    .await;
    remove(&csv_path, &json_path).await;
    if let Err(e) = saved {
        return Err(recorder.fail(e).await);
    }
    let columns: Vec<String> = outcome.columns.iter().map(|c| c.name.clone()).collect();
    let keys = quarry_sql::export::unique_names(&outcome.columns);
    let preview: Vec<Value> = preview
        .rows
        .into_iter()
        .map(|row| {
            Value::Object(
                keys.iter()
                    .cloned()
                    .zip(row)
                    .collect::<Map<String, Value>>(),
            )
        })
        .collect();
    let summary = summary_of(answer, &outcome, &preview, &keys);
    let result = json!({
        "ok": true,
        "intent": answer.intent.map(|i| i.as_str()).unwrap_or("query"),
        "columns": columns,
        "preview": preview,
        "row_count": outcome.row_count,
        "truncated": outcome.truncated,
        "format": "csv",
        "sql": sql,
        "dialect": answer.dialect,
    });
    recorder.finish(true, summary, result).await
}

fn summary_of(
    answer: &quarry_sql::AgentAnswer,
    outcome: &quarry_sql::Outcome,
    preview: &[Value],
    keys: &[String],
) -> String {
    if outcome.row_count == 1 && keys.len() == 1 {
        let v = &preview[0][&keys[0]];
        let v = v
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string());
        return format!("{}: {v}", answer.explanation);
    }
    format!(
        "{}: {} row{}{}",
        answer.explanation,
        outcome.row_count,
        if outcome.row_count == 1 { "" } else { "s" },
        if outcome.truncated {
            " (export limit reached)"
        } else {
            ""
        }
    )
}

async fn write_exports(
    svc: &DataService,
    conn: &quarry_sql::DefaultConnection,
    sql: &quarry_sql::GuardedSql,
    csv_path: &std::path::Path,
    json_path: &std::path::Path,
) -> Result<(quarry_sql::Outcome, Collect), quarry_sql::SqlError> {
    let csv = tokio::fs::File::create(csv_path).await?;
    let json = tokio::fs::File::create(json_path).await?;
    let mut sink = (
        (CsvWriter::new(csv), JsonWriter::new(json)),
        Collect::new(PREVIEW_ROWS),
    );
    let limits = Limits {
        max_rows: svc.export_max_rows,
        timeout: svc.agent.limits(None).timeout,
    };
    let outcome = conn.source.run(sql, limits, &mut sink).await?;
    let ((csv, json), preview) = sink;
    csv.finish().await?;
    json.finish().await?;
    Ok((outcome, preview))
}

async fn remove(a: &std::path::Path, b: &std::path::Path) {
    let _ = tokio::fs::remove_file(a).await;
    let _ = tokio::fs::remove_file(b).await;
}

fn io_err(e: std::io::Error) -> ApiError {
    ApiError::new(
        ErrorCode::InternalError,
        format!("cannot read the export: {e}"),
    )
}
