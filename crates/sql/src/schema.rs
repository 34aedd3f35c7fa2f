//! Schema introspection: tables, columns, types, keys, row estimates and a few distinct
//! values of low-cardinality text columns, with a version that changes when the structure
//! does. Large schemas are pruned to the tables a question needs before prompting.

use std::{collections::BTreeSet, time::Duration};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{DataSource, Engine, Limits, Result, guard, semantic::SemanticModel};

/// Distinct values kept for a low-cardinality text column.
pub const MAX_SAMPLE_VALUES: usize = 20;
/// Tables above this many rows are not sampled.
const SAMPLE_ROW_LIMIT: i64 = 2_000_000;
/// Tables introspected at most.
const MAX_TABLES: usize = 500;

/// A database's structure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Changes whenever tables, columns, types or keys change.
    pub version: String,
    /// The engine.
    pub engine: Engine,
    /// The tables (and views).
    pub tables: Vec<Table>,
    /// When it was read.
    pub introspected_at: DateTime<Utc>,
}

/// A table or view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Its name.
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<Column>,
    /// Primary key columns.
    pub primary_key: Vec<String>,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
    /// Approximate number of rows.
    pub row_estimate: Option<i64>,
}

/// A column.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its declared type.
    pub data_type: String,
    /// Whether it may be NULL.
    pub nullable: bool,
    /// Its distinct values when there are few (text columns only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sample_values: Vec<String>,
}

/// `columns` of the table reference `ref_columns` of `ref_table`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    /// Local columns.
    pub columns: Vec<String>,
    /// The referenced table.
    pub ref_table: String,
    /// The referenced columns.
    pub ref_columns: Vec<String>,
}

impl Column {
    /// True for text types.
    pub fn is_text(&self) -> bool {
        let t = self.data_type.to_ascii_lowercase();
        t.contains("char") || t.contains("text") || t.contains("string") || t.contains("enum")
    }

    /// True for numeric types.
    pub fn is_numeric(&self) -> bool {
        let t = self.data_type.to_ascii_lowercase();
        [
            "int", "real", "float", "double", "numeric", "decimal", "money",
        ]
        .iter()
        .any(|k| t.contains(k))
            && !t.contains("interval")
    }

    /// True for date and time types (and text columns named like dates).
    pub fn is_temporal(&self) -> bool {
        let t = self.data_type.to_ascii_lowercase();
        let n = self.name.to_ascii_lowercase();
        t.contains("date")
            || t.contains("time")
            || n.ends_with("_at")
            || n.ends_with("_date")
            || n == "date"
    }
}

impl Table {
    /// The column named `name` (case-insensitive).
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }
}

impl Schema {
    /// The table named `name` (case-insensitive).
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }

    fn compute_version(engine: Engine, tables: &[Table]) -> String {
        let mut h = Sha256::new();
        h.update(engine.as_str());
        for t in tables {
            h.update(b"\x00t");
            h.update(&t.name);
            for c in &t.columns {
                h.update(b"\x00c");
                h.update(&c.name);
                h.update(b" ");
                h.update(&c.data_type);
            }
            h.update(b"\x00pk");
            h.update(t.primary_key.join(","));
            for f in &t.foreign_keys {
                h.update(b"\x00fk");
                h.update(format!(
                    "{:?}>{}{:?}",
                    f.columns, f.ref_table, f.ref_columns
                ));
            }
        }
        hex::encode(&h.finalize()[..8])
    }

    /// The tables relevant to `question` (word overlap with names, descriptions and sample
    /// values), plus the tables they reference, at most `max_tables` of them; the whole
    /// schema when it is small enough.
    pub fn prune(&self, question: &str, semantic: &SemanticModel, max_tables: usize) -> Schema {
        if self.tables.len() <= max_tables {
            return self.clone();
        }
        let words: BTreeSet<String> = crate::analyst::words(question).into_iter().collect();
        let mut scored: Vec<(usize, &Table)> = self
            .tables
            .iter()
            .map(|t| {
                let mut hay: Vec<String> = vec![t.name.to_ascii_lowercase()];
                hay.extend(
                    semantic
                        .table_aliases(&t.name)
                        .iter()
                        .map(|s| s.to_ascii_lowercase()),
                );
                for c in &t.columns {
                    hay.push(c.name.to_ascii_lowercase());
                    hay.extend(c.sample_values.iter().map(|v| v.to_ascii_lowercase()));
                }
                let score = words
                    .iter()
                    .filter(|w| w.len() > 2)
                    .filter(|w| {
                        hay.iter()
                            .any(|h| h.contains(w.as_str()) || w.contains(h.as_str()))
                    })
                    .count();
                (score, t)
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
        let mut keep: BTreeSet<String> = BTreeSet::new();
        for (score, t) in &scored {
            if keep.len() >= max_tables || (*score == 0 && !keep.is_empty()) {
                break;
            }
            keep.insert(t.name.clone());
            for f in &t.foreign_keys {
                if keep.len() < max_tables {
                    keep.insert(f.ref_table.clone());
                }
            }
        }
        Schema {
            version: self.version.clone(),
            engine: self.engine,
            tables: self
                .tables
                .iter()
                .filter(|t| keep.contains(&t.name))
                .cloned()
                .collect(),
            introspected_at: self.introspected_at,
        }
    }

    /// The schema as prompt text (one `CREATE TABLE`-like block per table).
    pub fn to_prompt(&self) -> String {
        let mut out = String::new();
        for t in &self.tables {
            out.push_str(&format!(
                "TABLE {}{}\n",
                t.name,
                t.row_estimate
                    .map(|n| format!(" (~{n} rows)"))
                    .unwrap_or_default()
            ));
            for c in &t.columns {
                let pk = if t.primary_key.contains(&c.name) {
                    " PRIMARY KEY"
                } else {
                    ""
                };
                let samples = if c.sample_values.is_empty() {
                    String::new()
                } else {
                    format!(" values: {}", c.sample_values.join(", "))
                };
                out.push_str(&format!("  {} {}{pk}{samples}\n", c.name, c.data_type));
            }
            for f in &t.foreign_keys {
                out.push_str(&format!(
                    "  FOREIGN KEY ({}) REFERENCES {}({})\n",
                    f.columns.join(", "),
                    f.ref_table,
                    f.ref_columns.join(", ")
                ));
            }
        }
        out
    }
}

/// Quotes an identifier for `engine`.
pub fn quote_ident(engine: Engine, name: &str) -> String {
    match engine {
        Engine::Mysql => format!("`{}`", name.replace('`', "``")),
        _ => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// Quotes a string literal.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.parse::<f64>().ok().map(|f| f as i64),
        _ => None,
    }
}

impl DataSource {
    async fn meta(&self, sql: &str, max_rows: usize) -> Result<Vec<Vec<Value>>> {
        let g = guard::check(self.engine, sql)?;
        let limits = Limits {
            max_rows,
            timeout: Duration::from_secs(20),
        };
        Ok(self.query(&g, limits).await?.rows)
    }

    /// Reads the schema.
    pub async fn introspect(&self) -> Result<Schema> {
        let mut tables = match self.engine {
            Engine::Sqlite => self.introspect_sqlite().await?,
            Engine::Postgres => {
                self.introspect_info_schema("table_schema = current_schema()")
                    .await?
            }
            Engine::Mysql => {
                self.introspect_info_schema("table_schema = DATABASE()")
                    .await?
            }
        };
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        let q = |n: &str| quote_ident(self.engine, n);
        for t in &mut tables {
            if t.row_estimate.is_none_or(|n| n < 0) {
                let rows = self
                    .meta(&format!("SELECT COUNT(*) FROM {}", q(&t.name)), 1)
                    .await;
                t.row_estimate = rows
                    .ok()
                    .and_then(|r| r.first().and_then(|r| r.first()).and_then(int));
            }
            if t.row_estimate.unwrap_or(0) > SAMPLE_ROW_LIMIT {
                continue;
            }
            for c in t.columns.iter_mut().filter(|c| c.is_text()) {
                let sql = format!(
                    "SELECT DISTINCT {col} FROM {tab} WHERE {col} IS NOT NULL ORDER BY {col}",
                    col = q(&c.name),
                    tab = q(&t.name)
                );
                let Ok(rows) = self.meta(&sql, MAX_SAMPLE_VALUES + 1).await else {
                    continue;
                };
                let long = rows
                    .iter()
                    .any(|r| r.first().map(text).is_some_and(|s| s.len() > 60));
                if rows.len() <= MAX_SAMPLE_VALUES && !long {
                    c.sample_values = rows.iter().filter_map(|r| r.first()).map(text).collect();
                }
            }
        }
        Ok(Schema {
            version: Schema::compute_version(self.engine, &tables),
            engine: self.engine,
            tables,
            introspected_at: Utc::now(),
        })
    }

    async fn introspect_sqlite(&self) -> Result<Vec<Table>> {
        let names = self
            .meta(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') \
                 AND name NOT LIKE 'sqlite_%' ORDER BY name",
                MAX_TABLES,
            )
            .await?;
        let mut tables = Vec::new();
        for row in names {
            let name = row.first().map(text).unwrap_or_default();
            let cols = self
                .meta(
                    &format!(
                        "SELECT name, type, \"notnull\", pk FROM pragma_table_info({}) ORDER BY cid",
                        quote_literal(&name)
                    ),
                    10_000,
                )
                .await?;
            let mut pk: Vec<(i64, String)> = Vec::new();
            let columns = cols
                .iter()
                .map(|r| {
                    let col = text(&r[0]);
                    if let Some(n) = int(&r[3]).filter(|n| *n > 0) {
                        pk.push((n, col.clone()));
                    }
                    Column {
                        name: col,
                        data_type: text(&r[1]),
                        nullable: int(&r[2]) == Some(0),
                        sample_values: Vec::new(),
                    }
                })
                .collect();
            pk.sort();
            let fks = self
                .meta(
                    &format!(
                        "SELECT * FROM pragma_foreign_key_list({})",
                        quote_literal(&name)
                    ),
                    10_000,
                )
                .await?;
            let mut foreign_keys: Vec<(i64, ForeignKey)> = Vec::new();
            for r in fks {
                let id = int(&r[0]).unwrap_or(0);
                let (table, from, to) = (text(&r[2]), text(&r[3]), text(&r[4]));
                match foreign_keys.iter_mut().find(|(i, _)| *i == id) {
                    Some((_, fk)) => {
                        fk.columns.push(from);
                        fk.ref_columns.push(to);
                    }
                    None => foreign_keys.push((
                        id,
                        ForeignKey {
                            columns: vec![from],
                            ref_table: table,
                            ref_columns: vec![to],
                        },
                    )),
                }
            }
            tables.push(Table {
                name,
                columns,
                primary_key: pk.into_iter().map(|(_, c)| c).collect(),
                foreign_keys: foreign_keys.into_iter().map(|(_, f)| f).collect(),
                row_estimate: None,
            });
        }
        // A foreign key naming no columns references the primary key.
        let pks: Vec<(String, Vec<String>)> = tables
            .iter()
            .map(|t| (t.name.clone(), t.primary_key.clone()))
            .collect();
        for t in &mut tables {
            for f in &mut t.foreign_keys {
                if f.ref_columns.iter().all(String::is_empty)
                    && let Some((_, pk)) = pks.iter().find(|(n, _)| n == &f.ref_table)
                {
                    f.ref_columns = pk.clone();
                }
            }
        }
        Ok(tables)
    }

    async fn introspect_info_schema(&self, filter: &str) -> Result<Vec<Table>> {
        let cols = self
            .meta(
                &format!(
                    "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns \
                     WHERE {filter} ORDER BY table_name, ordinal_position"
                ),
                200_000,
            )
            .await?;
        let mut tables: Vec<Table> = Vec::new();
        for r in cols {
            let tname = text(&r[0]);
            if tables.last().is_none_or(|t| t.name != tname) {
                if tables.len() >= MAX_TABLES {
                    break;
                }
                tables.push(Table {
                    name: tname,
                    columns: Vec::new(),
                    primary_key: Vec::new(),
                    foreign_keys: Vec::new(),
                    row_estimate: None,
                });
            }
            if let Some(t) = tables.last_mut() {
                t.columns.push(Column {
                    name: text(&r[1]),
                    data_type: text(&r[2]),
                    nullable: text(&r[3]).eq_ignore_ascii_case("YES"),
                    sample_values: Vec::new(),
                });
            }
        }
        let keys_sql = match self.engine {
            Engine::Mysql => format!(
                "SELECT k.table_name, k.column_name, k.constraint_name, k.referenced_table_name, \
                 k.referenced_column_name, CASE WHEN k.constraint_name = 'PRIMARY' THEN 'PRIMARY KEY' ELSE 'FOREIGN KEY' END \
                 FROM information_schema.key_column_usage k WHERE k.{filter} \
                 AND (k.constraint_name = 'PRIMARY' OR k.referenced_table_name IS NOT NULL) \
                 ORDER BY k.table_name, k.constraint_name, k.ordinal_position"
            ),
            _ => format!(
                "SELECT k.table_name, k.column_name, k.constraint_name, r.table_name, r.column_name, c.constraint_type \
                 FROM information_schema.table_constraints c \
                 JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name \
                   AND k.constraint_schema = c.constraint_schema AND k.table_name = c.table_name \
                 LEFT JOIN information_schema.key_column_usage r \
                   ON c.constraint_type = 'FOREIGN KEY' AND r.constraint_name = ( \
                     SELECT u.unique_constraint_name FROM information_schema.referential_constraints u \
                     WHERE u.constraint_name = c.constraint_name AND u.constraint_schema = c.constraint_schema) \
                   AND r.constraint_schema = c.constraint_schema \
                   AND r.ordinal_position = k.position_in_unique_constraint \
                 WHERE c.constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') AND c.{filter} \
                 ORDER BY k.table_name, k.constraint_name, k.ordinal_position"
            ),
        };
        let keys = self.meta(&keys_sql, 200_000).await?;
        let mut last_fk: Option<(String, String)> = None;
        for r in keys {
            let (tname, col, cname, rtable, rcol, kind) = (
                text(&r[0]),
                text(&r[1]),
                text(&r[2]),
                text(&r[3]),
                text(&r[4]),
                text(&r[5]),
            );
            let Some(t) = tables.iter_mut().find(|t| t.name == tname) else {
                continue;
            };
            if kind == "PRIMARY KEY" {
                t.primary_key.push(col);
            } else if !rtable.is_empty() {
                let same = last_fk.as_ref() == Some(&(tname.clone(), cname.clone()));
                match t.foreign_keys.last_mut() {
                    Some(fk) if same => {
                        fk.columns.push(col);
                        fk.ref_columns.push(rcol);
                    }
                    _ => t.foreign_keys.push(ForeignKey {
                        columns: vec![col],
                        ref_table: rtable,
                        ref_columns: vec![rcol],
                    }),
                }
                last_fk = Some((tname, cname));
            }
        }
        let est_sql = match self.engine {
            Engine::Mysql => format!(
                "SELECT table_name, table_rows FROM information_schema.tables WHERE {filter}"
            ),
            _ => "SELECT c.relname, c.reltuples::bigint FROM pg_class c \
                  JOIN pg_namespace n ON n.oid = c.relnamespace \
                  WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'm')"
                .to_owned(),
        };
        if let Ok(rows) = self.meta(&est_sql, 200_000).await {
            for r in rows {
                let name = text(&r[0]);
                if let Some(t) = tables.iter_mut().find(|t| t.name == name) {
                    // PostgreSQL says -1 (and MySQL may say 0) before statistics exist.
                    t.row_estimate = int(&r[1]).filter(|n| *n > 0);
                }
            }
        }
        Ok(tables)
    }
}
