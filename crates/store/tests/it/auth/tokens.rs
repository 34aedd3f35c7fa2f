//! Cases about API keys and refresh tokens.

use super::*;

pub(super) async fn api_keys_round_trip_touch_and_revoke(h: Arc<Harness>) {
    let stores = h.stores().await;
    let store = &stores.auth;
    let t = tenant();
    let u = user(&t, &username("keys"));
    store.create_user(&u).await.unwrap();
    assert!(store.list_api_keys(&t, &u.id).await.unwrap().is_empty());
    assert_not_found(store.list_api_keys(&t, &UserId::generate()).await, "user");

    let first = api_key(&u, "laptop");
    store.insert_api_key(&first).await.unwrap();
    tick().await;
    let second = api_key(&u, "ci");
    store.insert_api_key(&second).await.unwrap();
    assert_eq!(
        store.find_api_key(&first.secret_hash).await.unwrap(),
        Some(first.clone())
    );
    assert!(store.find_api_key(&hash()).await.unwrap().is_none());
    assert_eq!(
        store.list_api_keys(&t, &u.id).await.unwrap(),
        [second.clone(), first.clone()],
        "newest first"
    );
    // A taken id or secret is a conflict; a missing user is not found.
    let mut same_id = api_key(&u, "dup");
    same_id.id = first.id.clone();
    assert_conflict(store.insert_api_key(&same_id).await);
    let mut same_secret = api_key(&u, "dup");
    same_secret.secret_hash = first.secret_hash.clone();
    assert_conflict(store.insert_api_key(&same_secret).await);
    let mut orphan = api_key(&u, "orphan");
    orphan.user_id = UserId::generate();
    assert_not_found(store.insert_api_key(&orphan).await, "user");

    // Touching records the latest use; an out-of-order older touch does not go back.
    let used = time::now() + chrono::Duration::seconds(10);
    store.touch_api_key(&first.id, used).await.unwrap();
    store
        .touch_api_key(&first.id, used - chrono::Duration::seconds(5))
        .await
        .unwrap();
    let found = store
        .find_api_key(&first.secret_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.last_used_at, Some(used));
    let later = used + chrono::Duration::seconds(1);
    store.touch_api_key(&first.id, later).await.unwrap();
    let found = store
        .find_api_key(&first.secret_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.last_used_at, Some(later));
    assert_not_found(
        store.touch_api_key(&ApiKeyId::generate(), later).await,
        "api key",
    );

    // Revoking is idempotent and keeps the first revocation time; a revoked key is still
    // found (the caller refuses it).
    let revoked = store.revoke_api_key(&t, &first.id).await.unwrap();
    let at = revoked.revoked_at.expect("revoked_at set");
    assert_eq!(revoked.last_used_at, Some(later));
    tick().await;
    let again = store.revoke_api_key(&t, &first.id).await.unwrap();
    assert_eq!(again.revoked_at, Some(at));
    assert_eq!(
        store.find_api_key(&first.secret_hash).await.unwrap(),
        Some(again)
    );
    assert!(
        store
            .find_api_key(&second.secret_hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert_not_found(
        store.revoke_api_key(&t, &ApiKeyId::generate()).await,
        "api key",
    );
    stores.metadata.close().await;
}

pub(super) async fn refresh_tokens_rotate_and_detect_reuse(h: Arc<Harness>) {
    let stores = h.stores().await;
    let store = &stores.auth;
    let t = tenant();
    let u = user(&t, &username("rot"));
    store.create_user(&u).await.unwrap();
    let c = client(&u, &["https://a.example/cb"]);
    store.insert_client(&c).await.unwrap();
    let fam = family();
    let t0 = refresh_token(&u, Some(&c.id), &fam);
    store.insert_refresh_token(&t0).await.unwrap();
    assert_conflict(store.insert_refresh_token(&t0).await);
    assert_eq!(
        store.find_refresh_token(&t0.token_hash).await.unwrap(),
        Some(t0.clone())
    );
    assert_eq!(
        store.token_family(&t0.token_hash).await.unwrap().as_deref(),
        Some(fam.as_str())
    );
    assert!(store.find_refresh_token(&hash()).await.unwrap().is_none());
    assert!(store.token_family(&hash()).await.unwrap().is_none());

    // t0 → t1 → t2: each rotation returns the old record, now rotated.
    let now = time::now();
    let t1 = successor(&t0);
    let r = store.rotate_refresh_token(&t0.token_hash, &t1, now).await;
    let expected = RefreshToken {
        rotated_at: Some(now),
        ..t0.clone()
    };
    assert_eq!(r.unwrap(), Rotation::Rotated(expected.clone()));
    assert_eq!(
        store.find_refresh_token(&t0.token_hash).await.unwrap(),
        Some(expected)
    );
    assert_eq!(
        store.find_refresh_token(&t1.token_hash).await.unwrap(),
        Some(t1.clone())
    );
    let t2 = successor(&t1);
    let r = store.rotate_refresh_token(&t1.token_hash, &t2, now).await;
    assert!(matches!(r, Ok(Rotation::Rotated(ref old)) if old.token_hash == t1.token_hash));

    // Presenting t0 again is reuse: the whole family, current t2 included, is revoked.
    let later = now + chrono::Duration::seconds(1);
    let stolen = successor(&t0);
    let r = store
        .rotate_refresh_token(&t0.token_hash, &stolen, later)
        .await
        .unwrap();
    assert_eq!(
        r,
        Rotation::Reused {
            family_id: fam.clone()
        }
    );
    assert!(
        store
            .find_refresh_token(&stolen.token_hash)
            .await
            .unwrap()
            .is_none()
    );
    for tok in tokens(store, &[&t0.token_hash, &t1.token_hash, &t2.token_hash]).await {
        let tok = tok.unwrap();
        assert_eq!(tok.revoked_at, Some(later), "{tok:?}");
    }
    // The current token of a revoked family is refused as reuse too, and revoking again
    // keeps the first revocation time.
    let r = store
        .rotate_refresh_token(
            &t2.token_hash,
            &successor(&t2),
            later + chrono::Duration::seconds(1),
        )
        .await
        .unwrap();
    assert_eq!(r, Rotation::Reused { family_id: fam });
    let t2_now = store
        .find_refresh_token(&t2.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t2_now.revoked_at, Some(later));
    assert_eq!(t2_now.rotated_at, None);
    stores.metadata.close().await;
}

pub(super) async fn expired_unknown_and_mismatched_rotations_change_nothing(h: Arc<Harness>) {
    let stores = h.stores().await;
    let store = &stores.auth;
    let t = tenant();
    let u = user(&t, &username("exp"));
    let v = user(&t, &username("exp2"));
    store.create_user(&u).await.unwrap();
    store.create_user(&v).await.unwrap();
    let now = time::now();

    let unknown = refresh_token(&u, None, &family());
    let r = store
        .rotate_refresh_token(&unknown.token_hash, &successor(&unknown), now)
        .await;
    assert_eq!(r.unwrap(), Rotation::Unknown);

    let mut old = refresh_token(&u, None, &family());
    old.expires_at = now;
    store.insert_refresh_token(&old).await.unwrap();
    let next = successor(&old);
    let r = store
        .rotate_refresh_token(&old.token_hash, &next, now)
        .await;
    assert_eq!(r.unwrap(), Rotation::Expired, "expiring at now is expired");
    assert_eq!(
        store.find_refresh_token(&old.token_hash).await.unwrap(),
        Some(old.clone())
    );
    assert!(
        store
            .find_refresh_token(&next.token_hash)
            .await
            .unwrap()
            .is_none()
    );

    // A successor that is not the presented token's own is refused, and nothing changes.
    let cur = refresh_token(&u, None, &family());
    store.insert_refresh_token(&cur).await.unwrap();
    let wrong_family = RefreshToken {
        family_id: family(),
        ..successor(&cur)
    };
    let wrong_user = RefreshToken {
        user_id: v.id.clone(),
        ..successor(&cur)
    };
    let wrong_tenant = RefreshToken {
        tenant_id: tenant(),
        ..successor(&cur)
    };
    let already_rotated = RefreshToken {
        rotated_at: Some(now),
        ..successor(&cur)
    };
    for bad in [wrong_family, wrong_user, wrong_tenant, already_rotated] {
        let r = store.rotate_refresh_token(&cur.token_hash, &bad, now).await;
        assert!(matches!(r, Err(Error::Invalid(_))), "{r:?}");
        assert!(
            store
                .find_refresh_token(&bad.token_hash)
                .await
                .unwrap()
                .is_none()
        );
    }
    assert_eq!(
        store.find_refresh_token(&cur.token_hash).await.unwrap(),
        Some(cur.clone())
    );
    // A successor whose hash is taken is a conflict, and the presented token stays current.
    let mut clash = successor(&cur);
    clash.token_hash = old.token_hash.clone();
    assert_conflict(
        store
            .rotate_refresh_token(&cur.token_hash, &clash, now)
            .await,
    );
    assert_eq!(
        store.find_refresh_token(&cur.token_hash).await.unwrap(),
        Some(cur.clone())
    );
    let r = store
        .rotate_refresh_token(&cur.token_hash, &successor(&cur), now)
        .await;
    assert!(matches!(r, Ok(Rotation::Rotated(_))), "{r:?}");
    stores.metadata.close().await;
}

pub(super) async fn concurrent_rotations_have_one_winner_and_revoke_the_family(h: Arc<Harness>) {
    let stores = h.stores().await;
    let store = &stores.auth;
    let t = tenant();
    let u = user(&t, &username("race"));
    store.create_user(&u).await.unwrap();
    let fam = family();
    let t0 = refresh_token(&u, None, &fam);
    store.insert_refresh_token(&t0).await.unwrap();
    let now = time::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        let presented = t0.token_hash.clone();
        let next = successor(&t0);
        tasks.spawn(async move {
            let r = store.rotate_refresh_token(&presented, &next, now).await;
            (r.unwrap(), next)
        });
    }
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            (Rotation::Rotated(old), next) => {
                assert_eq!(old.token_hash, t0.token_hash);
                winners.push(next);
            }
            (Rotation::Reused { family_id }, next) => {
                assert_eq!(family_id, fam);
                losers.push(next);
            }
            (other, _) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((winners.len(), losers.len()), (1, 7));
    // The winner's successor was stored, then revoked with its family by the losers.
    let won = store
        .find_refresh_token(&winners[0].token_hash)
        .await
        .unwrap()
        .expect("the winning successor is stored");
    assert!(won.revoked_at.is_some(), "{won:?}");
    let presented = store
        .find_refresh_token(&t0.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(presented.rotated_at, Some(now));
    assert!(presented.revoked_at.is_some());
    for next in &losers {
        assert!(
            store
                .find_refresh_token(&next.token_hash)
                .await
                .unwrap()
                .is_none()
        );
    }
    // Nothing of the family can be rotated any more.
    let r = store
        .rotate_refresh_token(&won.token_hash, &successor(&won), now)
        .await
        .unwrap();
    assert_eq!(r, Rotation::Reused { family_id: fam });
    stores.metadata.close().await;
}

pub(super) async fn revoking_a_family_spares_other_families(h: Arc<Harness>) {
    let stores = h.stores().await;
    let store = &stores.auth;
    let t = tenant();
    let u = user(&t, &username("logout"));
    store.create_user(&u).await.unwrap();
    let (fa, fb) = (family(), family());
    let a1 = refresh_token(&u, None, &fa);
    let a2 = refresh_token(&u, None, &fa);
    let b1 = refresh_token(&u, None, &fb);
    for tok in [&a1, &a2, &b1] {
        store.insert_refresh_token(tok).await.unwrap();
    }
    let now = time::now();
    store.revoke_token_family(&fa, now).await.unwrap();
    // Idempotent, keeping the first time; an unknown family is no error.
    store
        .revoke_token_family(&fa, now + chrono::Duration::seconds(9))
        .await
        .unwrap();
    store.revoke_token_family(&family(), now).await.unwrap();
    for tok in tokens(store, &[&a1.token_hash, &a2.token_hash]).await {
        assert_eq!(tok.unwrap().revoked_at, Some(now));
    }
    assert_eq!(
        store.find_refresh_token(&b1.token_hash).await.unwrap(),
        Some(b1.clone())
    );
    let r = store
        .rotate_refresh_token(&a1.token_hash, &successor(&a1), now)
        .await
        .unwrap();
    assert_eq!(r, Rotation::Reused { family_id: fa });
    let r = store
        .rotate_refresh_token(&b1.token_hash, &successor(&b1), now)
        .await
        .unwrap();
    assert!(matches!(r, Rotation::Rotated(_)), "{r:?}");
    stores.metadata.close().await;
}

pub(super) async fn user_revocation_and_purge_of_expired_tokens(h: Arc<Harness>) {
    let stores = h.stores().await;
    let store = &stores.auth;
    let t = tenant();
    let u = user(&t, &username("purge"));
    let other = user(&t, &username("bystander"));
    store.create_user(&u).await.unwrap();
    store.create_user(&other).await.unwrap();
    let now = time::now();
    let live = refresh_token(&u, None, &family());
    let mut expired = refresh_token(&u, None, &family());
    expired.expires_at = now - chrono::Duration::hours(1);
    let theirs = refresh_token(&other, None, &family());
    for tok in [&live, &expired, &theirs] {
        store.insert_refresh_token(tok).await.unwrap();
    }
    // Revoking a user's tokens spares everyone else's; another tenant's id changes nothing.
    store
        .revoke_user_tokens(&tenant(), &u.id, now)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_refresh_token(&live.token_hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    store.revoke_user_tokens(&t, &u.id, now).await.unwrap();
    assert_eq!(
        store
            .find_refresh_token(&live.token_hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(now)
    );
    assert_eq!(
        store
            .find_refresh_token(&theirs.token_hash)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    // Purging drops what expired, and only that.
    let purged = store.purge_expired(now).await.unwrap();
    assert!(purged >= 1, "{purged}");
    assert_eq!(
        store.find_refresh_token(&expired.token_hash).await.unwrap(),
        None
    );
    assert!(
        store
            .find_refresh_token(&live.token_hash)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .find_refresh_token(&theirs.token_hash)
            .await
            .unwrap()
            .is_some()
    );
    stores.metadata.close().await;
}
