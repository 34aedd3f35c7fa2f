//! DSAgent's files and artifacts of a session's workspace: `…/files` (categories `data`,
//! `artifacts`, `notebooks`, each a directory of the workspace the kernel sees) and
//! `…/artifacts` (the `artifacts` directory, typed by extension).
//!
//! The kernel can write anything into its workspace, symlinks included, while this server
//! may run as root: every name is one plain path segment, and no directory or file on the
//! way may be a symlink (checked before and, by inode, after opening).

use std::{
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

use axum::{
    Json, Router,
    body::Body,
    extract::{DefaultBodyLimit, Multipart, State},
    http::{HeaderValue, header},
    response::Response,
    routing::get,
};
use chrono::{DateTime, Utc};
use quarry_core::Session;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};

use super::kernel::session_of;
use crate::{
    AppState,
    error::{ApiError, ApiResult, ErrorCode},
    extract::{Caller, IdPath, QueryParams},
    views::Ack,
};

/// Most files in one upload request.
const MAX_FILES_PER_UPLOAD: usize = 20;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/sessions/{session_id}/files",
            get(list_files)
                .post(upload_files)
                // Each file is limited by `max_upload_bytes` while it streams to disk.
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/sessions/{session_id}/files/{filename}",
            get(download_file).delete(delete_file),
        )
        .route("/api/sessions/{session_id}/artifacts", get(list_artifacts))
        .route(
            "/api/sessions/{session_id}/artifacts/{filename}",
            get(download_artifact).delete(delete_artifact),
        )
}

/// A directory of the workspace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Input data (the default).
    #[default]
    Data,
    /// Files the analysis produced.
    Artifacts,
    /// Notebooks.
    Notebooks,
}

impl Category {
    fn dir(self) -> &'static str {
        match self {
            Self::Data => "data",
            Self::Artifacts => "artifacts",
            Self::Notebooks => "notebooks",
        }
    }
}

/// `?category=` of the file routes.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CategoryParams {
    /// `data` (default), `artifacts` or `notebooks`.
    #[serde(default)]
    pub category: Category,
}

/// Kind of an artifact, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactType {
    /// png, jpg, gif, svg, webp.
    Image,
    /// pdf, html, md, txt, docx.
    Document,
    /// csv, json, parquet, xlsx, tsv, feather.
    Data,
    /// pkl, joblib, h5, onnx, pt.
    Model,
    /// py, r, sql, js, sh.
    Code,
    /// ipynb.
    Notebook,
    /// Anything else.
    Other,
}

/// `?type=` of the artifact listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ArtifactParams {
    /// Only artifacts of this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<ArtifactType>,
}

/// One file of the workspace.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileView {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Last change.
    pub modified: Option<DateTime<Utc>>,
    /// Its category.
    pub category: Category,
    /// Path relative to the workspace (as the kernel opens it).
    pub path: String,
    /// Its type (artifacts only).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ArtifactType>,
}

/// Files of one category.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileList {
    /// The session.
    pub session_id: String,
    /// The category listed.
    pub category: Category,
    /// The files, by name.
    pub files: Vec<FileView>,
    /// Number of files.
    pub total: usize,
}

/// Artifacts of a session.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactList {
    /// The session.
    pub session_id: String,
    /// The artifacts, by name.
    pub artifacts: Vec<FileView>,
    /// Number of artifacts.
    pub total: usize,
}

/// Result of an upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadView {
    /// True when every file was stored.
    pub success: bool,
    /// The session.
    pub session_id: String,
    /// The stored files.
    pub files: Vec<FileView>,
    /// What was done.
    pub message: String,
}

fn refused(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, message)
}

/// A file name that is one plain path segment: no separators, no `..`, no NUL or control
/// characters, not hidden, at most 255 bytes.
pub(crate) fn safe_name(raw: &str) -> ApiResult<&str> {
    let ok = !raw.is_empty()
        && raw.len() <= 255
        && !raw.starts_with('.')
        && !raw.chars().any(|c| c == '/' || c == '\\' || c.is_control());
    if ok {
        Ok(raw)
    } else {
        Err(refused(format!(
            "invalid file name {:?}: a plain name without path separators, '..', control characters or a leading dot",
            raw.chars().take(100).collect::<String>()
        ))
        .with_details(serde_json::json!({ "field": "filename" })))
    }
}

/// Metadata of `path` itself; a symlink is refused, a missing entry is `None`.
async fn plain_entry(path: &Path) -> ApiResult<Option<std::fs::Metadata>> {
    match tokio::fs::symlink_metadata(path).await {
        Ok(m) if m.file_type().is_symlink() => Err(ApiError::new(
            ErrorCode::Forbidden,
            "refused: the path is a symbolic link",
        )),
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(e)),
    }
}

fn io_error(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "workspace file operation failed");
    ApiError::new(
        ErrorCode::InternalError,
        "file operation failed; see the server log",
    )
}

/// The category directory of a session's workspace, checked; created when `create`.
async fn category_dir(
    state: &AppState,
    session: &Session,
    category: Category,
    create: bool,
) -> ApiResult<Option<PathBuf>> {
    let workspace = state.workspace_path(&session.tenant_id, &session.id);
    let ws_meta = match plain_entry(&workspace).await? {
        Some(m) => m,
        None if create => {
            tokio::fs::create_dir_all(&workspace)
                .await
                .map_err(io_error)?;
            plain_entry(&workspace)
                .await?
                .ok_or_else(|| io_error(std::io::ErrorKind::NotFound.into()))?
        }
        None => return Ok(None),
    };
    let dir = workspace.join(category.dir());
    match plain_entry(&dir).await? {
        Some(m) if m.is_dir() => Ok(Some(dir)),
        Some(_) => Err(ApiError::new(
            ErrorCode::Conflict,
            "the category is not a directory",
        )),
        None if create => {
            tokio::fs::create_dir(&dir).await.map_err(io_error)?;
            // The kernel may run as another uid: it must be able to write here too.
            let _ = std::os::unix::fs::lchown(&dir, Some(ws_meta.uid()), Some(ws_meta.gid()));
            Ok(Some(dir))
        }
        None => Ok(None),
    }
}

/// The regular file `name` of a category, opened without following symlinks.
async fn open_plain(dir: &Path, name: &str) -> ApiResult<(tokio::fs::File, u64)> {
    let path = dir.join(safe_name(name)?);
    let before = plain_entry(&path)
        .await?
        .filter(std::fs::Metadata::is_file)
        .ok_or_else(|| ApiError::not_found("file", name))?;
    let file = tokio::fs::File::open(&path).await.map_err(io_error)?;
    let after = file.metadata().await.map_err(io_error)?;
    // Swapped for a link between the check and the open: refuse.
    if (before.dev(), before.ino()) != (after.dev(), after.ino()) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "refused: the file changed while opening it",
        ));
    }
    Ok((file, after.len()))
}

fn view(name: String, meta: &std::fs::Metadata, category: Category) -> FileView {
    let kind = (category == Category::Artifacts).then(|| artifact_type(&name));
    FileView {
        path: format!("{}/{name}", category.dir()),
        size: meta.len(),
        modified: meta.modified().ok().map(DateTime::<Utc>::from),
        category,
        kind,
        name,
    }
}

async fn list(dir: Option<PathBuf>, category: Category) -> ApiResult<Vec<FileView>> {
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut entries = tokio::fs::read_dir(&dir).await.map_err(io_error)?;
    while let Some(entry) = entries.next_entry().await.map_err(io_error)? {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        // `DirEntry::metadata` does not follow symlinks: links and directories are skipped.
        match entry.metadata().await {
            Ok(m) if m.is_file() => out.push(view(name, &m, category)),
            _ => {}
        }
        if out.len() >= 10_000 {
            break;
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn artifact_type(name: &str) -> ArtifactType {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" | "jpg" | "jpeg" | "gif" | "svg" | "webp" | "bmp" => ArtifactType::Image,
        "pdf" | "html" | "htm" | "md" | "txt" | "docx" | "doc" | "rtf" => ArtifactType::Document,
        "csv" | "tsv" | "json" | "jsonl" | "parquet" | "xlsx" | "xls" | "feather" | "arrow" => {
            ArtifactType::Data
        }
        "pkl" | "pickle" | "joblib" | "h5" | "hdf5" | "onnx" | "pt" | "pth" | "keras" => {
            ArtifactType::Model
        }
        "py" | "r" | "sql" | "js" | "sh" | "ts" => ArtifactType::Code,
        "ipynb" => ArtifactType::Notebook,
        _ => ArtifactType::Other,
    }
}

fn media_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "csv" => "text/csv; charset=utf-8",
        "tsv" => "text/tab-separated-values; charset=utf-8",
        "json" | "ipynb" => "application/json",
        "txt" | "md" | "py" | "sql" | "r" => "text/plain; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

fn file_response(name: &str, file: tokio::fs::File, size: u64) -> Response {
    let stream = tokio_util::io::ReaderStream::new(file);
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media_type(name)),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Files come from code: never let one act on the API's origin.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'",
        ),
    );
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// List the files of a category (`data` by default).
#[utoipa::path(get, path = "/api/sessions/{session_id}/files", tag = "dsagent",
    params(("session_id" = String, Path, description = "Session id"), CategoryParams),
    responses((status = 200, body = FileList), (status = 400), (status = 404), (status = 422)))]
pub(crate) async fn list_files(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(raw): IdPath<String>,
    QueryParams(q): QueryParams<CategoryParams>,
) -> ApiResult<Json<FileList>> {
    let session = session_of(&state, &me, &raw).await?;
    let dir = category_dir(&state, &session, q.category, false).await?;
    let files = list(dir, q.category).await?;
    Ok(Json(FileList {
        session_id: session.id.to_string(),
        category: q.category,
        total: files.len(),
        files,
    }))
}

/// Upload files (multipart: one or more `files` parts and an optional `category` part, or
/// `?category=`). Each file streams to disk and is refused with 413 as soon as it passes
/// `DSAGENT_MAX_UPLOAD_MB`; nothing of a refused upload is kept. A file of the same name is
/// replaced.
#[utoipa::path(post, path = "/api/sessions/{session_id}/files", tag = "dsagent",
    params(("session_id" = String, Path, description = "Session id"), CategoryParams),
    request_body(content_type = "multipart/form-data", description = "files: one or more files; category: data|artifacts|notebooks"),
    responses((status = 200, body = UploadView), (status = 400), (status = 404),
              (status = 413), (status = 422)))]
pub(crate) async fn upload_files(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(raw): IdPath<String>,
    QueryParams(q): QueryParams<CategoryParams>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<Json<UploadView>> {
    let session = session_of(&state, &me, &raw).await?;
    let mut multipart = multipart.map_err(|e| {
        ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("expected multipart/form-data: {}", e.body_text()),
        )
    })?;
    // Files stream into a staging directory first: the `category` part may come last, and a
    // refused upload leaves nothing behind. It lies outside every workspace (on the same file
    // system), where no kernel can swap it for a link.
    category_dir(&state, &session, Category::Data, true).await?;
    let staging = staging_dir(&state).await?;
    let result = receive(&mut multipart, &staging, state.config.max_upload_bytes).await;
    let (names, category) = match result {
        Ok((names, category)) => (names, category.unwrap_or(q.category)),
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&staging).await;
            return Err(e);
        }
    };
    let moved = async {
        let dir = category_dir(&state, &session, category, true)
            .await?
            .ok_or_else(|| io_error(std::io::ErrorKind::NotFound.into()))?;
        let owner = tokio::fs::symlink_metadata(&dir).await.map_err(io_error)?;
        let same_dir = |m: &std::fs::Metadata| {
            !m.file_type().is_symlink() && (m.dev(), m.ino()) == (owner.dev(), owner.ino())
        };
        let mut files = Vec::new();
        for name in &names {
            let target = dir.join(name);
            if let Some(m) = plain_entry(&target).await?
                && m.is_dir()
            {
                return Err(ApiError::new(
                    ErrorCode::Conflict,
                    format!("{name} is a directory"),
                ));
            }
            // `rename` replaces a symlink at the target, never what it points to. Code in the
            // kernel may swap the directory for a link meanwhile: then the file is taken back.
            tokio::fs::rename(staging.join(name), &target)
                .await
                .map_err(io_error)?;
            let after = tokio::fs::symlink_metadata(&dir).await.map_err(io_error)?;
            if !same_dir(&after) {
                let _ = tokio::fs::remove_file(&target).await;
                return Err(ApiError::new(
                    ErrorCode::Forbidden,
                    "refused: the category directory was replaced during the upload",
                ));
            }
            let _ = std::os::unix::fs::lchown(&target, Some(owner.uid()), Some(owner.gid()));
            let meta = tokio::fs::symlink_metadata(&target)
                .await
                .map_err(io_error)?;
            files.push(view(name.clone(), &meta, category));
        }
        Ok(files)
    }
    .await;
    let _ = tokio::fs::remove_dir_all(&staging).await;
    let files = moved?;
    Ok(Json(UploadView {
        success: true,
        session_id: session.id.to_string(),
        message: format!("{} file(s) uploaded to {}", files.len(), category.dir()),
        files,
    }))
}

/// A new private staging directory under the workspace root (not visible to kernels).
pub(crate) async fn staging_dir(state: &AppState) -> ApiResult<PathBuf> {
    let dir = state
        .config
        .workspace_root
        .join(".uploads")
        .join(quarry_kernel::wire::new_id());
    tokio::fs::create_dir_all(&dir).await.map_err(io_error)?;
    Ok(dir)
}

/// Streams every file part into `staging`; returns their names and the `category` part.
async fn receive(
    multipart: &mut Multipart,
    staging: &Path,
    limit: u64,
) -> ApiResult<(Vec<String>, Option<Category>)> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        let status = e.status();
        if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            too_large(limit)
        } else {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("malformed multipart body: {}", e.body_text()),
            )
        }
    };
    let mut names: Vec<String> = Vec::new();
    let mut category = None;
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        let field_name = field.name().unwrap_or_default().to_owned();
        if field_name == "category" {
            let text = field.text().await.map_err(bad)?;
            category = Some(
                serde_json::from_value::<Category>(serde_json::Value::String(
                    text.trim().to_owned(),
                ))
                .map_err(|_| {
                    ApiError::validation(
                        "category",
                        "category must be data, artifacts or notebooks",
                    )
                })?,
            );
            continue;
        }
        if field_name != "files" && field_name != "file" {
            continue;
        }
        let Some(raw_name) = field.file_name().map(str::to_owned) else {
            return Err(ApiError::validation(
                "files",
                "each file part needs a filename",
            ));
        };
        let name = safe_name(&raw_name)?.to_owned();
        if names.contains(&name) {
            return Err(ApiError::validation(
                "files",
                format!("{name} is uploaded twice"),
            ));
        }
        if names.len() >= MAX_FILES_PER_UPLOAD {
            return Err(ApiError::validation("files", "at most 20 files per upload"));
        }
        let mut out = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(staging.join(&name))
            .await
            .map_err(io_error)?;
        let mut written: u64 = 0;
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            written += chunk.len() as u64;
            if limit > 0 && written > limit {
                return Err(too_large(limit));
            }
            out.write_all(&chunk).await.map_err(io_error)?;
        }
        out.flush().await.map_err(io_error)?;
        names.push(name);
    }
    if names.is_empty() {
        return Err(ApiError::validation(
            "files",
            "no file in the upload (use the `files` part)",
        ));
    }
    Ok((names, category))
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "file too large: the limit is {} MB (DSAGENT_MAX_UPLOAD_MB)",
            limit / (1024 * 1024)
        ),
    )
    .with_details(serde_json::json!({ "limit_bytes": limit }))
}

/// Download a file of a category.
#[utoipa::path(get, path = "/api/sessions/{session_id}/files/{filename}", tag = "dsagent",
    params(("session_id" = String, Path, description = "Session id"),
           ("filename" = String, Path, description = "File name"), CategoryParams),
    responses((status = 200, description = "The file's bytes"), (status = 400), (status = 403),
              (status = 404), (status = 422)))]
pub(crate) async fn download_file(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath((raw, name)): IdPath<(String, String)>,
    QueryParams(q): QueryParams<CategoryParams>,
) -> ApiResult<Response> {
    download(&state, &me, &raw, &name, q.category).await
}

async fn download(
    state: &AppState,
    me: &quarry_core::Principal,
    raw: &str,
    name: &str,
    category: Category,
) -> ApiResult<Response> {
    let session = session_of(state, me, raw).await?;
    safe_name(name)?;
    let dir = category_dir(state, &session, category, false)
        .await?
        .ok_or_else(|| ApiError::not_found("file", name))?;
    let (file, size) = open_plain(&dir, name).await?;
    Ok(file_response(name, file, size))
}

async fn delete(
    state: &AppState,
    me: &quarry_core::Principal,
    raw: &str,
    name: &str,
    category: Category,
) -> ApiResult<Json<Ack>> {
    let session = session_of(state, me, raw).await?;
    safe_name(name)?;
    let dir = category_dir(state, &session, category, false)
        .await?
        .ok_or_else(|| ApiError::not_found("file", name))?;
    let path = dir.join(name);
    plain_entry(&path)
        .await?
        .filter(std::fs::Metadata::is_file)
        .ok_or_else(|| ApiError::not_found("file", name))?;
    tokio::fs::remove_file(&path).await.map_err(io_error)?;
    Ok(Json(Ack {
        success: true,
        message: format!("{name} deleted"),
        session_id: session.id.to_string(),
    }))
}

/// Delete a file of a category.
#[utoipa::path(delete, path = "/api/sessions/{session_id}/files/{filename}", tag = "dsagent",
    params(("session_id" = String, Path, description = "Session id"),
           ("filename" = String, Path, description = "File name"), CategoryParams),
    responses((status = 200, body = Ack), (status = 400), (status = 403), (status = 404), (status = 422)))]
pub(crate) async fn delete_file(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath((raw, name)): IdPath<(String, String)>,
    QueryParams(q): QueryParams<CategoryParams>,
) -> ApiResult<Json<Ack>> {
    delete(&state, &me, &raw, &name, q.category).await
}

/// List the session's artifacts (files in `artifacts/`), optionally of one `type`.
#[utoipa::path(get, path = "/api/sessions/{session_id}/artifacts", tag = "dsagent",
    params(("session_id" = String, Path, description = "Session id"), ArtifactParams),
    responses((status = 200, body = ArtifactList), (status = 400), (status = 404), (status = 422)))]
pub(crate) async fn list_artifacts(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath(raw): IdPath<String>,
    QueryParams(q): QueryParams<ArtifactParams>,
) -> ApiResult<Json<ArtifactList>> {
    let session = session_of(&state, &me, &raw).await?;
    let dir = category_dir(&state, &session, Category::Artifacts, false).await?;
    let mut artifacts = list(dir, Category::Artifacts).await?;
    if let Some(kind) = q.kind {
        artifacts.retain(|a| a.kind == Some(kind));
    }
    Ok(Json(ArtifactList {
        session_id: session.id.to_string(),
        total: artifacts.len(),
        artifacts,
    }))
}

/// Download an artifact.
#[utoipa::path(get, path = "/api/sessions/{session_id}/artifacts/{filename}", tag = "dsagent",
    params(("session_id" = String, Path, description = "Session id"),
           ("filename" = String, Path, description = "File name")),
    responses((status = 200, description = "The file's bytes"), (status = 400), (status = 403), (status = 404)))]
pub(crate) async fn download_artifact(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath((raw, name)): IdPath<(String, String)>,
) -> ApiResult<Response> {
    download(&state, &me, &raw, &name, Category::Artifacts).await
}

/// Delete an artifact.
#[utoipa::path(delete, path = "/api/sessions/{session_id}/artifacts/{filename}", tag = "dsagent",
    params(("session_id" = String, Path, description = "Session id"),
           ("filename" = String, Path, description = "File name")),
    responses((status = 200, body = Ack), (status = 400), (status = 403), (status = 404)))]
pub(crate) async fn delete_artifact(
    State(state): State<AppState>,
    Caller(me): Caller,
    IdPath((raw, name)): IdPath<(String, String)>,
) -> ApiResult<Json<Ack>> {
    delete(&state, &me, &raw, &name, Category::Artifacts).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_names_are_refused() {
        for bad in [
            "",
            "..",
            ".",
            "../x",
            "a/b",
            "/etc/passwd",
            "a\\b",
            "x\0y",
            ".hidden",
            "a\nb",
        ] {
            assert!(safe_name(bad).is_err(), "{bad:?}");
        }
        for ok in ["data.csv", "Q1 report.pdf", "résumé.txt", "a..b"] {
            assert!(safe_name(ok).is_ok(), "{ok:?}");
        }
        assert_eq!(artifact_type("plot.PNG"), ArtifactType::Image);
        assert_eq!(artifact_type("nb.ipynb"), ArtifactType::Notebook);
    }
}
