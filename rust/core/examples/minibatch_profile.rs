//! Profiling aid for the shapes of `make bench`, on 1,000,000 x 32 float32 blobs with k = 100:
//! `assign` (brute force; `assign64` the same rows as float64), `epoch` (one shuffled mini-batch
//! epoch, K = 100, batches of 5,000), `fit` (the same with seeding, reduction and labels),
//! `defaults` (SageMaker's defaults, K = 1,000, timed part by part), `lloyd` (10 Lloyd iterations
//! on raw float32 files /tmp/fmnist.f32 and /tmp/fmnist_c0.f32, 70,000 x 784 and 10 x 784,
//! written by hand from benches/compare.py's data) and `bench_epoch` (the `epoch` of `make bench`
//! itself: its 1,000,000 x 32 blobs and 100 starting centres as raw float32 files /tmp/bx.f32 and
//! /tmp/bc0.f32, written the same way) and `k1000` (11 bounded Lloyd passes over the bench's
//! 200,000 x 128 blobs from its 1,000 centres, /tmp/b3x.f32 and /tmp/b3c0.f32, with the time and
//! the rows scanned per pass). With `MISALIGN=1` the data starts 16 bytes into a cache line, as
//! numpy's large arrays do.
//! `cargo run --release -p fastkmeans-core --example minibatch_profile [MODE [REPS]]`; for perf,
//! build with `CARGO_PROFILE_RELEASE_STRIP=none CARGO_PROFILE_RELEASE_DEBUG=1`.
use std::time::Instant;

use fastkmeans_core::{Backend, Cpu, InitMethod, LloydParams, MiniBatchParams, Points, ReduceParams};

fn blobs(n: usize, d: usize, k: usize) -> Vec<f32> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32
    };
    let means: Vec<f32> = (0..k * d).map(|_| uniform() * 20.0 - 10.0).collect();
    let mut x = Vec::with_capacity(n * d);
    for _ in 0..n {
        let owner = (uniform() * k as f32) as usize % k;
        for j in 0..d {
            // A sum of uniforms: roughly Gaussian, spread about 1.
            let noise = (0..4).map(|_| uniform()).sum::<f32>() - 2.0;
            x.push(means[owner * d + j] + 1.7 * noise);
        }
    }
    x
}

fn main() {
    rayon::ThreadPoolBuilder::new().build().unwrap().install(run);
}

fn run() {
    let only = std::env::args().nth(1).unwrap_or_default();
    let reps: usize = std::env::args().nth(2).and_then(|r| r.parse().ok()).unwrap_or(5);
    if only == "k1000" {
        let x = huge_copy(&read_f32("/tmp/b3x.f32"));
        let c0 = read_f32("/tmp/b3c0.f32");
        let points = Points::from_rows(x, 128).unwrap();
        let (n, d) = (points.n(), 128);
        for _ in 0..reps {
            let mut centers = c0.clone();
            let (mut labels, mut dist2, mut bounds) =
                (vec![0u32; n], vec![0f64; n], fastkmeans_core::kernels::bounds::Bounds::new());
            let mut line = String::new();
            let start = Instant::now();
            for _ in 0..11 {
                let t = Instant::now();
                let c = Points::from_rows(&centers, d).unwrap();
                let sums = fastkmeans_core::kernels::bounds::assign_and_sum_bounded(
                    points,
                    None,
                    c,
                    &mut labels,
                    &mut dist2,
                    &mut bounds,
                );
                sums.move_centers(&mut centers);
                line += &format!(" {:.0}ms/{}k", t.elapsed().as_secs_f64() * 1e3, bounds.scanned / 1000);
            }
            println!("k1000: {:.1} ms per pass;{line}", start.elapsed().as_secs_f64() * 1e3 / 11.0);
        }
        return;
    }
    if only == "lloyd" {
        // Raw float32 files written by hand from benches/compare.py's data (70,000 x 784, k = 10).
        let x = huge_copy(&read_f32("/tmp/fmnist.f32"));
        let c0 = read_f32("/tmp/fmnist_c0.f32");
        let points = Points::from_rows(x, 784).unwrap();
        let params = LloydParams { max_iter: 10, tol: 0.0 }.check().unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        for _ in 0..reps {
            let start = Instant::now();
            let fit = fastkmeans_core::lloyd(points, None, c0.clone(), &params, &Cpu, &stop).unwrap();
            println!(
                "lloyd: {:.2} ms per pass ({} passes)",
                start.elapsed().as_secs_f64() * 1e3 / 11.0,
                fit.n_iter + 1
            );
        }
        return;
    }
    let (n, d, k) = (1_000_000, 32, 100);
    let x = blobs(n, d, k);
    // numpy asks for transparent huge pages on large arrays; so does this copy.
    let x = huge_copy(&x);
    let points = Points::from_rows(x, d).unwrap();
    if only.is_empty() || only == "assign" {
        let centers = points.rows(0, k);
        let (mut labels, mut dist2) = (vec![0u32; n], vec![0f64; n]);
        for _ in 0..reps {
            let start = Instant::now();
            Cpu.assign(points.into(), centers, &mut labels, &mut dist2).unwrap();
            println!("assign: {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
        }
    }
    if only == "assign64" {
        let x64: Vec<f64> = points.as_slice().iter().map(|&v| v as f64).collect();
        let points64 = Points::from_rows(&x64, d).unwrap();
        let (mut labels, mut dist2) = (vec![0u32; n], vec![0f64; n]);
        for _ in 0..reps {
            let start = Instant::now();
            Cpu.assign(points64.into(), points64.rows(0, k), &mut labels, &mut dist2).unwrap();
            println!("assign64: {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
        }
    }
    if only == "defaults" {
        // SageMaker's defaults for k = 100: K = 1000 streaming centres, 10 reduction trials.
        let stop = std::sync::atomic::AtomicBool::new(false);
        let reduce = ReduceParams {
            k,
            init: InitMethod::greedy_kmeans_pp(k),
            num_trials: 10,
            lloyd: LloydParams { max_iter: 300, tol: 1e-4 },
            seed: 0,
        }
        .check()
        .unwrap();
        for _ in 0..reps {
            let t = Instant::now();
            let sample = points.rows(0, 5000);
            let mut state =
                fastkmeans_core::MiniBatchState::seed(sample, 10 * k, InitMethod::PLAIN_KMEANS_PP, 0).unwrap();
            let seeded = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            state.update_epoch(points, 0, 0, 5000, 0, &Cpu, &stop).unwrap();
            let epoch = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            let reduced = state.reduce(&reduce, &Cpu, &stop).unwrap();
            let reduction = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            let (mut labels, mut dist2) = (vec![0u32; n], vec![0f64; n]);
            Cpu.assign(points.into(), Points::from_rows(&reduced.centers, d).unwrap(), &mut labels, &mut dist2)
                .unwrap();
            let labelling = t.elapsed().as_secs_f64() * 1e3;
            println!("defaults: seed {seeded:.1} ms, epoch {epoch:.1} ms, reduce {reduction:.1} ms ({} iterations), labels {labelling:.1} ms", reduced.n_iter);
        }
    }
    if only == "bench_epoch" {
        let x = huge_copy(&read_f32("/tmp/bx.f32"));
        let c0 = read_f32("/tmp/bc0.f32");
        let points = Points::from_rows(x, d).unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        let seeded =
            fastkmeans_core::MiniBatchState::from_parts(c0, vec![0.0; k], d, 0, vec![], vec![], vec![]).unwrap();
        for _ in 0..reps {
            let mut state = seeded.clone();
            let start = Instant::now();
            state.update_epoch(points, 0, 0, 5000, 0, &Cpu, &stop).unwrap();
            println!(
                "bench epoch: {:.1} ms, far points {}",
                start.elapsed().as_secs_f64() * 1e3,
                state.far_weights.len()
            );
        }
        return;
    }
    if only.is_empty() || only == "epoch" {
        let stop = std::sync::atomic::AtomicBool::new(false);
        let seeded =
            fastkmeans_core::MiniBatchState::seed(points.rows(0, 5000), k, InitMethod::PLAIN_KMEANS_PP, 0).unwrap();
        for _ in 0..reps {
            let mut state = seeded.clone();
            let start = Instant::now();
            state.update_epoch(points, 0, 0, 5000, 0, &Cpu, &stop).unwrap();
            println!("epoch: {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
        }
    }
    if only.is_empty() || only == "fit" {
        let params = MiniBatchParams {
            n_centers: k,
            mini_batch_size: 5000,
            epochs: 1,
            init: InitMethod::PLAIN_KMEANS_PP,
            half_life_time_size: 0,
            reduce: ReduceParams {
                k,
                init: InitMethod::greedy_kmeans_pp(k),
                num_trials: 1,
                lloyd: LloydParams { max_iter: 300, tol: 1e-4 },
                seed: 0,
            },
        }
        .check()
        .unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        for _ in 0..reps {
            let start = Instant::now();
            fastkmeans_core::fit_minibatch(points, &params, &Cpu, &stop).unwrap();
            println!("fit (factor 1): {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
        }
    }
}

/// A raw little-endian float32 file, written by hand from benches/compare.py's data.
fn read_f32(path: &str) -> Vec<f32> {
    std::fs::read(path).unwrap().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
}

/// A copy of `x` in memory advised for transparent huge pages (as numpy allocates large arrays).
fn huge_copy(x: &[f32]) -> &'static [f32] {
    let bytes = x.len() * 4;
    let align = 2 << 20;
    let layout = std::alloc::Layout::from_size_align((bytes + 64).div_ceil(align) * align, align).unwrap();
    // SAFETY: a fresh allocation of the layout's size, filled before use and never freed.
    unsafe {
        let ptr = std::alloc::alloc(layout);
        libc::madvise(ptr.cast(), layout.size(), libc::MADV_HUGEPAGE);
        // MISALIGN: start 16 bytes into the allocation, as numpy's large arrays do.
        let skip = if std::env::var_os("MISALIGN").is_some() { 4 } else { 0 };
        let out = std::slice::from_raw_parts_mut(ptr.cast::<f32>().add(skip), x.len());
        out.copy_from_slice(x);
        out
    }
}
