//! The SQL agent: question → cache → generate (a language model when one is given, the
//! offline analyst otherwise) → guard → execute according to the connection's execution mode.

use std::{collections::HashMap, sync::Arc, sync::Mutex, time::Duration};

use futures::StreamExt;
use quarry_core::{ChatEvent, ChatMessage, ChatRequest, LlmProvider};
use serde::{Deserialize, Serialize};

use crate::{
    DataSource, Limits, OfflineAnalyst, QueryResult, Result, Schema, SemanticModel, SqlError,
    analyst::Intent,
    cache::{self, CacheStats, CachedAnswer, QueryCache},
    guard::{self, GuardedSql},
};

/// What happens to a generated query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionMode {
    /// Checked and run at once.
    #[default]
    AutoExecute,
    /// Held as `pending_approval` until someone approves (and possibly edits) it.
    ReviewFirst,
    /// Returned, never run.
    GenerateOnly,
}

impl ExecutionMode {
    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto_execute" => Some(Self::AutoExecute),
            "review_first" => Some(Self::ReviewFirst),
            "generate_only" => Some(Self::GenerateOnly),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AutoExecute => "auto_execute",
            Self::ReviewFirst => "review_first",
            Self::GenerateOnly => "generate_only",
        }
    }
}

/// The outcome of a question (the NL→SQL wire's `status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Run now.
    Executed,
    /// Answered from the cache.
    Cached,
    /// Waiting for approval.
    PendingApproval,
    /// Generated only.
    QueryOnly,
    /// Failed (or not understood).
    Error,
}

/// Settings of the agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSettings {
    /// How long cached answers live, in seconds.
    pub cache_ttl_secs: u64,
    /// Rows returned when a request names no limit.
    pub default_max_rows: usize,
    /// The largest limit a request may ask for.
    pub max_rows_limit: usize,
    /// Statement timeout, in seconds.
    pub statement_timeout_secs: u64,
    /// Corrections asked of a language model after a failed query.
    pub max_retries: usize,
    /// Tables put in a prompt at most.
    pub prompt_tables: usize,
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self {
            cache_ttl_secs: 3600,
            default_max_rows: 100,
            max_rows_limit: 10_000,
            statement_timeout_secs: 30,
            max_retries: 2,
            prompt_tables: 30,
        }
    }
}

/// A verified question → SQL pair, used as a few-shot example.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The question.
    pub question: String,
    /// Its query.
    pub sql: String,
}

/// A question for [`SqlAgent::ask`].
#[derive(Clone, Debug)]
pub struct Question<'a> {
    /// The connection's id (part of the cache key).
    pub connection_id: &'a str,
    /// The source.
    pub source: &'a DataSource,
    /// Its semantic model.
    pub semantic: &'a SemanticModel,
    /// Verified examples.
    pub examples: &'a [Example],
    /// The question.
    pub text: &'a str,
    /// The connection's execution mode.
    pub mode: ExecutionMode,
    /// Rows wanted (capped by the settings).
    pub max_rows: Option<usize>,
    /// A language model; `None` uses the offline analyst.
    pub llm: Option<Arc<dyn LlmProvider>>,
}

/// The answer to a question.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentAnswer {
    /// The query, when one was generated.
    pub sql: Option<String>,
    /// The dialect's display name.
    pub dialect: String,
    /// The kind of answer (offline analyst only).
    pub intent: Option<Intent>,
    /// What the query computes, or why there is none.
    pub explanation: String,
    /// The result, when run.
    pub result: Option<QueryResult>,
    /// What happened.
    pub status: AgentStatus,
    /// Whether the cache answered.
    pub cache_hit: bool,
    /// The error, when `status` is `error`.
    pub error: Option<String>,
    /// Who wrote the query: `offline` or the model's provider name.
    pub generator: String,
}

impl AgentAnswer {
    /// One sentence stating the answer.
    pub fn sentence(&self) -> String {
        if let Some(e) = &self.error {
            return e.clone();
        }
        match &self.result {
            Some(r) if r.rows.len() == 1 && r.columns.len() == 1 => {
                let v = &r.rows[0][0];
                let v = v
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string());
                format!("{}: {v}", self.explanation)
            }
            Some(r) => format!(
                "{}: {} row{}{}",
                self.explanation,
                r.row_count,
                if r.row_count == 1 { "" } else { "s" },
                if r.truncated { " (truncated)" } else { "" }
            ),
            None => match self.status {
                AgentStatus::PendingApproval => {
                    format!("{} (waiting for approval)", self.explanation)
                }
                _ => self.explanation.clone(),
            },
        }
    }
}

/// A generated query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    /// The checked query.
    pub sql: GuardedSql,
    /// Its intent (offline analyst only).
    pub intent: Option<Intent>,
    /// What it computes.
    pub explanation: String,
    /// Who wrote it.
    pub generator: String,
}

/// The agent: schema cache, query cache and settings, shared by every connection.
#[derive(Debug, Default)]
pub struct SqlAgent {
    schemas: Mutex<HashMap<String, Arc<Schema>>>,
    cache: QueryCache,
    settings: Mutex<AgentSettings>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SqlAgent {
    /// An agent with `settings`.
    pub fn new(settings: AgentSettings) -> Self {
        Self {
            settings: Mutex::new(settings),
            ..Self::default()
        }
    }

    /// The settings.
    pub fn settings(&self) -> AgentSettings {
        lock(&self.settings).clone()
    }

    /// Replaces the settings.
    pub fn set_settings(&self, settings: AgentSettings) {
        *lock(&self.settings) = settings;
    }

    /// Cache statistics.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Empties the query cache; returns the number of entries dropped.
    pub fn clear_cache(&self) -> usize {
        self.cache.clear()
    }

    /// The schema of `connection_id`, introspected on first use.
    pub async fn schema(&self, connection_id: &str, source: &DataSource) -> Result<Arc<Schema>> {
        if let Some(s) = lock(&self.schemas).get(connection_id) {
            return Ok(s.clone());
        }
        self.refresh_schema(connection_id, source).await
    }

    /// Reads the schema again.
    pub async fn refresh_schema(
        &self,
        connection_id: &str,
        source: &DataSource,
    ) -> Result<Arc<Schema>> {
        let schema = Arc::new(source.introspect().await?);
        lock(&self.schemas).insert(connection_id.to_owned(), schema.clone());
        Ok(schema)
    }

    /// Forgets a connection's schema (when it is deleted or changed).
    pub fn forget(&self, connection_id: &str) {
        lock(&self.schemas).remove(connection_id);
    }

    /// The limits for a request asking for `max_rows`.
    pub fn limits(&self, max_rows: Option<usize>) -> Limits {
        let s = self.settings();
        Limits {
            max_rows: max_rows
                .unwrap_or(s.default_max_rows)
                .clamp(1, s.max_rows_limit.max(1)),
            timeout: Duration::from_secs(s.statement_timeout_secs.max(1)),
        }
    }

    /// Checks and runs a hand-written (or approved, possibly edited) query.
    pub async fn run_sql(
        &self,
        source: &DataSource,
        sql: &str,
        max_rows: Option<usize>,
    ) -> Result<QueryResult> {
        let g = guard::check(source.engine(), sql)?;
        source.query(&g, self.limits(max_rows)).await
    }

    /// Answers a question. Failures come back as an answer with status `error`.
    pub async fn ask(&self, q: Question<'_>) -> AgentAnswer {
        let dialect = q.source.engine().dialect_name().to_owned();
        let fail = |e: SqlError, sql: Option<String>, generator: &str| AgentAnswer {
            sql,
            dialect: dialect.clone(),
            intent: None,
            explanation: e.to_string(),
            result: None,
            status: AgentStatus::Error,
            cache_hit: false,
            error: Some(e.to_string()),
            generator: generator.to_owned(),
        };
        let generator_name = q
            .llm
            .as_ref()
            .map_or("offline".to_owned(), |l| l.name().to_owned());
        let schema = match self.schema(q.connection_id, q.source).await {
            Ok(s) => s,
            Err(e) => return fail(e, None, &generator_name),
        };
        let limits = self.limits(q.max_rows);
        let key = format!(
            "{}:{}",
            cache::key(q.text, q.connection_id, &schema.version),
            limits.max_rows
        );
        let ttl = Duration::from_secs(self.settings().cache_ttl_secs);
        if q.mode == ExecutionMode::AutoExecute
            && let Some(hit) = self.cache.get(&key, ttl)
        {
            return AgentAnswer {
                sql: Some(hit.sql),
                dialect,
                intent: hit.intent,
                explanation: hit.explanation,
                result: Some(hit.result),
                status: AgentStatus::Cached,
                cache_hit: true,
                error: None,
                generator: generator_name,
            };
        }
        let run = q.mode == ExecutionMode::AutoExecute;
        let outcome = match &q.llm {
            None => self.offline(&q, &schema, run, limits).await,
            Some(llm) => {
                self.with_model(&q, &schema, llm.as_ref(), run, limits)
                    .await
            }
        };
        let (generated, result) = match outcome {
            Ok(x) => x,
            Err((e, sql)) => return fail(e, sql, &generator_name),
        };
        let status = match (q.mode, &result) {
            (ExecutionMode::AutoExecute, _) => AgentStatus::Executed,
            (ExecutionMode::ReviewFirst, _) => AgentStatus::PendingApproval,
            (ExecutionMode::GenerateOnly, _) => AgentStatus::QueryOnly,
        };
        if let Some(r) = &result {
            self.cache.put(
                key,
                CachedAnswer {
                    sql: generated.sql.to_string(),
                    intent: generated.intent,
                    explanation: generated.explanation.clone(),
                    result: r.clone(),
                },
            );
        }
        AgentAnswer {
            sql: Some(generated.sql.to_string()),
            dialect,
            intent: generated.intent,
            explanation: generated.explanation,
            result,
            status,
            cache_hit: false,
            error: None,
            generator: generated.generator,
        }
    }

    async fn offline(
        &self,
        q: &Question<'_>,
        schema: &Schema,
        run: bool,
        limits: Limits,
    ) -> Result<(Generated, Option<QueryResult>), (SqlError, Option<String>)> {
        let a = OfflineAnalyst
            .analyse(q.text, schema, q.semantic)
            .map_err(|e| (SqlError::NotUnderstood(e.0), None))?;
        let sql =
            guard::check(q.source.engine(), &a.sql).map_err(|e| (e.into(), Some(a.sql.clone())))?;
        let result = if run {
            Some(
                q.source
                    .query(&sql, limits)
                    .await
                    .map_err(|e| (e, Some(a.sql.clone())))?,
            )
        } else {
            None
        };
        Ok((
            Generated {
                sql,
                intent: Some(a.intent),
                explanation: a.summary,
                generator: "offline".into(),
            },
            result,
        ))
    }

    async fn with_model(
        &self,
        q: &Question<'_>,
        schema: &Schema,
        llm: &dyn LlmProvider,
        run: bool,
        limits: Limits,
    ) -> Result<(Generated, Option<QueryResult>), (SqlError, Option<String>)> {
        let settings = self.settings();
        let pruned = schema.prune(q.text, q.semantic, settings.prompt_tables);
        let system = prompt(
            q.source.engine().dialect_name(),
            &pruned,
            q.semantic,
            q.examples,
        );
        let mut messages = vec![ChatMessage::user(q.text)];
        let mut last: (SqlError, Option<String>) =
            (SqlError::NotUnderstood("no answer".into()), None);
        for _ in 0..=settings.max_retries {
            let request = ChatRequest {
                system: Some(system.clone()),
                messages: messages.clone(),
                temperature: Some(0.0),
                ..ChatRequest::default()
            };
            let reply = complete(llm, request).await.map_err(|e| (e, None))?;
            let text = extract_sql(&reply);
            let failure = match guard::check(q.source.engine(), &text) {
                Err(e) => SqlError::from(e),
                Ok(sql) if !run => {
                    return Ok((
                        Generated {
                            sql,
                            intent: None,
                            explanation: explanation_of(&reply),
                            generator: llm.name().to_owned(),
                        },
                        None,
                    ));
                }
                Ok(sql) => match q.source.query(&sql, limits).await {
                    Ok(r) => {
                        return Ok((
                            Generated {
                                sql,
                                intent: None,
                                explanation: explanation_of(&reply),
                                generator: llm.name().to_owned(),
                            },
                            Some(r),
                        ));
                    }
                    Err(SqlError::Timeout(ms)) => return Err((SqlError::Timeout(ms), Some(text))),
                    Err(e) => e,
                },
            };
            messages.push(ChatMessage::assistant(reply));
            messages.push(ChatMessage::user(format!(
                "That query failed: {failure}. Reply with one corrected read-only SQL query in a ```sql block."
            )));
            last = (failure, Some(text));
        }
        Err(last)
    }
}

/// The system prompt for a model.
pub fn prompt(
    dialect: &str,
    schema: &Schema,
    semantic: &SemanticModel,
    examples: &[Example],
) -> String {
    let mut p = format!(
        "You translate questions into one read-only {dialect} SELECT query over the database \
         below. Reply with a one-line explanation followed by the query in a ```sql block. Never \
         modify data. Give every output column a unique name.\n\nSchema:\n{}",
        schema.to_prompt()
    );
    let sem = semantic.to_prompt();
    if !sem.is_empty() {
        p.push_str("\nBusiness terms:\n");
        p.push_str(&sem);
    }
    if !examples.is_empty() {
        p.push_str("\nVerified examples:\n");
        for e in examples.iter().take(10) {
            p.push_str(&format!("Q: {}\n```sql\n{}\n```\n", e.question, e.sql));
        }
    }
    p
}

async fn complete(llm: &dyn LlmProvider, request: ChatRequest) -> Result<String> {
    let mut stream = tokio::time::timeout(Duration::from_secs(120), llm.chat(request))
        .await
        .map_err(|_| {
            SqlError::Llm(quarry_core::LlmError::Timeout {
                provider: llm.name().to_owned(),
                stage: "total".into(),
            })
        })??;
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let next = tokio::time::timeout_at(deadline, stream.next())
            .await
            .map_err(|_| {
                SqlError::Llm(quarry_core::LlmError::Timeout {
                    provider: llm.name().to_owned(),
                    stage: "total".into(),
                })
            })?;
        match next {
            None => break,
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(ChatEvent::TextDelta { text: t })) => text.push_str(&t),
            // Another provider starts the answer afresh.
            Some(Ok(ChatEvent::Failover { .. })) => text.clear(),
            Some(Ok(ChatEvent::Finish { .. })) => break,
            Some(Ok(_)) => {}
        }
        if text.len() > 256 * 1024 {
            break;
        }
    }
    Ok(text)
}

/// The query of a model's reply: the first ```sql block, else the first ``` block, else all.
pub fn extract_sql(reply: &str) -> String {
    let lower = reply.to_lowercase();
    let start = lower
        .find("```sql")
        .map(|i| i + 6)
        .or_else(|| lower.find("```").map(|i| i + 3));
    match start {
        Some(s) => {
            let rest = &reply[s..];
            let end = rest.find("```").unwrap_or(rest.len());
            rest[..end].trim().to_owned()
        }
        None => reply.trim().to_owned(),
    }
}

fn explanation_of(reply: &str) -> String {
    let before = reply.split("```").next().unwrap_or_default().trim();
    if before.is_empty() {
        "Query written by the model".to_owned()
    } else {
        before.chars().take(500).collect()
    }
}
