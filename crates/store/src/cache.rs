//! A read cache for session lookups and listings, so `GET /sessions` costs a hash lookup.
//!
//! Correct only while this process is the store's **sole writer**: every write goes through
//! the decorator, which drops the tenant's cached reads when it touches sessions. Another
//! process writing the same database would leave stale entries here, so the cache is opt-in
//! ([`crate::MetadataOptions::session_cache`]); the server enables it for its embedded SQLite
//! store, whose data directory it locks.
//!
//! A read that raced a write must not install what it read before the write: each tenant
//! has a generation, taken from one monotonic clock, that changes on every write and on
//! eviction. A read notes the generation before asking the store and installs its result
//! only if the generation is unchanged afterwards.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use quarry_core::{
    Artifact, ArtifactFilter, ArtifactId, Error, Event, EventRecord, Message, MessageQuery,
    MetadataStore, NewSession, Page, Result, Run, RunId, RunStatus, Session, SessionId,
    SessionPatch, SessionQuery, SessionStatus, TenantId,
};

/// Sessions held in all, across tenants and pages (a few hundred bytes each).
const MAX_CACHED_SESSIONS: usize = 50_000;
/// Sessions looked up by id, per tenant.
const MAX_SESSIONS_PER_TENANT: usize = 1_024;
/// Distinct listing pages, per tenant.
const MAX_PAGES_PER_TENANT: usize = 32;

type PageKey = (Option<SessionStatus>, u32, u32);

/// A [`MetadataStore`] decorator caching `get_session`, `list_sessions` and the
/// read-only path of `get_or_create_session` per tenant. See the module docs for when it is
/// correct.
pub struct CachedMetadataStore {
    inner: Arc<dyn MetadataStore>,
    state: Mutex<State>,
}

impl std::fmt::Debug for CachedMetadataStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("CachedMetadataStore")
            .field("inner", &self.inner)
            .field("tenants", &state.tenants.len())
            .field("sessions", &state.items)
            .finish()
    }
}

#[derive(Default)]
struct State {
    /// Source of generations; only grows.
    clock: u64,
    /// The generation of every tenant without an entry.
    floor: u64,
    tenants: HashMap<TenantId, TenantCache>,
    /// Sessions held across all entries.
    items: usize,
    max_tenants: usize,
    max_items: usize,
    closed: bool,
}

struct TenantCache {
    generation: u64,
    last_used: u64,
    sessions: HashMap<SessionId, Session>,
    pages: HashMap<PageKey, Arc<Page<Session>>>,
}

impl TenantCache {
    fn items(&self) -> usize {
        self.sessions.len() + self.pages.values().map(|p| p.items.len()).sum::<usize>()
    }
}

impl State {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn generation(&self, tenant: &TenantId) -> u64 {
        self.tenants
            .get(tenant)
            .map_or(self.floor, |t| t.generation)
    }

    fn touch(&mut self, tenant: &TenantId) -> Option<&mut TenantCache> {
        if self.closed {
            return None;
        }
        let now = self.tick();
        let entry = self.tenants.get_mut(tenant)?;
        entry.last_used = now;
        Some(entry)
    }

    /// Drops the least recently used tenant. Tenants without an entry share `floor`, so it
    /// moves on: a read of the evicted tenant that started earlier can no longer install.
    fn evict_one(&mut self) {
        let Some(victim) = self
            .tenants
            .iter()
            .min_by_key(|(_, t)| t.last_used)
            .map(|(id, _)| id.clone())
        else {
            return;
        };
        if let Some(t) = self.tenants.remove(&victim) {
            self.items -= t.items();
        }
        self.floor = self.tick();
    }

    /// The tenant's entry, made (with generation `generation`) when missing.
    fn entry(&mut self, tenant: &TenantId, generation: u64) -> &mut TenantCache {
        if !self.tenants.contains_key(tenant) {
            while self.tenants.len() >= self.max_tenants.max(1) {
                self.evict_one();
            }
        }
        let now = self.tick();
        let entry = self
            .tenants
            .entry(tenant.clone())
            .or_insert_with(|| TenantCache {
                generation,
                last_used: now,
                sessions: HashMap::new(),
                pages: HashMap::new(),
            });
        entry.last_used = now;
        entry
    }

    /// Whether a read that started at `generation` may install `added` more sessions; evicts
    /// other tenants to make room.
    fn may_install(&mut self, tenant: &TenantId, generation: u64, added: usize) -> bool {
        if self.closed || self.generation(tenant) != generation || added > self.max_items {
            return false;
        }
        while self.items + added > self.max_items {
            self.evict_one();
            if self.generation(tenant) != generation {
                // Evicted the tenant itself: its generation moved on.
                return false;
            }
        }
        true
    }

    fn install_session(&mut self, generation: u64, session: &Session) {
        let tenant = &session.tenant_id;
        if !self.may_install(tenant, generation, 1) {
            return;
        }
        let entry = self.entry(tenant, generation);
        let mut freed = 0;
        if entry.sessions.len() >= MAX_SESSIONS_PER_TENANT {
            freed = entry.sessions.len();
            entry.sessions.clear();
        }
        let replaced = entry
            .sessions
            .insert(session.id.clone(), session.clone())
            .is_some();
        self.items = self.items + usize::from(!replaced) - freed;
    }

    fn install_page(
        &mut self,
        tenant: &TenantId,
        generation: u64,
        key: PageKey,
        page: &Arc<Page<Session>>,
    ) {
        if !self.may_install(tenant, generation, page.items.len()) {
            return;
        }
        let entry = self.entry(tenant, generation);
        let mut freed = 0;
        if entry.pages.len() >= MAX_PAGES_PER_TENANT {
            freed = entry.pages.values().map(|p| p.items.len()).sum();
            entry.pages.clear();
        }
        let old = entry
            .pages
            .insert(key, Arc::clone(page))
            .map_or(0, |p| p.items.len());
        self.items = self.items + page.items.len() - old - freed;
    }

    /// Forgets the tenant's cached reads and moves its generation on.
    fn invalidate(&mut self, tenant: &TenantId) {
        let generation = self.tick();
        let entry = self.entry(tenant, generation);
        let freed = entry.items();
        entry.generation = generation;
        entry.sessions.clear();
        entry.pages.clear();
        self.items -= freed;
    }
}

/// Invalidates a tenant when dropped, so a write whose future is cancelled after the
/// database committed it still invalidates.
struct Invalidate<'a> {
    cache: &'a CachedMetadataStore,
    tenant: &'a TenantId,
}

impl Drop for Invalidate<'_> {
    fn drop(&mut self) {
        self.cache.lock().invalidate(self.tenant);
    }
}

impl CachedMetadataStore {
    /// Wraps `inner`, caching the sessions of at most `max_tenants` tenants.
    pub fn new(inner: Arc<dyn MetadataStore>, max_tenants: usize) -> Self {
        Self {
            inner,
            state: Mutex::new(State {
                max_tenants,
                max_items: MAX_CACHED_SESSIONS,
                ..State::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent after every statement, so a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn writing<'a>(&'a self, tenant: &'a TenantId) -> Invalidate<'a> {
        Invalidate {
            cache: self,
            tenant,
        }
    }

    async fn cached_get(&self, tenant: &TenantId, id: &SessionId) -> Result<Session> {
        let generation = {
            let mut state = self.lock();
            if let Some(hit) = state.touch(tenant).and_then(|t| t.sessions.get(id)) {
                return Ok(hit.clone());
            }
            state.generation(tenant)
        };
        let session = self.inner.get_session(tenant, id).await?;
        self.lock().install_session(generation, &session);
        Ok(session)
    }
}

#[async_trait]
impl MetadataStore for CachedMetadataStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }

    async fn create_session(&self, new: NewSession) -> Result<Session> {
        let tenant = new.tenant_id.clone();
        let _invalidate = self.writing(&tenant);
        self.inner.create_session(new).await
    }

    async fn get_or_create_session(&self, new: NewSession) -> Result<Session> {
        match self.cached_get(&new.tenant_id, &new.id).await {
            Err(Error::NotFound { .. }) => {}
            found => return found,
        }
        let tenant = new.tenant_id.clone();
        let _invalidate = self.writing(&tenant);
        self.inner.get_or_create_session(new).await
    }

    async fn get_session(&self, tenant: &TenantId, id: &SessionId) -> Result<Session> {
        self.cached_get(tenant, id).await
    }

    async fn list_sessions(
        &self,
        tenant: &TenantId,
        query: SessionQuery,
    ) -> Result<Arc<Page<Session>>> {
        let key = (query.status, query.limit, query.offset);
        let generation = {
            let mut state = self.lock();
            if let Some(hit) = state.touch(tenant).and_then(|t| t.pages.get(&key)) {
                return Ok(hit.clone());
            }
            state.generation(tenant)
        };
        let page = self.inner.list_sessions(tenant, query).await?;
        self.lock().install_page(tenant, generation, key, &page);
        Ok(page)
    }

    async fn update_session(
        &self,
        tenant: &TenantId,
        id: &SessionId,
        patch: &SessionPatch,
    ) -> Result<Session> {
        let _invalidate = self.writing(tenant);
        self.inner.update_session(tenant, id, patch).await
    }

    async fn delete_session(&self, tenant: &TenantId, id: &SessionId) -> Result<Vec<Artifact>> {
        let _invalidate = self.writing(tenant);
        self.inner.delete_session(tenant, id).await
    }

    async fn create_run(&self, run: &Run) -> Result<()> {
        self.inner.create_run(run).await
    }

    async fn finish_run(
        &self,
        tenant: &TenantId,
        id: &RunId,
        status: RunStatus,
        summary: Option<&str>,
    ) -> Result<Run> {
        self.inner.finish_run(tenant, id, status, summary).await
    }

    async fn get_run(&self, tenant: &TenantId, id: &RunId) -> Result<Run> {
        self.inner.get_run(tenant, id).await
    }

    async fn insert_artifact(&self, artifact: &Artifact) -> Result<()> {
        self.inner.insert_artifact(artifact).await
    }

    async fn get_artifact(&self, tenant: &TenantId, id: &ArtifactId) -> Result<Artifact> {
        self.inner.get_artifact(tenant, id).await
    }

    async fn list_artifacts(
        &self,
        tenant: &TenantId,
        filter: &ArtifactFilter,
    ) -> Result<Vec<Artifact>> {
        self.inner.list_artifacts(tenant, filter).await
    }

    async fn delete_artifact(&self, tenant: &TenantId, id: &ArtifactId) -> Result<Artifact> {
        self.inner.delete_artifact(tenant, id).await
    }

    async fn append_message(&self, message: &Message) -> Result<()> {
        // Changes the session's message_count and updated_at.
        let _invalidate = self.writing(&message.tenant_id);
        self.inner.append_message(message).await
    }

    async fn list_messages(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        query: MessageQuery,
    ) -> Result<Page<Message>> {
        self.inner.list_messages(tenant, session, query).await
    }

    async fn append_event(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        run: Option<&RunId>,
        event: &Event,
    ) -> Result<EventRecord> {
        // Events change no field of the session record.
        self.inner.append_event(tenant, session, run, event).await
    }

    async fn list_events(
        &self,
        tenant: &TenantId,
        session: &SessionId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<EventRecord>> {
        self.inner
            .list_events(tenant, session, after_seq, limit)
            .await
    }

    async fn close(&self) {
        {
            let mut state = self.lock();
            state.closed = true;
            state.tenants.clear();
            state.items = 0;
        }
        self.inner.close().await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use quarry_core::{HitlMode, time};

    use super::*;

    fn state(max_tenants: usize, max_items: usize) -> State {
        State {
            max_tenants,
            max_items,
            ..State::default()
        }
    }

    fn tenant(n: usize) -> TenantId {
        TenantId::parse(&format!("t{n}")).unwrap()
    }

    fn session(t: &TenantId, id: &str) -> Session {
        let now = time::now();
        Session {
            id: SessionId::parse(id).unwrap(),
            tenant_id: t.clone(),
            name: id.to_owned(),
            status: SessionStatus::Active,
            model: None,
            hitl_mode: HitlMode::None,
            created_at: now,
            updated_at: now,
            message_count: 0,
            kernel_variables: 0,
        }
    }

    fn page(t: &TenantId, n: usize) -> Page<Session> {
        let items: Vec<_> = (0..n).map(|i| session(t, &format!("s{i}"))).collect();
        Page {
            total: items.len() as u64,
            items,
        }
    }

    fn counted(s: &State) -> usize {
        s.tenants.values().map(TenantCache::items).sum()
    }

    fn cached(s: &mut State, t: &TenantId, id: &str) -> bool {
        let id = SessionId::parse(id).unwrap();
        s.touch(t).is_some_and(|c| c.sessions.contains_key(&id))
    }

    #[test]
    fn a_read_from_before_a_write_does_not_install() {
        let mut s = state(8, 100);
        let t = tenant(1);
        let before = s.generation(&t);
        s.invalidate(&t);
        s.install_session(before, &session(&t, "a"));
        assert!(!cached(&mut s, &t, "a"));
        let now = s.generation(&t);
        s.install_session(now, &session(&t, "a"));
        assert!(cached(&mut s, &t, "a"));
        s.invalidate(&t);
        assert!(!cached(&mut s, &t, "a"));
        assert_eq!(s.items, 0);
    }

    #[test]
    fn eviction_moves_generations_on_and_drops_the_least_recently_used() {
        let mut s = state(2, 100);
        let (a, b, c) = (tenant(1), tenant(2), tenant(3));
        for t in [&a, &b] {
            let g = s.generation(t);
            s.install_session(g, &session(t, "x"));
        }
        assert!(cached(&mut s, &a, "x"), "touching a makes b the oldest");
        let stale_b = s.generation(&b);
        let stale_c = s.generation(&c);
        s.install_session(stale_c, &session(&c, "x"));
        assert_eq!(s.tenants.len(), 2);
        assert!(cached(&mut s, &a, "x") && cached(&mut s, &c, "x"));
        assert!(!s.tenants.contains_key(&b));
        // A read of b that started before its eviction must not come back in.
        s.install_session(stale_b, &session(&b, "x"));
        assert!(!s.tenants.contains_key(&b));
        assert_eq!(s.items, counted(&s));
    }

    #[test]
    fn an_absent_tenant_written_then_evicted_still_refuses_old_reads() {
        let mut s = state(1, 100);
        let (a, b) = (tenant(1), tenant(2));
        let old_read = s.generation(&a);
        s.invalidate(&a); // a write to a, making an empty entry
        let g = s.generation(&b);
        s.install_session(g, &session(&b, "x")); // evicts a
        assert!(!s.tenants.contains_key(&a));
        s.install_session(old_read, &session(&a, "x"));
        assert!(!s.tenants.contains_key(&a));
    }

    #[test]
    fn the_item_budget_holds() {
        let mut s = state(100, 10);
        for n in 0..5 {
            let t = tenant(n);
            let g = s.generation(&t);
            s.install_page(&t, g, (None, 50, 0), &Arc::new(page(&t, 4)));
            assert!(s.items <= 10, "{}", s.items);
            assert_eq!(s.items, counted(&s));
        }
        let t = tenant(9);
        let g = s.generation(&t);
        s.install_page(&t, g, (None, 50, 0), &Arc::new(page(&t, 11)));
        assert!(
            !s.tenants.contains_key(&t),
            "a page over the budget is not cached"
        );
        // Re-installing the same page replaces it without double counting.
        let t = tenant(4);
        let g = s.generation(&t);
        s.install_page(&t, g, (None, 50, 0), &Arc::new(page(&t, 3)));
        assert_eq!(s.items, counted(&s));
    }

    #[test]
    fn per_tenant_maps_are_bounded() {
        let mut s = state(4, MAX_CACHED_SESSIONS);
        let t = tenant(1);
        for i in 0..MAX_SESSIONS_PER_TENANT + 5 {
            let g = s.generation(&t);
            s.install_session(g, &session(&t, &format!("s{i}")));
        }
        for i in 0..MAX_PAGES_PER_TENANT + 5 {
            let g = s.generation(&t);
            let offset = u32::try_from(i).unwrap();
            s.install_page(&t, g, (None, 1, offset), &Arc::new(page(&t, 1)));
        }
        let entry = &s.tenants[&t];
        assert!(entry.sessions.len() <= MAX_SESSIONS_PER_TENANT);
        assert!(entry.pages.len() <= MAX_PAGES_PER_TENANT);
        assert_eq!(s.items, counted(&s));
    }
}
