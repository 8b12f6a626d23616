//! Tests of the incremental pass: the bounds change no label and no bit of the sums, on any
//! thread count and on extreme values; when a pass sums afresh.

use super::*;
use crate::kernels::distance::assign;

/// Rows of small integers around `groups` centres (many exact ties), from a fixed stream.
fn blobs<F: Scalar>(n: usize, d: usize, groups: usize, seed: u64) -> Vec<F> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = move |m: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % m
    };
    let spots: Vec<f64> = (0..groups * d).map(|_| (next(41) as f64 - 20.0) * 3.0).collect();
    (0..n)
        .flat_map(|_| {
            let g = next(groups as u64) as usize;
            (0..d).map(|p| F::from_f64(spots[g * d + p] + next(9) as f64 - 4.0)).collect::<Vec<_>>()
        })
        .collect()
}

/// One Lloyd run of `iters` passes through [`pass`] with the bounds on or off: every pass's
/// labels and sums, and the rows read per pass. Before each pass whose number (from 0) `hints`
/// holds, the run says that it goes on ([`RunSums::bound_from_next_pass`]).
#[allow(clippy::type_complexity)]
fn run<F: Scalar>(
    x: &[F],
    d: usize,
    k: usize,
    weights: Option<&[f64]>,
    iters: usize,
    bounds: bool,
    hints: &[usize],
) -> (Vec<(Vec<u32>, ClusterSums, Vec<F>)>, Vec<usize>) {
    let points = Points::from_rows(x, d).unwrap();
    let n = points.n();
    // The first k distinct rows.
    let mut centers: Vec<F> = Vec::with_capacity(k * d);
    for row in x.chunks_exact(d) {
        if centers.len() < k * d && !centers.chunks_exact(d).any(|c| c == row) {
            centers.extend_from_slice(row);
        }
    }
    let (mut labels, mut dist2, mut state) = (vec![0u32; n], vec![0f64; n], RunSums::new());
    let (mut passes, mut read) = (Vec::new(), Vec::new());
    for _ in 0..iters {
        if hints.contains(&read.len()) {
            state.bound_from_next_pass();
        }
        let c = Points::from_rows(&centers, d).unwrap();
        let exact = pass(points, weights, c, &mut labels, &mut dist2, &mut state, Some(bounds));
        // The labels are the brute-force kernel's, and the distances exact where so reported.
        let (mut plain, mut plain_dist2) = (vec![0u32; n], vec![0f64; n]);
        assign(points, c, &mut plain, &mut plain_dist2);
        assert!(labels == plain, "{}, d = {d}, k = {k}, bounds {bounds}: pass {} labels", F::NAME, read.len());
        if exact {
            assert_eq!(dist2, plain_dist2, "pass {} distances", passes.len());
        }
        read.push(state.read);
        if state.none_empty() {
            state.move_centers(&mut centers);
        } else {
            // As Lloyd does: an empty cluster's centre moves onto a row, and the next pass
            // sums afresh.
            let empty = state.sums.members.iter().position(|&m| m == 0).unwrap();
            let row = read.len() * 31 % n;
            centers[empty * d..(empty + 1) * d].copy_from_slice(&x[row * d..(row + 1) * d]);
            state = RunSums::new();
            continue;
        }
        passes.push((labels.clone(), state.sums.clone(), centers.clone()));
    }
    (passes, read)
}

/// The weighted means of the rows by label, naively in f64.
fn means<F: Scalar>(x: &[F], d: usize, k: usize, labels: &[u32], weights: Option<&[f64]>) -> Vec<f64> {
    let (mut sums, mut total) = (vec![0f64; k * d], vec![0f64; k]);
    for (i, &l) in labels.iter().enumerate() {
        let w = weights.map_or(1.0, |w| w[i]);
        total[l as usize] += w;
        for p in 0..d {
            sums[l as usize * d + p] += w * x[i * d + p].to_f64();
        }
    }
    (0..k * d).map(|j| sums[j] / total[j / d]).collect()
}

fn bounds_change_nothing<F: Scalar>(d: usize, k: usize, weighted: bool) {
    let n = 3000;
    let x: Vec<F> = blobs(n, d, k, (d * 100 + k) as u64);
    // Every seventh row weighs nothing; the others 1 to 3.
    let w: Vec<f64> = (0..n).map(|i| if i % 7 == 3 { 0.0 } else { 1.0 + (i % 3) as f64 }).collect();
    let weights = weighted.then_some(&w[..]);
    let what = format!("d = {d}, k = {k}, weighted {weighted}, {}", std::any::type_name::<F>());
    let (with, read) = run(&x, d, k, weights, 40, true, &[]);
    let (without, _) = run(&x, d, k, weights, 40, false, &[]);
    assert!(with.len() > BOUNDS_FROM + 3, "{what}: a run long enough to use the bounds ({} passes)", with.len());
    assert!(with == without, "{what}: the bounds change no label and no bit of the sums");
    // The sums kept from pass to pass are those of the labels (each centre is its rows' mean).
    for (p, (labels, _, centers)) in with.iter().enumerate() {
        let want = means(&x, d, k, labels, weights);
        for (j, (&got, &want)) in centers.iter().zip(&want).enumerate() {
            let tol = 1e-9 * (1.0 + want.abs()) + 2.0 * F::UNIT_ROUNDOFF * want.abs();
            assert!((got.to_f64() - want).abs() <= tol, "{what}, pass {p}, value {j}: {} vs {want}", got.to_f64());
        }
    }
    // The bounds were used: some late pass read under half the rows.
    assert!(read[BOUNDS_FROM + 1..].iter().any(|&r| r < n / 2), "{what}: rows read per pass {read:?}");
}

#[test]
fn passes_with_and_without_bounds_give_the_same_labels_and_sums() {
    for (d, k) in [(2, 70), (3, 50), (8, 20), (11, 7), (40, 3), (40, 12)] {
        for weighted in [false, true] {
            bounds_change_nothing::<f32>(d, k, weighted);
            bounds_change_nothing::<f64>(d, k, weighted);
        }
    }
}

/// With the hint after the first pass, the second sets the bounds and the third may use them;
/// the bounds still change no label and no bit of the sums.
#[test]
fn a_run_that_says_it_goes_on_sets_the_bounds_a_pass_earlier() {
    let n = 3000;
    for (d, k) in [(40, 12), (64, 10)] {
        let x: Vec<f64> = blobs(n, d, k, (d * 100 + k) as u64);
        let (with, read) = run(&x, d, k, None, 40, true, &[1]);
        let (without, _) = run(&x, d, k, None, 40, false, &[1]);
        assert!(with == without, "d = {d}, k = {k}: the bounds change no label and no bit of the sums");
        let (_, unhinted) = run(&x, d, k, None, 40, true, &[]);
        // Without the hint the third pass sets the bounds, reading every row; with it, that
        // pass already uses them.
        assert_eq!(unhinted[BOUNDS_FROM], n, "d = {d}, k = {k}: rows read per pass {unhinted:?}");
        assert!(read[BOUNDS_FROM] < n && read[1] == n, "d = {d}, k = {k}: rows read per pass {read:?}");
    }
}

/// Told before its first pass, as Lloyd tells it, a run sets the bounds in that pass and uses
/// them from the second; told again after the first pass, it does not set them again. The
/// bounds still change no label and no bit of the sums.
#[test]
fn a_run_told_before_its_first_pass_bounds_its_second_and_keeps_its_bounds() {
    let n = 3000;
    for (d, k) in [(40, 12), (64, 10)] {
        let x: Vec<f64> = blobs(n, d, k, (d * 100 + k) as u64);
        let (with, read) = run(&x, d, k, None, 40, true, &[0, 1]);
        let (without, _) = run(&x, d, k, None, 40, false, &[0, 1]);
        assert!(with == without, "d = {d}, k = {k}: the bounds change no label and no bit of the sums");
        assert!(read[0] == n && read[1] < n && read[2] < n, "d = {d}, k = {k}: rows read per pass {read:?}");
    }
}

#[test]
fn passes_are_the_same_bits_on_any_thread_count() {
    let (d, k) = (11, 9);
    let x: Vec<f64> = blobs(5000, d, k, 5);
    let runs: Vec<_> = [1, 3]
        .iter()
        .map(|&t| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
            pool.install(|| run(&x, d, k, None, 30, true, &[]).0)
        })
        .collect();
    assert!(runs[0] == runs[1]);
}

#[test]
fn a_pass_after_many_moves_sums_afresh_and_says_its_distances_are_exact() {
    // Centres far from the data's clusters at first: the second pass moves most rows. Rows
    // of five features against four centres: no bounds, and a pass that does not sum afresh
    // leaves the distances stale, so `exact` says which passes summed afresh.
    let (d, k, n) = (5, 4, 2000);
    let x: Vec<f64> = blobs(n, d, k, 9);
    let points = Points::from_rows(&x, d).unwrap();
    let mut centers: Vec<f64> = (0..k * d).map(|j| j as f64).collect();
    let (mut labels, mut dist2, mut state) = (vec![0u32; n], vec![0f64; n], RunSums::new());
    let (mut exact, mut moved) = (Vec::new(), Vec::new());
    for _ in 0..8 {
        let c = Points::from_rows(&centers, d).unwrap();
        exact.push(pass(points, None, c, &mut labels, &mut dist2, &mut state, None));
        moved.push(state.moved);
        state.move_centers(&mut centers);
    }
    assert!(exact[0], "the first pass sums every row");
    for p in 1..exact.len() {
        let afresh = moved[p - 1] > n / RESUM_MOVED || p == BOUNDS_FROM;
        assert_eq!(exact[p], afresh, "pass {p}: moved per pass {moved:?}, exact {exact:?}");
    }
    assert!(moved[1] > n / RESUM_MOVED && exact.iter().skip(1).any(|&e| !e), "both kinds of pass ran: {exact:?}");
}

/// Centres whose float32 squared norm overflows score +∞ for every row: such a centre bounds
/// nothing, and when it comes back the rows it should take are rescanned.
#[test]
fn a_centre_that_overflows_float32_leaves_no_row_unscanned() {
    let (d, n) = (9, 2000);
    let x: Vec<f32> = (0..n).flat_map(|i| vec![if i % 2 == 0 { 1e18f32 } else { 0.0 }; d]).collect();
    let points = Points::from_rows(&x, d).unwrap();
    let (mut labels, mut dist2, mut state) = (vec![0u32; n], vec![0f64; n], RunSums::new());
    for p in 0..8 {
        let far = if p < 5 { 1.5e19f32 } else { 1e18 };
        let centers: Vec<f32> = [vec![far; d], vec![0.5f32; d]].concat();
        let c = Points::from_rows(&centers, d).unwrap();
        pass(points, None, c, &mut labels, &mut dist2, &mut state, Some(true));
        let (mut plain, mut plain_dist2) = (vec![0u32; n], vec![0f64; n]);
        assign(points, c, &mut plain, &mut plain_dist2);
        assert!(labels == plain, "pass {p}");
    }
    assert_eq!(labels.iter().filter(|&&l| l == 0).count(), n / 2, "the far centre took its rows back");
}

/// Rows so small that the kernel's products are subnormal: its scores are off by absolute
/// amounts, which the bounds' margins cover too.
#[test]
fn subnormal_scores_leave_the_labels_exact() {
    let (d, k, n) = (16, 5, 3000);
    for seed in [22, 24] {
        let x32: Vec<f32> = blobs::<f64>(n, d, k, seed).iter().map(|v| (v * 3e-23) as f32).collect();
        bounds_change_nothing_on(&x32, d, k);
    }
    let x64: Vec<f64> = blobs::<f64>(n, d, k, 22).iter().map(|v| v * 1e-160).collect();
    bounds_change_nothing_on(&x64, d, k);
}

fn bounds_change_nothing_on<F: Scalar>(x: &[F], d: usize, k: usize) {
    // `run` checks every pass's labels against the brute-force kernel's.
    let (with, _) = run(x, d, k, None, 60, true, &[]);
    let (without, _) = run(x, d, k, None, 60, false, &[]);
    assert!(with == without);
}

/// A row of huge weight leaves a cluster of small ones: taking it out of the kept weight and
/// sums would leave rounding as large as what remains, so the pass sums afresh.
#[test]
fn a_cluster_left_by_a_huge_weight_is_summed_afresh() {
    let (d, n) = (9, 400);
    let value = |i: usize| {
        if i == 0 {
            4.9
        } else if i < 200 {
            (i % 3) as f64 * 0.1
        } else {
            10.0 + (i % 3) as f64 * 0.1
        }
    };
    let x: Vec<f64> = (0..n).flat_map(|i| vec![value(i); d]).collect();
    let w: Vec<f64> = (0..n).map(|i| if i == 0 { 1e17 } else { 1.0 }).collect();
    let points = Points::from_rows(&x, d).unwrap();
    let (mut labels, mut dist2, mut state) = (vec![0u32; n], vec![0f64; n], RunSums::new());
    for (p, c1) in [10.0, 9.0].into_iter().enumerate() {
        let centers: Vec<f64> = [vec![0.0; d], vec![c1; d]].concat();
        let exact =
            pass(points, Some(&w), Points::from_rows(&centers, d).unwrap(), &mut labels, &mut dist2, &mut state, None);
        assert!(exact, "pass {p} sums afresh");
    }
    assert_eq!((labels[0], state.sums.weights[0], state.sums.members[0]), (1, 199.0, 199));
    let mut centers = vec![0f64; 2 * d];
    state.move_centers(&mut centers);
    let mean = (1..200).map(value).sum::<f64>() / 199.0;
    assert!((centers[0] - mean).abs() < 1e-12, "{} vs {mean}", centers[0]);
}

/// A run's sums reused with another shape of centres (same k · d) start afresh.
#[test]
fn sums_of_another_shape_start_afresh() {
    let n = 1000;
    let x: Vec<f64> = blobs(n, 12, 4, 3);
    let mut state = RunSums::new();
    let (mut labels, mut dist2) = (vec![0u32; n], vec![0f64; n]);
    for (k, d) in [(4, 6), (4, 6), (6, 4)] {
        let points = Points::from_rows(&x[..n * d], d).unwrap();
        let centers: Vec<f64> = x[..k * d].to_vec();
        let c = Points::from_rows(&centers, d).unwrap();
        let exact = pass(points, None, c, &mut labels, &mut dist2, &mut state, None);
        let (mut plain, mut plain_dist2) = (vec![0u32; n], vec![0f64; n]);
        assign(points, c, &mut plain, &mut plain_dist2);
        assert!(labels == plain, "k = {k}, d = {d}");
        if (k, d) == (6, 4) {
            assert!(exact && state.sums.weights.len() == k, "a fresh start");
        }
    }
}

#[test]
fn the_upper_bounds_pad_is_d_plus_two_of_the_smallest_subnormal() {
    for d in [0usize, 1, 7, 64, 784, 1 << 20, (1 << 52) - 2, (1 << 53) - 2] {
        let (own, pad) = (2.5, (d + 2) as f64 * f64::TINY);
        assert_eq!(f64::from_bits((d + 2) as u64), pad, "d = {d}");
        let want = (own * (1.0 + (d + 2) as f64 * f64::EPSILON) + pad).sqrt() * UP;
        assert_eq!(upper_bound(own, d).to_bits(), want.to_bits(), "d = {d}");
        assert!(upper_bound(0.0, d) > 0.0);
    }
}
