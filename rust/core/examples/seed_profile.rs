//! Profiling aid: k-means++ seeding and one mini-batch update at the UEF s1 size (5000 x 2, K = 150).
//! `cargo run --release -p fastkmeans-core --example seed_profile` (or under valgrind --tool=callgrind).
use fastkmeans_core::{Cpu, InitMethod, MiniBatchState, Points};

fn main() {
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
}
