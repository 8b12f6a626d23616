//! The registers the microkernel runs on: [`Lanes`] gives float32 (eight to a ymm register) and
//! float64 (four) the same operations, each one AVX2/FMA instruction, so that one kernel body
//! serves both precisions; and the few AVX-512F ones of the wide tiles (`wide_`, a zmm register
//! holding two ymm registers' lanes).
//!
//! The methods are `#[inline(always)]` but not compiled for AVX2 themselves: they are only
//! called from the kernel's `#[target_feature(enable = "avx2,fma")]` functions, where, inlined,
//! each intrinsic is a single instruction.

use std::arch::x86_64::*;

use crate::kernels::scalar::Scalar;

/// A float type with an AVX2 register of [`Lanes::LANES`] values.
///
/// # Safety
/// Every method needs a CPU with AVX2 and FMA, and the `wide_` ones AVX-512F; pointers must be valid for the values read or
/// written (`LANES` values, or one for [`Lanes::splat`]). An implementation must make `LANES`
/// the register's true width and `spill` / `spill_indices` return exactly `LANES` values in lane
/// order: the kernel's pointer arithmetic trusts them.
pub(crate) unsafe trait Lanes: Scalar {
    /// One ymm register of this type's values.
    type V: Copy;
    /// Values per register.
    const LANES: usize;
    /// All lanes zero.
    unsafe fn zero() -> Self::V;
    /// All lanes `v`.
    unsafe fn set(v: Self) -> Self::V;
    /// `LANES` values from memory (no alignment needed).
    unsafe fn load(p: *const Self) -> Self::V;
    /// The value at `p` in every lane.
    unsafe fn splat(p: *const Self) -> Self::V;
    /// `a · b + c`, rounded once.
    unsafe fn fmadd(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a < b ? a : b`, lane by lane (so a NaN in `a` gives `b`).
    unsafe fn min(a: Self::V, b: Self::V) -> Self::V;
    /// `a > b ? a : b`, lane by lane.
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    /// All ones in the lanes where `a < b` (ordered, quiet), zeros elsewhere, as integers.
    unsafe fn less(a: Self::V, b: Self::V) -> __m256i;
    /// The indices `first`, `first + 1`, …, `first + LANES − 1`, in integers of this type's
    /// width (so that [`less`](Lanes::less)'s masks select them).
    unsafe fn indices(first: i64) -> __m256i;
    /// The index `i` in every lane (laid out as [`Lanes::indices`]).
    unsafe fn index_splat(i: i64) -> __m256i;
    /// The lanes, widened to `f64` (the first `LANES` of eight).
    unsafe fn spill(v: Self::V) -> [f64; 8];
    /// The indices of [`indices`](Lanes::indices)' layout (the first `LANES` of eight).
    unsafe fn spill_indices(i: __m256i) -> [i64; 8];
    /// Eight values held in one register of float32 or two of float64 (the second unused for
    /// float32), widened to `f64`: lanes 0–3 and 4–7.
    unsafe fn eight_f64(v: [Self::V; 2]) -> [__m256d; 2];
    /// `a + b`, lane by lane.
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// `a − b`, lane by lane.
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    /// `a · b`, lane by lane (rounded on its own: not fused with an add).
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// The square root of each lane, correctly rounded.
    unsafe fn sqrt(a: Self::V) -> Self::V;
    /// Writes the `LANES` values to memory (no alignment needed).
    unsafe fn store(p: *mut Self, v: Self::V);
    /// `v` in the lanes where `a ≠ b` (ordered: a NaN in either gives 0), 0 elsewhere.
    unsafe fn keep_unequal(a: Self::V, b: Self::V, v: Self::V) -> Self::V;
    /// The smallest lane, in every lane.
    unsafe fn hmin(v: Self::V) -> Self::V;
    /// All ones in the lanes where `a == b` (ordered, quiet), zeros elsewhere, as integers.
    unsafe fn equal(a: Self::V, b: Self::V) -> __m256i;
    /// `LANES` indices from `p` (as 32-bit integers), in [`indices`](Lanes::indices)' layout.
    unsafe fn load_indices(p: *const i32) -> __m256i;
    /// All ones in the lanes where index `a` < index `b` ([`indices`](Lanes::indices)' layout).
    unsafe fn index_less(a: __m256i, b: __m256i) -> __m256i;
    /// Lane 0, widened to `f64`.
    unsafe fn first(v: Self::V) -> f64;
    /// One zmm register: two of [`Lanes::V`] side by side (AVX-512F).
    type W: Copy;
    /// All wide lanes zero (AVX-512F).
    unsafe fn wide_zero() -> Self::W;
    /// `2 · LANES` values from memory, no alignment needed (AVX-512F).
    unsafe fn wide_load(p: *const Self) -> Self::W;
    /// The value at `p` in every wide lane (AVX-512F).
    unsafe fn wide_splat(p: *const Self) -> Self::W;
    /// `a · b + c` in every wide lane, rounded once (AVX-512F).
    unsafe fn wide_fmadd(a: Self::W, b: Self::W, c: Self::W) -> Self::W;
    /// The lower and the upper half (AVX-512F).
    unsafe fn wide_split(v: Self::W) -> [Self::V; 2];
    /// A bit per wide lane (AVX-512F): `__mmask16` for float32, `__mmask8` for float64.
    type Mask: Copy;
    /// All wide lanes `v` (AVX-512F).
    unsafe fn wide_set(v: Self) -> Self::W;
    /// `a < b ? a : b`, wide lane by lane (AVX-512F; a NaN in `a` gives `b`, as [`Lanes::min`]).
    unsafe fn wide_min(a: Self::W, b: Self::W) -> Self::W;
    /// `a > b ? a : b`, wide lane by lane (AVX-512F).
    unsafe fn wide_max(a: Self::W, b: Self::W) -> Self::W;
    /// The wide lanes where `a < b` (ordered, quiet) (AVX-512F).
    unsafe fn wide_less(a: Self::W, b: Self::W) -> Self::Mask;
    /// The index `i` in every wide lane, in integers of this type's width (AVX-512F).
    unsafe fn wide_index_splat(i: i64) -> __m512i;
    /// `index` in the wide lanes of `mask`, `v` elsewhere (AVX-512F).
    unsafe fn wide_pick(v: __m512i, mask: Self::Mask, index: __m512i) -> __m512i;
    /// The wide lanes, widened to `f64` (the first `2 · LANES` of sixteen; AVX-512F).
    unsafe fn wide_spill(v: Self::W) -> [f64; 16];
    /// The indices of [`wide_index_splat`](Lanes::wide_index_splat)'s layout (the first
    /// `2 · LANES` of sixteen; AVX-512F).
    unsafe fn wide_spill_indices(i: __m512i) -> [i64; 16];
    /// The wide lanes whose bits are set in `bits` (AVX-512F).
    unsafe fn wide_mask(bits: u32) -> Self::Mask;
    /// Lane `l` is lane `index[l]` of the `4 · LANES` lanes of `a` then `b` (AVX-512F).
    unsafe fn wide_permute2(a: Self::W, index: __m512i, b: Self::W) -> Self::W;
    /// `b` in the wide lanes of `mask`, `a` elsewhere (AVX-512F).
    unsafe fn wide_blend(mask: Self::Mask, a: Self::W, b: Self::W) -> Self::W;
    /// Lane `l` holds `l · stride + offset`, in [`wide_permute2`](Lanes::wide_permute2)'s index
    /// layout (AVX-512F).
    unsafe fn wide_positions(stride: i64, offset: i64) -> __m512i;
    /// Writes the `2 · LANES` wide lanes to memory, no alignment needed (AVX-512F).
    unsafe fn wide_store(p: *mut Self, v: Self::W);
}

// SAFETY: eight f32 lanes in a __m256, eight i32 indices in a __m256i, spilled in lane order.
unsafe impl Lanes for f32 {
    type V = __m256;
    const LANES: usize = 8;
    type W = __m512;
    #[inline(always)]
    unsafe fn wide_zero() -> __m512 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn wide_load(p: *const f32) -> __m512 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn wide_splat(p: *const f32) -> __m512 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_set1_ps(*p) }
    }
    #[inline(always)]
    unsafe fn wide_fmadd(a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn wide_split(v: __m512) -> [__m256; 2] {
        // SAFETY: the caller's (see the trait).
        unsafe { [_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)))] }
    }
    type Mask = __mmask16;
    #[inline(always)]
    unsafe fn wide_set(v: f32) -> __m512 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_set1_ps(v) }
    }
    #[inline(always)]
    unsafe fn wide_min(a: __m512, b: __m512) -> __m512 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_min_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn wide_max(a: __m512, b: __m512) -> __m512 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_max_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn wide_less(a: __m512, b: __m512) -> __mmask16 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b) }
    }
    #[inline(always)]
    unsafe fn wide_index_splat(i: i64) -> __m512i {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_set1_epi32(i as i32) }
    }
    #[inline(always)]
    unsafe fn wide_pick(v: __m512i, mask: __mmask16, index: __m512i) -> __m512i {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_mask_mov_epi32(v, mask, index) }
    }
    #[inline(always)]
    unsafe fn wide_spill(v: __m512) -> [f64; 16] {
        let mut out = [0f32; 16];
        // SAFETY: out holds sixteen values.
        unsafe { _mm512_storeu_ps(out.as_mut_ptr(), v) };
        out.map(f64::from)
    }
    #[inline(always)]
    unsafe fn wide_spill_indices(i: __m512i) -> [i64; 16] {
        let mut out = [0i32; 16];
        // SAFETY: out holds sixteen values.
        unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast(), i) };
        out.map(i64::from)
    }
    #[inline(always)]
    unsafe fn wide_mask(bits: u32) -> __mmask16 {
        bits as __mmask16
    }
    #[inline(always)]
    unsafe fn wide_permute2(a: __m512, index: __m512i, b: __m512) -> __m512 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_permutex2var_ps(a, index, b) }
    }
    #[inline(always)]
    unsafe fn wide_blend(mask: __mmask16, a: __m512, b: __m512) -> __m512 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_mask_blend_ps(mask, a, b) }
    }
    #[inline(always)]
    unsafe fn wide_positions(stride: i64, offset: i64) -> __m512i {
        let positions: [i32; 16] = std::array::from_fn(|l| (l as i64 * stride + offset) as i32);
        // SAFETY: the caller's (see the trait); positions holds sixteen values.
        unsafe { _mm512_loadu_si512(positions.as_ptr().cast()) }
    }
    #[inline(always)]
    unsafe fn wide_store(p: *mut f32, v: __m512) {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn zero() -> __m256 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn set(v: f32) -> __m256 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_set1_ps(v) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn splat(p: *const f32) -> __m256 {
        // SAFETY: the caller's.
        unsafe { _mm256_broadcast_ss(&*p) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m256, b: __m256, c: __m256) -> __m256 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn min(a: __m256, b: __m256) -> __m256 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_min_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn max(a: __m256, b: __m256) -> __m256 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_max_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn less(a: __m256, b: __m256) -> __m256i {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(a, b)) }
    }
    #[inline(always)]
    unsafe fn indices(first: i64) -> __m256i {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_add_epi32(_mm256_set1_epi32(first as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)) }
    }
    #[inline(always)]
    unsafe fn index_splat(i: i64) -> __m256i {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_set1_epi32(i as i32) }
    }
    #[inline(always)]
    unsafe fn eight_f64(v: [__m256; 2]) -> [__m256d; 2] {
        // SAFETY: the trait's contract (AVX2).
        unsafe { [_mm256_cvtps_pd(_mm256_castps256_ps128(v[0])), _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v[0]))] }
    }
    #[inline(always)]
    unsafe fn spill(v: __m256) -> [f64; 8] {
        let mut out = [0f32; 8];
        // SAFETY: out holds eight values.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
        out.map(f64::from)
    }
    #[inline(always)]
    unsafe fn spill_indices(i: __m256i) -> [i64; 8] {
        let mut out = [0i32; 8];
        // SAFETY: out holds eight values.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), i) };
        out.map(i64::from)
    }
    #[inline(always)]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m256, b: __m256) -> __m256 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m256, b: __m256) -> __m256 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sqrt(a: __m256) -> __m256 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_sqrt_ps(a) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn keep_unequal(a: __m256, b: __m256, v: __m256) -> __m256 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_and_ps(_mm256_cmp_ps::<_CMP_NEQ_OQ>(a, b), v) }
    }
    #[inline(always)]
    unsafe fn hmin(v: __m256) -> __m256 {
        // SAFETY: the caller's (see the trait).
        unsafe {
            let v = _mm256_min_ps(v, _mm256_permute2f128_ps::<1>(v, v));
            let v = _mm256_min_ps(v, _mm256_permute_ps::<0b0100_1110>(v));
            _mm256_min_ps(v, _mm256_permute_ps::<0b1011_0001>(v))
        }
    }
    #[inline(always)]
    unsafe fn equal(a: __m256, b: __m256) -> __m256i {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_castps_si256(_mm256_cmp_ps::<_CMP_EQ_OQ>(a, b)) }
    }
    #[inline(always)]
    unsafe fn load_indices(p: *const i32) -> __m256i {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_loadu_si256(p.cast()) }
    }
    #[inline(always)]
    unsafe fn index_less(a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_cmpgt_epi32(b, a) }
    }
    #[inline(always)]
    unsafe fn first(v: __m256) -> f64 {
        // SAFETY: the caller's (see the trait).
        f64::from(unsafe { _mm256_cvtss_f32(v) })
    }
}

// SAFETY: four f64 lanes in a __m256d, four i64 indices in a __m256i, spilled in lane order.
unsafe impl Lanes for f64 {
    type V = __m256d;
    const LANES: usize = 4;
    type W = __m512d;
    #[inline(always)]
    unsafe fn wide_zero() -> __m512d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_setzero_pd() }
    }
    #[inline(always)]
    unsafe fn wide_load(p: *const f64) -> __m512d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn wide_splat(p: *const f64) -> __m512d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_set1_pd(*p) }
    }
    #[inline(always)]
    unsafe fn wide_fmadd(a: __m512d, b: __m512d, c: __m512d) -> __m512d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_fmadd_pd(a, b, c) }
    }
    #[inline(always)]
    unsafe fn wide_split(v: __m512d) -> [__m256d; 2] {
        // SAFETY: the caller's (see the trait).
        unsafe { [_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd::<1>(v)] }
    }
    type Mask = __mmask8;
    #[inline(always)]
    unsafe fn wide_set(v: f64) -> __m512d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_set1_pd(v) }
    }
    #[inline(always)]
    unsafe fn wide_min(a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_min_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn wide_max(a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_max_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn wide_less(a: __m512d, b: __m512d) -> __mmask8 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_cmp_pd_mask::<_CMP_LT_OQ>(a, b) }
    }
    #[inline(always)]
    unsafe fn wide_index_splat(i: i64) -> __m512i {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_set1_epi64(i) }
    }
    #[inline(always)]
    unsafe fn wide_pick(v: __m512i, mask: __mmask8, index: __m512i) -> __m512i {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_mask_mov_epi64(v, mask, index) }
    }
    #[inline(always)]
    unsafe fn wide_spill(v: __m512d) -> [f64; 16] {
        let mut out = [0f64; 16];
        // SAFETY: out holds sixteen values, of which the first eight are written.
        unsafe { _mm512_storeu_pd(out.as_mut_ptr(), v) };
        out
    }
    #[inline(always)]
    unsafe fn wide_spill_indices(i: __m512i) -> [i64; 16] {
        let mut out = [0i64; 16];
        // SAFETY: out holds sixteen values, of which the first eight are written.
        unsafe { _mm512_storeu_si512(out.as_mut_ptr().cast(), i) };
        out
    }
    #[inline(always)]
    unsafe fn wide_mask(bits: u32) -> __mmask8 {
        bits as __mmask8
    }
    #[inline(always)]
    unsafe fn wide_permute2(a: __m512d, index: __m512i, b: __m512d) -> __m512d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_permutex2var_pd(a, index, b) }
    }
    #[inline(always)]
    unsafe fn wide_blend(mask: __mmask8, a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_mask_blend_pd(mask, a, b) }
    }
    #[inline(always)]
    unsafe fn wide_positions(stride: i64, offset: i64) -> __m512i {
        let positions: [i64; 8] = std::array::from_fn(|l| l as i64 * stride + offset);
        // SAFETY: the caller's (see the trait); positions holds eight values.
        unsafe { _mm512_loadu_si512(positions.as_ptr().cast()) }
    }
    #[inline(always)]
    unsafe fn wide_store(p: *mut f64, v: __m512d) {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm512_storeu_pd(p, v) }
    }
    #[inline(always)]
    unsafe fn zero() -> __m256d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_setzero_pd() }
    }
    #[inline(always)]
    unsafe fn set(v: f64) -> __m256d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_set1_pd(v) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> __m256d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn splat(p: *const f64) -> __m256d {
        // SAFETY: the caller's.
        unsafe { _mm256_broadcast_sd(&*p) }
    }
    #[inline(always)]
    unsafe fn fmadd(a: __m256d, b: __m256d, c: __m256d) -> __m256d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_fmadd_pd(a, b, c) }
    }
    #[inline(always)]
    unsafe fn min(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_min_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn max(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_max_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn less(a: __m256d, b: __m256d) -> __m256i {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_castpd_si256(_mm256_cmp_pd::<_CMP_LT_OQ>(a, b)) }
    }
    #[inline(always)]
    unsafe fn indices(first: i64) -> __m256i {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_add_epi64(_mm256_set1_epi64x(first), _mm256_setr_epi64x(0, 1, 2, 3)) }
    }
    #[inline(always)]
    unsafe fn index_splat(i: i64) -> __m256i {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_set1_epi64x(i) }
    }
    #[inline(always)]
    unsafe fn eight_f64(v: [__m256d; 2]) -> [__m256d; 2] {
        v
    }
    #[inline(always)]
    unsafe fn spill(v: __m256d) -> [f64; 8] {
        let mut out = [0f64; 8];
        // SAFETY: out holds eight values.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), v) };
        out
    }
    #[inline(always)]
    unsafe fn spill_indices(i: __m256i) -> [i64; 8] {
        let mut out = [0i64; 8];
        // SAFETY: out holds eight values.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), i) };
        out
    }
    #[inline(always)]
    unsafe fn add(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_add_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_sub_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_mul_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn sqrt(a: __m256d) -> __m256d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_sqrt_pd(a) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f64, v: __m256d) {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_storeu_pd(p, v) }
    }
    #[inline(always)]
    unsafe fn keep_unequal(a: __m256d, b: __m256d, v: __m256d) -> __m256d {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_and_pd(_mm256_cmp_pd::<_CMP_NEQ_OQ>(a, b), v) }
    }
    #[inline(always)]
    unsafe fn hmin(v: __m256d) -> __m256d {
        // SAFETY: the caller's (see the trait).
        unsafe {
            let v = _mm256_min_pd(v, _mm256_permute2f128_pd::<1>(v, v));
            _mm256_min_pd(v, _mm256_permute_pd::<0b0101>(v))
        }
    }
    #[inline(always)]
    unsafe fn equal(a: __m256d, b: __m256d) -> __m256i {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_castpd_si256(_mm256_cmp_pd::<_CMP_EQ_OQ>(a, b)) }
    }
    #[inline(always)]
    unsafe fn load_indices(p: *const i32) -> __m256i {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_cvtepi32_epi64(_mm_loadu_si128(p.cast())) }
    }
    #[inline(always)]
    unsafe fn index_less(a: __m256i, b: __m256i) -> __m256i {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_cmpgt_epi64(b, a) }
    }
    #[inline(always)]
    unsafe fn first(v: __m256d) -> f64 {
        // SAFETY: the caller's (see the trait).
        unsafe { _mm256_cvtsd_f64(v) }
    }
}
