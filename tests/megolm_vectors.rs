//! Replays test-vectors/megolm/: sessions from vodozemac, python-olm and matrix-sdk-crypto-wasm
//! (valid, defective, and the same session at several first indexes), with the expected
//! validation verdicts and merge results; and checks merge's properties on them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeSet, HashMap};

use mxkeys::merge::{merge, validate_all};
use mxkeys::session::SessionRecord;
use proptest::prelude::*;
use serde::Deserialize;
use vectors::Vectors;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    validate: Vec<ValidateVector>,
    merge: Vec<MergeVector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateVector {
    file: String,
    made_by: String,
    comment: String,
    sessions: Vec<Expected>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    index: usize,
    session_id: Option<String>,
    status: String,
    codes: Vec<String>,
    first_index: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeVector {
    inputs: Vec<String>,
    made_by: String,
    comment: String,
    unique: usize,
    conflicts: Vec<String>,
    chosen: Vec<ChosenExp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChosenExp {
    session_id: String,
    from: String,
    first_index: u32,
}

#[path = "common/vectors.rs"]
mod vectors;

const V: Vectors = Vectors("megolm");

fn load(name: &str) -> Vec<SessionRecord> {
    V.json(name)
}

#[test]
fn validation_verdicts() {
    let m: Manifest = V.manifest();
    let mut listed = BTreeSet::new();
    let mut codes_seen = BTreeSet::new();
    for v in &m.validate {
        listed.insert(v.file.clone());
        let ctx = format!("{} ({}): {}", v.file, v.made_by, v.comment);
        let sessions = load(&v.file);
        let reports = validate_all(&sessions);
        assert_eq!(reports.len(), v.sessions.len(), "{ctx}");
        for (r, e) in reports.iter().zip(&v.sessions) {
            assert_eq!(r.index, e.index);
            assert_eq!(r.session_id, e.session_id, "{ctx} #{}", e.index);
            let mut got: Vec<&str> = r.problems.iter().map(|p| p.code).collect();
            got.sort_unstable();
            let mut want: Vec<&str> = e.codes.iter().map(String::as_str).collect();
            want.sort_unstable();
            assert_eq!(got, want, "{ctx} #{}: {:?}", e.index, r.problems);
            assert_eq!(r.status().as_str(), e.status, "{ctx} #{}", e.index);
            assert_eq!(r.first_index, e.first_index, "{ctx} #{}", e.index);
            codes_seen.extend(e.codes.iter().cloned());
        }
    }
    V.assert_every_file_listed(&listed);
    assert!(codes_seen.len() >= 10, "{codes_seen:?}");
}

#[test]
fn merge_results() {
    for v in V.manifest::<Manifest>().merge {
        let ctx = format!("{:?} ({}): {}", v.inputs, v.made_by, v.comment);
        let inputs: Vec<_> = v.inputs.iter().map(|f| load(f)).collect();
        let (out, report) = merge(&inputs);
        assert_eq!(out.len(), v.unique, "{ctx}");
        assert_eq!(report.unique, v.unique, "{ctx}");
        let conflicts: Vec<&str> = report
            .conflicts
            .iter()
            .map(|c| c.session_id.as_str())
            .collect();
        assert_eq!(
            conflicts,
            v.conflicts.iter().map(String::as_str).collect::<Vec<_>>(),
            "{ctx}"
        );
        let chosen: Vec<(String, String, u32)> = report
            .chosen
            .iter()
            .map(|c| {
                (
                    c.session_id.clone(),
                    v.inputs[c.from].clone(),
                    c.first_index,
                )
            })
            .collect();
        let want: Vec<(String, String, u32)> = v
            .chosen
            .iter()
            .map(|c| (c.session_id.clone(), c.from.clone(), c.first_index))
            .collect();
        assert_eq!(chosen, want, "{ctx}");
        assert!(report.invalid.is_empty(), "{ctx}");
    }
}

fn all_valid_files() -> Vec<String> {
    V.manifest::<Manifest>()
        .validate
        .into_iter()
        .filter(|v| v.file.starts_with("valid-") || v.file.starts_with("merge-"))
        .map(|v| v.file)
        .collect()
}

fn ids<S: std::borrow::Borrow<SessionRecord>>(sessions: &[S]) -> BTreeSet<String> {
    sessions
        .iter()
        .map(|s| s.borrow().session_id.clone().unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Merge is idempotent, gives the same set whatever the input order, and never loses a
    /// session that was valid in some input unless its copies conflict.
    #[test]
    fn merge_properties(picks in proptest::sample::subsequence(all_valid_files(), 1..6), seed in any::<u64>()) {
        let inputs: Vec<_> = picks.iter().map(|f| load(f)).collect();
        let (out, report) = merge(&inputs);
        let owned: Vec<SessionRecord> = out.iter().map(|s| (*s).clone()).collect();
        let (again, _) = merge(std::slice::from_ref(&owned));
        prop_assert_eq!(&again, &out, "idempotent");
        let mut shuffled = inputs.clone();
        let n = shuffled.len();
        for i in 0..n {
            shuffled.swap(i, ((seed >> (i % 60)) as usize + i) % n);
        }
        let (out2, _) = merge(&shuffled);
        prop_assert_eq!(ids(&out2), ids(&out), "order-independent set");
        let by_id: HashMap<String, &SessionRecord> = out2.iter().map(|s| (s.session_id.clone().unwrap(), *s)).collect();
        for s in &out {
            prop_assert_eq!(by_id[s.session_id.as_ref().unwrap()], *s, "same winner whatever the order");
        }
        let conflicts: BTreeSet<String> = report.conflicts.iter().map(|c| c.session_id.clone()).collect();
        let everything: BTreeSet<String> = inputs.iter().flat_map(|i| ids(i)).collect();
        let kept = ids(&out);
        for id in everything {
            prop_assert!(kept.contains(&id) || conflicts.contains(&id), "lost {}", id);
        }
    }
}
