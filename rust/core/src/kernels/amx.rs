//! Exact labels through Intel AMX: a bfloat16 filter, then exact scores for the few centres it
//! cannot rule out. Where the CPU has AMX (Sapphire Rapids and later Xeons; `available`), one
//! tile multiply-add (`tdpbf16ps`) does 16 × 16 × 32 multiply-adds in 16 cycles, sixteen times
//! the AVX-512 units' rate, but on bfloat16 inputs (8 significant bits). So the tiles only filter:
//!
//! 1. Rows and centres are rounded to bfloat16, and the tiles give every row its approximate
//!    score `s̃ = ||c||² − 2 x̃·c̃` against every centre (32 rows × 32 centres a tile step), folded
//!    at once into each row's smallest and second-smallest approximate score.
//! 2. `margin` bounds, per row, how far an approximate score can lie from the score the exact
//!    kernel computes (`||c||² − 2 x·c` from float32 multiply-adds in feature order, the bits of
//!    [`crate::kernels::avx2`]): rounding to bfloat16 moves each product by at most 2⁻⁷ + 2⁻¹⁶ of
//!    `|x_p c_p|`, and both sums round at most d times, so
//!    `|s̃ − s| ≤ Δ = 2 e_d ||x|| max||c|| + (the final rounding and flushed subnormals)`.
//! 3. A row whose second-smallest approximate score exceeds its smallest by more than 2Δ has one
//!    possible nearest centre: every other centre's exact score is strictly larger, so it is the
//!    exact kernel's label, ties included. Any other row keeps as candidates the centres within
//!    2Δ of its smallest approximate score, and those get exact scores (float32 multiply-adds in
//!    feature order from gathered rows and centres: the exact kernel's bits); the smallest
//!    (score, index) wins, as in the exact kernel.
//!
//! Rows with a value that is not finite, or so large that the bound would not hold (||x|| ·
//! max||c|| over 10³⁰), are left to the exact kernel (label `u32::MAX` here; the caller
//! relabels them). So the labels are the exact kernel's, bit for bit, on any input.
//!
//! The tiles: two row tiles (16 rows × 32 bfloat16 features each), two centre tiles (16
//! centres, packed once per call in the VNNI pairs `tdpbf16ps` reads) and four accumulators
//! of 16 × 16 float32; eight tile registers in all. Each accumulator block is stored to the
//! sub-block's score buffer and folded (AVX-512) after the next block's multiply-adds are issued.
//! Measured, the two hardly overlap: the tile loop alone runs at about 40% of the tiles' rate in a
//! microbenchmark, the stores and the fold each add about half as much again.

use std::arch::asm;
use std::arch::x86_64::*;
use std::cell::RefCell;
use std::sync::OnceLock;

use crate::kernels::points::sum_of_squares;

/// Set to 1, the environment variable that keeps the exact kernels on a CPU with AMX (read
/// once): for comparing the two, whose labels are the same.
pub const DISABLE_VAR: &str = "FASTKMEANS_DISABLE_AMX";

/// Rows of one row tile, centres of one centre tile.
const TILE: usize = 16;
/// bfloat16 features per tile row (64 bytes): the depth of one tile multiply-add.
const DEPTH: usize = 32;
/// Rows per sub-block: two row tiles.
const ROWS: usize = 2 * TILE;
/// Centres per accumulator block: two centre tiles.
const COLS: usize = 2 * TILE;
/// Rows whose ||x|| · max||c|| exceeds this go to the exact kernel: the approximate scores
/// stay far from float32's overflow.
const LARGEST: f64 = 1e30;
/// bfloat16's unit roundoff (8 significant bits, rounded to nearest).
const BF16_UNIT: f64 = 1.0 / 256.0;
/// float32's unit roundoff.
const F32_UNIT: f64 = 1.0 / 16_777_216.0;

/// Whether this CPU and OS run the AMX filter (decided once): AMX-TILE, AMX-BF16, AVX-512F,
/// AVX512-BF16, AVX512-DQ, Linux granting the process the tile state, and [`DISABLE_VAR`] not 1.
pub(crate) fn available() -> bool {
    static AMX: OnceLock<bool> = OnceLock::new();
    *AMX.get_or_init(|| {
        let disabled = std::env::var_os(DISABLE_VAR).is_some_and(|v| v == "1");
        !disabled
            && cpu_has_amx()
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bf16")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && os_grants_tiles()
    })
}

/// CPUID leaf 7: AMX-BF16 (EDX bit 22) and AMX-TILE (bit 24).
fn cpu_has_amx() -> bool {
    // SAFETY: CPUID leaf 0 exists on every x86-64 CPU, leaf 7 where leaf 0 says so (a safe
    // function from Rust 1.94).
    #[allow(unused_unsafe)]
    let (top, leaf7) = unsafe { (__cpuid(0).eax, __cpuid_count(7, 0)) };
    top >= 7 && (leaf7.edx >> 22) & 1 == 1 && (leaf7.edx >> 24) & 1 == 1
}

/// Linux hands out the 8 KB of tile state only to processes that ask (`arch_prctl`, 5.16+).
#[cfg(target_os = "linux")]
fn os_grants_tiles() -> bool {
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: this request only asks the kernel for permission; it touches no memory of ours.
    unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn os_grants_tiles() -> bool {
    false
}

/// float32 rounded to the nearest bfloat16 (ties to even), for finite values.
fn bf16(v: f32) -> u16 {
    let bits = v.to_bits();
    ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

/// The centres as centre tiles, with what the filter needs to know of them.
pub(crate) struct Packed {
    /// blocks × steps × 2 tiles × 16 pairs of features × 16 centres × 2: block `q`'s centres
    /// `32q ..`, features `32s ..`, in the pairs `tdpbf16ps` reads (zero past k and d).
    tiles: Aligned<u16>,
    /// ||c||² per centre (the exact kernel's), +∞ past k.
    norms: Vec<f32>,
    k: usize,
    d: usize,
    /// Feature steps of [`DEPTH`].
    steps: usize,
    /// Blocks of [`COLS`] centres.
    blocks: usize,
    /// An upper bound on every centre's Euclidean norm.
    reach: f64,
}

impl Packed {
    /// Packs k × d row-major `centers` with squared norms `norms` (the exact kernel's), or `None`
    /// where the filter cannot vouch for them: a value that is not finite, a centre's norm past
    /// 10¹⁸, or more than 2³¹ values (the rescoring gathers by 32-bit offsets).
    pub(crate) fn new(centers: &[f32], norms: &[f32], d: usize) -> Option<Self> {
        let k = norms.len();
        if d == 0 || k == 0 || centers.len() != k * d || k * d > i32::MAX as usize {
            return None;
        }
        let mut reach = 0f64;
        for row in centers.chunks_exact(d) {
            reach = reach.max(sum_of_squares(row));
        }
        let reach = reach.sqrt() * (1.0 + 1e-12);
        if !(reach.is_finite() && reach < 1e18) || norms.iter().any(|n| !n.is_finite()) {
            return None;
        }
        let (steps, blocks) = (d.div_ceil(DEPTH), k.div_ceil(COLS));
        let mut tiles = Aligned::default();
        tiles.resize(blocks * steps * COLS * DEPTH);
        for (j, row) in centers.chunks_exact(d).enumerate() {
            let (q, t, col) = (j / COLS, (j % COLS) / TILE, j % TILE);
            for (p, &v) in row.iter().enumerate() {
                let (s, pair, e) = (p / DEPTH, (p % DEPTH) / 2, p % 2);
                tiles.as_mut_slice()[((((q * steps + s) * 2 + t) * TILE + pair) * TILE + col) * 2 + e] = bf16(v);
            }
        }
        let mut padded = norms.to_vec();
        padded.resize(blocks * COLS, f32::INFINITY);
        Some(Self { tiles, norms: padded, k, d, steps, blocks, reach })
    }
}

/// How far, at most, an approximate score of a row with ||x|| ≤ `x_norm` can lie from its exact
/// score, against centres of norms at most `reach`, with `d` features (module docs, step 2).
fn margin(x_norm: f64, reach: f64, d: usize) -> f64 {
    let df = d as f64;
    let gamma = df * F32_UNIT / (1.0 - df * F32_UNIT);
    // Each product's rounding to bfloat16, then the two sums' roundings (the tiles' float32 adds
    // and the exact kernel's multiply-adds), relative to Σ|x_p c_p| ≤ ||x|| ||c||.
    let e = 2.0 * BF16_UNIT + BF16_UNIT * BF16_UNIT + gamma * ((1.0 + BF16_UNIT).powi(2) + 1.0);
    let dots = e * x_norm * reach;
    // Subnormals the tiles flush to zero, inputs and sums: under 2⁻¹²⁶ each.
    let flushed = df * (1.0 + x_norm + reach) * 2f64.powi(-124);
    // The last rounding of each score `||c||² − 2 x·c`.
    let last = F32_UNIT * 2.0 * (reach * reach + 2.1 * x_norm * reach);
    (2.0 * (dots + flushed) + last) / (1.0 - F32_UNIT) * (1.0 + 1e-6)
}

/// One cache line: the unit of the buffers the tiles load and store. A tile row that straddles
/// two lines costs a second load: measured, unaligned rows made the tile loop three times as
/// slow (256 against 86 ns per 32 × 32 block).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// The values an [`Aligned`] buffer holds: plain numbers, of which every bit pattern is one.
trait Plain: Copy {}
impl Plain for u16 {}
impl Plain for f32 {}

/// A buffer of `T` starting on a cache line.
#[derive(Default)]
struct Aligned<T> {
    lines: Vec<Line>,
    len: usize,
    kind: std::marker::PhantomData<T>,
}

impl<T: Plain> Aligned<T> {
    /// `len` values (zero where new).
    fn resize(&mut self, len: usize) {
        self.lines.resize((len * std::mem::size_of::<T>()).div_ceil(64), Line([0; 64]));
        self.len = len;
    }

    fn as_slice(&self) -> &[T] {
        // SAFETY: the lines hold at least `len` values of T, aligned (T's alignment divides
        // 64), and every bit pattern is a value of T (`Plain`).
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast(), self.len) }
    }

    fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as above.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast(), self.len) }
    }
}

/// One thread's buffers: the sub-block's rows in bfloat16 and its approximate dot products,
/// and the rows to rescore.
#[derive(Default)]
struct Scratch {
    rows: Aligned<u16>,
    dots: Aligned<f32>,
    /// (row, centre) pairs to score exactly, rows increasing, centres increasing within a row.
    pairs: Vec<(u32, u32)>,
    /// Per row: the second-smallest approximate score and the margin.
    found: Vec<(f32, f64)>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// The tile configuration: palette 1, tiles 0–7 each 16 rows of 64 bytes.
#[repr(C, align(64))]
struct Config([u8; 64]);

const CONFIG: Config = {
    let mut bytes = [0u8; 64];
    bytes[0] = 1;
    let mut t = 0;
    while t < 8 {
        bytes[16 + 2 * t] = 64;
        bytes[48 + t] = TILE as u8;
        t += 1;
    }
    Config(bytes)
};

/// Lower bounds for the grouped pass ([`crate::kernels::yinyang`]'s full pass), per row:
/// `seconds[r]` on the exact score of every centre but the row's label, `panel_min[r · panels +
/// p]` on that of every centre of panel p (centres 16p .. 16p + 16), `panels` = ⌈k / 16⌉.
pub(crate) struct Lower<'a> {
    pub(crate) seconds: &'a mut [f64],
    pub(crate) panel_min: &'a mut [f64],
}

/// Labels `rows` (row-major, `packed.d` features each) by their nearest centre among `centers`
/// (the k × d row-major centres `packed` was made from), as the exact kernel labels them, and
/// with `lower` sets those bounds; rows left to the exact kernel get `u32::MAX` (and no
/// bounds). Returns how many those are: every row where the rows hold more than 2³¹ values (the
/// rescoring gathers by 32-bit offsets). Equal exact scores go to the centre of the smallest
/// `ids[j]` (the centres' own indices where they are packed in another order), else the
/// smallest j; the labels are positions j either way.
///
/// # Safety
/// The CPU must run the filter ([`available`]).
#[target_feature(enable = "avx512f,avx512bf16,avx2,fma")]
pub(crate) unsafe fn label_rows(
    packed: &Packed,
    centers: &[f32],
    rows: &[f32],
    labels: &mut [u32],
    ids: Option<&[i32]>,
    mut lower: Option<Lower<'_>>,
) -> usize {
    let (d, m) = (packed.d, labels.len());
    let panels = packed.k.div_ceil(TILE);
    assert!(rows.len() >= m * d && centers.len() == packed.k * d);
    if let Some(lower) = &lower {
        assert!(lower.seconds.len() >= m && lower.panel_min.len() >= m * panels);
    }
    if m * d > i32::MAX as usize {
        labels.fill(u32::MAX);
        return m;
    }
    SCRATCH.with_borrow_mut(|scratch| {
        let width = packed.steps * DEPTH;
        scratch.rows.resize(ROWS * width);
        scratch.dots.resize(ROWS * packed.blocks * COLS);
        scratch.pairs.clear();
        scratch.found.clear();
        let mut left = 0;
        {
            // SAFETY: the CPU has AMX and the process its tile state (this function's contract).
            let _tiles = unsafe { Tiles::configure() };
            for r0 in (0..m).step_by(ROWS) {
                let live = (m - r0).min(ROWS);
                let block = &rows[r0 * d..(r0 + live) * d];
                // SAFETY: forwarded; the buffers are sized above.
                let norms = unsafe { to_bf16(block, d, width, scratch.rows.as_mut_slice()) };
                // SAFETY: as above.
                let found = unsafe { approximate(packed, scratch.rows.as_slice(), scratch.dots.as_mut_slice(), live) };
                for (i, (&(best, index, second), &x_norm)) in found.iter().zip(&norms).enumerate().take(live) {
                    let r = r0 + i;
                    let panel_min = lower.as_mut().map(|lower| &mut lower.panel_min[r * panels..(r + 1) * panels]);
                    let row = Row { r: r as u32, dots: &scratch.dots.as_slice()[i * COLS..], best, index, second };
                    // SAFETY: as above.
                    let label =
                        unsafe { decide(packed, row, x_norm, panel_min, &mut scratch.pairs, &mut scratch.found) };
                    labels[r] = label;
                    left += usize::from(label == u32::MAX);
                }
            }
        }
        // SAFETY: every pair names a row of `rows` and a centre of `centers`, the offsets fit in
        // 32 bits (m · d and k · d do).
        unsafe { rescore(&scratch.pairs, rows, centers, &packed.norms, d, ids, labels) };
        if let Some(lower) = lower {
            // The second-smallest approximate score, less the margin, is below the exact score
            // of every centre but the label: where the label is the smallest approximate
            // score's centre, by the margin; else the label's approximate score is at least it,
            // and the label's exact score is the smallest.
            for (bound, &(second, margin)) in lower.seconds.iter_mut().zip(&scratch.found) {
                *bound = f64::from(second) - margin;
            }
        }
        left
    })
}

/// One row of a sub-block after the tiles: its index among the rows, its dot products (from
/// its first, see [`at`]), its smallest approximate score, that score's centre, and its
/// second-smallest.
struct Row<'a> {
    r: u32,
    dots: &'a [f32],
    best: f32,
    index: u32,
    second: f32,
}

/// The row's label where the filter decides it, `u32::MAX` where the exact kernel must (a row
/// out of the filter's reach), else its candidates pushed onto `pairs` for [`rescore`] (and the
/// label left to it). Records the row's second-smallest score and margin in `found`, and sets
/// its `panel_min` bounds.
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
unsafe fn decide(
    packed: &Packed,
    row: Row<'_>,
    x_norm: f64,
    panel_min: Option<&mut [f64]>,
    pairs: &mut Vec<(u32, u32)>,
    found: &mut Vec<(f32, f64)>,
) -> u32 {
    if !(x_norm.is_finite() && x_norm * packed.reach <= LARGEST) {
        found.push((row.second, f64::NAN));
        return u32::MAX;
    }
    let margin = margin(x_norm, packed.reach, packed.d);
    found.push((row.second, margin));
    if let Some(panel_min) = panel_min {
        // SAFETY: the row's dot products span whole blocks, as do the norms.
        unsafe { panel_minima(row.dots, &packed.norms, margin, panel_min) };
    }
    let (best, slack) = (f64::from(row.best), 2.0 * margin);
    if f64::from(row.second) - best > slack {
        return row.index;
    }
    // Rounded up to float32: a few more candidates at most, never fewer.
    let limit = next_up((best + slack) as f32, best + slack);
    // SAFETY: as above.
    unsafe { candidates(row.dots, &packed.norms, packed.k, limit, |j| pairs.push((row.r, j))) };
    row.index
}

/// The tile configuration loaded for as long as this lives; the tile state is released when it
/// is dropped (a panic included), so that the thread does not carry 8 KB of it through every
/// context switch after.
struct Tiles;

impl Tiles {
    /// # Safety
    /// The CPU must run the filter ([`available`]).
    #[inline]
    unsafe fn configure() -> Self {
        // SAFETY: the CPU has AMX and the process its tile state (this function's contract);
        // the configuration is 64 aligned bytes.
        unsafe { asm!("ldtilecfg [{}]", in(reg) CONFIG.0.as_ptr(), options(nostack, readonly, preserves_flags)) };
        Tiles
    }
}

impl Drop for Tiles {
    fn drop(&mut self) {
        // SAFETY: only a configured `Tiles` exists, so the CPU has AMX.
        unsafe { asm!("tilerelease", options(nostack, nomem, preserves_flags)) };
    }
}

/// `panel_min[p]` = the smallest approximate score of panel p's centres (`dots`: the sub-block's
/// dot products from the row's first, see [`at`]), less `margin`. Sixteen panels at a time: their
/// score registers are folded pairwise by halves, quarters, pairs and lanes into one register of
/// sixteen minima (a transposing reduction, 45 shuffles and minima against 16 horizontal ones).
#[target_feature(enable = "avx512f,avx512dq,avx2,fma")]
unsafe fn panel_minima(dots: &[f32], norms: &[f32], margin: f64, panel_min: &mut [f64]) {
    let margin = _mm512_set1_pd(margin);
    // Lane l of the reduction holds panel ORDER[l]; this puts panel p in lane p.
    let order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    let panels = panel_min.len();
    for first in (0..panels).step_by(16) {
        let panel_scores: [__m512; 16] = std::array::from_fn(|p| {
            let c = (first + p) * TILE;
            if first + p < panels {
                // SAFETY: `dots` and `norms` hold whole blocks of COLS, past every panel.
                unsafe { scores(_mm512_loadu_ps(dots.as_ptr().add(at(c))), _mm512_loadu_ps(norms.as_ptr().add(c))) }
            } else {
                _mm512_set1_ps(f32::INFINITY)
            }
        });
        let halves: [__m512; 8] = std::array::from_fn(|i| {
            let (a, b) = (panel_scores[2 * i], panel_scores[2 * i + 1]);
            _mm512_min_ps(_mm512_shuffle_f32x4::<0x44>(a, b), _mm512_shuffle_f32x4::<0xee>(a, b))
        });
        let quarters: [__m512; 4] = std::array::from_fn(|i| {
            let (a, b) = (halves[2 * i], halves[2 * i + 1]);
            _mm512_min_ps(_mm512_shuffle_f32x4::<0x88>(a, b), _mm512_shuffle_f32x4::<0xdd>(a, b))
        });
        let pairs: [__m512; 2] = std::array::from_fn(|i| {
            let (a, b) = (quarters[2 * i], quarters[2 * i + 1]);
            _mm512_min_ps(_mm512_shuffle_ps::<0x44>(a, b), _mm512_shuffle_ps::<0xee>(a, b))
        });
        let (a, b) = (pairs[0], pairs[1]);
        let minima = _mm512_permutexvar_ps(
            order,
            _mm512_min_ps(_mm512_shuffle_ps::<0x88>(a, b), _mm512_shuffle_ps::<0xdd>(a, b)),
        );
        let live = (panels - first).min(16);
        let (lo, hi) = (_mm512_castps512_ps256(minima), _mm512_extractf32x8_ps::<1>(minima));
        // SAFETY: the masks keep the stores inside `panel_min`.
        unsafe {
            let out = panel_min.as_mut_ptr().add(first);
            _mm512_mask_storeu_pd(out, mask16(live.min(8)) as __mmask8, _mm512_sub_pd(_mm512_cvtps_pd(lo), margin));
            _mm512_mask_storeu_pd(
                out.add(8),
                mask16(live.saturating_sub(8)) as __mmask8,
                _mm512_sub_pd(_mm512_cvtps_pd(hi), margin),
            );
        }
    }
}

/// `v`, or the next float32 up where `v` (rounded) is below `exact`.
fn next_up(v: f32, exact: f64) -> f32 {
    if f64::from(v) >= exact || !v.is_finite() {
        v
    } else {
        f32::from_bits(if v == 0.0 {
            1
        } else if v > 0.0 {
            v.to_bits() + 1
        } else {
            v.to_bits() - 1
        })
    }
}

/// The sub-block's rows as bfloat16 rows of `width` (zero-padded, rows past the block zero),
/// and an upper bound on each row's Euclidean norm (+∞ or NaN for a row with a value that is not
/// finite, whose bfloat16 row is zeroed).
#[target_feature(enable = "avx512f,avx512bf16,avx2,fma")]
unsafe fn to_bf16(block: &[f32], d: usize, width: usize, out: &mut [u16]) -> [f64; ROWS] {
    let live = block.len() / d;
    let mut norms = [0f64; ROWS];
    out.fill(0);
    for (i, row) in block.chunks_exact(d).enumerate() {
        let dst = &mut out[i * width..(i + 1) * width];
        let mut sum = _mm512_setzero_ps();
        for (s, chunk) in row.chunks(DEPTH).enumerate() {
            let n = chunk.len();
            let (lo_mask, hi_mask) = (mask16(n.min(16)), mask16(n.saturating_sub(16)));
            // SAFETY: the masks keep the loads inside `chunk`; the store writes 64 bytes
            // inside `dst` (width is a multiple of DEPTH).
            unsafe {
                let lo = _mm512_maskz_loadu_ps(lo_mask, chunk.as_ptr());
                let hi = _mm512_maskz_loadu_ps(hi_mask, chunk.as_ptr().add(16.min(n)));
                sum = _mm512_fmadd_ps(lo, lo, sum);
                sum = _mm512_fmadd_ps(hi, hi, sum);
                let packed = _mm512_cvtne2ps_pbh(hi, lo);
                _mm512_storeu_si512(
                    dst[s * DEPTH..].as_mut_ptr().cast(),
                    std::mem::transmute::<__m512bh, __m512i>(packed),
                );
            }
        }
        let squares = f64::from(_mm512_reduce_add_ps(sum));
        // float32 sums of d squares are within d + 16 units of rounding of the exact sum, and
        // within 2d · 2⁻¹²⁶ more where squares or sums are subnormal (rounded, or flushed to zero
        // where the process runs with flush-to-zero set).
        let df = d as f64;
        let norm = (squares * (1.0 + (df + 16.0) * F32_UNIT) + 2.0 * df * 2f64.powi(-126)).sqrt() * (1.0 + 1e-12);
        norms[i] = norm;
        if !norm.is_finite() {
            dst.fill(0);
        }
    }
    for norm in norms.iter_mut().skip(live) {
        *norm = 0.0;
    }
    norms
}

/// Sixteen approximate scores `||c||² − 2 x̃·c̃` from their dot products and norms: one rounding,
/// as the exact kernel's `fmadd(dot, −2, ||c||²)`. The fold, the candidates and the panel minima
/// all compute them this way, so a score compares the same wherever it is recomputed.
#[target_feature(enable = "avx512f")]
#[inline]
fn scores(dots: __m512, norms: __m512) -> __m512 {
    _mm512_fmadd_ps(dots, _mm512_set1_ps(-2.0), norms)
}

/// The mask of the first `n` (at most 16) lanes.
fn mask16(n: usize) -> __mmask16 {
    if n >= 16 {
        0xffff
    } else {
        ((1u32 << n) - 1) as __mmask16
    }
}

/// Where a row's dot product with centre `c` lies in a sub-block's buffer, from the row's
/// first (at its index × COLS): the buffer holds one block after the other, each ROWS rows of
/// COLS, so that a block's tiles are stored to 4 KB in a row.
#[inline(always)]
fn at(c: usize) -> usize {
    (c / COLS) * ROWS * COLS + c % COLS
}

/// Every approximate dot product of the sub-block's `live` rows (bfloat16 rows of
/// `packed.steps` × DEPTH) with every centre, into `dots` (blocks × ROWS × COLS), then, per
/// row, its smallest score, that score's centre and its second-smallest score (scores
/// `||c||² − 2 x̃·c̃`, ties to the lowest index).
#[target_feature(enable = "avx512f,avx512bf16,avx2,fma")]
unsafe fn approximate(packed: &Packed, rows: &[u16], dots: &mut [f32], live: usize) -> [(f32, u32, f32); ROWS] {
    let steps = packed.steps;
    let row_stride = steps * DEPTH * 2;
    let dot_stride = COLS * 4;
    assert!(dots.len() >= ROWS * packed.blocks * COLS && rows.len() >= ROWS * steps * DEPTH);
    let dots = dots.as_mut_ptr();
    let a0 = rows.as_ptr().cast::<u8>();
    // SAFETY: the rows buffer holds ROWS rows of `row_stride` bytes.
    let a1 = unsafe { a0.add(TILE * row_stride) };
    let infinity = _mm512_set1_ps(f32::INFINITY);
    let mut best = [infinity; ROWS];
    let mut second = [infinity; ROWS];
    let mut index = [_mm512_setzero_si512(); ROWS];
    let lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let fold = |q: usize, best: &mut [__m512; ROWS], second: &mut [__m512; ROWS], index: &mut [__m512i; ROWS]| {
        // SAFETY: block q's columns lie inside every row of `dots` and inside `norms`.
        unsafe {
            let norms = packed.norms.as_ptr().add(q * COLS);
            let (n0, n1) = (_mm512_loadu_ps(norms), _mm512_loadu_ps(norms.add(TILE)));
            let first = _mm512_add_epi32(lanes, _mm512_set1_epi32((q * COLS) as i32));
            let upper = _mm512_add_epi32(first, _mm512_set1_epi32(TILE as i32));
            for i in 0..live {
                let at = dots.add(q * ROWS * COLS + i * COLS);
                for (dot, norm, ids) in [(_mm512_loadu_ps(at), n0, first), (_mm512_loadu_ps(at.add(TILE)), n1, upper)] {
                    let s = scores(dot, norm);
                    second[i] = _mm512_min_ps(second[i], _mm512_max_ps(best[i], s));
                    let wins = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(s, best[i]);
                    best[i] = _mm512_min_ps(s, best[i]);
                    index[i] = _mm512_mask_blend_epi32(wins, index[i], ids);
                }
            }
        }
    };
    for q in 0..packed.blocks {
        // SAFETY: the CPU has AMX and the tiles are configured (the caller's `ldtilecfg`); every
        // load reads 16 rows of 64 bytes inside the rows buffer or block q's centre tiles.
        unsafe {
            let b = packed.tiles.as_slice().as_ptr().add(q * steps * COLS * DEPTH).cast::<u8>();
            asm!("tilezero tmm0", "tilezero tmm1", "tilezero tmm2", "tilezero tmm3", options(nostack, nomem));
            for s in 0..steps {
                asm!(
                    "tileloadd tmm4, [{a0} + {sa}*1]",
                    "tileloadd tmm5, [{a1} + {sa}*1]",
                    "tileloadd tmm6, [{b0} + {sb}*1]",
                    "tileloadd tmm7, [{b1} + {sb}*1]",
                    "tdpbf16ps tmm0, tmm4, tmm6",
                    "tdpbf16ps tmm1, tmm4, tmm7",
                    "tdpbf16ps tmm2, tmm5, tmm6",
                    "tdpbf16ps tmm3, tmm5, tmm7",
                    a0 = in(reg) a0.add(s * DEPTH * 2),
                    a1 = in(reg) a1.add(s * DEPTH * 2),
                    sa = in(reg) row_stride,
                    b0 = in(reg) b.add(s * COLS * DEPTH * 2),
                    b1 = in(reg) b.add(s * COLS * DEPTH * 2 + TILE * DEPTH * 2),
                    sb = in(reg) DEPTH * 2,
                    options(nostack, readonly),
                );
            }
        }
        // The previous block's scores, folded while this block's multiply-adds run.
        if q > 0 {
            fold(q - 1, &mut best, &mut second, &mut index);
        }
        // SAFETY: four 16 × 16 float32 blocks inside `dots` (block q's ROWS rows of COLS).
        unsafe {
            let c = dots.add(q * ROWS * COLS).cast::<u8>();
            asm!(
                "tilestored [{c0} + {s}*1], tmm0",
                "tilestored [{c1} + {s}*1], tmm1",
                "tilestored [{c2} + {s}*1], tmm2",
                "tilestored [{c3} + {s}*1], tmm3",
                c0 = in(reg) c,
                c1 = in(reg) c.add(TILE * 4),
                c2 = in(reg) c.add(TILE * dot_stride),
                c3 = in(reg) c.add(TILE * dot_stride + TILE * 4),
                s = in(reg) dot_stride,
                options(nostack),
            );
        }
    }
    fold(packed.blocks - 1, &mut best, &mut second, &mut index);
    let mut out = [(f32::INFINITY, 0, f32::INFINITY); ROWS];
    for (i, out) in out.iter_mut().enumerate().take(live) {
        *out = across_lanes(best[i], index[i], second[i]);
    }
    out
}

/// A row's smallest score (ties to the lowest centre), its centre and the second-smallest
/// score, from its lanes' smallest scores, their centres and their second-smallest scores.
#[target_feature(enable = "avx512f")]
fn across_lanes(best: __m512, index: __m512i, second: __m512) -> (f32, u32, f32) {
    // SAFETY: plain bit casts of 16 lanes.
    let (values, ids, seconds) = unsafe {
        (
            std::mem::transmute::<__m512, [f32; 16]>(best),
            std::mem::transmute::<__m512i, [u32; 16]>(index),
            std::mem::transmute::<__m512, [f32; 16]>(second),
        )
    };
    let mut winner = 0;
    for lane in 1..16 {
        if values[lane] < values[winner] || (values[lane] == values[winner] && ids[lane] < ids[winner]) {
            winner = lane;
        }
    }
    // The second smallest overall: a lane's second-smallest, or another lane's smallest.
    let others = (0..16).filter(|&l| l != winner).map(|l| values[l]);
    let runner_up = seconds.iter().copied().chain(others).fold(f32::INFINITY, f32::min);
    (values[winner], ids[winner], runner_up)
}

/// Calls `keep(j)`, j increasing, for every centre j < k whose approximate score in `dots`
/// (the sub-block's dot products from the row's first, see [`at`]) is at most `limit`.
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn candidates(dots: &[f32], norms: &[f32], k: usize, limit: f32, mut keep: impl FnMut(u32)) {
    let limit = _mm512_set1_ps(limit);
    for c in (0..k).step_by(TILE) {
        // SAFETY: `dots` and `norms` hold whole blocks of COLS past k.
        let mut close = unsafe {
            let s = scores(_mm512_loadu_ps(dots.as_ptr().add(at(c))), _mm512_loadu_ps(norms.as_ptr().add(c)));
            _mm512_cmp_ps_mask::<_CMP_LE_OQ>(s, limit)
        } as u32;
        while close != 0 {
            let j = c + close.trailing_zeros() as usize;
            if j < k {
                keep(j as u32);
            }
            close &= close - 1;
        }
    }
}

/// Exact scores of the listed (row, centre) pairs, 16 at a time in the lanes of one register
/// (rows and centres gathered feature by feature: float32 multiply-adds in feature order, from
/// zero, then `||c||² − 2 x·c`, the exact kernel's bits), and each listed row's label: its
/// smallest (score, `ids[centre]` or the centre).
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn rescore(
    pairs: &[(u32, u32)],
    rows: &[f32],
    centers: &[f32],
    norms: &[f32],
    d: usize,
    ids: Option<&[i32]>,
    labels: &mut [u32],
) {
    let key = |j: u32| ids.map_or(j as i64, |ids| i64::from(ids[j as usize]));
    let minus_two = _mm512_set1_ps(-2.0);
    let mut exact = [0f32; 16];
    let mut current = (u32::MAX, f32::INFINITY, u32::MAX);
    for chunk in pairs.chunks(16) {
        let n = chunk.len();
        let (mut row_at, mut center_at, mut lane_centers) = ([0i32; 16], [0i32; 16], [0i32; 16]);
        for (l, &(r, j)) in chunk.iter().enumerate() {
            row_at[l] = (r as usize * d) as i32;
            center_at[l] = (j as usize * d) as i32;
            lane_centers[l] = j as i32;
        }
        // SAFETY: every offset is a row's or a centre's first value, and p < d.
        unsafe {
            let (row_at, center_at) =
                (_mm512_loadu_si512(row_at.as_ptr().cast()), _mm512_loadu_si512(center_at.as_ptr().cast()));
            let mut acc = _mm512_setzero_ps();
            for p in 0..d {
                let x = _mm512_i32gather_ps::<4>(row_at, rows.as_ptr().add(p).cast());
                let c = _mm512_i32gather_ps::<4>(center_at, centers.as_ptr().add(p).cast());
                acc = _mm512_fmadd_ps(x, c, acc);
            }
            let norm =
                _mm512_i32gather_ps::<4>(_mm512_loadu_si512(lane_centers.as_ptr().cast()), norms.as_ptr().cast());
            _mm512_storeu_ps(exact.as_mut_ptr(), _mm512_fmadd_ps(acc, minus_two, norm));
        }
        for (&(r, j), &s) in chunk.iter().zip(&exact[..n]) {
            if r != current.0 || s < current.1 || (s == current.1 && key(j) < key(current.2)) {
                current = (r, s, j);
            }
            labels[r as usize] = current.2;
        }
    }
}

#[cfg(test)]
mod tests;
