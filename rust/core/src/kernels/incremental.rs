//! The incremental Lloyd pass: the sums of the next M step are kept from pass to pass and changed
//! only by the rows that change centre, and rows that provably keep their centre are not read.
//!
//! Near convergence a Lloyd pass changes the labels of a few rows in a thousand (MNIST's refine
//! from the K → k reduction: 0.4% a pass on average), yet the fused pass
//! ([`crate::kernels::fused`]) reads every row and folds it into the sums, and the bounded pass
//! ([`crate::kernels::bounds`]) reads every row to measure its distance to its own centre. Here:
//!
//! * The sums are taken relative to reference centres `r`, those of the last pass that summed
//!   afresh: `Σ w·(x − r)` per cluster ([`RunSums`]), and the new centre is
//!   `r + Σ w·(x − r) / Σ w`. A pass sums afresh (folds every row, as the fused pass does) when it
//!   is the run's first; when the pass before moved more than a fifth of the rows (moving a row
//!   costs two folds, from rows out of order, where summing afresh folds every row once, in
//!   order); at the pass that sets the bounds (below); and when a cluster's kept weight has
//!   cancelled to a small fraction of the largest it held (rows of huge weight left it, and the
//!   rounding of their removal would swamp what is left). Every other pass only takes out of its
//!   old cluster, and adds to its new one, each row whose label changed, cluster by cluster in
//!   parallel, each cluster in row order. So the sums are the same bits on any number of threads,
//!   and the same whether or not a pass used the bounds: both change the same labels, and when a
//!   pass sums afresh does not depend on the bounds.
//! * With enough centres, from the third pass (setting the bounds costs a top-2 scan and the
//!   rows' norms, which a run of one iteration would not earn back), or from an earlier one where
//!   the caller expects the run to go on ([`RunSums::bound_from_next_pass`]), every row also keeps
//!   Hamerly's bounds: an upper bound on its distance to its own centre, and a lower bound on its
//!   distance to every other ([`Bounds`]). When the centres move, the upper bound grows by its
//!   centre's move and the lower bound drops by the largest move of another. A row whose bounds
//!   still clear (by the kernel's rounding, as in the bounded pass) keeps its label unread;
//!   otherwise its exact distance to its own centre tightens the upper bound, and a row that
//!   still does not clear is scanned against every centre. The labels are the brute-force
//!   kernel's (see [`crate::kernels::bounds`]).
//!
//! A pass that sums afresh measures every row's distance to its centre, and so does a full scan
//! of rows of more than eight features; after any other pass the distances are stale, and a
//! caller that needs them (the loss, an empty cluster) measures them for the labels it has.
//!
//! With many centres, where the grouped pass runs ([`crate::kernels::yinyang`]), every pass sums
//! afresh instead.
//!
//! A [`RunSums`] belongs to one run: one data set, one set of weights, one k.

use rayon::prelude::*;

use crate::kernels::bounds::{self, scan_flagged, Bounds, Drift};
use crate::kernels::distance::Kernel;
use crate::kernels::fused::assign_and_sum;
use crate::kernels::parallel::{min_items, ROW_BLOCK};
use crate::kernels::points::{sq_dist_f64, Points, UP};
use crate::kernels::scalar::Scalar;
use crate::kernels::sq_dists::each_pair_f64;
use crate::kernels::sums::{fold_row, group_by_label, sums_by_cluster, to_f64, ClusterSums};
use crate::kernels::yinyang;

/// Fewer centres than this: no bounds, every pass scans every row (it still only sums the rows
/// that changed).
const MIN_CENTERS_TO_BOUND: usize = 2;
/// For rows the narrow kernel labels ([`Kernel::narrow_rows`]), whose full scan is cheap: fewer
/// multiply-adds per row (k · d) than this many times the rows the narrow kernel holds in a
/// register ([`Kernel::narrow_lanes`]), no bounds. With AVX2 that is k · d ≥ 128 in float64, as
/// measured before this rule (flower.jpg's colours: unbounded passes faster up to k = 32, bounded
/// from k = 64; china.jpg's, k = 48 to 80, bounded 1.15–1.5 times faster), and 256 in float32
/// (128 before; china.jpg's colours in float32 at k · d = 192 and 240 within ±8% either way, at
/// 288 bounding 1.2 times faster). The AVX-512 body scans twice the rows a register, and there
/// the bounds pay from k · d ≥ 256 and 512 (china.jpg's colours, whole fits: k = 64 unbounded 0.79
/// of the time bounded, k = 128 bounded 0.95 of unbounded; in float32 k = 128 unbounded 0.66,
/// k = 320 bounded 0.95).
const MIN_SCORES_PER_LANE_TO_BOUND_NARROW: usize = 32;
/// A pass after one that moved more than one row in this many sums afresh: moving a row costs
/// two folds into the sums, from rows out of order, where summing afresh folds every row once,
/// in order.
const RESUM_MOVED: usize = 5;
/// The first pass that may use the bounds (counting from 0): setting them costs a top-2 scan and
/// the rows' norms, which a run of one iteration would not earn back. 3 before the norms were
/// summed in AVX2 registers ([`crate::kernels::points::sum_of_squares`]); whole default fits at 2
/// against 3 (docs/algorithm.md, 2026-12-07): KDD Cup 99 0.93 of the time, digits 0.97 (at k = 30
/// 0.96), MNIST 0.98, runs of one or two iterations (dim032, dim064, s1) within the noise. One
/// pass earlier where the caller expects the run to go on ([`RunSums::bound_from_next_pass`]):
/// whole default fits with and without that (2026-12-07, one process, taking turns), digits 0.95
/// of the time (at k = 30 0.97), KDD Cup 99 0.96–0.97, s1 0.95–0.99, MNIST, a3 and dim064 within
/// ±3%, dim032 1.00–1.02; the same losses on every set. Bounds from the second pass for every run
/// (no expectation) had cost dim032 and s1 7%. Lloyd under the centre-shift rule now expects
/// every run to go on from its first pass, which sets the bounds (docs/algorithm.md, 2026-12-07,
/// evening: digits 0.94–0.96 of the time, the other sets within ±2%).
const BOUNDS_FROM: usize = 2;
/// A cluster whose kept weight falls to this fraction of the largest it held is summed afresh:
/// removing a row adds rounding of up to 2⁻⁵³ of that largest weight (and of its sums), at most
/// 2⁻³³ of what is left.
const CANCELLED: f64 = 1.0 / (1u64 << 20) as f64;
/// Rows per parallel task of the later passes (whole row blocks).
const CHUNK: usize = 8 * ROW_BLOCK;

/// What one Lloyd run carries from pass to pass: the sums of the next M step and the bounds.
#[derive(Clone, Debug, Default)]
pub struct RunSums {
    /// `Σ w·(x − r)` over each cluster's rows, relative to its reference centre `r`; the weights
    /// and rows of positive weight per cluster.
    pub sums: ClusterSums,
    /// k × d: the centres the sums are taken relative to; empty before the first pass.
    pub reference: Vec<f64>,
    /// The largest weight each cluster held since the last pass that summed afresh.
    peak: Vec<f64>,
    /// Upper bounds on every row's distance to its own centre, beside the lower ones in `bounds`.
    upper: Vec<f64>,
    /// Rows the sums cover (the run's data).
    rows: usize,
    /// Rows whose label the last pass changed (none after a first pass).
    moved: usize,
    /// Passes run.
    passes: usize,
    /// The pass that sets the bounds, where [`RunSums::bound_from_next_pass`] moved it before
    /// [`BOUNDS_FROM`].
    bounds_from: Option<usize>,
    bounds: Bounds,
    /// Rows scanned against every centre in the last pass (for tests and profiling).
    pub scanned: usize,
    /// Rows whose data the last pass read (scanned, or measured against their own centre).
    pub read: usize,
}

impl RunSums {
    /// Nothing yet: the next pass sums every row.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets the next pass set the bounds (and sum afresh), where that is before [`BOUNDS_FROM`]
    /// and before the pass this was asked for already (bounds once set are not set again):
    /// for a caller that expects the run to go on past that pass, which then earns the bounds
    /// back. Lloyd under the centre-shift rule says so before a run's first pass (every run makes
    /// two or more), and wherever the centres moved by more than its tolerance
    /// ([`crate::algo::lloyd`]): on sums just started afresh (after an empty cluster took a row),
    /// so that their first pass sets them. Whether the bounds are used changes no label and no sum; which
    /// pass sums afresh changes the sums' rounding.
    pub fn bound_from_next_pass(&mut self) {
        if self.passes < BOUNDS_FROM && self.bounds_from.is_none_or(|from| from > self.passes) {
            self.bounds_from = Some(self.passes);
        }
    }

    /// Sums of every row, taken relative to the centres they were assigned to (a pass that
    /// summed afresh: [`crate::kernels::fused::assign_and_sum`] and the like).
    pub fn set<F: Scalar>(&mut self, sums: ClusterSums, centers: Points<'_, F>) {
        self.peak = sums.weights.clone();
        self.sums = sums;
        self.reference = to_f64(centers);
    }

    /// Whether some cluster that still has rows kept only [`CANCELLED`] of its largest weight.
    fn cancelled(&mut self) -> bool {
        let mut any = false;
        for ((peak, &weight), &members) in self.peak.iter_mut().zip(&self.sums.weights).zip(&self.sums.members) {
            *peak = peak.max(weight);
            any |= members > 0 && weight <= *peak * CANCELLED;
        }
        any
    }

    /// Whether every cluster holds a row of positive weight.
    pub fn none_empty(&self) -> bool {
        self.sums.none_empty()
    }

    /// The M step: every centre with weight moves to the weighted mean of its rows,
    /// `r + Σ w·(x − r) / Σ w`.
    pub fn move_centers<F: Scalar>(&self, centers: &mut [F]) {
        self.sums.move_centers_from(Some(&self.reference), centers)
    }
}

/// A row whose label a pass changed.
#[derive(Clone, Copy, Debug)]
struct Move {
    row: usize,
    from: u32,
    to: u32,
}

/// Labels every row of `x` for `centers` and brings `run`'s sums up to date (see the module
/// docs). `labels` must hold the previous pass's labels when `run` comes from that pass. Returns
/// whether `dist2` now holds every row's exact squared distance to its centre (passes that
/// summed afresh, and full scans of rows of more than eight features); otherwise `dist2` is
/// left as it was.
pub fn assign_and_update<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    centers: Points<'_, F>,
    labels: &mut [u32],
    dist2: &mut [f64],
    run: &mut RunSums,
) -> bool {
    pass(x, weights, centers, labels, dist2, run, None)
}

/// [`assign_and_update`], with the bounds on or off where `bounds` says (tests), or where they
/// pay. Bounds or not, the labels and sums are the same bits.
pub(crate) fn pass<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    centers: Points<'_, F>,
    labels: &mut [u32],
    dist2: &mut [f64],
    run: &mut RunSums,
    bounds: Option<bool>,
) -> bool {
    let (n, d, k) = (x.n(), x.d(), centers.n());
    let kernel = Kernel::new(centers);
    if yinyang::worth_it(&kernel, k, d) {
        let sums = bounds::assign_and_sum_bounded(x, weights, centers, labels, dist2, &mut run.bounds);
        run.set(sums, centers);
        (run.rows, run.scanned, run.read) = (n, run.bounds.scanned, n);
        return true;
    }
    let narrow = kernel.narrow_lanes();
    let pays =
        if narrow > 0 { k * d >= MIN_SCORES_PER_LANE_TO_BOUND_NARROW * narrow } else { k >= MIN_CENTERS_TO_BOUND };
    let started = run.reference.len() == k * d && run.sums.weights.len() == k && run.rows == n;
    let index = if started { run.passes } else { 0 };
    run.passes = index + 1;
    let from = run.bounds_from.unwrap_or(BOUNDS_FROM);
    let bounded = kernel.has_top2() && bounds.unwrap_or(pays) && index >= from;
    if !started || run.moved > n / RESUM_MOVED || index == from {
        // Summing every row costs less than moving many: the pass sums afresh, relative to its
        // own centres (those of the bounded pass or the fused one: the same bits). So does the
        // pass that sets the bounds, bounded or not, so that the bounds never change the sums.
        let old = if started { labels.to_vec() } else { Vec::new() };
        let sums = if bounded {
            if index == from {
                run.bounds = Bounds::new();
            }
            let sums = bounds::hamerly(x, weights, centers, &kernel, labels, dist2, &mut run.bounds);
            run.upper = dist2.par_iter().with_min_len(1 << 12).map(|&own| upper_bound(own, d)).collect();
            sums
        } else {
            assign_and_sum(x, weights, centers, labels, dist2)
        };
        run.set(sums, centers);
        run.moved = old.iter().zip(labels.iter()).filter(|(a, b)| a != b).count();
        (run.rows, run.scanned, run.read) = (n, if bounded { run.bounds.scanned } else { n }, n);
        return true;
    }
    let chunks: Vec<(Vec<Move>, usize, usize)> = if bounded {
        bounded_pass(x, centers, &kernel, labels, &mut run.bounds, &mut run.upper)
    } else {
        if kernel.narrow_rows() {
            full_pass::<F, false>(x, &kernel, labels, dist2)
        } else {
            full_pass::<F, true>(x, &kernel, labels, dist2)
        }
    };
    let moves: Vec<Move> = chunks.iter().flat_map(|(moves, _, _)| moves.iter().copied()).collect();
    let moved = moves.len();
    let moves: Vec<Move> = match weights {
        // A row of weight zero is in no cluster's sums: its label changes alone.
        Some(w) => moves.into_iter().filter(|m| w[m.row] != 0.0).collect(),
        None => moves,
    };
    apply_moves(x, weights, &run.reference, &moves, &mut run.sums);
    run.moved = moved;
    run.scanned = chunks.iter().map(|c| c.1).sum();
    run.read = chunks.iter().map(|c| c.2).sum();
    if run.cancelled() {
        // Rows of huge weight left a cluster: what remains is summed afresh, relative to this
        // pass's centres.
        run.set(sums_by_cluster(x, weights, &to_f64(centers), k, labels, dist2), centers);
        return true;
    }
    // A full scan of wide rows measures each row's distance to its centre as it goes (d
    // multiply-adds for k · d); for narrow rows that would cost a good part of the scan, and the
    // caller measures the distances it needs once.
    !bounded && !kernel.narrow_rows()
}

/// A safe upper bound on a distance whose square `own` was computed by [`sq_dist_f64`] (at most
/// `d + 2` roundings, each relative or, among subnormals, absolute).
#[inline(always)]
fn upper_bound(own: f64, d: usize) -> f64 {
    // d + 2 times the smallest subnormal, f64::TINY, is the float with those bits (exactly, up to
    // d + 2 = 2⁵³, far beyond any row a memory holds). Multiplied out on every row (where LLVM
    // did not hoist the product out of the loop), a product that is subnormal costs a microcode
    // assist: setting the bounds of digits' 1,797 rows took 95 µs for these bounds alone, 2 µs
    // with the bits.
    let pad = f64::from_bits((d + 2) as u64);
    (own * (1.0 + (d + 2) as f64 * f64::EPSILON) + pad).sqrt() * UP
}

/// Every row scanned, and with `DIST` its exact distance to its new centre written to `dist2`;
/// the rows whose label changed (per chunk, in row order), with the rows scanned and read.
fn full_pass<F: Scalar, const DIST: bool>(
    x: Points<'_, F>,
    kernel: &Kernel<'_, F>,
    labels: &mut [u32],
    dist2: &mut [f64],
) -> Vec<(Vec<Move>, usize, usize)> {
    let d = x.d();
    labels
        .par_chunks_mut(CHUNK)
        .zip(dist2.par_chunks_mut(CHUNK))
        .enumerate()
        .with_min_len(min_items(CHUNK * d))
        .map_init(
            || (kernel.tile(), vec![0u32; ROW_BLOCK]),
            |(tile, old), (i, (labels, dist2))| {
                let mut moves = Vec::new();
                let (start, end) = (i * CHUNK, i * CHUNK + labels.len());
                for (b, (labels, dist2)) in labels.chunks_mut(ROW_BLOCK).zip(dist2.chunks_mut(ROW_BLOCK)).enumerate() {
                    let from = start + b * ROW_BLOCK;
                    let old = &mut old[..labels.len()];
                    old.copy_from_slice(labels);
                    let rows = x.rows(from, from + labels.len());
                    if DIST {
                        let next = (from + labels.len()).min(end);
                        let ahead = x.rows(next, (next + ROW_BLOCK).min(end)).as_slice();
                        kernel.assign_block(rows, tile, labels, dist2, ahead);
                    } else {
                        kernel.label_block(rows, tile, labels);
                    }
                    for (r, (&was, &now)) in old.iter().zip(labels.iter()).enumerate() {
                        if was != now {
                            moves.push(Move { row: from + r, from: was, to: now });
                        }
                    }
                }
                let rows = labels.len();
                (moves, rows, rows)
            },
        )
        .collect()
}

/// The rows the bounds do not clear scanned (see the module docs); the rows whose label changed
/// (per chunk, in row order), with the rows scanned and read.
///
/// Each chunk goes in three sweeps: every row's bounds moved by the drift ([`Drift::shift`],
/// eight rows to a register where the CPU has AVX-512), the rows they no longer clear measured
/// against their own centre (float64 rows eight at a time: [`each_pair_f64`]), and the rows that
/// still do not clear scanned against every centre where they lie in the rows, up to a block's
/// worth per call ([`scan_flagged`]). Every row's arithmetic is that of one loop over the rows,
/// so the labels, bounds and sums are the same bits. Measured against that loop (block by block,
/// each flagged row copied out before its scan), Lloyd runs on digits (1,797 × 64 float64, k =
/// 10, 40 starts, about 15 iterations each, one thread, best of 20 each): 57.0–58.9 ms in all,
/// then 51.5–52.2 with the bounds in registers, 46.0–47.6 with the rows scanned in place, 45.5–46.3
/// with the own distances eight at a time (docs/algorithm.md).
fn bounded_pass<F: Scalar>(
    x: Points<'_, F>,
    centers: Points<'_, F>,
    kernel: &Kernel<'_, F>,
    labels: &mut [u32],
    bounds: &mut Bounds,
    upper: &mut [f64],
) -> Vec<(Vec<Move>, usize, usize)> {
    let (d, k) = (x.d(), centers.n());
    let n = labels.len();
    assert!(bounds.lower.len() == n && bounds.norms.len() == n && upper.len() == n, "bounds for every row");
    let now = to_f64(centers);
    let drift = Drift::new::<F>(&now, &bounds.centers, k, d);
    let out = labels
        .par_chunks_mut(CHUNK)
        .zip(bounds.lower.par_chunks_mut(CHUNK).zip(upper.par_chunks_mut(CHUNK)))
        .zip(bounds.norms.par_chunks(CHUNK))
        .enumerate()
        .with_min_len(min_items(CHUNK * d))
        .map(|(i, ((labels, (lower, upper)), norms))| {
            let from = i * CHUNK;
            let rows = x.rows(from, from + labels.len());
            // The bounds of every row moved by the drift, and the rows they no longer clear.
            let mut unclear = Vec::new();
            drift.shift(labels, lower, upper, norms, &mut unclear);
            // Those rows measured against their own centre: the ones that still do not clear.
            let read = unclear.len();
            let mut own = vec![0f64; read];
            let pair = |j: usize| (rows.row(unclear[j] as usize), centers.row(labels[unclear[j] as usize] as usize));
            each_pair_f64(read, pair, |j, v| own[j] = v);
            let mut flagged = Vec::with_capacity(read);
            for (&r, &own) in unclear.iter().zip(&own) {
                let r = r as usize;
                upper[r] = upper_bound(own, d);
                if !drift.clears(lower[r], norms[r], own) {
                    flagged.push(r);
                }
            }
            // The flagged rows scanned against every centre, a tile's worth of them at a time.
            let mut moves = Vec::new();
            let mut gathered: Vec<F> = Vec::new();
            let mut new_labels = vec![0u32; ROW_BLOCK];
            let mut second = vec![0f64; ROW_BLOCK];
            for flagged in flagged.chunks(ROW_BLOCK) {
                let m = flagged.len();
                let block = scan_flagged(kernel, rows, flagged, &mut gathered, &mut new_labels[..m], &mut second[..m]);
                for (j, &r) in flagged.iter().enumerate() {
                    lower[r] = drift.lower(norms[r], second[j]);
                    let (was, now) = (labels[r], new_labels[j]);
                    if was != now {
                        let row = block.map_or(rows.row(r), |block| block.row(j));
                        upper[r] = upper_bound(sq_dist_f64(row, centers.row(now as usize)), d);
                        labels[r] = now;
                        moves.push(Move { row: from + r, from: was, to: now });
                    }
                }
            }
            (moves, flagged.len(), read)
        })
        .collect();
    bounds.centers = now;
    out
}

/// Takes each moved row (of positive weight) out of its old cluster's sums and adds it to its new
/// one's, relative to the clusters' `reference` centres: cluster by cluster in parallel, each in
/// row order (`moves` are in row order).
fn apply_moves<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    reference: &[f64],
    moves: &[Move],
    sums: &mut ClusterSums,
) {
    let (d, k) = (x.d(), sums.weights.len());
    if moves.is_empty() || d == 0 {
        return;
    }
    // Each cluster's ends of moves, in row order: end 2i is move i's leaving, 2i + 1 its joining.
    let ends: Vec<u32> = moves.iter().flat_map(|m| [m.from, m.to]).collect();
    let (offsets, order) = group_by_label(&ends, k);
    let work = (ends.len() * d).div_ceil(k);
    sums.deltas
        .par_chunks_mut(d)
        .zip(sums.weights.par_iter_mut().zip(sums.members.par_iter_mut()))
        .enumerate()
        .with_min_len(min_items(work))
        .for_each(|(c, (deltas, (weight, members)))| {
            let (reference, ends) = (&reference[c * d..(c + 1) * d], &order[offsets[c]..offsets[c + 1]]);
            apply_cluster(x, weights, reference, moves, ends, deltas, weight, members);
        });
}

/// One cluster's share of [`apply_moves`]: the `ends` of `moves` that leave it (even) or join
/// it (odd), in row order.
#[allow(clippy::too_many_arguments)]
fn apply_cluster<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    reference: &[f64],
    moves: &[Move],
    ends: &[u32],
    deltas: &mut [f64],
    weight: &mut f64,
    members: &mut u64,
) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::avx2::available() {
        /// Compiled for AVX2, so that [`fold_row`]'s AVX2 loop is inlined into it.
        #[allow(clippy::too_many_arguments)]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn apply_cluster_avx2<F: Scalar>(
            x: Points<'_, F>,
            weights: Option<&[f64]>,
            reference: &[f64],
            moves: &[Move],
            ends: &[u32],
            deltas: &mut [f64],
            weight: &mut f64,
            members: &mut u64,
        ) {
            apply_cluster_portable(x, weights, reference, moves, ends, deltas, weight, members)
        }
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { apply_cluster_avx2(x, weights, reference, moves, ends, deltas, weight, members) };
    }
    apply_cluster_portable(x, weights, reference, moves, ends, deltas, weight, members)
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn apply_cluster_portable<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    reference: &[f64],
    moves: &[Move],
    ends: &[u32],
    deltas: &mut [f64],
    weight: &mut f64,
    members: &mut u64,
) {
    for &end in ends {
        let (row, joins) = (moves[end as usize / 2].row, end % 2 == 1);
        let w = weights.map_or(1.0, |w| w[row]);
        // Out: −w·(x − r), exactly the negation of what joining added.
        let signed = if joins { weights.map(|_| w) } else { Some(-w) };
        fold_row::<F, true>(x.row(row), reference, deltas, signed);
        if joins {
            *weight += w;
            *members += 1;
        } else {
            *weight -= w;
            *members -= 1;
        }
    }
}

#[cfg(test)]
mod tests;
