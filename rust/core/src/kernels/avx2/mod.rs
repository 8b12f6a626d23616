//! The assignment microkernel for x86-64 with AVX2 and FMA: dot products and the argmin in
//! registers, no tile written to memory. One body serves float32 (eight lanes to a register) and
//! float64 (four), through a `Lanes` trait (lanes.rs).
//!
//! Same identity as [`crate::kernels::distance`]: the nearest centre minimises `||c||² − 2 x·c`.
//! Centres are packed once per call into panels of `NR` = two registers (16 float32 or 8 float64
//! centres; feature-major: for each feature, the panel's values side by side), the last panel
//! padded with centres of norm +∞ that never win; when its upper register is all padding (k = 100
//! in float32 ends in a panel of four) it is scanned at half width, skipping their multiply-adds.
//! A 6-row × NR microtile keeps its twelve accumulators in registers for the whole dot product
//! (the BLIS Haswell shape: 12 FMAs per 2 loads + 6 broadcasts), then folds `||c||² − 2 x·c` into
//! a running best per row and lane.
//!
//! Ties: lane `l` of a row's running best only ever sees centres `NR·p + l` and
//! `NR·p + LANES + l` in increasing order and replaces its best only on a strictly smaller score,
//! so it keeps the lowest index among its equal scores; the final horizontal step takes the
//! smallest score and, among lanes that hold it, the lowest index. Rows are independent, so
//! results do not depend on how rows are split across threads.
//!
//! Cost of the one body, measured against the two hand-written kernels it replaced (same data,
//! builds alternated six times, best of 10 each): brute-force assignment of 1M × 32, k = 100, is
//! about 2% slower in float32 (45.0–46.5 ms against 44.1–45.3) and about 3.5% slower in float64
//! (76.3–78.2 ms against 73.7–75.4; without the new float64 half-width last panel it was 5%); one
//! mini-batch epoch is unchanged within noise. We keep the one body for what it saves: every
//! change to the scan, the tiles or the folds is made, and tested, once. Tried and slower: spilling the running bests in their own precision for the
//! final horizontal step (float32 assignment 52–54 ms), and the tiles and folds forced inline
//! without their own `target_feature`.

mod lanes;
/// Rows of at most eight features: one row per lane, the same bits as [`scan`].
mod narrow;
/// Squared distances of four pairs of rows at once (eight with AVX-512).
mod pairs;
/// Panels in AVX-512 registers, one or two at a time, for the full and the listed scans.
mod wide;

use std::arch::x86_64::*;

pub(crate) use lanes::Lanes;
pub(crate) use narrow::{assign_narrow_rows, narrow_lanes, narrow_width};
#[cfg(test)]
pub(crate) use narrow::{assign_narrow_rows_on, NARROW, NARROW_WIDE};
pub(crate) use pairs::{fold_eights, sq_dists4, sq_dists8};

use crate::kernels::parallel::{CENTER_BLOCK, GROUPED_ROWS, ROW_BLOCK};

/// Rows per microtile.
pub(crate) const MR: usize = 6;

/// Whether the full and the listed scans take the AVX-512 tiles here (`wide.rs`; decided once).
pub fn wide_available() -> bool {
    wide::available()
}

/// Whether this CPU runs the kernel (checked once; the standard library caches the answer).
pub fn available() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// Centres packed into panels of two registers, with their squared norms.
pub(crate) struct Packed<T> {
    /// panels × d × NR values.
    data: Vec<T>,
    /// panels × NR norms; +∞ for the padding centres.
    norms: Vec<T>,
    panels: usize,
    d: usize,
    /// Whether the last panel's upper register holds only padding.
    half_last: bool,
}

impl<T: Lanes> Packed<T> {
    /// Centres per panel.
    const NR: usize = 2 * T::LANES;

    /// Packs k × d row-major `centers` whose squared norms are `norms`. The padding centres are
    /// zeros of norm +∞, which never win.
    pub(crate) fn new(centers: &[T], norms: &[T], d: usize) -> Self {
        let nr = Self::NR;
        let tail = norms.len() % nr;
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
        Self { data, norms: padded, panels, d, half_last: tail != 0 && tail <= T::LANES }
    }
}

/// Nearest centre of each of the `labels.len()` (at most `ROW_BLOCK`) rows of `rows` (row-major,
/// `d` = the packed `d`).
///
/// # Safety
/// The CPU must support AVX2 and FMA ([`available`]).
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn assign_rows<T: Lanes>(packed: &Packed<T>, rows: &[T], labels: &mut [u32]) {
    // SAFETY: forwarded; the wide scan only where the CPU has AVX-512F.
    unsafe {
        if wide::worth(packed.panels, packed.half_last) {
            scan_wide::<T, false>(packed, rows, None, labels, &mut [])
        } else {
            scan::<T, false>(packed, rows, None, labels, &mut [])
        }
    }
}

/// [`assign_rows`], plus each row's second-smallest score `||c||² − 2 x·c` over the centres
/// (+∞ with a single centre), widened to `f64`: what a lower bound on the distance to every other
/// centre needs.
///
/// # Safety
/// The CPU must support AVX2 and FMA ([`available`]).
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn assign_rows_top2<T: Lanes>(
    packed: &Packed<T>,
    rows: &[T],
    labels: &mut [u32],
    second: &mut [f64],
) {
    assert_eq!(second.len(), labels.len());
    // SAFETY: forwarded; the wide scan only where the CPU has AVX-512F.
    unsafe {
        if wide::worth(packed.panels, packed.half_last) {
            scan_wide::<T, true>(packed, rows, None, labels, second)
        } else {
            scan::<T, true>(packed, rows, None, labels, second)
        }
    }
}

/// [`assign_rows_top2`] of the rows of `rows` that `list` names (row `list[i]` gives `labels[i]`
/// and `second[i]`), read where they are: the same bits as of those rows gathered first.
///
/// # Safety
/// The CPU must support AVX2 and FMA ([`available`]).
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn assign_listed_top2<T: Lanes>(
    packed: &Packed<T>,
    rows: &[T],
    list: &[usize],
    labels: &mut [u32],
    second: &mut [f64],
) {
    assert!(list.len() == labels.len() && second.len() == labels.len());
    assert!(list.iter().all(|&r| (r + 1) * packed.d <= rows.len()), "listed rows inside the rows");
    // SAFETY: forwarded; the wide scan only where the CPU has AVX-512F.
    unsafe {
        if wide::worth(packed.panels, packed.half_last) {
            scan_wide::<T, true>(packed, rows, Some(list), labels, second)
        } else {
            scan::<T, true>(packed, rows, Some(list), labels, second)
        }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn scan<T: Lanes, const TOP2: bool>(
    packed: &Packed<T>,
    rows: &[T],
    list: Option<&[usize]>,
    labels: &mut [u32],
    second: &mut [f64],
) {
    // SAFETY: forwarded.
    unsafe { scan_body::<T, TOP2, false, MR>(packed, rows, list, labels, second) }
}

/// [`scan`] with pairs of panels in AVX-512 registers ([`wide`]): the same bits.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn scan_wide<T: Lanes, const TOP2: bool>(
    packed: &Packed<T>,
    rows: &[T],
    list: Option<&[usize]>,
    labels: &mut [u32],
    second: &mut [f64],
) {
    // SAFETY: forwarded.
    unsafe { scan_body::<T, TOP2, true, { wide::ROWS }>(packed, rows, list, labels, second) }
}

/// The full scan, `G` rows to a tile: of the first `labels.len()` rows of `rows`, or where `list`
/// is given, of the rows it names. With `WIDE` (compiled into [`scan_wide`] only, `G` =
/// [`wide::ROWS`]), two panels at a time go through one AVX-512 tile whose halves are the AVX2
/// tiles' registers, folded in panel order; else `G` = [`MR`].
#[inline(always)]
unsafe fn scan_body<T: Lanes, const TOP2: bool, const WIDE: bool, const G: usize>(
    packed: &Packed<T>,
    rows: &[T],
    list: Option<&[usize]>,
    labels: &mut [u32],
    second: &mut [f64],
) {
    let (m, d, nr) = (labels.len(), packed.d, Packed::<T>::NR);
    match list {
        Some(list) => assert!(m <= ROW_BLOCK && list.len() == m && list.iter().all(|&r| (r + 1) * d <= rows.len())),
        None => assert!(m <= ROW_BLOCK && rows.len() >= m * d),
    }
    let row_of = |i: usize| list.map_or(i, |list| list[i]);
    // Running best (and second best) per row: one register of scores and one of indices. The
    // panels of a block of centres stay in L2 while every microtile of the rows runs over them.
    // SAFETY: the CPU has AVX2 (this function's contract).
    let infinity = unsafe { T::set(T::INFINITY) };
    let mut best = [infinity; ROW_BLOCK];
    // SAFETY: as above.
    let mut best_index = [unsafe { _mm256_setzero_si256() }; ROW_BLOCK];
    let mut runner_up = [infinity; ROW_BLOCK];
    let panels_per_block = CENTER_BLOCK / nr;
    for block in (0..packed.panels).step_by(panels_per_block) {
        let block_end = (block + panels_per_block).min(packed.panels);
        for (r0, live) in groups_of::<G>(m) {
            // Past `live` (a shorter tile reads only its rows), the first row stands in.
            let row_ptr: [*const T; G] =
                std::array::from_fn(|i| rows[row_of(r0 + if i < live { i } else { 0 }) * d..].as_ptr());
            let mut panel = block;
            while panel < block_end {
                let half = packed.half_last && panel + 1 == packed.panels;
                // Two panels at once where the wide tile runs, a lone one alone. A half-width last
                // panel is paired whole: its padding centres' products, zeros (NaN for a row of
                // infinities) where the half tile leaves zeros, are folded against norms of +∞
                // and lose either way, so the bits are the same.
                let pair = WIDE && panel + 1 < block_end;
                let data = packed.data[panel * d * nr..].as_ptr();
                let tiles: [[[T::V; 2]; G]; 2] = if WIDE {
                    // A lone panel, half-width or not, in one zmm register: as a paired one.
                    // SAFETY: every row pointer has d readable values, each panel d × NR; the CPU
                    // has AVX-512F (only `scan_wide` compiles this).
                    unsafe { wide::scores::<T, G>(row_ptr, live, data, pair, d) }
                } else {
                    // SAFETY: every row pointer has d readable values, the panel d × NR.
                    let one = unsafe { panel_scores::<T, G>(row_ptr, live, data, d, half) };
                    [one, one]
                };
                for (offset, scores) in tiles.iter().enumerate().take(if pair { 2 } else { 1 }) {
                    let norms = packed.norms[(panel + offset) * nr..].as_ptr();
                    let first = ((panel + offset) * nr) as i64;
                    for (i, &[lo, hi]) in scores.iter().enumerate().take(live) {
                        let r = r0 + i;
                        // SAFETY: norms holds NR values.
                        unsafe {
                            if TOP2 {
                                fold_top2::<T>(
                                    lo,
                                    hi,
                                    norms,
                                    first,
                                    &mut best[r],
                                    &mut best_index[r],
                                    &mut runner_up[r],
                                );
                            } else {
                                fold::<T>(lo, hi, norms, first, &mut best[r], &mut best_index[r]);
                            }
                        }
                    }
                }
                panel += if pair { 2 } else { 1 };
            }
        }
    }
    for (r, label) in labels.iter_mut().enumerate() {
        // SAFETY: as above.
        let (values, indices) = unsafe { (T::spill(best[r]), T::spill_indices(best_index[r])) };
        let mut winner = (f64::INFINITY, 0i64, 0usize);
        for (lane, (&v, &i)) in values.iter().zip(&indices).enumerate().take(T::LANES) {
            if v < winner.0 || (v == winner.0 && i < winner.1) {
                winner = (v, i, lane);
            }
        }
        *label = winner.1 as u32;
        if TOP2 {
            // The second smallest overall: a runner-up of any lane, or another lane's best.
            let others =
                values.iter().take(T::LANES).enumerate().filter(|&(lane, _)| lane != winner.2).map(|(_, &v)| v);
            // SAFETY: as above.
            let runner_up = unsafe { T::spill(runner_up[r]) };
            second[r] = runner_up.iter().take(T::LANES).copied().chain(others).fold(f64::INFINITY, f64::min);
        }
    }
}

/// The nearest centre of some rows among some panels, and each row's smallest score per panel:
/// the scan of the grouped bounded pass. `lists[2p]` names the rows of `rows` (row-major, `d` =
/// the packed `d`; block-relative, fewer than `GROUPED_ROWS`) to scan against panel `p`, and
/// `lists[2p + 1]` those to scan against its lower register only (its first `LANES` centres:
/// half the multiply-adds); `flagged` names every row in any list. `ids[q]` is the index of the centre at packed position `q` (the panels
/// hold the centres in any order; padding positions hold `i32::MAX`). For every flagged row `r`:
/// `labels[r]` = the index of its nearest centre among the panels scanned (smallest score
/// `||c||² − 2 x·c`, ties to the lowest index, as [`assign_rows`] decides), `seconds[r]` = the
/// second-smallest score among them; for every row `r` in `lists[2p]` or `lists[2p + 1]`:
/// `panel_min[r · panels + p]` = its smallest score over the centres of panel `p` it was scanned
/// against. Scores are widened to `f64`; a centre's score does not
/// depend on its panel, lane or tile, so they are the bits [`assign_rows`] compares.
///
/// The running best of each row is kept per lane, as in [`scan`], but ordered by (score, index),
/// since a lane does not see its centres in index order.
///
/// # Safety
/// The CPU must support AVX2 and FMA ([`available`]).
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn scan_lists<T: Lanes>(
    packed: &Packed<T>,
    ids: &[i32],
    rows: &[T],
    lists: &[Vec<u32>],
    flagged: &[u32],
    labels: &mut [u32],
    seconds: &mut [f64],
    panel_min: &mut [f64],
) {
    // SAFETY: forwarded; the wide tiles only where the CPU has AVX-512F.
    unsafe {
        if wide::available() {
            scan_lists_wide(packed, ids, rows, lists, flagged, labels, seconds, panel_min)
        } else {
            scan_lists_avx2(packed, ids, rows, lists, flagged, labels, seconds, panel_min)
        }
    }
}

/// [`scan_lists`] with the AVX2 tiles only.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
unsafe fn scan_lists_avx2<T: Lanes>(
    packed: &Packed<T>,
    ids: &[i32],
    rows: &[T],
    lists: &[Vec<u32>],
    flagged: &[u32],
    labels: &mut [u32],
    seconds: &mut [f64],
    panel_min: &mut [f64],
) {
    // SAFETY: forwarded.
    unsafe { scan_lists_body::<T, false>(packed, ids, rows, lists, flagged, labels, seconds, panel_min) }
}

/// [`scan_lists`] with each full-width panel in one AVX-512 register, against [`wide::ROWS`]
/// rows at a time ([`wide::scores`]): the same bits.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn scan_lists_wide<T: Lanes>(
    packed: &Packed<T>,
    ids: &[i32],
    rows: &[T],
    lists: &[Vec<u32>],
    flagged: &[u32],
    labels: &mut [u32],
    seconds: &mut [f64],
    panel_min: &mut [f64],
) {
    // SAFETY: forwarded.
    unsafe { scan_lists_body::<T, true>(packed, ids, rows, lists, flagged, labels, seconds, panel_min) }
}

/// [`scan_lists`]; with `WIDE` (compiled into [`scan_lists_wide`] only), full-width panels go
/// through the AVX-512 tile.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn scan_lists_body<T: Lanes, const WIDE: bool>(
    packed: &Packed<T>,
    ids: &[i32],
    rows: &[T],
    lists: &[Vec<u32>],
    flagged: &[u32],
    labels: &mut [u32],
    seconds: &mut [f64],
    panel_min: &mut [f64],
) {
    let (d, nr, panels) = (packed.d, Packed::<T>::NR, packed.panels);
    assert!(lists.len() == 2 * panels && ids.len() >= panels * nr);
    assert!(flagged
        .iter()
        .chain(lists.iter().flatten())
        .all(|&r| (r as usize) < GROUPED_ROWS && (r as usize + 1) * d <= rows.len()));
    assert!(labels.len() >= GROUPED_ROWS.min(rows.len() / d.max(1)) && seconds.len() >= labels.len());
    assert!(panel_min.len() >= labels.len() * panels);
    // SAFETY: the CPU has AVX2 (this function's contract).
    let (infinity, no_index) = unsafe { (T::set(T::INFINITY), T::load_indices([i32::MAX; 8].as_ptr())) };
    // Per row: its running best, their indices and its runner-up (see `fold_listed`).
    let mut running = [(infinity, no_index, infinity); GROUPED_ROWS];
    // The full-width list of a panel paired with the one before (the same rows): already scanned.
    let mut done = usize::MAX;
    for (list, which) in lists.iter().enumerate().filter(|(_, w)| !w.is_empty()) {
        let panel = list / 2;
        // Scanned at half width, the upper register's centres are left out (as +∞ scores).
        let lower_only = list % 2 == 1;
        let half = lower_only || (packed.half_last && panel + 1 == panels);
        let data = packed.data[panel * d * nr..].as_ptr();
        let norms = packed.norms[panel * nr..].as_ptr();
        let ids = ids[panel * nr..].as_ptr();
        if WIDE && !half {
            if list == done {
                continue;
            }
            // The next panel, at full width, with the same rows (every panel, in the first pass):
            // the two together through the pair tile.
            let next = list + 2;
            let pair = next < lists.len() && !(packed.half_last && panel + 2 == panels) && lists[next] == *which;
            if pair {
                done = next;
            }
            for r0 in (0..which.len()).step_by(wide::ROWS) {
                let live = (which.len() - r0).min(wide::ROWS);
                let row_ptr = listed_rows::<T, { wide::ROWS }>(rows, d, &which[r0..], live);
                // SAFETY: every row pointer has d readable values, each panel d × NR; the CPU has
                // AVX-512F (only `scan_lists_wide` compiles this).
                let tiles = unsafe { wide::scores::<T, { wide::ROWS }>(row_ptr, live, data, pair, d) };
                for (offset, tile) in tiles.iter().enumerate().take(1 + usize::from(pair)) {
                    // SAFETY: the packing has NR norms and ids for each panel.
                    let (norms, ids) = unsafe { (norms.add(offset * nr), ids.add(offset * nr)) };
                    for (i, &[lo, hi]) in tile.iter().enumerate().take(live) {
                        let r = which[r0 + i] as usize;
                        // SAFETY: norms and ids hold NR values each.
                        panel_min[r * panels + panel + offset] =
                            unsafe { fold_listed::<T>(lo, hi, false, norms, ids, &mut running[r]) };
                    }
                }
            }
            continue;
        }
        for (r0, live) in row_groups(which.len()) {
            let row_ptr = listed_rows::<T, MR>(rows, d, &which[r0..], live);
            // SAFETY: every row pointer has d readable values, the panel d × NR.
            let tile = unsafe { panel_scores::<T, MR>(row_ptr, live, data, d, half) };
            for (i, &[lo, hi]) in tile.iter().enumerate().take(live) {
                let r = which[r0 + i] as usize;
                // SAFETY: norms and ids hold NR values each.
                panel_min[r * panels + panel] =
                    unsafe { fold_listed::<T>(lo, hi, lower_only, norms, ids, &mut running[r]) };
            }
        }
    }
    for &r in flagged {
        let r = r as usize;
        // SAFETY: as above.
        let (best, best_index, runner_up) = running[r];
        let (values, indices, runner_up) =
            unsafe { (T::spill(best), T::spill_indices(best_index), T::spill(runner_up)) };
        let mut winner = (f64::INFINITY, i64::MAX, 0usize);
        for (lane, (&v, &i)) in values.iter().zip(&indices).enumerate().take(T::LANES) {
            if v < winner.0 || (v == winner.0 && i < winner.1) {
                winner = (v, i, lane);
            }
        }
        labels[r] = winner.1 as u32;
        let others = values.iter().take(T::LANES).enumerate().filter(|&(lane, _)| lane != winner.2).map(|(_, &v)| v);
        seconds[r] = runner_up.iter().take(T::LANES).copied().chain(others).fold(f64::INFINITY, f64::min);
    }
}

/// Pointers to the rows (of `d` values in row-major `rows`) that the first `live` of `which`
/// name, for a tile of `G`; past `live` the first row stands in.
#[inline(always)]
fn listed_rows<T, const G: usize>(rows: &[T], d: usize, which: &[u32], live: usize) -> [*const T; G] {
    std::array::from_fn(|i| rows[which[if i < live { i } else { 0 }] as usize * d..].as_ptr())
}

/// Folds one row's dot products with a panel (`lower_only`: with its lower register only) into
/// the row's `running` best per lane, its index and the lane's runner-up, ordered by (score,
/// index), and returns the row's smallest score over the panel (widened to `f64`).
///
/// # Safety
/// The CPU must support AVX2 and FMA; `norms` and `ids` must hold NR values each.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn fold_listed<T: Lanes>(
    lo: T::V,
    hi: T::V,
    lower_only: bool,
    norms: *const T,
    ids: *const i32,
    running: &mut (T::V, __m256i, T::V),
) -> f64 {
    // SAFETY: the caller's.
    unsafe {
        let minus_two = T::set(T::from_f64(-2.0));
        let s_lo = T::fmadd(lo, minus_two, T::load(norms));
        let s_hi = if lower_only { T::set(T::INFINITY) } else { T::fmadd(hi, minus_two, T::load(norms.add(T::LANES))) };
        let (mut b, mut bi, mut ru) = *running;
        for (s, at) in [(s_lo, 0), (s_hi, T::LANES)] {
            let i = T::load_indices(ids.add(at));
            let tie = _mm256_and_si256(T::equal(s, b), T::index_less(i, bi));
            let wins = _mm256_or_si256(T::less(s, b), tie);
            // A NaN score (overflowing rows) leaves the runner-up as it is.
            ru = T::min(T::max(b, s), ru);
            b = T::min(s, b);
            bi = _mm256_blendv_epi8(bi, i, wins);
        }
        *running = (b, bi, ru);
        T::first(T::hmin(T::min(s_lo, s_hi)))
    }
}

/// Centres per panel: [`scan_lists`]' groups.
pub(crate) fn panel_width<T: Lanes>() -> usize {
    Packed::<T>::NR
}

/// The groups of rows `(first, rows)` a block of `m` rows is scanned in by tiles of `G` rows: `G`
/// at a time, the rest as [`row_groups`] cuts it (all of them, for the AVX2 tile's `G` = [`MR`]).
fn groups_of<const G: usize>(m: usize) -> impl Iterator<Item = (usize, usize)> {
    let whole = if G == MR { 0 } else { m / G * G };
    (0..whole).step_by(G).map(|r0| (r0, G)).chain(row_groups(m - whole).map(move |(r0, live)| (r0 + whole, live)))
}

/// The groups of rows `(first, rows)` a block of `m` rows is scanned in: six at a time, the last
/// seven or eight as 4 + 3 or 4 + 4 (a block of 128 is 20 × 6 + 4 + 4), one or two last rows on
/// their own. A group runs a tile of 2, 4 or 6 rows: a 6-row tile for a short group would compute
/// rows only to drop them.
pub(crate) fn row_groups(m: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut r0 = 0;
    std::iter::from_fn(move || {
        let left = m.checked_sub(r0).filter(|&left| left > 0)?;
        let live = if left >= MR && left != 7 && left != 8 { MR } else { left.min(4) };
        r0 += live;
        Some((r0 - live, live))
    })
}

/// The dot products of the first `live` of `M` rows with one panel (`half`: its upper register
/// is padding), by a tile of 2, 4 or `M` rows ([`row_groups`], with `M` = [`MR`]). Rows past
/// `live` are unset.
///
/// Not itself compiled for AVX2, but always inlined into the scan, which is: there the tiles'
/// intrinsics are single instructions.
#[inline(always)]
unsafe fn panel_scores<T: Lanes, const M: usize>(
    rows: [*const T; M],
    live: usize,
    panel: *const T,
    d: usize,
    half: bool,
) -> [[T::V; 2]; M] {
    #[inline(always)]
    unsafe fn tile<T: Lanes, const M: usize, const R: usize, const HALF: bool>(
        rows: [*const T; M],
        panel: *const T,
        d: usize,
    ) -> [[T::V; 2]; M] {
        let first: [*const T; R] = std::array::from_fn(|i| rows[i]);
        // SAFETY: forwarded; the caller has AVX2 and FMA.
        let scores = unsafe { microtile::<T, R, HALF>(first, panel, d) };
        // SAFETY: the caller has AVX2.
        let mut out = [[unsafe { T::zero() }; 2]; M];
        out[..R].copy_from_slice(&scores);
        out
    }
    // SAFETY: forwarded.
    unsafe {
        match (live, half) {
            (0..=2, false) => tile::<T, M, 2, false>(rows, panel, d),
            (0..=2, true) => tile::<T, M, 2, true>(rows, panel, d),
            (3..=4, false) => tile::<T, M, 4, false>(rows, panel, d),
            (3..=4, true) => tile::<T, M, 4, true>(rows, panel, d),
            (_, false) => tile::<T, M, M, false>(rows, panel, d),
            (_, true) => tile::<T, M, M, true>(rows, panel, d),
        }
    }
}

/// The R × NR dot products of `R` rows with one panel, as two registers per row. With `HALF`
/// the panel's upper register is all padding: its products are the zeros the full tile would
/// compute for those zero centres, without the multiply-adds.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn microtile<T: Lanes, const R: usize, const HALF: bool>(
    rows: [*const T; R],
    panel: *const T,
    d: usize,
) -> [[T::V; 2]; R] {
    // SAFETY: forwarded.
    unsafe { microtile_with::<T, R, HALF>(rows, panel, d, |_| {}) }
}

/// [`microtile`], calling `step(p)` after the multiply-adds of feature p: other work interleaved
/// with them, where it waits on a unit the multiply-adds do not use (the silhouette's square
/// roots, [`crate::kernels::pairwise`]). The assignment passes an empty step, which compiles to nothing.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub(crate) unsafe fn microtile_with<T: Lanes, const R: usize, const HALF: bool>(
    rows: [*const T; R],
    panel: *const T,
    d: usize,
    mut step: impl FnMut(usize),
) -> [[T::V; 2]; R] {
    // SAFETY: the CPU has AVX2 (this function's contract).
    let zero = unsafe { T::zero() };
    let mut acc = [[zero; 2]; R];
    let mut c = panel;
    for p in 0..d {
        // SAFETY: p < d, so every read is inside its row and the panel.
        unsafe {
            let c0 = T::load(c);
            let c1 = if HALF { zero } else { T::load(c.add(T::LANES)) };
            for i in 0..R {
                let x = T::splat(rows[i].add(p));
                acc[i][0] = T::fmadd(x, c0, acc[i][0]);
                if !HALF {
                    acc[i][1] = T::fmadd(x, c1, acc[i][1]);
                }
            }
            c = c.add(2 * T::LANES);
        }
        step(p);
    }
    acc
}

/// Folds one row's NR dot products into its running best (one register).
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn fold<T: Lanes>(lo: T::V, hi: T::V, norms: *const T, first: i64, best: &mut T::V, best_index: &mut __m256i) {
    // SAFETY: norms has NR values.
    unsafe {
        let minus_two = T::set(T::from_f64(-2.0));
        // A NaN score (rows whose dot product overflows) becomes +∞ in the lower half (min returns
        // its second operand when either is NaN), so that it never hides a real score in the
        // upper half; one in the upper half loses to the lower one below. Other scores keep their
        // bits.
        let s_lo = T::min(T::fmadd(lo, minus_two, T::load(norms)), T::set(T::INFINITY));
        let s_hi = T::fmadd(hi, minus_two, T::load(norms.add(T::LANES)));
        let (i_lo, i_hi) = (T::indices(first), T::indices(first + T::LANES as i64));
        // The upper half wins a lane only when strictly smaller (its indices are higher).
        let hi_wins = T::less(s_hi, s_lo);
        // min(a, b) is `a < b ? a : b`, the blend it replaces (NaN and ±0 included); LLVM turned
        // a stored blend into a masked store (vmaskmov), which is slow on AMD.
        let s = T::min(s_hi, s_lo);
        let i = _mm256_blendv_epi8(i_lo, i_hi, hi_wins);
        let wins = T::less(s, *best);
        *best = T::min(s, *best);
        *best_index = _mm256_blendv_epi8(*best_index, i, wins);
    }
}

/// [`fold`], also keeping each lane's second-smallest score. The two halves are merged one after
/// the other (lower indices first), so each lane still keeps the lowest index among equal bests.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn fold_top2<T: Lanes>(
    lo: T::V,
    hi: T::V,
    norms: *const T,
    first: i64,
    best: &mut T::V,
    best_index: &mut __m256i,
    runner_up: &mut T::V,
) {
    // SAFETY: norms has NR values.
    unsafe {
        let minus_two = T::set(T::from_f64(-2.0));
        let (mut b, mut bi, mut r) = (*best, *best_index, *runner_up);
        for (half, acc) in [lo, hi].into_iter().enumerate() {
            let s = T::fmadd(acc, minus_two, T::load(norms.add(T::LANES * half)));
            let i = T::indices(first + (T::LANES * half) as i64);
            let wins = T::less(s, b);
            // The runner-up becomes the old best when s wins, else s if it beats the runner-up;
            // a NaN score (rows so large that the dot product overflows) leaves it as it is
            // (min returns its second operand when either is NaN).
            r = T::min(T::max(b, s), r);
            b = T::min(s, b);
            bi = _mm256_blendv_epi8(bi, i, wins);
        }
        (*best, *best_index, *runner_up) = (b, bi, r);
    }
}
