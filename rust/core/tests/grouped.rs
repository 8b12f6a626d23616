//! The grouped bounded pass (Yinyang bounds, kernels/yinyang.rs) against the unpruned fused
//! pass: the same labels, distances and sums to the bit, in float32 and float64, weighted or not,
//! with exact ties, on any thread count; and it does skip work.

use std::sync::atomic::AtomicBool;

use fastkmeans_core::kernels::bounds::{assign_and_sum_bounded, Bounds};
use fastkmeans_core::kernels::fused::assign_and_sum;
use fastkmeans_core::kernels::sums::ClusterSums;
use fastkmeans_core::params::{Checked, ReduceParams};
use fastkmeans_core::{fit_lloyd, Backend, Cpu, Points, Scalar};

mod common;
use common::{in_pool, reduce_params, uniform};

static NEVER: AtomicBool = AtomicBool::new(false);

/// The CPU backend without bounds: plain Lloyd, the reference.
struct Unpruned;

impl Backend for Unpruned {
    fn assign<F: Scalar>(
        &self,
        x: fastkmeans_core::Data<'_, F>,
        c: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> fastkmeans_core::Result<()> {
        Cpu.assign(x, c, labels, dist2)
    }
    fn assign_and_sum<F: Scalar>(
        &self,
        x: fastkmeans_core::Data<'_, F>,
        weights: Option<&[f64]>,
        c: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> fastkmeans_core::Result<ClusterSums> {
        Cpu.assign_and_sum(x, weights, c, labels, dist2)
    }
}

/// `groups` blobs in [-30, 30)^d with spreads between 1 and 6, as f64 values of float32s.
fn blobs(n: usize, d: usize, groups: usize, seed: u64) -> Vec<f64> {
    let mut next = uniform(seed);
    let means: Vec<f64> = (0..groups * d).map(|_| next() * 60.0 - 30.0).collect();
    let spread: Vec<f64> = (0..groups).map(|_| 1.0 + 5.0 * next()).collect();
    (0..n)
        .flat_map(|_| {
            let g = (next() * groups as f64) as usize;
            let row: Vec<f64> = (0..d).map(|p| (means[g * d + p] + (next() - 0.5) * spread[g]) as f32 as f64).collect();
            row
        })
        .collect()
}

/// Small integers, and centres among which some are exact copies: ties everywhere, which the
/// grouped pass (whose panels hold the centres out of index order) must break as the full scan
/// does, towards the lowest index.
fn ties(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut next = uniform(seed);
    (0..n * d).map(|_| (next() * 7.0).floor() - 3.0).collect()
}

/// Runs `passes` Lloyd passes from the first k rows (every fifth centre a copy of the one
/// before it) with the bounded pass and with the unpruned pass, asserting the same bits after
/// every pass; returns the score pairs the bounded pass computed in each.
fn bounded_equals_unpruned<F: Scalar>(
    x: &[F],
    d: usize,
    k: usize,
    weights: Option<&[f64]>,
    passes: usize,
) -> Vec<usize> {
    let n = x.len() / d;
    let points = Points::from_rows(x, d).unwrap();
    let mut centers: Vec<F> = x[..k * d].to_vec();
    for j in (5..k).step_by(5) {
        centers.copy_within((j - 1) * d..j * d, j * d);
    }
    let (mut labels, mut dist2, mut bounds) = (vec![0u32; n], vec![0f64; n], Bounds::new());
    let (mut plain_labels, mut plain_dist2) = (vec![0u32; n], vec![0f64; n]);
    let mut pairs = Vec::new();
    for pass in 0..passes {
        let c = Points::from_rows(&centers, d).unwrap();
        let sums = assign_and_sum_bounded(points, weights, c, &mut labels, &mut dist2, &mut bounds);
        let plain = assign_and_sum(points, weights, c, &mut plain_labels, &mut plain_dist2);
        assert!(labels == plain_labels, "pass {pass}: labels differ (n={n} d={d} k={k})");
        assert!(dist2.iter().zip(&plain_dist2).all(|(a, b)| a.to_bits() == b.to_bits()), "pass {pass}: distances");
        assert!(sums == plain, "pass {pass}: sums differ (n={n} d={d} k={k})");
        pairs.push(bounds.pairs);
        plain.move_centers(&mut centers);
    }
    pairs
}

fn as_f32(x: &[f64]) -> Vec<f32> {
    x.iter().map(|&v| v as f32).collect()
}

#[test]
fn grouped_passes_give_the_bits_of_the_unpruned_pass() {
    // Rows labelled then summed cluster by cluster (4,000), and rows fused in chunks (30,000).
    for (n, d, k, seed) in [(4000, 12, 300, 1), (30_000, 16, 256, 2), (6000, 40, 700, 3)] {
        let x = blobs(n, d, k / 3, seed);
        let w: Vec<f64> = (0..n).map(|i| (i % 7) as f64 * 0.25).collect();
        bounded_equals_unpruned(&as_f32(&x), d, k, None, 6);
        bounded_equals_unpruned(&x, d, k, None, 6);
        bounded_equals_unpruned(&as_f32(&x), d, k, Some(&w), 6);
        bounded_equals_unpruned(&x, d, k, Some(&w), 6);
    }
}

#[test]
fn grouped_passes_break_exact_ties_as_the_full_scan_does() {
    for (n, d, k, seed) in [(5000, 12, 320, 4), (3000, 16, 500, 5)] {
        let x = ties(n, d, seed);
        bounded_equals_unpruned(&as_f32(&x), d, k, None, 5);
        bounded_equals_unpruned(&x, d, k, None, 5);
    }
}

#[test]
fn grouped_passes_give_the_same_bits_on_any_thread_count() {
    let (n, d, k) = (20_000, 16, 400);
    let x = as_f32(&blobs(n, d, 150, 6));
    let run = || {
        let points = Points::from_rows(&x, d).unwrap();
        let mut centers: Vec<f32> = x[..k * d].to_vec();
        let (mut labels, mut dist2, mut bounds) = (vec![0u32; n], vec![0f64; n], Bounds::new());
        for _ in 0..5 {
            let c = Points::from_rows(&centers, d).unwrap();
            assign_and_sum_bounded(points, None, c, &mut labels, &mut dist2, &mut bounds).move_centers(&mut centers);
        }
        (centers, labels, dist2.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
    };
    let one = in_pool(1, run);
    for threads in [2, 3] {
        assert!(one == in_pool(threads, run), "{threads} threads differ from 1");
    }
}

#[test]
fn grouped_lloyd_gives_the_bits_of_plain_lloyd() {
    let (n, d, k) = (8000, 20, 400);
    let x = blobs(n, d, 300, 7);
    let params = reduce_params(k, 1, 7).check().unwrap();
    let x32 = as_f32(&x);
    let w: Vec<f64> = (0..n).map(|i| (i % 5) as f64 * 0.5).collect();
    for weights in [None, Some(&w[..])] {
        let points = Points::from_rows(&x32, d).unwrap();
        let pruned = fit_lloyd(points, weights, &params, &Cpu, &NEVER).unwrap();
        let plain = fit_lloyd(points, weights, &params, &Unpruned, &NEVER).unwrap();
        assert!(pruned.n_iter >= 3, "only {} iterations", pruned.n_iter);
        assert_eq!((&pruned.centers, &pruned.labels), (&plain.centers, &plain.labels));
        assert_eq!(pruned.loss.to_bits(), plain.loss.to_bits());
        let points = Points::from_rows(&x, d).unwrap();
        let pruned = fit_lloyd(points, weights, &params, &Cpu, &NEVER).unwrap();
        let plain = fit_lloyd(points, weights, &params, &Unpruned, &NEVER).unwrap();
        assert_eq!((&pruned.centers, &pruned.labels), (&plain.centers, &plain.labels), "float64");
        assert_eq!(pruned.loss.to_bits(), plain.loss.to_bits());
    }
}

/// Rows of at most eight features are labelled one row per lane when scanned whole, by the
/// microkernel's panels when the grouped pass scans some groups (float64 from 16 groups of 8
/// centres, float32 at eight features from 16 groups of 16): both give the same bits.
#[test]
fn grouped_lloyd_on_narrow_rows_gives_the_bits_of_plain_lloyd() {
    for (d, k) in [(4, 125), (8, 250)] {
        let x = blobs(6000, d, k / 2, 9);
        let params = reduce_params(k, 1, 9).check().unwrap();
        same_bits_as_plain(Points::from_rows(&x, d).unwrap(), &params, k);
        if d == 8 {
            let x32 = as_f32(&x);
            same_bits_as_plain(Points::from_rows(&x32, d).unwrap(), &params, k);
        }
    }
}

fn same_bits_as_plain<F: Scalar>(points: Points<'_, F>, params: &Checked<ReduceParams>, k: usize) {
    let pruned = fit_lloyd(points, None, params, &Cpu, &NEVER).unwrap();
    let plain = fit_lloyd(points, None, params, &Unpruned, &NEVER).unwrap();
    let d = points.d();
    assert!(pruned.n_iter >= 3, "d = {d}, k = {k}: only {} iterations", pruned.n_iter);
    assert!(pruned.centers == plain.centers && pruned.labels == plain.labels, "d = {d}, k = {k}");
    assert_eq!(pruned.loss.to_bits(), plain.loss.to_bits());
}

#[test]
fn group_bounds_skip_most_scores_once_the_centres_settle() {
    if !fastkmeans_core::kernels::avx2::available() {
        return;
    }
    let (n, d, k) = (20_000, 16, 320);
    let x = blobs(n, d, 200, 8);
    for pairs in [bounded_equals_unpruned(&as_f32(&x), d, k, None, 10), bounded_equals_unpruned(&x, d, k, None, 10)] {
        assert_eq!(pairs[0], n * k, "the first pass scores every row against every centre");
        assert!(*pairs.last().unwrap() < n * k / 20, "scores per pass: {pairs:?}");
    }
}

/// Where the AMX filter labels (float32, at least 24 features, kernels/amx.rs), the first passes
/// run plain until few rows change centre, then the grouped passes start with a full scan whose
/// bounds come from the filter's approximate scores; elsewhere they start at once. Either way the
/// bits are the full scan's, and the later passes skip most scores.
#[test]
fn grouped_passes_after_plain_ones_give_the_bits_and_skip_scores() {
    let (n, d, k) = (12_000, 32, 288);
    let x = blobs(n, d, 150, 12);
    let w: Vec<f64> = (0..n).map(|i| (i % 3) as f64 + 0.5).collect();
    for weights in [None, Some(&w[..])] {
        let pairs = bounded_equals_unpruned(&as_f32(&x), d, k, weights, 12);
        assert!(pairs[0] >= n * k && *pairs.last().unwrap() < n * k / 10, "scores per pass: {pairs:?}");
        assert!(pairs.iter().any(|&p| p < n * k / 10 && p > 0), "the grouped passes ran: {pairs:?}");
    }
}

#[test]
fn bounds_skipped_for_many_passes_catch_up_on_every_drift_they_missed() {
    // Centres creep, each its own way, a little each pass: a row clears its global bound for
    // passes on end while its group bounds wait, and by the time it is filtered by group again
    // the centres have moved far. Every pass must still give the full scan's labels.
    let (n, d, k, passes) = (4000, 8, 256, 40);
    let mut next = uniform(11);
    let x: Vec<f32> = (0..n * d).map(|_| (next() * 10.0) as f32).collect();
    let base: Vec<f64> = (0..k * d).map(|_| next() * 10.0).collect();
    let step: Vec<f64> = (0..k * d).map(|_| (next() - 0.5) * 0.08).collect();
    let points = Points::from_rows(&x, d).unwrap();
    let (mut labels, mut dist2, mut bounds) = (vec![0u32; n], vec![0f64; n], Bounds::new());
    let (mut plain_labels, mut plain_dist2) = (vec![0u32; n], vec![0f64; n]);
    let mut skipped = 0;
    for pass in 0..passes {
        let centers: Vec<f32> = base.iter().zip(&step).map(|(b, s)| (b + s * pass as f64) as f32).collect();
        let c = Points::from_rows(&centers, d).unwrap();
        assign_and_sum_bounded(points, None, c, &mut labels, &mut dist2, &mut bounds);
        assign_and_sum(points, None, c, &mut plain_labels, &mut plain_dist2);
        assert!(labels == plain_labels, "pass {pass}: labels differ");
        skipped += n - bounds.scanned;
    }
    assert!(skipped > n * passes / 2, "rows skipped: {skipped}");
}
