//! Seeding: `random` rows and k-means++ (plain or greedy, optionally weighted).

use rayon::prelude::*;

use crate::backend::Rows;
use crate::kernels::parallel::{min_items, ROW_BLOCK};
use crate::kernels::scalar::Scalar;
use crate::params::InitMethod;
use crate::rng::Rng;

/// Chooses `k` initial centres among the rows of `x` (`k <= x.n()`), returned row-major.
///
/// With weights, only rows of positive weight are chosen while any are left (a zero-weight row
/// carries no data), and k-means++ draws proportionally to weight × squared distance.
pub fn init_centers<F: Scalar, R: Rows<F>>(
    x: R,
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
    let d = x.d();
    let mut centers = vec![F::ZERO; chosen.len() * d];
    for (center, &i) in centers.chunks_exact_mut(d).zip(&chosen) {
        x.copy_row(i, center);
    }
    centers
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
fn kmeans_pp<F: Scalar, R: Rows<F>>(
    x: R,
    weights: Option<&[f64]>,
    k: usize,
    local_trials: usize,
    rng: &mut Rng,
) -> Vec<usize> {
    let n = x.n();
    let mut taken = vec![false; n];
    let mut chosen = Vec::with_capacity(k);
    let mut closest = Potential::new(n, weights);
    let mut trial = Potential::new(n, weights);

    // The first centre: drawn by weight alone (every row at "distance" 1).
    closest.set_all(1.0);
    let first = closest.draw(rng).unwrap_or_else(|| rng.below(n));
    chosen.push(first);
    taken[first] = true;
    closest.set_all(f64::INFINITY);
    let mut center = vec![F::ZERO; x.d()];
    x.copy_row(first, &mut center);
    closest.update(x, &center);

    while chosen.len() < k {
        let best = match closest.draw(rng) {
            // Every weighted row already sits on a centre: take any row not chosen yet.
            None => untaken(&taken, rng),
            Some(first_candidate) if local_trials == 1 => first_candidate,
            Some(first_candidate) => {
                // The candidate whose addition leaves the smallest potential; ties to the first drawn.
                let candidates: Vec<usize> = std::iter::once(first_candidate)
                    .chain((1..local_trials).filter_map(|_| closest.draw(rng)))
                    .collect();
                let mut best = (candidates[0], f64::INFINITY);
                for &c in &candidates {
                    trial.copy_from(&closest);
                    x.copy_row(c, &mut center);
                    trial.update(x, &center);
                    if trial.total() < best.1 {
                        best = (c, trial.total());
                    }
                }
                best.0
            }
        };
        chosen.push(best);
        taken[best] = true;
        x.copy_row(best, &mut center);
        closest.update(x, &center);
    }
    chosen
}

/// Each row's squared distance to its closest centre so far, with the potential Σ w·d² kept per
/// block of `ROW_BLOCK` rows, so that drawing a row in proportion to w·d² scans the block sums and
/// then one block, instead of a prefix sum over every row (a latency-bound chain of n additions).
struct Potential<'w> {
    d2: Vec<f64>,
    weights: Option<&'w [f64]>,
    block_sums: Vec<f64>,
}

impl<'w> Potential<'w> {
    fn new(n: usize, weights: Option<&'w [f64]>) -> Self {
        Self { d2: vec![0.0; n], weights, block_sums: vec![0.0; n.div_ceil(ROW_BLOCK)] }
    }

    fn weight(&self, i: usize) -> f64 {
        self.weights.map_or(1.0, |w| w[i])
    }

    fn copy_from(&mut self, other: &Potential<'_>) {
        self.d2.copy_from_slice(&other.d2);
        self.block_sums.copy_from_slice(&other.block_sums);
    }

    /// Every row at the same distance `value` (infinity before the first centre).
    fn set_all(&mut self, value: f64) {
        self.d2.fill(value);
        for b in 0..self.block_sums.len() {
            let rows = b * ROW_BLOCK..((b + 1) * ROW_BLOCK).min(self.d2.len());
            self.block_sums[b] = rows.map(|i| self.weight(i) * value).sum();
        }
    }

    /// d2[i] = min(d2[i], ||x_i − c||²), block sums refreshed; blocks in parallel when it pays.
    fn update<F: Scalar, R: Rows<F>>(&mut self, x: R, center: &[F]) {
        let weights = self.weights;
        let center_norm: f64 = center.iter().map(|v| v.to_f64() * v.to_f64()).sum();
        let blocks = self.d2.par_chunks_mut(ROW_BLOCK).zip(self.block_sums.par_iter_mut()).enumerate();
        blocks.with_min_len(min_items(ROW_BLOCK * x.d())).for_each(|(block, (d2, sum))| {
            let start = block * ROW_BLOCK;
            for (r, best) in d2.iter_mut().enumerate() {
                // A select, not a branch: which rows move closer is unpredictable.
                let candidate = x.sq_dist_to(start + r, center, center_norm);
                *best = if candidate < *best { candidate } else { *best };
            }
            *sum = match weights {
                None => sum_lanes(d2),
                Some(w) => {
                    let mut terms = [0.0; ROW_BLOCK];
                    for ((t, d), w) in terms.iter_mut().zip(d2.iter()).zip(&w[start..]) {
                        *t = d * w;
                    }
                    sum_lanes(&terms[..d2.len()])
                }
            };
        });
    }

    fn total(&self) -> f64 {
        self.block_sums.iter().sum()
    }

    /// A row drawn with probability w·d² / Σ w·d², or `None` when that sum is zero.
    fn draw(&self, rng: &mut Rng) -> Option<usize> {
        let total = self.total();
        if total <= 0.0 || !total.is_finite() {
            return None;
        }
        let mut u = rng.uniform() * total;
        // The block holding u; rounding can carry u past the last positive block: take that one.
        let last_positive = self.block_sums.iter().rposition(|&s| s > 0.0)?;
        let mut block = last_positive;
        for (b, &s) in self.block_sums.iter().enumerate().take(last_positive) {
            if u < s {
                block = b;
                break;
            }
            u -= s;
        }
        let rows = block * ROW_BLOCK..((block + 1) * ROW_BLOCK).min(self.d2.len());
        let mut last = None;
        for i in rows {
            let term = self.weight(i) * self.d2[i];
            if term > 0.0 {
                last = Some(i);
                if u < term {
                    return last;
                }
                u -= term;
            }
        }
        last
    }
}

/// A uniformly chosen row that is not a centre yet (one always exists since k <= n).
fn untaken(taken: &[bool], rng: &mut Rng) -> usize {
    let free: Vec<usize> = (0..taken.len()).filter(|&i| !taken[i]).collect();
    free[rng.below(free.len())]
}

/// A sum with four independent accumulators: not one chain of dependent additions.
#[inline]
fn sum_lanes(values: &[f64]) -> f64 {
    let chunks = values.chunks_exact(4);
    let tail: f64 = chunks.remainder().iter().sum();
    let mut lanes = [0.0; 4];
    for chunk in chunks {
        for l in 0..4 {
            lanes[l] += chunk[l];
        }
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail
}
