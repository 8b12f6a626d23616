//! Seeding: `random` rows, k-means++ (plain or greedy, optionally weighted; [`crate::algo::kmeanspp`])
//! k-means‖ ([`crate::algo::kmeans_parallel`]) and the k-means of a coreset ([`crate::algo::coreset`]).

use crate::algo::coreset::coreset_seeding;
use crate::algo::kmeans_parallel::kmeans_parallel;
use crate::algo::kmeanspp::kmeans_pp_on;
use crate::backend::{Backend, Cpu, Rows};
use crate::error::Result;
use crate::kernels::scalar::Scalar;
use crate::params::InitMethod;
use crate::rng::Rng;

/// Chooses `k` initial centres among the rows of `x` (`k <= x.n()`), returned row-major, on the
/// CPU ([`init_centers_on`] with [`Cpu`]).
pub fn init_centers<F: Scalar, R: Rows<F>>(
    x: R,
    weights: Option<&[f64]>,
    k: usize,
    method: InitMethod,
    rng: &mut Rng,
) -> Vec<F> {
    init_centers_on(x, weights, k, method, rng, &Cpu).expect("the CPU backend does not fail")
}

/// Chooses `k` initial centres among the rows of `x` (`k <= x.n()`), returned row-major; k-means‖
/// assigns the data to its candidates through `backend`, and k-means++ runs on its device where
/// it takes the rows ([`kmeans_pp_on`]: the same rows either way).
///
/// With weights, only rows of positive weight are chosen while any are left (a zero-weight row
/// carries no data), and k-means++ draws proportionally to weight × squared distance.
pub fn init_centers_on<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    k: usize,
    method: InitMethod,
    rng: &mut Rng,
    backend: &B,
) -> Result<Vec<F>> {
    assert!(k >= 1 && k <= x.n(), "need 1 <= k <= n");
    let chosen = match method {
        InitMethod::Random => random_rows(x.n(), weights, k, rng),
        InitMethod::KMeansPlusPlus { local_trials } => kmeans_pp_on(x, weights, k, local_trials.max(1), rng, backend)?,
        InitMethod::KMeansPlusPlusThenRandom { plus_plus } => {
            kmeans_pp_then_random(x, weights, k, plus_plus, rng, backend)?
        }
        InitMethod::Coreset { rows_per_center, trials } => {
            return coreset_seeding(x, weights, k, rows_per_center, trials, rng, backend);
        }
        InitMethod::KMeansParallel { oversampling, rounds } => {
            return kmeans_parallel(x, weights, k, oversampling, rounds, rng, backend);
        }
    };
    Ok(x.dense_rows(&chosen))
}

/// `k` distinct rows chosen uniformly, preferring rows of positive weight.
fn random_rows(n: usize, weights: Option<&[f64]>, k: usize, rng: &mut Rng) -> Vec<usize> {
    let Some(w) = weights else { return rng.sample(n, k) };
    let (positive, zero): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| w[i] > 0.0);
    if positive.len() >= k {
        return rng.sample(positive.len(), k).into_iter().map(|j| positive[j]).collect();
    }
    let rest = rng.sample(zero.len(), k - positive.len()).into_iter().map(|j| zero[j]);
    positive.iter().copied().chain(rest).collect()
}

/// Plain k-means++ for the first `plus_plus` of `k` rows, then the others uniformly among the rows
/// not chosen yet (preferring rows of positive weight, as [`random_rows`]).
fn kmeans_pp_then_random<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    k: usize,
    plus_plus: usize,
    rng: &mut Rng,
    backend: &B,
) -> Result<Vec<usize>> {
    let mut chosen = kmeans_pp_on(x, weights, plus_plus.min(k), 1, rng, backend)?;
    if chosen.len() < k {
        let mut taken = vec![false; x.n()];
        chosen.iter().for_each(|&i| taken[i] = true);
        let rest: Vec<usize> = (0..x.n()).filter(|&i| !taken[i]).collect();
        let rest_weights: Option<Vec<f64>> = weights.map(|w| rest.iter().map(|&i| w[i]).collect());
        let drawn = random_rows(rest.len(), rest_weights.as_deref(), k - chosen.len(), rng);
        chosen.extend(drawn.into_iter().map(|j| rest[j]));
    }
    Ok(chosen)
}
