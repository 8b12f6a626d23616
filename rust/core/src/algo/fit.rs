//! `fit_lloyd`: the best of several Lloyd runs, each seeded by `local_lloyd_init_method`
//! ([`crate::algo::init`]): `algorithm="lloyd"` and the K → k reduction ([`crate::algo::reduce`]).

use std::sync::atomic::AtomicBool;

use crate::algo::init::init_centers_on;
use crate::algo::lloyd::{best_of_runs, LloydFit};
use crate::backend::{Backend, Rows};
use crate::error::{Error, Result};
use crate::kernels::metrics::check_weights;
use crate::kernels::scalar::Scalar;
use crate::params::{Checked, ReduceParams};

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
    best_of_runs(x, weights, params.num_trials, params.seed, &lloyd_params, backend, stop, |rng| {
        init_centers_on(x, weights, params.k, params.init, rng, backend)
    })
}
