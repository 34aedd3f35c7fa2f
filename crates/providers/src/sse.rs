//! Server-sent events: `data:` lines gathered until a blank line.

use quarry_core::LlmError;

use crate::http::{Lines, malformed};

/// Splits an SSE body into `(event, data)` pairs.
#[derive(Debug, Default)]
pub(crate) struct Sse {
    lines: Lines,
    event: String,
    data: String,
}

impl Sse {
    /// Feeds bytes, calling `each(event, data)` for every complete event.
    pub(crate) fn feed(
        &mut self,
        provider: &str,
        chunk: &[u8],
        mut each: impl FnMut(&str, &str) -> Result<(), LlmError>,
    ) -> Result<(), LlmError> {
        let Self { lines, event, data } = self;
        lines.feed(provider, chunk, |line| {
            if line.is_empty() {
                if !data.is_empty() {
                    let r = each(event, data);
                    event.clear();
                    data.clear();
                    return r;
                }
                event.clear();
                return Ok(());
            }
            if line.starts_with(':') {
                return Ok(());
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => {
                    event.clear();
                    event.push_str(value);
                }
                "data" => {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(value);
                    if data.len() > crate::http::MAX_LINE {
                        return Err(malformed(provider, "an event of the stream is too long"));
                    }
                }
                _ => {}
            }
            Ok(())
        })
    }

    /// At the end of the body: an event not followed by a blank line still counts.
    pub(crate) fn finish(
        &mut self,
        mut each: impl FnMut(&str, &str) -> Result<(), LlmError>,
    ) -> Result<(), LlmError> {
        if let Some(rest) = self.lines.rest()
            && let Some(value) = rest.strip_prefix("data:")
        {
            if !self.data.is_empty() {
                self.data.push('\n');
            }
            self.data.push_str(value.trim_start());
        }
        if self.data.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.data);
        each(&self.event, &data)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn events_split_across_chunks() {
        let mut sse = Sse::default();
        let mut got = Vec::new();
        for chunk in [
            "event: a\nda",
            "ta: {\"x\":1}\r\n\r\n: ping\n\ndata: 2\n",
            "\n",
        ] {
            sse.feed("p", chunk.as_bytes(), |e, d| {
                got.push((e.to_owned(), d.to_owned()));
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(
            got,
            vec![
                ("a".to_owned(), "{\"x\":1}".to_owned()),
                (String::new(), "2".to_owned())
            ]
        );
    }
}
