//! Times the seeding methods on blobs like `make bench`'s (1,000,000 × 32 float32, 100 blobs):
//! `cargo run --release -p fastkmeans-core --example seeding_profile [n] [d] [k]`.

use std::time::Instant;

use fastkmeans_core::algo::init::init_centers_on;
use fastkmeans_core::rng::{Purpose, Rng};
use fastkmeans_core::{loss, Cpu, InitMethod, Points};

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
