//! Provider configurations on both backends: per tenant, unique names, update and delete.

use quarry_core::{Error, ProviderRecord, TenantId, time};
use quarry_store::Stores;

fn record(tenant: &str, id: &str, name: &str) -> ProviderRecord {
    let now = time::now();
    ProviderRecord {
        id: id.into(),
        tenant_id: TenantId::parse(tenant).unwrap(),
        name: name.into(),
        kind: "openai".into(),
        base_url: Some("http://127.0.0.1:1/v1".into()),
        model: None,
        sealed_key: Some("v1:sealed".into()),
        key_hint: Some("sk-…1234".into()),
        created_at: now,
        updated_at: now,
    }
}

/// Runs the cases against `stores`.
pub async fn run(stores: &Stores) {
    let store = &stores.providers;
    let a = record("team-a", "p1", "openai");
    store.insert_provider(&a).await.unwrap();
    assert!(matches!(
        store
            .insert_provider(&record("team-a", "p2", "openai"))
            .await,
        Err(Error::Conflict(_))
    ));
    store
        .insert_provider(&record("team-b", "p3", "openai"))
        .await
        .unwrap();
    let tenant_a = TenantId::parse("team-a").unwrap();
    assert_eq!(
        store.list_providers(&tenant_a).await.unwrap(),
        vec![a.clone()]
    );
    assert!(matches!(
        store.get_provider(&tenant_a, "p3").await,
        Err(Error::NotFound { .. })
    ));
    let mut changed = a.clone();
    changed.model = Some("gpt-4o".into());
    store.update_provider(&changed).await.unwrap();
    assert_eq!(store.get_provider(&tenant_a, "p1").await.unwrap(), changed);
    let mut clash = record("team-a", "p4", "groq");
    store.insert_provider(&clash).await.unwrap();
    clash.name = "openai".into();
    assert!(matches!(
        store.update_provider(&clash).await,
        Err(Error::Conflict(_))
    ));
    store.delete_provider(&tenant_a, "p1").await.unwrap();
    assert!(matches!(
        store.delete_provider(&tenant_a, "p1").await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(store.list_providers(&tenant_a).await.unwrap().len(), 1);
}
