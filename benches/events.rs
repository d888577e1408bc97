//! Bench of offline room history: `events::decrypt_events` on 10k `m.room.encrypted` events
//! (100 megolm sessions x messages 0..99, interleaved and newest first, as `/messages` returns
//! them), in a rayon pool of 1 thread and of every core. Per event: ratchet step, HKDF, HMAC,
//! Ed25519 signature check, AES-256-CBC, the plaintext JSON and its room check.
//!
//! mxkeys has no megolm encryption API, so the events are made here by a small megolm sender
//! (the libolm ratchet, HKDF-SHA-256 "MEGOLM_KEYS", AES-256-CBC, 8-byte HMAC, Ed25519), and
//! every one of them is checked to decrypt before measuring. The committed peer vectors
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

use std::time::Duration;

use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use ed25519_dalek::{Signer, SigningKey};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use mxkeys::encoding::encode_unpadded;
use mxkeys::events::{decrypt_events, KeyStore, Outcome};
use mxkeys::session::SessionRecord;
use serde_json::{json, Value};
use sha2::Sha256;

use common::{bench_threads, Xorshift};

const SESSIONS: u64 = 100;
const MESSAGES: u32 = 100;
const SENDER_KEY: &str = "0CuQzwXoaFCM+NaTLcxz1FNH03q/6RaZifi5JrFwnBA";

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut h = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    h.update(data);
    h.finalize().into_bytes().into()
}

/// An outbound megolm session (libolm's `megolm.c` ratchet).
struct Outbound {
    index: u32,
    r: [[u8; 32]; 4],
    signing: SigningKey,
}

impl Outbound {
    fn new(seed: u64) -> Self {
        let mut x = Xorshift::seeded(seed);
        let mut r = [[0u8; 32]; 4];
        r.iter_mut().flatten().for_each(|b| *b = x.next_byte());
        let mut sk = [0u8; 32];
        x.fill(&mut sk);
        Outbound {
            index: 0,
            r,
            signing: SigningKey::from_bytes(&sk),
        }
    }

    fn session_id(&self) -> String {
        encode_unpadded(self.signing.verifying_key().as_bytes())
    }

    /// Export format: 0x01 | index | R0..R3 | Ed25519 public key.
    fn session_key(&self) -> String {
        let mut k = vec![1u8];
        k.extend_from_slice(&self.index.to_be_bytes());
        self.r.iter().for_each(|p| k.extend_from_slice(p));
        k.extend_from_slice(self.signing.verifying_key().as_bytes());
        encode_unpadded(&k)
    }

    fn advance(&mut self) {
        self.index += 1;
        let (mut h, mut mask) = (0usize, 0x00FF_FFFFu32);
        while h < 3 && self.index & mask != 0 {
            h += 1;
            mask >>= 8;
        }
        for i in (h..4).rev() {
            self.r[i] = hmac(&self.r[h], &[i as u8]);
        }
    }

    /// `0x03 | protobuf(1: index, 2: ciphertext) | MAC 8 | Ed25519 signature 64`, then advance.
    fn encrypt(&mut self, plaintext: &[u8]) -> String {
        let mut okm = [0u8; 80];
        Hkdf::<Sha256>::new(Some(&[0u8; 32]), self.r.as_flattened())
            .expand(b"MEGOLM_KEYS", &mut okm)
            .unwrap();
        let ct = cbc::Encryptor::<aes::Aes256>::new_from_slices(&okm[..32], &okm[64..])
            .unwrap()
            .encrypt_padded_vec_mut::<Pkcs7>(plaintext);
        let mut m = vec![3u8, 0x08];
        varint(&mut m, u64::from(self.index));
        m.push(0x12);
        varint(&mut m, ct.len() as u64);
        m.extend_from_slice(&ct);
        let mac = hmac(&okm[32..64], &m);
        m.extend_from_slice(&mac[..8]);
        let sig = self.signing.sign(&m);
        m.extend_from_slice(&sig.to_bytes());
        self.advance();
        encode_unpadded(&m)
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The key file and the events, newest first.
fn history() -> (Vec<SessionRecord>, Vec<Value>) {
    let mut outbound: Vec<Outbound> = (0..SESSIONS).map(|s| Outbound::new(s + 11)).collect();
    let room = |s: u64| format!("!room{}:example.org", s % 10);
    let keys = outbound
        .iter()
        .zip(0..)
        .map(|(o, s)| {
            let v = json!({
                "algorithm": "m.megolm.v1.aes-sha2",
                "room_id": room(s),
                "sender_key": SENDER_KEY,
                "sender_claimed_keys": {"ed25519": o.session_id()},
                "session_id": o.session_id(),
                "session_key": o.session_key(),
                "forwarding_curve25519_key_chain": [],
            });
            serde_json::from_value(v).unwrap()
        })
        .collect();
    let mut events = Vec::new();
    for i in 0..MESSAGES {
        for (o, s) in outbound.iter_mut().zip(0..) {
            let plain = json!({
                "type": "m.room.message",
                "content": {"msgtype": "m.text", "body": format!("message {i} of session {s}: the quick brown fox jumps over the lazy dog")},
                "room_id": room(s),
            });
            let sid = o.session_id();
            let ct = o.encrypt(&serde_json::to_vec(&plain).unwrap());
            events.push(json!({
                "type": "m.room.encrypted",
                "room_id": room(s),
                "event_id": format!("$ev{i}s{s}"),
                "sender": "@bench:example.org",
                "origin_server_ts": 1_700_000_000_000u64 + u64::from(i) * 1000 + s,
                "content": {
                    "algorithm": "m.megolm.v1.aes-sha2",
                    "sender_key": SENDER_KEY,
                    "device_id": "BENCHDEVICE",
                    "session_id": sid,
                    "ciphertext": ct,
                },
            }));
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
