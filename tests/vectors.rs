//! Replays test-vectors/export/: files written by Element Web, matrix-sdk-crypto-wasm and
//! matrix-nio (and malformed variants), each with its expected outcome in manifest.json, and the
//! four `TEST_VECTORS` of Element's own unit test, whose plaintexts are short strings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;

use mxkeys::export::{self, CounterReading, Limits, Nonces, PassphraseEncoding};
use mxkeys::kdf::Rounds;
use mxkeys::Passphrase;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use vectors::{VectorList, Vectors};

type Manifest = VectorList<Vector>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    file: String,
    made_by: String,
    passphrase: String,
    expect: String,
    plaintext: Option<String>,
    plaintext_sha256: Option<String>,
    passphrase_encoding: Option<String>,
    rounds: Option<u32>,
    /// A plaintext that is not sessions (so `expect` is `json`): the file holding its exact bytes.
    raw_plaintext: Option<String>,
    raw_plaintext_sha256: Option<String>,
    /// Which counter gives `raw_plaintext`: agreed | wrap64 | full128.
    counter: Option<String>,
    /// Where a vector copied from another project comes from.
    source: Option<Source>,
    comment: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    repository: String,
    path: String,
    commit: String,
}

#[path = "common/vectors.rs"]
mod vectors;

const V: Vectors = Vectors("export");

#[test]
fn every_file_is_listed_and_every_entry_is_complete() {
    let m: Manifest = V.manifest();
    let mut listed = BTreeSet::new();
    listed.insert("manifest.json".to_string());
    listed.insert("README.md".to_string());
    // The passphrase of element-web-r500000.txt as a file, for README's first command.
    listed.insert("element-web-r500000.passphrase".to_string());
    for v in &m.vectors {
        assert!(listed.insert(v.file.clone()), "{} listed twice", v.file);
        assert!(!v.made_by.is_empty() && !v.comment.is_empty(), "{}", v.file);
        let ok = v.expect == "ok";
        assert_eq!(ok, v.plaintext.is_some(), "{}: plaintext iff ok", v.file);
        assert_eq!(
            ok,
            v.plaintext_sha256.is_some(),
            "{}: sha256 iff ok",
            v.file
        );
        assert_eq!(
            ok,
            v.passphrase_encoding.is_some(),
            "{}: encoding iff ok",
            v.file
        );
        assert!(
            [
                "ok",
                "armor",
                "version",
                "too_short",
                "rounds",
                "mac",
                "json"
            ]
            .contains(&v.expect.as_str()),
            "{}: unknown outcome {}",
            v.file,
            v.expect
        );
        if let Some(p) = &v.plaintext {
            listed.insert(p.clone());
        }
        let raw = v.raw_plaintext.is_some();
        assert_eq!(raw, v.raw_plaintext_sha256.is_some(), "{}", v.file);
        assert_eq!(raw, v.counter.is_some(), "{}", v.file);
        assert!(
            !raw || v.expect == "json",
            "{}: a raw plaintext is not sessions",
            v.file
        );
        if let Some(p) = &v.raw_plaintext {
            assert!(listed.insert(p.clone()), "{p} listed twice");
        }
        if let Some(s) = &v.source {
            assert!(!s.repository.is_empty() && !s.path.is_empty(), "{}", v.file);
            assert!(
                s.commit.len() == 40 && s.commit.bytes().all(|b| b.is_ascii_hexdigit()),
                "{}: commit {}",
                v.file,
                s.commit
            );
        }
    }
    V.assert_every_file_listed(&listed);
    assert!(m.vectors.len() >= 30, "only {} vectors", m.vectors.len());
}

fn outcome(v: &Vector) -> Result<(Vec<u8>, PassphraseEncoding), String> {
    let text = fs::read(V.dir().join(&v.file)).unwrap();
    let pass = Passphrase::new(v.passphrase.clone());
    export::decrypt(&text, &pass, &Limits::default())
        .map(|d| (d.plaintext.to_vec(), d.encoding))
        .map_err(|e| e.kind().to_string())
}

#[test]
fn every_vector_has_its_expected_outcome() {
    let mut ok = 0;
    for v in V.manifest::<Manifest>().vectors {
        let ctx = format!("{} ({}): {}", v.file, v.made_by, v.comment);
        match (outcome(&v), v.expect.as_str()) {
            (Ok((plain, enc)), "ok") => {
                let sha = hex::encode(Sha256::digest(&plain));
                assert_eq!(Some(&sha), v.plaintext_sha256.as_ref(), "{ctx}");
                let want: serde_json::Value = serde_json::from_slice(
                    &fs::read(V.dir().join(v.plaintext.as_ref().unwrap())).unwrap(),
                )
                .unwrap();
                let got: serde_json::Value = serde_json::from_slice(&plain).unwrap();
                assert_eq!(got, want, "{ctx}");
                let enc = match enc {
                    PassphraseEncoding::Utf8 => "utf-8",
                    PassphraseEncoding::Latin1 => "latin1",
                };
                assert_eq!(Some(enc), v.passphrase_encoding.as_deref(), "{ctx}");
                ok += 1;
            }
            (Err(kind), expect) => assert_eq!(kind, expect, "{ctx}"),
            (Ok(_), expect) => panic!("{ctx}: decrypted, expected {expect}"),
        }
    }
    assert!(ok >= 15, "only {ok} vectors decrypt");
}

#[test]
fn inspect_reads_the_rounds_without_a_passphrase() {
    for v in V.manifest::<Manifest>().vectors {
        let text = fs::read(V.dir().join(&v.file)).unwrap();
        match (export::inspect(&text[..]), v.rounds) {
            (Ok(i), Some(r)) => assert_eq!(i.header.rounds, r, "{}", v.file),
            (Err(e), None) => assert!(
                ["armor", "too_short"].contains(&e.kind().as_str()),
                "{}",
                v.file
            ),
            (Ok(_), None) => panic!("{}: inspect worked but manifest has no rounds", v.file),
            (Err(e), Some(_)) => panic!("{}: inspect failed: {e}", v.file),
        }
    }
}

#[test]
fn inspect_names_the_writer_of_untouched_peer_files() {
    for (file, writer) in [
        ("element-web-r500000.txt", "Element Web"),
        ("element-web-r1000.txt", "Element Web"),
        // Same armor, same IV bit: at other than nio's default rounds the file cannot tell.
        ("wasm-r100000.txt", "matrix-rust-sdk or matrix-nio"),
        ("nio-r10000.txt", "matrix-nio"),
    ] {
        let text = fs::read(V.dir().join(file)).unwrap();
        let guess = export::guess_writer(&export::inspect(&text[..]).unwrap());
        assert_eq!(guess.writer, writer, "{file}: {:?}", guess.evidence);
    }
}

/// With the passphrase, the plaintext's layout tells matrix-nio (json.dumps, written by nio's own
/// encrypt_and_save: gen/nio_layout.py) from matrix-rust-sdk (wasm), which the armor cannot.
#[test]
fn the_plaintext_tells_nio_from_the_rust_sdk() {
    let pass = Passphrase::new("correct horse battery staple".into());
    for (file, writer) in [
        ("nio-layout-r100000.txt", "matrix-nio"),
        ("wasm-r100000.txt", "matrix-rust-sdk"),
    ] {
        let text = fs::read(V.dir().join(file)).unwrap();
        let guess = export::guess_writer(&export::inspect(&text[..]).unwrap());
        assert_eq!(guess.writer, "matrix-rust-sdk or matrix-nio", "{file}");
        let d = export::decrypt(&text, &pass, &Default::default()).unwrap();
        let guess = export::refine_with_plaintext(guess, &d.plaintext);
        assert_eq!(guess.writer, writer, "{file}: {:?}", guess.evidence);
    }
}

/// Unknown fields, their order and their exact number formats survive decrypt -> encrypt ->
/// decrypt, because mxkeys encrypts the JSON text as it is.
#[test]
fn peer_plaintexts_survive_a_round_trip_byte_for_byte() {
    let pass = Passphrase::new("round trip".into());
    let m: Manifest = V.manifest();
    for v in m.vectors.into_iter().filter(|v| v.expect == "ok") {
        let (plain, _) = outcome(&v).unwrap();
        let nonces = Nonces {
            salt: [9; 16],
            iv: [8; 16],
        };
        let file = export::encrypt(&plain, &pass, Rounds::new(1, 1).unwrap(), nonces).unwrap();
        let back = export::decrypt(file.as_bytes(), &pass, &Limits::default()).unwrap();
        assert_eq!(&back.plaintext[..], &plain[..], "{}", v.file);
    }
}

fn counter_name(c: CounterReading) -> &'static str {
    match c {
        CounterReading::Agreed => "agreed",
        CounterReading::Wrap64 => "wrap64",
        CounterReading::Full128 => "full128",
        CounterReading::Neither => "neither",
    }
}

fn raw_vectors() -> Vec<Vector> {
    V.manifest::<Manifest>()
        .vectors
        .into_iter()
        .filter(|v| v.raw_plaintext.is_some())
        .collect()
}

/// Element's `TEST_VECTORS` (matrix-react-sdk test/utils/MegolmExportEncryption-test.ts): the
/// plaintext, byte for byte, through `decrypt_raw`; `decrypt` refuses them as not sessions.
#[test]
fn element_test_vectors_decrypt_raw_byte_for_byte() {
    let vs = raw_vectors();
    let from_element = vs
        .iter()
        .filter(|v| {
            v.source.as_ref().is_some_and(|s| {
                s.repository == "matrix-org/matrix-react-sdk"
                    && s.path == "test/utils/MegolmExportEncryption-test.ts"
            })
        })
        .count();
    assert_eq!(from_element, 4, "Element's four TEST_VECTORS");
    for v in vs {
        let want = fs::read(V.dir().join(v.raw_plaintext.as_ref().unwrap())).unwrap();
        assert_eq!(
            Some(hex::encode(Sha256::digest(&want))),
            v.raw_plaintext_sha256,
            "{}",
            v.file
        );
        let text = fs::read(V.dir().join(&v.file)).unwrap();
        let pass = Passphrase::new(v.passphrase.clone());
        let d = export::decrypt_raw(&text, &pass, &Limits::default()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&d.plaintext),
            String::from_utf8_lossy(&want),
            "{}",
            v.file
        );
        assert_eq!(&d.plaintext[..], &want[..], "{}", v.file);
        assert_eq!(
            Some(counter_name(d.counter)),
            v.counter.as_deref(),
            "{}",
            v.file
        );
        assert_eq!(d.encoding, PassphraseEncoding::Utf8, "{}", v.file);
        assert_eq!(
            export::decrypt(&text, &pass, &Limits::default())
                .unwrap_err()
                .kind(),
            mxkeys::ErrorKind::Json,
            "{}",
            v.file
        );
    }
}

/// The streaming reader every command uses (`open`, then `into_plaintext`, which expects
/// sessions) gives the same bytes: where neither counter reading is sessions it falls back to
/// Element's 64-bit one, the right one for Element's all-0xff IV.
#[test]
fn element_test_vectors_stream_the_same_bytes() {
    for v in raw_vectors() {
        let want = fs::read(V.dir().join(v.raw_plaintext.as_ref().unwrap())).unwrap();
        let text = fs::read(V.dir().join(&v.file)).unwrap();
        let pass = Passphrase::new(v.passphrase.clone());
        let verified =
            export::open(std::io::Cursor::new(&text[..]), &pass, &Limits::default()).unwrap();
        let mut got = Vec::new();
        verified
            .into_plaintext()
            .unwrap()
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{}",
            v.file
        );
    }
}
