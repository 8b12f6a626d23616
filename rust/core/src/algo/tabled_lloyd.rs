//! Weighted Lloyd over a few points, in the space of their pairwise squared distances.
//!
//! The K → k reduction runs ten weighted Lloyd runs over the same K streaming centres, and its
//! k-means++ seeding already holds the table of their pairwise squared distances `D`
//! ([`crate::algo::kmeanspp::Repeated`]). Every centre of such a run is a weighted mean of some of
//! the points (a seed is the mean of one), and a point's squared distance to the mean `c` of a set
//! `S` of total weight `W` needs only the table (Huygens):
//!
//! ```text
//! ‖p − c‖² = Σ_{q∈S} w_q D(p, q) / W − Σ_{q,r∈S} w_q w_r D(q, r) / (2 W²)
//! ```
//!
//! A pass then costs n² additions (each point against every point, into its cluster's sum)
//! instead of n · k · d multiply-adds: on 80 points of 4,096 features reduced to 40, 6,400
//! against 13 million. The centres themselves are formed once, at the end, as the weighted means
//! of their sets. Float64 points only: the table of float32 points holds float32 sums, whose
//! rounding (about 1e-7) is too coarse for Lloyd's loss. The run is Lloyd's, pass for pass, under
//! the loss rule, with the empty-cluster policy of [`crate::algo::empty`]: the labels are those of
//! the feature-space run up to the rounding of near ties, and the loss and the centres agree to
//! rounding (tested to 1e-11 of the loss).

use std::sync::atomic::AtomicBool;

use crate::algo::empty::fill_empty;
use crate::algo::kmeanspp::Table;
use crate::algo::lloyd::LloydFit;
use crate::backend::Rows;
use crate::error::{check_stop, Result};
use crate::kernels::metrics::weighted_ssd;
use crate::kernels::scalar::Scalar;
use crate::params::LloydParams;

/// Whether a run over `n` points against `k` centres of `d` features is cheaper in the table. A
/// pass there costs n² additions and n · k compares, every pass; in feature space n · k · d
/// multiply-adds in the kernels, several times as fast per operation, and the later passes skip
/// most points by their bounds. Measured (`reduce_centers`, ten trials, the builds taking turns):
/// K = 50 points of 64 features to k = 10 took 0.67 of the time in the table, 160 to 20 0.89,
/// 200 points of 100 features to 20 0.78; but 500 of 64 features to 50 took 1.18 times as long,
/// 230 of 38 to 23 1.00, 1,000 of 32 to 100 1.53, and 1,000 of 100 to 100 1.17 (many passes, most
/// points skipped by the bounds in feature space). Hence: k · d at least 8 n, and for more than
/// 256 points at least 64 n.
pub(crate) fn pays(n: usize, k: usize, d: usize) -> bool {
    let work = k.saturating_mul(d);
    n.saturating_mul(8) <= work && (n <= 256 || n.saturating_mul(64) <= work)
}

/// Weighted Lloyd over the rows of `x` from the centres at rows `seeds`, under the loss rule of
/// `params` (`params.tol` a fraction of the loss): [`crate::algo::lloyd::lloyd`]'s run, every
/// distance looked up in or derived from `table` (the module docs). `None` where the empty-cluster
/// policy finds no row to give an empty cluster (fewer distinct weighted rows than clusters),
/// which leaves a centre where it was, outside the table's reach: the caller runs in feature
/// space instead, from the same seeds (after any number of M steps).
pub(crate) fn lloyd_tabled<F: Scalar, R: Rows<F>>(
    x: R,
    weights: Option<&[f64]>,
    table: &Table,
    seeds: &[usize],
    params: &LloydParams,
    stop: &AtomicBool,
) -> Result<Option<LloydFit<F>>> {
    let (n, k) = (x.n(), seeds.len());
    let mut labels = vec![0u32; n];
    let mut dist2 = vec![0f64; n];
    for p in 0..n {
        let row = table.row(p);
        let (label, best) = nearest(seeds.iter().map(|&s| row[s]));
        (labels[p], dist2[p]) = (label, best);
    }
    let mut loss = weighted_ssd(&dist2, weights);
    // The sets whose weighted means are the centres (after the first M step).
    let mut sets: Option<Vec<u32>> = None;
    let mut sums = vec![0f64; n * k];
    let mut n_iter = 0;
    while n_iter < params.max_iter {
        check_stop(stop)?;
        let (members, filled) = fill_empty(&labels, &dist2, weights, k);
        if !filled {
            return Ok(None);
        }
        let members = members.into_owned();
        measure(table, weights, &members, k, &mut sums, &mut labels, &mut dist2);
        sets = Some(members);
        let new_loss = weighted_ssd(&dist2, weights);
        n_iter += 1;
        let converged = loss - new_loss <= params.tol * loss;
        loss = new_loss;
        if converged {
            break;
        }
    }
    let mut centers = x.dense_rows(seeds);
    if let Some(sets) = sets {
        x.move_to_means(weights, &sets, &mut centers);
    }
    Ok(Some(LloydFit { centers, labels, loss, n_iter }))
}

/// The lowest of `distances` and its place (ties to the first; NaN loses to any number).
fn nearest(distances: impl Iterator<Item = f64>) -> (u32, f64) {
    let mut best = (0u32, f64::NAN);
    for (j, v) in distances.enumerate() {
        if j == 0 || v < best.1 || (best.1.is_nan() && !v.is_nan()) {
            best = (j as u32, v);
        }
    }
    best
}

/// One pass against the weighted means of the clusters `members` (each holding weight): every
/// point's nearest mean and squared distance to it, into `labels` and `dist2`. `sums` (k × n) is
/// scratch: `sums[j · n + p] = Σ_{q in j} w_q D(q, p)`, each point q's row of the table added
/// into its cluster's row (contiguous, so it vectorises; the terms of every sum in the order of q).
fn measure(
    table: &Table,
    weights: Option<&[f64]>,
    members: &[u32],
    k: usize,
    sums: &mut [f64],
    labels: &mut [u32],
    dist2: &mut [f64],
) {
    let n = members.len();
    let weight = |i: usize| weights.map_or(1.0, |w| w[i]);
    let mut total = vec![0f64; k];
    sums.fill(0.0);
    for (q, &j) in members.iter().enumerate() {
        let w = weight(q);
        total[j as usize] += w;
        add_scaled(&mut sums[j as usize * n..(j as usize + 1) * n], w, table.row(q));
    }
    // Each cluster's mean squared distance from its mean: Σ_{p,q in j} w_p w_q D(p, q) / (2 W²),
    // as Σ_p (w_p / W)(sums_p / W) / 2, so that no W² overflows or underflows.
    let mut spread = vec![0f64; k];
    for (p, &j) in members.iter().enumerate() {
        let w = total[j as usize];
        spread[j as usize] += weight(p) / w * (sums[j as usize * n + p] / w);
    }
    for s in spread.iter_mut() {
        *s /= 2.0;
    }
    // Cluster by cluster, each point keeping its nearest so far (ties to the first cluster).
    dist2.fill(f64::INFINITY);
    labels.fill(0);
    for (j, row) in sums.chunks_exact(n).enumerate() {
        let (inverse, spread) = (1.0 / total[j], spread[j]);
        for ((best, label), &sum) in dist2.iter_mut().zip(labels.iter_mut()).zip(row) {
            let v = sum * inverse - spread;
            if v < *best {
                (*best, *label) = (v, j as u32);
            }
        }
    }
    for v in dist2.iter_mut() {
        *v = v.max(0.0);
    }
}

/// `into += w · row`, element by element (a multiply, then an add: the same bits with or without
/// AVX2, which only widens the registers).
fn add_scaled(into: &mut [f64], w: f64, row: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { add_scaled_avx2(into, w, row) };
    }
    add_scaled_plain(into, w, row)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn add_scaled_avx2(into: &mut [f64], w: f64, row: &[f64]) {
    add_scaled_plain(into, w, row)
}

#[inline(always)]
fn add_scaled_plain(into: &mut [f64], w: f64, row: &[f64]) {
    for (sum, &d) in into.iter_mut().zip(row) {
        *sum += w * d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::fit::fit_lloyd_trials;
    use crate::algo::kmeanspp::tests::blobs;
    use crate::algo::kmeanspp::Repeated;
    use crate::algo::lloyd::{by_loss, lloyd, Trials};
    use crate::backend::Cpu;
    use crate::kernels::points::Points;
    use crate::params::{Checked, InitMethod, LloydParams, ReduceParams};
    use crate::rng::{Purpose, Rng};

    static NEVER: AtomicBool = AtomicBool::new(false);

    /// A reduction's parameters: `trials` runs seeded by greedy k-means++, under the loss rule.
    fn reduction(k: usize, trials: usize, seed: u64) -> Checked<ReduceParams> {
        let lloyd = LloydParams::loss_rule(300, 1e-4);
        ReduceParams { k, init: InitMethod::greedy_kmeans_pp(k), num_trials: trials, lloyd, seed }.check().unwrap()
    }

    /// The first `count` of `params`' runs, each [`lloyd_tabled`] from the seeds its trial draws
    /// from the table of the reduction's seeding (as `fit_lloyd_trials` draws them), in trial order.
    fn tabled_runs(
        points: Points<'_, f64>,
        weights: Option<&[f64]>,
        params: &ReduceParams,
        count: usize,
    ) -> Vec<LloydFit<f64>> {
        let seeds = Repeated::new(points, weights, params.k, InitMethod::greedy_trials(params.k), params.num_trials);
        let table = seeds.table().expect("the reduction's seeding builds the table");
        (0..count as u64)
            .map(|t| {
                let rows = seeds.choose(&mut Rng::new(params.seed, Purpose::Trial(t)));
                lloyd_tabled(points, weights, table, &rows, &params.lloyd, &NEVER).unwrap().unwrap()
            })
            .collect()
    }

    /// Each run's loss and centres, bit for bit.
    fn bits<F: Clone>(fits: &[LloydFit<F>]) -> Vec<(u64, Vec<F>)> {
        fits.iter().map(|f| (f.loss.to_bits(), f.centers.clone())).collect()
    }

    /// The tabled run and the feature-space run from the same seed rows: the same labels and
    /// iterations, the loss and the centres to rounding.
    fn agree(x: &[f64], d: usize, weights: Option<&[f64]>, seeds: &[usize], params: &LloydParams) -> LloydFit<f64> {
        let points = Points::from_rows(x, d).unwrap();
        let table = Table::new(points);
        let tabled = lloyd_tabled(points, weights, &table, seeds, params, &NEVER).unwrap().expect("a tabled run");
        let checked = params.check().unwrap();
        let plain = lloyd(points, weights, points.dense_rows(seeds), &checked, &Cpu, &NEVER).unwrap();
        assert_eq!(tabled.labels, plain.labels, "seeds {seeds:?}");
        assert_eq!(tabled.n_iter, plain.n_iter, "seeds {seeds:?}");
        let scale = plain.loss.abs().max(1e-300);
        assert!((tabled.loss - plain.loss).abs() <= 1e-11 * scale, "loss {} against {}", tabled.loss, plain.loss);
        for (a, b) in tabled.centers.iter().zip(&plain.centers) {
            assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "centre {a} against {b}");
        }
        tabled
    }

    #[test]
    fn weighted_runs_are_the_feature_space_runs() {
        for (n, d, k, seed) in [(80, 64, 10, 1), (200, 16, 25, 2), (60, 300, 30, 3), (150, 8, 5, 4)] {
            let x: Vec<f64> = blobs(n, d, k, seed).iter().map(|&v| v as f64).collect();
            let mut rng = Rng::new(seed, Purpose::Trial(0));
            let weights: Vec<f64> = (0..n).map(|_| (rng.uniform() * 40.0).floor()).collect();
            for w in [None, Some(&weights[..])] {
                for tol in [1e-4, 0.0] {
                    let seeds = rng.sample(n, k);
                    let fit = agree(&x, d, w, &seeds, &LloydParams::loss_rule(300, tol));
                    assert!(fit.n_iter >= 1);
                }
            }
        }
    }

    #[test]
    fn one_iteration_ends_at_the_means_of_the_seeds_clusters() {
        let x: Vec<f64> = blobs(40, 8, 4, 5).iter().map(|&v| v as f64).collect();
        let points = Points::from_rows(&x, 8).unwrap();
        let seeds = [3, 9, 20, 33];
        let fit = agree(&x, 8, None, &seeds, &LloydParams::loss_rule(1, 1e-4));
        let table = Table::new(points);
        let first: Vec<u32> = (0..40).map(|p| nearest(seeds.iter().map(|&s| table.row(p)[s])).0).collect();
        let mut means = points.dense_rows(&seeds);
        points.move_to_means(None, &first, &mut means);
        assert_eq!((fit.n_iter, fit.centers), (1, means));
    }

    #[test]
    fn an_emptied_cluster_takes_the_row_that_adds_most_to_the_loss() {
        // Seeds at rows 0 and 1, which coincide: every row goes to the first, the second is empty
        // and takes the farthest row (row 5), as in feature space. Row 4 weighs nothing.
        let x = [0.0, 0.0, 1.0, 2.0, 50.0, 10.0, 11.0, 0.5];
        let weights = [1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0];
        let x8: Vec<f64> = x.iter().flat_map(|&v| [v; 8]).collect();
        let fit = agree(&x8, 8, Some(&weights), &[0, 1], &LloydParams::loss_rule(300, 0.0));
        assert_eq!(fit.labels, [0, 0, 0, 0, 1, 1, 1, 0]);
    }

    #[test]
    fn too_few_distinct_rows_for_the_clusters_go_back_to_feature_space() {
        // Two distinct rows, three clusters: the empty one finds no row to take, and its centre
        // would stay where it was.
        let x8: Vec<f64> = [1.0, 1.0, 1.0, 4.0].iter().flat_map(|&v| [v; 8]).collect();
        let points = Points::from_rows(&x8, 8).unwrap();
        let table = Table::new(points);
        let params = LloydParams::loss_rule(300, 0.0);
        assert!(lloyd_tabled::<f64, _>(points, None, &table, &[0, 1, 3], &params, &NEVER).unwrap().is_none());
    }

    #[test]
    fn a_cluster_emptied_after_an_m_step_with_no_row_to_take_goes_back_to_feature_space() {
        // Rows 0, 4 (weight 0), 6 (weight 0), 10, 10; seeds at 0, 4 and 6. The second cluster
        // holds no weight and takes the first row at 10; after the M step both rows at 10 sit
        // on two centres at 10 and go to the first, and the third cluster, empty, finds no row
        // to take.
        let x8: Vec<f64> = [0.0, 4.0, 6.0, 10.0, 10.0].iter().flat_map(|&v| [v; 8]).collect();
        let weights = [1.0, 0.0, 0.0, 1.0, 1.0];
        let points = Points::from_rows(&x8, 8).unwrap();
        let table = Table::new(points);
        let seeds = [0, 1, 2];
        let params = LloydParams::loss_rule(300, 0.0);
        let one = LloydParams::loss_rule(1, 0.0);
        assert!(lloyd_tabled::<f64, _>(points, Some(&weights), &table, &seeds, &one, &NEVER).unwrap().is_some());
        assert!(lloyd_tabled::<f64, _>(points, Some(&weights), &table, &seeds, &params, &NEVER).unwrap().is_none());
    }

    #[test]
    fn the_reductions_trials_run_in_the_table_where_it_pays() {
        let (n, d, k, trials) = (60, 64, 8, 4);
        assert!(pays(n, k, d));
        let x: Vec<f64> = blobs(n, d, 8, 6).iter().map(|&v| v as f64).collect();
        let weights: Vec<f64> = (0..n).map(|i| (i % 5 + 1) as f64).collect();
        let points = Points::from_rows(&x, d).unwrap();
        let params = reduction(k, trials, 11);
        let fits = fit_lloyd_trials(points, Some(&weights), &params, Trials::All, &Cpu, &NEVER).unwrap();
        assert_eq!(bits(&fits), bits(&by_loss(tabled_runs(points, Some(&weights), &params, trials))));
    }

    /// The reduction's trials under [`Trials::UntilAgreed`] in the table: the first runs of
    /// `Trials::All`'s, bit for bit; and a set stop flag interrupts them.
    #[test]
    fn tabled_trials_until_agreed_are_the_first_runs_and_stop_when_asked() {
        use crate::algo::lloyd::FIRST_ROUND;
        use crate::error::Error;
        let (n, d, k, trials) = (60, 64, 8, 10);
        assert!(pays(n, k, d));
        // Well-separated blobs (the runs agree after the first round), then a set of uniform
        // noise (they do not).
        let noise: Vec<f64> = {
            let mut rng = Rng::new(3, Purpose::Trial(0));
            (0..n * d).map(|_| rng.uniform()).collect()
        };
        let sets = [blobs(n, d, 8, 6).iter().map(|&v| v as f64).collect::<Vec<f64>>(), noise];
        for (x, agreeing) in sets.iter().zip([true, false]) {
            let points = Points::from_rows(x, d).unwrap();
            let params = reduction(k, trials, 5);
            let some = fit_lloyd_trials(points, None, &params, Trials::UntilAgreed, &Cpu, &NEVER).unwrap();
            assert_eq!(some.len(), if agreeing { FIRST_ROUND } else { trials }, "agreeing {agreeing}");
            assert_eq!(bits(&some), bits(&by_loss(tabled_runs(points, None, &params, some.len()))));
            let stop = AtomicBool::new(true);
            for which in [Trials::All, Trials::UntilAgreed] {
                let stopped = fit_lloyd_trials(points, None, &params, which, &Cpu, &stop);
                assert!(matches!(stopped, Err(Error::Interrupted)));
            }
        }
    }

    #[test]
    fn weights_far_from_one_give_the_feature_space_runs() {
        let x: Vec<f64> = blobs(80, 64, 10, 7).iter().map(|&v| v as f64).collect();
        for scale in [1e-160, 1e150] {
            let weights: Vec<f64> = (0..80).map(|i| (i % 7 + 1) as f64 * scale).collect();
            agree(&x, 64, Some(&weights), &[0, 9, 18, 27, 36, 45, 54, 63, 72, 79], &LloydParams::loss_rule(300, 0.0));
        }
    }

    #[test]
    fn float32_reductions_stay_in_feature_space() {
        use crate::algo::lloyd::runs;
        let (n, d, k) = (60, 64, 8);
        let x = blobs(n, d, 8, 6);
        let weights: Vec<f64> = (0..n).map(|i| (i % 5 + 1) as f64).collect();
        let points = Points::from_rows(&x, d).unwrap();
        let params = reduction(k, 4, 11);
        let fits = fit_lloyd_trials(points, Some(&weights), &params, Trials::All, &Cpu, &NEVER).unwrap();
        let seeds = Repeated::new(points, Some(&weights[..]), k, InitMethod::greedy_trials(k), 4);
        assert!(seeds.tabled() && pays(n, k, d));
        let seeding = |rng: &mut Rng| Ok(points.dense_rows(&seeds.choose(rng)));
        let lloyd_params = params.lloyd.check().unwrap();
        let plain = runs(points, Some(&weights), 4, Trials::All, 11, &lloyd_params, &Cpu, &NEVER, seeding).unwrap();
        assert_eq!(bits(&fits), bits(&by_loss(plain)));
    }

    #[test]
    fn the_table_takes_few_points_of_many_features() {
        assert!(pays(50, 10, 64) && pays(160, 20, 64) && pays(80, 40, 4096) && pays(1000, 100, 4096));
        assert!(!pays(500, 50, 64) && !pays(1000, 100, 32) && !pays(1000, 100, 100) && !pays(640, 64, 3));
    }
}
