//! The fused Lloyd pass: assignment and the per-cluster sums of the next M step in one read of
//! the data.
//!
//! A Lloyd iteration needs, for every cluster, the weighted mean of its rows. Computing it after
//! the assignment means a second pass over the data (in cluster order, which is random access),
//! and that pass cost as much as the assignment itself. Here each block of rows is folded into the
//! sums right after its labels are known, while the rows are still in cache.
//!
//! The sums are taken relative to the centre each row was assigned to, `Σ w·(x − c)`, so the new
//! centre is `c + Σ w·(x − c) / Σ w`: no cancellation for data far from the origin, and a centre
//! that already sits on all its (identical) rows gets sums of exactly zero and stays put.
//!
//! Inputs too small to fill enough chunks of partial sums (a mini-batch against many centres, the
//! K → k reduction) are labelled first and then summed cluster by cluster ([`sum_by_label`]):
//! their rows are still in cache, and k × d partial sums per small chunk would cost more to zero
//! and merge than the rows. A mini-batch against few centres (5,000 rows, 100 centres) still
//! fuses, in chunks of a few row blocks ([`chunk_rows`]); [`gather_assign_and_sum`] also copies
//! its rows out of the data in the same pass.
//!
//! Determinism: rows are cut into chunks whose size depends on n, k and d only. Each chunk sums
//! its rows in row order, and the chunks' partial sums are added in chunk order; summed cluster by
//! cluster, each cluster adds its rows in row order. Either way the result is the same on any
//! number of threads.

use rayon::prelude::*;

use crate::distance::{Kernel, ROW_BLOCK};
use crate::parallel::min_items;
use crate::points::{copy_rows, fold_lanes, prefetch, sq_dist_f64, sum_of_squares, Points};
use crate::scalar::Scalar;

/// Bytes of partial sums all chunks may hold at once.
const PARTIAL_BUDGET: usize = 16 << 20;
/// At most this many chunks (enough to balance the work over many cores).
const MAX_CHUNKS: usize = 64;
/// Below this many chunks the fused pass would starve the threads: assign, then sum by cluster.
const MIN_CHUNKS: usize = 8;
/// Fewer row blocks per chunk than this: assign, then sum by cluster (see [`chunk_rows`]).
const MIN_BLOCKS_PER_CHUNK: usize = 4;
/// Fewer centres than this: every pass scans every row (the bounds would not pay for themselves).
const MIN_CENTERS_TO_PRUNE: usize = 16;

/// Per-cluster sums of one assignment.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterSums {
    /// k × d: Σ w·(x − c) over the rows assigned to each centre c.
    pub deltas: Vec<f64>,
    /// Σ w per cluster.
    pub weights: Vec<f64>,
    /// Rows of positive weight per cluster.
    pub members: Vec<u64>,
}

impl ClusterSums {
    pub(crate) fn zeros(k: usize, d: usize) -> Self {
        Self { deltas: vec![0.0; k * d], weights: vec![0.0; k], members: vec![0; k] }
    }

    /// The sum of chunks' partial sums, added in chunk order.
    fn total(k: usize, d: usize, partials: &[Self]) -> Self {
        let mut total = Self::zeros(k, d);
        partials.iter().for_each(|p| total.add(p));
        total
    }

    pub(crate) fn add(&mut self, other: &Self) {
        self.deltas.iter_mut().zip(&other.deltas).for_each(|(a, b)| *a += b);
        self.weights.iter_mut().zip(&other.weights).for_each(|(a, b)| *a += b);
        self.members.iter_mut().zip(&other.members).for_each(|(a, b)| *a += b);
    }

    /// Folds rows into the sums, given their labels, and writes each row's exact squared
    /// distance to its centre (`x − c` is computed once, in `f64`, for both). `centers` are the
    /// k × d centres converted to `f64`.
    fn fold<F: Scalar>(
        &mut self,
        rows: Points<'_, F>,
        weights: Option<&[f64]>,
        centers: &[f64],
        labels: &[u32],
        dist2: &mut [f64],
        ahead: &[F],
    ) {
        #[cfg(target_arch = "x86_64")]
        if crate::avx2::available() {
            // SAFETY: the CPU has AVX2 and FMA.
            return unsafe { self.fold_avx2(rows, weights, centers, labels, dist2, ahead) };
        }
        self.fold_portable(rows, weights, centers, labels, dist2, ahead)
    }

    /// [`ClusterSums::fold`] compiled for AVX2, so that [`fold_row`]'s AVX2 loop is inlined into
    /// it rather than called once per row.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fold_avx2<F: Scalar>(
        &mut self,
        rows: Points<'_, F>,
        weights: Option<&[f64]>,
        centers: &[f64],
        labels: &[u32],
        dist2: &mut [f64],
        ahead: &[F],
    ) {
        self.fold_portable(rows, weights, centers, labels, dist2, ahead)
    }

    #[inline(always)]
    fn fold_portable<F: Scalar>(
        &mut self,
        rows: Points<'_, F>,
        weights: Option<&[f64]>,
        centers: &[f64],
        labels: &[u32],
        dist2: &mut [f64],
        ahead: &[F],
    ) {
        let d = rows.d();
        // While a row is folded, an equal share of the next block's rows is fetched, so memory
        // keeps streaming while the fold computes.
        let share = ahead.len().div_ceil(labels.len().max(1));
        for (r, (&label, d2)) in labels.iter().zip(dist2.iter_mut()).enumerate() {
            if let Some(next) = ahead.get(r * share..((r + 1) * share).min(ahead.len())) {
                prefetch(next);
            }
            let l = label as usize;
            let (c, sums) = (&centers[l * d..(l + 1) * d], &mut self.deltas[l * d..(l + 1) * d]);
            let (weight, members) = (&mut self.weights[l], &mut self.members[l]);
            *d2 = fold_weighted_row(rows.row(r), c, weights.map(|w| w[r]), sums, weight, members);
        }
    }

    /// Whether every cluster holds a row of positive weight.
    pub fn none_empty(&self) -> bool {
        self.members.iter().all(|&m| m > 0)
    }

    /// The M step: every centre with weight moves to the weighted mean of its rows.
    pub fn move_centers<F: Scalar>(&self, centers: &mut [F]) {
        let d = self.deltas.len() / self.weights.len().max(1);
        for (c, &total) in self.weights.iter().enumerate().filter(|(_, &t)| t > 0.0) {
            let deltas = &self.deltas[c * d..(c + 1) * d];
            for (dst, &delta) in centers[c * d..(c + 1) * d].iter_mut().zip(deltas) {
                *dst = F::from_f64(dst.to_f64() + delta / total);
            }
        }
    }
}

/// Folds the `rows` of one cluster (centre `center`) into its `deltas`, writing their distances
/// to `dist2` in the same order; returns the cluster's weight and members.
fn fold_cluster<F: Scalar>(
    x: Points<'_, F>,
    rows: &[u32],
    weights: Option<&[f64]>,
    center: &[f64],
    deltas: &mut [f64],
    dist2: &mut [f64],
) -> (f64, u64) {
    #[cfg(target_arch = "x86_64")]
    if crate::avx2::available() {
        /// Compiled for AVX2, so that [`fold_row`]'s AVX2 loop is inlined into it.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn fold_cluster_avx2<F: Scalar>(
            x: Points<'_, F>,
            rows: &[u32],
            weights: Option<&[f64]>,
            center: &[f64],
            deltas: &mut [f64],
            dist2: &mut [f64],
        ) -> (f64, u64) {
            fold_cluster_portable(x, rows, weights, center, deltas, dist2)
        }
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { fold_cluster_avx2(x, rows, weights, center, deltas, dist2) };
    }
    fold_cluster_portable(x, rows, weights, center, deltas, dist2)
}

#[inline(always)]
fn fold_cluster_portable<F: Scalar>(
    x: Points<'_, F>,
    rows: &[u32],
    weights: Option<&[f64]>,
    center: &[f64],
    deltas: &mut [f64],
    dist2: &mut [f64],
) -> (f64, u64) {
    let (mut weight, mut members) = (0.0, 0);
    for (d2, &r) in dist2.iter_mut().zip(rows) {
        let w = weights.map(|w| w[r as usize]);
        *d2 = fold_weighted_row(x.row(r as usize), center, w, deltas, &mut weight, &mut members);
    }
    (weight, members)
}

/// One row's exact squared distance to its centre `c` (as `f64`). Unless the row's weight `w`
/// is zero, the row joins the cluster: `w·(x − c)` (`x − c` when unweighted) is added to its
/// `sums`, `w` (1) to its `weight` and one to its `members`.
#[inline(always)]
fn fold_weighted_row<F: Scalar>(
    x: &[F],
    c: &[f64],
    w: Option<f64>,
    sums: &mut [f64],
    weight: &mut f64,
    members: &mut u64,
) -> f64 {
    if w == Some(0.0) {
        return fold_row::<F, false>(x, c, sums, None);
    }
    *weight += w.unwrap_or(1.0);
    *members += 1;
    fold_row::<F, true>(x, c, sums, w)
}

/// `Σ (x − c)²` in [`sq_dist_f64`]'s eight-lane order (so it has the same bits), adding
/// `x − c` (times `w`, when given) to `sums` on the way when `ADD`.
#[inline(always)]
fn fold_row<F: Scalar, const ADD: bool>(x: &[F], c: &[f64], sums: &mut [f64], w: Option<f64>) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if crate::avx2::available() {
        // SAFETY: the CPU has AVX2; the slices have the same length.
        if let Some(x) = F::as_f32(x) {
            return unsafe { fold_row_avx2::<_, ADD>(x, c, sums, w) };
        }
        if let Some(x) = F::as_f64(x) {
            return unsafe { fold_row_avx2::<_, ADD>(x, c, sums, w) };
        }
    }
    let mut lanes = [0f64; 8];
    let (xs, cs, ss) = (x.chunks_exact(8), c.chunks_exact(8), sums.chunks_exact_mut(8));
    for ((x, c), s) in xs.zip(cs).zip(ss) {
        for i in 0..8 {
            let t = x[i].to_f64() - c[i];
            lanes[i] += t * t;
            if ADD {
                s[i] += w.map_or(t, |w| w * t);
            }
        }
    }
    fold_lanes(lanes) + fold_tail::<F, ADD>(x, c, sums, w)
}

/// The features past the last whole eight of [`fold_row`], in order.
#[inline(always)]
fn fold_tail<F: Scalar, const ADD: bool>(x: &[F], c: &[f64], sums: &mut [f64], w: Option<f64>) -> f64 {
    let start = x.len() - x.len() % 8;
    let tail = x[start..].iter().zip(&c[start..]).zip(&mut sums[start..]).map(|((&u, &v), s)| {
        let t = u.to_f64() - v;
        if ADD {
            *s += w.map_or(t, |w| w * t);
        }
        t * t
    });
    tail.sum::<f64>()
}

/// Four values of a row as `f64`.
#[cfg(target_arch = "x86_64")]
trait Load4: Scalar {
    /// # Safety
    /// `p` must be valid for four reads; the CPU must have AVX.
    unsafe fn load4(p: *const Self) -> std::arch::x86_64::__m256d;
}

#[cfg(target_arch = "x86_64")]
impl Load4 for f32 {
    #[inline(always)]
    unsafe fn load4(p: *const f32) -> std::arch::x86_64::__m256d {
        use std::arch::x86_64::*;
        // SAFETY: forwarded.
        unsafe { _mm256_cvtps_pd(_mm_loadu_ps(p)) }
    }
}

#[cfg(target_arch = "x86_64")]
impl Load4 for f64 {
    #[inline(always)]
    unsafe fn load4(p: *const f64) -> std::arch::x86_64::__m256d {
        // SAFETY: forwarded.
        unsafe { std::arch::x86_64::_mm256_loadu_pd(p) }
    }
}

/// [`fold_row`] in AVX2 registers: lanes 0–3 and 4–7 of its eight are two ymm sums, and the
/// products and sums are rounded exactly as there (multiply, then add; no FMA).
///
/// Not itself compiled for AVX2 (a `#[target_feature]` function cannot be forced inline), but
/// always inlined: inside the AVX2-compiled row loops its intrinsics become single
/// instructions, with no call per row.
///
/// # Safety
/// The CPU must have AVX2; `c` and `sums` must be at least as long as `x`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn fold_row_avx2<F: Load4, const ADD: bool>(x: &[F], c: &[f64], sums: &mut [f64], w: Option<f64>) -> f64 {
    use std::arch::x86_64::*;
    assert!(c.len() >= x.len() && sums.len() >= x.len());
    let whole = x.len() - x.len() % 8;
    let (xp, cp, sp) = (x.as_ptr(), c.as_ptr(), sums.as_mut_ptr());
    // SAFETY: every offset below is under `whole` <= the length of all three slices.
    let lanes = unsafe {
        let (mut lo, mut hi) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        let wv = _mm256_set1_pd(w.unwrap_or(1.0));
        for i in (0..whole).step_by(8) {
            let t0 = _mm256_sub_pd(F::load4(xp.add(i)), _mm256_loadu_pd(cp.add(i)));
            let t1 = _mm256_sub_pd(F::load4(xp.add(i + 4)), _mm256_loadu_pd(cp.add(i + 4)));
            lo = _mm256_add_pd(lo, _mm256_mul_pd(t0, t0));
            hi = _mm256_add_pd(hi, _mm256_mul_pd(t1, t1));
            if ADD {
                let (a0, a1) = if w.is_some() { (_mm256_mul_pd(wv, t0), _mm256_mul_pd(wv, t1)) } else { (t0, t1) };
                _mm256_storeu_pd(sp.add(i), _mm256_add_pd(_mm256_loadu_pd(sp.add(i)), a0));
                _mm256_storeu_pd(sp.add(i + 4), _mm256_add_pd(_mm256_loadu_pd(sp.add(i + 4)), a1));
            }
        }
        let mut lanes = [0f64; 8];
        _mm256_storeu_pd(lanes.as_mut_ptr(), lo);
        _mm256_storeu_pd(lanes.as_mut_ptr().add(4), hi);
        lanes
    };
    fold_lanes(lanes) + fold_tail::<F, ADD>(x, c, sums, w)
}

/// Rows per chunk for n rows of d features (`data_bytes` in all: dense or sparse) and k
/// centres, or None when the sums are too large to keep enough chunks in flight, or the rows too
/// few to fill chunks worth their partial sums, or d = 0 (then the rows are labelled first and
/// summed cluster by cluster: [`sum_by_label`]). The answer depends on the shape of the data
/// alone, never on the thread count.
pub(crate) fn chunk_rows(n: usize, k: usize, d: usize, data_bytes: usize) -> Option<usize> {
    if d == 0 {
        return None;
    }
    let per_chunk = k * (d + 2) * std::mem::size_of::<f64>();
    let chunks = (PARTIAL_BUDGET / per_chunk.max(1)).min(MAX_CHUNKS);
    if chunks < MIN_CHUNKS {
        return None;
    }
    let blocks = n.div_ceil(ROW_BLOCK).max(1);
    let blocks_per_chunk = blocks.div_ceil(chunks);
    if blocks_per_chunk >= MIN_BLOCKS_PER_CHUNK {
        return Some(blocks_per_chunk * ROW_BLOCK);
    }
    // Each chunk zeroes and merges k × d partial sums; below a few blocks of rows that costs more
    // than it saves (a mini-batch of 5,000 rows against 1,000 centres would zero and add 40 of
    // them, 10 MB, per batch). Fewer rows still fuse, in chunks of that many blocks, while there
    // are enough chunks and their partial sums are at most half the bytes of the rows (5,000
    // float32 rows of 32 features against 100 centres: ten chunks, 0.27 MB of sums for 0.64 MB).
    let chunks = blocks.div_ceil(MIN_BLOCKS_PER_CHUNK);
    let small = chunks * per_chunk <= data_bytes / 2;
    (chunks >= MIN_CHUNKS && small).then_some(MIN_BLOCKS_PER_CHUNK * ROW_BLOCK)
}

/// Assigns every row of `x` to its nearest centre (as [`crate::distance::assign`]) and returns
/// the per-cluster sums for the next M step, reading `x` once from memory (small inputs twice,
/// the second time from cache: see the module docs).
pub fn assign_and_sum<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    centers: Points<'_, F>,
    labels: &mut [u32],
    dist2: &mut [f64],
) -> ClusterSums {
    let (n, d, k) = (x.n(), x.d(), centers.n());
    let kernel = Kernel::new(centers);
    let centers64 = to_f64(centers);
    let Some(chunk) = chunk_rows(n, k, d, std::mem::size_of_val(x.as_slice())) else {
        let blocks = labels.par_chunks_mut(ROW_BLOCK).enumerate().with_min_len(min_items(ROW_BLOCK * k * d));
        blocks.for_each_init(
            || kernel.tile(),
            |tile, (b, labels)| {
                kernel.label_block(x.rows(b * ROW_BLOCK, b * ROW_BLOCK + labels.len()), tile, labels);
            },
        );
        return sums_by_cluster(x, weights, &centers64, k, labels, dist2);
    };
    let partials: Vec<ClusterSums> = labels
        .par_chunks_mut(chunk)
        .zip(dist2.par_chunks_mut(chunk))
        .enumerate()
        .with_min_len(min_items(chunk * k * d))
        .map_init(
            || kernel.tile(),
            |tile, (i, (labels, dist2))| {
                let mut sums = ClusterSums::zeros(k, d);
                let (start, chunk_len) = (i * chunk, labels.len());
                for (b, (labels, dist2)) in labels.chunks_mut(ROW_BLOCK).zip(dist2.chunks_mut(ROW_BLOCK)).enumerate() {
                    let from = start + b * ROW_BLOCK;
                    let rows = x.rows(from, from + labels.len());
                    kernel.label_block(rows, tile, labels);
                    let next = (from + labels.len()).min(start + chunk_len);
                    let ahead = x.rows(next, (next + ROW_BLOCK).min(start + chunk_len)).as_slice();
                    sums.fold(rows, weights.map(|w| &w[from..from + labels.len()]), &centers64, labels, dist2, ahead);
                }
                sums
            },
        )
        .collect();
    ClusterSums::total(k, d, &partials)
}

/// [`assign_and_sum`] of the rows `indices` of `x`, unweighted (a mini-batch), copied into `batch`
/// on the way, where the caller keeps them: each task copies a block of rows, labels it and
/// folds it while it is in cache, so the batch costs one parallel pass. The picks are random
/// rows, and copying them from memory one at a time would wait on each, so before scanning a
/// block a task fetches the rows it copies next: its chunk's next block, and a share of the
/// first block of its chunk in `next` (the next batch's rows, when the caller knows them). The
/// results equal `assign_and_sum` on the gathered rows.
pub fn gather_assign_and_sum<F: Scalar>(
    x: Points<'_, F>,
    indices: &[usize],
    next: &[usize],
    batch: &mut Vec<F>,
    centers: Points<'_, F>,
    labels: &mut [u32],
    dist2: &mut [f64],
) -> ClusterSums {
    let (n, d, k) = (indices.len(), x.d(), centers.n());
    assert!(labels.len() == n && dist2.len() == n, "one label and distance per row");
    let Some(chunk) = chunk_rows(n, k, d, n * d * std::mem::size_of::<F>()) else {
        crate::points::gather_into(x, indices, batch);
        return assign_and_sum(Points::new(batch, n, d).expect("whole rows"), None, centers, labels, dist2);
    };
    let kernel = Kernel::new(centers);
    let centers64 = to_f64(centers);
    batch.clear();
    batch.reserve(n * d);
    // Written straight into the spare capacity, every value once (d > 0: chunk_rows checks it;
    // every chunk is written, since labels and dist2 have a place for every row).
    let partials: Vec<ClusterSums> = batch.spare_capacity_mut()[..n * d]
        .par_chunks_mut(chunk * d)
        .zip(labels.par_chunks_mut(chunk).zip(dist2.par_chunks_mut(chunk)))
        .enumerate()
        .with_min_len(min_items(chunk * k * d))
        .map_init(
            || kernel.tile(),
            |tile, (i, (out, (labels, dist2)))| {
                let mut sums = ClusterSums::zeros(k, d);
                let (start, end) = (i * chunk, i * chunk + labels.len());
                let n_blocks = labels.len().div_ceil(ROW_BLOCK);
                // The next batch's first block of this chunk, a share per block of this one.
                let next_first = next.get(start..(start + ROW_BLOCK).min(next.len())).unwrap_or(&[]);
                let blocks =
                    out.chunks_mut(ROW_BLOCK * d).zip(labels.chunks_mut(ROW_BLOCK).zip(dist2.chunks_mut(ROW_BLOCK)));
                for (b, (out, (labels, dist2))) in blocks.enumerate() {
                    let from = start + b * ROW_BLOCK;
                    let rows = copy_rows(x, &indices[from..from + labels.len()], out);
                    let rows = Points::new(rows, labels.len(), d).expect("whole rows");
                    // Fetched while these rows are scanned: this chunk's next block (this thread's
                    // next copy) and a share of the next batch's first block of this chunk. Rows
                    // fetched further ahead would crowd this batch's rows out of the core's cache.
                    let to = from + labels.len();
                    let next_block = &indices[to..(to + ROW_BLOCK).min(end)];
                    let share = &next_first[b * next_first.len() / n_blocks..(b + 1) * next_first.len() / n_blocks];
                    next_block.iter().chain(share).for_each(|&row| prefetch(x.row(row)));
                    kernel.label_block(rows, tile, labels);
                    sums.fold(rows, None, &centers64, labels, dist2, &[]);
                }
                sums
            },
        )
        .collect();
    // SAFETY: the chunks above (copy_rows) wrote all n × d values.
    unsafe { batch.set_len(n * d) };
    ClusterSums::total(k, d, &partials)
}

/// The sums for given labels, cluster by cluster (the path of small inputs, and the reference
/// in tests).
pub fn sum_by_label<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    centers: Points<'_, F>,
    labels: &[u32],
) -> ClusterSums {
    let mut dist2 = vec![0.0; x.n()];
    sums_by_cluster(x, weights, &to_f64(centers), centers.n(), labels, &mut dist2)
}

/// The sums for given labels and every row's exact squared distance, computed cluster by cluster
/// in parallel. Each cluster adds its own rows in row order, so the sums are those of one pass
/// over the rows in order, on any number of threads; nothing is zeroed or merged but the k × d
/// result.
fn sums_by_cluster<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    centers: &[f64],
    k: usize,
    labels: &[u32],
    dist2: &mut [f64],
) -> ClusterSums {
    let d = x.d();
    let mut sums = ClusterSums::zeros(k, d);
    if d == 0 {
        // No features: every distance is zero; the weights still count.
        dist2.fill(0.0);
        for (r, &l) in labels.iter().enumerate() {
            let w = weights.map_or(1.0, |w| w[r]);
            if w != 0.0 {
                sums.weights[l as usize] += w;
                sums.members[l as usize] += 1;
            }
        }
        return sums;
    }
    let (offsets, order) = crate::lloyd::group_by_label(labels, k);
    // Each cluster's distances, in its rows' order, then scattered back to row order.
    let mut grouped = vec![0f64; labels.len()];
    let mut segments = Vec::with_capacity(k);
    let mut rest = &mut grouped[..];
    for c in 0..k {
        let (segment, tail) = rest.split_at_mut(offsets[c + 1] - offsets[c]);
        segments.push(segment);
        rest = tail;
    }
    let per_cluster = (labels.len() / k.max(1)).max(1) * d;
    sums.deltas
        .par_chunks_mut(d)
        .zip(sums.weights.par_iter_mut().zip(sums.members.par_iter_mut()))
        .zip(segments)
        .enumerate()
        .with_min_len(min_items(per_cluster))
        .for_each(|(c, ((deltas, (weight, members)), segment))| {
            let rows = &order[offsets[c]..offsets[c + 1]];
            (*weight, *members) = fold_cluster(x, rows, weights, &centers[c * d..(c + 1) * d], deltas, segment);
        });
    for (&r, &v) in order.iter().zip(&grouped) {
        dist2[r as usize] = v;
    }
    sums
}

/// What the bounded pass carries from one Lloyd iteration to the next (Hamerly's bounds).
///
/// For every row: a lower bound on its distance to every centre other than its own, and its norm.
/// When the centres move, a row's bound drops by the largest move of any other centre (triangle
/// inequality). A row whose exact distance to its own centre stays below that bound, by more
/// than the SIMD kernel's rounding could ever blur, keeps its label without being compared to
/// the other centres: the brute-force kernel would pick the same centre. All other rows are
/// scanned as usual. The sums and distances are then folded exactly as in [`assign_and_sum`]
/// (same chunks, same order), so the results are bit-identical to the unpruned pass.
#[derive(Clone, Debug, Default)]
pub struct Bounds {
    lower: Vec<f64>,
    norms: Vec<f64>,
    /// The centres (as f64) the bounds refer to; empty before the first pass.
    centers: Vec<f64>,
    /// Rows scanned against every centre in the last pass (for tests and profiling).
    pub scanned: usize,
}

impl Bounds {
    /// Bounds that know nothing yet: the next pass scans every row.
    pub fn new() -> Self {
        Self::default()
    }
}

/// [`assign_and_sum`] that skips the rows the bounds prove unchanged, where an AVX2 microkernel
/// runs (float32 or float64; elsewhere it is [`assign_and_sum`], and `bounds` are reset). `labels` must hold
/// the previous pass's labels when `bounds` come from that pass.
pub fn assign_and_sum_bounded<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    centers: Points<'_, F>,
    labels: &mut [u32],
    dist2: &mut [f64],
    bounds: &mut Bounds,
) -> ClusterSums {
    let (n, d, k) = (x.n(), x.d(), centers.n());
    let kernel = Kernel::new(centers);
    // With few centres a full scan costs little more than the bound test itself (one distance).
    if !(kernel.has_top2() && k >= MIN_CENTERS_TO_PRUNE) {
        *bounds = Bounds::new();
        return assign_and_sum(x, weights, centers, labels, dist2);
    }
    // Where assign_and_sum would not fuse (see chunk_rows), this pass only labels the rows, and
    // they are summed cluster by cluster afterwards, as there.
    let fused = chunk_rows(n, k, d, std::mem::size_of_val(x.as_slice()));
    let chunk = fused.unwrap_or(MIN_BLOCKS_PER_CHUNK * ROW_BLOCK);
    let now = to_f64(centers);
    let first = bounds.centers.len() != now.len() || bounds.lower.len() != n;
    // The largest and second-largest move: a row's bound drops by the largest move of a centre
    // other than its own.
    let moves: Vec<f64> = if first {
        vec![0.0; k]
    } else {
        (0..k)
            .map(|j| sum_of_squares_diff(&now[j * d..(j + 1) * d], &bounds.centers[j * d..(j + 1) * d]).sqrt())
            .collect()
    };
    let (top, top_at, runner) = moves.iter().enumerate().fold((0.0f64, usize::MAX, 0.0f64), |(m1, at, m2), (j, &v)| {
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
                        norms[r] = rows.row(r).iter().map(|v| v.to_f64() * v.to_f64()).sum::<f64>().sqrt();
                        flagged.push(r);
                        continue;
                    }
                    let a = *label as usize;
                    lower[r] -= if a == top_at { runner } else { top };
                    let gap = 2.0 * eps * (norms[r] + radius).powi(2);
                    let own = sq_dist_f64(rows.row(r), centers.row(a));
                    if !(lower[r] > 0.0 && own + gap < lower[r] * lower[r]) {
                        flagged.push(r);
                    }
                }
                *scanned += flagged.len();
                if !flagged.is_empty() {
                    let m = flagged.len();
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
                        labels[r] = new_labels[j];
                        let square = norms[r] * norms[r] + second[j] - eps * (norms[r] + radius).powi(2);
                        lower[r] = square.max(0.0).sqrt();
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
    total
}

/// The centres as `f64`, k × d.
fn to_f64<F: Scalar>(centers: Points<'_, F>) -> Vec<f64> {
    centers.as_slice().iter().map(|v| v.to_f64()).collect()
}

fn sum_of_squares_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum()
}
