//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses some of these

use fastkmeans_core::{InitMethod, LloydParams, ReduceParams};

/// A seeded xorshift generator of uniform values in [0, 1): test data without a rand dependency.
pub fn uniform(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Reduction parameters with greedy k-means++ seeding, 100 iterations at most, tol 1e-6.
pub fn reduce_params(k: usize, trials: usize, seed: u64) -> ReduceParams {
    ReduceParams {
        k,
        init: InitMethod::greedy_kmeans_pp(k),
        num_trials: trials,
        lloyd: LloydParams::loss_rule(100, 1e-6),
        seed,
    }
}

/// Runs `f` on a rayon pool of `threads` threads.
pub fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}
