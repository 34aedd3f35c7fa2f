//! The ports: traits the storage crates implement and everything above them calls.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::{
    Artifact, ArtifactId, ArtifactKind, Event, EventRecord, Message, MessageQuery, NewSession,
    Page, Result, Run, RunId, RunStatus, Session, SessionId, SessionPatch, SessionQuery, TenantId,
};

/// A stream of bytes, as artifact bodies travel.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// Which artifacts to list; `None` fields match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArtifactFilter {
    /// Only this session's.
    pub session_id: Option<SessionId>,
    /// Only this run's.
    pub run_id: Option<RunId>,
    /// Only this kind.
    pub kind: Option<ArtifactKind>,
}

/// Session, run, artifact, message and event records. Every call is scoped by tenant: an
/// object of another tenant is reported exactly like a missing one.
#[async_trait]
pub trait MetadataStore: Send + Sync + std::fmt::Debug + 'static {
    /// The backend's name (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;

    /// Checks that the store answers.
    async fn ping(&self) -> Result<()>;

    /// Stores a new session; [`crate::Error::Conflict`] when the id is taken.
    async fn create_session(&self, new: NewSession) -> Result<Session>;

    /// Returns the session with `new.id`, creating it from `new` first when missing. Safe
    /// under concurrent calls: exactly one session results.
    async fn get_or_create_session(&self, new: NewSession) -> Result<Session>;

    /// One session.
    async fn get_session(&self, tenant: &TenantId, id: &SessionId) -> Result<Session>;

    /// A page of sessions, newest first. Shared, so a cached page is handed out without
    /// copying (and callers can tell an unchanged cached page by pointer).
    async fn list_sessions(
        &self,
        tenant: &TenantId,
        query: SessionQuery,
    ) -> Result<Arc<Page<Session>>>;

    /// Applies `patch` and returns the updated session.
    async fn update_session(
        &self,
        tenant: &TenantId,
        id: &SessionId,
        patch: &SessionPatch,
    ) -> Result<Session>;

    /// Deletes a session with its runs, messages, events and artifact records, and returns the
    /// artifacts removed so the caller can delete their bytes.
    async fn delete_session(&self, tenant: &TenantId, id: &SessionId) -> Result<Vec<Artifact>>;

    /// Stores a new run (its session must exist).
    async fn create_run(&self, run: &Run) -> Result<()>;

    /// Marks a run finished.
    async fn finish_run(
        &self,
        tenant: &TenantId,
        id: &RunId,
        status: RunStatus,
        summary: Option<&str>,
    ) -> Result<Run>;

    /// One run.
    async fn get_run(&self, tenant: &TenantId, id: &RunId) -> Result<Run>;

    /// Records an artifact whose bytes are already durably stored.
    async fn insert_artifact(&self, artifact: &Artifact) -> Result<()>;

    /// One artifact.
    async fn get_artifact(&self, tenant: &TenantId, id: &ArtifactId) -> Result<Artifact>;

    /// Artifacts matching `filter`, oldest first.
    async fn list_artifacts(
        &self,
        tenant: &TenantId,
        filter: &ArtifactFilter,
    ) -> Result<Vec<Artifact>>;

    /// Removes an artifact record and returns it, so the caller can delete its bytes.
    async fn delete_artifact(&self, tenant: &TenantId, id: &ArtifactId) -> Result<Artifact>;

    /// Appends a message and counts it on its session.
    async fn append_message(&self, message: &Message) -> Result<()>;

    /// A page of a session's messages, oldest first.
    async fn list_messages(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        query: MessageQuery,
    ) -> Result<Page<Message>>;

    /// Appends an event to a session's log and returns it with its sequence number.
    async fn append_event(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        run: Option<&RunId>,
        event: &Event,
    ) -> Result<EventRecord>;

    /// Events of a session with `seq > after_seq`, in order, at most `limit`.
    async fn list_events(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<EventRecord>>;

    /// Closes connections cleanly; later calls fail with [`crate::Error::Unavailable`].
    async fn close(&self);
}

/// Where an artifact's bytes go: built from ids and a sanitised name, so no key can leave
/// the store's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectKey {
    /// Tenant.
    pub tenant_id: TenantId,
    /// Session.
    pub session_id: SessionId,
    /// Run.
    pub run_id: RunId,
    /// Artifact.
    pub artifact_id: ArtifactId,
    /// Sanitised file name (see [`crate::sanitize_file_name`]).
    pub file_name: String,
}

impl ObjectKey {
    /// The key as a relative `/`-separated path:
    /// `tenant/session/run/artifact-name`.
    pub fn to_path(&self) -> String {
        format!(
            "{}/{}/{}/{}-{}",
            self.tenant_id, self.session_id, self.run_id, self.artifact_id, self.file_name
        )
    }
}

/// What storing bytes produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    /// The key to read it back with.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

/// Artifact bytes. A `put` is atomic: readers see the whole object or nothing.
#[async_trait]
pub trait ArtifactStore: Send + Sync + std::fmt::Debug + 'static {
    /// Streams `body` into the store under `key`, durably, and returns its size and hash.
    /// `max_bytes` caps the size; past it the write is abandoned with
    /// [`crate::Error::TooLarge`] and nothing is stored.
    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        max_bytes: Option<u64>,
    ) -> Result<StoredObject>;

    /// Opens stored bytes for streaming, with their size.
    async fn open(&self, key: &str) -> Result<(u64, ByteStream)>;

    /// Deletes stored bytes; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<()>;

    /// Checks that the store is usable (writable root).
    async fn ping(&self) -> Result<()>;
}
