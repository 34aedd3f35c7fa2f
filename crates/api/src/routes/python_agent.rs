//! oneprompt's `POST /agents/python`: loads a data artifact (CSV, or JSON rows) as the
//! DataFrame `df` in the session's kernel, runs the code the Python analyst writes for the
//! instruction, and returns the uniform agent response with the `result` CSV and any
//! pictures as artifacts.

use std::path::Path;

use axum::{Json, Router, extract::State, routing::post};
use base64::Engine;
use futures::StreamExt;
use quarry_core::{ArtifactKind, RunKind, sanitize_file_name};
use quarry_kernel::analyst::py_str;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::kernel::{kernel_key, kernels};
use crate::{
    AppState,
    agents::{AgentResponse, RunRecorder, open_artifact},
    error::{ApiError, ApiResult, ErrorCode},
    extract::{Caller, JsonBody},
};

/// Largest data artifact loaded into the kernel, and largest result read back.
const MAX_DATA_BYTES: u64 = 200 * 1024 * 1024;
/// Longest instruction, in characters.
const MAX_INSTRUCTION_CHARS: usize = 4000;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/agents/python", post(python_agent))
}

/// A Python analysis request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PythonAgentBody {
    /// What analysis to perform.
    pub instruction: String,
    /// The data artifact (CSV, or JSON: an array of row objects) loaded as `df`.
    pub data_artifact_id: Option<String>,
    /// File name of the result (default `result.csv`).
    pub output_name: Option<String>,
    /// The session (default: `default_local_user`).
    pub session_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DataFormat {
    Csv,
    Json,
}

/// Run a Python analysis on a data artifact.
#[utoipa::path(post, path = "/agents/python", tag = "agents", request_body = PythonAgentBody,
    responses((status = 200, body = AgentResponse), (status = 400), (status = 404),
              (status = 413), (status = 422), (status = 503)))]
pub(crate) async fn python_agent(
    State(state): State<AppState>,
    Caller(me): Caller,
    JsonBody(body): JsonBody<PythonAgentBody>,
) -> ApiResult<Json<AgentResponse>> {
    let instruction = body.instruction.trim().to_owned();
    if instruction.is_empty() || instruction.chars().count() > MAX_INSTRUCTION_CHARS {
        return Err(ApiError::validation(
            "instruction",
            "instruction must be 1 to 4000 characters",
        ));
    }
    let output_name = match body.output_name.as_deref() {
        None => "result.csv".to_owned(),
        Some(raw) => sanitize_file_name(raw).ok_or_else(|| {
            ApiError::validation("output_name", "output_name is not usable as a file name")
        })?,
    };
    let manager = kernels(&state)?.clone();
    let session = state
        .session_or_default(&me.tenant_id, body.session_id.as_deref())
        .await?;
    let Some(raw_id) = body.data_artifact_id.as_deref() else {
        return Err(ApiError::validation(
            "data_artifact_id",
            "data_artifact_id is required: the analysis runs on a data artifact loaded as `df`",
        ));
    };
    let (artifact, mut stream) = open_artifact(&state, &me, raw_id).await?;
    let format = data_format(&artifact.name, &artifact.media_type).ok_or_else(|| {
        ApiError::validation(
            "data_artifact_id",
            "the data artifact must be CSV or JSON (an array of row objects)",
        )
    })?;
    if artifact.size > MAX_DATA_BYTES {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the data artifact is larger than 200 MB",
        ));
    }
    let mut data = Vec::with_capacity(usize::try_from(artifact.size).unwrap_or(0));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            tracing::error!(error = %e, "cannot read the data artifact");
            ApiError::new(ErrorCode::InternalError, "cannot read the data artifact")
        })?;
        data.extend_from_slice(&chunk);
        if data.len() as u64 > MAX_DATA_BYTES {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                "the data artifact is larger than 200 MB",
            ));
        }
    }
    let columns = columns_of(&data, format)?;

    let mut run = RunRecorder::start(&state, &session, RunKind::Python).await?;
    let analyst = match state.python_analyst.model() {
        Some(_) => state.python_analyst.clone(),
        None => quarry_kernel::PythonAnalyst::new(
            crate::llm::writing_model(&state, &me.tenant_id, None).await?,
        ),
    };
    let generated = match analyst.code_for(&instruction, &columns).await {
        Ok(g) => g,
        Err(e) => {
            let message = e.to_string();
            return Ok(Json(
                run.finish(
                    false,
                    message.clone(),
                    json!({"ok": false, "error": message}),
                )
                .await?,
            ));
        }
    };

    let workspace = state.workspace_path(&session.tenant_id, &session.id);
    let run_dir_name = format!(".quarry-run-{}", run.run().id);
    let run_dir = workspace.join(&run_dir_name);
    let input = match format {
        DataFormat::Csv => "input.csv",
        DataFormat::Json => "input.json",
    };
    if let Err(e) = prepare_run_dir(&state, &workspace, &run_dir, input, data).await {
        return Err(run.fail(e).await);
    }
    let load = match format {
        DataFormat::Csv => format!("df = pd.read_csv(_os.path.join(_qdir, {}))", py_str(input)),
        DataFormat::Json => format!(
            "import json as _json\nwith open(_os.path.join(_qdir, {})) as _f:\n    df = pd.DataFrame(_json.load(_f))",
            py_str(input)
        ),
    };
    let code = format!(
        "import os as _os\nimport numpy as np\nimport pandas as pd\n\
         _qdir = _os.path.join(_os.environ.get('QUARRY_WORKSPACE', '.'), {dir})\n{load}\n\
         {body}\n\
         if not isinstance(result, pd.DataFrame):\n    result = pd.DataFrame(result)\n\
         result.to_csv(_os.path.join(_qdir, 'result.csv'), index=False)\n\
         print(f'{{len(result)}} rows x {{len(result.columns)}} columns')",
        dir = py_str(&run_dir_name),
        body = generated.code,
    );
    let outcome = manager
        .execute(&kernel_key(&session), &workspace, &code)
        .await;
    let out = match outcome {
        Ok(out) => out,
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&run_dir).await;
            return Err(run.fail(e.into()).await);
        }
    };
    let mut saved = Ok(());
    if out.success {
        saved = save_result(&mut run, &run_dir.join("result.csv"), &output_name).await;
    }
    for (i, image) in out.images.iter().enumerate() {
        if saved.is_err() {
            break;
        }
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&image.data) {
            let name = format!("figure_{}.{}", i + 1, image.format);
            let media = format!("image/{}", image.format);
            saved = run
                .save_bytes(ArtifactKind::Image, &name, &media, bytes)
                .await
                .map(|_| ());
        }
    }
    let _ = tokio::fs::remove_dir_all(&run_dir).await;
    if let Err(e) = saved {
        return Err(run.fail(e).await);
    }
    let error = out
        .error
        .as_ref()
        .map(|e| format!("{}: {}", e.ename, e.evalue));
    let summary = match &error {
        None => generated.summary.clone(),
        Some(e) => format!("The analysis failed: {e}"),
    };
    let result = json!({
        "ok": out.success,
        "summary": summary,
        "code": generated.code,
        "author": generated.author,
        "stdout": out.stdout,
        "stderr": out.stderr,
        "error": error,
        "traceback": out.error.as_ref().map(|e| e.traceback.clone()),
        "timed_out": out.timed_out,
        "duration_ms": out.duration_ms,
    });
    Ok(Json(run.finish(out.success, summary, result).await?))
}

fn data_format(name: &str, media_type: &str) -> Option<DataFormat> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".csv") || media_type.starts_with("text/csv") {
        Some(DataFormat::Csv)
    } else if lower.ends_with(".json") || media_type.starts_with("application/json") {
        Some(DataFormat::Json)
    } else {
        None
    }
}

/// Column names: the CSV header, or the keys of the JSON rows.
fn columns_of(data: &[u8], format: DataFormat) -> ApiResult<Vec<String>> {
    match format {
        DataFormat::Csv => {
            let text = String::from_utf8_lossy(&data[..data.len().min(64 * 1024)]);
            let header = text.lines().next().unwrap_or_default();
            Ok(split_csv_line(header.trim_start_matches('\u{feff}')))
        }
        DataFormat::Json => {
            let rows: Vec<serde_json::Map<String, serde_json::Value>> =
                serde_json::from_slice(data).map_err(|_| {
                    ApiError::validation(
                        "data_artifact_id",
                        "the JSON data artifact must be an array of row objects",
                    )
                })?;
            let mut cols: Vec<String> = Vec::new();
            for row in rows.iter().take(100) {
                for k in row.keys() {
                    if !cols.contains(k) {
                        cols.push(k.clone());
                    }
                }
            }
            Ok(cols)
        }
    }
}

/// The fields of one CSV line (RFC 4180 quoting).
fn split_csv_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    out.push(field);
    out.into_iter().map(|f| f.trim().to_owned()).collect()
}

/// Writes the input where the kernel reads it, in a directory the kernel may write to. The
/// bytes are staged outside the workspace and moved in; if code in the kernel swapped the
/// run directory for a link meanwhile, the file is taken back and the run refused.
async fn prepare_run_dir(
    state: &AppState,
    workspace: &Path,
    run_dir: &Path,
    input: &str,
    data: Vec<u8>,
) -> ApiResult<()> {
    use std::os::unix::fs::MetadataExt;
    let io = |e: std::io::Error| {
        tracing::error!(error = %e, "cannot prepare the analysis directory");
        ApiError::new(
            ErrorCode::InternalError,
            "cannot prepare the analysis; see the server log",
        )
    };
    tokio::fs::create_dir_all(workspace).await.map_err(io)?;
    let owner = tokio::fs::symlink_metadata(workspace).await.map_err(io)?;
    if owner.file_type().is_symlink() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "the workspace is a symbolic link",
        ));
    }
    let staging = super::files::staging_dir(state).await?;
    let staged = staging.join(input);
    let written = tokio::fs::write(&staged, data).await.map_err(io);
    let placed = async {
        written?;
        tokio::fs::create_dir(run_dir).await.map_err(io)?;
        let before = tokio::fs::symlink_metadata(run_dir).await.map_err(io)?;
        // The kernel may run as the workspace's owner, another uid than this server.
        let _ = std::os::unix::fs::lchown(run_dir, Some(owner.uid()), Some(owner.gid()));
        let _ = std::os::unix::fs::lchown(&staged, Some(owner.uid()), Some(owner.gid()));
        let target = run_dir.join(input);
        tokio::fs::rename(&staged, &target).await.map_err(io)?;
        let after = tokio::fs::symlink_metadata(run_dir).await.map_err(io)?;
        if after.file_type().is_symlink()
            || (after.dev(), after.ino()) != (before.dev(), before.ino())
        {
            let _ = tokio::fs::remove_file(&target).await;
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "refused: the run directory was replaced",
            ));
        }
        Ok(())
    }
    .await;
    let _ = tokio::fs::remove_dir_all(&staging).await;
    placed
}

async fn save_result(run: &mut RunRecorder, path: &Path, name: &str) -> ApiResult<()> {
    // The kernel owns the run directory: it must not have become a link elsewhere.
    if let Some(dir) = path.parent()
        && tokio::fs::symlink_metadata(dir)
            .await
            .map_or(true, |m| !m.is_dir())
    {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "the run directory was replaced",
        ));
    }
    let meta = tokio::fs::symlink_metadata(path).await.map_err(|_| {
        ApiError::new(
            ErrorCode::InternalError,
            "the analysis wrote no result; see the server log",
        )
    })?;
    if !meta.is_file() || meta.len() > MAX_DATA_BYTES {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the result is not a regular file of at most 200 MB",
        ));
    }
    let read = async {
        use std::os::unix::fs::MetadataExt;
        use tokio::io::AsyncReadExt;
        let mut file = tokio::fs::File::open(path).await?;
        let opened = file.metadata().await?;
        if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
            return Err(std::io::Error::other("the result changed while opening it"));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(opened.len()).unwrap_or(0));
        // The kernel may still be writing to it: read at most the limit.
        (&mut file)
            .take(MAX_DATA_BYTES)
            .read_to_end(&mut bytes)
            .await?;
        Ok(bytes)
    };
    let bytes = read.await.map_err(|e: std::io::Error| {
        tracing::error!(error = %e, "cannot read the analysis result");
        ApiError::new(ErrorCode::InternalError, "cannot read the result")
    })?;
    run.save_bytes(ArtifactKind::Result, name, "text/csv", bytes)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_csv_headers() {
        assert_eq!(
            split_csv_line("a,\"b,c\",\"say \"\"hi\"\"\", d"),
            ["a", "b,c", "say \"hi\"", "d"]
        );
        assert_eq!(data_format("x.CSV", ""), Some(DataFormat::Csv));
        assert_eq!(
            data_format("x.bin", "application/json"),
            Some(DataFormat::Json)
        );
        assert_eq!(data_format("x.parquet", "application/octet-stream"), None);
    }

    mod with_a_kernel {
        #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

        use std::{path::PathBuf, sync::Arc, time::Duration};

        use axum::body::Body;
        use futures::StreamExt;
        use http_body_util::BodyExt;
        use quarry_core::{
            ArtifactKind, ChatEvent, ChatRequest, ChatStream, LlmError, LlmProvider, NewSession,
            RunKind, SessionId, TenantId,
        };
        use quarry_store::{FsArtifactStore, MetadataOptions};
        use serde_json::{Value, json};
        use tower::ServiceExt;

        use crate::{ApiConfig, AppState, agents::RunRecorder};

        /// Writes Python that plots, as a model would.
        #[derive(Debug)]
        struct PlottingModel;

        #[async_trait::async_trait]
        impl LlmProvider for PlottingModel {
            fn name(&self) -> &str {
                "fake-vendor"
            }
            fn default_model(&self) -> &str {
                "m"
            }
            fn supports_model(&self, _: &str) -> bool {
                true
            }
            async fn chat(&self, _: ChatRequest) -> Result<ChatStream, LlmError> {
                let text = "```python\nimport matplotlib.pyplot as plt\ndf.plot(x='region', y='revenue')\nplt.show()\nresult = df.corr(numeric_only=True)\n```";
                let events = vec![
                    Ok(ChatEvent::TextDelta { text: text.into() }),
                    Ok(ChatEvent::Finish {
                        reason: quarry_core::FinishReason::Stop,
                        provider: "fake-vendor".into(),
                        model: "m".into(),
                    }),
                ];
                Ok(Box::pin(futures::stream::iter(events)))
            }
        }

        fn kernel_env() -> Option<PathBuf> {
            let root = std::env::var_os("QUARRY_TEST_PYTHON_ENV")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                        .join(".cache/quarry/kernel-data/python")
                });
            if root.join("bin/python").exists() {
                return Some(root);
            }
            if std::env::var_os("CI").is_some() {
                panic!("no kernel Python environment at {}", root.display());
            }
            eprintln!(
                "\n!!! SKIPPED: no kernel Python environment at {}\n",
                root.display()
            );
            None
        }

        async fn post(state: &AppState, body: Value) -> (u16, Value) {
            let req = axum::http::Request::post("/agents/python")
                .header("host", "localhost")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            let resp = crate::router(state.clone()).oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice(&bytes).unwrap())
        }

        async fn artifact_text(state: &AppState, id: &str) -> String {
            let id = quarry_core::ArtifactId::parse(id).unwrap();
            let a = state
                .metadata
                .get_artifact(&TenantId::owner(), &id)
                .await
                .unwrap();
            let (_, mut stream) = state.artifacts.open(&a.storage_key).await.unwrap();
            let mut out = Vec::new();
            while let Some(chunk) = stream.next().await {
                out.extend_from_slice(&chunk.unwrap());
            }
            String::from_utf8_lossy(&out).into_owned()
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn python_agent_answers_with_a_result_csv_and_images() {
            let Some(env) = kernel_env() else { return };
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("q.db").display());
            let meta = quarry_store::connect_metadata(&url, MetadataOptions::default())
                .await
                .unwrap();
            let files = FsArtifactStore::open(dir.path().join("artifacts"))
                .await
                .unwrap();
            let config = ApiConfig::for_data_dir(dir.path());
            let mut kc = quarry_kernel::KernelConfig::for_data_dir(dir.path());
            kc.env = quarry_kernel::EnvSource::Existing(env);
            kc.pool_size = 0;
            kc.execution_timeout = Duration::from_secs(60);
            let manager = quarry_kernel::KernelManager::new(kc, config.workspace_root.clone());
            let state = AppState::new(meta, Arc::new(files), config).with_kernels(manager.clone());

            // A data artifact from an earlier run.
            let session = state
                .metadata
                .create_session(NewSession::named(TenantId::owner(), "py"))
                .await
                .unwrap();
            let mut run = RunRecorder::start(&state, &session, RunKind::Data)
                .await
                .unwrap();
            let data = run
                .save_bytes(
                    ArtifactKind::Data,
                    "sales.csv",
                    "text/csv",
                    "region,revenue,cost\nEast,100,60\nWest,250,100\nEast,50,20\n",
                )
                .await
                .unwrap();
            run.finish(true, "data", json!({})).await.unwrap();
            let session_id: &SessionId = &session.id;

            let (status, body) = post(
                &state,
                json!({"instruction": "Total revenue by region", "data_artifact_id": data.id.to_string(),
                       "session_id": session_id.to_string(), "output_name": "by_region.csv"}),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["ok"], true, "{body}");
            assert_eq!(body["artifacts"][0]["type"], "result");
            assert_eq!(body["artifacts"][0]["name"], "by_region.csv");
            assert_eq!(body["result"]["author"], "rules");
            let csv = artifact_text(&state, body["artifacts"][0]["id"].as_str().unwrap()).await;
            assert_eq!(csv, "region,revenue\nEast,150\nWest,250\n");

            // Not understood without a model: a plain refusal.
            let (status, body) = post(
                &state,
                json!({"instruction": "correlations please", "data_artifact_id": data.id.to_string(),
                       "session_id": session_id.to_string()}),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["ok"], false);
            assert!(
                body["summary"]
                    .as_str()
                    .unwrap()
                    .contains("does not understand"),
                "{body}"
            );

            // With a model, its code runs and its picture comes back as an artifact.
            let state = state.with_python_llm(Arc::new(PlottingModel));
            let (status, body) = post(
                &state,
                json!({"instruction": "correlations please", "data_artifact_id": data.id.to_string(),
                       "session_id": session_id.to_string()}),
            )
            .await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["ok"], true, "{body}");
            assert_eq!(body["result"]["author"], "fake-vendor");
            let kinds: Vec<&str> = body["artifacts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["type"].as_str().unwrap())
                .collect();
            assert_eq!(kinds, ["result", "image"], "{body}");
            assert_eq!(body["artifacts"][0]["name"], "result.csv");

            // Unknown artifacts and sessions are 404 before any kernel work.
            let (status, _) = post(
                &state,
                json!({"instruction": "describe", "data_artifact_id": "nope"}),
            )
            .await;
            assert_eq!(status, 404);
            manager.shutdown().await;
        }
    }
}
