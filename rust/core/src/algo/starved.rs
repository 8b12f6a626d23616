//! The starved-centre policy of the streaming trainer (the streaming analogue of
//! [`crate::algo::empty`]).
//!
//! Streaming from a random seeding can leave a centre stuck where it earns little: several
//! centres share one group of points while a single centre sits between two groups, and the
//! mini-batch updates, which only move centres towards the points they already win, never untangle
//! that (scikit-learn's `MiniBatchKMeans` reassigns such centres at random for the same reason).
//!
//! After each merged batch (but the last batch of an in-memory fit, see
//! `algo::minibatch::Reseed`), a centre is *starved* when its (decayed) count is below
//! `reseed_ratio` times the mean count of all K centres: a centre that keeps winning less than
//! that share over many batches. Of the [`RESEED_CANDIDATES`] starved centres with the lowest
//! counts (ties: lowest index), the one whose removal would raise the batch's loss least is moved
//! onto the batch row farthest from its nearest centre (ties: lowest row), with its count set to
//! zero, so that its next batch moves it onto the mean of the points it wins; its old count is
//! merged into its nearest centre (counts add, that centre moves to the weighted mean of the two),
//! so the reduction still weighs every point seen. It moves only when that lowers the batch's loss: the rows the new centre would win gain more than the starved
//! centre's rows lose by going to their next-nearest centre. At most one centre moves per batch.
//!
//! The move is computed exactly on the batch, against the centres as merged: with `e_i` the squared
//! distance of row `i` to the farthest row, `d_i` to its centre and `s_i` to its next-nearest centre, the batch loss changes
//! by `Σ_{i in c} min(s_i, e_i) − Σ_{i in c} d_i − Σ_{i not in c} max(0, d_i − e_i)`. Everything
//! is a function of the batch and the state, evaluated in a fixed order: no random numbers, and
//! the same bits on any number of threads.

use rayon::prelude::*;

use crate::backend::{Data, Rows};
use crate::kernels::parallel::{min_items, ROW_BLOCK};
use crate::kernels::points::{narrow_sq_dists, sq_dist_f64, NARROW_ROWS};
use crate::kernels::scalar::Scalar;

/// How many of the lowest-count starved centres are weighed each batch (bounds the work).
pub const RESEED_CANDIDATES: usize = 16;

/// Applies the policy (see the module docs) to `centers` (K × d, row-major) and `counts` after a
/// batch whose rows were assigned to `labels` has been merged. Returns the centre that moved, if
/// one did.
pub(crate) fn reseed_starved<F: Scalar, R: Rows<F>>(
    centers: &mut [F],
    counts: &mut [f64],
    batch: R,
    labels: &[u32],
    reseed_ratio: f64,
) -> Option<usize> {
    let (k, d, b) = (counts.len(), batch.d(), batch.n());
    if reseed_ratio <= 0.0 || k < 2 || b == 0 {
        return None;
    }
    let threshold = reseed_ratio * counts.iter().sum::<f64>() / k as f64;
    let mut starved: Vec<usize> = (0..k).filter(|&c| counts[c] < threshold).collect();
    if starved.is_empty() {
        return None;
    }
    starved.sort_by(|&a, &c| counts[a].total_cmp(&counts[c]).then(a.cmp(&c)));
    starved.truncate(RESEED_CANDIDATES);
    // Each row's squared distance to its centre as merged (the batch moved it), not as assigned.
    let norms: Vec<f64> = centers.chunks_exact(d).map(norm).collect();
    let at = |c: usize| &centers[c * d..(c + 1) * d];
    let dist2 = sq_dists(batch, centers, &norms, |i| labels[i] as usize);
    let far = (0..b).fold(0, |best, i| if dist2[i] > dist2[best] { i } else { best });
    if dist2[far] <= 0.0 {
        return None;
    }
    let mut row = vec![F::ZERO; d];
    batch.copy_row(far, &mut row);
    let to_row = sq_dists(batch, &row, &[norm(&row)], |_| 0);
    let gain: f64 = (0..b).map(|i| (dist2[i] - to_row[i]).max(0.0)).sum();
    let mut cost = vec![0f64; starved.len()];
    // Each centre's place among the candidates, if it is one.
    let mut slot_of = vec![usize::MAX; k];
    starved.iter().enumerate().for_each(|(slot, &c)| slot_of[c] = slot);
    for i in 0..b {
        let slot = slot_of[labels[i] as usize];
        if slot == usize::MAX {
            continue;
        }
        let own = labels[i] as usize;
        let mut next = f64::INFINITY;
        // Every centre but its own, in order.
        let other = |j: usize| j + usize::from(j >= own);
        batch.each_sq_dist(k - 1, |_| i, |j| (at(other(j)), norms[other(j)]), |_, v| next = next.min(v));
        cost[slot] += next.min(to_row[i]) - dist2[i].min(to_row[i]);
    }
    // The cheapest to remove (ties: the first, i.e. the lowest count).
    let slot = (0..starved.len()).min_by(|&a, &c| cost[a].total_cmp(&cost[c]))?;
    if cost[slot] >= gain {
        return None;
    }
    let c = starved[slot];
    // Its points stay counted: it merges into its nearest centre (counts add, that centre moves to
    // the weighted mean of the two), which keeps the total weight and the mean the reduction sees.
    let own: Vec<F> = centers[c * d..(c + 1) * d].to_vec();
    let nearest = (0..k)
        .filter(|&o| o != c)
        .map(|o| (sq_dist_f64(&own, &centers[o * d..(o + 1) * d]), o))
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
        .map(|(_, o)| o)?;
    let total = counts[nearest] + counts[c];
    if total > 0.0 {
        let (p, q) = (counts[nearest] / total, counts[c] / total);
        for (target, &v) in centers[nearest * d..(nearest + 1) * d].iter_mut().zip(&own) {
            *target = F::from_f64(p * target.to_f64() + q * v.to_f64());
        }
    }
    counts[nearest] = total;
    centers[c * d..(c + 1) * d].copy_from_slice(&row);
    counts[c] = 0.0;
    Some(c)
}

/// `out[i]` = the squared distance from row `i` of `batch` to centre `center_of(i)` of `centers`
/// (of squared norms `norms`), as [`Rows::sq_dist_to`] computes it; dense rows of fewer than
/// eight features by [`narrow_sq_dists`] (the same bits, without a call per row). Blocks of rows
/// go in parallel, each distance from its own row alone: the same bits on any number of threads.
/// One thread took 4–5 ms for the two sweeps of a batch of MNIST's rows (5,000 × 784 float64,
/// read from memory), a third of the batch's assignment.
fn sq_dists<F: Scalar, R: Rows<F>>(
    batch: R,
    centers: &[F],
    norms: &[f64],
    center_of: impl Fn(usize) -> usize + Sync,
) -> Vec<f64> {
    let d = batch.d();
    let mut out = vec![0.0; batch.n()];
    let blocks = out.par_chunks_mut(ROW_BLOCK).enumerate().with_min_len(min_items(ROW_BLOCK * d));
    match batch.data() {
        Data::Dense(x) if d < NARROW_ROWS => blocks.for_each(|(b, out)| {
            let from = b * ROW_BLOCK;
            narrow_sq_dists::<F, F>(x.rows(from, from + out.len()), centers, |i| center_of(from + i), out)
        }),
        _ => {
            let center = |c: usize| (&centers[c * d..(c + 1) * d], norms[c]);
            blocks.for_each(|(b, out)| {
                let from = b * ROW_BLOCK;
                batch.each_sq_dist(out.len(), |i| from + i, |i| center(center_of(from + i)), |i, v| out[i] = v)
            });
        }
    }
    out
}

fn norm<F: Scalar>(v: &[F]) -> f64 {
    v.iter().map(|x| x.to_f64() * x.to_f64()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::points::Points;

    /// Rows around 0 (group A) and around 10 (group B), one feature.
    const ROWS: [f64; 6] = [0.0, 0.1, -0.1, 10.0, 10.1, 9.9];

    fn assigned(centers: &[f64]) -> Vec<u32> {
        ROWS.iter()
            .map(|&x| {
                let (c, _) = centers
                    .iter()
                    .enumerate()
                    .map(|(c, &m)| (c, (x - m) * (x - m)))
                    .fold((0, f64::INFINITY), |best, cur| if cur.1 < best.1 { cur } else { best });
                c as u32
            })
            .collect()
    }

    #[test]
    fn a_starved_centre_moves_to_the_farthest_row_when_that_lowers_the_batch_loss() {
        // Centre 1 duplicates centre 0's work with a tiny count; centre 2 sits between A and B.
        let mut centers = vec![0.0, 0.05, 5.0];
        let mut counts = vec![100.0, 1.0, 100.0];
        let labels = assigned(&centers);
        let batch = Points::new(&ROWS, 6, 1).unwrap();
        let moved = reseed_starved(&mut centers, &mut counts, batch, &labels, 0.25);
        assert_eq!(moved, Some(1));
        assert_eq!(centers[1], 10.1, "onto the row farthest from its centre");
        assert_eq!(counts[1], 0.0);
        // Its count went to its nearest centre, which moved to the weighted mean of the two.
        assert_eq!(counts[0], 101.0);
        assert!((centers[0] - 0.05 / 101.0).abs() < 1e-15);
        assert_eq!(counts.iter().sum::<f64>(), 201.0, "no weight is lost");
    }

    #[test]
    fn no_centre_moves_when_the_move_would_raise_the_batch_loss() {
        // Centre 1 has a tiny count but is the only centre near B: removing it costs more than
        // any row could gain.
        let mut centers = vec![0.0, 10.0, 0.05];
        let mut counts = vec![100.0, 1.0, 100.0];
        let labels = assigned(&centers);
        let before = (centers.clone(), counts.clone());
        let batch = Points::new(&ROWS, 6, 1).unwrap();
        assert_eq!(reseed_starved(&mut centers, &mut counts, batch, &labels, 0.25), None);
        assert_eq!((centers, counts), before);
    }

    /// Every row's distance as `sq_dist_to` gives it, over one block of rows and over many (which
    /// go in parallel), on one thread and on four.
    fn same_bits_as_sq_dist_to<F: Scalar>() {
        let pools = [1, 4].map(|t| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap());
        // 2,500 rows of 64 features: 20 blocks in three tasks, so four threads split them.
        for (d, n) in (1..=9).map(|d| (d, 37)).chain([(3, 1000), (9, 1000), (64, 700), (64, 2500)]) {
            let k = 5;
            let rows: Vec<F> = (0..n * d).map(|i| F::from_f64(((i * 7919 % 1013) as f64).sin() * 50.0)).collect();
            let centers: Vec<F> = (0..k * d).map(|i| F::from_f64(((i * 104_729 % 997) as f64).cos() * 40.0)).collect();
            let norms: Vec<f64> = centers.chunks_exact(d).map(norm).collect();
            let batch = Data::Dense(Points::new(&rows, n, d).unwrap());
            for pool in &pools {
                let got = pool.install(|| sq_dists(batch, &centers, &norms, |i| (i * 3) % k));
                assert_eq!(got.len(), n);
                for (i, got) in got.iter().enumerate() {
                    let c = (i * 3) % k;
                    let want = batch.sq_dist_to(i, &centers[c * d..(c + 1) * d], norms[c]);
                    assert_eq!(got.to_bits(), want.to_bits(), "d = {d}, row {i}");
                }
            }
        }
    }

    #[test]
    fn the_batch_distances_are_the_bits_of_sq_dist_to() {
        same_bits_as_sq_dist_to::<f32>();
        same_bits_as_sq_dist_to::<f64>();
    }

    #[test]
    fn reseed_ratio_zero_never_moves_a_centre() {
        let mut centers = vec![0.0, 0.05, 5.0];
        let mut counts = vec![100.0, 0.0, 100.0];
        let labels = assigned(&centers);
        let batch = Points::new(&ROWS, 6, 1).unwrap();
        assert_eq!(reseed_starved(&mut centers, &mut counts, batch, &labels, 0.0), None);
        assert_eq!(centers, vec![0.0, 0.05, 5.0]);
    }

    #[test]
    fn centres_at_or_above_the_threshold_are_not_starved() {
        // Mean count 100: at ratio 0.25 a count of 25 is not below the threshold.
        let mut centers = vec![0.0, 0.05, 5.0];
        let mut counts = vec![137.5, 25.0, 137.5];
        let labels = assigned(&centers);
        let batch = Points::new(&ROWS, 6, 1).unwrap();
        assert_eq!(reseed_starved(&mut centers, &mut counts, batch, &labels, 0.25), None);
    }
}
