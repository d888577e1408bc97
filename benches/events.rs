//! Bench of offline room history: `events::decrypt_events` on 10k `m.room.encrypted` events
//! (100 megolm sessions x messages 0..99, interleaved and newest first, as `/messages` returns
//! them), in a rayon pool of 1 thread and of every core. Per event: ratchet step, HKDF, HMAC,
//! Ed25519 signature check, AES-256-CBC, the plaintext JSON and its room check.
//!
//! mxkeys has no megolm encryption API, so the events are made by a small megolm sender
//! (examples/gen_events/sender.rs: the libolm ratchet, HKDF-SHA-256 "MEGOLM_KEYS", AES-256-CBC,
//! 8-byte HMAC, Ed25519), and every one of them is checked to decrypt before measuring. The committed peer vectors
//! (test-vectors/events) hold too few events to time.

// Benches may stop on the first failure; the no-panic rule is for the library.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// criterion_group! generates undocumented items.
#![allow(missing_docs)]

mod common;
#[path = "../examples/gen_events/sender.rs"]
mod sender;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use mxkeys::events::{decrypt_events, KeyStore, Outcome};
use mxkeys::session::SessionRecord;
use serde_json::Value;

use common::bench_threads;

const SESSIONS: u64 = 100;
const MESSAGES: u32 = 100;

/// The key file and the events, newest first.
fn history() -> (Vec<SessionRecord>, Vec<Value>) {
    let mut outbound: Vec<sender::Outbound> = (0..SESSIONS)
        .map(|s| sender::Outbound::new(s + 11))
        .collect();
    let keys = outbound
        .iter()
        .zip(0..)
        .map(|(o, s)| serde_json::from_value(sender::key_json(o, s)).unwrap())
        .collect();
    let mut events = Vec::new();
    for i in 0..MESSAGES {
        for (o, s) in outbound.iter_mut().zip(0..) {
            events.push(sender::event_json(o, s, i));
        }
    }
    events.reverse();
    (keys, events)
}

fn events(c: &mut Criterion) {
    let (keys, events) = history();
    let store = KeyStore::from_sessions(&keys);
    assert_eq!(store.len(), SESSIONS as usize);
    let outcomes = decrypt_events(&store, &events);
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Ok { .. })),
        "{:?}",
        outcomes.iter().find(|o| !matches!(o, Outcome::Ok { .. }))
    );
    let mut g = c.benchmark_group("events_decrypt_10k");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    g.measurement_time(Duration::from_secs(6));
    g.throughput(Throughput::Elements(events.len() as u64));
    bench_threads(&mut g, &events, |events| decrypt_events(&store, events));
    g.finish();
}

criterion_group!(benches, events);
criterion_main!(benches);
