//! The elements of a JSON array of sessions as text, one batch at a time ([`RawSessions`]).
//!
//! [`super::for_each`] parses as it reads, on one thread. Commands over millions of sessions
//! (`export merge`, `export split`) need more: the sessions of a batch parsed on every core, and
//! each session's exact text, to copy it into an output without parsing it again. So this reader
//! only finds where each element of the array begins and ends (strings, escapes and nesting
//! depth; the syntax inside an element is left to serde when it is parsed, see
//! [`RawBatch::parse`]) and checks everything between the elements itself.
//!
//! Bounds, so that no input holds more than a batch in memory: an element is at most
//! [`MAX_SESSION_BYTES`] (a real session is about 600 bytes; a 1 GB line stops after 1 MiB)
//! and nests at most [`MAX_DEPTH`] arrays and objects (serde_json's own recursion limit), counted
//! without recursion. Errors are [`Error::Json`] with the line and column in the whole input.

use std::io::Read;

use zeroize::Zeroizing;

use super::{JsonDetail, SessionRecord};
use crate::error::Error;

/// The longest session accepted, in bytes of JSON.
pub const MAX_SESSION_BYTES: usize = 1 << 20;

/// The deepest nesting of arrays and objects in a session, the session object included.
pub const MAX_DEPTH: usize = 128;

const READ_CHUNK: usize = 256 * 1024;

/// Where the reader is in the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before `[`.
    Start,
    /// After `[`: an element or `]`.
    First,
    /// After an element: `,` or `]`.
    After,
    /// After `,`: an element.
    Next,
    /// After `]` and the trailing whitespace.
    Done,
}

/// One element's place in a [`RawBatch`] and in the input.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    line: usize,
    column: usize,
}

/// The text of consecutive elements of the array (the buffer is wiped when dropped: it holds
/// session keys).
#[derive(Default)]
pub struct RawBatch {
    text: Zeroizing<Vec<u8>>,
    spans: Vec<Span>,
    first: u64,
}

impl std::fmt::Debug for RawBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawBatch")
            .field("sessions", &self.spans.len())
            .field("bytes", &self.text.len())
            .field("first", &self.first)
            .finish_non_exhaustive()
    }
}

impl RawBatch {
    /// An empty batch.
    pub fn new() -> Self {
        RawBatch::default()
    }

    /// Elements in the batch.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the batch is empty (the array has no more elements).
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The position in the array of the batch's first element (0-based).
    pub fn first(&self) -> u64 {
        self.first
    }

    /// The text of element `i` of the batch, exactly as in the input.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let s = self.spans.get(i)?;
        self.text.get(s.start..s.end)
    }

    /// Bytes of text in the batch.
    pub fn bytes(&self) -> usize {
        self.text.len()
    }

    /// Parse element `i` as a session. `what` names the data in errors.
    ///
    /// # Errors
    /// [`Error::Json`] (invalid UTF-8, a syntax error, a wrong type) with the position in the
    /// whole input.
    pub fn parse(&self, i: usize, what: &'static str) -> Result<SessionRecord, Error> {
        let (Some(span), Some(text)) = (self.spans.get(i), self.get(i)) else {
            return Err(Error::Json {
                what,
                detail: JsonDetail::Unexpected,
                line: 0,
                column: 0,
            });
        };
        let at = |line: usize, column: usize| {
            if line <= 1 {
                (span.line, span.column + column.saturating_sub(1))
            } else {
                (span.line + line - 1, column)
            }
        };
        let text = match std::str::from_utf8(text) {
            Ok(t) => t,
            Err(e) => {
                let valid = text.get(..e.valid_up_to()).unwrap_or_default();
                let line = 1 + valid.iter().filter(|&&b| b == b'\n').count();
                let column = 1 + valid.iter().rev().take_while(|&&b| b != b'\n').count();
                let (line, column) = at(line, column);
                return Err(Error::Json {
                    what,
                    detail: JsonDetail::InvalidUtf8,
                    line,
                    column,
                });
            }
        };
        serde_json::from_str(text).map_err(|e| {
            let (line, column) = at(e.line(), e.column());
            Error::Json {
                what,
                detail: super::json_detail(&e),
                line,
                column,
            }
        })
    }

    /// Element `i` in compact form, as serializing the parsed session writes it: no whitespace
    /// between tokens, strings with escapes as serde_json escapes them, everything else as
    /// written. None when the element already is (then [`RawBatch::get`] is that form).
    ///
    /// # Errors
    /// [`Error::Json`] for an element that is not UTF-8 or has a bad string.
    pub fn compact(
        &self,
        i: usize,
        what: &'static str,
    ) -> Result<Option<Zeroizing<String>>, Error> {
        let text = self.get(i).unwrap_or_default();
        let fail = |detail| Error::Json {
            what,
            detail,
            line: self.spans.get(i).map_or(0, |s| s.line),
            column: self.spans.get(i).map_or(0, |s| s.column),
        };
        let text = std::str::from_utf8(text).map_err(|_| fail(JsonDetail::InvalidUtf8))?;
        super::record::compact_text(text, MAX_DEPTH)
            .map(|c| c.map(Zeroizing::new))
            .map_err(|e| fail(super::json_detail(&e)))
    }

    fn clear(&mut self, first: u64) {
        self.text.clear();
        self.spans.clear();
        self.first = first;
    }
}

/// Reads a JSON array of sessions element by element, as text ([the module docs](self)).
pub struct RawSessions<R> {
    input: R,
    what: &'static str,
    buf: Zeroizing<Vec<u8>>,
    pos: usize,
    len: usize,
    eof: bool,
    /// Input offset of `buf[0]`.
    base: u64,
    line: usize,
    /// Input offset just after the last newline seen outside strings.
    line_start: u64,
    state: State,
    count: u64,
}

impl<R> std::fmt::Debug for RawSessions<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawSessions")
            .field("what", &self.what)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl<R: Read> RawSessions<R> {
    /// Read the array in `input`; `what` names it in errors ("input", "decrypted export").
    pub fn new(input: R, what: &'static str) -> Self {
        RawSessions {
            input,
            what,
            buf: Zeroizing::new(vec![0u8; READ_CHUNK]),
            pos: 0,
            len: 0,
            eof: false,
            base: 0,
            line: 1,
            line_start: 0,
            state: State::Start,
            count: 0,
        }
    }

    /// Elements read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Give back the input (say, to finish reading a decrypting reader, which checks its MAC at
    /// the end).
    pub fn into_inner(self) -> R {
        self.input
    }

    fn error(&self, detail: JsonDetail) -> Error {
        let here = self.base + self.pos as u64;
        Error::Json {
            what: self.what,
            detail,
            line: self.line,
            column: usize::try_from(here - self.line_start.min(here))
                .unwrap_or(usize::MAX)
                .saturating_add(1),
        }
    }

    /// The next byte, without taking it; None at the end of the input.
    fn peek(&mut self) -> Result<Option<u8>, Error> {
        if self.pos == self.len {
            if self.eof {
                return Ok(None);
            }
            self.base += self.len as u64;
            self.pos = 0;
            self.len = 0;
            loop {
                match self.input.read(&mut self.buf) {
                    Ok(0) => {
                        self.eof = true;
                        return Ok(None);
                    }
                    Ok(n) => {
                        self.len = n.min(self.buf.len());
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Error::from_io(e)),
                }
            }
        }
        Ok(self.buf.get(self.pos).copied())
    }

    /// Skip whitespace; the next other byte, not taken.
    fn skip_ws(&mut self) -> Result<Option<u8>, Error> {
        while let Some(b) = self.peek()? {
            match b {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.base + self.pos as u64;
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                _ => return Ok(Some(b)),
            }
        }
        Ok(None)
    }

    /// Fill `batch` with the next elements: up to `max_sessions`, stopping after the element
    /// that reaches `max_bytes` of text. An empty batch means the array has ended (and nothing
    /// but whitespace follows it).
    ///
    /// # Errors
    /// [`Error::Json`] when the input is not a JSON array of objects, an element is longer than
    /// [`MAX_SESSION_BYTES`] or nests deeper than [`MAX_DEPTH`]; read errors as
    /// [`Error::from_io`] gives them (a decrypting reader's MAC failure stays itself).
    pub fn next_batch(
        &mut self,
        batch: &mut RawBatch,
        max_sessions: usize,
        max_bytes: usize,
    ) -> Result<(), Error> {
        batch.clear(self.count);
        while batch.spans.len() < max_sessions.max(1) && batch.text.len() < max_bytes {
            match self.state {
                State::Done => break,
                State::Start => match self.skip_ws()? {
                    Some(b'[') => {
                        self.pos += 1;
                        self.state = State::First;
                    }
                    None => return Err(self.error(JsonDetail::Empty)),
                    Some(b) => return Err(self.error(JsonDetail::NotArray { found: kind_of(b) })),
                },
                State::First | State::Next => match self.skip_ws()? {
                    Some(b']') if self.state == State::First => {
                        self.pos += 1;
                        self.end()?;
                    }
                    Some(b'{') => {
                        self.element(batch)?;
                        self.state = State::After;
                    }
                    None => return Err(self.error(JsonDetail::EndsEarly)),
                    Some(b) => {
                        return Err(self.error(JsonDetail::WrongType {
                            found: kind_of(b),
                            expected: "a session object".into(),
                        }))
                    }
                },
                State::After => match self.skip_ws()? {
                    Some(b',') => {
                        self.pos += 1;
                        self.state = State::Next;
                    }
                    Some(b']') => {
                        self.pos += 1;
                        self.end()?;
                    }
                    None => return Err(self.error(JsonDetail::EndsEarly)),
                    Some(_) => return Err(self.error(JsonDetail::Syntax)),
                },
            }
        }
        Ok(())
    }

    /// After `]`: only whitespace may follow.
    fn end(&mut self) -> Result<(), Error> {
        match self.skip_ws()? {
            None => {
                self.state = State::Done;
                Ok(())
            }
            Some(_) => Err(self.error(JsonDetail::Trailing)),
        }
    }

    /// Copy one object (the next byte is its `{`) into `batch`.
    fn element(&mut self, batch: &mut RawBatch) -> Result<(), Error> {
        let here = self.base + self.pos as u64;
        let span_line = self.line;
        let span_column = usize::try_from(here - self.line_start.min(here))
            .unwrap_or(usize::MAX)
            .saturating_add(1);
        let start = batch.text.len();
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        loop {
            if self.peek()?.is_none() {
                return Err(self.error(JsonDetail::EndsEarly));
            }
            let avail = self.buf.get(self.pos..self.len).unwrap_or_default();
            let mut i = 0;
            let mut done = false;
            let mut newlines = 0usize;
            let mut last_newline = 0usize;
            while i < avail.len() {
                if escaped {
                    escaped = false;
                    i += 1;
                    continue;
                }
                if in_string {
                    match memchr::memchr2(b'"', b'\\', avail.get(i..).unwrap_or_default()) {
                        None => i = avail.len(),
                        Some(j) => {
                            if avail.get(i + j) == Some(&b'\\') {
                                escaped = true;
                            } else {
                                in_string = false;
                            }
                            i += j + 1;
                        }
                    }
                    continue;
                }
                match avail.get(i) {
                    Some(b'"') => in_string = true,
                    Some(b'{' | b'[') => {
                        depth += 1;
                        if depth > MAX_DEPTH {
                            self.pos += i;
                            return Err(self.error(JsonDetail::TooDeep));
                        }
                    }
                    Some(b'}' | b']') => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            i += 1;
                            done = true;
                            break;
                        }
                    }
                    Some(b'\n') => {
                        newlines += 1;
                        last_newline = i;
                    }
                    _ => {}
                }
                i += 1;
            }
            let taken = avail.get(..i).unwrap_or_default();
            if batch.text.len() - start + taken.len() > MAX_SESSION_BYTES {
                return Err(Error::Json {
                    what: self.what,
                    detail: JsonDetail::SessionTooLong {
                        limit: MAX_SESSION_BYTES,
                    },
                    line: span_line,
                    column: span_column,
                });
            }
            batch.text.extend_from_slice(taken);
            if newlines > 0 {
                self.line += newlines;
                self.line_start = self.base + (self.pos + last_newline + 1) as u64;
            }
            self.pos += i;
            if done {
                break;
            }
        }
        batch.spans.push(Span {
            start,
            end: batch.text.len(),
            line: span_line,
            column: span_column,
        });
        self.count += 1;
        Ok(())
    }
}

/// The kind of JSON value that starts with `b`, with its article.
fn kind_of(b: u8) -> &'static str {
    match b {
        b'{' => "an object",
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        b'-' | b'0'..=b'9' => "a number",
        _ => "not JSON",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &[u8], max: usize) -> Result<Vec<Vec<u8>>, Error> {
        let mut r = RawSessions::new(text, "input");
        let mut b = RawBatch::new();
        let mut out = Vec::new();
        loop {
            r.next_batch(&mut b, max, usize::MAX)?;
            if b.is_empty() {
                return Ok(out);
            }
            for i in 0..b.len() {
                out.push(b.get(i).unwrap().to_vec());
            }
        }
    }

    fn detail(r: Result<Vec<Vec<u8>>, Error>) -> (String, usize, usize) {
        match r {
            Err(Error::Json {
                detail,
                line,
                column,
                ..
            }) => (detail.to_string(), line, column),
            other => panic!("{:?}", other.map(|v| v.len())),
        }
    }

    #[test]
    fn elements_come_out_exactly_as_written() {
        let text = br#" [ {"a":"x}\"{","b":[1,{"c":2}]} ,
{ "d" : "\\" }]
 "#;
        for max in [1, 2, 100] {
            let got = all(text, max).unwrap();
            assert_eq!(
                got,
                vec![
                    br#"{"a":"x}\"{","b":[1,{"c":2}]}"#.to_vec(),
                    br#"{ "d" : "\\" }"#.to_vec()
                ]
            );
        }
        assert!(all(b"[]", 5).unwrap().is_empty());
        assert!(all(b" [ \n ] \n", 5).unwrap().is_empty());
    }

    #[test]
    fn agrees_with_serde_on_what_is_an_array_of_objects() {
        for (text, want) in [
            (&b""[..], "it is empty"),
            (b"  ", "it is empty"),
            (b"{}", "it is an object"),
            (b"5", "it is a number"),
            (b"[1]", "found a number where a session object belongs"),
            (b"[{},]", "found not JSON where a session object belongs"),
            (b"[{}", "it ends in the middle"),
            (b"[{}}", "syntax error"),
            (b"[{\"a\":\"", "it ends in the middle"),
            (b"[{}] x", "trailing data after the array"),
            (b"[{}][]", "trailing data after the array"),
        ] {
            assert_eq!(
                detail(all(text, 10)).0,
                want,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn positions_are_in_the_whole_input() {
        let text = b"[{},\n  {\"a\": 1},\n  {\"b\": tru}]";
        let mut r = RawSessions::new(&text[..], "input");
        let mut b = RawBatch::new();
        r.next_batch(&mut b, 10, usize::MAX).unwrap();
        assert_eq!(b.len(), 3);
        assert!(b.parse(0, "input").is_ok());
        match b.parse(2, "input") {
            Err(Error::Json { line, column, .. }) => {
                assert_eq!(line, 3);
                // serde points at the end of `tru}`.
                assert!(column > 3 && column < 14, "{column}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(detail(all(b"[{},\n x]", 10)).1, 2);
        let not_utf8 = b"[{}, {\"a\": \"\xff\"}]";
        let mut r = RawSessions::new(&not_utf8[..], "input");
        r.next_batch(&mut b, 10, usize::MAX).unwrap();
        match b.parse(1, "input") {
            Err(Error::Json {
                detail,
                line,
                column,
                ..
            }) => assert_eq!(
                (detail.to_string().as_str(), line, column),
                ("invalid UTF-8", 1, 13)
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_long_or_deep_element_stops_early() {
        let mut long = b"[{\"a\":\"".to_vec();
        long.resize(3 * MAX_SESSION_BYTES, b'x');
        let (d, line, column) = detail(all(&long, 10));
        assert!(d.contains("longer than"), "{d}");
        assert_eq!((line, column), (1, 2));
        let mut deep = b"[{\"a\":".to_vec();
        deep.extend(std::iter::repeat_n(b'[', 10 * MAX_DEPTH));
        assert_eq!(detail(all(&deep, 10)).0, "nested too deeply");
        let mut ok = b"[{\"a\":".to_vec();
        ok.extend(std::iter::repeat_n(b'[', MAX_DEPTH - 1));
        ok.extend(std::iter::repeat_n(b']', MAX_DEPTH - 1));
        ok.extend(b"}]");
        assert_eq!(all(&ok, 10).unwrap().len(), 1);
    }

    #[test]
    fn compact_form_is_what_serializing_the_session_gives() {
        let text = b"[ {\"a\" : \"\\u00e9\\/\" ,\n \"b\": [1, 2.50]} , {\"c\":1}]";
        let mut r = RawSessions::new(&text[..], "input");
        let mut b = RawBatch::new();
        r.next_batch(&mut b, 10, usize::MAX).unwrap();
        let s = b.parse(0, "input").unwrap();
        let want = serde_json::to_string(&s).unwrap();
        assert_eq!(b.compact(0, "input").unwrap().unwrap().as_str(), want);
        assert!(b.compact(1, "input").unwrap().is_none());
    }

    #[test]
    fn batches_stop_at_the_byte_limit() {
        let text = b"[{\"a\":1},{\"a\":2},{\"a\":3}]";
        let mut r = RawSessions::new(&text[..], "input");
        let mut b = RawBatch::new();
        r.next_batch(&mut b, 100, 10).unwrap();
        assert_eq!((b.len(), b.first()), (2, 0));
        r.next_batch(&mut b, 100, 10).unwrap();
        assert_eq!((b.len(), b.first()), (1, 2));
        r.next_batch(&mut b, 100, 10).unwrap();
        assert!(b.is_empty());
        assert_eq!(r.count(), 3);
    }
}
