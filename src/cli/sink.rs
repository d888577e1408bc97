//! Writing a JSON array of sessions one session at a time, so that a command holding a million
//! sessions' worth of output holds only one.
//!
//! The text is byte for byte what serializing the whole array at once gives: compact
//! (`serde_json::to_writer`) or pretty (`session::to_writer_pretty`).

use std::io::{self, Write};

use serde::Serialize;

use mxkeys::session;
use mxkeys::SecretBuf;

/// A JSON array written element by element into `out`.
pub struct ArrayWriter<W: Write> {
    out: W,
    pretty: bool,
    count: u64,
    /// One element's text (it holds session keys: wiped when reused and dropped).
    buf: SecretBuf,
}

impl<W: Write> ArrayWriter<W> {
    /// Start the array (nothing is written before the first element or [`finish`]).
    ///
    /// [`finish`]: ArrayWriter::finish
    pub fn new(out: W, pretty: bool) -> Self {
        ArrayWriter {
            out,
            pretty,
            count: 0,
            buf: SecretBuf::with_capacity(4096),
        }
    }

    /// Write one element.
    pub fn push<T: Serialize + ?Sized>(&mut self, v: &T) -> io::Result<()> {
        let first = self.count == 0;
        self.count += 1;
        if !self.pretty {
            self.out.write_all(if first { b"[" } else { b"," })?;
            return serde_json::to_writer(&mut self.out, v).map_err(io::Error::from);
        }
        self.buf.clear();
        session::to_writer_pretty(&mut self.buf, v)?;
        self.out
            .write_all(if first { b"[\n  " } else { b",\n  " })?;
        // The element one level deeper: two more spaces after every newline. A JSON string
        // holds no raw newline, so every newline in the text is the formatter's.
        let text = self.buf.expose();
        let mut start = 0;
        for (i, &b) in text.iter().enumerate() {
            if b == b'\n' {
                self.out
                    .write_all(text.get(start..=i).unwrap_or_default())?;
                self.out.write_all(b"  ")?;
                start = i + 1;
            }
        }
        self.out.write_all(text.get(start..).unwrap_or_default())
    }

    /// Close the array and hand back the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let end: &[u8] = match (self.count, self.pretty) {
            (0, _) => b"[]",
            (_, true) => b"\n]",
            (_, false) => b"]",
        };
        self.out.write_all(end)?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn both(items: &[Value], pretty: bool) -> (Vec<u8>, Vec<u8>) {
        let mut w = ArrayWriter::new(Vec::new(), pretty);
        for v in items {
            w.push(v).unwrap();
        }
        let streamed = w.finish().unwrap();
        let mut whole = Vec::new();
        if pretty {
            session::to_writer_pretty(&mut whole, items).unwrap();
        } else {
            serde_json::to_writer(&mut whole, items).unwrap();
        }
        (streamed, whole)
    }

    #[test]
    fn element_by_element_is_the_whole_array_byte_for_byte() {
        let items = [
            json!({"room_id": "!a:x", "chain": [], "keys": {"ed25519": "k"}, "n": [1, {"x": []}]}),
            json!({"s": "line\nbreak \"quoted\"", "e": {}}),
            json!([]),
            json!(5),
        ];
        for pretty in [false, true] {
            for n in 0..=items.len() {
                let (streamed, whole) = both(&items[..n], pretty);
                assert_eq!(
                    String::from_utf8(streamed).unwrap(),
                    String::from_utf8(whole).unwrap(),
                    "pretty {pretty}, {n} elements"
                );
            }
        }
    }
}
