//! Cases about sessions themselves: creating, listing, updating, racing, restarting.

use super::*;

pub(super) async fn ping_and_backend_name(h: Arc<Harness>) {
    let store = h.open().await;
    store.ping().await.unwrap();
    assert_eq!(store.backend(), h.backend());
    store.close().await;
}

pub(super) async fn create_then_get_round_trips(h: Arc<Harness>) {
    let store = h.open().await;
    let t = tenant();
    let mut new = new_session(&t, "20260112_215333_b5537c");
    new.model = Some("gpt-4o".into());
    new.hitl_mode = HitlMode::PlanAndAnswer;
    new.name = "Ünïcode 'quotes' \"and\" ; DROP TABLE sessions; --".into();
    let created = store.create_session(new.clone()).await.unwrap();
    assert_eq!(created.id, new.id);
    assert_eq!(created.tenant_id, t);
    assert_eq!(created.name, new.name);
    assert_eq!(created.status, SessionStatus::Active);
    assert_eq!(created.model.as_deref(), Some("gpt-4o"));
    assert_eq!(created.hitl_mode, HitlMode::PlanAndAnswer);
    assert_eq!(created.message_count, 0);
    assert_eq!(created.kernel_variables, 0);
    assert_eq!(created.created_at, created.updated_at);
    let got = store.get_session(&t, &new.id).await.unwrap();
    assert_eq!(got, created);
    assert_not_found(store.get_session(&t, &sid("nope")).await, "session");
    store.close().await;
}

pub(super) async fn duplicate_session_id_conflicts_within_a_tenant_only(h: Arc<Harness>) {
    let store = h.open().await;
    let (a, b) = (tenant(), tenant());
    store.create_session(new_session(&a, "dup")).await.unwrap();
    let again = store.create_session(new_session(&a, "dup")).await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    // Another tenant has its own id space and learns nothing about the first one's.
    let other = store.create_session(new_session(&b, "dup")).await.unwrap();
    assert_eq!(other.tenant_id, b);
    assert_eq!(
        store
            .list_sessions(&a, SessionQuery::default())
            .await
            .unwrap()
            .total,
        1
    );
    store.close().await;
}

pub(super) async fn list_is_newest_first_with_paging_status_and_total(h: Arc<Harness>) {
    let store = h.open().await;
    let t = tenant();
    for i in 0..5 {
        store
            .create_session(new_session(&t, &format!("s{i:02}")))
            .await
            .unwrap();
    }
    let ids = |page: &quarry_core::Page<quarry_core::Session>| {
        page.items
            .iter()
            .map(|s| s.id.to_string())
            .collect::<Vec<_>>()
    };
    let q = |status, limit, offset| SessionQuery {
        status,
        limit,
        offset,
    };
    let all = store
        .list_sessions(&t, SessionQuery::default())
        .await
        .unwrap();
    assert_eq!(ids(&all), ["s04", "s03", "s02", "s01", "s00"]);
    assert_eq!(all.total, 5);
    let first = store.list_sessions(&t, q(None, 2, 0)).await.unwrap();
    assert_eq!(
        (ids(&first), first.total),
        (vec!["s04".into(), "s03".into()], 5)
    );
    assert!(first.has_more(0));
    let middle = store.list_sessions(&t, q(None, 2, 2)).await.unwrap();
    assert_eq!(
        (ids(&middle), middle.total),
        (vec!["s02".into(), "s01".into()], 5)
    );
    let last = store.list_sessions(&t, q(None, 2, 4)).await.unwrap();
    assert_eq!((ids(&last), last.total), (vec!["s00".into()], 5));
    assert!(!last.has_more(4));
    let past = store.list_sessions(&t, q(None, 2, 10)).await.unwrap();
    assert_eq!((past.items.len(), past.total), (0, 5));
    let none = store.list_sessions(&t, q(None, 0, 0)).await.unwrap();
    assert_eq!((none.items.len(), none.total), (0, 5));

    for id in ["s01", "s03"] {
        let patch = SessionPatch {
            status: Some(SessionStatus::Archived),
            ..SessionPatch::default()
        };
        store.update_session(&t, &sid(id), &patch).await.unwrap();
    }
    let archived = store
        .list_sessions(&t, q(Some(SessionStatus::Archived), 50, 0))
        .await
        .unwrap();
    assert_eq!(
        (ids(&archived), archived.total),
        (vec!["s03".into(), "s01".into()], 2)
    );
    let active = store
        .list_sessions(&t, q(Some(SessionStatus::Active), 1, 1))
        .await
        .unwrap();
    assert_eq!((ids(&active), active.total), (vec!["s02".into()], 3));
    let paused = store
        .list_sessions(&t, q(Some(SessionStatus::Paused), 50, 0))
        .await
        .unwrap();
    assert_eq!((paused.items.len(), paused.total), (0, 0));
    store.close().await;
}

pub(super) async fn update_applies_the_patch_and_bumps_updated_at(h: Arc<Harness>) {
    let store = h.open().await;
    let t = tenant();
    let s = store.create_session(new_session(&t, "upd")).await.unwrap();
    tick().await;
    let patch = SessionPatch {
        name: Some("renamed".into()),
        status: Some(SessionStatus::Paused),
        model: Some(Some("claude".into())),
        hitl_mode: Some(HitlMode::Full),
        kernel_variables: Some(7),
    };
    let u = store.update_session(&t, &s.id, &patch).await.unwrap();
    assert_eq!(u.name, "renamed");
    assert_eq!(u.status, SessionStatus::Paused);
    assert_eq!(u.model.as_deref(), Some("claude"));
    assert_eq!(u.hitl_mode, HitlMode::Full);
    assert_eq!(u.kernel_variables, 7);
    assert_eq!(u.created_at, s.created_at);
    assert!(u.updated_at > s.updated_at);
    assert_eq!(store.get_session(&t, &s.id).await.unwrap(), u);

    tick().await;
    let clear = SessionPatch {
        model: Some(None),
        ..SessionPatch::default()
    };
    let c = store.update_session(&t, &s.id, &clear).await.unwrap();
    assert_eq!(c.model, None);
    assert_eq!(c.name, "renamed");
    assert!(c.updated_at > u.updated_at);

    tick().await;
    let touched = store
        .update_session(&t, &s.id, &SessionPatch::default())
        .await
        .unwrap();
    assert!(touched.updated_at > c.updated_at);
    assert_not_found(
        store
            .update_session(&t, &sid("missing"), &SessionPatch::default())
            .await,
        "session",
    );
    store.close().await;
}

pub(super) async fn get_or_create_is_race_safe(h: Arc<Harness>) {
    let store = h.open().await;
    let t = tenant();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let store = store.clone();
        let mut new = new_session(&t, quarry_core::DEFAULT_SESSION_ID);
        new.name = format!("caller {i}");
        tasks.spawn(async move { store.get_or_create_session(new).await });
    }
    let mut sessions = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        sessions.push(joined.unwrap().unwrap());
    }
    assert_eq!(sessions.len(), 16);
    assert!(
        sessions.iter().all(|s| *s == sessions[0]),
        "one session for all"
    );
    let page = store
        .list_sessions(&t, SessionQuery::default())
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0], sessions[0]);

    // An existing session is returned as stored, not rewritten.
    let mut later = new_session(&t, quarry_core::DEFAULT_SESSION_ID);
    later.name = "someone else".into();
    let same = store.get_or_create_session(later).await.unwrap();
    assert_eq!(same, sessions[0]);
    store.close().await;
}

pub(super) async fn data_survives_close_and_reopen(h: Arc<Harness>) {
    let t = tenant();
    let store = h.open().await;
    let s = store
        .create_session(new_session(&t, "durable"))
        .await
        .unwrap();
    store
        .append_message(&message(&t, &s.id, Role::User, "remember me"))
        .await
        .unwrap();
    store
        .append_event(&t, &s.id, None, &Event::Done)
        .await
        .unwrap();
    let before = store.get_session(&t, &s.id).await.unwrap();
    store.close().await;
    let closed = store.get_session(&t, &s.id).await;
    assert!(matches!(closed, Err(Error::Unavailable(_))), "{closed:?}");
    let closed = store.list_sessions(&t, SessionQuery::default()).await;
    assert!(matches!(closed, Err(Error::Unavailable(_))), "{closed:?}");

    let store = h.open().await;
    assert_eq!(store.get_session(&t, &s.id).await.unwrap(), before);
    let page = store
        .list_messages(
            &t,
            &s.id,
            MessageQuery {
                role: None,
                limit: 10,
                offset: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items[0].content, "remember me");
    let next = store
        .append_event(&t, &s.id, None, &Event::Done)
        .await
        .unwrap();
    assert_eq!(next.seq, 2, "numbering continues after a restart");
    store.close().await;
}

/// What the session cache must get right, and any store too: every write that changes a
/// session shows in the next read.
pub(super) async fn session_reads_follow_every_write(h: Arc<Harness>) {
    let store = h.open().await;
    let t = tenant();
    let all = SessionQuery::default();
    assert_eq!(store.list_sessions(&t, all).await.unwrap().total, 0);
    let s = store.create_session(new_session(&t, "a")).await.unwrap();
    assert_eq!(
        store.list_sessions(&t, all).await.unwrap().items,
        std::slice::from_ref(&s)
    );
    assert_eq!(store.get_session(&t, &s.id).await.unwrap(), s);

    let b = store
        .get_or_create_session(new_session(&t, "b"))
        .await
        .unwrap();
    assert_eq!(store.list_sessions(&t, all).await.unwrap().total, 2);
    assert_eq!(store.get_session(&t, &b.id).await.unwrap(), b);

    store
        .append_message(&message(&t, &s.id, Role::User, "x"))
        .await
        .unwrap();
    assert_eq!(store.get_session(&t, &s.id).await.unwrap().message_count, 1);
    let listed = store.list_sessions(&t, all).await.unwrap();
    assert_eq!(
        listed
            .items
            .iter()
            .find(|x| x.id == s.id)
            .unwrap()
            .message_count,
        1
    );

    let patch = SessionPatch {
        status: Some(SessionStatus::Completed),
        ..SessionPatch::default()
    };
    store.update_session(&t, &s.id, &patch).await.unwrap();
    assert_eq!(
        store.get_session(&t, &s.id).await.unwrap().status,
        SessionStatus::Completed
    );
    let done = SessionQuery {
        status: Some(SessionStatus::Completed),
        ..all
    };
    assert_eq!(store.list_sessions(&t, done).await.unwrap().total, 1);

    store.delete_session(&t, &s.id).await.unwrap();
    assert_not_found(store.get_session(&t, &s.id).await, "session");
    assert_eq!(
        store.list_sessions(&t, all).await.unwrap().items,
        std::slice::from_ref(&b)
    );
    assert_eq!(store.list_sessions(&t, done).await.unwrap().total, 0);

    // Writes of other tenants, and writes that leave sessions alone, change nothing here.
    let stranger = tenant();
    store
        .create_session(new_session(&stranger, "z"))
        .await
        .unwrap();
    let run = Run::start(t.clone(), b.id.clone(), RunKind::Data);
    store.create_run(&run).await.unwrap();
    store
        .append_event(&t, &b.id, Some(&run.id), &Event::Done)
        .await
        .unwrap();
    assert_eq!(
        store.list_sessions(&t, all).await.unwrap().items,
        std::slice::from_ref(&b)
    );
    assert_eq!(store.get_session(&t, &b.id).await.unwrap(), b);
    store.close().await;
}
