//! The loss of data against given centres: SageMaker's ssd and msd (its `test:ssd` / `test:msd`).

use crate::backend::{Backend, Rows};
use crate::error::Result;
use crate::kernels::metrics::{check_weights, msd, total_weight, weighted_ssd};
use crate::kernels::points::Points;
use crate::kernels::scalar::Scalar;

/// The sum and mean of the (weighted) squared distances of rows to their closest centres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Loss {
    /// Σ w · ||x − closest centre||².
    pub ssd: f64,
    /// ssd / Σ w (0 for no weight).
    pub msd: f64,
    /// Σ w (the number of rows when unweighted).
    pub total_weight: f64,
}

/// The [`Loss`] of `x` against `centers`, through `backend`'s assignment.
pub fn loss<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    centers: Points<'_, F>,
    backend: &B,
) -> Result<Loss> {
    x.require_d(centers.d())?;
    check_weights(x.n(), weights)?;
    let mut labels = vec![0u32; x.n()];
    let mut dist2 = vec![0f64; x.n()];
    backend.assign(x.data(), centers, &mut labels, &mut dist2)?;
    let ssd = weighted_ssd(&dist2, weights);
    let total = total_weight(x.n(), weights);
    Ok(Loss { ssd, msd: msd(ssd, total), total_weight: total })
}
