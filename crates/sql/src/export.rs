//! Streaming export: CSV (RFC 4180, header row, CRLF) and JSON (an array of row objects,
//! keys in column order) written through a small buffer, so memory stays flat whatever the
//! row count.

use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::{
    Result,
    exec::RowSink,
    value::{CellRef, ColumnKind, ResultColumn},
};

/// Bytes buffered before a write.
const BUFFER: usize = 64 * 1024;

/// Writes rows as CSV.
#[derive(Debug)]
pub struct CsvWriter<W> {
    out: W,
    buf: Vec<u8>,
}

impl<W: AsyncWrite + Unpin + Send> CsvWriter<W> {
    /// A writer into `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            buf: Vec::with_capacity(BUFFER + 4096),
        }
    }

    /// Writes what is buffered and returns the output.
    pub async fn finish(mut self) -> Result<W> {
        self.out.write_all(&self.buf).await?;
        self.out.flush().await?;
        Ok(self.out)
    }
}

fn csv_field(buf: &mut Vec<u8>, s: &str) {
    if s.contains([',', '"', '\r', '\n']) {
        buf.push(b'"');
        for part in s.split('"') {
            buf.extend_from_slice(part.as_bytes());
            buf.extend_from_slice(b"\"\"");
        }
        // One `""` too many was written after the last part.
        buf.truncate(buf.len() - 2);
        buf.push(b'"');
    } else {
        buf.extend_from_slice(s.as_bytes());
    }
}

fn bool_text(kind: ColumnKind, s: &str) -> &str {
    match (kind, s) {
        (ColumnKind::Bool, "t") => "true",
        (ColumnKind::Bool, "f") => "false",
        _ => s,
    }
}

impl<W: AsyncWrite + Unpin + Send> RowSink for CsvWriter<W> {
    fn columns(&mut self, columns: &[ResultColumn]) -> Result<()> {
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            csv_field(&mut self.buf, &c.name);
        }
        self.buf.extend_from_slice(b"\r\n");
        Ok(())
    }

    fn row(&mut self, row: &[CellRef<'_>]) -> Result<()> {
        for (i, c) in row.iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            if let Some(t) = c.text.as_deref() {
                csv_field(&mut self.buf, bool_text(c.kind, t));
            }
        }
        self.buf.extend_from_slice(b"\r\n");
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.buf.len() >= BUFFER {
            self.out.write_all(&self.buf).await?;
            self.buf.clear();
        }
        Ok(())
    }
}

/// Writes rows as a JSON array of objects.
#[derive(Debug)]
pub struct JsonWriter<W> {
    out: W,
    buf: Vec<u8>,
    /// Column names, JSON-encoded once, made unique (`id`, `id_2`).
    keys: Vec<String>,
    rows: usize,
}

impl<W: AsyncWrite + Unpin + Send> JsonWriter<W> {
    /// A writer into `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            buf: Vec::with_capacity(BUFFER + 4096),
            keys: Vec::new(),
            rows: 0,
        }
    }

    /// Closes the array, writes what is buffered and returns the output.
    pub async fn finish(mut self) -> Result<W> {
        if self.rows == 0 {
            self.buf.extend_from_slice(b"[]\n");
        } else {
            self.buf.extend_from_slice(b"\n]\n");
        }
        self.out.write_all(&self.buf).await?;
        self.out.flush().await?;
        Ok(self.out)
    }
}

/// Column names made unique, in order.
pub fn unique_names(columns: &[ResultColumn]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    columns
        .iter()
        .map(|c| {
            let mut name = c.name.clone();
            let mut n = 2;
            while !seen.insert(name.clone()) {
                name = format!("{}_{n}", c.name);
                n += 1;
            }
            name
        })
        .collect()
}

impl<W: AsyncWrite + Unpin + Send> RowSink for JsonWriter<W> {
    fn columns(&mut self, columns: &[ResultColumn]) -> Result<()> {
        self.keys = unique_names(columns)
            .iter()
            .map(|n| serde_json::Value::String(n.clone()).to_string())
            .collect();
        Ok(())
    }

    fn row(&mut self, row: &[CellRef<'_>]) -> Result<()> {
        self.buf
            .extend_from_slice(if self.rows == 0 { b"[\n" } else { b",\n" });
        self.buf.push(b'{');
        for (i, (key, cell)) in self.keys.iter().zip(row).enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            self.buf.extend_from_slice(key.as_bytes());
            self.buf.push(b':');
            serde_json::to_writer(&mut self.buf, &cell.to_json()).map_err(std::io::Error::other)?;
        }
        self.buf.push(b'}');
        self.rows += 1;
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.buf.len() >= BUFFER {
            self.out.write_all(&self.buf).await?;
            self.buf.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::borrow::Cow;

    use super::*;

    fn col(n: &str) -> ResultColumn {
        ResultColumn {
            name: n.into(),
            type_name: "TEXT".into(),
        }
    }

    #[tokio::test]
    async fn csv_quotes_per_rfc4180_and_json_keeps_column_order() {
        let cols = [col("b"), col("a"), col("a")];
        let row = [
            CellRef {
                kind: ColumnKind::Text,
                text: Some(Cow::Borrowed("x,\"y\"\nz")),
            },
            CellRef {
                kind: ColumnKind::Integer,
                text: Some(Cow::Borrowed("7")),
            },
            CellRef {
                kind: ColumnKind::Null,
                text: None,
            },
        ];
        let mut csv = CsvWriter::new(Vec::new());
        csv.columns(&cols).unwrap();
        csv.row(&row).unwrap();
        let out = String::from_utf8(csv.finish().await.unwrap()).unwrap();
        assert_eq!(out, "b,a,a\r\n\"x,\"\"y\"\"\nz\",7,\r\n");

        let mut json = JsonWriter::new(Vec::new());
        json.columns(&cols).unwrap();
        json.row(&row).unwrap();
        json.row(&row).unwrap();
        let out = String::from_utf8(json.finish().await.unwrap()).unwrap();
        assert!(
            out.starts_with("[\n{\"b\":\"x,\\\"y\\\"\\nz\",\"a\":7,\"a_2\":null},"),
            "{out}"
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);

        let empty = JsonWriter::new(Vec::new()).finish().await.unwrap();
        assert_eq!(empty, b"[]\n");
    }
}
