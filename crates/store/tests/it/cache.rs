//! The session cache over a real SQLite store: hits skip the store, and a read that raced a
//! write never installs what it read before the write.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use quarry_core::{
    Artifact, ArtifactFilter, ArtifactId, Event, EventRecord, HitlMode, Message, MessageQuery,
    MetadataStore, NewSession, Page, Result, Run, RunId, RunKind, RunStatus, Session, SessionId,
    SessionPatch, SessionQuery, TenantId,
};
use quarry_store::{CachedMetadataStore, MetadataOptions, SqlMetadataStore};
use tokio::sync::Notify;

/// Holds a call after the inner store answered, until released.
#[derive(Debug, Default)]
struct Gate {
    armed: AtomicBool,
    reached: Notify,
    release: Notify,
}

impl Gate {
    async fn pass(&self) {
        if self.armed.swap(false, Ordering::SeqCst) {
            self.reached.notify_one();
            self.release.notified().await;
        }
    }
}

/// Counts reads and can hold `list_sessions` and `create_session` midway.
#[derive(Debug)]
struct Probe {
    inner: SqlMetadataStore,
    lists: AtomicUsize,
    gets: AtomicUsize,
    list_gate: Gate,
    create_gate: Gate,
}

#[async_trait]
impl MetadataStore for Probe {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
    async fn create_session(&self, new: NewSession) -> Result<Session> {
        let r = self.inner.create_session(new).await;
        self.create_gate.pass().await;
        r
    }
    async fn get_or_create_session(&self, new: NewSession) -> Result<Session> {
        self.inner.get_or_create_session(new).await
    }
    async fn get_session(&self, tenant: &TenantId, id: &SessionId) -> Result<Session> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get_session(tenant, id).await
    }
    async fn list_sessions(
        &self,
        tenant: &TenantId,
        query: SessionQuery,
    ) -> Result<std::sync::Arc<Page<Session>>> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        let r = self.inner.list_sessions(tenant, query).await;
        self.list_gate.pass().await;
        r
    }
    async fn update_session(
        &self,
        t: &TenantId,
        id: &SessionId,
        p: &SessionPatch,
    ) -> Result<Session> {
        self.inner.update_session(t, id, p).await
    }
    async fn delete_session(&self, t: &TenantId, id: &SessionId) -> Result<Vec<Artifact>> {
        self.inner.delete_session(t, id).await
    }
    async fn create_run(&self, run: &Run) -> Result<()> {
        self.inner.create_run(run).await
    }
    async fn finish_run(
        &self,
        t: &TenantId,
        id: &RunId,
        status: RunStatus,
        summary: Option<&str>,
    ) -> Result<Run> {
        self.inner.finish_run(t, id, status, summary).await
    }
    async fn get_run(&self, t: &TenantId, id: &RunId) -> Result<Run> {
        self.inner.get_run(t, id).await
    }
    async fn insert_artifact(&self, a: &Artifact) -> Result<()> {
        self.inner.insert_artifact(a).await
    }
    async fn get_artifact(&self, t: &TenantId, id: &ArtifactId) -> Result<Artifact> {
        self.inner.get_artifact(t, id).await
    }
    async fn list_artifacts(&self, t: &TenantId, f: &ArtifactFilter) -> Result<Vec<Artifact>> {
        self.inner.list_artifacts(t, f).await
    }
    async fn delete_artifact(&self, t: &TenantId, id: &ArtifactId) -> Result<Artifact> {
        self.inner.delete_artifact(t, id).await
    }
    async fn append_message(&self, m: &Message) -> Result<()> {
        self.inner.append_message(m).await
    }
    async fn list_messages(
        &self,
        t: &TenantId,
        s: &SessionId,
        q: MessageQuery,
    ) -> Result<Page<Message>> {
        self.inner.list_messages(t, s, q).await
    }
    async fn append_event(
        &self,
        t: &TenantId,
        s: &SessionId,
        run: Option<&RunId>,
        e: &Event,
    ) -> Result<EventRecord> {
        self.inner.append_event(t, s, run, e).await
    }
    async fn list_events(
        &self,
        t: &TenantId,
        s: &SessionId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<EventRecord>> {
        self.inner.list_events(t, s, after, limit).await
    }
    async fn close(&self) {
        self.inner.close().await
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    probe: Arc<Probe>,
    cache: Arc<CachedMetadataStore>,
    tenant: TenantId,
}

async fn fixture(max_tenants: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/meta.db", dir.path().display());
    let inner = SqlMetadataStore::connect(&url, &MetadataOptions::default())
        .await
        .unwrap();
    let probe = Arc::new(Probe {
        inner,
        lists: AtomicUsize::new(0),
        gets: AtomicUsize::new(0),
        list_gate: Gate::default(),
        create_gate: Gate::default(),
    });
    let cache = Arc::new(CachedMetadataStore::new(probe.clone(), max_tenants));
    Fixture {
        _dir: dir,
        probe,
        cache,
        tenant: TenantId::parse("acme").unwrap(),
    }
}

fn new_session(tenant: &TenantId, id: &str) -> NewSession {
    NewSession {
        id: SessionId::parse(id).unwrap(),
        tenant_id: tenant.clone(),
        name: id.to_owned(),
        model: None,
        hitl_mode: HitlMode::None,
    }
}

fn ids(page: &Page<Session>) -> Vec<String> {
    page.items.iter().map(|s| s.id.to_string()).collect()
}

#[tokio::test]
async fn hits_skip_the_store_and_session_writes_invalidate() {
    let f = fixture(8).await;
    let (t, q) = (&f.tenant, SessionQuery::default());
    let a = f.cache.create_session(new_session(t, "a")).await.unwrap();
    let lists = || f.probe.lists.load(Ordering::SeqCst);
    let gets = || f.probe.gets.load(Ordering::SeqCst);

    f.cache.list_sessions(t, q).await.unwrap();
    f.cache.list_sessions(t, q).await.unwrap();
    assert_eq!(lists(), 1, "the second listing is a hit");
    f.cache.get_session(t, &a.id).await.unwrap();
    f.cache.get_session(t, &a.id).await.unwrap();
    assert_eq!(gets(), 1);

    // get_or_create of an existing session is a read: no invalidation.
    f.cache
        .get_or_create_session(new_session(t, "a"))
        .await
        .unwrap();
    f.cache.list_sessions(t, q).await.unwrap();
    assert_eq!((lists(), gets()), (1, 1));

    // Writes that leave sessions alone keep the cache.
    let run = Run::start(t.clone(), a.id.clone(), RunKind::Data);
    f.cache.create_run(&run).await.unwrap();
    f.cache
        .append_event(t, &a.id, Some(&run.id), &Event::Done)
        .await
        .unwrap();
    f.cache.list_sessions(t, q).await.unwrap();
    assert_eq!(lists(), 1);

    let message = Message {
        id: quarry_core::MessageId::generate(),
        tenant_id: t.clone(),
        session_id: a.id.clone(),
        role: quarry_core::Role::User,
        content: "hello".into(),
        timestamp: quarry_core::time::now(),
        metadata: serde_json::json!({}),
    };
    f.cache.append_message(&message).await.unwrap();
    assert_eq!(
        f.cache.get_session(t, &a.id).await.unwrap().message_count,
        1
    );
    assert_eq!(
        f.cache.list_sessions(t, q).await.unwrap().items[0].message_count,
        1
    );
    assert_eq!((lists(), gets()), (2, 2));

    let patch = SessionPatch {
        name: Some("renamed".into()),
        ..SessionPatch::default()
    };
    f.cache.update_session(t, &a.id, &patch).await.unwrap();
    assert_eq!(f.cache.get_session(t, &a.id).await.unwrap().name, "renamed");
    assert_eq!(
        f.cache.list_sessions(t, q).await.unwrap().items[0].name,
        "renamed"
    );

    f.cache
        .get_or_create_session(new_session(t, "b"))
        .await
        .unwrap();
    assert_eq!(ids(&f.cache.list_sessions(t, q).await.unwrap()), ["b", "a"]);

    f.cache.delete_session(t, &a.id).await.unwrap();
    assert!(f.cache.get_session(t, &a.id).await.is_err());
    assert_eq!(ids(&f.cache.list_sessions(t, q).await.unwrap()), ["b"]);

    // A write to another tenant leaves this tenant's entries alone.
    let before = lists();
    let other = TenantId::parse("other").unwrap();
    f.cache
        .create_session(new_session(&other, "x"))
        .await
        .unwrap();
    f.cache.list_sessions(t, q).await.unwrap();
    assert_eq!(lists(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_that_raced_a_write_installs_nothing() {
    let f = fixture(8).await;
    let (t, q) = (f.tenant.clone(), SessionQuery::default());
    f.cache
        .create_session(new_session(&t, "old"))
        .await
        .unwrap();

    // The reader reads before the write, then stalls until the write is done.
    f.probe.list_gate.armed.store(true, Ordering::SeqCst);
    let reader = {
        let cache = f.cache.clone();
        let t = t.clone();
        tokio::spawn(async move { cache.list_sessions(&t, q).await })
    };
    f.probe.list_gate.reached.notified().await;
    f.cache
        .create_session(new_session(&t, "new"))
        .await
        .unwrap();
    f.probe.list_gate.release.notify_one();
    let raced = reader.await.unwrap().unwrap();
    assert_eq!(ids(&raced), ["old"], "the racing read saw the old state");

    // Had the racing read been installed, this would still say ["old"].
    let lists = f.probe.lists.load(Ordering::SeqCst);
    let fresh = f.cache.list_sessions(&t, q).await.unwrap();
    assert_eq!(ids(&fresh), ["new", "old"]);
    assert_eq!(f.probe.lists.load(Ordering::SeqCst), lists + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_write_still_invalidates() {
    let f = fixture(8).await;
    let (t, q) = (f.tenant.clone(), SessionQuery::default());
    assert_eq!(f.cache.list_sessions(&t, q).await.unwrap().total, 0);

    // The create commits, then its caller goes away before it returns.
    f.probe.create_gate.armed.store(true, Ordering::SeqCst);
    let writer = {
        let cache = f.cache.clone();
        let t = t.clone();
        tokio::spawn(async move { cache.create_session(new_session(&t, "ghost")).await })
    };
    f.probe.create_gate.reached.notified().await;
    writer.abort();
    assert!(writer.await.unwrap_err().is_cancelled());

    let page = f.cache.list_sessions(&t, q).await.unwrap();
    assert_eq!(ids(&page), ["ghost"]);
}

#[tokio::test]
async fn many_tenants_stay_within_the_bound_and_correct() {
    let f = fixture(2).await;
    let q = SessionQuery::default();
    let tenants: Vec<TenantId> = (0..6)
        .map(|i| TenantId::parse(&format!("tenant{i}")).unwrap())
        .collect();
    for (i, t) in tenants.iter().enumerate() {
        f.cache
            .create_session(new_session(t, &format!("s{i}")))
            .await
            .unwrap();
    }
    for _ in 0..3 {
        for (i, t) in tenants.iter().enumerate() {
            let page = f.cache.list_sessions(t, q).await.unwrap();
            assert_eq!(ids(&page), [format!("s{i}")]);
        }
    }
    let debug = format!("{:?}", f.cache);
    assert!(
        debug.contains("tenants: 2") || debug.contains("tenants: 1"),
        "{debug}"
    );
}

#[tokio::test]
async fn closing_drops_the_cache() {
    let f = fixture(8).await;
    let t = f.tenant.clone();
    let s = f.cache.create_session(new_session(&t, "s")).await.unwrap();
    f.cache.get_session(&t, &s.id).await.unwrap();
    f.cache.close().await;
    let r = f.cache.get_session(&t, &s.id).await;
    assert!(
        matches!(r, Err(quarry_core::Error::Unavailable(_))),
        "{r:?}"
    );
}
