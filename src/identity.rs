//! Identity checks, offline: canonical JSON and signed JSON (spec "Signing JSON"), cross-signing
//! chains in a `/keys/query` response (spec "Cross-signing"), QR verification payloads (spec "QR
//! codes") and SAS short authentication strings (spec "Short Authentication String (SAS)
//! verification").

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use ed25519_dalek::{Signature, VerifyingKey};
use hkdf::Hkdf;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::encoding::{decode_lenient, encode_unpadded};

/// Why a JSON value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalError {
    /// Not JSON.
    #[error("not JSON: {0}")]
    Syntax(String),
    /// A key appears twice in one object.
    #[error("duplicate key {0:?}: the signed form would be ambiguous")]
    DuplicateKey(String),
    /// A number that is not an integer in [-(2^53)+1, 2^53-1].
    #[error("{0} is not an integer in the range canonical JSON allows")]
    Number(String),
}

/// Finds duplicate keys anywhere in a document (serde_json keeps the last silently).
struct DupCheck;

impl<'de> Deserialize<'de> for DupCheck {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DupCheck;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DupCheck, A::Error> {
                let mut seen = HashSet::new();
                while let Some(k) = map.next_key::<String>()? {
                    if !seen.insert(k.clone()) {
                        return Err(de::Error::custom(format!("\u{0}dup\u{0}{k}")));
                    }
                    map.next_value::<DupCheck>()?;
                }
                Ok(DupCheck)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DupCheck, A::Error> {
                while seq.next_element::<DupCheck>()?.is_some() {}
                Ok(DupCheck)
            }
            fn visit_bool<E>(self, _: bool) -> Result<DupCheck, E> {
                Ok(DupCheck)
            }
            fn visit_i64<E>(self, _: i64) -> Result<DupCheck, E> {
                Ok(DupCheck)
            }
            fn visit_u64<E>(self, _: u64) -> Result<DupCheck, E> {
                Ok(DupCheck)
            }
            fn visit_f64<E>(self, _: f64) -> Result<DupCheck, E> {
                Ok(DupCheck)
            }
            fn visit_str<E>(self, _: &str) -> Result<DupCheck, E> {
                Ok(DupCheck)
            }
            fn visit_unit<E>(self) -> Result<DupCheck, E> {
                Ok(DupCheck)
            }
        }
        d.deserialize_any(V)
    }
}

/// Parse JSON text strictly: duplicate keys are an error.
///
/// # Errors
/// [`CanonicalError::Syntax`] or [`CanonicalError::DuplicateKey`].
pub fn parse_strict(text: &str) -> Result<Value, CanonicalError> {
    if let Err(e) = serde_json::from_str::<DupCheck>(text) {
        let msg = e.to_string();
        if let Some(rest) = msg.strip_prefix("\u{0}dup\u{0}") {
            let key = rest.split(" at line ").next().unwrap_or(rest);
            return Err(CanonicalError::DuplicateKey(key.to_owned()));
        }
        return Err(CanonicalError::Syntax(format!(
            "line {}, column {}",
            e.line(),
            e.column()
        )));
    }
    serde_json::from_str(text)
        .map_err(|e| CanonicalError::Syntax(format!("line {}, column {}", e.line(), e.column())))
}

const MAX_SAFE: i64 = (1 << 53) - 1;

fn write_canonical(v: &Value, out: &mut String) -> Result<(), CanonicalError> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_i64() {
            Some(i) if (-MAX_SAFE..=MAX_SAFE).contains(&i) => out.push_str(&i.to_string()),
            _ => return Err(CanonicalError::Number(n.to_string())),
        },
        Value::String(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out)?;
            }
            out.push(']');
        }
        Value::Object(o) => {
            // UTF-8 byte order is code-point order.
            let sorted: BTreeMap<&str, &Value> = o.iter().map(|(k, v)| (k.as_str(), v)).collect();
            out.push('{');
            for (i, (k, x)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push(':');
                write_canonical(x, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Canonical JSON: keys sorted by code point, no insignificant whitespace, integers only.
///
/// # Errors
/// [`CanonicalError::Number`] for floats and out-of-range integers.
pub fn canonical_json(v: &Value) -> Result<String, CanonicalError> {
    let mut out = String::new();
    write_canonical(v, &mut out)?;
    Ok(out)
}

/// Verify `signatures[user][key_id]` on a signed object with the Ed25519 key `public_b64`.
/// `None` when there is no such signature.
pub fn verify_signed(obj: &Value, user: &str, key_id: &str, public_b64: &str) -> Option<bool> {
    let sig = obj.get("signatures")?.get(user)?.get(key_id)?.as_str()?;
    Some(verify_with(obj, sig, public_b64))
}

fn verify_with(obj: &Value, sig_b64: &str, public_b64: &str) -> bool {
    let Some(map) = obj.as_object() else {
        return false;
    };
    let mut unsigned = map.clone();
    unsigned.remove("signatures");
    unsigned.remove("unsigned");
    let Ok(text) = canonical_json(&Value::Object(unsigned)) else {
        return false;
    };
    let key = decode_lenient(public_b64)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok());
    let sig = decode_lenient(sig_b64)
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b).ok());
    match (key.and_then(|k| VerifyingKey::from_bytes(&k).ok()), sig) {
        (Some(vk), Some(s)) => vk
            .verify_strict(text.as_bytes(), &Signature::from_bytes(&s))
            .is_ok(),
        _ => false,
    }
}

/// How a device stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    /// Signed by a valid self-signing key.
    CrossSigned,
    /// Not (validly) signed by a valid self-signing key.
    NotCrossSigned,
    /// Its own signature, or its cross-signature, fails.
    BadSignature,
}

/// The cross-signing state of one user as a viewer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserReport {
    /// The master key (unpadded base64).
    pub master_key: Option<String>,
    /// Devices whose signature on the master key verifies.
    pub master_signed_by_own_device: Vec<String>,
    /// The self-signing key is well-formed and signed by the master key.
    pub self_signing_valid: bool,
    /// Same for the user-signing key; `None` when the response has none for this user.
    pub user_signing_valid: Option<bool>,
    /// Whether the viewer's user-signing key signed this user's master key (`None` for the viewer).
    pub signed_by_viewer_user_signing: Option<bool>,
    /// Each device's status.
    pub devices: BTreeMap<String, DeviceStatus>,
    /// Everything wrong, sorted.
    pub problems: Vec<String>,
}

/// A cross-signing key object's single Ed25519 key, if it is well-formed for `user`/`usage`.
fn cross_key(obj: &Value, user: &str, usage: &str) -> Option<(String, String)> {
    if obj.get("user_id").and_then(Value::as_str) != Some(user) {
        return None;
    }
    let usages = obj.get("usage")?.as_array()?;
    if !usages.iter().any(|u| u.as_str() == Some(usage)) {
        return None;
    }
    let keys = obj.get("keys")?.as_object()?;
    if keys.len() != 1 {
        return None;
    }
    let (id, key) = keys.iter().next()?;
    let key = key.as_str()?;
    if id.strip_prefix("ed25519:")? != key || !decode_lenient(key).is_ok_and(|b| b.len() == 32) {
        return None;
    }
    Some((id.clone(), key.to_owned()))
}

/// Whether `kind` (self_signing_keys / user_signing_keys) of `user` is well-formed and signed by
/// `master`; pushes problems named with `name`.
fn subkey(
    resp: &Value,
    kind: &str,
    usage: &str,
    user: &str,
    master: Option<&(String, String)>,
    name: &str,
    problems: &mut Vec<String>,
) -> (Option<bool>, Option<(String, String)>) {
    let Some(obj) = resp.get(kind).and_then(|m| m.get(user)) else {
        return (None, None);
    };
    let Some(key) = cross_key(obj, user, usage) else {
        problems.push(format!("{name}_key_malformed"));
        return (Some(false), None);
    };
    let valid = match master {
        None => false,
        Some((mid, mkey)) => match verify_signed(obj, user, mid, mkey) {
            None => {
                problems.push(format!("{name}_not_signed_by_master"));
                false
            }
            Some(false) => {
                problems.push(format!("{name}_signature_invalid"));
                false
            }
            Some(true) => true,
        },
    };
    (Some(valid), Some(key))
}

/// Check every signature chain of `user` in a `/keys/query` response, as `viewer` sees it.
pub fn check_user(resp: &Value, user: &str, viewer: &str) -> UserReport {
    let mut problems = Vec::new();
    let devices_value = resp.get("device_keys").and_then(|d| d.get(user));
    let devices_obj = devices_value.and_then(Value::as_object);
    if devices_value.is_some() && devices_obj.is_none() {
        problems.push("device_keys_malformed".into());
    }
    let device_key = |dev: &str| -> Option<String> {
        let d = devices_obj?.get(dev)?;
        if d.get("user_id").and_then(Value::as_str) != Some(user)
            || d.get("device_id").and_then(Value::as_str) != Some(dev)
        {
            return None;
        }
        d.get("keys")?
            .get(format!("ed25519:{dev}"))?
            .as_str()
            .map(str::to_owned)
    };
    let master_obj = resp.get("master_keys").and_then(|m| m.get(user));
    let master = match master_obj {
        None => {
            problems.push("no_master_key".into());
            None
        }
        Some(m) => {
            let k = cross_key(m, user, "master");
            if k.is_none() {
                problems.push("master_key_malformed".into());
            }
            k
        }
    };
    let mut signed_by_devices = Vec::new();
    if let (Some(m), Some((mid, mkey))) = (master_obj, &master) {
        if let Some(sigs) = m
            .get("signatures")
            .and_then(|s| s.get(user))
            .and_then(Value::as_object)
        {
            for (kid, _) in sigs {
                let Some(dev) = kid.strip_prefix("ed25519:") else {
                    continue;
                };
                if kid == mid {
                    if verify_signed(m, user, kid, mkey) != Some(true) {
                        problems.push("master_self_signature_invalid".into());
                    }
                } else if let Some(dk) = device_key(dev) {
                    if verify_signed(m, user, kid, &dk) == Some(true) {
                        signed_by_devices.push(dev.to_owned());
                    } else {
                        problems.push(format!("master_device_signature_invalid:{dev}"));
                    }
                }
            }
        }
    }
    signed_by_devices.sort();
    let (ssk_valid, ssk) = subkey(
        resp,
        "self_signing_keys",
        "self_signing",
        user,
        master.as_ref(),
        "self_signing",
        &mut problems,
    );
    if ssk_valid.is_none() {
        problems.push("no_self_signing_key".into());
    }
    let self_signing_valid = ssk_valid.unwrap_or(false);
    let (usk_valid, _) = subkey(
        resp,
        "user_signing_keys",
        "user_signing",
        user,
        master.as_ref(),
        "user_signing",
        &mut problems,
    );

    let signed_by_viewer = if user == viewer {
        None
    } else {
        let mut viewer_problems = Vec::new();
        let vmaster = resp
            .get("master_keys")
            .and_then(|m| m.get(viewer))
            .and_then(|m| cross_key(m, viewer, "master"));
        let (vusk_valid, vusk) = subkey(
            resp,
            "user_signing_keys",
            "user_signing",
            viewer,
            vmaster.as_ref(),
            "viewer_user_signing",
            &mut viewer_problems,
        );
        // Only a master key that is well formed and names this user can be verified: a valid
        // signature over one that names another user must not make this user "verified".
        match (master.as_ref().and(master_obj), vusk) {
            (Some(m), Some((vid, vkey))) => match verify_signed(m, viewer, &vid, &vkey) {
                None => Some(false),
                Some(false) => {
                    problems.push("master_viewer_user_signing_signature_invalid".into());
                    Some(false)
                }
                Some(true) if vusk_valid == Some(true) => Some(true),
                Some(true) => {
                    problems.push("viewer_user_signing_key_untrusted".into());
                    Some(false)
                }
            },
            _ => Some(false),
        }
    };

    let mut devices = BTreeMap::new();
    for (dev, obj) in devices_obj.into_iter().flatten() {
        let Some(dk) = device_key(dev) else {
            problems.push(format!("device_malformed:{dev}"));
            devices.insert(dev.clone(), DeviceStatus::BadSignature);
            continue;
        };
        let own = format!("ed25519:{dev}");
        if verify_signed(obj, user, &own, &dk) != Some(true) {
            problems.push(format!("device_self_signature_invalid:{dev}"));
            devices.insert(dev.clone(), DeviceStatus::BadSignature);
            continue;
        }
        let status = match &ssk {
            None => {
                problems.push(format!("device_not_cross_signed:{dev}"));
                DeviceStatus::NotCrossSigned
            }
            Some((sid, skey)) => match verify_signed(obj, user, sid, skey) {
                None => {
                    problems.push(format!("device_not_cross_signed:{dev}"));
                    DeviceStatus::NotCrossSigned
                }
                Some(false) => {
                    problems.push(format!("device_cross_signature_invalid:{dev}"));
                    DeviceStatus::BadSignature
                }
                Some(true) if self_signing_valid => DeviceStatus::CrossSigned,
                Some(true) => {
                    problems.push(format!("device_self_signing_key_untrusted:{dev}"));
                    DeviceStatus::NotCrossSigned
                }
            },
        };
        if let Some(sigs) = obj
            .get("signatures")
            .and_then(|s| s.get(user))
            .and_then(Value::as_object)
        {
            for kid in sigs.keys() {
                if *kid != own && ssk.as_ref().is_none_or(|(sid, _)| sid != kid) {
                    problems.push(format!("device_signed_by_other_key:{dev}:{kid}"));
                }
            }
        }
        devices.insert(dev.clone(), status);
    }
    problems.sort();
    UserReport {
        master_key: master.map(|(_, k)| k),
        master_signed_by_own_device: signed_by_devices,
        self_signing_valid,
        user_signing_valid: usk_valid,
        signed_by_viewer_user_signing: signed_by_viewer,
        devices,
        problems,
    }
}

/// How a cross-signing private key in secret storage stands against the published public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoredKeyStatus {
    /// The stored private key gives the published public key.
    Match,
    /// It gives another key: cross-signing was reset elsewhere, or this is an old secret.
    Mismatch,
    /// Secret storage has no copy of it under the key used.
    Missing,
    /// A copy is there but does not decrypt (wrong MAC, malformed).
    Unreadable,
    /// It decrypts but is not 32 bytes of unpadded base64.
    NotAKey,
    /// A key is stored but the response publishes none of this kind for the user.
    NotPublished,
}

/// One cross-signing secret compared with the published key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredKeyReport {
    /// The verdict.
    pub status: StoredKeyStatus,
    /// The public key the stored private key gives (unpadded base64).
    pub stored_public_key: Option<String>,
    /// The public key in the `/keys/query` response.
    pub published_public_key: Option<String>,
    /// Why a secret is missing or unreadable.
    pub detail: Option<String>,
}

/// Every user a `/keys/query` response has master keys or devices for, sorted, once each.
pub fn users(resp: &Value) -> Vec<String> {
    let mut u: Vec<String> = ["master_keys", "device_keys"]
        .iter()
        .filter_map(|k| resp.get(*k).and_then(Value::as_object))
        .flat_map(|m| m.keys().cloned())
        .collect();
    u.sort();
    u.dedup();
    u
}

/// The published public key of `user`'s `master`, `self_signing` or `user_signing` key in a
/// `/keys/query` response (its only `keys` entry).
pub fn published_cross_signing_key(resp: &Value, user: &str, kind: &str) -> Option<String> {
    resp.get(format!("{kind}_keys"))?
        .get(user)?
        .get("keys")?
        .as_object()?
        .values()
        .next()?
        .as_str()
        .map(str::to_owned)
}

/// Compare a stored cross-signing secret (`m.cross_signing.master`, `.self_signing`,
/// `.user_signing`: the private key as unpadded base64, or why it could not be read) with the key
/// `user` publishes. `missing` tells a secret with no copy under the key apart from one that does
/// not decrypt.
pub fn compare_stored_key(
    resp: &Value,
    user: &str,
    name: &str,
    stored: Result<&str, (bool, String)>,
) -> StoredKeyReport {
    let kind = name.strip_prefix("m.cross_signing.").unwrap_or(name);
    let published = published_cross_signing_key(resp, user, kind);
    let report = |status, stored_public_key, detail| StoredKeyReport {
        status,
        stored_public_key,
        published_public_key: published.clone(),
        detail,
    };
    let plain = match stored {
        Err((true, why)) => return report(StoredKeyStatus::Missing, None, Some(why)),
        Err((false, why)) => return report(StoredKeyStatus::Unreadable, None, Some(why)),
        Ok(p) => p,
    };
    let Some(derived) = crate::ssss::describe_secret(name, plain).public_key else {
        return report(StoredKeyStatus::NotAKey, None, None);
    };
    let status = match &published {
        None => StoredKeyStatus::NotPublished,
        Some(p) if *p == derived => StoredKeyStatus::Match,
        Some(_) => StoredKeyStatus::Mismatch,
    };
    report(status, Some(derived), None)
}

/// A decoded QR verification payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QrPayload {
    /// Format version (2).
    pub version: u8,
    /// 0, 1 or 2.
    pub mode: u8,
    /// The verification's transaction id (or event id).
    pub transaction_id: String,
    /// First key (unpadded base64); its meaning depends on the mode.
    pub key1: String,
    /// Second key.
    pub key2: String,
    /// Length of the shared secret in bytes.
    pub secret_len: usize,
}

impl QrPayload {
    /// What the two keys are, by mode.
    pub fn key_meanings(&self) -> (&'static str, &'static str) {
        match self.mode {
            0 => ("the sender's own master key", "the other user's master key"),
            1 => (
                "the sender's own master key",
                "the other device's Ed25519 key (which it does not trust yet)",
            ),
            _ => (
                "the sending device's Ed25519 key",
                "the master key as the sending device knows it",
            ),
        }
    }

    /// The mode's meaning.
    pub fn mode_meaning(&self) -> &'static str {
        match self.mode {
            0 => "verifying another user (both trust their own master key)",
            1 => "self-verification: a device that trusts the master key shows this to a new device",
            _ => "self-verification: a new device, which does not trust the master key yet, shows this",
        }
    }
}

/// Why a QR payload is unusable; the first failure in reading order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    /// Does not start with `MATRIX`.
    #[error("does not start with \"MATRIX\": not a Matrix verification QR code")]
    Header,
    /// Ends early.
    #[error("the payload ends before its {0} is complete")]
    Truncated(&'static str),
    /// Version other than 2.
    #[error("version {0} is not supported (only 2)")]
    Version(u8),
    /// Mode other than 0, 1, 2.
    #[error("mode {0} is unknown (0, 1 and 2 exist)")]
    Mode(u8),
    /// The transaction id is not UTF-8.
    #[error("the transaction id is not UTF-8")]
    TransactionId,
    /// A key is not an Ed25519 point.
    #[error("{0} is not an Ed25519 public key")]
    Key(&'static str),
    /// Shared secret shorter than 8 bytes.
    #[error("the shared secret is {0} bytes; at least 8 are needed")]
    Secret(usize),
}

impl QrError {
    /// Short name for manifests.
    pub fn kind(&self) -> &'static str {
        match self {
            QrError::Header => "header",
            QrError::Truncated(_) => "truncated",
            QrError::Version(_) => "version",
            QrError::Mode(_) => "mode",
            QrError::TransactionId => "transaction_id",
            QrError::Key(_) => "key",
            QrError::Secret(_) => "secret",
        }
    }
}

/// Decode a QR verification payload (the raw bytes in the code).
///
/// # Errors
/// [`QrError`].
pub fn decode_qr(bytes: &[u8]) -> Result<QrPayload, QrError> {
    let magic = b"MATRIX";
    let head = bytes
        .get(..magic.len().min(bytes.len()))
        .unwrap_or_default();
    if magic.get(..head.len()) != Some(head) {
        return Err(QrError::Header);
    }
    let rest = bytes
        .strip_prefix(magic)
        .ok_or(QrError::Truncated("header"))?;
    let (&version, rest) = rest.split_first().ok_or(QrError::Truncated("version"))?;
    if version != 2 {
        return Err(QrError::Version(version));
    }
    let (&mode, rest) = rest.split_first().ok_or(QrError::Truncated("mode"))?;
    if mode > 2 {
        return Err(QrError::Mode(mode));
    }
    let (len, rest) = rest
        .split_first_chunk::<2>()
        .ok_or(QrError::Truncated("transaction id length"))?;
    let len = usize::from(u16::from_be_bytes(*len));
    if rest.len() < len {
        return Err(QrError::Truncated("transaction id"));
    }
    let (txid, rest) = rest.split_at(len);
    let txid = std::str::from_utf8(txid).map_err(|_| QrError::TransactionId)?;
    let (k1, rest) = rest
        .split_first_chunk::<32>()
        .ok_or(QrError::Truncated("first key"))?;
    let (k2, secret) = rest
        .split_first_chunk::<32>()
        .ok_or(QrError::Truncated("second key"))?;
    if VerifyingKey::from_bytes(k1).is_err() {
        return Err(QrError::Key("the first key"));
    }
    if VerifyingKey::from_bytes(k2).is_err() {
        return Err(QrError::Key("the second key"));
    }
    if secret.len() < 8 {
        return Err(QrError::Secret(secret.len()));
    }
    Ok(QrPayload {
        version,
        mode,
        transaction_id: txid.to_owned(),
        key1: encode_unpadded(k1),
        key2: encode_unpadded(k2),
        secret_len: secret.len(),
    })
}

/// A picture format a QR code can be read from (feature `qr-image`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageFormat {
    /// Starts with `\x89PNG\r\n\x1a\n`.
    Png,
    /// Starts with `FF D8 FF`.
    Jpeg,
}

/// The picture format of `bytes` by its magic bytes, or `None` (e.g. for a raw QR payload, which
/// starts with `MATRIX`).
pub fn image_format(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some(ImageFormat::Jpeg)
    } else {
        None
    }
}

#[cfg(feature = "qr-image")]
mod qr_image;
#[cfg(feature = "qr-image")]
pub use qr_image::{decode_qr_image, qr_bytes_from_image, QrImageError, DEFAULT_MAX_PIXELS};

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
    fn canonical_examples_from_the_spec() {
        let v = parse_strict(r#"{"b": "2", "a": "1"}"#).unwrap();
        assert_eq!(canonical_json(&v).unwrap(), r#"{"a":"1","b":"2"}"#);
        let v = parse_strict(r#"{"a": 1.5}"#).unwrap();
        assert!(canonical_json(&v).is_err());
        assert_eq!(
            parse_strict(r#"{"a":1,"a":2}"#).unwrap_err(),
            CanonicalError::DuplicateKey("a".into())
        );
    }

    #[test]
    fn sas_bit_layout() {
        let b = [0xffu8; 6];
        assert_eq!(sas_emoji(&b), [63; 7]);
        assert_eq!(sas_decimals(&b), [9191; 3]);
        assert_eq!(sas_decimals(&[0; 6]), [1000; 3]);
    }
}
