//! Validating, merging and rewriting the sessions of exports (spec "Key export format").
//!
//! Facts the checks rest on: real exports and backups carry the 165-byte unsigned session key
//! (`0x01`, see [`crate::megolm`]), even though the spec's example shows a signed `Ag...` one;
//! `session_id` is the unpadded base64 of the key's Ed25519 public key, so a session whose id is
//! not its key's is corrupt or forged; the first index is the first message the key decrypts, so
//! lower is better. Clients add fields: the shared-history flag in three spellings
//! (`org.matrix.msc3061.shared_history`, `m.shared_history`, `shared_history`), `untrusted`, and
//! others, kept byte for byte; old mautrix-go exports have an empty `sender_claimed_keys`.
//!
//! * [`validate`] checks one session: required fields and their types, the algorithm, base64,
//!   the key's version, length and signature, that `session_id` is the key's, the sender keys.
//! * [`merge`] unites several files: one copy per session, the one that decrypts the most
//!   history (lowest first index), then the shortest forwarding chain, then a trusted one. Copies
//!   that claim the same session but are not the same ratchet (one advanced does not give the
//!   other) are a conflict: neither is kept, because mxkeys cannot tell which one is real.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::encoding::decode_lenient;
use crate::megolm::{SessionKey, SessionKeyError, ALGORITHM};

/// The fields the spec requires, with the JSON type each must have.
const REQUIRED: [(&str, Kind); 7] = [
    ("algorithm", Kind::String),
    ("room_id", Kind::String),
    ("sender_key", Kind::String),
    ("session_id", Kind::String),
    ("session_key", Kind::String),
    ("sender_claimed_keys", Kind::Object),
    ("forwarding_curve25519_key_chain", Kind::StringArray),
];

#[derive(Clone, Copy)]
enum Kind {
    String,
    Object,
    StringArray,
}

/// Spellings of the shared-history flag (MSC3061), and who reads them.
pub const SHARED_HISTORY: [(&str, &str); 3] = [
    ("m.shared_history", "matrix-rust-sdk (Element X, Element Web/Desktop with Rust crypto) reads and writes this"),
    ("org.matrix.msc3061.shared_history", "matrix-js-sdk's legacy crypto wrote this; matrix-rust-sdk reads it as an alias but refuses a session with both"),
    ("shared_history", "seen in some exports; no known client reads it"),
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

impl Report {
    /// `ok`, `warning` or `invalid`.
    pub fn status(&self) -> &'static str {
        if self.problems.iter().any(|p| !p.warning) {
            "invalid"
        } else if self.problems.is_empty() {
            "ok"
        } else {
            "warning"
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

/// Check one session object (everything but duplicates, which need the whole file).
pub fn validate(index: usize, s: &Map<String, Value>) -> Report {
    let text = |k: &str| s.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut problems = Vec::new();
    let mut first_index = None;
    for (field, kind) in REQUIRED {
        let ok = match (s.get(field), kind) {
            (None, _) => {
                problems.push(problem("missing_field", format!("no {field}")));
                continue;
            }
            (Some(v), Kind::String) => v.is_string(),
            (Some(v), Kind::Object) => v.is_object(),
            (Some(v), Kind::StringArray) => {
                v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
            }
        };
        if !ok {
            problems.push(problem(
                "wrong_type",
                format!("{field} has the wrong JSON type"),
            ));
        }
    }
    if let Some(alg) = text("algorithm") {
        if alg != ALGORITHM {
            problems.push(problem(
                "unknown_algorithm",
                format!("algorithm {alg} is not {ALGORITHM}"),
            ));
        }
    }
    if let Some(key) = text("session_key") {
        match decode_lenient(&key) {
            Err(_) => problems.push(problem("bad_base64", "session_key is not base64")),
            Ok(bytes) => {
                first_index = SessionKey::peek_index(&bytes);
                match SessionKey::from_bytes(&bytes) {
                    Ok(k) => {
                        if let Some(id) = text("session_id") {
                            if k.session_id() != id {
                                problems.push(problem(
                                    "session_id_mismatch",
                                    format!(
                                        "session_id is {id} but the key belongs to session {}",
                                        k.session_id()
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
    if let Some(sk) = text("sender_key") {
        if !is_key32(&sk) {
            problems.push(problem(
                "bad_sender_key",
                "sender_key is not a base64 Curve25519 key (32 bytes)",
            ));
        }
    }
    if let Some(claimed) = s.get("sender_claimed_keys").and_then(Value::as_object) {
        if claimed.is_empty() {
            problems.push(Problem {
                code: "empty_sender_claimed_keys",
                why: "sender_claimed_keys is empty (old mautrix-go exports): clients cannot re-share this key or show who sent it".into(),
                warning: true,
            });
        } else if !claimed
            .get("ed25519")
            .and_then(Value::as_str)
            .is_some_and(is_key32)
        {
            problems.push(problem(
                "bad_sender_claimed_keys",
                "sender_claimed_keys.ed25519 is missing or not a base64 Ed25519 key",
            ));
        }
    }
    Report {
        index,
        room_id: text("room_id"),
        session_id: text("session_id"),
        first_index,
        problems,
    }
}

/// Validate a whole file: every session in parallel, then duplicates (same session_id and
/// session_key as an earlier element).
pub fn validate_all(sessions: &[Map<String, Value>]) -> Vec<Report> {
    let mut reports: Vec<Report> = sessions
        .par_iter()
        .enumerate()
        .map(|(i, s)| validate(i, s))
        .collect();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for (s, r) in sessions.iter().zip(reports.iter_mut()) {
        if let (Some(id), Some(key)) = (
            s.get("session_id").and_then(Value::as_str),
            s.get("session_key").and_then(Value::as_str),
        ) {
            if !seen.insert((id.to_owned(), key.to_owned())) {
                r.problems.push(Problem {
                    code: "duplicate",
                    why: "the same session appears earlier in this file".into(),
                    warning: true,
                });
            }
        }
    }
    reports
}

/// Notes on how a session spells the shared-history flag.
pub fn shared_history_spellings(s: &Map<String, Value>) -> Vec<&'static str> {
    SHARED_HISTORY
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| s.contains_key(*k))
        .collect()
}

/// A session's copy in one input.
#[derive(Debug, Clone)]
struct Copy {
    input: usize,
    first_index: u32,
    chain: usize,
    untrusted: bool,
    key: std::sync::Arc<SessionKey>,
    /// Position in its input; the session itself is cloned only if it wins.
    index: usize,
}

/// A group's verdict: the winner (its position among the copies, the copy), or a conflict (the
/// inputs holding copies).
type Decision = Result<(usize, Copy), Vec<usize>>;

/// What a merge did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MergeReport {
    /// Inputs merged.
    pub inputs: usize,
    /// Sessions read in all inputs.
    pub read: usize,
    /// Sessions in the output.
    pub unique: usize,
    /// Sessions whose first-seen copy was replaced by a better one.
    pub replaced: usize,
    /// Sessions left out because their copies disagree, in order of first appearance.
    pub conflicts: Vec<Conflict>,
    /// Invalid sessions dropped.
    pub invalid: Vec<Dropped>,
    /// For every session found in two or more inputs: whose copy won.
    pub chosen: Vec<Chosen>,
}

/// A session whose copies are not the same ratchet.
#[derive(Debug, Clone, Serialize)]
pub struct Conflict {
    /// The session.
    pub session_id: String,
    /// Inputs holding a copy (indexes into the input list).
    pub inputs: Vec<usize>,
}

/// An invalid session that was left out.
#[derive(Debug, Clone, Serialize)]
pub struct Dropped {
    /// The input it was in.
    pub input: usize,
    /// Its position there.
    pub index: usize,
    /// Its session id, as written.
    pub session_id: Option<String>,
    /// Why.
    pub why: String,
}

/// Which input's copy of a session won.
#[derive(Debug, Clone, Serialize)]
pub struct Chosen {
    /// The session.
    pub session_id: String,
    /// The winning input.
    pub from: usize,
    /// Its first index.
    pub first_index: u32,
}

/// Merge several inputs' sessions (see the module docs). The output is each winning copy exactly
/// as it was (no fields merged across copies; borrowed, not copied), in order of first appearance.
pub fn merge(inputs: &[Vec<Map<String, Value>>]) -> (Vec<&Map<String, Value>>, MergeReport) {
    let mut report = MergeReport {
        inputs: inputs.len(),
        ..MergeReport::default()
    };
    let mut order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Vec<Copy>> = HashMap::new();
    for (input, sessions) in inputs.iter().enumerate() {
        report.read += sessions.len();
        let reports = validate_all(sessions);
        for (index, (s, r)) in sessions.iter().zip(reports).enumerate() {
            if r.status() == "invalid" {
                report.invalid.push(Dropped {
                    input,
                    index: r.index,
                    session_id: r.session_id.clone(),
                    why: r
                        .problems
                        .iter()
                        .filter(|p| !p.warning)
                        .map(|p| p.why.clone())
                        .collect::<Vec<_>>()
                        .join("; "),
                });
                continue;
            }
            let Some(Ok(key)) = s
                .get("session_key")
                .and_then(Value::as_str)
                .map(SessionKey::from_base64)
            else {
                continue;
            };
            let sid = key.session_id();
            let copy = Copy {
                input,
                first_index: key.first_index(),
                chain: s
                    .get("forwarding_curve25519_key_chain")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len),
                untrusted: s.get("untrusted").and_then(Value::as_bool).unwrap_or(false),
                key: std::sync::Arc::new(key),
                index,
            };
            let g = groups.entry(sid.clone()).or_default();
            if g.is_empty() {
                order.push(sid);
            }
            g.push(copy);
        }
    }
    // Decide every group in parallel: the ratchet comparisons are the expensive part.
    let decided: Vec<(String, Decision)> = order
        .par_iter()
        .map(|sid| {
            let copies = groups.get(sid).map(Vec::as_slice).unwrap_or_default();
            let lowest = copies.iter().min_by_key(|c| c.first_index);
            let consistent =
                lowest.is_some_and(|low| copies.iter().all(|c| low.key.same_session(&c.key)));
            if !consistent {
                let mut inputs: Vec<usize> = copies.iter().map(|c| c.input).collect();
                inputs.dedup();
                return (sid.clone(), Err(inputs));
            }
            let best = copies
                .iter()
                .enumerate()
                .min_by_key(|(i, c)| (c.first_index, c.chain, c.untrusted, *i))
                .map(|(i, c)| (i, c.clone()));
            match best {
                Some(b) => (sid.clone(), Ok(b)),
                None => (sid.clone(), Err(Vec::new())),
            }
        })
        .collect();
    let mut out = Vec::with_capacity(decided.len());
    for (sid, d) in decided {
        match d {
            Ok((pos, winner)) => {
                let copies = groups.get(&sid).map(Vec::as_slice).unwrap_or_default();
                if pos != 0 {
                    report.replaced += 1;
                }
                let distinct: HashSet<usize> = copies.iter().map(|c| c.input).collect();
                if distinct.len() > 1 {
                    report.chosen.push(Chosen {
                        session_id: sid.clone(),
                        from: winner.input,
                        first_index: winner.first_index,
                    });
                }
                if let Some(s) = inputs.get(winner.input).and_then(|i| i.get(winner.index)) {
                    out.push(s);
                }
            }
            Err(inputs) => report.conflicts.push(Conflict {
                session_id: sid,
                inputs,
            }),
        }
    }
    report.unique = out.len();
    (out, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_from_problems() {
        let mut r = Report {
            index: 0,
            room_id: None,
            session_id: None,
            first_index: None,
            problems: vec![],
        };
        assert_eq!(r.status(), "ok");
        r.problems.push(Problem {
            code: "duplicate",
            why: String::new(),
            warning: true,
        });
        assert_eq!(r.status(), "warning");
        r.problems.push(problem("bad_key", ""));
        assert_eq!(r.status(), "invalid");
    }
}
