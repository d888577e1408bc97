//! Offline room history: decrypt `m.megolm.v1.aes-sha2` events with the sessions from an export
//! or a backup, and say exactly why each event that cannot be decrypted cannot.
//!
//! Events are grouped by session and taken in index order, so each session's ratchet only moves
//! forward: decrypting 100k events of one session costs 100k small steps, not 100k long ones.
//! Sessions are processed in parallel.
//!
//! What is checked, and what is not:
//! - The room. A session belongs to one room (`room_id` in the keys); the event's envelope
//!   `room_id` (absent in `/sync` timelines) and the `room_id` inside the decrypted plaintext must
//!   both agree with it when they are present. An event replayed or forwarded from another room
//!   is [`Outcome::RoomMismatch`].
//! - The sender device. The event's `content.sender_key` (when present) must be the curve25519
//!   key of the device that created the session, as the keys file says.
//! - The sender user is **not** verified. `sender` is what the envelope (the homeserver) claims;
//!   it is tied to the session only if the session's creating device (its curve25519
//!   `sender_key`) is a device of that user, which only the user's signed device list
//!   (`/keys/query`) can show, and mxkeys works offline. [`decrypted_event`] therefore marks the
//!   sender as claimed ([`SenderTrust`], `mxkeys_sender` in the output), with the session's
//!   `sender_key` to check by hand.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, Read};
use std::marker::PhantomData;
use std::ops::ControlFlow;
use std::rc::Rc;

use rayon::prelude::*;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess,
    Visitor,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::encoding::decode_lenient;
use crate::megolm::{Message, MessageError, Ratchet, SessionKey};
use crate::session::{json_detail, JsonDetail, SessionRecord, Utf8Checked};
use zeroize::Zeroizing;

/// The megolm room-message algorithm (defined once, in [`crate::megolm`]).
pub use crate::megolm::ALGORITHM as MEGOLM;
/// The `type` of an encrypted room event.
pub const ENCRYPTED_TYPE: &str = "m.room.encrypted";

/// A session known from the keys.
#[derive(Debug)]
pub(crate) struct KnownSession {
    /// Room it belongs to.
    pub room_id: Option<String>,
    /// Curve25519 key of the device that created it.
    pub sender_key: Option<String>,
    /// The key.
    pub key: SessionKey,
}

/// One usable session of the keys, checked: what a [`KeyStore`] keeps of it.
///
/// [`KeyEntry::to_bytes`] and [`KeyEntry::from_bytes`] give it a compact form (the key in the
/// 0x01 export format, the room, the creating device): for a caller that keeps more sessions than
/// memory holds elsewhere (it is secret: encrypt it there).
#[derive(Debug)]
pub struct KeyEntry {
    /// The session id (the key's own: a session whose `session_id` disagrees is rejected).
    pub session_id: String,
    /// Room it belongs to.
    pub room_id: Option<String>,
    /// Curve25519 key of the device that created it.
    pub sender_key: Option<String>,
    /// The key.
    pub key: SessionKey,
}

/// A session of the keys that cannot be used, and why ([`KeyEntry::from_record`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedKey {
    /// The `session_id` it names (empty when it names none).
    pub session_id: String,
    /// Why it cannot be used.
    pub why: String,
}

impl KeyEntry {
    /// Check one session of the keys: a megolm session with a valid key whose session id is the
    /// one it names.
    ///
    /// # Errors
    /// [`RejectedKey`]: why it cannot be used.
    pub fn from_record(s: &SessionRecord) -> Result<KeyEntry, RejectedKey> {
        let reject = |why: String| RejectedKey {
            session_id: s.session_id.clone().unwrap_or_default(),
            why,
        };
        if s.algorithm.as_deref().is_some_and(|a| a != MEGOLM) {
            return Err(reject("not an m.megolm.v1.aes-sha2 session".into()));
        }
        let key = match s
            .session_key
            .as_ref()
            .map(|k| SessionKey::from_base64(k.expose()))
        {
            Some(Ok(k)) => k,
            Some(Err(e)) => return Err(reject(e.to_string())),
            None => return Err(reject("no session_key".into())),
        };
        let sid = key.session_id();
        if s.session_id
            .as_deref()
            .is_some_and(|id| !id.is_empty() && id != sid)
        {
            return Err(reject(format!("session_key belongs to session {sid}")));
        }
        Ok(KeyEntry {
            session_id: sid,
            room_id: s.room_id.clone(),
            sender_key: s.sender_key.clone(),
            key,
        })
    }

    /// The compact form: the key in the 0x01 export format (165 bytes), then the room and the
    /// creating device, each a presence byte (0 or 1) and, when present, a u32 little-endian
    /// length and the UTF-8 text.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = self.key.to_export_bytes();
        for part in [&self.room_id, &self.sender_key] {
            match part {
                None => out.push(0),
                Some(text) => {
                    out.push(1);
                    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
                    out.extend_from_slice(text.as_bytes());
                }
            }
        }
        out
    }

    /// The entry [`KeyEntry::to_bytes`] wrote (the key checked again), or `None` if `bytes` are
    /// not one.
    pub fn from_bytes(bytes: &[u8]) -> Option<KeyEntry> {
        let (key, mut rest) = bytes.split_at_checked(crate::megolm::EXPORT_LEN)?;
        let key = SessionKey::from_bytes(key).ok()?;
        let mut part = || -> Option<Option<String>> {
            let (&present, tail) = rest.split_first()?;
            match present {
                0 => {
                    rest = tail;
                    Some(None)
                }
                1 => {
                    let (len, tail) = tail.split_first_chunk::<4>()?;
                    let (text, tail) = tail.split_at_checked(u32::from_le_bytes(*len) as usize)?;
                    rest = tail;
                    Some(Some(String::from_utf8(text.to_vec()).ok()?))
                }
                _ => None,
            }
        };
        let room_id = part()?;
        let sender_key = part()?;
        if !rest.is_empty() {
            return None;
        }
        Some(KeyEntry {
            session_id: key.session_id(),
            room_id,
            sender_key,
            key,
        })
    }
}

/// Sessions by id; of several copies of one session the one with the lowest first index is kept
/// (the first of them when several have it).
///
/// Memory grows with the sessions inserted (about 1.2 KB each in practice: the key with its
/// decompressed Ed25519 point, the room, the creating device, the map's share): insert only the
/// sessions the events use where the keys are many.
#[derive(Debug, Default)]
pub struct KeyStore {
    sessions: HashMap<String, KnownSession>,
    /// Sessions in the input that could not be used (bad key, no id), with why: the first
    /// [`KeyStore::REJECTED_KEPT`]; [`KeyStore::rejected_count`] counts them all.
    pub rejected: Vec<(String, String)>,
    rejected_count: u64,
}

impl KeyStore {
    /// How many rejected sessions [`KeyStore::rejected`] lists, at most.
    pub const REJECTED_KEPT: usize = 100;

    /// Build from export-format sessions.
    pub fn from_sessions(sessions: &[SessionRecord]) -> Self {
        let mut store = KeyStore::default();
        for s in sessions {
            store.insert(s);
        }
        store
    }

    /// How many sessions were rejected in all (the first ones are in [`KeyStore::rejected`]).
    pub fn rejected_count(&self) -> u64 {
        self.rejected_count
    }

    /// Count a session that cannot be used ([`KeyStore::insert`] does, for the sessions it
    /// rejects).
    pub fn reject(&mut self, r: RejectedKey) {
        self.rejected_count += 1;
        if self.rejected.len() < Self::REJECTED_KEPT {
            self.rejected.push((r.session_id, r.why));
        }
    }

    /// Add one session (read one at a time from a keys file, say); a session that cannot be
    /// used is counted in [`KeyStore::rejected`] instead.
    pub fn insert(&mut self, s: &SessionRecord) {
        match KeyEntry::from_record(s) {
            Ok(entry) => self.insert_entry(entry),
            Err(r) => self.reject(r),
        }
    }

    /// Add one checked session; it replaces a copy of the same session only if it decrypts from
    /// an earlier index.
    pub fn insert_entry(&mut self, e: KeyEntry) {
        let new = KnownSession {
            room_id: e.room_id,
            sender_key: e.sender_key,
            key: e.key,
        };
        match self.sessions.get(&e.session_id) {
            Some(old) if old.key.first_index() <= new.key.first_index() => {}
            _ => {
                self.sessions.insert(e.session_id, new);
            }
        }
    }

    /// Number of usable sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// True when no session is usable.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// Decrypted; the plaintext `{type, content, room_id}`.
    Ok {
        /// Message index.
        message_index: u32,
        /// The decrypted JSON.
        plaintext: Value,
    },
    /// No key for its session.
    UnknownSession {
        /// The session id it names.
        session_id: String,
        /// Its message index.
        message_index: u32,
    },
    /// The key is known only from a later index.
    TooLate {
        /// The session.
        session_id: String,
        /// The event's index.
        message_index: u32,
        /// The first index the keys can decrypt.
        first_known_index: u32,
    },
    /// The session belongs to another room than the event, or the decrypted plaintext names
    /// another room than the envelope or the session: an event replayed or forwarded from
    /// another room.
    RoomMismatch {
        /// The session.
        session_id: String,
        /// The room of the event's envelope (none in `/sync` timelines).
        event_room: Option<String>,
        /// The session's room, from the keys.
        session_room: Option<String>,
        /// The room named inside the decrypted plaintext, when it is the one that disagrees
        /// (none when the envelope and the session already disagree).
        plaintext_room: Option<String>,
    },
    /// The event's sender_key is not the session's.
    SenderKeyMismatch {
        /// The session.
        session_id: String,
    },
    /// The MAC failed.
    Mac {
        /// The session.
        session_id: String,
    },
    /// The signature failed.
    Signature {
        /// The session.
        session_id: String,
    },
    /// Not encrypted at all: an event whose `type` is not `m.room.encrypted` (state events,
    /// plain messages in a history dump). Readable as it is; `events decrypt` passes it through.
    NotEncrypted {
        /// Its `type` (at most 100 characters of it).
        event_type: String,
    },
    /// An `m.room.encrypted` event that is not megolm (e.g. Olm to-device), or one that names no
    /// algorithm.
    UnknownAlgorithm {
        /// The algorithm named, if any.
        algorithm: Option<String>,
    },
    /// Malformed.
    Format {
        /// What is wrong.
        why: String,
    },
}

/// Which [`Outcome`] an event had ([`Outcome::kind`]), as manifests and summaries name it (the
/// `result` of a serialized [`Outcome`]). Serialized as [`OutcomeKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OutcomeKind {
    /// `ok`: [`Outcome::Ok`].
    Ok,
    /// `unknown_session`: [`Outcome::UnknownSession`].
    UnknownSession,
    /// `too_late`: [`Outcome::TooLate`].
    TooLate,
    /// `room_mismatch`: [`Outcome::RoomMismatch`].
    RoomMismatch,
    /// `sender_key_mismatch`: [`Outcome::SenderKeyMismatch`].
    SenderKeyMismatch,
    /// `mac`: [`Outcome::Mac`].
    Mac,
    /// `signature`: [`Outcome::Signature`].
    Signature,
    /// `not_encrypted`: [`Outcome::NotEncrypted`].
    NotEncrypted,
    /// `unknown_algorithm`: [`Outcome::UnknownAlgorithm`].
    UnknownAlgorithm,
    /// `format`: [`Outcome::Format`].
    Format,
}

impl OutcomeKind {
    /// The short, stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::Ok => "ok",
            OutcomeKind::UnknownSession => "unknown_session",
            OutcomeKind::TooLate => "too_late",
            OutcomeKind::RoomMismatch => "room_mismatch",
            OutcomeKind::SenderKeyMismatch => "sender_key_mismatch",
            OutcomeKind::Mac => "mac",
            OutcomeKind::Signature => "signature",
            OutcomeKind::NotEncrypted => "not_encrypted",
            OutcomeKind::UnknownAlgorithm => "unknown_algorithm",
            OutcomeKind::Format => "format",
        }
    }
}

impl std::fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Outcome {
    /// Which outcome this is, as manifests and summaries name it.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Ok { .. } => OutcomeKind::Ok,
            Outcome::UnknownSession { .. } => OutcomeKind::UnknownSession,
            Outcome::TooLate { .. } => OutcomeKind::TooLate,
            Outcome::RoomMismatch { .. } => OutcomeKind::RoomMismatch,
            Outcome::SenderKeyMismatch { .. } => OutcomeKind::SenderKeyMismatch,
            Outcome::Mac { .. } => OutcomeKind::Mac,
            Outcome::Signature { .. } => OutcomeKind::Signature,
            Outcome::NotEncrypted { .. } => OutcomeKind::NotEncrypted,
            Outcome::UnknownAlgorithm { .. } => OutcomeKind::UnknownAlgorithm,
            Outcome::Format { .. } => OutcomeKind::Format,
        }
    }

    /// Whether the event can be read: decrypted, or never encrypted.
    pub fn is_readable(&self) -> bool {
        matches!(self, Outcome::Ok { .. } | Outcome::NotEncrypted { .. })
    }

    /// The message index, when the ciphertext could be parsed.
    pub fn message_index(&self) -> Option<u32> {
        match self {
            Outcome::Ok { message_index, .. }
            | Outcome::UnknownSession { message_index, .. }
            | Outcome::TooLate { message_index, .. } => Some(*message_index),
            _ => None,
        }
    }

    /// One sentence for a person.
    pub fn explain(&self) -> String {
        match self {
            Outcome::Ok { .. } => "decrypted".into(),
            Outcome::UnknownSession { session_id, .. } => format!(
                "no key for session {session_id}: look for it in another export or backup (it was created by the sender's device)"
            ),
            Outcome::TooLate { session_id, message_index, first_known_index } => format!(
                "session {session_id} is known only from message {first_known_index}, this is message {message_index}: an export or backup from an earlier device holds the earlier part"
            ),
            Outcome::RoomMismatch { session_id, event_room, session_room, plaintext_room: None } => format!(
                "session {session_id} belongs to room {}, but the event is in {}: a replayed or misfiled event",
                session_room.as_deref().unwrap_or("?"),
                event_room.as_deref().unwrap_or("?")
            ),
            Outcome::RoomMismatch { session_id, event_room, session_room, plaintext_room: Some(pr) } => {
                let mut rooms = Vec::new();
                if let Some(er) = event_room.as_deref().filter(|er| er != pr) {
                    rooms.push(format!("the event was delivered in {er}"));
                }
                if let Some(sr) = session_room.as_deref().filter(|sr| sr != pr) {
                    rooms.push(format!("session {session_id} belongs to room {sr}"));
                }
                format!(
                    "the decrypted event says it was sent in room {pr}, but {}: an event replayed or forwarded from another room",
                    if rooms.is_empty() { "another room was expected".to_owned() } else { rooms.join(" and ") }
                )
            }
            Outcome::SenderKeyMismatch { session_id } => format!(
                "the event's sender_key is not the one of session {session_id}'s creator: a forged or misattributed event"
            ),
            Outcome::Mac { session_id } => format!("MAC mismatch with session {session_id}: the ciphertext was changed or damaged"),
            Outcome::Signature { session_id } => format!(
                "signature mismatch with session {session_id}: the event was not sent by the session's owner, or was changed"
            ),
            Outcome::NotEncrypted { event_type } => {
                format!("not encrypted (a {event_type} event): readable as it is")
            }
            Outcome::UnknownAlgorithm { algorithm } => format!(
                "not a megolm room event (algorithm {}); Olm to-device messages need the device's own keys",
                algorithm.as_deref().unwrap_or("none")
            ),
            Outcome::Format { why } => format!("malformed event: {why}"),
        }
    }
}

/// What [`parse_events`] accepts, said after each error about the file as a whole.
const EXPECTED: &str = "expected a JSON array, a /messages response, or one event per line";

/// The largest event [`for_each_event`] reads by default: 1 MiB of JSON text, 16 times the
/// 64 KiB a homeserver accepts for an event. Memory per event read stays bounded by it, however
/// large the file or its lines.
pub const MAX_EVENT_BYTES: u64 = 1 << 20;

/// Why an events file is none of the shapes [`parse_events`] reads. No message quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventsError {
    /// An object whose `chunk` or `events` is not an array.
    #[error("its \"chunk\" (or \"events\") is not a list of events")]
    ChunkNotList,
    /// An object with neither `chunk`, `events` nor `content`.
    #[error("a JSON object without \"chunk\" or \"events\"; expected a list of events")]
    NoEventList,
    /// JSON, but neither an array nor an object.
    #[error("expected a JSON array of events")]
    NotArray,
    /// Not JSON, and not UTF-8 either.
    #[error("the events file is not UTF-8")]
    NotUtf8,
    /// Nothing but whitespace.
    #[error("the events file is empty; {EXPECTED}")]
    Empty,
    /// Not JSON as a whole, and its first line is not an event by itself.
    #[error("not JSON: {detail} at line {line}, column {column}; {EXPECTED}")]
    NotJson {
        /// What is wrong.
        detail: JsonDetail,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// JSON Lines (its first line is an event), but a later line is not JSON.
    #[error("line {line}: not JSON: {detail} at column {column}; {EXPECTED}")]
    LineNotJson {
        /// 1-based line in the file.
        line: usize,
        /// What is wrong.
        detail: JsonDetail,
        /// 1-based column in that line.
        column: usize,
    },
    /// One event is larger than the cap ([`MAX_EVENT_BYTES`]).
    #[error("event {event} is larger than {} (the most one event may take); an event a homeserver sends is at most 64 KiB: is this an events file?", size(*max))]
    EventTooLarge {
        /// Which event: 1 for the first.
        event: u64,
        /// The cap, in bytes.
        max: u64,
    },
    /// The file's top-level object holds more than the cap outside its list of events.
    #[error("the top-level object holds more than {} outside its list of events; {EXPECTED}", size(*max))]
    OuterTooLarge {
        /// The cap, in bytes.
        max: u64,
    },
    /// Reading the input failed.
    #[error("cannot read the events: {0}")]
    Read(String),
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// How many bytes of the input were read past the start of the value being built, shared by the
/// reader ([`Metered`]) and the visitors that say where a value starts.
struct Meter {
    max: u64,
    delivered: Cell<u64>,
    /// Where the value being built started (in delivered bytes); `None` while nothing is built
    /// (whitespace between events, skipped fields), which is not capped.
    mark: Cell<Option<u64>>,
    /// The event being built (1-based), or 0 for the top-level object around the list.
    event: Cell<u64>,
    /// The cap was passed: the read error is this one.
    over: Cell<bool>,
}

impl Meter {
    fn start(&self, event: u64) {
        self.event.set(event);
        self.mark.set(Some(self.delivered.get()));
    }

    fn stop(&self) {
        self.mark.set(None);
    }

    fn error(&self) -> EventsError {
        match self.event.get() {
            0 => EventsError::OuterTooLarge { max: self.max },
            event => EventsError::EventTooLarge {
                event,
                max: self.max,
            },
        }
    }
}

/// Counts what the buffered reader above it takes, and fails once the value being built has
/// taken more than the cap. The count moves a buffer at a time: the cap holds within one
/// buffer (64 KiB).
struct Metered<R> {
    inner: R,
    meter: Rc<Meter>,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let m = &self.meter;
        // serde_json still looks for the end of each enclosing value after an error: past the
        // cap, nothing more is read.
        if m.over.get() {
            return Err(io::Error::other("value larger than the cap"));
        }
        let n = self.inner.read(buf)?;
        m.delivered.set(m.delivered.get().saturating_add(n as u64));
        if let Some(mark) = m.mark.get() {
            if m.delivered.get().saturating_sub(mark) > m.max {
                m.over.set(true);
                return Err(io::Error::other("value larger than the cap"));
            }
        }
        Ok(n)
    }
}

/// Where each value read goes.
struct Sink<'a, T, F> {
    meter: &'a Meter,
    f: &'a mut F,
    count: u64,
    stopped: bool,
    _t: PhantomData<T>,
}

impl<T, F: FnMut(T) -> ControlFlow<()>> Sink<'_, T, F> {
    fn give<E: de::Error>(&mut self, v: T) -> Result<(), E> {
        self.count += 1;
        if (self.f)(v).is_break() {
            self.stopped = true;
            return Err(E::custom("stopped by the caller"));
        }
        Ok(())
    }
}

/// One element of the list of events: measured from its first byte.
struct Element<'s, 'a, T, F>(&'s mut Sink<'a, T, F>);

impl<'de, T: DeserializeOwned, F> DeserializeSeed<'de> for Element<'_, '_, T, F> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        self.0.meter.start(self.0.count + 1);
        let v = T::deserialize(d);
        self.0.meter.stop();
        v
    }
}

/// Hand every element of a sequence to the sink.
fn stream_seq<'de, A: SeqAccess<'de>, T: DeserializeOwned, F: FnMut(T) -> ControlFlow<()>>(
    sink: &mut Sink<'_, T, F>,
    mut seq: A,
) -> Result<(), A::Error> {
    sink.meter.stop();
    while let Some(v) = seq.next_element_seed(Element(sink))? {
        sink.give(v)?;
    }
    Ok(())
}

/// The first value of the file, as far as the shape goes.
enum Top {
    /// A list was streamed (an array, or the `chunk` / `events` of an object).
    List,
    /// An object without a list: one event, or not an events file.
    Object(Map<String, Value>),
    /// A number, string, boolean or null.
    Scalar,
}

/// serde_json's name for a number read with `arbitrary_precision` (a map of one entry).
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

struct TopVisitor<'s, 'a, T, F>(&'s mut Sink<'a, T, F>);

impl<'de, T: DeserializeOwned, F: FnMut(T) -> ControlFlow<()>> Visitor<'de>
    for TopVisitor<'_, '_, T, F>
{
    type Value = Top;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of events")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Top, A::Error> {
        stream_seq(self.0, seq)?;
        Ok(Top::List)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top, A::Error> {
        let sink = self.0;
        let mut rest = Map::new();
        let mut listed = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == NUMBER_TOKEN && rest.is_empty() && !listed {
                map.next_value::<IgnoredAny>()?;
                return Ok(Top::Scalar);
            }
            if listed {
                // Once the list is read, the rest of the object is not needed.
                map.next_value::<IgnoredAny>()?;
            } else if key == "chunk" || key == "events" {
                match map.next_value_seed(ListOrValue(&mut *sink))? {
                    Some(v) => {
                        rest.insert(key, v);
                    }
                    None => {
                        listed = true;
                        sink.meter.stop();
                    }
                }
            } else {
                let v: Value = map.next_value()?;
                rest.insert(key, v);
            }
        }
        Ok(if listed { Top::List } else { Top::Object(rest) })
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Top, E> {
        Ok(Top::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Top, E> {
        Ok(Top::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Top, E> {
        Ok(Top::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Top, E> {
        Ok(Top::Scalar)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Top, E> {
        Ok(Top::Scalar)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Top, E> {
        Ok(Top::Scalar)
    }
}

/// The value of `chunk` or `events`: streamed when it is an array (`None`), else kept.
struct ListOrValue<'s, 'a, T, F>(&'s mut Sink<'a, T, F>);

impl<'de, T: DeserializeOwned, F: FnMut(T) -> ControlFlow<()>> DeserializeSeed<'de>
    for ListOrValue<'_, '_, T, F>
{
    type Value = Option<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: DeserializeOwned, F: FnMut(T) -> ControlFlow<()>> Visitor<'de>
    for ListOrValue<'_, '_, T, F>
{
    type Value = Option<Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of events")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<Value>, A::Error> {
        stream_seq(self.0, seq)?;
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<Value>, A::Error> {
        Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<Value>, E> {
        Ok(Some(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<Value>, E> {
        Ok(Some(Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<Value>, E> {
        Ok(Some(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<Value>, E> {
        Ok(Some(Value::from(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<Value>, E> {
        Ok(Some(Value::String(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Option<Value>, E> {
        Ok(Some(Value::String(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<Value>, E> {
        Ok(Some(Value::Null))
    }
}

/// Leading whitespace, consumed before the parser starts: (lines, columns on the last line).
fn skip_whitespace(r: &mut impl BufRead) -> io::Result<(usize, usize)> {
    let (mut lines, mut column) = (0, 0);
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok((lines, column));
        }
        let n = buf
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .unwrap_or(buf.len());
        for &b in buf.iter().take(n) {
            if b == b'\n' {
                lines += 1;
                column = 0;
            } else {
                column += 1;
            }
        }
        let done = n < buf.len();
        r.consume(n);
        if done {
            return Ok((lines, column));
        }
    }
}

/// Walk the events of an events file, handing each to `f` as it is read: a JSON array of
/// events, an object with the list in `chunk` (a `/messages` response) or `events` (a `/sync`
/// timeline), one event object, or JSON Lines (one event per line). Returns how many events
/// were read; `f` stops the walk early with [`ControlFlow::Break`] (the count so far is then
/// returned).
///
/// Memory stays bounded whatever the input's size: one event at a time is built, and an event
/// (or the top-level object around the list) of more than `max_event_bytes` of text is an error
/// ([`MAX_EVENT_BYTES`] is the usual cap; the cap holds to within 64 KiB). Values are nested at
/// most 128 deep (serde_json's limit). `T` is what each event is read as: a
/// [`serde_json::Value`], a [`RawValue`](serde_json::value::RawValue), or [`SessionOf`].
///
/// # Errors
/// [`EventsError`]: why the input is none of those shapes, an event too large, a read error.
pub fn for_each_event<T, R, F>(input: R, max_event_bytes: u64, mut f: F) -> Result<u64, EventsError>
where
    T: DeserializeOwned,
    R: Read,
    F: FnMut(T) -> ControlFlow<()>,
{
    let meter = Rc::new(Meter {
        max: max_event_bytes,
        delivered: Cell::new(0),
        mark: Cell::new(Some(0)),
        event: Cell::new(0),
        over: Cell::new(false),
    });
    let mut reader = io::BufReader::with_capacity(
        64 * 1024,
        Metered {
            inner: Utf8Checked::new(input, "events"),
            meter: Rc::clone(&meter),
        },
    );
    let (lines, columns) = match skip_whitespace(&mut reader) {
        Ok(at) => at,
        Err(e) => return Err(read_error(&meter, e)),
    };
    if reader
        .fill_buf()
        .map_err(|e| read_error(&meter, e))?
        .is_empty()
    {
        return Err(EventsError::Empty);
    }
    // serde_json counts from where it starts: positions in errors are moved past the skipped
    // whitespace.
    let at = |e: &serde_json::Error| {
        if e.line() <= 1 {
            (lines + 1, columns + e.column())
        } else {
            (lines + e.line(), e.column())
        }
    };
    let mut sink = Sink {
        meter: &meter,
        f: &mut f,
        count: 0,
        stopped: false,
        _t: PhantomData,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let whole = |sink: &Sink<'_, T, F>, e: serde_json::Error| -> EventsError {
        if e.classify() == serde_json::error::Category::Io {
            return from_io(&meter, e);
        }
        let (line, column) = at(&e);
        let _ = sink;
        EventsError::NotJson {
            detail: json_detail(&e),
            line,
            column,
        }
    };
    let top = match de.deserialize_any(TopVisitor(&mut sink)) {
        Ok(top) => top,
        Err(_) if sink.stopped => return Ok(sink.count),
        Err(e) => return Err(whole(&sink, e)),
    };
    meter.stop();
    let trailing = de.end().err();
    match (top, trailing) {
        (Top::List, None) => Ok(sink.count),
        (Top::Object(o), None) => {
            if o.contains_key("content") {
                let v = T::deserialize(Value::Object(o)).map_err(|e| whole(&sink, e))?;
                let _ = sink.give::<serde_json::Error>(v);
                Ok(sink.count)
            } else if o.contains_key("chunk") || o.contains_key("events") {
                Err(EventsError::ChunkNotList)
            } else {
                Err(EventsError::NoEventList)
            }
        }
        (Top::Scalar, None) => Err(EventsError::NotArray),
        // More after one object: JSON Lines, one event per line.
        (Top::Object(o), Some(e)) if e.classify() == serde_json::error::Category::Syntax => {
            let v = T::deserialize(Value::Object(o)).map_err(|e| whole(&sink, e))?;
            if sink.give::<serde_json::Error>(v).is_err() {
                return Ok(sink.count);
            }
            let mut rest = de.into_iter::<T>();
            loop {
                meter.start(sink.count + 1);
                let Some(next) = rest.next() else {
                    return Ok(sink.count);
                };
                meter.stop();
                match next {
                    Ok(v) => {
                        if sink.give::<serde_json::Error>(v).is_err() {
                            return Ok(sink.count);
                        }
                    }
                    Err(e) if e.classify() == serde_json::error::Category::Io => {
                        return Err(from_io(&meter, e))
                    }
                    Err(e) => {
                        let (line, column) = at(&e);
                        return Err(EventsError::LineNotJson {
                            line,
                            detail: json_detail(&e),
                            column,
                        });
                    }
                }
            }
        }
        (_, Some(e)) => Err(whole(&sink, e)),
    }
}

/// The error behind a failed read: the cap, invalid UTF-8, or the input itself.
fn read_error(meter: &Meter, e: io::Error) -> EventsError {
    if meter.over.get() {
        return meter.error();
    }
    match crate::Error::from_io(e) {
        crate::Error::Json { .. } => EventsError::NotUtf8,
        other => EventsError::Read(other.to_string()),
    }
}

fn from_io(meter: &Meter, e: serde_json::Error) -> EventsError {
    read_error(meter, io::Error::from(e))
}

/// Events from a JSON array, a `/messages` response (`chunk`), a `/sync` timeline
/// (`events`), or JSON Lines, in memory: [`for_each_event`] with [`MAX_EVENT_BYTES`], collected.
///
/// # Errors
/// [`EventsError`]: why the input is none of those.
pub fn parse_events(text: &[u8]) -> Result<Vec<Value>, EventsError> {
    let mut out = Vec::new();
    for_each_event(text, MAX_EVENT_BYTES, |v: Value| {
        out.push(v);
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// An event read for its `content.session_id` alone; every other field is skipped (nested at most 128 deep, as
/// when it is read as a [`Value`]: a first pass finds what the second would). What
/// a first pass over an events file keeps ([`for_each_event`]), to know which keys to load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionOf(pub Option<String>);

impl<'de> Deserialize<'de> for SessionOf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// `in_content`: the visitor of `content`, which looks for `session_id`.
        struct V(bool);
        impl<'de> Visitor<'de> for V {
            type Value = SessionOf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an event")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SessionOf, A::Error> {
                let mut found = SessionOf(None);
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match (&*key, self.0) {
                        ("content", false) => found = map.next_value_seed(V(true))?,
                        ("session_id", true) => {
                            let v: Value = map.next_value()?;
                            found = SessionOf(v.as_str().map(str::to_owned));
                        }
                        // Most of an event's bytes, skipped fastest (the second pass reads it).
                        ("ciphertext", true) => {
                            map.next_value::<IgnoredAny>()?;
                        }
                        _ => {
                            map.next_value::<Skip>()?;
                        }
                    }
                }
                Ok(found)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SessionOf, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(SessionOf(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<SessionOf, E> {
                Ok(SessionOf(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<SessionOf, E> {
                Ok(SessionOf(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<SessionOf, E> {
                Ok(SessionOf(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<SessionOf, E> {
                Ok(SessionOf(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<SessionOf, E> {
                Ok(SessionOf(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<SessionOf, E> {
                Ok(SessionOf(None))
            }
        }
        impl<'de> DeserializeSeed<'de> for V {
            type Value = SessionOf;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<SessionOf, D::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_any(V(false))
    }
}

/// Any JSON value, read and dropped through serde_json's `deserialize_any`, so that its recursion
/// limit applies (serde's `IgnoredAny` skips without one).
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value::<Skip>()?;
        }
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
}

struct Prepared {
    position: usize,
    session_id: String,
    bytes: Vec<u8>,
    index: u32,
}

/// Decrypt every event; results in input order. One [`Decryptor`] batch: for events read one
/// batch at a time, keep a [`Decryptor`] across the batches.
pub fn decrypt_events(store: &KeyStore, events: &[Value]) -> Vec<Outcome> {
    Decryptor::new(store).decrypt(events)
}

/// Decrypts events a batch at a time, keeping each session's ratchets between batches.
///
/// Within a batch, events are grouped by session and taken in index order, so each session's
/// ratchet only moves forward, sessions in parallel. A ratchet cannot go back, so between batches
/// each session keeps a few copies ([`Rungs`]): where the last batch ended (for input in sending
/// order), and every 16th index of the stretch it last had to derive (for newest-first input,
/// `/messages?dir=b`, where each batch needs earlier indices than the one before). The result
/// is the same whichever copy a batch starts from, only the number of ratchet steps differs.
pub struct Decryptor<'a> {
    store: &'a KeyStore,
    ratchets: HashMap<String, Rungs>,
}

/// Sessions whose ratchets are kept between batches, at most (each keeps at most 17, about
/// 150 bytes each); past it they are dropped and made again from the keys when needed.
const KEPT_SESSIONS: usize = 4096;

/// Copies of one session's ratchet at several indices, in increasing order.
#[derive(Default)]
struct Rungs(Vec<Ratchet>);

impl Rungs {
    /// A ratchet at or before `target`, advanced to it: from the nearest copy in the same
    /// 256-message block, else made from the nearest copy (or the key) to the block's start and
    /// walked up 16 indices at a time, keeping a copy at each.
    fn at(&mut self, key: &SessionKey, target: u32) -> Option<Ratchet> {
        let below = self.0.iter().rev().find(|r| r.index() <= target);
        if let Some(r) = below.filter(|r| r.index() >> 8 == target >> 8) {
            let mut r = r.clone();
            r.advance_to(target).ok()?;
            return Some(r);
        }
        let mut r = below.cloned().unwrap_or_else(|| key.to_ratchet());
        let block = target & !0xff;
        if r.index() < block {
            r.advance_to(block).ok()?;
        }
        let mut rungs = Vec::with_capacity(17);
        while r.index().saturating_add(16) <= target {
            rungs.push(r.clone());
            r.advance_to(r.index() + 16).ok()?;
        }
        rungs.push(r.clone());
        r.advance_to(target).ok()?;
        self.0 = rungs;
        Some(r)
    }

    /// Keep `r` (where a batch ended) among the copies.
    fn keep(&mut self, r: Ratchet) {
        let at = self.0.partition_point(|x| x.index() <= r.index());
        self.0.insert(at, r);
        if self.0.len() > 17 {
            self.0.remove(0);
        }
    }
}

impl<'a> Decryptor<'a> {
    /// A decryptor over the sessions of `store`.
    pub fn new(store: &'a KeyStore) -> Self {
        Decryptor {
            store,
            ratchets: HashMap::new(),
        }
    }

    /// This decryptor's kept ratchets, over another store (a batch's keys when the keys are read
    /// a batch at a time). A ratchet is kept by session id: `store` must hold the same key as
    /// the store before for each session both hold (the same key file's lowest-index copy), or
    /// a kept ratchet of another copy would be used.
    pub fn rebind<'b>(self, store: &'b KeyStore) -> Decryptor<'b> {
        Decryptor {
            store,
            ratchets: self.ratchets,
        }
    }

    /// Decrypt one batch of events; results in the batch's order.
    pub fn decrypt(&mut self, events: &[Value]) -> Vec<Outcome> {
        let store = self.store;
        let mut results: Vec<Option<Outcome>> = vec![None; events.len()];
        let prechecked: Vec<Result<Prepared, Outcome>> = events
            .par_iter()
            .enumerate()
            .map(|(position, ev)| precheck(store, ev).map(|p| Prepared { position, ..p }))
            .collect();
        let mut by_session: HashMap<String, Vec<Prepared>> = HashMap::new();
        for (position, p) in prechecked.into_iter().enumerate() {
            match p {
                Ok(p) => by_session.entry(p.session_id.clone()).or_default().push(p),
                Err(o) => {
                    if let Some(slot) = results.get_mut(position) {
                        *slot = Some(o);
                    }
                }
            }
        }
        let work: Vec<(String, Vec<Prepared>, Rungs)> = by_session
            .into_iter()
            .map(|(sid, list)| {
                let kept = self.ratchets.remove(&sid).unwrap_or_default();
                (sid, list, kept)
            })
            .collect();
        /// One session's outcomes (by position in the batch), and its ratchets to keep.
        type Done = (Vec<(usize, Outcome)>, Option<(String, Rungs)>);
        let done: Vec<Done> = work
            .into_par_iter()
            .map(|(sid, mut list, mut kept)| {
                // In index order one ratchet walks forward through the session's events.
                list.sort_by_key(|p| p.index);
                let Some(known) = store.sessions.get(&sid) else {
                    let out = list
                        .into_iter()
                        .map(|p| {
                            let o = Outcome::UnknownSession {
                                session_id: sid.clone(),
                                message_index: p.index,
                            };
                            (p.position, o)
                        })
                        .collect();
                    return (out, None);
                };
                // precheck refused indices before the key's first one: the ratchet exists.
                let first = list.first().map_or(0, |p| p.index);
                let mut ratchet = kept
                    .at(&known.key, first)
                    .unwrap_or_else(|| known.key.to_ratchet());
                let out = list
                    .into_iter()
                    .map(|p| {
                        let o = decrypt_one(events.get(p.position), known, &mut ratchet, &p);
                        (p.position, o)
                    })
                    .collect();
                kept.keep(ratchet);
                (out, Some((sid, kept)))
            })
            .collect();
        if self.ratchets.len() > KEPT_SESSIONS {
            self.ratchets.clear();
        }
        for (outcomes, kept) in done {
            for (pos, o) in outcomes {
                if let Some(slot) = results.get_mut(pos) {
                    *slot = Some(o);
                }
            }
            if let Some((sid, r)) = kept {
                self.ratchets.insert(sid, r);
            }
        }
        results
            .into_iter()
            .map(|o| {
                o.unwrap_or(Outcome::Format {
                    why: "internal: not processed".into(),
                })
            })
            .collect()
    }
}

/// Everything that can be checked before the ratchet: algorithm, shape, session, room, sender.
fn precheck(store: &KeyStore, ev: &Value) -> Result<Prepared, Outcome> {
    let fmt = |why: &str| Outcome::Format {
        why: why.to_owned(),
    };
    if let Some(t) = ev.get("type").and_then(Value::as_str) {
        if t != ENCRYPTED_TYPE {
            return Err(Outcome::NotEncrypted {
                event_type: t.chars().take(100).collect(),
            });
        }
    }
    let content = ev
        .get("content")
        .and_then(Value::as_object)
        .ok_or_else(|| fmt("no content object"))?;
    let algorithm = content.get("algorithm").and_then(Value::as_str);
    if algorithm != Some(MEGOLM) {
        return Err(Outcome::UnknownAlgorithm {
            algorithm: algorithm.map(str::to_owned),
        });
    }
    let ct = content
        .get("ciphertext")
        .and_then(Value::as_str)
        .ok_or_else(|| fmt("content.ciphertext is missing or not a string"))?;
    let sid = content
        .get("session_id")
        .and_then(Value::as_str)
        .ok_or_else(|| fmt("content.session_id is missing or not a string"))?;
    let bytes = decode_lenient(ct).map_err(|_| fmt("content.ciphertext is not base64"))?;
    let index = Message::parse(&bytes)
        .map_err(|e| Outcome::Format { why: e.to_string() })?
        .index;
    let Some(known) = store.sessions.get(sid) else {
        return Err(Outcome::UnknownSession {
            session_id: sid.to_owned(),
            message_index: index,
        });
    };
    let event_room = ev.get("room_id").and_then(Value::as_str);
    if let (Some(er), Some(sr)) = (event_room, known.room_id.as_deref()) {
        if er != sr {
            return Err(Outcome::RoomMismatch {
                session_id: sid.to_owned(),
                event_room: Some(er.to_owned()),
                session_room: Some(sr.to_owned()),
                plaintext_room: None,
            });
        }
    }
    if let (Some(ek), Some(sk)) = (
        content.get("sender_key").and_then(Value::as_str),
        known.sender_key.as_deref(),
    ) {
        if ek != sk {
            return Err(Outcome::SenderKeyMismatch {
                session_id: sid.to_owned(),
            });
        }
    }
    if index < known.key.first_index() {
        return Err(Outcome::TooLate {
            session_id: sid.to_owned(),
            message_index: index,
            first_known_index: known.key.first_index(),
        });
    }
    Ok(Prepared {
        position: 0,
        session_id: sid.to_owned(),
        bytes,
        index,
    })
}

fn decrypt_one(
    ev: Option<&Value>,
    known: &KnownSession,
    ratchet: &mut Ratchet,
    p: &Prepared,
) -> Outcome {
    let sid = || p.session_id.clone();
    if ratchet.advance_to(p.index).is_err() {
        return Outcome::TooLate {
            session_id: sid(),
            message_index: p.index,
            first_known_index: known.key.first_index(),
        };
    }
    let msg = match Message::parse(&p.bytes) {
        Ok(m) => m,
        Err(e) => return Outcome::Format { why: e.to_string() },
    };
    let plain = match msg.decrypt_verified(ratchet, known.key.verifying_key()) {
        Ok(p) => p,
        Err(MessageError::Mac) => return Outcome::Mac { session_id: sid() },
        Err(MessageError::Signature) => return Outcome::Signature { session_id: sid() },
        Err(e) => return Outcome::Format { why: e.to_string() },
    };
    let plaintext: Value = match serde_json::from_slice(&plain) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return Outcome::Format {
                why: "the decrypted payload is not a JSON object".into(),
            }
        }
    };
    // The plaintext names its room: an event replayed into another room is caught here, against
    // the envelope's room and, since /sync events carry none, against the session's room too.
    let event_room = ev.and_then(|e| e.get("room_id")).and_then(Value::as_str);
    let session_room = known.room_id.as_deref();
    if let Some(pr) = plaintext.get("room_id").and_then(Value::as_str) {
        let differs = |room: Option<&str>| room.is_some_and(|r| r != pr);
        if differs(event_room) || differs(session_room) {
            return Outcome::RoomMismatch {
                session_id: sid(),
                event_room: event_room.map(str::to_owned),
                session_room: session_room.map(str::to_owned),
                plaintext_room: Some(pr.to_owned()),
            };
        }
    }
    Outcome::Ok {
        message_index: p.index,
        plaintext,
    }
}

/// How far the sender of a decrypted event is known, offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SenderTrust {
    /// Always `false` here: the envelope's `sender` is only claimed. It would be verified if the
    /// session's creating device (`sender_key`) were a device of that user, which needs the
    /// user's signed device list (`/keys/query`).
    pub verified: bool,
    /// The curve25519 key of the device that created the session, from the keys (to compare with
    /// the sender's devices); `None` when the keys do not say.
    pub sender_key: Option<String>,
    /// One sentence for a person.
    pub why: String,
}

impl SenderTrust {
    /// The trust in the sender of an event decrypted with the session `session_id` of `store`.
    pub fn of(store: &KeyStore, session_id: &str) -> Self {
        let sender_key = store
            .sessions
            .get(session_id)
            .and_then(|k| k.sender_key.clone());
        let why = match &sender_key {
            Some(k) => format!(
                "sender is claimed by the event, not verified: the session was created by the device with curve25519 key {k}; check that it is a device of the sender (/keys/query)"
            ),
            None => "sender is claimed by the event, not verified: the keys do not say which device created the session".to_owned(),
        };
        SenderTrust {
            verified: false,
            sender_key,
            why,
        }
    }
}

/// The decrypted form of an event: its envelope (`event_id`, `sender`, `origin_server_ts`,
/// `room_id`, `unsigned`, as they were) with the cleartext `type` and `content`, and
/// `mxkeys_sender`: the [`SenderTrust`] of its session in `store` (`{"verified": false,
/// "sender_key": ..., "why": ...}`), since `sender` is only what the envelope claims.
pub fn decrypted_event(store: &KeyStore, original: &Value, plaintext: &Value) -> Value {
    let mut out = Map::new();
    for k in [
        "event_id",
        "sender",
        "origin_server_ts",
        "room_id",
        "unsigned",
    ] {
        if let Some(v) = original.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    out.insert(
        "type".into(),
        plaintext.get("type").cloned().unwrap_or(Value::Null),
    );
    out.insert(
        "content".into(),
        plaintext.get("content").cloned().unwrap_or(Value::Null),
    );
    let session_id = original
        .get("content")
        .and_then(|c| c.get("session_id"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    out.insert(
        "mxkeys_sender".into(),
        serde_json::to_value(SenderTrust::of(store, session_id)).unwrap_or(Value::Null),
    );
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_kinds_serialize_as_their_names() {
        for (k, name) in [
            (OutcomeKind::Ok, "ok"),
            (OutcomeKind::UnknownSession, "unknown_session"),
            (OutcomeKind::TooLate, "too_late"),
            (OutcomeKind::RoomMismatch, "room_mismatch"),
            (OutcomeKind::SenderKeyMismatch, "sender_key_mismatch"),
            (OutcomeKind::Mac, "mac"),
            (OutcomeKind::Signature, "signature"),
            (OutcomeKind::NotEncrypted, "not_encrypted"),
            (OutcomeKind::UnknownAlgorithm, "unknown_algorithm"),
            (OutcomeKind::Format, "format"),
        ] {
            assert_eq!((k.as_str(), k.to_string().as_str()), (name, name));
            assert_eq!(serde_json::to_value(k).unwrap(), name);
        }
    }

    #[test]
    fn parse_events_messages_are_unchanged() {
        const E: &str = "expected a JSON array, a /messages response, or one event per line";
        let cases: Vec<(&[u8], String)> = vec![
            (
                br#"{"chunk": 5}"#,
                "its \"chunk\" (or \"events\") is not a list of events".into(),
            ),
            (
                br#"{"x": 1}"#,
                "a JSON object without \"chunk\" or \"events\"; expected a list of events".into(),
            ),
            (b"5", "expected a JSON array of events".into()),
            (b"\xff\xfe", "the events file is not UTF-8".into()),
            (b" \n ", format!("the events file is empty; {E}")),
            (
                b"[1,\n",
                format!("not JSON: it ends in the middle at line 2, column 0; {E}"),
            ),
            (
                b"{\"content\": {}}\n\n{\"content\": ",
                format!("line 3: not JSON: it ends in the middle at column 12; {E}"),
            ),
        ];
        for (text, want) in cases {
            let e = parse_events(text).unwrap_err();
            assert_eq!(e.to_string(), want, "{e:?}");
        }
        assert_eq!(
            EventsError::LineNotJson {
                line: 4,
                detail: JsonDetail::Syntax,
                column: 2
            }
            .to_string(),
            format!("line 4: not JSON: syntax error at column 2; {E}")
        );
    }

    #[test]
    fn events_never_encrypted_are_readable_and_olm_ones_are_not() {
        let (store, _) = vodozemac();
        let events = vec![
            // a state event whose content names megolm: it configures encryption, it is not
            // encrypted
            serde_json::json!({"type": "m.room.encryption", "event_id": "$a", "state_key": "",
                "content": {"algorithm": MEGOLM}}),
            serde_json::json!({"type": "m.room.message", "event_id": "$b",
                "content": {"msgtype": "m.text", "body": "hi"}}),
            serde_json::json!({"type": "m.room.encrypted", "event_id": "$c",
                "content": {"algorithm": "m.olm.v1.curve25519-aes-sha2", "ciphertext": {}}}),
            serde_json::json!({"type": "m.room.encrypted", "event_id": "$d", "content": {}}),
        ];
        let got: Vec<(OutcomeKind, bool)> = decrypt_events(&store, &events)
            .iter()
            .map(|o| (o.kind(), o.is_readable()))
            .collect();
        assert_eq!(
            got,
            [
                (OutcomeKind::NotEncrypted, true),
                (OutcomeKind::NotEncrypted, true),
                (OutcomeKind::UnknownAlgorithm, false),
                (OutcomeKind::UnknownAlgorithm, false),
            ]
        );
        let long = serde_json::json!({"type": "x".repeat(5000), "content": {}});
        match &decrypt_events(&store, &[long])[0] {
            Outcome::NotEncrypted { event_type } => assert_eq!(event_type.len(), 100),
            other => panic!("{other:?}"),
        }
    }

    fn vodozemac() -> (KeyStore, Vec<Value>) {
        let keys: Vec<SessionRecord> =
            serde_json::from_str(include_str!("../test-vectors/events/vodozemac-keys.json"))
                .unwrap();
        let events = parse_events(include_bytes!(
            "../test-vectors/events/vodozemac-events.json"
        ))
        .unwrap();
        (KeyStore::from_sessions(&keys), events)
    }

    #[test]
    fn key_entries_round_trip_through_their_compact_form() {
        let keys: Vec<SessionRecord> =
            serde_json::from_str(include_str!("../test-vectors/events/vodozemac-keys.json"))
                .unwrap();
        let events = parse_events(include_bytes!(
            "../test-vectors/events/vodozemac-events.json"
        ))
        .unwrap();
        let mut store = KeyStore::default();
        for (i, k) in keys.iter().enumerate() {
            let mut e = KeyEntry::from_record(k).unwrap();
            if i == 0 {
                e.room_id = None; // an absent room survives too
            }
            let bytes = e.to_bytes();
            let back = KeyEntry::from_bytes(&bytes).unwrap();
            assert_eq!(back.session_id, e.session_id);
            assert_eq!(back.room_id, e.room_id);
            assert_eq!(back.sender_key, e.sender_key);
            assert_eq!(back.key.first_index(), e.key.first_index());
            assert_eq!(*back.key.to_export_base64(), *e.key.to_export_base64());
            let mut longer = bytes.to_vec();
            longer.push(0);
            assert!(KeyEntry::from_bytes(&longer).is_none(), "trailing bytes");
            assert!(
                KeyEntry::from_bytes(&bytes[..bytes.len() - 1]).is_none(),
                "cut"
            );
            if i == 0 {
                e.room_id = k.room_id.clone();
            }
            store.insert_entry(KeyEntry::from_bytes(&e.to_bytes()).unwrap());
        }
        // A store of entries read back decrypts as the store of the records does.
        let (direct, _) = vodozemac();
        assert_eq!(
            decrypt_events(&store, &events),
            decrypt_events(&direct, &events)
        );
        let mut bad = KeyStore::default();
        bad.insert(&serde_json::from_str(r#"{"session_id": "x", "session_key": "AQ"}"#).unwrap());
        assert_eq!(bad.rejected_count(), 1);
        assert_eq!(bad.rejected[0].0, "x");
    }

    /// The event without its envelope `room_id`, as /sync delivers it.
    fn from_sync(ev: &Value) -> Value {
        let mut ev = ev.clone();
        ev.as_object_mut().unwrap().remove("room_id");
        ev
    }

    const CASES: &str = "!cases:example.org";
    const ELSEWHERE: &str = "!elsewhere:example.org";

    /// The `!cases` event whose envelope and session agree but whose plaintext names `!elsewhere`.
    fn replayed(store: &KeyStore, events: &[Value]) -> Value {
        let outcomes = decrypt_events(store, events);
        let (ev, _) = events
            .iter()
            .zip(&outcomes)
            .find(|(ev, o)| ev["room_id"] == CASES && matches!(o, Outcome::RoomMismatch { .. }))
            .unwrap();
        ev.clone()
    }

    #[test]
    fn plaintext_room_is_checked_against_the_session_without_envelope_room() {
        let (store, events) = vodozemac();
        let ev = replayed(&store, &events);
        let with_envelope = decrypt_events(&store, std::slice::from_ref(&ev));
        assert_eq!(
            with_envelope,
            [Outcome::RoomMismatch {
                session_id: ev["content"]["session_id"].as_str().unwrap().into(),
                event_room: Some(CASES.into()),
                session_room: Some(CASES.into()),
                plaintext_room: Some(ELSEWHERE.into()),
            }]
        );
        let sync = decrypt_events(&store, &[from_sync(&ev)]);
        let [o @ Outcome::RoomMismatch {
            event_room: None,
            session_room: Some(sr),
            plaintext_room: Some(pr),
            ..
        }] = sync.as_slice()
        else {
            panic!("{sync:?}");
        };
        assert_eq!((sr.as_str(), pr.as_str()), (CASES, ELSEWHERE));
        assert_eq!(o.kind(), OutcomeKind::RoomMismatch);
        let why = o.explain();
        assert!(
            why.contains(&format!("says it was sent in room {ELSEWHERE}")),
            "{why}"
        );
        assert!(why.contains(&format!("belongs to room {CASES}")), "{why}");
        assert!(
            why.contains("replayed or forwarded from another room"),
            "{why}"
        );
    }

    #[test]
    fn sync_events_of_the_right_room_still_decrypt() {
        let (store, events) = vodozemac();
        let sync: Vec<Value> = events.iter().map(from_sync).collect();
        let before = decrypt_events(&store, &events);
        let after = decrypt_events(&store, &sync);
        for (b, a) in before.iter().zip(&after) {
            match (b, a) {
                // Without an envelope room, a plaintext room that contradicts only the envelope
                // (the envelope-mismatch event) is fine; every other verdict is the same.
                (
                    Outcome::RoomMismatch {
                        plaintext_room: None,
                        ..
                    },
                    Outcome::Ok { .. },
                ) => {}
                (Outcome::RoomMismatch { .. }, Outcome::RoomMismatch { .. }) => {}
                _ => assert_eq!(b, a),
            }
        }
        let ok = |v: &[Outcome]| v.iter().filter(|o| o.kind() == OutcomeKind::Ok).count();
        assert_eq!(ok(&after), ok(&before) + 1);
        assert!(ok(&before) >= 20);
    }

    /// The first event that decrypts, and its plaintext.
    fn first_ok(store: &KeyStore, events: &[Value]) -> (Value, Value) {
        let outcomes = decrypt_events(store, events);
        events
            .iter()
            .zip(outcomes)
            .find_map(|(ev, o)| match o {
                Outcome::Ok { plaintext, .. } => Some((ev.clone(), plaintext)),
                _ => None,
            })
            .unwrap()
    }

    /// Events are serde_json Values, unlike sessions (`session::SessionRecord`): serde_json's
    /// `arbitrary_precision` (Cargo.toml) is what reads `1e400` at all and keeps `0.1000` and
    /// integers above 64 bits as they were written (#25).
    #[test]
    fn numbers_in_events_keep_their_text() {
        let (store, events) = vodozemac();
        let (ev, plaintext) = first_ok(&store, &events);
        assert!(ev.get("unsigned").is_none());
        let mut text = serde_json::to_string(&ev).unwrap();
        assert_eq!(text.pop(), Some('}'));
        text.push_str(
            r#","unsigned":{"age":0.1000,"big":123456789012345678901234567890,"far":1e400}}"#,
        );
        let parsed = parse_events(format!("[{text}]").as_bytes()).unwrap();
        let shown =
            serde_json::to_string(&decrypted_event(&store, &parsed[0], &plaintext)).unwrap();
        assert!(
            shown.contains(
                r#""unsigned":{"age":0.1000,"big":123456789012345678901234567890,"far":1e+400}"#
            ),
            "{shown}"
        );
    }

    /// The decrypted event is its envelope, then the sender's `type` and `content` with their
    /// keys in the order the sender wrote them, not sorted: serde_json's `preserve_order`
    /// (Cargo.toml), which the CLI's `json!` outputs need too (#25).
    #[test]
    fn decrypted_events_keep_the_senders_key_order() {
        let (store, events) = vodozemac();
        let (ev, plaintext) = first_ok(&store, &events);
        let shown = serde_json::to_string(&decrypted_event(&store, &ev, &plaintext)).unwrap();
        let back: Value = serde_json::from_str(&shown).unwrap();
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            keys(&back),
            [
                "event_id",
                "sender",
                "origin_server_ts",
                "room_id",
                "type",
                "content",
                "mxkeys_sender"
            ]
        );
        assert_eq!(keys(&back["content"]), ["msgtype", "body"]);
        assert!(
            shown.contains(r#""content":{"msgtype":"m.text","body":"#),
            "{shown}"
        );
    }

    #[test]
    fn the_sender_is_marked_claimed_with_the_session_device() {
        let (store, events) = vodozemac();
        let outcomes = decrypt_events(&store, &events);
        let (ev, Outcome::Ok { plaintext, .. }) = events
            .iter()
            .zip(&outcomes)
            .find(|(_, o)| o.kind() == OutcomeKind::Ok)
            .unwrap()
        else {
            unreachable!()
        };
        let sid = ev["content"]["session_id"].as_str().unwrap();
        let shown = decrypted_event(&store, ev, plaintext);
        // The envelope fields are as they were.
        for k in ["event_id", "sender", "origin_server_ts", "room_id"] {
            assert_eq!(shown[k], ev[k], "{k}");
        }
        assert_eq!(shown["type"], plaintext["type"]);
        assert_eq!(shown["content"], plaintext["content"]);
        let trust = &shown["mxkeys_sender"];
        assert_eq!(trust["verified"], false);
        let key = store.sessions[sid].sender_key.clone().unwrap();
        assert_eq!(trust["sender_key"], key.as_str());
        let why = trust["why"].as_str().unwrap();
        assert!(why.contains("claimed") && why.contains(&key), "{why}");

        // Keys that do not say which device made the session: still claimed, and says so.
        let unknown = SenderTrust::of(&KeyStore::default(), sid);
        assert!(!unknown.verified);
        assert_eq!(unknown.sender_key, None);
        assert!(unknown.why.contains("do not say"), "{}", unknown.why);
    }
}
