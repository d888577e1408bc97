//! Room-key bundles (MSC4268, history sharing in spec v1.19): the keys an inviter shares with an
//! invitee so that the invitee can read the room's history from before the invite.
//!
//! The inviter encrypts a JSON document as an attachment (AES-256-CTR, SHA-256 of the
//! ciphertext; see [`crate::attachment`]), uploads it, and sends its `EncryptedFile` to each of
//! the invitee's devices in an Olm-encrypted `m.room_key_bundle` to-device event
//! (`{"room_id": ..., "file": {url, key, iv, hashes, v}}`). The document is
//!
//! ```json
//! {"room_keys": [ {session in the key-export format, with "shared_history": true}, ... ],
//!  "withheld": [ {"algorithm", "room_id", "session_id", "code", "reason", ...}, ... ]}
//! ```
//!
//! `room_keys` are exactly what a key export holds, so [`decrypt`] gives
//! [`SessionRecord`]s; `withheld` names the sessions the inviter would not or could not share
//! and why (`code`: `m.unverified`, `m.blacklisted`, `m.unauthorised`, `m.unavailable`,
//! `m.no_olm`, or `m.history_not_shared` for sessions not marked as shared history).
//!
//! The hash of the ciphertext is checked, in constant time, before a byte is decrypted.

use std::io::Write;

use serde_json::Value;
use zeroize::Zeroizing;

use crate::attachment::{
    AttachmentDecryptor, AttachmentError, AttachmentKey, EncryptedFile, HashCheck,
};
use crate::secret::SecretBuf;
use crate::session::SessionRecord;

/// Why a bundle cannot be read. No message quotes the bundle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The `EncryptedFile` is unusable, or the ciphertext's hash is not the one it names.
    #[error(transparent)]
    Attachment(#[from] AttachmentError),
    /// Decrypted, but not a bundle.
    #[error("the decrypted bundle is not a room-key bundle: {0}")]
    NotABundle(String),
}

/// A decrypted bundle.
#[derive(Debug)]
pub struct Bundle {
    /// `room_keys`, each a session of the key-export format.
    pub sessions: Vec<SessionRecord>,
    /// `withheld`, as given.
    pub withheld: Vec<Value>,
    /// Entries of `room_keys` that are not sessions (their position, why).
    pub unreadable: Vec<(usize, String)>,
}

/// Check the hash of `blob` against `file`, decrypt it and read the bundle.
///
/// # Errors
/// [`BundleError::Attachment`] for a bad `EncryptedFile` or a hash mismatch (nothing is
/// decrypted then); [`BundleError::NotABundle`].
pub fn decrypt(blob: &[u8], file: &EncryptedFile) -> Result<Bundle, BundleError> {
    let key = AttachmentKey::from_info(file)?;
    let mut check = HashCheck::new(&key);
    check
        .write_all(blob)
        .map_err(|e| BundleError::NotABundle(e.to_string()))?;
    check.finish()?;
    let mut dec = AttachmentDecryptor::new(SecretBuf::with_capacity(blob.len()), &key);
    dec.write_all(blob)
        .map_err(|e| BundleError::NotABundle(e.to_string()))?;
    let plain = dec.finish()?;
    parse(plain.expose())
}

/// Read a decrypted bundle document.
///
/// # Errors
/// [`BundleError::NotABundle`] when it is not JSON, or `room_keys` is not a list.
pub fn parse(plain: &[u8]) -> Result<Bundle, BundleError> {
    let doc: Value =
        serde_json::from_slice(plain).map_err(|_| BundleError::NotABundle("not JSON".into()))?;
    let keys = doc
        .get("room_keys")
        .and_then(Value::as_array)
        .ok_or_else(|| BundleError::NotABundle("no \"room_keys\" list".into()))?;
    let mut sessions = Vec::with_capacity(keys.len());
    let mut unreadable = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        // Through a wiped buffer: the entry holds a session key.
        let text = Zeroizing::new(k.to_string());
        match serde_json::from_str::<SessionRecord>(&text) {
            Ok(s) if k.is_object() => sessions.push(s),
            _ => unreadable.push((i, "not a session object".to_owned())),
        }
    }
    let withheld = match doc.get("withheld") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(w)) => w.clone(),
        Some(_) => return Err(BundleError::NotABundle("\"withheld\" is not a list".into())),
    };
    Ok(Bundle {
        sessions,
        withheld,
        unreadable,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn room_keys_keep_every_field_and_withheld_entries_are_listed() {
        // Sessions with the shared-history flag in each spelling (and one without), as a bundle.
        let sessions: Value = serde_json::from_str(include_str!(
            "../test-vectors/megolm/valid-shared-history.json"
        ))
        .unwrap();
        let doc = serde_json::json!({
            "room_keys": sessions.clone(),
            "withheld": [{"room_id": "!a:x", "session_id": "s", "code": "m.unverified"}],
        });
        let b = parse(doc.to_string().as_bytes()).unwrap();
        let again: Vec<Value> = b
            .sessions
            .iter()
            .map(|s| serde_json::to_value(s).unwrap())
            .collect();
        assert_eq!(Value::Array(again), sessions);
        assert_eq!(b.withheld.len(), 1);
        assert!(b.unreadable.is_empty());
    }

    #[test]
    fn what_is_not_a_bundle_says_why() {
        for (text, why) in [
            (&b"not json"[..], "not JSON"),
            (b"{}", "no \"room_keys\" list"),
            (
                b"{\"room_keys\": [], \"withheld\": 5}",
                "\"withheld\" is not a list",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
        let b = parse(b"{\"room_keys\": [5, {\"room_id\": \"!a:x\"}]}").unwrap();
        assert_eq!(b.sessions.len(), 1);
        assert_eq!(b.unreadable, vec![(0, "not a session object".to_owned())]);
    }
}
