//! `fit_lloyd`: the best of several Lloyd runs, each seeded by `local_lloyd_init_method`
//! ([`crate::algo::init`]): `algorithm="lloyd"` and the K → k reduction ([`crate::algo::reduce`]).
//! Runs under the loss rule over few points of many features, seeded by k-means++ from its table
//! of their pairwise distances, go through that table ([`crate::algo::tabled_lloyd`]).

use std::sync::atomic::AtomicBool;

use crate::algo::init::init_centers_on;
use crate::algo::kmeanspp::Repeated;
use crate::algo::lloyd::{by_loss, lloyd, lowest, runs, runs_by, LloydFit, Trials};
use crate::algo::tabled_lloyd::{self, lloyd_tabled};
use crate::backend::{Backend, Rows};
use crate::error::Result;
use crate::kernels::metrics::check_weights;
use crate::kernels::scalar::Scalar;
use crate::params::{Checked, InitMethod, ReduceParams, StopRule};
use crate::rng::Rng;

/// Best of `num_trials` Lloyd runs, each seeded by `params.init` from its own random stream.
/// Trials run in parallel; the lowest loss wins, ties to the earliest trial.
pub fn fit_lloyd<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    params: &Checked<ReduceParams>,
    backend: &B,
    stop: &AtomicBool,
) -> Result<LloydFit<F>> {
    Ok(lowest(fit_lloyd_trials(x, weights, params, Trials::All, backend, stop)?))
}

/// The trials of [`fit_lloyd`] that `trials` runs, lowest loss first (trials of equal loss in trial
/// order).
pub fn fit_lloyd_trials<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    params: &Checked<ReduceParams>,
    trials: Trials,
    backend: &B,
    stop: &AtomicBool,
) -> Result<Vec<LloydFit<F>>> {
    x.require_rows_for(params.k)?;
    check_weights(x.n(), weights)?;
    let lloyd_params = params.lloyd.check()?;
    // k-means++ seeds every run from the same rows: prepared once for all of them.
    let plus_plus = match params.init {
        InitMethod::KMeansPlusPlus { local_trials } => {
            Some(Repeated::new(x, weights, params.k, local_trials.max(1), params.num_trials))
        }
        _ => None,
    };
    // Under the loss rule, runs over few float64 points of many features go through the table of
    // their pairwise distances that the seeding built ([`crate::algo::tabled_lloyd`]; float32
    // points have it in float32, too coarse for Lloyd's loss). On the CPU, as the table is.
    let float64 = F::as_f64(&[]).is_some();
    let tabled = plus_plus
        .as_ref()
        .filter(|_| float64 && lloyd_params.rule == StopRule::Loss && tabled_lloyd::pays(x.n(), params.k, x.d()))
        .and_then(|seeds| Some((seeds, seeds.table()?)));
    if let Some((seeds, table)) = tabled {
        let fits = runs_by(params.num_trials, trials, params.seed, stop, |rng| {
            let rows = seeds.choose(rng);
            match lloyd_tabled(x, weights, table, &rows, &lloyd_params, stop)? {
                Some(fit) => Ok(fit),
                None => lloyd(x, weights, x.dense_rows(&rows), &lloyd_params, backend, stop),
            }
        })?;
        return Ok(by_loss(fits));
    }
    let seeding = |rng: &mut Rng| match &plus_plus {
        Some(seeds) => Ok(x.dense_rows(&seeds.choose_on(rng, backend)?)),
        None => init_centers_on(x, weights, params.k, params.init, rng, backend),
    };
    let fits = runs(x, weights, params.num_trials, trials, params.seed, &lloyd_params, backend, stop, seeding)?;
    Ok(by_loss(fits))
}
