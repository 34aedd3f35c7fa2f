//! The offline analyst, judged by results: each question's query is executed and its rows
//! compared with those of a query written by hand.

use quarry_sql::{
    ConnectionSpec, DataSource, Engine, Limits, OfflineAnalyst, Schema, SemanticModel, demo, guard,
    semantic::ValueMapping,
};
use serde_json::Value;
use sqlx::Connection;

async fn rows(src: &DataSource, sql: &str) -> Vec<Vec<Value>> {
    let g = guard::check(src.engine(), sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let r = src
        .query(
            &g,
            Limits {
                max_rows: 100_000,
                ..Limits::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    r.rows
}

/// Numbers compared to two decimals; everything else exactly.
fn norm(rows: Vec<Vec<Value>>) -> Vec<Vec<String>> {
    rows.into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| match v {
                    Value::Number(n) => format!("{:.2}", n.as_f64().unwrap()),
                    Value::String(s) => match s.parse::<f64>() {
                        Ok(f) if s.contains('.') => format!("{f:.2}"),
                        _ => s,
                    },
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

async fn check(
    src: &DataSource,
    schema: &Schema,
    semantic: &SemanticModel,
    cases: &[(&str, &str)],
) {
    let analyst = OfflineAnalyst;
    let mut failures = Vec::new();
    for (question, expected) in cases {
        match analyst.analyse(question, schema, semantic) {
            Ok(a) => {
                let got = norm(rows(src, &a.sql).await);
                let want = norm(rows(src, expected).await);
                assert!(
                    !want.is_empty(),
                    "{question}: the expected query returns nothing"
                );
                if got != want {
                    failures.push(format!(
                        "{question}\n  sql: {}\n  got:  {:?}\n  want: {:?}",
                        a.sql,
                        got.iter().take(5).collect::<Vec<_>>(),
                        want.iter().take(5).collect::<Vec<_>>()
                    ));
                }
            }
            Err(e) => failures.push(format!("{question}\n  not understood: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} questions failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

const DEMO_CASES: &[(&str, &str)] = &[
    (
        "How many customers are there?",
        "SELECT COUNT(*) FROM customers",
    ),
    ("How many orders are there?", "SELECT COUNT(*) FROM orders"),
    ("Number of products", "SELECT COUNT(*) FROM products"),
    (
        "How many customers are in Berlin?",
        "SELECT COUNT(*) FROM customers WHERE city = 'Berlin'",
    ),
    (
        "How many premium customers do we have?",
        "SELECT COUNT(*) FROM customers WHERE tier = 'premium'",
    ),
    (
        "How many orders were completed?",
        "SELECT COUNT(*) FROM orders WHERE status = 'completed'",
    ),
    (
        "How many orders in 2025?",
        "SELECT COUNT(*) FROM orders WHERE order_date >= '2025-01-01' AND order_date < '2026-01-01'",
    ),
    (
        "How many orders were placed in March 2025?",
        "SELECT COUNT(*) FROM orders WHERE order_date >= '2025-03-01' AND order_date < '2025-04-01'",
    ),
    (
        "How many orders since 2025-06-01?",
        "SELECT COUNT(*) FROM orders WHERE order_date >= '2025-06-01'",
    ),
    (
        "What is the total revenue?",
        "SELECT ROUND(SUM(total), 2) FROM orders",
    ),
    (
        "Total revenue in 2024",
        "SELECT ROUND(SUM(total), 2) FROM orders WHERE order_date >= '2024-01-01' AND order_date < '2025-01-01'",
    ),
    (
        "What is the average order value?",
        "SELECT ROUND(AVG(total), 2) FROM orders",
    ),
    (
        "What is the average price of products?",
        "SELECT AVG(price) FROM products",
    ),
    (
        "Maximum price of products",
        "SELECT MAX(price) FROM products",
    ),
    (
        "Average price of products in Books",
        "SELECT AVG(p.price) FROM products p JOIN categories c ON c.id = p.category_id WHERE c.name = 'Books'",
    ),
    (
        "Number of orders by status",
        "SELECT status, COUNT(*) AS n FROM orders GROUP BY status ORDER BY n DESC, status",
    ),
    (
        "Customers per country",
        "SELECT country, COUNT(*) AS n FROM customers GROUP BY country ORDER BY n DESC, country",
    ),
    (
        "How many products in each category?",
        "SELECT c.name, COUNT(*) AS n FROM products p JOIN categories c ON c.id = p.category_id GROUP BY c.id, c.name ORDER BY n DESC, c.name",
    ),
    (
        "Revenue by category",
        "SELECT c.name, ROUND(SUM(i.quantity * i.unit_price), 2) AS r FROM order_items i JOIN products p ON p.id = i.product_id JOIN categories c ON c.id = p.category_id GROUP BY c.id, c.name ORDER BY r DESC, c.name",
    ),
    (
        "Top 5 products by revenue",
        "SELECT p.name, ROUND(SUM(i.quantity * i.unit_price), 2) AS r FROM order_items i JOIN products p ON p.id = i.product_id GROUP BY p.id, p.name ORDER BY r DESC, p.name LIMIT 5",
    ),
    (
        "Top 3 customers by revenue",
        "SELECT c.name, ROUND(SUM(o.total), 2) AS r FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.id, c.name ORDER BY r DESC, c.name LIMIT 3",
    ),
    (
        "3 most expensive products",
        "SELECT name, price FROM products ORDER BY price DESC, id LIMIT 3",
    ),
    (
        "What are the 2 cheapest products?",
        "SELECT name, price FROM products ORDER BY price ASC, id LIMIT 2",
    ),
    (
        "Which product has the highest price?",
        "SELECT name, price FROM products ORDER BY price DESC, id LIMIT 1",
    ),
    (
        "Which city has the most customers?",
        "SELECT city, COUNT(*) AS n FROM customers GROUP BY city ORDER BY n DESC, city LIMIT 1",
    ),
    (
        "Orders per month in 2025",
        "SELECT strftime('%Y-%m', order_date) AS m, COUNT(*) FROM orders WHERE order_date >= '2025-01-01' AND order_date < '2026-01-01' GROUP BY m ORDER BY m",
    ),
    (
        "Monthly revenue in 2024",
        "SELECT strftime('%Y-%m', order_date) AS m, ROUND(SUM(total), 2) FROM orders WHERE order_date >= '2024-01-01' AND order_date < '2025-01-01' GROUP BY m ORDER BY m",
    ),
    (
        "Revenue by year",
        "SELECT strftime('%Y', order_date) AS y, ROUND(SUM(total), 2) FROM orders GROUP BY y ORDER BY y",
    ),
    (
        "How many orders from customers in Paris?",
        "SELECT COUNT(*) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.city = 'Paris'",
    ),
    (
        "How many customers ordered in 2025?",
        "SELECT COUNT(DISTINCT c.id) FROM customers c JOIN orders o ON o.customer_id = c.id WHERE o.order_date >= '2025-01-01' AND o.order_date < '2026-01-01'",
    ),
    (
        "Products with price over 150",
        "SELECT * FROM products WHERE price > 150 ORDER BY id",
    ),
    (
        "List the categories",
        "SELECT * FROM categories ORDER BY id",
    ),
    (
        "Total quantity of order items by category",
        "SELECT c.name, SUM(i.quantity) AS q FROM order_items i JOIN products p ON p.id = i.product_id JOIN categories c ON c.id = p.category_id GROUP BY c.id, c.name ORDER BY q DESC, c.name",
    ),
    (
        "How many VIP customers are in Germany?",
        "SELECT COUNT(*) FROM customers WHERE tier = 'premium' AND country = 'Germany'",
    ),
];

const NOT_UNDERSTOOD: &[&str] = &[
    "Why did sales drop?",
    "How many customers are not in Berlin?",
    "Predict next month's revenue",
    "How many unicorns are there?",
    "Show me the weather in Paris",
    "Revenue growth compared to last year",
    "Top customers",
    "",
];

#[tokio::test]
async fn offline_analyst_answers_demo_questions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(demo::DEMO_FILE);
    demo::ensure(&path).await.unwrap();
    let src = DataSource::connect(&ConnectionSpec::sqlite(&path))
        .await
        .unwrap();
    let schema = src.introspect().await.unwrap();
    let semantic = SemanticModel {
        value_mappings: vec![ValueMapping {
            term: "vip".into(),
            table: "customers".into(),
            column: "tier".into(),
            value: "premium".into(),
        }],
        ..SemanticModel::default()
    };
    check(&src, &schema, &semantic, DEMO_CASES).await;
    for q in NOT_UNDERSTOOD {
        let r = OfflineAnalyst.analyse(q, &schema, &semantic);
        assert!(
            r.is_err(),
            "{q:?} should not be understood, got {:?}",
            r.map(|a| a.sql)
        );
        let msg = r.unwrap_err().to_string();
        assert!(!msg.is_empty());
    }
}

const LEAGUE_CASES: &[(&str, &str)] = &[
    (
        "How many players are there?",
        "SELECT COUNT(*) FROM players",
    ),
    ("How many teams?", "SELECT COUNT(*) FROM teams"),
    ("Total goals", "SELECT SUM(goals) FROM players"),
    (
        "Total goals by team",
        "SELECT t.name, SUM(p.goals) AS g FROM players p JOIN teams t ON t.id = p.team_id GROUP BY t.id, t.name ORDER BY g DESC, t.name",
    ),
    (
        "Average salary of forwards",
        "SELECT AVG(salary) FROM players WHERE position = 'forward'",
    ),
    (
        "How many players per position?",
        "SELECT position, COUNT(*) AS n FROM players GROUP BY position ORDER BY n DESC, position",
    ),
    (
        "Top 2 players by goals",
        "SELECT name, goals FROM players ORDER BY goals DESC, id LIMIT 2",
    ),
    (
        "Which team has the most players?",
        "SELECT t.name, COUNT(*) AS n FROM players p JOIN teams t ON t.id = p.team_id GROUP BY t.id, t.name ORDER BY n DESC, t.name LIMIT 1",
    ),
    (
        "How many players joined in 2024?",
        "SELECT COUNT(*) FROM players WHERE joined >= '2024-01-01' AND joined < '2025-01-01'",
    ),
    (
        "Players per year",
        "SELECT strftime('%Y', joined) AS y, COUNT(*) FROM players GROUP BY y ORDER BY y",
    ),
    (
        "How many players in the north league?",
        "SELECT COUNT(*) FROM players p JOIN teams t ON t.id = p.team_id WHERE t.league = 'north'",
    ),
    (
        "Players with goals over 5",
        "SELECT * FROM players WHERE goals > 5 ORDER BY id",
    ),
    (
        "Total salary of the Otters",
        "SELECT SUM(p.salary) FROM players p JOIN teams t ON t.id = p.team_id WHERE t.name = 'Otters'",
    ),
];

#[tokio::test]
async fn offline_analyst_works_on_another_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("league.db");
    let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    sqlx::raw_sql(super::engines::FIXTURE)
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    let src = DataSource::connect(&ConnectionSpec::sqlite(&path))
        .await
        .unwrap();
    let schema = src.introspect().await.unwrap();
    assert_eq!(schema.engine, Engine::Sqlite);
    check(&src, &schema, &SemanticModel::default(), LEAGUE_CASES).await;
    // Revenue means nothing here: refused, not guessed.
    assert!(
        OfflineAnalyst
            .analyse("Total revenue", &schema, &SemanticModel::default())
            .is_err()
    );
}

/// The same questions on PostgreSQL and MariaDB (the dialects' SQL differs; the answers must
/// not).
async fn league_on(engine: Engine) {
    let Some((spec, cleanup)) = super::engines::fixture(engine, "analyst").await else {
        return;
    };
    let src = DataSource::connect(&spec).await.unwrap();
    let schema = src.introspect().await.unwrap();
    let cases: Vec<(&str, &str)> = LEAGUE_CASES
        .iter()
        .copied()
        .filter(|(_, sql)| !sql.contains("strftime"))
        .collect();
    check(&src, &schema, &SemanticModel::default(), &cases).await;
    src.close().await;
    cleanup();
}

#[tokio::test]
async fn offline_analyst_on_postgres() {
    league_on(Engine::Postgres).await;
}

#[tokio::test]
async fn offline_analyst_on_mariadb() {
    league_on(Engine::Mysql).await;
}
