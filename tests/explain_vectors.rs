//! `explain::Context` on history made by matrix-sdk-crypto-wasm 18.9.0 (test-vectors/diagnose):
//! withheld notices (m.unverified, m.blacklisted, m.no_olm) as wasm sent them, a sender device
//! that is not cross-signed (the /keys/query response wasm's users published), and history from
//! before a join in rooms that share it, do not, or came with a bundle. Every encrypted event's
//! outcome and reason must be the manifest's, which records wasm's own decryption error for it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::vector_dir;
use mxkeys::events::{decrypt_events, KeyStore, OutcomeKind};
use mxkeys::explain::{Context, Reason};
use mxkeys::session::SessionRecord;
use serde_json::Value;

fn read(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(vector_dir("diagnose").join(name)).unwrap()).unwrap()
}

#[test]
fn every_event_gets_the_diagnosis_wasm_gave_it() {
    let manifest = read("manifest.json");
    let events: Vec<Value> = read("events.json").as_array().unwrap().clone();
    let keys: Vec<SessionRecord> = serde_json::from_value(read("keys.json")).unwrap();
    let store = KeyStore::from_sessions(&keys);

    let mut ctx = Context::new();
    ctx.set_user(manifest["user_id"].as_str().unwrap());
    let dump = ctx.add_to_device(&read("to-device.json")).unwrap();
    assert!(dump.withheld >= 3, "{dump:?}");
    ctx.add_keys_query(
        &read("keys-query.json"),
        manifest["user_id"].as_str().unwrap(),
    );
    for ev in &events {
        ctx.add_timeline_event(ev);
    }

    let outcomes = decrypt_events(&store, &events);
    let expected = manifest["expected"].as_object().unwrap();
    let mut checked = 0;
    let mut reasons = std::collections::BTreeMap::new();
    for (ev, o) in events.iter().zip(&outcomes) {
        let id = ev["event_id"].as_str().unwrap();
        let Some(want) = expected.get(id) else {
            // State events: read for joins and visibility, not diagnosed.
            assert_ne!(ev["type"], "m.room.encrypted", "{id} has no expectation");
            continue;
        };
        checked += 1;
        let label = want["label"].as_str().unwrap();
        let kind = o.kind();
        match want["diagnosis"].as_str().unwrap() {
            "ok" => assert_eq!(kind, OutcomeKind::Ok, "{label}"),
            "unknown_session" => assert_eq!(kind, OutcomeKind::UnknownSession, "{label}"),
            other => panic!("{label}: unexpected diagnosis {other}"),
        }
        let got = ctx.explain(ev, o);
        match (want.get("reason").and_then(Value::as_str), &got) {
            (None, None) => {}
            (Some("withheld"), Some(Reason::Withheld(w))) => {
                assert_eq!(Some(w.code.as_str()), want["code"].as_str(), "{label}");
                // The notice came from the user who sent the event.
                assert_eq!(w.sender.as_deref(), want["sender"].as_str(), "{label}");
            }
            (Some(r), Some(g)) => assert_eq!(g.code(), r, "{label}"),
            (w, g) => panic!("{label}: want {w:?}, got {g:?}"),
        }
        if let Some(g) = got {
            *reasons.entry(g.code()).or_insert(0) += 1;
        }
        // Readable events from a device that is not cross-signed are flagged (wasm refuses
        // them under MSC4153, its "wasm_msc4153" error); the others are not.
        let refused_by_msc4153 = want["diagnosis"] == "ok" && want["wasm_msc4153"]["ok"] == false;
        assert_eq!(
            ctx.warn(ev, o).map(|r| r.code()),
            refused_by_msc4153.then_some("sender_not_cross_signed"),
            "{label}"
        );
    }
    assert_eq!(checked, expected.len());
    // Each reason is met at least once in the scenario.
    for r in ["withheld", "sender_not_cross_signed", "no_history_bundle"] {
        assert!(reasons.get(r).copied().unwrap_or(0) > 0, "{r}: {reasons:?}");
    }
}
