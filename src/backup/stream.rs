//! Backups of any size, one session at a time.
//!
//! A GET `/room_keys/keys` body of a million sessions is about 800 MB of JSON. [`for_each_entry`]
//! walks it as it is read, handing out one [`Entry`] at a time, so memory does not grow with
//! the body: each `KeyBackupData` is parsed on its own, capped at [`ENTRY_LIMIT`] bytes (a real
//! one is under 1 KB; a larger one is refused before it is held), and the rest of the document
//! is skipped without being kept. [`decrypt_stream`] reads on one thread while the sessions of
//! the previous batch are decrypted on every core, and hands the outcomes out in the body's
//! order.
//!
//! The smaller shapes (one room's `{"sessions": ...}` needs a room id from the caller; a
//! `KeyBackupData` or a bare `session_data` is one session) are told apart by their top-level
//! keys, as [`super::shape`] does: `rooms` first, then `sessions`; a document that has neither
//! is returned whole ([`Streamed::Lone`]) for [`super::lone_session_data`].

use std::io::Read;
use std::ops::ControlFlow;
use std::sync::mpsc;

use serde::de::{self, DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::{
    decrypt_entries_with, BackupError, BackupMacKey, Entry, EntryOutcome, Msc4048Policy, Shape,
};
use crate::capped::{CapHandle, Capped};
use crate::error::Error;
use crate::recovery_key::RecoveryKey;
use crate::session::json_detail;

/// The most bytes one session's entry (its `KeyBackupData`, with the ids before it) may take.
/// Real entries are under 1 KB; 16 MiB leaves room for any extension while keeping a hostile
/// body's single value from being held whole.
pub const ENTRY_LIMIT: u64 = 16 * 1024 * 1024;

/// Sessions decrypted together, on all cores, while the next batch is read.
const BATCH: usize = 1024;

/// What a streamed backup document was.
#[derive(Debug)]
pub enum Streamed {
    /// A [`Shape::Keys`] or [`Shape::Room`] body; `count` entries were handed out (all of
    /// them, unless the callback stopped early: then `stopped` is true).
    Entries {
        /// Which of the two.
        shape: Shape,
        /// Entries handed to the callback.
        count: u64,
        /// The callback asked to stop before the end.
        stopped: bool,
    },
    /// A document holding one session ([`Shape::KeyBackupData`] or [`Shape::SessionData`], or
    /// something that is no backup at all): the whole (small) document, for
    /// [`super::shape`] and [`super::lone_session_data`].
    Lone(Value),
}

/// The `visit_*` methods of everything that is not an object, each failing with the
/// visitor's own `refuse` error.
macro_rules! only_objects {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(self.refuse())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(self.refuse())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(self.refuse())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(self.refuse())
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(self.refuse())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(self.refuse())
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(self.refuse())
        }
    };
}

/// Why the walk ended early, carried out of serde's visitor.
enum Halt {
    /// The callback said [`ControlFlow::Break`].
    Stopped,
    /// The callback's or the document's own error.
    Failed(Error),
}

struct Walk<'a, F> {
    f: &'a mut F,
    cap: &'a CapHandle,
    room_id: Option<&'a str>,
    count: u64,
    halt: Option<Halt>,
    shape: Option<Shape>,
}

impl<F> Walk<'_, F>
where
    F: FnMut(Entry) -> Result<ControlFlow<()>, Error>,
{
    fn fail<E: de::Error>(&mut self, e: impl Into<Error>) -> E {
        self.halt = Some(Halt::Failed(e.into()));
        E::custom("stopped")
    }

    fn give<E: de::Error>(&mut self, e: Entry) -> Result<(), E> {
        match (self.f)(e) {
            Ok(ControlFlow::Continue(())) => {
                self.count += 1;
                Ok(())
            }
            Ok(ControlFlow::Break(())) => {
                self.count += 1;
                self.halt = Some(Halt::Stopped);
                Err(E::custom("stopped"))
            }
            Err(e) => Err(self.fail(e)),
        }
    }
}

/// The top-level object.
struct Top<'w, 'a, F>(&'w mut Walk<'a, F>);

impl<F> Top<'_, '_, F>
where
    F: FnMut(Entry) -> Result<ControlFlow<()>, Error>,
{
    fn refuse<E: de::Error>(self) -> E {
        self.0.fail(BackupError::NotAnObject)
    }
}

impl<'de, F> Visitor<'de> for Top<'_, '_, F>
where
    F: FnMut(Entry) -> Result<ControlFlow<()>, Error>,
{
    type Value = Option<Map<String, Value>>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let walk = self.0;
        let mut rest = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match (key.as_str(), walk.shape) {
                ("rooms", None) => {
                    walk.shape = Some(Shape::Keys);
                    map.next_value_seed(Rooms(&mut *walk))?;
                }
                ("sessions", None) => {
                    walk.shape = Some(Shape::Room);
                    let Some(room) = walk.room_id else {
                        return Err(walk.fail(BackupError::IdNotGiven {
                            shape: Shape::Room,
                            id: "room id",
                        }));
                    };
                    map.next_value_seed(Sessions {
                        walk: &mut *walk,
                        room,
                    })?;
                }
                ("rooms" | "sessions", Some(_)) => {
                    return Err(walk.fail(BackupError::RoomsAndSessions));
                }
                (_, Some(_)) => {
                    map.next_value::<IgnoredAny>()?;
                }
                (_, None) => {
                    // Kept for the one-session shapes until `rooms` or `sessions` shows up.
                    let v = map.next_value::<Value>()?;
                    rest.insert(key, v);
                }
            }
        }
        Ok(match walk.shape {
            Some(_) => None,
            None => Some(rest),
        })
    }
    only_objects!();
}

/// `rooms`: room id -> room body.
struct Rooms<'w, 'a, F>(&'w mut Walk<'a, F>);

impl<'de, F> DeserializeSeed<'de> for Rooms<'_, '_, F>
where
    F: FnMut(Entry) -> Result<ControlFlow<()>, Error>,
{
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<F> Rooms<'_, '_, F>
where
    F: FnMut(Entry) -> Result<ControlFlow<()>, Error>,
{
    fn refuse<E: de::Error>(self) -> E {
        self.0.fail(BackupError::RoomsNotObject)
    }
}

impl<'de, F> Visitor<'de> for Rooms<'_, '_, F>
where
    F: FnMut(Entry) -> Result<ControlFlow<()>, Error>,
{
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object of rooms")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let walk = self.0;
        loop {
            walk.cap.reset();
            let Some(room) = map.next_key::<String>()? else {
                return Ok(());
            };
            map.next_value_seed(Room {
                walk: &mut *walk,
                room: &room,
            })?;
        }
    }
    only_objects!();
}

/// One room's body: `{"sessions": {...}}`, other keys skipped.
struct Room<'w, 'a, 'r, F> {
    walk: &'w mut Walk<'a, F>,
    room: &'r str,
}

impl<'de, F> DeserializeSeed<'de> for Room<'_, '_, '_, F>
where
    F: FnMut(Entry) -> Result<ControlFlow<()>, Error>,
{
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<F> Room<'_, '_, '_, F>
where
    F: FnMut(Entry) -> Result<ControlFlow<()>, Error>,
{
    fn refuse<E: de::Error>(self) -> E {
        let room = self.room.to_owned();
        self.walk.fail(BackupError::RoomNoSessions { room })
    }
}

impl<'de, F> Visitor<'de> for Room<'_, '_, '_, F>
where
    F: FnMut(Entry) -> Result<ControlFlow<()>, Error>,
{
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a room's object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "sessions" && !seen {
                seen = true;
                map.next_value_seed(Sessions {
                    walk: &mut *self.walk,
                    room: self.room,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if seen {
            Ok(())
        } else {
            Err(self.refuse())
        }
    }
    only_objects!();
}

/// `sessions`: session id -> KeyBackupData.
struct Sessions<'w, 'a, 'r, F> {
    walk: &'w mut Walk<'a, F>,
    room: &'r str,
}

impl<'de, F> DeserializeSeed<'de> for Sessions<'_, '_, '_, F>
where
    F: FnMut(Entry) -> Result<ControlFlow<()>, Error>,
{
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<F> Sessions<'_, '_, '_, F>
where
    F: FnMut(Entry) -> Result<ControlFlow<()>, Error>,
{
    fn refuse<E: de::Error>(self) -> E {
        let room = self.room.to_owned();
        self.walk.fail(BackupError::RoomNoSessions { room })
    }
}

impl<'de, F> Visitor<'de> for Sessions<'_, '_, '_, F>
where
    F: FnMut(Entry) -> Result<ControlFlow<()>, Error>,
{
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object of sessions")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        loop {
            self.walk.cap.reset();
            let Some(session_id) = map.next_key::<String>()? else {
                return Ok(());
            };
            // The KeyBackupData is small and parsed whole, as the in-memory reader does: its
            // session_data, or null when it has none (the session then fails as "not an
            // object", with its ids).
            let mut kbd = map.next_value::<Value>()?;
            let session_data = kbd
                .as_object_mut()
                .and_then(|o| o.remove("session_data"))
                .unwrap_or(Value::Null);
            self.walk.give(Entry {
                room_id: self.room.to_owned(),
                session_id,
                session_data,
            })?;
        }
    }
    only_objects!();
}

/// Walk a backup document as it is read, handing each session's [`Entry`] to `f` in document
/// order. `room_id` names the room of a one-room body (`{"sessions": ...}`). `f` may stop the
/// walk early with [`ControlFlow::Break`] (the rest of the input is then not read).
///
/// # Errors
/// [`Error::Backup`] for a document that is not a JSON object ([`BackupError::NotAnObject`]), not
/// valid JSON ([`BackupError::Json`], with the position, never the text), an entry larger than
/// [`ENTRY_LIMIT`] ([`BackupError::EntryTooLarge`]), a malformed body
/// ([`BackupError::RoomsNotObject`], [`BackupError::RoomNoSessions`],
/// [`BackupError::RoomsAndSessions`]) or a one-room body without `room_id`
/// ([`BackupError::IdNotGiven`]); read errors; `f`'s own errors, unchanged.
pub fn for_each_entry<R, F>(input: R, room_id: Option<&str>, mut f: F) -> Result<Streamed, Error>
where
    R: Read,
    F: FnMut(Entry) -> Result<ControlFlow<()>, Error>,
{
    // serde_json reads a byte at a time: served from a buffer inline (ByteAtATime), not by a
    // read call each.
    let buffered = crate::session::ByteAtATime(crate::secret::WipingBufReader::with_capacity(
        64 * 1024,
        input,
    ));
    let (reader, cap) = Capped::new(buffered, ENTRY_LIMIT);
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut walk = Walk {
        f: &mut f,
        cap: &cap,
        room_id,
        count: 0,
        halt: None,
        shape: None,
    };
    let result = de
        .deserialize_any(Top(&mut walk))
        .and_then(|v| de.end().map(|()| v));
    let shape = walk.shape;
    let count = walk.count;
    match (result, walk.halt) {
        (_, Some(Halt::Stopped)) => Ok(Streamed::Entries {
            shape: shape.unwrap_or(Shape::Keys),
            count,
            stopped: true,
        }),
        (_, Some(Halt::Failed(e))) => Err(e),
        (Ok(Some(rest)), None) => Ok(Streamed::Lone(Value::Object(rest))),
        (Ok(None), None) => Ok(Streamed::Entries {
            shape: shape.unwrap_or(Shape::Keys),
            count,
            stopped: false,
        }),
        (Err(e), None) => Err(json_error(&e, &cap)),
    }
}

/// A parse error as a [`BackupError`]: the cap, a read error, or where the JSON went wrong.
fn json_error(e: &serde_json::Error, cap: &CapHandle) -> Error {
    use serde_json::error::Category;
    if let Some(c) = cap.tripped() {
        return BackupError::EntryTooLarge {
            limit: c.limit,
            line: e.line(),
            column: e.column(),
        }
        .into();
    }
    match e.classify() {
        Category::Io => Error::Io(std::io::Error::other(e.to_string())),
        _ => BackupError::Json {
            detail: json_detail(e),
            line: e.line(),
            column: e.column(),
        }
        .into(),
    }
}

/// Decrypt a streamed backup: the entries of a [`Shape::Keys`] or [`Shape::Room`] body are read
/// on one thread and decrypted a batch at a time on every core ([`super::decrypt_entries`]), and
/// `each` gets every outcome in the body's order. A one-session document is returned as
/// [`Streamed::Lone`] without decrypting anything (the caller decrypts it with
/// [`super::decrypt_session_data`]). Memory holds two batches, whatever the body's size.
///
/// # Errors
/// As [`for_each_entry`]; `each`'s own errors, unchanged (reading stops).
pub fn decrypt_stream<R, F>(
    key: &RecoveryKey,
    input: R,
    room_id: Option<&str>,
    each: F,
) -> Result<Streamed, Error>
where
    R: Read + Send,
    F: FnMut(EntryOutcome) -> Result<(), Error>,
{
    decrypt_stream_with(key, Msc4048Policy::default(), input, room_id, each)
}

/// [`decrypt_stream`] with what to ask of MSC4048 (unstable) backup MACs. The MAC key is derived
/// once; each entry's MAC is checked in its batch, on every core, with the rest of its checks,
/// and leaves nothing behind but its [`EntryOutcome::msc4048`].
///
/// # Errors
/// As [`decrypt_stream`].
pub fn decrypt_stream_with<R, F>(
    key: &RecoveryKey,
    policy: Msc4048Policy,
    input: R,
    room_id: Option<&str>,
    mut each: F,
) -> Result<Streamed, Error>
where
    R: Read + Send,
    F: FnMut(EntryOutcome) -> Result<(), Error>,
{
    let mac_key = BackupMacKey::derive(key);
    std::thread::scope(|scope| {
        // Two batches in flight: one being decrypted, one being read.
        let (tx, rx) = mpsc::sync_channel::<Vec<Entry>>(1);
        let reader = scope.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            let streamed = for_each_entry(input, room_id, |e| {
                batch.push(e);
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    if tx.send(full).is_err() {
                        // The decrypting side stopped (its own error): stop reading.
                        return Ok(ControlFlow::Break(()));
                    }
                }
                Ok(ControlFlow::Continue(()))
            });
            if !batch.is_empty() {
                // Fails only when the other side stopped, which then has its own error.
                let _ = tx.send(batch);
            }
            streamed
        });
        let mut failed = None;
        for batch in rx.iter() {
            if failed.is_some() {
                continue;
            }
            for o in decrypt_entries_with(key, &mac_key, policy, &batch) {
                if let Err(e) = each(o) {
                    failed = Some(e);
                    break;
                }
            }
        }
        let streamed = match reader.join() {
            Ok(s) => s,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        match failed {
            Some(e) => Err(e),
            None => streamed,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::decrypt_entries;
    use super::*;
    use serde_json::json;

    fn entries_of(text: &str, room: Option<&str>) -> Result<(Streamed, Vec<Entry>), Error> {
        let mut got = Vec::new();
        let s = for_each_entry(text.as_bytes(), room, |e| {
            got.push(e);
            Ok(ControlFlow::Continue(()))
        })?;
        Ok((s, got))
    }

    fn ids(es: &[Entry]) -> Vec<(String, String, Value)> {
        es.iter()
            .map(|e| {
                (
                    e.room_id.clone(),
                    e.session_id.clone(),
                    e.session_data.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn streaming_gives_what_the_in_memory_reader_gives() {
        let doc = json!({
            "next_batch": "x",
            "rooms": {
                "!a:x": {"sessions": {
                    "s1": {"first_message_index": 0, "session_data": {"ephemeral": "e1"}},
                    "s2": {"session_data": {"ephemeral": "e2"}, "is_verified": true},
                }, "other": [1, 2]},
                "!b:x": {"sessions": {"s3": {"no_session_data": 1}, "s4": 7}},
                "!c:x": {"sessions": {}},
            },
        });
        let (s, got) = entries_of(&doc.to_string(), None).unwrap();
        let (shape, want) = super::super::entries(&doc, None, None).unwrap();
        assert!(matches!(
            s,
            Streamed::Entries {
                shape: Shape::Keys,
                count: 4,
                stopped: false
            }
        ));
        assert_eq!(shape, Shape::Keys);
        assert_eq!(ids(&got), ids(&want));

        let room = json!({"sessions": {"s1": {"session_data": {"mac": "m"}}}});
        let (s, got) = entries_of(&room.to_string(), Some("!r:x")).unwrap();
        let (_, want) = super::super::entries(&room, Some("!r:x"), None).unwrap();
        assert!(matches!(
            s,
            Streamed::Entries {
                shape: Shape::Room,
                count: 1,
                ..
            }
        ));
        assert_eq!(ids(&got), ids(&want));
    }

    #[test]
    fn one_session_documents_come_back_whole() {
        let kbd = json!({"first_message_index": 1, "session_data": {"ephemeral": "e"}});
        let (s, got) = entries_of(&kbd.to_string(), None).unwrap();
        assert!(got.is_empty());
        match s {
            Streamed::Lone(v) => assert_eq!(v, kbd),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_bodies_get_the_same_errors() {
        let err = |text: &str, room: Option<&str>| entries_of(text, room).unwrap_err().to_string();
        let backup = |e: BackupError| Error::Backup(e).to_string();
        assert_eq!(err("[1]", None), backup(BackupError::NotAnObject));
        assert_eq!(err("\"x\"", None), backup(BackupError::NotAnObject));
        assert_eq!(
            err(r#"{"rooms": []}"#, None),
            backup(BackupError::RoomsNotObject)
        );
        assert_eq!(
            err(r#"{"rooms": {"!a": {"x": 1}}}"#, None),
            backup(BackupError::RoomNoSessions { room: "!a".into() })
        );
        assert_eq!(
            err(r#"{"rooms": {"!a": {"sessions": 5}}}"#, None),
            backup(BackupError::RoomNoSessions { room: "!a".into() })
        );
        assert_eq!(
            err(r#"{"sessions": {}}"#, None),
            backup(BackupError::IdNotGiven {
                shape: Shape::Room,
                id: "room id"
            })
        );
        assert_eq!(
            err(r#"{"rooms": {}, "sessions": {}}"#, None),
            backup(BackupError::RoomsAndSessions)
        );
        assert_eq!(
            err(r#"{"rooms": {"!a": {"sessions": {"s": {}}}}"#, None),
            backup(BackupError::Json {
                detail: crate::session::JsonDetail::EndsEarly,
                line: 1,
                column: 41
            })
        );
    }

    #[test]
    fn an_entry_past_the_cap_is_refused_before_it_is_held() {
        // One KeyBackupData with a ciphertext one byte over the cap.
        let big = "A".repeat(ENTRY_LIMIT as usize + 1);
        let text = format!(
            r#"{{"rooms": {{"!a": {{"sessions": {{"s1": {{"session_data": {{}}}}, "s2": {{"session_data": {{"ciphertext": "{big}"}}}}}}}}}}}}"#
        );
        let mut seen = 0;
        let e = for_each_entry(text.as_bytes(), None, |_| {
            seen += 1;
            Ok(ControlFlow::Continue(()))
        })
        .unwrap_err();
        assert_eq!(seen, 1, "the first entry was handed out");
        assert!(
            matches!(
                e,
                Error::Backup(BackupError::EntryTooLarge {
                    limit: ENTRY_LIMIT,
                    ..
                })
            ),
            "{e}"
        );
    }

    #[test]
    fn decrypting_a_stream_gives_every_outcome_in_order() {
        use crate::encoding::encode_unpadded;
        let key = RecoveryKey::from_bytes(&mut [5; 32]);
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/test-vectors/export/sessions-basic.json"
        );
        let all: Vec<Value> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        // More than two batches; every seventh session's MAC is damaged.
        let mut rooms = Map::new();
        let mut n = 0usize;
        for round in 0..(2 * BATCH / all.len() + 2) {
            for s in &all {
                let mut plain = s.as_object().unwrap().clone();
                plain.remove("room_id");
                let sid = plain.remove("session_id").unwrap();
                let bytes = serde_json::to_vec(&plain).unwrap();
                let mut sd = super::super::encrypt_session_data(
                    &key.backup_public_key(),
                    &bytes,
                    &mut [9; 32],
                );
                if n % 7 == 3 {
                    sd["mac"] = Value::String(encode_unpadded(&[0; 8]));
                }
                let room = rooms
                    .entry(format!("!r{}:x", n % 5))
                    .or_insert_with(|| json!({"sessions": {}}));
                // A session id per copy, so that none replaces another; only the first round
                // keeps the real id (the others fail as filed under the wrong id).
                let id = if round == 0 {
                    sid.as_str().unwrap().to_owned()
                } else {
                    format!("{n}")
                };
                room["sessions"][id] = json!({"session_data": sd});
                n += 1;
            }
        }
        let doc = json!({ "rooms": rooms });
        let (_, entries) = super::super::entries(&doc, None, None).unwrap();
        assert!(entries.len() > 2 * BATCH);
        let want: Vec<_> = decrypt_entries(&key, &entries)
            .into_iter()
            .map(|o| {
                (
                    o.room_id,
                    o.session_id,
                    o.result
                        .map(|(s, m)| (s.session_id, m))
                        .map_err(|e| e.kind()),
                )
            })
            .collect();
        let mut got = Vec::new();
        let text = doc.to_string();
        let s = decrypt_stream(&key, text.as_bytes(), None, |o| {
            got.push((
                o.room_id,
                o.session_id,
                o.result
                    .map(|(s, m)| (s.session_id, m))
                    .map_err(|e| e.kind()),
            ));
            Ok(())
        })
        .unwrap();
        assert!(matches!(s, Streamed::Entries { stopped: false, .. }));
        assert_eq!(got, want);
        assert!(got.iter().any(|g| g.2.is_ok()));
        assert!(got
            .iter()
            .any(|g| g.2 == Err(super::super::FailureKind::Mac)));

        // The callback's error stops it and comes back unchanged.
        let mut seen = 0;
        let e = decrypt_stream(&key, text.as_bytes(), None, |_| {
            seen += 1;
            if seen == 10 {
                Err(Error::EmptyPassphrase)
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert!(matches!(e, Error::EmptyPassphrase));
        assert_eq!(seen, 10);
    }

    #[test]
    fn a_break_stops_reading() {
        // The rest of the input is garbage: it must not be read.
        let text = r#"{"rooms": {"!a": {"sessions": {"s1": {}, "s2": {}, "s3": {}}}}} garbage"#;
        let mut got = 0;
        let s = for_each_entry(text.as_bytes(), None, |_| {
            got += 1;
            Ok(if got == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            })
        })
        .unwrap();
        assert!(matches!(
            s,
            Streamed::Entries {
                count: 2,
                stopped: true,
                ..
            }
        ));
    }
}
