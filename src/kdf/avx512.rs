//! The lane algorithm of `super::lanes` on AVX-512: eight 64-bit lanes per 512-bit register, and
//! sixteen lanes as two registers advanced together.
//!
//! AVX-512 has what SHA-512 misses in AVX2: a 64-bit rotate (`vprorq`, one instruction where AVX2
//! needs two shifts and an OR) and a three-input logic instruction (`vpternlogq`) that computes
//! `a ^ b ^ c`, Ch and Maj in one. A round takes about half the instructions of the AVX2 one, on
//! twice the lanes.
//!
//! Soundness rests on the same invariant as `super::avx2`: a [`U64x8`] exists only after
//! `is_x86_feature_detected!("avx512f")` said the CPU has AVX-512F. Its only constructor takes an
//! [`Avx512`] token, the only way to get a token is [`Avx512::detect`], and every other operation
//! takes an existing `U64x8`. Only AVX-512F instructions are used (no VL/BW/DQ).

use std::arch::x86_64::{
    __m512i, _mm512_add_epi64, _mm512_and_si512, _mm512_andnot_si512, _mm512_or_si512,
    _mm512_ror_epi64, _mm512_set1_epi64, _mm512_sllv_epi64, _mm512_srlv_epi64,
    _mm512_ternarylogic_epi64, _mm512_xor_si512,
};

use super::batch::Group;
use super::lanes::{pbkdf2_f, Lane, Pair};

/// Proof that this CPU has AVX-512F.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx512(());

impl Avx512 {
    /// A token when the CPU has AVX-512F.
    pub(crate) fn detect() -> Option<Avx512> {
        is_x86_feature_detected!("avx512f").then_some(Avx512(()))
    }
}

/// Eight 64-bit lanes in an AVX-512 register.
#[derive(Clone, Copy)]
pub(crate) struct U64x8(__m512i);

/// `vpternlogq` truth tables, with the inputs' bits as a = 0xF0, b = 0xCC, c = 0xAA.
const XOR3: i32 = 0x96;
/// a ? b : c.
const CH: i32 = 0xCA;
/// Majority of a, b, c.
const MAJ: i32 = 0xE8;

// SAFETY (the whole impl): each method runs AVX-512F instructions on a `U64x8` it was given, and
// a `U64x8` only exists after `Avx512::detect` (see the module docs), so the CPU has AVX-512F.
// The intrinsics take and return values; no memory is touched. The transmutes are between
// `__m512i` and `[u64; 8]`: both 64 bytes of plain integers, every bit pattern valid.
#[allow(unsafe_code)]
impl U64x8 {
    /// Load eight lanes (lane 0 first).
    #[inline(always)]
    fn new(_: Avx512, lanes: [u64; 8]) -> Self {
        // SAFETY: see the impl.
        U64x8(unsafe { std::mem::transmute::<[u64; 8], __m512i>(lanes) })
    }

    /// The eight lanes (lane 0 first).
    #[inline(always)]
    fn lanes(self) -> [u64; 8] {
        // SAFETY: see the impl.
        unsafe { std::mem::transmute::<__m512i, [u64; 8]>(self.0) }
    }
}

// SAFETY: as for the impl above: `self` exists, so the CPU has AVX-512F.
#[allow(unsafe_code)]
impl Lane for U64x8 {
    #[inline(always)]
    fn splat(self, x: u64) -> Self {
        // SAFETY: see the impl.
        U64x8(unsafe { _mm512_set1_epi64(x as i64) })
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        // SAFETY: see the impl.
        U64x8(unsafe { _mm512_add_epi64(self.0, o.0) })
    }
    #[inline(always)]
    fn xor(self, o: Self) -> Self {
        // SAFETY: see the impl.
        U64x8(unsafe { _mm512_xor_si512(self.0, o.0) })
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        // SAFETY: see the impl.
        U64x8(unsafe { _mm512_and_si512(self.0, o.0) })
    }
    #[inline(always)]
    fn andnot(self, o: Self) -> Self {
        // SAFETY: see the impl.
        U64x8(unsafe { _mm512_andnot_si512(self.0, o.0) })
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        // SAFETY: see the impl.
        U64x8(unsafe { _mm512_or_si512(self.0, o.0) })
    }
    #[inline(always)]
    fn shr<const N: i32>(self) -> Self {
        // The immediate form takes a `u32` count that stable Rust cannot derive from `N`; LLVM
        // turns a variable shift by a constant splat into the immediate `vpsrlq`.
        // SAFETY: see the impl.
        U64x8(unsafe { _mm512_srlv_epi64(self.0, _mm512_set1_epi64(i64::from(N))) })
    }
    #[inline(always)]
    fn shl<const N: i32>(self) -> Self {
        // SAFETY: see the impl.
        U64x8(unsafe { _mm512_sllv_epi64(self.0, _mm512_set1_epi64(i64::from(N))) })
    }
    #[inline(always)]
    fn rotr8(self) -> Self {
        self.rotr::<8, 56>()
    }
    #[inline(always)]
    fn rotr<const R: i32, const L: i32>(self) -> Self {
        // SAFETY: see the impl.
        U64x8(unsafe { _mm512_ror_epi64::<R>(self.0) })
    }
    #[inline(always)]
    fn xor3(self, b: Self, c: Self) -> Self {
        // SAFETY: see the impl.
        U64x8(unsafe { _mm512_ternarylogic_epi64::<XOR3>(self.0, b.0, c.0) })
    }
    #[inline(always)]
    fn ch(self, f: Self, g: Self) -> Self {
        // SAFETY: see the impl.
        U64x8(unsafe { _mm512_ternarylogic_epi64::<CH>(self.0, f.0, g.0) })
    }
    const TERNARY: bool = true;
    #[inline(always)]
    fn maj(self, b: Self, c: Self) -> Self {
        // SAFETY: see the impl.
        U64x8(unsafe { _mm512_ternarylogic_epi64::<MAJ>(self.0, b.0, c.0) })
    }
}

fn load8<const W: usize>(tok: Avx512, rows: &[[u64; 8]; W]) -> [U64x8; W] {
    rows.map(|r| U64x8::new(tok, r))
}

fn load16<const W: usize>(tok: Avx512, rows: &[[u64; 16]; W]) -> [Pair<U64x8>; W] {
    rows.map(|r| {
        let [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p] = r;
        Pair(
            U64x8::new(tok, [a, b, c, d, e, f, g, h]),
            U64x8::new(tok, [i, j, k, l, m, n, o, p]),
        )
    })
}

fn store16(Pair(lo, hi): Pair<U64x8>) -> [u64; 16] {
    let [a, b, c, d, e, f, g, h] = lo.lanes();
    let [i, j, k, l, m, n, o, p] = hi.lanes();
    [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p]
}

/// PBKDF2's F for eight lanes in one register.
pub(crate) fn f8(tok: Avx512, g: &Group<8>, rounds: u32, out: &mut [[u64; 8]; 8]) {
    #[target_feature(enable = "avx512f")]
    #[allow(unsafe_code)]
    unsafe fn run(tok: Avx512, g: &Group<8>, rounds: u32, out: &mut [[u64; 8]; 8]) {
        let t = pbkdf2_f(
            &load8(tok, &g.ipad),
            &load8(tok, &g.opad),
            &load8(tok, &g.u1),
            rounds,
        );
        *out = t.map(U64x8::lanes);
    }
    // SAFETY: `run` only needs AVX-512F, and the token proves it.
    #[allow(unsafe_code)]
    unsafe {
        run(tok, g, rounds, out);
    }
}

/// PBKDF2's F for sixteen lanes, in two interleaved registers.
pub(crate) fn f16(tok: Avx512, g: &Group<16>, rounds: u32, out: &mut [[u64; 16]; 8]) {
    #[target_feature(enable = "avx512f")]
    #[allow(unsafe_code)]
    unsafe fn run(tok: Avx512, g: &Group<16>, rounds: u32, out: &mut [[u64; 16]; 8]) {
        let t = pbkdf2_f(
            &load16(tok, &g.ipad),
            &load16(tok, &g.opad),
            &load16(tok, &g.u1),
            rounds,
        );
        *out = t.map(store16);
    }
    // SAFETY: `run` only needs AVX-512F, and the token proves it.
    #[allow(unsafe_code)]
    unsafe {
        run(tok, g, rounds, out);
    }
}

/// SHA-512 compression of one block per lane, for the lane tests: `states` and `blocks` are
/// lane-transposed.
#[cfg(any(test, feature = "internals"))] // only check.rs uses it
pub(crate) fn compress8(tok: Avx512, state: &mut [[u64; 8]; 8], block: &[[u64; 8]; 16]) {
    #[target_feature(enable = "avx512f")]
    #[allow(unsafe_code)]
    unsafe fn run(tok: Avx512, state: &mut [[u64; 8]; 8], block: &[[u64; 8]; 16]) {
        let mut s = load8(tok, state);
        super::lanes::compress(&mut s, &load8(tok, block));
        *state = s.map(U64x8::lanes);
    }
    // SAFETY: `run` only needs AVX-512F, and the token proves it.
    #[allow(unsafe_code)]
    unsafe {
        run(tok, state, block);
    }
}

/// As [`compress8`] with sixteen lanes in two registers.
#[cfg(any(test, feature = "internals"))] // only check.rs uses it
pub(crate) fn compress16(tok: Avx512, state: &mut [[u64; 16]; 8], block: &[[u64; 16]; 16]) {
    #[target_feature(enable = "avx512f")]
    #[allow(unsafe_code)]
    unsafe fn run(tok: Avx512, state: &mut [[u64; 16]; 8], block: &[[u64; 16]; 16]) {
        let mut s = load16(tok, state);
        super::lanes::compress(&mut s, &load16(tok, block));
        *state = s.map(store16);
    }
    // SAFETY: `run` only needs AVX-512F, and the token proves it.
    #[allow(unsafe_code)]
    unsafe {
        run(tok, state, block);
    }
}
