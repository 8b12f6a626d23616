//! The multithreaded CPU backend: every method of [`Backend`] overridden by the kernels'
//! fused passes.

use crate::backend::contract::Backend;
use crate::backend::rows::{Data, Gathered, Rows};
use crate::error::Result;
use crate::kernels::bounds::{self, Bounds};
use crate::kernels::incremental::{self, RunSums};
use crate::kernels::points::Points;
use crate::kernels::scalar::Scalar;
use crate::kernels::sums::ClusterSums;
use crate::kernels::{distance, fused, sparse};

/// The multithreaded CPU backend: SIMD microkernels (or blocked GEMM tiles) with a fused argmin,
/// on the current rayon pool (install a pool of n threads around the call to choose the thread
/// count).
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu;

impl Backend for Cpu {
    fn assign<F: Scalar>(
        &self,
        x: Data<'_, F>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> Result<()> {
        match x {
            Data::Dense(x) => distance::assign(x, centers, labels, dist2),
            Data::Sparse(x) => sparse::assign(x, centers, labels, dist2),
        }
        Ok(())
    }

    /// One read of `x`: each block of rows is summed right after it is assigned.
    fn assign_and_sum<F: Scalar>(
        &self,
        x: Data<'_, F>,
        weights: Option<&[f64]>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> Result<ClusterSums> {
        Ok(match x {
            Data::Dense(x) => fused::assign_and_sum(x, weights, centers, labels, dist2),
            Data::Sparse(x) => sparse::assign_and_sum(x, weights, centers, labels, dist2),
        })
    }

    /// Dense rows in one pass: each block of rows is copied, assigned and summed by one task,
    /// which fetches the rows it copies next (of this batch, then of `next`) while it scans.
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
        match x {
            Data::Dense(x) => {
                let rows = batch.dense(x.d());
                Ok(fused::gather_assign_and_sum(x, indices, next, rows, centers, labels, dist2))
            }
            Data::Sparse(_) => {
                x.gather_into(indices, batch);
                self.assign_and_sum(batch.view(), None, centers, labels, dist2)
            }
        }
    }

    /// Dense rows skip what Hamerly's bounds prove unchanged; sparse rows are scanned whole.
    fn assign_and_sum_bounded<F: Scalar>(
        &self,
        x: Data<'_, F>,
        weights: Option<&[f64]>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
        bounds: &mut Bounds,
    ) -> Result<ClusterSums> {
        match x {
            Data::Dense(x) => Ok(bounds::assign_and_sum_bounded(x, weights, centers, labels, dist2, bounds)),
            Data::Sparse(_) => {
                *bounds = Bounds::new();
                self.assign_and_sum(x, weights, centers, labels, dist2)
            }
        }
    }

    /// Dense rows: the incremental pass (only the rows that change centre are summed, and rows
    /// the bounds clear are not read); sparse rows are summed afresh.
    fn assign_and_update<F: Scalar>(
        &self,
        x: Data<'_, F>,
        weights: Option<&[f64]>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
        run: &mut RunSums,
    ) -> Result<bool> {
        match x {
            Data::Dense(x) => Ok(incremental::assign_and_update(x, weights, centers, labels, dist2, run)),
            Data::Sparse(_) => {
                run.set(self.assign_and_sum(x, weights, centers, labels, dist2)?, centers);
                Ok(true)
            }
        }
    }
}
