//! Which other clusters a row's b(i) may come from: the pruning behind the exact silhouette
//! ([`crate::kernels::silhouette`]).
//!
//! b(i) is the smallest mean distance from row i to another cluster. With c_C the centroid of
//! cluster C, s_C = mean_j ||x_j − c_C||² and t_C = mean_j ||x_j − c_C|| over its rows j:
//!
//! ```text
//! lower_C(i) = ||x_i − c_C||                                   (mean of norms ≥ norm of the mean)
//! upper_C(i) = min(sqrt(||x_i − c_C||² + s_C), ||x_i − c_C|| + t_C)
//! ```
//!
//! both bounds on mean_j ||x_i − x_j|| (the first upper bound: the mean squared distance is exactly
//! ||x_i − c_C||² + s_C, and a mean of square roots is at most the square root of the mean; the
//! second: the triangle inequality). A cluster whose lower bound exceeds the smallest upper bound
//! U(i) cannot hold the minimum, so its mean is not needed. The test keeps a margin for rounding,
//! both in these bounds and in the distances the kernel computes (through
//! ||x||² − 2 x·y + ||y||², whose error in a distance is at most about sqrt(ε) times the largest
//! norm R of the centred rows): cluster C is a candidate for row i when
//!
//! ```text
//! lower_C(i) ≤ U(i) + 1e-9 · U(i) + 1e-6 · R
//! ```
//!
//! so a cluster left out is provably not the minimum, and b(i) is the same as without pruning.
//! Rows alone in their cluster score 0 and need no other cluster.
//!
//! Memory: one bit per row and cluster (rows in label order), and the k centroids.

use rayon::prelude::*;

use crate::kernels::points::Points;
use crate::kernels::scalar::Scalar;

/// Relative margin on the smallest upper bound.
const RELATIVE_MARGIN: f64 = 1e-9;
/// Margin in units of the largest centred norm: the distances' own rounding.
const NORM_MARGIN: f64 = 1e-6;

/// For every row (by position in label order) and cluster: whether the row's b(i) may come from
/// that cluster (never set for the row's own cluster).
pub(crate) struct Candidates {
    words: usize,
    bits: Vec<u64>,
}

impl Candidates {
    /// The candidates of the rows of `x` in label order (`order[p]` is the row at position p,
    /// cluster c holding positions `offsets[c]..offsets[c + 1]`).
    pub(crate) fn new<F: Scalar>(x: Points<'_, F>, offsets: &[usize], order: &[u32]) -> Self {
        let (k, d, n) = (offsets.len() - 1, x.d(), order.len());
        let words = k.div_ceil(64).max(1);
        let clusters: Vec<Shape> =
            (0..k).into_par_iter().map(|c| Shape::new(x, &order[offsets[c]..offsets[c + 1]])).collect();
        // The mean of all rows, and the largest distance to it (R).
        let mut mean = vec![0f64; d];
        for shape in clusters.iter().filter(|s| s.size > 0) {
            let weight = shape.size as f64 / n.max(1) as f64;
            mean.iter_mut().zip(shape.centroid()).for_each(|(m, v)| *m += weight * v);
        }
        let reach = order
            .par_iter()
            .with_min_len(1024)
            .map(|&i| x.row(i as usize).iter().zip(&mean).map(|(&v, m)| (v.to_f64() - m).powi(2)).sum::<f64>())
            .reduce(|| 0.0, f64::max)
            .sqrt();
        let cluster_of: Vec<u32> =
            (0..k).flat_map(|c| std::iter::repeat_n(c as u32, offsets[c + 1] - offsets[c])).collect();
        let mut bits = vec![0u64; n * words];
        bits.par_chunks_mut(words * 256).enumerate().for_each(|(chunk, bits)| {
            let mut lower = vec![0f64; k];
            for (r, row_bits) in bits.chunks_exact_mut(words).enumerate() {
                let p = chunk * 256 + r;
                let own = cluster_of[p] as usize;
                if clusters[own].size <= 1 {
                    continue;
                }
                let row = x.row(order[p] as usize);
                let mut bound = f64::INFINITY;
                for (c, shape) in clusters.iter().enumerate() {
                    if c == own || shape.size == 0 {
                        lower[c] = f64::INFINITY;
                        continue;
                    }
                    let squared = shape.squared_distance(row);
                    lower[c] = squared.sqrt();
                    bound = bound.min((squared + shape.mean_square).sqrt().min(lower[c] + shape.mean_norm));
                }
                let limit = bound + RELATIVE_MARGIN * bound + NORM_MARGIN * reach;
                for (c, &l) in lower.iter().enumerate() {
                    if l <= limit {
                        row_bits[c / 64] |= 1 << (c % 64);
                    }
                }
            }
        });
        Self { words, bits }
    }

    /// Whether the row at `position` may take its b(i) from `cluster`.
    #[inline]
    pub(crate) fn has(&self, position: usize, cluster: usize) -> bool {
        self.bits[position * self.words + cluster / 64] >> (cluster % 64) & 1 == 1
    }
}

/// A cluster's centroid and spread: `reference + offset` is the centroid, the offset summed from
/// differences to the cluster's first row, so a common offset in the data costs no digits.
struct Shape {
    size: usize,
    reference: Vec<f64>,
    offset: Vec<f64>,
    /// mean_j ||x_j − c||².
    mean_square: f64,
    /// mean_j ||x_j − c||.
    mean_norm: f64,
}

impl Shape {
    fn new<F: Scalar>(x: Points<'_, F>, rows: &[u32]) -> Self {
        let d = x.d();
        let Some(&first) = rows.first() else {
            return Self { size: 0, reference: vec![0.0; d], offset: vec![0.0; d], mean_square: 0.0, mean_norm: 0.0 };
        };
        let reference: Vec<f64> = x.row(first as usize).iter().map(|v| v.to_f64()).collect();
        let mut offset = vec![0f64; d];
        for &i in rows {
            offset.iter_mut().zip(x.row(i as usize)).zip(&reference).for_each(|((o, &v), r)| *o += v.to_f64() - r);
        }
        let size = rows.len() as f64;
        offset.iter_mut().for_each(|o| *o /= size);
        let mut shape = Self { size: rows.len(), reference, offset, mean_square: 0.0, mean_norm: 0.0 };
        let (mut square, mut norm) = (0f64, 0f64);
        for &i in rows {
            let s = shape.squared_distance(x.row(i as usize));
            square += s;
            norm += s.sqrt();
        }
        shape.mean_square = square / size;
        shape.mean_norm = norm / size;
        shape
    }

    fn centroid(&self) -> impl Iterator<Item = f64> + '_ {
        self.reference.iter().zip(&self.offset).map(|(r, o)| r + o)
    }

    /// ||row − centroid||².
    #[inline]
    fn squared_distance<F: Scalar>(&self, row: &[F]) -> f64 {
        row.iter().zip(&self.reference).zip(&self.offset).map(|((&v, r), o)| (v.to_f64() - r - o).powi(2)).sum()
    }
}
