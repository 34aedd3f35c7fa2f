//! What the oneprompt agent endpoints (`/agents/data`, `/agents/python`, `/agents/chart`)
//! share: a run recorded in the metadata store, its artifacts written to the artifact store,
//! and the uniform response
//! `{run_id, session_id, ok, summary, artifacts:[{id,type,name,url}], result}`.

use chrono::Utc;
use futures::StreamExt;
use quarry_core::{
    Artifact, ArtifactId, ArtifactKind, ByteStream, ObjectKey, Principal, Run, RunKind, RunStatus,
    Session, sanitize_file_name,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    AppState,
    error::{ApiError, ApiResult, ErrorCode},
    extract::artifact_id,
};

/// The uniform answer of every oneprompt agent endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentResponse {
    /// The run's id.
    pub run_id: String,
    /// The session the run belongs to.
    pub session_id: String,
    /// Whether the agent succeeded.
    pub ok: bool,
    /// Human-readable outcome.
    pub summary: Option<String>,
    /// Files the run produced.
    pub artifacts: Vec<AgentArtifact>,
    /// Agent-specific details.
    #[schema(value_type = Object)]
    pub result: serde_json::Value,
}

/// One produced file, as the agent endpoints list it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentArtifact {
    /// Artifact id (usable as `data_artifact_id` in a later call).
    pub id: String,
    /// `data`, `result`, `chart`, `image`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// File name.
    pub name: String,
    /// Where to download it.
    pub url: String,
}

impl From<&Artifact> for AgentArtifact {
    fn from(a: &Artifact) -> Self {
        Self {
            id: a.id.to_string(),
            kind: a.kind.as_str().to_owned(),
            name: a.name.clone(),
            url: format!("/runs/{}/artifacts/{}", a.run_id, a.id),
        }
    }
}

/// A run in progress: artifacts are attached with [`RunRecorder::save`] and the run is closed
/// with [`RunRecorder::finish`] (or [`RunRecorder::fail`]).
#[derive(Debug)]
pub struct RunRecorder {
    state: AppState,
    run: Run,
    artifacts: Vec<Artifact>,
}

impl RunRecorder {
    /// Starts a run of `kind` in `session` (already resolved for `caller`'s tenant).
    pub async fn start(state: &AppState, session: &Session, kind: RunKind) -> ApiResult<Self> {
        let run = Run::start(session.tenant_id.clone(), session.id.clone(), kind);
        state.metadata.create_run(&run).await?;
        Ok(Self {
            state: state.clone(),
            run,
            artifacts: Vec::new(),
        })
    }

    /// The run.
    pub fn run(&self) -> &Run {
        &self.run
    }

    /// Artifacts saved so far.
    pub fn artifacts(&self) -> &[Artifact] {
        &self.artifacts
    }

    /// Streams `body` into the artifact store and records it as an artifact of this run.
    pub async fn save(
        &mut self,
        kind: ArtifactKind,
        name: &str,
        media_type: &str,
        body: ByteStream,
    ) -> ApiResult<Artifact> {
        let file_name = sanitize_file_name(name).ok_or_else(|| {
            ApiError::new(
                ErrorCode::ValidationError,
                format!("{name:?} is not usable as a file name"),
            )
        })?;
        let key = ObjectKey {
            tenant_id: self.run.tenant_id.clone(),
            session_id: self.run.session_id.clone(),
            run_id: self.run.id.clone(),
            artifact_id: ArtifactId::generate(),
            file_name: file_name.clone(),
        };
        let stored = self.state.artifacts.put(&key, body, None).await?;
        let artifact = Artifact {
            id: key.artifact_id,
            tenant_id: key.tenant_id,
            session_id: key.session_id,
            run_id: key.run_id,
            kind,
            name: file_name,
            media_type: media_type.to_owned(),
            size: stored.size,
            sha256: stored.sha256,
            created_at: Utc::now(),
            storage_key: stored.key.clone(),
        };
        if let Err(e) = self.state.metadata.insert_artifact(&artifact).await {
            // Never leave bytes no record points at.
            let _ = self.state.artifacts.delete(&stored.key).await;
            return Err(e.into());
        }
        self.artifacts.push(artifact.clone());
        Ok(artifact)
    }

    /// [`RunRecorder::save`] for bytes already in memory.
    pub async fn save_bytes(
        &mut self,
        kind: ArtifactKind,
        name: &str,
        media_type: &str,
        bytes: impl Into<bytes::Bytes>,
    ) -> ApiResult<Artifact> {
        let bytes: bytes::Bytes = bytes.into();
        let body = futures::stream::once(async move { Ok(bytes) }).boxed();
        self.save(kind, name, media_type, body).await
    }

    /// Closes the run as succeeded (`ok`) or failed and builds the uniform response.
    pub async fn finish(
        self,
        ok: bool,
        summary: impl Into<String>,
        result: serde_json::Value,
    ) -> ApiResult<AgentResponse> {
        let summary = summary.into();
        let status = if ok {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        };
        self.state
            .metadata
            .finish_run(&self.run.tenant_id, &self.run.id, status, Some(&summary))
            .await?;
        Ok(AgentResponse {
            run_id: self.run.id.to_string(),
            session_id: self.run.session_id.to_string(),
            ok,
            summary: Some(summary),
            artifacts: self.artifacts.iter().map(AgentArtifact::from).collect(),
            result,
        })
    }

    /// Closes the run as failed with `error`'s message and returns `error`, for the `?` path.
    pub async fn fail(self, error: ApiError) -> ApiError {
        let message = error.message.clone();
        if let Err(e) = self
            .state
            .metadata
            .finish_run(
                &self.run.tenant_id,
                &self.run.id,
                RunStatus::Failed,
                Some(&message),
            )
            .await
        {
            tracing::warn!(run = %self.run.id, error = %e, "cannot mark the run failed");
        }
        error
    }
}

/// The artifact a caller names by id (`data_artifact_id`), with its bytes, or 404.
pub async fn open_artifact(
    state: &AppState,
    caller: &Principal,
    raw_id: &str,
) -> ApiResult<(Artifact, ByteStream)> {
    let id = artifact_id(raw_id)?;
    let artifact = state.metadata.get_artifact(&caller.tenant_id, &id).await?;
    let (_, stream) = state.artifacts.open(&artifact.storage_key).await?;
    Ok((artifact, stream))
}
