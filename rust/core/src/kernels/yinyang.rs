//! The grouped bounded Lloyd pass (Yinyang k-means, Ding et al. 2015, shaped for the microkernel):
//! many centres, and rows rescanned only against the groups of centres they may have come closer
//! to, with results bit-identical to the fused pass of [`crate::kernels::fused`].
//!
//! Hamerly's single bound ([`crate::kernels::bounds`]) drops, every pass, by the largest move of
//! any centre: while a few of 1,000 centres still jump between blobs, it collapses for every row
//! and every row is scanned against every centre. Here the centres are split, at the first
//! pass, into groups of nearby centres (regrouped by move at the next two, below), and every row
//! keeps one lower bound per group: on its distance to every centre of the group other than its
//! own. A group's bound drops by the largest move within that group only, so a centre that jumps
//! costs the rows near it a scan of its group, not of all k centres.
//!
//! A group is exactly one panel of the AVX2 microkernel (16 float32 or 8 float64 centres): the
//! centres are packed group by group, and a row block's rows that need a group are scanned against
//! its panel in 6-row tiles (`Kernel::scan_lists`; where the CPU runs the AVX-512 tiles, 12 rows
//! against one zmm register, or against two neighbouring panels whose lists name the same rows),
//! as blocked as the full scan, only shorter.
//! Yinyang's per-centre "local filter" is left out: within a panel, sixteen scores cost one
//! register of multiply-adds, so skipping single centres would save nothing. The groups come from
//! bisecting the first pass's centres along their principal axis into halves holding whole
//! panels, down to single panels (deterministic, balanced, and close centres end up together).
//!
//! Regrouping by move. In the first passes from random rows the centres' moves are heavy-tailed
//! (200k × 128, k = 1,000, at the third pass: a tenth of the centres move more than 31, half less
//! than 5), and a group of 16 nearly always holds one of the big movers, so nearly every group
//! bound drops by a big move. Passes [`REGROUP`] (the second and third) therefore start by
//! regrouping the centres by their move, big movers together ([`GroupBounds::regroup`]); a row's
//! bound on a new group is the smallest of its bounds on the old groups the new one draws from,
//! which bounds the distance to each of its centres, so the labels stay exact. Scores computed in
//! passes 1–10 there: 89% of one full scan's, from 133% with the first grouping kept (pass 2
//! alone: 34% from 57%). Regrouping again later does worse (each regrouping weakens the bounds
//! of rows not rescanned since, and by then few centres move).
//!
//! Where the time goes (200k × 128, k = 1,000, thread CPU time per phase). The first pass is a
//! full scan; it scans every row against every group from one reused list and sets a row's bounds
//! in one vectorised loop. In the later passes most rows fail the global bound (some group still
//! moves), so the per-group tests run for nearly every row: they are branch-free loops over the
//! groups, compiled for AVX2 (`Pass::block`), and a row whose groups all clear is tested
//! against its bounds less the drifts since they were set (`GroupBounds::drifted`) without
//! rewriting them (50 MB of bounds a pass, otherwise). Rows are filtered and scanned
//! [`GROUPED_ROWS`] at a time, so that a group's list of rows is long enough for full tiles. The
//! tests of a row's group bounds less their drifts run in eight lanes (`drifted_test`).
//!
//! Where the AMX filter labels ([`crate::kernels::amx`]: many float32 centres), the run's first
//! passes are plain ones until the centres settle ([`crate::kernels::bounds`]), and the first
//! grouped pass's full scan goes through the filter: its labels are the exact kernel's, and its
//! group bounds come from approximate scores less the filter's margin, lower bounds on the exact
//! scores, which is all a bound needs. The grouped passes then keep their first grouping.
//!
//! Exactness. A row whose own centre `a` is, by more than twice the kernel's rounding, closer than
//! a group's bound can skip that group: every centre in it has a kernel score strictly above
//! `a`'s. Every other group, and `a`'s own, is scanned with the brute-force kernel's own scores
//! (a centre's score does not depend on the panel or tile it is computed in); within a group the
//! centres are packed in index order, and across groups the smallest (score, index) wins, so the
//! label is the one the full scan picks. Bounds are stored as float32 rounded strictly down. The
//! sums are then folded exactly as in [`crate::kernels::fused::assign_and_sum`] (same chunks,
//! same order), so the results are the same bits on any thread count.

use rayon::prelude::*;

use crate::kernels::distance::Kernel;
use crate::kernels::fused::{chunk_rows, MIN_BLOCKS_PER_CHUNK};
use crate::kernels::parallel::{min_items, GROUPED_ROWS, ROW_BLOCK};
use crate::kernels::points::{sq_diff, sq_dist_f64, sum_of_squares, Points, UP};
use crate::kernels::scalar::Scalar;
use crate::kernels::sums::{sums_by_cluster, to_f64, ClusterSums};

/// Fewer groups than this: Hamerly's single bound (one number per row against one per group).
/// The grouped pass was built and measured for k in the hundreds and more; below, Lloyd runs
/// as before (1M × 32, k = 100 has seven float32 groups).
pub(crate) const MIN_GROUPS: usize = 16;

/// A flagged group is scanned at half width only while the bound left for its upper register's
/// centres clears the own distance by this factor: that bound is not refreshed by the scan, and
/// one that barely clears would fail again at the next pass, and the next.
const HALF_SLACK: f64 = 0.8;

/// What the grouped pass carries from one Lloyd iteration to the next.
#[derive(Clone, Debug, Default)]
pub struct GroupBounds {
    /// The centres' indices in packed order: group g is `order[g·w .. (g+1)·w]` (w centres per
    /// panel; the last group may be shorter), each group in increasing index order.
    order: Vec<u32>,
    /// The group of every centre (as of the last regrouping).
    group_of: Vec<u32>,
    groups: usize,
    /// n × groups lower bounds on each row's distance to the centres of each group other than its
    /// own centre, as float32 rounded down.
    lower: Vec<f32>,
    /// Per row, a lower bound on its distance to every centre other than its own (Yinyang's
    /// global bound: the smallest group bound, less the largest drift of any group since), as
    /// float32 rounded down. A row that clears it touches none of its group bounds.
    global: Vec<f32>,
    /// Per row, the pass its group bounds refer to: later drifts are applied when it is next
    /// filtered by group.
    since: Vec<u32>,
    /// Per pass (from the first), per group: the drifts summed so far, rounded up.
    drifted: Vec<f64>,
    /// This pass's number, from 0.
    pass: u32,
    /// ||x|| per row.
    norms: Vec<f64>,
    /// The centres (as f64) the bounds refer to.
    centers: Vec<f64>,
    /// Rows scanned against at least one group in the last pass.
    pub scanned: usize,
    /// Row-centre scores computed in the last pass (n · k for a full scan).
    pub pairs: usize,
}

/// The passes that start by regrouping the centres by how far they move (see
/// [`GroupBounds::regroup`]).
const REGROUP: &[u32] = &[1, 2];

impl GroupBounds {
    /// Regroups the centres by this pass's `moves`, so that the centres that move most share
    /// groups and the others' groups drift little: the centres are ordered by half-octave of
    /// their move, largest first, and within one by their packed position (so that centres of
    /// one old group stay together), and cut into panels of `width`. Every row's bound on a new
    /// group is the smallest of its bounds, brought to the previous pass, on the old groups whose
    /// centres it holds: each of those bounds the distance to every centre of the new group that
    /// came from it (other than the row's own). The drift sums then start afresh.
    fn regroup(&mut self, moves: &[f64], width: usize) {
        let groups = self.groups;
        let half_octave = |m: f64| if m > 0.0 { (2.0 * m.log2()).floor() as i64 } else { i64::MIN };
        let mut order = self.order.clone();
        order.sort_by_key(|&j| std::cmp::Reverse(half_octave(moves[j as usize])));
        let sources: Vec<Vec<usize>> = order
            .chunks(width)
            .map(|group| {
                let mut from: Vec<usize> = group.iter().map(|&j| self.group_of[j as usize] as usize).collect();
                from.sort_unstable();
                from.dedup();
                from
            })
            .collect();
        for group in order.chunks_mut(width) {
            group.sort_unstable();
        }
        for (p, &j) in order.iter().enumerate() {
            self.group_of[j as usize] = (p / width) as u32;
        }
        self.order = order;
        let last = self.pass as usize - 1;
        let drifted = &self.drifted;
        self.lower.par_chunks_mut(groups).zip(self.since.par_iter_mut()).with_min_len(1024).for_each_init(
            || vec![0f32; groups],
            |old, (row, since)| {
                let then = *since as usize;
                old.copy_from_slice(row);
                if then < last {
                    let (was, is) = (&drifted[then * groups..], &drifted[last * groups..]);
                    for ((bound, &is), &was) in old.iter_mut().zip(is).zip(was) {
                        *bound = round_down(f64::from(*bound) - (is - was) * UP);
                    }
                }
                for (bound, from) in row.iter_mut().zip(&sources) {
                    *bound = min_at(old, from);
                }
                *since = 0;
            },
        );
        self.drifted = vec![0.0; (last + 1) * groups];
    }
}

/// Whether the grouped pass runs for k centres of d features in `F` (the groups are the kernel's
/// panels): enough groups to pay, and the bounds (float32, one per group) at most twice the size
/// of a row.
pub(crate) fn worth_it<F: Scalar>(kernel: &Kernel<'_, F>, k: usize, d: usize) -> bool {
    kernel.panel_width().is_some_and(|w| {
        let groups = k.div_ceil(w);
        groups >= MIN_GROUPS && groups * 4 <= 2 * d * std::mem::size_of::<F>()
    })
}

/// The fused pass with group bounds; see the module docs. `labels` must hold the previous pass's
/// labels when `state` comes from that pass. `settled`: the run's first passes were plain ones,
/// until few rows changed centre (where the AMX filter labels, [`crate::kernels::bounds`]); the
/// centres then move little, and the passes keep their first grouping (regrouping by move, which
/// pays while a few centres still jump, measured 1.5–2 times a grouped pass's time there).
/// Only called where [`worth_it`] holds.
pub(crate) fn assign_and_sum_grouped<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    centers: Points<'_, F>,
    labels: &mut [u32],
    dist2: &mut [f64],
    state: &mut GroupBounds,
    settled: bool,
) -> ClusterSums {
    let (n, d, k) = (x.n(), x.d(), centers.n());
    let width = Kernel::new(centers).panel_width().expect("only called where the microkernel runs");
    let now = to_f64(centers);
    let first = state.centers.len() != now.len() || state.norms.len() != n || state.order.len() != k;
    if first {
        state.order = group_centers(&now, d, width);
        state.groups = k.div_ceil(width);
        state.group_of = vec![0; k];
        for (p, &j) in state.order.iter().enumerate() {
            state.group_of[j as usize] = (p / width) as u32;
        }
        state.lower = vec![0.0; n * state.groups];
        state.global = vec![0.0; n];
        state.since = vec![0; n];
        state.drifted = vec![0.0; state.groups];
        state.pass = 0;
        state.norms = vec![0.0; n];
    } else {
        state.pass += 1;
    }
    let groups = state.groups;
    // Every centre's move, computed in f64 and raised by more than its rounding. A group's
    // bounds drop by the largest move of its centres.
    let inflate = 1.0 + (d + 4) as f64 * f64::EPSILON;
    let moves: Vec<f64> = if first {
        vec![0.0; k]
    } else {
        (0..k).map(|j| sq_diff(&now[j * d..(j + 1) * d], &state.centers[j * d..(j + 1) * d]).sqrt() * inflate).collect()
    };
    if !first && !settled && REGROUP.contains(&state.pass) {
        state.regroup(&moves, width);
    }
    let group_of = &state.group_of;
    // Each group packed by decreasing move (ties by index), so that its panel's upper register
    // holds the centres that moved least.
    let mut order = state.order.clone();
    for group in order.chunks_mut(width) {
        group.sort_unstable_by(|&a, &b| moves[b as usize].total_cmp(&moves[a as usize]).then(a.cmp(&b)));
    }
    let mut drift = vec![0f64; groups];
    let mut upper_drift = vec![0f64; groups];
    let mut slot = vec![0u32; k];
    for (p, &j) in order.iter().enumerate() {
        let g = p / width;
        drift[g] = drift[g].max(moves[j as usize]);
        if p % width >= width / 2 {
            upper_drift[g] = upper_drift[g].max(moves[j as usize]);
        }
        slot[j as usize] = p as u32;
    }
    if !first {
        // Each sum rounded up, so that the difference of two is at least the drifts between.
        let last = state.drifted.len() - groups;
        let next: Vec<f64> = (0..groups).map(|g| (state.drifted[last + g] + drift[g]) * UP).collect();
        state.drifted.extend(next);
    }
    let max_drift = drift.iter().copied().fold(0.0, f64::max);
    let packed: Vec<F> = order.iter().flat_map(|&j| centers.row(j as usize).iter().copied()).collect();
    let kernel = Kernel::new(Points::new(&packed, k, d).expect("k rows of d"));
    let mut ids: Vec<i32> = order.iter().map(|&j| j as i32).collect();
    ids.resize(groups * width, i32::MAX);
    let radius = (0..k).map(|j| sum_of_squares(&now[j * d..(j + 1) * d]).sqrt()).fold(0.0, f64::max);
    // As in bounds.rs: twice the error of the kernel's score ||c||² − 2x·c, whose comparisons keep
    // twice this again as a gap.
    let eps = 2.0 * (d + 4) as f64 * F::UNIT_ROUNDOFF;
    let fused = chunk_rows(n, k, d, std::mem::size_of_val(x.as_slice()));
    let chunk = fused.unwrap_or(MIN_BLOCKS_PER_CHUNK * ROW_BLOCK);
    let mut counts = vec![(0usize, 0usize); n.div_ceil(chunk)];
    let ctx = Pass {
        kernel: &kernel,
        ids: &ids,
        centers,
        group_of,
        drift: &drift,
        upper_drift: &upper_drift,
        max_drift,
        drifted: &state.drifted,
        pass: state.pass,
        slot: &slot,
        radius,
        eps,
        first,
        width,
    };
    let partials: Vec<ClusterSums> = labels
        .par_chunks_mut(chunk)
        .zip(dist2.par_chunks_mut(chunk))
        .zip(state.lower.par_chunks_mut(chunk * groups).zip(state.norms.par_chunks_mut(chunk)))
        .zip(state.global.par_chunks_mut(chunk).zip(state.since.par_chunks_mut(chunk)))
        .zip(counts.par_iter_mut())
        .enumerate()
        .with_min_len(min_items(chunk * k * d))
        .map(|(i, ((((labels, dist2), (lower, norms)), (global, since)), counts))| {
            let mut sums = ClusterSums::zeros(if fused.is_some() { k } else { 0 }, d);
            let mut scratch = Scratch::new(groups);
            let start = i * chunk;
            let blocks = labels.chunks_mut(GROUPED_ROWS).zip(dist2.chunks_mut(GROUPED_ROWS));
            let bounds = lower.chunks_mut(GROUPED_ROWS * groups).zip(norms.chunks_mut(GROUPED_ROWS));
            let rows_bounds = global.chunks_mut(GROUPED_ROWS).zip(since.chunks_mut(GROUPED_ROWS));
            for (b, (((labels, dist2), (lower, norms)), (global, since))) in
                blocks.zip(bounds).zip(rows_bounds).enumerate()
            {
                let from = start + b * GROUPED_ROWS;
                let rows = x.rows(from, from + labels.len());
                let block = Block { labels, lower, norms, global, since };
                let (rows_scanned, pairs) = ctx.block(rows, block, &mut scratch);
                counts.0 += rows_scanned;
                counts.1 += pairs;
                if fused.is_some() {
                    sums.fold(rows, weights.map(|w| &w[from..from + labels.len()]), &now, labels, dist2, &[]);
                }
            }
            sums
        })
        .collect();
    let total = if fused.is_some() {
        ClusterSums::total(k, d, &partials)
    } else {
        sums_by_cluster(x, weights, &now, k, labels, dist2)
    };
    state.centers = now;
    state.scanned = counts.iter().map(|c| c.0).sum();
    state.pairs = counts.iter().map(|c| c.1).sum();
    total
}

/// What every block of one pass shares.
struct Pass<'a, F> {
    /// The centres packed group by group.
    kernel: &'a Kernel<'a, F>,
    /// The index of the centre at each packed position (`i32::MAX` past the last).
    ids: &'a [i32],
    centers: Points<'a, F>,
    group_of: &'a [u32],
    drift: &'a [f64],
    /// Per group, the largest move of the centres in its panel's upper register.
    upper_drift: &'a [f64],
    /// The largest drift of any group: every row's global bound drops by it.
    max_drift: f64,
    /// [`GroupBounds::drifted`] and the pass's number.
    drifted: &'a [f64],
    pass: u32,
    /// The packed position of every centre.
    slot: &'a [u32],
    radius: f64,
    eps: f64,
    first: bool,
    width: usize,
}

/// One block's rows' labels and bounds.
struct Block<'a> {
    labels: &'a mut [u32],
    /// rows × groups.
    lower: &'a mut [f32],
    norms: &'a mut [f64],
    global: &'a mut [f32],
    since: &'a mut [u32],
}

/// One task's buffers, reused block after block.
struct Scratch {
    /// The rows of the block (block-relative) to scan against each group: 2g at full width,
    /// 2g + 1 against its lower register only.
    lists: Vec<Vec<u32>>,
    /// Rows in any list.
    flagged: Vec<u32>,
    /// Per row of the block: the new label, and the second-smallest score scanned.
    labels: Vec<u32>,
    seconds: Vec<f64>,
    /// GROUPED_ROWS × groups: each row's smallest score per group scanned.
    panel_min: Vec<f64>,
    /// GROUPED_ROWS × groups: how each row was filtered against each group (see [`Pass::filter`]).
    kinds: Vec<u8>,
    /// The first pass's lists: every row of the block against every group at full width.
    all: Vec<Vec<u32>>,
}

impl Scratch {
    fn new(groups: usize) -> Self {
        Self {
            lists: vec![Vec::with_capacity(GROUPED_ROWS); 2 * groups],
            flagged: Vec::with_capacity(GROUPED_ROWS),
            labels: vec![0; GROUPED_ROWS],
            seconds: vec![0.0; GROUPED_ROWS],
            panel_min: vec![0.0; GROUPED_ROWS * groups],
            kinds: vec![0; GROUPED_ROWS * groups],
            all: vec![Vec::new(); 2 * groups],
        }
    }

    /// Sets `all` and `flagged` to scan the `m` rows of a block against every group.
    fn scan_all(&mut self, m: usize) {
        if self.flagged.len() != m || self.all[0].len() != m {
            self.flagged = (0..m as u32).collect();
            for list in self.all.iter_mut().step_by(2) {
                list.clone_from(&self.flagged);
            }
        }
    }
}

impl<F: Scalar> Pass<'_, F> {
    /// Labels one block of rows, updating its bounds; returns (rows scanned, scores computed).
    fn block(&self, rows: Points<'_, F>, block: Block<'_>, s: &mut Scratch) -> (usize, usize) {
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::avx2::available() {
            // SAFETY: the CPU has AVX2 and FMA.
            return unsafe { self.block_avx2(rows, block, s) };
        }
        self.block_portable(rows, block, s)
    }

    /// [`Pass::block`] compiled for AVX2, so that the bounds' loops over the groups run four or
    /// eight groups to an instruction.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn block_avx2(&self, rows: Points<'_, F>, block: Block<'_>, s: &mut Scratch) -> (usize, usize) {
        self.block_portable(rows, block, s)
    }

    #[inline(always)]
    fn block_portable(&self, rows: Points<'_, F>, block: Block<'_>, s: &mut Scratch) -> (usize, usize) {
        if self.first {
            return self.first_block(rows, block, s);
        }
        let Block { labels, lower, norms, global, since } = block;
        let groups = s.lists.len() / 2;
        s.lists.iter_mut().for_each(Vec::clear);
        s.flagged.clear();
        for (r, &label) in labels.iter().enumerate() {
            let row_lower = &mut lower[r * groups..(r + 1) * groups];
            let a = label as usize;
            let own = sq_dist_f64(rows.row(r), self.centers.row(a));
            let limit = own + 2.0 * self.eps * (norms[r] + self.radius).powi(2);
            let v = f64::from(global[r]) - self.max_drift;
            if v > 0.0 && limit < v * v {
                global[r] = round_down(v);
                continue;
            }
            // The group bounds refer to pass `then`: first tested less every drift since, without
            // being rewritten. A row they still clear (in the later passes, most rows the global
            // bound does not clear, since some group still moves) keeps them as they are, and
            // their smallest becomes its global bound; only rows to scan bring them up to date.
            let then = since[r] as usize;
            let (was, is) = (&self.drifted[then * groups..], &self.drifted[self.pass as usize * groups..]);
            let (near, least) = drifted_test(row_lower, &is[..groups], &was[..groups], limit);
            if near == 0 {
                global[r] = round_down(least);
                continue;
            }
            // The group bounds, brought to the previous pass.
            if then + 1 < self.pass as usize {
                let (was, is) = (&self.drifted[then * groups..], &self.drifted[(self.pass as usize - 1) * groups..]);
                for ((bound, &is), &was) in row_lower.iter_mut().zip(is).zip(was) {
                    *bound = round_down(f64::from(*bound) - (is - was) * UP);
                }
            }
            since[r] = self.pass;
            if self.filter(a, limit, row_lower, &mut s.kinds[r * groups..(r + 1) * groups], &mut s.lists, r as u32) {
                s.flagged.push(r as u32);
            } else {
                global[r] = min_bound(row_lower);
            }
        }
        if s.flagged.is_empty() {
            return (0, 0);
        }
        self.kernel
            .scan_lists(self.ids, rows, &s.lists, &s.flagged, &mut s.labels, &mut s.seconds, &mut s.panel_min)
            .expect("the microkernel runs");
        let pairs =
            s.lists.iter().enumerate().map(|(list, which)| which.len() * (self.width >> (list % 2))).sum::<usize>();
        // Few groups scanned per row (the later passes): the bounds of those groups only, list
        // by list; else (the first passes) every bound of a row in one branch-free loop. Both set
        // the same bounds.
        if pairs < s.flagged.len() * groups * self.width / 4 {
            for (list, which) in s.lists.iter().enumerate() {
                let g = list / 2;
                for &r in which {
                    let (r, label) = (r as usize, s.labels[r as usize]);
                    let score = if self.group_of[label as usize] as usize == g {
                        s.seconds[r]
                    } else {
                        s.panel_min[r * groups + g]
                    };
                    let at = r * groups + g;
                    lower[at] = lower[at].min(self.bound(norms[r], score));
                }
            }
            for &r in &s.flagged {
                let r = r as usize;
                labels[r] = s.labels[r];
                global[r] = min_bound(&lower[r * groups..(r + 1) * groups]);
            }
            return (s.flagged.len(), pairs);
        }
        for &r in &s.flagged {
            let r = r as usize;
            let label = s.labels[r];
            labels[r] = label;
            let scores = &mut s.panel_min[r * groups..(r + 1) * groups];
            // The new centre's group: the second-smallest score of all centres scanned is a lower
            // bound on its other centres. The centres a half-width scan left out keep the bound
            // the filter left in `lower`; groups not scanned keep theirs.
            scores[self.group_of[label as usize] as usize] = s.seconds[r];
            let row_lower = &mut lower[r * groups..(r + 1) * groups];
            let norm = norms[r];
            let (square, slack) = self.square_and_slack(norm);
            for ((bound, &score), &kind) in row_lower.iter_mut().zip(scores.iter()).zip(&s.kinds[r * groups..]) {
                let fresh = round_down((square + score - slack).max(0.0).sqrt());
                *bound = if kind != 0 { bound.min(fresh) } else { *bound };
            }
            global[r] = min_bound(row_lower);
        }
        (s.flagged.len(), pairs)
    }

    /// The first pass's block: every row scanned against every group at full width, and its
    /// bounds set from the scores, a group at a time.
    #[inline(always)]
    fn first_block(&self, rows: Points<'_, F>, block: Block<'_>, s: &mut Scratch) -> (usize, usize) {
        let Block { labels, lower, norms, global, since } = block;
        let (m, groups) = (labels.len(), s.lists.len() / 2);
        for (r, norm) in norms.iter_mut().enumerate() {
            *norm = sum_of_squares(rows.row(r)).sqrt();
        }
        // Through the AMX filter where it runs: lower bounds, not exact scores, but bounds are
        // all the scores become.
        if self.kernel.scan_all(self.ids, rows, &mut s.labels[..m], &mut s.seconds[..m], &mut s.panel_min).is_none() {
            s.scan_all(m);
            self.kernel
                .scan_lists(self.ids, rows, &s.all, &s.flagged, &mut s.labels, &mut s.seconds, &mut s.panel_min)
                .expect("the microkernel runs");
        }
        for r in 0..m {
            let label = s.labels[r];
            labels[r] = label;
            let scores = &mut s.panel_min[r * groups..(r + 1) * groups];
            // The own group's other centres: the second-smallest score of all.
            scores[self.group_of[label as usize] as usize] = s.seconds[r];
            let row_lower = &mut lower[r * groups..(r + 1) * groups];
            let (square, slack) = self.square_and_slack(norms[r]);
            for (bound, &score) in row_lower.iter_mut().zip(scores.iter()) {
                *bound = round_down((square + score - slack).max(0.0).sqrt());
            }
            global[r] = min_bound(row_lower);
            since[r] = 0;
        }
        (m, m * groups * self.width)
    }

    /// Yinyang's group filter for one row whose centre is `a` (`limit`: its squared distance
    /// plus the rounding gap): every group's bound drops by its drift, and a group is skipped
    /// while its bound, squared, exceeds `limit`. If any group is not, the row goes into the
    /// lists of those groups and of its own centre's group: at half width where the centres of
    /// the panel's upper register (the group's smallest moves) are still provably farther than
    /// `a` (their bound, the old one less their largest move, stays in `lower` for the scan to
    /// lower further), else at full width (`lower` set to +∞ for the scan to fill). `kinds`
    /// records, per group, 0 (skipped), 1 (half width) or 2 (full width). Returns whether the
    /// row is scanned.
    ///
    /// The groups are classified and their bounds set in one branch-free loop (it vectorises);
    /// only the pushes onto the lists branch.
    #[inline(always)]
    fn filter(
        &self,
        a: usize,
        limit: f64,
        lower: &mut [f32],
        kinds: &mut [u8],
        lists: &mut [Vec<u32>],
        r: u32,
    ) -> bool {
        let far = |v: f64| v > 0.0 && limit < v * v;
        let own_group = self.group_of[a] as usize;
        let own_old = f64::from(lower[own_group]);
        // Most rows that fail the global bound still clear every group: counted first, cheaply.
        let near = lower.iter().zip(self.drift).filter(|&(&bound, &drift)| !far(f64::from(bound) - drift)).count();
        if near == 0 {
            for (bound, &drift) in lower.iter_mut().zip(self.drift) {
                *bound = round_down(f64::from(*bound) - drift);
            }
            return false;
        }
        for (((bound, kind), &drift), &upper) in
            lower.iter_mut().zip(kinds.iter_mut()).zip(self.drift).zip(self.upper_drift)
        {
            let old = f64::from(*bound);
            let (cut, half_cut) = (old - drift, old - upper);
            let (skip, half) = (far(cut), far(HALF_SLACK * half_cut));
            *kind = if skip {
                0
            } else if half {
                1
            } else {
                2
            };
            let (dropped, half_bound) = (round_down(cut), round_down(half_cut));
            *bound = if skip {
                dropped
            } else if half {
                half_bound
            } else {
                f32::INFINITY
            };
        }
        // The own centre's group is always scanned, at half width only if the own centre is in
        // the lower register.
        let own_in_upper = self.slot[a] as usize % self.width >= self.width / 2;
        let half_cut = own_old - self.upper_drift[own_group];
        let half = far(HALF_SLACK * half_cut) && !own_in_upper;
        kinds[own_group] = if half { 1 } else { 2 };
        lower[own_group] = if half { round_down(half_cut) } else { f32::INFINITY };
        for (g, &kind) in kinds.iter().enumerate() {
            if kind != 0 {
                lists[2 * g + 2 - kind as usize].push(r);
            }
        }
        true
    }

    /// For a row of norm `norm`: its square, and the kernel's rounding gap, which a score less
    /// the gap plus the square bounds the squared distance from below.
    #[inline(always)]
    fn square_and_slack(&self, norm: f64) -> (f64, f64) {
        (norm * norm, self.eps * (norm + self.radius).powi(2))
    }

    /// A lower bound on the distance of a row of norm `norm` to a centre whose kernel score is at
    /// least `score`, rounded down to float32.
    #[inline(always)]
    fn bound(&self, norm: f64, score: f64) -> f32 {
        let (square, slack) = self.square_and_slack(norm);
        round_down((square + score - slack).max(0.0).sqrt())
    }
}

/// `v` as a float32 strictly below it (for v > 0; zero below the smallest normal float32), so
/// that a bound never grows by the rounding of its own arithmetic.
#[inline(always)]
fn round_down(v: f64) -> f32 {
    // v · (1 − 2⁻²³), rounded to the nearest float32, is below v by at least 2⁻²⁴·v; past the
    // largest float32, the largest float32. Both sides computed and one kept, without a branch,
    // so that loops over the groups vectorise.
    let below = (v * (1.0 - f64::from(f32::EPSILON))).min(f64::from(f32::MAX)) as f32;
    if v > f64::from(f32::MIN_POSITIVE) {
        below
    } else {
        0.0
    }
}

/// A row's group bounds less the drifts since they were set (`is - was`, rounded up), tested
/// against `limit` (the own squared distance plus the rounding gap): how many groups they no
/// longer clear, and the smallest of them. In eight lanes, so that the loop vectorises instead
/// of waiting on one running minimum.
#[inline(always)]
fn drifted_test(bounds: &[f32], is: &[f64], was: &[f64], limit: f64) -> (u32, f64) {
    const L: usize = 8;
    let cut = |bound: f32, is: f64, was: f64| f64::from(bound) - (is - was) * UP;
    let near = |cut: f64| u32::from(!(cut > 0.0 && limit < cut * cut));
    let (mut count, mut least) = ([0u32; L], [f64::INFINITY; L]);
    let whole = bounds.len() / L * L;
    for ((b, i), w) in bounds[..whole].chunks_exact(L).zip(is.chunks_exact(L)).zip(was.chunks_exact(L)) {
        let cuts: [f64; L] = std::array::from_fn(|l| cut(b[l], i[l], w[l]));
        for l in 0..L {
            count[l] += near(cuts[l]);
            least[l] = if cuts[l] < least[l] { cuts[l] } else { least[l] };
        }
    }
    let (mut count, mut least) =
        (count.iter().sum::<u32>(), least.iter().fold(f64::INFINITY, |m, &v| if v < m { v } else { m }));
    for g in whole..bounds.len() {
        let cut = cut(bounds[g], is[g], was[g]);
        count += near(cut);
        least = if cut < least { cut } else { least };
    }
    (count, least)
}

/// The smallest of `values` at the positions `at` (+∞ for none), in four running minima, so that
/// the loads and comparisons do not wait on one chain (a new group draws from up to a panel's
/// width of old ones, for every row).
#[inline(always)]
fn min_at(values: &[f32], at: &[usize]) -> f32 {
    let less = |m: f32, v: f32| if v < m { v } else { m };
    let mut lanes = [f32::INFINITY; 4];
    let chunks = at.chunks_exact(4);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &g) in lanes.iter_mut().zip(chunk) {
            *lane = less(*lane, values[g]);
        }
    }
    tail.iter().map(|&g| values[g]).chain(lanes).fold(f32::INFINITY, less)
}

/// The smallest of a row's group bounds (its global bound), in eight lanes so that it vectorises.
#[inline(always)]
fn min_bound(bounds: &[f32]) -> f32 {
    let mut lanes = [f32::INFINITY; 8];
    let chunks = bounds.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = if v < *lane { v } else { *lane };
        }
    }
    lanes.iter().chain(tail).fold(f32::INFINITY, |m, &v| if v < m { v } else { m })
}

/// The centres' indices grouped into panels of `width` nearby centres: the set is halved along its
/// principal axis (the left half holding whole panels) until each part fits one panel; each group
/// in increasing index order, the last one possibly short.
pub(crate) fn group_centers(centers: &[f64], d: usize, width: usize) -> Vec<u32> {
    let k = centers.len() / d.max(1);
    let mut order: Vec<u32> = (0..k as u32).collect();
    bisect(centers, d, &mut order, width);
    order
}

fn bisect(centers: &[f64], d: usize, ids: &mut [u32], width: usize) {
    if ids.len() <= width {
        ids.sort_unstable();
        return;
    }
    let left = width * ids.len().div_ceil(width).div_ceil(2);
    let row = |j: u32| &centers[j as usize * d..(j as usize + 1) * d];
    let mut mean = vec![0f64; d];
    for &j in ids.iter() {
        mean.iter_mut().zip(row(j)).for_each(|(m, v)| *m += v / ids.len() as f64);
    }
    // The principal axis by power iteration, from the direction of the farthest centre.
    let far =
        ids.iter().copied().max_by(|&a, &b| sq_diff(row(a), &mean).total_cmp(&sq_diff(row(b), &mean))).unwrap_or(0);
    let mut axis: Vec<f64> = row(far).iter().zip(&mean).map(|(v, m)| v - m).collect();
    for _ in 0..8 {
        let mut next = vec![0f64; d];
        for &j in ids.iter() {
            let dot: f64 = row(j).iter().zip(&mean).zip(&axis).map(|((v, m), a)| (v - m) * a).sum();
            next.iter_mut().zip(row(j)).zip(&mean).for_each(|((n, v), m)| *n += dot * (v - m));
        }
        let norm = sum_of_squares(&next).sqrt();
        if norm == 0.0 {
            break;
        }
        axis = next.iter().map(|v| v / norm).collect();
    }
    let along = |j: u32| -> f64 { row(j).iter().zip(&axis).map(|(v, a)| v * a).sum() };
    ids.select_nth_unstable_by(left, |&a, &b| along(a).total_cmp(&along(b)).then(a.cmp(&b)));
    let (low, high) = ids.split_at_mut(left);
    bisect(centers, d, low, width);
    bisect(centers, d, high, width);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_whole_panels_of_nearby_centres_in_index_order() {
        // 100 centres on a line, shuffled: each group of 16 is a run of 16 neighbours.
        let (k, d, width) = (100usize, 3usize, 16usize);
        let place: Vec<usize> = (0..k).map(|j| j * 37 % k).collect();
        let centers: Vec<f64> = place.iter().flat_map(|&p| [p as f64, 2.0 * p as f64, 5.0]).collect();
        let order = group_centers(&centers, d, width);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..k as u32).collect::<Vec<_>>(), "a permutation of the centres");
        let groups: Vec<&[u32]> = order.chunks(width).collect();
        assert!(groups[..groups.len() - 1].iter().all(|g| g.len() == width), "only the last group is short");
        for group in &groups {
            assert!(group.windows(2).all(|w| w[0] < w[1]), "each group in index order: {group:?}");
            let spots: Vec<usize> = group.iter().map(|&j| place[j as usize]).collect();
            let (lo, hi) = (spots.iter().min().unwrap(), spots.iter().max().unwrap());
            assert_eq!(hi - lo + 1, group.len(), "a group of neighbours on the line: {spots:?}");
        }
    }

    #[test]
    fn regrouping_puts_big_movers_together_and_bounds_each_new_group_by_its_sources() {
        // 64 centres in 4 groups of 16 (group g: centres 16g..16g + 16); one centre of each group
        // moves far (9, 8, 7, 6 units), the rest barely (0.001). Regrouped at pass 3: two rows,
        // with bounds as of pass 2 (nothing to catch up) and of pass 0 (drifts to apply).
        let (k, width, groups) = (64usize, 16usize, 4usize);
        let mut state = GroupBounds {
            order: (0..k as u32).collect(),
            group_of: (0..k as u32).map(|j| j / width as u32).collect(),
            groups,
            lower: vec![10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0],
            global: vec![10.0, 50.0],
            since: vec![2, 0],
            drifted: vec![0.0; 4].into_iter().chain([1.0, 2.0, 3.0, 4.0]).chain([1.5, 2.5, 3.5, 4.5]).collect(),
            pass: 3,
            ..GroupBounds::default()
        };
        let big = [3usize, 20, 37, 54];
        let moves: Vec<f64> =
            (0..k).map(|j| big.iter().position(|&b| b == j).map_or(0.001, |i| 9.0 - i as f64)).collect();
        state.regroup(&moves, width);
        let first: Vec<u32> = state.order[..width].to_vec();
        assert!(big.iter().all(|&b| first.contains(&(b as u32))), "the big movers share the first group: {first:?}");
        assert!(state.order.chunks(width).all(|g| g.windows(2).all(|w| w[0] < w[1])), "each group in index order");
        for (p, &j) in state.order.iter().enumerate() {
            assert_eq!(state.group_of[j as usize] as usize, p / width);
        }
        // Row 0: each new group's bound is the smallest of its old groups'. Row 1: the same, once
        // its bounds are brought to pass 2 by the drifts since pass 0.
        for (row, old) in [(0, [10.0f64, 20.0, 30.0, 40.0]), (1, [48.5, 57.5, 66.5, 75.5])] {
            for (g, group) in state.order.chunks(width).enumerate() {
                let want = group.iter().map(|&j| old[j as usize / width]).fold(f64::INFINITY, f64::min);
                let got = f64::from(state.lower[row * groups + g]);
                assert!(got <= want && got > want - 1e-4, "row {row}, group {g}: {got} vs {want}");
            }
            assert_eq!(state.since[row], 0);
        }
        assert_eq!(state.drifted, vec![0.0; 3 * groups], "the drift sums start afresh");
    }

    #[test]
    fn bounds_are_rounded_strictly_down() {
        for v in [1e-30, 0.1, 1.0, 3.0, 123.456, 1e30, f64::from(f32::MAX), 1e300] {
            let f = round_down(v);
            assert!(f64::from(f) < v && f > 0.0, "{v} -> {f}");
        }
        assert_eq!(round_down(-1.0), 0.0);
        assert_eq!(round_down(0.0), 0.0);
    }

    #[test]
    fn the_smallest_at_positions_in_lanes_is_the_smallest_of_one_loop() {
        let values: Vec<f32> = (0..40).map(|i| ((i * 37 % 41) as f32) * 0.5 + 0.25).collect();
        for len in [0, 1, 3, 4, 5, 8, 9, 17, 40] {
            let at: Vec<usize> = (0..len).map(|i| (i * 7 + len) % values.len()).collect();
            let want = at.iter().map(|&g| values[g]).fold(f32::INFINITY, f32::min);
            assert_eq!(min_at(&values, &at).to_bits(), want.to_bits(), "{len} positions");
        }
    }

    #[test]
    fn the_drifted_test_in_lanes_counts_and_finds_what_one_loop_does() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for groups in [1, 7, 8, 9, 16, 63, 64] {
            for _ in 0..20 {
                let bounds: Vec<f32> = (0..groups).map(|_| (next() * 4.0) as f32).collect();
                let was: Vec<f64> = (0..groups).map(|_| next()).collect();
                let is: Vec<f64> = was.iter().map(|w| w + next() * 2.0).collect();
                let limit = next() * 4.0;
                let (mut near, mut least) = (0u32, f64::INFINITY);
                for g in 0..groups {
                    let cut = f64::from(bounds[g]) - (is[g] - was[g]) * UP;
                    near += u32::from(!(cut > 0.0 && limit < cut * cut));
                    least = least.min(cut);
                }
                let got = drifted_test(&bounds, &is, &was, limit);
                assert_eq!(got, (near, least), "{groups} groups");
            }
        }
    }
}
