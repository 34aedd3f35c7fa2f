//! The port where the SQL data agent keeps what users configure: database connections (the
//! URL sealed with [`crate::SecretBox`] before it gets here), semantic models, verified
//! examples, settings, chat history and queries waiting for approval. Everything is scoped
//! by tenant. Structured parts travel as JSON text: this crate knows no SQL types.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Result, TenantId};

/// A saved database connection.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlConnection {
    /// Its id.
    pub id: String,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// A name people recognise.
    pub name: String,
    /// `sqlite`, `postgres` or `mysql`.
    pub engine: String,
    /// The connection URL, sealed (never the plain URL).
    pub sealed_url: String,
    /// `auto_execute`, `review_first` or `generate_only`.
    pub execution_mode: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for SqlConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlConnection")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("name", &self.name)
            .field("engine", &self.engine)
            .field("execution_mode", &self.execution_mode)
            .finish_non_exhaustive()
    }
}

/// A verified question → SQL pair of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlExample {
    /// Its id.
    pub id: String,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The connection it applies to.
    pub connection_id: String,
    /// The question.
    pub question: String,
    /// The query that answers it.
    pub sql: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// One message of an NL→SQL chat session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlChatMessage {
    /// Its id (the `message_id` of the wire).
    pub id: String,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The chat session.
    pub session_id: String,
    /// The connection asked.
    pub connection_id: String,
    /// `user` or `assistant`.
    pub role: String,
    /// The message as JSON (the question, or the whole answer).
    pub content: String,
    /// When it was said.
    pub created_at: DateTime<Utc>,
}

/// A generated query held until someone approves it (`review_first`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingQuery {
    /// The assistant message that holds it.
    pub message_id: String,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The chat session.
    pub session_id: String,
    /// The connection it would run on.
    pub connection_id: String,
    /// The question.
    pub question: String,
    /// The query.
    pub sql: String,
    /// When it was generated.
    pub created_at: DateTime<Utc>,
}

/// Where the SQL data agent keeps its configuration and history.
#[async_trait]
pub trait SqlCatalog: Send + Sync + std::fmt::Debug {
    /// Saves a new connection (conflict when the id exists).
    async fn create_connection(&self, connection: &SqlConnection) -> Result<()>;
    /// A connection of `tenant`, or not found.
    async fn get_connection(&self, tenant: &TenantId, id: &str) -> Result<SqlConnection>;
    /// The connections of `tenant`, oldest first.
    async fn list_connections(&self, tenant: &TenantId) -> Result<Vec<SqlConnection>>;
    /// Replaces a connection's name, engine, sealed URL and mode (not found when missing).
    async fn update_connection(&self, connection: &SqlConnection) -> Result<()>;
    /// Deletes a connection with its semantic model, examples and pending queries.
    async fn delete_connection(&self, tenant: &TenantId, id: &str) -> Result<()>;

    /// Stores a connection's semantic model (JSON).
    async fn put_semantic_model(
        &self,
        tenant: &TenantId,
        connection_id: &str,
        model: &str,
    ) -> Result<()>;
    /// A connection's semantic model (JSON), if any.
    async fn get_semantic_model(
        &self,
        tenant: &TenantId,
        connection_id: &str,
    ) -> Result<Option<String>>;
    /// Removes a connection's semantic model.
    async fn delete_semantic_model(&self, tenant: &TenantId, connection_id: &str) -> Result<()>;

    /// Adds a verified example.
    async fn add_example(&self, example: &SqlExample) -> Result<()>;
    /// The examples of `tenant`, of one connection when given, oldest first.
    async fn list_examples(
        &self,
        tenant: &TenantId,
        connection_id: Option<&str>,
    ) -> Result<Vec<SqlExample>>;
    /// Deletes an example (not found when missing).
    async fn delete_example(&self, tenant: &TenantId, id: &str) -> Result<()>;

    /// Stores the tenant's settings (JSON).
    async fn put_settings(&self, tenant: &TenantId, settings: &str) -> Result<()>;
    /// The tenant's settings (JSON), if saved.
    async fn get_settings(&self, tenant: &TenantId) -> Result<Option<String>>;

    /// Appends a chat message.
    async fn append_chat(&self, message: &SqlChatMessage) -> Result<()>;
    /// A chat session's messages, oldest first, at most `limit`.
    async fn chat_history(
        &self,
        tenant: &TenantId,
        session_id: &str,
        limit: u32,
    ) -> Result<Vec<SqlChatMessage>>;

    /// Holds a query for approval.
    async fn put_pending(&self, pending: &PendingQuery) -> Result<()>;
    /// Removes and returns the query held under `message_id` (not found when none).
    async fn take_pending(&self, tenant: &TenantId, message_id: &str) -> Result<PendingQuery>;
}
