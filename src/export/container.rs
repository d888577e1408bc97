//! The binary layout inside the armor (spec "Key exports", step 4):
//!
//! ```text
//! 0x01 | salt (16) | iv (16) | rounds (u32 BE) | AES-256-CTR ciphertext | HMAC-SHA-256 (32)
//! ```
//!
//! The spec does not say how wide the CTR counter is. Element Web encrypts and decrypts with
//! WebCrypto `AES-CTR` `length: 64`: the low 64 bits of the IV count and wrap within
//! themselves, the high 64 bits never change. Go's `cipher.NewCTR`, PyCryptodome (matrix-nio)
//! and the `ctr` crate's `Ctr128BE` carry across all 128 bits. The two agree until the low 64
//! bits overflow, which [`Header::counter_overflows`] predicts from the IV and the length.

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::attachment::{Cipher, Counter};
use crate::error::Error;
use crate::kdf::{self, Limits, Rounds};
use crate::secret::SecretBytes;

/// Version byte, salt, IV and rounds.
pub(crate) const HEADER_LEN: usize = 37;
/// HMAC-SHA-256 tag length.
pub(crate) const MAC_LEN: usize = 32;
/// The only version the spec defines.
pub(crate) const VERSION: u8 = 1;

pub(crate) type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;
pub(crate) type HmacSha256 = Hmac<Sha256>;

/// The export's fixed header, exactly as stored (the version is checked separately, so
/// `inspect` can show a file with an unknown version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Format version byte.
    pub version: u8,
    /// PBKDF2 salt.
    pub salt: [u8; 16],
    /// AES-CTR initial counter block.
    pub iv: [u8; 16],
    /// PBKDF2 rounds.
    pub rounds: u32,
}

impl Header {
    /// Split the 37 header bytes into fields.
    pub(crate) fn parse(bytes: &[u8; HEADER_LEN]) -> Header {
        let (version, rest) = bytes.split_first().map_or((0, &[][..]), |(v, r)| (*v, r));
        let mut salt = [0u8; 16];
        let mut iv = [0u8; 16];
        let mut rounds = [0u8; 4];
        if let (Some(s), Some(i), Some(r)) = (rest.get(..16), rest.get(16..32), rest.get(32..36)) {
            salt.copy_from_slice(s);
            iv.copy_from_slice(i);
            rounds.copy_from_slice(r);
        }
        Header {
            version,
            salt,
            iv,
            rounds: u32::from_be_bytes(rounds),
        }
    }

    /// The 37 header bytes.
    pub(crate) fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let parts: [&[u8]; 4] = [
            &[self.version],
            &self.salt,
            &self.iv,
            &self.rounds.to_be_bytes(),
        ];
        let mut pos = 0;
        for p in parts {
            if let Some(dst) = out.get_mut(pos..pos + p.len()) {
                dst.copy_from_slice(p);
            }
            pos += p.len();
        }
        out
    }

    /// Check the version and the rounds, before anything is derived.
    ///
    /// # Errors
    /// [`Error::ExportVersion`], [`Error::RoundsZero`], [`Error::RoundsTooHigh`].
    pub fn check(&self, limits: &Limits) -> Result<Rounds, Error> {
        if self.version != VERSION {
            return Err(Error::ExportVersion {
                version: self.version,
            });
        }
        limits.rounds(self.rounds)
    }

    /// Whether bit 63 of the IV (the top bit of byte 8) is clear, as the spec asks writers to do.
    pub fn iv_bit63_clear(&self) -> bool {
        self.iv.get(8).is_some_and(|b| b & 0x80 == 0)
    }

    /// Whether the low 64 bits of the IV, counting one per 16-byte block, overflow within
    /// `ciphertext_len` bytes. Only then do a 64-bit counter (Element) and a 128-bit counter (Go,
    /// PyCryptodome) decrypt the file differently, from the first block after the overflow on.
    /// Never true when bit 63 of the IV is clear (below 2^63 blocks).
    pub fn counter_overflows(&self, ciphertext_len: u64) -> bool {
        let mut low = [0u8; 8];
        if let Some(l) = self.iv.get(8..) {
            low.copy_from_slice(l);
        }
        // Block i (from 0) uses low + i; the last block is ceil(len / 16) - 1.
        let last = ciphertext_len.div_ceil(16).saturating_sub(1);
        u64::from_be_bytes(low).checked_add(last).is_none()
    }
}

/// Clear bit 63 of a fresh IV (spec step 3; it keeps 64-bit and 128-bit CTR implementations in
/// agreement for any file shorter than 2^63 blocks).
pub(crate) fn clear_bit63(mut iv: [u8; 16]) -> [u8; 16] {
    if let Some(b) = iv.get_mut(8) {
        *b &= 0x7f;
    }
    iv
}

/// K (AES-256) and K' (HMAC-SHA-256), the two halves of the PBKDF2 output.
pub(crate) struct ExportKeys {
    pub(crate) aes: SecretBytes<32>,
    pub(crate) mac: SecretBytes<32>,
}

impl ExportKeys {
    /// PBKDF2-HMAC-SHA-512(passphrase bytes, salt, rounds, 512 bits), split in two.
    pub(crate) fn derive(password: &[u8], salt: &[u8; 16], rounds: Rounds) -> ExportKeys {
        Self::from_derived(&kdf::pbkdf2_sha512::<64>(password, salt, rounds))
    }

    /// Split 64 bytes of PBKDF2-HMAC-SHA-512 output (derived elsewhere, e.g. in a batch) into
    /// K and K'.
    pub(crate) fn from_derived(full: &SecretBytes<64>) -> ExportKeys {
        let mut aes = SecretBytes::<32>::zeroed();
        let mut mac = SecretBytes::<32>::zeroed();
        let (k, k2) = full.expose().split_at(32);
        aes.expose_mut().copy_from_slice(k);
        mac.expose_mut().copy_from_slice(k2);
        ExportKeys { aes, mac }
    }

    /// A fresh HMAC keyed with K'.
    pub(crate) fn hmac(&self) -> HmacSha256 {
        hmac_sha256(self.mac.expose())
    }

    /// AES-256-CTR keyed with K, counter starting at `iv`.
    pub(crate) fn cipher(&self, iv: &[u8; 16]) -> Aes256Ctr {
        Aes256Ctr::new(self.aes.expose().into(), iv.into())
    }

    /// AES-256-CTR keyed with K, counter starting at `iv` and advancing as `counter` says.
    pub(crate) fn cipher_with(&self, iv: &[u8; 16], counter: Counter) -> Cipher {
        Cipher::new(self.aes.expose(), iv, counter)
    }
}

impl std::fmt::Debug for ExportKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExportKeys(<redacted>)")
    }
}

/// HMAC-SHA-256 with a 32-byte key: the one place an HMAC is keyed.
pub(crate) fn hmac_sha256(key: &[u8; 32]) -> HmacSha256 {
    // HMAC accepts keys of every length, so `new_from_slice` cannot fail; the fallback keeps the
    // no-panic rule without an `expect`.
    <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()))
}

/// Apply the AES-CTR keystream in place.
pub(crate) fn apply(cipher: &mut Aes256Ctr, buf: &mut [u8]) {
    cipher.apply_keystream(buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_checks() {
        let mut bytes = [0u8; HEADER_LEN];
        bytes[0] = 1;
        bytes[1..17].copy_from_slice(&[7; 16]);
        bytes[17..33].copy_from_slice(&[9; 16]);
        bytes[33..37].copy_from_slice(&500_000u32.to_be_bytes());
        let h = Header::parse(&bytes);
        assert_eq!(h.rounds, 500_000);
        assert_eq!(h.salt, [7; 16]);
        assert_eq!(h.iv, [9; 16]);
        assert_eq!(h.to_bytes(), bytes);
        let limit = |max_rounds| Limits { max_rounds };
        assert_eq!(h.check(&limit(1_000_000)).unwrap().get(), 500_000);
        assert!(matches!(
            h.check(&limit(1000)),
            Err(Error::RoundsTooHigh { .. })
        ));
        let h2 = Header { version: 2, ..h };
        assert!(matches!(
            h2.check(&limit(1_000_000)),
            Err(Error::ExportVersion { version: 2 })
        ));
    }

    #[test]
    fn the_counter_overflows_only_past_the_low_64_bits() {
        let at = |low: u64| Header {
            version: 1,
            salt: [0; 16],
            iv: {
                let mut iv = [0xff; 16];
                iv[8..].copy_from_slice(&low.to_be_bytes());
                iv
            },
            rounds: 1,
        };
        // All ones: the second block overflows, the first does not.
        assert!(!at(u64::MAX).counter_overflows(0));
        assert!(!at(u64::MAX).counter_overflows(16));
        assert!(at(u64::MAX).counter_overflows(17));
        // Two blocks left: 32 bytes fit, 33 do not.
        assert!(!at(u64::MAX - 1).counter_overflows(32));
        assert!(at(u64::MAX - 1).counter_overflows(33));
        // Bit 63 clear: not even the longest possible file overflows.
        assert!(!at(i64::MAX as u64).counter_overflows(u64::MAX));
        let cleared = Header {
            iv: clear_bit63([0xff; 16]),
            ..at(0)
        };
        assert!(!cleared.counter_overflows(u64::MAX));
    }

    #[test]
    fn bit63_is_the_top_bit_of_byte_8() {
        let iv = clear_bit63([0xff; 16]);
        assert_eq!(iv[8], 0x7f);
        assert_eq!(iv.iter().filter(|b| **b == 0xff).count(), 15);
    }
}
