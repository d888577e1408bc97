//! A sorted map that outgrows memory onto disk, for the lists a command prints at the end whose
//! length grows with the input: the senders of each room (`export list`), the sessions to look
//! for (`events diagnose`).
//!
//! Entries (a byte-string key and a value) are pushed in any order; values of the same key are
//! combined ([`Combine::combine`], the earlier entry with the later one). While the map is
//! smaller than its budget it lives in memory. Past the budget, it is written out in key order
//! to an unnamed temporary file (a "run", gone when closed) and memory starts over; at the end
//! the runs are merged back in key order, combining equal keys. Memory is the budget plus one
//! entry and an 8 KiB buffer per run, whatever the input's size; more than [`MAX_RUNS`] runs are
//! first merged into one, so open files stay bounded too.
//!
//! Nothing secret goes into a spill: its files are plain temporary files (in `TMPDIR`).
//!
//! A run is a sequence of records: key length (u32, little-endian), key, value length (u32),
//! value as [`Combine::encode`] wrote it.

use std::cmp::Reverse;
use std::collections::{btree_map, BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};

/// A value of a [`Spill`]: combinable, and written to and read from a run.
pub trait Combine: Sized {
    /// Fold in the value of the same key pushed after this one.
    fn combine(&mut self, later: Self);
    /// Append this value's bytes to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// The value [`Combine::encode`] wrote, or `None` if `bytes` are not one.
    fn decode(bytes: &[u8]) -> Option<Self>;
    /// Bytes this value holds on the heap (counted against the budget).
    fn heap_size(&self) -> usize {
        0
    }
}

/// Runs merged into one once there are this many.
const MAX_RUNS: usize = 64;
/// What an entry of the in-memory map costs beyond its key and value, roughly (B-tree node
/// share and the key's `Vec`).
const OVERHEAD: usize = 48;

/// The sorted map; see the module docs.
pub struct Spill<V> {
    mem: BTreeMap<Vec<u8>, V>,
    mem_bytes: usize,
    budget: usize,
    runs: Vec<File>,
}

impl<V: Combine> Spill<V> {
    /// An empty map that keeps about `budget` bytes in memory.
    pub fn new(budget: usize) -> Self {
        Spill {
            mem: BTreeMap::new(),
            mem_bytes: 0,
            budget,
            runs: Vec::new(),
        }
    }

    /// Add `value` under `key`, combined with what the key already has.
    pub fn push(&mut self, key: Vec<u8>, value: V) -> io::Result<()> {
        match self.mem.entry(key) {
            btree_map::Entry::Occupied(mut e) => {
                let before = e.get().heap_size();
                e.get_mut().combine(value);
                self.mem_bytes = self.mem_bytes.saturating_sub(before) + e.get().heap_size();
            }
            btree_map::Entry::Vacant(e) => {
                self.mem_bytes +=
                    e.key().len() + value.heap_size() + std::mem::size_of::<V>() + OVERHEAD;
                e.insert(value);
            }
        }
        if self.mem_bytes > self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.mem.is_empty() && self.runs.is_empty()
    }

    /// Write the in-memory map out as a run.
    fn spill(&mut self) -> io::Result<()> {
        let mem = std::mem::take(&mut self.mem);
        self.mem_bytes = 0;
        let mut w = BufWriter::new(tempfile::tempfile()?);
        let mut buf = Vec::new();
        for (k, v) in mem {
            write_record(&mut w, &k, &v, &mut buf)?;
        }
        self.runs.push(rewound(w)?);
        if self.runs.len() >= MAX_RUNS {
            let runs = std::mem::take(&mut self.runs);
            let mut w = BufWriter::new(tempfile::tempfile()?);
            let mut buf = Vec::new();
            for entry in Merge::<V>::new(runs)? {
                let (k, v) = entry?;
                write_record(&mut w, &k, &v, &mut buf)?;
            }
            self.runs.push(rewound(w)?);
        }
        Ok(())
    }

    /// Every key once, in byte order, with its combined value.
    pub fn into_sorted(mut self) -> io::Result<Sorted<V>> {
        if self.runs.is_empty() {
            return Ok(Sorted::Memory(self.mem.into_iter()));
        }
        if !self.mem.is_empty() {
            self.spill()?;
        }
        Ok(Sorted::Runs(Merge::new(self.runs)?))
    }
}

fn write_record<V: Combine>(
    w: &mut impl Write,
    key: &[u8],
    value: &V,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    buf.clear();
    value.encode(buf);
    for part in [key, buf.as_slice()] {
        let len = u32::try_from(part.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "spill entry over 4 GiB"))?;
        w.write_all(&len.to_le_bytes())?;
        w.write_all(part)?;
    }
    Ok(())
}

/// The file behind `w`, flushed and back at its start.
fn rewound(w: BufWriter<File>) -> io::Result<File> {
    let mut f = w.into_inner().map_err(|e| e.into_error())?;
    f.rewind()?;
    Ok(f)
}

/// The next record of a run, or `None` at its end.
fn read_record<V: Combine>(r: &mut impl Read) -> io::Result<Option<(Vec<u8>, V)>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    fn part(r: &mut impl Read, len: [u8; 4]) -> io::Result<Vec<u8>> {
        let mut v = vec![0u8; u32::from_le_bytes(len) as usize];
        r.read_exact(&mut v)?;
        Ok(v)
    }
    let key = part(r, len)?;
    let mut vlen = [0u8; 4];
    r.read_exact(&mut vlen)?;
    let value = V::decode(&part(r, vlen)?).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "a temporary file changed under us",
        )
    })?;
    Ok(Some((key, value)))
}

/// The entries of a [`Spill`] in key order.
pub enum Sorted<V> {
    /// Everything fit in memory.
    Memory(btree_map::IntoIter<Vec<u8>, V>),
    /// Merged from runs.
    Runs(Merge<V>),
}

impl<V: Combine> Iterator for Sorted<V> {
    type Item = io::Result<(Vec<u8>, V)>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Sorted::Memory(it) => it.next().map(Ok),
            Sorted::Runs(m) => m.next(),
        }
    }
}

/// A k-way merge of runs, combining equal keys in run order (the order they were pushed in).
pub struct Merge<V> {
    runs: Vec<BufReader<File>>,
    /// The value at the head of each run, taken when its key leaves `heads`.
    values: Vec<Option<V>>,
    /// The key at the head of each run, smallest first; ties by run number.
    heads: BinaryHeap<Reverse<(Vec<u8>, usize)>>,
    failed: bool,
}

impl<V: Combine> Merge<V> {
    fn new(files: Vec<File>) -> io::Result<Self> {
        let mut m = Merge {
            runs: files.into_iter().map(BufReader::new).collect(),
            values: Vec::new(),
            heads: BinaryHeap::new(),
            failed: false,
        };
        m.values = m.runs.iter().map(|_| None).collect();
        for i in 0..m.runs.len() {
            m.advance(i)?;
        }
        Ok(m)
    }

    /// Read run `i`'s next record into the heads.
    fn advance(&mut self, i: usize) -> io::Result<()> {
        let Some(run) = self.runs.get_mut(i) else {
            return Ok(());
        };
        if let Some((k, v)) = read_record::<V>(run)? {
            if let Some(slot) = self.values.get_mut(i) {
                *slot = Some(v);
            }
            self.heads.push(Reverse((k, i)));
        }
        Ok(())
    }

    fn take(&mut self) -> io::Result<Option<(Vec<u8>, V)>> {
        let Some(Reverse((key, i))) = self.heads.pop() else {
            return Ok(None);
        };
        let mut value = self.values.get_mut(i).and_then(Option::take);
        self.advance(i)?;
        while self.heads.peek().is_some_and(|Reverse((k, _))| *k == key) {
            if let Some(Reverse((_, j))) = self.heads.pop() {
                let later = self.values.get_mut(j).and_then(Option::take);
                match (&mut value, later) {
                    (Some(v), Some(l)) => v.combine(l),
                    (None, l) => value = l,
                    _ => {}
                }
                self.advance(j)?;
            }
        }
        Ok(value.map(|v| (key, v)))
    }
}

impl<V: Combine> Iterator for Merge<V> {
    type Item = io::Result<(Vec<u8>, V)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let r = self.take().transpose();
        if matches!(r, Some(Err(_))) {
            self.failed = true;
        }
        r
    }
}

/// `s` as a key prefix that keeps the order of tuples: `key(a) ++ x < key(b) ++ y` exactly when
/// `a < b`, or `a == b` and `x < y`. Each 0 byte becomes 0 0xFF, and the end is 0 0.
pub fn push_ordered(key: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        key.push(b);
        if b == 0 {
            key.push(0xFF);
        }
    }
    key.extend_from_slice(&[0, 0]);
}

/// The string [`push_ordered`] put at the start of `key`, and the rest of the key.
pub fn split_ordered(key: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut s = Vec::new();
    let mut i = 0;
    loop {
        match (key.get(i)?, key.get(i + 1)) {
            (0, Some(0)) => return Some((s, key.get(i + 2..)?)),
            (0, Some(0xFF)) => {
                s.push(0);
                i += 2;
            }
            (0, _) => return None,
            (&b, _) => {
                s.push(b);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// A count and the smallest number seen, like `export list`'s rooms.
    #[derive(Debug, PartialEq, Clone, Copy)]
    struct Seen {
        count: u64,
        min: u32,
    }

    impl Combine for Seen {
        fn combine(&mut self, later: Self) {
            self.count += later.count;
            self.min = self.min.min(later.min);
        }
        fn encode(&self, out: &mut Vec<u8>) {
            out.extend_from_slice(&self.count.to_le_bytes());
            out.extend_from_slice(&self.min.to_le_bytes());
        }
        fn decode(b: &[u8]) -> Option<Self> {
            Some(Seen {
                count: u64::from_le_bytes(b.get(..8)?.try_into().ok()?),
                min: u32::from_le_bytes(b.get(8..12)?.try_into().ok()?),
            })
        }
    }

    /// The first value pushed wins: combining must follow push order across runs.
    struct First(u64);

    impl Combine for First {
        fn combine(&mut self, _later: Self) {}
        fn encode(&self, out: &mut Vec<u8>) {
            out.extend_from_slice(&self.0.to_le_bytes());
        }
        fn decode(b: &[u8]) -> Option<Self> {
            Some(First(u64::from_le_bytes(b.try_into().ok()?)))
        }
    }

    fn pseudo(i: u64) -> u64 {
        i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) % 5000
    }

    fn expected(n: u64) -> BTreeMap<Vec<u8>, Seen> {
        let mut m: BTreeMap<Vec<u8>, Seen> = BTreeMap::new();
        for i in 0..n {
            let v = Seen {
                count: 1,
                min: (i % 977) as u32,
            };
            m.entry(format!("k{}", pseudo(i)).into_bytes())
                .and_modify(|s| s.combine(v))
                .or_insert(v);
        }
        m
    }

    fn spilled(n: u64, budget: usize) -> Vec<(Vec<u8>, Seen)> {
        let mut s = Spill::new(budget);
        for i in 0..n {
            let v = Seen {
                count: 1,
                min: (i % 977) as u32,
            };
            s.push(format!("k{}", pseudo(i)).into_bytes(), v).unwrap();
        }
        s.into_sorted().unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn the_same_map_in_memory_and_through_runs() {
        let want: Vec<_> = expected(50_000).into_iter().collect();
        // All in memory; a few runs; more than MAX_RUNS runs (merged on the way).
        for budget in [usize::MAX, 200_000, 2_000] {
            assert_eq!(spilled(50_000, budget), want, "budget {budget}");
        }
    }

    #[test]
    fn equal_keys_combine_in_push_order_across_runs() {
        let mut s = Spill::new(500);
        for i in 0..10_000u64 {
            s.push(format!("k{}", i % 7).into_bytes(), First(i))
                .unwrap();
        }
        let got: Vec<(Vec<u8>, u64)> = s
            .into_sorted()
            .unwrap()
            .map(|e| e.map(|(k, v)| (k, v.0)).unwrap())
            .collect();
        let want: Vec<(Vec<u8>, u64)> = (0..7).map(|i| (format!("k{i}").into_bytes(), i)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn empty() {
        let s: Spill<First> = Spill::new(10);
        assert!(s.is_empty());
        assert_eq!(s.into_sorted().unwrap().count(), 0);
    }

    #[test]
    fn ordered_prefixes_sort_as_tuples_and_split_back() {
        let strings: [&[u8]; 7] = [b"", b"\0", b"\0\0", b"a", b"a\0", b"a\0b", b"ab"];
        let tails: [&[u8]; 3] = [b"", b"\0", b"z"];
        let mut pairs = Vec::new();
        for s in strings {
            for t in tails {
                let mut k = Vec::new();
                push_ordered(&mut k, s);
                k.extend_from_slice(t);
                assert_eq!(split_ordered(&k), Some((s.to_vec(), t)));
                pairs.push(((s, t), k));
            }
        }
        let mut by_key = pairs.clone();
        by_key.sort_by(|a, b| a.1.cmp(&b.1));
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(by_key, pairs);
        assert_eq!(split_ordered(b"ab\0"), None);
        assert_eq!(split_ordered(b"a\0\x01"), None);
    }
}
