//! Entry points shared by the cargo-fuzz targets in `fuzz/` and by `tests/fuzz_corpus.rs`, which
//! replays every committed corpus and crash input on the stable toolchain.
//!
//! Each function feeds arbitrary bytes to one parser and asserts the properties that must hold
//! for every input: no panic (the fuzzer's job), and canonical round trips where the format has
//! one. Not part of the stable API.

use std::io::{Read, Write};

use crate::export::{self, ArmorReader, ArmorWriter, Limits, Nonces};
use crate::kdf::Rounds;
use crate::Passphrase;

/// Rounds cap for fuzzing: a file asking for more is refused, so each input costs microseconds.
const FUZZ_MAX_ROUNDS: u32 = 16;

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
    let json_ok = crate::session::scan(data, "input", |_| Ok(())).is_ok();
    match export::decrypt(&file, &pass, &Limits::default()) {
        Ok(d) => {
            assert!(json_ok, "decrypt accepted what the JSON check refuses");
            assert_eq!(&d.plaintext[..], data);
        }
        Err(e) => {
            assert!(!json_ok, "valid JSON refused: {e}");
            assert_eq!(e.kind(), "json");
        }
    }
}

/// The session-array scanner on arbitrary bytes, whole and split into one-byte reads.
pub fn session_json(data: &[u8]) {
    let whole = crate::session::scan(data, "input", |_| Ok(())).map_err(|e| e.kind());
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
    let split = crate::session::scan(OneByte(data), "input", |_| Ok(())).map_err(|e| e.kind());
    assert_eq!(whole, split, "result depends on how the input is split");
}
