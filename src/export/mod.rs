//! Room-key export files (spec "Key exports"): inspect, decrypt, encrypt, re-encrypt.
//!
//! Everything streams, so a 500 MB export needs a few MB of memory:
//!
//! * [`open`] makes one pass over the file: it reads the header, refuses a wrong version or an
//!   absurd round count before deriving anything, derives the keys, and checks the HMAC over the
//!   whole file in constant time. Nothing is decrypted yet.
//! * [`Verified::into_plaintext`] rewinds and makes the second pass, a [`Read`] of the plaintext.
//!   It recomputes the HMAC and fails at the end if the file changed between the passes, so a
//!   caller that writes into a temporary file and keeps it only on success never keeps
//!   unauthenticated bytes.
//! * [`ExportWriter`] encrypts a stream into armored text.
//!
//! [`decrypt`], [`decrypt_raw`] and [`encrypt`] are in-memory conveniences over the same code.
//!
//! # The counter
//!
//! Element Web reads and writes with a 64-bit AES-CTR counter (WebCrypto `length: 64`: the low
//! half of the IV counts and wraps, the high half stays), Go and PyCryptodome with a 128-bit one
//! (see `container.rs`). The two readings differ only when the low 64 bits of the IV overflow
//! within the file ([`Header::counter_overflows`]), which needs bit 63 of the IV set and a file
//! reaching past the wrap: Element's own test vector with an IV of sixteen `0xff` bytes is one.
//! For such a file [`Verified::into_plaintext_expecting`] decrypts the 64-bit reading first, then
//! if need be the 128-bit one, each as an extra pass over the source (so memory stays bounded),
//! and keeps the one whose plaintext is what was expected ([`Expect`]). The HMAC cannot decide:
//! it covers the ciphertext, which both readings share. [`PlaintextReader::counter`] says which
//! was kept. Every other file decrypts in one pass, as both readings are the same bytes.
//!
//! Writing, [`ExportWriter::new`] clears bit 63 of the IV (spec step 3, as Element, matrix-nio and
//! matrix-rust-sdk do), so the low 64 bits cannot overflow below 2^63 blocks and every reader,
//! whatever its counter, gets the same plaintext. `ExportWriter::with_keys` (crate-internal) takes
//! the header as given; its callers pass one made by [`ExportWriter::new`]'s rules or a test's
//! own.

pub mod armor;
mod compat;
pub(crate) mod container;
mod fingerprint;
mod sealed;

use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};

use hmac::Mac;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::attachment::Counter;
use crate::error::Error;
use crate::kdf::Rounds;
use crate::secret::Passphrase;

pub use armor::{ArmorInfo, ArmorReader, ArmorWriter};
pub use compat::refusals;
pub use container::Header;
pub(crate) use container::{clear_bit63, ExportKeys, HEADER_LEN, MAC_LEN};
pub use fingerprint::{guess_writer, refine_with_plaintext, WriterGuess};
pub use sealed::Sealed;

/// Rounds mxkeys writes by default: what Element Web writes.
pub const DEFAULT_ROUNDS: u32 = 500_000;
/// The spec's minimum ("N should be at least 100,000"); writing fewer earns a warning.
pub const SPEC_MIN_ROUNDS: u32 = 100_000;
// The work limits belong to the key derivation, which every passphrase format shares; exports
// have always offered them here.
pub use crate::kdf::{Limits, DEFAULT_MAX_ROUNDS};

/// Which bytes of the passphrase opened the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PassphraseEncoding {
    /// UTF-8, as the spec and every client but matrix-nio use.
    Utf8,
    /// Latin-1: the file came from matrix-nio, which hands PyCryptodome a `str`, encoded as
    /// Latin-1 rather than UTF-8 (so "café" gives other bytes, and characters outside Latin-1
    /// cannot be used at all).
    Latin1,
}

/// What can be learnt from a file without its passphrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The fixed header (version not checked, so a damaged file can still be shown).
    pub header: Header,
    /// Bytes of ciphertext (the JSON is this long).
    pub ciphertext_len: u64,
    /// The stored HMAC tag.
    pub mac: [u8; MAC_LEN],
    /// How the armor looked.
    pub armor: ArmorInfo,
}

/// Read at most `buf.len()` bytes, stopping only at EOF.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize, Error> {
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..) {
        if rest.is_empty() {
            break;
        }
        match r.read(rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::from_io(e)),
        }
    }
    Ok(got)
}

const MIN_LEN: u64 = (HEADER_LEN + MAC_LEN) as u64;
const CHUNK: usize = 64 * 1024;

/// One pass over the decoded bytes: the header, then every byte of ciphertext handed to `body`,
/// then the tag. `after_header` runs once the header has been read and at least `MAC_LEN` more
/// bytes exist, i.e. once the file is known to be long enough, and before the body is read.
fn scan<R: BufRead, T>(
    src: R,
    after_header: impl FnOnce(&Header, &[u8; HEADER_LEN]) -> Result<T, Error>,
    mut body: impl FnMut(&mut T, &[u8]),
) -> Result<(T, Header, u64, [u8; MAC_LEN], ArmorInfo), Error> {
    let mut reader = ArmorReader::new(src);
    let mut head = [0u8; HEADER_LEN];
    let got = read_full(&mut reader, &mut head)?;
    // Window: up to CHUNK bytes of ciphertext followed by MAC_LEN held back as a candidate tag.
    let mut window = vec![0u8; CHUNK + MAC_LEN];
    let mut held = if got == HEADER_LEN {
        read_full(&mut reader, window.get_mut(..MAC_LEN).unwrap_or_default())?
    } else {
        0
    };
    if got < HEADER_LEN || held < MAC_LEN {
        // Drain so the length reported is the real one.
        let rest = io::copy(&mut reader, &mut io::sink()).map_err(Error::from_io)?;
        return Err(Error::ExportTooShort {
            len: (got + held) as u64 + rest,
            min: MIN_LEN,
        });
    }
    let header = Header::parse(&head);
    let mut state = after_header(&header, &head)?;
    let mut ct_len = 0u64;
    loop {
        let n = match window.get_mut(held..) {
            Some(free) => read_full(&mut reader, free)?,
            None => 0,
        };
        if n == 0 {
            break;
        }
        held += n;
        let ready = held - MAC_LEN;
        if let Some(ct) = window.get(..ready) {
            body(&mut state, ct);
        }
        window.copy_within(ready..held, 0);
        held = MAC_LEN;
        ct_len += ready as u64;
    }
    let mut tag = [0u8; MAC_LEN];
    if let Some(t) = window.get(..MAC_LEN) {
        tag.copy_from_slice(t);
    }
    Ok((state, header, ct_len, tag, reader.info().clone()))
}

/// Look at a file without its passphrase.
///
/// # Errors
/// Armor errors and [`Error::ExportTooShort`]; never a version or rounds error (they are shown).
pub fn inspect<R: BufRead>(src: R) -> Result<Inspection, Error> {
    let ((), header, ciphertext_len, mac, armor) = scan(src, |_, _| Ok(()), |_, _| {})?;
    Ok(Inspection {
        header,
        ciphertext_len,
        mac,
        armor,
    })
}

/// An export whose HMAC has been checked; [`Verified::into_plaintext`] decrypts it.
pub struct Verified<R> {
    src: R,
    start: u64,
    header: Header,
    keys: ExportKeys,
    ciphertext_len: u64,
    armor: ArmorInfo,
    encoding: PassphraseEncoding,
}

impl<R> std::fmt::Debug for Verified<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified")
            .field("header", &self.header)
            .field("ciphertext_len", &self.ciphertext_len)
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

/// Check the passphrase against the file: header checks, key derivation, then the HMAC over the
/// whole file in constant time. Nothing is decrypted.
///
/// When the UTF-8 bytes of the passphrase fail and its Latin-1 bytes differ, those are tried too
/// (matrix-nio's bug); [`Verified::passphrase_encoding`] says which worked.
///
/// # Errors
/// Armor, length, version and rounds errors (before any derivation), then [`Error::ExportMac`].
pub fn open<R: BufRead + Seek>(
    mut src: R,
    pass: &Passphrase,
    limits: &Limits,
) -> Result<Verified<R>, Error> {
    let start = src.stream_position().map_err(Error::from_io)?;
    let attempt = |src: &mut R, password: &[u8]| {
        src.seek(SeekFrom::Start(start)).map_err(Error::from_io)?;
        let derive = |h: &Header, head: &[u8; HEADER_LEN]| {
            let rounds = h.check(limits)?;
            let keys = ExportKeys::derive(password, &h.salt, rounds);
            let mut mac = keys.hmac();
            mac.update(head);
            Ok((keys, mac))
        };
        let ((keys, mac), header, ct_len, tag, armor) =
            scan(&mut *src, derive, |(_, mac), ct| mac.update(ct))?;
        let ok = mac.verify_slice(&tag).is_ok();
        Ok::<_, Error>((ok, keys, header, ct_len, armor))
    };
    let (mut ok, mut keys, header, ciphertext_len, armor) =
        attempt(&mut src, pass.expose().as_bytes())?;
    let mut encoding = PassphraseEncoding::Utf8;
    if !ok {
        if let Some(latin1) = pass.latin1_bytes() {
            let (ok2, keys2, ..) = attempt(&mut src, &latin1)?;
            (ok, keys, encoding) = (ok2, keys2, PassphraseEncoding::Latin1);
        }
    }
    if !ok {
        return Err(Error::ExportMac);
    }
    Ok(Verified {
        src,
        start,
        header,
        keys,
        ciphertext_len,
        armor,
        encoding,
    })
}

impl<R: BufRead + Seek> Verified<R> {
    /// The file's header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Length of the plaintext in bytes.
    pub fn plaintext_len(&self) -> u64 {
        self.ciphertext_len
    }

    /// How the armor looked.
    pub fn armor(&self) -> &ArmorInfo {
        &self.armor
    }

    /// Which passphrase bytes opened the file.
    pub fn passphrase_encoding(&self) -> PassphraseEncoding {
        self.encoding
    }

    /// Whether the low 64 bits of the IV overflow within this file, so that a 64-bit and a
    /// 128-bit counter read it differently (see [the module docs](self#the-counter)).
    pub fn counter_overflows(&self) -> bool {
        self.header.counter_overflows(self.ciphertext_len)
    }

    /// Another pass over the plaintext, keeping the file and its derived keys for more passes
    /// (a merge reads its inputs two or three times, deriving each key once). As
    /// [`Verified::into_plaintext`]: the returned reader checks the MAC again at its end.
    ///
    /// # Errors
    /// As [`Verified::into_plaintext`].
    pub fn plaintext(&mut self) -> Result<PlaintextReader<&mut R>, Error> {
        Verified {
            src: &mut self.src,
            start: self.start,
            header: self.header,
            keys: ExportKeys {
                aes: self.keys.aes.clone(),
                mac: self.keys.mac.clone(),
            },
            ciphertext_len: self.ciphertext_len,
            armor: self.armor.clone(),
            encoding: self.encoding,
        }
        .into_plaintext()
    }

    /// Rewind and stream the plaintext, which is expected to be a JSON array of sessions:
    /// [`Verified::into_plaintext_expecting`] with [`Expect::Sessions`].
    ///
    /// # Errors
    /// As [`Verified::into_plaintext_expecting`].
    pub fn into_plaintext(self) -> Result<PlaintextReader<R>, Error> {
        self.into_plaintext_expecting(Expect::Sessions)
    }

    /// Rewind and stream the plaintext.
    ///
    /// `expect` matters only when the counter overflows ([`Verified::counter_overflows`]): the
    /// 64-bit reading (Element's) is decrypted and checked in a pass of its own, then if it is not
    /// what `expect` says the 128-bit one, and the first that is becomes the returned reader. If
    /// neither is, the 64-bit reading is returned and [`PlaintextReader::counter`] says so.
    ///
    /// # Errors
    /// Seeking or reading the source; [`Error::ExportChanged`] if the file changed since
    /// [`open`] checked it. Reading the returned [`PlaintextReader`] fails with
    /// [`Error::ExportChanged`] (inside an `io::Error`, see [`Error::from_io`]) if it changed
    /// meanwhile.
    pub fn into_plaintext_expecting(self, expect: Expect) -> Result<PlaintextReader<R>, Error> {
        let overflows = self.counter_overflows();
        let Verified {
            mut src,
            start,
            header,
            keys,
            ciphertext_len,
            ..
        } = self;
        let pass = Pass {
            start,
            header: &header,
            keys: &keys,
            ciphertext_len,
        };
        if !overflows {
            // Both readings are the same bytes: the 128-bit counter, as always.
            return pass.reader(src, Counter::Full128, CounterReading::Agreed);
        }
        let mut reading = CounterReading::Neither;
        for (counter, found) in [
            (Counter::Wrap64, CounterReading::Wrap64),
            (Counter::Full128, CounterReading::Full128),
        ] {
            if expect.is_met_by(pass.reader(&mut src, counter, found)?)? {
                reading = found;
                break;
            }
        }
        let counter = match reading {
            CounterReading::Full128 => Counter::Full128,
            _ => Counter::Wrap64,
        };
        pass.reader(src, counter, reading)
    }
}

/// What a pass of decryption over a verified file needs.
struct Pass<'a> {
    start: u64,
    header: &'a Header,
    keys: &'a ExportKeys,
    ciphertext_len: u64,
}

impl Pass<'_> {
    /// Seek to the start, check the header is unchanged and begin decrypting with `counter`.
    fn reader<S: BufRead + Seek>(
        &self,
        mut src: S,
        counter: Counter,
        reading: CounterReading,
    ) -> Result<PlaintextReader<S>, Error> {
        src.seek(SeekFrom::Start(self.start))
            .map_err(Error::from_io)?;
        let mut armor = ArmorReader::new(src);
        let mut head = [0u8; HEADER_LEN];
        if read_full(&mut armor, &mut head)? != HEADER_LEN || head != self.header.to_bytes() {
            return Err(Error::ExportChanged);
        }
        let mut mac = self.keys.hmac();
        mac.update(&head);
        Ok(PlaintextReader {
            cipher: self.keys.cipher_with(&self.header.iv, counter),
            armor,
            mac,
            remaining: self.ciphertext_len,
            finished: false,
            reading,
        })
    }
}

/// What the plaintext of an export is expected to be. It decides between the two readings of a
/// file whose counter overflows; nothing else is checked here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A JSON array of session objects, what every client exports (the check [`decrypt`] makes).
    Sessions,
    /// UTF-8 text of any kind (Element's own test vectors hold short strings).
    Utf8,
}

impl Expect {
    /// Read `plain` to its end (which checks the HMAC again) and say whether it is expected.
    fn is_met_by<R: BufRead>(self, mut plain: PlaintextReader<R>) -> Result<bool, Error> {
        let checked = match self {
            Expect::Sessions => {
                crate::session::scan(&mut plain, "decrypted export", |_| Ok(())).map(|_| ())
            }
            Expect::Utf8 => {
                let mut text = crate::session::Utf8Checked::new(&mut plain, "decrypted export");
                let mut buf = Zeroizing::new(vec![0u8; CHUNK]);
                loop {
                    match text.read(&mut buf) {
                        Ok(0) => break Ok(()),
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(Error::from_io(e)),
                    }
                }
            }
        };
        match checked {
            Ok(()) => Ok(true),
            Err(Error::Json { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Which AES-CTR counter gave the plaintext (see [the module docs](self#the-counter)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CounterReading {
    /// The low 64 bits of the IV do not overflow within the file, so a 64-bit and a 128-bit
    /// counter give the same bytes: every file written with bit 63 of the IV clear.
    Agreed,
    /// They overflow, and a 64-bit counter that wraps within the low half of the IV (Element,
    /// WebCrypto `length: 64`) gave the expected plaintext.
    Wrap64,
    /// They overflow, the 64-bit reading was not the expected plaintext and a 128-bit counter
    /// (Go, PyCryptodome) gave it.
    Full128,
    /// They overflow and neither reading is the expected plaintext; the 64-bit one is given.
    Neither,
}

/// The plaintext of a verified export, decrypted as it is read.
pub struct PlaintextReader<R> {
    armor: ArmorReader<R>,
    cipher: crate::attachment::Cipher,
    mac: container::HmacSha256,
    remaining: u64,
    finished: bool,
    reading: CounterReading,
}

impl<R> PlaintextReader<R> {
    /// Which counter decrypts this file.
    pub fn counter(&self) -> CounterReading {
        self.reading
    }
}

impl<R: BufRead> PlaintextReader<R> {
    fn finish(&mut self) -> Result<(), Error> {
        let mut tag = [0u8; MAC_LEN + 1];
        let n = read_full(&mut self.armor, &mut tag)?;
        let mac = std::mem::replace(&mut self.mac, container::hmac_sha256(&[0; 32]));
        match tag.get(..n) {
            Some(t) if n == MAC_LEN && mac.verify_slice(t).is_ok() => Ok(()),
            _ => Err(Error::ExportChanged),
        }
    }
}

impl<R: BufRead> Read for PlaintextReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            if !self.finished {
                self.finish().map_err(Error::into_io)?;
                self.finished = true;
            }
            return Ok(0);
        }
        let want = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let Some(dst) = buf.get_mut(..want) else {
            return Ok(0);
        };
        let n = self.armor.read(dst)?;
        if n == 0 {
            return Err(Error::ExportChanged.into_io());
        }
        if let Some(ct) = dst.get_mut(..n) {
            self.mac.update(ct);
            self.cipher.apply(ct);
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Keys derived once for several exports with the same passphrase, salt and rounds (the parts
/// of `export split`); each export still gets its own IV ([`ExportWriter::with_derived`]).
pub struct DerivedKeys {
    keys: ExportKeys,
    salt: [u8; 16],
    rounds: Rounds,
}

impl std::fmt::Debug for DerivedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DerivedKeys")
            .field("rounds", &self.rounds.get())
            .finish_non_exhaustive()
    }
}

impl DerivedKeys {
    /// Derive the keys of `pass` with `salt` and `rounds`.
    ///
    /// # Errors
    /// [`Error::EmptyPassphrase`].
    pub fn derive(pass: &Passphrase, rounds: Rounds, salt: [u8; 16]) -> Result<Self, Error> {
        if pass.is_empty() {
            return Err(Error::EmptyPassphrase);
        }
        Ok(DerivedKeys {
            keys: ExportKeys::derive(pass.expose().as_bytes(), &salt, rounds),
            salt,
            rounds,
        })
    }
}

/// The size of the export [`ExportWriter`] writes for `plaintext_len` bytes of plaintext: the
/// BEGIN line, the header, plaintext and MAC in base64 lines, the END line.
pub fn armored_len(plaintext_len: u64) -> u64 {
    let bytes = HEADER_LEN as u64 + plaintext_len + MAC_LEN as u64;
    let line = armor::WRITE_LINE_BYTES as u64;
    let (full, rest) = (bytes / line, bytes % line);
    let last = if rest == 0 {
        0
    } else {
        rest.div_ceil(3) * 4 + 1
    };
    (armor::BEGIN.len() as u64 + 1)
        + full * (armor::WRITE_LINE_WIDTH as u64 + 1)
        + last
        + (armor::END.len() as u64 + 1)
}

/// Encrypts a stream of plaintext into an armored export.
pub struct ExportWriter<W: Write> {
    armor: ArmorWriter<W>,
    cipher: container::Aes256Ctr,
    mac: container::HmacSha256,
    buf: Zeroizing<Vec<u8>>,
}

/// Fresh randomness for one export: the PBKDF2 salt and the IV (bit 63 is cleared here).
#[derive(Clone, Copy)]
pub struct Nonces {
    /// PBKDF2 salt.
    pub salt: [u8; 16],
    /// IV before bit 63 is cleared.
    pub iv: [u8; 16],
}

impl<W: Write> ExportWriter<W> {
    /// Derive the keys and write the BEGIN line and the header.
    ///
    /// # Errors
    /// [`Error::EmptyPassphrase`]; errors from `out`.
    pub fn new(out: W, pass: &Passphrase, rounds: Rounds, nonces: Nonces) -> Result<Self, Error> {
        if pass.is_empty() {
            return Err(Error::EmptyPassphrase);
        }
        let header = Header {
            version: container::VERSION,
            salt: nonces.salt,
            iv: clear_bit63(nonces.iv),
            rounds: rounds.get(),
        };
        let keys = ExportKeys::derive(pass.expose().as_bytes(), &header.salt, rounds);
        Ok(Self::with_keys(out, &keys, &header)?)
    }

    /// Start an export with keys derived by [`DerivedKeys::derive`] and a fresh `iv` (bit 63 is
    /// cleared here, as in [`ExportWriter::new`]).
    ///
    /// # Errors
    /// Errors from `out`.
    pub fn with_derived(out: W, keys: &DerivedKeys, iv: [u8; 16]) -> io::Result<Self> {
        let header = Header {
            version: container::VERSION,
            salt: keys.salt,
            iv: clear_bit63(iv),
            rounds: keys.rounds.get(),
        };
        Self::with_keys(out, &keys.keys, &header)
    }

    /// Start an export with keys that were already derived (re-encryption with several outputs,
    /// benchmarks).
    ///
    /// # Errors
    /// Errors from `out`.
    pub(crate) fn with_keys(out: W, keys: &ExportKeys, header: &Header) -> io::Result<Self> {
        let mut armor = ArmorWriter::new(out)?;
        let head = header.to_bytes();
        armor.write_all(&head)?;
        let mut mac = keys.hmac();
        mac.update(&head);
        Ok(ExportWriter {
            armor,
            cipher: keys.cipher(&header.iv),
            mac,
            buf: Zeroizing::new(Vec::with_capacity(CHUNK)),
        })
    }

    /// Write the MAC and the END line; give back the inner writer.
    ///
    /// # Errors
    /// Errors from the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        let tag = self.mac.finalize().into_bytes();
        self.armor.write_all(&tag)?;
        self.armor.finish()
    }
}

impl<W: Write> Write for ExportWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        for chunk in data.chunks(CHUNK) {
            self.buf.clear();
            self.buf.extend_from_slice(chunk);
            container::apply(&mut self.cipher, &mut self.buf);
            self.mac.update(&self.buf);
            self.armor.write_all(&self.buf)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.armor.flush()
    }
}

/// A decrypted export, in memory.
#[derive(Debug)]
pub struct Decrypted {
    /// The JSON text exactly as the exporting client wrote it.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// Which passphrase bytes opened it.
    pub encoding: PassphraseEncoding,
    /// The file's header.
    pub header: Header,
    /// Which counter decrypted it.
    pub counter: CounterReading,
}

impl Decrypted {
    /// Hand each session of the plaintext to `f`, in order, one at a time; the number of
    /// sessions.
    ///
    /// # Errors
    /// [`Error::Json`] when the plaintext is not a JSON array of session objects (as from
    /// [`decrypt_raw`]); `f`'s own error, unchanged.
    pub fn for_each_session(
        &self,
        f: impl FnMut(crate::session::SessionRecord) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        crate::session::for_each(&self.plaintext[..], "decrypted export", f)
    }

    /// Every session of the plaintext, in order.
    ///
    /// # Errors
    /// As [`Decrypted::for_each_session`].
    pub fn sessions(&self) -> Result<Vec<crate::session::SessionRecord>, Error> {
        let mut out = Vec::new();
        self.for_each_session(|s| {
            out.push(s);
            Ok(())
        })?;
        Ok(out)
    }
}

/// Decrypt an export held in memory and check that it holds a JSON array of objects.
///
/// # Errors
/// As [`open`], then [`Error::Json`].
pub fn decrypt(text: &[u8], pass: &Passphrase, limits: &Limits) -> Result<Decrypted, Error> {
    let d = decrypt_expecting(text, pass, limits, Expect::Sessions)?;
    crate::session::scan(&d.plaintext[..], "decrypted export", |_| Ok(()))?;
    Ok(d)
}

/// Decrypt an export held in memory and give its plaintext as it is, whatever it holds (Element's
/// own test vectors hold short strings). Where the counter overflows, the reading that is UTF-8
/// is preferred ([`Expect::Utf8`]).
///
/// # Errors
/// As [`open`].
pub fn decrypt_raw(text: &[u8], pass: &Passphrase, limits: &Limits) -> Result<Decrypted, Error> {
    decrypt_expecting(text, pass, limits, Expect::Utf8)
}

fn decrypt_expecting(
    text: &[u8],
    pass: &Passphrase,
    limits: &Limits,
    expect: Expect,
) -> Result<Decrypted, Error> {
    let verified = open(io::Cursor::new(text), pass, limits)?;
    let header = *verified.header();
    let encoding = verified.passphrase_encoding();
    let cap = usize::try_from(verified.plaintext_len()).unwrap_or(0);
    let mut plaintext = Zeroizing::new(Vec::with_capacity(cap));
    let mut reader = verified.into_plaintext_expecting(expect)?;
    let counter = reader.counter();
    reader.read_to_end(&mut plaintext).map_err(Error::from_io)?;
    Ok(Decrypted {
        plaintext,
        encoding,
        header,
        counter,
    })
}

/// Encrypt `plaintext` (a JSON array of sessions; checked) into an armored export.
///
/// # Errors
/// [`Error::Json`] when `plaintext` is not a JSON array of objects, [`Error::EmptyPassphrase`].
pub fn encrypt(
    plaintext: &[u8],
    pass: &Passphrase,
    rounds: Rounds,
    nonces: Nonces,
) -> Result<String, Error> {
    crate::session::scan(plaintext, "input", |_| Ok(()))?;
    let mut w = ExportWriter::new(Vec::new(), pass, rounds, nonces)?;
    w.write_all(plaintext).map_err(Error::from_io)?;
    let out = w.finish().map_err(Error::from_io)?;
    // The armor writer emits only ASCII.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSIONS: &[u8] = br#"[{"room_id":"!a:x","session_id":"s","x":{"y":[1,2.50]}}]"#;

    fn pass(s: &str) -> Passphrase {
        Passphrase::new(s.into())
    }

    fn nonces() -> Nonces {
        Nonces {
            salt: [3; 16],
            iv: [0xff; 16],
        }
    }

    fn small() -> Rounds {
        Rounds::new(10, 10).unwrap()
    }

    #[test]
    fn encrypt_then_decrypt_gives_the_same_bytes() {
        let text = encrypt(SESSIONS, &pass("p"), small(), nonces()).unwrap();
        let d = decrypt(text.as_bytes(), &pass("p"), &Limits::default()).unwrap();
        assert_eq!(&d.plaintext[..], SESSIONS);
        assert_eq!(d.encoding, PassphraseEncoding::Utf8);
        assert!(d.header.iv_bit63_clear());
        let sessions = d.sessions().unwrap();
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].room_id.as_deref(), Some("!a:x"));
        assert_eq!(serde_json::to_vec(&sessions).unwrap(), SESSIONS);
        let i = inspect(text.as_bytes()).unwrap();
        assert_eq!(i.ciphertext_len, SESSIONS.len() as u64);
        assert_eq!(i.header.rounds, 10);
    }

    #[test]
    fn wrong_passphrase_and_every_flipped_byte_fail_the_mac() {
        let text = encrypt(SESSIONS, &pass("p"), small(), nonces()).unwrap();
        assert!(matches!(
            decrypt(text.as_bytes(), &pass("q"), &Limits::default()),
            Err(Error::ExportMac)
        ));
        let raw = crate::encoding::decode_lenient(
            &text
                .lines()
                .filter(|l| !l.starts_with("---"))
                .collect::<String>(),
        )
        .unwrap();
        for i in 1..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            let mut w = ArmorWriter::new(Vec::new()).unwrap();
            w.write_all(&bad).unwrap();
            let t = w.finish().unwrap();
            let got = decrypt(
                &t,
                &pass("p"),
                &Limits {
                    max_rounds: 1 << 20,
                },
            );
            // The high byte of the rounds field jumps past the limit instead.
            let expected = if i == 33 {
                crate::ErrorKind::Rounds
            } else {
                crate::ErrorKind::Mac
            };
            assert_eq!(got.err().map(|e| e.kind()), Some(expected), "byte {i}");
        }
    }

    #[test]
    fn bounds_are_checked_before_deriving() {
        let mut w = ArmorWriter::new(Vec::new()).unwrap();
        let mut head = Header {
            version: 1,
            salt: [0; 16],
            iv: [0; 16],
            rounds: u32::MAX,
        }
        .to_bytes()
        .to_vec();
        head.extend_from_slice(&[0; 40]);
        w.write_all(&head).unwrap();
        let t = w.finish().unwrap();
        // Would take hours if derived.
        assert!(matches!(
            decrypt(&t, &pass("p"), &Limits::default()),
            Err(Error::RoundsTooHigh {
                rounds: u32::MAX,
                ..
            })
        ));
        let mut w = ArmorWriter::new(Vec::new()).unwrap();
        w.write_all(&head[..60]).unwrap();
        let t = w.finish().unwrap();
        assert!(matches!(
            decrypt(&t, &pass("p"), &Limits::default()),
            Err(Error::ExportTooShort { len: 60, min: 69 })
        ));
    }

    #[test]
    fn latin1_fallback_opens_nio_style_files() {
        // Encrypt with the Latin-1 bytes, as matrix-nio does.
        let salt = [5u8; 16];
        let header = Header {
            version: 1,
            salt,
            iv: [0; 16],
            rounds: 10,
        };
        let keys = ExportKeys::derive(b"caf\xe9", &salt, small());
        let mut w = ExportWriter::with_keys(Vec::new(), &keys, &header).unwrap();
        w.write_all(SESSIONS).unwrap();
        let t = w.finish().unwrap();
        let d = decrypt(&t, &pass("café"), &Limits::default()).unwrap();
        assert_eq!(d.encoding, PassphraseEncoding::Latin1);
        assert_eq!(&d.plaintext[..], SESSIONS);
    }

    /// An export of `plain` whose ciphertext was made with `ctr::Ctr64BE` (`wrap64`, Element) or
    /// `ctr::Ctr128BE` (Go, PyCryptodome), passphrase "p".
    fn sealed_with(plain: &[u8], iv: [u8; 16], wrap64: bool) -> Vec<u8> {
        use aes::cipher::{KeyIvInit, StreamCipher};
        let header = Header {
            version: 1,
            salt: [5; 16],
            iv,
            rounds: 10,
        };
        let keys = ExportKeys::derive(b"p", &header.salt, small());
        let mut ct = plain.to_vec();
        let key = keys.aes.expose().into();
        if wrap64 {
            ctr::Ctr64BE::<aes::Aes256>::new(key, (&iv).into()).apply_keystream(&mut ct);
        } else {
            ctr::Ctr128BE::<aes::Aes256>::new(key, (&iv).into()).apply_keystream(&mut ct);
        }
        let mut body = header.to_bytes().to_vec();
        body.extend_from_slice(&ct);
        let mut mac = keys.hmac();
        mac.update(&body);
        body.extend_from_slice(&mac.finalize().into_bytes());
        let mut w = ArmorWriter::new(Vec::new()).unwrap();
        w.write_all(&body).unwrap();
        w.finish().unwrap()
    }

    /// An IV whose low 64 bits are `low`, high half 0xab.. (bit 63 of `low` decides the rest).
    fn iv_low(low: u64) -> [u8; 16] {
        let mut iv = [0xab; 16];
        iv[8..].copy_from_slice(&low.to_be_bytes());
        iv
    }

    #[test]
    fn both_counters_decrypt_where_the_low_64_bits_overflow() {
        const TEXT: &[u8] = b"alphanumericallyalphanumericallyalphanumericallyalphanumerically";
        // SESSIONS is 4 blocks, TEXT 4: with two blocks left before the wrap, blocks 3 and 4
        // differ between the conventions.
        let iv = iv_low(u64::MAX - 1);
        for (plain, raw) in [(SESSIONS, false), (TEXT, true)] {
            let w64 = sealed_with(plain, iv, true);
            let f128 = sealed_with(plain, iv, false);
            assert_ne!(w64, f128, "the two conventions must give different files");
            for (file, want) in [
                (&w64, CounterReading::Wrap64),
                (&f128, CounterReading::Full128),
            ] {
                let d = if raw {
                    decrypt_raw(file, &pass("p"), &Limits::default()).unwrap()
                } else {
                    decrypt(file, &pass("p"), &Limits::default()).unwrap()
                };
                assert_eq!(&d.plaintext[..], plain, "{want:?}");
                assert_eq!(d.counter, want);
                // The streaming reader agrees, and says the same.
                let v = open(io::Cursor::new(&file[..]), &pass("p"), &Limits::default()).unwrap();
                assert!(v.counter_overflows());
                let expect = if raw { Expect::Utf8 } else { Expect::Sessions };
                let mut r = v.into_plaintext_expecting(expect).unwrap();
                assert_eq!(r.counter(), want);
                let mut got = Vec::new();
                r.read_to_end(&mut got).unwrap();
                assert_eq!(got, plain);
            }
        }
    }

    #[test]
    fn without_an_overflow_the_counters_agree_and_one_pass_decrypts() {
        // Four blocks from u64::MAX - 3: the last one is u64::MAX itself, no wrap.
        let iv = iv_low(u64::MAX - 3);
        let file = sealed_with(SESSIONS, iv, true);
        assert_eq!(file, sealed_with(SESSIONS, iv, false));
        let d = decrypt(&file, &pass("p"), &Limits::default()).unwrap();
        assert_eq!(&d.plaintext[..], SESSIONS);
        assert_eq!(d.counter, CounterReading::Agreed);
    }

    #[test]
    fn when_neither_reading_is_expected_the_64_bit_one_is_given() {
        let plain = [0xffu8; 40]; // not UTF-8 in either reading
        let iv = iv_low(u64::MAX);
        let file = sealed_with(&plain, iv, false);
        let d = decrypt_raw(&file, &pass("p"), &Limits::default()).unwrap();
        assert_eq!(d.counter, CounterReading::Neither);
        assert_eq!(
            &d.plaintext[..16],
            &plain[..16],
            "the first block is shared"
        );
        assert_ne!(
            &d.plaintext[16..],
            &plain[16..],
            "the rest is the 64-bit reading"
        );
        assert_eq!(
            decrypt(&file, &pass("p"), &Limits::default())
                .unwrap_err()
                .kind(),
            crate::ErrorKind::Json
        );
    }

    #[test]
    fn the_writer_clears_bit_63_so_no_counter_overflows() {
        let text = encrypt(SESSIONS, &pass("p"), small(), nonces()).unwrap();
        let i = inspect(text.as_bytes()).unwrap();
        assert_eq!(i.header.iv[8], 0x7f);
        assert!(!i.header.counter_overflows(u64::MAX));
        let d = decrypt(text.as_bytes(), &pass("p"), &Limits::default()).unwrap();
        assert_eq!(d.counter, CounterReading::Agreed);
    }

    #[test]
    fn not_json_is_refused() {
        assert!(matches!(
            encrypt(b"{\"a\":1}", &pass("p"), small(), nonces()),
            Err(Error::Json { .. })
        ));
        assert!(matches!(
            encrypt(SESSIONS, &pass(""), small(), nonces()),
            Err(Error::EmptyPassphrase)
        ));
    }
}
