//! Artifact bytes as files under one root directory.
//!
//! A `put` streams into a temporary file in `root/.tmp/` (same file system as the objects),
//! hashing as it goes, `fsync`s it, and only then renames it to its key and `fsync`s the
//! directory: the rename is the one way an object becomes visible, so a reader (or a
//! restart after a crash) sees the whole object or nothing. Leftover temporary files are
//! swept when the store is opened, so a root belongs to one open store at a time (the
//! server locks its data directory).
//!
//! Keys are checked (see `keys`), and no path component under the root may be a symlink.
//! All file I/O runs on tokio's blocking pool.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use quarry_core::{ArtifactStore, ByteStream, Error, ObjectKey, Result, StoredObject};
use sha2::{Digest, Sha256};
use tokio_util::io::ReaderStream;

use crate::keys;

/// Directory under the root for files being written.
const TMP_DIR: &str = ".tmp";
/// Bytes gathered before one write to the file (and one hop to the blocking pool).
const WRITE_BATCH: usize = 64 * 1024;
/// Read size when streaming an object out.
const READ_CHUNK: usize = 64 * 1024;

static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// The [`ArtifactStore`] on a local file system.
#[derive(Debug)]
pub struct FsArtifactStore {
    root: PathBuf,
    tmp: PathBuf,
}

impl FsArtifactStore {
    /// Opens (creating it when missing) the store rooted at `root`, and removes temporary
    /// files a crash left behind.
    pub async fn open(root: PathBuf) -> Result<Self> {
        blocking(move || {
            std::fs::create_dir_all(&root)?;
            // Resolve the root itself once: it may legitimately be a symlink (say, to a data
            // disk); below it, nothing may be.
            let root = std::fs::canonicalize(&root)?;
            let tmp = root.join(TMP_DIR);
            match std::fs::symlink_metadata(&tmp) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(Error::invalid("artifact root: .tmp is not a directory")),
                Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::create_dir(&tmp)?,
                Err(e) => return Err(e.into()),
            }
            let swept = sweep(&tmp)?;
            if swept > 0 {
                tracing::info!(swept, "removed leftover temporary artifact files");
            }
            Ok(Self { root, tmp })
        })
        .await
    }

    /// The root directory (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// A temporary file being written, with the hash of what went in.
struct Sink {
    file: std::fs::File,
    hasher: Sha256,
}

/// Streams `body` into `file`, durably; returns its size and SHA-256. Memory stays bounded
/// by one batch, whatever the body's size.
async fn stream_to_file(
    file: std::fs::File,
    mut body: ByteStream,
    max_bytes: Option<u64>,
) -> Result<(u64, String)> {
    let mut sink = Sink {
        file,
        hasher: Sha256::new(),
    };
    let mut batch: Vec<Bytes> = Vec::new();
    let mut batched = 0usize;
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        if let Some(limit) = max_bytes.filter(|&limit| size > limit) {
            return Err(Error::TooLarge { limit });
        }
        batched += chunk.len();
        batch.push(chunk);
        if batched >= WRITE_BATCH {
            sink = write_batch(sink, std::mem::take(&mut batch)).await?;
            batched = 0;
        }
    }
    let sink = write_batch(sink, batch).await?;
    let sha256 = blocking(move || {
        // Durable before visible: the rename that publishes it comes after this.
        sink.file.sync_all()?;
        Ok(hex::encode(sink.hasher.finalize()))
    })
    .await?;
    Ok((size, sha256))
}

/// Hashes and writes `batch` on the blocking pool (hashing is CPU work too).
async fn write_batch(mut sink: Sink, batch: Vec<Bytes>) -> Result<Sink> {
    if batch.is_empty() {
        return Ok(sink);
    }
    blocking(move || {
        for chunk in &batch {
            sink.hasher.update(chunk);
            sink.file.write_all(chunk)?;
        }
        Ok(sink)
    })
    .await
}

/// Removes a temporary file when dropped unless it was published; covers a `put` whose
/// future is cancelled midway.
struct TempFile {
    path: Option<PathBuf>,
}

impl TempFile {
    /// Removes the file now (on the blocking pool).
    async fn remove(mut self) {
        if let Some(path) = self.path.take() {
            let _ = tokio::fs::remove_file(path).await;
        }
    }

    fn disarm(mut self) {
        self.path = None;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    rt.spawn_blocking(move || std::fs::remove_file(path));
                }
                Err(_) => {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }
}

#[async_trait]
impl ArtifactStore for FsArtifactStore {
    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        max_bytes: Option<u64>,
    ) -> Result<StoredObject> {
        let (key, parts) = keys::object_key(key)?;
        let tmp_dir = self.tmp.clone();
        let stem = key.replace('/', "_");
        let (path, file) = blocking(move || create_temp(&tmp_dir, &stem)).await?;
        let temp = TempFile {
            path: Some(path.clone()),
        };
        let (size, sha256) = match stream_to_file(file, body, max_bytes).await {
            Ok(written) => written,
            Err(e) => {
                temp.remove().await;
                return Err(e);
            }
        };
        let root = self.root.clone();
        match blocking(move || publish(&root, &parts, &path)).await {
            Ok(()) => temp.disarm(),
            Err(e) => {
                temp.remove().await;
                return Err(e);
            }
        }
        Ok(StoredObject { key, size, sha256 })
    }

    async fn open(&self, key: &str) -> Result<(u64, ByteStream)> {
        let parts = keys::components(key)?;
        let root = self.root.clone();
        let owned_key = key.to_owned();
        let (size, file) = blocking(move || open_object(&root, &parts, &owned_key)).await?;
        let stream = ReaderStream::with_capacity(tokio::fs::File::from_std(file), READ_CHUNK);
        Ok((size, stream.boxed()))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let parts = keys::components(key)?;
        let root = self.root.clone();
        blocking(move || delete_object(&root, &parts)).await
    }

    async fn ping(&self) -> Result<()> {
        let tmp_dir = self.tmp.clone();
        blocking(move || {
            let (path, mut file) = create_temp(&tmp_dir, "ping")?;
            let written = file.write_all(b"ok");
            let removed = std::fs::remove_file(&path);
            written?;
            removed?;
            Ok(())
        })
        .await
    }
}

/// Runs blocking file work off the async runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Io(io::Error::other(format!("file task failed: {e}"))))?
}

/// Creates a new, uniquely named file in `tmp_dir`.
fn create_temp(tmp_dir: &Path, stem: &str) -> Result<(PathBuf, std::fs::File)> {
    loop {
        let seq = TEMP_SEQ.fetch_add(1, Ordering::Relaxed);
        let mut name = format!("{}-{seq}-", std::process::id());
        // Keep names short: the stem is only a debugging aid.
        name.extend(
            stem.chars()
                .rev()
                .take(64)
                .collect::<Vec<_>>()
                .into_iter()
                .rev(),
        );
        name.push_str(".part");
        let path = tmp_dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Removes everything in `tmp_dir`; returns how many entries went.
fn sweep(tmp_dir: &Path) -> Result<usize> {
    let mut swept = 0;
    for entry in std::fs::read_dir(tmp_dir)? {
        let entry = entry?;
        let path = entry.path();
        // `file_type` does not follow symlinks: a link is removed, never its target.
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
        swept += 1;
    }
    Ok(swept)
}

fn symlink_refused() -> Error {
    Error::invalid("refusing a symlink inside the artifact store")
}

/// Moves the temporary file `tmp` to `root/parts…`, creating directories, then makes the
/// new names durable by syncing every directory that changed.
fn publish(root: &Path, parts: &[String], tmp: &Path) -> Result<()> {
    let Some((name, dirs)) = parts.split_last() else {
        return Err(Error::invalid("empty artifact storage key"));
    };
    let mut dir = root.to_path_buf();
    let mut changed = Vec::new();
    for part in dirs {
        let next = dir.join(part);
        match std::fs::symlink_metadata(&next) {
            Ok(m) if m.file_type().is_symlink() => return Err(symlink_refused()),
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(Error::invalid("artifact storage key crosses a file")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => match std::fs::create_dir(&next) {
                Ok(()) => changed.push(dir.clone()),
                // Another put made it meanwhile; check what it is.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let m = std::fs::symlink_metadata(&next)?;
                    if !m.is_dir() {
                        return Err(symlink_refused());
                    }
                }
                Err(e) => return Err(e.into()),
            },
            Err(e) => return Err(e.into()),
        }
        dir = next;
    }
    let dest = dir.join(name);
    match std::fs::symlink_metadata(&dest) {
        // Replacing an object with the same key is fine; replacing anything else is not.
        Ok(m) if !m.is_file() => return Err(symlink_refused()),
        _ => {}
    }
    std::fs::rename(tmp, &dest)?;
    changed.push(dir);
    for d in changed.iter().rev() {
        std::fs::File::open(d)?.sync_all()?;
    }
    Ok(())
}

/// The directory holding `parts`' last component, checked to be free of symlinks; `None`
/// when some directory on the way does not exist.
fn parent_dir(root: &Path, parts: &[String]) -> Result<Option<PathBuf>> {
    let mut dir = root.to_path_buf();
    for part in parts.iter().take(parts.len().saturating_sub(1)) {
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() => return Err(symlink_refused()),
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(dir))
}

fn open_object(root: &Path, parts: &[String], key: &str) -> Result<(u64, std::fs::File)> {
    let missing = || Error::not_found("artifact bytes", key);
    let (Some(dir), Some(name)) = (parent_dir(root, parts)?, parts.last()) else {
        return Err(missing());
    };
    let path = dir.join(name);
    let seen = match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_symlink() => return Err(symlink_refused()),
        Ok(m) if m.is_file() => m,
        Ok(_) => return Err(missing()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(missing()),
        Err(e) => return Err(e.into()),
    };
    let file = std::fs::File::open(&path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => missing(),
        _ => e.into(),
    })?;
    let opened = file.metadata()?;
    // `open` follows symlinks: make sure it opened the very file checked above, not one a
    // symlink swapped in meanwhile points to.
    if !opened.is_file() || !same_file(&seen, &opened) {
        return Err(symlink_refused());
    }
    Ok((opened.len(), file))
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

fn delete_object(root: &Path, parts: &[String]) -> Result<()> {
    let (Some(dir), Some(name)) = (parent_dir(root, parts)?, parts.last()) else {
        return Ok(());
    };
    let path = dir.join(name);
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(symlink_refused()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}
