//! k-means‖ ("scalable k-means++", Bahmani, Moseley, Vattani, Kumar & Vassilvitskii 2012): a few
//! passes over the data instead of one per centre.
//!
//! 1. One row drawn by weight is the first candidate; every row's squared distance `d2` to its
//!    closest candidate (and which one) is kept.
//! 2. `rounds` times: every row is taken, independently, with probability
//!    min(1, ℓ · w · d2 / ψ), where ψ = Σ w · d2 and ℓ = `oversampling` · k; the rows taken join the
//!    candidates and every row's closest candidate is updated (one pass over the data).
//! 3. Each candidate is weighted by the total weight of the rows closest to it, and the weighted
//!    candidates are reduced to k: weighted greedy k-means++, then weighted Lloyd iterations. Both
//!    use the candidates' weights (dask-ml's reduction drops them, so a candidate standing for one
//!    row counts as much as one standing for a million).
//!
//! Defaults: ℓ = 2k and 5 rounds (the paper finds 5 rounds of ℓ = 2k as good as k-means++ on its
//! data sets; Spark uses ℓ = 2k with 2 rounds), about 10·k candidates.
//!
//! The three parts are separate functions so that sharded data (Dask partitions) can run them
//! over shards: each round, every shard reports its ψ ([`Closest::potential`]), draws its own rows
//! against the global ψ ([`Closest::oversample`]) and updates its distances to every new candidate
//! ([`Closest::update`]); at the end every shard reports its rows' weight per candidate
//! ([`Closest::candidate_weights`]), the driver adds them up, and [`reduce_candidates`] reduces
//! the candidates.
//!
//! Every draw comes from the caller's random stream in row order and every sum is taken in a
//! fixed order, so the result is the same on any number of threads.

use crate::algo::kmeanspp::{kmeans_pp_on, sum_lanes};
use crate::backend::{Backend, Rows};
use crate::error::Result;
use crate::kernels::metrics::weighted_ssd;
use crate::kernels::parallel::ROW_BLOCK;
use crate::kernels::points::Points;
use crate::kernels::scalar::Scalar;
use crate::params::InitMethod;
use crate::rng::Rng;

/// Default ℓ / k: the expected number of rows taken per round, as a multiple of k.
pub const DEFAULT_OVERSAMPLING: usize = 2;
/// Default number of oversampling rounds.
pub const DEFAULT_ROUNDS: usize = 5;
/// Weighted Lloyd iterations at most when reducing the candidates.
pub const REDUCE_MAX_ITER: usize = 100;

/// Every row's closest candidate so far and its squared distance to it (in `f64`, exact).
#[derive(Clone, Debug)]
pub struct Closest {
    pub d2: Vec<f64>,
    /// Index of the closest candidate, in the order the candidates were added.
    pub owner: Vec<u32>,
}

impl Closest {
    /// No candidate yet: every row infinitely far.
    pub fn new(n: usize) -> Self {
        Self { d2: vec![f64::INFINITY; n], owner: vec![0; n] }
    }

    /// Moves each row to the closest of `candidates` (numbered from `first` on) where it is
    /// strictly closer than its current candidate. One pass over the data through `backend`.
    pub fn update<F: Scalar, R: Rows<F>, B: Backend>(
        &mut self,
        x: R,
        candidates: Points<'_, F>,
        first: u32,
        backend: &B,
    ) -> Result<()> {
        let n = x.n();
        let mut labels = vec![0u32; n];
        let mut dist2 = vec![0f64; n];
        backend.assign(x.data(), candidates, &mut labels, &mut dist2)?;
        for i in 0..n {
            if dist2[i] < self.d2[i] {
                self.d2[i] = dist2[i];
                self.owner[i] = first + labels[i];
            }
        }
        Ok(())
    }

    /// ψ = Σ w · d2 (in a fixed order).
    pub fn potential(&self, weights: Option<&[f64]>) -> f64 {
        weighted_ssd(&self.d2, weights)
    }

    /// The rows taken in one round: row `i` with probability min(1, ℓ · w_i · d2_i / ψ), one
    /// uniform draw per row of positive weight and distance, in row order. `psi` is the potential
    /// over all the data (all shards), `l` is ℓ.
    pub fn oversample(&self, weights: Option<&[f64]>, psi: f64, l: f64, rng: &mut Rng) -> Vec<usize> {
        if psi <= 0.0 || !psi.is_finite() {
            return Vec::new();
        }
        let scale = l / psi;
        let mut taken = Vec::new();
        for (i, &d2) in self.d2.iter().enumerate() {
            let p = weights.map_or(1.0, |w| w[i]) * d2 * scale;
            if p > 0.0 && rng.uniform() < p {
                taken.push(i);
            }
        }
        taken
    }

    /// The total weight of the rows closest to each of `n_candidates` candidates: this shard's
    /// share of the candidates' weights. Summed block by block in row order.
    pub fn candidate_weights(&self, weights: Option<&[f64]>, n_candidates: usize) -> Vec<f64> {
        let mut totals = vec![0.0; n_candidates];
        for (block, owners) in self.owner.chunks(ROW_BLOCK).enumerate() {
            for (r, &c) in owners.iter().enumerate() {
                totals[c as usize] += weights.map_or(1.0, |w| w[block * ROW_BLOCK + r]);
            }
        }
        totals
    }
}

/// k-means‖ seeding of `k` centres among the rows of `x` (`k <= x.n()`), returned row-major: `rounds`
/// rounds drawing `oversampling · k` rows each (in expectation), then [`reduce_candidates`].
#[allow(clippy::too_many_arguments)]
pub fn kmeans_parallel<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    k: usize,
    oversampling: usize,
    rounds: usize,
    rng: &mut Rng,
    backend: &B,
) -> Result<Vec<F>> {
    let (n, d) = (x.n(), x.d());
    let mut closest = Closest::new(n);
    let mut candidates: Vec<usize> = Vec::new();
    let mut rows: Vec<F> = Vec::new();
    let mut add = |new: &[usize], closest: &mut Closest, candidates: &mut Vec<usize>| -> Result<()> {
        let start = rows.len();
        rows.extend(x.dense_rows(new));
        closest.update(x, Points::from_rows(&rows[start..], d)?, candidates.len() as u32, backend)?;
        candidates.extend_from_slice(new);
        Ok(())
    };
    let first = draw(&closest, weights, true, rng).unwrap_or_else(|| rng.below(n));
    add(&[first], &mut closest, &mut candidates)?;
    let l = (oversampling * k) as f64;
    for _ in 0..rounds {
        let psi = closest.potential(weights);
        let taken = closest.oversample(weights, psi, l, rng);
        if taken.is_empty() {
            break;
        }
        add(&taken, &mut closest, &mut candidates)?;
    }
    // Too few candidates (few distinct rows, or a small ℓ): more, each drawn as k-means++ would.
    while candidates.len() < k {
        let next = draw(&closest, weights, false, rng).unwrap_or_else(|| {
            let mut taken = vec![false; n];
            candidates.iter().for_each(|&c| taken[c] = true);
            let free: Vec<usize> = (0..n).filter(|&i| !taken[i]).collect();
            free[rng.below(free.len())]
        });
        add(&[next], &mut closest, &mut candidates)?;
    }
    let cw = closest.candidate_weights(weights, candidates.len());
    reduce_candidates(Points::from_rows(&rows, d)?, &cw, k, rng, backend)
}

/// A row drawn with probability w · d2 / Σ w · d2 (`by_weight`: w / Σ w), or None when that sum is
/// zero. One uniform draw; the running sum goes block by block in row order.
fn draw(closest: &Closest, weights: Option<&[f64]>, by_weight: bool, rng: &mut Rng) -> Option<usize> {
    let term = |i: usize| weights.map_or(1.0, |w| w[i]) * if by_weight { 1.0 } else { closest.d2[i] };
    let n = closest.d2.len();
    let sums: Vec<f64> = (0..n)
        .step_by(ROW_BLOCK)
        .map(|s| {
            let terms: Vec<f64> = (s..(s + ROW_BLOCK).min(n)).map(term).collect();
            sum_lanes(&terms)
        })
        .collect();
    let total: f64 = sums.iter().sum();
    if total <= 0.0 || !total.is_finite() {
        return None;
    }
    let mut u = rng.uniform() * total;
    let last_positive = sums.iter().rposition(|&s| s > 0.0)?;
    let mut block = last_positive;
    for (b, &s) in sums.iter().enumerate().take(last_positive) {
        if u < s {
            block = b;
            break;
        }
        u -= s;
    }
    let mut last = None;
    for i in block * ROW_BLOCK..((block + 1) * ROW_BLOCK).min(n) {
        let t = term(i);
        if t > 0.0 {
            last = Some(i);
            if u < t {
                return last;
            }
            u -= t;
        }
    }
    last
}

/// Reduces weighted candidates to `k` centres (row-major): weighted greedy k-means++ among them
/// (2 + ⌊ln k⌋ trials a step), then weighted Lloyd iterations over them until no candidate
/// changes centre (at most [`REDUCE_MAX_ITER`]). A centre left without weight keeps its place.
/// With `k` candidates or fewer, they are returned as they are.
pub fn reduce_candidates<F: Scalar, B: Backend>(
    candidates: Points<'_, F>,
    weights: &[f64],
    k: usize,
    rng: &mut Rng,
    backend: &B,
) -> Result<Vec<F>> {
    let (m, d) = (candidates.n(), candidates.d());
    if m <= k {
        return Ok(candidates.as_slice().to_vec());
    }
    let chosen = kmeans_pp_on(candidates, Some(weights), k, InitMethod::greedy_trials(k), rng, backend)?;
    let mut centers = candidates.dense_rows(&chosen);
    let mut labels = vec![u32::MAX; m];
    let mut next = vec![0u32; m];
    let mut dist2 = vec![0f64; m];
    for _ in 0..REDUCE_MAX_ITER {
        backend.assign(candidates.into(), Points::from_rows(&centers, d)?, &mut next, &mut dist2)?;
        if next == labels {
            break;
        }
        std::mem::swap(&mut labels, &mut next);
        candidates.move_to_means(Some(weights), &labels, &mut centers);
    }
    Ok(centers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::evaluate::loss;
    use crate::algo::kmeanspp::kmeans_pp;
    use crate::algo::kmeanspp::tests::blobs;
    use crate::backend::Cpu;
    use crate::rng::Purpose;

    fn seed(x: Points<'_, f32>, weights: Option<&[f64]>, k: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed, Purpose::Trial(0));
        kmeans_parallel(x, weights, k, DEFAULT_OVERSAMPLING, DEFAULT_ROUNDS, &mut rng, &Cpu).unwrap()
    }

    fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
    }

    #[test]
    fn is_deterministic_and_the_same_on_any_thread_count() {
        let x = blobs(20_000, 6, 25, 1);
        let points = Points::from_rows(&x, 6).unwrap();
        let weights: Vec<f64> = (0..20_000).map(|i| 1.0 + (i % 5) as f64).collect();
        for w in [None, Some(&weights[..])] {
            let one = in_pool(1, || seed(points, w, 25, 7));
            let two = in_pool(2, || seed(points, w, 25, 7));
            let again = in_pool(3, || seed(points, w, 25, 7));
            assert_eq!(one, two);
            assert_eq!(one, again);
            assert_ne!(one, in_pool(2, || seed(points, w, 25, 8)), "another seed, other centres");
        }
    }

    #[test]
    fn quality_is_comparable_to_greedy_kmeans_pp() {
        let (d, k) = (8, 30);
        let x = blobs(30_000, d, k, 2);
        let points = Points::from_rows(&x, d).unwrap();
        let ssd = |centers: &[f32]| loss(points, None, Points::from_rows(centers, d).unwrap(), &Cpu).unwrap().ssd;
        let (mut parallel, mut plus_plus) = (0.0, 0.0);
        for s in 0..5 {
            parallel += ssd(&seed(points, None, k, s));
            let mut rng = Rng::new(s, Purpose::Trial(0));
            let rows = kmeans_pp(points, None, k, 2 + (k as f64).ln() as usize, &mut rng, true);
            plus_plus += ssd(&rows.iter().flat_map(|&i| points.row(i)).copied().collect::<Vec<f32>>());
        }
        assert!(parallel <= 1.1 * plus_plus, "k-means|| {parallel} against k-means++ {plus_plus}");
    }

    #[test]
    fn the_reduction_weighs_each_candidate_by_its_rows() {
        // A candidate standing for a million rows at 0 and two single rows beside it: the weighted
        // mean stays at 0 (an unweighted reduction would put it at 1).
        let candidates = [0.0f32, 1.0, 2.0, 10.0];
        let points = Points::from_rows(&candidates, 1).unwrap();
        let mut rng = Rng::new(0, Purpose::Trial(0));
        let mut centers = reduce_candidates(points, &[1e6, 1.0, 1.0, 1.0], 2, &mut rng, &Cpu).unwrap();
        centers.sort_by(|a, b| a.total_cmp(b));
        assert!(centers[0].abs() < 1e-4, "{centers:?}");
        assert_eq!(centers[1], 10.0);
    }

    #[test]
    fn candidate_weights_add_up_to_the_rows_weight() {
        let x = blobs(5_000, 3, 10, 3);
        let points = Points::from_rows(&x, 3).unwrap();
        let weights: Vec<f64> = (0..5_000).map(|i| (i % 3) as f64).collect();
        let mut closest = Closest::new(5_000);
        let candidates: Vec<f32> = x[..3 * 40].to_vec();
        closest.update(points, Points::from_rows(&candidates, 3).unwrap(), 0, &Cpu).unwrap();
        let per_candidate = closest.candidate_weights(Some(&weights), 40);
        assert_eq!(per_candidate.iter().sum::<f64>(), weights.iter().sum::<f64>());
        let mut rng = Rng::new(1, Purpose::Trial(0));
        let psi = closest.potential(Some(&weights));
        let taken = closest.oversample(Some(&weights), psi, 50.0, &mut rng);
        assert!(taken.iter().all(|&i| weights[i] > 0.0), "a zero-weight row is never drawn");
        assert!((10..=120).contains(&taken.len()), "about ℓ = 50 rows drawn, got {}", taken.len());
    }

    #[test]
    fn zero_rounds_or_oversampling_are_refused_by_name() {
        use crate::params::{LloydParams, ReduceParams};
        let params = |init| ReduceParams { k: 2, init, num_trials: 1, lloyd: LloydParams::loss_rule(5, 0.0), seed: 0 };
        let error = params(InitMethod::KMeansParallel { oversampling: 0, rounds: 5 }).check().unwrap_err();
        assert!(error.to_string().contains("oversampling"), "{error}");
        let error = params(InitMethod::KMeansParallel { oversampling: 2, rounds: 0 }).check().unwrap_err();
        assert!(error.to_string().contains("rounds"), "{error}");
        assert!(params(InitMethod::KMEANS_PARALLEL).check().is_ok());
    }

    #[test]
    fn few_distinct_rows_still_give_k_centres() {
        let x = [0.0f32, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 5.0, 5.0];
        let points = Points::from_rows(&x, 2).unwrap();
        for k in 1..=5 {
            let centers = seed(points, None, k, 0);
            assert_eq!(centers.len(), 2 * k);
            assert!(centers.iter().all(|v| v.is_finite()));
        }
    }
}
