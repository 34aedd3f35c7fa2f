//! The semantic model: the business words a schema does not carry — display names,
//! descriptions, join hints and value mappings (`"premium"` → `tier = 'P'`). Prompts include
//! it and the offline analyst reads it.

use serde::{Deserialize, Serialize};

/// Business metadata over one connection's schema.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SemanticModel {
    /// Per-table names and descriptions.
    pub tables: Vec<TableMeta>,
    /// How tables join when the schema has no foreign key (or several).
    pub join_hints: Vec<JoinHint>,
    /// Words users say, mapped to column values.
    pub value_mappings: Vec<ValueMapping>,
}

/// Metadata of a table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TableMeta {
    /// The table's name in the database.
    pub table: String,
    /// What users call it.
    pub display_name: Option<String>,
    /// What it holds.
    pub description: Option<String>,
    /// Per-column metadata.
    pub columns: Vec<ColumnMeta>,
}

/// Metadata of a column.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ColumnMeta {
    /// The column's name in the database.
    pub column: String,
    /// What users call it.
    pub display_name: Option<String>,
    /// What it holds.
    pub description: Option<String>,
}

/// `(table, column)`.
pub type ColumnRef<'a> = (&'a str, &'a str);

/// `left` joins `right` (`table.column` each).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JoinHint {
    /// `table.column`.
    pub left: String,
    /// `table.column`.
    pub right: String,
    /// When to use it.
    pub description: Option<String>,
}

impl JoinHint {
    /// `(table, column)` of each side, when both are well formed.
    pub fn sides(&self) -> Option<(ColumnRef<'_>, ColumnRef<'_>)> {
        Some((self.left.split_once('.')?, self.right.split_once('.')?))
    }
}

/// A word users say for a value of a column.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ValueMapping {
    /// The word or phrase (`premium`).
    pub term: String,
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// The stored value (`P`).
    pub value: String,
}

impl SemanticModel {
    /// The metadata of `table`.
    pub fn table(&self, table: &str) -> Option<&TableMeta> {
        self.tables
            .iter()
            .find(|t| t.table.eq_ignore_ascii_case(table))
    }

    /// Words users may use for `table` (its display name, if any).
    pub fn table_aliases(&self, table: &str) -> Vec<String> {
        self.table(table)
            .and_then(|t| t.display_name.clone())
            .into_iter()
            .collect()
    }

    /// Words users may use for `table.column`.
    pub fn column_aliases(&self, table: &str, column: &str) -> Vec<String> {
        self.table(table)
            .into_iter()
            .flat_map(|t| t.columns.iter())
            .filter(|c| c.column.eq_ignore_ascii_case(column))
            .filter_map(|c| c.display_name.clone())
            .collect()
    }

    /// The model as prompt text.
    pub fn to_prompt(&self) -> String {
        let mut out = String::new();
        for t in &self.tables {
            out.push_str(&format!(
                "- table {}{}{}\n",
                t.table,
                t.display_name
                    .as_ref()
                    .map(|d| format!(" (\"{d}\")"))
                    .unwrap_or_default(),
                t.description
                    .as_ref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ));
            for c in &t.columns {
                out.push_str(&format!(
                    "  - {}.{}{}{}\n",
                    t.table,
                    c.column,
                    c.display_name
                        .as_ref()
                        .map(|d| format!(" (\"{d}\")"))
                        .unwrap_or_default(),
                    c.description
                        .as_ref()
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default()
                ));
            }
        }
        for j in &self.join_hints {
            out.push_str(&format!("- join {} = {}\n", j.left, j.right));
        }
        for v in &self.value_mappings {
            out.push_str(&format!(
                "- \"{}\" means {}.{} = '{}'\n",
                v.term, v.table, v.column, v.value
            ));
        }
        out
    }
}
