//! k-means++ (Arthur & Vassilvitskii 2007), plain or greedy, optionally weighted, with exact
//! triangle-inequality pruning (Raff 2021, "Exact Acceleration of K-Means++ and K-Means‖").
//!
//! Every row keeps its squared distance `d2` to the closest centre chosen so far and that
//! centre's index (its *owner*). A candidate `c` can only move row `x`, owned by `a`, closer when
//! ‖c − a‖ < 2‖x − a‖ (else ‖x − c‖ ≥ ‖c − a‖ − ‖x − a‖ ≥ ‖x − a‖): with the candidates' squared
//! distances to every centre computed once per step (k × trials distances, not n), a row whose
//! owner is at least `4 · d2` from a candidate is not measured against it, nor its features read.
//! Early steps measure nearly every row; later ones, where each centre owns a small region,
//! measure fewer. The test keeps a margin of [`MARGIN`] (relative) for the rounding of the
//! distances it compares, so a skipped row is one whose measured distance could not have been
//! smaller either: the seeding is the one the unpruned algorithm gives (a test compares them).
//!
//! Dense rows of fewer than eight features skip the test in the early steps (before
//! [`NARROW_CENTERS`] centres), where it would rarely skip a row and costs as much as the distance
//! it saves: they are measured whole, a block at a time, in a loop of the row's width that the
//! compiler unrolls, with the same bits.
//!
//! A greedy step draws `local_trials` candidates and keeps the one whose addition lowers the
//! potential Σ w·d² the most: each candidate's *gain* Σ w·(d2 − ‖x − c‖²) over the rows it moves
//! closer, ties to the first drawn. All candidates are scored in one pass over the rows, block by
//! block of `ROW_BLOCK` rows (a block stays in cache while every candidate is measured against
//! it), which records per block and candidate a bit mask of the rows moved; adding the chosen
//! candidate then visits only the rows of its masks.
//!
//! Blocks are fixed by the data, not by the thread count; per-block gains are added in block
//! order, and the potential is kept per block in row order (for drawing), so the result is
//! bit-identical on any number of threads.

use std::borrow::Cow;
use std::cell::RefCell;
use std::marker::PhantomData;

use rayon::prelude::*;

use crate::backend::{Backend, Data, Rows, SeedingSteps};
use crate::error::Result;
use crate::kernels::parallel::{items_per_task, min_items, MIN_TASK_WORK, ROW_BLOCK};
use crate::kernels::points::{narrow_sq_dists, sq_dist_in, Points, NARROW_ROWS};
use crate::kernels::scalar::Scalar;
use crate::kernels::sq_dists::each_pair;
use crate::rng::Rng;

/// Relative margin of the pruning test: a row is skipped when the candidate's squared distance to
/// its owner exceeds `4 · d2 · (1 + MARGIN)`. Distances of float32 rows are accumulated in float32,
/// whose relative rounding stays far below this for any practical width.
pub const MARGIN: f64 = 1e-3;

/// Work per rayon task in a pass of a k-means++ step over the rows (the first centre's, a greedy
/// step's scoring, a plain step's): a quarter of [`MIN_TASK_WORK`]. A run makes its passes back
/// to back, one per step, so the workers are still awake from the last one and a split costs
/// little, where the general minimum is set for a loop that may have to wake them. Measured (the
/// core's whole default fit, the builds taking turns, 400–600 fits each, four runs on a noisy
/// machine; the same centres): digits 0.89–0.94 times the time, dim064 0.87–0.96, dim032
/// 0.89–0.98, digits at k = 30 0.87–0.93; sets of narrow or few rows within the noise (the same
/// build against itself: 0.99–1.00); a sixteenth instead of a quarter did no better.
const STEP_TASK_WORK: usize = MIN_TASK_WORK / 4;

/// The `with_min_len` for a k-means++ pass whose blocks each cost `work_per_block`
/// ([`STEP_TASK_WORK`]).
fn step_items(work_per_block: usize) -> usize {
    items_per_task(STEP_TASK_WORK, work_per_block)
}

// The rows a candidate moves are kept as one bit per row of a block, in a u128.
const _: () = assert!(ROW_BLOCK <= 128);

/// k-means++ with `local_trials` candidates per step (1: plain k-means++); the chosen rows, in
/// order. With weights, rows are drawn in proportion to w·d² (zero-weight rows only once every
/// weighted row sits on a centre). `prune: false` measures every row at every step (the reference
/// the tests compare the pruned seeding with).
pub fn kmeans_pp<F: Scalar, R: Rows<F>>(
    x: R,
    weights: Option<&[f64]>,
    k: usize,
    local_trials: usize,
    rng: &mut Rng,
    prune: bool,
) -> Vec<usize> {
    run(&Measured(x), Seeding::new(x.n(), weights, x.d(), prune), k, local_trials, rng)
        .expect("measuring on the CPU does not fail")
}

/// [`kmeans_pp`] (pruned) with the passes over the rows on `backend`'s device where it takes them
/// ([`Backend::seeding_steps`]), else on the CPU: the same rows either way.
pub fn kmeans_pp_on<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    weights: Option<&[f64]>,
    k: usize,
    local_trials: usize,
    rng: &mut Rng,
    backend: &B,
) -> Result<Vec<usize>> {
    match backend.seeding_steps(x.data(), weights)? {
        Some(steps) => {
            let device = OnDevice { steps: RefCell::new(steps) };
            run(&device, Seeding::<F>::new(x.n(), weights, x.d(), false), k, local_trials, rng)
        }
        None => Ok(kmeans_pp(x, weights, k, local_trials, rng, true)),
    }
}

/// The steps of k-means++: the first centre drawn by weight alone, then each step's candidates
/// drawn by w·d², scored by `measure`, the best one added.
fn run<F: Scalar, M: Measure<F>>(
    measure: &M,
    mut seeding: Seeding<'_, F>,
    k: usize,
    local_trials: usize,
    rng: &mut Rng,
) -> Result<Vec<usize>> {
    let n = seeding.d2.len();
    let mut taken = vec![false; n];
    let mut chosen = Vec::with_capacity(k);

    // The first centre: drawn by weight alone (every row at "distance" 1, on the host).
    seeding.set_all(1.0);
    let first = seeding.draw(rng).unwrap_or_else(|| rng.below(n));
    chosen.push(first);
    taken[first] = true;
    measure.first(&mut seeding, first)?;

    while chosen.len() < k {
        let draw = |rng: &mut Rng| seeding.draw_from(rng, |b| measure.block(&seeding, b));
        let candidates: Vec<usize> = match draw(rng)? {
            // Every weighted row already sits on a centre: take any row not chosen yet.
            None => vec![untaken(&taken, rng)],
            Some(first_candidate) => {
                let mut candidates = vec![first_candidate];
                for _ in 1..local_trials {
                    candidates.extend(draw(rng)?);
                }
                candidates
            }
        };
        if let [only] = candidates[..] {
            chosen.push(only);
            taken[only] = true;
            measure.advance(&mut seeding, only)?;
            continue;
        }
        let scored = measure.score(&seeding, &candidates)?;
        // The largest gain; ties to the first drawn.
        let mut best = 0;
        for (c, gain) in scored.gains.iter().enumerate() {
            if *gain > scored.gains[best] {
                best = c;
            }
        }
        chosen.push(candidates[best]);
        taken[candidates[best]] = true;
        measure.add(&mut seeding, &candidates, best, &scored)?;
    }
    Ok(chosen)
}

/// How a k-means++ run measures the distances from the rows to a new centre: against the rows
/// themselves ([`Measured`]), by looking them up in a [`Table`], or on a device ([`OnDevice`]).
trait Measure<F: Scalar> {
    /// Makes row `row` the first centre: every row measured, owned by it.
    fn first(&self, seeding: &mut Seeding<'_, F>, row: usize) -> Result<()>;
    /// Each candidate's gain and the rows it moves closer.
    fn score(&self, seeding: &Seeding<'_, F>, candidates: &[usize]) -> Result<Scored>;
    /// Adds candidate `pick` as the next centre: the rows it moves closer move to it.
    fn add(&self, seeding: &mut Seeding<'_, F>, candidates: &[usize], pick: usize, scored: &Scored) -> Result<()>;
    /// Adds row `candidate` as the next centre, the only candidate of its step: [`Measure::score`]
    /// and [`Measure::add`] in one.
    fn advance(&self, seeding: &mut Seeding<'_, F>, candidate: usize) -> Result<()> {
        let scored = self.score(seeding, &[candidate])?;
        self.add(seeding, &[candidate], 0, &scored)
    }
    /// The squared distances of block `b`'s rows, once the first centre is measured, to draw a
    /// row within it: the host's.
    fn block<'s>(&'s self, seeding: &'s Seeding<'_, F>, b: usize) -> Result<Cow<'s, [f64]>> {
        Ok(Cow::Borrowed(seeding.block(b)))
    }
}

/// Distances measured on the rows, with the pruning test ([`Seeding::first`], [`Seeding::score`],
/// [`Seeding::add`]).
struct Measured<R>(R);

impl<F: Scalar, R: Rows<F>> Measure<F> for Measured<R> {
    fn first(&self, seeding: &mut Seeding<'_, F>, row: usize) -> Result<()> {
        seeding.first(self.0, row);
        Ok(())
    }
    fn score(&self, seeding: &Seeding<'_, F>, candidates: &[usize]) -> Result<Scored> {
        Ok(seeding.score(self.0, candidates))
    }
    fn add(&self, seeding: &mut Seeding<'_, F>, candidates: &[usize], pick: usize, scored: &Scored) -> Result<()> {
        seeding.add(self.0, candidates, pick, scored);
        Ok(())
    }
    fn advance(&self, seeding: &mut Seeding<'_, F>, candidate: usize) -> Result<()> {
        seeding.advance(self.0, candidate);
        Ok(())
    }
}

/// Distances measured on a device ([`SeedingSteps`]), which keeps every row's `d2` from the first
/// centre on; the host keeps each block's potential (to draw a block) and fetches one block's
/// `d2` to draw a row in it. Every row is measured (the pruning test would only skip rows the
/// measurement would not move): the same rows are chosen as by [`Measured`].
struct OnDevice<'a> {
    steps: RefCell<Box<dyn SeedingSteps + 'a>>,
}

impl<F: Scalar> Measure<F> for OnDevice<'_> {
    fn first(&self, seeding: &mut Seeding<'_, F>, row: usize) -> Result<()> {
        seeding.block_sums = self.steps.borrow_mut().first(row)?;
        Ok(())
    }
    fn score(&self, _: &Seeding<'_, F>, candidates: &[usize]) -> Result<Scored> {
        let gains = self.steps.borrow_mut().score(candidates)?;
        Ok(Scored { gains, moved: Vec::new(), trials: candidates.len() })
    }
    fn add(&self, seeding: &mut Seeding<'_, F>, _: &[usize], pick: usize, _: &Scored) -> Result<()> {
        seeding.block_sums = self.steps.borrow_mut().add(pick)?;
        Ok(())
    }
    fn advance(&self, seeding: &mut Seeding<'_, F>, candidate: usize) -> Result<()> {
        seeding.block_sums = self.steps.borrow_mut().advance(candidate)?;
        Ok(())
    }
    fn block<'s>(&'s self, _: &'s Seeding<'_, F>, b: usize) -> Result<Cow<'s, [f64]>> {
        Ok(Cow::Owned(self.steps.borrow_mut().block(b)?))
    }
}

/// Most rows of one table of pairwise distances: 2,048 rows are 32 MiB of `f64`.
pub const TABLE_ROWS: usize = 2048;

/// k-means++ run again and again over the same rows: the trials of the K → k reduction, the runs
/// on a coreset. Each run measures up to `k · local_trials` candidates against every row (fewer:
/// the pruning test skips rows, half or more of them on clustered data); measuring every pair of
/// rows once is n²/2 distances. So when there are at least two runs, the rows are dense, of eight
/// features or more and few (at most [`TABLE_ROWS`], and no more than the candidates of all the
/// runs together), the runs look their distances up in a table instead. A narrower row is
/// measured about as fast as it is looked up, and a single run has no other run to share the
/// table with (see `narrow_rows_and_single_runs_are_measured_without_a_table`). The reduction
/// always qualifies: K = 2–10 · k rows against 10 runs of k · (2 + ⌊ln k⌋) candidates up to
/// k = 105. The table holds the bits the rows' own measure gives, so the same rows are chosen
/// either way.
pub struct Repeated<'w, F, R> {
    x: R,
    weights: Option<&'w [f64]>,
    k: usize,
    local_trials: usize,
    table: Option<Table>,
    _scalar: PhantomData<F>,
}

impl<'w, F: Scalar, R: Rows<F>> Repeated<'w, F, R> {
    /// Prepares `runs` k-means++ runs choosing `k` of the rows of `x`, `local_trials` candidates
    /// per step.
    pub fn new(x: R, weights: Option<&'w [f64]>, k: usize, local_trials: usize, runs: usize) -> Self {
        let candidates = runs.saturating_mul(k).saturating_mul(local_trials);
        let table = match x.data() {
            Data::Dense(points) if runs >= 2 && x.d() >= NARROW_ROWS && x.n() <= TABLE_ROWS && x.n() <= candidates => {
                Some(Table::new(points))
            }
            _ => None,
        };
        Self { x, weights, k, local_trials, table, _scalar: PhantomData }
    }

    /// One run: the chosen rows, in order ([`kmeans_pp`]'s, pruned).
    pub fn choose(&self, rng: &mut Rng) -> Vec<usize> {
        match &self.table {
            Some(table) => run(
                table,
                Seeding::<F>::new(self.x.n(), self.weights, self.x.d(), false),
                self.k,
                self.local_trials,
                rng,
            )
            .expect("looking distances up does not fail"),
            None => kmeans_pp(self.x, self.weights, self.k, self.local_trials, rng, true),
        }
    }

    /// [`Repeated::choose`], measuring on `backend`'s device where it takes the rows and no
    /// table is kept ([`kmeans_pp_on`]): the same rows.
    pub fn choose_on<B: Backend>(&self, rng: &mut Rng, backend: &B) -> Result<Vec<usize>> {
        match &self.table {
            Some(_) => Ok(self.choose(rng)),
            None => kmeans_pp_on(self.x, self.weights, self.k, self.local_trials, rng, backend),
        }
    }

    /// Whether the runs look their distances up in a table.
    pub fn tabled(&self) -> bool {
        self.table.is_some()
    }

    /// The table of the rows' pairwise squared distances, where the runs look them up.
    pub(crate) fn table(&self) -> Option<&Table> {
        self.table.as_ref()
    }
}

/// The squared distances between every two of a few dense rows, n × n: each the bits that
/// [`Rows::sq_dist_to`] gives for the pair (`sq_dist_in`, which is symmetric: a − b and b − a
/// square to the same float, so each pair is measured once).
pub(crate) struct Table {
    n: usize,
    values: Vec<f64>,
}

impl Table {
    pub(crate) fn new<F: Scalar>(x: Points<'_, F>) -> Self {
        let (n, d) = (x.n(), x.d());
        let mut values = vec![0.0; n * n];
        // Row i measures the rows before it and itself (not 0 taken for granted: a row holding
        // infinity or NaN is at NaN from itself); the other half is copied across.
        values.par_chunks_mut(n).enumerate().with_min_len(min_items(n * d / 2)).for_each(|(i, row)| {
            each_pair(i + 1, |j| (x.row(i), x.row(j)), |j, v| row[j] = v);
        });
        for i in 0..n {
            for j in i + 1..n {
                values[i * n + j] = values[j * n + i];
            }
        }
        Self { n, values }
    }

    /// Row i's squared distances to every row.
    pub(crate) fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.n..(i + 1) * self.n]
    }
}

impl<F: Scalar> Measure<F> for Table {
    fn first(&self, seeding: &mut Seeding<'_, F>, row: usize) -> Result<()> {
        seeding.d2.copy_from_slice(self.row(row));
        for b in 0..seeding.block_sums.len() {
            seeding.block_sums[b] = block_sum(&seeding.d2, seeding.weights, b);
        }
        Ok(())
    }

    fn score(&self, seeding: &Seeding<'_, F>, candidates: &[usize]) -> Result<Scored> {
        let (n, trials) = (seeding.d2.len(), candidates.len());
        let n_blocks = seeding.block_sums.len();
        let mut gains = vec![0.0; trials];
        let mut moved = vec![0u128; n_blocks * trials];
        let mut dist = [0f64; ROW_BLOCK];
        for (t, &candidate) in candidates.iter().enumerate() {
            let distances = self.row(candidate);
            // Block by block, as Seeding::score adds them: the same gains, bit for bit.
            for block in 0..n_blocks {
                let rows = block * ROW_BLOCK..((block + 1) * ROW_BLOCK).min(n);
                let current = &seeding.d2[rows.clone()];
                dist[..current.len()].copy_from_slice(&distances[rows.clone()]);
                let closer = closer_mask(current, &dist);
                if trials > 1 {
                    gains[t] += add_gains(0.0, current, &dist, seeding.weights.map(|w| &w[rows]), closer);
                }
                moved[block * trials + t] = closer;
            }
        }
        Ok(Scored { gains, moved, trials })
    }

    fn add(&self, seeding: &mut Seeding<'_, F>, candidates: &[usize], pick: usize, scored: &Scored) -> Result<()> {
        let distances = self.row(candidates[pick]);
        for block in 0..seeding.block_sums.len() {
            let mut mask = scored.moved[block * scored.trials + pick];
            if mask == 0 {
                continue;
            }
            let start = block * ROW_BLOCK;
            while mask != 0 {
                let r = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                seeding.d2[start + r] = distances[start + r];
            }
            seeding.block_sums[block] = block_sum(&seeding.d2, seeding.weights, block);
        }
        Ok(())
    }
}

/// What a scripted k-means++ step left ([`script`]): each candidate's gain (scored steps) and each
/// block's potential.
#[doc(hidden)]
pub struct ScriptStep {
    pub gains: Vec<f64>,
    pub block_sums: Vec<f64>,
}

/// The steps of a k-means++ run named in advance, on the CPU (pruned): row `first` is the first
/// centre, then each step's candidates are advanced (one) or scored and candidate `pick` added
/// (more). Returns what each step left, the first's included, and the rows' final `d2`: what a
/// device's kernels are compared with (`tests/cuda_emulated.rs`).
#[doc(hidden)]
pub fn script<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    first: usize,
    steps: &[(Vec<usize>, usize)],
) -> (Vec<ScriptStep>, Vec<f64>) {
    let mut seeding = Seeding::<F>::new(x.n(), weights, x.d(), true);
    seeding.set_all(1.0);
    seeding.first(x, first);
    let mut done = vec![ScriptStep { gains: Vec::new(), block_sums: seeding.block_sums.clone() }];
    for (candidates, pick) in steps {
        let gains = if let [only] = candidates[..] {
            seeding.advance(x, only);
            Vec::new()
        } else {
            let scored = seeding.score(x, candidates);
            seeding.add(x, candidates, *pick, &scored);
            scored.gains
        };
        done.push(ScriptStep { gains, block_sums: seeding.block_sums.clone() });
    }
    (done, seeding.d2)
}

/// A uniformly chosen row that is not a centre yet (one always exists since k <= n).
fn untaken(taken: &[bool], rng: &mut Rng) -> usize {
    let free: Vec<usize> = (0..taken.len()).filter(|&i| !taken[i]).collect();
    free[rng.below(free.len())]
}

/// What [`Seeding::score`] found: per candidate, its gain, and per block of `ROW_BLOCK` rows
/// (block-major, `trials` per block) the rows it moves strictly closer, as a bit mask (none from a
/// device, which keeps them).
struct Scored {
    gains: Vec<f64>,
    moved: Vec<u128>,
    trials: usize,
}

/// The state of a k-means++ run: each row's closest centre so far (its owner) and squared distance
/// to it, the centres, and the potential Σ w·d² per block of `ROW_BLOCK` rows.
struct Seeding<'w, F> {
    d2: Vec<f64>,
    owner: Vec<u32>,
    weights: Option<&'w [f64]>,
    /// Σ w·d² per block of `ROW_BLOCK` rows, so that drawing a row in proportion to w·d² scans the
    /// block sums and then one block, instead of a prefix sum over every row.
    block_sums: Vec<f64>,
    /// The centres so far, row-major (dense).
    centers: Vec<F>,
    d: usize,
    prune: bool,
}

impl<'w, F: Scalar> Seeding<'w, F> {
    fn new(n: usize, weights: Option<&'w [f64]>, d: usize, prune: bool) -> Self {
        Self {
            d2: vec![0.0; n],
            owner: vec![0; n],
            weights,
            block_sums: vec![0.0; n.div_ceil(ROW_BLOCK)],
            centers: Vec::new(),
            d,
            prune,
        }
    }

    fn weight(&self, i: usize) -> f64 {
        self.weights.map_or(1.0, |w| w[i])
    }

    /// Every row at the same distance `value` (before the first centre, to draw it by weight).
    fn set_all(&mut self, value: f64) {
        self.d2.fill(value);
        for b in 0..self.block_sums.len() {
            self.block_sums[b] = block_sum(&self.d2, self.weights, b);
        }
    }

    /// The first centre, row `row`: every row measured, owned by it.
    fn first<R: Rows<F>>(&mut self, x: R, row: usize) {
        let mut center = vec![F::ZERO; self.d];
        x.copy_row(row, &mut center);
        let norm = squared_norm(&center);
        let weights = self.weights;
        let blocks = self.d2.par_chunks_mut(ROW_BLOCK).zip(self.block_sums.par_iter_mut()).enumerate();
        blocks.with_min_len(step_items(ROW_BLOCK * x.d())).for_each(|(block, (d2, sum))| {
            let start = block * ROW_BLOCK;
            x.each_sq_dist(d2.len(), |r| start + r, |_| (&center[..], norm), |r, v| d2[r] = v);
            *sum = weighted_sum(d2, weights.map(|w| &w[start..start + d2.len()]));
        });
        self.owner.fill(0);
        self.centers = center;
    }

    fn n_centers(&self) -> usize {
        self.centers.len() / self.d
    }

    /// The candidate rows, densely, with their squared norms.
    fn candidate_rows<R: Rows<F>>(&self, x: R, candidates: &[usize]) -> (Vec<F>, Vec<f64>) {
        let rows = x.dense_rows(candidates);
        let norms = rows.chunks_exact(self.d).map(squared_norm).collect();
        (rows, norms)
    }

    /// Squared distances from each of the dense `rows` to every centre so far, row by row: the
    /// pruning bounds, in the data's precision (their rounding is far inside MARGIN).
    fn to_centers(&self, rows: &[F]) -> Vec<f64> {
        let d = self.d;
        rows.chunks_exact(d)
            .flat_map(|row| self.centers.chunks_exact(d).map(move |center| sq_dist_in::<F, F>(row, center)))
            .collect()
    }

    /// Gains of the candidate rows and the rows each moves closer: one pass over the rows for all
    /// candidates, block by block.
    fn score<R: Rows<F>>(&self, x: R, candidates: &[usize]) -> Scored {
        let (d, m, trials) = (self.d, self.n_centers(), candidates.len());
        let (rows, norms) = self.candidate_rows(x, candidates);
        let between = self.to_centers(&rows);
        let n_blocks = self.block_sums.len();
        let mut gains = vec![0.0; n_blocks * trials];
        let mut moved = vec![0u128; n_blocks * trials];
        let pass = Pass { x, weights: self.weights, prune: self.prune };
        let (rows, norms, between) = (&rows[..], &norms[..], &between[..]);
        let blocks = gains.par_chunks_mut(trials).zip(moved.par_chunks_mut(trials));
        let blocks = blocks.zip(self.d2.par_chunks(ROW_BLOCK).zip(self.owner.par_chunks(ROW_BLOCK))).enumerate();
        blocks.with_min_len(step_items(ROW_BLOCK * trials * d)).for_each(
            |(block, ((gains, moved), (current, owner)))| {
                #[cfg(target_arch = "x86_64")]
                if crate::kernels::avx2::available() {
                    // SAFETY: the CPU has AVX2 and FMA.
                    return unsafe {
                        pass.score_block_avx2(block, current, owner, rows, norms, between, m, gains, moved)
                    };
                }
                pass.score_block(block, current, owner, rows, norms, between, m, gains, moved)
            },
        );
        let mut totals = vec![0.0; trials];
        for block in gains.chunks_exact(trials) {
            for (total, gain) in totals.iter_mut().zip(block) {
                *total += gain;
            }
        }
        Scored { gains: totals, moved, trials }
    }

    /// Adds candidate `pick` of `candidates` (scored by [`Seeding::score`]) as the next centre:
    /// the rows it moves closer are measured again (the same distances) and move to it.
    fn add<R: Rows<F>>(&mut self, x: R, candidates: &[usize], pick: usize, scored: &Scored) {
        let d = self.d;
        let (rows, norms) = self.candidate_rows(x, &candidates[pick..=pick]);
        let new = self.n_centers() as u32;
        let (trials, weights) = (scored.trials, self.weights);
        let blocks = self.d2.par_chunks_mut(ROW_BLOCK).zip(self.owner.par_chunks_mut(ROW_BLOCK));
        blocks.zip(self.block_sums.par_iter_mut()).enumerate().with_min_len(min_items(ROW_BLOCK)).for_each(
            |(block, ((d2, owner), sum))| {
                let mut mask = scored.moved[block * trials + pick];
                if mask == 0 {
                    return;
                }
                let start = block * ROW_BLOCK;
                while mask != 0 {
                    let r = mask.trailing_zeros() as usize;
                    mask &= mask - 1;
                    d2[r] = x.sq_dist_to(start + r, &rows, norms[0]);
                    owner[r] = new;
                }
                *sum = weighted_sum(d2, weights.map(|w| &w[start..start + d2.len()]));
            },
        );
        self.centers.extend_from_slice(&rows[..d]);
    }

    /// Adds row `candidate` as the next centre, the only candidate of its step (plain k-means++):
    /// the rows it moves closer move to it, in one pass that measures each row once (what
    /// [`Seeding::score`] and [`Seeding::add`] would leave, without measuring the moved rows again).
    fn advance<R: Rows<F>>(&mut self, x: R, candidate: usize) {
        let (d, m) = (self.d, self.n_centers());
        let (row, norms) = self.candidate_rows(x, &[candidate]);
        let between = self.to_centers(&row);
        let pass = Pass { x, weights: self.weights, prune: self.prune };
        let (row, norm, between) = (&row[..], norms[0], &between[..]);
        let blocks = self.d2.par_chunks_mut(ROW_BLOCK).zip(self.owner.par_chunks_mut(ROW_BLOCK));
        let blocks = blocks.zip(self.block_sums.par_iter_mut()).enumerate();
        blocks.with_min_len(step_items(ROW_BLOCK * d)).for_each(|(block, ((d2, owner), sum))| {
            #[cfg(target_arch = "x86_64")]
            if crate::kernels::avx2::available() {
                // SAFETY: the CPU has AVX2 and FMA.
                return unsafe { pass.advance_block_avx2(block, d2, owner, sum, row, norm, between, m) };
            }
            pass.advance_block(block, d2, owner, sum, row, norm, between, m)
        });
        self.centers.extend_from_slice(row);
    }

    fn total(&self) -> f64 {
        self.block_sums.iter().sum()
    }

    /// The host's `d2` of block `b`'s rows.
    fn block(&self, b: usize) -> &[f64] {
        &self.d2[b * ROW_BLOCK..((b + 1) * ROW_BLOCK).min(self.d2.len())]
    }

    /// A row drawn with probability w·d2 / Σ w·d2 (the host's), or `None` when that sum is zero.
    fn draw(&self, rng: &mut Rng) -> Option<usize> {
        self.draw_from(rng, |b| Ok(Cow::Borrowed(self.block(b)))).expect("the host's blocks")
    }

    /// [`Seeding::draw`] with the rows' `d2` of a block from `block` (where the measure keeps
    /// them); the blocks' potentials are the host's.
    fn draw_from<'s>(
        &self,
        rng: &mut Rng,
        block: impl FnOnce(usize) -> Result<Cow<'s, [f64]>>,
    ) -> Result<Option<usize>> {
        let total = self.total();
        if total <= 0.0 || !total.is_finite() {
            return Ok(None);
        }
        let mut u = rng.uniform() * total;
        // The block holding u; rounding can carry u past the last positive block: take that one.
        let Some(last_positive) = self.block_sums.iter().rposition(|&s| s > 0.0) else { return Ok(None) };
        let mut chosen = last_positive;
        for (b, &s) in self.block_sums.iter().enumerate().take(last_positive) {
            if u < s {
                chosen = b;
                break;
            }
            u -= s;
        }
        let d2 = block(chosen)?;
        let start = chosen * ROW_BLOCK;
        let mut last = None;
        for (r, &d2) in d2.iter().enumerate() {
            let term = self.weight(start + r) * d2;
            if term > 0.0 {
                last = Some(start + r);
                if u < term {
                    return Ok(last);
                }
                u -= term;
            }
        }
        Ok(last)
    }
}

/// What a pass over the rows reads besides their distances and owners: the rows, their weights.
struct Pass<'a, R> {
    x: R,
    weights: Option<&'a [f64]>,
    prune: bool,
}

impl<R: Copy> Pass<'_, R> {
    /// The squared distances from the rows of a block (from row `start`; `current` their distances
    /// so far, `owner` their closest centres) to `candidate` (squared norm `norm`; `between[j]` =
    /// squared distance from it to centre j of the `m` so far) into `dist`: +inf for a row that
    /// the pruning test skips.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn distances<F: Scalar>(
        &self,
        start: usize,
        current: &[f64],
        owner: &[u32],
        candidate: &[F],
        norm: f64,
        between: &[f64],
        m: usize,
        dist: &mut [f64; ROW_BLOCK],
    ) where
        R: Rows<F>,
    {
        match self.x.data() {
            Data::Dense(x) if x.d() < NARROW_ROWS && m < NARROW_CENTERS => {
                narrow_sq_dists::<F, F>(x.rows(start, start + current.len()), candidate, |_| 0, dist);
            }
            _ => {
                // The rows the test does not skip, measured together.
                let mut picked = [0usize; ROW_BLOCK];
                let mut count = 0;
                // Without branches: on shuffled rows whether the test skips a row is a coin toss.
                for (r, (dist, &current)) in dist.iter_mut().zip(current).enumerate() {
                    *dist = f64::INFINITY;
                    picked[count] = r;
                    count += !(self.prune && skips(between[owner[r] as usize], current)) as usize;
                }
                let picked = &picked[..count];
                self.x.each_sq_dist(count, |j| start + picked[j], |_| (candidate, norm), |j, v| dist[picked[j]] = v);
            }
        }
    }

    /// Scores block `block` of `ROW_BLOCK` rows (`current` their distances, `owner` their closest
    /// centres) against every candidate (`rows`, d values each, of squared norms `norms`;
    /// `between[t · m + j]` = squared distance from candidate t to centre j): adds each
    /// candidate's gain to `gains[t]` and sets the bits of the rows it moves closer in `moved[t]`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn score_block<F: Scalar>(
        &self,
        block: usize,
        current: &[f64],
        owner: &[u32],
        rows: &[F],
        norms: &[f64],
        between: &[f64],
        m: usize,
        gains: &mut [f64],
        moved: &mut [u128],
    ) where
        R: Rows<F>,
    {
        let (trials, d) = (norms.len(), self.x.d());
        let start = block * ROW_BLOCK;
        let mut dist = [0f64; ROW_BLOCK];
        for t in 0..trials {
            let candidate = &rows[t * d..(t + 1) * d];
            self.distances(start, current, owner, candidate, norms[t], &between[t * m..(t + 1) * m], m, &mut dist);
            let closer = closer_mask(current, &dist);
            // Plain k-means++ (one candidate) needs only the rows moved, not the gain.
            if trials > 1 {
                let weights = self.weights.map(|w| &w[start..start + current.len()]);
                gains[t] = add_gains(gains[t], current, &dist, weights, closer);
            }
            moved[t] |= closer;
        }
    }

    /// [`Pass::score_block`] compiled for AVX2 and FMA: the same operations in the same order
    /// (no contraction into FMAs), wider, so the same bits.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn score_block_avx2<F: Scalar>(
        &self,
        block: usize,
        current: &[f64],
        owner: &[u32],
        rows: &[F],
        norms: &[f64],
        between: &[f64],
        m: usize,
        gains: &mut [f64],
        moved: &mut [u128],
    ) where
        R: Rows<F>,
    {
        self.score_block(block, current, owner, rows, norms, between, m, gains, moved)
    }

    /// Moves the rows of block `block` that `candidate` (centre number `m`) brings closer to it:
    /// their distances (`d2`), owners (`owner`) and the block's potential (`sum`), from one
    /// measurement of each row.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn advance_block<F: Scalar>(
        &self,
        block: usize,
        d2: &mut [f64],
        owner: &mut [u32],
        sum: &mut f64,
        candidate: &[F],
        norm: f64,
        between: &[f64],
        m: usize,
    ) where
        R: Rows<F>,
    {
        let start = block * ROW_BLOCK;
        let mut dist = [0f64; ROW_BLOCK];
        self.distances(start, d2, owner, candidate, norm, between, m, &mut dist);
        let mut closer = closer_mask(d2, &dist);
        if closer == 0 {
            return;
        }
        while closer != 0 {
            let r = closer.trailing_zeros() as usize;
            closer &= closer - 1;
            d2[r] = dist[r];
            owner[r] = m as u32;
        }
        *sum = weighted_sum(d2, self.weights.map(|w| &w[start..start + d2.len()]));
    }

    /// [`Pass::advance_block`] compiled for AVX2 and FMA (the same bits, as
    /// [`Pass::score_block_avx2`]).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn advance_block_avx2<F: Scalar>(
        &self,
        block: usize,
        d2: &mut [f64],
        owner: &mut [u32],
        sum: &mut f64,
        candidate: &[F],
        norm: f64,
        between: &[f64],
        m: usize,
    ) where
        R: Rows<F>,
    {
        self.advance_block(block, d2, owner, sum, candidate, norm, between, m)
    }
}

/// Dense rows narrower than [`NARROW_ROWS`] are measured against a candidate a block at a time,
/// without the pruning test, while fewer than this many centres are chosen (see the module docs).
/// From this many centres on, narrow rows are pruned too: each centre then owns a small region,
/// and the test skips most rows of a step. Measured on 32,000 float32 rows of 7 features, k = 1000
/// with 8 candidates per step: 681 ms measuring narrow rows at every step, 426 ms pruning at every
/// step, 391 ms switching at 128 centres; s1-like data (k = 15) never reaches it.
const NARROW_CENTERS: usize = 128;

/// `gain` plus Σ w·(current − dist) over the rows that `dist` moves closer (the bits of `closer`),
/// in row order.
#[inline(always)]
fn add_gains(mut gain: f64, current: &[f64], dist: &[f64; ROW_BLOCK], weights: Option<&[f64]>, closer: u128) -> f64 {
    let mut rows = closer;
    while rows != 0 {
        let r = rows.trailing_zeros() as usize;
        rows &= rows - 1;
        gain += weights.map_or(1.0, |w| w[r]) * (current[r] - dist[r]);
    }
    gain
}

/// The rows of a block that `dist` moves strictly closer than `current`, one bit per row.
#[inline(always)]
fn closer_mask(current: &[f64], dist: &[f64; ROW_BLOCK]) -> u128 {
    let mut mask = 0u128;
    for (h, (current, dist)) in current.chunks(64).zip(dist.chunks(64)).enumerate() {
        let mut bits = 0u64;
        for (r, (&current, &dist)) in current.iter().zip(dist).enumerate() {
            bits |= ((dist < current) as u64) << r;
        }
        mask |= (bits as u128) << (64 * h);
    }
    mask
}

/// Whether a candidate at squared distance `bound` from a centre cannot come closer than `d2` to
/// a row of that centre lying within squared distance `d2` of it (with the rounding margin).
#[inline(always)]
fn skips(bound: f64, d2: f64) -> bool {
    bound > 4.0 * d2 * (1.0 + MARGIN)
}

/// ‖v‖², summed in `f64`.
pub(crate) fn squared_norm<F: Scalar>(v: &[F]) -> f64 {
    v.iter().map(|x| x.to_f64() * x.to_f64()).sum()
}

/// Σ w·d² over block `b` of `d2`.
fn block_sum(d2: &[f64], weights: Option<&[f64]>, b: usize) -> f64 {
    let rows = b * ROW_BLOCK..((b + 1) * ROW_BLOCK).min(d2.len());
    weighted_sum(&d2[rows.clone()], weights.map(|w| &w[rows]))
}

/// Σ w·d² of one block, with four independent accumulators.
fn weighted_sum(d2: &[f64], weights: Option<&[f64]>) -> f64 {
    match weights {
        None => sum_lanes(d2),
        Some(w) => {
            let mut terms = [0.0; ROW_BLOCK];
            for ((t, d), w) in terms.iter_mut().zip(d2).zip(w) {
                *t = d * w;
            }
            sum_lanes(&terms[..d2.len()])
        }
    }
}

/// A sum with four independent accumulators: not one chain of dependent additions.
#[inline]
pub(crate) fn sum_lanes(values: &[f64]) -> f64 {
    let chunks = values.chunks_exact(4);
    let tail: f64 = chunks.remainder().iter().sum();
    let mut lanes = [0.0; 4];
    for chunk in chunks {
        for l in 0..4 {
            lanes[l] += chunk[l];
        }
    }
    (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail
}

#[cfg(test)]
pub(crate) mod tests;
