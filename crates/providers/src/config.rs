//! Which providers exist and how to reach them: environment variables (`OPENAI_API_KEY`,
//! `OPENAI_BASE_URL`, …), the `[llm]` table of `quarry.toml`, and keys users store through
//! the API all become [`ProviderSpec`]s, which [`build_provider`] turns into providers.

use std::{collections::BTreeMap, fmt, sync::Arc, time::Duration};

use quarry_core::LlmProvider;
use serde::{Deserialize, Serialize};

use crate::{Policy, Pricing, anthropic, bedrock, gemini, ollama, openai, pricing::Price};

/// The wire format a provider speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI Chat Completions (OpenAI, xAI, Groq, OpenRouter, vLLM, LM Studio, …).
    Openai,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini `streamGenerateContent`.
    Gemini,
    /// Ollama's native `/api/chat`.
    Ollama,
    /// AWS Bedrock Converse stream.
    Bedrock,
}

impl ProviderKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::Ollama => "ollama",
            Self::Bedrock => "bedrock",
        }
    }
}

/// A well-known provider: its name, wire format, environment variables and defaults.
#[derive(Clone, Copy, Debug)]
pub struct KnownProvider {
    /// The provider's name (`openai`, `xai`, …).
    pub name: &'static str,
    /// Its wire format.
    pub kind: ProviderKind,
    /// Environment variables that may hold its key, first found wins.
    pub key_vars: &'static [&'static str],
    /// The environment variable overriding its base URL.
    pub base_url_var: &'static str,
    /// Its default base URL.
    pub base_url: &'static str,
    /// Its default model.
    pub model: &'static str,
    /// Model-name prefixes it serves.
    pub models: &'static [&'static str],
}

/// Every provider quarry knows by name, in the default failover order.
pub const KNOWN: &[KnownProvider] = &[
    KnownProvider {
        name: "openai",
        kind: ProviderKind::Openai,
        key_vars: &["OPENAI_API_KEY"],
        base_url_var: "OPENAI_BASE_URL",
        base_url: "https://api.openai.com/v1",
        model: "gpt-4o-mini",
        models: &["gpt-", "o1", "o3", "o4", "chatgpt-"],
    },
    KnownProvider {
        name: "anthropic",
        kind: ProviderKind::Anthropic,
        key_vars: &["ANTHROPIC_API_KEY"],
        base_url_var: "ANTHROPIC_BASE_URL",
        base_url: "https://api.anthropic.com",
        model: "claude-sonnet-4-5",
        models: &["claude-"],
    },
    KnownProvider {
        name: "gemini",
        kind: ProviderKind::Gemini,
        key_vars: &["GEMINI_API_KEY", "GOOGLE_API_KEY"],
        base_url_var: "GEMINI_BASE_URL",
        base_url: "https://generativelanguage.googleapis.com",
        model: "gemini-2.5-flash",
        models: &["gemini-"],
    },
    KnownProvider {
        name: "xai",
        kind: ProviderKind::Openai,
        key_vars: &["XAI_API_KEY"],
        base_url_var: "XAI_BASE_URL",
        base_url: "https://api.x.ai/v1",
        model: "grok-4",
        models: &["grok-"],
    },
    KnownProvider {
        name: "openrouter",
        kind: ProviderKind::Openai,
        key_vars: &["OPENROUTER_API_KEY"],
        base_url_var: "OPENROUTER_BASE_URL",
        base_url: "https://openrouter.ai/api/v1",
        model: "openai/gpt-4o-mini",
        models: &["openrouter/"],
    },
    KnownProvider {
        name: "groq",
        kind: ProviderKind::Openai,
        key_vars: &["GROQ_API_KEY"],
        base_url_var: "GROQ_BASE_URL",
        base_url: "https://api.groq.com/openai/v1",
        model: "llama-3.3-70b-versatile",
        models: &["llama-", "mixtral-", "gemma"],
    },
    KnownProvider {
        name: "bedrock",
        kind: ProviderKind::Bedrock,
        key_vars: &["AWS_ACCESS_KEY_ID"],
        base_url_var: "BEDROCK_BASE_URL",
        base_url: "",
        model: "anthropic.claude-3-5-haiku-20241022-v1:0",
        models: &["anthropic.", "amazon.", "meta.", "mistral.", "us.", "eu."],
    },
    KnownProvider {
        name: "ollama",
        kind: ProviderKind::Ollama,
        key_vars: &[],
        base_url_var: "OLLAMA_HOST",
        base_url: "http://127.0.0.1:11434",
        model: "llama3.2",
        models: &[],
    },
];

/// The known provider called `name`.
pub fn known(name: &str) -> Option<&'static KnownProvider> {
    KNOWN.iter().find(|k| k.name == name)
}

/// Everything needed to build one provider.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    /// Its unique name in the gateway.
    pub name: String,
    /// Its wire format.
    pub kind: ProviderKind,
    /// Its key (AWS: the access key id).
    #[serde(default)]
    pub api_key: Option<String>,
    /// AWS secret access key.
    #[serde(default)]
    pub secret_key: Option<String>,
    /// AWS session token.
    #[serde(default)]
    pub session_token: Option<String>,
    /// AWS region.
    #[serde(default)]
    pub region: Option<String>,
    /// Base URL (for OpenAI-compatible servers, up to and including `/v1`).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Default model.
    #[serde(default)]
    pub model: Option<String>,
    /// Model-name prefixes it serves (besides its default model); `["*"]` serves any.
    #[serde(default)]
    pub models: Vec<String>,
}

impl fmt::Debug for ProviderSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSpec")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("region", &self.region)
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl ProviderSpec {
    /// A spec for the well-known provider `name` (or an OpenAI-compatible one for another
    /// name), with its defaults.
    pub fn named(name: &str, api_key: Option<String>, base_url: Option<String>) -> Self {
        let known = known(name);
        Self {
            name: name.to_owned(),
            kind: known.map_or(ProviderKind::Openai, |k| k.kind),
            api_key,
            secret_key: None,
            session_token: None,
            region: None,
            base_url,
            model: None,
            models: Vec::new(),
        }
    }
}

/// The provider types a user may store through the API: the known providers' names, plus
/// `claude` (Anthropic), `google` (Gemini) and `openai_compatible` (any OpenAI-compatible
/// server; needs a base URL).
pub const PROVIDER_TYPES: &[&str] = &[
    "openai",
    "anthropic",
    "claude",
    "gemini",
    "google",
    "xai",
    "openrouter",
    "groq",
    "bedrock",
    "ollama",
    "openai_compatible",
];

/// The canonical type for a user-given label (`claude` → `anthropic`), or `None` when it is
/// not one of [`PROVIDER_TYPES`].
pub fn canonical_type(label: &str) -> Option<&'static str> {
    let label = label.trim().to_ascii_lowercase().replace('-', "_");
    match label.as_str() {
        "claude" => Some("anthropic"),
        "google" => Some("gemini"),
        "openai_compatible" => Some("openai_compatible"),
        other => known(other).map(|k| k.name),
    }
}

impl ProviderSpec {
    /// The spec of a stored provider called `name` of type `provider_type` (canonical, see
    /// [`canonical_type`]): the type's wire format, default base URL and models.
    pub fn stored(
        name: &str,
        provider_type: &str,
        api_key: Option<String>,
        base_url: Option<String>,
        model: Option<String>,
    ) -> Result<Self, String> {
        let canonical = canonical_type(provider_type)
            .ok_or_else(|| format!("unknown provider type '{provider_type}'"))?;
        let (kind, base, models) = match known(canonical) {
            Some(k) => (
                k.kind,
                base_url.or_else(|| Some(k.base_url.to_owned()).filter(|u| !u.is_empty())),
                k.models.iter().map(|m| (*m).to_owned()).collect(),
            ),
            None => {
                let Some(base) = base_url else {
                    return Err("an openai_compatible provider needs a base_url".to_owned());
                };
                (ProviderKind::Openai, Some(base), vec!["*".to_owned()])
            }
        };
        Ok(Self {
            name: name.to_owned(),
            kind,
            api_key,
            secret_key: None,
            session_token: None,
            region: None,
            base_url: base,
            model: model.or_else(|| known(canonical).map(|k| k.model.to_owned())),
            models,
        })
    }
}

/// Timeouts the gateway applies to every provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// Establishing the connection, in milliseconds.
    pub connect_ms: u64,
    /// From sending the request to the first event of the answer.
    pub first_byte_ms: u64,
    /// Longest silence between two events of a streaming answer.
    pub idle_ms: u64,
    /// A whole answer, failovers included.
    pub total_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect_ms: 5_000,
            first_byte_ms: 30_000,
            idle_ms: 60_000,
            total_ms: 600_000,
        }
    }
}

/// The `[llm]` table of `quarry.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// Provider names in failover order (`QUARRY_PROVIDER_ORDER`); providers not named
    /// follow in the default order. Naming one that is not configured is an error.
    pub order: Vec<String>,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Extra attempts over the providers that failed with a retryable error.
    pub retries: u32,
    /// First backoff before a retry round, in milliseconds (doubled each round, jittered).
    pub backoff_ms: u64,
    /// Longest backoff, in milliseconds (a longer `Retry-After` skips the provider).
    pub max_backoff_ms: u64,
    /// Consecutive failures that open a provider's circuit breaker.
    pub breaker_failures: u32,
    /// How long an open breaker skips its provider before a half-open probe, in ms.
    pub breaker_cooldown_ms: u64,
    /// Providers configured in the file, by name (merged over the environment's).
    pub providers: BTreeMap<String, ProviderSpecFile>,
    /// Prices per million tokens by model-name prefix, overriding the built-in table.
    pub pricing: BTreeMap<String, Price>,
    /// Let the built-in offline analyst answer when no provider is configured or every one
    /// failed (`QUARRY_LLM_OFFLINE_FALLBACK`). Off: such requests fail with the reasons.
    pub offline_fallback: bool,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            order: Vec::new(),
            timeouts: Timeouts::default(),
            retries: 1,
            backoff_ms: 200,
            max_backoff_ms: 5_000,
            breaker_failures: 3,
            breaker_cooldown_ms: 30_000,
            providers: BTreeMap::new(),
            pricing: BTreeMap::new(),
            offline_fallback: true,
        }
    }
}

/// A provider in `quarry.toml` (`[llm.providers.NAME]`); unset fields fall back to the
/// environment and the provider's defaults.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderSpecFile {
    /// Wire format; defaults to the known provider's, or `openai`.
    pub kind: Option<ProviderKind>,
    /// Its key.
    pub api_key: Option<String>,
    /// AWS secret access key.
    pub secret_key: Option<String>,
    /// AWS region.
    pub region: Option<String>,
    /// Base URL.
    pub base_url: Option<String>,
    /// Default model.
    pub model: Option<String>,
    /// Model-name prefixes served.
    pub models: Vec<String>,
}

impl fmt::Debug for ProviderSpecFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSpecFile")
            .field("kind", &self.kind)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// Reads one variable, treating an empty value as unset.
fn var(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl LlmConfig {
    /// Applies the environment's settings (`QUARRY_PROVIDER_ORDER`, `QUARRY_LLM_*_TIMEOUT_MS`,
    /// `QUARRY_LLM_RETRIES`) over the file's.
    pub fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), String> {
        if let Some(order) = var(env, "QUARRY_PROVIDER_ORDER") {
            self.order = order
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect();
        }
        let ms = |name: &str, slot: &mut u64| -> Result<(), String> {
            if let Some(v) = var(env, name) {
                *slot = v
                    .parse()
                    .map_err(|_| format!("{name} must be a whole number of milliseconds"))?;
            }
            Ok(())
        };
        ms(
            "QUARRY_LLM_CONNECT_TIMEOUT_MS",
            &mut self.timeouts.connect_ms,
        )?;
        ms(
            "QUARRY_LLM_FIRST_BYTE_TIMEOUT_MS",
            &mut self.timeouts.first_byte_ms,
        )?;
        ms("QUARRY_LLM_IDLE_TIMEOUT_MS", &mut self.timeouts.idle_ms)?;
        ms("QUARRY_LLM_TOTAL_TIMEOUT_MS", &mut self.timeouts.total_ms)?;
        let mut retries = u64::from(self.retries);
        ms("QUARRY_LLM_RETRIES", &mut retries)?;
        self.retries = u32::try_from(retries.min(10)).unwrap_or(10);
        if let Some(v) = var(env, "QUARRY_LLM_OFFLINE_FALLBACK") {
            self.offline_fallback = match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => return Err("QUARRY_LLM_OFFLINE_FALLBACK must be true or false".to_owned()),
            };
        }
        Ok(())
    }

    /// The gateway policy these settings describe.
    pub fn policy(&self) -> Policy {
        Policy {
            connect_timeout: Duration::from_millis(self.timeouts.connect_ms.max(1)),
            first_byte_timeout: Duration::from_millis(self.timeouts.first_byte_ms.max(1)),
            idle_timeout: Duration::from_millis(self.timeouts.idle_ms.max(1)),
            total_timeout: Duration::from_millis(self.timeouts.total_ms.max(1)),
            retries: self.retries,
            backoff: Duration::from_millis(self.backoff_ms),
            max_backoff: Duration::from_millis(self.max_backoff_ms),
            breaker_failures: self.breaker_failures.max(1),
            breaker_cooldown: Duration::from_millis(self.breaker_cooldown_ms),
        }
    }

    /// The built-in prices with the file's overrides.
    pub fn pricing(&self) -> Pricing {
        let mut p = Pricing::builtin();
        for (prefix, price) in &self.pricing {
            p.set(prefix, *price);
        }
        p
    }

    /// The providers the environment and the file configure, in failover order.
    pub fn specs(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<ProviderSpec>, String> {
        let mut specs: Vec<ProviderSpec> = Vec::new();
        for k in KNOWN {
            let file = self.providers.get(k.name);
            if let Some(spec) = spec_from_env(k, file, env) {
                specs.push(spec);
            }
        }
        for (name, file) in &self.providers {
            if known(name).is_some() {
                continue;
            }
            specs.push(ProviderSpec {
                name: name.clone(),
                kind: file.kind.unwrap_or(ProviderKind::Openai),
                api_key: file.api_key.clone(),
                secret_key: file.secret_key.clone(),
                session_token: None,
                region: file.region.clone(),
                base_url: file.base_url.clone(),
                model: file.model.clone(),
                models: file.models.clone(),
            });
        }
        let mut ordered = Vec::with_capacity(specs.len());
        for name in &self.order {
            let Some(pos) = specs.iter().position(|s| &s.name == name) else {
                let hint = known(name).map_or(String::new(), |k| {
                    let keys = k.key_vars.join(" or ");
                    if keys.is_empty() {
                        format!(" (set {})", k.base_url_var)
                    } else {
                        format!(" (set {keys})")
                    }
                });
                return Err(format!(
                    "provider order names '{name}', which is not configured{hint}"
                ));
            };
            ordered.push(specs.remove(pos));
        }
        ordered.extend(specs);
        Ok(ordered)
    }

    /// Builds every configured provider, in failover order.
    pub fn providers(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<Arc<dyn LlmProvider>>, String> {
        let policy = self.policy();
        Ok(self
            .specs(env)?
            .iter()
            .map(|s| build_provider(s, policy.connect_timeout))
            .collect())
    }
}

/// The spec of known provider `k` if the environment or the file configures it.
fn spec_from_env(
    k: &KnownProvider,
    file: Option<&ProviderSpecFile>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<ProviderSpec> {
    let file_key = file.and_then(|f| f.api_key.clone());
    let env_key = k.key_vars.iter().find_map(|v| var(env, v));
    let api_key = file_key.or(env_key);
    let base_url = file
        .and_then(|f| f.base_url.clone())
        .or_else(|| var(env, k.base_url_var));
    let configured = match k.kind {
        // Ollama needs no key: configured by OLLAMA_HOST or the file.
        ProviderKind::Ollama => base_url.is_some() || file.is_some(),
        _ => api_key.is_some(),
    };
    if !configured {
        return None;
    }
    let (secret_key, session_token, region) = if k.kind == ProviderKind::Bedrock {
        (
            file.and_then(|f| f.secret_key.clone())
                .or_else(|| var(env, "AWS_SECRET_ACCESS_KEY")),
            var(env, "AWS_SESSION_TOKEN"),
            file.and_then(|f| f.region.clone())
                .or_else(|| var(env, "AWS_REGION"))
                .or_else(|| var(env, "AWS_DEFAULT_REGION")),
        )
    } else {
        (None, None, None)
    };
    let model = file
        .and_then(|f| f.model.clone())
        .or_else(|| var(env, &format!("{}_MODEL", k.name.to_ascii_uppercase())));
    Some(ProviderSpec {
        name: k.name.to_owned(),
        kind: k.kind,
        api_key,
        secret_key,
        session_token,
        region,
        base_url,
        model,
        models: file.map(|f| f.models.clone()).unwrap_or_default(),
    })
}

/// Builds the provider a spec describes.
pub fn build_provider(spec: &ProviderSpec, connect_timeout: Duration) -> Arc<dyn LlmProvider> {
    let known = known(&spec.name).filter(|k| k.kind == spec.kind);
    let base_url = spec.base_url.clone().or_else(|| {
        known
            .map(|k| k.base_url.to_owned())
            .filter(|u| !u.is_empty())
    });
    let model = spec
        .model
        .clone()
        .or_else(|| known.map(|k| k.model.to_owned()))
        .unwrap_or_else(|| default_model(spec.kind).to_owned());
    let mut models: Vec<String> = spec.models.clone();
    if let Some(k) = known {
        models.extend(k.models.iter().map(|m| (*m).to_owned()));
    }
    // A renamed OpenAI-compatible server (vLLM, LM Studio) serves whatever it serves.
    if spec.kind == ProviderKind::Openai && known.is_none() && spec.models.is_empty() {
        models.push("*".to_owned());
    }
    let common = Common {
        name: spec.name.clone(),
        api_key: spec.api_key.clone(),
        model,
        models,
        client: crate::http::client(connect_timeout),
    };
    match spec.kind {
        ProviderKind::Openai => Arc::new(openai::OpenAi::new(
            common,
            base_url.unwrap_or_else(|| "https://api.openai.com/v1".to_owned()),
        )),
        ProviderKind::Anthropic => Arc::new(anthropic::Anthropic::new(
            common,
            base_url.unwrap_or_else(|| "https://api.anthropic.com".to_owned()),
        )),
        ProviderKind::Gemini => Arc::new(gemini::Gemini::new(
            common,
            base_url.unwrap_or_else(|| "https://generativelanguage.googleapis.com".to_owned()),
        )),
        ProviderKind::Ollama => Arc::new(ollama::Ollama::new(
            common,
            base_url.unwrap_or_else(|| "http://127.0.0.1:11434".to_owned()),
        )),
        ProviderKind::Bedrock => {
            let region = spec
                .region
                .clone()
                .unwrap_or_else(|| "us-east-1".to_owned());
            let base = base_url
                .unwrap_or_else(|| format!("https://bedrock-runtime.{region}.amazonaws.com"));
            Arc::new(bedrock::Bedrock::new(
                common,
                base,
                region,
                spec.secret_key.clone(),
                spec.session_token.clone(),
            ))
        }
    }
}

fn default_model(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Openai => "gpt-4o-mini",
        ProviderKind::Anthropic => "claude-sonnet-4-5",
        ProviderKind::Gemini => "gemini-2.5-flash",
        ProviderKind::Ollama => "llama3.2",
        ProviderKind::Bedrock => "anthropic.claude-3-5-haiku-20241022-v1:0",
    }
}

/// What every HTTP provider holds.
#[derive(Clone)]
pub(crate) struct Common {
    pub(crate) name: String,
    pub(crate) api_key: Option<String>,
    pub(crate) model: String,
    pub(crate) models: Vec<String>,
    pub(crate) client: reqwest::Client,
}

impl fmt::Debug for Common {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl Common {
    /// Whether this provider serves `model`.
    pub(crate) fn supports(&self, model: &str) -> bool {
        model == self.model
            || self
                .models
                .iter()
                .any(|p| p == "*" || model.starts_with(p.as_str()))
    }

    /// The model a request asks for, or the default.
    pub(crate) fn model_for<'a>(&'a self, requested: Option<&'a str>) -> &'a str {
        requested.unwrap_or(&self.model)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn only_an_openai_base_url_and_key_configure_one_provider() {
        let e = env(&[
            ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
            ("OPENAI_API_KEY", "k"),
        ]);
        let specs = LlmConfig::default().specs(&e).unwrap();
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].name, "openai");
        assert_eq!(specs[0].base_url.as_deref(), Some("http://127.0.0.1:9/v1"));
    }

    #[test]
    fn order_from_the_environment_and_unknown_names_are_errors() {
        let e = env(&[
            ("OPENAI_API_KEY", "a"),
            ("ANTHROPIC_API_KEY", "b"),
            ("GOOGLE_API_KEY", "c"),
            ("OLLAMA_HOST", "http://127.0.0.1:11434"),
            ("QUARRY_PROVIDER_ORDER", "ollama, anthropic"),
        ]);
        let mut c = LlmConfig::default();
        c.apply_env(&e).unwrap();
        let names: Vec<_> = c.specs(&e).unwrap().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["ollama", "anthropic", "openai", "gemini"]);
        c.order = vec!["xai".into()];
        let err = c.specs(&e).unwrap_err();
        assert!(err.contains("XAI_API_KEY"), "{err}");
        let bad = env(&[("QUARRY_LLM_IDLE_TIMEOUT_MS", "soon")]);
        assert!(LlmConfig::default().apply_env(&bad).is_err());
    }

    #[test]
    fn debug_hides_keys() {
        let s = ProviderSpec::named("openai", Some("sk-very-secret".into()), None);
        assert!(!format!("{s:?}").contains("very-secret"));
        let p = build_provider(&s, Duration::from_secs(1));
        assert!(!format!("{p:?}").contains("very-secret"));
        assert!(p.supports_model("gpt-4o") && !p.supports_model("claude-3"));
    }
}
