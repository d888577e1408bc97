//! Megolm session keys as they appear in exports, backups and `m.room_key` (spec "Megolm", and
//! libolm's megolm.md for the byte layouts):
//!
//! ```text
//! 0x01 | index u32 BE | ratchet 128 | ed25519 public key 32                      (165, export)
//! 0x02 | index u32 BE | ratchet 128 | ed25519 public key 32 | signature 64       (229, signed)
//! ```
//!
//! Parsing checks everything that can be checked: length for the version, a valid Ed25519 point,
//! and for the signed format the signature over everything before it.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
use ed25519_dalek::{Signature, VerifyingKey};
use hkdf::Hkdf;
use hmac::Mac;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::encoding::{decode_lenient, encode_unpadded};
use crate::export::container::hmac_sha256;
use crate::secret::SecretBytes;

/// The algorithm name of megolm sessions and room messages, `m.megolm.v1.aes-sha2`.
pub const ALGORITHM: &str = "m.megolm.v1.aes-sha2";
/// Length of the export format.
pub const EXPORT_LEN: usize = 165;
/// Length of the signed sharing format.
pub const SIGNED_LEN: usize = 229;

/// Which of the two encodings a session key used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKeyFormat {
    /// `0x01`, as exports and backups carry.
    Export,
    /// `0x02`, with a signature, as `m.room_key` carries.
    Signed,
}

/// What is wrong with a session key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionKeyError {
    /// Not base64.
    #[error("session_key is not base64")]
    Base64,
    /// Unknown first byte.
    #[error("session_key starts with version byte {0}, expected 1 (export format) or 2 (signed)")]
    Version(u8),
    /// Wrong length for its version.
    #[error("session_key is {len} bytes, expected {expected} for version {version}")]
    Length {
        /// Bytes found.
        len: usize,
        /// Bytes the version needs.
        expected: usize,
        /// The version byte.
        version: u8,
    },
    /// The embedded Ed25519 key is not a valid point.
    #[error("session_key holds an invalid Ed25519 public key")]
    BadPublicKey,
    /// The signature of a 0x02 key does not verify.
    #[error("session_key signature does not verify: the key was changed or forged")]
    Signature,
}

/// A parsed and checked megolm session key.
pub struct SessionKey {
    format: SessionKeyFormat,
    index: u32,
    ratchet: SecretBytes<128>,
    signing_key: [u8; 32],
    /// `signing_key` decompressed once (checking it did that): every message of the session is
    /// verified with it, and decompressing costs more than the rest of a message.
    verifying: VerifyingKey,
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKey")
            .field("format", &self.format)
            .field("index", &self.index)
            .field("session_id", &self.session_id())
            .finish_non_exhaustive()
    }
}

impl SessionKey {
    /// Parse unpadded or padded base64.
    ///
    /// # Errors
    /// [`SessionKeyError`].
    pub fn from_base64(text: &str) -> Result<Self, SessionKeyError> {
        let bytes =
            zeroize::Zeroizing::new(decode_lenient(text).map_err(|_| SessionKeyError::Base64)?);
        Self::from_bytes(&bytes)
    }

    /// Parse raw bytes.
    ///
    /// # Errors
    /// [`SessionKeyError`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SessionKeyError> {
        let (&version, _) = bytes.split_first().ok_or(SessionKeyError::Length {
            len: 0,
            expected: EXPORT_LEN,
            version: 1,
        })?;
        let (format, expected) = match version {
            1 => (SessionKeyFormat::Export, EXPORT_LEN),
            2 => (SessionKeyFormat::Signed, SIGNED_LEN),
            v => return Err(SessionKeyError::Version(v)),
        };
        if bytes.len() != expected {
            return Err(SessionKeyError::Length {
                len: bytes.len(),
                expected,
                version,
            });
        }
        let field = |from: usize, len: usize| bytes.get(from..from + len).unwrap_or_default();
        let mut index = [0u8; 4];
        index.copy_from_slice(field(1, 4));
        let mut ratchet = SecretBytes::<128>::zeroed();
        ratchet.expose_mut().copy_from_slice(field(5, 128));
        let mut signing_key = [0u8; 32];
        signing_key.copy_from_slice(field(133, 32));
        let vk =
            VerifyingKey::from_bytes(&signing_key).map_err(|_| SessionKeyError::BadPublicKey)?;
        if format == SessionKeyFormat::Signed {
            let mut sig = [0u8; 64];
            sig.copy_from_slice(field(165, 64));
            vk.verify_strict(field(0, 165), &Signature::from_bytes(&sig))
                .map_err(|_| SessionKeyError::Signature)?;
        }
        Ok(SessionKey {
            format,
            index: u32::from_be_bytes(index),
            ratchet,
            signing_key,
            verifying: vk,
        })
    }

    /// The first message index of a key that has the right version and length, whatever else
    /// is wrong with it (a bad signature, a bad point): for reports on damaged keys.
    pub fn peek_index(bytes: &[u8]) -> Option<u32> {
        let expected = match bytes.first() {
            Some(1) => EXPORT_LEN,
            Some(2) => SIGNED_LEN,
            _ => return None,
        };
        if bytes.len() != expected {
            return None;
        }
        let idx: [u8; 4] = bytes.get(1..5)?.try_into().ok()?;
        Some(u32::from_be_bytes(idx))
    }

    /// The key in the 0x01 export format (a 0x02 key loses its signature), as unpadded base64.
    pub fn to_export_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(encode_unpadded(&self.to_export_bytes()))
    }

    /// The key in the 0x01 export format ([`EXPORT_LEN`] bytes; a 0x02 key loses its
    /// signature): what [`Self::from_bytes`] reads back as the same key.
    pub fn to_export_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut b = Zeroizing::new(Vec::with_capacity(EXPORT_LEN));
        b.push(1);
        b.extend_from_slice(&self.index.to_be_bytes());
        b.extend_from_slice(self.ratchet.expose());
        b.extend_from_slice(&self.signing_key);
        b
    }

    /// Which encoding it came in.
    pub fn format(&self) -> SessionKeyFormat {
        self.format
    }

    /// The first message index this key can decrypt (lower decrypts more history).
    pub fn first_index(&self) -> u32 {
        self.index
    }

    /// The session's Ed25519 public key.
    pub fn signing_key(&self) -> &[u8; 32] {
        &self.signing_key
    }

    /// The session's Ed25519 public key, decompressed.
    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }

    /// The session id: unpadded base64 of the Ed25519 public key.
    pub fn session_id(&self) -> String {
        encode_unpadded(&self.signing_key)
    }

    /// The ratchet state at [`Self::first_index`].
    pub fn ratchet(&self) -> &SecretBytes<128> {
        &self.ratchet
    }

    /// A working copy of the ratchet at [`Self::first_index`].
    pub fn to_ratchet(&self) -> Ratchet {
        Ratchet {
            index: self.index,
            parts: self.ratchet.clone(),
        }
    }

    /// Whether `other` is this same session (same signing key, and the ratchet at the lower first
    /// index, advanced, gives the other's ratchet). False for a forged or damaged copy.
    pub fn same_session(&self, other: &SessionKey) -> bool {
        if self.signing_key != other.signing_key {
            return false;
        }
        let (low, high) = if self.index <= other.index {
            (self, other)
        } else {
            (other, self)
        };
        let mut r = low.to_ratchet();
        if r.advance_to(high.index).is_err() {
            return false;
        }
        use subtle::ConstantTimeEq;
        bool::from(r.parts.expose().ct_eq(high.ratchet.expose()))
    }
}

/// The megolm ratchet: four 32-byte parts and the index they are at.
#[derive(Clone)]
pub struct Ratchet {
    index: u32,
    parts: SecretBytes<128>,
}

impl std::fmt::Debug for Ratchet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ratchet(index {}, <redacted>)", self.index)
    }
}

/// The ratchet cannot go backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the ratchet is at index {at}; index {wanted} is before it")]
pub struct RatchetBehind {
    /// Where the ratchet is.
    pub at: u32,
    /// Where it was asked to go.
    pub wanted: u32,
}

impl Ratchet {
    /// The index the ratchet is at.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The four parts at [`Self::index`] (what a session key at that index holds).
    pub fn parts(&self) -> &SecretBytes<128> {
        &self.parts
    }

    /// R_k = HMAC-SHA-256(key = R_from, message = [k]).
    fn rehash(&mut self, from: usize, to: usize) {
        let mut key = Zeroizing::new([0u8; 32]);
        if let Some(src) = self.parts.expose().get(from * 32..from * 32 + 32) {
            key.copy_from_slice(src);
        }
        let mut h = hmac_sha256(&key);
        h.update(&[to as u8]);
        let out = h.finalize().into_bytes();
        if let Some(dst) = self.parts.expose_mut().get_mut(to * 32..to * 32 + 32) {
            dst.copy_from_slice(&out);
        }
    }

    /// Advance to `target` (the megolm spec's algorithm: at most 4 × 255 HMACs, whatever the
    /// distance).
    ///
    /// # Errors
    /// [`RatchetBehind`] when `target` is below the current index.
    pub fn advance_to(&mut self, target: u32) -> Result<(), RatchetBehind> {
        if target < self.index {
            return Err(RatchetBehind {
                at: self.index,
                wanted: target,
            });
        }
        for j in 0..4usize {
            let shift = (3 - j) * 8;
            let mask = u32::MAX.checked_shl(shift as u32).unwrap_or(0);
            let mut steps = ((target >> shift).wrapping_sub(self.index >> shift)) & 0xff;
            if steps == 0 {
                continue;
            }
            while steps > 1 {
                self.rehash(j, j);
                steps -= 1;
            }
            for k in (j..4).rev() {
                self.rehash(j, k);
            }
            self.index = target & mask;
        }
        self.index = target;
        Ok(())
    }

    /// AES key, HMAC key and IV for the message at the current index:
    /// HKDF-SHA-256(R, zero salt, "MEGOLM_KEYS") -> 80 bytes.
    fn message_keys(&self) -> SecretBytes<80> {
        let hk = Hkdf::<Sha256>::new(Some(&[0u8; 32]), self.parts.expose());
        let mut okm = SecretBytes::<80>::zeroed();
        // 80 bytes is far below HKDF-SHA-256's limit: expand cannot fail.
        let _ = hk.expand(b"MEGOLM_KEYS", okm.expose_mut());
        okm
    }
}

/// Why a megolm message could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// Not base64, wrong version, bad protobuf, too short.
    #[error("the ciphertext is malformed: {0}")]
    Format(&'static str),
    /// The 8-byte MAC does not match.
    #[error("MAC mismatch: the ciphertext was changed or the key is not this session's")]
    Mac,
    /// The Ed25519 signature does not verify.
    #[error(
        "signature mismatch: the message was not sent by this session's owner, or was changed"
    )]
    Signature,
    /// Padding wrong after decryption.
    #[error("bad padding after decryption")]
    Padding,
}

/// A parsed `m.megolm.v1.aes-sha2` ciphertext.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The message index.
    pub index: u32,
    ciphertext: &'a [u8],
    /// Version byte through ciphertext: what the MAC covers.
    mac_covered: &'a [u8],
    mac: &'a [u8],
    /// Everything before the signature.
    signed: &'a [u8],
    signature: &'a [u8],
}

fn varint(bytes: &[u8], pos: &mut usize) -> Result<u64, MessageError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes
            .get(*pos)
            .ok_or(MessageError::Format("truncated varint"))?;
        *pos += 1;
        v |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(MessageError::Format("varint too long"))
}

impl<'a> Message<'a> {
    /// Parse the decoded ciphertext: `0x03 | protobuf(1: index, 2: ciphertext) | MAC 8 | sig 64`.
    ///
    /// # Errors
    /// [`MessageError::Format`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, MessageError> {
        let body_len = bytes
            .len()
            .checked_sub(8 + 64)
            .ok_or(MessageError::Format("shorter than its MAC and signature"))?;
        let (signed, signature) = bytes.split_at(body_len + 8);
        let (mac_covered, mac) = signed.split_at(body_len);
        match mac_covered.first() {
            Some(3) => {}
            Some(_) => return Err(MessageError::Format("unknown version (expected 3)")),
            None => return Err(MessageError::Format("empty")),
        }
        let mut pos = 1;
        let (mut index, mut ciphertext) = (None, None);
        while pos < mac_covered.len() {
            let tag = varint(mac_covered, &mut pos)?;
            match (tag >> 3, tag & 7) {
                (1, 0) => {
                    let v = varint(mac_covered, &mut pos)?;
                    index = Some(
                        u32::try_from(v).map_err(|_| MessageError::Format("index above 2^32"))?,
                    );
                }
                (2, 2) => {
                    let len = usize::try_from(varint(mac_covered, &mut pos)?).unwrap_or(usize::MAX);
                    let end = pos
                        .checked_add(len)
                        .ok_or(MessageError::Format("length overflow"))?;
                    ciphertext = Some(
                        mac_covered
                            .get(pos..end)
                            .ok_or(MessageError::Format("truncated ciphertext"))?,
                    );
                    pos = end;
                }
                (_, 0) => {
                    varint(mac_covered, &mut pos)?;
                }
                (_, 2) => {
                    let len = usize::try_from(varint(mac_covered, &mut pos)?).unwrap_or(usize::MAX);
                    pos = pos
                        .checked_add(len)
                        .filter(|e| *e <= mac_covered.len())
                        .ok_or(MessageError::Format("truncated field"))?;
                }
                _ => return Err(MessageError::Format("unknown protobuf wire type")),
            }
        }
        Ok(Message {
            index: index.ok_or(MessageError::Format("no message index"))?,
            ciphertext: ciphertext.ok_or(MessageError::Format("no ciphertext"))?,
            mac_covered,
            mac,
            signed,
            signature,
        })
    }

    /// Check the MAC with the ratchet at this message's index, then the signature with the
    /// session's key, then decrypt.
    ///
    /// # Errors
    /// [`MessageError::Mac`], [`MessageError::Signature`], [`MessageError::Padding`].
    pub fn decrypt(
        &self,
        ratchet: &Ratchet,
        signing_key: &[u8; 32],
    ) -> Result<Zeroizing<Vec<u8>>, MessageError> {
        self.decrypt_with(ratchet, || {
            VerifyingKey::from_bytes(signing_key).map_err(|_| MessageError::Signature)
        })
    }

    /// [`Message::decrypt`] with the session's key already decompressed
    /// ([`SessionKey::verifying_key`]), as a session's many messages are checked.
    pub(crate) fn decrypt_verified(
        &self,
        ratchet: &Ratchet,
        key: &VerifyingKey,
    ) -> Result<Zeroizing<Vec<u8>>, MessageError> {
        self.decrypt_with(ratchet, || Ok(*key))
    }

    /// The MAC first; only then is the key (decompressed if need be) used for the signature.
    fn decrypt_with(
        &self,
        ratchet: &Ratchet,
        key: impl FnOnce() -> Result<VerifyingKey, MessageError>,
    ) -> Result<Zeroizing<Vec<u8>>, MessageError> {
        let keys = self::Ratchet::message_keys(ratchet);
        let (aes_key, rest) = keys.expose().split_at(32);
        let (mac_key, iv) = rest.split_at(32);
        let mut mk = Zeroizing::new([0u8; 32]);
        mk.copy_from_slice(mac_key);
        let mut h = hmac_sha256(&mk);
        h.update(self.mac_covered);
        h.verify_truncated_left(self.mac)
            .map_err(|_| MessageError::Mac)?;
        let vk = key()?;
        let sig: [u8; 64] = self
            .signature
            .try_into()
            .map_err(|_| MessageError::Signature)?;
        vk.verify_strict(self.signed, &Signature::from_bytes(&sig))
            .map_err(|_| MessageError::Signature)?;
        let mut buf = Zeroizing::new(self.ciphertext.to_vec());
        let n = cbc::Decryptor::<aes::Aes256>::new_from_slices(aes_key, iv)
            .map_err(|_| MessageError::Padding)?
            .decrypt_padded_mut::<Pkcs7>(&mut buf)
            .map_err(|_| MessageError::Padding)?
            .len();
        buf.truncate(n);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn ratchet(index: u32) -> Ratchet {
        let mut parts = SecretBytes::<128>::zeroed();
        for (i, b) in parts.expose_mut().iter_mut().enumerate() {
            *b = i as u8;
        }
        Ratchet { index, parts }
    }

    /// Advancing in one jump equals advancing one index at a time (the spec's defining property),
    /// across the 2^8 and 2^16 boundaries.
    #[test]
    fn jumps_equal_single_steps() {
        let mut stepped = ratchet(250);
        for target in [251u32, 255, 256, 257, 600, 65_535, 65_536, 65_540] {
            let mut jumped = ratchet(250);
            jumped.advance_to(target).unwrap();
            while stepped.index < target {
                let next = stepped.index + 1;
                stepped.advance_to(next).unwrap();
            }
            assert_eq!(jumped.parts.expose(), stepped.parts.expose(), "{target}");
            assert_eq!(jumped.index(), target);
        }
        assert!(stepped.advance_to(3).is_err());
    }

    fn signed(index: u32) -> (Vec<u8>, SigningKey) {
        let sk = SigningKey::from_bytes(&[7; 32]);
        let mut b = vec![2u8];
        b.extend_from_slice(&index.to_be_bytes());
        b.extend_from_slice(&[0x55; 128]);
        b.extend_from_slice(sk.verifying_key().as_bytes());
        let sig = sk.sign(&b);
        b.extend_from_slice(&sig.to_bytes());
        (b, sk)
    }

    #[test]
    fn signed_keys_verify_and_tampering_is_caught() {
        let (b, sk) = signed(42);
        let k = SessionKey::from_bytes(&b).unwrap();
        assert_eq!(k.first_index(), 42);
        assert_eq!(k.format(), SessionKeyFormat::Signed);
        assert_eq!(
            k.session_id(),
            encode_unpadded(sk.verifying_key().as_bytes())
        );
        for i in [1, 10, 200, 228] {
            let mut bad = b.clone();
            bad[i] ^= 1;
            assert!(SessionKey::from_bytes(&bad).is_err(), "byte {i}");
        }
    }

    #[test]
    fn export_format_and_structure_errors() {
        let (b, _) = signed(3);
        let mut e = b[..EXPORT_LEN].to_vec();
        e[0] = 1;
        assert_eq!(SessionKey::from_bytes(&e).unwrap().first_index(), 3);
        assert_eq!(
            SessionKey::from_bytes(&e[..100]).unwrap_err(),
            SessionKeyError::Length {
                len: 100,
                expected: 165,
                version: 1
            }
        );
        e[0] = 3;
        assert_eq!(
            SessionKey::from_bytes(&e).unwrap_err(),
            SessionKeyError::Version(3)
        );
        assert_eq!(
            SessionKey::from_base64("!!").unwrap_err(),
            SessionKeyError::Base64
        );
        assert!(format!("{:?}", SessionKey::from_bytes(&b).unwrap()).contains("index: 3"));
    }

    #[test]
    fn real_export_session_keys_parse_and_match_their_ids() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/test-vectors/export/sessions-basic.json"
        );
        let sessions: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(sessions.len(), 7);
        for s in sessions {
            let k = SessionKey::from_base64(s["session_key"].as_str().unwrap()).unwrap();
            assert_eq!(k.format(), SessionKeyFormat::Export);
            assert_eq!(k.session_id(), s["session_id"].as_str().unwrap());
        }
    }
}
