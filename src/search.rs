//! Forgotten-passphrase search: try candidate passphrases against an export file, a secret-storage
//! key (Security Phrase) or a legacy passphrase-protected backup, on all cores.
//!
//! Each candidate costs one PBKDF2-HMAC-SHA-512 derivation (100k-500k rounds), run here in SIMD
//! lanes ([`kdf::pbkdf2_sha512_batch`]). Whether a derived key opens the target is the format's
//! answer, and cheap: for an export ([`Sealed`]), the first ciphertext block is decrypted
//! and must be the start of a JSON array before the HMAC over the whole file is paid for; for
//! secret storage, the key check or a stored secret's MAC
//! ([`ssss::confirm_key`]); for backups, one X25519 base-point multiplication compared with
//! `auth_data.public_key` ([`PassphraseBackup::opens`]).
//!
//! The search is reproducible: candidates are taken in order in chunks, and within a chunk the
//! first match in input order wins, however the threads were scheduled.

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::backup::PassphraseBackup;
use crate::error::Error;
use crate::export::{ExportKeys, Sealed};
use crate::kdf::{self, Limits, Rounds};
use crate::recovery_key::RecoveryKey;
use crate::secret::{Passphrase, SecretBytes};
use crate::ssss::{self, AccountData, Confirmation, KeyDescription, PassphraseInfo, SsssError};

/// Why a target cannot be searched, though its file is well formed ([`Error::Search`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// The secret-storage key was not made from a Security Phrase.
    #[error("key {key_id} was not made from a Security Phrase: there is no phrase to search for")]
    NoPhrase {
        /// The key id.
        key_id: String,
    },
    /// The key's Security Phrase asks for a key length other than 256 bits.
    #[error("the key asks for {bits} bits; only 256 is defined")]
    PhraseBits {
        /// The `bits` found.
        bits: u32,
    },
    /// The key has no check and no secret is stored under it: nothing tells a right phrase.
    #[error("key {key_id} has no key check and no secret to test a phrase against")]
    Untestable {
        /// The key id.
        key_id: String,
    },
}

/// What a candidate is checked against. Each format reads its file and answers whether a key
/// opens it; the search only derives the keys.
pub enum Target {
    /// A key export file held in memory.
    Export(Sealed),
    /// A secret-storage key made from a Security Phrase.
    Ssss {
        /// The key description (its check iv/mac, when present, is the test).
        desc: KeyDescription,
        /// PBKDF2 parameters.
        info: PassphraseInfo,
        /// Checked rounds.
        rounds: Rounds,
        /// When the description has no check: the secrets stored under the key, whose MACs
        /// test it ([`ssss::confirm_key`]).
        probes: Vec<ssss::Probe>,
    },
    /// A legacy backup whose key came from a passphrase.
    Backup(PassphraseBackup),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe().as_str())
    }
}

impl Target {
    /// An export file (armored text).
    ///
    /// # Errors
    /// As for decrypting an export, up to (not including) the MAC.
    pub fn export(text: &[u8], limits: &Limits) -> Result<Self, Error> {
        Ok(Target::Export(Sealed::read(text, limits)?))
    }

    /// The Security Phrase of a secret-storage key (`key_id`, else the default key).
    ///
    /// # Errors
    /// [`Error::Search`] when the key has no Security Phrase, or nothing to check against;
    /// [`Error::Ssss`] when its phrase cannot be used; rounds errors.
    pub fn ssss(ad: &AccountData, key_id: Option<&str>, limits: &Limits) -> Result<Self, Error> {
        let desc = ad.resolve_key(key_id)?;
        let (info, rounds) = desc.passphrase_info(limits).map_err(|e| match e {
            // The search words these two for what it does: there is nothing to search for.
            Error::Ssss(SsssError::NoPhrase { key_id }) => TargetError::NoPhrase { key_id }.into(),
            Error::Ssss(SsssError::PhraseBits { bits }) => TargetError::PhraseBits { bits }.into(),
            e => e,
        })?;
        let info = info.clone();
        let probes = if desc.check.is_some() {
            Vec::new()
        } else {
            ad.probes(&desc.id)
        };
        if desc.check.is_none() && probes.is_empty() {
            return Err(TargetError::Untestable {
                key_id: desc.id.clone(),
            }
            .into());
        }
        Ok(Target::Ssss {
            desc,
            info,
            rounds,
            probes,
        })
    }

    /// A backup version (GET /room_keys/version body) with passphrase parameters in `auth_data`.
    ///
    /// # Errors
    /// [`Error::Backup`] when it was not made from a passphrase.
    pub fn backup(version: &Value, limits: &Limits) -> Result<Self, Error> {
        Ok(Target::Backup(PassphraseBackup::read(version, limits)?))
    }

    /// PBKDF2 rounds per candidate.
    pub fn rounds(&self) -> u32 {
        self.kdf_rounds().get()
    }

    /// One line saying what is searched.
    pub fn describe(&self) -> String {
        match self {
            Target::Export(sealed) => format!(
                "key export, {} bytes of sessions, {} PBKDF2 rounds per candidate",
                sealed.ciphertext_len(),
                sealed.rounds().get()
            ),
            Target::Ssss { desc, rounds, .. } => format!(
                "Security Phrase of secret-storage key {}, {} PBKDF2 rounds per candidate",
                desc.id,
                rounds.get()
            ),
            Target::Backup(backup) => {
                format!(
                    "legacy backup passphrase, {} PBKDF2 rounds per candidate",
                    backup.rounds().get()
                )
            }
        }
    }

    /// Does this passphrase open the target?
    pub fn check(&self, candidate: &str) -> bool {
        self.passwords(candidate).iter().any(|pw| {
            let key = kdf::pbkdf2_sha512::<64>(pw, self.salt(), self.kdf_rounds());
            self.verify(&key)
        })
    }

    /// The position of the first candidate (in order) that opens the target. All the
    /// derivations go through [`kdf::pbkdf2_sha512_batch`], so the candidates share SIMD lanes.
    pub(crate) fn first_match(&self, candidates: &[Zeroizing<String>]) -> Option<usize> {
        // (candidate position, password bytes): one or two per candidate, in order.
        let tries: Vec<(usize, Zeroizing<Vec<u8>>)> = candidates
            .iter()
            .enumerate()
            .flat_map(|(i, c)| self.passwords(c).into_iter().map(move |pw| (i, pw)))
            .collect();
        let passwords: Vec<&[u8]> = tries.iter().map(|(_, pw)| pw.as_slice()).collect();
        let keys = kdf::pbkdf2_sha512_batch::<64>(&passwords, self.salt(), self.kdf_rounds());
        tries
            .iter()
            .zip(&keys)
            .find(|(_, key)| self.verify(key))
            .map(|((i, _), _)| *i)
    }

    /// The byte strings a candidate stands for: its UTF-8 bytes, and for exports also its
    /// Latin-1 bytes when they differ (matrix-nio keyed files with those).
    fn passwords(&self, candidate: &str) -> Vec<Zeroizing<Vec<u8>>> {
        let mut out = vec![Zeroizing::new(candidate.as_bytes().to_vec())];
        if let Target::Export { .. } = self {
            if let Some(l) = Passphrase::new(candidate.to_owned()).latin1_bytes() {
                out.push(l);
            }
        }
        out
    }

    fn salt(&self) -> &[u8] {
        match self {
            Target::Export(sealed) => &sealed.header().salt,
            Target::Ssss { info, .. } => info.salt.as_bytes(),
            Target::Backup(backup) => backup.salt(),
        }
    }

    fn kdf_rounds(&self) -> Rounds {
        match self {
            Target::Export(sealed) => sealed.rounds(),
            Target::Ssss { rounds, .. } => *rounds,
            Target::Backup(backup) => backup.rounds(),
        }
    }

    /// Does this derived key open the target? Exports use all 64 bytes (AES key, HMAC key);
    /// secret storage and backups the first 32 (PBKDF2 with 32 bytes of output is exactly the
    /// first half of its 64-byte output).
    fn verify(&self, key: &SecretBytes<64>) -> bool {
        let first = || {
            let mut first = SecretBytes::<32>::zeroed();
            if let Some(k) = key.expose().first_chunk::<32>() {
                first.expose_mut().copy_from_slice(k);
            }
            first
        };
        match self {
            Target::Export(sealed) => sealed.opens(&ExportKeys::from_derived(key)),
            Target::Ssss { desc, probes, .. } => matches!(
                ssss::confirm_key(first().expose(), desc, probes),
                Ok(Confirmation::KeyCheck | Confirmation::SecretMac(_))
            ),
            Target::Backup(backup) => backup.opens(&RecoveryKey::from_bytes(first().expose_mut())),
        }
    }
}

/// Shared counters of a running search.
#[derive(Debug, Default)]
pub struct Progress {
    /// Candidates tried.
    pub tried: AtomicU64,
    /// Set to stop at the next candidate.
    pub cancel: AtomicBool,
}

/// Try a chunk of candidates in parallel; the position of the first (in chunk order) that opens
/// the target. Stops early when `progress.cancel` is set (then `None`, and `tried` says how far).
///
/// Each thread takes a group of candidates at a time (as many as the SIMD lanes of
/// [`kdf::Engine::fastest`], fewer when the chunk is too short to give every thread a full
/// group) and derives their keys side by side.
pub fn search_chunk(
    target: &Target,
    chunk: &[Zeroizing<String>],
    progress: &Progress,
) -> Option<usize> {
    let lanes = kdf::Engine::fastest().lanes();
    let per_thread = chunk.len().div_ceil(rayon::current_num_threads().max(1));
    let group = per_thread.clamp(1, lanes);
    chunk
        .par_chunks(group)
        .enumerate()
        .find_map_first(|(g, cands)| {
            if progress.cancel.load(Ordering::Relaxed) {
                return None;
            }
            let hit = target.first_match(cands);
            progress
                .tried
                .fetch_add(cands.len() as u64, Ordering::Relaxed);
            hit.map(|i| g * group + i)
        })
}

/// Variations of a remembered passphrase, most likely first: as typed, lower case, upper case,
/// capitalised, leetspeak (a→4, e→3, i→1, o→0, s→5); each also with a suffix: 1, 12, 123, !, ?,
/// ., a digit 0-9, or a year 1990-2030. Duplicates are removed. At most 5 × 58 = 290 variants.
pub fn mutations(word: &str) -> Vec<Zeroizing<String>> {
    let mut bases: Vec<String> = Vec::with_capacity(5);
    let mut capitalised = String::with_capacity(word.len());
    let mut chars = word.chars();
    if let Some(c) = chars.next() {
        capitalised.extend(c.to_uppercase());
        capitalised.push_str(&chars.as_str().to_lowercase());
    }
    let leet: String = word
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            'a' => '4',
            'e' => '3',
            'i' => '1',
            'o' => '0',
            's' => '5',
            _ => c,
        })
        .collect();
    for b in [
        word.to_owned(),
        word.to_lowercase(),
        word.to_uppercase(),
        capitalised,
        leet,
    ] {
        if !bases.contains(&b) {
            bases.push(b);
        }
    }
    let mut suffixes: Vec<String> = ["", "1", "12", "123", "!", "?", "."]
        .map(String::from)
        .to_vec();
    suffixes.extend((0..10).map(|d| d.to_string()));
    suffixes.extend((1990..=2030).map(|y| y.to_string()));
    let mut out: Vec<Zeroizing<String>> = Vec::with_capacity(bases.len() * suffixes.len());
    for suffix in &suffixes {
        for base in &bases {
            let v = Zeroizing::new(format!("{base}{suffix}"));
            if !out.iter().any(|o| **o == *v) {
                out.push(v);
            }
        }
    }
    for mut b in bases {
        zeroize::Zeroize::zeroize(&mut b);
    }
    out
}

/// The longest candidate line, in bytes without its line break. A passphrase someone typed is far
/// shorter; a longer line means the list is not a list of passphrases (and its `--mutate`
/// variations would cost hundreds of times its size in memory).
pub const MAX_CANDIDATE_LEN: usize = 1024;

/// Why the next candidate line cannot be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CandidatesError {
    /// A line longer than [`MAX_CANDIDATE_LEN`]: it was read past (at most that many bytes of it
    /// were held), so reading can go on with the next line.
    #[error("line {line} is longer than {max} bytes, far longer than any passphrase")]
    LineTooLong {
        /// Its 1-based number.
        line: u64,
        /// The limit, [`MAX_CANDIDATE_LEN`].
        max: usize,
    },
    /// Reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Read candidate lines: one per line, trailing `\r\n`/`\n` removed; lines that are not UTF-8 are
/// counted in `skipped_non_utf8` and left out. Memory is bounded whatever the input: at most
/// [`MAX_CANDIDATE_LEN`] bytes of a line are held, a longer line is an error.
pub struct Candidates<R> {
    reader: R,
    /// Lines read so far (1-based number of the last line returned).
    pub lines: u64,
    /// Lines left out because they were not UTF-8.
    pub skipped_non_utf8: u64,
}

impl<R: BufRead> Candidates<R> {
    /// Wrap a reader.
    pub fn new(reader: R) -> Self {
        Candidates {
            reader,
            lines: 0,
            skipped_non_utf8: 0,
        }
    }

    /// The next line, or None at the end.
    ///
    /// # Errors
    /// [`CandidatesError::LineTooLong`] for a line longer than [`MAX_CANDIDATE_LEN`] (the line is
    /// consumed and counted: calling again reads the one after it); reading errors.
    pub fn next_line(&mut self) -> Result<Option<Zeroizing<String>>, CandidatesError> {
        loop {
            // Room for the longest line and its `\r`, allocated once: no reallocation leaves an
            // unwiped copy of a candidate behind.
            let mut buf = Zeroizing::new(Vec::with_capacity(MAX_CANDIDATE_LEN + 1));
            let mut too_long = false;
            let mut newline = false;
            let mut any = false;
            while !newline {
                let avail = self.reader.fill_buf()?;
                if avail.is_empty() {
                    break;
                }
                any = true;
                let (len, used) = match avail.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        newline = true;
                        (i, i + 1)
                    }
                    None => (avail.len(), avail.len()),
                };
                let room = (MAX_CANDIDATE_LEN + 1).saturating_sub(buf.len());
                if len > room {
                    too_long = true;
                } else if !too_long {
                    buf.extend_from_slice(avail.get(..len).unwrap_or_default());
                }
                self.reader.consume(used);
            }
            if !any {
                return Ok(None);
            }
            self.lines += 1;
            if newline && buf.last() == Some(&b'\r') {
                buf.pop();
            }
            if too_long || buf.len() > MAX_CANDIDATE_LEN {
                return Err(CandidatesError::LineTooLong {
                    line: self.lines,
                    max: MAX_CANDIDATE_LEN,
                });
            }
            match String::from_utf8(std::mem::take(&mut *buf)) {
                Ok(s) => return Ok(Some(Zeroizing::new(s))),
                Err(e) => {
                    let mut bytes = e.into_bytes();
                    zeroize::Zeroize::zeroize(&mut bytes);
                    self.skipped_non_utf8 += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::{self, Nonces};

    #[test]
    fn export_target_finds_the_passphrase_and_only_it() {
        let pass = Passphrase::new("hunter2".into());
        let nonces = Nonces {
            salt: [1; 16],
            iv: [2; 16],
        };
        let text =
            export::encrypt(b"[{\"a\":1}]", &pass, Rounds::new(10, 10).unwrap(), nonces).unwrap();
        let t = Target::export(text.as_bytes(), &Limits::default()).unwrap();
        let cands: Vec<Zeroizing<String>> = ["a", "b", "hunter2", "hunter2"]
            .iter()
            .map(|s| Zeroizing::new(s.to_string()))
            .collect();
        let p = Progress::default();
        assert_eq!(
            search_chunk(&t, &cands, &p),
            Some(2),
            "first match in order"
        );
        assert!(p.tried.load(Ordering::Relaxed) >= 3);
        assert!(!t.check("Hunter2"));
    }

    fn cands(words: &[&str]) -> Vec<Zeroizing<String>> {
        words
            .iter()
            .map(|s| Zeroizing::new(s.to_string()))
            .collect()
    }

    fn export_target(pass: &str) -> Target {
        let nonces = Nonces {
            salt: [1; 16],
            iv: [2; 16],
        };
        let pass = Passphrase::new(pass.into());
        let text =
            export::encrypt(b"[{\"a\":1}]", &pass, Rounds::new(3, 3).unwrap(), nonces).unwrap();
        Target::export(text.as_bytes(), &Limits::default()).unwrap()
    }

    #[test]
    fn first_match_in_order_across_groups_and_threads() {
        let t = export_target("needle");
        // Hits at 5 and 7 (not 4-aligned), in chunks of every length and on 1 and 3 threads.
        let words = [
            "a", "b", "c", "d", "e", "needle", "f", "needle", "g", "h", "i",
        ];
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for len in 0..=words.len() {
                let c = cands(&words[..len]);
                let p = Progress::default();
                let want = (len > 5).then_some(5);
                assert_eq!(pool.install(|| search_chunk(&t, &c, &p)), want, "{len}");
                if want.is_none() {
                    assert_eq!(p.tried.load(Ordering::Relaxed), len as u64);
                }
            }
        }
    }

    #[test]
    fn cancel_stops_before_deriving() {
        let t = export_target("needle");
        let p = Progress::default();
        p.cancel.store(true, Ordering::Relaxed);
        assert_eq!(search_chunk(&t, &cands(&["needle"; 9]), &p), None);
        assert_eq!(p.tried.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn latin1_second_try_in_a_batch() {
        // A matrix-nio file: keyed with the Latin-1 bytes of "café".
        let salt = [5u8; 16];
        let header = crate::export::Header {
            version: 1,
            salt,
            iv: [0; 16],
            rounds: 4,
        };
        let keys = ExportKeys::derive(b"caf\xe9", &salt, Rounds::new(4, 4).unwrap());
        let mut w = crate::export::ExportWriter::with_keys(Vec::new(), &keys, &header).unwrap();
        std::io::Write::write_all(&mut w, b"[]").unwrap();
        let text = w.finish().unwrap();
        let t = Target::export(&text, &Limits::default()).unwrap();
        let c = cands(&["cafe", "café!", "naïve", "café", "x"]);
        assert_eq!(t.first_match(&c), Some(3));
        assert_eq!(search_chunk(&t, &c, &Progress::default()), Some(3));
        assert!(t.check("café"));
    }

    #[test]
    fn backup_target_found_in_a_batch() {
        let rounds = Rounds::new(5, 5).unwrap();
        let mut key = kdf::pbkdf2_sha512::<32>(b"hunter2", b"pepper", rounds);
        let pk = RecoveryKey::from_bytes(key.expose_mut()).backup_public_key();
        let version = serde_json::json!({
            "algorithm": "m.megolm_backup.v1.curve25519-aes-sha2",
            "auth_data": {
                "public_key": crate::encoding::encode_unpadded(&pk),
                "private_key_salt": "pepper",
                "private_key_iterations": 5,
            }
        });
        let t = Target::backup(&version, &Limits::default()).unwrap();
        let c = cands(&["a", "b", "c", "d", "e", "f", "hunter2"]);
        assert_eq!(search_chunk(&t, &c, &Progress::default()), Some(6));
        assert!(t.check("hunter2") && !t.check("hunter3"));
    }

    /// The reasons a secret-storage key cannot be searched, word for word as before they were
    /// typed; an unusable phrase keeps the description's own words.
    #[test]
    fn ssss_target_errors() {
        let key = [7u8; 32];
        let ad = |desc: serde_json::Value| {
            AccountData::parse(&serde_json::json!({
                "m.secret_storage.default_key": {"key": "K"},
                "m.secret_storage.key.K": desc,
            }))
            .unwrap()
        };
        let with_check = ssss::describe_key(&key, [3; 16], None);
        let phrase = |p: serde_json::Value| {
            let mut d = with_check.clone();
            d["passphrase"] = p;
            d
        };
        let err = |ad: AccountData| Target::ssss(&ad, None, &Limits::default()).unwrap_err();
        let cases = [
            (
                err(ad(with_check.clone())),
                "key K was not made from a Security Phrase: there is no phrase to search for",
            ),
            (
                err(ad(phrase(serde_json::json!({
                    "algorithm": "m.pbkdf2", "salt": "s", "iterations": 10, "bits": 128
                })))),
                "the key asks for 128 bits; only 256 is defined",
            ),
            (
                err(ad(phrase(serde_json::json!({"algorithm": "m.scrypt"})))),
                "key K: Security Phrase algorithm m.scrypt is not supported (only m.pbkdf2)",
            ),
            (
                err(ad(serde_json::json!({
                    "algorithm": ssss::ALGORITHM,
                    "passphrase": {"algorithm": "m.pbkdf2", "salt": "s", "iterations": 10},
                }))),
                "key K has no key check and no secret to test a phrase against",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(
                (e.to_string().as_str(), e.kind()),
                (want, crate::ErrorKind::Format)
            );
        }
        let too_many = Target::ssss(
            &ad(phrase(serde_json::json!({
                "algorithm": "m.pbkdf2", "salt": "s", "iterations": 11
            }))),
            None,
            &Limits { max_rounds: 10 },
        );
        assert!(matches!(
            too_many,
            Err(Error::RoundsTooHigh {
                rounds: 11,
                limit: 10
            })
        ));
    }

    #[test]
    fn ssss_target_found_in_a_batch() {
        let salt = "pepper";
        let rounds = Rounds::new(5, 5).unwrap();
        let key = kdf::pbkdf2_sha512::<32>(b"hunter2", salt.as_bytes(), rounds);
        let mut desc = ssss::describe_key(key.expose(), [3; 16], None);
        desc["passphrase"] =
            serde_json::json!({"algorithm": "m.pbkdf2", "salt": salt, "iterations": 5});
        let ad = AccountData::parse(&serde_json::json!({"m.secret_storage.key.K": desc})).unwrap();
        let t = Target::ssss(&ad, Some("K"), &Limits::default()).unwrap();
        assert_eq!(t.rounds(), 5);
        let c = cands(&["a", "hunter2", "hunter2"]);
        assert_eq!(search_chunk(&t, &c, &Progress::default()), Some(1));
        assert!(t.check("hunter2") && !t.check("hunter3"));
    }

    #[test]
    fn candidate_lines_are_capped_and_reading_goes_on_after_a_long_one() {
        let max = MAX_CANDIDATE_LEN;
        let mut input = Vec::new();
        input.extend_from_slice(format!("{}\r\n", "a".repeat(max)).as_bytes());
        input.extend_from_slice(format!("{}\n", "b".repeat(max + 1)).as_bytes());
        input.extend_from_slice(format!("{}\n", "c".repeat(3 * 1024 * 1024)).as_bytes());
        input.extend_from_slice(b"\xff\nlast\r");
        // A small buffer: lines arrive in many pieces.
        let mut c = Candidates::new(std::io::BufReader::with_capacity(7, input.as_slice()));
        assert_eq!(c.next_line().unwrap().unwrap().len(), max);
        for want in [2, 3] {
            match c.next_line() {
                Err(CandidatesError::LineTooLong { line, max: m }) => {
                    assert_eq!((line, m), (want, max));
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(c.next_line().unwrap().unwrap().as_str(), "last\r");
        assert_eq!((c.lines, c.skipped_non_utf8), (5, 1));
        assert!(c.next_line().unwrap().is_none());
    }

    #[test]
    fn mutations_cover_the_documented_forms() {
        let m: Vec<String> = mutations("Summer").iter().map(|s| s.to_string()).collect();
        for want in [
            "Summer",
            "summer",
            "SUMMER",
            "5umm3r",
            "Summer2019",
            "summer!",
            "SUMMER123",
        ] {
            assert!(m.contains(&want.to_string()), "{want}");
        }
        assert!(m.len() <= 290);
        let unique: std::collections::HashSet<_> = m.iter().collect();
        assert_eq!(unique.len(), m.len());
    }
}
