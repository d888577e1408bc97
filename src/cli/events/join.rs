//! The keys of the sessions the events use, when there are more of them than memory should hold
//! (issue #23): an external join of the events with the keys, by session id.
//!
//! 1. A pass over the events sorts (session id, position) of every event on disk ([`Spill`]) and
//!    marks each session id in a Bloom filter of fixed size.
//! 2. A pass over the keys checks each session as [`KeyStore::insert`] does and keeps those the
//!    filter may know, sorted by session id on disk; of several copies of a session, the one
//!    with the lowest first index (the first of them), as [`KeyStore`] keeps. Sessions that
//!    cannot be used are kept with their place in the file, to be warned about as when the keys
//!    are held in memory: those of the sessions the events use, in file order.
//! 3. The two sorted lists are merged: each key the events use is written once to a key file, and
//!    a table gets, at each event's position, where its key is in that file (8 bytes per event).
//! 4. The decrypting pass reads the table in event order and, for each batch, the keys that batch
//!    needs ([`Joined::batch`]): a [`KeyStore`] of at most one batch's sessions.
//!
//! The outcome of every event is the one the in-memory path gives: each event sees the same key
//! for its session (the join keeps the same copy), and the ratchets kept between batches are of
//! those same keys ([`mxkeys::events::Decryptor::rebind`]).
//!
//! Keys are secret, and whatever of them goes to a temporary file is sealed first: AES-256-CTR
//! and a truncated HMAC-SHA-256 tag, under two keys drawn for this run and held in memory only
//! ([`Seal`]). A record whose tag fails is an error, never a key.
//!
//! Memory: the two spills' budgets (the events' list is on disk before the keys are read), the
//! filter, and one batch's keys; temporary files: about 60 bytes per event and 300 per key the
//! events may use, plus 8 bytes per event for the table.

use std::fs::File;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::Path;

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use rayon::prelude::*;
use sha2::Sha256;
use zeroize::Zeroizing;

use mxkeys::events::{
    for_each_event, EventsError, KeyEntry, KeyStore, RejectedKey, SessionOf, MAX_EVENT_BYTES,
};

use super::super::inputs::{open_sessions, Keyring};
use super::super::spill::{push_ordered, split_ordered, Combine, Spill};
use super::super::CliError;

/// Memory the list of the events' sessions keeps before it goes to temporary files.
const EVENTS_BUDGET: usize = 12 << 20;
/// Memory the keys the events may use keep before they go to temporary files.
const KEYS_BUDGET: usize = 12 << 20;
/// Memory the unusable keys keep before they go to temporary files.
const REJECTED_BUDGET: usize = 1 << 20;
/// The Bloom filter of the events' session ids: 64 Mbit, 6 bits set per id. Wrong "maybe"s
/// (a key of a session no event uses kept until the merge drops it): about 1 in 2 million at
/// a million sessions, 1 in 20 at ten million.
const BLOOM_BYTES: usize = 8 << 20;
const BLOOM_HASHES: u64 = 6;

fn temp_error(e: io::Error) -> CliError {
    CliError::Input(format!(
        "cannot use a temporary file for the keys of the events' sessions: {e}; free space in the temporary directory (TMPDIR)"
    ))
}

fn changed() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "a temporary file changed under us",
    )
}

/// Session ids, as a Bloom filter: `may_have` is true for every id inserted, and for a few
/// others.
struct Bloom {
    bits: Vec<u64>,
    h1: RandomState,
    h2: RandomState,
}

impl Bloom {
    fn new() -> Self {
        Bloom {
            bits: vec![0; BLOOM_BYTES / 8],
            h1: RandomState::new(),
            h2: RandomState::new(),
        }
    }

    /// The bits of `id` (double hashing: h1 + i·h2), as (word, mask).
    fn bits_of(&self, id: &[u8]) -> impl Iterator<Item = (usize, u64)> {
        let m = (self.bits.len() as u64) * 64;
        let (a, b) = (self.h1.hash_one(id), self.h2.hash_one(id) | 1);
        (0..BLOOM_HASHES).map(move |i| {
            let bit = a.wrapping_add(i.wrapping_mul(b)) % m;
            ((bit / 64) as usize, 1u64 << (bit % 64))
        })
    }

    fn insert(&mut self, id: &[u8]) {
        let bits: [(usize, u64); BLOOM_HASHES as usize] = {
            let mut it = self.bits_of(id);
            std::array::from_fn(|_| it.next().unwrap_or_default())
        };
        for (word, mask) in bits {
            if let Some(w) = self.bits.get_mut(word) {
                *w |= mask;
            }
        }
    }

    fn may_have(&self, id: &[u8]) -> bool {
        self.bits_of(id)
            .all(|(word, mask)| self.bits.get(word).is_some_and(|w| w & mask != 0))
    }
}

type Ctr = ctr::Ctr128BE<aes::Aes256>;
/// Bytes of the HMAC-SHA-256 tag kept.
const TAG: usize = 16;

/// Seals what goes to a temporary file: AES-256-CTR (the IV a record number, never reused in a
/// run) and a truncated HMAC-SHA-256 over the number and the ciphertext. Its keys are drawn for
/// this run and never leave memory.
struct Seal {
    enc: Zeroizing<[u8; 32]>,
    mac: Zeroizing<[u8; 32]>,
    next: u64,
}

impl Seal {
    fn new() -> Result<Self, CliError> {
        let mut enc = Zeroizing::new([0u8; 32]);
        let mut mac = Zeroizing::new([0u8; 32]);
        for k in [&mut enc, &mut mac] {
            getrandom::getrandom(&mut **k)
                .map_err(|e| CliError::Input(format!("no randomness: {e}")))?;
        }
        Ok(Seal { enc, mac, next: 0 })
    }

    fn iv(number: u64) -> [u8; 16] {
        (u128::from(number) << 64).to_be_bytes()
    }

    fn tag(&self, body: &[u8]) -> io::Result<Hmac<Sha256>> {
        let mut h = Hmac::<Sha256>::new_from_slice(&*self.mac).map_err(io::Error::other)?;
        h.update(body);
        Ok(h)
    }

    /// Record number (u64 little-endian), ciphertext, tag.
    fn seal(&mut self, plain: &[u8]) -> io::Result<Vec<u8>> {
        let number = self.next;
        self.next += 1;
        let mut out = Vec::with_capacity(8 + plain.len() + TAG);
        out.extend_from_slice(&number.to_le_bytes());
        let mut ct = Zeroizing::new(plain.to_vec());
        Ctr::new(&(*self.enc).into(), &Self::iv(number).into()).apply_keystream(&mut ct);
        out.extend_from_slice(&ct);
        let tag = self.tag(&out)?.finalize().into_bytes();
        out.extend_from_slice(tag.get(..TAG).unwrap_or_default());
        Ok(out)
    }

    /// What [`Seal::seal`] sealed, its tag checked (in constant time) before it is decrypted.
    fn open(&self, sealed: &[u8]) -> io::Result<Zeroizing<Vec<u8>>> {
        let (body, tag) = sealed.split_last_chunk::<TAG>().ok_or_else(changed)?;
        self.tag(body)?
            .verify_truncated_left(tag)
            .map_err(|_| changed())?;
        let (number, ct) = body.split_first_chunk::<8>().ok_or_else(changed)?;
        let mut plain = Zeroizing::new(ct.to_vec());
        Ctr::new(
            &(*self.enc).into(),
            &Self::iv(u64::from_le_bytes(*number)).into(),
        )
        .apply_keystream(&mut plain);
        Ok(plain)
    }
}

/// An event's place in the list of the events' sessions (the key says everything).
struct Unit;

impl Combine for Unit {
    fn combine(&mut self, _later: Self) {}
    fn encode(&self, _out: &mut Vec<u8>) {}
    fn decode(bytes: &[u8]) -> Option<Self> {
        bytes.is_empty().then_some(Unit)
    }
}

/// A sealed key and its first index (not secret: it picks the copy to keep).
struct SealedKey {
    index: u32,
    sealed: Vec<u8>,
}

impl Combine for SealedKey {
    /// The copy with the lowest first index; of equal ones, the first.
    fn combine(&mut self, later: Self) {
        if later.index < self.index {
            *self = later;
        }
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.index.to_le_bytes());
        out.extend_from_slice(&self.sealed);
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        let (index, sealed) = bytes.split_first_chunk::<4>()?;
        Some(SealedKey {
            index: u32::from_le_bytes(*index),
            sealed: sealed.to_vec(),
        })
    }
    fn heap_size(&self) -> usize {
        self.sealed.len()
    }
}

/// A key that cannot be used: the session id it names and why (nothing secret).
struct Rejection(RejectedKey);

impl Combine for Rejection {
    fn combine(&mut self, _later: Self) {}
    fn encode(&self, out: &mut Vec<u8>) {
        push_ordered(out, self.0.session_id.as_bytes());
        out.extend_from_slice(self.0.why.as_bytes());
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        let (id, why) = split_ordered(bytes)?;
        Some(Rejection(RejectedKey {
            session_id: String::from_utf8(id).ok()?,
            why: String::from_utf8(why.to_vec()).ok()?,
        }))
    }
    fn heap_size(&self) -> usize {
        self.0.session_id.len() + self.0.why.len()
    }
}

/// The next entry of a sorted spill, or `None` at its end.
fn next<V, I: Iterator<Item = io::Result<(Vec<u8>, V)>>>(
    it: &mut I,
) -> io::Result<Option<(Vec<u8>, V)>> {
    it.next().transpose()
}

/// The keys of the events' sessions, on disk, read back a batch of events at a time.
pub struct Joined {
    /// At each event's position, 1 + the offset of its key in `keys` (0: no key).
    table: BufReader<File>,
    /// Sealed keys, each a u32 little-endian length and the sealed record.
    keys: File,
    seal: Seal,
    /// The keys of the events' sessions that cannot be used, in file order (a store that holds
    /// no session: [`KeyStore::rejected`] and [`KeyStore::rejected_count`]).
    pub rejected: KeyStore,
}

impl Joined {
    /// Join the events of `events` (read once more, from its start) with the keys of `keys`.
    pub fn build(
        events: impl Read,
        keys: &Path,
        ring: &mut Keyring,
        bad_events: &dyn Fn(EventsError) -> CliError,
    ) -> Result<Joined, CliError> {
        // 1. The events' sessions, by session id then position.
        let mut by_session: Spill<Unit> = Spill::new(EVENTS_BUDGET);
        let mut bloom = Bloom::new();
        let mut position = 0u64;
        let mut failed = None;
        let read = for_each_event(events, MAX_EVENT_BYTES, |SessionOf(sid)| {
            if let Some(sid) = sid {
                bloom.insert(sid.as_bytes());
                let mut k = Vec::with_capacity(sid.len() + 10);
                push_ordered(&mut k, sid.as_bytes());
                k.extend_from_slice(&position.to_be_bytes());
                if let Err(e) = by_session.push(k, Unit) {
                    failed = Some(e);
                    return ControlFlow::Break(());
                }
            }
            position += 1;
            ControlFlow::Continue(())
        });
        if let Some(e) = failed {
            return Err(temp_error(e));
        }
        read.map_err(bad_events)?;
        // On disk (past the budget) before the keys are read.
        let mut by_session = by_session.into_sorted().map_err(temp_error)?;

        // 2. The keys the events may use, by session id, sealed; the unusable ones.
        let mut seal = Seal::new()?;
        let mut known: Spill<SealedKey> = Spill::new(KEYS_BUDGET);
        // Unusable keys that name a session, by (session id, place in the file); those that name
        // none are warned about whatever the events (by place in the file).
        let mut rejected_named: Spill<Rejection> = Spill::new(REJECTED_BUDGET);
        let mut rejected_used: Spill<Rejection> = Spill::new(REJECTED_BUDGET);
        let mut place = 0u64;
        let mut failed = None;
        let read = open_sessions(keys, ring)?.for_each_session(keys, |s| {
            place += 1;
            // A session the events do not use is neither checked nor warned about, as when the
            // keys are held in memory (where a session that names no id is always checked).
            let named = s.session_id.as_deref();
            if named.is_some_and(|id| !bloom.may_have(id.as_bytes())) {
                return Ok(());
            }
            let kept = match KeyEntry::from_record(&s) {
                Ok(e) if named.is_some() || bloom.may_have(e.session_id.as_bytes()) => {
                    seal.seal(&e.to_bytes()).and_then(|sealed| {
                        let index = e.key.first_index();
                        known.push(e.session_id.into_bytes(), SealedKey { index, sealed })
                    })
                }
                Ok(_) => Ok(()),
                Err(r) => match named {
                    None => rejected_used.push(place.to_be_bytes().to_vec(), Rejection(r)),
                    Some(id) => {
                        let mut k = Vec::with_capacity(id.len() + 10);
                        push_ordered(&mut k, id.as_bytes());
                        k.extend_from_slice(&place.to_be_bytes());
                        rejected_named.push(k, Rejection(r))
                    }
                },
            };
            kept.map_err(|e| {
                let stop = mxkeys::Error::Io(io::Error::other(e.to_string()));
                failed = Some(e);
                stop
            })
        });
        if let Some(e) = failed {
            return Err(temp_error(e));
        }
        read?;
        drop(bloom);

        // 3. Merge by session id: each used key written once, each event's place in the table.
        let table = tempfile::tempfile().map_err(temp_error)?;
        table
            .set_len(position.saturating_mul(8))
            .map_err(temp_error)?;
        let mut key_file = BufWriter::new(tempfile::tempfile().map_err(temp_error)?);
        let mut key_end = 0u64;
        let mut known = known.into_sorted().map_err(temp_error)?;
        let mut rejected_named = rejected_named.into_sorted().map_err(temp_error)?;
        let mut merge = || -> io::Result<()> {
            let mut key_head = next(&mut known)?;
            let mut rejected_head = next(&mut rejected_named)?;
            // The session of the events being placed, and 1 + its key's offset (0: none).
            let mut current: Option<(Vec<u8>, u64)> = None;
            while let Some((k, Unit)) = next(&mut by_session)? {
                let (sid, pos) = split_ordered(&k).ok_or_else(changed)?;
                let pos = u64::from_be_bytes(pos.try_into().map_err(|_| changed())?);
                let slot = match &current {
                    Some((s, slot)) if *s == sid => *slot,
                    _ => {
                        while key_head.as_ref().is_some_and(|(ks, _)| *ks < sid) {
                            key_head = next(&mut known)?;
                        }
                        let mut slot = 0;
                        if let Some((_, key)) = key_head.take_if(|(ks, _)| *ks == sid) {
                            let len = u32::try_from(key.sealed.len()).map_err(|_| changed())?;
                            key_file.write_all(&len.to_le_bytes())?;
                            key_file.write_all(&key.sealed)?;
                            slot = key_end + 1;
                            key_end += 4 + u64::from(len);
                            key_head = next(&mut known)?;
                        }
                        while let Some((rk, r)) = rejected_head.take() {
                            let (rid, place) = split_ordered(&rk).ok_or_else(changed)?;
                            if rid > sid {
                                rejected_head = Some((rk, r));
                                break;
                            }
                            if rid == sid {
                                rejected_used.push(place.to_vec(), r)?;
                            }
                            rejected_head = next(&mut rejected_named)?;
                        }
                        current = Some((sid, slot));
                        slot
                    }
                };
                if slot != 0 {
                    table.write_all_at(&slot.to_le_bytes(), pos.saturating_mul(8))?;
                }
            }
            Ok(())
        };
        merge().map_err(temp_error)?;
        let mut rejected = KeyStore::default();
        for r in rejected_used.into_sorted().map_err(temp_error)? {
            rejected.reject(r.map_err(temp_error)?.1 .0);
        }
        let keys = key_file
            .into_inner()
            .map_err(|e| temp_error(e.into_error()))?;
        let mut table = table;
        table.rewind().map_err(temp_error)?;
        Ok(Joined {
            table: BufReader::with_capacity(64 * 1024, table),
            keys,
            seal,
            rejected,
        })
    }

    /// The keys of the next `n` events: a store of the sessions they use that the keys know.
    pub fn batch(&mut self, n: usize) -> Result<KeyStore, CliError> {
        let mut slots = Vec::with_capacity(n);
        for _ in 0..n {
            let mut b = [0u8; 8];
            self.table.read_exact(&mut b).map_err(|e| {
                temp_error(if e.kind() == io::ErrorKind::UnexpectedEof {
                    changed()
                } else {
                    e
                })
            })?;
            slots.push(u64::from_le_bytes(b));
        }
        slots.sort_unstable();
        slots.dedup();
        let entries = slots
            .into_par_iter()
            .filter_map(|slot| slot.checked_sub(1))
            .map(|offset| self.read_key(offset))
            .collect::<io::Result<Vec<KeyEntry>>>()
            .map_err(temp_error)?;
        let mut store = KeyStore::default();
        for e in entries {
            store.insert_entry(e);
        }
        Ok(store)
    }

    fn read_key(&self, offset: u64) -> io::Result<KeyEntry> {
        let mut len = [0u8; 4];
        self.keys.read_exact_at(&mut len, offset)?;
        let mut sealed = vec![0u8; u32::from_le_bytes(len) as usize];
        self.keys.read_exact_at(&mut sealed, offset + 4)?;
        let plain = self.seal.open(&sealed)?;
        KeyEntry::from_bytes(&plain).ok_or_else(changed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn sealed_records_open_and_changed_ones_do_not() {
        let mut seal = Seal::new().unwrap();
        let a = seal.seal(b"first secret").unwrap();
        let b = seal.seal(b"first secret").unwrap();
        assert_ne!(a, b, "each record has its own IV");
        assert!(
            !a.windows(6).any(|w| w == b"secret"),
            "no plaintext on disk"
        );
        assert_eq!(&*seal.open(&a).unwrap(), b"first secret");
        assert_eq!(&*seal.open(&b).unwrap(), b"first secret");
        for i in 0..a.len() {
            let mut bad = a.clone();
            bad[i] ^= 1;
            assert!(seal.open(&bad).is_err(), "byte {i} changed");
        }
        assert!(seal.open(&a[..10]).is_err());
        let other = Seal::new().unwrap();
        assert!(other.open(&a).is_err(), "another run's keys");
    }

    #[test]
    fn the_filter_has_every_id_inserted() {
        let mut bloom = Bloom::new();
        for i in 0..10_000 {
            bloom.insert(format!("session{i}").as_bytes());
        }
        assert!((0..10_000).all(|i| bloom.may_have(format!("session{i}").as_bytes())));
        let wrong = (0..10_000)
            .filter(|i| bloom.may_have(format!("other{i}").as_bytes()))
            .count();
        assert!(wrong < 10, "{wrong} of 10000 ids never inserted");
    }

    #[test]
    fn the_copy_with_the_lowest_index_is_kept_and_the_first_of_equal_ones() {
        let k = |index, tag: u8| SealedKey {
            index,
            sealed: vec![tag],
        };
        let mut a = k(5, 1);
        a.combine(k(5, 2));
        assert_eq!(a.sealed, vec![1]);
        a.combine(k(3, 3));
        assert_eq!((a.index, a.sealed.clone()), (3, vec![3]));
        a.combine(k(4, 4));
        assert_eq!(a.sealed, vec![3]);
    }
}
