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

#[test]
fn events_diagnose_explains_each_event_from_the_dump_the_keys_query_and_the_joins() {
    let manifest = read("manifest.json");
    let f = |n: &str| vector_dir("diagnose").join(n).to_str().unwrap().to_owned();
    let o = common::mxkeys(
        &[
            "events",
            "diagnose",
            &f("events.json"),
            "--keys",
            &f("keys.json"),
            "--to-device",
            &f("to-device.json"),
            "--keys-query",
            &f("keys-query.json"),
            "--user",
            manifest["user_id"].as_str().unwrap(),
            "--json",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", common::stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let listed: std::collections::BTreeMap<&str, &Value> = r["undecryptable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event_id"].as_str().unwrap(), e))
        .collect();
    let mut by_reason = std::collections::BTreeMap::new();
    for (id, want) in manifest["expected"].as_object().unwrap() {
        let label = want["label"].as_str().unwrap();
        if want["diagnosis"] == "ok" {
            assert!(!listed.contains_key(id.as_str()), "{label}");
            continue;
        }
        let got = listed[id.as_str()];
        assert_eq!(got["result"], "unknown_session", "{label}: {got}");
        assert_eq!(got["context"]["kind"], want["reason"], "{label}: {got}");
        if want["reason"] == "withheld" {
            assert_eq!(got["context"]["code"], want["code"], "{label}");
        }
        if let Some(reason) = want["reason"].as_str() {
            *by_reason.entry(reason.to_owned()).or_insert(0u64) += 1;
        }
    }
    for (reason, n) in &by_reason {
        assert_eq!(r["context"][reason.as_str()], *n, "{reason}");
    }
    assert_eq!(r["readable_from_devices_not_cross_signed"], 2);
    // The state events (joins, history visibility, encryption settings) were never encrypted:
    // readable as they are, counted as such, and not listed as failures.
    let events = read("events.json");
    let plain = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] != "m.room.encrypted")
        .count();
    assert!(plain >= 38, "{plain}");
    assert_eq!(r["by_reason"]["not_encrypted"], plain as u64);
    let failing = manifest["expected"]
        .as_object()
        .unwrap()
        .values()
        .filter(|w| w["diagnosis"] != "ok")
        .count();
    assert_eq!(listed.len(), failing);
    assert_eq!(
        r["readable"].as_u64().unwrap() + failing as u64,
        r["events"].as_u64().unwrap()
    );

    // Without the context, the same events are plain unknown sessions.
    let o = common::mxkeys(
        &[
            "events",
            "diagnose",
            &f("events.json"),
            "--keys",
            &f("keys.json"),
            "--json",
        ],
        &[],
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(r["undecryptable"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e.get("context").is_none()));
    // The context is for diagnose only.
    let o = common::mxkeys(
        &[
            "events",
            "decrypt",
            &f("events.json"),
            "--keys",
            &f("keys.json"),
            "--user",
            "@a:x",
        ],
        &[],
    );
    common::assert_fails(&o, 2, "are for `events diagnose`");
}
