//! The element types the core computes on: `f32` and `f64`.

use std::fmt::Debug;
use std::ops::{Add, Mul, Sub};

/// A floating-point element type. Sums and losses are always accumulated in `f64`.
pub trait Scalar:
    Copy
    + Send
    + Sync
    + Debug
    + Default
    + PartialOrd
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
{
    const ZERO: Self;
    const INFINITY: Self;
    /// Name used in messages ("float32", "float64").
    const NAME: &'static str;
    /// The unit roundoff: half the distance from 1 to the next value (2⁻²⁴ for f32, 2⁻⁵³ for f64).
    const UNIT_ROUNDOFF: f64;
    /// The smallest positive (subnormal) value: the absolute rounding of an operation whose
    /// result is that small.
    const TINY: f64;

    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    fn is_finite(self) -> bool;
    /// The slice as `f32`, when `Self` is `f32` (the type the SIMD kernel handles).
    fn as_f32(values: &[Self]) -> Option<&[f32]>;
    /// The slice as `f64`, when `Self` is `f64`.
    fn as_f64(values: &[Self]) -> Option<&[f64]>;

    /// `c[i, j] = Σ_p a[i, p] · b[j, p]` for an `m × d` block `a` (row stride `lda`) and an
    /// `n × d` block `b` (row stride `ldb`), i.e. `C = A · Bᵀ`, written to `c` (row stride `ldc`).
    ///
    /// # Safety
    /// The pointers must be valid for the extents the shapes and strides describe.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_abt(
        m: usize,
        d: usize,
        n: usize,
        a: *const Self,
        lda: usize,
        b: *const Self,
        ldb: usize,
        c: *mut Self,
        ldc: usize,
    );
}

/// `values` in precision `G`, each through `f64` (exact from float32 to float64; rounded once the
/// other way).
pub fn cast<F: Scalar, G: Scalar>(values: &[F]) -> Vec<G> {
    values.iter().map(|v| G::from_f64(v.to_f64())).collect()
}

macro_rules! impl_scalar {
    ($t:ty, $name:literal, $gemm:path, $as_f32:expr, $as_f64:expr) => {
        impl Scalar for $t {
            const ZERO: Self = 0.0;
            const INFINITY: Self = <$t>::INFINITY;
            const NAME: &'static str = $name;
            const UNIT_ROUNDOFF: f64 = <$t>::EPSILON as f64 / 2.0;
            const TINY: f64 = <$t>::from_bits(1) as f64;

            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline(always)]
            fn as_f32(values: &[Self]) -> Option<&[f32]> {
                $as_f32(values)
            }
            #[inline(always)]
            fn as_f64(values: &[Self]) -> Option<&[f64]> {
                $as_f64(values)
            }
            unsafe fn gemm_abt(
                m: usize,
                d: usize,
                n: usize,
                a: *const Self,
                lda: usize,
                b: *const Self,
                ldb: usize,
                c: *mut Self,
                ldc: usize,
            ) {
                // matrixmultiply packs both operands into cache-sized panels and runs an
                // AVX2/FMA (or AVX-512, SSE2) microkernel chosen at run time. It is called from
                // within our own rayon blocks, so it runs single-threaded here.
                // SAFETY: forwarded from the caller's contract; B is read transposed through
                // its strides (row stride 1, column stride ldb).
                unsafe { $gemm(m, d, n, 1.0, a, lda as isize, 1, b, 1, ldb as isize, 0.0, c, ldc as isize, 1) }
            }
        }
    };
}

impl_scalar!(f32, "float32", matrixmultiply::sgemm, Some, |_: &[f32]| None);
impl_scalar!(f64, "float64", matrixmultiply::dgemm, |_: &[f64]| None, Some);
