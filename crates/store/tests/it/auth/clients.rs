//! Cases about OAuth2 clients and authorization codes.

use super::*;

pub(super) async fn clients_round_trip_and_delete_with_their_codes_and_tokens(h: Arc<Harness>) {
    let stores = h.stores().await;
    let store = &stores.auth;
    let t = tenant();
    let svc = user(&t, &username("svc"));
    let person = user(&t, &username("person"));
    store.create_user(&svc).await.unwrap();
    store.create_user(&person).await.unwrap();
    assert!(store.list_clients(&t).await.unwrap().is_empty());

    let confidential = client(
        &svc,
        &[
            "https://app.example/cb",
            "http://127.0.0.1:8976/callback?x=1&y=é",
        ],
    );
    store.insert_client(&confidential).await.unwrap();
    tick().await;
    let mut public = client(&svc, &[]);
    public.secret_hash = None;
    store.insert_client(&public).await.unwrap();
    assert_eq!(
        store.find_client(&confidential.id).await.unwrap(),
        Some(confidential.clone())
    );
    assert_eq!(
        store.find_client(&public.id).await.unwrap(),
        Some(public.clone())
    );
    assert!(
        store
            .find_client(&ClientId::generate())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.list_clients(&t).await.unwrap(),
        [confidential.clone(), public.clone()],
        "oldest first"
    );
    assert_conflict(store.insert_client(&confidential).await);
    let mut orphan = client(&svc, &[]);
    orphan.service_user_id = UserId::generate();
    assert_not_found(store.insert_client(&orphan).await, "user");

    // Deleting a client deletes its codes and the tokens issued to it; the person's other
    // tokens stay.
    let later = time::now() + chrono::Duration::minutes(5);
    let c1 = code(&confidential, &person, later);
    let c2 = code(&public, &person, later);
    store.insert_auth_code(&c1).await.unwrap();
    store.insert_auth_code(&c2).await.unwrap();
    let via_client = refresh_token(&person, Some(&confidential.id), &family());
    let via_public = refresh_token(&person, Some(&public.id), &family());
    let direct = refresh_token(&person, None, &family());
    for tok in [&via_client, &via_public, &direct] {
        store.insert_refresh_token(tok).await.unwrap();
    }
    store.delete_client(&t, &confidential.id).await.unwrap();
    assert!(store.find_client(&confidential.id).await.unwrap().is_none());
    assert!(store.take_auth_code(&c1.code_hash).await.unwrap().is_none());
    assert!(
        store
            .find_refresh_token(&via_client.token_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .find_refresh_token(&via_public.token_hash)
            .await
            .unwrap(),
        Some(via_public)
    );
    assert_eq!(
        store.find_refresh_token(&direct.token_hash).await.unwrap(),
        Some(direct)
    );
    assert_eq!(store.take_auth_code(&c2.code_hash).await.unwrap(), Some(c2));
    assert_eq!(store.list_clients(&t).await.unwrap(), [public]);
    assert_eq!(store.get_user(&t, &svc.id).await.unwrap().id, svc.id);
    assert_not_found(store.delete_client(&t, &confidential.id).await, "client");
    stores.metadata.close().await;
}

pub(super) async fn auth_codes_are_taken_once(h: Arc<Harness>) {
    let stores = h.stores().await;
    let store = &stores.auth;
    let t = tenant();
    let u = user(&t, &username("coder"));
    store.create_user(&u).await.unwrap();
    let c = client(&u, &["https://app.example/cb"]);
    store.insert_client(&c).await.unwrap();
    let issued = code(&c, &u, time::now() + chrono::Duration::minutes(10));
    store.insert_auth_code(&issued).await.unwrap();
    assert_conflict(store.insert_auth_code(&issued).await);
    assert_eq!(
        store.take_auth_code(&issued.code_hash).await.unwrap(),
        Some(issued.clone())
    );
    assert!(
        store
            .take_auth_code(&issued.code_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.take_auth_code(&hash()).await.unwrap().is_none());
    // A missing client or user is not found.
    let mut no_client = code(&c, &u, time::now());
    no_client.client_id = ClientId::generate();
    assert_not_found(store.insert_auth_code(&no_client).await, "client");
    let mut no_user = code(&c, &u, time::now());
    no_user.user_id = UserId::generate();
    assert_not_found(store.insert_auth_code(&no_user).await, "user");
    stores.metadata.close().await;
}

pub(super) async fn concurrent_takers_of_a_code_have_one_winner(h: Arc<Harness>) {
    let stores = h.stores().await;
    let store = &stores.auth;
    let t = tenant();
    let u = user(&t, &username("racer"));
    store.create_user(&u).await.unwrap();
    let c = client(&u, &["https://app.example/cb"]);
    store.insert_client(&c).await.unwrap();
    for _ in 0..3 {
        let issued = code(&c, &u, time::now() + chrono::Duration::minutes(10));
        store.insert_auth_code(&issued).await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let store = store.clone();
            let hash = issued.code_hash.clone();
            tasks.spawn(async move { store.take_auth_code(&hash).await.unwrap() });
        }
        let mut taken = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            taken.extend(joined.unwrap());
        }
        assert_eq!(taken, [issued]);
    }
    stores.metadata.close().await;
}

/// The store hands out an expired code (the caller checks `expires_at`); expired codes are
/// purged when the next code is stored.
pub(super) async fn expired_codes_are_returned_then_purged(h: Arc<Harness>) {
    let stores = h.stores().await;
    let store = &stores.auth;
    let t = tenant();
    let u = user(&t, &username("stale"));
    store.create_user(&u).await.unwrap();
    let c = client(&u, &["https://app.example/cb"]);
    store.insert_client(&c).await.unwrap();
    let past = time::now() - chrono::Duration::minutes(1);
    let expired = code(&c, &u, past);
    store.insert_auth_code(&expired).await.unwrap();
    assert_eq!(
        store.take_auth_code(&expired.code_hash).await.unwrap(),
        Some(expired)
    );

    let abandoned = code(&c, &u, past);
    store.insert_auth_code(&abandoned).await.unwrap();
    let fresh = code(&c, &u, time::now() + chrono::Duration::minutes(10));
    store.insert_auth_code(&fresh).await.unwrap();
    assert!(
        store
            .take_auth_code(&abandoned.code_hash)
            .await
            .unwrap()
            .is_none(),
        "purged by the next insert"
    );
    assert_eq!(
        store.take_auth_code(&fresh.code_hash).await.unwrap(),
        Some(fresh)
    );
    stores.metadata.close().await;
}
