//! Full-batch, optionally weighted, Lloyd iterations (empty clusters: [`crate::algo::empty`]).

use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use crate::algo::empty::update_centers;
use crate::backend::{Backend, Data, Rows};
use crate::error::{check_stop, Result};
use crate::kernels::bounds::Bounds;
use crate::kernels::incremental::RunSums;
use crate::kernels::metrics::{total_weight, weighted_ssd};
use crate::kernels::points::{sq_diff, Points};
use crate::kernels::scalar::Scalar;
use crate::kernels::scatter::scatter;
use crate::params::{Checked, LloydParams, StopRule};
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

/// Lloyd's algorithm from the given initial centres, stopping after `max_iter` updates or earlier
/// by `params.rule` ([`StopRule`]): once the loss falls by less than `tol` × its previous value,
/// or once the centres' total squared move is at most `tol` × the mean per-feature variance of
/// the data (or no row changes its centre). Under the centre-shift rule the passes keep their
/// sums from one to the next ([`Backend::assign_and_update`]); under the loss rule, which needs
/// every pass's loss, each pass sums afresh.
pub fn lloyd<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    centers: Vec<F>,
    params: &Checked<LloydParams>,
    backend: &B,
    stop: &AtomicBool,
) -> Result<LloydFit<F>> {
    let shift_tol = shift_tolerance(x, weights, params, backend)?;
    lloyd_within(x, weights, centers, params, shift_tol, backend, stop)
}

/// The centre-shift rule's bound on the centres' total squared move (`None` under the loss rule):
/// a property of the data alone, so [`best_of_runs`] computes it once for all its runs (and
/// [`crate::algo::choose::refine_each`] for all its refines).
pub(crate) fn shift_tolerance<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    params: &LloydParams,
    backend: &B,
) -> Result<Option<f64>> {
    Ok(match params.rule {
        StopRule::Loss => None,
        StopRule::CenterShift => Some(params.tol * mean_variance(x, weights, backend)?),
    })
}

/// [`lloyd`] with the centre-shift bound from [`shift_tolerance`] already computed.
pub(crate) fn lloyd_within<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    mut centers: Vec<F>,
    params: &LloydParams,
    shift_tol: Option<f64>,
    backend: &B,
    stop: &AtomicBool,
) -> Result<LloydFit<F>> {
    if let Some(shift_tol) = shift_tol {
        return lloyd_incremental(x, weights, centers, params.max_iter, shift_tol, backend, stop);
    }
    let d = x.d();
    let mut labels = vec![0u32; x.n()];
    let mut dist2 = vec![0f64; x.n()];
    // Each pass assigns the rows to the current centres and sums them for the next M step; the
    // bounds let later passes skip rows that provably keep their centre (same results).
    let mut bounds = Bounds::new();
    let mut pass = |centers: &[F], labels: &mut [u32], dist2: &mut [f64]| {
        backend.assign_and_sum_bounded(x.data(), weights, Points::from_rows(centers, d)?, labels, dist2, &mut bounds)
    };
    // The labels before the last pass (the centre-shift rule stops when a pass changes none).
    let mut previous = if shift_tol.is_some() { vec![0u32; x.n()] } else { Vec::new() };
    let mut sums = pass(&centers, &mut labels, &mut dist2)?;
    let mut loss = weighted_ssd(&dist2, weights);
    let mut n_iter = 0;
    while n_iter < params.max_iter {
        check_stop(stop)?;
        let before = shift_tol.map(|_| to_f64(&centers));
        if sums.none_empty() {
            sums.move_centers(&mut centers);
        } else {
            update_centers(x, weights, &labels, &dist2, &mut centers);
        }
        if shift_tol.is_some() {
            previous.copy_from_slice(&labels);
        }
        sums = pass(&centers, &mut labels, &mut dist2)?;
        let new_loss = weighted_ssd(&dist2, weights);
        n_iter += 1;
        let converged = match (shift_tol, before) {
            (Some(shift_tol), Some(before)) => {
                sq_diff(&before, &to_f64(&centers)) <= shift_tol || labels_equal(&previous, &labels)
            }
            _ => loss - new_loss <= params.tol * loss,
        };
        loss = new_loss;
        if converged {
            break;
        }
    }
    Ok(LloydFit { centers, labels, loss, n_iter })
}

/// [`lloyd_within`] under the centre-shift rule, which needs no loss between passes: the passes
/// keep their sums from one to the next ([`Backend::assign_and_update`]), so a late pass costs
/// the few rows that change centre (and, with bounds, the rows it reads), and the distances are
/// computed once, for the final labels (and for an empty cluster's M step).
fn lloyd_incremental<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    mut centers: Vec<F>,
    max_iter: usize,
    shift_tol: f64,
    backend: &B,
    stop: &AtomicBool,
) -> Result<LloydFit<F>> {
    let d = x.d();
    let (mut labels, mut dist2, mut previous) = (vec![0u32; x.n()], vec![0f64; x.n()], vec![0u32; x.n()]);
    let mut run = RunSums::new();
    // The run is expected to go on: its first pass sets the bounds, so that its second is bounded
    // (every run makes two passes or more). Measured against bounds from the second pass (where
    // the first move exceeds the tolerance; whole default fits, one process, taking turns, with
    // scikit-learn's fit before each pair, the same losses on every fit): digits 0.94-0.96 of the
    // time (its refine's second pass 42 µs instead of 155, its first 174 instead of 141), breast
    // cancer 0.95, wine 0.96-0.97, dim032, dim064, s1, a3, diabetes, digits at k = 30, MNIST
    // (float64 and float32) and birch1 within ±2% (paired medians 0.96-1.00).
    run.bound_from_next_pass();
    let pass = |centers: &[F], labels: &mut [u32], dist2: &mut [f64], run: &mut RunSums| {
        backend.assign_and_update(x.data(), weights, Points::from_rows(centers, d)?, labels, dist2, run)
    };
    let mut exact = pass(&centers, &mut labels, &mut dist2, &mut run)?;
    let mut n_iter = 0;
    while n_iter < max_iter {
        check_stop(stop)?;
        let before = to_f64(&centers);
        if run.none_empty() {
            run.move_centers(&mut centers);
        } else {
            if !exact {
                x.data().sq_dists_to_labels(Points::from_rows(&centers, d)?, &labels, &mut dist2);
            }
            update_centers(x, weights, &labels, &dist2, &mut centers);
            // The rows moved to empty clusters: the next pass sums afresh.
            run = RunSums::new();
        }
        let shift = sq_diff(&before, &to_f64(&centers));
        if shift > shift_tol {
            // After a move beyond the tolerance, the run stops after the next pass only where
            // that pass changes no label: most runs go on, and earn the bounds back. (The run
            // set them in its first pass; this sets them again only on sums started afresh
            // after an empty cluster took a row.)
            run.bound_from_next_pass();
        }
        previous.copy_from_slice(&labels);
        exact = pass(&centers, &mut labels, &mut dist2, &mut run)?;
        n_iter += 1;
        if shift <= shift_tol || labels_equal(&previous, &labels) {
            break;
        }
    }
    if !exact {
        x.data().sq_dists_to_labels(Points::from_rows(&centers, d)?, &labels, &mut dist2);
    }
    let loss = weighted_ssd(&dist2, weights);
    Ok(LloydFit { centers, labels, loss, n_iter })
}

/// The mean over the features of their (weighted) variance: the weighted ssd of the rows against
/// their weighted mean, over the total weight and the number of features (0 without weight).
/// Dense rows are read once ([`scatter`]); sparse rows are averaged, then measured against the
/// mean by the backend.
fn mean_variance<F: Scalar, R: Rows<F>, B: Backend>(x: R, weights: Option<&[f64]>, backend: &B) -> Result<f64> {
    let (total, ssd) = match x.data() {
        Data::Dense(points) => {
            let s = scatter(points, weights);
            (s.weight, s.scatter)
        }
        Data::Sparse(_) => {
            let mut mean = vec![F::ZERO; x.d()];
            x.move_to_means(weights, &vec![0u32; x.n()], &mut mean);
            let (mut labels, mut dist2) = (vec![0u32; x.n()], vec![0f64; x.n()]);
            backend.assign(x.data(), Points::from_rows(&mean, x.d())?, &mut labels, &mut dist2)?;
            (total_weight(x.n(), weights), weighted_ssd(&dist2, weights))
        }
    };
    Ok(mean_variance_of(total, ssd, x.d()))
}

/// The mean over `d` features of the variance of rows of total weight `total` whose (weighted)
/// ssd against their mean is `ssd` ([`mean_variance`]; 0 without weight).
pub(crate) fn mean_variance_of(total: f64, ssd: f64, d: usize) -> f64 {
    if total > 0.0 {
        ssd / (total * d as f64)
    } else {
        0.0
    }
}

fn to_f64<F: Scalar>(values: &[F]) -> Vec<f64> {
    values.iter().map(|v| v.to_f64()).collect()
}

/// Whether two label vectors are equal, compared in parallel blocks.
fn labels_equal(a: &[u32], b: &[u32]) -> bool {
    const BLOCK: usize = 1 << 16;
    a.par_chunks(BLOCK).zip(b.par_chunks(BLOCK)).all(|(u, v)| u == v)
}

/// How many of [`runs`]' trials run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trials {
    /// All of them.
    All,
    /// The first [`FIRST_ROUND`], then the rest unless [`AGREEING`] of the first have the lowest
    /// loss among them, to [`SAME_LOSS`]: on well-separated data most runs find the same solution,
    /// and more runs would find it again. Each run is the run of the same number under `All`, so
    /// the runs are the first ones of `All`'s (all of them, or the first [`FIRST_ROUND`]).
    UntilAgreed,
}

/// How many runs [`Trials::UntilAgreed`] runs before it looks for agreement: a fixed number, so
/// that which runs run never depends on the number of threads; the rest then run side by side, so
/// that on many threads the reduction takes at most two runs' time where [`Trials::All`] takes one.
pub const FIRST_ROUND: usize = 4;

/// [`Trials::UntilAgreed`] stops once this many runs agree on the lowest loss (at most
/// [`FIRST_ROUND`]).
pub const AGREEING: usize = 3;

const _: () = assert!(AGREEING <= FIRST_ROUND);

/// Two runs whose losses differ by at most this fraction are taken for the same solution (their
/// losses then differ only in the order of their sums).
pub const SAME_LOSS: f64 = 1e-9;

/// Whether `b` is `a`'s loss again, to [`SAME_LOSS`].
pub fn same_loss(a: f64, b: f64) -> bool {
    (a - b).abs() <= SAME_LOSS * a.abs()
}

/// `num_trials` Lloyd runs (or, by `trials`, the first of them), each from the centres `seeding`
/// draws from the run's own random stream (`Rng::new(seed, Purpose::Trial(t))`), in trial order.
/// Runs go in parallel; the centre-shift rule's tolerance is computed once for all runs.
#[allow(clippy::too_many_arguments)]
pub fn runs<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    num_trials: usize,
    trials: Trials,
    seed: u64,
    params: &Checked<LloydParams>,
    backend: &B,
    stop: &AtomicBool,
    seeding: impl Fn(&mut Rng) -> Result<Vec<F>> + Sync,
) -> Result<Vec<LloydFit<F>>> {
    let shift_tol = shift_tolerance(x, weights, params, backend)?;
    runs_by(num_trials, trials, seed, stop, |rng| {
        let init = seeding(rng)?;
        lloyd_within(x, weights, init, params, shift_tol, backend, stop)
    })
}

/// [`runs`] of any run: `run` draws from the run's own random stream
/// (`Rng::new(seed, Purpose::Trial(t))`); the runs go in parallel, `trials` says which run.
pub(crate) fn runs_by<F: Send>(
    num_trials: usize,
    trials: Trials,
    seed: u64,
    stop: &AtomicBool,
    run_one: impl Fn(&mut Rng) -> Result<LloydFit<F>> + Sync,
) -> Result<Vec<LloydFit<F>>> {
    let num_trials = num_trials.max(1);
    let run = |numbers: std::ops::Range<u64>| -> Result<Vec<LloydFit<F>>> {
        numbers.into_par_iter().map(|t| run_one(&mut Rng::new(seed, Purpose::Trial(t)))).collect()
    };
    let first = match trials {
        Trials::All => num_trials,
        Trials::UntilAgreed => FIRST_ROUND.min(num_trials),
    };
    let mut done = run(0..first as u64)?;
    if first < num_trials && !agreed(&done) {
        check_stop(stop)?;
        done.extend(run(first as u64..num_trials as u64)?);
    }
    Ok(done)
}

/// Whether [`AGREEING`] runs have the lowest loss, to [`SAME_LOSS`].
fn agreed<F>(runs: &[LloydFit<F>]) -> bool {
    let Some(lowest) = runs.iter().map(|r| r.loss).min_by(|a, b| loss_order(*a, *b)) else { return false };
    lowest.is_finite() && runs.iter().filter(|r| same_loss(lowest, r.loss)).count() >= AGREEING
}

/// The runs in order of loss, lowest first; runs of equal loss keep their order, and NaN losses
/// come last.
pub fn by_loss<F>(mut runs: Vec<LloydFit<F>>) -> Vec<LloydFit<F>> {
    runs.sort_by(|a, b| loss_order(a.loss, b.loss));
    runs
}

/// The first of runs or trials in [`by_loss`]'s order: the lowest loss.
pub(crate) fn lowest<T>(sorted: Vec<T>) -> T {
    sorted.into_iter().next().expect("at least one run")
}

/// The order of losses that every "lowest loss wins" choice keeps: by value, -0.0 equal to 0.0,
/// NaN after everything (+∞ included).
pub(crate) fn loss_order(a: f64, b: f64) -> std::cmp::Ordering {
    // `+ 0.0` turns -0.0 into 0.0 before the total order compares them.
    (a.is_nan(), a + 0.0).partial_cmp(&(b.is_nan(), b + 0.0)).unwrap_or(std::cmp::Ordering::Equal)
}

/// Best of [`runs`]: the lowest loss wins, ties to the earliest run.
#[allow(clippy::too_many_arguments)]
pub fn best_of_runs<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    num_trials: usize,
    seed: u64,
    params: &Checked<LloydParams>,
    backend: &B,
    stop: &AtomicBool,
    seeding: impl Fn(&mut Rng) -> Result<Vec<F>> + Sync,
) -> Result<LloydFit<F>> {
    let runs = runs(x, weights, num_trials, Trials::All, seed, params, backend, stop, seeding)?;
    Ok(lowest(by_loss(runs)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Cpu;

    static NEVER: AtomicBool = AtomicBool::new(false);

    /// The runs of `trials` over 1,000 rows in one feature, 3 centres, one iteration each:
    /// the same seeds for every run when `same`, else 3 rows drawn per run.
    fn runs_of(trials: Trials, same: bool) -> Vec<LloydFit<f64>> {
        let x: Vec<f64> = (0..1000).map(|i| ((i * 7919 % 1013) as f64).sin() * 10.0).collect();
        let points = Points::from_rows(&x, 1).unwrap();
        let params = LloydParams { max_iter: 1, tol: 0.0, rule: StopRule::Loss }.check().unwrap();
        let seeding =
            |rng: &mut Rng| Ok(if same { vec![-5.0, 0.0, 5.0] } else { points.dense_rows(&rng.sample(1000, 3)) });
        runs(points, None, 10, trials, 7, &params, &Cpu, &NEVER, seeding).unwrap()
    }

    #[test]
    fn runs_until_agreed_stop_after_the_first_round_when_enough_of_it_agree() {
        let agreeing = runs_of(Trials::UntilAgreed, true);
        assert_eq!(agreeing.len(), FIRST_ROUND);
        // Runs that never agree all run, and are the runs of Trials::All, bit for bit.
        let apart = runs_of(Trials::UntilAgreed, false);
        let all = runs_of(Trials::All, false);
        assert_eq!(apart.len(), 10);
        let bits =
            |runs: &[LloydFit<f64>]| runs.iter().map(|r| (r.centers.clone(), r.loss.to_bits())).collect::<Vec<_>>();
        assert_eq!(bits(&apart), bits(&all));
        let losses: Vec<f64> = all.iter().map(|r| r.loss).collect();
        assert!(losses.iter().all(|&a| losses.iter().filter(|&&b| same_loss(a, b)).count() == 1), "{losses:?}");
    }

    #[test]
    fn runs_until_agreed_are_the_same_on_one_thread() {
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        for same in [true, false] {
            let bits = |runs: Vec<LloydFit<f64>>| runs.into_iter().map(|r| r.loss.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(one.install(|| runs_of(Trials::UntilAgreed, same))),
                bits(runs_of(Trials::UntilAgreed, same))
            );
        }
    }

    #[test]
    fn agreement_is_on_the_lowest_finite_loss() {
        let fits = |losses: &[f64]| -> Vec<LloydFit<f64>> {
            losses.iter().map(|&loss| LloydFit { centers: vec![], labels: vec![], loss, n_iter: 0 }).collect()
        };
        assert!(agreed(&fits(&[1.0, 1.0, 5.0, 1.0])));
        assert!(agreed(&fits(&[0.0, -0.0, 0.0, 3.0])));
        assert!(agreed(&fits(&[2.0, 2.0 * (1.0 + SAME_LOSS / 2.0), 2.0, f64::NAN])));
        // Three runs agree, but on a loss above the lowest.
        assert!(!agreed(&fits(&[2.0, 2.0, 2.0, 1.0])));
        assert!(!agreed(&fits(&[1.0, 1.0])));
        assert!(!agreed(&fits(&[f64::INFINITY; 4])));
        assert!(!agreed(&fits(&[f64::NAN; 4])));
    }

    #[test]
    fn runs_order_by_loss_with_ties_in_run_order_and_nan_last() {
        let losses = [3.0, f64::NAN, 1.0, -0.0, 0.0, f64::INFINITY, 1.0];
        let runs: Vec<LloydFit<f64>> = losses
            .iter()
            .enumerate()
            .map(|(i, &loss)| LloydFit { centers: vec![i as f64], labels: vec![], loss, n_iter: 0 })
            .collect();
        let order: Vec<f64> = by_loss(runs).iter().map(|r| r.centers[0]).collect();
        assert_eq!(order, [3.0, 4.0, 2.0, 6.0, 0.0, 5.0, 1.0]);
    }
}
