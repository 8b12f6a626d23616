//! Distance sums through tiles of dot products ([`Tiled`]), the trait both ways share
//! ([`Distances`]), and the dense and sparse rows' dot products ([`DenseDots`], [`SparseDots`]).

use rayon::prelude::*;

use crate::kernels::parallel::ROW_BLOCK;
use crate::kernels::points::{fold_lanes, Points};
use crate::kernels::scalar::Scalar;
use crate::kernels::sparse::Csr;

/// Columns per call: a `ROW_BLOCK × COLUMN_BLOCK` float64 tile is 256 KiB, inside L2.
pub(crate) const COLUMN_BLOCK: usize = 256;
/// Rows per load: the columns of one call, packed once, serve this many rows. Packing a column
/// costs about as much as 30 of its multiply-adds with a row, so against a single block of rows it
/// took an eighth of the fused kernel's time.
pub(crate) const ROW_CHUNK: usize = 8 * ROW_BLOCK;

/// Sums of distances between a block of rows and runs of columns.
pub(crate) trait Distances: Sync {
    type Scratch: Send;
    fn n(&self) -> usize;
    fn scratch(&self) -> Self::Scratch;
    /// Makes the rows `rows` (at most [`ROW_CHUNK`]), at positions `positions` in the numbering
    /// the columns' positions use, the block that [`Distances::add_sums`] reads.
    fn load_rows(&self, s: &mut Self::Scratch, rows: &[u32], positions: &[u32]);
    /// For the columns `cols` (at most [`COLUMN_BLOCK`], at positions `start..start + cols.len()`):
    /// adds each row r's distances to them all to `row_sums[r]`, and with `col_sums`, each column
    /// j's distances to all the rows to `col_sums[j]`.
    fn add_sums(
        &self,
        s: &mut Self::Scratch,
        cols: &[u32],
        start: usize,
        row_sums: &mut [f64],
        col_sums: Option<&mut [f64]>,
    );
}

/// Dot products between blocks of rows, and the rows' squared norms: what [`Tiled`] needs.
pub(crate) trait Dots: Sync {
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
pub(crate) struct DenseDots<'a, F> {
    pub(crate) x: Points<'a, F>,
    mean: Vec<f64>,
    /// ||x_i − mean||² of every row.
    pub(crate) norms: Vec<f64>,
}

/// A packed block of rows and one of columns (row-major, d values each).
pub(crate) struct DenseScratch {
    rows: Vec<f64>,
    n_rows: usize,
    cols: Vec<f64>,
}

impl<'a, F: Scalar> DenseDots<'a, F> {
    pub(crate) fn new(x: Points<'a, F>) -> Self {
        let mean = column_means(x);
        let norms = (0..x.n())
            .into_par_iter()
            .with_min_len(1024)
            .map(|i| x.row(i).iter().zip(&mean).map(|(&v, m)| (v.to_f64() - m).powi(2)).sum())
            .collect();
        Self { x, mean, norms }
    }

    /// The centred rows `indices`, one after the other.
    fn pack(&self, indices: &[u32], out: &mut Vec<f64>) {
        out.clear();
        for &i in indices {
            out.extend(self.centred(i));
        }
    }

    /// The centred rows in the order `order` gives them (`order[p]` is the row at position p),
    /// n × d, one after the other.
    pub(crate) fn centred_in_order(&self, order: &[u32]) -> Vec<f64> {
        let d = self.x.d();
        let mut sorted = vec![0f64; order.len() * d];
        sorted.par_chunks_mut(d * 1024).zip(order.par_chunks(1024)).for_each(|(out, rows)| {
            for (out, &i) in out.chunks_exact_mut(d).zip(rows) {
                out.iter_mut().zip(self.centred(i)).for_each(|(o, v)| *o = v);
            }
        });
        sorted
    }

    /// Row i minus the mean, in `f64`.
    pub(crate) fn centred(&self, i: u32) -> impl Iterator<Item = f64> + '_ {
        self.x.row(i as usize).iter().zip(&self.mean).map(|(&v, m)| v.to_f64() - m)
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
pub(crate) struct SparseDots<'a, F> {
    x: Csr<'a, F>,
    norms: Vec<f64>,
}

pub(crate) struct SparseScratch {
    dense: Vec<f64>,
    rows: Vec<u32>,
}

impl<'a, F: Scalar> SparseDots<'a, F> {
    pub(crate) fn new(x: Csr<'a, F>) -> Self {
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

/// [`Distances`] through tiles of dot products: any [`Dots`].
pub(crate) struct Tiled<D>(pub D);

/// A block's dot products and their row's distances, and the block's rows.
pub(crate) struct TileScratch<S> {
    dots: S,
    rows: Vec<u32>,
    positions: Vec<u32>,
    tile: Vec<f64>,
    col_norms: Vec<f64>,
    distances: Vec<f64>,
}

impl<D: Dots> Distances for Tiled<D> {
    type Scratch = TileScratch<D::Scratch>;
    fn n(&self) -> usize {
        self.0.n()
    }
    fn scratch(&self) -> Self::Scratch {
        TileScratch {
            dots: self.0.scratch(),
            rows: Vec::new(),
            positions: Vec::new(),
            tile: Vec::new(),
            col_norms: Vec::new(),
            distances: Vec::new(),
        }
    }
    fn load_rows(&self, s: &mut Self::Scratch, rows: &[u32], positions: &[u32]) {
        s.rows.clear();
        s.rows.extend_from_slice(rows);
        s.positions.clear();
        s.positions.extend_from_slice(positions);
    }
    /// Tiles of `ROW_BLOCK` rows (a `ROW_BLOCK × COLUMN_BLOCK` tile stays in L2), each row's
    /// distances added up tile by tile.
    fn add_sums(
        &self,
        s: &mut Self::Scratch,
        cols: &[u32],
        start: usize,
        row_sums: &mut [f64],
        mut col_sums: Option<&mut [f64]>,
    ) {
        let n = cols.len();
        s.col_norms.clear();
        s.col_norms.extend(cols.iter().map(|&c| self.0.norm(c as usize)));
        s.distances.resize(n, 0.0);
        for first in (0..s.rows.len()).step_by(ROW_BLOCK) {
            let block = first..(first + ROW_BLOCK).min(s.rows.len());
            self.0.load_rows(&mut s.dots, &s.rows[block.clone()]);
            s.tile.resize(block.len() * n, 0.0);
            self.0.tile(&mut s.dots, cols, &mut s.tile);
            for (r, row) in block.enumerate() {
                let (i, position) = (s.rows[row], s.positions[row]);
                distance_row(self.0.norm(i as usize), &s.col_norms, &s.tile[r * n..(r + 1) * n], &mut s.distances);
                if let Some(own) = (position as usize).checked_sub(start).filter(|&p| p < n) {
                    s.distances[own] = 0.0;
                }
                row_sums[row] += sum(&s.distances);
                if let Some(col_sums) = col_sums.as_deref_mut() {
                    col_sums.iter_mut().zip(&s.distances).for_each(|(c, d)| *c += d);
                }
            }
        }
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
