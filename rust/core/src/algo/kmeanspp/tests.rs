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

/// The passes of [`SeedingSteps`] as plain loops over every row: what the device's kernels
/// compute (every row measured, every block's potential summed again after each step).
struct LoopSteps<'a> {
    x: Points<'a, f32>,
    weights: Option<&'a [f64]>,
    d2: Vec<f64>,
    candidates: Vec<usize>,
}

impl LoopSteps<'_> {
    fn dist(&self, i: usize, row: usize) -> f64 {
        sq_dist_in::<f32, f32>(self.x.row(i), self.x.row(row))
    }
    fn sums(&self) -> Vec<f64> {
        (0..self.d2.len().div_ceil(ROW_BLOCK)).map(|b| block_sum(&self.d2, self.weights, b)).collect()
    }
}

impl SeedingSteps for LoopSteps<'_> {
    fn first(&mut self, row: usize) -> Result<Vec<f64>> {
        self.d2 = (0..self.x.n()).map(|i| self.dist(i, row)).collect();
        Ok(self.sums())
    }
    fn score(&mut self, candidates: &[usize]) -> Result<Vec<f64>> {
        self.candidates = candidates.to_vec();
        let mut totals = vec![0.0; candidates.len()];
        for (t, &c) in candidates.iter().enumerate() {
            for block in 0..self.d2.len().div_ceil(ROW_BLOCK) {
                let mut gain = 0.0;
                for i in block * ROW_BLOCK..((block + 1) * ROW_BLOCK).min(self.d2.len()) {
                    let dist = self.dist(i, c);
                    if dist < self.d2[i] {
                        gain += self.weights.map_or(1.0, |w| w[i]) * (self.d2[i] - dist);
                    }
                }
                totals[t] += gain;
            }
        }
        Ok(totals)
    }
    fn add(&mut self, pick: usize) -> Result<Vec<f64>> {
        self.advance(self.candidates[pick])
    }
    fn advance(&mut self, row: usize) -> Result<Vec<f64>> {
        for i in 0..self.d2.len() {
            let dist = self.dist(i, row);
            if dist < self.d2[i] {
                self.d2[i] = dist;
            }
        }
        Ok(self.sums())
    }
    fn block(&mut self, b: usize) -> Result<Vec<f64>> {
        Ok(self.d2[b * ROW_BLOCK..((b + 1) * ROW_BLOCK).min(self.d2.len())].to_vec())
    }
}

/// The CPU, with k-means++ on [`LoopSteps`]: a device as the seam sees it.
struct LoopDevice;

impl Backend for LoopDevice {
    fn assign<F: Scalar>(
        &self,
        x: Data<'_, F>,
        centers: Points<'_, F>,
        labels: &mut [u32],
        dist2: &mut [f64],
    ) -> Result<()> {
        crate::backend::Cpu.assign(x, centers, labels, dist2)
    }
    fn seeding_steps<'a, F: Scalar>(
        &'a self,
        x: Data<'a, F>,
        weights: Option<&'a [f64]>,
    ) -> Result<Option<Box<dyn SeedingSteps + 'a>>> {
        let Data::Dense(points) = x else { return Ok(None) };
        let Some(rows) = F::as_f32(points.as_slice()) else { return Ok(None) };
        let x = Points::from_rows(rows, points.d())?;
        Ok(Some(Box::new(LoopSteps { x, weights, d2: Vec::new(), candidates: Vec::new() })))
    }
}

#[test]
fn a_device_measuring_every_row_chooses_the_rows_the_cpu_chooses() {
    let n = 5 * ROW_BLOCK + 41; // a short last block
    for d in [3, 12] {
        let x = blobs(n, d, 25, 40 + d as u64);
        let points = Points::from_rows(&x, d).unwrap();
        // Zero weights: rows that are never drawn, and gains of rows that add nothing.
        let weights: Vec<f64> = (0..n).map(|i| if i % 6 == 0 { 0.0 } else { 0.25 + (i % 4) as f64 }).collect();
        for (trials, w) in [(1, None), (5, None), (1, Some(&weights[..])), (4, Some(&weights[..]))] {
            let (mut a, mut b) = (Rng::new(9, Purpose::Trial(2)), Rng::new(9, Purpose::Trial(2)));
            let cpu = kmeans_pp(points, w, 60, trials, &mut a, true);
            let device = kmeans_pp_on(points, w, 60, trials, &mut b, &LoopDevice).unwrap();
            assert_eq!(device, cpu, "d = {d}, trials {trials}, weighted {}", w.is_some());
            assert_eq!(a.uniform(), b.uniform(), "the same draws");
        }
        // Float64 rows are not taken: measured on the CPU, the same rows.
        let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
        let points64 = Points::from_rows(&x64, d).unwrap();
        let (mut a, mut b) = (Rng::new(1, Purpose::Trial(0)), Rng::new(1, Purpose::Trial(0)));
        assert_eq!(
            kmeans_pp_on(points64, None, 20, 3, &mut a, &LoopDevice).unwrap(),
            kmeans_pp(points64, None, 20, 3, &mut b, true)
        );
    }
}

#[test]
fn a_scripted_run_leaves_the_bits_a_row_by_row_run_leaves() {
    let n = 3 * ROW_BLOCK + 5;
    let x = blobs(n, 10, 12, 77);
    let points = Points::from_rows(&x, 10).unwrap();
    let weights: Vec<f64> = (0..n).map(|i| 0.5 + (i % 3) as f64).collect();
    let steps = vec![(vec![7, 300, 12], 1), (vec![45], 0), (vec![200, 201], 0), (vec![380, 3, 90, 91], 3)];
    let (done, d2) = script(points, Some(&weights), 2, &steps);
    let mut device = LoopSteps { x: points, weights: Some(&weights), d2: Vec::new(), candidates: Vec::new() };
    let bits = |v: &[f64]| v.iter().map(|g| g.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&done[0].block_sums), bits(&device.first(2).unwrap()));
    for ((candidates, pick), step) in steps.iter().zip(&done[1..]) {
        let sums = if let [only] = candidates[..] {
            device.advance(only).unwrap()
        } else {
            assert_eq!(bits(&step.gains), bits(&device.score(candidates).unwrap()), "{candidates:?}");
            device.add(*pick).unwrap()
        };
        assert_eq!(bits(&step.block_sums), bits(&sums), "{candidates:?}");
    }
    assert_eq!(bits(&d2), bits(&device.d2));
}
