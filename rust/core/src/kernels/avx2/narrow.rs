//! The assignment kernel for narrow rows (at most [`NARROW`] features): one row per lane.
//!
//! The microkernel of the parent module puts centres in the lanes and rows in registers, which
//! suits wide rows: the multiply-adds of a long dot product dominate. A row of two or three
//! features has almost no dot product, and there every row pays for the microkernel's last step
//! instead: spilling its running best and finding the smallest of its lanes, as many
//! instructions as scanning a dozen centres. Here a block's rows are laid out feature-major
//! first, so that a register holds one feature of `LANES` rows; each centre's features are
//! broadcast in turn, and each lane keeps its row's best score and index (and with `TOP2` its
//! second-smallest score) as it goes. Nothing is left to reduce across lanes at the end.
//!
//! Same bits as the microkernel: a centre's score is `fma(acc, −2, ||c||²)` with
//! `acc = fma(x_{d−1}, c_{d−1}, … fma(x_0, c_0, 0))`, the same operations in the same order; a
//! row sees the centres in index order and keeps a score only when strictly smaller, so among
//! equal scores the lowest index wins, as there; the second-smallest score is that of the
//! multiset of all scores, as there.
//!
//! Measured against the microkernel on the same rows, both builds on this 2-core machine one
//! after the other: 60 Lloyd passes over flower.jpg's colours (273,280 × 3, float64) from the
//! reduction's centres, k = 8, 100 → 78 ms; over skin_nonskin (k = 2) 87–103 → 62–64 ms; ten
//! passes over float32 blobs of 100,000 × 2, k = 100, 2.9 → 1.0 ms a pass, of 200,000 × 8, k = 8,
//! 3.8 → 2.0 ms, of 200,000 × 5, k = 8, 2.6 → 1.9 ms; at 200,000 × 8, k = 30 or 100 the two
//! kernels take the same time, and at 100,000 × 4, k = 256 the narrow one is about 10% slower
//! (3.6 against 3.3 ms). There the bounded pass runs instead (from 64 centres).

use std::arch::x86_64::*;

use super::lanes::Lanes;
use crate::kernels::parallel::ROW_BLOCK;

/// Rows of at most this many features are labelled here rather than by the microkernel.
pub(crate) const NARROW: usize = 8;

/// [`assign_narrow`] for rows of `d` features, 1 to [`NARROW`].
///
/// # Safety
/// The CPU must support AVX2 and FMA ([`super::available`]).
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn assign_narrow_rows<T: Lanes, const TOP2: bool>(
    d: usize,
    centers: &[T],
    norms: &[T],
    rows: &[T],
    labels: &mut [u32],
    second: &mut [f64],
) {
    // SAFETY: forwarded.
    unsafe {
        match d {
            1 => assign_narrow::<T, 1, TOP2>(centers, norms, rows, labels, second),
            2 => assign_narrow::<T, 2, TOP2>(centers, norms, rows, labels, second),
            3 => assign_narrow::<T, 3, TOP2>(centers, norms, rows, labels, second),
            4 => assign_narrow::<T, 4, TOP2>(centers, norms, rows, labels, second),
            5 => assign_narrow::<T, 5, TOP2>(centers, norms, rows, labels, second),
            6 => assign_narrow::<T, 6, TOP2>(centers, norms, rows, labels, second),
            7 => assign_narrow::<T, 7, TOP2>(centers, norms, rows, labels, second),
            8 => assign_narrow::<T, 8, TOP2>(centers, norms, rows, labels, second),
            _ => panic!("narrow rows have 1 to {NARROW} features, not {d}"),
        }
    }
}

/// Nearest centre of each of the `labels.len()` (at most `ROW_BLOCK`) rows of `rows` (row-major,
/// `D` features) among the k × D row-major `centers` of squared norms `norms` (k values, rounded
/// to `T` as the microkernel's panels hold them); with `TOP2`, also each row's second-smallest
/// score `||c||² − 2 x·c` over the centres, widened to `f64` (+∞ with a single centre).
///
/// # Safety
/// The CPU must support AVX2 and FMA ([`super::available`]).
#[target_feature(enable = "avx2,fma")]
unsafe fn assign_narrow<T: Lanes, const D: usize, const TOP2: bool>(
    centers: &[T],
    norms: &[T],
    rows: &[T],
    labels: &mut [u32],
    second: &mut [f64],
) {
    let (m, k, lanes) = (labels.len(), norms.len(), T::LANES);
    assert!(m <= ROW_BLOCK && ROW_BLOCK.is_multiple_of(lanes) && rows.len() >= m * D && centers.len() >= k * D);
    assert!(!TOP2 || second.len() >= m);
    // The block feature-major; the lanes past the last row repeat row 0 (their results are
    // dropped).
    let padded = m.div_ceil(lanes) * lanes;
    let mut by_feature = [[T::ZERO; ROW_BLOCK]; D];
    for r in 0..padded {
        let row = if r < m { r } else { 0 };
        for (p, column) in by_feature.iter_mut().enumerate() {
            column[r] = rows[row * D + p];
        }
    }
    // SAFETY (every block below): the CPU has AVX2 and FMA (this function's contract); each
    // load reads LANES values of a feature column (r0 + LANES <= padded <= ROW_BLOCK), and each
    // broadcast one value of `centers` (j·D + p < k·D) or `norms` (j < k).
    unsafe {
        let minus_two = T::set(T::from_f64(-2.0));
        for r0 in (0..padded).step_by(lanes) {
            let x: [T::V; D] = std::array::from_fn(|p| T::load(by_feature[p][r0..].as_ptr()));
            let mut best = T::set(T::INFINITY);
            let mut best_index = _mm256_setzero_si256();
            let mut runner_up = best;
            for j in 0..k {
                let center = centers.as_ptr().add(j * D);
                let mut acc = T::zero();
                for (p, &x) in x.iter().enumerate() {
                    acc = T::fmadd(x, T::splat(center.add(p)), acc);
                }
                let score = T::fmadd(acc, minus_two, T::splat(norms.as_ptr().add(j)));
                let wins = T::less(score, best);
                if TOP2 {
                    // The runner-up becomes the old best when the score wins, else the score if
                    // it beats the runner-up; a NaN score leaves it as it is, as in the
                    // microkernel.
                    runner_up = T::min(T::max(best, score), runner_up);
                }
                best = T::min(score, best);
                best_index = _mm256_blendv_epi8(best_index, T::index_splat(j as i64), wins);
            }
            let live = lanes.min(m.saturating_sub(r0));
            let indices = T::spill_indices(best_index);
            for (label, &index) in labels[r0..r0 + live].iter_mut().zip(&indices) {
                *label = index as u32;
            }
            if TOP2 {
                let runner_up = T::spill(runner_up);
                second[r0..r0 + live].copy_from_slice(&runner_up[..live]);
            }
        }
    }
}
