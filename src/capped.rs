//! A reader that caps how many bytes one element of a streamed JSON document may take.
//!
//! Streaming a JSON document (a backup body, an events file, an array of sessions) keeps one
//! element in memory at a time, but that element is still parsed whole: a 1 GB string inside
//! one session would be held as a 1 GB `String`. [`Capped`] counts the bytes read since the
//! parser last called [`CapHandle::reset`] (at the start of each element) and fails the read
//! that goes past the cap, so the parser stops with an I/O error that carries
//! [`CapExceeded`] instead of growing a buffer. Bytes skipped between elements (keys, ignored
//! values) count towards the next element.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

/// The cap was reached; what the caller names in its error. The read that reached it returns it
/// inside an `io::Error`, and [`CapHandle::tripped`] says so after the parser gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("one element is larger than {limit} bytes")]
pub(crate) struct CapExceeded {
    /// The cap, in bytes.
    pub limit: u64,
}

/// Resets the count of a [`Capped`] reader from inside the parser's visitor.
#[derive(Debug, Clone)]
pub(crate) struct CapHandle {
    used: Rc<Cell<u64>>,
    limit: u64,
}

impl CapHandle {
    /// A new element starts: its bytes count from zero.
    pub(crate) fn reset(&self) {
        self.used.set(0);
    }

    /// Whether reading stopped at the cap: call it when the parser failed, to tell that from
    /// the input's own errors.
    pub(crate) fn tripped(&self) -> Option<CapExceeded> {
        (self.used.get() > self.limit).then_some(CapExceeded { limit: self.limit })
    }
}

/// See the module doc. Reads at most one byte past the cap.
#[derive(Debug)]
pub(crate) struct Capped<R> {
    inner: R,
    used: Rc<Cell<u64>>,
    limit: u64,
}

impl<R: Read> Capped<R> {
    /// Wrap `inner`, allowing `limit` bytes per element.
    pub(crate) fn new(inner: R, limit: u64) -> (Self, CapHandle) {
        let used = Rc::new(Cell::new(0));
        let handle = CapHandle {
            used: used.clone(),
            limit,
        };
        (Capped { inner, used, limit }, handle)
    }
}

impl<R: Read> Read for Capped<R> {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let used = self.used.get();
        if used > self.limit {
            return Err(io::Error::other(CapExceeded { limit: self.limit }));
        }
        // Never read more than one byte past the cap, so a huge read cannot overshoot by much.
        let room = usize::try_from(self.limit - used + 1).unwrap_or(usize::MAX);
        let want = buf.len().min(room);
        let n = self.inner.read(buf.get_mut(..want).unwrap_or_default())?;
        self.used.set(used + n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_element_past_the_cap_stops_the_parser() {
        // Two small elements, then one of 100 bytes, with a cap of 50 reset per element.
        let text = format!(r#"["a","b","{}"]"#, "x".repeat(100));
        let (r, handle) = Capped::new(text.as_bytes(), 50);
        let h = handle.clone();
        let tripped = move || h.tripped();
        let mut de = serde_json::Deserializer::from_reader(r);
        struct V(CapHandle);
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = usize;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<usize, A::Error> {
                let mut n = 0;
                loop {
                    self.0.reset();
                    match a.next_element::<String>()? {
                        Some(_) => n += 1,
                        None => return Ok(n),
                    }
                }
            }
        }
        let e = serde::Deserializer::deserialize_seq(&mut de, V(handle)).unwrap_err();
        let _ = e;
        assert_eq!(tripped(), Some(CapExceeded { limit: 50 }));

        // The same elements under a cap of 200 all parse.
        let (r, handle) = Capped::new(text.as_bytes(), 200);
        let mut de = serde_json::Deserializer::from_reader(r);
        assert_eq!(
            serde::Deserializer::deserialize_seq(&mut de, V(handle)).unwrap(),
            3
        );
    }

    #[test]
    fn without_resets_the_whole_input_counts() {
        let text = br#"["aaaa","bbbb","cccc"]"#;
        let (r, handle) = Capped::new(&text[..], 10);
        assert!(serde_json::from_reader::<_, Vec<String>>(r).is_err());
        assert!(handle.tripped().is_some());
        let (r, handle) = Capped::new(&text[..], 100);
        assert_eq!(
            serde_json::from_reader::<_, Vec<String>>(r).unwrap().len(),
            3
        );
        assert_eq!(handle.tripped(), None);
    }
}
