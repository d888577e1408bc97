//! Entry points shared by the cargo-fuzz targets in `fuzz/fuzz_targets/` and by
//! `tests/fuzz_corpus.rs`, which replays every committed corpus and crash input on the stable
//! toolchain (it includes this file with `#[path]`, so it uses nothing but `mxkeys`'s public API
//! and the crates `mxkeys` itself depends on: `serde`, `serde_json`, `sha2`).
//!
//! Each function feeds arbitrary bytes to one parser and asserts the properties that must hold
//! for every input: no panic (the fuzzer's job), and canonical round trips where the format has
//! one. The `kdf_lanes` target is not here: it compares private SIMD code, so its entry point is
//! `mxkeys::kdf::compare_lanes_with_sha2`, behind mxkeys's `internals` feature.
//!
//! The round-trip targets take their parameters (keys, IVs, rounds, chunk sizes) off the front of
//! the input with [`Take`] rather than `arbitrary::Arbitrary`: every entry point stays `&[u8]`, so
//! `tests/fuzz_corpus.rs` replays the same files on stable without a fuzz-only dependency.
//!
//! The fixed secrets are those of committed test vectors, so the seeds from `test-vectors/` get
//! past the MACs and the fuzzer starts at the deep end of each format.

use std::io::{Cursor, Read, Write};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use mxkeys::attachment::{
    find_encrypted_file, AttachmentDecryptor, AttachmentEncryptor, AttachmentError, AttachmentKey,
    EncryptedFile, HashCheck,
};
use mxkeys::backup::{self, MacKind};
use mxkeys::encoding::{decode_lenient, encode_unpadded};
use mxkeys::error::Error;
use mxkeys::export::{self, ArmorReader, ArmorWriter, Limits, Nonces};
use mxkeys::kdf::Rounds;
use mxkeys::megolm::{Message, SessionKey, SessionKeyFormat, EXPORT_LEN};
use mxkeys::recovery_key::{self, RecoveryKey, CHARS};
use mxkeys::session::SessionRecord;
use mxkeys::ssss::{self, AccountData, KeyCheck, Unlock};
use mxkeys::Passphrase;

/// Rounds cap for fuzzing: a file asking for more is refused, so each input costs microseconds.
const FUZZ_MAX_ROUNDS: u32 = 16;
/// [`FUZZ_MAX_ROUNDS`] as the library takes it.
const FUZZ_LIMITS: Limits = Limits {
    max_rounds: FUZZ_MAX_ROUNDS,
};

/// The armor reader on arbitrary text; whatever it decodes re-encodes and decodes to the same
/// bytes.
pub fn armor(data: &[u8]) {
    let mut r = ArmorReader::new(data);
    let mut out = Vec::new();
    if r.read_to_end(&mut out).is_ok() {
        let mut w = match ArmorWriter::new(Vec::new()) {
            Ok(w) => w,
            Err(_) => return,
        };
        let again = w.write_all(&out).and_then(|()| w.finish());
        if let Ok(text) = again {
            let mut back = Vec::new();
            let read = ArmorReader::new(&text[..]).read_to_end(&mut back);
            assert!(read.is_ok(), "canonical armor must read back");
            assert_eq!(back, out, "armor round trip changed the bytes");
        }
    }
}

/// `inspect` and `decrypt` (passphrase "fuzz", at most 16 rounds) on arbitrary text.
pub fn export_decrypt(data: &[u8]) {
    let _ = export::inspect(data);
    let limits = Limits {
        max_rounds: FUZZ_MAX_ROUNDS,
    };
    let _ = export::decrypt(data, &Passphrase::new("fuzz".into()), &limits);
}

/// Arbitrary bytes as the plaintext inside a valid export (the MAC passes, so the JSON check
/// runs): decrypt gives back exactly what was encrypted, or the same JSON error encrypt gave.
pub fn export_plaintext(data: &[u8]) {
    let pass = Passphrase::new("fuzz".into());
    let Ok(rounds) = Rounds::new(1, 1) else {
        return;
    };
    let nonces = Nonces {
        salt: [1; 16],
        iv: [2; 16],
    };
    let mut w = match export::ExportWriter::new(Vec::new(), &pass, rounds, nonces) {
        Ok(w) => w,
        Err(_) => return,
    };
    let Ok(file) = w.write_all(data).and_then(|()| w.finish()) else {
        return;
    };
    let json_ok = mxkeys::session::scan(data, "input", |_| Ok(())).is_ok();
    match export::decrypt(&file, &pass, &Limits::default()) {
        Ok(d) => {
            assert!(json_ok, "decrypt accepted what the JSON check refuses");
            assert_eq!(&d.plaintext[..], data);
        }
        Err(e) => {
            assert!(!json_ok, "valid JSON refused: {e}");
            assert_eq!(e.kind(), mxkeys::ErrorKind::Json);
        }
    }
}

/// The session-array scanner on arbitrary bytes, whole and split into one-byte reads.
pub fn session_json(data: &[u8]) {
    let whole = mxkeys::session::scan(data, "input", |_| Ok(())).map_err(|e| e.kind());
    struct OneByte<'a>(&'a [u8]);
    impl Read for OneByte<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((b, rest)), Some(dst)) => {
                    *dst = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }
    let split = mxkeys::session::scan(OneByte(data), "input", |_| Ok(())).map_err(|e| e.kind());
    assert_eq!(whole, split, "result depends on how the input is split");
    if whole.is_ok() {
        // IgnoredAny checks syntax only, with no depth limit: what the scanner accepts must be
        // JSON at all.
        let any = serde_json::from_slice::<serde::de::IgnoredAny>(data);
        assert!(any.is_ok(), "the scanner accepted invalid JSON: {any:?}");
    }
    session_records(data, whole.is_ok());
}

/// The same bytes read as typed sessions: they read exactly when serde_json reads them as maps
/// of values (what mxkeys did before it typed sessions); written back, the records read back to
/// the same records and the same text, with the values and key order serde_json reads from the
/// input.
fn session_records(data: &[u8], scanned: bool) {
    let mut records = Vec::new();
    let read = mxkeys::session::for_each(data, "input", |s: SessionRecord| {
        records.push(s);
        Ok(())
    });
    let as_maps = mxkeys::session::for_each(data, "input", |_: Map<String, Value>| Ok(()));
    assert_eq!(
        read.as_ref().map_err(Error::kind).ok(),
        as_maps.as_ref().map_err(Error::kind).ok(),
        "typed sessions and maps disagree: {read:?} {as_maps:?}"
    );
    if read.is_err() {
        return;
    }
    assert!(scanned, "records read from what the scanner refuses");
    let Ok(text) = serde_json::to_vec(&records) else {
        panic!("a record does not serialize");
    };
    let again = serde_json::from_slice::<Vec<SessionRecord>>(&text);
    assert!(
        again.as_ref().is_ok_and(|a| *a == records),
        "written records read back otherwise: {again:?}"
    );
    assert_eq!(
        serde_json::to_vec(&again.unwrap_or_default()).ok().as_ref(),
        Some(&text),
        "the written form is not a fixed point"
    );
    let maps = |bytes: &[u8]| {
        serde_json::from_slice::<Vec<Map<String, Value>>>(bytes).map(|v| {
            v.into_iter()
                .map(|m| m.into_iter().collect::<Vec<(String, Value)>>())
                .collect::<Vec<_>>()
        })
    };
    if let Ok(before) = maps(data) {
        assert_eq!(
            maps(&text).ok(),
            Some(before),
            "a value or the key order changed"
        );
    }
}

/// Takes fixed-size pieces off the front of a fuzz input; missing bytes read as zero.
struct Take<'a>(&'a [u8]);

impl<'a> Take<'a> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        for x in &mut a {
            *x = self.byte();
        }
        a
    }
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
    /// A chunk size in 1..=256, for feeding a streaming writer in uneven pieces.
    fn step(&mut self) -> usize {
        usize::from(self.byte()) + 1
    }
    fn rest(self) -> &'a [u8] {
        self.0
    }
}

/// `write_all` in pieces of `step` bytes.
fn write_in_steps<W: Write>(w: &mut W, data: &[u8], step: usize) -> std::io::Result<()> {
    for chunk in data.chunks(step.max(1)) {
        w.write_all(chunk)?;
    }
    Ok(())
}

/// The backup key of test-vectors/backup/olm-*.json.
const BACKUP_KEY: &str = "EsTn iEYx SoG7 cV5J KNdU n1qT P6wU ro7d 5eod zkXm 9CsP MJK8";
/// The Security Key of test-vectors/ssss/jssdk-security-key*.json.
const SSSS_KEY: &str = "EsTh tAH2 fnc4 jQq8 egj4 MoiR DaRF QgZP dp1V y2WN zbwu keYY";
/// The Security Phrase of test-vectors/ssss/jssdk-phrase-i1000.json (its 1000 iterations are
/// above the fuzz limit: the phrase path runs on inputs that ask for 16 or fewer).
const SSSS_PHRASE: &str = "correct horse battery staple";
/// test-vectors/attachment/wasm-17.json: the key, IV (low 64 bits zero) and hash of wasm-17.bin.
const ATTACHMENT_INFO: &str = r#"{"url":"mxc://example.org/wasm_17","v":"v2","key":{"kty":"oct","key_ops":["decrypt","encrypt"],"alg":"A256CTR","k":"nLO11tplRWOzMiK76WMLpIKKuuEmQfvrmxIxnQw4u20","ext":true},"iv":"kxpYCRA366IAAAAAAAAAAA","hashes":{"sha256":"ko0AFtbjXrj/8junPBfTJkvdrGKx4CtLJnSeOcKBVpI"}}"#;
/// A real 0x01 session key (test-vectors/export/sessions-basic.json, first session).
const SESSION_KEY: &str = "AQAAAACNM8xHZ1ejxht0AoZNmQOjn32kbCb3qRgVk9cYnrclwCvXlIXKxMldqxky3wF7ULHqxa9A7ZG8tA6JCSLhvFW7pdS0NM8rMcAVCPp3DPaoJU8ZdZe8gGH5RsrM6oOCCLfLSWlUaXZ9f5czMfvesiB8FtdduS0H9xcIj3WzcbyNT/Y2CVrEt+RTMZWd5XUHtgItJssQWMu392zVurMrhJKe";

/// `r.ok()`, after asserting it is `Ok`: for steps of a round trip that cannot fail.
fn must<T, E: std::fmt::Debug>(r: Result<T, E>, what: &str) -> Option<T> {
    assert!(r.is_ok(), "{what}: {:?}", r.as_ref().err());
    r.ok()
}

fn fixed_key(text: &str) -> Option<RecoveryKey> {
    let key = RecoveryKey::decode(text);
    assert!(key.is_ok(), "the fixed fuzz key does not decode");
    key.ok()
}

/// Recovery-key decoding on arbitrary text: a key that decodes re-encodes to the same characters
/// (base58 of a fixed length is canonical) and decodes to the same bytes; every suggestion for
/// one that does not is itself a valid key.
pub fn recovery_key(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match RecoveryKey::decode(text) {
        Ok(k) => {
            let enc = k.encode();
            assert_eq!(
                enc.len(),
                CHARS + CHARS / 4 - 1,
                "grouped form has 12 groups of 4"
            );
            let back = RecoveryKey::decode(&enc);
            assert!(
                back.as_ref().is_ok_and(|b| b.expose() == k.expose()),
                "encode does not decode back"
            );
            let typed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            let canon: String = enc.chars().filter(|c| *c != ' ').collect();
            assert_eq!(typed, canon, "two spellings of one key");
            assert!(
                recovery_key::suggest(text).is_empty(),
                "suggestions for a valid key"
            );
        }
        Err(e) => {
            let _ = (e.kind(), e.to_string());
            if text.len() <= 4 * CHARS {
                for s in recovery_key::suggest(text) {
                    assert!(
                        RecoveryKey::decode(&s).is_ok(),
                        "a suggestion does not decode"
                    );
                }
            }
        }
    }
}

/// A whole backup document (any shape) decrypted with a fixed key: one outcome per entry, in
/// order, each decrypted session filed under its own ids. Also the version checks on the same
/// document.
pub fn backup_entries(data: &[u8]) {
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Some(key) = fixed_key(BACKUP_KEY) else {
        return;
    };
    for (room, session) in [(None, None), (Some("!room:example.org"), Some("session"))] {
        let Ok((_, entries)) = backup::entries(&doc, room, session) else {
            continue;
        };
        let out = backup::decrypt_entries(&key, &entries);
        assert_eq!(out.len(), entries.len(), "an entry was lost");
        for (o, e) in out.iter().zip(&entries) {
            assert_eq!((&o.room_id, &o.session_id), (&e.room_id, &e.session_id));
            match &o.result {
                Ok((s, _)) => {
                    assert_eq!(s.room_id.as_ref(), Some(&e.room_id));
                    assert_eq!(s.session_id.as_ref(), Some(&e.session_id));
                    let sk = s
                        .session_key
                        .as_ref()
                        .map(|k| SessionKey::from_base64(k.expose()));
                    assert!(
                        sk.is_some_and(|k| k.is_ok_and(|k| k.session_id() == e.session_id)),
                        "a decrypted session key does not belong to its session"
                    );
                }
                Err(f) => {
                    let _ = (f.kind(), f.to_string());
                }
            }
        }
    }
    let _ = backup::check_auth_data(&key, &doc);
    let _ = backup::key_from_passphrase(&Passphrase::new("fuzz".into()), &doc, &FUZZ_LIMITS);
}

/// One `session_data` object decrypted with a fixed key; when it decrypts, its session id is the
/// one its key gives, and another id is refused.
pub fn backup_session_data(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Some(key) = fixed_key(BACKUP_KEY) else {
        return;
    };
    match backup::decrypt_session_data(&key, &v, None) {
        Ok(d) => {
            let sk = d
                .plaintext
                .session_key
                .as_ref()
                .map(|k| SessionKey::from_base64(k.expose()));
            assert!(
                sk.as_ref().is_some_and(Result::is_ok),
                "decrypted without a valid session_key"
            );
            let Some(Ok(sk)) = sk else {
                return;
            };
            assert_eq!(sk.first_index(), d.first_index);
            let own = backup::decrypt_session_data(&key, &v, Some(&sk.session_id()));
            assert!(
                own.is_ok_and(|o| o.mac == d.mac),
                "its own session id is refused"
            );
            let other = backup::decrypt_session_data(&key, &v, Some("another session"));
            assert!(
                other.is_err_and(|e| e.kind() == backup::FailureKind::SessionKey),
                "filed under another session id and accepted"
            );
        }
        Err(e) => {
            let _ = (e.kind(), e.to_string());
        }
    }
}

/// Secret-storage account data: parsing, key descriptions, choosing the key, unlocking with a
/// fixed Security Key and Phrase (at most 16 rounds), decrypting every secret; adding a secret
/// to a copy makes exactly that payload readable.
pub fn ssss_account_data(data: &[u8]) {
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(ad) = AccountData::parse(&doc) else {
        return;
    };
    let _ = ad.default_key_id();
    let ids = ad.key_ids();
    for id in &ids {
        let _ = ad.key(id).map(|d| serde_json::to_string(&d));
    }
    let secrets = ad.secrets();
    let Some(key) = fixed_key(SSSS_KEY) else {
        return;
    };
    let phrase = Passphrase::new(SSSS_PHRASE.into());
    for explicit in [None, ids.first().map(String::as_str)] {
        let Ok(desc) = ad.resolve_key(explicit) else {
            continue;
        };
        for with in [Unlock::SecurityKey(&key), Unlock::Phrase(&phrase)] {
            let Ok(u) = ssss::unlock(&desc, with, &FUZZ_LIMITS) else {
                continue;
            };
            assert!(u.check == KeyCheck::Verified || desc.check.is_none());
            if let Ok(results) = ssss::decrypt_secrets(&ad, &u, &[]) {
                for (name, r) in results {
                    assert!(
                        secrets.iter().any(|(n, _)| *n == name),
                        "{name} is not listed"
                    );
                    if let Ok(plain) = r {
                        let _ = ssss::describe_secret(&name, &plain);
                    }
                }
            }
            let _ = ssss::decrypt_secrets(&ad, &u, &["m.megolm_backup.v1".to_owned()]);
        }
    }
    let mut copy = ad.clone();
    let payload = json!({"iv": "fuzz"});
    copy.set_encrypted("m.fuzz", "FUZZKEY", payload.clone());
    assert_eq!(copy.encrypted("m.fuzz", "FUZZKEY").ok(), Some(&payload));
    assert_eq!(
        copy.key_ids().len(),
        ids.len() + usize::from(ad.key_ids().len() != ids.len())
    );
    let _ = copy.into_map();
}

/// Finding and checking an `EncryptedFile` in arbitrary JSON; what parses survives a serde round
/// trip unchanged (unknown fields included), and a checked key rejects an empty download unless
/// its hash is the empty file's.
pub fn attachment_info(data: &[u8]) {
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for thumbnail in [false, true] {
        let Ok(file) = find_encrypted_file(&doc, thumbnail) else {
            continue;
        };
        let again = serde_json::to_value(&file).and_then(serde_json::from_value::<EncryptedFile>);
        assert!(
            again.as_ref().is_ok_and(|a| *a == file),
            "EncryptedFile changed in a serde round trip: {again:?}"
        );
        if let Ok(key) = AttachmentKey::from_info(&file) {
            let _ = key.counter();
            let empty_hash = encode_unpadded(&Sha256::digest(b""));
            let want = file
                .hashes
                .get("sha256")
                .and_then(Value::as_str)
                .map(decode_lenient);
            let is_empty = matches!(want, Some(Ok(h)) if encode_unpadded(&h) == empty_hash);
            let dec = AttachmentDecryptor::new(Vec::new(), &key).finish();
            assert_eq!(dec.is_ok(), is_empty);
        }
    }
}

/// Arbitrary bytes as a downloaded attachment for a fixed `EncryptedFile` (v2, the same as v0,
/// or v2 with the counter about to wrap), written in uneven pieces: accepted exactly when the
/// SHA-256 matches, the same verdict as the hash-only pass, and the released bytes encrypt back
/// to the input.
pub fn attachment_stream(data: &[u8]) {
    let mut t = Take(data);
    let mode = t.byte() % 3;
    let step = t.step();
    let body = t.rest();
    let Some(mut file) = must(
        serde_json::from_str::<EncryptedFile>(ATTACHMENT_INFO),
        "the fixed attachment info does not parse",
    ) else {
        return;
    };
    match mode {
        0 => {}
        1 => file.v = None,
        _ => file.iv = "kxpYCRA366L//////////w".into(),
    }
    let Some(key) = must(
        AttachmentKey::from_info(&file),
        "the fixed attachment info is refused",
    ) else {
        return;
    };
    let mut plain = Vec::new();
    let mut dec = AttachmentDecryptor::new(&mut plain, &key);
    let wrote = write_in_steps(&mut dec, body, step);
    assert!(wrote.is_ok(), "writing into a Vec failed");
    let verdict = dec.finish().map(|_| ());
    let mut check = HashCheck::new(&key);
    let _ = check.write_all(body);
    assert_eq!(
        verdict,
        check.finish(),
        "one-pass and hash-only verdicts differ"
    );
    let matches = file.hashes.get("sha256").and_then(Value::as_str)
        == Some(encode_unpadded(&Sha256::digest(body)).as_str());
    assert_eq!(verdict.is_ok(), matches);
    assert!(verdict.is_ok() || verdict == Err(AttachmentError::Hash));
    assert_eq!(plain.len(), body.len());
    if mode == 0 {
        // v2 with IV[8..16] zero is exactly what the encryptor writes for the same key.
        let raw = decode_lenient(&file.key.k.replace('-', "+").replace('_', "/"));
        let iv = decode_lenient(&file.iv);
        if let (Ok(k), Ok(iv)) = (raw, iv) {
            let (Ok(mut k), Some(Ok(iv8))) = (
                <[u8; 32]>::try_from(k),
                iv.get(..8).map(<[u8; 8]>::try_from),
            ) else {
                return;
            };
            let mut enc = AttachmentEncryptor::new(Vec::new(), &mut k, iv8);
            let back = write_in_steps(&mut enc, &plain, step).and_then(|()| enc.finish(None));
            assert!(
                back.is_ok_and(|(_, ct)| ct == body),
                "decrypt then encrypt changed bytes"
            );
        }
    }
}

/// Megolm session keys from raw bytes: what parses is exactly its fields (re-serialized in the
/// export format it gives the same bytes, a signed key minus its signature), its index peeks
/// the same, and its ratchet advances forward only.
pub fn megolm_session_key(data: &[u8]) {
    let Ok(k) = SessionKey::from_bytes(data) else {
        return;
    };
    assert_eq!(SessionKey::peek_index(data), Some(k.first_index()));
    let export = decode_lenient(&k.to_export_base64());
    let mut want = vec![1u8];
    want.extend_from_slice(data.get(1..EXPORT_LEN).unwrap_or_default());
    assert!(export.is_ok_and(|e| e == want), "re-serialized key differs");
    match k.format() {
        SessionKeyFormat::Export => assert_eq!(data.len(), EXPORT_LEN),
        SessionKeyFormat::Signed => assert_eq!(data.len(), mxkeys::megolm::SIGNED_LEN),
    }
    assert_eq!(data.get(133..165), Some(&k.signing_key()[..]));
    assert_eq!(data.get(5..133), Some(&k.ratchet().expose()[..]));
    let again = SessionKey::from_base64(&encode_unpadded(data));
    assert!(again.is_ok_and(|a| a.same_session(&k) && a.first_index() == k.first_index()));
    let mut r = k.to_ratchet();
    let step = u32::from(data.last().copied().unwrap_or(0)) * 257;
    let target = k.first_index().saturating_add(step);
    assert!(r.advance_to(target).is_ok());
    assert_eq!(r.index(), target);
    if let Some(before) = k.first_index().checked_sub(1) {
        assert!(
            k.to_ratchet().advance_to(before).is_err(),
            "the ratchet went backwards"
        );
    }
}

/// Encrypt arbitrary plaintext with the streaming writer (1..=16 rounds, arbitrary salt, IV,
/// passphrase and write sizes), then read it back: same header, same bytes; another passphrase
/// fails.
pub fn export_roundtrip(data: &[u8]) {
    let mut t = Take(data);
    let rounds = u32::from(t.byte() % 16) + 1;
    let salt = t.array::<16>();
    let iv = t.array::<16>();
    let plen = usize::from(t.byte() % 32);
    let pass = Passphrase::new(String::from_utf8_lossy(t.bytes(plen)).into_owned());
    let step = t.step();
    let plain = t.rest();
    let Ok(r) = Rounds::new(rounds, FUZZ_MAX_ROUNDS) else {
        return;
    };
    let w = export::ExportWriter::new(Vec::new(), &pass, r, Nonces { salt, iv });
    let mut w = match w {
        Ok(w) => w,
        Err(e) => {
            assert!(
                pass.is_empty() && matches!(e, Error::EmptyPassphrase),
                "{e}"
            );
            return;
        }
    };
    let file = write_in_steps(&mut w, plain, step).and_then(|()| w.finish());
    let Some(file) = must(file, "writing into a Vec failed") else {
        return;
    };
    let limits = Limits {
        max_rounds: FUZZ_MAX_ROUNDS,
    };
    // The writer clears bit 63 of the IV (the top bit of byte 8).
    let mut written_iv = iv;
    if let Some(b) = written_iv.get_mut(8) {
        *b &= 0x7f;
    }
    let i = export::inspect(&file[..]);
    assert!(
        i.as_ref().is_ok_and(|i| i.header.rounds == rounds
            && i.header.salt == salt
            && i.header.iv == written_iv
            && i.ciphertext_len == plain.len() as u64
            && i.armor.final_newline),
        "inspect disagrees with what was written"
    );
    let mut back = Vec::new();
    let read = export::open(Cursor::new(&file[..]), &pass, &limits)
        .and_then(|v| v.into_plaintext())
        .and_then(|mut p| p.read_to_end(&mut back).map_err(Error::from_io));
    assert!(read.is_ok(), "own export does not open");
    assert_eq!(back, plain);
    // HMAC zero-pads its key, so passphrases that differ only by trailing NUL bytes ("fuzz" and
    // "fuzz\0") derive the same key in every PBKDF2-HMAC implementation: not "another" one.
    let other = Passphrase::new(
        if pass.expose().trim_end_matches('\0') == "fuzz" {
            "other"
        } else {
            "fuzz"
        }
        .into(),
    );
    let wrong = export::open(Cursor::new(&file[..]), &other, &limits);
    assert!(
        matches!(wrong, Err(Error::ExportMac)),
        "another passphrase opens it"
    );
}

/// Encrypt arbitrary plaintext as an attachment (any key and IV, uneven writes) and decrypt it
/// with the `EncryptedFile` read back from its JSON: the same bytes; a changed, cut or extended
/// ciphertext fails the hash.
pub fn attachment_roundtrip(data: &[u8]) {
    let mut t = Take(data);
    let mut key = t.array::<32>();
    let iv = t.array::<8>();
    let step = t.step();
    let flip = usize::from(t.byte());
    let plain = t.rest();
    let mut enc = AttachmentEncryptor::new(Vec::new(), &mut key, iv);
    assert_eq!(key, [0u8; 32], "the caller's key copy was not wiped");
    let done = write_in_steps(&mut enc, plain, step).and_then(|()| enc.finish(None));
    let Some((file, ct)) = must(done, "writing into a Vec failed") else {
        return;
    };
    assert_eq!(ct.len(), plain.len());
    let Some(text) = must(
        serde_json::to_vec(&file),
        "EncryptedFile does not serialize",
    ) else {
        return;
    };
    let read = serde_json::from_slice::<Value>(&text)
        .ok()
        .and_then(|doc| find_encrypted_file(&doc, false).ok());
    assert_eq!(read.as_ref(), Some(&file), "EncryptedFile JSON round trip");
    let Some(k) = must(AttachmentKey::from_info(&file), "own EncryptedFile refused") else {
        return;
    };
    let decrypt = |ct: &[u8]| {
        let mut out = Vec::new();
        let mut d = AttachmentDecryptor::new(&mut out, &k);
        let _ = write_in_steps(&mut d, ct, step);
        d.finish().map(|_| ()).map(|()| out)
    };
    assert_eq!(decrypt(&ct).ok().as_deref(), Some(plain));
    let mut changed = ct.clone();
    let n = changed.len();
    if let Some(b) = changed.get_mut(flip % n.max(1)) {
        *b ^= 1;
        assert!(decrypt(&changed).is_err(), "a changed byte passed the hash");
        let cut = ct.get(..n - 1).unwrap_or_default();
        assert!(decrypt(cut).is_err(), "a cut file passed the hash");
    }
    let mut longer = ct.clone();
    longer.push(0);
    assert!(
        decrypt(&longer).is_err(),
        "an extended file passed the hash"
    );
}

/// `encrypt_session_data` then `decrypt_session_data` with any backup key and ephemeral key: the
/// MAC always matches (the empty-message MAC), the plaintext comes back when it is a session
/// object, a damaged one is refused only by the JSON or session-key checks; another key fails
/// the MAC.
pub fn backup_roundtrip(data: &[u8]) {
    let mut t = Take(data);
    let mut private = t.array::<32>();
    let mut eph = t.array::<32>();
    let wrap = t.byte() % 2 == 1;
    let rest = t.rest();
    let key = RecoveryKey::from_bytes(&mut private);
    let mut other = *key.expose();
    if let Some(b) = other.get_mut(1) {
        *b ^= 1; // byte 0's low bits are clamped away by X25519; byte 1 is not
    }
    let other = RecoveryKey::from_bytes(&mut other);
    let plaintext = if wrap {
        let v = json!({"algorithm": "m.megolm.v1.aes-sha2", "session_key": SESSION_KEY,
            "fuzz": String::from_utf8_lossy(rest)});
        serde_json::to_vec(&v).unwrap_or_default()
    } else {
        rest.to_vec()
    };
    let sd = backup::encrypt_session_data(&key.backup_public_key(), &plaintext, &mut eph);
    assert_eq!(eph, [0u8; 32], "the ephemeral secret was not wiped");
    match backup::decrypt_session_data(&key, &sd, None) {
        Ok(d) => {
            assert_eq!(d.mac, MacKind::Empty);
            let want = serde_json::from_slice::<SessionRecord>(&plaintext);
            assert!(
                want.is_ok_and(|w| w == d.plaintext),
                "the plaintext changed"
            );
        }
        Err(e) => assert!(
            !wrap
                && matches!(
                    e.kind(),
                    backup::FailureKind::Json | backup::FailureKind::SessionKey
                ),
            "own session_data refused: {e}"
        ),
    }
    let wrong = backup::decrypt_session_data(&other, &sd, None);
    assert!(
        wrong.is_err_and(|e| e.kind() == backup::FailureKind::Mac),
        "another key passed the MAC"
    );
}

/// `encrypt_secret` then `decrypt_secret`, and the same through whole account data made with
/// `describe_key`: any key, IV, name and text come back; another name or key is refused.
pub fn ssss_roundtrip(data: &[u8]) {
    let mut t = Take(data);
    let key = t.array::<32>();
    let iv = t.array::<16>();
    let nlen = usize::from(t.byte() % 64);
    let name = String::from_utf8_lossy(t.bytes(nlen)).into_owned();
    let plain = String::from_utf8_lossy(t.rest()).into_owned();
    let payload = ssss::encrypt_secret(&key, &name, &plain, iv);
    let back = ssss::decrypt_secret(&key, &name, &payload);
    assert!(back.is_ok_and(|b| *b == plain), "secret round trip");
    let renamed = ssss::decrypt_secret(&key, &format!("{name}x"), &payload);
    assert!(
        matches!(renamed, Err(Error::SsssMac { .. })),
        "another name passed the MAC"
    );

    let mut doc = Map::new();
    doc.insert(
        format!("{}FUZZ", ssss::KEY_PREFIX),
        ssss::describe_key(&key, iv, Some("fuzz")),
    );
    doc.insert(ssss::DEFAULT_KEY.into(), json!({"key": "FUZZ"}));
    let Some(mut ad) = must(
        AccountData::parse(&Value::Object(doc)),
        "own account data refused",
    ) else {
        return;
    };
    ad.set_encrypted(&name, "FUZZ", payload);
    let Some(desc) = must(ad.resolve_key(None), "own key description refused") else {
        return;
    };
    assert_eq!(desc.id, "FUZZ");
    let rk = RecoveryKey::from_bytes(&mut key.clone());
    let u = ssss::unlock(&desc, Unlock::SecurityKey(&rk), &FUZZ_LIMITS);
    let Some(u) = must(u, "own Security Key refused") else {
        return;
    };
    assert_eq!(u.check, KeyCheck::Verified);
    let all = ssss::decrypt_secrets(&ad, &u, &[]);
    let got = all.ok().and_then(|r| {
        r.into_iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.ok())
    });
    assert_eq!(got.as_deref().map(String::as_str), Some(plain.as_str()));
    let mut wrong = key;
    if let Some(b) = wrong.get_mut(0) {
        *b ^= 1;
    }
    let wk = RecoveryKey::from_bytes(&mut wrong);
    let refused = ssss::unlock(&desc, Unlock::SecurityKey(&wk), &FUZZ_LIMITS);
    assert!(
        matches!(refused, Err(Error::SsssWrongKey { .. })),
        "another key unlocked it"
    );
}

/// A megolm ciphertext (decoded bytes): parsing, then decrypting with a fixed session's ratchet
/// advanced to the message's index, which checks the MAC first.
pub fn megolm_message(data: &[u8]) {
    let Ok(m) = Message::parse(data) else {
        return;
    };
    assert!(data.len() >= 1 + 8 + 64 && data.first() == Some(&3));
    let Some(sk) = must(
        SessionKey::from_base64(SESSION_KEY),
        "the fixed session key",
    ) else {
        return;
    };
    let mut r = sk.to_ratchet();
    if r.advance_to(m.index).is_ok() {
        assert_eq!(r.index(), m.index);
        let _ = m.decrypt(&r, sk.signing_key()).map(|p| p.len());
    }
}

/// QR pictures: any bytes through the PNG/JPEG decoders and rqrr (at most 1 megapixel, so each
/// input costs milliseconds); a payload that comes out is what `decode_qr` says of the code's bytes.
#[cfg(feature = "qr-image")]
pub fn identity_qr_image(data: &[u8]) {
    use mxkeys::identity::{decode_qr, decode_qr_image, qr_bytes_from_image, QrImageError};
    const LIMIT: u64 = 1 << 20;
    match qr_bytes_from_image(data, LIMIT) {
        Ok(raw) => match decode_qr_image(data, LIMIT) {
            Ok(q) => assert_eq!(decode_qr(&raw), Ok(q)),
            Err(e) => assert!(
                matches!(e, QrImageError::NotMatrix { .. } | QrImageError::Payload(_)),
                "{e}"
            ),
        },
        Err(e) => assert_eq!(decode_qr_image(data, LIMIT), Err(e)),
    }
}

/// QR verification payloads: a payload that decodes accounts for every byte of the input.
pub fn identity_qr(data: &[u8]) {
    let Ok(q) = mxkeys::identity::decode_qr(data) else {
        return;
    };
    assert_eq!(q.version, 2);
    assert!(q.mode <= 2);
    assert!(q.secret_len >= 8);
    assert_eq!(
        data.len(),
        6 + 1 + 1 + 2 + q.transaction_id.len() + 32 + 32 + q.secret_len
    );
    for k in [&q.key1, &q.key2] {
        assert!(decode_lenient(k).is_ok_and(|b| b.len() == 32));
    }
    let _ = (q.key_meanings(), q.mode_meaning());
}

/// Strict JSON parsing and canonical JSON: canonical text parses back strictly and is a fixed
/// point (canonicalizing it again gives the same text).
pub fn canonical_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(v) = mxkeys::identity::parse_strict(text) else {
        return;
    };
    let Ok(c) = mxkeys::identity::canonical_json(&v) else {
        return;
    };
    let back = mxkeys::identity::parse_strict(&c);
    assert!(back.is_ok(), "canonical JSON does not parse strictly: {c}");
    let again = back.ok().map(|b| mxkeys::identity::canonical_json(&b));
    assert!(
        again
            .as_ref()
            .is_some_and(|a| a.as_ref().is_ok_and(|a| *a == c)),
        "canonical JSON is not a fixed point: {c} then {again:?}"
    );
}

/// Up to four session arrays cut from the input at `0xFF` bytes (which UTF-8, so JSON text, never
/// contains), each read as `export merge` reads a file; pieces that are not such an array are
/// left out, as the CLI would refuse them.
fn session_arrays(data: &[u8]) -> Vec<Vec<SessionRecord>> {
    let mut inputs = Vec::new();
    for piece in data.split(|&b| b == 0xff).take(4) {
        let mut sessions = Vec::new();
        let read = mxkeys::session::for_each(piece, "input", |s: SessionRecord| {
            sessions.push(s);
            Ok(())
        });
        if read.is_ok() {
            inputs.push(sessions);
        }
    }
    inputs
}

fn key_of(s: &SessionRecord) -> Option<SessionKey> {
    s.session_key
        .as_ref()
        .and_then(|k| SessionKey::from_base64(k.expose()).ok())
}

/// The key-derived session ids of sessions.
fn session_ids(sessions: &[&SessionRecord]) -> Vec<String> {
    sessions
        .iter()
        .filter_map(|s| key_of(s))
        .map(|k| k.session_id())
        .collect()
}

/// `export merge` on up to four inputs (see [`session_arrays`]), checked against what the inputs
/// say, worked out here without merge's bookkeeping: every session validation passes has a key
/// that parses and names its own id; the output holds one copy per session, an unchanged input
/// session with the lowest first index (then the shortest forwarding chain, then trusted); a
/// session is left out exactly when two of its copies are not the same ratchet; the counts add
/// up; merging the output again changes nothing; the input order changes no first index and no
/// verdict.
pub fn merge(data: &[u8]) {
    use std::collections::{BTreeMap, BTreeSet};
    let inputs = session_arrays(data);
    let (out, report) = mxkeys::merge::merge(&inputs);

    // (input, position, key) of every copy validation accepts, by the id its key gives.
    let mut copies: BTreeMap<String, Vec<(usize, usize, SessionKey)>> = BTreeMap::new();
    let mut invalid = 0;
    for (i, sessions) in inputs.iter().enumerate() {
        let reports = mxkeys::merge::validate_all(sessions);
        assert_eq!(reports.len(), sessions.len(), "one report per session");
        for (j, (s, r)) in sessions.iter().zip(&reports).enumerate() {
            assert_eq!(r.index, j);
            if r.status() == mxkeys::session::ReportStatus::Invalid {
                invalid += 1;
                continue;
            }
            let key = key_of(s);
            assert!(
                key.is_some(),
                "validation passed a session whose key does not parse"
            );
            let Some(key) = key else { continue };
            let sid = key.session_id();
            assert_eq!(
                s.session_id.as_deref(),
                Some(sid.as_str()),
                "validation passed a session_id that is not its key's"
            );
            assert_eq!(r.first_index, Some(key.first_index()));
            copies.entry(sid).or_default().push((i, j, key));
        }
    }
    assert_eq!(report.inputs, inputs.len());
    assert_eq!(report.read, inputs.iter().map(Vec::len).sum::<usize>());
    assert_eq!(report.invalid.len(), invalid);
    assert_eq!(report.unique, out.len());

    let conflicts: BTreeSet<&str> = report
        .conflicts
        .iter()
        .map(|c| c.session_id.as_str())
        .collect();
    assert_eq!(
        conflicts.len(),
        report.conflicts.len(),
        "a conflict listed twice"
    );
    let out_ids = session_ids(&out);
    assert_eq!(
        out_ids.len(),
        out.len(),
        "an output session has no usable key"
    );
    let kept: BTreeSet<&str> = out_ids.iter().map(String::as_str).collect();
    assert_eq!(kept.len(), out.len(), "a session is in the output twice");
    assert!(
        kept.is_disjoint(&conflicts),
        "a session both kept and in conflict"
    );
    let decided: BTreeSet<&str> = kept.union(&conflicts).copied().collect();
    let valid: BTreeSet<&str> = copies.keys().map(String::as_str).collect();
    assert_eq!(decided, valid, "every valid session is kept or in conflict");

    for (sid, cs) in &copies {
        let all_same = cs
            .iter()
            .all(|(_, _, a)| cs.iter().all(|(_, _, b)| a.same_session(b)));
        assert_eq!(
            conflicts.contains(sid.as_str()),
            !all_same,
            "conflict verdict for {sid}"
        );
    }
    let rank = |input: usize, pos: usize, key: &SessionKey| {
        let s = inputs.get(input).and_then(|i| i.get(pos));
        let chain = s
            .and_then(|s| s.forwarding_curve25519_key_chain.as_ref())
            .map_or(0, Vec::len);
        let untrusted = s.and_then(|s| s.untrusted).unwrap_or(false);
        (key.first_index(), chain, untrusted)
    };
    for (s, sid) in out.iter().zip(&out_ids) {
        let cs = copies.get(sid).map(Vec::as_slice).unwrap_or_default();
        let best = cs.iter().map(|(i, j, k)| rank(*i, *j, k)).min();
        let winners: Vec<_> = cs
            .iter()
            .filter(|(i, j, _)| inputs.get(*i).and_then(|x| x.get(*j)) == Some(*s))
            .collect();
        assert!(!winners.is_empty(), "{sid}: the output copy is no input's");
        assert!(
            winners
                .iter()
                .any(|(i, j, k)| Some(rank(*i, *j, k)) == best),
            "{sid}: a worse copy won"
        );
        let distinct: BTreeSet<usize> = cs.iter().map(|(i, _, _)| *i).collect();
        let chosen = report.chosen.iter().find(|c| c.session_id == *sid);
        assert_eq!(chosen.is_some(), distinct.len() > 1, "{sid}: chosen entry");
        if let Some(c) = chosen {
            assert!(winners.iter().any(|(i, _, _)| *i == c.from));
            assert_eq!(Some(c.first_index), best.map(|b| b.0));
        }
    }

    let owned: Vec<SessionRecord> = out.iter().map(|s| (*s).clone()).collect();
    let (again, r2) = mxkeys::merge::merge(std::slice::from_ref(&owned));
    assert_eq!(again, out, "merging the output again changed it");
    assert!(r2.conflicts.is_empty() && r2.invalid.is_empty() && r2.replaced == 0);

    let mut reversed = inputs.clone();
    reversed.reverse();
    let (out2, r3) = mxkeys::merge::merge(&reversed);
    let firsts = |o: &[&SessionRecord]| -> BTreeMap<String, u32> {
        o.iter()
            .filter_map(|s| key_of(s))
            .map(|k| (k.session_id(), k.first_index()))
            .collect()
    };
    assert_eq!(
        firsts(&out2),
        firsts(&out),
        "the input order changed the result"
    );
    let conflicts2: BTreeSet<&str> = r3.conflicts.iter().map(|c| c.session_id.as_str()).collect();
    assert_eq!(conflicts2, conflicts);
}

/// `events decrypt`: a keys file (a session array) and an events file (any shape
/// `parse_events` reads), cut at the first `0xFF` byte. One outcome per event, in order, each
/// the same as when that event is decrypted alone and when the events come in reverse order (the
/// ratchet is shared per session); what decrypts is a megolm event whose ciphertext names that
/// message index, and names the event's room; every outcome explains itself.
pub fn events(data: &[u8]) {
    use mxkeys::events::{
        decrypt_events, decrypted_event, parse_events, KeyStore, Outcome, MEGOLM,
    };
    let (keys, rest) = match data.iter().position(|&b| b == 0xff) {
        Some(at) => (
            data.get(..at).unwrap_or_default(),
            data.get(at + 1..).unwrap_or_default(),
        ),
        None => (&[][..], data),
    };
    let mut sessions = Vec::new();
    let _ = mxkeys::session::for_each(keys, "keys", |s: SessionRecord| {
        sessions.push(s);
        Ok(())
    });
    let store = KeyStore::from_sessions(&sessions);
    assert!(store.len() + store.rejected.len() <= sessions.len());
    let events = match parse_events(rest) {
        Ok(e) => e,
        Err(why) => {
            assert!(!why.to_string().is_empty());
            return;
        }
    };
    let outcomes = decrypt_events(&store, &events);
    assert_eq!(outcomes.len(), events.len(), "one outcome per event");

    let mut backwards: Vec<Value> = events.clone();
    backwards.reverse();
    let mut again = decrypt_events(&store, &backwards);
    again.reverse();
    assert_eq!(
        again, outcomes,
        "the order of the events changed an outcome"
    );

    for (n, (ev, o)) in events.iter().zip(&outcomes).enumerate() {
        assert!(!o.explain().is_empty());
        let tagged = serde_json::to_value(o).ok();
        assert_eq!(
            tagged
                .as_ref()
                .and_then(|t| t.get("result"))
                .and_then(Value::as_str),
            Some(o.kind().as_str())
        );
        if let Outcome::Format { why } = o {
            assert!(!why.starts_with("internal"), "an event was not processed");
        }
        if n < 32 {
            let alone = decrypt_events(&store, std::slice::from_ref(ev));
            assert_eq!(
                alone.first(),
                Some(o),
                "event {n} decrypts differently alone"
            );
        }
        let content = ev.get("content");
        let algorithm = content
            .and_then(|c| c.get("algorithm"))
            .and_then(Value::as_str);
        match o {
            Outcome::Ok {
                message_index,
                plaintext,
            } => {
                assert_eq!(algorithm, Some(MEGOLM));
                let index = content
                    .and_then(|c| c.get("ciphertext"))
                    .and_then(Value::as_str)
                    .and_then(|c| decode_lenient(c).ok())
                    .and_then(|b| Message::parse(&b).ok().map(|m| m.index));
                assert_eq!(index, Some(*message_index));
                assert!(plaintext.is_object());
                if let (Some(a), Some(b)) = (
                    ev.get("room_id").and_then(Value::as_str),
                    plaintext.get("room_id").and_then(Value::as_str),
                ) {
                    assert_eq!(a, b, "decrypted an event replayed into another room");
                }
                let shown = decrypted_event(&store, ev, plaintext);
                assert_eq!(shown.get("event_id"), ev.get("event_id"));
                assert_eq!(
                    shown.get("type"),
                    Some(plaintext.get("type").unwrap_or(&Value::Null))
                );
            }
            Outcome::TooLate {
                message_index,
                first_known_index,
                ..
            } => assert!(message_index < first_known_index),
            Outcome::UnknownAlgorithm { algorithm: a } => {
                assert_ne!(a.as_deref(), Some(MEGOLM));
                assert_eq!(a.as_deref(), algorithm);
            }
            _ => {}
        }
    }
}

/// `cross-signing check` on any `/keys/query` response, for every user in it as seen by each of
/// them (and by a stranger): problems are sorted; every device of the user gets a status; a
/// cross-signed device needs a valid self-signing key, which needs a master key; the master key
/// reported is the published one; no problem means a valid chain.
pub fn cross_signing(data: &[u8]) {
    use mxkeys::identity::{check_user, published_cross_signing_key, DeviceStatus};
    let Ok(resp) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let mut users = mxkeys::identity::users(&resp);
    users.truncate(4);
    let mut viewers = users.clone();
    viewers.push("@stranger:example.org".into());
    for u in &users {
        let mut devices: Vec<String> = resp
            .get("device_keys")
            .and_then(|d| d.get(u))
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        devices.sort();
        for v in &viewers {
            let r = check_user(&resp, u, v);
            assert!(r.problems.windows(2).all(|w| w.first() <= w.get(1)));
            assert_eq!(r.signed_by_viewer_user_signing.is_none(), u == v);
            assert_eq!(
                r.devices.keys().cloned().collect::<Vec<_>>(),
                devices,
                "every device gets a status"
            );
            if let Some(m) = &r.master_key {
                assert_eq!(
                    published_cross_signing_key(&resp, u, "master").as_ref(),
                    Some(m)
                );
            }
            if r.self_signing_valid {
                assert!(r.master_key.is_some());
            }
            if r.devices.values().any(|d| *d == DeviceStatus::CrossSigned) {
                assert!(
                    r.self_signing_valid,
                    "a device is cross-signed by an invalid key"
                );
            }
            if r.problems.is_empty() {
                assert!(r.master_key.is_some() && r.self_signing_valid);
            }
            if r.signed_by_viewer_user_signing == Some(true) {
                assert!(r.master_key.is_some());
            }
        }
    }
}

/// `account::doctor` and `account::identify` on one JSON document: either
/// `{"account_data", "backup_version"?, "keys_query"?, "backup"?}` or account data alone, with a
/// fixed Security Key, a phrase and no key. Every run lists the ten checks in their order, and a
/// diagnosis "fails" exactly when one check does.
pub fn account_doctor(data: &[u8]) {
    use mxkeys::account::{self, CheckId, Held, Inputs, Status};
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let (ad_doc, version, kq, backup_doc) = match doc.get("account_data") {
        Some(ad) => (
            ad.clone(),
            doc.get("backup_version").cloned(),
            doc.get("keys_query").cloned(),
            doc.get("backup").cloned(),
        ),
        None => (doc.clone(), None, None, None),
    };
    let Ok(ad) = AccountData::parse(&ad_doc) else {
        return;
    };
    let entries = backup_doc
        .as_ref()
        .and_then(|b| backup::entries(b, None, None).ok())
        .map(|(_, e)| e);
    let key = fixed_key(SSSS_KEY);
    let phrase = Passphrase::new(SSSS_PHRASE.into());
    let mut helds: Vec<Option<Held<'_>>> = vec![None, Some(Held::Phrase(&phrase))];
    if let Some(k) = &key {
        helds.push(Some(Held::Key(k)));
    }
    for held in helds {
        let inputs = Inputs {
            account: &ad,
            backup_version: version.as_ref(),
            keys_query: kq.as_ref(),
            user_id: Some("@alice:example.org"),
            backup: entries.as_ref().map(|e| e as &dyn account::BackupSessions),
            held,
            backup_key: key.as_ref(),
            limits: FUZZ_LIMITS,
        };
        if let Ok(d) = account::doctor(&inputs) {
            let ids: Vec<CheckId> = d.checks.iter().map(|c| c.id).collect();
            assert_eq!(ids, CheckId::ALL);
            assert_eq!(
                d.failed(),
                d.checks.iter().any(|c| c.status == Status::Fail)
            );
            if held.is_none() {
                assert!(d.identified.is_none());
            }
        }
        if let Some(h) = held {
            let _ = account::identify(h, Some(&ad), version.as_ref(), &FUZZ_LIMITS);
        }
    }
}

/// `dehydrated-device decrypt`'s device body: arbitrary JSON through [`DehydratedDevice::parse`]
/// and, when it parses, rehydrated with the committed vector's pickle key (so a seed from
/// test-vectors/dehydrated reaches vodozemac's pickle parser); the same bytes also go straight
/// to the parser behind the AEAD. Errors explain themselves; a device that opens has its
/// Curve25519 and Ed25519 keys.
///
/// [`DehydratedDevice::parse`]: mxkeys::dehydrated::DehydratedDevice::parse
pub fn dehydrated_device(data: &[u8]) {
    use mxkeys::dehydrated::{DehydratedDevice, PickleKey};
    let _ = mxkeys::dehydrated::parse_decrypted_pickle(data);
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let device = match DehydratedDevice::parse(&doc) {
        Ok(d) => d,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let key = PickleKey::from_base64(include_str!("../../test-vectors/dehydrated/pickle-key.txt"));
    let Ok(key) = key else {
        return;
    };
    match device.rehydrate(&key) {
        Ok(r) => {
            assert_eq!(
                decode_lenient(&r.curve25519).map(|b| b.len()).ok(),
                Some(32)
            );
            assert_eq!(decode_lenient(&r.ed25519).map(|b| b.len()).ok(), Some(32));
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// `dehydrated-device decrypt`'s events: arbitrary JSON (a page, or an array of events) decrypted
/// by the committed v2 device (test-vectors/dehydrated). One outcome per event, each explained;
/// a decrypted payload names a sender and an Ed25519 key, and the room keys it gives are
/// megolm sessions whose key parses; an event given twice never decrypts to a different
/// payload type.
pub fn dehydrated_events(data: &[u8]) {
    use mxkeys::dehydrated::{page, room_keys, DehydratedDevice, Outcome, PickleKey, RoomKeys};
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let events = match doc {
        Value::Array(a) => a,
        doc if doc.get("events").is_some_and(Value::is_array) => {
            page(doc).map(|(events, _)| events).unwrap_or_default()
        }
        other => vec![other],
    };
    let device: Value =
        serde_json::from_str(include_str!("../../test-vectors/dehydrated/device.json"))
            .unwrap_or(Value::Null);
    let key = PickleKey::from_base64(include_str!("../../test-vectors/dehydrated/pickle-key.txt"));
    let (Ok(device), Ok(key)) = (DehydratedDevice::parse(&device), key) else {
        return;
    };
    let Ok(mut dev) = device.rehydrate(&key) else {
        return;
    };
    for ev in events.iter().take(64) {
        let first = dev.decrypt(ev);
        match &first {
            Outcome::Decrypted(d) => {
                assert!(!d.sender.is_empty() && !d.sender_ed25519.is_empty());
                // An m.room_key's key was parsed and checked on the way: it is written in the
                // export format, for the session it names.
                if let (RoomKeys::Sessions(list), "m.room_key") =
                    (room_keys(d), d.event_type.as_str())
                {
                    for s in list {
                        let key = s
                            .session_key
                            .as_ref()
                            .map(|k| SessionKey::from_base64(k.expose()));
                        let Some(Ok(key)) = key else {
                            panic!("an m.room_key session without a usable key");
                        };
                        assert_eq!(key.format(), SessionKeyFormat::Export);
                        assert_eq!(Some(key.session_id()), s.session_id);
                    }
                }
            }
            Outcome::Failed { reason } => assert!(!reason.is_empty()),
            _ => {}
        }
        if let (Outcome::Decrypted(a), Outcome::Decrypted(b)) = (&first, &dev.decrypt(ev)) {
            assert_eq!(a.event_type, b.event_type);
        }
    }
}
