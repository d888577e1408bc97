//! Checking one session (spec "Key export format").
//!
//! Facts the checks rest on: real exports and backups carry the 165-byte unsigned session key
//! (`0x01`, see [`crate::megolm`]), even though the spec's example shows a signed `Ag...` one;
//! `session_id` is the unpadded base64 of the key's Ed25519 public key, so a session whose id is
//! not its key's is corrupt or forged; the first index is the first message the key decrypts, so
//! lower is better. Clients add fields: the shared-history flag in three spellings
//! (`org.matrix.msc3061.shared_history`, `m.shared_history`, `shared_history`), `untrusted`, and
//! others, kept byte for byte; old mautrix-go exports have an empty `sender_claimed_keys`.
//!
//! [`validate`] checks required fields and their types, the algorithm, base64, the key's
//! version, length and signature, that `session_id` is the key's, the sender keys. Duplicates
//! need the whole file: [`crate::merge::Duplicates`] finds them.

use serde::Serialize;

use super::SessionRecord;
use crate::encoding::{decode_lenient, encode_unpadded};
use crate::megolm::{SessionKey, SessionKeyError, ALGORITHM};

/// The fields the spec requires (each with its JSON type, which [`SessionRecord`] checks).
const REQUIRED: [&str; 7] = [
    "algorithm",
    "room_id",
    "sender_key",
    "session_id",
    "session_key",
    "sender_claimed_keys",
    "forwarding_curve25519_key_chain",
];

/// One problem found in a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Short code, e.g. `session_id_mismatch`.
    pub code: &'static str,
    /// What exactly, for a person.
    pub why: String,
    /// Warnings do not make the session invalid.
    pub warning: bool,
}

/// The verdict on one session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Position in its file.
    pub index: usize,
    /// `room_id` as written.
    pub room_id: Option<String>,
    /// `session_id` as written.
    pub session_id: Option<String>,
    /// First message index of the key, when its structure allows reading it.
    pub first_index: Option<u32>,
    /// Every problem.
    pub problems: Vec<Problem>,
}

/// What a [`Report`] comes to ([`Report::status`]). Serialized as [`ReportStatus::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// `ok`: no problem.
    Ok,
    /// `warning`: only warnings.
    Warning,
    /// `invalid`: at least one problem that is not a warning.
    Invalid,
}

impl ReportStatus {
    /// `ok`, `warning` or `invalid`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Ok => "ok",
            ReportStatus::Warning => "warning",
            ReportStatus::Invalid => "invalid",
        }
    }
}

impl std::fmt::Display for ReportStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Report {
    /// [`ReportStatus::Invalid`] when a problem is not a warning, [`ReportStatus::Ok`] when
    /// there is none, else [`ReportStatus::Warning`].
    pub fn status(&self) -> ReportStatus {
        if self.problems.iter().any(|p| !p.warning) {
            ReportStatus::Invalid
        } else if self.problems.is_empty() {
            ReportStatus::Ok
        } else {
            ReportStatus::Warning
        }
    }
}

fn problem(code: &'static str, why: impl Into<String>) -> Problem {
    Problem {
        code,
        why: why.into(),
        warning: false,
    }
}

fn is_key32(s: &str) -> bool {
    decode_lenient(s).is_ok_and(|b| b.len() == 32)
}

/// Check one session (everything but duplicates, which need the whole file:
/// [`crate::merge::Duplicates`]).
pub fn validate(index: usize, s: &SessionRecord) -> Report {
    validate_keyed(index, s, |_| false).0
}

/// [`validate`], for callers that check many copies of the same keys (`export merge`): `known`
/// sees the decoded `session_key` bytes first, and when it says they are bytes already found
/// good (the caller keeps the proof), the key's Ed25519 point is not decompressed again; its
/// `session_id` is still compared. Gives the parsed key too, when it was parsed and is good.
pub fn validate_keyed(
    index: usize,
    s: &SessionRecord,
    known: impl FnOnce(&[u8]) -> bool,
) -> (Report, Option<SessionKey>) {
    let mut good_key = None;
    let mut problems = Vec::new();
    let mut first_index = None;
    for field in REQUIRED {
        if !s.contains_key(field) {
            problems.push(problem("missing_field", format!("no {field}")));
        } else if !s.has_typed(field) {
            problems.push(problem(
                "wrong_type",
                format!("{field} has the wrong JSON type"),
            ));
        }
    }
    if let Some(alg) = &s.algorithm {
        if alg != ALGORITHM {
            problems.push(problem(
                "unknown_algorithm",
                format!("algorithm {alg} is not {ALGORITHM}"),
            ));
        }
    }
    if let Some(key) = &s.session_key {
        match decode_lenient(key.expose()) {
            Err(_) => problems.push(problem("bad_base64", "session_key is not base64")),
            Ok(bytes) => {
                first_index = SessionKey::peek_index(&bytes);
                let checked = if known(&bytes) {
                    // Bytes found good before: only the id is read from them again.
                    bytes
                        .get(133..165)
                        .map(encode_unpadded)
                        .ok_or(SessionKeyError::BadPublicKey)
                } else {
                    SessionKey::from_bytes(&bytes).map(|k| {
                        let id = k.session_id();
                        good_key = Some(k);
                        id
                    })
                };
                match checked {
                    Ok(key_id) => {
                        if let Some(id) = &s.session_id {
                            if key_id != *id {
                                problems.push(problem(
                                    "session_id_mismatch",
                                    format!(
                                        "session_id is {id} but the key belongs to session {key_id}"
                                    ),
                                ));
                            }
                        }
                    }
                    Err(SessionKeyError::Signature) => problems.push(problem(
                        "bad_signature",
                        "the 0x02 key's signature does not verify",
                    )),
                    Err(e) => problems.push(problem("bad_key", e.to_string())),
                }
            }
        }
    }
    if let Some(sk) = &s.sender_key {
        if !is_key32(sk) {
            problems.push(problem(
                "bad_sender_key",
                "sender_key is not a base64 Curve25519 key (32 bytes)",
            ));
        }
    }
    if let Some(claimed) = &s.sender_claimed_keys {
        if claimed.is_empty() {
            problems.push(Problem {
                code: "empty_sender_claimed_keys",
                why: "sender_claimed_keys is empty (old mautrix-go exports): clients cannot re-share this key or show who sent it".into(),
                warning: true,
            });
        } else if !claimed.get_str("ed25519").is_some_and(|k| is_key32(&k)) {
            problems.push(problem(
                "bad_sender_claimed_keys",
                "sender_claimed_keys.ed25519 is missing or not a base64 Ed25519 key",
            ));
        }
    }
    let report = Report {
        index,
        room_id: s.room_id.clone(),
        session_id: s.session_id.clone(),
        first_index,
        problems,
    };
    (report, good_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_serialize_as_their_names() {
        for (k, name) in [
            (ReportStatus::Ok, "ok"),
            (ReportStatus::Warning, "warning"),
            (ReportStatus::Invalid, "invalid"),
        ] {
            assert_eq!((k.as_str(), k.to_string().as_str()), (name, name));
            assert_eq!(serde_json::to_value(k).unwrap(), name);
        }
    }

    /// The first session of test-vectors/export/sessions-basic.json.
    fn good() -> String {
        let all: Vec<serde_json::Value> = serde_json::from_str(include_str!(
            "../../test-vectors/export/sessions-basic.json"
        ))
        .unwrap();
        serde_json::to_string(&all[0]).unwrap()
    }

    fn codes(text: &str) -> Vec<&'static str> {
        let s: SessionRecord = serde_json::from_str(text).unwrap();
        validate(0, &s).problems.iter().map(|p| p.code).collect()
    }

    #[test]
    fn status_from_problems() {
        let mut r = Report {
            index: 0,
            room_id: None,
            session_id: None,
            first_index: None,
            problems: vec![],
        };
        assert_eq!(r.status(), ReportStatus::Ok);
        r.problems.push(Problem {
            code: "duplicate",
            why: String::new(),
            warning: true,
        });
        assert_eq!(r.status(), ReportStatus::Warning);
        r.problems.push(problem("bad_key", ""));
        assert_eq!(r.status(), ReportStatus::Invalid);
    }

    #[test]
    fn a_good_session_has_no_problem_and_its_first_index() {
        let s: SessionRecord = serde_json::from_str(&good()).unwrap();
        let r = validate(3, &s);
        assert_eq!(
            (r.index, r.status(), r.first_index),
            (3, ReportStatus::Ok, Some(0))
        );
        assert_eq!(r.session_id, s.session_id);
    }

    #[test]
    fn missing_and_mistyped_fields_in_the_specs_order() {
        assert_eq!(
            codes(
                r#"{"algorithm":5,"sender_key":null,"sender_claimed_keys":[],"forwarding_curve25519_key_chain":[1]}"#
            ),
            [
                "wrong_type",
                "missing_field",
                "wrong_type",
                "missing_field",
                "missing_field",
                "wrong_type",
                "wrong_type"
            ]
        );
        let s: SessionRecord = serde_json::from_str(r#"{"room_id":1}"#).unwrap();
        let r = validate(0, &s);
        assert_eq!(r.room_id, None, "a mistyped room_id is not reported as one");
        assert_eq!(
            r.problems.get(1).map(|p| p.why.as_str()),
            Some("room_id has the wrong JSON type")
        );
    }

    #[test]
    fn key_id_and_sender_checks() {
        let good = good();
        let swap = |from: &str, to: &str| good.replacen(from, to, 1);
        let v: serde_json::Value = serde_json::from_str(&good).unwrap();
        let id = v["session_id"].as_str().unwrap();
        let sender = v["sender_key"].as_str().unwrap();
        let ed = v["sender_claimed_keys"]["ed25519"].as_str().unwrap();
        assert_eq!(codes(&swap(id, "AAAA")), ["session_id_mismatch"]);
        assert_eq!(codes(&swap(sender, "AAAA")), ["bad_sender_key"]);
        assert_eq!(codes(&swap(ed, "AAAA")), ["bad_sender_claimed_keys"]);
        assert_eq!(codes(&swap("\"AQAAAA", "\"!!")), ["bad_base64"]);
        assert_eq!(codes(&swap("\"AQAAAA", "\"AwAAAA")), ["bad_key"]);
        assert_eq!(
            codes(&swap("m.megolm.v1.aes-sha2", "m.other")),
            ["unknown_algorithm"]
        );
        let empty = good.replace(&format!("{{\"ed25519\":\"{ed}\"}}"), "{}");
        let s: SessionRecord = serde_json::from_str(&empty).unwrap();
        let r = validate(0, &s);
        assert_eq!(r.status(), ReportStatus::Warning);
        assert_eq!(
            r.problems.first().map(|p| p.code),
            Some("empty_sender_claimed_keys")
        );
    }
}
