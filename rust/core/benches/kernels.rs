//! Criterion benches for the core kernels: `cargo bench -p fastkmeans-core`.

use std::hint::black_box;
use std::sync::atomic::AtomicBool;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fastkmeans_core::kernels::scatter::scatter;
use fastkmeans_core::{Backend, Cpu, InitMethod, MiniBatchState, Points, Rows};

fn data(n: usize, d: usize, seed: u32) -> Vec<f32> {
    // A cheap deterministic generator: benches need data, not statistics.
    let mut state = seed.wrapping_mul(2654435761).max(1);
    (0..n * d)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state as f32 / u32::MAX as f32) * 10.0
        })
        .collect()
}

fn assignment(c: &mut Criterion) {
    let mut group = c.benchmark_group("assign");
    group.sample_size(10);
    for &(n, d, k) in &[(100_000usize, 32usize, 100usize), (20_000, 128, 1000), (10_000, 784, 10)] {
        let x = data(n, d, 1);
        let centers = data(k, d, 2);
        let (x, centers) = (Points::from_rows(&x, d).unwrap(), Points::from_rows(&centers, d).unwrap());
        let mut labels = vec![0u32; n];
        let mut dist2 = vec![0f64; n];
        group.throughput(Throughput::Elements((n * k * d * 2) as u64));
        group.bench_function(format!("{n}x{d}_k{k}"), |b| {
            b.iter(|| Cpu.assign(black_box(x).into(), black_box(centers), &mut labels, &mut dist2).unwrap())
        });
        // One Lloyd pass: the same assignment, plus the sums of the next M step.
        group.bench_function(format!("{n}x{d}_k{k}_with_sums"), |b| {
            b.iter(|| {
                Cpu.assign_and_sum(black_box(x).into(), None, black_box(centers), &mut labels, &mut dist2).unwrap()
            })
        });
    }
    group.finish();
}

fn minibatch_update(c: &mut Criterion) {
    let (b, d, k) = (5000, 32, 1000);
    let batch = data(b, d, 3);
    let batch = Points::from_rows(&batch, d).unwrap();
    let state = MiniBatchState::seed(batch, k, InitMethod::Random, 0).unwrap();
    c.bench_function("minibatch_update_5000x32_K1000", |bench| {
        bench.iter_batched(
            || state.clone(),
            |mut s| s.update(batch, 0, &Cpu).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });
}

fn reduction(c: &mut Criterion) {
    let (kk, d, k) = (1000, 32, 100);
    let centers = data(kk, d, 4);
    let counts: Vec<f64> = (0..kk).map(|i| (i % 17 + 1) as f64).collect();
    let params = fastkmeans_core::ReduceParams {
        k,
        init: InitMethod::greedy_kmeans_pp(k),
        num_trials: 10,
        lloyd: fastkmeans_core::LloydParams::loss_rule(300, 1e-4),
        seed: 0,
    }
    .check()
    .unwrap();
    let stop = AtomicBool::new(false);
    let mut group = c.benchmark_group("reduce");
    group.sample_size(10);
    group.bench_function("K1000_to_k100_d32_10_trials", |b| {
        b.iter(|| {
            fastkmeans_core::reduce(Points::from_rows(&centers, d).unwrap(), &counts, &params, &Cpu, &stop).unwrap()
        })
    });
    group.finish();
}

/// The data's mean and scatter (the centre-shift rule's variance): one blocked pass against the
/// mean, then an assignment to it, the way it was computed before.
fn variance(c: &mut Criterion) {
    let mut group = c.benchmark_group("variance");
    group.sample_size(10);
    let big = data(1_000_000, 32, 4);
    let wide: Vec<f64> = data(10_000, 784, 5).iter().map(|&v| v as f64).collect();
    fn both<F: fastkmeans_core::Scalar>(
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        x: Points<'_, F>,
        name: &str,
    ) {
        group.bench_function(format!("{name}_one_pass"), |b| b.iter(|| scatter(black_box(x), None).scatter));
        let (mut labels, mut dist2) = (vec![0u32; x.n()], vec![0f64; x.n()]);
        group.bench_function(format!("{name}_mean_then_assign"), |b| {
            b.iter(|| {
                let mut mean = vec![F::ZERO; x.d()];
                black_box(x).move_to_means(None, &vec![0u32; x.n()], &mut mean);
                Cpu.assign(x.into(), Points::from_rows(&mean, x.d()).unwrap(), &mut labels, &mut dist2).unwrap();
                dist2.iter().sum::<f64>()
            })
        });
    }
    both(&mut group, Points::from_rows(&big, 32).unwrap(), "1000000x32_f32");
    both(&mut group, Points::from_rows(&wide, 784).unwrap(), "10000x784_f64");
    group.finish();
}

criterion_group!(benches, assignment, minibatch_update, reduction, variance);
criterion_main!(benches);
