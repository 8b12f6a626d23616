//! Checked hyperparameters: an unchecked struct with public fields, `check()`, and [`Checked`],
//! the only form the trainers accept, so an invalid value cannot reach an algorithm.

use std::ops::Deref;

use crate::error::{Error, Result};

/// How initial centres are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitMethod {
    /// Distinct rows chosen uniformly (weighted rows: among rows of positive weight).
    Random,
    /// k-means++: each next centre drawn with probability proportional to (weight ×) the squared
    /// distance to the centres chosen so far, keeping the best of `local_trials` candidates.
    KMeansPlusPlus { local_trials: usize },
    /// k-means‖ (Bahmani et al. 2012): `rounds` passes each drawing about `oversampling` · k rows
    /// in proportion to (weight ×) squared distance, then the candidates, weighted by the rows
    /// closest to them, reduced to k by weighted greedy k-means++ and weighted Lloyd.
    KMeansParallel { oversampling: usize, rounds: usize },
    /// Plain k-means++ for the first `plus_plus` centres, then distinct rows chosen uniformly
    /// among the rest: how `recipe="fastkmeans"` seeds the K = k · extra_center_factor streaming
    /// centres with `plus_plus` = k. The k-means++ part reaches every far or small group
    /// (uniform rows miss a group of 1.5% of the rows with probability (1 − 0.015)^K); the
    /// uniform part puts the remaining centres where the rows are, at a tenth of k-means++'s
    /// cost (docs/seeding.md).
    KMeansPlusPlusThenRandom { plus_plus: usize },
    /// The k-means of a lightweight coreset of about `rows_per_center` · k rows drawn by distance
    /// to the mean: the best of `trials` greedy k-means++ and weighted Lloyd runs on it. Data too
    /// small for a coreset gets greedy k-means++ over all its rows. How `algorithm="lloyd"` seeds
    /// by default ([`crate::algo::coreset`], docs/seeding.md).
    Coreset { rows_per_center: usize, trials: usize },
}

impl InitMethod {
    /// Plain k-means++ (one candidate per step), as SageMaker documents it for seeding.
    pub const PLAIN_KMEANS_PP: InitMethod = InitMethod::KMeansPlusPlus { local_trials: 1 };

    /// Greedy k-means++ with `2 + ⌊ln k⌋` candidates per step (Arthur & Vassilvitskii's
    /// suggestion, scikit-learn's default), used where a few centres are chosen among many points.
    pub fn greedy_kmeans_pp(k: usize) -> InitMethod {
        InitMethod::KMeansPlusPlus { local_trials: InitMethod::greedy_trials(k) }
    }

    /// The candidates per step of [`InitMethod::greedy_kmeans_pp`]: 2 + ⌊ln k⌋.
    pub fn greedy_trials(k: usize) -> usize {
        2 + (k.max(1) as f64).ln() as usize
    }

    /// k-means‖ with ℓ = 2k and 5 rounds.
    pub const KMEANS_PARALLEL: InitMethod = InitMethod::KMeansParallel { oversampling: 2, rounds: 5 };

    /// The coreset seeding with 32 rows per centre and the best of 4 runs.
    pub const CORESET: InitMethod = InitMethod::Coreset { rows_per_center: 32, trials: 4 };

    /// Fails unless the method's counts are at least 1.
    fn check(self) -> Result<()> {
        match self {
            InitMethod::KMeansPlusPlus { local_trials: 0 } => Err(invalid("local_trials", 0, "an integer >= 1")),
            InitMethod::KMeansParallel { oversampling: 0, .. } => Err(invalid("oversampling", 0, "an integer >= 1")),
            InitMethod::KMeansParallel { rounds: 0, .. } => Err(invalid("rounds", 0, "an integer >= 1")),
            InitMethod::KMeansPlusPlusThenRandom { plus_plus: 0 } => Err(invalid("plus_plus", 0, "an integer >= 1")),
            InitMethod::Coreset { rows_per_center: 0, .. } => Err(invalid("rows_per_center", 0, "an integer >= 1")),
            InitMethod::Coreset { trials: 0, .. } => Err(invalid("trials", 0, "an integer >= 1")),
            _ => Ok(()),
        }
    }
}

/// A parameter set that passed its `check()`.
#[derive(Clone, Debug)]
pub struct Checked<P>(P);

impl<P> Deref for Checked<P> {
    type Target = P;
    fn deref(&self) -> &P {
        &self.0
    }
}

fn invalid(name: &'static str, value: impl ToString, rule: &'static str) -> Error {
    Error::InvalidParameter { name, value: value.to_string(), rule }
}

/// When a Lloyd run stops early (before `max_iter` iterations), given its `tol`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StopRule {
    /// SageMaker's `local_lloyd_tol`: once the loss falls by less than `tol` × its previous value
    /// (the K → k reduction's rule).
    #[default]
    Loss,
    /// scikit-learn's: once the centres' total squared move in one iteration is at most `tol` ×
    /// the data's mean per-feature variance, or once no row changes its centre (full-data Lloyd:
    /// `algorithm="lloyd"` and the default recipe's refine step). With row weights the variance
    /// is weighted, where scikit-learn ignores `sample_weight` in it: weights here are counts of
    /// rows, so the weighted variance is the variance of the rows they stand for.
    CenterShift,
}

/// Stopping rules of a Lloyd run (SageMaker's `local_lloyd_max_iter`, `local_lloyd_tol`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LloydParams {
    /// At most this many iterations.
    pub max_iter: usize,
    /// The tolerance of `rule`.
    pub tol: f64,
    /// What `tol` bounds.
    pub rule: StopRule,
}

impl LloydParams {
    /// SageMaker's rule: at most `max_iter` iterations, stopping once the loss falls by less than
    /// `tol` × its previous value.
    pub fn loss_rule(max_iter: usize, tol: f64) -> LloydParams {
        LloydParams { max_iter, tol, rule: StopRule::Loss }
    }

    pub fn check(self) -> Result<Checked<Self>> {
        if self.max_iter == 0 {
            return Err(invalid("local_lloyd_max_iter", self.max_iter, "an integer >= 1"));
        }
        if !(0.0..=1.0).contains(&self.tol) {
            return Err(invalid("local_lloyd_tol", self.tol, "a float in [0, 1]"));
        }
        Ok(Checked(self))
    }
}

/// Weighted Lloyd runs that shrink K centres to k (also full-batch Lloyd's restarts).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReduceParams {
    pub k: usize,
    /// `local_lloyd_init_method`.
    pub init: InitMethod,
    /// `local_lloyd_num_trials`: the run with the lowest loss is kept.
    pub num_trials: usize,
    pub lloyd: LloydParams,
    pub seed: u64,
}

impl ReduceParams {
    pub fn check(self) -> Result<Checked<Self>> {
        if self.k == 0 {
            return Err(invalid("k", self.k, "an integer >= 1"));
        }
        if self.num_trials == 0 {
            return Err(invalid("local_lloyd_num_trials", self.num_trials, "an integer >= 1"));
        }
        self.init.check()?;
        self.lloyd.check()?;
        Ok(Checked(self))
    }
}

/// The web-scale trainer's hyperparameters, SageMaker's names.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MiniBatchParams {
    /// K, the number of centres kept while streaming: k × extra_center_factor, already resolved.
    pub n_centers: usize,
    pub mini_batch_size: usize,
    pub epochs: usize,
    /// `init_method`, for seeding the K centres from the first batch.
    pub init: InitMethod,
    /// 0 = no decay; else a point's weight halves after this many later points.
    pub half_life_time_size: u64,
    /// Starved-centre reseeding: a centre whose count is below this fraction of the mean count
    /// may move (`algo::starved`); 0 never reseeds.
    pub reseed_ratio: f64,
    /// The reduction from K to k (its `k` is the final number of clusters).
    pub reduce: ReduceParams,
    /// Full-data Lloyd iterations at the end of an in-memory fit (`recipe="fastkmeans"`), from the
    /// reduction's trial chosen by the rows, or on tiny data from each, with restarts over the rows
    /// to make up five (`algo::choose`); `None` is SageMaker's recipe, which ends with the
    /// reduction's best trial.
    pub refine: Option<LloydParams>,
}

impl MiniBatchParams {
    pub fn check(self) -> Result<Checked<Self>> {
        self.reduce.check()?;
        if self.n_centers < self.reduce.k {
            return Err(invalid("n_centers", self.n_centers, "K = k * extra_center_factor >= k"));
        }
        if self.mini_batch_size == 0 {
            return Err(invalid("mini_batch_size", self.mini_batch_size, "an integer >= 1"));
        }
        if self.epochs == 0 {
            return Err(invalid("epochs", self.epochs, "an integer >= 1"));
        }
        self.init.check()?;
        if let Some(refine) = self.refine {
            refine.check()?;
        }
        if !(0.0..=1.0).contains(&self.reseed_ratio) {
            return Err(invalid("reseed_ratio", self.reseed_ratio, "a float in [0, 1]"));
        }
        Ok(Checked(self))
    }
}
