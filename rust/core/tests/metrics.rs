//! The quality metrics against naive oracles: the blocked silhouette (both passes, dense and
//! sparse) against the double loop over all pairs, the Calinski–Harabasz and Davies–Bouldin
//! indices against their definitions, and the same bits on any number of threads.

use std::sync::atomic::AtomicBool;

use fastkmeans_core::kernels::silhouette::{silhouette_naive, silhouette_samples_tiled};
use fastkmeans_core::{calinski_harabasz, davies_bouldin, dispersion, silhouette_samples, Csr, Points};
use proptest::prelude::*;

mod common;
use common::{in_pool, uniform};

static NEVER: AtomicBool = AtomicBool::new(false);

/// n rows of d features, around k centres spread over `spread`, with labels (some clusters may be
/// empty or hold one row).
fn clustered(n: usize, d: usize, k: usize, spread: f64, seed: u64) -> (Vec<f64>, Vec<u32>) {
    let mut next = uniform(seed);
    let centres: Vec<f64> = (0..k * d).map(|_| next() * spread).collect();
    let labels: Vec<u32> = (0..n).map(|_| (next() * k as f64) as u32 % k as u32).collect();
    let x = labels.iter().flat_map(|&l| (0..d).map(|j| centres[l as usize * d + j] + next()).collect::<Vec<_>>());
    (x.collect(), labels)
}

fn close(a: &[f64], b: &[f64], tolerance: f64) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.len(), b.len());
    for (i, (u, v)) in a.iter().zip(b).enumerate() {
        prop_assert!((u - v).abs() <= tolerance * (1.0 + v.abs()), "row {}: {} against {}", i, u, v);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn blocked_silhouette_equals_the_double_loop(
        n in 2usize..700, d in 1usize..20, k in 1usize..7, spread in 0.0f64..20.0, seed in any::<u64>()
    ) {
        let (x, labels) = clustered(n, d, k, spread, seed);
        let points = Points::from_rows(&x, d).unwrap();
        let expected = silhouette_naive(points, &labels, k);
        close(&silhouette_samples(points, &labels, k, None, &NEVER).unwrap(), &expected, 1e-9)?;
        // Some rows against all: the sampled pass gives the same values for those rows.
        let rows: Vec<usize> = (0..n).step_by(3).collect();
        let some = silhouette_samples(points, &labels, k, Some(&rows), &NEVER).unwrap();
        close(&some, &rows.iter().map(|&i| expected[i]).collect::<Vec<_>>(), 1e-9)?;
    }

    #[test]
    fn sparse_silhouette_equals_the_dense_one(n in 2usize..300, d in 1usize..30, k in 2usize..5, seed in any::<u64>()) {
        let (mut x, labels) = clustered(n, d, k, 3.0, seed);
        x.iter_mut().enumerate().for_each(|(i, v)| if (i * 7 + seed as usize) % 3 == 0 { *v = 0.0 });
        let (mut indptr, mut indices, mut values) = (vec![0i64], vec![], vec![]);
        for row in x.chunks(d) {
            for (j, &v) in row.iter().enumerate().filter(|(_, v)| **v != 0.0) {
                indices.push(j as i32);
                values.push(v);
            }
            indptr.push(values.len() as i64);
        }
        let csr = Csr::new(&indptr, &indices, &values, d).unwrap();
        let dense = silhouette_samples(Points::from_rows(&x, d).unwrap(), &labels, k, None, &NEVER).unwrap();
        close(&silhouette_samples(csr, &labels, k, None, &NEVER).unwrap(), &dense, 1e-9)?;
    }

    #[test]
    fn silhouette_does_not_depend_on_the_thread_count(n in 200usize..1500, k in 2usize..5, seed in any::<u64>()) {
        let (x, labels) = clustered(n, 5, k, 4.0, seed);
        let points = Points::from_rows(&x, 5).unwrap();
        let one = in_pool(1, || silhouette_samples(points, &labels, k, None, &NEVER).unwrap());
        let three = in_pool(3, || silhouette_samples(points, &labels, k, None, &NEVER).unwrap());
        prop_assert_eq!(one.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        three.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
    }

    /// The fused AVX2 kernel (rows of at most 64 features, where the CPU has it) against the GEMM
    /// tiles it replaced, on awkward data: a common offset, exact duplicate rows, near-duplicates
    /// (1e-9 apart), clusters whose sizes leave partial panels and partial row groups; all rows
    /// and a sample of rows, float64 and float32.
    #[test]
    fn fused_kernel_equals_gemm_tiles(
        n in 2usize..900, d in 1usize..70, k in 1usize..6, offset in prop_oneof![Just(0.0), Just(1e6)],
        duplicates in 0usize..40, seed in any::<u64>()
    ) {
        let (mut x, labels) = clustered(n, d, k, 6.0, seed);
        for i in 0..duplicates.min(n / 2) {
            let (from, to) = (i * d, (n - 1 - i) * d);
            let near = if i % 2 == 0 { 0.0 } else { 1e-9 };
            for j in 0..d {
                x[to + j] = x[from + j] + near;
            }
        }
        x.iter_mut().for_each(|v| *v += offset);
        let points = Points::from_rows(&x, d).unwrap();
        let tiled = silhouette_samples_tiled(points, &labels, k, None, &NEVER).unwrap();
        close(&silhouette_samples(points, &labels, k, None, &NEVER).unwrap(), &tiled, 1e-9)?;
        let rows: Vec<usize> = (0..n).step_by(2).collect();
        let some = silhouette_samples(points, &labels, k, Some(&rows), &NEVER).unwrap();
        close(&some, &rows.iter().map(|&i| tiled[i]).collect::<Vec<_>>(), 1e-9)?;
        let single: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let points = Points::from_rows(&single, d).unwrap();
        let tiled = silhouette_samples_tiled(points, &labels, k, None, &NEVER).unwrap();
        close(&silhouette_samples(points, &labels, k, None, &NEVER).unwrap(), &tiled, 1e-9)?;
    }

    #[test]
    fn calinski_harabasz_and_davies_bouldin_follow_their_definitions(
        n in 3usize..400, d in 1usize..8, k in 2usize..6, seed in any::<u64>()
    ) {
        let (x, labels) = clustered(n, d, k, 10.0, seed);
        let disp = dispersion(Points::from_rows(&x, d).unwrap(), &labels, k).unwrap();
        // The definitions, over the non-empty clusters, with means from plain sums.
        let live: Vec<usize> = (0..k).filter(|&c| labels.iter().any(|&l| l as usize == c)).collect();
        let mean_of = |rows: &[usize]| -> Vec<f64> {
            (0..d).map(|j| rows.iter().map(|&i| x[i * d + j]).sum::<f64>() / rows.len() as f64).collect()
        };
        let members: Vec<Vec<usize>> = live.iter().map(|&c| (0..n).filter(|&i| labels[i] as usize == c).collect()).collect();
        let means: Vec<Vec<f64>> = members.iter().map(|m| mean_of(m)).collect();
        let all = mean_of(&(0..n).collect::<Vec<_>>());
        let dist = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(u, v)| (u - v).powi(2)).sum::<f64>().sqrt();
        let within: f64 = members.iter().zip(&means).map(|(m, mu)| m.iter().map(|&i| dist(&x[i * d..(i + 1) * d], mu).powi(2)).sum::<f64>()).sum();
        let between: f64 = members.iter().zip(&means).map(|(m, mu)| m.len() as f64 * dist(mu, &all).powi(2)).sum();
        let q = live.len();
        if q >= 2 && within > 0.0 {
            let ch = between * (n - q) as f64 / (within * (q - 1) as f64);
            prop_assert!((calinski_harabasz(&disp) - ch).abs() <= 1e-9 * ch.abs().max(1.0));
        }
        let spread: Vec<f64> = members.iter().zip(&means)
            .map(|(m, mu)| m.iter().map(|&i| dist(&x[i * d..(i + 1) * d], mu)).sum::<f64>() / m.len() as f64).collect();
        if q >= 2 && spread.iter().any(|s| *s > 1e-8) {
            let db = (0..q).map(|a| (0..q).filter(|&b| b != a).map(|b| {
                let sep = dist(&means[a], &means[b]);
                if sep == 0.0 { 0.0 } else { (spread[a] + spread[b]) / sep }
            }).fold(0.0, f64::max)).sum::<f64>() / q as f64;
            prop_assert!((davies_bouldin(&disp) - db).abs() <= 1e-9 * db.max(1.0));
        }
    }
}

#[test]
fn a_set_stop_flag_interrupts_the_silhouette() {
    let (x, labels) = clustered(500, 3, 3, 5.0, 1);
    let stop = AtomicBool::new(true);
    let err = silhouette_samples(Points::from_rows(&x, 3).unwrap(), &labels, 3, None, &stop).unwrap_err();
    assert_eq!(err, fastkmeans_core::Error::Interrupted);
}

#[test]
fn row_indices_past_the_end_are_refused() {
    let x = [0.0f64, 1.0, 2.0];
    let err = silhouette_samples(Points::from_rows(&x, 1).unwrap(), &[0, 0, 1], 2, Some(&[3]), &NEVER).unwrap_err();
    assert!(err.to_string().contains("row index 3"), "{err}");
}
