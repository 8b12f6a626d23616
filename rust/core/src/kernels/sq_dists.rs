//! Many squared distances between pairs of dense rows, each with the bits of
//! [`sq_dist_in`]`::<F, F>` (the seeding's and the streaming trainer's measure): four pairs at a
//! time on x86-64 with AVX2 ([`crate::kernels::avx2::sq_dists4`], whose adds do not wait on each
//! other as one pair's do), eight float64 pairs at a time where the AVX-512 tiles run
//! ([`crate::kernels::avx2::sq_dists8`], whose fold serves all eight at once: k-means++ seeding of
//! digits 0.9 of the time, docs/algorithm.md), for rows of eight features or more; one at a time
//! otherwise. Callers name the pairs by index, so rows against one centre, rows against their
//! own centres and one row against many centres all go through the same loop.

use crate::kernels::points::{sq_dist_f64, sq_dist_in};
use crate::kernels::scalar::Scalar;

/// Calls `put(i, sq_dist_in::<F, F>(a, b))` for every `i < count`, in increasing `i`, where
/// `(a, b) = pair(i)` (rows of one length).
#[inline]
pub fn each_pair<'a, F: Scalar + 'a>(
    count: usize,
    pair: impl Fn(usize) -> (&'a [F], &'a [F]),
    mut put: impl FnMut(usize, f64),
) {
    // Rows of fewer than eight features have no whole lane of eight to share out.
    #[cfg(target_arch = "x86_64")]
    if count > 0 && pair(0).0.len() >= 8 && crate::kernels::avx2::available() {
        if F::as_f64(&[]).is_some() {
            if crate::kernels::avx2::wide_available() {
                // SAFETY: the CPU has AVX-512F, AVX2 and FMA.
                return unsafe { eights(count, |i| cast(pair(i), F::as_f64), put) };
            }
            // SAFETY: the CPU has AVX2 and FMA.
            return unsafe { fours::<f64, _, _>(count, |i| cast(pair(i), F::as_f64), put) };
        }
        // SAFETY: as above.
        return unsafe { fours::<f32, _, _>(count, |i| cast(pair(i), F::as_f32), put) };
    }
    for i in 0..count {
        let (a, b) = pair(i);
        put(i, sq_dist_in::<F, F>(a, b));
    }
}

/// Calls `put(i, sq_dist_f64(a, b))` for every `i < count`, in increasing `i`, where `(a, b) =
/// pair(i)` (rows of one length): the distances the bounds and the losses take, accumulated in
/// `f64`. Float64 rows go several pairs at a time through [`each_pair`], whose sums are then the
/// same bits; float32 rows one at a time.
#[inline]
pub fn each_pair_f64<'a, F: Scalar + 'a>(
    count: usize,
    pair: impl Fn(usize) -> (&'a [F], &'a [F]),
    mut put: impl FnMut(usize, f64),
) {
    if F::as_f64(&[]).is_some() {
        return each_pair(count, pair, put);
    }
    for i in 0..count {
        let (a, b) = pair(i);
        put(i, sq_dist_f64(a, b));
    }
}

/// A pair of rows as the one float type they are.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn cast<'a, F, T>((a, b): (&'a [F], &'a [F]), as_t: impl Fn(&'a [F]) -> Option<&'a [T]>) -> (&'a [T], &'a [T]) {
    (as_t(a).expect("rows of one float type"), as_t(b).expect("rows of one float type"))
}

/// [`each_pair`] on AVX2: four pairs at a time, the last one to three alone.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fours<'a, T: crate::kernels::avx2::Lanes + 'a, P, Put>(count: usize, pair: P, mut put: Put)
where
    P: Fn(usize) -> (&'a [T], &'a [T]),
    Put: FnMut(usize, f64),
{
    let whole = count / 4 * 4;
    for i in (0..whole).step_by(4) {
        // Spelled out rather than by array::map, which the compiler left as calls.
        let [(a0, b0), (a1, b1), (a2, b2), (a3, b3)] = [pair(i), pair(i + 1), pair(i + 2), pair(i + 3)];
        // SAFETY: the caller's.
        let dists = unsafe { crate::kernels::avx2::sq_dists4([a0, a1, a2, a3], [b0, b1, b2, b3]) };
        for (p, dist) in dists.into_iter().enumerate() {
            put(i + p, dist);
        }
    }
    for i in whole..count {
        let (a, b) = pair(i);
        put(i, sq_dist_in::<T, T>(a, b));
    }
}

/// [`each_pair`] of float64 rows on AVX-512: eight pairs at a time, the last one to seven as
/// [`fours`] takes them.
///
/// # Safety
/// The CPU must support AVX-512F, AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn eights<'a, P, Put>(count: usize, pair: P, mut put: Put)
where
    P: Fn(usize) -> (&'a [f64], &'a [f64]),
    Put: FnMut(usize, f64),
{
    let whole = count / 8 * 8;
    for i in (0..whole).step_by(8) {
        let [(a0, b0), (a1, b1), (a2, b2), (a3, b3), (a4, b4), (a5, b5), (a6, b6), (a7, b7)] =
            [pair(i), pair(i + 1), pair(i + 2), pair(i + 3), pair(i + 4), pair(i + 5), pair(i + 6), pair(i + 7)];
        // SAFETY: the caller's.
        let dists = unsafe {
            crate::kernels::avx2::sq_dists8([a0, a1, a2, a3, a4, a5, a6, a7], [b0, b1, b2, b3, b4, b5, b6, b7])
        };
        for (p, dist) in dists.into_iter().enumerate() {
            put(i + p, dist);
        }
    }
    // SAFETY: the caller's.
    unsafe { fours::<f64, _, _>(count - whole, |i| pair(whole + i), |i, v| put(whole + i, v)) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Purpose, Rng};

    fn same_bits_as_one_pair_at_a_time<F: Scalar>() {
        let mut rng = Rng::new(9, Purpose::SeedSample);
        for d in [1, 7, 8, 13, 64, 130] {
            let rows: Vec<Vec<F>> =
                (0..23).map(|_| (0..d).map(|_| F::from_f64((rng.uniform() - 0.4) * 50.0)).collect()).collect();
            for count in [0, 1, 3, 4, 5, 8, 9, 11, 16, 22] {
                let mut got = Vec::new();
                each_pair(count, |i| (&rows[i][..], &rows[22 - i][..]), |i, v| got.push((i, v.to_bits())));
                let want: Vec<(usize, u64)> =
                    (0..count).map(|i| (i, sq_dist_in::<F, F>(&rows[i], &rows[22 - i]).to_bits())).collect();
                assert_eq!(got, want, "d = {d}, {count} pairs");
            }
        }
    }

    #[test]
    fn pairs_of_rows_of_different_lengths_are_refused_not_read_past() {
        // each_pair is safe: rows that do not all have the first pair's length must stop it, not
        // send the four-pair kernel reading past the shorter rows (a release build under
        // RUSTFLAGS=-Zsanitizer=address reports that read before the tail's slicing panics).
        #[cfg(target_arch = "x86_64")]
        if crate::kernels::avx2::available() {
            let (long, short) = (vec![1f32; 64], vec![2f32; 8]);
            let refused = std::panic::catch_unwind(|| each_pair(4, |_| (&long[..], &short[..]), |_, _| {}));
            assert!(refused.is_err(), "rows of 64 and 8 features measured as one length");
        }
    }

    fn same_bits_as_sq_dist_f64<F: Scalar>() {
        let mut rng = Rng::new(11, Purpose::SeedSample);
        for d in [1, 7, 8, 13, 64, 130] {
            let rows: Vec<Vec<F>> =
                (0..23).map(|_| (0..d).map(|_| F::from_f64((rng.uniform() - 0.4) * 1e3)).collect()).collect();
            for count in [0, 1, 5, 8, 9, 17, 22] {
                let mut got = Vec::new();
                each_pair_f64(count, |i| (&rows[i][..], &rows[22 - i][..]), |i, v| got.push((i, v.to_bits())));
                let want: Vec<(usize, u64)> =
                    (0..count).map(|i| (i, sq_dist_f64(&rows[i], &rows[22 - i]).to_bits())).collect();
                assert_eq!(got, want, "d = {d}, {count} pairs");
            }
        }
    }

    #[test]
    fn every_pair_accumulated_in_f64_gets_the_bits_of_sq_dist_f64_in_order() {
        same_bits_as_sq_dist_f64::<f32>();
        same_bits_as_sq_dist_f64::<f64>();
    }

    #[test]
    fn every_pair_gets_the_bits_of_one_pair_at_a_time_in_order() {
        same_bits_as_one_pair_at_a_time::<f32>();
        same_bits_as_one_pair_at_a_time::<f64>();
    }
}
