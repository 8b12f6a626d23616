//! The float32 assignment microkernel for x86-64 with AVX2 and FMA: dot products and the argmin
//! in registers, no tile written to memory.
//!
//! Same identity as [`crate::kernels::distance`]: the nearest centre minimises `||c||² − 2 x·c`. Centres
//! are packed once per call into panels of `NR` = 16 (feature-major: for each feature, the 16
//! centres' values side by side, two ymm registers), the last panel padded with centres of norm
//! +∞ that never win; when its upper eight are all padding (k = 100 ends in a panel of four) it
//! is scanned at half width, skipping their multiply-adds. A 6-row × 16-centre microtile keeps
//! its twelve accumulators in registers for the whole dot product (the BLIS Haswell sgemm shape:
//! 12 FMAs per 2 loads + 6 broadcasts), then folds `||c||² − 2 x·c` into a running best per row
//! and lane.
//!
//! Ties: lane `l` of a row's running best only ever sees centres `16p + l` and `16p + 8 + l` in
//! increasing order and replaces its best only on a strictly smaller score, so it keeps the lowest
//! index among its equal scores; the final horizontal step takes the smallest score and, among
//! lanes that hold it, the lowest index. Rows are independent, so results do not depend on how
//! rows are split across threads.

pub mod f64;

use std::arch::x86_64::*;

use crate::kernels::parallel::ROW_BLOCK;
use crate::kernels::scalar::Scalar;

/// Rows per microtile (the float64 kernel's too).
pub(crate) const MR: usize = 6;
/// Centres per panel.
const NR: usize = 16;
/// Panels per centre block: 256 centres, whose packed values stay in L2 while every microtile
/// of a row block runs over them.
const PANELS_PER_BLOCK: usize = 16;

/// Whether this CPU runs the kernel (checked once; the standard library caches the answer).
pub fn available() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// Centres packed into panels, with their squared norms.
pub struct Packed {
    /// panels × d × NR values.
    data: Vec<f32>,
    /// panels × NR norms; +∞ for the padding centres.
    norms: Vec<f32>,
    panels: usize,
    d: usize,
    /// Whether the last panel holds at most `NR / 2` centres (its upper half all padding).
    half_last: bool,
}

impl Packed {
    /// Packs k × d row-major `centers` whose squared norms are `norms`.
    pub fn new(centers: &[f32], norms: &[f32], d: usize) -> Self {
        let tail = norms.len() % NR;
        let half_last = tail != 0 && tail <= NR / 2;
        let (data, norms, panels) = pack_panels(centers, norms, d, NR);
        Self { data, norms, panels, d, half_last }
    }
}

/// k × d row-major `centers` as panels of `nr` (for each feature, the panel's `nr` values side
/// by side), and their `norms` padded with +∞ to whole panels: `(data, norms, panels)`. The
/// padding centres are zeros of norm +∞, which never win.
pub(crate) fn pack_panels<T: Scalar>(centers: &[T], norms: &[T], d: usize, nr: usize) -> (Vec<T>, Vec<T>, usize) {
    let panels = norms.len().div_ceil(nr);
    let mut data = vec![T::ZERO; panels * d * nr];
    let mut padded = vec![T::INFINITY; panels * nr];
    for (j, (row, &norm)) in centers.chunks_exact(d).zip(norms).enumerate() {
        let (panel, lane) = (j / nr, j % nr);
        for (p, &v) in row.iter().enumerate() {
            data[(panel * d + p) * nr + lane] = v;
        }
        padded[j] = norm;
    }
    (data, padded, panels)
}

/// Nearest centre of each of the `labels.len()` (at most `ROW_BLOCK`) rows of `rows` (row-major,
/// `d` = the packed `d`).
///
/// # Safety
/// The CPU must support AVX2 and FMA ([`available`]).
#[target_feature(enable = "avx2,fma")]
pub unsafe fn assign_rows(packed: &Packed, rows: &[f32], labels: &mut [u32]) {
    // SAFETY: forwarded.
    unsafe { scan::<false>(packed, rows, labels, &mut []) }
}

/// [`assign_rows`], plus each row's second-smallest score `||c||² − 2 x·c` over the centres
/// (+∞ with a single centre): what a lower bound on the distance to every other centre needs.
///
/// # Safety
/// The CPU must support AVX2 and FMA ([`available`]).
#[target_feature(enable = "avx2,fma")]
pub unsafe fn assign_rows_top2(packed: &Packed, rows: &[f32], labels: &mut [u32], second: &mut [f32]) {
    assert_eq!(second.len(), labels.len());
    // SAFETY: forwarded.
    unsafe { scan::<true>(packed, rows, labels, second) }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn scan<const TOP2: bool>(packed: &Packed, rows: &[f32], labels: &mut [u32], second: &mut [f32]) {
    let (m, d) = (labels.len(), packed.d);
    assert!(m <= ROW_BLOCK && rows.len() >= m * d);
    // Running best (and second best) per row: 8 lanes of score and centre index.
    let mut best = [f32::INFINITY; ROW_BLOCK * 8];
    let mut best_index = [0i32; ROW_BLOCK * 8];
    let mut runner_up = [f32::INFINITY; ROW_BLOCK * 8];
    for block in (0..packed.panels).step_by(PANELS_PER_BLOCK) {
        let block_end = (block + PANELS_PER_BLOCK).min(packed.panels);
        for (r0, live) in row_groups(m) {
            // Past `live` (a 2- or 4-row tile reads only its rows), the first row stands in.
            let row_ptr: [*const f32; MR] =
                std::array::from_fn(|i| rows[(r0 + if i < live { i } else { 0 }) * d..].as_ptr());
            for panel in block..block_end {
                let half = packed.half_last && panel + 1 == packed.panels;
                // SAFETY: every row pointer has d readable values, the panel d × NR.
                let scores = unsafe { panel_scores(row_ptr, live, packed.data[panel * d * NR..].as_ptr(), d, half) };
                let norms = &packed.norms[panel * NR..(panel + 1) * NR];
                let first = (panel * NR) as i32;
                for (i, &[lo, hi]) in scores.iter().enumerate().take(live) {
                    let slot = (r0 + i) * 8..(r0 + i) * 8 + 8;
                    let (best, best_index) = (&mut best[slot.clone()], &mut best_index[slot.clone()]);
                    // SAFETY: every slice holds 8 values.
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
        let (values, indices) = (&best[r * 8..r * 8 + 8], &best_index[r * 8..r * 8 + 8]);
        let mut winner = (f32::INFINITY, 0i32, 0usize);
        for (lane, (&v, &i)) in values.iter().zip(indices).enumerate() {
            if v < winner.0 || (v == winner.0 && i < winner.1) {
                winner = (v, i, lane);
            }
        }
        *label = winner.1 as u32;
        if TOP2 {
            // The second smallest overall: a runner-up of any lane, or another lane's best.
            let others = values.iter().enumerate().filter(|&(lane, _)| lane != winner.2).map(|(_, &v)| v);
            second[r] = runner_up[r * 8..r * 8 + 8].iter().copied().chain(others).fold(f32::INFINITY, f32::min);
        }
    }
}

/// The groups of rows `(first, rows)` a block of `m` rows is scanned in, by this kernel and the
/// float64 one: six at a time, the last seven or eight as 4 + 3 or 4 + 4 (a block of 128 is
/// 20 × 6 + 4 + 4), one or two last rows on their own. A group runs a tile of 2, 4 or 6 rows: a
/// 6-row tile for a short group would compute rows only to drop them.
pub(crate) fn row_groups(m: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut r0 = 0;
    std::iter::from_fn(move || {
        let left = m.checked_sub(r0).filter(|&left| left > 0)?;
        let live = if left >= MR && left != 7 && left != 8 { MR } else { left.min(4) };
        r0 += live;
        Some((r0 - live, live))
    })
}

/// The dot products of the first `live` rows with one panel (`half`: its upper eight centres
/// are padding), by a tile of 2, 4 or 6 rows ([`row_groups`]). Rows past `live` are unset.
///
/// Not itself compiled for AVX2, but always inlined into the scan, which is: there the tiles'
/// intrinsics are single instructions.
#[inline(always)]
unsafe fn panel_scores(
    rows: [*const f32; MR],
    live: usize,
    panel: *const f32,
    d: usize,
    half: bool,
) -> [[__m256; 2]; MR] {
    #[inline(always)]
    unsafe fn tile<const R: usize, const HALF: bool>(
        rows: [*const f32; MR],
        panel: *const f32,
        d: usize,
    ) -> [[__m256; 2]; MR] {
        let first: [*const f32; R] = std::array::from_fn(|i| rows[i]);
        // SAFETY: forwarded; the caller has AVX2 and FMA.
        let scores = unsafe { microtile::<R, HALF>(first, panel, d) };
        // SAFETY: an all-zero bit pattern is a valid __m256.
        let mut out: [[__m256; 2]; MR] = unsafe { std::mem::zeroed() };
        out[..R].copy_from_slice(&scores);
        out
    }
    // SAFETY: forwarded.
    unsafe {
        match (live, half) {
            (0..=2, false) => tile::<2, false>(rows, panel, d),
            (0..=2, true) => tile::<2, true>(rows, panel, d),
            (3..=4, false) => tile::<4, false>(rows, panel, d),
            (3..=4, true) => tile::<4, true>(rows, panel, d),
            (_, false) => tile::<MR, false>(rows, panel, d),
            (_, true) => tile::<MR, true>(rows, panel, d),
        }
    }
}

/// The R × NR dot products of `R` rows with one panel, as two ymm halves per row. With `HALF`
/// the panel's upper eight centres are all padding: their products are the zeros the full tile
/// would compute for those zero centres, without the multiply-adds.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn microtile<const R: usize, const HALF: bool>(
    rows: [*const f32; R],
    panel: *const f32,
    d: usize,
) -> [[__m256; 2]; R] {
    let mut acc = [[_mm256_setzero_ps(); 2]; R];
    let mut c = panel;
    for p in 0..d {
        // SAFETY: p < d, so every read is inside its row and the panel.
        unsafe {
            let c0 = _mm256_loadu_ps(c);
            let c1 = if HALF { _mm256_setzero_ps() } else { _mm256_loadu_ps(c.add(8)) };
            for i in 0..R {
                let x = _mm256_broadcast_ss(&*rows[i].add(p));
                acc[i][0] = _mm256_fmadd_ps(x, c0, acc[i][0]);
                if !HALF {
                    acc[i][1] = _mm256_fmadd_ps(x, c1, acc[i][1]);
                }
            }
            c = c.add(NR);
        }
    }
    acc
}

/// Folds one row's 16 dot products into its running best (8 lanes).
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn fold(lo: __m256, hi: __m256, norms: &[f32], first: i32, best: &mut [f32], best_index: &mut [i32]) {
    // SAFETY: norms has NR values, best and best_index 8 each.
    unsafe {
        let minus_two = _mm256_set1_ps(-2.0);
        let s_lo = _mm256_fmadd_ps(lo, minus_two, _mm256_loadu_ps(norms.as_ptr()));
        let s_hi = _mm256_fmadd_ps(hi, minus_two, _mm256_loadu_ps(norms.as_ptr().add(8)));
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let i_lo = _mm256_add_epi32(_mm256_set1_epi32(first), lane);
        let i_hi = _mm256_add_epi32(_mm256_set1_epi32(first + 8), lane);
        // The upper half wins a lane only when strictly smaller (its indices are higher).
        let hi_wins = _mm256_cmp_ps::<_CMP_LT_OQ>(s_hi, s_lo);
        // min(a, b) is `a < b ? a : b`, the blend it replaces (NaN and ±0 included); LLVM turned
        // the stored blend into a masked store (vmaskmov), which is slow on AMD.
        let s = _mm256_min_ps(s_hi, s_lo);
        let i = _mm256_blendv_epi8(i_lo, i_hi, _mm256_castps_si256(hi_wins));
        let old = _mm256_loadu_ps(best.as_ptr());
        let old_i = _mm256_loadu_si256(best_index.as_ptr().cast());
        let wins = _mm256_cmp_ps::<_CMP_LT_OQ>(s, old);
        _mm256_storeu_ps(best.as_mut_ptr(), _mm256_min_ps(s, old));
        _mm256_storeu_si256(best_index.as_mut_ptr().cast(), _mm256_blendv_epi8(old_i, i, _mm256_castps_si256(wins)));
    }
}

/// [`fold`], also keeping each lane's second-smallest score. The two halves are merged one after
/// the other (lower indices first), so each lane still keeps the lowest index among equal bests.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn fold_top2(
    lo: __m256,
    hi: __m256,
    norms: &[f32],
    first: i32,
    best: &mut [f32],
    best_index: &mut [i32],
    runner_up: &mut [f32],
) {
    // SAFETY: norms has NR values, the others 8 each.
    unsafe {
        let minus_two = _mm256_set1_ps(-2.0);
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let mut b = _mm256_loadu_ps(best.as_ptr());
        let mut bi = _mm256_loadu_si256(best_index.as_ptr().cast());
        let mut r = _mm256_loadu_ps(runner_up.as_ptr());
        for (half, acc) in [lo, hi].into_iter().enumerate() {
            let s = _mm256_fmadd_ps(acc, minus_two, _mm256_loadu_ps(norms.as_ptr().add(8 * half)));
            let i = _mm256_add_epi32(_mm256_set1_epi32(first + 8 * half as i32), lane);
            let wins = _mm256_cmp_ps::<_CMP_LT_OQ>(s, b);
            // The runner-up becomes the old best when s wins, else s if it beats the runner-up.
            r = _mm256_min_ps(r, _mm256_max_ps(b, s));
            b = _mm256_min_ps(s, b);
            bi = _mm256_blendv_epi8(bi, i, _mm256_castps_si256(wins));
        }
        _mm256_storeu_ps(best.as_mut_ptr(), b);
        _mm256_storeu_si256(best_index.as_mut_ptr().cast(), bi);
        _mm256_storeu_ps(runner_up.as_mut_ptr(), r);
    }
}
