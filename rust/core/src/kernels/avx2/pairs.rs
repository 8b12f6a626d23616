//! Squared distances of four pairs of rows at once (eight float64 pairs with AVX-512), each with
//! the bits of [`sq_dist_in`]`::<T, T>`: the same eight partial sums per pair (lane `l` adds the
//! squared differences of features `l`, `l + 8`, …, in order; one register of float32, two of
//! float64, one zmm register of float64), the same fold, the same tail. One pair's eight sums are
//! one or two chains of dependent adds; four pairs side by side keep four to eight chains in
//! flight, so the adds do not wait on each other as they do one pair at a time.

use crate::kernels::avx2::lanes::Lanes;
use crate::kernels::points::sq_dist_in;

/// `[‖a[p] − b[p]‖²; p < 4]`, the bits of `sq_dist_in::<T, T>(a[p], b[p])`. Every row has the
/// same length.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn sq_dists4<T: Lanes>(a: [&[T]; 4], b: [&[T]; 4]) -> [f64; 4] {
    let d = a[0].len();
    // Checked, not only in debug builds: the loads below read `whole` values of every row, and
    // the safe callers (kernels::sq_dists::each_pair) take rows from closures.
    assert!(a.iter().chain(&b).all(|row| row.len() == d), "four pairs of rows of {d} features");
    use std::arch::x86_64::*;
    let whole = d / 8 * 8;
    // SAFETY: the CPU has AVX2 and FMA (the caller's); the rows have `whole` values or more.
    unsafe {
        // Four rows against one (the seeding's candidate against a block's rows): its values are
        // loaded once a chunk instead of once a pair. Measured (k-means++ seeding alone, one
        // thread): digits 0.93 of the time, 10,000 rows of 32–256 MNIST pixels 0.95–0.97, all of
        // MNIST's 784 the same.
        let sums = if b.iter().all(|row| row.as_ptr() == b[0].as_ptr()) {
            partial_sums::<T, true>(a, b, whole)
        } else {
            partial_sums::<T, false>(a, b, whole)
        };
        // fold_lanes, ((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7)) in f64, for the four
        // pairs at once (the lanes widened exactly): first m_i = l_i + l_{i+4} of each pair.
        let m: [__m256d; 4] = std::array::from_fn(|p| {
            let [low, high] = T::eight_f64(sums[p]);
            _mm256_add_pd(low, high)
        });
        // Then m0 + m1 and m2 + m3 of two pairs side by side: (p m0+m1, q m0+m1, p m2+m3, q m2+m3).
        let (first, last) = (_mm256_hadd_pd(m[0], m[1]), _mm256_hadd_pd(m[2], m[3]));
        // Last (m0 + m1) + (m2 + m3), in pair order.
        let fronts = _mm256_permute2f128_pd::<0x20>(first, last);
        let backs = _mm256_permute2f128_pd::<0x31>(first, last);
        let mut out = [0.0; 4];
        _mm256_storeu_pd(out.as_mut_ptr(), _mm256_add_pd(fronts, backs));
        if whole < d {
            // The features past the last whole eight, in order, as sq_dist_in sums them.
            for (p, out) in out.iter_mut().enumerate() {
                *out += sq_dist_in::<T, T>(&a[p][whole..], &b[p][whole..]);
            }
        }
        out
    }
}

/// `[‖a[p] − b[p]‖²; p < 8]` for float64 rows, the bits of `sq_dist_in::<f64, f64>(a[p], b[p])`
/// (as [`sq_dists4`]'s): each pair's eight partial sums fill one zmm register, where
/// [`sq_dists4`] takes two ymm registers; and the eight pairs' sums are folded together, seven
/// adds and fourteen shuffles for all eight, where [`sq_dists4`] spills each pair's sums and adds
/// them up one by one (seven adds a pair). Every row has the same length.
///
/// # Safety
/// The CPU must support AVX-512F.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn sq_dists8(a: [&[f64]; 8], b: [&[f64]; 8]) -> [f64; 8] {
    use std::arch::x86_64::*;
    let d = a[0].len();
    // Checked, as in sq_dists4: the loads below read `whole` values of every row.
    assert!(a.iter().chain(&b).all(|row| row.len() == d), "eight pairs of rows of {d} features");
    let whole = d / 8 * 8;
    // SAFETY: the CPU has AVX-512F (the caller's); every row has `whole` values or more.
    unsafe {
        // Eight rows against one (the seeding's candidate against a block's rows): its values
        // are loaded once a chunk instead of once a pair, as in sq_dists4.
        let s = if b.iter().all(|row| row.as_ptr() == b[0].as_ptr()) {
            partial_sums8::<true>(a, b, whole)
        } else {
            partial_sums8::<false>(a, b, whole)
        };
        let folded = fold_eights(s);
        let mut out = [0.0; 8];
        _mm512_storeu_pd(out.as_mut_ptr(), folded);
        if whole < d {
            // The features past the last whole eight, in order, as sq_dist_in sums them.
            for (p, out) in out.iter_mut().enumerate() {
                *out += sq_dist_in::<f64, f64>(&a[p][whole..], &b[p][whole..]);
            }
        }
        out
    }
}

/// [`fold_lanes`](crate::kernels::points::fold_lanes) of eight registers of eight partial sums at
/// once: lane `i` of the result is `((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7))` of register
/// `i`'s lanes, the same adds in the same order (seven adds and fourteen shuffles for all eight,
/// where folding each register alone takes seven adds and a spill).
///
/// # Safety
/// The CPU must support AVX-512F.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn fold_eights(s: [std::arch::x86_64::__m512d; 8]) -> std::arch::x86_64::__m512d {
    use std::arch::x86_64::*;
    // First m_i = l_i + l_{i+4} of two registers side by side: [m0..m3 of one, m0..m3 of other].
    let halves = |one: __m512d, other: __m512d| {
        let front = _mm512_shuffle_f64x2::<0b01_00_01_00>(one, other);
        let back = _mm512_shuffle_f64x2::<0b11_10_11_10>(one, other);
        _mm512_add_pd(front, back)
    };
    // Then m0 + m1 and m2 + m3 of four registers, from the halves of (p, q) and (r, u): lanes
    // (p m0+m1, r m0+m1, p m2+m3, r m2+m3, q m0+m1, u m0+m1, q m2+m3, u m2+m3).
    let neighbours = |pq: __m512d, ru: __m512d| _mm512_add_pd(_mm512_unpacklo_pd(pq, ru), _mm512_unpackhi_pd(pq, ru));
    let first_four = neighbours(halves(s[0], s[1]), halves(s[2], s[3]));
    let last_four = neighbours(halves(s[4], s[5]), halves(s[6], s[7]));
    // Last (m0 + m1) + (m2 + m3), gathered into register order.
    let fronts = _mm512_permutex2var_pd(first_four, _mm512_setr_epi64(0, 4, 1, 5, 8, 12, 9, 13), last_four);
    let backs = _mm512_permutex2var_pd(first_four, _mm512_setr_epi64(2, 6, 3, 7, 10, 14, 11, 15), last_four);
    _mm512_add_pd(fronts, backs)
}

/// The eight partial sums of each pair in [`sq_dists8`] over its first `whole` features (a
/// multiple of eight), one zmm register a pair. `SHARED`: every `b` is the same row, loaded once
/// a chunk.
///
/// # Safety
/// The CPU must support AVX-512F; every row must have `whole` values or more.
#[inline(always)]
unsafe fn partial_sums8<const SHARED: bool>(
    a: [&[f64]; 8],
    b: [&[f64]; 8],
    whole: usize,
) -> [std::arch::x86_64::__m512d; 8] {
    use std::arch::x86_64::*;
    // SAFETY: the caller's; every load reads eight values at an offset below `whole`.
    unsafe {
        let mut sums = [_mm512_setzero_pd(); 8];
        for at in (0..whole).step_by(8) {
            let common = _mm512_loadu_pd(b[0].as_ptr().add(at));
            for (p, sum) in sums.iter_mut().enumerate() {
                let v = if SHARED { common } else { _mm512_loadu_pd(b[p].as_ptr().add(at)) };
                let t = _mm512_sub_pd(_mm512_loadu_pd(a[p].as_ptr().add(at)), v);
                *sum = _mm512_add_pd(*sum, _mm512_mul_pd(t, t));
            }
        }
        sums
    }
}

/// The eight partial sums of each pair in [`sq_dists4`] over its first `whole` features (a
/// multiple of eight): two registers per pair, both filled by float64, the first by float32.
/// `SHARED`: every `b` is the same row, loaded once a chunk.
///
/// # Safety
/// The CPU must support AVX2 and FMA; every row must have `whole` values or more.
#[inline(always)]
unsafe fn partial_sums<T: Lanes, const SHARED: bool>(a: [&[T]; 4], b: [&[T]; 4], whole: usize) -> [[T::V; 2]; 4] {
    let regs = 8 / T::LANES;
    // SAFETY: the caller's; every load reads LANES values at an offset below `whole`.
    unsafe {
        let mut sums = [[T::zero(); 2]; 4];
        for chunk in (0..whole).step_by(8) {
            for reg in 0..regs {
                let at = chunk + reg * T::LANES;
                let common = T::load(b[0].as_ptr().add(at));
                for (p, sum) in sums.iter_mut().enumerate() {
                    let v = if SHARED { common } else { T::load(b[p].as_ptr().add(at)) };
                    let t = <T as Lanes>::sub(T::load(a[p].as_ptr().add(at)), v);
                    sum[reg] = <T as Lanes>::add(sum[reg], <T as Lanes>::mul(t, t));
                }
            }
        }
        sums
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Purpose, Rng};

    fn same_bits_as_one_pair_at_a_time<T: Lanes>() {
        let mut rng = Rng::new(5, Purpose::SeedSample);
        for d in [8, 9, 15, 16, 17, 33, 64, 101] {
            let rows: Vec<Vec<T>> =
                (0..8).map(|_| (0..d).map(|_| T::from_f64((rng.uniform() - 0.3) * 1e3)).collect()).collect();
            let a = [&rows[0][..], &rows[1], &rows[2], &rows[3]];
            let b = [&rows[4][..], &rows[5], &rows[6], &rows[7]];
            if !crate::kernels::avx2::available() {
                eprintln!("skipped: this CPU has no AVX2");
                return;
            }
            // Four rows against four, and against one (loaded once a chunk).
            for b in [b, [b[0]; 4]] {
                // SAFETY: the CPU has AVX2 and FMA.
                let four = unsafe { sq_dists4(a, b) };
                for p in 0..4 {
                    assert_eq!(four[p].to_bits(), sq_dist_in::<T, T>(a[p], b[p]).to_bits(), "d = {d}, pair {p}");
                }
            }
        }
    }

    #[test]
    fn eight_pairs_give_the_bits_of_one_pair_at_a_time() {
        if !is_x86_feature_detected!("avx512f") {
            eprintln!("skipped: this CPU has no AVX-512F");
            return;
        }
        let mut rng = Rng::new(6, Purpose::SeedSample);
        for d in [8, 9, 15, 16, 17, 33, 64, 101] {
            let rows: Vec<Vec<f64>> = (0..16).map(|_| (0..d).map(|_| (rng.uniform() - 0.3) * 1e3).collect()).collect();
            let a: [&[f64]; 8] = std::array::from_fn(|p| &rows[p][..]);
            let b: [&[f64]; 8] = std::array::from_fn(|p| &rows[8 + p][..]);
            // Eight rows against eight, and against one (loaded once a chunk).
            for b in [b, [b[0]; 8]] {
                // SAFETY: the CPU has AVX-512F.
                let eight = unsafe { sq_dists8(a, b) };
                for p in 0..8 {
                    assert_eq!(eight[p].to_bits(), sq_dist_in::<f64, f64>(a[p], b[p]).to_bits(), "d = {d}, pair {p}");
                }
            }
        }
    }

    #[test]
    fn four_pairs_give_the_bits_of_one_pair_at_a_time() {
        same_bits_as_one_pair_at_a_time::<f32>();
        same_bits_as_one_pair_at_a_time::<f64>();
    }
}
