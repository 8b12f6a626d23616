//! The fused Lloyd pass: assignment and the per-cluster sums of the next M step in one read of
//! the data.
//!
//! A Lloyd iteration needs, for every cluster, the weighted mean of its rows. Computing it after
//! the assignment means a second pass over the data (in cluster order, which is random access),
//! and that pass cost as much as the assignment itself. Here each block of rows is folded into the
//! sums right after its labels are known, while the rows are still in cache.
//!
//! The sums are taken relative to the centre each row was assigned to, `Σ w·(x − c)`, so the new
//! centre is `c + Σ w·(x − c) / Σ w`: no cancellation for data far from the origin, and a centre
//! that already sits on all its (identical) rows gets sums of exactly zero and stays put.
//!
//! Inputs too small to fill enough chunks of partial sums (a mini-batch against many centres, the
//! K → k reduction) are labelled first and then summed cluster by cluster ([`sum_by_label`](crate::kernels::sums::sum_by_label)):
//! their rows are still in cache, and k × d partial sums per small chunk would cost more to zero
//! and merge than the rows. A mini-batch against few centres (5,000 rows, 100 centres) still
//! fuses, in chunks of a few row blocks (`chunk_rows`); [`gather_assign_and_sum`] also copies
//! its rows out of the data in the same pass.
//!
//! Determinism: rows are cut into chunks whose size depends on n, k and d only. Each chunk sums
//! its rows in row order, and the chunks' partial sums are added in chunk order; summed cluster by
//! cluster, each cluster adds its rows in row order. Either way the result is the same on any
//! number of threads.

use rayon::prelude::*;

use crate::kernels::distance::Kernel;
use crate::kernels::parallel::{min_items, ROW_BLOCK};
use crate::kernels::points::{copy_rows, prefetch, Points};
use crate::kernels::scalar::Scalar;
use crate::kernels::sums::{sums_by_cluster, to_f64, ClusterSums};

/// Bytes of partial sums all chunks may hold at once.
const PARTIAL_BUDGET: usize = 16 << 20;
/// At most this many chunks (enough to balance the work over many cores).
const MAX_CHUNKS: usize = 64;
/// Below this many chunks the fused pass would starve the threads: assign, then sum by cluster.
const MIN_CHUNKS: usize = 8;
/// Fewer row blocks per chunk than this: assign, then sum by cluster (see [`chunk_rows`]).
pub(crate) const MIN_BLOCKS_PER_CHUNK: usize = 4;

/// Rows per chunk for n rows of d features (`data_bytes` in all: dense or sparse) and k
/// centres, or None when the sums are too large to keep enough chunks in flight, or the rows too
/// few to fill chunks worth their partial sums, or d = 0 (then the rows are labelled first and
/// summed cluster by cluster: [`sum_by_label`]). The answer depends on the shape of the data
/// alone, never on the thread count.
pub(crate) fn chunk_rows(n: usize, k: usize, d: usize, data_bytes: usize) -> Option<usize> {
    if d == 0 {
        return None;
    }
    let per_chunk = k * (d + 2) * std::mem::size_of::<f64>();
    let chunks = (PARTIAL_BUDGET / per_chunk.max(1)).min(MAX_CHUNKS);
    if chunks < MIN_CHUNKS {
        return None;
    }
    let blocks = n.div_ceil(ROW_BLOCK).max(1);
    let blocks_per_chunk = blocks.div_ceil(chunks);
    if blocks_per_chunk >= MIN_BLOCKS_PER_CHUNK {
        return Some(blocks_per_chunk * ROW_BLOCK);
    }
    // Each chunk zeroes and merges k × d partial sums; below a few blocks of rows that costs more
    // than it saves (a mini-batch of 5,000 rows against 1,000 centres would zero and add 40 of
    // them, 10 MB, per batch). Fewer rows still fuse, in chunks of that many blocks, while there
    // are enough chunks and their partial sums are at most half the bytes of the rows (5,000
    // float32 rows of 32 features against 100 centres: ten chunks, 0.27 MB of sums for 0.64 MB).
    let chunks = blocks.div_ceil(MIN_BLOCKS_PER_CHUNK);
    let small = chunks * per_chunk <= data_bytes / 2;
    (chunks >= MIN_CHUNKS && small).then_some(MIN_BLOCKS_PER_CHUNK * ROW_BLOCK)
}

/// Assigns every row of `x` to its nearest centre (as [`crate::kernels::distance::assign`]) and returns
/// the per-cluster sums for the next M step, reading `x` once from memory (small inputs twice,
/// the second time from cache: see the module docs).
pub fn assign_and_sum<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    centers: Points<'_, F>,
    labels: &mut [u32],
    dist2: &mut [f64],
) -> ClusterSums {
    assign_and_sum_with(x, weights, &Kernel::new(centers), labels, dist2)
}

/// [`assign_and_sum`] against the centres of a kernel the caller has built already (and asked
/// which way it labels), so that the centres are not prepared twice.
pub(crate) fn assign_and_sum_with<F: Scalar>(
    x: Points<'_, F>,
    weights: Option<&[f64]>,
    kernel: &Kernel<'_, F>,
    labels: &mut [u32],
    dist2: &mut [f64],
) -> ClusterSums {
    let centers = kernel.centers();
    let (n, d, k) = (x.n(), x.d(), centers.n());
    let centers64 = to_f64(centers);
    let Some(chunk) = chunk_rows(n, k, d, std::mem::size_of_val(x.as_slice())) else {
        let blocks = labels.par_chunks_mut(ROW_BLOCK).enumerate().with_min_len(min_items(ROW_BLOCK * k * d));
        blocks.for_each_init(
            || kernel.tile(),
            |tile, (b, labels)| {
                kernel.label_block(x.rows(b * ROW_BLOCK, b * ROW_BLOCK + labels.len()), tile, labels);
            },
        );
        return sums_by_cluster(x, weights, &centers64, k, labels, dist2);
    };
    let partials: Vec<ClusterSums> = labels
        .par_chunks_mut(chunk)
        .zip(dist2.par_chunks_mut(chunk))
        .enumerate()
        .with_min_len(min_items(chunk * k * d))
        .map_init(
            || kernel.tile(),
            |tile, (i, (labels, dist2))| {
                let mut sums = ClusterSums::zeros(k, d);
                let (start, chunk_len) = (i * chunk, labels.len());
                for (b, (labels, dist2)) in labels.chunks_mut(ROW_BLOCK).zip(dist2.chunks_mut(ROW_BLOCK)).enumerate() {
                    let from = start + b * ROW_BLOCK;
                    let rows = x.rows(from, from + labels.len());
                    kernel.label_block(rows, tile, labels);
                    let next = (from + labels.len()).min(start + chunk_len);
                    let ahead = x.rows(next, (next + ROW_BLOCK).min(start + chunk_len)).as_slice();
                    sums.fold(rows, weights.map(|w| &w[from..from + labels.len()]), &centers64, labels, dist2, ahead);
                }
                sums
            },
        )
        .collect();
    ClusterSums::total(k, d, &partials)
}

/// [`assign_and_sum`] of the rows `indices` of `x`, unweighted (a mini-batch), copied into `batch`
/// on the way, where the caller keeps them: each task copies a block of rows, labels it and
/// folds it while it is in cache, so the batch costs one parallel pass. The picks are random
/// rows, and copying them from memory one at a time would wait on each, so before scanning a
/// block a task fetches the rows it copies next: its chunk's next block, and a share of the
/// first block of its chunk in `next` (the next batch's rows, when the caller knows them). The
/// results equal `assign_and_sum` on the gathered rows.
pub fn gather_assign_and_sum<F: Scalar>(
    x: Points<'_, F>,
    indices: &[usize],
    next: &[usize],
    batch: &mut Vec<F>,
    centers: Points<'_, F>,
    labels: &mut [u32],
    dist2: &mut [f64],
) -> ClusterSums {
    let (n, d, k) = (indices.len(), x.d(), centers.n());
    assert!(labels.len() == n && dist2.len() == n, "one label and distance per row");
    let Some(chunk) = chunk_rows(n, k, d, n * d * std::mem::size_of::<F>()) else {
        crate::kernels::points::gather_into(x, indices, batch);
        return assign_and_sum(Points::new(batch, n, d).expect("whole rows"), None, centers, labels, dist2);
    };
    let kernel = Kernel::new(centers);
    let centers64 = to_f64(centers);
    batch.clear();
    batch.reserve(n * d);
    // Written straight into the spare capacity, every value once (d > 0: chunk_rows checks it;
    // every chunk is written, since labels and dist2 have a place for every row).
    let partials: Vec<ClusterSums> = batch.spare_capacity_mut()[..n * d]
        .par_chunks_mut(chunk * d)
        .zip(labels.par_chunks_mut(chunk).zip(dist2.par_chunks_mut(chunk)))
        .enumerate()
        .with_min_len(min_items(chunk * k * d))
        .map_init(
            || kernel.tile(),
            |tile, (i, (out, (labels, dist2)))| {
                let mut sums = ClusterSums::zeros(k, d);
                let (start, end) = (i * chunk, i * chunk + labels.len());
                let n_blocks = labels.len().div_ceil(ROW_BLOCK);
                // The next batch's first block of this chunk, a share per block of this one.
                let next_first = next.get(start..(start + ROW_BLOCK).min(next.len())).unwrap_or(&[]);
                let blocks =
                    out.chunks_mut(ROW_BLOCK * d).zip(labels.chunks_mut(ROW_BLOCK).zip(dist2.chunks_mut(ROW_BLOCK)));
                for (b, (out, (labels, dist2))) in blocks.enumerate() {
                    let from = start + b * ROW_BLOCK;
                    let rows = copy_rows(x, &indices[from..from + labels.len()], out);
                    let rows = Points::new(rows, labels.len(), d).expect("whole rows");
                    // Fetched while these rows are scanned: this chunk's next block (this thread's
                    // next copy) and a share of the next batch's first block of this chunk. Rows
                    // fetched further ahead would crowd this batch's rows out of the core's cache.
                    let to = from + labels.len();
                    let next_block = &indices[to..(to + ROW_BLOCK).min(end)];
                    let share = &next_first[b * next_first.len() / n_blocks..(b + 1) * next_first.len() / n_blocks];
                    next_block.iter().chain(share).for_each(|&row| prefetch(x.row(row)));
                    kernel.label_block(rows, tile, labels);
                    sums.fold(rows, None, &centers64, labels, dist2, &[]);
                }
                sums
            },
        )
        .collect();
    // SAFETY: the chunks above (copy_rows) wrote all n × d values.
    unsafe { batch.set_len(n * d) };
    ClusterSums::total(k, d, &partials)
}
