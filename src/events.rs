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

use std::collections::HashMap;

use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::encoding::decode_lenient;
use crate::megolm::{Message, MessageError, Ratchet, SessionKey};
use crate::session::{json_detail, JsonDetail, SessionRecord};

/// The megolm room-message algorithm (defined once, in [`crate::megolm`]).
pub use crate::megolm::ALGORITHM as MEGOLM;

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

/// Sessions by id; of several copies of one session the one with the lowest first index is kept.
#[derive(Debug, Default)]
pub struct KeyStore {
    sessions: HashMap<String, KnownSession>,
    /// Sessions in the input that could not be used (bad key, no id), with why.
    pub rejected: Vec<(String, String)>,
}

impl KeyStore {
    /// Build from export-format sessions.
    pub fn from_sessions(sessions: &[SessionRecord]) -> Self {
        let mut store = KeyStore::default();
        for s in sessions {
            let id = s.session_id.clone().unwrap_or_default();
            if s.algorithm.as_deref().is_some_and(|a| a != MEGOLM) {
                store
                    .rejected
                    .push((id, "not an m.megolm.v1.aes-sha2 session".into()));
                continue;
            }
            let key = match s
                .session_key
                .as_ref()
                .map(|k| SessionKey::from_base64(k.expose()))
            {
                Some(Ok(k)) => k,
                Some(Err(e)) => {
                    store.rejected.push((id, e.to_string()));
                    continue;
                }
                None => {
                    store.rejected.push((id, "no session_key".into()));
                    continue;
                }
            };
            let sid = key.session_id();
            if !id.is_empty() && id != sid {
                store
                    .rejected
                    .push((id, format!("session_key belongs to session {sid}")));
                continue;
            }
            let new = KnownSession {
                room_id: s.room_id.clone(),
                sender_key: s.sender_key.clone(),
                key,
            };
            match store.sessions.get(&sid) {
                Some(old) if old.key.first_index() <= new.key.first_index() => {}
                _ => {
                    store.sessions.insert(sid, new);
                }
            }
        }
        store
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
    /// Not a megolm event (e.g. Olm to-device, or not encrypted at all).
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
            Outcome::UnknownAlgorithm { .. } => OutcomeKind::UnknownAlgorithm,
            Outcome::Format { .. } => OutcomeKind::Format,
        }
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
}

/// Events from a JSON array, a `/messages` response (`chunk`), a `/sync` timeline
/// (`events`), or JSON Lines.
///
/// # Errors
/// [`EventsError`]: why the input is none of those.
pub fn parse_events(text: &[u8]) -> Result<Vec<Value>, EventsError> {
    match serde_json::from_slice::<Value>(text) {
        Ok(Value::Array(a)) => Ok(a),
        Ok(Value::Object(mut o)) => {
            let list = ["chunk", "events"]
                .into_iter()
                .find(|k| o.get(*k).is_some_and(Value::is_array));
            if let Some(Value::Array(a)) = list.and_then(|k| o.remove(k)) {
                Ok(a)
            } else if o.contains_key("content") {
                Ok(vec![Value::Object(o)])
            } else if o.contains_key("chunk") || o.contains_key("events") {
                Err(EventsError::ChunkNotList)
            } else {
                Err(EventsError::NoEventList)
            }
        }
        Ok(_) => Err(EventsError::NotArray),
        Err(whole) => {
            let text = std::str::from_utf8(text).map_err(|_| EventsError::NotUtf8)?;
            if text.trim().is_empty() {
                return Err(EventsError::Empty);
            }
            // JSON Lines when the first line is an event by itself; otherwise the file is one
            // document (a pretty-printed array, say) and the whole-file error is the one to give.
            let mut lines = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty());
            let Some(first) = lines
                .next()
                .and_then(|(_, l)| serde_json::from_str::<Value>(l).ok())
                .filter(Value::is_object)
            else {
                return Err(EventsError::NotJson {
                    detail: json_detail(&whole),
                    line: whole.line(),
                    column: whole.column(),
                });
            };
            std::iter::once(Ok(first))
                .chain(lines.map(|(i, l)| {
                    serde_json::from_str(l).map_err(|e| EventsError::LineNotJson {
                        line: i + 1,
                        detail: json_detail(&e),
                        column: e.column(),
                    })
                }))
                .collect()
        }
    }
}

struct Prepared {
    position: usize,
    session_id: String,
    bytes: Vec<u8>,
    index: u32,
}

/// Decrypt every event; results in input order.
pub fn decrypt_events(store: &KeyStore, events: &[Value]) -> Vec<Outcome> {
    let mut results: Vec<Option<Outcome>> = vec![None; events.len()];
    let mut by_session: HashMap<String, Vec<Prepared>> = HashMap::new();
    for (position, ev) in events.iter().enumerate() {
        match precheck(store, ev) {
            Ok(p) => by_session
                .entry(p.session_id.clone())
                .or_default()
                .push(Prepared { position, ..p }),
            Err(o) => {
                if let Some(slot) = results.get_mut(position) {
                    *slot = Some(o);
                }
            }
        }
    }
    let decrypted: Vec<(usize, Outcome)> = by_session
        .into_par_iter()
        .flat_map_iter(|(sid, mut list)| {
            // In index order one ratchet walks forward through the session's events and never
            // has to start again from the key (advance_to cannot go back).
            list.sort_by_key(|p| p.index);
            let known = store.sessions.get(&sid);
            let mut ratchet: Option<Ratchet> = known.map(|k| k.key.to_ratchet());
            list.into_iter()
                .map(|p| {
                    let outcome = match (known, ratchet.as_mut()) {
                        (Some(k), Some(r)) => decrypt_one(events.get(p.position), k, r, &p),
                        _ => Outcome::UnknownSession {
                            session_id: sid.clone(),
                            message_index: p.index,
                        },
                    };
                    (p.position, outcome)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    for (pos, o) in decrypted {
        if let Some(slot) = results.get_mut(pos) {
            *slot = Some(o);
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

/// Everything that can be checked before the ratchet: algorithm, shape, session, room, sender.
fn precheck(store: &KeyStore, ev: &Value) -> Result<Prepared, Outcome> {
    let fmt = |why: &str| Outcome::Format {
        why: why.to_owned(),
    };
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
    let plain = match msg.decrypt(ratchet, known.key.signing_key()) {
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
