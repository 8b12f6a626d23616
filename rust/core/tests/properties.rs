//! Properties of the core against naive oracles.

use std::sync::atomic::AtomicBool;

use fastkmeans_core::kernels::bounds::{assign_and_sum_bounded, Bounds};
use fastkmeans_core::kernels::distance::assign_naive;
use fastkmeans_core::kernels::fused::assign_and_sum;
use fastkmeans_core::kernels::parallel::ROW_BLOCK;
use fastkmeans_core::kernels::sums::{sum_by_label, ClusterSums};
use fastkmeans_core::{
    fit_lloyd, fit_minibatch, lloyd, Backend, Cpu, InitMethod, LloydParams, MiniBatchParams, MiniBatchState, Points,
    ReduceParams,
};
use proptest::prelude::*;

mod common;
use common::{in_pool, reduce_params, uniform};

static NEVER: AtomicBool = AtomicBool::new(false);

fn assign<F: fastkmeans_core::Scalar>(x: &[F], c: &[F], d: usize) -> (Vec<u32>, Vec<f64>) {
    let (x, c) = (Points::from_rows(x, d).unwrap(), Points::from_rows(c, d).unwrap());
    let mut labels = vec![0; x.n()];
    let mut dist2 = vec![0.0; x.n()];
    Cpu.assign(x.into(), c, &mut labels, &mut dist2).unwrap();
    (labels, dist2)
}

/// Small integers: every product and sum in the kernel is exact, so the blocked kernel must
/// agree with the triple loop to the bit, ties included.
fn integer_matrix(rows: std::ops::Range<usize>, d: usize) -> impl Strategy<Value = Vec<f32>> {
    rows.prop_flat_map(move |n| proptest::collection::vec((-8i32..=8).prop_map(|v| v as f32), n * d))
}

/// Real values in [-100, 100): `assign_and_sum` gives `assign`'s labels and the bits of its
/// distances, and sums within rounding of a naive loop, in float32 and float64.
fn sums_and_distances_match_assign_and_a_naive_loop(
    n: usize,
    d: usize,
    k: usize,
    seed: u64,
    weighted: bool,
) -> Result<(), TestCaseError> {
    let mut next = uniform(seed);
    let x64: Vec<f64> = (0..n * d).map(|_| next() * 200.0 - 100.0).collect();
    let c64: Vec<f64> = (0..k * d).map(|_| next() * 200.0 - 100.0).collect();
    let w: Vec<f64> = (0..n).map(|i| if i % 7 == 3 { 0.0 } else { next() * 3.0 }).collect();
    let weights = weighted.then_some(&w[..]);
    let x32: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
    let c32: Vec<f32> = c64.iter().map(|&v| v as f32).collect();
    fn check<F: fastkmeans_core::Scalar>(x: &[F], c: &[F], d: usize, w: Option<&[f64]>) -> Result<(), TestCaseError> {
        let (xs, cs) = (Points::from_rows(x, d).unwrap(), Points::from_rows(c, d).unwrap());
        let (mut labels, mut dist2) = (vec![0; xs.n()], vec![0.0; xs.n()]);
        let summed = assign_and_sum(xs, w, cs, &mut labels, &mut dist2);
        let (plain_labels, plain_dist2) = assign(x, c, d);
        prop_assert_eq!(&labels, &plain_labels);
        let bits = |v: &[f64]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&dist2), bits(&plain_dist2));
        let mut deltas = vec![0f64; cs.n() * d];
        let mut totals = vec![0f64; cs.n()];
        for (r, &l) in labels.iter().enumerate() {
            let (l, wr) = (l as usize, w.map_or(1.0, |w| w[r]));
            totals[l] += wr;
            for j in 0..d {
                deltas[l * d + j] += wr * (xs.row(r)[j].to_f64() - cs.row(l)[j].to_f64());
            }
        }
        for (a, b) in summed.deltas.iter().zip(&deltas).chain(summed.weights.iter().zip(&totals)) {
            prop_assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{} vs {}", a, b);
        }
        Ok(())
    }
    check(&x32, &c32, d, weights)?;
    check(&x64, &c64, d, weights)
}

#[test]
fn fused_chunks_have_the_bits_of_assign_and_sums_match_a_naive_loop_on_real_values() {
    // Enough rows (over 24,576 for these k and d) for the fused pass, weighted and not, with a
    // tail of features past the last eight.
    for (d, k, seed, weighted) in [(13, 7, 1, false), (13, 7, 2, true), (32, 20, 3, true), (5, 3, 4, false)] {
        sums_and_distances_match_assign_and_a_naive_loop(30_000, d, k, seed, weighted).unwrap();
    }
}

/// A scalar product that overflows float32 makes a score NaN (∞ − ∞); it must never displace a
/// real score. Centre 1 and centre 9 share a lane of the microkernel's 16-centre panel (rows of
/// more than eight features); narrow rows (two features) have a kernel of their own.
#[test]
fn a_nan_score_never_wins_a_lane() {
    // The real centre in the panel's lower half and the NaN in the upper, then the other way.
    for (real, nan) in [(1, 9), (9, 1)] {
        for d in [2, 10] {
            let mut x = vec![0f32; d];
            x[0] = 1.5e19;
            let mut c = vec![0f32; 10 * d];
            c[real * d] = 1e19;
            c[nan * d] = 3e19;
            c[nan * d + 1] = 3e19;
            let (labels, dist2) = assign(&x, &c, d);
            assert_eq!(labels, vec![real as u32], "d = {d}: the nearest centre, not one whose score is NaN");
            assert_eq!(dist2[0], (x[0] as f64 - c[real * d] as f64).powi(2));
        }
    }
}

/// A NaN score must not corrupt the second-smallest score the bounded pass keeps as a row's
/// bound: with a NaN score between the own centre and the true second (centre 2 here, or in the
/// microkernel's lanes centre 16 after centre 8), a bound set too high would keep a row on a
/// centre that has moved away. The bounded passes must give the plain passes' labels.
#[test]
fn a_nan_score_leaves_the_bounds_valid() {
    for (second, nan) in [(1, 2), (8, 16)] {
        let (n, d, k) = (300, 2, 64);
        let x: Vec<f32> = (0..n).flat_map(|_| [1.5e19f32, 0.0]).collect();
        let points = Points::from_rows(&x, d).unwrap();
        let mut c = vec![0f32; k * d];
        c[0] = 1.5e19;
        c[2 * second] = 1.5e19 + 1e17;
        c[2 * nan] = 3e19;
        c[2 * nan + 1] = 3e19;
        let (mut labels, mut dist2, mut bounds) = (vec![0u32; n], vec![0f64; n], Bounds::new());
        let (mut plain, mut plain_dist2) = (vec![0u32; n], vec![0f64; n]);
        for pass in 0..2 {
            if pass == 1 {
                c[0] = 1.4e19; // centre 0 moves away: the true second is now the nearest
            }
            let centers = Points::from_rows(&c, d).unwrap();
            assign_and_sum_bounded(points, None, centers, &mut labels, &mut dist2, &mut bounds);
            Cpu.assign(points.into(), centers, &mut plain, &mut plain_dist2).unwrap();
            let first = (labels[0], plain[0]);
            assert!(labels == plain, "pass {pass}, second {second}, NaN score {nan}: (bounded, plain) {first:?}");
        }
        assert_eq!(plain[0] as usize, second);
    }
}

/// The last panel (16 float32 or 8 float64 centres) is scanned at half width when its upper
/// register is all padding: every width of that panel (k = 1 to 34) gives the triple loop's
/// labels and distances in both precisions, ties included (small integers make every product
/// exact).
#[test]
fn every_width_of_the_last_centre_panel_gives_the_naive_result() {
    let mut next = uniform(11);
    // Rows of up to eight features run the narrow kernel; 9 and 32 the microkernel.
    for d in [1, 7, 9, 32] {
        let x: Vec<f32> = (0..300 * d).map(|_| (next() * 9.0).floor() as f32 - 4.0).collect();
        for k in 1..=34 {
            let c: Vec<f32> = (0..k * d).map(|_| (next() * 9.0).floor() as f32 - 4.0).collect();
            let (labels, dist2) = assign(&x, &c, d);
            let naive = assign_naive(Points::from_rows(&x, d).unwrap(), Points::from_rows(&c, d).unwrap());
            assert_eq!((labels, dist2), naive, "d = {d}, k = {k}");
            let (x64, c64): (Vec<f64>, Vec<f64>) =
                (x.iter().map(|&v| v as f64).collect(), c.iter().map(|&v| v as f64).collect());
            assert_eq!(assign(&x64, &c64, d), naive, "float64, d = {d}, k = {k}");
        }
    }
}

/// Every number of rows in a block (1 to 128, and past it) is cut into 6-, 4- and 2-row tiles
/// that give the triple loop's labels and distances, in float32 and float64.
#[test]
fn every_block_length_gives_the_naive_result() {
    let mut next = uniform(12);
    // Five features run the narrow kernel (a register of rows at a time), eleven the microkernel.
    for d in [5, 11] {
        let c: Vec<f32> = (0..20 * d).map(|_| (next() * 9.0).floor() as f32 - 4.0).collect();
        for n in 1..=2 * ROW_BLOCK + 9 {
            let x: Vec<f32> = (0..n * d).map(|_| (next() * 9.0).floor() as f32 - 4.0).collect();
            let (labels, dist2) = assign(&x, &c, d);
            let naive = assign_naive(Points::from_rows(&x, d).unwrap(), Points::from_rows(&c, d).unwrap());
            assert_eq!((labels, dist2), naive, "d = {d}, n = {n}");
            // The float64 kernel cuts its blocks the same way.
            let (x64, c64): (Vec<f64>, Vec<f64>) =
                (x.iter().map(|&v| v as f64).collect(), c.iter().map(|&v| v as f64).collect());
            assert_eq!(assign(&x64, &c64, d), naive, "float64, d = {d}, n = {n}");
        }
    }
}

#[test]
fn update_batches_stops_between_batches_and_keeps_what_it_merged() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let x = blobs(1000, 3, 4, 5);
    let points = Points::from_rows(&x, 3).unwrap();
    let seeded = MiniBatchState::seed(points.rows(0, 50), 6, InitMethod::PLAIN_KMEANS_PP, 1).unwrap();
    let order: Vec<usize> = (0..1000).rev().collect();
    let stop = AtomicBool::new(false);
    let mut state = seeded.clone();
    // The stop flag is set while the second batch is assigned.
    let calls = AtomicUsize::new(0);
    let backend = Unpruned(|| {
        if calls.fetch_add(1, Ordering::SeqCst) == 1 {
            stop.store(true, Ordering::SeqCst);
        }
    });
    let err = state.update_batches(points, Some(&order), 100, 0, &backend, &stop).unwrap_err();
    assert_eq!(err, fastkmeans_core::Error::Interrupted);
    assert_eq!(state.points_seen, 200, "two batches merged, then the stop was seen");
    // The same two batches merged without a stop give the same state.
    let mut two = seeded;
    two.update_batches(points, Some(&order[..200]), 100, 0, &Cpu, &NEVER).unwrap();
    assert_eq!(state, two);
}

/// An in-memory fit, against its steps taken through the public API with a fresh batch buffer
/// each (`update_epoch`, `update_batches`, `update`): the same state, to the bit, whether a batch
/// is part of the rows (several per epoch: gathered into the buffer the seeding sample was
/// gathered into, in the fused pass with 12,000 rows, batches of 5,000 in ten chunks, the last
/// 2,000 labelled first) or all of them (the rows themselves, in their order: seeded from them,
/// each epoch one `update`), over several epochs. The fit's last batch reseeds no starved centre:
/// its steps merge that batch with a reseed ratio of 0, and taking it with the fit's ratio gives
/// another state (the policy does move a centre there).
#[test]
fn a_fit_equals_its_steps_and_its_last_batch_reseeds_nothing() {
    use fastkmeans_core::rng::{Purpose, Rng};
    // (rows, features, batch, epochs, groups, whether the policy moves a centre at the last batch)
    let cases = [(3000, 6, 700, 3, 8, true), (500, 40, 5000, 2, 30, true), (12_000, 6, 5000, 2, 8, false)];
    for (n, d, batch, epochs, groups, moves_at_last) in cases {
        let x = blobs(n, d, groups, 11);
        let points = Points::from_rows(&x, d).unwrap();
        let seed = 21;
        let ratio = fastkmeans_core::DEFAULT_RESEED_RATIO;
        let params = MiniBatchParams {
            n_centers: 40,
            mini_batch_size: batch,
            epochs,
            init: InitMethod::KMeansPlusPlusThenRandom { plus_plus: 8 },
            half_life_time_size: 0,
            reseed_ratio: ratio,
            refine: None,
            reduce: reduce_params(8, 3, seed),
        };
        let fit = fit_minibatch(points, &params.check().unwrap(), &Cpu, &NEVER).unwrap();
        let batch = batch.min(n);
        // The steps, the last batch merged with `last_ratio`.
        let steps = |last_ratio: f64| {
            let with = |state: MiniBatchState<f32>, r: f64| state.with_reseed_ratio(r).unwrap();
            let (mut state, mut n_batches);
            if batch == n {
                state = with(MiniBatchState::seed(points, 40, params.init, seed).unwrap(), ratio);
                for epoch in 0..epochs {
                    if epoch + 1 == epochs {
                        state = with(state, last_ratio);
                    }
                    state.update(points, 0, &Cpu).unwrap();
                }
                n_batches = epochs;
            } else {
                let sample_rows = Rng::new(seed, Purpose::SeedSample).sample(n, batch);
                let sample = fastkmeans_core::kernels::points::gather(points, &sample_rows);
                let sample = Points::from_rows(&sample, d).unwrap();
                state = with(MiniBatchState::seed(sample, 40, params.init, seed).unwrap(), ratio);
                n_batches = 0;
                for epoch in 0..epochs as u64 - 1 {
                    n_batches += state.update_epoch(points, seed, epoch, batch, 0, &Cpu, &NEVER).unwrap().n_batches;
                }
                let order = Rng::new(seed, Purpose::Epoch(epochs as u64 - 1)).permutation_u32(n);
                let last = (n - 1) / batch * batch;
                n_batches +=
                    state.update_batches(points, Some(&order[..last]), batch, 0, &Cpu, &NEVER).unwrap().n_batches;
                state = with(state, last_ratio);
                n_batches +=
                    state.update_batches(points, Some(&order[last..]), batch, 0, &Cpu, &NEVER).unwrap().n_batches;
            }
            (with(state, ratio), n_batches)
        };
        let (state, n_batches) = steps(0.0);
        assert_eq!(fit.state, state, "n = {n}, batches of {batch}");
        assert_eq!(fit.n_batches, n_batches);
        assert_eq!(fit.n_batches, epochs * n.div_ceil(batch));
        if moves_at_last {
            assert_ne!(fit.state, steps(ratio).0, "n = {n}: the last batch would have moved a centre");
        }
    }
}

/// A mini-batch gathered, assigned and summed in one pass (with the next batch's rows fetched
/// meanwhile) gives what gathering it and then assigning and summing gives, to the bit, on both
/// paths: fused chunks (enough rows for the centres) and labels-then-sums (too few).
#[test]
fn batches_gathered_in_the_pass_equal_batches_gathered_first() {
    for (n, d, k, batch, half_life) in [(20_000, 7, 20, 4100, 0), (9000, 32, 100, 5000, 3000), (3000, 5, 300, 700, 0)] {
        let x = blobs(n, d, k, 3);
        let points = Points::from_rows(&x, d).unwrap();
        // Every row once, then some twice.
        let order: Vec<u32> =
            (0..n).map(|i| (i * 7919 % n) as u32).chain((0..n / 3).map(|i| (i * 13 % n) as u32)).collect();
        let seeded = MiniBatchState::seed(points.rows(0, 2 * k), k, InitMethod::PLAIN_KMEANS_PP, 5).unwrap();
        let mut fused = seeded.clone();
        let merged = fused.update_batches(points, Some(&order), batch, half_life, &Cpu, &NEVER).unwrap();
        let mut plain = seeded;
        let mut ssd = 0.0;
        for rows in order.chunks(batch) {
            let indices: Vec<usize> = rows.iter().map(|&i| i as usize).collect();
            let gathered = fastkmeans_core::kernels::points::gather(points, &indices);
            ssd += plain.update(Points::from_rows(&gathered, d).unwrap(), half_life, &Cpu).unwrap();
        }
        assert_eq!(fused, plain, "n = {n}, d = {d}, k = {k}, batches of {batch}");
        assert_eq!(merged.ssd.to_bits(), ssd.to_bits());
        assert_eq!(merged.n_batches, order.len().div_ceil(batch));
        // The batch buffer itself, and the labels, distances and sums, against the parts.
        let indices: Vec<usize> = order[..batch].iter().map(|&i| i as usize).collect();
        let next: Vec<usize> = order[batch..2 * batch].iter().map(|&i| i as usize).collect();
        let c = Points::from_rows(&x[..k * d], d).unwrap();
        let (mut labels, mut dist2, mut out) = (vec![0; batch], vec![0.0; batch], vec![1.5f32; 3]);
        let sums = fastkmeans_core::kernels::fused::gather_assign_and_sum(
            points,
            &indices,
            &next,
            &mut out,
            c,
            &mut labels,
            &mut dist2,
        );
        let gathered = fastkmeans_core::kernels::points::gather(points, &indices);
        assert_eq!(out, gathered);
        let (mut want_labels, mut want_dist2) = (vec![0; batch], vec![0.0; batch]);
        let want = assign_and_sum(Points::from_rows(&gathered, d).unwrap(), None, c, &mut want_labels, &mut want_dist2);
        assert_eq!((labels, dist2, sums), (want_labels, want_dist2, want));
    }
}

/// Outputs shorter than the batch are refused: the batch buffer is only ever exposed whole.
#[test]
fn the_gathered_pass_refuses_outputs_shorter_than_the_batch() {
    let x = blobs(6000, 4, 5, 1);
    let points = Points::from_rows(&x, 4).unwrap();
    let c = Points::from_rows(&x[..20], 4).unwrap();
    let indices: Vec<usize> = (0..5000).collect();
    for (labels, dist2) in [(5000, 4999), (4999, 5000), (5000, 0)] {
        let short = std::panic::catch_unwind(|| {
            let (mut labels, mut dist2, mut out) = (vec![0; labels], vec![0.0; dist2], Vec::new());
            fastkmeans_core::kernels::fused::gather_assign_and_sum(
                points,
                &indices,
                &[],
                &mut out,
                c,
                &mut labels,
                &mut dist2,
            );
        });
        assert!(short.is_err(), "{labels} labels and {dist2} distances for 5000 rows must be refused");
    }
}

/// The CPU backend without the bounded passes (plain Lloyd, the reference for pruning), calling
/// its hook before every assign-and-sum.
struct Unpruned<H: Fn() + Sync>(H);

/// [`Unpruned`] with no hook.
const PLAIN: Unpruned<fn()> = Unpruned(|| {});

impl<H: Fn() + Sync> Backend for Unpruned<H> {
    fn assign<F: fastkmeans_core::Scalar>(
        &self,
        x: fastkmeans_core::Data<'_, F>,
        c: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> fastkmeans_core::Result<()> {
        Cpu.assign(x, c, labels, dist2)
    }
    fn assign_and_sum<F: fastkmeans_core::Scalar>(
        &self,
        x: fastkmeans_core::Data<'_, F>,
        weights: Option<&[f64]>,
        c: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> fastkmeans_core::Result<ClusterSums> {
        (self.0)();
        Cpu.assign_and_sum(x, weights, c, labels, dist2)
    }
}

/// Real-valued float32 blobs: `groups` centres in [-50, 50)^d with unit-ish noise.
fn blobs(n: usize, d: usize, groups: usize, seed: u64) -> Vec<f32> {
    let mut next = uniform(seed);
    let means: Vec<f64> = (0..groups * d).map(|_| next() * 100.0 - 50.0).collect();
    (0..n)
        .flat_map(|_| {
            let g = (next() * groups as f64) as usize;
            (0..d).map(|p| (means[g * d + p] + (next() - 0.5) * 6.0) as f32).collect::<Vec<_>>()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn kernel_equals_the_naive_triple_loop_on_exact_inputs(
        (d, x, c) in (1usize..40).prop_flat_map(|d| (Just(d), integer_matrix(1..300, d), integer_matrix(1..300, d)))
    ) {
        let (labels, dist2) = assign(&x, &c, d);
        let (naive_labels, naive_dist2) = assign_naive(Points::from_rows(&x, d).unwrap(), Points::from_rows(&c, d).unwrap());
        prop_assert_eq!(labels, naive_labels);
        prop_assert_eq!(dist2, naive_dist2);
    }

    #[test]
    fn fused_pass_sums_what_assign_then_sum_gives(
        (d, x, c, w) in (1usize..12).prop_flat_map(|d| (
            Just(d),
            integer_matrix(1..3000, d),
            integer_matrix(1..40, d),
            proptest::collection::vec(prop_oneof![Just(0.0f64), 0.0f64..5.0], 3000),
        )),
        weighted in any::<bool>(),
    ) {
        let (xs, cs) = (Points::from_rows(&x, d).unwrap(), Points::from_rows(&c, d).unwrap());
        let weights = weighted.then(|| &w[..xs.n()]);
        let mut labels = vec![0; xs.n()];
        let mut dist2 = vec![0.0; xs.n()];
        let fused = assign_and_sum(xs, weights, cs, &mut labels, &mut dist2);
        prop_assert_eq!((&labels, &dist2), (&assign(&x, &c, d).0, &assign(&x, &c, d).1));
        let reference = sum_by_label(xs, weights, cs, &labels);
        prop_assert_eq!(&fused.members, &reference.members);
        for (a, b) in fused.deltas.iter().chain(&fused.weights).zip(reference.deltas.iter().chain(&reference.weights)) {
            prop_assert!((a - b).abs() <= 1e-9 * (1.0 + b.abs()), "{} vs {}", a, b);
        }
    }

    #[test]
    fn summed_distances_have_the_bits_of_assign_and_sums_match_a_naive_loop_on_real_values(
        d in 1usize..40,
        n in 1usize..700,
        k in 1usize..20,
        seed in any::<u64>(),
        weighted in any::<bool>(),
    ) {
        // Few rows: labelled, then summed cluster by cluster (the fused chunks: see below).
        sums_and_distances_match_assign_and_a_naive_loop(n, d, k, seed, weighted)?;
    }

    #[test]
    fn float64_kernels_equal_the_naive_triple_loop_on_exact_inputs(
        // Up to 60 centres: both the few-centre scorer (k <= 32) and the GEMM tiles, ties included.
        (d, x, c) in (1usize..24).prop_flat_map(|d| (Just(d), integer_matrix(1..300, d), integer_matrix(1..60, d)))
    ) {
        let (x, c): (Vec<f64>, Vec<f64>) = (x.iter().map(|&v| v as f64).collect(), c.iter().map(|&v| v as f64).collect());
        let (labels, dist2) = assign(&x, &c, d);
        let (naive_labels, naive_dist2) = assign_naive(Points::from_rows(&x, d).unwrap(), Points::from_rows(&c, d).unwrap());
        prop_assert_eq!(labels, naive_labels);
        prop_assert_eq!(dist2, naive_dist2);
    }

    #[test]
    fn kernel_finds_the_nearest_centre_on_real_valued_f64_inputs(
        (d, x, c) in (1usize..20).prop_flat_map(|d| (
            Just(d),
            proptest::collection::vec(-1e3f64..1e3, d..d * 200),
            proptest::collection::vec(-1e3f64..1e3, d..d * 300),
        ))
    ) {
        let x = &x[..x.len() / d * d];
        let c = &c[..c.len() / d * d];
        let (_, dist2) = assign(x, c, d);
        let (_, naive_dist2) = assign_naive(Points::from_rows(x, d).unwrap(), Points::from_rows(c, d).unwrap());
        for (got, want) in dist2.iter().zip(&naive_dist2) {
            prop_assert!((got - want).abs() <= 1e-9 * (1.0 + want.abs()), "{} vs {}", got, want);
        }
    }

    #[test]
    fn ties_go_to_the_lowest_index(
        (d, x, c) in (1usize..16).prop_flat_map(|d| (Just(d), integer_matrix(1..200, d), integer_matrix(1..40, d))),
        copies in 1usize..4,
    ) {
        // Every centre appears `copies + 1` times in a row: the first copy must win.
        let repeated: Vec<f32> = c.chunks(d).flat_map(|row| std::iter::repeat_n(row, copies + 1).flatten().copied()).collect();
        let (labels, _) = assign(&x, &repeated, d);
        let (single_labels, _) = assign(&x, &c, d);
        for (l, s) in labels.iter().zip(&single_labels) {
            prop_assert_eq!(*l as usize, *s as usize * (copies + 1));
        }
    }

    #[test]
    fn lloyd_never_increases_the_loss(
        (d, x) in (1usize..8).prop_flat_map(|d| (Just(d), proptest::collection::vec(-100f64..100.0, 20 * d..400 * d))),
        k in 1usize..12,
        seed in any::<u64>(),
    ) {
        let x = &x[..x.len() / d * d];
        let points = Points::from_rows(x, d).unwrap();
        let one_step = LloydParams::loss_rule(1, 0.0).check().unwrap();
        let mut centers = fit_lloyd(points, None, &ReduceParams { lloyd: LloydParams::loss_rule(1, 0.0), ..reduce_params(k, 1, seed) }.check().unwrap(), &Cpu, &NEVER).unwrap();
        for _ in 0..20 {
            let next = lloyd(points, None, centers.centers.clone(), &one_step, &Cpu, &NEVER).unwrap();
            prop_assert!(next.loss <= centers.loss * (1.0 + 1e-12), "{} > {}", next.loss, centers.loss);
            prop_assert!(next.centers.iter().all(|v| v.is_finite()));
            centers = next;
        }
    }
}

#[test]
fn pruned_lloyd_gives_the_bits_of_plain_lloyd_and_skips_rows() {
    for (n, d, k, groups, seed) in
        // Few rows (labelled, then summed cluster by cluster) and enough for the fused pass; rows
        // of at most eight features are pruned from 64 centres on.
        [
            (6000, 5, 70, 30, 1),
            (3000, 33, 120, 200, 2),
            (2000, 2, 64, 7, 3),
            (5000, 17, 300, 50, 4),
            (40_000, 6, 90, 40, 5),
            (3000, 12, 17, 7, 6),
        ]
    {
        let x = blobs(n, d, groups, seed);
        let points = Points::from_rows(&x, d).unwrap();
        let params = reduce_params(k, 2, seed).check().unwrap();
        let pruned = fit_lloyd(points, None, &params, &Cpu, &NEVER).unwrap();
        let plain = fit_lloyd(points, None, &params, &PLAIN, &NEVER).unwrap();
        assert!(pruned.n_iter >= 2, "n={n} d={d} k={k}: only {} iterations", pruned.n_iter);
        assert_eq!(pruned.centers, plain.centers, "n={n} d={d} k={k}");
        assert_eq!(pruned.labels, plain.labels);
        assert_eq!(pruned.loss.to_bits(), plain.loss.to_bits());
        // The float64 kernel prunes with its own (much smaller) rounding margin.
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let points64 = Points::from_rows(&x64, d).unwrap();
        let pruned = fit_lloyd(points64, None, &params, &Cpu, &NEVER).unwrap();
        let plain = fit_lloyd(points64, None, &params, &PLAIN, &NEVER).unwrap();
        assert_eq!((&pruned.centers, &pruned.labels), (&plain.centers, &plain.labels), "f64, n={n} d={d} k={k}");
        assert_eq!(pruned.loss.to_bits(), plain.loss.to_bits());
        let w: Vec<f64> = (0..n).map(|i| (i % 5) as f64 * 0.5).collect();
        let pruned = fit_lloyd(points, Some(&w), &params, &Cpu, &NEVER).unwrap();
        let plain = fit_lloyd(points, Some(&w), &params, &PLAIN, &NEVER).unwrap();
        assert_eq!((pruned.centers, pruned.labels), (plain.centers, plain.labels), "weighted, n={n} d={d} k={k}");
    }
}

#[test]
fn bounds_skip_most_rows_once_the_centres_settle() {
    // Rows of eight features are pruned from 64 centres on.
    let (n, d, k) = (20_000, 8, 64);
    let x = blobs(n, d, k, 9);
    let points = Points::from_rows(&x, d).unwrap();
    let mut centers: Vec<f32> = x[..k * d].to_vec();
    let (mut labels, mut dist2, mut bounds) = (vec![0; n], vec![0.0; n], Bounds::new());
    let mut scanned = Vec::new();
    for _ in 0..8 {
        let c = Points::from_rows(&centers, d).unwrap();
        let sums = assign_and_sum_bounded(points, None, c, &mut labels, &mut dist2, &mut bounds);
        scanned.push(bounds.scanned);
        sums.move_centers(&mut centers);
    }
    // The same in float64.
    let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let points64 = Points::from_rows(&x64, d).unwrap();
    let mut centers64: Vec<f64> = x64[..k * d].to_vec();
    let mut bounds64 = Bounds::new();
    let mut scanned64 = Vec::new();
    for _ in 0..8 {
        let c = Points::from_rows(&centers64, d).unwrap();
        let sums = assign_and_sum_bounded(points64, None, c, &mut labels, &mut dist2, &mut bounds64);
        scanned64.push(bounds64.scanned);
        sums.move_centers(&mut centers64);
    }
    if fastkmeans_core::kernels::avx2::available() {
        for scanned in [scanned, scanned64] {
            assert_eq!(scanned[0], n, "the first pass scans every row");
            assert!(*scanned.last().unwrap() < n / 10, "rows scanned per pass: {scanned:?}");
        }
    }
}

#[test]
fn one_thread_and_many_threads_give_identical_bits() {
    // Seven features run the narrow kernel, nine the microkernel (in blocks of centres).
    for d in [7, 9] {
        threads_give_identical_bits(d);
    }
}

fn threads_give_identical_bits(d: usize) {
    // Enough rows for many row blocks, and more centres than one centre block.
    let n = 40 * ROW_BLOCK + 17;
    let x: Vec<f32> = (0..n * d).map(|i| ((i * 7919 % 1013) as f32).sin() * 50.0).collect();
    let points = Points::from_rows(&x, d).unwrap();
    let unchecked = MiniBatchParams {
        n_centers: 300,
        mini_batch_size: 700,
        epochs: 2,
        init: InitMethod::PLAIN_KMEANS_PP,
        half_life_time_size: 1000,
        reseed_ratio: fastkmeans_core::DEFAULT_RESEED_RATIO,
        refine: None,
        reduce: reduce_params(12, 4, 42),
    };
    let params = unchecked.check().unwrap();
    // Enough rows for the fused pass, whose partial sums are merged in chunk order.
    let big: Vec<f32> = (0..300 * ROW_BLOCK * d).map(|i| ((i * 7919 % 1013) as f32).sin() * 50.0).collect();
    let big = Points::from_rows(&big, d).unwrap();
    // Mini-batches large enough to gather in the fused pass.
    let gathered = MiniBatchParams { n_centers: 20, mini_batch_size: 4100, epochs: 1, ..unchecked }.check().unwrap();
    // The in-memory default's end: trials measured on the rows side by side, then refined.
    let refine = Some(LloydParams { max_iter: 30, tol: 1e-5, rule: fastkmeans_core::StopRule::CenterShift });
    let refined = MiniBatchParams { refine, reduce: reduce_params(12, 10, 43), ..unchecked }.check().unwrap();
    let run = || {
        let mb = fit_minibatch(points, &params, &Cpu, &NEVER).unwrap();
        let mb_refined = fit_minibatch(points, &refined, &Cpu, &NEVER).unwrap();
        let refined = (mb_refined.reduced.centers, mb_refined.centers, mb_refined.labels, mb_refined.inertia.to_bits());
        let mb_fused = fit_minibatch(big, &gathered, &Cpu, &NEVER).unwrap();
        let ll = fit_lloyd(points, None, &reduce_params(30, 3, 7).check().unwrap(), &Cpu, &NEVER).unwrap();
        let fused = fit_lloyd(big, None, &reduce_params(30, 1, 8).check().unwrap(), &Cpu, &NEVER).unwrap();
        let lloyd = (ll.centers, ll.labels, ll.loss.to_bits(), fused.centers, fused.labels, fused.loss.to_bits());
        (mb.state, mb.reduced.centers, mb.labels, mb.inertia.to_bits(), mb_fused.state, lloyd, refined)
    };
    let one = in_pool(1, run);
    for threads in [2, 3, 5] {
        assert!(one == in_pool(threads, run), "d = {d}: {threads} threads differ from 1");
    }
}

#[test]
fn half_life_halves_a_points_weight_after_half_life_time_size_points() {
    let d = 1;
    let seed_rows = [0.0f64, 100.0];
    let mut state = MiniBatchState::seed(Points::from_rows(&seed_rows, d).unwrap(), 2, InitMethod::Random, 1).unwrap();
    let near_zero = [1.0f64; 10];
    state.update(Points::from_rows(&near_zero, d).unwrap(), 10, &Cpu).unwrap();
    let zero_cluster = state.centers.iter().position(|&c| c == 1.0).unwrap();
    assert_eq!(state.counts[zero_cluster], 10.0);
    // 10 more points elsewhere: the first 10 now weigh half.
    let far = [100.0f64; 10];
    state.update(Points::from_rows(&far, d).unwrap(), 10, &Cpu).unwrap();
    assert_eq!(state.counts[zero_cluster], 5.0);
    assert_eq!(state.points_seen, 20);
}

#[test]
fn empty_clusters_take_the_farthest_points_instead_of_going_nan() {
    // Three identical initial centres: two clusters are empty after the first assignment.
    let x = [0.0f64, 0.0, 1.0, 0.0, 10.0, 0.0, 10.0, 1.0, 50.0, 50.0];
    let points = Points::from_rows(&x, 2).unwrap();
    let fit =
        lloyd(points, None, vec![0.0; 6], &LloydParams::loss_rule(50, 0.0).check().unwrap(), &Cpu, &NEVER).unwrap();
    assert!(fit.centers.iter().all(|v| v.is_finite()));
    let mut used: Vec<u32> = fit.labels.clone();
    used.sort();
    used.dedup();
    assert_eq!(used.len(), 3, "every cluster holds points: {:?}", fit.labels);
    assert!(fit.loss < 2.0, "loss {}", fit.loss);
}

#[test]
fn k_equal_to_the_number_of_distinct_points_gives_zero_loss() {
    let x = [1.0f32, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0, -1.0, 0.0];
    let points = Points::from_rows(&x, 2).unwrap();
    let fit = fit_lloyd(points, None, &reduce_params(3, 2, 3).check().unwrap(), &Cpu, &NEVER).unwrap();
    assert_eq!(fit.loss, 0.0);
}

#[test]
fn too_few_points_and_a_set_stop_flag_are_errors() {
    let x = [1.0f32, 2.0];
    let points = Points::from_rows(&x, 1).unwrap();
    let err = fit_lloyd(points, None, &reduce_params(3, 1, 0).check().unwrap(), &Cpu, &NEVER).unwrap_err();
    assert_eq!(err.to_string(), "n_samples=2 should be >= k=3");
    let stop = AtomicBool::new(true);
    let err = fit_lloyd(points, None, &reduce_params(1, 1, 0).check().unwrap(), &Cpu, &stop).unwrap_err();
    assert_eq!(err, fastkmeans_core::Error::Interrupted);
    let bad = LloydParams::loss_rule(0, 0.5).check().unwrap_err();
    assert!(bad.to_string().contains("local_lloyd_max_iter"));
}

#[test]
fn duplicate_seeds_are_moved_onto_far_points_but_waiting_centres_are_not() {
    let seed_rows = [5.0f64, 5.0, 5.0, 200.0];
    let mut state = MiniBatchState::seed(Points::from_rows(&seed_rows, 1).unwrap(), 4, InitMethod::Random, 9).unwrap();
    let batch = [4.0f64, 6.0, 50.0, 190.0];
    state.update(Points::from_rows(&batch, 1).unwrap(), 0, &Cpu).unwrap();
    let mut centers = state.centers.clone();
    centers.sort_by(f64::total_cmp);
    // The first copy of 5 takes 4, 6 and 50 (moving to 20) and 200 takes 190. That leaves the
    // second copy of 5 free to win points later; the third can never win and moves onto the
    // point that was farthest from its centre, 50 (45 away).
    assert_eq!(state.counts.iter().filter(|&&c| c == 0.0).count(), 2);
    assert_eq!(centers, vec![5.0, 20.0, 50.0, 190.0]);
}

#[test]
fn far_points_are_kept_for_the_reduction_and_tails_are_not() {
    // 2000 points in two tight groups and 3 points very far away; K = 4 streaming centres.
    let mut rows: Vec<f64> =
        (0..2000).map(|i| if i % 2 == 0 { (i % 7) as f64 * 0.01 } else { 10.0 + (i % 5) as f64 * 0.01 }).collect();
    rows.extend([1000.0, 1000.5, 1001.0]);
    let x = Points::from_rows(&rows, 1).unwrap();
    let mut state = MiniBatchState::seed(x.rows(0, 2000), 4, InitMethod::PLAIN_KMEANS_PP, 3).unwrap();
    state.update(x, 0, &Cpu).unwrap();
    let mut far = state.far_points.clone();
    far.sort_by(f64::total_cmp);
    assert_eq!(far, vec![1000.0, 1000.5, 1001.0]);
    assert_eq!(state.far_weights, vec![1.0; 3]);
    // k = 3: the reduction gives the far group a centre of its own.
    let params = ReduceParams { k: 3, ..reduce_params(3, 5, 1) }.check().unwrap();
    let reduced = state.reduce(&params, &Cpu, &NEVER).unwrap();
    assert!(reduced.centers.iter().any(|&c| (c - 1000.5).abs() < 1.0), "{:?}", reduced.centers);
    // A batch of tight groups alone keeps nothing.
    let mut plain = MiniBatchState::seed(x.rows(0, 2000), 4, InitMethod::PLAIN_KMEANS_PP, 3).unwrap();
    plain.update(x.rows(0, 2000), 0, &Cpu).unwrap();
    assert!(plain.far_points.is_empty());
}

/// Shards of weighted centres reduce as their concatenation does (in shard order, empty shards
/// skipped), and a shard that does not fit is named in the error.
#[test]
fn reduce_shards_is_reduce_over_the_shards_together() {
    use fastkmeans_core::{reduce, reduce_shards, Error, Shard};
    let x = blobs(300, 4, 5, 21);
    let mut next = uniform(22);
    let w: Vec<f64> = (0..300).map(|_| 1.0 + (next() * 10.0).floor()).collect();
    let params = reduce_params(5, 3, 4).check().unwrap();
    let all = reduce(Points::from_rows(&x, 4).unwrap(), &w, &params, &Cpu, &NEVER).unwrap();
    let shard =
        |a: usize, b: usize| Shard { centers: Points::from_rows(&x[a * 4..b * 4], 4).unwrap(), weights: &w[a..b] };
    let split = reduce_shards(&[shard(0, 120), shard(120, 120), shard(120, 300)], &params, &Cpu, &NEVER).unwrap();
    assert_eq!((&all.centers, all.ssd.to_bits(), all.n_iter), (&split.centers, split.ssd.to_bits(), split.n_iter));
    let one = reduce_shards(&[shard(0, 300)], &params, &Cpu, &NEVER).unwrap();
    assert_eq!(all.centers, one.centers);

    let narrow = Shard { centers: Points::from_rows(&x[..30], 3).unwrap(), weights: &w[..10] };
    let err = reduce_shards(&[shard(0, 100), narrow], &params, &Cpu, &NEVER).unwrap_err();
    assert_eq!(err, Error::FeatureMismatch { expected: 4, got: 3 });
    let bad = [f64::NAN; 5];
    let err = reduce_shards(&[Shard { weights: &bad, ..shard(0, 5) }], &params, &Cpu, &NEVER).unwrap_err();
    assert_eq!(err.to_string(), "weights must be finite, non-negative and one per row: shard 0: weight NaN of row 0");
    assert!(matches!(reduce_shards::<f32, _>(&[], &params, &Cpu, &NEVER), Err(Error::Empty { .. })));
}

/// An in-memory float64 fit of one mini-batch with a refine streams a float32 copy of its rows
/// and refines over the rows themselves (`algo::coarse`), unless float32 would blur them.
#[test]
fn float64_fits_of_one_batch_stream_in_float32_and_refine_in_float64() {
    let (n, d, k) = (2000, 16, 5);
    // Not float32 values: each a float64 that float32 rounds.
    let x: Vec<f64> = blobs(n, d, k, 3).iter().map(|&v| v as f64 + 0.123_456_789_012_3).collect();
    let refine = LloydParams { max_iter: 100, tol: 1e-5, rule: fastkmeans_core::StopRule::CenterShift };
    let params = MiniBatchParams {
        n_centers: 5 * k,
        mini_batch_size: n,
        epochs: 1,
        init: InitMethod::KMeansPlusPlusThenRandom { plus_plus: k },
        half_life_time_size: 0,
        reseed_ratio: fastkmeans_core::DEFAULT_RESEED_RATIO,
        refine: Some(refine),
        reduce: reduce_params(k, 10, 7),
    }
    .check()
    .unwrap();
    let in_f32 = |values: &[f64]| values.iter().all(|&v| v == v as f32 as f64);
    let points = Points::from_rows(&x, d).unwrap();
    let fit = fit_minibatch(points, &params, &Cpu, &NEVER).unwrap();
    assert!(in_f32(&fit.state.centers), "the streaming centres are float32's");
    assert!(!in_f32(&fit.centers), "the final centres are means of the float64 rows");
    // The refine ran to the end over the float64 rows: one more Lloyd pass changes nothing.
    let again = lloyd(points, None, fit.centers.clone(), &refine.check().unwrap(), &Cpu, &NEVER).unwrap();
    assert_eq!(again.labels, fit.labels);
    assert!((again.loss - fit.inertia).abs() <= 1e-12 * fit.inertia);
    // The same bits on any number of threads.
    let run = || {
        let f = fit_minibatch(points, &params, &Cpu, &NEVER).unwrap();
        (f.state, f.reduced.centers, f.centers, f.labels, f.inertia.to_bits())
    };
    let one = in_pool(1, run);
    assert!(one == in_pool(3, run), "3 threads differ from 1");
    // Rows near 10⁶ that spread by a few units: float32 would blur them; the fit keeps float64.
    let offset: Vec<f64> = x.iter().map(|v| v * 0.01 + 1e6).collect();
    let fit = fit_minibatch(Points::from_rows(&offset, d).unwrap(), &params, &Cpu, &NEVER).unwrap();
    assert!(!in_f32(&fit.state.centers), "the streaming centres are float64's");
    // Rows so close together that float32's squared distances would lose their digits, likewise.
    let close: Vec<f64> = x.iter().map(|v| v * 1e-18).collect();
    let fit = fit_minibatch(Points::from_rows(&close, d).unwrap(), &params, &Cpu, &NEVER).unwrap();
    assert!(!in_f32(&fit.state.centers), "the streaming centres of close rows are float64's");
}
