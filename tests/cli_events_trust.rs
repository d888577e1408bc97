//! `mxkeys events decrypt` and what it vouches for: the room of a decrypted event is checked
//! against the session's room even when the envelope has none (events from /sync), and the
//! sender is marked as claimed, not verified (`mxkeys_sender`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::{Map, Value};

const CASES: &str = "!cases:example.org";
const ELSEWHERE: &str = "!elsewhere:example.org";

fn events_dir() -> PathBuf {
    vector_dir("events")
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).unwrap()).unwrap()
}

/// The event of vodozemac-events.json whose envelope and session say `!cases` but whose
/// plaintext says `!elsewhere` (room_mismatch in the manifest, envelope room = session room).
fn replayed_event() -> Value {
    let manifest = read_json(&events_dir().join("manifest.json"));
    let mismatches: Vec<&str> = manifest["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["events"] == "vodozemac-events.json")
        .flat_map(|v| v["expect"].as_array().unwrap())
        .filter(|x| x["result"] == "room_mismatch")
        .map(|x| x["event_id"].as_str().unwrap())
        .collect();
    let events = read_json(&events_dir().join("vodozemac-events.json"));
    let found: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| mismatches.contains(&e["event_id"].as_str().unwrap()) && e["room_id"] == CASES)
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

/// The sender_key of each session in vodozemac-keys.json.
fn sender_keys() -> Map<String, Value> {
    read_json(&events_dir().join("vodozemac-keys.json"))
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["session_id"].as_str().unwrap().to_owned(),
                s["sender_key"].clone(),
            )
        })
        .collect()
}

fn decrypt(events: &Path, out: &Path) -> std::process::Output {
    let keys = events_dir().join("vodozemac-keys.json");
    mxkeys(
        &[
            "events",
            "decrypt",
            s(events),
            "--keys",
            s(&keys),
            "-o",
            s(out),
        ],
        &[],
    )
}

#[test]
fn a_replayed_event_without_envelope_room_is_a_room_mismatch() {
    let d = tmpdir();
    let mut ev = replayed_event();
    // As /sync delivers it: no room_id in the envelope.
    ev.as_object_mut().unwrap().remove("room_id");
    let input = d.path().join("sync.json");
    fs::write(&input, serde_json::to_vec(&[&ev]).unwrap()).unwrap();
    let out = d.path().join("out.json");
    let o = decrypt(&input, &out);
    assert_fails(&o, 1, "1 of 1 events could not be decrypted");
    let got = read_json(&out);
    let err = &got[0]["mxkeys_error"];
    assert_eq!(err["reason"], "room_mismatch", "{got}");
    let why = err["why"].as_str().unwrap();
    assert!(why.contains(ELSEWHERE) && why.contains(CASES), "{why}");
    assert!(why.contains("replayed or forwarded"), "{why}");
    // Kept encrypted, as it was.
    assert_eq!(got[0]["type"], "m.room.encrypted");
    assert_eq!(got[0]["content"], ev["content"]);

    let keys = events_dir().join("vodozemac-keys.json");
    let o = mxkeys(
        &[
            "events",
            "diagnose",
            s(&input),
            "--keys",
            s(&keys),
            "--json",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let u = &r["undecryptable"][0];
    assert_eq!(u["result"], "room_mismatch");
    assert_eq!(u["event_room"], Value::Null);
    assert_eq!(u["session_room"], CASES);
    assert_eq!(u["plaintext_room"], ELSEWHERE);
}

#[test]
fn the_committed_sync_vector_decrypts_but_the_replayed_event() {
    let d = tmpdir();
    let input = events_dir().join("vodozemac-sync-events.json");
    let out = d.path().join("out.json");
    let o = decrypt(&input, &out);
    assert_fails(&o, 1, "1 of 4 events could not be decrypted");
    let got = read_json(&out);
    let reasons: Vec<&Value> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["mxkeys_error"]["reason"])
        .collect();
    assert_eq!(
        reasons,
        [
            &Value::Null,
            &Value::Null,
            &Value::from("room_mismatch"),
            &Value::Null
        ]
    );
}

#[test]
fn decrypted_events_mark_the_sender_as_claimed() {
    let d = tmpdir();
    let input = events_dir().join("vodozemac-sync-events.json");
    let out = d.path().join("out.json");
    let _ = decrypt(&input, &out);
    let got = read_json(&out);
    let given = read_json(&input);
    let keys = sender_keys();
    let mut decrypted = 0;
    for (g, i) in got
        .as_array()
        .unwrap()
        .iter()
        .zip(given.as_array().unwrap())
    {
        // The envelope's fields are unchanged; no room_id is made up.
        for k in ["event_id", "sender", "origin_server_ts"] {
            assert_eq!(g[k], i[k], "{k}");
        }
        assert!(g.get("room_id").is_none(), "{g}");
        if g.get("mxkeys_error").is_some() {
            assert!(g.get("mxkeys_sender").is_none(), "{g}");
            continue;
        }
        decrypted += 1;
        let trust = &g["mxkeys_sender"];
        assert_eq!(trust["verified"], false, "{g}");
        let sid = i["content"]["session_id"].as_str().unwrap();
        assert_eq!(trust["sender_key"], keys[sid], "{g}");
        let why = trust["why"].as_str().unwrap();
        assert!(
            why.contains("claimed") && why.contains("/keys/query"),
            "{why}"
        );
    }
    assert_eq!(decrypted, 3);
}

#[test]
fn help_says_the_sender_is_not_verified() {
    let o = mxkeys(&["events", "decrypt", "--help"], &[]);
    assert!(o.status.success());
    let help = String::from_utf8(o.stdout).unwrap();
    assert!(help.contains("mxkeys_sender"), "{help}");
    assert!(help.contains("The sender is NOT verified"), "{help}");
    assert!(help.contains("/sync events have none"), "{help}");
}
