//! Hash lines: a passphrase target as one short line for hashcat and John the Ripper, so that a
//! search too large for one machine runs on GPUs and clusters (`hashcat/README.md` documents the
//! layouts and the modules that read them).
//!
//! # Layouts (version 1)
//! Fields are separated by `$`; binary fields are lowercase hex.
//!
//! - **Key export:** `$mxkeys$1$e$ROUNDS$SALT$IV$HEAD`: the export's PBKDF2 rounds (decimal), its
//!   16-byte salt, its 16-byte IV, and the first [`EXPORT_HEAD`] bytes (three AES blocks) of its
//!   ciphertext. A candidate passes when PBKDF2-HMAC-SHA-512(candidate, SALT, ROUNDS, 64 bytes)
//!   gives an AES-256 key (the first 32 bytes) under which AES-256-CTR from IV decrypts HEAD to
//!   [`plausible_export_head`]: the start of the JSON array every exporting client writes. This
//!   is a known-plaintext check, not the file's HMAC (which covers the whole file): a hit must be
//!   confirmed (`mxkeys passphrase confirm`). Its false-positive rate per wrong candidate is at
//!   most 2^-65.8 (see [`plausible_export_head`]).
//! - **Security Phrase:** `$mxkeys$1$s$ITERATIONS$SALT$IV$MAC`: the key description's PBKDF2
//!   iterations, its salt string's UTF-8 bytes, and its key check (16-byte IV, 32-byte MAC). A
//!   candidate passes when PBKDF2-HMAC-SHA-512(candidate, SALT, ITERATIONS, 32 bytes) is a key
//!   whose HKDF-SHA-256 (zero salt, empty info, 64 bytes: AES key, HMAC key) encrypts 32 zero
//!   bytes with AES-256-CTR from IV to a ciphertext whose HMAC-SHA-256 is MAC: the spec's key
//!   check, exact.
//! - **Legacy passphrase backup keys** have no line: their check is an X25519 public key, which
//!   no hashcat kernel computes. They stay with `mxkeys passphrase search`.
//!
//! A line of another version is refused with its version named ([`HashlineError::Version`]),
//! so that an old module never misreads a new line.
//!
//! # The hashcat side
//! hashcat modules 94100 (exports) and 94110 (Security Phrases), in `hashcat/`, read these lines
//! (`mxkeys_line.h`) and make the same checks on the GPU (`OpenCL/m941x0-pure.cl`); their
//! self-tests are the lines of peer-made vectors. A change of layout changes this module, the
//! header, the kernels and `hashcat/README.md` together, under a new [`VERSION`].

use std::fmt;

use aes::cipher::StreamCipher;
use zeroize::Zeroizing;

use crate::encoding::hex_lower as hex;

use crate::export::{ExportKeys, Sealed};
use crate::kdf::{self, Limits, Rounds};
use crate::search::Target;
use crate::ssss;

/// The layout version this crate writes and reads.
pub const VERSION: u32 = 1;
/// Ciphertext bytes of an export in its line: three AES blocks.
pub const EXPORT_HEAD: usize = 48;
/// The prefix of every line.
pub const PREFIX: &str = "$mxkeys$";

/// Why a target has no line, or a line cannot be read. No message quotes a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashlineError {
    /// Not an mxkeys line at all.
    #[error("not a Matrix key hash line (it does not start with {PREFIX})")]
    NotOurs,
    /// A layout version this crate does not read.
    #[error("hash line version {0} is not supported (this version reads {VERSION}); use the tool that wrote it")]
    Version(String),
    /// A field is missing or malformed.
    #[error("hash line field {field} is malformed: {why}")]
    Field {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        why: String,
    },
    /// The export is too short to hold [`EXPORT_HEAD`] bytes of ciphertext.
    #[error("the export holds {0} bytes of sessions, fewer than the {EXPORT_HEAD} a hash line needs; a passphrase search of the file itself still works")]
    ExportTooShort(usize),
    /// The export's IV is two blocks from the end of its 64-bit counter, where clients disagree
    /// on how the counter wraps.
    #[error("the export's IV is at the edge of its 64-bit counter, where clients count differently; a passphrase search of the file itself still works")]
    CounterEdge,
    /// The key description's check is not a 32-byte MAC, or there is none.
    #[error("the secret-storage key has no usable key check (iv and 32-byte mac); a passphrase search against its secrets still works")]
    NoKeyCheck,
    /// Legacy backups: see the module docs.
    #[error("a legacy backup passphrase has no hash line: its check is an X25519 public key, which no hashcat kernel computes; a passphrase search on the CPU still works")]
    Backup,
}

/// One target as a line.
#[derive(Clone, PartialEq, Eq)]
pub enum Hashline {
    /// A key export.
    Export {
        /// PBKDF2 rounds.
        rounds: u32,
        /// Salt.
        salt: [u8; 16],
        /// AES-CTR IV.
        iv: [u8; 16],
        /// The first [`EXPORT_HEAD`] ciphertext bytes.
        head: [u8; EXPORT_HEAD],
    },
    /// A Security Phrase.
    Ssss {
        /// PBKDF2 iterations.
        iterations: u32,
        /// The salt string's bytes.
        salt: Vec<u8>,
        /// Key-check IV.
        iv: [u8; 16],
        /// Key-check MAC.
        mac: [u8; 32],
    },
}

impl fmt::Debug for Hashline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string())
    }
}

impl fmt::Display for Hashline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hashline::Export {
                rounds,
                salt,
                iv,
                head,
            } => write!(
                f,
                "{PREFIX}{VERSION}$e${rounds}${}${}${}",
                hex(salt),
                hex(iv),
                hex(head)
            ),
            Hashline::Ssss {
                iterations,
                salt,
                iv,
                mac,
            } => write!(
                f,
                "{PREFIX}{VERSION}$s${iterations}${}${}${}",
                hex(salt),
                hex(iv),
                hex(mac)
            ),
        }
    }
}

fn unhex(s: &str, field: &'static str) -> Result<Vec<u8>, HashlineError> {
    let bad = |why: &str| HashlineError::Field {
        field,
        why: why.into(),
    };
    if !s.len().is_multiple_of(2) {
        return Err(bad("odd number of hex digits"));
    }
    crate::encoding::hex_decode(s).ok_or_else(|| bad("not hex"))
}

fn fixed<const N: usize>(s: &str, field: &'static str) -> Result<[u8; N], HashlineError> {
    unhex(s, field)?
        .try_into()
        .map_err(|v: Vec<u8>| HashlineError::Field {
            field,
            why: format!("{} bytes, expected {N}", v.len()),
        })
}

impl Hashline {
    /// The line of a search target.
    ///
    /// # Errors
    /// [`HashlineError::ExportTooShort`], [`HashlineError::CounterEdge`],
    /// [`HashlineError::NoKeyCheck`], [`HashlineError::Backup`].
    pub fn of(target: &Target) -> Result<Self, HashlineError> {
        match target {
            Target::Export(sealed) => Self::of_export(sealed),
            Target::Ssss { desc, info, .. } => {
                let (iv, mac) = desc.check.as_ref().ok_or(HashlineError::NoKeyCheck)?;
                let mac: [u8; 32] = mac
                    .as_slice()
                    .try_into()
                    .map_err(|_| HashlineError::NoKeyCheck)?;
                Ok(Hashline::Ssss {
                    iterations: info.iterations,
                    salt: info.salt.as_bytes().to_vec(),
                    iv: *iv,
                    mac,
                })
            }
            Target::Backup(_) => Err(HashlineError::Backup),
        }
    }

    fn of_export(sealed: &Sealed) -> Result<Self, HashlineError> {
        let h = sealed.header();
        let head: [u8; EXPORT_HEAD] = sealed
            .ciphertext_head(EXPORT_HEAD)
            .try_into()
            .map_err(|_| HashlineError::ExportTooShort(sealed.ciphertext_len()))?;
        let low = u64::from_be_bytes(
            h.iv.get(8..)
                .and_then(|b| b.try_into().ok())
                .unwrap_or_default(),
        );
        if low > u64::MAX - (EXPORT_HEAD as u64 / 16) {
            return Err(HashlineError::CounterEdge);
        }
        Ok(Hashline::Export {
            rounds: h.rounds,
            salt: h.salt,
            iv: h.iv,
            head,
        })
    }

    /// Read a line (surrounding whitespace ignored).
    ///
    /// # Errors
    /// [`HashlineError::NotOurs`], [`HashlineError::Version`], [`HashlineError::Field`].
    pub fn parse(line: &str) -> Result<Self, HashlineError> {
        let rest = line
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(HashlineError::NotOurs)?;
        let mut f = rest.split('$');
        let version = f.next().unwrap_or_default();
        if version != VERSION.to_string() {
            return Err(HashlineError::Version(version.chars().take(12).collect()));
        }
        let mut field = |name: &'static str| {
            f.next().ok_or(HashlineError::Field {
                field: name,
                why: "missing".into(),
            })
        };
        let kind = field("kind")?;
        let number = |s: &str, name: &'static str| {
            s.parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(HashlineError::Field {
                    field: name,
                    why: "not a positive number".into(),
                })
        };
        let line = match kind {
            "e" => Hashline::Export {
                rounds: number(field("rounds")?, "rounds")?,
                salt: fixed(field("salt")?, "salt")?,
                iv: fixed(field("iv")?, "iv")?,
                head: fixed(field("head")?, "head")?,
            },
            "s" => Hashline::Ssss {
                iterations: number(field("iterations")?, "iterations")?,
                salt: unhex(field("salt")?, "salt")?,
                iv: fixed(field("iv")?, "iv")?,
                mac: fixed(field("mac")?, "mac")?,
            },
            _ => {
                return Err(HashlineError::Field {
                    field: "kind",
                    why: "neither e (export) nor s (Security Phrase)".into(),
                })
            }
        };
        if f.next().is_some() {
            return Err(HashlineError::Field {
                field: "end",
                why: "more fields than the layout has".into(),
            });
        }
        Ok(line)
    }

    /// What a hashcat module checks for `candidate` (the password bytes): the export's
    /// known-plaintext test, or the Security Phrase's exact key check. For exports a pass is a
    /// candidate to confirm against the whole file.
    ///
    /// # Errors
    /// Rounds above `limits`.
    pub fn check(&self, candidate: &[u8], limits: &Limits) -> Result<bool, crate::Error> {
        Ok(match self {
            Hashline::Export {
                rounds,
                salt,
                iv,
                head,
            } => {
                let rounds = Rounds::new(*rounds, limits.max_rounds)?;
                let keys = ExportKeys::derive(candidate, salt, rounds);
                let mut plain = Zeroizing::new(*head);
                keys.cipher(iv).apply_keystream(plain.as_mut_slice());
                plausible_export_head(plain.as_slice())
            }
            Hashline::Ssss {
                iterations,
                salt,
                iv,
                mac,
            } => {
                let rounds = Rounds::new(*iterations, limits.max_rounds)?;
                let key = kdf::pbkdf2_sha512::<32>(candidate, salt, rounds);
                let desc = ssss::KeyDescription {
                    id: String::new(),
                    name: None,
                    check: Some((*iv, mac.to_vec())),
                    passphrase: None,
                    passphrase_problem: None,
                };
                ssss::check_key(key.expose(), &desc).is_ok()
            }
        })
    }
}

/// The start of an export's JSON as every exporting client writes it, tested on the first
/// [`EXPORT_HEAD`] decrypted bytes: optional whitespace, `[`, optional whitespace, `{`, optional
/// whitespace, `"`, and every byte printable ASCII (0x20-0x7e) or whitespace (tab, LF, FF, CR).
/// (An empty array has no line: it is shorter than the head.)
///
/// False positives: a wrong key decrypts to uniform noise, and the chance that 48 noise bytes
/// are all in that set of 99 values is (99/256)^48 = 2^-65.8, before the structure is asked for.
pub fn plausible_export_head(plain: &[u8]) -> bool {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c);
    if !plain.iter().all(|b| (0x20..=0x7e).contains(b) || ws(b)) {
        return false;
    }
    let mut it = plain.iter().filter(|b| !ws(b));
    it.next() == Some(&b'[') && it.next() == Some(&b'{') && it.next() == Some(&b'"')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn heads_of_every_writer_pass_and_others_do_not() {
        for ok in [
            &br#"[{"algorithm":"m.megolm.v1.aes-sha2","room_id":"!a:x","#[..],
            br#"[{"algorithm": "m.megolm.v1.aes-sha2", "room_id": "!a"#,
            b"[\n  {\n    \"algorithm\": \"m.megolm.v1.aes-sha2\",\n  ",
            b" [ { \"sender_key\": \"abc\" } ] trailing text   ",
        ] {
            assert!(plausible_export_head(ok), "{}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b"[]"[..],
            b"{\"a\": 1}",
            b"[{\"a\xc3\xa9\": 1}",
            b"[ 1, 2, 3 ]",
            b"[{\x01\"a\"}]",
        ] {
            assert!(
                !plausible_export_head(bad),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn lines_parse_back_and_other_versions_are_refused() {
        let e = Hashline::Export {
            rounds: 500_000,
            salt: [1; 16],
            iv: [2; 16],
            head: [3; EXPORT_HEAD],
        };
        let s = Hashline::Ssss {
            iterations: 500_000,
            salt: b"salt$with:odd chars".to_vec(),
            iv: [4; 16],
            mac: [5; 32],
        };
        for l in [e, s] {
            assert_eq!(Hashline::parse(&l.to_string()).unwrap(), l);
        }
        assert_eq!(
            Hashline::parse("$mxkeys$2$e$1$00$00$00"),
            Err(HashlineError::Version("2".into()))
        );
        assert_eq!(Hashline::parse("$pbkdf2$1$e"), Err(HashlineError::NotOurs));
        for bad in [
            "$mxkeys$1$e$0$00$00$00",
            "$mxkeys$1$e$10$0011$00$00",
            "$mxkeys$1$x$10",
            "$mxkeys$1$s$10$00$0g$00",
            "$mxkeys$1$s$10$00$00000000000000000000000000000000$00$extra",
        ] {
            assert!(
                matches!(Hashline::parse(bad), Err(HashlineError::Field { .. })),
                "{bad}"
            );
        }
    }
}
