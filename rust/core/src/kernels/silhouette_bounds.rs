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
//! U(i) cannot hold the minimum, so its mean is not needed.
//!
//! The lower bound is loose when the cluster is wide: for a cluster it does not rule out, a
//! second one follows from Hölder's inequality, `E[D²] ≤ E[D]^(2/3) E[D⁴]^(1/3)`, with D the
//! distance from x_i to a row of C:
//!
//! ```text
//! lower_C(i) = max(||u||, E[D²]^(3/2) / E[D⁴]^(1/2)),   u = x_i − c_C, y_j = x_j − c_C
//! E[D²] = ||u||² + s_C
//! E[D⁴] = ||u||⁴ + 2 ||u||² s_C + 4 uᵀ Σ_C u − 4 u · m_C + q_C
//! ```
//!
//! with Σ_C = mean_j y_j y_jᵀ, m_C = mean_j ||y_j||² y_j and q_C = mean_j ||y_j||⁴ (exact: expand
//! D⁴ = (||u||² − 2 u·y_j + ||y_j||²)², the y_j summing to 0). On overlapping clusters it rules out
//! about twice as many clusters as ||u|| alone. It costs d² per row and cluster it is tried on,
//! and k d² numbers; beyond `MOMENTS_LIMIT` (2²² numbers), or for fewer than 20·d rows asked
//! (a small sample: the O(n d²) moments would cost more than the pairs they save), only ||u|| is used.
//!
//! The test keeps a margin for rounding, both in these bounds and in the distances the kernel
//! computes (through
//! ||x||² − 2 x·y + ||y||², whose error in a distance is at most about sqrt(ε) times the largest
//! norm R of the centred rows): cluster C is a candidate for row i when
//!
//! ```text
//! lower_C(i) ≤ U(i) + 1e-9 · U(i) + max(1e-6, 4√((d + 2)ε)) · R
//! ```
//!
//! so a cluster left out is provably not the minimum, and b(i) is the same as without pruning.
//! Rows alone in their cluster score 0 and need no other cluster.
//!
//! Memory: one bit per row and cluster (rows in label order), and the k centroids and moments.

use rayon::prelude::*;

use crate::kernels::points::Points;
use crate::kernels::scalar::Scalar;

/// Relative margin on the smallest upper bound.
const RELATIVE_MARGIN: f64 = 1e-9;
/// Margin in units of the largest centred norm: the distances' own rounding, at least this, and
/// growing as √d (a squared distance near 0 computed from norms and a dot product of d terms
/// errs by about 2(d + 1)ε·R², so the distance by √(2(d + 1)ε)·R).
const NORM_MARGIN: f64 = 1e-6;

fn norm_margin(d: usize) -> f64 {
    NORM_MARGIN.max(4.0 * ((d + 2) as f64 * f64::EPSILON).sqrt())
}

/// Hölder's bound needs each cluster's d × d moments, an O(n d²) pass; it pays only when the
/// pairs it may save, O(rows asked × n × d), are many times that: rows asked >= this × d.
const MOMENTS_ROWS_PER_FEATURE: usize = 20;
/// The most numbers (k d², 32 MiB) the clusters' second moments may take for the tighter lower
/// bound.
const MOMENTS_LIMIT: usize = 1 << 22;

/// For every row (by position in label order) and cluster: whether the row's b(i) may come from
/// that cluster (never set for the row's own cluster).
pub(crate) struct Candidates {
    words: usize,
    bits: Vec<u64>,
}

impl Candidates {
    /// The candidates of the rows of `x` at the positions `positions` (every position when
    /// `None`) in label order (`order[p]` is the row at position p, cluster c holding positions
    /// `offsets[c]..offsets[c + 1]`), against every row. [`Candidates::has`] takes the index in
    /// `positions`.
    pub(crate) fn new<F: Scalar>(
        x: Points<'_, F>,
        offsets: &[usize],
        order: &[u32],
        positions: Option<&[u32]>,
    ) -> Self {
        let (k, d, n) = (offsets.len() - 1, x.d(), order.len());
        let count = positions.map_or(n, <[u32]>::len);
        let words = k.div_ceil(64).max(1);
        let moments = k * d * d <= MOMENTS_LIMIT && count >= MOMENTS_ROWS_PER_FEATURE * d;
        let clusters: Vec<Shape> =
            (0..k).into_par_iter().map(|c| Shape::new(x, &order[offsets[c]..offsets[c + 1]], moments)).collect();
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
        let mut bits = vec![0u64; count * words];
        bits.par_chunks_mut(words * 256).enumerate().for_each(|(chunk, bits)| {
            let (mut lower, mut u) = (vec![0f64; k], vec![0f64; d]);
            for (r, row_bits) in bits.chunks_exact_mut(words).enumerate() {
                let index = chunk * 256 + r;
                let p = positions.map_or(index, |positions| positions[index] as usize);
                let own = cluster_of[p] as usize;
                if clusters[own].size <= 1 {
                    continue;
                }
                let row = x.row(order[p] as usize);
                let (mut bound, mut nearest) = (f64::INFINITY, own);
                for (c, shape) in clusters.iter().enumerate() {
                    if c == own || shape.size == 0 {
                        lower[c] = f64::INFINITY;
                        continue;
                    }
                    let squared = shape.squared_distance(row);
                    lower[c] = squared.sqrt();
                    let upper = (squared + shape.mean_square).sqrt().min(lower[c] + shape.mean_norm);
                    if upper < bound {
                        (bound, nearest) = (upper, c);
                    }
                }
                let limit = bound + RELATIVE_MARGIN * bound + norm_margin(d) * reach;
                for (c, &l) in lower.iter().enumerate() {
                    // The cluster of the smallest upper bound stays (its mean is at most that bound);
                    // Hölder's bound is tried only where ||u|| leaves the cluster in.
                    if c != own
                        && l <= limit
                        && (c == nearest || !moments || !clusters[c].hoelder_exceeds(row, &mut u, limit))
                    {
                        row_bits[c / 64] |= 1 << (c % 64);
                    }
                }
            }
        });
        Self { words, bits }
    }

    /// Whether the row at `index` (its position, or its index in the positions asked for) may
    /// take its b(i) from `cluster`.
    #[inline]
    pub(crate) fn has(&self, index: usize, cluster: usize) -> bool {
        self.bits[index * self.words + cluster / 64] >> (cluster % 64) & 1 == 1
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
    /// Σ = mean_j y_j y_jᵀ (d × d, empty without moments), y_j = x_j − c.
    covariance: Vec<f64>,
    /// mean_j ||y_j||² y_j.
    skew: Vec<f64>,
    /// mean_j ||y_j||⁴.
    fourth: f64,
    /// Bounds on the eigenvalues of Σ (Gershgorin's discs).
    eigen_low: f64,
    eigen_high: f64,
}

impl Shape {
    /// The shape of the cluster of rows `rows`, with the moments behind [`Shape::hoelder`] when
    /// `moments`.
    fn new<F: Scalar>(x: Points<'_, F>, rows: &[u32], moments: bool) -> Self {
        let d = x.d();
        let Some(&first) = rows.first() else {
            return Self {
                size: 0,
                reference: vec![0.0; d],
                offset: vec![0.0; d],
                mean_square: 0.0,
                mean_norm: 0.0,
                covariance: Vec::new(),
                skew: Vec::new(),
                fourth: 0.0,
                eigen_low: 0.0,
                eigen_high: 0.0,
            };
        };
        let reference: Vec<f64> = x.row(first as usize).iter().map(|v| v.to_f64()).collect();
        let mut offset = vec![0f64; d];
        for &i in rows {
            offset.iter_mut().zip(x.row(i as usize)).zip(&reference).for_each(|((o, &v), r)| *o += v.to_f64() - r);
        }
        let size = rows.len() as f64;
        offset.iter_mut().for_each(|o| *o /= size);
        let mut shape = Self {
            size: rows.len(),
            reference,
            offset,
            mean_square: 0.0,
            mean_norm: 0.0,
            covariance: vec![0.0; if moments { d * d } else { 0 }],
            skew: vec![0.0; if moments { d } else { 0 }],
            fourth: 0.0,
            eigen_low: 0.0,
            eigen_high: 0.0,
        };
        let (mut square, mut norm, mut fourth) = (0f64, 0f64, 0f64);
        let mut y = vec![0f64; d];
        for &i in rows {
            shape.difference(x.row(i as usize), &mut y);
            let s: f64 = y.iter().map(|v| v * v).sum();
            square += s;
            norm += s.sqrt();
            if moments {
                fourth += s * s;
                shape.skew.iter_mut().zip(&y).for_each(|(m, v)| *m += s * v);
                for (row, &a) in shape.covariance.chunks_exact_mut(d).zip(&y) {
                    row.iter_mut().zip(&y).for_each(|(c, &b)| *c += a * b);
                }
            }
        }
        shape.mean_square = square / size;
        shape.mean_norm = norm / size;
        shape.fourth = fourth / size;
        shape.skew.iter_mut().for_each(|m| *m /= size);
        shape.covariance.iter_mut().for_each(|c| *c /= size);
        // Gershgorin: every eigenvalue of Σ lies within |Σ_ii − λ| ≤ Σ_{j ≠ i} |Σ_ij| for some i
        // (and at least 0, Σ being a covariance).
        if moments {
            let (mut low, mut high) = (f64::INFINITY, 0f64);
            for (i, row) in shape.covariance.chunks_exact(d).enumerate() {
                let off: f64 = row.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, v)| v.abs()).sum();
                (low, high) = (low.min(row[i] - off), high.max(row[i] + off));
            }
            (shape.eigen_low, shape.eigen_high) = (low.max(0.0), high);
        }
        shape
    }

    /// `out = row − centroid`.
    #[inline]
    fn difference<F: Scalar>(&self, row: &[F], out: &mut [f64]) {
        for (((o, &v), r), m) in out.iter_mut().zip(row).zip(&self.reference).zip(&self.offset) {
            *o = v.to_f64() - r - m;
        }
    }

    /// Whether Hölder's lower bound on the mean distance from `row` to the cluster's rows,
    /// `E[D²]^(3/2) / E[D⁴]^(1/2)` (see the module's docs), exceeds `limit`; `u` is scratch of d
    /// numbers. The bound falls as uᵀΣu grows, and Gershgorin's discs put uᵀΣu between
    /// `eigen_low ||u||²` and `eigen_high ||u||²`: the d² quadratic form is computed only where
    /// those two bounds (O(d)) leave the answer open.
    fn hoelder_exceeds<F: Scalar>(&self, row: &[F], u: &mut [f64], limit: f64) -> bool {
        self.difference(row, u);
        let squared: f64 = u.iter().map(|v| v * v).sum();
        let skew: f64 = self.skew.iter().zip(u.iter()).map(|(m, v)| m * v).sum();
        let bound = |quadratic: f64| self.hoelder(squared, quadratic, skew);
        if bound(self.eigen_low * squared) <= limit {
            return false;
        }
        if bound(self.eigen_high * squared) > limit {
            return true;
        }
        bound(self.quadratic(u)) > limit
    }

    /// `E[D²]^(3/2) / E[D⁴]^(1/2)` for ||u||² = `squared`, uᵀΣu = `quadratic`, u·m = `skew`.
    #[inline]
    fn hoelder(&self, squared: f64, quadratic: f64, skew: f64) -> f64 {
        let second = squared + self.mean_square;
        let fourth = squared * squared + 2.0 * squared * self.mean_square + 4.0 * quadratic - 4.0 * skew + self.fourth;
        // E[D⁴] ≥ E[D²]² > 0 unless every distance is 0 (then 0 is the bound).
        if fourth > 0.0 {
            second * second.sqrt() / fourth.sqrt()
        } else {
            0.0
        }
    }

    /// uᵀΣu.
    fn quadratic(&self, u: &[f64]) -> f64 {
        let d = u.len();
        self.covariance.chunks_exact(d).zip(u).map(|(c, &a)| a * c.iter().zip(u).map(|(c, b)| c * b).sum::<f64>()).sum()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every bound against the mean distance itself, on skewed, stretched clusters.
    #[test]
    fn the_bounds_hold() {
        let mut state = 7u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for d in [1usize, 2, 5, 16] {
            let m = 300;
            // A skewed, stretched cluster: exponential-ish along the first axis.
            let cluster: Vec<f64> = (0..m * d)
                .map(|p| if p % d == 0 { -(1.0 - next()).ln() * 5.0 } else { (next() - 0.5) * (1 + p % d) as f64 })
                .collect();
            let points = Points::from_rows(&cluster, d).unwrap();
            let rows: Vec<u32> = (0..m as u32).collect();
            let shape = Shape::new(points, &rows, true);
            let mut u = vec![0f64; d];
            for _ in 0..200 {
                let scale = [0.1, 1.0, 10.0, 100.0][(next() * 4.0) as usize];
                let x: Vec<f64> = (0..d).map(|_| (next() - 0.5) * scale).collect();
                let mean = cluster
                    .chunks_exact(d)
                    .map(|y| x.iter().zip(y).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt())
                    .sum::<f64>()
                    / m as f64;
                let squared = shape.squared_distance(&x);
                let upper = (squared + shape.mean_square).sqrt().min(squared.sqrt() + shape.mean_norm);
                assert!(squared.sqrt() <= mean * (1.0 + 1e-12), "d {d}: {} > {mean}", squared.sqrt());
                shape.difference(&x, &mut u);
                let skew: f64 = shape.skew.iter().zip(&u).map(|(m, v)| m * v).sum();
                let (quadratic, squared_u) = (shape.quadratic(&u), u.iter().map(|v| v * v).sum::<f64>());
                let hoelder = shape.hoelder(squared_u, quadratic, skew);
                assert!(hoelder <= mean * (1.0 + 1e-12), "d {d}: {hoelder} > {mean}");
                // Gershgorin's eigenvalue bounds bracket the quadratic form, so the bound too.
                assert!(shape.eigen_low * squared_u <= quadratic * (1.0 + 1e-12) + 1e-300);
                assert!(quadratic <= shape.eigen_high * squared_u * (1.0 + 1e-12));
                for limit in [hoelder * 0.999, hoelder * 1.001] {
                    assert_eq!(shape.hoelder_exceeds(&x, &mut u, limit), hoelder > limit, "d {d}, limit {limit}");
                }
                assert!(upper >= mean * (1.0 - 1e-12), "d {d}: {upper} < {mean}");
            }
        }
    }
}
