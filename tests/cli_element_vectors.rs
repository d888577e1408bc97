//! `mxkeys export decrypt` on Element's own test vectors (matrix-react-sdk
//! test/utils/MegolmExportEncryption-test.ts `TEST_VECTORS`, copied into test-vectors/export/ as
//! `element-test-*`): their plaintexts are short strings, not sessions. Without `--raw` the
//! command refuses them with one `error:` line that names `--raw` and prints nothing; with
//! `--raw` it prints the plaintext byte for byte, including the one whose IV is sixteen 0xff
//! bytes, which only Element's 64-bit counter reads.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::Output;

use common::vectors::Vectors;
use common::*;

/// An Element test vector: the export, its passphrase in a file, and its plaintext.
struct ElementVector {
    file: PathBuf,
    plaintext: Vec<u8>,
    counter: String,
    pass_file: PathBuf,
    _dir: tempfile::TempDir,
}

fn element_vectors() -> Vec<ElementVector> {
    let m: serde_json::Value = Vectors("export").manifest();
    let found: Vec<ElementVector> = m["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["file"].as_str().unwrap().starts_with("element-test-"))
        .map(|v| {
            let dir = tmpdir();
            let pass_file = dir.path().join("pass");
            fs::write(
                &pass_file,
                format!("{}\n", v["passphrase"].as_str().unwrap()),
            )
            .unwrap();
            ElementVector {
                file: vectors().join(v["file"].as_str().unwrap()),
                plaintext: fs::read(vectors().join(v["raw_plaintext"].as_str().unwrap())).unwrap(),
                counter: v["counter"].as_str().unwrap().to_owned(),
                pass_file,
                _dir: dir,
            }
        })
        .collect();
    assert_eq!(found.len(), 4, "Element's four TEST_VECTORS");
    found
}

fn decrypt(v: &ElementVector, extra: &[&str]) -> Output {
    let mut args = vec![
        "export",
        "decrypt",
        v.file.to_str().unwrap(),
        "--passphrase-file",
        v.pass_file.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    mxkeys(&args, &[])
}

fn name(v: &ElementVector) -> String {
    v.file.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn without_raw_nothing_is_printed_and_the_one_error_line_names_raw() {
    for v in element_vectors() {
        let o = decrypt(&v, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{}: {err}", name(&v));
        assert!(o.stdout.is_empty(), "{}: stdout {:?}", name(&v), o.stdout);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{}: one line expected: {err}", name(&v));
        assert!(lines[0].starts_with("error: "), "{}: {err}", name(&v));
        assert!(lines[0].contains("--raw"), "{}: {err}", name(&v));
        assert!(lines[0].contains("not a JSON array"), "{}: {err}", name(&v));
    }
}

#[test]
fn without_raw_no_output_file_appears() {
    for v in element_vectors() {
        let d = tmpdir();
        let out = d.path().join("out");
        let o = decrypt(&v, &["-o", out.to_str().unwrap()]);
        assert_fails(&o, 1, "--raw");
        assert!(o.stdout.is_empty(), "{}", name(&v));
        assert_only(d.path(), &[]);
    }
}

#[test]
fn with_raw_stdout_is_the_plaintext_byte_for_byte() {
    for v in element_vectors() {
        let o = decrypt(&v, &["--raw"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{}: {err}", name(&v));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&v.plaintext),
            "{}",
            name(&v)
        );
        assert_eq!(o.stdout, v.plaintext, "{}", name(&v));
        assert!(!err.contains("error:"), "{}: {err}", name(&v));
    }
}

#[test]
fn with_raw_and_output_the_file_is_the_plaintext_and_json_names_the_counter() {
    for v in element_vectors() {
        let d = tmpdir();
        let out = d.path().join("plain");
        let o = mxkeys(
            &[
                "--json",
                "export",
                "decrypt",
                v.file.to_str().unwrap(),
                "--passphrase-file",
                v.pass_file.to_str().unwrap(),
                "--raw",
                "-o",
                out.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(o.status.code(), Some(0), "{}: {}", name(&v), stderr(&o));
        assert_eq!(fs::read(&out).unwrap(), v.plaintext, "{}", name(&v));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["bytes"], v.plaintext.len(), "{}", name(&v));
        assert_eq!(j["counter"], v.counter.as_str(), "{}", name(&v));
        assert_eq!(j["passphrase_encoding"], "utf8", "{}", name(&v));
    }
}

/// Element's fourth vector: IV sixteen 0xff bytes. A 128-bit counter turns the plaintext into
/// garbage from byte 17; Element's 64-bit counter, which wraps within the low half, reads it.
#[test]
fn the_all_ff_iv_decodes_with_the_64_bit_counter_and_says_so() {
    let vs = element_vectors();
    let v = vs
        .iter()
        .find(|v| name(v) == "element-test-iv-ff.txt")
        .unwrap();
    assert_eq!(v.counter, "wrap64");
    let o = decrypt(v, &["--raw"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "alphanumericallyalphanumericallyalphanumericallyalphanumerically"
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with("note: ") && l.contains("64-bit")),
        "{err}"
    );
    // The other three have no counter overflow: no note.
    for w in vs.iter().filter(|w| w.counter == "agreed") {
        let o = decrypt(w, &["--raw"]);
        assert!(!stderr(&o).contains("note:"), "{}: {}", name(w), stderr(&o));
    }
}

#[test]
fn raw_and_pretty_do_not_go_together() {
    let vs = element_vectors();
    let o = decrypt(&vs[0], &["--raw", "--pretty"]);
    assert_fails(&o, 2, "--pretty");
    assert!(o.stdout.is_empty());
}
