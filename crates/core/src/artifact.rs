//! Artifacts: files a run produced, described in the metadata store, bytes in the artifact store.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ArtifactId, RunId, SessionId, TenantId};

/// What an artifact is, as the seeds classify them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactKind {
    /// Tabular data from a query (CSV, JSON).
    Data,
    /// The result of an analysis.
    Result,
    /// A chart page.
    Chart,
    /// A picture.
    Image,
    /// A report or other document.
    Document,
    /// A trained model.
    Model,
    /// Source code.
    Code,
    /// A Jupyter notebook.
    Notebook,
}

impl ArtifactKind {
    /// Every kind, in wire order.
    pub const ALL: [Self; 8] = [
        Self::Data,
        Self::Result,
        Self::Chart,
        Self::Image,
        Self::Document,
        Self::Model,
        Self::Code,
        Self::Notebook,
    ];

    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Data => "data",
            Self::Result => "result",
            Self::Chart => "chart",
            Self::Image => "image",
            Self::Document => "document",
            Self::Model => "model",
            Self::Code => "code",
            Self::Notebook => "notebook",
        }
    }

    /// Parses a wire or storage name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A stored artifact's description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// Its id.
    pub id: ArtifactId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The session of the run that made it.
    pub session_id: SessionId,
    /// The run that made it.
    pub run_id: RunId,
    /// What it is.
    pub kind: ArtifactKind,
    /// File name shown to users (sanitised).
    pub name: String,
    /// Media type, e.g. `text/csv`.
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// When it was stored.
    #[serde(with = "crate::time::wire")]
    pub created_at: DateTime<Utc>,
    /// Where the artifact store keeps the bytes; never shown on the wire.
    #[serde(skip)]
    pub storage_key: String,
}

/// What a caller knows about an artifact before its bytes are stored.
#[derive(Clone, Debug, PartialEq)]
pub struct NewArtifact {
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The session of the run.
    pub session_id: SessionId,
    /// The run that made it.
    pub run_id: RunId,
    /// What it is.
    pub kind: ArtifactKind,
    /// Requested file name (sanitised on store).
    pub name: String,
    /// Media type.
    pub media_type: String,
}

/// Makes `name` safe as one path component: keeps letters, digits, `.`, `-`, `_` and
/// spaces (as `_`), drops everything else (separators, NUL, control characters), refuses
/// names that would be empty, `.` or `..` after that, and caps the length at 200 bytes while
/// keeping the extension.
pub fn sanitize_file_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let mut out: String = base
        .chars()
        .filter_map(|c| match c {
            c if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') => Some(c),
            ' ' => Some('_'),
            _ => None,
        })
        .collect();
    while out.starts_with('.') {
        out.remove(0);
    }
    if out.is_empty() {
        return None;
    }
    const MAX: usize = 200;
    if out.len() > MAX {
        let ext = out
            .rfind('.')
            .map(|i| out[i..].to_owned())
            .filter(|e| e.len() <= 16)
            .unwrap_or_default();
        let mut cut = MAX - ext.len();
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str(&ext);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_ordinary_names() {
        assert_eq!(
            sanitize_file_name("top_products.csv").as_deref(),
            Some("top_products.csv")
        );
        assert_eq!(
            sanitize_file_name("Q1 report.pdf").as_deref(),
            Some("Q1_report.pdf")
        );
    }

    #[test]
    fn strips_paths_and_hidden_prefixes() {
        assert_eq!(
            sanitize_file_name("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(sanitize_file_name("/abs/x.csv").as_deref(), Some("x.csv"));
        assert_eq!(
            sanitize_file_name("..\\win.ini").as_deref(),
            Some("win.ini")
        );
        assert_eq!(sanitize_file_name(".env").as_deref(), Some("env"));
        assert_eq!(sanitize_file_name("a\0b.csv").as_deref(), Some("ab.csv"));
    }

    #[test]
    fn refuses_names_that_vanish() {
        for bad in ["", "..", ".", "/", "../", "\0", "///"] {
            assert_eq!(sanitize_file_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn caps_length_and_keeps_extension() {
        let long = format!("{}.csv", "é".repeat(300));
        let s = sanitize_file_name(&long).unwrap_or_default();
        assert!(s.len() <= 200);
        assert!(s.ends_with(".csv"));
    }

    #[test]
    fn kinds_round_trip() {
        for k in ArtifactKind::ALL {
            assert_eq!(ArtifactKind::parse(k.as_str()), Some(k));
        }
    }
}
