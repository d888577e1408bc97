//! Byte-identical outputs: each command in test-vectors/cli-json/cases.json runs from the
//! repository root and its standard output (or, for `{OUT}` in its arguments, the file written
//! there, unless `"file": false` says it is encrypted afresh on each run) and exit code must
//! equal the committed NAME.out and NAME.code.
//!
//! These are mxkeys' own outputs, so they prove nothing about interoperability (the vector tests
//! do that); they catch a refactor that changes a key order, a number's text or a line of a
//! report. After an intended change of output, regenerate with
//! `MXKEYS_BLESS=1 cargo test --test cli_json_outputs` and review the diff.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

#[test]
fn outputs_are_byte_identical_to_the_committed_ones() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("test-vectors/cli-json");
    let cases: Value = serde_json::from_slice(&fs::read(dir.join("cases.json")).unwrap()).unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert!(
        cases.len() >= 20,
        "the net should stay wide: {}",
        cases.len()
    );
    let bless = std::env::var_os("MXKEYS_BLESS").is_some();
    let mut listed = vec!["cases.json".to_owned()];
    let mut differ = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let tmp = common::tmpdir();
        let out_path = tmp.path().join("out");
        let writes_file = case["args"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str() == Some("{OUT}"));
        let args: Vec<String> = case["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                a.as_str()
                    .unwrap()
                    .replace("{OUT}", out_path.to_str().unwrap())
            })
            .collect();
        let mut cmd = Command::new(common::BIN);
        cmd.current_dir(root)
            .args(&args)
            .env_remove("MXKEYS_PASSPHRASE")
            .env_remove("MXKEYS_NEW_PASSPHRASE")
            .env_remove("MXKEYS_RECOVERY_KEY")
            .stdin(Stdio::null());
        if let Some(env) = case["env"].as_object() {
            for (k, v) in env {
                cmd.env(k, v.as_str().unwrap());
            }
        }
        let o = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        let out_shown = out_path.to_str().unwrap();
        // A measured time is not an output: its line is held to its words, not its figure.
        let text: String = String::from_utf8_lossy(&o.stdout)
            .replace(out_shown, "{OUT}")
            .split_inclusive('\n')
            .map(|line| {
                for marker in ["derive time: ", "\"estimated_derive_seconds\": "] {
                    if let Some(at) = line.find(marker) {
                        return format!("{}{marker}(measured)\n", &line[..at]);
                    }
                }
                line.to_owned()
            })
            .collect();
        let mut got = text.into_bytes();
        if writes_file && case["file"].as_bool() != Some(false) {
            // The summary on stdout, then the file's bytes, so both are held to the same text.
            got.extend_from_slice(b"\n--- {OUT} ---\n");
            got.extend_from_slice(&fs::read(&out_path).unwrap_or_default());
        }
        let code = format!("{}\n", o.status.code().unwrap_or(-1));
        let (out_file, code_file) = (format!("{name}.out"), format!("{name}.code"));
        if bless {
            fs::write(dir.join(&out_file), &got).unwrap();
            fs::write(dir.join(&code_file), &code).unwrap();
        }
        let want = fs::read(dir.join(&out_file))
            .unwrap_or_else(|e| panic!("{out_file}: {e} (MXKEYS_BLESS=1 writes it)"));
        let want_code = fs::read_to_string(dir.join(&code_file)).unwrap();
        if want != got || want_code != code {
            // Where they part, with some context, so a failure on CI explains itself.
            let at = want.iter().zip(&got).take_while(|(a, b)| a == b).count();
            let around = |b: &[u8]| {
                String::from_utf8_lossy(
                    b.get(at.saturating_sub(40)..(at + 80).min(b.len()))
                        .unwrap_or_default(),
                )
                .into_owned()
            };
            differ.push(format!(
                "{name}: exit {} (want {}), stdout {} bytes (want {}), first difference at byte {at}:\n  got:  {:?}\n  want: {:?}\n  stderr: {stderr}",
                code.trim(),
                want_code.trim(),
                got.len(),
                want.len(),
                around(&got),
                around(&want),
            ));
        }
        listed.extend([out_file, code_file]);
    }
    assert!(differ.is_empty(), "outputs changed:\n{}", differ.join("\n"));
    // Every file in the folder belongs to a case: a renamed case leaves no stale expectation.
    let mut on_disk: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    listed.sort();
    assert_eq!(on_disk, listed);
}
