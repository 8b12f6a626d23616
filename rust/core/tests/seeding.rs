//! `InitMethod::KMeansPlusPlusThenRandom`: k-means++ for the first centres, uniform rows after.

use std::collections::HashSet;

use fastkmeans_core::algo::init::init_centers;
use fastkmeans_core::rng::{Purpose, Rng};
use fastkmeans_core::{InitMethod, Points};

/// 1,000 rows near the origin and, far away, 4 groups of 5 rows each (2% of the data together).
fn crowd_and_far_groups() -> Vec<f64> {
    let mut x = Vec::new();
    for i in 0..1000 {
        x.extend([(i % 37) as f64 * 0.01, (i % 41) as f64 * 0.01]);
    }
    for (g, &(cx, cy)) in [(100.0, 0.0), (0.0, 100.0), (-100.0, 0.0), (0.0, -100.0)].iter().enumerate() {
        for j in 0..5 {
            x.extend([cx + j as f64 * 0.1, cy + g as f64 * 0.1]);
        }
    }
    x
}

fn far(center: &[f64]) -> bool {
    center[0].abs() > 50.0 || center[1].abs() > 50.0
}

#[test]
fn the_plus_plus_part_reaches_every_far_group_and_the_rest_are_distinct_rows() {
    let x = crowd_and_far_groups();
    let points = Points::from_rows(&x, 2).unwrap();
    let (k, big_k) = (5, 50);
    for seed in 0..20 {
        let mut rng = Rng::new(seed, Purpose::SeedCenters);
        let centers =
            init_centers(points, None, big_k, InitMethod::KMeansPlusPlusThenRandom { plus_plus: k }, &mut rng);
        assert_eq!(centers.len(), big_k * 2);
        let rows: HashSet<(u64, u64)> = centers.chunks(2).map(|c| (c[0].to_bits(), c[1].to_bits())).collect();
        assert_eq!(rows.len(), big_k, "seed {seed}: the centres are distinct rows");
        let groups: HashSet<i64> = centers[..k * 2]
            .chunks(2)
            .filter(|c| far(c))
            .map(|c| (c[0] / 50.0).round() as i64 * 3 + (c[1] / 50.0).round() as i64)
            .collect();
        assert_eq!(groups.len(), 4, "seed {seed}: k-means++'s {k} centres cover the 4 far groups");
    }
}

#[test]
fn uniform_rows_alone_usually_miss_a_far_group() {
    // The reason for the k-means++ part: 50 uniform rows leave some far group without a centre.
    let x = crowd_and_far_groups();
    let points = Points::from_rows(&x, 2).unwrap();
    let missed = (0..20)
        .filter(|&seed| {
            let mut rng = Rng::new(seed, Purpose::SeedCenters);
            let centers = init_centers(points, None, 50, InitMethod::Random, &mut rng);
            centers.chunks(2).filter(|c| far(c)).count() < 4
        })
        .count();
    assert!(missed >= 10, "uniform seeding missed a far group in only {missed} of 20 seeds");
}

#[test]
fn all_plus_plus_when_plus_plus_is_k() {
    let x = crowd_and_far_groups();
    let points = Points::from_rows(&x, 2).unwrap();
    let mut a = Rng::new(7, Purpose::SeedCenters);
    let mut b = Rng::new(7, Purpose::SeedCenters);
    let then_random = init_centers(points, None, 6, InitMethod::KMeansPlusPlusThenRandom { plus_plus: 6 }, &mut a);
    let plain = init_centers(points, None, 6, InitMethod::PLAIN_KMEANS_PP, &mut b);
    assert_eq!(then_random, plain);
}
