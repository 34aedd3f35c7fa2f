//! Cases about what sessions hold: runs, artifacts, messages, events, and who may see them.

use super::*;

pub(super) async fn delete_cascades_and_returns_the_artifacts(h: Arc<Harness>) {
    let store = h.open().await;
    let t = tenant();
    let (runs, artifacts) = populated(&store, &t, "doomed").await;
    let (_, kept_artifacts) = populated(&store, &t, "kept").await;
    let id = sid("doomed");

    let deleted = store.delete_session(&t, &id).await.unwrap();
    assert_eq!(deleted, artifacts, "every artifact, oldest first");
    assert_not_found(store.get_session(&t, &id).await, "session");
    for run in &runs {
        assert_not_found(store.get_run(&t, &run.id).await, "run");
    }
    for a in &artifacts {
        assert_not_found(store.get_artifact(&t, &a.id).await, "artifact");
    }
    let filter = ArtifactFilter {
        session_id: Some(id.clone()),
        ..ArtifactFilter::default()
    };
    assert!(store.list_artifacts(&t, &filter).await.unwrap().is_empty());
    assert_not_found(
        store
            .list_messages(
                &t,
                &id,
                MessageQuery {
                    role: None,
                    limit: 10,
                    offset: 0,
                },
            )
            .await,
        "session",
    );
    assert_not_found(store.list_events(&t, &id, 0, 10).await, "session");
    assert_not_found(store.delete_session(&t, &id).await, "session");

    // The other session is untouched.
    let kept = store
        .list_artifacts(&t, &ArtifactFilter::default())
        .await
        .unwrap();
    assert_eq!(kept, kept_artifacts);
    assert_eq!(
        store
            .list_events(&t, &sid("kept"), 0, 10)
            .await
            .unwrap()
            .len(),
        2
    );

    // The id can be reused, and nothing of the old session comes back with it.
    let again = store
        .create_session(new_session(&t, "doomed"))
        .await
        .unwrap();
    assert_eq!(again.message_count, 0);
    let first = store
        .append_event(&t, &id, None, &Event::Done)
        .await
        .unwrap();
    assert_eq!(first.seq, 1);
    let page = store
        .list_messages(
            &t,
            &id,
            MessageQuery {
                role: None,
                limit: 10,
                offset: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.total, 0);
    store.close().await;
}

pub(super) async fn tenants_cannot_see_or_touch_each_other(h: Arc<Harness>) {
    let store = h.open().await;
    let (owner, other) = (tenant(), tenant());
    let (runs, artifacts) = populated(&store, &owner, "private").await;
    let id = sid("private");
    let run = &runs[0];
    let art = &artifacts[0];
    let mq = MessageQuery {
        role: None,
        limit: 10,
        offset: 0,
    };

    assert_not_found(store.get_session(&other, &id).await, "session");
    let page = store
        .list_sessions(&other, SessionQuery::default())
        .await
        .unwrap();
    assert_eq!((page.items.len(), page.total), (0, 0));
    assert_not_found(
        store
            .update_session(
                &other,
                &id,
                &SessionPatch {
                    name: Some("x".into()),
                    ..SessionPatch::default()
                },
            )
            .await,
        "session",
    );
    assert_not_found(store.delete_session(&other, &id).await, "session");
    let foreign_run = Run::start(other.clone(), id.clone(), RunKind::Data);
    assert_not_found(store.create_run(&foreign_run).await, "session");
    assert_not_found(
        store
            .finish_run(&other, &run.id, RunStatus::Failed, None)
            .await,
        "run",
    );
    assert_not_found(store.get_run(&other, &run.id).await, "run");
    let mut foreign_artifact = artifact(run, ArtifactKind::Chart, "c.html");
    foreign_artifact.tenant_id = other.clone();
    assert_not_found(store.insert_artifact(&foreign_artifact).await, "run");
    assert_not_found(store.get_artifact(&other, &art.id).await, "artifact");
    for filter in [
        ArtifactFilter::default(),
        ArtifactFilter {
            session_id: Some(id.clone()),
            ..ArtifactFilter::default()
        },
        ArtifactFilter {
            run_id: Some(run.id.clone()),
            ..ArtifactFilter::default()
        },
    ] {
        assert!(
            store
                .list_artifacts(&other, &filter)
                .await
                .unwrap()
                .is_empty()
        );
    }
    assert_not_found(store.delete_artifact(&other, &art.id).await, "artifact");
    assert_not_found(
        store
            .append_message(&message(&other, &id, Role::User, "sneaky"))
            .await,
        "session",
    );
    assert_not_found(store.list_messages(&other, &id, mq).await, "session");
    assert_not_found(
        store.append_event(&other, &id, None, &Event::Done).await,
        "session",
    );
    assert_not_found(store.list_events(&other, &id, 0, 10).await, "session");

    // get_or_create with the same id makes the other tenant its own session.
    let theirs = store
        .get_or_create_session(new_session(&other, "private"))
        .await
        .unwrap();
    assert_eq!(theirs.tenant_id, other);
    assert_eq!(theirs.message_count, 0);

    // And the owner's data is intact.
    let mine = store.get_session(&owner, &id).await.unwrap();
    assert_eq!(mine.message_count, 1);
    assert_eq!(mine.name, "session private");
    assert_eq!(
        store.get_run(&owner, &run.id).await.unwrap().status,
        RunStatus::Running
    );
    assert_eq!(store.get_artifact(&owner, &art.id).await.unwrap(), *art);
    assert_eq!(
        store.list_events(&owner, &id, 0, 10).await.unwrap().len(),
        2
    );
    assert_eq!(store.list_messages(&owner, &id, mq).await.unwrap().total, 1);
    store.close().await;
}

pub(super) async fn messages_count_on_the_session_and_page_oldest_first(h: Arc<Harness>) {
    let store = h.open().await;
    let t = tenant();
    let s = store.create_session(new_session(&t, "chat")).await.unwrap();
    let roles = [
        Role::User,
        Role::Assistant,
        Role::Execution,
        Role::User,
        Role::Assistant,
    ];
    let mut sent = Vec::new();
    for (i, role) in roles.into_iter().enumerate() {
        tick().await;
        let m = message(&t, &s.id, role, &format!("message {i}"));
        store.append_message(&m).await.unwrap();
        sent.push(m);
    }
    let after = store.get_session(&t, &s.id).await.unwrap();
    assert_eq!(after.message_count, 5);
    assert!(after.updated_at > s.updated_at);

    let all = store
        .list_messages(
            &t,
            &s.id,
            MessageQuery {
                role: None,
                limit: 100,
                offset: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(all.items, sent, "oldest first, every field round trips");
    assert_eq!(all.total, 5);
    let page = store
        .list_messages(
            &t,
            &s.id,
            MessageQuery {
                role: None,
                limit: 2,
                offset: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!((page.items.as_slice(), page.total), (&sent[1..3], 5));
    let users = store
        .list_messages(
            &t,
            &s.id,
            MessageQuery {
                role: Some(Role::User),
                limit: 1,
                offset: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!((users.items.as_slice(), users.total), (&sent[0..1], 2));
    let past = store
        .list_messages(
            &t,
            &s.id,
            MessageQuery {
                role: Some(Role::Assistant),
                limit: 5,
                offset: 9,
            },
        )
        .await
        .unwrap();
    assert_eq!((past.items.len(), past.total), (0, 2));

    // A duplicate id is a conflict and counts nothing: the count and the row share a
    // transaction.
    let dup = store.append_message(&sent[0]).await;
    assert!(matches!(dup, Err(Error::Conflict(_))), "{dup:?}");
    assert_eq!(store.get_session(&t, &s.id).await.unwrap().message_count, 5);
    assert_not_found(
        store
            .append_message(&message(&t, &sid("ghost"), Role::User, "x"))
            .await,
        "session",
    );
    store.close().await;
}

pub(super) async fn events_are_numbered_per_session_under_concurrency(h: Arc<Harness>) {
    let store = h.open().await;
    let t = tenant();
    let s = store
        .create_session(new_session(&t, "events"))
        .await
        .unwrap();
    let other = store
        .create_session(new_session(&t, "events2"))
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32 {
        let (store, t, id) = (store.clone(), t.clone(), s.id.clone());
        tasks.spawn(async move {
            let e = Event::AssistantDelta {
                text: format!("chunk {i}"),
            };
            store.append_event(&t, &id, None, &e).await
        });
    }
    let mut seqs = BTreeSet::new();
    while let Some(joined) = tasks.join_next().await {
        let record = joined.unwrap().unwrap();
        assert!(
            seqs.insert(record.seq),
            "seq {} handed out twice",
            record.seq
        );
    }
    assert_eq!(seqs, (1..=32).collect::<BTreeSet<u64>>());

    let listed = store.list_events(&t, &s.id, 0, 100).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=32).collect::<Vec<u64>>()
    );
    let tail = store.list_events(&t, &s.id, 30, 100).await.unwrap();
    assert_eq!(tail.iter().map(|r| r.seq).collect::<Vec<_>>(), [31, 32]);
    assert_eq!(store.list_events(&t, &s.id, 0, 5).await.unwrap().len(), 5);
    assert!(
        store
            .list_events(&t, &s.id, 32, 5)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_events(&t, &s.id, u64::MAX, 5)
            .await
            .unwrap()
            .is_empty()
    );

    // Every variant survives the JSON round trip, with its run.
    let run = Run::start(t.clone(), other.id.clone(), RunKind::Python);
    store.create_run(&run).await.unwrap();
    let turn = Turn {
        round: 2,
        // Turns carry wire timestamps (milliseconds), as every surface shows them.
        timestamp: time::parse("2026-01-12T21:53:33.204Z"),
        user_message: Some("why?".into()),
        content: "because".into(),
        code: Some("print(1)".into()),
        execution_result: Some(ExecutionResult {
            stdout: "1\n".into(),
            success: true,
            ..ExecutionResult::default()
        }),
        plan: Some(Plan::parse("1. [x] look\n2. [ ] answer")),
        has_answer: true,
        answer: Some("42".into()),
        thinking: None,
        is_complete: true,
    };
    let events = vec![
        Event::Thinking {
            message: "Processing...".into(),
        },
        Event::ToolCall {
            tool_name: "sql".into(),
            arguments: json!({"q": "select 1"}),
        },
        Event::Usage(Usage {
            input_tokens: 10,
            output_tokens: 5,
            cost_usd: 0.25,
        }),
        Event::RoundComplete(Box::new(turn)),
        Event::Error {
            message: "boom".into(),
        },
    ];
    for (i, e) in events.iter().enumerate() {
        let r = store
            .append_event(&t, &other.id, Some(&run.id), e)
            .await
            .unwrap();
        assert_eq!(r.seq, i as u64 + 1, "numbering is per session");
        assert_eq!(r.run_id.as_ref(), Some(&run.id));
    }
    let back = store.list_events(&t, &other.id, 0, 100).await.unwrap();
    assert_eq!(
        back.iter().map(|r| r.event.clone()).collect::<Vec<_>>(),
        events
    );
    assert!(
        back.iter()
            .all(|r| r.session_id == other.id && r.run_id.as_ref() == Some(&run.id))
    );

    assert_not_found(
        store
            .append_event(&t, &other.id, Some(&RunId::generate()), &Event::Done)
            .await,
        "run",
    );
    // A run of another session is not this session's run.
    let foreign = Run::start(t.clone(), s.id.clone(), RunKind::Chat);
    store.create_run(&foreign).await.unwrap();
    assert_not_found(
        store
            .append_event(&t, &other.id, Some(&foreign.id), &Event::Done)
            .await,
        "run",
    );
    assert_eq!(
        store
            .list_events(&t, &other.id, 0, 100)
            .await
            .unwrap()
            .len(),
        5
    );
    store.close().await;
}

pub(super) async fn runs_round_trip_and_finish_once(h: Arc<Harness>) {
    let store = h.open().await;
    let t = tenant();
    let s = store.create_session(new_session(&t, "runs")).await.unwrap();
    let run = Run::start(t.clone(), s.id.clone(), RunKind::Data);
    store.create_run(&run).await.unwrap();
    assert_eq!(store.get_run(&t, &run.id).await.unwrap(), run);
    let dup = store.create_run(&run).await;
    assert!(matches!(dup, Err(Error::Conflict(_))), "{dup:?}");

    let running = store
        .finish_run(&t, &run.id, RunStatus::Running, None)
        .await;
    assert!(matches!(running, Err(Error::Invalid(_))), "{running:?}");
    let done = store
        .finish_run(&t, &run.id, RunStatus::Succeeded, Some("3 rows"))
        .await
        .unwrap();
    assert_eq!(done.status, RunStatus::Succeeded);
    assert_eq!(done.summary.as_deref(), Some("3 rows"));
    assert!(done.finished_at.is_some_and(|f| f >= run.created_at));
    assert_eq!(store.get_run(&t, &run.id).await.unwrap(), done);
    let twice = store.finish_run(&t, &run.id, RunStatus::Failed, None).await;
    assert!(matches!(twice, Err(Error::Conflict(_))), "{twice:?}");
    assert_eq!(store.get_run(&t, &run.id).await.unwrap(), done);

    let failed = Run::start(t.clone(), s.id.clone(), RunKind::Python);
    store.create_run(&failed).await.unwrap();
    let f = store
        .finish_run(&t, &failed.id, RunStatus::Failed, None)
        .await
        .unwrap();
    assert_eq!((f.status, f.summary), (RunStatus::Failed, None));
    assert_not_found(
        store
            .finish_run(&t, &RunId::generate(), RunStatus::Failed, None)
            .await,
        "run",
    );
    store.close().await;
}

pub(super) async fn artifacts_round_trip_and_filter(h: Arc<Harness>) {
    let store = h.open().await;
    let t = tenant();
    let s = store.create_session(new_session(&t, "arts")).await.unwrap();
    let r1 = Run::start(t.clone(), s.id.clone(), RunKind::Data);
    let r2 = Run::start(t.clone(), s.id.clone(), RunKind::Chart);
    store.create_run(&r1).await.unwrap();
    store.create_run(&r2).await.unwrap();
    let mut a1 = artifact(&r1, ArtifactKind::Data, "rows.csv");
    a1.size = 5 * 1024 * 1024 * 1024; // past 32 bits
    let a2 = artifact(&r1, ArtifactKind::Result, "summary.json");
    let mut a3 = artifact(&r2, ArtifactKind::Chart, "chart.html");
    a3.media_type = "text/html".into();
    for a in [&a1, &a2, &a3] {
        store.insert_artifact(a).await.unwrap();
    }
    assert_eq!(store.get_artifact(&t, &a1.id).await.unwrap(), a1);
    let dup = store.insert_artifact(&a1).await;
    assert!(matches!(dup, Err(Error::Conflict(_))), "{dup:?}");

    let list = |filter: ArtifactFilter| {
        let store = store.clone();
        let t = t.clone();
        async move { store.list_artifacts(&t, &filter).await.unwrap() }
    };
    assert_eq!(
        list(ArtifactFilter::default()).await,
        [a1.clone(), a2.clone(), a3.clone()]
    );
    assert_eq!(
        list(ArtifactFilter {
            session_id: Some(s.id.clone()),
            ..ArtifactFilter::default()
        })
        .await,
        [a1.clone(), a2.clone(), a3.clone()]
    );
    assert_eq!(
        list(ArtifactFilter {
            run_id: Some(r1.id.clone()),
            ..ArtifactFilter::default()
        })
        .await,
        [a1.clone(), a2.clone()]
    );
    assert_eq!(
        list(ArtifactFilter {
            kind: Some(ArtifactKind::Chart),
            ..ArtifactFilter::default()
        })
        .await,
        [a3.clone()]
    );
    assert_eq!(
        list(ArtifactFilter {
            session_id: Some(s.id.clone()),
            run_id: Some(r2.id.clone()),
            kind: Some(ArtifactKind::Data),
        })
        .await,
        []
    );
    assert!(
        list(ArtifactFilter {
            session_id: Some(sid("other")),
            ..ArtifactFilter::default()
        })
        .await
        .is_empty()
    );

    assert_eq!(store.delete_artifact(&t, &a2.id).await.unwrap(), a2);
    assert_not_found(store.get_artifact(&t, &a2.id).await, "artifact");
    assert_not_found(store.delete_artifact(&t, &a2.id).await, "artifact");
    assert_eq!(list(ArtifactFilter::default()).await, [a1, a3]);
    store.close().await;
}

pub(super) async fn missing_parents_are_not_found(h: Arc<Harness>) {
    let store = h.open().await;
    let t = tenant();
    let orphan_run = Run::start(t.clone(), sid("no_session"), RunKind::Data);
    assert_not_found(store.create_run(&orphan_run).await, "session");
    assert_not_found(
        store
            .insert_artifact(&artifact(&orphan_run, ArtifactKind::Data, "x.csv"))
            .await,
        "run",
    );
    let s = store
        .create_session(new_session(&t, "parent"))
        .await
        .unwrap();
    let unknown_run = Run::start(t.clone(), s.id.clone(), RunKind::Data);
    assert_not_found(
        store
            .insert_artifact(&artifact(&unknown_run, ArtifactKind::Data, "x.csv"))
            .await,
        "run",
    );
    // A run of one session cannot hold another session's artifact.
    store.create_run(&unknown_run).await.unwrap();
    let mut crossed = artifact(&unknown_run, ArtifactKind::Data, "x.csv");
    crossed.session_id = sid("no_session");
    assert_not_found(store.insert_artifact(&crossed).await, "run");
    assert_not_found(
        store
            .append_message(&message(&t, &sid("no_session"), Role::User, "x"))
            .await,
        "session",
    );
    assert_not_found(
        store
            .append_event(&t, &sid("no_session"), None, &Event::Done)
            .await,
        "session",
    );
    assert_not_found(
        store.list_events(&t, &sid("no_session"), 0, 1).await,
        "session",
    );
    assert_not_found(
        store.delete_session(&t, &sid("no_session")).await,
        "session",
    );
    store.close().await;
}
