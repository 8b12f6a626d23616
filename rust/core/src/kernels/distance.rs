//! Nearest-centre assignment without ever materialising the n × k distance matrix.
//!
//! The identity behind the kernel:
//!
//! ```text
//! ||x - c||² = ||x||² - 2 x·c + ||c||²
//! ```
//!
//! `||x||²` is the same for every centre, so the argmin over centres only needs
//! `score(x, c) = ||c||² - 2 x·c`. Rows are taken `ROW_BLOCK` at a time and centres `CENTER_BLOCK`
//! at a time; each `x·c` tile comes from a packed GEMM microkernel (matrixmultiply, AVX2/FMA at run
//! time) into a buffer that stays in L2, and the argmin is folded into a running best per row
//! before the next tile is computed. The squared distance to the chosen centre is then recomputed
//! directly as Σ(x - c)² in `f64`: it is exact to `f64` rounding, never negative, and does not
//! suffer the cancellation of the expanded form for points near their centre.
//!
//! On x86-64 with AVX2 and FMA, float32 and float64 run microkernels that keep the dot products
//! and the argmin in registers instead ([`crate::kernels::avx2`]), and rows of at most eight
//! features a kernel that holds one row per lane (`avx2::narrow`), with the same bits.
//!
//! Blocks have a fixed size, independent of the thread count, and each row's result depends on
//! that row alone, so labels and distances are bit-identical on any number of threads.

use rayon::prelude::*;

use crate::kernels::parallel::{min_items, CENTER_BLOCK, ROW_BLOCK};
use crate::kernels::points::{sq_dist_f64, Points};
use crate::kernels::scalar::Scalar;
#[cfg(target_arch = "x86_64")]
use crate::kernels::{amx, avx2};

/// Which assignment tiles this CPU runs: `"avx512+amx"` (as `"avx512"`, and float32 labels of
/// many centres filtered through AMX tiles in bfloat16: [`crate::kernels::amx`]), `"avx512"`
/// (the AVX2 tiles, and the full scans two panels at a time in zmm registers:
/// [`crate::kernels::avx2`]'s `wide`, and narrow rows in zmm registers), `"avx2"`, or
/// `"portable"` (the packed GEMM of `matrixmultiply`). The results are the same bits on all of them.
pub fn tiles() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        return match (avx2::wide_available(), amx_runs()) {
            (true, true) => "avx512+amx",
            (true, false) => "avx512",
            (false, _) => "avx2",
        };
    }
    "portable"
}

/// Whether the AMX filter runs here: the CPU and OS run it and the AVX-512 tiles run (its folds
/// are AVX-512, so `FASTKMEANS_DISABLE_AVX512=1` turns it off too).
#[cfg(target_arch = "x86_64")]
fn amx_runs() -> bool {
    avx2::available() && avx2::wide_available() && amx::available()
}

/// `||c||²` for every row of `centers`, summed in `f64` and rounded once to `F`.
pub fn squared_norms<F: Scalar>(centers: Points<'_, F>) -> Vec<F> {
    (0..centers.n()).map(|j| F::from_f64(centers.row(j).iter().map(|&v| v.to_f64() * v.to_f64()).sum())).collect()
}

/// Assigns each row of `x` to its nearest row of `centers`; see [`crate::Backend::assign`].
pub fn assign<F: Scalar>(x: Points<'_, F>, centers: Points<'_, F>, labels: &mut [u32], dist2: &mut [f64]) {
    assert!(labels.len() == x.n() && dist2.len() == x.n(), "one label and distance per row");
    let kernel = Kernel::new(centers);
    let blocks = labels.par_chunks_mut(ROW_BLOCK).zip(dist2.par_chunks_mut(ROW_BLOCK)).enumerate();
    blocks.with_min_len(min_items(ROW_BLOCK * centers.n() * x.d())).for_each_init(
        || kernel.tile(),
        |tile, (block, (labels, dist2))| {
            let (start, end) = (block * ROW_BLOCK, block * ROW_BLOCK + labels.len());
            // The next block is (almost always) this thread's next: fetched while this one's
            // distances are computed.
            let ahead = x.rows(end, (end + ROW_BLOCK).min(x.n())).as_slice();
            kernel.assign_block(x.rows(start, end), tile, labels, dist2, ahead);
        },
    );
}

/// The centres, prepared once per assignment for whichever kernel runs: the AVX2/FMA
/// microkernel ([`crate::kernels::avx2`]) where the CPU has it, else GEMM tiles (matrixmultiply)
/// with a separate argmin pass.
pub(crate) struct Kernel<'a, F> {
    centers: Points<'a, F>,
    norms: Vec<F>,
    #[cfg(target_arch = "x86_64")]
    micro: Option<Micro>,
    /// Whether the AMX filter labels here (float32 centres, [`amx_worth`]); its tiles, packed at
    /// first use ([`Kernel::amx`]): the grouped passes build kernels that never label whole rows.
    #[cfg(target_arch = "x86_64")]
    amx_wanted: bool,
    #[cfg(target_arch = "x86_64")]
    amx: std::sync::OnceLock<Option<amx::Packed>>,
}

/// Whether k centres of d features take the AMX filter for labels ([`crate::kernels::amx`]).
#[cfg(target_arch = "x86_64")]
fn amx_worth(k: usize, d: usize) -> bool {
    k >= AMX_MIN_CENTERS && d >= AMX_MIN_FEATURES && amx_runs()
}

/// Fewer centres than this, or fewer features: the exact tiles label alone. The filter's cost
/// per row (its rows in bfloat16, the fold of the tiles' scores, the margin and the candidates)
/// is about what the exact tiles spend on a row against a few hundred centres. Measured
/// (`assign`, both taking turns, the filter's time / the exact tiles'): 200,000 × 128 at k =
/// 256 0.79, at 512 0.56, at 1,000 0.49; 200,000 × 24, k = 1,000 0.6; 1,000,000 × 32 at k = 300
/// 1.0, at 100 1.5; 100,000 × 24, k = 64 three times as slow.
#[cfg(target_arch = "x86_64")]
const AMX_MIN_CENTERS: usize = 256;
#[cfg(target_arch = "x86_64")]
const AMX_MIN_FEATURES: usize = 24;

/// The microkernel's panels, in the centres' precision.
#[cfg(target_arch = "x86_64")]
enum Micro {
    F32(avx2::Packed<f32>),
    F64(avx2::Packed<f64>),
}

impl<'a, F: Scalar> Kernel<'a, F> {
    pub(crate) fn new(centers: Points<'a, F>) -> Self {
        assert!(centers.n() >= 1, "at least one centre is required");
        let norms = squared_norms(centers);
        #[cfg(target_arch = "x86_64")]
        let micro = if !avx2::available() {
            None
        } else if let (Some(c), Some(n)) = (F::as_f32(centers.as_slice()), F::as_f32(&norms)) {
            Some(Micro::F32(avx2::Packed::new(c, n, centers.d())))
        } else if let (Some(c), Some(n)) = (F::as_f64(centers.as_slice()), F::as_f64(&norms)) {
            Some(Micro::F64(avx2::Packed::new(c, n, centers.d())))
        } else {
            None
        };
        #[cfg(target_arch = "x86_64")]
        let amx_wanted = matches!(micro, Some(Micro::F32(_))) && amx_worth(centers.n(), centers.d());
        Self {
            centers,
            norms,
            #[cfg(target_arch = "x86_64")]
            micro,
            #[cfg(target_arch = "x86_64")]
            amx_wanted,
            #[cfg(target_arch = "x86_64")]
            amx: std::sync::OnceLock::new(),
        }
    }

    /// The centres as AMX tiles, where the filter labels (packed at the first call), unless a
    /// centre is out of its reach (`amx::Packed::new`).
    #[cfg(target_arch = "x86_64")]
    fn amx(&self) -> Option<&amx::Packed> {
        if !self.amx_wanted {
            return None;
        }
        let pack =
            || amx::Packed::new(as_f32(self.centers), F::as_f32(&self.norms).expect("float32 norms"), self.centers.d());
        self.amx.get_or_init(pack).as_ref()
    }

    /// The centres this kernel was built for.
    pub(crate) fn centers(&self) -> Points<'a, F> {
        self.centers
    }

    /// Whether [`Kernel::label_block`] and [`Kernel::scan_all`] go through the AMX filter.
    pub(crate) fn labels_through_amx(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        return self.amx().is_some();
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// Scratch space for one thread's [`Kernel::assign_block`] calls.
    pub(crate) fn tile(&self) -> Vec<F> {
        if self.has_top2() {
            return Vec::new();
        }
        vec![F::ZERO; ROW_BLOCK * CENTER_BLOCK.min(self.centers.n())]
    }

    /// Labels and exact squared distances of at most `ROW_BLOCK` rows; `ahead` (the rows to come)
    /// is prefetched while the distances are computed.
    pub(crate) fn assign_block(
        &self,
        rows: Points<'_, F>,
        tile: &mut [F],
        labels: &mut [u32],
        dist2: &mut [f64],
        ahead: &[F],
    ) {
        self.label_block(rows, tile, labels);
        exact_distances(rows, self.centers, labels, dist2, ahead);
    }

    /// Labels and second-smallest scores `||c||² − 2 x·c` of at most `ROW_BLOCK` rows, where the
    /// AVX2 microkernel runs; `None` (nothing written) elsewhere.
    pub(crate) fn label_block_top2(&self, rows: Points<'_, F>, labels: &mut [u32], second: &mut [f64]) -> Option<()> {
        #[cfg(target_arch = "x86_64")]
        if self.narrow::<true>(rows, labels, second) {
            return Some(());
        }
        #[cfg(target_arch = "x86_64")]
        match &self.micro {
            // SAFETY: `micro` only exists when the CPU has AVX2 and FMA.
            Some(Micro::F32(p)) => unsafe { avx2::assign_rows_top2(p, as_f32(rows), labels, second) },
            // SAFETY: as above.
            Some(Micro::F64(p)) => unsafe { avx2::assign_rows_top2(p, as_f64(rows), labels, second) },
            None => return None,
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (rows, labels, second);
            return None;
        }
        #[allow(unreachable_code)]
        Some(())
    }

    /// [`Kernel::label_block_top2`] of the rows of `rows` that `list` names (at most `ROW_BLOCK`),
    /// read in place, where the wide-row microkernel runs (not [`Kernel::narrow_rows`], whose rows
    /// cost little to gather); `None` (nothing written) elsewhere. The same bits as the rows
    /// gathered and labelled by [`Kernel::label_block_top2`].
    pub(crate) fn label_listed_top2(
        &self,
        rows: Points<'_, F>,
        list: &[usize],
        labels: &mut [u32],
        second: &mut [f64],
    ) -> Option<()> {
        if self.narrow_rows() {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        match &self.micro {
            // SAFETY: `micro` only exists when the CPU has AVX2 and FMA.
            Some(Micro::F32(p)) => unsafe { avx2::assign_listed_top2(p, as_f32(rows), list, labels, second) },
            // SAFETY: as above.
            Some(Micro::F64(p)) => unsafe { avx2::assign_listed_top2(p, as_f64(rows), list, labels, second) },
            None => return None,
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (rows, list, labels, second);
            return None;
        }
        #[allow(unreachable_code)]
        Some(())
    }

    /// Whether [`Kernel::label_block`] and [`Kernel::label_block_top2`] run the narrow-row
    /// kernel (`avx2::assign_narrow`, one row per lane): rows of one to eight features where the
    /// microkernel runs, one to sixteen where it runs in AVX-512 registers
    /// (`avx2::narrow_width`).
    pub(crate) fn narrow_rows(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        return self.micro.is_some() && (1..=avx2::narrow_width()).contains(&self.centers.d());
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// Rows the narrow-row kernel holds in one register here ([`Kernel::narrow_rows`]): 4
    /// float64 or 8 float32 with AVX2, twice as many with AVX-512; 0 where it does not run.
    pub(crate) fn narrow_lanes(&self) -> usize {
        if !self.narrow_rows() {
            return 0;
        }
        #[cfg(target_arch = "x86_64")]
        return avx2::narrow_lanes(std::mem::size_of::<F>());
        #[cfg(not(target_arch = "x86_64"))]
        0
    }

    /// Whether [`Kernel::label_block_top2`] runs here.
    pub(crate) fn has_top2(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        return self.micro.is_some();
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// Centres per panel of the microkernel, where it runs: the groups [`Kernel::scan_lists`]
    /// scans.
    pub(crate) fn panel_width(&self) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        return match &self.micro {
            Some(Micro::F32(_)) => Some(avx2::panel_width::<f32>()),
            Some(Micro::F64(_)) => Some(avx2::panel_width::<f64>()),
            None => None,
        };
        #[cfg(not(target_arch = "x86_64"))]
        None
    }

    /// The grouped pass's scan of one block of rows against some panels (see
    /// `avx2::scan_lists`), where the microkernel runs; `None` (nothing written) elsewhere.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn scan_lists(
        &self,
        ids: &[i32],
        rows: Points<'_, F>,
        lists: &[Vec<u32>],
        flagged: &[u32],
        labels: &mut [u32],
        seconds: &mut [f64],
        panel_min: &mut [f64],
    ) -> Option<()> {
        assert_eq!(rows.d(), self.centers.d(), "x and centers must share the feature dimension");
        #[cfg(target_arch = "x86_64")]
        match &self.micro {
            // SAFETY: `micro` only exists when the CPU has AVX2 and FMA.
            Some(Micro::F32(p)) => unsafe {
                avx2::scan_lists(p, ids, as_f32(rows), lists, flagged, labels, seconds, panel_min)
            },
            // SAFETY: as above.
            Some(Micro::F64(p)) => unsafe {
                avx2::scan_lists(p, ids, as_f64(rows), lists, flagged, labels, seconds, panel_min)
            },
            None => return None,
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (ids, rows, lists, flagged, labels, seconds, panel_min);
            return None;
        }
        #[allow(unreachable_code)]
        Some(())
    }

    /// The grouped pass's full scan through the AMX filter ([`crate::kernels::amx`]), where it
    /// runs: every row's label (the exact kernel's), and lower bounds where `scan_lists` gives
    /// exact scores: `seconds[r]` on the scores of every centre but the label, `panel_min[r ·
    /// panels + p]` on those of panel p's (16 centres). `None` where the filter does not run or
    /// left a row to the exact kernel (the bounds are then not all set). `ids` as in
    /// [`Kernel::scan_lists`]: the labels are `ids` of packed positions, ties to the lowest.
    pub(crate) fn scan_all(
        &self,
        ids: &[i32],
        rows: Points<'_, F>,
        labels: &mut [u32],
        seconds: &mut [f64],
        panel_min: &mut [f64],
    ) -> Option<()> {
        #[cfg(target_arch = "x86_64")]
        if let Some(tiles) = self.amx() {
            let lower = amx::Lower { seconds, panel_min };
            let (c, x) = (as_f32(self.centers), as_f32(rows));
            // SAFETY: the tiles only exist where the CPU runs the AMX filter.
            if unsafe { amx::label_rows(tiles, c, x, labels, Some(ids), Some(lower)) } > 0 {
                return None;
            }
            for label in labels.iter_mut() {
                *label = ids[*label as usize] as u32;
            }
            return Some(());
        }
        let _ = (ids, rows, labels, seconds, panel_min);
        None
    }

    /// Labels only, of at most `ROW_BLOCK` rows (the caller computes the distances it needs).
    pub(crate) fn label_block(&self, rows: Points<'_, F>, tile: &mut [F], labels: &mut [u32]) {
        assert_eq!(rows.d(), self.centers.d(), "x and centers must share the feature dimension");
        #[cfg(target_arch = "x86_64")]
        if self.narrow::<false>(rows, labels, &mut []) {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if let (Some(tiles), Some(Micro::F32(p))) = (self.amx(), &self.micro) {
            let (x, c) = (as_f32(rows), as_f32(self.centers));
            // SAFETY: the tiles only exist where the CPU runs the AMX filter.
            if unsafe { amx::label_rows(tiles, c, x, labels, None, None) } > 0 {
                let d = self.centers.d();
                for (r, label) in labels.iter_mut().enumerate().filter(|(_, l)| **l == u32::MAX) {
                    // SAFETY: `micro` only exists when the CPU has AVX2 and FMA.
                    unsafe { avx2::assign_rows(p, &x[r * d..(r + 1) * d], std::slice::from_mut(label)) };
                }
            }
            return;
        }
        #[cfg(target_arch = "x86_64")]
        match &self.micro {
            // SAFETY: `micro` only exists when the CPU has AVX2 and FMA.
            Some(Micro::F32(p)) => return unsafe { avx2::assign_rows(p, as_f32(rows), labels) },
            // SAFETY: as above.
            Some(Micro::F64(p)) => return unsafe { avx2::assign_rows(p, as_f64(rows), labels) },
            None => {}
        }
        label_block(rows, self.centers, &self.norms, tile, labels);
    }
}

#[cfg(target_arch = "x86_64")]
impl<F: Scalar> Kernel<'_, F> {
    /// Rows of at most [`avx2::NARROW`] features, where the microkernel runs: labelled (and with
    /// `TOP2` given their second-smallest scores) one row per lane instead, the same bits
    /// ([`avx2::assign_narrow_rows`]). Whether it ran.
    fn narrow<const TOP2: bool>(&self, rows: Points<'_, F>, labels: &mut [u32], second: &mut [f64]) -> bool {
        if !self.narrow_rows() {
            return false;
        }
        let d = self.centers.d();
        if let (Some(c), Some(n)) = (F::as_f32(self.centers.as_slice()), F::as_f32(&self.norms)) {
            // SAFETY: `micro` only exists when the CPU has AVX2 and FMA; 1 <= d <= NARROW.
            unsafe { avx2::assign_narrow_rows::<f32, TOP2>(d, c, n, as_f32(rows), labels, second) };
            return true;
        }
        if let (Some(c), Some(n)) = (F::as_f64(self.centers.as_slice()), F::as_f64(&self.norms)) {
            // SAFETY: as above.
            unsafe { avx2::assign_narrow_rows::<f64, TOP2>(d, c, n, as_f64(rows), labels, second) };
            return true;
        }
        false
    }
}

/// The rows as float32, where the centres (and so the rows) are.
#[cfg(target_arch = "x86_64")]
fn as_f32<F: Scalar>(rows: Points<'_, F>) -> &[f32] {
    F::as_f32(rows.as_slice()).expect("rows in the centres' precision")
}

/// The rows as float64, where the centres (and so the rows) are.
#[cfg(target_arch = "x86_64")]
fn as_f64<F: Scalar>(rows: Points<'_, F>) -> &[f64] {
    F::as_f64(rows.as_slice()).expect("rows in the centres' precision")
}

/// `dist2[r]` = Σ(x − c)² in `f64` between row `r` and its labelled centre.
fn exact_distances<F: Scalar>(
    rows: Points<'_, F>,
    centers: Points<'_, F>,
    labels: &[u32],
    dist2: &mut [f64],
    ahead: &[F],
) {
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { exact_distances_avx2(rows, centers, labels, dist2, ahead) };
    }
    exact_distances_portable(rows, centers, labels, dist2, ahead)
}

/// [`exact_distances`] compiled for AVX2: the same operations in the same order, wider.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn exact_distances_avx2<F: Scalar>(
    rows: Points<'_, F>,
    centers: Points<'_, F>,
    labels: &[u32],
    dist2: &mut [f64],
    ahead: &[F],
) {
    exact_distances_portable(rows, centers, labels, dist2, ahead)
}

#[inline(always)]
fn exact_distances_portable<F: Scalar>(
    rows: Points<'_, F>,
    centers: Points<'_, F>,
    labels: &[u32],
    dist2: &mut [f64],
    ahead: &[F],
) {
    let share = ahead.len().div_ceil(labels.len().max(1));
    for (r, (&label, d2)) in labels.iter().zip(dist2.iter_mut()).enumerate() {
        if let Some(next) = ahead.get(r * share..((r + 1) * share).min(ahead.len())) {
            crate::kernels::points::prefetch(next);
        }
        *d2 = sq_dist_f64(rows.row(r), centers.row(label as usize));
    }
}

/// Labels of one block of at most `ROW_BLOCK` rows, GEMM tile by tile.
fn label_block<F: Scalar>(
    rows: Points<'_, F>,
    centers: Points<'_, F>,
    norms: &[F],
    tile: &mut [F],
    labels: &mut [u32],
) {
    let (m, d, k) = (rows.n(), rows.d(), centers.n());
    let mut best = [F::INFINITY; ROW_BLOCK];
    let mut best_index = [0u32; ROW_BLOCK];
    for c0 in (0..k).step_by(CENTER_BLOCK) {
        let cb = CENTER_BLOCK.min(k - c0);
        // SAFETY: `rows` is m × d with row stride d, centres c0..c0+cb are cb × d with row stride
        // d, and `tile` holds at least ROW_BLOCK × cb >= m × cb values with row stride cb.
        unsafe {
            F::gemm_abt(
                m,
                d,
                cb,
                rows.as_slice().as_ptr(),
                d,
                centers.as_slice()[c0 * d..].as_ptr(),
                d,
                tile.as_mut_ptr(),
                cb,
            );
        }
        let norms = &norms[c0..c0 + cb];
        for r in 0..m {
            let scores = &mut tile[r * cb..(r + 1) * cb];
            for (s, &nc) in scores.iter_mut().zip(norms) {
                *s = nc - (*s + *s);
            }
            let min = min_value(scores);
            // Strict `<`: a later tile only wins with a strictly smaller score, and within a tile
            // the first position holding the minimum wins, so ties go to the lowest index.
            if min < best[r] {
                best[r] = min;
                best_index[r] = (c0 + scores.iter().position(|&s| s == min).unwrap_or(0)) as u32;
            }
        }
    }
    labels[..m].copy_from_slice(&best_index[..m]);
}

/// The smallest value of a non-empty, NaN-free slice, with eight independent lanes so that the
/// compiler emits packed min instructions.
#[inline]
fn min_value<F: Scalar>(values: &[F]) -> F {
    let mut lanes = [F::INFINITY; 8];
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = if v < *lane { v } else { *lane };
        }
    }
    lanes.iter().chain(tail).fold(F::INFINITY, |m, &v| if v < m { v } else { m })
}

/// The obvious triple loop, in `f64`: the oracle the blocked kernel is tested against.
pub fn assign_naive<F: Scalar>(x: Points<'_, F>, centers: Points<'_, F>) -> (Vec<u32>, Vec<f64>) {
    (0..x.n())
        .map(|i| {
            let mut best = (0u32, f64::INFINITY);
            for j in 0..centers.n() {
                let d2 = sq_dist_f64(x.row(i), centers.row(j));
                if d2 < best.1 {
                    best = (j as u32, d2);
                }
            }
            best
        })
        .unzip()
}

/// The narrow-row kernel against the microkernel it stands in for.
#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use crate::kernels::avx2::{
        assign_listed_top2, assign_narrow_rows_on, assign_rows, assign_rows_top2, available, Lanes, Packed, NARROW,
        NARROW_WIDE,
    };
    use crate::kernels::parallel::ROW_BLOCK;

    /// Small integers (many exact ties between centres), and duplicated centres.
    fn data<T: Lanes>(n: usize, k: usize, d: usize, seed: u64) -> (Vec<T>, Vec<T>, Vec<T>) {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move |range: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % range) as f64
        };
        let rows: Vec<T> = (0..n * d).map(|_| T::from_f64(next(7) - 3.0 + next(4) * 0.25)).collect();
        let mut centers: Vec<T> = (0..k * d).map(|_| T::from_f64(next(7) - 3.0)).collect();
        if k >= 3 {
            let first: Vec<T> = centers[..d].to_vec();
            centers[2 * d..3 * d].copy_from_slice(&first);
        }
        let norms = centers
            .chunks_exact(d)
            .map(|c| T::from_f64(c.iter().map(|v| v.to_f64() * v.to_f64()).sum::<f64>()))
            .collect();
        (rows, centers, norms)
    }

    /// Both bodies of the narrow kernel, the AVX-512 one where this CPU runs it.
    fn same_as_the_microkernel<T: Lanes>() {
        if !available() {
            eprintln!("skipped: this CPU has no AVX2/FMA");
            return;
        }
        body_same_as_the_microkernel::<T>(false, NARROW);
        // Tested wherever the CPU has AVX-512F, even where the fits keep to AVX2 (Zen 4,
        // FASTKMEANS_DISABLE_AVX512=1).
        if is_x86_feature_detected!("avx512f") {
            body_same_as_the_microkernel::<T>(true, NARROW_WIDE);
        } else {
            eprintln!("skipped: the AVX-512 body (this CPU has no AVX-512F)");
        }
    }

    fn body_same_as_the_microkernel<T: Lanes>(zmm: bool, widest: usize) {
        for d in 1..=widest {
            // k = 9..15: a full-width last panel with padding in float32; 257, 300: past a block of
            // centres.
            for k in [1, 2, 3, 5, 8, 9, 12, 16, 17, 40, 64, 257, 300] {
                for m in [1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 100, ROW_BLOCK] {
                    let (rows, centers, norms) = data::<T>(m, k, d, (d * 1000 + k * 10 + m) as u64);
                    let packed = Packed::new(&centers, &norms, d);
                    let (mut want, mut want_second) = (vec![0u32; m], vec![0f64; m]);
                    let (mut got, mut got_second) = (vec![7u32; m], vec![7f64; m]);
                    // SAFETY: the CPU has AVX2 and FMA (checked above).
                    unsafe {
                        assign_rows_top2(&packed, &rows, &mut want, &mut want_second);
                        assign_narrow_rows_on::<T, true>(zmm, d, &centers, &norms, &rows, &mut got, &mut got_second);
                    }
                    assert_eq!(got, want, "labels, d = {d}, k = {k}, m = {m}, zmm = {zmm}");
                    let bits = |v: &[f64]| v.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
                    let what = format!("second scores, d = {d}, k = {k}, m = {m}, zmm = {zmm}");
                    assert_eq!(bits(&got_second), bits(&want_second), "{what}");
                    let mut plain = vec![7u32; m];
                    // SAFETY: as above.
                    unsafe {
                        assign_rows(&packed, &rows, &mut want);
                        assign_narrow_rows_on::<T, false>(zmm, d, &centers, &norms, &rows, &mut plain, &mut []);
                    }
                    assert_eq!(plain, want, "labels without the second scores, d = {d}, k = {k}, m = {m}, zmm = {zmm}");
                }
            }
        }
    }

    /// Listed rows read in place against the same rows gathered first, through the microkernel
    /// (the wide tiles where this CPU runs them).
    fn listed_rows_as_gathered<T: Lanes>() {
        if !available() {
            eprintln!("skipped: this CPU has no AVX2/FMA");
            return;
        }
        let bits = |v: &[f64]| v.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
        for d in [9, 17, 64, 100] {
            // One panel, a half-width last one, pairs of panels, past a block of centres.
            for k in [1, 3, 5, 9, 10, 16, 17, 50, 257] {
                let n = 3 * ROW_BLOCK + 5;
                let (rows, centers, norms) = data::<T>(n, k, d, (d * 1000 + k) as u64);
                let packed = Packed::new(&centers, &norms, d);
                let every = |step: usize, from: usize| (from..n).step_by(step).take(ROW_BLOCK).collect::<Vec<usize>>();
                // Scattered, in runs, out of order, repeated, a lone row, a whole block.
                let mut reversed = every(7, 3);
                reversed.reverse();
                let lists = [every(3, 1), every(1, 40), reversed, vec![5, 5, 9, 5], vec![n - 1], every(1, 0)];
                for list in &lists {
                    let m = list.len();
                    let gathered: Vec<T> = list.iter().flat_map(|&r| rows[r * d..(r + 1) * d].to_vec()).collect();
                    let (mut want, mut want_second) = (vec![0u32; m], vec![0f64; m]);
                    let (mut got, mut got_second) = (vec![7u32; m], vec![7f64; m]);
                    // SAFETY: the CPU has AVX2 and FMA (checked above).
                    unsafe {
                        assign_rows_top2(&packed, &gathered, &mut want, &mut want_second);
                        assign_listed_top2(&packed, &rows, list, &mut got, &mut got_second);
                    }
                    assert_eq!(got, want, "labels, d = {d}, k = {k}, list {list:?}");
                    assert_eq!(bits(&got_second), bits(&want_second), "second scores, d = {d}, k = {k}, list {list:?}");
                }
            }
        }
    }

    #[test]
    fn listed_rows_get_the_labels_and_second_scores_of_the_same_rows_gathered() {
        listed_rows_as_gathered::<f32>();
        listed_rows_as_gathered::<f64>();
    }

    #[test]
    fn narrow_rows_get_the_labels_and_second_scores_of_the_microkernel_f32() {
        same_as_the_microkernel::<f32>();
    }

    #[test]
    fn narrow_rows_get_the_labels_and_second_scores_of_the_microkernel_f64() {
        same_as_the_microkernel::<f64>();
    }
}
