//! The backend seam: where nearest-centre assignment (the O(n·k·d) part of every algorithm)
//! runs. The algorithms are generic over [`Backend`]; [`Cpu`] is the rayon implementation and a
//! GPU backend plugs in beside it without touching them.

use crate::distance;
use crate::error::Result;
use crate::points::Points;
use crate::scalar::Scalar;
use crate::sparse::{self, Csr};
use crate::sums::{self, Bounds, ClusterSums};

/// A place that can assign points to their nearest centres.
pub trait Backend: Sync {
    /// For every row `i` of `x`: `labels[i]` = the index of the nearest centre (ties go to the
    /// lowest index) and `dist2[i]` = the squared Euclidean distance to it, accumulated in `f64`.
    ///
    /// `labels` and `dist2` have `x.n()` elements; `x` and `centers` share `d`; `centers.n() >= 1`.
    fn assign<F: Scalar>(
        &self,
        x: Points<'_, F>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> Result<()>;

    /// [`Backend::assign`], plus the per-cluster sums of the next Lloyd M step (see
    /// [`crate::sums`]). The default assigns, then sums; a backend may fuse the two.
    fn assign_and_sum<F: Scalar>(
        &self,
        x: Points<'_, F>,
        weights: Option<&[f64]>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> Result<ClusterSums> {
        self.assign(x, centers, labels, dist2)?;
        Ok(sums::sum_by_label(x, weights, centers, labels))
    }

    /// [`Backend::assign_and_sum`] (unweighted) of the rows `indices` of `x`, copied into `batch`
    /// (cleared first; `indices.len()` × d values after), where the caller keeps them: a
    /// mini-batch. The results must equal gathering the rows, then [`Backend::assign_and_sum`] on
    /// them, exactly. `next` names the rows the caller will gather next (or is empty); a backend
    /// may start fetching them. Both lists hold valid row indices of `x`; `labels` and `dist2`
    /// have `indices.len()` elements. The default gathers, then assigns and sums.
    #[allow(clippy::too_many_arguments)]
    fn gather_assign_and_sum<F: Scalar>(
        &self,
        x: Points<'_, F>,
        indices: &[usize],
        next: &[usize],
        batch: &mut Vec<F>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> Result<ClusterSums> {
        let _ = next;
        crate::points::gather_into(x, indices, batch);
        self.assign_and_sum(Points::new(batch, indices.len(), x.d())?, None, centers, labels, dist2)
    }

    /// [`Backend::assign_and_sum`] for the passes of one Lloyd run: `bounds` (and `labels`) come
    /// from the previous pass and let a backend skip rows that provably keep their centre
    /// ([`crate::sums::Bounds`]). The results must equal [`Backend::assign_and_sum`]'s exactly.
    /// The default ignores the bounds.
    fn assign_and_sum_bounded<F: Scalar>(
        &self,
        x: Points<'_, F>,
        weights: Option<&[f64]>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
        bounds: &mut Bounds,
    ) -> Result<ClusterSums> {
        *bounds = Bounds::new();
        self.assign_and_sum(x, weights, centers, labels, dist2)
    }

    /// [`Backend::assign`] for sparse rows. The default is the CPU's sparse × dense kernel
    /// ([`crate::sparse`]); a backend may run its own.
    fn assign_sparse<F: Scalar>(
        &self,
        x: Csr<'_, F>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> Result<()> {
        sparse::assign(x, centers, labels, dist2);
        Ok(())
    }

    /// [`Backend::assign_and_sum`] for sparse rows (the default: the CPU's, as above).
    fn assign_and_sum_sparse<F: Scalar>(
        &self,
        x: Csr<'_, F>,
        weights: Option<&[f64]>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> Result<ClusterSums> {
        Ok(sparse::assign_and_sum(x, weights, centers, labels, dist2))
    }
}

/// The multithreaded CPU backend: blocked GEMM tiles with a fused argmin, on the current rayon
/// pool (install a pool of n threads around the call to choose the thread count).
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu;

impl Backend for Cpu {
    fn assign<F: Scalar>(
        &self,
        x: Points<'_, F>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> Result<()> {
        distance::assign(x, centers, labels, dist2);
        Ok(())
    }

    /// One read of `x`: each block of rows is summed right after it is assigned.
    fn assign_and_sum<F: Scalar>(
        &self,
        x: Points<'_, F>,
        weights: Option<&[f64]>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> Result<ClusterSums> {
        Ok(sums::assign_and_sum(x, weights, centers, labels, dist2))
    }

    /// One pass: each block of rows is copied, assigned and summed by one task, which fetches
    /// the rows it copies next (of this batch, then of `next`) while it scans.
    fn gather_assign_and_sum<F: Scalar>(
        &self,
        x: Points<'_, F>,
        indices: &[usize],
        next: &[usize],
        batch: &mut Vec<F>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> Result<ClusterSums> {
        Ok(sums::gather_assign_and_sum(x, indices, next, batch, centers, labels, dist2))
    }

    fn assign_and_sum_bounded<F: Scalar>(
        &self,
        x: Points<'_, F>,
        weights: Option<&[f64]>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
        bounds: &mut Bounds,
    ) -> Result<ClusterSums> {
        Ok(sums::assign_and_sum_bounded(x, weights, centers, labels, dist2, bounds))
    }
}
