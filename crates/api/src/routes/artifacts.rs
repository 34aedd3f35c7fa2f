//! `GET /runs/{run_id}/artifacts/{artifact_id}`: streams an artifact's bytes (oneprompt).

use axum::{
    Router,
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use quarry_core::{ArtifactId, RunId};

use crate::{
    AppState,
    error::{ApiError, ApiResult, ErrorCode},
    extract::{Caller, IdPath, QueryParams},
};

/// Query of the download.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub(crate) struct DownloadQuery {
    /// `1`: a chart page comes with G2Plot inlined, so the file opens offline.
    #[serde(default)]
    standalone: Option<String>,
}

/// Largest chart page inlined for `?standalone=1`.
const MAX_STANDALONE_PAGE: u64 = 16 * 1024 * 1024;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/runs/{run_id}/artifacts/{artifact_id}", get(download))
}

/// Download an artifact. Sends `Content-Type`, `Content-Length`, a strong `ETag` (its
/// SHA-256) and `Content-Disposition`; answers `If-None-Match` with 304. With
/// `?standalone=1` a chart page comes with the G2Plot bundle inlined (opens offline).
#[utoipa::path(get, path = "/runs/{run_id}/artifacts/{artifact_id}", tag = "artifacts",
    params(("run_id" = String, Path, description = "Run id"),
           ("artifact_id" = String, Path, description = "Artifact id"),
           DownloadQuery),
    responses((status = 200, description = "The file's bytes"), (status = 304),
              (status = 400), (status = 404)))]
pub(crate) async fn download(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath((run_raw, artifact_raw)): IdPath<(String, String)>,
    QueryParams(query): QueryParams<DownloadQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let bad_id = |what: &str| {
        ApiError::new(
            ErrorCode::InvalidId,
            format!("invalid {what}: must match [a-zA-Z0-9_-]{{1,128}}"),
        )
    };
    let run_id = RunId::parse(&run_raw).map_err(|_| bad_id("run id"))?;
    let artifact_id = ArtifactId::parse(&artifact_raw).map_err(|_| bad_id("artifact id"))?;
    let artifact = state
        .metadata
        .get_artifact(&me.tenant_id, &artifact_id)
        .await?;
    if artifact.run_id != run_id {
        return Err(ApiError::not_found("artifact", artifact_id.as_str()));
    }
    let html = artifact
        .media_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("text/html");
    let standalone = html
        && artifact.size <= MAX_STANDALONE_PAGE
        && matches!(query.standalone.as_deref(), Some("1" | "true" | "yes"));
    let etag = if standalone {
        format!("\"{}-standalone\"", artifact.sha256)
    } else {
        format!("\"{}\"", artifact.sha256)
    };
    let etag_value = HeaderValue::from_str(&etag)
        .map_err(|_| ApiError::new(ErrorCode::InternalError, "stored hash is not a valid ETag"))?;
    if etag_matches(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    let (size, stream) = state.artifacts.open(&artifact.storage_key).await?;
    let content_type = HeaderValue::from_str(&artifact.media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let (size, body) = if standalone {
        let page = super::charts::standalone_page(&state, stream).await?;
        (page.len() as u64, Body::from(page))
    } else {
        (size, Body::from_stream(stream))
    };
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(header::ETAG, etag_value);
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&artifact.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Every artifact is sandboxed (an opaque origin: it cannot act on the API). HTML pages,
    // the charts, may run their own scripts; anything else (SVG, XML…) runs none.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if html {
            "sandbox allow-scripts allow-downloads"
        } else {
            "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"
        }),
    );
    Ok(resp)
}

fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// `inline; filename="…"; filename*=UTF-8''…`: an ASCII fallback and the exact name.
fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("inline; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_quotes_safely() {
        assert_eq!(
            content_disposition("top.csv"),
            "inline; filename=\"top.csv\"; filename*=UTF-8''top.csv"
        );
        assert_eq!(
            content_disposition("café.csv"),
            "inline; filename=\"caf_.csv\"; filename*=UTF-8''caf%C3%A9.csv"
        );
    }

    #[test]
    fn if_none_match_lists_and_weak_tags() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"a\", W/\"b\""),
        );
        assert!(etag_matches(&h, "\"b\""));
        assert!(!etag_matches(&h, "\"c\""));
    }
}
