//! What rqrr 0.10 will do with a picture, counted before it runs.
//!
//! rqrr has no limits of its own, and its search is not public: `detect_grids` finds the corner
//! squares of QR codes ("capstones") and then groups them, all in one call. Both steps can take
//! minutes on a small hostile picture:
//! - finding capstones: every run of black/white/black/white/black pixels on a row in the ratio
//!   1:1:3:1:1 makes rqrr flood-fill the two black regions it touches, keeping 251 painted regions
//!   in an LRU cache and painting the least recently used one back when the cache is full; in a
//!   picture of noise that is millions of flood fills;
//! - grouping: for each capstone, every pair of other capstones roughly in line with it is tried,
//!   each on a fresh copy of the whole picture; thousands of tiled corner squares make that
//!   billions of copied pixels.
//!
//! So mxkeys makes the black-and-white picture rqrr searches ([`threshold`], rqrr's own adaptive
//! threshold, handed to it through `PreparedImage::prepare_from_bitmap`) and replays rqrr's
//! capstone search on it ([`census`]): the same row scan, the same black regions (4-connected),
//! the same tests, the same cache. A picture is searched only when the replay finds few capstones
//! and little flood-fill work. That bounds the first step, and the number of tries in the second;
//! how long one try takes is rqrr's affair: its search for an alignment pattern spirals out as far
//! as the perspective of the capstones says, which rqrr computes privately (predicting it would
//! mean copying rqrr's corner and perspective code).

use std::collections::{BTreeMap, HashMap};

/// rqrr's region cache (`LruCache::new(251)` in `prepare.rs`).
const RQRR_REGION_CACHE: usize = 251;

/// rqrr 0.10's adaptive threshold (`PreparedImage::prepare`), line for line: a pixel is black when
/// it is darker than 95% of a running average of its row (the average runs both ways across the
/// row, alternating direction from row to row, and carries over from one row to the next).
/// `true` is black.
pub(super) fn threshold(w: usize, h: usize, grey: &[u8]) -> Vec<bool> {
    let mut out = Vec::with_capacity(w.saturating_mul(h));
    if w == 0 {
        return out;
    }
    let s = (w / 8).max(1) as u64;
    let mut row_average = vec![0u64; w];
    let (mut avg_v, mut avg_u) = (0u64, 0u64);
    for (y, row) in grey.chunks_exact(w).take(h).enumerate() {
        row_average.fill(0);
        let px = |x: usize| row.get(x).copied().map_or(0, u64::from);
        for x in 0..w {
            let (v, u) = if y % 2 == 0 {
                (w - 1 - x, x)
            } else {
                (x, w - 1 - x)
            };
            avg_v = avg_v * (s - 1) / s + px(v);
            avg_u = avg_u * (s - 1) / s + px(u);
            if let Some(a) = row_average.get_mut(v) {
                *a += avg_v;
            }
            if let Some(a) = row_average.get_mut(u) {
                *a += avg_u;
            }
        }
        out.extend(
            row.iter()
                .zip(&row_average)
                .map(|(p, a)| u64::from(*p) < a * 95 / (200 * s)),
        );
    }
    out
}

/// What the replay of rqrr's capstone search counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Census {
    /// Row patterns in the ratio 1:1:3:1:1 (each one is two region look-ups in rqrr).
    pub hits: u64,
    /// Capstones rqrr will find (at most this many: it drops those whose corners make no
    /// perspective).
    pub capstones: usize,
    /// Pixels rqrr will paint while finding them: each region painted when it enters the cache
    /// and when it leaves it, each capstone ring twice more.
    pub paint: u64,
}

/// Why a picture is not handed to rqrr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Busy {
    /// More than the limit of capstones (counting stopped there).
    Capstones,
    /// More than the limit of painted pixels (counting stopped there).
    Paint,
}

/// Limits for [`census`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct CensusLimits {
    pub capstones: usize,
    pub paint: u64,
}

/// A horizontal run of black pixels, `start..end` on its row.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    end: usize,
}

impl Run {
    fn len(self) -> usize {
        self.end - self.start
    }
}

/// The black runs of every row, and which 4-connected black region each belongs to.
struct Regions {
    /// Runs, row after row.
    runs: Vec<Run>,
    /// `rows[y]..rows[y + 1]` are row y's runs.
    rows: Vec<usize>,
    /// Each run's region: the index of one of its runs.
    region: Vec<usize>,
    /// Pixels per region (indexed by region).
    size: Vec<u64>,
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while let Some(&p) = parent.get(i) {
        if p == i {
            break;
        }
        // Path halving.
        let gp = parent.get(p).copied().unwrap_or(p);
        if let Some(slot) = parent.get_mut(i) {
            *slot = gp;
        }
        i = gp;
    }
    i
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        if let Some(slot) = parent.get_mut(ra.max(rb)) {
            *slot = ra.min(rb);
        }
    }
}

impl Regions {
    fn new(w: usize, h: usize, black: &[bool]) -> Self {
        let mut runs = Vec::new();
        let mut rows = Vec::with_capacity(h + 1);
        let mut parent: Vec<usize> = Vec::new();
        let mut prev = 0..0;
        for row in black.chunks_exact(w.max(1)).take(h) {
            let first = runs.len();
            rows.push(first);
            let mut x = 0;
            while x < row.len() {
                if row.get(x) == Some(&true) {
                    let start = x;
                    while row.get(x) == Some(&true) {
                        x += 1;
                    }
                    runs.push(Run { start, end: x });
                    parent.push(parent.len());
                } else {
                    x += 1;
                }
            }
            // Runs on consecutive rows that share a column are one region (4-connected, as
            // rqrr's flood fill).
            let here = first..runs.len();
            let (mut i, mut j) = (prev.start, here.start);
            while i < prev.end && j < here.end {
                let (Some(a), Some(b)) = (runs.get(i), runs.get(j)) else {
                    break;
                };
                if a.start < b.end && b.start < a.end {
                    union(&mut parent, i, j);
                }
                if a.end <= b.end {
                    i += 1;
                } else {
                    j += 1;
                }
            }
            prev = here;
        }
        rows.push(runs.len());
        let mut size = vec![0u64; runs.len()];
        let mut region = Vec::with_capacity(runs.len());
        for (i, run) in runs.iter().enumerate() {
            let r = find(&mut parent, i);
            region.push(r);
            if let Some(s) = size.get_mut(r) {
                *s += run.len() as u64;
            }
        }
        Regions {
            runs,
            rows,
            region,
            size,
        }
    }

    fn size(&self, region: usize) -> u64 {
        self.size.get(region).copied().unwrap_or(0)
    }
}

/// rqrr's region cache: which regions are painted, least recently used first.
struct Cache {
    tick: u64,
    used: HashMap<usize, u64>,
    order: BTreeMap<u64, usize>,
}

impl Cache {
    /// `get_region` on a black pixel of `region`: the pixels painted.
    fn get(&mut self, region: usize, regions: &Regions, claimed: &[bool]) -> u64 {
        // A capstone's ring is no longer black: rqrr answers without the cache.
        if claimed.get(region) == Some(&true) {
            return 0;
        }
        self.tick += 1;
        if let Some(t) = self.used.insert(region, self.tick) {
            self.order.remove(&t);
            self.order.insert(self.tick, region);
            return 0;
        }
        self.order.insert(self.tick, region);
        let mut paint = regions.size(region);
        if self.used.len() > RQRR_REGION_CACHE {
            if let Some((_, old)) = self.order.pop_first() {
                self.used.remove(&old);
                // The evicted region is painted black again (a ring claimed since was repainted
                // as a capstone already: rqrr's repaint finds nothing to do).
                if claimed.get(old) != Some(&true) {
                    paint += regions.size(old);
                }
            }
        }
        paint
    }
}

/// rqrr's row test for a capstone (`LineScanner::test_for_capstone`) on five runs
/// black/white/black/white/black.
fn is_finder_row(runs: [usize; 5]) -> bool {
    const CHECK: [usize; 5] = [1, 1, 3, 1, 1];
    let [a, b, _, d, e] = runs;
    let avg = (a + b + d + e) / 4;
    let err = avg * 3 / 4;
    runs.iter()
        .zip(CHECK)
        .all(|(r, c)| *r >= c * avg - err && *r <= c * avg + err)
}

/// Replay rqrr 0.10's capstone search (`capstones_from_image`) on the bitmap it will get, and stop
/// as soon as a limit is passed.
///
/// rqrr scans each row for five runs black/white/black/white/black in the ratio 1:1:3:1:1; three
/// consecutive black runs of a row with the white between them. For each, it looks up the region
/// of the last black run (the ring) and of the middle one (the stone), and has a capstone when the
/// first black run is in the ring's region too, the stone is another region, neither is a
/// capstone's ring already, and the stone has 10% to 70% of the ring's pixels.
pub(crate) fn census(
    w: usize,
    h: usize,
    black: &[bool],
    limits: CensusLimits,
) -> Result<Census, Busy> {
    let regions = Regions::new(w, h, black);
    let mut claimed = vec![false; regions.runs.len()];
    let mut cache = Cache {
        tick: 0,
        used: HashMap::new(),
        order: BTreeMap::new(),
    };
    let mut c = Census::default();
    for row in regions.rows.windows(2) {
        let (Some(&first), Some(&end)) = (row.first(), row.get(1)) else {
            continue;
        };
        for i in first..end.saturating_sub(2) {
            let (Some(runs), Some(reg)) =
                (regions.runs.get(i..i + 3), regions.region.get(i..i + 3))
            else {
                continue;
            };
            let (&[a, b, r], &[left, stone, ring]) = (runs, reg) else {
                continue;
            };
            if !is_finder_row([a.len(), b.start - a.end, b.len(), r.start - b.end, r.len()]) {
                continue;
            }
            c.hits += 1;
            c.paint += cache.get(ring, &regions, &claimed);
            c.paint += cache.get(stone, &regions, &claimed);
            let is_claimed = |g: usize| claimed.get(g) == Some(&true);
            let (ring_n, stone_n) = (regions.size(ring), regions.size(stone));
            let ratio = stone_n * 100 / ring_n.max(1);
            if left == ring
                && stone != ring
                && !is_claimed(ring)
                && !is_claimed(stone)
                && 10 < ratio
                && ratio < 70
            {
                if let Some(slot) = claimed.get_mut(ring) {
                    *slot = true;
                }
                c.capstones += 1;
                // create_capstone: the ring is repainted twice while its corners are found.
                c.paint += 2 * ring_n;
                if c.capstones > limits.capstones {
                    return Err(Busy::Capstones);
                }
            }
            if c.paint > limits.paint {
                return Err(Busy::Paint);
            }
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIG: CensusLimits = CensusLimits {
        capstones: usize::MAX,
        paint: u64::MAX,
    };

    /// A 7x7 corner square at `scale` pixels per module.
    fn finder(x: usize, y: usize) -> bool {
        let ring = x == 0 || x == 6 || y == 0 || y == 6;
        let stone = (2..=4).contains(&x) && (2..=4).contains(&y);
        x < 7 && y < 7 && (ring || stone)
    }

    fn tiled(size: usize, scale: usize) -> Vec<bool> {
        (0..size * size)
            .map(|i| finder((i % size) / scale % 8, (i / size) / scale % 8))
            .collect()
    }

    #[test]
    fn one_capstone_per_corner_square() {
        let b = tiled(64, 1);
        let c = census(64, 64, &b, BIG).unwrap();
        assert_eq!(c.capstones, 64);
        let b = tiled(48, 3);
        let c = census(48, 48, &b, BIG).unwrap();
        assert_eq!(c.capstones, 4);
    }

    #[test]
    fn counting_stops_at_the_limits() {
        let b = tiled(64, 1);
        let lim = CensusLimits {
            capstones: 10,
            paint: u64::MAX,
        };
        assert_eq!(census(64, 64, &b, lim), Err(Busy::Capstones));
        let lim = CensusLimits {
            capstones: usize::MAX,
            paint: 100,
        };
        assert_eq!(census(64, 64, &b, lim), Err(Busy::Paint));
    }

    #[test]
    fn threshold_is_rqrrs() {
        // A gradient with squares and noise: rqrr's own threshold must give the same bitmap.
        let (w, h) = (97, 61);
        let mut seed = 7u32;
        let grey: Vec<u8> = (0..w * h)
            .map(|i| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let (x, y) = (i % w, i / w);
                let base = (x * 2 + y) as u32 % 200;
                let dark = if finder(x / 3 % 8, y / 3 % 8) { 0 } else { 55 };
                (base + dark + (seed >> 28)) as u8
            })
            .collect();
        let ours = threshold(w, h, &grey);
        let theirs = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| grey[y * w + x]);
        for y in 0..h {
            for x in 0..w {
                assert_eq!(ours[y * w + x], theirs.get_pixel_at(x, y) == 1u8, "{x},{y}");
            }
        }
    }
}
