//! [`SqlCatalog`] queries: the SQL data agent's connections, semantic models, examples,
//! settings, chat history and pending approvals.

use async_trait::async_trait;
use chrono::Utc;
use quarry_core::{
    Error, PendingQuery, Result, SqlCatalog, SqlChatMessage, SqlConnection, SqlExample, TenantId,
};
use sqlx::any::AnyRow;

use super::SqlMetadataStore;
use super::error::{store_error, write_error};
use super::rows::{text, timestamp, ts};

fn connection(row: &AnyRow, tenant: &TenantId) -> Result<SqlConnection> {
    Ok(SqlConnection {
        id: text(row, "id")?,
        tenant_id: tenant.clone(),
        name: text(row, "name")?,
        engine: text(row, "engine")?,
        sealed_url: text(row, "sealed_url")?,
        execution_mode: text(row, "execution_mode")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
    })
}

fn example(row: &AnyRow, tenant: &TenantId) -> Result<SqlExample> {
    Ok(SqlExample {
        id: text(row, "id")?,
        tenant_id: tenant.clone(),
        connection_id: text(row, "connection_id")?,
        question: text(row, "question")?,
        sql: text(row, "sql_text")?,
        created_at: timestamp(row, "created_at")?,
    })
}

const CONNECTION_COLUMNS: &str =
    "id, name, engine, sealed_url, execution_mode, created_at, updated_at";

#[async_trait]
impl SqlCatalog for SqlMetadataStore {
    async fn create_connection(&self, c: &SqlConnection) -> Result<()> {
        sqlx::query(
            "INSERT INTO sql_connections (tenant_id, id, name, engine, sealed_url, execution_mode, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(c.tenant_id.as_str())
        .bind(c.id.as_str())
        .bind(c.name.as_str())
        .bind(c.engine.as_str())
        .bind(c.sealed_url.as_str())
        .bind(c.execution_mode.as_str())
        .bind(ts(&c.created_at))
        .bind(ts(&c.updated_at))
        .execute(&self.db.pool)
        .await
        .map_err(|e| {
            write_error(
                e,
                || Error::Conflict(format!("connection '{}' already exists", c.id).into()),
                || Error::not_found("connection", c.id.as_str()),
            )
        })?;
        Ok(())
    }

    async fn get_connection(&self, tenant: &TenantId, id: &str) -> Result<SqlConnection> {
        let row = sqlx::query(&format!(
            "SELECT {CONNECTION_COLUMNS} FROM sql_connections WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(store_error)?
        .ok_or_else(|| Error::not_found("connection", id))?;
        connection(&row, tenant)
    }

    async fn list_connections(&self, tenant: &TenantId) -> Result<Vec<SqlConnection>> {
        let rows = sqlx::query(&format!(
            "SELECT {CONNECTION_COLUMNS} FROM sql_connections WHERE tenant_id = $1 ORDER BY created_at, id"
        ))
        .bind(tenant.as_str())
        .fetch_all(&self.db.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(|r| connection(r, tenant)).collect()
    }

    async fn update_connection(&self, c: &SqlConnection) -> Result<()> {
        let done = sqlx::query(
            "UPDATE sql_connections SET name = $3, engine = $4, sealed_url = $5, execution_mode = $6, \
             updated_at = $7 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(c.tenant_id.as_str())
        .bind(c.id.as_str())
        .bind(c.name.as_str())
        .bind(c.engine.as_str())
        .bind(c.sealed_url.as_str())
        .bind(c.execution_mode.as_str())
        .bind(ts(&c.updated_at))
        .execute(&self.db.pool)
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("connection", c.id.as_str()));
        }
        Ok(())
    }

    async fn delete_connection(&self, tenant: &TenantId, id: &str) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        for table in ["sql_semantic_models", "sql_examples", "sql_pending_queries"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE tenant_id = $1 AND connection_id = $2"
            ))
            .bind(tenant.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        }
        let done = sqlx::query("DELETE FROM sql_connections WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("connection", id));
        }
        tx.commit().await.map_err(store_error)
    }

    async fn put_semantic_model(
        &self,
        tenant: &TenantId,
        connection_id: &str,
        model: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sql_semantic_models (tenant_id, connection_id, model, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, connection_id) \
             DO UPDATE SET model = excluded.model, updated_at = excluded.updated_at",
        )
        .bind(tenant.as_str())
        .bind(connection_id)
        .bind(model)
        .bind(ts(&Utc::now()))
        .execute(&self.db.pool)
        .await
        .map_err(|e| {
            write_error(
                e,
                || Error::Conflict("semantic model changed concurrently".into()),
                || Error::not_found("connection", connection_id),
            )
        })?;
        Ok(())
    }

    async fn get_semantic_model(
        &self,
        tenant: &TenantId,
        connection_id: &str,
    ) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT model FROM sql_semantic_models WHERE tenant_id = $1 AND connection_id = $2",
        )
        .bind(tenant.as_str())
        .bind(connection_id)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(store_error)?;
        row.map(|r| text(&r, "model")).transpose()
    }

    async fn delete_semantic_model(&self, tenant: &TenantId, connection_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM sql_semantic_models WHERE tenant_id = $1 AND connection_id = $2")
            .bind(tenant.as_str())
            .bind(connection_id)
            .execute(&self.db.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn add_example(&self, e: &SqlExample) -> Result<()> {
        sqlx::query(
            "INSERT INTO sql_examples (tenant_id, id, connection_id, question, sql_text, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(e.tenant_id.as_str())
        .bind(e.id.as_str())
        .bind(e.connection_id.as_str())
        .bind(e.question.as_str())
        .bind(e.sql.as_str())
        .bind(ts(&e.created_at))
        .execute(&self.db.pool)
        .await
        .map_err(|err| {
            write_error(
                err,
                || Error::Conflict(format!("example '{}' already exists", e.id).into()),
                || Error::not_found("connection", e.connection_id.as_str()),
            )
        })?;
        Ok(())
    }

    async fn list_examples(
        &self,
        tenant: &TenantId,
        connection_id: Option<&str>,
    ) -> Result<Vec<SqlExample>> {
        let rows = match connection_id {
            Some(c) => sqlx::query(
                "SELECT id, connection_id, question, sql_text, created_at FROM sql_examples \
                 WHERE tenant_id = $1 AND connection_id = $2 ORDER BY created_at, id",
            )
            .bind(tenant.as_str())
            .bind(c),
            None => sqlx::query(
                "SELECT id, connection_id, question, sql_text, created_at FROM sql_examples \
                 WHERE tenant_id = $1 ORDER BY created_at, id",
            )
            .bind(tenant.as_str()),
        }
        .fetch_all(&self.db.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(|r| example(r, tenant)).collect()
    }

    async fn delete_example(&self, tenant: &TenantId, id: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM sql_examples WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id)
            .execute(&self.db.pool)
            .await
            .map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("example", id));
        }
        Ok(())
    }

    async fn put_settings(&self, tenant: &TenantId, settings: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO sql_settings (tenant_id, settings, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
        )
        .bind(tenant.as_str())
        .bind(settings)
        .bind(ts(&Utc::now()))
        .execute(&self.db.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn get_settings(&self, tenant: &TenantId) -> Result<Option<String>> {
        let row = sqlx::query("SELECT settings FROM sql_settings WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .fetch_optional(&self.db.pool)
            .await
            .map_err(store_error)?;
        row.map(|r| text(&r, "settings")).transpose()
    }

    async fn append_chat(&self, m: &SqlChatMessage) -> Result<()> {
        sqlx::query(
            "INSERT INTO sql_chat_messages (tenant_id, id, session_id, connection_id, role, content, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(m.tenant_id.as_str())
        .bind(m.id.as_str())
        .bind(m.session_id.as_str())
        .bind(m.connection_id.as_str())
        .bind(m.role.as_str())
        .bind(m.content.as_str())
        .bind(ts(&m.created_at))
        .execute(&self.db.pool)
        .await
        .map_err(|e| {
            write_error(
                e,
                || Error::Conflict(format!("message '{}' already exists", m.id).into()),
                || Error::not_found("session", m.session_id.as_str()),
            )
        })?;
        Ok(())
    }

    async fn chat_history(
        &self,
        tenant: &TenantId,
        session_id: &str,
        limit: u32,
    ) -> Result<Vec<SqlChatMessage>> {
        let rows = sqlx::query(
            "SELECT id, session_id, connection_id, role, content, created_at FROM sql_chat_messages \
             WHERE tenant_id = $1 AND session_id = $2 ORDER BY created_at, id LIMIT $3",
        )
        .bind(tenant.as_str())
        .bind(session_id)
        .bind(i64::from(limit))
        .fetch_all(&self.db.pool)
        .await
        .map_err(store_error)?;
        rows.iter()
            .map(|r| {
                Ok(SqlChatMessage {
                    id: text(r, "id")?,
                    tenant_id: tenant.clone(),
                    session_id: text(r, "session_id")?,
                    connection_id: text(r, "connection_id")?,
                    role: text(r, "role")?,
                    content: text(r, "content")?,
                    created_at: timestamp(r, "created_at")?,
                })
            })
            .collect()
    }

    async fn put_pending(&self, p: &PendingQuery) -> Result<()> {
        sqlx::query(
            "INSERT INTO sql_pending_queries (tenant_id, message_id, session_id, connection_id, question, \
             sql_text, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(p.tenant_id.as_str())
        .bind(p.message_id.as_str())
        .bind(p.session_id.as_str())
        .bind(p.connection_id.as_str())
        .bind(p.question.as_str())
        .bind(p.sql.as_str())
        .bind(ts(&p.created_at))
        .execute(&self.db.pool)
        .await
        .map_err(|e| {
            write_error(
                e,
                || Error::Conflict(format!("message '{}' is already pending", p.message_id).into()),
                || Error::not_found("connection", p.connection_id.as_str()),
            )
        })?;
        Ok(())
    }

    async fn take_pending(&self, tenant: &TenantId, message_id: &str) -> Result<PendingQuery> {
        let mut tx = self.db.begin_write().await?;
        let row = sqlx::query(
            "SELECT session_id, connection_id, question, sql_text, created_at FROM sql_pending_queries \
             WHERE tenant_id = $1 AND message_id = $2",
        )
        .bind(tenant.as_str())
        .bind(message_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?
        .ok_or_else(|| Error::not_found("pending query", message_id))?;
        let pending = PendingQuery {
            message_id: message_id.to_owned(),
            tenant_id: tenant.clone(),
            session_id: text(&row, "session_id")?,
            connection_id: text(&row, "connection_id")?,
            question: text(&row, "question")?,
            sql: text(&row, "sql_text")?,
            created_at: timestamp(&row, "created_at")?,
        };
        sqlx::query("DELETE FROM sql_pending_queries WHERE tenant_id = $1 AND message_id = $2")
            .bind(tenant.as_str())
            .bind(message_id)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(pending)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::MetadataOptions;

    #[tokio::test]
    async fn catalog_round_trips_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("q.db").display());
        let store = SqlMetadataStore::connect(&url, &MetadataOptions::default())
            .await
            .unwrap();
        let t = TenantId::owner();
        let other = TenantId::parse("team-beta").unwrap();
        // Stored timestamps keep microseconds.
        let now = chrono::DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap();
        let mut c = SqlConnection {
            id: "c1".into(),
            tenant_id: t.clone(),
            name: "shop".into(),
            engine: "postgres".into(),
            sealed_url: "sealed:abc".into(),
            execution_mode: "auto_execute".into(),
            created_at: now,
            updated_at: now,
        };
        store.create_connection(&c).await.unwrap();
        assert!(matches!(
            store.create_connection(&c).await,
            Err(Error::Conflict(_))
        ));
        assert!(store.get_connection(&other, "c1").await.is_err());
        c.execution_mode = "review_first".into();
        store.update_connection(&c).await.unwrap();
        assert_eq!(
            store.get_connection(&t, "c1").await.unwrap().execution_mode,
            "review_first"
        );
        store
            .put_semantic_model(&t, "c1", "{\"tables\":[]}")
            .await
            .unwrap();
        store.put_semantic_model(&t, "c1", "{}").await.unwrap();
        assert_eq!(
            store.get_semantic_model(&t, "c1").await.unwrap().as_deref(),
            Some("{}")
        );
        let ex = SqlExample {
            id: "e1".into(),
            tenant_id: t.clone(),
            connection_id: "c1".into(),
            question: "how many?".into(),
            sql: "SELECT 1".into(),
            created_at: now,
        };
        store.add_example(&ex).await.unwrap();
        assert_eq!(store.list_examples(&t, Some("c1")).await.unwrap(), vec![ex]);
        store
            .put_settings(&t, "{\"cache_ttl_secs\":5}")
            .await
            .unwrap();
        assert!(store.get_settings(&t).await.unwrap().unwrap().contains('5'));
        let p = PendingQuery {
            message_id: "m1".into(),
            tenant_id: t.clone(),
            session_id: "s1".into(),
            connection_id: "c1".into(),
            question: "q".into(),
            sql: "SELECT 1".into(),
            created_at: now,
        };
        store.put_pending(&p).await.unwrap();
        assert_eq!(store.take_pending(&t, "m1").await.unwrap(), p);
        assert!(store.take_pending(&t, "m1").await.is_err());
        store
            .append_chat(&SqlChatMessage {
                id: "m0".into(),
                tenant_id: t.clone(),
                session_id: "s1".into(),
                connection_id: "c1".into(),
                role: "user".into(),
                content: "{}".into(),
                created_at: now,
            })
            .await
            .unwrap();
        assert_eq!(store.chat_history(&t, "s1", 10).await.unwrap().len(), 1);
        store.delete_connection(&t, "c1").await.unwrap();
        assert!(store.list_examples(&t, None).await.unwrap().is_empty());
        assert!(store.get_semantic_model(&t, "c1").await.unwrap().is_none());
        assert!(store.list_connections(&t).await.unwrap().is_empty());
    }
}
