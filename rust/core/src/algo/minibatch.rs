//! The web-scale (mini-batch) trainer, as SageMaker documents it (Sculley 2010, batch form).
//!
//! For each mini-batch, every point is assigned to its nearest centre; a centre `c` that held
//! `n_old` (weighted) points and receives `n_new` new ones, with mean `m`, moves to
//!
//! ```text
//! p = n_new / (n_old + n_new),   c ← (1 − p)·c + p·m,   n_old ← n_old + n_new
//! ```
//!
//! which is Sculley's per-point rule (η = 1/count) applied to the batch at once.
//!
//! Half-life decay (`half_life_time_size = h > 0`): a point's weight halves after `h` later
//! points. Before a batch of `b` points is merged every count is multiplied by `2^(−b/h)`, so a
//! point seen `t` points ago weighs `2^(−t/h)` (points of one batch count as seen together).
//!
//! Dead centres: a centre with a count of zero that sits exactly on a lower-indexed centre can
//! never win a point (ties go to the lowest index). This happens when the seeding batch repeats
//! rows, as real data often does. After each batch such a centre is moved onto the batch point
//! farthest from its nearest centre (the next farthest for the next one, and so on), and its count
//! stays zero until it wins points. Any other centre that wins no points keeps its position and
//! its (decaying) count: it may simply not have seen its part of the data yet, and a starved
//! centre weighs little in the reduction. No centre ever becomes NaN or jumps to the origin.
//!
//! Far points: a few rows far from everything (rare groups, which real data such as network
//! intrusion logs is full of) can carry most of the loss, yet a random seeding batch rarely holds
//! them and a streaming centre moves towards them by only 1/count. So the state also keeps the K
//! points that were farthest from their nearest centre when they were seen (a bounded set, O(K·d)
//! memory), each with weight 1 (decayed like the counts). Only points whose squared distance
//! exceeds `FAR_FACTOR` (30) times their batch's mean qualify: the tails of a Gaussian cluster
//! essentially never do (in two dimensions a fraction e⁻³⁰ of them, even measured against the
//! cluster's own mean), so well-clustered data keeps no far points and its reduction is
//! SageMaker's (measured: none on the UEF s1–s4 and birch sets, hundreds on KDD Cup 99). The
//! reduction clusters the K weighted centres together with these far points, so weighted
//! k-means++ can give a rare far group a centre of its own, as k-means++ over all the data would.

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;

use crate::algo::choose::{choose_and_refine, choose_by_data};
use crate::algo::coarse::{cast_trials, coarse_copy};
use crate::algo::empty::rows_by_contribution;
use crate::algo::init::init_centers_on;
use crate::algo::lloyd::{lloyd_within, lowest, mean_variance_of, LloydFit, Trials};
use crate::algo::reduce::{reduce_shards_trials, Reduced, Shard};
use crate::algo::starved::reseed_starved;
use crate::backend::{Backend, Cpu, Gathered, Rows};
use crate::error::{check_stop, Error, Result};
use crate::kernels::metrics::{check_weights, weighted_ssd};
use crate::kernels::points::Points;
use crate::kernels::scalar::{cast, Scalar};
use crate::kernels::scatter::Scatter;
use crate::kernels::sums::ClusterSums;
use crate::params::{Checked, InitMethod, LloydParams, MiniBatchParams, ReduceParams, StopRule};
use crate::rng::{Purpose, Rng};

/// A row is a far point when its squared distance exceeds this many times its batch's mean.
pub const FAR_FACTOR: f64 = 30.0;

/// The default `reseed_ratio`: a centre whose count is below a quarter of the mean count is starved.
pub const DEFAULT_RESEED_RATIO: f64 = 0.25;

/// The complete streaming state: enough to save training and resume it later.
#[derive(Clone, Debug, PartialEq)]
pub struct MiniBatchState<F> {
    /// K × d streaming centres, row-major.
    pub centers: Vec<F>,
    /// Per-centre (decayed) count of the points merged into it.
    pub counts: Vec<f64>,
    /// Features per row.
    pub d: usize,
    /// Points merged so far, over all batches and epochs.
    pub points_seen: u64,
    /// Up to K rows that were farthest from their nearest centre when seen, row-major.
    pub far_points: Vec<F>,
    /// Their (decayed) weights, 1 when kept.
    pub far_weights: Vec<f64>,
    /// Their squared distance to the nearest centre when they were seen.
    pub far_dist2: Vec<f64>,
    /// A centre whose count is below this fraction of the mean count is starved and may be
    /// reseeded (see the module docs); 0 never reseeds. A setting, not saved with the state.
    pub reseed_ratio: f64,
}

impl<F: Scalar> MiniBatchState<F> {
    /// Seeds `n_centers` centres from `sample` (SageMaker's sampled first batch) with `init`;
    /// every count starts at zero, so a centre's first batch moves it onto that batch's mean.
    pub fn seed<R: Rows<F>>(sample: R, n_centers: usize, init: InitMethod, seed: u64) -> Result<Self> {
        Self::seed_on(sample, n_centers, init, seed, &Cpu)
    }

    /// [`MiniBatchState::seed`] with the seeding's passes on `backend` (its k-means++ on a device
    /// that takes the sample: the same centres).
    pub fn seed_on<R: Rows<F>, B: Backend>(
        sample: R,
        n_centers: usize,
        init: InitMethod,
        seed: u64,
        backend: &B,
    ) -> Result<Self> {
        sample.require_rows_for(n_centers)?;
        let mut rng = Rng::new(seed, Purpose::SeedCenters);
        let centers = init_centers_on(sample, None, n_centers, init, &mut rng, backend)?;
        Ok(Self {
            centers,
            counts: vec![0.0; n_centers],
            d: sample.d(),
            points_seen: 0,
            far_points: Vec::new(),
            far_weights: Vec::new(),
            far_dist2: Vec::new(),
            reseed_ratio: DEFAULT_RESEED_RATIO,
        })
    }

    /// The state with its centres and far points in precision `G` (counts and distances as they
    /// are).
    pub(crate) fn cast<G: Scalar>(self) -> MiniBatchState<G> {
        MiniBatchState {
            centers: cast(&self.centers),
            counts: self.counts,
            d: self.d,
            points_seen: self.points_seen,
            far_points: cast(&self.far_points),
            far_weights: self.far_weights,
            far_dist2: self.far_dist2,
            reseed_ratio: self.reseed_ratio,
        }
    }

    /// Rebuilds a saved state, checking that its parts fit together.
    pub fn from_parts(
        centers: Vec<F>,
        counts: Vec<f64>,
        d: usize,
        points_seen: u64,
        far_points: Vec<F>,
        far_weights: Vec<f64>,
        far_dist2: Vec<f64>,
    ) -> Result<Self> {
        let view = Points::from_rows(&centers, d)?;
        view.require_non_empty()?;
        view.require_finite("the saved centres")?;
        check_weights(view.n(), Some(&counts))?;
        let far = Points::from_rows(&far_points, d)?;
        far.require_finite("the saved far points")?;
        check_weights(far.n(), Some(&far_weights))?;
        check_weights(far.n(), Some(&far_dist2))?;
        if far.n() > view.n() {
            return Err(Error::BadShape { len: far_points.len(), rows: view.n(), cols: d });
        }
        Ok(Self {
            centers,
            counts,
            d,
            points_seen,
            far_points,
            far_weights,
            far_dist2,
            reseed_ratio: DEFAULT_RESEED_RATIO,
        })
    }

    /// The same state with `reseed_ratio` set (finite and >= 0; 0 never reseeds).
    pub fn with_reseed_ratio(mut self, reseed_ratio: f64) -> Result<Self> {
        if !(reseed_ratio.is_finite() && (0.0..=1.0).contains(&reseed_ratio)) {
            return Err(Error::InvalidParameter {
                name: "reseed_ratio",
                value: reseed_ratio.to_string(),
                rule: "a float in [0, 1]",
            });
        }
        self.reseed_ratio = reseed_ratio;
        Ok(self)
    }

    /// K, the number of streaming centres.
    pub fn n_centers(&self) -> usize {
        self.counts.len()
    }

    /// The centres as a K × d view.
    pub fn centers(&self) -> Points<'_, F> {
        Points::new(&self.centers, self.n_centers(), self.d).expect("consistent state")
    }

    /// The total count of the K streaming centres that each of `centers` (k × d, row-major)
    /// absorbed: every streaming centre counts for its nearest (ties to the lowest index), and
    /// each total is summed in streaming-centre order. The weights of a fitted model's centres.
    pub fn absorbed_counts(&self, centers: &[F]) -> Result<Vec<f64>> {
        let centers = Points::from_rows(centers, self.d)?;
        let (mut owner, mut dist2) = (vec![0u32; self.n_centers()], vec![0f64; self.n_centers()]);
        Cpu.assign(self.centers().data(), centers, &mut owner, &mut dist2)?;
        let mut weights = vec![0f64; centers.n()];
        for (&owner, &count) in owner.iter().zip(&self.counts) {
            weights[owner as usize] += count;
        }
        Ok(weights)
    }

    /// Merges one mini-batch; returns its ssd against the centres as they were before the merge.
    pub fn update<R: Rows<F>, B: Backend>(&mut self, batch: R, half_life_time_size: u64, backend: &B) -> Result<f64> {
        self.update_as(batch, half_life_time_size, Reseed::Yes, backend)
    }

    /// [`MiniBatchState::update`], reseeding a starved centre after the merge or not ([`Reseed`]).
    fn update_as<R: Rows<F>, B: Backend>(
        &mut self,
        batch: R,
        half_life_time_size: u64,
        reseed: Reseed,
        backend: &B,
    ) -> Result<f64> {
        batch.require_d(self.d)?;
        let b = batch.n();
        if b == 0 {
            return Ok(0.0);
        }
        let mut labels = vec![0u32; b];
        let mut dist2 = vec![0f64; b];
        let sums = backend.assign_and_sum(batch.data(), None, self.centers(), &mut labels, &mut dist2)?;
        Ok(self.merge(batch, &sums, &labels, &dist2, half_life_time_size, reseed))
    }

    /// Merges a batch whose rows were assigned to the current centres (`labels`) with distances
    /// `dist2` and sums `sums`; returns its ssd.
    fn merge<R: Rows<F>>(
        &mut self,
        batch: R,
        sums: &ClusterSums,
        labels: &[u32],
        dist2: &[f64],
        half_life_time_size: u64,
        reseed: Reseed,
    ) -> f64 {
        let (b, k, d) = (batch.n(), self.n_centers(), self.d);
        if half_life_time_size > 0 {
            let decay = (-(b as f64) / half_life_time_size as f64).exp2();
            self.counts.iter_mut().chain(self.far_weights.iter_mut()).for_each(|c| *c *= decay);
        }
        let ssd = weighted_ssd(dist2, None);
        self.keep_far_points(batch, dist2, ssd);
        for c in (0..k).filter(|&c| sums.weights[c] > 0.0) {
            let total = self.counts[c] + sums.weights[c];
            // (1 − p)·c + p·m with p = n_new / total and m = c + Σ(x − c) / n_new is
            // c + Σ(x − c) / total: a batch whose rows all sit on c leaves c exactly unchanged.
            for (center, &delta) in self.centers[c * d..(c + 1) * d].iter_mut().zip(&sums.deltas[c * d..(c + 1) * d]) {
                *center = F::from_f64(center.to_f64() + delta / total);
            }
            self.counts[c] = total;
        }
        let dead = self.dead_centers();
        if dead.is_empty() {
            if reseed == Reseed::Yes {
                reseed_starved(&mut self.centers, &mut self.counts, batch, labels, self.reseed_ratio);
            }
        } else {
            for (c, i) in dead.into_iter().zip(rows_by_contribution(dist2, None)) {
                batch.copy_row(i, &mut self.centers[c * d..(c + 1) * d]);
            }
        }
        self.points_seen += b as u64;
        ssd
    }
}

/// Whether a merged batch may move a starved centre ([`crate::algo::starved`]). The last batch
/// of an in-memory fit does not: the centre would restart with a count of zero and no batch left
/// in this fit to move it onto the points it wins, so it would weigh nothing in the reduction,
/// and its old count, merged into its nearest centre, would only blur that centre. (A saved
/// state resumed by `partial_fit` then reseeds at its next batch, so a fit and a resumed stream
/// are not one continuous stream there.) On digits (1,797 rows, one batch) the policy's sweeps
/// were about 100 µs, 5% of the fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reseed {
    Yes,
    No,
}

/// What [`MiniBatchState::update_batches`] merged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Merged {
    /// Mini-batches merged.
    pub n_batches: usize,
    /// The sum of their ssds, each against the centres as they were before its merge.
    pub ssd: f64,
}

impl<F: Scalar> MiniBatchState<F> {
    /// Merges the rows of `x` in mini-batches of `batch_size` rows, one [`update`] each: the rows
    /// `order[..batch_size]`, then the next `batch_size`, and so on, or every row of `x` in turn
    /// when `order` is None (a row may appear in `order` any number of times). The whole loop
    /// runs here, so an in-memory pass pays for no per-batch round trip to the caller; each
    /// batch is gathered into one reused buffer in the parallel pass that assigns it
    /// ([`Backend::gather_assign_and_sum`]), which also starts fetching the next batch's rows.
    /// Polls `stop` before every batch; on an error (`Interrupted` included) the batches before it
    /// stay merged, so a caller that must merge all or nothing works on a copy of the state, as
    /// the Python bindings do.
    ///
    /// [`update`]: MiniBatchState::update
    pub fn update_batches<R: Rows<F>, B: Backend, I: RowIndex>(
        &mut self,
        x: R,
        order: Option<&[I]>,
        batch_size: usize,
        half_life_time_size: u64,
        backend: &B,
        stop: &AtomicBool,
    ) -> Result<Merged> {
        let mut batch = Gathered::Dense { data: Vec::new(), d: x.d() };
        self.update_batches_in(x, order, batch_size, half_life_time_size, Reseed::Yes, backend, stop, &mut batch)
    }

    /// [`MiniBatchState::update_batches`], gathering each batch into `batch`, a buffer the caller
    /// keeps (whatever it holds is overwritten): an in-memory fit passes the buffer its seeding
    /// sample was gathered into, which has room for a batch of dense rows, so that its epochs
    /// allocate no batch buffer of their own. `last`: whether the last batch may reseed a
    /// starved centre ([`Reseed`]; every other batch may).
    #[allow(clippy::too_many_arguments)]
    fn update_batches_in<R: Rows<F>, B: Backend, I: RowIndex>(
        &mut self,
        x: R,
        order: Option<&[I]>,
        batch_size: usize,
        half_life_time_size: u64,
        last: Reseed,
        backend: &B,
        stop: &AtomicBool,
        batch: &mut Gathered<F>,
    ) -> Result<Merged> {
        x.require_d(self.d)?;
        if batch_size == 0 {
            return Err(Error::InvalidParameter {
                name: "mini_batch_size",
                value: "0".into(),
                rule: "an integer >= 1",
            });
        }
        let mut merged = Merged { n_batches: 0, ssd: 0.0 };
        let Some(order) = order else {
            for start in (0..x.n()).step_by(batch_size) {
                check_stop(stop)?;
                let end = (start + batch_size).min(x.n());
                let reseed = if end == x.n() { last } else { Reseed::Yes };
                merged.ssd += self.update_as(x.rows(start, end), half_life_time_size, reseed, backend)?;
                merged.n_batches += 1;
            }
            return Ok(merged);
        };
        if let Some(index) = order.iter().map(|&i| i.index()).find(|&i| i >= x.n()) {
            return Err(Error::RowIndex { index, rows: x.n() });
        }
        // Grown by the first gather to the batch's size if it is smaller, dense or sparse like `x`.
        let size = batch_size.min(order.len());
        let (mut labels, mut dist2) = (vec![0u32; size], vec![0f64; size]);
        // This batch's rows and the next's, which the gather starts fetching.
        let (mut indices, mut next) = (Vec::with_capacity(size), Vec::with_capacity(size));
        let mut batches = order.chunks(batch_size).peekable();
        let read = |rows: Option<&&[I]>, into: &mut Vec<usize>| {
            into.clear();
            if let Some(rows) = rows {
                into.extend(rows.iter().map(|&i| i.index()));
            }
        };
        read(batches.peek(), &mut next);
        while batches.next().is_some() {
            check_stop(stop)?;
            std::mem::swap(&mut indices, &mut next);
            read(batches.peek(), &mut next);
            let b = indices.len();
            let sums = backend.gather_assign_and_sum(
                x.data(),
                &indices,
                &next,
                batch,
                self.centers(),
                &mut labels[..b],
                &mut dist2[..b],
            )?;
            let reseed = if batches.peek().is_none() { last } else { Reseed::Yes };
            merged.ssd += self.merge(batch.view(), &sums, &labels[..b], &dist2[..b], half_life_time_size, reseed);
            merged.n_batches += 1;
        }
        Ok(merged)
    }

    /// One epoch: [`MiniBatchState::update_batches`] over every row of `x` in the order epoch
    /// `epoch` of `seed` draws (the order of an in-memory fit's epochs).
    #[allow(clippy::too_many_arguments)]
    pub fn update_epoch<R: Rows<F>, B: Backend>(
        &mut self,
        x: R,
        seed: u64,
        epoch: u64,
        batch_size: usize,
        half_life_time_size: u64,
        backend: &B,
        stop: &AtomicBool,
    ) -> Result<Merged> {
        let mut batch = Gathered::Dense { data: Vec::new(), d: x.d() };
        self.update_epoch_in(x, seed, epoch, batch_size, half_life_time_size, Reseed::Yes, backend, stop, &mut batch)
    }

    /// [`MiniBatchState::update_epoch`], gathering each batch into `batch`
    /// ([`MiniBatchState::update_batches_in`], `last` as there).
    #[allow(clippy::too_many_arguments)]
    fn update_epoch_in<R: Rows<F>, B: Backend>(
        &mut self,
        x: R,
        seed: u64,
        epoch: u64,
        batch_size: usize,
        half_life_time_size: u64,
        last: Reseed,
        backend: &B,
        stop: &AtomicBool,
        batch: &mut Gathered<F>,
    ) -> Result<Merged> {
        let mut rng = Rng::new(seed, Purpose::Epoch(epoch));
        if x.n() <= u32::MAX as usize {
            let order = rng.permutation_u32(x.n());
            self.update_batches_in(x, Some(&order), batch_size, half_life_time_size, last, backend, stop, batch)
        } else {
            let order = rng.permutation(x.n());
            self.update_batches_in(x, Some(&order), batch_size, half_life_time_size, last, backend, stop, batch)
        }
    }

    /// Shrinks the K centres (weighted by their counts) and the far points (weighted by theirs)
    /// to the final k centres, as two shards of [`crate::algo::reduce::reduce_shards`].
    pub fn reduce<B: Backend>(
        &self,
        params: &Checked<ReduceParams>,
        backend: &B,
        stop: &AtomicBool,
    ) -> Result<Reduced<F>> {
        Ok(lowest(self.reduce_trials(params, Trials::All, backend, stop)?))
    }

    /// The trials of [`MiniBatchState::reduce`] that `trials` runs, lowest loss first.
    pub fn reduce_trials<B: Backend>(
        &self,
        params: &Checked<ReduceParams>,
        trials: Trials,
        backend: &B,
        stop: &AtomicBool,
    ) -> Result<Vec<Reduced<F>>> {
        let far = Shard {
            centers: Points::new(&self.far_points, self.far_weights.len(), self.d)?,
            weights: &self.far_weights,
        };
        let shards = [Shard { centers: self.centers(), weights: &self.counts }, far];
        reduce_shards_trials(&shards, params, trials, backend, stop)
    }

    /// Merges the batch's far rows (see the module docs) into the far set, keeping the K largest
    /// distances (ties: rows kept earlier first, then batch order); `ssd` is the batch's.
    fn keep_far_points<R: Rows<F>>(&mut self, batch: R, dist2: &[f64], ssd: f64) {
        let capacity = self.n_centers();
        let far_enough = FAR_FACTOR * ssd / dist2.len() as f64;
        let full = self.far_dist2.len() == capacity;
        let floor = if full { self.far_dist2.iter().copied().fold(f64::INFINITY, f64::min) } else { 0.0 };
        let floor = floor.max(far_enough);
        let mut fresh: Vec<usize> = (0..batch.n()).filter(|&i| dist2[i] > floor).collect();
        if fresh.is_empty() {
            return;
        }
        fresh.sort_by(|&a, &b| dist2[b].total_cmp(&dist2[a]));
        fresh.truncate(capacity);
        let d = self.d;
        let mut fresh_rows = vec![F::ZERO; fresh.len() * d];
        for (row, &i) in fresh_rows.chunks_exact_mut(d).zip(&fresh) {
            batch.copy_row(i, row);
        }
        // (distance, weight, row): the kept rows first, so the stable sort prefers them on ties.
        let mut entries: Vec<(f64, f64, &[F])> = (0..self.far_dist2.len())
            .map(|j| (self.far_dist2[j], self.far_weights[j], &self.far_points[j * d..(j + 1) * d]))
            .chain(fresh.iter().zip(fresh_rows.chunks_exact(d)).map(|(&i, row)| (dist2[i], 1.0, row)))
            .collect();
        entries.sort_by(|a, b| b.0.total_cmp(&a.0));
        entries.truncate(capacity);
        let far_points = entries.iter().flat_map(|e| e.2.iter().copied()).collect();
        self.far_weights = entries.iter().map(|e| e.1).collect();
        self.far_dist2 = entries.iter().map(|e| e.0).collect();
        self.far_points = far_points;
    }

    /// Centres of count zero identical to a lower-indexed centre (see the module docs).
    fn dead_centers(&self) -> Vec<usize> {
        if !self.counts.contains(&0.0) {
            return Vec::new();
        }
        let mut seen = HashSet::with_capacity(self.n_centers());
        let mut dead = Vec::new();
        for c in 0..self.n_centers() {
            // `+ 0.0` folds -0.0 into 0.0 so that equal values have equal bits.
            let bits: Vec<u64> = self.centers().row(c).iter().map(|v| (v.to_f64() + 0.0).to_bits()).collect();
            if !seen.insert(bits) && self.counts[c] == 0.0 {
                dead.push(c);
            }
        }
        dead
    }
}

/// A row index in an order given to [`MiniBatchState::update_batches`]: `usize`, or `u32` for the
/// shuffled orders of in-memory epochs (half the memory).
pub trait RowIndex: Copy + Send + Sync {
    fn index(self) -> usize;
}

impl RowIndex for usize {
    fn index(self) -> usize {
        self
    }
}

impl RowIndex for u32 {
    fn index(self) -> usize {
        self as usize
    }
}

/// The result of [`fit_minibatch`].
#[derive(Clone, Debug)]
pub struct MiniBatchFit<F> {
    /// The streaming state after the last batch (resumable).
    pub state: MiniBatchState<F>,
    /// The k centres of the reduction: its best trial, or where `params.refine` is set, the trial
    /// refined ([`choose_and_refine`]; on tiny data, the trial whose refine ended lowest, even
    /// where a restart over the rows ended lower still).
    pub reduced: Reduced<F>,
    /// The final k centres, k × d: the reduced ones, or where `params.refine` is set, the
    /// centres its full-data Lloyd iterations end with.
    pub centers: Vec<F>,
    /// The nearest final centre of every training row.
    pub labels: Vec<u32>,
    /// The training ssd against the final centres.
    pub inertia: f64,
    /// The weight of each final centre: the streaming counts it absorbed
    /// ([`MiniBatchState::absorbed_counts`]).
    pub weights: Vec<f64>,
    /// Mini-batches merged.
    pub n_batches: usize,
}

/// Trains on an in-memory data set: seeds K centres from a random sample of `mini_batch_size`
/// rows, streams `epochs` shuffled passes of mini-batches (where one batch holds every row, the
/// rows themselves, unshuffled: [`stream`]), reduces K to k, and labels the data
/// (where `params.refine` is set, a trial of the reduction is refined by full-data Lloyd, whose
/// first pass labels the data, instead of a separate labelling pass: [`reduce_and_refine`]).
/// Where the refine stops by the centre-shift rule and one batch holds every row of dense float64
/// data, the streaming and the choice run over a float32 copy of the rows where float32 holds
/// them closely (`algo::coarse`), the reduction and the refine in float64.
pub fn fit_minibatch<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    params: &Checked<MiniBatchParams>,
    backend: &B,
    stop: &AtomicBool,
) -> Result<MiniBatchFit<F>> {
    x.require_rows_for(params.reduce.k)?;
    let n = x.n();
    if let Some(refine) = params.refine {
        if refine.rule == StopRule::CenterShift {
            if let Some((copy, spread)) = coarse_copy(x, params.reduce.k, params.mini_batch_size) {
                return fit_coarse(x, &copy, &spread, params, &refine.check()?, backend, stop);
            }
        }
    }
    let (state, n_batches) = stream(x, params, backend, stop)?;
    if let Some(refine) = params.refine {
        let (reduced, fit) = reduce_and_refine(x, &state, &params.reduce.check()?, &refine.check()?, backend, stop)?;
        return Ok(MiniBatchFit {
            weights: state.absorbed_counts(&fit.centers)?,
            state,
            reduced,
            centers: fit.centers,
            labels: fit.labels,
            inertia: fit.loss,
            n_batches,
        });
    }
    let reduced = state.reduce(&params.reduce.check()?, backend, stop)?;
    let mut labels = vec![0u32; n];
    let mut dist2 = vec![0f64; n];
    backend.assign(x.data(), Points::from_rows(&reduced.centers, x.d())?, &mut labels, &mut dist2)?;
    let inertia = weighted_ssd(&dist2, None);
    let centers = reduced.centers.clone();
    let weights = state.absorbed_counts(&centers)?;
    Ok(MiniBatchFit { state, reduced, centers, labels, inertia, weights, n_batches })
}

/// [`fit_minibatch`] with a refine under the centre-shift rule, its coarse part over `copy`, the
/// rows `x` in float32 ([`crate::algo::coarse`]), whose scatter is `spread`: the streaming pass
/// and the choice of the reduction's trial over the copy, the reduction over the streaming
/// centres and the refine over the rows in the data's precision.
fn fit_coarse<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    copy: &[f32],
    spread: &Scatter,
    params: &Checked<MiniBatchParams>,
    refine: &Checked<LloydParams>,
    backend: &B,
    stop: &AtomicBool,
) -> Result<MiniBatchFit<F>> {
    let coarse = Points::new(copy, x.n(), x.d())?;
    let (state, n_batches) = stream(coarse, params, backend, stop)?;
    let state = state.cast::<F>();
    let mut trials = state.reduce_trials(&params.reduce.check()?, Trials::UntilAgreed, backend, stop)?;
    let chosen = choose_by_data(coarse, None, &cast_trials(&trials), backend, stop)?;
    // The rows' scatter gives the refine's tolerance, as `lloyd` would compute it.
    let shift_tol = refine.tol * mean_variance_of(spread.weight, spread.scatter, x.d());
    let fit = lloyd_within(x, None, cast(&chosen.centers), refine, Some(shift_tol), backend, stop)?;
    Ok(MiniBatchFit {
        weights: state.absorbed_counts(&fit.centers)?,
        state,
        reduced: trials.swap_remove(chosen.index),
        centers: fit.centers,
        labels: fit.labels,
        inertia: fit.loss,
        n_batches,
    })
}

/// The streaming part of [`fit_minibatch`]: seeds K centres from a random sample of
/// `mini_batch_size` rows of `x` and merges `epochs` shuffled passes of mini-batches, or where one
/// batch holds every row, seeds from the rows and merges them as each epoch's batch in their own
/// order; returns the state and the batches merged. The fit's last batch reseeds no starved
/// centre ([`Reseed`]).
fn stream<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    params: &Checked<MiniBatchParams>,
    backend: &B,
    stop: &AtomicBool,
) -> Result<(MiniBatchState<F>, usize)> {
    let n = x.n();
    let batch_size = params.mini_batch_size.min(n);
    let seed = params.reduce.seed;
    let epochs = params.epochs as u64;
    let last = |epoch: u64| if epoch + 1 == epochs { Reseed::No } else { Reseed::Yes };
    // One batch holds every row: the seeding sample and every epoch's batch are the rows
    // themselves, in their own order, copied nowhere (`batch` stays empty). A batch's merge does
    // not depend on the order of its rows (but for the rounding of its sums, and which of two
    // equally far rows counts as the farther), and every row in any order is as random a sample
    // of them. Measured on digits (1,797 × 64 float64, on two threads): the sample's gather took
    // 64–72 µs of the 1.8 ms of the core's fit; the epoch gathered as many rows again (not timed
    // apart). With the last batch's reseeding left out (`Reseed`), whole default fits took
    // 0.86–0.89 of the time.
    let whole = batch_size == n;
    // Otherwise the seeding sample's buffer holds each mini-batch of the epochs (dense rows
    // fit in it; a sparse batch with more stored values than the sample grows it), where each
    // epoch used to allocate its own. Measured on digits (1,797 × 64 float64, where both were 920
    // KB, above glibc's initial mmap threshold, before its batch was its rows): every fit faulted
    // in 417 fresh pages, as glibc unmapped or trimmed the freed blocks between fits; now repeated
    // fits fault in none, and the core's fit takes 0.86–0.91 of the time (builds taking turns in
    // one process).
    let (seeded, mut batch) = if whole {
        let state = MiniBatchState::seed_on(x, params.n_centers, params.init, seed, backend)?;
        (state, Gathered::Dense { data: Vec::new(), d: x.d() })
    } else {
        let batch = x.gather(&Rng::new(seed, Purpose::SeedSample).sample(n, batch_size));
        (MiniBatchState::seed_on(batch.view(), params.n_centers, params.init, seed, backend)?, batch)
    };
    let mut state = seeded.with_reseed_ratio(params.reseed_ratio)?;
    let mut n_batches = 0;
    for epoch in 0..epochs {
        let (size, half_life) = (batch_size, params.half_life_time_size);
        let merged = if whole {
            state.update_batches_in(x, None::<&[usize]>, size, half_life, last(epoch), backend, stop, &mut batch)?
        } else {
            state.update_epoch_in(x, seed, epoch, size, half_life, last(epoch), backend, stop, &mut batch)?
        };
        n_batches += merged.n_batches;
    }
    Ok((state, n_batches))
}

/// The end of an in-memory fit that refines: reduces `state` ([`MiniBatchState::reduce_trials`],
/// until its trials agree: [`Trials::UntilAgreed`]) and refines a trial by full-data Lloyd over
/// the rows `x` by `refine`: the trial the rows choose, from its centres after the choice's step,
/// or on tiny data the trial whose own refine ends lowest, with restarts over the rows beside the
/// trials ([`choose_and_refine`]). Returns the trial and the Lloyd run that ends the fit (the
/// trial's, or on tiny data a restart's that ended lower).
pub fn reduce_and_refine<F: Scalar, R: Rows<F>, B: Backend>(
    x: R,
    state: &MiniBatchState<F>,
    reduce: &Checked<ReduceParams>,
    refine: &Checked<LloydParams>,
    backend: &B,
    stop: &AtomicBool,
) -> Result<(Reduced<F>, LloydFit<F>)> {
    if x.d() != state.d {
        return Err(Error::FeatureMismatch { expected: state.d, got: x.d() });
    }
    let mut trials = state.reduce_trials(reduce, Trials::UntilAgreed, backend, stop)?;
    let (index, fit) = choose_and_refine(x, None, &trials, refine, reduce.seed, backend, stop)?;
    Ok((trials.swap_remove(index), fit))
}
