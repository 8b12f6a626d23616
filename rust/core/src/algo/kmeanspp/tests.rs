use super::*;
use crate::kernels::points::Points;
use crate::rng::Purpose;

/// `n` rows of `d` features around `centres` random means in [-10, 10]^d (also k-means‖'s tests').
pub(crate) fn blobs(n: usize, d: usize, centres: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed, Purpose::SeedSample);
    let means: Vec<f32> = (0..centres * d).map(|_| (rng.uniform() * 20.0 - 10.0) as f32).collect();
    let mut x = Vec::with_capacity(n * d);
    for _ in 0..n {
        let c = rng.below(centres);
        for p in 0..d {
            x.push(means[c * d + p] + (rng.uniform() - 0.5) as f32);
        }
    }
    x
}

#[test]
fn pruning_chooses_the_same_rows_as_measuring_every_row() {
    // Rows of eight features or more are pruned (narrower ones are always measured).
    let x = blobs(3000, 12, 20, 1);
    let points = Points::from_rows(&x, 12).unwrap();
    let weights: Vec<f64> = (0..3000).map(|i| (i % 7) as f64 * 0.5).collect();
    for (trials, w) in [(1, None), (4, None), (1, Some(&weights[..])), (5, Some(&weights[..]))] {
        let mut a = Rng::new(3, Purpose::Trial(0));
        let mut b = Rng::new(3, Purpose::Trial(0));
        let pruned = kmeans_pp(points, w, 40, trials, &mut a, true);
        let full = kmeans_pp(points, w, 40, trials, &mut b, false);
        assert_eq!(pruned, full, "trials {trials}, weighted {}", w.is_some());
        assert_eq!(a.uniform(), b.uniform(), "the same draws");
    }
}

#[test]
fn advancing_by_one_candidate_leaves_what_scoring_and_adding_it_leaves() {
    let n = 3 * ROW_BLOCK + 37;
    for d in [2, 7, 12] {
        let x = blobs(n, d, 30, d as u64 + 7);
        let points = Points::from_rows(&x, d).unwrap();
        let weights: Vec<f64> = (0..n).map(|i| if i % 5 == 0 { 0.0 } else { 0.5 + (i % 3) as f64 }).collect();
        for w in [None, Some(&weights[..])] {
            let mut rng = Rng::new(d as u64, Purpose::Trial(1));
            let (mut advanced, mut added) = (Seeding::new(n, w, d, true), Seeding::new(n, w, d, true));
            for seeding in [&mut advanced, &mut added] {
                seeding.set_all(1.0);
                seeding.first(points, 0);
            }
            // Past NARROW_CENTERS centres too: both of the narrow rows' routes.
            for step in 1..NARROW_CENTERS + 20 {
                let Some(candidate) = advanced.draw(&mut rng) else { break };
                advanced.advance(points, candidate);
                let scored = added.score(points, &[candidate]);
                added.add(points, &[candidate], 0, &scored);
                let bits = |v: &[f64]| v.iter().map(|g| g.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&advanced.d2), bits(&added.d2), "d = {d}, step {step}");
                assert_eq!(advanced.owner, added.owner, "d = {d}, step {step}");
                assert_eq!(bits(&advanced.block_sums), bits(&added.block_sums), "d = {d}, step {step}");
                assert_eq!(advanced.centers, added.centers);
            }
        }
    }
}

#[test]
fn runs_through_the_table_choose_the_rows_measured_runs_choose() {
    // Narrow rows (measured, not tabled) and wide ones (pruned), unweighted and weighted
    // with zero weights, one candidate per step and several, up to every row a centre (the
    // last steps take rows at distance zero); float32 and float64.
    fn check<F: Scalar>(x: &[F], d: usize) {
        let points = Points::from_rows(x, d).unwrap();
        let n = points.n();
        let weights: Vec<f64> = (0..n).map(|i| if i % 4 == 0 { 0.0 } else { 0.25 + (i % 5) as f64 }).collect();
        for (k, trials) in [(1, 3), (25, 1), (25, 4), (n, 3)] {
            for w in [None, Some(&weights[..])] {
                let runs = Repeated::new(points, w, k, trials, n);
                assert_eq!(runs.tabled(), d >= NARROW_ROWS, "n = {n}, d = {d}, k = {k}");
                for seed in 0..3 {
                    let mut a = Rng::new(seed, Purpose::Trial(seed));
                    let mut b = Rng::new(seed, Purpose::Trial(seed));
                    let tabled = runs.choose(&mut a);
                    let measured = kmeans_pp(points, w, k, trials, &mut b, true);
                    assert_eq!(tabled, measured, "d = {d}, k = {k}, trials {trials}, weighted {}", w.is_some());
                    assert_eq!(a.uniform(), b.uniform(), "the same draws");
                }
            }
        }
    }
    for d in [2, 7, 12, 33] {
        let n = 2 * ROW_BLOCK + 19; // a short last block
        let x = blobs(n, d, 9, d as u64);
        check(&x, d);
        check(&x.iter().map(|&v| v as f64).collect::<Vec<_>>(), d);
    }
}

#[test]
fn runs_through_the_table_choose_the_rows_measured_runs_choose_on_non_finite_rows() {
    // A row holding infinity or NaN is at NaN from itself when measured (inf − inf), not at 0:
    // the table must hold that too, or a run that takes it as a centre draws differently.
    let (n, d) = (40, 12);
    for bad in [f32::INFINITY, f32::NAN] {
        let mut x = blobs(n, d, 4, 11);
        x[7 * d + 3] = bad;
        let points = Points::from_rows(&x, d).unwrap();
        for trials in [1, 3] {
            let runs = Repeated::new(points, None, n, trials, 4);
            assert!(runs.tabled());
            for seed in 0..4 {
                let mut a = Rng::new(seed, Purpose::Trial(seed));
                let mut b = Rng::new(seed, Purpose::Trial(seed));
                let tabled = runs.choose(&mut a);
                let measured = kmeans_pp(points, None, n, trials, &mut b, true);
                assert_eq!(tabled, measured, "{bad}, trials {trials}, seed {seed}");
                assert_eq!(a.uniform(), b.uniform(), "the same draws");
            }
        }
    }
}

#[test]
fn narrow_rows_and_single_runs_are_measured_without_a_table() {
    // Timed on two cores, table vs measured: 1,000 rows of 2 features, k = 100, 6 candidates,
    // 10 runs: 10.4 vs 5.5 ms (a narrow row is measured as fast as it is looked up); one run
    // over 2,048 rows, k = 200, 7 candidates: 29 vs 7.8 ms at 7 features, 50 vs 28 ms at 12
    // (a single run has nothing to share the table with; pruning skips most of its pairs).
    let narrow = blobs(1000, 2, 20, 5);
    assert!(!Repeated::new(Points::from_rows(&narrow, 2).unwrap(), None, 100, 6, 10).tabled());
    let wide = blobs(2048, 12, 1, 5);
    let wide = Points::from_rows(&wide, 12).unwrap();
    assert!(!Repeated::new(wide, None, 200, 7, 1).tabled());
    assert!(Repeated::new(wide, None, 200, 7, 2).tabled());
}

#[test]
fn the_table_is_kept_for_few_dense_rows_drawn_from_many_times() {
    let x = blobs(TABLE_ROWS + 1, 8, 4, 2);
    let few = Points::from_rows(&x[..300 * 8], 8).unwrap();
    // 300 rows: a table once the runs measure at least 300 candidates.
    assert!(Repeated::new(few, None, 10, 3, 10).tabled());
    assert!(!Repeated::new(few, None, 10, 3, 9).tabled());
    assert!(!Repeated::new(Points::from_rows(&x, 8).unwrap(), None, 1000, 8, 10).tabled());
    // Fewer candidates than rows: the runs' pruning measures fewer pairs than a table (2,048
    // clustered rows of 784 features, k = 100, 6 candidates, 3 runs: 103 ms with a table, 47
    // without).
    let wide = blobs(2048, 784, 20, 3);
    assert!(!Repeated::new(Points::from_rows(&wide, 784).unwrap(), None, 100, 6, 3).tabled());
}

/// The scoring pass as it was written before the narrow rows' loops: row by row, each
/// candidate behind the pruning test, gains and masks added in row order.
fn reference_score<R: Rows<f32>>(seeding: &Seeding<'_, f32>, x: R, candidates: &[usize]) -> (Vec<f64>, Vec<u128>) {
    let (d, m, trials) = (seeding.d, seeding.n_centers(), candidates.len());
    let (rows, norms) = seeding.candidate_rows(x, candidates);
    let between = seeding.to_centers(&rows);
    let n = seeding.d2.len();
    let (mut gains, mut moved) = (vec![0.0; trials], vec![0u128; n.div_ceil(ROW_BLOCK) * trials]);
    for block in 0..n.div_ceil(ROW_BLOCK) {
        let mut block_gains = vec![0.0; trials];
        for i in block * ROW_BLOCK..((block + 1) * ROW_BLOCK).min(n) {
            let current = seeding.d2[i];
            for t in 0..trials {
                if seeding.prune && skips(between[seeding.owner[i] as usize + t * m], current) {
                    continue;
                }
                let dist = x.sq_dist_to(i, &rows[t * d..(t + 1) * d], norms[t]);
                if dist < current {
                    block_gains[t] += seeding.weight(i) * (current - dist);
                    moved[block * trials + t] |= 1 << (i - block * ROW_BLOCK);
                }
            }
        }
        gains.iter_mut().zip(&block_gains).for_each(|(g, b)| *g += b);
    }
    (gains, moved)
}

#[test]
fn scoring_gives_the_gains_and_moved_rows_of_the_row_by_row_pass() {
    let n = 3 * ROW_BLOCK + 37; // a short last block
    for d in [2, 7, 12] {
        let x = blobs(n, d, 30, d as u64);
        let points = Points::from_rows(&x, d).unwrap();
        let weights: Vec<f64> = (0..n).map(|i| if i % 5 == 0 { 0.0 } else { 0.5 + (i % 3) as f64 }).collect();
        for w in [None, Some(&weights[..])] {
            let mut rng = Rng::new(d as u64, Purpose::Trial(0));
            let mut seeding = Seeding::new(n, w, d, true);
            seeding.set_all(1.0);
            seeding.first(points, 0);
            // Past NARROW_CENTERS centres too, so that both of the narrow rows' routes are compared.
            for step in 1..NARROW_CENTERS + 20 {
                let trials = if step % 2 == 0 { 1 } else { 5 };
                let candidates: Vec<usize> = (0..trials).filter_map(|_| seeding.draw(&mut rng)).collect();
                let scored = seeding.score(points, &candidates);
                let (gains, moved) = reference_score(&seeding, points, &candidates);
                assert_eq!(scored.moved, moved, "d = {d}, step {step}");
                if trials > 1 {
                    let bits = |v: &[f64]| v.iter().map(|g| g.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&scored.gains), bits(&gains), "d = {d}, step {step}");
                }
                seeding.add(points, &candidates, 0, &scored);
            }
        }
    }
}
