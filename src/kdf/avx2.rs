//! The lane algorithm of `super::lanes` on AVX2: four 64-bit lanes per 256-bit register, and
//! eight lanes as two registers advanced together.
//!
//! Soundness rests on one invariant: a [`U64x4`] exists only after `is_x86_feature_detected!`
//! said the CPU has AVX2. Its only constructor takes an [`Avx2`] token, and the only way to get a
//! token is [`Avx2::detect`]. Every other operation takes an existing `U64x4`, so it runs on a CPU
//! with AVX2.

use std::arch::x86_64::{
    __m256i, _mm256_add_epi64, _mm256_and_si256, _mm256_andnot_si256, _mm256_extract_epi64,
    _mm256_or_si256, _mm256_set1_epi64x, _mm256_set_epi64x, _mm256_setr_epi8, _mm256_shuffle_epi8,
    _mm256_slli_epi64, _mm256_srli_epi64, _mm256_xor_si256,
};

use super::batch::Group;
use super::lanes::{pbkdf2_f, Lane, Pair};

/// Proof that this CPU has AVX2.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx2(());

impl Avx2 {
    /// A token when the CPU has AVX2.
    pub(crate) fn detect() -> Option<Avx2> {
        is_x86_feature_detected!("avx2").then_some(Avx2(()))
    }
}

/// Four 64-bit lanes in an AVX2 register.
#[derive(Clone, Copy)]
pub(crate) struct U64x4(__m256i);

// SAFETY (the whole impl): each method runs AVX2 instructions on a `U64x4` it was given, and a
// `U64x4` only exists after `Avx2::detect` (see the module docs), so the CPU has AVX2. The
// intrinsics take and return values; no memory is touched.
#[allow(unsafe_code)]
impl U64x4 {
    /// Load four lanes (lane 0 first).
    #[inline(always)]
    fn new(_: Avx2, lanes: [u64; 4]) -> Self {
        let [a, b, c, d] = lanes.map(|x| x as i64);
        // SAFETY: the token proves AVX2.
        U64x4(unsafe { _mm256_set_epi64x(d, c, b, a) })
    }

    /// The four lanes (lane 0 first).
    #[inline(always)]
    fn lanes(self) -> [u64; 4] {
        // SAFETY: see the impl.
        unsafe {
            [
                _mm256_extract_epi64::<0>(self.0) as u64,
                _mm256_extract_epi64::<1>(self.0) as u64,
                _mm256_extract_epi64::<2>(self.0) as u64,
                _mm256_extract_epi64::<3>(self.0) as u64,
            ]
        }
    }
}

// SAFETY: as for the impl above: `self` exists, so the CPU has AVX2.
#[allow(unsafe_code)]
impl Lane for U64x4 {
    #[inline(always)]
    fn splat(self, x: u64) -> Self {
        // SAFETY: see the impl.
        U64x4(unsafe { _mm256_set1_epi64x(x as i64) })
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        // SAFETY: see the impl.
        U64x4(unsafe { _mm256_add_epi64(self.0, o.0) })
    }
    #[inline(always)]
    fn xor(self, o: Self) -> Self {
        // SAFETY: see the impl.
        U64x4(unsafe { _mm256_xor_si256(self.0, o.0) })
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        // SAFETY: see the impl.
        U64x4(unsafe { _mm256_and_si256(self.0, o.0) })
    }
    #[inline(always)]
    fn andnot(self, o: Self) -> Self {
        // SAFETY: see the impl.
        U64x4(unsafe { _mm256_andnot_si256(self.0, o.0) })
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        // SAFETY: see the impl.
        U64x4(unsafe { _mm256_or_si256(self.0, o.0) })
    }
    #[inline(always)]
    fn shr<const N: i32>(self) -> Self {
        // SAFETY: see the impl.
        U64x4(unsafe { _mm256_srli_epi64::<N>(self.0) })
    }
    #[inline(always)]
    fn shl<const N: i32>(self) -> Self {
        // SAFETY: see the impl.
        U64x4(unsafe { _mm256_slli_epi64::<N>(self.0) })
    }
    #[inline(always)]
    fn rotr8(self) -> Self {
        // SAFETY: see the impl. Within each 64-bit lane (little-endian bytes), result byte i is
        // source byte i + 1 and the top byte is source byte 0: a right rotation by 8 bits.
        U64x4(unsafe {
            _mm256_shuffle_epi8(
                self.0,
                _mm256_setr_epi8(
                    1, 2, 3, 4, 5, 6, 7, 0, 9, 10, 11, 12, 13, 14, 15, 8, 1, 2, 3, 4, 5, 6, 7, 0,
                    9, 10, 11, 12, 13, 14, 15, 8,
                ),
            )
        })
    }
}

fn load4<const W: usize>(tok: Avx2, rows: &[[u64; 4]; W]) -> [U64x4; W] {
    rows.map(|r| U64x4::new(tok, r))
}

fn load8<const W: usize>(tok: Avx2, rows: &[[u64; 8]; W]) -> [Pair<U64x4>; W] {
    rows.map(|[a, b, c, d, e, f, g, h]| {
        Pair(U64x4::new(tok, [a, b, c, d]), U64x4::new(tok, [e, f, g, h]))
    })
}

/// PBKDF2's F for four lanes.
pub(crate) fn f4(tok: Avx2, g: &Group<4>, rounds: u32, out: &mut [[u64; 4]; 8]) {
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    unsafe fn run(tok: Avx2, g: &Group<4>, rounds: u32, out: &mut [[u64; 4]; 8]) {
        let t = pbkdf2_f(
            &load4(tok, &g.ipad),
            &load4(tok, &g.opad),
            &load4(tok, &g.u1),
            rounds,
        );
        *out = t.map(U64x4::lanes);
    }
    // SAFETY: `run` only needs AVX2, and the token proves it.
    #[allow(unsafe_code)]
    unsafe {
        run(tok, g, rounds, out);
    }
}

/// PBKDF2's F for eight lanes, in two interleaved registers.
pub(crate) fn f8(tok: Avx2, g: &Group<8>, rounds: u32, out: &mut [[u64; 8]; 8]) {
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    unsafe fn run(tok: Avx2, g: &Group<8>, rounds: u32, out: &mut [[u64; 8]; 8]) {
        let t = pbkdf2_f(
            &load8(tok, &g.ipad),
            &load8(tok, &g.opad),
            &load8(tok, &g.u1),
            rounds,
        );
        *out = t.map(|Pair(lo, hi)| {
            let [a, b, c, d] = lo.lanes();
            let [e, f, g, h] = hi.lanes();
            [a, b, c, d, e, f, g, h]
        });
    }
    // SAFETY: `run` only needs AVX2, and the token proves it.
    #[allow(unsafe_code)]
    unsafe {
        run(tok, g, rounds, out);
    }
}

/// SHA-512 compression of one block per lane, for the lane tests: `states` and `blocks` are
/// lane-transposed.
#[cfg(any(test, feature = "internals"))] // only check.rs uses it
pub(crate) fn compress4(tok: Avx2, state: &mut [[u64; 4]; 8], block: &[[u64; 4]; 16]) {
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    unsafe fn run(tok: Avx2, state: &mut [[u64; 4]; 8], block: &[[u64; 4]; 16]) {
        let mut s = load4(tok, state);
        super::lanes::compress(&mut s, &load4(tok, block));
        *state = s.map(U64x4::lanes);
    }
    // SAFETY: `run` only needs AVX2, and the token proves it.
    #[allow(unsafe_code)]
    unsafe {
        run(tok, state, block);
    }
}

/// As [`compress4`] with eight lanes in two registers.
#[cfg(any(test, feature = "internals"))] // only check.rs uses it
pub(crate) fn compress8(tok: Avx2, state: &mut [[u64; 8]; 8], block: &[[u64; 8]; 16]) {
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    unsafe fn run(tok: Avx2, state: &mut [[u64; 8]; 8], block: &[[u64; 8]; 16]) {
        let mut s = load8(tok, state);
        super::lanes::compress(&mut s, &load8(tok, block));
        *state = s.map(|Pair(lo, hi)| {
            let [a, b, c, d] = lo.lanes();
            let [e, f, g, h] = hi.lanes();
            [a, b, c, d, e, f, g, h]
        });
    }
    // SAFETY: `run` only needs AVX2, and the token proves it.
    #[allow(unsafe_code)]
    unsafe {
        run(tok, state, block);
    }
}
