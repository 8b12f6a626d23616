//! The assignment kernel for narrow rows (at most [`NARROW`] features, [`NARROW_WIDE`] in AVX-512
//! registers): one row per lane.
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
//!
//! Where the CPU runs AVX-512 ([`wide::available`], as the microkernel's wide tiles),
//! [`assign_narrow_wide`] runs instead: a zmm register holds twice the rows, two registers of rows
//! share each centre's broadcasts, the compare writes a mask register that picks the indices in
//! one instruction, and whole registers of rows are turned feature-major by permutes rather than
//! one value at a time. The same operations lane by lane, so the same bits. Profiled on a refine
//! over china.jpg's colours (273,280 × 3, float64, k = 16), the AVX2 body held 72% of the time,
//! its loop bound by the chain of compares, mins and blends through each row's running best (16
//! instructions a centre for four rows). Measured against the AVX2 body on this 2-core Xeon
//! (AVX-512F), the builds taking turns: that refine 1.8–1.9 → 0.73–0.90 ms a pass, the same losses.
//! Its 32 registers hold rows of up to [`NARROW_WIDE`] features (transposed one value at a time
//! past [`NARROW`]), where it also beats the microkernel: whole default fits of 100,000 × 10
//! blobs at k = 8 0.65 times the time, at k = 30 0.71–0.78; 100,000 × 16 at k = 30 0.79–0.81, at
//! k = 100 0.91–0.97; diabetes (442 × 10, k = 4) 0.80, wine (178 × 13, k = 3) 0.93.

use std::arch::x86_64::*;

use super::lanes::Lanes;
use super::wide;
use crate::kernels::parallel::ROW_BLOCK;

/// Rows of at most this many features are labelled here rather than by the microkernel, by the
/// AVX2 body ([`assign_narrow`]).
pub(crate) const NARROW: usize = 8;
/// The same for the AVX-512 body ([`assign_narrow_wide`]), whose 32 registers hold twice the
/// features.
pub(crate) const NARROW_WIDE: usize = 16;

/// The most features of the rows labelled here on this CPU: [`NARROW_WIDE`] where it takes the
/// AVX-512 body ([`wide::available`]), else [`NARROW`].
pub(crate) fn narrow_width() -> usize {
    if wide::available() {
        NARROW_WIDE
    } else {
        NARROW
    }
}

/// Rows of `width`-byte values that [`assign_narrow_rows`] holds in one register: a zmm
/// register's where it takes the AVX-512 body ([`wide::available`]), else a ymm register's.
pub(crate) fn narrow_lanes(width: usize) -> usize {
    if wide::available() {
        64 / width
    } else {
        32 / width
    }
}

/// `$body::<T, D, TOP2>(args)` for `D` = the width `$d`, one of the literals listed.
macro_rules! by_width {
    ($body:ident, $d:expr, $top2:ident, $args:tt, [$($width:literal)*]) => {
        match $d {
            $($width => $body::<T, $width, $top2> $args,)*
            d => panic!("narrow rows have 1 to {} features here, not {d}", [$($width),*].len()),
        }
    };
}

/// The nearest centres of narrow rows (`d` features, 1 to [`narrow_width`]): [`assign_narrow`],
/// or [`assign_narrow_wide`] where the CPU runs AVX-512 ([`wide::available`]); the same bits.
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
    // SAFETY: forwarded; the AVX-512 body only where the CPU has AVX-512F.
    unsafe { assign_narrow_rows_on::<T, TOP2>(wide::available(), d, centers, norms, rows, labels, second) }
}

/// [`assign_narrow_rows`] by the body `zmm` names: [`assign_narrow_wide`] (1 to [`NARROW_WIDE`]
/// features) if true, else [`assign_narrow`] (1 to [`NARROW`]); the tests compare them.
///
/// # Safety
/// The CPU must support AVX2 and FMA ([`super::available`]), and with `zmm` AVX-512F.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn assign_narrow_rows_on<T: Lanes, const TOP2: bool>(
    zmm: bool,
    d: usize,
    centers: &[T],
    norms: &[T],
    rows: &[T],
    labels: &mut [u32],
    second: &mut [f64],
) {
    if zmm {
        // SAFETY: forwarded.
        return unsafe { assign_narrow_wide_rows::<T, TOP2>(d, centers, norms, rows, labels, second) };
    }
    // SAFETY: forwarded.
    unsafe { by_width!(assign_narrow, d, TOP2, (centers, norms, rows, labels, second), [1 2 3 4 5 6 7 8]) }
}

/// [`assign_narrow_rows`] in AVX-512 registers ([`assign_narrow_wide`]).
///
/// # Safety
/// The CPU must support AVX-512F, AVX2 and FMA ([`wide::available`]).
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn assign_narrow_wide_rows<T: Lanes, const TOP2: bool>(
    d: usize,
    centers: &[T],
    norms: &[T],
    rows: &[T],
    labels: &mut [u32],
    second: &mut [f64],
) {
    // SAFETY: forwarded.
    unsafe {
        by_width!(
            assign_narrow_wide,
            d,
            TOP2,
            (centers, norms, rows, labels, second),
            [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16]
        )
    }
}

/// The `m` rows of `rows` (row-major, `D` features) feature-major, padded to `padded` rows (at
/// most `ROW_BLOCK`) with copies of row 0, whose results are dropped.
#[inline(always)]
fn feature_major<T: Lanes, const D: usize>(rows: &[T], m: usize, padded: usize) -> [[T; ROW_BLOCK]; D] {
    let mut by_feature = [[T::ZERO; ROW_BLOCK]; D];
    copy_feature_major(&mut by_feature, rows, 0, m, padded);
    by_feature
}

/// Rows `from..padded` of [`feature_major`]'s layout, one value at a time.
#[inline(always)]
fn copy_feature_major<T: Lanes, const D: usize>(
    by_feature: &mut [[T; ROW_BLOCK]; D],
    rows: &[T],
    from: usize,
    m: usize,
    padded: usize,
) {
    for r in from..padded {
        let row = if r < m { r } else { 0 };
        for (p, column) in by_feature.iter_mut().enumerate() {
            column[r] = rows[row * D + p];
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
    let padded = m.div_ceil(lanes) * lanes;
    let by_feature = feature_major::<T, D>(rows, m, padded);
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

/// [`assign_narrow`] in AVX-512 registers, two of them (`4 · LANES` rows) against each centre:
/// each lane holds one row as there, and its scores, best and runner-up take the same operations
/// in the same order, so every label and second score has the same bits. A zmm register holds
/// twice an AVX2 register's rows, the compare writes a mask register that picks the indices in one
/// instruction, and the two registers' rows share each centre's broadcasts.
///
/// # Safety
/// The CPU must support AVX-512F, AVX2 and FMA ([`wide::available`]).
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn assign_narrow_wide<T: Lanes, const D: usize, const TOP2: bool>(
    centers: &[T],
    norms: &[T],
    rows: &[T],
    labels: &mut [u32],
    second: &mut [f64],
) {
    let (m, k, wide) = (labels.len(), norms.len(), 2 * T::LANES);
    let step = 2 * wide;
    assert!(m <= ROW_BLOCK && ROW_BLOCK.is_multiple_of(step) && rows.len() >= m * D && centers.len() >= k * D);
    assert!(!TOP2 || second.len() >= m);
    let padded = m.div_ceil(step) * step;
    // Up to NARROW features the permutes' masks and indices (D · D/2 of each, per call) cost
    // less than the copies they replace; beyond, rows are copied one value at a time.
    let by_feature = if D <= NARROW {
        // SAFETY: the CPU has AVX-512F (this function's contract).
        unsafe { feature_major_wide::<T, D>(rows, m, padded) }
    } else {
        feature_major::<T, D>(rows, m, padded)
    };
    // SAFETY (every block below): the CPU has AVX-512F, AVX2 and FMA (this function's contract);
    // each load reads 2 · LANES values of a feature column (r0 + step <= padded <= ROW_BLOCK), and
    // each broadcast one value of `centers` (j·D + p < k·D) or `norms` (j < k).
    unsafe {
        let minus_two = T::wide_set(T::from_f64(-2.0));
        for r0 in (0..padded).step_by(step) {
            let x: [[T::W; D]; 2] =
                std::array::from_fn(|h| std::array::from_fn(|p| T::wide_load(by_feature[p][r0 + h * wide..].as_ptr())));
            let mut best = [T::wide_set(T::INFINITY); 2];
            let mut best_index = [T::wide_index_splat(0); 2];
            let mut runner_up = best;
            for j in 0..k {
                let center = centers.as_ptr().add(j * D);
                let norm = T::wide_splat(norms.as_ptr().add(j));
                let index = T::wide_index_splat(j as i64);
                for h in 0..2 {
                    let mut acc = T::wide_zero();
                    for (p, &x) in x[h].iter().enumerate() {
                        acc = T::wide_fmadd(x, T::wide_splat(center.add(p)), acc);
                    }
                    let score = T::wide_fmadd(acc, minus_two, norm);
                    let wins = T::wide_less(score, best[h]);
                    if TOP2 {
                        runner_up[h] = T::wide_min(T::wide_max(best[h], score), runner_up[h]);
                    }
                    best[h] = T::wide_min(score, best[h]);
                    best_index[h] = T::wide_pick(best_index[h], wins, index);
                }
            }
            for h in 0..2 {
                let first = r0 + h * wide;
                let live = wide.min(m.saturating_sub(first));
                if live == 0 {
                    break;
                }
                let indices = T::wide_spill_indices(best_index[h]);
                for (label, &index) in labels[first..first + live].iter_mut().zip(&indices) {
                    *label = index as u32;
                }
                if TOP2 {
                    let runner_up = T::wide_spill(runner_up[h]);
                    second[first..first + live].copy_from_slice(&runner_up[..live]);
                }
            }
        }
    }
}

/// [`feature_major`] in AVX-512 registers: each whole register of rows (`2 · LANES` rows, `D`
/// registers of row-major values) is transposed by permutes, the rest copied one value at a time.
///
/// # Safety
/// The CPU must support AVX-512F, AVX2 and FMA ([`wide::available`]).
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn feature_major_wide<T: Lanes, const D: usize>(rows: &[T], m: usize, padded: usize) -> [[T; ROW_BLOCK]; D] {
    let wide = 2 * T::LANES;
    assert!(m <= padded && padded <= ROW_BLOCK && rows.len() >= m * D);
    let mut by_feature = [[T::ZERO; ROW_BLOCK]; D];
    // Lane l of feature p is value l·D + p of the D registers, which lies in registers q and
    // q + 1 for one even q: the pair's permute fetches it (index l·D + p − q·wide) and the blend
    // keeps it in the lanes that pair holds.
    let pairs = D.div_ceil(2);
    let whole = m / wide * wide;
    // SAFETY: the CPU has AVX-512F (this function's contract); each register of rows reads D ·
    // wide values from row r0 (r0 + wide <= m), and each store writes wide values of a column
    // (r0 + wide <= ROW_BLOCK).
    unsafe {
        let ceil_div = |a: i64, b: i64| -(-a).div_euclid(b);
        let (width, twice) = (D as i64, 2 * wide as i64);
        let picks: [[(T::Mask, __m512i); D]; D] = std::array::from_fn(|p| {
            std::array::from_fn(|pair| {
                if pair >= pairs {
                    return (T::wide_mask(0), _mm512_setzero_si512());
                }
                let offset = p as i64 - (2 * pair * wide) as i64;
                // The lanes l with 0 <= l·D + offset < 2 · wide.
                let low = ceil_div(-offset, width).clamp(0, wide as i64);
                let high = ceil_div(twice - offset, width).clamp(low, wide as i64);
                let bits = ((1u64 << high) - 1) ^ ((1u64 << low) - 1);
                (T::wide_mask(bits as u32), T::wide_positions(width, offset))
            })
        });
        for r0 in (0..whole).step_by(wide) {
            let source: [T::W; D] = std::array::from_fn(|q| T::wide_load(rows.as_ptr().add((r0 * D) + q * wide)));
            for (p, column) in by_feature.iter_mut().enumerate() {
                let mut gathered = T::wide_zero();
                for (pair, &(mask, index)) in picks[p].iter().take(pairs).enumerate() {
                    let (a, b) = (source[2 * pair], source[(2 * pair + 1).min(D - 1)]);
                    gathered = T::wide_blend(mask, gathered, T::wide_permute2(a, index, b));
                }
                T::wide_store(column[r0..].as_mut_ptr(), gathered);
            }
        }
    }
    copy_feature_major(&mut by_feature, rows, whole, m, padded);
    by_feature
}
