//! Tabular data as quarry's `data` artifacts carry it: CSV (RFC 4180, header row) or JSON
//! (an array of row objects whose keys are in column order), read within fixed bounds.

use std::fmt;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::ChartError;

/// Most rows read from one input; beyond it the input is refused (aggregate it first).
pub const MAX_ROWS: usize = 200_000;
/// Most columns read from one input.
pub const MAX_COLUMNS: usize = 256;
/// Longest cell kept, in characters (longer ones are cut, with an ellipsis).
pub const MAX_CELL_CHARS: usize = 500;

/// One cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Empty or `null`.
    Null,
    /// A number (a JSON number, or text that reads as one, such as `"45230.00"`).
    Number(f64),
    /// Anything else, as text.
    Text(String),
}

impl Cell {
    /// The cell as a number, when it is one.
    pub fn number(&self) -> Option<f64> {
        match self {
            Self::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The cell as display text (`None` for null).
    pub fn text(&self) -> Option<String> {
        match self {
            Self::Null => None,
            Self::Number(n) => Some(format_number(*n)),
            Self::Text(t) => Some(t.clone()),
        }
    }

    fn from_text(raw: &str) -> Self {
        let t = raw.trim();
        if t.is_empty() || t.eq_ignore_ascii_case("null") || t.eq_ignore_ascii_case("nan") {
            return Self::Null;
        }
        match parse_number(t) {
            Some(n) => Self::Number(n),
            None => Self::Text(cut(t)),
        }
    }
}

/// A number as people write it: `45230.00`, `-1.5e3`, `1,234.5` (thousands separators).
fn parse_number(t: &str) -> Option<f64> {
    let first = t.chars().next()?;
    if !(first.is_ascii_digit() || matches!(first, '-' | '+' | '.')) {
        return None;
    }
    let n = if t.contains(',') {
        // Only well-formed thousands groups: `1,234,567.8`.
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        let digits = int.trim_start_matches(['-', '+']);
        let groups: Vec<&str> = digits.split(',').collect();
        let grouped = groups.first().is_some_and(|g| (1..=3).contains(&g.len()))
            && groups[1..].iter().all(|g| g.len() == 3);
        if !grouped {
            return None;
        }
        format!("{}.{frac}", int.replace(',', ""))
            .parse::<f64>()
            .ok()?
    } else {
        t.parse::<f64>().ok()?
    };
    plottable(n)
}

/// Numbers beyond ±1e100 are read as text: axes and bins over them would overflow.
fn plottable(n: f64) -> Option<f64> {
    (n.is_finite() && n.abs() <= 1e100).then_some(n)
}

/// A number for labels: integers without a fraction, others with up to 4 significant decimals.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        let s = format!("{n:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

fn cut(t: &str) -> String {
    if t.chars().count() <= MAX_CELL_CHARS {
        t.to_owned()
    } else {
        let mut s: String = t.chars().take(MAX_CELL_CHARS).collect();
        s.push('…');
        s
    }
}

/// A table: named columns of equal length.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    columns: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table from column names and rows (each as long as `columns`).
    pub fn new(columns: Vec<String>, rows: Vec<Vec<Cell>>) -> Result<Self, ChartError> {
        if let Some(bad) = rows.iter().position(|r| r.len() != columns.len()) {
            return Err(ChartError::NotTabular(format!(
                "row {} has {} values for {} columns",
                bad + 1,
                rows[bad].len(),
                columns.len()
            )));
        }
        Ok(Self { columns, rows })
    }

    /// Reads CSV or JSON, telling them apart by the first non-blank byte (`[` is JSON).
    pub fn parse(bytes: &[u8]) -> Result<Self, ChartError> {
        let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
        match start.map(|i| bytes[i]) {
            None => Err(ChartError::Empty("the data is empty".into())),
            Some(b'[') => Self::from_json(bytes),
            Some(b'{') => Err(ChartError::NotTabular(
                "JSON data must be an array of row objects, like [{\"month\": \"2025-01\", \
                 \"revenue\": 1200}]"
                    .into(),
            )),
            Some(_) => Self::from_csv(bytes),
        }
    }

    /// Reads CSV with a header row (RFC 4180: quoted fields, `""` escapes, CRLF or LF).
    pub fn from_csv(bytes: &[u8]) -> Result<Self, ChartError> {
        let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
            .map_err(|_| ChartError::NotTabular("the data is not UTF-8 text".into()))?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(text.as_bytes());
        let headers = reader.headers().map_err(csv_error)?.clone();
        if headers.len() > MAX_COLUMNS {
            return Err(ChartError::TooLarge(format!(
                "{} columns; the limit is {MAX_COLUMNS}",
                headers.len()
            )));
        }
        let columns = unique_names(headers.iter().map(str::to_owned));
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(csv_error)?;
            if rows.len() == MAX_ROWS {
                return Err(too_many_rows());
            }
            rows.push(record.iter().map(Cell::from_text).collect());
        }
        if columns.len() == 1 && columns[0].trim().is_empty() {
            return Err(ChartError::Empty("the data has no columns".into()));
        }
        Self::new(columns, rows)
    }

    /// Reads a JSON array of row objects; keys keep the order of their first appearance.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ChartError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let rows = de
            .deserialize_seq(RowsVisitor)
            .and_then(|rows| de.end().map(|()| rows))
            .map_err(|e| ChartError::NotTabular(format!("not a JSON array of row objects: {e}")))?;
        let mut columns: Vec<String> = Vec::new();
        for row in &rows {
            for (key, _) in row {
                if !columns.contains(key) {
                    if columns.len() == MAX_COLUMNS {
                        return Err(ChartError::TooLarge(format!(
                            "more than {MAX_COLUMNS} columns"
                        )));
                    }
                    columns.push(key.clone());
                }
            }
        }
        let table_rows = rows
            .into_iter()
            .map(|row| {
                let mut cells = vec![Cell::Null; columns.len()];
                for (key, cell) in row {
                    if let Some(i) = columns.iter().position(|c| *c == key) {
                        cells[i] = cell;
                    }
                }
                cells
            })
            .collect();
        Self::new(columns, table_rows)
    }

    /// Column names, in order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Rows, each as long as [`Table::columns`].
    pub fn rows(&self) -> &[Vec<Cell>] {
        &self.rows
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The index of the column named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The cells of column `index`, top to bottom.
    pub fn column(&self, index: usize) -> impl Iterator<Item = &Cell> {
        self.rows.iter().filter_map(move |r| r.get(index))
    }
}

fn too_many_rows() -> ChartError {
    ChartError::TooLarge(format!(
        "more than {MAX_ROWS} rows; aggregate the data before charting it"
    ))
}

fn csv_error(e: csv::Error) -> ChartError {
    ChartError::NotTabular(format!("not CSV with a header row: {e}"))
}

/// Blank names become `column_N`; repeated names get a suffix, so every name is a key.
fn unique_names(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, name) in names.enumerate() {
        let base = match name.trim() {
            "" => format!("column_{}", i + 1),
            n => cut(n),
        };
        let mut candidate = base.clone();
        let mut n = 2;
        while out.contains(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        out.push(candidate);
    }
    out
}

type Row = Vec<(String, Cell)>;

struct RowsVisitor;

impl<'de> Visitor<'de> for RowsVisitor {
    type Value = Vec<Row>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of row objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Row>, A::Error> {
        let mut rows = Vec::new();
        while let Some(row) = seq.next_element::<RowObject>()? {
            if rows.len() == MAX_ROWS {
                return Err(serde::de::Error::custom(format!(
                    "more than {MAX_ROWS} rows; aggregate the data before charting it"
                )));
            }
            rows.push(row.0);
        }
        Ok(rows)
    }
}

struct RowObject(Row);

impl<'de> serde::Deserialize<'de> for RowObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RowVisitor)
    }
}

struct RowVisitor;

impl<'de> Visitor<'de> for RowVisitor {
    type Value = RowObject;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a row object such as {\"column\": value}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RowObject, A::Error> {
        let mut row: Row = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
            if row.len() == MAX_COLUMNS {
                return Err(serde::de::Error::custom(format!(
                    "more than {MAX_COLUMNS} columns"
                )));
            }
            let cell = match value {
                serde_json::Value::Null => Cell::Null,
                serde_json::Value::Number(n) => match n.as_f64().and_then(plottable) {
                    Some(v) => Cell::Number(v),
                    None => Cell::Text(n.to_string()),
                },
                serde_json::Value::String(s) => Cell::from_text(&s),
                serde_json::Value::Bool(b) => Cell::Text(b.to_string()),
                other => Cell::Text(cut(&other.to_string())),
            };
            match row.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = cell,
                None => row.push((key, cell)),
            }
        }
        Ok(RowObject(row))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn csv_follows_rfc_4180() {
        let t = Table::parse(
            b"\xEF\xBB\xBFname,\"note, quoted\",n\r\n\"A \"\"x\"\"\",\"two\nlines\",1\r\nB,,2.5\r\n",
        )
        .unwrap();
        assert_eq!(t.columns(), ["name", "note, quoted", "n"]);
        assert_eq!(t.rows()[0][0], Cell::Text("A \"x\"".into()));
        assert_eq!(t.rows()[0][1], Cell::Text("two\nlines".into()));
        assert_eq!(t.rows()[1][1], Cell::Null);
        assert_eq!(t.rows()[1][2], Cell::Number(2.5));
        assert!(matches!(
            Table::parse(b"a,b\n1,2,3\n"),
            Err(ChartError::NotTabular(_))
        ));
    }

    #[test]
    fn json_keeps_key_order_and_reads_numeric_strings() {
        let t = Table::parse(
            br#"[{"product_name": "Widget Pro", "total_revenue": "45230.00", "a": 1},
                 {"total_revenue": 3, "product_name": null, "z": true}]"#,
        )
        .unwrap();
        assert_eq!(t.columns(), ["product_name", "total_revenue", "a", "z"]);
        assert_eq!(t.rows()[0][1], Cell::Number(45230.0));
        assert_eq!(t.rows()[1][0], Cell::Null);
        assert_eq!(t.rows()[1][2], Cell::Null);
        assert_eq!(t.rows()[1][3], Cell::Text("true".into()));
        for bad in [&b"{\"a\":1}"[..], b"[1,2]", b"[{\"a\":1}] x", b"[{"] {
            assert!(
                matches!(Table::parse(bad), Err(ChartError::NotTabular(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(matches!(Table::parse(b"  \n"), Err(ChartError::Empty(_))));
    }

    #[test]
    fn numbers_as_people_write_them() {
        assert_eq!(parse_number("1,234.5"), Some(1234.5));
        assert_eq!(parse_number("-1e3"), Some(-1000.0));
        assert_eq!(parse_number("12,34"), None);
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("2024-01"), None);
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(2.50), "2.5");
    }

    #[test]
    fn duplicate_and_blank_headers_get_names() {
        let t = Table::parse(b"a,a,\n1,2,3\n").unwrap();
        assert_eq!(t.columns(), ["a", "a_2", "column_3"]);
    }
}
