//! `mxkeys cross-signing check`, `qr decode` and `sas compute` through the binary, on
//! matrix-sdk-crypto-wasm and libolm data (test-vectors/identity).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

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
    let m: Value = serde_json::from_slice(
        &std::fs::read(vector_dir("identity").join("manifest.json")).unwrap(),
    )
    .unwrap();
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
