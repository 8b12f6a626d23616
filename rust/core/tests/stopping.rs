//! Full-data Lloyd's centre-shift stop rule (issue 15).

use std::sync::atomic::AtomicBool;

use fastkmeans_core::{
    fit_lloyd, fit_minibatch, lloyd, Cpu, InitMethod, LloydParams, MiniBatchParams, Points, ReduceParams, StopRule,
};

mod common;
use common::{in_pool, reduce_params, uniform};

static NEVER: AtomicBool = AtomicBool::new(false);

/// `n` rows of `d` features around `groups` random means, spread wide enough to overlap.
fn blobs(n: usize, d: usize, groups: usize, seed: u64) -> Vec<f64> {
    let mut next = uniform(seed);
    let means: Vec<f64> = (0..groups * d).map(|_| next() * 20.0).collect();
    (0..n)
        .flat_map(|_| {
            let g = (next() * groups as f64) as usize;
            (0..d).map(|p| means[g * d + p] + (next() - 0.5) * 8.0).collect::<Vec<_>>()
        })
        .collect()
}

fn shift(max_iter: usize, tol: f64) -> LloydParams {
    LloydParams { max_iter, tol, rule: StopRule::CenterShift }
}

/// The first `k` rows: a poor start, so Lloyd has many iterations to run.
fn first_rows(x: &[f64], k: usize, d: usize) -> Vec<f64> {
    x[..k * d].to_vec()
}

fn means_of(x: &[f64], labels: &[u32], k: usize, d: usize) -> Vec<f64> {
    let mut sums = vec![0.0; k * d];
    let mut counts = vec![0.0; k];
    for (row, &l) in x.chunks_exact(d).zip(labels) {
        counts[l as usize] += 1.0;
        for (s, v) in sums[l as usize * d..(l as usize + 1) * d].iter_mut().zip(row) {
            *s += v;
        }
    }
    sums.chunks_exact_mut(d).zip(&counts).flat_map(|(s, &c)| s.iter().map(move |v| v / c).collect::<Vec<_>>()).collect()
}

#[test]
fn the_shift_rule_at_tol_zero_stops_only_at_a_fixed_point() {
    let (n, d, k) = (3000, 3, 12);
    let x = blobs(n, d, 20, 1);
    let points = Points::from_rows(&x, d).unwrap();
    let fit = lloyd(points, None, first_rows(&x, k, d), &shift(1000, 0.0).check().unwrap(), &Cpu, &NEVER).unwrap();
    assert!(fit.n_iter < 1000, "a fixed point is reached");
    // No row changed its centre in the last pass: every centre is the mean of its rows.
    let means = means_of(&x, &fit.labels, k, d);
    for (a, b) in fit.centers.iter().zip(&means) {
        assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{a} vs {b}");
    }
}

#[test]
fn the_shift_rule_runs_past_where_the_loss_rule_stops_and_ends_lower() {
    // The loss falls slowly over many iterations here: the loss rule stops early, the shift rule
    // (scikit-learn's) goes on while centres still move by more than tol x the data's variance.
    let (n, d, k) = (4000, 2, 30);
    let x = blobs(n, d, 60, 2);
    let points = Points::from_rows(&x, d).unwrap();
    let start = first_rows(&x, k, d);
    let by_loss = lloyd(points, None, start.clone(), &LloydParams::loss_rule(300, 1e-3).check().unwrap(), &Cpu, &NEVER);
    let by_shift = lloyd(points, None, start, &shift(300, 1e-3).check().unwrap(), &Cpu, &NEVER);
    let (by_loss, by_shift) = (by_loss.unwrap(), by_shift.unwrap());
    assert!(by_shift.n_iter > by_loss.n_iter, "{} vs {}", by_shift.n_iter, by_loss.n_iter);
    assert!(by_shift.loss < by_loss.loss);
}

#[test]
fn the_shift_tolerance_scales_with_the_datas_variance() {
    // The same data scaled by 1000 stops after the same iterations: the rule is relative.
    let (n, d, k) = (2000, 2, 10);
    let x = blobs(n, d, 15, 3);
    let scaled: Vec<f64> = x.iter().map(|v| v * 1000.0).collect();
    let params = shift(300, 1e-2).check().unwrap();
    let small = lloyd(Points::from_rows(&x, d).unwrap(), None, first_rows(&x, k, d), &params, &Cpu, &NEVER).unwrap();
    let large =
        lloyd(Points::from_rows(&scaled, d).unwrap(), None, first_rows(&scaled, k, d), &params, &Cpu, &NEVER).unwrap();
    assert_eq!(small.n_iter, large.n_iter);
    assert_eq!(small.labels, large.labels);
}

#[test]
fn weights_count_in_the_shift_rules_variance() {
    let (n, d, k) = (1500, 3, 8);
    let x = blobs(n, d, 10, 4);
    let params = shift(300, 1e-4).check().unwrap();
    let run = |x: &[f64], w: Option<&[f64]>| {
        lloyd(Points::from_rows(x, d).unwrap(), w, first_rows(x, k, d), &params, &Cpu, &NEVER).unwrap()
    };
    // Weight 2 on every row scales sums, losses and the variance exactly: the unweighted run's bits.
    let plain = run(&x, None);
    let doubled = run(&x, Some(&vec![2.0; n]));
    assert_eq!((plain.centers, plain.labels, plain.n_iter), (doubled.centers, doubled.labels, doubled.n_iter));
    // Zero weight on every other row: the centres of the run on the other rows alone (up to the
    // order of the sums; the weightless rows' labels may take one more pass to settle).
    let weights: Vec<f64> = (0..n).map(|i| (i % 2) as f64).collect();
    let kept: Vec<f64> = x.chunks_exact(d).skip(1).step_by(2).flatten().copied().collect();
    let mut start = Vec::new();
    for row in x.chunks_exact(d).skip(1).step_by(2).take(k) {
        start.extend_from_slice(row);
    }
    let half = lloyd(Points::from_rows(&kept, d).unwrap(), None, start.clone(), &params, &Cpu, &NEVER).unwrap();
    let masked = lloyd(Points::from_rows(&x, d).unwrap(), Some(&weights), start, &params, &Cpu, &NEVER).unwrap();
    assert!(half.n_iter.abs_diff(masked.n_iter) <= 1, "{} vs {}", half.n_iter, masked.n_iter);
    for (a, b) in half.centers.iter().zip(&masked.centers) {
        assert!((a - b).abs() <= 1e-9 * (1.0 + a.abs()), "{a} vs {b}");
    }
}

#[test]
fn the_shift_rule_gives_identical_bits_on_any_thread_count() {
    let (n, d) = (30_000, 5);
    let x = blobs(n, d, 40, 7);
    let points = Points::from_rows(&x, d).unwrap();
    let lloyd_params = ReduceParams { lloyd: shift(300, 1e-4), ..reduce_params(25, 2, 11) }.check().unwrap();
    let minibatch = MiniBatchParams {
        n_centers: 100,
        mini_batch_size: 2000,
        epochs: 1,
        init: InitMethod::Random,
        half_life_time_size: 0,
        reseed_ratio: 0.25,
        reduce: reduce_params(20, 3, 5),
        refine: Some(shift(300, 1e-4)),
    }
    .check()
    .unwrap();
    let run = || {
        let ll = fit_lloyd(points, None, &lloyd_params, &Cpu, &NEVER).unwrap();
        let mb = fit_minibatch(points, &minibatch, &Cpu, &NEVER).unwrap();
        (ll.centers, ll.labels, ll.loss.to_bits(), ll.n_iter, mb.centers, mb.labels, mb.inertia.to_bits())
    };
    let one = in_pool(1, run);
    for threads in [2, 3] {
        assert!(one == in_pool(threads, run), "{threads} threads differ from 1");
    }
}
