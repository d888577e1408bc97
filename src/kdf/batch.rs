//! Many PBKDF2-HMAC-SHA-512 derivations with the same salt and rounds, side by side in lanes.
//!
//! Per password the HMAC key is expanded once into its two 128-byte blocks (key XOR ipad, key
//! XOR opad) and U_1 = HMAC(password, salt || INT(i)) is computed with the `hmac` crate; the
//! rounds after that (all but one) run in lanes: see `lanes::pbkdf2_f`.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha512};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::secret::SecretBytes;

/// Lane-transposed inputs of PBKDF2's F for a group of `L` derivations: row `i` holds word `i`
/// of every lane. Lanes without a password stay zero and their results are ignored.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct Group<const L: usize> {
    /// Key XOR ipad, as 16 big-endian words.
    pub(crate) ipad: [[u64; L]; 16],
    /// Key XOR opad.
    pub(crate) opad: [[u64; L]; 16],
    /// U_1 of the current output block.
    pub(crate) u1: [[u64; L]; 8],
}

impl<const L: usize> Group<L> {
    fn new() -> Self {
        Group {
            ipad: [[0; L]; 16],
            opad: [[0; L]; 16],
            u1: [[0; L]; 8],
        }
    }
}

/// Big-endian words of `bytes` (8 at a time) into lane `lane` of `rows`, each XORed with `mask`.
fn put_words<const L: usize>(rows: &mut [[u64; L]], lane: usize, bytes: &[u8], mask: u64) {
    for (row, chunk) in rows.iter_mut().zip(bytes.chunks(8)) {
        let word = chunk.iter().fold(0u64, |w, b| (w << 8) | u64::from(*b));
        if let Some(slot) = row.get_mut(lane) {
            *slot = word ^ mask;
        }
    }
}

fn hmac_sha512(password: &[u8]) -> Hmac<Sha512> {
    // HMAC accepts keys of every length, so `new_from_slice` cannot fail; the fallback keeps the
    // no-panic rule without an `expect`.
    <Hmac<Sha512> as Mac>::new_from_slice(password)
        .unwrap_or_else(|_| <Hmac<Sha512> as hmac::digest::KeyInit>::new(&Default::default()))
}

/// Derive `out.len()` keys (at most `L`, one per password) with `f`, which runs PBKDF2's F on
/// a [`Group`] of lanes. The keyed `Hmac` values are not wiped (the `hmac` crate cannot), as in
/// the `pbkdf2` crate; the key blocks, U_1 and the results are.
pub(crate) fn derive_group<const L: usize, const N: usize>(
    f: impl Fn(&Group<L>, u32, &mut [[u64; L]; 8]),
    passwords: &[&[u8]],
    salt: &[u8],
    rounds: u32,
    out: &mut [SecretBytes<N>],
) {
    let mut g = Group::<L>::new();
    let mut macs = Vec::with_capacity(L);
    for (lane, pw) in passwords.iter().take(L).enumerate() {
        // RFC 2104: a key longer than the block is hashed first, then zero-padded to 128 bytes.
        let mut key = Zeroizing::new([0u8; 128]);
        if pw.len() > 128 {
            let mut digest = Sha512::digest(pw);
            for (k, d) in key.iter_mut().zip(digest.iter()) {
                *k = *d;
            }
            digest.as_mut_slice().zeroize();
        } else {
            for (k, p) in key.iter_mut().zip(pw.iter()) {
                *k = *p;
            }
        }
        put_words(&mut g.ipad, lane, &key[..], 0x3636_3636_3636_3636);
        put_words(&mut g.opad, lane, &key[..], 0x5c5c_5c5c_5c5c_5c5c);
        macs.push(hmac_sha512(pw));
    }
    let mut t = Zeroizing::new([[0u64; L]; 8]);
    // PBKDF2 (RFC 8018, 5.2): output block i (from 1) is F(password, salt, rounds, i).
    for (i, block) in (1u32..).zip(0..N.div_ceil(64)) {
        for (lane, mac) in macs.iter().enumerate() {
            let mut m = mac.clone();
            m.update(salt);
            m.update(&i.to_be_bytes());
            let mut u1 = m.finalize().into_bytes();
            put_words(&mut g.u1, lane, &u1, 0);
            u1.as_mut_slice().zeroize();
        }
        f(&g, rounds, &mut t);
        for (lane, key) in out.iter_mut().take(L).enumerate() {
            let Some(dst) = key.expose_mut().chunks_mut(64).nth(block) else {
                continue;
            };
            for (bytes, row) in dst.chunks_mut(8).zip(t.iter()) {
                let word = row.get(lane).copied().unwrap_or(0).to_be_bytes();
                for (d, s) in bytes.iter_mut().zip(word) {
                    *d = s;
                }
            }
        }
    }
}
