//! Shrinking weighted centres to the final k: weighted Lloyd, best of several trials. One
//! mini-batch state's K centres ([`reduce`]), or the weighted centres of any number of shards
//! ([`reduce_shards`]: SageMaker's multi-instance merge, and the distributed drivers'). The
//! `_trials` forms return every trial, best first, for a caller that judges them by the data
//! itself ([`crate::algo::choose`]).

use std::sync::atomic::AtomicBool;

use crate::algo::fit::fit_lloyd_trials;
use crate::algo::lloyd::{lowest, Trials};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::kernels::metrics::{check_weights, msd, total_weight};
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
    Ok(lowest(reduce_trials(centers, counts, params, Trials::All, backend, stop)?))
}

/// The trials of [`reduce`] that `trials` runs, lowest loss first (trials of equal loss in trial
/// order); one when K equals k.
pub fn reduce_trials<F: Scalar, B: Backend>(
    centers: Points<'_, F>,
    counts: &[f64],
    params: &Checked<ReduceParams>,
    trials: Trials,
    backend: &B,
    stop: &AtomicBool,
) -> Result<Vec<Reduced<F>>> {
    let total = total_weight(centers.n(), Some(counts));
    if centers.n() == params.k {
        return Ok(vec![Reduced { centers: centers.as_slice().to_vec(), ssd: 0.0, msd: 0.0, n_iter: 0 }]);
    }
    let fits = fit_lloyd_trials(centers, Some(counts), params, trials, backend, stop)?;
    Ok(fits
        .into_iter()
        .map(|fit| Reduced { centers: fit.centers, ssd: fit.loss, msd: msd(fit.loss, total), n_iter: fit.n_iter })
        .collect())
}

/// Weighted centres from one shard of the data: a mini-batch state's K centres with their
/// counts, its far points with theirs, or any weighted points.
#[derive(Clone, Copy, Debug)]
pub struct Shard<'a, F> {
    pub centers: Points<'a, F>,
    /// One finite, non-negative weight per centre.
    pub weights: &'a [f64],
}

/// [`reduce`] over the weighted centres of every shard together, taken in shard order: the
/// merge of centres trained apart (by SageMaker's instances, or Dask's partitions). Empty shards
/// are skipped; one non-empty shard is reduced in place, without a copy.
pub fn reduce_shards<F: Scalar, B: Backend>(
    shards: &[Shard<'_, F>],
    params: &Checked<ReduceParams>,
    backend: &B,
    stop: &AtomicBool,
) -> Result<Reduced<F>> {
    Ok(lowest(reduce_shards_trials(shards, params, Trials::All, backend, stop)?))
}

/// The trials of [`reduce_shards`] that `trials` runs, lowest loss first ([`reduce_trials`]).
pub fn reduce_shards_trials<F: Scalar, B: Backend>(
    shards: &[Shard<'_, F>],
    params: &Checked<ReduceParams>,
    trials: Trials,
    backend: &B,
    stop: &AtomicBool,
) -> Result<Vec<Reduced<F>>> {
    let Some(first) = shards.first() else { return Err(Error::Empty { rows: 0, cols: 0 }) };
    let d = first.centers.d();
    for (i, shard) in shards.iter().enumerate() {
        shard.centers.require_same_d(&first.centers)?;
        shard.centers.require_finite("the shards' centres")?;
        check_weights(shard.centers.n(), Some(shard.weights)).map_err(|e| match e {
            Error::BadWeights(what) => Error::BadWeights(format!("shard {i}: {what}")),
            other => other,
        })?;
    }
    let filled: Vec<&Shard<'_, F>> = shards.iter().filter(|s| s.centers.n() > 0).collect();
    match filled[..] {
        [] => Err(Error::Empty { rows: 0, cols: d }),
        [one] => reduce_trials(one.centers, one.weights, params, trials, backend, stop),
        _ => {
            let centers: Vec<F> = filled.iter().flat_map(|s| s.centers.as_slice()).copied().collect();
            let weights: Vec<f64> = filled.iter().flat_map(|s| s.weights).copied().collect();
            reduce_trials(Points::from_rows(&centers, d)?, &weights, params, trials, backend, stop)
        }
    }
}
