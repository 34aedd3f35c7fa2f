//! quarry-core: the domain of a self-hosted AI data analyst, with no I/O.
//!
//! It holds the ids, the records every surface shares (sessions, runs, artifacts, messages,
//! turns, plans), the one [`Event`] enum every stream is rendered from, the [`Principal`]
//! a request acts as, the crate [`Error`], and the ports other crates implement
//! ([`MetadataStore`], [`ArtifactStore`], [`LlmProvider`]).
//!
//! This crate must never depend on an HTTP framework, a database driver or an async runtime.

mod artifact;
mod auth;
mod error;
mod event;
mod ids;
mod llm;
mod message;
mod plan;
mod ports;
mod principal;
mod provider_store;
mod run;
mod sealed;
mod session;
mod sql_catalog;
pub mod time;

pub use artifact::{Artifact, ArtifactKind, NewArtifact, sanitize_file_name};
pub use auth::{
    ApiKey, AuthCode, AuthStore, OAuthClient, RefreshToken, Rotation, User, UserPatch, UserRole,
};
pub use error::{Error, Result};
pub use event::{Event, EventRecord, Usage};
pub use ids::{ApiKeyId, ArtifactId, ClientId, MessageId, RunId, SessionId, TenantId, UserId};
pub use llm::{
    ChatEvent, ChatMessage, ChatRequest, ChatRole, ChatStream, Effort, FinishReason, LlmError,
    LlmProvider, ToolCall, ToolSpec,
};
pub use message::{ExecutionResult, Image, Message, MessageQuery, Role, Turn};
pub use plan::{Plan, PlanStep};
pub use ports::{
    ArtifactFilter, ArtifactStore, ByteStream, MetadataStore, ObjectKey, StoredObject,
};
pub use principal::{Principal, PrincipalRole};
pub use provider_store::{MAX_PROVIDERS_PER_TENANT, ProviderRecord, ProviderStore};
pub use run::{Run, RunKind, RunStatus};
pub use sealed::{SecretBox, mask_secret};
pub use session::{
    DEFAULT_SESSION_ID, HitlMode, NewSession, Page, Session, SessionPatch, SessionQuery,
    SessionStatus,
};
pub use sql_catalog::{PendingQuery, SqlCatalog, SqlChatMessage, SqlConnection, SqlExample};
