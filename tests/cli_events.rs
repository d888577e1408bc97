//! `mxkeys events decrypt|diagnose` on events made by matrix-sdk-crypto-wasm and vodozemac, with
//! keys as plaintext JSON and as an export file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fs;

use common::*;
use serde_json::Value;

#[test]
fn decrypt_keeps_envelopes_and_marks_failures() {
    let dir = vector_dir("events");
    let d = tmpdir();
    let out = d.path().join("out.json");
    let (ev, keys) = (dir.join("wasm-events.json"), dir.join("wasm-keys.json"));
    let o = mxkeys(
        &[
            "events",
            "decrypt",
            s(&ev),
            "--keys",
            s(&keys),
            "-o",
            s(&out),
        ],
        &[],
    );
    // Two events have no key and one is in the wrong room: exit 1, everything still written.
    assert_fails(&o, 1, "3 of 48 events could not be decrypted");
    let got: Vec<Value> = serde_json::from_slice(&fs::read(&out).unwrap()).unwrap();
    let input: Vec<Value> = serde_json::from_slice(&fs::read(&ev).unwrap()).unwrap();
    assert_eq!(got.len(), input.len());
    for (g, i) in got.iter().zip(&input) {
        assert_eq!(g["event_id"], i["event_id"]);
        assert_eq!(g["sender"], i["sender"]);
        assert_eq!(g["origin_server_ts"], i["origin_server_ts"]);
        if g.get("mxkeys_error").is_none() {
            assert_ne!(g["type"], "m.room.encrypted");
            assert!(g["content"].is_object());
        }
    }
    assert_eq!(
        got.iter()
            .filter(|g| g.get("mxkeys_error").is_some())
            .count(),
        3
    );
}

#[test]
fn keys_from_an_export_file_work_too() {
    let dir = vector_dir("events");
    let d = tmpdir();
    let export = d.path().join("keys.txt");
    let keys = dir.join("vodozemac-keys.json");
    let o = mxkeys(
        &[
            "export",
            "encrypt",
            s(&keys),
            "-o",
            s(&export),
            "--rounds",
            "1000",
        ],
        &[("MXKEYS_PASSPHRASE", "k")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let ev = dir.join("vodozemac-events.jsonl");
    let o = mxkeys(
        &["events", "diagnose", s(&ev), "--keys", s(&export), "--json"],
        &[("MXKEYS_PASSPHRASE", "k")],
    );
    assert_eq!(o.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["by_reason"]["too_late"], 2);
    let look: Vec<Value> = r["sessions_to_look_for"].as_array().unwrap().clone();
    assert!(look.iter().any(|l| l["needed_from_index"] == 3), "{look:?}");
}
