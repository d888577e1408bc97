//! Megolm session keys as they appear in exports, backups and `m.room_key` (FORMATS.md, "Megolm
//! session keys"):
//!
//! ```text
//! 0x01 | index u32 BE | ratchet 128 | ed25519 public key 32                      (165, export)
//! 0x02 | index u32 BE | ratchet 128 | ed25519 public key 32 | signature 64       (229, signed)
//! ```
//!
//! Parsing checks everything that can be checked: length for the version, a valid Ed25519 point,
//! and for the signed format the signature over everything before it.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::encoding::{decode_lenient, encode_unpadded};
use crate::secret::SecretBytes;

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
        })
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

    /// The session id: unpadded base64 of the Ed25519 public key.
    pub fn session_id(&self) -> String {
        encode_unpadded(&self.signing_key)
    }

    /// The ratchet state at [`Self::first_index`].
    pub fn ratchet(&self) -> &SecretBytes<128> {
        &self.ratchet
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

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
