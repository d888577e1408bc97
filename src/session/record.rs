//! One session object, typed: [`SessionRecord`].
//!
//! The fields mxkeys reads are typed; every other field is kept, in its place among the others,
//! as JSON text ([`RawMap`]), so that reading a session and writing it back changes neither a
//! value nor the order of the keys. That text is kept compact: whitespace between tokens is
//! dropped and strings with escapes are re-escaped the way serde_json writes them (the value is
//! the same), while numbers stay exactly as written (`1e400`, `0.1000`, integers of any size).
//!
//! A field that a client wrote with another JSON type than the spec's (a number as `room_id`,
//! say) is not typed: it stays in [`SessionRecord::extra`] under its own name, so that
//! validation can say so and writing the session back keeps it.
//!
//! Duplicate keys in a session object are read as serde_json's ordered map read them: the last
//! value wins, in the place of the first.

use std::fmt;
use std::io::{self, Write};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use zeroize::Zeroize;

use crate::secret::{SecretBuf, SecretString};

/// The fields of a session that mxkeys reads, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    Algorithm,
    RoomId,
    SenderKey,
    SessionId,
    SessionKey,
    SenderClaimedKeys,
    ForwardingChain,
    Untrusted,
}

impl Known {
    /// In the order a record's fields are written when they have no place of their own yet.
    const ALL: [Known; 8] = [
        Known::Algorithm,
        Known::RoomId,
        Known::SenderKey,
        Known::SessionId,
        Known::SessionKey,
        Known::SenderClaimedKeys,
        Known::ForwardingChain,
        Known::Untrusted,
    ];

    fn name(self) -> &'static str {
        match self {
            Known::Algorithm => "algorithm",
            Known::RoomId => "room_id",
            Known::SenderKey => "sender_key",
            Known::SessionId => "session_id",
            Known::SessionKey => "session_key",
            Known::SenderClaimedKeys => "sender_claimed_keys",
            Known::ForwardingChain => "forwarding_curve25519_key_chain",
            Known::Untrusted => "untrusted",
        }
    }

    fn from_name(name: &str) -> Option<Known> {
        Known::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The place of one field among a record's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Slot {
    Known(Known),
    Other(String),
}

impl Slot {
    fn is(&self, name: &str) -> bool {
        match self {
            Slot::Known(k) => k.name() == name,
            Slot::Other(n) => n == name,
        }
    }
}

/// An ordered map of JSON values kept as text: the unknown fields of a session, and
/// `sender_claimed_keys`. Inserting an existing key replaces its value in place; a new key goes
/// last; removing a key keeps the order of the others.
#[derive(Clone, Default)]
pub struct RawMap(Vec<(String, Box<RawValue>)>);

impl RawMap {
    /// An empty map.
    pub fn new() -> Self {
        RawMap(Vec::new())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there is no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of `key`, as JSON text.
    pub fn get(&self, key: &str) -> Option<&RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| &**v)
    }

    /// The value of `key` when it is a JSON string.
    pub fn get_str(&self, key: &str) -> Option<String> {
        self.get(key).and_then(raw_str)
    }

    /// The value of `key` when it is `true` or `false`.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(raw_bool)
    }

    /// True when `key` is there.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    /// Set `key` (in its place if it is there, else last); the value it replaced.
    pub fn insert(&mut self, key: String, value: Box<RawValue>) -> Option<Box<RawValue>> {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.0.push((key, value));
                None
            }
        }
    }

    /// Take `key` out, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Box<RawValue>> {
        let at = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(at).1)
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), &**v))
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.0.iter().position(|(k, _)| k == key)
    }
}

impl PartialEq for RawMap {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((ka, va), (kb, vb))| ka == kb && va.get() == vb.get())
    }
}

impl Eq for RawMap {}

impl fmt::Debug for RawMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (k, v.get())))
            .finish()
    }
}

impl Serialize for RawMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.iter() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for RawMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawMap, A::Error> {
                let mut out = RawMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value: Box<RawValue> = map.next_value()?;
                    out.insert(key, compact(value, MAX_NESTING - 1).map_err(outer)?);
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// One session of an export (spec "Key export format"), as a client wrote it.
///
/// A typed field is `None` when the session does not have it or has it with another JSON type;
/// in the second case its value is in [`SessionRecord::extra`] under its own name (and
/// [`crate::session::validate`] reports `wrong_type`). Serializing writes every field in the
/// order it was read; fields set afterwards that had no place come last, typed ones first.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SessionRecord {
    /// `algorithm`: `m.megolm.v1.aes-sha2` for megolm sessions.
    pub algorithm: Option<String>,
    /// `room_id`.
    pub room_id: Option<String>,
    /// `sender_key`: the Curve25519 key of the device that created the session.
    pub sender_key: Option<String>,
    /// `session_id`: the unpadded base64 of the session key's Ed25519 public key.
    pub session_id: Option<String>,
    /// `session_key`: base64 of the exported session key (secret).
    pub session_key: Option<SecretString>,
    /// `sender_claimed_keys` (an object; `ed25519` is the sending device's signing key).
    pub sender_claimed_keys: Option<RawMap>,
    /// `forwarding_curve25519_key_chain` (an array of strings).
    pub forwarding_curve25519_key_chain: Option<Vec<String>>,
    /// `untrusted` (matrix-rust-sdk): the key came from a source that cannot vouch for it.
    pub untrusted: Option<bool>,
    /// Every other field, and the fields above whose JSON type is not the spec's.
    pub extra: RawMap,
    /// Where each field was, by name.
    order: Vec<Slot>,
}

impl fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// The extra fields, with a mistyped `session_key` left out: it may hold the key.
        struct Extra<'a>(&'a RawMap);
        impl fmt::Debug for Extra<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.iter().map(|(k, v)| {
                        (
                            k,
                            if k == "session_key" {
                                "<redacted>"
                            } else {
                                v.get()
                            },
                        )
                    }))
                    .finish()
            }
        }
        f.debug_struct("SessionRecord")
            .field("algorithm", &self.algorithm)
            .field("room_id", &self.room_id)
            .field("sender_key", &self.sender_key)
            .field("session_id", &self.session_id)
            .field("session_key", &self.session_key)
            .field("sender_claimed_keys", &self.sender_claimed_keys)
            .field(
                "forwarding_curve25519_key_chain",
                &self.forwarding_curve25519_key_chain,
            )
            .field("untrusted", &self.untrusted)
            .field("extra", &Extra(&self.extra))
            .finish()
    }
}

impl SessionRecord {
    /// True when the session has a field `name`, of whatever JSON type.
    pub fn contains_key(&self, name: &str) -> bool {
        Known::from_name(name).is_some_and(|k| self.is_typed(k)) || self.extra.contains_key(name)
    }

    /// True when `name` is a typed field that is set (with the spec's JSON type).
    pub(crate) fn has_typed(&self, name: &str) -> bool {
        Known::from_name(name).is_some_and(|k| self.is_typed(k))
    }

    fn is_typed(&self, k: Known) -> bool {
        match k {
            Known::Algorithm => self.algorithm.is_some(),
            Known::RoomId => self.room_id.is_some(),
            Known::SenderKey => self.sender_key.is_some(),
            Known::SessionId => self.session_id.is_some(),
            Known::SessionKey => self.session_key.is_some(),
            Known::SenderClaimedKeys => self.sender_claimed_keys.is_some(),
            Known::ForwardingChain => self.forwarding_curve25519_key_chain.is_some(),
            Known::Untrusted => self.untrusted.is_some(),
        }
    }

    fn clear_typed(&mut self, k: Known) {
        match k {
            Known::Algorithm => self.algorithm = None,
            Known::RoomId => self.room_id = None,
            Known::SenderKey => self.sender_key = None,
            Known::SessionId => self.session_id = None,
            Known::SessionKey => self.session_key = None,
            Known::SenderClaimedKeys => self.sender_claimed_keys = None,
            Known::ForwardingChain => self.forwarding_curve25519_key_chain = None,
            Known::Untrusted => self.untrusted = None,
        }
    }

    /// The first message index its `session_key` decrypts from, read off the key's header
    /// without checking the rest of it (`None` when there is no key, or it is not one).
    pub fn first_index(&self) -> Option<u32> {
        let key = self.session_key.as_ref()?;
        let bytes = zeroize::Zeroizing::new(crate::encoding::decode_lenient(key.expose()).ok()?);
        crate::megolm::SessionKey::peek_index(&bytes)
    }

    /// `sender_claimed_keys.ed25519`, when it is a string.
    pub fn claimed_ed25519(&self) -> Option<String> {
        self.sender_claimed_keys
            .as_ref()
            .and_then(|c| c.get_str("ed25519"))
    }

    /// Take the field `name` out, typed or not, keeping the order of the others. Set again, it
    /// comes last.
    pub fn remove(&mut self, name: &str) {
        if let Some(k) = Known::from_name(name) {
            self.clear_typed(k);
        }
        self.extra.remove(name);
        self.order.retain(|s| !s.is(name));
    }

    /// File the session under `room_id` (left out when `None`) and `session_id`: they become
    /// its first fields, and any it had are dropped (a backup's plaintext names neither; the
    /// ids are where the backup files it).
    pub fn file_under(&mut self, room_id: Option<String>, session_id: String) {
        self.remove("room_id");
        self.remove("session_id");
        let mut first = Vec::with_capacity(2);
        if room_id.is_some() {
            first.push(Slot::Known(Known::RoomId));
        }
        first.push(Slot::Known(Known::SessionId));
        self.order.splice(0..0, first);
        self.room_id = room_id;
        self.session_id = Some(session_id);
    }

    /// Read one field (see the type's docs for what happens to a mistyped one and to a key
    /// seen twice).
    fn put(&mut self, key: String, raw: Box<RawValue>) -> Result<(), serde_json::Error> {
        self.place(&key);
        let Some(k) = Known::from_name(&key) else {
            self.extra.insert(key, compact(raw, MAX_NESTING)?);
            return Ok(());
        };
        if self.set_typed(k, &raw)? {
            self.extra.remove(&key);
            if k == Known::SessionKey {
                // The key's JSON text: wiped rather than freed as it is. (The visitor reads
                // session_key apart, without a RawValue: see KeyField.)
                let mut text: Box<str> = raw.into();
                text.zeroize();
            }
        } else {
            self.clear_typed(k);
            self.extra.insert(key, compact(raw, MAX_NESTING)?);
        }
        Ok(())
    }

    /// Read `session_key` (see [`KeyField`]).
    fn put_session_key(&mut self, field: KeyField) {
        let name = Known::SessionKey.name();
        self.place(name);
        match field {
            KeyField::Secret(k) => {
                self.session_key = Some(k);
                self.extra.remove(name);
            }
            KeyField::Other(raw) => {
                self.session_key = None;
                self.extra.insert(name.to_owned(), raw);
            }
        }
    }

    /// Give the field `key` its place, the first time it is seen.
    fn place(&mut self, key: &str) {
        if !self.order.iter().any(|s| s.is(key)) {
            self.order.push(match Known::from_name(key) {
                Some(k) => Slot::Known(k),
                None => Slot::Other(key.to_owned()),
            });
        }
    }

    /// Set the typed field `k` from `raw` when it has the spec's JSON type (true), else leave
    /// it (false). Errors only on what serde_json refuses in a string (a lone surrogate).
    fn set_typed(&mut self, k: Known, raw: &RawValue) -> Result<bool, serde_json::Error> {
        let text = raw.get();
        let string = || -> Result<Option<String>, serde_json::Error> {
            if text.starts_with('"') {
                serde_json::from_str(text).map(Some)
            } else {
                Ok(None)
            }
        };
        match k {
            Known::Algorithm => Ok(string()?.map(|s| self.algorithm = Some(s)).is_some()),
            Known::RoomId => Ok(string()?.map(|s| self.room_id = Some(s)).is_some()),
            Known::SenderKey => Ok(string()?.map(|s| self.sender_key = Some(s)).is_some()),
            Known::SessionId => Ok(string()?.map(|s| self.session_id = Some(s)).is_some()),
            Known::SessionKey => Ok(string()?
                .map(|s| self.session_key = Some(SecretString::new(s)))
                .is_some()),
            Known::SenderClaimedKeys if text.starts_with('{') => {
                self.sender_claimed_keys = Some(serde_json::from_str(text)?);
                Ok(true)
            }
            Known::ForwardingChain if text.starts_with('[') => {
                match serde_json::from_str::<Vec<String>>(text) {
                    Ok(chain) => {
                        self.forwarding_curve25519_key_chain = Some(chain);
                        Ok(true)
                    }
                    // An element that is not a string: the array is kept as it is.
                    Err(e) if e.is_data() => Ok(false),
                    Err(e) => Err(e),
                }
            }
            Known::SenderClaimedKeys | Known::ForwardingChain => Ok(false),
            Known::Untrusted => Ok(raw_bool(raw).map(|b| self.untrusted = Some(b)).is_some()),
        }
    }

    /// Every field to write, in order.
    fn entries(&self) -> Vec<(&str, Field<'_>)> {
        let mut out = Vec::with_capacity(self.order.len() + self.extra.len());
        let mut done_known = [false; Known::ALL.len()];
        let mut done_extra = vec![false; self.extra.len()];
        let mark = |name: &str, done_extra: &mut Vec<bool>| {
            if let Some(flag) = self
                .extra
                .position(name)
                .and_then(|i| done_extra.get_mut(i))
            {
                *flag = true;
            }
        };
        for slot in &self.order {
            match slot {
                Slot::Known(k) => {
                    let Some(done) = done_known.get_mut(*k as usize) else {
                        continue;
                    };
                    if std::mem::replace(done, true) {
                        continue;
                    }
                    mark(k.name(), &mut done_extra);
                    if let Some(f) = self.typed(*k) {
                        out.push((k.name(), f));
                    } else if let Some(v) = self.extra.get(k.name()) {
                        out.push((k.name(), Field::Raw(v)));
                    }
                }
                Slot::Other(name) => {
                    let Some(i) = self.extra.position(name) else {
                        continue;
                    };
                    if let (Some(done), Some((k, v))) = (done_extra.get_mut(i), self.extra.0.get(i))
                    {
                        if !std::mem::replace(done, true) {
                            out.push((k.as_str(), Field::Raw(v)));
                        }
                    }
                }
            }
        }
        for k in Known::ALL {
            if done_known.get(k as usize) == Some(&false) {
                if let Some(f) = self.typed(k) {
                    out.push((k.name(), f));
                }
            }
        }
        for ((name, v), done) in self.extra.0.iter().zip(done_extra) {
            // A typed field wins over a stray copy of it among the extra fields.
            if !done && !self.has_typed(name) {
                out.push((name.as_str(), Field::Raw(v)));
            }
        }
        out
    }

    fn typed(&self, k: Known) -> Option<Field<'_>> {
        match k {
            Known::Algorithm => self.algorithm.as_deref().map(Field::Str),
            Known::RoomId => self.room_id.as_deref().map(Field::Str),
            Known::SenderKey => self.sender_key.as_deref().map(Field::Str),
            Known::SessionId => self.session_id.as_deref().map(Field::Str),
            Known::SessionKey => self.session_key.as_ref().map(|k| Field::Str(k.expose())),
            Known::SenderClaimedKeys => self.sender_claimed_keys.as_ref().map(Field::Map),
            Known::ForwardingChain => self
                .forwarding_curve25519_key_chain
                .as_deref()
                .map(Field::List),
            Known::Untrusted => self.untrusted.map(Field::Bool),
        }
    }
}

/// One field's value, to serialize.
enum Field<'a> {
    Str(&'a str),
    List(&'a [String]),
    Map(&'a RawMap),
    Bool(bool),
    Raw(&'a RawValue),
}

impl Serialize for Field<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Str(v) => s.serialize_str(v),
            Field::List(v) => v.serialize(s),
            Field::Map(v) => v.serialize(s),
            Field::Bool(v) => s.serialize_bool(*v),
            Field::Raw(v) => v.serialize(s),
        }
    }
}

impl Serialize for SessionRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entries = self.entries();
        let mut m = s.serialize_map(Some(entries.len()))?;
        for (k, v) in &entries {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for SessionRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SessionRecord;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a session object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SessionRecord, A::Error> {
                let mut record = SessionRecord::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == Known::SessionKey.name() {
                        record.put_session_key(map.next_value_seed(KeyFieldSeed)?);
                        continue;
                    }
                    let value: Box<RawValue> = map.next_value()?;
                    record.put(key, value).map_err(outer)?;
                }
                Ok(record)
            }
        }
        d.deserialize_map(V)
    }
}

/// `session_key` as read: the secret when it is a string, else the value (which goes into
/// [`SessionRecord::extra`]). A string is read as serde_json reads any string, straight into
/// the secret; reading every value as a `RawValue` would copy the key through a buffer that
/// serde_json grows and frees as it is, once per session.
enum KeyField {
    Secret(SecretString),
    Other(Box<RawValue>),
}

struct KeyFieldSeed;

impl<'de> DeserializeSeed<'de> for KeyFieldSeed {
    type Value = KeyField;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<KeyField, D::Error> {
        d.deserialize_any(KeyFieldVisitor)
    }
}

struct KeyFieldVisitor;

impl KeyFieldVisitor {
    /// A value that is not a string, as compact JSON text (through `serde_json::Value`, so that
    /// serde_json's nesting limit applies as it does to the whole session).
    fn other<E: de::Error>(v: serde_json::Value) -> Result<KeyField, E> {
        serde_json::value::to_raw_value(&v)
            .map(KeyField::Other)
            .map_err(E::custom)
    }
}

impl<'de> Visitor<'de> for KeyFieldVisitor {
    type Value = KeyField;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyField, E> {
        Ok(KeyField::Secret(SecretString::new(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<KeyField, E> {
        Ok(KeyField::Secret(SecretString::new(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyField, E> {
        Self::other(v.into())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyField, E> {
        Self::other(v.into())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyField, E> {
        Self::other(v.into())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyField, E> {
        Self::other(v.into())
    }
    fn visit_unit<E: de::Error>(self) -> Result<KeyField, E> {
        Self::other(serde_json::Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<KeyField, A::Error> {
        Self::other(serde_json::Value::deserialize(
            de::value::SeqAccessDeserializer::new(seq),
        )?)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<KeyField, A::Error> {
        // Also a number, with serde_json's arbitrary_precision: a map of one private key.
        Self::other(serde_json::Value::deserialize(
            de::value::MapAccessDeserializer::new(map),
        )?)
    }
}

/// An error found in a value read as raw text, for the deserializer that read it: without the
/// position inside that text (serde_json would take it for a position in the whole input), so
/// that serde_json puts its own, just past the value.
fn outer<E: de::Error>(e: serde_json::Error) -> E {
    let text = e.to_string();
    let msg = match text.rfind(" at line ") {
        Some(at) if e.line() > 0 => text.get(..at).unwrap_or_default(),
        _ => text.as_str(),
    };
    E::custom(msg)
}

/// A JSON string's value.
fn raw_str(v: &RawValue) -> Option<String> {
    let text = v.get();
    if text.starts_with('"') {
        serde_json::from_str(text).ok()
    } else {
        None
    }
}

/// A JSON boolean's value.
fn raw_bool(v: &RawValue) -> Option<bool> {
    match v.get() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// How deep a field's value may nest arrays and objects: what serde_json's recursion limit (128
/// levels) leaves inside a session in an array of sessions, where sessions were read as maps of
/// `serde_json::Value` before. serde_json reads a raw value without that limit.
const MAX_NESTING: usize = 125;

/// The compact form of a JSON value: no whitespace between tokens, strings with escapes
/// re-escaped as serde_json writes them, numbers and everything else exactly as written.
/// Iterative, so even a value nested 100000 deep costs no stack before it is refused for
/// nesting more than `max_nesting` arrays and objects.
fn compact(raw: Box<RawValue>, max_nesting: usize) -> Result<Box<RawValue>, serde_json::Error> {
    match compact_text(raw.get(), max_nesting)? {
        None => Ok(raw),
        Some(text) => RawValue::from_string(text),
    }
}

/// [`compact`] on valid JSON text; `None` when it already is compact.
pub(crate) fn compact_text(
    text: &str,
    max_nesting: usize,
) -> Result<Option<String>, serde_json::Error> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    // `out` holds the compact form of text[..copied].
    let mut copied = 0;
    let mut i = 0;
    let mut depth = 0usize;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'{' | b'[' => {
                depth += 1;
                if depth > max_nesting {
                    return Err(de::Error::custom("recursion limit exceeded"));
                }
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b' ' | b'\t' | b'\n' | b'\r' => {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                o.push_str(text.get(copied..i).unwrap_or_default());
                i += 1;
                copied = i;
            }
            b'"' => {
                let end = string_end(bytes, i);
                let token = text.get(i..end).unwrap_or_default();
                if token.contains('\\') {
                    let value: String = serde_json::from_str(token)?;
                    let canonical = serde_json::to_string(&value)?;
                    if canonical != token {
                        let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                        o.push_str(text.get(copied..i).unwrap_or_default());
                        o.push_str(&canonical);
                        copied = end;
                    }
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    if let Some(o) = out.as_mut() {
        o.push_str(text.get(copied..).unwrap_or_default());
    }
    Ok(out)
}

/// The index just past the string that starts at `start` (its opening quote).
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut j = start + 1;
    while let Some(&b) = bytes.get(j) {
        match b {
            b'\\' => j += 2,
            b'"' => return j + 1,
            _ => j += 1,
        }
    }
    bytes.len()
}

/// Write `value` as serde_json's pretty printer writes it (two-space indents, `": "`), unknown
/// fields included: serde_json writes raw values as they are, so this serializes compactly
/// and indents the text. Every buffer is wiped (the text holds session keys).
///
/// # Errors
/// Errors from `out`, or from serializing `value`.
pub fn to_writer_pretty<W: Write, T: Serialize + ?Sized>(out: W, value: &T) -> io::Result<()> {
    let mut compact = SecretBuf::with_capacity(16 * 1024);
    serde_json::to_writer(&mut compact, value)?;
    indent(compact.expose(), out)
}

/// Re-indent compact JSON text as serde_json's `PrettyFormatter` does.
fn indent<W: Write>(text: &[u8], mut out: W) -> io::Result<()> {
    const CHUNK: usize = 64 * 1024;
    let mut buf = SecretBuf::with_capacity(CHUNK + 1024);
    let mut depth = 0usize;
    // Just after `{` or `[`: the next token is its first element, or its end.
    let mut opened = false;
    let newline = |buf: &mut SecretBuf, depth: usize| -> io::Result<()> {
        buf.write_all(b"\n")?;
        for _ in 0..depth {
            buf.write_all(b"  ")?;
        }
        Ok(())
    };
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        match b {
            b'{' | b'[' => {
                if opened {
                    newline(&mut buf, depth)?;
                }
                buf.write_all(&[b])?;
                depth += 1;
                opened = true;
                i += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if !opened {
                    newline(&mut buf, depth)?;
                }
                buf.write_all(&[b])?;
                opened = false;
                i += 1;
            }
            b',' => {
                buf.write_all(b",")?;
                newline(&mut buf, depth)?;
                i += 1;
            }
            b':' => {
                buf.write_all(b": ")?;
                i += 1;
            }
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            _ => {
                if opened {
                    newline(&mut buf, depth)?;
                    opened = false;
                }
                let end = if b == b'"' {
                    string_end(text, i)
                } else {
                    // A number or a literal: up to the next structural character.
                    let len = text
                        .get(i..)
                        .unwrap_or_default()
                        .iter()
                        .position(|c| b",:]}{[ \t\n\r".contains(c))
                        .unwrap_or(text.len() - i);
                    i + len.max(1)
                };
                buf.write_all(text.get(i..end).unwrap_or_default())?;
                i = end;
            }
        }
        if buf.expose().len() >= CHUNK {
            out.write_all(buf.expose())?;
            buf.clear();
        }
    }
    out.write_all(buf.expose())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AQAAAABsecretsecretsecret";

    fn parse(text: &str) -> SessionRecord {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn a_round_trip_keeps_values_order_and_number_text() {
        let text = format!(
            r#"{{"x_first":1e400,"algorithm":"m.megolm.v1.aes-sha2","x_num":[0.1000,123456789012345678901234567890,-0,1E5,2.50e-3],"room_id":"!r:x","session_key":"{KEY}","sender_claimed_keys":{{"other":1.0,"ed25519":"abc"}},"untrusted":false,"forwarding_curve25519_key_chain":["a","b"],"x_nested":{{"b":[{{}},[]],"a":null}},"session_id":"s","sender_key":"k","x_last":true}}"#
        );
        let r = parse(&text);
        assert_eq!(r.room_id.as_deref(), Some("!r:x"));
        assert_eq!(r.session_key.as_ref().map(SecretString::expose), Some(KEY));
        assert_eq!(r.untrusted, Some(false));
        assert_eq!(r.claimed_ed25519().as_deref(), Some("abc"));
        assert_eq!(
            r.extra.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            ["x_first", "x_num", "x_nested", "x_last"]
        );
        assert_eq!(serde_json::to_string(&r).unwrap(), text);
    }

    #[test]
    fn whitespace_goes_and_escapes_are_rewritten_as_serde_json_writes_them() {
        let r = parse(
            "{ \"room_id\" : \"caf\\u00e9\" ,\n \"x\" : { \"a\" : [ 1 , \"\\u00e9\\/\\n\\u001F\" ] } }",
        );
        assert_eq!(r.room_id.as_deref(), Some("café"));
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"room_id":"café","x":{"a":[1,"é/\n\u001f"]}}"#
        );
        // A lone surrogate is not a string serde_json accepts, wherever it is.
        for bad in [r#"{"x":["\ud800"]}"#, r#"{"room_id":"\udc00"}"#] {
            assert!(serde_json::from_str::<SessionRecord>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_nest_as_deep_as_serde_json_allowed_in_a_session_array() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let array = |field: &str| format!(r#"[{{"x":{field}}}]"#);
        for n in [MAX_NESTING, MAX_NESTING + 1, 100_000] {
            let ours = serde_json::from_str::<Vec<SessionRecord>>(&array(&nested(n)));
            let before = serde_json::from_str::<Vec<serde_json::Map<String, serde_json::Value>>>(
                &array(&nested(n)),
            );
            assert_eq!(ours.is_ok(), before.is_ok(), "{n}");
            assert_eq!(ours.is_ok(), n <= MAX_NESTING, "{n}");
        }
        let claimed = |n: usize| format!(r#"[{{"sender_claimed_keys":{{"x":{}}}}}]"#, nested(n));
        assert!(serde_json::from_str::<Vec<SessionRecord>>(&claimed(MAX_NESTING - 1)).is_ok());
        assert!(serde_json::from_str::<Vec<SessionRecord>>(&claimed(MAX_NESTING)).is_err());
        // session_key is read apart (KeyField), under serde_json's own limit: the same one.
        let key = |n: usize| format!(r#"[{{"session_key":{}}}]"#, nested(n));
        assert!(serde_json::from_str::<Vec<SessionRecord>>(&key(MAX_NESTING)).is_ok());
        assert!(serde_json::from_str::<Vec<SessionRecord>>(&key(MAX_NESTING + 1)).is_err());
        let e = crate::session::for_each(
            array(&nested(200)).as_bytes(),
            "input",
            |_: SessionRecord| Ok(()),
        );
        assert!(e.unwrap_err().to_string().contains("nested too deeply"));
    }

    #[test]
    fn mistyped_fields_stay_where_they_were() {
        let text = r#"{"algorithm":5,"room_id":null,"session_key":["AQAAAABsecret"],"sender_claimed_keys":[],"forwarding_curve25519_key_chain":[1,"a"],"untrusted":"yes","x":1}"#;
        let r = parse(text);
        assert_eq!(
            r,
            SessionRecord {
                order: r.order.clone(),
                extra: r.extra.clone(),
                ..SessionRecord::default()
            }
        );
        for name in ["algorithm", "room_id", "session_key", "untrusted", "x"] {
            assert!(r.contains_key(name) && !r.has_typed(name), "{name}");
        }
        assert!(!r.contains_key("session_id"));
        assert_eq!(serde_json::to_string(&r).unwrap(), text);
        // A mistyped session_key is not shown either.
        assert!(!format!("{r:?}").contains("secret"));
        for key in [r#"{"a":[1,"x",{}],"b":null}"#, "null", "true", "-5", "[]"] {
            let text = format!(r#"{{"x":1,"session_key":{key},"y":2}}"#);
            let r = parse(&text);
            assert!(
                r.session_key.is_none() && r.contains_key("session_key"),
                "{key}"
            );
            assert_eq!(serde_json::to_string(&r).unwrap(), text);
        }
        // Seen twice: the last one wins, in the first place.
        let r = parse(&format!(
            r#"{{"session_key":"{KEY}","x":1,"session_key":5}}"#
        ));
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"session_key":5,"x":1}"#
        );
        let r = parse(&format!(
            r#"{{"session_key":5,"x":1,"session_key":"{KEY}"}}"#
        ));
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            format!(r#"{{"session_key":"{KEY}","x":1}}"#)
        );
    }

    #[test]
    fn a_key_seen_twice_keeps_the_last_value_in_the_first_place() {
        let r = parse(
            r#"{"room_id":"!a","z":1,"room_id":5,"z":{"n":2},"algorithm":"x","room_id":"!b"}"#,
        );
        assert_eq!(r.room_id.as_deref(), Some("!b"));
        assert!(r.extra.get("room_id").is_none());
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"room_id":"!b","z":{"n":2},"algorithm":"x"}"#
        );
        let r = parse(r#"{"room_id":"!a","algorithm":"x","room_id":[1]}"#);
        assert_eq!(r.room_id, None);
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"room_id":[1],"algorithm":"x"}"#
        );
    }

    #[test]
    fn debug_never_shows_the_session_key() {
        let r = parse(&format!(r#"{{"room_id":"!r:x","session_key":"{KEY}"}}"#));
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("secret"), "{dbg}");
        assert!(dbg.contains("!r:x") && dbg.contains("<redacted>"), "{dbg}");
    }

    #[test]
    fn filing_and_removing_fields_keep_the_order_of_the_others() {
        let mut r = parse(r#"{"algorithm":"a","session_id":"old","x":1,"room_id":"!old","y":2}"#);
        r.file_under(Some("!new".into()), "new".into());
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"room_id":"!new","session_id":"new","algorithm":"a","x":1,"y":2}"#
        );
        r.file_under(None, "again".into());
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"session_id":"again","algorithm":"a","x":1,"y":2}"#
        );
        r.remove("x");
        r.remove("session_id");
        r.extra
            .insert("x".into(), RawValue::from_string("3".into()).unwrap());
        r.untrusted = Some(true);
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"algorithm":"a","y":2,"untrusted":true,"x":3}"#
        );
    }

    #[test]
    fn pretty_is_serde_jsons_pretty_with_raw_values_indented() {
        let text =
            r#"[{"a":{"b":[1,{},[],{"c":"x,y:[z]"}],"d":{}},"e":[],"f":-1.50e+3,"g":"\"{"}]"#;
        let want = r#"[
  {
    "a": {
      "b": [
        1,
        {},
        [],
        {
          "c": "x,y:[z]"
        }
      ],
      "d": {}
    },
    "e": [],
    "f": -1.50e+3,
    "g": "\"{"
  }
]"#;
        // What serde_json's pretty printer makes of the same structure.
        let plain = serde_json::json!([{"a": {"b": [1, {}, [], {"c": "x,y:[z]"}], "d": {}}, "e": [], "f": -1, "g": "\"{"}]);
        assert_eq!(
            serde_json::to_string_pretty(&plain).unwrap(),
            want.replace("-1.50e+3", "-1")
        );
        let records: Vec<SessionRecord> = serde_json::from_str(text).unwrap();
        let mut got = Vec::new();
        to_writer_pretty(&mut got, &records).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), want);
        let mut empty = Vec::new();
        to_writer_pretty(&mut empty, &Vec::<SessionRecord>::new()).unwrap();
        assert_eq!(empty, b"[]");
    }
}
