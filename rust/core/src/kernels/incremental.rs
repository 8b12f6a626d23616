//! The incremental Lloyd pass: the sums of the next M step are kept from pass to pass and changed
//! only by the rows that change centre, and rows that provably keep their centre are not read.
//!
//! Near convergence a Lloyd pass changes the labels of a few rows in a thousand (MNIST's refine
//! from the K → k reduction: 0.4% a pass on average), yet the fused pass
//! ([`crate::kernels::fused`]) reads every row and folds it into the sums, and the bounded pass
//! ([`crate::kernels::bounds`]) reads every row to measure its distance to its own centre. Here:
//!
//! * The sums are taken relative to a reference fixed for the run, the centres of its first pass:
//!   `Σ w·(x − r)` per cluster ([`RunSums`]). The first pass folds every row (as the fused pass
//!   does); every later pass only takes out of its old cluster, and adds to its new one, each row
//!   whose label changed. The new centre is `r + Σ w·(x − r) / Σ w`. The changes are applied
//!   cluster by cluster in parallel, each cluster in row order, so the sums are the same bits on
//!   any number of threads, and the same whether or not a pass used the bounds (below): both
//!   change the same labels.
//! * With enough centres, every row also keeps Hamerly's bounds: an upper bound on its distance
//!   to its own centre, and a lower bound on its distance to every other ([`Bounds`]). When the
//!   centres move, the upper bound grows by its centre's move and the lower bound drops by the
//!   largest move of another. A row whose bounds still clear (by the kernel's rounding, as in the
//!   bounded pass) keeps its label unread; otherwise its exact distance to its own centre
//!   tightens the upper bound, and a row that still does not clear is scanned against every
//!   centre. The labels are the brute-force kernel's (see [`crate::kernels::bounds`]).
//!
//! The distances to the centres are therefore only known after the first pass: a caller that
//! needs them (the loss, an empty cluster) computes them for the final labels.
//!
//! With many centres, where the grouped pass runs ([`crate::kernels::yinyang`]), every pass sums
//! afresh (relative to its own centres) instead.

use rayon::prelude::*;

use crate::kernels::bounds::{self, Bounds, Drift};
use crate::kernels::distance::Kernel;
use crate::kernels::fused::assign_and_sum;
use crate::kernels::parallel::{min_items, ROW_BLOCK};
use crate::kernels::points::{sq_dist_f64, Points};
use crate::kernels::scalar::Scalar;
use crate::kernels::sums::{fold_row, to_f64, ClusterSums};
use crate::kernels::yinyang;

/// Fewer centres than this: no bounds, every pass scans every row (it still only sums the rows
/// that changed).
const MIN_CENTERS_TO_BOUND: usize = 2;
/// For rows of at most eight features ([`Kernel::narrow_rows`]), whose full scan is cheap: fewer
/// multiply-adds per row than this (k · d), no bounds.
const MIN_SCORES_TO_BOUND_NARROW: usize = 128;
/// A pass after one that moved more than one row in this many sums afresh: moving a row costs
/// two folds into the sums, from rows out of order, where summing afresh folds every row once,
/// in order.
const RESUM_MOVED: usize = 5;
/// The first pass that may use the bounds (counting from 0): setting them costs a top-2 scan and
/// the rows' norms, which a run of one or two iterations would not earn back.
const BOUNDS_FROM: usize = 3;
/// Rows per parallel task of the later passes (whole row blocks).
const CHUNK: usize = 8 * ROW_BLOCK;
/// An upper bound grows by this factor more than its rounding each time it is set or raised.
const UP: f64 = 1.0 + 4.0 * f64::EPSILON;

/// What one Lloyd run carries from pass to pass: the sums of the next M step and the bounds.
#[derive(Clone, Debug, Default)]
pub struct RunSums {
    /// `Σ w·(x − r)` over each cluster's rows, relative to its reference centre `r`; the weights
    /// and rows of positive weight per cluster.
    pub sums: ClusterSums,
    /// k × d: the centres the sums are taken relative to; empty before the first pass.
    pub reference: Vec<f64>,
    /// Rows the sums cover (the run's data).
    rows: usize,
    /// Rows whose label the last pass changed (none after a first pass).
    moved: usize,
    /// Passes run.
    passes: usize,
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

    /// Sums of every row, taken relative to the centres they were assigned to (a pass that
    /// summed afresh: [`crate::kernels::fused::assign_and_sum`] and the like).
    pub fn set<F: Scalar>(&mut self, sums: ClusterSums, centers: Points<'_, F>) {
        self.sums = sums;
        self.reference = to_f64(centers);
    }

    /// Whether every cluster holds a row of positive weight.
    pub fn none_empty(&self) -> bool {
        self.sums.none_empty()
    }

    /// The M step: every centre with weight moves to the weighted mean of its rows,
    /// `r + Σ w·(x − r) / Σ w`.
    pub fn move_centers<F: Scalar>(&self, centers: &mut [F]) {
        let d = self.sums.deltas.len() / self.sums.weights.len().max(1);
        for (c, &total) in self.sums.weights.iter().enumerate().filter(|(_, &t)| t > 0.0) {
            let (deltas, reference) = (&self.sums.deltas[c * d..(c + 1) * d], &self.reference[c * d..(c + 1) * d]);
            for ((dst, &delta), &r) in centers[c * d..(c + 1) * d].iter_mut().zip(deltas).zip(reference) {
                *dst = F::from_f64(r + delta / total);
            }
        }
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
    let pays = if kernel.narrow_rows() { k * d >= MIN_SCORES_TO_BOUND_NARROW } else { k >= MIN_CENTERS_TO_BOUND };
    let started = run.reference.len() == k * d && run.rows == n;
    let index = if started { run.passes } else { 0 };
    run.passes = index + 1;
    let bounded = kernel.has_top2() && bounds.unwrap_or(pays) && index >= BOUNDS_FROM;
    if !started || run.moved > n / RESUM_MOVED || index == BOUNDS_FROM {
        // Summing every row costs less than moving many: the pass sums afresh, relative to its
        // own centres (those of the bounded pass or the fused one: the same bits). So does the
        // pass that sets the bounds, bounded or not, so that the bounds never change the sums.
        let old = if started { labels.to_vec() } else { Vec::new() };
        let sums = if bounded {
            if index == BOUNDS_FROM {
                run.bounds = Bounds::new();
            }
            let sums = bounds::hamerly(x, weights, centers, &kernel, labels, dist2, &mut run.bounds);
            run.bounds.upper = dist2.par_iter().with_min_len(1 << 12).map(|&own| upper_bound(own, d)).collect();
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
        bounded_pass(x, centers, &kernel, labels, &mut run.bounds)
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
    // A full scan of wide rows measures each row's distance to its centre as it goes (d
    // multiply-adds for k · d); for narrow rows that would cost a good part of the scan, and the
    // caller measures the distances it needs once.
    !bounded && !kernel.narrow_rows()
}

/// A safe upper bound on a distance whose square `own` was computed by [`sq_dist_f64`] (at most
/// `d + 2` roundings).
#[inline(always)]
fn upper_bound(own: f64, d: usize) -> f64 {
    (own * (1.0 + (d + 2) as f64 * f64::EPSILON)).sqrt() * UP
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
fn bounded_pass<F: Scalar>(
    x: Points<'_, F>,
    centers: Points<'_, F>,
    kernel: &Kernel<'_, F>,
    labels: &mut [u32],
    bounds: &mut Bounds,
) -> Vec<(Vec<Move>, usize, usize)> {
    let (d, k) = (x.d(), centers.n());
    let now = to_f64(centers);
    let drift = Drift::new::<F>(&now, &bounds.centers, k, d);
    let out = labels
        .par_chunks_mut(CHUNK)
        .zip(bounds.lower.par_chunks_mut(CHUNK).zip(bounds.upper.par_chunks_mut(CHUNK)))
        .zip(bounds.norms.par_chunks(CHUNK))
        .enumerate()
        .with_min_len(min_items(CHUNK * d))
        .map(|(i, ((labels, (lower, upper)), norms))| {
            let (mut moves, mut scanned, mut read) = (Vec::new(), 0, 0);
            let mut flagged: Vec<usize> = Vec::with_capacity(ROW_BLOCK);
            let mut gathered: Vec<F> = Vec::with_capacity(ROW_BLOCK * d);
            let mut new_labels = vec![0u32; ROW_BLOCK];
            let mut second = vec![0f64; ROW_BLOCK];
            let blocks = labels.chunks_mut(ROW_BLOCK).zip(lower.chunks_mut(ROW_BLOCK).zip(upper.chunks_mut(ROW_BLOCK)));
            for (b, ((labels, (lower, upper)), norms)) in blocks.zip(norms.chunks(ROW_BLOCK)).enumerate() {
                let from = i * CHUNK + b * ROW_BLOCK;
                let rows = x.rows(from, from + labels.len());
                flagged.clear();
                for r in 0..labels.len() {
                    let a = labels[r] as usize;
                    lower[r] -= drift.other(a);
                    upper[r] = (upper[r] + drift.moves[a]) * UP;
                    let (gap, floor) = (drift.gap(norms[r]), lower[r] * lower[r]);
                    if lower[r] > 0.0 && upper[r] * upper[r] + gap < floor {
                        continue;
                    }
                    let own = sq_dist_f64(rows.row(r), centers.row(a));
                    upper[r] = upper_bound(own, d);
                    read += 1;
                    if !(lower[r] > 0.0 && own + gap < floor) {
                        flagged.push(r);
                    }
                }
                if flagged.is_empty() {
                    continue;
                }
                let m = flagged.len();
                scanned += m;
                // A block scanned whole is scanned in place; otherwise its flagged rows are
                // gathered first.
                let block = if m == labels.len() {
                    rows
                } else {
                    gathered.clear();
                    flagged.iter().for_each(|&r| gathered.extend_from_slice(rows.row(r)));
                    Points::new(&gathered, m, d).expect("m rows of d")
                };
                kernel.label_block_top2(block, &mut new_labels[..m], &mut second[..m]).expect("top-2 kernel");
                for (j, &r) in flagged.iter().enumerate() {
                    lower[r] = drift.lower(norms[r], second[j]);
                    let (was, now) = (labels[r], new_labels[j]);
                    if was != now {
                        upper[r] = upper_bound(sq_dist_f64(block.row(j), centers.row(now as usize)), d);
                        labels[r] = now;
                        moves.push(Move { row: from + r, from: was, to: now });
                    }
                }
            }
            (moves, scanned, read)
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
    // Each cluster's list of (row, joins), in row order.
    let mut offsets = vec![0usize; k + 1];
    for m in moves {
        offsets[m.from as usize + 1] += 1;
        offsets[m.to as usize + 1] += 1;
    }
    for c in 0..k {
        offsets[c + 1] += offsets[c];
    }
    let mut next = offsets.clone();
    let mut entries = vec![(0usize, false); 2 * moves.len()];
    for m in moves {
        for (c, joins) in [(m.from as usize, false), (m.to as usize, true)] {
            entries[next[c]] = (m.row, joins);
            next[c] += 1;
        }
    }
    let work = (entries.len() * d).div_ceil(k);
    sums.deltas
        .par_chunks_mut(d)
        .zip(sums.weights.par_iter_mut().zip(sums.members.par_iter_mut()))
        .enumerate()
        .with_min_len(min_items(work))
        .for_each(|(c, (deltas, (weight, members)))| {
            let (reference, entries) = (&reference[c * d..(c + 1) * d], &entries[offsets[c]..offsets[c + 1]]);
            apply_cluster(x, weights, reference, entries, deltas, weight, members);
        });
}

/// One cluster's share of [`apply_moves`]: its rows leaving (`false`) and joining (`true`), in
/// row order.
fn apply_cluster<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    reference: &[f64],
    entries: &[(usize, bool)],
    deltas: &mut [f64],
    weight: &mut f64,
    members: &mut u64,
) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::avx2::available() {
        /// Compiled for AVX2, so that [`fold_row`]'s AVX2 loop is inlined into it.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn apply_cluster_avx2<F: Scalar>(
            x: Points<'_, F>,
            weights: Option<&[f64]>,
            reference: &[f64],
            entries: &[(usize, bool)],
            deltas: &mut [f64],
            weight: &mut f64,
            members: &mut u64,
        ) {
            apply_cluster_portable(x, weights, reference, entries, deltas, weight, members)
        }
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { apply_cluster_avx2(x, weights, reference, entries, deltas, weight, members) };
    }
    apply_cluster_portable(x, weights, reference, entries, deltas, weight, members)
}

#[inline(always)]
fn apply_cluster_portable<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    reference: &[f64],
    entries: &[(usize, bool)],
    deltas: &mut [f64],
    weight: &mut f64,
    members: &mut u64,
) {
    for &(row, joins) in entries {
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
mod tests {
    use super::*;
    use crate::kernels::distance::assign;

    /// Rows of small integers around `groups` centres (many exact ties), from a fixed stream.
    fn blobs<F: Scalar>(n: usize, d: usize, groups: usize, seed: u64) -> Vec<F> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut next = move |m: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        let spots: Vec<f64> = (0..groups * d).map(|_| (next(41) as f64 - 20.0) * 3.0).collect();
        (0..n)
            .flat_map(|_| {
                let g = next(groups as u64) as usize;
                (0..d).map(|p| F::from_f64(spots[g * d + p] + next(9) as f64 - 4.0)).collect::<Vec<_>>()
            })
            .collect()
    }

    /// One Lloyd run of `iters` passes through [`pass`] with the bounds on or off: every pass's
    /// labels and sums, and the rows read per pass.
    #[allow(clippy::type_complexity)]
    fn run<F: Scalar>(
        x: &[F],
        d: usize,
        k: usize,
        weights: Option<&[f64]>,
        iters: usize,
        bounds: bool,
    ) -> (Vec<(Vec<u32>, ClusterSums, Vec<F>)>, Vec<usize>) {
        let points = Points::from_rows(x, d).unwrap();
        let n = points.n();
        // The first k distinct rows.
        let mut centers: Vec<F> = Vec::with_capacity(k * d);
        for row in x.chunks_exact(d) {
            if centers.len() < k * d && !centers.chunks_exact(d).any(|c| c == row) {
                centers.extend_from_slice(row);
            }
        }
        let (mut labels, mut dist2, mut state) = (vec![0u32; n], vec![0f64; n], RunSums::new());
        let (mut passes, mut read) = (Vec::new(), Vec::new());
        for _ in 0..iters {
            let c = Points::from_rows(&centers, d).unwrap();
            let exact = pass(points, weights, c, &mut labels, &mut dist2, &mut state, Some(bounds));
            // The labels are the brute-force kernel's, and the distances exact where so reported.
            let (mut plain, mut plain_dist2) = (vec![0u32; n], vec![0f64; n]);
            assign(points, c, &mut plain, &mut plain_dist2);
            assert!(labels == plain, "d = {d}, k = {k}, bounds {bounds}: pass {} labels", passes.len());
            if exact {
                assert_eq!(dist2, plain_dist2, "pass {} distances", passes.len());
            }
            read.push(state.read);
            if state.none_empty() {
                state.move_centers(&mut centers);
            } else {
                // As Lloyd does: an empty cluster's centre moves onto a row, and the next pass
                // sums afresh.
                let empty = state.sums.members.iter().position(|&m| m == 0).unwrap();
                let row = read.len() * 31 % n;
                centers[empty * d..(empty + 1) * d].copy_from_slice(&x[row * d..(row + 1) * d]);
                state = RunSums::new();
                continue;
            }
            passes.push((labels.clone(), state.sums.clone(), centers.clone()));
        }
        (passes, read)
    }

    /// The weighted means of the rows by label, naively in f64.
    fn means<F: Scalar>(x: &[F], d: usize, k: usize, labels: &[u32], weights: Option<&[f64]>) -> Vec<f64> {
        let (mut sums, mut total) = (vec![0f64; k * d], vec![0f64; k]);
        for (i, &l) in labels.iter().enumerate() {
            let w = weights.map_or(1.0, |w| w[i]);
            total[l as usize] += w;
            for p in 0..d {
                sums[l as usize * d + p] += w * x[i * d + p].to_f64();
            }
        }
        (0..k * d).map(|j| sums[j] / total[j / d]).collect()
    }

    fn bounds_change_nothing<F: Scalar>(d: usize, k: usize, weighted: bool) {
        let n = 3000;
        let x: Vec<F> = blobs(n, d, k, (d * 100 + k) as u64);
        // Every seventh row weighs nothing; the others 1 to 3.
        let w: Vec<f64> = (0..n).map(|i| if i % 7 == 3 { 0.0 } else { 1.0 + (i % 3) as f64 }).collect();
        let weights = weighted.then_some(&w[..]);
        let what = format!("d = {d}, k = {k}, weighted {weighted}, {}", std::any::type_name::<F>());
        let (with, read) = run(&x, d, k, weights, 40, true);
        let (without, _) = run(&x, d, k, weights, 40, false);
        assert!(with.len() > BOUNDS_FROM + 3, "{what}: a run long enough to use the bounds ({} passes)", with.len());
        assert!(with == without, "{what}: the bounds change no label and no bit of the sums");
        // The sums kept from pass to pass are those of the labels (each centre is its rows' mean).
        for (p, (labels, _, centers)) in with.iter().enumerate() {
            let want = means(&x, d, k, labels, weights);
            for (j, (&got, &want)) in centers.iter().zip(&want).enumerate() {
                let tol = 1e-9 * (1.0 + want.abs()) + 2.0 * F::UNIT_ROUNDOFF * want.abs();
                assert!((got.to_f64() - want).abs() <= tol, "{what}, pass {p}, value {j}: {} vs {want}", got.to_f64());
            }
        }
        // The bounds were used: some late pass read under half the rows.
        assert!(read[BOUNDS_FROM + 1..].iter().any(|&r| r < n / 2), "{what}: rows read per pass {read:?}");
    }

    #[test]
    fn passes_with_and_without_bounds_give_the_same_labels_and_sums() {
        for (d, k) in [(2, 70), (3, 50), (8, 20), (11, 7), (40, 3), (40, 12)] {
            for weighted in [false, true] {
                bounds_change_nothing::<f32>(d, k, weighted);
                bounds_change_nothing::<f64>(d, k, weighted);
            }
        }
    }

    #[test]
    fn passes_are_the_same_bits_on_any_thread_count() {
        let (d, k) = (11, 9);
        let x: Vec<f64> = blobs(5000, d, k, 5);
        let runs: Vec<_> = [1, 3]
            .iter()
            .map(|&t| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
                pool.install(|| run(&x, d, k, None, 30, true).0)
            })
            .collect();
        assert!(runs[0] == runs[1]);
    }

    #[test]
    fn a_pass_after_many_moves_sums_afresh_and_says_its_distances_are_exact() {
        // Centres far from the data's clusters at first: the second pass moves most rows.
        let (d, k, n) = (5, 4, 2000);
        let x: Vec<f64> = blobs(n, d, k, 9);
        let points = Points::from_rows(&x, d).unwrap();
        let mut centers = vec![0f64; k * d];
        centers.iter_mut().enumerate().for_each(|(j, c)| *c = j as f64);
        let (mut labels, mut dist2, mut state) = (vec![0u32; n], vec![0f64; n], RunSums::new());
        let mut exact = Vec::new();
        for _ in 0..6 {
            exact.push(pass(
                points,
                None,
                Points::from_rows(&centers, d).unwrap(),
                &mut labels,
                &mut dist2,
                &mut state,
                None,
            ));
            if state.none_empty() {
                state.move_centers(&mut centers);
            }
        }
        assert!(exact[0], "the first pass sums every row");
        assert!(exact.contains(&false), "some pass sums only the moved rows: {exact:?}");
    }
}
