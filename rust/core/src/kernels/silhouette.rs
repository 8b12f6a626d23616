//! Exact silhouette values, blocked: rows against rows, never an n × n matrix in memory.
//!
//! The silhouette of row i (Rousseeuw 1987, as scikit-learn computes it) is
//!
//! ```text
//! a(i) = Σ_{j in own cluster, j ≠ i} ||x_i − x_j|| / (n_own − 1)
//! b(i) = min over other clusters c of Σ_{j in c} ||x_i − x_j|| / n_c
//! s(i) = (b − a) / max(a, b)      (0 for a row alone in its cluster, and where a = b = 0)
//! ```
//!
//! Every row needs the sum of its distances to each cluster. Rows are visited in label order (a
//! counting sort), so each cluster is a contiguous run of rows. For the silhouette of every row,
//! clusters are taken in pairs and each pair of rows' distance is computed once, feeding both
//! rows' sums ([`all_rows`]); for the silhouette of some rows (a sample), those rows are taken
//! `ROW_BLOCK` at a time against all rows, with a `ROW_BLOCK × k` accumulator. Either way rows come
//! in blocks against blocks of `COLUMN_BLOCK` rows: each tile of dot products comes from the GEMM
//! kernel ([`Scalar::gemm_abt`], float64) and is turned into distances with the identity
//!
//! ```text
//! ||x − y||² = ||x||² − 2 x·y + ||y||²
//! ```
//!
//! clamped at zero (roundoff can make it slightly negative for near-identical rows), as
//! scikit-learn's `euclidean_distances` does. Dense rows are centred on their mean first (in
//! `f64`), so the identity does not lose digits to a common offset; the distance of a row to itself
//! is set to exactly 0 (scikit-learn zeroes the diagonal too). Sparse rows stay sparse: each row of
//! a block is scattered into a dense vector of d values, and its dot products with the sparse
//! columns read only their non-zeros.
//!
//! Memory: the labels' order, the norms and two sums per row, at most [`PIECES`] partial sums per
//! row, and per thread a block of rows, a block of columns, one tile and a block's k sums: O(n + k)
//! beyond the data. Every sum is added in a fixed order of blocks and pieces, whatever thread
//! computes it, so the result does not depend on the thread count.

use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use crate::error::{check_stop, Error, Result};
use crate::kernels::parallel::ROW_BLOCK;
use crate::kernels::points::{fold_lanes, Points};
use crate::kernels::scalar::Scalar;
use crate::kernels::sparse::Csr;
use crate::kernels::sums::group_by_label;

/// Columns per tile: a `ROW_BLOCK × COLUMN_BLOCK` float64 tile is 256 KiB, inside L2.
const COLUMN_BLOCK: usize = 256;

/// Silhouette values of the rows `rows` (all rows when `None`) of `x`, labelled `labels` (each in
/// `0..k`), against every row of `x`. Dense ([`Points`]) or sparse ([`Csr`], never densified).
pub fn silhouette_samples<X: PairwiseRows>(
    x: X,
    labels: &[u32],
    k: usize,
    rows: Option<&[usize]>,
    stop: &AtomicBool,
) -> Result<Vec<f64>> {
    x.silhouette_samples(labels, k, rows, stop)
}

/// Rows whose pairwise distances the silhouette can tile: dense or sparse.
pub trait PairwiseRows: Copy {
    /// See [`silhouette_samples`].
    fn silhouette_samples(
        self,
        labels: &[u32],
        k: usize,
        rows: Option<&[usize]>,
        stop: &AtomicBool,
    ) -> Result<Vec<f64>>;
}

impl<F: Scalar> PairwiseRows for Points<'_, F> {
    fn silhouette_samples(
        self,
        labels: &[u32],
        k: usize,
        rows: Option<&[usize]>,
        stop: &AtomicBool,
    ) -> Result<Vec<f64>> {
        check_labels(self.n(), labels, k, rows)?;
        silhouette_with(&DenseDots::new(self), labels, k, rows, stop)
    }
}

impl<F: Scalar> PairwiseRows for Csr<'_, F> {
    fn silhouette_samples(
        self,
        labels: &[u32],
        k: usize,
        rows: Option<&[usize]>,
        stop: &AtomicBool,
    ) -> Result<Vec<f64>> {
        check_labels(self.n(), labels, k, rows)?;
        silhouette_with(&SparseDots::new(self), labels, k, rows, stop)
    }
}

/// One label per row, each below `k`; row indices in range.
fn check_labels(n: usize, labels: &[u32], k: usize, rows: Option<&[usize]>) -> Result<()> {
    if labels.len() != n {
        return Err(Error::InvalidParameter {
            name: "labels",
            value: format!("{} labels for {n} rows", labels.len()),
            rule: "one label per row",
        });
    }
    if let Some(i) = labels.iter().position(|&l| l as usize >= k) {
        return Err(Error::InvalidParameter {
            name: "labels",
            value: format!("{} (row {i})", labels[i]),
            rule: "labels in 0..k",
        });
    }
    if let Some(&index) = rows.and_then(|r| r.iter().find(|&&i| i >= n)) {
        return Err(Error::RowIndex { index, rows: n });
    }
    Ok(())
}

/// Dot products between blocks of rows, and the rows' squared norms.
trait Dots: Sync {
    type Scratch: Send;
    fn n(&self) -> usize;
    fn scratch(&self) -> Self::Scratch;
    /// ||x_i||² (of the centred row, for dense rows).
    fn norm(&self, i: usize) -> f64;
    /// Makes `rows` the block that [`Dots::tile`] multiplies.
    fn load_rows(&self, scratch: &mut Self::Scratch, rows: &[u32]);
    /// `tile[r · cols.len() + j] = x_rows[r] · x_cols[j]`.
    fn tile(&self, scratch: &mut Self::Scratch, cols: &[u32], tile: &mut [f64]);
}

/// Dense rows, centred on their mean and converted to `f64` block by block.
struct DenseDots<'a, F> {
    x: Points<'a, F>,
    mean: Vec<f64>,
    norms: Vec<f64>,
}

/// A packed block of rows and one of columns (row-major, d values each).
struct DenseScratch {
    rows: Vec<f64>,
    n_rows: usize,
    cols: Vec<f64>,
}

impl<'a, F: Scalar> DenseDots<'a, F> {
    fn new(x: Points<'a, F>) -> Self {
        let mean = column_means(x);
        let norms = (0..x.n())
            .into_par_iter()
            .with_min_len(1024)
            .map(|i| x.row(i).iter().zip(&mean).map(|(&v, m)| (v.to_f64() - m).powi(2)).sum())
            .collect();
        Self { x, mean, norms }
    }

    fn pack(&self, indices: &[u32], out: &mut Vec<f64>) {
        out.clear();
        for &i in indices {
            out.extend(self.x.row(i as usize).iter().zip(&self.mean).map(|(&v, m)| v.to_f64() - m));
        }
    }
}

impl<F: Scalar> Dots for DenseDots<'_, F> {
    type Scratch = DenseScratch;
    fn n(&self) -> usize {
        self.x.n()
    }
    fn scratch(&self) -> DenseScratch {
        DenseScratch { rows: Vec::new(), n_rows: 0, cols: Vec::new() }
    }
    fn norm(&self, i: usize) -> f64 {
        self.norms[i]
    }
    fn load_rows(&self, s: &mut DenseScratch, rows: &[u32]) {
        self.pack(rows, &mut s.rows);
        s.n_rows = rows.len();
    }
    fn tile(&self, s: &mut DenseScratch, cols: &[u32], tile: &mut [f64]) {
        self.pack(cols, &mut s.cols);
        let (m, n, d) = (s.n_rows, cols.len(), self.x.d());
        assert!(tile.len() >= m * n, "room for the tile");
        // SAFETY: `rows` is m × d and `cols` n × d, both with row stride d; `tile` holds m × n
        // values with row stride n.
        unsafe { f64::gemm_abt(m, d, n, s.rows.as_ptr(), d, s.cols.as_ptr(), d, tile.as_mut_ptr(), n) };
    }
}

/// The mean of every column, in `f64`: partial sums of fixed blocks of rows, added in block order.
fn column_means<F: Scalar>(x: Points<'_, F>) -> Vec<f64> {
    const BLOCK: usize = 4096;
    let d = x.d();
    let partials: Vec<Vec<f64>> = (0..x.n().div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| {
            let mut sum = vec![0f64; d];
            for i in b * BLOCK..((b + 1) * BLOCK).min(x.n()) {
                sum.iter_mut().zip(x.row(i)).for_each(|(s, &v)| *s += v.to_f64());
            }
            sum
        })
        .collect();
    let mut mean = vec![0f64; d];
    for p in &partials {
        mean.iter_mut().zip(p).for_each(|(m, v)| *m += v);
    }
    let n = x.n().max(1) as f64;
    mean.iter_mut().for_each(|m| *m /= n);
    mean
}

/// Sparse rows: a block's rows are scattered, one at a time, into a dense vector.
struct SparseDots<'a, F> {
    x: Csr<'a, F>,
    norms: Vec<f64>,
}

struct SparseScratch {
    dense: Vec<f64>,
    rows: Vec<u32>,
}

impl<'a, F: Scalar> SparseDots<'a, F> {
    fn new(x: Csr<'a, F>) -> Self {
        let norms = (0..x.n()).map(|i| x.row(i).1.iter().map(|v| v.to_f64().powi(2)).sum()).collect();
        Self { x, norms }
    }
}

impl<F: Scalar> Dots for SparseDots<'_, F> {
    type Scratch = SparseScratch;
    fn n(&self) -> usize {
        self.x.n()
    }
    fn scratch(&self) -> SparseScratch {
        SparseScratch { dense: vec![0.0; self.x.d()], rows: Vec::new() }
    }
    fn norm(&self, i: usize) -> f64 {
        self.norms[i]
    }
    fn load_rows(&self, s: &mut SparseScratch, rows: &[u32]) {
        s.rows.clear();
        s.rows.extend_from_slice(rows);
    }
    fn tile(&self, s: &mut SparseScratch, cols: &[u32], tile: &mut [f64]) {
        for (r, &i) in s.rows.iter().enumerate() {
            let (idx, vals) = self.x.row(i as usize);
            for (&j, &v) in idx.iter().zip(vals) {
                s.dense[j as usize] += v.to_f64();
            }
            for (t, &c) in tile[r * cols.len()..(r + 1) * cols.len()].iter_mut().zip(cols) {
                let (idx, vals) = self.x.row(c as usize);
                *t = idx.iter().zip(vals).map(|(&j, &v)| s.dense[j as usize] * v.to_f64()).sum();
            }
            idx.iter().for_each(|&j| s.dense[j as usize] = 0.0);
        }
    }
}

/// The silhouette of the rows of interest, through any [`Dots`].
fn silhouette_with<D: Dots>(
    dots: &D,
    labels: &[u32],
    k: usize,
    rows: Option<&[usize]>,
    stop: &AtomicBool,
) -> Result<Vec<f64>> {
    let n = dots.n();
    let (offsets, order) = group_by_label(labels, k);
    if rows.is_none() {
        return all_rows(dots, k, &offsets, &order, stop);
    }
    // Where each row sits in label order: its own distance is there.
    let mut position = vec![0u32; n];
    order.iter().enumerate().for_each(|(p, &i)| position[i as usize] = p as u32);
    let wanted: Vec<u32> = match rows {
        Some(r) => r.iter().map(|&i| i as u32).collect(),
        None => (0..n as u32).collect(),
    };
    let counts: Vec<usize> = offsets.windows(2).map(|w| w[1] - w[0]).collect();
    let context = Context { dots, labels, k, offsets: &offsets, order: &order, position: &position, counts: &counts };
    let mut out = vec![0f64; wanted.len()];
    out.par_chunks_mut(ROW_BLOCK).zip(wanted.par_chunks(ROW_BLOCK)).try_for_each_init(
        || Block::new(dots, k),
        |block, (out, rows)| {
            check_stop(stop)?;
            context.block(block, rows, out);
            Ok(())
        },
    )?;
    Ok(out)
}

/// What every block reads.
struct Context<'c, D> {
    dots: &'c D,
    labels: &'c [u32],
    k: usize,
    offsets: &'c [usize],
    order: &'c [u32],
    position: &'c [u32],
    counts: &'c [usize],
}

/// One thread's working memory.
struct Block<S> {
    scratch: S,
    tile: Vec<f64>,
    col_norms: Vec<f64>,
    distances: Vec<f64>,
    sums: Vec<f64>,
}

impl<S> Block<S> {
    fn new<D: Dots<Scratch = S>>(dots: &D, k: usize) -> Self {
        Self {
            scratch: dots.scratch(),
            tile: vec![0.0; ROW_BLOCK * COLUMN_BLOCK],
            col_norms: vec![0.0; COLUMN_BLOCK],
            distances: vec![0.0; COLUMN_BLOCK],
            sums: vec![0.0; ROW_BLOCK * k],
        }
    }
}

impl<D: Dots> Context<'_, D> {
    /// The silhouette values of at most `ROW_BLOCK` rows.
    fn block(&self, b: &mut Block<D::Scratch>, rows: &[u32], out: &mut [f64]) {
        let k = self.k;
        self.dots.load_rows(&mut b.scratch, rows);
        let sums = &mut b.sums[..rows.len() * k];
        sums.fill(0.0);
        for start in (0..self.order.len()).step_by(COLUMN_BLOCK) {
            let cols = &self.order[start..(start + COLUMN_BLOCK).min(self.order.len())];
            let tile = &mut b.tile[..rows.len() * cols.len()];
            self.dots.tile(&mut b.scratch, cols, tile);
            let col_norms = &mut b.col_norms[..cols.len()];
            col_norms.iter_mut().zip(cols).for_each(|(n, &c)| *n = self.dots.norm(c as usize));
            let distances = &mut b.distances[..cols.len()];
            for (r, &i) in rows.iter().enumerate() {
                let norm = self.dots.norm(i as usize);
                distance_row(norm, col_norms, &tile[r * cols.len()..(r + 1) * cols.len()], distances);
                let own = self.position[i as usize] as usize;
                if (start..start + cols.len()).contains(&own) {
                    distances[own - start] = 0.0;
                }
                self.add_runs(start, distances, &mut sums[r * k..(r + 1) * k]);
            }
        }
        for (r, (&i, s)) in rows.iter().zip(out.iter_mut()).enumerate() {
            *s = self.value(self.labels[i as usize] as usize, &sums[r * k..(r + 1) * k]);
        }
    }

    /// Adds the distances of columns `start..` to their clusters' sums, one run per cluster.
    fn add_runs(&self, start: usize, distances: &[f64], sums: &mut [f64]) {
        let end = start + distances.len();
        // The first cluster whose rows reach past `start`.
        let mut c = self.offsets.partition_point(|&o| o <= start) - 1;
        while c < self.k && self.offsets[c] < end {
            let (from, to) = (self.offsets[c].max(start), self.offsets[c + 1].min(end));
            sums[c] += sum(&distances[from - start..to - start]);
            c += 1;
        }
    }

    /// s(i) from the row's distance sums to every cluster.
    fn value(&self, own: usize, sums: &[f64]) -> f64 {
        if self.counts[own] <= 1 {
            return 0.0;
        }
        let b = (0..self.k)
            .filter(|&c| c != own && self.counts[c] > 0)
            .map(|c| sums[c] / self.counts[c] as f64)
            .fold(f64::INFINITY, f64::min);
        score(sums[own] / (self.counts[own] - 1) as f64, b)
    }
}

/// `out[j] = sqrt(max(norm + col_norms[j] − 2 dots[j], 0))`: one row of a tile's distances.
#[inline]
fn distance_row(norm: f64, col_norms: &[f64], dots: &[f64], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::avx2::available() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { distance_row_avx2(norm, col_norms, dots, out) };
    }
    distance_row_portable(norm, col_norms, dots, out)
}

/// [`distance_row`] compiled for AVX2: the same operations in the same order, four at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn distance_row_avx2(norm: f64, col_norms: &[f64], dots: &[f64], out: &mut [f64]) {
    distance_row_portable(norm, col_norms, dots, out)
}

#[inline(always)]
fn distance_row_portable(norm: f64, col_norms: &[f64], dots: &[f64], out: &mut [f64]) {
    for ((dist, &dot), &nc) in out.iter_mut().zip(dots).zip(col_norms) {
        let d2 = norm + nc - 2.0 * dot;
        // Clamped at zero: roundoff can make it slightly negative for near-identical rows.
        *dist = if d2 > 0.0 { d2 } else { 0.0 }.sqrt();
    }
}

/// Pieces a cluster's rows are cut into for one pair of clusters (fixed, whatever the thread
/// count): each piece is one task, and keeps one partial sum per row of the other cluster.
const PIECES: usize = 16;

/// The silhouette of every row, each pair of rows' distance computed once.
///
/// Clusters are taken in pairs (A, B), A ≤ B. Every distance between a row of A and a row of B
/// adds to the row of A's sum for B and to the row of B's sum for A. A pair's sums are complete
/// once the pair is done, so each row keeps only two numbers: its own cluster's sum, and the
/// smallest mean distance to another cluster so far (a minimum does not depend on the order the
/// pairs come in). Within a pair, A's rows are cut into at most [`PIECES`] pieces of whole
/// blocks, computed in parallel; each piece sums its own rows' distances completely and keeps
/// partial sums for B's rows, which are then added up piece by piece in order. For A = A, a piece
/// takes the columns from its own first row on (the rest of the triangle comes from the earlier
/// pieces' partial sums). Memory: two numbers per row, and at most `PIECES` partial sums per row
/// of B.
fn all_rows<D: Dots>(dots: &D, k: usize, offsets: &[usize], order: &[u32], stop: &AtomicBool) -> Result<Vec<f64>> {
    let n = order.len();
    let mut own = vec![0f64; n];
    let mut nearest = vec![f64::INFINITY; n];
    for a in 0..k {
        for b in a..k {
            check_stop(stop)?;
            let (rows_a, rows_b) = (offsets[a]..offsets[a + 1], offsets[b]..offsets[b + 1]);
            if rows_a.is_empty() || rows_b.is_empty() {
                continue;
            }
            let pieces = pieces(rows_a.clone());
            let partial: Vec<Piece> = pieces
                .par_iter()
                .map_init(
                    || (dots.scratch(), Scratch::new()),
                    |(s, t), piece| {
                        let columns = if a == b { piece.start..rows_b.end } else { rows_b.clone() };
                        pair_piece(dots, order, piece.clone(), columns, a == b, s, t)
                    },
                )
                .collect();
            if a == b {
                // Row i of piece p: its own sums over the columns from p's start on, plus the
                // earlier pieces' partial sums for it.
                for (p, piece) in pieces.iter().enumerate() {
                    for i in piece.clone() {
                        let mut total = partial[p].rows[i - piece.start];
                        for earlier in &partial[..p] {
                            total += earlier.columns[i - earlier.first_column];
                        }
                        own[i] = total;
                    }
                }
            } else {
                let (size_a, size_b) = (rows_a.len() as f64, rows_b.len() as f64);
                for (piece, part) in pieces.iter().zip(&partial) {
                    for i in piece.clone() {
                        nearest[i] = nearest[i].min(part.rows[i - piece.start] / size_b);
                    }
                }
                for j in rows_b.clone() {
                    let total = partial.iter().fold(0.0, |t, part| t + part.columns[j - part.first_column]);
                    nearest[j] = nearest[j].min(total / size_a);
                }
            }
        }
    }
    let mut out = vec![0f64; n];
    for c in 0..k {
        let size = offsets[c + 1] - offsets[c];
        for p in offsets[c]..offsets[c + 1] {
            out[order[p] as usize] = if size <= 1 { 0.0 } else { score(own[p] / (size - 1) as f64, nearest[p]) };
        }
    }
    Ok(out)
}

/// s = (b − a) / max(a, b); 0 where both are 0 (or b is undefined: one cluster only).
fn score(a: f64, b: f64) -> f64 {
    let denominator = a.max(b);
    if denominator > 0.0 && denominator.is_finite() {
        (b - a) / denominator
    } else {
        0.0
    }
}

/// A cluster's rows (positions in label order) cut into at most [`PIECES`] pieces of whole blocks.
fn pieces(rows: std::ops::Range<usize>) -> Vec<std::ops::Range<usize>> {
    let blocks = rows.len().div_ceil(ROW_BLOCK);
    let per_piece = blocks.div_ceil(PIECES) * ROW_BLOCK;
    (rows.start..rows.end).step_by(per_piece).map(|s| s..(s + per_piece).min(rows.end)).collect()
}

/// One piece's sums: complete for its rows, partial for the columns.
struct Piece {
    rows: Vec<f64>,
    columns: Vec<f64>,
    first_column: usize,
}

/// A thread's tile and row buffers.
struct Scratch {
    tile: Vec<f64>,
    col_norms: Vec<f64>,
    distances: Vec<f64>,
}

impl Scratch {
    fn new() -> Self {
        Self {
            tile: vec![0.0; ROW_BLOCK * COLUMN_BLOCK],
            col_norms: vec![0.0; COLUMN_BLOCK],
            distances: vec![0.0; COLUMN_BLOCK],
        }
    }
}

/// The distances between the rows `rows` and the columns `columns` (positions in label order):
/// each row's sum, and each column's sum over the rows (only past the piece when `diagonal`).
fn pair_piece<D: Dots>(
    dots: &D,
    order: &[u32],
    rows: std::ops::Range<usize>,
    columns: std::ops::Range<usize>,
    diagonal: bool,
    s: &mut D::Scratch,
    t: &mut Scratch,
) -> Piece {
    let mut piece =
        Piece { rows: vec![0.0; rows.len()], columns: vec![0.0; columns.len()], first_column: columns.start };
    for block in (rows.start..rows.end).step_by(ROW_BLOCK) {
        let block_rows = &order[block..(block + ROW_BLOCK).min(rows.end)];
        dots.load_rows(s, block_rows);
        for start in (columns.start..columns.end).step_by(COLUMN_BLOCK) {
            let cols = &order[start..(start + COLUMN_BLOCK).min(columns.end)];
            let tile = &mut t.tile[..block_rows.len() * cols.len()];
            dots.tile(s, cols, tile);
            let col_norms = &mut t.col_norms[..cols.len()];
            col_norms.iter_mut().zip(cols).for_each(|(v, &c)| *v = dots.norm(c as usize));
            let distances = &mut t.distances[..cols.len()];
            // Columns of this block that take partial sums: past the piece on the diagonal.
            let from = if diagonal { rows.end.clamp(start, start + cols.len()) - start } else { 0 };
            for (r, &i) in block_rows.iter().enumerate() {
                distance_row(dots.norm(i as usize), col_norms, &tile[r * cols.len()..(r + 1) * cols.len()], distances);
                let position = block + r;
                if (start..start + cols.len()).contains(&position) {
                    distances[position - start] = 0.0;
                }
                piece.rows[position - rows.start] += sum(distances);
                let partial = &mut piece.columns[start + from - columns.start..start + cols.len() - columns.start];
                partial.iter_mut().zip(&distances[from..]).for_each(|(p, d)| *p += d);
            }
        }
    }
    piece
}

/// Σ values in eight lanes, folded in a fixed order.
#[inline]
fn sum(values: &[f64]) -> f64 {
    let mut lanes = [0f64; 8];
    let chunks = values.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().sum();
    for chunk in chunks {
        lanes.iter_mut().zip(chunk).for_each(|(l, v)| *l += v);
    }
    fold_lanes(lanes) + tail
}

/// The obvious double loop over all pairs, in `f64` (Σ(x − y)² directly): the oracle the blocked
/// kernel is tested against.
pub fn silhouette_naive<F: Scalar>(x: Points<'_, F>, labels: &[u32], k: usize) -> Vec<f64> {
    let counts: Vec<usize> = (0..k).map(|c| labels.iter().filter(|&&l| l as usize == c).count()).collect();
    (0..x.n())
        .map(|i| {
            let mut sums = vec![0f64; k];
            for j in 0..x.n() {
                if j != i {
                    sums[labels[j] as usize] += crate::kernels::points::sq_dist_f64(x.row(i), x.row(j)).sqrt();
                }
            }
            let own = labels[i] as usize;
            if counts[own] <= 1 {
                return 0.0;
            }
            let a = sums[own] / (counts[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && counts[c] > 0)
                .map(|c| sums[c] / counts[c] as f64)
                .fold(f64::INFINITY, f64::min);
            let m = a.max(b);
            if m > 0.0 && m.is_finite() {
                (b - a) / m
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_alone_in_its_cluster_scores_zero() {
        let x = [0.0f64, 0.0, 1.0, 0.0, 10.0, 0.0];
        let x = Points::from_rows(&x, 2).unwrap();
        let s = silhouette_samples(x, &[0, 0, 1], 2, None, &AtomicBool::new(false)).unwrap();
        assert_eq!(s[2], 0.0);
        // Row 0: a = 1, b = 10, s = 0.9.
        assert!((s[0] - 0.9).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn labels_past_k_are_refused() {
        let x = [0.0f64, 1.0];
        let x = Points::from_rows(&x, 1).unwrap();
        let err = silhouette_samples(x, &[0, 2], 2, None, &AtomicBool::new(false)).unwrap_err();
        assert!(err.to_string().contains("labels"), "{err}");
    }
}
