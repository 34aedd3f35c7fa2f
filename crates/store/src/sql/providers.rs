//! The SQL [`ProviderStore`]: provider configurations per tenant.

use async_trait::async_trait;
use quarry_core::{Error, ProviderRecord, ProviderStore, Result, TenantId};
use sqlx::any::AnyRow;

use super::SqlMetadataStore;
use super::error::{store_error, write_error};
use super::rows::{opt_text, text, timestamp, ts};

const COLUMNS: &str =
    "id, tenant_id, name, kind, base_url, model, sealed_key, key_hint, created_at, updated_at";

fn not_found(id: &str) -> Error {
    Error::not_found("provider", id)
}

fn conflict(name: &str) -> Error {
    Error::Conflict(format!("a provider named '{name}' already exists").into())
}

fn row(r: &AnyRow) -> Result<ProviderRecord> {
    let tenant = text(r, "tenant_id")?;
    Ok(ProviderRecord {
        id: text(r, "id")?,
        tenant_id: TenantId::parse(&tenant)
            .map_err(|_| super::error::corrupt("tenant id", &tenant))?,
        name: text(r, "name")?,
        kind: text(r, "kind")?,
        base_url: opt_text(r, "base_url")?,
        model: opt_text(r, "model")?,
        sealed_key: opt_text(r, "sealed_key")?,
        key_hint: opt_text(r, "key_hint")?,
        created_at: timestamp(r, "created_at")?,
        updated_at: timestamp(r, "updated_at")?,
    })
}

#[async_trait]
impl ProviderStore for SqlMetadataStore {
    async fn list_providers(&self, tenant: &TenantId) -> Result<Vec<ProviderRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM provider_configs WHERE tenant_id = $1 \
             ORDER BY created_at, id LIMIT 1000"
        );
        let rows = sqlx::query(&sql)
            .bind(tenant.as_str())
            .fetch_all(&self.db.pool)
            .await
            .map_err(store_error)?;
        rows.iter().map(row).collect()
    }

    async fn get_provider(&self, tenant: &TenantId, id: &str) -> Result<ProviderRecord> {
        let sql =
            format!("SELECT {COLUMNS} FROM provider_configs WHERE tenant_id = $1 AND id = $2");
        let r = sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(store_error)?;
        r.as_ref()
            .map(row)
            .transpose()?
            .ok_or_else(|| not_found(id))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(provider = %record.name))]
    async fn insert_provider(&self, record: &ProviderRecord) -> Result<()> {
        let sql = format!(
            "INSERT INTO provider_configs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        );
        sqlx::query(&sql)
            .bind(record.id.as_str())
            .bind(record.tenant_id.as_str())
            .bind(record.name.as_str())
            .bind(record.kind.as_str())
            .bind(record.base_url.as_deref())
            .bind(record.model.as_deref())
            .bind(record.sealed_key.as_deref())
            .bind(record.key_hint.as_deref())
            .bind(ts(&record.created_at))
            .bind(ts(&record.updated_at))
            .execute(&self.db.pool)
            .await
            .map_err(|e| write_error(e, || conflict(&record.name), || not_found(&record.id)))?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(provider = %record.name))]
    async fn update_provider(&self, record: &ProviderRecord) -> Result<()> {
        let done = sqlx::query(
            "UPDATE provider_configs SET name = $1, kind = $2, base_url = $3, model = $4, \
             sealed_key = $5, key_hint = $6, updated_at = $7 WHERE tenant_id = $8 AND id = $9",
        )
        .bind(record.name.as_str())
        .bind(record.kind.as_str())
        .bind(record.base_url.as_deref())
        .bind(record.model.as_deref())
        .bind(record.sealed_key.as_deref())
        .bind(record.key_hint.as_deref())
        .bind(ts(&record.updated_at))
        .bind(record.tenant_id.as_str())
        .bind(record.id.as_str())
        .execute(&self.db.pool)
        .await
        .map_err(|e| write_error(e, || conflict(&record.name), || not_found(&record.id)))?;
        if done.rows_affected() == 0 {
            return Err(not_found(&record.id));
        }
        Ok(())
    }

    async fn delete_provider(&self, tenant: &TenantId, id: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM provider_configs WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id)
            .execute(&self.db.pool)
            .await
            .map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Err(not_found(id));
        }
        Ok(())
    }
}
