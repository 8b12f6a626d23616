//! Squared distances of four pairs of rows at once, each with the bits of
//! [`sq_dist_in`]`::<T, T>`: the same eight partial sums per pair (lane `l` adds the squared
//! differences of features `l`, `l + 8`, …, in order; one register of float32, two of float64),
//! the same fold, the same tail. One pair's eight sums are one or two chains of dependent adds;
//! four pairs side by side keep four to eight chains in flight, so the adds do not wait on each
//! other as they do one pair at a time.

use crate::kernels::avx2::lanes::Lanes;
use crate::kernels::points::{fold_lanes, sq_dist_in};

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
    let whole = d / 8 * 8;
    let regs = 8 / T::LANES;
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
        let mut out = [0.0; 4];
        for (p, out) in out.iter_mut().enumerate() {
            let mut lanes = T::spill(sums[p][0]);
            if regs == 2 {
                lanes[T::LANES..].copy_from_slice(&T::spill(sums[p][1])[..T::LANES]);
            }
            // The features past the last whole eight, in order, as sq_dist_in sums them.
            let tail = sq_dist_in::<T, T>(&a[p][whole..], &b[p][whole..]);
            *out = fold_lanes(lanes) + tail;
        }
        out
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
    fn four_pairs_give_the_bits_of_one_pair_at_a_time() {
        same_bits_as_one_pair_at_a_time::<f32>();
        same_bits_as_one_pair_at_a_time::<f64>();
    }
}
