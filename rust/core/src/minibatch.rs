//! The web-scale (mini-batch) trainer, as SageMaker documents it (Sculley 2010, batch form).
//!
//! For each mini-batch, every point is assigned to its nearest centre; a centre `c` that held
//! `n_old` (weighted) points and receives `n_new` new ones, with mean `m`, moves to
//!
//! ```text
//! p = n_new / (n_old + n_new),   c ← (1 − p)·c + p·m,   n_old ← n_old + n_new
//! ```
//!
//! which is Sculley's per-point rule (η = 1/count) applied to the batch at once.
//!
//! Half-life decay (`half_life_time_size = h > 0`): a point's weight halves after `h` later
//! points. Before a batch of `b` points is merged every count is multiplied by `2^(−b/h)`, so a
//! point seen `t` points ago weighs `2^(−t/h)` (points of one batch count as seen together).
//!
//! Dead centres: a centre with a count of zero that sits exactly on a lower-indexed centre can
//! never win a point (ties go to the lowest index). This happens when the seeding batch repeats
//! rows, as real data often does. After each batch such a centre is moved onto the batch point
//! farthest from its nearest centre (the next farthest for the next one, and so on), and its count
//! stays zero until it wins points. Any other centre that wins no points keeps its position and
//! its (decaying) count: it may simply not have seen its part of the data yet, and a starved
//! centre weighs little in the reduction. No centre ever becomes NaN or jumps to the origin.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;

use crate::backend::Backend;
use crate::error::{check_stop, Error, Result};
use crate::lloyd::{cluster_means, rows_by_contribution};
use crate::metrics::weighted_ssd;
use crate::params::{Checked, InitMethod, MiniBatchParams};
use crate::points::{gather, gather_into, Points};
use crate::reduce::{reduce, Reduced};
use crate::rng::{Purpose, Rng};
use crate::init::init_centers;
use crate::scalar::Scalar;

/// The complete streaming state: enough to save training and resume it later.
#[derive(Clone, Debug, PartialEq)]
pub struct MiniBatchState<F> {
    /// K × d streaming centres, row-major.
    pub centers: Vec<F>,
    /// Per-centre (decayed) count of the points merged into it.
    pub counts: Vec<f64>,
    /// Features per row.
    pub d: usize,
    /// Points merged so far, over all batches and epochs.
    pub points_seen: u64,
}

impl<F: Scalar> MiniBatchState<F> {
    /// Seeds `n_centers` centres from `sample` (SageMaker's sampled first batch) with `init`;
    /// every count starts at zero, so a centre's first batch moves it onto that batch's mean.
    pub fn seed(sample: Points<'_, F>, n_centers: usize, init: InitMethod, seed: u64) -> Result<Self> {
        sample.require_non_empty()?;
        if sample.n() < n_centers {
            return Err(Error::TooFewPoints { n_samples: sample.n(), k: n_centers });
        }
        let mut rng = Rng::new(seed, Purpose::SeedCenters);
        let centers = init_centers(sample, None, n_centers, init, &mut rng);
        Ok(Self { centers, counts: vec![0.0; n_centers], d: sample.d(), points_seen: 0 })
    }

    /// Rebuilds a saved state, checking that its parts fit together.
    pub fn from_parts(centers: Vec<F>, counts: Vec<f64>, d: usize, points_seen: u64) -> Result<Self> {
        let view = Points::from_rows(&centers, d)?;
        view.require_non_empty()?;
        view.require_finite("the saved centres")?;
        crate::lloyd::check_weights(view.n(), Some(&counts))?;
        Ok(Self { centers, counts, d, points_seen })
    }

    /// K, the number of streaming centres.
    pub fn n_centers(&self) -> usize {
        self.counts.len()
    }

    /// The centres as a K × d view.
    pub fn centers(&self) -> Points<'_, F> {
        Points::new(&self.centers, self.n_centers(), self.d).expect("consistent state")
    }

    /// Merges one mini-batch; returns its ssd against the centres as they were before the merge.
    pub fn update<B: Backend>(&mut self, batch: Points<'_, F>, half_life_time_size: u64, backend: &B) -> Result<f64> {
        batch.require_same_d(&self.centers())?;
        let (b, k, d) = (batch.n(), self.n_centers(), self.d);
        if b == 0 {
            return Ok(0.0);
        }
        let mut labels = vec![0u32; b];
        let mut dist2 = vec![0f64; b];
        backend.assign(batch, self.centers(), &mut labels, &mut dist2)?;
        if half_life_time_size > 0 {
            let decay = (-(b as f64) / half_life_time_size as f64).exp2();
            self.counts.iter_mut().for_each(|c| *c *= decay);
        }
        let (means, n_new) = cluster_means(batch, None, &labels, k);
        for c in (0..k).filter(|&c| n_new[c] > 0.0) {
            let total = self.counts[c] + n_new[c];
            let p = n_new[c] / total;
            // (1 − p)·c + p·m, written as c + p·(m − c) so that m = c leaves c exactly unchanged.
            for (center, &m) in self.centers[c * d..(c + 1) * d].iter_mut().zip(&means[c * d..(c + 1) * d]) {
                *center = F::from_f64(center.to_f64() + p * (m - center.to_f64()));
            }
            self.counts[c] = total;
        }
        for (c, i) in self.dead_centers().into_iter().zip(rows_by_contribution(&dist2, None)) {
            self.centers[c * d..(c + 1) * d].copy_from_slice(batch.row(i));
        }
        self.points_seen += b as u64;
        Ok(weighted_ssd(&dist2, None))
    }
}

impl<F: Scalar> MiniBatchState<F> {
    /// Centres of count zero identical to a lower-indexed centre (see the module docs).
    fn dead_centers(&self) -> Vec<usize> {
        if !self.counts.contains(&0.0) {
            return Vec::new();
        }
        let mut seen = HashSet::with_capacity(self.n_centers());
        let mut dead = Vec::new();
        for c in 0..self.n_centers() {
            // `+ 0.0` folds -0.0 into 0.0 so that equal values have equal bits.
            let bits: Vec<u64> = self.centers().row(c).iter().map(|v| (v.to_f64() + 0.0).to_bits()).collect();
            if !seen.insert(bits) && self.counts[c] == 0.0 {
                dead.push(c);
            }
        }
        dead
    }
}

/// The result of [`fit_minibatch`].
#[derive(Clone, Debug)]
pub struct MiniBatchFit<F> {
    /// The streaming state after the last batch (resumable).
    pub state: MiniBatchState<F>,
    /// The final k centres.
    pub reduced: Reduced<F>,
    /// The nearest final centre of every training row.
    pub labels: Vec<u32>,
    /// The training ssd against the final centres.
    pub inertia: f64,
    /// Mini-batches merged.
    pub n_batches: usize,
}

/// Trains on an in-memory data set: seeds K centres from a random sample of `mini_batch_size`
/// rows, streams `epochs` shuffled passes of mini-batches, reduces K to k, and labels the data.
pub fn fit_minibatch<F: Scalar, B: Backend>(
    x: Points<'_, F>,
    params: &Checked<MiniBatchParams>,
    backend: &B,
    stop: &AtomicBool,
) -> Result<MiniBatchFit<F>> {
    x.require_non_empty()?;
    let (n, k) = (x.n(), params.reduce.k);
    if n < k {
        return Err(Error::TooFewPoints { n_samples: n, k });
    }
    let batch_size = params.mini_batch_size.min(n);
    let seed = params.reduce.seed;
    let sample_rows = Rng::new(seed, Purpose::SeedSample).sample(n, batch_size);
    let sample = gather(x, &sample_rows);
    let mut state = MiniBatchState::seed(Points::from_rows(&sample, x.d())?, params.n_centers, params.init, seed)?;

    let mut batch = Vec::with_capacity(batch_size * x.d());
    let mut n_batches = 0;
    for epoch in 0..params.epochs as u64 {
        let order = Rng::new(seed, Purpose::Epoch(epoch)).permutation(n);
        for rows in order.chunks(batch_size) {
            check_stop(stop)?;
            gather_into(x, rows, &mut batch);
            state.update(Points::from_rows(&batch, x.d())?, params.half_life_time_size, backend)?;
            n_batches += 1;
        }
    }
    let reduce_params = params.reduce.check()?;
    let reduced = reduce(state.centers(), &state.counts, &reduce_params, backend, stop)?;
    let mut labels = vec![0u32; n];
    let mut dist2 = vec![0f64; n];
    backend.assign(x, Points::from_rows(&reduced.centers, x.d())?, &mut labels, &mut dist2)?;
    let inertia = weighted_ssd(&dist2, None);
    Ok(MiniBatchFit { state, reduced, labels, inertia, n_batches })
}
