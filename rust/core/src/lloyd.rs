//! Full-batch, optionally weighted, Lloyd iterations, and the empty-cluster policy.
//!
//! Empty clusters: a centre that ends an assignment with no weight (no rows, or only rows of
//! weight zero) never becomes NaN and never jumps to the origin. It is moved onto the row that
//! contributes most to the loss (largest weight × squared distance to its centre; ties to the
//! lowest row), taking that row out of its old cluster, exactly as if the row had been assigned
//! to it. A row is only taken from a cluster that keeps another row of positive weight. When no
//! such row exists (fewer distinct weighted rows than clusters) the centre stays where it is.

use std::borrow::Cow;
use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use crate::backend::Backend;
use crate::error::{check_stop, Error, Result};
use crate::init::init_centers;
use crate::metrics::weighted_ssd;
use crate::parallel::min_items;
use crate::params::{Checked, LloydParams, ReduceParams};
use crate::points::Points;
use crate::rng::{Purpose, Rng};
use crate::rows::Rows;
use crate::scalar::Scalar;
use crate::sums::Bounds;

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
        x.assign_and_sum_bounded(backend, weights, Points::from_rows(centers, d)?, labels, dist2, &mut bounds)
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
            let init = init_centers(x, weights, params.k, params.init, &mut rng);
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

/// Fails unless `weights` (if given) has one finite, non-negative value per row.
pub fn check_weights(n: usize, weights: Option<&[f64]>) -> Result<()> {
    let Some(w) = weights else { return Ok(()) };
    if w.len() != n {
        return Err(Error::BadWeights(format!("{} weights for {} rows", w.len(), n)));
    }
    if let Some(i) = w.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(Error::BadWeights(format!("weight {} of row {}", w[i], i)));
    }
    Ok(())
}

/// Rows grouped by label (a counting sort): the rows of cluster `c`, in row order, are
/// `order[offsets[c]..offsets[c + 1]]`.
pub(crate) fn group_by_label(labels: &[u32], k: usize) -> (Vec<usize>, Vec<u32>) {
    let mut offsets = vec![0usize; k + 1];
    for &l in labels {
        offsets[l as usize + 1] += 1;
    }
    for c in 0..k {
        offsets[c + 1] += offsets[c];
    }
    let mut next = offsets.clone();
    let mut order = vec![0u32; labels.len()];
    for (i, &l) in labels.iter().enumerate() {
        order[next[l as usize]] = i as u32;
        next[l as usize] += 1;
    }
    (offsets, order)
}

/// Per-cluster weighted means (k × d, `f64`) and total weights, each summed in row order with
/// clusters in parallel, so the result is the same on any number of threads.
///
/// Sums are taken relative to the cluster's first row, mean = ref + Σ w·(x − ref) / Σ w: this
/// avoids cancellation for data far from the origin, and a cluster of identical rows gets exactly
/// that row as its mean. A cluster of zero total weight gets a mean of zeros (callers skip it).
pub(crate) fn cluster_means<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    labels: &[u32],
    k: usize,
) -> (Vec<f64>, Vec<f64>) {
    let d = x.d();
    let (offsets, order) = group_by_label(labels, k);
    let mut means = vec![0f64; k * d];
    let mut totals = vec![0f64; k];
    let rows_per_cluster = labels.len() / k.max(1) + 1;
    means
        .par_chunks_mut(d)
        .zip(totals.par_iter_mut())
        .enumerate()
        .with_min_len(min_items(rows_per_cluster * d))
        .for_each(|(c, (mean, total))| {
            let members = &order[offsets[c]..offsets[c + 1]];
            let Some(&first) = members.first() else { return };
            let reference = x.row(first as usize);
            for &i in members {
                let w = weights.map_or(1.0, |w| w[i as usize]);
                for ((m, &v), &r) in mean.iter_mut().zip(x.row(i as usize)).zip(reference) {
                    *m += w * (v.to_f64() - r.to_f64());
                }
                *total += w;
            }
            if *total > 0.0 {
                for (m, &r) in mean.iter_mut().zip(reference) {
                    *m = r.to_f64() + *m / *total;
                }
            }
        });
    (means, totals)
}

/// The M step when a cluster is empty: empty clusters first take over the rows that contribute
/// most to the loss (see the module docs), then every centre becomes the weighted mean of its rows.
fn update_centers<F: Scalar, R: Rows<F>>(
    x: R,
    weights: Option<&[f64]>,
    labels: &[u32],
    dist2: &[f64],
    centers: &mut [F],
) {
    let d = x.d();
    let k = centers.len() / d;
    let weight = |i: usize| weights.map_or(1.0, |w| w[i]);
    let mut weighted_members = vec![0usize; k];
    for (i, &l) in labels.iter().enumerate() {
        if weight(i) > 0.0 {
            weighted_members[l as usize] += 1;
        }
    }
    let empty: Vec<usize> = (0..k).filter(|&c| weighted_members[c] == 0).collect();
    let mut labels = Cow::Borrowed(labels);
    if !empty.is_empty() {
        let mut donors = rows_by_contribution(dist2, weights).into_iter();
        for &c in &empty {
            // The next farthest row whose cluster keeps another weighted row.
            for i in donors.by_ref() {
                let from = labels[i] as usize;
                if weighted_members[from] >= 2 {
                    weighted_members[from] -= 1;
                    weighted_members[c] = 1;
                    labels.to_mut()[i] = c as u32;
                    break;
                }
            }
        }
    }
    x.move_to_means(weights, &labels, centers);
}

/// Rows of positive contribution weight × squared distance, largest first (ties: lowest row).
/// Sorting every row is O(n log n), but it only happens when a cluster is empty.
pub(crate) fn rows_by_contribution(dist2: &[f64], weights: Option<&[f64]>) -> Vec<usize> {
    let mut rows: Vec<(f64, usize)> =
        (0..dist2.len()).map(|i| (weights.map_or(1.0, |w| w[i]) * dist2[i], i)).filter(|&(c, _)| c > 0.0).collect();
    rows.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    rows.into_iter().map(|(_, i)| i).collect()
}
