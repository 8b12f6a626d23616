//! Choosing the reduction's trial by the data itself, for the in-memory fits that refine.
//!
//! The reduction's trials are weighted Lloyd runs over the streaming centres, and their loss (the
//! coarse loss: Σ count · squared distance from each streaming centre to its final centre) is
//! what picks the winner under SageMaker's recipe. It predicts the loss over the rows only
//! roughly: a streaming centre stands for its rows as if they all sat on it. Where the rows are at
//! hand, the leading trials by coarse loss are measured on them instead, by the loss after one
//! Lloyd step over all the rows:
//!
//! ```text
//! L(t) = Σ_i w_i ‖x_i − c(i)‖² − Σ_j ‖δ_j‖² / W_j
//! ```
//!
//! where `c(i)` is row i's nearest centre of trial t, `δ_j = Σ_{i→j} w_i (x_i − c_j)` and
//! `W_j = Σ_{i→j} w_i`: the loss of the trial's labels once every centre has moved to its rows'
//! mean (a centre no row chose stays, and adds nothing). One assignment pass per measured trial
//! gives it, and the refine goes on from the winner's moved centres rather than repeat its step.
//!
//! Measured (24 real sets, 12 seeds, the same 10 trials under both rules; docs/algorithm.md): the
//! stepped loss over the rows picked trials of lower mean refined loss than the coarse loss on 12
//! sets and higher on one (by 0.0001), and the trial it would pick among all ten was among the
//! three of lowest coarse loss in 90% of the fits, hence [`MEASURED_TRIALS`].
//!
//! On tiny data (a pass over the rows of at most [`REFINE_EACH_WORK`] multiply-adds) a whole
//! refine costs less than the fit's fixed cost around it, so every distinct trial is refined and
//! their final losses compared instead of predicted ([`refine_each`]), with runs seeded on the
//! rows themselves where the trials are fewer than [`TINY_STARTS`] ([`restart_on_rows`]);
//! [`choose_and_refine`] takes one way or the other.

use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use crate::algo::kmeanspp::Repeated;
use crate::algo::lloyd::{best_of_runs, lloyd, lloyd_within, loss_order, same_loss, shift_tolerance, LloydFit};
use crate::algo::reduce::Reduced;
use crate::backend::{Backend, Rows};
use crate::error::{check_stop, Error, Result};
use crate::kernels::metrics::weighted_ssd;
use crate::kernels::points::Points;
use crate::kernels::scalar::Scalar;
use crate::params::{Checked, InitMethod, LloydParams};
use crate::rng::{Purpose, Rng};

/// How many of the reduction's trials, lowest coarse loss first, are measured on the rows.
pub const MEASURED_TRIALS: usize = 3;

/// The trial [`choose_by_data`] chose.
#[derive(Clone, Debug)]
pub struct Chosen<F> {
    /// Its place in the trials given.
    pub index: usize,
    /// Its centres after one Lloyd step over the rows (k × d); a centre no row is nearest to stays
    /// where it was (the refine's own iterations move it). The trial's own centres where only one
    /// distinct trial was given.
    pub centers: Vec<F>,
}

/// Of `trials` (lowest coarse loss first, as [`crate::algo::reduce::reduce_trials`] returns them),
/// the one of lowest loss over the rows `x` after one Lloyd step (module docs); ties go to the
/// earlier trial, NaN loses. The first [`MEASURED_TRIALS`] distinct trials are measured, a trial
/// being taken for the one before it where their coarse losses agree to
/// [`SAME_LOSS`](crate::algo::lloyd::SAME_LOSS); where that leaves one, it is returned unmeasured.
pub fn choose_by_data<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    trials: &[Reduced<F>],
    backend: &B,
    stop: &AtomicBool,
) -> Result<Chosen<F>> {
    let candidates = distinct(trials, MEASURED_TRIALS);
    match candidates[..] {
        [] => return Err(Error::Empty { rows: 0, cols: x.d() }),
        [only] => return Ok(Chosen { index: only, centers: trials[only].centers.clone() }),
        _ => {}
    }
    let measure = |index: usize| -> Result<(f64, Chosen<F>)> {
        check_stop(stop)?;
        let (loss, centers) = step(x, weights, &trials[index].centers, backend)?;
        Ok((loss, Chosen { index, centers }))
    };
    // Small data is measured side by side (one pass is too short to keep every thread busy);
    // large data one trial after another, so that one set of labels and distances is held at once.
    let measured: Vec<(f64, Chosen<F>)> = if x.n() <= SIDE_BY_SIDE_ROWS {
        candidates.into_par_iter().map(measure).collect::<Result<_>>()?
    } else {
        candidates.into_iter().map(measure).collect::<Result<_>>()?
    };
    let best = measured.into_iter().min_by(|a, b| loss_order(a.0, b.0));
    Ok(best.expect("at least two candidates").1)
}

/// Up to this many multiply-adds in one pass over the rows (n · k · d), [`choose_and_refine`]
/// refines every distinct trial ([`refine_each`]): such a pass takes about a microsecond, a
/// whole refine less than the rest of the fit. Measured (docs/algorithm.md, seeds 0–19): on
/// USArrests (50 × 4, k = 4) the mean loss fell from 0.9982 to 0.9958 of scikit-learn's, iris'
/// by 0.00001, wine's not at all, for 14–20 µs a fit. Refining the three leading trials on
/// larger data gains less than it costs: digits 0.9880 → 0.9871 of scikit-learn's loss in 1.7
/// times the core's time, diabetes (442 × 10, k = 4) 0.9959 → 0.9952 in 1.7 times, the large
/// sets 2–2.6 times.
pub const REFINE_EACH_WORK: usize = 1 << 13;

/// On tiny data ([`REFINE_EACH_WORK`]), at least this many Lloyd runs over the rows end the fit:
/// every distinct trial refined, and where the trials are fewer, Lloyd runs seeded by greedy
/// k-means++ over the rows make up the number ([`restart_on_rows`]). The reduction's trials all
/// start from one set of streaming centres, and on a tiny table they often all end in the same
/// local minimum. Measured (docs/algorithm.md): on standardised wine (178 × 13, k = 3), whose four
/// lowest minima lie within 0.2% of each other, most seeds' trials all end in one, and the fit
/// ended in the lowest on 12 of seeds 0–29 without restarts and on 23 with them (scikit-learn's
/// `KMeans()`: 10), the restarts taking the whole fit from about 0.17 to 0.3 ms. Restarts for
/// every tiny fit, whatever its trials, were measured too: over the elbow sweep's tiny cells they
/// lowered the mean loss by up to 1.3% (USArrests at k = 9) but added 15–45% to the time at k ≥ 4.
pub const TINY_STARTS: usize = 5;

/// The end of a fit that refines: the trial of `trials` (lowest coarse loss first) to refine,
/// and the full-data Lloyd run by `refine` over the rows `x` that ends the fit. Tiny data refines
/// every distinct trial ([`refine_each`]), makes up [`TINY_STARTS`] runs with restarts seeded on
/// the rows ([`restart_on_rows`], seeded by `seed`), and ends with the lowest run (ties to the
/// trials); the trial returned is the one whose refine ended lowest. Other data chooses one trial
/// by the rows ([`choose_by_data`]) and refines it from its stepped centres. The work is counted
/// for dense rows: sparse rows of the same shape take this path no more often than dense ones.
pub fn choose_and_refine<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    trials: &[Reduced<F>],
    refine: &Checked<LloydParams>,
    seed: u64,
    backend: &B,
    stop: &AtomicBool,
) -> Result<(usize, LloydFit<F>)> {
    let k = trials.first().map_or(0, |t| t.centers.len() / x.d().max(1));
    if x.n().saturating_mul(k).saturating_mul(x.d()) <= REFINE_EACH_WORK {
        let (index, refined) = refine_each(x, weights, trials, refine, backend, stop)?;
        // Fewer rows than centres (a caller that reduces a state over too few rows) leaves
        // nothing to seed a restart from.
        let restarts = if x.n() < k { 0 } else { TINY_STARTS.saturating_sub(distinct(trials, TINY_STARTS).len()) };
        if restarts == 0 {
            return Ok((index, refined));
        }
        let restarted = restart_on_rows(x, weights, k, restarts, refine, seed, backend, stop)?;
        let lower = loss_order(restarted.loss, refined.loss).is_lt();
        return Ok((index, if lower { restarted } else { refined }));
    }
    let chosen = choose_by_data(x, weights, trials, backend, stop)?;
    Ok((chosen.index, lloyd(x, weights, chosen.centers, refine, backend, stop)?))
}

/// Of `trials` (lowest coarse loss first), the one whose full-data Lloyd run by `refine` from its
/// centres ends at the lowest loss over the rows, with that run: every distinct trial is refined
/// (not a trial whose coarse loss repeats the previous trial's, to
/// [`SAME_LOSS`](crate::algo::lloyd::SAME_LOSS)), one after another; ties go to the earlier
/// trial, NaN loses.
pub fn refine_each<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    trials: &[Reduced<F>],
    refine: &Checked<LloydParams>,
    backend: &B,
    stop: &AtomicBool,
) -> Result<(usize, LloydFit<F>)> {
    let shift_tol = shift_tolerance(x, weights, refine, backend)?;
    let mut best: Option<(usize, LloydFit<F>)> = None;
    for index in distinct(trials, usize::MAX) {
        check_stop(stop)?;
        let fit = lloyd_within(x, weights, trials[index].centers.clone(), refine, shift_tol, backend, stop)?;
        if best.as_ref().is_none_or(|(_, lowest)| loss_order(fit.loss, lowest.loss).is_lt()) {
            best = Some((index, fit));
        }
    }
    best.ok_or(Error::Empty { rows: 0, cols: x.d() })
}

/// The lowest of `runs` Lloyd runs by `refine` over the rows `x`, each seeded by greedy k-means++
/// over them (`2 + ⌊ln k⌋` candidates a step) from its own stream of `seed`'s
/// [`Purpose::Restarts`]; ties go to the earlier run ([`best_of_runs`]). Fewer rows than `k` is an
/// error.
#[allow(clippy::too_many_arguments)]
pub fn restart_on_rows<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    k: usize,
    runs: usize,
    refine: &Checked<LloydParams>,
    seed: u64,
    backend: &B,
    stop: &AtomicBool,
) -> Result<LloydFit<F>> {
    x.require_rows_for(k)?;
    let seeds = Repeated::new(x, weights, k, InitMethod::greedy_trials(k), runs);
    let seeding = |rng: &mut Rng| Ok(x.dense_rows(&seeds.choose_on(rng, backend)?));
    let seed = Rng::new(seed, Purpose::Restarts).next_seed();
    best_of_runs(x, weights, runs, seed, refine, backend, stop, seeding)
}

/// Up to this many rows, the candidates are measured side by side.
const SIDE_BY_SIDE_ROWS: usize = 1 << 20;

/// One Lloyd step over the rows from `centers`: the loss after it (module docs) and the moved
/// centres.
fn step<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    centers: &[F],
    backend: &B,
) -> Result<(f64, Vec<F>)> {
    let (mut labels, mut dist2) = (vec![0u32; x.n()], vec![0f64; x.n()]);
    let sums =
        backend.assign_and_sum(x.data(), weights, Points::from_rows(centers, x.d())?, &mut labels, &mut dist2)?;
    let mut moved = centers.to_vec();
    sums.move_centers(&mut moved);
    Ok((weighted_ssd(&dist2, weights) - sums.move_gain(), moved))
}

/// The places of the first `most` trials whose coarse loss differs from the previous one's by
/// more than [`SAME_LOSS`](crate::algo::lloyd::SAME_LOSS) (the first trial always counts).
fn distinct<F>(trials: &[Reduced<F>], most: usize) -> Vec<usize> {
    let mut places: Vec<usize> = Vec::with_capacity(most.min(trials.len()));
    for (i, trial) in trials.iter().enumerate() {
        if places.len() == most {
            break;
        }
        let repeats = i > 0 && same_loss(trials[i - 1].ssd, trial.ssd);
        if !repeats {
            places.push(i);
        }
    }
    places
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Cpu;

    static NEVER: AtomicBool = AtomicBool::new(false);

    /// Three rows around 0, three around 10, and one at 30.
    const ROWS: [f64; 7] = [-1.0, 0.0, 1.0, 9.0, 10.0, 11.0, 30.0];

    fn trial(centers: &[f64], ssd: f64) -> Reduced<f64> {
        Reduced { centers: centers.to_vec(), ssd, msd: ssd, n_iter: 1 }
    }

    fn choose(trials: &[Reduced<f64>]) -> Chosen<f64> {
        let x = Points::from_rows(&ROWS, 1).unwrap();
        choose_by_data(x, None, trials, &Cpu, &NEVER).unwrap()
    }

    // After one step, [0, 12] and [0, 14] both end at [0, 15] (loss 304), and [5, 30] at
    // [5, 30] (loss 154).

    #[test]
    fn the_trial_best_on_the_rows_wins_over_the_lowest_coarse_loss() {
        let chosen = choose(&[trial(&[0.0, 12.0], 1.0), trial(&[5.0, 30.0], 2.0)]);
        assert_eq!((chosen.index, chosen.centers), (1, vec![5.0, 30.0]));
    }

    #[test]
    fn equal_losses_go_to_the_earlier_trial_and_the_winner_is_stepped() {
        let chosen = choose(&[trial(&[0.0, 12.0], 1.0), trial(&[0.0, 14.0], 2.0)]);
        assert_eq!((chosen.index, chosen.centers), (0, vec![0.0, 15.0]));
    }

    #[test]
    fn a_trial_with_the_coarse_loss_of_the_one_before_is_not_measured() {
        let same = 1.0 + crate::algo::lloyd::SAME_LOSS / 2.0;
        let chosen = choose(&[trial(&[0.0, 12.0], 1.0), trial(&[5.0, 30.0], same), trial(&[0.0, 14.0], 3.0)]);
        assert_eq!(chosen.index, 0);
        // Only one distinct trial: taken as it is, unmeasured and unmoved.
        let chosen = choose(&[trial(&[0.0, 12.0], 1.0), trial(&[5.0, 30.0], same)]);
        assert_eq!((chosen.index, chosen.centers), (0, vec![0.0, 12.0]));
    }

    #[test]
    fn no_trials_is_an_error() {
        let x = Points::from_rows(&ROWS, 1).unwrap();
        assert!(matches!(choose_by_data::<f64, _, _>(x, None, &[], &Cpu, &NEVER), Err(Error::Empty { .. })));
    }

    #[test]
    fn only_the_leading_trials_are_measured() {
        let mut trials: Vec<_> = (0..MEASURED_TRIALS).map(|t| trial(&[0.0, 12.0 + t as f64 / 8.0], t as f64)).collect();
        trials.push(trial(&[5.0, 30.0], MEASURED_TRIALS as f64));
        assert_eq!(choose(&trials).index, 0);
    }

    fn refine_params() -> Checked<LloydParams> {
        LloydParams { max_iter: 100, tol: 0.0, rule: crate::params::StopRule::CenterShift }.check().unwrap()
    }

    fn lloyd_from(x: Points<'_, f64>, centers: &[f64]) -> LloydFit<f64> {
        lloyd(x, None, centers.to_vec(), &refine_params(), &Cpu, &NEVER).unwrap()
    }

    // From [0, 12] Lloyd ends at [0, 15] (loss 304); from [0, 21] it steps to [3.8, 20.5], then
    // to [5, 30], and stops there (loss 154): two iterations, where a run from the stepped
    // [3.8, 20.5] takes one.
    #[test]
    fn tiny_data_refines_every_trial_from_its_own_centres_and_keeps_the_lowest_end() {
        let x = Points::from_rows(&ROWS, 1).unwrap();
        let trials = [trial(&[0.0, 12.0], 1.0), trial(&[0.0, 21.0], 2.0), trial(&[0.0, 14.0], 3.0)];
        let (index, fit) = choose_and_refine(x, None, &trials, &refine_params(), 0, &Cpu, &NEVER).unwrap();
        let want = lloyd_from(x, &trials[1].centers);
        assert_eq!((index, &fit.centers, fit.loss.to_bits(), fit.n_iter), (1, &want.centers, want.loss.to_bits(), 2));
        assert_eq!((fit.centers, fit.loss), (vec![5.0, 30.0], 154.0));
        let stepped = choose_by_data(x, None, &trials, &Cpu, &NEVER).unwrap();
        assert_eq!((stepped.index, lloyd_from(x, &stepped.centers).n_iter), (1, 1));
        // [0, 12] and [0, 14] end alike: the earlier one is kept.
        let (index, fit) = refine_each(x, None, &trials[..1], &refine_params(), &Cpu, &NEVER).unwrap();
        let (again, _) =
            refine_each(x, None, &[trials[0].clone(), trials[2].clone()], &refine_params(), &Cpu, &NEVER).unwrap();
        assert_eq!((index, again, fit.loss), (0, 0, 304.0));
    }

    /// A tiny fit whose trials all end in a worse local minimum than the rows allow is ended by
    /// the restarts over the rows: the lowest of their runs, bit for bit, its trial the one refined
    /// lowest.
    #[test]
    fn on_tiny_data_restarts_over_the_rows_replace_trials_that_end_worse() {
        let x = Points::from_rows(&ROWS, 1).unwrap();
        let trials = [trial(&[0.0, 12.0], 1.0), trial(&[0.0, 14.0], 2.0)];
        assert_eq!(refine_each(x, None, &trials, &refine_params(), &Cpu, &NEVER).unwrap().1.loss, 304.0);
        let (index, fit) = choose_and_refine(x, None, &trials, &refine_params(), 5, &Cpu, &NEVER).unwrap();
        // Two distinct trials: restarts make up the rest of the starts.
        let restarts = TINY_STARTS - 2;
        let restarted = restart_on_rows(x, None, 2, restarts, &refine_params(), 5, &Cpu, &NEVER).unwrap();
        assert_eq!((index, fit.loss, fit.centers.clone()), (0, 154.0, vec![5.0, 30.0]));
        assert_eq!(
            (fit.loss.to_bits(), fit.n_iter, &fit.labels),
            (restarted.loss.to_bits(), restarted.n_iter, &restarted.labels)
        );
        // Side by side or one after another, the same runs.
        let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let serial =
            one_thread.install(|| restart_on_rows(x, None, 2, restarts, &refine_params(), 5, &Cpu, &NEVER).unwrap());
        assert_eq!((serial.loss.to_bits(), serial.centers), (restarted.loss.to_bits(), restarted.centers));
    }

    /// Five distinct trials (or more) are five starts already: no restart runs, and the fit ends
    /// with the trials' lowest refine, though the rows hold a lower minimum. With fewer rows than
    /// centres, no restart runs either (none could be seeded), and asking for one is an error.
    #[test]
    fn no_restarts_beside_five_distinct_trials_or_with_fewer_rows_than_centres() {
        let x = Points::from_rows(&ROWS, 1).unwrap();
        let trials: Vec<_> = (0..TINY_STARTS).map(|t| trial(&[0.0, 12.0 + t as f64 / 8.0], t as f64)).collect();
        let (index, fit) = choose_and_refine(x, None, &trials, &refine_params(), 5, &Cpu, &NEVER).unwrap();
        let (want_index, want) = refine_each(x, None, &trials, &refine_params(), &Cpu, &NEVER).unwrap();
        assert_eq!((index, fit.loss.to_bits(), &fit.centers), (want_index, want.loss.to_bits(), &want.centers));
        assert_eq!(fit.loss, 304.0);
        // One trial fewer, and a restart finds the lower minimum.
        let (_, fit) = choose_and_refine(x, None, &trials[1..], &refine_params(), 5, &Cpu, &NEVER).unwrap();
        assert_eq!(fit.loss, 154.0);

        let few = Points::from_rows(&ROWS[..2], 1).unwrap();
        let three = [trial(&[-1.0, 0.0, 5.0], 1.0)];
        let (_, fit) = choose_and_refine(few, None, &three, &refine_params(), 5, &Cpu, &NEVER).unwrap();
        assert_eq!(fit.loss, 0.0);
        assert!(matches!(
            restart_on_rows(few, None, 3, 1, &refine_params(), 5, &Cpu, &NEVER),
            Err(Error::TooFewPoints { n_samples: 2, k: 3 })
        ));
    }

    #[test]
    fn refine_each_refines_every_distinct_trial_and_no_repeat() {
        let x = Points::from_rows(&ROWS, 1).unwrap();
        let same = 1.0 + crate::algo::lloyd::SAME_LOSS / 2.0;
        // [5, 30] repeats the first trial's coarse loss: not refined, so [0, 12]'s end is kept.
        let trials = [trial(&[0.0, 12.0], 1.0), trial(&[5.0, 30.0], same)];
        assert_eq!(refine_each(x, None, &trials, &refine_params(), &Cpu, &NEVER).unwrap().0, 0);
        // Past the trials choose_by_data would measure, a distinct trial is still refined.
        let mut trials: Vec<_> = (0..MEASURED_TRIALS).map(|t| trial(&[0.0, 12.0 + t as f64 / 8.0], t as f64)).collect();
        trials.push(trial(&[5.0, 30.0], MEASURED_TRIALS as f64));
        assert_eq!(refine_each(x, None, &trials, &refine_params(), &Cpu, &NEVER).unwrap().0, MEASURED_TRIALS);
        assert!(matches!(
            refine_each::<f64, _, _>(x, None, &[], &refine_params(), &Cpu, &NEVER),
            Err(Error::Empty { .. })
        ));
    }

    /// Above [`REFINE_EACH_WORK`] the rows choose one trial by its stepped loss, and only it is
    /// refined, from its stepped centres.
    #[test]
    fn larger_data_refines_the_trial_the_rows_choose() {
        let copies = REFINE_EACH_WORK / (ROWS.len() * 2) + 1;
        let rows: Vec<f64> = ROWS.iter().copied().cycle().take(ROWS.len() * copies).collect();
        let x = Points::from_rows(&rows, 1).unwrap();
        assert!(x.n() * 2 > REFINE_EACH_WORK);
        let trials = [trial(&[0.0, 12.0], 1.0), trial(&[0.0, 21.0], 2.0)];
        let (index, fit) = choose_and_refine(x, None, &trials, &refine_params(), 0, &Cpu, &NEVER).unwrap();
        let chosen = choose_by_data(x, None, &trials, &Cpu, &NEVER).unwrap();
        let want = lloyd_from(x, &chosen.centers);
        assert_eq!((index, &fit.centers, fit.n_iter), (chosen.index, &want.centers, want.n_iter));
        assert_eq!(index, 1);
        assert!((fit.centers[0] - 5.0).abs() < 1e-9 && fit.centers[1] == 30.0, "{:?}", fit.centers);
        // Refined from its own centres (as tiny data is), the trial would take one more iteration.
        assert_ne!(fit.n_iter, lloyd_from(x, &trials[1].centers).n_iter);
    }

    /// Weighted rows in three features: the loss after the step and the moved centres match a
    /// direct computation for every measured trial.
    #[test]
    fn the_stepped_loss_is_the_loss_at_the_means_of_the_labels() {
        let (n, d, k) = (500, 3, 4);
        let mut state = 12345u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let x: Vec<f64> = (0..n * d).map(|i| next() * 4.0 + ((i / d) % 3) as f64 * 5.0).collect();
        let w: Vec<f64> = (0..n).map(|_| 0.5 + next() * 2.0).collect();
        let trials: Vec<Reduced<f64>> =
            (0..5).map(|t| trial(&(0..k * d).map(|_| next() * 14.0).collect::<Vec<_>>(), t as f64)).collect();
        let direct = |c: &[f64]| -> (f64, Vec<f64>) {
            let label = |r: usize| {
                (0..k)
                    .map(|j| (j, (0..d).map(|p| (x[r * d + p] - c[j * d + p]).powi(2)).sum::<f64>()))
                    .fold((0, f64::INFINITY), |best, cur| if cur.1 < best.1 { cur } else { best })
                    .0
            };
            let (mut sums, mut weight) = (vec![0.0; k * d], vec![0.0; k]);
            let labels: Vec<usize> = (0..n).map(label).collect();
            for (r, &j) in labels.iter().enumerate() {
                weight[j] += w[r];
                for p in 0..d {
                    sums[j * d + p] += w[r] * x[r * d + p];
                }
            }
            let means: Vec<f64> =
                (0..k * d).map(|i| if weight[i / d] > 0.0 { sums[i] / weight[i / d] } else { c[i] }).collect();
            let loss = (0..n)
                .map(|r| w[r] * (0..d).map(|p| (x[r * d + p] - means[labels[r] * d + p]).powi(2)).sum::<f64>())
                .sum();
            (loss, means)
        };
        let measured: Vec<(f64, Vec<f64>)> = trials[..MEASURED_TRIALS].iter().map(|t| direct(&t.centers)).collect();
        let best = (0..MEASURED_TRIALS).fold(0, |b, t| if measured[t].0 < measured[b].0 { t } else { b });
        let x_points = Points::from_rows(&x, d).unwrap();
        let chosen = choose_by_data(x_points, Some(&w), &trials, &Cpu, &NEVER).unwrap();
        assert_eq!(chosen.index, best);
        for (got, want) in chosen.centers.iter().zip(&measured[best].1) {
            assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "{got} vs {want}");
        }
        for (t, (loss, _)) in measured.iter().enumerate() {
            let (got, _) = step(x_points, Some(&w), &trials[t].centers, &Cpu).unwrap();
            assert!((got - loss).abs() <= 1e-9 * loss, "trial {t}: {got} vs {loss}");
        }
    }
}
