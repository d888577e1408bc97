//! `mxkeys cross-signing check`, `qr decode` and `sas compute` through the binary, on
//! matrix-sdk-crypto-wasm and libolm data (test-vectors/identity).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::vectors::Vectors;
use common::*;
use serde_json::Value;

#[test]
fn cross_signing_check_passes_real_keys_and_names_tampering() {
    let dir = vector_dir("identity").join("keys-query");
    let o = mxkeys(
        &[
            "cross-signing",
            "check",
            "--keys",
            s(&dir.join("wasm-alice-verified.json")),
            "--json",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["viewer"], "@alice:example.org");
    assert_eq!(
        r["users"]["@bob:example.org"]["signed_by_viewer_user_signing"],
        true
    );
    let o = mxkeys(
        &[
            "cross-signing",
            "check",
            "--keys",
            s(&dir.join("flip-device-cross-signature.json")),
        ],
        &[],
    );
    assert_fails(&o, 1, "not cross-signed or do not verify");
    assert!(String::from_utf8_lossy(&o.stdout).contains("BAD SIGNATURE"));
}

#[test]
fn qr_decode_and_malformed_payloads() {
    let dir = vector_dir("identity").join("qr");
    let o = mxkeys(
        &[
            "qr",
            "decode",
            s(&dir.join("wasm-mode2-alice2.bin")),
            "--json",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let q: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(q["mode"], 2);
    let o = mxkeys(&["qr", "decode", s(&dir.join("bad-mode-3.bin"))], &[]);
    assert_fails(&o, 1, "mode 3 is unknown");
    let o = mxkeys(&["qr", "decode", s(&dir.join("empty.bin"))], &[]);
    assert_fails(&o, 1, "ends before");
}

#[test]
fn sas_compute_matches_what_wasm_showed() {
    let dir = vector_dir("identity").join("sas");
    let o = mxkeys(
        &[
            "sas",
            "compute",
            "--transcript",
            s(&dir.join("wasm-alice-carol-carol-starts.json")),
            "--json",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let m: Value = Vectors("identity").manifest();
    let want = m["sas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["transcript"] == "sas/wasm-alice-carol-carol-starts.json")
        .unwrap();
    assert_eq!(r["emoji"], want["emoji"]);
    assert_eq!(r["decimals"], want["decimals"]);
    let o = mxkeys(
        &[
            "sas",
            "compute",
            "--transcript",
            s(&dir.join("wasm-bob-carol-bad-commitment.json")),
        ],
        &[],
    );
    assert_fails(&o, 1, "mismatched_commitment");
    let o = mxkeys(
        &[
            "sas",
            "compute",
            "--transcript",
            s(&dir.join("wasm-alice-bob.json")),
        ],
        &[],
    );
    assert_fails(&o, 1, "cannot be derived from public data alone");
}

/// Every picture in test-vectors/identity/qr-images: exit code, the one error line, and for the
/// good ones the same JSON as `qr decode` of the raw payload.
#[test]
fn qr_decode_pictures() {
    let dir = vector_dir("identity");
    let m: Value = Vectors("identity").json("qr-images/manifest.json");
    for c in m["images"].as_array().unwrap() {
        let file = dir.join(c["file"].as_str().unwrap());
        let o = mxkeys(&["qr", "decode", s(&file), "--json"], &[]);
        if c["expect"] == "ok" {
            assert!(o.status.success(), "{}: {}", c["file"], stderr(&o));
            let raw = dir.join(c["payload_file"].as_str().unwrap());
            let want = mxkeys(&["qr", "decode", s(&raw), "--json"], &[]);
            assert!(want.status.success());
            let got: Value = serde_json::from_slice(&o.stdout).unwrap();
            let want: Value = serde_json::from_slice(&want.stdout).unwrap();
            assert_eq!(got, want, "{}", c["file"]);
        } else {
            assert_fails(&o, 1, c["error_contains"].as_str().unwrap());
            assert!(o.stdout.is_empty(), "{}", c["file"]);
        }
    }
    // A picture on standard input, and the pixel limit lowered below a real picture.
    let png = dir.join("qr-images/element-web-mode1.png");
    let o = mxkeys(&["qr", "decode", s(&png), "--max-pixels", "1000"], &[]);
    assert_fails(&o, 1, "above the limit of 1000 pixels");
    assert!(stderr(&o).contains("--max-pixels"));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_mxkeys"))
        .args(["qr", "decode", "-"])
        .stdin(std::fs::File::open(&png).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("mode:           1"));
}

/// test-vectors/identity/stored-keys: secret storage written by matrix-js-sdk holding the private
/// keys matrix-sdk-crypto-wasm made, compared with what it published.
#[test]
fn cross_signing_check_stored_keys() {
    let dir = vector_dir("identity");
    let m: Value = Vectors("identity").json("stored-keys/manifest.json");
    for c in m["cases"].as_array().unwrap() {
        let p = |k: &str| dir.join(c[k].as_str().unwrap());
        let (keys, ad) = (p("keys"), p("account_data"));
        let secret = if c["key_file"].is_string() {
            ("--key-file", p("key_file"))
        } else {
            ("--passphrase-file", p("passphrase_file"))
        };
        let args = [
            "cross-signing",
            "check",
            "--keys",
            s(&keys),
            "--account-data",
            s(&ad),
            secret.0,
            s(&secret.1),
        ];
        let mut with_json = args.to_vec();
        with_json.push("--json");
        let o = mxkeys(&with_json, &[]);
        let code = c["exit_code"].as_i64().unwrap() as i32;
        let name = c["name"].as_str().unwrap();
        if c["expect"].is_null() {
            assert_fails(&o, 1, "not the Security Key");
            assert!(
                o.stdout.is_empty(),
                "{name}: nothing printed before the key is checked"
            );
            continue;
        }
        assert_eq!(o.status.code(), Some(code), "{name}: {}", stderr(&o));
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        for (secret, want) in c["expect"].as_object().unwrap() {
            assert_eq!(
                r["secret_storage"][secret]["status"], *want,
                "{name}: {secret}"
            );
        }
        if code == 1 {
            assert_fails(&o, 1, "stored private keys do not all match");
        }
        // The text report names each verdict.
        let o = mxkeys(&args, &[]);
        let out = String::from_utf8_lossy(&o.stdout);
        for (secret, want) in c["expect"].as_object().unwrap() {
            let word = match want.as_str().unwrap() {
                "match" => "matches the published key",
                "mismatch" => "DOES NOT MATCH",
                "missing" => "MISSING",
                other => panic!("{other}"),
            };
            assert!(
                out.contains(&format!("secret storage {secret}: {word}")),
                "{name}: {out}"
            );
        }
    }
}

/// The identity commands' help: an Examples section with runnable lines and the exit codes.
#[test]
fn identity_help_has_examples_and_exit_codes() {
    for cmd in [
        ["cross-signing", "check"],
        ["qr", "decode"],
        ["sas", "compute"],
    ] {
        let o = mxkeys(&[cmd[0], cmd[1], "--help"], &[]);
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("Example"), "{cmd:?}");
        assert!(text.contains("Exit codes"), "{cmd:?}");
        let examples: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("  mxkeys "))
            .collect();
        assert!(examples.len() >= 2, "{cmd:?}: {text}");
    }
}
