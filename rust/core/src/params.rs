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
}

impl InitMethod {
    /// Plain k-means++ (one candidate per step), as SageMaker documents it for seeding.
    pub const PLAIN_KMEANS_PP: InitMethod = InitMethod::KMeansPlusPlus { local_trials: 1 };

    /// Greedy k-means++ with `2 + ⌊ln k⌋` candidates per step (Arthur & Vassilvitskii's
    /// suggestion, scikit-learn's default), used where a few centres are chosen among many points.
    pub fn greedy_kmeans_pp(k: usize) -> InitMethod {
        InitMethod::KMeansPlusPlus { local_trials: 2 + (k.max(1) as f64).ln() as usize }
    }

    /// k-means‖ with ℓ = 2k and 5 rounds.
    pub const KMEANS_PARALLEL: InitMethod = InitMethod::KMeansParallel { oversampling: 2, rounds: 5 };

    /// Fails unless the method's counts are at least 1.
    fn check(self) -> Result<()> {
        match self {
            InitMethod::KMeansPlusPlus { local_trials: 0 } => Err(invalid("local_trials", 0, "an integer >= 1")),
            InitMethod::KMeansParallel { oversampling: 0, .. } => Err(invalid("oversampling", 0, "an integer >= 1")),
            InitMethod::KMeansParallel { rounds: 0, .. } => Err(invalid("rounds", 0, "an integer >= 1")),
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

/// Stopping rules of a Lloyd run (SageMaker's `local_lloyd_max_iter`, `local_lloyd_tol`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LloydParams {
    /// At most this many iterations.
    pub max_iter: usize,
    /// Stop once the loss falls by less than `tol` × its previous value.
    pub tol: f64,
}

impl LloydParams {
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
    /// Full-data Lloyd iterations from the reduced centres at the end of an in-memory fit
    /// (`recipe="fastkmeans"`); `None` is SageMaker's recipe, which ends with the reduction.
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
