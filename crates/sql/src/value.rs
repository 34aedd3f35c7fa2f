//! Result values: every engine's rows decoded as text plus a kind, so CSV export copies the
//! database's own rendering and JSON gets numbers, booleans and strings.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{Column as _, Decode, Row, TypeInfo, ValueRef};

/// How a value is rendered in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// NULL (SQLite reports types per value).
    Null,
    /// Whole numbers: JSON numbers.
    Integer,
    /// Floating point: JSON numbers.
    Float,
    /// Exact decimals: JSON strings, digits as the database wrote them.
    Decimal,
    /// Booleans.
    Bool,
    /// Bytes: text when valid UTF-8, else hex.
    Binary,
    /// Everything else (text, dates, times, JSON, UUIDs…): JSON strings.
    Text,
}

impl ColumnKind {
    /// The kind of a database type name.
    pub fn of_type(name: &str) -> Self {
        let n = name.to_ascii_uppercase();
        if n == "NULL" {
            Self::Null
        } else if n.contains("BOOL") {
            Self::Bool
        } else if n.contains("INT") && !n.contains("INTERVAL") && !n.contains("POINT") {
            Self::Integer
        } else if n.contains("FLOAT") || n.contains("DOUBLE") || n == "REAL" {
            Self::Float
        } else if n.contains("NUMERIC") || n.contains("DECIMAL") || n == "MONEY" {
            Self::Decimal
        } else if n.contains("BYTEA") || n.contains("BLOB") || n.contains("BINARY") {
            Self::Binary
        } else {
            Self::Text
        }
    }
}

/// A result column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultColumn {
    /// Its name.
    pub name: String,
    /// The database's type name.
    pub type_name: String,
}

/// One value of a row, borrowed from the row where the driver allows it.
#[derive(Clone, Debug, PartialEq)]
pub struct CellRef<'r> {
    /// How to render it.
    pub kind: ColumnKind,
    /// Its text, `None` for NULL.
    pub text: Option<Cow<'r, str>>,
}

/// An owned value, as JSON.
pub type Cell = Value;

impl CellRef<'_> {
    /// The value as JSON.
    pub fn to_json(&self) -> Value {
        let Some(text) = self.text.as_deref() else {
            return Value::Null;
        };
        match self.kind {
            ColumnKind::Integer => text
                .parse::<i64>()
                .map(Value::from)
                .or_else(|_| text.parse::<u64>().map(Value::from))
                .unwrap_or_else(|_| Value::String(text.to_owned())),
            ColumnKind::Float => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or_else(|| Value::String(text.to_owned())),
            ColumnKind::Bool => match text {
                "t" | "true" | "TRUE" | "1" => Value::Bool(true),
                "f" | "false" | "FALSE" | "0" => Value::Bool(false),
                other => Value::String(other.to_owned()),
            },
            _ => Value::String(text.to_owned()),
        }
    }
}

/// The columns of a row.
pub(crate) fn columns_of<R: Row>(row: &R) -> Vec<ResultColumn> {
    row.columns()
        .iter()
        .map(|c| ResultColumn {
            name: c.name().to_owned(),
            type_name: c.type_info().name().to_owned(),
        })
        .collect()
}

/// Decodes every value of `row` into `out` (cleared first).
pub(crate) fn decode_row<'r, R>(row: &'r R, out: &mut Vec<CellRef<'r>>) -> Result<(), sqlx::Error>
where
    R: Row,
    usize: sqlx::ColumnIndex<R>,
    &'r str: Decode<'r, R::Database>,
    &'r [u8]: Decode<'r, R::Database>,
{
    out.clear();
    for i in 0..row.len() {
        let raw = row.try_get_raw(i)?;
        if raw.is_null() {
            out.push(CellRef {
                kind: ColumnKind::Null,
                text: None,
            });
            continue;
        }
        let kind = ColumnKind::of_type(raw.type_info().name());
        let decode_err = |source| sqlx::Error::ColumnDecode {
            index: i.to_string(),
            source,
        };
        // PostgreSQL's text protocol already renders bytea as `\x…`; MySQL sends raw bytes.
        let text = match <&str>::decode(row.try_get_raw(i)?) {
            Ok(s) => Cow::Borrowed(s),
            Err(e) if kind != ColumnKind::Binary => return Err(decode_err(e)),
            Err(_) => {
                let bytes = <&[u8]>::decode(row.try_get_raw(i)?).map_err(decode_err)?;
                Cow::Owned(format!("\\x{}", hex::encode(bytes)))
            }
        };
        out.push(CellRef {
            kind,
            text: Some(text),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_render_as_json() {
        let c = |kind, t: &'static str| CellRef {
            kind,
            text: Some(Cow::Borrowed(t)),
        };
        assert_eq!(
            c(ColumnKind::Integer, "42").to_json(),
            serde_json::json!(42)
        );
        assert_eq!(
            c(ColumnKind::Float, "1.5").to_json(),
            serde_json::json!(1.5)
        );
        assert_eq!(
            c(ColumnKind::Decimal, "10.50").to_json(),
            serde_json::json!("10.50")
        );
        assert_eq!(c(ColumnKind::Bool, "t").to_json(), serde_json::json!(true));
        assert_eq!(ColumnKind::of_type("INT8"), ColumnKind::Integer);
        assert_eq!(ColumnKind::of_type("INTERVAL"), ColumnKind::Text);
        assert_eq!(ColumnKind::of_type("BIGINT UNSIGNED"), ColumnKind::Integer);
    }
}
