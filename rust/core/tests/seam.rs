//! The algorithms run through the seam alone: a backend that implements nothing but a scalar
//! triple loop for `assign` (every other method is the trait's default) trains the same models,
//! to the bit, as the CPU backend with its SIMD kernels, fused and bounded passes.
//!
//! The data are well-separated blobs (no row near a tie, where the SIMD kernel's rounded scores
//! and exact distances could disagree) of fewer rows than the CPU's fused pass needs, so the CPU
//! sums cluster by cluster in row order, as the default does.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use fastkmeans_core::kernels::incremental::RunSums;
use fastkmeans_core::kernels::points::sq_dist_f64;
use fastkmeans_core::{
    fit_lloyd, fit_minibatch, lloyd, reduce, Backend, Cpu, CsrBuf, Data, InitMethod, LloydParams, MiniBatchParams,
    Points, Rows, Scalar, StopRule,
};

mod common;
use common::{reduce_params, uniform};

static NEVER: AtomicBool = AtomicBool::new(false);

/// The simplest backend there is: every row against every centre, exact squared distances as the
/// contract defines them, ties to the lowest index. It counts its calls.
#[derive(Default)]
struct Naive {
    calls: AtomicUsize,
}

impl Backend for Naive {
    fn assign<F: Scalar>(
        &self,
        x: Data<'_, F>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> fastkmeans_core::Result<()> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let norms: Vec<f64> =
            (0..centers.n()).map(|j| centers.row(j).iter().map(|v| v.to_f64() * v.to_f64()).sum()).collect();
        for i in 0..x.n() {
            let mut best = (0u32, f64::INFINITY);
            for (j, &norm) in norms.iter().enumerate() {
                let d = match x {
                    Data::Dense(x) => sq_dist_f64(x.row(i), centers.row(j)),
                    Data::Sparse(_) => x.sq_dist_to(i, centers.row(j), norm),
                };
                if d < best.1 {
                    best = (j as u32, d);
                }
            }
            (labels[i], dist2[i]) = best;
        }
        Ok(())
    }
}

/// `groups` blobs of integer-valued rows, their means 40 apart on a grid, noise within ±3.
fn blobs<F: Scalar>(n: usize, d: usize, groups: usize, seed: u64) -> Vec<F> {
    let mut next = uniform(seed);
    (0..n)
        .flat_map(|_| {
            let g = (next() * groups as f64) as usize;
            let noise: Vec<f64> = (0..d).map(|_| (next() * 7.0).floor() - 3.0).collect();
            (0..d).map(move |p| F::from_f64(40.0 * ((g >> p) & 3) as f64 + noise[p]))
        })
        .collect()
}

/// The dense rows as CSR (zeros dropped).
fn to_csr<F: Scalar>(x: &[F], d: usize) -> CsrBuf<F> {
    let mut buf = CsrBuf { indptr: vec![0], indices: Vec::new(), data: Vec::new(), d };
    for row in x.chunks_exact(d) {
        for (j, &v) in row.iter().enumerate().filter(|(_, v)| **v != F::ZERO) {
            buf.indices.push(j as i32);
            buf.data.push(v);
        }
        buf.indptr.push(buf.data.len() as i64);
    }
    buf
}

fn minibatch_params(k: usize) -> fastkmeans_core::Checked<MiniBatchParams> {
    MiniBatchParams {
        n_centers: 4 * k,
        mini_batch_size: 300,
        epochs: 2,
        init: InitMethod::PLAIN_KMEANS_PP,
        half_life_time_size: 0,
        reseed_ratio: fastkmeans_core::DEFAULT_RESEED_RATIO,
        refine: None,
        reduce: reduce_params(k, 3, 7),
    }
    .check()
    .unwrap()
}

/// Lloyd (20 centres: the CPU's bounded pass prunes), the mini-batch trainer and the reduction
/// give the same bits through both backends, and the naive one was really called.
fn same_through_both<F: Scalar, R: Rows<F>>(x: R, weights: Option<&[f64]>) {
    let naive = Naive::default();
    let params = reduce_params(20, 2, 3).check().unwrap();
    let (a, b) = (
        fit_lloyd(x, weights, &params, &Cpu, &NEVER).unwrap(),
        fit_lloyd(x, weights, &params, &naive, &NEVER).unwrap(),
    );
    assert_eq!((a.centers, a.labels, a.loss.to_bits(), a.n_iter), (b.centers, b.labels, b.loss.to_bits(), b.n_iter));
    assert!(b.n_iter >= 1);

    let params = minibatch_params(6);
    let (a, b) = (fit_minibatch(x, &params, &Cpu, &NEVER).unwrap(), fit_minibatch(x, &params, &naive, &NEVER).unwrap());
    assert_eq!(a.state, b.state);
    assert_eq!(
        (&a.reduced.centers, &a.labels, a.inertia.to_bits()),
        (&b.reduced.centers, &b.labels, b.inertia.to_bits())
    );

    let k = a.state.n_centers();
    let counts: Vec<f64> = (0..k).map(|i| 1.0 + (i % 5) as f64).collect();
    let params = reduce_params(6, 4, 9).check().unwrap();
    let (a, b) = (
        reduce(a.state.centers(), &counts, &params, &Cpu, &NEVER).unwrap(),
        reduce(a.state.centers(), &counts, &params, &naive, &NEVER).unwrap(),
    );
    assert_eq!((a.centers, a.ssd.to_bits()), (b.centers, b.ssd.to_bits()));
    assert!(naive.calls.load(Ordering::Relaxed) > 10, "the naive backend did the assigning");
}

#[test]
fn dense_float32_trains_the_same_bits_through_a_naive_backend() {
    let x: Vec<f32> = blobs(2000, 5, 24, 1);
    same_through_both(Points::from_rows(&x, 5).unwrap(), None);
}

#[test]
fn dense_float64_weighted_trains_the_same_bits_through_a_naive_backend() {
    let x: Vec<f64> = blobs(2000, 6, 30, 2);
    let mut next = uniform(3);
    let w: Vec<f64> = (0..2000).map(|_| (next() * 4.0).floor()).collect();
    same_through_both(Points::from_rows(&x, 6).unwrap(), Some(&w));
}

#[test]
fn sparse_trains_the_same_bits_through_a_naive_backend() {
    let x: Vec<f64> = blobs(1500, 7, 40, 4);
    let csr = to_csr(&x, 7);
    same_through_both(csr.view(), None);
}

/// Full-data Lloyd under the centre-shift rule (the refine step, `algorithm="lloyd"`): the CPU
/// keeps its sums from pass to pass and moves only the rows that change centre, the default
/// sums afresh every pass; the two runs take the same labels pass by pass (so the same number of
/// iterations), with centres and loss equal to within the sums' rounding.
#[test]
fn lloyd_under_the_shift_rule_takes_the_naive_backends_labels() {
    let (d, k) = (6, 24);
    let x: Vec<f64> = blobs(3000, d, 30, 5);
    let points = Points::from_rows(&x, d).unwrap();
    let mut next = uniform(6);
    let w: Vec<f64> = (0..3000).map(|_| (next() * 4.0).floor()).collect();
    for weights in [None, Some(&w[..])] {
        // The first rows as centres, several in some blobs: a long run, through the bounded passes.
        let start: Vec<f64> = (0..k).flat_map(|j| points.row(j).to_vec()).collect();
        let params = LloydParams { max_iter: 100, tol: 0.0, rule: StopRule::CenterShift }.check().unwrap();
        let naive = Naive::default();
        let a = lloyd(points, weights, start.clone(), &params, &Cpu, &NEVER).unwrap();
        let b = lloyd(points, weights, start, &params, &naive, &NEVER).unwrap();
        assert!(a.n_iter > 4, "a run past the passes without bounds ({} iterations)", a.n_iter);
        assert_eq!((&a.labels, a.n_iter), (&b.labels, b.n_iter));
        for (u, v) in a.centers.iter().zip(&b.centers) {
            assert!((u - v).abs() <= 1e-12 * (1.0 + v.abs()), "{u} vs {v}");
        }
        assert!((a.loss - b.loss).abs() <= 1e-12 * b.loss, "{} vs {}", a.loss, b.loss);
    }
}

/// The CPU, except that every pass after the first reports its distances stale and fills them
/// with NaN: Lloyd must measure the distances it needs itself (for an empty cluster's M step and
/// for the loss).
struct StaleDistances;

impl Backend for StaleDistances {
    fn assign<F: Scalar>(
        &self,
        x: Data<'_, F>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> fastkmeans_core::Result<()> {
        Cpu.assign(x, centers, labels, dist2)
    }

    fn assign_and_update<F: Scalar>(
        &self,
        x: Data<'_, F>,
        weights: Option<&[f64]>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
        run: &mut RunSums,
    ) -> fastkmeans_core::Result<bool> {
        Cpu.assign_and_update(x, weights, centers, labels, dist2, run)?;
        dist2.fill(f64::NAN);
        Ok(false)
    }
}

/// Two centres start on the same row, so the second gets no row at the first pass: the empty
/// cluster takes the row farthest from its centre, which only the true distances name.
#[test]
fn lloyd_measures_the_distances_a_backend_leaves_stale() {
    let (d, k) = (3, 8);
    let x: Vec<f64> = blobs(2000, d, 12, 7);
    let points = Points::from_rows(&x, d).unwrap();
    let mut start: Vec<f64> = (0..k).flat_map(|j| points.row(j * 211).to_vec()).collect();
    start.copy_within(0..d, d);
    let params = LloydParams { max_iter: 50, tol: 0.0, rule: StopRule::CenterShift }.check().unwrap();
    let a = lloyd(points, None, start.clone(), &params, &Cpu, &NEVER).unwrap();
    let b = lloyd(points, None, start, &params, &StaleDistances, &NEVER).unwrap();
    assert_eq!((a.centers, a.labels, a.loss.to_bits(), a.n_iter), (b.centers, b.labels, b.loss.to_bits(), b.n_iter));
}
