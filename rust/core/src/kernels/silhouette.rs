//! Exact silhouette values, blocked: rows against rows, never an n × n matrix in memory.
//!
//! The silhouette of row i (Rousseeuw 1987, as scikit-learn computes it) is
//!
//! ```text
//! a(i) = Σ_{j in own cluster, j ≠ i} ||x_i − x_j|| / (n_own − 1)
//! b(i) = min over other clusters c of Σ_{j in c} ||x_i − x_j|| / n_c
//! s(i) = (b − a) / max(a, b)      (0 for a row alone in its cluster, and where a = b = 0)
//! ```
//!
//! Rows are visited in label order (a counting sort), so each cluster is a contiguous run of rows.
//! For the silhouette of every row ([`all_rows`]), each row needs the sum of its distances to its
//! own cluster, and to the cluster that holds b(i); for dense rows, bounds on every row's mean
//! distance to every cluster ([`crate::kernels::silhouette_bounds`]) rule out the clusters that
//! provably do not hold it, and only the sums that are left are computed ([`Plan`]): pairs of
//! clusters that many rows need are taken both ways at once, each pair of rows' distance feeding
//! both rows' sums, and the few rows that need a pair otherwise are taken one way. For the
//! silhouette of some rows (a sample), those rows are taken `SAMPLE_BLOCK` at a time against every
//! cluster's rows, with a `SAMPLE_BLOCK × k` accumulator. Either way blocks of rows meet runs of
//! at most `COLUMN_BLOCK` columns in [`Distances::add_sums`](crate::kernels::pairwise::Distances):
//! the fused AVX2 kernel for short dense rows, GEMM tiles otherwise ([`crate::kernels::pairwise`],
//! which also says how the distances are computed). Sparse rows stay sparse.
//!
//! Memory: the labels' order, the norms and two sums per row, at most [`PIECES`] partial sums per
//! row, and per thread a block of rows, a block of columns, one tile and a block's k sums: O(n + k)
//! beyond the data. The pruning adds one bit per row and cluster, the clusters' moments (k d²
//! numbers, at most 32 MiB) and the positions of the rows taken one way; the fused kernel adds one
//! centred float64 copy of the rows, in label order. Every sum is added in a fixed order of blocks
//! and pieces, and the pruning depends on the data alone, whatever thread computes it, so the
//! result does not depend on the thread count.

use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use crate::error::{check_stop, Error, Result};
#[cfg(target_arch = "x86_64")]
use crate::kernels::pairwise::Fused;
use crate::kernels::pairwise::{DenseDots, Distances, SparseDots, Tiled, COLUMN_BLOCK, ROW_CHUNK};
use crate::kernels::parallel::ROW_BLOCK;
use crate::kernels::points::Points;
use crate::kernels::scalar::Scalar;
use crate::kernels::silhouette_bounds::Candidates;
use crate::kernels::sparse::Csr;
use crate::kernels::sums::group_by_label;

/// Silhouette values of the rows `rows` (all rows when `None`) of `x`, labelled `labels` (each in
/// `0..k`), against every row of `x`. Dense ([`Points`]) or sparse ([`Csr`], never densified).
pub fn silhouette_samples<X: PairwiseRows>(
    x: X,
    labels: &[u32],
    k: usize,
    rows: Option<&[usize]>,
    stop: &AtomicBool,
) -> Result<Vec<f64>> {
    x.silhouette_samples(labels, k, rows, stop)
}

/// Rows whose pairwise distances the silhouette can tile: dense or sparse.
pub trait PairwiseRows: Copy {
    /// See [`silhouette_samples`].
    fn silhouette_samples(
        self,
        labels: &[u32],
        k: usize,
        rows: Option<&[usize]>,
        stop: &AtomicBool,
    ) -> Result<Vec<f64>>;
}

impl<F: Scalar> PairwiseRows for Points<'_, F> {
    fn silhouette_samples(
        self,
        labels: &[u32],
        k: usize,
        rows: Option<&[usize]>,
        stop: &AtomicBool,
    ) -> Result<Vec<f64>> {
        check_labels(self.n(), labels, k, rows)?;
        let (offsets, order) = group_by_label(labels, k);
        let candidates = match rows {
            None => Candidates::new(self, &offsets, &order, None),
            Some(rows) => {
                let position = positions(&order);
                let wanted: Vec<u32> = rows.iter().map(|&i| position[i]).collect();
                Candidates::new(self, &offsets, &order, Some(&wanted))
            }
        };
        let candidates = Some(candidates);
        #[cfg(target_arch = "x86_64")]
        if let Some(fused) = Fused::new(self, &order) {
            return silhouette_with(&fused, labels, k, rows, candidates.as_ref(), stop);
        }
        silhouette_with(&Tiled(DenseDots::new(self)), labels, k, rows, candidates.as_ref(), stop)
    }
}

impl<F: Scalar> PairwiseRows for Csr<'_, F> {
    fn silhouette_samples(
        self,
        labels: &[u32],
        k: usize,
        rows: Option<&[usize]>,
        stop: &AtomicBool,
    ) -> Result<Vec<f64>> {
        check_labels(self.n(), labels, k, rows)?;
        silhouette_with(&Tiled(SparseDots::new(self)), labels, k, rows, None, stop)
    }
}

/// [`silhouette_samples`] of dense rows through GEMM tiles even where the fused kernel would run:
/// what the fused kernel is tested and timed against.
#[doc(hidden)]
pub fn silhouette_samples_tiled<F: Scalar>(
    x: Points<'_, F>,
    labels: &[u32],
    k: usize,
    rows: Option<&[usize]>,
    stop: &AtomicBool,
) -> Result<Vec<f64>> {
    check_labels(x.n(), labels, k, rows)?;
    silhouette_with(&Tiled(DenseDots::new(x)), labels, k, rows, None, stop)
}

/// [`silhouette_samples`] without pruning: every row of interest against every row, through the
/// same kernel as [`silhouette_samples`]. What the pruning is tested and timed against.
#[doc(hidden)]
pub fn silhouette_samples_unpruned<F: Scalar>(
    x: Points<'_, F>,
    labels: &[u32],
    k: usize,
    rows: Option<&[usize]>,
    stop: &AtomicBool,
) -> Result<Vec<f64>> {
    check_labels(x.n(), labels, k, rows)?;
    #[cfg(target_arch = "x86_64")]
    if let Some(fused) = Fused::new(x, &group_by_label(labels, k).1) {
        return silhouette_with(&fused, labels, k, rows, None, stop);
    }
    silhouette_with(&Tiled(DenseDots::new(x)), labels, k, rows, None, stop)
}

/// Distances the exact silhouette of every row of `x` computes, and the pairs of rows there are
/// (n (n − 1) / 2): how much the pruning saves.
pub fn silhouette_pairs<F: Scalar>(x: Points<'_, F>, labels: &[u32], k: usize) -> Result<(u64, u64)> {
    check_labels(x.n(), labels, k, None)?;
    let (offsets, order) = group_by_label(labels, k);
    let candidates = Candidates::new(x, &offsets, &order, None);
    let n = x.n() as u64;
    Ok((Plan::new(&offsets, Some(&candidates)).distances(&offsets), n * n.saturating_sub(1) / 2))
}

/// One label per row, each below `k`; row indices in range.
pub(crate) fn check_labels(n: usize, labels: &[u32], k: usize, rows: Option<&[usize]>) -> Result<()> {
    if labels.len() != n {
        return Err(Error::InvalidParameter {
            name: "labels",
            value: format!("{} labels for {n} rows", labels.len()),
            rule: "one label per row",
        });
    }
    if let Some(i) = labels.iter().position(|&l| l as usize >= k) {
        return Err(Error::InvalidParameter {
            name: "labels",
            value: format!("{} (row {i})", labels[i]),
            rule: "labels in 0..k",
        });
    }
    if let Some(&index) = rows.and_then(|r| r.iter().find(|&&i| i >= n)) {
        return Err(Error::RowIndex { index, rows: n });
    }
    Ok(())
}

/// The silhouette of the rows of interest, through any [`Distances`].
fn silhouette_with<D: Distances>(
    dots: &D,
    labels: &[u32],
    k: usize,
    rows: Option<&[usize]>,
    candidates: Option<&Candidates>,
    stop: &AtomicBool,
) -> Result<Vec<f64>> {
    let n = dots.n();
    let (offsets, order) = group_by_label(labels, k);
    if rows.is_none() {
        return all_rows(dots, &offsets, &order, candidates, stop);
    }
    // Where each row sits in label order: its own distance is there.
    let position = positions(&order);
    let wanted: Vec<u32> = match rows {
        Some(r) => r.iter().map(|&i| i as u32).collect(),
        None => (0..n as u32).collect(),
    };
    let counts: Vec<usize> = offsets.windows(2).map(|w| w[1] - w[0]).collect();
    let context =
        Context { dots, labels, k, offsets: &offsets, order: &order, position: &position, counts: &counts, candidates };
    let mut out = vec![0f64; wanted.len()];
    out.par_chunks_mut(SAMPLE_BLOCK).zip(wanted.par_chunks(SAMPLE_BLOCK)).enumerate().try_for_each_init(
        || Block::new(dots, k),
        |block, (index, (out, rows))| {
            check_stop(stop)?;
            context.block(block, index * SAMPLE_BLOCK, rows, out);
            Ok(())
        },
    )?;
    Ok(out)
}

/// `position[i]`: where row i sits in label order.
pub(crate) fn positions(order: &[u32]) -> Vec<u32> {
    let mut position = vec![0u32; order.len()];
    order.iter().enumerate().for_each(|(p, &i)| position[i as usize] = p as u32);
    position
}

/// What every block reads.
struct Context<'c, D> {
    dots: &'c D,
    labels: &'c [u32],
    k: usize,
    offsets: &'c [usize],
    order: &'c [u32],
    position: &'c [u32],
    counts: &'c [usize],
    /// Which clusters each wanted row needs besides its own (by index among the wanted rows);
    /// every cluster when `None`.
    candidates: Option<&'c Candidates>,
}

/// One thread's working memory.
struct Block<S> {
    scratch: S,
    /// The block's rows that need the cluster at hand (indices in the block), and the rows
    /// loaded into `scratch` (`None`: none yet).
    members: Vec<u32>,
    loaded: Option<Vec<u32>>,
    rows: Vec<u32>,
    positions: Vec<u32>,
    cluster_sums: Vec<f64>,
    sums: Vec<f64>,
}

impl<S> Block<S> {
    fn new<D: Distances<Scratch = S>>(dots: &D, k: usize) -> Self {
        Self {
            scratch: dots.scratch(),
            members: Vec::new(),
            loaded: None,
            rows: Vec::new(),
            positions: Vec::new(),
            cluster_sums: Vec::new(),
            sums: vec![0.0; SAMPLE_BLOCK * k],
        }
    }
}

impl<D: Distances> Context<'_, D> {
    /// The silhouette values of at most `SAMPLE_BLOCK` rows (the wanted rows from `first` on):
    /// their distances to each cluster's rows, cluster by cluster, for the rows of the block that
    /// need the cluster (their own, and their candidates); the others' sums stay infinite. A row's
    /// sum is added over the cluster's columns in order whatever other rows are loaded with it.
    fn block(&self, b: &mut Block<D::Scratch>, first: usize, rows: &[u32], out: &mut [f64]) {
        let k = self.k;
        b.loaded = None;
        let sums = &mut b.sums[..rows.len() * k];
        sums.fill(f64::INFINITY);
        for c in 0..k {
            b.members.clear();
            b.members.extend((0..rows.len() as u32).filter(|&r| {
                self.labels[rows[r as usize] as usize] as usize == c
                    || self.candidates.is_none_or(|candidates| candidates.has(first + r as usize, c))
            }));
            if b.members.is_empty() || self.offsets[c] == self.offsets[c + 1] {
                continue;
            }
            if b.loaded.as_ref() != Some(&b.members) {
                b.rows.clear();
                b.rows.extend(b.members.iter().map(|&r| rows[r as usize]));
                b.positions.clear();
                b.positions.extend(b.rows.iter().map(|&i| self.position[i as usize]));
                self.dots.load_rows(&mut b.scratch, &b.rows, &b.positions);
                b.loaded = Some(b.members.clone());
            }
            b.cluster_sums.clear();
            b.cluster_sums.resize(b.members.len(), 0.0);
            for start in (self.offsets[c]..self.offsets[c + 1]).step_by(COLUMN_BLOCK) {
                let cols = &self.order[start..(start + COLUMN_BLOCK).min(self.offsets[c + 1])];
                self.dots.add_sums(&mut b.scratch, cols, start, &mut b.cluster_sums, None);
            }
            b.members.iter().zip(&b.cluster_sums).for_each(|(&r, &v)| sums[r as usize * k + c] = v);
        }
        for (r, (&i, s)) in rows.iter().zip(out.iter_mut()).enumerate() {
            *s = self.value(self.labels[i as usize] as usize, &sums[r * k..(r + 1) * k]);
        }
    }

    /// s(i) from the row's distance sums to every cluster.
    fn value(&self, own: usize, sums: &[f64]) -> f64 {
        value_from_sums(own, sums, self.counts)
    }
}

/// The silhouette of a row of cluster `own` from its sums of distances to every cluster's rows
/// (`sums[c]`, its own distance 0 included) and the clusters' sizes.
pub fn value_from_sums(own: usize, sums: &[f64], counts: &[usize]) -> f64 {
    if counts[own] <= 1 {
        return 0.0;
    }
    let b = (0..counts.len())
        .filter(|&c| c != own && counts[c] > 0)
        .map(|c| sums[c] / counts[c] as f64)
        .fold(f64::INFINITY, f64::min);
    score(sums[own] / (counts[own] - 1) as f64, b)
}

/// Sampled rows per task: enough for the packed columns to serve many rows, few enough that a
/// sample of a few thousand rows still makes tasks for every core.
const SAMPLE_BLOCK: usize = 4 * ROW_BLOCK;

/// Pieces a cluster's rows are cut into for one pair of clusters (fixed, whatever the thread
/// count): each piece is one task, and keeps one partial sum per row of the other cluster.
const PIECES: usize = 16;

/// Which distances the silhouette of every row computes, and how.
///
/// Every row needs its own cluster's sum (the pair (A, A), always computed). For two clusters
/// A < B, the rows of A whose b(i) may come from B (their [`Candidates`]) need their sums to B,
/// and the rows of B whose b(i) may come from A their sums to A. Without pruning every row needs
/// every cluster, and the pair is computed both ways at once ([`pair_piece`]: each distance feeds
/// a row of A and a row of B). With pruning, when the rows that need the pair are few enough that
/// computing their sums one way (each such row against every row of the other cluster) costs fewer
/// distances than the whole pair, they go to `one_way` instead; a pair no row needs is skipped.
struct Plan {
    /// Pairs (A, B), A ≤ B, computed both ways at once, in order.
    both_ways: Vec<(usize, usize)>,
    /// For each cluster C, the positions of the rows (of other clusters) whose sum to C is
    /// computed one way.
    one_way: Vec<Vec<u32>>,
}

impl Plan {
    fn new(offsets: &[usize], candidates: Option<&Candidates>) -> Self {
        let k = offsets.len() - 1;
        let size = |c: usize| offsets[c + 1] - offsets[c];
        let mut plan = Self { both_ways: Vec::new(), one_way: vec![Vec::new(); k] };
        for a in (0..k).filter(|&a| size(a) > 0) {
            plan.both_ways.push((a, a));
            for b in (a + 1..k).filter(|&b| size(b) > 0) {
                let Some(candidates) = candidates else {
                    plan.both_ways.push((a, b));
                    continue;
                };
                let needing = |rows: std::ops::Range<usize>, other: usize| -> Vec<u32> {
                    rows.filter(|&p| candidates.has(p, other)).map(|p| p as u32).collect()
                };
                let (from_a, from_b) = (needing(offsets[a]..offsets[a + 1], b), needing(offsets[b]..offsets[b + 1], a));
                if from_a.is_empty() && from_b.is_empty() {
                    continue;
                }
                if from_a.len() * size(b) + from_b.len() * size(a) < size(a) * size(b) {
                    plan.one_way[b].extend(from_a);
                    plan.one_way[a].extend(from_b);
                } else {
                    plan.both_ways.push((a, b));
                }
            }
        }
        plan
    }

    /// The distances the plan computes.
    fn distances(&self, offsets: &[usize]) -> u64 {
        let size = |c: usize| (offsets[c + 1] - offsets[c]) as u64;
        let both: u64 = self
            .both_ways
            .iter()
            .map(|&(a, b)| if a == b { size(a) * (size(a) - 1) / 2 } else { size(a) * size(b) })
            .sum();
        both + self.one_way.iter().enumerate().map(|(c, rows)| rows.len() as u64 * size(c)).sum::<u64>()
    }
}

/// The silhouette of every row, each needed distance computed once (see [`Plan`]).
///
/// Pairs computed both ways: A's rows are cut into at most [`PIECES`] pieces of whole blocks,
/// computed in parallel; each piece sums its own rows' distances completely and keeps partial
/// sums for B's rows, which are then added up piece by piece in order. For A = A, a piece takes
/// the columns from its own first row on (the rest of the triangle comes from the earlier pieces'
/// partial sums). Sums computed one way: the rows that need cluster C, [`ROW_CHUNK`] at a time,
/// each chunk against every row of C in order, all chunks of all clusters in parallel. A sum is
/// complete once computed, so each row keeps only two numbers: its own cluster's sum, and the
/// smallest mean distance to another cluster so far (a minimum does not depend on the order the
/// sums come in). Memory: two numbers per row, at most `PIECES` partial sums per row of B, and the
/// plan's positions (at most one per row and cluster, and only where pruning leaves few).
fn all_rows<D: Distances>(
    dots: &D,
    offsets: &[usize],
    order: &[u32],
    candidates: Option<&Candidates>,
    stop: &AtomicBool,
) -> Result<Vec<f64>> {
    let (n, k) = (order.len(), offsets.len() - 1);
    let plan = Plan::new(offsets, candidates);
    let mut own = vec![0f64; n];
    let mut nearest = vec![f64::INFINITY; n];
    for &(a, b) in &plan.both_ways {
        check_stop(stop)?;
        let (rows_a, rows_b) = (offsets[a]..offsets[a + 1], offsets[b]..offsets[b + 1]);
        let pieces = pieces(rows_a.clone());
        let partial: Vec<Piece> = pieces
            .par_iter()
            .map_init(
                || (dots.scratch(), Vec::new()),
                |(s, positions), piece| {
                    let columns = if a == b { piece.start..rows_b.end } else { rows_b.clone() };
                    pair_piece(dots, order, piece.clone(), columns, a == b, s, positions)
                },
            )
            .collect();
        if a == b {
            // Row i of piece p: its own sums over the columns from p's start on, plus the
            // earlier pieces' partial sums for it.
            for (p, piece) in pieces.iter().enumerate() {
                for i in piece.clone() {
                    let mut total = partial[p].rows[i - piece.start];
                    for earlier in &partial[..p] {
                        total += earlier.columns[i - earlier.first_column];
                    }
                    own[i] = total;
                }
            }
        } else {
            let (size_a, size_b) = (rows_a.len() as f64, rows_b.len() as f64);
            for (piece, part) in pieces.iter().zip(&partial) {
                for i in piece.clone() {
                    nearest[i] = nearest[i].min(part.rows[i - piece.start] / size_b);
                }
            }
            for j in rows_b.clone() {
                let total = partial.iter().fold(0.0, |t, part| t + part.columns[j - part.first_column]);
                nearest[j] = nearest[j].min(total / size_a);
            }
        }
    }
    let chunks: Vec<(usize, &[u32])> =
        plan.one_way.iter().enumerate().flat_map(|(c, rows)| rows.chunks(ROW_CHUNK).map(move |r| (c, r))).collect();
    let sums: Vec<Vec<f64>> = chunks
        .par_iter()
        .map_init(
            || (dots.scratch(), Vec::new()),
            |(s, rows), &(c, positions)| {
                check_stop(stop)?;
                rows.clear();
                rows.extend(positions.iter().map(|&p| order[p as usize]));
                dots.load_rows(s, rows, positions);
                let mut sums = vec![0f64; positions.len()];
                for start in (offsets[c]..offsets[c + 1]).step_by(COLUMN_BLOCK) {
                    let end = (start + COLUMN_BLOCK).min(offsets[c + 1]);
                    dots.add_sums(s, &order[start..end], start, &mut sums, None);
                }
                Ok(sums)
            },
        )
        .collect::<Result<_>>()?;
    for (&(c, positions), sums) in chunks.iter().zip(&sums) {
        let size = (offsets[c + 1] - offsets[c]) as f64;
        for (&p, &sum) in positions.iter().zip(sums) {
            nearest[p as usize] = nearest[p as usize].min(sum / size);
        }
    }
    let mut out = vec![0f64; n];
    for c in 0..k {
        let size = offsets[c + 1] - offsets[c];
        for p in offsets[c]..offsets[c + 1] {
            out[order[p] as usize] = if size <= 1 { 0.0 } else { score(own[p] / (size - 1) as f64, nearest[p]) };
        }
    }
    Ok(out)
}

/// s = (b − a) / max(a, b); 0 where both are 0 (or b is undefined: one cluster only).
fn score(a: f64, b: f64) -> f64 {
    let denominator = a.max(b);
    if denominator > 0.0 && denominator.is_finite() {
        (b - a) / denominator
    } else {
        0.0
    }
}

/// A cluster's rows (positions in label order) cut into at most [`PIECES`] pieces of whole blocks.
fn pieces(rows: std::ops::Range<usize>) -> Vec<std::ops::Range<usize>> {
    let blocks = rows.len().div_ceil(ROW_BLOCK);
    let per_piece = blocks.div_ceil(PIECES) * ROW_BLOCK;
    (rows.start..rows.end).step_by(per_piece).map(|s| s..(s + per_piece).min(rows.end)).collect()
}

/// One piece's sums: complete for its rows, partial for the columns.
struct Piece {
    rows: Vec<f64>,
    columns: Vec<f64>,
    first_column: usize,
}

/// The distances between the rows `rows` and the columns `columns` (positions in label order):
/// each row's sum, and each column's sum over the rows (only past the piece when `diagonal`).
fn pair_piece<D: Distances>(
    dots: &D,
    order: &[u32],
    rows: std::ops::Range<usize>,
    columns: std::ops::Range<usize>,
    diagonal: bool,
    s: &mut D::Scratch,
    positions: &mut Vec<u32>,
) -> Piece {
    let mut piece =
        Piece { rows: vec![0.0; rows.len()], columns: vec![0.0; columns.len()], first_column: columns.start };
    // On the diagonal, the columns of the piece itself feed only its rows' sums (each of those
    // pairs is met twice); the columns past it take partial sums.
    let split = if diagonal { rows.end.clamp(columns.start, columns.end) } else { columns.start };
    for block in (rows.start..rows.end).step_by(ROW_CHUNK) {
        let end = (block + ROW_CHUNK).min(rows.end);
        positions.clear();
        positions.extend(block as u32..end as u32);
        dots.load_rows(s, &order[block..end], positions);
        let row_sums = &mut piece.rows[block - rows.start..end - rows.start];
        for (run, partial) in [(columns.start..split, false), (split..columns.end, true)] {
            for start in run.clone().step_by(COLUMN_BLOCK) {
                let stop = (start + COLUMN_BLOCK).min(run.end);
                let col_sums = partial.then(|| &mut piece.columns[start - columns.start..stop - columns.start]);
                dots.add_sums(s, &order[start..stop], start, row_sums, col_sums);
            }
        }
    }
    piece
}

/// The obvious double loop over all pairs, in `f64` (Σ(x − y)² directly): the oracle the blocked
/// kernel is tested against.
pub fn silhouette_naive<F: Scalar>(x: Points<'_, F>, labels: &[u32], k: usize) -> Vec<f64> {
    let counts: Vec<usize> = (0..k).map(|c| labels.iter().filter(|&&l| l as usize == c).count()).collect();
    (0..x.n())
        .map(|i| {
            let mut sums = vec![0f64; k];
            for j in 0..x.n() {
                if j != i {
                    sums[labels[j] as usize] += crate::kernels::points::sq_dist_f64(x.row(i), x.row(j)).sqrt();
                }
            }
            let own = labels[i] as usize;
            if counts[own] <= 1 {
                return 0.0;
            }
            let a = sums[own] / (counts[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && counts[c] > 0)
                .map(|c| sums[c] / counts[c] as f64)
                .fold(f64::INFINITY, f64::min);
            let m = a.max(b);
            if m > 0.0 && m.is_finite() {
                (b - a) / m
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_alone_in_its_cluster_scores_zero() {
        let x = [0.0f64, 0.0, 1.0, 0.0, 10.0, 0.0];
        let x = Points::from_rows(&x, 2).unwrap();
        let s = silhouette_samples(x, &[0, 0, 1], 2, None, &AtomicBool::new(false)).unwrap();
        assert_eq!(s[2], 0.0);
        // Row 0: a = 1, b = 10, s = 0.9.
        assert!((s[0] - 0.9).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn labels_past_k_are_refused() {
        let x = [0.0f64, 1.0];
        let x = Points::from_rows(&x, 1).unwrap();
        let err = silhouette_samples(x, &[0, 2], 2, None, &AtomicBool::new(false)).unwrap_err();
        assert!(err.to_string().contains("labels"), "{err}");
    }
}
