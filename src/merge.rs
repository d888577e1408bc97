//! Deduplicating and merging the sessions of exports (spec "Key export format").
//!
//! The first index of a session key is the first message it decrypts, so lower is better.
//! Checking one session is [`crate::session::validate`]; what needs a whole file or several is
//! here:
//!
//! * [`Duplicates`] finds a session that appears earlier in the same file (same `session_id` and
//!   `session_key`), keeping a hash of each, not the keys; [`validate_all`] checks a whole file.
//! * [`merge`] unites several files: one copy per session, the one that decrypts the most
//!   history (lowest first index), then the shortest forwarding chain, then a trusted one. Copies
//!   that claim the same session but are not the same ratchet (one advanced does not give the
//!   other) are a conflict: neither is kept, because mxkeys cannot tell which one is real.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::megolm::SessionKey;
use crate::session::{validate, Problem, Report, ReportStatus, SessionRecord};

/// Finds sessions that appear twice in one file: the same `session_id` and `session_key` as an
/// earlier session. Only a SHA-256 of each pair is kept, so a file of any size can be checked as
/// it streams by without holding its keys.
#[derive(Debug, Default)]
pub struct Duplicates {
    seen: HashSet<[u8; 32]>,
}

impl Duplicates {
    /// Nothing seen yet.
    pub fn new() -> Self {
        Duplicates::default()
    }

    /// Note `s`, in file order; the `duplicate` warning when an earlier session had the same
    /// `session_id` and `session_key`. A session without both (as strings) is never one.
    pub fn check(&mut self, s: &SessionRecord) -> Option<Problem> {
        let (Some(id), Some(key)) = (&s.session_id, &s.session_key) else {
            return None;
        };
        let mut h = Sha256::new();
        // Length-prefixed, so that no two different pairs hash the same text.
        h.update((id.len() as u64).to_le_bytes());
        h.update(id.as_bytes());
        h.update(key.expose().as_bytes());
        if self.seen.insert(h.finalize().into()) {
            return None;
        }
        Some(Problem {
            code: "duplicate",
            why: "the same session appears earlier in this file".into(),
            warning: true,
        })
    }
}

/// Validate a whole file: every session in parallel, then duplicates ([`Duplicates`]).
pub fn validate_all(sessions: &[SessionRecord]) -> Vec<Report> {
    let mut reports: Vec<Report> = sessions
        .par_iter()
        .enumerate()
        .map(|(i, s)| validate(i, s))
        .collect();
    let mut seen = Duplicates::new();
    for (s, r) in sessions.iter().zip(reports.iter_mut()) {
        r.problems.extend(seen.check(s));
    }
    reports
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
pub fn merge(inputs: &[Vec<SessionRecord>]) -> (Vec<&SessionRecord>, MergeReport) {
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
            if r.status() == ReportStatus::Invalid {
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
                .session_key
                .as_ref()
                .map(|k| SessionKey::from_base64(k.expose()))
            else {
                continue;
            };
            let sid = key.session_id();
            let copy = Copy {
                input,
                first_index: key.first_index(),
                chain: s
                    .forwarding_curve25519_key_chain
                    .as_ref()
                    .map_or(0, Vec::len),
                untrusted: s.untrusted.unwrap_or(false),
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

    fn parse(text: &str) -> SessionRecord {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn duplicates_need_the_same_id_and_key() {
        let mut d = Duplicates::new();
        let a = parse(r#"{"session_id":"s","session_key":"k","room_id":"!a"}"#);
        assert_eq!(d.check(&a), None);
        let again = d.check(&parse(
            r#"{"room_id":"!b","session_key":"k","session_id":"s"}"#,
        ));
        assert_eq!(
            again.map(|p| (p.code, p.warning)),
            Some(("duplicate", true))
        );
        for other in [
            r#"{"session_id":"s","session_key":"k2"}"#,
            r#"{"session_id":"s2","session_key":"k"}"#,
            r#"{"session_id":"sk","session_key":""}"#,
            r#"{"session_id":"s"}"#,
            r#"{"session_id":"s","session_key":5}"#,
        ] {
            assert_eq!(d.check(&parse(other)), None, "{other}");
        }
        assert!(d
            .check(&parse(r#"{"session_id":"s","session_key":"k2"}"#))
            .is_some());
    }

    #[test]
    fn validate_all_adds_duplicates_after_each_sessions_own_problems() {
        let s = parse(r#"{"session_id":"s","session_key":"!!"}"#);
        let reports = validate_all(&[s.clone(), s]);
        let codes = |r: &Report| r.problems.iter().map(|p| p.code).collect::<Vec<_>>();
        assert_eq!(reports.len(), 2);
        assert_eq!(reports[1].index, 1);
        assert_eq!(codes(&reports[1]).last(), Some(&"duplicate"));
        assert_eq!(
            codes(&reports[1])[..codes(&reports[1]).len() - 1],
            codes(&reports[0])[..]
        );
    }
}
