//! The coarse part of an in-memory float64 fit in float32: the streaming pass and the choice of
//! the reduction's trial run over a float32 copy of the rows, the refine over the rows themselves.
//!
//! An in-memory fit that refines ([`crate::algo::minibatch::fit_minibatch`] with `refine`) ends
//! with full-data Lloyd in the data's precision, from the trial the rows choose. What comes before
//! only has to bring that refine near a good minimum: the K streaming centres (seeding and the
//! epochs' passes over the rows) and the stepped loss that picks among the reduction's trials
//! ([`crate::algo::choose::choose_by_data`]). SageMaker computes all of it in float32; float32
//! rows halve the bytes the seeding's passes read and fit twice the centres in a register, so the
//! kernels' scans take half the vector multiply-adds. The reduction runs in float64 over the
//! streaming centres (few, and its table of their distances needs float64:
//! [`crate::algo::tabled_lloyd`]), and the refine over the float64 rows, so the fit's centres,
//! labels and loss are float64 as before.
//!
//! Only where the copy loses nothing that matters ([`coarse_copy`]): dense float64 rows that one
//! mini-batch holds (the fits whose fixed costs the coarse part dominates; a larger set would be
//! copied whole, or gathered batch by batch), of a size the seeding's and the choice's passes
//! take longer over than the copy, whose rounding to float32 moves them by far less than their
//! spread, and which sit near enough the origin for their spread that float32's scores still
//! tell their centres apart. Elsewhere the fit runs in the data's precision throughout. Where
//! the copy is refused, its scatter and any copy made are dropped; the refine measures the
//! scatter again (28 µs on digits).
//!
//! The copy changes which rows the seeding draws (its distances are float32's) and the centres the
//! refine starts from by float32's rounding, so a fit ends in another minimum now and then, as a
//! fit from another seed would; the result is still the same on any number of threads.

use rayon::prelude::*;

use crate::algo::choose::REFINE_EACH_WORK;
use crate::algo::reduce::Reduced;
use crate::backend::{Data, Rows};
use crate::kernels::points::round_to_f32;
use crate::kernels::scalar::{cast, Scalar};
use crate::kernels::scatter::{scatter, Scatter};

/// The float32 copy's rounding may move the rows by at most this fraction of their scatter (both
/// as sums of squares): 2⁻³⁰, about 1e-9. Rows that float32 holds exactly (integers below 2²⁴,
/// as images' pixels) move not at all; standard-normal data by about 2⁻⁵⁰ of its scatter; values
/// near 10⁶ that spread by 1 (timestamps, coordinates) by about 3·10⁻⁴, and keep float64.
const MOST_ROUNDING: f64 = 1.0 / (1u64 << 30) as f64;

/// Values of magnitude at most this keep every squared distance and score of the float32 kernels
/// finite (4·10³⁰ per square of a difference, for up to about 10⁷ features).
const LARGEST_VALUE: f64 = 1e15;

/// The rows' variance per value must be at least this, 2⁻¹⁰⁰ (about 8·10⁻³¹): their squared
/// distances then stay far above float32's smallest normal number (about 1.2·10⁻³⁸), where
/// float32 would lose their digits.
const SMALLEST_VARIANCE: f64 = 1.0 / (1u128 << 100) as f64;

/// The mean row's squared norm may be at most this many times the rows' variance (their scatter
/// over their number): the float32 kernels' scores `‖c‖² − 2x·c` round off about 2⁻²⁴ of the
/// squared norms, which must stay far below the distances that tell centres apart. At 2¹⁰ that
/// is 2⁻¹⁴ of the rows' variance. Digits' mean row is 2.2 times its variance, dim032's and
/// dim064's 5.3 and 6.2, standardised rows' 0; integers near 10⁶ that spread by 100 are 10⁹
/// times theirs, and keep float64 even though float32 holds them exactly.
const LARGEST_OFFSET: f64 = (1u64 << 10) as f64;

/// At most this many values (128 MiB of float64 rows): a larger copy would add its memory to a
/// fit that needs no help from it.
const MAX_VALUES: usize = 1 << 24;

/// At least this many values. The sets below it that are not tiny ([`REFINE_EACH_WORK`]) are
/// narrow ones of a few thousand rows (s1–s4, a1: 6,000–10,000 values, fitted in a fifth of
/// scikit-learn's time or less), which were not measured with the copy and are left as they were.
const MIN_VALUES: usize = 1 << 14;

/// The float32 copy of the rows `x` that the coarse part of an in-memory fit of `k` centres and
/// mini-batches of `mini_batch_size` rows runs over, with the rows' scatter (module docs); `None`
/// for rows other than dense float64, more rows than one mini-batch, tiny data (every trial
/// refined on the rows: [`REFINE_EACH_WORK`]), fewer than [`MIN_VALUES`] or more than
/// [`MAX_VALUES`] values, rows of less than [`SMALLEST_VARIANCE`] per value or far from the origin
/// for their spread ([`LARGEST_OFFSET`]), or a copy that would lose too much ([`float32_copy`]).
pub(crate) fn coarse_copy<F: Scalar, R: Rows<F>>(
    x: R,
    k: usize,
    mini_batch_size: usize,
) -> Option<(Vec<f32>, Scatter)> {
    let Data::Dense(points) = x.data() else { return None };
    let (n, d) = (x.n(), x.d());
    let tiny = n.saturating_mul(k).saturating_mul(d) <= REFINE_EACH_WORK;
    if mini_batch_size < n || tiny || !(MIN_VALUES..=MAX_VALUES).contains(&(n * d)) {
        return None;
    }
    let values = F::as_f64(points.as_slice())?;
    let spread = scatter(points, None);
    let offset: f64 = spread.mean.iter().map(|m| m * m).sum();
    let close = spread.scatter >= SMALLEST_VARIANCE * (n * d) as f64;
    if !(close && offset * n as f64 <= LARGEST_OFFSET * spread.scatter) {
        return None;
    }
    Some((float32_copy(values, spread.scatter)?, spread))
}

/// Values per task of the copy: above this many, the copy runs in parallel.
const COPY_TASK: usize = 1 << 18;

/// The rows `values` rounded to float32, where that moves them by at most [`MOST_ROUNDING`] of
/// their `scatter` (the sum of their squared distances to their mean) and no value exceeds
/// [`LARGEST_VALUE`] in magnitude; else `None`.
pub(crate) fn float32_copy(values: &[f64], scatter: f64) -> Option<Vec<f32>> {
    let mut copy = vec![0f32; values.len()];
    // The chunks' rounding added in chunk order: the same sum on any number of threads.
    let chunks: Vec<(f64, f64)> = copy
        .par_chunks_mut(COPY_TASK)
        .zip(values.par_chunks(COPY_TASK))
        .map(|(out, values)| round_to_f32(values, out))
        .collect();
    let moved: f64 = chunks.iter().map(|c| c.0).sum();
    let largest = chunks.iter().map(|c| c.1).fold(0.0, f64::max);
    (largest <= LARGEST_VALUE && moved <= scatter * MOST_ROUNDING).then_some(copy)
}

/// The trials' centres in float32, for the choice over the float32 rows.
pub(crate) fn cast_trials<F: Scalar>(trials: &[Reduced<F>]) -> Vec<Reduced<f32>> {
    trials.iter().map(|t| Reduced { centers: cast(&t.centers), ssd: t.ssd, msd: t.msd, n_iter: t.n_iter }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::points::Points;

    /// What [`round_to_f32`] documents, one value at a time: value i in lane i mod 8, the lanes
    /// folded as `fold_lanes` folds them.
    fn reference(values: &[f64]) -> (Vec<f32>, f64, f64) {
        let (mut moved, mut largest) = ([0f64; 8], 0f64);
        let copy: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        for (i, (&v, &c)) in values.iter().zip(&copy).enumerate() {
            let off = v - c as f64;
            moved[i % 8] += off * off;
            largest = largest.max(v.abs());
        }
        (copy, crate::kernels::points::fold_lanes(moved), largest)
    }

    #[test]
    fn the_rounding_is_measured_with_the_bits_of_one_value_at_a_time() {
        for len in [0, 1, 7, 8, 9, 16, 23, 64, 1001] {
            let mut values: Vec<f64> = (0..len).map(|i| ((i * 7919 % 1013) as f64).sin() * 1e3 - 0.3).collect();
            // Negative zero, and the largest magnitude twice, with both signs.
            if len > 9 {
                (values[3], values[5], values[9]) = (-0.0, 2e3, -2e3);
            }
            let mut copy = vec![0f32; len];
            let (moved, largest) = round_to_f32(&values, &mut copy);
            let (want, want_moved, want_largest) = reference(&values);
            assert_eq!(copy, want, "len {len}");
            assert_eq!(
                (moved.to_bits(), largest.to_bits()),
                (want_moved.to_bits(), want_largest.to_bits()),
                "len {len}"
            );
        }
        // A NaN makes the rounding NaN (so the copy is refused) and is never the largest value.
        let mut values = vec![1.5f64; 20];
        values[11] = f64::NAN;
        let (moved, largest) = round_to_f32(&values, &mut [0f32; 20]);
        assert!(moved.is_nan() && largest == 1.5);
    }

    #[test]
    fn a_copy_of_many_chunks_is_the_copy_of_one() {
        let values: Vec<f64> = (0..(2 * COPY_TASK + 5)).map(|i| ((i * 7919 % 1013) as f64).sin()).collect();
        let copy = float32_copy(&values, 1e9).expect("standardised values");
        assert!(copy.iter().zip(&values).all(|(&c, &v)| c == v as f32));
        let mut whole = vec![0f32; values.len()];
        let (moved, _) = round_to_f32(&values, &mut whole);
        // Chunk by chunk, the same rounding to within its own rounding.
        let chunked: f64 = values.chunks(COPY_TASK).map(|c| round_to_f32(c, &mut vec![0f32; c.len()]).0).sum();
        assert!((moved - chunked).abs() <= 1e-12 * moved);
        assert!(float32_copy(&values, moved / MOST_ROUNDING * 0.99).is_none());
    }

    #[test]
    fn only_dense_float64_rows_of_one_batch_far_from_float32s_limits_are_copied() {
        let (n, d) = (1024, 32);
        let rows: Vec<f64> = (0..n * d).map(|i| ((i * 7919 % 1013) as f64).sin() * 10.0 + 3.0).collect();
        let points = Points::new(&rows, n, d).unwrap();
        let (copy, spread) = coarse_copy(points, 8, n).expect("the default case");
        assert_eq!((copy.len(), spread.weight), (n * d, n as f64));
        // One batch holds fewer rows; tiny data; too few values; float32 rows.
        assert!(coarse_copy(points, 8, n - 1).is_none());
        let few = Points::new(&rows[..8 * d], 8, d).unwrap();
        assert!(coarse_copy(few, 8, n).is_none());
        let narrow = Points::new(&rows[..n * 4], n, 4).unwrap();
        assert!(coarse_copy(narrow, 8, n).is_none(), "4,096 values");
        let single: Vec<f32> = rows.iter().map(|&v| v as f32).collect();
        assert!(coarse_copy(Points::new(&single, n, d).unwrap(), 8, n).is_none());
        // Integers near 10⁶ that spread by 100: float32 holds them, but not their scores.
        let offset: Vec<f64> = (0..n * d).map(|i| 1e6 + (i * 7919 % 101) as f64).collect();
        assert!(coarse_copy(Points::new(&offset, n, d).unwrap(), 8, n).is_none());
        // Rows all alike: no spread to keep.
        let alike = vec![2.5f64; n * d];
        assert!(coarse_copy(Points::new(&alike, n, d).unwrap(), 8, n).is_none());
    }

    #[test]
    fn rows_that_float32_holds_closely_are_copied_and_others_are_not() {
        let spread = |values: &[f64]| {
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>()
        };
        // Pixels: integers, held exactly.
        let pixels: Vec<f64> = (0..4096).map(|i| (i * 31 % 17) as f64).collect();
        let copy = float32_copy(&pixels, spread(&pixels)).expect("integers copy exactly");
        assert!(copy.iter().zip(&pixels).all(|(&c, &v)| c as f64 == v));
        // Standardised values: rounded, by far less than their spread.
        let normal: Vec<f64> = (0..4096).map(|i| ((i * 7919 % 1013) as f64).sin()).collect();
        assert!(float32_copy(&normal, spread(&normal)).is_some());
        // Values near 10⁶ spread by 1: float32 keeps steps of 1/16, which blur them.
        let offset: Vec<f64> = normal.iter().map(|v| 1e6 + v).collect();
        assert!(float32_copy(&offset, spread(&offset)).is_none());
        // Values whose squares would leave float32's range, and values that are not finite.
        let huge: Vec<f64> = normal.iter().map(|v| v * 1e16).collect();
        assert!(float32_copy(&huge, spread(&huge)).is_none());
        let mut bad = normal.clone();
        bad[100] = f64::NAN;
        assert!(float32_copy(&bad, spread(&normal)).is_none());
    }
}
