//! Seeding from a lightweight coreset (Bachem, Lucic & Krause 2018, "Scalable k-Means Clustering
//! via Lightweight Coresets"): the k-means of a small weighted sample that stands for the data.
//!
//! Each row is drawn with probability q(x) = ½ · w(x)/W + ½ · w(x)·‖x − μ‖²/Σ w‖y − μ‖² (μ the
//! weighted mean), m times with replacement, and carries weight w(x)/(m · q(x)) (repeats added), so
//! every sum over the sample estimates the same sum over the data without bias. Half the draws
//! go by distance to the mean, so a small group far from the rest is drawn in proportion to its
//! share of the data's spread, not of its rows: a uniform sample of the same size misses the rare
//! far groups of KDD Cup 99 (1.95× scikit-learn's loss) where this finds them.
//!
//! The mean is that of a uniform sample of [`MIN_ROWS`] rows: any centre gives an unbiased coreset
//! (the weights undo q), so the seeding reads the data once, for the distances, whatever k.
//!
//! The sample, m = max(`rows_per_center` · k, [`MIN_ROWS`]) draws, is then clustered by the best of
//! `trials` runs of greedy k-means++ and weighted Lloyd ([`best_of_runs`]) on it, chosen by the
//! sample's loss: an estimate of each run's loss on the data at a small fraction of its cost. The
//! best of several runs is what makes the seeding better than one greedy k-means++ over all rows,
//! at a tenth of its cost on a million rows (docs/seeding.md has the measurements). Data with fewer
//! than [`MIN_SHRINK`] × m rows has no coreset worth the name: it is seeded by greedy k-means++ over
//! all its rows, as scikit-learn seeds.
//!
//! Every step is deterministic: the draws come from the caller's stream, sorted, and are matched
//! to rows by one pass over their probabilities in row order; the runs are those of [`best_of_runs`],
//! bit-identical on any number of threads.

use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use crate::algo::kmeanspp::{kmeans_pp_on, squared_norm, Repeated};
use crate::algo::lloyd::best_of_runs;
use crate::backend::{Backend, Cpu, Rows};
use crate::error::Result;
use crate::kernels::metrics::weighted_ssd;
use crate::kernels::parallel::min_items;
use crate::kernels::scalar::Scalar;
use crate::params::{InitMethod, LloydParams, StopRule};
use crate::rng::Rng;

/// The fewest draws of a coreset, whatever k: enough rows for the loss of a few clusters to be
/// estimated well.
pub const MIN_ROWS: usize = 4096;

/// A coreset is drawn only from data with at least this many rows per draw; smaller data is seeded
/// by greedy k-means++ over all its rows.
pub const MIN_SHRINK: usize = 16;

/// The Lloyd runs on the coreset stop by scikit-learn's rule at this tolerance, or after
/// [`SAMPLE_MAX_ITER`] iterations.
const SAMPLE_TOL: f64 = 1e-4;
const SAMPLE_MAX_ITER: usize = 100;

/// The runs on the coreset are not stopped from outside: they are a small part of a fit.
static NEVER: AtomicBool = AtomicBool::new(false);

/// Seeds `k` centres of `x` (`k <= x.n()`) from a lightweight coreset of about
/// `rows_per_center` · k rows clustered by the best of `trials` runs (see the module). The centres
/// are weighted means of sampled rows, returned row-major. The runs' k-means++ runs on
/// `backend`'s device where it takes the rows ([`kmeans_pp_on`]: the same rows either way).
pub fn coreset_seeding<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    k: usize,
    rows_per_center: usize,
    trials: usize,
    rng: &mut Rng,
    backend: &B,
) -> Result<Vec<F>> {
    let m = rows_per_center.saturating_mul(k).max(MIN_ROWS);
    let sample = if x.n() / MIN_SHRINK >= m { draw_coreset(x, weights, m, rng) } else { None };
    let Some((rows, sample_weights)) = sample.filter(|(rows, _)| rows.len() >= k) else {
        return greedy_kmeans_pp(x, weights, k, rng, backend);
    };
    let gathered = x.gather(&rows);
    let sample = gathered.view();
    let params = LloydParams { max_iter: SAMPLE_MAX_ITER, tol: SAMPLE_TOL, rule: StopRule::CenterShift }.check()?;
    // The Lloyd runs on the sample stay on the CPU: a GPU backend would trade the data it keeps
    // on the device for the sample. Their k-means++, k · (2 + ⌊ln k⌋) passes over the sample, runs
    // on the device where it takes the sample.
    let plus_plus = Repeated::new(sample, Some(&sample_weights), k, InitMethod::greedy_trials(k), trials);
    let fit = best_of_runs(sample, Some(&sample_weights), trials, rng.next_seed(), &params, &Cpu, &NEVER, |rng| {
        Ok(sample.dense_rows(&plus_plus.choose_on(rng, backend)?))
    })?;
    Ok(fit.centers)
}

/// Greedy k-means++ over every row of `x`: the seeding of data too small for a coreset (the runs on
/// a coreset share one [`Repeated`]).
fn greedy_kmeans_pp<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    k: usize,
    rng: &mut Rng,
    backend: &B,
) -> Result<Vec<F>> {
    Ok(x.dense_rows(&kmeans_pp_on(x, weights, k, InitMethod::greedy_trials(k), rng, backend)?))
}

/// A lightweight coreset of `x`: `m` draws by q (module docs), as distinct rows in increasing order
/// and their weights (repeats added), whose sum estimates the data's total weight. `None` when the
/// data has no weight.
pub fn draw_coreset<F: Scalar, R: Rows<F>>(
    x: R,
    weights: Option<&[f64]>,
    m: usize,
    rng: &mut Rng,
) -> Option<(Vec<usize>, Vec<f64>)> {
    let n = x.n();
    let weight = |i: usize| weights.map_or(1.0, |w| w[i]);
    let total: f64 = weights.map_or(n as f64, |w| w.iter().sum());
    if !(total > 0.0 && total.is_finite()) {
        return None;
    }
    // ‖x − μ‖² for every row, μ the weighted mean of a uniform sample of rows.
    let picked = rng.sample(n, n.min(MIN_ROWS));
    let mut mean = vec![F::ZERO; x.d()];
    let picked_weights: Option<Vec<f64>> = weights.map(|w| picked.iter().map(|&i| w[i]).collect());
    let gathered = x.gather(&picked);
    gathered.view().move_to_means(picked_weights.as_deref(), &vec![0u32; picked.len()], &mut mean);
    let mean_norm = squared_norm(&mean);
    let dist2: Vec<f64> =
        (0..n).into_par_iter().with_min_len(min_items(x.d())).map(|i| x.sq_dist_to(i, &mean, mean_norm)).collect();
    // Distances too large to sum (|x| near f32's range) leave only the uniform half.
    let spread = Some(weighted_ssd(&dist2, weights)).filter(|s| s.is_finite()).unwrap_or(0.0);
    let q = |i: usize| {
        let by_distance = if spread > 0.0 { weight(i) * dist2[i] / spread } else { weight(i) / total };
        0.5 * weight(i) / total + 0.5 * by_distance
    };
    // Σ q = 1 up to rounding: draws past the rounded sum go to the last row (below).
    let mut draws: Vec<f64> = (0..m).map(|_| rng.uniform()).collect();
    draws.sort_unstable_by(f64::total_cmp);

    // One sweep of the running sum of q in row order matches the sorted draws to rows; draws past
    // the sum's rounded end go to the last row that can be drawn.
    let (mut rows, mut sample_weights) = (Vec::new(), Vec::new());
    let mut next = draws.iter().peekable();
    let (mut running, mut last) = (0.0, None);
    for i in 0..n {
        let qi = q(i);
        if !(qi > 0.0 && qi.is_finite()) {
            continue;
        }
        running += qi;
        last = Some(i);
        let mut times = 0usize;
        while next.next_if(|&&u| u < running).is_some() {
            times += 1;
        }
        if times > 0 {
            rows.push(i);
            sample_weights.push(times as f64 * weight(i) / (m as f64 * qi));
        }
    }
    let rest = next.count();
    if let (true, Some(i)) = (rest > 0, last) {
        let qi = q(i);
        if rows.last() != Some(&i) {
            rows.push(i);
            sample_weights.push(0.0);
        }
        *sample_weights.last_mut().expect("pushed") += rest as f64 * weight(i) / (m as f64 * qi);
    }
    Some((rows, sample_weights))
}
