//! User queries.

use quarry_core::{Error, Page, Result, TenantId, User, UserId, UserPatch};
use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::query::Query;

use super::rows::{self, USER_COLUMNS, flag};
use crate::sql::Db;
use crate::sql::error::{Violation, store_error, violation};
use crate::sql::patch::{Value, update_returning};
use crate::sql::rows::{total, total_from_page, ts};
use crate::sql::url::Backend;

const COLUMNS_LIST: &str = "(id, tenant_id, username, email, role, can_act_for_tenants, \
     password_hash, disabled, created_at, updated_at)";

/// The PostgreSQL advisory lock that serialises [`create_first`] ("quarry-1u").
const FIRST_USER_LOCK: i64 = 0x7175_6172_7279_3175;

pub(crate) fn not_found(id: &UserId) -> Error {
    Error::not_found("user", id.as_str())
}

/// Usernames are unique without regard to case: stored and compared lower-cased.
pub(crate) fn normalize(username: &str) -> String {
    username.to_lowercase()
}

fn bind_user<'q>(
    q: Query<'q, Any, AnyArguments<'q>>,
    u: &'q User,
) -> Query<'q, Any, AnyArguments<'q>> {
    q.bind(u.id.as_str())
        .bind(u.tenant_id.as_str())
        .bind(normalize(&u.username))
        .bind(u.email.as_deref())
        .bind(u.role.as_str())
        .bind(flag(u.can_act_for_tenants))
        .bind(u.password_hash.as_deref())
        .bind(flag(u.disabled))
        .bind(ts(&u.created_at))
        .bind(ts(&u.updated_at))
}

/// The conflict a unique violation on inserting `user` stands for.
async fn taken(db: &Db, user: &User) -> Error {
    match find_by_username(db, &user.username).await {
        Ok(Some(_)) => {
            Error::Conflict(format!("username '{}' is taken", normalize(&user.username)).into())
        }
        _ => Error::Conflict(format!("user '{}' already exists", user.id).into()),
    }
}

/// Inserts `user` only if the table is empty. SQLite's `BEGIN IMMEDIATE` serialises writers;
/// on PostgreSQL a transaction-scoped advisory lock does, and under READ COMMITTED the
/// insert's snapshot, taken after the lock, sees a user committed by the previous holder.
pub(crate) async fn create_first(db: &Db, user: &User) -> Result<bool> {
    let mut tx = db.begin_write().await?;
    if db.backend == Backend::Postgres {
        // Selecting from the function: the Any driver cannot decode its `void` result.
        sqlx::query("SELECT 1 AS locked FROM pg_advisory_xact_lock($1)")
            .bind(FIRST_USER_LOCK)
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
    }
    let placeholders = (1..=10)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO users {COLUMNS_LIST} SELECT {placeholders} \
         WHERE NOT EXISTS (SELECT 1 FROM users)"
    );
    // A failure drops (rolls back) the transaction, releasing the lock.
    let done = match bind_user(sqlx::query(&sql), user).execute(&mut *tx).await {
        Ok(done) => done,
        // Only a concurrent `create` (which takes no lock) can get here.
        Err(e) if violation(&e) == Some(Violation::Unique) => {
            drop(tx);
            return Err(taken(db, user).await);
        }
        Err(e) => return Err(store_error(e)),
    };
    tx.commit().await.map_err(store_error)?;
    Ok(done.rows_affected() == 1)
}

/// Stores a user; a taken id or username is a conflict.
pub(crate) async fn create(db: &Db, user: &User) -> Result<()> {
    let sql = format!(
        "INSERT INTO users {COLUMNS_LIST} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    );
    match bind_user(sqlx::query(&sql), user).execute(&db.pool).await {
        Ok(_) => Ok(()),
        Err(e) if violation(&e) == Some(Violation::Unique) => Err(taken(db, user).await),
        Err(e) => Err(store_error(e)),
    }
}

/// One user of the tenant.
pub(crate) async fn get(db: &Db, tenant: &TenantId, id: &UserId) -> Result<User> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2");
    let row = sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&db.pool)
        .await
        .map_err(store_error)?;
    row.as_ref()
        .map(rows::user)
        .unwrap_or_else(|| Err(not_found(id)))
}

/// Whether the tenant has this user.
pub(crate) async fn exists(db: &Db, tenant: &TenantId, id: &UserId) -> Result<bool> {
    let row = sqlx::query("SELECT 1 AS one FROM users WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&db.pool)
        .await
        .map_err(store_error)?;
    Ok(row.is_some())
}

/// The user with this username, whatever its case, in any tenant.
pub(crate) async fn find_by_username(db: &Db, username: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
    let row = sqlx::query(&sql)
        .bind(normalize(username))
        .fetch_optional(&db.pool)
        .await
        .map_err(store_error)?;
    row.as_ref().map(rows::user).transpose()
}

/// A page of the tenant's users, oldest first, and how many it has.
pub(crate) async fn list(
    db: &Db,
    tenant: &TenantId,
    limit: u32,
    offset: u32,
) -> Result<Page<User>> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 \
         ORDER BY created_at, id LIMIT $2 OFFSET $3"
    );
    let items = sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(i64::from(limit))
        .bind(i64::from(offset))
        .fetch_all(&db.pool)
        .await
        .map_err(store_error)?
        .iter()
        .map(rows::user)
        .collect::<Result<Vec<_>>>()?;
    let total = match total_from_page(offset, limit, items.len()) {
        Some(total) => total,
        None => {
            let row = sqlx::query("SELECT COUNT(*) AS total FROM users WHERE tenant_id = $1")
                .bind(tenant.as_str())
                .fetch_one(&db.pool)
                .await
                .map_err(store_error)?;
            total(&row)?
        }
    };
    Ok(Page { items, total })
}

/// Applies `patch`, bumps `updated_at` and returns the user as stored.
pub(crate) async fn update(
    db: &Db,
    tenant: &TenantId,
    id: &UserId,
    patch: &UserPatch,
) -> Result<User> {
    let mut changes = Vec::new();
    if let Some(email) = &patch.email {
        changes.push(("email", Value::Text(email.as_deref())));
    }
    if let Some(role) = patch.role {
        changes.push(("role", Value::Text(Some(role.as_str()))));
    }
    if let Some(hash) = &patch.password_hash {
        changes.push(("password_hash", Value::Text(Some(hash.as_str()))));
    }
    if let Some(disabled) = patch.disabled {
        changes.push(("disabled", Value::Int(flag(disabled))));
    }
    let row = update_returning(
        db,
        "users",
        USER_COLUMNS,
        tenant.as_str(),
        id.as_str(),
        &changes,
    )
    .await?;
    row.as_ref()
        .map(rows::user)
        .unwrap_or_else(|| Err(not_found(id)))
}

/// Deletes a user. The schema cascades to its API keys, refresh tokens and authorization
/// codes, and to the OAuth2 clients it is the service user of (with their codes and tokens).
pub(crate) async fn delete(db: &Db, tenant: &TenantId, id: &UserId) -> Result<()> {
    let done = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id.as_str())
        .execute(&db.pool)
        .await
        .map_err(store_error)?;
    if done.rows_affected() == 0 {
        return Err(not_found(id));
    }
    Ok(())
}
