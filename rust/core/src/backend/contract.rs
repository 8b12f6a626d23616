//! The [`Backend`] trait: the contract the module docs of [`crate::backend`] describe.

use std::sync::atomic::AtomicBool;

use crate::backend::rows::{Data, Gathered, Rows};
use crate::error::Result;
use crate::kernels::bounds::Bounds;
use crate::kernels::incremental::RunSums;
use crate::kernels::metrics::{dispersion, Dispersion};
use crate::kernels::points::Points;
use crate::kernels::scalar::Scalar;
use crate::kernels::silhouette::silhouette_samples;
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

    /// The Euclidean distance from every row of `x` to every centre (scikit-learn's `transform`),
    /// row-major: `out[i·k + j]`, `out.len() = n·k`, in the data's precision. Each value is within
    /// the rounding of the backend's scores of the exact distance, and exact (rounded once to the
    /// data's precision) where those scores could have lost the small distances near a centre.
    /// The default computes every distance exactly on the CPU ([`Data::distances`]).
    fn distances<F: Scalar>(&self, x: Data<'_, F>, centers: Points<'_, F>, out: &mut [F]) -> Result<()> {
        x.distances(centers, out);
        Ok(())
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

    /// A pass of a Lloyd run that keeps its sums from pass to pass: `labels` become the labels
    /// for `centers` and `run` holds the sums of the next M step ([`RunSums`]). `labels` must
    /// hold the previous pass's labels when `run` comes from that pass. Returns whether `dist2`
    /// holds every row's exact squared distance to its centre; a backend may leave it as it was
    /// (the incremental pass, [`crate::kernels::incremental`]). The default sums afresh every
    /// pass ([`Backend::assign_and_sum`]).
    fn assign_and_update<F: Scalar>(
        &self,
        x: Data<'_, F>,
        weights: Option<&[f64]>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
        run: &mut RunSums,
    ) -> Result<bool> {
        run.set(self.assign_and_sum(x, weights, centers, labels, dist2)?, centers);
        Ok(true)
    }

    /// The exact silhouette of the rows `rows` of `x` (every row when `None`), labelled `labels`
    /// (each in `0..k`), against every row, as [`silhouette_samples`] defines it: each value
    /// within about 1e-12 of the exact one. The default computes on the CPU.
    fn silhouette_samples<F: Scalar>(
        &self,
        x: Data<'_, F>,
        labels: &[u32],
        k: usize,
        rows: Option<&[usize]>,
        stop: &AtomicBool,
    ) -> Result<Vec<f64>> {
        match x {
            Data::Dense(points) => silhouette_samples(points, labels, k, rows, stop),
            Data::Sparse(csr) => silhouette_samples(csr, labels, k, rows, stop),
        }
    }

    /// The per-cluster statistics behind the Calinski–Harabasz and Davies–Bouldin indices of the
    /// dense rows `x` labelled `labels` (each in `0..k`), as [`dispersion`] defines them. The
    /// default computes on the CPU.
    fn dispersion<F: Scalar>(&self, x: Points<'_, F>, labels: &[u32], k: usize) -> Result<Dispersion> {
        dispersion(x, labels, k)
    }

    /// The passes of one k-means++ run over `x` ([`crate::algo::kmeanspp`]) on this backend's
    /// device ([`SeedingSteps`]), or `None` where the run measures on the CPU: the default, and
    /// rows the device does not take.
    fn seeding_steps<'a, F: Scalar>(
        &'a self,
        x: Data<'a, F>,
        weights: Option<&'a [f64]>,
    ) -> Result<Option<Box<dyn SeedingSteps + 'a>>> {
        let _ = (x, weights);
        Ok(None)
    }
}

/// The passes over the rows of one k-means++ run, held on a device: every row's squared distance
/// to its closest centre so far (`d2`) stays there, and each step returns what the host needs to
/// draw the next candidates and to choose among them. Each result has the bits of the CPU's run
/// ([`crate::algo::kmeanspp`], measuring every row): distances with the bits of
/// [`sq_dist_in`](crate::kernels::points::sq_dist_in) in the data's precision; rows in blocks of
/// [`ROW_BLOCK`](crate::kernels::parallel::ROW_BLOCK); a block's potential Σ w·d2 summed as the
/// CPU sums it (four lanes, then the tail); a candidate's gain Σ w·(d2 − ‖x − c‖²) over the rows
/// it moves strictly closer, added in row order within a block and in block order across blocks.
pub trait SeedingSteps {
    /// Row `row` is the first centre: every row measured against it. Returns each block's
    /// potential.
    fn first(&mut self, row: usize) -> Result<Vec<f64>>;
    /// Each candidate row's gain (at least two candidates).
    fn score(&mut self, candidates: &[usize]) -> Result<Vec<f64>>;
    /// Candidate `pick` of the last [`SeedingSteps::score`] is the next centre: the rows it moves
    /// strictly closer move to it. Returns each block's potential.
    fn add(&mut self, pick: usize) -> Result<Vec<f64>>;
    /// Row `row` is the next centre, unscored (plain k-means++): the rows it moves strictly closer
    /// move to it. Returns each block's potential.
    fn advance(&mut self, row: usize) -> Result<Vec<f64>>;
    /// The `d2` of block `b`'s rows, to draw a row within it.
    fn block(&mut self, b: usize) -> Result<Vec<f64>>;
}
