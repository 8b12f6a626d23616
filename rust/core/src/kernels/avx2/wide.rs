//! The scans' tiles in AVX-512 registers, where the CPU runs them ([`available`]). A panel's NR
//! centres (16 float32 or 8 float64) fill one zmm register, so that one multiply-add does the
//! work of two in the AVX2 tile. The full scan runs [`ROWS`] rows against two panels at once
//! ([`pair_scores`]: 24 accumulators; per feature two loads, twelve broadcasts folded into the
//! multiply-adds, 24 multiply-adds) and a lone panel against one register ([`panel_scores`]);
//! the grouped pass's listed scan runs its rows against one panel the same way, or against two
//! neighbouring panels whose lists name the same rows. The rows are read where they are, a
//! pointer each as in the AVX2 tile, and the centres keep the AVX2 packing: nothing is packed
//! again.
//!
//! Lane by lane these are the multiply-adds of the AVX2 tile (`microtile`) in the same order (from zero,
//! feature by feature, one rounding each), and a zmm register's lower and upper halves are the
//! AVX2 tile's two registers for that panel, folded as the AVX2 scan folds them, first panel
//! first: every score, label and runner-up has the bits of the AVX2 scan.
//!
//! Twelve rows, not the AVX2 tile's six: measured on the full scan, `lloyd_passes … plain` with
//! both heights taking turns in one process (best of 5), 200,000 × 128, k = 1,000 took 0.88 of
//! the six-row time (204 ms, numpy's float32 GEMM's time on that machine), 100,000 × 64, k = 256
//! 0.89, 50,000 × 784, k = 64 0.91; 200,000 × 16, k = 1,000 and 1,000,000 × 32, k = 100 were
//! unchanged. Six rows against two panels are twelve accumulators, too few for the multiply-adds
//! in flight on two 512-bit units; the listed scan's single panel likewise (8, 10 and 12 rows
//! measured the same there, 16 slower: its row pointers no longer fit the registers).

use std::arch::x86_64::__cpuid;
use std::sync::OnceLock;

use crate::kernels::avx2::lanes::Lanes;

/// Set to 1, the environment variable that keeps the AVX2 tiles (and the narrow rows' AVX2 body)
/// on a CPU with AVX-512 (read once): for comparing the two, whose results are the same bits.
pub const DISABLE_VAR: &str = "FASTKMEANS_DISABLE_AVX512";

/// Whether a scan over `panels` panels (`half_last`: the last one's upper register is padding)
/// takes the wide tiles: the CPU runs them ([`available`]) and they save multiply-adds, which
/// a lone half-width panel (one AVX2 register, one zmm) does not.
#[inline]
pub(crate) fn worth(panels: usize, half_last: bool) -> bool {
    (panels >= 2 || (panels == 1 && !half_last)) && available()
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

/// Rows per tile of [`pair_scores`] and [`panel_scores`].
pub(crate) const ROWS: usize = 12;

/// [`pair_scores`] of the panel at `panel` and the next one where `pair`, else [`panel_scores`]
/// of the one (returned twice): the scans' one way to run a wide tile.
///
/// # Safety
/// As [`pair_scores`], the second panel at `panel` + d × NR where `pair`.
#[target_feature(enable = "avx512f,avx2,fma")]
#[inline]
pub(crate) unsafe fn scores<T: Lanes, const M: usize>(
    rows: [*const T; M],
    live: usize,
    panel: *const T,
    pair: bool,
    d: usize,
) -> [[[T::V; 2]; M]; 2] {
    // SAFETY: forwarded.
    unsafe {
        if pair {
            pair_scores::<T, M>(rows, live, panel, panel.add(d * 2 * T::LANES), d)
        } else {
            let one = panel_scores::<T, M>(rows, live, panel, d);
            [one, one]
        }
    }
}

/// The dot products of the first `live` of `M` rows with two panels `a` and `b`: for each, what
/// the AVX2 scan's tile returns for that panel (rows past `live` unset). `M` is the tile height
/// ([`ROWS`]); the tile runs 2, 4, 6, 8 or `M` rows.
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
            5..=6 => tile::<T, M, 6>(rows, a, b, d),
            7..=8 => tile::<T, M, 8>(rows, a, b, d),
            _ => tile::<T, M, M>(rows, a, b, d),
        }
    }
}

/// The dot products of the first `live` of `M` rows with one panel whose NR centres fill one
/// zmm register: per row, what the AVX2 tile returns for that panel (rows past `live` unset; a
/// panel whose upper register is padding gives the zeros the AVX2 half tile leaves there, or NaN
/// for a row of infinities). The tile runs 2, 4, 6, 8 or `M` rows.
///
/// [`pair_scores`]' tile with one panel. One tile generic over one or two panels was tried
/// (same bits): its two-panel form compiled to a loop that made the full pass of 200,000 × 128
/// rows against 1,000 centres 1.5–1.7 times as slow, so the two stay apart.
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
