//! Secret newtypes: wiped on drop, `<redacted>` in `Debug`, no `Display`.
//!
//! Bytes come out only through `expose()`, so every place that touches secret material is
//! greppable.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A fixed-size secret (a derived key, a private key).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes<const N: usize>(Box<[u8; N]>);

impl<const N: usize> SecretBytes<N> {
    /// All-zero secret, to be filled in place (keeps the bytes off the stack).
    pub(crate) fn zeroed() -> Self {
        SecretBytes(Box::new([0u8; N]))
    }

    /// Take ownership of `bytes` and wipe the caller's copy.
    pub(crate) fn from_array(bytes: &mut [u8; N]) -> Self {
        let s = SecretBytes(Box::new(*bytes));
        bytes.zeroize();
        s
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8; N] {
        &self.0
    }

    /// The secret bytes, to fill in place.
    pub(crate) fn expose_mut(&mut self) -> &mut [u8; N] {
        &mut self.0
    }
}

impl<const N: usize> fmt::Debug for SecretBytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A passphrase as the person typed it.
///
/// Matrix clients feed the UTF-8 bytes to PBKDF2; [`Passphrase::latin1_bytes`] gives the bytes
/// matrix-nio used instead: it hands PyCryptodome a `str`, which encodes it as Latin-1, so its
/// files with an accented passphrase are keyed with other bytes than every other client uses.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Passphrase(String);

impl Passphrase {
    /// Wrap a passphrase. The string is moved, not copied.
    pub fn new(s: String) -> Self {
        Passphrase(s)
    }

    /// The passphrase text.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True for the empty passphrase.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The Latin-1 encoding of the passphrase, when it differs from UTF-8 and exists: every
    /// character is at most U+00FF and at least one is above U+007F.
    pub fn latin1_bytes(&self) -> Option<Zeroizing<Vec<u8>>> {
        if self.0.is_ascii() {
            return None;
        }
        let mut out = Zeroizing::new(Vec::with_capacity(self.0.len()));
        for c in self.0.chars() {
            out.push(u8::try_from(u32::from(c)).ok()?);
        }
        Some(out)
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

impl PartialEq for Passphrase {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

/// Secret text that is not a passphrase: a session key as an export writes it (base64).
///
/// Wiped on drop, `<redacted>` in `Debug`, compared in constant time; the text comes out only
/// through [`SecretString::expose`].
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretString(String);

impl SecretString {
    /// Wrap `s`. The string is moved, not copied.
    pub fn new(s: String) -> Self {
        SecretString(s)
    }

    /// The secret text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl PartialEq for SecretString {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SecretString {}

/// A buffered reader whose buffer is wiped when it is dropped: [`std::io::BufReader`] frees its
/// buffer as it is, so decrypted session JSON read through one would stay in freed memory. The
/// buffer is allocated once, at its full size, and never moves.
pub struct WipingBufReader<R> {
    inner: R,
    buf: Zeroizing<Box<[u8]>>,
    pos: usize,
    filled: usize,
}

impl<R> WipingBufReader<R> {
    /// Buffer `inner` through `capacity` bytes (at least 1).
    pub fn with_capacity(capacity: usize, inner: R) -> Self {
        WipingBufReader {
            inner,
            buf: Zeroizing::new(vec![0u8; capacity.max(1)].into_boxed_slice()),
            pos: 0,
            filled: 0,
        }
    }

    /// The reader underneath.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }
}

impl<R: std::io::Read> std::io::Read for WipingBufReader<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        // A read at least as large as the buffer skips it, as BufReader does.
        if self.pos == self.filled && out.len() >= self.buf.len() {
            return self.inner.read(out);
        }
        let n = {
            let have = std::io::BufRead::fill_buf(self)?;
            let n = have.len().min(out.len());
            if let (Some(dst), Some(src)) = (out.get_mut(..n), have.get(..n)) {
                dst.copy_from_slice(src);
            }
            n
        };
        std::io::BufRead::consume(self, n);
        Ok(n)
    }
}

impl<R: std::io::Read> std::io::BufRead for WipingBufReader<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos >= self.filled {
            self.filled = self.inner.read(&mut self.buf)?;
            self.pos = 0;
        }
        Ok(self.buf.get(self.pos..self.filled).unwrap_or_default())
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.filled);
    }
}

impl<R: std::io::Seek> std::io::Seek for WipingBufReader<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        let buffered = (self.filled - self.pos) as i64;
        let result = match pos {
            // The inner position is ahead of ours by what is still buffered.
            std::io::SeekFrom::Current(n) => {
                self.inner.seek(std::io::SeekFrom::Current(n - buffered))?
            }
            other => self.inner.seek(other)?,
        };
        self.pos = 0;
        self.filled = 0;
        Ok(result)
    }
}

impl<R> fmt::Debug for WipingBufReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WipingBufReader(<redacted>)")
    }
}

/// A growable byte buffer for secret text (a session re-serialized for `--pretty`, say) that
/// wipes every allocation it leaves: a `Zeroizing<Vec<u8>>` wipes only its last one, and each
/// time a `Vec` grows, the bytes it held stay behind in freed memory.
#[derive(Default)]
pub struct SecretBuf(Zeroizing<Vec<u8>>);

impl SecretBuf {
    /// An empty buffer with room for `capacity` bytes before its first move.
    pub fn with_capacity(capacity: usize) -> Self {
        SecretBuf(Zeroizing::new(Vec::with_capacity(capacity)))
    }

    /// Empty it (the bytes are wiped; the allocation is kept).
    pub fn clear(&mut self) {
        self.0.zeroize();
    }

    /// The bytes written so far.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::io::Write for SecretBuf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let need = self.0.len().saturating_add(data.len());
        if need > self.0.capacity() {
            // Move into a larger allocation ourselves, so that the old one is wiped on drop.
            let mut bigger = Zeroizing::new(Vec::with_capacity(need.max(self.0.capacity() * 2)));
            bigger.extend_from_slice(&self.0);
            self.0 = bigger;
        }
        self.0.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for SecretBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secret_bytes() {
        let p = Passphrase::new("hunter2-correct-horse".into());
        assert!(!format!("{p:?}").contains("hunter2"));
        let mut raw = [0x41u8; 32];
        let k = SecretBytes::from_array(&mut raw);
        assert_eq!(raw, [0u8; 32], "caller's copy is wiped");
        let dbg = format!("{k:?}");
        assert!(!dbg.contains("65") && !dbg.contains('A'), "{dbg}");
        let s = SecretString::new("AQAAAABsecret-session-key".into());
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(s, s.clone());
        assert_ne!(s, SecretString::new("AQAAAABother".into()));
    }

    #[test]
    fn latin1_only_when_it_differs_and_exists() {
        assert!(Passphrase::new("plain".into()).latin1_bytes().is_none());
        assert_eq!(
            Passphrase::new("café".into()).latin1_bytes().as_deref(),
            Some(&b"caf\xe9".to_vec())
        );
        assert!(Passphrase::new("日本".into()).latin1_bytes().is_none());
    }

    #[test]
    fn wiping_reader_reads_and_seeks_like_bufreader() {
        use std::io::{BufRead, Read, Seek, SeekFrom};
        let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        for cap in [1, 7, 64, 4096, 20_000] {
            let mut r = super::WipingBufReader::with_capacity(cap, std::io::Cursor::new(&data));
            let mut head = [0u8; 100];
            r.read_exact(&mut head).unwrap();
            assert_eq!(head[..], data[..100]);
            // Relative seeks count from what was consumed, not from what was buffered.
            assert_eq!(r.seek(SeekFrom::Current(-50)).unwrap(), 50);
            let mut line = Vec::new();
            r.read_until(255, &mut line).unwrap();
            assert_eq!(line, data[50..256]);
            let mut rest = Vec::new();
            r.read_to_end(&mut rest).unwrap();
            assert_eq!(rest, data[256..], "capacity {cap}");
            assert_eq!(r.seek(SeekFrom::Start(3)).unwrap(), 3);
            let mut all = Vec::new();
            r.read_to_end(&mut all).unwrap();
            assert_eq!(all, data[3..]);
        }
    }

    #[test]
    fn secret_buf_keeps_every_byte_across_growth() {
        use std::io::Write;
        let mut b = super::SecretBuf::with_capacity(3);
        let mut want = Vec::new();
        for i in 0..1000u32 {
            let piece = i.to_string();
            b.write_all(piece.as_bytes()).unwrap();
            want.extend_from_slice(piece.as_bytes());
        }
        assert_eq!(b.expose(), want);
        assert_eq!(format!("{b:?}"), "<redacted>");
        b.clear();
        assert!(b.expose().is_empty());
    }
}
