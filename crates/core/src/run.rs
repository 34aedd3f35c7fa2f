//! Runs: one execution of an agent inside a session.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{RunId, SessionId, TenantId};

/// Which agent a run executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// NL→SQL data agent.
    Data,
    /// Python analysis in the kernel.
    Python,
    /// Chart generation.
    Chart,
    /// Multi-round analyst chat.
    Chat,
    /// Files uploaded by a user.
    Upload,
}

impl RunKind {
    /// The storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Data => "data",
            Self::Python => "python",
            Self::Chart => "chart",
            Self::Chat => "chat",
            Self::Upload => "upload",
        }
    }

    /// Parses a storage name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "data" => Self::Data,
            "python" => Self::Python,
            "chart" => Self::Chart,
            "chat" => Self::Chat,
            "upload" => Self::Upload,
            _ => return None,
        })
    }
}

/// Where a run is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started, not finished.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Finished with an error.
    Failed,
}

impl RunStatus {
    /// The storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Parses a storage name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// A stored run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Its id.
    pub id: RunId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The session it ran in.
    pub session_id: SessionId,
    /// Which agent ran.
    pub kind: RunKind,
    /// Where it is in its life.
    pub status: RunStatus,
    /// Human-readable outcome, once finished.
    pub summary: Option<String>,
    /// Start time.
    #[serde(with = "crate::time::wire")]
    pub created_at: DateTime<Utc>,
    /// End time, once finished.
    #[serde(with = "crate::time::wire::option")]
    pub finished_at: Option<DateTime<Utc>>,
}

impl Run {
    /// A new running run of `kind` in `session_id`.
    pub fn start(tenant_id: TenantId, session_id: SessionId, kind: RunKind) -> Self {
        Self {
            id: RunId::generate(),
            tenant_id,
            session_id,
            kind,
            status: RunStatus::Running,
            summary: None,
            created_at: crate::time::now(),
            finished_at: None,
        }
    }
}
