//! The demo database: a small shop (categories, products, customers, orders, order items),
//! generated deterministically as SQLite so a fresh quarry can answer questions at once.

use std::path::Path;

use sqlx::{Connection, SqliteConnection, sqlite::SqliteConnectOptions};

use crate::{Result, SqlError};

/// File name of the demo database in the data directory.
pub const DEMO_FILE: &str = "demo.sqlite";
/// Number of customers.
pub const CUSTOMERS: usize = 500;
/// Number of orders (2024-01-01 to 2025-12-31).
pub const ORDERS: usize = 4000;

/// A small deterministic generator (SplitMix64), stable across releases, unlike library RNGs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const CATEGORIES: &[(&str, &[&str])] = &[
    (
        "Electronics",
        &[
            "Headphones",
            "Keyboard",
            "Monitor",
            "Webcam",
            "Speaker",
            "Charger",
            "Mouse",
            "Tablet",
            "Router",
            "Smartwatch",
        ],
    ),
    (
        "Books",
        &[
            "Cookbook",
            "Novel",
            "Atlas",
            "Biography",
            "Poetry Collection",
            "Travel Guide",
            "Comic",
            "Dictionary",
            "Textbook",
            "Sketchbook",
        ],
    ),
    (
        "Home",
        &[
            "Lamp",
            "Blanket",
            "Mug Set",
            "Vase",
            "Cushion",
            "Clock",
            "Towel Set",
            "Candle",
            "Mirror",
            "Rug",
        ],
    ),
    (
        "Garden",
        &[
            "Shovel",
            "Planter",
            "Hose",
            "Seed Kit",
            "Gloves",
            "Pruner",
            "Bird Feeder",
            "Watering Can",
            "Lantern",
            "Bench",
        ],
    ),
    (
        "Toys",
        &[
            "Puzzle",
            "Robot Kit",
            "Board Game",
            "Plush Bear",
            "Kite",
            "Blocks",
            "Yo-yo",
            "Race Car",
            "Doll House",
            "Marble Run",
        ],
    ),
    (
        "Sports",
        &[
            "Yoga Mat",
            "Dumbbells",
            "Football",
            "Tennis Racket",
            "Bike Helmet",
            "Water Bottle",
            "Jump Rope",
            "Running Shoes",
            "Backpack",
            "Tent",
        ],
    ),
];
const ADJECTIVES: &[&str] = &["Classic", "Pro", "Mini", "Deluxe"];
const FIRST: &[&str] = &[
    "Alice", "Bruno", "Chen", "Dana", "Emil", "Fatima", "Gustav", "Hana", "Ivan", "Julia", "Kofi",
    "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara",
];
const LAST: &[&str] = &[
    "Adler", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hoffmann", "Ito",
    "Jensen", "Kowalski", "Lopez", "Moreau", "Novak", "Olsen", "Petrov", "Rossi", "Schmidt",
    "Tanaka", "Weber",
];
const CITIES: &[(&str, &str)] = &[
    ("Berlin", "Germany"),
    ("Hamburg", "Germany"),
    ("Munich", "Germany"),
    ("Paris", "France"),
    ("Lyon", "France"),
    ("Madrid", "Spain"),
    ("Barcelona", "Spain"),
    ("Rome", "Italy"),
    ("Milan", "Italy"),
    ("Vienna", "Austria"),
    ("Amsterdam", "Netherlands"),
    ("London", "United Kingdom"),
];
const STATUSES: &[&str] = &[
    "completed",
    "completed",
    "completed",
    "completed",
    "shipped",
    "shipped",
    "pending",
    "cancelled",
];

const DDL: &str = "
CREATE TABLE categories (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);
CREATE TABLE products (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  category_id INTEGER NOT NULL REFERENCES categories(id),
  price REAL NOT NULL
);
CREATE TABLE customers (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT NOT NULL UNIQUE,
  city TEXT NOT NULL,
  country TEXT NOT NULL,
  tier TEXT NOT NULL,
  signup_date DATE NOT NULL
);
CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  order_date DATE NOT NULL,
  status TEXT NOT NULL,
  total REAL NOT NULL
);
CREATE TABLE order_items (
  id INTEGER PRIMARY KEY,
  order_id INTEGER NOT NULL REFERENCES orders(id),
  product_id INTEGER NOT NULL REFERENCES products(id),
  quantity INTEGER NOT NULL,
  unit_price REAL NOT NULL
);
CREATE INDEX orders_customer ON orders(customer_id);
CREATE INDEX orders_date ON orders(order_date);
CREATE INDEX items_order ON order_items(order_id);
CREATE INDEX items_product ON order_items(product_id);
";

fn date(day: i64) -> String {
    let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
    (start + chrono::Duration::days(day))
        .format("%Y-%m-%d")
        .to_string()
}

/// Creates the demo database at `path` unless it exists; true when it was created.
pub async fn ensure(path: &Path) -> Result<bool> {
    if tokio::fs::try_exists(path).await? {
        return Ok(false);
    }
    let tmp = path.with_extension("sqlite.tmp");
    let _ = tokio::fs::remove_file(&tmp).await;
    let opts = SqliteConnectOptions::new()
        .filename(&tmp)
        .create_if_missing(true);
    let mut conn = SqliteConnection::connect_with(&opts)
        .await
        .map_err(SqlError::db)?;
    generate(&mut conn).await.map_err(SqlError::db)?;
    conn.close().await.map_err(SqlError::db)?;
    tokio::fs::rename(&tmp, path).await?;
    Ok(true)
}

/// One value of a generated row.
enum Val {
    I(i64),
    F(f64),
    S(String),
}

/// Rows of one table, written in multi-row `INSERT`s: a few dozen statements instead of one
/// per row keeps a new data directory's first start short.
struct Rows {
    table: &'static str,
    columns: &'static str,
    rows: Vec<Vec<Val>>,
}

impl Rows {
    fn new(table: &'static str, columns: &'static str) -> Self {
        Self {
            table,
            columns,
            rows: Vec::new(),
        }
    }

    fn push(&mut self, row: Vec<Val>) {
        self.rows.push(row);
    }

    async fn write(self, tx: &mut SqliteConnection) -> Result<(), sqlx::Error> {
        for chunk in self.rows.chunks(500) {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!(
                "INSERT INTO {} ({}) ",
                self.table, self.columns
            ));
            q.push_values(chunk, |mut b, row| {
                for v in row {
                    match v {
                        Val::I(x) => b.push_bind(*x),
                        Val::F(x) => b.push_bind(*x),
                        Val::S(x) => b.push_bind(x.clone()),
                    };
                }
            });
            q.build().execute(&mut *tx).await?;
        }
        Ok(())
    }
}

async fn generate(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    use Val::{F, I, S};
    let mut rng = Rng(0x5157_4152_5259);
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(DDL).execute(&mut *tx).await?;
    let mut categories = Rows::new("categories", "id, name");
    let mut product_rows = Rows::new("products", "id, name, category_id, price");
    let mut products: Vec<f64> = Vec::new();
    for (ci, (cat, items)) in CATEGORIES.iter().enumerate() {
        categories.push(vec![I(ci as i64 + 1), S((*cat).to_owned())]);
        for item in *items {
            let name = format!("{} {item}", rng.pick(ADJECTIVES));
            let price = (500 + rng.below(19_500)) as f64 / 100.0;
            products.push(price);
            product_rows.push(vec![
                I(products.len() as i64),
                S(name),
                I(ci as i64 + 1),
                F(price),
            ]);
        }
    }
    let mut customers = Rows::new(
        "customers",
        "id, name, email, city, country, tier, signup_date",
    );
    for id in 1..=CUSTOMERS {
        let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
        let (city, country) = CITIES[rng.below(CITIES.len())];
        let tier = if rng.below(5) == 0 {
            "premium"
        } else {
            "standard"
        };
        customers.push(vec![
            I(id as i64),
            S(format!("{first} {last}")),
            S(format!(
                "{}.{}{id}@example.com",
                first.to_lowercase(),
                last.to_lowercase()
            )),
            S(city.to_owned()),
            S(country.to_owned()),
            S(tier.to_owned()),
            S(date(rng.below(600) as i64 - 300)),
        ]);
    }
    let mut orders = Rows::new("orders", "id, customer_id, order_date, status, total");
    let mut order_items = Rows::new(
        "order_items",
        "id, order_id, product_id, quantity, unit_price",
    );
    let mut item_id = 0i64;
    for id in 1..=ORDERS {
        let customer = 1 + rng.below(CUSTOMERS) as i64;
        // Orders grow over the two years: later days are more likely.
        let day = rng.below(731).max(rng.below(731)) as i64;
        let status = rng.pick(STATUSES);
        let mut total = 0i64;
        let lines = 1 + rng.below(4);
        let mut items = Vec::with_capacity(lines);
        for _ in 0..lines {
            let product = rng.below(products.len());
            let qty = 1 + rng.below(3) as i64;
            let cents = (products[product] * 100.0).round() as i64;
            total += cents * qty;
            items.push((product as i64 + 1, qty, cents as f64 / 100.0));
        }
        orders.push(vec![
            I(id as i64),
            I(customer),
            S(date(day)),
            S(status.to_owned()),
            F(total as f64 / 100.0),
        ]);
        for (product, qty, price) in items {
            item_id += 1;
            order_items.push(vec![I(item_id), I(id as i64), I(product), I(qty), F(price)]);
        }
    }
    for rows in [categories, product_rows, customers, orders, order_items] {
        rows.write(&mut tx).await?;
    }
    tx.commit().await
}
