//! Sparse rows in CSR form (scipy's `csr_matrix`, sparse RecordIO), assigned and summed without
//! ever being densified.
//!
//! Assignment uses the same identity as the dense kernel, `||x − c||² = ||x||² − 2 x·c + ||c||²`,
//! with the dot products taken over the row's non-zeros only: the centres are transposed once per
//! pass (d × k), so each non-zero `(j, v)` adds `−2v · Cᵀ[j, :]` to a row of k scores that starts
//! at `||c||²`. The cost is O(nnz · k) instead of O(n · d · k). Scores are accumulated in `f64`;
//! the winner's squared distance is then `||c||² + Σ_nz ((x_j − c_j)² − c_j²)`, also in `f64`.
//!
//! The per-cluster sums of the next M step are taken cluster by cluster (rows grouped by label,
//! each cluster summed in row order, clusters in parallel), so they too are the same on any number
//! of threads. Only the centres and the sums (k × d) are dense.

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::kernels::parallel::{first_position, min_items, ROW_BLOCK};
use crate::kernels::points::Points;
use crate::kernels::scalar::Scalar;
use crate::kernels::sums::{group_by_label, ClusterSums};

/// The most features a sparse matrix may have: its column indices are int32.
pub const MAX_FEATURES: usize = i32::MAX as usize;

/// `n` sparse rows of `d` features: row `i` holds the values `data[indptr[i]..indptr[i + 1]]` at
/// the columns `indices[indptr[i]..indptr[i + 1]]` (scipy's CSR layout), borrowed, validated.
///
/// Column indices need not be sorted; a column that appears twice in a row counts as the sum of
/// its values in the dot products but not in the norms, so callers sum duplicates first
/// (`fastkmeans` does).
#[derive(Clone, Copy, Debug)]
pub struct Csr<'a, F> {
    indptr: &'a [i64],
    indices: &'a [i32],
    data: &'a [F],
    d: usize,
}

impl<'a, F: Scalar> Csr<'a, F> {
    /// Views the three CSR arrays as `indptr.len() − 1` rows of `d` features, checking that they
    /// fit together: `indptr` starts at 0, never decreases and ends at the number of values, and
    /// every column index is in `0..d`.
    pub fn new(indptr: &'a [i64], indices: &'a [i32], data: &'a [F], d: usize) -> Result<Self> {
        let bad = |message: String| Err(Error::BadSparse(message));
        if d > MAX_FEATURES {
            return bad(format!("{d} features; int32 column indices name at most {MAX_FEATURES}"));
        }
        if indptr.is_empty() {
            return bad("indptr is empty (it holds n_rows + 1 offsets)".into());
        }
        if indices.len() != data.len() {
            return bad(format!("{} column indices for {} values", indices.len(), data.len()));
        }
        if indptr[0] != 0 {
            return bad(format!("indptr starts at {}, not 0", indptr[0]));
        }
        if let Some(i) = indptr.windows(2).position(|w| w[1] < w[0]) {
            return bad(format!("indptr decreases at row {i} ({} then {})", indptr[i], indptr[i + 1]));
        }
        let last = indptr[indptr.len() - 1];
        if last != data.len() as i64 {
            return bad(format!("indptr ends at {last}, but there are {} values", data.len()));
        }
        if let Some(p) = first_position(indices, |&j| j < 0 || j as usize >= d) {
            let row = indptr.partition_point(|&o| o <= p as i64) - 1;
            return bad(format!("column index {} of row {row} is outside 0..{d}", indices[p]));
        }
        Ok(Self { indptr, indices, data, d })
    }

    pub fn n(&self) -> usize {
        self.indptr.len() - 1
    }
    pub fn d(&self) -> usize {
        self.d
    }
    /// Stored values (non-zeros).
    pub fn nnz(&self) -> usize {
        (self.indptr[self.n()] - self.indptr[0]) as usize
    }

    /// The column indices and values of row `i`.
    #[inline(always)]
    pub fn row(&self, i: usize) -> (&'a [i32], &'a [F]) {
        let (a, b) = (self.indptr[i] as usize, self.indptr[i + 1] as usize);
        (&self.indices[a..b], &self.data[a..b])
    }

    /// Rows `start..end` as their own view.
    pub fn rows(&self, start: usize, end: usize) -> Csr<'a, F> {
        Csr { indptr: &self.indptr[start..=end], ..*self }
    }

    /// The first row holding NaN or infinity, if any (scanned in parallel).
    pub fn first_non_finite_row(&self) -> Option<usize> {
        let (start, end) = (self.indptr[0] as usize, self.indptr[self.n()] as usize);
        let p = (start + first_position(&self.data[start..end], |v| !v.is_finite())?) as i64;
        Some(self.indptr.partition_point(|&o| o <= p) - 1)
    }

    /// The rows named by `rows`, copied into `out` (a reused buffer).
    pub fn gather_into(&self, rows: &[usize], out: &mut CsrBuf<F>) {
        out.d = self.d;
        out.indptr.clear();
        out.indices.clear();
        out.data.clear();
        out.indptr.push(0);
        for &i in rows {
            let (cols, vals) = self.row(i);
            out.indices.extend_from_slice(cols);
            out.data.extend_from_slice(vals);
            out.indptr.push(out.data.len() as i64);
        }
    }
}

/// An owned CSR matrix (a gathered mini-batch or sample).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CsrBuf<F> {
    pub indptr: Vec<i64>,
    pub indices: Vec<i32>,
    pub data: Vec<F>,
    pub d: usize,
}

impl<F: Scalar> CsrBuf<F> {
    /// The matrix as a borrowed view.
    pub fn view(&self) -> Csr<'_, F> {
        Csr { indptr: &self.indptr, indices: &self.indices, data: &self.data, d: self.d }
    }
}

/// ||c||² of every dense centre, in `f64`: what [`sq_dist_to_dense`] takes.
pub(crate) fn center_norms<F: Scalar>(centers: Points<'_, F>) -> Vec<f64> {
    (0..centers.n()).map(|j| centers.row(j).iter().map(|v| v.to_f64() * v.to_f64()).sum()).collect()
}

/// ||x − c||² for a sparse row `x` and a dense centre `c` with ||c||² = `center_norm`, in `f64`
/// (never negative).
#[inline(always)]
pub fn sq_dist_to_dense<F: Scalar>((cols, vals): (&[i32], &[F]), center: &[F], center_norm: f64) -> f64 {
    let mut sum = center_norm;
    for (&j, &v) in cols.iter().zip(vals) {
        let (x, c) = (v.to_f64(), center[j as usize].to_f64());
        sum += (x - c) * (x - c) - c * c;
    }
    // ||c||² minus the c_j² of the row's columns cancels: for a row that sits on its centre,
    // roundoff can leave a tiny negative value.
    sum.max(0.0)
}

/// The centres, transposed (d × k) for the sparse dot products, with their squared norms.
struct Transposed<F> {
    columns: Vec<F>,
    norms: Vec<f64>,
    k: usize,
}

impl<F: Scalar> Transposed<F> {
    fn new(centers: Points<'_, F>) -> Self {
        let (k, d) = (centers.n(), centers.d());
        let mut columns = vec![F::ZERO; k * d];
        for c in 0..k {
            for (j, &v) in centers.row(c).iter().enumerate() {
                columns[j * k + c] = v;
            }
        }
        Self { columns, norms: center_norms(centers), k }
    }

    /// The nearest centre of one sparse row (ties to the lowest index); `scores` holds k values.
    #[inline(always)]
    fn label_row(&self, (cols, vals): (&[i32], &[F]), scores: &mut [f64]) -> u32 {
        scores.copy_from_slice(&self.norms);
        for (&j, &v) in cols.iter().zip(vals) {
            let m = -2.0 * v.to_f64();
            let column = &self.columns[j as usize * self.k..(j as usize + 1) * self.k];
            scores.iter_mut().zip(column).for_each(|(s, &c)| *s += m * c.to_f64());
        }
        let mut best = 0;
        for c in 1..self.k {
            if scores[c] < scores[best] {
                best = c;
            }
        }
        best as u32
    }
}

/// Assigns each sparse row of `x` to its nearest centre; see [`crate::Backend::assign`].
pub fn assign<F: Scalar>(x: Csr<'_, F>, centers: Points<'_, F>, labels: &mut [u32], dist2: &mut [f64]) {
    assert!(labels.len() == x.n() && dist2.len() == x.n(), "one label and distance per row");
    assert_eq!(x.d(), centers.d(), "x and centers must share the feature dimension");
    let t = Transposed::new(centers);
    let k = centers.n();
    let work = ROW_BLOCK * (x.nnz() / x.n().max(1) + 1) * k;
    let blocks = labels.par_chunks_mut(ROW_BLOCK).zip(dist2.par_chunks_mut(ROW_BLOCK)).enumerate();
    blocks.with_min_len(min_items(work)).for_each_init(
        || vec![0f64; k],
        |scores, (b, (labels, dist2))| {
            assign_block(&t, x.rows(b * ROW_BLOCK, b * ROW_BLOCK + labels.len()), centers, scores, labels, dist2)
        },
    );
}

/// Labels and squared distances of a block of rows, compiled for AVX2/FMA where the CPU has them
/// (the same operations in the same order, so the same bits; only the instructions are wider).
fn assign_block<F: Scalar>(
    t: &Transposed<F>,
    rows: Csr<'_, F>,
    centers: Points<'_, F>,
    scores: &mut [f64],
    labels: &mut [u32],
    dist2: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::avx2::available() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { assign_block_avx2(t, rows, centers, scores, labels, dist2) };
    }
    assign_block_portable(t, rows, centers, scores, labels, dist2)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn assign_block_avx2<F: Scalar>(
    t: &Transposed<F>,
    rows: Csr<'_, F>,
    centers: Points<'_, F>,
    scores: &mut [f64],
    labels: &mut [u32],
    dist2: &mut [f64],
) {
    assign_block_portable(t, rows, centers, scores, labels, dist2)
}

#[inline(always)]
fn assign_block_portable<F: Scalar>(
    t: &Transposed<F>,
    rows: Csr<'_, F>,
    centers: Points<'_, F>,
    scores: &mut [f64],
    labels: &mut [u32],
    dist2: &mut [f64],
) {
    for (r, (label, d2)) in labels.iter_mut().zip(dist2.iter_mut()).enumerate() {
        let row = rows.row(r);
        *label = t.label_row(row, scores);
        let l = *label as usize;
        *d2 = sq_dist_to_dense(row, centers.row(l), t.norms[l]);
    }
}

/// Adds `w · row` to a dense row of sums.
#[inline]
fn add_row<F: Scalar>(sum: &mut [f64], (cols, vals): (&[i32], &[F]), w: f64) {
    for (&j, &v) in cols.iter().zip(vals) {
        sum[j as usize] += w * v.to_f64();
    }
}

/// Per-cluster Σ w·x (in `deltas`, k × d), Σ w and rows of positive weight, for given labels:
/// each cluster summed in row order, clusters in parallel.
pub(crate) fn weighted_sums<F: Scalar>(
    x: Csr<'_, F>,
    weights: Option<&[f64]>,
    labels: &[u32],
    k: usize,
) -> ClusterSums {
    let d = x.d();
    let (offsets, order) = group_by_label(labels, k);
    let mut sums = ClusterSums::zeros(k, d);
    let per_cluster = x.nnz() / k.max(1) + d;
    sums.deltas
        .par_chunks_mut(d.max(1))
        .zip(sums.weights.par_iter_mut().zip(sums.members.par_iter_mut()))
        .enumerate()
        .with_min_len(min_items(per_cluster))
        .for_each(|(c, (sum, (total, count)))| {
            for &i in &order[offsets[c]..offsets[c + 1]] {
                let w = weights.map_or(1.0, |w| w[i as usize]);
                if w == 0.0 {
                    continue;
                }
                add_row(sum, x.row(i as usize), w);
                *total += w;
                *count += 1;
            }
        });
    sums
}

/// The sums of the next M step ([`ClusterSums`]: Σ w·(x − c) = Σ w·x − (Σ w)·c) for given labels.
pub fn sum_by_label<F: Scalar>(
    x: Csr<'_, F>,
    weights: Option<&[f64]>,
    centers: Points<'_, F>,
    labels: &[u32],
) -> ClusterSums {
    let mut sums = weighted_sums(x, weights, labels, centers.n());
    subtract_centers(&mut sums, centers);
    sums
}

/// [`assign`] and the sums of the next M step; see [`crate::Backend::assign_and_sum`].
///
/// Like the dense pass ([`crate::kernels::fused::assign_and_sum`]), rows are cut into chunks whose size
/// depends on n, k and d only; each chunk is summed in row order right after it is assigned, and
/// the chunks' partial sums are added in chunk order. Where k × d partial sums per chunk would be
/// too large, the rows are assigned first and summed cluster by cluster ([`sum_by_label`]).
pub fn assign_and_sum<F: Scalar>(
    x: Csr<'_, F>,
    weights: Option<&[f64]>,
    centers: Points<'_, F>,
    labels: &mut [u32],
    dist2: &mut [f64],
) -> ClusterSums {
    let (n, d, k) = (x.n(), x.d(), centers.n());
    let bytes = x.nnz() * (std::mem::size_of::<F>() + std::mem::size_of::<i32>());
    let Some(chunk) = crate::kernels::fused::chunk_rows(n, k, d, bytes) else {
        assign(x, centers, labels, dist2);
        return sum_by_label(x, weights, centers, labels);
    };
    let t = Transposed::new(centers);
    let partials: Vec<ClusterSums> = labels
        .par_chunks_mut(chunk)
        .zip(dist2.par_chunks_mut(chunk))
        .enumerate()
        .map_init(
            || vec![0f64; k],
            |scores, (i, (labels, dist2))| {
                let start = i * chunk;
                let rows = x.rows(start, start + labels.len());
                assign_block(&t, rows, centers, scores, labels, dist2);
                let mut sums = ClusterSums::zeros(k, d);
                for (r, &label) in labels.iter().enumerate() {
                    let w = weights.map_or(1.0, |w| w[start + r]);
                    if w == 0.0 {
                        continue;
                    }
                    let l = label as usize;
                    add_row(&mut sums.deltas[l * d..(l + 1) * d], rows.row(r), w);
                    sums.weights[l] += w;
                    sums.members[l] += 1;
                }
                sums
            },
        )
        .collect();
    let mut total = ClusterSums::zeros(k, d);
    partials.iter().for_each(|p| total.add(p));
    subtract_centers(&mut total, centers);
    total
}

/// Turns sums of Σ w·x into Σ w·x − (Σ w)·c, cluster by cluster, in place.
fn subtract_centers<F: Scalar>(sums: &mut ClusterSums, centers: Points<'_, F>) {
    let d = centers.d().max(1);
    sums.deltas.par_chunks_mut(d).zip(&sums.weights).enumerate().for_each(|(c, (delta, &total))| {
        delta.iter_mut().zip(centers.row(c)).for_each(|(s, &m)| *s -= total * m.to_f64());
    });
}
