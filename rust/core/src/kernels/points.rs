//! A borrowed, row-major `n × d` matrix: the data, a batch or a set of centres.

use crate::error::{Error, Result};
use crate::kernels::scalar::Scalar;

/// Rows of `d` features stored contiguously (C order), borrowed from the caller (a NumPy buffer).
#[derive(Clone, Copy, Debug)]
pub struct Points<'a, F> {
    data: &'a [F],
    n: usize,
    d: usize,
}

impl<'a, F: Scalar> Points<'a, F> {
    /// Views `data` as `n` rows of `d` features.
    pub fn new(data: &'a [F], n: usize, d: usize) -> Result<Self> {
        if n.checked_mul(d) != Some(data.len()) {
            return Err(Error::BadShape { len: data.len(), rows: n, cols: d });
        }
        Ok(Self { data, n, d })
    }

    /// Views `data` as rows of `d` features (`d` must divide the length and be non-zero).
    pub fn from_rows(data: &'a [F], d: usize) -> Result<Self> {
        if d == 0 || !data.len().is_multiple_of(d) {
            return Err(Error::BadShape { len: data.len(), rows: data.len() / d.max(1), cols: d });
        }
        Ok(Self { data, n: data.len() / d, d })
    }

    pub fn n(&self) -> usize {
        self.n
    }
    pub fn d(&self) -> usize {
        self.d
    }
    pub fn as_slice(&self) -> &'a [F] {
        self.data
    }
    #[inline(always)]
    pub fn row(&self, i: usize) -> &'a [F] {
        &self.data[i * self.d..(i + 1) * self.d]
    }
    /// Rows `start..end` as their own view.
    pub fn rows(&self, start: usize, end: usize) -> Points<'a, F> {
        Points { data: &self.data[start * self.d..end * self.d], n: end - start, d: self.d }
    }

    /// Fails with [`Error::Empty`] unless there is at least one row and one feature.
    pub fn require_non_empty(&self) -> Result<()> {
        if self.n == 0 || self.d == 0 {
            return Err(Error::Empty { rows: self.n, cols: self.d });
        }
        Ok(())
    }

    /// The first row holding NaN or infinity, if any (scanned in parallel).
    pub fn first_non_finite_row(&self) -> Option<usize> {
        let at = crate::kernels::parallel::first_position(self.data, |v| !v.is_finite())?;
        Some(at / self.d.max(1))
    }

    /// Fails with [`Error::NonFinite`] naming the first row holding NaN or infinity.
    pub fn require_finite(&self, what: &'static str) -> Result<()> {
        match self.first_non_finite_row() {
            Some(row) => Err(Error::NonFinite { what, row }),
            None => Ok(()),
        }
    }

    /// Fails with [`Error::FeatureMismatch`] unless `other` has the same number of features.
    pub fn require_same_d(&self, other: &Points<'_, F>) -> Result<()> {
        if self.d != other.d {
            return Err(Error::FeatureMismatch { expected: other.d, got: self.d });
        }
        Ok(())
    }
}

/// Copies the rows named by `indices` into a new row-major buffer (in parallel).
pub fn gather<F: Scalar>(x: Points<'_, F>, indices: &[usize]) -> Vec<F> {
    let mut out = Vec::new();
    gather_into(x, indices, &mut out);
    out
}

/// [`gather`] into a reused buffer.
pub fn gather_into<F: Scalar>(x: Points<'_, F>, indices: &[usize], out: &mut Vec<F>) {
    use rayon::prelude::*;
    let d = x.d();
    let len = indices.len() * d;
    out.clear();
    if d == 0 {
        return;
    }
    out.reserve(len);
    // Written straight into the spare capacity: no zero fill of a buffer about to be overwritten.
    const ROWS: usize = 512;
    out.spare_capacity_mut()[..len].par_chunks_mut(ROWS * d).zip(indices.par_chunks(ROWS)).for_each(|(dst, rows)| {
        copy_rows(x, rows, dst);
    });
    // SAFETY: copy_rows wrote every one of the `len` values.
    unsafe { out.set_len(len) };
}

/// Copies the rows `indices` of `x` into `out` (uninitialised, `indices.len()` × d values) and
/// returns them, now initialised.
pub(crate) fn copy_rows<'o, F: Scalar>(
    x: Points<'_, F>,
    indices: &[usize],
    out: &'o mut [std::mem::MaybeUninit<F>],
) -> &'o [F] {
    let d = x.d();
    assert_eq!(out.len(), indices.len() * d, "room for every row");
    match d {
        1 => return copy_rows_of::<F, 1>(x, indices, out),
        2 => return copy_rows_of::<F, 2>(x, indices, out),
        3 => return copy_rows_of::<F, 3>(x, indices, out),
        4 => return copy_rows_of::<F, 4>(x, indices, out),
        5 => return copy_rows_of::<F, 5>(x, indices, out),
        6 => return copy_rows_of::<F, 6>(x, indices, out),
        7 => return copy_rows_of::<F, 7>(x, indices, out),
        8 => return copy_rows_of::<F, 8>(x, indices, out),
        _ => {}
    }
    for (dst, &i) in out.chunks_exact_mut(d.max(1)).zip(indices) {
        let row = x.row(i);
        // SAFETY: `dst` and `row` both hold d values and do not overlap (one is uninitialised).
        unsafe { std::ptr::copy_nonoverlapping(row.as_ptr(), dst.as_mut_ptr().cast::<F>(), d) };
    }
    // SAFETY: every value of `out` was written above.
    unsafe { std::slice::from_raw_parts(out.as_ptr().cast::<F>(), out.len()) }
}

/// [`copy_rows`] of rows of exactly `D` features: a copy of known size is a few moves, where a
/// copy of `d` values calls `memcpy` for every row (a third of the time of a mini-batch of
/// skin_nonskin's rows of three features, gathered, labelled and summed).
#[inline(always)]
fn copy_rows_of<'o, F: Scalar, const D: usize>(
    x: Points<'_, F>,
    indices: &[usize],
    out: &'o mut [std::mem::MaybeUninit<F>],
) -> &'o [F] {
    let values = x.as_slice();
    for (dst, &i) in out.chunks_exact_mut(D).zip(indices) {
        let row: &[F; D] = values[i * D..(i + 1) * D].try_into().expect("D features");
        dst.iter_mut().zip(row).for_each(|(dst, &v)| {
            dst.write(v);
        });
    }
    // SAFETY: every value of `out` was written above (it holds `indices.len()` rows of D).
    unsafe { std::slice::from_raw_parts(out.as_ptr().cast::<F>(), out.len()) }
}

/// Asks for every cache line of `values` (into L2), without waiting for them: every line the
/// slice touches, from the one holding its first byte to the one holding its last, so rows that
/// do not start on a line (numpy's arrays start 16 bytes into one) are fetched whole.
#[inline(always)]
pub(crate) fn prefetch<T>(values: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        const LINE: usize = 64;
        let bytes = std::mem::size_of_val(values);
        // From the start of the line holding the first byte, one address per line.
        let base = values.as_ptr().cast::<i8>();
        let offset = base as usize % LINE;
        let end = if bytes == 0 { 0 } else { offset + bytes };
        for at in (0..end).step_by(LINE) {
            let line = base.wrapping_sub(offset).wrapping_add(at);
            // SAFETY: a prefetch reads nothing and cannot fault; the lines overlap the slice.
            unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(line) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values;
}

/// Squared Euclidean distance between two rows, accumulated in `f64`: the exact distance every
/// result reports.
///
/// Rows of [`WIDE_ROWS`] features or more are measured in AVX2 registers where the CPU has them
/// ([`sq_dist_f64_avx2`]): the same adds and multiplies in the same order (nothing is fused), so
/// the same bits. Callers in parallel loops, which are compiled for the baseline x86-64, measured
/// MNIST's rows at SSE2 width before (5% of a default fit, in the bounded passes' own distances).
#[inline(always)]
pub fn sq_dist_f64<F: Scalar>(a: &[F], b: &[F]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if a.len() >= WIDE_ROWS && is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { sq_dist_f64_avx2::<F, false>(a, b) };
    }
    sq_dist_in::<f64, F>(a, b)
}

/// [`sq_dist_in`]`::<f64, F>` with its eight partial sums in two AVX2 registers (lanes 0–3 and
/// 4–7), written out. With `SQUARES`, [`sum_of_squares`] of `a` instead (`b`'s values are not
/// used: `x − 0` is `x`, so the bits are those of the distance to the origin). Compiled from the
/// generic loop, the sums sat in four two-lane registers shuffled every chunk: the exact distances
/// of a full scan (each row against its own centre) took about as long as the scan's scores
/// against ten centres (digits, 64 features), and float32 rows, widened, fared worse. Whole
/// default fits, the same bits: MNIST in float32 0.81 of the time, in float64 0.97–0.98, digits
/// 0.97.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn sq_dist_f64_avx2<F: Scalar, const SQUARES: bool>(a: &[F], b: &[F]) -> f64 {
    if a.len() == b.len() {
        if let (Some(a), Some(b)) = (F::as_f64(a), F::as_f64(b)) {
            // SAFETY: the CPU has AVX2.
            return unsafe { eight_lanes::<_, SQUARES>(a, b) };
        }
        if let (Some(a), Some(b)) = (F::as_f32(a), F::as_f32(b)) {
            // SAFETY: as above.
            return unsafe { eight_lanes::<_, SQUARES>(a, b) };
        }
    }
    if SQUARES {
        sum_of_squares_in(a)
    } else {
        sq_dist_in::<f64, F>(a, b)
    }
}

/// The body of [`sq_dist_f64_avx2`], for rows of equal length.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn eight_lanes<T: Load4, const SQUARES: bool>(a: &[T], b: &[T]) -> f64 {
    use std::arch::x86_64::*;
    // SAFETY (every load below): four values within both rows; the CPU has AVX2.
    let load = |p: *const T| unsafe { T::load4(p) };
    let whole = a.len() / 8 * 8;
    let mut tail = 0.0;
    for (&u, &v) in a[whole..].iter().zip(&b[whole..]) {
        let t = if SQUARES { u.to_f64() } else { u.to_f64() - v.to_f64() };
        tail += t * t;
    }
    let (mut low, mut high) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    for i in (0..whole).step_by(8) {
        // SAFETY: i + 8 <= whole <= the length of both rows.
        let (pa, pb) = unsafe { (a.as_ptr().add(i), b.as_ptr().add(i)) };
        let diff = |u, v| if SQUARES { u } else { _mm256_sub_pd(u, v) };
        let t = diff(load(pa), load(pb));
        low = _mm256_add_pd(low, _mm256_mul_pd(t, t));
        // SAFETY: as above, the chunk's second four.
        let t = unsafe { diff(load(pa.add(4)), load(pb.add(4))) };
        high = _mm256_add_pd(high, _mm256_mul_pd(t, t));
    }
    // fold_lanes' order: (l0 + l4), (l1 + l5), (l2 + l6), (l3 + l7), then pairwise.
    let mut pairs = [0.0; 4];
    // SAFETY: `pairs` holds four values.
    unsafe { _mm256_storeu_pd(pairs.as_mut_ptr(), _mm256_add_pd(low, high)) };
    ((pairs[0] + pairs[1]) + (pairs[2] + pairs[3])) + tail
}

/// Four values of a row as `f64`.
#[cfg(target_arch = "x86_64")]
pub(crate) trait Load4: Scalar {
    /// # Safety
    /// `p` must be valid for four reads; the CPU must have AVX.
    unsafe fn load4(p: *const Self) -> std::arch::x86_64::__m256d;
}

#[cfg(target_arch = "x86_64")]
impl Load4 for f32 {
    #[inline(always)]
    unsafe fn load4(p: *const f32) -> std::arch::x86_64::__m256d {
        use std::arch::x86_64::*;
        // SAFETY: forwarded.
        unsafe { _mm256_cvtps_pd(_mm_loadu_ps(p)) }
    }
}

#[cfg(target_arch = "x86_64")]
impl Load4 for f64 {
    #[inline(always)]
    unsafe fn load4(p: *const f64) -> std::arch::x86_64::__m256d {
        // SAFETY: forwarded.
        unsafe { std::arch::x86_64::_mm256_loadu_pd(p) }
    }
}

/// Rows at least this wide take [`sq_dist_f64`]'s AVX2 copy: below, the call and the check cost
/// about what the wider registers save.
pub const WIDE_ROWS: usize = 16;

/// Squared Euclidean distance between two rows, with the differences, squares and partial sums
/// in precision `A` and the result widened to `f64`: the one squared distance. `A = f64` is
/// [`sq_dist_f64`]; `A = F` keeps float32 data in float32 registers, twice the lanes, where only
/// comparisons of distances matter (seeding's running minimum).
///
/// Eight independent partial sums, folded in a fixed order at the end ([`fold_lanes`]): one
/// running sum would make every add wait for the previous one; eight let the compiler use packed
/// adds. The features past the last whole eight are summed in order and added last.
#[inline(always)]
pub fn sq_dist_in<A: Scalar, F: Scalar>(a: &[F], b: &[F]) -> f64 {
    // F -> f64 -> A is exact, and folds away when A is F.
    let widen = |v: F| A::from_f64(v.to_f64());
    let mut lanes = [A::ZERO; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let mut tail = A::ZERO;
    for (&u, &v) in a_chunks.remainder().iter().zip(b_chunks.remainder()) {
        let t = widen(u) - widen(v);
        tail = tail + t * t;
    }
    for (u, v) in a_chunks.zip(b_chunks) {
        for ((lane, &u), &v) in lanes.iter_mut().zip(u).zip(v) {
            let t = widen(u) - widen(v);
            *lane = *lane + t * t;
        }
    }
    fold_lanes(lanes.map(|l| l.to_f64())) + tail.to_f64()
}

/// Rows narrower than this have no whole eight-lane chunk: [`sq_dist_in`] sums their features in
/// order, which [`narrow_sq_dists`] does in a loop of their width.
pub(crate) const NARROW_ROWS: usize = 8;

/// `out[i]` = the squared distance from row `i` of `rows` (dense, 1 to [`NARROW_ROWS`] − 1
/// features) to row `center_of(i)` of `centers` (row-major, the same width), with the bits of
/// [`sq_dist_in`]`::<A, F>` (`A = f64`: of [`sq_dist_f64`]): in a loop of the rows' width that the
/// compiler unrolls, over rows whose stride it knows, instead of a call and an empty eight-lane
/// loop per row.
#[inline(always)]
pub(crate) fn narrow_sq_dists<A: Scalar, F: Scalar>(
    rows: Points<'_, F>,
    centers: &[F],
    center_of: impl Fn(usize) -> usize,
    out: &mut [f64],
) {
    match rows.d() {
        1 => narrow_sq_dists_of::<A, F, 1>(rows, centers, center_of, out),
        2 => narrow_sq_dists_of::<A, F, 2>(rows, centers, center_of, out),
        3 => narrow_sq_dists_of::<A, F, 3>(rows, centers, center_of, out),
        4 => narrow_sq_dists_of::<A, F, 4>(rows, centers, center_of, out),
        5 => narrow_sq_dists_of::<A, F, 5>(rows, centers, center_of, out),
        6 => narrow_sq_dists_of::<A, F, 6>(rows, centers, center_of, out),
        7 => narrow_sq_dists_of::<A, F, 7>(rows, centers, center_of, out),
        d => panic!("narrow rows have 1 to {} features, not {d}", NARROW_ROWS - 1),
    }
}

/// [`narrow_sq_dists`] for rows of exactly `D` features.
#[inline(always)]
fn narrow_sq_dists_of<A: Scalar, F: Scalar, const D: usize>(
    rows: Points<'_, F>,
    centers: &[F],
    center_of: impl Fn(usize) -> usize,
    out: &mut [f64],
) {
    // F -> f64 -> A is exact, and folds away when A is F.
    let widen = |v: F| A::from_f64(v.to_f64());
    for (i, (row, out)) in rows.as_slice().chunks_exact(D).zip(out.iter_mut()).enumerate() {
        let c: &[F; D] = centers[center_of(i) * D..][..D].try_into().expect("D features");
        // As sq_dist_in's tail: from zero, feature by feature (its eight lanes stay zero and add
        // exactly nothing).
        let mut acc = A::ZERO;
        for p in 0..D {
            let t = widen(row[p]) - widen(c[p]);
            acc = acc + t * t;
        }
        *out = acc.to_f64();
    }
}

/// Σ t², with the same eight-lane order as [`sq_dist_f64`] (so both give the same bits), in
/// AVX2 registers for rows of [`WIDE_ROWS`] features or more as there (the norms that set
/// Hamerly's bounds: digits' 1,797 rows 36 µs in the baseline loop, 18 in AVX2 registers).
#[inline(always)]
pub fn sum_of_squares<F: Scalar>(t: &[F]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if t.len() >= WIDE_ROWS && is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { sq_dist_f64_avx2::<F, true>(t, t) };
    }
    sum_of_squares_in(t)
}

/// [`sum_of_squares`] in the baseline loop.
#[inline(always)]
fn sum_of_squares_in<F: Scalar>(t: &[F]) -> f64 {
    let mut lanes = [0f64; 8];
    let chunks = t.chunks_exact(8);
    let tail = chunks.remainder().iter().map(|v| v.to_f64() * v.to_f64());
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v.to_f64() * v.to_f64();
        }
    }
    fold_lanes(lanes) + tail.sum::<f64>()
}

/// `out[i]` = `values[i]` rounded to float32; returns `Σ (values[i] − out[i])²`, what the
/// rounding moved the values by (squared), and the largest `|values[i]|`. Eight lanes (value i
/// in lane i mod 8, each squared move added to its lane in order, the lanes folded as
/// `fold_lanes`), in two AVX2 registers where the CPU has them: the same bits either way.
pub fn round_to_f32(values: &[f64], out: &mut [f32]) -> (f64, f64) {
    assert_eq!(values.len(), out.len(), "one float32 per value");
    let (mut moved, mut largest) = ([0f64; 8], [0f64; 8]);
    #[cfg(target_arch = "x86_64")]
    let whole_done = if is_x86_feature_detected!("avx2") {
        let whole = values.len() - values.len() % 8;
        // SAFETY: the CPU has AVX2; both slices hold `whole` values.
        unsafe { round_to_f32_avx2(&values[..whole], &mut out[..whole], &mut moved, &mut largest) };
        whole
    } else {
        0
    };
    #[cfg(not(target_arch = "x86_64"))]
    let whole_done = 0;
    for (i, (&v, o)) in values.iter().zip(out.iter_mut()).enumerate().skip(whole_done) {
        let l = i % 8;
        *o = v as f32;
        let off = v - *o as f64;
        moved[l] += off * off;
        let a = v.abs();
        largest[l] = if a > largest[l] { a } else { largest[l] };
    }
    (fold_lanes(moved), largest.iter().fold(0.0, |a: f64, &b| if b > a { b } else { a }))
}

/// [`round_to_f32`]'s loop over whole eights of values, four lanes to a register.
///
/// # Safety
/// The CPU must support AVX2; `values.len()` = `out.len()`, a multiple of 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn round_to_f32_avx2(values: &[f64], out: &mut [f32], moved: &mut [f64; 8], largest: &mut [f64; 8]) {
    use std::arch::x86_64::*;
    // SAFETY: every load and store is of 4 values inside the slices (whole eights); AVX2 is there.
    unsafe {
        let sign = _mm256_set1_pd(-0.0);
        let (mut m0, mut m1) = (_mm256_loadu_pd(moved.as_ptr()), _mm256_loadu_pd(moved.as_ptr().add(4)));
        let (mut l0, mut l1) = (_mm256_loadu_pd(largest.as_ptr()), _mm256_loadu_pd(largest.as_ptr().add(4)));
        for i in (0..values.len()).step_by(8) {
            let (v0, v1) = (_mm256_loadu_pd(values.as_ptr().add(i)), _mm256_loadu_pd(values.as_ptr().add(i + 4)));
            let (c0, c1) = (_mm256_cvtpd_ps(v0), _mm256_cvtpd_ps(v1));
            _mm_storeu_ps(out.as_mut_ptr().add(i), c0);
            _mm_storeu_ps(out.as_mut_ptr().add(i + 4), c1);
            let (o0, o1) = (_mm256_sub_pd(v0, _mm256_cvtps_pd(c0)), _mm256_sub_pd(v1, _mm256_cvtps_pd(c1)));
            m0 = _mm256_add_pd(m0, _mm256_mul_pd(o0, o0));
            m1 = _mm256_add_pd(m1, _mm256_mul_pd(o1, o1));
            // max(a, l) with a = |v|: a where a > l, as the portable loop keeps it.
            l0 = _mm256_max_pd(_mm256_andnot_pd(sign, v0), l0);
            l1 = _mm256_max_pd(_mm256_andnot_pd(sign, v1), l1);
        }
        _mm256_storeu_pd(moved.as_mut_ptr(), m0);
        _mm256_storeu_pd(moved.as_mut_ptr().add(4), m1);
        _mm256_storeu_pd(largest.as_mut_ptr(), l0);
        _mm256_storeu_pd(largest.as_mut_ptr().add(4), l1);
    }
}

/// Raises a non-negative sum past its rounding (relative error at most 2⁻⁵³ per operation): the
/// factor by which the bounded passes raise an upper bound (or lower a lower one) each time they
/// move it.
pub(crate) const UP: f64 = 1.0 + 4.0 * f64::EPSILON;

/// ‖a − b‖² of two f64 rows, summed in row order: how far a centre moved between two passes (the
/// bounded passes' drift; its rounding is within their margins), or a row's spread from a mean.
pub fn sq_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum()
}

/// The eight lanes of [`sq_dist_f64`] added up in its fixed order.
#[inline(always)]
pub(crate) fn fold_lanes(l: [f64; 8]) -> f64 {
    ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wide_rows_have_the_portable_bits<F: Scalar>() {
        for d in [WIDE_ROWS - 1, WIDE_ROWS, 17, 23, 33, 64, 784] {
            let a: Vec<F> = (0..d).map(|i| F::from_f64(((i * 7919 % 1013) as f64).sin() * 1e3)).collect();
            let b: Vec<F> = (0..d).map(|i| F::from_f64(((i * 104_729 % 997) as f64).cos() * 1e-2)).collect();
            // sq_dist_in is compiled here for the baseline x86-64; sq_dist_f64 takes its AVX2 copy.
            assert_eq!(sq_dist_f64(&a, &b).to_bits(), sq_dist_in::<f64, F>(&a, &b).to_bits(), "d = {d}");
            // So does sum_of_squares, which must keep the bits of the distance to the origin.
            let zeros = vec![F::ZERO; d];
            assert_eq!(sum_of_squares(&a).to_bits(), sq_dist_in::<f64, F>(&a, &zeros).to_bits(), "d = {d}");
        }
    }

    #[test]
    fn wide_rows_have_the_portable_bits_f32() {
        wide_rows_have_the_portable_bits::<f32>();
    }

    #[test]
    fn wide_rows_have_the_portable_bits_f64() {
        wide_rows_have_the_portable_bits::<f64>();
    }

    fn narrow_rows_match_one_row_at_a_time<F: Scalar>() {
        for d in 1..NARROW_ROWS {
            let (n, k) = (125, 4);
            let x: Vec<F> = (0..n * d).map(|i| F::from_f64(((i * 7919 % 1013) as f64).sin() * 50.0)).collect();
            let centers: Vec<F> = (0..k * d).map(|i| F::from_f64(((i * 104_729 % 997) as f64).cos() * 40.0)).collect();
            let rows = Points::from_rows(&x, d).unwrap();
            let (mut out, mut wide) = (vec![0f64; n], vec![0f64; n]);
            narrow_sq_dists::<F, F>(rows, &centers, |i| (i * 3) % k, &mut out);
            narrow_sq_dists::<f64, F>(rows, &centers, |i| (i * 3) % k, &mut wide);
            for (r, (got, got_wide)) in out.iter().zip(&wide).enumerate() {
                let c = (r * 3) % k;
                let one = sq_dist_in::<F, F>(rows.row(r), &centers[c * d..(c + 1) * d]);
                assert_eq!(got.to_bits(), one.to_bits(), "{} d = {d}, row {r}", F::NAME);
                let exact = sq_dist_f64(rows.row(r), &centers[c * d..(c + 1) * d]);
                assert_eq!(got_wide.to_bits(), exact.to_bits(), "{} d = {d}, row {r}, in f64", F::NAME);
            }
        }
    }

    /// Rows of every width, narrow ones copied by fixed-size loops, repeated and out of order.
    #[test]
    fn gathered_rows_are_the_rows_named() {
        for d in 1..=10 {
            let x: Vec<f32> = (0..40 * d).map(|i| i as f32 * 0.5).collect();
            let rows = Points::from_rows(&x, d).unwrap();
            let indices = [39, 0, 7, 7, 21, 38];
            let mut out = vec![1.0f32; 3];
            gather_into(rows, &indices, &mut out);
            let want: Vec<f32> = indices.iter().flat_map(|&i| rows.row(i).to_vec()).collect();
            assert_eq!(out, want, "d = {d}");
        }
    }

    #[test]
    fn narrow_rows_are_measured_with_the_bits_of_one_row_at_a_time() {
        narrow_rows_match_one_row_at_a_time::<f32>();
        narrow_rows_match_one_row_at_a_time::<f64>();
    }
}
