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
//! Determinism: rows are cut into chunks whose size depends on n, k and d only. Each chunk sums
//! its rows in row order, and the chunks' partial sums are added in chunk order, so the result is
//! the same on any number of threads.

use rayon::prelude::*;

use crate::distance::{Kernel, ROW_BLOCK};
use crate::parallel::min_items;
use crate::points::{sum_of_squares, Points};
use crate::scalar::Scalar;

/// Bytes of partial sums all chunks may hold at once.
const PARTIAL_BUDGET: usize = 16 << 20;
/// At most this many chunks (enough to balance the work over many cores).
const MAX_CHUNKS: usize = 64;
/// Below this many chunks the fused pass would starve the threads: assign, then sum by cluster.
const MIN_CHUNKS: usize = 8;

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
    fn zeros(k: usize, d: usize) -> Self {
        Self { deltas: vec![0.0; k * d], weights: vec![0.0; k], members: vec![0; k] }
    }

    fn add(&mut self, other: &Self) {
        self.deltas.iter_mut().zip(&other.deltas).for_each(|(a, b)| *a += b);
        self.weights.iter_mut().zip(&other.weights).for_each(|(a, b)| *a += b);
        self.members.iter_mut().zip(&other.members).for_each(|(a, b)| *a += b);
    }

    /// Folds rows into the sums, given their labels, and writes each row's exact squared
    /// distance to its centre (`x − c` is computed once, in `f64`, for both).
    fn fold<F: Scalar>(
        &mut self,
        rows: Points<'_, F>,
        weights: Option<&[f64]>,
        centers: Points<'_, F>,
        labels: &[u32],
        dist2: &mut [f64],
    ) {
        #[cfg(target_arch = "x86_64")]
        if crate::avx2::available() {
            // SAFETY: the CPU has AVX2 and FMA.
            return unsafe { self.fold_avx2(rows, weights, centers, labels, dist2) };
        }
        self.fold_portable(rows, weights, centers, labels, dist2)
    }

    /// [`ClusterSums::fold`] compiled for AVX2 (same operations in the same order, so the same
    /// bits; only the instructions are wider).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fold_avx2<F: Scalar>(
        &mut self,
        rows: Points<'_, F>,
        weights: Option<&[f64]>,
        centers: Points<'_, F>,
        labels: &[u32],
        dist2: &mut [f64],
    ) {
        self.fold_portable(rows, weights, centers, labels, dist2)
    }

    #[inline(always)]
    fn fold_portable<F: Scalar>(
        &mut self,
        rows: Points<'_, F>,
        weights: Option<&[f64]>,
        centers: Points<'_, F>,
        labels: &[u32],
        dist2: &mut [f64],
    ) {
        let d = rows.d();
        let mut diff = vec![0f64; d];
        for (r, (&label, d2)) in labels.iter().zip(dist2.iter_mut()).enumerate() {
            let l = label as usize;
            for ((t, &v), &m) in diff.iter_mut().zip(rows.row(r)).zip(centers.row(l)) {
                *t = v.to_f64() - m.to_f64();
            }
            *d2 = sum_of_squares(&diff);
            let w = weights.map_or(1.0, |w| w[r]);
            if w == 0.0 {
                continue;
            }
            let sums = &mut self.deltas[l * d..(l + 1) * d];
            if weights.is_none() {
                sums.iter_mut().zip(&diff).for_each(|(s, t)| *s += t);
            } else {
                sums.iter_mut().zip(&diff).for_each(|(s, t)| *s += w * t);
            }
            self.weights[l] += w;
            self.members[l] += 1;
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

/// Rows per chunk for an n × d problem with k centres, or None when the sums are too large to
/// keep enough chunks in flight (then assign first and sum afterwards).
fn chunk_rows(n: usize, k: usize, d: usize) -> Option<usize> {
    let per_chunk = k * (d + 2) * std::mem::size_of::<f64>();
    let chunks = (PARTIAL_BUDGET / per_chunk.max(1)).min(MAX_CHUNKS);
    if chunks < MIN_CHUNKS {
        return None;
    }
    let blocks = n.div_ceil(ROW_BLOCK).max(1);
    Some(blocks.div_ceil(chunks) * ROW_BLOCK)
}

/// Assigns every row of `x` to its nearest centre (as [`crate::distance::assign`]) and returns
/// the per-cluster sums for the next M step, reading `x` once.
pub fn assign_and_sum<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    centers: Points<'_, F>,
    labels: &mut [u32],
    dist2: &mut [f64],
) -> ClusterSums {
    let (n, d, k) = (x.n(), x.d(), centers.n());
    let Some(chunk) = chunk_rows(n, k, d) else {
        crate::distance::assign(x, centers, labels, dist2);
        return sum_by_label(x, weights, centers, labels);
    };
    let kernel = Kernel::new(centers);
    let partials: Vec<ClusterSums> = labels
        .par_chunks_mut(chunk)
        .zip(dist2.par_chunks_mut(chunk))
        .enumerate()
        .with_min_len(min_items(chunk * k * d))
        .map_init(
            || kernel.tile(),
            |tile, (i, (labels, dist2))| {
                let mut sums = ClusterSums::zeros(k, d);
                let start = i * chunk;
                for (b, (labels, dist2)) in labels.chunks_mut(ROW_BLOCK).zip(dist2.chunks_mut(ROW_BLOCK)).enumerate() {
                    let from = start + b * ROW_BLOCK;
                    let rows = x.rows(from, from + labels.len());
                    kernel.label_block(rows, tile, labels);
                    sums.fold(rows, weights.map(|w| &w[from..from + labels.len()]), centers, labels, dist2);
                }
                sums
            },
        )
        .collect();
    let mut total = ClusterSums::zeros(k, d);
    partials.iter().for_each(|p| total.add(p));
    total
}

/// The sums for given labels, in row order (the unfused path, and the reference in tests).
pub fn sum_by_label<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    centers: Points<'_, F>,
    labels: &[u32],
) -> ClusterSums {
    let mut sums = ClusterSums::zeros(centers.n(), x.d());
    let mut dist2 = vec![0.0; x.n()];
    sums.fold(x, weights, centers, labels, &mut dist2);
    sums
}
