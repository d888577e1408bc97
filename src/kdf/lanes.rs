//! SHA-512 and the PBKDF2-HMAC-SHA-512 iteration on several independent streams at once.
//!
//! The state is lane-transposed: a value of type `V: Lane` holds the same 64-bit word of every
//! stream (lane), so one operation on `V` advances all lanes. The algorithm below is written once,
//! generically; it runs on plain `[u64; L]` arrays (portable, and the reference the AVX2 code is
//! tested against) and on AVX2 registers (`super::avx2`).
//!
//! SHA-512 words are big-endian, and a digest is the state words in order, so HMAC's inner digest
//! goes into the outer block, and U_i into the next inner block, as words: no byte swapping inside
//! the loop.

/// The operations SHA-512 needs on a vector of 64-bit lanes.
///
/// There is no constructor from nothing: [`Lane::splat`] takes `self`, so a value can only be
/// made from one that exists. For AVX2 that makes "a value exists" mean "the CPU was checked".
pub(crate) trait Lane: Copy {
    /// Every lane set to `x`.
    fn splat(self, x: u64) -> Self;
    /// Lane-wise wrapping addition.
    fn add(self, o: Self) -> Self;
    /// Lane-wise XOR.
    fn xor(self, o: Self) -> Self;
    /// Lane-wise AND.
    fn and(self, o: Self) -> Self;
    /// Lane-wise `!self & o`.
    fn andnot(self, o: Self) -> Self;
    /// Lane-wise OR.
    fn or(self, o: Self) -> Self;
    /// Lane-wise logical shift right by `N` (0 < N < 64).
    fn shr<const N: i32>(self) -> Self;
    /// Lane-wise shift left by `N` (0 < N < 64).
    fn shl<const N: i32>(self) -> Self;
    /// Lane-wise rotate right by 8 (a byte shuffle where the hardware has one).
    #[inline(always)]
    fn rotr8(self) -> Self {
        self.rotr::<8, 56>()
    }
    /// Lane-wise rotate right by `R`; `L` must be `64 - R` (stable Rust cannot compute it from
    /// `R`). Two shifts and an OR unless the hardware rotates (AVX-512).
    #[inline(always)]
    fn rotr<const R: i32, const L: i32>(self) -> Self {
        self.shr::<R>().or(self.shl::<L>())
    }
    /// `self ^ b ^ c` (one instruction with AVX-512's ternary logic).
    #[inline(always)]
    fn xor3(self, b: Self, c: Self) -> Self {
        self.xor(b).xor(c)
    }
    /// SHA-512's Ch(e, f, g) = (e & f) ^ (!e & g), with `self` as e.
    #[inline(always)]
    fn ch(self, f: Self, g: Self) -> Self {
        self.and(f).xor(self.andnot(g))
    }
    /// True when [`Lane::maj`] is one instruction; otherwise the rounds compute Maj from the
    /// previous round's a ^ b, which takes two.
    const TERNARY: bool = false;
    /// SHA-512's Maj(a, b, c) = (a & b) ^ (a & c) ^ (b & c), with `self` as a.
    #[inline(always)]
    fn maj(self, b: Self, c: Self) -> Self {
        b.xor(self.xor(b).and(b.xor(c)))
    }
}

/// The portable lanes: one `u64` per lane, operated on one after another.
///
/// Only the tests and the fuzz target run these, so each operation stays a call: inlined, the
/// unrolled rounds become one basic block of tens of thousands of scalar operations, and LLVM's
/// optimisation passes spend minutes on it.
impl<const L: usize> Lane for [u64; L] {
    #[inline(never)]
    fn splat(self, x: u64) -> Self {
        [x; L]
    }
    #[inline(never)]
    fn add(self, o: Self) -> Self {
        zip(self, o, u64::wrapping_add)
    }
    #[inline(never)]
    fn xor(self, o: Self) -> Self {
        zip(self, o, |a, b| a ^ b)
    }
    #[inline(never)]
    fn and(self, o: Self) -> Self {
        zip(self, o, |a, b| a & b)
    }
    #[inline(never)]
    fn andnot(self, o: Self) -> Self {
        zip(self, o, |a, b| !a & b)
    }
    #[inline(never)]
    fn or(self, o: Self) -> Self {
        zip(self, o, |a, b| a | b)
    }
    #[inline(never)]
    fn shr<const N: i32>(self) -> Self {
        self.map(|a| a >> N)
    }
    #[inline(never)]
    fn shl<const N: i32>(self) -> Self {
        self.map(|a| a << N)
    }
}

#[inline(always)]
fn zip<const L: usize>(mut a: [u64; L], b: [u64; L], f: impl Fn(u64, u64) -> u64) -> [u64; L] {
    for (x, y) in a.iter_mut().zip(b) {
        *x = f(*x, y);
    }
    a
}

/// Two sets of lanes advanced together (8 AVX2 lanes in two registers): the two halves are
/// independent, which gives the CPU two dependency chains to overlap.
#[derive(Clone, Copy)]
pub(crate) struct Pair<V>(pub(crate) V, pub(crate) V);

impl<V: Lane> Lane for Pair<V> {
    #[inline(always)]
    fn splat(self, x: u64) -> Self {
        Pair(self.0.splat(x), self.1.splat(x))
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Pair(self.0.add(o.0), self.1.add(o.1))
    }
    #[inline(always)]
    fn xor(self, o: Self) -> Self {
        Pair(self.0.xor(o.0), self.1.xor(o.1))
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        Pair(self.0.and(o.0), self.1.and(o.1))
    }
    #[inline(always)]
    fn andnot(self, o: Self) -> Self {
        Pair(self.0.andnot(o.0), self.1.andnot(o.1))
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        Pair(self.0.or(o.0), self.1.or(o.1))
    }
    #[inline(always)]
    fn shr<const N: i32>(self) -> Self {
        Pair(self.0.shr::<N>(), self.1.shr::<N>())
    }
    #[inline(always)]
    fn shl<const N: i32>(self) -> Self {
        Pair(self.0.shl::<N>(), self.1.shl::<N>())
    }
    #[inline(always)]
    fn rotr8(self) -> Self {
        Pair(self.0.rotr8(), self.1.rotr8())
    }
    #[inline(always)]
    fn rotr<const R: i32, const L: i32>(self) -> Self {
        Pair(self.0.rotr::<R, L>(), self.1.rotr::<R, L>())
    }
    #[inline(always)]
    fn xor3(self, b: Self, c: Self) -> Self {
        Pair(self.0.xor3(b.0, c.0), self.1.xor3(b.1, c.1))
    }
    #[inline(always)]
    fn ch(self, f: Self, g: Self) -> Self {
        Pair(self.0.ch(f.0, g.0), self.1.ch(f.1, g.1))
    }
    const TERNARY: bool = V::TERNARY;
    #[inline(always)]
    fn maj(self, b: Self, c: Self) -> Self {
        Pair(self.0.maj(b.0, c.0), self.1.maj(b.1, c.1))
    }
}

/// SHA-512 initial hash value (FIPS 180-4, 5.3.5).
pub(crate) const IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

/// SHA-512 round constants (FIPS 180-4, 4.2.3), in the five groups of 16 rounds.
const K: [[u64; 16]; 5] = [
    [
        0x428a2f98d728ae22,
        0x7137449123ef65cd,
        0xb5c0fbcfec4d3b2f,
        0xe9b5dba58189dbbc,
        0x3956c25bf348b538,
        0x59f111f1b605d019,
        0x923f82a4af194f9b,
        0xab1c5ed5da6d8118,
        0xd807aa98a3030242,
        0x12835b0145706fbe,
        0x243185be4ee4b28c,
        0x550c7dc3d5ffb4e2,
        0x72be5d74f27b896f,
        0x80deb1fe3b1696b1,
        0x9bdc06a725c71235,
        0xc19bf174cf692694,
    ],
    [
        0xe49b69c19ef14ad2,
        0xefbe4786384f25e3,
        0x0fc19dc68b8cd5b5,
        0x240ca1cc77ac9c65,
        0x2de92c6f592b0275,
        0x4a7484aa6ea6e483,
        0x5cb0a9dcbd41fbd4,
        0x76f988da831153b5,
        0x983e5152ee66dfab,
        0xa831c66d2db43210,
        0xb00327c898fb213f,
        0xbf597fc7beef0ee4,
        0xc6e00bf33da88fc2,
        0xd5a79147930aa725,
        0x06ca6351e003826f,
        0x142929670a0e6e70,
    ],
    [
        0x27b70a8546d22ffc,
        0x2e1b21385c26c926,
        0x4d2c6dfc5ac42aed,
        0x53380d139d95b3df,
        0x650a73548baf63de,
        0x766a0abb3c77b2a8,
        0x81c2c92e47edaee6,
        0x92722c851482353b,
        0xa2bfe8a14cf10364,
        0xa81a664bbc423001,
        0xc24b8b70d0f89791,
        0xc76c51a30654be30,
        0xd192e819d6ef5218,
        0xd69906245565a910,
        0xf40e35855771202a,
        0x106aa07032bbd1b8,
    ],
    [
        0x19a4c116b8d2d0c8,
        0x1e376c085141ab53,
        0x2748774cdf8eeb99,
        0x34b0bcb5e19b48a8,
        0x391c0cb3c5c95a63,
        0x4ed8aa4ae3418acb,
        0x5b9cca4f7763e373,
        0x682e6ff3d6b2b8a3,
        0x748f82ee5defb2fc,
        0x78a5636f43172f60,
        0x84c87814a1f0ab72,
        0x8cc702081a6439ec,
        0x90befffa23631e28,
        0xa4506cebde82bde9,
        0xbef9a3f7b2c67915,
        0xc67178f2e372532b,
    ],
    [
        0xca273eceea26619c,
        0xd186b8c721c0c207,
        0xeada7dd6cde0eb1e,
        0xf57d4f7fee6ed178,
        0x06f067aa72176fba,
        0x0a637dc5a2c898a6,
        0x113f9804bef90dae,
        0x1b710b35131c471b,
        0x28db77f523047d84,
        0x32caab7b40c72493,
        0x3c9ebe0a15c9bebc,
        0x431d67c49c100d4c,
        0x4cc5d4becb3e42b6,
        0x597f299cfc657e2a,
        0x5fcb6fab3ad6faec,
        0x6c44198c4a475817,
    ],
];

/// Σ0 (FIPS 180-4, 4.1.3).
#[inline(always)]
fn big_sigma0<V: Lane>(a: V) -> V {
    a.rotr::<28, 36>()
        .xor3(a.rotr::<34, 30>(), a.rotr::<39, 25>())
}

/// Σ1.
#[inline(always)]
fn big_sigma1<V: Lane>(e: V) -> V {
    e.rotr::<14, 50>()
        .xor3(e.rotr::<18, 46>(), e.rotr::<41, 23>())
}

/// σ0.
#[inline(always)]
fn small_sigma0<V: Lane>(w: V) -> V {
    w.rotr::<1, 63>().xor3(w.rotr8(), w.shr::<7>())
}

/// σ1.
#[inline(always)]
fn small_sigma1<V: Lane>(w: V) -> V {
    w.rotr::<19, 45>().xor3(w.rotr::<61, 3>(), w.shr::<6>())
}

/// One round on the working variables named in order a..h, with the round constant `k` and the
/// schedule word `w`. The caller rotates the names for the next round.
///
/// Maj(a, b, c) = b ^ ((a ^ b) & (b ^ c)), and this round's b ^ c is the previous round's a ^ b:
/// `$ab` receives a ^ b, `$bc` holds the previous one, and the caller swaps the two names.
macro_rules! round {
    ($a:ident $b:ident $c:ident $d:ident $e:ident $f:ident $g:ident $h:ident, $k:expr, $w:expr, $ab:ident $bc:ident) => {{
        let ch = $e.ch($f, $g);
        let t1 = $h.add($e.splat($k).add($w)).add(ch).add(big_sigma1($e));
        let maj = if V::TERNARY {
            $a.maj($b, $c)
        } else {
            $ab = $a.xor($b);
            $b.xor($ab.and($bc))
        };
        let t2 = big_sigma0($a).add(maj);
        $d = $d.add(t1);
        $h = t1.add(t2);
    }};
}

/// Sixteen rounds with the constants `ks` and the ring of schedule words `w0..w15`. With
/// `sched`, each round first replaces its word W[t-16] by W[t] (FIPS 180-4, 6.4.2 step 1); with
/// `plain` the words are the message block itself.
macro_rules! rounds16 {
    (@go $mode:ident $p:ident $q:ident [$a:ident $b:ident $c:ident $d:ident $e:ident $f:ident $g:ident $h:ident] ($k:ident $w:ident $w1:ident $w9:ident $w14:ident) $($rest:tt)*) => {
        rounds16!(@sched $mode $w $w1 $w9 $w14);
        round!($a $b $c $d $e $f $g $h, $k, $w, $p $q);
        rounds16!(@go $mode $q $p [$h $a $b $c $d $e $f $g] $($rest)*);
    };
    (@go $mode:ident $p:ident $q:ident [$($a:ident)*]) => {};
    (@sched plain $($w:ident)*) => {};
    (@sched sched $w0:ident $w1:ident $w9:ident $w14:ident) => {
        $w0 = $w0
            .add(small_sigma0($w1))
            .add($w9)
            .add(small_sigma1($w14));
    };
    ($mode:ident, $ks:expr, [$($a:ident)*], [$w0:ident $w1:ident $w2:ident $w3:ident $w4:ident $w5:ident $w6:ident $w7:ident $w8:ident $w9:ident $w10:ident $w11:ident $w12:ident $w13:ident $w14:ident $w15:ident], $p:ident $q:ident) => {{
        let [k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, k13, k14, k15] = $ks;
        rounds16!(@go $mode $p $q [$($a)*]
            (k0 $w0 $w1 $w9 $w14) (k1 $w1 $w2 $w10 $w15) (k2 $w2 $w3 $w11 $w0) (k3 $w3 $w4 $w12 $w1)
            (k4 $w4 $w5 $w13 $w2) (k5 $w5 $w6 $w14 $w3) (k6 $w6 $w7 $w15 $w4) (k7 $w7 $w8 $w0 $w5)
            (k8 $w8 $w9 $w1 $w6) (k9 $w9 $w10 $w2 $w7) (k10 $w10 $w11 $w3 $w8) (k11 $w11 $w12 $w4 $w9)
            (k12 $w12 $w13 $w5 $w10) (k13 $w13 $w14 $w6 $w11) (k14 $w14 $w15 $w7 $w12) (k15 $w15 $w0 $w8 $w13));
    }};
}

/// The SHA-512 compression function on every lane: `state` absorbs one 128-byte block per lane,
/// given as its 16 big-endian words.
#[inline(always)]
pub(crate) fn compress<V: Lane>(state: &mut [V; 8], block: &[V; 16]) {
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    let [mut w0, mut w1, mut w2, mut w3, mut w4, mut w5, mut w6, mut w7, mut w8, mut w9, mut w10, mut w11, mut w12, mut w13, mut w14, mut w15] =
        *block;
    // a ^ b of the previous round; before the first, b ^ c.
    let mut p = b.xor(c);
    // Assigned before it is read when Maj uses it (`Lane::TERNARY` false); unused otherwise.
    let mut q = p;
    let [k_0, k_1, k_rest @ ..] = K;
    rounds16!(plain, k_0, [a b c d e f g h], [w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15], q p);
    // Rounds 16-31 apart from the loop: when the block ends in constant padding (as in PBKDF2),
    // their first schedule steps fold to constants.
    rounds16!(sched, k_1, [a b c d e f g h], [w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15], q p);
    for ks in k_rest {
        rounds16!(sched, ks, [a b c d e f g h], [w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15], q p);
    }
    let [s0, s1, s2, s3, s4, s5, s6, s7] = *state;
    *state = [
        s0.add(a),
        s1.add(b),
        s2.add(c),
        s3.add(d),
        s4.add(e),
        s5.add(f),
        s6.add(g),
        s7.add(h),
    ];
}

/// The block that follows a 128-byte HMAC key block when the message is one 64-byte digest:
/// the digest words, the `0x80` padding byte, zeros, and the length (128 + 64 bytes, in bits).
#[inline(always)]
fn digest_block<V: Lane>(d: &[V; 8]) -> [V; 16] {
    let [d0, d1, d2, d3, d4, d5, d6, d7] = *d;
    let pad = d0.splat(0x8000_0000_0000_0000);
    let zero = d0.splat(0);
    let len = d0.splat((128 + 64) * 8);
    [
        d0, d1, d2, d3, d4, d5, d6, d7, pad, zero, zero, zero, zero, zero, zero, len,
    ]
}

/// PBKDF2's F on every lane, from the HMAC key blocks (key XOR ipad, key XOR opad, as words) and
/// U_1: returns U_1 ^ U_2 ^ ... ^ U_rounds, where U_i = HMAC(key, U_{i-1}).
///
/// Each round is two compressions per lane: the inner hash continues from the keyed inner state
/// with the padded U_{i-1}, the outer one from the keyed outer state with the inner digest.
#[inline(always)]
pub(crate) fn pbkdf2_f<V: Lane>(
    ipad: &[V; 16],
    opad: &[V; 16],
    u1: &[V; 8],
    rounds: u32,
) -> [V; 8] {
    let [any, ..] = *u1;
    let iv = IV.map(|x| any.splat(x));
    let mut inner = iv;
    compress(&mut inner, ipad);
    let mut outer = iv;
    compress(&mut outer, opad);
    let mut u = *u1;
    let mut acc = *u1;
    for _ in 1..rounds {
        let mut s = inner;
        compress(&mut s, &digest_block(&u));
        let mut t = outer;
        compress(&mut t, &digest_block(&s));
        u = t;
        for (a, x) in acc.iter_mut().zip(u) {
            *a = a.xor(x);
        }
    }
    acc
}
