//! Times the seeding methods on blobs like `make bench`'s (1,000,000 × 32 float32, 100 blobs):
//! `cargo run --release -p fastkmeans-core --example seeding_profile [n] [d] [k]`.

use std::time::Instant;

use rayon::prelude::*;

use fastkmeans_core::algo::init::init_centers_on;
use fastkmeans_core::kernels::parallel::{min_items, ROW_BLOCK};
use fastkmeans_core::rng::{Purpose, Rng};
use fastkmeans_core::{loss, Cpu, InitMethod, Points};
use fastkmeans_core::{Rows, Scalar};

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("an integer")).collect();
    let (n, d, k) = (
        args.first().copied().unwrap_or(1_000_000),
        args.get(1).copied().unwrap_or(32),
        args.get(2).copied().unwrap_or(100),
    );
    let x = blobs(n, d, 100, 1);
    let points = Points::from_rows(&x, d).unwrap();
    let methods = [
        ("random", InitMethod::Random),
        ("kmeans++ plain", InitMethod::PLAIN_KMEANS_PP),
        ("kmeans++ greedy", InitMethod::greedy_kmeans_pp(k)),
        ("kmeans||", InitMethod::KMEANS_PARALLEL),
    ];
    for (name, method) in methods {
        let mut best = f64::INFINITY;
        let mut ssd = 0.0;
        for _ in 0..3 {
            let mut rng = Rng::new(0, Purpose::Trial(0));
            let start = Instant::now();
            let centers = init_centers_on(points, None, k, method, &mut rng, &Cpu).unwrap();
            best = best.min(start.elapsed().as_secs_f64());
            ssd = loss(points, None, Points::from_rows(&centers, d).unwrap(), &Cpu).unwrap().ssd;
        }
        println!("{name:>16}: {:8.1} ms  seeding ssd {ssd:.4e}", best * 1e3);
    }
    // The greedy k-means++ of before (one pass over the data per candidate) and today's,
    // alternated, so that both see the same load.
    let trials = 2 + (k as f64).ln() as usize;
    let (mut before, mut now) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..2 {
        let start = Instant::now();
        let rows = old_kmeans_pp(points, None, k, trials, &mut Rng::new(0, Purpose::Trial(0)));
        before = before.min(start.elapsed().as_secs_f64());
        let start = Instant::now();
        let centers = init_centers_on(
            points,
            None,
            k,
            InitMethod::greedy_kmeans_pp(k),
            &mut Rng::new(0, Purpose::Trial(0)),
            &Cpu,
        )
        .unwrap();
        now = now.min(start.elapsed().as_secs_f64());
        let old: Vec<f32> = rows.iter().flat_map(|&i| points.row(i)).copied().collect();
        assert_eq!(old, centers, "the same seeds as before");
    }
    println!(
        "greedy k-means++ before / now, alternated: {:.1} / {:.1} ms ({:.1}x)",
        before * 1e3,
        now * 1e3,
        before / now
    );
}

/// Gaussian-ish blobs (sums of uniforms), float32, in the spirit of benches/compare.py's.
fn blobs(n: usize, d: usize, centres: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed, Purpose::SeedSample);
    let means: Vec<f32> = (0..centres * d).map(|_| (rng.uniform() * 20.0 - 10.0) as f32).collect();
    let spread: Vec<f32> = (0..centres).map(|_| (0.5 + 2.5 * rng.uniform()) as f32).collect();
    let mut x = Vec::with_capacity(n * d);
    for _ in 0..n {
        let c = rng.below(centres);
        for p in 0..d {
            let g = (0..4).map(|_| rng.uniform()).sum::<f64>() - 2.0;
            x.push(means[c * d + p] + spread[c] * (g * 1.732) as f32);
        }
    }
    x
}

/// The k-means++ of before this change (one pass over the data per candidate), for comparison.
fn old_kmeans_pp<F: Scalar, R: Rows<F>>(
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
