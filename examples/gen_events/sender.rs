//! A small megolm sender for benches and generated inputs (mxkeys has no megolm encryption API):
//! the libolm ratchet, HKDF-SHA-256 "MEGOLM_KEYS", AES-256-CBC, an 8-byte HMAC and an Ed25519
//! signature, as `megolm.c` writes them. Shared by `benches/events.rs` and the `gen_events`
//! example (`#[path]`).

use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
use ed25519_dalek::{Signer, SigningKey};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use mxkeys::encoding::encode_unpadded;
use sha2::Sha256;

/// The curve25519 key every generated session claims as its creator's.
pub const SENDER_KEY: &str = "0CuQzwXoaFCM+NaTLcxz1FNH03q/6RaZifi5JrFwnBA";

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut h = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    h.update(data);
    h.finalize().into_bytes().into()
}

/// xorshift64 bytes, seeded: every run makes the same sessions.
fn seeded_bytes(seed: u64, out: &mut [u8]) {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for b in out {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
}

/// An outbound megolm session (libolm's `megolm.c` ratchet).
pub struct Outbound {
    index: u32,
    r: [[u8; 32]; 4],
    signing: SigningKey,
}

impl Outbound {
    /// The session made from `seed`, at index 0.
    pub fn new(seed: u64) -> Self {
        let mut bytes = [0u8; 160];
        seeded_bytes(seed, &mut bytes);
        let mut r = [[0u8; 32]; 4];
        for (part, chunk) in r.iter_mut().zip(bytes.chunks(32)) {
            part.copy_from_slice(chunk);
        }
        let mut sk = [0u8; 32];
        sk.copy_from_slice(&bytes[128..]);
        Outbound {
            index: 0,
            r,
            signing: SigningKey::from_bytes(&sk),
        }
    }

    /// Unpadded base64 of the Ed25519 public key.
    pub fn session_id(&self) -> String {
        encode_unpadded(self.signing.verifying_key().as_bytes())
    }

    /// Export format: 0x01 | index | R0..R3 | Ed25519 public key.
    pub fn session_key(&self) -> String {
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
    pub fn encrypt(&mut self, plaintext: &[u8]) -> String {
        let mut okm = [0u8; 80];
        Hkdf::<Sha256>::new(Some(&[0u8; 32]), self.r.as_flattened())
            .expand(b"MEGOLM_KEYS", &mut okm)
            .expect("80 bytes is a valid HKDF length");
        let ct = cbc::Encryptor::<aes::Aes256>::new_from_slices(&okm[..32], &okm[64..])
            .expect("key and IV lengths are right")
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

/// The room of session `s` (ten rooms).
pub fn room(s: u64) -> String {
    format!("!room{}:example.org", s % 10)
}

/// The key of session `s` as a keys file holds it (a JSON object of the export format).
pub fn key_json(o: &Outbound, s: u64) -> serde_json::Value {
    serde_json::json!({
        "algorithm": "m.megolm.v1.aes-sha2",
        "room_id": room(s),
        "sender_key": SENDER_KEY,
        "sender_claimed_keys": {"ed25519": o.session_id()},
        "session_id": o.session_id(),
        "session_key": o.session_key(),
        "forwarding_curve25519_key_chain": [],
    })
}

/// Message `i` of session `s`, encrypted with `o` (which must be at index `i`), as the
/// `m.room.encrypted` event a homeserver returns.
pub fn event_json(o: &mut Outbound, s: u64, i: u32) -> serde_json::Value {
    let plain = serde_json::json!({
        "type": "m.room.message",
        "content": {"msgtype": "m.text", "body": format!("message {i} of session {s}: the quick brown fox jumps over the lazy dog")},
        "room_id": room(s),
    });
    let sid = o.session_id();
    let ct = o.encrypt(&serde_json::to_vec(&plain).expect("a Value serializes"));
    serde_json::json!({
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
    })
}
