//! The coreset seeding of full-data Lloyd (`InitMethod::Coreset`, issue 15).

use fastkmeans_core::algo::coreset::{draw_coreset, MIN_ROWS, MIN_SHRINK};
use fastkmeans_core::algo::init::init_centers;
use fastkmeans_core::rng::{Purpose, Rng};
use fastkmeans_core::{Error, InitMethod, Points, ReduceParams};

mod common;
use common::{in_pool, reduce_params, uniform};

/// Rows large enough for a coreset of k = 8 (at least MIN_SHRINK · MIN_ROWS).
const N: usize = MIN_SHRINK * MIN_ROWS + 1000;

/// `N` rows in `groups` tight groups 100 apart along the first feature, plus `far` rows 10,000
/// away, last.
fn groups(groups: usize, far: usize, seed: u64) -> Vec<f64> {
    let mut next = uniform(seed);
    (0..N)
        .flat_map(|i| {
            let x = if i >= N - far { 10_000.0 } else { (i % groups) as f64 * 100.0 };
            [x + next(), next()]
        })
        .collect()
}

fn seed(points: Points<'_, f64>, weights: Option<&[f64]>, k: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed, Purpose::Trial(0));
    fastkmeans_core::algo::init::init_centers_on(
        points,
        weights,
        k,
        InitMethod::CORESET,
        &mut rng,
        &fastkmeans_core::Cpu,
    )
    .unwrap()
}

#[test]
fn data_too_small_for_a_coreset_is_seeded_by_greedy_kmeans_pp_over_every_row() {
    let (n, d, k) = (MIN_SHRINK * MIN_ROWS - 1, 2, 8);
    let mut next = uniform(3);
    let x: Vec<f64> = (0..n * d).map(|_| next()).collect();
    let points = Points::from_rows(&x, d).unwrap();
    for s in 0..3 {
        let greedy =
            init_centers(points, None, k, InitMethod::greedy_kmeans_pp(k), &mut Rng::new(s, Purpose::Trial(0)));
        assert_eq!(seed(points, None, k, s), greedy, "seed {s}");
    }
}

#[test]
fn a_rare_far_group_gets_a_centre_that_a_uniform_sample_would_miss() {
    // 12 of 66,536 rows sit far away: a uniform sample of 4,096 rows holds none of them with
    // probability (1 - 12/66,536)^4,096 = 48%. Drawn by distance to the mean, they hold almost all
    // the spread, so the coreset always holds them, and the seeding gives them a centre.
    let (d, k) = (2, 9);
    let x = groups(8, 12, 1);
    let points = Points::from_rows(&x, d).unwrap();
    for s in 0..6 {
        let centers = seed(points, None, k, s);
        let mut found: Vec<i64> = centers.chunks_exact(d).map(|c| (c[0] / 100.0).round() as i64).collect();
        found.sort();
        assert_eq!(found, vec![0, 1, 2, 3, 4, 5, 6, 7, 100], "seed {s}: one centre per group");
    }
}

#[test]
fn the_coreset_weights_estimate_the_total_weight_and_favour_far_rows() {
    let d = 2;
    let x = groups(8, 12, 2);
    let points = Points::from_rows(&x, d).unwrap();
    let weights: Vec<f64> = (0..N).map(|i| 1.0 + (i % 3) as f64).collect();
    let total: f64 = weights.iter().sum();
    let (rows, w) = draw_coreset(points, Some(&weights), 4096, &mut Rng::new(5, Purpose::Trial(0))).unwrap();
    assert!(rows.windows(2).all(|p| p[0] < p[1]), "distinct rows in increasing order");
    assert!(w.iter().all(|&v| v > 0.0));
    let estimate: f64 = w.iter().sum();
    assert!((estimate / total - 1.0).abs() < 0.05, "{estimate} estimates {total}");
    // The far rows: drawn (several times each), each standing for little more than itself.
    let far: Vec<usize> = rows.iter().enumerate().filter(|(_, &i)| i >= N - 12).map(|(j, _)| j).collect();
    assert_eq!(far.len(), 12);
    assert!(far.iter().all(|&j| w[j] <= 2.0 * weights[rows[j]]), "{:?}", far.iter().map(|&j| w[j]).collect::<Vec<_>>());
    // No weight, no coreset.
    assert!(draw_coreset(points, Some(&vec![0.0; N]), 4096, &mut Rng::new(5, Purpose::Trial(0))).is_none());
}

#[test]
fn weights_scaled_by_two_give_the_same_bits_and_zero_weight_rows_are_never_drawn() {
    let (d, k) = (2, 8);
    let x = groups(8, 0, 3);
    let points = Points::from_rows(&x, d).unwrap();
    assert_eq!(seed(points, Some(&vec![2.0; N]), k, 4), seed(points, None, k, 4));
    let half: Vec<f64> = (0..N).map(|i| (i % 2) as f64).collect();
    let (rows, _) = draw_coreset(points, Some(&half), 4096, &mut Rng::new(1, Purpose::Trial(0))).unwrap();
    assert!(rows.iter().all(|&i| i % 2 == 1));
}

#[test]
fn the_coreset_seeding_gives_identical_bits_on_any_thread_count() {
    let (d, k) = (2, 9);
    let x = groups(8, 12, 4);
    let points = Points::from_rows(&x, d).unwrap();
    let one = in_pool(1, || seed(points, None, k, 7));
    for threads in [2, 3] {
        assert_eq!(in_pool(threads, || seed(points, None, k, 7)), one, "{threads} threads");
    }
}

#[test]
fn coreset_counts_must_be_at_least_one() {
    for init in
        [InitMethod::Coreset { rows_per_center: 0, trials: 5 }, InitMethod::Coreset { rows_per_center: 32, trials: 0 }]
    {
        let params = ReduceParams { init, ..reduce_params(3, 1, 0) };
        assert!(matches!(params.check(), Err(Error::InvalidParameter { .. })));
    }
}
