//! The failover router: one [`LlmProvider`] in front of many. Every provider is wrapped in
//! the same policy — timeouts (first byte, idle between events, total), a circuit breaker with
//! a half-open probe, `Retry-After` and jittered exponential backoff between retry rounds —
//! and a request walks the chain until one answers.
//!
//! Routing: a request naming a model goes first to the providers that serve it, then to the
//! others with their own default model. Failover before the first event is invisible; after
//! it the stream carries [`ChatEvent::Failover`] naming who took over (the answer restarts).
//! When every provider fails the error is [`LlmError::AllFailed`], naming each and why. The
//! last resort (the built-in offline analyst) answers after every configured provider failed,
//! and alone when none is configured.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use futures::StreamExt;
use quarry_core::{ChatEvent, ChatRequest, ChatStream, LlmError, LlmProvider};

use crate::Pricing;

/// How the gateway treats every provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Establishing a connection (applied by the providers' HTTP clients).
    pub connect_timeout: Duration,
    /// From sending a request to the first event of its answer.
    pub first_byte_timeout: Duration,
    /// Longest silence between two events.
    pub idle_timeout: Duration,
    /// A whole answer, failovers included.
    pub total_timeout: Duration,
    /// Extra rounds over providers that failed with a retryable error.
    pub retries: u32,
    /// First backoff between rounds (doubled each round, with full jitter).
    pub backoff: Duration,
    /// Longest backoff; a longer `Retry-After` skips the provider instead.
    pub max_backoff: Duration,
    /// Consecutive failures that open a provider's breaker.
    pub breaker_failures: u32,
    /// How long an open breaker skips its provider before one probe is let through.
    pub breaker_cooldown: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        crate::LlmConfig::default().policy()
    }
}

/// A provider's circuit breaker and rate-limit pause.
#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
    paused_until: Option<Instant>,
}

/// A provider with its breaker.
#[derive(Debug)]
struct Guarded {
    provider: Arc<dyn LlmProvider>,
    breaker: Mutex<Breaker>,
    /// The last resort is always tried: it has no breaker.
    last_resort: bool,
}

/// Whether a call may go through now.
enum Admit {
    Yes,
    Open,
    Paused(Duration),
}

impl Guarded {
    fn new(provider: Arc<dyn LlmProvider>, last_resort: bool) -> Arc<Self> {
        Arc::new(Self {
            provider,
            breaker: Mutex::new(Breaker::default()),
            last_resort,
        })
    }

    fn admit(&self, now: Instant) -> Admit {
        if self.last_resort {
            return Admit::Yes;
        }
        let Ok(mut b) = self.breaker.lock() else {
            return Admit::Yes;
        };
        if let Some(until) = b.paused_until
            && until > now
        {
            return Admit::Paused(until - now);
        }
        match b.open_until {
            Some(until) if until > now => Admit::Open,
            // Half-open: one probe at a time.
            Some(_) if b.probing => Admit::Open,
            Some(_) => {
                b.probing = true;
                Admit::Yes
            }
            None => Admit::Yes,
        }
    }

    /// A call ended without a verdict (its caller went away): a half-open probe slot is
    /// given back, so the next request can probe.
    fn release_probe(&self) {
        if let Ok(mut b) = self.breaker.lock() {
            b.probing = false;
        }
    }

    fn succeeded(&self) {
        if let Ok(mut b) = self.breaker.lock() {
            *b = Breaker::default();
        }
    }

    fn failed(&self, error: &LlmError, policy: &Policy) {
        if self.last_resort {
            return;
        }
        let Ok(mut b) = self.breaker.lock() else {
            return;
        };
        let now = Instant::now();
        if let LlmError::RateLimited {
            retry_after_secs: Some(s),
            ..
        } = error
        {
            b.paused_until = Some(now + Duration::from_secs(*s));
        }
        // A request the provider refuses says nothing about its health.
        if matches!(error, LlmError::InvalidRequest { .. }) {
            b.probing = false;
            return;
        }
        b.failures = b.failures.saturating_add(1);
        if b.probing || b.failures >= policy.breaker_failures {
            b.open_until = Some(now + policy.breaker_cooldown);
            if !b.probing {
                tracing::warn!(
                    provider = self.provider.name(),
                    failures = b.failures,
                    cooldown_ms = policy.breaker_cooldown.as_millis() as u64,
                    "circuit breaker open"
                );
            }
        }
        b.probing = false;
    }

    /// Whether the breaker is open now (for status reports).
    fn is_open(&self) -> bool {
        self.breaker
            .lock()
            .ok()
            .and_then(|b| b.open_until)
            .is_some_and(|u| u > Instant::now())
    }
}

/// The failover router; see the module documentation. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Gateway {
    chain: Arc<[Arc<Guarded>]>,
    last_resort: Option<Arc<Guarded>>,
    policy: Policy,
    pricing: Arc<Pricing>,
    name: Arc<str>,
}

impl Default for Gateway {
    fn default() -> Self {
        Self::new(Vec::new(), Policy::default(), Pricing::builtin())
    }
}

/// A provider's state as the gateway sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderStatus {
    /// Its name.
    pub name: String,
    /// Its default model.
    pub model: String,
    /// Whether its breaker is open.
    pub breaker_open: bool,
}

impl Gateway {
    /// A gateway over `providers`, tried in this order.
    pub fn new(providers: Vec<Arc<dyn LlmProvider>>, policy: Policy, pricing: Pricing) -> Self {
        Self {
            chain: providers
                .into_iter()
                .map(|p| Guarded::new(p, false))
                .collect(),
            last_resort: None,
            policy,
            pricing: Arc::new(pricing),
            name: Arc::from("gateway"),
        }
    }

    /// The same gateway with `provider` appended to the chain.
    pub fn with_provider(mut self, provider: Arc<dyn LlmProvider>) -> Self {
        let mut chain: Vec<_> = self.chain.iter().cloned().collect();
        chain.push(Guarded::new(provider, false));
        self.chain = chain.into();
        self
    }

    /// The same gateway with `provider` as the last resort: tried after every provider of the
    /// chain failed, and alone when the chain is empty. It has no breaker.
    pub fn with_last_resort(mut self, provider: Arc<dyn LlmProvider>) -> Self {
        self.last_resort = Some(Guarded::new(provider, true));
        self
    }

    /// The same gateway with `front` tried before its own chain (a tenant's own keys). The
    /// chain's breakers are shared with `self`.
    pub fn with_front(&self, front: &[Arc<dyn LlmProvider>]) -> Self {
        if front.is_empty() {
            return self.clone();
        }
        let mut chain: Vec<Arc<Guarded>> = front
            .iter()
            .map(|p| Guarded::new(p.clone(), false))
            .collect();
        chain.extend(
            self.chain
                .iter()
                .filter(|g| !front.iter().any(|f| f.name() == g.provider.name()))
                .cloned(),
        );
        Self {
            chain: chain.into(),
            ..self.clone()
        }
    }

    /// True when no provider and no last resort is configured: nothing can answer.
    pub fn is_empty(&self) -> bool {
        self.chain.is_empty() && self.last_resort.is_none()
    }

    /// The same chain without its last resort, or `None` when the chain is empty: for callers
    /// that need a real model (code or SQL writing) and have their own offline fallback.
    pub fn models_only(&self) -> Option<Self> {
        if self.chain.is_empty() {
            return None;
        }
        Some(Self {
            last_resort: None,
            ..self.clone()
        })
    }

    /// True when a last resort is set.
    pub fn has_last_resort(&self) -> bool {
        self.last_resort.is_some()
    }

    /// The chain's providers, in order, with their breaker state.
    pub fn status(&self) -> Vec<ProviderStatus> {
        self.chain
            .iter()
            .chain(self.last_resort.iter())
            .map(|g| ProviderStatus {
                name: g.provider.name().to_owned(),
                model: g.provider.default_model().to_owned(),
                breaker_open: g.is_open(),
            })
            .collect()
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The candidates for `request`, in the order to try them, each with the model to ask.
    fn candidates(&self, request: &ChatRequest) -> VecDeque<(Arc<Guarded>, Option<String>)> {
        let mut out = VecDeque::with_capacity(self.chain.len() + 1);
        match request.model.as_deref() {
            Some(model) => {
                let claims: Vec<_> = self
                    .chain
                    .iter()
                    .filter(|g| g.provider.supports_model(model))
                    .cloned()
                    .collect();
                if claims.is_empty() {
                    // Nobody claims it: the first provider gets it as named, the rest their own.
                    for (i, g) in self.chain.iter().enumerate() {
                        out.push_back((g.clone(), (i == 0).then(|| model.to_owned())));
                    }
                } else {
                    for g in &claims {
                        out.push_back((g.clone(), Some(model.to_owned())));
                    }
                    for g in self.chain.iter() {
                        if !claims.iter().any(|c| Arc::ptr_eq(c, g)) {
                            out.push_back((g.clone(), None));
                        }
                    }
                }
            }
            None => out.extend(self.chain.iter().map(|g| (g.clone(), None))),
        }
        if let Some(last) = &self.last_resort {
            out.push_back((last.clone(), None));
        }
        out
    }
}

/// The provider answering now.
struct Current {
    guard: Arc<Guarded>,
    model: String,
    stream: ChatStream,
}

/// One request's walk through the chain.
struct Run {
    policy: Policy,
    pricing: Arc<Pricing>,
    request: ChatRequest,
    queue: VecDeque<(Arc<Guarded>, Option<String>)>,
    /// Candidates that failed retryably, for the next round.
    retry: Vec<(Arc<Guarded>, Option<String>)>,
    round: u32,
    errors: Vec<LlmError>,
    deadline: Instant,
    current: Option<Current>,
    /// The provider being opened, while `attempt` waits for its first event.
    opening: Option<Arc<Guarded>>,
    pending: VecDeque<ChatEvent>,
    done: bool,
}

impl Drop for Run {
    fn drop(&mut self) {
        // Dropped mid-call (the caller went away): no verdict on the provider.
        if !self.done
            && let Some(cur) = &self.current
        {
            cur.guard.release_probe();
        }
        if let Some(g) = &self.opening {
            g.release_probe();
        }
    }
}

fn timeout_error(provider: &str, stage: &str) -> LlmError {
    LlmError::Timeout {
        provider: provider.to_owned(),
        stage: stage.to_owned(),
    }
}

impl Run {
    /// Opens the next provider that answers with a first event, walking the queue and the
    /// retry rounds. Failures are recorded in `errors`.
    async fn open_next(&mut self) -> Result<(Current, ChatEvent), LlmError> {
        loop {
            let Some((guard, model)) = self.queue.pop_front() else {
                if !self.next_round().await {
                    return Err(self.all_failed());
                }
                continue;
            };
            let now = Instant::now();
            if now >= self.deadline {
                self.errors
                    .push(timeout_error(guard.provider.name(), "total"));
                return Err(self.all_failed());
            }
            match guard.admit(now) {
                Admit::Yes => {}
                Admit::Open => {
                    self.errors.push(LlmError::CircuitOpen {
                        provider: guard.provider.name().to_owned(),
                    });
                    self.retry.push((guard, model));
                    continue;
                }
                Admit::Paused(left) => {
                    self.errors.push(LlmError::RateLimited {
                        provider: guard.provider.name().to_owned(),
                        retry_after_secs: Some(left.as_secs().max(1)),
                    });
                    self.retry.push((guard, model));
                    continue;
                }
            }
            let mut request = self.request.clone();
            request.model = model.clone();
            match attempt(
                &guard,
                request,
                self.policy.first_byte_timeout,
                self.deadline,
            )
            .await
            {
                Ok(ok) => return Ok(ok),
                Err(e) => {
                    tracing::info!(provider = guard.provider.name(), error = %e, "provider failed; trying the next");
                    guard.failed(&e, &self.policy);
                    if e.is_retryable() {
                        self.retry.push((guard, model));
                    }
                    self.errors.push(e);
                }
            }
        }
    }

    /// Starts the next retry round after a jittered backoff; false when none is left.
    async fn next_round(&mut self) -> bool {
        if self.retry.is_empty() || self.round >= self.policy.retries {
            return false;
        }
        self.round += 1;
        let exp = self
            .policy
            .backoff
            .saturating_mul(1u32 << self.round.saturating_sub(1).min(16));
        let cap = exp.min(self.policy.max_backoff);
        // Full jitter over [cap/2, cap].
        let jitter = cap.mul_f64(0.5 + rand::random::<f64>() * 0.5);
        let now = Instant::now();
        // Paused providers wait for their Retry-After if it fits in the backoff cap.
        let mut wait = jitter;
        let mut next = Vec::new();
        for (g, m) in std::mem::take(&mut self.retry) {
            match g.admit_peek(now) {
                Some(left) if left > self.policy.max_backoff => {}
                Some(left) => {
                    wait = wait.max(left);
                    next.push((g, m));
                }
                None => next.push((g, m)),
            }
        }
        if next.is_empty() || now + wait >= self.deadline {
            return false;
        }
        tokio::time::sleep(wait).await;
        self.queue.extend(next);
        true
    }

    fn all_failed(&mut self) -> LlmError {
        self.done = true;
        LlmError::AllFailed(std::mem::take(&mut self.errors))
    }

    /// Prices usage events and records a completed answer.
    fn on_event(&mut self, mut ev: ChatEvent) -> ChatEvent {
        match &mut ev {
            ChatEvent::Usage { usage } => {
                if usage.cost_usd == 0.0
                    && let Some(cur) = &self.current
                {
                    usage.cost_usd =
                        self.pricing
                            .cost(&cur.model, usage.input_tokens, usage.output_tokens);
                }
            }
            ChatEvent::Finish { .. } => {
                if let Some(cur) = &self.current {
                    cur.guard.succeeded();
                }
                self.done = true;
            }
            _ => {}
        }
        ev
    }

    async fn next_event(&mut self) -> Option<Result<ChatEvent, LlmError>> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Some(Ok(self.on_event(ev)));
            }
            if self.done {
                return None;
            }
            let cur = self.current.as_mut()?;
            let name = cur.guard.provider.name().to_owned();
            let left = self.deadline.saturating_duration_since(Instant::now());
            let (limit, stage) = if left < self.policy.idle_timeout {
                (left, "total")
            } else {
                (self.policy.idle_timeout, "idle")
            };
            let failure = match tokio::time::timeout(limit, cur.stream.next()).await {
                Ok(Some(Ok(ev))) => return Some(Ok(self.on_event(ev))),
                Ok(Some(Err(e))) => e,
                Ok(None) => LlmError::Malformed {
                    provider: name.clone(),
                    message: "the stream ended without finishing".to_owned(),
                },
                Err(_) => timeout_error(&name, stage),
            };
            // Mid-stream failure: never silent.
            tracing::warn!(provider = %name, error = %failure, "provider failed mid-answer");
            let guard = cur.guard.clone();
            guard.failed(&failure, &self.policy);
            let reason = failure.to_string();
            self.errors.push(failure);
            self.current = None;
            match self.open_next().await {
                Ok((next, first)) => {
                    self.pending.push_back(ChatEvent::Failover {
                        from: name,
                        to: next.guard.provider.name().to_owned(),
                        reason,
                    });
                    self.pending.push_back(first);
                    self.current = Some(next);
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// Sends `request` to one provider and waits for its first event, within the first-byte
/// timeout (and the total deadline).
async fn attempt(
    guard: &Arc<Guarded>,
    request: ChatRequest,
    first_byte: Duration,
    deadline: Instant,
) -> Result<(Current, ChatEvent), LlmError> {
    let name = guard.provider.name();
    let answered_model = request
        .model
        .clone()
        .unwrap_or_else(|| guard.provider.default_model().to_owned());
    let limit = first_byte.min(deadline.saturating_duration_since(Instant::now()));
    let first = tokio::time::timeout(limit, async {
        let mut stream = guard.provider.chat(request).await?;
        match stream.next().await {
            Some(Ok(ev)) => Ok((stream, ev)),
            Some(Err(e)) => Err(e),
            None => Err(LlmError::Malformed {
                provider: name.to_owned(),
                message: "the answer ended before it began".to_owned(),
            }),
        }
    })
    .await
    .map_err(|_| timeout_error(name, "first byte"))??;
    let (stream, ev) = first;
    Ok((
        Current {
            guard: guard.clone(),
            model: answered_model,
            stream,
        },
        ev,
    ))
}

impl Guarded {
    /// How long a rate-limit pause still lasts, without taking a probe slot.
    fn admit_peek(&self, now: Instant) -> Option<Duration> {
        let b = self.breaker.lock().ok()?;
        b.paused_until.filter(|u| *u > now).map(|u| u - now)
    }
}

#[async_trait]
impl LlmProvider for Gateway {
    fn name(&self) -> &str {
        &self.name
    }

    fn default_model(&self) -> &str {
        self.chain
            .first()
            .or(self.last_resort.as_ref())
            .map_or("", |g| g.provider.default_model())
    }

    fn supports_model(&self, model: &str) -> bool {
        self.chain.iter().any(|g| g.provider.supports_model(model))
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatStream, LlmError> {
        if self.is_empty() {
            return Err(LlmError::NotConfigured {
                provider: "gateway".to_owned(),
                message: "no language model provider is configured".to_owned(),
            });
        }
        let mut run = Run {
            policy: self.policy,
            pricing: self.pricing.clone(),
            queue: self.candidates(&request),
            request,
            retry: Vec::new(),
            round: 0,
            errors: Vec::new(),
            deadline: Instant::now() + self.policy.total_timeout,
            current: None,
            opening: None,
            pending: VecDeque::new(),
            done: false,
        };
        let (current, first) = run.open_next().await?;
        // Failures before the first event stay invisible, but are logged.
        run.errors.clear();
        run.current = Some(current);
        run.pending.push_back(first);
        Ok(Box::pin(futures::stream::unfold(
            run,
            |mut run| async move { run.next_event().await.map(|ev| (ev, run)) },
        )))
    }
}
