//! The seam: what the algorithms need of their data ([`Rows`]) and of the hardware that does the
//! O(n·k·d) work ([`Backend`]). The algorithms above see nothing else; the kernels below know
//! nothing of them. [`Cpu`] is the multithreaded rayon backend; a GPU backend implements the
//! same trait beside it.
//!
//! # The contract a backend implements
//!
//! Every method gets the data as [`Data`] (dense [`Points`] or sparse [`Csr`](crate::Csr) rows)
//! and the centres as dense `k × d` [`Points`] of the same precision, with `k >= 1` and the same
//! `d`. `labels` and `dist2` have one element per row.
//!
//! * [`Backend::assign`] is the one required method. For every row `i`: `labels[i]` is the index
//!   of the nearest centre, ties to the lowest index, and `dist2[i]` is the squared Euclidean
//!   distance to it, accumulated in `f64` in [`sq_dist_f64`](crate::kernels::points::sq_dist_f64)'s
//!   order (for sparse rows, [`sq_dist_to_dense`](crate::kernels::sparse::sq_dist_to_dense)'s).
//!   The label must be the exact argmin of the kernel's scores `||c||² − 2 x·c` in the data's
//!   precision where two centres are far apart; near-ties may only go to the lower index.
//! * The other three have defaults built on `assign` and the CPU's sums, and a backend overrides
//!   them to fuse work. An override must give *exactly* the default's results (labels, `dist2`
//!   and every bit of the [`ClusterSums`]): the sums are taken relative to each row's centre,
//!   per cluster in row order (see [`crate::kernels::sums`]); a faster order must still add in
//!   that order.
//!
//! Determinism: the results must not depend on the number of threads, streams or blocks (fixed
//! block boundaries, fixed-order reductions, no order-dependent float atomics).
//!
//! A backend may return [`Error::Backend`](crate::Error::Backend) (a device failure); the
//! algorithms pass it up untouched.

pub mod cpu;
pub mod rows;

pub use cpu::Cpu;
pub use rows::{Data, Gathered, Rows};

use crate::error::Result;
use crate::kernels::bounds::Bounds;
use crate::kernels::points::Points;
use crate::kernels::scalar::Scalar;
use crate::kernels::sums::ClusterSums;

/// A place that can assign points to their nearest centres (the contract is in the module docs).
pub trait Backend: Sync {
    /// For every row `i` of `x`: `labels[i]` = the index of the nearest centre (ties go to the
    /// lowest index) and `dist2[i]` = the squared Euclidean distance to it, accumulated in `f64`.
    /// Required.
    fn assign<F: Scalar>(
        &self,
        x: Data<'_, F>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> Result<()>;

    /// [`Backend::assign`], plus the per-cluster sums of the next Lloyd M step, weighted by
    /// `weights` (one per row) when given. The default assigns, then sums on the CPU.
    fn assign_and_sum<F: Scalar>(
        &self,
        x: Data<'_, F>,
        weights: Option<&[f64]>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> Result<ClusterSums> {
        self.assign(x, centers, labels, dist2)?;
        Ok(x.sum_by_label(weights, centers, labels))
    }

    /// [`Backend::assign_and_sum`] (unweighted) of the rows `indices` of `x`, copied into `batch`
    /// where the caller keeps them: a mini-batch. `next` names the rows the caller gathers next
    /// (or is empty); a backend may start fetching them. Both lists hold valid row indices of
    /// `x`; `labels` and `dist2` have `indices.len()` elements. The default gathers
    /// ([`Rows::gather_into`]), then assigns and sums the batch.
    #[allow(clippy::too_many_arguments)]
    fn gather_assign_and_sum<F: Scalar>(
        &self,
        x: Data<'_, F>,
        indices: &[usize],
        next: &[usize],
        batch: &mut Gathered<F>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> Result<ClusterSums> {
        let _ = next;
        x.gather_into(indices, batch);
        self.assign_and_sum(batch.view(), None, centers, labels, dist2)
    }

    /// [`Backend::assign_and_sum`] for the passes of one Lloyd run: `bounds` (and `labels`) come
    /// from the previous pass and let a backend skip rows that provably keep their centre
    /// ([`Bounds`]). The default resets the bounds and runs [`Backend::assign_and_sum`].
    fn assign_and_sum_bounded<F: Scalar>(
        &self,
        x: Data<'_, F>,
        weights: Option<&[f64]>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
        bounds: &mut Bounds,
    ) -> Result<ClusterSums> {
        *bounds = Bounds::new();
        self.assign_and_sum(x, weights, centers, labels, dist2)
    }
}
