//! The JSON inside an export: an array of session objects (spec "Key export format").
//!
//! Exports can hold 100k+ sessions, so they are read one element at a time: [`for_each`] walks
//! the array and hands each session to a callback without holding the whole document, and
//! [`scan`] keeps only what summaries need ([`SessionPeek`]) and skips the rest.
//!
//! * [`SessionRecord`] is one session, typed, with every field mxkeys does not know kept in its
//!   place ([`RawMap`]): writing a record back gives the same values in the same order.
//! * [`validate`] checks one session; [`Report`] and [`Problem`] say what is wrong.
//! * [`normalize`](SessionRecord::normalized) and [`refusals`] hold the client-compatibility
//!   rules: which clients refuse which sessions, and the portable form every client takes.
//!
//! Parse errors never quote the input (it holds session keys): they name the problem and the
//! position.

mod compat;
mod raw;
mod record;
mod validate;

pub use compat::{
    refusals, shared_history_spellings, Refusal, RefusalTally, EVERY_READER, SHARED_HISTORY,
};
pub use raw::{RawBatch, RawSessions, MAX_DEPTH, MAX_SESSION_BYTES};
pub use record::{to_writer_pretty, RawMap, SessionRecord};
pub use validate::{validate, validate_keyed, Problem, Report, ReportStatus};

use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::error::Error;

/// The fields of a session that summaries need; every other field is skipped unread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionPeek {
    /// `room_id`, when present and a string.
    pub room_id: Option<String>,
    /// `session_id`, when present and a string.
    pub session_id: Option<String>,
}

impl<'de> Deserialize<'de> for SessionPeek {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SessionPeek;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a session object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SessionPeek, A::Error> {
                let mut peek = SessionPeek::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match &*key {
                        // Any JSON value is accepted here (a number where a string belongs is
                        // validate's business), but a syntax error must propagate: swallowing it
                        // would leave the parser mid-value and accept text that is not JSON.
                        "room_id" => {
                            let v: serde_json::Value = map.next_value()?;
                            peek.room_id = v.as_str().map(str::to_owned);
                        }
                        "session_id" => {
                            let v: serde_json::Value = map.next_value()?;
                            peek.session_id = v.as_str().map(str::to_owned);
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(peek)
            }
        }
        d.deserialize_map(V)
    }
}

/// Counts over an array of sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Elements in the array.
    pub sessions: u64,
    /// Distinct `room_id`s.
    pub rooms: u64,
}

struct EachElement<'a, T, F> {
    f: &'a mut F,
    failed: &'a mut Option<Error>,
    /// Each element's bytes count from zero: no session may pass [`MAX_SESSION_BYTES`].
    cap: &'a crate::capped::CapHandle,
    _t: PhantomData<T>,
}

impl<'de, T, F> Visitor<'de> for EachElement<'_, T, F>
where
    T: Deserialize<'de>,
    F: FnMut(T) -> Result<(), Error>,
{
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of session objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut n = 0u64;
        loop {
            self.cap.reset();
            let Some(el) = seq.next_element::<T>()? else {
                break;
            };
            if let Err(e) = (self.f)(el) {
                *self.failed = Some(e);
                return Err(de::Error::custom("stopped by the caller"));
            }
            n += 1;
        }
        Ok(n)
    }
}

/// Walk a JSON array, deserializing each element as `T` and handing it to `f`. Returns the
/// number of elements. The whole input must be that one array (trailing whitespace allowed).
///
/// `what` names the data in errors ("decrypted export", "input").
///
/// # Errors
/// [`Error::Json`] for anything that is not such an array (without quoting the input); the
/// callback's own error, unchanged.
pub fn for_each<T, R, F>(input: R, what: &'static str, mut f: F) -> Result<u64, Error>
where
    T: DeserializeOwned,
    R: Read,
    F: FnMut(T) -> Result<(), Error>,
{
    let mut failed = None;
    // serde_json skips ignored strings without checking their UTF-8, so check it on the way in.
    // The buffer holds decrypted JSON: wiped when dropped (a BufReader's is not).
    // Each session is capped (a 1 GB string in one session stops after 1 MiB, not held whole).
    let (reader, cap) = crate::capped::Capped::new(
        ByteAtATime(crate::secret::WipingBufReader::with_capacity(
            64 * 1024,
            Utf8Checked::new(input, what),
        )),
        MAX_SESSION_BYTES as u64,
    );
    let mut de = serde_json::Deserializer::from_reader(reader);
    let visitor = EachElement {
        f: &mut f,
        failed: &mut failed,
        cap: &cap,
        _t: PhantomData,
    };
    let result = de
        .deserialize_seq(visitor)
        .and_then(|n| de.end().map(|()| n));
    match (result, failed, cap.tripped()) {
        (_, Some(e), _) => Err(e),
        (Ok(n), None, _) => Ok(n),
        (Err(e), None, Some(c)) => Err(Error::Json {
            what,
            detail: JsonDetail::SessionTooLong {
                limit: usize::try_from(c.limit).unwrap_or(usize::MAX),
            },
            line: e.line(),
            column: e.column(),
        }),
        (Err(e), None, None) => Err(unwrap_json_io(what, e)),
    }
}

/// The buffered reader serde_json reads from. serde_json's reader takes the input one byte at a
/// time (`io::Bytes`), which std makes cheap only for its own `BufReader`: for any other reader
/// each byte is a `read` call with a one-byte buffer and a variable-length copy. This hands the
/// byte over from the buffer instead, inlined, which halves the time of a scan.
pub(crate) struct ByteAtATime<R>(pub(crate) crate::secret::WipingBufReader<R>);

impl<R: Read> Read for ByteAtATime<R> {
    #[inline]
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        use std::io::BufRead;
        if let [slot] = out {
            let Some(&b) = self.0.fill_buf()?.first() else {
                return Ok(0);
            };
            *slot = b;
            self.0.consume(1);
            return Ok(1);
        }
        self.0.read(out)
    }
}

/// Walk an array of sessions, counting sessions and rooms; `f` sees each session's peek.
///
/// # Errors
/// As [`for_each`].
pub fn scan<R: Read>(
    input: R,
    what: &'static str,
    mut f: impl FnMut(&SessionPeek) -> Result<(), Error>,
) -> Result<Summary, Error> {
    let mut rooms = HashSet::new();
    let sessions = for_each(input, what, |peek: SessionPeek| {
        f(&peek)?;
        if let Some(r) = peek.room_id {
            rooms.insert(r);
        }
        Ok(())
    })?;
    Ok(Summary {
        sessions,
        rooms: rooms.len() as u64,
    })
}

/// A reader that fails on the first byte that is not part of valid UTF-8, however the input is
/// split into reads (with [`Error::Json`], "invalid UTF-8", inside the `io::Error`).
pub(crate) struct Utf8Checked<R> {
    inner: R,
    what: &'static str,
    /// Bytes of an incomplete sequence at the end of the previous read.
    carry: Vec<u8>,
    line: usize,
    column: usize,
}

impl<R: Read> Utf8Checked<R> {
    pub(crate) fn new(inner: R, what: &'static str) -> Self {
        Utf8Checked {
            inner,
            what,
            carry: Vec::with_capacity(4),
            line: 1,
            column: 0,
        }
    }

    fn advance(&mut self, valid: &[u8]) {
        for &b in valid {
            if b == b'\n' {
                self.line += 1;
                self.column = 0;
            } else if b & 0xC0 != 0x80 {
                self.column += 1;
            }
        }
    }

    fn invalid(&self) -> std::io::Error {
        Error::Json {
            what: self.what,
            detail: JsonDetail::InvalidUtf8,
            line: self.line,
            column: self.column + 1,
        }
        .into_io()
    }
}

impl<R: Read> Read for Utf8Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let Some(got) = buf.get(..n) else {
            return Ok(0);
        };
        if n == 0 {
            if !self.carry.is_empty() {
                return Err(self.invalid());
            }
            return Ok(0);
        }
        // Complete a sequence left over from the previous read.
        let mut start = 0;
        while !self.carry.is_empty() {
            let Some(&b) = got.get(start) else {
                return Ok(n);
            };
            self.carry.push(b);
            start += 1;
            match std::str::from_utf8(&self.carry) {
                Ok(_) => self.carry.clear(),
                Err(e) if e.error_len().is_some() || self.carry.len() >= 4 => {
                    return Err(self.invalid())
                }
                Err(_) => {}
            }
        }
        let rest = got.get(start..).unwrap_or_default();
        match std::str::from_utf8(rest) {
            Ok(_) => self.advance(rest),
            Err(e) => {
                let (valid, tail) = rest.split_at(e.valid_up_to());
                self.advance(valid);
                if e.error_len().is_some() {
                    return Err(self.invalid());
                }
                self.carry.extend_from_slice(tail);
            }
        }
        Ok(n)
    }
}

/// A serde_json error without any of the input's text.
fn json_error(what: &'static str, e: &serde_json::Error) -> Error {
    Error::Json {
        what,
        detail: json_detail(e),
        line: e.line(),
        column: e.column(),
    }
}

/// What is wrong with a JSON text, in words, without the position and without any of the
/// input's text ([`Error::Json`], [`json_detail`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonDetail {
    /// Reading the input failed.
    #[error("read error")]
    Read,
    /// Nothing at all.
    #[error("it is empty")]
    Empty,
    /// The text ends inside a value.
    #[error("it ends in the middle")]
    EndsEarly,
    /// Bytes that are not UTF-8 (found while streaming, before the JSON parser saw them).
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// Bytes that are not UTF-8, or a bad `\u` escape.
    #[error("invalid UTF-8 or unicode escape")]
    InvalidUnicode,
    /// Deeper than the parser's recursion limit.
    #[error("nested too deeply")]
    TooDeep,
    /// One session is longer than the reader takes ([`MAX_SESSION_BYTES`]).
    #[error("a session is longer than {limit} bytes (a real one is about 600)")]
    SessionTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// Something after the end of the document.
    #[error("trailing data after the array")]
    Trailing,
    /// Any other syntax error.
    #[error("syntax error")]
    Syntax,
    /// The document is not an array: what it is instead ("an object", "a number", ...).
    #[error("it is {found}")]
    NotArray {
        /// The kind of value found, with its article.
        found: &'static str,
    },
    /// A value of the wrong type inside the document.
    #[error("found {found} where {expected} belongs")]
    WrongType {
        /// The kind of value found, with its article.
        found: &'static str,
        /// What belongs there, as the reader describes it.
        expected: String,
    },
    /// Any other value the reader refuses.
    #[error("unexpected value")]
    Unexpected,
}

/// Describe a serde_json error without the position and without any of the input's text:
/// "it is empty", "it ends in the middle", "nested too deeply", "syntax error", ...
pub fn json_detail(e: &serde_json::Error) -> JsonDetail {
    use serde_json::error::Category;
    match e.classify() {
        Category::Io => JsonDetail::Read,
        Category::Eof if e.line() == 1 && e.column() == 0 => JsonDetail::Empty,
        Category::Eof => JsonDetail::EndsEarly,
        Category::Syntax => {
            let msg = e.to_string();
            if msg.contains("unicode") || msg.contains("UTF-8") || msg.contains("utf-8") {
                JsonDetail::InvalidUnicode
            } else if msg.contains("recursion limit") {
                JsonDetail::TooDeep
            } else if msg.contains("trailing characters") {
                JsonDetail::Trailing
            } else {
                JsonDetail::Syntax
            }
        }
        Category::Data => {
            let msg = e.to_string();
            if msg.starts_with("invalid type") {
                // "invalid type: X, expected Y": X may quote the input; keep only its kind.
                let kind = [
                    ("string", "a string"),
                    ("integer", "a number"),
                    ("floating point", "a number"),
                    ("boolean", "a boolean"),
                    ("null", "null"),
                    ("sequence", "an array"),
                    ("map", "an object"),
                ]
                .into_iter()
                .find(|(k, _)| msg.get(14..).is_some_and(|rest| rest.starts_with(k)))
                .map_or("a value", |(_, name)| name);
                let expected = msg
                    .rsplit("expected ")
                    .next()
                    .and_then(|x| x.split(" at line ").next())
                    .unwrap_or("something else");
                if expected == "a JSON array of session objects" {
                    JsonDetail::NotArray { found: kind }
                } else {
                    JsonDetail::WrongType {
                        found: kind,
                        expected: expected.to_owned(),
                    }
                }
            } else if msg.starts_with("recursion limit exceeded") {
                JsonDetail::TooDeep
            } else if msg.contains("surrogate") || msg.contains("escape") {
                // A string serde_json refuses once it reads it as a string (a lone surrogate):
                // SessionRecord reads unknown fields as raw text first, then their strings.
                // Worded as serde_json's own syntax error for it was.
                JsonDetail::Syntax
            } else {
                JsonDetail::Unexpected
            }
        }
    }
}

/// Pull a library error (say, a MAC failure of the decrypting reader) back out of a serde_json
/// I/O error, or describe the JSON error.
fn unwrap_json_io(what: &'static str, e: serde_json::Error) -> Error {
    if e.classify() == serde_json::error::Category::Io {
        return Error::from_io(e.into());
    }
    json_error(what, &e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_past_the_cap_is_refused_and_small_ones_add_up_freely() {
        // Many small sessions: far more than the cap in all, each under it.
        let small = format!("[{}]", vec![r#"{"room_id":"!r:x"}"#; 100_000].join(","));
        assert!(small.len() > MAX_SESSION_BYTES);
        assert_eq!(
            scan(small.as_bytes(), "input", |_| Ok(()))
                .unwrap()
                .sessions,
            100_000
        );
        // One session one byte over: refused with where, not held.
        let big = format!(
            r#"[{{"room_id":"!r:x"}},{{"room_id":"{}"}}]"#,
            "a".repeat(MAX_SESSION_BYTES)
        );
        let e = scan(big.as_bytes(), "input", |_| Ok(())).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Json {
                    detail: JsonDetail::SessionTooLong {
                        limit: MAX_SESSION_BYTES
                    },
                    line: 1,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn json_details_are_unchanged() {
        let cases: Vec<(JsonDetail, &str)> = vec![
            (JsonDetail::Read, "read error"),
            (JsonDetail::Empty, "it is empty"),
            (JsonDetail::EndsEarly, "it ends in the middle"),
            (JsonDetail::InvalidUtf8, "invalid UTF-8"),
            (
                JsonDetail::InvalidUnicode,
                "invalid UTF-8 or unicode escape",
            ),
            (JsonDetail::TooDeep, "nested too deeply"),
            (JsonDetail::Trailing, "trailing data after the array"),
            (JsonDetail::Syntax, "syntax error"),
            (
                JsonDetail::NotArray { found: "an object" },
                "it is an object",
            ),
            (
                JsonDetail::WrongType {
                    found: "a number",
                    expected: "a string".into(),
                },
                "found a number where a string belongs",
            ),
            (JsonDetail::Unexpected, "unexpected value"),
        ];
        for (d, want) in cases {
            assert_eq!(d.to_string(), want);
        }
        let detail =
            |text: &str| json_detail(&serde_json::from_str::<serde_json::Value>(text).unwrap_err());
        assert_eq!(detail(""), JsonDetail::Empty);
        assert_eq!(detail("[1,"), JsonDetail::EndsEarly);
        assert_eq!(detail("[1] x"), JsonDetail::Trailing);
        assert_eq!(detail("[x]"), JsonDetail::Syntax);
        let e = serde_json::from_str::<Vec<u32>>("[\"secret\"]").unwrap_err();
        assert_eq!(
            json_detail(&e).to_string(),
            "found a string where u32 belongs"
        );
    }

    /// Found by the session_json fuzz target: a key without its value was accepted.
    #[test]
    fn a_key_without_a_value_is_not_json() {
        for bad in [
            &br#"[{"room_id"}]"#[..],
            br#"[{"room_id":}]"#,
            br#"[{"session_id" ,"a":1}]"#,
        ] {
            let e = scan(bad, "input", |_| Ok(())).unwrap_err();
            assert_eq!(
                e.kind(),
                crate::ErrorKind::Json,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        // A non-string room_id is still read past, not refused.
        assert_eq!(
            scan(&br#"[{"room_id":5,"x":1}]"#[..], "input", |_| Ok(()))
                .unwrap()
                .sessions,
            1
        );
    }

    #[test]
    fn counts_sessions_and_rooms() {
        let s = br#"[{"room_id":"!a","session_id":"1","session_key":"x"},
                     {"room_id":"!a","session_id":"2"},{"room_id":"!b"}] "#;
        let sum = scan(&s[..], "input", |_| Ok(())).unwrap();
        assert_eq!(
            sum,
            Summary {
                sessions: 3,
                rooms: 2
            }
        );
    }

    #[test]
    fn errors_do_not_quote_the_input() {
        let secret = "AQAAAABsecretsecretsecret";
        for bad in [
            format!(r#"["{secret}"]"#),
            format!(r#"{{"session_key":"{secret}"}}"#),
            format!(r#"[{{"session_key":"{secret}"}}] x"#),
            format!(r#"[{{"session_key":"{secret}"#),
        ] {
            let e = scan(bad.as_bytes(), "input", |_| Ok(())).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Json);
            assert!(!e.to_string().contains("secret"), "{e}");
        }
        let e = scan(&br#"["x"]"#[..], "input", |_| Ok(())).unwrap_err();
        assert!(
            e.to_string()
                .contains("found a string where a session object belongs"),
            "{e}"
        );
    }

    struct OneByte<'a>(&'a [u8]);
    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some((first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = *first;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn non_utf8_and_deep_nesting_are_json_errors() {
        let e = scan(&b"[{\"a\":\"\xff\"}]"[..], "input", |_| Ok(())).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Json);
        assert!(
            e.to_string().contains("invalid UTF-8 at line 1, column 8"),
            "{e}"
        );
        // A multi-byte character split across reads is fine; a truncated one is not.
        let split = OneByte("[{\"a\":\"caf\u{e9}\u{1f511}\"}]".as_bytes());
        assert_eq!(scan(split, "input", |_| Ok(())).unwrap().sessions, 1);
        let e = scan(&b"[{\"a\":\"\xf0\x9f\"}]"[..], "input", |_| Ok(())).unwrap_err();
        assert!(e.to_string().contains("invalid UTF-8"), "{e}");
        let deep = format!("[{{\"a\":{}{}}}]", "[".repeat(100_000), "]".repeat(100_000));
        // Skipped values are walked without recursion: no stack overflow, nothing to refuse.
        assert_eq!(
            scan(deep.as_bytes(), "input", |_| Ok(())).unwrap().sessions,
            1
        );
        // Values that are built (pretty-printing) stop at serde_json's recursion limit.
        let e = for_each(deep.as_bytes(), "input", |_: serde_json::Value| Ok(())).unwrap_err();
        assert!(e.to_string().contains("nested too deeply"), "{e}");
    }
}
