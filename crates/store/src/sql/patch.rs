//! Partial updates: `UPDATE … SET` only the columns a patch changes, plus `updated_at`.
//! Each assignment travels with its value, so placeholders and binds cannot drift apart.

use quarry_core::{Result, time};
use sqlx::any::AnyRow;

use super::Db;
use super::error::store_error;
use super::rows::ts;

/// The new value of one column.
pub(crate) enum Value<'a> {
    /// Text, or NULL.
    Text(Option<&'a str>),
    /// An integer.
    Int(i64),
}

/// Sets `changes` and `updated_at` on the row `(tenant_id, id)` of `table` and returns the
/// updated row's `returning` columns; `None` when no such row exists for that tenant.
pub(crate) async fn update_returning(
    db: &Db,
    table: &str,
    returning: &str,
    tenant: &str,
    id: &str,
    changes: &[(&str, Value<'_>)],
) -> Result<Option<AnyRow>> {
    let sets: Vec<String> = changes
        .iter()
        .map(|(column, _)| *column)
        .chain(["updated_at"])
        .enumerate()
        .map(|(i, column)| format!("{column} = ${}", i + 3))
        .collect();
    let sql = format!(
        "UPDATE {table} SET {} WHERE tenant_id = $1 AND id = $2 RETURNING {returning}",
        sets.join(", ")
    );
    let now = ts(&time::now());
    let mut q = sqlx::query(&sql).bind(tenant).bind(id);
    for (_, value) in changes {
        q = match value {
            Value::Text(v) => q.bind(*v),
            Value::Int(v) => q.bind(*v),
        };
    }
    q.bind(now)
        .fetch_optional(&db.pool)
        .await
        .map_err(store_error)
}
