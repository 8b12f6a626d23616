//! Full-batch, optionally weighted, Lloyd iterations (empty clusters: [`crate::algo::empty`]).

use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use crate::algo::empty::update_centers;
use crate::algo::init::init_centers_on;
use crate::backend::{Backend, Rows};
use crate::error::{check_stop, Error, Result};
use crate::kernels::bounds::Bounds;
use crate::kernels::metrics::{check_weights, weighted_ssd};
use crate::kernels::points::Points;
use crate::kernels::scalar::Scalar;
use crate::params::{Checked, LloydParams, ReduceParams};
use crate::rng::{Purpose, Rng};

/// The outcome of a Lloyd run.
#[derive(Clone, Debug)]
pub struct LloydFit<F> {
    /// k × d, row-major.
    pub centers: Vec<F>,
    /// The nearest centre of every row, for `centers`.
    pub labels: Vec<u32>,
    /// Σ weight · squared distance to the nearest centre (ssd), for `centers`.
    pub loss: f64,
    /// Lloyd iterations run (centre updates).
    pub n_iter: usize,
}

/// Lloyd's algorithm from the given initial centres, stopping after `max_iter` updates or once
/// the loss falls by less than `tol` × its previous value.
pub fn lloyd<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    mut centers: Vec<F>,
    params: &Checked<LloydParams>,
    backend: &B,
    stop: &AtomicBool,
) -> Result<LloydFit<F>> {
    let d = x.d();
    let mut labels = vec![0u32; x.n()];
    let mut dist2 = vec![0f64; x.n()];
    // Each pass assigns the rows to the current centres and sums them for the next M step; the
    // bounds let later passes skip rows that provably keep their centre (same results).
    let mut bounds = Bounds::new();
    let mut pass = |centers: &[F], labels: &mut [u32], dist2: &mut [f64]| {
        backend.assign_and_sum_bounded(x.data(), weights, Points::from_rows(centers, d)?, labels, dist2, &mut bounds)
    };
    let mut sums = pass(&centers, &mut labels, &mut dist2)?;
    let mut loss = weighted_ssd(&dist2, weights);
    let mut n_iter = 0;
    while n_iter < params.max_iter {
        check_stop(stop)?;
        if sums.none_empty() {
            sums.move_centers(&mut centers);
        } else {
            update_centers(x, weights, &labels, &dist2, &mut centers);
        }
        sums = pass(&centers, &mut labels, &mut dist2)?;
        let new_loss = weighted_ssd(&dist2, weights);
        n_iter += 1;
        let converged = loss - new_loss <= params.tol * loss;
        loss = new_loss;
        if converged {
            break;
        }
    }
    Ok(LloydFit { centers, labels, loss, n_iter })
}

/// Best of `num_trials` Lloyd runs, each seeded by `params.init` from its own random stream.
/// Trials run in parallel; the lowest loss wins, ties to the earliest trial.
pub fn fit_lloyd<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    params: &Checked<ReduceParams>,
    backend: &B,
    stop: &AtomicBool,
) -> Result<LloydFit<F>> {
    x.require_non_empty()?;
    if x.n() < params.k {
        return Err(Error::TooFewPoints { n_samples: x.n(), k: params.k });
    }
    check_weights(x.n(), weights)?;
    let lloyd_params = params.lloyd.check()?;
    let trials: Vec<Result<LloydFit<F>>> = (0..params.num_trials as u64)
        .into_par_iter()
        .map(|t| {
            let mut rng = Rng::new(params.seed, Purpose::Trial(t));
            let init = init_centers_on(x, weights, params.k, params.init, &mut rng, backend)?;
            lloyd(x, weights, init, &lloyd_params, backend, stop)
        })
        .collect();
    let mut best: Option<LloydFit<F>> = None;
    for trial in trials {
        let trial = trial?;
        if best.as_ref().is_none_or(|b| trial.loss < b.loss) {
            best = Some(trial);
        }
    }
    Ok(best.expect("num_trials >= 1"))
}
