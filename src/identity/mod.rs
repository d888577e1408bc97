//! Identity checks, offline: canonical JSON and signed JSON (spec "Signing JSON"), cross-signing
//! chains in a `/keys/query` response (spec "Cross-signing"), QR verification payloads (spec "QR
//! codes") and SAS short authentication strings (spec "Short Authentication String (SAS)
//! verification").
//!
//! One file per part: `signed_json` (canonical and signed JSON), `cross_signing` (signature
//! chains, stored private keys), `qr` (payloads) with `qr_image` (pictures, feature `qr-image`),
//! and `sas` (with transcripts). Everything is re-exported here, so callers name `mxkeys::identity::X`.

mod cross_signing;
mod qr;
#[cfg(feature = "qr-image")]
mod qr_image;
mod sas;
mod signed_json;

pub use cross_signing::{
    check_user, compare_stored_key, published_cross_signing_key, users, DeviceStatus,
    StoredKeyReport, StoredKeyStatus, UserReport,
};
pub use qr::{decode_qr, image_format, ImageFormat, QrError, QrErrorKind, QrPayload};
#[cfg(feature = "qr-image")]
pub use qr_image::{
    decode_qr_image, qr_bytes_from_image, QrImageError, QrImageErrorKind, DEFAULT_MAX_PIXELS,
};
pub use sas::{
    sas_bytes, sas_commitment, sas_decimals, sas_emoji, sas_info, sas_shared_secret, Sas, SasSide,
    SasTranscript, SasTranscriptError, SAS_EMOJI,
};
pub use signed_json::{canonical_json, parse_strict, verify_signed, CanonicalError};
