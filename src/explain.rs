//! Why an event cannot be read, beyond the keys at hand: what the sender said (withheld
//! notices), who the sender is (MSC4153: devices that are not cross-signed), and history the
//! user was never sent (MSC4268: no room-key bundle for a room that shares its history).
//!
//! [`crate::events`] says *that* an event's session is unknown; a [`Context`] built from the
//! user's other data says *why*, when it can:
//!
//! - **Withheld** (`m.room_key.withheld`, a plain to-device event): the sender's device decided
//!   not to send the key, with a code. `m.unverified`: this device was not verified and the
//!   sender sends only to verified devices; `m.blacklisted`: the sender blocked this device;
//!   `m.unauthorised`: a key request the sender would not answer; `m.unavailable`: the sender no
//!   longer has the key; `m.no_olm`: the sender could not open an Olm channel to this device
//!   (no one-time key left), which covers every session of that sender (it names none);
//!   `m.history_not_shared` (MSC4268): the key is of history the sender does not share.
//! - **Sender device not cross-signed** (MSC4153, with a `/keys/query` response): the device
//!   that sent the event is not signed by its user's self-signing key. Clients that follow
//!   MSC4153 neither send keys to such devices nor show messages from them.
//! - **No history bundle received**: the event is older than the user's join, in a room whose
//!   history visibility lets members read what came before (`shared` or `world_readable`), and
//!   no `m.room_key_bundle` for the room is in the to-device dump: the inviter's client did not
//!   share history (MSC4268), so the keys never came.
//!
//! The to-device dump is read as a client shows it: a JSON array of events, `{"events": [...]}`
//! (a /sync `to_device` section, or a dehydrated device's page), or a whole /sync response.
//! Olm-encrypted events in it cannot be read without the device's keys: they are counted, and a
//! bundle inside one is not seen (`mxkeys dehydrated-device decrypt` decrypts a dehydrated
//! device's).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use crate::events::{Outcome, ENCRYPTED_TYPE};
use crate::identity::{check_user, users, DeviceStatus};

/// A withheld notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Withheld {
    /// `code`.
    pub code: String,
    /// `reason`, the sender's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The user who withheld it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
}

/// What a [`Context`] adds to an undecryptable event's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// The sender withheld the key.
    Withheld(Withheld),
    /// The sending device is not cross-signed by its user (MSC4153).
    SenderNotCrossSigned {
        /// The sender.
        user: String,
        /// The device, when the keys query names it.
        #[serde(skip_serializing_if = "Option::is_none")]
        device: Option<String>,
    },
    /// History from before the user joined, and no bundle for the room (MSC4268).
    NoHistoryBundle {
        /// The room.
        room_id: String,
    },
}

impl Reason {
    /// A stable short name: `withheld`, `sender_not_cross_signed`, `no_history_bundle`.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Withheld(_) => "withheld",
            Reason::SenderNotCrossSigned { .. } => "sender_not_cross_signed",
            Reason::NoHistoryBundle { .. } => "no_history_bundle",
        }
    }

    /// One sentence for a person.
    pub fn explain(&self) -> String {
        match self {
            Reason::Withheld(w) => {
                let what = match w.code.as_str() {
                    "m.unverified" => "this device was not verified, and the sender sends keys only to verified devices",
                    "m.blacklisted" => "the sender blocked this device",
                    "m.unauthorised" => "the sender would not give the key to this device (it was not authorised to receive it)",
                    "m.unavailable" => "the sender no longer had the key when this device asked for it",
                    "m.no_olm" => "the sender could not open an encrypted channel to this device (its one-time keys had run out)",
                    "m.history_not_shared" => "the key is of history the sender does not share with people who joined later",
                    _ => "the sender gave a code not in the spec",
                };
                format!(
                    "the key was withheld by {} ({}): {what}{}",
                    w.sender.as_deref().unwrap_or("the sender"),
                    w.code,
                    w.reason
                        .as_deref()
                        .map(|r| format!("; their reason: {r:?}"))
                        .unwrap_or_default()
                )
            }
            Reason::SenderNotCrossSigned { user, device } => format!(
                "the sending device{} of {user} is not cross-signed by its user: clients that exclude insecure devices (MSC4153) do not send keys to it or accept messages from it",
                device.as_deref().map(|d| format!(" {d}")).unwrap_or_default()
            ),
            Reason::NoHistoryBundle { room_id } => format!(
                "sent before you joined {room_id}, which shares its history, but no history bundle for the room was received: the inviter's client did not share the room's keys (MSC4268); ask someone who was there to export them"
            ),
        }
    }
}

/// What a to-device dump held.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ToDeviceSummary {
    /// Events read.
    pub events: u64,
    /// Withheld notices.
    pub withheld: u64,
    /// Room-key bundles (plaintext `m.room_key_bundle`).
    pub bundles: u64,
    /// Olm-encrypted events, which cannot be read here.
    pub encrypted: u64,
}

/// What is known beyond the keys; see the module docs.
#[derive(Debug, Default)]
pub struct Context {
    /// Withheld notices by session id.
    withheld: HashMap<String, Withheld>,
    /// `m.no_olm` notices (no session id) by the sender's Curve25519 key.
    no_olm: HashMap<String, Withheld>,
    /// Rooms a bundle was received for.
    bundles: HashSet<String>,
    /// The user whose history this is (for joins).
    user: Option<String>,
    /// The user's (latest) join per room, as origin_server_ts.
    joined: HashMap<String, u64>,
    /// Rooms whose history visibility lets members read what came before their join.
    shares_history: HashSet<String>,
    /// Device status by Curve25519 key: (user, device id, cross-signed).
    devices: HashMap<String, (String, String, bool)>,
    /// Users the keys query covers.
    queried: HashSet<String>,
}

/// The events of a to-device dump, in any of its shapes.
fn to_device_events(doc: &Value) -> Option<&Vec<Value>> {
    match doc {
        Value::Array(a) => Some(a),
        Value::Object(o) => o
            .get("events")
            .and_then(Value::as_array)
            .or_else(|| doc.get("to_device")?.get("events")?.as_array()),
        _ => None,
    }
}

fn str_of(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

impl Context {
    /// An empty context: it explains nothing until given data.
    pub fn new() -> Self {
        Self::default()
    }

    /// The user whose history is diagnosed (their join events matter).
    pub fn set_user(&mut self, user: &str) {
        self.user = Some(user.to_owned());
    }

    /// Read a to-device dump.
    ///
    /// # Errors
    /// A description when `doc` has no list of events.
    pub fn add_to_device(&mut self, doc: &Value) -> Result<ToDeviceSummary, String> {
        let events = to_device_events(doc).ok_or(
            "not a to-device dump: expected a JSON array of events, {\"events\": [...]}, or a /sync response with to_device.events",
        )?;
        let mut sum = ToDeviceSummary::default();
        for ev in events {
            sum.events += 1;
            let content = ev.get("content").unwrap_or(&Value::Null);
            match ev.get("type").and_then(Value::as_str).unwrap_or("") {
                "m.room_key.withheld" | "org.matrix.room_key.withheld" => {
                    sum.withheld += 1;
                    let Some(code) = str_of(content, "code") else {
                        continue;
                    };
                    let w = Withheld {
                        code,
                        reason: str_of(content, "reason"),
                        sender: str_of(ev, "sender"),
                    };
                    match (str_of(content, "session_id"), str_of(content, "sender_key")) {
                        (Some(sid), _) => {
                            self.withheld.insert(sid, w);
                        }
                        (None, Some(key)) => {
                            self.no_olm.insert(key, w);
                        }
                        _ => {}
                    }
                }
                "m.room_key_bundle" | "io.element.msc4268.room_key_bundle" => {
                    sum.bundles += 1;
                    if let Some(room) = str_of(content, "room_id") {
                        self.bundles.insert(room);
                    }
                }
                ENCRYPTED_TYPE => sum.encrypted += 1,
                _ => {}
            }
        }
        Ok(sum)
    }

    /// A room-key bundle received for `room` by other means (a decrypted dehydrated device).
    pub fn add_bundle(&mut self, room: &str) {
        self.bundles.insert(room.to_owned());
    }

    /// Read a `/keys/query` response: every device's cross-signing status, by its Curve25519
    /// key. `viewer` is the user who asked (their own user-signing key is not needed here).
    pub fn add_keys_query(&mut self, resp: &Value, viewer: &str) {
        for user in users(resp) {
            let report = check_user(resp, &user, viewer);
            self.queried.insert(user.clone());
            let Some(devices) = resp
                .get("device_keys")
                .and_then(|d| d.get(&user))
                .and_then(Value::as_object)
            else {
                continue;
            };
            for (id, dk) in devices {
                let Some(curve) = dk
                    .get("keys")
                    .and_then(|k| k.get(format!("curve25519:{id}")))
                    .and_then(Value::as_str)
                else {
                    continue;
                };
                let signed = report.devices.get(id) == Some(&DeviceStatus::CrossSigned);
                self.devices
                    .insert(curve.to_owned(), (user.clone(), id.clone(), signed));
            }
        }
    }

    /// Learn from a timeline event: the user's joins and each room's history visibility.
    /// Feed every event of the history (state events are among them), in any order.
    pub fn add_timeline_event(&mut self, ev: &Value) {
        let (Some(room), Some(kind)) = (
            ev.get("room_id").and_then(Value::as_str),
            ev.get("type").and_then(Value::as_str),
        ) else {
            return;
        };
        let content = ev.get("content").unwrap_or(&Value::Null);
        match kind {
            "m.room.member" => {
                let me = self.user.as_deref();
                if me.is_some()
                    && ev.get("state_key").and_then(Value::as_str) == me
                    && content.get("membership").and_then(Value::as_str) == Some("join")
                {
                    if let Some(ts) = ev.get("origin_server_ts").and_then(Value::as_u64) {
                        let e = self.joined.entry(room.to_owned()).or_insert(ts);
                        *e = (*e).max(ts);
                    }
                }
            }
            "m.room.history_visibility" => {
                let v = content.get("history_visibility").and_then(Value::as_str);
                if matches!(v, Some("shared" | "world_readable")) {
                    self.shares_history.insert(room.to_owned());
                } else {
                    self.shares_history.remove(room);
                }
            }
            _ => {}
        }
    }

    /// Why `ev` could not be decrypted, when this context knows. Only an unknown session is
    /// explained (the other outcomes explain themselves).
    pub fn explain(&self, ev: &Value, outcome: &Outcome) -> Option<Reason> {
        let Outcome::UnknownSession { session_id, .. } = outcome else {
            return None;
        };
        let content = ev.get("content").unwrap_or(&Value::Null);
        let sender_key = content.get("sender_key").and_then(Value::as_str);
        if let Some(w) = self
            .withheld
            .get(session_id)
            .or_else(|| sender_key.and_then(|k| self.no_olm.get(k)))
        {
            return Some(Reason::Withheld(w.clone()));
        }
        if let (Some(room), Some(ts)) = (
            ev.get("room_id").and_then(Value::as_str),
            ev.get("origin_server_ts").and_then(Value::as_u64),
        ) {
            if self.shares_history.contains(room)
                && self.joined.get(room).is_some_and(|joined| ts < *joined)
                && !self.bundles.contains(room)
            {
                return Some(Reason::NoHistoryBundle {
                    room_id: room.to_owned(),
                });
            }
        }
        self.not_cross_signed(ev)
    }

    /// For an event that decrypts: a warning when its sending device is not cross-signed
    /// (MSC4153 clients would not show it), else `None`.
    pub fn warn(&self, ev: &Value, outcome: &Outcome) -> Option<Reason> {
        match outcome {
            Outcome::Ok { .. } => self.not_cross_signed(ev),
            _ => None,
        }
    }

    /// [`Reason::SenderNotCrossSigned`] when the keys query covers the sender and the device
    /// with the event's `sender_key` is theirs and not cross-signed.
    fn not_cross_signed(&self, ev: &Value) -> Option<Reason> {
        let sender = ev.get("sender").and_then(Value::as_str)?;
        if !self.queried.contains(sender) {
            return None;
        }
        let key = ev
            .get("content")
            .and_then(|c| c.get("sender_key"))
            .and_then(Value::as_str)?;
        match self.devices.get(key) {
            Some((user, device, false)) if user == sender => Some(Reason::SenderNotCrossSigned {
                user: user.clone(),
                device: Some(device.clone()),
            }),
            _ => None,
        }
    }

    /// How much it knows, for a summary line.
    pub fn describe(&self) -> BTreeMap<&'static str, usize> {
        BTreeMap::from([
            ("withheld", self.withheld.len() + self.no_olm.len()),
            ("bundles", self.bundles.len()),
            ("joins", self.joined.len()),
            ("rooms_sharing_history", self.shares_history.len()),
            ("devices", self.devices.len()),
        ])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    fn unknown(sid: &str) -> Outcome {
        Outcome::UnknownSession {
            session_id: sid.into(),
            message_index: 0,
        }
    }

    fn event(room: &str, ts: u64, sid: &str, key: &str) -> Value {
        json!({"type": "m.room.encrypted", "room_id": room, "sender": "@bob:x",
               "origin_server_ts": ts,
               "content": {"algorithm": "m.megolm.v1.aes-sha2", "session_id": sid, "sender_key": key}})
    }

    #[test]
    fn withheld_by_session_and_no_olm_by_sender_key() {
        let mut c = Context::new();
        let dump = json!({"to_device": {"events": [
            {"type": "m.room_key.withheld", "sender": "@bob:x",
             "content": {"code": "m.unverified", "room_id": "!a:x", "session_id": "S1", "sender_key": "K"}},
            {"type": "m.room_key.withheld", "sender": "@carol:x",
             "content": {"code": "m.no_olm", "reason": "no keys", "sender_key": "CK"}},
            {"type": "m.room.encrypted", "content": {}},
        ]}});
        let sum = c.add_to_device(&dump).unwrap();
        assert_eq!((sum.events, sum.withheld, sum.encrypted), (3, 2, 1));
        let r = c
            .explain(&event("!a:x", 1, "S1", "K"), &unknown("S1"))
            .unwrap();
        assert_eq!(r.code(), "withheld");
        assert!(r.explain().contains("not verified"), "{}", r.explain());
        let r = c
            .explain(&event("!a:x", 1, "S9", "CK"), &unknown("S9"))
            .unwrap();
        assert!(r.explain().contains("one-time keys"), "{}", r.explain());
        assert!(r.explain().contains("\"no keys\""));
        // Another session of another sender: nothing known.
        assert_eq!(
            c.explain(&event("!a:x", 1, "S2", "K"), &unknown("S2")),
            None
        );
        // Outcomes other than an unknown session are not explained here.
        let late = Outcome::TooLate {
            session_id: "S1".into(),
            message_index: 0,
            first_known_index: 4,
        };
        assert_eq!(c.explain(&event("!a:x", 1, "S1", "K"), &late), None);
    }

    #[test]
    fn history_before_the_join_without_a_bundle() {
        let mut c = Context::new();
        c.set_user("@me:x");
        for ev in [
            json!({"type": "m.room.history_visibility", "room_id": "!a:x", "state_key": "", "content": {"history_visibility": "shared"}}),
            json!({"type": "m.room.member", "room_id": "!a:x", "state_key": "@me:x", "origin_server_ts": 100, "content": {"membership": "join"}}),
            json!({"type": "m.room.history_visibility", "room_id": "!b:x", "state_key": "", "content": {"history_visibility": "joined"}}),
            json!({"type": "m.room.member", "room_id": "!b:x", "state_key": "@me:x", "origin_server_ts": 100, "content": {"membership": "join"}}),
            json!({"type": "m.room.member", "room_id": "!a:x", "state_key": "@other:x", "origin_server_ts": 500, "content": {"membership": "join"}}),
        ] {
            c.add_timeline_event(&ev);
        }
        let before = event("!a:x", 50, "S", "K");
        assert_eq!(
            c.explain(&before, &unknown("S")).map(|r| r.code()),
            Some("no_history_bundle")
        );
        // After the join; or a room that does not share history: not this reason.
        assert_eq!(
            c.explain(&event("!a:x", 150, "S", "K"), &unknown("S")),
            None
        );
        assert_eq!(c.explain(&event("!b:x", 50, "S", "K"), &unknown("S")), None);
        // With a bundle received for the room, the keys were offered: not this reason.
        c.add_to_device(
            &json!([{"type": "m.room_key_bundle", "content": {"room_id": "!a:x", "file": {}}}]),
        )
        .unwrap();
        assert_eq!(c.explain(&before, &unknown("S")), None);
    }

    #[test]
    fn a_sender_device_that_is_not_cross_signed() {
        // matrix-sdk-crypto-wasm made this response: ALICEDEV2 is not cross-signed, ALICEDEV1 is.
        let resp: Value = serde_json::from_str(include_str!(
            "../test-vectors/identity/keys-query/mixed-alice2-not-cross-signed.json"
        ))
        .unwrap();
        let curve = |dev: &str| {
            resp["device_keys"]["@alice:example.org"][dev]["keys"][format!("curve25519:{dev}")]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let mut c = Context::new();
        c.add_keys_query(&resp, "@bob:example.org");
        let from = |dev: &str| {
            let mut e = event("!a:x", 1, "S", &curve(dev));
            e["sender"] = json!("@alice:example.org");
            e
        };
        assert_eq!(
            c.explain(&from("ALICEDEV2"), &unknown("S")),
            Some(Reason::SenderNotCrossSigned {
                user: "@alice:example.org".into(),
                device: Some("ALICEDEV2".into()),
            })
        );
        assert_eq!(c.explain(&from("ALICEDEV1"), &unknown("S")), None);
        // A sender that claims another user's device key: not this reason.
        let mut forged = from("ALICEDEV2");
        forged["sender"] = json!("@bob:example.org");
        assert_eq!(c.explain(&forged, &unknown("S")), None);
    }

    #[test]
    fn a_dump_that_is_not_one_says_so() {
        let mut c = Context::new();
        assert!(c.add_to_device(&json!({"rooms": {}})).is_err());
        assert!(c.add_to_device(&json!(5)).is_err());
        assert_eq!(c.add_to_device(&json!([])).unwrap().events, 0);
    }
}
