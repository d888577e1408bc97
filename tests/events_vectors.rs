//! Replays test-vectors/events/: m.room.encrypted events made by a real matrix-sdk-crypto-wasm
//! OlmMachine and by vodozemac group sessions, with the keys exported by them, and the reason
//! each undecryptable event cannot be read.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::fs;

use mxkeys::events::{decrypt_events, parse_events, KeyStore, Outcome};
use mxkeys::session::SessionRecord;
use serde::Deserialize;
use serde_json::Value;
use vectors::{VectorList, Vectors};

type Manifest = VectorList<Vector>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    events: String,
    keys: String,
    shape: String,
    made_by: String,
    comment: String,
    expect: Vec<Expect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    event_id: String,
    result: String,
    message_index: Option<u32>,
    first_known_index: Option<u32>,
    plaintext: Option<Value>,
}

#[path = "common/vectors.rs"]
mod vectors;

const V: Vectors = Vectors("events");

#[test]
fn every_event_decrypts_or_is_explained() {
    let m: Manifest = V.manifest();
    let mut listed = BTreeSet::new();
    let mut ok = 0;
    let mut reasons = BTreeSet::new();
    for v in m.vectors {
        listed.insert(v.events.clone());
        listed.insert(v.keys.clone());
        let ctx = format!("{} ({}): {}", v.events, v.made_by, v.comment);
        let events = parse_events(&fs::read(V.dir().join(&v.events)).unwrap()).unwrap();
        let shape = if v.events.ends_with(".jsonl") {
            "jsonl"
        } else if fs::read_to_string(V.dir().join(&v.events))
            .unwrap()
            .contains("\"chunk\"")
        {
            "messages"
        } else {
            "array"
        };
        assert_eq!(shape, v.shape, "{ctx}");
        let keys: Vec<SessionRecord> = V.json(&v.keys);
        let store = KeyStore::from_sessions(&keys);
        let outcomes = decrypt_events(&store, &events);
        assert_eq!(outcomes.len(), v.expect.len(), "{ctx}");
        for ((ev, got), want) in events.iter().zip(&outcomes).zip(&v.expect) {
            let id = ev["event_id"].as_str().unwrap();
            assert_eq!(id, want.event_id, "{ctx}: events out of order");
            assert_eq!(
                got.kind().as_str(),
                want.result,
                "{ctx}: {id}: {}",
                got.explain()
            );
            reasons.insert(want.result.clone());
            if let Some(i) = want.message_index {
                if matches!(
                    got,
                    Outcome::Ok { .. } | Outcome::TooLate { .. } | Outcome::UnknownSession { .. }
                ) {
                    assert_eq!(got.message_index(), Some(i), "{ctx}: {id}");
                }
            }
            match got {
                Outcome::Ok { plaintext, .. } => {
                    assert_eq!(Some(plaintext), want.plaintext.as_ref(), "{ctx}: {id}");
                    ok += 1;
                }
                Outcome::TooLate {
                    first_known_index, ..
                } => {
                    assert_eq!(
                        Some(*first_known_index),
                        want.first_known_index,
                        "{ctx}: {id}"
                    )
                }
                _ => {}
            }
        }
    }
    V.assert_every_file_listed(&listed);
    assert!(ok >= 80, "{ok}");
    for r in [
        "ok",
        "unknown_session",
        "too_late",
        "room_mismatch",
        "sender_key_mismatch",
        "mac",
        "signature",
        "unknown_algorithm",
        "format",
    ] {
        assert!(reasons.contains(r), "no vector for {r}");
    }
}
