//! Server-side key backups, `m.megolm_backup.v1.curve25519-aes-sha2` (spec "Server-side key
//! backups", "Backup algorithm").
//!
//! A GET `/room_keys/keys` body is `{"rooms": {ROOM: {"sessions": {SESSION: KeyBackupData}}}}`;
//! KeyBackupData is `{first_message_index, forwarded_count, is_verified, session_data}` and
//! session_data `{ephemeral, ciphertext, mac}`. The backup version's `auth_data.public_key` must
//! be the public key of the recovery key. Old passphrase backups derive the private key with
//! PBKDF2-HMAC-SHA-512(passphrase, `auth_data.private_key_salt` as UTF-8,
//! `private_key_iterations`, `private_key_bits` = 256).
//!
//! Per session: X25519(backup key, ephemeral) -> HKDF-SHA-256 (zero salt, empty info) -> 80 bytes:
//! AES-256 key | HMAC-SHA-256 key | IV; AES-256-CBC with PKCS#7; an 8-byte MAC.
//!
//! libolm computed that MAC over an *empty* message, and every client since reproduces it, so a
//! matching MAC proves the key is right but not that the ciphertext is intact. mxkeys writes that
//! MAC, accepts it and the MAC over the ciphertext (what the spec's text and MSC4048's step 5
//! describe) when reading, and then checks everything that can fail on damaged data: padding,
//! UTF-8, JSON, and the session key itself (structure, and that it belongs to the session id it
//! is filed under).
//!
//! # MSC4048 backup MACs (unstable)
//!
//! MSC4048 ("Authenticated key backup", matrix-org/matrix-spec-proposals PR #4048, not accepted;
//! its latest text is commit 20b767f5 of 2023-11-23, "put the MAC in unsigned instead of
//! signatures") lets whoever holds the backup's private key prove they wrote a session:
//!
//! - `backup_mac_key = HKDF-SHA-256(salt = none (RFC 5869: 32 zero bytes), IKM = the backup
//!   private key's 32 raw bytes, info = "MATRIX_BACKUP_MAC_KEY", L = 32)`;
//! - the MAC is the full 32-byte HMAC-SHA-256 under that key of the **canonical JSON** (spec
//!   "Signing JSON": keys sorted, no whitespace, integers only) of the **encrypted**
//!   `session_data` object without its `unsigned` and `signatures` properties: `ephemeral`,
//!   `ciphertext`, `mac` and any other property, so it is checked before anything is decrypted;
//! - written as unpadded base64 in `session_data.unsigned["org.matrix.msc4048.backup_mac"]`
//!   ([`MSC4048_BACKUP_MAC`], the unstable name; the stable one would be `backup_mac`, which is
//!   not read). In a v1 backup the 8-byte `mac` stays and is checked as before.
//!
//! Earlier revisions of the MSC put a MAC over the raw ciphertext in `session_data.mac2`, or this
//! MAC in `signatures.USER."hmac-sha-256:backup_mac_key"`; neither is read. The one peer that
//! writes and checks this MAC, matrix-rust-sdk's unmerged PR #2659 (branch `signed_backup`,
//! 2023-11-27, "update to latest MSC"), follows the latest text: the same key, the canonical JSON
//! of `ephemeral`, `ciphertext`, `mac` and the other properties, the same field, a full 32-byte
//! tag; its test vector `test_mac2_check` is `test-vectors/backup/msc4048-rust-sdk-pr2659.json`.
//! No released client (matrix-rust-sdk main, matrix-sdk-crypto-wasm 18.9.0, matrix-js-sdk)
//! writes or reads it.
//!
//! Each session is [`Msc4048Status::Authenticated`] (MAC present and valid),
//! [`Msc4048Status::Unauthenticated`] (absent) or [`Msc4048Status::Mismatch`] (present but wrong,
//! not base64, not 32 bytes, or `unsigned` not an object: the session fails with
//! [`FailureKind::BackupMac`], like a bad `mac`). The check comes after the `mac` check (so a
//! wrong key still reads as [`FailureKind::Mac`]) and before AES decryption; the tag is compared
//! in constant time. [`Msc4048Policy::require_authenticated`] refuses unauthenticated sessions
//! ([`FailureKind::Unauthenticated`]) before they are decrypted.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hkdf::Hkdf;
use hmac::Mac;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::encoding::{decode_lenient, encode_unpadded};
use crate::error::Error;
use crate::export::container::hmac_sha256;
use crate::identity::{canonical_json, CanonicalError};
use crate::kdf::{self, IterationsError, Limits, Rounds};
use crate::megolm::{SessionKey, SessionKeyError};
use crate::recovery_key::RecoveryKey;
use crate::secret::{Passphrase, SecretBytes};
use crate::session::SessionRecord;

mod stream;
pub use stream::{decrypt_stream, decrypt_stream_with, for_each_entry, Streamed, ENTRY_LIMIT};

/// The backup algorithm this module implements.
pub const ALGORITHM: &str = "m.megolm_backup.v1.curve25519-aes-sha2";

type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;
type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;

/// What exactly is wrong with a backup document (keys body, backup version, `auth_data`), as
/// [`Error::Backup`]. A key of another backup version is [`Error::BackupKeyMismatch`]; one
/// session that fails to decrypt is a [`SessionFailure`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The backup public key is a low-order Curve25519 point (all zeros, say).
    #[error("the backup public key is a low-order Curve25519 point: anything encrypted to it could be read by anyone; check auth_data.public_key")]
    LowOrderPublicKey,
    /// The backup document is not a JSON object.
    #[error("the backup is not a JSON object; expected the body of GET /room_keys/keys")]
    NotAnObject,
    /// The backup document is an object of none of the [`Shape`]s.
    #[error("not a key backup: expected {{\"rooms\": ...}} (GET /room_keys/keys), {{\"sessions\": ...}}, a KeyBackupData or a session_data")]
    UnknownShape,
    /// A smaller shape does not say which room or session it belongs to, and none was given.
    #[error("{} does not name its {id}; it has to be given", shape_piece(*.shape))]
    IdNotGiven {
        /// The shape of the document.
        shape: Shape,
        /// `room id` or `session id`.
        id: &'static str,
    },
    /// A room of the keys body has no `sessions` object.
    #[error("room {room}: no \"sessions\" object")]
    RoomNoSessions {
        /// The room id.
        room: String,
    },
    /// The body has both `rooms` (a whole backup) and `sessions` (one room's body).
    #[error("the backup has both \"rooms\" and \"sessions\": give either the body of GET /room_keys/keys or one room's body")]
    RoomsAndSessions,
    /// The document is not valid JSON (where; never its text).
    #[error("the backup is not valid JSON: {detail} at line {line}, column {column}")]
    Json {
        /// What is wrong.
        detail: crate::session::JsonDetail,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// One session's entry is larger than [`ENTRY_LIMIT`].
    #[error("one session's entry in the backup is larger than {} MiB (at line {line}, column {column}); a real one is under 1 KB: is this the body the server sent?", limit / (1024 * 1024))]
    EntryTooLarge {
        /// The limit, in bytes.
        limit: u64,
        /// 1-based line where reading stopped.
        line: usize,
        /// 1-based column where reading stopped.
        column: usize,
    },
    /// The keys body's `rooms` is not an object.
    #[error("\"rooms\" is not an object")]
    RoomsNotObject,
    /// `auth_data` has no `public_key` string.
    #[error("auth_data has no public_key")]
    NoPublicKey,
    /// `auth_data.public_key` is not base64.
    #[error("auth_data.public_key is not base64")]
    PublicKeyNotBase64,
    /// `auth_data.public_key` is missing, or not 32 bytes of base64.
    #[error("auth_data has no 32-byte public_key")]
    NoPublicKey32,
    /// The backup version is not a JSON object.
    #[error("the backup version is not a JSON object")]
    VersionNotObject,
    /// The backup version names another algorithm.
    #[error("backup algorithm {algorithm} is not supported (only {ALGORITHM})")]
    Algorithm {
        /// The algorithm found.
        algorithm: String,
    },
    /// The backup version's `auth_data` is not an object.
    #[error("auth_data is not an object")]
    AuthDataNotObject,
    /// `auth_data` has no `private_key_salt`: the key was not made from a passphrase.
    #[error("auth_data has no private_key_salt: this backup was not made from a passphrase")]
    NoSalt,
    /// `auth_data.private_key_iterations` is missing or not a round count.
    #[error("{0}")]
    Iterations(#[from] IterationsError),
    /// `auth_data.private_key_bits` asks for a key length other than 256 bits.
    #[error("private_key_bits is {bits}; only 256 is defined")]
    Bits {
        /// The `private_key_bits` found.
        bits: u64,
    },
    /// `auth_data` to sign has no canonical form.
    #[error("{0}")]
    AuthDataNotCanonical(CanonicalError),
}

/// How [`BackupError::IdNotGiven`] names a document of `shape`.
fn shape_piece(shape: Shape) -> &'static str {
    match shape {
        Shape::Room => "one room's body",
        Shape::KeyBackupData => "a KeyBackupData",
        Shape::Keys | Shape::SessionData => "a session_data",
    }
}

/// Which MAC a session's `session_data` carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MacKind {
    /// HMAC over the empty message: libolm's quirk, written by every client.
    Empty,
    /// HMAC over the ciphertext, as MSC4048 proposes.
    Ciphertext,
}

/// Why one session could not be decrypted. Each session fails on its own; the others go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionFailure {
    /// The backup entry is not shaped like `session_data`.
    #[error("malformed backup entry: {0}")]
    Format(SessionDataError),
    /// The ephemeral key is not a usable Curve25519 key.
    #[error("the ephemeral key is {0}")]
    Key(&'static str),
    /// Neither MAC matches: wrong recovery key, or the MAC was changed.
    #[error("MAC mismatch: wrong recovery key for this backup, or the entry was changed")]
    Mac,
    /// The MAC matched (it does not cover the data) but the decrypted padding is wrong.
    #[error("bad padding after decryption: the ciphertext was damaged")]
    Padding,
    /// The decrypted data is not a JSON object.
    #[error("the decrypted data is not a JSON object: the ciphertext was damaged")]
    Json,
    /// The decrypted session key is damaged or does not belong to this session.
    #[error("{0}")]
    SessionKey(SessionKeyProblem),
    /// The MSC4048 (unstable) backup MAC is present but wrong or malformed.
    #[error("{0}")]
    BackupMac(BackupMacProblem),
    /// No MSC4048 (unstable) backup MAC, and [`Msc4048Policy::require_authenticated`] asked for
    /// one. Refused before decrypting.
    #[error("not authenticated: no MSC4048 (unstable) backup MAC (session_data.unsigned.{MSC4048_BACKUP_MAC}), and authenticated sessions are required")]
    Unauthenticated,
}

/// What is wrong with a session's MSC4048 (unstable) backup MAC ([`SessionFailure::BackupMac`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackupMacProblem {
    /// The MAC does not match: the entry was changed, or written without the backup's key.
    #[error("MSC4048 (unstable) backup MAC mismatch: the entry was changed, or written by someone without the backup's private key")]
    Mismatch,
    /// `session_data.unsigned` is there but not an object.
    #[error("malformed MSC4048 (unstable) backup MAC: session_data.unsigned is not an object")]
    UnsignedNotObject,
    /// The MAC is not a string.
    #[error("malformed MSC4048 (unstable) backup MAC: session_data.unsigned.{MSC4048_BACKUP_MAC} is not a string")]
    NotAString,
    /// The MAC is not base64.
    #[error("malformed MSC4048 (unstable) backup MAC: session_data.unsigned.{MSC4048_BACKUP_MAC} is not base64")]
    NotBase64,
    /// The MAC is not 32 bytes.
    #[error("malformed MSC4048 (unstable) backup MAC: session_data.unsigned.{MSC4048_BACKUP_MAC} is {len} bytes, expected 32")]
    Length {
        /// Its length in bytes.
        len: usize,
    },
    /// `session_data` has no canonical JSON form for the MAC to cover (a float, say).
    #[error(
        "malformed MSC4048 (unstable) backup MAC: session_data has no canonical JSON form: {0}"
    )]
    NotCanonical(CanonicalError),
}

/// How a `session_data` object is malformed ([`SessionFailure::Format`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionDataError {
    /// Not a JSON object.
    #[error("session_data is not an object")]
    NotAnObject,
    /// A field (`ephemeral`, `ciphertext`, `mac`) is absent.
    #[error("session_data has no {field}")]
    Missing {
        /// The field.
        field: &'static str,
    },
    /// A field (`ephemeral`, `ciphertext`, `mac`) is not a string.
    #[error("session_data.{field} is not a string")]
    NotAString {
        /// The field.
        field: &'static str,
    },
    /// `ciphertext` or `mac` is not base64.
    #[error("session_data.{field} is not base64")]
    NotBase64 {
        /// The field.
        field: &'static str,
    },
    /// The MAC is not 8 bytes.
    #[error("session_data.mac is {len} bytes, expected 8")]
    MacLength {
        /// Its length in bytes.
        len: usize,
    },
}

/// What is wrong with the session key inside a decrypted `session_data`
/// ([`SessionFailure::SessionKey`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionKeyProblem {
    /// The decrypted object has no `session_key`.
    #[error("the decrypted data has no session_key")]
    Missing,
    /// The session key does not parse or its signature fails.
    #[error("{0}")]
    Invalid(SessionKeyError),
    /// The session key is that of another session than the one it is filed under.
    #[error("the session key belongs to session {actual}, not to {filed} where it is filed")]
    WrongSession {
        /// The id of the session the key belongs to.
        actual: String,
        /// The id it is filed under.
        filed: String,
    },
}

/// The class of a [`SessionFailure`] ([`SessionFailure::kind`]), as test-vector manifests and
/// `--json` name it. Serialized as [`FailureKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// `format`: [`SessionFailure::Format`].
    Format,
    /// `key`: [`SessionFailure::Key`].
    Key,
    /// `mac`: [`SessionFailure::Mac`].
    Mac,
    /// `padding`: [`SessionFailure::Padding`].
    Padding,
    /// `json`: [`SessionFailure::Json`].
    Json,
    /// `session_key`: [`SessionFailure::SessionKey`].
    SessionKey,
    /// `backup_mac`: [`SessionFailure::BackupMac`] (MSC4048, unstable).
    BackupMac,
    /// `unauthenticated`: [`SessionFailure::Unauthenticated`] (MSC4048, unstable).
    Unauthenticated,
}

impl FailureKind {
    /// The short, stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Format => "format",
            FailureKind::Key => "key",
            FailureKind::Mac => "mac",
            FailureKind::Padding => "padding",
            FailureKind::Json => "json",
            FailureKind::SessionKey => "session_key",
            FailureKind::BackupMac => "backup_mac",
            FailureKind::Unauthenticated => "unauthenticated",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SessionFailure {
    /// The class of the failure, as in test-vector manifests and `--json`.
    pub fn kind(&self) -> FailureKind {
        match self {
            SessionFailure::Format(_) => FailureKind::Format,
            SessionFailure::Key(_) => FailureKind::Key,
            SessionFailure::Mac => FailureKind::Mac,
            SessionFailure::Padding => FailureKind::Padding,
            SessionFailure::Json => FailureKind::Json,
            SessionFailure::SessionKey(_) => FailureKind::SessionKey,
            SessionFailure::BackupMac(_) => FailureKind::BackupMac,
            SessionFailure::Unauthenticated => FailureKind::Unauthenticated,
        }
    }
}

/// The unstable name (MSC4048) of the backup MAC in `session_data.unsigned`.
pub const MSC4048_BACKUP_MAC: &str = "org.matrix.msc4048.backup_mac";

/// The HKDF info of the MSC4048 backup MAC key.
const MSC4048_MAC_INFO: &[u8] = b"MATRIX_BACKUP_MAC_KEY";

/// The MSC4048 (unstable) backup MAC key: HKDF-SHA-256 of the backup private key (no salt, info
/// `MATRIX_BACKUP_MAC_KEY`, 32 bytes). Wiped on drop, redacted in `Debug`.
pub struct BackupMacKey(SecretBytes<32>);

impl std::fmt::Debug for BackupMacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BackupMacKey(<redacted>)")
    }
}

impl BackupMacKey {
    /// Derive the MAC key of the backup whose private key is `key`.
    pub fn derive(key: &RecoveryKey) -> Self {
        let hk = Hkdf::<Sha256>::new(None, key.expose());
        let mut out = SecretBytes::<32>::zeroed();
        // 32 bytes is far below HKDF-SHA-256's limit, so expand cannot fail.
        let _ = hk.expand(MSC4048_MAC_INFO, out.expose_mut());
        BackupMacKey(out)
    }

    /// The HMAC-SHA-256 of `session_data`'s canonical JSON without `unsigned` and `signatures`.
    fn hmac(
        &self,
        session_data: &Map<String, Value>,
    ) -> Result<hmac::Hmac<Sha256>, CanonicalError> {
        let mut h = hmac_sha256(self.0.expose());
        let mut sorted: Vec<(&String, &Value)> = session_data
            .iter()
            .filter(|(k, _)| k.as_str() != "unsigned" && k.as_str() != "signatures")
            .collect();
        // UTF-8 byte order is code-point order, as canonical JSON sorts.
        sorted.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        /// Strings are written as JSON straight into the HMAC, without a copy.
        struct Feed<'a>(&'a mut hmac::Hmac<Sha256>);
        impl std::io::Write for Feed<'_> {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.update(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        h.update(b"{");
        for (i, (k, v)) in sorted.into_iter().enumerate() {
            if i > 0 {
                h.update(b",");
            }
            // Writing a string into a sink that never fails cannot fail.
            let _ = serde_json::to_writer(Feed(&mut h), k);
            h.update(b":");
            match v {
                Value::String(s) => {
                    let _ = serde_json::to_writer(Feed(&mut h), s);
                }
                other => h.update(canonical_json(other)?.as_bytes()),
            }
        }
        h.update(b"}");
        Ok(h)
    }

    /// The MSC4048 backup MAC of a `session_data` object, as unpadded base64 (what
    /// [`add_backup_mac`] writes).
    ///
    /// # Errors
    /// [`CanonicalError`] when `session_data` has no canonical JSON form (a float, say).
    pub fn mac_of(&self, session_data: &Map<String, Value>) -> Result<String, CanonicalError> {
        Ok(encode_unpadded(
            &self.hmac(session_data)?.finalize().into_bytes(),
        ))
    }

    /// Check `session_data`'s MSC4048 backup MAC: `Ok(Authenticated)`, `Ok(Unauthenticated)`
    /// when there is none, or what is wrong with it. The tag is compared in constant time.
    ///
    /// # Errors
    /// [`BackupMacProblem`] when the MAC is there but wrong or malformed.
    pub fn check(
        &self,
        session_data: &Map<String, Value>,
    ) -> Result<Msc4048Status, BackupMacProblem> {
        let tag = match session_data.get("unsigned") {
            None => return Ok(Msc4048Status::Unauthenticated),
            Some(Value::Object(u)) => match u.get(MSC4048_BACKUP_MAC) {
                None => return Ok(Msc4048Status::Unauthenticated),
                Some(Value::String(t)) => t,
                Some(_) => return Err(BackupMacProblem::NotAString),
            },
            Some(_) => return Err(BackupMacProblem::UnsignedNotObject),
        };
        let tag = decode_lenient(tag).map_err(|_| BackupMacProblem::NotBase64)?;
        if tag.len() != 32 {
            return Err(BackupMacProblem::Length { len: tag.len() });
        }
        let h = self
            .hmac(session_data)
            .map_err(BackupMacProblem::NotCanonical)?;
        // verify_slice compares in constant time.
        h.verify_slice(&tag)
            .map_err(|_| BackupMacProblem::Mismatch)?;
        Ok(Msc4048Status::Authenticated)
    }
}

/// Add the MSC4048 (unstable) backup MAC to a `session_data` object:
/// `unsigned["org.matrix.msc4048.backup_mac"]`, over everything but `unsigned` and `signatures`.
///
/// # Errors
/// [`CanonicalError`] when `session_data` has no canonical JSON form; nothing is changed then.
/// A `session_data` that is not an object is left as it is.
pub fn add_backup_mac(
    mac_key: &BackupMacKey,
    session_data: &mut Value,
) -> Result<(), CanonicalError> {
    let Some(obj) = session_data.as_object_mut() else {
        return Ok(());
    };
    let tag = mac_key.mac_of(obj)?;
    let unsigned = obj
        .entry("unsigned")
        .or_insert_with(|| Value::Object(Map::new()));
    if !unsigned.is_object() {
        *unsigned = Value::Object(Map::new());
    }
    if let Some(u) = unsigned.as_object_mut() {
        u.insert(MSC4048_BACKUP_MAC.to_owned(), Value::String(tag));
    }
    Ok(())
}

/// A session's MSC4048 (unstable) status: was it written by someone holding the backup's key?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Msc4048Status {
    /// The backup MAC is there and valid.
    Authenticated,
    /// There is no backup MAC (what every released client writes).
    Unauthenticated,
    /// The backup MAC is there but wrong or malformed: the session fails.
    Mismatch,
}

impl Msc4048Status {
    /// The short, stable name (as `--json` writes it).
    pub fn as_str(self) -> &'static str {
        match self {
            Msc4048Status::Authenticated => "authenticated",
            Msc4048Status::Unauthenticated => "unauthenticated",
            Msc4048Status::Mismatch => "mismatch",
        }
    }
}

/// What decrypting asks of MSC4048 (unstable) backup MACs. A MAC that is there is always checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Msc4048Policy {
    /// Refuse sessions without a backup MAC ([`SessionFailure::Unauthenticated`]).
    pub require_authenticated: bool,
}

struct SessionKeys {
    aes: SecretBytes<32>,
    mac: SecretBytes<32>,
    iv: [u8; 16],
}

fn derive(shared: &[u8; 32]) -> SessionKeys {
    let hk = Hkdf::<Sha256>::new(Some(&[0u8; 32]), shared);
    let mut okm = SecretBytes::<80>::zeroed();
    // 80 bytes is far below HKDF-SHA-256's 8160-byte limit, so expand cannot fail.
    let _ = hk.expand(&[], okm.expose_mut());
    let (aes_key, rest) = okm.expose().split_at(32);
    let (mac_key, iv) = rest.split_at(32);
    let mut keys = SessionKeys {
        aes: SecretBytes::zeroed(),
        mac: SecretBytes::zeroed(),
        iv: [0; 16],
    };
    keys.aes.expose_mut().copy_from_slice(aes_key);
    keys.mac.expose_mut().copy_from_slice(mac_key);
    keys.iv.copy_from_slice(iv);
    keys
}

/// X25519(`secret`, `public`) as RFC 7748 defines it (the clamped scalar times the point whose
/// u-coordinate is `public`), or `None` for a low-order point (the result is all zeros, which
/// [`x25519_dalek::SharedSecret::was_contributory`] refuses).
///
/// Computed in Edwards coordinates when `public` is on the curve, not the twist: the birational
/// map to Edwards25519, a variable-base multiplication there (curve25519-dalek's AVX2 backend when
/// the CPU has it) and the map back. That is about 1.6 times faster here than the Montgomery
/// ladder, which has no vector backend. The u-coordinate of `[k]P` is that of `[k](-P)`, so
/// either preimage of the map will do, and the map sends the low-order points to the low-order
/// points, whose multiples by a clamped scalar (a multiple of 8) are the identity, which maps
/// back to u = 0 as in the ladder. A point of the twist (and u = -1, which the map excludes) goes
/// through the ladder. Both paths are constant time in `secret`; which path a key takes depends
/// only on the public `public`. `x25519_matches_the_ladder` checks them against each other.
fn x25519(secret: &[u8; 32], public: &[u8; 32]) -> Option<SecretBytes<32>> {
    use curve25519_dalek::montgomery::MontgomeryPoint;
    use subtle::ConstantTimeEq;
    use zeroize::Zeroize;
    let point = MontgomeryPoint(*public);
    let mut product = match point.to_edwards(0) {
        Some(p) => {
            let mut edwards = p.mul_clamped(*secret);
            let u = edwards.to_montgomery();
            edwards.zeroize();
            u
        }
        None => point.mul_clamped(*secret),
    };
    let mut out = SecretBytes::<32>::zeroed();
    out.expose_mut().copy_from_slice(product.as_bytes());
    product.zeroize();
    if bool::from(out.expose().ct_eq(&[0u8; 32])) {
        None
    } else {
        Some(out)
    }
}

fn field<'a>(obj: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, SessionFailure> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(SessionFailure::Format(SessionDataError::NotAString {
            field: name,
        })),
        None => Err(SessionFailure::Format(SessionDataError::Missing {
            field: name,
        })),
    }
}

/// A decrypted `session_data`.
#[derive(Debug)]
pub struct DecryptedSession {
    /// The plaintext object (algorithm, sender_key, session_key, ...), fields in their order.
    pub plaintext: SessionRecord,
    /// Which MAC it carried.
    pub mac: MacKind,
    /// Its MSC4048 (unstable) backup MAC: authenticated or unauthenticated.
    pub msc4048: Msc4048Status,
    /// First known message index of its session key.
    pub first_index: u32,
}

/// Decrypt one `session_data` object and check what it holds. `session_id`, when known, must be
/// the id of the decrypted session key.
///
/// # Errors
/// The first [`SessionFailure`], in the order format, key, mac, backup_mac (MSC4048, when there
/// is one), padding, json, session key.
pub fn decrypt_session_data(
    key: &RecoveryKey,
    session_data: &Value,
    session_id: Option<&str>,
) -> Result<DecryptedSession, SessionFailure> {
    let mac_key = BackupMacKey::derive(key);
    decrypt_session_data_with(
        key,
        &mac_key,
        Msc4048Policy::default(),
        session_data,
        session_id,
    )
}

/// [`decrypt_session_data`] with the backup's MSC4048 MAC key (derived once for many sessions)
/// and what to ask of MSC4048 MACs.
///
/// # Errors
/// As [`decrypt_session_data`]; [`SessionFailure::Unauthenticated`] without a backup MAC when
/// `policy` requires one.
pub fn decrypt_session_data_with(
    key: &RecoveryKey,
    mac_key: &BackupMacKey,
    policy: Msc4048Policy,
    session_data: &Value,
    session_id: Option<&str>,
) -> Result<DecryptedSession, SessionFailure> {
    decrypt_checked(key, mac_key, policy, session_data, session_id).1
}

/// [`decrypt_session_data_with`], and the MSC4048 status when the check was reached (failures
/// before it, format, key and mac, have none).
fn decrypt_checked(
    key: &RecoveryKey,
    mac_key: &BackupMacKey,
    policy: Msc4048Policy,
    session_data: &Value,
    session_id: Option<&str>,
) -> (
    Option<Msc4048Status>,
    Result<DecryptedSession, SessionFailure>,
) {
    let obj = match session_data.as_object() {
        Some(o) => o,
        None => {
            return (
                None,
                Err(SessionFailure::Format(SessionDataError::NotAnObject)),
            )
        }
    };
    let keys = match check_macs(key, obj) {
        Ok(k) => k,
        Err(e) => return (None, Err(e)),
    };
    // MSC4048: after the mac (a wrong key reads as such), before anything is decrypted.
    let status = match mac_key.check(obj) {
        Ok(s) => s,
        Err(p) => {
            return (
                Some(Msc4048Status::Mismatch),
                Err(SessionFailure::BackupMac(p)),
            )
        }
    };
    if status == Msc4048Status::Unauthenticated && policy.require_authenticated {
        return (Some(status), Err(SessionFailure::Unauthenticated));
    }
    (Some(status), decrypt_verified(keys, status, session_id))
}

/// The session's keys once its format and its `mac` are checked.
struct Verified {
    keys: SessionKeys,
    ct: Vec<u8>,
    mac: MacKind,
}

fn check_macs(key: &RecoveryKey, obj: &Map<String, Value>) -> Result<Verified, SessionFailure> {
    let (eph, ct, mac) = (
        field(obj, "ephemeral")?,
        field(obj, "ciphertext")?,
        field(obj, "mac")?,
    );
    let not_base64 = |field| SessionFailure::Format(SessionDataError::NotBase64 { field });
    let ct = decode_lenient(ct).map_err(|_| not_base64("ciphertext"))?;
    let mac = decode_lenient(mac).map_err(|_| not_base64("mac"))?;
    let eph = decode_lenient(eph).map_err(|_| SessionFailure::Key("not base64"))?;
    let eph: [u8; 32] = eph
        .try_into()
        .map_err(|_| SessionFailure::Key("not 32 bytes long"))?;
    let shared = x25519(key.expose(), &eph).ok_or(SessionFailure::Key(
        "a low-order point (it yields no shared secret)",
    ))?;
    let keys = derive(shared.expose());
    let check = |data: &[u8]| {
        let mut h = hmac_sha256(keys.mac.expose());
        h.update(data);
        h.verify_truncated_left(&mac).is_ok()
    };
    // The MAC is 8 bytes; verify_truncated_left compares that many, in constant time.
    let kind = if mac.len() != 8 {
        return Err(SessionFailure::Format(SessionDataError::MacLength {
            len: mac.len(),
        }));
    } else if check(b"") {
        MacKind::Empty
    } else if check(&ct) {
        MacKind::Ciphertext
    } else {
        return Err(SessionFailure::Mac);
    };
    Ok(Verified {
        keys,
        ct,
        mac: kind,
    })
}

fn decrypt_verified(
    v: Verified,
    msc4048: Msc4048Status,
    session_id: Option<&str>,
) -> Result<DecryptedSession, SessionFailure> {
    let Verified {
        keys,
        ct,
        mac: kind,
    } = v;
    let mut buf = Zeroizing::new(ct);
    let plain = Aes256CbcDec::new(keys.aes.expose().into(), (&keys.iv).into())
        .decrypt_padded_mut::<Pkcs7>(&mut buf)
        .map_err(|_| SessionFailure::Padding)?;
    let plaintext: SessionRecord =
        serde_json::from_slice(plain).map_err(|_| SessionFailure::Json)?;
    let sk = match &plaintext.session_key {
        Some(k) => SessionKey::from_base64(k.expose()),
        None => return Err(SessionFailure::SessionKey(SessionKeyProblem::Missing)),
    }
    .map_err(|e: SessionKeyError| SessionFailure::SessionKey(SessionKeyProblem::Invalid(e)))?;
    if let Some(id) = session_id {
        if sk.session_id() != id {
            return Err(SessionFailure::SessionKey(
                SessionKeyProblem::WrongSession {
                    actual: sk.session_id().to_string(),
                    filed: id.to_owned(),
                },
            ));
        }
    }
    Ok(DecryptedSession {
        plaintext,
        mac: kind,
        msc4048,
        first_index: sk.first_index(),
    })
}

/// Check that a backup public key can be encrypted to: a low-order point (e.g. all zeros) would
/// give every session the same, publicly known shared secret.
///
/// # Errors
/// [`BackupError::LowOrderPublicKey`] (as [`Error::Backup`]) for such a key.
pub fn check_public_key(public_key: &[u8; 32]) -> Result<(), Error> {
    let probe = x25519_dalek::StaticSecret::from([0x5a; 32]);
    if probe
        .diffie_hellman(&x25519_dalek::PublicKey::from(*public_key))
        .was_contributory()
    {
        Ok(())
    } else {
        Err(BackupError::LowOrderPublicKey.into())
    }
}

/// Encrypt one session's plaintext (the export-format object minus `room_id` and `session_id`)
/// for a backup public key. `ephemeral` must be fresh randomness. The MAC is the empty-message
/// MAC every client expects.
pub fn encrypt_session_data(
    public_key: &[u8; 32],
    plaintext: &[u8],
    ephemeral: &mut [u8; 32],
) -> Value {
    let secret = x25519_dalek::StaticSecret::from(*ephemeral);
    zeroize::Zeroize::zeroize(ephemeral);
    let eph_pub = x25519_dalek::PublicKey::from(&secret);
    let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(*public_key));
    let keys = derive(shared.as_bytes());
    let ct = Aes256CbcEnc::new(keys.aes.expose().into(), (&keys.iv).into())
        .encrypt_padded_vec_mut::<Pkcs7>(plaintext);
    let mut h = hmac_sha256(keys.mac.expose());
    h.update(b"");
    let tag = h.finalize().into_bytes();
    serde_json::json!({
        "ephemeral": encode_unpadded(eph_pub.as_bytes()),
        "ciphertext": encode_unpadded(&ct),
        "mac": encode_unpadded(tag.get(..8).unwrap_or_default()),
    })
}

/// What a backup file held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// The whole GET `/room_keys/keys` body: `{"rooms": {...}}`.
    Keys,
    /// One room's body: `{"sessions": {...}}`.
    Room,
    /// One `KeyBackupData`.
    KeyBackupData,
    /// A bare `session_data`.
    SessionData,
}

/// One session's entry in a backup.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Room it is filed under.
    pub room_id: String,
    /// Session id it is filed under.
    pub session_id: String,
    /// The `session_data` object.
    pub session_data: Value,
}

/// Which [`Shape`] a backup document has, by the keys of its top-level object.
///
/// # Errors
/// [`BackupError::NotAnObject`], [`BackupError::UnknownShape`] (as [`Error::Backup`]) when the
/// document is none of the shapes.
pub fn shape(doc: &Value) -> Result<Shape, Error> {
    let obj = doc.as_object().ok_or(BackupError::NotAnObject)?;
    if obj.contains_key("rooms") {
        Ok(Shape::Keys)
    } else if obj.contains_key("sessions") {
        Ok(Shape::Room)
    } else if obj.contains_key("session_data") {
        Ok(Shape::KeyBackupData)
    } else if obj.contains_key("ephemeral") && obj.contains_key("ciphertext") {
        Ok(Shape::SessionData)
    } else {
        Err(BackupError::UnknownShape.into())
    }
}

/// The `session_data` of a document that holds one session (a [`Shape::KeyBackupData`] or a
/// bare [`Shape::SessionData`]); `None` for the larger shapes. Decrypting it needs no ids:
/// [`decrypt_session_data`] with `session_id` `None`.
pub fn lone_session_data(doc: &Value) -> Option<&Value> {
    match shape(doc).ok()? {
        Shape::KeyBackupData => doc.get("session_data"),
        Shape::SessionData => Some(doc),
        Shape::Keys | Shape::Room => None,
    }
}

/// Find the sessions in a backup document of any [`Shape`]. `room_id` and `session_id` name
/// what the smaller shapes do not say themselves.
///
/// # Errors
/// [`Error::Backup`] when the document is none of the shapes ([`shape`]), is malformed
/// ([`BackupError::RoomsNotObject`], [`BackupError::RoomNoSessions`]) or an id is missing
/// ([`BackupError::IdNotGiven`]).
pub fn entries(
    doc: &Value,
    room_id: Option<&str>,
    session_id: Option<&str>,
) -> Result<(Shape, Vec<Entry>), Error> {
    let shape = shape(doc)?;
    let need = |what: Option<&str>, id: &'static str| {
        what.map(str::to_owned)
            .ok_or(BackupError::IdNotGiven { shape, id })
    };
    let room_sessions = |room: &str, body: &Value, out: &mut Vec<Entry>| -> Result<(), Error> {
        let sessions = body
            .get("sessions")
            .and_then(Value::as_object)
            .ok_or_else(|| BackupError::RoomNoSessions {
                room: room.to_owned(),
            })?;
        for (sid, kbd) in sessions {
            out.push(Entry {
                room_id: room.to_owned(),
                session_id: sid.clone(),
                session_data: kbd.get("session_data").cloned().unwrap_or(Value::Null),
            });
        }
        Ok(())
    };
    let mut out = Vec::new();
    match shape {
        Shape::Keys => {
            let rooms = doc
                .get("rooms")
                .and_then(Value::as_object)
                .ok_or(BackupError::RoomsNotObject)?;
            for (room, body) in rooms {
                room_sessions(room, body, &mut out)?;
            }
        }
        Shape::Room => room_sessions(&need(room_id, "room id")?, doc, &mut out)?,
        Shape::KeyBackupData | Shape::SessionData => out.push(Entry {
            room_id: need(room_id, "room id")?,
            session_id: need(session_id, "session id")?,
            session_data: lone_session_data(doc).cloned().unwrap_or(Value::Null),
        }),
    }
    Ok((shape, out))
}

/// The result for one session.
#[derive(Debug)]
pub struct EntryOutcome {
    /// Room it is filed under.
    pub room_id: String,
    /// Session id it is filed under.
    pub session_id: String,
    /// The export-format session (room_id and session_id first), or why it failed.
    pub result: Result<(SessionRecord, MacKind), SessionFailure>,
    /// Its MSC4048 (unstable) status, when the check was reached (not for a session that
    /// failed its format, key or mac check first).
    pub msc4048: Option<Msc4048Status>,
}

/// Decrypt every entry, on all cores, in input order. One bad session does not stop the others.
pub fn decrypt_entries(key: &RecoveryKey, entries: &[Entry]) -> Vec<EntryOutcome> {
    decrypt_entries_with(
        key,
        &BackupMacKey::derive(key),
        Msc4048Policy::default(),
        entries,
    )
}

/// [`decrypt_entries`] with the backup's MSC4048 MAC key and what to ask of MSC4048 MACs.
pub fn decrypt_entries_with(
    key: &RecoveryKey,
    mac_key: &BackupMacKey,
    policy: Msc4048Policy,
    entries: &[Entry],
) -> Vec<EntryOutcome> {
    entries
        .par_iter()
        .map(|e| {
            let (msc4048, r) =
                decrypt_checked(key, mac_key, policy, &e.session_data, Some(&e.session_id));
            EntryOutcome {
                room_id: e.room_id.clone(),
                session_id: e.session_id.clone(),
                result: r.map(|d| {
                    let mut s = d.plaintext;
                    s.file_under(Some(e.room_id.clone()), e.session_id.clone());
                    (s, d.mac)
                }),
                msc4048,
            }
        })
        .collect()
}

/// Check a recovery key against a backup version (the GET `/room_keys/version` body, or just its
/// `auth_data`).
///
/// # Errors
/// [`Error::BackupKeyMismatch`] when the key's public key is not the backup's;
/// [`Error::Backup`] for an unknown algorithm or a missing public key ([`BackupError`]).
pub fn check_auth_data(key: &RecoveryKey, version: &Value) -> Result<(), Error> {
    let (auth, ver) = split_version(version)?;
    let want = auth
        .get("public_key")
        .and_then(Value::as_str)
        .ok_or(BackupError::NoPublicKey)?;
    let want_bytes = decode_lenient(want).map_err(|_| BackupError::PublicKeyNotBase64)?;
    let have = key.backup_public_key();
    if want_bytes != have {
        return Err(Error::BackupKeyMismatch {
            version: ver,
            expected: want.to_owned(),
            actual: encode_unpadded(&have),
        });
    }
    Ok(())
}

/// The `auth_data` of a backup version (or the version itself when it is bare auth_data) and
/// its version string; refuses algorithms other than [`ALGORITHM`].
pub(crate) fn split_version(version: &Value) -> Result<(&Map<String, Value>, String), Error> {
    let obj = version.as_object().ok_or(BackupError::VersionNotObject)?;
    if let Some(alg) = obj.get("algorithm").and_then(Value::as_str) {
        if alg != ALGORITHM {
            return Err(BackupError::Algorithm {
                algorithm: alg.to_owned(),
            }
            .into());
        }
    }
    let ver = obj
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or("(unknown)")
        .to_owned();
    match obj.get("auth_data") {
        Some(Value::Object(a)) => Ok((a, ver)),
        Some(_) => Err(BackupError::AuthDataNotObject.into()),
        None => Ok((obj, ver)),
    }
}

/// The backup key of a legacy passphrase-protected backup: PBKDF2-HMAC-SHA-512 over the
/// passphrase with `auth_data.private_key_salt` and `private_key_iterations`.
///
/// # Errors
/// [`Error::Backup`] when auth_data has no passphrase parameters ([`BackupError::NoSalt`],
/// [`BackupError::Iterations`]) or asks for other than 256 bits ([`BackupError::Bits`]); rounds
/// errors as for exports.
pub fn key_from_passphrase(
    pass: &Passphrase,
    version: &Value,
    limits: &Limits,
) -> Result<RecoveryKey, Error> {
    let (auth, _) = split_version(version)?;
    let (salt, rounds) = passphrase_params(auth, limits)?;
    let mut out = kdf::pbkdf2_sha512::<32>(pass.expose().as_bytes(), salt.as_bytes(), rounds);
    Ok(RecoveryKey::from_bytes(out.expose_mut()))
}

/// The salt and rounds of a legacy passphrase-protected backup's `auth_data`, refused when
/// absent, when other than 256 bits are asked for, or when the rounds are out of bounds.
pub(crate) fn passphrase_params<'a>(
    auth: &'a Map<String, Value>,
    limits: &Limits,
) -> Result<(&'a str, Rounds), Error> {
    let salt = auth
        .get("private_key_salt")
        .and_then(Value::as_str)
        .ok_or(BackupError::NoSalt)?;
    let iterations = kdf::json_rounds(
        auth.get("private_key_iterations"),
        "auth_data.private_key_iterations",
    )
    .map_err(BackupError::Iterations)?;
    let bits = auth
        .get("private_key_bits")
        .and_then(Value::as_u64)
        .unwrap_or(256);
    if bits != 256 {
        return Err(BackupError::Bits { bits }.into());
    }
    Ok((salt, limits.rounds(iterations)?))
}

/// A legacy backup whose key came from a passphrase, read as far as testing a key needs: the
/// public key the right key has, and the PBKDF2 parameters that make a key from a passphrase.
#[derive(Debug, Clone)]
pub struct PassphraseBackup {
    public_key: [u8; 32],
    salt: String,
    rounds: Rounds,
}

impl PassphraseBackup {
    /// Read a backup version (GET /room_keys/version body, or its bare `auth_data`).
    ///
    /// # Errors
    /// [`Error::Backup`] when it has no 32-byte public key ([`BackupError::NoPublicKey32`]) or
    /// was not made from a passphrase (as [`key_from_passphrase`]); rounds errors.
    pub fn read(version: &Value, limits: &Limits) -> Result<Self, Error> {
        let (auth, _) = split_version(version)?;
        let pk = auth
            .get("public_key")
            .and_then(Value::as_str)
            .and_then(|p| decode_lenient(p).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or(BackupError::NoPublicKey32)?;
        let (salt, rounds) = passphrase_params(auth, limits)?;
        Ok(PassphraseBackup {
            public_key: pk,
            salt: salt.to_owned(),
            rounds,
        })
    }

    /// `private_key_salt`, as the PBKDF2 salt (its UTF-8 bytes).
    pub fn salt(&self) -> &[u8] {
        self.salt.as_bytes()
    }

    /// `private_key_iterations`, checked.
    pub fn rounds(&self) -> Rounds {
        self.rounds
    }

    /// Is this the backup's key? Its public key (one X25519 base-point multiplication) must be
    /// `auth_data.public_key`.
    pub fn opens(&self, key: &RecoveryKey) -> bool {
        key.backup_public_key() == self.public_key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_kinds_serialize_as_their_names() {
        for (k, name) in [
            (FailureKind::Format, "format"),
            (FailureKind::Key, "key"),
            (FailureKind::Mac, "mac"),
            (FailureKind::Padding, "padding"),
            (FailureKind::Json, "json"),
            (FailureKind::SessionKey, "session_key"),
            (FailureKind::BackupMac, "backup_mac"),
            (FailureKind::Unauthenticated, "unauthenticated"),
        ] {
            assert_eq!((k.as_str(), k.to_string().as_str()), (name, name));
            assert_eq!(serde_json::to_value(k).unwrap(), name);
        }
    }

    fn session() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/test-vectors/export/sessions-basic.json"
        );
        let v: Vec<Value> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        v[0].clone()
    }

    #[test]
    fn encrypt_then_decrypt_and_each_failure_kind() {
        let key = RecoveryKey::from_bytes(&mut [5; 32]);
        let s = session();
        let sid = s["session_id"].as_str().unwrap().to_owned();
        let mut plain = s.as_object().unwrap().clone();
        plain.remove("room_id");
        plain.remove("session_id");
        let bytes = serde_json::to_vec(&plain).unwrap();
        let sd = encrypt_session_data(&key.backup_public_key(), &bytes, &mut [9; 32]);
        let d = decrypt_session_data(&key, &sd, Some(&sid)).unwrap();
        assert_eq!(d.mac, MacKind::Empty);
        // Byte for byte: the fields in their order, the values as they were.
        assert_eq!(serde_json::to_vec(&d.plaintext).unwrap(), bytes);

        let other = RecoveryKey::from_bytes(&mut [6; 32]);
        assert_eq!(
            decrypt_session_data(&other, &sd, None).unwrap_err().kind(),
            FailureKind::Mac
        );
        assert_eq!(
            decrypt_session_data(&key, &sd, Some("other"))
                .unwrap_err()
                .kind(),
            FailureKind::SessionKey
        );
        let mut low = sd.clone();
        low["ephemeral"] = Value::String(encode_unpadded(&[0; 32]));
        assert_eq!(
            decrypt_session_data(&key, &low, None).unwrap_err().kind(),
            FailureKind::Key
        );
        let mut short = sd.clone();
        short["ephemeral"] = Value::String(encode_unpadded(&[1; 31]));
        assert_eq!(
            decrypt_session_data(&key, &short, None).unwrap_err().kind(),
            FailureKind::Key
        );
        let mut num = sd.clone();
        num["mac"] = Value::from(5);
        assert_eq!(
            decrypt_session_data(&key, &num, None).unwrap_err().kind(),
            FailureKind::Format
        );
        // Damage the last block: the empty-message MAC still matches, the padding does not.
        let mut ct = decode_lenient(sd["ciphertext"].as_str().unwrap()).unwrap();
        let n = ct.len();
        ct[n - 1] ^= 0xff;
        let mut bad = sd.clone();
        bad["ciphertext"] = Value::String(encode_unpadded(&ct));
        assert_eq!(
            decrypt_session_data(&key, &bad, None).unwrap_err().kind(),
            FailureKind::Padding
        );
    }

    /// MSC4048: the backup MAC is checked before decrypting, so damage under a bad MAC reads
    /// as the MAC, not as the padding it would break; an unauthenticated session is refused
    /// before it is decrypted when authentication is required.
    #[test]
    fn msc4048_mac_is_checked_before_decrypting() {
        let key = RecoveryKey::from_bytes(&mut [5; 32]);
        let mac_key = BackupMacKey::derive(&key);
        let s = session();
        let mut plain = s.as_object().unwrap().clone();
        plain.remove("room_id");
        plain.remove("session_id");
        let bytes = serde_json::to_vec(&plain).unwrap();
        let plain_sd = encrypt_session_data(&key.backup_public_key(), &bytes, &mut [9; 32]);
        let mut sd = plain_sd.clone();
        add_backup_mac(&mac_key, &mut sd).unwrap();
        let strict = Msc4048Policy {
            require_authenticated: true,
        };
        let d = decrypt_session_data_with(&key, &mac_key, strict, &sd, None).unwrap();
        assert_eq!(d.msc4048, Msc4048Status::Authenticated);
        let d = decrypt_session_data(&key, &plain_sd, None).unwrap();
        assert_eq!(d.msc4048, Msc4048Status::Unauthenticated);
        // The last ciphertext byte flipped: the empty-message mac still matches.
        let flip = |v: &Value| {
            let mut ct = decode_lenient(v["ciphertext"].as_str().unwrap()).unwrap();
            let n = ct.len();
            ct[n - 1] ^= 0xff;
            let mut out = v.clone();
            out["ciphertext"] = Value::String(encode_unpadded(&ct));
            out
        };
        let e = decrypt_session_data(&key, &flip(&sd), None).unwrap_err();
        assert_eq!(e, SessionFailure::BackupMac(BackupMacProblem::Mismatch));
        let e = decrypt_session_data_with(&key, &mac_key, strict, &flip(&plain_sd), None);
        assert_eq!(e.unwrap_err(), SessionFailure::Unauthenticated);
        // Without either, the same damage is found by the padding.
        let e = decrypt_session_data(&key, &flip(&plain_sd), None).unwrap_err();
        assert_eq!(e.kind(), FailureKind::Padding);
        // A wrong key still reads as the mac, not the backup MAC.
        let other = RecoveryKey::from_bytes(&mut [6; 32]);
        let e = decrypt_session_data(&other, &sd, None).unwrap_err();
        assert_eq!(e.kind(), FailureKind::Mac);
        assert_eq!(format!("{mac_key:?}"), "BackupMacKey(<redacted>)");
    }

    #[test]
    fn low_order_public_keys_are_refused() {
        assert!(check_public_key(&[0; 32]).is_err());
        let mut one = [0u8; 32];
        one[0] = 1;
        assert!(check_public_key(&one).is_err());
        let key = RecoveryKey::from_bytes(&mut [5; 32]);
        check_public_key(&key.backup_public_key()).unwrap();
    }

    /// The ladder, as x25519-dalek computes X25519: what [`x25519`] must equal.
    fn ladder(secret: &[u8; 32], public: &[u8; 32]) -> [u8; 32] {
        x25519_dalek::StaticSecret::from(*secret)
            .diffie_hellman(&x25519_dalek::PublicKey::from(*public))
            .to_bytes()
    }

    fn hex32(h: &str) -> [u8; 32] {
        hex::decode(h).unwrap().try_into().unwrap()
    }

    #[test]
    fn x25519_matches_the_ladder() {
        use curve25519_dalek::montgomery::MontgomeryPoint;
        // RFC 7748 section 5.2.
        for (k, u, out) in [
            (
                "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
                "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
                "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
            ),
            (
                "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
                "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
                "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
            ),
        ] {
            let got = x25519(&hex32(k), &hex32(u)).unwrap();
            assert_eq!(got.expose(), &hex32(out));
        }
        // Points of small order, canonical and not (p - 1, p, p + 1): no shared secret, as the
        // ladder says.
        let secret = [0x5a; 32];
        for u in [
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0100000000000000000000000000000000000000000000000000000000000000",
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ] {
            let u = hex32(u);
            assert_eq!(ladder(&secret, &u), [0; 32], "{u:?}");
            assert!(x25519(&secret, &u).is_none(), "{u:?}");
        }
        // The same plus p with the top bit set (libsodium lists them for implementations that
        // keep that bit): X25519 masks it, which leaves points that are not of small order.
        for u in [
            "cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
            "4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
            "d9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            "daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            "dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        ] {
            let u = hex32(u);
            let want = ladder(&secret, &u);
            assert_ne!(want, [0; 32], "{u:?}");
            assert_eq!(x25519(&secret, &u).unwrap().expose(), &want, "{u:?}");
        }
        // Any 32 bytes, on the curve (the Edwards path) or its twist (the ladder), with the top
        // bit set or not, and honest public keys: the same result as the ladder.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |buf: &mut [u8; 32]| {
            for b in buf.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = state as u8;
            }
        };
        let (mut on_curve, mut on_twist) = (0, 0);
        for i in 0..400 {
            let (mut secret, mut u) = ([0u8; 32], [0u8; 32]);
            next(&mut secret);
            next(&mut u);
            if i % 4 == 0 {
                u = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(u)).to_bytes();
            }
            match MontgomeryPoint(u).to_edwards(0) {
                Some(_) => on_curve += 1,
                None => on_twist += 1,
            }
            let want = ladder(&secret, &u);
            assert_ne!(want, [0; 32]);
            assert_eq!(x25519(&secret, &u).unwrap().expose(), &want, "{u:?}");
        }
        assert!(on_curve > 150 && on_twist > 100, "{on_curve} {on_twist}");
    }

    #[test]
    fn detail_messages_are_unchanged() {
        let field = "auth_data.private_key_iterations";
        let cases: Vec<(BackupError, &str)> = vec![
            (
                BackupError::LowOrderPublicKey,
                "the backup public key is a low-order Curve25519 point: anything encrypted to it could be read by anyone; check auth_data.public_key",
            ),
            (
                BackupError::NotAnObject,
                "the backup is not a JSON object; expected the body of GET /room_keys/keys",
            ),
            (
                BackupError::UnknownShape,
                "not a key backup: expected {\"rooms\": ...} (GET /room_keys/keys), {\"sessions\": ...}, a KeyBackupData or a session_data",
            ),
            (
                BackupError::IdNotGiven {
                    shape: Shape::Room,
                    id: "room id",
                },
                "one room's body does not name its room id; it has to be given",
            ),
            (
                BackupError::IdNotGiven {
                    shape: Shape::KeyBackupData,
                    id: "session id",
                },
                "a KeyBackupData does not name its session id; it has to be given",
            ),
            (
                BackupError::IdNotGiven {
                    shape: Shape::SessionData,
                    id: "room id",
                },
                "a session_data does not name its room id; it has to be given",
            ),
            (
                BackupError::RoomNoSessions { room: "!r:x".into() },
                "room !r:x: no \"sessions\" object",
            ),
            (BackupError::RoomsNotObject, "\"rooms\" is not an object"),
            (BackupError::NoPublicKey, "auth_data has no public_key"),
            (
                BackupError::PublicKeyNotBase64,
                "auth_data.public_key is not base64",
            ),
            (
                BackupError::NoPublicKey32,
                "auth_data has no 32-byte public_key",
            ),
            (
                BackupError::VersionNotObject,
                "the backup version is not a JSON object",
            ),
            (
                BackupError::Algorithm {
                    algorithm: "m.other".into(),
                },
                "backup algorithm m.other is not supported (only m.megolm_backup.v1.curve25519-aes-sha2)",
            ),
            (BackupError::AuthDataNotObject, "auth_data is not an object"),
            (
                BackupError::NoSalt,
                "auth_data has no private_key_salt: this backup was not made from a passphrase",
            ),
            (
                BackupError::Iterations(IterationsError::Missing { field }),
                "auth_data.private_key_iterations is missing",
            ),
            (
                BackupError::Bits { bits: 128 },
                "private_key_bits is 128; only 256 is defined",
            ),
            (
                BackupError::AuthDataNotCanonical(CanonicalError::Number("1.5".into())),
                "1.5 is not an integer in the range canonical JSON allows",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want, "{e:?}");
            let e = Error::from(e);
            assert_eq!(
                (e.to_string().as_str(), e.kind()),
                (want, crate::ErrorKind::Format)
            );
        }
        let failures: Vec<(SessionFailure, &str)> = vec![
            (
                SessionFailure::Format(SessionDataError::NotAnObject),
                "malformed backup entry: session_data is not an object",
            ),
            (
                SessionFailure::Format(SessionDataError::Missing { field: "mac" }),
                "malformed backup entry: session_data has no mac",
            ),
            (
                SessionFailure::Format(SessionDataError::NotAString { field: "ephemeral" }),
                "malformed backup entry: session_data.ephemeral is not a string",
            ),
            (
                SessionFailure::Format(SessionDataError::NotBase64 {
                    field: "ciphertext",
                }),
                "malformed backup entry: session_data.ciphertext is not base64",
            ),
            (
                SessionFailure::Format(SessionDataError::NotBase64 { field: "mac" }),
                "malformed backup entry: session_data.mac is not base64",
            ),
            (
                SessionFailure::Format(SessionDataError::MacLength { len: 7 }),
                "malformed backup entry: session_data.mac is 7 bytes, expected 8",
            ),
            (
                SessionFailure::SessionKey(SessionKeyProblem::Missing),
                "the decrypted data has no session_key",
            ),
            (
                SessionFailure::SessionKey(SessionKeyProblem::WrongSession {
                    actual: "A".into(),
                    filed: "B".into(),
                }),
                "the session key belongs to session A, not to B where it is filed",
            ),
        ];
        for (e, want) in failures {
            assert_eq!(e.to_string(), want, "{e:?}");
        }
    }

    #[test]
    fn auth_data_mismatch_names_both_keys() {
        let key = RecoveryKey::from_bytes(&mut [5; 32]);
        let right = serde_json::json!({"algorithm": ALGORITHM, "version": "3",
            "auth_data": {"public_key": encode_unpadded(&key.backup_public_key())}});
        check_auth_data(&key, &right).unwrap();
        let wrong = serde_json::json!({"algorithm": ALGORITHM, "version": "4",
            "auth_data": {"public_key": encode_unpadded(&[1; 32])}});
        let e = check_auth_data(&key, &wrong).unwrap_err().to_string();
        assert!(e.contains("version 4"), "{e}");
    }
}
