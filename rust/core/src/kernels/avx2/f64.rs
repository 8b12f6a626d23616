//! The float64 assignment microkernel for x86-64 with AVX2 and FMA: [`crate::kernels::avx2`]'s design at
//! four lanes per register instead of eight.
//!
//! Same identity as [`crate::kernels::distance`]: the nearest centre minimises `||c||² − 2 x·c`. Centres
//! are packed once per call into panels of `NR` = 8 (feature-major: for each feature, the 8
//! centres' values side by side, two ymm registers of 4 doubles), the last panel padded with
//! centres of norm +∞ that never win. A 6-row × 8-centre microtile keeps its twelve accumulators
//! in registers for the whole dot product (12 FMAs per 2 loads + 6 broadcasts), then folds
//! `||c||² − 2 x·c` into a running best per row and lane.
//!
//! Ties: lane `l` of a row's running best only ever sees centres `8p + l` and `8p + 4 + l` in
//! increasing order and replaces its best only on a strictly smaller score, so it keeps the lowest
//! index among its equal scores; the final horizontal step takes the smallest score and, among
//! lanes that hold it, the lowest index. Rows are independent, so results do not depend on how
//! rows are split across threads.

use std::arch::x86_64::*;

use super::{row_groups, MR};
use crate::kernels::parallel::ROW_BLOCK;

/// Centres per panel.
const NR: usize = 8;
/// Lanes per register.
const LANES: usize = 4;
/// Panels per centre block: 256 centres (128 KiB of packed doubles at d = 64), revisited by
/// every microtile of a row block while they are in L2.
const PANELS_PER_BLOCK: usize = 32;

/// Centres packed into panels, with their squared norms.
pub struct Packed {
    /// panels × d × NR values.
    data: Vec<f64>,
    /// panels × NR norms; +∞ for the padding centres.
    norms: Vec<f64>,
    panels: usize,
    d: usize,
}

impl Packed {
    /// Packs k × d row-major `centers` whose squared norms are `norms`.
    pub fn new(centers: &[f64], norms: &[f64], d: usize) -> Self {
        let (data, norms, panels) = super::pack_panels(centers, norms, d, NR);
        Self { data, norms, panels, d }
    }
}

/// Nearest centre of each of the `labels.len()` (at most `ROW_BLOCK`) rows of `rows` (row-major,
/// `d` = the packed `d`).
///
/// # Safety
/// The CPU must support AVX2 and FMA ([`crate::kernels::avx2::available`]).
#[target_feature(enable = "avx2,fma")]
pub unsafe fn assign_rows(packed: &Packed, rows: &[f64], labels: &mut [u32]) {
    // SAFETY: forwarded.
    unsafe { scan::<false>(packed, rows, labels, &mut []) }
}

/// [`assign_rows`], plus each row's second-smallest score `||c||² − 2 x·c` over the centres
/// (+∞ with a single centre): what a lower bound on the distance to every other centre needs.
///
/// # Safety
/// The CPU must support AVX2 and FMA ([`crate::kernels::avx2::available`]).
#[target_feature(enable = "avx2,fma")]
pub unsafe fn assign_rows_top2(packed: &Packed, rows: &[f64], labels: &mut [u32], second: &mut [f64]) {
    assert_eq!(second.len(), labels.len());
    // SAFETY: forwarded.
    unsafe { scan::<true>(packed, rows, labels, second) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn scan<const TOP2: bool>(packed: &Packed, rows: &[f64], labels: &mut [u32], second: &mut [f64]) {
    let (m, d) = (labels.len(), packed.d);
    assert!(m <= ROW_BLOCK && rows.len() >= m * d);
    // Running best (and second best) per row: 4 lanes of score and centre index.
    let mut best = [f64::INFINITY; ROW_BLOCK * LANES];
    let mut best_index = [0i64; ROW_BLOCK * LANES];
    let mut runner_up = [f64::INFINITY; ROW_BLOCK * LANES];
    for block in (0..packed.panels).step_by(PANELS_PER_BLOCK) {
        let block_end = (block + PANELS_PER_BLOCK).min(packed.panels);
        for (r0, live) in row_groups(m) {
            // Past `live` (a 2- or 4-row tile reads only its rows), the first row stands in.
            let row_ptr: [*const f64; MR] =
                std::array::from_fn(|i| rows[(r0 + if i < live { i } else { 0 }) * d..].as_ptr());
            for panel in block..block_end {
                // SAFETY: every row pointer has d readable values, the panel d × NR.
                let scores = unsafe { panel_scores(row_ptr, live, packed.data[panel * d * NR..].as_ptr(), d) };
                let norms = &packed.norms[panel * NR..(panel + 1) * NR];
                let first = (panel * NR) as i64;
                for (i, &[lo, hi]) in scores.iter().enumerate().take(live) {
                    let slot = (r0 + i) * LANES..(r0 + i + 1) * LANES;
                    let (best, best_index) = (&mut best[slot.clone()], &mut best_index[slot.clone()]);
                    // SAFETY: norms holds NR values, every slot LANES.
                    unsafe {
                        if TOP2 {
                            fold_top2(lo, hi, norms, first, best, best_index, &mut runner_up[slot]);
                        } else {
                            fold(lo, hi, norms, first, best, best_index);
                        }
                    }
                }
            }
        }
    }
    for (r, label) in labels.iter_mut().enumerate() {
        let (values, indices) = (&best[r * LANES..(r + 1) * LANES], &best_index[r * LANES..(r + 1) * LANES]);
        let mut winner = (f64::INFINITY, 0i64, 0usize);
        for (lane, (&v, &i)) in values.iter().zip(indices).enumerate() {
            if v < winner.0 || (v == winner.0 && i < winner.1) {
                winner = (v, i, lane);
            }
        }
        *label = winner.1 as u32;
        if TOP2 {
            // The second smallest overall: a runner-up of any lane, or another lane's best.
            let others = values.iter().enumerate().filter(|&(lane, _)| lane != winner.2).map(|(_, &v)| v);
            let runner_up = &runner_up[r * LANES..(r + 1) * LANES];
            second[r] = runner_up.iter().copied().chain(others).fold(f64::INFINITY, f64::min);
        }
    }
}

/// The dot products of the first `live` rows with one panel, by a tile of 2, 4 or 6 rows
/// ([`row_groups`]); rows past `live` are unset. Always inlined into the scan (compiled for AVX2).
#[inline(always)]
unsafe fn panel_scores(rows: [*const f64; MR], live: usize, panel: *const f64, d: usize) -> [[__m256d; 2]; MR] {
    #[inline(always)]
    unsafe fn tile<const R: usize>(rows: [*const f64; MR], panel: *const f64, d: usize) -> [[__m256d; 2]; MR] {
        let first: [*const f64; R] = std::array::from_fn(|i| rows[i]);
        // SAFETY: forwarded; the caller has AVX2 and FMA.
        let scores = unsafe { microtile(first, panel, d) };
        // SAFETY: an all-zero bit pattern is a valid __m256d.
        let mut out: [[__m256d; 2]; MR] = unsafe { std::mem::zeroed() };
        out[..R].copy_from_slice(&scores);
        out
    }
    // SAFETY: forwarded.
    unsafe {
        match live {
            0..=2 => tile::<2>(rows, panel, d),
            3..=4 => tile::<4>(rows, panel, d),
            _ => tile::<MR>(rows, panel, d),
        }
    }
}

/// The R × NR dot products of `R` rows with one panel, as two ymm halves per row.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn microtile<const R: usize>(rows: [*const f64; R], panel: *const f64, d: usize) -> [[__m256d; 2]; R] {
    let mut acc = [[_mm256_setzero_pd(); 2]; R];
    let mut c = panel;
    for p in 0..d {
        // SAFETY: p < d, so every read is inside its row and the panel.
        unsafe {
            let c0 = _mm256_loadu_pd(c);
            let c1 = _mm256_loadu_pd(c.add(LANES));
            for i in 0..R {
                let x = _mm256_broadcast_sd(&*rows[i].add(p));
                acc[i][0] = _mm256_fmadd_pd(x, c0, acc[i][0]);
                acc[i][1] = _mm256_fmadd_pd(x, c1, acc[i][1]);
            }
            c = c.add(NR);
        }
    }
    acc
}

/// Folds one row's 8 dot products into its running best (4 lanes).
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn fold(lo: __m256d, hi: __m256d, norms: &[f64], first: i64, best: &mut [f64], best_index: &mut [i64]) {
    // SAFETY: norms has NR values, best and best_index LANES each.
    unsafe {
        let minus_two = _mm256_set1_pd(-2.0);
        let s_lo = _mm256_fmadd_pd(lo, minus_two, _mm256_loadu_pd(norms.as_ptr()));
        let s_hi = _mm256_fmadd_pd(hi, minus_two, _mm256_loadu_pd(norms.as_ptr().add(LANES)));
        let lane = _mm256_setr_epi64x(0, 1, 2, 3);
        let i_lo = _mm256_add_epi64(_mm256_set1_epi64x(first), lane);
        let i_hi = _mm256_add_epi64(_mm256_set1_epi64x(first + LANES as i64), lane);
        // The upper half wins a lane only when strictly smaller (its indices are higher).
        let hi_wins = _mm256_cmp_pd::<_CMP_LT_OQ>(s_hi, s_lo);
        // min(a, b) is `a < b ? a : b`, the blend it replaces (NaN and ±0 included); LLVM turned
        // the stored blend into a masked store (vmaskmov), which is slow on AMD.
        let s = _mm256_min_pd(s_hi, s_lo);
        let i = _mm256_blendv_epi8(i_lo, i_hi, _mm256_castpd_si256(hi_wins));
        let old = _mm256_loadu_pd(best.as_ptr());
        let old_i = _mm256_loadu_si256(best_index.as_ptr().cast());
        let wins = _mm256_cmp_pd::<_CMP_LT_OQ>(s, old);
        _mm256_storeu_pd(best.as_mut_ptr(), _mm256_min_pd(s, old));
        _mm256_storeu_si256(best_index.as_mut_ptr().cast(), _mm256_blendv_epi8(old_i, i, _mm256_castpd_si256(wins)));
    }
}

/// [`fold`], also keeping each lane's second-smallest score. The two halves are merged one after
/// the other (lower indices first), so each lane still keeps the lowest index among equal bests.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn fold_top2(
    lo: __m256d,
    hi: __m256d,
    norms: &[f64],
    first: i64,
    best: &mut [f64],
    best_index: &mut [i64],
    runner_up: &mut [f64],
) {
    // SAFETY: norms has NR values, the others LANES each.
    unsafe {
        let minus_two = _mm256_set1_pd(-2.0);
        let lane = _mm256_setr_epi64x(0, 1, 2, 3);
        let mut b = _mm256_loadu_pd(best.as_ptr());
        let mut bi = _mm256_loadu_si256(best_index.as_ptr().cast());
        let mut r = _mm256_loadu_pd(runner_up.as_ptr());
        for (half, acc) in [lo, hi].into_iter().enumerate() {
            let s = _mm256_fmadd_pd(acc, minus_two, _mm256_loadu_pd(norms.as_ptr().add(LANES * half)));
            let i = _mm256_add_epi64(_mm256_set1_epi64x(first + (LANES * half) as i64), lane);
            let wins = _mm256_cmp_pd::<_CMP_LT_OQ>(s, b);
            // The runner-up becomes the old best when s wins, else s if it beats the runner-up.
            r = _mm256_min_pd(r, _mm256_max_pd(b, s));
            b = _mm256_min_pd(s, b);
            bi = _mm256_blendv_epi8(bi, i, _mm256_castpd_si256(wins));
        }
        _mm256_storeu_pd(best.as_mut_ptr(), b);
        _mm256_storeu_si256(best_index.as_mut_ptr().cast(), bi);
        _mm256_storeu_pd(runner_up.as_mut_ptr(), r);
    }
}
