//! The weighted mean of dense rows and their scatter about it, `Σ w·‖x − mean‖²`, in one pass
//! over memory: what the centre-shift stop rule needs (the data's mean per-feature variance is
//! the scatter over the total weight and the number of features) before a Lloyd run's first
//! iteration.
//!
//! Rows are cut into blocks small enough to stay in cache; a block is read twice, once for its
//! own mean and once for its scatter about that mean, and the blocks are merged in row order by
//! Chan, Golub and LeVeque's pairwise update (the two means' gap, weighted, adds to the
//! scatter), which keeps the precision of the two-pass formula without a second pass over the
//! data. Blocks and the chunks that run in parallel are cut at fixed rows, and chunks are
//! merged in order, so the result is the same bits on any number of threads.
//!
//! Unweighted rows of at most eight features are summed as one flat run of values
//! ([`narrow_block_scatter`]): a row of three features has no loop over its features worth the
//! name, and one accumulator per feature made every row wait for the previous row's add.
//! Unweighted rows of whole eights of more features are summed a group of features at a time,
//! the group's sums held in registers from row to row ([`columns_scatter`]), where the loop over
//! a row's features loaded and stored every sum once a row; the same bits. Measured (115,000
//! float64 values, best of 1,000, taking turns; a 2-core Intel Xeon with AVX-512): 16 to 784
//! features in 27–44 µs instead of 50–62 (on AVX2 alone 31–46 instead of 46–123); whole default
//! fits of digits 0.98–0.995 of the time (the refine's tolerance reads it once).

use rayon::prelude::*;

use crate::kernels::points::Points;
use crate::kernels::scalar::Scalar;

/// Bytes of rows per block: read twice while they are in L2.
const BLOCK_BYTES: usize = 128 << 10;
/// Values per chunk (whole rows, at least one): the unit of the parallel loop, merged in order.
const CHUNK_VALUES: usize = 1 << 16;
/// Chunks per parallel task at least: one thread below 2^18 values.
const CHUNKS_PER_TASK: usize = 4;

/// The total weight of some rows, their weighted mean and their scatter about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Scatter {
    pub weight: f64,
    /// d values, in `f64` (zeros while `weight` is zero).
    pub mean: Vec<f64>,
    /// `Σ w·‖x − mean‖²`.
    pub scatter: f64,
}

impl Scatter {
    fn empty(d: usize) -> Self {
        Self { weight: 0.0, mean: vec![0.0; d], scatter: 0.0 }
    }

    /// Adds the rows `other` describes (Chan et al.'s update); rows of no weight change nothing.
    fn merge(&mut self, other: &Self) {
        if other.weight == 0.0 {
            return;
        }
        if self.weight == 0.0 {
            self.clone_from(other);
            return;
        }
        let total = self.weight + other.weight;
        let share = other.weight / total;
        let mut gap2 = 0.0;
        for (m, &o) in self.mean.iter_mut().zip(&other.mean) {
            let gap = o - *m;
            gap2 += gap * gap;
            *m += gap * share;
        }
        self.scatter += other.scatter + gap2 * self.weight * share;
        self.weight = total;
    }
}

/// One block of rows, by the two-pass formula (the rows are in cache for the second); `acc`
/// is d values of scratch.
fn block_scatter<F: Scalar>(rows: Points<'_, F>, weights: Option<&[f64]>, acc: &mut [f64]) -> Scatter {
    if weights.is_none() {
        match rows.d() {
            1 => return narrow_block_scatter::<F, 1, 8>(rows),
            2 => return narrow_block_scatter::<F, 2, 8>(rows),
            3 => return narrow_block_scatter::<F, 3, 24>(rows),
            4 => return narrow_block_scatter::<F, 4, 8>(rows),
            5 => return narrow_block_scatter::<F, 5, 40>(rows),
            6 => return narrow_block_scatter::<F, 6, 24>(rows),
            7 => return narrow_block_scatter::<F, 7, 56>(rows),
            8 => return narrow_block_scatter::<F, 8, 8>(rows),
            d if d.is_multiple_of(8) => return columns_scatter(rows, acc),
            _ => {}
        }
    }
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::avx2::available() {
        /// Compiled for AVX2: the loops over a row's features run four (or eight) at a time.
        /// Nothing is fused into a multiply-add, so the bits are those of the portable loop.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn block_scatter_avx2<F: Scalar>(
            rows: Points<'_, F>,
            weights: Option<&[f64]>,
            acc: &mut [f64],
        ) -> Scatter {
            block_scatter_portable(rows, weights, acc)
        }
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { block_scatter_avx2(rows, weights, acc) };
    }
    block_scatter_portable(rows, weights, acc)
}

/// [`block_scatter`] of unweighted rows of whole eights of features (more than eight), a group
/// of features at a time: the rows of the block are read once per group and pass, with the
/// group's sums (and means) held in registers from row to row, where the loop over a row's
/// features loads and stores every sum once a row. Each feature is still summed in row order, and
/// a weight of one multiplies nothing, so the bits are those of the weighted loop. Groups are as
/// wide as the registers allow (64 features with AVX-512, 16 with AVX2, 8 otherwise), then 32, 16
/// and 8 for the rest: a group's sums wait on their own adds from row to row, so a group narrower
/// than a whole row is only worth its pass where it holds several registers, and rows of a width
/// that is not whole eights (which would leave single features, one add a row each) keep the
/// row-by-row loop. `acc` is d values of scratch.
fn columns_scatter<F: Scalar>(rows: Points<'_, F>, acc: &mut [f64]) -> Scatter {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::kernels::avx2::{available, wide_available};
        if available() && wide_available() {
            /// Compiled for AVX-512: 64 features are eight registers of sums and eight of means.
            #[target_feature(enable = "avx512f,avx2,fma")]
            unsafe fn columns_avx512<F: Scalar>(rows: Points<'_, F>, acc: &mut [f64]) -> Scatter {
                columns_scatter_portable::<F, 64>(rows, acc)
            }
            // SAFETY: the CPU has AVX-512F, AVX2 and FMA.
            return unsafe { columns_avx512(rows, acc) };
        }
        if available() {
            /// Compiled for AVX2: 16 features are four registers of sums and four of means.
            #[target_feature(enable = "avx2,fma")]
            unsafe fn columns_avx2<F: Scalar>(rows: Points<'_, F>, acc: &mut [f64]) -> Scatter {
                columns_scatter_portable::<F, 16>(rows, acc)
            }
            // SAFETY: the CPU has AVX2 and FMA.
            return unsafe { columns_avx2(rows, acc) };
        }
    }
    columns_scatter_portable::<F, 8>(rows, acc)
}

/// [`columns_scatter`] in groups of at most `W` features (a multiple of eight, at most 64).
#[inline(always)]
fn columns_scatter_portable<F: Scalar, const W: usize>(rows: Points<'_, F>, acc: &mut [f64]) -> Scatter {
    let d = rows.d();
    assert!(d.is_multiple_of(8) && acc.len() == d, "whole eights of features, and scratch for each");
    let mut out = Scatter::empty(d);
    if rows.n() == 0 {
        return out;
    }
    out.weight = rows.n() as f64;
    let mut from = 0;
    while from < d {
        let (width, sums) = (group_width(d - from, W), &mut out.mean[from..]);
        match width {
            64 => column_sums::<F, 64>(rows, from, &mut sums[..64]),
            32 => column_sums::<F, 32>(rows, from, &mut sums[..32]),
            16 => column_sums::<F, 16>(rows, from, &mut sums[..16]),
            _ => column_sums::<F, 8>(rows, from, &mut sums[..8]),
        }
        from += width;
    }
    out.mean.iter_mut().for_each(|m| *m /= out.weight);
    let mut from = 0;
    while from < d {
        let (width, mean, squares) = (group_width(d - from, W), &out.mean[from..], &mut acc[from..]);
        match width {
            64 => column_squares::<F, 64>(rows, from, &mean[..64], &mut squares[..64]),
            32 => column_squares::<F, 32>(rows, from, &mean[..32], &mut squares[..32]),
            16 => column_squares::<F, 16>(rows, from, &mean[..16], &mut squares[..16]),
            _ => column_squares::<F, 8>(rows, from, &mean[..8], &mut squares[..8]),
        }
        from += width;
    }
    out.scatter = acc.iter().sum();
    out
}

/// The width of the next group of [`columns_scatter`], `left` features (whole eights) remaining:
/// the widest of `widest`, 32, 16 and 8 that they fill.
#[inline(always)]
fn group_width(left: usize, widest: usize) -> usize {
    [64, 32, 16, 8].into_iter().find(|&w| w <= widest && w <= left).unwrap_or(8)
}

/// `sums[j]` = Σ over the rows of feature `from + j`, in row order.
#[inline(always)]
fn column_sums<F: Scalar, const W: usize>(rows: Points<'_, F>, from: usize, sums: &mut [f64]) {
    let mut held = [0.0; W];
    for i in 0..rows.n() {
        let row: &[F; W] = rows.row(i)[from..from + W].try_into().expect("W features");
        held.iter_mut().zip(row).for_each(|(s, &v)| *s += v.to_f64());
    }
    sums.copy_from_slice(&held);
}

/// `squares[j]` = Σ over the rows of (feature `from + j` − `mean[j]`)², in row order.
#[inline(always)]
fn column_squares<F: Scalar, const W: usize>(rows: Points<'_, F>, from: usize, mean: &[f64], squares: &mut [f64]) {
    let mean: [f64; W] = mean.try_into().expect("W means");
    let mut held = [0.0; W];
    for i in 0..rows.n() {
        let row: &[F; W] = rows.row(i)[from..from + W].try_into().expect("W features");
        for ((s, &v), &m) in held.iter_mut().zip(row).zip(&mean) {
            let gap = v.to_f64() - m;
            *s += gap * gap;
        }
    }
    squares.copy_from_slice(&held);
}

/// [`block_scatter`] of unweighted rows of `D` features, `L` (a multiple of both `D` and eight)
/// values at a time: the block's values as one flat run, value `i` added into lane `i % L`, whose
/// feature is `i % L % D`; the lanes of a feature are added up in lane order at the end. `L`
/// independent sums keep the adds in flight, and the loop vectorises.
fn narrow_block_scatter<F: Scalar, const D: usize, const L: usize>(rows: Points<'_, F>) -> Scatter {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::avx2::available() {
        /// Compiled for AVX2 (nothing fused into a multiply-add: the bits of the portable loop).
        #[target_feature(enable = "avx2,fma")]
        unsafe fn narrow_avx2<F: Scalar, const D: usize, const L: usize>(rows: Points<'_, F>) -> Scatter {
            narrow_block_scatter_portable::<F, D, L>(rows)
        }
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { narrow_avx2::<F, D, L>(rows) };
    }
    narrow_block_scatter_portable::<F, D, L>(rows)
}

#[inline(always)]
fn narrow_block_scatter_portable<F: Scalar, const D: usize, const L: usize>(rows: Points<'_, F>) -> Scatter {
    let values = rows.as_slice();
    let mut out = Scatter::empty(D);
    if values.is_empty() {
        return out;
    }
    // Σ over the lanes of one feature, in lane order.
    let by_feature = |lanes: &[f64; L]| -> [f64; D] {
        let mut sums = [0.0; D];
        lanes.iter().enumerate().for_each(|(j, &v)| sums[j % D] += v);
        sums
    };
    out.weight = rows.n() as f64;
    let sums = by_feature(&lane_sums::<F, L>(values, |_, v| v));
    out.mean.iter_mut().zip(sums).for_each(|(m, s)| *m = s / out.weight);
    // The mean laid out as the lanes are.
    let mean: [f64; L] = std::array::from_fn(|j| out.mean[j % D]);
    let lanes = lane_sums::<F, L>(values, |j, v| {
        let gap = v - mean[j];
        gap * gap
    });
    out.scatter = by_feature(&lanes).iter().sum();
    out
}

/// `lanes[j]` = Σ `term(j, v)` over the values `v` of `values` at positions `j`, `j + L`, …, in
/// order: the whole runs of `L` values, then the rest.
#[inline(always)]
fn lane_sums<F: Scalar, const L: usize>(values: &[F], term: impl Fn(usize, f64) -> f64) -> [f64; L] {
    let mut lanes = [0.0; L];
    let chunks = values.chunks_exact(L);
    let rest = chunks.remainder();
    for chunk in chunks {
        lanes.iter_mut().zip(chunk).enumerate().for_each(|(j, (lane, &v))| *lane += term(j, v.to_f64()));
    }
    lanes.iter_mut().zip(rest).enumerate().for_each(|(j, (lane, &v))| *lane += term(j, v.to_f64()));
    lanes
}

#[inline(always)]
fn block_scatter_portable<F: Scalar>(rows: Points<'_, F>, weights: Option<&[f64]>, acc: &mut [f64]) -> Scatter {
    let d = rows.d();
    let mut out = Scatter::empty(d);
    for i in 0..rows.n() {
        let w = weights.map_or(1.0, |w| w[i]);
        if w == 0.0 {
            continue;
        }
        out.weight += w;
        for (m, &v) in out.mean.iter_mut().zip(rows.row(i)) {
            *m += w * v.to_f64();
        }
    }
    if out.weight == 0.0 {
        return out;
    }
    out.mean.iter_mut().for_each(|m| *m /= out.weight);
    // Per feature, then added up once: the loop over a row's features vectorises.
    acc.fill(0.0);
    for i in 0..rows.n() {
        let w = weights.map_or(1.0, |w| w[i]);
        if w == 0.0 {
            continue;
        }
        for ((a, &m), &v) in acc.iter_mut().zip(&out.mean).zip(rows.row(i)) {
            let gap = v.to_f64() - m;
            *a += w * gap * gap;
        }
    }
    out.scatter = acc.iter().sum();
    out
}

/// The total weight, weighted mean and scatter of `x` (`weights` default to 1; rows of weight
/// zero are left out).
pub fn scatter<F: Scalar>(x: Points<'_, F>, weights: Option<&[f64]>) -> Scatter {
    let (n, d) = (x.n(), x.d());
    if let Some(w) = weights {
        assert_eq!(w.len(), n, "one weight per row");
    }
    let row_bytes = (d * std::mem::size_of::<F>()).max(1);
    let block = (BLOCK_BYTES / row_bytes).max(1);
    let chunk = (CHUNK_VALUES / d.max(1)).max(1).div_ceil(block) * block;
    let chunks: Vec<Scatter> = (0..n.div_ceil(chunk))
        .into_par_iter()
        .with_min_len(CHUNKS_PER_TASK)
        .map(|c| {
            let (start, end) = (c * chunk, ((c + 1) * chunk).min(n));
            let mut acc = vec![0.0; d];
            let mut out = Scatter::empty(d);
            for b in (start..end).step_by(block) {
                let stop = (b + block).min(end);
                out.merge(&block_scatter(x.rows(b, stop), weights.map(|w| &w[b..stop]), &mut acc));
            }
            out
        })
        .collect();
    let mut total = Scatter::empty(d);
    chunks.iter().for_each(|c| total.merge(c));
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Purpose, Rng};

    /// The two-pass formula over all rows at once, as the reference.
    fn two_pass(data: &[f64], d: usize, weights: Option<&[f64]>) -> (f64, Vec<f64>, f64) {
        let n = data.len() / d;
        let w = |i: usize| weights.map_or(1.0, |w| w[i]);
        let total: f64 = (0..n).map(w).sum();
        let mean: Vec<f64> = (0..d).map(|p| (0..n).map(|i| w(i) * data[i * d + p]).sum::<f64>() / total).collect();
        let scatter = (0..n).map(|i| w(i) * (0..d).map(|p| (data[i * d + p] - mean[p]).powi(2)).sum::<f64>()).sum();
        (total, mean, scatter)
    }

    fn random_rows(n: usize, d: usize, offset: f64, seed: u64) -> Vec<f64> {
        let mut rng = Rng::new(seed, Purpose::Trial(0));
        (0..n * d).map(|_| offset + 3.0 * rng.uniform()).collect()
    }

    #[test]
    fn matches_the_two_pass_formula_over_many_blocks_and_chunks() {
        // 128 KiB blocks of 24 float64 features are 682 rows, of 3 features 5,461; a chunk of
        // 64 Ki values is 2,730 rows of 24 features, 27,305 of 3 (five blocks). Unweighted rows
        // of 3 and 5 features are summed as flat runs of values.
        for (n, d) in [(1, 3), (7, 5), (50_000, 3), (2_000, 24), (100_000, 24), (300, 20_000)] {
            let data = random_rows(n, d, 1e4, n as u64);
            let weights: Vec<f64> = (0..n).map(|i| [0.0, 0.5, 2.0][i % 3]).collect();
            for w in [None, Some(&weights[..])] {
                if w.is_some() && n == 1 {
                    continue;
                }
                let got = scatter(Points::from_rows(&data, d).unwrap(), w);
                let (total, mean, want) = two_pass(&data, d, w);
                assert_eq!(got.weight, total, "n = {n}, d = {d}");
                for (a, b) in got.mean.iter().zip(&mean) {
                    assert!((a - b).abs() <= 1e-12 * b.abs(), "mean {a} against {b}");
                }
                // Far from the origin (1e4 against a spread of 3), the naive Σ w x² − W·mean²
                // would lose every digit; the pairwise merge keeps them.
                assert!(
                    (got.scatter - want).abs() <= 1e-9 * want.max(1e-300),
                    "scatter {} against {want}",
                    got.scatter
                );
            }
        }
    }

    #[test]
    fn is_the_same_bits_on_any_number_of_threads() {
        for (n, d) in [(150_000, 16), (150_000, 3)] {
            let data: Vec<f32> = random_rows(n, d, -5.0, 9).iter().map(|&v| v as f32).collect();
            let x = Points::from_rows(&data, d).unwrap();
            let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap().install(|| scatter(x, None));
            let three = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap().install(|| scatter(x, None));
            assert_eq!(one.scatter.to_bits(), three.scatter.to_bits(), "d = {d}");
            assert_eq!(one.mean, three.mean, "d = {d}");
        }
    }

    #[test]
    fn unweighted_rows_of_whole_eights_have_the_bits_of_unit_weights() {
        // Unweighted rows of whole eights of features are summed a group of features at a time
        // (groups of up to 64, 16 or 8 features by the registers; then 32, 16 and 8); rows of
        // unit weight go through the weighted loop, a row at a time.
        fn same<F: Scalar>(data: &[F], d: usize) {
            let x = Points::from_rows(data, d).unwrap();
            let ones = vec![1.0; x.n()];
            let want = block_scatter_portable(x, Some(&ones), &mut vec![0.0; d]);
            let got = [
                columns_scatter_portable::<F, 8>(x, &mut vec![0.0; d]),
                columns_scatter_portable::<F, 16>(x, &mut vec![0.0; d]),
                columns_scatter_portable::<F, 64>(x, &mut vec![0.0; d]),
                block_scatter(x, None, &mut vec![0.0; d]),
            ];
            for (way, got) in got.iter().enumerate() {
                assert_eq!(got.scatter.to_bits(), want.scatter.to_bits(), "d = {d}, way {way}");
                assert_eq!(got.mean, want.mean, "d = {d}, way {way}");
                assert_eq!(got.weight, want.weight, "d = {d}, way {way}");
            }
        }
        for d in [16, 24, 40, 56, 64, 72, 120, 136] {
            let data = random_rows(700, d, 50.0, d as u64);
            same(&data, d);
            same(&data.iter().map(|&v| v as f32).collect::<Vec<f32>>(), d);
        }
        // Every group width, whatever the widest.
        let widths = |d: usize, widest: usize| {
            let (mut from, mut widths) = (0, Vec::new());
            while from < d {
                widths.push(group_width(d - from, widest));
                from += widths[widths.len() - 1];
            }
            widths
        };
        assert_eq!(widths(120, 64), [64, 32, 16, 8]);
        assert_eq!(widths(120, 16), [16; 7].iter().copied().chain([8]).collect::<Vec<_>>());
        assert_eq!(widths(24, 8), [8, 8, 8]);
    }

    #[test]
    fn rows_of_no_weight_are_left_out() {
        let data = [1.0f64, 2.0, 3.0, 5.0, f64::INFINITY, f64::NAN];
        let got = scatter(Points::from_rows(&data, 2).unwrap(), Some(&[1.0, 1.0, 0.0]));
        assert_eq!((got.weight, got.mean.clone(), got.scatter), (2.0, vec![2.0, 3.5], 2.0 + 4.5));
        let none = scatter(Points::from_rows(&data, 2).unwrap(), Some(&[0.0, 0.0, 0.0]));
        assert_eq!((none.weight, none.scatter), (0.0, 0.0));
    }
}
