//! The ASCII armor of a key export: `-----BEGIN MEGOLM SESSION DATA-----`, base64, `-----END ...`.
//!
//! [`ArmorReader`] is a streaming, tolerant reader: it turns armored text into the decoded bytes
//! with memory that does not depend on the input (a 600 MB single-line export from matrix-nio
//! is fine). It accepts every layout real writers produce (listed in the `fingerprint` module): any
//! line width, LF or CRLF, blank and indented lines, padded or unpadded base64, padding at chunk
//! ends, text before BEGIN and after END, no final newline. It records what it saw in
//! [`ArmorInfo`] so `inspect` can tell which client wrote a file.
//!
//! [`ArmorWriter`] is strict and canonical. It writes Element Web's layout: 128-character lines
//! (96 bytes each), padding only at the end, LF, and a final newline. Every Matrix client has to
//! import files from Element Web, so this is the layout most surely read everywhere.

use std::io::{self, BufRead, Read, Write};

use base64::Engine as _;
use serde::Serialize;

use crate::encoding::{base64_run_len, is_base64_char, STANDARD_LENIENT, STANDARD_PADDED};
use crate::error::Error;

/// First line of an export.
pub const BEGIN: &str = "-----BEGIN MEGOLM SESSION DATA-----";
/// Last line of an export.
pub const END: &str = "-----END MEGOLM SESSION DATA-----";

/// Bytes per written line, before base64 (Element Web's chunk size).
pub(crate) const WRITE_LINE_BYTES: usize = 96;
/// Characters per written line: 96 bytes encode to exactly 128 characters, so no line but the
/// last carries padding.
pub(crate) const WRITE_LINE_WIDTH: usize = 128;

/// What exactly is wrong with an export's ASCII armor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArmorError {
    /// No `-----BEGIN MEGOLM SESSION DATA-----` line.
    #[error("no '-----BEGIN MEGOLM SESSION DATA-----' line found; this is not a Matrix key export (or it was cut off at the start)")]
    NoBegin,
    /// Text follows the BEGIN marker on its line.
    #[error("line {line}: unexpected text after '-----BEGIN MEGOLM SESSION DATA-----'; the marker must be on a line of its own")]
    BeginLineJunk {
        /// 1-based line number.
        line: u64,
    },
    /// The file ends before `-----END MEGOLM SESSION DATA-----`.
    #[error("no '-----END MEGOLM SESSION DATA-----' line found; the file is truncated")]
    NoEnd,
    /// A line starting with `-` inside the body is not the END marker.
    #[error("line {line}: expected '-----END MEGOLM SESSION DATA-----', found another '-' line")]
    BadEnd {
        /// 1-based line number.
        line: u64,
    },
    /// A byte that is not base64 (standard alphabet), padding or whitespace.
    #[error("line {line}, column {column}: {found} is not base64; the file was damaged or edited")]
    BadChar {
        /// 1-based line number.
        line: u64,
        /// 1-based column (bytes).
        column: u64,
        /// Description of the byte, e.g. `'*'` or `byte 0xC3`.
        found: String,
    },
    /// Padding (`=`) in a place base64 does not allow.
    #[error("line {line}, column {column}: misplaced base64 padding '='")]
    BadPadding {
        /// 1-based line number.
        line: u64,
        /// 1-based column (bytes).
        column: u64,
    },
    /// The body's base64 has a length no encoder produces (one stray character).
    #[error("the base64 body ends with a single dangling character; the file is truncated or a character was deleted")]
    DanglingChar,
    /// BEGIN and END with nothing between.
    #[error("the armor has no base64 body between BEGIN and END")]
    Empty,
}

/// How the armor of a file looked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ArmorInfo {
    /// Non-blank text before the BEGIN line.
    pub text_before: bool,
    /// Non-blank text after the END marker.
    pub text_after: bool,
    /// Lines of base64 between BEGIN and END.
    pub body_lines: u64,
    /// Width (characters) of the first body line.
    pub first_line_width: u64,
    /// Widest body line.
    pub max_line_width: u64,
    /// Every body line but the last has the width of the first.
    pub uniform_width: bool,
    /// Empty or whitespace-only lines inside the body.
    pub blank_lines: u64,
    /// Body lines that start with spaces or tabs.
    pub indented_lines: u64,
    /// Lines ending in CRLF (anywhere in the file).
    pub crlf_lines: u64,
    /// Lines ending in a bare LF (anywhere in the file).
    pub lf_lines: u64,
    /// The body ends with `=` padding.
    pub padded: bool,
    /// Padding appears before the end of the body (separately encoded chunks).
    pub inner_padding: bool,
    /// The END marker is followed by a line break.
    pub final_newline: bool,
    /// Base64 characters in the body (not counting padding or whitespace).
    pub base64_chars: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Looking for the BEGIN line. `matched` bytes of BEGIN seen on this line; `other` once the
    /// line cannot be the BEGIN line.
    Before { matched: usize, other: bool },
    /// Rest of the BEGIN line: whitespace only.
    BeginRest,
    /// Base64 body.
    Body,
    /// Matching the END marker; `matched` bytes seen.
    EndLine { matched: usize },
    /// After END (rest of its line and beyond).
    After { end_line: bool },
    /// EOF reached after a complete armor.
    Done,
}

/// Flush pending base64 in groups of this many characters (a multiple of 4).
const FLUSH_CHARS: usize = 16 * 1024;

struct Parser {
    state: State,
    line: u64,
    column: u64,
    info: ArmorInfo,
    /// Body line bookkeeping.
    line_width: u64,
    line_has_content: bool,
    line_indented: bool,
    last_was_cr: bool,
    /// Base64 characters of the current run (no padding), decoded in batches.
    pending: Vec<u8>,
    /// Characters in the current 4-character group, and `=` seen in it.
    group_len: u8,
    group_pad: u8,
    /// Completed widths: the last body line's width is provisional until END is seen.
    widths_seen_other: bool,
    out: Vec<u8>,
}

impl Parser {
    fn new() -> Self {
        Parser {
            state: State::Before {
                matched: 0,
                other: false,
            },
            line: 1,
            column: 0,
            info: ArmorInfo::default(),
            line_width: 0,
            line_has_content: false,
            line_indented: false,
            last_was_cr: false,
            pending: Vec::with_capacity(FLUSH_CHARS),
            group_len: 0,
            group_pad: 0,
            widths_seen_other: false,
            out: Vec::new(),
        }
    }

    fn bad_char(&self, b: u8) -> ArmorError {
        let found = if b.is_ascii_graphic() {
            format!("{:?}", char::from(b))
        } else {
            format!("byte 0x{b:02X}")
        };
        ArmorError::BadChar {
            line: self.line,
            column: self.column,
            found,
        }
    }

    fn decode_pending(&mut self) -> Result<(), ArmorError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.pending.len() % 4 == 1 {
            return Err(ArmorError::DanglingChar);
        }
        STANDARD_LENIENT
            .decode_vec(&self.pending, &mut self.out)
            .map_err(|_| ArmorError::DanglingChar)?;
        self.pending.clear();
        Ok(())
    }

    /// End of a body line (at `\n`).
    fn end_body_line(&mut self) {
        if self.line_has_content {
            let info = &mut self.info;
            info.body_lines += 1;
            if info.body_lines == 1 {
                info.first_line_width = self.line_width;
            } else if self.widths_seen_other {
                // The previous line differed from the first and was not the last one.
                info.uniform_width = false;
            }
            self.widths_seen_other = self.line_width != info.first_line_width;
            info.max_line_width = info.max_line_width.max(self.line_width);
            if self.line_indented {
                info.indented_lines += 1;
            }
        } else {
            self.info.blank_lines += 1;
        }
        self.line_width = 0;
        self.line_has_content = false;
        self.line_indented = false;
    }

    /// The body is over: decode what is left and check that there was a body.
    fn finish_body(&mut self) -> Result<(), ArmorError> {
        if self.line_has_content {
            self.end_body_line();
            // `end_body_line` counted a line break that is not there; nothing else to undo.
        }
        self.decode_pending()?;
        if self.info.base64_chars == 0 {
            return Err(ArmorError::Empty);
        }
        Ok(())
    }

    fn feed(&mut self, mut chunk: &[u8]) -> Result<(), ArmorError> {
        while let Some((&b, rest)) = chunk.split_first() {
            // Fast path: a run of base64 characters inside the body (nearly all of a file).
            if self.state == State::Body && self.group_pad == 0 && is_base64_char(b) {
                let run = base64_run_len(chunk);
                let (head, tail) = chunk.split_at(run);
                self.body_run(head)?;
                self.last_was_cr = false;
                chunk = tail;
                continue;
            }
            if b == b'\n' {
                if self.last_was_cr {
                    self.info.crlf_lines += 1;
                } else {
                    self.info.lf_lines += 1;
                }
            }
            self.column += 1;
            self.step(b)?;
            self.last_was_cr = b == b'\r';
            if b == b'\n' {
                self.line += 1;
                self.column = 0;
            }
            chunk = rest;
        }
        Ok(())
    }

    /// A run of base64 characters in the body, no padding seen in the current group.
    fn body_run(&mut self, run: &[u8]) -> Result<(), ArmorError> {
        if self.info.padded {
            // Data after a completed padded group: chunks encoded separately.
            self.info.inner_padding = true;
            self.info.padded = false;
        }
        let n = run.len() as u64;
        self.column += n;
        self.line_width += n;
        self.info.base64_chars += n;
        self.line_has_content = true;
        self.group_len = ((u64::from(self.group_len) + n) % 4) as u8;
        self.pending.extend_from_slice(run);
        if self.pending.len() >= FLUSH_CHARS {
            // Decode every complete 4-character group; keep the rest for the next run.
            let aligned = self.pending.len() / 4 * 4;
            let head = self.pending.get(..aligned).unwrap_or_default();
            decode_groups(head, &mut self.out)?;
            self.pending.drain(..aligned);
        }
        Ok(())
    }

    fn step(&mut self, b: u8) -> Result<(), ArmorError> {
        let begin = BEGIN.as_bytes();
        let end = END.as_bytes();
        match self.state {
            State::Before { matched, other } => {
                if b == b'\n' {
                    self.state = State::Before {
                        matched: 0,
                        other: false,
                    };
                } else if other || (matched == 0 && matches!(b, b' ' | b'\t' | b'\r')) {
                    // Rest of a non-BEGIN line, or leading whitespace.
                } else if begin.get(matched) == Some(&b) {
                    if matched + 1 == begin.len() {
                        self.state = State::BeginRest;
                    } else {
                        self.state = State::Before {
                            matched: matched + 1,
                            other: false,
                        };
                    }
                } else {
                    self.info.text_before = true;
                    self.state = State::Before {
                        matched,
                        other: true,
                    };
                }
            }
            State::BeginRest => match b {
                b'\n' => {
                    self.state = State::Body;
                    self.info.uniform_width = true;
                }
                b' ' | b'\t' | b'\r' => {}
                _ => return Err(ArmorError::BeginLineJunk { line: self.line }),
            },
            State::Body => match b {
                b'\n' => self.end_body_line(),
                b'\r' => {}
                b' ' | b'\t' => {
                    if !self.line_has_content {
                        self.line_indented = true;
                    }
                }
                b'=' => {
                    if self.group_len < 2 || self.group_len + self.group_pad >= 4 {
                        return Err(ArmorError::BadPadding {
                            line: self.line,
                            column: self.column,
                        });
                    }
                    self.group_pad += 1;
                    self.line_has_content = true;
                    self.line_width += 1;
                    self.info.padded = true;
                    if self.group_len + self.group_pad == 4 {
                        self.decode_pending()?;
                        self.group_len = 0;
                        self.group_pad = 0;
                    }
                }
                b'-' if !self.line_has_content => {
                    // Only a complete END marker closes the body; any other '-' line (a second
                    // BEGIN, a signature separator) is reported as what it is.
                    self.state = State::EndLine { matched: 1 };
                }
                _ if is_base64_char(b) => {
                    if self.group_pad > 0 {
                        return Err(ArmorError::BadPadding {
                            line: self.line,
                            column: self.column,
                        });
                    }
                    if self.info.padded {
                        // Data after a completed padded group: chunks encoded separately.
                        self.info.inner_padding = true;
                        self.info.padded = false;
                    }
                    self.pending.push(b);
                    self.group_len = (self.group_len + 1) % 4;
                    self.info.base64_chars += 1;
                    self.line_width += 1;
                    self.line_has_content = true;
                    if self.pending.len() >= FLUSH_CHARS && self.group_len == 0 {
                        self.decode_pending()?;
                    }
                }
                _ => return Err(self.bad_char(b)),
            },
            State::EndLine { matched } => {
                if end.get(matched) == Some(&b) {
                    if matched + 1 == end.len() {
                        if self.group_pad > 0 {
                            // A short padded group ("QQ=" then END): decode what is there.
                            self.group_len = 0;
                            self.group_pad = 0;
                        }
                        self.finish_body()?;
                        self.state = State::After { end_line: true };
                    } else {
                        self.state = State::EndLine {
                            matched: matched + 1,
                        };
                    }
                } else {
                    return Err(ArmorError::BadEnd { line: self.line });
                }
            }
            State::After { end_line } => {
                if b == b'\n' {
                    if end_line {
                        self.info.final_newline = true;
                    }
                    self.state = State::After { end_line: false };
                } else if !b.is_ascii_whitespace() {
                    self.info.text_after = true;
                }
            }
            State::Done => self.info.text_after = true,
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ArmorError> {
        match self.state {
            State::Before { .. } => Err(ArmorError::NoBegin),
            State::BeginRest | State::Body | State::EndLine { .. } => Err(ArmorError::NoEnd),
            State::After { .. } | State::Done => {
                self.state = State::Done;
                Ok(())
            }
        }
    }
}

/// Decode complete 4-character groups of base64 characters (no padding, no whitespace), the
/// bulk of a body, appending to `out`. base64-simd decodes them about four times as fast as the
/// `base64` crate here (10.7 vs 2.6 GB/s), and every export is decoded twice (the MAC pass, then
/// the decrypting pass). Complete groups leave no room for the leniency the last group gets
/// (trailing bits, padding), so both decoders give the same bytes for them; the last group still
/// goes through [`STANDARD_LENIENT`].
fn decode_groups(groups: &[u8], out: &mut Vec<u8>) -> Result<(), ArmorError> {
    let start = out.len();
    out.resize(start + groups.len() / 4 * 3, 0);
    let dst = out.get_mut(start..).unwrap_or_default();
    let decoded = base64_simd::STANDARD_NO_PAD
        .decode(groups, base64_simd::Out::from_slice(dst))
        .map(|d| d.len());
    match decoded {
        Ok(n) if n == groups.len() / 4 * 3 => Ok(()),
        _ => {
            out.truncate(start);
            Err(ArmorError::DanglingChar)
        }
    }
}

/// Streaming decoder: armored text in, the export's binary bytes out.
pub struct ArmorReader<R> {
    inner: R,
    parser: Parser,
    out_pos: usize,
}

impl<R: BufRead> ArmorReader<R> {
    /// Wrap a reader positioned at the start of the file.
    pub fn new(inner: R) -> Self {
        ArmorReader {
            inner,
            parser: Parser::new(),
            out_pos: 0,
        }
    }

    /// What the armor looked like. Complete once `read` has returned 0.
    pub fn info(&self) -> &ArmorInfo {
        &self.parser.info
    }

    /// Give back the inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: BufRead> Read for ArmorReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(ready) = self.parser.out.get(self.out_pos..) {
                if !ready.is_empty() {
                    let n = ready.len().min(buf.len());
                    if let (Some(dst), Some(src)) = (buf.get_mut(..n), ready.get(..n)) {
                        dst.copy_from_slice(src);
                    }
                    self.out_pos += n;
                    return Ok(n);
                }
            }
            if self.parser.state == State::Done {
                return Ok(0);
            }
            self.parser.out.clear();
            self.out_pos = 0;
            let chunk = self.inner.fill_buf()?;
            if chunk.is_empty() {
                self.parser.finish().map_err(|e| Error::from(e).into_io())?;
                continue;
            }
            let n = chunk.len();
            let fed = self.parser.feed(chunk);
            self.inner.consume(n);
            fed.map_err(|e| Error::from(e).into_io())?;
        }
    }
}

/// Streaming encoder: binary bytes in, canonical armor out (see the module docs for the layout).
pub struct ArmorWriter<W: Write> {
    inner: W,
    partial: Vec<u8>,
    line: Vec<u8>,
}

impl<W: Write> ArmorWriter<W> {
    /// Write the BEGIN line.
    ///
    /// # Errors
    /// Errors from the inner writer.
    pub fn new(mut inner: W) -> io::Result<Self> {
        inner.write_all(BEGIN.as_bytes())?;
        inner.write_all(b"\n")?;
        Ok(ArmorWriter {
            inner,
            partial: Vec::with_capacity(WRITE_LINE_BYTES),
            line: Vec::with_capacity(64 * (WRITE_LINE_WIDTH + 1)),
        })
    }

    fn encode_line(&mut self, bytes: &[u8]) {
        let start = self.line.len();
        self.line.resize(start + WRITE_LINE_WIDTH + 4, 0);
        let n = match self.line.get_mut(start..) {
            Some(dst) => STANDARD_PADDED.encode_slice(bytes, dst).unwrap_or(0),
            None => 0,
        };
        self.line.truncate(start + n);
        self.line.push(b'\n');
    }

    /// Write the last line, the END line and a final newline; give back the inner writer.
    ///
    /// # Errors
    /// Errors from the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        let partial = std::mem::take(&mut self.partial);
        if !partial.is_empty() {
            self.encode_line(&partial);
        }
        self.line.extend_from_slice(END.as_bytes());
        self.line.push(b'\n');
        self.inner.write_all(&self.line)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ArmorWriter<W> {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let total = data.len();
        if !self.partial.is_empty() {
            let take = (WRITE_LINE_BYTES - self.partial.len()).min(data.len());
            let (head, rest) = data.split_at(take);
            self.partial.extend_from_slice(head);
            data = rest;
            if self.partial.len() == WRITE_LINE_BYTES {
                let full = std::mem::take(&mut self.partial);
                self.encode_line(&full);
                self.partial = full;
                self.partial.clear();
            }
        }
        let mut chunks = data.chunks_exact(WRITE_LINE_BYTES);
        for chunk in &mut chunks {
            self.encode_line(chunk);
            if self.line.len() >= 64 * (WRITE_LINE_WIDTH + 1) {
                self.inner.write_all(&self.line)?;
                self.line.clear();
            }
        }
        self.partial.extend_from_slice(chunks.remainder());
        if !self.line.is_empty() {
            self.inner.write_all(&self.line)?;
            self.line.clear();
        }
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &str) -> Result<(Vec<u8>, ArmorInfo), Error> {
        let mut r = ArmorReader::new(text.as_bytes());
        let mut out = Vec::new();
        r.read_to_end(&mut out).map_err(Error::from_io)?;
        Ok((out, r.info().clone()))
    }

    fn encode(bytes: &[u8]) -> String {
        let mut w = ArmorWriter::new(Vec::new()).unwrap();
        w.write_all(bytes).unwrap();
        String::from_utf8(w.finish().unwrap()).unwrap()
    }

    #[test]
    fn writer_uses_element_layout() {
        let data: Vec<u8> = (0..=255u8).cycle().take(302).collect();
        let text = encode(&data);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], BEGIN);
        assert_eq!(lines[1].len(), 128);
        assert_eq!(lines[2].len(), 128);
        assert_eq!(lines[3].len(), 128);
        assert_eq!(lines[4], "ICEiIyQlJicoKSorLC0=", "14 bytes left, padded");
        assert_eq!(lines[5], END);
        assert!(text.ends_with("-----\n"));
        let (back, info) = decode(&text).unwrap();
        assert_eq!(back, data);
        assert_eq!(info.first_line_width, 128);
        assert!(info.uniform_width && info.padded && info.final_newline);
        assert!(!info.text_before && !info.text_after && !info.inner_padding);
    }

    #[test]
    fn reader_accepts_what_real_writers_do() {
        let data = b"hello, matrix key export world; long enough to wrap".to_vec();
        let b64 = STANDARD_PADDED.encode(&data);
        let unpadded = b64.trim_end_matches('=');
        let (a, b) = b64.split_at(20);
        let variants = [
            format!("{BEGIN}\n{b64}\n{END}"), // rust-sdk / nio: no final newline
            format!("{BEGIN}\r\n{a}\r\n{b}\r\n{END}\r\n"), // CRLF
            format!("junk\n\n  {BEGIN}  \n\n  {a}\n\t{b}\n\n{END}\ntrailer\n"),
            format!("{BEGIN}\n{unpadded}\n{END}\n"),
        ];
        for v in &variants {
            let (got, _) = decode(v).unwrap_or_else(|e| panic!("{v:?}: {e}"));
            assert_eq!(got, data, "{v:?}");
        }
        let (_, info) = decode(&variants[2]).unwrap();
        assert!(info.text_before && info.text_after);
        assert_eq!(info.indented_lines, 2);
        assert_eq!(info.blank_lines, 2);
        let (_, info) = decode(&variants[1]).unwrap();
        assert_eq!((info.crlf_lines, info.lf_lines), (4, 0));
    }

    #[test]
    fn separately_padded_chunks_decode_in_order() {
        let text = format!("{BEGIN}\nYQ==\nYmM=\nZA\n{END}\n");
        let (got, info) = decode(&text).unwrap();
        assert_eq!(got, b"abcd");
        assert!(info.inner_padding);
    }

    #[test]
    fn structural_errors_say_where() {
        let bad = format!("{BEGIN}\nQUJD\nQU*D\n{END}\n");
        match decode(&bad) {
            Err(Error::Armor(ArmorError::BadChar {
                line: 3,
                column: 3,
                found,
            })) => {
                assert_eq!(found, "'*'")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decode("QUJD"),
            Err(Error::Armor(ArmorError::NoBegin))
        ));
        assert!(matches!(
            decode(&format!("{BEGIN}\nQUJD\n")),
            Err(Error::Armor(ArmorError::NoEnd))
        ));
        assert!(matches!(
            decode(&format!("{BEGIN}\n{END}\n")),
            Err(Error::Armor(ArmorError::Empty))
        ));
        assert!(matches!(
            decode(&format!("{BEGIN}\nQUJDQ\n{END}\n")),
            Err(Error::Armor(ArmorError::DanglingChar))
        ));
        assert!(matches!(
            decode(&format!("{BEGIN}\nQ===\n{END}\n")),
            Err(Error::Armor(ArmorError::BadPadding { line: 2, column: 2 }))
        ));
        assert!(matches!(
            decode(&format!("{BEGIN} x\nQUJD\n{END}\n")),
            Err(Error::Armor(ArmorError::BeginLineJunk { line: 1 }))
        ));
        assert!(matches!(
            decode(&format!(
                "{BEGIN}\nQUJD\n-----END MEGOLM SESSION DATE-----\n"
            )),
            Err(Error::Armor(ArmorError::BadEnd { line: 3 }))
        ));
        let non_ascii = format!("{BEGIN}\nQUJ\u{e9}\n{END}\n");
        assert!(matches!(
            decode(&non_ascii),
            Err(Error::Armor(ArmorError::BadChar { found, .. })) if found == "byte 0xC3"
        ));
    }

    /// Bodies longer than FLUSH_CHARS go through `decode_groups` (base64-simd) in their bulk:
    /// the same bytes as the `base64` crate, for any line width and split into separately
    /// padded chunks (inner padding), and a bad character still found.
    #[test]
    fn long_bodies_decode_as_the_base64_crate_does() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let data: Vec<u8> = (0..200_003)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        for len in [0, 4, 8, 400, 16_384, 65_536] {
            let text = STANDARD_PADDED.encode(data.get(..len / 4 * 3).unwrap());
            let mut fast = vec![7u8];
            decode_groups(text.as_bytes(), &mut fast).unwrap();
            let mut slow = vec![7u8];
            STANDARD_LENIENT
                .decode_vec(text.as_bytes(), &mut slow)
                .unwrap();
            assert_eq!(fast, slow, "{len}");
        }
        let mut out = vec![1u8, 2];
        assert!(decode_groups(b"QUJD*UJD", &mut out).is_err());
        assert_eq!(out, [1, 2]);
        let body = STANDARD_PADDED.encode(&data);
        for width in [1, 64, 76, 128, 1000, body.len()] {
            let lines: Vec<&str> = body
                .as_bytes()
                .chunks(width)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            let text = format!("{BEGIN}\n{}\n{END}\n", lines.join("\n"));
            assert!(decode(&text).unwrap().0 == data, "width {width}");
        }
        // Element's old layout: chunks encoded one by one, each padded.
        let chunked: Vec<String> = data
            .chunks(1000)
            .map(|c| STANDARD_PADDED.encode(c))
            .collect();
        let text = format!("{BEGIN}\n{}\n{END}\n", chunked.join("\n"));
        assert!(decode(&text).unwrap().0 == data);
        let mut bad = body.clone().into_bytes();
        bad[100_000] = b'*';
        let text = format!("{BEGIN}\n{}\n{END}\n", String::from_utf8(bad).unwrap());
        assert!(matches!(
            decode(&text),
            Err(Error::Armor(ArmorError::BadChar {
                line: 2,
                column: 100_001,
                ..
            }))
        ));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_round_trip_through_any_rewrap(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..2000),
            width in 1usize..200,
            crlf: bool,
        ) {
            let text = encode(&data);
            proptest::prop_assert_eq!(&decode(&text).unwrap().0, &data);
            let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
            let nl = if crlf { "\r\n" } else { "\n" };
            let rewrapped: Vec<String> = body
                .as_bytes()
                .chunks(width)
                .map(|c| String::from_utf8(c.to_vec()).unwrap())
                .collect();
            let text2 = format!("{BEGIN}{nl}{}{nl}{END}", rewrapped.join(nl));
            proptest::prop_assert_eq!(&decode(&text2).unwrap().0, &data);
        }
    }
}
