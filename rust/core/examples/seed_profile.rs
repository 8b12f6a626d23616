//! Profiling aid: k-means++ seeding and one mini-batch update at the UEF s1 size (5000 x 2, K = 150).
//! `cargo run --release -p fastkmeans-core --example seed_profile` (or under valgrind --tool=callgrind).
use fastkmeans_core::{Cpu, InitMethod, MiniBatchState, Points};

fn main() {
    // Inside a pool, as the Python bindings run the core.
    rayon::ThreadPoolBuilder::new().build().unwrap().install(run);
}

fn run() {
    let only = std::env::args().nth(1).unwrap_or_default();
    if only == "assign" {
        let x: Vec<f64> = (0..50_000).map(|i| ((i * 7919 % 10007) as f64).sin() * 10.0).collect();
        let s1: Vec<f64> = (0..10_000).map(|i| ((i * 7919 % 10007) as f64).sin() * 1e5).collect();
        let (mut labels, mut dist2) = (vec![0u32; 5000], vec![0f64; 5000]);
        use fastkmeans_core::Backend;
        for _ in 0..20 {
            let p = Points::from_rows(&x, 10).unwrap();
            Cpu.assign(p.rows(0, 500).into(), p.rows(1000, 1010), &mut labels[..500], &mut dist2[..500]).unwrap();
            let p = Points::from_rows(&s1, 2).unwrap();
            Cpu.assign(p.into(), p.rows(0, 150), &mut labels, &mut dist2).unwrap();
        }
        return;
    }
    let x: Vec<f64> = (0..10_000).map(|i| ((i * 7919 % 10007) as f64).sin() * 1e5).collect();
    let points = Points::from_rows(&x, 2).unwrap();
    let start = std::time::Instant::now();
    let reps = 50;
    let mut state = None;
    for seed in 0..reps {
        state = Some(MiniBatchState::seed(points, 150, InitMethod::PLAIN_KMEANS_PP, seed).unwrap());
    }
    println!("seed: {:.3} ms", start.elapsed().as_secs_f64() * 1e3 / reps as f64);
    let mut state = state.unwrap();
    let start = std::time::Instant::now();
    for _ in 0..reps {
        state.update(points, 0, &Cpu).unwrap();
    }
    println!("update: {:.3} ms", start.elapsed().as_secs_f64() * 1e3 / reps as f64);

    // The tutorial's shape: 5000 x 10, K = 10, 100 mini-batches of 500 (10 epochs).
    let x: Vec<f64> = (0..50_000).map(|i| ((i * 7919 % 10007) as f64).sin() * 10.0).collect();
    let points = Points::from_rows(&x, 10).unwrap();
    let params = fastkmeans_core::MiniBatchParams {
        n_centers: 10,
        mini_batch_size: 500,
        epochs: 10,
        init: InitMethod::Random,
        half_life_time_size: 0,
        reduce: fastkmeans_core::ReduceParams {
            k: 5,
            init: InitMethod::greedy_kmeans_pp(5),
            num_trials: 10,
            lloyd: fastkmeans_core::LloydParams { max_iter: 300, tol: 1e-4 },
            seed: 0,
        },
    }
    .check()
    .unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let start = std::time::Instant::now();
    for _ in 0..reps {
        fastkmeans_core::fit_minibatch(points, &params, &Cpu, &stop).unwrap();
    }
    println!("tutorial fit: {:.3} ms", start.elapsed().as_secs_f64() * 1e3 / reps as f64);

    let batch = points.rows(0, 500);
    let mut state = MiniBatchState::seed(batch, 10, InitMethod::Random, 0).unwrap();
    let start = std::time::Instant::now();
    for _ in 0..1000 {
        state.update(batch, 0, &Cpu).unwrap();
    }
    println!("update 500x10 K=10: {:.1} us", start.elapsed().as_secs_f64() * 1e6 / 1000.0);
    let mut labels = vec![0u32; 500];
    let mut dist2 = vec![0f64; 500];
    let start = std::time::Instant::now();
    for _ in 0..1000 {
        use fastkmeans_core::Backend;
        Cpu.assign(batch.into(), state.centers(), &mut labels, &mut dist2).unwrap();
    }
    println!("assign 500x10 K=10: {:.1} us", start.elapsed().as_secs_f64() * 1e6 / 1000.0);
    let start = std::time::Instant::now();
    for _ in 0..100 {
        state.reduce(&params.reduce.check().unwrap(), &Cpu, &stop).unwrap();
    }
    println!("reduce K=10 -> 5, 10 trials: {:.1} us", start.elapsed().as_secs_f64() * 1e6 / 100.0);
}
