//! The full scan's tile in AVX-512 registers, where the CPU runs them ([`available`]): two panels
//! at once. A panel's NR centres (16 float32 or 8 float64) fill one zmm register, so a tile of six
//! rows against two panels keeps its dot products in twelve zmm registers: per feature, two
//! loads, six broadcasts and twelve multiply-adds, the work of two AVX2 tiles (four loads, twelve
//! broadcasts, twenty-four multiply-adds). The rows are read where they are, six pointers as in
//! the AVX2 tile, and the centres keep the AVX2 packing: nothing is packed again.
//!
//! Lane by lane these are the multiply-adds of the AVX2 tile (`microtile`) in the same order (from zero,
//! feature by feature, one rounding each), and a zmm register's lower and upper halves are the
//! AVX2 tile's two registers for that panel, folded as the AVX2 scan folds them, first panel
//! first: every score, label and runner-up has the bits of the AVX2 scan.

use std::arch::x86_64::__cpuid;
use std::sync::OnceLock;

use crate::kernels::avx2::lanes::Lanes;

/// Set to 1, the environment variable that keeps the AVX2 tiles (and the narrow rows' AVX2 body)
/// on a CPU with AVX-512 (read once): for comparing the two, whose results are the same bits.
pub const DISABLE_VAR: &str = "FASTKMEANS_DISABLE_AVX512";

/// Whether a scan over `panels` panels takes the wide tiles: the CPU runs them ([`available`])
/// and there are two panels to pair.
#[inline]
pub(crate) fn worth(panels: usize) -> bool {
    panels >= 2 && available()
}

/// Whether this CPU runs the wide tiles and the narrow rows' AVX-512 body (decided once): it has
/// AVX-512F, is not an AMD of family 19h, and [`DISABLE_VAR`] is not 1. AMD's Zen 4 (family 19h) splits each zmm multiply-add into
/// two 256-bit halves, the AVX2 tiles' throughput: it keeps the AVX2 tiles, whose speed there is
/// measured. Other CPUs with a single 512-bit unit (Intel's client cores, Xeon Bronze and
/// Silver, AMD's Zen 5 laptops) run the wide tiles unmeasured; the bits are the same either way.
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

/// The dot products of the first `live` of `M` rows with two panels `a` and `b`: for each, what
/// the AVX2 scan's tile returns for that panel (rows past `live` unset). `M` is the tile height
/// (six); the tile runs 2, 4 or `M` rows, as the AVX2 tile does.
///
/// # Safety
/// The CPU must support AVX-512F, AVX2 and FMA; every row pointer must have d readable values,
/// each panel d × NR.
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
pub(crate) unsafe fn pair_scores<T: Lanes, const M: usize>(
    rows: [*const T; M],
    live: usize,
    a: *const T,
    b: *const T,
    d: usize,
) -> [[[T::V; 2]; M]; 2] {
    #[inline(always)]
    unsafe fn tile<T: Lanes, const M: usize, const R: usize>(
        rows: [*const T; M],
        a: *const T,
        b: *const T,
        d: usize,
    ) -> [[[T::V; 2]; M]; 2] {
        // SAFETY: the caller has AVX-512F (this function's contract).
        let zero = unsafe { T::wide_zero() };
        let mut acc = [[zero; 2]; R];
        let nr = 2 * T::LANES;
        for p in 0..d {
            // SAFETY: p < d, so every read is inside its row and the panels.
            unsafe {
                let (ca, cb) = (T::wide_load(a.add(p * nr)), T::wide_load(b.add(p * nr)));
                for i in 0..R {
                    let x = T::wide_splat(rows[i].add(p));
                    acc[i][0] = T::wide_fmadd(x, ca, acc[i][0]);
                    acc[i][1] = T::wide_fmadd(x, cb, acc[i][1]);
                }
            }
        }
        // SAFETY: as above.
        let unset = unsafe { T::zero() };
        let mut out = [[[unset; 2]; M]; 2];
        for (i, [wa, wb]) in acc.into_iter().enumerate() {
            // SAFETY: as above.
            unsafe { (out[0][i], out[1][i]) = (T::wide_split(wa), T::wide_split(wb)) };
        }
        out
    }
    // SAFETY: forwarded.
    unsafe {
        match live {
            0..=2 => tile::<T, M, 2>(rows, a, b, d),
            3..=4 => tile::<T, M, 4>(rows, a, b, d),
            _ => tile::<T, M, M>(rows, a, b, d),
        }
    }
}

/// Rows per tile of [`panel_scores`]: twelve accumulators, enough multiply-adds in flight to
/// cover their latency where six (the pair tile's rows, per panel) leave the units half idle.
pub(crate) const LIST_ROWS: usize = 12;

/// The dot products of the first `live` of `M` rows with one panel whose NR centres fill one
/// zmm register: per row, what the AVX2 tile returns for that panel (rows past `live` unset).
/// Per feature one load, `M` broadcasts and `M` multiply-adds, where the AVX2 tile spends two
/// multiply-adds per row. The tile runs 2, 4, 6, 8 or `M` rows.
///
/// # Safety
/// The CPU must support AVX-512F, AVX2 and FMA; every row pointer must have d readable values,
/// the panel d × NR.
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
pub(crate) unsafe fn panel_scores<T: Lanes, const M: usize>(
    rows: [*const T; M],
    live: usize,
    panel: *const T,
    d: usize,
) -> [[T::V; 2]; M] {
    #[inline(always)]
    unsafe fn tile<T: Lanes, const M: usize, const R: usize>(
        rows: [*const T; M],
        panel: *const T,
        d: usize,
    ) -> [[T::V; 2]; M] {
        // SAFETY: the caller has AVX-512F (this function's contract).
        let zero = unsafe { T::wide_zero() };
        let mut acc = [zero; R];
        let nr = 2 * T::LANES;
        for p in 0..d {
            // SAFETY: p < d, so every read is inside its row and the panel.
            unsafe {
                let c = T::wide_load(panel.add(p * nr));
                for i in 0..R {
                    acc[i] = T::wide_fmadd(T::wide_splat(rows[i].add(p)), c, acc[i]);
                }
            }
        }
        // SAFETY: as above.
        let mut out = [[unsafe { T::zero() }; 2]; M];
        for (i, w) in acc.into_iter().enumerate() {
            // SAFETY: as above.
            out[i] = unsafe { T::wide_split(w) };
        }
        out
    }
    // SAFETY: forwarded.
    unsafe {
        match live {
            0..=2 => tile::<T, M, 2>(rows, panel, d),
            3..=4 => tile::<T, M, 4>(rows, panel, d),
            5..=6 => tile::<T, M, 6>(rows, panel, d),
            7..=8 => tile::<T, M, 8>(rows, panel, d),
            _ => tile::<T, M, M>(rows, panel, d),
        }
    }
}

#[cfg(test)]
mod tests;
