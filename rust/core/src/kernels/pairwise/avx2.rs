//! The silhouette's microkernel: sums of Euclidean distances between a block of rows and panels
//! of columns, float64, with nothing but the sums leaving the registers.
//!
//! For each panel of [`PANEL`] columns and each group of up to six rows, the assignment kernel's
//! microtile ([`crate::kernels::avx2::microtile_with`]) computes the dot products `x·y` in twelve registers;
//! the squared distances follow,
//!
//! ```text
//! ||x − y||² = max((||x||² + ||y||²) − 2 x·y, 0)
//! ```
//!
//! (clamped at zero: roundoff can make the expanded form slightly negative for near-identical
//! rows; `2 x·y` is exact, so the one rounding of the fused multiply-add gives the same value as
//! the tile path's `norm + norm − 2 dot`). Their square roots are taken during the *next* group's
//! multiply-adds (see [`Pending`]), then added to each row's sum (four lanes, in memory) and to
//! the panel's column sums. The GEMM tile path wrote each dot product to memory and read it back
//! in two more passes.
//!
//! Measured on the 2-core AMD EPYC (Zen 4) this was built on, one thread, 20,000 × 16, k = 8
//! (2 · 10⁸ pairs): GEMM tiles 0.37 s, this kernel 0.24 s. The multiply-adds alone would take
//! about 0.11 s and the float64 square roots alone about 0.12 s (one `vsqrtpd` of four lanes per
//! 2.3 ns, on a unit of its own), so the square roots bound it. Tried and slower: square roots
//! in float32 (eight lanes per `vsqrtps`) with one float64 Newton step (0.31–0.34 s: the
//! conversions and the step's registers spill the accumulators), and an `rsqrt` start with two
//! Goldschmidt steps in float64 (0.32 s).
//!
//! A panel that holds padding columns or a row's own column is *masked*: each distance is kept
//! only where the column's position differs from the row's (padding columns have position NaN,
//! which equals nothing and so counts 0).
//!
//! Every sum is added in a fixed order (panels in order, rows in order within a panel), so the
//! result depends only on the inputs, never on the thread that runs the block.

use std::array;

use crate::kernels::avx2::{microtile_with, row_groups, Lanes, MR};

/// Columns per panel: two registers of float64.
pub(crate) const PANEL: usize = 2 * <f64 as Lanes>::LANES;
/// Lanes of a row's running sum.
pub(crate) const ROW_LANES: usize = <f64 as Lanes>::LANES;

/// A block of rows against packed panels of columns, all float64 and centred alike.
pub(crate) struct Block<'a> {
    /// m × d, row-major.
    pub rows: &'a [f64],
    /// ||x||² of each of the m rows.
    pub row_norms: &'a [f64],
    /// Each row's position (the numbering the columns' positions use).
    pub row_positions: &'a [f64],
    /// panels × d × PANEL: for each panel and feature, the panel's PANEL values side by side.
    pub panels: &'a [f64],
    /// panels × PANEL squared norms.
    pub col_norms: &'a [f64],
    /// panels × PANEL positions; NaN for padding.
    pub col_positions: &'a [f64],
    /// Per panel: whether it holds padding or one of the rows' own columns.
    pub masked: &'a [bool],
    pub d: usize,
}

/// Adds each row's distances to every column to `row_sums` (`ROW_LANES` partial sums per row,
/// m × ROW_LANES) and writes each column's distances to all the rows, summed, to `col_sums`
/// (panels × PANEL).
///
/// # Safety
/// The CPU must support AVX2 and FMA ([`crate::kernels::avx2::available`]).
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn distance_sums(b: &Block<'_>, row_sums: &mut [f64], col_sums: &mut [f64]) {
    let (m, panels, d) = (b.row_norms.len(), b.masked.len(), b.d);
    assert!(b.rows.len() >= m * d && b.row_positions.len() >= m && row_sums.len() >= m * ROW_LANES);
    assert!(b.panels.len() >= panels * d * PANEL && b.col_norms.len() >= panels * PANEL);
    assert!(b.col_positions.len() >= panels * PANEL && col_sums.len() >= panels * PANEL);
    col_sums[..panels * PANEL].fill(0.0);
    // SAFETY: the CPU has AVX2 (this function's contract).
    let mut pending = Pending { squared: [unsafe { f64::zero() }; 2 * MR], r0: 0, live: 0, panel: 0 };
    for panel in 0..panels {
        let data = b.panels[panel * d * PANEL..].as_ptr();
        for (r0, live) in row_groups(m) {
            // Past `live` (a 2- or 4-row tile for fewer rows), the first row stands in; its
            // distances are never used.
            let rows: [*const f64; MR] = array::from_fn(|i| b.rows[(r0 + if i < live { i } else { 0 }) * d..].as_ptr());
            // SAFETY: the lengths are checked above; the CPU has AVX2 and FMA.
            unsafe {
                match live {
                    0..=2 => group::<2>(
                        b,
                        &mut pending,
                        array::from_fn(|i| rows[i]),
                        data,
                        (panel, r0, live),
                        row_sums,
                        col_sums,
                    ),
                    3..=4 => group::<4>(
                        b,
                        &mut pending,
                        array::from_fn(|i| rows[i]),
                        data,
                        (panel, r0, live),
                        row_sums,
                        col_sums,
                    ),
                    _ => group::<MR>(b, &mut pending, rows, data, (panel, r0, live), row_sums, col_sums),
                }
            }
        }
    }
    // SAFETY: as above.
    unsafe {
        pending.sqrt(0);
        pending.finish(b, row_sums, col_sums);
    }
}

/// The squared distances of the last group of rows (at most `MR` rows × 2 registers), waiting
/// for their square roots: those are taken during the next group's multiply-adds, one per
/// feature, so that the square-root unit works while the multipliers do. Taken all at once after
/// the tile, the square roots and the additions waiting on them filled the scheduler and the
/// multipliers waited (0.28 s instead of 0.24 s for the example above).
struct Pending {
    squared: [<f64 as Lanes>::V; 2 * MR],
    r0: usize,
    live: usize,
    panel: usize,
}

impl Pending {
    /// The square roots of the registers from `from` on (the rest were taken already).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn sqrt(&mut self, from: usize) {
        for v in self.squared.iter_mut().take(2 * self.live).skip(from) {
            // SAFETY: the CPU has AVX2.
            *v = unsafe { <f64 as Lanes>::sqrt(*v) };
        }
    }

    /// Adds the distances (square roots taken) to their rows' sums and to their panel's column
    /// sums; masked panels count 0 where a column's position is the row's own (or NaN: padding).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn finish(&self, b: &Block<'_>, row_sums: &mut [f64], col_sums: &mut [f64]) {
        let (at, lanes) = (self.panel * PANEL, <f64 as Lanes>::LANES);
        let masked = self.live > 0 && b.masked[self.panel];
        // SAFETY: the panel's positions and column sums and the rows' sums are in bounds
        // (checked by distance_sums); the CPU has AVX2.
        unsafe {
            let positions =
                [f64::load(b.col_positions[at..].as_ptr()), f64::load(b.col_positions[at + lanes..].as_ptr())];
            let mut columns = [f64::load(col_sums[at..].as_ptr()), f64::load(col_sums[at + lanes..].as_ptr())];
            for i in 0..self.live {
                let r = self.r0 + i;
                let sum = row_sums[r * ROW_LANES..].as_mut_ptr();
                let mut total = f64::load(sum);
                for h in 0..2 {
                    let mut distance = self.squared[2 * i + h];
                    if masked {
                        distance = f64::keep_unequal(positions[h], f64::set(b.row_positions[r]), distance);
                    }
                    total = <f64 as Lanes>::add(total, distance);
                    columns[h] = <f64 as Lanes>::add(columns[h], distance);
                }
                f64::store(sum, total);
            }
            f64::store(col_sums[at..].as_mut_ptr(), columns[0]);
            f64::store(col_sums[at + lanes..].as_mut_ptr(), columns[1]);
        }
    }
}

/// One group of R rows against one panel: its dot products, with the previous group's square
/// roots interleaved; that group's sums; then this group's squared distances, left pending.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn group<const R: usize>(
    b: &Block<'_>,
    pending: &mut Pending,
    rows: [*const f64; R],
    data: *const f64,
    (panel, r0, live): (usize, usize, usize),
    row_sums: &mut [f64],
    col_sums: &mut [f64],
) {
    let (d, lanes) = (b.d, <f64 as Lanes>::LANES);
    let waiting = 2 * pending.live;
    // SAFETY: every row pointer has d readable values and the panel d × PANEL; its norms are in
    // bounds (checked by distance_sums); the CPU has AVX2 and FMA.
    unsafe {
        let squared = &mut pending.squared;
        let dots = microtile_with::<f64, R, false>(rows, data, d, |p| {
            if p < waiting {
                squared[p] = <f64 as Lanes>::sqrt(squared[p]);
            }
        });
        pending.sqrt(d.min(waiting));
        pending.finish(b, row_sums, col_sums);
        let at = panel * PANEL;
        let norms = [f64::load(b.col_norms[at..].as_ptr()), f64::load(b.col_norms[at + lanes..].as_ptr())];
        let (zero, minus_two) = (f64::zero(), f64::set(-2.0));
        for (i, dot) in dots.iter().enumerate().take(live) {
            let norm = f64::set(b.row_norms[r0 + i]);
            for h in 0..2 {
                let squared = f64::fmadd(dot[h], minus_two, <f64 as Lanes>::add(norm, norms[h]));
                pending.squared[2 * i + h] = <f64 as Lanes>::max(squared, zero);
            }
        }
        (pending.r0, pending.live, pending.panel) = (r0, live, panel);
    }
}
