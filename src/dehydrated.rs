//! Dehydrated devices (MSC3814): the room keys that only a user's dehydrated device received.
//!
//! A dehydrated device is an ordinary Olm device whose private keys live on the homeserver,
//! encrypted with a key from secret storage. Other devices send it room keys like any device;
//! the server queues those to-device events until a client "rehydrates" the device. When every
//! real device of a user is gone, those queued events hold the only copies of the room keys of
//! the messages sent since. This module reads them offline.
//!
//! # The device
//! `GET /_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device` returns
//! `{"device_id": "...", "device_data": {"algorithm": ..., "device_pickle": ..., "nonce": ...}}`
//! ([`DehydratedDevice::parse`]). Two algorithms exist:
//!
//! - **`org.matrix.msc3814.v2`** (matrix-rust-sdk, so Element Web, Element X): `device_pickle`
//!   is unpadded base64 of ChaCha20-Poly1305 ciphertext (16-byte tag at the end) under the
//!   32-byte pickle key itself, with `nonce` (unpadded base64 of 12 bytes). The plaintext is
//!   vodozemac's dehydrated-device pickle: a big-endian u32 version (1), then the account's
//!   Ed25519 and Curve25519 private keys, its one-time keys and its fallback keys. The AEAD tag
//!   covers it all: a wrong key and a changed or cut pickle fail alike.
//! - **`org.matrix.msc3814.v1.olm`** (the MSC's first version): `device_pickle` is a libolm
//!   account pickle (AES-256-CBC + HMAC-SHA-256 truncated to 8 bytes, keys from HKDF of the
//!   pickle key, unpadded base64). Its pickle key is not the secret itself: matrix-rust-sdk
//!   expands it per device, HKDF-SHA-256 with salt = the device id, input = the 32-byte secret,
//!   info = `dehydrated-device-pickle-key`, 32 bytes out. (libolm's pickle encryption derives
//!   the same AES key and IV from the same key every time; the per-device key keeps two devices
//!   from sharing them.)
//!
//! Both pickles are opened by `vodozemac`, the Olm implementation matrix-rust-sdk uses: this
//! crate parses the JSON around them and never implements Olm.
//!
//! # The key
//! Secret storage holds the pickle key under `org.matrix.msc3814` (stable name
//! `m.dehydrated_device`): unpadded base64 of 32 bytes ([`PickleKey::from_base64`]).
//!
//! # The events
//! `POST .../dehydrated_device/{device_id}/events` returns pages
//! `{"events": [...], "next_batch": "..."}`; an empty `events` ends them. Each event is
//! `{"type", "sender", "content"}`: `m.room.encrypted` with algorithm
//! `m.olm.v1.curve25519-aes-sha2` holds one ciphertext per recipient Curve25519 key
//! (`content.ciphertext[key] = {"type": 0|1, "body": base64}`); type 0 is a pre-key message,
//! which starts an Olm session from one of the device's one-time keys (a one-time key opens one
//! session only: a second, different pre-key message on the same key is refused); type 1 needs
//! the session an earlier pre-key message made. [`Rehydrated::decrypt`] gives an [`Outcome`]
//! per event; [`room_keys`] turns the decrypted `m.room_key` and `m.forwarded_room_key` into
//! sessions of the key-export format, and finds `m.room_key_bundle` (MSC4268) pointers.
//!
//! Each decrypted payload is checked as the spec says: `recipient_keys.ed25519` is this device's
//! key, `sender` is the event's sender, and `keys.ed25519` is present. When the payload carries
//! `sender_device_keys` (MSC4147), they must be self-signed, name the sender, and hold the
//! Curve25519 key the message came from and the Ed25519 key of `keys`.

use std::fmt;

use hkdf::Hkdf;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::Sha256;
use vodozemac::olm::{Account, OlmMessage, Session, SessionCreationError};
use vodozemac::{Curve25519PublicKey, DehydratedDeviceError, LibolmPickleError};
use zeroize::Zeroizing;

use crate::encoding::decode_lenient;
use crate::identity::verify_signed;
use crate::megolm::SessionKey;
use crate::secret::SecretBytes;
use crate::session::SessionRecord;

/// `device_data.algorithm` of the current format.
pub const V2: &str = "org.matrix.msc3814.v2";
/// `device_data.algorithm` of the first format (a libolm pickle).
pub const V1: &str = "org.matrix.msc3814.v1.olm";
/// The secret-storage names of the pickle key: stable first, then unstable.
pub const SECRET_NAMES: [&str; 2] = ["m.dehydrated_device", "org.matrix.msc3814"];
/// The Olm algorithm of to-device messages.
pub const OLM: &str = "m.olm.v1.curve25519-aes-sha2";
/// HKDF info of the v1 per-device pickle key.
const V1_INFO: &[u8] = b"dehydrated-device-pickle-key";

/// Why a dehydrated device cannot be opened. No message quotes the pickle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DehydratedError {
    /// The JSON is not a dehydrated-device body.
    #[error("not a dehydrated device: {0}")]
    NotADevice(String),
    /// An algorithm this crate does not read.
    #[error("device_data.algorithm is {0:?}; known: {V2} and {V1}")]
    UnknownAlgorithm(String),
    /// The pickle key is not unpadded base64 of 32 bytes.
    #[error("the pickle key is not base64 of 32 bytes ({0})")]
    BadKey(String),
    /// AEAD or MAC failure: the key is wrong, or the pickle was changed or cut.
    #[error("this key does not open the dehydrated device: a wrong pickle key, or device_pickle was changed or cut short")]
    WrongKey,
    /// The pickle decrypted but is damaged or of an unknown version.
    #[error("the device pickle is damaged: {0}")]
    Damaged(String),
}

/// The pickle key (32 bytes), as secret storage holds it.
pub struct PickleKey(SecretBytes<32>);

impl fmt::Debug for PickleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PickleKey(<redacted>)")
    }
}

impl PickleKey {
    /// Decode base64 (padded or not, surrounding whitespace ignored) of 32 bytes.
    ///
    /// # Errors
    /// [`DehydratedError::BadKey`].
    pub fn from_base64(text: &str) -> Result<Self, DehydratedError> {
        let bytes = Zeroizing::new(
            decode_lenient(text.trim())
                .map_err(|_| DehydratedError::BadKey("not base64".into()))?,
        );
        let arr: &[u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| DehydratedError::BadKey(format!("{} bytes", bytes.len())))?;
        let mut copy = Zeroizing::new(*arr);
        Ok(PickleKey(SecretBytes::from_array(&mut copy)))
    }

    /// The v1 pickle key of device `device_id` (see the module docs).
    fn expand_v1(&self, device_id: &str) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(Some(device_id.as_bytes()), self.0.expose());
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA-256's limit of 255 * 32.
        if hk.expand(V1_INFO, out.as_mut_slice()).is_err() {
            out.fill(0);
        }
        out
    }
}

/// The device body, parsed; its pickle is still encrypted.
#[derive(Clone)]
pub struct DehydratedDevice {
    /// `device_id`.
    pub device_id: String,
    /// `device_data.algorithm`.
    pub algorithm: String,
    pickle: String,
    nonce: Option<String>,
}

impl fmt::Debug for DehydratedDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DehydratedDevice")
            .field("device_id", &self.device_id)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn str_field<'a>(v: &'a Value, name: &str, what: &str) -> Result<&'a str, DehydratedError> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| DehydratedError::NotADevice(format!("{what} has no string \"{name}\"")))
}

impl DehydratedDevice {
    /// Read the GET body (or the PUT body, which has the same two fields).
    ///
    /// # Errors
    /// [`DehydratedError::NotADevice`], [`DehydratedError::UnknownAlgorithm`].
    pub fn parse(doc: &Value) -> Result<Self, DehydratedError> {
        if !doc.is_object() {
            return Err(DehydratedError::NotADevice("not a JSON object".into()));
        }
        let device_id = str_field(doc, "device_id", "the body")?.to_owned();
        let data = doc
            .get("device_data")
            .ok_or_else(|| DehydratedError::NotADevice("the body has no \"device_data\"".into()))?;
        let algorithm = str_field(data, "algorithm", "device_data")?.to_owned();
        let pickle = str_field(data, "device_pickle", "device_data")?.to_owned();
        let nonce = match algorithm.as_str() {
            V2 => Some(str_field(data, "nonce", "device_data")?.to_owned()),
            V1 => None,
            _ => return Err(DehydratedError::UnknownAlgorithm(algorithm)),
        };
        Ok(DehydratedDevice {
            device_id,
            algorithm,
            pickle,
            nonce,
        })
    }

    /// Decrypt the pickle with `key`: the device's Olm account, ready to decrypt its events.
    ///
    /// # Errors
    /// [`DehydratedError::WrongKey`] when the AEAD (v2) or MAC (v1) check fails;
    /// [`DehydratedError::Damaged`] for bad base64, a bad nonce, an unknown pickle version or a
    /// pickle that does not parse.
    pub fn rehydrate(&self, key: &PickleKey) -> Result<Rehydrated, DehydratedError> {
        let account = match &self.nonce {
            Some(nonce) => Account::from_dehydrated_device(&self.pickle, nonce, key.0.expose())
                .map_err(v2_error)?,
            None => {
                let k = key.expand_v1(&self.device_id);
                Account::from_libolm_pickle(&self.pickle, k.as_slice()).map_err(v1_error)?
            }
        };
        let keys = account.identity_keys();
        Ok(Rehydrated {
            device_id: self.device_id.clone(),
            curve25519: keys.curve25519.to_base64(),
            ed25519: keys.ed25519.to_base64(),
            account,
            sessions: Vec::new(),
        })
    }
}

fn v2_error(e: DehydratedDeviceError) -> DehydratedError {
    match e {
        DehydratedDeviceError::Decryption(_) => DehydratedError::WrongKey,
        DehydratedDeviceError::Base64(_) => {
            DehydratedError::Damaged("device_pickle or nonce is not base64".into())
        }
        DehydratedDeviceError::InvalidNonce => {
            DehydratedError::Damaged("the nonce is not 12 bytes".into())
        }
        DehydratedDeviceError::Version(want, got) => {
            DehydratedError::Damaged(format!("pickle version {got}, expected {want}"))
        }
        DehydratedDeviceError::MissingVersion => {
            DehydratedError::Damaged("the pickle has no version".into())
        }
        other => DehydratedError::Damaged(other.to_string()),
    }
}

fn v1_error(e: LibolmPickleError) -> DehydratedError {
    match e {
        LibolmPickleError::Decryption(_) => DehydratedError::WrongKey,
        LibolmPickleError::Base64(_) => {
            DehydratedError::Damaged("device_pickle is not base64".into())
        }
        LibolmPickleError::Version(want, got) => DehydratedError::Damaged(format!(
            "libolm account pickle version {got}, expected {want}"
        )),
        other => DehydratedError::Damaged(other.to_string()),
    }
}

/// A rehydrated device: its Olm account and the sessions its events have opened.
pub struct Rehydrated {
    /// The device id.
    pub device_id: String,
    /// Its Curve25519 identity key (unpadded base64): the key its messages are addressed to.
    pub curve25519: String,
    /// Its Ed25519 identity key (unpadded base64).
    pub ed25519: String,
    account: Account,
    /// Olm sessions by the sender's Curve25519 key, in the order they were made.
    sessions: Vec<(String, Session)>,
}

impl fmt::Debug for Rehydrated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rehydrated")
            .field("device_id", &self.device_id)
            .field("curve25519", &self.curve25519)
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

/// What happened to one to-device event.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Decrypted and checked.
    Decrypted(Decrypted),
    /// Encrypted, but not for this device's key.
    NotForThisDevice {
        /// The Curve25519 keys it is for.
        recipients: Vec<String>,
    },
    /// Olm could not decrypt it, or the payload failed its checks.
    Failed {
        /// Why, in one sentence.
        reason: String,
    },
    /// A room key the sender withheld (`m.room_key.withheld`).
    Withheld {
        /// `code`, e.g. `m.unverified`.
        code: String,
        /// `reason`, the sender's words.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// `room_id`.
        #[serde(skip_serializing_if = "Option::is_none")]
        room_id: Option<String>,
        /// `session_id`.
        #[serde(skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
    },
    /// Not encrypted, and not a withheld notice: nothing to do.
    Other {
        /// Its `type`.
        event_type: String,
    },
}

/// A decrypted to-device payload.
#[derive(Clone, Serialize)]
pub struct Decrypted {
    /// The payload's `type`.
    pub event_type: String,
    /// The sender's user id.
    pub sender: String,
    /// The Curve25519 key the Olm message came from.
    pub sender_key: String,
    /// The sender device's Ed25519 key (`keys.ed25519`).
    pub sender_ed25519: String,
    /// Whether the payload carried `sender_device_keys` (MSC4147), which were checked.
    pub sender_device_keys: bool,
    /// Whether this message started a new Olm session (a pre-key message).
    pub new_session: bool,
    /// The payload's `content` (holds keys: not serialized).
    #[serde(skip)]
    pub content: Value,
}

impl fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decrypted")
            .field("event_type", &self.event_type)
            .field("sender", &self.sender)
            .field("sender_key", &self.sender_key)
            .finish_non_exhaustive()
    }
}

impl Outcome {
    /// Its kind in one word: `decrypted`, `not_for_this_device`, `failed`, `withheld`, `other`.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Decrypted(_) => "decrypted",
            Outcome::NotForThisDevice { .. } => "not_for_this_device",
            Outcome::Failed { .. } => "failed",
            Outcome::Withheld { .. } => "withheld",
            Outcome::Other { .. } => "other",
        }
    }
}

fn failed(reason: impl Into<String>) -> Outcome {
    Outcome::Failed {
        reason: reason.into(),
    }
}

fn opt_str(v: &Value, name: &str) -> Option<String> {
    v.get(name).and_then(Value::as_str).map(str::to_owned)
}

impl Rehydrated {
    /// Decrypt one to-device event (`{"type", "sender", "content"}`), keeping any Olm session it
    /// opens for the events after it. Feed events in the order the server gave them.
    pub fn decrypt(&mut self, event: &Value) -> Outcome {
        let event_type = opt_str(event, "type").unwrap_or_default();
        let content = event.get("content").unwrap_or(&Value::Null);
        match event_type.as_str() {
            "m.room.encrypted" => {}
            "m.room_key.withheld" | "org.matrix.room_key.withheld" => {
                return Outcome::Withheld {
                    code: opt_str(content, "code").unwrap_or_else(|| "(no code)".into()),
                    reason: opt_str(content, "reason"),
                    room_id: opt_str(content, "room_id"),
                    session_id: opt_str(content, "session_id"),
                }
            }
            _ => return Outcome::Other { event_type },
        }
        let Some(sender) = event.get("sender").and_then(Value::as_str) else {
            return failed("the event has no sender");
        };
        if content.get("algorithm").and_then(Value::as_str) != Some(OLM) {
            return failed(format!(
                "not an Olm message (algorithm {})",
                content
                    .get("algorithm")
                    .map_or_else(|| "missing".to_owned(), Value::to_string)
            ));
        }
        let Some(sender_key) = content.get("sender_key").and_then(Value::as_str) else {
            return failed("content.sender_key is missing");
        };
        let Some(ciphertexts) = content.get("ciphertext").and_then(Value::as_object) else {
            return failed("content.ciphertext is not an object");
        };
        let Some(mine) = ciphertexts.get(&self.curve25519) else {
            return Outcome::NotForThisDevice {
                recipients: ciphertexts.keys().cloned().collect(),
            };
        };
        let (message_type, body) = match (
            mine.get("type").and_then(Value::as_u64),
            mine.get("body").and_then(Value::as_str),
        ) {
            (Some(t), Some(b)) => (t, b),
            _ => return failed("the ciphertext for this device has no type or body"),
        };
        let Ok(their_key) = Curve25519PublicKey::from_base64(sender_key) else {
            return failed("content.sender_key is not a Curve25519 key");
        };
        let Ok(bytes) = decode_lenient(body) else {
            return failed("the Olm message is not base64");
        };
        let message = match usize::try_from(message_type)
            .ok()
            .and_then(|t| OlmMessage::from_parts(t, &bytes).ok())
        {
            Some(m) => m,
            None => return failed(format!("not an Olm message of type {message_type}")),
        };
        let (plaintext, new_session) = match self.olm_decrypt(sender_key, their_key, &message) {
            Ok(p) => p,
            Err(reason) => return failed(reason),
        };
        let plaintext = Zeroizing::new(plaintext);
        let Ok(payload) = serde_json::from_slice::<Value>(&plaintext) else {
            return failed("the decrypted payload is not JSON");
        };
        match self.check_payload(&payload, sender, sender_key) {
            Ok(d) => Outcome::Decrypted(Decrypted { new_session, ..d }),
            Err(reason) => failed(reason),
        }
    }

    fn olm_decrypt(
        &mut self,
        sender_key: &str,
        their_key: Curve25519PublicKey,
        message: &OlmMessage,
    ) -> Result<(Vec<u8>, bool), String> {
        // An existing session first: a later message, or a pre-key message of a session this
        // device already has.
        let mut last_error = None;
        for (key, session) in self.sessions.iter_mut().filter(|(k, _)| k == sender_key) {
            if let OlmMessage::PreKey(m) = message {
                if m.session_id() != session.session_id() {
                    continue;
                }
            }
            match session.decrypt(message) {
                Ok(p) => return Ok((p, false)),
                Err(e) => last_error = Some((key.clone(), e)),
            }
        }
        match message {
            OlmMessage::Normal(_) => Err(match last_error {
                Some((_, e)) => format!("no Olm session with this sender decrypts it ({e})"),
                None => "no Olm session with this sender: the pre-key message that starts it is not among the events".into(),
            }),
            OlmMessage::PreKey(m) => match self.account.create_inbound_session(their_key, m) {
                Ok(created) => {
                    self.sessions.push((sender_key.to_owned(), created.session));
                    Ok((created.plaintext, true))
                }
                Err(SessionCreationError::MissingOneTimeKey(_)) => Err(
                    "its one-time key is not the device's, or was already used by another message (a replayed pre-key message)".into(),
                ),
                Err(SessionCreationError::MismatchedIdentityKey(..)) => {
                    Err("the pre-key message is not from content.sender_key".into())
                }
                Err(SessionCreationError::Decryption(e)) => {
                    Err(format!("the pre-key message does not decrypt ({e})"))
                }
            },
        }
    }

    /// The spec's checks of a decrypted Olm payload, and MSC4147's when it has
    /// `sender_device_keys`.
    fn check_payload(
        &self,
        payload: &Value,
        sender: &str,
        sender_key: &str,
    ) -> Result<Decrypted, String> {
        let event_type = opt_str(payload, "type").ok_or("the payload has no type")?;
        if payload.get("sender").and_then(Value::as_str) != Some(sender) {
            return Err("the payload's sender is not the event's sender".into());
        }
        let ours = payload
            .get("recipient_keys")
            .and_then(|k| k.get("ed25519"))
            .and_then(Value::as_str);
        if ours != Some(self.ed25519.as_str()) {
            return Err("the payload's recipient_keys.ed25519 is not this device's key".into());
        }
        let sender_ed25519 = payload
            .get("keys")
            .and_then(|k| k.get("ed25519"))
            .and_then(Value::as_str)
            .ok_or("the payload has no keys.ed25519")?
            .to_owned();
        let device_keys = payload.get("sender_device_keys").filter(|v| !v.is_null());
        if let Some(dk) = device_keys {
            check_sender_device_keys(dk, sender, sender_key, &sender_ed25519)?;
        }
        Ok(Decrypted {
            event_type,
            sender: sender.to_owned(),
            sender_key: sender_key.to_owned(),
            sender_ed25519,
            sender_device_keys: device_keys.is_some(),
            new_session: false,
            content: payload.get("content").cloned().unwrap_or(Value::Null),
        })
    }
}

/// MSC4147: `sender_device_keys` are the sender's device keys, self-signed, holding the
/// Curve25519 key the message came from and the Ed25519 key the payload claims.
fn check_sender_device_keys(
    dk: &Value,
    sender: &str,
    sender_key: &str,
    sender_ed25519: &str,
) -> Result<(), String> {
    let bad = |why: &str| Err(format!("sender_device_keys {why}"));
    if dk.get("user_id").and_then(Value::as_str) != Some(sender) {
        return bad("are not the sender's");
    }
    let Some(device_id) = dk.get("device_id").and_then(Value::as_str) else {
        return bad("have no device_id");
    };
    let key = |alg: &str| {
        dk.get("keys")
            .and_then(|k| k.get(format!("{alg}:{device_id}")))
            .and_then(Value::as_str)
    };
    if key("curve25519") != Some(sender_key) {
        return bad("hold another Curve25519 key than the one the message came from");
    }
    if key("ed25519") != Some(sender_ed25519) {
        return bad("hold another Ed25519 key than the payload's keys.ed25519");
    }
    match verify_signed(dk, sender, &format!("ed25519:{device_id}"), sender_ed25519) {
        Some(true) => Ok(()),
        Some(false) => bad("have a bad self-signature"),
        None => bad("are not self-signed"),
    }
}

/// What a decrypted payload gives towards the output.
#[derive(Debug)]
pub enum RoomKeys {
    /// Sessions in the key-export format (`m.room_key`, `m.forwarded_room_key`).
    Sessions(Vec<SessionRecord>),
    /// A room-key bundle to download and decrypt (`m.room_key_bundle`, MSC4268).
    Bundle {
        /// `room_id`.
        room_id: String,
        /// `file`: the `EncryptedFile` of the bundle.
        file: Value,
    },
    /// A payload of another type, or a room key that is not usable (why).
    None(Option<String>),
}

/// The room keys a decrypted payload carries.
///
/// - `m.room_key` (megolm v1): its session key is the signed sharing format (0x02), checked
///   against its session id and signature, and written in the export format (0x01). The
///   session's `sender_key` is the Olm sender's key and `sender_claimed_keys.ed25519` the
///   payload's `keys.ed25519`.
/// - `m.forwarded_room_key`: its fields become the session's, the Olm sender's key appended to
///   `forwarding_curve25519_key_chain` (the spec's rule for forwarded keys).
/// - `shared_history` and its unstable name are kept where present.
pub fn room_keys(d: &Decrypted) -> RoomKeys {
    let c = &d.content;
    let megolm =
        |c: &Value| c.get("algorithm").and_then(Value::as_str) == Some(crate::megolm::ALGORITHM);
    match d.event_type.as_str() {
        "m.room_key" => {
            if !megolm(c) {
                return RoomKeys::None(Some("a room key of another algorithm".into()));
            }
            let (Some(room_id), Some(session_id), Some(key)) = (
                c.get("room_id").and_then(Value::as_str),
                c.get("session_id").and_then(Value::as_str),
                c.get("session_key").and_then(Value::as_str),
            ) else {
                return RoomKeys::None(Some(
                    "an m.room_key without room_id, session_id or session_key".into(),
                ));
            };
            let sk = match SessionKey::from_base64(key) {
                Ok(k) => k,
                Err(e) => return RoomKeys::None(Some(format!("its session key is unusable: {e}"))),
            };
            if sk.session_id() != session_id {
                return RoomKeys::None(Some("its session key is not session_id's".into()));
            }
            let mut s = json!({
                "algorithm": crate::megolm::ALGORITHM,
                "room_id": room_id,
                "sender_key": d.sender_key,
                "session_id": session_id,
                "session_key": sk.to_export_base64().as_str(),
                "sender_claimed_keys": {"ed25519": d.sender_ed25519},
                "forwarding_curve25519_key_chain": [],
            });
            copy_shared_history(c, &mut s);
            record(s)
        }
        "m.forwarded_room_key" => {
            if !megolm(c) {
                return RoomKeys::None(Some("a forwarded key of another algorithm".into()));
            }
            let mut chain: Vec<Value> = c
                .get("forwarding_curve25519_key_chain")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            chain.push(Value::String(d.sender_key.clone()));
            let field = |n: &str| c.get(n).cloned().unwrap_or(Value::Null);
            // The forwarded key is the export format (0x01) of the session it names.
            let key = c
                .get("session_key")
                .and_then(Value::as_str)
                .map(SessionKey::from_base64);
            match key {
                Some(Ok(k))
                    if Some(k.session_id().as_str())
                        == c.get("session_id").and_then(Value::as_str) => {}
                Some(Ok(_)) => {
                    return RoomKeys::None(Some("its session key is not session_id's".into()))
                }
                Some(Err(e)) => {
                    return RoomKeys::None(Some(format!("its session key is unusable: {e}")))
                }
                None => return RoomKeys::None(Some("a forwarded key without session_key".into())),
            }
            let mut s = json!({
                "algorithm": crate::megolm::ALGORITHM,
                "room_id": field("room_id"),
                "sender_key": field("sender_key"),
                "session_id": field("session_id"),
                "session_key": field("session_key"),
                "sender_claimed_keys": {"ed25519": field("sender_claimed_ed25519_key")},
                "forwarding_curve25519_key_chain": chain,
            });
            copy_shared_history(c, &mut s);
            record(s)
        }
        "m.room_key_bundle" | "io.element.msc4268.room_key_bundle" => {
            match (c.get("room_id").and_then(Value::as_str), c.get("file")) {
                (Some(room), Some(file)) if file.is_object() => RoomKeys::Bundle {
                    room_id: room.to_owned(),
                    file: file.clone(),
                },
                _ => RoomKeys::None(Some("a room-key bundle without room_id or file".into())),
            }
        }
        _ => RoomKeys::None(None),
    }
}

/// The shared-history flag (MSC3061) in each spelling a room key may carry, kept as it came.
fn copy_shared_history(from: &Value, to: &mut Value) {
    for (name, _) in crate::session::SHARED_HISTORY {
        if let (Some(v), Some(obj)) = (from.get(name), to.as_object_mut()) {
            obj.insert(name.to_owned(), v.clone());
        }
    }
}

fn record(s: Value) -> RoomKeys {
    // Through a wiped buffer: the value holds the session key.
    let text = Zeroizing::new(s.to_string());
    drop(s);
    match serde_json::from_str::<SessionRecord>(&text) {
        Ok(r) => RoomKeys::Sessions(vec![r]),
        Err(_) => RoomKeys::None(Some("its fields are not a session".into())),
    }
}

/// A page of `POST .../dehydrated_device/{device_id}/events`: its events (moved out of `doc`, not
/// copied) and `next_batch`.
///
/// # Errors
/// A description when `doc` is not such a page.
pub fn page(mut doc: Value) -> Result<(Vec<Value>, Option<String>), String> {
    let next = opt_str(&doc, "next_batch");
    match doc.get_mut("events").map(Value::take) {
        Some(Value::Array(events)) => Ok((events, next)),
        _ => Err("not a page of dehydrated-device events (no \"events\" list)".into()),
    }
}

/// A stable identity for an event, to drop the copies two overlapping pages give: its canonical
/// JSON, hashed.
pub fn event_identity(event: &Value) -> [u8; 32] {
    use sha2::Digest;
    let text = crate::identity::canonical_json(event).unwrap_or_else(|_| event.to_string());
    Sha256::digest(text.as_bytes()).into()
}

/// Whether `bytes` parse as a decrypted v2 pickle (vodozemac's parser behind the AEAD), for the
/// fuzz target that reaches it without a key: not part of the stable API.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub fn parse_decrypted_pickle(bytes: &[u8]) -> bool {
    Account::from_decrypted_dehydrated_device(bytes).is_ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// A megolm session key in the sharing format (0x02), made by another implementation.
    fn shared_key() -> (String, String) {
        let v: Value =
            serde_json::from_str(include_str!("../test-vectors/megolm/valid-signed.json")).unwrap();
        (
            v[0]["session_id"].as_str().unwrap().to_owned(),
            v[0]["session_key"].as_str().unwrap().to_owned(),
        )
    }

    fn decrypted(event_type: &str, content: Value) -> Decrypted {
        Decrypted {
            event_type: event_type.into(),
            sender: "@bob:x".into(),
            sender_key: "OLMSENDER".into(),
            sender_ed25519: "BOBED".into(),
            sender_device_keys: false,
            new_session: true,
            content,
        }
    }

    fn one(r: RoomKeys) -> Value {
        match r {
            RoomKeys::Sessions(mut v) => serde_json::to_value(v.remove(0)).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_room_key_becomes_an_export_session_from_its_olm_sender() {
        let (sid, key) = shared_key();
        let s = one(room_keys(&decrypted(
            "m.room_key",
            json!({"algorithm": "m.megolm.v1.aes-sha2", "room_id": "!r:x", "session_id": sid,
                   "session_key": key, "org.matrix.msc3061.shared_history": true}),
        )));
        assert_eq!(s["sender_key"], "OLMSENDER");
        assert_eq!(s["sender_claimed_keys"]["ed25519"], "BOBED");
        assert_eq!(s["org.matrix.msc3061.shared_history"], true);
        let k = SessionKey::from_base64(s["session_key"].as_str().unwrap()).unwrap();
        assert_eq!(k.format(), crate::megolm::SessionKeyFormat::Export);
        assert_eq!(k.session_id(), sid);

        // A key for another session id, another algorithm, or missing fields: not used.
        for content in [
            json!({"algorithm": "m.megolm.v1.aes-sha2", "room_id": "!r:x", "session_id": "other", "session_key": key}),
            json!({"algorithm": "m.megolm.v2", "room_id": "!r:x", "session_id": sid, "session_key": key}),
            json!({"algorithm": "m.megolm.v1.aes-sha2", "session_id": sid, "session_key": key}),
        ] {
            assert!(matches!(
                room_keys(&decrypted("m.room_key", content)),
                RoomKeys::None(Some(_))
            ));
        }
    }

    #[test]
    fn a_forwarded_key_keeps_its_fields_and_the_chain_grows_by_the_olm_sender() {
        let v: Value =
            serde_json::from_str(include_str!("../test-vectors/megolm/valid-laptop.json")).unwrap();
        let (sid, key) = (v[0]["session_id"].clone(), v[0]["session_key"].clone());
        let s = one(room_keys(&decrypted(
            "m.forwarded_room_key",
            json!({"algorithm": "m.megolm.v1.aes-sha2", "room_id": "!r:x", "sender_key": "ORIGIN",
                   "session_id": sid, "session_key": key, "sender_claimed_ed25519_key": "ORIGED",
                   "forwarding_curve25519_key_chain": ["FIRST"], "shared_history": false}),
        )));
        assert_eq!(s["session_key"], key);
        assert_eq!(s["sender_key"], "ORIGIN");
        assert_eq!(s["sender_claimed_keys"]["ed25519"], "ORIGED");
        assert_eq!(
            s["forwarding_curve25519_key_chain"],
            json!(["FIRST", "OLMSENDER"])
        );
        assert_eq!(s["shared_history"], false);
        // A key of another session is not used.
        let other = room_keys(&decrypted(
            "m.forwarded_room_key",
            json!({"algorithm": "m.megolm.v1.aes-sha2", "room_id": "!r:x", "session_id": "SID",
                   "session_key": key}),
        ));
        assert!(matches!(other, RoomKeys::None(Some(_))));
    }

    #[test]
    fn a_bundle_pointer_and_other_payloads() {
        let b = room_keys(&decrypted(
            "m.room_key_bundle",
            json!({"room_id": "!r:x", "file": {"url": "mxc://x/y"}}),
        ));
        assert!(matches!(b, RoomKeys::Bundle { ref room_id, .. } if room_id == "!r:x"));
        assert!(matches!(
            room_keys(&decrypted("m.room_key_bundle", json!({"room_id": "!r:x"}))),
            RoomKeys::None(Some(_))
        ));
        assert!(matches!(
            room_keys(&decrypted("m.dummy", json!({}))),
            RoomKeys::None(None)
        ));
    }

    #[test]
    fn pickle_keys_and_device_bodies() {
        assert!(PickleKey::from_base64(&"A".repeat(43)).is_ok());
        assert!(matches!(
            PickleKey::from_base64("AAAA"),
            Err(DehydratedError::BadKey(_))
        ));
        let d = json!({"device_id": "D", "device_data": {"algorithm": V1, "device_pickle": "x"}});
        assert_eq!(DehydratedDevice::parse(&d).unwrap().algorithm, V1);
        let d =
            json!({"device_id": "D", "device_data": {"algorithm": "other", "device_pickle": "x"}});
        assert_eq!(
            DehydratedDevice::parse(&d).unwrap_err(),
            DehydratedError::UnknownAlgorithm("other".into())
        );
        // Debug never shows the pickle.
        let d = json!({"device_id": "D", "device_data": {"algorithm": V2, "device_pickle": "SECRETPICKLE", "nonce": "n"}});
        assert!(!format!("{:?}", DehydratedDevice::parse(&d).unwrap()).contains("SECRETPICKLE"));
        assert!(
            !format!("{:?}", PickleKey::from_base64(&"B".repeat(43)).unwrap()).contains("BBBB")
        );
    }
}
