//! The assignment's microtile in AVX-512 registers, where the CPU has them: a panel's NR centres
//! (16 float32 or 8 float64) fill one zmm register, so a tile of [`MRW`] = 12 rows keeps its
//! dot products in 12 registers, and each multiply-add takes its row value as a broadcast
//! operand from memory. The rows of a block are packed first into strips of 12 rows,
//! feature-major (for each feature, the 12 rows' values side by side, as BLIS packs its A
//! panels), so that a tile reads its broadcasts at fixed offsets from one pointer.
//!
//! Lane by lane these are the multiply-adds of [`super::microtile`] in the same order, so every
//! score, and every label, has the bits of the AVX2 tiles: the folds that follow are shared.
//! Measured on a 2-vCPU Xeon (AVX-512, numpy's sgemm 183 GFLOP/s): assigning 200,000 × 128
//! float32 rows to 1,000 centres, 286–292 ms against the AVX2 tiles' 389–395 (179 GFLOP/s).

use std::arch::x86_64::__cpuid;
use std::sync::OnceLock;

use crate::kernels::avx2::lanes::Lanes;

/// Rows per wide microtile.
pub(crate) const MRW: usize = 12;

/// Set to 1, the environment variable that keeps the AVX2 tiles on a CPU with AVX-512 (read
/// once): for comparing the two, whose results are the same bits.
pub const DISABLE_VAR: &str = "FASTKMEANS_DISABLE_AVX512";

/// Whether this CPU runs the wide tiles (decided once): it has AVX-512F with full-width
/// multiply-adds, and [`DISABLE_VAR`] is not 1. AMD's Zen 4 (family 19h) splits each zmm
/// multiply-add into two 256-bit halves, so there the wide tiles do the AVX2 tiles' work plus
/// the packing: it keeps the AVX2 tiles.
pub(crate) fn available() -> bool {
    static WIDE: OnceLock<bool> = OnceLock::new();
    *WIDE.get_or_init(|| {
        let disabled = std::env::var_os(DISABLE_VAR).is_some_and(|v| v == "1");
        !disabled && is_x86_feature_detected!("avx512f") && !half_width_zmm()
    })
}

/// Whether the CPU is an AMD of family 19h (Zen 3 and Zen 4; only Zen 4 has AVX-512).
fn half_width_zmm() -> bool {
    // SAFETY: CPUID leaves 0 and 1 exist on every x86-64 CPU (a safe function from Rust 1.94).
    #[allow(unused_unsafe)]
    let (vendor, signature) = unsafe { (__cpuid(0), __cpuid(1)) };
    let amd = [vendor.ebx, vendor.edx, vendor.ecx] == [0x6874_7541, 0x6974_6e65, 0x444d_4163]; // "AuthenticAMD"
    let (base, extended) = ((signature.eax >> 8) & 0xf, (signature.eax >> 20) & 0xff);
    let family = if base == 0xf { base + extended } else { base };
    amd && family == 0x19
}

/// Fewer panels than this: the AVX2 tiles, which read the rows where they are. Packing a strip
/// costs about what one to two panels' multiply-adds cost: MNIST's 10,000 × 784 float64 rows
/// against 10 centres (two panels) took 0.31 s a default fit with strips, against 0.25 without.
pub(crate) const MIN_PANELS: usize = 4;

/// The first `tiles · MRW` rows of `rows` (row-major, `d` features), MRW at a time, each strip
/// feature-major: `out[(t · d + p) · MRW + i]` is feature p of row `t · MRW + i`.
pub(crate) fn strips<T: Copy>(rows: &[T], tiles: usize, d: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(tiles * MRW * d);
    for tile_rows in rows.chunks_exact(MRW * d).take(tiles) {
        out.extend((0..d).flat_map(|p| (0..MRW).map(move |i| tile_rows[i * d + p])));
    }
    out
}

/// The MRW × NR dot products of one strip of [`strips`] with one panel (d × NR, feature-major),
/// as two registers per row: what [`super::microtile`] returns for the same rows.
///
/// # Safety
/// The CPU must support AVX-512F ([`available`]), AVX2 and FMA; `strip` must hold d × MRW values
/// and `panel` d × NR.
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
pub(crate) unsafe fn strip_tile<T: Lanes>(strip: *const T, panel: *const T, d: usize) -> [[T::V; 2]; MRW] {
    // SAFETY: the CPU has AVX-512F (this function's contract).
    let mut acc = [unsafe { T::wide_zero() }; MRW];
    let (mut a, mut c) = (strip, panel);
    for _ in 0..d {
        // SAFETY: d steps of MRW and NR values stay inside the strip and the panel.
        unsafe {
            let centers = T::wide_load(c);
            for (i, acc) in acc.iter_mut().enumerate() {
                *acc = T::wide_fmadd(T::wide_splat(a.add(i)), centers, *acc);
            }
            a = a.add(MRW);
            c = c.add(2 * T::LANES);
        }
    }
    // SAFETY: as above.
    acc.map(|acc| unsafe { T::wide_split(acc) })
}

#[cfg(test)]
mod tests;
