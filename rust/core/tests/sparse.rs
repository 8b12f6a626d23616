//! Sparse (CSR) rows give what the same numbers give dense.

use std::sync::atomic::AtomicBool;

use fastkmeans_core::kernels::distance::assign_naive;
use fastkmeans_core::kernels::sparse::{self, Csr, CsrBuf};
use fastkmeans_core::kernels::sums::sum_by_label;
use fastkmeans_core::{fit_lloyd, fit_minibatch, Cpu, Error, InitMethod, MiniBatchParams, Points};
use proptest::prelude::*;

mod common;
use common::{in_pool, reduce_params, uniform};

static NEVER: AtomicBool = AtomicBool::new(false);

/// The CSR form of a dense row-major matrix (zeros dropped).
fn to_csr<F: fastkmeans_core::Scalar>(x: &[F], d: usize) -> CsrBuf<F> {
    let mut buf = CsrBuf { indptr: vec![0], indices: Vec::new(), data: Vec::new(), d };
    for row in x.chunks_exact(d) {
        for (j, &v) in row.iter().enumerate() {
            if v != F::ZERO {
                buf.indices.push(j as i32);
                buf.data.push(v);
            }
        }
        buf.indptr.push(buf.data.len() as i64);
    }
    buf
}

/// Non-negative, mostly zero rows (like word counts): `groups` topics, each using its own columns.
fn documents(n: usize, d: usize, groups: usize, seed: u64) -> Vec<f32> {
    let mut next = uniform(seed);
    let mut x = vec![0f32; n * d];
    let width = d / groups;
    for row in x.chunks_exact_mut(d) {
        let g = (next() * groups as f64) as usize;
        for _ in 0..8 {
            let j = g * width + (next() * width as f64) as usize;
            row[j] += (1.0 + (next() * 4.0).floor()) as f32;
        }
    }
    x
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.iter().zip(b).all(|(u, v)| (u - v).abs() <= tol * (1.0 + u.abs().max(v.abs())))
}

fn integer_matrix(rows: std::ops::Range<usize>, d: usize) -> impl Strategy<Value = Vec<f32>> {
    // Three in four values are zero; the rest small integers, so every score is exact.
    let value = prop_oneof![3 => Just(0.0f32), 1 => (-8i32..=8).prop_map(|v| v as f32)];
    rows.prop_flat_map(move |n| proptest::collection::vec(value.clone(), n * d))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn sparse_assignment_equals_the_naive_triple_loop(
        (d, x, c) in (1usize..40).prop_flat_map(|d| (Just(d), integer_matrix(1..300, d), integer_matrix(1..50, d)))
    ) {
        let csr = to_csr(&x, d);
        let centers = Points::from_rows(&c, d).unwrap();
        let mut labels = vec![0; csr.view().n()];
        let mut dist2 = vec![0.0; csr.view().n()];
        sparse::assign(csr.view(), centers, &mut labels, &mut dist2);
        let (naive_labels, naive_dist2) = assign_naive(Points::from_rows(&x, d).unwrap(), centers);
        prop_assert_eq!(labels, naive_labels);
        prop_assert_eq!(dist2, naive_dist2);
    }

    #[test]
    fn sparse_sums_equal_dense_sums(
        (d, x, c) in (1usize..20).prop_flat_map(|d| (Just(d), integer_matrix(1..200, d), integer_matrix(1..20, d)))
    ) {
        let csr = to_csr(&x, d);
        let (xs, centers) = (Points::from_rows(&x, d).unwrap(), Points::from_rows(&c, d).unwrap());
        let (labels, _) = assign_naive(xs, centers);
        let weights: Vec<f64> = (0..xs.n()).map(|i| (i % 3) as f64).collect();
        let dense = sum_by_label(xs, Some(&weights), centers, &labels);
        let sparse = sparse::sum_by_label(csr.view(), Some(&weights), centers, &labels);
        // Small integers: both forms are exact.
        prop_assert_eq!(&dense, &sparse);
        // The fused pass (assign and sum in row chunks) gives the same labels and sums.
        let (mut fused_labels, mut dist2) = (vec![0; xs.n()], vec![0.0; xs.n()]);
        let fused = sparse::assign_and_sum(csr.view(), Some(&weights), centers, &mut fused_labels, &mut dist2);
        prop_assert_eq!(fused_labels, labels);
        prop_assert_eq!(fused, sparse);
    }
}

#[test]
fn sparse_and_dense_training_give_the_same_model() {
    let (n, d) = (3000, 200);
    let x = documents(n, d, 5, 1);
    let csr = to_csr(&x, d);
    let dense = Points::from_rows(&x, d).unwrap();
    assert!(csr.view().nnz() < n * d / 20, "the test data is sparse");

    let params = reduce_params(5, 3, 11).check().unwrap();
    let a = fit_lloyd(dense, None, &params, &Cpu, &NEVER).unwrap();
    let b = fit_lloyd(csr.view(), None, &params, &Cpu, &NEVER).unwrap();
    assert_eq!(a.labels, b.labels);
    assert!(close(&a.centers, &b.centers, 1e-5));
    assert!((a.loss - b.loss).abs() <= 1e-9 * a.loss);

    let params = MiniBatchParams {
        n_centers: 50,
        mini_batch_size: 500,
        epochs: 2,
        init: InitMethod::PLAIN_KMEANS_PP,
        half_life_time_size: 0,
        reseed_ratio: fastkmeans_core::DEFAULT_RESEED_RATIO,
        refine: None,
        reduce: reduce_params(5, 3, 11),
    }
    .check()
    .unwrap();
    let a = fit_minibatch(dense, &params, &Cpu, &NEVER).unwrap();
    let b = fit_minibatch(csr.view(), &params, &Cpu, &NEVER).unwrap();
    assert_eq!(a.labels, b.labels);
    assert!(close(&a.reduced.centers, &b.reduced.centers, 1e-4));
    assert!(close(&a.state.centers, &b.state.centers, 1e-4));
    assert_eq!(a.state.counts, b.state.counts);
}

#[test]
fn sparse_training_gives_identical_bits_on_any_number_of_threads() {
    let (n, d) = (5000, 300);
    let x = documents(n, d, 6, 2);
    let csr = to_csr(&x, d);
    let params = MiniBatchParams {
        n_centers: 60,
        mini_batch_size: 700,
        epochs: 2,
        init: InitMethod::PLAIN_KMEANS_PP,
        half_life_time_size: 1000,
        reseed_ratio: fastkmeans_core::DEFAULT_RESEED_RATIO,
        refine: None,
        reduce: reduce_params(6, 3, 5),
    }
    .check()
    .unwrap();
    let run = || {
        let mb = fit_minibatch(csr.view(), &params, &Cpu, &NEVER).unwrap();
        let ll = fit_lloyd(csr.view(), None, &reduce_params(6, 2, 3).check().unwrap(), &Cpu, &NEVER).unwrap();
        (mb.state, mb.reduced.centers, mb.labels, ll.centers, ll.labels, ll.loss.to_bits())
    };
    let one = in_pool(1, run);
    for threads in [2, 3] {
        assert!(one == in_pool(threads, run), "{threads} threads differ from 1");
    }
}

#[test]
fn malformed_csr_arrays_are_named() {
    let message = |r: Result<Csr<'_, f32>, Error>| r.unwrap_err().to_string();
    assert!(message(Csr::new(&[0, 2, 1], &[0, 1], &[1.0, 2.0], 3)).contains("indptr decreases at row 1"));
    assert!(message(Csr::new(&[0, 1, 2], &[0, 3], &[1.0, 2.0], 3)).contains("column index 3 of row 1"));
    assert!(message(Csr::new(&[0, 1, 2], &[0, -1], &[1.0, 2.0], 3)).contains("column index -1 of row 1"));
    assert!(message(Csr::new(&[0, 1, 3], &[0, 1], &[1.0, 2.0], 3)).contains("ends at 3"));
    assert!(message(Csr::new(&[0, 1], &[0, 1], &[1.0], 3)).contains("2 column indices for 1 values"));
    assert!(message(Csr::new(&[1, 2], &[0], &[1.0], 3)).contains("starts at 1"));
    assert!(message(Csr::new(&[], &[], &[], 3)).contains("indptr is empty"));
    let csr = Csr::new(&[0, 1, 2], &[0, 2], &[1.0f32, f32::NAN], 3).unwrap();
    assert_eq!(csr.first_non_finite_row(), Some(1));
}
