//! The bounded Lloyd pass: Hamerly's bounds skip the rows that provably keep their centre, with
//! results bit-identical to the fused pass of [`crate::kernels::fused`]. With many centres
//! (16 or more microkernel panels) the pass keeps one bound per group of centres instead
//! ([`crate::kernels::yinyang`]), which keeps pruning while a few centres still move far.

use rayon::prelude::*;

use crate::kernels::distance::Kernel;
use crate::kernels::fused::{assign_and_sum_with, chunk_rows, MIN_BLOCKS_PER_CHUNK};
use crate::kernels::parallel::{min_items, ROW_BLOCK};
use crate::kernels::points::{sq_diff, sq_dist_f64, sum_of_squares, Points, UP};
use crate::kernels::scalar::Scalar;
use crate::kernels::sums::{sums_by_cluster, to_f64, ClusterSums};
use crate::kernels::yinyang::{self, GroupBounds};

/// Fewer centres than this: every pass scans every row (the bounds would not pay for themselves).
const MIN_CENTERS_TO_PRUNE: usize = 16;
/// Plain passes through the AMX filter run until fewer than one row in this many changed centre.
const SETTLED: usize = 100;
/// The same for rows the kernel scans one row per lane ([`Kernel::narrow_rows`]): a scan so cheap
/// that below this many centres the bound test and the gathering of the rows it flags cost more
/// than they save. Measured with the AVX2 body, 60 refine passes on flower.jpg's colours
/// (float64), unpruned against bounded: k = 16 99 against 138 ms, k = 32 115 against 157, k = 64
/// 212 against 199, k = 128 302 against 214; on birch1 (k = 100, two features) 76 against 31.
/// With the AVX-512 body, whole default fits with 128 here instead: birch1 0.96–1.00 times the
/// time, birch3 0.99–1.07 (noise), so it stays.
const MIN_CENTERS_TO_PRUNE_NARROW: usize = 64;

/// What the bounded pass carries from one Lloyd iteration to the next (Hamerly's bounds).
///
/// For every row: a lower bound on its distance to every centre other than its own, and its norm.
/// When the centres move, a row's bound drops by the largest move of any other centre (triangle
/// inequality). A row whose exact distance to its own centre stays below that bound, by more
/// than the SIMD kernel's rounding could ever blur, keeps its label without being compared to
/// the other centres: the brute-force kernel would pick the same centre. All other rows are
/// scanned as usual. The sums and distances are then folded exactly as in [`assign_and_sum`](crate::kernels::fused::assign_and_sum)
/// (same chunks, same order), so the results are bit-identical to the unpruned pass.
#[derive(Clone, Debug, Default)]
pub struct Bounds {
    pub(crate) lower: Vec<f64>,
    pub(crate) norms: Vec<f64>,
    /// The centres (as f64) the bounds refer to; empty before the first pass.
    pub(crate) centers: Vec<f64>,
    /// With many centres, one bound per group of centres instead ([`crate::kernels::yinyang`]).
    grouped: GroupBounds,
    /// Whether the grouped passes have started, where plain passes through the AMX filter run
    /// first (see [`assign_and_sum_bounded`]).
    settled: bool,
    /// Rows scanned in the last pass, against every centre or (grouped) some groups (for tests
    /// and profiling).
    pub scanned: usize,
    /// Row-centre scores computed in the last pass: n · k for a full scan.
    pub pairs: usize,
}

impl Bounds {
    /// Bounds that know nothing yet: the next pass scans every row.
    pub fn new() -> Self {
        Self::default()
    }
}

/// [`assign_and_sum`](crate::kernels::fused::assign_and_sum) that skips the rows the bounds prove unchanged, where an AVX2 microkernel
/// runs (float32 or float64; elsewhere it is [`assign_and_sum`](crate::kernels::fused::assign_and_sum), and `bounds` are reset). `labels` must hold
/// the previous pass's labels when `bounds` come from that pass. Where the AMX filter labels
/// (many float32 centres), a run's passes are plain ones until fewer than one row in
/// `SETTLED` (100) changes centre, then the grouped ones.
pub fn assign_and_sum_bounded<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    centers: Points<'_, F>,
    labels: &mut [u32],
    dist2: &mut [f64],
    bounds: &mut Bounds,
) -> ClusterSums {
    let (d, k) = (x.d(), centers.n());
    let kernel = Kernel::new(centers);
    // With few centres a full scan costs little more than the bound test itself (one distance).
    let min_centers = if kernel.narrow_rows() { MIN_CENTERS_TO_PRUNE_NARROW } else { MIN_CENTERS_TO_PRUNE };
    if !(kernel.has_top2() && k >= min_centers) {
        *bounds = Bounds::new();
        return assign_and_sum_with(x, weights, &kernel, labels, dist2);
    }
    if yinyang::worth_it(&kernel, k, d) {
        if !bounds.settled && kernel.labels_through_amx() {
            // Where the AMX filter labels, a plain pass costs less than the grouped passes while
            // many rows still change centre: the grouped passes start (with a full scan) once
            // fewer than one row in SETTLED did.
            let before = labels.to_vec();
            let sums = assign_and_sum_with(x, weights, &kernel, labels, dist2);
            let changed = before.iter().zip(labels.iter()).filter(|(a, b)| a != b).count();
            *bounds = Bounds { settled: changed * SETTLED < x.n(), scanned: x.n(), pairs: x.n() * k, ..Bounds::new() };
            return sums;
        }
        let grouped = std::mem::take(&mut bounds.grouped);
        *bounds = Bounds { grouped, settled: bounds.settled, ..Bounds::new() };
        let sums =
            yinyang::assign_and_sum_grouped(x, weights, centers, labels, dist2, &mut bounds.grouped, bounds.settled);
        (bounds.scanned, bounds.pairs) = (bounds.grouped.scanned, bounds.grouped.pairs);
        return sums;
    }
    bounds.grouped = GroupBounds::default();
    hamerly(x, weights, centers, &kernel, labels, dist2, bounds)
}

/// Labels and second-smallest scores of the `flagged` rows of `rows` (at most `ROW_BLOCK` of
/// them, in increasing order, each once), by the top-2 kernel: a run of consecutive rows (a
/// block flagged whole) is scanned in place, as are flagged rows where the kernel reads listed
/// rows ([`Kernel::label_listed_top2`]); otherwise the flagged rows are gathered first (into
/// `gathered`). Returns the rows scanned, in the order of `flagged`, where they were gathered
/// (`None`: read in place).
pub(crate) fn scan_flagged<'a, F: Scalar>(
    kernel: &Kernel<'_, F>,
    rows: Points<'a, F>,
    flagged: &[usize],
    gathered: &'a mut Vec<F>,
    labels: &mut [u32],
    second: &mut [f64],
) -> Option<Points<'a, F>> {
    if let (Some(&first), Some(&last)) = (flagged.first(), flagged.last()) {
        if last - first + 1 == flagged.len() {
            kernel.label_block_top2(rows.rows(first, last + 1), labels, second).expect("top-2 kernel");
            return None;
        }
    }
    if kernel.label_listed_top2(rows, flagged, labels, second).is_some() {
        return None;
    }
    gathered.clear();
    flagged.iter().for_each(|&r| gathered.extend_from_slice(rows.row(r)));
    let block = Points::new(gathered, flagged.len(), rows.d()).expect("whole rows");
    kernel.label_block_top2(block, labels, second).expect("top-2 kernel");
    Some(block)
}

/// How far the centres moved since the bounds were set, and the margins the bound tests keep.
pub(crate) struct Drift {
    /// Every centre's move, rounded up.
    pub(crate) moves: Vec<f64>,
    top: f64,
    top_at: usize,
    runner: f64,
    /// The largest norm of a centre.
    radius: f64,
    /// Twice the relative rounding of the kernel's scores: see [`Drift::new`].
    eps: f64,
    /// Twice their absolute rounding, where the products are subnormal.
    tiny: f64,
}

impl Drift {
    /// The moves from `before` to `now` (k × d each; `before` empty or of another length: no
    /// move yet), for a kernel in `F`.
    pub(crate) fn new<F: Scalar>(now: &[f64], before: &[f64], k: usize, d: usize) -> Self {
        // A move is rounded up by more than its rounding (d squares summed, each also off by up
        // to half the smallest subnormal; one square root), so the bounds it lowers (or raises)
        // stay bounds.
        let (up, pad) = (1.0 + (d + 2) as f64 * f64::EPSILON, (d + 2) as f64 * f64::TINY);
        let moves: Vec<f64> = if before.len() != now.len() {
            vec![0.0; k]
        } else {
            (0..k).map(|j| (sq_diff(&now[j * d..(j + 1) * d], &before[j * d..(j + 1) * d]) + pad).sqrt() * up).collect()
        };
        // The largest and second-largest move: a row's lower bound drops by the largest move of a
        // centre other than its own.
        let (top, top_at, runner) =
            moves.iter().enumerate().fold((0.0f64, usize::MAX, 0.0f64), |(m1, at, m2), (j, &v)| {
                if v > m1 {
                    (v, j, m1)
                } else {
                    (m1, at, m2.max(v))
                }
            });
        let radius = (0..k).map(|j| sum_of_squares(&now[j * d..(j + 1) * d]).sqrt()).fold(0.0, f64::max);
        // The kernel's score ||c||² − 2x·c of any centre (in the data's precision, unit roundoff u)
        // is within (d + 2)·u·(||x|| + ||c||)² of its exact value; this is twice that, and
        // comparisons keep twice this again as a gap.
        let eps = 2.0 * (d + 4) as f64 * F::UNIT_ROUNDOFF;
        // Each of a score's d + 2 roundings is also off by up to half the smallest subnormal in
        // absolute terms, which the relative margin misses when the squares underflow.
        let tiny = 2.0 * (d + 4) as f64 * F::TINY;
        Self { moves, top, top_at, runner, radius, eps, tiny }
    }

    /// The largest move of a centre other than `a`: what a row of centre `a` loses of its lower
    /// bound.
    #[inline(always)]
    pub(crate) fn other(&self, a: usize) -> f64 {
        if a == self.top_at {
            self.runner
        } else {
            self.top
        }
    }

    /// The margin by which a row of norm `norm` must be closer (squared) to its own centre than
    /// its lower bound to keep it unscanned: twice the kernel's rounding of its scores.
    #[inline(always)]
    fn gap(&self, norm: f64) -> f64 {
        2.0 * (self.eps * (norm + self.radius).powi(2) + self.tiny)
    }

    /// Whether a row of norm `norm` whose squared distance to its own centre is at most `sq`
    /// keeps its label unscanned: a positive lower bound `lower` on its distance to every other
    /// centre, whose square exceeds `sq` by the [`Drift::gap`] (false where any is NaN).
    #[inline(always)]
    pub(crate) fn clears(&self, lower: f64, norm: f64, sq: f64) -> bool {
        lower > 0.0 && sq + self.gap(norm) < lower * lower
    }

    /// Moves the bounds of the rows labelled `labels` by the drift: each lower bound down by the
    /// largest move of a centre other than the row's own, each upper bound up by its own centre's
    /// move (rounded up); appends to `unclear`, in order, the rows (indices into `labels`) whose
    /// bounds no longer prove that their label stands: not a positive lower bound whose square
    /// exceeds the upper bound's by the [`Drift::gap`]. Where the CPU has AVX-512, eight rows at
    /// a time, each row with the scalar loop's operations: the same bits.
    pub(crate) fn shift(
        &self,
        labels: &[u32],
        lower: &mut [f64],
        upper: &mut [f64],
        norms: &[f64],
        unclear: &mut Vec<u32>,
    ) {
        let n = labels.len();
        assert!(lower.len() == n && upper.len() == n && norms.len() == n, "bounds for every row");
        assert!(labels.iter().all(|&a| (a as usize) < self.moves.len()), "a move for every label");
        // The gather below takes signed 32-bit indices.
        assert!(self.moves.len() <= i32::MAX as usize, "at most 2³¹ − 1 centres");
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::avx2::wide_available() {
            // SAFETY: the CPU has AVX-512F; every label indexes `moves` (asserted above).
            let done = unsafe { self.shift_wide(labels, lower, upper, norms, unclear) };
            return self.shift_rows(done, labels, lower, upper, norms, unclear);
        }
        self.shift_rows(0, labels, lower, upper, norms, unclear)
    }

    /// [`Drift::shift`] for the rows from `start` on, one at a time.
    fn shift_rows(
        &self,
        start: usize,
        labels: &[u32],
        lower: &mut [f64],
        upper: &mut [f64],
        norms: &[f64],
        unclear: &mut Vec<u32>,
    ) {
        for r in start..labels.len() {
            let a = labels[r] as usize;
            lower[r] -= self.other(a);
            upper[r] = (upper[r] + self.moves[a]) * UP;
            if !self.clears(lower[r], norms[r], upper[r] * upper[r]) {
                unclear.push(r as u32);
            }
        }
    }

    /// [`Drift::shift`] for the whole eights of rows, in AVX-512 registers; returns the rows done.
    ///
    /// # Safety
    /// The CPU must have AVX-512F, every label must index `moves`, and the slices hold a value
    /// per label.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2")]
    unsafe fn shift_wide(
        &self,
        labels: &[u32],
        lower: &mut [f64],
        upper: &mut [f64],
        norms: &[f64],
        unclear: &mut Vec<u32>,
    ) -> usize {
        use std::arch::x86_64::*;
        let whole = labels.len() / 8 * 8;
        // A label never equals -1 (fewer than 2³¹ centres), as the top move's index none is.
        let top_at = i64::try_from(self.top_at).unwrap_or(-1);
        let (top, runner, up) = (_mm512_set1_pd(self.top), _mm512_set1_pd(self.runner), _mm512_set1_pd(UP));
        let (radius, eps, tiny, two, zero) = (
            _mm512_set1_pd(self.radius),
            _mm512_set1_pd(self.eps),
            _mm512_set1_pd(self.tiny),
            _mm512_set1_pd(2.0),
            _mm512_setzero_pd(),
        );
        for r in (0..whole).step_by(8) {
            // SAFETY: r + 8 <= whole <= the length of every slice; the labels index `moves`.
            unsafe {
                let a = _mm256_loadu_si256(labels.as_ptr().add(r).cast());
                let moved = _mm512_i32gather_pd::<8>(a, self.moves.as_ptr().cast());
                let own_top = _mm512_cmpeq_epi64_mask(_mm512_cvtepu32_epi64(a), _mm512_set1_epi64(top_at));
                // Drift::other: the runner-up move for the rows of the centre that moved most.
                let low =
                    _mm512_sub_pd(_mm512_loadu_pd(lower.as_ptr().add(r)), _mm512_mask_blend_pd(own_top, top, runner));
                let high = _mm512_mul_pd(_mm512_add_pd(_mm512_loadu_pd(upper.as_ptr().add(r)), moved), up);
                _mm512_storeu_pd(lower.as_mut_ptr().add(r), low);
                _mm512_storeu_pd(upper.as_mut_ptr().add(r), high);
                // Drift::clears, operation for operation.
                let g = _mm512_add_pd(_mm512_loadu_pd(norms.as_ptr().add(r)), radius);
                let gap = _mm512_mul_pd(two, _mm512_add_pd(_mm512_mul_pd(eps, _mm512_mul_pd(g, g)), tiny));
                let floor = _mm512_mul_pd(low, low);
                let clear = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(low, zero)
                    & _mm512_cmp_pd_mask::<_CMP_LT_OQ>(_mm512_add_pd(_mm512_mul_pd(high, high), gap), floor);
                let mut bits = !clear;
                while bits != 0 {
                    unclear.push((r + bits.trailing_zeros() as usize) as u32);
                    bits &= bits - 1;
                }
            }
        }
        whole
    }

    /// A row's lower bound from its second-smallest kernel score, less the score's rounding; 0
    /// when that score is not finite (a centre whose squared norm overflows float32 scores +∞
    /// whatever its distance, so it bounds nothing).
    #[inline(always)]
    pub(crate) fn lower(&self, norm: f64, second: f64) -> f64 {
        let square = norm * norm + second - self.eps * (norm + self.radius).powi(2) - self.tiny;
        if square.is_finite() {
            square.max(0.0).sqrt()
        } else {
            0.0
        }
    }
}

/// The Hamerly pass itself (see [`Bounds`]), for a kernel with top-2 scans
/// ([`Kernel::has_top2`]); fresh `bounds` make it a full scan that sets them.
pub(crate) fn hamerly<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    centers: Points<'_, F>,
    kernel: &Kernel<'_, F>,
    labels: &mut [u32],
    dist2: &mut [f64],
    bounds: &mut Bounds,
) -> ClusterSums {
    let (n, d, k) = (x.n(), x.d(), centers.n());
    // Where assign_and_sum would not fuse (see chunk_rows), this pass only labels the rows, and
    // they are summed cluster by cluster afterwards, as there.
    let fused = chunk_rows(n, k, d, std::mem::size_of_val(x.as_slice()));
    let chunk = fused.unwrap_or(MIN_BLOCKS_PER_CHUNK * ROW_BLOCK);
    let now = to_f64(centers);
    let first = bounds.centers.len() != now.len() || bounds.lower.len() != n;
    let drift = Drift::new::<F>(&now, if first { &[] } else { &bounds.centers }, k, d);
    if first {
        bounds.lower = vec![0.0; n];
        bounds.norms = vec![0.0; n];
    }
    let mut scanned_rows = vec![0usize; n.div_ceil(chunk)];
    let partials: Vec<ClusterSums> = labels
        .par_chunks_mut(chunk)
        .zip(dist2.par_chunks_mut(chunk))
        .zip(bounds.lower.par_chunks_mut(chunk).zip(bounds.norms.par_chunks_mut(chunk)))
        .zip(scanned_rows.par_iter_mut())
        .enumerate()
        .with_min_len(min_items(chunk * k * d))
        .map(|(i, (((labels, dist2), (lower, norms)), scanned))| {
            let mut sums = ClusterSums::zeros(if fused.is_some() { k } else { 0 }, d);
            let mut flagged: Vec<usize> = Vec::with_capacity(ROW_BLOCK);
            let mut gathered: Vec<F> = Vec::with_capacity(ROW_BLOCK * d);
            let mut new_labels = vec![0u32; ROW_BLOCK];
            let mut second = vec![0f64; ROW_BLOCK];
            let start = i * chunk;
            let blocks = labels.chunks_mut(ROW_BLOCK).zip(dist2.chunks_mut(ROW_BLOCK));
            let bounds_blocks = lower.chunks_mut(ROW_BLOCK).zip(norms.chunks_mut(ROW_BLOCK));
            for (b, ((labels, dist2), (lower, norms))) in blocks.zip(bounds_blocks).enumerate() {
                let from = start + b * ROW_BLOCK;
                let rows = x.rows(from, from + labels.len());
                flagged.clear();
                for (r, label) in labels.iter().enumerate() {
                    if first {
                        norms[r] = sum_of_squares(rows.row(r)).sqrt();
                        flagged.push(r);
                        continue;
                    }
                    let a = *label as usize;
                    lower[r] -= drift.other(a);
                    let own = sq_dist_f64(rows.row(r), centers.row(a));
                    if !drift.clears(lower[r], norms[r], own) {
                        flagged.push(r);
                    }
                }
                *scanned += flagged.len();
                if !flagged.is_empty() {
                    let m = flagged.len();
                    scan_flagged(kernel, rows, &flagged, &mut gathered, &mut new_labels[..m], &mut second[..m]);
                    for (j, &r) in flagged.iter().enumerate() {
                        labels[r] = new_labels[j];
                        lower[r] = drift.lower(norms[r], second[j]);
                    }
                }
                if fused.is_some() {
                    sums.fold(rows, weights.map(|w| &w[from..from + labels.len()]), &now, labels, dist2, &[]);
                }
            }
            sums
        })
        .collect();
    let total = if fused.is_some() {
        ClusterSums::total(k, d, &partials)
    } else {
        sums_by_cluster(x, weights, &now, k, labels, dist2)
    };
    bounds.centers = now;
    bounds.scanned = scanned_rows.iter().sum();
    bounds.pairs = bounds.scanned * k;
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Purpose, Rng};

    /// [`Drift::shift`] (eight rows to a register where the CPU has AVX-512) against its scalar
    /// loop, row for row: the same bounds, bit for bit, and the same rows found unclear.
    #[test]
    fn shifted_bounds_have_the_bits_of_the_scalar_loop() {
        let mut rng = Rng::new(5, Purpose::SeedSample);
        let d = 6;
        for k in [1, 2, 3, 10] {
            let now: Vec<f64> = (0..k * d).map(|_| rng.uniform() * 4.0 - 2.0).collect();
            let moved: Vec<f64> = now.iter().map(|v| v + (rng.uniform() - 0.5) * 0.3).collect();
            // No move yet (every move zero, no centre moved most), the same centres, and moves.
            for before in [Vec::new(), now.clone(), moved] {
                let drift = Drift::new::<f64>(&now, &before, k, d);
                for n in [0, 1, 7, 8, 9, 16, 29, 64] {
                    let labels: Vec<u32> = (0..n).map(|_| rng.below(k) as u32).collect();
                    // Lower bounds around the upper ones (some clear, some not), some zero or
                    // negative; a NaN clears nothing.
                    let upper: Vec<f64> = (0..n).map(|_| rng.uniform() * 2.0).collect();
                    let mut lower: Vec<f64> = upper.iter().map(|u| u + (rng.uniform() - 0.3) * 1.5).collect();
                    if n > 3 {
                        (lower[1], lower[2], lower[3]) = (0.0, -0.5, f64::NAN);
                    }
                    let norms: Vec<f64> = (0..n).map(|_| rng.uniform() * 3.0).collect();
                    let (mut lower_want, mut upper_want, mut unclear_want) = (lower.clone(), upper.clone(), Vec::new());
                    drift.shift_rows(0, &labels, &mut lower_want, &mut upper_want, &norms, &mut unclear_want);
                    let (mut lower_got, mut upper_got, mut unclear_got) = (lower.clone(), upper.clone(), vec![99]);
                    drift.shift(&labels, &mut lower_got, &mut upper_got, &norms, &mut unclear_got);
                    let bits = |v: &[f64]| v.iter().map(|b| b.to_bits()).collect::<Vec<_>>();
                    let what = format!("k = {k}, n = {n}, {} centres before", before.len() / d);
                    assert_eq!(bits(&lower_got), bits(&lower_want), "lower bounds, {what}");
                    assert_eq!(bits(&upper_got), bits(&upper_want), "upper bounds, {what}");
                    assert_eq!(unclear_got[0], 99, "appended, {what}");
                    assert_eq!(unclear_got[1..], unclear_want[..], "unclear rows, {what}");
                    if n > 3 {
                        assert!(unclear_want.contains(&3), "a NaN lower bound clears nothing, {what}");
                    }
                }
            }
        }
    }
}
