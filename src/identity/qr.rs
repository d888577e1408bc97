//! QR verification payloads (spec "QR codes"): the bytes in the code, and the picture formats
//! the code can be read from (the pictures themselves are read in `qr_image`, feature
//! `qr-image`).

use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use crate::encoding::encode_unpadded;

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

/// The class of a [`QrError`] ([`QrError::kind`]), as manifests name it. Serialized as
/// [`QrErrorKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum QrErrorKind {
    /// `header`: [`QrError::Header`].
    Header,
    /// `truncated`: [`QrError::Truncated`].
    Truncated,
    /// `version`: [`QrError::Version`].
    Version,
    /// `mode`: [`QrError::Mode`].
    Mode,
    /// `transaction_id`: [`QrError::TransactionId`].
    TransactionId,
    /// `key`: [`QrError::Key`].
    Key,
    /// `secret`: [`QrError::Secret`].
    Secret,
}

impl QrErrorKind {
    /// The short, stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            QrErrorKind::Header => "header",
            QrErrorKind::Truncated => "truncated",
            QrErrorKind::Version => "version",
            QrErrorKind::Mode => "mode",
            QrErrorKind::TransactionId => "transaction_id",
            QrErrorKind::Key => "key",
            QrErrorKind::Secret => "secret",
        }
    }
}

impl std::fmt::Display for QrErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl QrError {
    /// The class of the failure, for manifests.
    pub fn kind(&self) -> QrErrorKind {
        match self {
            QrError::Header => QrErrorKind::Header,
            QrError::Truncated(_) => QrErrorKind::Truncated,
            QrError::Version(_) => QrErrorKind::Version,
            QrError::Mode(_) => QrErrorKind::Mode,
            QrError::TransactionId => QrErrorKind::TransactionId,
            QrError::Key(_) => QrErrorKind::Key,
            QrError::Secret(_) => QrErrorKind::Secret,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialize_as_their_names() {
        for (k, name) in [
            (QrErrorKind::Header, "header"),
            (QrErrorKind::Truncated, "truncated"),
            (QrErrorKind::Version, "version"),
            (QrErrorKind::Mode, "mode"),
            (QrErrorKind::TransactionId, "transaction_id"),
            (QrErrorKind::Key, "key"),
            (QrErrorKind::Secret, "secret"),
        ] {
            assert_eq!((k.as_str(), k.to_string().as_str()), (name, name));
            assert_eq!(serde_json::to_value(k).unwrap(), name);
        }
    }
}
