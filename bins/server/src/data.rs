//! The SQL data agent at startup: the demo database is generated in the data directory on
//! first start and registered as the default connection.

use std::{path::Path, sync::Arc};

use quarry_api::data::DataService;
use quarry_sql::{
    ConnectionSpec, DataSource, DefaultConnection, SemanticModel, SqlAgent, demo,
    semantic::{ColumnMeta, TableMeta},
};

/// The id of the demo connection.
pub const DEMO_CONNECTION: &str = "demo";

/// The data service over the demo database (created when missing); `None`, with a warning,
/// when it cannot be created.
pub async fn open(data_dir: &Path) -> Option<DataService> {
    let path = data_dir.join(demo::DEMO_FILE);
    match demo::ensure(&path).await {
        Ok(true) => tracing::info!(path = %path.display(), "generated the demo database"),
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot create the demo database; the data agent has no default connection");
            return None;
        }
    }
    let source = match DataSource::connect(&ConnectionSpec::sqlite(&path)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot open the demo database");
            return None;
        }
    };
    let default = DefaultConnection {
        id: DEMO_CONNECTION.to_owned(),
        source,
        semantic: demo_semantics(),
    };
    Some(DataService::new(
        Arc::new(SqlAgent::default()),
        Some(default),
        data_dir.join("tmp").join("exports"),
    ))
}

fn demo_semantics() -> SemanticModel {
    let table = |t: &str, d: &str| TableMeta {
        table: t.to_owned(),
        display_name: None,
        description: Some(d.to_owned()),
        columns: Vec::new(),
    };
    let mut orders = table(
        "orders",
        "One row per order; total is the order's value in EUR",
    );
    orders.columns.push(ColumnMeta {
        column: "total".to_owned(),
        display_name: None,
        description: Some("order value in EUR (sum of its items)".to_owned()),
    });
    SemanticModel {
        tables: vec![
            table("customers", "People who bought from the shop"),
            table("products", "Items for sale, each in one category"),
            table("categories", "Product categories"),
            orders,
            table(
                "order_items",
                "Lines of an order: product, quantity, unit price",
            ),
        ],
        ..SemanticModel::default()
    }
}
