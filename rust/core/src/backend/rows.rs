//! What the algorithms need of their data, whether dense ([`Points`]) or sparse ([`Csr`]).
//!
//! Seeding, Lloyd and the mini-batch trainer are generic over [`Rows`]: they read the data only
//! through it, so a sparse matrix is never densified (only the centres, K × d, are dense). Each
//! kind of data brings its own distances to a dense centre and its own per-cluster means; the
//! O(n·k·d) work goes to a [`Backend`](crate::Backend), which takes the rows as [`Data`].

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::kernels::parallel::{min_items, ROW_BLOCK};
use crate::kernels::points::{gather_into, narrow_sq_dists, sq_dist_f64, sq_dist_in, Points, NARROW_ROWS};
use crate::kernels::scalar::Scalar;
use crate::kernels::sparse::{self, center_norms, sq_dist_to_dense, weighted_sums, Csr, CsrBuf};
use crate::kernels::sq_dists::each_pair;
use crate::kernels::sums::{self, cluster_means, ClusterSums};

/// Rows of `d` features, dense or sparse, borrowed from the caller.
pub trait Rows<F: Scalar>: Copy + Send + Sync {
    /// Number of rows.
    fn n(&self) -> usize;
    /// Features per row.
    fn d(&self) -> usize;
    /// Rows `start..end`, borrowed.
    fn rows(&self, start: usize, end: usize) -> Self;
    /// Row `i`, written densely into `out` (`d` values).
    fn copy_row(&self, i: usize, out: &mut [F]);
    /// ||row i − center||² as `f64`, for comparing distances (seeding's running minimum): dense
    /// rows accumulate in the data's precision ([`sq_dist_in`]), sparse rows in `f64`.
    /// `center_norm` is ||center||² in `f64`.
    fn sq_dist_to(&self, i: usize, center: &[F], center_norm: f64) -> f64;
    /// `put(j, self.sq_dist_to(row(j), c, norm))` with `(c, norm) = center(j)`, for every
    /// `j < count` in order: many of [`Rows::sq_dist_to`]'s distances, the same bits, dense rows
    /// four or eight at a time where the CPU allows ([`each_pair`]).
    fn each_sq_dist<'c>(
        &self,
        count: usize,
        row: impl Fn(usize) -> usize,
        center: impl Fn(usize) -> (&'c [F], f64),
        mut put: impl FnMut(usize, f64),
    ) where
        F: 'c,
    {
        match self.data() {
            Data::Dense(x) => each_pair(count, |j| (x.row(row(j)), center(j).0), put),
            Data::Sparse(x) => {
                for j in 0..count {
                    let (c, norm) = center(j);
                    put(j, x.sq_dist_to(row(j), c, norm));
                }
            }
        }
    }
    /// The first row holding NaN or infinity, if any.
    fn first_non_finite_row(&self) -> Option<usize>;
    /// The rows named by `indices`, copied into `out` (reused; dense stays dense, sparse stays
    /// sparse).
    fn gather_into(&self, indices: &[usize], out: &mut Gathered<F>);
    /// The rows named by `indices`, written densely one after another (`indices.len()` × d
    /// values): centres chosen among the rows.
    fn dense_rows(&self, indices: &[usize]) -> Vec<F> {
        let d = self.d();
        let mut out = vec![F::ZERO; indices.len() * d];
        for (row, &i) in out.chunks_exact_mut(d).zip(indices) {
            self.copy_row(i, row);
        }
        out
    }
    /// [`Rows::gather_into`] a new buffer.
    fn gather(&self, indices: &[usize]) -> Gathered<F> {
        let mut out = Gathered::Dense { data: Vec::new(), d: 0 };
        self.gather_into(indices, &mut out);
        out
    }

    /// These rows as dense or sparse: what a [`Backend`](crate::Backend) takes.
    fn data(&self) -> Data<'_, F>;
    /// Moves every centre that holds rows of positive weight (by `labels`) to their weighted
    /// mean; the others keep their place.
    fn move_to_means(&self, weights: Option<&[f64]>, labels: &[u32], centers: &mut [F]);

    /// Fails with [`Error::Empty`] unless there is at least one row and one feature.
    fn require_non_empty(&self) -> Result<()> {
        if self.n() == 0 || self.d() == 0 {
            return Err(Error::Empty { rows: self.n(), cols: self.d() });
        }
        Ok(())
    }

    /// Fails as [`Rows::require_non_empty`] does, and with [`Error::TooFewPoints`] unless there are
    /// at least `k` rows: the check of anything that seeds `k` centres from these rows.
    fn require_rows_for(&self, k: usize) -> Result<()> {
        self.require_non_empty()?;
        if self.n() < k {
            return Err(Error::TooFewPoints { n_samples: self.n(), k });
        }
        Ok(())
    }

    /// Fails with [`Error::FeatureMismatch`] unless the rows have `d` features.
    fn require_d(&self, d: usize) -> Result<()> {
        if self.d() != d {
            return Err(Error::FeatureMismatch { expected: d, got: self.d() });
        }
        Ok(())
    }

    /// Fails with [`Error::NonFinite`] naming the first row holding NaN or infinity.
    fn require_finite(&self, what: &'static str) -> Result<()> {
        match self.first_non_finite_row() {
            Some(row) => Err(Error::NonFinite { what, row }),
            None => Ok(()),
        }
    }
}

/// Rows copied out of a [`Rows`] (a mini-batch, a seeding sample), dense or sparse like their
/// source.
#[derive(Clone, Debug)]
pub enum Gathered<F> {
    Dense { data: Vec<F>, d: usize },
    Sparse(CsrBuf<F>),
}

impl<F: Scalar> Gathered<F> {
    /// The buffer of dense rows of `d` features (made dense first if it was sparse), for a
    /// gather to fill.
    pub(crate) fn dense(&mut self, d: usize) -> &mut Vec<F> {
        if let Gathered::Sparse(_) = self {
            *self = Gathered::Dense { data: Vec::new(), d };
        }
        match self {
            Gathered::Dense { data, d: features } => {
                *features = d;
                data
            }
            Gathered::Sparse(_) => unreachable!("made dense above"),
        }
    }

    /// The rows as a borrowed view.
    pub fn view(&self) -> Data<'_, F> {
        match self {
            Gathered::Dense { data, d } => Data::Dense(Points::from_rows(data, *d).expect("whole rows")),
            Gathered::Sparse(buf) => Data::Sparse(buf.view()),
        }
    }
}

/// Either kind of rows, chosen at run time (what [`Gathered::view`] gives).
#[derive(Clone, Copy, Debug)]
pub enum Data<'a, F> {
    Dense(Points<'a, F>),
    Sparse(Csr<'a, F>),
}

impl<F: Scalar> Data<'_, F> {
    /// The per-cluster sums of the next M step for given labels, cluster by cluster (what
    /// [`Backend::assign_and_sum`](crate::Backend::assign_and_sum) adds to an assignment by default).
    pub fn sum_by_label(&self, weights: Option<&[f64]>, centers: Points<'_, F>, labels: &[u32]) -> ClusterSums {
        match self {
            Data::Dense(x) => sums::sum_by_label(*x, weights, centers, labels),
            Data::Sparse(x) => sparse::sum_by_label(*x, weights, centers, labels),
        }
    }

    /// `dist2[i]` = the exact squared distance from row `i` to its centre `labels[i]`, in `f64`
    /// ([`sq_dist_f64`] for dense rows, [`sq_dist_to_dense`] for sparse ones), rows in parallel;
    /// dense rows of fewer than eight features in blocks, by [`narrow_sq_dists`] (the same bits,
    /// without a call per row: on skin_nonskin's 245,057 rows of three, 388 µs instead of 555 on
    /// two threads, near the time of reading the rows from cache).
    pub fn sq_dists_to_labels(&self, centers: Points<'_, F>, labels: &[u32], dist2: &mut [f64]) {
        if let Data::Dense(x) = self {
            if x.d() < NARROW_ROWS {
                let blocks = dist2.par_chunks_mut(ROW_BLOCK).enumerate().with_min_len(min_items(ROW_BLOCK * x.d()));
                blocks.for_each(|(b, out)| {
                    let from = b * ROW_BLOCK;
                    let rows = x.rows(from, from + out.len());
                    narrow_sq_dists::<f64, F>(rows, centers.as_slice(), |i| labels[from + i] as usize, out)
                });
                return;
            }
        }
        let norms: Vec<f64> = match self {
            Data::Dense(_) => Vec::new(),
            Data::Sparse(_) => center_norms(centers),
        };
        dist2.par_iter_mut().zip(labels).enumerate().with_min_len(1 << 10).for_each(|(i, (d2, &l))| {
            let c = centers.row(l as usize);
            *d2 = match self {
                Data::Dense(x) => sq_dist_f64(x.row(i), c),
                Data::Sparse(x) => x.sq_dist_to(i, c, norms[l as usize]),
            };
        });
    }

    /// The exact Euclidean distance from every row to every centre, rounded once to `F`:
    /// `out[i·k + j]` = √(the squared distance accumulated in `f64`: [`sq_dist_f64`] for dense
    /// rows, [`sq_dist_to_dense`] for sparse ones), row blocks in parallel.
    /// What [`Backend::distances`](crate::Backend::distances) gives by default.
    pub fn distances(&self, centers: Points<'_, F>, out: &mut [F]) {
        let k = centers.n();
        assert_eq!(out.len(), self.n() * k, "one distance per row and centre");
        if k == 0 {
            return;
        }
        let norms = center_norms(centers);
        out.par_chunks_mut(k).enumerate().for_each(|(i, row)| {
            for (j, slot) in row.iter_mut().enumerate() {
                let sq = match self {
                    Data::Dense(x) => sq_dist_f64(x.row(i), centers.row(j)),
                    Data::Sparse(x) => x.sq_dist_to(i, centers.row(j), norms[j]),
                };
                *slot = F::from_f64(sq.sqrt());
            }
        });
    }
}

impl<'a, F> From<Points<'a, F>> for Data<'a, F> {
    fn from(x: Points<'a, F>) -> Self {
        Data::Dense(x)
    }
}

impl<'a, F> From<Csr<'a, F>> for Data<'a, F> {
    fn from(x: Csr<'a, F>) -> Self {
        Data::Sparse(x)
    }
}

macro_rules! each {
    ($self:expr, |$x:ident| $body:expr) => {
        match $self {
            Data::Dense($x) => $body,
            Data::Sparse($x) => $body,
        }
    };
}

impl<F: Scalar> Rows<F> for Data<'_, F> {
    fn n(&self) -> usize {
        each!(self, |x| Rows::n(x))
    }
    fn d(&self) -> usize {
        each!(self, |x| Rows::d(x))
    }
    fn rows(&self, start: usize, end: usize) -> Self {
        match self {
            Data::Dense(x) => Data::Dense(x.rows(start, end)),
            Data::Sparse(x) => Data::Sparse(x.rows(start, end)),
        }
    }
    fn copy_row(&self, i: usize, out: &mut [F]) {
        each!(self, |x| x.copy_row(i, out))
    }
    fn sq_dist_to(&self, i: usize, center: &[F], center_norm: f64) -> f64 {
        each!(self, |x| x.sq_dist_to(i, center, center_norm))
    }
    fn first_non_finite_row(&self) -> Option<usize> {
        each!(self, |x| Rows::first_non_finite_row(x))
    }
    fn gather_into(&self, indices: &[usize], out: &mut Gathered<F>) {
        each!(self, |x| Rows::gather_into(x, indices, out))
    }
    fn move_to_means(&self, weights: Option<&[f64]>, labels: &[u32], centers: &mut [F]) {
        each!(self, |x| x.move_to_means(weights, labels, centers))
    }
    fn data(&self) -> Data<'_, F> {
        *self
    }
}

impl<F: Scalar> Rows<F> for Points<'_, F> {
    fn n(&self) -> usize {
        Points::n(self)
    }
    fn d(&self) -> usize {
        Points::d(self)
    }
    fn rows(&self, start: usize, end: usize) -> Self {
        Points::rows(self, start, end)
    }
    fn copy_row(&self, i: usize, out: &mut [F]) {
        out.copy_from_slice(self.row(i));
    }
    #[inline(always)]
    fn sq_dist_to(&self, i: usize, center: &[F], _center_norm: f64) -> f64 {
        sq_dist_in::<F, F>(self.row(i), center)
    }
    fn first_non_finite_row(&self) -> Option<usize> {
        Points::first_non_finite_row(self)
    }
    fn data(&self) -> Data<'_, F> {
        Data::Dense(*self)
    }
    fn gather_into(&self, indices: &[usize], out: &mut Gathered<F>) {
        gather_into(*self, indices, out.dense(Points::d(self)));
    }
    fn move_to_means(&self, weights: Option<&[f64]>, labels: &[u32], centers: &mut [F]) {
        let d = Points::d(self);
        let k = centers.len() / d;
        let (means, totals) = cluster_means(*self, weights, labels, k);
        for c in (0..k).filter(|&c| totals[c] > 0.0) {
            for (dst, &m) in centers[c * d..(c + 1) * d].iter_mut().zip(&means[c * d..(c + 1) * d]) {
                *dst = F::from_f64(m);
            }
        }
    }
}

impl<F: Scalar> Rows<F> for Csr<'_, F> {
    fn n(&self) -> usize {
        Csr::n(self)
    }
    fn d(&self) -> usize {
        Csr::d(self)
    }
    fn rows(&self, start: usize, end: usize) -> Self {
        Csr::rows(self, start, end)
    }
    fn copy_row(&self, i: usize, out: &mut [F]) {
        out.fill(F::ZERO);
        let (cols, vals) = self.row(i);
        for (&j, &v) in cols.iter().zip(vals) {
            out[j as usize] = v;
        }
    }
    fn sq_dist_to(&self, i: usize, center: &[F], center_norm: f64) -> f64 {
        sq_dist_to_dense(self.row(i), center, center_norm)
    }
    fn first_non_finite_row(&self) -> Option<usize> {
        Csr::first_non_finite_row(self)
    }
    fn data(&self) -> Data<'_, F> {
        Data::Sparse(*self)
    }
    fn gather_into(&self, indices: &[usize], out: &mut Gathered<F>) {
        if !matches!(out, Gathered::Sparse(_)) {
            *out = Gathered::Sparse(CsrBuf::default());
        }
        if let Gathered::Sparse(buf) = out {
            Csr::gather_into(self, indices, buf);
        }
    }
    fn move_to_means(&self, weights: Option<&[f64]>, labels: &[u32], centers: &mut [F]) {
        let d = Csr::d(self);
        let k = centers.len() / d;
        let sums = weighted_sums(*self, weights, labels, k);
        centers.par_chunks_mut(d).zip(sums.deltas.par_chunks(d)).zip(&sums.weights).for_each(
            |((center, sum), &total)| {
                if total > 0.0 {
                    center.iter_mut().zip(sum).for_each(|(c, s)| *c = F::from_f64(s / total));
                }
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_exact_for_dense_and_sparse_rows() {
        // Row 0 sits on centre 1 (distance 0); the others are 3-4-5 triangles and a sparse row.
        let x = [0.0f32, 0.0, 3.0, 4.0, 1.0, 0.0];
        let centers = [3.0f32, 4.0, 0.0, 0.0];
        let (points, cpoints) = (Points::from_rows(&x, 2).unwrap(), Points::from_rows(&centers, 2).unwrap());
        let mut out = [0f32; 6];
        Data::from(points).distances(cpoints, &mut out);
        assert_eq!(out, [5.0, 0.0, 0.0, 5.0, 20f32.sqrt(), 1.0]);
        let (indptr, indices, values) = ([0i64, 0, 2, 3], [0i32, 1, 0], [3.0f32, 4.0, 1.0]);
        let sparse = Csr::new(&indptr, &indices, &values, 2).unwrap();
        let mut from_sparse = [0f32; 6];
        Data::from(sparse).distances(cpoints, &mut from_sparse);
        assert_eq!(from_sparse, out);
    }

    /// Narrow rows (blocks of them, in parallel) and wide ones (row by row) alike: each row's
    /// squared distance to its labelled centre with the bits of [`sq_dist_f64`], float32 rows
    /// accumulated in float64.
    fn distances_to_labels_are_exact<F: Scalar>() {
        let (n, k) = (1_000, 3);
        for d in [1, 3, 7, 8, 13] {
            let x: Vec<F> = (0..n * d).map(|i| F::from_f64(((i * 7919 % 1013) as f64).sin() * 1e3 + 0.1)).collect();
            let centers: Vec<F> = (0..k * d).map(|i| F::from_f64(((i * 104_729 % 997) as f64).cos() * 1e3)).collect();
            let (rows, cpoints) = (Points::from_rows(&x, d).unwrap(), Points::from_rows(&centers, d).unwrap());
            let labels: Vec<u32> = (0..n).map(|i| (i * 7 % k) as u32).collect();
            let mut dist2 = vec![f64::NAN; n];
            Data::from(rows).sq_dists_to_labels(cpoints, &labels, &mut dist2);
            for (i, got) in dist2.iter().enumerate() {
                let want = sq_dist_f64(rows.row(i), cpoints.row(labels[i] as usize));
                assert_eq!(got.to_bits(), want.to_bits(), "{} d = {d}, row {i}", F::NAME);
            }
        }
    }

    #[test]
    fn distances_to_labels_are_exact_in_float32_and_float64() {
        distances_to_labels_are_exact::<f32>();
        distances_to_labels_are_exact::<f64>();
    }
}
