//! Times the passes of one Lloyd run with the bounded pass and reports the rows it scanned:
//! `cargo run --release -p fastkmeans-core --example lloyd_passes -- N D K [ITERS] [plain] [best=R]`.
//! With `best=R` the run is repeated R times from the same centres and each pass's best time is
//! printed (the machine is shared: the best of several is the steadier figure).
//! The data are Gaussian blobs like benches/compare.py's (K blobs, spreads 0.5–3, means in ±10).

use std::time::Instant;

use fastkmeans_core::kernels::bounds::{assign_and_sum_bounded, Bounds};
use fastkmeans_core::kernels::fused::assign_and_sum;
use fastkmeans_core::Points;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (n, d, k, iters) = (arg(1, 200_000), arg(2, 128), arg(3, 1000), arg(4, 10));
    let plain = args.iter().any(|a| a == "plain");
    let mut state = 0x9E3779B97F4A7C15u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let means: Vec<f64> = (0..k * d).map(|_| uniform() * 20.0 - 10.0).collect();
    let spread: Vec<f64> = (0..k).map(|_| 0.5 + 2.5 * uniform()).collect();
    let mut x = Vec::with_capacity(n * d);
    for _ in 0..n {
        let g = ((uniform() * k as f64) as usize).min(k - 1);
        for p in 0..d {
            let z = (-2.0 * uniform().max(1e-300).ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos();
            x.push((means[g * d + p] + spread[g] * z) as f32);
        }
    }
    let points = Points::from_rows(&x, d).unwrap();
    let mut centers: Vec<f32> = (0..k).flat_map(|j| x[(j * 97 % n) * d..(j * 97 % n + 1) * d].to_vec()).collect();
    let (mut labels, mut dist2) = (vec![0u32; n], vec![0f64; n]);
    if args.iter().any(|a| a == "ab") {
        // The first (full) pass, unpruned and bounded, taking turns: best of five each.
        let c = Points::from_rows(&centers, d).unwrap();
        let (mut plain_ms, mut bounded_ms) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..5 {
            let start = Instant::now();
            assign_and_sum(points, None, c, &mut labels, &mut dist2);
            plain_ms = plain_ms.min(start.elapsed().as_secs_f64() * 1e3);
            let mut fresh = Bounds::new();
            let start = Instant::now();
            assign_and_sum_bounded(points, None, c, &mut labels, &mut dist2, &mut fresh);
            bounded_ms = bounded_ms.min(start.elapsed().as_secs_f64() * 1e3);
        }
        println!("first pass: unpruned {plain_ms:.1} ms, bounded {bounded_ms:.1} ms");
        return;
    }
    let reps = args.iter().find_map(|a| a.strip_prefix("best=")?.parse().ok()).unwrap_or(1usize);
    let first_centers = centers.clone();
    let mut best = vec![f64::INFINITY; iters + 1];
    for rep in 0..reps {
        // Fresh bounds make the first pass a full scan, which sets every label: the labels left
        // by the run before are not read.
        centers.clone_from(&first_centers);
        let mut bounds = Bounds::new();
        for (pass, best) in best.iter_mut().enumerate() {
            let c = Points::from_rows(&centers, d).unwrap();
            let start = Instant::now();
            let sums = if plain {
                assign_and_sum(points, None, c, &mut labels, &mut dist2)
            } else {
                assign_and_sum_bounded(points, None, c, &mut labels, &mut dist2, &mut bounds)
            };
            *best = best.min(start.elapsed().as_secs_f64() * 1e3);
            if rep + 1 == reps {
                let loss: f64 = dist2.iter().sum();
                let work = bounds.pairs as f64 / (n * k) as f64;
                println!(
                    "pass {pass:2}: {:8.1} ms, scanned {:>8} rows, {:5.1}% of the scores, loss {loss:.6e}",
                    *best,
                    bounds.scanned,
                    work * 100.0
                );
            }
            sums.move_centers(&mut centers);
        }
    }
    let total: f64 = best.iter().sum();
    println!("total {total:.1} ms, {:.1} ms per pass", total / (iters + 1) as f64);
}
