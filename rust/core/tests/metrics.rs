//! The quality metrics against naive oracles: the blocked silhouette (both passes, dense and
//! sparse) against the double loop over all pairs, the Calinski–Harabasz and Davies–Bouldin
//! indices against their definitions, and the same bits on any number of threads.

use std::sync::atomic::AtomicBool;

use fastkmeans_core::kernels::silhouette::{silhouette_naive, silhouette_samples_tiled, silhouette_samples_unpruned};
use fastkmeans_core::{
    calinski_harabasz, davies_bouldin, dispersion, silhouette_pairs, silhouette_samples, Csr, Points,
};
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
        x.iter_mut().enumerate().for_each(|(i, v)| if (i * 7 + seed as usize).is_multiple_of(3) { *v = 0.0 });
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

    /// The pruned silhouette (the default for dense rows) against every pair through the same
    /// kernel: clusters from one point to overlapping to far apart, one-row and empty clusters, a
    /// common offset, float64 and float32.
    #[test]
    fn pruned_silhouette_equals_every_pair(
        n in 2usize..1500, d in 1usize..20, k in 1usize..10,
        spread in prop_oneof![Just(0.0), 0.5f64..3.0, 5.0f64..60.0],
        offset in prop_oneof![Just(0.0), Just(1e5)], seed in any::<u64>()
    ) {
        let (mut x, labels) = clustered(n, d, k, spread, seed);
        x.iter_mut().for_each(|v| *v += offset);
        let points = Points::from_rows(&x, d).unwrap();
        let every = silhouette_samples_unpruned(points, &labels, k, None, &NEVER).unwrap();
        close(&silhouette_samples(points, &labels, k, None, &NEVER).unwrap(), &every, 1e-12)?;
        let (computed, pairs) = silhouette_pairs(points, &labels, k).unwrap();
        prop_assert!(computed <= pairs, "{} distances for {} pairs", computed, pairs);
        // Some rows against all: pruned per row, their sums added as without pruning, bit for bit.
        let rows: Vec<usize> = (0..n).filter(|i| (i * 7 + seed as usize) % 5 < 2).collect();
        let some = silhouette_samples(points, &labels, k, Some(&rows), &NEVER).unwrap();
        let every_some = silhouette_samples_unpruned(points, &labels, k, Some(&rows), &NEVER).unwrap();
        prop_assert_eq!(some.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        every_some.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        close(&some, &rows.iter().map(|&i| every[i]).collect::<Vec<_>>(), 1e-12)?;
        let single: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let points = Points::from_rows(&single, d).unwrap();
        let every = silhouette_samples_unpruned(points, &labels, k, None, &NEVER).unwrap();
        close(&silhouette_samples(points, &labels, k, None, &NEVER).unwrap(), &every, 1e-12)?;
    }

    /// Far-apart clusters, where most pairs of clusters are pruned or computed one way: the same
    /// bits on one, two and three threads.
    #[test]
    fn pruned_silhouette_does_not_depend_on_the_thread_count(
        n in 1000usize..4000, d in 2usize..20, k in 3usize..12, seed in any::<u64>()
    ) {
        let (x, labels) = clustered(n, d, k, 40.0, seed);
        let points = Points::from_rows(&x, d).unwrap();
        let (computed, pairs) = silhouette_pairs(points, &labels, k).unwrap();
        prop_assert!(computed < pairs, "pruning left {} of {} pairs", computed, pairs);
        let bits = |threads| in_pool(threads, || silhouette_samples(points, &labels, k, None, &NEVER).unwrap())
            .iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let one = bits(1);
        prop_assert_eq!(&one, &bits(2));
        prop_assert_eq!(&one, &bits(3));
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

/// Ties at the bounds: five rows at one point, and around it 24 one-row clusters at the same
/// distance up to rounding (random directions, scaled; a one-row cluster's bounds are both its
/// distance) and, for some seeds, a two-row cluster symmetric about it (lower bound 0, mean
/// distance the same). Every candidate's lower bound equals the smallest upper bound to within
/// an ulp or so, and the kernel's own rounding decides which cluster is nearest: the five rows'
/// values must be those of every pair, bit for bit (their sums are row sums over the same columns
/// either way), and every value within 1e-12.
#[test]
fn ties_at_the_bounds_keep_the_nearest_cluster() {
    for seed in 0..200u64 {
        let mut next = uniform(seed);
        let (d, radius) = (1 + (seed as usize % 9), 1.0 + next() * 1e3);
        let scale = if seed % 2 == 0 { 1e4 } else { 1e-3 };
        let centre: Vec<f64> = (0..d).map(|_| (next() - 0.5) * scale).collect();
        let at = |u: &[f64], sign: f64| -> Vec<f64> {
            let norm = u.iter().map(|v| v * v).sum::<f64>().sqrt();
            centre.iter().zip(u).map(|(c, v)| c + sign * radius * v / norm).collect()
        };
        // Five rows at the point, and one near it in the same cluster (so that a > 0 and s
        // depends on b's every bit).
        let mut x: Vec<f64> = (0..5).flat_map(|_| centre.clone()).collect();
        x.extend(centre.iter().enumerate().map(|(j, c)| if j == 0 { c + 0.1 * radius } else { *c }));
        let mut labels = vec![0u32; 6];
        let direction: Vec<f64> = (0..d).map(|_| next() - 0.5).collect();
        if seed % 4 < 2 {
            x.extend(at(&direction, 1.0));
            x.extend(at(&direction, -1.0));
            labels.extend([1, 1]);
        }
        let first = if seed % 4 < 2 { 2 } else { 1 };
        for c in 0..24 {
            let direction: Vec<f64> = (0..d).map(|_| next() - 0.5).collect();
            x.extend(at(&direction, 1.0));
            labels.push(first + c);
        }
        let k = first as usize + 24;
        let points = Points::from_rows(&x, d).unwrap();
        let every = silhouette_samples_unpruned(points, &labels, k, None, &NEVER).unwrap();
        let pruned = silhouette_samples(points, &labels, k, None, &NEVER).unwrap();
        for i in 0..5 {
            assert_eq!(
                pruned[i].to_bits(),
                every[i].to_bits(),
                "seed {seed}, row {i}: {} against {}",
                pruned[i],
                every[i]
            );
        }
        for (i, (p, e)) in pruned.iter().zip(&every).enumerate() {
            assert!((p - e).abs() <= 1e-12, "seed {seed}, row {i}: {p} against {e}");
        }
    }
}
