//! Seeding: `random` rows and k-means++ (plain or greedy, optionally weighted).

use rayon::prelude::*;

use crate::distance::ROW_BLOCK;
use crate::params::InitMethod;
use crate::points::{gather, Points};
use crate::rng::Rng;
use crate::scalar::Scalar;

/// Chooses `k` initial centres among the rows of `x` (`k <= x.n()`), returned row-major.
///
/// With weights, only rows of positive weight are chosen while any are left (a zero-weight row
/// carries no data), and k-means++ draws proportionally to weight × squared distance.
pub fn init_centers<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    k: usize,
    method: InitMethod,
    rng: &mut Rng,
) -> Vec<F> {
    assert!(k >= 1 && k <= x.n(), "need 1 <= k <= n");
    let chosen = match method {
        InitMethod::Random => random_rows(x.n(), weights, k, rng),
        InitMethod::KMeansPlusPlus { local_trials } => kmeans_pp(x, weights, k, local_trials.max(1), rng),
    };
    gather(x, &chosen)
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

/// k-means++ (Arthur & Vassilvitskii 2007). With `local_trials > 1` each step draws that many
/// candidates and keeps the one that lowers the potential Σ w·D² the most (greedy k-means++).
fn kmeans_pp<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    k: usize,
    local_trials: usize,
    rng: &mut Rng,
) -> Vec<usize> {
    let n = x.n();
    let weight = |i: usize| weights.map_or(1.0, |w| w[i]);
    let norms = row_norms(x);
    let mut taken = vec![false; n];
    let mut chosen = Vec::with_capacity(k);

    let all_weights: Vec<f64> = (0..n).map(weight).collect();
    let first = draw(&cumulative(&all_weights), rng).unwrap_or_else(|| rng.below(n));
    chosen.push(first);
    taken[first] = true;
    let mut closest = vec![f64::INFINITY; n];
    update_closest(x, &norms, x.row(first), &mut closest);

    while chosen.len() < k {
        let potential_terms: Vec<f64> = (0..n).map(|i| weight(i) * closest[i]).collect();
        let cumsum = cumulative(&potential_terms);
        let candidates: Vec<usize> = match draw(&cumsum, rng) {
            // Every weighted row already sits on a centre: take any row not chosen yet.
            None => vec![untaken(&taken, rng)],
            Some(first_candidate) => {
                std::iter::once(first_candidate).chain((1..local_trials).filter_map(|_| draw(&cumsum, rng))).collect()
            }
        };
        let best = if candidates.len() == 1 {
            candidates[0]
        } else {
            // The candidate whose addition leaves the smallest potential; ties to the first drawn.
            let potentials: Vec<f64> = candidates
                .iter()
                .map(|&c| {
                    let mut trial = closest.clone();
                    update_closest(x, &norms, x.row(c), &mut trial);
                    trial.iter().enumerate().map(|(i, d)| weight(i) * d).sum()
                })
                .collect();
            let mut best = 0;
            for (j, &p) in potentials.iter().enumerate() {
                if p < potentials[best] {
                    best = j;
                }
            }
            candidates[best]
        };
        chosen.push(best);
        taken[best] = true;
        update_closest(x, &norms, x.row(best), &mut closest);
    }
    chosen
}

/// Running sums of non-negative terms.
fn cumulative(terms: &[f64]) -> Vec<f64> {
    let mut total = 0.0;
    terms
        .iter()
        .map(|t| {
            total += t;
            total
        })
        .collect()
}

/// An index drawn with probability proportional to its term, or `None` when all terms are zero.
fn draw(cumsum: &[f64], rng: &mut Rng) -> Option<usize> {
    let total = *cumsum.last()?;
    if total <= 0.0 || !total.is_finite() {
        return None;
    }
    let u = rng.uniform() * total;
    let mut i = cumsum.partition_point(|&c| c <= u).min(cumsum.len() - 1);
    // Rounding can land on a zero term at the very end: step back to the last positive one.
    while i > 0 && cumsum[i] == cumsum[i - 1] {
        i -= 1;
    }
    Some(i)
}

/// A uniformly chosen row that is not a centre yet (one always exists since k <= n).
fn untaken(taken: &[bool], rng: &mut Rng) -> usize {
    let free: Vec<usize> = (0..taken.len()).filter(|&i| !taken[i]).collect();
    free[rng.below(free.len())]
}

fn row_norms<F: Scalar>(x: Points<'_, F>) -> Vec<f64> {
    (0..x.n()).into_par_iter().map(|i| x.row(i).iter().map(|&v| v.to_f64() * v.to_f64()).sum()).collect()
}

/// `closest[i] = min(closest[i], ||x_i - c||²)`, with ||x||² + ||c||² - 2 x·c (clamped at zero:
/// roundoff can make it slightly negative for a row equal to `c`).
fn update_closest<F: Scalar>(x: Points<'_, F>, norms: &[f64], center: &[F], closest: &mut [f64]) {
    let center_norm: f64 = center.iter().map(|&v| v.to_f64() * v.to_f64()).sum();
    closest.par_chunks_mut(ROW_BLOCK).enumerate().for_each(|(block, closest)| {
        let start = block * ROW_BLOCK;
        for (r, best) in closest.iter_mut().enumerate() {
            let row = x.row(start + r);
            let dot = dot_lanes(row, center);
            let d2 = (norms[start + r] + center_norm - 2.0 * dot).max(0.0);
            if d2 < *best {
                *best = d2;
            }
        }
    });
}

/// x·c with eight independent partial sums (vectorisable), widened to `f64` at the end.
#[inline]
fn dot_lanes<F: Scalar>(a: &[F], b: &[F]) -> f64 {
    let mut lanes = [F::ZERO; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(&u, &v)| u.to_f64() * v.to_f64()).sum();
    for (u, v) in ca.zip(cb) {
        for l in 0..8 {
            lanes[l] = lanes[l] + u[l] * v[l];
        }
    }
    lanes.iter().map(|v| v.to_f64()).sum::<f64>() + tail
}
