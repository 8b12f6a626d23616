//! Times the exact silhouette of blobs (n × d, k clusters, noise scaled by `NOISE`, default 1),
//! pruned (the default) against every pair through the same fused kernel and against GEMM tiles,
//! alternated: `silhouette_profile [n] [d] [k] [reps]`; `ONLY=pruned|unpruned|tiled` times one.
//! Prints wall and process CPU seconds, and the share of pairs the pruned run computes.
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use fastkmeans_core::kernels::silhouette::{silhouette_samples_tiled, silhouette_samples_unpruned};
use fastkmeans_core::{silhouette_pairs, silhouette_samples, Points};

fn cpu_seconds() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: t is a valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let arg = |i: usize, default: usize| *args.get(i).unwrap_or(&default);
    let (n, d, k, reps) = (arg(0, 20_000), arg(1, 16), arg(2, 8), arg(3, 5));
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let centers: Vec<f64> = (0..k * d).map(|_| uniform() * 20.0 - 10.0).collect();
    let labels: Vec<u32> = (0..n).map(|i| (i % k) as u32).collect();
    let noise_scale: f64 = std::env::var("NOISE").map_or(1.0, |v| v.parse().unwrap());
    let x: Vec<f64> = (0..n * d)
        .map(|p| {
            let noise: f64 = (0..4).map(|_| uniform() - 0.5).sum::<f64>() * 2.0 * noise_scale;
            centers[labels[p / d] as usize * d + p % d] + noise
        })
        .collect();
    let points = Points::from_rows(&x, d).unwrap();
    let stop = AtomicBool::new(false);
    let (start, cpu) = (Instant::now(), cpu_seconds());
    let (computed, pairs) = silhouette_pairs(points, &labels, k).unwrap();
    println!(
        "pruned: {computed} of {pairs} pairs ({:.1}%); bounds and plan: wall {:.4} s, cpu {:.4} s",
        100.0 * computed as f64 / pairs as f64,
        start.elapsed().as_secs_f64(),
        cpu_seconds() - cpu
    );
    let only = std::env::var("ONLY").unwrap_or_default();
    for _ in 0..reps {
        for name in ["pruned", "unpruned", "tiled"] {
            if !only.is_empty() && only != name {
                continue;
            }
            let (start, cpu) = (Instant::now(), cpu_seconds());
            let s = match name {
                "pruned" => silhouette_samples(points, &labels, k, None, &stop).unwrap(),
                "unpruned" => silhouette_samples_unpruned(points, &labels, k, None, &stop).unwrap(),
                _ => silhouette_samples_tiled(points, &labels, k, None, &stop).unwrap(),
            };
            let mean = s.iter().sum::<f64>() / n as f64;
            println!(
                "{name}  wall {:.4} s  cpu {:.4} s  {mean:.15}",
                start.elapsed().as_secs_f64(),
                cpu_seconds() - cpu
            );
        }
    }
}
