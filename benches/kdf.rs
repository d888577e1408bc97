//! PBKDF2-HMAC-SHA-512 candidates per second: one derivation at a time through the `pbkdf2` crate
//! (scalar), and `kdf::pbkdf2_sha512_batch`'s engines (AVX2 with 4 lanes, 8 lanes), on one and on
//! every core; and this CPU's SHA-512 compression rate (`sha2` over a 128 KiB buffer), which
//! bounds a one-stream implementation. Issue "Multi-buffer SHA-512: candidate search beyond
//! OpenSSL speed".
//!
//! Criterion reports rounds/s. After it, a summary prints derivations/s at Element's 500000
//! rounds and each rate as a multiple of the compression rate (a derivation of R rounds is 2R
//! compressions). The loops run `ROUNDS` rounds per derivation to keep the run short; the rate
//! scales linearly with rounds. `MXKEYS_BENCH_ROUNDS` overrides it.

// Benches may stop on the first failure; the no-panic rule is for the library.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use mxkeys::kdf::{Engine, Rounds};
use sha2::{Digest, Sha512};

/// Rounds per derivation in the timed loops.
const ROUNDS: u32 = 50_000;
/// The rate reported: Element's default.
const REPORT_ROUNDS: f64 = 500_000.0;
/// Compression benchmark buffer: 1024 SHA-512 blocks.
const BUF_BLOCKS: usize = 1024;

fn rounds() -> Rounds {
    let n = std::env::var("MXKEYS_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(ROUNDS);
    Rounds::new(n, u32::MAX).unwrap()
}

/// Every engine worth timing here: the scalar one and the AVX2 ones this CPU runs (the portable
/// lane model is a test reference, not a contender).
fn engines() -> Vec<Engine> {
    Engine::ALL
        .into_iter()
        .filter(|e| *e != Engine::Portable && e.available())
        .collect()
}

fn passwords(n: usize, thread: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("candidate {thread}-{i}").into_bytes())
        .collect()
}

/// One batch of `engine.lanes()` derivations on each of `threads` threads, at the same time.
fn run(engine: Engine, threads: usize, rounds: Rounds) {
    let lanes = engine.lanes();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                let pw = passwords(lanes, t);
                let refs: Vec<&[u8]> = pw.iter().map(Vec::as_slice).collect();
                engine.pbkdf2_sha512::<64>(&refs, &[7; 16], rounds).unwrap()
            });
        }
    });
}

fn max_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn compress(c: &mut Criterion) {
    let mut g = c.benchmark_group("sha512_compress");
    let buf = vec![0x5au8; BUF_BLOCKS * 128];
    g.throughput(Throughput::Elements(BUF_BLOCKS as u64));
    g.bench_function("sha2_blocks", |b| b.iter(|| Sha512::digest(&buf)));
    g.finish();
}

fn pbkdf2(c: &mut Criterion) {
    let r = rounds();
    let mut g = c.benchmark_group("pbkdf2_sha512_candidates");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    for engine in engines() {
        for threads in [1, max_threads()] {
            let n = engine.lanes() * threads;
            g.throughput(Throughput::Elements(u64::from(r.get()) * n as u64));
            g.bench_function(
                BenchmarkId::new(format!("{engine:?}"), format!("{threads}_threads")),
                |b| b.iter(|| run(engine, threads, r)),
            );
            if max_threads() == 1 {
                break;
            }
        }
    }
    g.finish();
}

/// Calls of `f` per second, for about `secs`.
fn rate(secs: f64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while n == 0 || start.elapsed().as_secs_f64() < secs {
        f();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// The figures of the issue, in one table.
fn summary() {
    let r = rounds();
    let buf = vec![0x5au8; BUF_BLOCKS * 128];
    let blocks = rate(3.0, || {
        std::hint::black_box(Sha512::digest(&buf));
    }) * BUF_BLOCKS as f64;
    println!(
        "\nSHA-512 compression (sha2, one stream): {:.3} M blocks/s = {:.2} derivations/s at 500000 rounds",
        blocks / 1e6,
        blocks / (2.0 * REPORT_ROUNDS)
    );
    println!(
        "{:<8} {:>7} {:>22} {:>16} {:>12}",
        "engine", "threads", "derivations/s @500000", "per thread", "x compress"
    );
    let mut scalar1 = None;
    for engine in engines() {
        for threads in [1, max_threads()] {
            let calls = rate(20.0, || run(engine, threads, r));
            let per_s =
                calls * (engine.lanes() * threads) as f64 * f64::from(r.get()) / REPORT_ROUNDS;
            if engine == Engine::Scalar && threads == 1 {
                scalar1 = Some(per_s);
            }
            let vs = scalar1.map_or(String::new(), |s| {
                format!("  ({:.2}x scalar, 1 thread)", per_s / s)
            });
            println!(
                "{:<8} {threads:>7} {per_s:>22.3} {:>16.3} {:>12.2}{vs}",
                format!("{engine:?}"),
                per_s / threads as f64,
                per_s * 2.0 * REPORT_ROUNDS / blocks
            );
            if max_threads() == 1 {
                break;
            }
        }
    }
}

criterion_group!(benches, compress, pbkdf2);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo test --benches` runs each bench once as a test; skip the long summary there.
    if !std::env::args().any(|a| a == "--test" || a == "--list") {
        summary();
    }
}
