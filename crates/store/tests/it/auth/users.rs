//! Cases about users: the first user, uniqueness, updates, deletion and tenancy.

use super::*;

pub(super) async fn first_user_is_created_once_under_concurrency(h: Arc<Harness>) {
    let stores = h.stores().await;
    let t = tenant();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let store = stores.auth.clone();
        let mut admin = user(&t, &username(&format!("Admin{i}")));
        admin.role = UserRole::Admin;
        admin.can_act_for_tenants = true;
        tasks.spawn(async move { (store.create_first_user(&admin).await.unwrap(), admin) });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (created, admin) = joined.unwrap();
        if created {
            winners.push(admin);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one first user: {winners:?}");
    let page = stores.auth.list_users(&t, 100, 0).await.unwrap();
    assert_eq!(page.total, 1);
    let first = &page.items[0];
    assert_eq!(first.id, winners[0].id);
    assert!(first.can_act_for_tenants);
    assert_eq!(first.role, UserRole::Admin);
    assert_eq!(first.username, winners[0].username.to_lowercase());

    // Once a user exists, there is no first user to create, in any tenant.
    let late = user(&tenant(), &username("late"));
    assert!(!stores.auth.create_first_user(&late).await.unwrap());
    assert!(
        stores
            .auth
            .find_user_by_username(&late.username)
            .await
            .unwrap()
            .is_none()
    );
    stores.metadata.close().await;
}

pub(super) async fn users_round_trip_and_list_oldest_first(h: Arc<Harness>) {
    let stores = h.stores().await;
    let store = &stores.auth;
    let t = tenant();
    let mut alice = user(&t, &username("Alice"));
    alice.email = None;
    alice.password_hash = None;
    store.create_user(&alice).await.unwrap();
    let stored = store.get_user(&t, &alice.id).await.unwrap();
    // Stored lower-cased; everything else as given.
    let expected = User {
        username: alice.username.to_lowercase(),
        ..alice.clone()
    };
    assert_eq!(stored, expected);
    for spelling in [
        alice.username.clone(),
        alice.username.to_uppercase(),
        alice.username.to_lowercase(),
    ] {
        let found = store.find_user_by_username(&spelling).await.unwrap();
        assert_eq!(found.as_ref(), Some(&expected), "{spelling}");
    }
    assert!(
        store
            .find_user_by_username("nobody-at-all")
            .await
            .unwrap()
            .is_none()
    );
    assert_not_found(store.get_user(&t, &UserId::generate()).await, "user");

    let mut ids = vec![alice.id.clone()];
    for i in 0..4 {
        tick().await;
        let u = user(&t, &username(&format!("u{i}")));
        store.create_user(&u).await.unwrap();
        ids.push(u.id);
    }
    let listed = |page: &quarry_core::Page<User>| {
        page.items.iter().map(|u| u.id.clone()).collect::<Vec<_>>()
    };
    let all = store.list_users(&t, 100, 0).await.unwrap();
    assert_eq!(listed(&all), ids, "oldest first");
    assert_eq!(all.total, 5);
    let page = store.list_users(&t, 2, 1).await.unwrap();
    assert_eq!(listed(&page), ids[1..3]);
    assert_eq!(page.total, 5);
    let past = store.list_users(&t, 2, 10).await.unwrap();
    assert!(past.items.is_empty());
    assert_eq!(past.total, 5);
    let empty = store.list_users(&tenant(), 10, 0).await.unwrap();
    assert_eq!((empty.items.len(), empty.total), (0, 0));
    stores.metadata.close().await;
}

pub(super) async fn usernames_are_unique_without_regard_to_case(h: Arc<Harness>) {
    let stores = h.stores().await;
    let store = &stores.auth;
    let (a, b) = (tenant(), tenant());
    let name = username("Bob");
    let bob = user(&a, &name);
    store.create_user(&bob).await.unwrap();
    // Across tenants too, and in any case.
    for spelling in [name.clone(), name.to_uppercase(), name.to_lowercase()] {
        assert_conflict(store.create_user(&user(&b, &spelling)).await);
    }
    // A taken id is a conflict as well.
    let mut same_id = user(&a, &username("other"));
    same_id.id = bob.id.clone();
    assert_conflict(store.create_user(&same_id).await);

    // Racing creators of one name: one wins, the others conflict.
    let contested = username("Race");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let store = store.clone();
        let spelling = if i % 2 == 0 {
            contested.to_uppercase()
        } else {
            contested.to_lowercase()
        };
        let u = user(&b, &spelling);
        tasks.spawn(async move { store.create_user(&u).await });
    }
    let (mut ok, mut conflicts) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        match joined.unwrap() {
            Ok(()) => ok += 1,
            Err(Error::Conflict(_)) => conflicts += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((ok, conflicts), (1, 7));
    assert_eq!(store.list_users(&b, 100, 0).await.unwrap().total, 1);
    stores.metadata.close().await;
}

pub(super) async fn update_applies_the_patch_and_bumps_updated_at(h: Arc<Harness>) {
    let stores = h.stores().await;
    let store = &stores.auth;
    let t = tenant();
    let u = user(&t, &username("carol"));
    store.create_user(&u).await.unwrap();
    tick().await;
    let patch = UserPatch {
        email: Some(Some("new@example.com".into())),
        role: Some(UserRole::Admin),
        password_hash: Some("$argon2id$new".into()),
        disabled: Some(true),
    };
    let p = store.update_user(&t, &u.id, &patch).await.unwrap();
    assert_eq!(p.email.as_deref(), Some("new@example.com"));
    assert_eq!(p.role, UserRole::Admin);
    assert_eq!(p.password_hash.as_deref(), Some("$argon2id$new"));
    assert!(p.disabled);
    assert_eq!(p.created_at, u.created_at);
    assert!(p.updated_at > u.updated_at);
    assert_eq!(store.get_user(&t, &u.id).await.unwrap(), p);

    tick().await;
    let clear = UserPatch {
        email: Some(None),
        disabled: Some(false),
        ..UserPatch::default()
    };
    let c = store.update_user(&t, &u.id, &clear).await.unwrap();
    assert_eq!(c.email, None);
    assert!(!c.disabled);
    assert_eq!(c.role, UserRole::Admin, "untouched fields stay");
    assert_eq!(c.password_hash, p.password_hash);
    assert!(c.updated_at > p.updated_at);

    tick().await;
    let touched = store
        .update_user(&t, &u.id, &UserPatch::default())
        .await
        .unwrap();
    assert!(touched.updated_at > c.updated_at);
    assert_not_found(
        store
            .update_user(&t, &UserId::generate(), &UserPatch::default())
            .await,
        "user",
    );
    stores.metadata.close().await;
}

/// Deleting a user deletes its keys, tokens and codes, and the clients it is the service user
/// of, with those clients' codes and tokens (even other users'); nothing else.
pub(super) async fn delete_user_cascades_to_everything_it_owns(h: Arc<Harness>) {
    let stores = h.stores().await;
    let store = &stores.auth;
    let t = tenant();
    let (doomed, other) = (user(&t, &username("doomed")), user(&t, &username("other")));
    store.create_user(&doomed).await.unwrap();
    store.create_user(&other).await.unwrap();
    let key = api_key(&doomed, "laptop");
    store.insert_api_key(&key).await.unwrap();
    let other_key = api_key(&other, "desk");
    store.insert_api_key(&other_key).await.unwrap();
    let svc_client = client(&doomed, &["https://a.example/cb"]);
    store.insert_client(&svc_client).await.unwrap();
    let other_client = client(&other, &["https://b.example/cb"]);
    store.insert_client(&other_client).await.unwrap();
    let own_token = refresh_token(&doomed, None, &family());
    let via_svc_client = refresh_token(&other, Some(&svc_client.id), &family());
    let other_token = refresh_token(&other, Some(&other_client.id), &family());
    for tok in [&own_token, &via_svc_client, &other_token] {
        store.insert_refresh_token(tok).await.unwrap();
    }
    let later = time::now() + chrono::Duration::minutes(5);
    let own_code = code(&other_client, &doomed, later);
    let svc_code = code(&svc_client, &other, later);
    let other_code = code(&other_client, &other, later);
    for c in [&own_code, &svc_code, &other_code] {
        store.insert_auth_code(c).await.unwrap();
    }

    store.delete_user(&t, &doomed.id).await.unwrap();
    assert_not_found(store.get_user(&t, &doomed.id).await, "user");
    assert!(
        store
            .find_user_by_username(&doomed.username)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_api_key(&key.secret_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.find_client(&svc_client.id).await.unwrap().is_none());
    for gone in [&own_token, &via_svc_client] {
        assert!(
            store
                .find_refresh_token(&gone.token_hash)
                .await
                .unwrap()
                .is_none()
        );
    }
    assert!(
        store
            .take_auth_code(&own_code.code_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .take_auth_code(&svc_code.code_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert_not_found(store.list_api_keys(&t, &doomed.id).await, "user");

    // The other user and what is theirs alone stay.
    assert_eq!(store.get_user(&t, &other.id).await.unwrap().id, other.id);
    assert_eq!(
        store.find_api_key(&other_key.secret_hash).await.unwrap(),
        Some(other_key)
    );
    assert_eq!(
        store.find_client(&other_client.id).await.unwrap(),
        Some(other_client)
    );
    assert_eq!(
        store
            .find_refresh_token(&other_token.token_hash)
            .await
            .unwrap(),
        Some(other_token)
    );
    assert_eq!(
        store.take_auth_code(&other_code.code_hash).await.unwrap(),
        Some(other_code)
    );
    assert_not_found(store.delete_user(&t, &doomed.id).await, "user");
    // The username is free again.
    store
        .create_user(&user(&t, &doomed.username))
        .await
        .unwrap();
    stores.metadata.close().await;
}

pub(super) async fn tenants_cannot_see_or_touch_each_other(h: Arc<Harness>) {
    let stores = h.stores().await;
    let store = &stores.auth;
    let (a, b) = (tenant(), tenant());
    let ua = user(&a, &username("ua"));
    let ub = user(&b, &username("ub"));
    store.create_user(&ua).await.unwrap();
    store.create_user(&ub).await.unwrap();
    let key = api_key(&ua, "k");
    store.insert_api_key(&key).await.unwrap();
    let ca = client(&ua, &["https://a.example/cb"]);
    store.insert_client(&ca).await.unwrap();

    // Tenant b sees none of tenant a's objects, and cannot change them.
    assert_not_found(store.get_user(&b, &ua.id).await, "user");
    assert_not_found(
        store.update_user(&b, &ua.id, &UserPatch::default()).await,
        "user",
    );
    assert_not_found(store.delete_user(&b, &ua.id).await, "user");
    assert_not_found(store.list_api_keys(&b, &ua.id).await, "user");
    assert_not_found(store.revoke_api_key(&b, &key.id).await, "api key");
    assert_not_found(store.delete_client(&b, &ca.id).await, "client");
    assert_eq!(
        store
            .list_users(&b, 10, 0)
            .await
            .unwrap()
            .items
            .iter()
            .map(|u| &u.id)
            .collect::<Vec<_>>(),
        [&ub.id]
    );
    assert!(store.list_clients(&b).await.unwrap().is_empty());

    // Nor can records of tenant b point at tenant a's user or client.
    let mut foreign_key = api_key(&ua, "x");
    foreign_key.tenant_id = b.clone();
    assert_not_found(store.insert_api_key(&foreign_key).await, "user");
    let mut foreign_client = client(&ua, &[]);
    foreign_client.tenant_id = b.clone();
    assert_not_found(store.insert_client(&foreign_client).await, "user");
    let foreign_token = refresh_token(&ub, Some(&ca.id), &family());
    assert_not_found(store.insert_refresh_token(&foreign_token).await, "client");
    let foreign_code = code(&ca, &ub, time::now() + chrono::Duration::minutes(5));
    assert_not_found(store.insert_auth_code(&foreign_code).await, "client");
    let mut foreign_user_code = code(&ca, &ua, time::now() + chrono::Duration::minutes(5));
    foreign_user_code.user_id = ub.id.clone();
    assert_not_found(store.insert_auth_code(&foreign_user_code).await, "user");
    assert_not_found(
        store
            .insert_refresh_token(&refresh_token(&user(&a, "ghost"), None, &family()))
            .await,
        "user",
    );

    // Everything of tenant a is intact.
    assert_eq!(store.get_user(&a, &ua.id).await.unwrap().id, ua.id);
    assert_eq!(
        store.list_api_keys(&a, &ua.id).await.unwrap(),
        std::slice::from_ref(&key)
    );
    assert_eq!(
        store.find_api_key(&key.secret_hash).await.unwrap(),
        Some(key)
    );
    assert_eq!(store.list_clients(&a).await.unwrap(), [ca]);
    stores.metadata.close().await;
}
