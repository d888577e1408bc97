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
//!
//! # Merging inputs larger than memory
//!
//! [`merge`] takes sessions in memory. [`Index`] makes the same decisions from streams read
//! more than once, keeping 32 bytes per session plus a 16-byte hash of its id (no key, no JSON
//! text), in a table of about 100 bytes per session at most:
//!
//! 1. [`Index::add_batch`] (or [`Index::check`] + [`Index::add`]) sees every session once, in
//!    input order. Sessions are validated in parallel; invalid ones are handed back
//!    ([`Dropped`]). Per session the index keeps where its best copy is (input and position),
//!    that copy's rank (first index, chain length, trust) and a 16-byte hash of its ratchet at
//!    the first index. Whether two copies are one ratchet is decided exactly as [`merge`] does:
//!    copies at the same index have the same ratchet hash; a copy at a lower index is advanced
//!    to the lowest so far and hashed; a copy at a higher index needs the lowest copy's key,
//!    which is not kept, so its index and ratchet hash wait (16 + 20 bytes per such copy, and
//!    copies that are the same bytes count once).
//! 2. When copies wait, [`Plan::verify_batch`] reads the inputs again, advances each session's
//!    best copy to the waiting indices and compares ([`Plan::needs_verify`]).
//! 3. [`Plan::select_batch`] reads them once more and says which sessions to write: the
//!    winners, and with `keep_conflicts` every valid copy of a conflicting session, each at its
//!    place in input order. It also lists the conflicts, in order of first appearance.
//!
//! A session whose key bytes are those of a copy already checked is not checked again (the
//! Ed25519 point of a session key costs more than everything else in validating it).

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::megolm::SessionKey;
use crate::session::{validate, Problem, RawBatch, Report, ReportStatus, SessionRecord};

/// Finds sessions that appear twice in one file: the same `session_id` and `session_key` as an
/// earlier session. Only 16 bytes of a SHA-256 of each pair are kept, so a file of any size can be checked as
/// it streams by without holding its keys.
#[derive(Debug, Default)]
pub struct Duplicates {
    /// The first 16 bytes of each pair's SHA-256: two different pairs agree on them with
    /// probability 2^-128, so a million sessions still see no false duplicate (about 2^-89), at
    /// half the memory of the whole hash (1M sessions: 35 MB of table instead of 69 MB).
    seen: HashSet<[u8; 16]>,
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
        let mut short = [0u8; 16];
        short.copy_from_slice(h.finalize().get(..16).unwrap_or_default());
        if self.seen.insert(short) {
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

/// What [`merge`] and [`Plan::report`] say.
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
    /// Invalid sessions dropped ([`Plan::report`] leaves this empty: [`Index::add`] handed each
    /// one back as it came).
    pub invalid: Vec<Dropped>,
    /// For every session found in two or more inputs: whose copy won (only from [`merge`]).
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

/// The index's name for a session: 16 bytes of SHA-256 over its Ed25519 key.
type Id = [u8; 16];

/// 16 bytes of SHA-256 over a ratchet at an index: equal for the same ratchet state.
type StateHash = [u8; 16];

fn id_of(signing_key: &[u8]) -> Id {
    let mut h = Sha256::new();
    h.update(b"merge index: session id\0");
    h.update(signing_key);
    let mut id = [0u8; 16];
    id.copy_from_slice(h.finalize().get(..16).unwrap_or(&[0; 16]));
    id
}

fn state_hash(index: u32, ratchet: &[u8]) -> StateHash {
    let mut h = Sha256::new();
    h.update(b"merge index: ratchet state\0");
    h.update(index.to_be_bytes());
    h.update(ratchet);
    let mut out = [0u8; 16];
    out.copy_from_slice(h.finalize().get(..16).unwrap_or(&[0; 16]));
    out
}

/// The hash of `key` advanced to `index` (None when `index` is below the key's).
fn advanced_hash(key: &SessionKey, index: u32) -> Option<StateHash> {
    let mut r = key.to_ratchet();
    r.advance_to(index).ok()?;
    Some(state_hash(index, r.parts().expose()))
}

const UNTRUSTED: u8 = 1;
const REPLACED: u8 = 2;
const MULTI_INPUT: u8 = 4;
const CONFLICT: u8 = 8;
const WAITING: u8 = 16;

/// What the index keeps per session (32 bytes).
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The ratchet hash at `first_index`.
    state: StateHash,
    /// The best copy: its position in its input.
    ordinal: u32,
    /// The lowest first index of all copies (the best copy's).
    first_index: u32,
    /// The best copy's input.
    input: u16,
    /// The first copy's input.
    first_input: u16,
    /// The best copy's forwarding chain length (saturated).
    chain: u16,
    /// `UNTRUSTED` (the best copy), `REPLACED`, `MULTI_INPUT`, `CONFLICT`, `WAITING`.
    flags: u8,
}

/// A copy above its session's lowest index so far, waiting for the lowest copy's key.
type Waiting = (Id, u32, StateHash);

/// The index's table, in shards, so that growing it never holds two full copies at once.
const SHARDS: usize = 64;

/// One session as [`Index::add`] takes it, made by [`Index::check`].
pub struct Checked {
    index: usize,
    outcome: Outcome,
}

impl std::fmt::Debug for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checked")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

enum Outcome {
    Invalid(Report),
    Copy(Copy),
}

struct Copy {
    id: Id,
    first_index: u32,
    state: StateHash,
    chain: u16,
    untrusted: bool,
    /// The parsed key, unless its bytes were known (then it is not needed: see [`Index::add`]).
    key: Option<SessionKey>,
}

/// The first pass of a streaming merge ([the module docs](self#merging-inputs-larger-than-memory)).
#[derive(Debug)]
pub struct Index {
    shards: Vec<HashMap<Id, Entry>>,
    waiting: Vec<Waiting>,
    compact_at: usize,
    /// Per input: a bit per session, set for the valid ones.
    valid: Vec<Vec<u64>>,
    /// Per input: sessions seen.
    counts: Vec<u64>,
}

fn shard_of(id: &Id) -> usize {
    usize::from(id[0]) % SHARDS
}

fn set_bit(bits: &mut Vec<u64>, at: u64) {
    let word = usize::try_from(at / 64).unwrap_or(usize::MAX);
    if bits.len() <= word {
        bits.resize(word + 1, 0);
    }
    if let Some(w) = bits.get_mut(word) {
        *w |= 1 << (at % 64);
    }
}

fn get_bit(bits: &[u64], at: u64) -> bool {
    usize::try_from(at / 64)
        .ok()
        .and_then(|w| bits.get(w))
        .is_some_and(|w| w & (1 << (at % 64)) != 0)
}

impl Index {
    /// An empty index for `inputs` inputs (at most 65535).
    pub fn new(inputs: usize) -> Self {
        let inputs = inputs.min(usize::from(u16::MAX));
        Index {
            shards: (0..SHARDS).map(|_| HashMap::new()).collect(),
            waiting: Vec::new(),
            compact_at: 1 << 16,
            valid: vec![Vec::new(); inputs],
            counts: vec![0; inputs],
        }
    }

    fn entry(&self, id: &Id) -> Option<&Entry> {
        self.shards.get(shard_of(id)).and_then(|s| s.get(id))
    }

    /// Validate session `s` (at `index` in its input) and read what the index needs from its
    /// key. Takes `&self`: a batch is checked in parallel, then added in order.
    pub fn check(&self, index: usize, s: &SessionRecord) -> Checked {
        let mut seen: Option<(Id, u32, StateHash)> = None;
        let (report, key) = crate::session::validate_keyed(index, s, |bytes| {
            // The 0x01 form is its session's id, index and ratchet and nothing else: the same
            // bytes as a copy already found good need no second look at the Ed25519 point.
            let (Some(&1), Some(idx), Some(ratchet), Some(pk), 165) = (
                bytes.first(),
                bytes.get(1..5),
                bytes.get(5..133),
                bytes.get(133..165),
                bytes.len(),
            ) else {
                return false;
            };
            let mut be = [0u8; 4];
            be.copy_from_slice(idx);
            let idx = u32::from_be_bytes(be);
            let id = id_of(pk);
            let state = state_hash(idx, ratchet);
            seen = Some((id, idx, state));
            self.entry(&id)
                .is_some_and(|e| e.first_index == idx && e.state == state)
        });
        if report.status() == ReportStatus::Invalid {
            return Checked {
                index,
                outcome: Outcome::Invalid(report),
            };
        }
        let (id, first_index, state) = match (&key, seen) {
            (Some(k), _) => (
                id_of(k.signing_key()),
                k.first_index(),
                state_hash(k.first_index(), k.ratchet().expose()),
            ),
            (None, Some(known)) => known,
            // Valid without a key cannot happen (session_key is required); drop it as invalid.
            (None, None) => {
                return Checked {
                    index,
                    outcome: Outcome::Invalid(report),
                }
            }
        };
        Checked {
            index,
            outcome: Outcome::Copy(Copy {
                id,
                first_index,
                state,
                chain: s
                    .forwarding_curve25519_key_chain
                    .as_ref()
                    .map_or(0, |c| u16::try_from(c.len()).unwrap_or(u16::MAX)),
                untrusted: s.untrusted.unwrap_or(false),
                key,
            }),
        }
    }

    /// Add a checked session: the `ordinal`-th of input `input` (inputs in order, each in
    /// order). An invalid one is handed back.
    pub fn add(&mut self, input: usize, ordinal: u64, c: Checked) -> Option<Dropped> {
        let dropped = |why: String, session_id: Option<String>| Dropped {
            input,
            index: c.index,
            session_id,
            why,
        };
        if let Some(n) = self.counts.get_mut(input) {
            *n = (*n).max(ordinal + 1);
        }
        let copy = match c.outcome {
            Outcome::Invalid(r) => {
                let why = r
                    .problems
                    .iter()
                    .filter(|p| !p.warning)
                    .map(|p| p.why.clone())
                    .collect::<Vec<_>>()
                    .join("; ");
                return Some(dropped(why, r.session_id));
            }
            Outcome::Copy(copy) => copy,
        };
        let (Ok(input16), Ok(ord32)) = (u16::try_from(input), u32::try_from(ordinal)) else {
            return Some(dropped(
                "beyond the 65535 inputs and 4294967295 sessions per input a merge takes".into(),
                None,
            ));
        };
        if input16 == u16::MAX || ord32 == u32::MAX {
            return Some(dropped(
                "beyond the 65535 inputs and 4294967295 sessions per input a merge takes".into(),
                None,
            ));
        }
        if let Some(bits) = self.valid.get_mut(input) {
            set_bit(bits, ordinal);
        }
        let shard = self.shards.get_mut(shard_of(&copy.id))?;
        let e = match shard.entry(copy.id) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Entry {
                    state: copy.state,
                    ordinal: ord32,
                    first_index: copy.first_index,
                    input: input16,
                    first_input: input16,
                    chain: copy.chain,
                    flags: if copy.untrusted { UNTRUSTED } else { 0 },
                });
                return None;
            }
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
        };
        if e.first_input != input16 {
            e.flags |= MULTI_INPUT;
        }
        if e.flags & CONFLICT != 0 {
            return None;
        }
        // The best copy's rank: it has the lowest first index so far.
        let best = (e.first_index, e.chain, e.flags & UNTRUSTED != 0);
        // Same ratchet? (see the module docs)
        if copy.first_index == e.first_index {
            if copy.state != e.state {
                e.flags |= CONFLICT;
                return None;
            }
        } else if copy.first_index > e.first_index {
            e.flags |= WAITING;
            self.waiting.push((copy.id, copy.first_index, copy.state));
            if self.waiting.len() >= self.compact_at {
                self.waiting.sort_unstable();
                self.waiting.dedup();
                self.compact_at = (self.waiting.len() * 2).max(1 << 16);
            }
        } else {
            let agrees = copy
                .key
                .as_ref()
                .and_then(|k| advanced_hash(k, e.first_index))
                .is_some_and(|h| h == e.state);
            if !agrees {
                e.flags |= CONFLICT;
                return None;
            }
            e.first_index = copy.first_index;
            e.state = copy.state;
        }
        let untrusted = copy.untrusted;
        let rank = (copy.first_index, copy.chain, untrusted);
        if rank < best {
            e.input = input16;
            e.ordinal = ord32;
            e.chain = copy.chain;
            e.flags = (e.flags & !UNTRUSTED) | REPLACED | if untrusted { UNTRUSTED } else { 0 };
        }
        None
    }

    /// Parse, check (in parallel) and add every session of `batch`, the next sessions of input
    /// `input`; the invalid ones are handed back.
    ///
    /// # Errors
    /// A session that is not JSON or not an object ([`RawBatch::parse`]): the first one.
    pub fn add_batch(
        &mut self,
        input: usize,
        batch: &RawBatch,
        what: &'static str,
    ) -> Result<Vec<Dropped>, Error> {
        let first = batch.first();
        let checked: Vec<Result<Checked, Error>> = (0..batch.len())
            .into_par_iter()
            .map(|i| {
                let s = batch.parse(i, what)?;
                Ok(self.check(position(first, i), &s))
            })
            .collect();
        let mut dropped = Vec::new();
        for (i, c) in checked.into_iter().enumerate() {
            dropped.extend(self.add(input, first + i as u64, c?));
        }
        Ok(dropped)
    }

    /// The first pass is over.
    pub fn finish(mut self) -> Plan {
        self.waiting.sort_unstable();
        self.waiting.dedup();
        let shards = std::mem::take(&mut self.shards);
        // Waiting copies of sessions already in conflict need no check.
        self.waiting.retain(|(id, ..)| {
            shards
                .get(shard_of(id))
                .and_then(|s| s.get(id))
                .is_some_and(|e| e.flags & CONFLICT == 0)
        });
        let mut verify: Vec<Vec<u64>> = vec![Vec::new(); self.counts.len()];
        for s in &shards {
            for e in s.values() {
                if e.flags & (WAITING | CONFLICT) == WAITING {
                    if let Some(bits) = verify.get_mut(usize::from(e.input)) {
                        set_bit(bits, u64::from(e.ordinal));
                    }
                }
            }
        }
        Plan {
            shards,
            waiting: self.waiting,
            valid: self.valid,
            counts: self.counts,
            verify,
            winners: Vec::new(),
            conflicts: Vec::new(),
            conflict_at: HashMap::new(),
            conflicted: 0,
            decided: false,
        }
    }
}

fn position(first: u64, i: usize) -> usize {
    usize::try_from(first)
        .unwrap_or(usize::MAX)
        .saturating_add(i)
}

/// The later passes of a streaming merge ([the module docs](self#merging-inputs-larger-than-memory)).
#[derive(Debug)]
pub struct Plan {
    shards: Vec<HashMap<Id, Entry>>,
    waiting: Vec<Waiting>,
    valid: Vec<Vec<u64>>,
    counts: Vec<u64>,
    /// Per input: the best copies of sessions with waiting copies.
    verify: Vec<Vec<u64>>,
    /// Per input: the copies to write (after [`Plan::decide`]).
    winners: Vec<Vec<u64>>,
    conflicts: Vec<Conflict>,
    /// Conflicting sessions seen by [`Plan::select_batch`]: their place in `conflicts`.
    conflict_at: HashMap<Id, usize>,
    /// Sessions in conflict, counted by [`Plan::decide`].
    conflicted: usize,
    decided: bool,
}

impl Plan {
    fn entry(&self, id: &Id) -> Option<&Entry> {
        self.shards.get(shard_of(id)).and_then(|s| s.get(id))
    }

    fn entry_mut(&mut self, id: &Id) -> Option<&mut Entry> {
        self.shards
            .get_mut(shard_of(id))
            .and_then(|s| s.get_mut(id))
    }

    /// Whether any copy waits for a check ([`Plan::verify_batch`]): then the inputs are read
    /// once more before [`Plan::select_batch`].
    pub fn needs_verify(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Whether session `ordinal` of input `input` is the best copy of a session with waiting
    /// copies.
    pub fn to_verify(&self, input: usize, ordinal: u64) -> bool {
        self.verify.get(input).is_some_and(|b| get_bit(b, ordinal))
    }

    /// The copies waiting for session `key`'s check: whether they all agree with it. Call with
    /// the sessions [`Plan::to_verify`] names.
    pub fn agrees(&self, key: &SessionKey) -> bool {
        let id = id_of(key.signing_key());
        let from = self.waiting.partition_point(|w| w.0 < id);
        self.waiting
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|w| w.0 == id)
            .all(|&(_, index, state)| advanced_hash(key, index) == Some(state))
    }

    /// Mark the session of `key` as a conflict.
    pub fn disagree(&mut self, key: &SessionKey) {
        if let Some(e) = self.entry_mut(&id_of(key.signing_key())) {
            e.flags |= CONFLICT;
        }
    }

    /// Check the sessions of `batch` (the next of input `input`) that [`Plan::to_verify`]
    /// names, in parallel.
    ///
    /// # Errors
    /// As [`RawBatch::parse`] (the input changed since the first pass).
    pub fn verify_batch(
        &mut self,
        input: usize,
        batch: &RawBatch,
        what: &'static str,
    ) -> Result<(), Error> {
        let first = batch.first();
        let plan = &*self;
        let disagreeing: Vec<Result<Option<SessionKey>, Error>> = (0..batch.len())
            .into_par_iter()
            .filter(|&i| plan.to_verify(input, first + i as u64))
            .map(|i| {
                let s = batch.parse(i, what)?;
                let key = s
                    .session_key
                    .as_ref()
                    .and_then(|k| SessionKey::from_base64(k.expose()).ok());
                Ok(key.filter(|k| !plan.agrees(k)))
            })
            .collect();
        for d in disagreeing {
            if let Some(k) = d? {
                self.disagree(&k);
            }
        }
        Ok(())
    }

    /// Settle the winners once every check is made. [`Plan::select_batch`] calls it itself.
    pub fn decide(&mut self) {
        if self.decided {
            return;
        }
        self.decided = true;
        self.waiting = Vec::new();
        self.verify = Vec::new();
        self.conflicted = self.conflict_count();
        let mut winners: Vec<Vec<u64>> = self
            .counts
            .iter()
            .map(|&n| vec![0u64; usize::try_from(n.div_ceil(64)).unwrap_or(0)])
            .collect();
        for s in &self.shards {
            for e in s.values() {
                if e.flags & CONFLICT == 0 {
                    if let Some(bits) = winners.get_mut(usize::from(e.input)) {
                        set_bit(bits, u64::from(e.ordinal));
                    }
                }
            }
        }
        self.winners = winners;
    }

    /// Sessions in conflict (known after [`Plan::decide`]).
    pub fn conflict_count(&self) -> usize {
        self.shards
            .iter()
            .flat_map(|s| s.values())
            .filter(|e| e.flags & CONFLICT != 0)
            .count()
    }

    /// Sessions that will be written, one per session not in conflict.
    pub fn unique(&self) -> usize {
        self.shards
            .iter()
            .flat_map(|s| s.values())
            .filter(|e| e.flags & CONFLICT == 0)
            .count()
    }

    /// Whether session `ordinal` of input `input` is the copy its session keeps.
    pub fn winner(&self, input: usize, ordinal: u64) -> bool {
        self.winners.get(input).is_some_and(|b| get_bit(b, ordinal))
    }

    /// Which sessions of `batch` (the next of input `input`) go into the output, as positions
    /// in the batch: the winners, and with `keep_conflicts` every valid copy of a conflicting
    /// session. Conflicting copies are listed ([`Plan::report`]) either way.
    ///
    /// # Errors
    /// As [`RawBatch::parse`] (only sessions that may be conflicting copies are parsed).
    pub fn select_batch(
        &mut self,
        input: usize,
        batch: &RawBatch,
        what: &'static str,
        keep_conflicts: bool,
    ) -> Result<Vec<usize>, Error> {
        self.decide();
        let first = batch.first();
        if self.conflicted == 0 {
            return Ok((0..batch.len())
                .filter(|&i| self.winner(input, first + i as u64))
                .collect());
        }
        let plan = &*self;
        // The valid sessions that are not winners: conflicting copies, or copies that lost.
        type Found = Option<(usize, Id, Option<String>)>;
        let others: Vec<Result<Found, Error>> = (0..batch.len())
            .into_par_iter()
            .filter(|&i| {
                let at = first + i as u64;
                !plan.winner(input, at) && plan.valid.get(input).is_some_and(|b| get_bit(b, at))
            })
            .map(|i| {
                let s = batch.parse(i, what)?;
                let id = s
                    .session_key
                    .as_ref()
                    .and_then(|k| crate::encoding::decode_lenient(k.expose()).ok())
                    .and_then(|b| b.get(133..165).map(id_of));
                Ok(id
                    .filter(|id| plan.entry(id).is_some_and(|e| e.flags & CONFLICT != 0))
                    .map(|id| (i, id, s.session_id)))
            })
            .collect();
        let mut conflicting = HashMap::new();
        for o in others {
            if let Some((i, id, sid)) = o? {
                conflicting.insert(i, (id, sid));
            }
        }
        let mut out = Vec::new();
        for i in 0..batch.len() {
            if self.winner(input, first + i as u64) {
                out.push(i);
            } else if let Some((id, sid)) = conflicting.remove(&i) {
                match self.conflict_at.get(&id) {
                    Some(&at) => {
                        if let Some(c) = self.conflicts.get_mut(at) {
                            if c.inputs.last() != Some(&input) {
                                c.inputs.push(input);
                            }
                        }
                    }
                    None => {
                        self.conflict_at.insert(id, self.conflicts.len());
                        self.conflicts.push(Conflict {
                            session_id: sid.unwrap_or_default(),
                            inputs: vec![input],
                        });
                    }
                }
                if keep_conflicts {
                    out.push(i);
                }
            }
        }
        Ok(out)
    }

    /// The counts, and the conflicts [`Plan::select_batch`] met (all of them once it has seen
    /// every input). `invalid` and `chosen` are left empty.
    pub fn report(&self) -> MergeReport {
        MergeReport {
            inputs: self.counts.len(),
            read: usize::try_from(self.counts.iter().sum::<u64>()).unwrap_or(usize::MAX),
            unique: self.unique(),
            replaced: self
                .shards
                .iter()
                .flat_map(|s| s.values())
                .filter(|e| e.flags & (REPLACED | CONFLICT) == REPLACED)
                .count(),
            conflicts: self.conflicts.clone(),
            invalid: Vec::new(),
            chosen: Vec::new(),
        }
    }
}

/// Merge several inputs' sessions (see the module docs), in memory: [`Index`] and [`Plan`] over
/// slices. The output is each winning copy exactly as it was (no fields merged across copies;
/// borrowed, not copied), in order of its session's first appearance; conflicts and `chosen`
/// are in that order too.
pub fn merge(inputs: &[Vec<SessionRecord>]) -> (Vec<&SessionRecord>, MergeReport) {
    let mut index = Index::new(inputs.len());
    let mut invalid = Vec::new();
    for (input, sessions) in inputs.iter().enumerate() {
        let checked: Vec<Checked> = sessions
            .par_iter()
            .enumerate()
            .map(|(i, s)| index.check(i, s))
            .collect();
        for (i, c) in checked.into_iter().enumerate() {
            invalid.extend(index.add(input, i as u64, c));
        }
        if let Some(n) = index.counts.get_mut(input) {
            *n = sessions.len() as u64;
        }
    }
    let mut plan = index.finish();
    for (input, sessions) in inputs.iter().enumerate() {
        for (i, s) in sessions.iter().enumerate() {
            if !plan.to_verify(input, i as u64) {
                continue;
            }
            let key = s
                .session_key
                .as_ref()
                .and_then(|k| SessionKey::from_base64(k.expose()).ok());
            if let Some(k) = key.filter(|k| !plan.agrees(k)) {
                plan.disagree(&k);
            }
        }
    }
    plan.decide();
    let mut report = plan.report();
    report.invalid = invalid;
    // In order of first appearance: each session's winner, or its conflict with every input
    // that holds a copy.
    let mut out = Vec::new();
    let mut seen: HashMap<Id, Option<usize>> = HashMap::new();
    for (input, sessions) in inputs.iter().enumerate() {
        for (i, s) in sessions.iter().enumerate() {
            if !plan.valid.get(input).is_some_and(|b| get_bit(b, i as u64)) {
                continue;
            }
            let Some(id) = s
                .session_key
                .as_ref()
                .and_then(|k| crate::encoding::decode_lenient(k.expose()).ok())
                .and_then(|b| b.get(133..165).map(id_of))
            else {
                continue;
            };
            let Some(e) = plan.entry(&id).copied() else {
                continue;
            };
            let sid = || s.session_id.clone().unwrap_or_default();
            if e.flags & CONFLICT != 0 {
                match seen.get(&id) {
                    Some(Some(at)) => {
                        if let Some(c) = report.conflicts.get_mut(*at) {
                            if c.inputs.last() != Some(&input) {
                                c.inputs.push(input);
                            }
                        }
                    }
                    _ => {
                        seen.insert(id, Some(report.conflicts.len()));
                        report.conflicts.push(Conflict {
                            session_id: sid(),
                            inputs: vec![input],
                        });
                    }
                }
                continue;
            }
            if seen.insert(id, None).is_some() {
                continue;
            }
            let winner = inputs
                .get(usize::from(e.input))
                .and_then(|x| x.get(e.ordinal as usize));
            if let Some(w) = winner {
                out.push(w);
                if e.flags & MULTI_INPUT != 0 {
                    report.chosen.push(Chosen {
                        session_id: sid(),
                        from: usize::from(e.input),
                        first_index: e.first_index,
                    });
                }
            }
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
