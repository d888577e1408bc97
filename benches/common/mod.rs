//! What the benches share: deterministic filler bytes (xorshift64, shifts 13, 7, 17), so that
//! every run measures the same inputs, and the measurement on one thread and on every core.
//! Included by each bench that needs it with `mod common;`.

// Not every bench uses every helper.
#![allow(dead_code)]

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId};

/// A xorshift64 stream of bytes (each the low byte of the next state).
pub struct Xorshift(pub u64);

impl Xorshift {
    /// The stream [`filler`] reads for `seed` (spread by the golden-ratio constant; never 0).
    pub fn seeded(seed: u64) -> Self {
        Xorshift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next byte.
    pub fn next_byte(&mut self) -> u8 {
        let x = &mut self.0;
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x as u8
    }

    /// Fill `out` with the next bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            *b = self.next_byte();
        }
    }
}

/// Deterministic filler bytes (xorshift), so runs are comparable.
pub fn filler(seed: u64, out: &mut [u8]) {
    Xorshift::seeded(seed).fill(out);
}

/// Time `f` on `input` in a rayon pool of 1 thread and, when this machine has more cores, of
/// every core: `threads/1` and `threads/N` in group `g`.
pub fn bench_threads<I: Sync + ?Sized, R: Send>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    input: &I,
    f: impl Fn(&I) -> R + Sync,
) {
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut counts = vec![1];
    if all > 1 {
        counts.push(all);
    }
    for threads in counts {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        g.bench_with_input(BenchmarkId::new("threads", threads), input, |b, input| {
            b.iter(|| pool.install(|| f(input)))
        });
    }
}
