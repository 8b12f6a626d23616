//! Shrinking the K streaming centres to the final k: weighted Lloyd, best of several trials.

use std::sync::atomic::AtomicBool;

use crate::algo::lloyd::fit_lloyd;
use crate::backend::Backend;
use crate::error::Result;
use crate::kernels::metrics::{msd, total_weight};
use crate::kernels::points::Points;
use crate::kernels::scalar::Scalar;
use crate::params::{Checked, ReduceParams};

/// The final k centres and the reduction's loss.
#[derive(Clone, Debug)]
pub struct Reduced<F> {
    /// k × d, row-major.
    pub centers: Vec<F>,
    /// Σ count · squared distance from each streaming centre to its final centre.
    pub ssd: f64,
    /// `ssd` over the total count: what SageMaker logs as the trial's "mean square distance".
    pub msd: f64,
    /// Lloyd iterations of the winning trial.
    pub n_iter: usize,
}

/// Weighted Lloyd over the streaming `centers` (weights = their `counts`), seeded by
/// `params.init`, `params.num_trials` times; the lowest loss wins. When K equals k there is
/// nothing to shrink and the centres are returned unchanged.
pub fn reduce<F: Scalar, B: Backend>(
    centers: Points<'_, F>,
    counts: &[f64],
    params: &Checked<ReduceParams>,
    backend: &B,
    stop: &AtomicBool,
) -> Result<Reduced<F>> {
    let total = total_weight(centers.n(), Some(counts));
    if centers.n() == params.k {
        return Ok(Reduced { centers: centers.as_slice().to_vec(), ssd: 0.0, msd: 0.0, n_iter: 0 });
    }
    let fit = fit_lloyd(centers, Some(counts), params, backend, stop)?;
    Ok(Reduced { centers: fit.centers, ssd: fit.loss, msd: msd(fit.loss, total), n_iter: fit.n_iter })
}
