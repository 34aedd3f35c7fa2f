//! The behaviour suite every metadata backend passes. Each case makes its own tenant, so
//! cases share a database without seeing each other.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use quarry_core::{
    Artifact, ArtifactFilter, ArtifactId, ArtifactKind, Error, Event, ExecutionResult, HitlMode,
    Message, MessageId, MessageQuery, MetadataStore, NewSession, Plan, Role, Run, RunId, RunKind,
    RunStatus, SessionId, SessionPatch, SessionQuery, SessionStatus, TenantId, Turn, Usage, time,
};
use serde_json::json;

use crate::backends::Harness;

mod records;
mod sessions;

type Case = fn(Arc<Harness>) -> BoxFuture<'static, ()>;

macro_rules! cases {
    ($($module:ident :: $name:ident),* $(,)?) => {
        const CASES: &[(&str, Case)] = &[
            $((stringify!($name), |h| Box::pin($module::$name(h))),)*
        ];
    };
}

cases!(
    sessions::ping_and_backend_name,
    sessions::create_then_get_round_trips,
    sessions::duplicate_session_id_conflicts_within_a_tenant_only,
    sessions::list_is_newest_first_with_paging_status_and_total,
    sessions::update_applies_the_patch_and_bumps_updated_at,
    records::delete_cascades_and_returns_the_artifacts,
    records::tenants_cannot_see_or_touch_each_other,
    sessions::get_or_create_is_race_safe,
    records::messages_count_on_the_session_and_page_oldest_first,
    records::events_are_numbered_per_session_under_concurrency,
    records::runs_round_trip_and_finish_once,
    records::artifacts_round_trip_and_filter,
    records::missing_parents_are_not_found,
    sessions::data_survives_close_and_reopen,
    sessions::session_reads_follow_every_write,
);

/// Runs every case in its own task (so a failed assertion is caught and reported, and the
/// caller can clean up); returns the failures.
pub async fn run_suite(h: Arc<Harness>) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, case) in CASES {
        let outcome = tokio::spawn(case(h.clone())).await;
        match outcome {
            Ok(()) => eprintln!("[{}] {name} ... ok", h.name),
            Err(e) => {
                eprintln!("[{}] {name} ... FAILED", h.name);
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    eprintln!(
        "[{}] {} passed, {} failed",
        h.name,
        CASES.len() - failures.len(),
        failures.len()
    );
    failures
}

fn tenant() -> TenantId {
    TenantId::parse(&format!("t{:016x}", rand::random::<u64>())).unwrap()
}

fn sid(s: &str) -> SessionId {
    SessionId::parse(s).unwrap()
}

fn new_session(tenant: &TenantId, id: &str) -> NewSession {
    NewSession {
        id: sid(id),
        tenant_id: tenant.clone(),
        name: format!("session {id}"),
        model: None,
        hitl_mode: HitlMode::None,
    }
}

fn message(tenant: &TenantId, session: &SessionId, role: Role, text: &str) -> Message {
    Message {
        id: MessageId::generate(),
        tenant_id: tenant.clone(),
        session_id: session.clone(),
        role,
        content: text.to_owned(),
        timestamp: time::now(),
        metadata: json!({"has_code": false, "n": text.len()}),
    }
}

fn artifact(run: &Run, kind: ArtifactKind, name: &str) -> Artifact {
    let id = ArtifactId::generate();
    Artifact {
        storage_key: format!(
            "{}/{}/{}/{id}-{name}",
            run.tenant_id, run.session_id, run.id
        ),
        id,
        tenant_id: run.tenant_id.clone(),
        session_id: run.session_id.clone(),
        run_id: run.id.clone(),
        kind,
        name: name.to_owned(),
        media_type: "text/csv".to_owned(),
        size: 42,
        sha256: "ab".repeat(32),
        created_at: time::now(),
    }
}

fn is_not_found(e: &Error, what: &str) -> bool {
    matches!(e, Error::NotFound { kind, .. } if *kind == what)
}

#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(r: quarry_core::Result<T>, what: &str) {
    match r {
        Err(e) if is_not_found(&e, what) => {}
        other => panic!("expected {what} not found, got {other:?}"),
    }
}

/// Lets the clock move on, so timestamps taken before and after differ.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(3)).await;
}

/// A session with two runs, three artifacts, messages and events.
async fn populated(
    store: &Arc<dyn MetadataStore>,
    t: &TenantId,
    id: &str,
) -> (Vec<Run>, Vec<Artifact>) {
    let s = store.create_session(new_session(t, id)).await.unwrap();
    let mut runs = Vec::new();
    let mut artifacts = Vec::new();
    for kind in [RunKind::Data, RunKind::Chart] {
        let run = Run::start(t.clone(), s.id.clone(), kind);
        store.create_run(&run).await.unwrap();
        for name in ["a.csv", "b.json"] {
            let a = artifact(&run, ArtifactKind::Data, name);
            store.insert_artifact(&a).await.unwrap();
            artifacts.push(a);
        }
        store
            .append_event(t, &s.id, Some(&run.id), &Event::Done)
            .await
            .unwrap();
        runs.push(run);
    }
    store
        .append_message(&message(t, &s.id, Role::User, "hi"))
        .await
        .unwrap();
    (runs, artifacts)
}
