//! SAS short authentication strings (spec "Short Authentication String (SAS) verification"):
//! the info string, the HKDF bytes, the emoji and decimals, the acceptor's commitment and the
//! X25519 shared secret.

use hkdf::Hkdf;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::signed_json::{canonical_json, CanonicalError};
use crate::encoding::encode_unpadded;

/// The 64 SAS emoji (spec `sas-emoji.json`): the emoji and its English name.
pub const SAS_EMOJI: [(&str, &str); 64] = [
    ("🐶", "Dog"),
    ("🐱", "Cat"),
    ("🦁", "Lion"),
    ("🐎", "Horse"),
    ("🦄", "Unicorn"),
    ("🐷", "Pig"),
    ("🐘", "Elephant"),
    ("🐰", "Rabbit"),
    ("🐼", "Panda"),
    ("🐓", "Rooster"),
    ("🐧", "Penguin"),
    ("🐢", "Turtle"),
    ("🐟", "Fish"),
    ("🐙", "Octopus"),
    ("🦋", "Butterfly"),
    ("🌷", "Flower"),
    ("🌳", "Tree"),
    ("🌵", "Cactus"),
    ("🍄", "Mushroom"),
    ("🌏", "Globe"),
    ("🌙", "Moon"),
    ("☁️", "Cloud"),
    ("🔥", "Fire"),
    ("🍌", "Banana"),
    ("🍎", "Apple"),
    ("🍓", "Strawberry"),
    ("🌽", "Corn"),
    ("🍕", "Pizza"),
    ("🎂", "Cake"),
    ("❤️", "Heart"),
    ("😀", "Smiley"),
    ("🤖", "Robot"),
    ("🎩", "Hat"),
    ("👓", "Glasses"),
    ("🔧", "Spanner"),
    ("🎅", "Santa"),
    ("👍", "Thumbs Up"),
    ("☂️", "Umbrella"),
    ("⌛", "Hourglass"),
    ("⏰", "Clock"),
    ("🎁", "Gift"),
    ("💡", "Light Bulb"),
    ("📕", "Book"),
    ("✏️", "Pencil"),
    ("📎", "Paperclip"),
    ("✂️", "Scissors"),
    ("🔒", "Lock"),
    ("🔑", "Key"),
    ("🔨", "Hammer"),
    ("☎️", "Telephone"),
    ("🏁", "Flag"),
    ("🚂", "Train"),
    ("🚲", "Bicycle"),
    ("✈️", "Aeroplane"),
    ("🚀", "Rocket"),
    ("🏆", "Trophy"),
    ("⚽", "Ball"),
    ("🎸", "Guitar"),
    ("🎺", "Trumpet"),
    ("🔔", "Bell"),
    ("⚓", "Anchor"),
    ("🎧", "Headphones"),
    ("📁", "Folder"),
    ("📌", "Pin"),
];

/// The SAS info string.
pub fn sas_info(
    start: (&str, &str, &str),
    accept: (&str, &str, &str),
    transaction_id: &str,
) -> String {
    format!(
        "MATRIX_KEY_VERIFICATION_SAS|{}|{}|{}|{}|{}|{}|{}",
        start.0, start.1, start.2, accept.0, accept.1, accept.2, transaction_id
    )
}

/// HKDF-SHA-256(shared secret, no salt, info) -> 6 bytes.
pub fn sas_bytes(shared: &[u8; 32], info: &str) -> [u8; 6] {
    let mut out = [0u8; 6];
    let _ = Hkdf::<Sha256>::new(None, shared).expand(info.as_bytes(), &mut out);
    out
}

/// The 7 emoji indexes: the first 42 bits in groups of 6.
pub fn sas_emoji(bytes: &[u8; 6]) -> [u8; 7] {
    let n = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let mut out = [0u8; 7];
    for (i, e) in out.iter_mut().enumerate() {
        *e = ((n >> (42 - 6 * i)) & 0x3f) as u8;
    }
    out
}

/// The three 4-digit numbers: the first 39 bits in groups of 13, plus 1000.
pub fn sas_decimals(bytes: &[u8; 6]) -> [u16; 3] {
    let n = bytes
        .iter()
        .take(5)
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    [
        ((n >> 27) & 0x1fff) as u16 + 1000,
        ((n >> 14) & 0x1fff) as u16 + 1000,
        ((n >> 1) & 0x1fff) as u16 + 1000,
    ]
}

/// The commitment the acceptor sends: unpadded base64 of SHA-256 over its public key (the
/// base64 text) followed by the canonical JSON of the start content.
///
/// # Errors
/// When the start content has no canonical form.
pub fn sas_commitment(
    accept_public_b64: &str,
    start_content: &Value,
) -> Result<String, CanonicalError> {
    let mut h = Sha256::new();
    h.update(accept_public_b64.as_bytes());
    h.update(canonical_json(start_content)?.as_bytes());
    Ok(encode_unpadded(&h.finalize()))
}

/// The X25519 shared secret from one side's private key and the other's public key; `None` when
/// it is all zeros (the public key is a low-order point, which every client refuses: the secret
/// would be known to anyone).
pub fn sas_shared_secret(private: &[u8; 32], public: &[u8; 32]) -> Option<[u8; 32]> {
    let s = x25519_dalek::StaticSecret::from(*private);
    let shared = s.diffie_hellman(&x25519_dalek::PublicKey::from(*public));
    shared.was_contributory().then(|| shared.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_low_order_sas_key_gives_no_secret() {
        // 0 and 1 are low-order points of Curve25519 (RFC 7748 section 6.1 asks to refuse them).
        for point in [[0u8; 32], {
            let mut one = [0u8; 32];
            one[0] = 1;
            one
        }] {
            assert_eq!(sas_shared_secret(&[7; 32], &point), None);
        }
        assert!(sas_shared_secret(&[7; 32], &[9; 32]).is_some());
    }

    #[test]
    fn sas_bit_layout() {
        let b = [0xffu8; 6];
        assert_eq!(sas_emoji(&b), [63; 7]);
        assert_eq!(sas_decimals(&b), [9191; 3]);
        assert_eq!(sas_decimals(&[0; 6]), [1000; 3]);
    }
}
